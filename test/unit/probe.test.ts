// The probe rule every model loader applies (the extension's engine, model:install, eval): the
// largest logit difference from the manifest's, and the tolerance check, on cases worked out by hand.

import { describe, expect, it } from 'vitest';
import { probeMaxDiff, probeReproduced } from '../../src/detector/probe';

describe('probeMaxDiff', () => {
  it('is the largest absolute difference, whichever side is larger', () => {
    expect(probeMaxDiff([1, 2, 3], [1, 2, 3])).toBe(0);
    expect(probeMaxDiff([1, 2.5, 2], [1, 2, 3])).toBe(1);
    expect(probeMaxDiff(new Float32Array([-0.5, 4]), [0.25, 4])).toBe(0.75);
  });

  it('is Infinity when the model gives fewer or more logits than the manifest', () => {
    expect(probeMaxDiff([1, 2], [1, 2, 3, 4])).toBe(Infinity);
    expect(probeMaxDiff([1, 2, 3, 4, 5], [1, 2, 3, 4])).toBe(Infinity);
    expect(probeMaxDiff([], [0])).toBe(Infinity);
  });

  it('is Infinity when a logit is not a number, wherever it stands', () => {
    expect(probeMaxDiff([NaN, 5], [0, 0])).toBe(Infinity);
    expect(probeMaxDiff([9, NaN], [0, 0])).toBe(Infinity);
    expect(probeMaxDiff([0, 0], [0, NaN])).toBe(Infinity);
  });
});

describe('probeReproduced', () => {
  it('accepts a difference up to the tolerance, inclusive', () => {
    expect(probeReproduced(0, 1e-4)).toBe(true);
    expect(probeReproduced(1e-4, 1e-4)).toBe(true);
    expect(probeReproduced(1.5e-4, 1e-4)).toBe(false);
  });

  it('refuses an unusable comparison', () => {
    expect(probeReproduced(Infinity, 1e-4)).toBe(false);
    expect(probeReproduced(NaN, 1e-4)).toBe(false);
  });
});

// The probe rule every model loader applies (the extension's engine, model:install, eval): the
// largest logit difference from the manifest's, and the tolerance check, on cases worked out by hand.

import { describe, expect, it } from 'vitest';
import { probeMaxDiff, probeMemoKey, probeReproduced, type ProbeConditions } from '../../src/detector/probe';

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

describe('probeMemoKey', () => {
  const base: ProbeConditions = {
    manifest: { id: 'm', onnx: { sha256: 'ab'.repeat(32) }, probe: { batch: 2, logits: [1, -1, 0.5, 0.25], tolerance: 1e-4 } },
    ortVersions: { common: '1.30.0', web: '1.30.0' },
    ortBinary: 'assets/ort-wasm-simd-threaded.jspi-0a1b2c.wasm',
    browser: 'Mozilla/5.0 Chrome/156.0.0.0',
    cores: 2,
    threads: 1,
  };

  it('is the same for the same conditions, given again', () => {
    expect(probeMemoKey(base)).toBe(probeMemoKey(structuredClone(base)));
    expect(probeMemoKey(base)).toMatch(/^[0-9a-f]{64}$/);
  });

  it('changes with anything that can change what WebAssembly computes for the probe', () => {
    const variants: ProbeConditions[] = [
      { ...base, manifest: { ...(base.manifest as object), onnx: { sha256: 'cd'.repeat(32) } } },
      { ...base, manifest: { ...(base.manifest as object), probe: { batch: 2, logits: [1, -1, 0.5, 0.26], tolerance: 1e-4 } } },
      { ...base, ortVersions: { common: '1.30.1', web: '1.30.1' } },
      { ...base, ortBinary: 'assets/ort-wasm-simd-threaded.jspi-ffffff.wasm' },
      { ...base, browser: 'Mozilla/5.0 Chrome/157.0.0.0' },
      { ...base, cores: 4 },
      { ...base, threads: 2 },
    ];
    const keys = new Set([base, ...variants].map(probeMemoKey));
    expect(keys.size).toBe(variants.length + 1);
  });
});

import { describe, expect, it } from 'vitest';
import { DEFAULT_THRESHOLD, scoreBatch, scoreLogits, softmax, verdictFor } from '../../src/detector/scores';

describe('softmax', () => {
  it('matches the textbook values: softmax([0, ln 3]) = [0.25, 0.75]', () => {
    const p = softmax([0, Math.log(3)]);
    expect(p[0]).toBeCloseTo(0.25, 12);
    expect(p[1]).toBeCloseTo(0.75, 12);
  });

  it('stays finite for huge logits (exp(1000) overflows)', () => {
    expect(softmax([1000, 0])).toEqual([1, Math.exp(-1000)]);
    expect(softmax([1000, 1000])).toEqual([0.5, 0.5]);
    const p = softmax([-1000, -1000 - Math.log(3)]);
    expect(p[0]).toBeCloseTo(0.75, 12);
  });

  it('accepts typed arrays and sums to 1', () => {
    const p = softmax(Float32Array.from([0.5, -2, 3]));
    expect(p.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
  });

  it('puts all mass on +Infinity, and says NaN when there is nothing to say', () => {
    expect(softmax([Infinity, 0])).toEqual([1, Number.NaN]);
    expect(softmax([Number.NaN, 0]).every(Number.isNaN)).toBe(true);
    expect(softmax([])).toEqual([]);
  });
});

describe('scoreLogits', () => {
  it('reads p(generated) at the manifest\'s generatedIndex', () => {
    const logits = [0, Math.log(3)];
    const a = scoreLogits(logits, { labels: ['fake', 'real'], generatedIndex: 0 });
    expect(a.pGenerated).toBeCloseTo(0.25, 12);
    expect(a.byLabel.real).toBeCloseTo(0.75, 12);
    const b = scoreLogits(logits, { labels: ['real', 'fake'], generatedIndex: 1 });
    expect(b.pGenerated).toBeCloseTo(0.75, 12);
    expect(b.byLabel.fake).toBeCloseTo(0.75, 12);
  });

  it('refuses logits that do not fit the labels', () => {
    expect(() => scoreLogits([1, 2, 3], { labels: ['fake', 'real'], generatedIndex: 0 })).toThrow(/3 logits for 2 labels/);
  });

  it('splits a batch into rows', () => {
    const s = scoreBatch(Float32Array.from([0, 0, 1000, 0]), 2, { labels: ['fake', 'real'], generatedIndex: 0 });
    expect(s.map((x) => x.pGenerated)).toEqual([0.5, 1]);
    expect(() => scoreBatch([0, 0, 0], 2, { labels: ['fake', 'real'], generatedIndex: 0 })).toThrow();
  });
});

describe('verdictFor', () => {
  it('calls it generated at or above the threshold (default 0.5)', () => {
    expect(DEFAULT_THRESHOLD).toBe(0.5);
    expect(verdictFor(0.5)).toBe('likely generated');
    expect(verdictFor(0.49)).toBe('likely real');
    expect(verdictFor(0.8, 0.9)).toBe('likely real');
    expect(verdictFor(0.95, 0.9)).toBe('likely generated');
    expect(() => verdictFor(Number.NaN)).toThrow();
  });
});

// Pillow's bilinear resampler, on cases small enough to work out by hand from Resample.c's
// formulas (the parity tests compare it with PIL itself on photos and random images).

import { describe, expect, it } from 'vitest';
import { precomputeCoeffs, resizeBilinear } from '../../src/detector/pil-resize';

const gray = (vals: number[]): Uint8Array => Uint8Array.from(vals);

describe('precomputeCoeffs', () => {
  it('halving 4 -> 2: support 2, weights 3/7, 3/7, 1/7 in 22-bit fixed point', () => {
    // center = 1.0: xmin = trunc(-0.5) = 0, xmax = trunc(3.5) = 3; filter(|x - 1 + 0.5| / 2)
    // gives 0.75, 0.75, 0.25 -> /1.75 -> 3/7, 3/7, 1/7; (int)(0.5 + k * 2^22).
    const c = precomputeCoeffs(4, 2);
    expect(c.ksize).toBe(5);
    expect(Array.from(c.bounds)).toEqual([0, 3, 1, 3]);
    expect(Array.from(c.weights.slice(0, 3))).toEqual([1797559, 1797559, 599186]);
    expect(Array.from(c.weights.slice(5, 8))).toEqual([599186, 1797559, 1797559]);
  });

  it('upscaling keeps the filter support at 1', () => {
    const c = precomputeCoeffs(2, 4);
    expect(c.ksize).toBe(3);
    // centers 0.25, 0.75, 1.25, 1.75 -> [xmin, count] = [0,1], [0,2], [0,2], [1,1]
    expect(Array.from(c.bounds)).toEqual([0, 1, 0, 2, 0, 2, 1, 1]);
    expect(Array.from(c.weights)).toEqual([4194304, 0, 0, 3145728, 1048576, 0, 1048576, 3145728, 0, 4194304, 0, 0]);
  });
});

describe('resizeBilinear', () => {
  it('returns an equal copy when the size does not change', () => {
    const src = gray([1, 2, 3, 4, 5, 6]);
    const out = resizeBilinear(src, 3, 2, 1, 3, 2);
    expect(Array.from(out)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(out).not.toBe(src);
  });

  it('halves a row: (10*3 + 20*3 + 30)/7 = 17.14 -> 17, (20 + 30*3 + 40*3)/7 = 32.86 -> 33', () => {
    expect(Array.from(resizeBilinear(gray([10, 20, 30, 40]), 4, 1, 1, 2, 1))).toEqual([17, 33]);
  });

  it('halves a column the same way (vertical pass)', () => {
    expect(Array.from(resizeBilinear(gray([10, 20, 30, 40]), 1, 4, 1, 1, 2))).toEqual([17, 33]);
  });

  it('doubles a row: 0, 0.25*100 + 0.5 -> 25, 0.75*100 + 0.5 -> 75, 100', () => {
    expect(Array.from(resizeBilinear(gray([0, 100]), 2, 1, 1, 4, 1))).toEqual([0, 25, 75, 100]);
  });

  it('resamples each channel of interleaved pixels on its own', () => {
    const rgb = Uint8Array.from([10, 0, 255, 20, 100, 255, 30, 0, 255, 40, 100, 255]);
    expect(Array.from(resizeBilinear(rgb, 4, 1, 3, 2, 1))).toEqual([17, 43, 255, 33, 57, 255]);
  });

  it('rounds the horizontal pass to bytes before the vertical pass', () => {
    // 4x4 -> 2x2 of rows [10,20,30,40]*k: rows give 17,33 (k=1), 34,66 (k=2), 51,99 (k=3), 68,131 (k=4);
    // then columns: (17*3 + 34*3 + 51)/7 = 29.14 -> 29, (34 + 51*3 + 68*3)/7 = 55.86 -> 56,
    // (33*3 + 66*3 + 99)/7 = 56.57 -> 57, (66 + 99*3 + 131*3)/7 = 108 (fixed point: 108.499) -> 108.
    const src = gray([10, 20, 30, 40, 20, 40, 60, 80, 30, 60, 90, 120, 40, 80, 120, 160]);
    expect(Array.from(resizeBilinear(src, 4, 4, 1, 2, 2))).toEqual([29, 57, 56, 108]);
  });

  it('rejects a buffer of the wrong length', () => {
    expect(() => resizeBilinear(gray([1, 2, 3]), 2, 2, 1, 1, 1)).toThrow(/expected 4 bytes/);
  });
});

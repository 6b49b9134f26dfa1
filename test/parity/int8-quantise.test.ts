// The browser's int8 weight rule (src/detector/int8-quantise.ts) against the converter's
// (tools/realfake_ref/int8.py quantize_weight, numpy), run here on the same float32 weights: the
// int8 levels and the scales must be the same bytes. The weights hold what separates a faithful copy
// from a near one: exact halves (numpy's rint sends them to the even level, Math.round up), columns
// of zeros and of -0, a negative peak, quotients just past 127 (clipped), subnormal and huge values;
// and a torch Linear's [out, in] layout, which the import quantises into [in, out].

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { quantizeWeight } from '../../src/detector/int8-quantise';
import { seededUniform } from '../../src/detector/synthetic-pictures';
import { countDiffs } from '../support/compare';
import { runPython } from '../support/python';

const K = 96;
const N = 48;

const PY = `
import sys
import numpy as np
sys.path.insert(0, 'tools')
from realfake_ref.int8 import quantize_weight
k, n = int(sys.argv[2]), int(sys.argv[3])
w = np.fromfile(sys.argv[1] + '/w.bin', dtype='<f4').reshape(k, n)
q, scale = quantize_weight(w)
q.astype(np.int8).tofile(sys.argv[1] + '/q.bin')
scale.astype('<f4').tofile(sys.argv[1] + '/scale.bin')
`;

/** A [K, N] float32 weight, column by column a different case. */
function weights(): Float32Array {
  const rnd = seededUniform(20261202);
  const normal = (): number => Math.sqrt(-2 * Math.log(1 - rnd())) * Math.cos(2 * Math.PI * rnd());
  const w = new Float32Array(K * N);
  const set = (r: number, c: number, v: number): void => {
    w[r * N + c] = v;
  };
  for (let c = 0; c < N; c++) {
    const magnitude = [0.02, 1, 3e-39, 1e30, 0.5][c % 5] as number;
    for (let r = 0; r < K; r++) set(r, c, normal() * magnitude);
  }
  // Column 0: peak 127, scale exactly 1: every x.5 is a tie (2.5 -> 2, 3.5 -> 4, -0.5 -> -0).
  for (let r = 0; r < K; r++) set(r, 0, r === 0 ? 127 : (r % 2 ? -1 : 1) * ((r % 126) + 0.5));
  // Column 1: scale exactly 2^-10 (peak 127 * 2^-10): halves of a level, a negative peak.
  for (let r = 0; r < K; r++) set(r, 1, (r === 5 ? -127 : Math.floor(rnd() * 253) - 126 + 0.5) * 2 ** -10);
  // Columns 2 and 3: all zeros, all -0 (scale 1, levels 0).
  for (let r = 0; r < K; r++) {
    set(r, 2, 0);
    set(r, 3, -0);
  }
  // Column 4: one value and its neighbours just below (peak / fround(peak / 127) can pass 127).
  for (let r = 0; r < K; r++) set(r, 4, r < 8 ? Math.fround(0.7 - r * 1e-8) : rnd() - 0.5);
  return w;
}

function transpose(w: Float32Array, rows: number, cols: number): Float32Array {
  const t = new Float32Array(w.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) t[c * rows + r] = w[r * cols + c] as number;
  return t;
}

let dir: string;
let w: Float32Array;
let numpy: { q: Int8Array; scale: Float32Array };

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'rfl-int8-quantise-'));
  w = weights();
  writeFileSync(join(dir, 'w.bin'), new Uint8Array(w.buffer));
  const r = await runPython(['-c', PY, dir, String(K), String(N)]);
  expect(r.code, r.stderr).toBe(0);
  const bytes = (f: string): ArrayBuffer => new Uint8Array(readFileSync(join(dir, f))).buffer;
  numpy = { q: new Int8Array(bytes('q.bin')), scale: new Float32Array(bytes('scale.bin')) };
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('int8 weight quantisation', () => {
  it('gives numpy\'s int8 levels and scales, byte for byte, on a [K, N] weight', () => {
    const ts = quantizeWeight(w, K, N, 'kn');
    expect(numpy.q.length).toBe(K * N);
    expect(Buffer.from(ts.q.buffer).equals(Buffer.from(numpy.q.buffer))).toBe(true);
    expect(Buffer.from(ts.scale.buffer).equals(Buffer.from(numpy.scale.buffer))).toBe(true);

    // The cases are there: ties, where rounding half up would differ; zero columns; levels at ±127.
    let ties = 0;
    let halfUpDiffers = 0;
    for (let r = 0; r < K; r++) {
      for (let c = 0; c < N; c++) {
        const x = Math.fround((w[r * N + c] as number) / (numpy.scale[c] as number));
        if (Math.abs(x - Math.trunc(x)) === 0.5) ties++;
        if (Math.max(-127, Math.min(127, Math.round(x))) !== numpy.q[r * N + c]) halfUpDiffers++;
      }
    }
    expect(ties).toBeGreaterThan(100);
    expect(halfUpDiffers).toBeGreaterThan(50);
    expect(numpy.scale[2]).toBe(1);
    expect(numpy.scale[3]).toBe(1);
    expect(numpy.q.filter((v) => Math.abs(v) === 127).length).toBeGreaterThanOrEqual(N - 2);
  });

  it('gives the same bytes from a torch Linear\'s [out, in] layout, transposed while it quantises', () => {
    const ts = quantizeWeight(transpose(w, K, N), K, N, 'nk');
    expect(countDiffs(ts.q, numpy.q)).toBe(0);
    expect(Buffer.from(ts.scale.buffer).equals(Buffer.from(numpy.scale.buffer))).toBe(true);
  });

  it('refuses weights that are not finite', () => {
    const bad = new Float32Array(w);
    bad[7] = NaN;
    expect(() => quantizeWeight(bad, K, N, 'kn')).toThrow(/not finite/);
    expect(() => quantizeWeight(w, K, N + 1, 'kn')).toThrow(RangeError);
  });
});

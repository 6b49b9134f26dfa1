// The int8 variant's weight rule, as tools/realfake_ref/int8.py's quantize_weight computes it with
// numpy: symmetric (zero point 0, levels -127..127), one scale per output column n of a [K, N]
// weight, scale[n] = max_k |W[k, n]| / 127 in float32 (1 for an all-zero column), and
// q = clip(rint(W / scale), -127, 127) with the quotient in float32 and rint sending halves to the
// even neighbour. Byte for byte the same as numpy's (test/parity/int8-quantise.test.ts).
//
// Float32 operands divided in double and rounded once to float32 give the correctly rounded float32
// quotient (double has more than 2 x 24 + 2 bits), so Math.fround(a / b) is numpy's float32 a / b.

import { roundHalfEven } from './preprocess';

export interface QuantizedWeight {
  /** int8 levels, row-major [K, N]. */
  q: Int8Array;
  /** float32 scale per output column, [N]. */
  scale: Float32Array;
}

/**
 * Quantises a float32 weight with K inputs and N outputs. `layout` is how `w` is stored: 'kn'
 * (row-major [K, N], an ONNX MatMul's weight) or 'nk' (row-major [N, K], a torch Linear's
 * [out, in] as a checkpoint holds it). The result is [K, N] either way. Throws on a value that is
 * not finite (numpy would give an undefined int8 for it).
 */
export function quantizeWeight(w: Float32Array, k: number, n: number, layout: 'kn' | 'nk'): QuantizedWeight {
  if (w.length !== k * n) throw new RangeError(`a [${k}, ${n}] weight needs ${k * n} values, got ${w.length}`);
  // Element (row r, column c) of the [K, N] view.
  const at = layout === 'kn' ? (r: number, c: number): number => r * n + c : (r: number, c: number): number => c * k + r;
  const peak = new Float32Array(n);
  for (let r = 0; r < k; r++) {
    for (let c = 0; c < n; c++) {
      const v = w[at(r, c)] as number;
      if (!Number.isFinite(v)) throw new RangeError(`weight [${r}, ${c}] is ${v}: cannot quantise a weight that is not finite`);
      const a = Math.abs(v);
      if (a > (peak[c] as number)) peak[c] = a;
    }
  }
  const scale = new Float32Array(n);
  for (let c = 0; c < n; c++) scale[c] = (peak[c] as number) > 0 ? Math.fround((peak[c] as number) / 127) : 1;
  const q = new Int8Array(k * n);
  for (let r = 0; r < k; r++) {
    for (let c = 0; c < n; c++) {
      const level = roundHalfEven(Math.fround((w[at(r, c)] as number) / (scale[c] as number)));
      q[r * n + c] = Math.max(-127, Math.min(127, level));
    }
  }
  return { q, scale };
}

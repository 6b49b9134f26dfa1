// Which bytes of a checkpoint an import fetches, and where each weight lands in the weights file it
// stores. Pure: the offscreen document (HTTP Range requests) and the options page (File.slice) run
// the same plan.
//
// The weights file holds the model's tensors one after another, in the order of their bytes in the
// checkpoint, each as float32 (the weightless graph, tools/weightless_graph.py, declares every
// initializer float32; fp16, bf16 and fp64 weights are converted while they are stored). The plan
// coalesces neighbouring tensors into spans (gaps of a zip local header and torch.save's 64-byte
// padding are fetched along), and cuts spans into units of at most `maxUnit` bytes on element
// boundaries. A unit is one Range request, one SHA-256 recorded, and one part file committed: an
// import that stops continues from its last whole unit.

import { CheckpointError } from './errors';
import type { PlacedCheckpoint } from './placement';
import type { DType } from './tensors';

export interface PlanOptions {
  /** Neighbouring tensors this close (bytes) are fetched in one request, gap included. */
  maxGap: number;
  /** The most bytes one unit (request, part file) covers. */
  maxUnit: number;
}

// A gap of up to 512 bytes is a zip local header and torch.save's 64-byte padding (fetched along);
// anything longer holds another storage (torch.save orders storages by their key as a string, so a
// Lightning file interleaves the model's tensors with the optimizer's), which is skipped.
export const DEFAULT_PLAN_OPTIONS: PlanOptions = { maxGap: 512, maxUnit: 8 * 1024 * 1024 };

export interface PlannedTensor {
  /** torchvision's name: the graph's initializer. */
  name: string;
  /** The checkpoint's key. */
  key: string;
  dtype: DType;
  itemSize: number;
  shape: number[];
  /** Source bytes [start, end) in the checkpoint. */
  start: number;
  end: number;
  /** Where its float32 values start in the weights file, and how many bytes they take. */
  offset: number;
  length: number;
}

/** A piece of one tensor inside one unit: source bytes [from, to). */
export interface Piece {
  tensor: number;
  from: number;
  to: number;
}

export interface Unit {
  start: number;
  end: number;
  pieces: Piece[];
  /** Float32 bytes this unit adds to the weights file. */
  outBytes: number;
}

export interface ImportPlan {
  tensors: PlannedTensor[];
  units: Unit[];
  /** Bytes of the weights file (float32). */
  weightBytes: number;
  /** Bytes fetched from the checkpoint (units, gaps included). */
  fetchBytes: number;
}

const CONVERTIBLE: ReadonlySet<DType> = new Set(['float32', 'float16', 'bfloat16', 'float64']);

/** The plan for a placed checkpoint (tensors are contiguous: placement refuses views with gaps). */
export function planImport(placed: PlacedCheckpoint, options: PlanOptions = DEFAULT_PLAN_OPTIONS): ImportPlan {
  const sorted = [...placed.weights].sort((a, b) => a.tensor.start - b.tensor.start || a.tensor.end - b.tensor.end);
  let offset = 0;
  const tensors: PlannedTensor[] = sorted.map((w) => {
    const t = w.tensor;
    if (!CONVERTIBLE.has(t.dtype)) throw new CheckpointError('wrong-model', `${t.key} holds ${t.dtype} values; a ConvNeXt weight is a floating-point tensor`);
    const numel = (t.end - t.start) / t.itemSize;
    const p: PlannedTensor = { name: w.name, key: t.key, dtype: t.dtype, itemSize: t.itemSize, shape: w.shape, start: t.start, end: t.end, offset, length: numel * 4 };
    offset += p.length;
    return p;
  });

  // Spans: tensors in byte order, joined when the next starts within maxGap of the previous end.
  // Overlapping tensors (two keys viewing one storage) start a new span, so each tensor's pieces
  // stay in order in the output.
  const spans: Array<{ start: number; end: number; members: number[] }> = [];
  tensors.forEach((t, i) => {
    const last = spans[spans.length - 1];
    if (last && t.start >= last.end && t.start - last.end <= options.maxGap) {
      last.end = Math.max(last.end, t.end);
      last.members.push(i);
    } else spans.push({ start: t.start, end: t.end, members: [i] });
  });

  const units: Unit[] = [];
  for (const span of spans) {
    let at = span.start;
    while (at < span.end) {
      let cut = Math.min(span.end, at + options.maxUnit);
      // A cut inside a tensor moves back to its element boundary (never to `at` itself).
      const inside = span.members.map((i) => tensors[i] as PlannedTensor).find((t) => cut > t.start && cut < t.end);
      if (inside) {
        const aligned = inside.start + Math.floor((cut - inside.start) / inside.itemSize) * inside.itemSize;
        cut = aligned > at ? aligned : inside.start + Math.ceil((at + 1 - inside.start) / inside.itemSize) * inside.itemSize;
      }
      const pieces: Piece[] = [];
      let outBytes = 0;
      for (const i of span.members) {
        const t = tensors[i] as PlannedTensor;
        const from = Math.max(t.start, at);
        const to = Math.min(t.end, cut);
        if (from < to) {
          pieces.push({ tensor: i, from, to });
          outBytes += ((to - from) / t.itemSize) * 4;
        }
      }
      units.push({ start: at, end: cut, pieces, outBytes });
      at = cut;
    }
  }
  return { tensors, units, weightBytes: offset, fetchBytes: units.reduce((n, u) => n + u.end - u.start, 0) };
}

/** IEEE 754 half to single precision (exact: every half is a float). */
function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 0x1f) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/** Little-endian values of `dtype` as little-endian float32 bytes (fp64 rounds to nearest). */
export function toFloat32Bytes(bytes: Uint8Array, dtype: DType): Uint8Array<ArrayBuffer> {
  if (dtype === 'float32') return new Uint8Array(bytes);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const itemSize = dtype === 'float64' ? 8 : 2;
  const n = bytes.byteLength / itemSize;
  const out = new Float32Array(n);
  if (dtype === 'float16') for (let i = 0; i < n; i++) out[i] = halfToFloat(view.getUint16(2 * i, true));
  else if (dtype === 'bfloat16') {
    const bits = new Uint32Array(out.buffer);
    for (let i = 0; i < n; i++) bits[i] = view.getUint16(2 * i, true) << 16;
  } else if (dtype === 'float64') for (let i = 0; i < n; i++) out[i] = view.getFloat64(8 * i, true);
  else throw new CheckpointError('wrong-model', `cannot use ${dtype} values as weights`);
  // Float32Array is host-endian; every browser this runs in is little-endian.
  return new Uint8Array(out.buffer);
}

/** The float32 bytes one unit adds to the weights file, from the unit's fetched source bytes. */
export function unitOutput(plan: ImportPlan, unit: Unit, fetched: Uint8Array): Uint8Array<ArrayBuffer> {
  if (fetched.length !== unit.end - unit.start) throw new CheckpointError('truncated', `got ${fetched.length} of the ${unit.end - unit.start} bytes at ${unit.start}`);
  const out = new Uint8Array(unit.outBytes);
  let at = 0;
  for (const p of unit.pieces) {
    const t = plan.tensors[p.tensor] as PlannedTensor;
    const values = toFloat32Bytes(fetched.subarray(p.from - unit.start, p.to - unit.start), t.dtype);
    out.set(values, at);
    at += values.length;
  }
  return out;
}

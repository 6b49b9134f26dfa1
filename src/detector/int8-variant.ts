// The int8 variant of a model imported from a checkpoint, made from its stored fp32 weights with
// no Python: the packaged weightless int8 graph of the architecture (public/graphs/*-int8.onnx,
// tools/weightless_graph.py --int8, the converter's transform in tools/realfake_ref/int8.py) names in
// its metadata `realfake.int8` which checkpoint weight each int8 weight and its scales are made of;
// every other initializer is an fp32 weight as the fp32 model stores it. The plan lays the variant's
// weights file out (each tensor at a 64-byte boundary), and `int8WeightParts` writes it: fp32
// tensors copied, the others quantised by src/detector/int8-quantise.ts. The checkpoint keeps a
// torch Linear's weight as [out, in]; the int8 graph wants [in, out], so the transpose happens here,
// while quantising, and the int8 graph has no Transpose in front of its MatMulInteger nodes.
// Pure: the browser (src/shared/int8-import.ts) and the tests run the same code.

import { quantizeWeight } from './int8-quantise';
import { readExternalInitializers, readMetadata, relocateExternalData, type ExternalInitializer } from './onnx-external';

export const INT8_METADATA_KEY = 'realfake.int8';
const FLOAT = 1;
const INT8 = 3;
const ALIGN = 64;
/** The most bytes of one part file of the weights (as the fp32 import's units). */
export const INT8_PART_BYTES = 8 * 1024 * 1024;

/** One int8 weight of the graph: its scales, and the fp32 weight it is made of ([N, K] when transposed). */
export interface Int8Source {
  int8: string;
  scale: string;
  from: string;
  transposed: boolean;
}

export type Int8Entry =
  | { kind: 'copy'; name: string; offset: number; length: number; from: ExternalInitializer }
  | { kind: 'int8' | 'scale'; name: string; offset: number; length: number; source: Int8Source; k: number; n: number; from: ExternalInitializer };

export interface Int8Plan {
  /** The int8 graph with its initializers pointing into the variant's weights file `location`. */
  graph: Uint8Array<ArrayBuffer>;
  /** The weights file's tensors, by offset. */
  entries: Int8Entry[];
  /** The weights file's size. */
  bytes: number;
}

function parseSources(text: string | undefined): Int8Source[] {
  let raw: unknown;
  try {
    raw = JSON.parse(text ?? '');
  } catch {
    throw new Error(`the int8 graph has no readable "${INT8_METADATA_KEY}" metadata`);
  }
  if (!Array.isArray(raw)) throw new Error(`the int8 graph's "${INT8_METADATA_KEY}" metadata is not a list`);
  return raw.map((e: unknown) => {
    const o = e as Partial<Int8Source>;
    if (typeof o?.int8 !== 'string' || typeof o.scale !== 'string' || typeof o.from !== 'string' || typeof o.transposed !== 'boolean') {
      throw new Error(`the int8 graph's "${INT8_METADATA_KEY}" metadata has a malformed entry`);
    }
    return { int8: o.int8, scale: o.scale, from: o.from, transposed: o.transposed };
  });
}

const same = (a: readonly number[], b: readonly number[]): boolean => a.length === b.length && a.every((v, i) => v === b[i]);

/**
 * Lays out the variant of the fp32 model whose (relocated) graph is `fp32Graph`: every initializer
 * of `int8Graph` is checked against the fp32 weight it comes from (type, shape, length), and every
 * fp32 weight must be used. Throws with what does not fit.
 */
export async function planInt8Variant(int8Graph: Uint8Array, fp32Graph: Uint8Array, location: string): Promise<Int8Plan> {
  const fp32 = new Map((await readExternalInitializers(fp32Graph)).map((i) => [i.name, i]));
  const sources = parseSources((await readMetadata(int8Graph)).get(INT8_METADATA_KEY));
  const byInt8 = new Map(sources.map((s) => [s.int8, s]));
  const byScale = new Map(sources.map((s) => [s.scale, s]));
  const used = new Set<string>();
  const entries: Int8Entry[] = [];
  let at = 0;
  const { graph } = await relocateExternalData(int8Graph, location, (init) => {
    const misfit = (why: string): Error => new Error(`the int8 graph's weight ${init.name} [${init.dims.join(', ')}] does not fit the model: ${why}`);
    const source = byInt8.get(init.name) ?? byScale.get(init.name);
    const from = fp32.get(source ? source.from : init.name);
    if (!from) throw misfit('the fp32 model has no such weight');
    if (from.dataType !== FLOAT) throw misfit('its fp32 weight is not float32');
    const offset = Math.ceil(at / ALIGN) * ALIGN;
    let entry: Int8Entry;
    if (!source) {
      if (init.dataType !== FLOAT || !same(init.dims, from.dims) || init.length !== from.length) throw misfit(`the fp32 model holds [${from.dims.join(', ')}]`);
      entry = { kind: 'copy', name: init.name, offset, length: init.length, from };
    } else {
      if (from.dims.length !== 2) throw misfit(`${source.from} is not a matrix`);
      const [rows, cols] = from.dims as [number, number];
      const [k, n] = source.transposed ? [cols, rows] : [rows, cols];
      const int8 = init.name === source.int8;
      const want = int8 ? [k, n] : [n];
      if (init.dataType !== (int8 ? INT8 : FLOAT) || !same(init.dims, want) || init.length !== (int8 ? k * n : 4 * n)) {
        throw misfit(`made of ${source.from} [${from.dims.join(', ')}] it would be ${int8 ? 'int8' : 'float32'} [${want.join(', ')}]`);
      }
      entry = { kind: int8 ? 'int8' : 'scale', name: init.name, offset, length: init.length, source, k, n, from };
    }
    used.add(from.name);
    entries.push(entry);
    at = offset + init.length;
    return offset;
  });
  const unused = [...fp32.keys()].filter((name) => !used.has(name));
  if (unused.length) throw new Error(`the int8 graph does not use ${unused.length} weight(s) of the fp32 model, e.g. ${unused[0]}`);
  const missing = sources.filter((s) => !entries.some((e) => e.name === s.int8) || !entries.some((e) => e.name === s.scale));
  if (missing.length) throw new Error(`the int8 graph lacks the int8 weight or the scales of ${missing[0]?.from}`);
  entries.sort((a, b) => a.offset - b.offset);
  return { graph, entries, bytes: at };
}

/**
 * The variant's weights file, in parts of at most `partBytes` (a part holds whole tensors; a larger
 * tensor is a part of its own). `readFp32(offset, length)` reads the fp32 weights file.
 */
export async function* int8WeightParts(
  plan: Int8Plan,
  readFp32: (offset: number, length: number) => Promise<Uint8Array>,
  partBytes = INT8_PART_BYTES,
): AsyncGenerator<Uint8Array<ArrayBuffer>> {
  let pending: Uint8Array[] = [];
  let size = 0;
  let at = 0;
  // A weight's levels and scales are made together; the one written second waits here.
  const made = new Map<string, { int8: Uint8Array; scale: Uint8Array }>();
  const flush = (): Uint8Array<ArrayBuffer> => {
    const out = new Uint8Array(size);
    let o = 0;
    for (const p of pending) {
      out.set(p, o);
      o += p.length;
    }
    pending = [];
    size = 0;
    return out;
  };
  const add = (bytes: Uint8Array): void => {
    pending.push(bytes);
    size += bytes.length;
    at += bytes.length;
  };
  const quantised = async (e: Extract<Int8Entry, { kind: 'int8' | 'scale' }>): Promise<{ int8: Uint8Array; scale: Uint8Array }> => {
    const ready = made.get(e.source.from);
    if (ready) {
      made.delete(e.source.from);
      return ready;
    }
    const raw = await readFp32(e.from.offset, e.from.length);
    if (raw.length !== e.from.length) throw new Error(`the fp32 weights file ended inside ${e.from.name}`);
    // A copy: the bytes may sit at any offset of a larger buffer.
    const { q, scale } = quantizeWeight(new Float32Array(new Uint8Array(raw).buffer), e.k, e.n, e.source.transposed ? 'nk' : 'kn');
    const both = { int8: new Uint8Array(q.buffer), scale: new Uint8Array(scale.buffer) };
    made.set(e.source.from, both);
    return both;
  };
  for (const e of plan.entries) {
    // A part ends before a tensor that would take it past partBytes (so no part is larger than
    // partBytes or than one tensor and its padding).
    if (size > 0 && size + (e.offset - at) + e.length > partBytes) yield flush();
    if (e.offset > at) add(new Uint8Array(e.offset - at));
    const bytes = e.kind === 'copy' ? await readFp32(e.from.offset, e.from.length) : (await quantised(e))[e.kind];
    if (bytes.length !== e.length) throw new Error(`${e.name}: made ${bytes.length} bytes, the graph says ${e.length}`);
    add(bytes);
  }
  if (size > 0) yield flush();
}

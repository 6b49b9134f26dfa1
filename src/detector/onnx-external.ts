// Splits a single-file ONNX model, without copying its weights, into a small graph whose large
// initializers point at the original file as "external data" (ONNX's data_location EXTERNAL with
// location/offset/length). onnxruntime then reads each weight straight from the model bytes into
// its place in the WebAssembly heap, instead of first copying the whole file into the heap (a
// WebAssembly memory never shrinks, so that copy stayed allocated for the session's life).
//
// Only the protobuf framing is read: ModelProto.graph (field 7) -> GraphProto.initializer (field 5)
// -> TensorProto.raw_data (field 9). Everything else is copied through byte for byte. The model may
// be a Blob (a file on disk): then only the framing is read, a small window at a time, and the
// weights themselves never enter JavaScript memory.

export class OnnxFormatError extends Error {
  override name = 'OnnxFormatError';
}

const WIRE_VARINT = 0;
const WIRE_I64 = 1;
const WIRE_LEN = 2;
const WIRE_I32 = 5;

const MODEL_GRAPH = 7;
const GRAPH_INITIALIZER = 5;
const TENSOR_RAW_DATA = 9;
const TENSOR_EXTERNAL_DATA = 13;
const TENSOR_DATA_LOCATION = 14;
const DATA_LOCATION_EXTERNAL = 1;

/** Reads a varint at `pos`; lengths and offsets stay below 2^53, so numbers suffice. */
function varint(buf: Uint8Array, pos: number, end: number): [number, number] {
  let value = 0;
  let scale = 1;
  for (let i = 0; i < 10; i++) {
    if (pos >= end) throw new OnnxFormatError('truncated varint');
    const b = buf[pos++] as number;
    value += (b & 0x7f) * scale;
    if (b < 0x80) {
      if (value > Number.MAX_SAFE_INTEGER) throw new OnnxFormatError('varint too large');
      return [value, pos];
    }
    scale *= 128;
  }
  throw new OnnxFormatError('varint longer than 10 bytes');
}

function encodeVarint(n: number): Uint8Array {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n % 128) | 0x80);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return Uint8Array.from(out);
}

interface Field {
  number: number;
  wire: number;
  /** The whole field, key included. */
  start: number;
  end: number;
  /** For length-delimited fields: the payload. */
  payloadStart: number;
}

/** Random access to the model's bytes. `read` returns bytes the caller may keep. */
export interface ByteSource {
  readonly size: number;
  read(start: number, end: number): Promise<Uint8Array>;
}

export function bufferSource(buf: Uint8Array): ByteSource {
  return { size: buf.length, read: (start, end) => Promise.resolve(buf.subarray(start, end)) };
}

/**
 * A Blob read a window at a time: the framing of neighbouring fields (a graph's nodes) comes
 * from one read, and each weight's header from one small read beside it.
 */
export function blobSource(blob: Blob, window = 64 * 1024): ByteSource {
  let at = 0;
  let cached = new Uint8Array(0);
  return {
    size: blob.size,
    async read(start, end) {
      if (start < at || end > at + cached.length) {
        at = start;
        cached = new Uint8Array(await blob.slice(start, Math.min(blob.size, Math.max(end, start + window))).arrayBuffer());
      }
      // A copy: a kept subarray would pin the whole window.
      return cached.slice(start - at, end - at);
    },
  };
}

/** The fields of the message in [start, end). */
async function* fields(src: ByteSource, start: number, end: number): AsyncGenerator<Field> {
  let pos = start;
  while (pos < end) {
    // A key and a length are at most 10 bytes each.
    const head = await src.read(pos, Math.min(end, pos + 20));
    const [key, afterKey] = varint(head, 0, head.length);
    const number = Math.floor(key / 8);
    const wire = key % 8;
    let next: number;
    let payloadStart = pos + afterKey;
    if (wire === WIRE_VARINT) next = pos + varint(head, afterKey, head.length)[1];
    else if (wire === WIRE_I64) next = pos + afterKey + 8;
    else if (wire === WIRE_I32) next = pos + afterKey + 4;
    else if (wire === WIRE_LEN) {
      const [len, at] = varint(head, afterKey, head.length);
      payloadStart = pos + at;
      next = payloadStart + len;
    } else throw new OnnxFormatError(`unsupported wire type ${wire}`);
    if (number === 0 || next > end) throw new OnnxFormatError('truncated or malformed field');
    yield { number, wire, start: pos, end: next, payloadStart };
    pos = next;
  }
}

const size = (parts: Uint8Array[]): number => parts.reduce((n, p) => n + p.length, 0);

function concat(parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(size(parts));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function lengthDelimited(number: number, parts: Uint8Array[]): Uint8Array[] {
  return [encodeVarint(number * 8 + WIRE_LEN), encodeVarint(size(parts)), ...parts];
}

const utf8 = new TextEncoder();

function stringEntry(key: string, value: string): Uint8Array[] {
  return lengthDelimited(TENSOR_EXTERNAL_DATA, [
    ...lengthDelimited(1, [utf8.encode(key)]),
    ...lengthDelimited(2, [utf8.encode(value)]),
  ]);
}

export interface ExternalizedModel {
  /** The model without its large weights (they are read from the original bytes by offset). */
  graph: Uint8Array<ArrayBuffer>;
  /** Initializers moved out, and their bytes. */
  tensors: number;
  bytes: number;
}

/**
 * The graph of `model` with every initializer whose raw_data holds at least `minBytes` bytes
 * pointing into the original file under the name `location`. Returns null when there is nothing
 * worth moving or the model already uses external data. Throws OnnxFormatError on malformed input.
 */
export async function externalizeInitializers(model: Uint8Array | Blob, location: string, minBytes = 1024): Promise<ExternalizedModel | null> {
  const src = model instanceof Uint8Array ? bufferSource(model) : blobSource(model);
  let tensors = 0;
  let bytes = 0;
  const tensor = async (start: number, end: number): Promise<Uint8Array[]> => {
    const parts: Uint8Array[] = [];
    let raw: Field | null = null;
    for await (const f of fields(src, start, end)) {
      if (f.number === TENSOR_DATA_LOCATION || f.number === TENSOR_EXTERNAL_DATA) throw new AlreadyExternal();
      if (f.number === TENSOR_RAW_DATA && f.wire === WIRE_LEN && f.end - f.payloadStart >= minBytes) raw = f;
      else parts.push(await src.read(f.start, f.end));
    }
    if (!raw) return [await src.read(start, end)];
    tensors++;
    bytes += raw.end - raw.payloadStart;
    return [
      ...parts,
      ...stringEntry('location', location),
      ...stringEntry('offset', String(raw.payloadStart)),
      ...stringEntry('length', String(raw.end - raw.payloadStart)),
      encodeVarint(TENSOR_DATA_LOCATION * 8 + WIRE_VARINT),
      encodeVarint(DATA_LOCATION_EXTERNAL),
    ];
  };
  const graph = async (start: number, end: number): Promise<Uint8Array[]> => {
    const parts: Uint8Array[] = [];
    for await (const f of fields(src, start, end)) {
      if (f.number === GRAPH_INITIALIZER && f.wire === WIRE_LEN) parts.push(...lengthDelimited(GRAPH_INITIALIZER, await tensor(f.payloadStart, f.end)));
      else parts.push(await src.read(f.start, f.end));
    }
    return parts;
  };
  const parts: Uint8Array[] = [];
  try {
    for await (const f of fields(src, 0, src.size)) {
      if (f.number === MODEL_GRAPH && f.wire === WIRE_LEN) parts.push(...lengthDelimited(MODEL_GRAPH, await graph(f.payloadStart, f.end)));
      else parts.push(await src.read(f.start, f.end));
    }
  } catch (e) {
    if (e instanceof AlreadyExternal) return null;
    throw e;
  }
  if (tensors === 0) return null;
  return { graph: concat(parts), tensors, bytes };
}

class AlreadyExternal extends Error {}

/** An initializer of a weightless graph (every one external: tools/weightless_graph.py). */
export interface ExternalInitializer {
  name: string;
  dims: number[];
  /** TensorProto.DataType: 1 is float32. */
  dataType: number;
  /** The external_data "length" entry. */
  length: number;
  /** The external_data "offset" entry (0 when absent). */
  offset: number;
}

const TENSOR_DIMS = 1;
const TENSOR_DATA_TYPE = 2;
const TENSOR_NAME = 8;
const utf8Decoder = new TextDecoder('utf-8', { fatal: true });

/** A TensorProto's name, dims, type and external-data entries (key -> value). */
async function readTensorHeader(src: ByteSource, start: number, end: number): Promise<{ init: ExternalInitializer; external: Map<string, string>; kept: Uint8Array[] }> {
  const init: ExternalInitializer = { name: '', dims: [], dataType: 0, length: -1, offset: 0 };
  const external = new Map<string, string>();
  const kept: Uint8Array[] = [];
  let externalLocation = false;
  for await (const f of fields(src, start, end)) {
    const bytes = await src.read(f.start, f.end);
    const payload = bytes.subarray(f.payloadStart - f.start);
    if (f.number === TENSOR_DIMS && f.wire === WIRE_VARINT) init.dims.push(varint(bytes, f.payloadStart - f.start, bytes.length)[0]);
    else if (f.number === TENSOR_DIMS && f.wire === WIRE_LEN) {
      for (let p = 0; p < payload.length; ) {
        const [d, next] = varint(payload, p, payload.length);
        init.dims.push(d);
        p = next;
      }
    } else if (f.number === TENSOR_DATA_TYPE && f.wire === WIRE_VARINT) init.dataType = varint(bytes, f.payloadStart - f.start, bytes.length)[0];
    else if (f.number === TENSOR_NAME && f.wire === WIRE_LEN) init.name = utf8Decoder.decode(payload);
    else if (f.number === TENSOR_DATA_LOCATION) externalLocation = varint(bytes, f.payloadStart - f.start, bytes.length)[0] === DATA_LOCATION_EXTERNAL;
    if (f.number === TENSOR_EXTERNAL_DATA && f.wire === WIRE_LEN) {
      let key = '';
      let value = '';
      for await (const e of fields(bufferSource(payload), 0, payload.length)) {
        const text = utf8Decoder.decode(payload.subarray(e.payloadStart, e.end));
        if (e.number === 1) key = text;
        else if (e.number === 2) value = text;
      }
      external.set(key, value);
    } else if (f.number !== TENSOR_DATA_LOCATION) kept.push(bytes);
  }
  if (!externalLocation || !external.has('length')) throw new OnnxFormatError(`initializer "${init.name}" does not hold external data: not a weightless graph`);
  init.length = Number(external.get('length'));
  if (!Number.isSafeInteger(init.length) || init.length < 0) throw new OnnxFormatError(`initializer "${init.name}" has a bad external data length`);
  init.offset = Number(external.get('offset') ?? 0);
  if (!Number.isSafeInteger(init.offset) || init.offset < 0) throw new OnnxFormatError(`initializer "${init.name}" has a bad external data offset`);
  return { init, external, kept };
}

/**
 * A weightless graph's initializers, and the graph with each one's external data pointing at
 * `location` and the offset `offsetOf(initializer)` gives (its length stays). `offsetOf` throws
 * to refuse an initializer. The graph is small (no weights), so it is read from memory.
 */
export async function relocateExternalData(
  model: Uint8Array,
  location: string,
  offsetOf: (init: ExternalInitializer) => number,
): Promise<{ graph: Uint8Array<ArrayBuffer>; initializers: ExternalInitializer[] }> {
  const src = bufferSource(model);
  const initializers: ExternalInitializer[] = [];
  const tensor = async (start: number, end: number): Promise<Uint8Array[]> => {
    const { init, kept } = await readTensorHeader(src, start, end);
    initializers.push(init);
    const offset = offsetOf(init);
    return [
      ...kept,
      ...stringEntry('location', location),
      ...stringEntry('offset', String(offset)),
      ...stringEntry('length', String(init.length)),
      encodeVarint(TENSOR_DATA_LOCATION * 8 + WIRE_VARINT),
      encodeVarint(DATA_LOCATION_EXTERNAL),
    ];
  };
  const parts: Uint8Array[] = [];
  for await (const f of fields(src, 0, src.size)) {
    if (f.number !== MODEL_GRAPH || f.wire !== WIRE_LEN) {
      parts.push(await src.read(f.start, f.end));
      continue;
    }
    const inner: Uint8Array[] = [];
    for await (const g of fields(src, f.payloadStart, f.end)) {
      if (g.number === GRAPH_INITIALIZER && g.wire === WIRE_LEN) inner.push(...lengthDelimited(GRAPH_INITIALIZER, await tensor(g.payloadStart, g.end)));
      else inner.push(await src.read(g.start, g.end));
    }
    parts.push(...lengthDelimited(MODEL_GRAPH, inner));
  }
  return { graph: concat(parts), initializers };
}

const MODEL_METADATA_PROPS = 14;

/** A model's metadata_props (ModelProto field 14: key -> value). */
export async function readMetadata(model: Uint8Array): Promise<Map<string, string>> {
  const src = bufferSource(model);
  const out = new Map<string, string>();
  for await (const f of fields(src, 0, src.size)) {
    if (f.number !== MODEL_METADATA_PROPS || f.wire !== WIRE_LEN) continue;
    let key = '';
    let value = '';
    for await (const e of fields(src, f.payloadStart, f.end)) {
      if (e.wire !== WIRE_LEN) continue;
      const text = utf8Decoder.decode(model.subarray(e.payloadStart, e.end));
      if (e.number === 1) key = text;
      else if (e.number === 2) value = text;
    }
    out.set(key, value);
  }
  return out;
}

/** A weightless graph's initializers with their external-data offsets and lengths, as stored. */
export async function readExternalInitializers(model: Uint8Array): Promise<ExternalInitializer[]> {
  return (await relocateExternalData(model, '', (init) => init.offset)).initializers;
}

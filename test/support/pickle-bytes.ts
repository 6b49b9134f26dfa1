// Pickles assembled opcode by opcode (CPython's Lib/pickletools.py documents each), and
// torch.save-shaped archives made of them, for the checkpoint reader's unit tests.

import { zipBytes, type ZipEntrySpec } from './zip-bytes';

const encoder = new TextEncoder();

/** Opcode builders: each returns the bytes of one opcode with its argument. */
export const P = {
  proto: (v: number) => [0x80, v],
  stop: () => [0x2e],
  mark: () => [0x28],
  none: () => [0x4e],
  true: () => [0x88],
  false: () => [0x89],
  int: (v: number): number[] => {
    if (v >= 0 && v < 256) return [0x4b, v];
    if (v >= 0 && v < 65536) return [0x4d, v & 0xff, v >> 8];
    const b = new Uint8Array(4);
    new DataView(b.buffer).setInt32(0, v, true);
    return [0x4a, ...b];
  },
  float: (v: number) => {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setFloat64(0, v, false);
    return [0x47, ...b];
  },
  str: (s: string) => {
    const b = encoder.encode(s);
    return [0x58, b.length & 0xff, (b.length >> 8) & 0xff, (b.length >> 16) & 0xff, b.length >>> 24, ...b];
  },
  global: (module: string, name: string) => [0x63, ...encoder.encode(`${module}\n${name}\n`)],
  emptyDict: () => [0x7d],
  emptyList: () => [0x5d],
  emptyTuple: () => [0x29],
  tuple: () => [0x74],
  tuple1: () => [0x85],
  tuple2: () => [0x86],
  tuple3: () => [0x87],
  setitem: () => [0x73],
  setitems: () => [0x75],
  append: () => [0x61],
  appends: () => [0x65],
  reduce: () => [0x52],
  build: () => [0x62],
  newobj: () => [0x81],
  binpersid: () => [0x51],
  binput: (i: number) => [0x71, i],
  binget: (i: number) => [0x68, i],
  longBinput: (i: number) => [0x72, i & 0xff, (i >> 8) & 0xff, (i >> 16) & 0xff, i >>> 24],
  longBinget: (i: number) => [0x6a, i & 0xff, (i >> 8) & 0xff, (i >> 16) & 0xff, i >>> 24],
  dup: () => [0x32],
  pop: () => [0x30],
};

export function pickle(...ops: number[][]): Uint8Array {
  return Uint8Array.from(ops.flat());
}

export interface TensorSpec {
  key: string;
  /** The storage's key (its archive entry data/<storage>). */
  storage: string;
  storageType?: string;
  /** Elements in the storage. */
  numel: number;
  offset?: number;
  shape: number[];
  stride?: number[];
}

function contiguousStride(shape: number[]): number[] {
  const stride = shape.map(() => 1);
  for (let i = shape.length - 2; i >= 0; i--) stride[i] = (stride[i + 1] as number) * (shape[i + 1] as number);
  return stride;
}

/** The opcodes torch.save writes for one tensor: _rebuild_tensor_v2 of a persistent storage id. */
export function tensorOps(t: TensorSpec): number[][] {
  const tuple = (items: number[]) => [P.mark(), ...items.map((v) => P.int(v)), P.tuple()];
  return [
    P.global('torch._utils', '_rebuild_tensor_v2'),
    P.mark(),
    P.mark(),
    P.str('storage'),
    P.global('torch', t.storageType ?? 'FloatStorage'),
    P.str(t.storage),
    P.str('cpu'),
    P.int(t.numel),
    P.tuple(),
    P.binpersid(),
    P.int(t.offset ?? 0),
    ...tuple(t.shape),
    ...tuple(t.stride ?? contiguousStride(t.shape)),
    P.false(),
    P.global('collections', 'OrderedDict'),
    P.emptyTuple(),
    P.reduce(),
    P.tuple(),
    P.reduce(),
  ];
}

/** data.pkl of an OrderedDict of tensors, optionally under a key of a plain dict (Lightning's "state_dict"). */
export function stateDictPickle(tensors: TensorSpec[], under?: string, extra: number[][] = []): Uint8Array {
  const dict = [P.global('collections', 'OrderedDict'), P.emptyTuple(), P.reduce(), P.mark(), ...tensors.flatMap((t) => [P.str(t.key), ...tensorOps(t)]), P.setitems()];
  if (!under) return pickle(P.proto(2), ...dict, P.stop());
  return pickle(P.proto(2), P.emptyDict(), P.mark(), P.str(under), ...dict, ...extra, P.setitems(), P.stop());
}

/** A torch.save-shaped archive: archive/data.pkl, archive/data/<key> for each storage, archive/version. */
export function checkpointBytes(pkl: Uint8Array, storages: Record<string, Uint8Array>, archive = 'archive', zip: Partial<ZipEntrySpec> = {}): Uint8Array {
  const entries: ZipEntrySpec[] = [
    { name: `${archive}/data.pkl`, data: pkl, align: 64, ...zip },
    ...Object.entries(storages).map(([k, data]) => ({ name: `${archive}/data/${k}`, data, align: 64, ...zip })),
    { name: `${archive}/version`, data: encoder.encode('3\n'), align: 64, ...zip },
  ];
  return zipBytes(entries, { zip64: true });
}

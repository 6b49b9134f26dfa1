// The tensor table of a torch.save checkpoint: for each key of its state_dict, the dtype, shape
// and strides, and the absolute byte range of the values in the checkpoint file. Only the zip
// directory, data.pkl and the local headers of the storages the state_dict uses are read; the
// weights themselves are left where they are, for the caller to fetch range by range.

import keys from './convnext-keys.json';
import { CheckpointError, listing } from './errors';
import { readExactly, type RandomAccessSource } from './source';
import { DEFAULT_PICKLE_LIMITS, Inert, KnownGlobal, PickleDict, PickleTuple, unpickle, type PickleLimits, type PickleValue, type TensorRef } from './unpickle';
import { DEFAULT_HEADER_WASTE, DEFAULT_ZIP_LIMITS, locateEntries, locateEntry, readZipDirectory, type StoredEntry, type ZipLimits } from './zip';

export type DType = 'float32' | 'float16' | 'bfloat16' | 'float64' | 'int64' | 'int32' | 'int16' | 'int8' | 'uint8' | 'bool';

/** torch.save's storage classes (the persistent id names one), with their element type. */
export const STORAGE_DTYPES: Record<string, { dtype: DType; itemSize: number }> = {
  FloatStorage: { dtype: 'float32', itemSize: 4 },
  HalfStorage: { dtype: 'float16', itemSize: 2 },
  BFloat16Storage: { dtype: 'bfloat16', itemSize: 2 },
  DoubleStorage: { dtype: 'float64', itemSize: 8 },
  LongStorage: { dtype: 'int64', itemSize: 8 },
  IntStorage: { dtype: 'int32', itemSize: 4 },
  ShortStorage: { dtype: 'int16', itemSize: 2 },
  CharStorage: { dtype: 'int8', itemSize: 1 },
  ByteStorage: { dtype: 'uint8', itemSize: 1 },
  BoolStorage: { dtype: 'bool', itemSize: 1 },
  UntypedStorage: { dtype: 'uint8', itemSize: 1 },
};

export const FLOAT_DTYPES: ReadonlySet<DType> = new Set(['float32', 'float16', 'bfloat16', 'float64']);

export interface TensorInfo {
  /** The key in the checkpoint's state_dict, as spelled there. */
  key: string;
  dtype: DType;
  itemSize: number;
  shape: number[];
  /** In elements, as PyTorch reports them. */
  stride: number[];
  /** Row-major with no gaps: the byte range holds exactly the values, in order. */
  contiguous: boolean;
  /** Absolute byte range [start, end) in the file: the values (contiguous), or the span the strides reach. */
  start: number;
  end: number;
  /** The archive entry of its storage (shared storages share one). */
  storageEntry: string;
}

export interface CheckpointTensors {
  /** The archive's folder name (torch.save names it after the file). */
  archive: string;
  /** Where the state_dict was found: "" (the file is a bare state_dict) or the key holding it. */
  container: string;
  /** In the state_dict's order. */
  tensors: TensorInfo[];
  /** Pickled globals that became inert placeholders (hyper-parameter classes, anything hostile). */
  placeholders: string[];
  /** Bytes this reading asked the source for. */
  bytesRead: number;
  /** Reads of the storages' local headers (joined: see locateEntries). */
  headerReads: number;
}

export interface ReadLimits {
  zip: ZipLimits;
  pickle: PickleLimits;
  /** data.pkl read into memory (a Lightning ConvNeXt-Large's is a few hundred kB). */
  maxPickleBytes: number;
  /** Bytes between local headers read along to join their requests (zip.ts, locateEntries); at most 1% of the file. */
  headerWaste: number;
}

export const DEFAULT_READ_LIMITS: ReadLimits = { zip: DEFAULT_ZIP_LIMITS, pickle: DEFAULT_PICKLE_LIMITS, maxPickleBytes: 64 * 1024 * 1024, headerWaste: DEFAULT_HEADER_WASTE };

function isTensor(v: PickleValue | undefined): v is TensorRef {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && 'kind' in v && v.kind === 'tensor';
}

function keyText(k: PickleValue): string {
  if (typeof k === 'string') return k;
  if (typeof k === 'number' || typeof k === 'bigint' || typeof k === 'boolean') return String(k);
  return k === null ? 'None' : `<${typeof k}>`;
}

/** The state_dict inside a checkpoint object, by the rules of convert.py's find_state_dict. */
export function findStateDict(root: PickleValue): { container: string; tensors: Array<[string, TensorRef]> } {
  const all = (d: PickleDict): Array<[string, TensorRef]> => [...d.entries()].flatMap(([k, v]) => (isTensor(v) ? [[keyText(k), v] as [string, TensorRef]] : []));
  if (root instanceof PickleDict && root.size > 0 && [...root.entries()].every(([, v]) => isTensor(v))) return { container: '', tensors: all(root) };
  if (root instanceof PickleDict) {
    for (const key of keys.stateDictKeys) {
      // Lightning: {'state_dict': ..., 'epoch': ...}; fastai's learn.save: {'model': ..., 'opt': ...}.
      const inner = root.get(key);
      if (inner instanceof PickleDict) {
        const tensors = all(inner);
        if (tensors.length) return { container: key, tensors };
      }
    }
    const top = [...root.entries()].map(([k]) => keyText(k)).sort();
    throw new CheckpointError('no-state-dict', `found no state_dict: the top-level keys are ${top.slice(0, 12).join(', ')}`);
  }
  const what =
    root === null ? 'None'
    : Array.isArray(root) ? 'list'
    : root instanceof Inert ? `placeholder for ${root.global}`
    : root instanceof PickleTuple ? 'tuple'
    : root instanceof KnownGlobal ? `${root.module}.${root.name}`
    : typeof root === 'object' && 'kind' in root ? root.kind
    : typeof root;
  throw new CheckpointError('no-state-dict', `found no state_dict: the file holds a ${what}, not a dict of tensors`);
}

function product(shape: number[]): number {
  let n = 1;
  for (const d of shape) {
    n *= d;
    if (!Number.isSafeInteger(n)) throw new CheckpointError('bad-tensor', `a tensor of shape [${shape.join(', ')}] has too many elements`);
  }
  return n;
}

function isContiguous(shape: number[], stride: number[]): boolean {
  let expected = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    const size = shape[i] as number;
    if (size === 0) return true;
    if (size !== 1 && stride[i] !== expected) return false; // a size-1 dimension's stride is never used
    expected *= size;
  }
  return true;
}

/** Elements from the first to one past the last a view reaches (0 when it has none). */
function spanOf(shape: number[], stride: number[]): number {
  if (shape.some((d) => d === 0)) return 0;
  let span = 1;
  for (let i = 0; i < shape.length; i++) span += ((shape[i] as number) - 1) * (stride[i] as number);
  return span;
}

function countingSource(source: RandomAccessSource): RandomAccessSource & { bytes: number } {
  const counted = {
    size: source.size,
    bytes: 0,
    read: async (offset: number, length: number) => {
      const b = await source.read(offset, length);
      counted.bytes += b.length;
      return b;
    },
  };
  return counted;
}

/** The archive folder holding data.pkl (torch.save names it after the file; any name is accepted). */
function archiveOf(names: Iterable<string>): string {
  const found: string[] = [];
  let torchScript = false;
  for (const name of names) {
    const m = /^([^/]+)\/data\.pkl$/.exec(name);
    if (m) found.push(m[1] as string);
    if (/^[^/]+\/constants\.pkl$/.test(name)) torchScript = true;
  }
  if (torchScript) {
    throw new CheckpointError('no-state-dict', 'a TorchScript archive, not a checkpoint: use the original state_dict or Lightning checkpoint');
  }
  if (found.length !== 1) {
    throw new CheckpointError(
      'no-state-dict',
      found.length ? `several data.pkl files (${found.join(', ')}): not one torch.save archive` : 'a zip archive without data.pkl: not a file torch.save wrote',
    );
  }
  return found[0] as string;
}

/** The state_dict's tensors of a torch.save checkpoint, each as a byte range of the file. */
export async function readCheckpointTensors(source: RandomAccessSource, limits: ReadLimits = DEFAULT_READ_LIMITS): Promise<CheckpointTensors> {
  const counted = countingSource(source);
  const dir = await readZipDirectory(counted, limits.zip);
  const archive = archiveOf(dir.byName.keys());
  const pklEntry = dir.byName.get(`${archive}/data.pkl`);
  if (!pklEntry) throw new CheckpointError('no-state-dict', 'data.pkl is missing');
  if (pklEntry.uncompressedSize > limits.maxPickleBytes) {
    throw new CheckpointError('too-large', `data.pkl declares ${pklEntry.uncompressedSize} bytes (limit ${limits.maxPickleBytes})`);
  }
  const pkl = await locateEntry(counted, pklEntry);
  const { value, placeholders } = unpickle(await readExactly(counted, pkl.dataOffset, pkl.size, 'data.pkl'), limits.pickle);
  const { container, tensors: refs } = findStateDict(value);

  const storageKeys = [...new Set(refs.map(([, t]) => t.storage.key))];
  const storageEntries = storageKeys.map((key) => {
    const entry = dir.byName.get(`${archive}/data/${key}`);
    if (!entry) throw new CheckpointError('inconsistent', `the archive has no entry data/${key}, the storage of ${refs.find(([, t]) => t.storage.key === key)?.[0]}`);
    return entry;
  });
  const { located, reads } = await locateEntries(counted, storageEntries, source.sparse ? 0 : Math.min(limits.headerWaste, Math.floor(source.size / 100)));
  const storages = new Map<string, StoredEntry>(storageKeys.map((key, i) => [key, located[i] as StoredEntry]));

  const tensors = refs.map(([key, t]): TensorInfo => {
    const type = Object.hasOwn(STORAGE_DTYPES, t.storage.storageType) ? STORAGE_DTYPES[t.storage.storageType] : undefined;
    if (!type) throw new CheckpointError('bad-tensor', `${key} is stored as ${t.storage.storageType}, an element type this reader does not know`);
    const entry = storages.get(t.storage.key) as StoredEntry;
    if (t.storage.numel * type.itemSize !== entry.size) {
      throw new CheckpointError(
        'inconsistent',
        `${key}: its storage declares ${t.storage.numel} ${type.dtype} values (${t.storage.numel * type.itemSize} bytes), its archive entry holds ${entry.size} bytes`,
      );
    }
    const numel = product(t.shape);
    const span = spanOf(t.shape, t.stride);
    if (t.storageOffset + span > t.storage.numel || (numel > 0 && span < 1)) {
      throw new CheckpointError(
        'bad-tensor',
        `${key} [${t.shape.join(', ')}] from element ${t.storageOffset} reaches past its storage of ${t.storage.numel} elements`,
      );
    }
    const start = entry.dataOffset + t.storageOffset * type.itemSize;
    return {
      key,
      dtype: type.dtype,
      itemSize: type.itemSize,
      shape: t.shape,
      stride: t.stride,
      contiguous: isContiguous(t.shape, t.stride),
      start,
      end: start + span * type.itemSize,
      storageEntry: entry.name,
    };
  });
  return { archive, container, tensors, placeholders, bytesRead: counted.bytes, headerReads: reads };
}

/** Names a list of tensors that are not contiguous, for a refusal. */
export function describeNonContiguous(tensors: TensorInfo[]): string {
  return listing(
    `${tensors.length} tensor(s) are views with gaps (non-contiguous strides), which cannot be read as one byte range`,
    tensors.map((t) => `${t.key} [${t.shape.join(', ')}] stride [${t.stride.join(', ')}]`),
    6,
  );
}

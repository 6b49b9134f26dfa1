// A restricted unpickler for the data.pkl of a torch.save archive. It rebuilds what torch.save
// writes for tensors (persistent storage ids, torch._utils._rebuild_tensor_v2 and
// _rebuild_parameter, OrderedDict) and plain data (dicts, lists, tuples, numbers, strings).
// Every other global — Lightning's AttributeDict, a custom hyper-parameter class, os.system,
// builtins.eval — becomes an Inert placeholder: it is never looked up, never called, and calling
// or building it only yields another placeholder. Nothing in the pickle can run code here.
//
// Opcodes follow CPython's Lib/pickle.py and pickletools (protocols 0-5). Work is bounded: the
// pickle's length, stack and memo sizes, string lengths and the total work all have limits, so a
// pickle bomb ends in a 'bad-pickle' error rather than a hang.
// Over 300 lines: one case per pickle opcode of protocols 0-5, each with its bounds; a split
// would separate opcodes that share the stack and memo.

import { CheckpointError } from './errors';

/** A global that is not rebuilt, and whatever calling or building it produced. */
export class Inert {
  constructor(readonly global: string) {}
}

/** One of the few globals this unpickler knows; only used as a callable or a storage type. */
export class KnownGlobal {
  constructor(
    readonly module: string,
    readonly name: string,
  ) {}
}

export class PickleTuple {
  constructor(readonly items: readonly PickleValue[]) {}
}

/** A dict or OrderedDict, in insertion order (a later item with an equal key replaces the earlier). */
export class PickleDict {
  private readonly map = new Map<unknown, [PickleValue, PickleValue]>();

  set(key: PickleValue, value: PickleValue): void {
    const k = dictKey(key);
    const old = this.map.get(k);
    if (old) old[1] = value;
    else this.map.set(k, [key, value]);
  }

  get(key: string): PickleValue | undefined {
    return this.map.get(key)?.[1];
  }

  get size(): number {
    return this.map.size;
  }

  entries(): IterableIterator<[PickleValue, PickleValue]> {
    return this.map.values();
  }
}

/** A tensor storage named by a persistent id: the archive entry `data/<key>`. */
export interface StorageRef {
  readonly kind: 'storage';
  key: string;
  /** The storage class torch.save named (FloatStorage, HalfStorage, ...). */
  storageType: string;
  /** Elements in the storage, as the persistent id declares. */
  numel: number;
  location: string;
}

/** What torch._utils._rebuild_tensor_v2 would build: a view into a storage. */
export interface TensorRef {
  readonly kind: 'tensor';
  storage: StorageRef;
  storageOffset: number;
  shape: number[];
  stride: number[];
  requiresGrad: boolean;
}

export type PickleValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | Uint8Array
  | PickleValue[]
  | PickleTuple
  | PickleDict
  | Inert
  | KnownGlobal
  | StorageRef
  | TensorRef;

export interface PickleLimits {
  /** Opcodes executed plus items moved into containers. */
  maxWork: number;
  /** Values on the stack, marks included. */
  maxStack: number;
  maxMemo: number;
  /** One string or bytes value. */
  maxStringBytes: number;
}

export const DEFAULT_PICKLE_LIMITS: PickleLimits = {
  maxWork: 50_000_000,
  maxStack: 1_000_000,
  maxMemo: 1_000_000,
  maxStringBytes: 16 * 1024 * 1024,
};

export interface Unpickled {
  value: PickleValue;
  /** Every global replaced by a placeholder ("posix.system", "pytorch_lightning...AttributeDict"), sorted. */
  placeholders: string[];
  /** Every storage a persistent id names, wherever it sits (a streamed read skips what it does not need by these sizes). */
  storages: StorageRef[];
}

// The globals that are rebuilt; every other one is Inert.
const REBUILD_TENSOR = new Set(['_rebuild_tensor_v2', '_rebuild_tensor', '_rebuild_parameter', '_rebuild_parameter_with_state']);
const KNOWN = new Set([
  ...[...REBUILD_TENSOR].map((n) => `torch._utils.${n}`),
  'collections.OrderedDict',
  ...[
    'FloatStorage',
    'HalfStorage',
    'BFloat16Storage',
    'DoubleStorage',
    'LongStorage',
    'IntStorage',
    'ShortStorage',
    'CharStorage',
    'ByteStorage',
    'BoolStorage',
    'UntypedStorage',
  ].map((n) => `torch.${n}`),
]);

/** Longest decimal INT/LONG line parsed (BigInt parsing is superlinear); longer ones are Inert. */
const MAX_DECIMAL_DIGITS = 4096;
/** Longest LONG1/LONG4 payload parsed; longer ones are Inert. */
const MAX_LONG_BYTES = 256;

function dictKey(key: PickleValue): unknown {
  if (typeof key === 'boolean') return key ? 1 : 0; // Python: True == 1 and hashes alike.
  if (typeof key === 'bigint') return key >= BigInt(Number.MIN_SAFE_INTEGER) && key <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(key) : key;
  return key; // strings, numbers and null by value; containers by identity.
}

function fail(message: string): never {
  throw new CheckpointError('bad-pickle', `data.pkl: ${message}`);
}

function describe(v: PickleValue): string {
  if (v === null) return 'None';
  if (Array.isArray(v)) return 'a list';
  if (v instanceof Uint8Array) return 'bytes';
  if (v instanceof PickleTuple) return 'a tuple';
  if (v instanceof PickleDict) return 'a dict';
  if (v instanceof Inert) return `a placeholder for ${v.global}`;
  if (v instanceof KnownGlobal) return `${v.module}.${v.name}`;
  if (typeof v === 'object') return `a ${v.kind}`;
  return typeof v;
}

function isStorage(v: PickleValue | undefined): v is StorageRef {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && 'kind' in v && v.kind === 'storage';
}

function isTensor(v: PickleValue | undefined): v is TensorRef {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && 'kind' in v && v.kind === 'tensor';
}

function sizes(v: PickleValue | undefined, what: string): number[] {
  const items = v instanceof PickleTuple ? v.items : Array.isArray(v) ? v : null;
  if (!items) fail(`a tensor's ${what} is ${describe(v ?? null)}, not a tuple`);
  return items.map((n) => {
    if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) fail(`a tensor's ${what} holds ${String(n)}, not a size`);
    return n;
  });
}

function rebuildTensor(name: string, args: readonly PickleValue[]): PickleValue {
  if (name === '_rebuild_parameter' || name === '_rebuild_parameter_with_state') {
    const data = args[0];
    if (!isTensor(data)) fail(`torch._utils.${name} of ${describe(data ?? null)}, not a tensor`);
    if (typeof args[1] === 'boolean') data.requiresGrad = args[1];
    return data;
  }
  const [storage, offset, size, stride, requiresGrad] = args;
  if (!isStorage(storage)) fail(`torch._utils.${name} of ${describe(storage ?? null)}, not a storage`);
  if (typeof offset !== 'number' || !Number.isSafeInteger(offset) || offset < 0) fail(`a tensor's storage offset is ${String(offset)}`);
  const shape = sizes(size, 'size');
  const strides = sizes(stride, 'stride');
  if (shape.length !== strides.length) fail(`a tensor has ${shape.length} sizes but ${strides.length} strides`);
  return { kind: 'tensor', storage, storageOffset: offset, shape, stride: strides, requiresGrad: requiresGrad === true };
}

/** REDUCE: calls only the known rebuilders; anything else callable yields a placeholder. */
function reduce(callable: PickleValue, args: PickleValue): PickleValue {
  if (callable instanceof Inert) return new Inert(callable.global);
  if (!(callable instanceof KnownGlobal)) fail(`REDUCE calls ${describe(callable)}, which is not callable`);
  if (!(args instanceof PickleTuple)) fail(`REDUCE on ${callable.module}.${callable.name} with ${describe(args)} as arguments`);
  if (callable.module === 'torch._utils' && REBUILD_TENSOR.has(callable.name)) return rebuildTensor(callable.name, args.items);
  if (callable.module === 'collections' && callable.name === 'OrderedDict') {
    const d = new PickleDict();
    const items = args.items[0];
    const pairs = items instanceof PickleTuple ? items.items : Array.isArray(items) ? items : [];
    for (const p of pairs) {
      const kv = p instanceof PickleTuple ? p.items : Array.isArray(p) ? p : null;
      if (kv?.length !== 2) fail('OrderedDict built from something other than key-value pairs');
      d.set(kv[0] as PickleValue, kv[1] as PickleValue);
    }
    return d;
  }
  return new Inert(`${callable.module}.${callable.name}`); // a storage class called: not something torch.save writes
}

function persistentLoad(pid: PickleValue): PickleValue {
  if (!(pid instanceof PickleTuple) || pid.items[0] !== 'storage') return new Inert(`persistent id ${describe(pid)}`);
  const [, type, key, location, numel] = pid.items;
  if (pid.items.length !== 5 || typeof key !== 'string' || typeof numel !== 'number' || !Number.isSafeInteger(numel) || numel < 0) {
    fail('a storage persistent id is not (storage, type, key, location, numel)');
  }
  const storageType = type instanceof KnownGlobal ? type.name : type instanceof Inert ? type.global : fail(`a storage of type ${describe(type ?? null)}`);
  return { kind: 'storage', key, storageType, numel, location: typeof location === 'string' ? location : String(location) };
}

const latin1 = new TextDecoder('latin1');
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Python's repr-style escapes of protocol 0's STRING and raw-unicode-escape of UNICODE. */
function unescape(text: string, what: string): string {
  return text.replace(/\\(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|[\\'"nrt0abfv])/g, (_m, e: string) => {
    const simple: Record<string, string> = { '\\': '\\', "'": "'", '"': '"', n: '\n', r: '\r', t: '\t', '0': '\0', a: '\x07', b: '\b', f: '\f', v: '\v' };
    if (e.length === 1) return simple[e] as string;
    const code = parseInt(e.slice(1), 16);
    if (code > 0x10ffff) fail(`${what}: escape \\${e} is not a character`);
    return String.fromCodePoint(code);
  });
}

function decimal(line: string, what: string): number | bigint | Inert {
  if (line.length > MAX_DECIMAL_DIGITS) return new Inert(`a ${line.length}-digit integer`);
  if (!/^[+-]?\d+$/.test(line)) fail(`${what} "${line.slice(0, 40)}" is not an integer`);
  const n = BigInt(line);
  return n >= BigInt(Number.MIN_SAFE_INTEGER) && n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : n;
}

function littleEndianSigned(bytes: Uint8Array): number | bigint | Inert {
  if (bytes.length === 0) return 0;
  if (bytes.length > MAX_LONG_BYTES) return new Inert(`a ${bytes.length}-byte integer`);
  let n = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(bytes[i] as number);
  if ((bytes[bytes.length - 1] as number) & 0x80) n -= 1n << BigInt(8 * bytes.length);
  return n >= BigInt(Number.MIN_SAFE_INTEGER) && n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : n;
}

/** Unpickles `bytes` with nothing but data and tensor descriptors; throws CheckpointError('bad-pickle'). */
export function unpickle(bytes: Uint8Array, limits: PickleLimits = DEFAULT_PICKLE_LIMITS): Unpickled {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const placeholders = new Set<string>();
  const storages: StorageRef[] = [];
  const persistent = (pid: PickleValue): PickleValue => {
    const v = persistentLoad(pid);
    if (typeof v === 'object' && v !== null && 'kind' in v && v.kind === 'storage') storages.push(v);
    return v;
  };
  let stack: PickleValue[] = [];
  const marks: PickleValue[][] = [];
  const memo = new Map<number, PickleValue>();
  let pos = 0;
  let work = 0;

  const take = (n: number, what: string): Uint8Array => {
    if (n > bytes.length - pos) fail(`${what} declares ${n} bytes, but only ${bytes.length - pos} remain`);
    const out = bytes.subarray(pos, pos + n);
    pos += n;
    return out;
  };
  const u8 = (): number => take(1, 'an argument')[0] as number;
  const u16 = (): number => view.getUint16(take(2, 'an argument').byteOffset - bytes.byteOffset, true);
  const u32 = (): number => view.getUint32(take(4, 'an argument').byteOffset - bytes.byteOffset, true);
  const u64 = (what: string): number => {
    const lo = u32();
    const hi = u32();
    if (hi >= 0x200000) fail(`${what} declares ${hi * 2 ** 32 + lo} bytes`);
    return hi * 2 ** 32 + lo;
  };
  const line = (what: string): string => {
    const end = bytes.indexOf(0x0a, pos);
    if (end < 0) fail(`${what} has no end of line`);
    if (end - pos > limits.maxStringBytes) fail(`${what} is longer than ${limits.maxStringBytes} bytes`);
    const text = latin1.decode(bytes.subarray(pos, end));
    pos = end + 1;
    return text;
  };
  const sized = (n: number, what: string): Uint8Array => {
    if (n > limits.maxStringBytes) fail(`${what} of ${n} bytes (limit ${limits.maxStringBytes})`);
    return take(n, what);
  };
  const text = (b: Uint8Array, what: string): string => {
    try {
      return utf8.decode(b);
    } catch {
      fail(`${what} is not valid UTF-8`);
    }
  };
  const push = (v: PickleValue): void => {
    if (stack.length + marks.length >= limits.maxStack) fail(`the stack grows beyond ${limits.maxStack} values (a pickle bomb?)`);
    stack.push(v);
  };
  const pop = (what: string): PickleValue => {
    if (stack.length === 0) fail(`${what} on an empty stack`);
    return stack.pop() as PickleValue;
  };
  const top = (what: string): PickleValue => {
    if (stack.length === 0) fail(`${what} on an empty stack`);
    return stack[stack.length - 1] as PickleValue;
  };
  const popMark = (what: string): PickleValue[] => {
    const items = stack;
    const previous = marks.pop();
    if (!previous) fail(`${what} without a MARK`);
    stack = previous;
    work += items.length;
    return items;
  };
  const global = (module: string, name: string): PickleValue => {
    const qualified = `${module}.${name}`;
    if (KNOWN.has(qualified)) return new KnownGlobal(module, name);
    placeholders.add(qualified);
    return new Inert(qualified);
  };
  const memoize = (index: number): void => {
    if (!memo.has(index) && memo.size >= limits.maxMemo) fail(`the memo grows beyond ${limits.maxMemo} values`);
    memo.set(index, top('PUT'));
  };
  const fromMemo = (index: number): void => {
    if (!memo.has(index)) fail(`GET of memo ${index}, which was never stored`);
    push(memo.get(index) as PickleValue);
  };
  const appendTo = (list: PickleValue, items: PickleValue[]): void => {
    if (Array.isArray(list)) {
      for (const item of items) list.push(item);
    } else if (!(list instanceof Inert)) fail(`APPEND to ${describe(list)}`);
  };
  const setItems = (dict: PickleValue, items: PickleValue[]): void => {
    if (items.length % 2) fail('SETITEMS with an odd number of values');
    if (dict instanceof PickleDict) for (let i = 0; i < items.length; i += 2) dict.set(items[i] as PickleValue, items[i + 1] as PickleValue);
    else if (!(dict instanceof Inert)) fail(`SETITEM on ${describe(dict)}`);
  };
  const instance = (cls: PickleValue): Inert => {
    if (cls instanceof Inert) return new Inert(cls.global);
    if (cls instanceof KnownGlobal) return new Inert(`${cls.module}.${cls.name}`);
    fail(`a new object of ${describe(cls)}, which is not a class`);
  };

  for (;;) {
    if (++work > limits.maxWork) fail(`more than ${limits.maxWork} steps: too much work for a checkpoint (a pickle bomb?)`);
    if (pos >= bytes.length) fail('ends without a STOP opcode (truncated?)');
    const at = pos;
    const op = bytes[pos++] as number;
    switch (op) {
      case 0x80: {
        // PROTO
        const version = u8();
        if (version > 5) fail(`pickle protocol ${version}, newer than any this reader knows`);
        break;
      }
      case 0x95: // FRAME: a length prefix only
        u64('a frame');
        break;
      case 0x2e: {
        // STOP
        if (marks.length) fail('STOP inside an unclosed MARK');
        const value = pop('STOP');
        return { value, placeholders: [...placeholders].sort(), storages };
      }
      case 0x28: // MARK
        if (stack.length + marks.length >= limits.maxStack) fail(`the stack grows beyond ${limits.maxStack} values (a pickle bomb?)`);
        marks.push(stack);
        stack = [];
        break;
      case 0x30: // POP
        if (stack.length) stack.pop();
        else popMark('POP');
        break;
      case 0x31: // POP_MARK
        popMark('POP_MARK');
        break;
      case 0x32: // DUP
        push(top('DUP'));
        break;
      // Numbers
      case 0x4a: // BININT
        push(view.getInt32(take(4, 'BININT').byteOffset - bytes.byteOffset, true));
        break;
      case 0x4b: // BININT1
        push(u8());
        break;
      case 0x4d: // BININT2
        push(u16());
        break;
      case 0x49: {
        // INT (protocol 0): also True/False as I01/I00
        const l = line('INT');
        push(l === '01' ? true : l === '00' ? false : decimal(l, 'INT'));
        break;
      }
      case 0x4c: {
        // LONG
        const l = line('LONG');
        push(decimal(l.endsWith('L') ? l.slice(0, -1) : l, 'LONG'));
        break;
      }
      case 0x8a: // LONG1
        push(littleEndianSigned(take(u8(), 'LONG1')));
        break;
      case 0x8b: {
        // LONG4
        const n = view.getInt32(take(4, 'LONG4').byteOffset - bytes.byteOffset, true);
        if (n < 0) fail('LONG4 with a negative length');
        push(littleEndianSigned(sized(n, 'LONG4')));
        break;
      }
      case 0x46: {
        // FLOAT
        const l = line('FLOAT').trim();
        const v = Number(l);
        if (Number.isNaN(v) && !/^[+-]?nan$/i.test(l)) fail(`FLOAT "${l.slice(0, 40)}" is not a number`);
        push(v);
        break;
      }
      case 0x47: // BINFLOAT (big-endian)
        push(view.getFloat64(take(8, 'BINFLOAT').byteOffset - bytes.byteOffset, false));
        break;
      case 0x4e: // NONE
        push(null);
        break;
      case 0x88: // NEWTRUE
        push(true);
        break;
      case 0x89: // NEWFALSE
        push(false);
        break;
      // Strings and bytes
      case 0x53: {
        // STRING: a quoted Python 2 str literal
        const l = line('STRING');
        const q = l[0];
        if (l.length < 2 || (q !== "'" && q !== '"') || l[l.length - 1] !== q) fail('STRING is not a quoted literal');
        push(unescape(l.slice(1, -1), 'STRING'));
        break;
      }
      case 0x54: // BINSTRING
        push(latin1.decode(sized(u32(), 'BINSTRING')));
        break;
      case 0x55: // SHORT_BINSTRING
        push(latin1.decode(take(u8(), 'SHORT_BINSTRING')));
        break;
      case 0x56: // UNICODE (raw-unicode-escape)
        push(unescape(line('UNICODE'), 'UNICODE'));
        break;
      case 0x58: // BINUNICODE
        push(text(sized(u32(), 'BINUNICODE'), 'BINUNICODE'));
        break;
      case 0x8c: // SHORT_BINUNICODE
        push(text(take(u8(), 'SHORT_BINUNICODE'), 'SHORT_BINUNICODE'));
        break;
      case 0x8d: // BINUNICODE8
        push(text(sized(u64('BINUNICODE8'), 'BINUNICODE8'), 'BINUNICODE8'));
        break;
      case 0x42: // BINBYTES
        push(sized(u32(), 'BINBYTES').slice());
        break;
      case 0x43: // SHORT_BINBYTES
        push(take(u8(), 'SHORT_BINBYTES').slice());
        break;
      case 0x8e: // BINBYTES8
        push(sized(u64('BINBYTES8'), 'BINBYTES8').slice());
        break;
      case 0x96: // BYTEARRAY8
        push(sized(u64('BYTEARRAY8'), 'BYTEARRAY8').slice());
        break;
      case 0x97: // NEXT_BUFFER
      case 0x98: // READONLY_BUFFER
        return fail('out-of-band buffers (pickle protocol 5), which torch.save never writes');
      // Containers
      case 0x5d: // EMPTY_LIST
        push([]);
        break;
      case 0x6c: // LIST
        push(popMark('LIST'));
        break;
      case 0x61: {
        // APPEND
        const item = pop('APPEND');
        appendTo(top('APPEND'), [item]);
        break;
      }
      case 0x65: {
        // APPENDS
        const items = popMark('APPENDS');
        appendTo(top('APPENDS'), items);
        break;
      }
      case 0x29: // EMPTY_TUPLE
        push(new PickleTuple([]));
        break;
      case 0x74: // TUPLE
        push(new PickleTuple(popMark('TUPLE')));
        break;
      case 0x85: // TUPLE1
        push(new PickleTuple([pop('TUPLE1')]));
        break;
      case 0x86: {
        // TUPLE2
        const b = pop('TUPLE2');
        push(new PickleTuple([pop('TUPLE2'), b]));
        break;
      }
      case 0x87: {
        // TUPLE3
        const c = pop('TUPLE3');
        const b = pop('TUPLE3');
        push(new PickleTuple([pop('TUPLE3'), b, c]));
        break;
      }
      case 0x7d: // EMPTY_DICT
        push(new PickleDict());
        break;
      case 0x64: {
        // DICT
        const d = new PickleDict();
        setItems(d, popMark('DICT'));
        push(d);
        break;
      }
      case 0x73: {
        // SETITEM
        const value = pop('SETITEM');
        const key = pop('SETITEM');
        setItems(top('SETITEM'), [key, value]);
        break;
      }
      case 0x75: {
        // SETITEMS
        const items = popMark('SETITEMS');
        setItems(top('SETITEMS'), items);
        break;
      }
      case 0x8f: // EMPTY_SET: sets are kept as placeholders (no checkpoint keeps tensors in one)
        push(new Inert('builtins.set'));
        break;
      case 0x90: {
        // ADDITEMS
        popMark('ADDITEMS');
        if (!(top('ADDITEMS') instanceof Inert)) fail('ADDITEMS to something other than a set');
        break;
      }
      case 0x91: // FROZENSET
        popMark('FROZENSET');
        push(new Inert('builtins.frozenset'));
        break;
      // Memo
      case 0x70: {
        // PUT
        const l = line('PUT');
        const index = decimal(l, 'PUT');
        if (typeof index !== 'number') fail('PUT with an absurd index');
        memoize(index);
        break;
      }
      case 0x71: // BINPUT
        memoize(u8());
        break;
      case 0x72: // LONG_BINPUT
        memoize(u32());
        break;
      case 0x94: // MEMOIZE
        memoize(memo.size);
        break;
      case 0x67: {
        // GET
        const index = decimal(line('GET'), 'GET');
        if (typeof index !== 'number') fail('GET with an absurd index');
        fromMemo(index);
        break;
      }
      case 0x68: // BINGET
        fromMemo(u8());
        break;
      case 0x6a: // LONG_BINGET
        fromMemo(u32());
        break;
      // Globals, calls and objects: only the known rebuilders act; the rest stays inert.
      case 0x63: {
        // GLOBAL
        const module = line('GLOBAL');
        push(global(module, line('GLOBAL')));
        break;
      }
      case 0x93: {
        // STACK_GLOBAL
        const name = pop('STACK_GLOBAL');
        const module = pop('STACK_GLOBAL');
        if (typeof name !== 'string' || typeof module !== 'string') fail('STACK_GLOBAL of something other than two strings');
        push(global(module, name));
        break;
      }
      case 0x82: // EXT1
      case 0x83: // EXT2
      case 0x84: {
        // EXT4: the copyreg extension registry, which could name anything
        const code = op === 0x82 ? u8() : op === 0x83 ? u16() : u32();
        placeholders.add(`extension code ${code}`);
        push(new Inert(`extension code ${code}`));
        break;
      }
      case 0x52: {
        // REDUCE
        const args = pop('REDUCE');
        const callable = pop('REDUCE');
        push(reduce(callable, args));
        break;
      }
      case 0x62: {
        // BUILD: the state of a placeholder, or the attributes of a dict (a state_dict's _metadata), is dropped
        pop('BUILD');
        const target = top('BUILD');
        if (!(target instanceof Inert || target instanceof PickleDict || isTensor(target))) fail(`BUILD on ${describe(target)}`);
        break;
      }
      case 0x81: {
        // NEWOBJ
        pop('NEWOBJ');
        push(instance(pop('NEWOBJ')));
        break;
      }
      case 0x92: {
        // NEWOBJ_EX
        pop('NEWOBJ_EX');
        pop('NEWOBJ_EX');
        push(instance(pop('NEWOBJ_EX')));
        break;
      }
      case 0x6f: {
        // OBJ
        const items = popMark('OBJ');
        if (items.length === 0) fail('OBJ without a class');
        push(instance(items[0] as PickleValue));
        break;
      }
      case 0x69: {
        // INST
        const module = line('INST');
        const cls = global(module, line('INST'));
        popMark('INST');
        push(instance(cls));
        break;
      }
      case 0x50: // PERSID
        push(persistent(line('PERSID')));
        break;
      case 0x51: // BINPERSID
        push(persistent(pop('BINPERSID')));
        break;
      default:
        fail(`unknown opcode 0x${op.toString(16).padStart(2, '0')} at byte ${at}`);
    }
  }
}

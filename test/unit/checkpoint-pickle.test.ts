// The restricted unpickler and the tensor table on pickles assembled opcode by opcode
// (test/support/pickle-bytes.ts): plain data and memo references, tensors from persistent
// storage ids, every other global an inert placeholder (os.system, builtins.eval, a class
// called, built or instantiated), and pickle bombs ending in a typed error.

import { describe, expect, it } from 'vitest';
import { CheckpointError } from '../../src/detector/checkpoint/errors';
import { bytesSource } from '../../src/detector/checkpoint/source';
import { readCheckpointTensors } from '../../src/detector/checkpoint/tensors';
import { DEFAULT_PICKLE_LIMITS, Inert, PickleDict, PickleTuple, unpickle, type TensorRef } from '../../src/detector/checkpoint/unpickle';
import { checkpointBytes, P, pickle, stateDictPickle, tensorOps } from '../support/pickle-bytes';

function refusedPickle(bytes: Uint8Array, limits = DEFAULT_PICKLE_LIMITS): CheckpointError {
  try {
    unpickle(bytes, limits);
  } catch (e) {
    expect(e).toBeInstanceOf(CheckpointError);
    expect((e as CheckpointError).kind).toBe('bad-pickle');
    return e as CheckpointError;
  }
  throw new Error('the pickle was accepted');
}

describe('plain data', () => {
  it('dicts, lists, tuples, numbers, strings, booleans, None, and memo references to one object', () => {
    const { value, placeholders } = unpickle(
      pickle(
        P.proto(2),
        P.emptyDict(),
        P.binput(0),
        P.mark(),
        P.str('epoch'),
        P.int(4),
        P.str('step'),
        P.int(123456),
        P.str('lr'),
        P.float(1e-4),
        P.str('flags'),
        P.mark(),
        P.true(),
        P.false(),
        P.none(),
        P.tuple(),
        P.str('list'),
        P.emptyList(),
        P.binput(1),
        P.mark(),
        P.int(-7),
        P.str('é'),
        P.appends(),
        P.str('again'),
        P.binget(1),
        P.setitems(),
        P.stop(),
      ),
    );
    expect(placeholders).toEqual([]);
    const d = value as PickleDict;
    expect(d.get('epoch')).toBe(4);
    expect(d.get('step')).toBe(123456);
    expect(d.get('lr')).toBe(1e-4);
    expect(d.get('flags')).toEqual(new PickleTuple([true, false, null]));
    expect(d.get('list')).toEqual([-7, 'é']);
    expect(d.get('again')).toBe(d.get('list'));
  });
});

describe('tensors', () => {
  it('_rebuild_tensor_v2 of a persistent storage id, and _rebuild_parameter around it', () => {
    const t = { key: 'w', storage: '3', storageType: 'HalfStorage', numel: 24, offset: 4, shape: [2, 10] };
    const { value } = unpickle(
      pickle(P.proto(2), P.global('torch._utils', '_rebuild_parameter'), P.mark(), ...tensorOps(t), P.true(), P.global('collections', 'OrderedDict'), P.emptyTuple(), P.reduce(), P.tuple(), P.reduce(), P.stop()),
    );
    const tensor = value as TensorRef;
    expect(tensor).toMatchObject({ kind: 'tensor', storageOffset: 4, shape: [2, 10], stride: [10, 1], requiresGrad: true });
    expect(tensor.storage).toMatchObject({ key: '3', storageType: 'HalfStorage', numel: 24, location: 'cpu' });
  });

  it('the tensor table: dtype, shape and the byte range of each tensor in the archive, shared storages included', async () => {
    const storage0 = Float32Array.from({ length: 12 }, (_, i) => i);
    const storage1 = Uint16Array.from([1, 2, 3, 4]);
    const pkl = stateDictPickle(
      [
        { key: 'model.a', storage: '0', numel: 12, shape: [3, 2] },
        { key: 'model.b', storage: '0', numel: 12, offset: 6, shape: [6] },
        { key: 'model.c', storage: '1', storageType: 'HalfStorage', numel: 4, shape: [2, 2], stride: [1, 2] },
      ],
      'state_dict',
      [P.str('hyper_parameters'), P.global('pytorch_lightning.utilities.parsing', 'AttributeDict'), P.emptyTuple(), P.newobj()],
    );
    const bytes = checkpointBytes(pkl, { 0: new Uint8Array(storage0.buffer), 1: new Uint8Array(storage1.buffer) });
    const table = await readCheckpointTensors(bytesSource(bytes));
    expect(table.container).toBe('state_dict');
    expect(table.placeholders).toEqual(['pytorch_lightning.utilities.parsing.AttributeDict']);
    const [a, b, c] = table.tensors;
    expect(a).toMatchObject({ key: 'model.a', dtype: 'float32', shape: [3, 2], contiguous: true, storageEntry: 'archive/data/0' });
    expect(new Float32Array(bytes.slice(a!.start, a!.end).buffer)).toEqual(storage0.subarray(0, 6));
    expect(new Float32Array(bytes.slice(b!.start, b!.end).buffer)).toEqual(storage0.subarray(6, 12));
    expect(c).toMatchObject({ dtype: 'float16', shape: [2, 2], stride: [1, 2], contiguous: false, end: c!.start + 8 });
  });

  it('a tensor reaching past its storage, or a storage whose entry is missing or of another size', async () => {
    const storage = new Uint8Array(16);
    const refuse = async (pkl: Uint8Array, storages: Record<string, Uint8Array>, kind: string, message: RegExp) => {
      const e = await readCheckpointTensors(bytesSource(checkpointBytes(pkl, storages))).catch((err: unknown) => err);
      expect(e).toBeInstanceOf(CheckpointError);
      expect((e as CheckpointError).kind).toBe(kind);
      expect((e as CheckpointError).message).toMatch(message);
    };
    await refuse(stateDictPickle([{ key: 'w', storage: '0', numel: 4, offset: 2, shape: [3] }]), { 0: storage }, 'bad-tensor', /w \[3\] from element 2 reaches past its storage of 4/);
    await refuse(stateDictPickle([{ key: 'w', storage: '0', numel: 4, shape: [4] }]), { 1: storage }, 'inconsistent', /no entry data\/0, the storage of w/);
    await refuse(stateDictPickle([{ key: 'w', storage: '0', numel: 8, shape: [8] }]), { 0: storage }, 'inconsistent', /declares 8 float32 values \(32 bytes\), its archive entry holds 16/);
    await refuse(stateDictPickle([{ key: 'w', storage: '0', storageType: 'QInt8Storage', numel: 16, shape: [16] }]), { 0: storage }, 'bad-tensor', /QInt8Storage/);
    await refuse(pickle(P.proto(2), P.emptyDict(), P.str('epoch'), P.int(3), P.setitem(), P.stop()), {}, 'no-state-dict', /top-level keys are epoch/);
    await refuse(pickle(P.proto(2), P.global('__main__', 'Net'), P.emptyTuple(), P.newobj(), P.stop()), {}, 'no-state-dict', /holds a placeholder for __main__\.Net, not a dict of tensors/);
    await refuse(pickle(P.proto(2), P.global('toString', 'x'), P.global('torch._utils', '_rebuild_tensor_v2'), P.stop()), {}, 'no-state-dict', /holds a torch\._utils\._rebuild_tensor_v2/);
  });
});

describe('every other global is inert', () => {
  it('os.system and builtins.eval called by REDUCE: placeholders, listed, never looked up', () => {
    const { value, placeholders } = unpickle(
      pickle(
        P.proto(2),
        P.emptyDict(),
        P.str('a'),
        P.global('posix', 'system'),
        P.str('touch /tmp/x'),
        P.tuple1(),
        P.reduce(),
        P.setitem(),
        P.str('b'),
        P.global('builtins', 'eval'),
        P.str('1+1'),
        P.tuple1(),
        P.reduce(),
        P.setitem(),
        P.stop(),
      ),
    );
    expect(placeholders).toEqual(['builtins.eval', 'posix.system']);
    expect((value as PickleDict).get('a')).toEqual(new Inert('posix.system'));
    expect((value as PickleDict).get('b')).toEqual(new Inert('builtins.eval'));
  });

  it('REDUCE, BUILD, NEWOBJ, SETITEMS and APPENDS on placeholders give placeholders; a placeholder as a storage type stays unreadable', () => {
    const { value } = unpickle(
      pickle(
        P.proto(2),
        P.global('my.module', 'Hyper'),
        P.emptyTuple(),
        P.newobj(),
        P.emptyDict(),
        P.build(),
        P.mark(),
        P.str('k'),
        P.int(1),
        P.setitems(),
        P.mark(),
        P.int(2),
        P.appends(),
        P.emptyTuple(),
        P.reduce(),
        P.stop(),
      ),
    );
    expect(value).toEqual(new Inert('my.module.Hyper'));
  });

  it('REDUCE on something that is not callable, or a tensor rebuilt from something that is not a storage: refused', () => {
    expect(refusedPickle(pickle(P.proto(2), P.int(3), P.emptyTuple(), P.reduce(), P.stop())).message).toMatch(/REDUCE calls number/);
    expect(
      refusedPickle(pickle(P.proto(2), P.global('torch._utils', '_rebuild_tensor_v2'), P.mark(), P.int(0), P.int(0), P.tuple(), P.reduce(), P.stop())).message,
    ).toMatch(/_rebuild_tensor_v2 of number, not a storage/);
  });
});

describe('malformed pickles and pickle bombs end in a typed error, quickly', () => {
  it('truncated, unknown opcodes, a GET of nothing, an empty stack', () => {
    expect(refusedPickle(pickle(P.proto(2), P.emptyDict())).message).toMatch(/without a STOP/);
    expect(refusedPickle(Uint8Array.from([0x80, 2, 0xff])).message).toMatch(/unknown opcode 0xff/);
    expect(refusedPickle(pickle(P.proto(2), P.binget(9), P.stop())).message).toMatch(/memo 9/);
    expect(refusedPickle(pickle(P.proto(2), P.stop())).message).toMatch(/empty stack/);
  });

  it('a string declaring far more bytes than there are', () => {
    expect(refusedPickle(Uint8Array.from([0x80, 2, 0x58, 0xff, 0xff, 0xff, 0x7f, 0x41])).message).toMatch(/limit|remain/);
    expect(refusedPickle(Uint8Array.from([0x80, 4, 0x8d, 0, 0, 0, 0, 0, 0, 0, 0x40, 0x41])).message).toMatch(/declares/);
  });

  it('a million-laughs list (each level holds the previous one twice): read as shared references, not expanded', () => {
    const ops: number[][] = [P.proto(2), P.emptyList(), P.longBinput(0)];
    for (let i = 1; i <= 200; i++) ops.push(P.emptyList(), P.longBinget(i - 1), P.append(), P.longBinget(i - 1), P.append(), P.longBinput(i));
    ops.push(P.stop());
    const { value } = unpickle(pickle(...ops));
    let level = value as unknown[];
    for (let i = 0; i < 200; i++) {
      expect(level[0]).toBe(level[1]);
      level = level[0] as unknown[];
    }
    // 2^200 leaves if expanded; as a checkpoint, it holds no state_dict.
  });

  it('a stack or memo grown past its bound, or too much work', () => {
    const dups = pickle(P.proto(2), P.none(), ...Array.from({ length: 2000 }, () => P.dup()), P.stop());
    expect(refusedPickle(dups, { ...DEFAULT_PICKLE_LIMITS, maxStack: 1000 }).message).toMatch(/stack grows beyond 1000/);
    const marks = pickle(P.proto(2), ...Array.from({ length: 2000 }, () => P.mark()), P.stop());
    expect(refusedPickle(marks, { ...DEFAULT_PICKLE_LIMITS, maxStack: 1000 }).message).toMatch(/stack grows beyond 1000/);
    const memo = pickle(P.proto(2), P.none(), ...Array.from({ length: 2000 }, (_, i) => P.longBinput(i)), P.stop());
    expect(refusedPickle(memo, { ...DEFAULT_PICKLE_LIMITS, maxMemo: 1000 }).message).toMatch(/memo grows beyond 1000/);
    expect(refusedPickle(dups, { ...DEFAULT_PICKLE_LIMITS, maxWork: 500 }).message).toMatch(/more than 500 steps/);
    // With the default bounds, 2 million DUPs (2 MB of pickle) stop at the stack bound.
    const bomb = new Uint8Array(2_000_004).fill(0x32);
    bomb.set([0x80, 2, 0x4e], 0);
    expect(refusedPickle(bomb).message).toMatch(/stack grows beyond 1000000/);
  });
});

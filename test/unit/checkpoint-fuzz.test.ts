// Property-based fuzzing (fast-check) of the checkpoint reader: random bytes, and valid
// torch.save-shaped archives and pickles with bytes overwritten, cut short or spliced. Whatever
// comes in, the reader either returns a table or throws its typed CheckpointError — never any
// other exception — and asks its source for a bounded number of bytes (no loops over the file).

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CheckpointError } from '../../src/detector/checkpoint/errors';
import type { RandomAccessSource } from '../../src/detector/checkpoint/source';
import { readCheckpointTensors } from '../../src/detector/checkpoint/tensors';
import { DEFAULT_PICKLE_LIMITS, unpickle } from '../../src/detector/checkpoint/unpickle';
import { checkpointBytes, P, stateDictPickle } from '../support/pickle-bytes';

const RUNS = 3000;

function countingSource(bytes: Uint8Array): RandomAccessSource & { bytesRead: number; reads: number } {
  const s = {
    size: bytes.length,
    bytesRead: 0,
    reads: 0,
    read: (offset: number, length: number) => {
      s.reads++;
      const out = bytes.subarray(offset, offset + length);
      s.bytesRead += out.length;
      return Promise.resolve(out);
    },
  };
  return s;
}

async function readOrRefuse(bytes: Uint8Array): Promise<void> {
  const source = countingSource(bytes);
  try {
    const table = await readCheckpointTensors(source);
    for (const t of table.tensors) {
      expect(t.start).toBeGreaterThanOrEqual(0);
      expect(t.end).toBeLessThanOrEqual(bytes.length);
      expect(t.end).toBeGreaterThanOrEqual(t.start);
    }
  } catch (e) {
    if (!(e instanceof CheckpointError)) throw e;
    expect(e.message.length).toBeGreaterThan(0);
  }
  // The tail, the directory, data.pkl and a header per storage: never the file over and over.
  expect(source.bytesRead).toBeLessThanOrEqual(3 * bytes.length + 66_000);
}

function unpickleOrRefuse(bytes: Uint8Array): void {
  try {
    unpickle(bytes, { ...DEFAULT_PICKLE_LIMITS, maxWork: 100_000 });
  } catch (e) {
    if (!(e instanceof CheckpointError)) throw e;
    expect(e.kind).toBe('bad-pickle');
  }
}

const PICKLE = stateDictPickle(
  [
    { key: 'model.stem.0.weight', storage: '0', numel: 12, shape: [3, 4] },
    { key: 'model.stem.0.bias', storage: '1', storageType: 'HalfStorage', numel: 3, shape: [3] },
    { key: 'model.view', storage: '0', numel: 12, offset: 4, shape: [2, 2], stride: [1, 2] },
  ],
  'state_dict',
  [P.str('hyper_parameters'), P.global('posix', 'system'), P.str('true'), P.tuple1(), P.reduce()],
);
const VALID = checkpointBytes(PICKLE, { 0: new Uint8Array(48).fill(1), 1: new Uint8Array(6).fill(2) });

/** `base` with some bytes overwritten, then maybe cut short or with bytes spliced in. */
const mutated = (base: Uint8Array) =>
  fc
    .record({
      writes: fc.array(fc.tuple(fc.nat(base.length - 1), fc.integer({ min: 0, max: 255 })), { maxLength: 8 }),
      cut: fc.option(fc.nat(base.length)),
      splice: fc.option(fc.tuple(fc.nat(base.length), fc.uint8Array({ maxLength: 16 }))),
    })
    .map(({ writes, cut, splice }) => {
      let b = base.slice();
      for (const [at, v] of writes) b[at] = v;
      if (splice) b = Uint8Array.from([...b.subarray(0, splice[0]), ...splice[1], ...b.subarray(splice[0])]);
      return cut === null ? b : b.subarray(0, cut);
    });

describe('checkpoint reader fuzzing', () => {
  it('the valid archive reads', async () => {
    const table = await readCheckpointTensors(countingSource(VALID));
    expect(table.tensors.map((t) => t.key)).toEqual(['model.stem.0.weight', 'model.stem.0.bias', 'model.view']);
  });

  it('random bytes', async () => {
    await fc.assert(fc.asyncProperty(fc.uint8Array({ maxLength: 2048 }), readOrRefuse), { numRuns: RUNS });
  });

  it('random bytes behind a zip local header signature', async () => {
    await fc.assert(fc.asyncProperty(fc.uint8Array({ maxLength: 512 }), (b) => readOrRefuse(Uint8Array.from([0x50, 0x4b, 3, 4, ...b]))), { numRuns: RUNS });
  });

  it('a valid checkpoint with bytes overwritten, cut or spliced', async () => {
    await fc.assert(fc.asyncProperty(mutated(VALID), readOrRefuse), { numRuns: RUNS });
  });

  it('a valid checkpoint with its end records damaged (where the zip64 fields are)', async () => {
    const tail = fc.array(fc.tuple(fc.integer({ min: VALID.length - 120, max: VALID.length - 1 }), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 });
    await fc.assert(
      fc.asyncProperty(tail, (writes) => {
        const b = VALID.slice();
        for (const [at, v] of writes) b[at] = v;
        return readOrRefuse(b);
      }),
      { numRuns: RUNS },
    );
  });
});

describe('unpickler fuzzing', () => {
  it('random bytes after the protocol 2 header', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 512 }), (b) => unpickleOrRefuse(Uint8Array.from([0x80, 2, ...b]))), { numRuns: RUNS });
  });

  it('a valid data.pkl with bytes overwritten, cut or spliced', () => {
    fc.assert(fc.property(mutated(PICKLE), unpickleOrRefuse), { numRuns: RUNS });
  });

  it('random sequences of whole opcodes', () => {
    const ops = fc.constantFrom(
      ...[P.mark(), P.none(), P.true(), P.int(5), P.int(70000), P.float(2.5), P.str('storage'), P.str('k'), P.emptyDict(), P.emptyList(), P.emptyTuple()],
      ...[P.tuple(), P.tuple1(), P.tuple2(), P.tuple3(), P.setitem(), P.setitems(), P.append(), P.appends(), P.reduce(), P.build(), P.newobj()],
      ...[P.binpersid(), P.binput(0), P.binget(0), P.dup(), P.pop(), P.global('torch._utils', '_rebuild_tensor_v2'), P.global('torch', 'FloatStorage')],
      ...[P.global('collections', 'OrderedDict'), P.global('posix', 'system'), P.global('torch._utils', '_rebuild_parameter')],
    );
    fc.assert(
      fc.property(fc.array(ops, { maxLength: 60 }), (seq) => unpickleOrRefuse(Uint8Array.from([...P.proto(2), ...seq.flat(), ...P.stop()]))),
      { numRuns: RUNS * 3 },
    );
  });
});

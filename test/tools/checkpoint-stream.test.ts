// A checkpoint streamed once, for a server without Range requests (keepFromStream,
// src/detector/checkpoint/stream-keep.ts), on checkpoints PyTorch writes at test time, cut into
// chunks of random sizes: the reader must find over the kept bytes the same tensor table as over
// the whole file, every unit of the import plan must read the file's own bytes there, and what is
// kept must leave the optimizer's state out. Broken streams end in a typed CheckpointError.

import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CheckpointError } from '../../src/detector/checkpoint/errors';
import { planImport } from '../../src/detector/checkpoint/import-plan';
import { placeConvNeXt } from '../../src/detector/checkpoint/placement';
import { bytesSource } from '../../src/detector/checkpoint/source';
import { keepFromStream, memorySpool } from '../../src/detector/checkpoint/stream-keep';
import { readCheckpointTensors } from '../../src/detector/checkpoint/tensors';
import { runPython } from '../support/python';
import { makeCheckpoints, removeTempDirs, type Checkpoints } from './support';

let ck: Checkpoints;

afterAll(removeTempDirs);

beforeAll(async () => {
  ck = await makeCheckpoints(['lightning-timm', 'torchvision', 'corrupt', 'garbage']);
  const w = await runPython(['test/support/checkpoint_cases.py', 'write', ck.dir]);
  expect(w.code, w.stderr).toBe(0);
});

/** `bytes` as a stream of chunks of seeded random sizes (1 byte to 64 KiB). */
async function* chunked(bytes: Uint8Array, seed: number): AsyncGenerator<Uint8Array> {
  let s = seed;
  for (let at = 0; at < bytes.length; ) {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    const n = s % 7 === 0 ? 1 + (s % 40) : 1 + (s % 65536);
    yield bytes.slice(at, at + n);
    at += n;
  }
}

async function streamed(bytes: Uint8Array, seed: number, declared: number | null = bytes.length) {
  const spool = memorySpool();
  const seen: number[] = [];
  const source = await keepFromStream(chunked(bytes, seed), declared, spool, (n) => seen.push(n));
  return { source, seen };
}

describe('a checkpoint streamed once, keeping only what the import needs', () => {
  it.each(['lightning-timm', 'torchvision', 'adam', 'reversed', 'one-storage', 'zip64', 'fp16', 'eval-global'])(
    '%s: the same tensor table, and every planned unit reads the file’s bytes',
    async (layout) => {
      const bytes = new Uint8Array(readFileSync(ck.path(layout)));
      const whole = await readCheckpointTensors(bytesSource(bytes));
      for (const seed of [1, 2]) {
        const { source, seen } = await streamed(bytes, seed);
        expect(source.size).toBe(bytes.length);
        expect(seen[seen.length - 1]).toBe(bytes.length);
        const table = await readCheckpointTensors(source);
        expect(table.tensors).toEqual(whole.tensors);
        expect(table.placeholders).toEqual(whole.placeholders);
        const plan = planImport(placeConvNeXt(table.tensors));
        for (const u of plan.units) expect(await source.read(u.start, u.end - u.start)).toEqual(bytes.subarray(u.start, u.end));
        if (seed === 1) console.log(`${layout}: ${bytes.length} bytes streamed, ${source.kept} kept; weights ${plan.weightBytes}`);
      }
    },
  );

  it('leaves Adam’s state out: adam.ckpt keeps about what lightning-timm.ckpt keeps', async () => {
    const adam = new Uint8Array(readFileSync(ck.path('adam')));
    const plain = new Uint8Array(readFileSync(ck.path('lightning-timm')));
    const a = (await streamed(adam, 3)).source;
    const p = (await streamed(plain, 3)).source;
    // adam.ckpt is lightning-timm.ckpt plus twice its weights of optimizer state (and a longer data.pkl).
    expect(adam.length - plain.length).toBeGreaterThan(plain.length);
    expect(a.kept - p.kept).toBeLessThan((adam.length - plain.length) / 4);
    // A byte of the optimizer's state was not kept, and asking for it is refused.
    const table = await readCheckpointTensors(bytesSource(adam));
    const ends = table.tensors.map((t) => [t.start, t.end] as const).sort((x, y) => x[0] - y[0]);
    const gap = ends.slice(1).find((t, i) => t[0] - ends[i]![1] > 4096);
    expect(gap).toBeDefined();
    await expect(a.read(gap![0] - 2048, 16)).rejects.toThrow(/not kept while it was streamed/);
  });

  it('refuses a cut stream, a size other than declared, and a file that is not a zip, each with its own error', async () => {
    const bytes = new Uint8Array(readFileSync(ck.path('lightning-timm')));
    // Refused while streaming, or (a cut inside the end records, with no size declared) by the reader after it.
    const refusal = async (b: Uint8Array, declared: number | null): Promise<CheckpointError> => {
      const e = await streamed(b, 5, declared).then(
        (s) => readCheckpointTensors(s.source),
        (err: unknown) => err,
      ).catch((err: unknown) => err);
      expect(e).toBeInstanceOf(CheckpointError);
      return e as CheckpointError;
    };
    for (const cut of [10, 200, Math.floor(bytes.length / 2), bytes.length - 30]) {
      expect((await refusal(bytes.subarray(0, cut), null)).message, `cut at ${cut}`).toMatch(/truncated or corrupt/);
    }
    expect((await refusal(bytes, bytes.length + 5)).message).toMatch(/declared \d+ bytes and sent/);
    expect((await refusal(new Uint8Array(readFileSync(ck.path('garbage'))), null)).kind).toBe('not-zip');
    expect((await refusal(new TextEncoder().encode('<!doctype html><p>sign in'), null)).message).toMatch(/web page/);
    expect((await refusal(new Uint8Array(readFileSync(ck.path('deflated'))), null)).kind).toBe('unsupported-entry');
  });
});

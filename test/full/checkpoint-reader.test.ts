// The TypeScript checkpoint reader on a file shaped like LAION's published one (`npm run test:full`):
// a randomly initialised ConvNeXt-Large (192/384/768/1536, depths 3/3/27/3) saved as a
// PyTorch-Lightning checkpoint in timm names with Adam's optimizer state beside it (~2.4 GB, as the
// published file). The reader's table must equal torch.load's (every key, dtype and shape, and the
// SHA-256 of every weight's bytes at its range), its placement must be ConvNeXt-Large, and it must
// read only the directory, data.pkl and the weights' local headers. Prints what it read and how long
// it took, and this process's peak resident memory.

import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, openSync, readSync, closeSync, rmSync, statSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { placeConvNeXt } from '../../src/detector/checkpoint/placement';
import { readCheckpointTensors } from '../../src/detector/checkpoint/tensors';
import { fileSource } from '../support/checkpoint-source';
import { PYTHON, REPO, requireReferencePython, type PythonResult } from '../support/python';

interface Reported {
  key: string;
  dtype: string;
  shape: number[];
  sha256: string;
}

// Writing the model, PyTorch's reference logits, Adam's state and torch.load's report: ~10 min when shared.
const SETUP_TIMEOUT_MS = 2_400_000;
let work: string;
let file: string;
let reported: Reported[];

const ENV = { ...process.env, OMP_NUM_THREADS: process.env.OMP_NUM_THREADS ?? String(cpus().length) };

function run(args: string[]): Promise<PythonResult> {
  return new Promise((done) => {
    execFile(PYTHON, args, { cwd: REPO, env: ENV, timeout: 1_500_000, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      done({ code: typeof err?.code === 'number' ? err.code : err ? 1 : 0, stdout, stderr });
    });
  });
}

beforeAll(async () => {
  await requireReferencePython();
  work = mkdtempSync(join(tmpdir(), 'rfl-full-ckpt-'));
  const made = await run(['tools/make_test_checkpoint.py', work, 'lightning-timm', '--dims', '192,384,768,1536', '--depths', '3,3,27,3']);
  expect(made.code, made.stderr).toBe(0);
  file = join(work, 'published-like.ckpt');
  const adam = await run(['test/support/checkpoint_cases.py', 'add-adam', join(work, 'lightning-timm.ckpt'), file]);
  expect(adam.code, adam.stderr).toBe(0);
  rmSync(join(work, 'lightning-timm.ckpt'));
  const r = await run(['test/support/checkpoint_cases.py', 'report', file]);
  expect(r.code, r.stderr).toBe(0);
  reported = (JSON.parse(r.stdout) as Record<string, { tensors: Reported[] }>)[file]!.tensors;
}, SETUP_TIMEOUT_MS);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

it('a published-size Lightning checkpoint: torch.load’s table, ConvNeXt-Large placement, only the directory and headers read', async () => {
  const size = statSync(file).size;
  const source = await fileSource(file);
  let reads = 0;
  const counted = { size: source.size, read: (o: number, l: number) => (reads++, source.read(o, l)) };
  const rssBefore = process.memoryUsage().rss;
  const t0 = performance.now();
  const table = await readCheckpointTensors(counted);
  const seconds = (performance.now() - t0) / 1000;
  const rssAfter = process.memoryUsage().rss;
  await source.close();
  const placed = placeConvNeXt(table.tensors);

  expect(table.tensors.map((t) => [t.key, t.dtype, t.shape])).toEqual(reported.map((t) => [t.key, t.dtype, t.shape]));
  expect(placed.architecture).toEqual({ dims: [192, 384, 768, 1536], depths: [3, 3, 27, 3], numClasses: 2 });
  expect(placed.layout).toBe('timm');
  const weightBytes = table.tensors.reduce((sum, t) => sum + (t.end - t.start), 0);
  // Every weight's bytes, hashed straight from its range of the file, equal numpy's bytes of torch.load's tensor.
  const fd = openSync(file, 'r');
  try {
    for (const [i, t] of table.tensors.entries()) {
      const buf = Buffer.allocUnsafe(t.end - t.start);
      readSync(fd, buf, 0, buf.length, t.start);
      expect(createHash('sha256').update(buf).digest('hex'), t.key).toBe(reported[i]!.sha256);
    }
  } finally {
    closeSync(fd);
  }
  expect(table.bytesRead).toBeLessThan(0.001 * size);
  console.log(
    `checkpoint reader, published-size file: ${(size / 1e9).toFixed(2)} GB file, ${table.tensors.length} weights of ${(weightBytes / 1e6).toFixed(0)} MB; ` +
      `read ${table.bytesRead} bytes (${((100 * table.bytesRead) / size).toFixed(4)}% of the file) in ${reads} reads, ${seconds.toFixed(2)} s; ` +
      `rss ${(rssBefore / 1e6).toFixed(0)} -> ${(rssAfter / 1e6).toFixed(0)} MB; placeholders: ${table.placeholders.join(', ')}`,
  );
});

// LAION's one-click path at full size (`npm run test:full`): a published-like Lightning checkpoint
// (random ConvNeXt-Large + Adam's state, ~2.4 GB, test/support/full-checkpoint.ts) served on
// 127.0.0.1 behind a CDN-like redirect with Range requests, imported through the options page of
// a release build in Chromium; the stored probe must equal PyTorch's logits and each photograph's
// badge PyTorch's p (<= 1e-3, the published preprocessing) on WebAssembly. Prints the figures the
// bench prints (bytes asked against the file, requests, import time, peak memory, first badge).

import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeRun, ensurePublishedLike, runFullImport } from '../support/full-checkpoint';
import { FIXTURE_MODEL_DIR, REPO, requireReferencePython } from '../support/python';

const STEP_TIMEOUT_MS = 480_000;
let work: string;
let dist: string;
let probe: number[];

beforeAll(async () => {
  await requireReferencePython();
  probe = ensurePublishedLike().probe;
  work = mkdtempSync(join(tmpdir(), 'rfl-full-import-'));
  dist = join(work, 'dist');
  const built = spawnSync('npx', ['vite', 'build', '--logLevel', 'warn'], { cwd: REPO, env: { ...process.env, RFL_DIST: dist, REALFAKE_MODEL_DIR: FIXTURE_MODEL_DIR }, encoding: 'utf8' });
  expect(built.status, built.stderr).toBe(0);
}, 3_600_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

it('imports a published-size Lightning checkpoint by address; probe and badges equal PyTorch', async () => {
  const run = await runFullImport(dist, STEP_TIMEOUT_MS);
  for (const line of describeRun(run)) console.log(`full-size import: ${line}`);
  console.log('full-size import: p(generated)             browser     PyTorch     |Δp|');
  for (const b of run.badges) console.log(`  ${b.file.padEnd(30)} ${b.got.toFixed(6)}  ${b.want.toFixed(6)}  ${Math.abs(b.got - b.want).toExponential(2)}`);
  expect(Math.max(...run.probe.map((v, i) => Math.abs(v - probe[i]!)))).toBeLessThanOrEqual(1e-3);
  expect([run.engine.backend, run.engine.precision, run.engine.model?.id]).toEqual(['wasm', 'fp32', 'ckpt-published-like']);
  // Only the model's weights and the zip's table of contents: not the optimizer's state.
  expect(run.askedBytes).toBeLessThan(run.weightBytes * 1.01 + 2e6);
  for (const b of run.badges) expect(Math.abs(b.got - b.want), b.file).toBeLessThanOrEqual(1e-3);
});

// `npm run bench`: LAION's one-click import at full size (test/support/full-checkpoint.ts): a
// published-like 2.4 GB Lightning checkpoint served on 127.0.0.1, imported through the options
// page of a release build in Chromium. Prints, in one run, the bytes asked of the server against
// the file and the weights, the requests, the import time, the extension process's peak memory
// against the weights (goal <= 1.5x), and the time to the first badge after the import; then the
// same from a server without Range requests (streamed once), and its time against the first.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { describeRun, runFullImport } from '../test/support/full-checkpoint';
import { FIXTURE_MODEL_DIR, REPO } from '../test/support/python';

it('checkpoint import: bytes, requests, time, peak memory, first badge', async () => {
  const work = mkdtempSync(join(tmpdir(), 'rfl-bench-import-'));
  try {
    const dist = join(work, 'dist');
    const built = spawnSync('npx', ['vite', 'build', '--logLevel', 'warn'], { cwd: REPO, env: { ...process.env, RFL_DIST: dist, REALFAKE_MODEL_DIR: FIXTURE_MODEL_DIR }, encoding: 'utf8' });
    expect(built.status, built.stderr).toBe(0);
    const run = await runFullImport(dist, 1_800_000);
    console.log(`checkpoint import bench (${new Date().toISOString().slice(0, 10)}), Range requests:`);
    for (const line of describeRun(run)) console.log(`  ${line}`);
    // The same file from a server without Range requests: streamed once, the weights kept in a spool first.
    const streamed = await runFullImport(dist, 1_800_000, false);
    console.log('  from a server without Range requests (the same run):');
    for (const line of describeRun(streamed)) console.log(`    ${line}`);
    console.log(`  streamed / ranged import time: ${(streamed.importMs / run.importMs).toFixed(2)}x`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}, 3_600_000);

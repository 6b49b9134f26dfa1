// LAION's one-click path at full size, shared by `npm run test:full`
// (test/full/checkpoint-import.test.ts: correctness) and `npm run bench`
// (bench/checkpoint-import.bench.ts: the figures): a PyTorch-Lightning checkpoint shaped like the
// published one (a random ConvNeXt-Large in timm names with Adam's state, ~2.4 GB: made once by
// tools/make_test_checkpoint.py and test/support/checkpoint_cases.py, cached outside git with
// PyTorch's scores of the photographs), served on 127.0.0.1 with Range requests, imported in
// Chromium through the options page's address field as a user would, then used to badge the
// photographs. Measured: requests and bytes asked of the server, import time, the extension
// process's peak memory during the import, and the time to the first badge after it.

import { spawnSync } from 'node:child_process';
import { createReadStream, existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { cpus, homedir } from 'node:os';
import { join } from 'node:path';
import { byteRange, writeRangeHead } from './byte-range';
import { CHROMIUM_EXTENSION_PROCESS, watchMemory, type PeakMemory } from './extension-memory';
import { waitForBadges } from './badges';
import { launchWithExtension } from './chrome';
import { configureEngine, offscreenStatus } from './engine';
import { photoIndex, PHOTOS_DIR } from './photos';
import { PYTHON, REPO } from './python';
import { startServer } from './server';
import type { EngineStatus } from '../../src/shared/protocol/offscreen';

const CACHE = join(process.env.RFL_BENCH_CACHE ?? join(homedir(), '.cache/realfake-lens/bench'), 'checkpoint-import');
export const PUBLISHED_LIKE = join(CACHE, 'published-like.ckpt');
const ENV = { ...process.env, OMP_NUM_THREADS: process.env.OMP_NUM_THREADS ?? String(cpus().length) };

function python(args: string[]): string {
  const r = spawnSync(PYTHON, args, { cwd: REPO, env: ENV, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, stdio: ['ignore', 'pipe', 'inherit'] });
  if (r.status !== 0) throw new Error(`${args[0]} failed (exit ${r.status})`);
  return r.stdout;
}

/** The published-like checkpoint and PyTorch's p of each photograph (made once: minutes, ~5 GB of memory). */
export function ensurePublishedLike(): { file: string; probe: number[]; pytorch: Map<string, number> } {
  mkdirSync(CACHE, { recursive: true });
  if (!existsSync(PUBLISHED_LIKE)) {
    const work = join(CACHE, 'work');
    python(['tools/make_test_checkpoint.py', work, 'lightning-timm', '--dims', '192,384,768,1536', '--depths', '3,3,27,3']);
    python(['test/support/checkpoint_cases.py', 'add-adam', join(work, 'lightning-timm.ckpt'), `${PUBLISHED_LIKE}.tmp`]);
    writeFileSync(join(CACHE, 'reference.json'), readFileSync(join(work, 'reference.json')));
    renameSync(`${PUBLISHED_LIKE}.tmp`, PUBLISHED_LIKE);
    rmSync(work, { recursive: true, force: true });
  }
  const scoresFile = join(CACHE, 'pytorch-scores.json');
  const photos = photoIndex().map((p) => join(PHOTOS_DIR, p.file));
  if (!existsSync(scoresFile) || statSync(scoresFile).mtimeMs < statSync(PUBLISHED_LIKE).mtimeMs) {
    writeFileSync(scoresFile, python(['test/support/checkpoint_scores.py', PUBLISHED_LIKE, ...photos]));
  }
  const scores = JSON.parse(readFileSync(scoresFile, 'utf8')) as Record<string, number>;
  const probe = (JSON.parse(readFileSync(join(CACHE, 'reference.json'), 'utf8')) as { probe: number[] }).probe;
  return { file: PUBLISHED_LIKE, probe, pytorch: new Map(Object.entries(scores).map(([k, v]) => [k.split('/').pop() as string, v])) };
}

export interface FullImportRun {
  fileBytes: number;
  weightBytes: number;
  requests: number;
  /** Bytes the server was asked for (Range requests, all of them). */
  askedBytes: number;
  importMs: number;
  /** The extension process during the import (it hosts the offscreen document). */
  peak: PeakMemory | null;
  /** From opening the page of photographs with the imported model chosen to the first badge with a score. */
  firstBadgeMs: number;
  probe: number[];
  badges: Array<{ file: string; got: number; want: number }>;
  engine: EngineStatus;
}

/** Serves `file` streamed from disk (with Range support unless `ranges` is false), counting requests and bytes. */
function fileRoute(file: string, counts: { requests: number; bytes: number }, ranges: boolean) {
  const size = statSync(file).size;
  return (req: IncomingMessage, res: ServerResponse): void => {
    counts.requests++;
    const r = ranges ? byteRange(req.headers.range, size) : null;
    const { from, to } = r ?? { from: 0, to: size - 1 };
    counts.bytes += to - from + 1;
    writeRangeHead(res, r, size);
    createReadStream(file, { start: from, end: to }).pipe(res);
  };
}

/**
 * The whole path once, in Chromium built from this tree into `dist` (a release build); `ranges`
 * false: from a server without Range requests (the file streamed once).
 */
export async function runFullImport(dist: string, timeoutMs: number, ranges = true): Promise<FullImportRun> {
  const { file, pytorch } = ensurePublishedLike();
  // The photographs the extension judges (not those below its minimum size).
  const photos = photoIndex().filter((p) => !p.small);
  const counts = { requests: 0, bytes: 0 };
  const server = await startServer(PHOTOS_DIR);
  server.route('/resolve/published-like.ckpt', (_req, res) => {
    res.writeHead(302, { location: '/cdn/published-like.ckpt' });
    res.end();
  });
  server.route('/cdn/published-like.ckpt', fileRoute(file, counts, ranges));
  server.page(
    '/photos.html',
    `<!doctype html><meta charset="utf-8"><title>photos</title>${photos.map((p) => `<img src="/static/${p.file}" width="${p.width}" height="${p.height}" alt="">`).join('')}`,
  );
  const ext = await launchWithExtension({ dist });
  const t = performance.now();
  const step = (what: string): void => console.log(`full-size import: ${((performance.now() - t) / 1000).toFixed(0)} s: ${what}`);
  try {
    await configureEngine(ext, { 'engine.useWebGpu': false });
    const options = await ext.context.newPage();
    await options.goto(`chrome-extension://${ext.extensionId}/src/options/index.html`);
    await options.locator('#checkpoint-url').fill(`${server.origin}/resolve/published-like.ckpt`);
    const stop = watchMemory(CHROMIUM_EXTENSION_PROCESS);
    const t0 = performance.now();
    await options.getByRole('button', { name: 'Import from this address' }).click();
    step('import started');
    const id = 'ckpt-published-like';
    // Its outcome: any message the page shows (an error before the import starts has no "Not installed").
    await options.locator('p.message, p.error').first().waitFor({ timeout: timeoutMs });
    const importMs = performance.now() - t0;
    const peak = stop();
    const outcome = await options.locator('p.message, p.error').allTextContents();
    step(`import ended: ${outcome.join(' | ')}`);
    if (!outcome.some((m) => m.includes(`Installed ${id}`))) throw new Error(`not installed: ${outcome.join(' | ')}`);
    const manifest = await options.evaluate(async (model) => {
      const dir = await (await (await navigator.storage.getDirectory()).getDirectoryHandle('models')).getDirectoryHandle(model);
      return JSON.parse(await (await (await dir.getFileHandle('manifest.json')).getFile()).text()) as { weights: { bytes: number }; probe: { logits: number[] } };
    }, id);
    await options.locator(`li[data-model-id="${id}"]`).getByRole('button', { name: 'Use this model' }).click();
    await options.getByText('Now using').waitFor();
    step('chosen');

    const page = await ext.context.newPage();
    await page.setViewportSize({ width: 1280, height: 4000 });
    const t1 = performance.now();
    await page.goto(`${server.origin}/photos.html`);
    const first = await waitForBadges(page, (b) => b.some((x) => x.state !== 'checking'), timeoutMs);
    const firstBadgeMs = performance.now() - t1;
    step(`first badge: ${JSON.stringify(first.find((x) => x.state !== 'checking'))}`);
    const badges = await waitForBadges(page, (b) => b.length === photos.length && b.every((x) => x.state !== 'checking'), timeoutMs).catch(async (e: unknown) => {
      const status = await offscreenStatus(ext).catch((err: unknown) => String(err));
      throw new Error(`badges unsettled: ${JSON.stringify(await waitForBadges(page, () => true, 5000))}; engine ${JSON.stringify(status)} (${String(e)})`);
    });
    step(`all badges: ${badges.map((b) => b.state).join(', ')}`);
    const engine = await offscreenStatus(ext);
    return {
      fileBytes: statSync(file).size,
      weightBytes: manifest.weights.bytes,
      requests: counts.requests,
      askedBytes: counts.bytes,
      importMs,
      peak,
      firstBadgeMs,
      probe: manifest.probe.logits,
      badges: photos.map((p) => ({
        file: p.file,
        got: badges.find((b) => b.src === `${server.origin}/static/${p.file}`)?.p ?? NaN,
        want: pytorch.get(p.file) ?? NaN,
      })),
      engine,
    };
  } finally {
    await ext.close();
    await server.close();
  }
}

/** The figures as the README quotes them. */
export function describeRun(r: FullImportRun): string[] {
  const mib = (n: number): string => `${(n / 1048576).toFixed(0)} MiB`;
  const weights = r.weightBytes / 1048576;
  return [
    `checkpoint ${(r.fileBytes / 1e9).toFixed(2)} GB, weights ${mib(r.weightBytes)} (float32)`,
    `asked of the server: ${r.requests} requests, ${mib(r.askedBytes)} = ${(r.askedBytes / r.fileBytes).toFixed(3)}x the file, ${(r.askedBytes / r.weightBytes).toFixed(3)}x the weights`,
    `import (click to installed, probe included): ${(r.importMs / 1000).toFixed(1)} s, ${(r.weightBytes / 1e6 / (r.importMs / 1000)).toFixed(1)} MB/s of weights`,
    r.peak
      ? `extension process peak during the import: ${(r.peak.privateMb / 1024).toFixed(2)} GiB private = ${(r.peak.privateMb / weights).toFixed(2)}x the weights, ${(r.peak.rssMb / 1024).toFixed(2)} GiB RSS = ${(r.peak.rssMb / weights).toFixed(2)}x`
      : 'extension process peak: not sampled',
    `first badge after the import: ${(r.firstBadgeMs / 1000).toFixed(1)} s (engine load ${((r.engine.loadMs ?? NaN) / 1000).toFixed(1)} s on ${r.engine.backend}, ${r.engine.threads} threads)`,
  ];
}

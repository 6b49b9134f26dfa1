// What the engine benches share: the full-size ConvNeXt-Large they run (made once by the project's
// tools, cached outside git), onnxruntime-node's time on it (the native reference), and the peak
// memory of a browser's process, sampled from /proc.

import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { cpus, homedir } from 'node:os';
import { join } from 'node:path';
import ort from 'onnxruntime-node';
import { expect } from 'vitest';
import { readBadges, type BadgeReading } from '../test/support/badges';
import { watchBadges, whenBadgesShown } from '../test/support/badge-watch';
import type { ExtensionSession } from '../test/support/chrome';
import { CHROMIUM_EXTENSION_PROCESS, FIREFOX_EXTENSION_PROCESS, FIREFOX_PROCESSES, watchMemory, type PeakMemory } from '../test/support/extension-memory';
import { configureEngine, offscreenStatus } from '../test/support/engine';
import type { ExtensionTab, FirefoxSession } from '../test/support/firefox';
import { PYTHON, REPO } from '../test/support/python';
import type { TestServer } from '../test/support/server';
import type { EngineStatus, LoadSteps } from '../src/shared/protocol/offscreen';
import type { StatusReply } from '../src/shared/protocol/ui';

export const GFLOP_PER_IMAGE = 68.7; // ConvNeXt-Large at 224x224: 34.4 GMACs
export const MODEL_ID = 'bench-convnext-large';
/** The same model installed again under this id, read from OPFS as a user's model is. */
export const OPFS_MODEL_ID = `${MODEL_ID}-opfs`;
const CACHE = process.env.RFL_BENCH_CACHE ?? join(homedir(), '.cache/realfake-lens/bench');
/**
 * $RFL_BENCH_CACHE/bench-convnext-large: manifest.json + model.onnx. $RFL_BENCH_MODEL_DIR names
 * another converted model instead (e.g. models/fixture, to try a bench quickly; its GFLOP/s
 * column is then meaningless).
 */
export const MODEL_DIR = process.env.RFL_BENCH_MODEL_DIR ?? join(CACHE, MODEL_ID);
export const CORES = cpus().length;

/** Makes the random ConvNeXt-Large checkpoint and converts it with tools/convert.py, once. */
export function ensureModel(): void {
  if (existsSync(join(MODEL_DIR, 'manifest.json'))) return;
  mkdirSync(CACHE, { recursive: true });
  const work = join(CACHE, 'checkpoint');
  console.log(`making a random ConvNeXt-Large in ${MODEL_DIR} (once; about a minute and 5 GB of memory)`);
  const run = (args: string[]) => {
    const r = spawnSync(PYTHON, args, { cwd: REPO, stdio: 'inherit' });
    if (r.status !== 0) throw new Error(`${args[0]} failed (exit ${r.status})`);
  };
  run(['tools/make_test_checkpoint.py', work, 'lightning-timm', '--dims', '192,384,768,1536', '--depths', '3,3,27,3']);
  run(['tools/convert.py', join(work, 'lightning-timm.ckpt'), '--id', MODEL_ID, '--out', MODEL_DIR, '--force']);
  rmSync(work, { recursive: true, force: true });
}

/** The ONNX file's size, MiB. */
export function modelMb(): number {
  return Number((JSON.parse(readFileSync(join(MODEL_DIR, 'manifest.json'), 'utf8')) as { onnx: { bytes: number } }).onnx.bytes) / 1048576;
}

/** onnxruntime-node on all cores, ms per image at `batch` (median-free: mean of 2-3 runs after a warm-up). */
export async function nativeMsPerImage(batch: number, dir = MODEL_DIR): Promise<number> {
  const session = await ort.InferenceSession.create(join(dir, 'model.onnx'), {
    executionProviders: ['cpu'],
    intraOpNumThreads: CORES,
    graphOptimizationLevel: 'all',
  });
  const input = new Float32Array(batch * 3 * 224 * 224).map((_, i) => Math.sin(i) * 2);
  const feeds = { [session.inputNames[0]!]: new ort.Tensor('float32', input, [batch, 3, 224, 224]) };
  await session.run(feeds); // warm-up
  const runs = batch === 1 ? 3 : 2;
  const t0 = performance.now();
  for (let i = 0; i < runs; i++) await session.run(feeds);
  const ms = (performance.now() - t0) / (runs * batch);
  await session.release();
  return ms;
}

/** "peak 0.95 GiB private (1.30x model), 1.10 GiB RSS (1.50x)". */
export function peakText(peak: PeakMemory, model: number): string {
  return (
    `peak ${(peak.privateMb / 1024).toFixed(2)} GiB private (${(peak.privateMb / model).toFixed(2)}x model), ` +
    `${(peak.rssMb / 1024).toFixed(2)} GiB RSS (${(peak.rssMb / model).toFixed(2)}x)`
  );
}

/** One printed row: ms/image, images/s, GFLOP/s, and the ratio to `ref` (ms/image). */
export function speedText(name: string, ms: number, ref: number, refName = 'native', extra = ''): string {
  return (
    `  ${name.padEnd(34)} ${ms.toFixed(0).padStart(6)} ms/image  ${(1000 / ms).toFixed(2).padStart(5)} images/s  ` +
    `${((GFLOP_PER_IMAGE * 1000) / ms).toFixed(0).padStart(4)} GFLOP/s  ${(ms / ref).toFixed(2).padStart(5)}x ${refName}${extra}`
  );
}

/** One measured configuration of the extension's engine. */
export interface Row {
  name: string;
  precision?: 'fp32' | 'int8';
  msPerImage: number;
  loadMs: number | null;
  /** The load's parts (Chromium rows). */
  steps?: LoadSteps | null;
  /** From the engine becoming ready to the page's first badge, ms (Chromium rows). */
  firstBadgeAfterReadyMs?: number | null;
  /** The extension's process: at its peak, and just before the page (with the extension idle). */
  peak: PeakMemory | null;
  before?: PeakMemory | null;
  /** Every process of the browser together, where measured. */
  peakAll?: PeakMemory | null;
}

/** A page of `files` (pictures under /static/) served at `path`, for one row. */
export interface RowPage {
  server: TestServer;
  path: string;
  files: string[];
}

const settled = (n: number) => (b: BadgeReading[]): boolean => b.length === n && b.every((x) => x.state !== 'checking');

function servePage(p: RowPage): string {
  // A page without pictures would leave its row waiting for a first badge that never comes.
  if (p.files.length === 0) throw new Error(`no pictures left for the page ${p.path}: the bench made too few`);
  p.server.page(p.path, `<!doctype html>${p.files.map((f) => `<img src="/static/${f}" width="160">`).join('')}`);
  return `${p.server.origin}${p.path}`;
}

/** Every badge has a verdict, and the engine judged every picture in batches of `batch`. */
function checkRow(badges: BadgeReading[], status: EngineStatus, files: number, batch: number, backend: 'wasm' | 'webgpu'): void {
  const failed = badges.filter((b) => b.state !== 'generated' && b.state !== 'real');
  expect(failed.map((b) => `${b.src}: ${b.state} ${b.reason} ${b.title}`)).toEqual([]);
  expect(status.inferred.images).toBe(files);
  expect(status.largestBatch).toBe(batch);
  expect(status.backend, `engine note: ${status.note}`).toBe(backend);
}

/** Chromium: the engine reconfigured (its offscreen document closed), then a page of pictures judged. */
export async function chromiumRow(
  ext: ExtensionSession,
  p: RowPage,
  backend: 'wasm' | 'webgpu',
  threads: number,
  batch: number,
  label = '',
  /** Run once the engine is reconfigured, before the page asks for its first picture. */
  beforePage?: () => Promise<void>,
): Promise<Row> {
  await configureEngine(ext, { 'engine.useWebGpu': backend === 'webgpu', 'engine.threads': threads, 'engine.maxBatch': batch, 'engine.batchWindowMs': 1000 });
  await beforePage?.();
  const url = servePage(p);
  const before = watchMemory(CHROMIUM_EXTENSION_PROCESS)();
  const stopWatching = watchMemory(CHROMIUM_EXTENSION_PROCESS);
  const page = await ext.context.newPage();
  await page.goto(url, { waitUntil: 'commit' });
  // Recorded in the page, not polled: reading the badges every 20 ms slowed the run it waited for.
  await watchBadges(page, ext.extensionId);
  const { shown, toEpoch } = await whenBadgesShown(page, ext.extensionId, p.files.length, 900_000);
  const firstBadgeAt = toEpoch + Math.min(...Object.values(shown));
  const badges = await readBadges(page);
  const peak = stopWatching();
  await page.close();
  const status = await offscreenStatus(ext);
  checkRow(badges, status, p.files.length, batch, backend);
  return {
    precision: status.precision === 'int8' ? 'int8' : 'fp32',
    name:
      backend === 'webgpu'
        ? `browser WebGPU ${status.precision}, batch ${batch}`
        : `browser WASM ${status.threads} thread${status.threads === 1 ? '' : 's'}, batch ${batch}${label}${status.precision === 'int8' ? ', int8' : ''}`,
    msPerImage: status.inferred.ms / status.inferred.images,
    loadMs: status.loadMs,
    steps: status.loadSteps,
    firstBadgeAfterReadyMs: status.loadSteps ? firstBadgeAt - status.loadSteps.readyAt : null,
    peak,
    before,
  };
}

/**
 * Firefox, in a browser of its own (`launch`: a fresh profile with the extension installed): the
 * engine configured before its first picture (and `prepare` run in its options page), then a page
 * of pictures judged in its event page's frame. Memory: the WebExtensions process, and all of this
 * Firefox's processes together.
 */
export async function firefoxRow(
  launch: () => Promise<FirefoxSession>,
  p: RowPage,
  batch: number,
  label: string,
  prepare?: (ui: ExtensionTab) => Promise<void>,
): Promise<Row & { note: string | null }> {
  const ff = await launch();
  try {
    const ui = await ff.openExtensionPage('src/options/index.html');
    await ui.evaluate(`chrome.storage.local.set(${JSON.stringify({ 'engine.useWebGpu': false, 'engine.maxBatch': batch, 'engine.batchWindowMs': 1000 })})`);
    await prepare?.(ui);
    const url = servePage(p);
    const before = watchMemory(FIREFOX_EXTENSION_PROCESS)();
    const stopExtension = watchMemory(FIREFOX_EXTENSION_PROCESS);
    const stopAll = watchMemory(FIREFOX_PROCESSES, 'sum');
    const page = await ff.newPage();
    await page.goto(url);
    const badges = await ff.waitForBadges(page, settled(p.files.length), 900_000);
    const peak = stopExtension();
    const peakAll = stopAll();
    const { engine: status } = await ui.evaluate<StatusReply>(`chrome.runtime.sendMessage({ kind: 'ui/get-status' })`);
    checkRow(badges, status, p.files.length, batch, 'wasm');
    return {
      name: `Firefox WASM ${status.threads} thread${status.threads === 1 ? '' : 's'}, batch ${batch}${label}`,
      msPerImage: status.inferred.ms / status.inferred.images,
      loadMs: status.loadMs,
      peak,
      before,
      peakAll,
      note: status.note,
    };
  } finally {
    await ff.close();
  }
}

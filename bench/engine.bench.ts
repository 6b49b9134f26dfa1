// Inference speed of a full-size ConvNeXt-Large (random weights, same ops and shapes as the real
// model): onnxruntime-node (native CPU, all cores) against the extension's own offscreen engine in
// headless Chromium on WebAssembly with 1 thread and with all threads, batch 1 and batch 4, in the
// same run on the same file. Prints ms/image, images/s, GFLOP/s, each browser figure as a ratio to
// native, the session load time and the extension process's peak memory (private, and RSS). Asserts
// nothing about time.
//
// The model (~800 MB) is made once by the project's tools and cached outside git in
// $RFL_BENCH_CACHE (default ~/.cache/realfake-lens/bench).

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { cpus, homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import ort from 'onnxruntime-node';
import { launchWithExtension, type ExtensionSession } from '../test/support/chrome';
import { fromExtensionPage } from '../test/support/contexts';
import { watchExtensionMemory, type PeakMemory } from '../test/support/extension-memory';
import { configureEngine, offscreenStatus } from '../test/support/engine';
import { importThroughOptions } from '../test/support/model-import';
import { waitForBadges } from '../test/support/badges';
import { writeSyntheticPictures } from '../test/support/png';
import { PYTHON, REPO } from '../test/support/python';
import { startServer, type TestServer } from '../test/support/server';

const GFLOP_PER_IMAGE = 68.7; // ConvNeXt-Large at 224x224: 34.4 GMACs
const MODEL_ID = 'bench-convnext-large';
const CACHE = process.env.RFL_BENCH_CACHE ?? join(homedir(), '.cache/realfake-lens/bench');
const MODEL_DIR = join(CACHE, MODEL_ID);
const DIST = join(tmpdir(), 'rfl-dist-bench');
const IMAGES_PER_RUN = Number(process.env.BENCH_ENGINE_IMAGES ?? 4);
const CORES = cpus().length;

interface Row {
  name: string;
  msPerImage: number;
  loadMs: number | null;
  peak: PeakMemory | null;
}

let server: TestServer;
let picDir: string;
let pictures: string[];

/** Makes the random ConvNeXt-Large checkpoint and converts it with tools/convert.py, once. */
function ensureModel(): void {
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

async function nativeMsPerImage(batch: number): Promise<number> {
  const session = await ort.InferenceSession.create(join(MODEL_DIR, 'model.onnx'), {
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

/** The WebGPU adapter the extension's pages see, if any. */
async function adapterHere(ext: ExtensionSession): Promise<{ software: boolean; shaderF16: boolean; name: string } | null> {
  return fromExtensionPage(
    ext,
    `async () => {
      const a = await navigator.gpu?.requestAdapter();
      if (!a) return null;
      return { software: a.info?.isFallbackAdapter ?? false, shaderF16: a.features.has('shader-f16'), name: [a.info?.vendor, a.info?.architecture, a.info?.description].filter(Boolean).join(' ') };
    }`,
    null,
  );
}

async function browserRow(ext: ExtensionSession, backend: 'wasm' | 'webgpu', threads: number, batch: number, run: number, label = ''): Promise<Row> {
  await configureEngine(ext, { 'engine.useWebGpu': backend === 'webgpu', 'engine.threads': threads, 'engine.maxBatch': batch, 'engine.batchWindowMs': 1000 });
  const files = pictures.slice(run * IMAGES_PER_RUN, (run + 1) * IMAGES_PER_RUN);
  server.page(`/run${run}.html`, `<!doctype html>${files.map((f) => `<img src="/static/${f}" width="160">`).join('')}`);
  const stopWatching = watchExtensionMemory();
  const page = await ext.context.newPage();
  await page.goto(`${server.origin}/run${run}.html`);
  const badges = await waitForBadges(page, (b) => b.length === files.length && b.every((x) => x.state !== 'checking'), 900_000);
  const peak = stopWatching();
  await page.close();
  const failed = badges.filter((b) => b.state !== 'generated' && b.state !== 'real');
  expect(failed.map((b) => `${b.src}: ${b.state} ${b.reason} ${b.title}`)).toEqual([]);
  const status = await offscreenStatus(ext);
  expect(status.inferred.images).toBe(files.length);
  expect(status.largestBatch).toBe(batch);
  expect(status.backend, `engine note: ${status.note}`).toBe(backend);
  return {
    name:
      backend === 'webgpu'
        ? `browser WebGPU ${status.precision}, batch ${batch}`
        : `browser WASM ${status.threads} thread${status.threads === 1 ? '' : 's'}, batch ${batch}${label}`,
    msPerImage: status.inferred.ms / status.inferred.images,
    loadMs: status.loadMs,
    peak,
  };
}

/**
 * Installs the bench model again under another id through the options page's import (OPFS), and
 * makes it the active model: the way a real model reaches a user, read by the engine from OPFS.
 */
async function installInOpfs(ext: ExtensionSession): Promise<void> {
  const manifest = JSON.parse(readFileSync(join(MODEL_DIR, 'manifest.json'), 'utf8')) as { name: string };
  await importThroughOptions(ext, MODEL_DIR, { as: { id: `${MODEL_ID}-opfs`, name: `${manifest.name} (OPFS)` } });
}

beforeAll(async () => {
  ensureModel();
  execFileSync('npx', ['vite', 'build', '--logLevel', 'warn'], {
    cwd: REPO,
    stdio: 'inherit',
    env: { ...process.env, RFL_DIST: DIST, REALFAKE_MODEL_DIR: MODEL_DIR },
  });
  picDir = join(tmpdir(), 'rfl-bench-pics');
  pictures = writeSyntheticPictures(picDir, IMAGES_PER_RUN * 8, 160, 11);
  server = await startServer(picDir);
}, 900_000);

afterAll(async () => {
  await server?.close();
  rmSync(DIST, { recursive: true, force: true });
  rmSync(picDir, { recursive: true, force: true });
});

describe('bench: inference engine', () => {
  it('ConvNeXt-Large: native onnxruntime against the extension engine', async () => {
    const native = { b1: await nativeMsPerImage(1), b4: await nativeMsPerImage(4) };
    // Linux Chromium keeps WebGPU behind these switches; without a GPU they give only SwiftShader, not measured.
    const ext = await launchWithExtension({ dist: DIST, extraArgs: ['--enable-unsafe-webgpu', '--enable-features=Vulkan'] });
    const rows: Row[] = [];
    let gpuLine: string;
    try {
      const all = Math.max(1, CORES);
      let run = 0;
      for (const threads of [1, all]) for (const batch of [1, 4]) rows.push(await browserRow(ext, 'wasm', threads, batch, run++));
      const adapter = await adapterHere(ext);
      if (adapter && !adapter.software) {
        for (const batch of [1, 4]) rows.push(await browserRow(ext, 'webgpu', 0, batch, run++));
        gpuLine = `  WebGPU adapter: ${adapter.name || 'unnamed'}, shader-f16 ${adapter.shaderF16 ? 'yes' : 'no'} (the bench packages the fp32 model only)`;
      } else {
        gpuLine = `  WebGPU: not measured here (${adapter ? 'only a software adapter, a CPU emulation' : 'no adapter'}).`;
      }
      // A real model is downloaded or imported, not packaged: the engine reads it from OPFS.
      await installInOpfs(ext);
      rows.push(await browserRow(ext, 'wasm', all, 1, run++, ', model from OPFS'));
    } finally {
      await ext.close();
    }
    const modelMb = Number(JSON.parse(readFileSync(join(MODEL_DIR, 'manifest.json'), 'utf8')).onnx.bytes) / 1048576;
    const fmt = (name: string, ms: number, ref: number, extra = '') =>
      `  ${name.padEnd(34)} ${ms.toFixed(0).padStart(6)} ms/image  ${(1000 / ms).toFixed(2).padStart(5)} images/s  ` +
      `${((GFLOP_PER_IMAGE * 1000) / ms).toFixed(0).padStart(4)} GFLOP/s  ${(ms / ref).toFixed(2).padStart(5)}x native${extra}`;
    const lines = [
      `ConvNeXt-Large (random weights, ${modelMb.toFixed(0)} MB fp32), ${CORES} cores, ${IMAGES_PER_RUN} images per browser row:`,
      fmt(`onnxruntime-node, ${CORES} threads, batch 1`, native.b1, native.b1),
      fmt(`onnxruntime-node, ${CORES} threads, batch 4`, native.b4, native.b4),
      ...rows.map((r) => {
        const ref = r.name.includes('batch 1') ? native.b1 : native.b4;
        const load = r.loadMs === null ? '' : `  load ${(r.loadMs / 1000).toFixed(1)} s`;
        const mem =
          r.peak === null
            ? ''
            : `  peak ${(r.peak.privateMb / 1024).toFixed(2)} GiB private (${(r.peak.privateMb / modelMb).toFixed(2)}x model), ` +
              `${(r.peak.rssMb / 1024).toFixed(2)} GiB RSS (${(r.peak.rssMb / modelMb).toFixed(2)}x)`;
        return fmt(r.name, r.msPerImage, ref, load + mem);
      }),
      gpuLine,
      `goal: browser WASM on all threads within 2.0x of native per image -> ${
        (rows.find((r) => r.name.includes(`${Math.max(1, CORES)} thread`) && r.name.endsWith('batch 1'))?.msPerImage ?? Infinity) /
          native.b1 <=
        2
          ? 'met'
          : 'NOT met'
      } on this machine`,
      `goal: peak private memory of the offscreen document's process within 1.5x of the model -> ${
        rows.every((r) => r.peak !== null && r.peak.privateMb / modelMb <= 1.5) ? 'met' : 'NOT met'
      } (largest ${Math.max(...rows.map((r) => (r.peak?.privateMb ?? Infinity) / modelMb)).toFixed(2)}x)`,
    ];
    console.log(lines.join('\n'));
  }, 1_800_000);
});


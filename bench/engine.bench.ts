// Inference speed of a full-size ConvNeXt-Large (random weights, same ops and shapes as the real
// model): onnxruntime-node (native CPU, all cores) against the extension's own offscreen engine in
// headless Chromium on WebAssembly with 1 thread and with all threads, batch 1 and batch 4, in the
// same run on the same file. Prints ms/image, images/s, GFLOP/s, each browser figure as a ratio to
// native, the session load time and the extension process's peak memory (private, and RSS). Then
// the cold start (first request to ready) split into its parts (ORT runtime, opening the file,
// session creation, probe, the check of the file's bytes), for the packaged model and for the
// model read from OPFS (checked by its part hashes, and as an install without them is: the whole
// file's SHA-256 in JavaScript), each against onnxruntime-node loading the same file (node:crypto
// SHA-256, session, probe), and the first badge after ready against one inference. Prints each
// goal as met or not. Asserts nothing about time.
//
// The model (~800 MB) is made once by the project's tools and cached outside git in
// $RFL_BENCH_CACHE (default ~/.cache/realfake-lens/bench).

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { cpus, homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import ort from 'onnxruntime-node';
import { launchWithExtension, type ExtensionSession } from '../test/support/chrome';
import { fromExtensionPage } from '../test/support/contexts';
import { configureEngine, offscreenStatus } from '../test/support/engine';
import { importThroughOptions } from '../test/support/model-import';
import { readBadges, waitForBadges } from '../test/support/badges';
import { writeSyntheticPictures } from '../test/support/png';
import { PYTHON, REPO } from '../test/support/python';
import { startServer, type TestServer } from '../test/support/server';
import { probeInput } from '../src/detector/probe';
import type { LoadSteps } from '../src/shared/protocol';

const GFLOP_PER_IMAGE = 68.7; // ConvNeXt-Large at 224x224: 34.4 GMACs
const MODEL_ID = 'bench-convnext-large';
const CACHE = process.env.RFL_BENCH_CACHE ?? join(homedir(), '.cache/realfake-lens/bench');
const MODEL_DIR = join(CACHE, MODEL_ID);
const DIST = join(tmpdir(), 'rfl-dist-bench');
const IMAGES_PER_RUN = Number(process.env.BENCH_ENGINE_IMAGES ?? 4);
const CORES = cpus().length;
/** BENCH_ENGINE_COLD_ONLY=1: only the rows that measure the cold start (all threads, batch 1). */
const COLD_ONLY = process.env.BENCH_ENGINE_COLD_ONLY === '1';

interface Row {
  name: string;
  msPerImage: number;
  loadMs: number | null;
  steps: LoadSteps | null;
  /** From the engine becoming ready to the page's first badge, ms. */
  firstBadgeAfterReadyMs: number | null;
  peak: PeakMemory | null;
}

/** onnxruntime-node loading the same file: SHA-256 (node:crypto), session creation, the probe. */
interface NativeLoad {
  hashMs: number;
  sessionMs: number;
  probeMs: number;
  /** Session creation with each graph optimisation level, ms. */
  sessionByLevel: Record<'disabled' | 'basic' | 'extended' | 'all', number>;
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

/** The parent of each process on the machine. */
function parents(): Map<string, string> {
  const out = new Map<string, string>();
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      out.set(pid, stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1] ?? '');
    } catch {
      // the process ended
    }
  }
  return out;
}

/** Peak memory (MiB) of one process: all resident pages, and its private part. */
interface PeakMemory {
  rssMb: number;
  /**
   * Resident memory less file-backed pages (RssAnon + RssShmem): what this process costs. The
   * file-backed part is mostly the Chromium binary's code (about 110 MiB), shared by every
   * Chromium process and the same with or without a model.
   */
  privateMb: number;
}

/**
 * Peak memory of the largest of this bench's own Chromium extension processes, sampled until
 * stopped. Only descendants of this process count: other Chromiums on the machine (another test
 * run) have extension processes too.
 */
function watchExtensionMemory(): () => PeakMemory | null {
  const peak: PeakMemory = { rssMb: 0, privateMb: 0 };
  const kb = (status: string, field: string): number => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? 0);
  const sample = (): void => {
    const parent = parents();
    const ours = (pid: string): boolean => {
      for (let p: string | undefined = pid, n = 0; p && n < 32; p = parent.get(p), n++) if (p === String(process.pid)) return true;
      return false;
    };
    for (const pid of parent.keys()) {
      try {
        if (!ours(pid)) continue;
        const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
        if (!cmd.includes('--extension-process')) continue;
        const status = readFileSync(`/proc/${pid}/status`, 'utf8');
        peak.rssMb = Math.max(peak.rssMb, kb(status, 'VmRSS') / 1024);
        peak.privateMb = Math.max(peak.privateMb, (kb(status, 'RssAnon') + kb(status, 'RssShmem')) / 1024);
      } catch {
        // the process ended
      }
    }
  };
  const timer = setInterval(sample, 200);
  return () => {
    clearInterval(timer);
    sample();
    return peak.rssMb > 0 ? peak : null;
  };
}

/** The cold load of the same file by onnxruntime-node, on all cores, in this process. */
async function nativeLoad(probeBatch: number): Promise<NativeLoad> {
  const file = join(MODEL_DIR, 'model.onnx');
  let t0 = performance.now();
  const hash = createHash('sha256');
  for await (const piece of createReadStream(file, { highWaterMark: 8 << 20 })) hash.update(piece as Buffer);
  hash.digest('hex');
  const hashMs = performance.now() - t0;
  const sessionByLevel = { disabled: 0, basic: 0, extended: 0, all: 0 };
  for (const level of ['disabled', 'basic', 'extended', 'all'] as const) {
    t0 = performance.now();
    const s = await ort.InferenceSession.create(file, { executionProviders: ['cpu'], intraOpNumThreads: CORES, graphOptimizationLevel: level });
    sessionByLevel[level] = performance.now() - t0;
    await s.release();
  }
  t0 = performance.now();
  const session = await ort.InferenceSession.create(file, { executionProviders: ['cpu'], intraOpNumThreads: CORES, graphOptimizationLevel: 'all' });
  const sessionMs = performance.now() - t0;
  const input = new ort.Tensor('float32', probeInput(probeBatch, 224, 224), [probeBatch, 3, 224, 224]);
  t0 = performance.now();
  await session.run({ [session.inputNames[0]!]: input });
  const probeMs = performance.now() - t0;
  await session.release();
  return { hashMs, sessionMs, probeMs, sessionByLevel };
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
  // The first verdict's time, read every 20 ms (waitForBadges reads every 250 ms).
  let firstBadgeAt = 0;
  for (const until = Date.now() + 900_000; Date.now() < until; await page.waitForTimeout(20)) {
    if ((await readBadges(page)).some((b) => b.state !== 'checking')) {
      firstBadgeAt = Date.now();
      break;
    }
  }
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
    steps: status.loadSteps,
    firstBadgeAfterReadyMs: status.loadSteps && firstBadgeAt > 0 ? firstBadgeAt - status.loadSteps.readyAt : null,
    peak,
  };
}

const OPFS_ID = `${MODEL_ID}-opfs`;

/**
 * Installs the bench model again under another id through the options page's import (OPFS), and
 * makes it the active model: the way a real model reaches a user, read by the engine from OPFS.
 */
async function installInOpfs(ext: ExtensionSession): Promise<void> {
  const manifest = JSON.parse(readFileSync(join(MODEL_DIR, 'manifest.json'), 'utf8')) as { name: string };
  await importThroughOptions(ext, MODEL_DIR, { as: { id: OPFS_ID, name: `${manifest.name} (OPFS)` } });
}

/** Makes the OPFS install look like one made before part hashes were recorded. */
async function dropPartHashes(ext: ExtensionSession): Promise<void> {
  await (await ext.serviceWorker()).evaluate(async (id) => {
    const dir = await (await (await navigator.storage.getDirectory()).getDirectoryHandle('models')).getDirectoryHandle(id);
    await dir.removeEntry('chunks.json');
  }, OPFS_ID);
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
    const manifestJson = JSON.parse(readFileSync(join(MODEL_DIR, 'manifest.json'), 'utf8')) as { onnx: { bytes: number } };
    // The engine's WebAssembly probe at load: the first image of the manifest's probe.
    const probeBatch = 1;
    const nativeCold = await nativeLoad(probeBatch);
    // Linux Chromium keeps WebGPU behind these switches; without a GPU they give only SwiftShader, not measured.
    const ext = await launchWithExtension({ dist: DIST, extraArgs: ['--enable-unsafe-webgpu', '--enable-features=Vulkan'] });
    const rows: Row[] = [];
    const all = Math.max(1, CORES);
    let gpuLine: string;
    const cold: { packaged?: Row; opfs?: Row; opfsStream?: Row } = {};
    try {
      let run = 0;
      for (const threads of COLD_ONLY ? [all] : [1, all]) {
        for (const batch of COLD_ONLY ? [1] : [1, 4]) {
          const row = await browserRow(ext, 'wasm', threads, batch, run++);
          rows.push(row);
          if (threads === all && batch === 1) cold.packaged = row;
        }
      }
      const adapter = await adapterHere(ext);
      if (adapter && !adapter.software && !COLD_ONLY) {
        for (const batch of [1, 4]) rows.push(await browserRow(ext, 'webgpu', 0, batch, run++));
        gpuLine = `  WebGPU adapter: ${adapter.name || 'unnamed'}, shader-f16 ${adapter.shaderF16 ? 'yes' : 'no'} (the bench packages the fp32 model only)`;
      } else {
        gpuLine = `  WebGPU: not measured here (${adapter ? 'only a software adapter, a CPU emulation' : 'no adapter'}).`;
      }
      // A real model is downloaded or imported, not packaged: the engine reads it from OPFS.
      await installInOpfs(ext);
      cold.opfs = await browserRow(ext, 'wasm', all, 1, run++, ', model from OPFS');
      rows.push(cold.opfs);
      // The same install as one made before part hashes: the whole file hashed in JavaScript.
      await dropPartHashes(ext);
      cold.opfsStream = await browserRow(ext, 'wasm', all, 1, run++, ', OPFS, whole-file hash');
      rows.push(cold.opfsStream);
    } finally {
      await ext.close();
    }
    const modelMb = manifestJson.onnx.bytes / 1048576;
    const gflops = (ms: number, images = 1) => ((GFLOP_PER_IMAGE * images * 1000) / ms).toFixed(0).padStart(4);
    const fmt = (name: string, ms: number, ref: number, extra = '') =>
      `  ${name.padEnd(38)} ${ms.toFixed(0).padStart(6)} ms/image  ${(1000 / ms).toFixed(2).padStart(5)} images/s  ` +
      `${gflops(ms)} GFLOP/s  ${(ms / ref).toFixed(2).padStart(5)}x native${extra}`;
    const s1 = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
    const nativeTotal = nativeCold.hashMs + nativeCold.sessionMs + nativeCold.probeMs;
    const coldLine = (name: string, r: Row | undefined): string => {
      const st = r?.steps;
      if (!r || !st || r.loadMs === null) return `  ${name.padEnd(38)} not measured`;
      return (
        `  ${name.padEnd(38)} ready ${s1(r.loadMs).padStart(6)} (${(r.loadMs / nativeTotal).toFixed(1)}x native): runtime ${s1(st.runtimeMs)}, ` +
        `open ${s1(st.openMs)}, session ${s1(st.sessionMs)} (${(st.sessionMs / nativeCold.sessionMs).toFixed(1)}x), ` +
        `probe ${s1(st.probeMs)} (${gflops(st.probeMs, probeBatch).trim()} GFLOP/s, ${(st.probeMs / nativeCold.probeMs).toFixed(1)}x), ` +
        `${st.check === 'parts' ? 'part hashes' : 'whole-file hash'} ${s1(st.checkMs)} beside them (${(st.checkMs / nativeCold.hashMs).toFixed(1)}x) + ${s1(st.checkWaitMs)} waited; ` +
        `first badge ${r.firstBadgeAfterReadyMs === null ? '?' : s1(r.firstBadgeAfterReadyMs)} after ready (one inference ${s1(r.msPerImage)})`
      );
    };
    const goal = (what: string, ok: boolean, detail: string) => `goal: ${what} -> ${ok ? 'met' : 'NOT met'} (${detail})`;
    const within = (r: Row | undefined, limitMs: number) => r?.loadMs !== null && r?.loadMs !== undefined && r.loadMs <= limitMs;
    const firstBadgeOk = [cold.packaged, cold.opfs].every(
      (r) => r?.firstBadgeAfterReadyMs !== null && r?.firstBadgeAfterReadyMs !== undefined && r.firstBadgeAfterReadyMs <= r.msPerImage,
    );
    const levels = Object.entries(nativeCold.sessionByLevel).map(([k, v]) => `${k} ${s1(v)}`).join(', ');
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
      `cold start, first request to ready, WebAssembly ${all} threads (probe: ${probeBatch} image):`,
      `  ${'onnxruntime-node, same file'.padEnd(38)} ready ${s1(nativeTotal).padStart(6)}: SHA-256 ${s1(nativeCold.hashMs)} (node:crypto), ` +
        `session ${s1(nativeCold.sessionMs)}, probe ${s1(nativeCold.probeMs)} (${gflops(nativeCold.probeMs, probeBatch).trim()} GFLOP/s)`,
      coldLine('packaged, part hashes', cold.packaged),
      coldLine('OPFS, part hashes', cold.opfs),
      coldLine('OPFS, whole-file hash (older installs)', cold.opfsStream),
      `  onnxruntime-node session creation by graph optimisation level: ${levels}`,
      `goal: browser WASM on all threads within 2.0x of native per image -> ${
        (rows.find((r) => r.name.includes(`${all} thread`) && r.name.endsWith('batch 1'))?.msPerImage ?? Infinity) / native.b1 <= 2 ? 'met' : 'NOT met'
      } on this machine`,
      `goal: peak private memory of the offscreen document's process within 1.5x of the model -> ${
        rows.every((r) => r.peak !== null && r.peak.privateMb / modelMb <= 1.5) ? 'met' : 'NOT met'
      } (largest ${Math.max(...rows.map((r) => (r.peak?.privateMb ?? Infinity) / modelMb)).toFixed(2)}x)`,
      goal('cold start from OPFS <= 5 s', within(cold.opfs, 5000), cold.opfs?.loadMs ? s1(cold.opfs.loadMs) : 'not measured'),
      goal('cold start packaged <= 8 s', within(cold.packaged, 8000), cold.packaged?.loadMs ? s1(cold.packaged.loadMs) : 'not measured'),
      goal(
        'first badge <= ready + one inference',
        firstBadgeOk,
        [cold.packaged, cold.opfs].map((r) => `${r?.firstBadgeAfterReadyMs === null || !r ? '?' : s1(r.firstBadgeAfterReadyMs)} vs ${r ? s1(r.msPerImage) : '?'}`).join(', '),
      ),
    ];
    console.log(lines.join('\n'));
  }, 1_800_000);
});


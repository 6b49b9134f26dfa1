// Inference speed of a full-size ConvNeXt-Large (random weights, same ops and shapes as the real
// model): onnxruntime-node (native CPU, all cores) against the extension's own offscreen engine in
// headless Chromium on WebAssembly with 1 thread and with all threads, batch 1 and batch 4, in the
// same run on the same file. Prints ms/image, images/s, GFLOP/s, each browser figure as a ratio to
// native, the session load time and the extension process's peak memory (private, and RSS). Asserts
// nothing about time.
//
// The int8 variant (tools/quantize_int8.py, made once from the cached fp32 model): native and
// browser WebAssembly on all threads, chosen in the options page as a user would; its speed against
// fp32's rows of the same run, its size, and its agreement with fp32 (max |Δp|, labels at 0.5 over
// the photographs and synthetic pictures, measured when the variant was made; its manifest).
//
// The model (~800 MB) is made once by the project's tools and cached outside git in
// $RFL_BENCH_CACHE (default ~/.cache/realfake-lens/bench).

import { afterAll, beforeAll, describe, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { launchWithExtension, type ExtensionSession } from '../test/support/chrome';
import { fromExtensionPage } from '../test/support/contexts';
import { importThroughOptions } from '../test/support/model-import';
import { writeSyntheticPictures } from '../test/support/png';
import { PYTHON, REPO } from '../test/support/python';
import { parseManifest } from '../src/detector/manifest';
import { startServer, type TestServer } from '../test/support/server';
import {
  chromiumRow,
  CORES,
  ensureModel,
  MODEL_DIR,
  MODEL_ID,
  modelMb as modelFileMb,
  nativeMsPerImage,
  peakText,
  speedText,
  type Row,
} from './convnext-large';

const INT8_DIR = `${MODEL_DIR}-int8`;
const DIST = join(tmpdir(), 'rfl-dist-bench');
const IMAGES_PER_RUN = Number(process.env.BENCH_ENGINE_IMAGES ?? 4);

let server: TestServer;
let picDir: string;
let pictures: string[];

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

function browserRow(ext: ExtensionSession, backend: 'wasm' | 'webgpu', threads: number, batch: number, run: number, label = ''): Promise<Row> {
  const files = pictures.slice(run * IMAGES_PER_RUN, (run + 1) * IMAGES_PER_RUN);
  return chromiumRow(ext, { server, path: `/run${run}.html`, files }, backend, threads, batch, label);
}

/**
 * Installs the bench model again under another id through the options page's import (OPFS), and
 * makes it the active model: the way a real model reaches a user, read by the engine from OPFS.
 */
async function installInOpfs(ext: ExtensionSession): Promise<void> {
  const manifest = JSON.parse(readFileSync(join(MODEL_DIR, 'manifest.json'), 'utf8')) as { name: string };
  await importThroughOptions(ext, MODEL_DIR, { as: { id: `${MODEL_ID}-opfs`, name: `${manifest.name} (OPFS)` } });
}

/** The int8 variant of the cached model (tools/quantize_int8.py, with its agreement), once. */
function ensureInt8(): void {
  if (existsSync(join(INT8_DIR, 'manifest.json'))) return;
  console.log(`making the int8 variant in ${INT8_DIR} (once; a few minutes)`);
  const r = spawnSync(PYTHON, ['tools/quantize_int8.py', MODEL_DIR, '--out', INT8_DIR, '--force'], { cwd: REPO, stdio: 'inherit' });
  if (r.status !== 0) throw new Error(`quantize_int8.py failed (exit ${r.status})`);
}

beforeAll(async () => {
  ensureModel();
  ensureInt8();
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
    const native = { b1: await nativeMsPerImage(1), b4: await nativeMsPerImage(4), int8: await nativeMsPerImage(1, INT8_DIR) };
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
      // The int8 variant, imported and chosen in the options page (never picked automatically).
      await importThroughOptions(ext, INT8_DIR);
      rows.push(await browserRow(ext, 'wasm', all, 1, run++, ', model from OPFS'));
    } finally {
      await ext.close();
    }
    const modelMb = modelFileMb();
    const int8Manifest = parseManifest(JSON.parse(readFileSync(join(INT8_DIR, 'manifest.json'), 'utf8')));
    const int8Mb = int8Manifest.onnx.bytes / 1048576;
    const agreement = int8Manifest.agreement;
    const fp32Opfs = rows.find((r) => r.precision === 'fp32' && r.name.includes('OPFS'));
    const int8Opfs = rows.find((r) => r.precision === 'int8');
    const sizeOf = (r: Row): number => (r.precision === 'int8' ? int8Mb : modelMb);
    const fmt = (name: string, ms: number, ref: number, extra = '') => speedText(name, ms, ref, 'native', extra);
    const lines = [
      `ConvNeXt-Large (random weights, ${modelMb.toFixed(0)} MB fp32), ${CORES} cores, ${IMAGES_PER_RUN} images per browser row:`,
      fmt(`onnxruntime-node, ${CORES} threads, batch 1`, native.b1, native.b1),
      fmt(`onnxruntime-node, ${CORES} threads, batch 4`, native.b4, native.b4),
      fmt(`onnxruntime-node, ${CORES} threads, batch 1, int8`, native.int8, native.int8),
      ...rows.map((r) => {
        const ref = r.precision === 'int8' ? native.int8 : r.name.includes('batch 1') ? native.b1 : native.b4;
        const load = r.loadMs === null ? '' : `  load ${(r.loadMs / 1000).toFixed(1)} s`;
        const mem = r.peak === null ? '' : `  ${peakText(r.peak, sizeOf(r))}`;
        return fmt(r.name, r.msPerImage, ref, load + mem);
      }),
      gpuLine,
      `int8 variant: ${int8Mb.toFixed(0)} MB (${(int8Mb / modelMb).toFixed(2)}x fp32); native ${(native.b1 / native.int8).toFixed(2)}x fp32's speed, ` +
        `browser WASM ${fp32Opfs && int8Opfs ? (fp32Opfs.msPerImage / int8Opfs.msPerImage).toFixed(2) : '?'}x fp32's (both from OPFS, all threads, batch 1)`,
      agreement
        ? `int8 agreement with fp32 (its manifest, measured when made, onnxruntime-node): max |Δp| ${agreement.maxAbsP.toExponential(2)}, ` +
          `mean ${agreement.meanAbsP.toExponential(2)}, labels at ${agreement.threshold} agree on ${Math.round(agreement.labelAgreement * agreement.images)}/${agreement.images} ` +
          `(${agreement.photos} photographs, ${agreement.synthetic} synthetic)`
        : 'int8 agreement: none in its manifest',
      `goal: int8 variant ~200 MB instead of ~785 -> ${int8Mb <= 0.3 * modelMb ? 'met' : 'NOT met'} (${int8Mb.toFixed(0)} MB)`,
      `goal: browser WASM on all threads within 2.0x of native per image -> ${
        (rows.find((r) => r.name.includes(`${Math.max(1, CORES)} thread`) && r.name.endsWith('batch 1'))?.msPerImage ?? Infinity) /
          native.b1 <=
        2
          ? 'met'
          : 'NOT met'
      } on this machine`,
      `goal: peak private memory of the offscreen document's process within 1.5x of the model -> ${
        rows.every((r) => r.peak !== null && r.peak.privateMb / sizeOf(r) <= 1.5) ? 'met' : 'NOT met'
      } (largest ${Math.max(...rows.map((r) => (r.peak?.privateMb ?? Infinity) / sizeOf(r))).toFixed(2)}x)`,
    ];
    console.log(lines.join('\n'));
  }, 1_800_000);
});


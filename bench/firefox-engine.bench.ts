// Inference speed and memory of a full-size ConvNeXt-Large (random weights, same ops and shapes as
// the real model) in Firefox ESR's extension context — the engine in a frame of the event page —
// beside Chromium's offscreen document on the same model, the same pictures, in the same run, and
// onnxruntime-node (native CPU, all cores) as the reference. Firefox's extension pages are not
// cross-origin isolated, so WebAssembly runs on 1 thread there: Chromium's rows here are 1 thread
// too. Firefox's rows: with JavaScript Promise Integration (ORT's JSPI build, which reads each weight
// from the model file into the heap), and with JSPI switched off by its preference (ORT's plain
// build, which reads the whole file into memory first), and with the model downloaded into OPFS
// (ui/install-model from the bench's server, as a user's model is) instead of packaged. Each
// Firefox row in a fresh browser.
// Prints ms/image, ratios to native and to Chromium, load time and peak memory (the extension
// process, and all of the browser's processes together); asserts nothing about time or memory.

import { afterAll, beforeAll, describe, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { createReadStream, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { launchWithExtension } from '../test/support/chrome';
import { launchFirefoxWithExtension, type ExtensionTab } from '../test/support/firefox';
import { writeSyntheticPictures } from '../test/support/png';
import { REPO } from '../test/support/python';
import { startServer, type TestServer } from '../test/support/server';
import type { ModelsReply } from '../src/shared/protocol/ui';
import { chromiumRow, CORES, ensureModel, firefoxRow, MODEL_DIR, modelMb, nativeMsPerImage, OPFS_MODEL_ID, peakText, speedText, type Row, type RowPage } from './convnext-large';

const DIST = join(tmpdir(), 'rfl-dist-bench-ff-chromium');
const DIST_FIREFOX = join(tmpdir(), 'rfl-dist-bench-ff');
const IMAGES_PER_RUN = Number(process.env.BENCH_ENGINE_IMAGES ?? 4);
const NO_JSPI = { 'javascript.options.wasm_js_promise_integration': false };

let server: TestServer;
let picDir: string;
let pictures: string[];
let run = 0;

/**
 * Serves the bench model under another id for ui/install-model: the extension downloads it into
 * OPFS, as a user's model is (a packaged model exists only in builds made with one).
 */
function serveModelForInstall(): string {
  const manifest = JSON.parse(readFileSync(join(MODEL_DIR, 'manifest.json'), 'utf8')) as Record<string, unknown> & { onnx: { file: string } };
  const onnx = join(MODEL_DIR, manifest.onnx.file);
  server.route('/install/manifest.json', (_q, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ ...manifest, id: OPFS_MODEL_ID, name: 'bench ConvNeXt-Large (downloaded)' }));
  });
  server.route(`/install/${manifest.onnx.file}`, (_q, res) => {
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': statSync(onnx).size });
    createReadStream(onnx).pipe(res);
  });
  return `${server.origin}/install/manifest.json`;
}

/** Installs the model at `url` through the options page's messages and makes it the active one. */
async function installFromUrl(ui: ExtensionTab, url: string): Promise<void> {
  const ask = <T>(m: object): Promise<T> => ui.evaluate<T>(`chrome.runtime.sendMessage(${JSON.stringify(m)})`);
  const started = await ask<{ ok: boolean; error?: string }>({ kind: 'ui/install-model', url });
  if (!started.ok) throw new Error(`install-model: ${started.error}`);
  for (const until = Date.now() + 900_000; ; await new Promise((r) => setTimeout(r, 1000))) {
    const m = await ask<ModelsReply>({ kind: 'ui/list-models' });
    if (m.models.some((x) => x.id === OPFS_MODEL_ID)) break;
    if (m.download?.error) throw new Error(`the model download failed: ${m.download.error}`);
    if (Date.now() > until) throw new Error(`the model download did not end: ${JSON.stringify(m.download)}`);
  }
  const used = await ask<{ ok: boolean; error?: string }>({ kind: 'ui/set-active-model', id: OPFS_MODEL_ID });
  if (!used.ok) throw new Error(`set-active-model: ${used.error}`);
}

/** A page of pictures no earlier row has seen (so nothing is answered from the cache). */
function nextPage(): RowPage {
  const files = pictures.slice(run * IMAGES_PER_RUN, (run + 1) * IMAGES_PER_RUN);
  return { server, path: `/ff-run${run++}.html`, files };
}

beforeAll(async () => {
  ensureModel();
  const build = (args: string[], env: Record<string, string>): void => {
    execFileSync('npx', ['vite', 'build', '--logLevel', 'warn', ...args], { cwd: REPO, stdio: 'inherit', env: { ...process.env, REALFAKE_MODEL_DIR: MODEL_DIR, ...env } });
  };
  build([], { RFL_DIST: DIST });
  build(['--mode', 'firefox'], { RFL_DIST_FIREFOX: DIST_FIREFOX });
  picDir = join(tmpdir(), 'rfl-bench-ff-pics');
  pictures = writeSyntheticPictures(picDir, IMAGES_PER_RUN * 6, 160, 12);
  server = await startServer(picDir);
}, 900_000);

afterAll(async () => {
  await server?.close();
  rmSync(DIST, { recursive: true, force: true });
  rmSync(DIST_FIREFOX, { recursive: true, force: true });
  rmSync(picDir, { recursive: true, force: true });
});

describe('bench: inference engine in Firefox', () => {
  it('ConvNeXt-Large: Firefox against Chromium (1 thread each) and native onnxruntime', async () => {
    const native = { b1: await nativeMsPerImage(1), b4: await nativeMsPerImage(4) };
    const chromium: Row[] = [];
    const ext = await launchWithExtension({ dist: DIST });
    try {
      for (const batch of [1, 4]) chromium.push(await chromiumRow(ext, nextPage(), 'wasm', 1, batch));
    } finally {
      await ext.close();
    }
    const launch = (prefs: Record<string, unknown> = {}) => () => launchFirefoxWithExtension({ dist: DIST_FIREFOX, prefs });
    const firefox = [
      await firefoxRow(launch(), nextPage(), 1, ''),
      await firefoxRow(launch(), nextPage(), 4, ''),
      await firefoxRow(launch(NO_JSPI), nextPage(), 1, ', no JSPI'),
      await firefoxRow(launch(), nextPage(), 1, ', from OPFS', (ui) => installFromUrl(ui, serveModelForInstall())),
    ];
    const model = modelMb();
    const extra = (r: Row): string =>
      (r.loadMs === null ? '' : `  load ${(r.loadMs / 1000).toFixed(1)} s`) +
      (r.peak ? `\n      extension process ${peakText(r.peak, model)}` : '') +
      (r.peak && r.before ? `; before the page ${(r.before.privateMb / 1024).toFixed(2)} GiB private` : '') +
      (r.peakAll ? `\n      all of Firefox's processes together ${peakText(r.peakAll, model)}` : '');
    const lines = [
      `${basename(MODEL_DIR)} (random weights, ${model.toFixed(0)} MiB fp32), ${CORES} cores, ${IMAGES_PER_RUN} images per browser row:`,
      speedText(`onnxruntime-node, ${CORES} threads, batch 1`, native.b1, native.b1),
      speedText(`onnxruntime-node, ${CORES} threads, batch 4`, native.b4, native.b4),
      ...chromium.map((r) => speedText(`Chromium ${r.name.replace(/^browser /, '')}`, r.msPerImage, r.name.endsWith('batch 1') ? native.b1 : native.b4, 'native', extra(r))),
      ...firefox.map((r) => {
        const batch1 = r.name.includes('batch 1');
        const ref = chromium[batch1 ? 0 : 1] as Row;
        const vsChromium = `  ${(r.msPerImage / ref.msPerImage).toFixed(2)}x Chromium`;
        return speedText(r.name, r.msPerImage, batch1 ? native.b1 : native.b4, 'native', vsChromium + extra(r)) + (r.note ? `\n      engine note: ${r.note}` : '');
      }),
    ];
    const [jspi, , plain, opfs] = firefox;
    const cost = (r: Row | undefined): number | null => (r?.peak && r.before ? r.peak.privateMb - r.before.privateMb : null);
    const [withJspi, without] = [cost(jspi), cost(plain)];
    if (withJspi !== null && without !== null) {
      lines.push(
        `Firefox, batch 1, the extension process's private memory from before the page to its peak: ` +
          `${withJspi.toFixed(0)} MiB with JSPI (${(withJspi / model).toFixed(2)}x the model file), ` +
          `${without.toFixed(0)} MiB without (${(without / model).toFixed(2)}x): ${(without - withJspi).toFixed(0)} MiB more without JSPI`,
      );
    }
    const fromOpfs = cost(opfs);
    if (withJspi !== null && fromOpfs !== null) {
      lines.push(
        `Firefox, batch 1, with JSPI, the same from before the page to its peak: the model read from OPFS ${fromOpfs.toFixed(0)} MiB ` +
          `(${(fromOpfs / model).toFixed(2)}x the model file), packaged ${withJspi.toFixed(0)} MiB: ${(withJspi - fromOpfs).toFixed(0)} MiB more packaged`,
      );
    }
    console.log(lines.join('\n'));
  }, 3_600_000);
});

// The int8 variant in real Chromium: made from the fixture by tools/quantize_int8.py, imported
// through the options page as a user would, offered beside the fp32 model with its measured
// agreement, never used until chosen (the fp32 model keeps judging, here on a usable WebGPU
// adapter), and once chosen run by the engine on WebAssembly with the int8 file's own scores
// (those of `npm run eval` on the same file: sharp + onnxruntime-node, nothing of the browser's; on
// a CPU where onnxruntime-node's int8 kernel does not sum exactly, eval runs the int8 file on
// onnxruntime-web's WebAssembly in Node instead: tools/exact-int8.ts).

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ModelManifest } from '../../src/detector/manifest';
import { waitForBadges } from '../support/badges';
import { launchWithExtension, type ExtensionSession } from '../support/chrome';
import { configureEngine, offscreenStatus } from '../support/engine';
import { evalScores } from '../support/eval-scores';
import { PHOTOS_DIR, photoIndex } from '../support/photos';
import { FIXTURE_MODEL_DIR, referenceScores, runPython } from '../support/python';
import { startServer, type TestServer } from '../support/server';

const ARTIFACTS = join(import.meta.dirname, '../../artifacts/e2e');
const INT8_ID = 'realfake-fixture-int8';
// fp32 in the browser against PyTorch: the e2e tests' bound (engine-backend.test.ts).
const P_TOLERANCE = 1e-3;
// int8 in the browser against the int8 file run by eval. Two int8 runs differ more than two fp32 runs:
// a float difference that moves an activation across a rounding boundary moves it by a whole int8 step.
// Measured with the same input tensors (Python reference pipeline, 21 pictures): onnxruntime-web's
// WebAssembly kernels against onnxruntime-node's, max |Δp| 3.2e-3 (fp32: 7.7e-7). PNG decoding is
// exact in both paths; JPEG decoders may differ by a level in a pixel (more boundaries crossed).
// Browser vs eval here: max 1.7e-3 (coins.png), JPEG 1.0e-3 (both one image per run: batchLimit).
// On an AVX2 CPU without AVX-512 VNNI (2026-12-04), eval on onnxruntime-node gave 1.0e-2 on a PNG:
// its int8 MatMul adds u8 x s8 pairs in 16 bits with saturation, hence the exact runtime there.
const P_TOLERANCE_INT8 = { png: 5e-3, jpeg: 1e-2 };

let server: TestServer;
let ext: ExtensionSession;
let work: string;
let int8Dir: string;
let manifest: ModelManifest;
let photos: string[];
let fp32: Map<string, number>;
let int8: Map<string, number>;

/** Scores every photo on one page (fresh URLs tagged `tag`), by file. */
async function scorePage(tag: string): Promise<Map<string, number>> {
  const page = await ext.context.newPage();
  server.page(`/${tag}.html`, `<!doctype html>${photos.map((f) => `<img src="/static/${f}?${tag}" width="200">`).join('')}`);
  await page.goto(`${server.origin}/${tag}.html`);
  const badges = await waitForBadges(page, (b) => b.length === photos.length && b.every((x) => x.state !== 'checking'), 120_000);
  await page.close();
  return new Map(badges.map((b) => [new URL(b.src).pathname.split('/').pop() ?? '', b.p ?? NaN]));
}

async function optionsPage() {
  const options = await ext.context.newPage();
  await options.goto(`chrome-extension://${ext.extensionId}/src/options/index.html`);
  return options;
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'rfl-int8-e2e-'));
  int8Dir = join(work, INT8_ID);
  const made = await runPython(['tools/quantize_int8.py', FIXTURE_MODEL_DIR, '--out', int8Dir]);
  if (made.code !== 0) throw new Error(`quantize_int8.py failed:\n${made.stderr}`);
  manifest = JSON.parse(readFileSync(join(int8Dir, 'manifest.json'), 'utf8')) as ModelManifest;
  photos = photoIndex()
    .filter((p) => !p.small)
    .map((p) => p.file);
  const byPath = await referenceScores(photos.map((f) => join(PHOTOS_DIR, f)));
  fp32 = new Map(photos.map((f) => [f, byPath.get(join(PHOTOS_DIR, f)) ?? NaN]));
  int8 = await evalScores(int8Dir, PHOTOS_DIR);
  server = await startServer(PHOTOS_DIR);
  ext = await launchWithExtension({ extraArgs: ['--enable-unsafe-webgpu'] });
  // A usable WebGPU adapter (SwiftShader, allowed): the fp32 model runs there, the int8 one must not.
  await configureEngine(ext, { 'engine.allowSoftwareWebGpu': true });
  mkdirSync(ARTIFACTS, { recursive: true });
}, 300_000);

afterAll(async () => {
  await ext?.close();
  await server?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('int8 variant', () => {
  it('is offered beside the fp32 model with its measured agreement, and not used until chosen', async () => {
    const a = manifest.agreement!;
    expect(a.with).toBe('realfake-fixture');
    const options = await optionsPage();
    await options.locator('#model-files').setInputFiles([join(int8Dir, 'manifest.json'), join(int8Dir, 'model.onnx')]);
    await options.getByRole('button', { name: 'Import model files' }).click();
    const item = options.locator(`li[data-model-id="${INT8_ID}"]`);
    await item.waitFor({ timeout: 30_000 });
    const text = (await item.textContent()) ?? '';
    expect(text).toContain('int8 variant of realfake-fixture');
    expect(text).toContain('used only if you choose it');
    // The manifest's figures, in the words of the page.
    expect(text).toContain(`the same verdict on ${Math.round(a.labelAgreement * a.images)} of ${a.images} test pictures`);
    expect(text).toContain(`(${a.photos} photographs, ${a.synthetic} synthetic`);
    expect(text).toContain(`at most ${(a.maxAbsP * 100).toFixed(1)} points`);
    expect(await item.getByRole('button', { name: 'Use this model' }).count()).toBe(1);
    expect(await options.locator('li[data-model-id="realfake-fixture"]').getByText('In use').count()).toBe(1);
    await options.locator('section.models').screenshot({ path: join(ARTIFACTS, 'options-int8-offered.png') });
    await options.close();

    // Installed but not chosen: the fp32 model judges (on WebGPU here), with PyTorch's scores.
    const scores = await scorePage('fp32');
    const status = await offscreenStatus(ext);
    expect(status).toMatchObject({ state: 'ready', backend: 'webgpu', precision: 'fp32' });
    for (const f of photos) expect(Math.abs((scores.get(f) ?? NaN) - (fp32.get(f) ?? NaN)), f).toBeLessThanOrEqual(P_TOLERANCE);
  });

  it('once chosen, runs on WebAssembly with the int8 file\'s scores', async () => {
    const options = await optionsPage();
    await options.locator(`li[data-model-id="${INT8_ID}"]`).getByRole('button', { name: 'Use this model' }).click();
    await options.getByText('Now using').waitFor();
    await options.getByText(/^Agreement$/).waitFor(); // the details of the model in use say it too
    await options.close();

    const scores = await scorePage('int8');
    const status = await offscreenStatus(ext);
    expect(status).toMatchObject({ state: 'ready', backend: 'wasm', precision: 'int8' });
    const seen: string[] = [];
    for (const f of photos) {
      const p = scores.get(f) ?? NaN;
      const d = Math.abs(p - (int8.get(f) ?? NaN));
      seen.push(`${f} ${d.toExponential(1)}`);
      expect(d, f).toBeLessThanOrEqual(f.endsWith('.png') ? P_TOLERANCE_INT8.png : P_TOLERANCE_INT8.jpeg);
    }
    // Really the int8 file: on the PNG photo where the int8 and fp32 references are furthest apart,
    // the browser's score is the int8 one's, not fp32's.
    const png = photos.filter((f) => f.endsWith('.png'));
    const gap = (f: string): number => Math.abs((int8.get(f) ?? NaN) - (fp32.get(f) ?? NaN));
    const widest = png.reduce((a, b) => (gap(b) > gap(a) ? b : a));
    expect(gap(widest)).toBeGreaterThan(P_TOLERANCE_INT8.png);
    const p = scores.get(widest) ?? NaN;
    expect(Math.abs(p - (int8.get(widest) ?? NaN))).toBeLessThan(Math.abs(p - (fp32.get(widest) ?? NaN)));
    console.log(`int8 in Chromium (WebAssembly) vs eval's int8: ${seen.join(', ')}; ${widest}: int8 ${int8.get(widest)?.toFixed(4)}, ` +
      `fp32 ${fp32.get(widest)?.toFixed(4)}, browser ${p.toFixed(4)}`);
  });
});

// The in-browser import's int8 variant, in real Chromium: a test checkpoint written by PyTorch at
// test time (tools/make_test_checkpoint.py) is imported by address with "also make the int8
// variant" ticked. The variant is judged against the converter's int8 variant of the same checkpoint
// (tools/convert.py --int8), run by onnxruntime-node (the int8 file by onnxruntime-web's
// WebAssembly in Node where the native int8 kernel does not sum exactly on this CPU:
// tools/exact-int8.ts): its probe logits, its measured agreement (recomputed here on the
// converter's fp32 and int8 files over the same inputs), and, once chosen, its badges on the
// photographs (`npm run eval` on the converter's int8: sharp + the same runtime choice). The
// options page shows its agreement beside it.

import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runtimeFor } from '../../tools/exact-int8';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ModelManifest } from '../../src/detector/manifest';
import { probeInput } from '../../src/detector/probe';
import { withTimeout } from '../../src/detector/timeout';
import { softmax } from '../../src/detector/scores';
import { agreementInputs } from '../../src/detector/synthetic-pictures';
import { waitForBadges } from '../support/badges';
import { sendRange } from '../support/byte-range';
import { launchWithExtension, type ExtensionSession } from '../support/chrome';
import { offscreenStatus } from '../support/engine';
import { expectedRecordOfParts, opfsModels, storedChunkRecord, storedParts } from '../support/opfs';
import { evalScores } from '../support/eval-scores';
import { PHOTOS_DIR, photoIndex } from '../support/photos';
import { requireReferencePython, runPython } from '../support/python';
import { startServer, type TestServer } from '../support/server';

const SHOTS = process.env.RFL_SHOTS ?? join(import.meta.dirname, '../../artifacts/e2e');
const ID = 'ckpt-lightning-timm';
const INT8_ID = `${ID}-int8`;
// int8 in the browser (onnxruntime-web, WebAssembly) against the same int8 weights run by
// onnxruntime-node: test/e2e/model-int8.test.ts's bounds and reasons (a float difference that moves
// an activation across a rounding boundary moves it by a whole int8 step; JPEG decoders may differ).
const P_TOLERANCE_INT8 = { png: 5e-3, jpeg: 1e-2 };
// The same on logits (the probe): a whole int8 step of one activation, through the head.
const LOGIT_TOLERANCE_INT8 = 5e-2;

let server: TestServer;
let ext: ExtensionSession;
let options: Page;
let work: string;
let photos: string[];
let converterInt8: Map<string, number>;
let converterFp32: Map<string, number>;

/** The logits of `n` inputs one at a time, by the runtime that computes a model of `precision` exactly here (tools/exact-int8.ts). */
async function logitsEach(path: string, input: Float32Array, n: number, precision: 'fp32' | 'int8'): Promise<number[]> {
  const { ort, provider } = await runtimeFor(precision);
  const session = await ort.InferenceSession.create(path, { executionProviders: [provider] });
  const rows: number[] = [];
  try {
    const plane = input.length / n;
    for (let i = 0; i < n; i++) {
      const out = await session.run({ input: new ort.Tensor('float32', input.slice(i * plane, (i + 1) * plane), [1, 3, 224, 224]) });
      rows.push(...(out.logits?.data as Float32Array));
    }
  } finally {
    await session.release();
  }
  return rows;
}

const pOf = (logits: number[], classes: number, generated: number): number[] =>
  Array.from({ length: logits.length / classes }, (_, i) => softmax(logits.slice(i * classes, (i + 1) * classes))[generated] ?? NaN);

function serve(res: ServerResponse, range: string | undefined): void {
  sendRange(res, readFileSync(join(work, 'lightning-timm.ckpt')), range);
}

/** For an import from a file that never ends: the page's phase and state, and what it stored so far. */
async function whereTheFileImportStands(): Promise<string> {
  const within = <T,>(p: Promise<T>): Promise<T | string> => withTimeout<T | string>(p, 10_000, () => '(no answer within 10 s)');
  const page = await within(
    options.evaluate(() => ({
      phase: document.querySelector('label[for="checkpoint-file-progress"]')?.textContent ?? '(no import under way)',
      said: [...document.querySelectorAll('p.message, p.error')].map((p) => p.textContent).join(' | '),
      files: (document.querySelector('#checkpoint-file') as HTMLInputElement | null)?.files?.length ?? null,
      visibility: document.visibilityState,
    })),
  );
  const stored = await within(opfsModels(ext));
  const mine = typeof stored === 'string' ? stored : Object.entries(stored).filter(([path]) => path.startsWith('ckpt-local-model'));
  // The engine's document lives in the same renderer process as the options page, with its own ORT.
  const engine = await within(offscreenStatus(ext).then((st) => ({ state: st?.state, model: st?.model?.id, note: st?.note })));
  return `options page: ${JSON.stringify(page)}\nstored: ${JSON.stringify(mine)}\nengine: ${JSON.stringify(engine)}`;
}

async function storedManifest(id: string): Promise<ModelManifest> {
  return options.evaluate(async (model) => {
    const root = await navigator.storage.getDirectory();
    const dir = await (await root.getDirectoryHandle('models')).getDirectoryHandle(model);
    return JSON.parse(await (await (await dir.getFileHandle('manifest.json')).getFile()).text());
  }, id) as Promise<ModelManifest>;
}

beforeAll(async () => {
  await requireReferencePython();
  work = mkdtempSync(join(tmpdir(), 'rfl-ckpt-int8-e2e-'));
  const made = await runPython(['tools/make_test_checkpoint.py', work, 'lightning-timm']);
  expect(made.code, made.stderr).toBe(0);
  const conv = await runPython(['tools/convert.py', join(work, 'lightning-timm.ckpt'), '--id', 'conv', '--out', join(work, 'conv'), '--int8']);
  expect(conv.code, conv.stderr).toBe(0);
  photos = photoIndex()
    .filter((p) => !p.small)
    .map((p) => p.file);
  converterInt8 = await evalScores(join(work, 'conv-int8'), PHOTOS_DIR);
  converterFp32 = await evalScores(join(work, 'conv'), PHOTOS_DIR);

  server = await startServer(PHOTOS_DIR);
  server.route('/ck/lightning-timm.ckpt', (req, res) => serve(res, req.headers.range));
  server.page('/photos.html', `<!doctype html><meta charset="utf-8"><title>photos</title>${photos.map((f) => `<img src="/static/${f}" width="200" alt="">`).join('')}`);
  ext = await launchWithExtension();
  options = await ext.context.newPage();
  await options.goto(`chrome-extension://${ext.extensionId}/src/options/index.html`);
  await options.locator('#get-laion').waitFor();
  mkdirSync(SHOTS, { recursive: true });
}, 300_000);

afterAll(async () => {
  await ext?.close();
  await server?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('checkpoint import with the int8 variant', () => {
  it('installs <id>-int8 beside the model, its probe and measured agreement those of the converter\'s int8 file', async () => {
    await options.locator('#checkpoint-int8').check();
    await options.locator('#checkpoint-url').fill(`${server.origin}/ck/lightning-timm.ckpt`);
    await options.getByRole('button', { name: 'Import from this address' }).click();
    await options.locator('#checkpoint-progress').waitFor({ timeout: 30_000 });
    await options.waitForFunction(
      () => [...document.querySelectorAll('p.message, p.error')].some((p) => /Installed|Not installed/.test(p.textContent ?? '')),
      undefined,
      { timeout: 170_000 },
    );
    const said = (await options.locator('p.message, p.error').allTextContents()).join('|');
    expect(said).toContain(`Installed ${ID}.`);
    expect(said).not.toContain('int8 variant was not made');

    const m8 = await storedManifest(INT8_ID);
    const m32 = await storedManifest(ID);
    expect(m8).toMatchObject({ id: INT8_ID, precision: 'int8', variantOf: ID, labels: m32.labels, preprocessing: m32.preprocessing, input: m32.input });
    expect(m8.weights!.bytes).toBeLessThan(0.6 * m32.weights!.bytes);
    // Its weights file's record of part hashes, which every load checks, hashed here by node:crypto.
    const parts = await storedParts(ext, INT8_ID, 'weights-');
    expect(await storedChunkRecord(ext, INT8_ID, 'weights-chunks.json')).toEqual(expectedRecordOfParts(parts));
    expect(createHash('sha256').update(Buffer.concat(parts)).digest('hex')).toBe(m8.weights!.sha256);
    const a = m8.agreement!;
    expect(a).toMatchObject({ with: ID, images: 14, photos: 0, synthetic: 12, probes: 2, threshold: 0.5, measuredBy: 'browser' });
    expect(a.measuredOn).toContain('WebAssembly');

    // The probe: the converter's int8 file by onnxruntime-node, one image per run.
    const conv8 = join(work, 'conv-int8', 'model.onnx');
    const probeNode = await logitsEach(conv8, probeInput(2, 224, 224), 2, 'int8');
    const dProbe = Math.max(...m8.probe.logits.map((v, i) => Math.abs(v - (probeNode[i] ?? NaN))));
    expect(dProbe).toBeLessThanOrEqual(LOGIT_TOLERANCE_INT8);
    // Really the int8 model's logits: the fp32 model's (its manifest) are further from them.
    expect(Math.max(...m32.probe.logits.map((v, i) => Math.abs(v - (probeNode[i] ?? NaN))))).toBeGreaterThan(dProbe);
    expect(m8.probe.tolerance).toBe(0.25);

    // The agreement, recomputed by onnxruntime-node on the converter's two files over the same inputs.
    const inputs = agreementInputs(2, m32.preprocessing);
    const classes = m32.labels.length;
    const p32 = pOf(await logitsEach(join(work, 'conv', 'model.onnx'), inputs, 14, 'fp32'), classes, m32.generatedIndex);
    const p8 = pOf(await logitsEach(conv8, inputs, 14, 'int8'), classes, m32.generatedIndex);
    const d = p32.map((p, i) => Math.abs(p - (p8[i] ?? NaN)));
    const nodeMax = Math.max(...d);
    const nodeMean = d.reduce((x, y) => x + y, 0) / d.length;
    const nodeSame = p32.filter((p, i) => p >= 0.5 === (p8[i] ?? NaN) >= 0.5).length / d.length;
    expect(nodeMax).toBeGreaterThan(0); // really two computations
    expect(Math.abs(a.maxAbsP - nodeMax)).toBeLessThanOrEqual(2 * P_TOLERANCE_INT8.png);
    expect(Math.abs(a.meanAbsP - nodeMean)).toBeLessThanOrEqual(2 * P_TOLERANCE_INT8.png);
    // A label can flip only for a picture within the tolerance of the threshold.
    const near = p32.filter((p, i) => Math.min(Math.abs(p - 0.5), Math.abs((p8[i] ?? NaN) - 0.5)) <= P_TOLERANCE_INT8.png).length;
    expect(Math.abs(a.labelAgreement - nodeSame) * 14).toBeLessThanOrEqual(near + 1e-9);
    console.log(`import's int8: probe |Δlogit| vs converter's int8 ${dProbe.toExponential(2)}; agreement in the browser max |Δp| ` +
      `${a.maxAbsP.toExponential(2)}, mean ${a.meanAbsP.toExponential(2)}, labels ${a.labelAgreement}; by onnxruntime-node ` +
      `${nodeMax.toExponential(2)}, ${nodeMean.toExponential(2)}, ${nodeSame}; weights ${m32.weights!.bytes} -> ${m8.weights!.bytes} bytes`);

    // Shown beside it in the list, in the page's words, with its figures.
    const item = options.locator(`li[data-model-id="${INT8_ID}"]`);
    await item.waitFor();
    const text = (await item.textContent()) ?? '';
    expect(text).toContain(`int8 variant of ${ID}`);
    expect(text).toContain(`Compared with ${ID} when imported, in this browser: the same verdict on ${Math.round(a.labelAgreement * 14)} of 14 test pictures`);
    expect(text).toContain('(2 test inputs, 12 synthetic');
    await options.locator('section.models').screenshot({ path: join(SHOTS, 'checkpoint-int8-offered.png') });
  });

  it('once chosen, gives the converter\'s int8 scores on the photographs, on WebAssembly', async () => {
    await options.locator(`li[data-model-id="${INT8_ID}"]`).getByRole('button', { name: 'Use this model' }).click();
    await options.getByText('Now using').waitFor();
    const page = await ext.context.newPage();
    await page.goto(`${server.origin}/photos.html`);
    const badges = await waitForBadges(page, (b) => b.length === photos.length && b.every((x) => x.state !== 'checking'), 120_000);
    await page.screenshot({ path: join(SHOTS, 'checkpoint-int8-badges.png') });
    await page.close();
    expect(await offscreenStatus(ext)).toMatchObject({ state: 'ready', backend: 'wasm', precision: 'int8' });
    const seen: string[] = [];
    for (const f of photos) {
      const b = badges.find((x) => x.src.endsWith(`/static/${f}`));
      expect(b?.state, f).not.toBe('failed');
      const dp = Math.abs((b?.p ?? NaN) - (converterInt8.get(f) ?? NaN));
      seen.push(`${f} ${dp.toExponential(1)}`);
      expect(dp, f).toBeLessThanOrEqual(f.endsWith('.png') ? P_TOLERANCE_INT8.png : P_TOLERANCE_INT8.jpeg);
    }
    // Really the int8 model: on the photograph where the converter's int8 and fp32 differ most, the
    // badge is the int8 one's.
    const gap = (f: string): number => Math.abs((converterInt8.get(f) ?? NaN) - (converterFp32.get(f) ?? NaN));
    const widest = photos.reduce((x, y) => (gap(y) > gap(x) ? y : x));
    const p = badges.find((x) => x.src.endsWith(`/static/${widest}`))?.p ?? NaN;
    expect(gap(widest)).toBeGreaterThan(1e-4);
    expect(Math.abs(p - (converterInt8.get(widest) ?? NaN))).toBeLessThan(Math.abs(p - (converterFp32.get(widest) ?? NaN)));
    console.log(`import's int8 in Chromium vs eval on the converter's int8: ${seen.join(', ')}; ${widest}: int8 ` +
      `${converterInt8.get(widest)?.toFixed(5)}, fp32 ${converterFp32.get(widest)?.toFixed(5)}, browser ${p.toFixed(5)}`);
  });

  it('makes the variant from a checkpoint file on disk too (the options page imports it itself)', async () => {
    const local = join(work, 'local-model.ckpt');
    copyFileSync(join(work, 'lightning-timm.ckpt'), local);
    // What the options page logs meanwhile: an import that never ends (seen once in CI) says where it stood.
    const logged: string[] = [];
    const log = (line: string): void => void logged.push(line);
    options.on('console', (m) => log(`${m.type()}: ${m.text()}`));
    options.on('pageerror', (e) => log(`pageerror: ${e.message}`));
    await options.locator('#checkpoint-file').setInputFiles(local);
    await options.getByRole('button', { name: 'Import checkpoint file' }).click();
    // Waits for the import's last word, whichever it is, so a failure says what the page said.
    await options
      .waitForFunction(
        () => [...document.querySelectorAll('p.message, p.error')].some((p) => /Installed .*local-model|Not installed/.test(p.textContent ?? '')),
        undefined,
        { timeout: 170_000 },
      )
      .catch(async (e: unknown) => {
        throw new Error(`${String(e)}\n${await whereTheFileImportStands()}\npage log:\n${logged.slice(-30).join('\n')}`);
      });
    const said = (await options.locator('p.message, p.error').allTextContents()).join('|');
    expect(said).toContain('Its int8 variant ckpt-local-model-int8 is installed too');
    const m8 = await storedManifest('ckpt-local-model-int8');
    const first = await storedManifest(INT8_ID);
    expect(m8).toMatchObject({ variantOf: 'ckpt-local-model', precision: 'int8' });
    // The same checkpoint: the same weights file, byte for byte, and the same agreement (measured in
    // another page here, where WebAssembly may run with other threads: equal within float noise).
    expect(m8.weights!.sha256).toBe(first.weights!.sha256);
    expect(Math.abs(m8.agreement!.maxAbsP - first.agreement!.maxAbsP)).toBeLessThanOrEqual(1e-4);
  });
});

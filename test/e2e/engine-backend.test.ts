// The engine in real Chromium with WebGPU enabled. Here WebGPU has only SwiftShader, a software
// adapter: by default the engine must use WebAssembly and say why; with the advanced option it
// must run ORT's WebGPU provider with the same scores; injected WebGPU faults land on WebAssembly
// with the reason shown; threads, batching and the idle release keep the scores PyTorch's.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { launchWithExtension, type ExtensionSession } from '../support/chrome';
import { startServer, type TestServer } from '../support/server';
import { waitForBadges } from '../support/badges';
import { PHOTOS_DIR, photoIndex } from '../support/photos';
import { referenceScores } from '../support/python';

const ARTIFACTS = join(import.meta.dirname, '../../artifacts/e2e');
let server: TestServer;
let ext: ExtensionSession;
let files: string[];
let reference: Map<string, number>;

async function popupText(): Promise<string> {
  const popup = await ext.context.newPage();
  await popup.goto(`chrome-extension://${ext.extensionId}/src/popup/index.html`);
  await popup.getByText(/^Engine$/).waitFor();
  await popup.getByText(/ready on|failed/).waitFor({ timeout: 60_000 });
  const text = await popup.locator('body').innerText();
  await popup.setViewportSize({ width: 340, height: 460 });
  await popup.screenshot({ path: join(ARTIFACTS, `popup-${Date.now()}.png`) });
  await popup.close();
  return text;
}

/** Loads a page showing `file` under a fresh URL (so the cache cannot answer) and returns its score. */
async function scoreThroughExtension(file: string, tag: string): Promise<number> {
  const page = await ext.context.newPage();
  server.page(`/${tag}.html`, `<!doctype html><img src="/static/${file}?${tag}">`);
  await page.goto(`${server.origin}/${tag}.html`);
  const [badge] = await waitForBadges(page, (b) => b.length === 1 && b[0]?.state !== 'checking');
  await page.close();
  if (badge?.p == null) throw new Error(`no score for ${file}: ${JSON.stringify(badge)}`);
  return badge.p;
}

async function restartEngine(): Promise<void> {
  const worker = await ext.serviceWorker();
  await worker.evaluate(async () => {
    const contexts = await chrome.runtime.getContexts({ contextTypes: [chrome.runtime.ContextType.OFFSCREEN_DOCUMENT] });
    if (contexts.length > 0) await chrome.offscreen.closeDocument();
  });
}

/** Replaces the engine's advanced settings and starts a fresh engine with them. */
async function setEngine(values: Record<string, unknown>): Promise<void> {
  const worker = await ext.serviceWorker();
  await worker.evaluate(async (v) => {
    const old = Object.keys(await chrome.storage.local.get(null)).filter((k) => k.startsWith('engine.'));
    await chrome.storage.local.remove(old);
    await chrome.storage.local.set(v);
  }, values);
  await restartEngine();
}

async function engineDetails(): Promise<{ text: string; threads: string; largestBatch: number }> {
  const popup = await ext.context.newPage();
  await popup.goto(`chrome-extension://${ext.extensionId}/src/popup/index.html`);
  const dd = popup.locator('dd[data-engine-state]');
  await dd.filter({ hasText: /ready on|failed/ }).waitFor({ timeout: 60_000 });
  const out = {
    text: await popup.locator('dl').innerText(),
    threads: (await dd.getAttribute('data-threads')) ?? '',
    largestBatch: Number(await dd.getAttribute('data-largest-batch')),
  };
  await popup.close();
  return out;
}

/** Scores every photo on one page (fresh URLs tagged `tag`), by file. */
async function scorePage(tag: string): Promise<Map<string, number>> {
  const page = await ext.context.newPage();
  server.page(`/${tag}.html`, `<!doctype html>${all.map((f) => `<img src="/static/${f}?${tag}" width="200">`).join('')}`);
  await page.goto(`${server.origin}/${tag}.html`);
  const badges = await waitForBadges(page, (b) => b.length === all.length && b.every((x) => x.state !== 'checking'));
  await page.close();
  return new Map(badges.map((b) => [new URL(b.src).pathname.split('/').pop() ?? '', b.p ?? NaN]));
}

let all: string[];

/** Empties the prediction cache (directly in IndexedDB), so the same pictures are inferred again. */
async function forgetPredictions(): Promise<void> {
  const worker = await ext.serviceWorker();
  await worker.evaluate(async () => {
    // Opening a database that does not exist would create an empty one: check first.
    if (!(await indexedDB.databases()).some((d) => d.name === 'realfake-lens')) return;
    await new Promise<void>((resolve, reject) => {
        const open = indexedDB.open('realfake-lens');
        open.onerror = () => reject(open.error);
        open.onsuccess = () => {
          const tx = open.result.transaction('predictions', 'readwrite');
          tx.objectStore('predictions').clear();
          tx.oncomplete = () => {
            open.result.close();
            resolve();
          };
        };
    });
  });
}

beforeAll(async () => {
  all = photoIndex()
    .filter((p) => !p.small)
    .map((p) => p.file);
  files = all.slice(0, 2);
  reference = await referenceScores(all.map((f) => join(PHOTOS_DIR, f)));
  server = await startServer(PHOTOS_DIR);
  ext = await launchWithExtension({ extraArgs: ['--enable-unsafe-webgpu'] });
  mkdirSync(ARTIFACTS, { recursive: true });
});

afterAll(async () => {
  await ext?.close();
  await server?.close();
});

describe('engine backend', () => {
  it('prefers WebAssembly over a software WebGPU adapter, and says so', async () => {
    const p = await scoreThroughExtension(files[0] as string, 'wasm');
    expect(Math.abs(p - (reference.get(join(PHOTOS_DIR, files[0] as string)) ?? NaN))).toBeLessThanOrEqual(1e-3);
    const text = await popupText();
    expect(text).toContain('ready on WebAssembly');
    expect(text).toContain('only a software adapter');
  });

  it('runs the WebGPU provider when allowed, with the same scores as PyTorch', async () => {
    const worker = await ext.serviceWorker();
    await worker.evaluate(() => chrome.storage.local.set({ 'engine.allowSoftwareWebGpu': true }));
    await restartEngine();
    for (const file of files) {
      const p = await scoreThroughExtension(file, `webgpu-${file.replace(/\W/g, '')}`);
      const want = reference.get(join(PHOTOS_DIR, file)) ?? NaN;
      console.log(`WebGPU ${file}: ${p.toFixed(6)} vs PyTorch ${want.toFixed(6)}`);
      expect(Math.abs(p - want)).toBeLessThanOrEqual(1e-3);
    }
    expect(await popupText()).toContain('ready on WebGPU');
  });

  it('falls back to WebAssembly when WebGPU fails to start or fails its probe, and says why', async () => {
    const cases = [
      { fault: { failWebGpuInit: true }, says: 'WebGPU failed (injected fault' },
      { fault: { perturbWebGpuProbe: true }, says: 'WebGPU output differed from the reference' },
    ];
    for (const [i, c] of cases.entries()) {
      await setEngine({ 'engine.allowSoftwareWebGpu': true, 'engine.testFaults': c.fault });
      const p = await scoreThroughExtension(files[0] as string, `fault${i}`);
      expect(Math.abs(p - (reference.get(join(PHOTOS_DIR, files[0] as string)) ?? NaN))).toBeLessThanOrEqual(1e-3);
      const { text } = await engineDetails();
      expect(text).toContain('ready on WebAssembly');
      expect(text).toContain(c.says);
    }
  });

  it('runs WebAssembly on several threads (cross-origin isolated) with the same scores', async () => {
    await setEngine({ 'engine.threads': 2 });
    const scores = await scorePage('threads2');
    const { threads, text } = await engineDetails();
    expect(threads).toBe('2');
    expect(text).toContain('2 threads');
    for (const [file, p] of scores) expect(Math.abs(p - (reference.get(join(PHOTOS_DIR, file)) ?? NaN)), file).toBeLessThanOrEqual(1e-3);
  });

  it('gives batched and unbatched runs the same scores', async () => {
    // Same bytes would be answered from the cache by their hash: forget them first.
    await forgetPredictions();
    await setEngine({ 'engine.maxBatch': 4, 'engine.batchWindowMs': 300 });
    const batched = await scorePage('batched');
    expect((await engineDetails()).largestBatch).toBeGreaterThan(1);
    await forgetPredictions();
    await setEngine({ 'engine.maxBatch': 1 });
    const single = await scorePage('single');
    expect((await engineDetails()).largestBatch).toBe(1);
    let worst = 0;
    for (const [file, p] of batched) worst = Math.max(worst, Math.abs(p - (single.get(file) ?? NaN)));
    console.log(`batched vs unbatched, ${batched.size} photos: largest |Δp| ${worst.toExponential(2)}`);
    expect(worst).toBeLessThanOrEqual(1e-6);
  });

  it('closes the engine after the idle period and reloads it for the next image', async () => {
    await setEngine({ 'engine.idleReleaseMs': 1_500 });
    await scoreThroughExtension(files[0] as string, 'idle1');
    const worker = await ext.serviceWorker();
    const open = () =>
      worker.evaluate(async () => (await chrome.runtime.getContexts({ contextTypes: [chrome.runtime.ContextType.OFFSCREEN_DOCUMENT] })).length);
    await expect.poll(open, { timeout: 15_000 }).toBe(0);
    const popup = await ext.context.newPage();
    await popup.goto(`chrome-extension://${ext.extensionId}/src/popup/index.html`);
    await popup.getByText('released after a while without work').waitFor();
    await popup.close();
    const p = await scoreThroughExtension(files[1] as string, 'idle2');
    expect(Math.abs(p - (reference.get(join(PHOTOS_DIR, files[1] as string)) ?? NaN))).toBeLessThanOrEqual(1e-3);
  });
});

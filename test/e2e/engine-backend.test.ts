// The engine's backend choice in real Chromium with WebGPU enabled. Here WebGPU has only
// SwiftShader, a software adapter: by default the engine must use WebAssembly and say why;
// with the advanced option it must run ORT's WebGPU provider with the same scores.

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

beforeAll(async () => {
  files = photoIndex()
    .filter((p) => !p.small)
    .slice(0, 2)
    .map((p) => p.file);
  reference = await referenceScores(files.map((f) => join(PHOTOS_DIR, f)));
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
});

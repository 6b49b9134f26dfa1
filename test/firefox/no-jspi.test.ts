// A Firefox without JavaScript Promise Integration (switched off by its preference): the engine
// runs ORT's plain WebAssembly build, which reads the model file whole, and still gives PyTorch's
// scores. The same page in a Firefox with JSPI is in extension.test.ts.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import type { BadgeReading } from '../support/badges';
import { launchFirefoxWithExtension, type FirefoxSession } from '../support/firefox';
import { PHOTOS_DIR } from '../support/photos';
import { referenceScores } from '../support/python';
import { startServer, type TestServer } from '../support/server';
import type { StatusReply } from '../../src/shared/protocol/ui';

const PHOTOS = ['camera.png', 'chelsea.png', 'rocket.jpg'];

let server: TestServer;
let ff: FirefoxSession;
const reference = new Map<string, number>();

beforeAll(async () => {
  const scores = await referenceScores(PHOTOS.map((f) => join(PHOTOS_DIR, f)));
  for (const f of PHOTOS) reference.set(f, scores.get(join(PHOTOS_DIR, f)) as number);
  server = await startServer(PHOTOS_DIR);
  server.page('/photos.html', `<!doctype html><title>photos</title>${PHOTOS.map((f) => `<img src="/static/${f}" width="240" alt="">`).join('')}`);
  ff = await launchFirefoxWithExtension({ prefs: { 'javascript.options.wasm_js_promise_integration': false } });
}, 300_000);

afterAll(async () => {
  await ff?.close();
  await server?.close();
});

describe('Firefox without JSPI', () => {
  it("has no WebAssembly.Suspending, and still badges photographs with PyTorch's scores", async () => {
    const ui = await ff.openExtensionPage('src/options/index.html');
    expect(await ui.evaluate('typeof WebAssembly.Suspending')).toBe('undefined');
    const page = await ff.newPage();
    await page.goto(`${server.origin}/photos.html`);
    const badges = await ff.waitForBadges(page, (b: BadgeReading[]) => b.length === PHOTOS.length && b.every((x) => x.state !== 'checking'), 150_000);
    for (const b of badges) {
      const want = reference.get(new URL(b.src).pathname.split('/').pop() ?? '');
      expect(want, b.src).toBeDefined();
      expect(Math.abs((b.p ?? NaN) - (want as number)), b.src).toBeLessThan(1e-3);
    }
    const { engine } = await ui.evaluate<StatusReply>(`chrome.runtime.sendMessage({ kind: 'ui/get-status' })`);
    expect(engine.backend).toBe('wasm');
    expect(engine.note).toMatch(/no JavaScript Promise Integration/);
  }, 200_000);
});

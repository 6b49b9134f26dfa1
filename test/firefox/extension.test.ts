// The Firefox build in real Firefox ESR, driven over WebDriver BiDi: the same extension as in
// Chromium, with its engine in a frame of the event page instead of an offscreen document. A page
// of photographs gets PyTorch's scores, a reload is answered from the cache, broken images get
// their reasons, the popup's site switch is enforced by the background, the history fills, and
// "Check image" judges one picture.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'puppeteer-core';
import type { BadgeReading } from '../support/badges';
import { launchFirefoxWithExtension, type ExtensionTab, type FirefoxSession } from '../support/firefox';
import { PHOTOS_DIR } from '../support/photos';
import { referenceScores } from '../support/python';
import { startServer, type TestServer } from '../support/server';
import type { EngineStatus } from '../../src/shared/protocol/offscreen';
import type { HistoryEntry, StatusReply } from '../../src/shared/protocol/ui';

const ARTIFACTS = join(import.meta.dirname, '../../artifacts/firefox');
const PHOTOS = ['camera.png', 'chelsea.png', 'coins.png', 'rocket.jpg', 'hubble-palette.png', 'coffee-alpha.png', 'astronaut-portrait.jpg'];
const SMALL = 'small-camera.png';

let server: TestServer;
let ff: FirefoxSession;
/** An extension page kept open to talk to the background as the popup does. */
let ui: ExtensionTab;
let gallery: Page;
const reference = new Map<string, number>();

const fileOf = (src: string): string => new URL(src).pathname.split('/').pop() ?? '';
const settled = (n: number) => (b: BadgeReading[]): boolean => b.length === n && b.every((x) => x.state !== 'checking');
/** Requests for a picture made by the extension, not by the page's own <img>. */
const extensionFetches = (): number => server.log.filter((e) => e.path.startsWith('/static/') && e.dest !== 'image').length;

function expectReference(b: BadgeReading): void {
  const want = reference.get(fileOf(b.src));
  expect(want, b.src).toBeDefined();
  expect(b.p, `${b.src} score`).not.toBeNull();
  expect(Math.abs((b.p as number) - (want as number)), `${b.src} vs PyTorch`).toBeLessThan(1e-3);
}

const ask = <T>(message: object): Promise<T> => ui.evaluate<T>(`chrome.runtime.sendMessage(${JSON.stringify(message)})`);
/** Waits for the writes the background makes after a verdict went out (its result, its counters). */
const writesSettled = (): Promise<void> => ui.evaluate('chrome.runtime.getBackgroundPage().then((bg) => bg.realfakeLensTestHooks.writesSettled())');
const syncSettings = (): Promise<Record<string, unknown>> => ui.evaluate('chrome.storage.sync.get(null)');
/** Firefox's match patterns take no port, so tabs are found by their exact URL here. */
const TAB_BY_URL = (url: string): string => `chrome.tabs.query({}).then((tabs) => tabs.find((t) => t.url === ${JSON.stringify(url)}))`;
const tabIdOf = (url: string): Promise<number> => ui.evaluate(`${TAB_BY_URL(url)}.then((t) => t.id)`);
const toolbarText = async (url: string): Promise<string> => ui.evaluate(`chrome.action.getBadgeText({ tabId: ${await tabIdOf(url)} })`);

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  const files = [...PHOTOS, SMALL];
  const scores = await referenceScores(files.map((f) => join(PHOTOS_DIR, f)));
  for (const f of files) reference.set(f, scores.get(join(PHOTOS_DIR, f)) as number);
  server = await startServer(PHOTOS_DIR);
  const imgs = PHOTOS.map((f) => `<img src="/static/${f}" width="220" alt="${f}">`).join('');
  server.page('/gallery.html', `<!doctype html><meta charset="utf-8"><title>A gallery of photos</title><body>${imgs}</body>`);
  ff = await launchFirefoxWithExtension();
  ui = await ff.openExtensionPage('src/options/index.html');
  gallery = await ff.newPage();
  await gallery.setViewport({ width: 1280, height: 900 });
  await gallery.goto(`${server.origin}/gallery.html`);
}, 300_000);

afterAll(async () => {
  await ff?.close();
  await server?.close();
});

describe('Firefox: the extension end to end', () => {
  it("badges a page of photographs with PyTorch's scores, on WebAssembly in the event page's frame", async () => {
    const badges = await ff.waitForBadges(gallery, settled(PHOTOS.length), 150_000);
    await gallery.screenshot({ path: join(ARTIFACTS, 'badged-page.png') });
    expect(badges.map((b) => fileOf(b.src)).sort()).toEqual([...PHOTOS].sort());
    for (const b of badges) {
      expect(['generated', 'real'], b.src).toContain(b.state);
      expectReference(b);
    }
    const { engine } = await ask<StatusReply>({ kind: 'ui/get-status' });
    writeFileSync(join(ARTIFACTS, 'engine-status.json'), JSON.stringify(engine, null, 2));
    expect(engine.state).toBe<EngineStatus['state']>('ready');
    // No WebGPU adapter in headless Firefox, and extension pages are never cross-origin isolated.
    expect(engine.backend).toBe('wasm');
    expect(engine.threads).toBe(1);
  }, 180_000);

  it('answers a reload from the cache: the same scores, no new fetch, no new inference', async () => {
    await writesSettled();
    const before = (await ask<StatusReply>({ kind: 'ui/get-status' })).stats;
    const fetches = extensionFetches();
    await gallery.reload();
    const badges = await ff.waitForBadges(gallery, settled(PHOTOS.length), 60_000);
    for (const b of badges) expectReference(b);
    // The page reports the pictures it badged from the cache after drawing them: counted on arrival.
    const stats = async (): Promise<StatusReply['stats']> => (await ask<StatusReply>({ kind: 'ui/get-status' })).stats;
    await expect.poll(async () => (await stats()).cacheHits - before.cacheHits, { timeout: 10_000 }).toBe(PHOTOS.length);
    await writesSettled();
    const after = await stats();
    expect(after.inferences).toBe(before.inferences);
    expect(after.cacheHits - before.cacheHits).toBe(PHOTOS.length);
    expect(extensionFetches()).toBe(fetches);
  }, 90_000);

  it("says why it couldn't check a 404 and an HTML page served as a JPEG", async () => {
    server.route('/html-as.jpg', (_req, res) => {
      res.writeHead(200, { 'content-type': 'image/jpeg' });
      res.end('<!doctype html><html><body><h1>Not found</h1></body></html>');
    });
    server.page(
      '/broken.html',
      '<!doctype html><title>broken</title><img src="/missing.jpg" width="300" height="300" alt=""><img src="/html-as.jpg" width="300" height="300" alt="">',
    );
    const page = await ff.newPage();
    await page.goto(`${server.origin}/broken.html`);
    const badges = await ff.waitForBadges(page, settled(2), 60_000);
    const by = (path: string): BadgeReading | undefined => badges.find((b) => new URL(b.src).pathname === path);
    expect(by('/missing.jpg')).toMatchObject({ state: 'failed', reason: 'http-error' });
    expect(by('/missing.jpg')?.text).toContain('HTTP 404');
    expect(by('/html-as.jpg')).toMatchObject({ state: 'failed', reason: 'not-an-image' });
    expect(by('/html-as.jpg')?.title).toMatch(/HTML/);
    await page.close();
  }, 90_000);

  it("enforces the popup's site switch: badges gone, toolbar off, nothing fetched on reload, rescanned when on", async () => {
    const url = `${server.origin}/gallery.html`;
    const popup = await ff.openExtensionPage(`src/popup/index.html?tab=${await tabIdOf(url)}`);
    const switchState = (): Promise<boolean | null> =>
      popup.evaluate('document.getElementById("site-switch")?.checked ?? null');
    await expect.poll(switchState, { timeout: 10_000 }).toBe(true);
    writeFileSync(join(ARTIFACTS, 'popup.png'), await popup.screenshot());
    expect(await popup.evaluate('document.querySelector("label[for=site-switch]").textContent')).toBe('Check images on 127.0.0.1');

    await popup.evaluate('document.getElementById("site-switch").click()');
    await ff.waitForBadges(gallery, (b) => b.length === 0, 10_000);
    expect((await syncSettings()).disabledSites).toEqual(['127.0.0.1']);
    // The background updates the toolbar when the setting lands, beside the page removing its badges.
    await expect.poll(() => toolbarText(url), { timeout: 5_000 }).toBe('off');
    await expect.poll(() => popup.evaluate<string>('document.querySelector(".counts").textContent'), { timeout: 5_000 }).toBe('Not checking this page.');

    // The background refuses the switched-off site: a reload brings no badge and no fetch.
    const fetches = extensionFetches();
    await gallery.reload();
    await new Promise((r) => setTimeout(r, 1_500));
    expect(await ff.readBadges(gallery)).toEqual([]);
    expect(extensionFetches()).toBe(fetches);

    await popup.evaluate('document.getElementById("site-switch").click()');
    const again = await ff.waitForBadges(gallery, settled(PHOTOS.length), 30_000);
    for (const b of again) expectReference(b);
    expect((await syncSettings()).disabledSites).toEqual([]);
    await popup.close();
  }, 90_000);

  it("keeps the history: one entry per photograph with its page, score and thumbnail, shown in the popup", async () => {
    await writesSettled();
    const { entries } = await ask<{ entries: HistoryEntry[] }>({ kind: 'ui/list-history', site: null, query: '', limit: 100 });
    for (const f of PHOTOS) {
      const e = entries.find((h) => h.url === `${server.origin}/static/${f}`);
      expect(e, f).toBeDefined();
      expect(e?.pageUrl).toBe(`${server.origin}/gallery.html`);
      expect(e?.pageTitle).toBe('A gallery of photos');
      expect(Math.abs((e?.pGenerated ?? NaN) - (reference.get(f) as number))).toBeLessThan(1e-3);
      expect(e?.thumbnail?.startsWith('data:image/jpeg;base64,')).toBe(true);
    }
    const popup = await ff.openExtensionPage(`src/popup/index.html?tab=${await tabIdOf(`${server.origin}/gallery.html`)}`);
    await expect.poll(() => popup.evaluate<number>('document.querySelectorAll("li.entry").length'), { timeout: 10_000 }).toBeGreaterThanOrEqual(PHOTOS.length);
    const rows = await popup.evaluate<Array<{ url: string; thumb: number }>>(
      'Array.from(document.querySelectorAll("li.entry"), (li) => ({ url: li.dataset.url, thumb: li.querySelector("img.thumb")?.naturalWidth ?? 0 }))',
    );
    for (const f of PHOTOS) {
      const row = rows.find((r) => r.url === `${server.origin}/static/${f}`);
      expect(row?.thumb, f).toBeGreaterThan(0);
    }
    writeFileSync(join(ARTIFACTS, 'popup-history.png'), await popup.screenshot());
    await popup.close();
  }, 60_000);

  it('"Check image" judges a picture below the minimum size, with its score on the image', async () => {
    server.page('/small.html', `<!doctype html><title>small</title><img src="/static/${SMALL}" alt="">`);
    const pageUrl = `${server.origin}/small.html`;
    const src = `${server.origin}/static/${SMALL}`;
    const page = await ff.newPage();
    await page.goto(pageUrl);
    await new Promise((r) => setTimeout(r, 1_000));
    expect(await ff.readBadges(page)).toEqual([]);
    // Headless Firefox cannot open the native menu, and its menus.onClicked has no dispatch(): the
    // test calls the listener the extension registered, with the data Firefox would pass.
    const verdict = await ui.evaluate<{ status: string; pGenerated: number }>(`(async () => {
      const bg = await chrome.runtime.getBackgroundPage();
      const tab = await ${TAB_BY_URL(pageUrl)};
      return bg.realfakeLensTestHooks.menuListener({ menuItemId: 'realfake-lens-check-image', mediaType: 'image', srcUrl: ${JSON.stringify(src)}, pageUrl: ${JSON.stringify(pageUrl)}, frameId: 0, editable: false }, tab);
    })()`);
    expect(verdict.status).toBe('done');
    expect(Math.abs(verdict.pGenerated - (reference.get(SMALL) as number))).toBeLessThan(1e-3);
    const badges = await ff.waitForBadges(page, (b) => b.length === 1 && b[0]?.state !== 'checking', 15_000);
    expect(badges[0]?.src).toBe(src);
    expectReference(badges[0] as BadgeReading);
    await page.close();
  }, 60_000);
});

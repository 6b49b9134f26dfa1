// The popup, opened as the extension's own page in real Chromium against a real tab: the site
// switch and global pause change storage and the page at once, the counts match the page's
// badges, and the history (thumbnails, search, scope, "report a mistake", clear) reads and
// writes the real IndexedDB. Screenshots, light and dark, go to artifacts/e2e/.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { launchWithExtension, type ExtensionSession } from '../support/chrome';
import { startServer, type TestServer } from '../support/server';
import { readBadges, waitForBadges, type BadgeReading } from '../support/badges';
import { PHOTOS_DIR } from '../support/photos';

const ARTIFACTS = join(import.meta.dirname, '../../artifacts/e2e');
const PHOTOS = ['astronaut-portrait.jpg', 'chelsea.png', 'coins.png'];

let server: TestServer;
let ext: ExtensionSession;
let site: Page;
let popup: Page;

const settled = (n: number) => (b: BadgeReading[]) => b.length === n && b.every((x) => x.state !== 'checking');

async function idbHistory(): Promise<Array<{ url: string; mistake?: boolean; thumbnail: string | null }>> {
  const worker = await ext.serviceWorker();
  return worker.evaluate(
    () =>
      new Promise((resolve, reject) => {
        const open = indexedDB.open('realfake-lens');
        open.onerror = () => reject(open.error);
        open.onsuccess = () => {
          const req = open.result.transaction('history').objectStore('history').getAll();
          req.onsuccess = () => {
            open.result.close();
            resolve(req.result);
          };
        };
      }),
  );
}

async function syncSettings(): Promise<Record<string, unknown>> {
  return (await ext.serviceWorker()).evaluate(() => chrome.storage.sync.get(null));
}

async function toolbarText(tabUrl: string): Promise<string> {
  return (await ext.serviceWorker()).evaluate(async (url) => {
    const [tab] = await chrome.tabs.query({ url });
    return chrome.action.getBadgeText({ tabId: tab!.id! });
  }, tabUrl);
}

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  server = await startServer(PHOTOS_DIR);
  const imgs = PHOTOS.map((f) => `<img src="/static/${f}" width="220" alt="">`).join('');
  server.page('/gallery.html', `<!doctype html><meta charset="utf-8"><title>A gallery of photos</title><body>${imgs}</body>`);
  ext = await launchWithExtension();
  site = await ext.context.newPage();
  await site.goto(`${server.origin}/gallery.html`);
  await waitForBadges(site, settled(PHOTOS.length));
  const tabId = await (await ext.serviceWorker()).evaluate(async (url) => (await chrome.tabs.query({ url }))[0]?.id, `${server.origin}/gallery.html`);
  popup = await ext.context.newPage();
  await popup.setViewportSize({ width: 360, height: 720 });
  await popup.goto(`chrome-extension://${ext.extensionId}/src/popup/index.html?tab=${tabId}`);
}, 180_000);

afterAll(async () => {
  await ext?.close();
  await server?.close();
});

describe('popup', () => {
  it('shows the tab’s counts, the model and its test-model warning, and the history with thumbnails', async () => {
    const badges = await readBadges(site);
    const suspected = badges.filter((b) => b.state === 'generated').length;
    await popup.locator('[data-count="checked"]', { hasText: String(PHOTOS.length) }).waitFor();
    expect(await popup.locator('[data-count="suspected"]').textContent()).toBe(String(suspected));
    expect(await popup.locator('[data-count="failed"]').textContent()).toBe('0');
    expect(await popup.getByRole('alert').first().textContent()).toContain('TEST MODEL');
    await popup.locator('li.entry').nth(PHOTOS.length - 1).waitFor();
    const thumbs = await popup.locator('li.entry img.thumb').evaluateAll((imgs) =>
      imgs.map((i) => ({ src: (i as HTMLImageElement).src.slice(0, 23), w: (i as HTMLImageElement).naturalWidth })),
    );
    expect(thumbs).toHaveLength(PHOTOS.length);
    for (const t of thumbs) {
      expect(t.src).toBe('data:image/jpeg;base64,');
      expect(t.w).toBeGreaterThan(0);
    }
    await popup.screenshot({ path: join(ARTIFACTS, 'popup-light.png'), fullPage: true });
    await popup.emulateMedia({ colorScheme: 'dark' });
    await popup.screenshot({ path: join(ARTIFACTS, 'popup-dark.png'), fullPage: true });
    await popup.emulateMedia({ colorScheme: 'light' });
  });

  it('switches this site off and on: stored, badges gone at once, toolbar says off, rescanned', async () => {
    const pageUrl = `${server.origin}/gallery.html`;
    await popup.getByRole('switch', { name: 'Check images on 127.0.0.1' }).click();
    await waitForBadges(site, (b) => b.length === 0, 10_000);
    expect((await syncSettings()).disabledSites).toEqual(['127.0.0.1']);
    expect(await toolbarText(pageUrl)).toBe('off');
    await popup.locator('.counts', { hasText: 'Not checking this page.' }).waitFor({ timeout: 5_000 });

    await popup.getByRole('switch', { name: 'Check images on 127.0.0.1' }).click();
    await waitForBadges(site, settled(PHOTOS.length), 30_000);
    expect((await syncSettings()).disabledSites).toEqual([]);
  });

  it('pauses everywhere and resumes', async () => {
    await popup.getByRole('switch', { name: 'Pause everywhere' }).click();
    await waitForBadges(site, (b) => b.length === 0, 10_000);
    expect((await syncSettings()).paused).toBe(true);
    expect(await toolbarText(`${server.origin}/gallery.html`)).toBe('off');
    await popup.locator('.counts', { hasText: '(paused everywhere)' }).waitFor({ timeout: 5_000 });
    await popup.getByRole('switch', { name: 'Pause everywhere' }).click();
    await waitForBadges(site, settled(PHOTOS.length), 30_000);
    expect((await syncSettings()).paused).toBe(false);
  });

  it('searches and scopes the history, reports a mistake, and clears it', async () => {
    const entries = popup.locator('li.entry');
    await popup.getByRole('searchbox', { name: 'Search history' }).fill('chelsea');
    await expect.poll(() => entries.count()).toBe(1);
    expect(await entries.first().getAttribute('data-url')).toBe(`${server.origin}/static/chelsea.png`);

    await entries.first().getByRole('button', { name: 'Report a mistake' }).click();
    await entries.first().getByRole('button', { name: 'Reported as wrong' }).waitFor();
    const marked = (await idbHistory()).filter((h) => h.mistake === true).map((h) => h.url);
    expect(marked).toEqual([`${server.origin}/static/chelsea.png`]);

    await popup.getByRole('searchbox', { name: 'Search history' }).fill('');
    await popup.getByRole('button', { name: 'All', exact: true }).click();
    await expect.poll(() => entries.count()).toBeGreaterThanOrEqual(PHOTOS.length);
    await popup.getByRole('button', { name: 'Clear history…' }).click();
    await popup.getByRole('button', { name: 'Delete' }).click();
    await popup.getByText('No images checked yet.').waitFor();
    expect(await idbHistory()).toEqual([]);
  });
});

// The popup and the options page, opened as the extension's own page in real Chromium against a real tab: the site
// switch and global pause change storage and the page at once, the counts match the page's
// badges, and the history (thumbnails, search, scope, "report a mistake", clear) reads and
// writes the real IndexedDB. Screenshots, light and dark, go to artifacts/e2e/.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Download, Page } from 'playwright-core';
import { launchWithExtension, type ExtensionSession } from '../support/chrome';
import { readExtensionStore, writesSettled } from '../support/extension-db';
import { startServer, type TestServer } from '../support/server';
import { readBadges, readCovers, waitForBadges, type BadgeReading } from '../support/badges';
import { PHOTOS_DIR } from '../support/photos';
import { axeLightAndDark, axeViolations } from '../support/axe';

const ARTIFACTS = join(import.meta.dirname, '../../artifacts/e2e');
const PHOTOS = ['astronaut-portrait.jpg', 'chelsea.png', 'coins.png'];

let server: TestServer;
let ext: ExtensionSession;
let site: Page;
let popup: Page;
let options: Page;

const settled = (n: number) => (b: BadgeReading[]) => b.length === n && b.every((x) => x.state !== 'checking');

type StoredEntry = { url: string; mistake?: boolean; thumbnail: string | null };
const idbHistory = (): Promise<StoredEntry[]> => readExtensionStore<StoredEntry>(ext, 'history');

/** Counts of each store, read directly; a database that does not exist counts as empty (and is not created). */
async function idbCounts(): Promise<Record<string, number>> {
  const worker = await ext.serviceWorker();
  await writesSettled(worker);
  return worker.evaluate(async () => {
    const names = ['predictions', 'history', 'stats'];
    const empty = Object.fromEntries(names.map((n) => [n, 0]));
    if (!(await indexedDB.databases()).some((d) => d.name === 'realfake-lens')) return empty;
    return new Promise<Record<string, number>>((resolve, reject) => {
      const open = indexedDB.open('realfake-lens');
      open.onerror = () => reject(open.error);
      open.onsuccess = () => {
        const db = open.result;
        const tx = db.transaction(names);
        const out: Record<string, number> = {};
        for (const n of names) {
          const req = tx.objectStore(n).count();
          req.onsuccess = () => (out[n] = req.result);
        }
        tx.oncomplete = () => {
          db.close();
          resolve(out);
        };
        tx.onerror = () => reject(tx.error);
      };
    });
  });
}

const fileName = (src: string): string => new URL(src).pathname.split('/').pop() ?? '';

async function readDownload(d: Download): Promise<string> {
  const path = await d.path();
  return readFileSync(path, 'utf8');
}

async function syncSettings(): Promise<Record<string, unknown>> {
  return (await ext.serviceWorker()).evaluate(() => chrome.storage.sync.get(null));
}

/** Moves the options page's threshold slider, as a person would, and waits until it is stored. */
async function moveThreshold(value: number): Promise<void> {
  await options.locator('#threshold').evaluate((el, v) => {
    (el as HTMLInputElement).value = String(v);
    el.dispatchEvent(new Event('input', { bubbles: true }));
  }, value);
  await expect.poll(async () => (await syncSettings()).threshold).toBe(value);
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
  it('(the accessibility check itself finds violations on a page that has them)', async () => {
    server.page('/inaccessible.html', '<!doctype html><title>x</title><img src="/static/coins.png"><input type="text">');
    const page = await ext.context.newPage();
    await page.goto(`${server.origin}/inaccessible.html`);
    const ids = (await axeViolations(page)).map((v) => v.id);
    expect(ids).toContain('image-alt');
    expect(ids).toContain('label');
    await page.close();
  });

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
    expect(await axeLightAndDark(popup, ARTIFACTS, 'popup'), 'axe-core').toEqual({ light: [], dark: [] });
  });

  it('draws each history row’s score bar and threshold mark from the stored entry, and opens the page or the image', async () => {
    const stored = await idbHistory();
    const row = popup.locator(`li.entry[data-url="${server.origin}/static/coins.png"]`);
    const entry = stored.find((h) => h.url === `${server.origin}/static/coins.png`) as unknown as { pGenerated: number; threshold: number };
    const pct = `${Math.round(entry.pGenerated * 100)}%`;
    expect(await row.locator('.bar > span').evaluate((e) => (e as HTMLElement).style.width)).toBe(pct);
    expect(await row.locator('.bar > .mark').evaluate((e) => (e as HTMLElement).style.left)).toBe(`${Math.round(entry.threshold * 100)}%`);
    expect(await row.locator('.bar').getAttribute('aria-label')).toBe(`score ${pct}, threshold ${Math.round(entry.threshold * 100)}%`);
    expect(await row.locator('.verdict').textContent()).toBe(`${entry.pGenerated >= entry.threshold ? 'Likely generated' : 'Likely real'} ${pct}`);
    expect(await row.locator('time').getAttribute('datetime')).toMatch(/^\d{4}-\d\d-\d\dT/);

    const pageLink = row.getByRole('link', { name: 'A gallery of photos' });
    expect(await pageLink.getAttribute('href')).toBe(`${server.origin}/gallery.html`);
    const [image] = await Promise.all([ext.context.waitForEvent('page'), row.getByRole('link', { name: 'Open image' }).click()]);
    await image.waitForLoadState();
    expect(image.url()).toBe(`${server.origin}/static/coins.png`);
    await image.close();
  });

  it('is usable with the keyboard: Tab reaches the switches and Space flips them', async () => {
    await popup.bringToFront();
    await popup.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
    const focusedId = (): Promise<string> => popup.evaluate(() => document.activeElement?.id ?? '');
    for (let i = 0; i < 30 && (await focusedId()) !== 'pause-switch'; i++) await popup.keyboard.press('Tab');
    expect(await focusedId()).toBe('pause-switch');
    const pause = popup.locator('#pause-switch');
    await popup.keyboard.press('Space');
    await expect.poll(async () => (await syncSettings()).paused, { timeout: 10_000 }).toBe(true);
    await waitForBadges(site, (b) => b.length === 0, 10_000);
    // The switch shows its new state and keeps the focus, so the next Space flips it back.
    await expect.poll(() => pause.isChecked(), { timeout: 10_000 }).toBe(true);
    expect(await focusedId()).toBe('pause-switch');
    await popup.bringToFront();
    await popup.keyboard.press('Space');
    await expect.poll(async () => (await syncSettings()).paused, { timeout: 10_000 }).toBe(false);
    await waitForBadges(site, settled(PHOTOS.length), 30_000);
  });

  it('switches this site off and on: stored, badges gone at once, toolbar says off, rescanned', async () => {
    const pageUrl = `${server.origin}/gallery.html`;
    await popup.getByRole('switch', { name: 'Check images on 127.0.0.1' }).click();
    await waitForBadges(site, (b) => b.length === 0, 10_000);
    expect((await syncSettings()).disabledSites).toEqual(['127.0.0.1']);
    await expect.poll(() => toolbarText(pageUrl), { timeout: 5_000 }).toBe('off');
    await popup.locator('.counts', { hasText: 'Not checking this page.' }).waitFor({ timeout: 5_000 });

    await popup.getByRole('switch', { name: 'Check images on 127.0.0.1' }).click();
    await waitForBadges(site, settled(PHOTOS.length), 30_000);
    expect((await syncSettings()).disabledSites).toEqual([]);
  });

  it('pauses everywhere and resumes', async () => {
    await popup.getByRole('switch', { name: 'Pause everywhere' }).click();
    await waitForBadges(site, (b) => b.length === 0, 10_000);
    expect((await syncSettings()).paused).toBe(true);
    await expect.poll(() => toolbarText(`${server.origin}/gallery.html`), { timeout: 5_000 }).toBe('off');
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

describe('options page', () => {
  beforeAll(async () => {
    options = await ext.context.newPage();
    await options.goto(`chrome-extension://${ext.extensionId}/src/options/index.html`);
    await options.getByRole('heading', { name: 'Detection' }).waitFor();
  });

  it('moves the threshold: stored, and the badges already on the page are relabelled', async () => {
    const before = await readBadges(site);
    const flips = before.filter((b) => b.p !== null && b.p >= 0.3 && b.p < 0.5);
    expect(flips.length, 'the fixture scores put a photo between 0.3 and 0.5').toBeGreaterThan(0);
    await moveThreshold(0.3);
    const after = await waitForBadges(site, (b) => b.filter((x) => x.state === 'generated').length > before.filter((x) => x.state === 'generated').length, 10_000);
    for (const b of after) expect(b.state, b.src).toBe((b.p ?? 0) >= 0.3 ? 'generated' : 'real');
    expect(await options.locator('output[for="threshold"]').textContent()).toBe('30%');
  });

  it('after the threshold moves, the toolbar count, the popup’s counts and its history say what the page’s badges say', async () => {
    // Judged at 50 % first, on a page of its own: new addresses (the same bytes: hash hits), so new history entries.
    await moveThreshold(0.5);
    const pageUrl = `${server.origin}/threshold.html`;
    server.page('/threshold.html', `<!doctype html><title>threshold</title>${PHOTOS.map((f) => `<img src="/static/${f}?t" width="220" alt="">`).join('')}`);
    const page = await ext.context.newPage();
    await page.goto(pageUrl);
    const at50 = await waitForBadges(page, settled(PHOTOS.length));
    await moveThreshold(0.3);
    const labelledAt30 = (b: BadgeReading[]) => settled(PHOTOS.length)(b) && b.every((x) => x.state === ((x.p ?? 0) >= 0.3 ? 'generated' : 'real'));
    const at30 = await waitForBadges(page, labelledAt30, 10_000);
    const suspected = at30.filter((b) => b.state === 'generated').length;
    expect(suspected, 'the move relabels a badge').toBeGreaterThan(at50.filter((b) => b.state === 'generated').length);

    await expect.poll(() => toolbarText(pageUrl), { timeout: 10_000 }).toBe(String(suspected));
    const tabId = await (await ext.serviceWorker()).evaluate(async (url) => (await chrome.tabs.query({ url }))[0]?.id, pageUrl);
    const view = await ext.context.newPage();
    await view.goto(`chrome-extension://${ext.extensionId}/src/popup/index.html?tab=${tabId}`);
    await view.locator('[data-count="checked"]', { hasText: String(PHOTOS.length) }).waitFor();
    expect(await view.locator('[data-count="suspected"]').textContent()).toBe(String(suspected));
    await view.locator('li.entry').nth(PHOTOS.length - 1).waitFor();
    for (const b of at30) {
      expect(await view.locator(`li.entry[data-url="${b.src}"]`).getAttribute('class'), b.src).toBe(`entry ${b.state}`);
    }
    await view.close();
    await page.close();
    // The history as the tests below expect it (the popup's test cleared it).
    await options.evaluate(() => chrome.runtime.sendMessage({ kind: 'ui/clear-history' }));
  });

  it('stores the minimum size and history limits, refusing out-of-range values', async () => {
    await options.locator('#minImageSize').fill('200');
    await options.locator('#minImageSize').blur();
    await expect.poll(async () => (await syncSettings()).minImageSize).toBe(200);
    // Only the portrait is 200 px or more on its shorter side as rendered (220 x 352).
    await site.reload();
    const big = await waitForBadges(site, (b) => b.length === 1 && b.every((x) => x.state !== 'checking'), 20_000);
    expect(big.map((b) => fileName(b.src))).toEqual(['astronaut-portrait.jpg']);
    await options.locator('#minImageSize').fill('128');
    await options.locator('#minImageSize').blur();
    await expect.poll(async () => (await syncSettings()).minImageSize).toBe(128);
    await waitForBadges(site, settled(PHOTOS.length), 30_000);
    await options.locator('#historyMaxDays').fill('0');
    await options.locator('#historyMaxDays').blur();
    await options.locator('#historyMaxEntries').fill('50');
    await options.locator('#historyMaxEntries').blur();
    await expect.poll(async () => (await syncSettings()).historyMaxEntries).toBe(50);
    expect((await syncSettings()).historyMaxDays).toBeUndefined();
    await options.getByLabel('Remember images checked in incognito windows (history and cache)').check();
    await expect.poll(async () => (await syncSettings()).incognitoHistory).toBe(true);
  });

  it('lists switched-off sites and switches one on again', async () => {
    await popup.getByRole('switch', { name: 'Check images on 127.0.0.1' }).click();
    await options.getByRole('button', { name: 'Switch on again' }).click();
    await expect.poll(async () => (await syncSettings()).disabledSites).toEqual([]);
    await waitForBadges(site, settled(PHOTOS.length), 30_000);
  });

  it('allows cookies for a site only when the user adds it, says so, and stores how long a verdict stays fresh', async () => {
    expect((await syncSettings()).cookieSites).toBeUndefined();
    expect(await options.locator('#cookie-help').textContent()).toContain('Cookies are never sent');
    await options.getByLabel('Send cookies for refused pictures on pages of (host name)').fill('News.Example');
    await options.getByRole('button', { name: 'Allow cookies' }).click();
    await expect.poll(async () => (await syncSettings()).cookieSites).toEqual(['news.example']);
    await options.getByRole('button', { name: 'Stop sending cookies' }).click();
    await expect.poll(async () => (await syncSettings()).cookieSites).toEqual([]);
    const hours = options.getByLabel('Ask the server again whether a remembered picture changed after (hours)');
    expect(await hours.inputValue()).toBe('24');
    await hours.fill('0');
    await hours.blur();
    await hours.fill('48');
    await hours.blur();
    await expect.poll(async () => (await syncSettings()).revalidateAfterHours).toBe(48);
  });

  it('sets how pages are checked and shown: on demand (with the popup\'s "check all"), blurred, no "likely real" badges', async () => {
    await options.getByLabel('Only when I ask').check();
    await expect.poll(async () => (await syncSettings()).scanMode).toBe('on-demand');
    await options.locator('#suspectedStyle').selectOption('blur');
    await expect.poll(async () => (await syncSettings()).suspectedStyle).toBe('blur');
    await options.getByLabel('Show “likely real” badges too').uncheck();
    await expect.poll(async () => (await syncSettings()).showRealBadges).toBe(false);
    // On demand: a reload checks nothing until the popup's button is pressed.
    await site.reload();
    await site.waitForLoadState('load');
    await new Promise((r) => setTimeout(r, 1_000));
    expect(await readBadges(site)).toEqual([]);
    await popup.reload();
    await popup.getByRole('button', { name: 'Check all images on this page now' }).click();
    await popup.getByText('Checking every image').waitFor({ timeout: 10_000 });
    // "Likely real" badges are there but not drawn; likely generated ones are blurred. A badge
    // is drawn on the frame after its verdict, so the wait covers that frame too.
    const drawn = (b: BadgeReading[]): boolean => b.every((x) => x.hidden === (x.state === 'real'));
    const badges = await waitForBadges(site, (b) => settled(PHOTOS.length)(b) && drawn(b), 30_000);
    for (const b of badges) expect(b.hidden).toBe(b.state === 'real');
    const suspected = badges.filter((b) => b.state === 'generated').map((b) => b.src).sort();
    await expect.poll(async () => (await readCovers(site)).map((c) => c.src).sort(), { timeout: 10_000 }).toEqual(suspected);
    const covers = await readCovers(site);
    expect(covers.every((c) => c.mode === 'blur')).toBe(true);
    await options.getByLabel('Automatically').check();
    await options.locator('#suspectedStyle').selectOption('badge');
    await options.getByLabel('Show “likely real” badges too').check();
    await expect.poll(async () => (await syncSettings()).showRealBadges).toBe(true);
    await expect.poll(async () => (await readCovers(site)).length).toBe(0);
  });

  it('exports the history, and the reported mistakes alone, as CSV and JSON', async () => {
    // The popup test cleared the history; the rescan above found everything in the cache, so
    // check one new image to have an entry.
    server.page('/one.html', '<!doctype html><title>one more</title><img src="/static/rocket.jpg" width="300" alt=""><img src="/static/camera.png" width="300" alt="">');
    const one = await ext.context.newPage();
    await one.goto(`${server.origin}/one.html`);
    await waitForBadges(one, settled(2));
    await one.close();
    const [csv] = await Promise.all([options.waitForEvent('download'), options.getByRole('button', { name: 'Export history (CSV)' }).click()]);
    const text = await readDownload(csv);
    expect(text.split('\r\n')[0]).toMatch(/^time,verdict,pGenerated/);
    expect(text).toContain(`${server.origin}/static/rocket.jpg`);
    const [json] = await Promise.all([options.waitForEvent('download'), options.getByRole('button', { name: 'Export history (JSON)' }).click()]);
    const entries = JSON.parse(await readDownload(json)) as Array<{ url: string }>;
    expect(entries.map((e) => e.url)).toContain(`${server.origin}/static/rocket.jpg`);

    // Reported mistakes only: the one entry marked wrong, labelled the opposite of its verdict.
    const rocket = `${server.origin}/static/rocket.jpg`;
    const stored = (await options.evaluate(() => chrome.runtime.sendMessage({ kind: 'ui/export-history' }))) as {
      entries: Array<{ id: number; url: string; pGenerated: number; threshold: number }>;
    };
    expect(stored.entries.map((e) => e.url).sort()).toEqual([`${server.origin}/static/camera.png`, rocket]);
    const target = stored.entries.find((e) => e.url === rocket);
    await options.evaluate((id) => chrome.runtime.sendMessage({ kind: 'ui/mark-mistake', id, mistake: true }), target?.id);
    const label = (target?.pGenerated ?? 0) >= (target?.threshold ?? 0) ? 'real' : 'generated';
    const [mj] = await Promise.all([options.waitForEvent('download'), options.getByRole('button', { name: 'Export reported mistakes (JSON)' }).click()]);
    expect(mj.suggestedFilename()).toMatch(/^realfake-lens-mistakes-\d{4}-\d\d-\d\d\.json$/);
    const mistakes = JSON.parse(await readDownload(mj)) as Array<{ url: string; mistake: boolean; label: string }>;
    expect(mistakes.map((e) => [e.url, e.mistake, e.label])).toEqual([[rocket, true, label]]);
    await options.getByText('Exported 1 reported mistake.').waitFor();
    const [mc] = await Promise.all([options.waitForEvent('download'), options.getByRole('button', { name: 'Export reported mistakes (CSV)' }).click()]);
    const rows = (await readDownload(mc)).trimEnd().split('\r\n');
    expect(rows).toHaveLength(2);
    expect(rows[1]).toContain(`,true,${label},`);
    expect(rows[1]).toContain(rocket);
    expect(await axeLightAndDark(options, ARTIFACTS, 'options'), 'axe-core').toEqual({ light: [], dark: [] });
  });

  it('deletes all data after confirmation: IndexedDB, counters and settings', async () => {
    expect((await idbHistory()).length).toBeGreaterThan(0);
    await options.getByRole('button', { name: 'Delete all data…' }).click();
    await options.getByRole('button', { name: 'Delete everything' }).click();
    await options.getByText('All data deleted').waitFor();
    // (The open popup asks for status every second, which may already have opened a fresh one.)
    expect(await idbCounts()).toEqual({ predictions: 0, history: 0, stats: 0 });
    expect(await syncSettings()).toEqual({});
    // Still works afterwards: a new page is judged from scratch.
    server.page('/after.html', '<!doctype html><title>after</title><img src="/static/coins.png" width="300" alt="">');
    const after = await ext.context.newPage();
    await after.goto(`${server.origin}/after.html`);
    const [badge] = await waitForBadges(after, settled(1));
    expect(badge?.state).not.toBe('failed');
    expect((await idbHistory()).length).toBe(1);
    await after.close();
  });
});

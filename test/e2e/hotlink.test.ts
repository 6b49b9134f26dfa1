// Real pages' servers in real Chromium: pictures behind hotlink protection (a Referer check, a
// cookie check, a same-origin-only check), verdicts of addresses that later serve other bytes,
// and an incognito check that must leave the extension's whole database as it was.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import type { Page } from 'playwright-core';
import { launchWithExtension, type ExtensionSession } from '../support/chrome';
import { writesSettled } from '../support/extension-db';
import { callTestHook } from '../support/test-hooks';
import { startServer, type TestServer } from '../support/server';
import { guardedRoute, type GuardedRequest } from '../support/guarded-route';
import { waitForBadges, type BadgeReading } from '../support/badges';
import { PHOTOS_DIR, photoPath } from '../support/photos';
import { referenceScores } from '../support/python';

const A = 'chelsea.png';
const B = 'coins.png';
const C = 'camera.png';
/** The bytes an address serves after it changed: a picture no other test shows. */
const D = 'hubble-palette.png';
const E = 'coffee-alpha.png';

let server: TestServer;
let ext: ExtensionSession;
let ui: Page;
const reference = new Map<string, number>();
const bytesOf = (file: string): Buffer => readFileSync(photoPath(file));

type Seen = GuardedRequest;
/** Every request to the routes below, with the headers that decide. */
const seen: Seen[] = [];

function guarded(path: string, allow: (req: IncomingMessage) => boolean, file: string, headers: Record<string, string> = {}): void {
  guardedRoute(server, seen, path, allow, bytesOf(file), headers);
}

const pageOrigin = (): string => server.origin;

async function open(path: string, html: string): Promise<Page> {
  server.page(path, `<!doctype html><meta charset="utf-8"><title>${path}</title><body style="margin:0">${html}`);
  const page = await ext.context.newPage();
  await page.goto(`${server.origin}${path}`);
  return page;
}

const settled = (n: number) => (b: BadgeReading[]) => b.length >= n && b.every((x) => x.state !== 'checking');
const img = (src: string): string => `<img src="${src}" width="200" height="150" alt="">`;
const extensionRequests = (path: string): Seen[] => seen.filter((s) => s.path === path && s.dest === 'empty');

async function worker() {
  return ext.serviceWorker();
}

/** The extension's whole IndexedDB, read directly (not through its code): every store, every record. */
async function dumpDb(): Promise<Record<string, unknown[]>> {
  const sw = await worker();
  await writesSettled(sw);
  return sw.evaluate(
    () =>
      new Promise<Record<string, unknown[]>>((resolve, reject) => {
        const open = indexedDB.open('realfake-lens');
        open.onerror = () => reject(open.error);
        open.onsuccess = () => {
          const db = open.result;
          const names = [...db.objectStoreNames];
          const tx = db.transaction(names, 'readonly');
          const out: Record<string, unknown[]> = {};
          for (const n of names) {
            const r = tx.objectStore(n).getAll();
            r.onsuccess = () => (out[n] = r.result as unknown[]);
          }
          tx.oncomplete = () => {
            db.close();
            resolve(out);
          };
        };
      }),
  );
}

/**
 * Moves every cached prediction's times `ms` into the past, as if it had been made then. Writes
 * still landing from the page before go first: one landing after this would put a record back
 * with its old times.
 */
async function ageCache(ms: number): Promise<void> {
  const sw = await worker();
  await writesSettled(sw);
  await sw.evaluate(
    (by) =>
      new Promise<void>((resolve, reject) => {
        const open = indexedDB.open('realfake-lens');
        open.onerror = () => reject(open.error);
        open.onsuccess = () => {
          const db = open.result;
          const tx = db.transaction('predictions', 'readwrite');
          const store = tx.objectStore('predictions');
          const all = store.getAll();
          all.onsuccess = () => {
            for (const r of all.result as Array<{ createdAt: number; lastUsedAt: number; checkedAt?: number }>) {
              store.put({ ...r, createdAt: r.createdAt - by, lastUsedAt: r.lastUsedAt - by, ...(r.checkedAt ? { checkedAt: r.checkedAt - by } : {}) });
            }
          };
          tx.oncomplete = () => {
            db.close();
            resolve();
          };
          tx.onerror = () => reject(tx.error);
        };
      }),
    ms,
  );
}

type Stats = { inferences: number; cacheHits: number; hashHits: number; failures: number };
async function stats(): Promise<Stats> {
  const db = await dumpDb();
  const out: Stats = { inferences: 0, cacheHits: 0, hashHits: 0, failures: 0 };
  for (const r of (db.stats ?? []) as Array<{ name: keyof Stats; value: number }>) out[r.name] = r.value;
  return out;
}

async function setSync(values: Record<string, unknown>): Promise<void> {
  await ui.evaluate((v) => chrome.storage.sync.set(v), values);
}

function near(got: number | null | undefined, file: string): void {
  expect(Math.abs((got ?? NaN) - (reference.get(file) as number)), file).toBeLessThanOrEqual(1e-3);
}

beforeAll(async () => {
  const scores = await referenceScores([A, B, C, D, E].map(photoPath));
  for (const f of [A, B, C, D, E]) reference.set(f, scores.get(photoPath(f)) ?? NaN);
  server = await startServer(PHOTOS_DIR);
  ext = await launchWithExtension();
  await ext.context.addCookies([{ name: 'session', value: 'secret', url: server.origin }]);
  ui = await ext.context.newPage();
  await ui.goto(`chrome-extension://${ext.extensionId}/src/popup/index.html`);
}, 240_000);

afterAll(async () => {
  await ext?.close();
  await server?.close();
});

describe('hotlink protection', () => {
  it("a picture refused without the page's address as referrer gets its verdict, fetched once more naming the page, and says so", async () => {
    // Another site's server (localhost) that serves only requests naming a page of 127.0.0.1.
    guarded('/hot/referer.png', (req) => (req.headers.referer ?? '').startsWith(`${pageOrigin()}/`), A);
    const src = `${server.otherSiteOrigin}/hot/referer.png`;
    const page = await open('/hot-referer.html', img(src));
    const [badge] = await waitForBadges(page, settled(1));
    expect(badge?.state).toMatch(/^(generated|real)$/);
    near(badge?.p, A);
    expect(badge?.title).toContain("fetched again with the page's address as referrer (no cookies)");
    const asked = extensionRequests('/hot/referer.png');
    // The plain request first (refused), then one naming the page exactly as Chromium's own
    // <img> request did (the origin only, as the picture is on another site).
    const pageOwn = seen.find((r) => r.path === '/hot/referer.png' && r.dest === 'image');
    expect(pageOwn?.referer).toBe(`${pageOrigin()}/`);
    expect(asked.map((r) => [r.status, r.referer ?? null, r.cookie ?? null])).toEqual([
      [403, null, null],
      [200, pageOwn?.referer, null],
    ]);
    expect(await callTestHook(await worker(), 'activeReferrerRules')).toBe(0);
    await page.close();
  }, 120_000);

  it("a picture that needs the site's cookies fails with the reason, and gets its verdict once the user allows cookies for the site", async () => {
    guarded('/hot/cookie.png', (req) => (req.headers.cookie ?? '').includes('session=secret'), B);
    const page = await open('/hot-cookie.html', img('/hot/cookie.png'));
    const [refused] = await waitForBadges(page, settled(1));
    expect(refused).toMatchObject({ state: 'failed', reason: 'http-error', text: "Couldn't check: HTTP 403" });
    expect(refused?.title).toContain("the server may want the site's cookies");
    // The page loaded it with its cookie; the extension never sent one.
    expect(seen.some((r) => r.path === '/hot/cookie.png' && r.dest === 'image' && r.cookie?.includes('session=secret'))).toBe(true);
    expect(extensionRequests('/hot/cookie.png').every((r) => r.cookie === undefined)).toBe(true);
    await page.close();

    await setSync({ cookieSites: [new URL(server.origin).hostname] });
    const from = seen.length;
    const again = await open('/hot-cookie-allowed.html', img('/hot/cookie.png'));
    const [badge] = await waitForBadges(again, settled(1));
    expect(badge?.state).toMatch(/^(generated|real)$/);
    near(badge?.p, B);
    expect(badge?.title).toContain("this site's cookies, as you allowed in the options");
    const asked = seen.slice(from).filter((r) => r.path === '/hot/cookie.png' && r.dest === 'empty');
    // Still no cookie on the first request; only the retry carries it.
    expect(asked.map((r) => [r.status, r.cookie ?? null])).toEqual([
      [403, null],
      [200, 'session=secret'],
    ]);
    await setSync({ cookieSites: [] });
    await again.close();
  }, 120_000);

  it('a same-origin picture its server gives only to its own pages is read by the page and handed over', async () => {
    // Fetch-metadata isolation: only requests the page's own origin makes (and navigations).
    guarded('/hot/same-origin.png', (req) => req.headers['sec-fetch-site'] === 'same-origin', C);
    const page = await open('/hot-same-origin.html', img('/hot/same-origin.png'));
    const [badge] = await waitForBadges(page, settled(1));
    expect(badge?.state).toMatch(/^(generated|real)$/);
    near(badge?.p, C);
    expect(badge?.title).toContain('the page read the picture itself');
    const fromPage = seen.filter((r) => r.path === '/hot/same-origin.png' && r.status === 200 && r.dest === 'empty');
    // The page's read (its own fetch) carries no cookie.
    expect(fromPage.length).toBeGreaterThan(0);
    for (const r of fromPage) expect(r.cookie).toBeUndefined();
    await page.close();
  }, 120_000);

  it("another site's picture served only to CORS requests from the page's origin is read by the page", async () => {
    guarded('/hot/cors.png', (req) => req.headers.origin === pageOrigin(), E, { 'access-control-allow-origin': pageOrigin() });
    const src = `${server.otherSiteOrigin}/hot/cors.png`;
    const page = await open('/hot-cors.html', `<img crossorigin="anonymous" src="${src}" width="200" height="150" alt="">`);
    const [badge] = await waitForBadges(page, settled(1));
    expect(badge?.state).toMatch(/^(generated|real)$/);
    near(badge?.p, E);
    expect(badge?.title).toContain('the page read the picture itself');
    // Refused to the extension twice (plain, then naming the page), then read by the page without cookies.
    const asked = seen.filter((r) => r.path === '/hot/cors.png' && r.dest === 'empty');
    expect(asked.map((r) => r.status)).toEqual([403, 403, 200]);
    expect(asked.every((r) => r.cookie === undefined)).toBe(true);
    await page.close();
  }, 120_000);

  it("a picture that is missing for the page too is not asked for again: one cookie-less, referrer-less request", async () => {
    server.route('/hot/gone.png', (req, res) => {
      seen.push({ path: '/hot/gone.png', referer: req.headers.referer, cookie: req.headers.cookie, dest: req.headers['sec-fetch-dest'] as string | undefined, site: undefined, ifNoneMatch: undefined, ifModifiedSince: undefined, status: 404 });
      res.writeHead(404).end();
    });
    const page = await open('/hot-gone.html', img('/hot/gone.png'));
    const [badge] = await waitForBadges(page, settled(1));
    expect(badge).toMatchObject({ state: 'failed', text: "Couldn't check: HTTP 404" });
    expect(extensionRequests('/hot/gone.png').map((r) => [r.referer ?? null, r.cookie ?? null])).toEqual([[null, null]]);
    await page.close();
  }, 120_000);

});

describe('fresh verdicts', () => {
  /** Serves `current` at `path`; with validators (ETag and Last-Modified, 304 on a match) or none. */
  function swappable(path: string, validators: boolean): { set: (file: string) => void } {
    let current = A;
    server.route(path, (req, res) => {
      const body = bytesOf(current);
      const etag = `"${createHash('sha256').update(body).digest('hex').slice(0, 16)}"`;
      const lastModified = new Date(Date.UTC(2024, 0, current.length)).toUTCString();
      const entry: Seen = { path, referer: req.headers.referer, cookie: req.headers.cookie, dest: req.headers['sec-fetch-dest'] as string | undefined, site: undefined, ifNoneMatch: req.headers['if-none-match'], ifModifiedSince: req.headers['if-modified-since'], status: 200 };
      seen.push(entry);
      if (validators && req.headers['if-none-match'] === etag) {
        entry.status = 304;
        res.writeHead(304, { etag }).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'image/png', 'cache-control': 'no-store', ...(validators ? { etag, 'last-modified': lastModified } : {}) }).end(body);
    });
    return { set: (file) => void (current = file) };
  }

  it('an address older than a day is asked again: unchanged bytes cost no inference, new bytes get a new verdict', async () => {
    const tagged = swappable('/swap/tagged.png', true);
    const plain = swappable('/swap/plain.png', false);
    const html = img('/swap/tagged.png') + img('/swap/plain.png');
    const load = async (name: string, done = settled(2), until?: () => boolean): Promise<BadgeReading[]> => {
      const page = await open(`/swap-${name}.html`, html);
      const badges = await waitForBadges(page, done);
      // A stale verdict shows at once while its address is asked again: the page stays open until
      // `until` (closing it would withdraw a check not started yet).
      if (until) await expect.poll(until, { timeout: 60_000 }).toBe(true);
      await page.close();
      return badges;
    };
    const p = (badges: BadgeReading[], path: string): number | null => badges.find((b) => b.src.endsWith(path))?.p ?? null;

    const first = await load('1');
    near(p(first, '/swap/tagged.png'), A);
    const s1 = await stats();

    // Within a day the cached verdict is used as it is, even though the address changed meanwhile.
    tagged.set(D);
    plain.set(D);
    const from2 = seen.length;
    const second = await load('2');
    near(p(second, '/swap/tagged.png'), A);
    expect(seen.slice(from2).filter((r) => r.path.startsWith('/swap/') && r.dest === 'empty')).toEqual([]);

    // A day later, the same bytes again: a 304 (validators) or a full download of identical bytes.
    tagged.set(A);
    plain.set(A);
    await ageCache(25 * 3_600_000);
    const from3 = seen.length;
    const swapFetches = (from: number) => seen.slice(from).filter((r) => r.path.startsWith('/swap/') && r.dest === 'empty');
    const third = await load('3', settled(2), () => swapFetches(from3).length >= 2);
    near(p(third, '/swap/tagged.png'), A);
    near(p(third, '/swap/plain.png'), A);
    const asked3 = swapFetches(from3);
    expect(asked3.map((r) => [r.path, r.status, r.ifNoneMatch !== undefined])).toEqual(
      expect.arrayContaining([
        ['/swap/tagged.png', 304, true],
        ['/swap/plain.png', 200, false],
      ]),
    );
    expect(asked3).toHaveLength(2);
    const s3 = await stats();
    expect(s3.inferences).toBe(s1.inferences);

    // A day later again, with other bytes behind both addresses: judged anew.
    tagged.set(D);
    plain.set(D);
    await ageCache(25 * 3_600_000);
    // The day-old verdict shows while the address is asked again, then the new one replaces it.
    const isD = (b: BadgeReading): boolean => Math.abs((b.p ?? NaN) - (reference.get(D) as number)) <= 1e-3;
    const fourth = await load('4', (b) => settled(2)(b) && b.filter(isD).length === 2);
    near(p(fourth, '/swap/tagged.png'), D);
    near(p(fourth, '/swap/plain.png'), D);
    const s4 = await stats();
    // D was never judged before: one inference (the second address finds it by its hash).
    expect(s4.inferences + s4.hashHits - s3.inferences - s3.hashHits).toBe(2);
    expect(s4.inferences - s3.inferences).toBeGreaterThanOrEqual(1);
    // And the next load within the day uses the new verdict.
    const fifth = await load('5');
    near(p(fifth, '/swap/tagged.png'), D);
    expect((await stats()).inferences).toBe(s4.inferences);
  }, 240_000);
});

describe('incognito', () => {
  // Playwright cannot open incognito windows with an extension (microsoft/playwright#11833): the
  // service worker's own checkImage is driven with an incognito tab, and the whole database is
  // compared before and after.
  it('writes nothing at all (cache, history, counters), on a new picture, a cached one, a stale one and a failure', async () => {
    await setSync({ incognitoHistory: false });
    server.route('/incognito/missing.png', (_req, res) => void res.writeHead(404).end());
    const check = async (url: string) =>
      callTestHook(await worker(), 'checkImage', {
        url,
        minSide: 0,
        pageUrl: `${server.origin}/incognito.html`,
        tabUrl: `${server.origin}/incognito.html`,
        pageTitle: 'incognito',
        tabId: 434343,
        incognito: true,
        priority: 'visible',
        owner: `434343/doc/${url}`,
      });
    // A picture already cached (from the swap test) and made old enough to be revalidated
    // and, in a normal tab, touched as used.
    await ageCache(25 * 3_600_000);
    const before = await dumpDb();
    const fresh = await check(`${server.origin}/static/${A}?incognito-new`);
    expect(fresh?.status).toBe('done');
    near(fresh?.status === 'done' ? fresh.pGenerated : null, A);
    const stale = await check(`${server.origin}/swap/tagged.png`);
    expect(stale?.status).toBe('done');
    expect((await check(`${server.origin}/incognito/missing.png`))?.status).toBe('failed');
    expect(await dumpDb()).toEqual(before);

    // The same path with the user's permission does write: the comparison above can fail.
    await setSync({ incognitoHistory: true });
    await check(`${server.origin}/static/${A}?incognito-allowed`);
    expect(await dumpDb()).not.toEqual(before);
    await setSync({ incognitoHistory: false });
  }, 120_000);
});

describe('request audit', () => {
  it('no request of the extension carried a cookie or a referrer but the retries after a refusal', () => {
    const fromExtension = seen.filter((r) => r.dest === 'empty');
    const plain = fromExtension.filter((r) => !r.path.startsWith('/hot/'));
    expect(plain.length).toBeGreaterThan(6);
    expect(plain.filter((r) => r.cookie !== undefined || r.referer !== undefined).map((r) => `${r.path} ${r.referer} ${r.cookie}`)).toEqual([]);
    // For each refused picture the first request was plain too.
    for (const path of ['/hot/referer.png', '/hot/cookie.png', '/hot/same-origin.png', '/hot/cors.png', '/hot/gone.png']) {
      const first = fromExtension.find((r) => r.path === path);
      expect(first, path).toMatchObject({ status: path === '/hot/gone.png' ? 404 : 403, referer: undefined, cookie: undefined });
    }
  });
});

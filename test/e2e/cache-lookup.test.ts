// The cache asked as soon as pictures are found (content/lookup): in real Chromium with the test
// build, a page whose verdicts are cached is badged with no request to the engine and no check,
// at the threshold in force now; a stale verdict is still checked against the server; and a
// switched-off site asks nothing at all. What the service worker receives is recorded by a
// listener of its own runtime.onMessage, and what the engine fetched by the test server's log.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { launchWithExtension, type ExtensionSession } from '../support/chrome';
import { fromExtensionPage } from '../support/contexts';
import { readExtensionStore, writesSettled } from '../support/extension-db';
import { startServer, type TestServer } from '../support/server';
import { waitForBadges, type BadgeReading } from '../support/badges';
import { writeSyntheticPictures } from '../support/png';

let dir: string;
let server: TestServer;
let ext: ExtensionSession;
let files: string[];

const settled = (n: number) => (b: BadgeReading[]) => b.length === n && b.every((x) => x.state !== 'checking');

function gridPage(files: string[], query: string): string {
  const imgs = files.map((f) => `<img src="/static/${f}${query}" width="200" height="200" alt="">`).join('\n');
  return `<!doctype html><html><head><meta charset="utf-8"><title>cached</title>
<style>body{margin:8px} main{display:flex;flex-wrap:wrap;gap:8px} img{display:block}</style></head><body><main>${imgs}</main></body></html>`;
}

/** The pictures the extension itself fetched (Sec-Fetch-Dest "empty"), not the page's own loads. */
const engineFetches = (from: number, query: string): string[] =>
  server.log.slice(from).filter((e) => e.dest === 'empty' && e.url.includes(query)).map((e) => e.url);

/** Starts recording the kinds of the messages content scripts send the service worker. */
async function recordWorkerMessages(): Promise<void> {
  const worker = await ext.serviceWorker();
  await worker.evaluate(() => {
    const g = globalThis as unknown as { __kinds?: string[] };
    if (g.__kinds) {
      g.__kinds.length = 0;
      return;
    }
    g.__kinds = [];
    chrome.runtime.onMessage.addListener((m: { kind?: unknown }, sender) => {
      if (sender.tab && typeof m?.kind === 'string') g.__kinds?.push(m.kind);
    });
  });
}

async function workerMessages(): Promise<string[]> {
  const worker = await ext.serviceWorker();
  return worker.evaluate(() => [...((globalThis as unknown as { __kinds?: string[] }).__kinds ?? [])]);
}

/** One object store of the extension's IndexedDB, read directly. */
const readStore = <T>(store: string): Promise<T[]> => readExtensionStore<T>(ext, store);

async function stat(name: string): Promise<number> {
  return (await readStore<{ name: string; value: number }>('stats')).find((s) => s.name === name)?.value ?? 0;
}

/** Moves the predictions of addresses containing `query` `ms` into the past. */
async function agePredictions(query: string, ms: number): Promise<void> {
  const worker = await ext.serviceWorker();
  await writesSettled(worker);
  await worker.evaluate(
    ([q, by]) =>
      new Promise<void>((resolve, reject) => {
        const open = indexedDB.open('realfake-lens');
        open.onerror = () => reject(open.error);
        open.onsuccess = () => {
          const tx = open.result.transaction('predictions', 'readwrite');
          const store = tx.objectStore('predictions');
          const all = store.getAll();
          all.onsuccess = () => {
            for (const r of all.result as Array<{ url: string; createdAt: number; lastUsedAt: number; checkedAt: number }>) {
              if (r.url.includes(q)) store.put({ ...r, createdAt: r.createdAt - by, lastUsedAt: r.lastUsedAt - by, checkedAt: r.checkedAt - by });
            }
          };
          tx.oncomplete = () => {
            open.result.close();
            resolve();
          };
          tx.onerror = () => reject(tx.error);
        };
      }),
    [query, ms] as const,
  );
}

async function setSync(values: Record<string, unknown>): Promise<void> {
  await fromExtensionPage(ext, '(v) => chrome.storage.sync.set(v)', values);
}

async function open(path: string): Promise<Page> {
  const page = await ext.context.newPage();
  await page.goto(`${server.origin}${path}`);
  return page;
}

/** Visits `path` once, so the cache knows its pictures; returns their badges once settled. */
async function judgedOnce(path: string): Promise<BadgeReading[]> {
  const first = await open(path);
  const judged = await waitForBadges(first, settled(files.length));
  await first.close();
  return judged;
}

/** Every badge shows the score the first visit gave its picture. */
function expectScoresOf(shown: BadgeReading[], judged: BadgeReading[]): void {
  for (const b of shown) expect(b.p, b.src).toBe(judged.find((j) => j.src === b.src)?.p);
}

async function tabCounts(pageUrl: string): Promise<{ checked: number; suspected: number }> {
  const worker = await ext.serviceWorker();
  const tabId = await worker.evaluate(async (url) => (await chrome.tabs.query({ url }))[0]?.id, pageUrl);
  const reply = await fromExtensionPage<{ counts: { checked: number; suspected: number } }>(ext, '(m) => chrome.runtime.sendMessage(m)', {
    kind: 'ui/get-tab',
    tabId,
  });
  return reply.counts;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'rfl-lookup-'));
  files = writeSyntheticPictures(dir, 4, 200, 23);
  server = await startServer(dir);
  server.page('/fresh.html', gridPage(files, '?fresh'));
  server.page('/stale.html', gridPage(files, '?stale'));
  server.page('/off.html', gridPage(files, '?off'));
  server.page('/loading.html', gridPage(files, '?loading'));
  server.page('/parsing.html', gridPage(files, '?parsing'));
  // The same pictures and one the cache does not know, then a script that holds the rest of the
  // page's parsing for seconds.
  server.route('/hold.js', (_req, res) => void setTimeout(() => res.writeHead(200, { 'content-type': 'text/javascript' }).end(';'), 5_000));
  server.page(
    '/parsing-held.html',
    gridPage(files, '?parsing').replace(
      '</main>',
      `<img src="/static/${files[0]}?parsing-new" width="200" height="200" alt=""></main><script src="/hold.js"></script><p>after the script</p>`,
    ),
  );
  ext = await launchWithExtension();
}, 180_000);

afterAll(async () => {
  await ext?.close();
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('cached verdicts, looked up as pictures are found', () => {
  it('badges a cached page with no request to the engine and no check, at the threshold in force now, and counts it', async () => {
    const judged = await judgedOnce('/fresh.html');
    const p = new Map(judged.map((b) => [b.src, b.p as number]));
    const scores = [...p.values()].sort((a, b) => a - b);
    expect(scores.every((x) => Number.isFinite(x))).toBe(true);
    expect(scores[0]).toBeLessThan(scores[scores.length - 1] as number);
    // A threshold between two scores: at least one picture's label differs from the default's.
    const threshold = Math.round(((scores[1] as number) + (scores[2] as number)) * 500) / 1000;
    await setSync({ threshold });

    await recordWorkerMessages();
    const fetchesBefore = server.log.length;
    const inferences = await stat('inferences');
    const hits = await stat('cacheHits');
    const again = await open('/fresh.html');
    const shown = await waitForBadges(again, settled(files.length));
    for (const b of shown) {
      expect(b.p, b.src).toBe(p.get(b.src));
      expect(b.state, b.src).toBe((b.p as number) >= threshold ? 'generated' : 'real');
    }
    // No fetch, no inference, no check: the lookup answered it all.
    expect(engineFetches(fetchesBefore, '?fresh')).toEqual([]);
    expect(await stat('inferences')).toBe(inferences);
    const kinds = await workerMessages();
    expect(kinds).toContain('content/lookup');
    expect(kinds).not.toContain('content/check');
    // Counted as cache hits, for the statistics and the tab, at the threshold in force.
    await expect.poll(() => stat('cacheHits')).toBe(hits + files.length);
    await expect
      .poll(() => tabCounts(again.url()))
      .toEqual({ checked: files.length, suspected: scores.filter((x) => x >= threshold).length, failed: 0 });
    await again.close();
    await fromExtensionPage(ext, '(k) => chrome.storage.sync.remove(k)', 'threshold');
  }, 120_000);

  it('badges a cached picture while it is still loading, and keeps the badge once it has loaded', async () => {
    const judged = await judgedOnce('/loading.html');

    // The page's own loads of these pictures now take seconds (a slow network).
    server.delayStatic((e) => (e.dest === 'image' && e.url.includes('?loading') ? 4_000 : 0));
    await recordWorkerMessages();
    const fetchesBefore = server.log.length;
    const page = await ext.context.newPage();
    try {
      await page.goto(`${server.origin}/loading.html`, { waitUntil: 'domcontentloaded' });
      const shown = await waitForBadges(page, settled(files.length));
      // Badged from the cache before a single byte of them arrived.
      expect(await page.evaluate(() => [...document.images].filter((i) => i.complete).length)).toBe(0);
      expectScoresOf(shown, judged);
      // Loaded: read again with their own size, still badged, still never checked.
      await page.waitForFunction(() => [...document.images].every((i) => i.complete), null, { timeout: 30_000 });
      const loaded = await waitForBadges(page, settled(files.length));
      expectScoresOf(loaded, judged);
      expect(engineFetches(fetchesBefore, '?loading')).toEqual([]);
      expect(await workerMessages()).not.toContain('content/check');
    } finally {
      server.delayStatic(() => 0);
      await page.close();
    }
  }, 120_000);

  it('badges cached pictures while the page is still being parsed, and checks the others once it is', async () => {
    const judged = await judgedOnce('/parsing.html');

    await recordWorkerMessages();
    const page = await ext.context.newPage();
    try {
      await page.goto(`${server.origin}/parsing-held.html`, { waitUntil: 'commit' });
      const shown = await waitForBadges(page, settled(files.length), 20_000);
      // Badged before the page's own script let the parser go on.
      expect(await page.evaluate(() => [document.readyState, document.querySelector('p') === null])).toEqual(['loading', true]);
      expectScoresOf(shown, judged);
      // The picture the cache did not know is not asked about while the page is parsed (where it
      // ends up is not settled yet)...
      await page.waitForFunction(() => [...document.images].every((i) => i.complete));
      expect(await page.evaluate(() => document.readyState)).toBe('loading');
      expect(await workerMessages()).not.toContain('content/check');
      // ...but once it is.
      await page.waitForFunction(() => document.readyState !== 'loading', null, { timeout: 20_000 });
      const all = await waitForBadges(page, settled(files.length + 1), 30_000);
      expect(all.map((b) => b.src)).toContain(`${server.origin}/static/${files[0]}?parsing-new`);
      expect(await workerMessages()).toContain('content/check');
    } finally {
      await page.close();
    }
  }, 120_000);

  it('shows a stale cached verdict and checks it against the server again', async () => {
    const judged = await judgedOnce('/stale.html');
    await agePredictions('?stale', 25 * 3_600_000);

    await recordWorkerMessages();
    const fetchesBefore = server.log.length;
    const page = await open('/stale.html');
    const shown = await waitForBadges(page, settled(files.length));
    expectScoresOf(shown, judged);
    // Each address asked again (the server has no validators: a plain download, the same bytes).
    await expect.poll(() => engineFetches(fetchesBefore, '?stale').length, { timeout: 60_000 }).toBe(files.length);
    expect(await workerMessages()).toContain('content/check');
    await expect
      .poll(async () => {
        const records = await readStore<{ url: string; checkedAt: number }>('predictions');
        return records.filter((r) => r.url.includes('?stale') && Date.now() - r.checkedAt < 3_600_000).length;
      })
      .toBe(files.length);
    await page.close();
  }, 120_000);

  it('asks nothing at all, not even the cache, on a switched-off site', async () => {
    await judgedOnce('/off.html');
    const site = new URL(server.origin).hostname;
    await fromExtensionPage(ext, '(m) => chrome.runtime.sendMessage(m)', { kind: 'ui/set-site-enabled', site, enabled: false });

    await recordWorkerMessages();
    const page = await open('/off.html');
    await page.waitForLoadState('load');
    await new Promise((r) => setTimeout(r, 1_500));
    expect(await workerMessages()).toEqual([]);
    await fromExtensionPage(ext, '(m) => chrome.runtime.sendMessage(m)', { kind: 'ui/set-site-enabled', site, enabled: true });
    // Switched on again: the cache answers, with no check.
    await waitForBadges(page, settled(files.length));
    expect(await workerMessages()).toContain('content/lookup');
    expect(await workerMessages()).not.toContain('content/check');
    await page.close();
  }, 120_000);
});

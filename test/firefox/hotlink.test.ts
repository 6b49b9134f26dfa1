// Hotlink protection in real Firefox ESR: a picture on another site whose server refuses requests
// that do not name the page showing it. The extension's first fetch carries no referrer and is
// refused; its one retry carries the page's address, set by a declarativeNetRequest session rule
// that matches only this extension's own request (src/background/hotlink.ts), and is served.
// The same case in Chromium is in test/e2e/hotlink.test.ts.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import type { BadgeReading } from '../support/badges';
import { launchFirefoxWithExtension, type ExtensionTab, type FirefoxSession } from '../support/firefox';
import { guardedRoute, type GuardedRequest } from '../support/guarded-route';
import { photoPath } from '../support/photos';
import { referenceScores } from '../support/python';
import { startServer, type TestServer } from '../support/server';

const A = 'chelsea.png';

let server: TestServer;
let ff: FirefoxSession;
let ui: ExtensionTab;
let reference: number;
const seen: GuardedRequest[] = [];

beforeAll(async () => {
  reference = (await referenceScores([photoPath(A)])).get(photoPath(A)) as number;
  server = await startServer(photoPath('.'));
  ff = await launchFirefoxWithExtension();
  ui = await ff.openExtensionPage('src/options/index.html');
}, 300_000);

afterAll(async () => {
  await ff?.close();
  await server?.close();
});

describe('Firefox: hotlink protection', () => {
  it("a picture refused without the page's address as referrer gets its verdict, fetched once more naming the page", async () => {
    // Another site's server (localhost) that serves only requests naming a page of 127.0.0.1.
    const path = '/hot/referer.png';
    guardedRoute(server, seen, path, (req) => (req.headers.referer ?? '').startsWith(`${server.origin}/`), readFileSync(photoPath(A)));
    server.page('/hot-referer.html', `<!doctype html><meta charset="utf-8"><title>hotlink</title><img src="${server.otherSiteOrigin}${path}" width="200" height="150" alt="">`);
    const page = await ff.newPage();
    await page.goto(`${server.origin}/hot-referer.html`);
    const [badge] = await ff.waitForBadges(page, (b: BadgeReading[]) => b.length === 1 && b[0]?.state !== 'checking', 150_000);
    expect(badge?.state, `${badge?.state} ${badge?.reason} ${badge?.title}`).toMatch(/^(generated|real)$/);
    expect(Math.abs((badge?.p ?? NaN) - reference)).toBeLessThanOrEqual(1e-3);
    expect(badge?.title).toContain("fetched again with the page's address as referrer (no cookies)");
    // Firefox's own <img> request named the page by its origin (another site); the extension's
    // plain request came first (refused), then one naming the page exactly so.
    const pageOwn = seen.find((r) => r.dest === 'image');
    expect(pageOwn?.referer).toBe(`${server.origin}/`);
    const asked = seen.filter((r) => r.dest !== 'image');
    expect(asked.map((r) => [r.status, r.referer ?? null, r.cookie ?? null])).toEqual([
      [403, null, null],
      [200, pageOwn?.referer, null],
    ]);
    // The rule lived only during the retry.
    const rules = await ui.evaluate<number>('chrome.runtime.getBackgroundPage().then((bg) => bg.realfakeLensTestHooks.activeReferrerRules())');
    expect(rules).toBe(0);
    await page.close();
  }, 180_000);
});

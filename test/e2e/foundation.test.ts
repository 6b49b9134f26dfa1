// The whole path in real Chromium: a page of real photographs on 127.0.0.1, the built
// extension judging each with the fixture model in its offscreen document, badges whose
// scores equal the PyTorch reference, the IndexedDB cache on reload, and bad input.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { launchWithExtension, type ExtensionSession } from '../support/chrome';
import { writesSettled } from '../support/extension-db';
import { startServer, type TestServer } from '../support/server';
import { waitForBadges, type BadgeReading } from '../support/badges';
import { PHOTOS_DIR, photoIndex, type PhotoInfo } from '../support/photos';
import { referenceScores } from '../support/python';

const ARTIFACTS = join(import.meta.dirname, '../../artifacts/e2e');

let server: TestServer;
let ext: ExtensionSession;
let photos: PhotoInfo[];
let reference: Map<string, number>;

function photoPage(): string {
  const imgs = photos
    .map((p) => `<figure><img src="/static/${p.file}" width="${p.width}" height="${p.height}" alt=""><figcaption>${p.file}</figcaption></figure>`)
    .join('\n');
  return `<!doctype html><html><head><meta charset="utf-8"><title>photos</title>
<style>body{margin:16px;font:14px sans-serif} main{display:flex;flex-wrap:wrap;gap:12px} figure{margin:0} img{display:block}</style>
</head><body><main>
${imgs}
<figure><img src="/missing.jpg" width="200" height="150" alt="missing"><figcaption>404</figcaption></figure>
<figure><img src="/html-as-jpeg.jpg" width="200" height="150" alt="html"><figcaption>HTML as image/jpeg</figcaption></figure>
</main></body></html>`;
}

async function readStats(): Promise<{ inferences: number; cacheHits: number; failures: number }> {
  const worker = await ext.serviceWorker();
  await writesSettled(worker);
  // Reads the extension's real IndexedDB directly, not through the extension's own code.
  return worker.evaluate(
    () =>
      new Promise<{ inferences: number; cacheHits: number; failures: number }>((resolve, reject) => {
        const open = indexedDB.open('realfake-lens');
        open.onerror = () => reject(open.error);
        open.onsuccess = () => {
          const tx = open.result.transaction('stats', 'readonly');
          const all = tx.objectStore('stats').getAll();
          all.onsuccess = () => {
            const out = { inferences: 0, cacheHits: 0, failures: 0 } as Record<string, number>;
            for (const r of all.result as Array<{ name: string; value: number }>) out[r.name] = r.value;
            open.result.close();
            resolve(out as { inferences: number; cacheHits: number; failures: number });
          };
        };
      }),
  );
}

const judgeable = (): PhotoInfo[] => photos.filter((p) => !p.small);
const expectedBadges = (): number => judgeable().length + 2;
const settled = (b: BadgeReading[]): boolean => b.length >= expectedBadges() && b.every((x) => x.state !== 'checking');

async function openPhotos(): Promise<Page> {
  const page = await ext.context.newPage();
  // Pictures are checked when in or near the viewport: a tall one puts every photo there.
  await page.setViewportSize({ width: 1280, height: 4000 });
  await page.goto(`${server.origin}/photos.html`);
  return page;
}

beforeAll(async () => {
  photos = photoIndex();
  reference = await referenceScores(judgeable().map((p) => join(PHOTOS_DIR, p.file)));
  server = await startServer(PHOTOS_DIR);
  server.page('/photos.html', photoPage());
  server.route('/html-as-jpeg.jpg', (_req, res) => {
    res.writeHead(200, { 'content-type': 'image/jpeg' });
    res.end('<!doctype html><html><body>This is not a picture.</body></html>');
  });
  ext = await launchWithExtension();
  await ext.context.addCookies([{ name: 'session', value: 'secret', url: server.origin }]);
  mkdirSync(ARTIFACTS, { recursive: true });
});

afterAll(async () => {
  await ext?.close();
  await server?.close();
});

describe('foundation: a page of photographs', () => {
  let first: BadgeReading[];

  it('badges every image of 128 px or more, and none smaller', async () => {
    const page = await openPhotos();
    first = await waitForBadges(page, settled);
    await page.screenshot({ path: join(ARTIFACTS, 'photos.png'), fullPage: true });
    const srcs = first.map((b) => new URL(b.src).pathname);
    for (const p of photos) {
      expect(srcs.filter((s) => s === `/static/${p.file}`).length, p.file).toBe(p.small ? 0 : 1);
    }
    expect(first).toHaveLength(expectedBadges());
    await page.close();
  });

  it("gives each photo the PyTorch reference's probability (within 1e-3)", () => {
    const diffs: Array<[string, number, number]> = [];
    for (const p of judgeable()) {
      const badge = first.find((b) => b.src.endsWith(`/static/${p.file}`));
      expect(badge?.state, p.file).toMatch(/^(generated|real)$/);
      const want = reference.get(join(PHOTOS_DIR, p.file));
      expect(want, p.file).toBeTypeOf('number');
      diffs.push([p.file, badge?.p ?? NaN, want ?? NaN]);
    }
    console.log('browser vs PyTorch p(generated):');
    for (const [f, got, want] of diffs) console.log(`  ${f.padEnd(28)} ${got.toFixed(6)} ${want.toFixed(6)}  |Δ| ${Math.abs(got - want).toExponential(2)}`);
    for (const [f, got, want] of diffs) expect(Math.abs(got - want), f).toBeLessThanOrEqual(1e-3);
  });

  it('says plainly that the scores come from the test model', () => {
    for (const b of first.filter((x) => x.state === 'generated' || x.state === 'real')) {
      expect(b.text).toMatch(/^TEST · Likely (generated|real) \d+%$/);
      expect(b.title).toContain('TEST MODEL');
      expect(b.ariaLabel).toContain('test model');
    }
  });

  it('shows "couldn\'t check" with the reason for a 404 and for HTML served as a JPEG', () => {
    const missing = first.find((b) => b.src.endsWith('/missing.jpg'));
    const html = first.find((b) => b.src.endsWith('/html-as-jpeg.jpg'));
    expect(missing).toMatchObject({ state: 'failed', reason: 'http-error', text: "Couldn't check: HTTP 404" });
    expect(html).toMatchObject({ state: 'failed', reason: 'not-an-image', text: "Couldn't check: not an image" });
  });

  it('serves a second load of the page from the IndexedDB cache, with no new inference', async () => {
    const before = await readStats();
    expect(before.inferences).toBe(judgeable().length);
    const page = await openPhotos();
    const second = await waitForBadges(page, settled);
    const after = await readStats();
    expect(after.inferences).toBe(before.inferences);
    expect(after.cacheHits - before.cacheHits).toBe(judgeable().length);
    for (const b of second.filter((x) => x.p !== null)) {
      expect(b.p).toBe(first.find((f) => f.src === b.src)?.p);
    }
    await page.close();
  });

  it("fetched the images itself without the page's cookies or referrer", () => {
    const pageLoads = server.log.filter((r) => r.path.startsWith('/static/') && r.dest === 'image');
    const extensionFetches = server.log.filter((r) => r.path.startsWith('/static/') && r.dest === 'empty');
    // The page's own requests carry the cookie, so the test would see one if the extension leaked it.
    expect(pageLoads.some((r) => r.cookie?.includes('session=secret'))).toBe(true);
    expect(extensionFetches.length).toBe(judgeable().length);
    for (const r of extensionFetches) {
      expect(r.cookie, r.path).toBeUndefined();
      expect(r.referer, r.path).toBeUndefined();
    }
  });
});


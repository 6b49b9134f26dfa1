// "Check image with Realfake Lens" on any picture a person points at, in real Chromium: a CSS
// background, a picture under a transparent overlay (with a 1 px spacer image on top, which
// Chrome itself reports as the image), a video poster, an SVG <image>, a background inside an
// open shadow root, blob: and data: pictures (sent as bytes, as the scanner sends them), and a
// spot with no picture (said plainly). The site is switched off, so every badge on the page is
// the menu's; each score is PyTorch's on the same file. See test/support/menu.ts for how the
// menu item is chosen in headless Chromium.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { launchWithExtension, type ExtensionSession } from '../support/chrome';
import { fromExtensionPage } from '../support/contexts';
import { startServer, type TestServer } from '../support/server';
import { readBadges, waitForBadges, type BadgeReading } from '../support/badges';
import { chooseCheckImage, menuRegistered } from '../support/menu';
import { PHOTOS_DIR } from '../support/photos';
import { referenceScores } from '../support/python';

const ARTIFACTS = join(import.meta.dirname, '../../artifacts/e2e');
const PHOTOS = ['camera.png', 'chelsea.png', 'coins.png', 'rocket.jpg', 'retina.jpg', 'small-camera.png', 'hubble-palette.png'];
const PIXEL_GIF = Buffer.from('R0lGODlhAQABAIAAAP///wAAACH5BAEAAAAALAAAAAABAAEAAAICRAEAOw==', 'base64');

let server: TestServer;
let ext: ExtensionSession;
const reference = new Map<string, number>();

const judged = (b: BadgeReading): boolean => b.state === 'generated' || b.state === 'real';

function menuPage(): string {
  return `<!doctype html><html><head><meta charset="utf-8"><title>menu</title>
<style>body{margin:8px;font:14px sans-serif} section{display:flex;flex-wrap:wrap;gap:12px;align-items:flex-start}
.wrap{position:relative;width:300px;height:200px} .wrap img{display:block}
.veil{position:absolute;inset:0;background:transparent} .veil img{width:100%;height:100%}</style>
</head><body><section>
<div id="bg" style="width:300px;height:200px;background:url('/static/rocket.jpg?menu-bg') center/cover no-repeat"></div>
<div class="wrap" id="overlaid"><img src="/static/chelsea.png?menu-under" width="300" height="200" alt=""><div class="veil"><img src="/pixel.gif" alt=""></div></div>
<video id="poster" poster="/static/coins.png?menu-poster" width="320" height="240"></video>
<svg id="svg" width="300" height="200"><image href="/static/camera.png?menu-svg" width="300" height="200"/></svg>
<div id="shadow-host" style="width:200px;height:200px"></div>
<img id="blob" width="220" height="160" alt="">
<img id="data" width="220" height="160" alt="">
<p id="nothing" style="width:300px;height:60px">No picture here, only words.</p>
</section>
<script>
  const root = document.getElementById('shadow-host').attachShadow({ mode: 'open' });
  const inner = document.createElement('div');
  inner.style.cssText = "width:200px;height:200px;background:url('/static/small-camera.png?menu-shadow') center/contain no-repeat";
  root.append(inner);
  fetch('/static/retina.jpg?menu-blob').then((r) => r.blob()).then((b) => { document.getElementById('blob').src = URL.createObjectURL(b); });
  fetch('/static/hubble-palette.png?menu-data').then((r) => r.blob()).then((b) => {
    const fr = new FileReader();
    fr.onload = () => { document.getElementById('data').src = fr.result; };
    fr.readAsDataURL(b);
  });
</script></body></html>`;
}

async function setSiteEnabled(site: string, enabled: boolean): Promise<void> {
  await fromExtensionPage(ext, '(m) => chrome.runtime.sendMessage(m)', { kind: 'ui/set-site-enabled', site, enabled });
}

/** The centre of `selector`'s box, in viewport coordinates. */
async function centre(page: Page, selector: string): Promise<{ x: number; y: number }> {
  const box = await page.locator(selector).boundingBox();
  if (!box) throw new Error(`${selector} has no box`);
  return { x: box.x + box.width / 2, y: box.y + box.height / 2 };
}

/** Fetches of `part` with Sec-Fetch-Dest "empty": the extension's (the page's <img> loads say "image"), and the page script's. */
const extensionFetches = (part: string): number => server.log.filter((e) => e.dest === 'empty' && e.url.includes(part)).length;

beforeAll(async () => {
  const scores = await referenceScores(PHOTOS.map((f) => join(PHOTOS_DIR, f)));
  for (const f of PHOTOS) reference.set(f, scores.get(join(PHOTOS_DIR, f)) as number);
  server = await startServer(PHOTOS_DIR);
  server.route('/pixel.gif', (_req, res) => res.writeHead(200, { 'content-type': 'image/gif' }).end(PIXEL_GIF));
  server.page('/menu.html', menuPage());
  ext = await launchWithExtension();
  mkdirSync(ARTIFACTS, { recursive: true });
}, 300_000);

afterAll(async () => {
  await ext?.close();
  await server?.close();
});

describe('"Check image" from the context menu', () => {
  it('is registered at startup', async () => {
    expect(await menuRegistered(ext)).toBe(true);
  });

  it('judges the picture under the pointer: background, under an overlay, poster, SVG, shadow root, blob:, data:', async () => {
    // Switched off: the page's own scan checks nothing, so every badge is one the menu asked for.
    await setSiteEnabled('127.0.0.1', false);
    const page = await ext.context.newPage();
    await page.goto(`${server.origin}/menu.html`);
    await page.waitForFunction(() => ['blob', 'data'].every((id) => (document.getElementById(id) as HTMLImageElement).complete && (document.getElementById(id) as HTMLImageElement).naturalWidth > 0));
    const blobSrc = await page.evaluate(() => (document.getElementById('blob') as HTMLImageElement).src);
    const dataSrc = await page.evaluate(() => (document.getElementById('data') as HTMLImageElement).src);
    expect(dataSrc.length).toBeGreaterThan(8192); // too long to travel as an address: sent as bytes
    await new Promise((r) => setTimeout(r, 1_000));
    expect(await readBadges(page)).toEqual([]);

    const cases = [
      { selector: '#bg', src: `${server.origin}/static/rocket.jpg?menu-bg`, file: 'rocket.jpg', kind: 'background' },
      { selector: '#overlaid', src: `${server.origin}/static/chelsea.png?menu-under`, file: 'chelsea.png', kind: 'img' },
      { selector: '#poster', src: `${server.origin}/static/coins.png?menu-poster`, file: 'coins.png', kind: 'poster' },
      { selector: '#svg', src: `${server.origin}/static/camera.png?menu-svg`, file: 'camera.png', kind: 'svg-image' },
      { selector: '#shadow-host', src: `${server.origin}/static/small-camera.png?menu-shadow`, file: 'small-camera.png', kind: 'background' },
      { selector: '#blob', src: blobSrc, file: 'retina.jpg', kind: 'img' },
      { selector: '#data', src: dataSrc, file: 'hubble-palette.png', kind: 'img' },
    ];
    for (const c of cases) {
      const { x, y } = await centre(page, c.selector);
      await chooseCheckImage(ext, page, x, y);
      const badges = await waitForBadges(page, (b) => b.some((x) => x.src === c.src && judged(x)), 60_000);
      const badge = badges.find((b) => b.src === c.src)!;
      expect(badge.kind, c.selector).toBe(c.kind);
      expect(Math.abs((badge.p ?? NaN) - reference.get(c.file)!), `${c.selector} vs PyTorch`).toBeLessThan(1e-4);
    }
    await page.screenshot({ path: join(ARTIFACTS, 'context-menu.png') });
    // The menu's verdicts are counted for the tab, and its toolbar still says the page is off
    // (each count before the last badge has landed by now).
    const toolbar = await (await ext.serviceWorker()).evaluate(async (url) => {
      const [tab] = await chrome.tabs.query({ url });
      return tab?.id === undefined ? '(no tab)' : chrome.action.getBadgeText({ tabId: tab.id });
    }, `${server.origin}/menu.html`);
    expect(toolbar).toBe('off');
    // Only what was asked about: one badge each, nothing else on the switched-off page.
    const final = await readBadges(page);
    expect(final.map((b) => b.src).sort()).toEqual(cases.map((c) => c.src).sort());
    // The web pictures were fetched once each by the extension; the spacer never; blob:/data: came as bytes.
    for (const part of ['?menu-bg', '?menu-under', '?menu-poster', '?menu-svg', '?menu-shadow']) expect(extensionFetches(part), part).toBe(1);
    expect(extensionFetches('/pixel.gif')).toBe(0);
    // The page's own script fetched these to make its blob: and data: pictures; the extension did not.
    expect([extensionFetches('?menu-blob'), extensionFetches('?menu-data')]).toEqual([1, 1]);
    await page.close();
    await setSiteEnabled('127.0.0.1', true);
  }, 240_000);

  it('judges a plain <img> below the minimum size, which the scan of the page skips', async () => {
    server.page('/menu-small.html', `<!doctype html><title>small</title><img id="small" src="/static/small-camera.png?menu-small" alt="">`);
    const page = await ext.context.newPage();
    await page.goto(`${server.origin}/menu-small.html`);
    await page.waitForLoadState('load');
    await new Promise((r) => setTimeout(r, 1_000));
    expect(await readBadges(page)).toEqual([]);
    const { x, y } = await centre(page, '#small');
    await chooseCheckImage(ext, page, x, y);
    const src = `${server.origin}/static/small-camera.png?menu-small`;
    const badges = await waitForBadges(page, (b) => b.some((x) => x.src === src && judged(x)), 60_000);
    expect(badges.map((b) => b.src)).toEqual([src]);
    expect(Math.abs((badges[0]!.p ?? NaN) - reference.get('small-camera.png')!)).toBeLessThan(1e-4);
    await page.close();
  }, 90_000);

  it('says plainly when there is no picture under the pointer', async () => {
    const page = await ext.context.newPage();
    await page.goto(`${server.origin}/menu.html?nothing`);
    const worker = await ext.serviceWorker();
    await worker.evaluate(async () => {
      for (const id of Object.keys(await chrome.notifications.getAll())) await chrome.notifications.clear(id);
    });
    const { x, y } = await centre(page, '#nothing');
    await chooseCheckImage(ext, page, x, y);
    await expect
      .poll(async () => Object.keys(await (await ext.serviceWorker()).evaluate(() => chrome.notifications.getAll())), { timeout: 15_000 })
      .toContain('realfake-lens-no-picture');
    await page.close();
  }, 60_000);
});

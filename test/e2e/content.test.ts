// The content script in real Chromium: which pictures it finds (img/srcset/picture, lazy,
// late, CSS backgrounds, posters, SVG <image>, shadow roots, frames, blob: and data:), which it
// skips (small, icons, pixels, sprites, vector), in what order and what it withdraws, the
// on-demand mode, the badge modes and card, the layout it must not disturb, and a hostile page.

import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { launchWithExtension, type ExtensionSession } from '../support/chrome';
import { fromExtensionPage, inContentScript } from '../support/contexts';
import { startServer, type TestServer } from '../support/server';
import { readBadges, readCovers, waitForBadges, type BadgeReading } from '../support/badges';
import { PHOTOS_DIR } from '../support/photos';
import { referenceScores } from '../support/python';
import { axeWithBadgeLayer } from '../support/axe';

const ARTIFACTS = join(import.meta.dirname, '../../artifacts/e2e');
const PHOTOS = ['camera.png', 'chelsea.png', 'coins.png', 'rocket.jpg', 'hubble-palette.png', 'coffee-alpha.png', 'chelsea-447x300.png', 'astronaut-portrait.jpg'];

let server: TestServer;
let ext: ExtensionSession;
const reference = new Map<string, number>();

const settledAll = (b: BadgeReading[]): boolean => b.every((x) => x.state !== 'checking');
const fileOf = (src: string): string => new URL(src).pathname.replace('/static/', '');
/** The extension's own image fetches (the page's carry Sec-Fetch-Dest: image). */
const extensionFetches = (pathIncludes: string): number =>
  server.log.filter((e) => e.dest === 'empty' && e.url.includes(pathIncludes)).length;

async function setSettings(values: Record<string, unknown>): Promise<void> {
  await fromExtensionPage(ext, '(v) => chrome.storage.sync.set(v)', values);
}

async function open(path: string, viewport = { width: 1280, height: 900 }): Promise<Page> {
  const page = await ext.context.newPage();
  await page.setViewportSize(viewport);
  await page.goto(`${server.origin}${path}`);
  return page;
}

function expectReference(b: BadgeReading, file: string): void {
  expect(b.p, `${b.src} score`).not.toBeNull();
  expect(Math.abs((b.p as number) - (reference.get(file) as number)), `${b.src} vs PyTorch`).toBeLessThan(1e-3);
}

const PIXEL_GIF = Buffer.from('R0lGODlhAQABAIAAAP///wAAACH5BAEAAAAALAAAAAABAAEAAAICRAEAOw==', 'base64');
const SVG = '<svg xmlns="http://www.w3.org/2000/svg" width="300" height="300"><rect width="300" height="300" fill="teal"/></svg>';

function discoveryPage(): string {
  return `<!doctype html><html><head><meta charset="utf-8"><title>discovery</title>
<style>body{margin:8px;font:13px sans-serif} section{display:flex;flex-wrap:wrap;gap:8px;align-items:flex-start} .box{width:300px;height:200px}</style>
</head><body><section>
<img id="srcset" src="/static/coins.png?fallback" srcset="/static/camera.png?srcset 1x, /static/coins.png?srcset2x 2x" width="200" height="200" alt="">
<picture><source media="(min-width: 1px)" srcset="/static/chelsea.png?picture"><img id="picture" src="/static/coins.png?picture-fallback" width="300" height="200" alt=""></picture>
<div id="bg" class="box" style="background:url('/static/rocket.jpg?bg') center/cover no-repeat"></div>
<video id="poster" poster="/static/hubble-palette.png?poster" width="320" height="240"></video>
<svg width="300" height="200"><image id="svgimage" href="/static/coffee-alpha.png?svg" width="300" height="200"/></svg>
<div id="shadow-host"></div>
<iframe id="frame" src="/frame.html" width="340" height="240"></iframe>
<img id="blob" width="220" height="160" alt="">
<img id="data" width="220" height="160" alt="">
<img class="dup" src="/static/chelsea-447x300.png?dup" width="200" height="134" alt="">
<img class="dup" src="/static/chelsea-447x300.png?dup" width="200" height="134" alt="">
<!-- skipped: icon, tracking pixel, small natural size shown large, vector, sprite, tiled pattern, small background -->
<img id="icon" src="/static/camera.png?icon" width="32" height="32" alt="">
<img id="pixel" src="/pixel.gif" width="1" height="1" alt="">
<img id="stretched" src="/static/small-camera.png?stretched" width="300" height="300" alt="">
<img id="vector" src="/logo.svg" width="300" height="300" alt="">
<div id="sprite" style="width:200px;height:200px;background:url('/static/camera.png?sprite') -120px -40px no-repeat"></div>
<div id="tile" style="width:300px;height:200px;background-image:url('/static/coins.png?tile')"></div>
<div id="smallbg" style="width:300px;height:300px;background:url('/static/small-chelsea.png?smallbg') center/cover no-repeat"></div>
</section>
<div style="height:5200px"></div>
<img id="lazy" loading="lazy" src="/static/astronaut-portrait.jpg?lazy" width="300" height="480" alt="">
<script>
  const host = document.getElementById('shadow-host');
  const root = host.attachShadow({ mode: 'open' });
  const inner = document.createElement('img');
  inner.src = '/static/camera.png?shadow'; inner.width = 200; inner.height = 200;
  root.append(inner);
  fetch('/static/coins.png?blob').then((r) => r.blob()).then((b) => { document.getElementById('blob').src = URL.createObjectURL(b); });
  fetch('/static/rocket.jpg?data').then((r) => r.blob()).then((b) => {
    const fr = new FileReader();
    fr.onload = () => { document.getElementById('data').src = fr.result; };
    fr.readAsDataURL(b);
  });
  setTimeout(() => {
    const late = document.createElement('img');
    late.id = 'late'; late.src = '/static/hubble-palette.png?late'; late.width = 240; late.height = 200;
    document.querySelector('section').append(late);
  }, 400);
</script>
</body></html>`;
}

beforeAll(async () => {
  const scores = await referenceScores(PHOTOS.map((f) => join(PHOTOS_DIR, f)));
  for (const f of PHOTOS) reference.set(f, scores.get(join(PHOTOS_DIR, f)) as number);
  server = await startServer(PHOTOS_DIR);
  server.route('/pixel.gif', (_req, res) => res.writeHead(200, { 'content-type': 'image/gif' }).end(PIXEL_GIF));
  server.route('/logo.svg', (_req, res) => res.writeHead(200, { 'content-type': 'image/svg+xml' }).end(SVG));
  server.page('/discovery.html', discoveryPage());
  server.page(
    '/frame.html',
    `<!doctype html><title>frame</title><body style="margin:0"><img src="/static/coins.png?frame" width="300" height="200" alt="">
<iframe id="blank" width="260" height="10" style="border:0"></iframe>
<script>
  const d = document.getElementById('blank').contentDocument;
  const i = d.createElement('img'); i.src = '${'/static/camera.png?blankframe'}'; i.width = 200; i.height = 200;
  d.body.append(i);
  document.getElementById('blank').height = 220;
</script></body>`,
  );
  ext = await launchWithExtension();
  mkdirSync(ARTIFACTS, { recursive: true });
}, 300_000);

afterAll(async () => {
  await ext?.close();
  await server?.close();
});

beforeEach(async () => {
  await setSettings({ scanMode: 'auto', suspectedStyle: 'badge', showRealBadges: true, minImageSize: 128, paused: false, disabledSites: [] });
});

describe('content script: discovery', () => {
  let page: Page;
  let badges: BadgeReading[];

  it('badges every kind of picture a person sees, with the reference scores', async () => {
    page = await open('/discovery.html');
    const expected = ['srcset', 'picture', 'bg', 'poster', 'svg', 'shadow', 'frame', 'blankframe', 'blob', 'data', 'dup', 'late'];
    badges = await waitForBadges(page, (b) => b.length >= expected.length + 1 && settledAll(b), 120_000);
    await page.screenshot({ path: join(ARTIFACTS, 'content-discovery.png') });
    const by = (suffix: string): BadgeReading[] => badges.filter((b) => b.src.endsWith(`?${suffix}`));
    // srcset and <picture>: the file the browser chose, not the fallback.
    expect(by('srcset')).toHaveLength(1);
    expectReference(by('srcset')[0]!, 'camera.png');
    expect(by('picture')).toHaveLength(1);
    expectReference(by('picture')[0]!, 'chelsea.png');
    expect(badges.some((b) => b.src.includes('fallback'))).toBe(false);
    // CSS background, video poster, SVG <image>, open shadow root.
    expect(by('bg')[0]?.kind).toBe('background');
    expectReference(by('bg')[0]!, 'rocket.jpg');
    expect(by('poster')[0]?.kind).toBe('poster');
    expectReference(by('poster')[0]!, 'hubble-palette.png');
    expect(by('svg')[0]?.kind).toBe('svg-image');
    expectReference(by('svg')[0]!, 'coffee-alpha.png');
    expectReference(by('shadow')[0]!, 'camera.png');
    // Same-origin iframe and an about:blank frame inside it: badged inside their own documents.
    expect(by('frame')[0]?.frame).toBeGreaterThan(0);
    expectReference(by('frame')[0]!, 'coins.png');
    expect(by('blankframe')[0]?.frame).toBeGreaterThan(0);
    // A late insertion, and two elements showing one picture: two badges, one fetch.
    expectReference(by('late')[0]!, 'hubble-palette.png');
    expect(by('dup')).toHaveLength(2);
    for (const b of by('dup')) expectReference(b, 'chelsea-447x300.png');
    expect(extensionFetches('?dup')).toBe(1);
  }, 180_000);

  it('reads blob: and long data: pictures from the page and judges their bytes', async () => {
    const blob = badges.find((b) => b.src.startsWith('blob:'));
    const data = badges.find((b) => b.src.startsWith('data:'));
    expect(blob).toBeDefined();
    expect(data).toBeDefined();
    expectReference(blob!, 'coins.png');
    expectReference(data!, 'rocket.jpg');
    expect(data!.src.length).toBeGreaterThan(8192);
  });

  it('skips icons, tracking pixels, small pictures shown large, vector images, sprites, tiles and small backgrounds', async () => {
    for (const skipped of ['icon', 'pixel', 'stretched', 'logo.svg', 'sprite', 'tile', 'smallbg', 'lazy']) {
      expect(badges.filter((b) => b.src.includes(skipped)), skipped).toEqual([]);
    }
    // Nothing but the expected pictures has a badge.
    expect(badges).toHaveLength(13);
    // The small background was only known to be small after decoding: fetched, not judged, no badge.
    expect(extensionFetches('?smallbg')).toBe(1);
    for (const never of ['?icon', '?sprite', '?tile', '?stretched', '?lazy']) expect(extensionFetches(never), never).toBe(0);
  });

  it('judges a lazy image once it is scrolled to and loads, not before', async () => {
    expect(server.log.some((e) => e.url.includes('?lazy') && e.dest === 'empty')).toBe(false);
    await page.evaluate(() => document.getElementById('lazy')?.scrollIntoView());
    const after = await waitForBadges(page, (b) => b.some((x) => x.src.endsWith('?lazy') && x.state !== 'checking'), 60_000);
    expectReference(after.find((b) => b.src.endsWith('?lazy'))!, 'astronaut-portrait.jpg');
    await page.close();
  }, 90_000);

  it('gives a fresh verdict when a page swaps src, and keeps up with an infinite-scroll page', async () => {
    server.page(
      '/swap.html',
      `<!doctype html><title>swap</title><img id="x" src="/static/coins.png?swap1" width="300" height="200" alt="">`,
    );
    const swap = await open('/swap.html');
    await waitForBadges(swap, (b) => b.length === 1 && b[0]!.src.endsWith('?swap1') && settledAll(b));
    await swap.evaluate(() => ((document.getElementById('x') as HTMLImageElement).src = '/static/rocket.jpg?swap2'));
    const swapped = await waitForBadges(swap, (b) => b.length === 1 && b[0]!.src.endsWith('?swap2') && settledAll(b));
    expectReference(swapped[0]!, 'rocket.jpg');
    await swap.close();

    // A box that grows past the minimum size without leaving the viewport (as Firefox lays out an
    // <img> from its cache before its height is known) is asked about then; one that shrinks below
    // it loses its badge.
    server.page(
      '/grow.html',
      `<!doctype html><title>grow</title><img id="g" src="/static/chelsea.png?grow" style="width:300px;height:2px" alt="">`,
    );
    const grow = await open('/grow.html');
    await new Promise((r) => setTimeout(r, 1_000));
    expect(await readBadges(grow)).toEqual([]);
    await grow.evaluate(() => ((document.getElementById('g') as HTMLImageElement).style.height = '200px'));
    const grown = await waitForBadges(grow, (b) => b.length === 1 && settledAll(b), 60_000);
    expectReference(grown[0]!, 'chelsea.png');
    await grow.evaluate(() => ((document.getElementById('g') as HTMLImageElement).style.height = '40px'));
    await waitForBadges(grow, (b) => b.length === 0, 10_000);
    await grow.close();

    const files = PHOTOS;
    server.page(
      '/infinite.html',
      `<!doctype html><title>infinite</title><style>body{margin:0} img{display:block;margin:0 0 10px}</style><main></main>
<script>
  const files = ${JSON.stringify(files)};
  let n = 0;
  function more() { for (let i = 0; i < 6; i++, n++) { const img = new Image(240, 180); img.src = '/static/' + files[n % files.length] + '?inf' + n; document.querySelector('main').append(img); } }
  more();
  addEventListener('scroll', () => { if (innerHeight + scrollY > document.body.scrollHeight - 400 && n < 36) more(); });
</script>`,
    );
    const inf = await open('/infinite.html');
    for (let i = 0; i < 12; i++) {
      await inf.mouse.wheel(0, 1200);
      await new Promise((r) => setTimeout(r, 300));
    }
    expect(await inf.evaluate(() => document.images.length)).toBe(36);
    // Every picture now in or near the viewport gets its verdict.
    const nearNow = await inf.evaluate(() =>
      Array.from(document.images)
        .filter((i) => {
          const r = i.getBoundingClientRect();
          return r.bottom > -innerHeight && r.top < 2 * innerHeight;
        })
        .map((i) => i.src),
    );
    const final = await waitForBadges(inf, (b) => nearNow.every((src) => b.some((x) => x.src === src && x.state !== 'checking')), 120_000);
    for (const src of nearNow) expectReference(final.find((b) => b.src === src)!, fileOf(src));
    await inf.close();
  }, 240_000);
});

describe('content script: order and withdrawal', () => {
  it('asks about visible pictures first on a page opened in the middle, where they come late in document order', async () => {
    const count = 40;
    const imgs = Array.from({ length: count }, (_, i) => `<img id="m${i}" src="/static/${PHOTOS[i % PHOTOS.length]}?mid${i}" width="300" height="200" alt="">`).join('\n');
    // The page opens at picture 24: pictures 19-23 (near, above) come before the visible ones in
    // document order, so asking in document order would fetch them first. A slow script holds the
    // page's parsing until every picture has loaded, so the content script finds them all at once
    // (else the browser's own loading, visible pictures first, would put them in order for it).
    server.route('/slow.js', (_req, res) => void setTimeout(() => res.writeHead(200, { 'content-type': 'text/javascript' }).end(';'), 2_000));
    server.page(
      '/middle.html',
      `<!doctype html><title>middle</title><style>body{margin:0} img{display:block;margin:0 0 10px}</style>${imgs}
<script src="/slow.js"></script>
<script>history.scrollRestoration = 'manual'; document.getElementById('m24').scrollIntoView();</script>`,
    );
    server.delayStatic((e) => (e.dest === 'empty' && e.url.includes('?mid') ? 400 : 0));
    const page = await open('/middle.html');
    const visible = await page.evaluate(() =>
      Array.from(document.images)
        .filter((i) => {
          const r = i.getBoundingClientRect();
          return r.bottom > 0 && r.top < innerHeight;
        })
        .map((i) => Number(i.id.slice(1))),
    );
    expect(visible[0]).toBe(24);
    expect(await page.evaluate(() => Array.from(document.images).every((i) => i.complete))).toBe(true);
    const fetchedInOrder = (): number[] => server.log.filter((e) => e.dest === 'empty' && e.url.includes('?mid')).map((e) => Number(/mid(\d+)/.exec(e.url)![1]));
    await expect.poll(() => fetchedInOrder().length, { timeout: 90_000 }).toBeGreaterThan(visible.length);
    server.delayStatic(() => 0);
    const fetched = fetchedInOrder();
    console.log(`middle of the page: visible ${visible.join(',')}; the engine fetched, in order: ${fetched.join(',')}`);
    // Every picture on screen was fetched before any picture off screen.
    expect(fetched.slice(0, visible.length).sort((a, b) => a - b)).toEqual(visible);
    await page.close();
  }, 120_000);

  it('asks about visible pictures first and withdraws requests for pictures scrolled far away', async () => {
    // 60 pictures of 200x130 in a column (140 px apart) in a 900 px viewport: "near" at first is
    // the viewport and two viewport heights below it, pictures 0..19, more than the downloads
    // that can start before the jump below.
    const count = 60;
    const pitch = 140;
    const nearAtFirst = Math.ceil((3 * 900) / pitch);
    const imgs = Array.from({ length: count }, (_, i) => `<img src="/static/${PHOTOS[i % PHOTOS.length]}?col${i}" width="200" height="130" alt="">`).join('\n');
    server.page('/column.html', `<!doctype html><title>column</title><style>body{margin:0} img{display:block;margin:0 0 ${pitch - 130}px}</style>${imgs}`);
    // Slow fetches keep most requests waiting in the queue.
    server.delayStatic((e) => (e.dest === 'empty' && e.url.includes('?col') ? 400 : 0));
    const page = await open('/column.html');
    await waitForBadges(page, (b) => b.some((x) => x.state !== 'checking'), 60_000);
    const firstFetched = server.log.filter((e) => e.dest === 'empty' && e.url.includes('?col')).map((e) => Number(/col(\d+)/.exec(e.url)![1]));
    // The first requests the engine served were the visible ones (the top rows on screen).
    expect(Math.max(...firstFetched.slice(0, 4))).toBeLessThan(7);
    // Jump to the bottom: what was waiting near the top is withdrawn, the bottom is asked.
    await page.evaluate(() => window.scrollTo(0, document.body.scrollHeight));
    const bottom = await waitForBadges(page, (b) => b.some((x) => x.src.endsWith(`?col${count - 1}`) && x.state !== 'checking'), 90_000);
    await new Promise((r) => setTimeout(r, 1_500));
    server.delayStatic(() => 0);
    const fetched = new Set(server.log.filter((e) => e.dest === 'empty' && e.url.includes('?col')).map((e) => Number(/col(\d+)/.exec(e.url)![1])));
    const topFetched = [...fetched].filter((i) => i < nearAtFirst);
    console.log(`withdrawal: ${topFetched.length} of ${nearAtFirst} pictures near the first viewport were fetched before the jump; fetched overall ${fetched.size} of ${count}`);
    expect(topFetched.length).toBeLessThan(nearAtFirst);
    expect(fetched.has(count - 1)).toBe(true);
    // Withdrawn pictures show no stale "Checking…" badge.
    expect((await readBadges(page)).filter((b) => b.state === 'checking' && Number(/col(\d+)/.exec(b.src)?.[1]) < nearAtFirst)).toEqual([]);
    expect(bottom.length).toBeGreaterThan(0);
    // Back at the top, the withdrawn ones are asked again and answered.
    await page.evaluate(() => window.scrollTo(0, 0));
    const top = await waitForBadges(page, (b) => [0, 1, 2, 3].every((i) => b.some((x) => x.src.endsWith(`?col${i}`) && x.state !== 'checking')), 90_000);
    expectReference(top.find((b) => b.src.endsWith('?col0'))!, PHOTOS[0]!);
    await page.close();
  }, 240_000);
});

describe('content script: cross-origin frames', () => {
  it('finds and badges the pictures of a cross-origin iframe, which follows its top page\'s site switch', async () => {
    // A second server: another port of 127.0.0.1 is another origin.
    const other = await startServer(PHOTOS_DIR);
    try {
      other.page(
        '/xframe.html',
        `<!doctype html><title>frame</title><body style="margin:0"><img src="/static/rocket.jpg?xframe" width="300" height="200" alt="">
<div style="width:300px;height:200px;background:url('/static/coins.png?xframe-bg') center/cover no-repeat"></div></body>`,
      );
      server.page('/xtop.html', `<!doctype html><title>top</title><p>top page</p><iframe src="${other.origin}/xframe.html" width="340" height="440"></iframe>`);
      const page = await open('/xtop.html');
      const badges = await waitForBadges(page, (b) => b.filter((x) => x.frame === 1 && x.state !== 'checking').length === 2, 120_000);
      expect(badges.map((b) => [b.frame, b.kind, b.src]).sort()).toEqual([
        [1, 'background', `${other.origin}/static/coins.png?xframe-bg`],
        [1, 'img', `${other.origin}/static/rocket.jpg?xframe`],
      ]);
      for (const b of badges) expectReference(b, fileOf(b.src));
      // Fetched by the extension once each, from the frame's own origin.
      expect(other.log.filter((e) => e.dest === 'empty').map((e) => e.url).sort()).toEqual(['/static/coins.png?xframe-bg', '/static/rocket.jpg?xframe']);
      await page.close();

      // Under a top page of another site the frame runs in a process of its own; its switch is the top page's.
      const top = await ext.context.newPage();
      await top.goto(`${server.otherSiteOrigin}/xtop.html`);
      const frame = top.frames().find((f) => f.url().startsWith(other.origin));
      if (!frame) throw new Error('no cross-origin frame');
      await waitForBadges(frame, (b) => b.length === 2 && settledAll(b), 60_000);
      await setSettings({ disabledSites: ['localhost'] });
      await waitForBadges(frame, (b) => b.length === 0, 15_000);
      await setSettings({ disabledSites: ['127.0.0.1'] });
      // The frame's own site being off does not matter: its top page is on.
      await waitForBadges(frame, (b) => b.length === 2 && settledAll(b), 30_000);
      await top.close();
    } finally {
      await other.close();
    }
  }, 240_000);
});

describe('content script: on-demand mode', () => {
  it('checks nothing until the user asks, then every picture on the page', async () => {
    await setSettings({ scanMode: 'on-demand' });
    const imgs = PHOTOS.map((f, i) => `<img src="/static/${f}?od${i}" width="300" height="200" alt="">`).join('<div style="height:700px"></div>');
    server.page('/ondemand.html', `<!doctype html><title>on demand</title>${imgs}`);
    const page = await open('/ondemand.html');
    await page.waitForLoadState('load');
    await new Promise((r) => setTimeout(r, 1_500));
    expect(await readBadges(page)).toEqual([]);
    expect(extensionFetches('?od')).toBe(0);
    // The page's own script (or a compromised content script) cannot start a scan by claiming the user asked.
    const forged = await inContentScript(
      page,
      ext.extensionId,
      `chrome.runtime.sendMessage({ kind: 'content/check', trigger: 'user', items: [{ requestId: 'x1', url: '${server.origin}/static/coins.png?od-forged', priority: 'visible', minSide: 0 }] })`,
    );
    expect(forged).toEqual({ accepted: 0, refused: 'on-demand' });

    const tabId = await (await ext.serviceWorker()).evaluate(async (url) => (await chrome.tabs.query({ url }))[0]?.id, `${server.origin}/ondemand.html`);
    expect(await fromExtensionPage(ext, '(m) => chrome.runtime.sendMessage(m)', { kind: 'ui/scan-tab', tabId })).toEqual({ ok: true });
    // All of them are judged, even those far below the viewport (the extension fetched each)...
    await expect.poll(() => PHOTOS.map((_, i) => extensionFetches(`?od${i}`)), { timeout: 120_000 }).toEqual(PHOTOS.map(() => 1));
    // ...and badged when they are near the viewport: the first two now, the last one at the bottom.
    const first = ['?od0', '?od1'];
    const top = await waitForBadges(page, (b) => first.every((q) => b.some((x) => x.src.endsWith(q) && x.state !== 'checking')), 120_000);
    // Only those two: the third, within two viewport heights, may carry its badge still checking.
    for (const b of top.filter((x) => first.some((q) => x.src.endsWith(q)))) expectReference(b, fileOf(b.src));
    await page.evaluate(() => window.scrollTo(0, document.body.scrollHeight));
    const last = `?od${PHOTOS.length - 1}`;
    const bottom = await waitForBadges(page, (b) => b.some((x) => x.src.endsWith(last) && x.state !== 'checking'), 30_000);
    expectReference(bottom.find((b) => b.src.endsWith(last))!, PHOTOS[PHOTOS.length - 1]!);
    expect(extensionFetches('?od-forged')).toBe(0);
    await page.close();
  }, 180_000);
});

describe('content script: badge modes, card and keyboard', () => {
  const page2 = `<!doctype html><title>modes</title><style>body{margin:8px} img{margin:4px}</style>
${PHOTOS.slice(0, 4).map((f, i) => `<img src="/static/${f}?mode${i}" width="300" height="200" alt="">`).join('\n')}`;

  it('blurs or hides suspected pictures until clicked, and can leave likely-real ones unbadged', async () => {
    server.page('/modes.html', page2);
    // A threshold between the fixture's scores makes some suspected and some not.
    const scores = PHOTOS.slice(0, 4).map((f) => reference.get(f) as number).sort((a, b) => a - b);
    const threshold = (scores[1]! + scores[2]!) / 2;
    await setSettings({ threshold, suspectedStyle: 'blur', showRealBadges: false });
    const page = await open('/modes.html');
    const badges = await waitForBadges(page, (b) => b.length === 4 && settledAll(b));
    const suspected = badges.filter((b) => b.state === 'generated');
    const real = badges.filter((b) => b.state === 'real');
    expect(suspected).toHaveLength(2);
    expect(real.every((b) => b.hidden)).toBe(true);
    let covers = await readCovers(page);
    expect(covers.map((c) => c.mode)).toEqual(['blur', 'blur']);
    expect(new Set(covers.map((c) => c.src))).toEqual(new Set(suspected.map((b) => b.src)));
    await page.screenshot({ path: join(ARTIFACTS, 'content-blur.png') });

    // The cover sits exactly over its image.
    const target = covers[0]!;
    const rect = await page.evaluate((src) => {
      const img = Array.from(document.images).find((i) => i.src === src)!;
      const r = img.getBoundingClientRect();
      return { left: r.left + scrollX, top: r.top + scrollY, width: r.width, height: r.height };
    }, target.src);
    expect(Math.abs(target.left - rect.left)).toBeLessThanOrEqual(1);
    expect(Math.abs(target.top - rect.top)).toBeLessThanOrEqual(1);
    expect(Math.abs(target.width - rect.width)).toBeLessThanOrEqual(1);

    // A real click (not a script's) opens it.
    await page.mouse.click(rect.left + rect.width / 2, rect.top + rect.height / 2);
    covers = await readCovers(page);
    expect(covers.filter((c) => c.src === target.src)).toEqual([]);

    await setSettings({ suspectedStyle: 'hide', showRealBadges: true });
    await waitForBadges(page, (b) => b.filter((x) => x.state === 'real').every((x) => !x.hidden), 10_000);
    covers = await readCovers(page);
    // The picture the user opened stays open; the other is now hidden.
    expect(covers.map((c) => c.mode)).toEqual(['hide']);
    await page.screenshot({ path: join(ARTIFACTS, 'content-hide.png') });
    await setSettings({ threshold: 0.5 });
    await page.close();
  }, 120_000);

  it('is reachable by keyboard, with accessible names, and its card reports a mistake', async () => {
    server.page('/card.html', `<!doctype html><html lang="en"><title>card</title><main><img src="/static/camera.png?card" width="400" height="300" alt="A camera man"></main></html>`);
    const page = await open('/card.html');
    const [badge] = await waitForBadges(page, (b) => b.length === 1 && settledAll(b));
    const cdp = await page.context().newCDPSession(page);
    const ax = async (): Promise<Array<{ role?: { value: string }; name?: { value: string }; properties?: Array<{ name: string; value: { value: unknown } }> }>> =>
      ((await cdp.send('Accessibility.getFullAXTree')) as { nodes: [] }).nodes;
    // The innermost focused node (the document itself counts as focused too).
    const focused = async (): Promise<string | undefined> =>
      (await ax()).filter((n) => n.role?.value !== 'RootWebArea' && n.properties?.some((p) => p.name === 'focused' && p.value.value === true)).at(-1)?.name?.value;

    const pct = `${Math.round(badge!.p! * 100)}%`;
    const words = badge!.state === 'generated' ? 'Likely generated' : 'Likely real';
    expect(badge!.ariaLabel).toBe(`Realfake Lens: TEST · ${words} ${pct} (test model, meaningless)`);
    await page.keyboard.press('Tab');
    expect(await focused()).toBe(badge!.ariaLabel);
    await page.keyboard.press('Enter');
    const dialog = (await ax()).find((n) => n.role?.value === 'dialog');
    expect(dialog?.name?.value).toBe('Realfake Lens: about this image');
    await page.screenshot({ path: join(ARTIFACTS, 'content-card.png') });
    // axe-core on the open card, inside the layer's closed shadow root, light and dark.
    for (const scheme of ['light', 'dark'] as const) {
      await page.emulateMedia({ colorScheme: scheme });
      const axe = await axeWithBadgeLayer(page);
      console.log(`axe on the open card (${scheme}): ${axe.layerNodes} elements of the layer examined, violations: ${JSON.stringify(axe.violations)}`);
      expect(axe.layerNodes, 'axe saw the badge and the card').toBeGreaterThanOrEqual(3);
      expect(axe.violations, scheme).toEqual([]);
    }
    await page.emulateMedia({ colorScheme: 'light' });
    const texts = (await ax()).map((n) => n.name?.value ?? '').join('\n');
    expect(texts).toContain('TEST MODEL');
    expect(texts).toContain('Stable Diffusion v1.4');
    expect(texts).toContain('your threshold');
    // Focus went into the card, on "Report a mistake".
    expect(await focused()).toBe('Report a mistake');
    await page.keyboard.press('Enter');
    await expect
      .poll(async () => {
        const { entries } = await fromExtensionPage<{ entries: Array<{ url: string; mistake: boolean }> }>(ext, '(m) => chrome.runtime.sendMessage(m)', {
          kind: 'ui/list-history',
          site: null,
          query: '?card',
          limit: 5,
        });
        return entries.map((e) => e.mistake);
      }, { timeout: 10_000 })
      .toEqual([true]);
    await page.keyboard.press('Escape');
    expect((await ax()).some((n) => n.role?.value === 'dialog')).toBe(false);
    expect(await focused()).toBe(badge!.ariaLabel);
    await cdp.detach();
    await page.close();
  }, 90_000);
});

describe('content script: layout', () => {
  it('moves nothing on the page and places badges on the visible part of each picture', async () => {
    server.page(
      '/layout.html',
      `<!doctype html><title>layout</title>
<style>
  body{margin:10px;font:13px sans-serif} .row{display:flex;gap:16px;align-items:flex-start;margin-bottom:16px}
  .clip{width:220px;height:150px;overflow:hidden;position:relative;border:2px solid #333}
  .clip img{position:absolute;left:-80px;top:-60px}
  .fit{width:400px;height:200px;object-fit:contain;background:#ddd;object-position:50% 50%}
  .turned{transform:scale(.6) rotate(8deg);transform-origin:0 0}
  .modal{position:fixed;left:0;top:0;width:100%;height:100%;background:rgba(0,0,0,.7);z-index:10}
  p.caption{margin:4px 0;width:300px}
</style>
<script>
  window.__shifts = 0;
  new PerformanceObserver((l) => { for (const e of l.getEntries()) window.__shifts += e.value; }).observe({ type: 'layout-shift', buffered: true });
  document.addEventListener('DOMContentLoaded', () => {
    window.__before = Array.from(document.body.querySelectorAll('*')).map((e) => { const r = e.getBoundingClientRect(); return [r.x, r.y, r.width, r.height].join(','); });
  });
</script>
<div class="row">
  <div class="clip"><img id="clipped" src="/static/camera.png?clip" width="400" height="300" alt=""></div>
  <img id="fit" class="fit" src="/static/astronaut-portrait.jpg?fit" alt="">
  <div><img id="turned" class="turned" src="/static/rocket.jpg?turned" width="400" height="267" alt=""></div>
</div>
<div class="row"><img id="under-modal" src="/static/coins.png?modal" width="300" height="200" alt=""><p class="caption">Text next to an image, which must not move.</p></div>
<div class="modal" id="modal"></div>`,
    );
    const page = await open('/layout.html');
    await waitForBadges(page, (b) => b.length === 4 && settledAll(b));
    await new Promise((r) => setTimeout(r, 500));
    const after = await page.evaluate(() => {
      const w = window as unknown as { __before: string[]; __shifts: number };
      const now = Array.from(document.body.querySelectorAll('*')).map((e) => { const r = e.getBoundingClientRect(); return [r.x, r.y, r.width, r.height].join(','); });
      return { before: w.__before, now, shifts: w.__shifts };
    });
    expect(after.now).toEqual(after.before);
    expect(after.shifts).toBe(0);
    // Under the page's modal: every badge hidden; the modal closes and they show.
    expect((await readBadges(page)).filter((b) => !b.hidden).map((b) => b.src)).toEqual([]);
    await page.screenshot({ path: join(ARTIFACTS, 'content-layout-modal.png') });
    await page.evaluate(() => document.getElementById('modal')!.remove());
    const badges = await waitForBadges(page, (b) => b.every((x) => !x.hidden), 10_000);
    await page.screenshot({ path: join(ARTIFACTS, 'content-layout.png') });

    const rectOf = (id: string): Promise<{ left: number; top: number; right: number; bottom: number }> =>
      page.evaluate((i) => {
        const r = document.getElementById(i)!.getBoundingClientRect();
        return { left: r.left + scrollX, top: r.top + scrollY, right: r.right + scrollX, bottom: r.bottom + scrollY };
      }, id);
    const at = (suffix: string): BadgeReading => badges.find((b) => b.src.endsWith(suffix))!;
    // Clipped: inside the container's visible box, not at the image's hidden corner.
    const clipBox = await page.evaluate(() => {
      const c = document.querySelector('.clip')!;
      const r = c.getBoundingClientRect();
      return { left: r.left + c.clientLeft, top: r.top + c.clientTop };
    });
    expect(at('?clip').left).toBe(Math.round(clipBox.left + 6));
    expect(at('?clip').top).toBe(Math.round(clipBox.top + 6));
    // object-fit: contain letterboxes a 300x480 picture in 400x200: the picture starts 137.5 px in.
    const fit = await rectOf('fit');
    expect(at('?fit').left).toBe(Math.round(fit.left + (400 - 300 * (200 / 480)) / 2 + 6));
    expect(at('?fit').top).toBe(Math.round(fit.top + 6));
    // Transformed: inside the transformed box.
    const turned = await rectOf('turned');
    expect(at('?turned').left).toBeGreaterThanOrEqual(turned.left);
    expect(at('?turned').top).toBeGreaterThanOrEqual(turned.top);
    expect(at('?turned').left).toBeLessThan(turned.right);
    await page.close();
  }, 90_000);
});

describe('content script: a hostile page', () => {
  it('cannot find, read, restyle, remove or forge the badges', async () => {
    server.page(
      '/hostile.html',
      `<!doctype html><title>hostile</title>
<style>realfake-lens-overlay, realfake-lens-overlay * { display:none !important; visibility:hidden !important }</style>
<img src="/static/coins.png?hostile" width="300" height="200" alt="">
<img src="/static/rocket.jpg?hostile" width="300" height="200" alt="">
<script>
  window.__probe = [];
  const attack = () => {
    const host = document.querySelector('realfake-lens-overlay');
    if (!host) return false;
    const seen = { shadowRoot: host.shadowRoot === null ? 'null' : 'open', text: host.textContent, html: host.innerHTML.length };
    try { host.attachShadow({ mode: 'open' }); seen.attach = 'allowed'; } catch (e) { seen.attach = 'refused'; }
    host.style.display = 'none';
    host.setAttribute('style', 'display:none');
    host.remove();
    // Forged look-alikes, in light DOM and in an open shadow root.
    const fake = document.createElement('realfake-lens-overlay');
    const fr = fake.attachShadow({ mode: 'open' });
    const b = document.createElement('button'); b.className = 'badge'; b.dataset.state = 'real'; b.dataset.src = 'forged'; b.textContent = 'Likely real 1%';
    fr.append(b);
    document.body.append(fake);
    const d = document.createElement('div'); d.className = 'badge'; d.dataset.state = 'real'; d.textContent = 'Likely real 2%';
    document.body.append(d);
    // Synthetic clicks everywhere.
    for (const el of document.querySelectorAll('*')) el.dispatchEvent(new MouseEvent('click', { bubbles: true, composed: true }));
    window.__probe.push(seen);
    return true;
  };
  const t = setInterval(() => { if (attack()) clearInterval(t); }, 50);
</script>`,
    );
    const page = await open('/hostile.html');
    await expect.poll(() => page.evaluate(() => (window as unknown as { __probe: unknown[] }).__probe.length), { timeout: 30_000 }).toBe(1);
    // Waits for the frame that draws the badges as well as for their verdicts.
    const badges = await waitForBadges(page, (b) => b.length === 2 && settledAll(b) && b.every((x) => !x.hidden));
    expectReference(badges.find((b) => b.src.includes('coins'))!, 'coins.png');
    expectReference(badges.find((b) => b.src.includes('rocket'))!, 'rocket.jpg');
    expect(badges.every((b) => !b.hidden)).toBe(true);
    const probe = (await page.evaluate(() => (window as unknown as { __probe: unknown[] }).__probe))[0];
    expect(probe).toEqual({ shadowRoot: 'null', text: '', html: 0, attach: 'refused' });
    // The real layer is back, visible, and no synthetic click opened a card or revealed anything.
    const host = await page.evaluate(() => {
      const hosts = Array.from(document.querySelectorAll('realfake-lens-overlay'));
      return hosts.map((h) => ({ display: getComputedStyle(h).display, visibility: getComputedStyle(h).visibility, open: h.shadowRoot !== null }));
    });
    expect(host).toContainEqual({ display: 'block', visibility: 'visible', open: false });
    await page.screenshot({ path: join(ARTIFACTS, 'content-hostile.png') });
    const cdp = await page.context().newCDPSession(page);
    const { nodes } = (await cdp.send('Accessibility.getFullAXTree')) as { nodes: Array<{ role?: { value: string } }> };
    expect(nodes.some((n) => n.role?.value === 'dialog')).toBe(false);
    await cdp.detach();
    await page.close();
  }, 90_000);
});

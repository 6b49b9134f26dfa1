// A corpus of real page shapes in real Chromium: a masonry grid with lazy srcset, an infinite
// feed that recycles its <img> elements, a carousel of CSS backgrounds moved by transforms, a
// lightbox modal, search results of base64 thumbnails, a news page with <picture> AVIF/WebP
// sources, and pictures inside shadow-DOM web components. On each: every picture of 128 px or
// more gets exactly one badge, whose p equals PyTorch's for the file the browser shows there;
// the page's elements do not move (same boxes, no layout shift); and no address is fetched,
// nor any picture inferred, twice (the server's log and the extension's IndexedDB counters).

import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import sharp, { type Sharp } from 'sharp';
import type { Page } from 'playwright-core';
import { launchWithExtension, type ExtensionSession } from '../support/chrome';
import { readExtensionStore } from '../support/extension-db';
import { fromExtensionPage } from '../support/contexts';
import { startServer, type TestServer } from '../support/server';
import { waitForBadges, type BadgeReading } from '../support/badges';
import { photoPath } from '../support/photos';
import { referenceScores } from '../support/python';

const PHOTOS = ['camera.png', 'chelsea.png', 'coins.png', 'rocket.jpg', 'hubble-palette.png', 'coffee-alpha.png', 'chelsea-447x300.png', 'astronaut-portrait.jpg'];
const DERIVED_TYPES: Record<string, string> = { avif: 'image/avif', webp: 'image/webp', jpg: 'image/jpeg' };

let server: TestServer;
let ext: ExtensionSession;
const derivedDir = mkdtempSync(join(tmpdir(), 'rfl-shapes-'));
/** PyTorch's p(generated) by file name (committed photos and files made here). */
const reference = new Map<string, number>();
/** data: URL → the file it was made from, and its side in px. */
const dataFiles = new Map<string, string>();
const thumbSides = new Map<string, number>();

/** The file behind a picture's address: /static/NAME, /derived/NAME, or a data: URL made here. */
function fileOf(url: string): string {
  if (url.startsWith('data:')) return dataFiles.get(url) ?? '?';
  return basename(new URL(url).pathname);
}

/** Elements' boxes (page coordinates, open shadow roots included) and the layout-shift sum, from the page's own observer. */
const LAYOUT_PROBE = `<script>
  window.__shifts = 0;
  window.__shiftSources = [];
  new PerformanceObserver((l) => {
    for (const e of l.getEntries()) {
      window.__shifts += e.value;
      for (const s of e.sources) window.__shiftSources.push([s.node?.nodeName, s.node?.id, JSON.stringify(s.previousRect), JSON.stringify(s.currentRect)].join(' '));
    }
  }).observe({ type: 'layout-shift', buffered: true });
  window.__rects = () => {
    const out = [];
    const walk = (root) => {
      for (const e of root.querySelectorAll('*')) {
        // The extension's layer is not the page's; elements without boxes (head, script) have no place.
        if (e.localName === 'realfake-lens-overlay' || e.getClientRects().length === 0) continue;
        const r = e.getBoundingClientRect();
        out.push([e.localName, e.id, r.x + scrollX, r.y + scrollY, r.width, r.height].join(','));
        if (e.shadowRoot) walk(e.shadowRoot);
      }
    };
    walk(document);
    return out;
  };
  window.__pics = () => {
    const out = [];
    const walk = (root) => {
      for (const e of root.querySelectorAll('[data-pic]')) {
        const r = e.getBoundingClientRect();
        const url = e.localName === 'img' ? e.currentSrc : getComputedStyle(e).backgroundImage.slice(5, -2);
        out.push({ id: e.dataset.pic, url, left: r.left + scrollX, top: r.top + scrollY, right: r.right + scrollX, bottom: r.bottom + scrollY,
          inView: r.bottom > 0 && r.top < innerHeight && r.right > 0 && r.left < innerWidth });
      }
      for (const e of root.querySelectorAll('*')) if (e.shadowRoot) walk(e.shadowRoot);
    };
    walk(document);
    return out;
  };
  document.addEventListener('DOMContentLoaded', () => { window.__before = window.__rects(); });
</script>`;

interface Pic {
  id: string;
  url: string;
  left: number;
  top: number;
  right: number;
  bottom: number;
  inView: boolean;
}

function html(title: string, style: string, body: string): string {
  return `<!doctype html><html><head><meta charset="utf-8"><title>${title}</title>${LAYOUT_PROBE}<style>body{margin:8px;font:13px sans-serif}${style}</style></head><body>${body}</body></html>`;
}

async function open(path: string, viewport = { width: 1280, height: 900 }): Promise<Page> {
  const page = await ext.context.newPage();
  await page.setViewportSize(viewport);
  await page.goto(`${server.origin}${path}`);
  return page;
}

const pics = (page: Page): Promise<Pic[]> => page.evaluate('window.__pics()') as Promise<Pic[]>;
const shown = (b: BadgeReading[]): BadgeReading[] => b.filter((x) => !x.hidden);
const settled = (b: BadgeReading[]): boolean => b.every((x) => x.state !== 'checking');

/** The extension's own fetches of each address (the page's carry Sec-Fetch-Dest: image). */
function extensionFetches(marker: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const e of server.log) if (e.dest === 'empty' && e.url.includes(marker)) out.set(e.url, (out.get(e.url) ?? 0) + 1);
  return out;
}

function expectEachFetchedOnce(marker: string, atLeast: number): void {
  const fetches = extensionFetches(marker);
  expect(fetches.size, `addresses with ${marker} fetched`).toBeGreaterThanOrEqual(atLeast);
  for (const [url, n] of fetches) expect(n, `${url} fetched`).toBe(1);
}

type Stats = { inferences: number; cacheHits: number; hashHits: number; failures: number };
/** The extension's counters, read from its IndexedDB directly (not through its code). */
async function stats(): Promise<Stats> {
  const out: Stats = { inferences: 0, cacheHits: 0, hashHits: 0, failures: 0 };
  for (const r of await readExtensionStore<{ name: string; value: number }>(ext, 'stats')) if (r.name in out) out[r.name as keyof Stats] = r.value;
  return out;
}

/**
 * Every listed picture in view has exactly one shown badge, on it, for the address the browser
 * shows there, with PyTorch's p for that file; no other badge is shown.
 */
function expectOneCorrectBadgeEach(all: Pic[], badges: BadgeReading[]): void {
  const inView = all.filter((p) => p.inView);
  const visible = shown(badges);
  for (const pic of inView) {
    const on = visible.filter((b) => b.src === pic.url && b.left >= pic.left - 1 && b.left < pic.right && b.top >= pic.top - 1 && b.top < pic.bottom);
    expect(on.length, `badges on ${pic.id} (${pic.url.slice(0, 80)})`).toBe(1);
    const b = on[0]!;
    const file = fileOf(pic.url);
    expect(reference.has(file), `reference for ${file}`).toBe(true);
    expect(b.p, `${pic.id} score`).not.toBeNull();
    expect(Math.abs((b.p as number) - (reference.get(file) as number)), `${pic.id} (${file}) vs PyTorch`).toBeLessThanOrEqual(1e-3);
  }
  const urls = new Set(inView.map((p) => p.url));
  const sameUrlCount = (u: string): number => inView.filter((p) => p.url === u).length;
  for (const b of visible) {
    expect(urls.has(b.src), `a badge for something not in view: ${b.src.slice(0, 80)}`).toBe(true);
  }
  for (const u of urls) expect(visible.filter((b) => b.src === u).length, `badges for ${u.slice(0, 80)}`).toBe(sameUrlCount(u));
}

/** Waits for every picture in view to carry a settled, shown badge. */
async function settleAll(page: Page): Promise<{ pics: Pic[]; badges: BadgeReading[] }> {
  const deadline = Date.now() + 120_000;
  for (;;) {
    const now = await pics(page);
    const badges = await waitForBadges(page, settled, 120_000);
    const vis = shown(badges);
    if (now.filter((p) => p.inView).every((p) => vis.some((b) => b.src === p.url))) return { pics: now, badges };
    if (Date.now() > deadline) {
      throw new Error(`not every picture badged: ${JSON.stringify(now.filter((p) => p.inView && !vis.some((b) => b.src === p.url)).map((p) => [p.id, p.url.slice(0, 80)]))}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** The page's boxes equal `before` (default: at DOMContentLoaded), and no layout shift past `shiftsBefore`. */
async function expectNothingMoved(page: Page, before?: string[], shiftsBefore = 0): Promise<void> {
  const r = (await page.evaluate('({ before: window.__before, now: window.__rects(), shifts: window.__shifts, sources: window.__shiftSources })')) as {
    before: string[];
    now: string[];
    shifts: number;
    sources: string[];
  };
  expect(r.now).toEqual(before ?? r.before);
  expect(r.shifts - shiftsBefore, `layout shifts: ${r.sources.join('; ')}`).toBe(0);
}

async function derive(name: string, make: Sharp): Promise<string> {
  const path = join(derivedDir, name);
  await make.toFile(path);
  return path;
}

beforeAll(async () => {
  // Thumbnails for the search page (JPEG, some short enough to travel as a data: address, some
  // long enough that the page hands their bytes over), and the news page's AVIF/WebP/JPEG files.
  const thumbs: string[] = [];
  const thumbSources = ['camera.png', 'chelsea.png', 'coins.png', 'rocket.jpg', 'hubble-palette.png', 'astronaut-portrait.jpg'];
  for (const [i, f] of thumbSources.entries()) {
    const side = i % 2 === 0 ? 140 : 220;
    thumbs.push(await derive(`thumb-${i}.jpg`, sharp(photoPath(f)).resize(side, side, { fit: 'cover' }).jpeg({ quality: i % 2 === 0 ? 60 : 92 })));
  }
  const news: Array<[string, string]> = [['news-0', 'chelsea.png'], ['news-1', 'rocket.jpg'], ['news-2', 'coins.png']];
  const files: string[] = [...PHOTOS.map(photoPath), ...thumbs];
  const rawSpecs = new Map<string, string>();
  for (const [name, f] of news) {
    // Lossless, so every decoder shows the same pixels; the reference scores the AVIF as sharp decodes it.
    const avif = await derive(`${name}.avif`, sharp(photoPath(f)).toColourspace('srgb').avif({ lossless: true }));
    const { data, info } = await sharp(avif).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    const raw = join(derivedDir, `${name}.avif.rgb`);
    writeFileSync(raw, data);
    rawSpecs.set(`raw:${raw}:${info.width}:${info.height}:${info.channels}`, `${name}.avif`);
    files.push(await derive(`${name}.webp`, sharp(photoPath(f)).toColourspace('srgb').webp({ lossless: true })));
    files.push(await derive(`${name}.jpg`, sharp(photoPath(f)).toColourspace('srgb').jpeg({ quality: 85 })));
  }
  const scores = await referenceScores([...files, ...rawSpecs.keys()]);
  for (const [k, v] of scores) reference.set(rawSpecs.get(k) ?? basename(k), v);
  for (const [i, t] of thumbs.entries()) {
    const url = `data:image/jpeg;base64,${readFileSync(t).toString('base64')}`;
    dataFiles.set(url, basename(t));
    thumbSides.set(url, i % 2 === 0 ? 140 : 220);
  }

  server = await startServer(join(import.meta.dirname, '../fixtures/photos'));
  for (const f of [...thumbs.map((t) => basename(t)), ...news.flatMap(([n]) => [`${n}.avif`, `${n}.webp`, `${n}.jpg`])]) {
    const body = readFileSync(join(derivedDir, f));
    server.route(`/derived/${f}`, (_req, res) => res.writeHead(200, { 'content-type': DERIVED_TYPES[f.split('.').pop()!] ?? 'application/octet-stream' }).end(body));
  }
  ext = await launchWithExtension();
}, 300_000);

afterAll(async () => {
  await ext?.close();
  await server?.close();
  rmSync(derivedDir, { recursive: true, force: true });
});

beforeEach(async () => {
  await fromExtensionPage(ext, '(v) => chrome.storage.sync.set(v)', { scanMode: 'auto', suspectedStyle: 'badge', showRealBadges: true, minImageSize: 128, paused: false, disabledSites: [] });
});

describe('page shapes', () => {
  it('a masonry grid with lazy srcset: the chosen file is judged, once, as each part scrolls near', async () => {
    const cells = (block: string, files: Array<[string, string, number]>): string =>
      files
        .map(
          ([small, big, h], i) =>
            `<img data-pic="${block}-${i}" loading="lazy" width="300" height="${h}" alt="" src="/static/${small}?${block}-fallback-${i}"
  srcset="/static/${small}?${block}-w400-${i} 400w, /static/${big}?${block}-w1600-${i} 1600w" sizes="(min-width: 900px) 300px, 100vw">`,
        )
        .join('\n');
    const top: Array<[string, string, number]> = [['camera.png', 'coins.png', 300], ['chelsea.png', 'rocket.jpg', 200], ['rocket.jpg', 'camera.png', 260], ['coins.png', 'chelsea.png', 340], ['hubble-palette.png', 'coins.png', 220], ['astronaut-portrait.jpg', 'chelsea.png', 380]];
    const bottom: Array<[string, string, number]> = [['chelsea-447x300.png', 'camera.png', 200], ['coffee-alpha.png', 'rocket.jpg', 300], ['camera.png', 'coins.png', 240], ['rocket.jpg', 'chelsea.png', 280], ['coins.png', 'camera.png', 320], ['chelsea.png', 'coins.png', 260]];
    server.page(
      '/masonry.html',
      html('masonry', '.grid{column-count:3;column-gap:12px;width:960px} .grid img{display:block;width:300px;margin:0 0 12px;break-inside:avoid}', `<div class="grid" id="g1">${cells('m1', top)}</div>
<div id="spacer" style="height:6000px"></div><div class="grid" id="g2">${cells('m2', bottom)}</div>`),
    );
    const before = await stats();
    const page = await open('/masonry.html');
    const first = await settleAll(page);
    expect(first.pics.filter((p) => p.inView).length).toBeGreaterThanOrEqual(5);
    expectOneCorrectBadgeEach(first.pics, first.badges);
    // The browser chose the 400w candidates; the fallback and the 1600w files are never fetched.
    for (const p of first.pics.filter((x) => x.inView)) expect(p.url).toContain('-w400-');
    await expectNothingMoved(page);
    expect(extensionFetches('m2-').size, 'the far block is not asked about').toBe(0);

    await page.evaluate(() => document.getElementById('g2')!.scrollIntoView());
    const second = await settleAll(page);
    expect(second.pics.filter((p) => p.inView && p.id.startsWith('m2')).length).toBeGreaterThanOrEqual(5);
    expectOneCorrectBadgeEach(second.pics, second.badges);
    await expectNothingMoved(page);
    expect(extensionFetches('fallback').size).toBe(0);
    expect(extensionFetches('-w1600-').size).toBe(0);
    expectEachFetchedOnce('-w400-', 10);
    // Scrolling back up asks nothing again.
    await page.evaluate(() => window.scrollTo(0, 0));
    const again = await settleAll(page);
    expectOneCorrectBadgeEach(again.pics, again.badges);
    expectEachFetchedOnce('-w400-', 10);
    const after = await stats();
    // 12 addresses, 8 distinct files: each address downloaded once, each file inferred at most once.
    expect(after.inferences - before.inferences).toBeLessThanOrEqual(8);
    expect(after.inferences + after.hashHits - before.inferences - before.hashHits).toBe(extensionFetches('-w400-').size);
    await page.close();
  }, 240_000);

  it('an infinite feed that recycles its <img> elements: the badge follows the new picture', async () => {
    const round = (n: number, files: string[]): string[] => files.map((f, i) => `/static/${f}?feed${n}-${i}`);
    const r1 = round(1, ['camera.png', 'chelsea.png', 'coins.png', 'rocket.jpg']);
    const r2 = round(2, ['hubble-palette.png', 'astronaut-portrait.jpg', 'chelsea-447x300.png', 'coffee-alpha.png']);
    server.page(
      '/feed.html',
      html('feed', '.slot{display:block;width:320px;height:240px;object-fit:cover;margin:0 0 10px}', `<div id="list">${r1.map((u, i) => `<img class="slot" data-pic="slot-${i}" src="${u}" alt="">`).join('')}</div>
<script>window.recycle = (urls) => document.querySelectorAll('.slot').forEach((img, i) => { img.src = urls[i]; });</script>`),
    );
    const before = await stats();
    const page = await open('/feed.html', { width: 1280, height: 1100 });
    const one = await settleAll(page);
    expect(one.pics.filter((p) => p.inView)).toHaveLength(4);
    expectOneCorrectBadgeEach(one.pics, one.badges);

    await page.evaluate((urls) => (window as unknown as { recycle: (u: string[]) => void }).recycle(urls), r2);
    const two = await settleAll(page);
    expect(two.pics.map((p) => p.url)).toEqual(r2.map((u) => server.origin + u));
    // Old verdicts gone, new ones correct, one badge per slot.
    expect(two.badges.filter((b) => b.src.includes('feed1-'))).toEqual([]);
    expectOneCorrectBadgeEach(two.pics, two.badges);

    // Back to the first pictures: known already, nothing fetched or inferred again.
    await page.evaluate((urls) => (window as unknown as { recycle: (u: string[]) => void }).recycle(urls), r1);
    const three = await settleAll(page);
    expect(three.pics.map((p) => p.url)).toEqual(r1.map((u) => server.origin + u));
    expect(three.badges.filter((b) => b.src.includes('feed2-'))).toEqual([]);
    expectOneCorrectBadgeEach(three.pics, three.badges);
    await expectNothingMoved(page);
    expectEachFetchedOnce('?feed', 8);
    const after = await stats();
    expect(after.inferences + after.hashHits - before.inferences - before.hashHits).toBe(8);
    await page.close();
  }, 240_000);

  it('a carousel of CSS backgrounds moved by transforms: only the slide in view is badged, each judged once', async () => {
    const slides = ['rocket.jpg', 'chelsea.png', 'coins.png', 'hubble-palette.png', 'camera.png'];
    server.page(
      '/carousel.html',
      html(
        'carousel',
        `.frame{width:600px;height:340px;overflow:hidden;position:relative;margin:40px}
.track{display:flex;transition:transform .25s ease;will-change:transform}
.slide{flex:0 0 600px;height:340px;background-size:cover;background-position:center;background-repeat:no-repeat;transform:scale(.92);transition:transform .25s}
.slide.active{transform:scale(1)}`,
        `<div class="frame"><div class="track" id="track">${slides
          .map((f, i) => `<div class="slide${i === 0 ? ' active' : ''}" data-pic="slide-${i}" style="background-image:url('/static/${f}?slide-${i}')"></div>`)
          .join('')}</div></div><p id="caption">A caption under the carousel.</p>
<script>
  window.go = (i) => {
    document.getElementById('track').style.transform = 'translateX(' + (-600 * i) + 'px)';
    document.querySelectorAll('.slide').forEach((s, j) => s.classList.toggle('active', i === j));
  };
</script>`,
      ),
    );
    const before = await stats();
    const page = await open('/carousel.html');
    const inFrame = (p: Pic[]): Pic[] => p.filter((x) => x.right > 48 + 1 && x.left < 648 - 1);
    for (const i of [0, 1, 2, 3, 4, 2, 0]) {
      await page.evaluate((n) => (window as unknown as { go: (n: number) => void }).go(n), i);
      await new Promise((r) => setTimeout(r, 400)); // the page's own transition
      const all = await pics(page);
      // Slides outside the frame are clipped away: not "in view" for the purpose of badges.
      for (const p of all) p.inView = inFrame([p]).length > 0;
      expect(all.filter((p) => p.inView).map((p) => p.id)).toEqual([`slide-${i}`]);
      const badges = await waitForBadges(page, (b) => settled(b) && shown(b).length === 1 && shown(b)[0]!.src.endsWith(`?slide-${i}`), 60_000);
      expectOneCorrectBadgeEach(all, badges);
    }
    await expectNothingMoved(page);
    expectEachFetchedOnce('?slide-', 5);
    const after = await stats();
    expect(after.inferences + after.hashHits - before.inferences - before.hashHits).toBe(5);
    await page.close();
  }, 240_000);

  it('a lightbox modal: the enlarged picture is badged on top, the thumbnails under it are not shown, nothing is judged twice', async () => {
    const files = ['chelsea.png', 'rocket.jpg', 'camera.png', 'astronaut-portrait.jpg'];
    server.page(
      '/lightbox.html',
      html(
        'lightbox',
        `.thumbs{display:flex;gap:10px} .thumbs img{width:200px;height:150px;object-fit:cover;cursor:zoom-in}
.box{position:fixed;inset:0;background:rgba(0,0,0,.85);display:flex;align-items:center;justify-content:center;z-index:100}
.box img{max-width:640px;max-height:480px}`,
        `<div class="thumbs">${files.map((f, i) => `<img data-pic="thumb-${i}" src="/static/${f}?lb-thumb-${i}" alt="">`).join('')}</div>
<p>Text under the thumbnails.</p>
<script>
  window.openBox = (i) => {
    const box = document.createElement('div'); box.className = 'box'; box.id = 'box';
    const img = document.createElement('img'); img.dataset.pic = 'large'; img.src = document.querySelectorAll('.thumbs img')[i].src.replace('lb-thumb', 'lb-large');
    box.append(img); document.body.append(box);
  };
  window.closeBox = () => document.getElementById('box')?.remove();
</script>`,
      ),
    );
    const before = await stats();
    const page = await open('/lightbox.html');
    const grid = await settleAll(page);
    expectOneCorrectBadgeEach(grid.pics, grid.badges);
    const layout = (await page.evaluate('window.__rects()')) as string[];
    for (const i of [1, 3, 1]) {
      await page.evaluate((n) => (window as unknown as { openBox: (n: number) => void }).openBox(n), i);
      const badges = await waitForBadges(page, (b) => settled(b) && shown(b).length === 1 && shown(b)[0]!.src.endsWith(`?lb-large-${i}`), 60_000);
      const all = await pics(page);
      // Under the modal only the enlarged picture is in view.
      for (const p of all) p.inView = p.id === 'large';
      expectOneCorrectBadgeEach(all, badges);
      await page.evaluate(() => (window as unknown as { closeBox: () => void }).closeBox());
      const back = await waitForBadges(page, (b) => shown(b).length === 4 && !b.some((x) => x.src.includes('lb-large') && !x.hidden), 30_000);
      expectOneCorrectBadgeEach(await pics(page), back);
    }
    await expectNothingMoved(page, layout);
    expectEachFetchedOnce('?lb-', 6);
    const after = await stats();
    // Six addresses, four files: the enlarged copies are the thumbnails' bytes.
    expect(after.inferences + after.hashHits - before.inferences - before.hashHits).toBe(6);
    expect(after.hashHits - before.hashHits).toBeGreaterThanOrEqual(2);
    await page.close();
  }, 240_000);

  it('search results of base64 thumbnails: each judged from its own bytes, a repeated one once', async () => {
    const urls = [...dataFiles.keys()];
    const results = [...urls, urls[1]!, urls[0]!];
    server.page(
      '/search.html',
      html(
        'search',
        '.results{display:grid;grid-template-columns:repeat(4,240px);gap:14px} .r img{display:block} .r p{margin:4px 0}',
        `<div class="results">${results.map((u, i) => `<div class="r"><img data-pic="result-${i}" src="${u}" width="${thumbSides.get(u)}" height="${thumbSides.get(u)}" alt=""><p>Result ${i}</p></div>`).join('')}</div>`,
      ),
    );
    const before = await stats();
    const page = await open('/search.html');
    const got = await settleAll(page);
    expect(got.pics.filter((p) => p.inView)).toHaveLength(8);
    expect(got.pics.some((p) => p.url.length < 8192) && got.pics.some((p) => p.url.length > 8192)).toBe(true);
    expectOneCorrectBadgeEach(got.pics, got.badges);
    await expectNothingMoved(page);
    const after = await stats();
    expect(after.inferences + after.hashHits - before.inferences - before.hashHits).toBe(6);
    expect(server.log.filter((e) => e.dest === 'empty' && e.path.startsWith('/derived/thumb'))).toEqual([]);
    await page.close();
  }, 240_000);

  it('a news page with <picture> AVIF and WebP sources: the AVIF the browser shows is judged, the others never fetched', async () => {
    const picture = (name: string, id: string, w: number, h: number, avif = true): string =>
      `<picture>${avif ? `<source type="image/avif" srcset="/derived/${name}.avif">` : ''}<source type="image/webp" srcset="/derived/${name}.webp"><img data-pic="${id}" src="/derived/${name}.jpg" width="${w}" height="${h}" alt=""></picture>`;
    server.page(
      '/news.html',
      html(
        'news',
        'article{width:820px} .hero img{width:800px;height:auto} .row{display:flex;gap:16px} .row img{width:300px;height:auto}',
        `<article><h1>Headline</h1><figure class="hero">${picture('news-0', 'hero', 451, 300)}<figcaption>Caption</figcaption></figure>
<div class="row">${picture('news-1', 'side', 640, 427)}${picture('news-2', 'webp-only', 384, 303, false)}</div><p>Body text.</p></article>`,
      ),
    );
    const page = await open('/news.html');
    const got = await settleAll(page);
    expect(got.pics.map((p) => fileOf(p.url)).sort()).toEqual(['news-0.avif', 'news-1.avif', 'news-2.webp']);
    expectOneCorrectBadgeEach(got.pics, got.badges);
    await expectNothingMoved(page);
    expectEachFetchedOnce('/derived/news', 3);
    expect([...extensionFetches('/derived/news-').keys()].filter((u) => u.endsWith('.jpg'))).toEqual([]);
    await page.close();
  }, 240_000);

  it('pictures inside shadow-DOM web components, nested, slotted, and rendered late', async () => {
    server.page(
      '/components.html',
      html(
        'components',
        'photo-card{display:inline-block;margin:8px;vertical-align:top}',
        `<photo-card id="c1" src="/static/chelsea.png?wc-1"></photo-card>
<photo-card id="c2" src="/static/rocket.jpg?wc-2" framed></photo-card>
<photo-card id="c3" src="/static/coins.png?wc-3"><img data-pic="slotted" src="/static/camera.png?wc-slot" width="200" height="200" alt=""></photo-card>
<late-card id="late"></late-card>
<script>
  class PhotoCard extends HTMLElement {
    connectedCallback() {
      if (this.shadowRoot) return;
      const root = this.attachShadow({ mode: 'open' });
      const style = document.createElement('style');
      style.textContent = 'img{display:block;width:260px;height:180px;object-fit:cover} .bg{width:260px;height:160px;background:center/cover no-repeat}';
      const img = document.createElement('img'); img.dataset.pic = this.id; img.src = this.getAttribute('src');
      root.append(style, img, document.createElement('slot'));
      if (this.hasAttribute('framed')) {
        const inner = document.createElement('photo-frame');
        inner.setAttribute('bg', '/static/hubble-palette.png?wc-nested');
        root.append(inner);
      }
    }
  }
  class PhotoFrame extends HTMLElement {
    connectedCallback() {
      const root = this.attachShadow({ mode: 'open' });
      const d = document.createElement('div'); d.dataset.pic = 'nested'; d.style.cssText = 'width:260px;height:160px;background:url(' + this.getAttribute('bg') + ') center/cover no-repeat';
      root.append(d);
    }
  }
  customElements.define('photo-card', PhotoCard);
  customElements.define('photo-frame', PhotoFrame);
  // A component whose code arrives later (lazy-loaded bundle): its shadow root appears after the scan.
  setTimeout(() => customElements.define('late-card', class extends HTMLElement {
    connectedCallback() {
      const root = this.attachShadow({ mode: 'open' });
      const img = document.createElement('img'); img.dataset.pic = 'late'; img.src = '/static/astronaut-portrait.jpg?wc-late'; img.width = 200; img.height = 320;
      root.append(img);
    }
  }), 1500);
</script>`,
      ),
    );
    const page = await open('/components.html');
    await page.waitForFunction(() => (window as unknown as { __pics: () => Array<{ id: string }> }).__pics().some((p) => p.id === 'late'));
    // The components' own rendering moves the page; from then on nothing may move.
    await new Promise((r) => setTimeout(r, 300));
    const layout = (await page.evaluate('window.__rects()')) as string[];
    const shifts = (await page.evaluate('window.__shifts')) as number;
    const got = await settleAll(page);
    expect(got.pics.map((p) => p.id).sort()).toEqual(['c1', 'c2', 'c3', 'late', 'nested', 'slotted']);
    expectOneCorrectBadgeEach(got.pics, got.badges);
    await expectNothingMoved(page, layout, shifts);
    expectEachFetchedOnce('?wc-', 6);
    await page.close();
  }, 240_000);
});

// What the extension costs the page a person reads (`npm run bench:page`): a local page of 300
// images (mixed sizes, lazy loading, infinite scroll) scrolled top to bottom in headless
// Chromium, without the extension and with it (first visit, then again with every verdict in
// the cache). Prints main-thread long tasks, cumulative layout shift, main-thread task time per
// image against the run without the extension, and the time from an image entering the viewport
// to its badge when the verdict is cached. Asserts nothing about time.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { chromePath, launchWithExtension, QUIET_FLAGS, type ExtensionSession } from '../test/support/chrome';
import { inContentScript } from '../test/support/contexts';
import { writeSyntheticPictures } from '../test/support/png';
import { REPO } from '../test/support/python';
import { startServer, type TestServer } from '../test/support/server';

const TOTAL = 300;
const FIRST = 100;
const STEP = 50;
const FRAME_MS = 1000 / 60;
const DIST = join(tmpdir(), 'rfl-dist-bench-page');

interface Run {
  name: string;
  images: number;
  longTasks: number;
  longTaskMs: number;
  cls: number;
  taskMs: number;
  scriptMs: number;
  /** ms from entering the viewport to the badge showing, per image (cached runs). */
  toBadge: number[];
}

let server: TestServer;
let dir: string;

function pageHtml(files: string[]): string {
  // Sizes: mostly 160-320 px, every fifth 96 px (too small: must be skipped cheaply).
  const sizes = [240, 160, 320, 200, 96];
  const items = Array.from({ length: TOTAL }, (_, i) => {
    const s = sizes[i % sizes.length] as number;
    return { src: `/static/${files[i % files.length]}?i=${i}`, w: s, h: Math.round(s * 0.75) };
  });
  return `<!doctype html><html><head><meta charset="utf-8"><title>300 images</title>
<style>body{margin:8px;font:13px sans-serif} main{display:flex;flex-wrap:wrap;gap:8px} figure{margin:0} figcaption{height:16px}</style>
<script>
  window.__long = []; window.__cls = 0; window.__enter = {};
  new PerformanceObserver((l) => { for (const e of l.getEntries()) window.__long.push(e.duration); }).observe({ type: 'longtask', buffered: true });
  new PerformanceObserver((l) => { for (const e of l.getEntries()) if (!e.hadRecentInput) window.__cls += e.value; }).observe({ type: 'layout-shift', buffered: true });
  const io = new IntersectionObserver((es) => { for (const e of es) if (e.isIntersecting && !(e.target.src in window.__enter)) window.__enter[e.target.src] = e.time; });
  new MutationObserver((rs) => { for (const r of rs) for (const n of r.addedNodes) if (n.querySelectorAll) for (const i of n.querySelectorAll('img')) io.observe(i); })
    .observe(document, { childList: true, subtree: true });
</script></head><body><main></main>
<script>
  const items = ${JSON.stringify(items)};
  let n = 0;
  function more(count) {
    const main = document.querySelector('main');
    for (const end = Math.min(items.length, n + count); n < end; n++) {
      const it = items[n];
      const f = document.createElement('figure');
      const img = new Image(it.w, it.h);
      if (n >= 24) img.loading = 'lazy';
      img.src = it.src; img.alt = '';
      const c = document.createElement('figcaption'); c.textContent = 'Picture ' + n;
      f.append(img, c); main.append(f);
    }
  }
  more(${FIRST});
  addEventListener('scroll', () => { if (innerHeight + scrollY > document.body.scrollHeight - 800) more(${STEP}); }, { passive: true });
</script></body></html>`;
}

/** Starts counting the page renderer's main-thread task and script time (CDP Performance domain). */
async function startMetrics(page: Page): Promise<{ stop: () => Promise<{ taskMs: number; scriptMs: number }> }> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Performance.enable', { timeDomain: 'threadTicks' });
  const read = async (): Promise<Record<string, number>> => {
    const { metrics } = (await cdp.send('Performance.getMetrics')) as { metrics: Array<{ name: string; value: number }> };
    return Object.fromEntries(metrics.map((m) => [m.name, m.value]));
  };
  const first = await read();
  return {
    stop: async () => {
      const last = await read();
      await cdp.detach();
      return {
        taskMs: ((last.TaskDuration ?? 0) - (first.TaskDuration ?? 0)) * 1000,
        scriptMs: ((last.ScriptDuration ?? 0) - (first.ScriptDuration ?? 0)) * 1000,
      };
    },
  };
}

/** Records, in the content script's world, when each badge first shows a verdict (same clock as the page). */
async function watchBadges(page: Page, extensionId: string): Promise<void> {
  await inContentScript(
    page,
    extensionId,
    `new Promise((resolve) => {
      const start = () => {
        const host = document.querySelector('realfake-lens-overlay');
        if (!host) return setTimeout(start, 20);
        const root = chrome.dom.openOrClosedShadowRoot(host);
        globalThis.__shown = {};
        const look = () => {
          for (const b of root.querySelectorAll('.badge')) {
            if (b.dataset.state !== 'checking' && !b.hidden && !(b.dataset.src in globalThis.__shown)) globalThis.__shown[b.dataset.src] = performance.now();
          }
        };
        new MutationObserver(look).observe(root, { subtree: true, attributes: true, childList: true });
        resolve(true);
      };
      start();
    })`,
  );
}

async function scrollThrough(page: Page): Promise<void> {
  for (let i = 0; i < 80; i++) {
    await page.mouse.wheel(0, 450);
    await new Promise((r) => setTimeout(r, 120));
    const atEnd = await page.evaluate(() => innerHeight + scrollY >= document.body.scrollHeight - 2 && document.images.length >= 300);
    if (atEnd) break;
  }
  await new Promise((r) => setTimeout(r, 1_500));
}

async function measure(name: string, context: BrowserContext, extensionId: string | null): Promise<Run> {
  const page = await context.newPage();
  await page.setViewportSize({ width: 1280, height: 900 });
  await page.goto(`${server.origin}/page.html`);
  await page.waitForLoadState('load');
  if (extensionId) await watchBadges(page, extensionId);
  await new Promise((r) => setTimeout(r, 1_000));
  const counting = await startMetrics(page);
  await scrollThrough(page);
  const { taskMs, scriptMs } = await counting.stop();
  const seen = (await page.evaluate(() => {
    const w = window as unknown as { __long: number[]; __cls: number; __enter: Record<string, number> };
    return { long: w.__long, cls: w.__cls, enter: w.__enter, images: document.images.length };
  })) as { long: number[]; cls: number; enter: Record<string, number>; images: number };
  let toBadge: number[] = [];
  if (extensionId) {
    const shown = (await inContentScript(page, extensionId, 'globalThis.__shown')) as Record<string, number>;
    toBadge = Object.entries(seen.enter)
      .filter(([src]) => src in shown)
      .map(([src, t]) => Math.max(0, (shown[src] as number) - t));
  }
  await page.close();
  return {
    name,
    images: seen.images,
    longTasks: seen.long.length,
    longTaskMs: seen.long.reduce((a, b) => a + b, 0),
    cls: seen.cls,
    taskMs,
    scriptMs,
    toBadge,
  };
}

const quantile = (xs: number[], q: number): number => {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] as number;
};

beforeAll(async () => {
  execFileSync('npx', ['vite', 'build', '--logLevel', 'warn'], { cwd: REPO, stdio: 'inherit', env: { ...process.env, RFL_DIST: DIST } });
  dir = mkdtempSync(join(tmpdir(), 'rfl-page-bench-'));
  const files = writeSyntheticPictures(dir, 30, 320);
  server = await startServer(dir);
  server.page('/page.html', pageHtml(files));
}, 300_000);

afterAll(async () => {
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
  rmSync(DIST, { recursive: true, force: true });
});

describe('page impact', () => {
  it('measures a 300-image page without and with the extension', async () => {
    const runs: Run[] = [];
    const profile = mkdtempSync(join(tmpdir(), 'rfl-plain-'));
    const args = [...QUIET_FLAGS, ...(process.getuid?.() === 0 ? ['--no-sandbox'] : [])];
    const plain = await chromium.launchPersistentContext(profile, { executablePath: chromePath(), headless: true, args });
    runs.push(await measure('without the extension', plain, null));
    await plain.close();
    rmSync(profile, { recursive: true, force: true });

    const ext: ExtensionSession = await launchWithExtension({ dist: DIST });
    try {
      runs.push(await measure('extension, first visit', ext.context, ext.extensionId));
      runs.push(await measure('extension, verdicts cached', ext.context, ext.extensionId));
    } finally {
      await ext.close();
    }

    const base = runs[0] as Run;
    const pad = (s: string, n: number): string => s.padEnd(n);
    console.log(`\npage impact: ${TOTAL} images (every 5th 96 px, lazy loading, infinite scroll), scrolled top to bottom`);
    console.log(`${pad('run', 30)}${pad('images', 8)}${pad('long tasks', 12)}${pad('long ms', 10)}${pad('CLS', 8)}${pad('task ms', 10)}${pad('vs plain', 10)}extra ms/image`);
    for (const r of runs) {
      const extra = (r.taskMs - base.taskMs) / r.images;
      console.log(
        `${pad(r.name, 30)}${pad(String(r.images), 8)}${pad(String(r.longTasks), 12)}${pad(r.longTaskMs.toFixed(0), 10)}${pad(r.cls.toFixed(3), 8)}` +
          `${pad(r.taskMs.toFixed(0), 10)}${pad(`${(r.taskMs / base.taskMs).toFixed(2)}x`, 10)}${r === base ? '-' : extra.toFixed(2)}`,
      );
    }
    for (const r of runs.slice(1)) {
      const t = r.toBadge;
      const inFrame = t.filter((x) => x <= FRAME_MS).length;
      console.log(
        `${r.name}: entering the viewport -> badge: median ${quantile(t, 0.5).toFixed(1)} ms (${(quantile(t, 0.5) / FRAME_MS).toFixed(2)} frames), ` +
          `p95 ${quantile(t, 0.95).toFixed(1)} ms; ${inFrame}/${t.length} within one frame`,
      );
    }
    console.log(
      `added by the extension (cached run): ${(runs[2] as Run).longTasks - base.longTasks} long tasks, CLS ${((runs[2] as Run).cls - base.cls).toFixed(3)} (goals: none, 0)`,
    );
    expect(runs.every((r) => r.images === TOTAL)).toBe(true);
  }, 600_000);
});

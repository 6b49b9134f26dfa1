// The same preprocessing code in Chromium and in Firefox ESR, side by side (`npm run bench`): decode.ts +
// preprocess.ts bundled as is and run on a plain page served on 127.0.0.1 in each browser (Firefox's
// engine document is a frame of its event page, which a page cannot time; bench/preprocess.bench.ts
// times the extension's own offscreen document in Chromium). The published model's recipe (OpenCV-exact
// resize to 256 x 256, crop, normalise) for a 12 MP, a 1 MP and a 300 px JPEG, against the reference
// pipeline in Python (PIL decode, cv2.resize, numpy; tools/realfake_ref/pipeline.py) measured in the
// same run on the same files, and Firefox as a ratio to Chromium. One more row: the OpenCV
// INTER_LINEAR port (opencv-resize.ts) taking the decoded 12 MP picture to 256x256, against cv2.resize.
// Prints ms per image and the ratios; asserts nothing about time. Firefox's rows are left out (and say
// so) where no Firefox is installed.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import puppeteer, { type Browser as FirefoxBrowser, type Page as FirefoxPage } from 'puppeteer-core';
import { bundleForPage } from '../test/support/bundle';
import { measurePrepare, type PrepareTiming } from './prepare-in-browser';
import { chromePath, QUIET_FLAGS } from '../test/support/chrome';
import { firefoxPath } from '../test/support/firefox';
import { PHOTOS_DIR } from '../test/support/photos';
import { runPython } from '../test/support/python';
import { startServer, type TestServer } from '../test/support/server';

const SIZES = [
  { name: '12 MP', w: 4000, h: 3000 },
  { name: '1 MP', w: 1152, h: 864 },
  { name: '300 px', w: 300, h: 225 },
];
const REPEATS = Number(process.env.BENCH_PREPROCESS_REPEATS ?? 5);

// Makes the JPEGs (an upscaled real photo, q90) and times the reference pipeline on them, and
// cv2.resize(INTER_LINEAR) of the decoded 12 MP one to 256x256.
const PYTHON = `
import json, sys, time
sys.path.insert(0, 'tools')
import cv2
import numpy as np
from PIL import Image
from realfake_ref.defaults import LAION_REALFAKE
from realfake_ref.pipeline import load_pixels, preprocess
src, out, repeats = sys.argv[1], sys.argv[2], int(sys.argv[3])
sizes = json.loads(sys.argv[4])
pre = LAION_REALFAKE['preprocessing']
t = lambda path: preprocess(load_pixels(path), pre)
base = Image.open(src).convert('RGB')
res = {}
for s in sizes:
    path = f"{out}/{s['w']}x{s['h']}.jpg"
    base.resize((s['w'], s['h']), Image.BICUBIC).save(path, quality=90)
    times = []
    for _ in range(repeats + 1):
        t0 = time.perf_counter()
        x = t(path)
        times.append((time.perf_counter() - t0) * 1000)
    times = sorted(times[1:])
    res[s['name']] = times[len(times) // 2]
    if s['name'] == '12 MP':
        with Image.open(path) as im:
            a = np.asarray(im.convert('RGB'))
        cv2.setNumThreads(1)
        times = []
        for _ in range(repeats + 1):
            t0 = time.perf_counter()
            cv2.resize(a, (256, 256), interpolation=cv2.INTER_LINEAR)
            times.append((time.perf_counter() - t0) * 1000)
        times = sorted(times[1:])
        res['cv2 resize'] = times[len(times) // 2]
print(json.dumps(res))
`;

let dir: string;
let server: TestServer;
let browser: Browser;
let page: Page;
let firefox: FirefoxBrowser | null = null;
let firefoxPage: FirefoxPage | null = null;
let noFirefox = '';
let pil: Record<string, number>;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'rfl-bench-pre-'));
  const r = await runPython(['-c', PYTHON, join(PHOTOS_DIR, 'chelsea.png'), dir, String(REPEATS), JSON.stringify(SIZES)]);
  if (r.code !== 0) throw new Error(r.stderr);
  pil = JSON.parse(r.stdout) as Record<string, number>;
  const [decode, pre, cvResize] = await Promise.all([
    bundleForPage(resolve(import.meta.dirname, '../src/offscreen/decode.ts'), 'RealfakeDecode'),
    bundleForPage(resolve(import.meta.dirname, '../src/detector/preprocess.ts'), 'RealfakePreprocess'),
    bundleForPage(resolve(import.meta.dirname, '../src/detector/opencv-resize.ts'), 'RealfakeOpenCvResize'),
  ]);
  server = await startServer(dir);
  server.route('/code.js', (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/javascript' });
    res.end(`${decode}\n${pre}\n${cvResize}`);
  });
  server.page('/', '<!doctype html><meta charset="utf-8"><title>preprocess bench</title><script src="/code.js"></script>');
  const args = [...QUIET_FLAGS];
  if (process.getuid?.() === 0) args.push('--no-sandbox');
  browser = await chromium.launch({ executablePath: chromePath(), headless: true, args });
  page = await browser.newPage();
  await page.goto(server.origin);
  try {
    firefox = await puppeteer.launch({ browser: 'firefox', executablePath: firefoxPath(), headless: true });
    firefoxPage = await firefox.newPage();
    await firefoxPage.goto(server.origin);
  } catch (e) {
    noFirefox = String(e);
  }
}, 240_000);

afterAll(async () => {
  await browser?.close();
  await firefox?.close();
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});


/** Runs in the browser's page: the OpenCV INTER_LINEAR port on the decoded picture at `url`, to 256x256. */
const measureResize = async ({ url, repeats }: { url: string; repeats: number }): Promise<{ median: number; length: number }> => {
  type Decode = typeof import('../src/offscreen/decode');
  type Pre = typeof import('../src/detector/preprocess');
  type CvResize = typeof import('../src/detector/opencv-resize');
  const g = globalThis as unknown as { RealfakeDecode: Decode; RealfakePreprocess: Pre; RealfakeOpenCvResize: CvResize };
  const img = await g.RealfakeDecode.decodeImage(await (await fetch(url)).blob());
  const rgb = g.RealfakePreprocess.rgbaToRgb(img.rgba, img.width, img.height);
  const times: number[] = [];
  let length = 0;
  for (let i = 0; i < repeats + 1; i++) {
    const t0 = performance.now();
    length = g.RealfakeOpenCvResize.resizeOpenCvLinear(rgb, img.width, img.height, 3, 256, 256).length;
    times.push(performance.now() - t0);
  }
  const sorted = times.slice(1).sort((a, b) => a - b);
  return { median: sorted[Math.floor(sorted.length / 2)] ?? NaN, length };
};

const firefoxLine = (): string => `  Firefox: not measured (${noFirefox.split('\n')[0]})`;

describe('bench: preprocessing', () => {
  it('decodes and preprocesses 12 MP, 1 MP and 300 px JPEGs', async () => {
    const lines: string[] = [`preprocessing (decode + resize + crop + normalise), median of ${REPEATS}:`];
    for (const s of SIZES) {
      const arg = { url: `/static/${s.w}x${s.h}.jpg`, repeats: REPEATS };
      const ref = pil[s.name] ?? NaN;
      const row = (name: string, ms: PrepareTiming): string =>
        `  ${s.name.padEnd(7)} ${name.padEnd(8)} ${ms.median.toFixed(1).padStart(7)} ms   reference ${ref.toFixed(1).padStart(7)} ms   ratio ${(ms.median / ref).toFixed(2)}x   (decode ${ms.decode.toFixed(1)} ms)`;
      const ms = await page.evaluate(measurePrepare, arg);
      expect(ms.length).toBe(3 * 224 * 224);
      lines.push(row('Chromium', ms));
      if (firefoxPage) {
        const fx = await firefoxPage.evaluate(measurePrepare, arg);
        expect(fx.length).toBe(3 * 224 * 224);
        lines.push(`${row('Firefox', fx)}   ${(fx.median / ms.median).toFixed(2)}x Chromium`);
      }
    }
    if (!firefoxPage) lines.push(firefoxLine());
    console.log(lines.join('\n'));
  }, 600_000);

  it("resizes the decoded 12 MP picture to 256x256 like cv2 (INTER_LINEAR), against cv2's own time", async () => {
    const s = SIZES[0] as (typeof SIZES)[number];
    const arg = { url: `/static/${s.w}x${s.h}.jpg`, repeats: REPEATS };
    const ref = pil['cv2 resize'] ?? NaN;
    const lines = [`OpenCV INTER_LINEAR resize, ${s.name} RGB -> 256x256, median of ${REPEATS}:`];
    const r = await page.evaluate(measureResize, arg);
    expect(r.length).toBe(256 * 256 * 3);
    lines.push(`  Chromium ${r.median.toFixed(2)} ms   cv2 (1 thread) ${ref.toFixed(2)} ms   ratio ${(r.median / ref).toFixed(2)}x`);
    if (firefoxPage) {
      const fx = await firefoxPage.evaluate(measureResize, arg);
      expect(fx.length).toBe(256 * 256 * 3);
      lines.push(`  Firefox  ${fx.median.toFixed(2)} ms   cv2 (1 thread) ${ref.toFixed(2)} ms   ratio ${(fx.median / ref).toFixed(2)}x   ${(fx.median / r.median).toFixed(2)}x Chromium`);
    } else {
      lines.push(firefoxLine());
    }
    console.log(lines.join('\n'));
  }, 600_000);
});

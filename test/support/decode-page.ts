// The offscreen document's decoder (src/offscreen/decode.ts, bundled as is) on a page of the test
// server in headless Chromium: the parity tests' way to see the pixels the extension decodes.

import { resolve } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { bundleForPage } from './bundle';
import { chromePath } from './chrome';
import type { TestServer } from './server';

export interface BrowserDecoded {
  width: number;
  height: number;
  /** Straight RGBA, as decodeImage returns it. */
  rgba: Uint8Array;
  /** decodeImage's `via`: which way it read the pixels. */
  via?: string;
  /** Whether the image's rows, read one by one through `row(y)`, are its RGBA's rows. */
  rowsAgree?: boolean;
}

export interface DecodePage {
  /** decodeImage() of what the server serves at `path` (e.g. /static/x.png). */
  decode(path: string): Promise<BrowserDecoded>;
  close(): Promise<void>;
}

/** Serves the bundled decoder at `server`'s root and opens it in a new headless Chromium. */
export async function openDecodePage(server: TestServer): Promise<DecodePage> {
  const script = await bundleForPage(resolve(import.meta.dirname, '../../src/offscreen/decode.ts'), 'RealfakeDecode');
  server.route('/decode.js', (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/javascript' });
    res.end(script);
  });
  server.page('/', '<!doctype html><meta charset="utf-8"><title>decode</title><script src="/decode.js"></script>');
  const browser: Browser = await chromium.launch({
    executablePath: chromePath(),
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
  });
  const page: Page = await browser.newPage();
  await page.goto(`${server.origin}/`);
  return {
    async decode(path: string): Promise<BrowserDecoded> {
      const r = await page.evaluate(async (url) => {
        const blob = await (await fetch(url)).blob();
        const api = (globalThis as unknown as { RealfakeDecode: typeof import('../../src/offscreen/decode') }).RealfakeDecode;
        const img = await api.decodeImage(blob);
        // Rows read one at a time (before the whole RGBA exists, for a decoder that makes it lazily)
        // must be the whole RGBA's rows.
        const rowLen = img.width * 4;
        const rows = new Uint8Array(rowLen * img.height);
        for (let y = 0; y < img.height; y++) rows.set(img.row(y), y * rowLen);
        const rowsAgree = rows.every((v, i) => v === img.rgba[i]);
        // Base64 keeps the transfer cheap (an 8 MB RGBA array as JSON numbers is not).
        let bin = '';
        for (let i = 0; i < img.rgba.length; i += 0x8000) bin += String.fromCharCode(...img.rgba.subarray(i, i + 0x8000));
        return { width: img.width, height: img.height, via: img.via, rowsAgree, b64: btoa(bin) };
      }, path);
      return { width: r.width, height: r.height, via: r.via, rowsAgree: r.rowsAgree, rgba: new Uint8Array(Buffer.from(r.b64, 'base64')) };
    },
    close: () => browser.close(),
  };
}

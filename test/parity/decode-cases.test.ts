// Every decoding case (test/support/decoding-cases.ts: JPEG progressive, CMYK, grey, ICC-tagged,
// EXIF orientations 2-8; PNG palette, palette + tRNS, grey + alpha, translucent RGBA, 16-bit RGB and
// grey, 16-bit RGBA, ICC-tagged; GIF; WebP lossy and lossless) decodes to exactly the reference's pixels
// (tools/realfake_ref/pipeline.py published_pixels) in real Chromium (src/offscreen/decode.ts,
// bundled as is) and in `npm run eval`'s decoder (tools/eval/decode-node.ts, sharp).

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeBytes } from '../../tools/eval/decode-node';
import { openDecodePage, type BrowserDecoded, type DecodePage } from '../support/decode-page';
import { makeDecodingSet, type DecodingSet } from '../support/decoding-cases';
import { pilDecode, type PilPixels } from '../support/python';
import { startServer, type TestServer } from '../support/server';

let set: DecodingSet;
let pil: Map<string, PilPixels>;
let server: TestServer;
let decoder: DecodePage;

async function decodeInBrowser(file: string): Promise<BrowserDecoded> {
  return decoder.decode(`/static/${file}`);
}

interface Comparison {
  size: string;
  /** Largest |Δ| over R, G and B (0..255); Infinity when the sizes differ. */
  max: number;
  /** How many R, G, B values differ. */
  differing: number;
  /** Pixels the decoder gave an alpha below 255. */
  translucentPixels: number;
}

function compare(got: BrowserDecoded, want: PilPixels): Comparison {
  const size = `${got.width}x${got.height}`;
  if (got.width !== want.width || got.height !== want.height) return { size, max: Infinity, differing: NaN, translucentPixels: NaN };
  let max = 0;
  let differing = 0;
  let translucentPixels = 0;
  for (let i = 0, j = 0; i < got.rgba.length; i += 4, j += 3) {
    if (got.rgba[i + 3] !== 255) translucentPixels++;
    for (let c = 0; c < 3; c++) {
      const d = Math.abs((got.rgba[i + c] ?? 0) - (want.rgb[j + c] ?? 0));
      if (d > 0) differing++;
      max = Math.max(max, d);
    }
  }
  return { size, max, differing, translucentPixels };
}

beforeAll(async () => {
  set = await makeDecodingSet();
  const decoded = await pilDecode(set.cases.map((c) => join(set.dir, c.file)));
  pil = new Map(decoded.map((d) => [d.input.split('/').pop() ?? '', d]));
  server = await startServer(set.dir);
  decoder = await openDecodePage(server);
});

afterAll(async () => {
  await decoder?.close();
  await server?.close();
  set?.remove();
});

function pilSize(file: string): string {
  const p = pil.get(file);
  return `${p?.width}x${p?.height}`;
}

function report(title: string, rows: Array<{ file: string; mode: string } & Comparison>): void {
  console.log(`${title}\n  file                     PIL mode  size       max |Δ|  values differing  translucent px`);
  for (const r of rows) {
    console.log(`  ${r.file.padEnd(24)} ${r.mode.padEnd(9)} ${r.size.padEnd(10)} ${String(r.max).padStart(7)}  ${String(r.differing).padStart(16)}  ${r.translucentPixels}`);
  }
}

describe('every decoding case decodes to the reference pixels', () => {
  it('in Chromium (src/offscreen/decode.ts)', async () => {
    const rows = [];
    for (const c of set.cases) {
      const want = pil.get(c.file);
      if (!want) throw new Error(`no reference decode of ${c.file}`);
      rows.push({ file: c.file, mode: c.mode, ...compare(await decodeInBrowser(c.file), want) });
    }
    report('browser decode vs reference (published_pixels)', rows);
    for (const r of rows) expect({ file: r.file, size: r.size, max: r.max }).toEqual({ file: r.file, size: pilSize(r.file), max: 0 });
    // The cases with alpha did reach the straight-alpha path.
    expect(rows.filter((r) => r.translucentPixels > 0).map((r) => r.file).sort()).toEqual(
      ['grey-alpha.png', 'palette-trns.png', 'rgba-coffee.png', 'rgba-translucent.png', 'rgba16.png'],
    );
  });

  it("in npm run eval's decoder (tools/eval/decode-node.ts, sharp)", async () => {
    const rows = [];
    for (const c of set.cases) {
      const want = pil.get(c.file);
      if (!want) throw new Error(`no reference decode of ${c.file}`);
      rows.push({ file: c.file, mode: c.mode, ...compare(await decodeBytes(new Uint8Array(readFileSync(join(set.dir, c.file)))), want) });
    }
    report('eval decode (sharp) vs reference (published_pixels)', rows);
    for (const r of rows) expect({ file: r.file, size: r.size, max: r.max }).toEqual({ file: r.file, size: pilSize(r.file), max: 0 });
  });
});

// The JPEG fast path of src/offscreen/decode.ts (bundled as is, in real headless Chromium): Chromium's
// YCbCr planes from WebCodecs' ImageDecoder, finished into RGB by src/detector/jpeg-ycc.ts, against
// PIL's decode (tools/realfake_ref/pipeline.py published_pixels) of JPEGs written at test time by
// PIL and OpenCV (test/support/jpeg_variants.py): 4:4:4, 4:2:2 and 4:2:0, baseline and progressive,
// restart markers, sizes from 1 x 1, quality 100 and 75. Every pixel must be PIL's exactly, and every
// YCbCr file must have taken the fast path (else this would only test the canvas fallback); rows
// read one at a time (what the OpenCV resize reads) must be the same pixels.
// Greyscale and CMYK, which Chromium does not hand over as planes, must come back exact through the
// fallback; truncated files (PIL refuses them) must be refused.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDecodePage, type DecodePage } from '../support/decode-page';
import { pilDecode, runPython, type PilPixels } from '../support/python';
import { startServer, type TestServer } from '../support/server';

interface Variant {
  file: string;
  case: string;
  /** YCbCr with 4:4:4, 4:2:2 or 4:2:0 chroma: the layouts the fast path takes. */
  planes: boolean;
  truncated: boolean;
}

let dir: string;
let variants: Variant[];
let pil: Map<string, PilPixels>;
let server: TestServer;
let decoder: DecodePage;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'rfl-jpeg-variants-'));
  const r = await runPython([resolve(import.meta.dirname, '../support/jpeg_variants.py'), dir]);
  if (r.code !== 0) throw new Error(`jpeg_variants.py failed (exit ${r.code}):\n${r.stderr}`);
  variants = (JSON.parse(r.stdout) as { cases: Variant[] }).cases;
  const decoded = await pilDecode(variants.filter((v) => !v.truncated).map((v) => join(dir, v.file)));
  pil = new Map(decoded.map((d) => [d.input.split('/').pop() ?? '', d]));
  server = await startServer(dir);
  decoder = await openDecodePage(server);
});

afterAll(async () => {
  await decoder?.close();
  await server?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('JPEG decoding through the YCbCr planes', () => {
  it("gives PIL's pixels exactly for every layout, through the planes wherever the file is YCbCr", async () => {
    const rows: Array<{ file: string; via: string; size: string; pilSize: string; max: number; differing: number; rowsAgree: boolean }> = [];
    for (const v of variants.filter((x) => !x.truncated)) {
      const got = await decoder.decode(`/static/${v.file}`);
      const want = pil.get(v.file);
      if (!want) throw new Error(`no PIL decode of ${v.file}`);
      const size = `${got.width}x${got.height}`;
      const pilSize = `${want.width}x${want.height}`;
      let max = size === pilSize ? 0 : Infinity;
      let differing = 0;
      if (size === pilSize) {
        for (let i = 0, j = 0; j < want.rgb.length; i += 4, j += 3) {
          for (let c = 0; c < 3; c++) {
            const d = Math.abs((got.rgba[i + c] ?? 0) - (want.rgb[j + c] ?? 0));
            if (d > 0) differing++;
            max = Math.max(max, d);
          }
        }
      }
      rows.push({ file: v.file, via: got.via ?? '?', size, pilSize, max, differing, rowsAgree: got.rowsAgree === true });
    }
    console.log('JPEG variant                                  via            size       max |Δ|  values differing');
    for (const r of rows) console.log(`  ${r.file.padEnd(44)} ${r.via.padEnd(14)} ${r.size.padEnd(10)} ${String(r.max).padStart(7)}  ${r.differing}`);
    for (const r of rows) expect({ file: r.file, size: r.size, max: r.max, rowsAgree: r.rowsAgree }).toEqual({ file: r.file, size: r.pilSize, max: 0, rowsAgree: true });
    const viaPlanes = new Set(rows.filter((r) => r.via === 'ycbcr-planes').map((r) => r.file));
    for (const v of variants.filter((x) => !x.truncated)) expect({ file: v.file, planes: viaPlanes.has(v.file) }).toEqual({ file: v.file, planes: v.planes });
  });

  it('refuses truncated JPEGs, as PIL does', async () => {
    const truncated = variants.filter((v) => v.truncated);
    expect(truncated.length).toBe(2);
    for (const v of truncated) {
      // PIL itself refuses the file (independent check that it is a truncation PIL notices).
      const r = await runPython(['-c', 'import sys, numpy; from PIL import Image; numpy.asarray(Image.open(sys.argv[1]))', join(dir, v.file)]);
      expect(r.stderr, v.file).toMatch(/truncated/);
      await expect(decoder.decode(`/static/${v.file}`), v.file).rejects.toThrow(/not a decodable image/);
    }
  });
});

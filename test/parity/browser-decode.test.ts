// The browser's decode (src/offscreen/decode.ts, bundled as is) in real headless Chromium,
// against PIL's: the 0..1 values the model sees (TypeScript Resize + CenterCrop on
// the browser's pixels vs the reference pipeline on PIL's) must agree to 1/255 on every photo. And
// pictures carrying each EXIF orientation (JPEG and PNG, written by exiftool and PIL at test time)
// decode to PIL's pixels exactly: PIL's Image.open does not rotate, and Chromium would.

import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PreprocessingSpec } from '../../src/detector/manifest';
import { resizeAndCrop, rgbaToRgb, toChw } from '../../src/detector/preprocess';
import { maxAbsDiff } from '../support/compare';
import { openDecodePage, type BrowserDecoded, type DecodePage } from '../support/decode-page';
import { makeOrientedSet, type OrientedSet } from '../support/oriented';
import { PHOTOS_DIR, photoIndex, photoPath, type PhotoInfo } from '../support/photos';
import { pilDecode, torchPreprocess, type PilPixels, type PilTensor } from '../support/python';
import { startServer, type TestServer } from '../support/server';

// The published model's recipe (the reference's default preset, laion-realfake).
const SPEC: PreprocessingSpec = {
  resize: { mode: 'square', size: 256, interpolation: 'opencv-linear' },
  centerCrop: 224,
  mean: [0.485, 0.456, 0.406],
  std: [0.229, 0.224, 0.225],
  library: 'albumentations',
};

let server: TestServer;
let decoder: DecodePage;
let photos: PhotoInfo[];
let pil: Map<string, PilPixels>;
let torch: Map<string, PilTensor>;
let oriented: OrientedSet;
let pilOriented: Map<string, PilPixels>;

async function decodeInBrowser(file: string, base = '/static/'): Promise<BrowserDecoded> {
  return decoder.decode(`${base}${file}`);
}

beforeAll(async () => {
  photos = photoIndex();
  const files = photos.map((p) => photoPath(p.file));
  const key = <T extends { input: string }>(xs: T[]) => new Map(xs.map((x) => [x.input.split('/').pop() ?? '', x]));
  oriented = await makeOrientedSet();
  const [decoded, tensors, decodedOriented] = await Promise.all([
    pilDecode(files),
    torchPreprocess(files, { unnormalized: true, resizeMode: 'square', interpolation: 'opencv-linear', library: 'albumentations' }),
    pilDecode(oriented.files.map((f) => join(oriented.dir, f.file))),
  ]);
  pil = key(decoded);
  torch = key(tensors);
  pilOriented = key(decodedOriented);
  server = await startServer(PHOTOS_DIR);
  for (const f of oriented.files) {
    server.route(`/oriented/${f.file}`, (_req, res) => {
      res.writeHead(200, { 'content-type': f.file.endsWith('.png') ? 'image/png' : 'image/jpeg' });
      res.end(readFileSync(join(oriented.dir, f.file)));
    });
  }
  decoder = await openDecodePage(server);
});

afterAll(async () => {
  await decoder?.close();
  await server?.close();
  if (oriented) rmSync(oriented.dir, { recursive: true, force: true });
});

describe("Chromium's decode vs PIL's, per photo", () => {
  it('gives the model the same 0..1 values to within 1/255', async () => {
    const rows: Array<{ file: string; tensor: number; opaque: number; translucent: number; translucentPixels: number }> = [];
    for (const p of photos) {
      const got = await decodeInBrowser(p.file);
      const ref = pil.get(p.file);
      const want = torch.get(p.file);
      expect([got.width, got.height], p.file).toEqual([p.width, p.height]);
      if (!ref || !want) throw new Error(`no PIL reference for ${p.file}`);
      const rgb = rgbaToRgb(got.rgba, got.width, got.height);
      const tensor = toChw(resizeAndCrop(rgb, got.width, got.height, SPEC), SPEC.centerCrop);
      const split = splitByAlpha(got.rgba, ref.rgb);
      rows.push({ file: p.file, tensor: maxAbsDiff(tensor, want.data), ...split });
    }
    console.log('browser decode vs PIL      decoded pixels max |Δ| (0..255): opaque / translucent   model input max |Δ| (0..1)');
    for (const r of rows) {
      const translucent = r.translucentPixels > 0 ? `${r.translucent} over ${r.translucentPixels} px` : '-';
      console.log(`  ${r.file.padEnd(24)} ${String(r.opaque).padStart(4)} / ${translucent.padEnd(18)} ${r.tensor.toExponential(2)} (${(r.tensor * 255).toFixed(2)}/255)`);
    }
    for (const r of rows) expect(r.tensor, r.file).toBeLessThanOrEqual(1 / 255 + 1e-7);
    // PNG decoders are lossless and Chromium's JPEG decoder is libjpeg-turbo like PIL's: every
    // opaque pixel must come back exactly. Translucent ones too: decode.ts reads them through
    // WebGL without premultiplication, keeping the colour PIL's convert('RGB') keeps.
    for (const r of rows) expect(r.opaque, r.file).toBe(0);
    for (const r of rows) expect(r.translucent, r.file).toBe(0);
    expect(rows.some((r) => r.translucentPixels > 0)).toBe(true);
  });
});

describe('EXIF orientation is ignored, as PIL ignores it', () => {
  it('decodes every orientation (1-8; JPEG both byte orders, PNG eXIf) to exactly PIL\'s pixels', async () => {
    const rows: Array<{ file: string; writer: string; size: string; pilSize: string; diff: number }> = [];
    for (const f of oriented.files) {
      const got = await decodeInBrowser(f.file, '/oriented/');
      const ref = pilOriented.get(f.file);
      if (!ref) throw new Error(`no PIL reference for ${f.file}`);
      const sameSize = got.width === ref.width && got.height === ref.height;
      rows.push({
        file: f.file,
        writer: f.writer,
        size: `${got.width}x${got.height}`,
        pilSize: `${ref.width}x${ref.height}`,
        diff: sameSize ? splitByAlpha(got.rgba, ref.rgb).opaque : Number.POSITIVE_INFINITY,
      });
    }
    console.log('oriented file          writer                     browser / PIL size   max |Δ| (0..255)');
    for (const r of rows) console.log(`  ${r.file.padEnd(20)} ${r.writer.padEnd(26)} ${r.size.padStart(7)} / ${r.pilSize.padEnd(9)} ${r.diff}`);
    for (const r of rows) expect({ file: r.file, size: r.size, diff: r.diff }).toEqual({ file: r.file, size: r.pilSize, diff: 0 });
  });
});

/** Max |Δ| of browser vs PIL RGB, separately over opaque and translucent pixels (alpha from the browser). */
function splitByAlpha(rgba: Uint8Array, rgb: Uint8Array): { opaque: number; translucent: number; translucentPixels: number } {
  let opaque = 0;
  let translucent = 0;
  let translucentPixels = 0;
  for (let i = 0, j = 0; i < rgba.length; i += 4, j += 3) {
    let d = 0;
    for (let c = 0; c < 3; c++) d = Math.max(d, Math.abs((rgba[i + c] ?? 0) - (rgb[j + c] ?? 0)));
    if (rgba[i + 3] === 255) opaque = Math.max(opaque, d);
    else {
      translucent = Math.max(translucent, d);
      translucentPixels++;
    }
  }
  return { opaque, translucent, translucentPixels };
}

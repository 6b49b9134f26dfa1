// Image sizes read from headers before any decode: hand-made headers written from the format
// specifications, real files written by PIL (which reads its own sizes back), and the pixel cap
// and truncation checks the offscreen fetch applies.

import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isComplete, readImageSize } from '../../src/detector/image-header';
import { describeNotAnImage, sniffImageType, type ImageType } from '../../src/detector/sniff';
import { DEFAULT_MAX_PIXELS, FetchFailure, judgeHead } from '../../src/offscreen/fetch-image';
import { avifHeader, bmpHeader, gifHeader, icoWithPng, jpegHeader, pngHeader, webpHeader } from '../support/header-bytes';
import { runPython } from '../support/python';

const sizeOf = (b: Uint8Array): unknown => {
  const type = sniffImageType(b);
  return type ? readImageSize(b, type) : 'not sniffed';
};
const size = (width: number, height: number): unknown => ({ kind: 'size', width, height });

describe('readImageSize on hand-made headers', () => {
  it('reads each format', () => {
    expect(sizeOf(pngHeader(30000, 30000))).toEqual(size(30000, 30000));
    expect(sizeOf(jpegHeader(640, 480))).toEqual(size(640, 480));
    expect(sizeOf(jpegHeader(65535, 3, { progressive: true, padding: 50 }))).toEqual(size(65535, 3));
    expect(sizeOf(gifHeader(320, 200))).toEqual(size(320, 200));
    expect(sizeOf(webpHeader(16383, 2, 'VP8 '))).toEqual(size(16383, 2));
    expect(sizeOf(webpHeader(16384, 9, 'VP8L'))).toEqual(size(16384, 9));
    expect(sizeOf(webpHeader(1 << 24, 1 << 24, 'VP8X'))).toEqual(size(1 << 24, 1 << 24));
    expect(sizeOf(bmpHeader(1000, 700))).toEqual(size(1000, 700));
    expect(sizeOf(icoWithPng(20000, 20000))).toEqual(size(20000, 20000));
    expect(sizeOf(avifHeader([[4000, 3000]]))).toEqual(size(4000, 3000));
  });

  it('takes the larger of a GIF screen and its first frame, and of every AVIF ispe', () => {
    expect(sizeOf(gifHeader(10, 10, { left: 5, top: 0, width: 60000, height: 40000 }))).toEqual(size(60005, 40000));
    expect(sizeOf(avifHeader([[512, 512], [50000, 100], [10, 60000]]))).toEqual(size(50000, 60000));
  });

  it('asks for more bytes while a header is cut short, and never before the size is there', () => {
    for (const whole of [pngHeader(9, 9), jpegHeader(9, 9, { padding: 3 }), gifHeader(9, 9), webpHeader(9, 9, 'VP8X'), bmpHeader(9, 9), avifHeader([[9, 9]])]) {
      const type = sniffImageType(whole) as ImageType;
      let firstSize = -1;
      for (let n = 0; n <= whole.length; n++) {
        const r = readImageSize(whole.subarray(0, n), type);
        if (r.kind === 'size' && firstSize < 0) firstSize = n;
        if (firstSize < 0) expect(r.kind, `${type} at ${n} bytes`).toBe('incomplete');
        else expect(r, `${type} at ${n} bytes`).toEqual(size(9, 9));
      }
      expect(firstSize, type).toBeGreaterThan(0);
    }
  });

  it('refuses broken headers with a reason', () => {
    const broken: Array<[Uint8Array, ImageType]> = [
      [new Uint8Array([...pngHeader(1, 1).subarray(0, 12), 0x49, 0x44, 0x41, 0x54, ...new Array<number>(8).fill(0)]), 'png'],
      [pngHeader(0, 5), 'png'],
      [new Uint8Array([0xff, 0xd8, 0xff, 0xda, 0, 2]), 'jpeg'],
      [new Uint8Array([0xff, 0xd8, 0xff, 0xd9]), 'jpeg'],
      [new Uint8Array([0xff, 0xd8, 0x00, 0x00]), 'jpeg'],
      [new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 0, 1]), 'jpeg'],
      [new Uint8Array([...gifHeader(1, 1).subarray(0, 13), 0x3b]), 'gif'],
      [webpHeader(5, 5, 'VP8 ').map((x, i) => (i === 23 ? 0 : x)), 'webp'],
    ];
    for (const [b, type] of broken) expect(readImageSize(b, type).kind, `${type} ${Array.from(b.subarray(0, 8))}`).toBe('invalid');
  });
});

describe('readImageSize on files PIL wrote', () => {
  it('agrees with PIL on every format it writes, in odd sizes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rfl-headers-'));
    try {
      // Each file is re-opened by PIL, which reports the size it reads: the reference.
      const script = `
import json, sys, io
from PIL import Image
out = sys.argv[1]
cases = [
  ('a.png', 'PNG', (517, 33), {}),
  ('b.jpg', 'JPEG', (1023, 7), {'quality': 80}),
  ('c.jpg', 'JPEG', (33, 301), {'progressive': True, 'exif': b'Exif\\x00\\x00' + b'\\x00' * 3000}),
  ('d.gif', 'GIF', (250, 251), {}),
  ('e.webp', 'WEBP', (401, 99), {'quality': 70}),
  ('f.webp', 'WEBP', (77, 1200), {'lossless': True}),
  ('g.webp', 'WEBP', (300, 200), {'quality': 60, 'alpha': True}),
  ('h.bmp', 'BMP', (123, 45), {}),
  ('i.ico', 'ICO', (64, 48), {'sizes': [(64, 48)]}),
]
sizes = {}
for name, fmt, (w, h), opts in cases:
    mode = 'RGBA' if opts.pop('alpha', False) else 'RGB'
    im = Image.new(mode, (w, h), (10, 200, 30, 128) if mode == 'RGBA' else (10, 200, 30))
    im.save(f'{out}/{name}', fmt, **opts)
    sizes[name] = Image.open(f'{out}/{name}').size
print(json.dumps(sizes))
`;
      const r = await runPython(['-c', script, dir]);
      expect(r.code, r.stderr).toBe(0);
      const expected = JSON.parse(r.stdout) as Record<string, [number, number]>;
      expect(Object.keys(expected)).toHaveLength(9);
      for (const [name, [w, h]] of Object.entries(expected)) {
        const bytes = new Uint8Array(readFileSync(join(dir, name)));
        const type = sniffImageType(bytes);
        expect(type, name).not.toBeNull();
        expect(readImageSize(bytes, type as ImageType), name).toEqual(size(w, h));
        expect(isComplete(bytes, type as ImageType), name).toBe(true);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('agrees with the sizes recorded for the real photographs, and finds each one complete', () => {
    const dir = join(import.meta.dirname, '../fixtures/photos');
    const index = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8')) as Array<{ file: string; width: number; height: number }>;
    expect(index.length).toBeGreaterThan(5);
    for (const p of index) {
      const bytes = new Uint8Array(readFileSync(join(dir, p.file)));
      expect(sizeOf(bytes), p.file).toEqual(size(p.width, p.height));
      expect(isComplete(bytes, sniffImageType(bytes) as ImageType), p.file).toBe(true);
      // Cut anywhere after the header: no longer complete.
      for (const keep of [0.3, 0.9]) {
        const cut = bytes.subarray(0, Math.floor(bytes.length * keep));
        expect(isComplete(cut, sniffImageType(bytes) as ImageType), `${p.file} cut to ${keep}`).toBe(false);
      }
    }
    expect(readdirSync(dir).filter((f) => /\.(png|jpe?g)$/.test(f))).toHaveLength(index.length);
  });
});

describe('the offscreen fetch decisions on a file start', () => {
  it('refuses a 30000x30000 PNG from its first 33 bytes, before any decode', () => {
    const head = pngHeader(30000, 30000);
    const seen = judgeHead(head, false, DEFAULT_MAX_PIXELS);
    expect(seen).toBeInstanceOf(FetchFailure);
    expect((seen as FetchFailure).reason).toBe('too-large');
    expect((seen as FetchFailure).detail).toContain('30000×30000');
    // 50 MP exactly is allowed; one more row is not.
    expect(judgeHead(pngHeader(10000, 5000), false, DEFAULT_MAX_PIXELS)).toEqual({ type: 'png', width: 10000, height: 5000 });
    expect(judgeHead(pngHeader(10000, 5001), false, DEFAULT_MAX_PIXELS)).toBeInstanceOf(FetchFailure);
  });

  it('waits for enough bytes, then names what a non-image is', () => {
    expect(judgeHead(new Uint8Array([0x89, 0x50]), false, DEFAULT_MAX_PIXELS)).toBeNull();
    const text = (s: string): Uint8Array => new TextEncoder().encode(s);
    const cases: Array<[string, string]> = [
      ['', 'empty response'],
      ['<!DOCTYPE html><html><body>Access denied</body></html>', 'an HTML page, not an image'],
      ['<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', 'SVG images are not checked'],
      ['\uFEFF  <svg width="10" height="10"></svg>', 'SVG images are not checked'],
      ['{"error": "not found", "padding": "...................."}', 'not an image'],
    ];
    for (const [body, detail] of cases) {
      const seen = judgeHead(text(body), true, DEFAULT_MAX_PIXELS);
      expect(seen, body).toBeInstanceOf(FetchFailure);
      expect((seen as FetchFailure).reason).toBe('not-an-image');
      expect((seen as FetchFailure).detail, body).toBe(detail);
      expect(describeNotAnImage(text(body))).toBe(detail);
    }
    const cut = judgeHead(jpegHeader(10, 10).subarray(0, 24), true, DEFAULT_MAX_PIXELS);
    expect((cut as FetchFailure).reason).toBe('undecodable');
  });

  it('finds hand-made JPEGs and PNGs without their end marker incomplete', () => {
    expect(isComplete(jpegHeader(5, 5), 'jpeg')).toBe(true);
    expect(isComplete(jpegHeader(5, 5, { end: false }), 'jpeg')).toBe(false);
    expect(isComplete(pngHeader(5, 5, true), 'png')).toBe(true);
    expect(isComplete(pngHeader(5, 5), 'png')).toBe(false);
  });
});

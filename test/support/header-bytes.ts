// Smallest valid headers of each image format for a given size, written from the format
// specifications (PNG, JPEG/JFIF, GIF89a, WebP RIFF, BMP, ICO, ISO-BMFF/HEIF), independently
// of the code that reads them. Used by the header unit tests, the fuzzers and the hostile server.

const be32 = (n: number): number[] => [(n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255];
const le16 = (n: number): number[] => [n & 255, (n >>> 8) & 255];
const le24 = (n: number): number[] => [n & 255, (n >>> 8) & 255, (n >>> 16) & 255];
const le32 = (n: number): number[] => [...le16(n & 0xffff), ...le16(n >>> 16)];
const ascii = (s: string): number[] => Array.from(s, (c) => c.charCodeAt(0));

export const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

/** Signature and IHDR chunk (CRC not checked by the reader: zeros), optionally IEND. */
export function pngHeader(width: number, height: number, withEnd = false): Uint8Array {
  const ihdr = [...be32(13), ...ascii('IHDR'), ...be32(width), ...be32(height), 8, 6, 0, 0, 0, 0, 0, 0, 0];
  const iend = [...be32(0), ...ascii('IEND'), 0xae, 0x42, 0x60, 0x82];
  return new Uint8Array([...PNG_SIGNATURE, ...ihdr, ...(withEnd ? iend : [])]);
}

/** SOI, a JFIF APP0 segment, padding APPn segments, SOF0 (or SOF2), SOS, a few bytes, EOI. */
export function jpegHeader(width: number, height: number, opts: { progressive?: boolean; padding?: number; end?: boolean } = {}): Uint8Array {
  const app0 = [0xff, 0xe0, 0, 16, ...ascii('JFIF'), 0, 1, 1, 0, 0, 1, 0, 1, 0, 0];
  const pad: number[] = [];
  for (let i = 0; i < (opts.padding ?? 0); i++) pad.push(0xff, 0xe1, 0, 6, 1, 2, 3, 4);
  const sof = [0xff, opts.progressive ? 0xc2 : 0xc0, 0, 11, 8, ...[height >> 8, height & 255], ...[width >> 8, width & 255], 1, 1, 0x11, 0];
  const sos = [0xff, 0xda, 0, 8, 1, 1, 0, 0, 63, 0, 0x12, 0x34, 0xff, 0x00, 0x56];
  return new Uint8Array([0xff, 0xd8, ...app0, ...pad, ...sof, ...sos, ...(opts.end === false ? [] : [0xff, 0xd9])]);
}

/** GIF89a: logical screen, no colour table, one graphic control extension, one frame. */
export function gifHeader(width: number, height: number, frame = { left: 0, top: 0, width, height }): Uint8Array {
  return new Uint8Array([
    ...ascii('GIF89a'), ...le16(width), ...le16(height), 0, 0, 0,
    0x21, 0xf9, 4, 0, 0, 0, 0, 0,
    0x2c, ...le16(frame.left), ...le16(frame.top), ...le16(frame.width), ...le16(frame.height), 0,
    2, 2, 0x4c, 0x01, 0, 0x3b,
  ]);
}

function riff(chunk: string, payload: number[]): Uint8Array {
  const body = [...ascii('WEBP'), ...ascii(chunk), ...le32(payload.length), ...payload];
  return new Uint8Array([...ascii('RIFF'), ...le32(body.length), ...body]);
}

export function webpHeader(width: number, height: number, kind: 'VP8 ' | 'VP8L' | 'VP8X'): Uint8Array {
  if (kind === 'VP8X') return riff('VP8X', [0x10, 0, 0, 0, ...le24(width - 1), ...le24(height - 1)]);
  if (kind === 'VP8L') {
    const bits = (width - 1) | ((height - 1) << 14);
    return riff('VP8L', [0x2f, ...le32(bits >>> 0), 0, 0, 0]);
  }
  return riff('VP8 ', [0x50, 0x02, 0x00, 0x9d, 0x01, 0x2a, ...le16(width), ...le16(height), 0, 0]);
}

export function bmpHeader(width: number, height: number): Uint8Array {
  return new Uint8Array([...ascii('BM'), ...le32(54), 0, 0, 0, 0, ...le32(54), ...le32(40), ...le32(width), ...le32(-height >>> 0), ...le16(1), ...le16(24), ...new Array<number>(24).fill(0)]);
}

/** An ICO whose one entry holds a PNG (entry sizes say 0: 256). */
export function icoWithPng(width: number, height: number): Uint8Array {
  const inner = pngHeader(width, height, true);
  return new Uint8Array([0, 0, 1, 0, ...le16(1), 0, 0, 0, 0, ...le16(1), ...le16(32), ...le32(inner.length), ...le32(22), ...inner]);
}

function box(type: string, payload: number[]): number[] {
  return [...be32(8 + payload.length), ...ascii(type), ...payload];
}

/** ftyp avif, then meta > hdlr, iprp > ipco > one ispe per size. */
export function avifHeader(sizes: Array<[number, number]>): Uint8Array {
  const ispes = sizes.flatMap(([w, h]) => box('ispe', [0, 0, 0, 0, ...be32(w), ...be32(h)]));
  const meta = box('meta', [0, 0, 0, 0, ...box('hdlr', [0, 0, 0, 0, 0, 0, 0, 0, ...ascii('pict'), ...new Array<number>(13).fill(0)]), ...box('iprp', box('ipco', ispes))]);
  return new Uint8Array([...box('ftyp', [...ascii('avif'), 0, 0, 0, 0, ...ascii('mif1'), ...ascii('miaf')]), ...meta]);
}

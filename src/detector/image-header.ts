// Pixel dimensions read from an image file's header, before anything decodes it: a 30000x30000
// PNG is a few hundred bytes, and decoding it would take gigabytes. Pure and bounded: every
// loop advances through the bytes, so the work is linear in their length, and nothing throws.

import type { ImageType } from './sniff';

export type HeaderReading =
  | { kind: 'size'; width: number; height: number }
  /** The header is not all there yet: read more bytes and ask again. */
  | { kind: 'incomplete' }
  | { kind: 'invalid'; detail: string };

/** Counts loop steps, so tests can check the work done per byte without measuring time. */
export interface StepMeter {
  steps: number;
}

const INCOMPLETE: HeaderReading = { kind: 'incomplete' };
const invalid = (detail: string): HeaderReading => ({ kind: 'invalid', detail });

function size(width: number, height: number): HeaderReading {
  if (!(width > 0 && height > 0)) return invalid('image header gives no size');
  return { kind: 'size', width, height };
}

const u16be = (b: Uint8Array, at: number): number => ((b[at] ?? 0) << 8) | (b[at + 1] ?? 0);
const u16le = (b: Uint8Array, at: number): number => (b[at] ?? 0) | ((b[at + 1] ?? 0) << 8);
const u24le = (b: Uint8Array, at: number): number => u16le(b, at) | ((b[at + 2] ?? 0) << 16);
const u32be = (b: Uint8Array, at: number): number => u16be(b, at) * 65536 + u16be(b, at + 2);
const u32le = (b: Uint8Array, at: number): number => u16le(b, at) + u16le(b, at + 2) * 65536;
const i32le = (b: Uint8Array, at: number): number => u32le(b, at) | 0;
const tag = (b: Uint8Array, at: number): string => String.fromCharCode(b[at] ?? 0, b[at + 1] ?? 0, b[at + 2] ?? 0, b[at + 3] ?? 0);

function tick(meter: StepMeter | undefined): void {
  if (meter) meter.steps++;
}

function png(b: Uint8Array): HeaderReading {
  // Signature (8), then the first chunk must be IHDR: length 13, width and height big-endian.
  if (b.length < 24) return INCOMPLETE;
  if (u32be(b, 8) !== 13 || tag(b, 12) !== 'IHDR') return invalid('PNG without an IHDR chunk');
  const width = u32be(b, 16);
  const height = u32be(b, 20);
  if (width > 0x7fffffff || height > 0x7fffffff) return invalid('PNG size out of range');
  return size(width, height);
}

/** Markers with no length field: TEM, RSTn, SOI. */
const standalone = (m: number): boolean => m === 0x01 || (m >= 0xd0 && m <= 0xd8);
/** Start-of-frame markers (C0-CF except DHT C4, JPG C8 and DAC CC). */
const isSof = (m: number): boolean => m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc;

/** Walks a JPEG's segments from SOI to the first SOS; `visit` sees each marker and its offset. */
function walkJpeg(b: Uint8Array, meter: StepMeter | undefined, visit: (marker: number, at: number) => HeaderReading | null): HeaderReading {
  let at = 2;
  for (;;) {
    tick(meter);
    if (at >= b.length) return INCOMPLETE;
    if (b[at] !== 0xff) return invalid('JPEG segments are broken');
    // Any number of 0xFF fill bytes may precede a marker.
    while (at < b.length && b[at] === 0xff) {
      tick(meter);
      at++;
    }
    if (at >= b.length) return INCOMPLETE;
    const marker = b[at] as number;
    at++;
    if (standalone(marker)) continue;
    if (marker === 0xd9) return invalid('JPEG ends before its frame header');
    if (at + 2 > b.length) return INCOMPLETE;
    const seen = visit(marker, at);
    if (seen) return seen;
    const length = u16be(b, at);
    if (length < 2) return invalid('JPEG segment length is broken');
    at += length;
  }
}

function jpeg(b: Uint8Array, meter?: StepMeter): HeaderReading {
  return walkJpeg(b, meter, (marker, at) => {
    if (marker === 0xda) return invalid('JPEG has no frame header');
    if (!isSof(marker)) return null;
    // Length (2), precision (1), height (2), width (2).
    if (at + 7 > b.length) return INCOMPLETE;
    return size(u16be(b, at + 5), u16be(b, at + 3));
  });
}

function gif(b: Uint8Array, meter?: StepMeter): HeaderReading {
  // Logical screen (6..9), then the first frame's descriptor: a frame may reach past the screen,
  // and the decoder then grows the canvas, so the larger of the two counts.
  if (b.length < 13) return INCOMPLETE;
  const screenW = u16le(b, 6);
  const screenH = u16le(b, 8);
  const flags = b[10] as number;
  let at = 13 + (flags & 0x80 ? 3 * (2 << (flags & 7)) : 0);
  for (;;) {
    tick(meter);
    if (at >= b.length) return INCOMPLETE;
    const block = b[at] as number;
    if (block === 0x2c) {
      if (at + 9 > b.length) return INCOMPLETE;
      const right = u16le(b, at + 1) + u16le(b, at + 5);
      const bottom = u16le(b, at + 3) + u16le(b, at + 7);
      return size(Math.max(screenW, right), Math.max(screenH, bottom));
    }
    if (block === 0x3b) return invalid('GIF has no frame');
    if (block !== 0x21) return invalid('GIF blocks are broken');
    // Extension: label, then data sub-blocks until an empty one.
    at += 2;
    for (;;) {
      tick(meter);
      if (at >= b.length) return INCOMPLETE;
      const n = b[at] as number;
      at += 1 + n;
      if (n === 0) break;
    }
  }
}

function webp(b: Uint8Array): HeaderReading {
  if (b.length < 16) return INCOMPLETE;
  const chunk = tag(b, 12);
  if (b.length < (chunk === 'VP8L' ? 25 : 30)) return INCOMPLETE;
  if (chunk === 'VP8X') return size(u24le(b, 24) + 1, u24le(b, 27) + 1);
  if (chunk === 'VP8L') {
    if (b[20] !== 0x2f) return invalid('WebP lossless signature missing');
    const bits = u32le(b, 21);
    return size((bits & 0x3fff) + 1, ((bits >>> 14) & 0x3fff) + 1);
  }
  if (chunk === 'VP8 ') {
    // Frame tag (3 bytes; bit 0 clear on a key frame), start code 9d 01 2a, 14-bit sizes.
    if (((b[20] as number) & 1) !== 0) return invalid('WebP does not start with a key frame');
    if (b[23] !== 0x9d || b[24] !== 0x01 || b[25] !== 0x2a) return invalid('WebP start code missing');
    return size(u16le(b, 26) & 0x3fff, u16le(b, 28) & 0x3fff);
  }
  return invalid('WebP without an image chunk');
}

function bmp(b: Uint8Array): HeaderReading {
  if (b.length < 26) return INCOMPLETE;
  const dib = u32le(b, 14);
  if (dib === 12) return size(u16le(b, 18), u16le(b, 20));
  if (dib < 40) return invalid('BMP header is broken');
  // Height is negative for top-down bitmaps.
  return size(Math.abs(i32le(b, 18)), Math.abs(i32le(b, 22)));
}

function ico(b: Uint8Array, meter?: StepMeter): HeaderReading {
  // Directory entries of 16 bytes; a size byte of 0 means 256. An entry may hold a PNG, whose own
  // header is what the decoder believes, so it is read too.
  const count = u16le(b, 4);
  if (b.length < 6 + 16 * count) return INCOMPLETE;
  let width = 0;
  let height = 0;
  for (let i = 0; i < count; i++) {
    tick(meter);
    const e = 6 + 16 * i;
    let w = b[e] || 256;
    let h = b[e + 1] || 256;
    const offset = u32le(b, e + 12);
    if (offset + 8 <= b.length && b[offset] === 0x89 && tag(b, offset + 1) === 'PNG\r') {
      const inner = png(b.subarray(offset));
      if (inner.kind !== 'size') return inner;
      w = Math.max(w, inner.width);
      h = Math.max(h, inner.height);
    } else if (offset + 8 > b.length) {
      return INCOMPLETE;
    }
    width = Math.max(width, w);
    height = Math.max(height, h);
  }
  return size(width, height);
}

interface Box {
  type: string;
  /** Where the payload starts and where the box ends (may lie past the bytes read so far). */
  body: number;
  end: number;
}

/** ISO-BMFF boxes between `from` and `to`. */
function* boxes(b: Uint8Array, from: number, to: number, meter: StepMeter | undefined): Generator<Box | 'incomplete' | 'invalid'> {
  let at = from;
  while (at < to) {
    tick(meter);
    if (at + 8 > b.length) return yield 'incomplete';
    let length = u32be(b, at);
    let body = at + 8;
    if (length === 1) {
      if (at + 16 > b.length) return yield 'incomplete';
      // 64-bit size; anything past 2^53 is nonsense for an image.
      length = u32be(b, at + 8) * 2 ** 32 + u32be(b, at + 12);
      body = at + 16;
    } else if (length === 0) {
      length = to - at;
    }
    if (length < body - at) return yield 'invalid';
    yield { type: tag(b, at + 4), body, end: at + length };
    at += length;
  }
}

function avif(b: Uint8Array, meter?: StepMeter): HeaderReading {
  // meta (a full box: 4 bytes of version and flags) > iprp > ipco > ispe (full box, width, height).
  // A grid image and its tiles each have an ispe; the largest width and height count.
  const find = (from: number, to: number, type: string): Box | HeaderReading => {
    for (const box of boxes(b, from, Math.min(to, Number.MAX_SAFE_INTEGER), meter)) {
      if (box === 'incomplete') return INCOMPLETE;
      if (box === 'invalid') return invalid('AVIF box sizes are broken');
      if (box.type === type) return box;
    }
    return to > b.length ? INCOMPLETE : invalid(`AVIF without a ${type} box`);
  };
  const meta = find(0, Infinity, 'meta');
  if ('kind' in meta) return meta;
  const iprp = find(meta.body + 4, meta.end, 'iprp');
  if ('kind' in iprp) return iprp;
  const ipco = find(iprp.body, iprp.end, 'ipco');
  if ('kind' in ipco) return ipco;
  if (ipco.end > b.length) return INCOMPLETE;
  let width = 0;
  let height = 0;
  for (const box of boxes(b, ipco.body, ipco.end, meter)) {
    if (box === 'incomplete') return INCOMPLETE;
    if (box === 'invalid') return invalid('AVIF box sizes are broken');
    if (box.type !== 'ispe') continue;
    if (box.body + 12 > box.end) return invalid('AVIF ispe box is too short');
    width = Math.max(width, u32be(b, box.body + 4));
    height = Math.max(height, u32be(b, box.body + 8));
  }
  return size(width, height);
}

/** The pixel size the header of an image of `type` announces. */
export function readImageSize(b: Uint8Array, type: ImageType, meter?: StepMeter): HeaderReading {
  switch (type) {
    case 'png':
      return png(b);
    case 'jpeg':
      return jpeg(b, meter);
    case 'gif':
      return gif(b, meter);
    case 'webp':
      return webp(b);
    case 'bmp':
      return bmp(b);
    case 'ico':
      return ico(b, meter);
    case 'avif':
      return avif(b, meter);
  }
}

/**
 * Whether a whole file of `type` ends where its format says it does: a PNG reaches its IEND
 * chunk, a JPEG has an EOI marker after its first scan. Other formats: true (the decoder judges).
 * A cut-short file would otherwise decode to a half-grey picture and get a meaningless score.
 */
export function isComplete(b: Uint8Array, type: ImageType, meter?: StepMeter): boolean {
  if (type === 'png') {
    let at = 8;
    while (at + 12 <= b.length) {
      tick(meter);
      if (tag(b, at + 4) === 'IEND') return true;
      at += 12 + u32be(b, at);
    }
    return false;
  }
  if (type === 'jpeg') {
    let scan = -1;
    walkJpeg(b, meter, (marker, at) => {
      if (marker !== 0xda) return null;
      scan = at;
      return INCOMPLETE; // stop walking
    });
    if (scan < 0) return false;
    // Entropy-coded data stuffs every 0xFF with 0x00, so FF D9 after the scan starts is the end.
    for (let i = b.length - 2; i >= scan; i--) {
      tick(meter);
      if (b[i] === 0xff && b[i + 1] === 0xd9) return true;
    }
    return false;
  }
  return true;
}

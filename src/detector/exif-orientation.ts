// The EXIF Orientation tags a browser would apply when it decodes a picture, and a copy of the
// bytes with them set to 1 (no rotation). PIL's Image.open applies no orientation, and the model
// was trained on PIL decodes; Chromium does, even when createImageBitmap is asked for
// imageOrientation 'none' (measured in Chromium 156: 'none' behaves like 'from-image').
//
// What Chromium 156 applies, measured with createImageBitmap on hand-made files:
//  - JPEG: the first APP1 "Exif" segment before the scan, IFD0's Orientation if it is one SHORT
//    (a LONG, or a count of 2, is not applied), either byte order;
//  - PNG: an eXIf chunk before IDAT with a correct CRC (after IDAT, or with a bad CRC, it is not);
//  - not WebP's EXIF chunk (before or after the image data), nor a PNG inside an ICO.
//  - AVIF's irot/imir are applied; they are not EXIF and not handled here (Pillow 9.4 reads no AVIF).
// Every such tag is patched, not only the first one Chromium reads, so a parser that disagrees on
// which segment counts still finds nothing to rotate by. Malformed blocks are left as they are.

import { ProvenanceError } from './provenance/types';
import { openTiff, readIfd } from './provenance/tiff';

const ORIENTATION = 0x0112;
const SHORT = 3;
const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

export interface OrientationTag {
  /** Where the EXIF block is. */
  where: 'JPEG APP1' | 'PNG eXIf';
  /** Offset in the file of the tag's 2-byte value. */
  offset: number;
  /** The value stored there (1 to 8 are meaningful; a decoder treats others as 1). */
  value: number;
  /** Byte order of the value. */
  littleEndian: boolean;
  /** For PNG: the chunk's type + data span, whose CRC must be rewritten if the value changes. */
  crcSpan?: { start: number; end: number };
}

/** IFD0's Orientation entries of a TIFF block at `base` in the file; none if the block is malformed. */
function orientationsIn(b: Uint8Array, base: number, end: number, where: OrientationTag['where']): OrientationTag[] {
  const found: OrientationTag[] = [];
  try {
    const t = openTiff(b.subarray(base, end));
    // The directory must fit in the block, which bounds the entries read (no limit needed).
    readIfd(
      t,
      t.u32(4),
      (tag, entry) => {
        if (tag !== ORIENTATION || t.u16(entry + 2) !== SHORT || t.u32(entry + 4) !== 1) return;
        found.push({ where, offset: base + entry + 8, value: t.u16(entry + 8), littleEndian: t.little });
      },
      Infinity,
    );
  } catch (e) {
    if (!(e instanceof ProvenanceError)) throw e;
    return [];
  }
  return found;
}

function isExifHeader(b: Uint8Array, at: number, end: number): boolean {
  // "Exif\0" and a pad byte; the TIFF block starts 6 bytes in.
  return end - at >= 6 && b[at] === 0x45 && b[at + 1] === 0x78 && b[at + 2] === 0x69 && b[at + 3] === 0x66 && b[at + 4] === 0;
}

/** APP1 Exif segments up to the first scan, found the way libjpeg finds markers. */
function jpegOrientations(b: Uint8Array): OrientationTag[] {
  const found: OrientationTag[] = [];
  let at = 2;
  while (at < b.length) {
    // libjpeg skips stray bytes before a marker, and any number of 0xFF fill bytes.
    if (b[at] !== 0xff) {
      at++;
      continue;
    }
    let m = at + 1;
    while (m < b.length && b[m] === 0xff) m++;
    if (m >= b.length) break;
    const marker = b[m] ?? 0;
    if (marker === 0xda || marker === 0xd9) break; // start of scan, end of image
    // 0xFF00 is not a marker; SOI, TEM and RSTn carry no length.
    if (marker === 0x00 || marker === 0xd8 || marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
      at = m + 1;
      continue;
    }
    if (m + 3 > b.length) break;
    const length = ((b[m + 1] ?? 0) << 8) | (b[m + 2] ?? 0);
    const start = m + 3;
    const end = m + 1 + length;
    if (length < 2 || end > b.length) break;
    if (marker === 0xe1 && isExifHeader(b, start, end)) found.push(...orientationsIn(b, start + 6, end, 'JPEG APP1'));
    at = end;
  }
  return found;
}

const u32be = (b: Uint8Array, at: number): number => (((b[at] ?? 0) << 24) | ((b[at + 1] ?? 0) << 16) | ((b[at + 2] ?? 0) << 8) | (b[at + 3] ?? 0)) >>> 0;

let crcTable: Uint32Array | undefined;

/** PNG's CRC-32 (ISO 3309, reflected polynomial 0xEDB88320) of b[start, end). */
export function crc32(b: Uint8Array, start = 0, end = b.length): number {
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let c = 0xffffffff;
  for (let i = start; i < end; i++) c = (crcTable[(c ^ (b[i] ?? 0)) & 0xff] ?? 0) ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** eXIf chunks (any position) whose CRC is right: a decoder drops a chunk whose CRC is wrong. */
function pngOrientations(b: Uint8Array): OrientationTag[] {
  const found: OrientationTag[] = [];
  let at = 8;
  while (at + 12 <= b.length) {
    const length = u32be(b, at);
    if (length > b.length - at - 12) break;
    const dataStart = at + 8;
    const dataEnd = dataStart + length;
    const type = String.fromCharCode(b[at + 4] ?? 0, b[at + 5] ?? 0, b[at + 6] ?? 0, b[at + 7] ?? 0);
    if (type === 'eXIf' && crc32(b, at + 4, dataEnd) === u32be(b, dataEnd)) {
      const crcSpan = { start: at + 4, end: dataEnd };
      for (const tag of orientationsIn(b, dataStart, dataEnd, 'PNG eXIf')) found.push({ ...tag, crcSpan });
    }
    if (type === 'IEND') break;
    at = dataEnd + 4;
  }
  return found;
}

/** Every EXIF Orientation tag a decoder might apply, in file order. Never throws. */
export function findExifOrientations(b: Uint8Array): OrientationTag[] {
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return jpegOrientations(b);
  if (b.length >= 8 && PNG_SIGNATURE.every((v, i) => b[i] === v)) return pngOrientations(b);
  return [];
}

/**
 * `b` with every Orientation tag set to 1, as a copy, so a browser decodes the stored pixels
 * as they are (as PIL does). `b` itself when no tag says to rotate or flip. Never throws.
 */
export function withoutExifOrientation(b: Uint8Array): Uint8Array {
  const tags = findExifOrientations(b).filter((t) => t.value !== 1);
  if (tags.length === 0) return b;
  const out = b.slice();
  for (const t of tags) {
    out[t.offset] = t.littleEndian ? 1 : 0;
    out[t.offset + 1] = t.littleEndian ? 0 : 1;
  }
  const spans = new Map(tags.flatMap((t) => (t.crcSpan ? [[t.crcSpan.start, t.crcSpan.end] as const] : [])));
  for (const [start, end] of spans) {
    const crc = crc32(out, start, end);
    out.set([crc >>> 24, (crc >>> 16) & 0xff, (crc >>> 8) & 0xff, crc & 0xff], end);
  }
  return out;
}

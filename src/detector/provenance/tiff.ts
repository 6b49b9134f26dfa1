// A small, bounded EXIF (TIFF) reader for the few tags that say who made a picture: IFD0's
// ImageDescription, Make, Model, Software, Artist, Copyright, and the Exif IFD's UserComment.
// Offsets are checked against the block; only IFD0 and the Exif IFD are read (no chains, so no
// loops). Why not exifr: it reads no WebP, and its browser build also fetches URLs and files,
// which this extension wants no part of.

import { ProvenanceError } from './types';

export interface ExifFields {
  imageDescription?: string;
  make?: string;
  model?: string;
  software?: string;
  artist?: string;
  copyright?: string;
  userComment?: string;
}

const IFD0_TAGS: Record<number, keyof ExifFields> = {
  0x010e: 'imageDescription',
  0x010f: 'make',
  0x0110: 'model',
  0x0131: 'software',
  0x013b: 'artist',
  0x8298: 'copyright',
};
const EXIF_IFD_POINTER = 0x8769;
const USER_COMMENT = 0x9286;
const TYPE_SIZES: Record<number, number> = { 1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8 };
const MAX_ENTRIES = 1_000;
const MAX_STRING = 64 * 1024;

/** A TIFF block and its byte order; reads throw ProvenanceError outside the block. */
export class Tiff {
  constructor(
    readonly b: Uint8Array,
    readonly little: boolean,
  ) {}

  u16(at: number): number {
    if (at + 2 > this.b.length) throw new ProvenanceError('EXIF offset outside the block');
    const x = this.b[at] ?? 0;
    const y = this.b[at + 1] ?? 0;
    return this.little ? x | (y << 8) : (x << 8) | y;
  }

  u32(at: number): number {
    return this.little ? this.u16(at) + this.u16(at + 2) * 65536 : this.u16(at) * 65536 + this.u16(at + 2);
  }
}

function trimNul(s: string): string {
  const i = s.indexOf('\0');
  return (i < 0 ? s : s.slice(0, i)).trim();
}

/** UserComment: an 8-byte character-code prefix, then the text. */
function decodeUserComment(v: Uint8Array, little: boolean): string {
  const code = String.fromCharCode(...v.subarray(0, 8));
  const body = v.subarray(8);
  if (code.startsWith('UNICODE')) {
    let le = little;
    let text = body;
    if (body[0] === 0xff && body[1] === 0xfe) [le, text] = [true, body.subarray(2)];
    else if (body[0] === 0xfe && body[1] === 0xff) [le, text] = [false, body.subarray(2)];
    return trimNul(new TextDecoder(le ? 'utf-16le' : 'utf-16be').decode(text));
  }
  // "ASCII\0\0\0", undefined (all zeros) and anything else: read as UTF-8, as writers do.
  return trimNul(new TextDecoder('utf-8').decode(code.startsWith('ASCII') || v[0] === 0 ? body : v));
}

/** The tag's value bytes (inline or at its offset), bounds-checked. */
function valueOf(t: Tiff, entry: number): { type: number; bytes: Uint8Array } | null {
  const type = t.u16(entry + 2);
  const count = t.u32(entry + 4);
  const size = TYPE_SIZES[type];
  if (!size) return null;
  const total = size * count;
  if (total > MAX_STRING) return null;
  const at = total <= 4 ? entry + 8 : t.u32(entry + 8);
  if (at + total > t.b.length) throw new ProvenanceError('EXIF value outside the block');
  return { type, bytes: t.b.subarray(at, at + total) };
}

/** Calls `visit` with each entry's tag and offset (12-byte entries) of the directory at `offset`. */
export function readIfd(t: Tiff, offset: number, visit: (tag: number, entry: number) => void, maxEntries = MAX_ENTRIES): void {
  const n = t.u16(offset);
  if (n > maxEntries) throw new ProvenanceError('EXIF directory too large');
  if (offset + 2 + n * 12 > t.b.length) throw new ProvenanceError('EXIF directory outside the block');
  for (let i = 0; i < n; i++) {
    const entry = offset + 2 + i * 12;
    visit(t.u16(entry), entry);
  }
}

/** The block's byte order from its "II"/"MM" + 42 header; throws ProvenanceError if it has none. */
export function openTiff(tiff: Uint8Array): Tiff {
  const order = String.fromCharCode(tiff[0] ?? 0, tiff[1] ?? 0);
  if (order !== 'II' && order !== 'MM') throw new ProvenanceError('not a TIFF header');
  const t = new Tiff(tiff, order === 'II');
  if (t.u16(2) !== 42) throw new ProvenanceError('not a TIFF header');
  return t;
}

/** Reads the generator-related EXIF fields; throws ProvenanceError on a malformed block. */
export function readExif(tiff: Uint8Array): ExifFields {
  const t = openTiff(tiff);
  const out: ExifFields = {};
  let exifIfd = 0;
  const utf8 = new TextDecoder('utf-8');
  readIfd(t, t.u32(4), (tag, entry) => {
    const name = IFD0_TAGS[tag];
    if (name) {
      const v = valueOf(t, entry);
      if (v && (v.type === 2 || v.type === 7 || v.type === 1)) {
        const s = trimNul(utf8.decode(v.bytes));
        if (s) out[name] = s;
      }
    } else if (tag === EXIF_IFD_POINTER) exifIfd = t.u32(entry + 8);
  });
  if (exifIfd > 0) {
    readIfd(t, exifIfd, (tag, entry) => {
      if (tag !== USER_COMMENT) return;
      const v = valueOf(t, entry);
      if (v && v.bytes.length > 8) {
        const s = decodeUserComment(v.bytes, t.little);
        if (s) out.userComment = s;
      }
    });
  }
  return out;
}

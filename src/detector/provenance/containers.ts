// Walks an image file's container (PNG chunks, JPEG segments, WebP RIFF chunks, ISO-BMFF boxes)
// and copies out the metadata payloads only: text chunks, EXIF, XMP and JUMBF. Pixel data is
// skipped by length, so a string inside pixels is never read as evidence. Every length is checked
// against the file; a walk that finds a lie stops and says why, keeping what it had.

import { LIMITS, ProvenanceError, type ContainerType, type MetadataScan, type RawItem } from './types';

const latin1 = new TextDecoder('latin1');
const utf8 = new TextDecoder('utf-8');

const PNG_SIG = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
const XMP_JPEG_ID = 'http://ns.adobe.com/xap/1.0/\0';
/** The C2PA UUID box of ISO-BMFF files (AVIF, HEIF). */
const C2PA_BMFF_UUID = 'd8fec3d61b0e483c92975828877ec481';

function ascii(b: Uint8Array, at: number, len: number): string {
  let s = '';
  for (let i = 0; i < len && at + i < b.length; i++) s += String.fromCharCode(b[at + i] ?? 0);
  return s;
}

function u32be(b: Uint8Array, at: number): number {
  return (((b[at] ?? 0) << 24) >>> 0) + ((b[at + 1] ?? 0) << 16) + ((b[at + 2] ?? 0) << 8) + (b[at + 3] ?? 0);
}

function u32le(b: Uint8Array, at: number): number {
  return (((b[at + 3] ?? 0) << 24) >>> 0) + ((b[at + 2] ?? 0) << 16) + ((b[at + 1] ?? 0) << 8) + (b[at] ?? 0);
}

function hex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

/** Collects items under the byte budget; copies, so the big file can be let go. */
class Collector {
  readonly items: RawItem[] = [];
  private bytes = 0;
  private chunks = 0;

  count(): void {
    if (++this.chunks > LIMITS.maxChunks) throw new ProvenanceError('too many chunks');
  }

  budget(n: number): void {
    this.bytes += n;
    if (this.bytes > LIMITS.maxMetadataBytes) throw new ProvenanceError('metadata larger than 2 MB');
  }

  add(item: RawItem): void {
    const size = 'data' in item ? item.data.length : 'tiff' in item ? item.tiff.length : 'xml' in item ? item.xml.length : item.text.length;
    this.budget(size);
    this.items.push(item);
  }
}

function copy(b: Uint8Array, start: number, end: number): Uint8Array {
  return b.slice(start, end);
}

function indexOfZero(b: Uint8Array, from: number, to: number): number {
  for (let i = from; i < to; i++) if (b[i] === 0) return i;
  return -1;
}

// ---- PNG --------------------------------------------------------------------------------

function pngText(b: Uint8Array, type: string, start: number, end: number, c: Collector): void {
  const nul = indexOfZero(b, start, Math.min(end, start + 80));
  if (nul <= start) return; // keywords are 1..79 bytes
  const key = latin1.decode(b.subarray(start, nul));
  const where = `PNG ${type} "${key}"`;
  if (type === 'tEXt') {
    c.add({ type: 'text', key, text: latin1.decode(b.subarray(nul + 1, end)), where });
  } else if (type === 'zTXt') {
    if (b[nul + 1] !== 0) return; // compression method 0 (zlib) is the only one
    c.add({ type: 'ztext', key, data: copy(b, nul + 2, end), utf8: false, where });
  } else {
    // iTXt: flag, method, language tag\0, translated keyword\0, text
    const compressed = b[nul + 1] === 1;
    const lang = indexOfZero(b, nul + 3, end);
    const translated = lang < 0 ? -1 : indexOfZero(b, lang + 1, end);
    if (translated < 0) return;
    const textStart = translated + 1;
    if (compressed) {
      if (b[nul + 2] !== 0) return;
      c.add({ type: 'ztext', key, data: copy(b, textStart, end), utf8: true, where });
    } else if (key === 'XML:com.adobe.xmp') {
      c.add({ type: 'xmp', xml: utf8.decode(b.subarray(textStart, end)), where });
    } else {
      c.add({ type: 'text', key, text: utf8.decode(b.subarray(textStart, end)), where });
    }
  }
}

function walkPng(b: Uint8Array, c: Collector): void {
  let at = 8;
  while (at < b.length) {
    c.count();
    if (at + 12 > b.length) throw new ProvenanceError('truncated PNG chunk header');
    const len = u32be(b, at);
    const type = ascii(b, at + 4, 4);
    if (len > 0x7fffffff || at + 12 + len > b.length) throw new ProvenanceError(`PNG chunk ${JSON.stringify(type)} longer than the file`);
    const start = at + 8;
    const end = start + len;
    if (type === 'tEXt' || type === 'zTXt' || type === 'iTXt') pngText(b, type, start, end, c);
    else if (type === 'eXIf') c.add({ type: 'exif', tiff: copy(b, start, end), where: 'PNG eXIf' });
    else if (type === 'caBX') c.add({ type: 'jumbf', data: copy(b, start, end), where: 'PNG caBX' });
    else if (type === 'IEND') return;
    at = end + 4; // CRC
  }
  throw new ProvenanceError('PNG without IEND');
}

// ---- JPEG -------------------------------------------------------------------------------

/** APP11 JUMBF segments of one box instance, in sequence order, joined into one box. */
interface JumbfParts {
  parts: Map<number, Uint8Array>;
}

function joinJumbf(parts: Map<number, Uint8Array>): Uint8Array {
  const seqs = [...parts.keys()].sort((x, y) => x - y);
  const chunks: Uint8Array[] = [];
  seqs.forEach((seq, i) => {
    const p = parts.get(seq) ?? new Uint8Array(0);
    if (i === 0) chunks.push(p);
    else {
      // Continuation segments repeat the box header (LBox, TBox and, if LBox is 1, XLBox).
      const header = u32be(p, 0) === 1 ? 16 : 8;
      chunks.push(p.subarray(Math.min(header, p.length)));
    }
  });
  const out = new Uint8Array(chunks.reduce((n, x) => n + x.length, 0));
  let at = 0;
  for (const x of chunks) {
    out.set(x, at);
    at += x.length;
  }
  return out;
}

function walkJpeg(b: Uint8Array, c: Collector): void {
  let at = 2;
  const jumbf = new Map<number, JumbfParts>();
  const finish = (): void => {
    // Already counted against the budget segment by segment.
    for (const [instance, j] of jumbf) c.items.push({ type: 'jumbf', data: joinJumbf(j.parts), where: `JPEG APP11 JUMBF #${instance}` });
  };
  while (at < b.length) {
    c.count();
    if (b[at] !== 0xff) throw new ProvenanceError('JPEG segment without marker');
    let marker = b[at + 1] ?? 0;
    while (marker === 0xff && at + 2 < b.length) marker = b[++at + 1] ?? 0; // fill bytes
    at += 2;
    if (marker === 0xd8 || marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) continue; // no length
    if (marker === 0xd9) break; // EOI
    if (at + 2 > b.length) throw new ProvenanceError('truncated JPEG segment');
    const len = ((b[at] ?? 0) << 8) | (b[at + 1] ?? 0);
    if (len < 2 || at + len > b.length) throw new ProvenanceError('JPEG segment longer than the file');
    const start = at + 2;
    const end = at + len;
    if (marker === 0xe1) {
      if (ascii(b, start, 6) === 'Exif\0\0') c.add({ type: 'exif', tiff: copy(b, start + 6, end), where: 'JPEG APP1 EXIF' });
      else if (ascii(b, start, XMP_JPEG_ID.length) === XMP_JPEG_ID) {
        c.add({ type: 'xmp', xml: utf8.decode(b.subarray(start + XMP_JPEG_ID.length, end)), where: 'JPEG APP1 XMP' });
      }
    } else if (marker === 0xeb && ascii(b, start, 2) === 'JP' && end - start > 8) {
      const instance = ((b[start + 2] ?? 0) << 8) | (b[start + 3] ?? 0);
      const seq = u32be(b, start + 4);
      let entry = jumbf.get(instance);
      if (!entry) {
        if (jumbf.size >= 16) throw new ProvenanceError('too many JUMBF boxes');
        entry = { parts: new Map() };
        jumbf.set(instance, entry);
      }
      c.budget(end - start - 8);
      entry.parts.set(seq, copy(b, start + 8, end));
    } else if (marker === 0xfe) {
      c.add({ type: 'text', key: 'comment', text: utf8.decode(b.subarray(start, end)), where: 'JPEG comment' });
    } else if (marker === 0xda) {
      break; // start of scan: metadata segments come before the pixels
    }
    at = end;
  }
  finish();
}

// ---- WebP -------------------------------------------------------------------------------

function walkWebp(b: Uint8Array, c: Collector): void {
  const riffEnd = Math.min(b.length, 8 + u32le(b, 4));
  let at = 12;
  while (at + 8 <= riffEnd) {
    c.count();
    const type = ascii(b, at, 4);
    const len = u32le(b, at + 4);
    const start = at + 8;
    if (start + len > b.length) throw new ProvenanceError(`WebP chunk ${JSON.stringify(type)} longer than the file`);
    const end = start + len;
    if (type === 'EXIF') {
      // Some writers keep JPEG's "Exif\0\0" prefix.
      const skip = ascii(b, start, 6) === 'Exif\0\0' ? 6 : 0;
      c.add({ type: 'exif', tiff: copy(b, start + skip, end), where: 'WebP EXIF' });
    } else if (type === 'XMP ') c.add({ type: 'xmp', xml: utf8.decode(b.subarray(start, end)), where: 'WebP XMP' });
    else if (type === 'C2PA') c.add({ type: 'jumbf', data: copy(b, start, end), where: 'WebP C2PA' });
    at = end + (len & 1); // chunks are padded to even sizes
  }
  if (at < riffEnd) throw new ProvenanceError('truncated WebP chunk header');
}

// ---- ISO-BMFF (AVIF, HEIF): the C2PA uuid box at top level --------------------------------

function walkBmff(b: Uint8Array, c: Collector): void {
  let at = 0;
  while (at + 8 <= b.length) {
    c.count();
    let size = u32be(b, at);
    const type = ascii(b, at + 4, 4);
    let header = 8;
    if (size === 1) {
      if (at + 16 > b.length) throw new ProvenanceError('truncated box header');
      const high = u32be(b, at + 8);
      if (high !== 0) throw new ProvenanceError('box larger than the file');
      size = u32be(b, at + 12);
      header = 16;
    } else if (size === 0) size = b.length - at;
    if (size < header || at + size > b.length) throw new ProvenanceError(`box ${JSON.stringify(type)} longer than the file`);
    if (type === 'uuid' && size >= header + 16 && hex(b.subarray(at + header, at + header + 16)) === C2PA_BMFF_UUID) {
      // version+flags (4), purpose string\0, then (for "manifest") an 8-byte merkle offset, then JUMBF.
      const p = at + header + 16 + 4;
      const nul = indexOfZero(b, p, Math.min(at + size, p + 64));
      if (nul > 0 && ascii(b, p, nul - p) === 'manifest') {
        c.add({ type: 'jumbf', data: copy(b, nul + 1 + 8, at + size), where: 'BMFF C2PA uuid box' });
      }
    }
    at += size;
  }
  if (at !== b.length) throw new ProvenanceError('truncated box header');
}

export function containerOf(b: Uint8Array): ContainerType | null {
  if (b.length >= 8 && PNG_SIG.every((x, i) => b[i] === x)) return 'png';
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'jpeg';
  if (b.length >= 12 && ascii(b, 0, 4) === 'RIFF' && ascii(b, 8, 4) === 'WEBP') return 'webp';
  if (b.length >= 12 && ascii(b, 4, 4) === 'ftyp') return 'bmff';
  return null;
}

/**
 * Every metadata payload of the file, copied out (at most 2 MB together). Never throws: a
 * malformed file gives what was read before the fault, and the fault in `error`.
 */
export function collectMetadata(bytes: Uint8Array): MetadataScan {
  const container = containerOf(bytes);
  const c = new Collector();
  if (!container) return { container, items: [], error: null };
  try {
    if (container === 'png') walkPng(bytes, c);
    else if (container === 'jpeg') walkJpeg(bytes, c);
    else if (container === 'webp') walkWebp(bytes, c);
    else walkBmff(bytes, c);
    return { container, items: c.items, error: null };
  } catch (e) {
    return { container, items: c.items, error: e instanceof ProvenanceError ? e.message : `unreadable (${String(e)})` };
  }
}

// Zip archives built byte by byte from PKWARE's APPNOTE 6.3 (local headers, central directory,
// zip64 end records and extra fields), for the checkpoint reader's unit tests: independent of the
// reader, and able to say things a real writer would not (wrong sizes, overlaps, compressed
// entries, offsets beyond 4 GiB in a file that is mostly holes).

import type { RandomAccessSource } from '../../src/detector/checkpoint/source';

export interface ZipEntrySpec {
  name: string;
  data: Uint8Array;
  method?: number;
  flags?: number;
  /** Absolute offset of the local header (default: right after the previous entry). */
  at?: number;
  /** Pad the local extra field so that the data starts at a multiple of this (as torch.save does with 64). */
  align?: number;
  /** Sizes the central directory declares (default: the data's length). */
  declaredSize?: number;
  /** The size the local header declares (default: like the central directory). */
  localSize?: number;
  /** The name the local header carries (default: `name`). */
  localName?: string;
}

export interface ZipOptions {
  /** Zip64 extra fields in the central directory and the zip64 end records, whatever the sizes. */
  zip64?: boolean;
  comment?: string;
  /** Overrides of the end records' entry count, central directory size and offset. */
  count?: number;
  cdSize?: number;
  cdOffset?: number;
}

export interface Segment {
  offset: number;
  bytes: Uint8Array;
}

export interface ZipLayout {
  size: number;
  segments: Segment[];
}

const encoder = new TextEncoder();
const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

export function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) c = (CRC_TABLE[(c ^ b) & 0xff] as number) ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

class Writer {
  private readonly parts: number[] = [];
  u16(v: number): this {
    this.parts.push(v & 0xff, (v >>> 8) & 0xff);
    return this;
  }
  u32(v: number): this {
    return this.u16(v & 0xffff).u16(Math.floor(v / 0x10000) & 0xffff);
  }
  u64(v: number): this {
    return this.u32(v % 2 ** 32).u32(Math.floor(v / 2 ** 32));
  }
  bytes(b: Uint8Array): this {
    for (const x of b) this.parts.push(x);
    return this;
  }
  done(): Uint8Array {
    return Uint8Array.from(this.parts);
  }
}

const BIG = 0xffffffff;

/** The archive as segments at absolute offsets (everything between them reads as zeros). */
export function zipLayout(entries: ZipEntrySpec[], options: ZipOptions = {}): ZipLayout {
  const segments: Segment[] = [];
  const central = new Writer();
  let pos = 0;
  for (const e of entries) {
    const at = e.at ?? pos;
    const name = encoder.encode(e.name);
    const localName = encoder.encode(e.localName ?? e.name);
    const size = e.declaredSize ?? e.data.length;
    const localSize = e.localSize ?? size;
    const zip64Local = options.zip64 || localSize >= BIG;
    let extra = zip64Local ? new Writer().u16(1).u16(16).u64(localSize).u64(localSize).done() : new Uint8Array(0);
    if (e.align) {
      const dataAt = at + 30 + localName.length + extra.length;
      const pad = (e.align - ((dataAt + 4) % e.align)) % e.align;
      extra = new Writer().bytes(extra).u16(0x4246).u16(pad).bytes(new Uint8Array(pad)).done(); // torch's "FB" padding field
    }
    const local = new Writer()
      .u32(0x04034b50)
      .u16(zip64Local ? 45 : 20)
      .u16(e.flags ?? 0)
      .u16(e.method ?? 0)
      .u16(0)
      .u16(0x21)
      .u32(crc32(e.data))
      .u32(zip64Local ? BIG : localSize)
      .u32(zip64Local ? BIG : localSize)
      .u16(localName.length)
      .u16(extra.length)
      .bytes(localName)
      .bytes(extra)
      .done();
    segments.push({ offset: at, bytes: local }, { offset: at + local.length, bytes: e.data });
    pos = at + local.length + e.data.length;

    const zip64Central = options.zip64 || size >= BIG || at >= BIG;
    const cExtra = zip64Central ? new Writer().u16(1).u16(24).u64(size).u64(size).u64(at).done() : new Uint8Array(0);
    central
      .u32(0x02014b50)
      .u16(45)
      .u16(zip64Central ? 45 : 20)
      .u16(e.flags ?? 0)
      .u16(e.method ?? 0)
      .u16(0)
      .u16(0x21)
      .u32(crc32(e.data))
      .u32(zip64Central ? BIG : size)
      .u32(zip64Central ? BIG : size)
      .u16(name.length)
      .u16(cExtra.length)
      .u16(0)
      .u16(0)
      .u16(0)
      .u32(0)
      .u32(zip64Central ? BIG : at)
      .bytes(name)
      .bytes(cExtra);
  }
  const cd = central.done();
  const cdOffset = pos;
  segments.push({ offset: cdOffset, bytes: cd });
  pos += cd.length;
  const count = options.count ?? entries.length;
  const cdSize = options.cdSize ?? cd.length;
  const declaredOffset = options.cdOffset ?? cdOffset;
  const zip64 = options.zip64 || declaredOffset >= BIG || count >= 0xffff;
  if (zip64) {
    const record = new Writer().u32(0x06064b50).u64(44).u16(45).u16(45).u32(0).u32(0).u64(count).u64(count).u64(cdSize).u64(declaredOffset).done();
    const locator = new Writer().u32(0x07064b50).u32(0).u64(pos).u32(1).done();
    segments.push({ offset: pos, bytes: record }, { offset: pos + record.length, bytes: locator });
    pos += record.length + locator.length;
  }
  const comment = encoder.encode(options.comment ?? '');
  const eocd = new Writer()
    .u32(0x06054b50)
    .u16(0)
    .u16(0)
    .u16(zip64 ? 0xffff : count)
    .u16(zip64 ? 0xffff : count)
    .u32(zip64 ? BIG : cdSize)
    .u32(zip64 ? BIG : declaredOffset)
    .u16(comment.length)
    .bytes(comment)
    .done();
  segments.push({ offset: pos, bytes: eocd });
  return { size: pos + eocd.length, segments };
}

/** A zip archive in one buffer. */
export function zipBytes(entries: ZipEntrySpec[], options: ZipOptions = {}): Uint8Array {
  const layout = zipLayout(entries, options);
  const out = new Uint8Array(layout.size);
  for (const s of layout.segments) out.set(s.bytes, s.offset);
  return out;
}

/** A source over a layout whose holes read as zeros; counts the bytes asked for. */
export function sparseSource(layout: ZipLayout): RandomAccessSource & { bytesRead: number } {
  const source = {
    size: layout.size,
    bytesRead: 0,
    read: (offset: number, length: number) => {
      const end = Math.min(offset + length, layout.size);
      const out = new Uint8Array(Math.max(0, end - offset));
      for (const s of layout.segments) {
        const from = Math.max(offset, s.offset);
        const to = Math.min(end, s.offset + s.bytes.length);
        if (from < to) out.set(s.bytes.subarray(from - s.offset, to - s.offset), from - offset);
      }
      source.bytesRead += out.length;
      return Promise.resolve(out);
    },
  };
  return source;
}

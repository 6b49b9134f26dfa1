// The zip container torch.save writes (PKWARE APPNOTE 6.3: end of central directory, its zip64
// locator and record, central directory headers, local headers). Only what a checkpoint needs is
// read: the tail, the central directory, and the local header of each entry asked for, which
// gives the absolute offset of that entry's bytes. Entries are never decompressed: torch.save
// stores them as is, 64-byte aligned, so a stored entry's bytes are the tensor's bytes.
// Over 300 lines: each zip record above gets its own bounded reader and its own hostile-input
// checks (sizes, offsets, zip64 fields), which read best side by side.

import { CheckpointError } from './errors';
import { readExactly, type RandomAccessSource } from './source';

export const EOCD_SIG = 0x06054b50;
const ZIP64_LOCATOR_SIG = 0x07064b50;
export const ZIP64_EOCD_SIG = 0x06064b50;
export const CENTRAL_SIG = 0x02014b50;
export const LOCAL_SIG = 0x04034b50;
const EOCD_SIZE = 22;
/** The most bytes the end of central directory record and its comment take. */
export const MAX_EOCD_BYTES = 22 + 0xffff;
const ZIP64_LOCATOR_SIZE = 20;
const ZIP64_EOCD_SIZE = 56;
const CENTRAL_SIZE = 46;
export const LOCAL_SIZE = 30;
const ZIP64_EXTRA_ID = 0x0001;
const FLAG_ENCRYPTED = 0x0001;
const FLAG_STRONG_ENCRYPTION = 0x0040;
export const FLAG_DATA_DESCRIPTOR = 0x0008;
/** Local extra fields torch writes pad data to 64 bytes; read this much beyond the name at once. */
const LOCAL_EXTRA_GUESS = 256;

export interface ZipLimits {
  /** Entries in the central directory (a Lightning ConvNeXt-Large checkpoint has about a thousand). */
  maxEntries: number;
  /** Bytes of central directory read into memory. */
  maxCentralDirectoryBytes: number;
}

export const DEFAULT_ZIP_LIMITS: ZipLimits = { maxEntries: 200_000, maxCentralDirectoryBytes: 64 * 1024 * 1024 };

/** An entry as the central directory describes it. */
export interface ZipEntry {
  name: string;
  /** Compression method: always 0 (stored) here; anything else is refused. */
  method: number;
  flags: number;
  crc32: number;
  compressedSize: number;
  uncompressedSize: number;
  localHeaderOffset: number;
  /** Where the next entry's local header (or the central directory) begins: this entry's bytes end before it. */
  limit: number;
}

/** An entry whose local header has been read: its bytes are [dataOffset, dataOffset + size). */
export interface StoredEntry extends ZipEntry {
  dataOffset: number;
  size: number;
}

export interface ZipDirectory {
  entries: ZipEntry[];
  byName: Map<string, ZipEntry>;
  centralDirectoryOffset: number;
  zip64: boolean;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

export function u16(b: Uint8Array, at: number): number {
  return (b[at] as number) | ((b[at + 1] as number) << 8);
}

export function u32(b: Uint8Array, at: number): number {
  return (u16(b, at) | (u16(b, at + 2) << 16)) >>> 0;
}

export function u64(b: Uint8Array, at: number, what: string): number {
  const lo = u32(b, at);
  const hi = u32(b, at + 4);
  if (hi >= 0x200000) throw new CheckpointError('too-large', `${what} declares ${hi * 2 ** 32 + lo} bytes or items, beyond any real checkpoint`);
  return hi * 2 ** 32 + lo;
}

export function describeStart(head: Uint8Array): string {
  const text = String.fromCharCode(...head.subarray(0, 16)).replace(/[^\x20-\x7e]/g, '.');
  if (/^\s*</.test(String.fromCharCode(...head.subarray(0, 64)))) {
    return `it starts with "${text}", a web page or XML document rather than a checkpoint (a login page or an error page instead of the file?)`;
  }
  // torch.save before PyTorch 1.6: a bare pickle stream beginning with the magic number.
  if (head[0] === 0x80 && head[1] === 0x02 && head[2] === 0x8a) {
    return 'it is a legacy (before PyTorch 1.6) torch.save file; load it in PyTorch and save it again';
  }
  return `it starts with "${text}"`;
}

/** The file's last bytes, already read: the end records and often the central directory lie in them. */
interface Tail {
  start: number;
  bytes: Uint8Array;
}

/** `length` bytes at `offset`, from the tail when it holds them (one request fewer over HTTP). */
function readNear(source: RandomAccessSource, tail: Tail, offset: number, length: number, what: string): Promise<Uint8Array> {
  if (offset >= tail.start && offset + length <= tail.start + tail.bytes.length) {
    return Promise.resolve(tail.bytes.subarray(offset - tail.start, offset - tail.start + length));
  }
  return readExactly(source, offset, length, what);
}

async function findEndOfCentralDirectory(source: RandomAccessSource): Promise<{ at: number; record: Uint8Array; tail: Tail }> {
  const tailLength = Math.min(source.size, MAX_EOCD_BYTES);
  const tail = await readExactly(source, source.size - tailLength, tailLength, 'the end of the file');
  // The record ends the file, followed only by its own comment: look from the end backwards.
  for (let i = tail.length - EOCD_SIZE; i >= 0; i--) {
    if (u32(tail, i) === EOCD_SIG && i + EOCD_SIZE + u16(tail, i + 20) === tail.length) {
      return { at: source.size - tailLength + i, record: tail.subarray(i, i + EOCD_SIZE), tail: { start: source.size - tailLength, bytes: tail } };
    }
  }
  const head = await readExactly(source, 0, Math.min(64, source.size), 'the start of the file');
  if (u32(head, 0) === LOCAL_SIG) {
    throw new CheckpointError(
      'truncated',
      `truncated or corrupt (${source.size} bytes): a zip archive without its central directory, e.g. a download that stopped early`,
    );
  }
  throw new CheckpointError('not-zip', `not a PyTorch checkpoint (a zip archive): ${describeStart(head)}`);
}

/** The central directory's place and size, from the end record or its zip64 record. */
async function locateCentralDirectory(
  source: RandomAccessSource,
  eocdAt: number,
  eocd: Uint8Array,
  tail: Tail,
): Promise<{ count: number; offset: number; size: number; end: number; zip64: boolean }> {
  let count = u16(eocd, 10);
  let size = u32(eocd, 12);
  let offset = u32(eocd, 16);
  if (u16(eocd, 4) !== 0 || u16(eocd, 6) !== 0 || u16(eocd, 8) !== count) {
    throw new CheckpointError('inconsistent', 'a zip archive split over several disks, which a checkpoint never is');
  }
  const locatorAt = eocdAt - ZIP64_LOCATOR_SIZE;
  const locator = locatorAt >= 0 ? await readNear(source, tail, locatorAt, ZIP64_LOCATOR_SIZE, 'the zip64 locator') : null;
  if (!locator || u32(locator, 0) !== ZIP64_LOCATOR_SIG) {
    if (count === 0xffff || size === 0xffffffff || offset === 0xffffffff) {
      throw new CheckpointError('inconsistent', 'the end of central directory asks for zip64 values, but there is no zip64 locator');
    }
    return { count, offset, size, end: eocdAt, zip64: false };
  }
  const recordAt = u64(locator, 8, 'the zip64 locator');
  if (u32(locator, 4) !== 0 || u32(locator, 16) > 1) {
    throw new CheckpointError('inconsistent', 'a zip archive split over several disks, which a checkpoint never is');
  }
  if (recordAt + ZIP64_EOCD_SIZE > locatorAt) {
    throw new CheckpointError('inconsistent', `the zip64 end of central directory (at ${recordAt}) does not lie before its locator (at ${locatorAt})`);
  }
  const record = await readNear(source, tail, recordAt, ZIP64_EOCD_SIZE, 'the zip64 end of central directory');
  if (u32(record, 0) !== ZIP64_EOCD_SIG) {
    throw new CheckpointError('inconsistent', `no zip64 end of central directory at ${recordAt}, where its locator points`);
  }
  const disksOk = u32(record, 16) === 0 && u32(record, 20) === 0;
  const onDisk = u64(record, 24, 'the zip64 entry count');
  count = u64(record, 32, 'the zip64 entry count');
  size = u64(record, 40, 'the zip64 central directory size');
  offset = u64(record, 48, 'the zip64 central directory offset');
  if (!disksOk || onDisk !== count) throw new CheckpointError('inconsistent', 'a zip archive split over several disks, which a checkpoint never is');
  return { count, offset, size, end: recordAt, zip64: true };
}

/** Sizes and offset from the zip64 extra field, for those the header marks 0xFFFFFFFF. */
export function applyZip64Extra(extra: Uint8Array, sizes: { uncompressed: number; compressed: number; offset: number }, name: string): void {
  const needed = [sizes.uncompressed, sizes.compressed, sizes.offset].filter((v) => v === 0xffffffff).length;
  if (needed === 0) return;
  for (let at = 0; at + 4 <= extra.length; ) {
    const id = u16(extra, at);
    const length = u16(extra, at + 2);
    const body = extra.subarray(at + 4, at + 4 + length);
    if (body.length !== length) break;
    if (id === ZIP64_EXTRA_ID) {
      if (length < 8 * needed) break;
      let p = 0;
      const next = (what: string): number => {
        const v = u64(body, p, `${name}: its zip64 ${what}`);
        p += 8;
        return v;
      };
      if (sizes.uncompressed === 0xffffffff) sizes.uncompressed = next('size');
      if (sizes.compressed === 0xffffffff) sizes.compressed = next('compressed size');
      if (sizes.offset === 0xffffffff) sizes.offset = next('offset');
      return;
    }
    at += 4 + length;
  }
  throw new CheckpointError('inconsistent', `${name}: sizes marked as zip64 without a zip64 extra field that holds them`);
}

export function refuseUnsupported(name: string, method: number, flags: number): void {
  if (flags & (FLAG_ENCRYPTED | FLAG_STRONG_ENCRYPTION)) {
    throw new CheckpointError('unsupported-entry', `${name} is encrypted; torch.save never encrypts, so this is not a checkpoint it wrote`);
  }
  if (method !== 0) {
    const how = method === 8 ? 'deflate' : method === 12 ? 'bzip2' : method === 14 ? 'LZMA' : `method ${method}`;
    throw new CheckpointError(
      'unsupported-entry',
      `${name} is compressed (${how}); torch.save stores every entry uncompressed, which is what lets the weights be read in place`,
    );
  }
}

/** Reads the central directory (never an entry's bytes). */
export async function readZipDirectory(source: RandomAccessSource, limits: ZipLimits = DEFAULT_ZIP_LIMITS): Promise<ZipDirectory> {
  if (!Number.isSafeInteger(source.size) || source.size < 0) throw new CheckpointError('inconsistent', `a file of ${source.size} bytes`);
  if (source.size < EOCD_SIZE) {
    const head = await readExactly(source, 0, source.size, 'the file');
    if (source.size === 0) throw new CheckpointError('not-zip', 'the file is empty');
    if (u32(head, 0) === LOCAL_SIG) throw new CheckpointError('truncated', `truncated: a ${source.size}-byte start of a zip archive`);
    throw new CheckpointError('not-zip', `not a PyTorch checkpoint (a zip archive): ${describeStart(head)}`);
  }
  const eocd = await findEndOfCentralDirectory(source);
  const cd = await locateCentralDirectory(source, eocd.at, eocd.record, eocd.tail);
  if (cd.count > limits.maxEntries) {
    throw new CheckpointError('too-large', `the archive declares ${cd.count} entries; a checkpoint has at most a few thousand (limit ${limits.maxEntries})`);
  }
  if (cd.size > limits.maxCentralDirectoryBytes) {
    throw new CheckpointError('too-large', `the archive declares a ${cd.size}-byte central directory (limit ${limits.maxCentralDirectoryBytes})`);
  }
  if (cd.count * CENTRAL_SIZE > cd.size) {
    throw new CheckpointError('inconsistent', `the archive declares ${cd.count} entries in a ${cd.size}-byte central directory, which cannot hold them`);
  }
  if (cd.offset + cd.size !== cd.end) {
    throw new CheckpointError(
      'inconsistent',
      `the central directory (bytes ${cd.offset}-${cd.offset + cd.size}) does not end where the end records begin (${cd.end})`,
    );
  }
  const bytes = await readNear(source, eocd.tail, cd.offset, cd.size, 'the central directory');
  const entries: ZipEntry[] = [];
  const byName = new Map<string, ZipEntry>();
  let at = 0;
  for (let i = 0; i < cd.count; i++) {
    if (at + CENTRAL_SIZE > bytes.length || u32(bytes, at) !== CENTRAL_SIG) {
      throw new CheckpointError('inconsistent', `central directory entry ${i} of ${cd.count} is missing or damaged (at byte ${cd.offset + at})`);
    }
    const nameLength = u16(bytes, at + 28);
    const extraLength = u16(bytes, at + 30);
    const commentLength = u16(bytes, at + 32);
    const end = at + CENTRAL_SIZE + nameLength + extraLength + commentLength;
    if (end > bytes.length) throw new CheckpointError('inconsistent', `central directory entry ${i} runs past the central directory`);
    let name: string;
    try {
      name = utf8.decode(bytes.subarray(at + CENTRAL_SIZE, at + CENTRAL_SIZE + nameLength));
    } catch {
      throw new CheckpointError('inconsistent', `central directory entry ${i} has a name that is not UTF-8`);
    }
    const flags = u16(bytes, at + 8);
    const method = u16(bytes, at + 10);
    refuseUnsupported(name, method, flags);
    const sizes = { compressed: u32(bytes, at + 20), uncompressed: u32(bytes, at + 24), offset: u32(bytes, at + 42) };
    const extra = bytes.subarray(at + CENTRAL_SIZE + nameLength, at + CENTRAL_SIZE + nameLength + extraLength);
    applyZip64Extra(extra, sizes, name);
    if (sizes.compressed !== sizes.uncompressed) {
      throw new CheckpointError('inconsistent', `${name} is stored, yet declares ${sizes.compressed} stored bytes for ${sizes.uncompressed} bytes of content`);
    }
    if (byName.has(name)) throw new CheckpointError('inconsistent', `two entries are named ${name}`);
    const entry: ZipEntry = {
      name,
      method,
      flags,
      crc32: u32(bytes, at + 16),
      compressedSize: sizes.compressed,
      uncompressedSize: sizes.uncompressed,
      localHeaderOffset: sizes.offset,
      limit: cd.offset,
    };
    entries.push(entry);
    byName.set(name, entry);
    at = end;
  }
  if (at !== bytes.length) {
    throw new CheckpointError('inconsistent', `the central directory holds ${bytes.length - at} bytes beyond its ${cd.count} declared entries`);
  }
  // Entries must follow one another without overlapping, all before the central directory: no
  // byte may belong to two entries (overlapping entries are how zip bombs multiply their data).
  const ordered = [...entries].sort((a, b) => a.localHeaderOffset - b.localHeaderOffset);
  for (let i = 0; i < ordered.length; i++) {
    const e = ordered[i] as ZipEntry;
    e.limit = i + 1 < ordered.length ? (ordered[i + 1] as ZipEntry).localHeaderOffset : cd.offset;
    const smallestEnd = e.localHeaderOffset + LOCAL_SIZE + new TextEncoder().encode(e.name).length + e.compressedSize;
    if (smallestEnd > e.limit) {
      const what = e.limit === cd.offset ? 'the central directory' : `the next entry (at ${e.limit})`;
      const where = smallestEnd > source.size ? `, beyond the end of the ${source.size}-byte file` : '';
      throw new CheckpointError(
        'inconsistent',
        `${e.name} (${e.compressedSize} bytes from ${e.localHeaderOffset}) overlaps ${what}${where}: sizes and offsets contradict each other`,
      );
    }
  }
  return { entries, byName, centralDirectoryOffset: cd.offset, zip64: cd.zip64 };
}

/** Reads `entry`'s local header and checks it against the central directory. */
export async function locateEntry(source: RandomAccessSource, entry: ZipEntry): Promise<StoredEntry> {
  const window = headerWindow(entry);
  return checkLocalHeader(source, entry, await readExactly(source, window.start, window.end - window.start, `the local header of ${entry.name}`));
}

/** The bytes read for an entry's local header: the fixed part, its name and room for an extra field. */
function headerWindow(entry: ZipEntry): { start: number; end: number } {
  const want = LOCAL_SIZE + new TextEncoder().encode(entry.name).length + LOCAL_EXTRA_GUESS;
  return { start: entry.localHeaderOffset, end: entry.localHeaderOffset + Math.min(want, entry.limit - entry.localHeaderOffset) };
}

/** `entry`'s local header from `head` (its first bytes; read again whole if its extra field is longer). */
async function checkLocalHeader(source: RandomAccessSource, entry: ZipEntry, head: Uint8Array): Promise<StoredEntry> {
  const nameBytes = new TextEncoder().encode(entry.name);
  if (head.length < LOCAL_SIZE || u32(head, 0) !== LOCAL_SIG) {
    throw new CheckpointError('inconsistent', `${entry.name}: no local header at ${entry.localHeaderOffset}, where the central directory points`);
  }
  const nameLength = u16(head, 26);
  const extraLength = u16(head, 28);
  const headerLength = LOCAL_SIZE + nameLength + extraLength;
  if (headerLength > head.length) {
    if (entry.localHeaderOffset + headerLength > entry.limit) {
      throw new CheckpointError('inconsistent', `${entry.name}: its local header runs into the next entry`);
    }
    head = await readExactly(source, entry.localHeaderOffset, headerLength, `the local header of ${entry.name}`);
  }
  const localName = head.subarray(LOCAL_SIZE, LOCAL_SIZE + nameLength);
  if (nameLength !== nameBytes.length || localName.some((b, i) => b !== nameBytes[i])) {
    throw new CheckpointError('inconsistent', `${entry.name}: its local header names another entry`);
  }
  const flags = u16(head, 6);
  const method = u16(head, 8);
  refuseUnsupported(entry.name, method, flags);
  if (method !== entry.method) throw new CheckpointError('inconsistent', `${entry.name}: local header and central directory disagree on its compression`);
  if (!(flags & FLAG_DATA_DESCRIPTOR)) {
    // Without a data descriptor the local header repeats the sizes (0xFFFFFFFF: in its zip64 extra).
    const sizes = { compressed: u32(head, 18), uncompressed: u32(head, 22), offset: 0 };
    applyZip64Extra(head.subarray(LOCAL_SIZE + nameLength, headerLength), sizes, entry.name);
    if (sizes.compressed !== entry.compressedSize || sizes.uncompressed !== entry.uncompressedSize) {
      throw new CheckpointError(
        'inconsistent',
        `${entry.name}: its local header declares ${sizes.uncompressed} bytes, the central directory ${entry.uncompressedSize}`,
      );
    }
  }
  const dataOffset = entry.localHeaderOffset + headerLength;
  if (dataOffset + entry.compressedSize > entry.limit) {
    throw new CheckpointError('inconsistent', `${entry.name}: its ${entry.compressedSize} bytes from ${dataOffset} overlap what follows it`);
  }
  return { ...entry, dataOffset, size: entry.uncompressedSize };
}

/**
 * The bytes between two local headers that may be read along to spare a request, in all: the
 * headers of the storages a checkpoint's state_dict uses lie between their data (a ConvNeXt-Large
 * checkpoint: 344 of them, interleaved with the optimizer's storages), so joining the closest
 * neighbours into one read costs the bytes between them.
 */
export const DEFAULT_HEADER_WASTE = 1024 * 1024;

/**
 * The local headers of `entries` (returned in the same order), read in few requests: the header
 * windows in file order, joined across the smallest gaps first while the bytes read only to join
 * them stay within `wasteBudget`. At most `parallel` reads at once.
 */
export async function locateEntries(
  source: RandomAccessSource,
  entries: ZipEntry[],
  wasteBudget = DEFAULT_HEADER_WASTE,
  parallel = 8,
): Promise<{ located: StoredEntry[]; reads: number }> {
  const order = entries.map((e, i) => ({ i, e, w: headerWindow(e) })).sort((a, b) => a.w.start - b.w.start);
  // Windows never overlap (each ends by its entry's limit, the next header), so each gap is >= 0.
  const gapAfter = order.slice(0, -1).map((o, k) => ({ k, gap: Math.max(0, (order[k + 1] as typeof o).w.start - o.w.end) }));
  const joined = new Set<number>();
  let spent = 0;
  for (const { k, gap } of [...gapAfter].sort((a, b) => a.gap - b.gap)) {
    if (spent + gap > wasteBudget) break;
    spent += gap;
    joined.add(k);
  }
  const groups: Array<typeof order> = [];
  order.forEach((o, k) => {
    if (k > 0 && joined.has(k - 1)) (groups[groups.length - 1] as typeof order).push(o);
    else groups.push([o]);
  });
  const located: StoredEntry[] = new Array<StoredEntry>(entries.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < groups.length) {
      const group = groups[next++] as typeof order;
      const start = (group[0] as (typeof order)[number]).w.start;
      const end = (group[group.length - 1] as (typeof order)[number]).w.end;
      const what = group.length === 1 ? `the local header of ${group[0]?.e.name}` : `the local headers of ${group.length} entries`;
      const bytes = await readExactly(source, start, end - start, what);
      for (const o of group) located[o.i] = await checkLocalHeader(source, o.e, bytes.subarray(o.w.start - start, o.w.end - start));
    }
  };
  await Promise.all(Array.from({ length: Math.min(parallel, groups.length) }, worker));
  return { located, reads: groups.length };
}

/** Every entry with its data offset (one local header read per entry). */
export async function readZip(source: RandomAccessSource, limits: ZipLimits = DEFAULT_ZIP_LIMITS): Promise<StoredEntry[]> {
  const dir = await readZipDirectory(source, limits);
  const out: StoredEntry[] = [];
  for (const e of dir.entries) out.push(await locateEntry(source, e));
  return out;
}

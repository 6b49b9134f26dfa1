// A checkpoint from a server that does not answer Range requests: the file is streamed once, from
// its first byte, and only what the reader (zip.ts, tensors.ts) and the import plan will ask for is
// kept, in a spool (memory in tests, an OPFS file in the extension). The central directory, which
// says where everything is, comes last, so the stream is read by its local headers instead:
// torch.save writes data.pkl first, then each storage behind its own local header. data.pkl says
// which storages the state_dict uses and how big every storage is (its persistent ids), so the
// optimizer's state and anything else large is skipped as it passes. Kept: every local header and
// data descriptor, data.pkl, the state_dict's storages, every entry of at most `maxGap` bytes (an
// import fetches such gaps along with the weights around them), the central directory and end
// records, and the file's last bytes (where the reader looks for the end record). The result is a
// RandomAccessSource over those bytes: the same reader then checks the central directory against
// every local header as it does over HTTP Range requests, and a read of a byte that was not kept is
// refused.

import { crc32 } from '../exif-orientation';
import { CheckpointError } from './errors';
import { DEFAULT_PLAN_OPTIONS } from './import-plan';
import type { RandomAccessSource } from './source';
import { findStateDict, STORAGE_DTYPES } from './tensors';
import { DEFAULT_PICKLE_LIMITS, unpickle } from './unpickle';
import {
  applyZip64Extra,
  CENTRAL_SIG,
  describeStart,
  EOCD_SIG,
  FLAG_DATA_DESCRIPTOR,
  LOCAL_SIG,
  LOCAL_SIZE,
  MAX_EOCD_BYTES,
  refuseUnsupported,
  u16,
  u32,
  ZIP64_EOCD_SIG,
} from './zip';

const DESCRIPTOR_SIG = 0x08074b50;

/** Where kept bytes go: appended in file order, read back by offset. */
export interface Spool {
  append(bytes: Uint8Array): Promise<void>;
  /** Called once, after the last append and before the first read. */
  finish(): Promise<void>;
  read(offset: number, length: number): Promise<Uint8Array>;
  /** Called instead of finish when the stream fails: nothing kept stays. */
  discard(): Promise<void>;
}

export function memorySpool(): Spool & { size: () => number } {
  const chunks: Uint8Array[] = [];
  let whole: Uint8Array | null = null;
  return {
    append: (b) => {
      chunks.push(b.slice());
      return Promise.resolve();
    },
    finish: () => {
      const all = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
      let at = 0;
      for (const c of chunks) {
        all.set(c, at);
        at += c.length;
      }
      whole = all;
      chunks.length = 0;
      return Promise.resolve();
    },
    read: (offset, length) => Promise.resolve((whole ?? new Uint8Array(0)).subarray(offset, offset + length)),
    discard: () => {
      chunks.length = 0;
      whole = null;
      return Promise.resolve();
    },
    size: () => whole?.length ?? chunks.reduce((n, c) => n + c.length, 0),
  };
}

export interface StreamKeepOptions {
  /** Entries this small are kept whatever they hold (the plan fetches gaps this long along). */
  maxGap: number;
  /** The most bytes of an entry whose size only its data descriptor gives (data.pkl) held to find its end. */
  maxScan: number;
  /** The most bytes of central directory and end records kept. */
  maxDirectory: number;
}

export const DEFAULT_STREAM_KEEP: StreamKeepOptions = {
  maxGap: DEFAULT_PLAN_OPTIONS.maxGap,
  maxScan: 64 * 1024 * 1024,
  maxDirectory: 64 * 1024 * 1024 + MAX_EOCD_BYTES,
};

export interface KeptSource extends RandomAccessSource {
  /** Bytes kept in the spool (the tail buffer aside). */
  readonly kept: number;
}

/** A forward-only reader over a stream of chunks, with a small look-ahead buffer and the file's last bytes. */
class Forward {
  private buf: Uint8Array = new Uint8Array(0);
  private done = false;
  /** File offset of the next byte to consume. */
  pos = 0;
  private tail: Uint8Array[] = [];
  private tailLength = 0;

  constructor(
    private readonly chunks: AsyncIterator<Uint8Array>,
    private readonly onConsumed: (pos: number) => void,
  ) {}

  /** At least `n` bytes buffered, or fewer where the stream ends. */
  async fill(n: number): Promise<Uint8Array> {
    while (this.buf.length < n && !this.done) {
      const r = await this.chunks.next();
      if (r.done) this.done = true;
      else if (r.value.length) {
        const joined = new Uint8Array(this.buf.length + r.value.length);
        joined.set(this.buf);
        joined.set(r.value, this.buf.length);
        this.buf = joined;
      }
    }
    return this.buf;
  }

  /** The stream has no more chunks (some may still be buffered). */
  get exhausted(): boolean {
    return this.done;
  }

  async ended(): Promise<boolean> {
    return (await this.fill(1)).length === 0;
  }

  private consumed(piece: Uint8Array): void {
    this.pos += piece.length;
    this.tail.push(piece);
    this.tailLength += piece.length;
    while (this.tail.length > 1 && this.tailLength - (this.tail[0] as Uint8Array).length >= MAX_EOCD_BYTES) {
      this.tailLength -= (this.tail.shift() as Uint8Array).length;
    }
    this.onConsumed(this.pos);
  }

  /** Consumes exactly `n` buffered-or-streamed bytes, handing them to `sink` piece by piece. */
  async pipe(n: number, sink: (piece: Uint8Array) => Promise<void> | void, what: string): Promise<void> {
    let left = n;
    while (left > 0) {
      if (this.buf.length === 0) {
        if (this.done) throw new CheckpointError('truncated', `truncated or corrupt: the file ends inside ${what} (at byte ${this.pos})`);
        const r = await this.chunks.next();
        if (r.done) {
          this.done = true;
          continue;
        }
        this.buf = r.value;
      }
      const piece = this.buf.subarray(0, Math.min(left, this.buf.length));
      this.buf = this.buf.subarray(piece.length);
      left -= piece.length;
      this.consumed(piece);
      await sink(piece);
    }
  }

  /** Consumes `n` buffered bytes and returns them (a copy). */
  async take(n: number, what: string): Promise<Uint8Array> {
    const out = new Uint8Array(n);
    let at = 0;
    await this.pipe(n, (p) => {
      out.set(p, at);
      at += p.length;
    }, what);
    return out;
  }

  /** The file's last bytes consumed, and where they start. */
  lastBytes(): { start: number; bytes: Uint8Array } {
    const bytes = new Uint8Array(this.tailLength);
    let at = 0;
    for (const t of this.tail) {
      bytes.set(t, at);
      at += t.length;
    }
    return { start: this.pos - this.tailLength, bytes };
  }
}

const isRecordSig = (b: Uint8Array, at: number): boolean =>
  at + 4 > b.length ? at === b.length : [LOCAL_SIG, CENTRAL_SIG, ZIP64_EOCD_SIG, EOCD_SIG].includes(u32(b, at));

/** The length of the data descriptor at the start of `b` for an entry of `size` bytes (optional signature, 32- or 64-bit sizes). */
function descriptorLength(b: Uint8Array, size: number, crc: number | null, name: string): number {
  const sig = b.length >= 4 && u32(b, 0) === DESCRIPTOR_SIG ? 4 : 0;
  const crcOk = (at: number): boolean => crc === null || (at + 4 <= b.length && u32(b, at) === crc);
  const small = size < 2 ** 32;
  if (small && b.length >= sig + 12 && crcOk(sig) && u32(b, sig + 4) === size && u32(b, sig + 8) === size && isRecordSig(b, sig + 12)) return sig + 12;
  const lo = size % 2 ** 32;
  const hi = Math.floor(size / 2 ** 32);
  if (
    b.length >= sig + 20 &&
    crcOk(sig) &&
    u32(b, sig + 4) === lo &&
    u32(b, sig + 8) === hi &&
    u32(b, sig + 12) === lo &&
    u32(b, sig + 16) === hi &&
    isRecordSig(b, sig + 20)
  ) {
    return sig + 20;
  }
  throw new CheckpointError('inconsistent', `${name}: no data descriptor for its ${size} bytes where its data ends`);
}

/**
 * Bytes of an entry whose size only its data descriptor gives: held until a descriptor signature
 * whose CRC-32 and sizes match the bytes before it, and a record after it.
 */
async function scanToDescriptor(f: Forward, maxScan: number, name: string): Promise<Uint8Array> {
  let searched = 0;
  for (;;) {
    const buf = await f.fill(searched + 64 * 1024 + 28);
    // A candidate needs the 28 bytes after it, unless the file ends first.
    const last = f.exhausted ? buf.length - 12 : buf.length - 28;
    for (let p = searched; p <= last; p++) {
      if (buf[p] !== 0x50 || u32(buf, p) !== DESCRIPTOR_SIG) continue;
      const data = buf.subarray(0, p);
      try {
        descriptorLength(buf.subarray(p, p + 28), p, crc32(data), name);
        return data.slice();
      } catch {
        // the signature's bytes inside the data: look further
      }
    }
    if (f.exhausted) throw new CheckpointError('truncated', `truncated or corrupt: the file ends inside ${name}`);
    if (buf.length > maxScan) throw new CheckpointError('too-large', `${name}: no end found within ${maxScan} bytes of it while streaming the file`);
    searched = Math.max(searched, last + 1);
  }
}

interface Segment {
  start: number;
  end: number;
  at: number;
}

/**
 * Streams a checkpoint once from `chunks` (from its first byte), keeping in `spool` only what an
 * import needs; `declaredSize` (Content-Length), when known, must match. `progress` gets the
 * bytes streamed so far.
 */
export async function keepFromStream(
  chunks: AsyncIterable<Uint8Array>,
  declaredSize: number | null,
  spool: Spool,
  progress: (streamed: number) => void = () => undefined,
  options: StreamKeepOptions = DEFAULT_STREAM_KEEP,
): Promise<KeptSource> {
  try {
    return await streamInto(chunks, declaredSize, spool, progress, options);
  } catch (e) {
    await spool.discard().catch(() => undefined);
    throw e;
  }
}

async function streamInto(
  chunks: AsyncIterable<Uint8Array>,
  declaredSize: number | null,
  spool: Spool,
  progress: (streamed: number) => void,
  options: StreamKeepOptions,
): Promise<KeptSource> {
  const f = new Forward(chunks[Symbol.asyncIterator](), progress);
  const segments: Segment[] = [];
  let spooled = 0;
  const keep = async (piece: Uint8Array, start: number): Promise<void> => {
    const last = segments[segments.length - 1];
    if (last && last.end === start) last.end += piece.length;
    else segments.push({ start, end: start + piece.length, at: spooled });
    spooled += piece.length;
    await spool.append(piece);
  };
  const keepNext = (n: number, what: string): Promise<void> => f.pipe(n, (p) => keep(p, f.pos - p.length), what);
  const skipNext = (n: number, what: string): Promise<void> => f.pipe(n, () => undefined, what);

  // Known once data.pkl is read: storage sizes by key, and the keys the state_dict uses.
  let archive: string | null = null;
  let sizes: Map<string, number> | null = null;
  let needed: Set<string> | null = null;
  const storageKey = (name: string): string | null => (archive !== null && name.startsWith(`${archive}/data/`) ? name.slice(archive.length + 6) : null);

  const head = await f.fill(64);
  if (head.length < 4 || u32(head, 0) !== LOCAL_SIG) {
    throw new CheckpointError('not-zip', head.length === 0 ? 'the file is empty' : `not a PyTorch checkpoint (a zip archive): ${describeStart(head)}`);
  }
  for (;;) {
    if (await f.ended()) throw new CheckpointError('truncated', `truncated or corrupt: the file ends at byte ${f.pos} without its central directory`);
    const sig = u32(await f.fill(4), 0);
    if (sig !== LOCAL_SIG) {
      if (sig !== CENTRAL_SIG && sig !== ZIP64_EOCD_SIG && sig !== EOCD_SIG) {
        throw new CheckpointError('inconsistent', `no zip record at byte ${f.pos} of the streamed file, where one entry ends`);
      }
      // The central directory and the end records: the rest of the file.
      const before = f.pos;
      while (!(await f.ended())) {
        if (f.pos - before > options.maxDirectory) throw new CheckpointError('too-large', `more than ${options.maxDirectory} bytes of central directory`);
        await keepNext(Math.min((await f.fill(1)).length, 1 << 20), 'the central directory');
      }
      break;
    }
    const start = f.pos;
    const fixed = (await f.fill(LOCAL_SIZE)).subarray(0, LOCAL_SIZE);
    if (fixed.length < LOCAL_SIZE) throw new CheckpointError('truncated', `truncated or corrupt: the file ends inside a local header at ${start}`);
    const headerLength = LOCAL_SIZE + u16(fixed, 26) + u16(fixed, 28);
    const header = await f.take(headerLength, `the local header at ${start}`);
    await keep(header, start);
    let name: string;
    try {
      name = new TextDecoder('utf-8', { fatal: true }).decode(header.subarray(LOCAL_SIZE, LOCAL_SIZE + u16(fixed, 26)));
    } catch {
      throw new CheckpointError('inconsistent', `the entry at ${start} has a name that is not UTF-8`);
    }
    const flags = u16(fixed, 6);
    refuseUnsupported(name, u16(fixed, 8), flags);
    const descriptor = (flags & FLAG_DATA_DESCRIPTOR) !== 0;
    const key = storageKey(name);
    let size: number | null = null;
    if (!descriptor) {
      const declared = { compressed: u32(fixed, 18), uncompressed: u32(fixed, 22), offset: 0 };
      applyZip64Extra(header.subarray(LOCAL_SIZE + u16(fixed, 26)), declared, name);
      size = declared.compressed;
    } else if (key !== null && sizes?.has(key)) size = sizes.get(key) as number;

    const isPickle = sizes === null && /^[^/]+\/data\.pkl$/.test(name);
    // Still buffered, not consumed: the bytes of an entry whose end only its data descriptor gives.
    let scanned: Uint8Array | null = null;
    if (size === null) {
      scanned = await scanToDescriptor(f, options.maxScan, name);
      size = scanned.length;
    }
    if (isPickle) {
      let pickle: Uint8Array;
      if (scanned) {
        pickle = scanned;
        await keepNext(size, name);
      } else {
        pickle = await f.take(size, name);
        await keep(pickle, f.pos - size);
      }
      archive = name.slice(0, -'/data.pkl'.length);
      const { value, storages } = unpickle(pickle, DEFAULT_PICKLE_LIMITS);
      sizes = new Map();
      for (const st of storages) {
        const item = Object.hasOwn(STORAGE_DTYPES, st.storageType) ? STORAGE_DTYPES[st.storageType] : undefined;
        if (item) sizes.set(st.key, st.numel * item.itemSize);
      }
      needed = new Set(findStateDict(value).tensors.map(([, t]) => t.storage.key));
    } else if (needed === null || size <= options.maxGap || key === null || needed.has(key)) await keepNext(size, name);
    else await skipNext(size, name);

    if (descriptor) {
      const after = await f.fill(28);
      const length = descriptorLength(after.subarray(0, 28), size, null, name);
      await keepNext(length, `the data descriptor of ${name}`);
    }
  }
  const total = f.pos;
  if (declaredSize !== null && total !== declaredSize) {
    throw new CheckpointError('truncated', `truncated or corrupt: the server declared ${declaredSize} bytes and sent ${total}`);
  }
  await spool.finish();
  const tail = f.lastBytes();

  const read = async (offset: number, length: number): Promise<Uint8Array> => {
    const end = Math.min(total, offset + length);
    const out = new Uint8Array(Math.max(0, end - offset));
    let at = offset;
    while (at < end) {
      const seg = segments.find((s) => s.start <= at && at < s.end);
      if (seg) {
        const to = Math.min(end, seg.end);
        out.set(await spool.read(seg.at + at - seg.start, to - at), at - offset);
        at = to;
      } else if (at >= tail.start) {
        out.set(tail.bytes.subarray(at - tail.start, end - tail.start), at - offset);
        at = end;
      } else {
        throw new CheckpointError(
          'inconsistent',
          `bytes ${offset}-${end} of the file were not kept while it was streamed (the server does not answer Range requests); the zip directory points where torch.save puts nothing`,
        );
      }
    }
    return out;
  };
  return { size: total, read, kept: spooled, sparse: true };
}

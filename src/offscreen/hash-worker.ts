// Checks a model file on its own thread while onnxruntime builds the session from the same file.
// The file is streamed (a Blob: OPFS parts or the packaged file), so it never sits in memory
// whole; WebCrypto could only digest it as one 800 MB buffer.
//
// Two ways, by what the install recorded:
// - parts: each part's SHA-256 (src/shared/model-store.ts, ChunkHashes) is checked with WebCrypto,
//   which runs natively on the browser's crypto thread, one part while the next is read; the
//   first part that differs ends the check. A stored model's parts are read with read-only
//   synchronous access handles when the engine passes them (sync-parts.ts): the check runs beside
//   the session on a 2-core machine, and reading the Blob cost the session up to a second more.
// - stream: the whole file through the JavaScript SHA-256 (about 88 MB/s here), for installs
//   that have no part hashes.

import { Sha256 } from '../detector/sha256';
import type { PartHash } from '../shared/model-store';
import type { CheckRead } from '../shared/protocol/offscreen';
import { openSyncParts } from './sync-parts';

/**
 * To the worker: the file, its parts' hashes if it has them, and the OPFS files it is stored in
 * where they may be opened read-only beside the engine's own reader.
 */
export type HashRequest = { file: Blob; parts?: PartHash[]; handles?: FileSystemFileHandle[] };
/** From it: bytes checked so far, then the whole digest (stream) or the first differing part (parts), or an error. */
export type HashReply =
  | { kind: 'progress'; bytes: number }
  | { kind: 'done'; hex: string }
  | { kind: 'parts-done'; mismatch: number | null; read: CheckRead }
  | { kind: 'error'; message: string };

const post = (m: HashReply): void => postMessage(m);

const hex = (digest: ArrayBuffer): string => Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');

/** Reads `n` bytes into `buffer` (fewer only at the end of the file); returns them and the buffer to use next. */
async function fill(reader: ReadableStreamBYOBReader, buffer: ArrayBuffer, n: number): Promise<{ bytes: Uint8Array<ArrayBuffer>; buffer: ArrayBuffer }> {
  let got = 0;
  while (got < n) {
    const { done, value } = await reader.read(new Uint8Array(buffer, got, n - got));
    if (value) {
      buffer = value.buffer;
      got += value.length;
    }
    if (done) break;
  }
  return { bytes: new Uint8Array(buffer, 0, got), buffer };
}

/** The file's bytes in order, `n` at a time, in one reused buffer (fewer only at its end). */
interface Bytes {
  next(n: number): Promise<Uint8Array<ArrayBuffer>>;
  end(): Promise<void>;
}

function blobBytes(file: Blob, largest: number): Bytes {
  const reader = file.stream().getReader({ mode: 'byob' });
  let buffer = new ArrayBuffer(largest);
  return {
    async next(n) {
      const r = await fill(reader, buffer, n);
      buffer = r.buffer;
      return r.bytes;
    },
    end: () => reader.cancel(),
  };
}

async function storedBytes(handles: FileSystemFileHandle[], largest: number): Promise<Bytes> {
  const parts = await openSyncParts(handles);
  const buffer = new ArrayBuffer(largest);
  let at = 0;
  return {
    next(n) {
      const bytes = new Uint8Array(buffer, 0, Math.min(n, parts.size - at));
      parts.read(at, bytes);
      at += bytes.length;
      return Promise.resolve(bytes);
    },
    end() {
      parts.close();
      return Promise.resolve();
    },
  };
}

async function checkParts(bytes: Bytes, expected: PartHash[]): Promise<number | null> {
  // One reused buffer: WebCrypto copies its input when called, so part i's copy is hashed on the
  // crypto thread while part i+1 is read into the buffer (at most two copies wait at once).
  let pending: { index: number; digest: Promise<ArrayBuffer> } | null = null;
  let read = 0;
  try {
    for (const [i, part] of expected.entries()) {
      const next = await bytes.next(part.bytes);
      if (next.length !== part.bytes) return i;
      const digest = crypto.subtle.digest('SHA-256', next);
      if (pending && hex(await pending.digest) !== expected[pending.index]?.sha256) return pending.index;
      pending = { index: i, digest };
      read += part.bytes;
      post({ kind: 'progress', bytes: read });
    }
    if (pending && hex(await pending.digest) !== expected[pending.index]?.sha256) return pending.index;
    return null;
  } finally {
    await bytes.end();
  }
}

async function checkStream(file: Blob): Promise<string> {
  const hash = new Sha256();
  // One reused buffer (a "bring your own buffer" reader): a new chunk per read would leave
  // hundreds of MB of garbage in this process before the collector ran.
  const reader = file.stream().getReader({ mode: 'byob' });
  let buffer = new ArrayBuffer(1024 * 1024);
  let last = 0;
  for (;;) {
    const { done, value } = await reader.read(new Uint8Array(buffer));
    if (value) {
      hash.update(value);
      buffer = value.buffer;
    }
    if (done) break;
    // About a hundred progress messages for an 800 MB file.
    if (hash.bytesHashed - last >= 8 * 1024 * 1024) {
      last = hash.bytesHashed;
      post({ kind: 'progress', bytes: last });
    }
  }
  return hash.hex();
}

self.onmessage = async (e: MessageEvent<HashRequest>) => {
  try {
    const { file, parts, handles } = e.data;
    if (parts) {
      const largest = Math.max(1, ...parts.map((p) => p.bytes));
      // The Blob where the parts cannot be opened here (the engine passes handles only where its own reader opened them read-only).
      const stored = handles ? await storedBytes(handles, largest).catch(() => null) : null;
      const mismatch = await checkParts(stored ?? blobBytes(file, largest), parts);
      post({ kind: 'parts-done', mismatch, read: stored ? 'handles' : 'blob' });
    } else post({ kind: 'done', hex: await checkStream(file) });
  } catch (err) {
    post({ kind: 'error', message: err instanceof Error ? err.message : String(err) });
  }
};

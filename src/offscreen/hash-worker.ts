// Checks a model file on its own thread while onnxruntime builds the session from the same file.
// The file is streamed (a Blob: OPFS parts or the packaged file), so it never sits in memory
// whole; WebCrypto could only digest it as one 800 MB buffer.
//
// Two ways, by what the install recorded:
// - parts: each part's SHA-256 (src/shared/model-store.ts, ChunkHashes) is checked with WebCrypto,
//   which runs natively on the browser's crypto thread, one part while the next is read; the
//   first part that differs ends the check.
// - stream: the whole file through the JavaScript SHA-256 (about 88 MB/s here), for installs
//   that have no part hashes.

import { Sha256 } from '../detector/sha256';
import type { PartHash } from '../shared/model-store';

/** To the worker: the file, and its parts' hashes if it has them. */
export type HashRequest = { file: Blob; parts?: PartHash[] };
/** From it: bytes checked so far, then the whole digest (stream) or the first differing part (parts), or an error. */
export type HashReply =
  | { kind: 'progress'; bytes: number }
  | { kind: 'done'; hex: string }
  | { kind: 'parts-done'; mismatch: number | null }
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

async function checkParts(file: Blob, expected: PartHash[]): Promise<number | null> {
  const reader = file.stream().getReader({ mode: 'byob' });
  // One reused buffer: WebCrypto copies its input when called, so part i's copy is hashed on the
  // crypto thread while part i+1 is read into the buffer (at most two copies wait at once).
  let buffer = new ArrayBuffer(Math.max(1, ...expected.map((p) => p.bytes)));
  let pending: { index: number; digest: Promise<ArrayBuffer> } | null = null;
  let read = 0;
  for (const [i, part] of expected.entries()) {
    const next = await fill(reader, buffer, part.bytes);
    buffer = next.buffer;
    if (next.bytes.length !== part.bytes) return i;
    const digest = crypto.subtle.digest('SHA-256', next.bytes);
    if (pending && hex(await pending.digest) !== expected[pending.index]?.sha256) return pending.index;
    pending = { index: i, digest };
    read += part.bytes;
    post({ kind: 'progress', bytes: read });
  }
  if (pending && hex(await pending.digest) !== expected[pending.index]?.sha256) return pending.index;
  await reader.cancel();
  return null;
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
    const { file, parts } = e.data;
    if (parts) post({ kind: 'parts-done', mismatch: await checkParts(file, parts) });
    else post({ kind: 'done', hex: await checkStream(file) });
  } catch (err) {
    post({ kind: 'error', message: err instanceof Error ? err.message : String(err) });
  }
};

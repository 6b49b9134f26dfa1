// Checks a model file's SHA-256 on its own core while onnxruntime builds the session from the same
// file. The file is streamed (a Blob: OPFS parts or the packaged file), so it never sits in memory
// whole; WebCrypto could only digest it as one 800 MB buffer.

import { Sha256 } from '../detector/sha256';

/** To the worker: the file. From it: bytes hashed so far, then the digest or an error. */
export type HashRequest = { file: Blob };
export type HashReply = { kind: 'progress'; bytes: number } | { kind: 'done'; hex: string } | { kind: 'error'; message: string };

const post = (m: HashReply): void => postMessage(m);

self.onmessage = async (e: MessageEvent<HashRequest>) => {
  try {
    const hash = new Sha256();
    // One reused buffer (a "bring your own buffer" reader): a new chunk per read would leave
    // hundreds of MB of garbage in this process before the collector ran.
    const reader = e.data.file.stream().getReader({ mode: 'byob' });
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
    post({ kind: 'done', hex: hash.hex() });
  } catch (err) {
    post({ kind: 'error', message: err instanceof Error ? err.message : String(err) });
  }
};

// Reads byte ranges of a model stored in OPFS parts (sync-parts.ts) straight into a
// SharedArrayBuffer the engine's document shares. Where a second read-only handle cannot be opened
// beside the first, the mode is not honoured (it would lock the hash check out) and the engine
// keeps to the Blob.

import type { PartsReadReply, PartsReadRequest } from './parts-reader';
import { openReadOnly, openSyncParts, type SyncParts } from './sync-parts';

let parts: SyncParts | null = null;
let buffer: Uint8Array | null = null;

const post = (m: PartsReadReply): void => postMessage(m);

function closeAll(): void {
  parts?.close();
  parts = null;
}

async function open(handles: FileSystemFileHandle[], shared: SharedArrayBuffer): Promise<void> {
  parts = await openSyncParts(handles);
  // A second reader beside the first: fails where 'read-only' is not a shared mode.
  if (handles[0]) (await openReadOnly(handles[0])).close();
  buffer = new Uint8Array(shared);
}

/** Bytes [at, at + length) into the shared buffer's start. */
function read(at: number, length: number): number {
  if (!buffer || !parts || length > buffer.length) throw new Error('read larger than the shared buffer');
  parts.read(at, buffer.subarray(0, length));
  return length;
}

onmessage = async (e: MessageEvent<PartsReadRequest>) => {
  const m = e.data;
  try {
    if (m.kind === 'open') {
      await open(m.handles, m.buffer);
      post({ kind: 'opened' });
    } else if (m.kind === 'read') {
      post({ kind: 'read', bytes: read(m.at, m.length) });
    } else {
      closeAll();
      post({ kind: 'closed' });
    }
  } catch (err) {
    if (m.kind === 'open') closeAll();
    post({ kind: 'error', message: err instanceof Error ? err.message : String(err) });
  }
};

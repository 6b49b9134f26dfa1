// Reads byte ranges of a model stored in OPFS parts with synchronous access handles, straight into
// a SharedArrayBuffer the engine's document shares: no Blob reads through the browser process, no
// new buffer per read. Opened read-only, which Chromium lets several readers share (the hash check
// reads the same parts meanwhile); where a second read-only handle cannot be opened beside the
// first, the mode is not honoured and the engine keeps to the Blob.

import type { PartsReadReply, PartsReadRequest } from './parts-reader';

interface SyncHandle {
  read(buffer: Uint8Array, options: { at: number }): number;
  getSize(): number;
  close(): void;
}
type ReadOnlyOpen = (options: { mode: 'read-only' }) => Promise<SyncHandle>;

const openReadOnly = (h: FileSystemFileHandle): Promise<SyncHandle> =>
  (h as unknown as { createSyncAccessHandle: ReadOnlyOpen }).createSyncAccessHandle({ mode: 'read-only' });

let parts: Array<{ handle: SyncHandle; start: number; size: number }> = [];
let buffer: Uint8Array | null = null;

const post = (m: PartsReadReply): void => postMessage(m);

function closeAll(): void {
  for (const p of parts) p.handle.close();
  parts = [];
}

async function open(handles: FileSystemFileHandle[], shared: SharedArrayBuffer): Promise<void> {
  let start = 0;
  for (const h of handles) {
    const handle = await openReadOnly(h);
    const size = handle.getSize();
    parts.push({ handle, start, size });
    start += size;
  }
  // A second reader beside the first: fails where 'read-only' is not a shared mode.
  if (handles[0]) (await openReadOnly(handles[0])).close();
  buffer = new Uint8Array(shared);
}

/** Bytes [at, at + length) into the shared buffer's start. */
function read(at: number, length: number): number {
  if (!buffer || length > buffer.length) throw new Error('read larger than the shared buffer');
  let done = 0;
  for (const p of parts) {
    if (done === length) break;
    const from = at + done;
    if (from >= p.start + p.size || from < p.start) continue;
    const n = Math.min(length - done, p.start + p.size - from);
    let got = 0;
    while (got < n) {
      const r = p.handle.read(buffer.subarray(done + got, done + n), { at: from - p.start + got });
      if (r <= 0) throw new Error('the stored model ended early');
      got += r;
    }
    done += n;
  }
  if (done !== length) throw new Error('read beyond the stored model');
  return done;
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

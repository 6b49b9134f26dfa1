// A file stored in OPFS parts, read in a worker with read-only synchronous access handles: no Blob
// reads through the browser process, no new buffer per read. Chromium lets several read-only
// handles share a file (the parts reader and the hash check read the same parts at once).

interface SyncHandle {
  read(buffer: Uint8Array, options: { at: number }): number;
  getSize(): number;
  close(): void;
}
type ReadOnlyOpen = (options: { mode: 'read-only' }) => Promise<SyncHandle>;

export const openReadOnly = (h: FileSystemFileHandle): Promise<SyncHandle> =>
  (h as unknown as { createSyncAccessHandle: ReadOnlyOpen }).createSyncAccessHandle({ mode: 'read-only' });

export interface SyncParts {
  size: number;
  /** Bytes [at, at + into.length) of the whole file into `into`; throws where the file is shorter. */
  read(at: number, into: Uint8Array): void;
  close(): void;
}

/** Opens every part read-only; closes what it opened if one fails. */
export async function openSyncParts(handles: FileSystemFileHandle[]): Promise<SyncParts> {
  const parts: Array<{ handle: SyncHandle; start: number; size: number }> = [];
  const close = (): void => {
    for (const p of parts.splice(0)) p.handle.close();
  };
  let start = 0;
  try {
    for (const h of handles) {
      const handle = await openReadOnly(h);
      const size = handle.getSize();
      parts.push({ handle, start, size });
      start += size;
    }
  } catch (e) {
    close();
    throw e;
  }
  const read = (at: number, into: Uint8Array): void => {
    const length = into.length;
    let done = 0;
    for (const p of parts) {
      if (done === length) break;
      const from = at + done;
      if (from >= p.start + p.size || from < p.start) continue;
      const n = Math.min(length - done, p.start + p.size - from);
      let got = 0;
      while (got < n) {
        const r = p.handle.read(into.subarray(done + got, done + n), { at: from - p.start + got });
        if (r <= 0) throw new Error('the stored model ended early');
        got += r;
      }
      done += n;
    }
    if (done !== length) throw new Error('read beyond the stored model');
  };
  return { size: start, read, close };
}

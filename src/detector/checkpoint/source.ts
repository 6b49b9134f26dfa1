// Random access to a checkpoint's bytes, whatever holds them: a File or Blob, an ArrayBuffer in
// memory, HTTP Range requests, a node file handle. The reader asks only for the pieces it needs
// (the zip directory, local headers, data.pkl), never for the whole file.

import { CheckpointError } from './errors';

export interface RandomAccessSource {
  /** The file's length in bytes. */
  readonly size: number;
  /** `length` bytes from `offset`; fewer only where the file ends early. */
  read(offset: number, length: number): Promise<Uint8Array>;
  /** Holds only some of the file's bytes (a streamed file's kept parts): read exactly what is needed, never the bytes between. */
  readonly sparse?: boolean;
}

export function bytesSource(bytes: Uint8Array): RandomAccessSource {
  return { size: bytes.length, read: (offset, length) => Promise.resolve(bytes.subarray(offset, offset + length)) };
}

export function blobSource(blob: Blob): RandomAccessSource {
  return {
    size: blob.size,
    read: async (offset, length) => new Uint8Array(await blob.slice(offset, offset + length).arrayBuffer()),
  };
}

/** Exactly `length` bytes at `offset`, or a 'truncated' error naming `what`. */
export async function readExactly(source: RandomAccessSource, offset: number, length: number, what: string): Promise<Uint8Array> {
  if (offset < 0 || length < 0 || offset + length > source.size) {
    throw new CheckpointError('truncated', `${what} (bytes ${offset}-${offset + length}) lies beyond the end of the ${source.size}-byte file`);
  }
  const bytes = await source.read(offset, length);
  if (bytes.length !== length) {
    throw new CheckpointError('truncated', `${what}: read ${bytes.length} of ${length} bytes at ${offset}; the file ends early`);
  }
  return bytes;
}

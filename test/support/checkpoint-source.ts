// Checkpoint bytes for the reader's tests: a file on disk read through a node file handle (as the
// tools will read one), and the SHA-256 of byte ranges, to compare with what PyTorch reports.

import { createHash } from 'node:crypto';
import { open, type FileHandle } from 'node:fs/promises';
import type { RandomAccessSource } from '../../src/detector/checkpoint/source';

export interface FileSource extends RandomAccessSource {
  close(): Promise<void>;
}

export async function fileSource(path: string): Promise<FileSource> {
  const handle: FileHandle = await open(path, 'r');
  const { size } = await handle.stat();
  return {
    size,
    read: async (offset, length) => {
      const buf = new Uint8Array(Math.max(0, Math.min(length, size - offset)));
      const { bytesRead } = await handle.read(buf, 0, buf.length, offset);
      return buf.subarray(0, bytesRead);
    },
    close: () => handle.close(),
  };
}

export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** A strided view's values in row-major order, gathered from the bytes its strides span. */
export function gather(span: Uint8Array, shape: number[], stride: number[], itemSize: number): Uint8Array {
  const numel = shape.reduce((a, b) => a * b, 1);
  const out = new Uint8Array(numel * itemSize);
  const index = shape.map(() => 0);
  for (let n = 0; n < numel; n++) {
    const at = index.reduce((sum, i, d) => sum + i * (stride[d] as number), 0) * itemSize;
    out.set(span.subarray(at, at + itemSize), n * itemSize);
    for (let d = shape.length - 1; d >= 0; d--) {
      index[d] = (index[d] as number) + 1;
      if ((index[d] as number) < (shape[d] as number)) break;
      index[d] = 0;
    }
  }
  return out;
}

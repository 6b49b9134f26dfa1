// zlib inflate with an output cap, on the platform's DecompressionStream (browsers, workers and
// Node 18+ alike): no dependency, and a "zip bomb" stops at the cap instead of filling memory.

import { LIMITS, ProvenanceError } from './types';

export async function inflateCapped(data: Uint8Array, maxBytes: number = LIMITS.maxInflatedBytes): Promise<Uint8Array> {
  const stream = new Blob([data as BlobPart]).stream().pipeThrough(new DecompressionStream('deflate'));
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.byteLength;
      if (total > maxBytes) throw new ProvenanceError('compressed text inflates beyond 1 MB');
      chunks.push(value);
    }
  } catch (e) {
    await reader.cancel().catch(() => undefined);
    if (e instanceof ProvenanceError) throw e;
    throw new ProvenanceError('compressed text is corrupt');
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

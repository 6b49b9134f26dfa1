// Serving a file with HTTP Range support (one closed range, `bytes=FROM-TO`), as a CDN answers the
// checkpoint import: 206 with Content-Range for a range, 200 with the whole file otherwise.

import type { ServerResponse } from 'node:http';

export interface ByteRange {
  from: number;
  /** Inclusive, clamped to the file's last byte. */
  to: number;
}

/** The range a `Range` header asks of a file of `size` bytes, or null (no header, or another form). */
export function byteRange(header: string | undefined, size: number): ByteRange | null {
  const m = /^bytes=(\d+)-(\d+)$/.exec(header ?? '');
  return m ? { from: Number(m[1]), to: Math.min(size - 1, Number(m[2])) } : null;
}

/** The status line and headers for `range` of a file of `size` bytes (null: all of it). */
export function writeRangeHead(res: ServerResponse, range: ByteRange | null, size: number): void {
  if (!range) return void res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': size });
  res.writeHead(206, {
    'content-type': 'application/octet-stream',
    'content-length': range.to - range.from + 1,
    'content-range': `bytes ${range.from}-${range.to}/${size}`,
  });
}

/** Answers `header` (a Range request, or none) from `bytes`. */
export function sendRange(res: ServerResponse, bytes: Uint8Array, header: string | undefined): void {
  const range = byteRange(header, bytes.length);
  writeRangeHead(res, range, bytes.length);
  res.end(range ? bytes.subarray(range.from, range.to + 1) : bytes);
}

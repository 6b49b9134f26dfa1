// The part-hash record of an installed model (chunks.json, src/shared/model-store.ts): WebCrypto's
// part digests against node:crypto's, and a record is accepted only for exactly the file the
// manifest describes.

import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { chunkSizeFor, parseChunkHashes, webCryptoSha256Hex } from '../../src/shared/model-store';

const file = randomBytes(300_001);
const size = 65_536;
const nodeHex = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
const onnx = { sha256: nodeHex(file), bytes: file.length };
const parts: string[] = [];
for (let at = 0; at < file.length; at += size) parts.push(nodeHex(file.subarray(at, at + size)));
const record = { v: 1, sha256: onnx.sha256, bytes: onnx.bytes, chunkSize: size, parts };

describe('part hashes of an installed model', () => {
  it('hashes a part as node:crypto does', async () => {
    expect(await webCryptoSha256Hex(new Uint8Array(file.subarray(0, size)))).toBe(parts[0]);
    expect(await webCryptoSha256Hex(new Uint8Array(0))).toBe(nodeHex(Buffer.alloc(0)));
  });

  it('accepts the record of the manifest’s file, five parts of 64 KiB and the rest', () => {
    expect(parts).toHaveLength(5);
    expect(chunkSizeFor(onnx.bytes)).toBe(size);
    expect(parseChunkHashes(JSON.parse(JSON.stringify(record)), onnx)).toEqual(record);
  });

  it('refuses a record of another file, a wrong count of parts, or malformed hashes', () => {
    const bad: unknown[] = [
      null,
      'x',
      { ...record, v: 2 },
      { ...record, sha256: nodeHex(Buffer.from('other')) },
      { ...record, bytes: onnx.bytes + 1 },
      { ...record, parts: parts.slice(1) },
      { ...record, parts: [...parts, parts[0]] },
      { ...record, chunkSize: size * 2 },
      { ...record, chunkSize: 0 },
      { ...record, chunkSize: 65_536.5 },
      { ...record, parts: [parts[0]?.toUpperCase(), ...parts.slice(1)] },
      { ...record, parts: [parts[0]?.slice(1), ...parts.slice(1)] },
      { ...record, parts: [1, ...parts.slice(1)] },
    ];
    for (const raw of bad) expect(parseChunkHashes(raw, onnx), JSON.stringify(raw)?.slice(0, 80)).toBeNull();
  });
});

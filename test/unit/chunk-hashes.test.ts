// The part-hash record of an installed model (chunks.json, src/shared/model-store.ts): WebCrypto's
// part digests against node:crypto's, and a record is accepted only for exactly the file the
// manifest describes, cut into parts that add up to it.

import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { MAX_PART_BYTES, parseChunkHashes, webCryptoSha256Hex } from '../../src/shared/model-store';

const file = randomBytes(300_001);
const nodeHex = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
const onnx = { sha256: nodeHex(file), bytes: file.length };
// Parts of any sizes, as a checkpoint import stores them: 65536, 100000, 1, then the rest.
const cuts = [0, 65_536, 165_536, 165_537, file.length];
const parts = cuts.slice(1).map((end, i) => ({ bytes: end - (cuts[i] as number), sha256: nodeHex(file.subarray(cuts[i], end)) }));
const record = { v: 1, sha256: onnx.sha256, bytes: onnx.bytes, parts };

describe('part hashes of an installed model', () => {
  it('hashes a part as node:crypto does', async () => {
    expect(await webCryptoSha256Hex(new Uint8Array(file.subarray(0, 65_536)))).toBe(parts[0]?.sha256);
    expect(await webCryptoSha256Hex(new Uint8Array(0))).toBe(nodeHex(Buffer.alloc(0)));
  });

  it('accepts the record of the manifest’s file in parts of any sizes that add up to it', () => {
    expect(parseChunkHashes(JSON.parse(JSON.stringify(record)), onnx)).toEqual(record);
  });

  it('refuses a record of another file, parts that do not add up, or malformed parts', () => {
    const first = parts[0] as { bytes: number; sha256: string };
    const rest = parts.slice(1);
    const bad: unknown[] = [
      null,
      'x',
      { ...record, v: 2 },
      { ...record, sha256: nodeHex(Buffer.from('other')) },
      { ...record, bytes: onnx.bytes + 1 },
      { ...record, parts: rest },
      { ...record, parts: [...parts, first] },
      { ...record, parts: [{ ...first, bytes: first.bytes + 1 }, ...rest] },
      { ...record, parts: [{ bytes: 0, sha256: first.sha256 }, ...parts] },
      { ...record, parts: [{ ...first, bytes: 65_536.5 }, ...rest] },
      { ...record, parts: [{ ...first, sha256: first.sha256.toUpperCase() }, ...rest] },
      { ...record, parts: [{ ...first, sha256: first.sha256.slice(1) }, ...rest] },
      { ...record, parts: [first.sha256, ...rest] },
      { ...record, parts: 'x' },
    ];
    for (const raw of bad) expect(parseChunkHashes(raw, onnx), JSON.stringify(raw)?.slice(0, 80)).toBeNull();
    // One part larger than a loader holds is refused even when the sizes add up.
    const big = { bytes: MAX_PART_BYTES + 1 };
    const bigFile = { sha256: 'a'.repeat(64), bytes: big.bytes };
    expect(parseChunkHashes({ v: 1, ...bigFile, parts: [{ bytes: big.bytes, sha256: 'b'.repeat(64) }] }, bigFile)).toBeNull();
    expect(parseChunkHashes({ v: 1, ...bigFile, parts: [{ bytes: MAX_PART_BYTES, sha256: 'b'.repeat(64) }, { bytes: 1, sha256: 'c'.repeat(64) }] }, bigFile)).not.toBeNull();
  });
});

// The incremental SHA-256 against the NIST FIPS 180-4 example vectors and against node:crypto on
// random inputs fed in random pieces, including a hash saved and restored mid-way (as a resumed
// download does).

import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Sha256, sha256Hex } from '../../src/detector/sha256';

const ascii = (s: string): Uint8Array => new TextEncoder().encode(s);
const nodeHex = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

/** A deterministic generator, so a failing case can be reproduced. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('SHA-256', () => {
  // FIPS 180-4 examples (csrc.nist.gov, "SHA256.pdf", "SHA2_Additional.pdf").
  it.each([
    ['', 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'],
    ['abc', 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad'],
    ['abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq', '248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1'],
    [
      'abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu',
      'cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1',
    ],
  ])('NIST vector %j', (text, want) => {
    expect(sha256Hex(ascii(text))).toBe(want);
  });

  it('NIST vector: one million "a", fed 1000 bytes at a time', () => {
    const h = new Sha256();
    const piece = new Uint8Array(1000).fill(0x61);
    for (let i = 0; i < 1000; i++) h.update(piece);
    expect(h.hex()).toBe('cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0');
  });

  it('matches node:crypto on every length around the block and padding edges', () => {
    const data = randomBytes(200);
    for (let n = 0; n <= 200; n++) expect(sha256Hex(data.subarray(0, n)), `length ${n}`).toBe(nodeHex(data.subarray(0, n)));
  });

  it('matches node:crypto on random inputs fed in random pieces, with the state saved and restored', () => {
    const random = rng(20261125);
    for (let round = 0; round < 40; round++) {
      const data = randomBytes(Math.floor(random() * 300_000));
      let h = new Sha256();
      let at = 0;
      while (at < data.length) {
        const n = Math.min(data.length - at, Math.floor(random() * 70_000));
        h.update(data.subarray(at, at + n));
        at += n;
        // A resumed download continues from a saved state, round-tripped through JSON.
        if (random() < 0.3) h = Sha256.fromState(JSON.parse(JSON.stringify(h.state())));
      }
      expect(h.bytesHashed).toBe(data.length);
      expect(h.hex(), `round ${round}, ${data.length} bytes`).toBe(nodeHex(data));
    }
  });

  it('refuses a damaged saved state and use after digest', () => {
    const s = new Sha256().update(ascii('hello')).state();
    expect(() => Sha256.fromState({ ...s, length: 6 })).toThrow('invalid SHA-256 state');
    expect(() => Sha256.fromState({ ...s, h: s.h.slice(1) })).toThrow('invalid SHA-256 state');
    const h = new Sha256();
    h.digest();
    expect(() => h.update(ascii('x'))).toThrow('after digest');
  });
});

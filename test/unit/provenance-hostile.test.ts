// Malformed and malicious metadata: truncated files, chunk lengths past the end, more metadata
// than the cap, a zlib bomb, JUMBF and CBOR nested far too deep, EXIF offsets outside the block,
// a validator that never answers, and random bytes. Each is rejected as "unreadable" (or found
// empty) without an exception, and whatever comes out passes the protocol's validator.

import { deflateSync } from 'node:zlib';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collectMetadata, readEvidence } from '../../src/detector/provenance';
import { parseEvidence } from '../../src/shared/protocol/shapes';
import type { Evidence } from '../../src/detector/provenance/evidence';
import { PYTHON, REPO } from '../support/python';

let dir: string;
const fixture = (name: string): Uint8Array => new Uint8Array(readFileSync(join(dir, name)));

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'rfl-hostile-'));
  execFileSync(PYTHON, [join(REPO, 'tools/provenance_fixtures.py'), dir], { stdio: 'pipe' });
}, 60_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function evidence(bytes: Uint8Array, opts = {}): Promise<Evidence> {
  const e = await readEvidence(collectMetadata(bytes), opts);
  expect(parseEvidence(e)).toEqual(e);
  return e;
}

// ---- tiny writers for hand-made containers ----------------------------------------------

const be32 = (n: number): number[] => [(n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255];
const ascii = (s: string): number[] => Array.from(s, (c) => c.charCodeAt(0));
const PNG_SIG = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

/** A PNG chunk (the CRC is not checked by the reader, so zeros do). */
function chunk(type: string, data: Uint8Array | number[], length = data.length): number[] {
  return [...be32(length), ...ascii(type), ...data, 0, 0, 0, 0];
}

function png(...chunks: number[][]): Uint8Array {
  return new Uint8Array([...PNG_SIG, ...chunks.flat(), ...chunk('IEND', [])]);
}

function box(type: string, payload: number[]): number[] {
  return [...be32(8 + payload.length), ...ascii(type), ...payload];
}

/** A JUMBF superbox: description (type from `kind`, label) plus children. */
function jumb(kind: string, label: string, children: number[][]): number[] {
  const uuid = [...ascii(kind), 0x00, 0x11, 0x00, 0x10, 0x80, 0x00, 0x00, 0xaa, 0x00, 0x38, 0x9b, 0x71];
  const jumd = box('jumd', [...uuid, 0x03, ...ascii(label), 0]);
  return box('jumb', [...jumd, ...children.flat()]);
}

describe('truncated and oversized containers', () => {
  it('every truncation of a PNG with parameters: no exception; cut inside a chunk is "unreadable"', async () => {
    const full = fixture('a1111.png');
    const states = new Set<string>();
    for (let n = 8; n < full.length; n++) {
      const e = await evidence(full.subarray(0, n));
      states.add(e.state);
      if (e.state === 'unreadable') expect(e.note).toMatch(/longer than the file|truncated|without IEND/);
    }
    expect(states).toEqual(new Set(['unreadable']));
  }, 60_000);

  it('every truncation of a JPEG with EXIF and XMP: no exception', async () => {
    const full = fixture('midjourney-xmp.jpg');
    for (let n = 3; n < full.length; n += 7) await evidence(full.subarray(0, n));
  }, 60_000);

  it('a PNG chunk claiming 2 GB: rejected at once, findings before it kept', async () => {
    const e = await evidence(png(chunk('tEXt', ascii('Software\0NovelAI')), chunk('tEXt', ascii('x\0y'), 0x7ffffff0)));
    expect(e.state).toBe('unreadable');
    expect(e.note).toMatch(/longer than the file/);
    expect(e.findings[0]?.details.generator).toBe('NovelAI');
  });

  it('a JPEG segment and a WebP chunk longer than the file', async () => {
    const jpeg = new Uint8Array([0xff, 0xd8, 0xff, 0xe1, 0xff, 0xf0, ...ascii('Exif\0\0')]);
    expect((await evidence(jpeg)).note).toMatch(/longer than the file/);
    const webp = new Uint8Array([...ascii('RIFF'), 100, 0, 0, 0, ...ascii('WEBP'), ...ascii('EXIF'), 0xff, 0xff, 0xff, 0x7f, 1, 2]);
    expect((await evidence(webp)).note).toMatch(/longer than the file/);
  });

  it('more than 2 MB of metadata', async () => {
    const mb = new Uint8Array(1024 * 1024).fill(0x41);
    const e = await evidence(png(chunk('tEXt', [...ascii('a\0'), ...mb]), chunk('tEXt', [...ascii('b\0'), ...mb]), chunk('tEXt', [...ascii('c\0'), ...mb])));
    expect(e).toMatchObject({ state: 'unreadable', note: 'metadata larger than 2 MB' });
  }, 60_000);

  it('a quarter of a million empty chunks', async () => {
    const empty = chunk('abCd', []);
    const bytes = new Uint8Array(PNG_SIG.length + 250_000 * empty.length);
    bytes.set(PNG_SIG);
    for (let i = 0; i < 250_000; i++) bytes.set(empty, PNG_SIG.length + i * empty.length);
    expect(await evidence(bytes)).toMatchObject({ state: 'unreadable', note: 'too many chunks' });
  }, 60_000);

  it('a zTXt zlib bomb (64 MB of zeros in 64 kB) stops at the 1 MB cap', async () => {
    const bomb = deflateSync(Buffer.alloc(64 * 1024 * 1024));
    expect(bomb.length).toBeLessThan(100_000);
    const e = await evidence(png(chunk('zTXt', [...ascii('parameters\0'), 0, ...bomb])));
    expect(e).toMatchObject({ state: 'unreadable' });
    expect(e.note).toMatch(/inflates beyond 1 MB/);
  }, 60_000);

  it('EXIF whose directory points outside its block', async () => {
    // II*\0, IFD0 at offset 8 with 1000 entries (far more than the 14 bytes there).
    const tiff = [0x49, 0x49, 42, 0, 8, 0, 0, 0, 0xe8, 0x03, 0, 0, 0, 0];
    const e = await evidence(png(chunk('eXIf', tiff)));
    expect(e.state).toBe('unreadable');
    expect(e.note).toMatch(/EXIF directory outside the block/);
  });
});

describe('JUMBF and CBOR', () => {
  it('JUMBF nested 200 deep is refused (cap 16)', async () => {
    let inner = jumb('c2pa', 'c2pa', []);
    for (let i = 0; i < 200; i++) inner = jumb('c2ma', `m${i}`, [inner]);
    const e = await evidence(png(chunk('caBX', inner)));
    expect(e).toMatchObject({ state: 'unreadable' });
    expect(e.note).toMatch(/JUMBF nested too deeply/);
  });

  it('a JUMBF box longer than its parent', async () => {
    const bad = box('jumb', [...box('jumd', new Array(17).fill(0)), ...be32(1000), ...ascii('cbor')]);
    expect((await evidence(png(chunk('caBX', bad)))).note).toMatch(/longer than its parent|truncated/);
  });

  it('a claim whose CBOR nests 10 000 arrays deep', async () => {
    const cbor = [...new Array(10_000).fill(0x81), 0x00];
    const store = jumb('c2pa', 'c2pa', [jumb('c2ma', 'urn:uuid:x', [jumb('c2cl', 'c2pa.claim', [box('cbor', cbor)])])]);
    const e = await evidence(png(chunk('caBX', store)));
    expect(e.note).toMatch(/CBOR nested too deeply/);
  });

  it('a CBOR map that claims 2^32 entries', async () => {
    const cbor = [0xba, 0xff, 0xff, 0xff, 0xff, 0x61, 0x61, 0x01];
    const store = jumb('c2pa', 'c2pa', [jumb('c2ma', 'urn:uuid:x', [jumb('c2cl', 'c2pa.claim', [box('cbor', cbor)])])]);
    expect((await evidence(png(chunk('caBX', store)))).note).toMatch(/CBOR truncated/);
  });
});

describe('time cap and random input', () => {
  it('a C2PA validator that never answers: "unreadable" after the time cap', async () => {
    const store = jumb('c2pa', 'c2pa', [jumb('c2ma', 'urn:uuid:x', [])]);
    const e = await evidence(png(chunk('caBX', store)), { validateC2pa: () => new Promise(() => undefined), timeoutMs: 100 });
    expect(e).toEqual({ state: 'unreadable', findings: [], note: 'reading metadata took too long' });
  });

  it('5 000 random files and byte-flipped fixtures: never an exception', async () => {
    let seed = 0x2545f491;
    const rand = (): number => {
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      return (seed >>> 0) / 2 ** 32;
    };
    const heads = [PNG_SIG, [0xff, 0xd8, 0xff], [...ascii('RIFF'), 0, 1, 0, 0, ...ascii('WEBP')], [0, 0, 0, 24, ...ascii('ftypavif')]];
    const sources = ['a1111.png', 'comfyui-ztxt.png', 'a1111-exif.jpg', 'midjourney-xmp.jpg', 'firefly.webp'].map(fixture);
    const states: Record<string, number> = {};
    for (let i = 0; i < 5_000; i++) {
      let bytes: Uint8Array;
      if (i % 2 === 0) {
        const head = heads[i % heads.length]!;
        bytes = new Uint8Array(head.length + Math.floor(rand() * 512));
        bytes.set(head);
        for (let j = head.length; j < bytes.length; j++) bytes[j] = Math.floor(rand() * 256);
      } else {
        bytes = sources[i % sources.length]!.slice();
        for (let k = 0; k < 4; k++) bytes[Math.floor(rand() * bytes.length)] = Math.floor(rand() * 256);
      }
      const e = await readEvidence(collectMetadata(bytes));
      expect(parseEvidence(e)).toEqual(e);
      states[e.state] = (states[e.state] ?? 0) + 1;
    }
    // Both outcomes occur: the flipped fixtures mostly still read, the random ones mostly do not.
    expect(states.found).toBeGreaterThan(0);
    expect(states.unreadable).toBeGreaterThan(0);
  }, 120_000);
});

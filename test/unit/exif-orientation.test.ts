// src/detector/exif-orientation.ts: finds the EXIF Orientation that exiftool and PIL wrote (1-8,
// both byte orders, JPEG APP1 and PNG eXIf), and its patched copy reads back as orientation 1 in
// exiftool and PIL (which checks PNG CRCs) with every pixel unchanged. Hostile input (random bytes,
// real files cut short or overwritten, bogus offsets, huge counts) never throws, and whatever
// comes back differs from the input only in the reported values and their PNG CRC.

import { execFile } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { crc32, findExifOrientations, withoutExifOrientation } from '../../src/detector/exif-orientation';
import { makeOrientedSet, type OrientedSet } from '../support/oriented';
import { runPython } from '../support/python';

let set: OrientedSet;
const read = (file: string): Uint8Array => new Uint8Array(readFileSync(join(set.dir, file)));

beforeAll(async () => {
  set = await makeOrientedSet();
}, 120_000);
afterAll(() => {
  if (set) rmSync(set.dir, { recursive: true, force: true });
});

/** Bytes where `b` and `a` differ (same length required). */
function changedAt(a: Uint8Array, b: Uint8Array): number[] {
  expect(b.length).toBe(a.length);
  const out: number[] = [];
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) out.push(i);
  return out;
}

/** The only bytes a patch may touch: the 2-byte values it reports and, for PNG, the chunk's CRC. */
function checkPatch(input: Uint8Array): void {
  const tags = findExifOrientations(input);
  const out = withoutExifOrientation(input);
  if (tags.every((t) => t.value === 1)) {
    expect(out).toBe(input);
    return;
  }
  const allowed = new Set<number>();
  for (const t of tags) {
    allowed.add(t.offset).add(t.offset + 1);
    if (t.crcSpan) for (let i = 0; i < 4; i++) allowed.add(t.crcSpan.end + i);
  }
  for (const i of changedAt(input, out)) expect(allowed.has(i), `byte ${i} changed`).toBe(true);
  expect(findExifOrientations(out).every((t) => t.value === 1)).toBe(true);
}

describe('on files written by exiftool and PIL', () => {
  it('finds the orientation each writer stored, in both byte orders', () => {
    for (const f of set.files) {
      const tags = findExifOrientations(read(f.file));
      expect(tags.map((t) => t.value), `${f.file} (${f.writer})`).toEqual([f.orientation]);
      expect(tags[0]?.where).toBe(f.file.endsWith('.png') ? 'PNG eXIf' : 'JPEG APP1');
      if (f.writer !== 'PIL PNG eXIf') expect(tags[0]?.littleEndian).toBe(f.writer === 'exiftool (little-endian)');
    }
  });

  it('patches a copy that exiftool and PIL read as orientation 1, with the same pixels', async () => {
    const pairs: Array<[string, string]> = [];
    for (const f of set.files) {
      const bytes = read(f.file);
      const before = bytes.slice();
      checkPatch(bytes);
      const out = withoutExifOrientation(bytes);
      expect(changedAt(before, bytes), 'the input is not modified').toEqual([]);
      const patched = join(set.dir, `patched-${f.file}`);
      writeFileSync(patched, out);
      pairs.push([join(set.dir, f.file), patched]);
    }
    const json = await new Promise<string>((done, fail) => {
      execFile('exiftool', ['-j', '-n', '-Orientation', '-Warning', '-Error', ...pairs.map((p) => p[1])], (err, stdout) => (err ? fail(err) : done(stdout)));
    });
    const tags = JSON.parse(json) as Array<{ Orientation?: number; Warning?: string; Error?: string }>;
    expect(tags.length).toBe(pairs.length);
    for (const t of tags) expect(t).toEqual({ SourceFile: expect.any(String) as string, Orientation: 1 });
    // PIL: Orientation 1 in the patched file, identical pixels; PNG chunk CRCs are verified on open.
    const script = `
import sys, json
import numpy as np
from PIL import Image, ImageFile
ImageFile.LOAD_TRUNCATED_IMAGES = False
args = sys.argv[1:]
out = []
for orig, patched in zip(args[::2], args[1::2]):
    with Image.open(orig) as a, Image.open(patched) as b:
        out.append({'orientation': b.getexif().get(0x0112), 'same': bool(np.array_equal(np.asarray(a.convert('RGB')), np.asarray(b.convert('RGB'))))})
print(json.dumps(out))
`;
    const r = await runPython(['-c', script, ...pairs.flat()]);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual(pairs.map(() => ({ orientation: 1, same: true })));
  });
});

// ---- hand-made blocks, written from the TIFF 6.0 / PNG / JPEG specifications -------------------

const be16 = (v: number) => [(v >> 8) & 0xff, v & 0xff];
const be32 = (v: number) => [(v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff];

interface Entry {
  tag: number;
  type: number;
  count: number;
  value: number[];
}
/** A big-endian TIFF block: header, IFD0 at `ifd0` (default 8) with `entries`, `count` overriding the entry count. */
function tiff(entries: Entry[], o: { ifd0?: number; count?: number; next?: number } = {}): Uint8Array {
  const body = entries.flatMap((e) => [...be16(e.tag), ...be16(e.type), ...be32(e.count), ...e.value, 0, 0, 0, 0].slice(0, 12));
  return new Uint8Array([0x4d, 0x4d, 0, 42, ...be32(o.ifd0 ?? 8), ...be16(o.count ?? entries.length), ...body, ...be32(o.next ?? 0)]);
}
const orientation = (v: number, type = 3, count = 1): Entry => ({ tag: 0x0112, type, count, value: type === 3 ? be16(v) : be32(v) });
const app1 = (t: Uint8Array): number[] => [0xff, 0xe1, ...be16(t.length + 8), ...[0x45, 0x78, 0x69, 0x66, 0, 0], ...t];
/** SOI, segments, then a start of scan and a few bytes of "scan data". */
const jpeg = (...segments: number[][]): Uint8Array => new Uint8Array([0xff, 0xd8, ...segments.flat(), 0xff, 0xda, 0, 2, 1, 2, 3, 0xff, 0xd9]);
function pngChunk(type: string, data: Uint8Array | number[]): number[] {
  const td = new Uint8Array([...type].map((c) => c.charCodeAt(0)).concat([...data]));
  return [...be32(td.length - 4), ...td, ...be32(crc32(td))];
}
const png = (...chunks: number[][]): Uint8Array => new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, ...chunks.flat()]);
const IHDR = pngChunk('IHDR', [...be32(1), ...be32(1), 8, 2, 0, 0, 0]);
const IDAT = pngChunk('IDAT', [0x78, 0x9c, 0x63, 0x60, 0x60, 0x60, 0, 0, 0, 4, 0, 1]);
const IEND = pngChunk('IEND', []);

describe('hand-made and hostile input', () => {
  it('patches every Exif segment and every eXIf chunk, not just the first', () => {
    const j = jpeg(app1(tiff([orientation(1)])), app1(tiff([{ tag: 0x010f, type: 2, count: 4, value: [0x61, 0x62, 0x63, 0] }, orientation(6)])));
    expect(findExifOrientations(j).map((t) => t.value)).toEqual([1, 6]);
    checkPatch(j);
    const p = png(IHDR, pngChunk('eXIf', tiff([orientation(8)])), IDAT, pngChunk('eXIf', tiff([orientation(3)])), IEND);
    expect(findExifOrientations(p).map((t) => t.value)).toEqual([8, 3]);
    checkPatch(p);
  });

  it('leaves what a decoder would not apply: LONG or counted values, a bad CRC, segments after the scan', () => {
    expect(findExifOrientations(jpeg(app1(tiff([orientation(6, 4)]))))).toEqual([]);
    expect(findExifOrientations(jpeg(app1(tiff([orientation(6, 3, 2)]))))).toEqual([]);
    expect(findExifOrientations(jpeg(app1(tiff([orientation(6, 3, 0xffffffff)]))))).toEqual([]);
    const chunk = pngChunk('eXIf', tiff([orientation(6)]));
    chunk[chunk.length - 1] = (chunk[chunk.length - 1] ?? 0) ^ 0xff;
    const badCrc = png(IHDR, chunk, IDAT, IEND);
    expect(findExifOrientations(badCrc)).toEqual([]);
    expect(withoutExifOrientation(badCrc)).toBe(badCrc);
    const afterScan = new Uint8Array([...jpeg(), ...app1(tiff([orientation(6)]))]);
    expect(findExifOrientations(afterScan)).toEqual([]);
  });

  it('survives bogus offsets, huge entry counts, IFD loops and truncated segments', () => {
    const cases: Array<[string, Uint8Array]> = [
      ['IFD0 offset past the block', jpeg(app1(tiff([orientation(6)], { ifd0: 0xffffffff })))],
      ['IFD0 offset just short of the end', jpeg(app1(tiff([orientation(6)], { ifd0: 20 })))],
      ['65535 entries claimed', jpeg(app1(tiff([orientation(6)], { count: 0xffff })))],
      ['IFD0 chained to itself', jpeg(app1(tiff([orientation(6)], { next: 8 })))],
      ['not a TIFF header', jpeg(app1(new Uint8Array([0x4d, 0x4d, 0, 43, 0, 0, 0, 8, 0, 0])))],
      ['empty Exif segment', jpeg([0xff, 0xe1, 0, 8, 0x45, 0x78, 0x69, 0x66, 0, 0])],
      ['segment length past the end', new Uint8Array([0xff, 0xd8, 0xff, 0xe1, 0xff, 0xff, 0x45, 0x78, 0x69, 0x66, 0, 0, 0x4d, 0x4d])],
      ['segment length 0', new Uint8Array([0xff, 0xd8, 0xff, 0xe1, 0, 0, 0xff, 0xe1])],
      ['PNG chunk length past the end', png(IHDR, [0x7f, 0xff, 0xff, 0xff, 0x65, 0x58, 0x49, 0x66])],
      ['PNG chunk length 0xffffffff', png(IHDR, [0xff, 0xff, 0xff, 0xff, 0x65, 0x58, 0x49, 0x66, 0, 0, 0, 0])],
      ['a megabyte of fill bytes', new Uint8Array([0xff, 0xd8, ...new Array<number>(1 << 20).fill(0xff)])],
      ['a megabyte of stuffed zeros', new Uint8Array([0xff, 0xd8, ...new Array<number>(1 << 20).fill(0).map((_, i) => (i % 2 ? 0 : 0xff))])],
    ];
    for (const [what, b] of cases) {
      expect(() => checkPatch(b), what).not.toThrow();
      expect(findExifOrientations(b), what).toEqual(what === 'IFD0 chained to itself' ? [expect.objectContaining({ value: 6 })] : []);
    }
  });

  it('never throws on random bytes, nor on real files cut short or overwritten', () => {
    const sigs = [new Uint8Array([0xff, 0xd8, 0xff]), png().subarray(0, 8), new Uint8Array([0xff, 0xd8, 0xff, 0xe1])];
    fc.assert(
      fc.property(fc.nat(sigs.length), fc.uint8Array({ maxLength: 2000 }), (s, tail) => {
        const sig = sigs[s] ?? new Uint8Array(0);
        const b = new Uint8Array(sig.length + tail.length);
        b.set(sig);
        b.set(tail, sig.length);
        checkPatch(b);
      }),
      { numRuns: 5_000 },
    );
    const real = set.files.filter((f) => f.orientation !== 1).map((f) => read(f.file).subarray(0, 4096));
    fc.assert(
      fc.property(
        fc.nat(real.length - 1),
        fc.array(fc.tuple(fc.nat(4095), fc.integer({ min: 0, max: 255 })), { maxLength: 8 }),
        fc.nat(4096),
        (k, writes, cut) => {
          const b = (real[k] ?? new Uint8Array(0)).slice(0, cut);
          for (const [at, v] of writes) if (at < b.length) b[at] = v;
          checkPatch(b);
        },
      ),
      { numRuns: 5_000 },
    );
  });
});

// The checkpoint reader's zip layer on archives built byte by byte from the specification
// (test/support/zip-bytes.ts): the data offset of every stored entry, zip64 in its forms (a
// 5 GiB archive that is mostly holes, read without touching them), and a typed refusal for
// every archive torch.save would not write.

import { describe, expect, it } from 'vitest';
import { CheckpointError, type CheckpointErrorKind } from '../../src/detector/checkpoint/errors';
import { bytesSource } from '../../src/detector/checkpoint/source';
import { readZip, readZipDirectory } from '../../src/detector/checkpoint/zip';
import { crc32, sparseSource, zipBytes, zipLayout, type ZipEntrySpec } from '../support/zip-bytes';

const enc = (s: string) => new TextEncoder().encode(s);
const ENTRIES: ZipEntrySpec[] = [
  { name: 'ck/data.pkl', data: enc('pickle bytes'), align: 64 },
  { name: 'ck/data/0', data: Uint8Array.from({ length: 300 }, (_, i) => i & 0xff), align: 64 },
  { name: 'ck/version', data: enc('3\n') },
];

async function refusal(bytes: Uint8Array): Promise<CheckpointError> {
  const e = await readZip(bytesSource(bytes)).then(
    () => null,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(CheckpointError);
  return e as CheckpointError;
}

async function expectRefused(bytes: Uint8Array, kind: CheckpointErrorKind, message: RegExp): Promise<void> {
  const e = await refusal(bytes);
  expect(e.kind).toBe(kind);
  expect(e.message).toMatch(message);
}

describe('reading stored entries', () => {
  it.each([
    ['plain', {}],
    ['zip64 records and extra fields', { zip64: true }],
    ['a comment after the end record', { comment: 'written by a test' }],
  ])('%s: each entry’s name, sizes, CRC and the offset of its bytes', async (_what, options) => {
    const bytes = zipBytes(ENTRIES, options);
    const entries = await readZip(bytesSource(bytes));
    expect(entries.map((e) => e.name)).toEqual(ENTRIES.map((e) => e.name));
    for (const [i, e] of entries.entries()) {
      const spec = ENTRIES[i]!;
      expect(bytes.subarray(e.dataOffset, e.dataOffset + e.size)).toEqual(spec.data);
      expect(e.crc32).toBe(crc32(spec.data));
      expect(e.method).toBe(0);
      if (spec.align) expect(e.dataOffset % 64).toBe(0);
    }
  });

  it('a 5 GiB archive whose storage lies beyond 4 GiB: zip64 offsets, and only the directory and headers are read', async () => {
    const big = 5 * 2 ** 30;
    const layout = zipLayout([
      { name: 'ck/data.pkl', data: enc('pickle') },
      { name: 'ck/data/0', data: enc('weights at 5 GiB'), at: big },
    ]);
    const source = sparseSource(layout);
    const dir = await readZipDirectory(source);
    expect(dir.zip64).toBe(true);
    const entries = await readZip(source);
    const weights = entries[1]!;
    expect(weights.localHeaderOffset).toBe(big);
    expect(weights.dataOffset).toBeGreaterThan(2 ** 32);
    expect(new TextDecoder().decode(await source.read(weights.dataOffset, weights.size))).toBe('weights at 5 GiB');
    expect(source.bytesRead).toBeLessThan(200_000);
  });

  it('a data descriptor (sizes 0 in the local header, as PyTorch writes them): the central directory’s sizes count', async () => {
    const bytes = zipBytes(ENTRIES.map((e) => ({ ...e, flags: 0x0808, localSize: 0 })));
    const entries = await readZip(bytesSource(bytes));
    expect(entries.map((e) => e.size)).toEqual(ENTRIES.map((e) => e.data.length));
  });
});

describe('archives torch.save would not write', () => {
  it('nothing, a few bytes, HTML, random bytes, a legacy torch.save pickle: not a zip', async () => {
    await expectRefused(new Uint8Array(0), 'not-zip', /empty/);
    await expectRefused(enc('hello'), 'not-zip', /starts with "hello"/);
    await expectRefused(enc(`<!doctype html><html><body>${'x'.repeat(100)}</body></html>`), 'not-zip', /web page/);
    await expectRefused(Uint8Array.from({ length: 5000 }, (_, i) => (i * 7919) & 0xff), 'not-zip', /not a PyTorch checkpoint/);
    await expectRefused(Uint8Array.from([0x80, 0x02, 0x8a, 0x0a, ...new Array(100).fill(0)]), 'not-zip', /legacy/);
  });

  it('cut anywhere before its end record: truncated', async () => {
    const bytes = zipBytes(ENTRIES);
    for (const cut of [10, 40, 200, bytes.length - 30, bytes.length - 1]) {
      await expectRefused(bytes.subarray(0, cut), 'truncated', /truncated/);
    }
  });

  it('compressed or encrypted entries', async () => {
    await expectRefused(zipBytes([{ ...ENTRIES[0]!, method: 8 }]), 'unsupported-entry', /ck\/data\.pkl is compressed \(deflate\)/);
    await expectRefused(zipBytes([ENTRIES[0]!, { ...ENTRIES[1]!, flags: 1 }]), 'unsupported-entry', /ck\/data\/0 is encrypted/);
  });

  it('two entries of one name', async () => {
    await expectRefused(zipBytes([ENTRIES[0]!, ENTRIES[1]!, { ...ENTRIES[1]!, data: enc('again') }]), 'inconsistent', /two entries are named ck\/data\/0/);
  });

  it('sizes that overlap the next entry, or run past the central directory or the file', async () => {
    await expectRefused(zipBytes([{ ...ENTRIES[0]!, declaredSize: 5000 }, ENTRIES[1]!]), 'inconsistent', /ck\/data\.pkl .* overlaps the next entry/);
    await expectRefused(zipBytes([ENTRIES[0]!, { ...ENTRIES[1]!, declaredSize: 2 ** 40 }]), 'inconsistent', /beyond the end/);
    await expectRefused(zipBytes([ENTRIES[0]!, { ...ENTRIES[1]!, declaredSize: 2 ** 62 }], { zip64: true }), 'too-large', /beyond any real checkpoint/);
  });

  it('a local header that disagrees with the central directory', async () => {
    await expectRefused(zipBytes([{ ...ENTRIES[0]!, localName: 'ck/other.pk' }]), 'inconsistent', /local header names another entry/);
    await expectRefused(zipBytes([{ ...ENTRIES[0]!, localSize: 3 }]), 'inconsistent', /local header declares 3 bytes/);
  });

  it('absurd entry counts and directory sizes', async () => {
    await expectRefused(zipBytes(ENTRIES, { zip64: true, count: 10_000_000 }), 'too-large', /10000000 entries/);
    await expectRefused(zipBytes(ENTRIES, { count: 50 }), 'inconsistent', /50 entries in a/);
    await expectRefused(zipBytes(ENTRIES, { zip64: true, cdSize: 2 ** 40 }), 'too-large', /central directory/);
    await expectRefused(zipBytes(ENTRIES, { cdOffset: 5 }), 'inconsistent', /does not end where the end records begin/);
  });
});

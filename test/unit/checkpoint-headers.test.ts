// Local headers read in few requests (locateEntries, src/detector/checkpoint/zip.ts), on archives
// built byte by byte from the specification (test/support/zip-bytes.ts): the same data offsets as
// one read per header, the bytes read to join requests within their budget, and on the layout of
// LAION's published file (a Lightning ConvNeXt-Large with AdamW's state, storages in torch.save's
// order: keys sorted as strings, 64-byte aligned, data descriptors) the number of requests printed.

import { describe, expect, it } from 'vitest';
import { CheckpointError } from '../../src/detector/checkpoint/errors';
import { bytesSource, type RandomAccessSource } from '../../src/detector/checkpoint/source';
import { locateEntries, locateEntry, readZipDirectory, type ZipEntry } from '../../src/detector/checkpoint/zip';
import { sparseSource, zipBytes, zipLayout, type ZipEntrySpec } from '../support/zip-bytes';

const enc = (s: string) => new TextEncoder().encode(s);

function counting(source: RandomAccessSource): RandomAccessSource & { reads: number; bytes: number } {
  const c = {
    size: source.size,
    reads: 0,
    bytes: 0,
    read: async (offset: number, length: number) => {
      c.reads++;
      const b = await source.read(offset, length);
      c.bytes += b.length;
      return b;
    },
  };
  return c;
}

/** ConvNeXt-Large's parameter sizes in bytes (float32), in timm's state_dict order. */
function convNextLargeSizes(): number[] {
  const dims = [192, 384, 768, 1536];
  const depths = [3, 3, 27, 3];
  const numel: number[] = [192 * 3 * 4 * 4, 192, 192, 192];
  dims.forEach((d, s) => {
    if (s > 0) numel.push(dims[s - 1]!, dims[s - 1]!, d * dims[s - 1]! * 4, d);
    for (let b = 0; b < depths[s]!; b++) numel.push(d * 49, d, d, d, 4 * d * d, 4 * d, 4 * d * d, d, d);
  });
  numel.push(1536, 1536, 2 * 1536, 2);
  return numel.map((n) => n * 4);
}

/** Where torch.save puts each storage of a Lightning checkpoint with AdamW's state (step, exp_avg, exp_avg_sq per weight). */
function publishedLayout(): { specs: ZipEntrySpec[]; model: string[] } {
  const sizes = new Map<string, number>();
  const model = convNextLargeSizes();
  model.forEach((n, i) => sizes.set(String(i), n));
  model.forEach((n, i) => {
    const k = model.length + 3 * i;
    sizes.set(String(k), 8);
    sizes.set(String(k + 1), n);
    sizes.set(String(k + 2), n);
  });
  const specs: ZipEntrySpec[] = [];
  let at = 0;
  const add = (name: string, size: number): void => {
    // PyTorch's writer: the "FB" extra field pads the data to 64 bytes; a 16-byte data descriptor follows it.
    const dataAt = Math.ceil((at + 30 + enc(name).length + 4) / 64) * 64;
    specs.push({ name, data: new Uint8Array(0), declaredSize: size, localSize: 0, flags: 0x0808, align: 64, at });
    at = dataAt + size + 16;
  };
  add('archive/data.pkl', 300_000);
  for (const key of [...sizes.keys()].sort()) add(`archive/data/${key}`, sizes.get(key)!);
  add('archive/version', 2);
  return { specs, model: model.map((_, i) => `archive/data/${i}`) };
}

describe('local headers read in few requests', () => {
  const specs: ZipEntrySpec[] = [
    { name: 'ck/data.pkl', data: enc('pickle bytes'), align: 64 },
    { name: 'ck/data/0', data: Uint8Array.from({ length: 3000 }, (_, i) => i & 0xff), align: 64 },
    { name: 'ck/data/1', data: enc('tiny'), align: 64 },
    // An extra field longer than the reader's first guess: read again, whole.
    { name: 'ck/data/2', data: enc('padded far'), align: 1024 },
    { name: 'ck/data/3', data: Uint8Array.from({ length: 70_000 }, (_, i) => (i * 7) & 0xff), align: 64, flags: 0x0808, localSize: 0 },
    { name: 'ck/version', data: enc('3\n') },
  ];
  const bytes = zipBytes(specs);

  it.each([0, 200, 5000, Infinity])('budget %s: the data offsets one read per header gives, and each entry’s bytes at them', async (budget) => {
    const dir = await readZipDirectory(bytesSource(bytes));
    const one = await Promise.all(dir.entries.map((e) => locateEntry(bytesSource(bytes), e)));
    const source = counting(bytesSource(bytes));
    const { located, reads } = await locateEntries(source, dir.entries, budget);
    expect(located).toEqual(one);
    located.forEach((e, i) => expect(bytes.subarray(e.dataOffset, e.dataOffset + e.size)).toEqual(specs[i]!.data));
    // One read per group, and one more for the header longer than its guess.
    expect(source.reads).toBe(reads + 1);
    // Windows that touch (tiny entries) are joined for free; nothing else with no budget.
    if (budget === 0) expect(reads).toBeGreaterThan(1);
    if (budget === Infinity) expect(reads).toBe(1);
  });

  it('bytes read only to join requests stay within the budget', async () => {
    const dir = await readZipDirectory(bytesSource(bytes));
    for (const budget of [0, 100, 3000, 80_000]) {
      const alone = counting(bytesSource(bytes));
      for (const e of dir.entries) await locateEntry(alone, e);
      const joined = counting(bytesSource(bytes));
      await locateEntries(joined, dir.entries, budget);
      expect(joined.bytes - alone.bytes, `budget ${budget}`).toBeLessThanOrEqual(budget);
      expect(joined.reads).toBeLessThanOrEqual(alone.reads);
    }
  });

  it('a damaged header among joined ones is named', async () => {
    const damaged = zipBytes(specs.map((s) => (s.name === 'ck/data/1' ? { ...s, localName: 'ck/data/9' } : s)));
    const dir = await readZipDirectory(bytesSource(damaged));
    const e = await locateEntries(bytesSource(damaged), dir.entries, Infinity).catch((err: unknown) => err);
    expect(e).toBeInstanceOf(CheckpointError);
    expect((e as CheckpointError).message).toMatch(/ck\/data\/1: its local header names another entry/);
  });

  it('LAION’s published layout (ConvNeXt-Large + AdamW, 2.36 GB): the 344 weights’ headers in far fewer requests', async () => {
    const { specs: published, model } = publishedLayout();
    const layout = zipLayout(published);
    const source = counting(sparseSource(layout));
    const dir = await readZipDirectory(source);
    const wanted = model.map((n) => dir.byName.get(n) as ZipEntry);
    const before = { reads: source.reads, bytes: source.bytes };
    const { located } = await locateEntries(source, wanted);
    const reads = source.reads - before.reads;
    const bytes = source.bytes - before.bytes;
    // The offsets the writer put the data at (64-byte aligned after each header).
    located.forEach((e) => expect(e.dataOffset % 64).toBe(0));
    const byName = new Map(published.map((s) => [s.name, s]));
    located.forEach((e) => expect(e.dataOffset).toBe(Math.ceil((byName.get(e.name)!.at! + 30 + enc(e.name).length + 4) / 64) * 64));
    console.log(
      `published layout: ${(layout.size / 1e9).toFixed(2)} GB, ${wanted.length} weight headers in ${reads} requests (one each: ${wanted.length}), ${bytes} bytes read`,
    );
    expect(reads).toBeLessThan(wanted.length / 1.5);
    expect(bytes).toBeLessThan(wanted.length * 400 + 1024 * 1024);
  });
});

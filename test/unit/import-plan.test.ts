// The import plan (src/detector/checkpoint/import-plan.ts) on hand-made tensor tables, each plan
// worked out by hand: where gaps are joined (at maxGap, not one byte beyond), where units are
// cut (element boundaries of each dtype, a unit smaller than one element), tensors that overlap
// (two views of one storage), and the float32 bytes each unit adds for fp16, bf16 and fp64 values
// (expected values written as IEEE 754 bit patterns, not computed by the code under test).

import { describe, expect, it } from 'vitest';
import { CheckpointError } from '../../src/detector/checkpoint/errors';
import { planImport, unitOutput, type ImportPlan } from '../../src/detector/checkpoint/import-plan';
import type { PlacedCheckpoint } from '../../src/detector/checkpoint/placement';
import type { DType } from '../../src/detector/checkpoint/tensors';

const SIZE: Record<string, number> = { float32: 4, float16: 2, bfloat16: 2, float64: 8, int64: 8 };

/** A placed checkpoint of tensors [name, dtype, start, end] (shape: one dimension). */
function placed(...tensors: Array<[string, DType, number, number]>): PlacedCheckpoint {
  return {
    layout: 'torchvision',
    prefix: '',
    architecture: { dims: [1], depths: [1], numClasses: 2 },
    weights: tensors.map(([name, dtype, start, end]) => ({
      name,
      shape: [(end - start) / SIZE[dtype]!],
      tensor: {
        key: `k.${name}`,
        dtype,
        itemSize: SIZE[dtype]!,
        shape: [(end - start) / SIZE[dtype]!],
        stride: [1],
        contiguous: true,
        start,
        end,
        storageEntry: `ck/data/${name}`,
      },
    })),
  };
}

/** Units as [start, end, outBytes, pieces as "tensor:from-to"]. */
const units = (plan: ImportPlan) => plan.units.map((u) => [u.start, u.end, u.outBytes, u.pieces.map((p) => `${plan.tensors[p.tensor]!.name}:${p.from}-${p.to}`).join(' ')]);

describe('planImport', () => {
  it('joins a gap of exactly maxGap bytes, and not one of maxGap + 1', () => {
    const plan = planImport(placed(['a', 'float32', 100, 140], ['b', 'float32', 150, 170], ['c', 'float32', 181, 201]), { maxGap: 10, maxUnit: 1000 });
    expect(units(plan)).toEqual([
      [100, 170, 60, 'a:100-140 b:150-170'],
      [181, 201, 20, 'c:181-201'],
    ]);
    expect(plan.fetchBytes).toBe(70 + 20);
    expect(plan.weightBytes).toBe(80);
    expect(plan.tensors.map((t) => [t.name, t.offset, t.length])).toEqual([
      ['a', 0, 40],
      ['b', 40, 20],
      ['c', 60, 20],
    ]);
  });

  it('orders tensors by their place in the file, whatever the table’s order', () => {
    const plan = planImport(placed(['late', 'float32', 500, 508], ['early', 'float32', 0, 8]), { maxGap: 0, maxUnit: 1000 });
    expect(plan.tensors.map((t) => [t.name, t.offset])).toEqual([
      ['early', 0],
      ['late', 8],
    ]);
    expect(units(plan)).toEqual([
      [0, 8, 8, 'early:0-8'],
      [500, 508, 8, 'late:500-508'],
    ]);
  });

  it('cuts a float32 tensor on 4-byte boundaries, inside units of at most maxUnit', () => {
    // 100 bytes from 0, units of at most 30: cuts at 28 (not 30), 56, 84.
    const plan = planImport(placed(['w', 'float32', 0, 100]), { maxGap: 0, maxUnit: 30 });
    expect(units(plan)).toEqual([
      [0, 28, 28, 'w:0-28'],
      [28, 56, 28, 'w:28-56'],
      [56, 84, 28, 'w:56-84'],
      [84, 100, 16, 'w:84-100'],
    ]);
  });

  it('cuts fp16 on 2-byte boundaries (each value becomes 4 bytes), and where a cut falls in a gap, there', () => {
    // fp16 at 64..74 (5 values) and float32 at 80..88, joined over their 6-byte gap; units of at most 7 bytes:
    // 71 lies inside h: back to 70; 77 lies in the gap: kept; 84 is a boundary of f; then the end.
    const plan = planImport(placed(['h', 'float16', 64, 74], ['f', 'float32', 80, 88]), { maxGap: 8, maxUnit: 7 });
    expect(units(plan)).toEqual([
      [64, 70, 12, 'h:64-70'],
      [70, 77, 8, 'h:70-74'],
      [77, 84, 4, 'f:80-84'],
      [84, 88, 4, 'f:84-88'],
    ]);
  });

  it('a unit smaller than one element still takes one whole element', () => {
    const plan = planImport(placed(['d', 'float64', 0, 24]), { maxGap: 0, maxUnit: 5 });
    expect(units(plan)).toEqual([
      [0, 8, 4, 'd:0-8'],
      [8, 16, 4, 'd:8-16'],
      [16, 24, 4, 'd:16-24'],
    ]);
  });

  it('two views of one storage that overlap start a new span, so each is stored whole', () => {
    const plan = planImport(placed(['whole', 'float32', 0, 40], ['half', 'float32', 20, 40]), { maxGap: 512, maxUnit: 1000 });
    expect(units(plan)).toEqual([
      [0, 40, 40, 'whole:0-40'],
      [20, 40, 20, 'half:20-40'],
    ]);
    expect(plan.weightBytes).toBe(60);
  });

  it('refuses integer tensors as weights', () => {
    expect(() => planImport(placed(['n', 'int64', 0, 8]))).toThrow(CheckpointError);
  });
});

describe('unitOutput', () => {
  const le = (...words: number[]) => new Uint8Array(new Uint32Array(words).buffer);

  it('fp16, bf16 and fp64 values become the float32 bit patterns IEEE 754 gives them', () => {
    const plan = planImport(placed(['h', 'float16', 0, 10], ['b', 'bfloat16', 10, 14], ['d', 'float64', 16, 32]), { maxGap: 8, maxUnit: 1000 });
    expect(plan.units).toHaveLength(1);
    const src = new Uint8Array(32);
    const v = new DataView(src.buffer);
    // fp16: 1.0 (0x3c00), -2.0 (0xc000), 2^-24 (0x0001, the smallest subnormal), 65504 (0x7bff), +inf (0x7c00)
    [0x3c00, 0xc000, 0x0001, 0x7bff, 0x7c00].forEach((h, i) => v.setUint16(2 * i, h, true));
    // bf16: 1.0 (0x3f80), -0.5 (0xbf00)
    v.setUint16(10, 0x3f80, true);
    v.setUint16(12, 0xbf00, true);
    // fp64: 0.1 (rounds to float32 0x3dcccccd), 1 + 2^-30 (rounds to 1.0, 0x3f800000)
    v.setFloat64(16, 0.1, true);
    v.setFloat64(24, 1 + 2 ** -30, true);
    const out = unitOutput(plan, plan.units[0]!, src);
    expect(out).toEqual(le(0x3f800000, 0xc0000000, 0x33800000, 0x477fe000, 0x7f800000, 0x3f800000, 0xbf000000, 0x3dcccccd, 0x3f800000));
  });

  it('refuses fetched bytes of the wrong length', () => {
    const plan = planImport(placed(['w', 'float32', 0, 8]), { maxGap: 0, maxUnit: 100 });
    expect(() => unitOutput(plan, plan.units[0]!, new Uint8Array(7))).toThrow(/got 7 of the 8 bytes/);
  });
});

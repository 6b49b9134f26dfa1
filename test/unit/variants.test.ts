// Which variant of the chosen model the engine tries on which backend, and which models count as
// variants at all. Worked by hand from the rules in src/detector/variants.ts's comments.

import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseManifest, type ModelManifest } from '../../src/detector/manifest';
import { batchLimit, isVariantOf, loadPlan, runWithinLimit } from '../../src/detector/variants';

const base = (): ModelManifest => parseManifest(JSON.parse(readFileSync(resolve(import.meta.dirname, '../../models/fixture/manifest.json'), 'utf8')));

function model(id: string, precision: 'fp32' | 'fp16' | 'int8', variantOf: string | null = null, edit: (m: ModelManifest) => void = () => {}) {
  const manifest = { ...base(), id, precision, variantOf };
  edit(manifest);
  return { manifest };
}

const fp32 = model('rf', 'fp32');
const fp16 = model('rf-fp16', 'fp16', 'rf');
const int8 = model('rf-int8', 'int8', 'rf');
const plan = (family: Array<{ manifest: ModelManifest }>, usable: boolean, shaderF16: boolean) =>
  loadPlan(family, { usable, shaderF16 }).map((a) => `${a.backend}:${a.model.manifest.id}`);

describe('loadPlan', () => {
  it('uses the fp16 variant on WebGPU with shader-f16, then fp32 on WebGPU, then fp32 on WebAssembly', () => {
    expect(plan([fp32, fp16], true, true)).toEqual(['webgpu:rf-fp16', 'webgpu:rf', 'wasm:rf']);
    // Whichever of the two the user chose.
    expect(plan([fp16, fp32], true, true)).toEqual(['webgpu:rf-fp16', 'webgpu:rf', 'wasm:rf']);
  });

  it('never tries an fp16 graph on WebGPU without shader-f16', () => {
    expect(plan([fp16, fp32], true, false)).toEqual(['webgpu:rf', 'wasm:rf']);
    expect(plan([fp16], true, false)).toEqual(['wasm:rf-fp16']);
  });

  it('prefers fp32 on WebAssembly, and runs fp16 there only when nothing else is installed', () => {
    expect(plan([fp16, fp32], false, true)).toEqual(['wasm:rf']);
    expect(plan([fp16], false, false)).toEqual(['wasm:rf-fp16']);
    expect(plan([fp32], true, true)).toEqual(['webgpu:rf', 'wasm:rf']);
  });

  it('never uses an installed int8 variant unless it is the chosen model', () => {
    expect(plan([fp32, fp16, int8], true, true)).toEqual(['webgpu:rf-fp16', 'webgpu:rf', 'wasm:rf']);
    expect(plan([fp32, int8], false, false)).toEqual(['wasm:rf']);
    expect(plan([fp16, int8], false, false)).toEqual(['wasm:rf-fp16']);
  });

  it('runs a chosen int8 model alone on WebAssembly: no other precision stands in for it', () => {
    expect(plan([int8, fp32, fp16], true, true)).toEqual(['wasm:rf-int8']);
    expect(plan([int8, fp32], false, false)).toEqual(['wasm:rf-int8']);
    expect(plan([int8], true, false)).toEqual(['wasm:rf-int8']);
  });

  it('has nothing to try without a model', () => {
    expect(loadPlan([], { usable: true, shaderF16: true })).toEqual([]);
  });
});

describe('isVariantOf', () => {
  it('links a variant to its fp32 model, and variants of one model to each other', () => {
    expect(isVariantOf(fp16.manifest, fp32.manifest)).toBe(true);
    expect(isVariantOf(fp32.manifest, fp16.manifest)).toBe(true);
    expect(isVariantOf(model('rf-int8', 'fp32', 'rf').manifest, fp16.manifest)).toBe(true);
    expect(isVariantOf(int8.manifest, fp32.manifest)).toBe(true);
    expect(isVariantOf(fp32.manifest, int8.manifest)).toBe(true);
    expect(isVariantOf(fp32.manifest, fp32.manifest)).toBe(false);
  });

  it('refuses models of another family', () => {
    expect(isVariantOf(model('other-fp16', 'fp16', 'other').manifest, fp32.manifest)).toBe(false);
    expect(isVariantOf(model('other', 'fp32').manifest, fp32.manifest)).toBe(false);
  });

  it('refuses a declared variant whose scores would mean something else', () => {
    const edits: Array<(m: ModelManifest) => void> = [
      (m) => (m.labels = [...m.labels].reverse()),
      (m) => (m.generatedIndex = 1 - m.generatedIndex),
      (m) => (m.preprocessing = { ...m.preprocessing, library: m.preprocessing.library === 'albumentations' ? 'torchvision' : 'albumentations' }),
      (m) => (m.preprocessing = { ...m.preprocessing, resize: { ...m.preprocessing.resize, interpolation: 'bilinear' } }),
      (m) => (m.preprocessing = { ...m.preprocessing, resize: { ...m.preprocessing.resize, size: 224 } }),
      (m) => (m.preprocessing = { ...m.preprocessing, mean: [0.5, 0.5, 0.5] }),
      (m) => (m.fixture = false),
    ];
    for (const edit of edits) expect(isVariantOf(model('rf-fp16', 'fp16', 'rf', edit).manifest, fp32.manifest)).toBe(false);
  });
});

describe('batchLimit and runWithinLimit', () => {
  // A stand-in model run that records the batch sizes it was given and answers, per image, the sum
  // of its values and the batch size (so the order and the split are both visible).
  const recorder = () => {
    const sizes: number[] = [];
    const run = async (part: Float32Array, n: number): Promise<Float32Array> => {
      sizes.push(n);
      const per = part.length / n;
      return Float32Array.from({ length: n * 2 }, (_, k) => (k % 2 === 0 ? part.subarray((k / 2) * per, (k / 2 + 1) * per).reduce((a, b) => a + b, 0) : n));
    };
    return { sizes, run };
  };
  const input = Float32Array.from([1, 2, 3, 4, 5, 6]); // 3 images of 2 values

  it('runs an fp32 or fp16 batch as one tensor', async () => {
    expect(batchLimit(fp32.manifest, 4)).toBe(4);
    expect(batchLimit(fp16.manifest, 4)).toBe(4);
    const r = recorder();
    expect(Array.from(await runWithinLimit(fp32.manifest, input, 3, r.run))).toEqual([3, 3, 7, 3, 11, 3]);
    expect(r.sizes).toEqual([3]);
  });

  it('runs an int8 batch image by image (its activation scale is per tensor), logits in order', async () => {
    expect(batchLimit(int8.manifest, 4)).toBe(1);
    const r = recorder();
    expect(Array.from(await runWithinLimit(int8.manifest, input, 3, r.run))).toEqual([3, 1, 7, 1, 11, 1]);
    expect(r.sizes).toEqual([1, 1, 1]);
  });
});

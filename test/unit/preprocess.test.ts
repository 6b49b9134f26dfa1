// Preprocessing pieces against torchvision 0.14's rules, worked out by hand.

import { describe, expect, it } from 'vitest';
import type { PreprocessingSpec } from '../../src/detector/manifest';
import {
  centerCrop,
  centerCropOffset,
  centerCropOffsets,
  preprocess,
  preprocessBatch,
  resizedSize,
  rgbaToRgb,
  roundHalfEven,
  toChw,
  toUnit,
} from '../../src/detector/preprocess';

const SPEC: PreprocessingSpec = {
  resize: { mode: 'shorter-side', size: 256, interpolation: 'bilinear' },
  centerCrop: 224,
  mean: [0.485, 0.456, 0.406],
  std: [0.229, 0.224, 0.225],
  library: 'torchvision',
};

describe('roundHalfEven (Python round)', () => {
  it('sends halves to the even neighbour', () => {
    expect([0.5, 1.5, 2.5, 78.5, 79.5, 16].map(roundHalfEven)).toEqual([0, 2, 2, 78, 80, 16]);
  });
  it('rounds the rest to nearest', () => {
    expect([2.4, 2.6, 0.49, 77.51].map(roundHalfEven)).toEqual([2, 3, 0, 78]);
  });
});

describe('resizedSize', () => {
  const short = SPEC.resize;
  const square = { ...SPEC.resize, mode: 'square' as const };
  it('scales the shorter side to 256 and truncates the longer: int(256 * long / short)', () => {
    expect(resizedSize(447, 300, short)).toEqual([381, 256]); // 381.44
    expect(resizedSize(451, 300, short)).toEqual([384, 256]); // 384.85
    expect(resizedSize(300, 480, short)).toEqual([256, 409]); // 409.6, portrait
    expect(resizedSize(100, 80, short)).toEqual([320, 256]); // upscaling
    expect(resizedSize(1411, 1411, short)).toEqual([256, 256]);
  });
  it('"square" ignores the aspect ratio', () => {
    expect(resizedSize(447, 300, square)).toEqual([256, 256]);
  });
});

describe('center crop', () => {
  it('uses Python round for the offset: (381 - 224) / 2 = 78.5 -> 78 (JS Math.round: 79)', () => {
    expect(centerCropOffsets(381, 256, 224)).toEqual({ left: 78, top: 16 });
    expect(centerCropOffset(383, 224)).toBe(80); // 79.5 -> 80
    expect(centerCropOffset(224, 224)).toBe(0);
  });

  it('pads like torchvision when the image is smaller: (crop - size) // 2 before, the rest after', () => {
    expect(centerCropOffset(200, 224)).toBe(-12);
    expect(centerCropOffset(201, 224)).toBe(-11); // 23 // 2 = 11 before, 12 after
    // A 3x1 RGB row into a 4x4 crop: (4 - 3) // 2 = 0 columns of zeros left, 1 right;
    // (4 - 1) // 2 = 1 row above, 2 below.
    const row = Uint8Array.from([1, 1, 1, 2, 2, 2, 3, 3, 3]);
    const out = centerCrop(row, 3, 1, 4);
    const r = Array.from({ length: 4 }, (_, y) => Array.from({ length: 4 }, (_, x) => out[(y * 4 + x) * 3]));
    expect(r).toEqual([
      [0, 0, 0, 0],
      [1, 2, 3, 0],
      [0, 0, 0, 0],
      [0, 0, 0, 0],
    ]);
  });

  it("albumentations floors the offset: (259 - 224) // 2 = 17 where torchvision's round(17.5) = 18", () => {
    expect(centerCropOffset(259, 224, 'albumentations')).toBe(17);
    expect(centerCropOffset(259, 224, 'torchvision')).toBe(18);
    expect(centerCropOffsets(256, 256, 224, 'albumentations')).toEqual({ left: 16, top: 16 });
    const rgb = Uint8Array.from([10, 10, 10, 20, 20, 20, 30, 30, 30, 40, 40, 40]);
    expect(Array.from(centerCrop(rgb, 4, 1, 1, 'albumentations'))).toEqual([20, 20, 20]); // (4 - 1) // 2 = 1
  });

  it('copies the right window', () => {
    // 4x1 gray-as-RGB, crop 1
    const rgb = Uint8Array.from([10, 10, 10, 20, 20, 20, 30, 30, 30, 40, 40, 40]);
    const out = centerCrop(rgb, 4, 1, 1);
    expect(Array.from(out)).toEqual([30, 30, 30]); // round((4 - 1) / 2) = round(1.5) = 2
  });
});

describe('RGBA to tensor', () => {
  it('drops alpha without compositing (PIL convert("RGB"))', () => {
    expect(Array.from(rgbaToRgb(Uint8Array.from([1, 2, 3, 0, 4, 5, 6, 128]), 2, 1))).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('ToTensor divides by 255 in float32', () => {
    expect(toUnit(0)).toBe(0);
    expect(toUnit(255)).toBe(1);
    // torch.tensor([1, 77], dtype=torch.uint8).float().div(255), printed by PyTorch 1.13:
    expect(toUnit(1)).toBe(0.003921568859368563);
    expect(toUnit(77)).toBe(0.3019607961177826);
  });

  it('lays out CHW and normalises per channel: (1 - 0.485) / 0.229 = 2.24891', () => {
    const rgb = Uint8Array.from([255, 0, 255, 255, 0, 255, 255, 0, 255, 255, 0, 255]);
    const t = toChw(rgb, 2, SPEC);
    expect(t.length).toBe(12);
    for (let i = 0; i < 4; i++) {
      expect(t[i]).toBeCloseTo(2.248908, 5);
      expect(t[4 + i]).toBeCloseTo(-0.456 / 0.224, 5);
      expect(t[8 + i]).toBeCloseTo((1 - 0.406) / 0.225, 5);
    }
    expect(Array.from(toChw(rgb, 2).slice(0, 6))).toEqual([1, 1, 1, 1, 0, 0]);
  });

  it("normalises albumentations' way: (x - 255 mean) / (255 std), e.g. (255 - 123.675) / 58.395 = 2.248909", () => {
    const alb = { ...SPEC, library: 'albumentations' as const };
    const rgb = Uint8Array.from([255, 0, 128, 0, 255, 128]);
    const t = toChw(rgb, 1, alb);
    expect(t[0]).toBeCloseTo((255 - 123.675) / 58.395, 5);
    expect(t[1]).toBeCloseTo((0 - 116.28) / 57.12, 5);
    expect(t[2]).toBeCloseTo((128 - 103.53) / 57.375, 5);
    // The same number to float32 rounding as torchvision's (x / 255 - mean) / std, not bit for bit.
    const tv = toChw(rgb, 1, SPEC);
    for (let i = 0; i < 3; i++) expect(Math.abs((t[i] ?? 0) - (tv[i] ?? 0))).toBeLessThan(1e-6);
  });

  it('preprocesses a uniform image to uniform channels of the right size, whatever its alpha', () => {
    const w = 300;
    const h = 200;
    const rgba = new Uint8Array(w * h * 4);
    for (let i = 0; i < w * h; i++) rgba.set([255, 0, 255, i % 256], i * 4);
    const t = preprocess(rgba, w, h, SPEC);
    expect(t.length).toBe(3 * 224 * 224);
    const plane = 224 * 224;
    expect(t.slice(0, plane).every((v) => Math.abs(v - 2.248908) < 1e-5)).toBe(true);
    expect(t.slice(plane, 2 * plane).every((v) => Math.abs(v + 0.456 / 0.224) < 1e-5)).toBe(true);
  });

  it('batches images one after another', () => {
    const a = { rgba: new Uint8Array(8 * 8 * 4).fill(255), width: 8, height: 8 };
    const b = { rgba: new Uint8Array(8 * 8 * 4), width: 8, height: 8 };
    const spec = { ...SPEC, resize: { ...SPEC.resize, size: 4 }, centerCrop: 2 };
    const t = preprocessBatch([a, b], spec);
    expect(t.length).toBe(2 * 3 * 4);
    expect(t[0]).toBeCloseTo(2.248908, 5);
    expect(t[12]).toBeCloseTo(-0.485 / 0.229, 5);
  });
});

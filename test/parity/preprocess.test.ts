// The TypeScript preprocessing against the reference pipeline (tools/realfake_ref/pipeline.py: cv2 +
// numpy for the published recipe, PIL + torchvision for the torchvision one) on the same decoded
// pixels: the resize must be reproduced byte for byte, and the model input to within 1e-6.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import type { PreprocessingSpec } from '../../src/detector/manifest';
import { resizeBilinear } from '../../src/detector/pil-resize';
import { preprocess, preprocessRgb, resizeRgb, toChw, resizeAndCrop } from '../../src/detector/preprocess';
import { photoIndex, photoPath, type PhotoInfo } from '../support/photos';
import { pilDecode, pilResize, rawInput, torchPreprocess, type PilPixels, type PilTensor } from '../support/python';
import { maxAbsDiff, countDiffs } from '../support/compare';
import { noise } from '../support/noise';

const SHORTER: PreprocessingSpec = {
  resize: { mode: 'shorter-side', size: 256, interpolation: 'bilinear' },
  centerCrop: 224,
  mean: [0.485, 0.456, 0.406],
  std: [0.229, 0.224, 0.225],
  library: 'torchvision',
};
const SQUARE: PreprocessingSpec = { ...SHORTER, resize: { ...SHORTER.resize, mode: 'square' } };
// The published model's (preset laion-realfake): cv2 INTER_LINEAR to 256 x 256, albumentations crop and Normalize.
const PUBLISHED: PreprocessingSpec = { ...SHORTER, resize: { mode: 'square', size: 256, interpolation: 'opencv-linear' }, library: 'albumentations' };
// Mixed: OpenCV's resampler on the shorter side (odd crop offsets: albumentations floors where torchvision rounds).
const OPENCV_SHORTER: PreprocessingSpec = { ...PUBLISHED, resize: { ...PUBLISHED.resize, mode: 'shorter-side' } };

let photos: PhotoInfo[];
let decoded: Map<string, PilPixels>;

const byFile = <T extends { input: string }>(items: T[]): Map<string, T> =>
  new Map(items.map((x) => [x.input.split('/').pop() ?? x.input, x]));

beforeAll(async () => {
  photos = photoIndex();
  decoded = byFile(await pilDecode(photos.map((p) => photoPath(p.file))));
});

function pixels(file: string): PilPixels {
  const px = decoded.get(file);
  if (!px) throw new Error(`PIL did not decode ${file}`);
  return px;
}

describe('PIL decode of the photos', () => {
  it('has the sizes index.json lists', () => {
    for (const p of photos) expect([pixels(p.file).width, pixels(p.file).height], p.file).toEqual([p.width, p.height]);
  });
});

for (const [name, spec] of [
  ['published: square, opencv-linear, albumentations', PUBLISHED],
  ['shorter-side, opencv-linear, albumentations', OPENCV_SHORTER],
  ['shorter-side, PIL bilinear, torchvision', SHORTER],
  ['square, PIL bilinear, torchvision', SQUARE],
] as const) {
  describe(`Resize (${name}) and the model input, per photo`, () => {
    let resized: Map<string, PilPixels>;
    let tensors: Map<string, PilTensor>;
    const opts = { resizeMode: spec.resize.mode, interpolation: spec.resize.interpolation, library: spec.library };

    beforeAll(async () => {
      const files = photos.map((p) => photoPath(p.file));
      [resized, tensors] = await Promise.all([pilResize(files, opts), torchPreprocess(files, opts)]).then(
        ([r, t]) => [byFile(r), byFile(t)] as const,
      );
    });

    it("reproduces the reference's resized pixels byte for byte", () => {
      for (const p of photos) {
        const px = pixels(p.file);
        const want = resized.get(p.file);
        const { pixels: got, width: w, height: h } = resizeRgb(px.rgb, px.width, px.height, spec.resize);
        expect([w, h], p.file).toEqual([want?.width, want?.height]);
        const diff = countDiffs(got, want?.rgb ?? new Uint8Array());
        console.log(`resize ${name} ${p.file.padEnd(24)} ${px.width}x${px.height} -> ${w}x${h}: ${diff} bytes differ`);
        expect(diff, p.file).toBe(0);
      }
    });

    it('matches the reference model input (Resize, CenterCrop, Normalize) to 1e-6', () => {
      const worst: number[] = [];
      for (const p of photos) {
        const px = pixels(p.file);
        const want = tensors.get(p.file);
        expect(want?.shape, p.file).toEqual([3, 224, 224]);
        const got = preprocessRgb(px.rgb, px.width, px.height, spec);
        const d = maxAbsDiff(got, want?.data ?? new Float32Array());
        worst.push(d);
        console.log(`tensor ${name} ${p.file.padEnd(24)} max |Δ| = ${d.toExponential(2)}`);
      }
      for (const [i, d] of worst.entries()) expect(d, photos[i]?.file).toBeLessThanOrEqual(1e-6);
    });

    it('gives the same model input from RGBA whatever the alpha (dropped, as RGBAtoRGB drops it)', () => {
      for (const p of photos) {
        const px = pixels(p.file);
        const rgba = new Uint8Array(px.width * px.height * 4);
        for (let i = 0, j = 0; j < px.rgb.length; i += 4, j += 3) {
          rgba.set(px.rgb.subarray(j, j + 3), i);
          rgba[i + 3] = (j * 7) & 255;
        }
        const got = preprocess(rgba, px.width, px.height, spec);
        expect(maxAbsDiff(got, tensors.get(p.file)?.data ?? new Float32Array()), p.file).toBeLessThanOrEqual(1e-6);
        // The RGBA route (a 4-channel resize for OpenCV's) changes no bit of the RGB route's result.
        expect(got, p.file).toEqual(preprocessRgb(px.rgb, px.width, px.height, spec));
      }
    });

    it('matches the cropped levels / 255 (before Normalize) exactly', async () => {
      const raw = byFile(await torchPreprocess(photos.map((p) => photoPath(p.file)), { ...opts, unnormalized: true }));
      for (const p of photos) {
        const px = pixels(p.file);
        const got = toChw(resizeAndCrop(px.rgb, px.width, px.height, spec), spec.centerCrop);
        expect(maxAbsDiff(got, raw.get(p.file)?.data ?? new Float32Array()), p.file).toBe(0);
      }
    });
  });
}

describe("PIL's bilinear resize on random images of awkward sizes", () => {
  const cases: Array<[number, number, number, number]> = [
    [1, 1, 7, 3], // a single pixel blown up
    [5, 3, 2, 7], // down in x, up in y
    [13, 11, 13, 4], // only vertical
    [97, 89, 31, 255], // odd ratios
    [640, 3, 7, 3], // extreme downscale
    [3, 480, 300, 1],
    [257, 256, 256, 256], // barely smaller
    [255, 255, 256, 257], // barely bigger
  ];

  it('matches Image.resize((w, h), BILINEAR) byte for byte', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rfl-noise-'));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    const inputs = cases.map(([w, h], i) => {
      const file = join(dir, `noise${i}`);
      writeFileSync(file, noise(w * h * 3, i + 1));
      return rawInput(file, w, h, 3);
    });
    const wants = await pilResize(inputs, { to: cases.map(([, , ow, oh]) => [ow, oh] as [number, number]) });
    for (const [i, [w, h, ow, oh]] of cases.entries()) {
      const want = wants[i];
      const got = resizeBilinear(noise(w * h * 3, i + 1), w, h, 3, ow, oh);
      expect([want?.width, want?.height]).toEqual([ow, oh]);
      expect(countDiffs(got, want?.rgb ?? new Uint8Array()), `${w}x${h} -> ${ow}x${oh}`).toBe(0);
    }
  });
});

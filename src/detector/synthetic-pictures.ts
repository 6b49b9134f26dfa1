// Seeded synthetic pictures, no two alike, for measuring an int8 variant's agreement with its fp32
// model where no photographs are at hand (the in-browser import): smooth waves, flat rectangles with
// hard edges, and noise, in sizes and aspect ratios that exercise the resize and the crop. The same
// kind of content as the converter's set (tools/realfake_ref/int8.py synthetic_pictures), made by a
// generator of its own (mulberry32), so the pixels are not numpy's: a manifest says which set it used.

import type { PreprocessingSpec } from './manifest';
import { preprocessRgb } from './preprocess';
import { probeInput } from './probe';

export const SYNTHETIC_SEED = 20261202;
export const SYNTHETIC_COUNT = 12;

export interface SyntheticPicture {
  name: string;
  width: number;
  height: number;
  /** Interleaved RGB, row-major. */
  rgb: Uint8Array;
}

/** Seeded uniform numbers in [0, 1) (mulberry32). */
export function seededUniform(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function syntheticPictures(count = SYNTHETIC_COUNT, seed = SYNTHETIC_SEED): SyntheticPicture[] {
  const rnd = seededUniform(seed);
  const between = (lo: number, hi: number): number => lo + rnd() * (hi - lo);
  const int = (lo: number, hi: number): number => Math.floor(between(lo, hi));
  const normal = (): number => Math.sqrt(-2 * Math.log(1 - rnd())) * Math.cos(2 * Math.PI * rnd());
  const out: SyntheticPicture[] = [];
  for (let i = 0; i < count; i++) {
    const height = int(160, 640);
    const width = int(160, 640);
    const img = new Float32Array(width * height * 3);
    for (let c = 0; c < 3; c++) {
      for (let wave = 0; wave < 3; wave++) {
        const fx = between(0, 0.15);
        const fy = between(0, 0.15);
        const phase = between(0, 2 * Math.PI);
        const amp = between(20, 50);
        for (let y = 0; y < height; y++) {
          for (let x = 0; x < width; x++) {
            const k = (y * width + x) * 3 + c;
            img[k] = (img[k] as number) + amp * Math.sin(fx * x + fy * y + phase);
          }
        }
      }
    }
    for (let r = int(1, 5); r > 0; r--) {
      const y0 = int(0, height - 8);
      const x0 = int(0, width - 8);
      const y1 = Math.min(height, y0 + int(8, height / 2));
      const x1 = Math.min(width, x0 + int(8, width / 2));
      const colour = [between(-128, 128), between(-128, 128), between(-128, 128)];
      for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) for (let c = 0; c < 3; c++) img[(y * width + x) * 3 + c] = colour[c] as number;
    }
    const sigma = between(2, 30);
    const rgb = new Uint8Array(img.length);
    for (let k = 0; k < img.length; k++) rgb[k] = Math.max(0, Math.min(255, Math.round((img[k] as number) + 128 + sigma * normal())));
    out.push({ name: `synthetic-${String(i).padStart(2, '0')}`, width, height, rgb });
  }
  return out;
}

/**
 * The in-browser import's agreement set, NCHW float32 at 224 x 224: the probe's first `probes`
 * inputs, then the synthetic pictures through the model's preprocessing.
 */
export function agreementInputs(probes: number, spec: PreprocessingSpec): Float32Array {
  const pictures = syntheticPictures();
  const side = spec.centerCrop;
  const plane = 3 * side * side;
  const out = new Float32Array((probes + pictures.length) * plane);
  out.set(probeInput(probes, side, side));
  pictures.forEach((p, i) => out.set(preprocessRgb(p.rgb, p.width, p.height, spec), (probes + i) * plane));
  return out;
}

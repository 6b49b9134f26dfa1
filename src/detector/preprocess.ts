// The model input, computed exactly as the model's manifest says its own code computed it.
// The published model (preset laion-realfake): the decoded RGB pixels -> cv2.resize to 256 x 256
// (INTER_LINEAR) -> albumentations CenterCrop(224) -> albumentations Normalize (ImageNet mean/std).
// The torchvision recipe (Resize on the shorter side with PIL's bilinear, CenterCrop, ToTensor,
// Normalize) stays for other models. Bit-for-bit where possible, so the browser's scores match the
// reference pipeline's (tools/realfake_ref/pipeline.py, test/parity/).

import type { PreprocessingLibrary, PreprocessingSpec, ResizeSpec } from './manifest';
import { resizeOpenCvLinear, resizeOpenCvLinearRows } from './opencv-resize';
import { resizeBilinear } from './pil-resize';
import type { Pixels } from './pixels';

/** Python's round(): halves go to the even neighbour (JS Math.round sends them up). */
export function roundHalfEven(x: number): number {
  const f = Math.floor(x);
  const diff = x - f;
  if (diff < 0.5) return f;
  if (diff > 0.5) return f + 1;
  return f % 2 === 0 ? f : f + 1;
}

/** torchvision's _compute_resized_output_size (no max_size), or (size, size); returns [width, height]. */
export function resizedSize(width: number, height: number, resize: ResizeSpec): [number, number] {
  if (resize.mode === 'square') return [resize.size, resize.size];
  const short = Math.min(width, height);
  const long = Math.max(width, height);
  // int(size * long / short): float division, then truncation, as in Python.
  const newLong = Math.trunc((resize.size * long) / short);
  return width <= height ? [resize.size, newLong] : [newLong, resize.size];
}

/**
 * Where CenterCrop(crop) starts reading, per axis. torchvision: int(round((size - crop) / 2)), or,
 * when the image is smaller than the crop, minus the zero padding it adds before it
 * ((crop - size) // 2). albumentations: (size - crop) // 2 (it refuses smaller images; the
 * manifest guarantees resize >= crop).
 */
export function centerCropOffset(size: number, crop: number, library: PreprocessingLibrary = 'torchvision'): number {
  if (library === 'albumentations') return Math.floor((size - crop) / 2);
  if (size < crop) return -Math.floor((crop - size) / 2);
  return roundHalfEven((size - crop) / 2);
}

export function centerCropOffsets(
  width: number,
  height: number,
  crop: number,
  library: PreprocessingLibrary = 'torchvision',
): { left: number; top: number } {
  return { left: centerCropOffset(width, crop, library), top: centerCropOffset(height, crop, library) };
}

/** RGBA -> RGB: alpha is dropped, not composited over anything (PIL's convert('RGB'), the published RGBAtoRGB). */
export function rgbaToRgb(rgba: Pixels, width: number, height: number): Uint8Array {
  const n = width * height;
  if (rgba.length !== n * 4) throw new RangeError(`rgbaToRgb: expected ${n * 4} bytes, got ${rgba.length}`);
  const rgb = new Uint8Array(n * 3);
  for (let i = 0, j = 0; i < n * 4; i += 4, j += 3) {
    rgb[j] = rgba[i] ?? 0;
    rgb[j + 1] = rgba[i + 1] ?? 0;
    rgb[j + 2] = rgba[i + 2] ?? 0;
  }
  return rgb;
}

/** CenterCrop on interleaved RGB; pixels outside the image (torchvision's padding) are 0. */
export function centerCrop(
  rgb: Pixels,
  width: number,
  height: number,
  crop: number,
  library: PreprocessingLibrary = 'torchvision',
): Uint8Array {
  const { left, top } = centerCropOffsets(width, height, crop, library);
  const out = new Uint8Array(crop * crop * 3);
  for (let y = 0; y < crop; y++) {
    const sy = y + top;
    if (sy < 0 || sy >= height) continue;
    for (let x = 0; x < crop; x++) {
      const sx = x + left;
      if (sx < 0 || sx >= width) continue;
      const s = (sy * width + sx) * 3;
      const d = (y * crop + x) * 3;
      out[d] = rgb[s] ?? 0;
      out[d + 1] = rgb[s + 1] ?? 0;
      out[d + 2] = rgb[s + 2] ?? 0;
    }
  }
  return out;
}

/** ToTensor's byte -> float32 (v / 255, divided in float32 like torch). */
export function toUnit(v: number): number {
  return Math.fround(v / 255);
}

/**
 * 256-entry table per channel, every step rounded to float32 (a double op on float32 inputs rounds
 * to the same float32 as the float32 op). torchvision: Normalize((x / 255 - mean) / std), as torch
 * does with float32 tensors. albumentations: mean and std are float32 arrays scaled by 255 in
 * float32, the reciprocal of std taken in float32, then (x - mean) * reciprocal.
 */
function normalizeTable(mean: number, std: number, library: PreprocessingLibrary): Float32Array {
  const table = new Float32Array(256);
  if (library === 'albumentations') {
    const m = Math.fround(Math.fround(mean) * 255);
    const r = Math.fround(1 / Math.fround(Math.fround(std) * 255));
    for (let v = 0; v < 256; v++) table[v] = Math.fround(Math.fround(v - m) * r);
    return table;
  }
  const m = Math.fround(mean);
  const s = Math.fround(std);
  for (let v = 0; v < 256; v++) table[v] = Math.fround(Math.fround(toUnit(v) - m) / s);
  return table;
}

type Normalization = { mean: readonly number[]; std: readonly number[]; library?: PreprocessingLibrary };

/** Interleaved RGB crop -> planar CHW float32; with `norm`, normalised, else ToTensor's 0..1. */
export function toChw(rgb: Pixels, size: number, norm?: Normalization): Float32Array {
  const plane = size * size;
  const out = new Float32Array(3 * plane);
  for (let c = 0; c < 3; c++) {
    const table = norm
      ? normalizeTable(norm.mean[c] ?? 0, norm.std[c] ?? 1, norm.library ?? 'torchvision')
      : Float32Array.from({ length: 256 }, (_, v) => toUnit(v));
    for (let i = 0; i < plane; i++) out[c * plane + i] = table[rgb[i * 3 + c] ?? 0] ?? 0;
  }
  return out;
}

/** The manifest's resampler on interleaved RGB. */
export function resizeRgb(rgb: Pixels, width: number, height: number, resize: ResizeSpec): { pixels: Uint8Array; width: number; height: number } {
  const [rw, rh] = resizedSize(width, height, resize);
  const resample = resize.interpolation === 'opencv-linear' ? resizeOpenCvLinear : resizeBilinear;
  return { pixels: resample(rgb, width, height, 3, rw, rh), width: rw, height: rh };
}

/** Resize + CenterCrop of RGB pixels: the crop x crop x 3 bytes the model sees. */
export function resizeAndCrop(rgb: Pixels, width: number, height: number, spec: PreprocessingSpec): Uint8Array {
  const resized = resizeRgb(rgb, width, height, spec.resize);
  return centerCrop(resized.pixels, resized.width, resized.height, spec.centerCrop, spec.library);
}

/** The model input (CHW float32, 3 x crop x crop) from interleaved RGB bytes. */
export function preprocessRgb(rgb: Pixels, width: number, height: number, spec: PreprocessingSpec): Float32Array {
  return toChw(resizeAndCrop(rgb, width, height, spec), spec.centerCrop, spec);
}

/** A decoded picture: straight RGBA, whole or a row at a time (row y: width x 4 bytes). */
export interface RgbaImage {
  width: number;
  height: number;
  readonly rgba: Pixels;
  row(y: number): Pixels;
}

/** The model input (CHW float32, 3 x crop x crop) from a decoded picture. */
export function preprocessImage(image: RgbaImage, spec: PreprocessingSpec): Float32Array {
  const { width, height } = image;
  if (spec.resize.interpolation === 'opencv-linear') {
    // The OpenCV resize treats each channel on its own and reads only the source rows it samples:
    // resizing RGBA and dropping alpha afterwards gives the same bytes as dropping it first, without
    // a pass over every pixel of a large picture (nor, from JPEG planes, making every row).
    const [rw, rh] = resizedSize(width, height, spec.resize);
    const resized = rgbaToRgb(resizeOpenCvLinearRows((y) => image.row(y), width, height, 4, rw, rh), rw, rh);
    return toChw(centerCrop(resized, rw, rh, spec.centerCrop, spec.library), spec.centerCrop, spec);
  }
  return preprocessRgb(rgbaToRgb(image.rgba, width, height), width, height, spec);
}

/** The model input (CHW float32, 3 x crop x crop) from straight RGBA bytes. */
export function preprocess(rgba: Pixels, width: number, height: number, spec: PreprocessingSpec): Float32Array {
  if (rgba.length !== width * height * 4) throw new RangeError(`preprocess: expected ${width * height * 4} bytes, got ${rgba.length}`);
  const rowLen = width * 4;
  return preprocessImage({ width, height, rgba, row: (y) => rgba.subarray(y * rowLen, (y + 1) * rowLen) }, spec);
}

/** Several RGBA images -> one NCHW batch tensor. */
export function preprocessBatch(
  images: readonly { rgba: Pixels; width: number; height: number }[],
  spec: PreprocessingSpec,
): Float32Array {
  const per = 3 * spec.centerCrop * spec.centerCrop;
  const out = new Float32Array(images.length * per);
  images.forEach((im, i) => out.set(preprocess(im.rgba, im.width, im.height, spec), i * per));
  return out;
}

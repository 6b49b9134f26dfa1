// A bit-exact port of Pillow's 8-bit resampling with the BILINEAR filter (libImaging/Resample.c,
// as in Pillow 9.4, Debian's): the model was trained on PIL resizes, and a different resampler
// (canvas drawImage, WebGL) shifts every pixel a little. Verified against PIL in test/parity/.

import type { Pixels, ResizeArgs } from './pixels';

/** Pillow's fixed-point precision for 8-bit images: 32 - 8 - 2 bits. */
const PRECISION_BITS = 22;
const ONE = 1 << PRECISION_BITS;
const HALF = 1 << (PRECISION_BITS - 1);
const BILINEAR_SUPPORT = 1;

function bilinearFilter(x: number): number {
  const a = x < 0 ? -x : x;
  return a < 1 ? 1 - a : 0;
}

/** Per output pixel: the first input index, how many inputs it reads, and their fixed-point weights. */
export interface ResampleCoeffs {
  /** Coefficients per output pixel (the stride of `weights`). */
  ksize: number;
  /** [xmin, count] for each output pixel. */
  bounds: Int32Array;
  /** ksize fixed-point weights per output pixel (unused slots are 0). */
  weights: Int32Array;
}

/** Pillow's precompute_coeffs() followed by normalize_coeffs_8bpc(), for the box [0, inSize). */
export function precomputeCoeffs(inSize: number, outSize: number): ResampleCoeffs {
  const scale = inSize / outSize;
  // Downscaling widens the filter (antialiasing); upscaling keeps it at its own support.
  const filterscale = scale < 1 ? 1 : scale;
  const support = BILINEAR_SUPPORT * filterscale;
  const ksize = Math.ceil(support) * 2 + 1;
  const bounds = new Int32Array(outSize * 2);
  const weights = new Int32Array(outSize * ksize);
  const k = new Float64Array(ksize);
  const ss = 1 / filterscale;
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    // C casts to int: truncation toward zero, then clamping.
    const xmin = Math.max(0, Math.trunc(center - support + 0.5));
    const count = Math.min(inSize, Math.trunc(center + support + 0.5)) - xmin;
    let ww = 0;
    for (let x = 0; x < count; x++) {
      const w = bilinearFilter((x + xmin - center + 0.5) * ss);
      k[x] = w;
      ww += w;
    }
    for (let x = 0; x < count; x++) {
      const w = ww !== 0 ? (k[x] ?? 0) / ww : (k[x] ?? 0);
      // (int)(±0.5 + w * 2^22): round half away from zero, as normalize_coeffs_8bpc does.
      weights[xx * ksize + x] = w < 0 ? Math.trunc(-0.5 + w * ONE) : Math.trunc(0.5 + w * ONE);
    }
    bounds[xx * 2] = xmin;
    bounds[xx * 2 + 1] = count;
  }
  return { ksize, bounds, weights };
}

/** clip8(): fixed-point sum back to a byte (arithmetic shift, then clamp). Sums stay within int32. */
function clip8(acc: number): number {
  const v = acc >> PRECISION_BITS;
  return v < 0 ? 0 : v > 255 ? 255 : v;
}


// The inner loops are written once per channel count (1 or 3; PIL's L and RGB) so that each
// input byte and weight is read once: about 3x faster than a loop over channels, same sums.

function resampleHorizontal(src: Pixels, width: number, height: number, channels: number, outWidth: number): Uint8Array {
  const { ksize, bounds, weights } = precomputeCoeffs(width, outWidth);
  const out = new Uint8Array(outWidth * height * channels);
  let o = 0;
  for (let y = 0; y < height; y++) {
    const row = y * width * channels;
    for (let xx = 0; xx < outWidth; xx++) {
      const xmin = bounds[xx * 2] as number;
      const count = bounds[xx * 2 + 1] as number;
      const kOff = xx * ksize;
      if (channels === 3) {
        let a0 = HALF;
        let a1 = HALF;
        let a2 = HALF;
        let i = row + xmin * 3;
        for (let x = 0; x < count; x++, i += 3) {
          const w = weights[kOff + x] as number;
          a0 = (a0 + (src[i] as number) * w) | 0;
          a1 = (a1 + (src[i + 1] as number) * w) | 0;
          a2 = (a2 + (src[i + 2] as number) * w) | 0;
        }
        out[o++] = clip8(a0);
        out[o++] = clip8(a1);
        out[o++] = clip8(a2);
      } else {
        for (let c = 0; c < channels; c++) {
          let acc = HALF;
          for (let x = 0; x < count; x++) acc = (acc + (src[row + (xmin + x) * channels + c] as number) * (weights[kOff + x] as number)) | 0;
          out[o++] = clip8(acc);
        }
      }
    }
  }
  return out;
}

function resampleVertical(src: Pixels, width: number, height: number, channels: number, outHeight: number): Uint8Array {
  const { ksize, bounds, weights } = precomputeCoeffs(height, outHeight);
  const rowLen = width * channels;
  const out = new Uint8Array(rowLen * outHeight);
  // One output row at a time, accumulated row by row of input: memory is read in order.
  const acc = new Int32Array(rowLen);
  for (let yy = 0; yy < outHeight; yy++) {
    const ymin = bounds[yy * 2] as number;
    const count = bounds[yy * 2 + 1] as number;
    const kOff = yy * ksize;
    acc.fill(HALF);
    for (let y = 0; y < count; y++) {
      const w = weights[kOff + y] as number;
      const base = (ymin + y) * rowLen;
      for (let i = 0; i < rowLen; i++) acc[i] = ((acc[i] as number) + (src[base + i] as number) * w) | 0;
    }
    const o = yy * rowLen;
    for (let i = 0; i < rowLen; i++) out[o + i] = clip8(acc[i] as number);
  }
  return out;
}

/**
 * Image.resize((outWidth, outHeight), Image.BILINEAR) for interleaved 8-bit pixels with
 * `channels` bands (PIL modes L and RGB; not RGBA, which PIL premultiplies first).
 * Horizontal pass first, each pass only when that dimension changes; bytes in between.
 */
export function resizeBilinear(...[src, width, height, channels, outWidth, outHeight]: ResizeArgs<Pixels>): Uint8Array {
  if (src.length !== width * height * channels) {
    throw new RangeError(`resizeBilinear: expected ${width * height * channels} bytes, got ${src.length}`);
  }
  if (!(outWidth >= 1 && outHeight >= 1 && Number.isInteger(outWidth) && Number.isInteger(outHeight))) {
    throw new RangeError(`resizeBilinear: bad output size ${outWidth}x${outHeight}`);
  }
  let pixels: Pixels = src;
  if (outWidth !== width) pixels = resampleHorizontal(pixels, width, height, channels, outWidth);
  if (outHeight !== height) pixels = resampleVertical(pixels, outWidth, height, channels, outHeight);
  // Same size: PIL returns a copy.
  return pixels === src ? Uint8Array.from(src) : (pixels as Uint8Array);
}

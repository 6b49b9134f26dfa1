// A bit-exact port of OpenCV's cv2.resize(img, (w, h), interpolation=cv2.INTER_LINEAR) for 8-bit
// images (OpenCV 4.6, Debian's python3-opencv; modules/imgproc/src/resize.cpp: cv::resize,
// cv::hal::resize, resizeGeneric_ with HResizeLinear<uchar, int, short, 2048> and the uchar
// VResizeLinear specialisation, resizeAreaFast_ for an exact 2x shrink). The published model was
// evaluated after albumentations' Resize, which is this call; it is not PIL's resize (no
// antialiasing: a shrink samples 2 source pixels per axis, whatever the ratio), so it lives apart
// from the PIL port in pil-resize.ts. Verified against cv2 in test/parity/opencv-resize.test.ts.

import type { Pixels, ResizeArgs } from './pixels';

/** Source row y of a picture, `width x channels` bytes; the caller may keep it. */
export type RowReader = (y: number) => Pixels;

/** INTER_RESIZE_COEF_BITS: interpolation weights are 11-bit fixed point. */
const COEF_BITS = 11;
const COEF_SCALE = 1 << COEF_BITS;
const DBL_EPSILON = 2 ** -52;

/** cvRound: round half to even (lrint under the default rounding mode). */
function cvRound(x: number): number {
  const f = Math.floor(x);
  const diff = x - f;
  if (diff < 0.5) return f;
  if (diff > 0.5) return f + 1;
  return f % 2 === 0 ? f : f + 1;
}

/** saturate_cast<short>(float). */
function saturateShort(x: number): number {
  const r = cvRound(x);
  return r < -32768 ? -32768 : r > 32767 ? 32767 : r;
}

/** saturate_cast<int>(double), for the integer-scale test. */
function saturateInt(x: number): number {
  const r = cvRound(x);
  return r < -2147483648 ? -2147483648 : r > 2147483647 ? 2147483647 : r;
}

/** One axis of the linear resize: per output index, the first source index and the two weights. */
interface AxisTable {
  /** Source index of the first tap (the second one is index + 1). */
  index: Int32Array;
  /** Weight of the first tap, 0..2048. */
  w0: Int32Array;
  /** Weight of the second tap. */
  w1: Int32Array;
  /**
   * First output index whose second tap would fall past the source (xmax): from there on the
   * horizontal pass copies S[index] * 2048 instead of interpolating. Only meaningful for x.
   */
  limit: number;
}

/**
 * The coordinate loop of cv::hal::resize for INTER_LINEAR: the centre mapping computed in double,
 * then kept as a float (fx, fy are `float` there), floored, and its fraction turned into 11-bit
 * weights. `clampEdges` is the x axis' treatment (sx < 0 and sx >= size - 1 become that edge with
 * fx = 0); y keeps sy and fy as they are, and the rows are clamped when they are read.
 */
function axisTable(inSize: number, outSize: number, scale: number, clampEdges: boolean): AxisTable {
  const index = new Int32Array(outSize);
  const w0 = new Int32Array(outSize);
  const w1 = new Int32Array(outSize);
  let limit = outSize;
  for (let d = 0; d < outSize; d++) {
    let f = Math.fround((d + 0.5) * scale - 0.5);
    let s = Math.floor(f);
    f = Math.fround(f - s);
    if (clampEdges) {
      if (s < 0) {
        f = 0;
        s = 0;
      }
      if (s + 1 >= inSize) {
        limit = Math.min(limit, d);
        if (s >= inSize - 1) {
          f = 0;
          s = inSize - 1;
        }
      }
    }
    index[d] = s;
    // cbuf[0] = 1.f - fx; cbuf[1] = fx; then saturate_cast<short>(cbuf[k] * 2048), in float.
    w0[d] = saturateShort(Math.fround(1 - f) * COEF_SCALE);
    w1[d] = saturateShort(f * COEF_SCALE);
  }
  return { index, w0, w1, limit };
}

/** Per output element (pixel x channel) of a row: source element offsets and weights. */
interface RowTable {
  offset: Int32Array;
  w0: Int32Array;
  w1: Int32Array;
  /** Elements before this one interpolate; from it on they are S[offset] * 2048. */
  limit: number;
}

function rowTable(width: number, outWidth: number, channels: number, scale: number): RowTable {
  const t = axisTable(width, outWidth, scale, true);
  const n = outWidth * channels;
  const offset = new Int32Array(n);
  const w0 = new Int32Array(n);
  const w1 = new Int32Array(n);
  for (let d = 0, e = 0; d < outWidth; d++) {
    for (let c = 0; c < channels; c++, e++) {
      offset[e] = (t.index[d] as number) * channels + c;
      w0[e] = t.w0[d] as number;
      w1[e] = t.w1[d] as number;
    }
  }
  return { offset, w0, w1, limit: t.limit * channels };
}

/** HResizeLinear<uchar, int, short, 2048>: one source row into 2048-scaled ints. */
function horizontalPass(src: Pixels, rowStart: number, channels: number, table: RowTable, out: Int32Array): void {
  const { offset, w0, w1, limit } = table;
  const n = out.length;
  for (let e = 0; e < limit; e++) {
    const i = rowStart + (offset[e] as number);
    out[e] = (src[i] as number) * (w0[e] as number) + (src[i + channels] as number) * (w1[e] as number);
  }
  for (let e = limit; e < n; e++) out[e] = (src[rowStart + (offset[e] as number)] as number) * COEF_SCALE;
}

/** cv::resize's INTER_LINEAR path for 8 bits (resizeGeneric_ with 2 taps per axis). */
function resizeLinear(
  row: RowReader,
  width: number,
  height: number,
  channels: number,
  outWidth: number,
  outHeight: number,
  scaleX: number,
  scaleY: number,
): Uint8Array {
  const xTable = rowTable(width, outWidth, channels, scaleX);
  const y = axisTable(height, outHeight, scaleY, false);
  const rowLen = outWidth * channels;
  const out = new Uint8Array(rowLen * outHeight);

  // Two horizontally resized rows, reused while consecutive output rows read the same source rows.
  const bufs = [new Int32Array(rowLen), new Int32Array(rowLen)];
  const held = [-1, -1];
  const rowFor = (sy: number, keep: number): Int32Array => {
    for (let b = 0; b < 2; b++) if (held[b] === sy) return bufs[b] as Int32Array;
    const b = held[0] === keep ? 1 : 0;
    horizontalPass(row(sy), 0, channels, xTable, bufs[b] as Int32Array);
    held[b] = sy;
    return bufs[b] as Int32Array;
  };
  // clip(): rows above or below the source read its first or last row.
  const clampRow = (r: number): number => (r < 0 ? 0 : r >= height ? height - 1 : r);

  for (let dy = 0; dy < outHeight; dy++) {
    const sy = y.index[dy] as number;
    const r0 = clampRow(sy);
    const r1 = clampRow(sy + 1);
    const s0 = rowFor(r0, r1);
    const s1 = rowFor(r1, r0);
    const b0 = y.w0[dy] as number;
    const b1 = y.w1[dy] as number;
    const o = dy * rowLen;
    // VResizeLinear<uchar, int, short, ...>: each product is scaled down on its own (>> 4, >> 16)
    // before the sum is rounded (+ 2 >> 2), as the SIMD code does; uchar() keeps the low byte.
    for (let x = 0; x < rowLen; x++) {
      out[o + x] = (((b0 * ((s0[x] as number) >> 4)) >> 16) + ((b1 * ((s1[x] as number) >> 4)) >> 16) + 2) >> 2;
    }
  }
  return out;
}

/**
 * resizeAreaFast_ for a 2x2 shrink (channels 1, 3, 4): the rounded mean of each 2x2 block. cv::hal::resize
 * switches INTER_LINEAR to it when both scales are exactly 2; at that scale every weight is 1024 and
 * the linear path's shifts give these same bytes, so this is OpenCV's shortcut, not a different result.
 */
function resizeHalf(row: RowReader, channels: number, outWidth: number, outHeight: number): Uint8Array {
  const rowLen = outWidth * channels;
  const out = new Uint8Array(rowLen * outHeight);
  for (let dy = 0; dy < outHeight; dy++) {
    const r0 = row(2 * dy);
    const r1 = row(2 * dy + 1);
    const o = dy * rowLen;
    for (let dx = 0; dx < outWidth; dx++) {
      const i = 2 * dx * channels;
      for (let c = 0; c < channels; c++) {
        const a = i + c;
        const b = a + channels;
        out[o + dx * channels + c] = ((r0[a] as number) + (r0[b] as number) + (r1[a] as number) + (r1[b] as number) + 2) >> 2;
      }
    }
  }
  return out;
}

function checkSizes(width: number, height: number, channels: number, outWidth: number, outHeight: number): void {
  if (!(channels === 1 || channels === 3 || channels === 4)) {
    throw new RangeError(`resizeOpenCvLinear: ${channels} channels (only 1, 3 or 4)`);
  }
  for (const [what, v] of [
    ['width', width],
    ['height', height],
    ['output width', outWidth],
    ['output height', outHeight],
  ] as const) {
    if (!(Number.isInteger(v) && v >= 1)) throw new RangeError(`resizeOpenCvLinear: bad ${what} ${v}`);
  }
}

/**
 * cv2.resize(img, (outWidth, outHeight), interpolation=cv2.INTER_LINEAR) for interleaved 8-bit
 * pixels with 1, 3 or 4 channels: the same bytes as OpenCV 4.6 on x86.
 */
export function resizeOpenCvLinear(...[src, width, height, channels, outWidth, outHeight]: ResizeArgs<Pixels>): Uint8Array {
  checkSizes(width, height, channels, outWidth, outHeight);
  if (src.length !== width * height * channels) {
    throw new RangeError(`resizeOpenCvLinear: expected ${width * height * channels} bytes, got ${src.length}`);
  }
  // cv::resize: same size is a plain copy.
  if (outWidth === width && outHeight === height) return Uint8Array.from(src);
  const rowLen = width * channels;
  return resizeOpenCvLinearRows((y) => src.subarray(y * rowLen, (y + 1) * rowLen), width, height, channels, outWidth, outHeight);
}

/**
 * resizeOpenCvLinear for a picture read a row at a time: `row(y)` gives source row y (width x
 * channels bytes). Only the rows the resize samples are asked for (2 per output row when shrinking),
 * so a source that makes its rows on demand (e.g. a JPEG's YCbCr planes) makes only those.
 */
export function resizeOpenCvLinearRows(...[row, width, height, channels, outWidth, outHeight]: ResizeArgs<RowReader>): Uint8Array {
  checkSizes(width, height, channels, outWidth, outHeight);
  // One unchanged axis has no shortcut: it goes through the linear path with weights (2048, 0),
  // which gives its pixels back unchanged.

  // inv_scale = dsize / ssize, then scale = 1 / inv_scale (not ssize / dsize: the last bit can differ,
  // though no size up to 4100 -> 700 was found where that survives the cast of fx to float).
  const scaleX = 1 / (outWidth / width);
  const scaleY = 1 / (outHeight / height);
  const iscaleX = saturateInt(scaleX);
  const iscaleY = saturateInt(scaleY);
  const areaFast = Math.abs(scaleX - iscaleX) < DBL_EPSILON && Math.abs(scaleY - iscaleY) < DBL_EPSILON;
  if (areaFast && iscaleX === 2 && iscaleY === 2) return resizeHalf(row, channels, outWidth, outHeight);
  return resizeLinear(row, width, height, channels, outWidth, outHeight, scaleX, scaleY);
}

// A JPEG's decoded Y, Cb and Cr planes (as libjpeg-turbo's IDCT leaves them, e.g. the I420/I422/I444
// VideoFrame WebCodecs' ImageDecoder gives for a JPEG in Chromium) turned into RGB exactly as
// libjpeg-turbo does it when asked for RGB with its defaults, which is how PIL decodes a JPEG:
// "fancy" upsampling of the chroma planes (jdsample.c: h2v1_fancy_upsample, h2v2_fancy_upsample,
// with their alternating rounding biases and edge replication; plain replication when a chroma row
// is 2 samples or less), then YCbCr -> RGB with 16-bit fixed-point tables (jdcolor.c:
// build_ycc_rgb_table, ycc_rgb_convert) and clamping to 0..255.
// Checked against PIL's own decode in real Chromium: test/parity/decode-cases.test.ts.

/** Chroma subsampling of the planes: 4:2:0, 4:2:2 (horizontal only) or none. */
export type YccSubsampling = 'I420' | 'I422' | 'I444';

export interface YccPlanes {
  width: number;
  height: number;
  subsampling: YccSubsampling;
  /** All three planes, one after another as `layout` says. */
  data: Uint8Array;
  /** Offset and row stride of Y, Cb (U) and Cr (V) in `data`. */
  layout: ReadonlyArray<{ offset: number; stride: number }>;
}

const SCALEBITS = 16;
const ONE_HALF = 1 << (SCALEBITS - 1);
const fix = (x: number): number => Math.trunc(x * (1 << SCALEBITS) + 0.5);

interface YccTables {
  crR: Int32Array;
  cbB: Int32Array;
  /** Cb's and Cr's share of G, still scaled by 2^16 (ONE_HALF is in cbG). */
  crG: Int32Array;
  cbG: Int32Array;
}

let tables: YccTables | null = null;

function yccTables(): YccTables {
  if (tables) return tables;
  const crR = new Int32Array(256);
  const cbB = new Int32Array(256);
  const crG = new Int32Array(256);
  const cbG = new Int32Array(256);
  for (let i = 0; i < 256; i++) {
    const x = i - 128;
    crR[i] = (fix(1.402) * x + ONE_HALF) >> SCALEBITS;
    cbB[i] = (fix(1.772) * x + ONE_HALF) >> SCALEBITS;
    crG[i] = -fix(0.71414) * x;
    cbG[i] = -fix(0.34414) * x + ONE_HALF;
  }
  tables = { crR, cbB, crG, cbG };
  return tables;
}

/** The chroma planes' size for an image of `width` x `height` (libjpeg's downsampled_width/height). */
export function chromaSize(width: number, height: number, subsampling: YccSubsampling): { width: number; height: number } {
  if (subsampling === 'I444') return { width, height };
  return { width: Math.ceil(width / 2), height: subsampling === 'I420' ? Math.ceil(height / 2) : height };
}

/**
 * One upsampled chroma row (`width` samples) from the chroma plane at `plane` (row stride
 * `stride`, `cw` x `ch` samples), for image row `y`.
 */
function upsampleRow(
  src: Uint8Array,
  plane: number,
  stride: number,
  cw: number,
  ch: number,
  subsampling: YccSubsampling,
  y: number,
  width: number,
  colsum: Int32Array,
  out: Uint8Array,
): void {
  const vertical = subsampling === 'I420';
  const cy = vertical ? y >> 1 : y;
  const near = plane + cy * stride;
  if (subsampling === 'I444') {
    out.set(src.subarray(near, near + width));
    return;
  }
  if (cw <= 2) {
    // No fancy upsampling for rows this short (jinit_upsampler): each sample covers 2 x (1 or 2) pixels.
    for (let x = 0; x < width; x++) out[x] = src[near + (x >> 1)] as number;
    return;
  }
  if (!vertical) {
    // h2v1_fancy_upsample: 3/4 nearer + 1/4 further; biases 1 (even pixel) and 2 (odd pixel).
    for (let i = 0; i < cw; i++) {
      const v = (src[near + i] as number) * 3;
      const left = src[near + (i > 0 ? i - 1 : 0)] as number;
      const right = src[near + (i < cw - 1 ? i + 1 : i)] as number;
      out[2 * i] = (v + left + 1) >> 2;
      if (2 * i + 1 < width) out[2 * i + 1] = (v + right + 2) >> 2;
    }
    return;
  }
  // h2v2_fancy_upsample: the row above (even pixel rows) or below (odd ones) is the further one,
  // the first/last row standing in for the missing one (jdmainct.c's context rows).
  const fy = y & 1 ? Math.min(cy + 1, ch - 1) : Math.max(cy - 1, 0);
  const far = plane + fy * stride;
  for (let i = 0; i < cw; i++) colsum[i] = (src[near + i] as number) * 3 + (src[far + i] as number);
  for (let i = 0; i < cw; i++) {
    const t = (colsum[i] as number) * 3;
    const last = colsum[i > 0 ? i - 1 : 0] as number;
    const next = colsum[i < cw - 1 ? i + 1 : i] as number;
    out[2 * i] = (t + last + 8) >> 4;
    if (2 * i + 1 < width) out[2 * i + 1] = (t + next + 7) >> 4;
  }
}

/** Index v + CLAMP_OFFSET -> v clamped to 0..255 (libjpeg's range_limit), for v in -512..767. */
const CLAMP_OFFSET = 512;
let clampTable: Uint8Array | null = null;

function clamp(): Uint8Array {
  if (clampTable) return clampTable;
  clampTable = new Uint8Array(1280);
  for (let i = 0; i < clampTable.length; i++) clampTable[i] = Math.min(255, Math.max(0, i - CLAMP_OFFSET));
  return clampTable;
}

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** Writes image row y as RGBA (alpha 255) into `out` from byte `offset` on. */
export type YccRowWriter = (y: number, out: Uint8Array | Uint8ClampedArray, offset: number) => void;

/** A writer of the picture's rows, each exactly as PIL's decode of the same JPEG gives it. */
export function yccRowWriter(p: YccPlanes): YccRowWriter {
  const { width, height, subsampling, data } = p;
  const [yl, ul, vl] = p.layout;
  if (!yl || !ul || !vl) throw new RangeError('yccRowWriter: three planes expected');
  const c = chromaSize(width, height, subsampling);
  const { crR, cbB, crG, cbG } = yccTables();
  const limit = clamp();
  const cb = new Uint8Array(width + 1);
  const cr = new Uint8Array(width + 1);
  const colsum = new Int32Array(c.width);
  return (y, out, offset) => {
    if (!(y >= 0 && y < height) || offset + width * 4 > out.length) throw new RangeError(`yccRowWriter: row ${y} does not fit`);
    upsampleRow(data, ul.offset, ul.stride, c.width, c.height, subsampling, y, width, colsum, cb);
    upsampleRow(data, vl.offset, vl.stride, c.width, c.height, subsampling, y, width, colsum, cr);
    const row = yl.offset + y * yl.stride;
    // One 32-bit store per pixel where the platform is little-endian (bytes R, G, B, A in order).
    const aligned = LITTLE_ENDIAN && (out.byteOffset + offset) % 4 === 0;
    const words = aligned ? new Uint32Array(out.buffer, out.byteOffset + offset, width) : null;
    for (let x = 0; x < width; x++) {
      const l = (data[row + x] as number) + CLAMP_OFFSET;
      const b = cb[x] as number;
      const r = cr[x] as number;
      const red = limit[l + (crR[r] as number)] as number;
      const green = limit[l + (((cbG[b] as number) + (crG[r] as number)) >> SCALEBITS)] as number;
      const blue = limit[l + (cbB[b] as number)] as number;
      if (words) {
        words[x] = red | (green << 8) | (blue << 16) | 0xff000000;
      } else {
        const o = offset + x * 4;
        out[o] = red;
        out[o + 1] = green;
        out[o + 2] = blue;
        out[o + 3] = 255;
      }
    }
  };
}

/** RGBA (alpha 255), row-major, as PIL's decode of the same JPEG gives RGB. */
export function yccToRgba(p: YccPlanes, out = new Uint8ClampedArray(p.width * p.height * 4)): Uint8ClampedArray {
  if (out.length !== p.width * p.height * 4) throw new RangeError(`yccToRgba: expected ${p.width * p.height * 4} bytes of output, got ${out.length}`);
  const write = yccRowWriter(p);
  for (let y = 0; y < p.height; y++) write(y, out, y * p.width * 4);
  return out;
}

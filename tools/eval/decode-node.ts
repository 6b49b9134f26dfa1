// Image files -> straight RGBA pixels in Node, for `npm run eval`, decoded the way the reference
// pipeline (PIL's Image.open(p).convert('RGB'), tools/realfake_ref/pipeline.py) decodes them.
//
// sharp (libvips with libjpeg-turbo/mozjpeg, libpng, libwebp, cgif) gives the same bytes as
// Debian's Pillow 9.4 on JPEG (baseline, progressive, 4:2:0 and 4:4:4, greyscale), PNG (RGB, RGBA,
// greyscale, grey + alpha, palette with and without tRNS, 1-bit, 16-bit), WebP (lossy and
// lossless) and GIF (first frame; test/parity/decode-cases.test.ts), when
//  - ICC profiles are ignored (PIL applies none; the extension decodes with colorSpaceConversion
//    'none' for the same reason),
//  - CMYK JPEGs are read as CMYK and converted with PIL's own formula instead of a colour profile,
//  - EXIF orientation is NOT applied (sharp rotates only when asked: no autoOrient, no rotate()):
//    PIL's Image.open does not rotate, nor does the extension (src/offscreen/decode.ts sets the
//    Orientation to 1 in a copy before Chromium decodes it). Checked for all 8 values, JPEG and
//    PNG eXIf, in test/parity/eval-decode-orientation.test.ts.
// 16-bit PNG: sharp keeps each level's high byte, as Chromium does; so does the reference (PIL's
// convert('RGB') would clip 16-bit grey to white).

import sharp from 'sharp';
import { sniffImageType, type ImageType } from '../../src/detector/sniff';

export interface DecodedImage {
  width: number;
  height: number;
  /** RGBA, row-major, 4 bytes per pixel, not premultiplied. */
  rgba: Uint8Array;
}

export class DecodeError extends Error {
  override name = 'DecodeError';
}

// PIL refuses images over 2 x Image.MAX_IMAGE_PIXELS (DecompressionBombError); so does eval.
export const MAX_PIXELS = 2 * Math.floor((1024 * 1024 * 1024) / 4 / 3);

// 'error': refuse truncated or broken data (as PIL does) but not libjpeg's warnings, which PIL ignores.
const OPTIONS = { ignoreIcc: true, failOn: 'error', limitInputPixels: MAX_PIXELS } as const;

/** PIL's cmyk2rgb (Convert.c): nk = 255 - k; channel = nk - c * nk / 255, rounded like MULDIV255. */
export function cmykToRgba(cmyk: Uint8Array, pixels: number): Uint8Array {
  const out = new Uint8Array(pixels * 4);
  for (let i = 0; i < pixels; i++) {
    const nk = 255 - (cmyk[i * 4 + 3] ?? 0);
    for (let c = 0; c < 3; c++) {
      const t = (cmyk[i * 4 + c] ?? 0) * nk + 128;
      out[i * 4 + c] = nk - ((t + (t >> 8)) >> 8);
    }
    out[i * 4 + 3] = 255;
  }
  return out;
}

/** 1 (grey), 2 (grey + alpha), 3 (RGB) or 4 (RGBA) interleaved channels -> RGBA. */
export function expandToRgba(data: Uint8Array, pixels: number, channels: number): Uint8Array {
  if (channels === 4) return data;
  if (channels < 1 || channels > 4) throw new DecodeError(`unexpected ${channels}-channel image`);
  const out = new Uint8Array(pixels * 4);
  for (let i = 0; i < pixels; i++) {
    const s = i * channels;
    const d = i * 4;
    const grey = channels <= 2;
    out[d] = data[s] ?? 0;
    out[d + 1] = data[grey ? s : s + 1] ?? 0;
    out[d + 2] = data[grey ? s : s + 2] ?? 0;
    out[d + 3] = channels === 2 ? (data[s + 1] ?? 255) : 255;
  }
  return out;
}

function reason(e: unknown): string {
  const lines = (e instanceof Error ? e.message : String(e)).split('\n').map((l) => l.trim().replace(/^Input (buffer|file) (has|contains) /i, ''));
  const useful = [...new Set(lines.filter((l) => l !== '' && l !== 'Unknown error'))];
  return `corrupt or truncated: ${useful.join('; ') || 'the decoder failed'}`;
}

// The types both sharp and the reference's PIL decode, told by magic bytes as the extension does
// (src/detector/sniff.ts). Anything else (BMP, AVIF, ICO, SVG, TIFF, ...) is skipped: sharp would
// happily rasterise SVG or read TIFF, which PIL or the extension would not score the same way.
const DECODED: ReadonlySet<ImageType> = new Set(['jpeg', 'png', 'gif', 'webp']);

/** Decodes image bytes (the first frame of an animation) to RGBA; DecodeError says why not. */
export async function decodeBytes(bytes: Uint8Array): Promise<DecodedImage> {
  const type = sniffImageType(bytes);
  if (type === null) throw new DecodeError(bytes.length === 0 ? 'empty file' : 'not an image');
  if (!DECODED.has(type)) throw new DecodeError(`${type.toUpperCase()} files are not scored (eval reads JPEG, PNG, GIF and WebP)`);
  try {
    const meta = await sharp(bytes, OPTIONS).metadata();
    const cmyk = meta.space === 'cmyk';
    const pipeline = cmyk ? sharp(bytes, OPTIONS).pipelineColourspace('cmyk').toColourspace('cmyk') : sharp(bytes, OPTIONS);
    const { data, info } = await pipeline.raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
    const pixels = info.width * info.height;
    if (pixels === 0) throw new DecodeError('image has no pixels');
    const bytesOut = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    const rgba = cmyk ? cmykToRgba(bytesOut, pixels) : expandToRgba(bytesOut, pixels, info.channels);
    return { width: info.width, height: info.height, rgba };
  } catch (e) {
    if (e instanceof DecodeError) throw e;
    throw new DecodeError(reason(e));
  }
}

/** A small JPEG of the image for the report (fits in size x size), as a data: URI. */
export async function thumbnailDataUri(bytes: Uint8Array, size = 160): Promise<string> {
  const jpeg = await sharp(bytes, { ...OPTIONS, failOn: 'none' })
    .resize(size, size, { fit: 'inside', withoutEnlargement: true })
    .flatten({ background: '#ffffff' })
    .jpeg({ quality: 80 })
    .toBuffer();
  return `data:image/jpeg;base64,${jpeg.toString('base64')}`;
}

/** Which decoder this is, for the report. */
export function decoderName(): string {
  return `sharp ${sharp.versions.sharp} (libvips ${sharp.versions.vips})`;
}

// Deterministic decoding of image bytes to straight (non-premultiplied) RGBA pixels, as
// close to PIL's decode as the browser allows: no colour-space conversion, no EXIF rotation
// (PIL's Image.open applies neither, and the model was trained on PIL decodes).
// createImageBitmap's imageOrientation 'none' does not stop Chromium from rotating (measured in
// Chromium 156: it behaves like 'from-image'), so the EXIF Orientation of JPEG and PNG files is set
// to 1 in a copy of the bytes before decoding; the caller's bytes (and their SHA-256) are untouched.
// JPEGs go first through WebCodecs' ImageDecoder: Chromium hands over the Y, Cb and Cr planes its
// libjpeg-turbo decoded (baseline, progressive, restart markers; 4:2:0, 4:2:2, 4:4:4), and
// jpeg-ycc.ts finishes them into RGB as libjpeg-turbo does for PIL, several times faster than a
// canvas read-back. Anything it does not hand over as such planes (greyscale, CMYK, 4:4:0, an
// undecodable file, a browser without ImageDecoder) takes the canvas path below.

import { withoutExifOrientation } from '../detector/exif-orientation';
import { yccRowWriter, yccToRgba, type YccPlanes, type YccSubsampling } from '../detector/jpeg-ycc';
import { sniffImageType, type ImageType } from '../detector/sniff';

export interface DecodedImage {
  width: number;
  height: number;
  /**
   * RGBA, row-major, 4 bytes per pixel, not premultiplied. From a JPEG's YCbCr planes it is made on
   * first read (every row), so a reader of a few rows only should use `row`.
   */
  readonly rgba: Uint8ClampedArray;
  /** Row y as RGBA (the caller may keep it): the OpenCV resize reads 2 rows per output row. */
  row(y: number): Uint8Array | Uint8ClampedArray;
  /** The JPEG the YCbCr planes came from (orientation tag patched), for a thumbnail without the full-size RGBA. */
  jpeg?: Blob;
  /**
   * Which way the pixels were read: a JPEG's YCbCr planes from ImageDecoder finished by jpeg-ycc.ts,
   * a 2D canvas, or WebGL (straight alpha).
   */
  via: 'ycbcr-planes' | 'canvas' | 'webgl';
}

export class DecodeError extends Error {
  override name = 'DecodeError';
}

/** A decoded image over pixels already in memory. */
function fromPixels(width: number, height: number, rgba: Uint8ClampedArray, via: DecodedImage['via']): DecodedImage {
  const rowLen = width * 4;
  return { width, height, rgba, via, row: (y) => rgba.subarray(y * rowLen, (y + 1) * rowLen) };
}

/** A decoded image over a JPEG's YCbCr planes: RGB rows are made when asked for. */
function fromPlanes(planes: YccPlanes, jpeg: Blob): DecodedImage {
  const { width, height } = planes;
  const rowLen = width * 4;
  const write = yccRowWriter(planes);
  let all: Uint8ClampedArray | null = null;
  return {
    width,
    height,
    via: 'ycbcr-planes',
    jpeg,
    get rgba(): Uint8ClampedArray {
      all ??= yccToRgba(planes);
      return all;
    },
    row(y: number): Uint8Array | Uint8ClampedArray {
      if (all) return all.subarray(y * rowLen, (y + 1) * rowLen);
      const out = new Uint8ClampedArray(rowLen);
      write(y, out, 0);
      return out;
    },
  };
}

function hasTranslucency(rgba: Uint8ClampedArray): boolean {
  for (let i = 3; i < rgba.length; i += 4) if (rgba[i] !== 255) return true;
  return false;
}

function readWithCanvas(bitmap: ImageBitmap): Uint8ClampedArray {
  const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  if (!ctx) throw new DecodeError('no 2D canvas available');
  ctx.drawImage(bitmap, 0, 0);
  return ctx.getImageData(0, 0, bitmap.width, bitmap.height, { colorSpace: 'srgb' }).data;
}

/**
 * A 2D canvas stores colours premultiplied by alpha, so it loses the colour under
 * transparent pixels, which PIL's convert('RGB') keeps (and so the model saw). A WebGL
 * texture uploaded without premultiplication keeps it. Null when WebGL cannot do it here.
 */
function readStraightAlpha(bitmap: ImageBitmap): Uint8ClampedArray | null {
  const { width, height } = bitmap;
  const gl = new OffscreenCanvas(1, 1).getContext('webgl2');
  if (!gl) return null;
  try {
    const maxSize = gl.getParameter(gl.MAX_TEXTURE_SIZE) as number;
    if (width > maxSize || height > maxSize) return null;
    const texture = gl.createTexture();
    gl.bindTexture(gl.TEXTURE_2D, texture);
    gl.pixelStorei(gl.UNPACK_PREMULTIPLY_ALPHA_WEBGL, false);
    gl.pixelStorei(gl.UNPACK_FLIP_Y_WEBGL, false);
    gl.pixelStorei(gl.UNPACK_COLORSPACE_CONVERSION_WEBGL, gl.NONE);
    gl.texImage2D(gl.TEXTURE_2D, 0, gl.RGBA8, width, height, 0, gl.RGBA, gl.UNSIGNED_BYTE, bitmap);
    const framebuffer = gl.createFramebuffer();
    gl.bindFramebuffer(gl.FRAMEBUFFER, framebuffer);
    gl.framebufferTexture2D(gl.FRAMEBUFFER, gl.COLOR_ATTACHMENT0, gl.TEXTURE_2D, texture, 0);
    if (gl.checkFramebufferStatus(gl.FRAMEBUFFER) !== gl.FRAMEBUFFER_COMPLETE) return null;
    const rgba = new Uint8ClampedArray(width * height * 4);
    // Texture row 0 is the image's top row, and readPixels starts at row 0: no flip needed.
    gl.readPixels(0, 0, width, height, gl.RGBA, gl.UNSIGNED_BYTE, rgba);
    if (gl.getError() !== gl.NO_ERROR) return null;
    gl.deleteFramebuffer(framebuffer);
    gl.deleteTexture(texture);
    return rgba;
  } finally {
    gl.getExtension('WEBGL_lose_context')?.loseContext();
  }
}

/** `bytes`, or a copy whose EXIF orientation says not to rotate. Only JPEG and PNG carry one Chromium applies. */
function withoutOrientation(all: Uint8Array, type: ImageType | null): Uint8Array {
  return type === 'jpeg' || type === 'png' ? withoutExifOrientation(all) : all;
}

const YCC_FORMATS: ReadonlySet<string> = new Set<YccSubsampling>(['I420', 'I422', 'I444']);

/**
 * A JPEG through ImageDecoder, when Chromium hands over its YCbCr planes as JFIF defines them
 * (BT.601 matrix, full range), unrotated and whole. Null when it does not: the caller falls back.
 */
async function decodeJpegPlanes(bytes: Uint8Array): Promise<DecodedImage | null> {
  if (typeof ImageDecoder === 'undefined') return null;
  let decoder: ImageDecoder | null = null;
  let frame: VideoFrame | null = null;
  try {
    decoder = new ImageDecoder({ data: bytes, type: 'image/jpeg', colorSpaceConversion: 'none' });
    frame = (await decoder.decode({ frameIndex: 0, completeFramesOnly: true })).image;
    const rect = frame.visibleRect;
    const { format, colorSpace } = frame;
    // Newer VideoFrames say how to show the picture (EXIF orientation) without applying it.
    const { rotation = 0, flip = false } = frame as VideoFrame & { rotation?: number; flip?: boolean };
    if (
      !rect || rect.x !== 0 || rect.y !== 0 || format === null || !YCC_FORMATS.has(format) ||
      colorSpace.matrix !== 'smpte170m' || colorSpace.fullRange !== true || rotation !== 0 || flip
    ) {
      return null;
    }
    const { width, height } = rect;
    if (width === 0 || height === 0) return null;
    const data = new Uint8Array(frame.allocationSize({ rect }));
    const layout = await frame.copyTo(data, { rect });
    // Chromium's copy of the planes is not needed any more: give its memory back before converting.
    frame.close();
    frame = null;
    return fromPlanes({ width, height, subsampling: format as YccSubsampling, data, layout }, new Blob([bytes as BlobPart], { type: 'image/jpeg' }));
  } catch {
    return null;
  } finally {
    frame?.close();
    decoder?.close();
  }
}

export interface DecodeOptions {
  /** Try the JPEG YCbCr-plane path first (default). False reads through the canvas only, as the bench compares. */
  jpegPlanes?: boolean;
}

export async function decodeImage(bytes: Blob, options: DecodeOptions = {}): Promise<DecodedImage> {
  const all = new Uint8Array(await bytes.arrayBuffer());
  const type = sniffImageType(all.subarray(0, 32));
  const unrotated = withoutOrientation(all, type);
  if (type === 'jpeg' && options.jpegPlanes !== false) {
    const planes = await decodeJpegPlanes(unrotated);
    if (planes) return planes;
  }
  const source = unrotated === all ? bytes : new Blob([unrotated as BlobPart], { type: bytes.type });
  let bitmap: ImageBitmap;
  try {
    bitmap = await createImageBitmap(source, {
      colorSpaceConversion: 'none',
      premultiplyAlpha: 'none',
      imageOrientation: 'none',
    });
  } catch {
    throw new DecodeError('not a decodable image');
  }
  try {
    const { width, height } = bitmap;
    if (width === 0 || height === 0) throw new DecodeError('image has no pixels');
    const rgba = readWithCanvas(bitmap);
    if (!hasTranslucency(rgba)) return fromPixels(width, height, rgba, 'canvas');
    const straight = readStraightAlpha(bitmap);
    return straight ? fromPixels(width, height, straight, 'webgl') : fromPixels(width, height, rgba, 'canvas');
  } finally {
    bitmap.close();
  }
}

// Deterministic decoding of image bytes to straight (non-premultiplied) RGBA pixels, as
// close to PIL's decode as the browser allows: no colour-space conversion, no EXIF rotation
// (PIL's Image.open applies neither, and the model was trained on PIL decodes).
// createImageBitmap's imageOrientation 'none' does not stop Chromium from rotating (measured in
// Chromium 156: it behaves like 'from-image'), so the EXIF Orientation of JPEG and PNG files is set
// to 1 in a copy of the bytes before decoding; the caller's bytes (and their SHA-256) are untouched.

import { withoutExifOrientation } from '../detector/exif-orientation';
import { sniffImageType } from '../detector/sniff';

export interface DecodedImage {
  width: number;
  height: number;
  /** RGBA, row-major, 4 bytes per pixel, not premultiplied. */
  rgba: Uint8ClampedArray;
}

export class DecodeError extends Error {
  override name = 'DecodeError';
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
async function withoutOrientation(bytes: Blob): Promise<Blob> {
  const type = sniffImageType(new Uint8Array(await bytes.slice(0, 32).arrayBuffer()));
  if (type !== 'jpeg' && type !== 'png') return bytes;
  const all = new Uint8Array(await bytes.arrayBuffer());
  const patched = withoutExifOrientation(all);
  return patched === all ? bytes : new Blob([patched as BlobPart], { type: bytes.type });
}

export async function decodeImage(bytes: Blob): Promise<DecodedImage> {
  const source = await withoutOrientation(bytes);
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
    if (!hasTranslucency(rgba)) return { width, height, rgba };
    return { width, height, rgba: readStraightAlpha(bitmap) ?? rgba };
  } finally {
    bitmap.close();
  }
}

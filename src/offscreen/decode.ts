// Deterministic decoding of image bytes to straight (non-premultiplied) RGBA pixels, as
// close to PIL's decode as the browser allows: no colour-space conversion, no EXIF rotation
// (PIL's Image.open applies neither, and the model was trained on PIL decodes).

export interface DecodedImage {
  width: number;
  height: number;
  /** RGBA, row-major, 4 bytes per pixel. */
  rgba: Uint8ClampedArray;
}

export class DecodeError extends Error {
  override name = 'DecodeError';
}

export async function decodeImage(bytes: Blob): Promise<DecodedImage> {
  let bitmap: ImageBitmap;
  try {
    bitmap = await createImageBitmap(bytes, {
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
    const canvas = new OffscreenCanvas(width, height);
    const ctx = canvas.getContext('2d', { willReadFrequently: true });
    if (!ctx) throw new DecodeError('no 2D canvas available');
    ctx.drawImage(bitmap, 0, 0);
    const data = ctx.getImageData(0, 0, width, height, { colorSpace: 'srgb' }).data;
    return { width, height, rgba: data };
  } finally {
    bitmap.close();
  }
}

// The history's picture of a checked image: small, JPEG, made from the pixels already decoded
// (so the popup never fetches anything from the web).

import { MAX_THUMBNAIL_CHARS } from '../shared/protocol/offscreen';
import type { DecodedImage } from './decode';

export const THUMBNAIL_SIDE = 96;

function blobToDataUrl(blob: Blob): Promise<string> {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result));
    reader.onerror = () => reject(reader.error ?? new Error('could not read thumbnail'));
    reader.readAsDataURL(blob);
  });
}

export async function makeThumbnail(image: DecodedImage): Promise<string | null> {
  const scale = Math.min(1, THUMBNAIL_SIDE / Math.max(image.width, image.height));
  const w = Math.max(1, Math.round(image.width * scale));
  const h = Math.max(1, Math.round(image.height * scale));
  const small = new OffscreenCanvas(w, h);
  const smallCtx = small.getContext('2d');
  if (!smallCtx) return null;
  // Transparent areas show on white, as JPEG has no alpha.
  smallCtx.fillStyle = '#fff';
  smallCtx.fillRect(0, 0, w, h);
  smallCtx.imageSmoothingQuality = 'high';
  if (image.jpeg) {
    // Decoded from YCbCr planes: the browser shrinks the JPEG itself, so the full-size RGBA is never made.
    const bitmap = await createImageBitmap(image.jpeg, { resizeWidth: w, resizeHeight: h, resizeQuality: 'high', colorSpaceConversion: 'none' });
    smallCtx.drawImage(bitmap, 0, 0);
    bitmap.close();
  } else {
    const full = new OffscreenCanvas(image.width, image.height);
    const fullCtx = full.getContext('2d');
    if (!fullCtx) return null;
    fullCtx.putImageData(new ImageData(new Uint8ClampedArray(image.rgba), image.width, image.height), 0, 0);
    smallCtx.drawImage(full, 0, 0, w, h);
  }
  const url = await blobToDataUrl(await small.convertToBlob({ type: 'image/jpeg', quality: 0.75 }));
  return url.length <= MAX_THUMBNAIL_CHARS ? url : null;
}

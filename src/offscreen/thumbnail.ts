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

/**
 * The canvas the thumbnail is drawn on and encoded from: a document's own canvas where there is a
 * document (the offscreen document, Firefox's engine frame), whose `toDataURL` encodes at once.
 * Chromium's `OffscreenCanvas.convertToBlob` waits for an idle period, which a document that
 * draws no frames never has: about 1 s per picture (measured 1003-1227 ms for a 96 px JPEG,
 * before the verdict could go out). `OffscreenCanvas` only where there is no document (a worker).
 */
function smallCanvas(w: number, h: number): HTMLCanvasElement | OffscreenCanvas {
  if (typeof document === 'undefined') return new OffscreenCanvas(w, h);
  const canvas = document.createElement('canvas');
  canvas.width = w;
  canvas.height = h;
  return canvas;
}

async function encodeJpeg(canvas: HTMLCanvasElement | OffscreenCanvas): Promise<string> {
  const type = 'image/jpeg';
  const quality = 0.75;
  if (canvas instanceof OffscreenCanvas) return blobToDataUrl(await canvas.convertToBlob({ type, quality }));
  return canvas.toDataURL(type, quality);
}

export async function makeThumbnail(image: DecodedImage): Promise<string | null> {
  const scale = Math.min(1, THUMBNAIL_SIDE / Math.max(image.width, image.height));
  const w = Math.max(1, Math.round(image.width * scale));
  const h = Math.max(1, Math.round(image.height * scale));
  const small = smallCanvas(w, h);
  const smallCtx = small.getContext('2d') as CanvasRenderingContext2D | OffscreenCanvasRenderingContext2D | null;
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
  const url = await encodeJpeg(small);
  return url.length <= MAX_THUMBNAIL_CHARS ? url : null;
}

// A page's own pictures, which the extension cannot fetch by address (blob: URLs, data: URLs too
// long for a message's address) or which the server refused to the extension: the page reads
// their bytes, and the history names them by a short label.

import { MAX_BYTES_URL_LENGTH, MAX_URL_LENGTH } from '../shared/protocol/validate';

/** The most bytes of a page's own picture (blob:, long data:) sent to the engine. */
const MAX_PAGE_BYTES = 20 * 1024 * 1024;

/** Pictures the extension cannot fetch by address: only the page can read them. */
export function needsPageBytes(url: string): boolean {
  return url.startsWith('blob:') || (url.startsWith('data:') && url.length > MAX_URL_LENGTH);
}

/** What the history shows for a picture handed over as bytes. */
function pageBytesLabel(url: string): string {
  if (url.startsWith('blob:')) return url.slice(0, MAX_URL_LENGTH);
  return `${url.slice(0, url.indexOf(',') + 1)}… (${url.length} characters)`;
}

/** The address the background knows a picture by (and the history names): its own, or a label for the page's bytes. */
export function askedAddress(url: string): string {
  return needsPageBytes(url) ? pageBytesLabel(url) : url;
}

/**
 * A picture as a data: URL, read by the page: blob: and data: URLs, and (after the server refused
 * the extension) same-origin or CORS-readable addresses, never with cookies. A cross-origin
 * picture without CORS fails here (the fetch is the page's, under its origin's rules).
 */
export async function readPageBytes(url: string): Promise<string> {
  const response = await fetch(url, { credentials: 'omit', mode: 'cors', cache: 'force-cache' });
  if (!response.ok) throw new Error(`HTTP ${response.status}`);
  const blob = await response.blob();
  if (blob.size > MAX_PAGE_BYTES) throw new Error('too large');
  const type = /^image\/[a-z0-9.+-]{1,40}$/.test(blob.type) ? blob.type : 'image/unknown';
  const dataUrl = await new Promise<string>((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result));
    reader.onerror = () => reject(reader.error ?? new Error('unreadable'));
    reader.readAsDataURL(new Blob([blob], { type }));
  });
  if (dataUrl.length > MAX_BYTES_URL_LENGTH) throw new Error('too large');
  return dataUrl;
}

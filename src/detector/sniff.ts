// Image type from the first bytes of a file. The declared Content-Type is not trusted:
// servers mislabel, and hostile ones lie.

export type ImageType = 'jpeg' | 'png' | 'gif' | 'webp' | 'bmp' | 'avif' | 'ico';

const MIME: Record<ImageType, string> = {
  jpeg: 'image/jpeg',
  png: 'image/png',
  gif: 'image/gif',
  webp: 'image/webp',
  bmp: 'image/bmp',
  avif: 'image/avif',
  ico: 'image/x-icon',
};

export function mimeOf(type: ImageType): string {
  return MIME[type];
}

function startsWith(b: Uint8Array, sig: readonly number[], at = 0): boolean {
  if (b.length < at + sig.length) return false;
  return sig.every((x, i) => b[at + i] === x);
}

function ascii(b: Uint8Array, at: number, len: number): string {
  return String.fromCharCode(...b.subarray(at, at + len));
}

/** The image type the bytes announce, or null if they are not an image we decode. */
export function sniffImageType(b: Uint8Array): ImageType | null {
  if (startsWith(b, [0xff, 0xd8, 0xff])) return 'jpeg';
  if (startsWith(b, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return 'png';
  if (b.length >= 6 && (ascii(b, 0, 6) === 'GIF87a' || ascii(b, 0, 6) === 'GIF89a')) return 'gif';
  if (b.length >= 12 && ascii(b, 0, 4) === 'RIFF' && ascii(b, 8, 4) === 'WEBP') return 'webp';
  if (b.length >= 14 && ascii(b, 0, 2) === 'BM') return 'bmp';
  if (b.length >= 12 && ascii(b, 4, 4) === 'ftyp') {
    const brand = ascii(b, 8, 4);
    if (brand === 'avif' || brand === 'avis') return 'avif';
  }
  if (startsWith(b, [0x00, 0x00, 0x01, 0x00]) && b.length >= 6 && (b[4] ?? 0) + (b[5] ?? 0) > 0) return 'ico';
  return null;
}

/**
 * What bytes that are not a decodable image look like, for a clearer "couldn't check" reason.
 * SVG is refused on purpose: it is a document (it may hold scripts and fetch other files), the
 * model judges photographs, and rasterising it would need its own size rules.
 */
export function describeNotAnImage(b: Uint8Array): string {
  if (b.length === 0) return 'empty response';
  const head = new TextDecoder('utf-8', { fatal: false }).decode(b.subarray(0, 512)).replace(/^\uFEFF/, '').trimStart().toLowerCase();
  if (/^(<\?xml[^>]*>\s*)?(<!--[\s\S]*?-->\s*)*(<!doctype svg[^>]*>\s*)?<svg[\s>]/.test(head)) return 'SVG images are not checked';
  if (/^<(!doctype html|html|head|body|script|!--)/.test(head)) return 'an HTML page, not an image';
  return 'not an image';
}

// What picture an element shows, if any: one small reader per kind of source (img, CSS
// background, video poster, SVG <image>). They only read what the page already computed; no
// reader fetches, decodes or forces layout.

export type SourceKind = 'img' | 'background' | 'poster' | 'svg-image';

export interface Source {
  kind: SourceKind;
  url: string;
  /** The picture's own size, when the element tells it (img); else the engine checks it. */
  natural: { width: number; height: number } | null;
  /**
   * An <img> still loading whose address the cache already judged: its box is laid out and its
   * badge can show, but its own size is not known yet and nothing is asked about it until it loads.
   */
  loading?: true;
}

/** "wait": an <img> still loading (lazy or slow); it is looked at again when it loads. */
export type Reading = Source | null | 'wait';

const SVG_NS = 'http://www.w3.org/2000/svg';

/** Addresses the extension can judge: web images, data: images, and blob: URLs the page made. */
export function judgeableUrl(raw: string): boolean {
  if (!raw) return false;
  // Vector images (icons, logos) are not photographs; the model cannot say anything about them.
  if (/^data:image\/svg\+xml/i.test(raw)) return false;
  if (/^data:image\//i.test(raw) || /^blob:https?:/i.test(raw)) return true;
  if (!/^https?:/i.test(raw)) return false;
  try {
    return !/\.svgz?$/i.test(new URL(raw).pathname);
  } catch {
    return false;
  }
}

function readImg(img: HTMLImageElement): Reading {
  const url = img.currentSrc || img.src;
  if (!url || !judgeableUrl(url)) return null;
  // Lazy images are judged once they load, not before (their currentSrc is not chosen yet).
  if (!img.complete) return 'wait';
  const broken = img.naturalWidth === 0;
  // A broken image still gets a badge: the engine's fetch says why ("HTTP 404").
  return { kind: 'img', url, natural: broken ? null : { width: img.naturalWidth, height: img.naturalHeight } };
}

/**
 * The address an <img> still loading ('wait') is expected to show, as far as the page has said:
 * its chosen source, else its src (a srcset choice may still differ). Only for asking the cache early.
 */
export function expectedUrl(el: Element): string | null {
  if (!(el instanceof HTMLImageElement)) return null;
  const url = el.currentSrc || el.src;
  return url && judgeableUrl(url) ? url : null;
}

function readPoster(video: HTMLVideoElement): Reading {
  const url = video.poster;
  // The poster shows until the video plays its first frame.
  if (!url || !judgeableUrl(url) || (video.readyState >= 2 && !video.paused)) return null;
  return { kind: 'poster', url, natural: null };
}

function readSvgImage(el: SVGImageElement): Reading {
  const href = el.href.baseVal || el.getAttribute('xlink:href') || '';
  if (!href) return null;
  let url: string;
  try {
    url = new URL(href, el.baseURI).href;
  } catch {
    return null;
  }
  return judgeableUrl(url) ? { kind: 'svg-image', url, natural: null } : null;
}

/** The first url() of a computed background-image, unless it looks like a sprite or a tile. */
export function backgroundUrl(style: Pick<CSSStyleDeclaration, 'backgroundImage' | 'backgroundPosition' | 'backgroundRepeat' | 'backgroundSize'>): string | null {
  const image = style.backgroundImage;
  if (!image || image === 'none' || !image.includes('url(')) return null;
  const m = /url\(\s*(?:"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)'|([^)\s]*))\s*\)/.exec(image);
  const url = (m?.[1] ?? m?.[2] ?? m?.[3] ?? '').replace(/\\(.)/g, '$1');
  if (!url) return null;
  // Sprites show a piece of a bigger sheet at a negative offset; patterns repeat a small tile.
  const position = style.backgroundPosition.split(',')[0] ?? '';
  if (/(^|\s)-\d/.test(position.trim())) return null;
  const repeat = (style.backgroundRepeat.split(',')[0] ?? '').trim();
  const size = (style.backgroundSize.split(',')[0] ?? '').trim();
  if ((repeat === 'repeat' || repeat === 'repeat repeat' || repeat === 'space' || repeat === 'round') && size === 'auto') return null;
  return url;
}

function readBackground(el: Element): Reading {
  const url = backgroundUrl(getComputedStyle(el));
  return url && judgeableUrl(url) ? { kind: 'background', url, natural: null } : null;
}

/** The element's picture, if it shows one we could judge. */
export function readSource(el: Element): Reading {
  switch (el.localName) {
    case 'img':
      return el instanceof HTMLImageElement ? readImg(el) : null;
    case 'video':
      return el instanceof HTMLVideoElement ? readPoster(el) : null;
    case 'image':
      return el.namespaceURI === SVG_NS ? readSvgImage(el as SVGImageElement) : null;
    // Elements that never carry a picture of their own worth a background lookup.
    case 'html':
    case 'head':
    case 'script':
    case 'style':
    case 'link':
    case 'meta':
    case 'title':
    case 'source':
    case 'br':
    case 'realfake-lens-overlay':
      return null;
    default:
      return readBackground(el);
  }
}

// "Check image" from the context menu on any picture a person points at, not only on an <img>
// Chrome recognises: the picture under the pointer at the last trusted right-click. It looks
// through transparent overlays (every element under the point, topmost first) and into open
// shadow roots, and reads each element with the scanner's own readers (img, CSS background,
// poster, SVG <image>).

import { judgeableUrl, readSource, type Source } from './sources';

export interface Pointed {
  el: Element;
  source: Source;
}

/** Images this small laid over a picture are spacers (the old "transparent GIF" guard), not it. */
const SPACER_MAX_SIDE = 8;

/** What `el` shows, for a person who pointed at it: like the scan's reading, but of any size. */
function pointedSource(el: Element): Source | null {
  if (el.localName === 'realfake-lens-overlay') return null;
  if (el instanceof HTMLImageElement) {
    const url = el.currentSrc || el.src;
    if (!url || !judgeableUrl(url)) return null;
    const natural = el.naturalWidth > 0 ? { width: el.naturalWidth, height: el.naturalHeight } : null;
    if (natural && Math.min(natural.width, natural.height) <= SPACER_MAX_SIDE) return null;
    return { kind: 'img', url, natural };
  }
  const reading = readSource(el);
  return reading === 'wait' ? null : reading;
}

/** Every element under (x, y), topmost first, with the insides of open shadow roots before their hosts. */
function elementsAt(root: Document | ShadowRoot, x: number, y: number, seen: Set<Element>): Element[] {
  const out: Element[] = [];
  for (const el of root.elementsFromPoint(x, y)) {
    if (seen.has(el)) continue;
    seen.add(el);
    if (el.shadowRoot) out.push(...elementsAt(el.shadowRoot, x, y, seen));
    out.push(el);
  }
  return out;
}

/** The topmost picture under the viewport point (x, y), or under `fallback` (a keyboard-opened menu). */
export function pictureAt(x: number, y: number, fallback: Element | null): Pointed | null {
  const candidates = elementsAt(document, x, y, new Set());
  if (fallback) candidates.push(fallback);
  for (const el of candidates) {
    const source = pointedSource(el);
    if (source) return { el, source };
  }
  return null;
}

/** Remembers what the last trusted right-click pointed at (resolved then, as the page looked then). */
export class PointerWatch {
  private last: { pointed: Pointed | null } | null = null;

  constructor() {
    window.addEventListener(
      'contextmenu',
      (e) => {
        // A page's script can dispatch contextmenu events; only the person's own count.
        if (!e.isTrusted) return;
        const target = e.composedPath()[0];
        this.last = { pointed: pictureAt(e.clientX, e.clientY, target instanceof Element ? target : null) };
      },
      { capture: true },
    );
  }

  /**
   * The picture the menu was opened on. `srcUrl` (the image Chrome itself saw there) wins when
   * the pointed element shows it or when nothing was pointed at; then any element showing it.
   */
  resolve(srcUrl: string | null): Pointed | null {
    const pointed = this.last?.pointed ?? null;
    if (!srcUrl || pointed?.source.url === srcUrl) return pointed;
    for (const img of Array.from(document.images)) {
      if (img.currentSrc === srcUrl || img.src === srcUrl) {
        const source = pointedSource(img);
        if (source) return { el: img, source };
      }
    }
    return pointed;
  }
}

// The overlay: one <realfake-lens-overlay> element on the page's <html>, absolutely positioned
// with zero size (so it moves nothing), whose closed shadow root holds every badge, cover and
// card: the page can neither style nor read them. A page that removes or restyles the element
// gets it back as it was.

import { OVERLAY_CSS } from './overlay-css';
import type { PageWatcher } from './page-watcher';

const HOST_STYLE =
  'position:absolute!important;top:0!important;left:0!important;width:0!important;height:0!important;' +
  'overflow:visible!important;z-index:2147483000!important;pointer-events:none!important;display:block!important;' +
  'margin:0!important;padding:0!important;border:0!important;transform:none!important;opacity:1!important;' +
  'visibility:visible!important;filter:none!important;clip-path:none!important';

export class OverlayHost {
  /** The element on the page (hit testing finds it when a cover is on top). */
  readonly element: HTMLElement;
  private readonly root: ShadowRoot;
  private readonly style: HTMLStyleElement;

  constructor(watcher: PageWatcher, signal: AbortSignal) {
    const host = document.createElement('realfake-lens-overlay');
    host.style.cssText = HOST_STYLE;
    this.element = host;
    this.root = host.attachShadow({ mode: 'closed' });
    this.style = document.createElement('style');
    this.style.textContent = OVERLAY_CSS;
    this.root.append(this.style);
    const html = document.documentElement;
    html.append(host);

    // The guard. What was set is compared with the browser's own serialisation, or restoring it
    // would itself count as a change, forever.
    const hostStyle = host.style.cssText;
    watcher.subscribe(
      {
        attributes: ['style'],
        shadowRoots: false,
        changed: (records) => {
          // <html>'s own children changed, or the element's attributes.
          if (!records.some((r) => (r.type === 'childList' ? r.target === html : r.target === host))) return;
          if (host.getAttribute('style') !== hostStyle) host.setAttribute('style', hostStyle);
          if (!host.isConnected || host.parentNode !== document.documentElement) document.documentElement.append(host);
        },
      },
      signal,
    );
    signal.addEventListener('abort', () => host.remove());
  }

  /** Adds a box drawn above the ones before it. */
  add(el: HTMLElement): void {
    this.root.append(el);
  }

  /** Adds a box first in the layer (covers: the badges and the card come after them). */
  addFirst(el: HTMLElement): void {
    this.root.insertBefore(el, this.style.nextSibling);
  }
}

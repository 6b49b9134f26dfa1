// The overlay: one <realfake-lens-overlay> element on the page's <html>, absolutely positioned
// with zero size (so it moves nothing), whose closed shadow root holds every badge, cover and
// card: the page can neither style nor read them. A page that removes or restyles the element
// gets it back as it was. It goes on the page with its first box, not before: the content script
// starts while the page is still being parsed, and an element put on <html> then would come
// before the page's own <head>.

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
  private attached = false;

  constructor(
    private readonly watcher: PageWatcher,
    private readonly signal: AbortSignal,
  ) {
    const host = document.createElement('realfake-lens-overlay');
    host.style.cssText = HOST_STYLE;
    this.element = host;
    this.root = host.attachShadow({ mode: 'closed' });
    this.style = document.createElement('style');
    this.style.textContent = OVERLAY_CSS;
    this.root.append(this.style);
    signal.addEventListener('abort', () => host.remove());
  }

  /** Puts the element on the page, once, and guards it from then on. */
  private attach(): void {
    if (this.attached || this.signal.aborted) return;
    const html = document.documentElement;
    if (!html) return;
    this.attached = true;
    const { element: host, watcher, signal } = this;
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
  }

  /** Adds a box drawn above the ones before it. */
  add(el: HTMLElement): void {
    this.attach();
    this.root.append(el);
  }

  /** Adds a box first in the layer (covers: the badges and the card come after them). */
  addFirst(el: HTMLElement): void {
    this.attach();
    this.root.insertBefore(el, this.style.nextSibling);
  }
}

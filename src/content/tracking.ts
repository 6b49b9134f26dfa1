// The elements of one document that show a picture, and where each is relative to the viewport:
// one IntersectionObserver says which are in or near it (for asking and drawing) and which are
// visible (for the order of asking); one ResizeObserver says when a box changes size without
// crossing the near margin (an <img> laid out before its height is known, then grown: the
// intersection observer reports it once, 0 px high). Elements that left the document are
// forgotten in batches.
//
// The two observers report at different points of a frame: resize observers run inside the
// rendering step, while an intersection report is computed there and delivered by a task later.
// On a busy page a new frame can come between the two, so an element's first intersection report
// may carry its box from before a resize that the resize observer has already reported.

import type { Source } from './sources';

/**
 * "Near" the viewport: within two viewport heights above or below it (1,800 px in a 900 px
 * window; Chromium starts loading a lazy <img> 1,250-2,500 px away): with one, a fast scroll
 * outran the checks.
 */
const NEAR_MARGIN = '200% 0px 200% 0px';
/** Removals come in bursts: the sweep for elements that left the document waits this long. */
const SWEEP_MS = 200;

export interface Tracked {
  el: Element;
  source: Source;
  /** Rendered size from the last intersection report (CSS px); null before the first. */
  rendered: { width: number; height: number } | null;
  near: boolean;
  visible: boolean;
  /** Its size as measured by a resize report that came before the first intersection report, and when. */
  resizedEarly?: { width: number; height: number; at: number };
}

export interface TrackingHooks {
  /** The observer reported on `t`: its size, nearness or visibility may have changed. */
  moved(t: Tracked): void;
  /** `t` left the document. */
  gone(t: Tracked): void;
}

/** Whether a box (viewport coordinates) shows in the viewport now. */
function inViewport(r: DOMRectReadOnly, vw: number, vh: number): boolean {
  return r.bottom > 0 && r.right > 0 && r.top < vh && r.left < vw;
}

export class Tracking {
  private readonly tracked = new Map<Element, Tracked>();
  private readonly observer: IntersectionObserver;
  private readonly sizes: ResizeObserver;
  private sweepTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly hooks: TrackingHooks,
    signal: AbortSignal,
  ) {
    this.observer = new IntersectionObserver((entries) => this.onIntersections(entries), { rootMargin: NEAR_MARGIN });
    this.sizes = new ResizeObserver((entries) => this.onResized(entries));
    signal.addEventListener('abort', () => {
      this.observer.disconnect();
      this.sizes.disconnect();
      clearTimeout(this.sweepTimer);
    });
  }

  get(el: Element): Tracked | undefined {
    return this.tracked.get(el);
  }

  all(): IterableIterator<Tracked> {
    return this.tracked.values();
  }

  /** Starts tracking `el`; the observer reports its size and position shortly. */
  track(el: Element, source: Source): Tracked {
    const t: Tracked = { el, source, rendered: null, near: false, visible: false };
    this.tracked.set(el, t);
    this.observer.observe(el);
    this.sizes.observe(el);
    return t;
  }

  untrack(t: Tracked): void {
    this.tracked.delete(t.el);
    this.observer.unobserve(t.el);
    this.sizes.unobserve(t.el);
  }

  /**
   * Visibility looked at afresh (the observer reports only crossings of the near margin, so an
   * element that stayed near may have become visible or stopped being so since).
   */
  refreshVisible(t: Tracked): void {
    t.visible = t.near && inViewport(t.el.getBoundingClientRect(), window.innerWidth, window.innerHeight);
  }

  /** Some nodes left the document: the elements that went with them are forgotten, soon. */
  sweepSoon(): void {
    this.sweepTimer ??= setTimeout(() => {
      this.sweepTimer = undefined;
      for (const t of [...this.tracked.values()]) if (!t.el.isConnected) this.hooks.gone(t);
    }, SWEEP_MS);
  }

  private onIntersections(entries: IntersectionObserverEntry[]): void {
    const vw = window.innerWidth;
    const vh = window.innerHeight;
    for (const e of entries) {
      const t = this.tracked.get(e.target);
      if (!t) continue;
      const r = e.boundingClientRect;
      // A resize measured after this report was computed is the newer size (see the top).
      const early = t.resizedEarly;
      t.resizedEarly = undefined;
      t.rendered = early && early.at > e.time ? { width: early.width, height: early.height } : { width: r.width, height: r.height };
      t.near = e.isIntersecting;
      // Visible now (for the order of asking): the same report, against the viewport itself.
      t.visible = t.near && inViewport(r, vw, vh);
      this.hooks.moved(t);
    }
  }

  /**
   * A box changed size. Measured as the intersection observer measures (its bounding box, with
   * transforms), after the layout that resized it, so the read costs no layout of its own. Before
   * the intersection observer's first report the size is only kept, for that report to use if it
   * is older than this measure.
   */
  private onResized(entries: ResizeObserverEntry[]): void {
    const vw = window.innerWidth;
    const vh = window.innerHeight;
    for (const e of entries) {
      const t = this.tracked.get(e.target);
      if (!t) continue;
      const r = t.el.getBoundingClientRect();
      if (!t.rendered) {
        t.resizedEarly = { width: r.width, height: r.height, at: performance.now() };
        continue;
      }
      if (r.width === t.rendered.width && r.height === t.rendered.height) continue;
      t.rendered = { width: r.width, height: r.height };
      t.visible = t.near && inViewport(r, vw, vh);
      this.hooks.moved(t);
    }
  }
}

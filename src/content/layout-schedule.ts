// When the badge layer places its boxes again: at most once per animation frame, and only the
// entries that need it: the ones marked, every drawn one after a change that may move them all
// (a resize, a DOM change, a box scrolled), and while the page itself scrolls only the ones in
// fixed or sticky boxes, plus a periodic sweep of what covers the pictures.

/**
 * While the page scrolls, what covers the pictures (a sticky header) is looked at again at most
 * this often, all at once: hit testing forces a layout, and once per frame would cost too much.
 */
const COVER_SWEEP_MS = 400;

export interface Scheduled {
  /** In or near the viewport. */
  near: boolean;
  /** Inside something fixed or sticky: its place on the page changes as the page scrolls. */
  moves: boolean;
  covered: { stale: boolean };
}

export type What<E> = E | 'all' | 'scroll';

export class LayoutSchedule<E extends Scheduled> {
  private frame = 0;
  private readonly dirty = new Set<E>();
  private allDirty = false;
  private scrolled = false;
  private lastCoverSweep = -Infinity;
  private sweepTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly entries: () => Iterable<E>,
    /** Drawn now (a badge placed, a cover): placed again after any change. */
    private readonly drawn: (e: E) => boolean,
    private readonly layout: (todo: Set<E>) => void,
    signal: AbortSignal,
  ) {
    signal.addEventListener('abort', () => {
      cancelAnimationFrame(this.frame);
      clearTimeout(this.sweepTimer);
    });
  }

  schedule(what: What<E> = 'all'): void {
    if (what === 'all') this.allDirty = true;
    else if (what === 'scroll') this.scrolled = true;
    else this.dirty.add(what);
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.layout(this.take(performance.now()));
    });
  }

  /** The entries this frame places; clears the marks. */
  private take(now: number): Set<E> {
    const todo = new Set<E>(this.dirty);
    if (this.allDirty) for (const e of this.entries()) if (e.near || this.drawn(e)) todo.add(e);
    if (this.scrolled) {
      const sweep = now - this.lastCoverSweep >= COVER_SWEEP_MS;
      if (sweep) this.lastCoverSweep = now;
      for (const e of this.entries()) {
        if (!e.near) continue;
        if (sweep) e.covered.stale = true;
        // Pictures in fixed or sticky boxes move on the page as it scrolls.
        if (sweep || e.moves) todo.add(e);
      }
      // The last scroll of a burst still gets its sweep, a little later.
      if (!sweep) {
        this.sweepTimer ??= setTimeout(() => {
          this.sweepTimer = undefined;
          this.schedule('scroll');
        }, COVER_SWEEP_MS);
      }
    }
    this.dirty.clear();
    this.allDirty = false;
    this.scrolled = false;
    return todo;
  }
}

// The badge layer: every picture's badge, the covers of suspected pictures (blurred or hidden
// until clicked) and the open card, kept in the overlay (overlay-host.ts) and placed again when
// the page changes: one animation-frame callback (layout-schedule.ts) reads every rectangle,
// then writes every position. The boxes are drawn by badge-views.ts, placed by placement.ts.
// (Just over 300 lines: the layer's state and its frame callback; the drawing, the placement and
// the host live in the modules named above.)

import { isGenerated } from '../detector/scores';
import type { Verdict } from '../shared/protocol/shapes';
import type { SuspectedStyle } from '../shared/settings';
import { badgeView, cardView, createBadge, createCard, createCover, drawBadge, drawCard, drawCover, type BadgeView } from './badge-views';
import { OverlayHost } from './overlay-host';
import type { PageWatcher } from './page-watcher';
import { LayoutSchedule, type What } from './layout-schedule';
import { BADGE_MIN, ancestry, fitOf, moveTo, placeBadge, setHidden, setSize, type PlacementTarget } from './placement';
import type { Rect } from './geometry';
import type { SourceKind } from './sources';

export interface BadgeOptions {
  threshold: number;
  suspectedStyle: SuspectedStyle;
  showRealBadges: boolean;
}

export interface ShownImage {
  /** The picture's address as the page shows it (data-src, for tests and the card). */
  url: string;
  kind: SourceKind;
  natural: { width: number; height: number } | null;
  verdict: Verdict | null;
  /** In or near the viewport (the page scan's observer says): only such badges are drawn. */
  near: boolean;
  /** What "report a mistake" names (the history's address for this picture). */
  reportUrl: string;
}

interface Entry extends ShownImage, PlacementTarget {
  el: Element;
  badge: HTMLButtonElement;
  /** What the badge shows now. */
  view: BadgeView;
  cover: HTMLButtonElement | null;
  /** The user clicked a blurred/hidden picture open: it stays open. */
  revealed: boolean;
  reported: boolean;
  /** Where its badge was last put (page coordinates), or null while not drawn. */
  placed: { left: number; top: number } | null;
  /** How wide its badge may show (CSS px), or null before it was placed. */
  clipWidth: number | null;
}

/** Attributes whose change may bring or take away a modal or a menu, or move a picture. */
const LAYOUT_ATTRIBUTES = ['class', 'style', 'hidden', 'open'];

export class BadgeLayer {
  private readonly overlay: OverlayHost;
  private readonly entries = new Map<Element, Entry>();
  private readonly resizeObserver: ResizeObserver;
  private readonly layoutSchedule: LayoutSchedule<Entry>;
  private card: { entry: Entry; el: HTMLDivElement } | null = null;

  constructor(
    private options: BadgeOptions,
    private readonly onReport: (url: string, mistake: boolean) => void,
    watcher: PageWatcher,
    signal: AbortSignal,
  ) {
    this.overlay = new OverlayHost(watcher, signal);
    this.layoutSchedule = new LayoutSchedule(
      () => this.entries.values(),
      (e) => e.placed !== null || e.cover !== null,
      (todo) => this.layout(todo),
      signal,
    );

    // Modals, menus and moved pictures come and go with DOM changes: look again, at most
    // every 100 ms, however busy the page is.
    let throttle: ReturnType<typeof setTimeout> | undefined;
    watcher.subscribe(
      {
        attributes: LAYOUT_ATTRIBUTES,
        shadowRoots: false,
        changed: () => {
          throttle ??= setTimeout(() => {
            throttle = undefined;
            // A modal may have come or gone: look at what covers each picture again.
            for (const e of this.entries.values()) e.covered.stale = true;
            this.schedule('all');
          }, 100);
        },
      },
      signal,
    );
    signal.addEventListener('abort', () => clearTimeout(throttle));

    this.resizeObserver = new ResizeObserver((changes) => {
      for (const c of changes) {
        const e = this.entries.get(c.target);
        if (e) this.schedule(e);
      }
    });
    const onChange = (): void => this.schedule('all');
    window.addEventListener('resize', onChange, { passive: true, signal });
    // Badges sit in page coordinates: scrolling the page moves them with their pictures for free,
    // and only pictures in fixed or sticky boxes need placing again. A scrolling box inside the
    // page moves its pictures relative to the page: everything is placed again.
    document.addEventListener('scroll', (e) => this.schedule(e.target === document ? 'scroll' : 'all'), { passive: true, capture: true, signal });
    // Transitions and animations move pictures without resizing them.
    document.addEventListener('transitionend', onChange, { passive: true, capture: true, signal });
    document.addEventListener('animationend', onChange, { passive: true, capture: true, signal });
    document.addEventListener('keydown', (e) => {
      if (e.key === 'Escape' && this.card) this.closeCard(true);
    }, { signal });
    signal.addEventListener('abort', () => this.resizeObserver.disconnect());
  }

  has(el: Element): boolean {
    return this.entries.has(el);
  }

  show(el: Element, shown: ShownImage): void {
    let entry = this.entries.get(el);
    if (!entry) {
      const badge = createBadge(() => {
        const current = this.entries.get(el);
        if (current) this.toggleCard(current);
      });
      this.overlay.add(badge);
      entry = {
        ...shown,
        el,
        badge,
        view: badgeView(shown.url, shown.kind, shown.verdict, this.options.showRealBadges),
        cover: null,
        revealed: false,
        reported: false,
        ...ancestry(el),
        fit: fitOf(el, shown.kind),
        placed: null,
        clipWidth: null,
        covered: { value: false, stale: true },
      };
      this.entries.set(el, entry);
      this.resizeObserver.observe(el);
    } else {
      // Asked again with nothing new (every intersection change asks): nothing to do.
      if (entry.url === shown.url && entry.verdict === shown.verdict && entry.natural === shown.natural) {
        this.setNear(el, shown.near);
        return;
      }
      if (entry.url !== shown.url) {
        entry.revealed = false;
        entry.reported = false;
        entry.fit = fitOf(el, shown.kind);
      }
      Object.assign(entry, shown);
    }
    this.render(entry);
    this.schedule(entry);
  }

  /** The picture came near the viewport or left it: draw or stop drawing its badge. */
  setNear(el: Element, near: boolean): void {
    const entry = this.entries.get(el);
    if (!entry || entry.near === near) return;
    entry.near = near;
    this.schedule(entry);
  }

  /** Drops a badge that went far away, unless the user did something with it (opened, reported). */
  prune(el: Element): void {
    const entry = this.entries.get(el);
    if (!entry || entry.revealed || entry.reported || this.card?.entry === entry) return;
    this.remove(el);
  }

  remove(el: Element): void {
    const entry = this.entries.get(el);
    if (!entry) return;
    if (this.card?.entry === entry) this.closeCard(false);
    entry.badge.remove();
    entry.cover?.remove();
    this.resizeObserver.unobserve(el);
    this.entries.delete(el);
  }

  /** Settings changed: every badge is labelled and styled again. */
  setOptions(options: BadgeOptions): void {
    this.options = options;
    for (const e of this.entries.values()) {
      if (e.verdict?.status === 'done' && e.verdict.threshold !== options.threshold) e.verdict = { ...e.verdict, threshold: options.threshold };
      this.render(e);
    }
    if (this.card) this.fillCard(this.card.entry, this.card.el);
    this.schedule();
  }

  private suspected(entry: Entry): boolean {
    return entry.verdict?.status === 'done' && isGenerated(entry.verdict.pGenerated, entry.verdict.threshold);
  }

  private render(entry: Entry): void {
    entry.view = badgeView(entry.url, entry.kind, entry.verdict, this.options.showRealBadges);
    drawBadge(entry.badge, entry.view);
    const mode = this.suspected(entry) && !entry.revealed ? this.options.suspectedStyle : 'badge';
    if (mode === 'badge') {
      entry.cover?.remove();
      entry.cover = null;
      return;
    }
    if (!entry.cover) {
      entry.cover = createCover(() => this.reveal(entry));
      this.overlay.addFirst(entry.cover);
    }
    drawCover(entry.cover, { mode, src: entry.url, label: entry.view.label });
  }

  private reveal(entry: Entry): void {
    entry.revealed = true;
    this.render(entry);
    this.schedule(entry);
  }

  private toggleCard(entry: Entry): void {
    if (this.card?.entry === entry) {
      this.closeCard(true);
      return;
    }
    this.closeCard(false);
    const el = createCard();
    this.overlay.add(el);
    this.card = { entry, el };
    entry.badge.setAttribute('aria-expanded', 'true');
    const { first } = this.fillCard(entry, el);
    this.schedule(entry);
    first.focus();
  }

  private closeCard(refocus: boolean): void {
    if (!this.card) return;
    const { entry, el } = this.card;
    el.remove();
    entry.badge.setAttribute('aria-expanded', 'false');
    this.card = null;
    if (refocus && entry.badge.isConnected) entry.badge.focus();
  }

  private fillCard(entry: Entry, el: HTMLDivElement): ReturnType<typeof drawCard> {
    return drawCard(el, cardView(entry.verdict, entry.reported, entry.cover !== null), {
      report: () => {
        entry.reported = !entry.reported;
        this.onReport(entry.reportUrl, entry.reported);
        this.fillCard(entry, el).report?.focus();
      },
      show: () => this.reveal(entry),
      close: () => this.closeCard(true),
    });
  }

  private schedule(what?: What<Entry>): void {
    this.layoutSchedule.schedule(what);
  }

  /** Reads every rectangle first, then writes every position: no layout thrash. */
  private layout(todo: Set<Entry>): void {
    // Nothing to place: read nothing (reading the scroll offset would itself force a layout).
    if (todo.size === 0) return;
    const sx = window.scrollX;
    const sy = window.scrollY;

    const plans: Array<{ entry: Entry; visible: Rect | null; spot: { left: number; top: number } | null }> = [];
    for (const entry of todo) {
      if (!this.entries.has(entry.el)) continue;
      // Far from the viewport: not measured (a page of thousands of pictures stays cheap).
      if (!entry.near) plans.push({ entry, visible: null, spot: null });
      else plans.push({ entry, ...placeBadge(entry, this.overlay.element) });
    }
    for (const { entry, visible, spot } of plans) {
      const { badge, cover } = entry;
      setHidden(badge, !spot || entry.view.off);
      entry.placed = null;
      if (spot && visible) {
        entry.placed = { left: Math.round(spot.left + sx), top: Math.round(spot.top + sy) };
        moveTo(badge, entry.placed.left, entry.placed.top);
        // Clipped, not narrowed: a narrower badge lays its words and score out again, and
        // Chromium counts that as a layout shift of the page (a carousel sliding in, say).
        const width = Math.max(BADGE_MIN.width, Math.round(visible.width - 12));
        if (entry.clipWidth !== width) {
          entry.clipWidth = width;
          badge.style.clipPath = `inset(0px calc(100% - ${width}px) 0px 0px)`;
        }
      }
      if (cover) {
        setHidden(cover, !visible);
        if (visible) {
          moveTo(cover, Math.round(visible.left + sx), Math.round(visible.top + sy));
          setSize(cover, 'width', Math.round(visible.width));
          setSize(cover, 'height', Math.round(visible.height));
        }
      }
    }
    if (this.card) {
      const { entry, el } = this.card;
      if (!entry.placed || entry.badge.hidden) this.closeCard(false);
      else moveTo(el, Math.max(sx + 8, Math.min(entry.placed.left, sx + innerWidth - 328)), entry.placed.top + 26);
    }
  }
}

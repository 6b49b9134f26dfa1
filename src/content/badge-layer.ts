// Badges drawn in one closed shadow root laid over the page: the page can neither style nor
// read them, and since the layer is absolutely positioned with zero size it moves nothing.
// Each badge sits inside the top-left corner of the part of its picture that is visible
// (object-fit, overflow clipping, transforms), hides under the page's fixed modals and menus,
// and opens a card with the details. Suspected pictures can be blurred or hidden until clicked.

import { isGenerated } from '../detector/scores';
import type { Verdict } from '../shared/protocol/shapes';
import type { SuspectedStyle } from '../shared/settings';
import { describeEvidence } from '../shared/evidence-text';
import { describeCard, describeVerdict } from '../shared/verdict-text';
import { badgeSpot, intersect, objectFitRect, type Rect } from './geometry';
import type { SourceKind } from './sources';

const CSS = `
:host { all: initial; }
.badge {
  position: absolute; left: 0; top: 0; box-sizing: border-box; max-width: 240px; margin: 0; border: 0;
  padding: 3px 7px; border-radius: 10px; pointer-events: auto; text-align: left;
  font: 600 11px/16px system-ui, -apple-system, "Segoe UI", sans-serif; white-space: pre;
  display: flex; color: #fff; background: #475569;
  box-shadow: 0 1px 3px rgba(0,0,0,.35); cursor: pointer; user-select: none; z-index: 2;
}
.badge .words { overflow: hidden; text-overflow: ellipsis; min-width: 0; }
.badge .score, .badge .declared { flex: none; }
.card .evidence { border-left: 3px solid #7c3aed; padding-left: 8px; white-space: pre-line; }
.badge:focus-visible { outline: 2px solid #fff; box-shadow: 0 0 0 4px #1d4ed8; }
.badge[data-state="generated"] { background: #b91c1c; }
.badge[data-state="real"] { background: #15803d; opacity: .85; }
.badge[data-state="failed"] { background: #92400e; }
.badge[data-state="checking"] { background: #334155; opacity: .8; }
.cover {
  position: absolute; left: 0; top: 0; box-sizing: border-box; pointer-events: auto; cursor: pointer; z-index: 1;
  display: flex; align-items: center; justify-content: center; text-align: center; padding: 8px;
  font: 600 12px/16px system-ui, -apple-system, "Segoe UI", sans-serif; color: #fff; border: 0; margin: 0;
}
.cover[data-mode="blur"] { backdrop-filter: blur(24px) saturate(.6); -webkit-backdrop-filter: blur(24px); background: rgba(15,23,42,.25); }
.cover[data-mode="hide"] { background: #1e293b; }
.card {
  position: absolute; left: 0; top: 0; box-sizing: border-box; width: 320px; max-width: calc(100vw - 16px); z-index: 3;
  padding: 10px 12px; border-radius: 10px; pointer-events: auto; background: #fff; color: #0f172a;
  font: 400 12px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; box-shadow: 0 6px 24px rgba(0,0,0,.3);
  border: 1px solid #cbd5e1; white-space: normal;
}
.card h2 { font: 700 13px/1.3 inherit; margin: 0 0 6px; font-family: inherit; }
.card p { margin: 0 0 6px; }
.card .warning { background: #fef3c7; color: #78350f; padding: 6px 8px; border-radius: 6px; font-weight: 600; }
.card .bar { height: 6px; border-radius: 3px; background: #e2e8f0; margin: 0 0 8px; position: relative; overflow: hidden; }
.card .bar span { position: absolute; left: 0; top: 0; bottom: 0; background: #b91c1c; }
.card .bar i { position: absolute; top: -2px; bottom: -2px; width: 2px; background: #0f172a; }
.card .actions { display: flex; gap: 6px; flex-wrap: wrap; margin-top: 4px; }
.card button { font: 600 12px/1 inherit; font-family: inherit; padding: 6px 9px; border-radius: 6px; border: 1px solid #94a3b8; background: #f8fafc; color: #0f172a; cursor: pointer; }
.card button:focus-visible { outline: 2px solid #1d4ed8; outline-offset: 1px; }
.card [data-reported="true"] { background: #dcfce7; border-color: #15803d; }
@media (prefers-color-scheme: dark) {
  .card { background: #0f172a; color: #e2e8f0; border-color: #334155; }
  .card .warning { background: #451a03; color: #fde68a; }
  .card .bar { background: #334155; }
  .card .bar i { background: #e2e8f0; }
  .card button { background: #1e293b; color: #e2e8f0; border-color: #475569; }
}
[hidden], .badge[data-off="true"] { display: none !important; }
`;

/** The smallest box a badge needs; pictures showing less than this get no badge. */
const BADGE_MIN = { width: 28, height: 22 };
const HOST_STYLE =
  'position:absolute!important;top:0!important;left:0!important;width:0!important;height:0!important;' +
  'overflow:visible!important;z-index:2147483000!important;pointer-events:none!important;display:block!important;' +
  'margin:0!important;padding:0!important;border:0!important;transform:none!important;opacity:1!important;' +
  'visibility:visible!important;filter:none!important;clip-path:none!important';

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

interface Entry extends ShownImage {
  el: Element;
  badge: HTMLButtonElement;
  cover: HTMLButtonElement | null;
  /** The user clicked a blurred/hidden picture open: it stays open. */
  revealed: boolean;
  reported: boolean;
  /** Ancestors that clip the picture (overflow other than visible), nearest first. */
  clippers: Element[];
  /** Computed object-fit and object-position, read when the entry is (re)shown. */
  fit: { fit: string; position: string };
  /** Inside something fixed or sticky: its place on the page changes as the page scrolls. */
  moves: boolean;
  /** Where its badge was last put (page coordinates), or null while not drawn. */
  placed: { left: number; top: number } | null;
  /** How wide its badge may show (CSS px), or null before it was placed. */
  clipWidth: number | null;
  /** Whether the page's fixed layer covered it when last looked at; stale: look again. */
  covered: { value: boolean; stale: boolean };
}

/**
 * While the page scrolls, what covers the pictures (a sticky header) is looked at again at most
 * this often, all at once: hit testing forces a layout, and once per frame would cost too much.
 */
const COVER_SWEEP_MS = 400;

/** Ancestors that clip `el`, and whether it sits in something fixed or sticky. */
function ancestry(el: Element): { clippers: Element[]; moves: boolean } {
  const clippers: Element[] = [];
  let moves = false;
  let node: Element | null = el;
  while (node && node !== document.documentElement) {
    const s = getComputedStyle(node);
    if (node !== el && node !== document.body && (s.overflowX !== 'visible' || s.overflowY !== 'visible')) clippers.push(node);
    if (s.position === 'fixed' || s.position === 'sticky') moves = true;
    if (s.position === 'fixed') break; // nothing further up clips a fixed box
    node = node.parentElement ?? ((node.getRootNode() as ShadowRoot).host ?? null);
  }
  return { clippers, moves };
}

/** Whether the nearest fixed or sticky ancestor of `el` (itself included) exists. */
function fixedContainer(el: Element): Element | null {
  for (let n: Element | null = el; n && n !== document.documentElement; n = n.parentElement) {
    const p = getComputedStyle(n).position;
    if (p === 'fixed' || p === 'sticky') return n;
  }
  return null;
}

function fitOf(el: Element, kind: SourceKind): { fit: string; position: string } {
  if (kind === 'poster') return { fit: 'contain', position: '50% 50%' };
  if (kind !== 'img') return { fit: 'fill', position: '50% 50%' };
  const s = getComputedStyle(el);
  return { fit: s.objectFit, position: s.objectPosition };
}

export class BadgeLayer {
  private readonly host: HTMLElement;
  private readonly root: ShadowRoot;
  private readonly entries = new Map<Element, Entry>();
  private readonly resizeObserver: ResizeObserver;
  private frame = 0;
  /** What the next frame must place again. */
  private readonly dirty = new Set<Entry>();
  private allDirty = false;
  private scrolled = false;
  private lastCoverSweep = -Infinity;
  private sweepTimer: ReturnType<typeof setTimeout> | undefined;
  private card: { entry: Entry; el: HTMLDivElement } | null = null;

  constructor(
    private options: BadgeOptions,
    private readonly onReport: (url: string, mistake: boolean) => void,
    signal: AbortSignal,
  ) {
    this.host = document.createElement('realfake-lens-overlay');
    this.host.style.cssText = HOST_STYLE;
    this.root = this.host.attachShadow({ mode: 'closed' });
    const style = document.createElement('style');
    style.textContent = CSS;
    this.root.append(style);
    document.documentElement.append(this.host);

    // A page that removes or restyles the layer gets it back as it was (compared with the
    // browser's own serialisation, or restoring it would itself count as a change, forever).
    const hostStyle = this.host.style.cssText;
    const guard = new MutationObserver(() => {
      if (this.host.getAttribute('style') !== hostStyle) this.host.setAttribute('style', hostStyle);
      if (!this.host.isConnected || this.host.parentNode !== document.documentElement) document.documentElement.append(this.host);
    });
    guard.observe(document.documentElement, { childList: true });
    guard.observe(this.host, { attributes: true });

    // Modals, menus and moved pictures come and go with DOM changes: look again, at most
    // every 100 ms, however busy the page is.
    let throttle: ReturnType<typeof setTimeout> | undefined;
    const pageChanges = new MutationObserver(() => {
      throttle ??= setTimeout(() => {
        throttle = undefined;
        // A modal may have come or gone: look at what covers each picture again.
        for (const e of this.entries.values()) e.covered.stale = true;
        this.schedule('all');
      }, 100);
    });
    pageChanges.observe(document.documentElement, { childList: true, subtree: true, attributes: true, attributeFilter: ['class', 'style', 'hidden', 'open'] });
    signal.addEventListener('abort', () => {
      pageChanges.disconnect();
      clearTimeout(throttle);
    });

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
    signal.addEventListener('abort', () => {
      guard.disconnect();
      this.resizeObserver.disconnect();
      cancelAnimationFrame(this.frame);
      clearTimeout(this.sweepTimer);
      this.host.remove();
    });
  }

  has(el: Element): boolean {
    return this.entries.has(el);
  }

  show(el: Element, shown: ShownImage): void {
    let entry = this.entries.get(el);
    if (!entry) {
      const badge = document.createElement('button');
      badge.type = 'button';
      badge.className = 'badge';
      badge.setAttribute('aria-haspopup', 'dialog');
      badge.setAttribute('aria-expanded', 'false');
      // Hidden until the next layout places it: drawn at a wrong spot for one frame, it would
      // flash there and count as a layout shift.
      badge.hidden = true;
      badge.addEventListener('click', (e) => {
        if (!e.isTrusted) return;
        e.stopPropagation();
        const current = this.entries.get(el);
        if (current) this.toggleCard(current);
      });
      this.root.append(badge);
      entry = {
        ...shown,
        el,
        badge,
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
    const { badge, verdict } = entry;
    const text = describeVerdict(verdict);
    badge.dataset.state = text.state;
    badge.dataset.src = entry.url;
    badge.dataset.kind = entry.kind;
    if (verdict?.status === 'done') badge.dataset.p = String(verdict.pGenerated);
    else delete badge.dataset.p;
    if (verdict?.status === 'failed') badge.dataset.reason = verdict.reason;
    else delete badge.dataset.reason;
    // The score never gets cut off on a narrow picture; the words do, with an ellipsis.
    const pct = / (\d+%)$/.exec(text.label);
    const words = document.createElement('span');
    words.className = 'words';
    words.textContent = pct ? text.label.slice(0, -pct[1]!.length) : text.label;
    const parts: HTMLElement[] = [words];
    if (pct) {
      const score = document.createElement('span');
      score.className = 'score';
      score.textContent = pct[1]!;
      parts.push(score);
    }
    // The file declares itself AI-made (C2PA, IPTC, generator parameters): said beside the score.
    const evidence = verdict?.status === 'done' ? describeEvidence(verdict.evidence) : null;
    if (evidence?.declaresAI) {
      const mark = document.createElement('span');
      mark.className = 'declared';
      mark.textContent = ' · declared AI';
      parts.push(mark);
    }
    badge.replaceChildren(...parts);
    badge.dataset.declaresAi = String(evidence?.declaresAI ?? false);
    badge.title = evidence ? `${text.title}\n${evidence.label}` : text.title;
    // As seen, then what the file says: "… 97% · declared AI: Declared AI-generated (C2PA, signed by …)".
    badge.setAttribute('aria-label', evidence?.declaresAI ? `${text.ariaLabel} · declared AI: ${evidence.label}` : text.ariaLabel);
    // "Likely real" badges can be switched off; the others always show.
    badge.dataset.off = String(text.state === 'real' && !this.options.showRealBadges);

    const mode = this.suspected(entry) && !entry.revealed ? this.options.suspectedStyle : 'badge';
    if (mode === 'badge') {
      entry.cover?.remove();
      entry.cover = null;
    } else {
      if (!entry.cover) {
        const cover = document.createElement('button');
        cover.type = 'button';
        cover.className = 'cover';
        cover.hidden = true;
        cover.addEventListener('click', (e) => {
          if (!e.isTrusted) return;
          e.stopPropagation();
          e.preventDefault();
          this.reveal(entry);
        });
        this.root.insertBefore(cover, this.root.firstChild?.nextSibling ?? null);
        entry.cover = cover;
      }
      entry.cover.dataset.mode = mode;
      entry.cover.dataset.src = entry.url;
      entry.cover.textContent = `${mode === 'blur' ? 'Blurred' : 'Hidden'} by Realfake Lens: ${text.label}. Click to show.`;
      entry.cover.setAttribute('aria-label', `Realfake Lens ${mode === 'blur' ? 'blurred' : 'hid'} this image (${text.label}). Show it`);
    }
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
    const el = document.createElement('div');
    el.className = 'card';
    el.setAttribute('role', 'dialog');
    el.setAttribute('aria-label', 'Realfake Lens: about this image');
    el.addEventListener('click', (e) => e.stopPropagation());
    this.root.append(el);
    this.card = { entry, el };
    entry.badge.setAttribute('aria-expanded', 'true');
    this.fillCard(entry, el);
    this.schedule(entry);
    el.querySelector('button')?.focus();
  }

  private closeCard(refocus: boolean): void {
    if (!this.card) return;
    const { entry, el } = this.card;
    el.remove();
    entry.badge.setAttribute('aria-expanded', 'false');
    this.card = null;
    if (refocus && entry.badge.isConnected) entry.badge.focus();
  }

  private fillCard(entry: Entry, el: HTMLDivElement): void {
    const text = describeCard(entry.verdict);
    const heading = document.createElement('h2');
    heading.textContent = text.heading;
    const parts: HTMLElement[] = [heading];
    if (entry.verdict?.status === 'done') {
      const bar = document.createElement('div');
      bar.className = 'bar';
      bar.setAttribute('aria-hidden', 'true');
      const fill = document.createElement('span');
      fill.style.width = `${Math.round(entry.verdict.pGenerated * 100)}%`;
      const mark = document.createElement('i');
      mark.style.left = `${Math.round(entry.verdict.threshold * 100)}%`;
      bar.append(fill, mark);
      parts.push(bar);
    }
    // What the file says about itself, kept apart from the model's score.
    const evidence = entry.verdict?.status === 'done' ? describeEvidence(entry.verdict.evidence) : null;
    if (evidence && entry.verdict?.status === 'done' && entry.verdict.evidence?.state !== 'none') {
      const e = document.createElement('p');
      e.className = 'evidence';
      e.dataset.declaresAi = String(evidence.declaresAI);
      const label = document.createElement('strong');
      label.textContent = evidence.label;
      const more = document.createElement('span');
      more.textContent = evidence.text;
      e.append(label, document.createElement('br'), more);
      parts.push(e);
    }
    if (text.warning) {
      const w = document.createElement('p');
      w.className = 'warning';
      w.textContent = text.warning;
      parts.push(w);
    }
    for (const line of text.lines) {
      const p = document.createElement('p');
      p.textContent = line;
      parts.push(p);
    }
    const actions = document.createElement('div');
    actions.className = 'actions';
    if (entry.verdict?.status === 'done') {
      const report = document.createElement('button');
      report.type = 'button';
      report.dataset.action = 'report';
      report.dataset.reported = String(entry.reported);
      report.textContent = entry.reported ? 'Reported as a mistake (undo)' : 'Report a mistake';
      report.addEventListener('click', (e) => {
        if (!e.isTrusted) return;
        entry.reported = !entry.reported;
        this.onReport(entry.reportUrl, entry.reported);
        this.fillCard(entry, el);
        el.querySelector<HTMLButtonElement>('[data-action="report"]')?.focus();
      });
      actions.append(report);
    }
    if (entry.cover) {
      const show = document.createElement('button');
      show.type = 'button';
      show.textContent = 'Show the image';
      show.addEventListener('click', (e) => {
        if (e.isTrusted) this.reveal(entry);
      });
      actions.append(show);
    }
    const close = document.createElement('button');
    close.type = 'button';
    close.textContent = 'Close';
    close.addEventListener('click', (e) => {
      if (e.isTrusted) this.closeCard(true);
    });
    actions.append(close);
    parts.push(actions);
    el.replaceChildren(...parts);
  }

  private schedule(what: Entry | 'all' | 'scroll' = 'all'): void {
    if (what === 'all') this.allDirty = true;
    else if (what === 'scroll') this.scrolled = true;
    else this.dirty.add(what);
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.layout();
    });
  }

  /** Where the picture shows on screen: its box, less object-fit margins, less what is clipped. */
  private visibleRect(entry: Entry): Rect | null {
    const { el } = entry;
    if (!el.isConnected) return null;
    const r = el.getBoundingClientRect();
    if (r.width === 0 || r.height === 0) return null;
    let rect: Rect | null = { left: r.left, top: r.top, width: r.width, height: r.height };
    if (entry.kind === 'img' || entry.kind === 'poster') rect = objectFitRect(rect, entry.natural, entry.fit.fit, entry.fit.position);
    for (const c of entry.clippers) {
      if (!rect) break;
      const cr = c.getBoundingClientRect();
      rect = intersect(rect, { left: cr.left + c.clientLeft, top: cr.top + c.clientTop, width: c.clientWidth, height: c.clientHeight });
    }
    return rect;
  }

  /**
   * True when something fixed (a modal, a menu, a sticky header) is drawn over the picture at
   * (x, y), a point of the picture just outside where its badge goes.
   */
  private covered(entry: Entry, x: number, y: number): boolean {
    if (!entry.covered.stale) return entry.covered.value;
    let value = false;
    if (x >= 0 && y >= 0 && x < innerWidth && y < innerHeight) {
      const top = document.elementFromPoint(x, y);
      // Our own layer on top (a cover) is not the page covering the picture.
      if (top && top !== this.host && top !== entry.el && !entry.el.contains(top) && !top.contains(entry.el)) {
        const container = fixedContainer(top);
        value = container !== null && !container.contains(entry.el);
      }
    }
    entry.covered = { value, stale: false };
    return value;
  }

  /** Reads every rectangle first, then writes every position: no layout thrash. */
  private layout(): void {
    const now = performance.now();
    const todo = new Set<Entry>(this.dirty);
    if (this.allDirty) for (const e of this.entries.values()) if (e.near || e.placed || e.cover) todo.add(e);
    if (this.scrolled) {
      const sweep = now - this.lastCoverSweep >= COVER_SWEEP_MS;
      if (sweep) this.lastCoverSweep = now;
      for (const e of this.entries.values()) {
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
    // Nothing to place: read nothing (reading the scroll offset would itself force a layout).
    if (todo.size === 0) return;
    const sx = window.scrollX;
    const sy = window.scrollY;

    const plans: Array<{ entry: Entry; visible: Rect | null; spot: { left: number; top: number } | null }> = [];
    for (const entry of todo) {
      if (!this.entries.has(entry.el)) continue;
      // Far from the viewport: not measured (a page of thousands of pictures stays cheap).
      if (!entry.near) {
        plans.push({ entry, visible: null, spot: null });
        continue;
      }
      const visible = this.visibleRect(entry);
      let spot = badgeSpot(visible, BADGE_MIN);
      if (spot && visible && this.covered(entry, visible.left + 2, visible.top + 2)) spot = null;
      plans.push({ entry, visible: spot ? visible : null, spot });
    }
    // Writes only what changed, and only transforms and sizes of our own boxes: the page's
    // layout is never invalidated by a badge moving.
    const hide = (el: HTMLElement, hidden: boolean): void => {
      if (el.hidden !== hidden) el.hidden = hidden;
    };
    const put = (el: HTMLElement, left: number, top: number): void => {
      const v = `translate(${left}px, ${top}px)`;
      if (el.style.transform !== v) el.style.transform = v;
    };
    const size = (el: HTMLElement, prop: 'width' | 'height', px: number): void => {
      const v = `${px}px`;
      if (el.style[prop] !== v) el.style[prop] = v;
    };
    for (const { entry, visible, spot } of plans) {
      const { badge, cover } = entry;
      hide(badge, !spot || badge.dataset.off === 'true');
      entry.placed = null;
      if (spot && visible) {
        entry.placed = { left: Math.round(spot.left + sx), top: Math.round(spot.top + sy) };
        put(badge, entry.placed.left, entry.placed.top);
        // Clipped, not narrowed: a narrower badge lays its words and score out again, and
        // Chromium counts that as a layout shift of the page (a carousel sliding in, say).
        const width = Math.max(BADGE_MIN.width, Math.round(visible.width - 12));
        if (entry.clipWidth !== width) {
          entry.clipWidth = width;
          badge.style.clipPath = `inset(0px calc(100% - ${width}px) 0px 0px)`;
        }
      }
      if (cover) {
        hide(cover, !visible);
        if (visible) {
          put(cover, Math.round(visible.left + sx), Math.round(visible.top + sy));
          size(cover, 'width', Math.round(visible.width));
          size(cover, 'height', Math.round(visible.height));
        }
      }
    }
    if (this.card) {
      const { entry, el } = this.card;
      if (!entry.placed || entry.badge.hidden) this.closeCard(false);
      else put(el, Math.max(sx + 8, Math.min(entry.placed.left, sx + innerWidth - 328)), entry.placed.top + 26);
    }
  }
}

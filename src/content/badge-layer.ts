// Badges drawn in one closed shadow root laid over the page: the page can neither style nor
// read them, and since the layer is absolutely positioned with zero size it moves nothing.

import type { Verdict } from '../shared/protocol';
import { describeVerdict } from '../shared/verdict-text';

const CSS = `
:host { all: initial; }
.badge {
  position: absolute; box-sizing: border-box; max-width: 240px;
  padding: 3px 7px; border-radius: 10px; pointer-events: auto;
  font: 600 11px/16px system-ui, -apple-system, "Segoe UI", sans-serif; white-space: nowrap;
  overflow: hidden; text-overflow: ellipsis; color: #fff; background: #475569;
  box-shadow: 0 1px 3px rgba(0,0,0,.35); cursor: default; user-select: none;
}
.badge[data-state="generated"] { background: #b91c1c; }
.badge[data-state="real"] { background: #15803d; opacity: .85; }
.badge[data-state="failed"] { background: #92400e; }
.badge[data-state="checking"] { background: #334155; opacity: .8; }
.badge[hidden] { display: none; }
`;

interface Entry {
  image: HTMLImageElement;
  badge: HTMLDivElement;
  url: string;
  verdict: Verdict | null;
}

export class BadgeLayer {
  private readonly host: HTMLElement;
  private readonly root: ShadowRoot;
  private readonly entries = new Map<HTMLImageElement, Entry>();
  private readonly resizeObserver: ResizeObserver;
  private frame = 0;

  constructor(signal: AbortSignal) {
    this.host = document.createElement('realfake-lens-overlay');
    this.host.style.cssText =
      'position:absolute!important;top:0!important;left:0!important;width:0!important;height:0!important;' +
      'overflow:visible!important;z-index:2147483000!important;pointer-events:none!important;display:block!important';
    this.root = this.host.attachShadow({ mode: 'closed' });
    const style = document.createElement('style');
    style.textContent = CSS;
    this.root.append(style);
    document.documentElement.append(this.host);

    this.resizeObserver = new ResizeObserver(() => this.schedule());
    const onChange = (): void => this.schedule();
    window.addEventListener('resize', onChange, { passive: true, signal });
    document.addEventListener('scroll', onChange, { passive: true, capture: true, signal });
    signal.addEventListener('abort', () => {
      this.resizeObserver.disconnect();
      cancelAnimationFrame(this.frame);
      this.host.remove();
    });
  }

  show(image: HTMLImageElement, url: string, verdict: Verdict | null): void {
    let entry = this.entries.get(image);
    if (!entry) {
      const badge = document.createElement('div');
      badge.className = 'badge';
      badge.setAttribute('role', 'status');
      badge.tabIndex = 0;
      this.root.append(badge);
      entry = { image, badge, url, verdict };
      this.entries.set(image, entry);
      this.resizeObserver.observe(image);
    }
    entry.url = url;
    entry.verdict = verdict;
    const text = describeVerdict(verdict);
    const { badge } = entry;
    badge.dataset.state = text.state;
    badge.dataset.src = url;
    if (verdict?.status === 'done') badge.dataset.p = String(verdict.pGenerated);
    else delete badge.dataset.p;
    if (verdict?.status === 'failed') badge.dataset.reason = verdict.reason;
    else delete badge.dataset.reason;
    badge.textContent = text.label;
    badge.title = text.title;
    badge.setAttribute('aria-label', text.ariaLabel);
    this.schedule();
  }

  /** The user moved the threshold: every shown score is labelled again against it. */
  relabel(threshold: number): void {
    for (const e of this.entries.values()) {
      if (e.verdict?.status === 'done' && e.verdict.threshold !== threshold) {
        this.show(e.image, e.url, { ...e.verdict, threshold });
      }
    }
  }

  remove(image: HTMLImageElement): void {
    const entry = this.entries.get(image);
    if (!entry) return;
    entry.badge.remove();
    this.resizeObserver.unobserve(image);
    this.entries.delete(image);
  }

  private schedule(): void {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.layout();
    });
  }

  /** Reads every rectangle first, then writes every position: no layout thrash. */
  private layout(): void {
    const rects = [...this.entries.values()].map((e) => [e, e.image.isConnected ? e.image.getBoundingClientRect() : null] as const);
    const sx = window.scrollX;
    const sy = window.scrollY;
    for (const [entry, rect] of rects) {
      if (!rect || rect.width === 0 || rect.height === 0) {
        entry.badge.hidden = true;
        continue;
      }
      entry.badge.hidden = false;
      entry.badge.style.left = `${Math.round(rect.left + sx + 6)}px`;
      entry.badge.style.top = `${Math.round(rect.top + sy + 6)}px`;
      entry.badge.style.maxWidth = `${Math.max(40, Math.round(rect.width - 12))}px`;
    }
  }
}

// Where a picture shows on screen and where its badge goes: inside the top-left corner of the part
// of the picture that is visible (object-fit, overflow clipping, transforms), or nowhere when the
// page's fixed layer (a modal, a menu, a sticky header) is drawn over it. These functions read
// the page; the rectangle arithmetic is in geometry.ts, the scheduling in badge-layer.ts.

import { badgeSpot, intersect, objectFitRect, type Rect } from './geometry';
import type { SourceKind } from './sources';

/** The smallest box a badge needs; pictures showing less than this get no badge. */
export const BADGE_MIN = { width: 28, height: 22 };

/** What placing one picture's badge needs to know about it, read when it is (re)shown. */
export interface PlacementTarget {
  el: Element;
  kind: SourceKind;
  natural: { width: number; height: number } | null;
  /** Ancestors that clip the picture (overflow other than visible), nearest first. */
  clippers: Element[];
  /** Computed object-fit and object-position. */
  fit: { fit: string; position: string };
  /** Inside something fixed or sticky: its place on the page changes as the page scrolls. */
  moves: boolean;
  /** Whether the page's fixed layer covered it when last looked at; stale: look again. */
  covered: { value: boolean; stale: boolean };
}

/** Ancestors that clip `el`, and whether it sits in something fixed or sticky. */
export function ancestry(el: Element): { clippers: Element[]; moves: boolean } {
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

/** The nearest fixed or sticky ancestor of `el` (itself included), if there is one. */
function fixedContainer(el: Element): Element | null {
  for (let n: Element | null = el; n && n !== document.documentElement; n = n.parentElement) {
    const p = getComputedStyle(n).position;
    if (p === 'fixed' || p === 'sticky') return n;
  }
  return null;
}

export function fitOf(el: Element, kind: SourceKind): { fit: string; position: string } {
  if (kind === 'poster') return { fit: 'contain', position: '50% 50%' };
  if (kind !== 'img') return { fit: 'fill', position: '50% 50%' };
  const s = getComputedStyle(el);
  return { fit: s.objectFit, position: s.objectPosition };
}

/** Where the picture shows on screen: its box, less object-fit margins, less what is clipped. */
function visibleRect(target: PlacementTarget): Rect | null {
  const { el } = target;
  if (!el.isConnected) return null;
  const r = el.getBoundingClientRect();
  if (r.width === 0 || r.height === 0) return null;
  let rect: Rect | null = { left: r.left, top: r.top, width: r.width, height: r.height };
  if (target.kind === 'img' || target.kind === 'poster') rect = objectFitRect(rect, target.natural, target.fit.fit, target.fit.position);
  for (const c of target.clippers) {
    if (!rect) break;
    const cr = c.getBoundingClientRect();
    rect = intersect(rect, { left: cr.left + c.clientLeft, top: cr.top + c.clientTop, width: c.clientWidth, height: c.clientHeight });
  }
  return rect;
}

/**
 * True when something fixed (a modal, a menu, a sticky header) is drawn over the picture at
 * (x, y), a point of the picture just outside where its badge goes. `overlay` is our own layer:
 * on top (a cover), it is not the page covering the picture.
 */
function coveredAt(target: PlacementTarget, x: number, y: number, overlay: Element): boolean {
  if (!target.covered.stale) return target.covered.value;
  let value = false;
  if (x >= 0 && y >= 0 && x < innerWidth && y < innerHeight) {
    const top = document.elementFromPoint(x, y);
    if (top && top !== overlay && top !== target.el && !target.el.contains(top) && !top.contains(target.el)) {
      const container = fixedContainer(top);
      value = container !== null && !container.contains(target.el);
    }
  }
  target.covered = { value, stale: false };
  return value;
}

/**
 * Where the picture's badge goes now (viewport coordinates) and what of the picture is visible,
 * or nulls when it gets no badge: too little shows, or the page's fixed layer covers it.
 */
export function placeBadge(target: PlacementTarget, overlay: Element): { visible: Rect | null; spot: { left: number; top: number } | null } {
  const visible = visibleRect(target);
  let spot = badgeSpot(visible, BADGE_MIN);
  if (spot && visible && coveredAt(target, visible.left + 2, visible.top + 2, overlay)) spot = null;
  return { visible: spot ? visible : null, spot };
}

// Writes only what changed, and only transforms and sizes of the layer's own boxes: the page's
// layout is never invalidated by a badge moving.

export function setHidden(el: HTMLElement, hidden: boolean): void {
  if (el.hidden !== hidden) el.hidden = hidden;
}

export function moveTo(el: HTMLElement, left: number, top: number): void {
  const v = `translate(${left}px, ${top}px)`;
  if (el.style.transform !== v) el.style.transform = v;
}

export function setSize(el: HTMLElement, prop: 'width' | 'height', px: number): void {
  const v = `${px}px`;
  if (el.style[prop] !== v) el.style[prop] = v;
}

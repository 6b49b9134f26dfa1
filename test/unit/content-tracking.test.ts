// The content script's element tracking (src/content/tracking.ts) under the two orders in which a
// browser can report a newly tracked <img> that grows when its picture loads. Resize observers run
// inside a frame's rendering step; an intersection report is computed there and delivered by a
// later task (HTML's "update the rendering"; the Intersection Observer spec's "queue an
// intersection observer task"), so on a busy page the next frame, with its resize report, can come
// first. The observers here are stand-ins that deliver exactly the reports a browser would, in the
// order under test.

import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Tracking, type Tracked } from '../../src/content/tracking';
import type { Source } from '../../src/content/sources';

type Box = { width: number; height: number; top: number; left: number };

class FakeElement {
  box: Box = { width: 200, height: 0, top: 100, left: 10 };
  isConnected = true;
  getBoundingClientRect(): DOMRectReadOnly {
    const { width, height, top, left } = this.box;
    return { width, height, top, left, bottom: top + height, right: left + width, x: left, y: top, toJSON: () => ({}) };
  }
}

let intersections: (entries: IntersectionObserverEntry[]) => void;
let resizes: (entries: ResizeObserverEntry[]) => void;

/** An intersection report as computed at `time` for the box `box`. */
function intersectionEntry(el: FakeElement, box: Box, time: number): IntersectionObserverEntry {
  const saved = el.box;
  el.box = box;
  const rect = el.getBoundingClientRect();
  el.box = saved;
  return { target: el as unknown as Element, boundingClientRect: rect, isIntersecting: true, time } as unknown as IntersectionObserverEntry;
}

const resizeEntry = (el: FakeElement): ResizeObserverEntry => ({ target: el as unknown as Element }) as unknown as ResizeObserverEntry;

/** A stand-in observer class that hands its callback to `keep`, for the test to deliver reports. */
function standIn<E>(keep: (cb: (entries: E[]) => void) => void): unknown {
  return class {
    constructor(cb: (entries: E[]) => void) {
      keep(cb);
    }
    observe(): void {}
    unobserve(): void {}
    disconnect(): void {}
  };
}

beforeEach(() => {
  vi.stubGlobal('window', { innerWidth: 1280, innerHeight: 720 });
  vi.stubGlobal('IntersectionObserver', standIn<IntersectionObserverEntry>((cb) => (intersections = cb)));
  vi.stubGlobal('ResizeObserver', standIn<ResizeObserverEntry>((cb) => (resizes = cb)));
});

afterEach(() => {
  vi.unstubAllGlobals();
});

function tracking(): { el: FakeElement; t: Tracked; moves: Array<{ width: number; height: number } | null> } {
  const moves: Array<{ width: number; height: number } | null> = [];
  const tr = new Tracking({ moved: (t) => moves.push(t.rendered && { ...t.rendered }), gone: () => undefined }, new AbortController().signal);
  const el = new FakeElement();
  const t = tr.track(el as unknown as Element, { url: 'https://example.org/a.png', kind: 'img', natural: null, loading: true } as unknown as Source);
  return { el, t, moves };
}

describe('element tracking', () => {
  it('takes the resize reported before the first intersection report when that report is older (the busy-page order)', () => {
    const { el, t, moves } = tracking();
    // Frame 1: laid out 0 px high; the intersection report is computed now, delivered later.
    const frame1 = intersectionEntry(el, { ...el.box }, performance.now() - 1);
    resizes([resizeEntry(el)]); // its first resize report (200 x 0), before any intersection report
    // The picture loads; frame 2 runs before the intersection task: the resize report comes first.
    el.box = { ...el.box, height: 167 };
    resizes([resizeEntry(el)]);
    expect(moves).toEqual([]); // nothing is known of nearness yet
    intersections([frame1]);
    expect(t.rendered).toEqual({ width: 200, height: 167 });
    expect(moves).toEqual([{ width: 200, height: 167 }]);
  });

  it('takes the intersection report when it is the newer (the usual order)', () => {
    const { el, t } = tracking();
    resizes([resizeEntry(el)]); // 200 x 0, in the frame's resize step
    el.box = { ...el.box, height: 167 };
    // Computed after that resize report (later in the frame, or a later frame): it is the newer size.
    intersections([intersectionEntry(el, { ...el.box }, performance.now() + 1)]);
    expect(t.rendered).toEqual({ width: 200, height: 167 });
  });

  it('follows a box that grows after its first intersection report', () => {
    const { el, t, moves } = tracking();
    intersections([intersectionEntry(el, { ...el.box }, performance.now())]);
    expect(t.rendered).toEqual({ width: 200, height: 0 });
    el.box = { ...el.box, height: 167 };
    resizes([resizeEntry(el)]);
    expect(t.rendered).toEqual({ width: 200, height: 167 });
    expect(moves).toEqual([
      { width: 200, height: 0 },
      { width: 200, height: 167 },
    ]);
  });
});

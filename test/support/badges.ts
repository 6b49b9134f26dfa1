// Reads the extension's badges from a page. They live in a closed shadow root that page
// scripts cannot reach, so the test reads them through the DevTools protocol, which can. Only
// what is inside the closed shadow root of the extension's overlay counts: a page forging
// look-alike elements cannot fool the tests.

import type { Frame, Page } from 'playwright-core';

export interface BadgeReading {
  state: string;
  src: string;
  p: number | null;
  reason: string | null;
  text: string;
  title: string;
  ariaLabel: string;
  /** Position in page coordinates (CSS px). */
  left: number;
  top: number;
  /** img, background, poster or svg-image. */
  kind: string;
  /** Not drawn: covered by the page's fixed layer, too little of the picture visible, or a "real" badge switched off. */
  hidden: boolean;
  /** Index of the frame document (0: the top page), in document order. */
  frame: number;
}

export interface CoverReading {
  mode: string;
  src: string;
  hidden: boolean;
  left: number;
  top: number;
  width: number;
  height: number;
}

interface CdpNode {
  nodeId: number;
  nodeName: string;
  nodeType: number;
  nodeValue?: string;
  attributes?: string[];
  children?: CdpNode[];
  shadowRoots?: CdpNode[];
  shadowRootType?: string;
  contentDocument?: CdpNode;
}

function attrs(n: CdpNode): Record<string, string> {
  const out: Record<string, string> = {};
  const a = n.attributes ?? [];
  for (let i = 0; i + 1 < a.length; i += 2) out[a[i] as string] = a[i + 1] as string;
  return out;
}

function text(n: CdpNode): string {
  if (n.nodeType === 3) return n.nodeValue ?? '';
  return (n.children ?? []).map(text).join('');
}

function walk(n: CdpNode, visit: (n: CdpNode, inOverlay: boolean, frame: number) => void, inOverlay = false, frame = { n: 0, cur: 0 }): void {
  visit(n, inOverlay, frame.cur);
  for (const c of n.children ?? []) walk(c, visit, inOverlay, frame);
  for (const s of n.shadowRoots ?? []) {
    // The extension's layer: a closed shadow root on its own <realfake-lens-overlay> element.
    const ours = n.nodeName === 'REALFAKE-LENS-OVERLAY' && s.shadowRootType === 'closed';
    walk(s, visit, inOverlay || ours, frame);
  }
  if (n.contentDocument) {
    const saved = frame.cur;
    frame.cur = ++frame.n;
    walk(n.contentDocument, visit, false, frame);
    frame.cur = saved;
  }
}

/** Where a box of the layer is drawn: its transform's translation (or left/top), in page px. */
export function place(style: string): { left: number; top: number } {
  const t = /transform:\s*translate\((-?[\d.]+)px,\s*(-?[\d.]+)px\)/.exec(style);
  return t ? { left: Number(t[1]), top: Number(t[2]) } : { left: px(style, 'left'), top: px(style, 'top') };
}

function px(style: string, prop: string): number {
  return Number(new RegExp(`(?:^|;)\\s*${prop}:\\s*(-?[\\d.]+)px`).exec(style)?.[1] ?? NaN);
}

/** A badge button's reading from its attributes and text, however the browser's DOM was read. */
export function badgeReading(a: Record<string, string>, text: string, frame: number): BadgeReading {
  return {
    state: a['data-state'] ?? '',
    src: a['data-src'] ?? '',
    p: a['data-p'] !== undefined ? Number(a['data-p']) : null,
    reason: a['data-reason'] ?? null,
    text,
    title: a.title ?? '',
    ariaLabel: a['aria-label'] ?? '',
    ...place(a.style ?? ''),
    kind: a['data-kind'] ?? '',
    hidden: 'hidden' in a || a['data-off'] === 'true',
    frame,
  };
}

/** A page, or a frame that runs in a process of its own (a cross-site iframe), read through its own session. */
async function readLayer(page: Page | Frame): Promise<{ badges: BadgeReading[]; covers: CoverReading[] }> {
  const cdp = 'context' in page ? await page.context().newCDPSession(page) : await page.page().context().newCDPSession(page);
  try {
    const { root } = (await cdp.send('DOM.getDocument', { depth: -1, pierce: true })) as { root: CdpNode };
    const badges: BadgeReading[] = [];
    const covers: CoverReading[] = [];
    walk(root, (n, inOverlay, frame) => {
      if (!inOverlay || n.nodeName !== 'BUTTON') return;
      const a = attrs(n);
      const style = a.style ?? '';
      if (a.class === 'cover') {
        covers.push({
          mode: a['data-mode'] ?? '',
          src: a['data-src'] ?? '',
          hidden: 'hidden' in a,
          ...place(style),
          width: px(style, 'width'),
          height: px(style, 'height'),
        });
        return;
      }
      if (a.class !== 'badge' || !a['data-state']) return;
      badges.push(badgeReading(a, text(n), frame));
    });
    return { badges, covers };
  } finally {
    await cdp.detach();
  }
}

export async function readBadges(page: Page | Frame): Promise<BadgeReading[]> {
  return (await readLayer(page)).badges;
}

export async function readCovers(page: Page): Promise<CoverReading[]> {
  return (await readLayer(page)).covers;
}

/** Reads badges with `read` until `done(badges)` holds, or throws with the last reading (any browser's reader). */
export async function pollBadges(
  read: () => Promise<BadgeReading[]>,
  done: (b: BadgeReading[]) => boolean,
  timeoutMs = 120_000,
): Promise<BadgeReading[]> {
  const deadline = Date.now() + timeoutMs;
  let last: BadgeReading[] = [];
  while (Date.now() < deadline) {
    last = await read();
    if (done(last)) return last;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`badges did not settle: ${JSON.stringify(last.map((b) => [b.src, b.state, b.text]))}`);
}

/** Polls until `done(badges)` holds, or throws with the last reading. */
export async function waitForBadges(
  page: Page | Frame,
  done: (b: BadgeReading[]) => boolean,
  timeoutMs = 120_000,
): Promise<BadgeReading[]> {
  return pollBadges(() => readBadges(page), done, timeoutMs);
}

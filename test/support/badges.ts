// Reads the extension's badges from a page. They live in a closed shadow root that page
// scripts cannot reach, so the test reads them through the DevTools protocol, which can.

import type { Page } from 'playwright-core';

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
}

interface CdpNode {
  nodeId: number;
  nodeName: string;
  nodeType: number;
  nodeValue?: string;
  attributes?: string[];
  children?: CdpNode[];
  shadowRoots?: CdpNode[];
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

function walk(n: CdpNode, visit: (n: CdpNode) => void): void {
  visit(n);
  for (const c of n.children ?? []) walk(c, visit);
  for (const s of n.shadowRoots ?? []) walk(s, visit);
}

export async function readBadges(page: Page): Promise<BadgeReading[]> {
  const cdp = await page.context().newCDPSession(page);
  try {
    const { root } = (await cdp.send('DOM.getDocument', { depth: -1, pierce: true })) as { root: CdpNode };
    const found: BadgeReading[] = [];
    walk(root, (n) => {
      const a = attrs(n);
      if (n.nodeName !== 'DIV' || a.class !== 'badge' || !a['data-state']) return;
      const style = a.style ?? '';
      const px = (prop: string): number => Number(new RegExp(`${prop}:\\s*(-?[\\d.]+)px`).exec(style)?.[1] ?? NaN);
      found.push({
        state: a['data-state'],
        src: a['data-src'] ?? '',
        p: a['data-p'] !== undefined ? Number(a['data-p']) : null,
        reason: a['data-reason'] ?? null,
        text: text(n),
        title: a.title ?? '',
        ariaLabel: a['aria-label'] ?? '',
        left: px('left'),
        top: px('top'),
      });
    });
    return found;
  } finally {
    await cdp.detach();
  }
}

/** Polls until `done(badges)` holds, or throws with the last reading. */
export async function waitForBadges(
  page: Page,
  done: (b: BadgeReading[]) => boolean,
  timeoutMs = 120_000,
): Promise<BadgeReading[]> {
  const deadline = Date.now() + timeoutMs;
  let last: BadgeReading[] = [];
  while (Date.now() < deadline) {
    last = await readBadges(page);
    if (done(last)) return last;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`badges did not settle: ${JSON.stringify(last.map((b) => [b.src, b.state, b.text]))}`);
}

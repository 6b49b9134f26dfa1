// When the extension's badges show their verdicts, recorded in the content script's world by a
// MutationObserver on its layer (the benches' clock). Reading the layer through the DevTools
// protocol instead (badges.ts) serialises the whole document each time: polled every 20 ms, it
// took about a fifth of a 2-core machine from the very inference whose badge it waited for.

import type { Page } from 'playwright-core';
import { inContentScript } from './contexts';

/** Badge address → when it first showed a verdict, in the page's clock (performance.now()). */
export type ShownBadges = Record<string, number>;

/**
 * Starts recording, in the content script's world, when each badge first shows a verdict. Call it
 * as soon as the page commits; a badge already showing then is recorded at that moment (later than
 * it showed: never in the extension's favour).
 */
export async function watchBadges(page: Page, extensionId: string): Promise<void> {
  const install = `new Promise((resolve) => {
    globalThis.__shown = {};
    globalThis.__shownWaiters = [];
    let root = null;
    const look = () => {
      for (const b of root.querySelectorAll('.badge')) {
        if (b.dataset.state !== 'checking' && !b.hidden && !(b.dataset.src in globalThis.__shown)) globalThis.__shown[b.dataset.src] = performance.now();
      }
      globalThis.__shownWaiters = globalThis.__shownWaiters.filter((w) => !w());
    };
    const attach = () => {
      const host = document.querySelector('realfake-lens-overlay');
      if (!host || root) return;
      root = chrome.dom.openOrClosedShadowRoot(host);
      new MutationObserver(look).observe(root, { subtree: true, attributes: true, childList: true });
      look();
    };
    new MutationObserver(attach).observe(document.documentElement, { childList: true });
    attach();
    resolve(true);
  })`;
  for (let i = 0; ; i++) {
    try {
      await inContentScript(page, extensionId, install);
      return;
    } catch (e) {
      // The content script's world exists once the script is injected.
      if (i > 500) throw e;
      await new Promise((r) => setTimeout(r, 10));
    }
  }
}

/** The badges shown so far (watchBadges). */
export async function shownBadges(page: Page, extensionId: string): Promise<ShownBadges> {
  return (await inContentScript(page, extensionId, 'globalThis.__shown')) as ShownBadges;
}

/**
 * Waits until `count` badges have shown a verdict, without reading the page meanwhile (the content
 * script's world resolves one pending evaluation). Returns them, and what to add to put them on
 * the clock of Date.now(), which the extension's other processes share.
 */
export async function whenBadgesShown(page: Page, extensionId: string, count: number, timeoutMs: number): Promise<{ shown: ShownBadges; toEpoch: number }> {
  const wait = `new Promise((resolve) => {
    const done = () => Object.keys(globalThis.__shown).length >= ${count} && (resolve({ shown: globalThis.__shown, toEpoch: Date.now() - performance.now() }), true);
    if (!done()) globalThis.__shownWaiters.push(done);
  })`;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(async () => {
      const shown = await shownBadges(page, extensionId).catch(() => ({}));
      reject(new Error(`${Object.keys(shown).length} of ${count} badges showed a verdict within ${timeoutMs} ms`));
    }, timeoutMs);
  });
  try {
    return (await Promise.race([inContentScript(page, extensionId, wait), timeout])) as { shown: ShownBadges; toEpoch: number };
  } finally {
    clearTimeout(timer);
  }
}

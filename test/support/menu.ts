// "Check image with Realfake Lens" as a person chooses it: a real right-click in the page (a
// trusted `contextmenu` event, which the content script remembers), then the menu item. Headless
// Chromium opens no native menu to click, so the click on the item is Chromium's own event
// object fired in the service worker: `chrome.contextMenus.onClicked.dispatch(info, tab)` runs
// every listener the extension registered at startup, exactly as the browser's dispatch does,
// with the OnClickData Chrome builds for that point (its hit test: an <img> gives mediaType
// "image" and srcUrl, a <video> "video", a link its linkUrl; anything else is the page).

import type { Page } from 'playwright-core';
import type { ExtensionSession } from './chrome';

export const MENU_ID = 'realfake-lens-check-image';

export async function chooseCheckImage(ext: ExtensionSession, page: Page, x: number, y: number): Promise<void> {
  await page.mouse.click(x, y, { button: 'right' });
  const hit = await page.evaluate(([px, py]) => {
    const el = document.elementFromPoint(px as number, py as number);
    const info: Record<string, string> = { pageUrl: location.href };
    if (el instanceof HTMLImageElement) Object.assign(info, { mediaType: 'image', srcUrl: el.currentSrc || el.src });
    if (el instanceof HTMLVideoElement) {
      info.mediaType = 'video';
      if (el.currentSrc) info.srcUrl = el.currentSrc;
    }
    const link = el?.closest('a[href]');
    if (link instanceof HTMLAnchorElement) info.linkUrl = link.href;
    return info;
  }, [x, y]);
  const worker = await ext.serviceWorker();
  await worker.evaluate(
    async ({ hit, menuItemId }) => {
      const [tab] = await chrome.tabs.query({ url: hit.pageUrl });
      if (!tab) throw new Error(`no tab for ${hit.pageUrl}`);
      const info = { menuItemId, editable: false, frameId: 0, ...hit };
      (chrome.contextMenus.onClicked as unknown as { dispatch: (i: unknown, t: unknown) => void }).dispatch(info, tab);
    },
    { hit, menuItemId: MENU_ID },
  );
}

/**
 * True when the extension registered the menu item, polling until it has or `waitMs` is up (the
 * worker registers it on install, asynchronously). Asked with update(id, {}), which fails on an
 * unknown id and changes nothing on a known one: a probe that created the item itself would race
 * the real registration (which then fails as a duplicate) and, removing its probe, leave no menu.
 */
export async function menuRegistered(ext: ExtensionSession, waitMs = 15_000): Promise<boolean> {
  const worker = await ext.serviceWorker();
  const deadline = Date.now() + waitMs;
  for (;;) {
    const known = await worker.evaluate(
      (id) => new Promise<boolean>((resolve) => chrome.contextMenus.update(id, {}, () => resolve(!chrome.runtime.lastError))),
      MENU_ID,
    );
    if (known || Date.now() > deadline) return known;
    await new Promise((r) => setTimeout(r, 250));
  }
}

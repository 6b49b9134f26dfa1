// "Check image with Realfake Lens" on any image: works below the minimum size, on switched-off
// sites and while paused, because the user asked about this one picture. The verdict appears on
// the image and as a notification.

import type { BackgroundToContent, Verdict } from '../shared/protocol';
import { describeVerdict } from '../shared/verdict-text';
import { checkImage } from './checker';
import { recordVerdict } from './tab-state';

export const MENU_ID = 'realfake-lens-check-image';

export function registerContextMenu(): void {
  chrome.contextMenus.create({ id: MENU_ID, title: 'Check image with Realfake Lens', contexts: ['image'] }, () => {
    // Already created by an earlier start: fine.
    void chrome.runtime.lastError;
  });
}

async function notify(verdict: Verdict): Promise<void> {
  const text = describeVerdict(verdict);
  try {
    await chrome.notifications.create({
      type: 'basic',
      iconUrl: chrome.runtime.getURL('icons/icon-128.png'),
      title: `Realfake Lens: ${text.label}`,
      message: text.title.split('\n').slice(0, 2).join(' '),
      priority: 0,
    });
  } catch {
    // Notifications switched off by the user or the system: the badge still shows.
  }
}

export async function onMenuClicked(info: chrome.contextMenus.OnClickData, tab?: chrome.tabs.Tab): Promise<Verdict | null> {
  if (info.menuItemId !== MENU_ID || !info.srcUrl || tab?.id === undefined) return null;
  const pageUrl = info.frameUrl ?? info.pageUrl ?? tab.url ?? '';
  const verdict = await checkImage({
    url: info.srcUrl,
    pageUrl,
    tabUrl: tab.url ?? pageUrl,
    pageTitle: tab.title ?? '',
    tabId: tab.id,
    incognito: tab.incognito,
    priority: 'menu',
    minSide: 0,
    owner: tab.id,
  });
  if (!verdict) return null; // the tab went away meanwhile
  const message: BackgroundToContent = { kind: 'menu-verdict', url: info.srcUrl, verdict };
  try {
    await chrome.tabs.sendMessage(tab.id, message, { frameId: info.frameId ?? 0 });
  } catch {
    // The page has no content script (e.g. it loaded before the extension): the notification tells.
  }
  await recordVerdict(tab.id, info.srcUrl, verdict);
  await notify(verdict);
  return verdict;
}

// "Check image with Realfake Lens" on any picture a person points at: an <img>, and on the
// page itself (a CSS background, a video's poster, an SVG <image>, a picture under a
// transparent overlay), which the frame's content script resolves from its last right-click.
// blob: and data: pictures come as bytes, as the scanner sends them. It works below the minimum
// size, on switched-off sites and while paused, because the user asked about this one picture.
// The verdict appears on the picture and as a notification; "nothing to check here" is said too.

import { MAX_URL_LENGTH } from '../shared/protocol/validate';
import { tellPage } from './to-content';
import type { Verdict } from '../shared/protocol/shapes';
import { describeVerdict } from '../shared/verdict-text';
import { checkImage, fromTab } from './checker';
import { recordVerdict } from './tab-state';

export const MENU_ID = 'realfake-lens-check-image';
/** The id of the notification that says there was no picture to check (one at a time). */
export const NO_PICTURE_NOTIFICATION = 'realfake-lens-no-picture';
/** Where a person may point at a picture: Chrome offers "image" only on a plain <img>. */
export const MENU_CONTEXTS: [`${chrome.contextMenus.ContextType}`, ...Array<`${chrome.contextMenus.ContextType}`>] = ['page', 'image', 'video', 'frame', 'link'];

export function registerContextMenu(): void {
  chrome.contextMenus.create({ id: MENU_ID, title: 'Check image with Realfake Lens', contexts: MENU_CONTEXTS }, () => {
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

async function notifyNoPicture(why: 'nothing-there' | 'unreadable'): Promise<void> {
  try {
    await chrome.notifications.create(NO_PICTURE_NOTIFICATION, {
      type: 'basic',
      iconUrl: chrome.runtime.getURL('icons/icon-128.png'),
      title: why === 'unreadable' ? "Realfake Lens: couldn't read this picture" : 'Realfake Lens: no picture here',
      message:
        why === 'unreadable'
          ? 'The page would not hand over the bytes of the picture under the pointer.'
          : 'There is no picture under the pointer to check (images, CSS backgrounds, video posters and SVG images count).',
      priority: 0,
    });
  } catch {
    // Notifications switched off: nothing else can say it.
  }
}

/** Chrome's own idea of the picture: only a web or data: <img> it saw under the pointer. */
function chromeSawImage(info: chrome.contextMenus.OnClickData): string | null {
  const src = info.mediaType === 'image' ? info.srcUrl : undefined;
  return src && src.length <= MAX_URL_LENGTH && /^(https?|data):/i.test(src) ? src : null;
}

/** Asks the clicked frame's content script what was under the pointer; Chrome's srcUrl when it cannot say. */
async function pictureUnderPointer(
  tabId: number,
  info: chrome.contextMenus.OnClickData,
): Promise<{ url: string; bytes?: string } | { why: 'nothing-there' | 'unreadable' }> {
  // A long data: address does not travel; the content script knows the picture from its right-click.
  const srcUrl = info.mediaType === 'image' && info.srcUrl && info.srcUrl.length <= MAX_URL_LENGTH ? info.srcUrl : null;
  let answer = null;
  try {
    answer = await tellPage({ kind: 'menu-resolve', srcUrl }, tabId, { frameId: info.frameId ?? 0 });
  } catch {
    // No content script there (the page loaded before the extension, or a page it may not run in).
  }
  if (answer?.found) return answer.bytes === undefined ? { url: answer.url } : { url: answer.url, bytes: answer.bytes };
  const seen = chromeSawImage(info);
  if (seen) return { url: seen };
  return { why: answer?.why ?? 'nothing-there' };
}

/** The menu's click listener, as registered with chrome.contextMenus.onClicked at startup. */
export async function onMenuClicked(info: chrome.contextMenus.OnClickData, tab?: chrome.tabs.Tab): Promise<Verdict | null> {
  if (info.menuItemId !== MENU_ID || tab?.id === undefined) return null;
  const picked = await pictureUnderPointer(tab.id, info);
  if ('why' in picked) {
    await notifyNoPicture(picked.why);
    return null;
  }
  const pageUrl = info.frameUrl ?? info.pageUrl ?? tab.url ?? '';
  const verdict = await checkImage({
    url: picked.url,
    bytes: picked.bytes,
    ...fromTab({ ...tab, id: tab.id }, pageUrl),
    priority: 'menu',
    minSide: 0,
    owner: tab.id,
  });
  if (!verdict) return null; // the tab went away meanwhile
  try {
    await tellPage({ kind: 'menu-verdict', url: picked.url, verdict }, tab.id, { frameId: info.frameId ?? 0 });
  } catch {
    // The page has no content script (e.g. it loaded before the extension): the notification tells.
  }
  await recordVerdict(tab.id, picked.url, verdict);
  await notify(verdict);
  return verdict;
}

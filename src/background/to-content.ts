// The one sender from the background to content scripts. Replies come from a page's context,
// the least trusted one, so each is validated (PAGE_REPLIES) before it is read.

import { validatedSender, type Request } from '../shared/protocol/channel';
import { PAGE_REPLIES, type PageChannel } from '../shared/protocol/content';

/** Which document of the tab: a frame, or the exact document (a navigated tab never gets stale verdicts). */
export type PageTarget = { frameId: number } | { documentId: string } | undefined;

/**
 * Sends to a tab's content script; the validated reply, or null when it was malformed. Throws when
 * no content script listens there (the page loaded before the extension, or is not scanned).
 */
export const tellPage = validatedSender<PageChannel, [number, PageTarget]>(
  (msg, tabId, target) => (target ? chrome.tabs.sendMessage(tabId, msg, target) : chrome.tabs.sendMessage(tabId, msg)),
  PAGE_REPLIES,
);

/** Answers the document that asked (a content script's message), if it is still there. */
export async function deliver(sender: chrome.runtime.MessageSender, message: Request<PageChannel>): Promise<void> {
  const tabId = sender.tab?.id;
  if (tabId === undefined) return;
  const target: PageTarget = sender.documentId ? { documentId: sender.documentId } : { frameId: sender.frameId ?? 0 };
  try {
    await tellPage(message, tabId, target);
  } catch {
    // The document is gone (navigated or closed); the verdict stays in the cache.
  }
}

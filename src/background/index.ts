// The service worker: the one place that decides. It only routes here; the logic lives in
// checker.ts (verdicts), prediction-store.ts (IndexedDB) and offscreen-client.ts (engine).

import {
  parseContentToBackground,
  parseUiToBackground,
  type BackgroundToContent,
  type StatusReply,
} from '../shared/protocol';
import { summarize } from '../shared/model-registry';
import { activeManifest, checkImage } from './checker';
import { engineStatus } from './offscreen-client';
import { readStats } from './prediction-store';

const EXTENSION_ORIGIN = new URL(chrome.runtime.getURL('')).origin;

/** The popup or options page (opened as a popup or in a tab), never a web page. */
function isOwnExtensionPage(sender: chrome.runtime.MessageSender): boolean {
  return sender.id === chrome.runtime.id && typeof sender.url === 'string' && new URL(sender.url).origin === EXTENSION_ORIGIN;
}

/** Our content script in a web page's tab. */
function isOwnContentScript(sender: chrome.runtime.MessageSender): boolean {
  return (
    sender.id === chrome.runtime.id &&
    sender.tab?.id !== undefined &&
    typeof sender.url === 'string' &&
    new URL(sender.url).origin !== EXTENSION_ORIGIN
  );
}

async function deliver(
  sender: chrome.runtime.MessageSender,
  message: BackgroundToContent,
): Promise<void> {
  const tabId = sender.tab?.id;
  if (tabId === undefined) return;
  // Address the exact document that asked, so a navigated tab never gets stale verdicts.
  const options: chrome.tabs.MessageSendOptions = sender.documentId
    ? { documentId: sender.documentId }
    : { frameId: sender.frameId ?? 0 };
  try {
    await chrome.tabs.sendMessage(tabId, message, options);
  } catch {
    // The document is gone (navigated or closed); the verdict stays in the cache.
  }
}

async function status(): Promise<StatusReply> {
  const [engine, stats] = await Promise.all([engineStatus(), readStats()]);
  if (engine) return { engine, stats };
  let model = null;
  try {
    model = summarize(await activeManifest());
  } catch {
    model = null;
  }
  return { engine: { state: 'not-loaded', backend: null, note: null, model }, stats };
}

chrome.runtime.onMessage.addListener((raw: unknown, sender, sendResponse) => {
  if (isOwnContentScript(sender)) {
    const msg = parseContentToBackground(raw);
    if (!msg) return false;
    const pageUrl = sender.url as string;
    for (const item of msg.items) {
      void checkImage(item.url, pageUrl).then((verdict) =>
        deliver(sender, { kind: 'verdict', requestId: item.requestId, url: item.url, verdict }),
      );
    }
    sendResponse({ accepted: msg.items.length });
    return false;
  }
  if (isOwnExtensionPage(sender)) {
    const msg = parseUiToBackground(raw);
    if (!msg) return false;
    switch (msg.kind) {
      case 'ui/get-status':
        void status().then(sendResponse);
        return true;
    }
  }
  return false;
});

// The service worker: the one place that decides. This file only registers listeners and checks
// who is talking; the handlers live in content-handlers.ts (pages), ui-handlers.ts and models.ts
// (popup and options), and the logic behind them in checker.ts (verdicts), prediction-store.ts
// (IndexedDB), tab-state.ts (counts and toolbar), context-menu.ts and offscreen-client.ts (the engine).

import { route } from '../shared/protocol/channel';
import { parseContentToBackground, PENDING_PORT } from '../shared/protocol/content';
import { parseOffscreenToBackground } from '../shared/protocol/offscreen';
import { parseUiToBackground } from '../shared/protocol/ui';
import { changesSettings, readSettings, scanningAllowed, siteOf } from '../shared/settings';
import { checkImage, delayRecords, queue, writesSettled } from './checker';
import { contentHandlers } from './content-handlers';
import { onMenuClicked, registerContextMenu } from './context-menu';
import { activeReferrerRules } from './hotlink';
import { closeOffscreen, OFFSCREEN_PATH, RELEASED_KEY } from './offscreen-client';
import { forgetScanGrant } from './scan-grant';
import { forgetTab, refreshAllTabs, resetTab, showScanningState } from './tab-state';
import { uiHandlers } from './ui-handlers';

const EXTENSION_ORIGIN = new URL(chrome.runtime.getURL('')).origin;

/** The popup or options page (opened as a popup or in a tab), never a web page. */
function isOwnExtensionPage(sender: chrome.runtime.MessageSender): boolean {
  return sender.id === chrome.runtime.id && typeof sender.url === 'string' && new URL(sender.url).origin === EXTENSION_ORIGIN;
}

function isOffscreenDocument(sender: chrome.runtime.MessageSender): boolean {
  return sender.id === chrome.runtime.id && !sender.tab && sender.url === chrome.runtime.getURL(OFFSCREEN_PATH);
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

/** The offscreen document has been idle: close it, unless work arrived meanwhile. */
async function releaseEngine(): Promise<void> {
  if (queue.pending() > 0) return;
  await closeOffscreen();
  await chrome.storage.session.set({ [RELEASED_KEY]: Date.now() });
}

// A message that fails its sender check or its validation is dropped unanswered (false: no
// reply will come, so other listeners, e.g. the engine's frame in Firefox, may answer theirs).
chrome.runtime.onMessage.addListener((raw: unknown, sender, sendResponse) => {
  if (isOffscreenDocument(sender)) {
    if (parseOffscreenToBackground(raw)) void releaseEngine();
    return false;
  }
  if (isOwnExtensionPage(sender)) {
    const msg = parseUiToBackground(raw);
    if (!msg) return false;
    void route(uiHandlers, msg, undefined).then(sendResponse);
    return true;
  }
  if (isOwnContentScript(sender)) {
    const msg = parseContentToBackground(raw);
    if (!msg) return false;
    void route(contentHandlers, msg, sender).then(sendResponse);
    return true;
  }
  return false;
});

// Content scripts hold a port open while they wait for verdicts; it carries nothing. When this
// worker is stopped the port drops and they ask again, which starts a new worker.
chrome.runtime.onConnect.addListener((port) => {
  if (port.name !== PENDING_PORT || !port.sender || !isOwnContentScript(port.sender)) port.disconnect();
});

chrome.runtime.onInstalled.addListener(() => registerContextMenu());
chrome.contextMenus.onClicked.addListener((info, tab) => void onMenuClicked(info, tab));

chrome.tabs.onUpdated.addListener((tabId, change, tab) => {
  if (change.status === 'loading' && change.url) {
    // A new document: drop the old one's waiting work and counts.
    queue.cancelTab(tabId);
    void forgetScanGrant(tabId);
    void resetTab(tabId).then(async () => showScanningState(tabId, scanningAllowed(await readSettings(), tab.url)));
  }
});
chrome.tabs.onRemoved.addListener((tabId) => {
  queue.cancelTab(tabId);
  void forgetTab(tabId);
});
// The switches, the pause and the threshold change what every toolbar shows.
chrome.storage.onChanged.addListener((changes, area) => {
  if (changesSettings(changes, area) && ('paused' in changes || 'disabledSites' in changes || 'threshold' in changes)) void refreshAllTabs();
});

// Hooks for the end-to-end tests, in test builds only (`__REALFAKE_TEST__`): a release build has
// none of this (the object is dropped with the branch that uses it). Reachable only from the
// extension's own service worker context; the tests call them through test/support/test-hooks.ts.
// (Chromium's context-menu tests fire chrome.contextMenus.onClicked itself.)
const testHooks = {
  siteOf,
  /** The verdict path as a tab would use it (incognito tabs cannot be opened by the tests). */
  checkImage,
  /** declarativeNetRequest session rules in force (a referrer rule lives only during its retry). */
  activeReferrerRules,
  /** Read-only view of the job queue: waiting and running tasks, requests shed, its caps. */
  queueSize: () => ({ ...queue.size, shed: queue.shed, limits: { ...queue.limits } }),
  /** Resolves once the writes under way (results, counters) have landed. */
  writesSettled,
  /** Holds each result's write back this many milliseconds (this worker's life only). */
  delayRecords,
  /**
   * The listener registered with contextMenus.onClicked, itself. Chromium's tests fire the real
   * event (onClicked.dispatch); Firefox's menus.onClicked has no dispatch, so its tests call this.
   */
  menuListener: onMenuClicked,
};
export type TestHooks = typeof testHooks;
if (__REALFAKE_TEST__) Object.assign(globalThis, { realfakeLensTestHooks: testHooks });

// The service worker: the one place that decides. It only routes here; the logic lives in
// checker.ts (verdicts), prediction-store.ts (IndexedDB), tab-state.ts (counts and toolbar),
// context-menu.ts and offscreen-client.ts (the engine).

import {
  MAX_ITEMS_PER_CHECK,
  PENDING_PORT,
  parseContentToBackground,
  parseOffscreenToBackground,
  parseUiToBackground,
  type BackgroundToContent,
  type CheckReply,
  type ContentToBackground,
  type HistoryEntry,
  type StatusReply,
  type TabReply,
  type UiToBackground,
} from '../shared/protocol';
import { summarize } from '../shared/model-registry';
import { getSettings, scanningAllowed, siteOf } from '../shared/settings';
import { activeManifest, checkImage, queue } from './checker';
import { onMenuClicked, registerContextMenu } from './context-menu';
import { activeReferrerRules } from './hotlink';
import { deleteDownloadedModels, onModelUi } from './models';
import { closeOffscreen, engineStatus, OFFSCREEN_PATH, RELEASED_KEY } from './offscreen-client';
import { clearHistory, deleteStore, listHistory, markLatestMistake, markMistake, readStats, type HistoryRecord } from './prediction-store';
import { forgetTab, readCounts, recordVerdict, resetTab, showScanningState } from './tab-state';

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

async function deliver(sender: chrome.runtime.MessageSender, message: BackgroundToContent): Promise<void> {
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

/** A page's request, withdrawable on its own: "tabId/document/requestId". */
function ownerOf(sender: chrome.runtime.MessageSender, requestId: string): string {
  return `${sender.tab?.id ?? -1}/${sender.documentId ?? sender.frameId ?? 0}/${requestId}`;
}

/** Shed request ids per asking document, told in batches (a full queue sheds many at once). */
const shedOutbox = new Map<string, { sender: chrome.runtime.MessageSender; ids: string[] }>();

function tellShed(sender: chrome.runtime.MessageSender, requestId: string): void {
  const doc = ownerOf(sender, '');
  const box = shedOutbox.get(doc);
  if (box) {
    box.ids.push(requestId);
    return;
  }
  shedOutbox.set(doc, { sender, ids: [requestId] });
  setTimeout(() => {
    const ids = shedOutbox.get(doc)?.ids ?? [];
    shedOutbox.delete(doc);
    for (let i = 0; i < ids.length; i += MAX_ITEMS_PER_CHECK) {
      void deliver(sender, { kind: 'shed', requestIds: ids.slice(i, i + MAX_ITEMS_PER_CHECK) });
    }
  }, 0);
}

/** chrome.storage.session: the user asked to check this tab's images now (on-demand mode). */
const grantKey = (tabId: number): string => `scan-grant:${tabId}`;
const GRANT_MS = 60_000;

async function hasScanGrant(tabId: number): Promise<boolean> {
  const at = (await chrome.storage.session.get(grantKey(tabId)))[grantKey(tabId)];
  return typeof at === 'number' && Date.now() - at < GRANT_MS;
}

async function onContentCheck(
  msg: Extract<ContentToBackground, { kind: 'content/check' }>,
  sender: chrome.runtime.MessageSender,
): Promise<CheckReply> {
  const tab = sender.tab as chrome.tabs.Tab & { id: number };
  // A frame without an address of its own (about:blank, srcdoc) belongs to its tab's page.
  const pageUrl = /^https?:/.test(sender.url ?? '') ? (sender.url as string) : (tab.url ?? '');
  const settings = await getSettings();
  // Enforced here, not only in the content script: a switched-off site is not served.
  if (!scanningAllowed(settings, tab.url ?? pageUrl)) {
    return { accepted: 0, refused: settings.paused ? 'paused' : 'site-off' };
  }
  // On-demand mode: only what the user asked for, shortly after asking.
  if (settings.scanMode === 'on-demand' && (msg.trigger !== 'user' || !(await hasScanGrant(tab.id)))) {
    return { accepted: 0, refused: 'on-demand' };
  }
  for (const item of msg.items) {
    void checkImage({
      url: item.url,
      bytes: item.bytes,
      ...(item.via ? { via: item.via } : {}),
      brokenInPage: item.brokenInPage === true,
      minSide: item.minSide,
      pageUrl,
      tabUrl: tab.url ?? pageUrl,
      pageTitle: tab.title ?? '',
      tabId: tab.id,
      incognito: tab.incognito,
      priority: item.priority,
      owner: ownerOf(sender, item.requestId),
      onShed: () => tellShed(sender, item.requestId),
    }, settings).then(async (verdict) => {
      if (!verdict) return; // withdrawn by the page before it started
      await deliver(sender, { kind: 'verdict', requestId: item.requestId, url: item.url, verdict });
      await recordVerdict(tab.id, item.url, verdict);
    });
  }
  return { accepted: msg.items.length, refused: null };
}

async function onContentMessage(msg: ContentToBackground, sender: chrome.runtime.MessageSender): Promise<unknown> {
  switch (msg.kind) {
    case 'content/check':
      return onContentCheck(msg, sender);
    case 'content/cancel':
      return { cancelled: queue.cancelOwners(msg.requestIds.map((id) => ownerOf(sender, id))) };
    case 'content/report-mistake':
      return { ok: await markLatestMistake(msg.url, msg.mistake) };
  }
}

/** "Check all images on this page now": every frame of the tab scans everything once. */
async function scanTab(tabId: number): Promise<{ ok: boolean }> {
  const settings = await getSettings();
  let url: string | undefined;
  try {
    url = (await chrome.tabs.get(tabId)).url;
  } catch {
    return { ok: false };
  }
  if (!scanningAllowed(settings, url)) return { ok: false };
  await chrome.storage.session.set({ [grantKey(tabId)]: Date.now() });
  const message: BackgroundToContent = { kind: 'scan-now' };
  try {
    await chrome.tabs.sendMessage(tabId, message);
  } catch {
    return { ok: false }; // no content script in that tab (it loaded before the extension)
  }
  return { ok: true };
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
  const released = (await chrome.storage.session.get(RELEASED_KEY))[RELEASED_KEY];
  const note = typeof released === 'number' ? 'released after a while without work; loads again on the next image' : null;
  return {
    engine: { state: 'not-loaded', backend: null, note, model, progress: null, threads: null, precision: null, largestBatch: 0, loadMs: null, loadSteps: null, inferred: { images: 0, ms: 0 } },
    stats,
  };
}

async function deleteAllData(): Promise<void> {
  await deleteStore();
  await deleteDownloadedModels();
  await chrome.storage.sync.clear();
  await chrome.storage.local.clear();
  await chrome.storage.session.clear();
  await refreshScanningState();
}

async function tabReply(tabId: number): Promise<TabReply> {
  const settings = await getSettings();
  let url: string | undefined;
  try {
    url = (await chrome.tabs.get(tabId)).url;
  } catch {
    url = undefined; // the tab is gone
  }
  const site = siteOf(url);
  const c = await readCounts(tabId);
  return {
    site,
    siteEnabled: site !== null && !settings.disabledSites.includes(site),
    paused: settings.paused,
    counts: { checked: c.checked.length, suspected: c.suspected.length, failed: c.failed.length },
  };
}

function toHistoryEntry(h: HistoryRecord): HistoryEntry | null {
  if (h.id === undefined) return null;
  return { ...h, id: h.id, thumbnail: h.thumbnail ?? null, mistake: h.mistake === true };
}

/** Updates the toolbar of every open tab after a switch changed. */
async function refreshScanningState(): Promise<void> {
  const settings = await getSettings();
  for (const tab of await chrome.tabs.query({})) {
    if (tab.id !== undefined) await showScanningState(tab.id, scanningAllowed(settings, tab.url));
  }
}

async function onUi(msg: UiToBackground): Promise<unknown> {
  switch (msg.kind) {
    case 'ui/get-status':
      return status();
    case 'ui/set-site-enabled': {
      const { disabledSites } = await getSettings();
      const others = disabledSites.filter((s) => s !== msg.site);
      // Content scripts react to the storage change themselves; the toolbar is updated before
      // the answer, so what the user sees next is already right.
      await chrome.storage.sync.set({ disabledSites: msg.enabled ? others : [...others, msg.site] });
      await refreshScanningState();
      return { ok: true };
    }
    case 'ui/set-paused':
      await chrome.storage.sync.set({ paused: msg.paused });
      await refreshScanningState();
      return { ok: true };
    case 'ui/get-tab':
      return tabReply(msg.tabId);
    case 'ui/scan-tab':
      return scanTab(msg.tabId);
    case 'ui/list-history': {
      const entries = await listHistory({ site: msg.site ?? undefined, query: msg.query, limit: msg.limit });
      return { entries: entries.map(toHistoryEntry).filter((e): e is HistoryEntry => e !== null) };
    }
    case 'ui/mark-mistake':
      return { ok: await markMistake(msg.id, msg.mistake) };
    case 'ui/clear-history':
      await clearHistory();
      return { ok: true };
    case 'ui/export-history': {
      const entries = await listHistory({ limit: Number.MAX_SAFE_INTEGER });
      return {
        entries: entries
          .map(toHistoryEntry)
          .filter((e): e is HistoryEntry => e !== null)
          .map((e) => ({ ...e, thumbnail: null })),
      };
    }
    case 'ui/delete-all-data':
      await deleteAllData();
      return { ok: true };
    default:
      return onModelUi(msg);
  }
}

/** The offscreen document has been idle: close it, unless work arrived meanwhile. */
async function releaseEngine(): Promise<void> {
  if (queue.pending() > 0) return;
  await closeOffscreen();
  await chrome.storage.session.set({ [RELEASED_KEY]: Date.now() });
}

chrome.runtime.onMessage.addListener((raw: unknown, sender, sendResponse) => {
  if (isOffscreenDocument(sender)) {
    if (parseOffscreenToBackground(raw)) void releaseEngine();
    return false;
  }
  if (isOwnExtensionPage(sender)) {
    const msg = parseUiToBackground(raw);
    if (!msg) return false;
    void onUi(msg).then(sendResponse);
    return true;
  }
  if (isOwnContentScript(sender)) {
    const msg = parseContentToBackground(raw);
    if (!msg) return false;
    void onContentMessage(msg, sender).then(sendResponse);
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
    void chrome.storage.session.remove(grantKey(tabId));
    void resetTab(tabId).then(async () => showScanningState(tabId, scanningAllowed(await getSettings(), tab.url)));
  }
});
chrome.tabs.onRemoved.addListener((tabId) => {
  queue.cancelTab(tabId);
  void forgetTab(tabId);
});
chrome.storage.onChanged.addListener((changes, area) => {
  if (area === 'sync' && ('paused' in changes || 'disabledSites' in changes)) void refreshScanningState();
});

// Hooks for the end-to-end tests, in test builds only (`__REALFAKE_TEST__`): a release build has
// none of this. Reachable only from the extension's own service worker context.
// (Chromium's context-menu tests fire chrome.contextMenus.onClicked itself.)
if (__REALFAKE_TEST__) {
  Object.assign(globalThis, {
    realfakeLensTestHooks: {
      siteOf,
      /** The verdict path as a tab would use it (incognito tabs cannot be opened by the tests). */
      checkImage,
      /** declarativeNetRequest session rules in force (a referrer rule lives only during its retry). */
      activeReferrerRules,
      /** Read-only view of the job queue: waiting and running tasks, requests shed, its caps. */
      queueSize: () => ({ ...queue.size, shed: queue.shed, limits: { ...queue.limits } }),
      /**
       * The listener registered with contextMenus.onClicked, itself. Chromium's tests fire the real
       * event (onClicked.dispatch); Firefox's menus.onClicked has no dispatch, so its tests call this.
       */
      menuListener: onMenuClicked,
    },
  });
}

// What the background does with the popup's and the options page's requests: status, a tab's
// view, the switches, history, "check all now", "delete all data"; the model requests are in
// models.ts. The sender was checked (one of the extension's own pages).

import { summarize } from '../shared/model-registry';
import type { Handlers } from '../shared/protocol/channel';
import type { HistoryEntry, StatusReply, TabReply, UiChannel } from '../shared/protocol/ui';
import { readSettings, scanningAllowed, siteOf, writeSettings } from '../shared/settings';
import { activeManifest } from './checker';
import { deleteDownloadedModels, modelHandlers } from './models';
import { engineStatus, RELEASED_KEY } from './offscreen-client';
import { clearHistory, deleteStore, listHistory, markMistake, readStats, type HistoryRecord } from './prediction-store';
import { grantScan } from './scan-grant';
import { readCounts, refreshAllTabs } from './tab-state';
import { tellPage } from './to-content';

/** "Check all images on this page now": every frame of the tab scans everything once. */
async function scanTab(tabId: number): Promise<{ ok: boolean }> {
  const settings = await readSettings();
  let url: string | undefined;
  try {
    url = (await chrome.tabs.get(tabId)).url;
  } catch {
    return { ok: false };
  }
  if (!scanningAllowed(settings, url)) return { ok: false };
  await grantScan(tabId);
  try {
    await tellPage({ kind: 'scan-now' }, tabId, undefined);
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

async function deleteAllData(): Promise<{ ok: true }> {
  await deleteStore();
  await deleteDownloadedModels();
  await chrome.storage.sync.clear();
  await chrome.storage.local.clear();
  await chrome.storage.session.clear();
  await refreshAllTabs();
  return { ok: true };
}

async function tabReply(tabId: number): Promise<TabReply> {
  const settings = await readSettings();
  let url: string | undefined;
  try {
    url = (await chrome.tabs.get(tabId)).url;
  } catch {
    url = undefined; // the tab is gone
  }
  const site = siteOf(url);
  return {
    site,
    siteEnabled: site !== null && !settings.disabledSites.includes(site),
    paused: settings.paused,
    counts: await readCounts(tabId, settings.threshold),
  };
}

function toHistoryEntry(h: HistoryRecord): HistoryEntry | null {
  if (h.id === undefined) return null;
  return { ...h, id: h.id, thumbnail: h.thumbnail ?? null, mistake: h.mistake === true };
}

async function historyEntries(query: Parameters<typeof listHistory>[0]): Promise<HistoryEntry[]> {
  return (await listHistory(query)).map(toHistoryEntry).filter((e): e is HistoryEntry => e !== null);
}

/**
 * A switch changed: written through the one settings writer. Content scripts react to the
 * storage change themselves; the toolbar is updated before the answer, so what the user sees
 * next is already right.
 */
async function setSwitch(patch: Parameters<typeof writeSettings>[0]): Promise<{ ok: true }> {
  await writeSettings(patch);
  await refreshAllTabs();
  return { ok: true };
}

export const uiHandlers: Handlers<UiChannel> = {
  'ui/get-status': status,
  'ui/set-site-enabled': async (msg) => {
    const others = (await readSettings()).disabledSites.filter((s) => s !== msg.site);
    return setSwitch({ disabledSites: msg.enabled ? others : [...others, msg.site] });
  },
  'ui/set-paused': (msg) => setSwitch({ paused: msg.paused }),
  'ui/get-tab': (msg) => tabReply(msg.tabId),
  'ui/scan-tab': (msg) => scanTab(msg.tabId),
  'ui/list-history': async (msg) => ({ entries: await historyEntries({ site: msg.site ?? undefined, query: msg.query, limit: msg.limit }) }),
  'ui/mark-mistake': async (msg) => ({ ok: await markMistake(msg.id, msg.mistake) }),
  'ui/clear-history': async () => {
    await clearHistory();
    return { ok: true };
  },
  'ui/export-history': async () => ({
    entries: (await historyEntries({ limit: Number.MAX_SAFE_INTEGER })).map((e) => ({ ...e, thumbnail: null })),
  }),
  'ui/delete-all-data': deleteAllData,
  ...modelHandlers,
};

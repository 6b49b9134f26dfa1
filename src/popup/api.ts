// The popup's calls to the service worker: typed wrappers over the one message protocol.

import browser from 'webextension-polyfill';
import { askBackground as ask } from '../shared/ask-background';
import type { HistoryEntry, StatusReply, TabReply } from '../shared/protocol/ui';
import { readSettings } from '../shared/settings';

export const getStatus = (): Promise<StatusReply> => ask({ kind: 'ui/get-status' });
export const getTab = (tabId: number): Promise<TabReply> => ask({ kind: 'ui/get-tab', tabId });
export const setSiteEnabled = (site: string, enabled: boolean): Promise<unknown> =>
  ask({ kind: 'ui/set-site-enabled', site, enabled });
export const setPaused = (paused: boolean): Promise<unknown> => ask({ kind: 'ui/set-paused', paused });
export const markMistake = (id: number, mistake: boolean): Promise<unknown> => ask({ kind: 'ui/mark-mistake', id, mistake });
export const clearHistory = (): Promise<unknown> => ask({ kind: 'ui/clear-history' });
export const scanTab = (tabId: number): Promise<{ ok: boolean }> => ask({ kind: 'ui/scan-tab', tabId });
/** The threshold in force now: history rows are labelled with it, as the page's badges are. */
export const currentThreshold = async (): Promise<number> => (await readSettings(browser.storage.sync)).threshold;
/** The options page, scrolled to its model section. */
export const openModelOptions = (): Promise<unknown> =>
  browser.tabs.create({ url: browser.runtime.getURL('src/options/index.html#h-model') });

export async function listHistory(site: string | null, query: string): Promise<HistoryEntry[]> {
  const reply = await ask({ kind: 'ui/list-history', site, query, limit: 100 });
  return reply.entries;
}

/**
 * The tab the popup is about: the active tab of its window. When the popup page is opened in a
 * tab of its own (tests, or a user pinning it), `?tab=N` names the tab instead.
 */
export async function targetTabId(): Promise<number | null> {
  const named = Number(new URLSearchParams(location.search).get('tab'));
  if (Number.isSafeInteger(named) && named > 0) return named;
  const [tab] = await browser.tabs.query({ active: true, currentWindow: true });
  return tab?.id ?? null;
}

// Per-tab counts (checked, likely generated, couldn't check) and the toolbar badge. Kept in
// chrome.storage.session, so a restarted service worker still knows them.

import type { Verdict } from '../shared/protocol';

export interface TabCounts {
  checked: string[];
  suspected: string[];
  failed: string[];
}

const key = (tabId: number): string => `tab:${tabId}`;
let chain: Promise<unknown> = Promise.resolve();

/** Serialises read-modify-write updates of one worker instance. */
function serial<T>(work: () => Promise<T>): Promise<T> {
  const next = chain.then(work, work);
  chain = next.catch(() => undefined);
  return next;
}

export async function readCounts(tabId: number): Promise<TabCounts> {
  const raw = (await chrome.storage.session.get(key(tabId)))[key(tabId)] as TabCounts | undefined;
  return raw ?? { checked: [], suspected: [], failed: [] };
}

function addOnce(list: string[], url: string): string[] {
  return list.includes(url) ? list : [...list, url];
}

export function recordVerdict(tabId: number, url: string, verdict: Verdict): Promise<void> {
  return serial(async () => {
    const c = await readCounts(tabId);
    if (verdict.status === 'failed' && verdict.reason === 'too-small') return; // skipped, not counted
    if (verdict.status === 'failed') c.failed = addOnce(c.failed, url);
    else {
      c.checked = addOnce(c.checked, url);
      if (verdict.pGenerated >= verdict.threshold) c.suspected = addOnce(c.suspected, url);
    }
    await chrome.storage.session.set({ [key(tabId)]: c });
    await showCount(tabId, c.suspected.length);
  });
}

export function resetTab(tabId: number): Promise<void> {
  return serial(async () => {
    await chrome.storage.session.remove(key(tabId));
    await showCount(tabId, 0);
  });
}

export function forgetTab(tabId: number): Promise<void> {
  return serial(() => chrome.storage.session.remove(key(tabId)));
}

async function showCount(tabId: number, suspected: number): Promise<void> {
  try {
    await chrome.action.setBadgeBackgroundColor({ tabId, color: '#b91c1c' });
    await chrome.action.setBadgeText({ tabId, text: suspected > 0 ? String(suspected) : '' });
    await chrome.action.setTitle({ tabId, title: `Realfake Lens: ${suspected} likely generated image(s) on this page` });
  } catch {
    // The tab is gone.
  }
}

/** Shows the switched-off state on a tab's toolbar icon, or the count again. */
export async function showScanningState(tabId: number, scanning: boolean): Promise<void> {
  try {
    if (scanning) {
      await showCount(tabId, (await readCounts(tabId)).suspected.length);
    } else {
      await chrome.action.setBadgeBackgroundColor({ tabId, color: '#64748b' });
      await chrome.action.setBadgeText({ tabId, text: 'off' });
      await chrome.action.setTitle({ tabId, title: 'Realfake Lens is off on this page' });
    }
  } catch {
    // The tab is gone.
  }
}

// Per-tab counts (checked, likely generated, couldn't check) and the toolbar badge. Kept in
// chrome.storage.session, so a restarted service worker still knows them. A tab keeps each
// picture's score, not its label: "likely generated" is decided when the count is shown, with the
// threshold in force then (isGenerated), as the page's badges and the popup's history do.

import { isGenerated } from '../detector/scores';
import type { Verdict } from '../shared/protocol/shapes';
import { readSettings, scanningAllowed } from '../shared/settings';

interface StoredCounts {
  /** Judged pictures: URL and p(generated). */
  scores: Array<[string, number]>;
  failed: string[];
}

export interface TabCounts {
  checked: number;
  suspected: number;
  failed: number;
}

const key = (tabId: number): string => `tab:${tabId}`;
let chain: Promise<unknown> = Promise.resolve();

/** Serialises read-modify-write updates of one worker instance. */
function serial<T>(work: () => Promise<T>): Promise<T> {
  const next = chain.then(work, work);
  chain = next.catch(() => undefined);
  return next;
}

async function readStored(tabId: number): Promise<StoredCounts> {
  const raw = (await chrome.storage.session.get(key(tabId)))[key(tabId)] as StoredCounts | undefined;
  return raw ?? { scores: [], failed: [] };
}

/** The tab's counts, "likely generated" at the current threshold. */
export async function readCounts(tabId: number, threshold?: number): Promise<TabCounts> {
  const [stored, t] = await Promise.all([readStored(tabId), threshold ?? readSettings().then((s) => s.threshold)]);
  return {
    checked: stored.scores.length,
    suspected: stored.scores.filter(([, p]) => isGenerated(p, t)).length,
    failed: stored.failed.length,
  };
}

export function recordVerdict(tabId: number, url: string, verdict: Verdict): Promise<void> {
  return recordVerdicts(tabId, [[url, verdict]]);
}

/** Verdicts waiting for their tab's next update, by tab: they are written together. */
const waiting = new Map<number, { verdicts: Array<[string, Verdict]>; done: Promise<void> }>();

/**
 * Counts verdicts of a tab's pictures. Verdicts arriving while an update is under way are
 * written together in the next one: one read, one write and one toolbar update for a burst.
 */
export function recordVerdicts(tabId: number, verdicts: Array<[string, Verdict]>): Promise<void> {
  const joined = waiting.get(tabId);
  if (joined) {
    joined.verdicts.push(...verdicts);
    return joined.done;
  }
  const batch = { verdicts: [...verdicts], done: Promise.resolve() };
  waiting.set(tabId, batch);
  batch.done = serial(async () => {
    waiting.delete(tabId);
    const counted = batch.verdicts.filter(([, v]) => !(v.status === 'failed' && v.reason === 'too-small')); // skipped, not counted
    if (counted.length === 0) return;
    const c = await readStored(tabId);
    for (const [url, verdict] of counted) {
      if (verdict.status === 'failed') {
        if (!c.failed.includes(url)) c.failed.push(url);
      } else if (!c.scores.some(([u]) => u === url)) {
        c.scores.push([url, verdict.pGenerated]);
      }
    }
    await chrome.storage.session.set({ [key(tabId)]: c });
    await showCount(tabId);
  });
  return batch.done;
}

export function resetTab(tabId: number): Promise<void> {
  return serial(async () => {
    await chrome.storage.session.remove(key(tabId));
    await showCount(tabId);
  });
}

export function forgetTab(tabId: number): Promise<void> {
  return serial(() => chrome.storage.session.remove(key(tabId)));
}

/**
 * The tab's count, or "off" where its site is switched off or everything is paused: a count
 * updated after the switch (a verdict or a report already on its way) must not hide it.
 */
async function showCount(tabId: number): Promise<void> {
  try {
    const [settings, tab] = await Promise.all([readSettings(), chrome.tabs.get(tabId)]);
    if (!scanningAllowed(settings, tab.url)) return await showOff(tabId);
    const { suspected } = await readCounts(tabId, settings.threshold);
    await chrome.action.setBadgeBackgroundColor({ tabId, color: '#b91c1c' });
    await chrome.action.setBadgeText({ tabId, text: suspected > 0 ? String(suspected) : '' });
    await chrome.action.setTitle({ tabId, title: `Realfake Lens: ${suspected} likely generated image(s) on this page` });
  } catch {
    // The tab is gone.
  }
}

async function showOff(tabId: number): Promise<void> {
  await chrome.action.setBadgeBackgroundColor({ tabId, color: '#64748b' });
  await chrome.action.setBadgeText({ tabId, text: 'off' });
  await chrome.action.setTitle({ tabId, title: 'Realfake Lens is off on this page' });
}

/** Shows the switched-off state on a tab's toolbar icon, or the count again. */
export async function showScanningState(tabId: number, scanning: boolean): Promise<void> {
  if (scanning) return showCount(tabId);
  try {
    await showOff(tabId);
  } catch {
    // The tab is gone.
  }
}

/** Updates the toolbar of every open tab after a setting changed (a switch, the pause, the threshold). */
export async function refreshAllTabs(): Promise<void> {
  const settings = await readSettings();
  for (const tab of await chrome.tabs.query({})) {
    if (tab.id !== undefined) await showScanningState(tab.id, scanningAllowed(settings, tab.url));
  }
}

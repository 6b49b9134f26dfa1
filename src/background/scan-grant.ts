// On-demand mode: the user asked, from the popup, to check this tab's images now. The grant is
// kept in chrome.storage.session for a minute, so a restarted worker still honours it.

const grantKey = (tabId: number): string => `scan-grant:${tabId}`;
const GRANT_MS = 60_000;

export async function grantScan(tabId: number): Promise<void> {
  await chrome.storage.session.set({ [grantKey(tabId)]: Date.now() });
}

export async function hasScanGrant(tabId: number): Promise<boolean> {
  const at = (await chrome.storage.session.get(grantKey(tabId)))[grantKey(tabId)];
  return typeof at === 'number' && Date.now() - at < GRANT_MS;
}

export function forgetScanGrant(tabId: number): Promise<void> {
  return chrome.storage.session.remove(grantKey(tabId));
}

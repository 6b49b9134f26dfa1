// Hotlink protection: servers that refuse a picture unless the request names the page showing it.
// The extension's fetches carry no referrer (and no cookies); after a refusal one retry carries
// the page's address, set by a declarativeNetRequest session rule that matches only that address,
// only requests of this extension outside any tab, and lives only while that request runs.

import { ownInitiatorDomain } from '../shared/platform';

/** Statuses a hotlink check answers with; anything else is not worth a second request. */
export const REFUSED_STATUSES: readonly number[] = [401, 403, 404];

/**
 * The Referer a browser sends by default (strict-origin-when-cross-origin) when `pageUrl` shows
 * `imageUrl`: the page's address without its fragment to its own origin, the origin alone to
 * another, nothing from https to http. Null: no referrer would be sent.
 */
export function referrerFor(imageUrl: string, pageUrl: string): string | null {
  let image: URL;
  let page: URL;
  try {
    image = new URL(imageUrl);
    page = new URL(pageUrl);
  } catch {
    return null;
  }
  if (!/^https?:$/.test(image.protocol) || !/^https?:$/.test(page.protocol)) return null;
  if (page.protocol === 'https:' && image.protocol === 'http:') return null;
  if (image.origin === page.origin) {
    page.hash = '';
    page.username = '';
    page.password = '';
    return page.href;
  }
  return `${page.origin}/`;
}

// Session rules of this extension are only ever these: the ones a stopped worker left behind are
// removed before the first new one is added (a stale rule would send a referrer later).
let cleared: Promise<void> | null = null;
function clearStaleRules(): Promise<void> {
  cleared ??= chrome.declarativeNetRequest
    .getSessionRules()
    .then((rules) => chrome.declarativeNetRequest.updateSessionRules({ removeRuleIds: rules.map((r) => r.id) }))
    .catch(() => undefined);
  return cleared;
}

let nextRuleId = 1;

/**
 * Runs `request` (one fetch of `imageUrl` by the offscreen document) with `referrer` as its
 * Referer header, and removes the rule once it has finished. Null, and no request, when Chromium
 * refuses the rule (an address its URL filter syntax cannot say, or a condition it rejects).
 */
export async function withReferrer<T>(imageUrl: string, referrer: string, request: () => Promise<T>): Promise<T | null> {
  await clearStaleRules();
  const id = nextRuleId++;
  // Called from an async function: Firefox throws (rather than rejects) on a rule it refuses.
  const added = await (async () => chrome.declarativeNetRequest.updateSessionRules({
    addRules: [
      {
        id,
        priority: 1,
        // String values, not the enums: Firefox has no RuleActionType/HeaderOperation/ResourceType objects.
        action: {
          type: 'modifyHeaders' as chrome.declarativeNetRequest.RuleActionType,
          requestHeaders: [{ header: 'referer', operation: 'set' as chrome.declarativeNetRequest.HeaderOperation, value: referrer }],
        },
        condition: {
          // The exact address (a '*' in it would act as a wildcard: harmless, as the rule only
          // matches this extension's own requests for as long as this one runs).
          urlFilter: `|${imageUrl}|`,
          initiatorDomains: [ownInitiatorDomain()],
          tabIds: [chrome.tabs.TAB_ID_NONE],
          resourceTypes: ['xmlhttprequest' as chrome.declarativeNetRequest.ResourceType],
        },
      },
    ],
  }))().then(
    () => true,
    () => false,
  );
  if (!added) return null;
  try {
    return await request();
  } finally {
    await chrome.declarativeNetRequest.updateSessionRules({ removeRuleIds: [id] }).catch(() => undefined);
  }
}

/** Session rules in force now (for the test build's hooks: none outside a retry). */
export async function activeReferrerRules(): Promise<number> {
  return (await chrome.declarativeNetRequest.getSessionRules()).length;
}

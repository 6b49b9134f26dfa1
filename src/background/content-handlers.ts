// What the background does with a content script's requests: admits or refuses a batch of
// pictures (switches, on-demand mode), answers what the cache already knows about a page's
// addresses and counts those the page then showed, withdraws requests, and records a reported
// mistake.

import type { Handlers, Request } from '../shared/protocol/channel';
import { MAX_ITEMS_PER_CHECK, type CheckReply, type CheckTrigger, type ContentChannel, type LookupReply } from '../shared/protocol/content';
import { readSettings, scanningAllowed, type Settings } from '../shared/settings';
import { checkImage, fromTab, lookUpCached, queue, useCached } from './checker';
import { markLatestMistake } from './prediction-store';
import { hasScanGrant } from './scan-grant';
import { recordVerdict, recordVerdicts } from './tab-state';
import { deliver } from './to-content';

type Sender = chrome.runtime.MessageSender;

/** A page's request, withdrawable on its own: "tabId/document/requestId". */
function ownerOf(sender: Sender, requestId: string): string {
  return `${sender.tab?.id ?? -1}/${sender.documentId ?? sender.frameId ?? 0}/${requestId}`;
}

/** Shed request ids per asking document, told in batches (a full queue sheds many at once). */
const shedOutbox = new Map<string, { sender: Sender; ids: string[] }>();

function tellShed(sender: Sender, requestId: string): void {
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

type Refusal = NonNullable<CheckReply['refused']>;

interface Admitted {
  tab: chrome.tabs.Tab & { id: number };
  pageUrl: string;
  settings: Settings;
}

/**
 * Whether a page's request is served (content/check, lookup and shown alike): refused when
 * paused, switched off, or in on-demand mode without the user having asked shortly before.
 */
async function admit(trigger: CheckTrigger, sender: Sender): Promise<Admitted | { refused: Refusal }> {
  const tab = sender.tab as chrome.tabs.Tab & { id: number };
  // A frame without an address of its own (about:blank, srcdoc) belongs to its tab's page.
  const pageUrl = /^https?:/.test(sender.url ?? '') ? (sender.url as string) : (tab.url ?? '');
  const settings = await readSettings();
  // Enforced here, not only in the content script: a switched-off site is not served.
  if (!scanningAllowed(settings, tab.url ?? pageUrl)) return { refused: settings.paused ? 'paused' : 'site-off' };
  // On-demand mode: only what the user asked for, shortly after asking.
  if (settings.scanMode === 'on-demand' && (trigger !== 'user' || !(await hasScanGrant(tab.id)))) return { refused: 'on-demand' };
  return { tab, pageUrl, settings };
}

async function onLookup(msg: Request<ContentChannel, 'content/lookup'>, sender: Sender): Promise<LookupReply> {
  const admitted = await admit(msg.trigger, sender);
  if ('refused' in admitted) return { refused: admitted.refused, known: [] };
  const { tab, pageUrl, settings } = admitted;
  const answers = await lookUpCached(msg.urls, tab.url ?? pageUrl, settings);
  return { refused: null, known: answers.map(({ url, verdict, stale }) => ({ url, verdict, stale })) };
}

async function onShown(msg: Request<ContentChannel, 'content/shown'>, sender: Sender): Promise<{ counted: number }> {
  const admitted = await admit(msg.trigger, sender);
  if ('refused' in admitted) return { counted: 0 };
  const { tab, pageUrl, settings } = admitted;
  const answers = await useCached(msg.urls, fromTab(tab, pageUrl), settings);
  await recordVerdicts(tab.id, answers.map(({ url, verdict }) => [url, verdict]));
  return { counted: answers.length };
}

async function onCheck(msg: Request<ContentChannel, 'content/check'>, sender: Sender): Promise<CheckReply> {
  const admitted = await admit(msg.trigger, sender);
  if ('refused' in admitted) return { accepted: 0, refused: admitted.refused };
  const { tab, pageUrl, settings } = admitted;
  for (const item of msg.items) {
    void checkImage({
      url: item.url,
      bytes: item.bytes,
      ...(item.via ? { via: item.via } : {}),
      brokenInPage: item.brokenInPage === true,
      minSide: item.minSide,
      ...fromTab(tab, pageUrl),
      priority: item.priority,
      owner: ownerOf(sender, item.requestId),
      onShed: () => tellShed(sender, item.requestId),
    }, settings).then(async (verdict) => {
      if (!verdict) return; // withdrawn by the page before it started
      // Counted beside the delivery, not after the page's reply (which waits for the page's busy
      // main thread): a worker stopped meanwhile must not lose the count of a verdict it gave.
      await Promise.all([deliver(sender, { kind: 'verdict', requestId: item.requestId, url: item.url, verdict }), recordVerdict(tab.id, item.url, verdict)]);
    });
  }
  return { accepted: msg.items.length, refused: null };
}

/** The content scripts' requests; the sender was checked (our content script in a tab). */
export const contentHandlers: Handlers<ContentChannel, Sender> = {
  'content/check': onCheck,
  'content/lookup': onLookup,
  'content/shown': onShown,
  'content/cancel': (msg, sender) => ({ cancelled: queue.cancelOwners(msg.requestIds.map((id) => ownerOf(sender, id))) }),
  'content/report-mistake': async (msg) => ({ ok: await markLatestMistake(msg.url, msg.mistake) }),
};

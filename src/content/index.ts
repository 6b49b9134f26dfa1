// Content script: finds images, asks the background about them in batches, and shows the
// verdicts as badges. It never fetches or decodes pixels itself.

import browser from 'webextension-polyfill';
import {
  MAX_ITEMS_PER_CHECK,
  parseBackgroundToContent,
  type CheckItem,
  type ContentToBackground,
} from '../shared/protocol';
import { DEFAULT_SETTINGS, normalizeSettings } from '../shared/settings';
import { BadgeLayer } from './badge-layer';
import { findCandidates } from './image-finder';

const lifetime = new AbortController();
const layer = new BadgeLayer(lifetime.signal);
const asked = new WeakMap<HTMLImageElement, string>();
const pending = new Map<string, HTMLImageElement>();
let minSize = DEFAULT_SETTINGS.minImageSize;
let nextId = 0;
let scanTimer: ReturnType<typeof setTimeout> | undefined;

async function scan(): Promise<void> {
  const found = findCandidates(asked, minSize);
  if (found.length === 0) return;
  const items: CheckItem[] = [];
  for (const { image, url } of found) {
    const requestId = `r${++nextId}`;
    asked.set(image, url);
    pending.set(requestId, image);
    layer.show(image, url, null);
    items.push({ requestId, url });
  }
  for (let i = 0; i < items.length; i += MAX_ITEMS_PER_CHECK) {
    const message: ContentToBackground = { kind: 'content/check', items: items.slice(i, i + MAX_ITEMS_PER_CHECK) };
    await browser.runtime.sendMessage(message);
  }
}

function scheduleScan(delay = 50): void {
  clearTimeout(scanTimer);
  scanTimer = setTimeout(() => void scan().catch(() => undefined), delay);
}

browser.runtime.onMessage.addListener((raw: unknown, sender: browser.Runtime.MessageSender) => {
  if (sender.id !== browser.runtime.id || sender.tab) return undefined;
  const msg = parseBackgroundToContent(raw);
  if (!msg) return undefined;
  const image = pending.get(msg.requestId);
  // Drop verdicts for requests this document did not make or whose image changed since.
  if (!image || asked.get(image) !== msg.url) return undefined;
  pending.delete(msg.requestId);
  layer.show(image, msg.url, msg.verdict);
  return undefined;
});

// Images that load, fail or appear later get their turn.
document.addEventListener('load', () => scheduleScan(), { capture: true, signal: lifetime.signal });
document.addEventListener('error', () => scheduleScan(), { capture: true, signal: lifetime.signal });
const observer = new MutationObserver(() => scheduleScan(100));
observer.observe(document.documentElement, { childList: true, subtree: true, attributes: true, attributeFilter: ['src', 'srcset'] });
lifetime.signal.addEventListener('abort', () => observer.disconnect());

void browser.storage.sync
  .get(Object.keys(DEFAULT_SETTINGS))
  .then((raw) => {
    minSize = normalizeSettings(raw).minImageSize;
  })
  .catch(() => undefined)
  .finally(() => scheduleScan(0));

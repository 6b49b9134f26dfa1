// Content script: finds images, asks the background about them in batches (visible ones
// first), and shows the verdicts as badges. It never fetches or decodes pixels itself.

import browser from 'webextension-polyfill';
import {
  MAX_ITEMS_PER_CHECK,
  PENDING_PORT,
  parseBackgroundToContent,
  parseCheckReply,
  type CheckItem,
  type ContentToBackground,
  type ScanPriority,
  type Verdict,
} from '../shared/protocol';
import { DEFAULT_SETTINGS, normalizeSettings, scanningAllowed, type Settings } from '../shared/settings';
import { BadgeLayer } from './badge-layer';
import { findCandidates } from './image-finder';

/**
 * Unanswered requests are asked again: at once when the worker's port drops (it was stopped or
 * restarted), and after this long in any case (backing off), should a message be lost.
 */
const REASK_AFTER_MS = 15_000;

interface Pending {
  image: HTMLImageElement;
  item: CheckItem;
  sentAt: number;
  attempts: number;
}

let lifetime: AbortController | null = null;
/** False while the layer exists only to show context-menu answers on a switched-off page. */
let scanning = false;
let layer: BadgeLayer | null = null;
let asked = new WeakMap<HTMLImageElement, string>();
const pending = new Map<string, Pending>();
let settings: Settings = DEFAULT_SETTINGS;
let nextId = 0;
let scanTimer: ReturnType<typeof setTimeout> | undefined;
let reaskTimer: ReturnType<typeof setInterval> | undefined;
/** Open while requests are unanswered; it drops when the service worker stops. */
let workerPort: browser.Runtime.Port | null = null;

function priorityOf(image: HTMLImageElement): ScanPriority {
  const r = image.getBoundingClientRect();
  const vh = window.innerHeight;
  const vw = window.innerWidth;
  if (r.bottom > 0 && r.top < vh && r.right > 0 && r.left < vw) return 'visible';
  if (r.bottom > -vh && r.top < 2 * vh) return 'near';
  return 'rest';
}

async function send(items: CheckItem[]): Promise<void> {
  for (let i = 0; i < items.length; i += MAX_ITEMS_PER_CHECK) {
    const message: ContentToBackground = { kind: 'content/check', items: items.slice(i, i + MAX_ITEMS_PER_CHECK) };
    const reply = parseCheckReply(await browser.runtime.sendMessage(message));
    if (reply?.refused) {
      stop();
      return;
    }
  }
}

async function scan(): Promise<void> {
  if (!layer) return;
  const found = findCandidates(asked, settings.minImageSize);
  if (found.length === 0) return;
  const items: CheckItem[] = [];
  for (const { image, url } of found) {
    const item: CheckItem = { requestId: `r${++nextId}`, url, priority: priorityOf(image) };
    asked.set(image, url);
    pending.set(item.requestId, { image, item, sentAt: Date.now(), attempts: 1 });
    layer.show(image, url, null);
    items.push(item);
  }
  const rank: Record<ScanPriority, number> = { visible: 0, near: 1, rest: 2 };
  items.sort((a, b) => rank[a.priority] - rank[b.priority]);
  watchWorker();
  await send(items);
}

function watchWorker(): void {
  if (workerPort || pending.size === 0 || !scanning) return;
  try {
    workerPort = browser.runtime.connect({ name: PENDING_PORT });
  } catch {
    return; // the extension was reloaded: this script is orphaned
  }
  workerPort.onDisconnect.addListener(() => {
    workerPort = null;
    // The worker stopped with our requests in its memory: ask again for all of them (this
    // wakes it), then watch the new one.
    const unanswered = Array.from(pending.values()).filter((p) => p.image.isConnected);
    if (unanswered.length === 0 || !scanning) return;
    for (const p of unanswered) p.sentAt = Date.now();
    void send(unanswered.map((p) => p.item))
      .then(watchWorker)
      .catch(() => undefined);
  });
}

function unwatchWorkerWhenDone(): void {
  if (pending.size > 0 || !workerPort) return;
  workerPort.disconnect();
  workerPort = null;
}

function reaskStale(): void {
  const now = Date.now();
  const stale: CheckItem[] = [];
  for (const p of pending.values()) {
    if (now - p.sentAt < REASK_AFTER_MS * 2 ** (p.attempts - 1)) continue;
    if (!p.image.isConnected) continue;
    p.sentAt = now;
    p.attempts++;
    stale.push(p.item);
  }
  if (stale.length > 0) void send(stale).catch(() => undefined);
}

function scheduleScan(delay = 50): void {
  if (!lifetime) return;
  clearTimeout(scanTimer);
  scanTimer = setTimeout(() => void scan().catch(() => undefined), delay);
}

function start(): void {
  if (scanning) return;
  lifetime?.abort();
  scanning = true;
  lifetime = new AbortController();
  const { signal } = lifetime;
  layer = new BadgeLayer(signal);
  asked = new WeakMap();
  // Images that load, fail or appear later get their turn.
  document.addEventListener('load', () => scheduleScan(), { capture: true, signal });
  document.addEventListener('error', () => scheduleScan(), { capture: true, signal });
  const observer = new MutationObserver(() => scheduleScan(100));
  observer.observe(document.documentElement, { childList: true, subtree: true, attributes: true, attributeFilter: ['src', 'srcset'] });
  reaskTimer = setInterval(reaskStale, REASK_AFTER_MS / 2);
  signal.addEventListener('abort', () => {
    observer.disconnect();
    clearTimeout(scanTimer);
    clearInterval(reaskTimer);
  });
  scheduleScan(0);
}

/** Switched off: every badge goes, nothing more is asked. */
function stop(): void {
  scanning = false;
  lifetime?.abort();
  lifetime = null;
  layer = null;
  pending.clear();
  unwatchWorkerWhenDone();
}

function applySettings(next: Settings): void {
  const minSizeChanged = next.minImageSize !== settings.minImageSize;
  settings = next;
  layer?.relabel(settings.threshold);
  if (!scanningAllowed(settings, location.href)) stop();
  else if (!scanning) start();
  else if (minSizeChanged) scheduleScan(0); // images skipped before may qualify now
}

/** A verdict the user asked for from the context menu: shown on every image with that URL. */
function showMenuVerdict(url: string, verdict: Verdict): void {
  const images = Array.from(document.images).filter((i) => i.currentSrc === url || i.src === url);
  if (images.length === 0) return;
  if (!layer) {
    // Scanning is off here; the badge layer exists only for this answer.
    lifetime = new AbortController();
    layer = new BadgeLayer(lifetime.signal);
  }
  for (const image of images) layer.show(image, url, verdict);
}

browser.runtime.onMessage.addListener((raw: unknown, sender: browser.Runtime.MessageSender) => {
  if (sender.id !== browser.runtime.id || sender.tab) return undefined;
  const msg = parseBackgroundToContent(raw);
  if (!msg) return undefined;
  if (msg.kind === 'menu-verdict') {
    showMenuVerdict(msg.url, msg.verdict);
    return undefined;
  }
  const p = pending.get(msg.requestId);
  // Drop verdicts for requests this document did not make, already answered, or whose image changed.
  if (!p || !layer || asked.get(p.image) !== msg.url) return undefined;
  pending.delete(msg.requestId);
  layer.show(p.image, msg.url, msg.verdict);
  unwatchWorkerWhenDone();
  return undefined;
});

browser.storage.onChanged.addListener((changes, area) => {
  if (area !== 'sync') return;
  if (!Object.keys(changes).some((k) => k in DEFAULT_SETTINGS)) return;
  void browser.storage.sync.get(Object.keys(DEFAULT_SETTINGS)).then((raw) => applySettings(normalizeSettings(raw)));
});

void browser.storage.sync
  .get(Object.keys(DEFAULT_SETTINGS))
  .then((raw) => applySettings(normalizeSettings(raw)))
  .catch(() => applySettings(DEFAULT_SETTINGS));

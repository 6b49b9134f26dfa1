// Content script: runs in every frame of http(s) pages. It decides whether this document is
// scanned (global pause, the top page's site switch, automatic or on-demand mode), runs one
// PageScan while it is, and routes the background's answers to it. It never fetches or decodes
// pixels itself, except the bytes of blob:/data: pictures only the page can read.

import browser from 'webextension-polyfill';
import { parseBackgroundToContent, type MenuPicture } from '../shared/protocol';
import { DEFAULT_SETTINGS, normalizeSettings, scanningAllowed, type Settings } from '../shared/settings';
import { PageScan } from './page-scan';
import { PointerWatch, type Pointed } from './pointer-picture';
import { askedAddress, needsPageBytes, readPageBytes } from './page-bytes';

let settings: Settings = DEFAULT_SETTINGS;
let scan: PageScan | null = null;
let lifetime: AbortController | null = null;
/** True while the scan exists only to show context-menu answers on a switched-off page. */
let menuOnly = false;

/** The last right-click's picture, whatever the switches say: the user asks about it by hand. */
const pointer = new PointerWatch();
/** Pictures sent from the menu, by the address the background knows them by (a label for bytes). */
const menuAsked = new Map<string, Pointed>();
const MENU_ASKED_MAX = 16;

/** "Check image" was chosen: the picture under the pointer, as the scanner would send it. */
async function answerMenu(srcUrl: string | null): Promise<MenuPicture> {
  const pointed = pointer.resolve(srcUrl);
  if (!pointed) return { found: false, why: 'nothing-there' };
  const { url } = pointed.source;
  const label = askedAddress(url);
  menuAsked.delete(label);
  menuAsked.set(label, pointed);
  if (menuAsked.size > MENU_ASKED_MAX) menuAsked.delete(menuAsked.keys().next().value as string);
  if (!needsPageBytes(url)) return { found: true, url };
  try {
    return { found: true, url: label, bytes: await readPageBytes(url) };
  } catch {
    return { found: false, why: 'unreadable' };
  }
}

/** The switches follow the tab's top page: a frame asks about its top page's site. */
function siteUrl(): string {
  const ancestors = location.ancestorOrigins;
  if (ancestors && ancestors.length > 0) return ancestors[ancestors.length - 1] ?? location.href;
  return location.href;
}

function start(forMenuOnly: boolean): PageScan {
  if (scan && (!menuOnly || forMenuOnly)) return scan;
  lifetime?.abort();
  lifetime = new AbortController();
  menuOnly = forMenuOnly;
  const scanSettings = forMenuOnly ? { ...settings, scanMode: 'on-demand' as const } : settings;
  scan = new PageScan(scanSettings, { refused: (refusal) => refusal !== 'on-demand' && stop() }, lifetime.signal);
  return scan;
}

/** Switched off: every badge goes, nothing more is asked. */
function stop(): void {
  lifetime?.abort();
  lifetime = null;
  scan = null;
  menuOnly = false;
}

function applySettings(next: Settings): void {
  settings = next;
  if (!scanningAllowed(settings, siteUrl())) {
    stop();
    return;
  }
  if (!scan || menuOnly) start(false);
  else scan.applySettings(settings);
}

browser.runtime.onMessage.addListener((raw: unknown, sender: browser.Runtime.MessageSender) => {
  // Only the extension's service worker, never another tab's script.
  if (sender.id !== browser.runtime.id || sender.tab) return undefined;
  const msg = parseBackgroundToContent(raw);
  if (!msg) return undefined;
  switch (msg.kind) {
    case 'menu-verdict': {
      const pointed = menuAsked.get(msg.url);
      start(!scanningAllowed(settings, siteUrl())).showMenuVerdict(pointed?.source.url ?? msg.url, msg.verdict, pointed);
      break;
    }
    case 'menu-resolve':
      return answerMenu(msg.srcUrl);
    case 'scan-now':
      if (scanningAllowed(settings, siteUrl())) start(false).checkAll();
      break;
    case 'verdict':
      scan?.onVerdict(msg.requestId, msg.verdict);
      break;
    case 'shed':
      scan?.onShed(msg.requestIds);
      break;
  }
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

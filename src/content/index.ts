// Content script: runs in every frame of http(s) pages. It decides whether this document is
// scanned (global pause, the top page's site switch, automatic or on-demand mode), runs one
// PageScan while it is, and routes the background's answers to it. It never fetches or decodes
// pixels itself, except the bytes of blob:/data: pictures only the page can read.

import browser from 'webextension-polyfill';
import { route, type Handlers } from '../shared/protocol/channel';
import { parseBackgroundToContent, type MenuPicture, type PageChannel } from '../shared/protocol/content';
import { changesSettings, DEFAULT_SETTINGS, readSettings, scanningAllowed, type Settings } from '../shared/settings';
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

/** The background's messages to this document. */
const handlers: Handlers<PageChannel> = {
  'menu-verdict': (msg) => {
    const pointed = menuAsked.get(msg.url);
    start(!scanningAllowed(settings, siteUrl())).showMenuVerdict(pointed?.source.url ?? msg.url, msg.verdict, pointed);
  },
  'menu-resolve': (msg) => answerMenu(msg.srcUrl),
  'scan-now': () => {
    if (scanningAllowed(settings, siteUrl())) start(false).checkAll();
  },
  verdict: (msg) => scan?.onVerdict(msg.requestId, msg.verdict),
  shed: (msg) => scan?.onShed(msg.requestIds),
};

browser.runtime.onMessage.addListener((raw: unknown, sender: browser.Runtime.MessageSender) => {
  // Only the extension's service worker, never another tab's script.
  if (sender.id !== browser.runtime.id || sender.tab) return undefined;
  const msg = parseBackgroundToContent(raw);
  if (!msg) return undefined;
  return route(handlers, msg, undefined);
});

const readAndApply = (): Promise<void> => readSettings(browser.storage.sync).then(applySettings);

browser.storage.onChanged.addListener((changes, area) => {
  if (changesSettings(changes, area)) void readAndApply();
});

void readAndApply().catch(() => applySettings(DEFAULT_SETTINGS));

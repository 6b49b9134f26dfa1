// The channel between a page's content script and the background, both ways. Each direction is
// a map from request kind to { body, reply }; the receiver validates every message with the
// parser here (`parseContentToBackground` in the background, `parseBackgroundToContent` in the
// page), and the sender validates the reply.

import type { Kind, ReplyParsers, Request } from './channel';
import { noReply } from './channel';
import { parseVerdict, type Verdict } from './shapes';
import { isBytesUrl, isMinSide, isRecord, isShortString, isUrl } from './validate';

export type ScanPriority = 'visible' | 'near' | 'rest';
export const SCAN_PRIORITIES: readonly ScanPriority[] = ['visible', 'near', 'rest'];

export interface CheckItem {
  /** Chosen by the content script; echoed back so it can find the element. */
  requestId: string;
  /** The address the page shows (for blob: and long data: images, a label the history can keep). */
  url: string;
  priority: ScanPriority;
  /**
   * Images whose natural size the content script cannot see (CSS backgrounds, posters, SVG
   * <image>) are not judged when they decode smaller than this on the shorter side; 0: no minimum.
   */
  minSide: number;
  /** The picture itself, as a data: URL, for images only the page can read (blob:, long data:). */
  bytes?: string;
  /** The page's own <img> failed to load this address: a refusal is the page's too, not hotlinking. */
  brokenInPage?: true;
  /** With `bytes`: the page read a picture at an http(s) address after the server refused the extension. */
  via?: 'page';
}

export const MAX_ITEMS_PER_CHECK = 64;

/** "auto": the content script scans by itself; "user": the user asked (popup's "check all now"). */
export type CheckTrigger = 'auto' | 'user';

/**
 * The background's answer to content/check: refused when scanning is off for the page, or when
 * the page scans by itself in on-demand mode (or asks "user" without the user having asked).
 */
export interface CheckReply {
  accepted: number;
  refused: null | 'paused' | 'site-off' | 'on-demand';
}

/** The most addresses one content/lookup or content/shown names. */
export const MAX_URLS_PER_LOOKUP = 256;

/** A verdict the cache already holds for an address of the page (content/lookup's answer). */
export interface KnownVerdict {
  url: string;
  /** Always `status: 'done'`, `fromCache: true`. */
  verdict: Verdict;
  /** Older than revalidateAfterHours: shown, and asked about (checked against the server) when near. */
  stale: boolean;
}

/** content/lookup's answer: refused as content/check is, or what the cache knows (unknown addresses are left out). */
export interface LookupReply {
  refused: CheckReply['refused'];
  known: KnownVerdict[];
}

// ---- content -> background ----------------------------------------------------------------

export type ContentChannel = {
  'content/check': Kind<{ trigger: CheckTrigger; items: CheckItem[] }, CheckReply>;
  /**
   * What the cache already says about these addresses: no fetch, no inference, nothing written
   * (one IndexedDB read for all). Sent as soon as pictures are found, before they come near.
   */
  'content/lookup': Kind<{ trigger: CheckTrigger; urls: string[] }, LookupReply>;
  /**
   * Pictures badged from a fresh looked-up verdict (they came near): counted for the tab and the
   * statistics as a cache hit answered by content/check would be.
   */
  'content/shown': Kind<{ trigger: CheckTrigger; urls: string[] }, { counted: number }>;
  /** These requests are no longer wanted (their images scrolled far away before they started). */
  'content/cancel': Kind<{ requestIds: string[] }, { cancelled: number }>;
  /** The user pressed "report a mistake" on a badge's card (a trusted click). */
  'content/report-mistake': Kind<{ url: string; mistake: boolean }, { ok: boolean }>;
};
export type ContentToBackground = Request<ContentChannel>;

/**
 * A content script keeps a port of this name open while it waits for verdicts. Nothing travels
 * on it: it drops when the service worker stops, and the content script then asks again.
 */
export const PENDING_PORT = 'realfake-lens/pending';

// ---- background -> content ----------------------------------------------------------------

/** The content script's answer to menu-resolve: the picture, or why there is none. */
export type MenuPicture =
  /** `url` as the scanner sends it (a label for blob:/long data: pictures, whose `bytes` travel along). */
  | { found: true; url: string; bytes?: string }
  | { found: false; why: 'nothing-there' | 'unreadable' };

export type PageChannel = {
  verdict: Kind<{ requestId: string; url: string; verdict: Verdict }, void>;
  /** The user asked about one image (context menu): badge the images showing `url`, any size. */
  'menu-verdict': Kind<{ url: string; verdict: Verdict }, void>;
  /** The user asked, from the popup, for every image on the page to be checked now. */
  'scan-now': Kind<object, void>;
  /**
   * The worker's queue was full and dropped these requests (off-screen ones first): the page
   * treats them as withdrawn and asks again when their pictures come near or into view.
   */
  shed: Kind<{ requestIds: string[] }, void>;
  /**
   * "Check image" was chosen from the context menu: which picture was under the pointer at the
   * last right-click? `srcUrl` is the image Chrome saw there, if it saw one.
   */
  'menu-resolve': Kind<{ srcUrl: string | null }, MenuPicture>;
};
export type BackgroundToContent = Request<PageChannel>;

// ---- validation ---------------------------------------------------------------------------

function parseCheckItem(v: unknown): CheckItem | null {
  if (!isRecord(v) || !isShortString(v.requestId, 64) || !isUrl(v.url)) return null;
  if (!SCAN_PRIORITIES.includes(v.priority as ScanPriority)) return null;
  if (!isMinSide(v.minSide)) return null;
  const item: CheckItem = { requestId: v.requestId, url: v.url, priority: v.priority as ScanPriority, minSide: v.minSide };
  if (v.bytes !== undefined) {
    if (!isBytesUrl(v.bytes)) return null;
    item.bytes = v.bytes;
  }
  if (v.brokenInPage !== undefined) {
    if (v.brokenInPage !== true) return null;
    item.brokenInPage = true;
  }
  if (v.via !== undefined) {
    // Only bytes the page read from the address it names.
    if (v.via !== 'page' || item.bytes === undefined || !/^https?:/.test(item.url)) return null;
    item.via = 'page';
  }
  return item;
}

function isRequestId(v: unknown): v is string {
  return isShortString(v, 64);
}

/** A list of request ids, as content/cancel and shed carry it. */
function requestIds(v: unknown): string[] | null {
  return Array.isArray(v) && v.length > 0 && v.length <= MAX_ITEMS_PER_CHECK && v.every(isRequestId) ? [...v] : null;
}

/** A list of distinct page addresses, as content/lookup and content/shown carry it. */
function urlList(v: unknown): string[] | null {
  if (!Array.isArray(v) || v.length === 0 || v.length > MAX_URLS_PER_LOOKUP || !v.every(isUrl)) return null;
  return [...new Set(v)];
}

export function parseContentToBackground(v: unknown): ContentToBackground | null {
  if (!isRecord(v)) return null;
  if (v.kind === 'content/lookup' || v.kind === 'content/shown') {
    const urls = urlList(v.urls);
    if (!urls || (v.trigger !== 'auto' && v.trigger !== 'user')) return null;
    return { kind: v.kind, trigger: v.trigger, urls };
  }
  if (v.kind === 'content/cancel') {
    const ids = requestIds(v.requestIds);
    return ids ? { kind: 'content/cancel', requestIds: ids } : null;
  }
  if (v.kind === 'content/report-mistake') {
    if (!isUrl(v.url) || typeof v.mistake !== 'boolean') return null;
    return { kind: 'content/report-mistake', url: v.url, mistake: v.mistake };
  }
  if (v.kind !== 'content/check' || (v.trigger !== 'auto' && v.trigger !== 'user')) return null;
  const items = v.items;
  if (!Array.isArray(items) || items.length === 0 || items.length > MAX_ITEMS_PER_CHECK) return null;
  const parsed = items.map(parseCheckItem);
  if (!parsed.every((i): i is CheckItem => i !== null)) return null;
  // Bytes travel one image per message, so no message is larger than one image.
  if (parsed.length > 1 && parsed.some((i) => i.bytes !== undefined)) return null;
  return { kind: 'content/check', trigger: v.trigger, items: parsed };
}

export function parseBackgroundToContent(v: unknown): BackgroundToContent | null {
  if (isRecord(v) && v.kind === 'scan-now') return { kind: 'scan-now' };
  if (isRecord(v) && v.kind === 'shed') {
    const ids = requestIds(v.requestIds);
    return ids ? { kind: 'shed', requestIds: ids } : null;
  }
  if (isRecord(v) && v.kind === 'menu-resolve') {
    if (v.srcUrl !== null && !isUrl(v.srcUrl)) return null;
    return { kind: 'menu-resolve', srcUrl: v.srcUrl };
  }
  if (!isRecord(v) || !isUrl(v.url)) return null;
  const verdict = parseVerdict(v.verdict);
  if (!verdict) return null;
  if (v.kind === 'menu-verdict') return { kind: 'menu-verdict', url: v.url, verdict };
  if (v.kind !== 'verdict' || !isShortString(v.requestId, 64)) return null;
  return { kind: 'verdict', requestId: v.requestId, url: v.url, verdict };
}

export function parseMenuPicture(v: unknown): MenuPicture | null {
  if (!isRecord(v)) return null;
  if (v.found === false) return v.why === 'nothing-there' || v.why === 'unreadable' ? { found: false, why: v.why } : null;
  if (v.found !== true || !isUrl(v.url)) return null;
  if (v.bytes === undefined) return { found: true, url: v.url };
  if (!isBytesUrl(v.bytes)) return null;
  return { found: true, url: v.url, bytes: v.bytes };
}

function isRefusal(v: unknown): v is CheckReply['refused'] {
  return v === null || v === 'paused' || v === 'site-off' || v === 'on-demand';
}

export function parseCheckReply(v: unknown): CheckReply | null {
  if (!isRecord(v) || typeof v.accepted !== 'number' || !isRefusal(v.refused)) return null;
  return { accepted: v.accepted, refused: v.refused };
}

function parseKnownVerdict(v: unknown): KnownVerdict | null {
  if (!isRecord(v) || !isUrl(v.url) || typeof v.stale !== 'boolean') return null;
  const verdict = parseVerdict(v.verdict);
  if (verdict?.status !== 'done' || !verdict.fromCache) return null;
  return { url: v.url, verdict, stale: v.stale };
}

export function parseLookupReply(v: unknown): LookupReply | null {
  if (!isRecord(v) || !isRefusal(v.refused) || !Array.isArray(v.known) || v.known.length > MAX_URLS_PER_LOOKUP) return null;
  const known = v.known.map(parseKnownVerdict);
  return known.every((k): k is KnownVerdict => k !== null) ? { refused: v.refused, known } : null;
}

/** The replies a content script checks (the background's answers). */
export const CONTENT_REPLIES: ReplyParsers<ContentChannel> = {
  'content/check': parseCheckReply,
  'content/lookup': parseLookupReply,
  'content/shown': (v) => (isRecord(v) && typeof v.counted === 'number' ? { counted: v.counted } : null),
  'content/cancel': (v) => (isRecord(v) && typeof v.cancelled === 'number' ? { cancelled: v.cancelled } : null),
  'content/report-mistake': (v) => (isRecord(v) && typeof v.ok === 'boolean' ? { ok: v.ok } : null),
};

/** The replies the background checks (a page's answers: the least trusted context). */
export const PAGE_REPLIES: ReplyParsers<PageChannel> = {
  verdict: noReply,
  'menu-verdict': noReply,
  'scan-now': noReply,
  shed: noReply,
  'menu-resolve': parseMenuPicture,
};

// The one message protocol between the extension's contexts. Types are named by direction
// (content -> background, background -> content, ui -> background, background -> offscreen);
// every receiver runs the matching `parse*` on what arrives and drops anything that fails.

import { MODEL_ID_RE, type Precision, type VariantAgreement } from '../detector/manifest';

/** Why an image could not be judged. The content script turns these into plain words. */
export type FailureReason =
  | 'http-error'
  | 'network'
  | 'timeout'
  | 'too-large'
  | 'not-an-image'
  | 'undecodable'
  | 'unsupported-url'
  | 'blocked-address'
  | 'model-error'
  /** Decoded smaller than the minimum size: not judged, and no badge is shown. */
  | 'too-small';

export const FAILURE_REASONS: readonly FailureReason[] = [
  'http-error',
  'network',
  'timeout',
  'too-large',
  'not-an-image',
  'undecodable',
  'unsupported-url',
  'blocked-address',
  'model-error',
  'too-small',
];

/** How a model's input is made from a picture (from its manifest), for the words the card shows. */
export interface InputSummary {
  resize: 'square' | 'shorter-side';
  size: number;
  crop: number;
}

export interface ModelSummary {
  id: string;
  name: string;
  fixture: boolean;
  /** Absent in verdicts stored before it existed. */
  input?: InputSummary;
}

/**
 * How the bytes were had when the plain fetch (no cookies, no referrer) was refused: again with
 * the page's address as referrer, the same with the site's cookies too (only where the user
 * allowed them), or read by the page itself (same-origin or CORS-readable pictures).
 */
export type BytesRoute = 'referrer' | 'cookies' | 'page';
export const BYTES_ROUTES: readonly BytesRoute[] = ['referrer', 'cookies', 'page'];

export type Verdict =
  | {
      status: 'done';
      /** Probability that the image is generated, per the model's manifest. */
      pGenerated: number;
      threshold: number;
      model: ModelSummary;
      fromCache: boolean;
      /** What the file says about its own origin (C2PA, generator metadata), kept apart from the score. */
      evidence?: Evidence;
      /** Absent: fetched plainly. Otherwise the way round a refusal (hotlink protection). */
      via?: BytesRoute;
    }
  | {
      status: 'failed';
      reason: FailureReason;
      detail: string;
      /**
       * The server refused the extension's fetch of an address the page showed: the page may read
       * the bytes itself (same-origin or CORS-readable pictures) and send them (CheckItem.via).
       */
      askPage?: true;
    };

/** Provenance evidence read from an image's own metadata (src/detector/provenance/). */
export type EvidenceKind = 'c2pa' | 'generator-parameters' | 'exif' | 'xmp';
export const EVIDENCE_KINDS: readonly EvidenceKind[] = ['c2pa', 'generator-parameters', 'exif', 'xmp'];

export interface EvidenceFinding {
  kind: EvidenceKind;
  /** One line, e.g. "Stable Diffusion parameters (AUTOMATIC1111 / Forge)". */
  summary: string;
  /** Named values (generator, sampler, seed, claimGenerator, signer, validation, …). */
  details: Record<string, string>;
  /** The metadata itself says the picture was made by generative AI. */
  declaresAI: boolean;
}

export interface Evidence {
  /** none: no provenance metadata; unreadable: malformed, too large or too slow (findings so far kept). */
  state: 'none' | 'found' | 'unreadable';
  findings: EvidenceFinding[];
  /** Why it was unreadable. */
  note: string | null;
}

export const EVIDENCE_LIMITS = { findings: 8, details: 16, key: 40, value: 500, summary: 200, note: 200 } as const;

// ---- content -> background ----------------------------------------------------------------

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
export const MAX_URL_LENGTH = 8192;
/** 20 MB as base64, plus the data: prefix: the same cap as a fetched image. */
export const MAX_BYTES_URL_LENGTH = Math.ceil((20 * 1024 * 1024 * 4) / 3) + 64;

/** "auto": the content script scans by itself; "user": the user asked (popup's "check all now"). */
export type CheckTrigger = 'auto' | 'user';

export type ContentToBackground =
  | { kind: 'content/check'; trigger: CheckTrigger; items: CheckItem[] }
  /** These requests are no longer wanted (their images scrolled far away before they started). */
  | { kind: 'content/cancel'; requestIds: string[] }
  /** The user pressed "report a mistake" on a badge's card (a trusted click). */
  | { kind: 'content/report-mistake'; url: string; mistake: boolean };

/**
 * A content script keeps a port of this name open while it waits for verdicts. Nothing travels
 * on it: it drops when the service worker stops, and the content script then asks again.
 */
export const PENDING_PORT = 'realfake-lens/pending';

/**
 * The background's answer to content/check: refused when scanning is off for the page, or when
 * the page scans by itself in on-demand mode (or asks "user" without the user having asked).
 */
export interface CheckReply {
  accepted: number;
  refused: null | 'paused' | 'site-off' | 'on-demand';
}

// ---- background -> content ----------------------------------------------------------------

export type BackgroundToContent =
  | { kind: 'verdict'; requestId: string; url: string; verdict: Verdict }
  /** The user asked about one image (context menu): badge the images showing `url`, any size. */
  | { kind: 'menu-verdict'; url: string; verdict: Verdict }
  /** The user asked, from the popup, for every image on the page to be checked now. */
  | { kind: 'scan-now' }
  /**
   * The worker's queue was full and dropped these requests (off-screen ones first): the page
   * treats them as withdrawn and asks again when their pictures come near or into view.
   */
  | { kind: 'shed'; requestIds: string[] }
  /**
   * "Check image" was chosen from the context menu: which picture was under the pointer at the
   * last right-click? `srcUrl` is the image Chrome saw there, if it saw one. Answered with a MenuPicture.
   */
  | { kind: 'menu-resolve'; srcUrl: string | null };

/** The content script's answer to menu-resolve: the picture, or why there is none. */
export type MenuPicture =
  /** `url` as the scanner sends it (a label for blob:/long data: pictures, whose `bytes` travel along). */
  | { found: true; url: string; bytes?: string }
  | { found: false; why: 'nothing-there' | 'unreadable' };

// ---- ui (popup, options) -> background ----------------------------------------------------

export type UiToBackground =
  | { kind: 'ui/get-status' }
  | { kind: 'ui/set-site-enabled'; site: string; enabled: boolean }
  | { kind: 'ui/set-paused'; paused: boolean }
  /** The popup's view of one tab: its site, whether it is scanned, and its counts. */
  | { kind: 'ui/get-tab'; tabId: number }
  | { kind: 'ui/list-history'; site: string | null; query: string; limit: number }
  /** "Report a mistake": the user says this verdict is wrong (or takes that back). */
  | { kind: 'ui/mark-mistake'; id: number; mistake: boolean }
  | { kind: 'ui/clear-history' }
  /** Every history entry, for export (thumbnails left out). */
  | { kind: 'ui/export-history' }
  /** Deletes the cache, history, counters and settings. */
  | { kind: 'ui/delete-all-data' }
  /** "Check all images on this page now" (on-demand mode, or to include images far down the page). */
  | { kind: 'ui/scan-tab'; tabId: number }
  | ModelUiToBackground
  | CheckpointUiToBackground;

export interface TabReply {
  /** Host name of the tab's page; null for pages that are never scanned (chrome://, files). */
  site: string | null;
  siteEnabled: boolean;
  paused: boolean;
  counts: { checked: number; suspected: number; failed: number };
}

export interface HistoryEntry {
  id: number;
  /** The image, and the page (frame) that showed it. */
  url: string;
  pageUrl: string;
  pageTitle: string;
  site: string;
  pGenerated: number;
  threshold: number;
  modelId: string;
  time: number;
  /** Small JPEG data: URL made in the offscreen document, or null. */
  thumbnail: string | null;
  /** The user reported this verdict as wrong (a local labelled example). */
  mistake: boolean;
  /** Provenance evidence read from the file (absent in entries stored before it existed). */
  evidence?: Evidence;
}

export const MAX_HISTORY_PAGE = 500;

export type EngineState = 'not-loaded' | 'loading' | 'ready' | 'failed';
export type Backend = 'webgpu' | 'wasm';

export interface EngineStatus {
  state: EngineState;
  backend: Backend | null;
  /** Why the engine failed, or why it fell back from WebGPU. */
  note: string | null;
  model: ModelSummary | null;
  /** While loading: share of the model file read, 0..1. */
  progress: number | null;
  /** WebAssembly threads of the loaded session (null before loading). */
  threads: number | null;
  precision: Precision | null;
  /** Most images that ran in one batch so far. */
  largestBatch: number;
  /** How long the last load took (download, SHA-256, session, probe), ms. */
  loadMs: number | null;
  /** Images inferred by this engine, and the time spent in the model's run() for them, ms. */
  inferred: { images: number; ms: number };
}

export interface StatusReply {
  engine: EngineStatus;
  stats: { inferences: number; cacheHits: number; hashHits: number; failures: number };
}

// ---- background -> offscreen --------------------------------------------------------------

/** Engine settings; the offscreen document cannot read chrome.storage, so they travel along. */
export interface EngineOptions {
  /** Try WebGPU at all (false: WebAssembly only, e.g. to measure it on a machine with a GPU). */
  useWebGpu: boolean;
  /** Use WebGPU even on a software adapter (slower than WASM; for testing the WebGPU path). */
  allowSoftwareWebGpu: boolean;
  /** WebAssembly threads; 0: the machine's cores less one (left for the page), at least 1. */
  threads: number;
  /** Most images in one inference, and how long the first waits for others (ms). */
  maxBatch: number;
  batchWindowMs: number;
  /** The engine asks to be closed (giving all its memory back) after this long idle; 0: never. */
  idleReleaseMs: number;
  /**
   * Test builds only (`__REALFAKE_TEST__`), where it is always present; a release build neither sends
   * nor accepts it. Faults to exercise the WebGPU fallbacks where WebGPU works (never set by the UI);
   * pretendShaderF16 makes the engine treat the adapter as having `shader-f16`.
   */
  faults?: EngineFaults;
}

export interface EngineFaults {
  failWebGpuInit: boolean;
  perturbWebGpuProbe: boolean;
  pretendShaderF16: boolean;
  /** The checkpoint import's unit (request, part file) in bytes, for tests that stop an import between units; absent: 8 MB. */
  checkpointUnitBytes?: number;
}

export const ENGINE_LIMITS = {
  threads: { min: 0, max: 64 },
  maxBatch: { min: 1, max: 16 },
  batchWindowMs: { min: 0, max: 1_000 },
  idleReleaseMs: { min: 0, max: 24 * 3_600_000 },
} as const;

/**
 * The engine works in two steps so the background can decide between them: `fetch` downloads the
 * bytes and hashes them (the offscreen document keeps them under a token for a while), then the
 * background either finds the hash in its cache (`release`) or asks for `infer`.
 */
export type BackgroundToOffscreen =
  /** `engine`: the fetch starts loading the model meanwhile, with these options. */
  /**
   * `withCookies`: send the browser's cookies (only for sites the user allowed). `conditional`: the
   * validators of the bytes judged before; the answer is `notModified` when the server says so.
   */
  | {
      target: 'offscreen';
      kind: 'offscreen/fetch';
      url: string;
      pageUrl: string;
      engine: EngineOptions;
      withCookies?: true;
      conditional?: Validators;
    }
  /** `minSide`: answer "too-small" for an image that decodes smaller than this (0: any size). */
  | { target: 'offscreen'; kind: 'offscreen/infer'; token: string; minSide: number; engine: EngineOptions }
  | { target: 'offscreen'; kind: 'offscreen/release'; token: string }
  | { target: 'offscreen'; kind: 'offscreen/status' }
  | ModelBackgroundToOffscreen
  | CheckpointToOffscreen;

/** The offscreen document has been idle for its release period: close it to free its memory. */
export type OffscreenToBackground = { kind: 'offscreen/idle' };

export function parseOffscreenToBackground(v: unknown): OffscreenToBackground | null {
  return isRecord(v) && v.kind === 'offscreen/idle' ? { kind: 'offscreen/idle' } : null;
}

/** A response's ETag and Last-Modified, for a later conditional request (null: none sent). */
export interface Validators {
  etag: string | null;
  lastModified: string | null;
}
export const MAX_VALIDATOR_LENGTH = 256;

export type FetchReply =
  | { ok: true; token: string; sha256: string; bytes: number; validators: Validators }
  /** A conditional request answered 304: the bytes judged before are still the ones served. */
  | { ok: true; notModified: true; validators: Validators }
  /** `status`: the HTTP status of a refusal (http-error). */
  | { ok: false; reason: FailureReason; detail: string; status?: number };

export type JudgeReply =
  /** `thumbnail`: a small JPEG data: URL for the history (null when it could not be made). */
  | { ok: true; pGenerated: number; logits: number[]; backend: Backend; thumbnail: string | null; evidence?: Evidence }
  /** `tokenLost`: the document holding the bytes was re-created meanwhile; fetch again. */
  | { ok: false; reason: FailureReason; detail: string; tokenLost?: true };

export const MAX_THUMBNAIL_CHARS = 32_768;
const TOKEN_RE = /^[0-9a-f]{32}$/;
const SHA256_RE = /^[0-9a-f]{64}$/;

// ---- validation ---------------------------------------------------------------------------

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isProbability(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v) && v >= 0 && v <= 1;
}

function isShortString(v: unknown, max: number): v is string {
  return typeof v === 'string' && v.length > 0 && v.length <= max;
}

const BYTES_URL_RE = /^data:image\/[a-z0-9.+-]{1,40};base64,[A-Za-z0-9+/]*={0,2}$/;

function parseCheckItem(v: unknown): CheckItem | null {
  if (!isRecord(v) || !isShortString(v.requestId, 64) || !isShortString(v.url, MAX_URL_LENGTH)) return null;
  if (!SCAN_PRIORITIES.includes(v.priority as ScanPriority)) return null;
  if (typeof v.minSide !== 'number' || !Number.isInteger(v.minSide) || v.minSide < 0 || v.minSide > 4096) return null;
  const item: CheckItem = { requestId: v.requestId, url: v.url, priority: v.priority as ScanPriority, minSide: v.minSide };
  if (v.bytes !== undefined) {
    if (!isShortString(v.bytes, MAX_BYTES_URL_LENGTH) || !BYTES_URL_RE.test(v.bytes)) return null;
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

export function parseContentToBackground(v: unknown): ContentToBackground | null {
  if (!isRecord(v)) return null;
  if (v.kind === 'content/cancel') {
    const ids = v.requestIds;
    if (!Array.isArray(ids) || ids.length === 0 || ids.length > MAX_ITEMS_PER_CHECK || !ids.every(isRequestId)) return null;
    return { kind: 'content/cancel', requestIds: [...ids] };
  }
  if (v.kind === 'content/report-mistake') {
    if (!isShortString(v.url, MAX_URL_LENGTH) || typeof v.mistake !== 'boolean') return null;
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

function isInputSummary(v: unknown): v is InputSummary {
  const side = (n: unknown) => typeof n === 'number' && Number.isInteger(n) && n > 0 && n <= 4096;
  return isRecord(v) && (v.resize === 'square' || v.resize === 'shorter-side') && side(v.size) && side(v.crop);
}

function isModelSummary(v: unknown): v is ModelSummary {
  return (
    isRecord(v) &&
    isShortString(v.id, 64) &&
    isShortString(v.name, 200) &&
    typeof v.fixture === 'boolean' &&
    (v.input === undefined || isInputSummary(v.input))
  );
}

/** A validated summary rebuilt field by field (nothing else from the sender is kept). */
function copyModelSummary(m: ModelSummary): ModelSummary {
  const out: ModelSummary = { id: m.id, name: m.name, fixture: m.fixture };
  if (m.input) out.input = { resize: m.input.resize, size: m.input.size, crop: m.input.crop };
  return out;
}

function parseFinding(v: unknown): EvidenceFinding | null {
  const L = EVIDENCE_LIMITS;
  if (!isRecord(v) || !EVIDENCE_KINDS.includes(v.kind as EvidenceKind) || typeof v.declaresAI !== 'boolean') return null;
  if (!isShortString(v.summary, L.summary) || !isRecord(v.details)) return null;
  const entries = Object.entries(v.details);
  if (entries.length > L.details) return null;
  const details: Record<string, string> = {};
  for (const [k, x] of entries) {
    if (k.length === 0 || k.length > L.key || typeof x !== 'string' || x.length > L.value) return null;
    details[k] = x;
  }
  return { kind: v.kind as EvidenceKind, summary: v.summary, details, declaresAI: v.declaresAI };
}

/** Validates provenance evidence (from the offscreen document, the store, or a message). */
export function parseEvidence(v: unknown): Evidence | null {
  if (!isRecord(v) || (v.state !== 'none' && v.state !== 'found' && v.state !== 'unreadable')) return null;
  if (!Array.isArray(v.findings) || v.findings.length > EVIDENCE_LIMITS.findings) return null;
  const findings = v.findings.map(parseFinding);
  if (!findings.every((f): f is EvidenceFinding => f !== null)) return null;
  if (v.note !== null && !isShortString(v.note, EVIDENCE_LIMITS.note)) return null;
  return { state: v.state, findings, note: v.note };
}

/** `{ evidence }` when it is valid, else nothing: bad evidence never costs the verdict. */
function withEvidence(v: unknown): { evidence?: Evidence } {
  const evidence = parseEvidence(v);
  return evidence ? { evidence } : {};
}

function parseVerdict(v: unknown): Verdict | null {
  if (!isRecord(v)) return null;
  if (v.status === 'done') {
    if (!isProbability(v.pGenerated) || !isProbability(v.threshold) || !isModelSummary(v.model)) return null;
    if (typeof v.fromCache !== 'boolean') return null;
    return {
      status: 'done',
      pGenerated: v.pGenerated,
      threshold: v.threshold,
      model: copyModelSummary(v.model),
      fromCache: v.fromCache,
      ...(v.evidence === undefined ? {} : withEvidence(v.evidence)),
      ...(BYTES_ROUTES.includes(v.via as BytesRoute) ? { via: v.via as BytesRoute } : {}),
    };
  }
  if (v.status === 'failed') {
    if (!FAILURE_REASONS.includes(v.reason as FailureReason) || typeof v.detail !== 'string') return null;
    return { status: 'failed', reason: v.reason as FailureReason, detail: v.detail.slice(0, 300), ...(v.askPage === true ? { askPage: true as const } : {}) };
  }
  return null;
}

export function parseBackgroundToContent(v: unknown): BackgroundToContent | null {
  if (isRecord(v) && v.kind === 'scan-now') return { kind: 'scan-now' };
  if (isRecord(v) && v.kind === 'shed') {
    const ids = v.requestIds;
    if (!Array.isArray(ids) || ids.length === 0 || ids.length > MAX_ITEMS_PER_CHECK || !ids.every(isRequestId)) return null;
    return { kind: 'shed', requestIds: [...ids] };
  }
  if (isRecord(v) && v.kind === 'menu-resolve') {
    if (v.srcUrl !== null && !isShortString(v.srcUrl, MAX_URL_LENGTH)) return null;
    return { kind: 'menu-resolve', srcUrl: v.srcUrl };
  }
  if (!isRecord(v) || !isShortString(v.url, MAX_URL_LENGTH)) return null;
  const verdict = parseVerdict(v.verdict);
  if (!verdict) return null;
  if (v.kind === 'menu-verdict') return { kind: 'menu-verdict', url: v.url, verdict };
  if (v.kind !== 'verdict' || !isShortString(v.requestId, 64)) return null;
  return { kind: 'verdict', requestId: v.requestId, url: v.url, verdict };
}

export function parseMenuPicture(v: unknown): MenuPicture | null {
  if (!isRecord(v)) return null;
  if (v.found === false) return v.why === 'nothing-there' || v.why === 'unreadable' ? { found: false, why: v.why } : null;
  if (v.found !== true || !isShortString(v.url, MAX_URL_LENGTH)) return null;
  if (v.bytes === undefined) return { found: true, url: v.url };
  if (!isShortString(v.bytes, MAX_BYTES_URL_LENGTH) || !BYTES_URL_RE.test(v.bytes)) return null;
  return { found: true, url: v.url, bytes: v.bytes };
}

export function parseCheckReply(v: unknown): CheckReply | null {
  if (!isRecord(v) || typeof v.accepted !== 'number') return null;
  if (v.refused !== null && v.refused !== 'paused' && v.refused !== 'site-off' && v.refused !== 'on-demand') return null;
  return { accepted: v.accepted, refused: v.refused };
}

function isId(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

const HOST_RE = /^[a-z0-9.-]{1,253}$|^\[[0-9a-f:.]{2,45}\]$/;

export function parseUiToBackground(v: unknown): UiToBackground | null {
  if (!isRecord(v)) return null;
  switch (v.kind) {
    case 'ui/get-status':
      return { kind: 'ui/get-status' };
    case 'ui/set-site-enabled':
      if (typeof v.site !== 'string' || !HOST_RE.test(v.site) || typeof v.enabled !== 'boolean') return null;
      return { kind: 'ui/set-site-enabled', site: v.site, enabled: v.enabled };
    case 'ui/set-paused':
      return typeof v.paused === 'boolean' ? { kind: 'ui/set-paused', paused: v.paused } : null;
    case 'ui/get-tab':
      return isId(v.tabId) ? { kind: 'ui/get-tab', tabId: v.tabId } : null;
    case 'ui/list-history': {
      const site = v.site === null ? null : typeof v.site === 'string' && HOST_RE.test(v.site) ? v.site : undefined;
      if (site === undefined || typeof v.query !== 'string' || v.query.length > 200) return null;
      if (!isId(v.limit) || v.limit < 1 || v.limit > MAX_HISTORY_PAGE) return null;
      return { kind: 'ui/list-history', site, query: v.query, limit: v.limit };
    }
    case 'ui/scan-tab':
      return isId(v.tabId) ? { kind: 'ui/scan-tab', tabId: v.tabId } : null;
    case 'ui/mark-mistake':
      return isId(v.id) && typeof v.mistake === 'boolean' ? { kind: 'ui/mark-mistake', id: v.id, mistake: v.mistake } : null;
    case 'ui/clear-history':
    case 'ui/export-history':
    case 'ui/delete-all-data':
      return { kind: v.kind };
    default:
      return parseModelUiToBackground(v) ?? parseCheckpointUiToBackground(v);
  }
}

export function parseBackgroundToOffscreen(v: unknown): BackgroundToOffscreen | null {
  if (!isRecord(v) || v.target !== 'offscreen') return null;
  switch (v.kind) {
    case 'offscreen/fetch': {
      const engine = parseEngineOptions(v.engine);
      // A data: URL may carry a whole picture (one the page read for us); any other URL is short.
      const maxUrl = typeof v.url === 'string' && v.url.startsWith('data:') ? MAX_BYTES_URL_LENGTH : MAX_URL_LENGTH;
      if (!engine || !isShortString(v.url, maxUrl) || !isShortString(v.pageUrl, MAX_URL_LENGTH)) return null;
      const msg: BackgroundToOffscreen = { target: 'offscreen', kind: 'offscreen/fetch', url: v.url, pageUrl: v.pageUrl, engine };
      if (v.withCookies !== undefined) {
        if (v.withCookies !== true) return null;
        msg.withCookies = true;
      }
      if (v.conditional !== undefined) {
        const conditional = parseValidators(v.conditional);
        if (!conditional) return null;
        msg.conditional = conditional;
      }
      return msg;
    }
    case 'offscreen/infer': {
      const engine = parseEngineOptions(v.engine);
      if (!engine || typeof v.token !== 'string' || !TOKEN_RE.test(v.token)) return null;
      if (typeof v.minSide !== 'number' || !Number.isInteger(v.minSide) || v.minSide < 0 || v.minSide > 4096) return null;
      return { target: 'offscreen', kind: 'offscreen/infer', token: v.token, minSide: v.minSide, engine };
    }
    case 'offscreen/release':
      if (typeof v.token !== 'string' || !TOKEN_RE.test(v.token)) return null;
      return { target: 'offscreen', kind: 'offscreen/release', token: v.token };
    case 'offscreen/status':
      return { target: 'offscreen', kind: 'offscreen/status' };
    default:
      return parseModelBackgroundToOffscreen(v) ?? parseCheckpointToOffscreen(v);
  }
}

function intWithin(v: unknown, r: { min: number; max: number }): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= r.min && v <= r.max;
}

function parseEngineOptions(v: unknown): EngineOptions | null {
  if (!isRecord(v) || typeof v.useWebGpu !== 'boolean' || typeof v.allowSoftwareWebGpu !== 'boolean') return null;
  const L = ENGINE_LIMITS;
  if (!intWithin(v.threads, L.threads) || !intWithin(v.maxBatch, L.maxBatch)) return null;
  if (!intWithin(v.batchWindowMs, L.batchWindowMs) || !intWithin(v.idleReleaseMs, L.idleReleaseMs)) return null;
  const options: EngineOptions = {
    useWebGpu: v.useWebGpu,
    allowSoftwareWebGpu: v.allowSoftwareWebGpu,
    threads: v.threads,
    maxBatch: v.maxBatch,
    batchWindowMs: v.batchWindowMs,
    idleReleaseMs: v.idleReleaseMs,
  };
  // Fault switches: required in a test build, refused in a release build (which has no code for them).
  if (!__REALFAKE_TEST__) return v.faults === undefined ? options : null;
  if (!isRecord(v.faults)) return null;
  const { failWebGpuInit, perturbWebGpuProbe, pretendShaderF16 } = v.faults;
  if (typeof failWebGpuInit !== 'boolean' || typeof perturbWebGpuProbe !== 'boolean' || typeof pretendShaderF16 !== 'boolean') return null;
  const unit = v.faults.checkpointUnitBytes;
  if (unit !== undefined && !intWithin(unit, { min: 64, max: 2 ** 30 })) return null;
  return { ...options, faults: { failWebGpuInit, perturbWebGpuProbe, pretendShaderF16, ...(unit === undefined ? {} : { checkpointUnitBytes: unit }) } };
}

function parseFailure(v: Record<string, unknown>): { ok: false; reason: FailureReason; detail: string } | null {
  if (!FAILURE_REASONS.includes(v.reason as FailureReason) || typeof v.detail !== 'string') return null;
  return { ok: false, reason: v.reason as FailureReason, detail: v.detail.slice(0, 500) };
}

const isValidator = (v: unknown): v is string | null => v === null || isShortString(v, MAX_VALIDATOR_LENGTH);

function parseValidators(v: unknown): Validators | null {
  if (!isRecord(v) || !isValidator(v.etag) || !isValidator(v.lastModified)) return null;
  return { etag: v.etag, lastModified: v.lastModified };
}

export function parseFetchReply(v: unknown): FetchReply | null {
  if (!isRecord(v)) return null;
  if (v.ok === true) {
    const validators = parseValidators(v.validators);
    if (!validators) return null;
    if (v.notModified !== undefined) return v.notModified === true ? { ok: true, notModified: true, validators } : null;
    if (typeof v.token !== 'string' || !TOKEN_RE.test(v.token)) return null;
    if (typeof v.sha256 !== 'string' || !SHA256_RE.test(v.sha256)) return null;
    if (typeof v.bytes !== 'number' || !Number.isInteger(v.bytes) || v.bytes < 0) return null;
    return { ok: true, token: v.token, sha256: v.sha256, bytes: v.bytes, validators };
  }
  if (v.ok !== false) return null;
  const failure = parseFailure(v);
  if (!failure || v.status === undefined) return failure;
  if (typeof v.status !== 'number' || !Number.isInteger(v.status) || v.status < 100 || v.status > 599) return null;
  return { ...failure, status: v.status };
}

function isThumbnail(v: unknown): v is string {
  return typeof v === 'string' && v.length <= MAX_THUMBNAIL_CHARS && v.startsWith('data:image/jpeg;base64,');
}

export function parseJudgeReply(v: unknown): JudgeReply | null {
  if (!isRecord(v)) return null;
  if (v.ok === true) {
    if (!isProbability(v.pGenerated) || (v.backend !== 'webgpu' && v.backend !== 'wasm')) return null;
    if (!Array.isArray(v.logits) || !v.logits.every((x) => typeof x === 'number')) return null;
    const thumbnail = isThumbnail(v.thumbnail) ? v.thumbnail : null;
    return { ok: true, pGenerated: v.pGenerated, logits: v.logits as number[], backend: v.backend, thumbnail, ...withEvidence(v.evidence) };
  }
  if (v.ok !== false) return null;
  const failure = parseFailure(v);
  if (!failure) return null;
  return v.tokenLost === true ? { ...failure, tokenLost: true } : failure;
}

export function parseEngineStatus(v: unknown): EngineStatus | null {
  if (!isRecord(v)) return null;
  const states: EngineState[] = ['not-loaded', 'loading', 'ready', 'failed'];
  if (!states.includes(v.state as EngineState)) return null;
  if (v.backend !== null && v.backend !== 'webgpu' && v.backend !== 'wasm') return null;
  if (v.note !== null && typeof v.note !== 'string') return null;
  if (v.model !== null && !isModelSummary(v.model)) return null;
  const num = (x: unknown): number | null => (typeof x === 'number' && Number.isFinite(x) && x >= 0 ? x : null);
  return {
    state: v.state as EngineState,
    backend: v.backend as Backend | null,
    note: v.note as string | null,
    model: v.model as ModelSummary | null,
    progress: num(v.progress) === null ? null : Math.min(1, v.progress as number),
    threads: num(v.threads),
    precision: v.precision === 'fp32' || v.precision === 'fp16' || v.precision === 'int8' ? v.precision : null,
    largestBatch: num(v.largestBatch) ?? 0,
    loadMs: num(v.loadMs),
    inferred:
      isRecord(v.inferred) && num(v.inferred.images) !== null && num(v.inferred.ms) !== null
        ? { images: v.inferred.images as number, ms: v.inferred.ms as number }
        : { images: 0, ms: 0 },
  };
}

// ---- model management: options page -> background -> offscreen ----------------------------
// Downloaded models live in OPFS (src/shared/model-store.ts); the offscreen document downloads
// them, because an 800 MB download outlives the service worker's 30 s idle / 5 min limits.

export type ModelUiToBackground =
  /** The packaged and downloaded models, the active one, unfinished downloads, the running one. */
  | { kind: 'ui/list-models' }
  /** Download and install the model whose manifest is at `url` (https, or http on loopback). */
  | { kind: 'ui/install-model'; url: string }
  | { kind: 'ui/cancel-model-download' }
  | { kind: 'ui/set-active-model'; id: string }
  /** Removes a downloaded model, or an unfinished download (packaged models cannot be removed). */
  | { kind: 'ui/remove-model'; id: string };

export interface ModelInfo {
  id: string;
  name: string;
  version: string;
  precision: Precision;
  /** The model this one is a variant of (same weights, another precision), or null. */
  variantOf: string | null;
  /** For an int8 variant: its agreement with `variantOf`, measured at conversion (manifest). */
  agreement: VariantAgreement | null;
  fixture: boolean;
  sourceDescription: string;
  /** The manifest's source.origin: where the weights came from. */
  origin: string;
  sha256: string;
  bytes: number;
  packaged: boolean;
  /** The manifest URL a downloaded model came from (null when packaged or imported). */
  downloadedFrom: string | null;
  /** The ONNX file's name for a model imported from files in the options page (else null). */
  importedFrom: string | null;
  installedAt: number | null;
}

export interface UnfinishedModelDownload {
  id: string;
  manifestUrl: string;
  received: number;
  total: number;
  /** A paused or interrupted checkpoint import (manifestUrl: the checkpoint's URL or file name). */
  checkpoint?: boolean;
}

export type ModelDownloadState = 'downloading' | 'verifying' | 'installed' | 'failed' | 'cancelled';

export interface ModelDownloadStatus {
  state: ModelDownloadState;
  manifestUrl: string;
  /** Known once the manifest has been read. */
  id: string | null;
  name: string | null;
  received: number;
  total: number | null;
  /** Byte offsets at which the download continued with a Range request after an interruption. */
  resumedFrom: number[];
  error: string | null;
}

export interface ModelsReply {
  activeId: string;
  models: ModelInfo[];
  unfinished: UnfinishedModelDownload[];
  download: ModelDownloadStatus | null;
  /** The checkpoint import in the offscreen document (running or just ended), if any. */
  checkpoint: CheckpointImportStatus | null;
}

export type ModelActionReply = { ok: true } | { ok: false; error: string };

export type ModelBackgroundToOffscreen =
  | { target: 'offscreen'; kind: 'offscreen/model-download'; url: string; engine: EngineOptions }
  | { target: 'offscreen'; kind: 'offscreen/model-download-status' }
  | { target: 'offscreen'; kind: 'offscreen/model-download-cancel' };


function parseModelUiToBackground(v: Record<string, unknown>): ModelUiToBackground | null {
  switch (v.kind) {
    case 'ui/list-models':
    case 'ui/cancel-model-download':
      return { kind: v.kind };
    case 'ui/install-model':
      return isShortString(v.url, MAX_URL_LENGTH) ? { kind: 'ui/install-model', url: v.url } : null;
    case 'ui/set-active-model':
    case 'ui/remove-model':
      return typeof v.id === 'string' && MODEL_ID_RE.test(v.id) ? { kind: v.kind, id: v.id } : null;
    default:
      return null;
  }
}

function parseModelBackgroundToOffscreen(v: Record<string, unknown>): ModelBackgroundToOffscreen | null {
  switch (v.kind) {
    case 'offscreen/model-download': {
      const engine = parseEngineOptions(v.engine);
      if (!engine || !isShortString(v.url, MAX_URL_LENGTH)) return null;
      return { target: 'offscreen', kind: 'offscreen/model-download', url: v.url, engine };
    }
    case 'offscreen/model-download-status':
    case 'offscreen/model-download-cancel':
      return { target: 'offscreen', kind: v.kind };
    default:
      return null;
  }
}

const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

export function parseModelDownloadStatus(v: unknown): ModelDownloadStatus | null {
  if (!isRecord(v)) return null;
  const states: ModelDownloadState[] = ['downloading', 'verifying', 'installed', 'failed', 'cancelled'];
  if (!states.includes(v.state as ModelDownloadState) || !isShortString(v.manifestUrl, MAX_URL_LENGTH)) return null;
  if (v.id !== null && (typeof v.id !== 'string' || !MODEL_ID_RE.test(v.id))) return null;
  if (v.name !== null && !isShortString(v.name, 200)) return null;
  if (!isCount(v.received) || (v.total !== null && !isCount(v.total))) return null;
  if (!Array.isArray(v.resumedFrom) || v.resumedFrom.length > 100 || !v.resumedFrom.every(isCount)) return null;
  if (v.error !== null && typeof v.error !== 'string') return null;
  return {
    state: v.state as ModelDownloadState,
    manifestUrl: v.manifestUrl,
    id: v.id,
    name: v.name,
    received: v.received,
    total: v.total,
    resumedFrom: [...v.resumedFrom],
    error: v.error === null ? null : v.error.slice(0, 500),
  };
}

export function parseModelActionReply(v: unknown): ModelActionReply | null {
  if (!isRecord(v)) return null;
  if (v.ok === true) return { ok: true };
  return v.ok === false && typeof v.error === 'string' ? { ok: false, error: v.error.slice(0, 500) } : null;
}

// ---- checkpoint import: options page -> background -> offscreen ----------------------------
// "Get LAION's realfake model" (or any checkpoint URL): the offscreen document fetches only the
// model's weights out of a PyTorch checkpoint with Range requests (src/offscreen/checkpoint-download.ts).

export type CheckpointUiToBackground =
  /** Import the checkpoint at `url` ('' for LAION's published one); continues a paused import of it. */
  | { kind: 'ui/import-checkpoint'; url: string }
  /** Pause (keep what is stored) or cancel (remove it) the import under way. */
  | { kind: 'ui/stop-checkpoint-import'; pause: boolean };

export type CheckpointToOffscreen =
  | { target: 'offscreen'; kind: 'offscreen/checkpoint-import'; url: string; engine: EngineOptions }
  | { target: 'offscreen'; kind: 'offscreen/checkpoint-import-status' }
  | { target: 'offscreen'; kind: 'offscreen/checkpoint-import-stop'; pause: boolean };

/** 'streaming': a server without Range requests; the whole file passes once (fetched of fileBytes), only the weights are kept. */
export type CheckpointImportState = 'reading' | 'streaming' | 'fetching' | 'probing' | 'installed' | 'paused' | 'failed' | 'cancelled';

export interface CheckpointImportStatus {
  state: CheckpointImportState;
  url: string;
  id: string;
  /** Checkpoint bytes fetched (this run and earlier ones) and all the import needs. */
  fetched: number;
  toFetch: number;
  /** The checkpoint's size, and the weights file's (float32). */
  fileBytes: number;
  weightBytes: number;
  /** When this run started fetching, and what was stored before it (for speed and time left). */
  startedAt: number;
  fetchedAtStart: number;
  /** HTTP requests made. */
  requests: number;
  error: string | null;
}

function parseCheckpointUiToBackground(v: Record<string, unknown>): CheckpointUiToBackground | null {
  switch (v.kind) {
    case 'ui/import-checkpoint':
      return typeof v.url === 'string' && v.url.length <= MAX_URL_LENGTH ? { kind: 'ui/import-checkpoint', url: v.url } : null;
    case 'ui/stop-checkpoint-import':
      return typeof v.pause === 'boolean' ? { kind: 'ui/stop-checkpoint-import', pause: v.pause } : null;
    default:
      return null;
  }
}

function parseCheckpointToOffscreen(v: Record<string, unknown>): CheckpointToOffscreen | null {
  switch (v.kind) {
    case 'offscreen/checkpoint-import': {
      const engine = parseEngineOptions(v.engine);
      if (!engine || typeof v.url !== 'string' || v.url.length > MAX_URL_LENGTH) return null;
      return { target: 'offscreen', kind: 'offscreen/checkpoint-import', url: v.url, engine };
    }
    case 'offscreen/checkpoint-import-status':
      return { target: 'offscreen', kind: 'offscreen/checkpoint-import-status' };
    case 'offscreen/checkpoint-import-stop':
      return typeof v.pause === 'boolean' ? { target: 'offscreen', kind: 'offscreen/checkpoint-import-stop', pause: v.pause } : null;
    default:
      return null;
  }
}

export function parseCheckpointImportStatus(v: unknown): CheckpointImportStatus | null {
  if (!isRecord(v)) return null;
  const states: CheckpointImportState[] = ['reading', 'streaming', 'fetching', 'probing', 'installed', 'paused', 'failed', 'cancelled'];
  if (!states.includes(v.state as CheckpointImportState) || !isShortString(v.url, MAX_URL_LENGTH)) return null;
  if (typeof v.id !== 'string' || !MODEL_ID_RE.test(v.id)) return null;
  const counts = [v.fetched, v.toFetch, v.fileBytes, v.weightBytes, v.startedAt, v.fetchedAtStart, v.requests];
  if (!counts.every(isCount)) return null;
  if (v.error !== null && typeof v.error !== 'string') return null;
  return {
    state: v.state as CheckpointImportState,
    url: v.url,
    id: v.id,
    fetched: v.fetched as number,
    toFetch: v.toFetch as number,
    fileBytes: v.fileBytes as number,
    weightBytes: v.weightBytes as number,
    startedAt: v.startedAt as number,
    fetchedAtStart: v.fetchedAtStart as number,
    requests: v.requests as number,
    error: v.error === null ? null : v.error.slice(0, 1000),
  };
}

// The one message protocol between the extension's contexts. Types are named by direction
// (content -> background, background -> content, ui -> background, background -> offscreen);
// every receiver runs the matching `parse*` on what arrives and drops anything that fails.

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
  | 'model-error';

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
];

export interface ModelSummary {
  id: string;
  name: string;
  fixture: boolean;
}

export type Verdict =
  | {
      status: 'done';
      /** Probability that the image is generated, per the model's manifest. */
      pGenerated: number;
      threshold: number;
      model: ModelSummary;
      fromCache: boolean;
    }
  | { status: 'failed'; reason: FailureReason; detail: string };

// ---- content -> background ----------------------------------------------------------------

export type ScanPriority = 'visible' | 'near' | 'rest';
export const SCAN_PRIORITIES: readonly ScanPriority[] = ['visible', 'near', 'rest'];

export interface CheckItem {
  /** Chosen by the content script; echoed back so it can find the element. */
  requestId: string;
  url: string;
  priority: ScanPriority;
}

export const MAX_ITEMS_PER_CHECK = 64;
export const MAX_URL_LENGTH = 8192;

export type ContentToBackground = { kind: 'content/check'; items: CheckItem[] };

/**
 * A content script keeps a port of this name open while it waits for verdicts. Nothing travels
 * on it: it drops when the service worker stops, and the content script then asks again.
 */
export const PENDING_PORT = 'realfake-lens/pending';

/** The background's answer to content/check: refused when scanning is off for the page. */
export interface CheckReply {
  accepted: number;
  refused: null | 'paused' | 'site-off';
}

// ---- background -> content ----------------------------------------------------------------

export type BackgroundToContent =
  | { kind: 'verdict'; requestId: string; url: string; verdict: Verdict }
  /** The user asked about one image (context menu): badge the images showing `url`, any size. */
  | { kind: 'menu-verdict'; url: string; verdict: Verdict };

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
  | { kind: 'ui/delete-all-data' };

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
  precision: 'fp32' | 'fp16' | null;
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
  /** Use WebGPU even on a software adapter (slower than WASM; for testing the WebGPU path). */
  allowSoftwareWebGpu: boolean;
  /** WebAssembly threads; 0: the machine's cores less one (left for the page), at least 1. */
  threads: number;
  /** Most images in one inference, and how long the first waits for others (ms). */
  maxBatch: number;
  batchWindowMs: number;
  /** The engine asks to be closed (giving all its memory back) after this long idle; 0: never. */
  idleReleaseMs: number;
  /** Test-only faults, to exercise the WebGPU fallback where WebGPU works (never set by the UI). */
  faults: { failWebGpuInit: boolean; perturbWebGpuProbe: boolean };
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
  | { target: 'offscreen'; kind: 'offscreen/fetch'; url: string; pageUrl: string; engine: EngineOptions }
  | { target: 'offscreen'; kind: 'offscreen/infer'; token: string; engine: EngineOptions }
  | { target: 'offscreen'; kind: 'offscreen/release'; token: string }
  | { target: 'offscreen'; kind: 'offscreen/status' };

/** The offscreen document has been idle for its release period: close it to free its memory. */
export type OffscreenToBackground = { kind: 'offscreen/idle' };

export function parseOffscreenToBackground(v: unknown): OffscreenToBackground | null {
  return isRecord(v) && v.kind === 'offscreen/idle' ? { kind: 'offscreen/idle' } : null;
}

export type FetchReply =
  | { ok: true; token: string; sha256: string; bytes: number }
  | { ok: false; reason: FailureReason; detail: string };

export type JudgeReply =
  /** `thumbnail`: a small JPEG data: URL for the history (null when it could not be made). */
  | { ok: true; pGenerated: number; logits: number[]; backend: Backend; thumbnail: string | null }
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

function isCheckItem(v: unknown): v is CheckItem {
  return (
    isRecord(v) &&
    isShortString(v.requestId, 64) &&
    isShortString(v.url, MAX_URL_LENGTH) &&
    SCAN_PRIORITIES.includes(v.priority as ScanPriority)
  );
}

export function parseContentToBackground(v: unknown): ContentToBackground | null {
  if (!isRecord(v) || v.kind !== 'content/check') return null;
  const items = v.items;
  if (!Array.isArray(items) || items.length === 0 || items.length > MAX_ITEMS_PER_CHECK) return null;
  if (!items.every(isCheckItem)) return null;
  return {
    kind: 'content/check',
    items: items.map((i) => ({ requestId: i.requestId, url: i.url, priority: i.priority })),
  };
}

function isModelSummary(v: unknown): v is ModelSummary {
  return isRecord(v) && isShortString(v.id, 64) && isShortString(v.name, 200) && typeof v.fixture === 'boolean';
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
      model: { id: v.model.id, name: v.model.name, fixture: v.model.fixture },
      fromCache: v.fromCache,
    };
  }
  if (v.status === 'failed') {
    if (!FAILURE_REASONS.includes(v.reason as FailureReason) || typeof v.detail !== 'string') return null;
    return { status: 'failed', reason: v.reason as FailureReason, detail: v.detail.slice(0, 300) };
  }
  return null;
}

export function parseBackgroundToContent(v: unknown): BackgroundToContent | null {
  if (!isRecord(v) || !isShortString(v.url, MAX_URL_LENGTH)) return null;
  const verdict = parseVerdict(v.verdict);
  if (!verdict) return null;
  if (v.kind === 'menu-verdict') return { kind: 'menu-verdict', url: v.url, verdict };
  if (v.kind !== 'verdict' || !isShortString(v.requestId, 64)) return null;
  return { kind: 'verdict', requestId: v.requestId, url: v.url, verdict };
}

export function parseCheckReply(v: unknown): CheckReply | null {
  if (!isRecord(v) || typeof v.accepted !== 'number') return null;
  if (v.refused !== null && v.refused !== 'paused' && v.refused !== 'site-off') return null;
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
    case 'ui/mark-mistake':
      return isId(v.id) && typeof v.mistake === 'boolean' ? { kind: 'ui/mark-mistake', id: v.id, mistake: v.mistake } : null;
    case 'ui/clear-history':
    case 'ui/export-history':
    case 'ui/delete-all-data':
      return { kind: v.kind };
    default:
      return null;
  }
}

export function parseBackgroundToOffscreen(v: unknown): BackgroundToOffscreen | null {
  if (!isRecord(v) || v.target !== 'offscreen') return null;
  switch (v.kind) {
    case 'offscreen/fetch': {
      const engine = parseEngineOptions(v.engine);
      if (!engine || !isShortString(v.url, MAX_URL_LENGTH) || !isShortString(v.pageUrl, MAX_URL_LENGTH)) return null;
      return { target: 'offscreen', kind: 'offscreen/fetch', url: v.url, pageUrl: v.pageUrl, engine };
    }
    case 'offscreen/infer': {
      const engine = parseEngineOptions(v.engine);
      if (!engine || typeof v.token !== 'string' || !TOKEN_RE.test(v.token)) return null;
      return { target: 'offscreen', kind: 'offscreen/infer', token: v.token, engine };
    }
    case 'offscreen/release':
      if (typeof v.token !== 'string' || !TOKEN_RE.test(v.token)) return null;
      return { target: 'offscreen', kind: 'offscreen/release', token: v.token };
    case 'offscreen/status':
      return { target: 'offscreen', kind: 'offscreen/status' };
    default:
      return null;
  }
}

function intWithin(v: unknown, r: { min: number; max: number }): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= r.min && v <= r.max;
}

function parseEngineOptions(v: unknown): EngineOptions | null {
  if (!isRecord(v) || typeof v.allowSoftwareWebGpu !== 'boolean' || !isRecord(v.faults)) return null;
  const L = ENGINE_LIMITS;
  if (!intWithin(v.threads, L.threads) || !intWithin(v.maxBatch, L.maxBatch)) return null;
  if (!intWithin(v.batchWindowMs, L.batchWindowMs) || !intWithin(v.idleReleaseMs, L.idleReleaseMs)) return null;
  const { failWebGpuInit, perturbWebGpuProbe } = v.faults;
  if (typeof failWebGpuInit !== 'boolean' || typeof perturbWebGpuProbe !== 'boolean') return null;
  return {
    allowSoftwareWebGpu: v.allowSoftwareWebGpu,
    threads: v.threads,
    maxBatch: v.maxBatch,
    batchWindowMs: v.batchWindowMs,
    idleReleaseMs: v.idleReleaseMs,
    faults: { failWebGpuInit, perturbWebGpuProbe },
  };
}

function parseFailure(v: Record<string, unknown>): { ok: false; reason: FailureReason; detail: string } | null {
  if (!FAILURE_REASONS.includes(v.reason as FailureReason) || typeof v.detail !== 'string') return null;
  return { ok: false, reason: v.reason as FailureReason, detail: v.detail.slice(0, 500) };
}

export function parseFetchReply(v: unknown): FetchReply | null {
  if (!isRecord(v)) return null;
  if (v.ok === true) {
    if (typeof v.token !== 'string' || !TOKEN_RE.test(v.token)) return null;
    if (typeof v.sha256 !== 'string' || !SHA256_RE.test(v.sha256)) return null;
    if (typeof v.bytes !== 'number' || !Number.isInteger(v.bytes) || v.bytes < 0) return null;
    return { ok: true, token: v.token, sha256: v.sha256, bytes: v.bytes };
  }
  return v.ok === false ? parseFailure(v) : null;
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
    return { ok: true, pGenerated: v.pGenerated, logits: v.logits as number[], backend: v.backend, thumbnail };
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
    precision: v.precision === 'fp32' || v.precision === 'fp16' ? v.precision : null,
    largestBatch: num(v.largestBatch) ?? 0,
    loadMs: num(v.loadMs),
    inferred:
      isRecord(v.inferred) && num(v.inferred.images) !== null && num(v.inferred.ms) !== null
        ? { images: v.inferred.images as number, ms: v.inferred.ms as number }
        : { images: 0, ms: 0 },
  };
}

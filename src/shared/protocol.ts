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

export interface CheckItem {
  /** Chosen by the content script; echoed back so it can find the element. */
  requestId: string;
  url: string;
}

export const MAX_ITEMS_PER_CHECK = 64;
export const MAX_URL_LENGTH = 8192;

export type ContentToBackground = { kind: 'content/check'; items: CheckItem[] };

// ---- background -> content ----------------------------------------------------------------

export type BackgroundToContent = { kind: 'verdict'; requestId: string; url: string; verdict: Verdict };

// ---- ui (popup, options) -> background ----------------------------------------------------

export type UiToBackground = { kind: 'ui/get-status' };

export type EngineState = 'not-loaded' | 'loading' | 'ready' | 'failed';
export type Backend = 'webgpu' | 'wasm';

export interface EngineStatus {
  state: EngineState;
  backend: Backend | null;
  /** Why the engine failed, or why it fell back from WebGPU. */
  note: string | null;
  model: ModelSummary | null;
}

export interface StatusReply {
  engine: EngineStatus;
  stats: { inferences: number; cacheHits: number; failures: number };
}

// ---- background -> offscreen --------------------------------------------------------------

/** Engine settings; the offscreen document cannot read chrome.storage, so they travel along. */
export interface EngineOptions {
  /** Use WebGPU even on a software adapter (slower than WASM; for testing the WebGPU path). */
  allowSoftwareWebGpu: boolean;
}

export type BackgroundToOffscreen =
  | { target: 'offscreen'; kind: 'offscreen/judge'; url: string; pageUrl: string; engine: EngineOptions }
  | { target: 'offscreen'; kind: 'offscreen/status' };

export type JudgeReply =
  | { ok: true; pGenerated: number; logits: number[]; backend: Backend }
  | { ok: false; reason: FailureReason; detail: string };

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
  return isRecord(v) && isShortString(v.requestId, 64) && isShortString(v.url, MAX_URL_LENGTH);
}

export function parseContentToBackground(v: unknown): ContentToBackground | null {
  if (!isRecord(v) || v.kind !== 'content/check') return null;
  const items = v.items;
  if (!Array.isArray(items) || items.length === 0 || items.length > MAX_ITEMS_PER_CHECK) return null;
  if (!items.every(isCheckItem)) return null;
  return { kind: 'content/check', items: items.map((i) => ({ requestId: i.requestId, url: i.url })) };
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
  if (!isRecord(v) || v.kind !== 'verdict') return null;
  if (!isShortString(v.requestId, 64) || !isShortString(v.url, MAX_URL_LENGTH)) return null;
  const verdict = parseVerdict(v.verdict);
  if (!verdict) return null;
  return { kind: 'verdict', requestId: v.requestId, url: v.url, verdict };
}

export function parseUiToBackground(v: unknown): UiToBackground | null {
  if (!isRecord(v)) return null;
  if (v.kind === 'ui/get-status') return { kind: 'ui/get-status' };
  return null;
}

export function parseBackgroundToOffscreen(v: unknown): BackgroundToOffscreen | null {
  if (!isRecord(v) || v.target !== 'offscreen') return null;
  if (
    v.kind === 'offscreen/judge' &&
    isShortString(v.url, MAX_URL_LENGTH) &&
    isShortString(v.pageUrl, MAX_URL_LENGTH) &&
    isRecord(v.engine) &&
    typeof v.engine.allowSoftwareWebGpu === 'boolean'
  ) {
    const engine = { allowSoftwareWebGpu: v.engine.allowSoftwareWebGpu };
    return { target: 'offscreen', kind: 'offscreen/judge', url: v.url, pageUrl: v.pageUrl, engine };
  }
  if (v.kind === 'offscreen/status') return { target: 'offscreen', kind: 'offscreen/status' };
  return null;
}

export function parseJudgeReply(v: unknown): JudgeReply | null {
  if (!isRecord(v)) return null;
  if (v.ok === true) {
    if (!isProbability(v.pGenerated) || (v.backend !== 'webgpu' && v.backend !== 'wasm')) return null;
    if (!Array.isArray(v.logits) || !v.logits.every((x) => typeof x === 'number')) return null;
    return { ok: true, pGenerated: v.pGenerated, logits: v.logits as number[], backend: v.backend };
  }
  if (v.ok === false) {
    if (!FAILURE_REASONS.includes(v.reason as FailureReason) || typeof v.detail !== 'string') return null;
    return { ok: false, reason: v.reason as FailureReason, detail: v.detail };
  }
  return null;
}

export function parseEngineStatus(v: unknown): EngineStatus | null {
  if (!isRecord(v)) return null;
  const states: EngineState[] = ['not-loaded', 'loading', 'ready', 'failed'];
  if (!states.includes(v.state as EngineState)) return null;
  if (v.backend !== null && v.backend !== 'webgpu' && v.backend !== 'wasm') return null;
  if (v.note !== null && typeof v.note !== 'string') return null;
  if (v.model !== null && !isModelSummary(v.model)) return null;
  return {
    state: v.state as EngineState,
    backend: v.backend as Backend | null,
    note: v.note as string | null,
    model: v.model as ModelSummary | null,
  };
}

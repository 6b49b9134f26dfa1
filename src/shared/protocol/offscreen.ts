// The channel between the background and the engine's document (src/offscreen/): a map from
// request kind to { body, reply }. Every request carries `target: 'offscreen'`, so the UI's and
// the pages' messages, which every extension context also receives, are never taken for one.
// The document validates each request (`parseBackgroundToOffscreen`); the background validates
// each reply (`OFFSCREEN_REPLIES`), since the document handles hostile bytes. Over 300 lines
// because it is the widest channel (ten kinds) and every reply has a validator here too (the
// engine's status with its load's parts among them).

import { MODEL_ID_RE, type Precision } from '../../detector/manifest';
import type { Evidence } from '../../detector/provenance/evidence';
import type { Kind, ReplyParsers, Request } from './channel';
import { noReply } from './channel';
import {
  isModelSummary,
  parseEngineOptions,
  parseFailure,
  parseValidators,
  withEvidence,
  type EngineOptions,
  type FailureReason,
  type ModelSummary,
  type Validators,
} from './shapes';
import {
  isCount,
  isMinSide,
  isProbability,
  isRecord,
  isShortString,
  isUrl,
  MAX_BYTES_URL_LENGTH,
  MAX_URL_LENGTH,
  parseActionReply,
  type ActionReply,
} from './validate';

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
  /** The last successful load's parts (null before one). */
  loadSteps: LoadSteps | null;
  /** Images inferred by this engine, and the time spent in the model's run() for them, ms. */
  inferred: { images: number; ms: number };
}

/**
 * Where a load's time went, ms. The check of the file's bytes runs beside the rest, from `open`
 * on; `checkWaitMs` is how long the load still waited for it after the probe.
 */
export interface LoadSteps {
  /** Importing onnxruntime and fetching its WebAssembly binary. */
  runtimeMs: number;
  /** Opening the model file (OPFS parts or the package) and splitting its graph from its weights. */
  openMs: number;
  /** InferenceSession.create: compiling ORT's WebAssembly, reading the weights, optimising the graph. */
  sessionMs: number;
  /** The probe's inference (0 when remembered). */
  probeMs: number;
  /**
   * 'remembered': this model's probe reproduced its reference before on this browser, runtime and
   * thread count, so it did not run again (WebAssembly only).
   */
  probe: 'ran' | 'remembered';
  /** The check of the file's bytes, start to end. */
  checkMs: number;
  checkWaitMs: number;
  /** How the bytes were checked: each part's SHA-256 (WebCrypto), or the whole file's in JavaScript. */
  check: 'parts' | 'stream';
  /**
   * How ORT read the weights: 'worker', a stored model's parts through read-only synchronous
   * access handles in a worker (parts-reader.ts); 'blob', Blob streams (a packaged model, or a
   * browser that cannot share those handles).
   */
  weights: 'worker' | 'blob';
  checkRead: CheckRead;
  /** When the engine became ready (Date.now()). */
  readyAt: number;
  /** Pictures already prepared for the model, waiting for it, when it became ready: their inference starts at once. */
  preparedAtReady: number;
  /**
   * The first page inference after ready (the probe's is not one): the model's run() alone, ms,
   * and when it ended (Date.now()); null until it has run. The first run of a session also fills
   * its activation buffers for the first time.
   */
  firstRunMs: number | null;
  firstRunEndAt: number | null;
}

export type FetchReply =
  | { ok: true; token: string; sha256: string; bytes: number; validators: Validators }
  /** A conditional request answered 304: the bytes judged before are still the ones served. */
  | { ok: true; notModified: true; validators: Validators }
  /** `status`: the HTTP status of a refusal (http-error). */
  | { ok: false; reason: FailureReason; detail: string; status?: number };

/** How the check read the file: 'handles', a stored model's parts read-only beside ORT's reader; 'blob', the Blob. */
export type CheckRead = 'handles' | 'blob';

export type JudgeReply =
  /**
   * `modelId`: the model the user had chosen when the engine loaded (the run may be a variant of it);
   * `thumbnail`: a small JPEG data: URL for the history (null when it could not be made).
   */
  | { ok: true; pGenerated: number; logits: number[]; backend: Backend; modelId: string; thumbnail: string | null; evidence?: Evidence }
  /** `tokenLost`: the document holding the bytes was re-created meanwhile; fetch again. */
  | { ok: false; reason: FailureReason; detail: string; tokenLost?: true };

export const MAX_THUMBNAIL_CHARS = 32_768;
const TOKEN_RE = /^[0-9a-f]{32}$/;
const SHA256_RE = /^[0-9a-f]{64}$/;

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

/** 'streaming': a server without Range requests; the whole file passes once (fetched of fileBytes), only the weights are kept. */
export type CheckpointImportState = 'reading' | 'streaming' | 'fetching' | 'probing' | 'int8' | 'installed' | 'paused' | 'failed' | 'cancelled';

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

type To<Body extends object, Reply> = Kind<{ target: 'offscreen' } & Body, Reply>;

/**
 * The engine works in two steps so the background can decide between them: `fetch` downloads the
 * bytes and hashes them (the offscreen document keeps them under a token for a while), then the
 * background either finds the hash in its cache (`release`) or asks for `infer`.
 */
export type OffscreenChannel = {
  /**
   * `engine`: the fetch starts loading the model meanwhile, with these options. `withCookies`:
   * send the browser's cookies (only for sites the user allowed). `conditional`: the validators
   * of the bytes judged before; the answer is `notModified` when the server says so.
   */
  'offscreen/fetch': To<{ url: string; pageUrl: string; engine: EngineOptions; withCookies?: true; conditional?: Validators }, FetchReply>;
  /** `minSide`: answer "too-small" for an image that decodes smaller than this (0: any size). */
  'offscreen/infer': To<{ token: string; minSide: number; engine: EngineOptions }, JudgeReply>;
  'offscreen/release': To<{ token: string }, void>;
  'offscreen/status': To<object, EngineStatus>;
  /** Starts downloading the model whose manifest is at `url` into OPFS (the document outlives the worker's limits). */
  'offscreen/model-download': To<{ url: string; engine: EngineOptions }, ActionReply>;
  /** The download under way or last finished; null: none since the document was made. */
  'offscreen/model-download-status': To<object, ModelDownloadStatus | null>;
  'offscreen/model-download-cancel': To<object, ModelDownloadStatus | null>;
  /** Starts importing the weights of the checkpoint at `url` ('' for LAION's published one). */
  'offscreen/checkpoint-import': To<{ url: string; engine: EngineOptions; int8?: boolean }, ActionReply>;
  /** The import under way or last ended; null: none since the document was made. */
  'offscreen/checkpoint-import-status': To<object, CheckpointImportStatus | null>;
  /** Pause (keep what is stored) or cancel (remove it) the import under way. */
  'offscreen/checkpoint-import-stop': To<{ pause: boolean }, CheckpointImportStatus | null>;
};
export type BackgroundToOffscreen = Request<OffscreenChannel>;

/** The offscreen document has been idle for its release period: close it to free its memory. */
export type OffscreenToBackground = { kind: 'offscreen/idle' };

export function parseOffscreenToBackground(v: unknown): OffscreenToBackground | null {
  return isRecord(v) && v.kind === 'offscreen/idle' ? { kind: 'offscreen/idle' } : null;
}

const isToken = (v: unknown): v is string => typeof v === 'string' && TOKEN_RE.test(v);

export function parseBackgroundToOffscreen(v: unknown): BackgroundToOffscreen | null {
  if (!isRecord(v) || v.target !== 'offscreen') return null;
  const target = 'offscreen';
  switch (v.kind) {
    case 'offscreen/fetch': {
      const engine = parseEngineOptions(v.engine);
      // A data: URL may carry a whole picture (one the page read for us); any other URL is short.
      const maxUrl = typeof v.url === 'string' && v.url.startsWith('data:') ? MAX_BYTES_URL_LENGTH : MAX_URL_LENGTH;
      if (!engine || !isShortString(v.url, maxUrl) || !isUrl(v.pageUrl)) return null;
      const msg: BackgroundToOffscreen = { target, kind: 'offscreen/fetch', url: v.url, pageUrl: v.pageUrl, engine };
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
      if (!engine || !isToken(v.token) || !isMinSide(v.minSide)) return null;
      return { target, kind: 'offscreen/infer', token: v.token, minSide: v.minSide, engine };
    }
    case 'offscreen/release':
      return isToken(v.token) ? { target, kind: 'offscreen/release', token: v.token } : null;
    case 'offscreen/model-download': {
      const engine = parseEngineOptions(v.engine);
      if (!engine || !isUrl(v.url)) return null;
      return { target, kind: 'offscreen/model-download', url: v.url, engine };
    }
    case 'offscreen/checkpoint-import': {
      const engine = parseEngineOptions(v.engine);
      if (!engine || typeof v.url !== 'string' || v.url.length > MAX_URL_LENGTH || (v.int8 !== undefined && typeof v.int8 !== 'boolean')) return null;
      return { target, kind: 'offscreen/checkpoint-import', url: v.url, engine, ...(v.int8 ? { int8: true } : {}) };
    }
    case 'offscreen/checkpoint-import-stop':
      return typeof v.pause === 'boolean' ? { target, kind: 'offscreen/checkpoint-import-stop', pause: v.pause } : null;
    case 'offscreen/status':
    case 'offscreen/model-download-status':
    case 'offscreen/model-download-cancel':
    case 'offscreen/checkpoint-import-status':
      return { target, kind: v.kind };
    default:
      return null;
  }
}

// ---- replies ------------------------------------------------------------------------------

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
    if (typeof v.modelId !== 'string' || !MODEL_ID_RE.test(v.modelId)) return null;
    const thumbnail = isThumbnail(v.thumbnail) ? v.thumbnail : null;
    return { ok: true, pGenerated: v.pGenerated, logits: v.logits as number[], backend: v.backend, modelId: v.modelId, thumbnail, ...withEvidence(v.evidence) };
  }
  if (v.ok !== false) return null;
  const failure = parseFailure(v);
  if (!failure) return null;
  return v.tokenLost === true ? { ...failure, tokenLost: true } : failure;
}

function parseLoadSteps(v: unknown): LoadSteps | null {
  if (!isRecord(v) || (v.check !== 'parts' && v.check !== 'stream') || (v.probe !== 'ran' && v.probe !== 'remembered')) return null;
  if (v.weights !== 'worker' && v.weights !== 'blob') return null;
  if (v.checkRead !== 'handles' && v.checkRead !== 'blob') return null;
  const time = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x) && x >= 0;
  const keys = ['runtimeMs', 'openMs', 'sessionMs', 'probeMs', 'checkMs', 'checkWaitMs', 'readyAt'] as const;
  if (!keys.every((k) => time(v[k]))) return null;
  const { firstRunMs, firstRunEndAt, preparedAtReady } = v;
  if (!(firstRunMs === null || time(firstRunMs)) || !(firstRunEndAt === null || time(firstRunEndAt))) return null;
  if (typeof preparedAtReady !== 'number' || !Number.isInteger(preparedAtReady) || preparedAtReady < 0) return null;
  const out = { check: v.check, probe: v.probe, weights: v.weights, checkRead: v.checkRead, preparedAtReady, firstRunMs, firstRunEndAt } as LoadSteps;
  for (const k of keys) out[k] = v[k] as number;
  return out;
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
    loadSteps: parseLoadSteps(v.loadSteps),
    inferred:
      isRecord(v.inferred) && num(v.inferred.images) !== null && num(v.inferred.ms) !== null
        ? { images: v.inferred.images as number, ms: v.inferred.ms as number }
        : { images: 0, ms: 0 },
  };
}


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

export function parseCheckpointImportStatus(v: unknown): CheckpointImportStatus | null {
  if (!isRecord(v)) return null;
  const states: CheckpointImportState[] = ['reading', 'streaming', 'fetching', 'probing', 'int8', 'installed', 'paused', 'failed', 'cancelled'];
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

/** The replies the background checks: the document handles hostile bytes, so nothing is taken on trust. */
export const OFFSCREEN_REPLIES: ReplyParsers<OffscreenChannel> = {
  'offscreen/fetch': parseFetchReply,
  'offscreen/infer': parseJudgeReply,
  'offscreen/release': noReply,
  'offscreen/status': parseEngineStatus,
  'offscreen/model-download': parseActionReply,
  'offscreen/model-download-status': parseModelDownloadStatus,
  'offscreen/model-download-cancel': parseModelDownloadStatus,
  'offscreen/checkpoint-import': parseActionReply,
  'offscreen/checkpoint-import-status': parseCheckpointImportStatus,
  'offscreen/checkpoint-import-stop': parseCheckpointImportStatus,
};

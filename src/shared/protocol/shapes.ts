// The shapes more than one channel carries (a verdict, a failure, a model's summary, engine
// options, a response's validators), each with its one validator. Validators copy only known
// fields, check lengths and ranges, and return null for anything else.

import { EVIDENCE_KINDS, EVIDENCE_LIMITS, type Evidence, type EvidenceFinding, type EvidenceKind } from '../../detector/provenance/evidence';
import { intWithin, isProbability, isRecord, isShortString } from './validate';

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
      /**
       * The threshold in force when it was sent. Whoever shows the verdict labels it with the one
       * in force now (the content script puts that here on every settings change).
       */
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
  /** The piece a stored model's weights are read in (parts-reader.ts), for tests that read across pieces and parts; absent: 8 MB. */
  readPieceBytes?: number;
  /** A wait before each such piece, for tests that act while a load still holds the parts open; absent: none. */
  readDelayMs?: number;
}

/** The numeric fault switches' bounds (test builds), for the stored settings and the messages alike. */
export const FAULT_LIMITS = {
  checkpointUnitBytes: { min: 64, max: 2 ** 30 },
  readPieceBytes: { min: 64, max: 2 ** 30 },
  readDelayMs: { min: 0, max: 1_000 },
} as const;

export const ENGINE_LIMITS = {
  threads: { min: 0, max: 64 },
  maxBatch: { min: 1, max: 16 },
  batchWindowMs: { min: 0, max: 1_000 },
  idleReleaseMs: { min: 0, max: 24 * 3_600_000 },
} as const;

/** A response's ETag and Last-Modified, for a later conditional request (null: none sent). */
export interface Validators {
  etag: string | null;
  lastModified: string | null;
}
export const MAX_VALIDATOR_LENGTH = 256;

// ---- validators ---------------------------------------------------------------------------

function isInputSummary(v: unknown): v is InputSummary {
  const side = (n: unknown) => typeof n === 'number' && Number.isInteger(n) && n > 0 && n <= 4096;
  return isRecord(v) && (v.resize === 'square' || v.resize === 'shorter-side') && side(v.size) && side(v.crop);
}

export function isModelSummary(v: unknown): v is ModelSummary {
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
export function withEvidence(v: unknown): { evidence?: Evidence } {
  const evidence = parseEvidence(v);
  return evidence ? { evidence } : {};
}

export function parseVerdict(v: unknown): Verdict | null {
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

export function parseEngineOptions(v: unknown): EngineOptions | null {
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
  const { checkpointUnitBytes: unit, readPieceBytes: piece, readDelayMs: delay } = v.faults;
  if (unit !== undefined && !intWithin(unit, FAULT_LIMITS.checkpointUnitBytes)) return null;
  if (piece !== undefined && !intWithin(piece, FAULT_LIMITS.readPieceBytes)) return null;
  if (delay !== undefined && !intWithin(delay, FAULT_LIMITS.readDelayMs)) return null;
  return {
    ...options,
    faults: {
      failWebGpuInit,
      perturbWebGpuProbe,
      pretendShaderF16,
      ...(unit === undefined ? {} : { checkpointUnitBytes: unit }),
      ...(piece === undefined ? {} : { readPieceBytes: piece }),
      ...(delay === undefined ? {} : { readDelayMs: delay }),
    },
  };
}

export function parseFailure(v: Record<string, unknown>): { ok: false; reason: FailureReason; detail: string } | null {
  if (!FAILURE_REASONS.includes(v.reason as FailureReason) || typeof v.detail !== 'string') return null;
  return { ok: false, reason: v.reason as FailureReason, detail: v.detail.slice(0, 500) };
}

const isValidator = (v: unknown): v is string | null => v === null || isShortString(v, MAX_VALIDATOR_LENGTH);

export function parseValidators(v: unknown): Validators | null {
  if (!isRecord(v) || !isValidator(v.etag) || !isValidator(v.lastModified)) return null;
  return { etag: v.etag, lastModified: v.lastModified };
}

// The channel from the extension's own pages (popup, options) to the background: a map from
// request kind to { body, reply }. The background validates every request
// (`parseUiToBackground`); the pages trust the replies, which come from the background itself.

import { MODEL_ID_RE, type Precision, type VariantAgreement } from '../../detector/manifest';
import type { Evidence } from '../../detector/provenance/evidence';
import type { Kind, Request } from './channel';
import type { CheckpointImportStatus, EngineStatus, ModelDownloadStatus } from './offscreen';
import { isId, isRecord, isUrl, MAX_URL_LENGTH, type ActionReply } from './validate';

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
  /** The threshold in force when it was judged (kept for the export; the popup shows today's). */
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

export interface StatusReply {
  engine: EngineStatus;
  stats: { inferences: number; cacheHits: number; hashHits: number; failures: number };
}

// Downloaded models live in OPFS (src/shared/model-store.ts); the offscreen document downloads
// them, because an 800 MB download outlives the service worker's 30 s idle / 5 min limits.

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

export interface ModelsReply {
  activeId: string;
  models: ModelInfo[];
  unfinished: UnfinishedModelDownload[];
  download: ModelDownloadStatus | null;
  /** The checkpoint import in the offscreen document (running or just ended), if any. */
  checkpoint: CheckpointImportStatus | null;
}

export type ModelActionReply = ActionReply;
/** A model request that failed unexpectedly (storage, the engine's document) answers this. */
type ModelError = { ok: false; error: string };
type Ok = { ok: true };

export type UiChannel = {
  'ui/get-status': Kind<object, StatusReply>;
  'ui/set-site-enabled': Kind<{ site: string; enabled: boolean }, Ok>;
  'ui/set-paused': Kind<{ paused: boolean }, Ok>;
  /** The popup's view of one tab: its site, whether it is scanned, and its counts. */
  'ui/get-tab': Kind<{ tabId: number }, TabReply>;
  'ui/list-history': Kind<{ site: string | null; query: string; limit: number }, { entries: HistoryEntry[] }>;
  /** "Report a mistake": the user says this verdict is wrong (or takes that back). */
  'ui/mark-mistake': Kind<{ id: number; mistake: boolean }, { ok: boolean }>;
  'ui/clear-history': Kind<object, Ok>;
  /** Every history entry, for export (thumbnails left out). */
  'ui/export-history': Kind<object, { entries: HistoryEntry[] }>;
  /** Deletes the cache, history, counters and settings. */
  'ui/delete-all-data': Kind<object, Ok>;
  /** "Check all images on this page now" (on-demand mode, or to include images far down the page). */
  'ui/scan-tab': Kind<{ tabId: number }, { ok: boolean }>;
  /** The packaged and downloaded models, the active one, unfinished downloads, the running one. */
  'ui/list-models': Kind<object, ModelsReply | ModelError>;
  /** Download and install the model whose manifest is at `url` (https, or http on loopback). */
  'ui/install-model': Kind<{ url: string }, ModelActionReply>;
  'ui/cancel-model-download': Kind<object, ModelActionReply>;
  'ui/set-active-model': Kind<{ id: string }, ModelActionReply>;
  /** Removes a downloaded model, or an unfinished download (packaged models cannot be removed). */
  'ui/remove-model': Kind<{ id: string }, ModelActionReply>;
  /**
   * "Get LAION's realfake model" (or any checkpoint URL): import the checkpoint at `url` ('' for
   * LAION's published one); continues a paused import of it. The offscreen document fetches only
   * the model's weights with Range requests (src/offscreen/checkpoint-download.ts).
   */
  'ui/import-checkpoint': Kind<{ url: string; int8?: boolean }, ModelActionReply>;
  /** Pause (keep what is stored) or cancel (remove it) the import under way. */
  'ui/stop-checkpoint-import': Kind<{ pause: boolean }, ModelActionReply>;
};
export type UiToBackground = Request<UiChannel>;

const HOST_RE = /^[a-z0-9.-]{1,253}$|^\[[0-9a-f:.]{2,45}\]$/;

export function parseUiToBackground(v: unknown): UiToBackground | null {
  if (!isRecord(v)) return null;
  switch (v.kind) {
    case 'ui/get-status':
    case 'ui/clear-history':
    case 'ui/export-history':
    case 'ui/delete-all-data':
    case 'ui/list-models':
    case 'ui/cancel-model-download':
      return { kind: v.kind };
    case 'ui/set-site-enabled':
      if (typeof v.site !== 'string' || !HOST_RE.test(v.site) || typeof v.enabled !== 'boolean') return null;
      return { kind: 'ui/set-site-enabled', site: v.site, enabled: v.enabled };
    case 'ui/set-paused':
      return typeof v.paused === 'boolean' ? { kind: 'ui/set-paused', paused: v.paused } : null;
    case 'ui/get-tab':
    case 'ui/scan-tab':
      return isId(v.tabId) ? { kind: v.kind, tabId: v.tabId } : null;
    case 'ui/list-history': {
      const site = v.site === null ? null : typeof v.site === 'string' && HOST_RE.test(v.site) ? v.site : undefined;
      if (site === undefined || typeof v.query !== 'string' || v.query.length > 200) return null;
      if (!isId(v.limit) || v.limit < 1 || v.limit > MAX_HISTORY_PAGE) return null;
      return { kind: 'ui/list-history', site, query: v.query, limit: v.limit };
    }
    case 'ui/mark-mistake':
      return isId(v.id) && typeof v.mistake === 'boolean' ? { kind: 'ui/mark-mistake', id: v.id, mistake: v.mistake } : null;
    case 'ui/install-model':
      return isUrl(v.url) ? { kind: 'ui/install-model', url: v.url } : null;
    case 'ui/set-active-model':
    case 'ui/remove-model':
      return typeof v.id === 'string' && MODEL_ID_RE.test(v.id) ? { kind: v.kind, id: v.id } : null;
    case 'ui/import-checkpoint':
      if (typeof v.url !== 'string' || v.url.length > MAX_URL_LENGTH || (v.int8 !== undefined && typeof v.int8 !== 'boolean')) return null;
      return { kind: 'ui/import-checkpoint', url: v.url, ...(v.int8 ? { int8: true } : {}) };
    case 'ui/stop-checkpoint-import':
      return typeof v.pause === 'boolean' ? { kind: 'ui/stop-checkpoint-import', pause: v.pause } : null;
    default:
      return null;
  }
}

// Decides each image: the cache by URL first (no fetch); otherwise the offscreen document
// downloads and hashes the bytes, the cache is asked again by hash (the same picture under
// another URL), and only then is the model run. Work goes through the priority queue with a
// timeout; results go to the cache and the history unless the tab is incognito and the user
// said no.

import type { ModelManifest } from '../detector/manifest';
import { loadActiveModel, summarize } from '../shared/model-registry';
import type { EngineOptions, JudgeReply, Verdict } from '../shared/protocol';
import { getEngineOptions, getSettings, siteOf, type Settings } from '../shared/settings';
import { checkImageUrl } from '../shared/url-policy';
import { CancelledError, JobQueue, type Priority } from './job-queue';
import { fetchInOffscreen, inferInOffscreen, releaseInOffscreen } from './offscreen-client';
import { bumpStat, getPrediction, getPredictionByHash, recordResult } from './prediction-store';

const MAX_CONCURRENT = 4;
/** A request that has not finished by then is answered "timed out" (fetch has its own, shorter one). */
export const REQUEST_TIMEOUT_MS = 90_000;
/** Fetch-and-infer rounds when the offscreen document was re-created and lost the bytes. */
const MAX_ROUNDS = 3;

export const queue = new JobQueue(MAX_CONCURRENT);

let manifestPromise: Promise<ModelManifest> | null = null;
export function activeManifest(): Promise<ModelManifest> {
  manifestPromise ??= loadActiveModel().then(
    (m) => m.manifest,
    (e: unknown) => {
      manifestPromise = null;
      throw e;
    },
  );
  return manifestPromise;
}

export interface CheckRequest {
  url: string;
  /** The page (frame) that shows the image. */
  pageUrl: string;
  pageTitle: string;
  tabId: number;
  incognito: boolean;
  priority: Priority;
}

/** What one queued job produced: a new score, a score found by hash, or a failure. */
type Outcome =
  | { kind: 'inferred'; pGenerated: number; sha256: string; thumbnail: string | null }
  | { kind: 'hash-hit'; pGenerated: number; sha256: string }
  | { kind: 'failed'; reason: Extract<JudgeReply, { ok: false }>['reason']; detail: string };

/** Inferences under way by content hash, so two URLs of one picture arriving together infer once. */
const inferring = new Map<string, Promise<JudgeReply>>();

function withTimeout<T>(work: Promise<T>, ms: number, onTimeout: () => T): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<T>((resolve) => {
    timer = setTimeout(() => resolve(onTimeout()), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

async function judge(modelId: string, req: CheckRequest, engine: EngineOptions): Promise<Outcome> {
  for (let round = 1; ; round++) {
    const fetched = await fetchInOffscreen(req.url, req.pageUrl, engine);
    if (!fetched.ok) return { kind: 'failed', reason: fetched.reason, detail: fetched.detail };
    const known = await getPredictionByHash(modelId, fetched.sha256);
    const hashKey = `${modelId}\n${fetched.sha256}`;
    const running = inferring.get(hashKey);
    if (known || running) {
      void releaseInOffscreen(fetched.token);
      const reply = known ? { ok: true as const, pGenerated: known.pGenerated } : await running;
      if (reply?.ok) return { kind: 'hash-hit', pGenerated: reply.pGenerated, sha256: fetched.sha256 };
      if (reply && !reply.tokenLost) return { kind: 'failed', reason: reply.reason, detail: reply.detail };
      continue; // the other request lost its bytes; try with ours
    }
    const inference = inferInOffscreen(fetched.token, engine);
    inferring.set(hashKey, inference);
    let reply: JudgeReply;
    try {
      reply = await inference;
    } finally {
      inferring.delete(hashKey);
    }
    if (reply.ok) return { kind: 'inferred', pGenerated: reply.pGenerated, sha256: fetched.sha256, thumbnail: reply.thumbnail };
    if (!reply.tokenLost || round >= MAX_ROUNDS) return { kind: 'failed', reason: reply.reason, detail: reply.detail };
  }
}

async function record(req: CheckRequest, modelId: string, outcome: Outcome, settings: Settings): Promise<void> {
  if (outcome.kind === 'failed') {
    await bumpStat('failures');
    return;
  }
  await bumpStat(outcome.kind === 'inferred' ? 'inferences' : 'hashHits');
  // Incognito leaves no trace (cache or history) unless the user allowed it.
  if (req.incognito && !settings.incognitoHistory) return;
  await recordResult(
    { modelId, url: req.url, sha256: outcome.sha256, pGenerated: outcome.pGenerated },
    {
      url: req.url,
      pageUrl: req.pageUrl,
      pageTitle: req.pageTitle.slice(0, 300),
      site: siteOf(req.pageUrl) ?? '',
      pGenerated: outcome.pGenerated,
      threshold: settings.threshold,
      modelId,
      time: Date.now(),
      thumbnail: outcome.kind === 'inferred' ? outcome.thumbnail : null,
    },
    settings,
  );
}

export async function checkImage(req: CheckRequest): Promise<Verdict> {
  const allowed = checkImageUrl(req.url, req.pageUrl);
  if (!allowed.ok) return { status: 'failed', reason: allowed.reason, detail: allowed.detail };

  let manifest: ModelManifest;
  try {
    manifest = await activeManifest();
  } catch (e) {
    return { status: 'failed', reason: 'model-error', detail: e instanceof Error ? e.message : String(e) };
  }
  const settings = await getSettings();
  const model = summarize(manifest);
  const cached = await getPrediction(manifest.id, req.url);
  if (cached) {
    await bumpStat('cacheHits');
    return { status: 'done', pGenerated: cached.pGenerated, threshold: settings.threshold, model, fromCache: true };
  }

  const engine = await getEngineOptions();
  let outcome: Outcome;
  try {
    outcome = await queue.run(`${manifest.id}\n${req.url}`, req.priority, req.tabId, async () => {
      const result = await withTimeout<Outcome>(judge(manifest.id, req, engine), REQUEST_TIMEOUT_MS, () => ({
        kind: 'failed',
        reason: 'timeout',
        detail: `no verdict within ${REQUEST_TIMEOUT_MS / 1000} s`,
      }));
      // Recorded once per job, however many requests joined it.
      await record(req, manifest.id, result, settings);
      return result;
    });
  } catch (e) {
    if (e instanceof CancelledError) return { status: 'failed', reason: 'timeout', detail: e.message };
    return { status: 'failed', reason: 'model-error', detail: e instanceof Error ? e.message : String(e) };
  }
  if (outcome.kind === 'failed') return { status: 'failed', reason: outcome.reason, detail: outcome.detail };
  return {
    status: 'done',
    pGenerated: outcome.pGenerated,
    threshold: settings.threshold,
    model,
    fromCache: outcome.kind === 'hash-hit',
  };
}

// Decides each image: the cache by URL first (no fetch); otherwise the offscreen document
// downloads and hashes the bytes, the cache is asked again by hash (the same picture under
// another URL), and only then is the model run. Work goes through the priority queue with a
// timeout; results go to the cache and the history unless the tab is incognito and the user
// said no.

import type { ModelManifest } from '../detector/manifest';
import { loadActiveModel, summarize } from '../shared/model-registry';
import type { EngineOptions, Evidence, JudgeReply, Verdict } from '../shared/protocol';
import { getEngineOptions, getSettings, siteOf, type Settings } from '../shared/settings';
import { checkImageUrl } from '../shared/url-policy';
import { CancelledError, JobQueue, ShedError, type Owner, type Priority } from './job-queue';
import { fetchInOffscreen, inferInOffscreen, releaseInOffscreen } from './offscreen-client';
import { bumpStat, getPrediction, getPredictionByHash, recordResult } from './prediction-store';

const MAX_CONCURRENT = 4;
/** A request that has not finished by then is answered "timed out" (fetch has its own, shorter one). */
export const REQUEST_TIMEOUT_MS = 90_000;
/** Fetch-and-infer rounds when the offscreen document was re-created and lost the bytes. */
const MAX_ROUNDS = 3;

/**
 * Waiting work is capped (a page of 5,000 images, or one adding images forever, cannot grow
 * the queue): past the cap the least urgent requests (the rest of the page, then near the
 * viewport; visible ones only as a last resort, right-clicks never), oldest first, are shed and
 * their pages told so (BackgroundToContent 'shed').
 */
export const QUEUE_LIMITS = { waiting: 400, perTab: 200 } as const;

export const queue = new JobQueue(MAX_CONCURRENT, QUEUE_LIMITS);

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

/** The user switched or removed a model: the next request reads the active model again. */
export function forgetActiveManifest(): void {
  manifestPromise = null;
}

export interface CheckRequest {
  /** The address the page shows; for `bytes` requests only a label (blob: URL, shortened data:). */
  url: string;
  /** The picture as a data: URL, read by the page's content script (blob: and long data: images). */
  bytes?: string;
  /** Not judged (answer "too-small") when it decodes smaller than this on its shorter side. */
  minSide: number;
  /** The page (frame) that shows the image. */
  pageUrl: string;
  /**
   * The tab's top page: a local or private image address is fetched only when this page is
   * itself on such an address (a local iframe in a public page does not count).
   */
  tabUrl: string;
  pageTitle: string;
  tabId: number;
  incognito: boolean;
  priority: Priority;
  /** Who waits (see JobQueue): the tab, or one withdrawable request of it. */
  owner: Owner;
  /** Called (and the verdict is null) when the queue shed this request to stay under its cap. */
  onShed?: () => void;
}

/** What one queued job produced: a new score, a score found by hash, or a failure. */
type Outcome =
  | { kind: 'inferred'; pGenerated: number; sha256: string; thumbnail: string | null; evidence?: Evidence }
  | { kind: 'hash-hit'; pGenerated: number; sha256: string; evidence?: Evidence }
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
    const fetched = await fetchInOffscreen(req.bytes ?? req.url, req.tabUrl, engine);
    if (!fetched.ok) return { kind: 'failed', reason: fetched.reason, detail: fetched.detail };
    const known = await getPredictionByHash(modelId, fetched.sha256);
    const hashKey = `${modelId}\n${fetched.sha256}`;
    const running = inferring.get(hashKey);
    if (known || running) {
      void releaseInOffscreen(fetched.token);
      const reply = known ? { ok: true as const, pGenerated: known.pGenerated, evidence: known.evidence } : await running;
      if (reply?.ok) return { kind: 'hash-hit', pGenerated: reply.pGenerated, sha256: fetched.sha256, evidence: reply.evidence };
      if (reply && !reply.tokenLost) return { kind: 'failed', reason: reply.reason, detail: reply.detail };
      continue; // the other request lost its bytes; try with ours
    }
    const inference = inferInOffscreen(fetched.token, req.minSide, engine);
    inferring.set(hashKey, inference);
    let reply: JudgeReply;
    try {
      reply = await inference;
    } finally {
      inferring.delete(hashKey);
    }
    if (reply.ok) {
      return { kind: 'inferred', pGenerated: reply.pGenerated, sha256: fetched.sha256, thumbnail: reply.thumbnail, evidence: reply.evidence };
    }
    if (!reply.tokenLost || round >= MAX_ROUNDS) return { kind: 'failed', reason: reply.reason, detail: reply.detail };
  }
}

async function record(req: CheckRequest, modelId: string, outcome: Outcome, settings: Settings): Promise<void> {
  if (outcome.kind === 'failed') {
    // Too small to judge is a skip, not a failure.
    if (outcome.reason !== 'too-small') await bumpStat('failures');
    return;
  }
  await bumpStat(outcome.kind === 'inferred' ? 'inferences' : 'hashHits');
  // Incognito leaves no trace (cache or history) unless the user allowed it.
  if (req.incognito && !settings.incognitoHistory) return;
  await recordResult(
    // Pictures the page handed over are cached by their bytes only: a blob: URL names nothing
    // lasting, and a data: label is not unique.
    {
      modelId,
      url: req.bytes ? `sha256:${outcome.sha256}` : req.url,
      sha256: outcome.sha256,
      pGenerated: outcome.pGenerated,
      evidence: outcome.evidence,
    },
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
      evidence: outcome.evidence,
    },
    settings,
  );
}

/** The verdict, or null when every requester withdrew before the work started. */
/** `settings`: the caller's fresh copy, so a batch of 64 pictures reads storage once, not 64 times. */
export async function checkImage(req: CheckRequest, known?: Settings): Promise<Verdict | null> {
  const allowed = checkImageUrl(req.bytes ?? req.url, req.tabUrl);
  if (!allowed.ok) return { status: 'failed', reason: allowed.reason, detail: allowed.detail };

  let manifest: ModelManifest;
  try {
    manifest = await activeManifest();
  } catch (e) {
    return { status: 'failed', reason: 'model-error', detail: e instanceof Error ? e.message : String(e) };
  }
  const settings = known ?? (await getSettings());
  const model = summarize(manifest);
  const cached = req.bytes ? undefined : await getPrediction(manifest.id, req.url);
  if (cached) {
    // Counted after answering: a page scrolling past cached pictures must not wait on a write.
    void bumpStat('cacheHits').catch(() => undefined);
    // Predictions cached before provenance was read have no evidence: the verdict simply lacks it.
    const evidence = cached.evidence ? { evidence: cached.evidence } : {};
    return { status: 'done', pGenerated: cached.pGenerated, threshold: settings.threshold, model, fromCache: true, ...evidence };
  }

  const engine = await getEngineOptions();
  let outcome: Outcome;
  try {
    const key = `${manifest.id}\n${req.bytes ?? req.url}`;
    outcome = await queue.run(key, req.priority, req.owner, async () => {
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
    if (e instanceof CancelledError) return null;
    if (e instanceof ShedError) {
      req.onShed?.();
      return null;
    }
    return { status: 'failed', reason: 'model-error', detail: e instanceof Error ? e.message : String(e) };
  }
  if (outcome.kind === 'failed') return { status: 'failed', reason: outcome.reason, detail: outcome.detail };
  return {
    status: 'done',
    pGenerated: outcome.pGenerated,
    threshold: settings.threshold,
    model,
    fromCache: outcome.kind === 'hash-hit',
    ...(outcome.evidence ? { evidence: outcome.evidence } : {}),
  };
}

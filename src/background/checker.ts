// Decides each image: the cache by URL first (no fetch) while the address was checked recently;
// otherwise the offscreen document downloads and hashes the bytes (a conditional request when the
// cache knows the address: 304 or the same bytes cost no inference), the cache is asked again by
// hash (the same picture under another URL), and only then is the model run. A refused download
// is tried once more the way a page would load it (hotlink.ts). Work goes through the priority
// queue with a timeout; results go to the cache, the history and the counters unless the tab is
// incognito and the user said no: then nothing at all is written.

import type { ModelManifest } from '../detector/manifest';
import { loadActiveModel, summarize } from '../shared/model-registry';
import type { BytesRoute, EngineOptions, ModelSummary, Validators, Verdict } from '../shared/protocol/shapes';
import type { Evidence } from '../detector/provenance/evidence';
import { withTimeout } from '../detector/timeout';
import type { FetchReply, JudgeReply } from '../shared/protocol/offscreen';
import { cookiesAllowed, getEngineOptions, readSettings, siteOf, type Settings } from '../shared/settings';
import { Slots } from '../shared/slots';
import { checkImageUrl } from '../shared/url-policy';
import { referrerFor, REFUSED_STATUSES, withReferrer } from './hotlink';
import { CancelledError, JobQueue, ShedError, type Owner, type Priority } from './job-queue';
import { fetchInOffscreen, inferInOffscreen, releaseInOffscreen, withAdaptiveIdle } from './offscreen-client';
import { bumpStat, getPrediction, getPredictionByHash, getPredictions, markChecked, recordResult, touchPredictions, type PredictionRecord } from './prediction-store';

/**
 * Jobs at once: most of a job is waiting (a download, a cache read, a message to the offscreen
 * document), so more run than the engine judges at once.
 */
const MAX_CONCURRENT = 8;
/**
 * Pictures in the offscreen document's hands at once (decoded, waiting for or in the model): each
 * may hold up to 200 MB of pixels there, so this bound is the memory's, not the queue's.
 */
const MAX_JUDGING = 4;
/** A request that has not finished by then is answered "timed out" (fetch has its own, shorter one). */
export const REQUEST_TIMEOUT_MS = 90_000;
/** How long a verdict waits for its result to be written before it goes out anyway. */
const RECORD_WAIT_MS = 5_000;
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
  /** With `bytes`: the page read them from `url` after the server refused the extension. */
  via?: 'page';
  /** The page's own <img> failed to load `url`: a refusal is not hotlink protection. */
  brokenInPage?: boolean;
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

/** Where a request comes from: the page (frame) and its tab. */
export function fromTab(tab: chrome.tabs.Tab & { id: number }, pageUrl: string): Pick<CheckRequest, 'pageUrl' | 'tabUrl' | 'pageTitle' | 'tabId' | 'incognito'> {
  return { pageUrl, tabUrl: tab.url ?? pageUrl, pageTitle: tab.title ?? '', tabId: tab.id, incognito: tab.incognito };
}

interface Routed {
  /** How the bytes were had around a refusal (absent: plainly). */
  via?: BytesRoute;
  validators?: Validators;
}

/**
 * What one queued job produced: a new score, a score found by hash, the cached score of an address
 * that still serves the same bytes, a failure (`askPage`: the server refused us, not the page), or
 * a score by another model than the job's (the user switched or removed the model meanwhile, and
 * the engine was loaded again): never recorded, the picture is checked again under the new one.
 */
type Outcome =
  | ({ kind: 'inferred'; pGenerated: number; sha256: string; thumbnail: string | null; evidence?: Evidence } & Routed)
  | ({ kind: 'hash-hit'; pGenerated: number; sha256: string; evidence?: Evidence } & Routed)
  | { kind: 'unchanged'; pGenerated: number; evidence?: Evidence; validators: Validators }
  | { kind: 'failed'; reason: Extract<JudgeReply, { ok: false }>['reason']; detail: string; askPage?: boolean }
  | { kind: 'model-changed' };

/** How many times one request follows the model in use changing under it before it gives up. */
const MAX_MODEL_CHANGES = 2;

/** The in-memory key of a picture's bytes (inferences and writes under way), beside the queue's `modelId\naddress`. */
function hashKeyOf(modelId: string, sha256: string): string {
  return `${modelId}\n${sha256}`;
}

/** Inferences under way by content hash, so two URLs of one picture arriving together infer once. */
const inferring = new Map<string, Promise<JudgeReply>>();

const judging = new Slots(MAX_JUDGING);

/**
 * Results being written to the cache, by `modelId\naddress` and `modelId\nsha256`: a job's slot
 * goes to the next picture before its write, and a request for the same address or bytes arriving
 * meanwhile reads the cache after it (not a second fetch or inference).
 */
const writing = new Map<string, Promise<void>>();

/** Every write under way (results, and counters no request waits for), until it lands. */
const writesUnderWay = new Set<Promise<void>>();

function inBackground(write: Promise<unknown>): Promise<void> {
  const done = write.then(
    () => undefined,
    () => undefined,
  );
  writesUnderWay.add(done);
  void done.then(() => writesUnderWay.delete(done));
  return done;
}

/** Resolves once every write under way has landed (the tests read the database then). */
export async function writesSettled(): Promise<void> {
  while (writesUnderWay.size > 0) await Promise.all(writesUnderWay);
}

function noteWriting(keys: string[], write: Promise<void>): Promise<void> {
  const done = inBackground(write);
  for (const key of keys) writing.set(key, done);
  void done.then(() => {
    for (const key of keys) if (writing.get(key) === done) writing.delete(key);
  });
  return done;
}

/** A cached verdict older than this is checked against the server again. */
function isStale(record: PredictionRecord, settings: Settings, now = Date.now()): boolean {
  return now - (record.checkedAt ?? record.createdAt) >= settings.revalidateAfterHours * 3_600_000;
}

type Fetched = { reply: FetchReply; via?: BytesRoute };

/**
 * The picture's bytes: as they are, plainly (no cookies, no referrer); and when the server refuses
 * an address the page itself loaded, once more with the page's address as referrer (and the site's
 * cookies where the user allowed them).
 */
async function fetchBytes(req: CheckRequest, engine: EngineOptions, settings: Settings, conditional?: Validators): Promise<Fetched> {
  if (req.bytes) return { reply: await fetchInOffscreen(req.bytes, req.tabUrl, engine), ...(req.via ? { via: req.via } : {}) };
  const first = await fetchInOffscreen(req.url, req.tabUrl, engine, { conditional });
  if (first.ok || first.status === undefined || !REFUSED_STATUSES.includes(first.status) || req.brokenInPage) return { reply: first };
  const referrer = referrerFor(req.url, req.pageUrl);
  const withCookies = cookiesAllowed(settings, req.pageUrl);
  if (!referrer && !withCookies) return { reply: first };
  const again = (): Promise<FetchReply> => fetchInOffscreen(req.url, req.tabUrl, engine, { conditional, withCookies });
  const second = referrer ? await withReferrer(req.url, referrer, again) : await again();
  if (!second) return { reply: first };
  if (second.ok) return { reply: second, via: withCookies ? 'cookies' : 'referrer' };
  const tried = [referrer ? "with the page's address as referrer" : '', withCookies ? "with the site's cookies" : ''].filter(Boolean).join(' and ');
  const cookies = withCookies
    ? ''
    : "; the server may want the site's cookies, which Realfake Lens sends only for sites you allow in its options";
  return { reply: { ...first, detail: `${first.detail}, also ${tried}${cookies}` } };
}

async function judge(modelId: string, req: CheckRequest, engine: EngineOptions, settings: Settings, cached?: PredictionRecord): Promise<Outcome> {
  for (let round = 1; ; round++) {
    const { reply: fetched, via } = await fetchBytes(req, engine, settings, round === 1 ? (cached?.validators ?? undefined) : undefined);
    if (!fetched.ok) {
      // A refused address the page showed: the page may read it itself (same origin or CORS).
      const askPage = !req.bytes && !req.brokenInPage && fetched.status !== undefined && REFUSED_STATUSES.includes(fetched.status);
      return { kind: 'failed', reason: fetched.reason, detail: fetched.detail, ...(askPage ? { askPage } : {}) };
    }
    const routed: Routed = { ...(via ? { via } : {}), validators: fetched.validators };
    if ('notModified' in fetched) {
      if (cached) return { kind: 'unchanged', pGenerated: cached.pGenerated, evidence: cached.evidence, validators: fetched.validators };
      return { kind: 'failed', reason: 'http-error', detail: 'HTTP 304 to a request that was not conditional' };
    }
    if (cached && cached.sha256 === fetched.sha256) {
      void releaseInOffscreen(fetched.token);
      return { kind: 'unchanged', pGenerated: cached.pGenerated, evidence: cached.evidence, validators: fetched.validators };
    }
    const hashKey = hashKeyOf(modelId, fetched.sha256);
    await writing.get(hashKey);
    const known = await getPredictionByHash(modelId, fetched.sha256);
    const running = inferring.get(hashKey);
    if (known || running) {
      void releaseInOffscreen(fetched.token);
      const reply = known ? { ok: true as const, pGenerated: known.pGenerated, evidence: known.evidence, modelId } : await running;
      if (reply?.ok && reply.modelId !== modelId) return { kind: 'model-changed' };
      if (reply?.ok) return { kind: 'hash-hit', pGenerated: reply.pGenerated, sha256: fetched.sha256, evidence: reply.evidence, ...routed };
      if (reply && !reply.tokenLost) return { kind: 'failed', reason: reply.reason, detail: reply.detail };
      continue; // the other request lost its bytes; try with ours
    }
    const inference = judging.run(() => inferInOffscreen(fetched.token, req.minSide, engine));
    inferring.set(hashKey, inference);
    let reply: JudgeReply;
    try {
      reply = await inference;
    } finally {
      inferring.delete(hashKey);
    }
    if (reply.ok && reply.modelId !== modelId) return { kind: 'model-changed' };
    if (reply.ok) {
      return { kind: 'inferred', pGenerated: reply.pGenerated, sha256: fetched.sha256, thumbnail: reply.thumbnail, evidence: reply.evidence, ...routed };
    }
    if (!reply.tokenLost || round >= MAX_ROUNDS) return { kind: 'failed', reason: reply.reason, detail: reply.detail };
  }
}

/** Whether this request may write anything (cache, history, counters): not in incognito unless allowed. */
function remembers(req: Pick<CheckRequest, 'incognito'>, settings: Settings): boolean {
  return !req.incognito || settings.incognitoHistory;
}

/** Test builds only: a wait before each result is written (a window for the service worker to stop in). */
let recordDelayMs = 0;
export function delayRecords(ms: number): void {
  if (__REALFAKE_TEST__) recordDelayMs = Math.max(0, Math.min(ms, 10_000));
}

async function record(req: CheckRequest, modelId: string, outcome: Outcome, settings: Settings): Promise<void> {
  if (__REALFAKE_TEST__ && recordDelayMs > 0) await new Promise((r) => setTimeout(r, recordDelayMs));
  // Incognito leaves no trace (cache, history or counters) unless the user allowed it.
  if (!remembers(req, settings) || outcome.kind === 'model-changed') return;
  if (outcome.kind === 'failed') {
    // Too small to judge is a skip, not a failure.
    if (outcome.reason !== 'too-small') await bumpStat('failures');
    return;
  }
  if (outcome.kind === 'unchanged') {
    await markChecked(modelId, req.url, outcome.validators);
    await bumpStat('cacheHits');
    return;
  }
  await bumpStat(outcome.kind === 'inferred' ? 'inferences' : 'hashHits');
  await recordResult(
    // Pictures the page handed over are cached by their bytes only: a blob: URL names nothing
    // lasting, and a data: label is not unique.
    {
      modelId,
      url: req.bytes ? `sha256:${outcome.sha256}` : req.url,
      sha256: outcome.sha256,
      pGenerated: outcome.pGenerated,
      evidence: outcome.evidence,
      validators: req.bytes ? null : (outcome.validators ?? null),
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

/** A cached prediction's verdict, labelled at the threshold in force. */
function cachedVerdict(c: PredictionRecord, settings: Settings, model: ModelSummary): Verdict {
  // Predictions cached before provenance was read have no evidence: the verdict simply lacks it.
  return {
    status: 'done',
    pGenerated: c.pGenerated,
    threshold: settings.threshold,
    model,
    fromCache: true,
    ...(c.evidence ? { evidence: c.evidence } : {}),
  };
}

export interface CachedAnswer {
  url: string;
  record: PredictionRecord;
  verdict: Verdict;
  /** Old enough to be checked against the server again (checkImage would revalidate it). */
  stale: boolean;
}

/**
 * What the cache already says about a page's addresses, in one read: no fetch, no inference,
 * nothing written. Addresses the URL policy refuses for this tab are left out, as are unknown ones.
 */
export async function lookUpCached(urls: readonly string[], tabUrl: string, settings: Settings): Promise<CachedAnswer[]> {
  let manifest: ModelManifest;
  try {
    manifest = await activeManifest();
  } catch {
    return []; // no model: content/check says why
  }
  const model = summarize(manifest);
  const found = await getPredictions(manifest.id, urls.filter((url) => checkImageUrl(url, tabUrl).ok));
  return [...found].map(([url, record]) => ({ url, record, verdict: cachedVerdict(record, settings, model), stale: isStale(record, settings) }));
}

/**
 * Pictures a page badged from looked-up verdicts (they came near): used and counted now, as
 * checkImage's cache hit is (nothing written in incognito unless allowed). Returns the verdicts.
 */
export async function useCached(urls: readonly string[], tab: Pick<CheckRequest, 'tabUrl' | 'incognito'>, settings: Settings): Promise<CachedAnswer[]> {
  const answers = await lookUpCached(urls, tab.tabUrl, settings);
  if (answers.length > 0 && remembers(tab, settings)) {
    await Promise.all([touchPredictions(answers.map((a) => a.record)), bumpStat('cacheHits', answers.length)]).catch(() => undefined);
  }
  return answers;
}

/** The verdict, or null when every requester withdrew before the work started. */
/** `settings`: the caller's fresh copy, so a batch of 64 pictures reads storage once, not 64 times. */
export async function checkImage(req: CheckRequest, known?: Settings, modelChanges = 0): Promise<Verdict | null> {
  const allowed = checkImageUrl(req.bytes ?? req.url, req.tabUrl);
  if (!allowed.ok) return { status: 'failed', reason: allowed.reason, detail: allowed.detail };

  let manifest: ModelManifest;
  try {
    manifest = await activeManifest();
  } catch (e) {
    return { status: 'failed', reason: 'model-error', detail: e instanceof Error ? e.message : String(e) };
  }
  const settings = known ?? (await readSettings());
  const model = summarize(manifest);
  const remember = remembers(req, settings);
  const key = `${manifest.id}\n${req.bytes ?? req.url}`;
  await writing.get(key);
  const cached = req.bytes ? undefined : await getPrediction(manifest.id, req.url, remember);
  const fromCache = (c: PredictionRecord): Verdict => cachedVerdict(c, settings, model);
  if (cached && !isStale(cached, settings)) {
    // Counted after answering: a page scrolling past cached pictures must not wait on a write.
    if (remember) void inBackground(bumpStat('cacheHits'));
    return fromCache(cached);
  }

  const engine = await withAdaptiveIdle(await getEngineOptions());
  let outcome: Outcome;
  try {
    const job = await queue.run(key, req.priority, req.owner, async () => {
      const result = await withTimeout<Outcome>(judge(manifest.id, req, engine, settings, cached), REQUEST_TIMEOUT_MS, () => ({
        kind: 'failed',
        reason: 'timeout',
        detail: `no verdict within ${REQUEST_TIMEOUT_MS / 1000} s`,
      }));
      // Recorded once per job, however many requests joined it; the job's slot goes to the next
      // picture while this is written.
      const hashKey = 'sha256' in result ? [hashKeyOf(manifest.id, result.sha256)] : [];
      return { result, written: noteWriting([key, ...hashKey], record(req, manifest.id, result, settings)) };
    });
    // The verdict goes out once it is recorded: a service worker stopped between the two would
    // leave a badge with no history entry or cache line, and the page would not ask again. A
    // database that does not answer (an upgrade blocked by an old connection) delays no badge long.
    await withTimeout(job.written, RECORD_WAIT_MS, () => undefined);
    outcome = job.result;
  } catch (e) {
    if (e instanceof CancelledError) return null;
    if (e instanceof ShedError) {
      req.onShed?.();
      return null;
    }
    return { status: 'failed', reason: 'model-error', detail: e instanceof Error ? e.message : String(e) };
  }
  if (outcome.kind === 'model-changed') {
    if (modelChanges < MAX_MODEL_CHANGES) return checkImage(req, settings, modelChanges + 1);
    return { status: 'failed', reason: 'model-error', detail: 'the model in use kept changing while this picture was checked' };
  }
  if (outcome.kind === 'failed') {
    // The address stopped answering: what it served before is still the best there is.
    if (cached) return fromCache(cached);
    return { status: 'failed', reason: outcome.reason, detail: outcome.detail, ...(outcome.askPage ? { askPage: true as const } : {}) };
  }
  if (outcome.kind === 'unchanged' && cached) return fromCache(cached);
  return {
    status: 'done',
    pGenerated: outcome.pGenerated,
    threshold: settings.threshold,
    model,
    fromCache: outcome.kind === 'hash-hit',
    ...(outcome.evidence ? { evidence: outcome.evidence } : {}),
    ...(outcome.kind !== 'unchanged' && outcome.via ? { via: outcome.via } : {}),
  };
}

// Decides each image: cache first, then (deduplicated, with bounded concurrency) the engine.

import type { ModelManifest } from '../detector/manifest';
import { loadActiveModel, summarize } from '../shared/model-registry';
import type { Verdict } from '../shared/protocol';
import { getEngineOptions, getSettings } from '../shared/settings';
import { checkImageUrl } from '../shared/url-policy';
import { judgeInOffscreen } from './offscreen-client';
import { bumpStat, getPrediction, putPrediction } from './prediction-store';

const MAX_CONCURRENT = 4;

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

// In-flight work by model + URL, so a URL asked for twice is fetched and inferred once.
const inFlight = new Map<string, Promise<Verdict>>();
let running = 0;
const waiting: Array<() => void> = [];

async function withSlot<T>(work: () => Promise<T>): Promise<T> {
  if (running >= MAX_CONCURRENT) await new Promise<void>((resolve) => waiting.push(resolve));
  running++;
  try {
    return await work();
  } finally {
    running--;
    waiting.shift()?.();
  }
}

async function judge(manifest: ModelManifest, url: string, pageUrl: string, threshold: number): Promise<Verdict> {
  const engine = await getEngineOptions();
  const reply = await withSlot(() => judgeInOffscreen(url, pageUrl, engine));
  if (!reply.ok) {
    await bumpStat('failures');
    return { status: 'failed', reason: reply.reason, detail: reply.detail };
  }
  await putPrediction(manifest.id, url, reply.pGenerated);
  await bumpStat('inferences');
  return { status: 'done', pGenerated: reply.pGenerated, threshold, model: summarize(manifest), fromCache: false };
}

export async function checkImage(url: string, pageUrl: string): Promise<Verdict> {
  const allowed = checkImageUrl(url, pageUrl);
  if (!allowed.ok) return { status: 'failed', reason: allowed.reason, detail: allowed.detail };

  let manifest: ModelManifest;
  try {
    manifest = await activeManifest();
  } catch (e) {
    return { status: 'failed', reason: 'model-error', detail: e instanceof Error ? e.message : String(e) };
  }
  const { threshold } = await getSettings();
  const cached = await getPrediction(manifest.id, url);
  if (cached) {
    await bumpStat('cacheHits');
    return { status: 'done', pGenerated: cached.pGenerated, threshold, model: summarize(manifest), fromCache: true };
  }
  const key = `${manifest.id}\n${url}`;
  let work = inFlight.get(key);
  if (!work) {
    work = judge(manifest, url, pageUrl, threshold).finally(() => inFlight.delete(key));
    inFlight.set(key, work);
  }
  return work;
}

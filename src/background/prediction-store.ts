// Predictions and counters in IndexedDB (via idb). A prediction is keyed by model id + URL, so
// switching models never reuses another model's verdicts. The worker may be stopped at any
// time: everything that matters is written here, not kept in memory.

import { openDB, type DBSchema, type IDBPDatabase } from 'idb';

export const DB_NAME = 'realfake-lens';
export const DB_VERSION = 1;

export interface PredictionRecord {
  /** `${modelId}\n${url}` */
  key: string;
  modelId: string;
  url: string;
  pGenerated: number;
  createdAt: number;
  lastUsedAt: number;
}

export type StatName = 'inferences' | 'cacheHits' | 'failures';

interface LensDb extends DBSchema {
  predictions: { key: string; value: PredictionRecord; indexes: { lastUsedAt: number } };
  stats: { key: StatName; value: { name: StatName; value: number } };
}

let dbPromise: Promise<IDBPDatabase<LensDb>> | null = null;

function db(): Promise<IDBPDatabase<LensDb>> {
  dbPromise ??= openDB<LensDb>(DB_NAME, DB_VERSION, {
    upgrade(d, oldVersion) {
      if (oldVersion < 1) {
        const predictions = d.createObjectStore('predictions', { keyPath: 'key' });
        predictions.createIndex('lastUsedAt', 'lastUsedAt');
        d.createObjectStore('stats', { keyPath: 'name' });
      }
    },
  });
  return dbPromise;
}

export function predictionKey(modelId: string, url: string): string {
  return `${modelId}\n${url}`;
}

export async function getPrediction(modelId: string, url: string): Promise<PredictionRecord | undefined> {
  return (await db()).get('predictions', predictionKey(modelId, url));
}

export async function putPrediction(modelId: string, url: string, pGenerated: number): Promise<void> {
  const now = Date.now();
  await (await db()).put('predictions', {
    key: predictionKey(modelId, url),
    modelId,
    url,
    pGenerated,
    createdAt: now,
    lastUsedAt: now,
  });
}

/** Increments a counter atomically (one readwrite transaction). */
export async function bumpStat(name: StatName): Promise<void> {
  const tx = (await db()).transaction('stats', 'readwrite');
  const current = await tx.store.get(name);
  await tx.store.put({ name, value: (current?.value ?? 0) + 1 });
  await tx.done;
}

export async function readStats(): Promise<Record<StatName, number>> {
  const all = await (await db()).getAll('stats');
  const out: Record<StatName, number> = { inferences: 0, cacheHits: 0, failures: 0 };
  for (const s of all) out[s.name] = s.value;
  return out;
}

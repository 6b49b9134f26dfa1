// Predictions, history and counters in IndexedDB (via idb). A prediction is keyed by model id +
// URL and indexed by model id + SHA-256 of the image's bytes, so the same picture under two
// URLs is inferred once and switching models never reuses another model's verdicts. The worker
// may be stopped at any time: everything that matters is written here, not kept in memory.
// An address can start serving other bytes: a prediction remembers when its address last served
// its bytes (checkedAt) and the response's validators, so the checker can ask again later.

import { openDB, type DBSchema, type IDBPDatabase } from 'idb';
import type { Evidence } from '../detector/provenance/evidence';
import type { HistoryEntry } from '../shared/protocol/ui';
import type { Validators } from '../shared/protocol/shapes';

export const DB_NAME = 'realfake-lens';
export const DB_VERSION = 3;

export interface PredictionRecord {
  /** `${modelId}\n${url}` */
  key: string;
  modelId: string;
  url: string;
  /** SHA-256 of the image bytes (hex), when known. */
  sha256: string | null;
  pGenerated: number;
  createdAt: number;
  lastUsedAt: number;
  /** Provenance evidence read from the file; absent in records written before it existed. */
  evidence?: Evidence;
  /** When the address was last seen serving these bytes (v3; set to createdAt for older records). */
  checkedAt: number;
  /** ETag / Last-Modified of that response, for a conditional request (null: none given). */
  validators: Validators | null;
}

/** A history entry as stored: the protocol's HistoryEntry before it has an id. */
export type HistoryRecord = Omit<HistoryEntry, 'id' | 'mistake'> & { id?: number; mistake?: boolean };

/** `hashHits`: answered from the cache by the bytes' hash after a download (a new URL). */
export type StatName = 'inferences' | 'cacheHits' | 'hashHits' | 'failures';

interface LensDb extends DBSchema {
  predictions: {
    key: string;
    value: PredictionRecord;
    indexes: { lastUsedAt: number; byHash: [string, string] };
  };
  stats: { key: StatName; value: { name: StatName; value: number } };
  history: { key: number; value: HistoryRecord; indexes: { time: number; site: string } };
}

let dbPromise: Promise<IDBPDatabase<LensDb>> | null = null;

export function openStore(): Promise<IDBPDatabase<LensDb>> {
  if (dbPromise) return dbPromise;
  const opening: Promise<IDBPDatabase<LensDb>> = openDB<LensDb>(DB_NAME, DB_VERSION, {
    upgrade(db, oldVersion, _newVersion, tx) {
      if (oldVersion < 1) {
        const predictions = db.createObjectStore('predictions', { keyPath: 'key' });
        predictions.createIndex('lastUsedAt', 'lastUsedAt');
        db.createObjectStore('stats', { keyPath: 'name' });
      }
      if (oldVersion < 2) {
        // v2: byte-hash index (v1 records have no hash and simply never match it), history.
        tx.objectStore('predictions').createIndex('byHash', ['modelId', 'sha256']);
        const history = db.createObjectStore('history', { keyPath: 'id', autoIncrement: true });
        history.createIndex('time', 'time');
        history.createIndex('site', 'site');
      }
      if (oldVersion >= 1 && oldVersion < 3) {
        // v3: when the address last served the bytes, and its validators. Older records count as
        // checked when made, with no validators (their first revalidation is a plain download).
        const store = tx.objectStore('predictions');
        void store.openCursor().then(async function fill(cursor): Promise<void> {
          if (!cursor) return;
          const r = cursor.value as Partial<PredictionRecord> & PredictionRecord;
          await cursor.update({ ...r, checkedAt: r.checkedAt ?? r.createdAt, validators: r.validators ?? null });
          await fill(await cursor.continue());
        });
      }
    },
    blocking(_current, _blocked, event) {
      // Something wants to delete or upgrade the database: close this very connection (which
      // may no longer be the current one) so it can; the next call opens a new one.
      (event.target as IDBDatabase).close();
      if (dbPromise === opening) dbPromise = null;
    },
    terminated() {
      if (dbPromise === opening) dbPromise = null;
    },
  });
  dbPromise = opening;
  return opening;
}

/** Forgets the open connection (tests, and "delete all data"). */
export async function closeStore(): Promise<void> {
  const db = await dbPromise;
  db?.close();
  dbPromise = null;
  storedAtMost = null;
}

/**
 * At most this many predictions are stored (null: not counted yet by this context). Counting a
 * store of 100k entries costs milliseconds per write (IndexedDB keeps no count), so the store is
 * counted only when this bound passes the cap. Only this context adds predictions; anything
 * deleting them elsewhere keeps the bound true.
 */
let storedAtMost: number | null = null;
/** Prediction writes under way (a count may or may not include them). */
let addsInFlight = 0;

/** `write` adds (or replaces) one prediction: the bound grows first. */
async function addingOne<T>(write: () => Promise<T>): Promise<T> {
  addsInFlight++;
  if (storedAtMost !== null) storedAtMost++;
  try {
    return await write();
  } finally {
    addsInFlight--;
  }
}

export function predictionKey(modelId: string, url: string): string {
  return `${modelId}\n${url}`;
}

/** Looks a URL up and (unless `touch` is false: nothing may be written) marks it used, for eviction. */
export async function getPrediction(modelId: string, url: string, touch = true): Promise<PredictionRecord | undefined> {
  const db = await openStore();
  const record = await db.get('predictions', predictionKey(modelId, url));
  if (record && touch) {
    // Touching on every hit would double the cost of a lookup; a minute's precision is plenty.
    const now = Date.now();
    if (now - record.lastUsedAt > 60_000) void db.put('predictions', { ...record, lastUsedAt: now }).catch(() => undefined);
  }
  return record;
}

/**
 * Looks many URLs up in one read-only transaction (a page's pictures, as they are found); touches
 * nothing: a picture counts as used when it is shown (`touchPredictions`).
 */
export async function getPredictions(modelId: string, urls: readonly string[]): Promise<Map<string, PredictionRecord>> {
  const tx = (await openStore()).transaction('predictions', 'readonly');
  const records = await Promise.all(urls.map((url) => tx.store.get(predictionKey(modelId, url))));
  await tx.done;
  const found = new Map<string, PredictionRecord>();
  records.forEach((r, i) => r && found.set(urls[i] as string, r));
  return found;
}

/** Marks these predictions used now (for eviction), in one transaction, those not touched within the last minute. */
export async function touchPredictions(records: Iterable<PredictionRecord>): Promise<void> {
  const now = Date.now();
  const old = [...records].filter((r) => now - r.lastUsedAt > 60_000);
  if (old.length === 0) return;
  const tx = (await openStore()).transaction('predictions', 'readwrite');
  await Promise.all([...old.map((r) => tx.store.put({ ...r, lastUsedAt: now })), tx.done]);
}

export async function getPredictionByHash(modelId: string, sha256: string): Promise<PredictionRecord | undefined> {
  return (await openStore()).getFromIndex('predictions', 'byHash', [modelId, sha256]);
}

export async function putPrediction(
  modelId: string,
  url: string,
  sha256: string | null,
  pGenerated: number,
  maxEntries: number,
): Promise<void> {
  const db = await openStore();
  const now = Date.now();
  await addingOne(() =>
    db.put('predictions', {
      key: predictionKey(modelId, url),
      modelId,
      url,
      sha256,
      pGenerated,
      createdAt: now,
      lastUsedAt: now,
      checkedAt: now,
      validators: null,
    }),
  );
  await evictPredictions(maxEntries);
}

/** The address still serves the bytes of its prediction (304, or the same SHA-256): checked now. */
export async function markChecked(modelId: string, url: string, validators: Validators): Promise<void> {
  const tx = (await openStore()).transaction('predictions', 'readwrite');
  const record = await tx.store.get(predictionKey(modelId, url));
  const now = Date.now();
  if (record) await tx.store.put({ ...record, checkedAt: now, lastUsedAt: now, validators });
  await tx.done;
}

/**
 * Past the cap, the least recently used predictions go, and a little more (1% of the cap, at most
 * 256), so that the next few hundred writes need not count the store again.
 */
function evictionSlack(maxEntries: number): number {
  return Math.min(256, Math.floor(maxEntries / 100));
}

/** The eviction under way: evictions run one after another (two at once would both delete the excess). */
let evicting: Promise<unknown> = Promise.resolve();

/** Deletes the least recently used predictions beyond `maxEntries` (and the slack with them). */
export function evictPredictions(maxEntries: number): Promise<number> {
  const run = evicting.then(() => evictNow(maxEntries));
  evicting = run.catch(() => undefined);
  return run;
}

async function evictNow(maxEntries: number): Promise<number> {
  if (storedAtMost !== null && storedAtMost <= maxEntries) return 0;
  const db = await openStore();
  // Counted and deleted in one transaction: no other write lands in between.
  const tx = db.transaction('predictions', 'readwrite');
  const count = await tx.store.count();
  // Writes still under way land after this transaction, or are in the count already (then the
  // bound counts them twice, which only makes it looser).
  storedAtMost = count + addsInFlight;
  const excess = count - maxEntries;
  let deleted = 0;
  if (excess > 0) {
    const goal = excess + evictionSlack(maxEntries);
    let cursor = await tx.store.index('lastUsedAt').openCursor();
    while (cursor && deleted < goal) {
      await cursor.delete();
      deleted++;
      cursor = await cursor.continue();
    }
  }
  await tx.done;
  if (storedAtMost !== null) storedAtMost -= deleted;
  return deleted;
}

export async function countPredictions(): Promise<number> {
  return (await openStore()).count('predictions');
}

/** Increments a counter by `by` atomically (one readwrite transaction). */
export async function bumpStat(name: StatName, by = 1): Promise<void> {
  const tx = (await openStore()).transaction('stats', 'readwrite');
  const current = await tx.store.get(name);
  await tx.store.put({ name, value: (current?.value ?? 0) + by });
  await tx.done;
}

export async function readStats(): Promise<Record<StatName, number>> {
  const all = await (await openStore()).getAll('stats');
  const out: Record<StatName, number> = { inferences: 0, cacheHits: 0, hashHits: 0, failures: 0 };
  for (const s of all) out[s.name] = s.value;
  return out;
}

/** Deletes history entries beyond `maxEntries` (oldest first) and older than `maxDays`. */
export async function trimHistory(maxEntries: number, maxDays: number): Promise<void> {
  const tx = (await openStore()).transaction('history', 'readwrite');
  const cutoff = Date.now() - maxDays * 86_400_000;
  let excess = (await tx.store.count()) - maxEntries;
  let cursor = await tx.store.index('time').openCursor();
  while (cursor && (excess > 0 || cursor.value.time < cutoff)) {
    await cursor.delete();
    excess--;
    cursor = await cursor.continue();
  }
  await tx.done;
}

/** Adds a history entry, then trims history to `maxEntries` and `maxDays`. */
export async function addHistory(entry: HistoryRecord, maxEntries: number, maxDays: number): Promise<void> {
  if (maxEntries > 0) await (await openStore()).add('history', entry);
  await trimHistory(maxEntries, maxDays);
}

export interface StoreLimits {
  cacheMaxEntries: number;
  historyMaxEntries: number;
  historyMaxDays: number;
}

/**
 * A new result: the prediction and its history entry are written in one transaction, so a
 * worker stopped in between leaves both or neither; then the caps are applied.
 */
export async function recordResult(
  p: { modelId: string; url: string; sha256: string | null; pGenerated: number; evidence?: Evidence | undefined; validators?: Validators | null },
  history: HistoryRecord | null,
  limits: StoreLimits,
): Promise<void> {
  const db = await openStore();
  const now = Date.now();
  await addingOne(async () => {
    const tx = db.transaction(['predictions', 'history'], 'readwrite');
    const writes: Promise<unknown>[] = [
      tx.objectStore('predictions').put({
        key: predictionKey(p.modelId, p.url),
        ...p,
        validators: p.validators ?? null,
        createdAt: now,
        lastUsedAt: now,
        checkedAt: now,
      }),
    ];
    if (history && limits.historyMaxEntries > 0) writes.push(tx.objectStore('history').add(history));
    await Promise.all([...writes, tx.done]);
  });
  await evictPredictions(limits.cacheMaxEntries);
  if (history) await trimHistory(limits.historyMaxEntries, limits.historyMaxDays);
}

export async function markMistake(id: number, mistake: boolean): Promise<boolean> {
  const tx = (await openStore()).transaction('history', 'readwrite');
  const entry = await tx.store.get(id);
  if (entry) await tx.store.put({ ...entry, mistake });
  await tx.done;
  return entry !== undefined;
}

/** "Report a mistake" from a badge: marks the newest history entry of that image. */
export async function markLatestMistake(url: string, mistake: boolean): Promise<boolean> {
  const tx = (await openStore()).transaction('history', 'readwrite');
  let cursor = await tx.store.index('time').openCursor(null, 'prev');
  while (cursor && cursor.value.url !== url) cursor = await cursor.continue();
  if (cursor) await cursor.update({ ...cursor.value, mistake });
  await tx.done;
  return cursor !== null;
}

/** Deletes the whole database (cache, history, counters). */
export async function deleteStore(): Promise<void> {
  await closeStore();
  await new Promise<void>((resolve, reject) => {
    const req = indexedDB.deleteDatabase(DB_NAME);
    req.onsuccess = () => resolve();
    req.onerror = () => reject(req.error ?? new Error('could not delete the database'));
    // Other open connections get a versionchange event and close (see blocking() above).
    req.onblocked = () => undefined;
  });
}

export async function clearHistory(): Promise<void> {
  await (await openStore()).clear('history');
}

/** Newest first; `site` limits to one host name, `query` matches URL, page or title text. */
export async function listHistory(opts: { site?: string; query?: string; limit?: number } = {}): Promise<HistoryRecord[]> {
  const db = await openStore();
  const limit = opts.limit ?? 200;
  const query = opts.query?.toLowerCase();
  const out: HistoryRecord[] = [];
  let cursor = await db.transaction('history').store.index('time').openCursor(null, 'prev');
  while (cursor && out.length < limit) {
    const h = cursor.value;
    const siteOk = !opts.site || h.site === opts.site;
    const queryOk = !query || [h.url, h.pageUrl, h.pageTitle].some((s) => s.toLowerCase().includes(query));
    if (siteOk && queryOk) out.push(h);
    cursor = await cursor.continue();
  }
  return out;
}

// The cache and history logic against a real IndexedDB implementation (fake-indexeddb, which
// implements the spec in Node), including the migration from the v1 schema.

import 'fake-indexeddb/auto';
import { IDBFactory, IDBObjectStore } from 'fake-indexeddb';
import { openDB } from 'idb';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import {
  addHistory,
  closeStore,
  countPredictions,
  DB_NAME,
  getPrediction,
  getPredictionByHash,
  getPredictions,
  listHistory,
  markChecked,
  putPrediction,
  recordResult,
  readStats,
  bumpStat,
  touchPredictions,
  type HistoryRecord,
} from '../../src/background/prediction-store';

beforeEach(async () => {
  await closeStore();
  globalThis.indexedDB = new IDBFactory();
  vi.useRealTimers();
});

describe('prediction cache', () => {
  it('finds a prediction by URL and by the bytes’ hash, per model', async () => {
    await putPrediction('model-a', 'https://x/1.jpg', 'aa'.repeat(32), 0.7, 100);
    expect((await getPrediction('model-a', 'https://x/1.jpg'))?.pGenerated).toBe(0.7);
    expect((await getPredictionByHash('model-a', 'aa'.repeat(32)))?.url).toBe('https://x/1.jpg');
    expect(await getPrediction('model-b', 'https://x/1.jpg')).toBeUndefined();
    expect(await getPredictionByHash('model-b', 'aa'.repeat(32))).toBeUndefined();
  });

  it('evicts the least recently used entries past the cap', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    for (let i = 0; i < 5; i++) {
      vi.setSystemTime(1_000_000 + i * 120_000);
      await putPrediction('m', `u${i}`, null, i / 10, 5);
    }
    vi.setSystemTime(1_000_000 + 10 * 120_000);
    await getPrediction('m', 'u0'); // u0 becomes the most recently used
    vi.setSystemTime(1_000_000 + 11 * 120_000);
    await putPrediction('m', 'u5', null, 0.5, 5);
    await putPrediction('m', 'u6', null, 0.6, 5);
    expect(await countPredictions()).toBe(5);
    expect(await getPrediction('m', 'u1')).toBeUndefined();
    expect(await getPrediction('m', 'u2')).toBeUndefined();
    expect(await getPrediction('m', 'u0')).toBeDefined();
    expect(await getPrediction('m', 'u6')).toBeDefined();
  });

  it('counts atomically', async () => {
    await Promise.all(Array.from({ length: 20 }, () => bumpStat('inferences')));
    expect((await readStats()).inferences).toBe(20);
    await Promise.all([bumpStat('cacheHits', 5), bumpStat('cacheHits', 3)]);
    expect((await readStats()).cacheHits).toBe(8);
  });

  it('looks many addresses up at once without touching them; showing them touches those not used for a minute', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(1_000_000);
    await putPrediction('m', 'u0', null, 0.1, 100);
    await putPrediction('m', 'u1', null, 0.2, 100);
    await putPrediction('other', 'u2', null, 0.3, 100);
    vi.setSystemTime(1_000_000 + 120_000);
    const found = await getPredictions('m', ['u0', 'u1', 'u2', 'nowhere']);
    expect([...found.keys()].sort()).toEqual(['u0', 'u1']);
    expect(found.get('u1')?.pGenerated).toBe(0.2);
    // The lookup wrote nothing.
    expect((await getPrediction('m', 'u0', false))?.lastUsedAt).toBe(1_000_000);
    await touchPredictions([found.get('u0')!]);
    expect((await getPrediction('m', 'u0', false))?.lastUsedAt).toBe(1_000_000 + 120_000);
    expect((await getPrediction('m', 'u1', false))?.lastUsedAt).toBe(1_000_000);
    // Used within the last minute: not written again.
    vi.setSystemTime(1_000_000 + 150_000);
    await touchPredictions([(await getPrediction('m', 'u0', false))!]);
    expect((await getPrediction('m', 'u0', false))?.lastUsedAt).toBe(1_000_000 + 120_000);
  });

  it('migrates a v1 database, keeping its predictions', async () => {
    const v1 = await openDB(DB_NAME, 1, {
      upgrade(db) {
        db.createObjectStore('predictions', { keyPath: 'key' }).createIndex('lastUsedAt', 'lastUsedAt');
        db.createObjectStore('stats', { keyPath: 'name' });
      },
    });
    await v1.put('predictions', { key: 'm\nhttps://old', modelId: 'm', url: 'https://old', pGenerated: 0.25, createdAt: 1, lastUsedAt: 1 });
    v1.close();
    expect((await getPrediction('m', 'https://old'))?.pGenerated).toBe(0.25);
    await addHistory(entry('https://old', Date.now()), 10, 30);
    expect(await listHistory()).toHaveLength(1);
  });
});

describe('revalidation data (v3)', () => {
  it('migrates a v2 database: each prediction counts as checked when it was made, with no validators', async () => {
    const v2 = await openDB(DB_NAME, 2, {
      upgrade(db) {
        const predictions = db.createObjectStore('predictions', { keyPath: 'key' });
        predictions.createIndex('lastUsedAt', 'lastUsedAt');
        predictions.createIndex('byHash', ['modelId', 'sha256']);
        db.createObjectStore('stats', { keyPath: 'name' });
        const history = db.createObjectStore('history', { keyPath: 'id', autoIncrement: true });
        history.createIndex('time', 'time');
        history.createIndex('site', 'site');
      },
    });
    for (let i = 0; i < 3; i++) {
      await v2.put('predictions', { key: `m\nhttps://v2/${i}`, modelId: 'm', url: `https://v2/${i}`, sha256: 'ab'.repeat(32), pGenerated: 0.25, createdAt: 1000 + i, lastUsedAt: 5000 });
    }
    await v2.put('stats', { name: 'inferences', value: 3 });
    v2.close();
    for (let i = 0; i < 3; i++) {
      const r = await getPrediction('m', `https://v2/${i}`, false);
      expect(r).toMatchObject({ pGenerated: 0.25, createdAt: 1000 + i, checkedAt: 1000 + i, validators: null });
    }
    expect((await readStats()).inferences).toBe(3);
    expect((await getPredictionByHash('m', 'ab'.repeat(32)))?.url).toMatch(/^https:\/\/v2\//);
  });

  it('remembers validators and when the address last served the bytes; a lookup that may not write touches nothing', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(1_000_000);
    await recordResult({ modelId: 'm', url: 'https://x/v.jpg', sha256: null, pGenerated: 0.3, validators: { etag: '"1"', lastModified: null } }, null, {
      cacheMaxEntries: 10,
      historyMaxEntries: 0,
      historyMaxDays: 30,
    });
    expect(await getPrediction('m', 'https://x/v.jpg')).toMatchObject({ checkedAt: 1_000_000, validators: { etag: '"1"', lastModified: null } });
    vi.setSystemTime(1_000_000 + 3_600_000);
    await getPrediction('m', 'https://x/v.jpg', false);
    await closeStore(); // a touch would be a fire-and-forget write: let it land before reading
    expect((await getPrediction('m', 'https://x/v.jpg', false))?.lastUsedAt).toBe(1_000_000);
    await markChecked('m', 'https://x/v.jpg', { etag: '"2"', lastModified: 'Mon, 01 Jan 2024 00:00:00 GMT' });
    expect(await getPrediction('m', 'https://x/v.jpg', false)).toMatchObject({
      createdAt: 1_000_000,
      checkedAt: 1_000_000 + 3_600_000,
      validators: { etag: '"2"', lastModified: 'Mon, 01 Jan 2024 00:00:00 GMT' },
    });
  });
});

function entry(url: string, time: number, site = 'news.example'): HistoryRecord {
  return { url, pageUrl: `https://${site}/a`, pageTitle: `Title ${url}`, site, pGenerated: 0.9, threshold: 0.5, modelId: 'm', time, thumbnail: null };
}

describe('history', () => {
  it('keeps at most the configured number of entries, newest first', async () => {
    const now = Date.now();
    for (let i = 0; i < 6; i++) await addHistory(entry(`https://i/${i}`, now + i), 4, 30);
    expect((await listHistory()).map((h) => h.url)).toEqual(['https://i/5', 'https://i/4', 'https://i/3', 'https://i/2']);
  });

  it('drops entries older than the retention period', async () => {
    const now = Date.now();
    await addHistory(entry('https://old', now - 40 * 86_400_000), 100, 30);
    await addHistory(entry('https://new', now), 100, 30);
    expect((await listHistory()).map((h) => h.url)).toEqual(['https://new']);
  });

  it('filters by site and searches URL, page and title', async () => {
    const now = Date.now();
    await addHistory(entry('https://cdn/cat.jpg', now, 'a.example'), 100, 30);
    await addHistory(entry('https://cdn/dog.jpg', now + 1, 'b.example'), 100, 30);
    expect((await listHistory({ site: 'a.example' })).map((h) => h.url)).toEqual(['https://cdn/cat.jpg']);
    expect((await listHistory({ query: 'DOG' })).map((h) => h.url)).toEqual(['https://cdn/dog.jpg']);
    expect(await listHistory({ query: 'title https://cdn/cat' })).toHaveLength(1);
  });
});

describe('recordResult', () => {
  it('writes the prediction and its history entry together, then applies both caps', async () => {
    const limits = { cacheMaxEntries: 10, historyMaxEntries: 2, historyMaxDays: 30 };
    for (let i = 0; i < 12; i++) {
      const url = `https://x/${i}.jpg`;
      await recordResult({ modelId: 'm', url, sha256: i.toString(16).padStart(64, '0'), pGenerated: i / 20 }, entry(url, Date.now() + i), limits);
    }
    expect(await countPredictions()).toBe(10);
    expect((await getPredictionByHash('m', (11).toString(16).padStart(64, '0')))?.url).toBe('https://x/11.jpg');
    expect((await listHistory()).map((h) => h.url)).toEqual(['https://x/11.jpg', 'https://x/10.jpg']);
  });

  it('counts the store only when its bound passes the cap, and evicts a slack with the excess, least recently used first', async () => {
    // A cap of 200: a slack of 2 (1%). IndexedDB keeps no count: counting 100k entries costs milliseconds.
    const limits = { cacheMaxEntries: 200, historyMaxEntries: 0, historyMaxDays: 30 };
    const counted = vi.spyOn(IDBObjectStore.prototype, 'count');
    vi.useFakeTimers({ toFake: ['Date'] });
    for (let i = 0; i < 205; i++) {
      vi.setSystemTime(1_000_000 + i);
      await recordResult({ modelId: 'm', url: `https://x/${i}.jpg`, sha256: null, pGenerated: 0.5 }, null, limits);
    }
    // Counted at the first write (nothing known yet), then only at the 201st (201 > 200: 1 + 2
    // evicted, 198 left) and the 204th (201 again).
    expect(counted).toHaveBeenCalledTimes(3);
    counted.mockRestore();
    expect(await countPredictions()).toBe(199);
    for (let i = 0; i < 6; i++) expect(await getPrediction('m', `https://x/${i}.jpg`, false), `${i}`).toBeUndefined();
    expect(await getPrediction('m', 'https://x/6.jpg', false)).toBeDefined();
    // Replacing an entry counts as adding one (the bound only ever overestimates): still within the cap.
    await recordResult({ modelId: 'm', url: 'https://x/204.jpg', sha256: null, pGenerated: 0.4 }, null, limits);
    expect(await countPredictions()).toBe(199);
  });

  it('evicts once for two writes that land together over the cap (not the excess twice)', async () => {
    const roomy = { cacheMaxEntries: 100, historyMaxEntries: 0, historyMaxDays: 30 };
    for (let i = 0; i < 20; i++) await recordResult({ modelId: 'm', url: `https://y/${i}.jpg`, sha256: null, pGenerated: 0.5 }, null, roomy);
    const tight = { ...roomy, cacheMaxEntries: 10 };
    await Promise.all([20, 21].map((i) => recordResult({ modelId: 'm', url: `https://y/${i}.jpg`, sha256: null, pGenerated: 0.5 }, null, tight)));
    expect(await countPredictions()).toBe(10);
  });

  it('writes neither when the history entry is refused', async () => {
    const limits = { cacheMaxEntries: 10, historyMaxEntries: 5, historyMaxDays: 30 };
    const bad = { ...entry('https://x/a.jpg', Date.now()), id: 1 };
    await recordResult({ modelId: 'm', url: 'https://x/a.jpg', sha256: null, pGenerated: 0.1 }, bad, limits);
    // The same explicit id again: the history add fails, and the transaction takes the prediction with it.
    await expect(
      recordResult({ modelId: 'm', url: 'https://x/b.jpg', sha256: null, pGenerated: 0.2 }, bad, limits),
    ).rejects.toThrow();
    expect(await getPrediction('m', 'https://x/b.jpg')).toBeUndefined();
  });
});

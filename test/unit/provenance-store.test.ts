// Evidence stored with the prediction and the history entry (a real IndexedDB implementation:
// fake-indexeddb), and records written before evidence existed still load, without it.

import 'fake-indexeddb/auto';
import { IDBFactory } from 'fake-indexeddb';
import { openDB } from 'idb';
import { beforeEach, expect, it } from 'vitest';
import { closeStore, DB_NAME, DB_VERSION, getPrediction, getPredictionByHash, listHistory, openStore, recordResult } from '../../src/background/prediction-store';
import type { Evidence } from '../../src/detector/provenance/evidence';

const evidence: Evidence = {
  state: 'found',
  findings: [{ kind: 'generator-parameters', summary: 'Stable Diffusion parameters (AUTOMATIC1111 / Forge)', declaresAI: true, details: { sampler: 'Euler a' } }],
  note: null,
};
const limits = { cacheMaxEntries: 100, historyMaxEntries: 100, historyMaxDays: 30 };
const history = (url: string) => ({ url, pageUrl: 'https://p/', pageTitle: 'P', site: 'p', pGenerated: 0.9, threshold: 0.5, modelId: 'm', time: Date.now(), thumbnail: null });

beforeEach(async () => {
  await closeStore();
  globalThis.indexedDB = new IDBFactory();
});

it('stores evidence with the prediction (by URL and by hash) and with the history entry', async () => {
  await recordResult({ modelId: 'm', url: 'https://x/a.png', sha256: 'ab'.repeat(32), pGenerated: 0.9, evidence }, { ...history('https://x/a.png'), evidence }, limits);
  expect((await getPrediction('m', 'https://x/a.png'))?.evidence).toEqual(evidence);
  expect((await getPredictionByHash('m', 'ab'.repeat(32)))?.evidence).toEqual(evidence);
  expect((await listHistory())[0]?.evidence).toEqual(evidence);
});

it('records written before evidence existed load as they are, without evidence', async () => {
  // Written straight into the current schema, in the shape older versions wrote.
  await openStore();
  await closeStore();
  const db = await openDB(DB_NAME, DB_VERSION);
  await db.put('predictions', { key: 'm\nhttps://x/old.png', modelId: 'm', url: 'https://x/old.png', sha256: null, pGenerated: 0.2, createdAt: 1, lastUsedAt: Date.now() });
  await db.add('history', { ...history('https://x/old.png'), mistake: false });
  db.close();
  const old = await getPrediction('m', 'https://x/old.png');
  expect(old?.pGenerated).toBe(0.2);
  expect(old?.evidence).toBeUndefined();
  expect((await listHistory())[0]).toMatchObject({ url: 'https://x/old.png', pGenerated: 0.9 });
  expect((await listHistory())[0]?.evidence).toBeUndefined();
});

// Downloading a model from inside the extension (options page -> background -> offscreen document
// -> OPFS), in real Chromium against a server on 127.0.0.1 that serves the committed fixture model
// under other ids: progress is shown, the stored bytes hash to the fixture's own SHA-256 (computed
// here by node:crypto), the model can be switched to and judges a page's image, and removed; a
// connection that drops once continues with a Range request; one that keeps dropping, and a wrong
// SHA-256, are clear errors that leave nothing in OPFS; "delete all data" removes downloaded models.

import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join, resolve } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EngineStatus } from '../../src/shared/protocol/offscreen';
import type { ModelsReply, StatusReply, UiToBackground } from '../../src/shared/protocol/ui';
import { axeLightAndDark } from '../support/axe';
import { waitForBadges, type BadgeReading } from '../support/badges';
import { launchWithExtension, type ExtensionSession } from '../support/chrome';
import { configureEngine, offscreenStatus } from '../support/engine';
import { expectedChunkRecord, opfsModels as readOpfsModels, storedChunkRecord, storedSha as readStoredSha } from '../support/opfs';
import { PHOTOS_DIR } from '../support/photos';
import { startServer, type TestServer } from '../support/server';

const ARTIFACTS = join(import.meta.dirname, '../../artifacts/e2e');
const FIXTURE = resolve(import.meta.dirname, '../../models/fixture');
const onnx = readFileSync(join(FIXTURE, 'model.onnx'));
const ONNX_SHA = createHash('sha256').update(onnx).digest('hex');
const fixtureManifest = JSON.parse(readFileSync(join(FIXTURE, 'manifest.json'), 'utf8')) as Record<string, unknown> & {
  onnx: { sha256: string; bytes: number };
};

let server: TestServer;
let ext: ExtensionSession;
let options: Page;
/** The Range header of every request for an ONNX file, by route. */
const ranges: Record<string, Array<string | undefined>> = {};

function manifestFor(id: string, name: string, change: (m: typeof fixtureManifest) => void = () => undefined): string {
  const m = structuredClone(fixtureManifest);
  m.id = id;
  m.name = name;
  change(m);
  return JSON.stringify(m);
}

/** Serves `body` slowly (64 KiB every 80 ms), so progress can be watched. */
function slow(res: ServerResponse, body: Buffer): void {
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': body.length });
  let at = 0;
  const next = (): void => {
    if (res.destroyed) return;
    const piece = body.subarray(at, at + 65_536);
    at += piece.length;
    if (at >= body.length) res.end(piece);
    else res.write(piece, () => setTimeout(next, 80));
  };
  next();
}

/** Announces the whole file, sends `upTo` bytes, then drops the connection. */
function dropAfter(res: ServerResponse, upTo: number): void {
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': onnx.length, 'accept-ranges': 'bytes', etag: '"v1"' });
  res.write(onnx.subarray(0, upTo), () => setTimeout(() => res.destroy(), 100));
}

function onnxRoute(path: string, handler: (req: IncomingMessage, res: ServerResponse) => void): void {
  ranges[path] = [];
  server.route(path, (req, res) => {
    ranges[path]?.push(req.headers.range);
    handler(req, res);
  });
}

const json = (body: string) => (_req: IncomingMessage, res: ServerResponse) => {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(body);
};

async function ask<T>(msg: UiToBackground): Promise<T> {
  return options.evaluate((m) => chrome.runtime.sendMessage(m), msg) as Promise<T>;
}

const opfsModels = (): Promise<Record<string, number>> => readOpfsModels(ext);
const storedSha = (id: string): Promise<{ sha: string; bytes: number }> => readStoredSha(ext, id);

async function installFromOptions(url: string): Promise<void> {
  await options.locator('#model-url').fill(url);
  await options.getByRole('button', { name: 'Install' }).click();
}

const settled = (n: number) => (b: BadgeReading[]) => b.length === n && b.every((x) => x.state !== 'checking');

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  server = await startServer(PHOTOS_DIR);
  server.route('/m/good/manifest.json', json(manifestFor('fixture-copy', 'Downloaded fixture copy')));
  onnxRoute('/m/good/model.onnx', (_q, res) => slow(res, onnx));
  // Drops once at 600 kB; then honours Range requests.
  server.route('/m/flaky/manifest.json', json(manifestFor('flaky-copy', 'Flaky server copy')));
  onnxRoute('/m/flaky/model.onnx', (req, res) => {
    const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    if (!m) return dropAfter(res, 600_000);
    const from = Number(m[1]);
    res.writeHead(206, {
      'content-type': 'application/octet-stream',
      'content-length': onnx.length - from,
      'content-range': `bytes ${from}-${onnx.length - 1}/${onnx.length}`,
      etag: '"v1"',
    });
    res.end(onnx.subarray(from));
  });
  // Always drops half-way, and ignores Range.
  server.route('/m/drop/manifest.json', json(manifestFor('drop-copy', 'Dropping server copy')));
  onnxRoute('/m/drop/model.onnx', (_q, res) => dropAfter(res, onnx.length >> 1));
  server.route('/m/badsha/manifest.json', json(manifestFor('badsha-copy', 'Wrong hash copy', (m) => (m.onnx.sha256 = 'ab'.repeat(32)))));
  onnxRoute('/m/badsha/model.onnx', (_q, res) => {
    res.writeHead(200, { 'content-length': onnx.length });
    res.end(onnx);
  });
  // Slow, and honours Range: for a download whose document is closed part-way.
  server.route('/m/slow/manifest.json', json(manifestFor('resumed-copy', 'Resumed copy')));
  onnxRoute('/m/slow/model.onnx', (req, res) => {
    const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    if (!m) return slow(res, onnx);
    const from = Number(m[1]);
    res.writeHead(206, { 'content-length': onnx.length - from, 'content-range': `bytes ${from}-${onnx.length - 1}/${onnx.length}` });
    res.end(onnx.subarray(from));
  });
  // Very slow (16 KiB every 100 ms): a download still under way seconds later.
  server.route('/m/crawl/manifest.json', json(manifestFor('crawl-copy', 'Crawling copy')));
  onnxRoute('/m/crawl/model.onnx', (_q, res) => {
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': onnx.length });
    let at = 0;
    const timer = setInterval(() => {
      if (res.destroyed || at >= onnx.length) return clearInterval(timer);
      res.write(onnx.subarray(at, (at += 16_384)));
    }, 100);
    res.on('close', () => clearInterval(timer));
  });
  server.page('/photo.html', '<!doctype html><meta charset="utf-8"><title>photo</title><img src="/static/chelsea.png" width="300" alt="">');
  server.page('/prepared.html', '<!doctype html><meta charset="utf-8"><title>prepared</title><img src="/static/camera.png" width="300" alt="">');

  ext = await launchWithExtension();
  options = await ext.context.newPage();
  await options.goto(`chrome-extension://${ext.extensionId}/src/options/index.html`);
}, 180_000);

afterAll(async () => {
  await ext?.close();
  await server?.close();
});

describe('model download from the options page', () => {
  it('shows the packaged test model in use, with its manifest details and warning', async () => {
    const section = options.locator('section[aria-labelledby="h-model"]');
    await section.locator('.model-details').waitFor();
    expect(await section.locator('.model-details').textContent()).toContain(fixtureManifest.onnx.sha256);
    expect(await section.getByRole('note').textContent()).toContain('test model with random weights');
    expect(await section.locator('li[data-model-id="realfake-fixture"]').textContent()).toContain('packaged');
    // A packaged model cannot be removed.
    expect(await section.locator('li[data-model-id="realfake-fixture"]').getByRole('button', { name: 'Remove' }).count()).toBe(0);
  });

  it('downloads a model with visible progress, verifies it and stores it in OPFS', async () => {
    await installFromOptions(`${server.origin}/m/good/manifest.json`);
    const progress = options.locator('#model-progress');
    await progress.waitFor();
    // Seen part-way at least once: more than nothing, less than all.
    const seen: number[] = [];
    while ((await progress.count()) > 0 && seen.length < 200) {
      const v = await progress.evaluate((p: HTMLProgressElement) => p.value).catch(() => null);
      if (v !== null) seen.push(v);
      await options.waitForTimeout(50);
    }
    expect(seen.some((v) => v > 0 && v < onnx.length), `progress values ${seen.join(',')}`).toBe(true);
    await options.getByText('Installed Downloaded fixture copy').waitFor();
    await options.screenshot({ path: join(ARTIFACTS, 'options-model-installed.png'), fullPage: true });

    const item = options.locator('li[data-model-id="fixture-copy"]');
    expect(await item.textContent()).toContain(`downloaded from ${server.origin}`);
    const files = await opfsModels();
    expect(files['fixture-copy/manifest.json']).toBeGreaterThan(0);
    expect(files['fixture-copy/download.json']).toBeUndefined();
    const parts = Object.keys(files).filter((f) => f.startsWith('fixture-copy/part-'));
    expect(parts.length).toBeGreaterThan(1);
    expect(await storedSha('fixture-copy')).toEqual({ sha: ONNX_SHA, bytes: onnx.length });
    // Each part's SHA-256, recorded for the check at every load: node:crypto's of the same slices.
    expect(await storedChunkRecord(ext, 'fixture-copy')).toEqual(expectedChunkRecord(onnx, files['fixture-copy/part-00000.bin'] ?? NaN));
    expect(ranges['/m/good/model.onnx']).toEqual([undefined]);
  });

  it('switches to the downloaded model: the engine loads it from OPFS and a page image is judged by it', async () => {
    await options.locator('li[data-model-id="fixture-copy"]').getByRole('button', { name: 'Use this model' }).click();
    await options.getByText('Now using Downloaded fixture copy').waitFor();
    await options.locator('.model-details', { hasText: 'fixture-copy' }).waitFor();
    expect((await ask<StatusReply>({ kind: 'ui/get-status' })).engine.model?.id).toBe('fixture-copy');

    const page = await ext.context.newPage();
    await page.goto(`${server.origin}/photo.html`);
    const [badge] = await waitForBadges(page, settled(1));
    expect(badge?.state, JSON.stringify(badge)).not.toBe('failed');
    const status = await ask<StatusReply>({ kind: 'ui/get-status' });
    expect(status.engine.state).toBe('ready');
    // ORT read its weights from the OPFS parts through the reader's worker, not Blob streams.
    expect(status.engine.loadSteps?.weights).toBe('worker');
    // The check read the same parts read-only beside it, with its own access handles.
    expect(status.engine.loadSteps?.checkRead).toBe('handles');
    // The copy's manifest is the fixture's: the published recipe's input (squeezed to 256, centre 224).
    expect(status.engine.model).toEqual({ id: 'fixture-copy', name: 'Downloaded fixture copy', fixture: true, input: { resize: 'square', size: 256, crop: 224 } });
    const history = await ask<{ entries: Array<{ url: string; modelId: string }> }>({ kind: 'ui/export-history' });
    expect(history.entries.find((e) => e.url.endsWith('/static/chelsea.png'))?.modelId).toBe('fixture-copy');
    await page.close();
  });

  it('continues with a Range request after the connection drops once', async () => {
    await installFromOptions(`${server.origin}/m/flaky/manifest.json`);
    await options.getByText('Installed Flaky server copy').waitFor();
    const asked = ranges['/m/flaky/model.onnx'] ?? [];
    expect(asked[0]).toBeUndefined();
    // It goes on from the last whole 65536-byte chunk it had read before the drop at byte 600000
    // (how much of what was sent Chromium had handed over by then varies).
    expect(asked).toHaveLength(2);
    const from = Number(/^bytes=(\d+)-$/.exec(asked[1] ?? '')?.[1]);
    expect(from % 65_536).toBe(0);
    expect(from).toBeGreaterThan(0);
    expect(from).toBeLessThanOrEqual(600_000);
    const list = await ask<ModelsReply>({ kind: 'ui/list-models' });
    expect(list.download?.resumedFrom).toEqual([from]);
    expect(await storedSha('flaky-copy')).toEqual({ sha: ONNX_SHA, bytes: onnx.length });
    // The parts' hashes kept from before the drop and after it make up the same record.
    expect(await storedChunkRecord(ext, 'flaky-copy')).toEqual(expectedChunkRecord(onnx, 65_536));
  });

  it('continues a download whose document was closed part-way, from the chunks it had kept', async () => {
    await installFromOptions(`${server.origin}/m/slow/manifest.json`);
    for (;;) {
      const d = (await ask<ModelsReply>({ kind: 'ui/list-models' })).download;
      if (d?.id === 'resumed-copy' && d.received > 300_000) break;
      // (null until the offscreen document has the request)
      expect([undefined, 'downloading']).toContain(d?.state);
      await options.waitForTimeout(50);
    }
    // As when the browser quits: the offscreen document goes away in the middle of the download.
    await (await ext.serviceWorker()).evaluate(() => chrome.offscreen.closeDocument());
    const list = await ask<ModelsReply>({ kind: 'ui/list-models' });
    const unfinished = list.unfinished.find((u) => u.id === 'resumed-copy');
    expect(unfinished?.received).toBeGreaterThan(0);
    expect(unfinished?.received).toBeLessThan(onnx.length);
    expect(list.models.map((m) => m.id)).not.toContain('resumed-copy');
    const files = await opfsModels();
    expect(files['resumed-copy/download.json']).toBeGreaterThan(0);
    expect(files['resumed-copy/manifest.json']).toBeUndefined();

    await options.reload();
    const item = options.locator('li[data-model-id="resumed-copy"]');
    expect(await item.textContent()).toContain('Unfinished download');
    await item.getByRole('button', { name: 'Continue' }).click();
    await options.getByText('Installed Resumed copy').waitFor();
    expect(ranges['/m/slow/model.onnx']).toEqual([undefined, `bytes=${unfinished?.received}-`]);
    expect(await storedSha('resumed-copy')).toEqual({ sha: ONNX_SHA, bytes: onnx.length });
    expect(await storedChunkRecord(ext, 'resumed-copy')).toEqual(expectedChunkRecord(onnx, 65_536));
  });

  it('gives a clear error when the connection keeps dropping, and keeps nothing', async () => {
    await installFromOptions(`${server.origin}/m/drop/manifest.json`);
    const alert = options.getByRole('alert').filter({ hasText: 'Download failed' });
    await alert.waitFor();
    expect(await alert.textContent()).toMatch(/Download failed: the connection dropped after \d+ of 1104446 bytes.*Nothing of it was kept/);
    // The server ignores Range, so every try started from the beginning.
    expect(ranges['/m/drop/model.onnx']?.length).toBe(4);
    expect(Object.keys(await opfsModels()).filter((f) => f.startsWith('drop-copy'))).toEqual([]);
    expect((await ask<ModelsReply>({ kind: 'ui/list-models' })).unfinished).toEqual([]);
  });

  it('refuses a file whose SHA-256 is not the manifest’s, and keeps nothing', async () => {
    await installFromOptions(`${server.origin}/m/badsha/manifest.json`);
    const alert = options.getByRole('alert').filter({ hasText: 'Download failed' });
    await alert.filter({ hasText: 'SHA-256' }).waitFor();
    expect(await alert.textContent()).toContain(`the downloaded file's SHA-256 ${ONNX_SHA} does not match the manifest's ${'ab'.repeat(32)}`);
    expect(Object.keys(await opfsModels()).filter((f) => f.startsWith('badsha-copy'))).toEqual([]);
    expect((await ask<ModelsReply>({ kind: 'ui/list-models' })).models.map((m) => m.id)).not.toContain('badsha-copy');
  });

  it('refuses plain http off this machine and an id the extension already has', async () => {
    await installFromOptions('http://models.example/realfake/manifest.json');
    await options.getByRole('alert').filter({ hasText: 'plain http is accepted only from this machine' }).waitFor();
    server.route('/m/same-id/manifest.json', json(manifestFor('realfake-fixture', 'Impostor')));
    await installFromOptions(`${server.origin}/m/same-id/manifest.json`);
    await options.getByRole('alert').filter({ hasText: 'a model with the id "realfake-fixture" is part of the extension already' }).waitFor();
  });

  it('passes axe-core with the model section, light and dark', async () => {
    expect(await axeLightAndDark(options, ARTIFACTS, 'options-models'), 'axe-core').toEqual({ light: [], dark: [] });
  });

  it('removes the active downloaded model: the packaged one is used again', async () => {
    await options.locator('li[data-model-id="fixture-copy"]').getByRole('button', { name: 'Remove' }).click();
    await options.getByText('Removed Downloaded fixture copy').waitFor();
    expect(Object.keys(await opfsModels()).filter((f) => f.startsWith('fixture-copy'))).toEqual([]);
    const list = await ask<ModelsReply>({ kind: 'ui/list-models' });
    expect(list.activeId).toBe('realfake-fixture');
    expect(list.models.map((m) => m.id).sort()).toEqual(['flaky-copy', 'realfake-fixture', 'resumed-copy']);
    expect((await ask<StatusReply>({ kind: 'ui/get-status' })).engine.model?.id).toBe('realfake-fixture');
  });

  it('prepares a picture for the model while the model loads: its inference starts as soon as the engine is ready', async () => {
    // 270 reads 20 ms apart: seconds of loading, in which the page's picture is fetched and decoded.
    await configureEngine(ext, { 'engine.testFaults': { readPieceBytes: 4099, readDelayMs: 20 } });
    expect(await ask<{ ok: boolean }>({ kind: 'ui/set-active-model', id: 'resumed-copy' })).toEqual({ ok: true });
    const page = await ext.context.newPage();
    await page.goto(`${server.origin}/prepared.html`);
    const [badge] = await waitForBadges(page, settled(1));
    expect(badge?.state, JSON.stringify(badge)).not.toBe('failed');
    expect(badge?.title).toContain('Model: Resumed copy');
    // Preprocessed with the chosen model's recipe before the session existed, and queued for it.
    expect((await offscreenStatus(ext)).loadSteps?.preparedAtReady).toBe(1);
    await page.close();
    await configureEngine(ext, { 'engine.testFaults': {} });
  });

  it('removes the active model while the engine is still reading it from OPFS (its parts open in the reader)', async () => {
    // 270 reads 20 ms apart: the session takes seconds to read the weights, with the parts held open.
    await configureEngine(ext, { 'engine.testFaults': { readPieceBytes: 4099, readDelayMs: 20 } });
    expect(await ask<{ ok: boolean }>({ kind: 'ui/set-active-model', id: 'resumed-copy' })).toEqual({ ok: true });
    const page = await ext.context.newPage();
    await page.goto(`${server.origin}/photo.html`);
    // The reader is opened before the check starts, and closed when the load ends.
    let loading: EngineStatus | null = null;
    for (let i = 0; i < 600 && loading === null; i++) {
      const s = await offscreenStatus(ext).catch(() => null);
      if (s?.state === 'loading' && s.model?.id === 'resumed-copy' && (s.progress ?? 0) > 0) loading = s;
      else await options.waitForTimeout(20);
    }
    expect(loading, 'the engine was seen loading the stored model').not.toBeNull();
    expect(await ask<{ ok: boolean; error?: string }>({ kind: 'ui/remove-model', id: 'resumed-copy' })).toEqual({ ok: true });
    expect(Object.keys(await opfsModels()).filter((f) => f.startsWith('resumed-copy'))).toEqual([]);
    const list = await ask<ModelsReply>({ kind: 'ui/list-models' });
    expect(list.activeId).toBe('realfake-fixture');
    expect(list.models.map((m) => m.id)).not.toContain('resumed-copy');
    // The page's picture is judged all the same, by the packaged model the engine loads next.
    const [badge] = await waitForBadges(page, settled(1));
    expect(badge?.state, JSON.stringify(badge)).not.toBe('failed');
    // Labelled with the model that judged it, not the one in use when the check began.
    expect(badge?.title).toContain('Model: Realfake Lens test fixture');
    expect((await ask<StatusReply>({ kind: 'ui/get-status' })).engine.model?.id).toBe('realfake-fixture');
    // The removed model judged nothing: its load was cut short.
    const history = await ask<{ entries: Array<{ url: string; modelId: string }> }>({ kind: 'ui/export-history' });
    const judgedBy = history.entries.filter((e) => e.url.endsWith('/static/chelsea.png')).map((e) => e.modelId);
    expect(judgedBy).toContain('realfake-fixture');
    expect(judgedBy).not.toContain('resumed-copy');
    await page.close();
    await configureEngine(ext, { 'engine.testFaults': {} });
  });

  it('refuses to remove the model in use while a download runs in the engine\'s document, and removes it after', async () => {
    expect(await ask<{ ok: boolean }>({ kind: 'ui/set-active-model', id: 'flaky-copy' })).toEqual({ ok: true });
    await installFromOptions(`${server.origin}/m/crawl/manifest.json`);
    for (let i = 0; i < 200 && (await ask<ModelsReply>({ kind: 'ui/list-models' })).download?.state !== 'downloading'; i++) await options.waitForTimeout(25);
    await options.locator('li[data-model-id="flaky-copy"]').getByRole('button', { name: 'Remove' }).click();
    await options.getByRole('alert').filter({ hasText: 'a model download is under way: remove the model in use when it has finished (or cancel it)' }).waitFor();
    await options.screenshot({ path: join(ARTIFACTS, 'options-remove-during-download.png'), fullPage: true });
    expect((await ask<ModelsReply>({ kind: 'ui/list-models' })).activeId).toBe('flaky-copy');
    expect(await ask<{ ok: boolean }>({ kind: 'ui/cancel-model-download' })).toEqual({ ok: true });
    expect(await ask<{ ok: boolean }>({ kind: 'ui/remove-model', id: 'flaky-copy' })).toEqual({ ok: true });
    const list = await ask<ModelsReply>({ kind: 'ui/list-models' });
    expect(list.activeId).toBe('realfake-fixture');
    expect(list.models.map((m) => m.id)).not.toContain('flaky-copy');
  });

  it('"Delete all data" deletes downloaded models too', async () => {
    expect(Object.keys(await opfsModels()).some((f) => f.startsWith('fixture-copy') || f.startsWith('flaky-copy'))).toBe(false);
    await installFromOptions(`${server.origin}/m/good/manifest.json`);
    await options.getByText('Installed Downloaded fixture copy').waitFor();
    expect(Object.keys(await opfsModels()).some((f) => f.startsWith('fixture-copy/'))).toBe(true);
    await options.getByRole('button', { name: 'Delete all data…' }).click();
    await options.getByRole('button', { name: 'Delete everything' }).click();
    await options.getByText('All data deleted').waitFor();
    expect(await opfsModels()).toEqual({});
    expect((await ask<ModelsReply>({ kind: 'ui/list-models' })).models.map((m) => m.id)).toEqual(['realfake-fixture']);
  });
});

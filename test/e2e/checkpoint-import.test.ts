// The real model without a conversion step, in real Chromium: PyTorch writes small ConvNeXt
// checkpoints at test time (tools/make_test_checkpoint.py, test/support/checkpoint_cases.py), a
// 127.0.0.1 server serves them with Range support (and a CDN-like redirect), and the options page
// imports them by address or from a file. Only the weights' byte ranges may be fetched; the stored
// model's probe logits must equal PyTorch's for the checkpoint, and the badges on real photographs
// PyTorch's p (the converter's loader and the published preprocessing, test/support/checkpoint_scores.py).
// Hostile and broken files end in their clear message with nothing left in OPFS and nothing run.

import { existsSync, mkdtempSync, readFileSync, rmSync, copyFileSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ModelsReply, UiToBackground } from '../../src/shared/protocol/ui';
import { waitForBadges, type BadgeReading } from '../support/badges';
import { byteRange, writeRangeHead } from '../support/byte-range';
import { launchWithExtension, type ExtensionSession } from '../support/chrome';
import { configureEngine, offscreenStatus } from '../support/engine';
import { expectedRecordOfParts, opfsModels, storedChunkRecord, storedParts } from '../support/opfs';
import { PHOTOS_DIR } from '../support/photos';
import { requireReferencePython, runPython } from '../support/python';
import { startServer, type TestServer } from '../support/server';

const SHOTS = process.env.RFL_SHOTS ?? join(import.meta.dirname, '../../artifacts/e2e');
const PHOTOS = ['chelsea.png', 'coins.png'];

let server: TestServer;
let ext: ExtensionSession;
let options: Page;
let work: string;
/** The browser profile, kept across a restart of the browser. */
let profile: string;
let probe: number[];
let pytorch: Record<string, number>;
/** Byte ranges asked for, per checkpoint file. */
const ranges = new Map<string, string[]>();
/** Files whose next weights request drops half-way. */
const dropNext = new Set<string>();
/**
 * Files whose requests of 2 kB or more that do not reach the file's end (data.pkl, then the weights'
 * units) wait, from the `after`-th on, until `open` is called: a slow server, to pause an import mid-way.
 */
const gates = new Map<string, { after: number; seen: number; waiting: number; open: () => void; opened: Promise<void> }>();

function gate(name: string, after: number): void {
  let open = (): void => undefined;
  const opened = new Promise<void>((r) => (open = r));
  gates.set(name, { after, seen: 0, waiting: 0, open, opened });
}

async function serveCheckpoint(name: string, res: ServerResponse, range: string | undefined): Promise<void> {
  const g = gates.get(name);
  const asked = /^bytes=(\d+)-(\d+)$/.exec(range ?? '');
  const big = asked && Number(asked[2]) - Number(asked[1]) >= 2048 && Number(asked[2]) < readFileSync(join(work, name)).length - 1;
  if (g && big && ++g.seen > g.after) {
    g.waiting++;
    await g.opened;
    if (res.destroyed) return;
  }
  const bytes = readFileSync(join(work, name));
  ranges.set(name, [...(ranges.get(name) ?? []), range ?? 'whole']);
  const r = byteRange(range, bytes.length);
  writeRangeHead(res, r, bytes.length);
  if (!r) return void res.end(bytes);
  if (dropNext.has(name) && r.to - r.from > 50_000) {
    dropNext.delete(name);
    res.write(bytes.subarray(r.from, r.from + 1000));
    res.destroy();
    return;
  }
  res.end(bytes.subarray(r.from, r.to + 1));
}

async function ask<T>(msg: UiToBackground): Promise<T> {
  return options.evaluate((m) => chrome.runtime.sendMessage(m), msg) as Promise<T>;
}

const outcome = () => options.locator('p.message, p.error').filter({ hasText: /Installed|Not installed/ });

async function importFrom(url: string, shot?: string): Promise<string> {
  const before = (await outcome().allTextContents()).join('|');
  await options.locator('#checkpoint-url').fill(url);
  await options.getByRole('button', { name: 'Import from this address' }).click();
  if (shot) {
    await options.locator('#checkpoint-progress').waitFor({ timeout: 10_000 }).catch(() => undefined);
    await options.screenshot({ path: join(SHOTS, shot), fullPage: true });
  }
  // The outcome of this import: a message other than the one before it.
  await options.waitForFunction(
    (old) => {
      const now = [...document.querySelectorAll('p.message, p.error')].map((p) => p.textContent ?? '').filter((t) => /Installed|Not installed/.test(t));
      return now.length > 0 && now.join('|') !== old;
    },
    before,
    { timeout: 120_000 },
  );
  return (await outcome().allTextContents()).join('|');
}

async function storedManifest(id: string): Promise<{ probe: { logits: number[] }; weights: { bytes: number; sha256: string }; preset: { name: string } }> {
  return options.evaluate(async (model) => {
    const root = await navigator.storage.getDirectory();
    const dir = await (await root.getDirectoryHandle('models')).getDirectoryHandle(model);
    return JSON.parse(await (await (await dir.getFileHandle('manifest.json')).getFile()).text());
  }, id);
}

/**
 * A slow disk for `page`'s file import: once the graph is fetched, the page's reads of the file
 * (its weights) wait until `__releaseReads()`; `__readsHeld` counts them, `__restore()` undoes it.
 */
async function holdFileReads(page: Page): Promise<void> {
  await page.evaluate(() => {
    const g = window as unknown as { __releaseReads?: () => void; __readsHeld?: number; __restore?: () => void };
    const released = new Promise<void>((r) => (g.__releaseReads = r));
    let holding = false;
    g.__readsHeld = 0;
    const fetchAll = window.fetch;
    window.fetch = async (...args: Parameters<typeof fetch>) => {
      const res = await fetchAll(...args);
      if (String(args[0]).includes('/graphs/')) holding = true;
      return res;
    };
    const read = Blob.prototype.arrayBuffer;
    Blob.prototype.arrayBuffer = async function (this: Blob) {
      if (holding && this.size > 0) {
        g.__readsHeld = (g.__readsHeld ?? 0) + 1;
        await released;
      }
      return read.call(this);
    };
    g.__restore = () => {
      window.fetch = fetchAll;
      Blob.prototype.arrayBuffer = read;
    };
  });
}

const leftovers = async (id: string): Promise<string[]> => Object.keys(await opfsModels(ext)).filter((f) => f.startsWith(`${id}/`));

const maxDiff = (a: number[], b: number[]): number => Math.max(...a.map((v, i) => Math.abs(v - (b[i] ?? NaN))));

const settled = (n: number) => (b: BadgeReading[]) => b.length === n && b.every((x) => x.state !== 'checking');

beforeAll(async () => {
  await requireReferencePython();
  work = mkdtempSync(join(tmpdir(), 'rfl-ckpt-e2e-'));
  const layouts = ['lightning-timm', 'torchvision', 'hostile', 'corrupt', 'garbage', 'wrong-head', 'missing-keys'];
  const made = await runPython(['tools/make_test_checkpoint.py', work, ...layouts, '--marker', join(work, 'HOSTILE-RAN')]);
  expect(made.code, made.stderr).toBe(0);
  const cases = await runPython(['test/support/checkpoint_cases.py', 'write', work]);
  expect(cases.code, cases.stderr).toBe(0);
  probe = (JSON.parse(readFileSync(join(work, 'reference.json'), 'utf8')) as { probe: number[] }).probe;
  const scores = await runPython(['test/support/checkpoint_scores.py', join(work, 'lightning-timm.ckpt'), ...PHOTOS.map((p) => join(PHOTOS_DIR, p))]);
  expect(scores.code, scores.stderr).toBe(0);
  pytorch = JSON.parse(scores.stdout) as Record<string, number>;

  server = await startServer(PHOTOS_DIR);
  const names = ['lightning-timm', 'torchvision', 'adam', 'reversed', 'one-storage', 'zip64', 'fp16', 'hostile', 'eval-global', 'flaky',
    'wrong-head', 'missing-keys', 'corrupt', 'garbage', 'deflated', 'mixed-dtypes', 'paused', 'quota'];
  for (const name of names) {
    server.route(`/ck/${name}.ckpt`, (req, res) => void serveCheckpoint(`${name}.ckpt`, res, req.headers.range));
    // Like Hugging Face's resolve URL: a redirect to the file on another path (its CDN).
    server.route(`/resolve/${name}.ckpt`, (_req, res) => {
      res.writeHead(302, { location: `/ck/${name}.ckpt` });
      res.end();
    });
  }
  server.route('/loop.ckpt', (_req, res) => {
    res.writeHead(302, { location: '/loop.ckpt' });
    res.end();
  });
  server.route('/login.ckpt', (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end('<!doctype html><title>Sign in</title><p>Please sign in');
  });
  // No Range support: the whole file for every request (Adam's state in it, which the import must not keep).
  for (const [path, cut] of [['/norange.ckpt', false], ['/norange-cut.ckpt', true]] as const) {
    server.route(path, (req, res) => {
      const bytes = readFileSync(join(work, 'adam.ckpt'));
      ranges.set(path, [...(ranges.get(path) ?? []), `whole (asked ${req.headers.range ?? 'no range'})`]);
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': bytes.length });
      if (!cut) return void res.end(bytes);
      res.write(bytes.subarray(0, bytes.length >> 1));
      setTimeout(() => res.destroy(), 50);
    });
  }
  const photos = PHOTOS.map((p) => `<img src="/static/${p}" width="300" alt="">`).join('');
  server.page('/photos.html', `<!doctype html><meta charset="utf-8"><title>photos</title>${photos}`);

  profile = mkdtempSync(join(tmpdir(), 'rfl-ckpt-profile-'));
  await startBrowser();
  await options.screenshot({ path: join(SHOTS, 'checkpoint-1-options.png'), fullPage: true });
}, 300_000);

/** Starts the browser on the test's profile and opens the options page. */
async function startBrowser(): Promise<void> {
  ext = await launchWithExtension({ profile });
  options = await ext.context.newPage();
  await options.goto(`chrome-extension://${ext.extensionId}/src/options/index.html`);
  await options.locator('#get-laion').waitFor();
}

afterAll(async () => {
  await ext?.close();
  await server?.close();
  if (work) rmSync(work, { recursive: true, force: true });
  if (profile) rmSync(profile, { recursive: true, force: true });
});

describe('checkpoint import in the browser', () => {
  it('imports a Lightning checkpoint through a redirect, fetching only the weights; probe and badges equal PyTorch', async () => {
    const size = readFileSync(join(work, 'lightning-timm.ckpt')).length;
    expect(await importFrom(`${server.origin}/resolve/lightning-timm.ckpt`, 'checkpoint-2-progress.png')).toContain('Installed ckpt-lightning-timm');
    const manifest = await storedManifest('ckpt-lightning-timm');
    expect(manifest.preset.name).toBe('laion-realfake');
    expect(maxDiff(manifest.probe.logits, probe)).toBeLessThanOrEqual(1e-3);
    // Only ranges: the first byte (the size), the end records, data.pkl, headers, the weights.
    const asked = ranges.get('lightning-timm.ckpt') ?? [];
    expect(asked.every((r) => r.startsWith('bytes='))).toBe(true);
    const fetched = asked.map((r) => /^bytes=(\d+)-(\d+)$/.exec(r)!).reduce((n, m) => n + Number(m[2]) - Number(m[1]) + 1, 0);
    console.log(`checkpoint import: ${asked.length} range requests, ${fetched} of ${size} bytes fetched; weights ${manifest.weights.bytes} bytes`);
    // Each stored weights part's SHA-256 (node:crypto's of the files in OPFS) recorded for the check at every load.
    const weightParts = await storedParts(ext, 'ckpt-lightning-timm', 'weights-');
    expect(weightParts.length).toBeGreaterThan(0);
    const record = expectedRecordOfParts(weightParts) as { sha256: string; bytes: number };
    expect(record).toMatchObject({ sha256: manifest.weights.sha256, bytes: manifest.weights.bytes });
    expect(await storedChunkRecord(ext, 'ckpt-lightning-timm', 'weights-chunks.json')).toEqual(record);

    await options.locator('li[data-model-id="ckpt-lightning-timm"]').getByRole('button', { name: 'Use this model' }).click();
    await options.getByText('Now using').waitFor();
    await options.screenshot({ path: join(SHOTS, 'checkpoint-3-installed.png'), fullPage: true });
    // ORT reads the weights from the parts through the reader's worker, here in 4099-byte pieces
    // (test builds only), so that each weight takes many reads; the badges below prove the bytes.
    await configureEngine(ext, { 'engine.testFaults': { readPieceBytes: 4099 } });
    const page = await ext.context.newPage();
    await page.goto(`${server.origin}/photos.html`);
    const badges = await waitForBadges(page, settled(PHOTOS.length));
    // The engine checked the weights by those parts, and ORT read them through the worker.
    expect((await offscreenStatus(ext)).loadSteps).toMatchObject({ check: 'parts', weights: 'worker', checkRead: 'handles' });
    await configureEngine(ext, { 'engine.testFaults': {} });
    await page.screenshot({ path: join(SHOTS, 'checkpoint-4-badges.png') });
    for (const photo of PHOTOS) {
      const b = badges.find((x) => x.src.endsWith(`/static/${photo}`));
      expect(b?.state, JSON.stringify(b)).not.toBe('failed');
      expect(Math.abs((b?.p ?? NaN) - (pytorch[join(PHOTOS_DIR, photo)] ?? NaN)), photo).toBeLessThanOrEqual(1e-3);
    }
    await page.close();
  });

  it('imports torchvision names, optimizer state, fp16, another order, one shared storage and zip64, and runs no pickled code', async () => {
    for (const [name, tolerance] of [
      ['torchvision', 1e-3],
      ['adam', 1e-3],
      ['reversed', 1e-3],
      ['one-storage', 1e-3],
      ['zip64', 1e-3],
      ['fp16', 5e-2],
      ['hostile', 1e-3],
      ['eval-global', 1e-3],
    ] as const) {
      const text = await importFrom(`${server.origin}/ck/${name}.ckpt`);
      expect(text, name).toContain(`Installed ckpt-${name}`);
      expect(maxDiff((await storedManifest(`ckpt-${name}`)).probe.logits, probe), name).toBeLessThanOrEqual(tolerance);
    }
    // Adam's state (twice the weights) stays on the server: of the bytes adam.ckpt has beyond
    // lightning-timm.ckpt (the same model), less than a quarter are fetched (headers, tiny tensors between weights).
    const fetchedOf = (name: string): number =>
      (ranges.get(name) ?? []).map((r) => /^bytes=(\d+)-(\d+)$/.exec(r)!).reduce((n, m) => n + Number(m[2]) - Number(m[1]) + 1, 0);
    const sizeOf = (name: string): number => readFileSync(join(work, name)).length;
    console.log(`adam.ckpt: ${ranges.get('adam.ckpt')?.length} requests, ${fetchedOf('adam.ckpt')} of ${sizeOf('adam.ckpt')} bytes fetched`);
    expect(fetchedOf('adam.ckpt') - fetchedOf('lightning-timm.ckpt')).toBeLessThan((sizeOf('adam.ckpt') - sizeOf('lightning-timm.ckpt')) / 4);
    expect(existsSync(join(work, 'HOSTILE-RAN'))).toBe(false);
    expect(existsSync(join(work, 'EVAL-PAYLOAD-RAN'))).toBe(false);
  });

  it('continues after a connection cut in the middle of the weights', async () => {
    copyFileSync(join(work, 'lightning-timm.ckpt'), join(work, 'flaky.ckpt'));
    dropNext.add('flaky.ckpt');
    expect(await importFrom(`${server.origin}/ck/flaky.ckpt`)).toContain('Installed ckpt-flaky');
    expect(dropNext.has('flaky.ckpt')).toBe(false);
    expect(maxDiff((await storedManifest('ckpt-flaky')).probe.logits, probe)).toBeLessThanOrEqual(1e-3);
    // The parts' hashes from before the cut and after it make up the whole record.
    expect(await storedChunkRecord(ext, 'ckpt-flaky', 'weights-chunks.json')).toEqual(expectedRecordOfParts(await storedParts(ext, 'ckpt-flaky', 'weights-')));
  });

  it('streams the file once from a server without Range requests, keeping only the weights', async () => {
    const text = await importFrom(`${server.origin}/norange.ckpt`);
    expect(text).toContain('Installed ckpt-norange');
    expect(maxDiff((await storedManifest('ckpt-norange')).probe.logits, probe)).toBeLessThanOrEqual(1e-3);
    // One request, answered with the whole file; nothing of the stream's spool stays.
    expect(ranges.get('/norange.ckpt')).toEqual(['whole (asked bytes=0-0)']);
    expect(await leftovers('ckpt-norange')).not.toContain('ckpt-norange/stream.bin');
    const stored = Object.entries(await opfsModels(ext)).filter(([f]) => /^ckpt-norange\/weights-\d+\.bin$/.test(f));
    expect(stored.reduce((n, [, size]) => n + size, 0)).toBe((await storedManifest('ckpt-norange')).weights.bytes);
    console.log(`no Range support: 1 request, ${readFileSync(join(work, 'adam.ckpt')).length} bytes streamed`);
  });

  it('pauses between units and resumes where it stopped after the browser was closed, each unit fetched once', async () => {
    const setFaults = (faults: Record<string, unknown>) => options.evaluate((f) => chrome.storage.local.set({ 'engine.testFaults': f }), faults);
    await setFaults({ checkpointUnitBytes: 16_384 });
    copyFileSync(join(work, 'lightning-timm.ckpt'), join(work, 'paused.ckpt'));
    try {
      // data.pkl, then two units of 16 kB pass; the third waits.
      gate('paused.ckpt', 3);
      await options.locator('#checkpoint-url').fill(`${server.origin}/ck/paused.ckpt`);
      await options.getByRole('button', { name: 'Import from this address' }).click();
      await expect.poll(() => gates.get('paused.ckpt')?.waiting ?? 0, { timeout: 60_000 }).toBeGreaterThan(0);
      await options.getByRole('button', { name: 'Pause' }).click();
      await options.getByText('Import paused').waitFor({ timeout: 30_000 });
      gates.get('paused.ckpt')?.open();
      gates.delete('paused.ckpt');
      const kept = Object.keys(await opfsModels(ext)).filter((f) => f.startsWith('ckpt-paused/'));
      expect(kept).toContain('ckpt-paused/import.json');
      expect(kept).not.toContain('ckpt-paused/manifest.json');
      const partsBefore = kept.filter((f) => /weights-\d+\.bin$/.test(f)).length;
      expect(partsBefore).toBeGreaterThan(0);
      await options.screenshot({ path: join(SHOTS, 'checkpoint-6-paused.png'), fullPage: true });
      const before = ranges.get('paused.ckpt')?.length ?? 0;
      // The browser closed and started again on the same profile: the paused import is still offered.
      await ext.close();
      await startBrowser();

      await options.locator('[data-paused-import="ckpt-paused"]').getByRole('button', { name: 'Resume' }).click();
      await options
        .getByText('Installed ckpt-paused')
        .waitFor({ timeout: 120_000 })
        .catch(async (e: unknown) => {
          const now = (await ask<ModelsReply>({ kind: 'ui/list-models' })).checkpoint;
          throw new Error(`not installed after the resume: ${JSON.stringify(now)}; ${(ranges.get('paused.ckpt') ?? []).length} requests (${String(e)})`);
        });
      expect(maxDiff((await storedManifest('ckpt-paused')).probe.logits, probe)).toBeLessThanOrEqual(1e-3);
      // Every unit (ranges.json: what the import stored) asked for once, but the one in flight at the pause.
      const units = await options.evaluate(async () => {
        const dir = await (await (await navigator.storage.getDirectory()).getDirectoryHandle('models')).getDirectoryHandle('ckpt-paused');
        return (JSON.parse(await (await (await dir.getFileHandle('ranges.json')).getFile()).text()) as { ranges: Array<{ start: number; end: number }> }).ranges;
      });
      const all = ranges.get('paused.ckpt') ?? [];
      const times = units.map((u) => all.filter((r) => r === `bytes=${u.start}-${u.end - 1}`).length);
      expect(units.length).toBeGreaterThan(partsBefore + 1);
      expect(times.filter((n) => n !== 1).length, times.join(',')).toBeLessThanOrEqual(1);
      expect(Math.max(...times)).toBeLessThanOrEqual(2);
      // After the resume, none of the units stored before the pause was asked for again.
      const after = all.slice(before);
      expect(units.slice(0, partsBefore).filter((u) => after.includes(`bytes=${u.start}-${u.end - 1}`))).toEqual([]);
      console.log(`pause/resume: ${units.length} units, ${partsBefore} stored before the pause; requests ${before} before, ${after.length} after`);
      // Its weights in 16 kB parts, read by the engine in 4099-byte pieces: reads that run across parts.
      await setFaults({ readPieceBytes: 4099 });
      await options.locator('li[data-model-id="ckpt-paused"]').getByRole('button', { name: 'Use this model' }).click();
      await options.getByText('Now using').waitFor();
      const page = await ext.context.newPage();
      await page.goto(`${server.origin}/photos.html`);
      const badges = await waitForBadges(page, settled(PHOTOS.length));
      await page.close();
      expect((await offscreenStatus(ext)).loadSteps?.weights).toBe('worker');
      for (const photo of PHOTOS) {
        const b = badges.find((x) => x.src.endsWith(`/static/${photo}`));
        expect(Math.abs((b?.p ?? NaN) - (pytorch[join(PHOTOS_DIR, photo)] ?? NaN)), photo).toBeLessThanOrEqual(1e-3);
      }
    } finally {
      gates.get('paused.ckpt')?.open();
      await setFaults({});
    }
  });

  it('says the disk is full when the quota runs out, keeping nothing', async () => {
    const cdp = await ext.context.newCDPSession(options);
    const origin = `chrome-extension://${ext.extensionId}`;
    const usage = await options.evaluate(async () => (await navigator.storage.estimate()).usage ?? 0);
    copyFileSync(join(work, 'lightning-timm.ckpt'), join(work, 'quota.ckpt'));
    await cdp.send('Storage.overrideQuotaForOrigin', { origin, quotaSize: usage + 40_000 });
    try {
      const text = await importFrom(`${server.origin}/ck/quota.ckpt`);
      expect(text).toContain('Not installed');
      expect(text).toContain('disk quota');
      expect(await leftovers('ckpt-quota')).toEqual([]);
      expect((await ask<ModelsReply>({ kind: 'ui/list-models' })).unfinished).toEqual([]);
      await options.screenshot({ path: join(SHOTS, 'checkpoint-7-quota.png'), fullPage: true });
    } finally {
      await cdp.send('Storage.overrideQuotaForOrigin', { origin });
      await cdp.detach();
    }
  });

  it('imports a checkpoint file from disk', async () => {
    const local = join(work, 'local-model.ckpt');
    copyFileSync(join(work, 'lightning-timm.ckpt'), local);
    await options.locator('#checkpoint-file').setInputFiles(local);
    await options.getByRole('button', { name: 'Import checkpoint file' }).click();
    await options.getByText('Installed local-model.ckpt (imported checkpoint)').waitFor({ timeout: 120_000 });
    expect(maxDiff((await storedManifest('ckpt-local-model')).probe.logits, probe)).toBeLessThanOrEqual(1e-3);
  });

  it('cancels a checkpoint file import half-way, keeping nothing', async () => {
    const local = join(work, 'cancelled-model.ckpt');
    copyFileSync(join(work, 'lightning-timm.ckpt'), local);
    await holdFileReads(options);
    try {
      await options.locator('#checkpoint-file').setInputFiles(local);
      await options.getByRole('button', { name: 'Import checkpoint file' }).click();
      await options.waitForFunction(() => (window as unknown as { __readsHeld: number }).__readsHeld > 0, null, { timeout: 60_000 });
      await options.screenshot({ path: join(SHOTS, 'checkpoint-8-file-cancel.png'), fullPage: true });
      await options.locator('div.download', { has: options.locator('#checkpoint-file-progress') }).getByRole('button', { name: 'Cancel' }).click();
      await options.evaluate(() => (window as unknown as { __releaseReads: () => void }).__releaseReads());
      await options.getByText('Import cancelled; nothing of it was kept.').waitFor({ timeout: 60_000 });
      expect(await leftovers('ckpt-cancelled-model')).toEqual([]);
      expect(await options.locator('#checkpoint-file-progress').count()).toBe(0);
      expect((await ask<ModelsReply>({ kind: 'ui/list-models' })).unfinished).toEqual([]);
    } finally {
      await options.evaluate(() => (window as unknown as { __restore: () => void }).__restore());
    }
  });

  it('lists a file import stopped by closing its page, which choosing the file again finishes', async () => {
    const local = join(work, 'closed-model.ckpt');
    copyFileSync(join(work, 'lightning-timm.ckpt'), local);
    const page = await ext.context.newPage();
    await page.goto(options.url());
    await holdFileReads(page);
    await page.locator('#checkpoint-file').setInputFiles(local);
    await page.getByRole('button', { name: 'Import checkpoint file' }).click();
    await page.waitForFunction(() => (window as unknown as { __readsHeld: number }).__readsHeld > 0, null, { timeout: 60_000 });
    await page.close();

    await options.reload();
    const stopped = options.locator('[data-paused-import="ckpt-closed-model"]');
    await stopped.waitFor();
    expect(await stopped.textContent()).toContain('Stopped import of the file closed-model.ckpt');
    expect(await stopped.textContent()).toContain('choose that file again');
    // Nothing to resume from an address: only the file itself can continue it.
    expect(await stopped.getByRole('button', { name: 'Resume' }).count()).toBe(0);
    await options.screenshot({ path: join(SHOTS, 'checkpoint-9-file-stopped.png'), fullPage: true });

    await options.locator('#checkpoint-file').setInputFiles(local);
    await options.getByRole('button', { name: 'Import checkpoint file' }).click();
    await options.getByText('Installed closed-model.ckpt (imported checkpoint)').waitFor({ timeout: 120_000 });
    expect(maxDiff((await storedManifest('ckpt-closed-model')).probe.logits, probe)).toBeLessThanOrEqual(1e-3);
    await expect.poll(() => stopped.count()).toBe(0);
  });

  it('refuses bad files and servers with a clear message, keeping nothing', async () => {
    const cases: Array<[string, string, string]> = [
      ['/ck/wrong-head.ckpt', 'ckpt-wrong-head', 'model.head.fc.weight [2, 35] (the model needs [2, 32])'],
      ['/ck/missing-keys.ckpt', 'ckpt-missing-keys', 'missing 2 key(s)'],
      ['/ck/corrupt.ckpt', 'ckpt-corrupt', 'truncated or corrupt'],
      ['/ck/garbage.ckpt', 'ckpt-garbage', 'not'],
      ['/ck/deflated.ckpt', 'ckpt-deflated', 'compress'],
      ['/ck/mixed-dtypes.ckpt', 'ckpt-mixed-dtypes', 'could not place 1 key(s) of the checkpoint: step'],
      ['/ck/absent.ckpt', 'ckpt-absent', 'HTTP 404'],
      ['/login.ckpt', 'ckpt-login', 'a web page, not the checkpoint'],
      ['/loop.ckpt', 'ckpt-loop', 'redirected in a loop'],
      ['/norange-cut.ckpt', 'ckpt-norange-cut', 'the connection dropped'],
    ];
    for (const [path, id, words] of cases) {
      const text = await importFrom(`${server.origin}${path}`);
      expect(text, path).toContain('Not installed');
      expect(text.toLowerCase(), path).toContain(words.toLowerCase());
      expect(await leftovers(id), path).toEqual([]);
    }
    await options.screenshot({ path: join(SHOTS, 'checkpoint-5-refused.png'), fullPage: true });
    const listed = (await ask<ModelsReply>({ kind: 'ui/list-models' })).unfinished;
    expect(listed).toEqual([]);
  });
});

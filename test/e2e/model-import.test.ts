// Installing a converted model from local files in the options page (file picker -> manifest
// validated -> size and SHA-256 checked while the file is stored in OPFS by the page itself), in
// real Chromium: the committed fixture model, copied under other ids with rewritten manifests into
// a temporary folder, is imported with visible progress, its stored bytes hash (node:crypto) to the
// fixture's SHA-256, the offscreen engine loads it and a page image's verdict names it. A wrong
// SHA-256, a wrong size, a broken manifest, a missing model file and ids already in use are refused
// with clear errors and leave nothing in OPFS. A copy whose probe logits are wrong imports (its
// file is intact) but fails to load: the popup says so, says what to do, and opens the options.
// A stored copy changed by one bit after its install is refused at load by the engine's own
// SHA-256 check of the changed part (the probe alone would not notice so small a change); one
// installed without part hashes is checked by its whole SHA-256. A probe reference off by 1e-2 in
// its first image alone is refused on WebAssembly (which runs that image only).

import { createHash } from 'node:crypto';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ModelsReply, StatusReply, UiToBackground } from '../../src/shared/protocol/ui';
import { externalizeInitializers } from '../../src/detector/onnx-external';
import { axeLightAndDark } from '../support/axe';
import { waitForBadges, type BadgeReading } from '../support/badges';
import { DIST, launchWithExtension, type ExtensionSession } from '../support/chrome';
import { fromExtensionPage } from '../support/contexts';
import { expectedChunkRecord, opfsModels as readOpfsModels, storedChunkRecord, storedSha as readStoredSha } from '../support/opfs';
import { PHOTOS_DIR } from '../support/photos';
import { startServer, type TestServer } from '../support/server';

const ARTIFACTS = join(import.meta.dirname, '../../artifacts/e2e');
const FIXTURE = resolve(import.meta.dirname, '../../models/fixture');
const onnx = readFileSync(join(FIXTURE, 'model.onnx'));
const ONNX_SHA = createHash('sha256').update(onnx).digest('hex');
type Manifest = Record<string, unknown> & { id: string; name: string; onnx: { sha256: string; bytes: number; file: string }; probe: { logits: number[] } };
const fixtureManifest = JSON.parse(readFileSync(join(FIXTURE, 'manifest.json'), 'utf8')) as Manifest;

let server: TestServer;
let ext: ExtensionSession;
let options: Page;
let tmp: string;

/** Writes a folder like the converter's: manifest.json (rewritten by `change`) and model.onnx. */
function modelFolder(name: string, change: (m: Manifest) => void, file: Buffer = onnx): string[] {
  const dir = join(tmp, name);
  mkdirSync(dir);
  const m = structuredClone(fixtureManifest);
  change(m);
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify(m, null, 1));
  writeFileSync(join(dir, 'model.onnx'), file);
  return [join(dir, 'manifest.json'), join(dir, 'model.onnx')];
}

const renamed = (id: string, name: string) => (m: Manifest) => {
  m.id = id;
  m.name = name;
};

async function ask<T>(msg: UiToBackground): Promise<T> {
  return options.evaluate((m) => chrome.runtime.sendMessage(m), msg) as Promise<T>;
}

const opfsModels = (): Promise<Record<string, number>> => readOpfsModels(ext);
const storedSha = (id: string): Promise<{ sha: string; bytes: number }> => readStoredSha(ext, id);

/** Makes model `id` the active one from an options page, and waits until the page says so. */
async function useModel(id: string, name = '', page: Page = options): Promise<void> {
  await page.locator(`li[data-model-id="${id}"]`).getByRole('button', { name: 'Use this model' }).click();
  await page.getByText(name ? `Now using ${name}` : 'Now using').waitFor();
}

async function importFiles(paths: string[]): Promise<void> {
  await options.locator('#model-files').setInputFiles(paths);
  await options.getByRole('button', { name: 'Import model files' }).click();
}

const refusal = () => options.getByRole('alert').filter({ hasText: 'Not installed' });

const settled = (n: number) => (b: BadgeReading[]) => b.length === n && b.every((x) => x.state !== 'checking');

const good: string[] = [];

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  tmp = mkdtempSync(join(tmpdir(), 'rfl-import-'));
  good.push(...modelFolder('good', renamed('imported-copy', 'Imported fixture copy')));
  server = await startServer(PHOTOS_DIR);
  server.page('/photo.html', '<!doctype html><meta charset="utf-8"><title>photo</title><img src="/static/chelsea.png" width="300" alt="">');
  server.page('/coins.html', '<!doctype html><meta charset="utf-8"><title>coins</title><img src="/static/coins.png" width="300" alt="">');
  ext = await launchWithExtension();
  options = await ext.context.newPage();
  await options.goto(`chrome-extension://${ext.extensionId}/src/options/index.html`);
  await options.locator('li[data-model-id="realfake-fixture"]').waitFor();
}, 180_000);

afterAll(async () => {
  await ext?.close();
  await server?.close();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe('model import from files in the options page', () => {
  it('imports the converter’s two files with visible progress, checks them and stores them in OPFS', async () => {
    // Records the progress label each time the page changes (the import is quick).
    await options.evaluate(() => {
      const seen: string[] = [];
      (window as unknown as { seen: string[] }).seen = seen;
      new MutationObserver(() => {
        const t = document.querySelector('label[for="import-progress"]')?.textContent;
        if (t && seen[seen.length - 1] !== t) seen.push(t);
      }).observe(document.body, { subtree: true, childList: true, characterData: true });
    });
    await importFiles(good);
    await options.getByText('Installed Imported fixture copy from files').waitFor();
    const seen = await options.evaluate(() => (window as unknown as { seen: string[] }).seen);
    const partWay = seen
      .map((t) => /^Reading and storing the model file: ([\d.]+) MB of 1\.1 MB$/.exec(t)?.[1])
      .filter((v): v is string => v !== undefined)
      .map(Number);
    expect(partWay.some((v) => v > 0 && v < 1.1), seen.join(' | ')).toBe(true);
    expect(seen.some((t) => t.startsWith('Checking the SHA-256'))).toBe(true);
    expect(await options.locator('#import-progress').count()).toBe(0);

    const item = options.locator('li[data-model-id="imported-copy"]');
    expect(await item.textContent()).toContain('imported from the file model.onnx');
    const files = await opfsModels();
    expect(files['imported-copy/manifest.json']).toBeGreaterThan(0);
    expect(files['imported-copy/source.json']).toBeGreaterThan(0);
    expect(Object.keys(files).filter((f) => f.startsWith('imported-copy/part-')).length).toBeGreaterThan(1);
    expect(await storedSha('imported-copy')).toEqual({ sha: ONNX_SHA, bytes: onnx.length });
    // Each part's SHA-256, recorded for the check at every load: node:crypto's of the same slices.
    expect(await storedChunkRecord(ext, 'imported-copy')).toEqual(expectedChunkRecord(onnx, files['imported-copy/part-00000.bin'] ?? NaN));
    const listed = (await ask<ModelsReply>({ kind: 'ui/list-models' })).models.find((m) => m.id === 'imported-copy');
    expect(listed).toMatchObject({ packaged: false, downloadedFrom: null, importedFrom: 'model.onnx', sha256: ONNX_SHA });
  });

  it('switches to the imported model: the offscreen engine loads it from OPFS and a page image’s verdict names it', async () => {
    await useModel('imported-copy', 'Imported fixture copy');
    expect((await ask<StatusReply>({ kind: 'ui/get-status' })).engine.model?.id).toBe('imported-copy');

    const page = await ext.context.newPage();
    await page.goto(`${server.origin}/photo.html`);
    const [badge] = await waitForBadges(page, settled(1));
    expect(badge?.state, JSON.stringify(badge)).not.toBe('failed');
    expect(badge?.title).toContain('Model: Imported fixture copy.');
    const status = await ask<StatusReply>({ kind: 'ui/get-status' });
    expect(status.engine.state).toBe('ready');
    expect(status.engine.model).toEqual({ id: 'imported-copy', name: 'Imported fixture copy', fixture: true, input: { resize: 'square', size: 256, crop: 224 } });
    const history = await ask<{ entries: Array<{ url: string; modelId: string }> }>({ kind: 'ui/export-history' });
    expect(history.entries.find((e) => e.url.endsWith('/static/chelsea.png'))?.modelId).toBe('imported-copy');
    await page.close();
  });

  it('refuses a model file whose SHA-256 is not the manifest’s, and keeps nothing', async () => {
    const bad = modelFolder('badsha', (m) => {
      renamed('badsha-copy', 'Wrong hash copy')(m);
      m.onnx.sha256 = 'ab'.repeat(32);
    });
    await importFiles(bad);
    const alert = refusal().filter({ hasText: 'SHA-256' });
    await alert.waitFor();
    expect(await alert.textContent()).toBe(
      `Not installed: model.onnx’s SHA-256 ${ONNX_SHA} does not match the manifest’s ${'ab'.repeat(32)}: refused (corrupt, or not the file the manifest describes). Nothing of it was kept.`,
    );
    expect(Object.keys(await opfsModels()).filter((f) => f.startsWith('badsha-copy'))).toEqual([]);
    expect((await ask<ModelsReply>({ kind: 'ui/list-models' })).models.map((m) => m.id)).not.toContain('badsha-copy');
  });

  it('refuses a broken manifest, a file of the wrong size and a missing model file, writing nothing', async () => {
    const before = await opfsModels();
    const broken = modelFolder('broken', (m) => {
      renamed('broken-copy', 'Broken manifest')(m);
      m.labels = ['fake'];
    });
    await importFiles(broken);
    await refusal().filter({ hasText: 'manifest.json is not a valid model manifest' }).waitFor();

    const notJson = modelFolder('not-json', renamed('not-json-copy', 'Not JSON'));
    writeFileSync(notJson[0] as string, '{"id": "not-json-copy", ');
    await importFiles(notJson);
    await refusal().filter({ hasText: 'manifest.json is not a model manifest (not JSON)' }).waitFor();

    const short = modelFolder('short', renamed('short-copy', 'Truncated copy'), onnx.subarray(0, 500_000));
    await importFiles(short);
    await refusal().filter({ hasText: `model.onnx has 500000 bytes but the manifest says ${onnx.length}` }).waitFor();

    await importFiles([short[0] as string]);
    await refusal().filter({ hasText: 'the manifest names the model file “model.onnx”: choose it together with manifest.json' }).waitFor();
    await importFiles([short[1] as string]);
    await refusal().filter({ hasText: 'no manifest.json among the chosen files' }).waitFor();

    expect(await opfsModels()).toEqual(before);
  });

  it('refuses an id that is installed already or part of the extension', async () => {
    await importFiles(good);
    await refusal().filter({ hasText: '"imported-copy" is installed already: remove it first' }).waitFor();
    const packaged = modelFolder('same-id', renamed('realfake-fixture', 'Impostor'));
    await importFiles(packaged);
    await refusal().filter({ hasText: 'a model with the id "realfake-fixture" is part of the extension already' }).waitFor();
    expect(await storedSha('imported-copy')).toEqual({ sha: ONNX_SHA, bytes: onnx.length });
  });

  it('passes axe-core with the import form, light and dark', async () => {
    await options.locator('#model-files').scrollIntoViewIfNeeded();
    expect(await axeLightAndDark(options, ARTIFACTS, 'options-import'), 'axe-core').toEqual({ light: [], dark: [] });
  });

  it('a model whose probe check fails: the popup shows the error and what to do, and opens the model options', async () => {
    const damaged = modelFolder('probe', (m) => {
      renamed('probe-copy', 'Wrong probe copy')(m);
      m.probe.logits = m.probe.logits.map((x) => x + 1);
    });
    await importFiles(damaged);
    await options.getByText('Installed Wrong probe copy from files').waitFor();
    await useModel('probe-copy', 'Wrong probe copy');

    const page = await ext.context.newPage();
    await page.goto(`${server.origin}/coins.html`);
    const [badge] = await waitForBadges(page, settled(1));
    expect(badge?.state).toBe('failed');
    const tabId = await (await ext.serviceWorker()).evaluate(async (url) => (await chrome.tabs.query({ url }))[0]?.id, `${server.origin}/coins.html`);
    const popup = await ext.context.newPage();
    await popup.setViewportSize({ width: 360, height: 720 });
    await popup.goto(`chrome-extension://${ext.extensionId}/src/popup/index.html?tab=${tabId}`);
    const engine = popup.locator('[data-engine-state="failed"]');
    await engine.waitFor();
    const card = popup.getByRole('definition').filter({ hasText: 'model output differs from its manifest' });
    expect(await card.textContent()).toMatch(/^model output differs from its manifest's reference by \d\.\d\de[+-]\d+$/);
    const advice = popup.locator('dd.advice');
    expect(await advice.textContent()).toContain('is not the one its manifest describes. In the options, switch to another model');
    expect(await axeLightAndDark(popup, ARTIFACTS, 'popup-model-failed'), 'axe-core').toEqual({ light: [], dark: [] });

    const [opened] = await Promise.all([ext.context.waitForEvent('page'), advice.getByRole('button', { name: 'Open the model options' }).click()]);
    await opened.waitForLoadState();
    expect(opened.url()).toBe(`chrome-extension://${ext.extensionId}/src/options/index.html#h-model`);
    await opened.locator('li[data-model-id="probe-copy"]').waitFor();
    // Back to the packaged model from there: the popup's next status reads ready again.
    await useModel('realfake-fixture', '', opened);
    await page.reload();
    await waitForBadges(page, (b) => b.length === 1 && b[0]?.state !== 'checking' && b[0]?.state !== 'failed', 30_000);
    await popup.locator('[data-engine-state="ready"]').waitFor();
    await Promise.all([opened.close(), popup.close(), page.close()]);
  });

  /**
   * Imports the fixture as `id`, then flips one bit of its stored file (OPFS) that the probe would
   * not notice: the low mantissa byte of a float in the largest weight, a change of about 1e-7 of
   * one weight. Returns the flipped byte's place in the file and the stored parts' size.
   */
  /**
   * A byte of the fixture whose lowest bit, flipped, changes one float of its largest weight so
   * little that the probe would not notice: only the SHA-256 check can.
   */
  async function probeBlindOffset(): Promise<number> {
    const graph = new TextDecoder('latin1').decode((await externalizeInitializers(new Uint8Array(onnx), 'w'))?.graph);
    const entry = (key: string) => [...graph.matchAll(new RegExp(`\\x0a\\x06${key}\\x12.(\\d+)`, 'g'))].map((m) => Number(m[1]));
    const [offsets, lengths] = [entry('offset'), entry('length')];
    const largest = lengths.indexOf(Math.max(...lengths));
    return (offsets[largest] as number) + 4 * Math.floor((lengths[largest] as number) / 8);
  }

  async function importAndTamper(id: string, name: string, withoutPartHashes: boolean): Promise<{ at: number; partSize: number }> {
    await importFiles(modelFolder(id, renamed(id, name)));
    await options.getByText(`Installed ${name} from files`).waitFor();
    const at = await probeBlindOffset();
    await options.evaluate(
      async ({ at, id, withoutPartHashes }) => {
        const dir = await (await (await navigator.storage.getDirectory()).getDirectoryHandle('models')).getDirectoryHandle(id);
        // As installed by a version that recorded no part hashes.
        if (withoutPartHashes) await dir.removeEntry('chunks.json');
        let start = 0;
        for (let i = 0; ; i++) {
          const handle = await dir.getFileHandle(`part-${String(i).padStart(5, '0')}.bin`);
          const bytes = new Uint8Array(await (await handle.getFile()).arrayBuffer());
          if (at < start + bytes.length) {
            bytes[at - start]! ^= 1;
            const w = await handle.createWritable();
            await w.write(bytes);
            await w.close();
            return;
          }
          start += bytes.length;
        }
      },
      { at, id, withoutPartHashes },
    );
    return { at, partSize: (await opfsModels())[`${id}/part-00000.bin`] ?? NaN };
  }

  /** The engine's state and note after a page asked for a verdict with model `id` active. */
  async function loadOutcome(id: string, name: string): Promise<{ badge: string | undefined; state: string; note: string | null; check: string | undefined }> {
    await useModel(id, name);
    const page = await ext.context.newPage();
    await page.goto(`${server.origin}/coins.html`);
    const [badge] = await waitForBadges(page, settled(1));
    const status = await ask<StatusReply>({ kind: 'ui/get-status' });
    await page.close();
    return { badge: badge?.state, state: status.engine.state, note: status.engine.note, check: status.engine.loadSteps?.check };
  }

  it('refuses at load a stored model changed after its install, even by one bit the probe would not notice: the changed part’s SHA-256 differs', async () => {
    const { at, partSize } = await importAndTamper('tampered-copy', 'Tampered copy', false);
    const part = Math.floor(at / partSize) + 1;
    const count = Math.ceil(onnx.length / partSize);
    expect(await loadOutcome('tampered-copy', 'Tampered copy')).toEqual({
      badge: 'failed',
      state: 'failed',
      note: `model file does not match its manifest (SHA-256 of part ${part} of ${count})`,
      check: undefined,
    });
    await useModel('realfake-fixture');
  });

  it('refuses a packaged model changed by one bit in the package, which the probe would not notice: the changed part’s SHA-256 differs', async () => {
    // A copy of the build whose packaged file has one bit of its largest weight flipped.
    const dist = mkdtempSync(join(tmpdir(), 'rfl-dist-tampered-'));
    cpSync(DIST, dist, { recursive: true });
    const at = await probeBlindOffset();
    const file = join(dist, 'models', fixtureManifest.id, 'model.onnx');
    const bytes = readFileSync(file);
    bytes[at]! ^= 1;
    writeFileSync(file, bytes);
    const parts = (JSON.parse(readFileSync(join(dist, 'models', fixtureManifest.id, 'chunks.json'), 'utf8')) as { parts: Array<{ bytes: number }> }).parts;
    let part = 0;
    for (let start = 0; start + (parts[part]?.bytes ?? 0) <= at; part++) start += parts[part]?.bytes ?? 0;

    const other = await launchWithExtension({ dist });
    try {
      const page = await other.context.newPage();
      await page.goto(`${server.origin}/coins.html`);
      const [badge] = await waitForBadges(page, settled(1));
      const engine = (await fromExtensionPage<StatusReply>(other, '(m) => chrome.runtime.sendMessage(m)', { kind: 'ui/get-status' })).engine;
      expect({ badge: badge?.state, state: engine.state, note: engine.note }).toEqual({
        badge: 'failed',
        state: 'failed',
        note: `model file does not match its manifest (SHA-256 of part ${part + 1} of ${parts.length})`,
      });
    } finally {
      await other.close();
      rmSync(dist, { recursive: true, force: true });
    }
  });

  it('refuses on WebAssembly a model whose first probe image’s logit is off by 1e-2 (ten times the tolerance)', async () => {
    await importFiles(
      modelFolder('probe-first', (m) => {
        renamed('probe-first', 'First probe row off')(m);
        m.probe.logits = m.probe.logits.map((x, i) => (i === 0 ? x + 0.01 : x));
      }),
    );
    await options.getByText('Installed First probe row off from files').waitFor();
    const outcome = await loadOutcome('probe-first', 'First probe row off');
    expect(outcome).toMatchObject({ badge: 'failed', state: 'failed', check: undefined });
    // |PyTorch's logit + 0.01 - onnxruntime-web's|: 1e-2 give or take float rounding.
    expect(outcome.note).toMatch(/^WebGPU [^;]*; model output differs from its manifest's reference by (1\.00e-2|9\.99e-3)$|^model output differs from its manifest's reference by (1\.00e-2|9\.99e-3)$/);
    await useModel('realfake-fixture');
  });

  it('checks a stored model installed without part hashes by its whole SHA-256: loads it unchanged, refuses it changed', async () => {
    // Unchanged: the part hashes' absence alone refuses nothing.
    await importFiles(modelFolder('legacy-copy', renamed('legacy-copy', 'Legacy copy')));
    await options.getByText('Installed Legacy copy from files').waitFor();
    await options.evaluate(async () => {
      const dir = await (await (await navigator.storage.getDirectory()).getDirectoryHandle('models')).getDirectoryHandle('legacy-copy');
      await dir.removeEntry('chunks.json');
    });
    const legacy = await loadOutcome('legacy-copy', 'Legacy copy');
    expect(legacy).toMatchObject({ state: 'ready', check: 'stream' });
    expect(['real', 'generated']).toContain(legacy.badge);

    await importAndTamper('tampered-legacy', 'Tampered legacy copy', true);
    expect(await loadOutcome('tampered-legacy', 'Tampered legacy copy')).toEqual({
      badge: 'failed',
      state: 'failed',
      note: 'model file does not match its manifest (SHA-256)',
      check: undefined,
    });
    await useModel('realfake-fixture');
  });
});

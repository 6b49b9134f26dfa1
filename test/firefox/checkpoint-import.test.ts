// The in-browser checkpoint import in the Firefox build (real Firefox ESR, WebDriver BiDi): there
// the import runs in the engine's frame of the event page (no offscreen document), stores into the
// same OPFS and computes its probe on the same onnxruntime-web. A PyTorch-written Lightning
// checkpoint served on 127.0.0.1 with Range requests, and the same file from a server without
// them (streamed once): each stored probe must equal PyTorch's logits. The host permission the
// import needs is asked for by the options page's click (permissions.request); with the MV3
// build's <all_urls> granted (Firefox 127 on shows it at install), the test's server is covered.

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CheckpointImportStatus } from '../../src/shared/protocol/offscreen';
import type { ModelsReply } from '../../src/shared/protocol/ui';
import { byteRange, sendRange } from '../support/byte-range';
import { launchFirefoxWithExtension, type ExtensionTab, type FirefoxSession } from '../support/firefox';
import { PHOTOS_DIR } from '../support/photos';
import { requireReferencePython, runPython } from '../support/python';
import { startServer, type TestServer } from '../support/server';

let server: TestServer;
let ff: FirefoxSession;
let ui: ExtensionTab;
let work: string;
let probe: number[];
const asked: string[] = [];

const ask = <T>(message: object): Promise<T> => ui.evaluate<T>(`chrome.runtime.sendMessage(${JSON.stringify(message)})`);

function serve(req: IncomingMessage, res: ServerResponse, ranges: boolean): void {
  const header = ranges ? req.headers.range : undefined;
  asked.push(`${req.url} ${byteRange(header, Infinity) ? header : 'whole'}`);
  sendRange(res, readFileSync(join(work, 'lightning-timm.ckpt')), header);
}

/** Starts an import as the options page's click does after its permission request, and waits for its end. */
async function importFrom(url: string): Promise<CheckpointImportStatus> {
  const granted = await ui.evaluate<boolean>(`browser.permissions.contains({ origins: [${JSON.stringify(`${new URL(url).origin}/*`)}] })`);
  expect(granted, 'host permission for the server').toBe(true);
  expect(await ask<{ ok: boolean; error?: string }>({ kind: 'ui/import-checkpoint', url })).toEqual({ ok: true });
  const deadline = Date.now() + 150_000;
  for (;;) {
    const c = (await ask<ModelsReply>({ kind: 'ui/list-models' })).checkpoint;
    if (c && c.url === url && !['reading', 'streaming', 'fetching', 'probing'].includes(c.state)) return c;
    if (Date.now() > deadline) throw new Error(`the import did not end: ${JSON.stringify(c)}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

const storedProbe = (id: string): Promise<number[]> =>
  ui.evaluate<number[]>(
    `navigator.storage.getDirectory().then((r) => r.getDirectoryHandle('models')).then((d) => d.getDirectoryHandle(${JSON.stringify(id)}))` +
      `.then((d) => d.getFileHandle('manifest.json')).then((f) => f.getFile()).then((f) => f.text()).then((t) => JSON.parse(t).probe.logits)`,
  );

beforeAll(async () => {
  await requireReferencePython();
  work = mkdtempSync(join(tmpdir(), 'rfl-ff-ckpt-'));
  const made = await runPython(['tools/make_test_checkpoint.py', work, 'lightning-timm']);
  expect(made.code, made.stderr).toBe(0);
  probe = (JSON.parse(readFileSync(join(work, 'reference.json'), 'utf8')) as { probe: number[] }).probe;
  server = await startServer(PHOTOS_DIR);
  server.route('/ck/ranged.ckpt', (req, res) => serve(req, res, true));
  server.route('/ck/whole.ckpt', (req, res) => serve(req, res, false));
  ff = await launchFirefoxWithExtension();
  ui = await ff.openExtensionPage('src/options/index.html');
}, 300_000);

afterAll(async () => {
  await ff?.close();
  await server?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('Firefox: a checkpoint imported in the browser', () => {
  it.each([
    ['ranged', 'Range requests'],
    ['whole', 'no Range support: streamed once'],
  ])('%s (%s): installed, its probe on WebAssembly within 1e-3 of PyTorch’s logits', async (name) => {
    const url = `${server.origin}/ck/${name}.ckpt`;
    const end = await importFrom(url);
    expect(end.state, end.error ?? '').toBe('installed');
    const logits = await storedProbe(`ckpt-${name}`);
    const diff = Math.max(...logits.map((v, i) => Math.abs(v - probe[i]!)));
    const requests = asked.filter((a) => a.startsWith(`/ck/${name}.ckpt`)).length;
    console.log(`Firefox import (${name}): ${requests} request(s), ${end.fetched} bytes fetched of ${end.fileBytes}; max |Δlogit| ${diff.toExponential(2)}`);
    expect(diff).toBeLessThanOrEqual(1e-3);
  });
});

// Provenance evidence end to end, in real Chromium with the built extension: a page shows images
// whose metadata was written at test time by independent tools (PIL, exiftool, c2pa-ts), plus
// hostile ones (a zlib bomb, JUMBF nested 200 deep) that still decode. Every image gets its model
// verdict; the history (read through the background's `ui/list-history`, as the popup does)
// carries each image's evidence, and the popup shows it under the verdict.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32, deflateSync } from 'node:zlib';
import type { Page } from 'playwright-core';
import { launchWithExtension, type ExtensionSession } from '../support/chrome';
import { startServer, type TestServer } from '../support/server';
import { readBadges, waitForBadges, type BadgeReading } from '../support/badges';
import { signWithC2pa, TEST_CLAIM_GENERATOR, TEST_SIGNER_CN } from '../support/c2pa';
import { PYTHON, REPO } from '../support/python';
import type { HistoryEntry } from '../../src/shared/protocol/ui';

const ARTIFACTS = join(import.meta.dirname, '../../artifacts/e2e');
const IMAGES = ['a1111.png', 'comfyui.png', 'midjourney-xmp.jpg', 'camera.jpg', 'c2pa.jpg', 'c2pa.png', 'c2pa-tampered.jpg', 'bomb.png', 'deep-jumbf.png', 'plain.png'];

let server: TestServer;
let ext: ExtensionSession;
let popup: Page;
let site: Page;
let entries: HistoryEntry[];

/** Inserts an ancillary chunk (with a correct CRC, so decoders skip it quietly) before IEND. */
function withChunk(png: Buffer, type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  const iend = png.length - 12;
  return Buffer.concat([png.subarray(0, iend), len, body, crc, png.subarray(iend)]);
}

/**
 * The picture changed after signing: one byte of the JPEG's entropy-coded data (after the SOS
 * marker, away from any 0xFF), so it still decodes but no longer matches the manifest's data hash.
 */
function tamperedJpeg(signed: Uint8Array): Buffer {
  const out = Buffer.from(signed);
  let sos = -1;
  for (let i = 2; i + 3 < out.length; ) {
    if (out[i] !== 0xff) throw new Error('not a JPEG segment');
    if (out[i + 1] === 0xda) {
      sos = i + 2 + out.readUInt16BE(i + 2);
      break;
    }
    i += 2 + out.readUInt16BE(i + 2);
  }
  if (sos < 0) throw new Error('no scan data');
  for (let i = sos + Math.floor((out.length - sos) / 2); i < out.length - 2; i++) {
    const flipped = (out[i] as number) ^ 0x10;
    if (out[i - 1] !== 0xff && out[i] !== 0xff && flipped !== 0xff && out[i + 1] !== 0xff) {
      out[i] = flipped;
      return out;
    }
  }
  throw new Error('nothing to tamper with');
}

function deepJumbf(depth: number): Buffer {
  const box = (type: string, payload: Buffer): Buffer => {
    const head = Buffer.alloc(8);
    head.writeUInt32BE(8 + payload.length);
    head.write(type, 4, 'latin1');
    return Buffer.concat([head, payload]);
  };
  const jumd = (kind: string): Buffer => box('jumd', Buffer.concat([Buffer.from(kind, 'latin1'), Buffer.alloc(12), Buffer.from([0])]));
  let inner = box('jumb', jumd('c2pa'));
  for (let i = 0; i < depth; i++) inner = box('jumb', Buffer.concat([jumd('c2ma'), inner]));
  return inner;
}

const settled = (n: number) => (b: BadgeReading[]) => b.length === n && b.every((x) => x.state !== 'checking');
const entryOf = (name: string): HistoryEntry | undefined => entries.find((e) => e.url.endsWith(`/${name}`));

let dir = '';

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  dir = mkdtempSync(join(tmpdir(), 'rfl-e2e-provenance-'));
  execFileSync(PYTHON, [join(REPO, 'tools/provenance_fixtures.py'), dir], { stdio: 'pipe' });
  writeFileSync(join(dir, 'c2pa.jpg'), await signWithC2pa(new Uint8Array(readFileSync(join(dir, 'plain.jpg')))));
  writeFileSync(join(dir, 'c2pa-tampered.jpg'), tamperedJpeg(await signWithC2pa(new Uint8Array(readFileSync(join(dir, 'plain.jpg'))))));
  const plain = readFileSync(join(dir, 'plain.png'));
  writeFileSync(join(dir, 'c2pa.png'), await signWithC2pa(new Uint8Array(plain)));
  const bomb = deflateSync(Buffer.alloc(32 * 1024 * 1024));
  writeFileSync(join(dir, 'bomb.png'), withChunk(plain, 'zTXt', Buffer.concat([Buffer.from('parameters\0\0', 'latin1'), bomb])));
  writeFileSync(join(dir, 'deep-jumbf.png'), withChunk(plain, 'caBX', deepJumbf(200)));

  server = await startServer(dir);
  const imgs = IMAGES.map((f) => `<img src="/static/${f}" width="256" height="192" alt="${f}">`).join('');
  server.page('/provenance.html', `<!doctype html><meta charset="utf-8"><title>Provenance</title><body>${imgs}</body>`);
  ext = await launchWithExtension();
  site = await ext.context.newPage();
  await site.goto(`${server.origin}/provenance.html`);
  await waitForBadges(site, settled(IMAGES.length), 150_000);
  const tabId = await (await ext.serviceWorker()).evaluate(async (url) => (await chrome.tabs.query({ url }))[0]?.id, `${server.origin}/provenance.html`);
  popup = await ext.context.newPage();
  await popup.setViewportSize({ width: 360, height: 900 });
  await popup.goto(`chrome-extension://${ext.extensionId}/src/popup/index.html?tab=${tabId}`);
  entries = await popup.evaluate(async () => {
    const reply = (await chrome.runtime.sendMessage({ kind: 'ui/list-history', site: null, query: '', limit: 100 })) as { entries: HistoryEntry[] };
    return reply.entries;
  });
}, 300_000);

afterAll(async () => {
  await ext?.close();
  await server?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('provenance evidence', () => {
  it('every image got its model verdict, hostile metadata included', () => {
    expect(entries.map((e) => e.url.split('/').pop()).sort()).toEqual([...IMAGES].sort());
    for (const e of entries) expect(e.pGenerated).toBeGreaterThanOrEqual(0);
  });

  it('generator parameters: A1111 and ComfyUI', () => {
    expect(entryOf('a1111.png')?.evidence).toMatchObject({
      state: 'found',
      findings: [{ kind: 'generator-parameters', declaresAI: true, details: { sampler: 'DPM++ 2M Karras', seed: '1234567890' } }],
    });
    expect(entryOf('comfyui.png')?.evidence?.findings[0]).toMatchObject({ summary: 'ComfyUI workflow', details: { model: 'sd_xl_base_1.0.safetensors' } });
  });

  it('EXIF and XMP: an AI declaration, and a camera without one', () => {
    const mj = entryOf('midjourney-xmp.jpg')?.evidence;
    expect(mj?.findings.map((f) => [f.kind, f.declaresAI])).toEqual([
      ['xmp', true],
      ['exif', true],
    ]);
    expect(entryOf('camera.jpg')?.evidence?.findings).toMatchObject([{ kind: 'exif', declaresAI: false }]);
    expect(entryOf('plain.png')?.evidence).toEqual({ state: 'none', findings: [], note: null });
  });

  it('C2PA: claim generator and trainedAlgorithmicMedia, checked by the official library (c2pa-rs)', () => {
    const f = entryOf('c2pa.jpg')?.evidence?.findings[0];
    expect(f).toMatchObject({
      kind: 'c2pa',
      declaresAI: true,
      details: { claimGenerator: expect.stringContaining(TEST_CLAIM_GENERATOR), digitalSourceType: expect.stringMatching(/trainedAlgorithmicMedia$/) },
    });
    // The test CA is on no trust list: a well-formed, correctly signed manifest is "valid", not "trusted".
    expect(f?.details.validation).toBe('valid');
    expect(f?.details.signer).toContain(TEST_SIGNER_CN);
    expect(entryOf('c2pa.png')?.evidence?.findings[0]?.details).toMatchObject({ validation: 'valid', claimGenerator: expect.stringContaining(TEST_CLAIM_GENERATOR) });
  });

  it('C2PA on a picture changed after signing: "invalid", with the data hash named, and shown as such', async () => {
    const f = entryOf('c2pa-tampered.jpg')?.evidence?.findings[0];
    expect(f).toMatchObject({ kind: 'c2pa', details: { validation: 'invalid', signer: expect.stringContaining(TEST_SIGNER_CN) } });
    expect(f?.details.failures).toMatch(/dataHash\.mismatch/);
    // The popup and the card say so, where the untouched file says who signed it.
    const line = popup.locator('li.entry[data-url$="/c2pa-tampered.jpg"] .evidence');
    await line.waitFor();
    expect(await line.textContent()).toBe('Declared AI-generated (C2PA, signature invalid)');
    const badge = (await readBadges(site)).find((b) => b.src.endsWith('/c2pa-tampered.jpg'))!;
    expect(badge.ariaLabel).toContain('signature invalid');
    expect(badge.ariaLabel).not.toContain(`signed by ${TEST_SIGNER_CN}`);
  });

  it('hostile metadata is "unreadable", quickly, and never cost the verdict', () => {
    expect(entryOf('bomb.png')?.evidence).toMatchObject({ state: 'unreadable', note: expect.stringMatching(/inflates beyond 1 MB/) });
    expect(entryOf('deep-jumbf.png')?.evidence).toMatchObject({ state: 'unreadable', note: expect.stringMatching(/JUMBF nested too deeply/) });
  });

  it('the badge says "declared AI" beside the score, and its card shows the evidence', async () => {
    const badges = await readBadges(site);
    const of = (name: string) => badges.find((b) => b.src.endsWith(`/${name}`))!;
    for (const name of ['c2pa.jpg', 'a1111.png', 'midjourney-xmp.jpg']) {
      expect(of(name).text, name).toMatch(/\d+% · declared AI$/);
    }
    expect(of('c2pa.jpg').ariaLabel).toContain(`Declared AI-generated (C2PA, signed by ${TEST_SIGNER_CN})`);
    for (const name of ['plain.png', 'camera.jpg', 'bomb.png']) expect(of(name).text, name).not.toContain('declared');
    const c2pa = of('c2pa.jpg');
    await site.evaluate(() => window.scrollTo(0, 0));
    await site.mouse.click(c2pa.left + 10, c2pa.top + 8);
    const cdp = await site.context().newCDPSession(site);
    const { nodes } = (await cdp.send('Accessibility.getFullAXTree')) as { nodes: Array<{ name?: { value: string } }> };
    await cdp.detach();
    const texts = nodes.map((n) => n.name?.value ?? '').join('\n');
    expect(texts).toContain(`Declared AI-generated (C2PA, signed by ${TEST_SIGNER_CN})`);
    await site.screenshot({ path: join(ARTIFACTS, 'content-card-provenance.png') });
    await site.keyboard.press('Escape');
  });

  it('the popup history shows the evidence under each verdict', async () => {
    const line = (name: string) => popup.locator(`li.entry[data-url$="/${name}"] .evidence`);
    await line('a1111.png').waitFor();
    expect(await line('a1111.png').textContent()).toBe('Stable Diffusion parameters found (sampler DPM++ 2M Karras)');
    expect(await line('c2pa.jpg').textContent()).toBe(`Declared AI-generated (C2PA, signed by ${TEST_SIGNER_CN})`);
    expect(await line('midjourney-xmp.jpg').textContent()).toBe('Declared AI-generated (IPTC digital source type)');
    expect(await line('bomb.png').textContent()).toBe("Couldn't read credentials");
    expect(await line('a1111.png').getAttribute('title')).toContain('seed: 1234567890');
    expect(await popup.locator('li.entry[data-url$="/plain.png"] .evidence').count()).toBe(0);
    await popup.screenshot({ path: join(ARTIFACTS, 'popup-provenance.png'), fullPage: true });
  });
});

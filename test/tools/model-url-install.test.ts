// `npm run model:install -- URL` against a server on 127.0.0.1 that serves the committed fixture
// model under another id: a good download is verified (SHA-256, probe) and installed; a server
// that stops half-way, a wrong SHA-256, an ONNX file larger than its manifest and plain http off
// this machine are each a clear error that leaves the models folder empty.

import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { ServerResponse } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type TestServer } from '../support/server';
import { install, removeTempDirs, tempDir } from './support';

const FIXTURE = resolve(import.meta.dirname, '../../models/fixture');
const onnx = readFileSync(join(FIXTURE, 'model.onnx'));
const fixtureManifest = JSON.parse(readFileSync(join(FIXTURE, 'manifest.json'), 'utf8')) as Record<string, unknown> & {
  onnx: { file: string; sha256: string; bytes: number };
};

let server: TestServer;

/** The fixture's manifest under another id, edited by `change`. */
function manifestJson(id: string, change: (m: typeof fixtureManifest) => void = () => undefined): string {
  const m = structuredClone(fixtureManifest);
  m.id = id;
  m.name = `Downloaded copy (${id})`;
  change(m);
  return JSON.stringify(m);
}

function send(res: ServerResponse, body: Buffer | string, type: string): void {
  res.writeHead(200, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

beforeAll(async () => {
  server = await startServer(FIXTURE);
  server.route('/good/manifest.json', (_q, res) => send(res, manifestJson('downloaded'), 'application/json'));
  server.route('/good/model.onnx', (_q, res) => send(res, onnx, 'application/octet-stream'));
  // The ONNX file under another name, named by the manifest.
  server.route('/named/manifest.json', (_q, res) => send(res, manifestJson('named', (m) => (m.onnx.file = 'weights-v2.onnx')), 'application/json'));
  server.route('/named/weights-v2.onnx', (_q, res) => send(res, onnx, 'application/octet-stream'));
  // Announces the whole file, sends half, then drops the connection.
  server.route('/half/manifest.json', (_q, res) => send(res, manifestJson('half'), 'application/json'));
  server.route('/half/model.onnx', (_q, res) => {
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': onnx.length });
    res.write(onnx.subarray(0, onnx.length >> 1), () => setTimeout(() => res.destroy(), 50));
  });
  server.route('/badsha/manifest.json', (_q, res) => send(res, manifestJson('badsha', (m) => (m.onnx.sha256 = 'ab'.repeat(32))), 'application/json'));
  server.route('/badsha/model.onnx', (_q, res) => send(res, onnx, 'application/octet-stream'));
  // One byte more than the manifest says.
  server.route('/long/manifest.json', (_q, res) => send(res, manifestJson('long'), 'application/json'));
  server.route('/long/model.onnx', (_q, res) => send(res, Buffer.concat([onnx, Buffer.from([0])]), 'application/octet-stream'));
  server.route('/notjson/manifest.json', (_q, res) => send(res, '<html>', 'text/html'));
});

afterAll(async () => {
  await server?.close();
  removeTempDirs();
});

describe('model:install from a URL', () => {
  it('--help prints the usage, including URLs and the http rule, and exits 0', async () => {
    const r = await install(['--help']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('npm run model:install -- https://HOST/PATH/manifest.json');
    expect(r.stdout).toContain('plain http is\naccepted only from this machine');
  });

  it('downloads, verifies and installs a converted model, with progress on stderr', async () => {
    const models = tempDir('models');
    const r = await install([`${server.origin}/good/manifest.json`, '--models-dir', models]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/downloading model\.onnx: 1\.1 of 1\.1 MB \(100%\)/);
    expect(r.stdout).toContain(`installed downloaded (fp32, ${onnx.length} bytes, SHA-256 ${fixtureManifest.onnx.sha256})`);
    expect(readdirSync(models).sort()).toEqual(['active.json', 'downloaded']);
    const got = readFileSync(join(models, 'downloaded', 'model.onnx'));
    // Checked against the committed file's own hash, not the code under test.
    expect(createHash('sha256').update(got).digest('hex')).toBe(fixtureManifest.onnx.sha256);
    expect(JSON.parse(readFileSync(join(models, 'downloaded', 'manifest.json'), 'utf8')).id).toBe('downloaded');
  });

  it('fetches the ONNX file the manifest names, relative to the manifest', async () => {
    const models = tempDir('models');
    const r = await install([`${server.origin}/named/manifest.json`, '--models-dir', models, '--no-activate']);
    expect(r.code, r.stderr).toBe(0);
    expect(readdirSync(join(models, 'named'))).toEqual(['manifest.json', 'weights-v2.onnx'].sort());
    expect(server.log.some((e) => e.path === '/named/weights-v2.onnx')).toBe(true);
  });
});

describe.concurrent('model:install from a URL refuses, leaving nothing behind', () => {
  const cases: Array<[string, string, RegExp]> = [
    ['a server that stops half-way', '/half/manifest.json', /the download of .*\/half\/model\.onnx (stopped|ended) after \d+ of 1104446 bytes.*nothing was installed/],
    ['a wrong SHA-256', '/badsha/manifest.json', /SHA-256 82ad9acb[0-9a-f]{56} does not match its manifest's (ab){32}.*nothing was installed/],
    ['a file larger than its manifest', '/long/manifest.json', /is larger than the 1104446 bytes its manifest says/],
    ['a manifest that is not JSON', '/notjson/manifest.json', /notjson\/manifest\.json is not valid JSON/],
    ['a missing manifest', '/nothing/manifest.json', /cannot download the manifest from .*: HTTP 404/],
  ];
  it.each(cases)('%s', async (_name, path, message) => {
    const models = tempDir('models');
    const r = await install([`${server.origin}${path}`, '--models-dir', models]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(message);
    expect(readdirSync(models)).toEqual([]);
  });

  it('plain http off this machine, before any connection', async () => {
    const models = tempDir('models');
    const r = await install(['http://models.example/realfake/manifest.json', '--models-dir', models]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('plain http is accepted only from this machine (127.0.0.1, localhost); use https for models.example');
  });
});

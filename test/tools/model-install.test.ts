// `npm run model:install` (tools/bin/model_install.mjs) into a temporary models folder: a checkpoint is
// converted, checked and activated; an ONNX + manifest pair is copied and checked; a corrupt
// checkpoint, a truncated ONNX, a manifest with a wrong SHA-256 or an invalid field each give a
// clear error and leave nothing installed.

import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { probeInput } from '../../src/detector/probe';
import { maxAbsDiff } from '../support/compare';
import { install, leftovers, makeCheckpoints, onnxLogits, readModel, removeTempDirs, tempDir, type Checkpoints } from './support';

let ck: Checkpoints;
/** A converted model (from the first test) that the copy tests start from. */
let source: string;

afterAll(removeTempDirs);

beforeAll(async () => {
  ck = await makeCheckpoints(['lightning-timm', 'corrupt']);
});

const activeId = (models: string): string | null =>
  existsSync(join(models, 'active.json')) ? (JSON.parse(readFileSync(join(models, 'active.json'), 'utf8')) as { id: string }).id : null;

describe('model:install', () => {
  it('converts a Lightning checkpoint, checks it, installs it and makes it the active model', async () => {
    const models = tempDir('models');
    const r = await install([ck.path('lightning-timm'), '--id', 'synthetic', '--fp16', '--models-dir', models]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/installed synthetic \(fp32, \d+ bytes, SHA-256 [0-9a-f]{64}\)/);
    expect(readdirSync(models).sort()).toEqual(['active.json', 'synthetic', 'synthetic-fp16']);
    expect(activeId(models)).toBe('synthetic');

    // The installed model's probe output is PyTorch's (computed by the checkpoint maker, not the converter).
    const m = readModel(join(models, 'synthetic'));
    const probe = await onnxLogits(join(models, 'synthetic', m.onnx.file), probeInput(2, 224, 224), [2, 3, 224, 224]);
    const d = maxAbsDiff(probe, ck.reference.probe);
    expect(d).toBeLessThanOrEqual(1e-4);
    expect(maxAbsDiff(m.probe.logits, ck.reference.probe)).toBeLessThanOrEqual(1e-6);
    console.log(`installed model: onnxruntime-node probe vs PyTorch max|Δlogit| ${d.toExponential(2)}`);
    source = join(models, 'synthetic');

    // Same id again: refused unless --force, which replaces it.
    const again = await install([ck.path('lightning-timm'), '--id', 'synthetic', '--models-dir', models]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('synthetic already exists: pass --force to replace it');
    const forced = await install([join(source, 'model.onnx'), join(source, 'manifest.json'), '--force', '--models-dir', models]);
    expect(forced.code, forced.stderr).toBe(0);
    expect(leftovers(models)).toEqual([]);

    // --activate switches between installed models, and back to either committed fixture.
    expect(readModel(join(models, 'synthetic-fp16'))).toMatchObject({ precision: 'fp16', variantOf: 'synthetic' });
    expect((await install(['--activate', 'synthetic-fp16', '--models-dir', models])).code).toBe(0);
    expect(activeId(models)).toBe('synthetic-fp16');
    const unknown = await install(['--activate', 'nope', '--models-dir', models]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('no model "nope" is installed');
  });

  it('copies a converted model (ONNX + manifest, or its folder) after checking it', async () => {
    const models = tempDir('models');
    const r = await install([join(source, 'manifest.json'), join(source, 'model.onnx'), '--models-dir', models, '--no-activate']);
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(join(models, 'synthetic', 'model.onnx'))).toEqual(readFileSync(join(source, 'model.onnx')));
    expect(activeId(models)).toBe(null);
    const models2 = tempDir('models');
    expect((await install([source, '--models-dir', models2])).code).toBe(0);
    expect(activeId(models2)).toBe('synthetic');
  });
});

describe.concurrent('model:install refuses, leaving nothing behind', () => {
  /** A copy of the converted model with its ONNX bytes and/or manifest changed. */
  function broken(what: string, change: { onnx?: (b: Buffer) => Buffer; manifest?: (m: Record<string, unknown>, onnx: Buffer) => void }): string {
    if (!source) throw new Error('needs the model installed by the first test');
    const dir = join(tempDir(`broken-${what}`), 'src');
    mkdirSync(dir);
    const onnx = (change.onnx ?? ((b) => b))(readFileSync(join(source, 'model.onnx')));
    writeFileSync(join(dir, 'model.onnx'), onnx);
    const m = JSON.parse(readFileSync(join(source, 'manifest.json'), 'utf8')) as Record<string, unknown>;
    change.manifest?.(m, onnx);
    writeFileSync(join(dir, 'manifest.json'), JSON.stringify(m));
    return dir;
  }
  const cases: Array<[string, () => string, RegExp]> = [
    ['a truncated ONNX file', () => broken('truncated', { onnx: (b) => b.subarray(0, b.length >> 1) }), /model\.onnx is \d+ bytes but its manifest says \d+: the file is truncated/],
    ['a manifest with a wrong SHA-256', () => broken('sha', { manifest: (m) => ((m.onnx as { sha256: string }).sha256 = 'ab'.repeat(32)) }), /SHA-256 [0-9a-f]{64} does not match its manifest's (ab){32}: the file is corrupt/],
    ['a truncated ONNX whose manifest matches it', () => broken('truncated-matching', {
      onnx: (b) => b.subarray(0, b.length >> 1),
      manifest: (m, onnx) => Object.assign(m.onnx as object, { bytes: onnx.length, sha256: createHash('sha256').update(onnx).digest('hex') }),
    }), /onnxruntime cannot load .*model\.onnx \(truncated or not an ONNX model\?\)/],
    ['probe logits from another model', () => broken('probe', { manifest: (m) => ((m.probe as { logits: number[] }).logits = [0, 0, 0, 0]) }), /probe logits differ from the manifest's by .*not the model the manifest describes/],
    ['an invalid manifest', () => broken('manifest', { manifest: (m) => (m.generatedIndex = 5) }), /manifest\.json: model manifest: generatedIndex must index into labels/],
    ['the fixture folder as id', () => broken('fixture-id', { manifest: (m) => (m.id = 'fixture') }), /the id "fixture" is the committed test model's folder/],
  ];
  it.each(cases)('%s', async (_name, make, message) => {
    const dir = make();
    const models = tempDir('models');
    const r = await install([join(dir, 'model.onnx'), join(dir, 'manifest.json'), '--models-dir', models]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(message);
    expect(readdirSync(models)).toEqual([]);
  });

  it('a corrupt checkpoint', async () => {
    const models = tempDir('models');
    const r = await install([ck.path('corrupt'), '--id', 'corrupt', '--models-dir', models]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/conversion failed: .*corrupt\.ckpt: truncated or corrupt/);
    expect(readdirSync(models)).toEqual([]);
  });
});

// Scores end to end outside the browser: PIL-decoded pixels -> TypeScript preprocessing ->
// onnxruntime-node on the fixture ONNX -> TypeScript scores, against PIL + torchvision + PyTorch
// (the fixture rebuilt from its seed). Also: the committed fixture files reproduce.

import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseManifest, type ModelManifest } from '../../src/detector/manifest';
import { preprocessRgb } from '../../src/detector/preprocess';
import { probeInput } from '../../src/detector/probe';
import { scoreBatch } from '../../src/detector/scores';
import { photoIndex, photoPath } from '../support/photos';
import { FIXTURE_MODEL_DIR, pilDecode, referenceScoreDetails, requireReferencePython, runPython } from '../support/python';
import { maxAbsDiff } from '../support/compare';

let manifest: ModelManifest;
let session: ort.InferenceSession;

async function infer(input: Float32Array, batch: number): Promise<Float32Array> {
  const c = manifest.preprocessing.centerCrop;
  const out = await session.run({ [manifest.input.name]: new ort.Tensor('float32', input, [batch, 3, c, c]) });
  const t = out[manifest.output.name];
  if (!t) throw new Error(`model has no output ${manifest.output.name}`);
  return t.data as Float32Array;
}

beforeAll(async () => {
  manifest = parseManifest(JSON.parse(readFileSync(join(FIXTURE_MODEL_DIR, 'manifest.json'), 'utf8')));
  session = await ort.InferenceSession.create(readFileSync(join(FIXTURE_MODEL_DIR, manifest.onnx.file)));
});

describe('fixture model files', () => {
  it('match the sha256 and size in the manifest', () => {
    const bytes = readFileSync(join(FIXTURE_MODEL_DIR, manifest.onnx.file));
    expect(bytes.length).toBe(manifest.onnx.bytes);
    expect(createHash('sha256').update(bytes).digest('hex')).toBe(manifest.onnx.sha256);
  });

  it("reproduce the manifest's probe logits in onnxruntime-node", async () => {
    const logits = await infer(probeInput(manifest.probe.batch, 224, 224), manifest.probe.batch);
    const d = maxAbsDiff(logits, manifest.probe.logits);
    console.log(`probe logits, onnxruntime-node vs PyTorch: max |Δ| = ${d.toExponential(2)}`);
    expect(d).toBeLessThanOrEqual(manifest.probe.tolerance);
  });

  it('are what tools/fixture_model.py generates (fixture_model.py --check exits 0)', async () => {
    await requireReferencePython();
    const r = await runPython(['tools/fixture_model.py', '--check', 'models/fixture']);
    console.log(r.stdout + r.stderr);
    expect(r.code, r.stderr).toBe(0);
  });
});

describe('p(generated) per photo: TypeScript + onnxruntime-node vs PyTorch', () => {
  it('agrees to 1e-4 on every photo, and the fixture spreads its scores', async () => {
    const photos = photoIndex();
    const files = photos.map((p) => photoPath(p.file));
    const [decoded, reference] = await Promise.all([pilDecode(files), referenceScoreDetails(files)]);
    const c = manifest.preprocessing.centerCrop;
    const batch = new Float32Array(decoded.length * 3 * c * c);
    decoded.forEach((px, i) => batch.set(preprocessRgb(px.rgb, px.width, px.height, manifest.preprocessing), i * 3 * c * c));
    const scores = scoreBatch(await infer(batch, decoded.length), decoded.length, manifest);

    const rows = decoded.map((px, i) => {
      const want = reference.get(px.input);
      if (!want) throw new Error(`no reference score for ${px.input}`);
      const got = scores[i];
      if (!got) throw new Error(`no score for ${px.input}`);
      return { file: px.input.split('/').pop() ?? px.input, got: got.pGenerated, want: want.pGenerated, dLogit: maxAbsDiff(got.logits, want.logits) };
    });
    console.log('p(generated)   TS+ORT      PyTorch     |Δp|      max |Δlogit|');
    for (const r of rows) {
      console.log(`  ${r.file.padEnd(24)} ${r.got.toFixed(6)}  ${r.want.toFixed(6)}  ${Math.abs(r.got - r.want).toExponential(2)}  ${r.dLogit.toExponential(2)}`);
    }
    for (const r of rows) expect(Math.abs(r.got - r.want), r.file).toBeLessThanOrEqual(1e-4);

    // A parity test can only see a difference if the scores differ between photos.
    const ps = rows.map((r) => r.want);
    const spread = Math.max(...ps) - Math.min(...ps);
    console.log(`fixture p(generated) range over the photos: ${Math.min(...ps).toFixed(3)} .. ${Math.max(...ps).toFixed(3)}`);
    expect(spread).toBeGreaterThan(0.4);
    expect(ps.every((p) => p > 0.02 && p < 0.98)).toBe(true);
  });
});

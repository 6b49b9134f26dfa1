// Scoring for `npm run eval`: finds the model (models/<id>/), checks it like model:install does
// (manifest schema, ONNX size + SHA-256, probe logits), and runs decode -> the extension's own
// preprocessing (src/detector/preprocess.ts) -> onnxruntime-node -> scores (src/detector/scores.ts)
// in batches. A file that cannot be read or decoded is skipped with its reason; it never stops the run.

import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import ort from 'onnxruntime-node';
import { parseManifest, type ModelManifest } from '../../src/detector/manifest';
import { preprocess } from '../../src/detector/preprocess';
import { probeInput } from '../../src/detector/probe';
import { scoreBatch } from '../../src/detector/scores';
import type { Label, Sample } from './dataset';
import { decodeBytes } from './decode-node';

export const FIXTURE_ID = 'realfake-fixture';

export class ModelError extends Error {
  override name = 'ModelError';
}

async function manifestId(dir: string): Promise<string | undefined> {
  try {
    return (JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8')) as { id?: unknown }).id as string | undefined;
  } catch {
    return undefined;
  }
}

/**
 * The folder of model `idOrDir`: a folder holding manifest.json, or the id of a model under
 * `modelsDir`; by default the active one (models/active.json), else the fixture.
 */
export async function findModelDir(idOrDir: string | undefined, modelsDir: string): Promise<string> {
  if (idOrDir && existsSync(join(idOrDir, 'manifest.json'))) return resolve(idOrDir);
  let id = idOrDir;
  if (!id) {
    try {
      const active = JSON.parse(await readFile(join(modelsDir, 'active.json'), 'utf8')) as { id?: unknown };
      if (typeof active.id === 'string') id = active.id;
    } catch {
      // No active.json: the fixture, as the build does.
    }
  }
  id ??= FIXTURE_ID;
  const entries = existsSync(modelsDir) ? await readdir(modelsDir, { withFileTypes: true }) : [];
  for (const e of entries) {
    if (e.isDirectory() && !e.name.startsWith('.') && (await manifestId(join(modelsDir, e.name))) === id) return join(modelsDir, e.name);
  }
  throw new ModelError(`no model "${id}" under ${modelsDir} (install one with npm run model:install, or pass --model FOLDER)`);
}

export interface Model {
  dir: string;
  manifest: ModelManifest;
  session: ort.InferenceSession;
  /** Largest |logit difference| from the manifest's on the probe input. */
  probeMaxDiff: number;
}

// The checks of tools/model_install.ts (verifyModelDir), restated here: '../model_install' resolves
// to the launcher tools/model_install.mjs in Vite's module runner, so that module cannot be imported.
async function readModelFiles(dir: string): Promise<{ manifest: ModelManifest; onnx: Uint8Array }> {
  let manifest: ModelManifest;
  try {
    manifest = parseManifest(JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8')));
  } catch (e) {
    throw new ModelError(`${join(dir, 'manifest.json')}: ${(e as Error).message}`);
  }
  const path = join(dir, manifest.onnx.file);
  let onnx: Uint8Array;
  try {
    onnx = await readFile(path);
  } catch (e) {
    throw new ModelError(`cannot read ${path}: ${(e as Error).message}`);
  }
  if (onnx.length !== manifest.onnx.bytes) throw new ModelError(`${path} is ${onnx.length} bytes but its manifest says ${manifest.onnx.bytes}`);
  const sha = createHash('sha256').update(onnx).digest('hex');
  if (sha !== manifest.onnx.sha256) throw new ModelError(`${path}: SHA-256 ${sha} does not match its manifest's ${manifest.onnx.sha256}`);
  return { manifest, onnx };
}

/** Loads a model folder, checks its files, and runs the probe input against the manifest's logits. */
export async function loadModel(dir: string): Promise<Model> {
  const { manifest, onnx } = await readModelFiles(dir);
  let session: ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(onnx, { executionProviders: ['cpu'] });
  } catch (e) {
    throw new ModelError(`onnxruntime cannot load ${join(dir, manifest.onnx.file)}: ${(e as Error).message}`);
  }
  const [, c, h, w] = manifest.input.shape;
  const { batch, logits: want, tolerance } = manifest.probe;
  const out = await session.run({ [manifest.input.name]: new ort.Tensor('float32', probeInput(batch, h, w), [batch, c, h, w]) });
  const got = out[manifest.output.name]?.data as Float32Array | undefined;
  let worst = got && got.length === want.length ? 0 : Infinity;
  want.forEach((v, i) => (worst = Math.max(worst, Math.abs((got?.[i] ?? NaN) - v))));
  if (!(worst <= tolerance)) {
    await session.release();
    throw new ModelError(`${dir}: probe logits differ from the manifest's by ${worst} (> ${tolerance}): not the model the manifest describes`);
  }
  return { dir, manifest, session, probeMaxDiff: worst };
}

export interface ScoredSample {
  path: string;
  file: string;
  label: Label;
  width: number;
  height: number;
  /** p(generated), from the manifest's generated class. */
  p: number;
  logits: number[];
}

export interface SkippedSample {
  path: string;
  label: Label;
  reason: string;
}

export interface ScoreOptions {
  batch: number;
  /** Called after each batch with the number of samples done (scored or skipped). */
  onProgress?: (done: number) => void;
}

type Prepared =
  | { ok: true; sample: Sample; width: number; height: number; input: Float32Array }
  | { ok: false; sample: Sample; reason: string };

async function prepare(sample: Sample, manifest: ModelManifest): Promise<Prepared> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(sample.file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return { ok: false, sample, reason: code === 'ENOENT' ? 'no such file' : `cannot read (${code ?? (e as Error).message})` };
  }
  try {
    const img = await decodeBytes(bytes);
    return { ok: true, sample, width: img.width, height: img.height, input: preprocess(img.rgba, img.width, img.height, manifest.preprocessing) };
  } catch (e) {
    return { ok: false, sample, reason: (e as Error).message };
  }
}

/** Scores every sample, `batch` at a time; the next batch decodes while the current one runs. */
export async function scoreSamples(samples: readonly Sample[], model: Model, opts: ScoreOptions): Promise<{ scored: ScoredSample[]; skipped: SkippedSample[] }> {
  const { manifest, session } = model;
  const crop = manifest.preprocessing.centerCrop;
  const per = 3 * crop * crop;
  const scored: ScoredSample[] = [];
  const skipped: SkippedSample[] = [];
  const batches: Sample[][] = [];
  for (let i = 0; i < samples.length; i += opts.batch) batches.push(samples.slice(i, i + opts.batch));

  const prepareBatch = (b: Sample[] | undefined) => (b ? Promise.all(b.map((s) => prepare(s, manifest))) : Promise.resolve([]));
  let next = prepareBatch(batches[0]);
  let done = 0;
  for (let bi = 0; bi < batches.length; bi++) {
    const prepared = await next;
    next = prepareBatch(batches[bi + 1]);
    const ok = prepared.filter((p): p is Extract<Prepared, { ok: true }> => p.ok);
    for (const p of prepared) if (!p.ok) skipped.push({ path: p.sample.path, label: p.sample.label, reason: p.reason });
    if (ok.length > 0) {
      const input = new Float32Array(ok.length * per);
      ok.forEach((p, i) => input.set(p.input, i * per));
      const out = await session.run({ [manifest.input.name]: new ort.Tensor('float32', input, [ok.length, 3, crop, crop]) });
      const logits = out[manifest.output.name];
      if (!logits) throw new ModelError(`the model has no output "${manifest.output.name}"`);
      const scores = scoreBatch(logits.data as Float32Array, ok.length, manifest);
      ok.forEach((p, i) => {
        const s = scores[i];
        if (!s) return;
        scored.push({ path: p.sample.path, file: p.sample.file, label: p.sample.label, width: p.width, height: p.height, p: s.pGenerated, logits: s.logits });
      });
    }
    done += prepared.length;
    opts.onProgress?.(done);
  }
  return { scored, skipped };
}

// Scoring for `npm run eval`: on a model folder that tools/model-dir.ts checked and loaded (the
// checks model:install makes), runs decode -> the extension's own preprocessing
// (src/detector/preprocess.ts) -> onnxruntime-node (an int8 model: whichever runtime sums it
// exactly here, tools/exact-int8.ts) -> scores (src/detector/scores.ts) in batches. A file that cannot be read or decoded is skipped with its reason; it never stops the run.

import { readFile } from 'node:fs/promises';
import type { ModelManifest } from '../../src/detector/manifest';
import { preprocess } from '../../src/detector/preprocess';
import { scoreBatch } from '../../src/detector/scores';
import { runWithinLimit } from '../../src/detector/variants';
import { ModelDirError, type CheckedModel } from '../model-dir';
import type { Label, Sample } from './dataset';
import { decodeBytes } from './decode-node';

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
export async function scoreSamples(samples: readonly Sample[], model: CheckedModel, opts: ScoreOptions): Promise<{ scored: ScoredSample[]; skipped: SkippedSample[] }> {
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
      // An int8 model runs image by image (batchLimit), as in the extension.
      const logits = await runWithinLimit(manifest, input, ok.length, async (part, n) => {
        const out = await session.run({ [manifest.input.name]: new model.runtime.Tensor('float32', part, [n, 3, crop, crop]) });
        const got = out[manifest.output.name];
        if (!got) throw new ModelDirError(`the model has no output "${manifest.output.name}"`);
        return got.data as Float32Array;
      });
      const scores = scoreBatch(logits, ok.length, manifest);
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

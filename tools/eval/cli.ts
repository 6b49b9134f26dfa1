// `npm run eval`: scores a labelled set of images with an installed model, exactly as the extension
// would preprocess and score them, and writes a report. Run through tools/bin/eval.mjs.

import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULT_THRESHOLD } from '../../src/detector/scores';
import { findModelDir, ModelDirError, openModelDir } from '../model-dir';
import { DatasetError, samplesFromFolders, samplesFromManifest, type Label, type Sample } from './dataset';
import { decoderName, thumbnailDataUri } from './decode-node';
import { rocCurve } from './metrics';
import { computeMetrics, histogramSvg, reportHtml, rocSvg, scoresCsv, summaryText, type MistakeThumb } from './report';
import { scoreSamples } from './score';

export const USAGE = `usage: npm run eval -- (--real DIR --fake DIR | --manifest FILE) [options]

Scores every image with the extension's own preprocessing and onnxruntime-node, and writes
OUT/report.html (self-contained), OUT/metrics.json, OUT/scores.csv, OUT/histograms.svg, OUT/roc.svg.

  --real DIR          real photographs (every file under DIR, recursively; may be repeated)
  --fake DIR          generated images (may be repeated)
  --manifest FILE     CSV (path,label; a header row may name the columns) or JSONL (one object per
                      line with a path/image/file key and a label/target/class key). Labels:
                      real/fake, generated, true/false, or 0/1 (see --one-means). Relative paths
                      are relative to the manifest's folder. May be combined with --real/--fake.
  --one-means L       what label 1 means in a manifest: fake (default) or real
  --model ID|DIR      an installed model's id, or a model folder (default: models/active.json,
                      else realfake-fixture)
  --models-dir DIR    where installed models live (default: models/)
  --out DIR           where to write the report (default: report/)
  --threshold T       p(generated) at or above T counts as generated (default: ${DEFAULT_THRESHOLD})
  --batch N           images per inference batch (default: 16)
  --mistakes N        how many confident mistakes to show (default: 24)
  --quiet             no progress bar
  -h, --help          this text

Files that cannot be read or decoded are skipped, counted and listed; they never stop the run.
Exit status: 0 done, 1 nothing could be scored or the model failed its checks, 2 bad arguments.`;

const REPO = resolve(import.meta.dirname, '../..');

class UsageError extends Error {}

interface Options {
  real: string[];
  fake: string[];
  manifest: string[];
  oneMeans: Label;
  model: string | undefined;
  modelsDir: string;
  out: string;
  threshold: number;
  batch: number;
  mistakes: number;
  quiet: boolean;
}

function positiveInt(v: string | undefined, name: string, dflt: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`--${name} must be a positive integer, got ${v}`);
  return n;
}

export function parseOptions(argv: string[]): Options | 'help' {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      allowPositionals: false,
      options: {
        real: { type: 'string', multiple: true },
        fake: { type: 'string', multiple: true },
        manifest: { type: 'string', multiple: true },
        'one-means': { type: 'string' },
        model: { type: 'string' },
        'models-dir': { type: 'string' },
        out: { type: 'string' },
        threshold: { type: 'string' },
        batch: { type: 'string' },
        mistakes: { type: 'string' },
        quiet: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  if (values.help) return 'help';
  const real = values.real ?? [];
  const fake = values.fake ?? [];
  const manifest = values.manifest ?? [];
  if (real.length + fake.length + manifest.length === 0) throw new UsageError('give --real and --fake folders, or --manifest FILE');
  const oneMeans = values['one-means'] ?? 'fake';
  if (oneMeans !== 'fake' && oneMeans !== 'real') throw new UsageError(`--one-means must be fake or real, got ${oneMeans}`);
  const threshold = values.threshold === undefined ? DEFAULT_THRESHOLD : Number(values.threshold);
  if (!(threshold >= 0 && threshold <= 1)) throw new UsageError(`--threshold must be a number from 0 to 1, got ${values.threshold}`);
  return {
    real,
    fake,
    manifest,
    oneMeans,
    model: values.model,
    modelsDir: values['models-dir'] ?? join(REPO, 'models'),
    out: values.out ?? 'report',
    threshold,
    batch: positiveInt(values.batch, 'batch', 16),
    mistakes: positiveInt(values.mistakes, 'mistakes', 24),
    quiet: values.quiet ?? false,
  };
}

/** A one-line progress bar, redrawn in place with \r. */
function progressBar(total: number, started: number): (done: number) => void {
  return (done) => {
    const width = 30;
    const filled = total === 0 ? width : Math.round((done / total) * width);
    const secs = (performance.now() - started) / 1000;
    const rate = secs > 0 ? done / secs : 0;
    const pct = total === 0 ? 100 : Math.floor((done / total) * 100);
    process.stderr.write(`\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total} ${String(pct).padStart(3)}%  ${rate.toFixed(1)} img/s `);
    if (done >= total) process.stderr.write('\n');
  };
}

async function thumbnails(paths: Array<{ path: string; file: string }>): Promise<MistakeThumb[]> {
  return Promise.all(
    paths.map(async ({ path, file }) => {
      try {
        return { path, dataUri: await thumbnailDataUri(await readFile(file)) };
      } catch {
        return { path, dataUri: null };
      }
    }),
  );
}

export async function main(argv: string[]): Promise<number> {
  let opts;
  try {
    opts = parseOptions(argv);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    console.error(`eval: ${e.message}\n\n${USAGE}`);
    return 2;
  }
  if (opts === 'help') {
    console.log(USAGE);
    return 0;
  }
  try {
    const samples: Sample[] = await samplesFromFolders(opts.real, opts.fake);
    for (const m of opts.manifest) samples.push(...(await samplesFromManifest(m, opts.oneMeans)));
    if (samples.length === 0) {
      console.error('eval: no files found');
      return 1;
    }
    const dir = await findModelDir(opts.model, opts.modelsDir);
    const model = await openModelDir(dir);
    const { manifest } = model;
    console.error(`eval: ${samples.length} files, model ${manifest.id}${manifest.fixture ? ' (TEST FIXTURE: scores mean nothing)' : ''}, batch ${opts.batch}`);

    const started = performance.now();
    const { scored, skipped } = await scoreSamples(samples, model, {
      batch: opts.batch,
      ...(opts.quiet ? {} : { onProgress: progressBar(samples.length, started) }),
    });
    const seconds = (performance.now() - started) / 1000;
    await model.session.release();

    const metrics = computeMetrics({
      model: { id: manifest.id, name: manifest.name, fixture: manifest.fixture, precision: manifest.precision, dir, probeMaxDiff: model.probeMaxDiff },
      decoder: decoderName(),
      threshold: opts.threshold,
      batch: opts.batch,
      seconds,
      scored,
      skipped,
      mistakes: opts.mistakes,
    });
    const fileOf = new Map(scored.map((s) => [s.path, s.file]));
    const thumbs = await thumbnails(metrics.mistakes.map((m) => ({ path: m.path, file: fileOf.get(m.path) ?? m.path })));
    const items = scored.map((s) => ({ generated: s.label === 'fake', p: s.p }));
    const svgs = { histogram: histogramSvg(metrics.histograms.real, metrics.histograms.fake, opts.threshold), roc: rocSvg(rocCurve(items), metrics.auc) };

    await mkdir(opts.out, { recursive: true });
    await writeFile(join(opts.out, 'metrics.json'), JSON.stringify(metrics, null, 2) + '\n');
    await writeFile(join(opts.out, 'scores.csv'), scoresCsv(scored, opts.threshold));
    await writeFile(join(opts.out, 'histograms.svg'), svgs.histogram + '\n');
    await writeFile(join(opts.out, 'roc.svg'), svgs.roc + '\n');
    await writeFile(join(opts.out, 'report.html'), reportHtml(metrics, svgs, thumbs));

    process.stdout.write(summaryText(metrics));
    if (skipped.length > 0) {
      console.log(`skipped ${skipped.length}:`);
      for (const s of skipped.slice(0, 20)) console.log(`  ${s.path}: ${s.reason}`);
      if (skipped.length > 20) console.log(`  ... and ${skipped.length - 20} more (all in metrics.json and report.html)`);
    }
    console.log(`report: ${join(opts.out, 'report.html')}`);
    if (scored.length === 0) {
      console.error('eval: no file could be scored');
      return 1;
    }
    return 0;
  } catch (e) {
    if (e instanceof DatasetError || e instanceof ModelDirError) {
      console.error(`eval: ${e.message}`);
      return 1;
    }
    throw e;
  }
}

// `npm run eval` (tools/eval/: sharp decode -> the extension's TypeScript preprocessing ->
// onnxruntime-node) against tools/reference_score.py (PIL -> torchvision -> PyTorch, metrics in
// numpy) on a labelled set made at test time (test/support/make_eval_set.py): both must see the
// same files, skip the same ones, and report identical accuracy, AUC and confusion matrices.

import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCsv } from '../../tools/eval/dataset';
import { histogram } from '../../tools/eval/metrics';
import { fmt, type Metrics } from '../../tools/eval/report';
import { FIXTURE_ID } from '../../tools/model-dir';
import { REPO, requireReferencePython, runPython, type PythonResult } from '../support/python';
import { removeTempDirs, tempDir } from './support';

// Per-image |p(eval) - p(PyTorch)|. The preprocessing is bit-exact with torchvision
// (test/parity/) and onnxruntime matches PyTorch's logits to ~1e-6, so the only room for a gap is
// the decoder: sharp and Debian's Pillow 9.4 both use libjpeg-turbo's integer IDCT with fancy
// upsampling, libpng, libwebp and a GIF reader that give identical pixels (measured: identical on
// every file of this set, max |Δp| ~4e-7). 1e-4 is the parity tests' bound; a decoder that rounded
// one JPEG pixel differently would show up here as a failure, which is what we want to know.
const P_TOLERANCE = 1e-4;

interface Row {
  path: string;
  label: string;
  p: number;
  predicted: string;
}
interface IndexJson {
  images: Array<{ path: string; label: string; format: string }>;
  broken: Array<{ path: string; label: string }>;
  hidden: string[];
}
interface RefMetrics {
  counts: Metrics['counts'];
  accuracy: number | null;
  precision: number | null;
  recall: number | null;
  f1: number | null;
  auc: number | null;
  confusion: { tp: number; fp: number; tn: number; fn: number };
  skipped: Array<{ path: string; label: string; reason: string }>;
}

let set: string;
let index: IndexJson;

function runEval(args: string[]): Promise<PythonResult> {
  return new Promise((done) => {
    execFile('node', [join(REPO, 'tools/bin/eval.mjs'), ...args], { cwd: REPO, timeout: 240_000, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      done({ code: typeof err?.code === 'number' ? err.code : err ? 1 : 0, stdout, stderr });
    });
  });
}

async function evalRun(args: string[]): Promise<{ out: string; metrics: Metrics; rows: Map<string, Row>; r: PythonResult }> {
  const out = tempDir('eval-out');
  const r = await runEval([...args, '--model', FIXTURE_ID, '--out', out]);
  expect(r.code, r.stderr).toBe(0);
  return { out, r, metrics: JSON.parse(readFileSync(join(out, 'metrics.json'), 'utf8')) as Metrics, rows: readScores(join(out, 'scores.csv'), args) };
}

async function referenceRun(args: string[]): Promise<{ metrics: RefMetrics; rows: Map<string, Row> }> {
  await requireReferencePython();
  const out = tempDir('ref-out');
  const r = await runPython(['tools/reference_score.py', ...args, '--out', out]);
  expect(r.code, r.stderr).toBe(0);
  return { metrics: JSON.parse(readFileSync(join(out, 'metrics.json'), 'utf8')) as RefMetrics, rows: readScores(join(out, 'scores.csv'), args) };
}

/** scores.csv rows keyed by the file they name, made relative to the set (manifest paths are). */
function readScores(file: string, args: string[]): Map<string, Row> {
  const [header, ...rows] = parseCsv(readFileSync(file, 'utf8'));
  expect(header).toEqual(['path', 'label', 'p_generated', 'predicted', 'correct', 'width', 'height']);
  const relative = (p: string) => (args.includes('--manifest') ? resolve(set, p) : resolve(REPO, p)).slice(set.length + 1);
  return new Map(rows.map((r) => [relative(r[0] ?? ''), { path: r[0] ?? '', label: r[1] ?? '', p: Number(r[2]), predicted: r[3] ?? '' }]));
}

/** Accuracy, AUC and confusion matrix must be identical, not merely close. */
function expectSameMetrics(a: Metrics, b: RefMetrics): void {
  expect(a.counts).toEqual(b.counts);
  expect({ tp: a.tp, fp: a.fp, tn: a.tn, fn: a.fn }).toEqual(b.confusion);
  expect(a.accuracy).toBe(b.accuracy);
  expect(a.auc).toBe(b.auc);
  expect(a.precision).toBe(b.precision);
  expect(a.recall).toBe(b.recall);
  expect(a.f1).toBe(b.f1);
}

function maxDiffByFormat(a: Map<string, Row>, b: Map<string, Row>): Map<string, number> {
  const worst = new Map<string, number>();
  for (const img of index.images) {
    const x = a.get(img.path);
    const y = b.get(img.path);
    if (!x || !y) throw new Error(`${img.path} missing from ${x ? 'the reference' : 'eval'}`);
    worst.set(img.format, Math.max(worst.get(img.format) ?? 0, Math.abs(x.p - y.p)));
  }
  return worst;
}

afterAll(removeTempDirs);

beforeAll(async () => {
  await requireReferencePython();
  set = tempDir('eval-set');
  const r = await runPython([join(REPO, 'test/support/make_eval_set.py'), set]);
  expect(r.code, r.stderr).toBe(0);
  index = JSON.parse(readFileSync(join(set, 'index.json'), 'utf8')) as IndexJson;
  expect(index.images.length).toBe(40);
});

describe('npm run eval: arguments', () => {
  it('--help prints the usage and exits 0; bad arguments exit 2 with the usage', async () => {
    const help = await runEval(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^usage: npm run eval -- \(--real DIR --fake DIR \| --manifest FILE\)/);
    for (const bad of [[], ['--real'], ['--real', 'x', '--threshold', '2'], ['--real', 'x', '--batch', '0'], ['--frobnicate']]) {
      const r = await runEval(bad);
      expect(r.code, bad.join(' ')).toBe(2);
      expect(r.stderr).toContain('usage: npm run eval');
    }
  });

  it('an unknown model is a one-line error, exit 1', async () => {
    const r = await runEval(['--real', join(REPO, 'test/fixtures/photos'), '--model', 'no-such-model', '--out', tempDir('eval-none')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('no model "no-such-model"');
  });
});

describe('npm run eval vs tools/reference_score.py, fixture model', () => {
  let ev: Awaited<ReturnType<typeof evalRun>>;
  let ref: Awaited<ReturnType<typeof referenceRun>>;

  beforeAll(async () => {
    const folders = ['--real', join(set, 'real'), '--fake', join(set, 'fake')];
    ev = await evalRun([...folders, '--batch', '7']);
    ref = await referenceRun([...folders, '--model', FIXTURE_ID]);
  });

  it('see the same images and skip the same two files (hidden files are not counted)', () => {
    expect(ev.metrics.counts).toEqual({ files: 42, scored: 40, skipped: 2, real: 20, fake: 20 });
    expect([...ev.rows.keys()].sort()).toEqual(index.images.map((i) => i.path).sort());
    expect([...ref.rows.keys()].sort()).toEqual([...ev.rows.keys()].sort());
    const skipped = (list: Array<{ path: string }>) => list.map((s) => s.path.slice(set.length + 1)).sort();
    expect(skipped(ev.metrics.skipped)).toEqual(index.broken.map((b) => b.path).sort());
    expect(skipped(ref.metrics.skipped)).toEqual(skipped(ev.metrics.skipped));
    const reasons = Object.fromEntries(ev.metrics.skipped.map((s) => [s.path.slice(set.length + 1), s.reason]));
    expect(reasons['real/notes.txt']).toBe('not an image');
    expect(reasons[index.broken[0]?.path ?? '']).toMatch(/^corrupt or truncated/);
  });

  it('agree on p(generated) per image, for every format', () => {
    const worst = maxDiffByFormat(ev.rows, ref.rows);
    console.log('max |p(eval) - p(PyTorch)| by format:', Object.fromEntries([...worst].map(([f, d]) => [f, d.toExponential(1)])));
    expect([...worst.keys()].sort()).toEqual(['GIF', 'JPEG', 'PNG', 'WEBP']);
    for (const [format, d] of worst) expect(d, format).toBeLessThanOrEqual(P_TOLERANCE);
    // A comparison can only fail if the scores differ, and no score sits on the threshold.
    const ps = [...ref.rows.values()].map((r) => r.p);
    console.log(`p(generated) range ${Math.min(...ps).toFixed(3)} .. ${Math.max(...ps).toFixed(3)}; closest to 0.5: ${Math.min(...ps.map((p) => Math.abs(p - 0.5))).toExponential(2)}`);
    expect(Math.max(...ps) - Math.min(...ps)).toBeGreaterThan(0.5);
    expect(Math.min(...ps.map((p) => Math.abs(p - 0.5)))).toBeGreaterThan(10 * P_TOLERANCE);
  });

  it('report identical accuracy, precision, recall, F1, AUC and confusion matrix', () => {
    console.log(`accuracy ${ev.metrics.accuracy}, AUC ${ev.metrics.auc}, TP ${ev.metrics.tp} FP ${ev.metrics.fp} TN ${ev.metrics.tn} FN ${ev.metrics.fn}`);
    expectSameMetrics(ev.metrics, ref.metrics);
    // Both classes are predicted and both kinds of mistake occur: the matrix is not degenerate.
    expect(Math.min(ev.metrics.tp, ev.metrics.fp, ev.metrics.tn, ev.metrics.fn)).toBeGreaterThan(0);
  });

  it('metrics.json holds the sweep, the histograms of the scores and the most confident mistakes', () => {
    const m = ev.metrics;
    expect(m.model).toMatchObject({ id: FIXTURE_ID, fixture: true });
    expect(m.threshold).toBe(0.5);
    expect(m.sweep.map((s) => s.threshold)).toContain(0.5);
    expect(m.sweep.find((s) => s.threshold === 0.5)).toMatchObject({ tp: m.tp, fp: m.fp, tn: m.tn, fn: m.fn });
    // Histograms of PyTorch's scores (bins are wide; no score sits on a bin edge within 1e-4).
    const pyScores = (label: string) => [...ref.rows.values()].filter((r) => r.label === label).map((r) => r.p);
    expect(m.histograms.real).toEqual(histogram(pyScores('real'), m.histograms.bins));
    expect(m.histograms.fake).toEqual(histogram(pyScores('fake'), m.histograms.bins));
    // Mistakes: wrong at the threshold, most confident first.
    const wrong = [...ev.rows.values()].filter((r) => r.predicted !== r.label);
    expect(m.mistakes.length).toBe(Math.min(24, wrong.length));
    for (const x of m.mistakes) expect(x.p >= 0.5).toBe(x.label === 'real');
    const conf = m.mistakes.map((x) => x.confidence);
    expect(conf).toEqual([...conf].sort((a, b) => b - a));
  });

  it('writes a self-contained HTML report that shows the numbers and escapes file names', () => {
    const html = readFileSync(join(ev.out, 'report.html'), 'utf8');
    expect(html).not.toMatch(/\b(src|href|action|xlink:href)\s*=\s*["']?\s*(https?:)?\/\//i);
    expect(html).not.toMatch(/url\(|@import|<script|<link|<iframe/i);
    expect(html).toContain('content="default-src &#39;none&#39;; img-src data:; style-src &#39;unsafe-inline&#39;"');
    const m = ev.metrics;
    for (const v of [m.accuracy, m.precision, m.recall, m.f1, m.auc]) expect(html).toContain(`<td>${fmt(v)}</td>`);
    expect(html).toContain(`<td>${m.tn}</td><td>${m.fp}</td>`);
    expect(html).toContain(`<td>${m.fn}</td><td>${m.tp}</td>`);
    // Every thumbnail is inline, one per mistake.
    const imgs = [...html.matchAll(/<img [^>]*src="([^"]*)"/g)].map((x) => x[1] ?? '');
    expect(imgs.length).toBe(m.mistakes.length);
    for (const src of imgs) expect(src).toMatch(/^data:image\/jpeg;base64,/);
    // The skipped file named with markup is listed, as text.
    expect(html).not.toContain('<script>alert(1)');
    expect(html).toContain('&lt;script&gt;alert(1)&lt;_script&gt; &#39;truncated&#39; &amp; &quot;more&quot;.jpg');
    expect(html).toContain('TEST FIXTURE');
    const svg = readFileSync(join(ev.out, 'histograms.svg'), 'utf8');
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.match(/<rect /g)?.length).toBe(2 * m.histograms.bins);
    expect(html).toContain(svg.trim());
    expect(readFileSync(join(ev.out, 'roc.svg'), 'utf8')).toContain(`AUC ${fmt(m.auc)}`);
  });

  it('prints a summary table and the skipped files on stdout, progress on stderr', () => {
    expect(ev.r.stdout).toContain(`accuracy   ${fmt(ev.metrics.accuracy)}`);
    expect(ev.r.stdout).toContain(`ROC AUC    ${fmt(ev.metrics.auc)}`);
    expect(ev.r.stdout).toContain('40 scored (20 real, 20 generated), 2 skipped');
    expect(ev.r.stdout).toContain('real/notes.txt: not an image');
    expect(ev.r.stderr).toMatch(/\r\[#+\] 42\/42 100%/);
  });
});

describe('manifests (CSV and JSONL) instead of folders', () => {
  it('a CSV manifest (image,target with 0/1) scores the same files as the folders, at another threshold too', async () => {
    const csv = ['--manifest', join(set, 'set.csv'), '--threshold', '0.3'];
    const [ev, ref] = [await evalRun(csv), await referenceRun([...csv, '--model', FIXTURE_ID])];
    expect(ev.metrics.counts).toEqual({ files: 42, scored: 40, skipped: 2, real: 20, fake: 20 });
    expect(ev.metrics.threshold).toBe(0.3);
    expectSameMetrics(ev.metrics, ref.metrics);
    for (const [, d] of maxDiffByFormat(ev.rows, ref.rows)) expect(d).toBeLessThanOrEqual(P_TOLERANCE);
    // Labels come from the 0/1 column: the same as the folders they sit in.
    for (const img of index.images) expect(ev.rows.get(img.path)?.label).toBe(img.label);
  });

  it('a JSONL manifest in the seed style ({"path", "label": "REAL"/"FAKE"}) gives the folder run\'s numbers', async () => {
    const [folders, jsonl] = [
      await evalRun(['--real', join(set, 'real'), '--fake', join(set, 'fake')]),
      await evalRun(['--manifest', join(set, 'set.jsonl')]),
    ];
    const { timing: _a, skipped: _b, mistakes: _c, ...fromFolders } = folders.metrics;
    const { timing: _d, skipped: _e, mistakes: _f, ...fromJsonl } = jsonl.metrics;
    expect(fromJsonl).toEqual(fromFolders);
    for (const [path, row] of folders.rows) expect(jsonl.rows.get(path)?.p).toBe(row.p);
  });

  it('a manifest with an unknown label is refused, naming the line', async () => {
    const bad = join(tempDir('eval-bad'), 'bad.jsonl');
    writeFileSync(bad, '{"path": "a.png", "label": "fake"}\n{"path": "b.png", "label": "maybe"}\n');
    const r = await runEval(['--manifest', bad, '--out', tempDir('eval-bad-out')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('JSONL line 2: unknown label "maybe"');
  });
});

describe('a converted checkpoint: eval on its ONNX file vs reference_score.py on the checkpoint', () => {
  it('agree per image and on every metric (square resize, perturbed random ConvNeXt)', async () => {
    const dir = tempDir('eval-ckpt');
    const made = await runPython(['tools/make_test_checkpoint.py', dir, 'lightning-timm']);
    expect(made.code, made.stderr).toBe(0);
    const ckpt = join(dir, 'lightning-timm.ckpt');
    const modelDir = join(dir, 'model');
    const conv = await runPython(['tools/convert.py', ckpt, '--id', 'eval-test', '--out', modelDir, '--resize-mode', 'square']);
    expect(conv.code, conv.stderr).toBe(0);

    const folders = ['--real', join(set, 'real'), '--fake', join(set, 'fake')];
    const out = tempDir('eval-ckpt-out');
    const r = await runEval([...folders, '--model', modelDir, '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    const metrics = JSON.parse(readFileSync(join(out, 'metrics.json'), 'utf8')) as Metrics;
    expect(metrics.model).toMatchObject({ id: 'eval-test', fixture: false });
    const ref = await referenceRun([...folders, '--checkpoint', ckpt, '--model', modelDir]);
    const worst = maxDiffByFormat(readScores(join(out, 'scores.csv'), folders), ref.rows);
    console.log('converted checkpoint, max |Δp| by format:', Object.fromEntries([...worst].map(([f, d]) => [f, d.toExponential(1)])));
    for (const [format, d] of worst) expect(d, format).toBeLessThanOrEqual(P_TOLERANCE);
    const ps = [...ref.rows.values()].map((x) => x.p);
    expect(Math.max(...ps) - Math.min(...ps)).toBeGreaterThan(0.05);
    expectSameMetrics(metrics, ref.metrics);
  });
});

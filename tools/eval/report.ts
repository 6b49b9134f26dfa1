// What `npm run eval` writes: metrics.json, scores.csv, the per-class histograms and ROC curve as
// SVG, and one self-contained HTML report (no external resources, every string escaped). Pure:
// strings in, strings out; tools/eval/cli.ts writes the files.

import { isGenerated } from '../../src/detector/scores';
import { type Label } from './dataset';
import { fragment, h, trusted, type Markup } from './markup';
import {
  confidentMistakes,
  histogram,
  metricsAt,
  rocAuc,
  sweepThresholds,
  thresholdSweep,
  type RocPoint,
  type ThresholdMetrics,
} from './metrics';

export const HISTOGRAM_BINS = 20;

export interface ScoredRow {
  path: string;
  label: Label;
  p: number;
  width: number;
  height: number;
}

export interface SkippedRow {
  path: string;
  label: Label;
  reason: string;
}

export interface EvalInput {
  model: { id: string; name: string; fixture: boolean; precision: string; dir: string; probeMaxDiff: number };
  decoder: string;
  threshold: number;
  batch: number;
  seconds: number;
  scored: readonly ScoredRow[];
  skipped: readonly SkippedRow[];
  /** How many confident mistakes to list. */
  mistakes: number;
}

export interface Metrics extends ThresholdMetrics {
  tool: 'realfake-lens eval';
  model: EvalInput['model'];
  decoder: string;
  counts: { files: number; scored: number; skipped: number; real: number; fake: number };
  auc: number | null;
  sweep: ThresholdMetrics[];
  histograms: { bins: number; real: number[]; fake: number[] };
  mistakes: Array<{ path: string; label: Label; p: number; confidence: number }>;
  skipped: SkippedRow[];
  timing: { seconds: number; imagesPerSecond: number | null; batch: number };
}

const asScored = (r: ScoredRow) => ({ ...r, generated: r.label === 'fake' });

export function computeMetrics(input: EvalInput): Metrics {
  const items = input.scored.map(asScored);
  const at = metricsAt(items, input.threshold);
  const ps = (label: Label) => input.scored.filter((r) => r.label === label).map((r) => r.p);
  return {
    tool: 'realfake-lens eval',
    model: input.model,
    decoder: input.decoder,
    ...at,
    counts: {
      files: input.scored.length + input.skipped.length,
      scored: input.scored.length,
      skipped: input.skipped.length,
      real: items.filter((s) => !s.generated).length,
      fake: items.filter((s) => s.generated).length,
    },
    auc: rocAuc(items),
    sweep: thresholdSweep(items, sweepThresholds([input.threshold])),
    histograms: { bins: HISTOGRAM_BINS, real: histogram(ps('real'), HISTOGRAM_BINS), fake: histogram(ps('fake'), HISTOGRAM_BINS) },
    mistakes: confidentMistakes(items, input.threshold, input.mistakes).map((m) => ({
      path: m.item.path,
      label: m.item.label,
      p: m.item.p,
      confidence: m.confidence,
    })),
    skipped: [...input.skipped],
    timing: {
      seconds: input.seconds,
      imagesPerSecond: input.seconds > 0 ? input.scored.length / input.seconds : null,
      batch: input.batch,
    },
  };
}

function csvCell(v: string | number): string {
  const s = String(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** One row per scored image; p_generated in full precision (shortest round-trip form). */
export function scoresCsv(rows: readonly ScoredRow[], threshold: number): string {
  const header = 'path,label,p_generated,predicted,correct,width,height';
  const lines = rows.map((r) => {
    const predicted: Label = isGenerated(r.p, threshold) ? 'fake' : 'real';
    return [r.path, r.label, r.p, predicted, predicted === r.label ? 1 : 0, r.width, r.height].map(csvCell).join(',');
  });
  return [header, ...lines].join('\n') + '\n';
}

export const fmt = (v: number | null, digits = 4): string => (v === null || !Number.isFinite(v) ? '—' : v.toFixed(digits));

// ---- SVG ----------------------------------------------------------------------------------------

const COLOURS = { real: '#2f6fb3', fake: '#d9822b', grid: '#d0d4da', text: '#222' };
const CLASS_NAME: Record<Label, string> = { real: 'Real images', fake: 'Generated images' };

function histogramPanel(counts: number[], label: Label, threshold: number, y0: number, w: number, ph: number): Markup {
  const left = 44;
  const right = 12;
  const plotW = w - left - right;
  const top = y0 + 24;
  const plotH = ph - 24 - 28;
  const max = Math.max(1, ...counts);
  const n = counts.reduce((a, b) => a + b, 0);
  const bw = plotW / counts.length;
  const x = (v: number) => left + v * plotW;
  const bars = counts.map((c, k) => {
    const bh = (c / max) * plotH;
    return h('rect', { x: (left + k * bw + 1).toFixed(2), y: (top + plotH - bh).toFixed(2), width: (bw - 2).toFixed(2), height: bh.toFixed(2), fill: COLOURS[label] }, h('title', {}, `${(k / counts.length).toFixed(2)}–${((k + 1) / counts.length).toFixed(2)}: ${c}`));
  });
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((t) =>
    fragment(
      h('line', { x1: x(t), x2: x(t), y1: top + plotH, y2: top + plotH + 4, stroke: COLOURS.text }),
      h('text', { x: x(t), y: top + plotH + 16, 'text-anchor': 'middle' }, t.toFixed(2)),
    ),
  );
  return fragment(
    h('text', { x: left, y: y0 + 16, 'font-weight': 'bold' }, `${CLASS_NAME[label]} (n = ${n})`),
    h('line', { x1: left, x2: left + plotW, y1: top + plotH, y2: top + plotH, stroke: COLOURS.text }),
    h('line', { x1: left, x2: left, y1: top, y2: top + plotH, stroke: COLOURS.grid }),
    h('text', { x: left - 6, y: top + 4, 'text-anchor': 'end' }, max),
    h('text', { x: left - 6, y: top + plotH, 'text-anchor': 'end' }, 0),
    bars,
    ticks,
    h('line', { x1: x(threshold), x2: x(threshold), y1: top - 4, y2: top + plotH, stroke: '#b00020', 'stroke-dasharray': '4 3' }),
  );
}

/** Histograms of p(generated), one panel per true class, with the threshold marked. */
export function histogramSvg(real: number[], fake: number[], threshold: number): string {
  const w = 560;
  const ph = 180;
  return h(
    'svg',
    { xmlns: 'http://www.w3.org/2000/svg', width: w, height: 2 * ph + 24, viewBox: `0 0 ${w} ${2 * ph + 24}`, 'font-family': 'sans-serif', 'font-size': 11, fill: COLOURS.text, role: 'img', 'aria-label': 'Histograms of p(generated) per true class' },
    h('title', {}, 'p(generated) per true class'),
    histogramPanel(real, 'real', threshold, 0, w, ph),
    histogramPanel(fake, 'fake', threshold, ph, w, ph),
    h('text', { x: w / 2, y: 2 * ph + 16, 'text-anchor': 'middle' }, `p(generated) — dashed line: threshold ${threshold}`),
  ).markup;
}

/** The ROC curve with the chance diagonal. */
export function rocSvg(points: readonly RocPoint[], auc: number | null): string {
  const s = 300;
  const m = 40;
  const px = (v: number) => (m + v * (s - 2 * m)).toFixed(2);
  const py = (v: number) => (s - m - v * (s - 2 * m)).toFixed(2);
  const path = points.map((p, i) => `${i === 0 ? 'M' : 'L'}${px(p.fpr)},${py(p.tpr)}`).join(' ');
  return h(
    'svg',
    { xmlns: 'http://www.w3.org/2000/svg', width: s, height: s, viewBox: `0 0 ${s} ${s}`, 'font-family': 'sans-serif', 'font-size': 11, fill: COLOURS.text, role: 'img', 'aria-label': 'ROC curve' },
    h('title', {}, `ROC curve, AUC ${fmt(auc)}`),
    h('rect', { x: m, y: m, width: s - 2 * m, height: s - 2 * m, fill: 'none', stroke: COLOURS.grid }),
    h('line', { x1: px(0), y1: py(0), x2: px(1), y2: py(1), stroke: COLOURS.grid, 'stroke-dasharray': '4 3' }),
    points.length > 0 ? h('path', { d: path, fill: 'none', stroke: COLOURS.fake, 'stroke-width': 2 }) : null,
    h('text', { x: s / 2, y: s - 10, 'text-anchor': 'middle' }, 'false positive rate (real called generated)'),
    h('text', { x: 12, y: s / 2, 'text-anchor': 'middle', transform: `rotate(-90 12 ${s / 2})` }, 'true positive rate'),
    h('text', { x: m + 8, y: m + 16 }, `AUC ${fmt(auc)}`),
    ['0', '1'].map((t, i) => h('text', { x: px(i), y: s - m + 14, 'text-anchor': 'middle' }, t)),
  ).markup;
}

// ---- HTML ---------------------------------------------------------------------------------------

export interface MistakeThumb {
  path: string;
  /** data:image/...;base64 URI, or null when no thumbnail could be made. */
  dataUri: string | null;
}

const STYLE = `
body { font: 14px/1.45 system-ui, sans-serif; margin: 24px auto; max-width: 1100px; padding: 0 16px; color: #1d2330; }
h1 { font-size: 22px; } h2 { font-size: 17px; margin-top: 28px; border-bottom: 1px solid #dde; padding-bottom: 4px; }
table { border-collapse: collapse; margin: 8px 0; } th, td { border: 1px solid #d5d9e0; padding: 3px 8px; text-align: right; }
th { background: #f1f3f6; } td.l, th.l { text-align: left; } tr.chosen td { background: #fff4d6; font-weight: 600; }
.warn { background: #fff1f0; border: 1px solid #e5a5a0; padding: 8px 12px; border-radius: 6px; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(170px, 1fr)); gap: 12px; }
figure { margin: 0; border: 1px solid #d5d9e0; border-radius: 6px; padding: 6px; background: #fafbfc; }
figure img { display: block; max-width: 160px; max-height: 160px; margin: 0 auto 4px; }
figcaption { font-size: 12px; word-break: break-all; } .muted { color: #667; } code { font-size: 12px; }
`;

const SAFE_DATA_URI = /^data:image\/(jpeg|png|webp|gif);base64,[A-Za-z0-9+/=]+$/;

function metricRow(name: string, value: string, what: string): Markup {
  return h('tr', {}, h('th', { class: 'l' }, name), h('td', {}, value), h('td', { class: 'l muted' }, what));
}

function sweepTable(m: Metrics): Markup {
  return h(
    'table',
    {},
    h('tr', {}, ['threshold', 'accuracy', 'precision', 'recall', 'F1', 'FPR', 'TP', 'FP', 'TN', 'FN'].map((c) => h('th', {}, c))),
    m.sweep.map((r) =>
      h(
        'tr',
        { class: r.threshold === m.threshold ? 'chosen' : null },
        [fmt(r.threshold, 2), fmt(r.accuracy), fmt(r.precision), fmt(r.recall), fmt(r.f1), fmt(r.falsePositiveRate), r.tp, r.fp, r.tn, r.fn].map((c) => h('td', {}, c)),
      ),
    ),
  );
}

/** The whole report as one HTML document: inline CSS and SVG, thumbnails as data: URIs, no scripts. */
export function reportHtml(m: Metrics, svgs: { histogram: string; roc: string }, thumbs: readonly MistakeThumb[]): string {
  const thumbOf = new Map(thumbs.map((t) => [t.path, t.dataUri]));
  const c = m.counts;
  const body = h(
    'body',
    {},
    h('h1', {}, 'Realfake Lens — evaluation of ', h('code', {}, m.model.id)),
    h('p', {}, `${m.model.name} (${m.model.precision}), from `, h('code', {}, m.model.dir), `. Decoder: ${m.decoder}.`),
    m.model.fixture ? h('p', { class: 'warn' }, 'This is the TEST FIXTURE model: its weights are random and its scores mean nothing.') : null,
    h('p', {}, `${c.files} files: ${c.scored} scored (${c.real} real, ${c.fake} generated), ${c.skipped} skipped. Threshold ${m.threshold}: p(generated) ≥ threshold counts as generated. ${m.timing.seconds.toFixed(1)} s, batch ${m.timing.batch}.`),
    h('h2', {}, 'Metrics'),
    h(
      'table',
      {},
      metricRow('accuracy', fmt(m.accuracy), 'share of images labelled correctly'),
      metricRow('precision', fmt(m.precision), 'of the images called generated, the share that are'),
      metricRow('recall', fmt(m.recall), 'of the generated images, the share called generated'),
      metricRow('F1', fmt(m.f1), 'harmonic mean of precision and recall'),
      metricRow('false positive rate', fmt(m.falsePositiveRate), 'of the real images, the share called generated'),
      metricRow('ROC AUC', fmt(m.auc), 'chance that a generated image scores above a real one (ties ½)'),
    ),
    h('h2', {}, 'Confusion matrix'),
    h(
      'table',
      {},
      h('tr', {}, h('th', {}, ''), h('th', {}, 'called real'), h('th', {}, 'called generated')),
      h('tr', {}, h('th', { class: 'l' }, 'real'), h('td', {}, m.tn), h('td', {}, m.fp)),
      h('tr', {}, h('th', { class: 'l' }, 'generated'), h('td', {}, m.fn), h('td', {}, m.tp)),
    ),
    h('h2', {}, 'Threshold sweep'),
    sweepTable(m),
    h('h2', {}, 'p(generated) per true class'),
    trusted(svgs.histogram),
    h('h2', {}, 'ROC curve'),
    trusted(svgs.roc),
    h('h2', {}, `Most confident mistakes (${m.mistakes.length})`),
    m.mistakes.length === 0
      ? h('p', {}, 'None at this threshold.')
      : h(
          'div',
          { class: 'grid' },
          m.mistakes.map((x) => {
            const uri = thumbOf.get(x.path);
            return h(
              'figure',
              {},
              uri && SAFE_DATA_URI.test(uri) ? h('img', { src: uri, alt: x.path }) : h('p', { class: 'muted' }, '(no thumbnail)'),
              h('figcaption', {}, h('strong', {}, `${x.label === 'fake' ? 'generated, called real' : 'real, called generated'}: p = ${fmt(x.p)}`), h('br'), x.path),
            );
          }),
        ),
    h('h2', {}, `Skipped files (${m.skipped.length})`),
    m.skipped.length === 0
      ? h('p', {}, 'None.')
      : h('table', {}, h('tr', {}, h('th', { class: 'l' }, 'file'), h('th', { class: 'l' }, 'label'), h('th', { class: 'l' }, 'why')), m.skipped.map((s) => h('tr', {}, h('td', { class: 'l' }, s.path), h('td', { class: 'l' }, s.label), h('td', { class: 'l' }, s.reason)))),
  );
  const head = h(
    'head',
    {},
    h('meta', { charset: 'utf-8' }),
    // Nothing may load from anywhere: images only from data: URIs, inline styles only.
    h('meta', { 'http-equiv': 'Content-Security-Policy', content: "default-src 'none'; img-src data:; style-src 'unsafe-inline'" }),
    h('title', {}, `Realfake Lens evaluation — ${m.model.id}`),
    h('style', {}, trusted(STYLE)),
  );
  return '<!doctype html>\n' + h('html', { lang: 'en' }, head, body).markup + '\n';
}

/** The summary printed to stdout. */
export function summaryText(m: Metrics): string {
  const c = m.counts;
  const rows: Array<[string, string]> = [
    ['model', `${m.model.id}${m.model.fixture ? ' (TEST FIXTURE: scores mean nothing)' : ''}`],
    ['images', `${c.scored} scored (${c.real} real, ${c.fake} generated), ${c.skipped} skipped`],
    ['threshold', String(m.threshold)],
    ['accuracy', fmt(m.accuracy)],
    ['precision', fmt(m.precision)],
    ['recall', fmt(m.recall)],
    ['F1', fmt(m.f1)],
    ['ROC AUC', fmt(m.auc)],
    ['confusion', `TP ${m.tp}  FP ${m.fp}  TN ${m.tn}  FN ${m.fn}`],
    ['speed', m.timing.imagesPerSecond === null ? '—' : `${m.timing.imagesPerSecond.toFixed(1)} images/s (${m.timing.seconds.toFixed(1)} s)`],
  ];
  const w = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${k.padEnd(w)}  ${v}`).join('\n') + '\n';
}

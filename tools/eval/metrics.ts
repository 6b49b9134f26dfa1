// Classification metrics for `npm run eval`: pure functions of (label, score) pairs, shared by the
// CLI and the tests. "Positive" is always the generated class; a score is p(generated), and a score
// at or above the threshold is predicted generated (the extension's rule, src/detector/scores.ts).

import { isGenerated } from '../../src/detector/scores';

/** One scored image: `generated` is the true label, `p` the model's p(generated). */
export interface Scored {
  generated: boolean;
  p: number;
}

export interface Confusion {
  /** generated, predicted generated */
  tp: number;
  /** real, predicted generated */
  fp: number;
  /** real, predicted real */
  tn: number;
  /** generated, predicted real */
  fn: number;
}

export interface ThresholdMetrics extends Confusion {
  threshold: number;
  accuracy: number | null;
  /** Of the "generated" predictions, the share that are generated; null when there are none. */
  precision: number | null;
  /** Of the generated images, the share predicted generated; null when there are none. */
  recall: number | null;
  f1: number | null;
  /** Of the real images, the share predicted generated. */
  falsePositiveRate: number | null;
}

function ratio(num: number, den: number): number | null {
  return den === 0 ? null : num / den;
}

export function confusion(items: readonly Scored[], threshold: number): Confusion {
  const c: Confusion = { tp: 0, fp: 0, tn: 0, fn: 0 };
  for (const { generated, p } of items) {
    const predicted = isGenerated(p, threshold);
    if (generated) {
      if (predicted) c.tp++;
      else c.fn++;
    } else if (predicted) c.fp++;
    else c.tn++;
  }
  return c;
}

export function metricsAt(items: readonly Scored[], threshold: number): ThresholdMetrics {
  const c = confusion(items, threshold);
  return {
    threshold,
    ...c,
    accuracy: ratio(c.tp + c.tn, items.length),
    precision: ratio(c.tp, c.tp + c.fp),
    recall: ratio(c.tp, c.tp + c.fn),
    // 2PR / (P + R) written with counts: defined (0) when precision is undefined but recall is 0.
    f1: ratio(2 * c.tp, 2 * c.tp + c.fp + c.fn),
    falsePositiveRate: ratio(c.fp, c.fp + c.tn),
  };
}

/**
 * 1-based ranks of `values` in ascending order, ties sharing the mean of the ranks they span
 * ("midranks"), in the order of the input.
 */
export function midranks(values: readonly number[]): number[] {
  const order = values.map((v, i) => ({ v, i })).sort((a, b) => a.v - b.v);
  const ranks = new Array<number>(values.length);
  for (let start = 0; start < order.length; ) {
    let end = start + 1;
    while (end < order.length && order[end]?.v === order[start]?.v) end++;
    // Positions start..end-1 hold ranks start+1..end; their mean is (start + 1 + end) / 2.
    const rank = (start + 1 + end) / 2;
    for (let k = start; k < end; k++) ranks[order[k]?.i ?? 0] = rank;
    start = end;
  }
  return ranks;
}

/**
 * ROC AUC by the rank-sum (Mann-Whitney U) formula: the probability that a random generated image
 * scores above a random real one, ties counting one half. Equal to the trapezoidal area under the
 * ROC curve (rocCurve). Null unless both classes are present.
 */
export function rocAuc(items: readonly Scored[]): number | null {
  const nPos = items.filter((s) => s.generated).length;
  const nNeg = items.length - nPos;
  if (nPos === 0 || nNeg === 0) return null;
  if (items.some((s) => Number.isNaN(s.p))) throw new RangeError('rocAuc: a score is NaN');
  const ranks = midranks(items.map((s) => s.p));
  let rankSum = 0;
  items.forEach((s, i) => {
    if (s.generated) rankSum += ranks[i] ?? 0;
  });
  return (rankSum - (nPos * (nPos + 1)) / 2) / (nPos * nNeg);
}

export interface RocPoint {
  /** Predicted generated at or above this score. */
  threshold: number;
  fpr: number;
  tpr: number;
}

/** The ROC curve from (0, 0) to (1, 1), one point per distinct score (tied scores move diagonally). */
export function rocCurve(items: readonly Scored[]): RocPoint[] {
  const nPos = items.filter((s) => s.generated).length;
  const nNeg = items.length - nPos;
  if (nPos === 0 || nNeg === 0) return [];
  const sorted = [...items].sort((a, b) => b.p - a.p);
  const points: RocPoint[] = [{ threshold: Infinity, fpr: 0, tpr: 0 }];
  let tp = 0;
  let fp = 0;
  for (let i = 0; i < sorted.length; ) {
    const p = sorted[i]?.p ?? 0;
    for (; i < sorted.length && sorted[i]?.p === p; i++) {
      if (sorted[i]?.generated) tp++;
      else fp++;
    }
    points.push({ threshold: p, fpr: fp / nNeg, tpr: tp / nPos });
  }
  return points;
}

/** Area under a piecewise-linear curve by the trapezoid rule. */
export function trapezoidArea(points: readonly RocPoint[]): number {
  let area = 0;
  for (let i = 1; i < points.length; i++) {
    const a = points[i - 1];
    const b = points[i];
    if (a && b) area += ((b.fpr - a.fpr) * (a.tpr + b.tpr)) / 2;
  }
  return area;
}

/** The sweep's thresholds: 0.05, 0.10, ..., 0.95 (k / 20, so each prints as written), plus `extra`. */
export function sweepThresholds(extra: readonly number[] = []): number[] {
  const base = Array.from({ length: 19 }, (_, k) => (k + 1) / 20);
  return [...new Set([...base, ...extra])].sort((a, b) => a - b);
}

export function thresholdSweep(items: readonly Scored[], thresholds: readonly number[]): ThresholdMetrics[] {
  return thresholds.map((t) => metricsAt(items, t));
}

/**
 * Counts of `values` in `bins` equal bins over [0, 1]: bin k holds k/bins <= v < (k+1)/bins, and
 * 1 itself falls in the last bin.
 */
export function histogram(values: readonly number[], bins: number): number[] {
  const counts = new Array<number>(bins).fill(0);
  for (const v of values) {
    if (!(v >= 0 && v <= 1)) continue;
    const k = Math.min(bins - 1, Math.floor(v * bins));
    counts[k] = (counts[k] ?? 0) + 1;
  }
  return counts;
}

export interface Mistake<T extends Scored> {
  item: T;
  /** How sure the model was of its wrong answer: p for a false positive, 1 - p for a false negative. */
  confidence: number;
}

/** The wrong predictions at `threshold`, most confident first (ties keep input order). */
export function confidentMistakes<T extends Scored>(items: readonly T[], threshold: number, limit: number): Mistake<T>[] {
  return items
    .filter((s) => isGenerated(s.p, threshold) !== s.generated)
    .map((item) => ({ item, confidence: item.generated ? 1 - item.p : item.p }))
    .sort((a, b) => b.confidence - a.confidence)
    .slice(0, limit);
}

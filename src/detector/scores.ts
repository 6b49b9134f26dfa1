// From logits to what the user sees: probabilities, the probability of "generated" (which
// output that is comes from the manifest, never hard-coded), and a verdict at a threshold.

import type { ModelManifest } from './manifest';

/** Softmax, stable for large logits: subtracting the maximum keeps exp() from overflowing. */
export function softmax(logits: ArrayLike<number>): number[] {
  const xs = Array.from(logits);
  if (xs.length === 0) return [];
  const max = Math.max(...xs);
  if (!Number.isFinite(max)) {
    // +Infinity: all mass on the infinite logits; NaN or all -Infinity: nothing to say.
    const inf = xs.filter((x) => x === Infinity).length;
    return xs.map((x) => (inf > 0 && x === Infinity ? 1 / inf : Number.NaN));
  }
  const exps = xs.map((x) => Math.exp(x - max));
  const sum = exps.reduce((a, b) => a + b, 0);
  return exps.map((e) => e / sum);
}

export interface Scores {
  logits: number[];
  /** In output order, summing to 1. */
  probabilities: number[];
  /** Label name -> probability. */
  byLabel: Record<string, number>;
  /** Probability of the class the manifest marks as generated. */
  pGenerated: number;
}

type LabelInfo = Pick<ModelManifest, 'labels' | 'generatedIndex'>;

/** Scores for one logits row of a model with the manifest's labels. */
export function scoreLogits(logits: ArrayLike<number>, model: LabelInfo): Scores {
  if (logits.length !== model.labels.length) {
    throw new RangeError(`scores: ${logits.length} logits for ${model.labels.length} labels`);
  }
  const probabilities = softmax(logits);
  const pGenerated = probabilities[model.generatedIndex];
  if (pGenerated === undefined) throw new RangeError(`scores: generatedIndex ${model.generatedIndex} is out of range`);
  const byLabel: Record<string, number> = {};
  model.labels.forEach((label, i) => (byLabel[label] = probabilities[i] ?? Number.NaN));
  return { logits: Array.from(logits), probabilities, byLabel, pGenerated };
}

/** Scores for a row-major [batch, labels] logits tensor. */
export function scoreBatch(logits: ArrayLike<number>, batch: number, model: LabelInfo): Scores[] {
  const n = model.labels.length;
  if (logits.length !== batch * n) throw new RangeError(`scores: ${logits.length} logits for batch ${batch} x ${n}`);
  const rows = Array.from(logits);
  return Array.from({ length: batch }, (_, b) => scoreLogits(rows.slice(b * n, (b + 1) * n), model));
}

export type ScoreVerdict = 'likely generated' | 'likely real';

export const DEFAULT_THRESHOLD = 0.5;

/**
 * The one rule for a label: at or above the threshold counts as generated. Badges, the toolbar
 * count, the popup's history, the export and the eval report all ask this.
 */
export function isGenerated(pGenerated: number, threshold: number): boolean {
  return pGenerated >= threshold;
}

/** The label in words; throws on a score that is not a number. */
export function verdictFor(pGenerated: number, threshold = DEFAULT_THRESHOLD): ScoreVerdict {
  if (!Number.isFinite(pGenerated)) throw new RangeError('scores: pGenerated is not a number');
  return isGenerated(pGenerated, threshold) ? 'likely generated' : 'likely real';
}

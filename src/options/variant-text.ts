// What the options page says about a model's variant: what it is for, and for an int8 variant how
// closely its scores follow the model it was made from (its manifest's `agreement`, measured by
// the converter). Plain functions of the model list, so the words can be tested without a page.

import type { VariantAgreement } from '../detector/manifest';
import type { ModelInfo } from '../shared/protocol/ui';

/** Percentage points, as the badges show scores (whole percents); small differences keep a decimal. */
function points(p: number): string {
  const pts = p * 100;
  return pts >= 10 ? pts.toFixed(0) : pts.toFixed(1);
}

/** The role of a variant in the list, or null for a model that is no variant. */
export function variantRole(m: Pick<ModelInfo, 'precision' | 'variantOf'>): string | null {
  if (m.variantOf === null) return null;
  if (m.precision === 'int8') {
    return `int8 variant of ${m.variantOf}: about a quarter of the size, runs on WebAssembly; used only if you choose it`;
  }
  if (m.precision === 'fp16') return `variant of ${m.variantOf}, used instead of it on WebGPU with shader-f16`;
  return `variant of ${m.variantOf}`;
}

/**
 * The measured agreement in words, e.g. "Compared with realfake when converted: the same verdict on
 * 21 of 21 test pictures (9 photographs, 12 synthetic); scores differ by at most 1.9 points (mean 0.5)."
 * Measured at import in the browser: "when imported, in this browser" and "(2 test inputs, 12 synthetic".
 */
export function agreementText(a: VariantAgreement): string {
  const same = Math.round(a.labelAgreement * a.images);
  const browser = a.measuredBy === 'browser';
  const kinds = [
    ...(a.photos > 0 || !browser ? [`${a.photos} photographs`] : []),
    ...(a.probes ? [`${a.probes} test inputs`] : []),
    `${a.synthetic} synthetic`,
  ].join(', ');
  return (
    `Compared with ${a.with} ${browser ? 'when imported, in this browser' : 'when converted'}: the same verdict on ${same} of ${a.images} test pictures ` +
    `(${kinds}; verdicts at ${Math.round(a.threshold * 100)}%); ` +
    `scores differ by at most ${points(a.maxAbsP)} points out of 100 (mean ${points(a.meanAbsP)}).`
  );
}

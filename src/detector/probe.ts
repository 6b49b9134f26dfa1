// A fixed, RNG-free probe input, computed identically here and in tools/fixture_model.py,
// so the browser engine can check its output against the manifest's reference logits.

import { sha256Hex } from './sha256';

/** Value of element `i` (row-major NCHW index) of the probe tensor. */
export function probeValue(i: number): number {
  return ((i * 7919) % 2000) / 1000 - 1;
}

export function probeInput(batch: number, height: number, width: number): Float32Array {
  const out = new Float32Array(batch * 3 * height * width);
  for (let i = 0; i < out.length; i++) out[i] = probeValue(i);
  return out;
}

/**
 * How far a model's probe logits are from its manifest's: the largest |got[i] - want[i]|.
 * Infinity when the counts differ or a value is not a number, so a broken output never passes.
 */
export function probeMaxDiff(got: ArrayLike<number>, want: ArrayLike<number>): number {
  if (got.length !== want.length) return Infinity;
  let worst = 0;
  for (let i = 0; i < want.length; i++) {
    const d = Math.abs((got[i] ?? NaN) - (want[i] ?? NaN));
    if (!(d <= worst)) worst = Number.isNaN(d) ? Infinity : d;
  }
  return worst;
}

/** The rule every loader applies: the model is the one its manifest describes when no probe logit is further than the tolerance. */
export function probeReproduced(maxDiff: number, tolerance: number): boolean {
  return maxDiff <= tolerance;
}

/**
 * Everything that decides what a WebAssembly engine computes for a model's probe: the model's
 * manifest (its file's SHA-256, its reference logits and tolerance), onnxruntime's build (its
 * version and its WebAssembly binary, named by content), the browser, the cores and the threads.
 */
export interface ProbeConditions {
  manifest: unknown;
  ortVersions: unknown;
  ortBinary: string;
  browser: string;
  cores: number;
  threads: number;
}

/**
 * The name under which a probe that reproduced its reference under `c` is remembered: the same
 * conditions give the same logits, so the probe need not run again (src/offscreen/engine.ts).
 */
export function probeMemoKey(c: ProbeConditions): string {
  const text = JSON.stringify([c.manifest, c.ortVersions, c.ortBinary, c.browser, c.cores, c.threads]);
  return sha256Hex(new TextEncoder().encode(text));
}

// Which installed copy of the chosen model the engine loads, on which backend, in which order.
// A model's variants (manifest `variantOf`) are the same network at another precision: fp16
// computes in half precision, which only a WebGPU device with `shader-f16` runs natively (half
// the GPU memory and bandwidth); CPU backends run an fp16 graph through casts, slower than fp32.
// int8 (MatMul/Gemm weights in int8, activations quantised at run time) is a quarter of the size
// and runs on onnxruntime's integer CPU kernels, i.e. WebAssembly; its scores differ from fp32's
// by a measured amount (its manifest's `agreement`), so it is never a silent stand-in: it is used
// only when the user chooses it, and fp32 never stands in for it either.

import type { ModelManifest } from './manifest';

export interface WebGpuAvailability {
  /** A usable adapter (not a software one, unless allowed). */
  usable: boolean;
  /** The adapter offers the `shader-f16` feature. */
  shaderF16: boolean;
}

export interface LoadAttempt<M> {
  backend: 'webgpu' | 'wasm';
  model: M;
}

/** The family root: the fp32 model a variant was converted with, or the model itself. */
export function familyId(m: ModelManifest): string {
  return m.variantOf ?? m.id;
}

/**
 * Whether `other` may stand in for `chosen`: the same family, and nothing that changes what a score
 * means (labels, class order, preprocessing, input size, fixture or not) differs.
 */
export function isVariantOf(other: ModelManifest, chosen: ModelManifest): boolean {
  if (other.id === chosen.id || familyId(other) !== familyId(chosen)) return false;
  const meaning = (m: ModelManifest): string =>
    JSON.stringify([m.labels, m.generatedIndex, m.preprocessing, m.input.shape.slice(1), m.fixture, m.output.name, m.input.name]);
  return meaning(other) === meaning(chosen);
}

/**
 * The sessions to try, best first; the engine takes the first that loads and passes its probe.
 * On WebGPU: the fp16 variant when the adapter has shader-f16, then fp32 (an fp16 graph is never
 * tried without shader-f16). On WebAssembly, always last: fp32 if installed, else what there is.
 * An int8 model is tried only when it is the chosen one, and then alone, on WebAssembly.
 * `family` holds the chosen model first, then its variants.
 */
export function loadPlan<M extends { manifest: ModelManifest }>(family: readonly M[], gpu: WebGpuAvailability): LoadAttempt<M>[] {
  const chosen = family[0];
  if (!chosen) return [];
  if (chosen.manifest.precision === 'int8') return [{ backend: 'wasm', model: chosen }];
  const of = (precision: 'fp32' | 'fp16'): M | undefined =>
    chosen.manifest.precision === precision ? chosen : family.find((m) => m.manifest.precision === precision);
  const fp32 = of('fp32');
  const fp16 = of('fp16');
  const plan: LoadAttempt<M>[] = [];
  if (gpu.usable) {
    if (gpu.shaderF16 && fp16) plan.push({ backend: 'webgpu', model: fp16 });
    if (fp32) plan.push({ backend: 'webgpu', model: fp32 });
  }
  plan.push({ backend: 'wasm', model: fp32 ?? chosen });
  return plan;
}

/**
 * How many images may run as one tensor. An int8 graph quantises its activations with one scale
 * per tensor (DynamicQuantizeLinear), so in a batch each image's score would depend on the images
 * beside it (measured on the fixture: up to 5e-3 in p): it runs one image at a time.
 */
export function batchLimit(m: ModelManifest, wanted: number): number {
  return m.precision === 'int8' ? 1 : wanted;
}

/**
 * Runs a batch of `batch` images (`input`, NCHW) through `run` as one tensor, or in runs of at
 * most `batchLimit` images, and returns the logits of all in order.
 */
export async function runWithinLimit(
  m: ModelManifest,
  input: Float32Array,
  batch: number,
  run: (input: Float32Array, batch: number) => Promise<Float32Array>,
): Promise<Float32Array> {
  const limit = batchLimit(m, batch);
  if (limit >= batch) return run(input, batch);
  const per = input.length / batch;
  const parts: Float32Array[] = [];
  for (let i = 0; i < batch; i += limit) {
    const n = Math.min(limit, batch - i);
    parts.push(await run(input.subarray(i * per, (i + n) * per), n));
  }
  const out = new Float32Array(parts.reduce((s, p) => s + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

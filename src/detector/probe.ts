// A fixed, RNG-free probe input, computed identically here and in tools/fixture_model.py,
// so the browser engine can check its output against the manifest's reference logits.

/** Value of element `i` (row-major NCHW index) of the probe tensor. */
export function probeValue(i: number): number {
  return ((i * 7919) % 2000) / 1000 - 1;
}

export function probeInput(batch: number, height: number, width: number): Float32Array {
  const out = new Float32Array(batch * 3 * height * width);
  for (let i = 0; i < out.length; i++) out[i] = probeValue(i);
  return out;
}

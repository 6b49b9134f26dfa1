// Which onnxruntime the tools run an int8 model on. onnxruntime-node's int8 MatMul, on an x86 CPU
// without AVX-512 VNNI, multiplies the u8 activations by the s8 weights two at a time and adds
// each pair in 16 bits, saturating (VPMADDUBSW): 255 × 127 × 2 = 64,770 comes out as 32,767, so its
// output depends on the CPU and is not the ONNX operator's exact sum. onnxruntime-web's
// WebAssembly kernels (the extension's own) sum exactly on every CPU. So an int8 model is run on
// onnxruntime-web here wherever the native kernel is found not to be exact; everything else on
// onnxruntime-node.

import ortNode from 'onnxruntime-node';
// Imported up front: the tools run under Vite's module runner, which is closed once the entry has loaded.
import * as ortWeb from 'onnxruntime-web';
import type { ModelManifest } from '../src/detector/manifest';

/**
 * MatMulInteger of u8 [1, 4] all 255 by s8 [4, 1] all 127 (opset 13), as onnx.helper writes it:
 * exactly 129,540; 65,534 where pairs saturate.
 */
export const SATURATION_PROBE = new Uint8Array([
  8, 8, 58, 92, 10, 24, 10, 1, 65, 10, 1, 66, 18, 1, 89, 34, 13, 77, 97, 116, 77, 117, 108, 73, 110, 116, 101, 103, 101, 114, 18, 1, 103, 90, 19, 10, 1,
  65, 18, 14, 10, 12, 8, 2, 18, 8, 10, 2, 8, 1, 10, 2, 8, 4, 90, 19, 10, 1, 66, 18, 14, 10, 12, 8, 3, 18, 8, 10, 2, 8, 4, 10, 2, 8, 1, 98, 19, 10, 1, 89,
  18, 14, 10, 12, 8, 6, 18, 8, 10, 2, 8, 1, 10, 2, 8, 1, 66, 4, 10, 0, 16, 13,
]);

export type Runtime = typeof ortNode;

/** The exact answer of SATURATION_PROBE. */
export const EXACT_SUM = 255 * 127 * 4;

/** What `ort` (on `provider`) answers to SATURATION_PROBE. */
export async function saturationProbe(ort: Runtime, provider: string): Promise<number> {
  const session = await ort.InferenceSession.create(SATURATION_PROBE, { executionProviders: [provider] });
  try {
    const out = await session.run({
      A: new ort.Tensor('uint8', new Uint8Array([255, 255, 255, 255]), [1, 4]),
      B: new ort.Tensor('int8', new Int8Array([127, 127, 127, 127]), [4, 1]),
    });
    return Number(out.Y?.data[0]);
  } finally {
    await session.release();
  }
}

let nativeExact: Promise<boolean> | null = null;

/** Whether onnxruntime-node's int8 MatMul sums exactly on this CPU. */
export function nativeInt8Exact(): Promise<boolean> {
  nativeExact ??= saturationProbe(ortNode, 'cpu').then((sum) => sum === EXACT_SUM);
  return nativeExact;
}

/** onnxruntime-web's WebAssembly build, in Node: one thread (no worker threads to set up). */
function wasmRuntime(): Runtime {
  ortWeb.env.wasm.numThreads = 1;
  return ortWeb as unknown as Runtime;
}

/** The runtime that computes `precision`'s model exactly here, the execution provider to ask it for, and its name for reports. */
export async function runtimeFor(precision: ModelManifest['precision']): Promise<{ ort: Runtime; provider: 'cpu' | 'wasm'; name: string }> {
  if (precision === 'int8' && !(await nativeInt8Exact())) return { ort: wasmRuntime(), provider: 'wasm', name: 'onnxruntime-web (WebAssembly)' };
  return { ort: ortNode, provider: 'cpu', name: 'onnxruntime-node' };
}

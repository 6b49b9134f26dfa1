// tools/exact-int8.ts: whichever onnxruntime it picks for an int8 model sums MatMulInteger exactly
// on this CPU (the native one saturates u8 x s8 pairs on x86 CPUs without AVX-512 VNNI); fp32
// models stay on onnxruntime-node.

import ortNode from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { nativeInt8Exact, runtimeFor, SATURATION_PROBE } from '../../tools/exact-int8';

async function matMulInteger(ort: typeof ortNode, provider: string): Promise<number> {
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

describe('the runtime for an int8 model', () => {
  it('sums MatMulInteger exactly, whatever this CPU does natively', async () => {
    const exact = await nativeInt8Exact();
    const native = await matMulInteger(ortNode, 'cpu');
    console.log(`onnxruntime-node's MatMulInteger here: ${native} (exact: ${255 * 127 * 4}); int8 models run on ${(await runtimeFor('int8')).name}`);
    expect(native === 255 * 127 * 4).toBe(exact);
    const { ort } = await runtimeFor('int8');
    expect(await matMulInteger(ort, ort === ortNode ? 'cpu' : 'wasm')).toBe(255 * 127 * 4);
  });

  it('keeps fp32 and fp16 models on onnxruntime-node', async () => {
    expect((await runtimeFor('fp32')).ort).toBe(ortNode);
    expect((await runtimeFor('fp16')).ort).toBe(ortNode);
  });
});

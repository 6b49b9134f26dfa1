// tools/exact-int8.ts: whichever onnxruntime it picks for an int8 model sums MatMulInteger exactly
// on this CPU (the native one saturates u8 x s8 pairs on x86 CPUs without AVX-512 VNNI); fp32
// models stay on onnxruntime-node.

import ortNode from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { EXACT_SUM, nativeInt8Exact, runtimeFor, saturationProbe } from '../../tools/exact-int8';

describe('the runtime for an int8 model', () => {
  it('sums MatMulInteger exactly, whatever this CPU does natively', async () => {
    const exact = await nativeInt8Exact();
    const native = await saturationProbe(ortNode, 'cpu');
    const chosen = await runtimeFor('int8');
    console.log(`onnxruntime-node's MatMulInteger here: ${native} (exact: ${EXACT_SUM}); int8 models run on ${chosen.name}`);
    expect(native === EXACT_SUM).toBe(exact);
    // Exact by hand: 4 products of 255 and 127, whatever the runtime chosen.
    expect(EXACT_SUM).toBe(129_540);
    expect(await saturationProbe(chosen.ort, chosen.provider)).toBe(129_540);
  });

  it('keeps fp32 and fp16 models on onnxruntime-node', async () => {
    expect((await runtimeFor('fp32')).ort).toBe(ortNode);
    expect((await runtimeFor('fp16')).ort).toBe(ortNode);
  });
});

// The in-browser import's int8 variant (src/detector/int8-variant.ts with the packaged weightless int8
// graph), made here in node from a test checkpoint exactly as the browser makes it (the import's
// plan stores the fp32 weights, the variant is made from them), against the converter's int8 variant
// of the same checkpoint (tools/convert.py --int8): the same int8 weights and scales, read back by
// the onnx package from the files the TypeScript wrote, and the same logits by onnxruntime-node.

import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { planImport, unitOutput } from '../../src/detector/checkpoint/import-plan';
import { placeConvNeXt } from '../../src/detector/checkpoint/placement';
import { bytesSource } from '../../src/detector/checkpoint/source';
import { readCheckpointTensors } from '../../src/detector/checkpoint/tensors';
import { int8WeightParts, planInt8Variant } from '../../src/detector/int8-variant';
import { readExternalInitializers, relocateExternalData } from '../../src/detector/onnx-external';
import { probeInput } from '../../src/detector/probe';
import { maxAbsDiff } from '../support/compare';
import { REPO, runPython } from '../support/python';
import { convert, makeCheckpoints, onnxLogits, removeTempDirs, tempDir, type Checkpoints } from './support';

const GRAPHS = join(REPO, 'public/graphs');
const FP32_GRAPH = 'convnext-8.16.24.32-1.2.1.1-c2.onnx';
const INT8_GRAPH = 'convnext-8.16.24.32-1.2.1.1-c2-int8.onnx';

// Compares the int8 weights and the scales of two int8 models, in the order their nodes run (the
// converter names its weights after the exporter's MatMul initializers, the import after the
// checkpoint's keys): each MatMulInteger's weight, and each weight scale (the Mul of a
// DynamicQuantizeLinear's activation scale by it). Also counts Transposes feeding MatMulInteger.
const SAME_PY = `
import json, sys
import onnx
from onnx import numpy_helper
def load(path):
    m = onnx.load(path)
    inits = {t.name: numpy_helper.to_array(t) for t in m.graph.initializer}
    x_scales = {n.output[1] for n in m.graph.node if n.op_type == 'DynamicQuantizeLinear'}
    levels = [inits[n.input[1]] for n in m.graph.node if n.op_type == 'MatMulInteger']
    scales = [inits[n.input[1]] for n in m.graph.node if n.op_type == 'Mul' and n.input[0] in x_scales]
    made = {o: n.op_type for n in m.graph.node for o in n.output}
    transposes = sum(1 for n in m.graph.node if n.op_type == 'MatMulInteger' and made.get(n.input[1]) == 'Transpose')
    return levels, scales, transposes
a_levels, a_scales, _ = load(sys.argv[1])
b_levels, b_scales, transposes = load(sys.argv[2])
same = lambda a, b: len(a) == len(b) and all(x.dtype == y.dtype and x.shape == y.shape and x.tobytes() == y.tobytes() for x, y in zip(a, b))
print(json.dumps({'layers': len(a_levels), 'scales': len(a_scales), 'int8': all(x.dtype.name == 'int8' for x in b_levels),
                  'sameLevels': same(a_levels, b_levels), 'sameScales': same(a_scales, b_scales), 'transposes': transposes}))
`;

let ck: Checkpoints;
let out: string;
let converterInt8: string;
let importInt8: string;
let weightBytes: number;
let fp32Bytes: number;

afterAll(removeTempDirs);

beforeAll(async () => {
  out = tempDir('int8-import');
  ck = await makeCheckpoints(['lightning-timm']);
  const r = await convert(ck.path('lightning-timm'), ['--id', 'small', '--out', join(out, 'small'), '--int8']);
  expect(r.code, r.stderr).toBe(0);
  converterInt8 = join(out, 'small-int8', 'model.onnx');

  // The fp32 import, as src/shared/checkpoint-import.ts stores it: weights file + relocated graph.
  const source = bytesSource(readFileSync(ck.path('lightning-timm')));
  const plan = planImport(placeConvNeXt((await readCheckpointTensors(source)).tensors));
  const weights = new Uint8Array(plan.weightBytes);
  let at = 0;
  for (const unit of plan.units) {
    const part = unitOutput(plan, unit, await source.read(unit.start, unit.end - unit.start));
    weights.set(part, at);
    at += part.length;
  }
  const byName = new Map(plan.tensors.map((t) => [t.name, t.offset]));
  const fp32 = await relocateExternalData(readFileSync(join(GRAPHS, FP32_GRAPH)), 'weights.bin', (i) => byName.get(i.name) ?? NaN);

  // The int8 variant, made from those stored fp32 weights only.
  const variant = await planInt8Variant(readFileSync(join(GRAPHS, INT8_GRAPH)), fp32.graph, 'weights.bin');
  const parts: Uint8Array[] = [];
  for await (const p of int8WeightParts(variant, (offset, length) => Promise.resolve(weights.subarray(offset, offset + length)), 4096)) parts.push(p);
  expect(parts.length).toBeGreaterThan(1); // more than one part: the cut between parts is exercised
  const largest = Math.max(...variant.entries.map((e) => e.length));
  expect(parts.every((p) => p.length <= Math.max(4096, largest + 63))).toBe(true);
  const file = Buffer.concat(parts);
  expect(file.length).toBe(variant.bytes);
  weightBytes = file.length;
  fp32Bytes = plan.weightBytes;
  const dir = tempDir('int8-import-model');
  importInt8 = join(dir, 'graph.onnx');
  writeFileSync(importInt8, variant.graph);
  writeFileSync(join(dir, 'weights.bin'), file);
}, 600_000);

describe('the import\'s int8 variant', () => {
  it('fits every packaged fp32 graph: ConvNeXt-Large\'s int8 weights file is about 220 MB', async () => {
    const sizes: string[] = [];
    for (const [fp32Graph, layers] of [[FP32_GRAPH, 11], ['convnext-192.384.768.1536-3.3.27.3-c2.onnx', 73]] as const) {
      const fp32 = readFileSync(join(GRAPHS, fp32Graph));
      const variant = await planInt8Variant(readFileSync(join(GRAPHS, fp32Graph.replace(/\.onnx$/, '-int8.onnx'))), fp32, 'weights.bin');
      expect(variant.entries.filter((e) => e.kind === 'int8')).toHaveLength(layers);
      expect(variant.entries.every((e) => e.offset % 64 === 0)).toBe(true);
      const fp32Bytes = (await readExternalInitializers(fp32)).reduce((n, i) => n + i.length, 0);
      sizes.push(`${fp32Graph}: ${fp32Bytes} -> ${variant.bytes} bytes`);
      if (layers === 73) {
        expect(fp32Bytes).toBeGreaterThan(780e6);
        expect(variant.bytes).toBeGreaterThan(200e6);
        expect(variant.bytes).toBeLessThan(230e6);
      }
    }
    console.log(`int8 weights files: ${sizes.join('; ')}`);
  });

  it('has the converter\'s int8 weights and scales, byte for byte, with no Transpose before MatMulInteger', async () => {
    const r = await runPython(['-c', SAME_PY, converterInt8, importInt8]);
    expect(r.code, r.stderr).toBe(0);
    const same = JSON.parse(r.stdout) as { layers: number; scales: number; int8: boolean; sameLevels: boolean; sameScales: boolean; transposes: number };
    expect(same).toEqual({ layers: 11, scales: 11, int8: true, sameLevels: true, sameScales: true, transposes: 0 });
  });

  it('gives the converter\'s int8 logits (onnxruntime-node) from a smaller weights file', async () => {
    const session = await ort.InferenceSession.create(importInt8, { executionProviders: ['cpu'] });
    const run = async (input: Float32Array, n: number): Promise<Float32Array> => {
      const logits: number[] = [];
      // One picture per run, as the extension runs an int8 model (src/detector/variants.ts batchLimit).
      for (let i = 0; i < n; i++) {
        const one = input.subarray((i * input.length) / n, ((i + 1) * input.length) / n);
        const r = await session.run({ input: new ort.Tensor('float32', one, [1, 3, 224, 224]) });
        logits.push(...(r.logits?.data as Float32Array));
      }
      return Float32Array.from(logits);
    };
    const each = async (path: string, input: Float32Array, n: number): Promise<Float32Array> => {
      const rows: number[] = [];
      for (let i = 0; i < n; i++) rows.push(...(await onnxLogits(path, input.subarray((i * input.length) / n, ((i + 1) * input.length) / n), [1, 3, 224, 224])));
      return Float32Array.from(rows);
    };
    const n = ck.reference.inputs.shape[0] as number;
    const mine = await run(ck.inputs, n);
    const theirs = await each(converterInt8, ck.inputs, n);
    const probeMine = await run(probeInput(2, 224, 224), 2);
    const probeTheirs = await each(converterInt8, probeInput(2, 224, 224), 2);
    await session.release();
    const d = Math.max(maxAbsDiff(mine, theirs), maxAbsDiff(probeMine, probeTheirs));
    // Same int8 weights, same float weights; the graphs differ only in what the exporter folded
    // (the weightless one keeps each layer's scale and bias as their own nodes). Measured 0 here.
    expect(d).toBeLessThanOrEqual(1e-4);
    // Against PyTorch fp32: int8, not fp32 (a copy of the float weights would be within 1e-5).
    expect(maxAbsDiff(mine, ck.reference.inputs.logits)).toBeGreaterThan(1e-4);
    // This small model's Linear layers hold 61% of its weights (ConvNeXt-Large's: 96%).
    expect(weightBytes).toBeLessThan(0.6 * fp32Bytes);
    console.log(`import's int8 vs converter's int8: max |Δlogit| ${d.toExponential(2)}; weights ${fp32Bytes} -> ${weightBytes} bytes`);
  });
});

#!/usr/bin/env node
// Runs an ONNX model with onnxruntime-node on the probe input and prints its output as JSON:
//   node tools/run_onnx.mjs MODEL.onnx BATCH  ->  {"logits":[...],"dims":[...]}
// Used by tools/fixture_model.py --check. Input/output names are read from the model.
import { readFileSync } from 'node:fs';
import ort from 'onnxruntime-node';

const [modelPath, batchArg = '2'] = process.argv.slice(2);
if (!modelPath) {
  console.error('usage: node tools/run_onnx.mjs MODEL.onnx [BATCH]');
  process.exit(2);
}
const batch = Number(batchArg);
const H = 224;
const W = 224;

// Same formula as probeValue() in src/detector/probe.ts (duplicated: plain Node cannot import .ts).
const probeValue = (i) => ((i * 7919) % 2000) / 1000 - 1;
const data = new Float32Array(batch * 3 * H * W);
for (let i = 0; i < data.length; i++) data[i] = probeValue(i);

const session = await ort.InferenceSession.create(readFileSync(modelPath), { executionProviders: ['cpu'] });
const [inputName] = session.inputNames;
const [outputName] = session.outputNames;
const out = await session.run({ [inputName]: new ort.Tensor('float32', data, [batch, 3, H, W]) });
const t = out[outputName];
console.log(JSON.stringify({ logits: Array.from(t.data, Number), dims: t.dims }));

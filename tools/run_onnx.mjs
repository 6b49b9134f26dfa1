#!/usr/bin/env node
// Runs an ONNX model with onnxruntime-node and prints its output as JSON:
//   node tools/run_onnx.mjs MODEL.onnx [BATCH]                  the probe input (BATCH x 3 x 224 x 224)
//   node tools/run_onnx.mjs MODEL.onnx --input X.f32 --shape N,C,H,W
//                                                               a float32 little-endian NCHW tensor
//   --each                                                      one image per run (an int8 graph's
//                                                               activation scale is per tensor: per batch)
//   ->  {"logits":[...],"dims":[...]}
// Used by tools/fixture_model.py --check and by tools/convert.py's parity check (PyTorch vs
// onnxruntime on the same inputs). Input/output names are read from the model. An int8 graph runs
// on onnxruntime-web's WebAssembly where onnxruntime-node's int8 MatMul does not sum exactly on
// this CPU (tools/exact-int8.ts).
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import ortNode from 'onnxruntime-node';

const usage = 'usage: node tools/run_onnx.mjs MODEL.onnx [BATCH] | MODEL.onnx --input X.f32 --shape N,C,H,W';
let parsed;
try {
  parsed = parseArgs({ allowPositionals: true, options: { input: { type: 'string' }, shape: { type: 'string' }, each: { type: 'boolean' } } });
} catch (e) {
  console.error(`${e.message}\n${usage}`);
  process.exit(2);
}
const { values, positionals } = parsed;
const [modelPath, batchArg = '2'] = positionals;
if (!modelPath || Boolean(values.input) !== Boolean(values.shape)) {
  console.error(usage);
  process.exit(2);
}

let data;
let dims;
if (values.input) {
  dims = values.shape.split(',').map(Number);
  if (dims.length !== 4 || !dims.every((d) => Number.isInteger(d) && d > 0)) {
    console.error(`--shape must be N,C,H,W positive integers, got ${values.shape}`);
    process.exit(2);
  }
  const bytes = readFileSync(values.input);
  const count = dims.reduce((a, b) => a * b, 1);
  if (bytes.length !== count * 4) {
    console.error(`Error: ${values.input} holds ${bytes.length} bytes, shape ${values.shape} needs ${count * 4}`);
    process.exit(2);
  }
  // Copy into an aligned buffer; the file is little-endian like every machine we run on.
  data = new Float32Array(count);
  new Uint8Array(data.buffer).set(bytes);
} else {
  const batch = Number(batchArg);
  dims = [batch, 3, 224, 224];
  // Same formula as probeValue() in src/detector/probe.ts (duplicated: plain Node cannot import .ts).
  const probeValue = (i) => ((i * 7919) % 2000) / 1000 - 1;
  data = new Float32Array(batch * 3 * 224 * 224);
  for (let i = 0; i < data.length; i++) data[i] = probeValue(i);
}

const model = readFileSync(modelPath);
let ort = ortNode;
let provider = 'cpu';
if (model.includes('MatMulInteger')) {
  // The TypeScript check, through Vite's module runner as tools/bin/eval.mjs loads the eval (plain Node cannot import .ts).
  const { runnerImport } = await import('vite');
  const { module } = await runnerImport(new URL('./exact-int8.ts', import.meta.url).pathname, { configFile: false, logLevel: 'silent' });
  ({ ort, provider } = await module.runtimeFor('int8'));
}
const session = await ort.InferenceSession.create(model, { executionProviders: [provider] });
const [inputName] = session.inputNames;
const [outputName] = session.outputNames;
const runs = values.each ? dims[0] : 1;
const per = data.length / runs;
const logits = [];
let outDims;
for (let i = 0; i < runs; i++) {
  const out = await session.run({ [inputName]: new ort.Tensor('float32', data.subarray(i * per, (i + 1) * per), [dims[0] / runs, ...dims.slice(1)]) });
  logits.push(...Array.from(out[outputName].data, Number));
  outDims = out[outputName].dims;
}
console.log(JSON.stringify({ logits, dims: [dims[0], ...outDims.slice(1)] }));

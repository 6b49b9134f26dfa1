import { createRequire } from 'node:module';
const require = createRequire(import.meta.url);
const fs = require('node:fs');
const ortWeb = require('onnxruntime-web');
const ortNode = require('onnxruntime-node');
const dir = process.env.HOME + '/.cache/realfake-lens/bench/';
const input = new Float32Array(3*224*224).map((_, i) => Math.sin(i) * 2);
ortWeb.env.wasm.numThreads = Number(process.argv[2] ?? 1);
for (const [name, ort, opts] of [['node', ortNode, { executionProviders: ['cpu'], graphOptimizationLevel: 'all', intraOpNumThreads: 2 }], ['wasm', ortWeb, { executionProviders: ['wasm'], graphOptimizationLevel: 'all', extra: { session: { disable_prepacking: '1' } } }]]) {
  for (const m of ['bench-convnext-large', 'bench-convnext-large-int8']) {
    const s = await ort.InferenceSession.create(fs.readFileSync(dir + m + '/model.onnx'), opts);
    const feeds = { input: new ort.Tensor('float32', input, [1,3,224,224]) };
    await s.run(feeds);
    const t0 = performance.now(); for (let i=0;i<3;i++) await s.run(feeds);
    console.log(name, m, ((performance.now()-t0)/3).toFixed(0), 'ms/image');
    await s.release();
  }
}

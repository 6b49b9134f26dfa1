// tools/convert.py --int8 on a fixture-sized ConvNeXt (16/32/64/128, depths 1/1/2/1, perturbed random
// weights, built at test time): the int8 variant against PyTorch's logits, its weights against the
// int8 rule written here from the ONNX spec (symmetric, per output column), and its stored agreement
// with fp32 against scores computed by another path (`npm run eval`: sharp + the TypeScript
// preprocessing + onnxruntime-node) on the same photographs.

import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { probeInput } from '../../src/detector/probe';
import { maxAbsDiff } from '../support/compare';
import { photoIndex, PHOTOS_DIR } from '../support/photos';
import { evalScores } from '../support/eval-scores';
import { runPython } from '../support/python';
import { verifyModelDir } from '../../tools/model-dir';
import { convert, makeCheckpoints, onnxLogits, onnxTypes, readModel, removeTempDirs, softmaxRows, tempDir, type Checkpoints, type ConvertResult } from './support';

// The int8 variant against PyTorch fp32, per logit. Measured on this model: inputs 2.2e-2, probe
// 1.5e-2 (the fixture's own weights: probe 4.3e-2). The manifest's probe tolerance (0.25) is what the
// browser accepts; the converter itself requires half of it.
const LOGIT_TOLERANCE = 0.125;
// Per image, on p(generated): measured max 5.1e-3 here. 5e-2 catches a wrong scale (a per-tensor
// instead of per-column weight scale, a missing zero point) which moves p by far more.
const P_TOLERANCE = 5e-2;

let ck: Checkpoints;
let out: string;
let r: ConvertResult;

afterAll(removeTempDirs);

beforeAll(async () => {
  out = tempDir('int8-out');
  ck = await makeCheckpoints(['lightning-timm'], ['--dims', '16,32,64,128', '--depths', '1,1,2,1']);
  r = await convert(ck.path('lightning-timm'), ['--id', 'small', '--out', join(out, 'small'), '--int8']);
}, 600_000);

// For each MatMul weight of the fp32 file, the int8 file's weight and scale (found by the
// consumer MatMulInteger and the Mul of its scales), checked against the rule: q = round(W / s),
// s = max |W[:, n]| / 127 per column n, |q| <= 127, zero point 0.
const WEIGHTS_PY = `
import json, sys
import numpy as np, onnx
from onnx import numpy_helper
f32, i8 = onnx.load(sys.argv[1]), onnx.load(sys.argv[2])
w32 = {t.name: numpy_helper.to_array(t) for t in f32.graph.initializer}
w8 = {t.name: numpy_helper.to_array(t) for t in i8.graph.initializer}
made = {o: n for n in i8.graph.node for o in n.output}
worst, columns, n = 0.0, 0, 0
for node in f32.graph.node:
    if node.op_type not in ('MatMul', 'Gemm'):
        continue
    w = w32[node.input[1]]
    if node.op_type == 'Gemm' and any(a.name == 'transB' and a.i for a in node.attribute):
        w = w.T
    mmi = [m for m in i8.graph.node if m.op_type == 'MatMulInteger' and m.input[1] == node.input[1] + '_int8']
    assert len(mmi) == 1, node.name
    q = w8[mmi[0].input[1]]
    assert q.dtype == np.int8 and q.shape == w.shape and len(mmi[0].input) == 3  # no weight zero point: 0
    scales = [w8[v] for m in i8.graph.node if m.op_type == 'Mul' for v in m.input if v in w8 and w8[v].shape == (w.shape[1],)]
    s = [x for x in scales if np.allclose(x, np.abs(w).max(axis=0) / 127, rtol=1e-6)]
    assert len(s) == 1, node.name
    worst = max(worst, float(np.max(np.abs(q.astype(np.float64) * s[0] - w) / s[0])))
    columns += int((np.abs(q).max(axis=0) == 127).sum())
    assert np.abs(q).max() <= 127
    n += 1
print(json.dumps({'layers': n, 'worstInSteps': worst, 'columnsAt127': columns,
                  'columns': sum(int(w32[x.input[1]].shape[0 if x.op_type == 'Gemm' else 1]) for x in f32.graph.node if x.op_type in ('MatMul', 'Gemm'))}))
`;

describe('convert.py --int8', () => {
  it('writes an int8 variant of the fp32 model, under half its size, within the stated tolerance of PyTorch', async () => {
    expect(r.code, r.stderr).toBe(0);
    const dir = join(out, 'small');
    const m = readModel(dir);
    const m8 = readModel(`${dir}-int8`);
    expect(m8).toMatchObject({ id: 'small-int8', precision: 'int8', variantOf: 'small', input: m.input, output: m.output, labels: m.labels });
    expect(m8.probe.logits).toEqual(m.probe.logits); // PyTorch's: the browser's probe compares against fp32 PyTorch
    expect(r.summary!.models.map((x) => x.precision)).toEqual(['fp32', 'int8']);
    // model:install's and eval's checks (schema, size, SHA-256, probe within the manifest's tolerance).
    await verifyModelDir(`${dir}-int8`);

    // The graph: every MatMul/Gemm replaced by DynamicQuantizeLinear + MatMulInteger; nothing float left of them.
    const t32 = await onnxTypes(join(dir, 'model.onnx'));
    const t8 = await onnxTypes(join(`${dir}-int8`, 'model.onnx'));
    const layers = (t32.ops.MatMul ?? 0) + (t32.ops.Gemm ?? 0);
    expect(layers).toBe(11);
    expect(t8.ops.MatMulInteger).toBe(layers);
    expect(t8.ops.DynamicQuantizeLinear).toBe(layers);
    expect(t8.ops.MatMul ?? 0).toBe(0);
    expect(t8.ops.Gemm ?? 0).toBe(0);
    expect(t8.initializers.INT8).toBe(layers);
    expect(t8.inputs).toEqual({ input: 'FLOAT' });
    expect(t8.outputs).toEqual({ logits: 'FLOAT' });

    // The weights follow the rule (checked with numpy against the fp32 file's weights).
    const w = await runPython(['-c', WEIGHTS_PY, join(dir, 'model.onnx'), join(`${dir}-int8`, 'model.onnx')]);
    expect(w.code, w.stderr).toBe(0);
    const weights = JSON.parse(w.stdout) as { layers: number; worstInSteps: number; columnsAt127: number; columns: number };
    expect(weights.layers).toBe(layers);
    expect(weights.worstInSteps).toBeLessThanOrEqual(0.5 + 1e-4); // rounding: at most half a step
    expect(weights.columnsAt127).toBe(weights.columns); // each column's largest weight is ±127 steps
    expect(m8.onnx.bytes).toBeLessThan(0.5 * m.onnx.bytes);

    // Against PyTorch (make_test_checkpoint.py's logits of random inputs and of the probe), by onnxruntime-node.
    const onnx8 = join(`${dir}-int8`, 'model.onnx');
    const got = await onnxLogits(onnx8, ck.inputs, ck.reference.inputs.shape);
    const dLogit = maxAbsDiff(got, ck.reference.inputs.logits);
    const dProbe = maxAbsDiff(await onnxLogits(onnx8, probeInput(2, 224, 224), [2, 3, 224, 224]), ck.reference.probe);
    const dp = maxAbsDiff(softmaxRows(got, 2), softmaxRows(ck.reference.inputs.logits, 2));
    expect(dLogit).toBeLessThanOrEqual(LOGIT_TOLERANCE);
    expect(dProbe).toBeLessThanOrEqual(m8.probe.tolerance / 2);
    expect(dLogit).toBeGreaterThan(0); // really another computation
    expect(dp).toBeLessThanOrEqual(P_TOLERANCE);
    console.log(`int8 vs PyTorch fp32: max|Δlogit| ${dLogit.toExponential(2)}, probe ${dProbe.toExponential(2)} ` +
      `(manifest tolerance ${m8.probe.tolerance}), max|Δp| ${dp.toExponential(2)}; ${m.onnx.bytes} -> ${m8.onnx.bytes} bytes`);
  });

  it('stores its agreement with fp32, which scores made by another path (eval) on the photographs bear out', async () => {
    expect(r.code, r.stderr).toBe(0);
    const dir = join(out, 'small');
    const a = readModel(`${dir}-int8`).agreement!;
    const judged = photoIndex().filter((p) => !p.small);
    expect(a).toMatchObject({ with: 'small', photos: judged.length, synthetic: 12, images: judged.length + 12, threshold: 0.5 });
    expect(r.summary!.models).toHaveLength(2);

    const [p32, p8] = await Promise.all([evalScores(dir, PHOTOS_DIR), evalScores(`${dir}-int8`, PHOTOS_DIR)]);
    const diffs = judged.map((p) => Math.abs(p32.get(p.file)! - p8.get(p.file)!));
    const same = judged.filter((p) => p32.get(p.file)! >= 0.5 === p8.get(p.file)! >= 0.5).length;
    expect(diffs.every(Number.isFinite)).toBe(true);
    // The photographs are a part of the converter's set: their largest |Δp| cannot exceed its maximum
    // (1e-4: eval's decode + preprocessing against the Python reference's, test/tools/eval.test.ts).
    expect(Math.max(...diffs)).toBeLessThanOrEqual(a.maxAbsP + 1e-4);
    expect(Math.max(...diffs)).toBeGreaterThan(0);
    const disagreeing = Math.round((1 - a.labelAgreement) * a.images);
    expect(judged.length - same).toBeLessThanOrEqual(disagreeing);
    expect(a.meanAbsP).toBeLessThanOrEqual(a.maxAbsP);
    console.log(`agreement stored: max|Δp| ${a.maxAbsP.toExponential(2)}, mean ${a.meanAbsP.toExponential(2)}, labels ${a.labelAgreement} ` +
      `over ${a.images}; eval on the ${judged.length} photographs: max|Δp| ${Math.max(...diffs).toExponential(2)}, labels ${same}/${judged.length}`);
  });

  it('--id too long for the -int8 suffix exits 2', async () => {
    const res = await convert(ck.path('lightning-timm'), ['--id', 'a'.repeat(60), '--out', join(out, 'long'), '--int8']);
    expect(res.code).toBe(2);
  });
});

// tools/convert.py on checkpoints it had no hand in: a ConvNeXt re-implemented from timm's source
// (tools/timm_convnext_ref.py), perturbed so that every weight matters, trained one AdamW step and
// saved as LAION's realfake checkpoint is (tools/make_timm_checkpoint.py: Lightning's dict, tensors
// recorded as on cuda:0, hyper-parameters as an object of the training script). The converter's other test
// checkpoints are written through its own timm <-> torchvision name mapping, so a wrong mapping (a
// weight in another place, a LayerNorm's eps, gamma, the head's order, the downsample layout) would
// pass there; here the converted ONNX must give the timm model's own logits.

import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { probeInput } from '../../src/detector/probe';
import { maxAbsDiff } from '../support/compare';
import { convert, makeTimmCheckpoint, onnxLogits, readModel, removeTempDirs, tempDir } from './support';

afterAll(removeTempDirs);

const TOLERANCE = 1e-4;

const CASES: Array<{ what: string; seed: number; dims: number[]; depths: number[] }> = [
  { what: 'small, 1/2/1/1 blocks', seed: 3, dims: [8, 16, 24, 32], depths: [1, 2, 1, 1] },
  // convnext_large has 3/3/27/3: several blocks per stage, and block indices of two digits.
  { what: 'deep, 3/3/12/3 blocks', seed: 11, dims: [8, 16, 24, 32], depths: [3, 3, 12, 3] },
];

describe.concurrent('convert.py on a timm ConvNeXt written independently of it, saved as a Lightning checkpoint', () => {
  it.each(CASES)('$what: the ONNX model gives the timm model\'s logits', async ({ seed, dims, depths }) => {
    const ck = await makeTimmCheckpoint(['--seed', String(seed), '--dims', dims.join(','), '--depths', depths.join(',')]);
    const last = depths.map((d, s) => `model.stages.${s}.blocks.${d - 1}.gamma`);
    expect(ck.reference.keys).toEqual(expect.arrayContaining(['model.stem.1.bias', 'model.stages.3.downsample.1.weight', 'model.head.norm.weight', ...last]));

    const dir = join(tempDir('timm-out'), 'model');
    const r = await convert(ck.path('lightning-timm'), ['--id', 'timm-independent', '--out', dir]);
    expect(r.code, r.stderr).toBe(0);
    // The training script's hyper-parameter object is not importable here: an inert placeholder.
    expect(r.summary).toMatchObject({ layout: 'timm', prefix: 'model.', dims, depths, classes: 2, ignoredObjects: ['__main__.TrainConfig'] });

    const m = readModel(dir);
    const onnx = join(dir, m.onnx.file);
    const inputs = maxAbsDiff(await onnxLogits(onnx, ck.inputs, ck.reference.inputs.shape), ck.reference.inputs.logits);
    const probe = maxAbsDiff(await onnxLogits(onnx, probeInput(2, 224, 224), [2, 3, 224, 224]), ck.reference.probe);
    // The manifest's probe logits are the converter's PyTorch model's: the timm model's too.
    const manifestProbe = maxAbsDiff(m.probe.logits, ck.reference.probe);
    console.log(`timm-independent ${depths.join('/')}: max|Δlogit| ONNX vs timm model: batch ${inputs.toExponential(2)}, ` +
      `probe ${probe.toExponential(2)}; manifest probe ${manifestProbe.toExponential(2)}`);
    expect(inputs).toBeLessThanOrEqual(TOLERANCE);
    expect(probe).toBeLessThanOrEqual(TOLERANCE);
    expect(manifestProbe).toBeLessThanOrEqual(TOLERANCE);
  });
});

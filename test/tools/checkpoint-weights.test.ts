// The weights file and the relocated graph an in-browser checkpoint import makes
// (import-plan.ts: planImport, unitOutput; onnx-external.ts: relocateExternalData), on checkpoints
// PyTorch writes at test time and the packaged weightless graph, with units small enough to cut
// tensors: Python's onnx package loads the relocated graph with its external data and every
// initializer must equal, value for value, the tensor the converter's loader
// (tools/realfake_ref/checkpoint.py) puts under that name; onnxruntime-node runs it and its
// logits must equal PyTorch's (reference.json, written by make_test_checkpoint.py).

import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { planImport, unitOutput } from '../../src/detector/checkpoint/import-plan';
import { placeConvNeXt } from '../../src/detector/checkpoint/placement';
import { bytesSource } from '../../src/detector/checkpoint/source';
import { readCheckpointTensors } from '../../src/detector/checkpoint/tensors';
import { relocateExternalData } from '../../src/detector/onnx-external';
import { probeInput } from '../../src/detector/probe';
import { runPython } from '../support/python';
import { makeCheckpoints, removeTempDirs, tempDir, type Checkpoints } from './support';

const GRAPH = resolve(import.meta.dirname, '../../public/graphs/convnext-8.16.24.32-1.2.1.1-c2.onnx');

const COMPARE_PY = `
import json, sys
import numpy as np
import onnx
from onnx import numpy_helper
sys.path.insert(0, 'tools')
from realfake_ref.checkpoint import *
out = {}
for ckpt, graph in zip(sys.argv[1::2], sys.argv[2::2]):
    p = place_weights(find_state_dict(read_checkpoint(ckpt)))
    m = build_module(infer_architecture(p))
    load_into(m, p)
    want = {k: v.detach().float().numpy() for k, v in m.state_dict().items()}
    model = onnx.load(graph)  # reads every initializer's external data from weights.bin beside it
    got = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    out[ckpt] = {
        'initializers': len(got),
        'missing': sorted(k for k in want if k not in got and not k.endswith('num_batches_tracked')),
        'mismatched': sorted(k for k, v in got.items() if k not in want or v.shape != want[k].shape or not np.array_equal(v, want[k])),
    }
print(json.dumps(out))
`;

let ck: Checkpoints;
let reference: number[];
const LAYOUTS: Array<[string, number]> = [
  ['lightning-timm', 1e-4],
  ['torchvision', 1e-4],
  ['adam', 1e-4],
  ['reversed', 1e-4],
  ['one-storage', 1e-4],
  ['zip64', 1e-4],
  // Its weights are the fp32 model's rounded to fp16; PyTorch's logits are the fp32 model's.
  ['fp16', 5e-2],
];

afterAll(removeTempDirs);

beforeAll(async () => {
  ck = await makeCheckpoints(['lightning-timm', 'torchvision']);
  const w = await runPython(['test/support/checkpoint_cases.py', 'write', ck.dir]);
  expect(w.code, w.stderr).toBe(0);
  reference = (JSON.parse(readFileSync(join(ck.dir, 'reference.json'), 'utf8')) as { probe: number[] }).probe;
});

/** What an import stores, made by the TypeScript code: graph.onnx and weights.bin in a folder. */
async function importInto(layout: string, maxUnit: number): Promise<{ dir: string; units: number; cut: number }> {
  const bytes = new Uint8Array(readFileSync(ck.path(layout)));
  const plan = planImport(placeConvNeXt((await readCheckpointTensors(bytesSource(bytes))).tensors), { maxGap: 512, maxUnit });
  const weights = new Uint8Array(plan.weightBytes);
  let at = 0;
  for (const u of plan.units) {
    const out = unitOutput(plan, u, bytes.subarray(u.start, u.end));
    weights.set(out, at);
    at += out.length;
  }
  expect(at).toBe(plan.weightBytes);
  const byName = new Map(plan.tensors.map((t) => [t.name, t]));
  const { graph } = await relocateExternalData(new Uint8Array(readFileSync(GRAPH)), 'weights.bin', (init) => byName.get(init.name)!.offset);
  const dir = join(tempDir(`import-${layout}`), 'model');
  mkdirSync(dir);
  writeFileSync(join(dir, 'graph.onnx'), graph);
  writeFileSync(join(dir, 'weights.bin'), weights);
  // Tensors whose pieces lie in more than one unit.
  const cut = new Set(plan.units.flatMap((u) => u.pieces.filter((p) => p.from > plan.tensors[p.tensor]!.start || p.to < plan.tensors[p.tensor]!.end).map((p) => p.tensor))).size;
  return { dir, units: plan.units.length, cut };
}

describe('weights file and relocated graph, against PyTorch', () => {
  it.each(LAYOUTS)('%s: onnx reads every initializer as the converter loads it; onnxruntime gives PyTorch’s logits', async (layout, tolerance) => {
    const made = await importInto(layout, 4000);
    expect(made.cut).toBeGreaterThan(0);
    const r = await runPython(['-c', COMPARE_PY, ck.path(layout), join(made.dir, 'graph.onnx')]);
    expect(r.code, r.stderr).toBe(0);
    const report = (JSON.parse(r.stdout) as Record<string, { initializers: number; missing: string[]; mismatched: string[] }>)[ck.path(layout)]!;
    expect(report.missing).toEqual([]);
    expect(report.mismatched).toEqual([]);
    expect(report.initializers).toBeGreaterThan(50);

    const session = await ort.InferenceSession.create(join(made.dir, 'graph.onnx'));
    const out = await session.run({ input: new ort.Tensor('float32', probeInput(2, 224, 224), [2, 3, 224, 224]) });
    const logits = [...(out.logits!.data as Float32Array)];
    await session.release();
    const diff = Math.max(...logits.map((v, i) => Math.abs(v - reference[i]!)));
    console.log(`${layout}: ${made.units} units (${made.cut} tensors cut), ${report.initializers} initializers equal, max |Δlogit| ${diff.toExponential(2)}`);
    expect(diff).toBeLessThanOrEqual(tolerance);
  });
});

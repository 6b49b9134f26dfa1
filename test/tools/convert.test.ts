// tools/convert.py on synthetic checkpoints of a small ConvNeXt (perturbed random weights, built at
// test time): each layout either converts with PyTorch/onnxruntime parity, or is refused with a
// message naming what is wrong, leaving no output folder behind.

import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { probeInput } from '../../src/detector/probe';
import { maxAbsDiff } from '../support/compare';
import { runPython } from '../support/python';
import { verifyModelDir } from '../../tools/model-dir';
import { convert, leftovers, makeCheckpoints, onnxLogits, onnxTypes, readModel, removeTempDirs, softmaxRows, tempDir, type Checkpoints } from './support';

const LAYOUTS = ['lightning-timm', 'torchvision', 'wrong-head', 'missing-keys', 'extra-keys', 'not-convnext', 'hostile', 'corrupt', 'garbage'];
let ck: Checkpoints;
let out: string;
let marker: string;

afterAll(removeTempDirs);

beforeAll(async () => {
  out = tempDir('convert-out');
  marker = join(out, 'HOSTILE-PAYLOAD-RAN');
  ck = await makeCheckpoints(LAYOUTS, ['--marker', marker]);
});

/** The converted model, run by onnxruntime-node, against PyTorch's logits from the checkpoint maker. */
async function expectParity(dir: string, tolerance: number): Promise<{ inputs: number; probe: number }> {
  // The folder passes the checks model:install and eval make before they use a model (manifest schema,
  // ONNX size and SHA-256, probe logits within the manifest's tolerance): they throw otherwise.
  const { manifest: m } = await verifyModelDir(dir);
  const onnx = join(dir, m.onnx.file);
  const inputs = maxAbsDiff(await onnxLogits(onnx, ck.inputs, ck.reference.inputs.shape), ck.reference.inputs.logits);
  const probe = maxAbsDiff(await onnxLogits(onnx, probeInput(2, 224, 224), [2, 3, 224, 224]), ck.reference.probe);
  expect(inputs).toBeLessThanOrEqual(tolerance);
  expect(probe).toBeLessThanOrEqual(tolerance);
  return { inputs, probe };
}

function expectRefused(r: { code: number; error: string }, dir: string): void {
  expect(r.code).toBe(1);
  expect(existsSync(dir)).toBe(false);
  expect(leftovers(out)).toEqual([]);
}

describe('convert.py: checkpoints it accepts', () => {
  it('a PyTorch-Lightning checkpoint with timm names under "model.": fp32 with parity, and an fp16 variant', async () => {
    const dir = join(out, 'lightning');
    const r = await convert(ck.path('lightning-timm'), ['--id', 'lightning', '--out', dir, '--fp16']);
    expect(r.code, r.stderr).toBe(0);
    const s = r.summary!;
    expect(s).toMatchObject({ layout: 'timm', prefix: 'model.', dims: [8, 16, 24, 32], depths: [1, 2, 1, 1], classes: 2 });
    expect(s.parity.maxAbsLogit).toBeLessThanOrEqual(1e-4);
    expect(s.parity.inputs).toBe(5);

    const m = readModel(dir);
    const bytes = readFileSync(join(dir, 'model.onnx'));
    // Laid out as the published file (Lightning, timm names, two classes): the laion-realfake preset.
    expect(m).toMatchObject({ id: 'lightning', fixture: false, precision: 'fp32', labels: ['real', 'fake'], generatedIndex: 1 });
    expect(m.preset?.name).toBe('laion-realfake');
    expect(m.preset?.sources.labels).toMatch(/realfake\/config\.py: LABELS = \{"real": 0, "fake": 1\}/);
    expect(m.preprocessing.library).toBe('albumentations');
    expect(m.onnx).toMatchObject({ file: 'model.onnx', opset: 17, bytes: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') });
    expect(m.input).toEqual({ name: 'input', shape: ['batch', 3, 224, 224] });
    expect(m.source.sha256).toBe(createHash('sha256').update(readFileSync(ck.path('lightning-timm'))).digest('hex'));
    expect(m.preprocessing.resize).toEqual({ mode: 'square', size: 256, interpolation: 'opencv-linear' });
    expect(maxAbsDiff(m.probe.logits, ck.reference.probe)).toBeLessThanOrEqual(1e-6);
    const d = await expectParity(dir, 1e-4);

    // fp16: a variant of the fp32 model (same probe logits, PyTorch's), computing in fp16 inside
    // the same float32 interface. Every float tensor is fp16 but the classifier head's (the Gemm
    // writing `logits`, its weight and bias, behind a Cast to float32): half the weight bytes
    // (ConvNeXt-Large: 50.0% of the file), here ~60% as the small model's node and tensor names weigh more.
    expect(m.variantOf).toBe(null);
    const m16 = readModel(`${dir}-fp16`);
    expect(m16).toMatchObject({ id: 'lightning-fp16', precision: 'fp16', variantOf: 'lightning', input: m.input, output: m.output });
    expect(m16.probe.logits).toEqual(m.probe.logits);
    expect(m16.onnx.bytes).toBeLessThan(0.65 * m.onnx.bytes);
    const onnx16 = join(`${dir}-fp16`, 'model.onnx');
    const types = await onnxTypes(onnx16);
    expect(types.inputs).toEqual({ input: 'FLOAT' });
    expect(types.outputs).toEqual({ logits: 'FLOAT' });
    expect(Object.keys(types.initializers).filter((t) => t !== 'FLOAT16' && t !== 'INT64' && t !== 'FLOAT')).toEqual([]);
    expect(types.initializers.FLOAT16).toBeGreaterThan(0);
    expect(Object.keys(types.intermediates).filter((t) => t !== 'FLOAT16' && t !== 'INT64' && t !== 'FLOAT')).toEqual([]);
    // float32 inside: exactly the head, the Gemm producing `logits` from a Cast of the fp16 features.
    const gemm = types.producers.logits;
    if (!gemm) throw new Error('nothing produces logits');
    const features = gemm.inputs[0] ?? '';
    expect(gemm.op).toBe('Gemm');
    expect(types.float32.initializers).toEqual(gemm.inputs.slice(1).sort()); // its weight and bias
    expect(types.float32.intermediates).toEqual([features]);
    expect(types.producers[features]?.op).toBe('Cast');
    expect(types.ops.Cast).toBe(2); // float32 -> fp16 after the input, fp16 -> float32 before the head; none before the output

    // On onnxruntime-node (CPU: fp16 where it has kernels, inserted casts elsewhere) against PyTorch fp32.
    const got16 = await onnxLogits(onnx16, ck.inputs, ck.reference.inputs.shape);
    const dLogit16 = maxAbsDiff(got16, ck.reference.inputs.logits);
    const dProbe16 = maxAbsDiff(await onnxLogits(onnx16, probeInput(2, 224, 224), [2, 3, 224, 224]), ck.reference.probe);
    const dp16 = maxAbsDiff(softmaxRows(got16, 2), softmaxRows(ck.reference.inputs.logits, 2));
    expect(dLogit16).toBeLessThanOrEqual(m16.probe.tolerance);
    expect(dProbe16).toBeLessThanOrEqual(m16.probe.tolerance / 2); // what the converter itself requires
    expect(dLogit16).toBeGreaterThan(0); // really another computation, not the fp32 graph
    expect(dp16).toBeLessThan(5e-3);
    expect(s.fp16!.labelAgreement).toBe(1);
    console.log(`lightning-timm: converter parity max|Δlogit| ${s.parity.maxAbsLogit.toExponential(2)}, ` +
      `ONNX vs PyTorch (independent inputs) ${d.inputs.toExponential(2)}, probe ${d.probe.toExponential(2)}; ` +
      `fp16 vs PyTorch fp32: max|Δlogit| ${dLogit16.toExponential(2)}, probe ${dProbe16.toExponential(2)} ` +
      `(tolerance ${m16.probe.tolerance}), max|Δp| ${dp16.toExponential(2)} (converter: ${s.fp16!.maxAbsP.toExponential(2)}), ` +
      `${m.onnx.bytes} -> ${m16.onnx.bytes} bytes, convert ${s.seconds} s`);
  });

  it('a bare state_dict with torchvision names, custom labels and square resizing', async () => {
    const dir = join(out, 'tv');
    const r = await convert(ck.path('torchvision'), ['--id', 'tv', '--out', dir, '--labels', 'ai,photo', '--generated-index', '0', '--resize-mode', 'square']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.summary).toMatchObject({ layout: 'torchvision', prefix: '', dims: [8, 16, 24, 32], depths: [1, 2, 1, 1] });
    // Not the published layout: the torchvision preset, with the command line's changes named in the manifest.
    expect(r.stderr).toMatch(/preset torchvision: not laid out as the published checkpoint/);
    const m = readModel(dir);
    expect(m.labels).toEqual(['ai', 'photo']);
    expect(m.generatedIndex).toBe(0);
    expect(m.preprocessing).toMatchObject({ resize: { mode: 'square', size: 256, interpolation: 'bilinear' }, library: 'torchvision' });
    expect(m.preset?.name).toBe('torchvision');
    expect(m.preset?.sources.labels).toMatch(/command line \(--labels ai,photo, --generated-index 0\)/);
    expect(m.preset?.sources.preprocessing).toMatch(/changed by --resize-mode square/);
    const d = await expectParity(dir, 1e-4);
    console.log(`torchvision: converter parity max|Δlogit| ${r.summary!.parity.maxAbsLogit.toExponential(2)}, independent ${d.inputs.toExponential(2)}`);
  });
});

interface Inspected {
  file: string;
  ok: boolean;
  error?: string;
  layout?: string;
  prefix?: string;
  dims?: number[];
  ignoredObjects?: string[];
}

async function inspect(layouts: string[], args: string[] = []): Promise<Map<string, Inspected>> {
  const r = await runPython(['tools/convert.py', '--inspect', ...layouts.map((l) => ck.path(l)), '--json', ...args]);
  expect(r.stdout, r.stderr).not.toBe('');
  const found = (JSON.parse(r.stdout) as { checkpoints: Inspected[] }).checkpoints;
  expect(r.code).toBe(found.every((c) => c.ok) ? 0 : 1);
  return new Map(found.map((c, i) => [layouts[i] ?? '', c]));
}

describe.concurrent('convert.py: what it reads, and what it refuses, naming why', () => {
  it('--inspect: every layout, in one process', async () => {
    const found = await inspect(LAYOUTS);
    const want: Record<string, RegExp | { layout: string; prefix: string }> = {
      'lightning-timm': { layout: 'timm', prefix: 'model.' },
      torchvision: { layout: 'torchvision', prefix: '' },
      hostile: { layout: 'timm', prefix: 'model.' },
      'wrong-head': /^1 tensor\(s\) of the wrong shape: model\.head\.fc\.weight \[2, 35\] \(the model needs \[2, 32\]\)$/,
      'missing-keys': /^missing 2 key\(s\): model\.stages\.2\.blocks\.0\.mlp\.fc1\.weight, model\.head\.norm\.bias$/,
      'extra-keys': /^several models in one checkpoint \(key prefixes \['model\.', 'model_ema\.'\]\); choose one with --prefix$/,
      'not-convnext': /^found no ConvNeXt stem .* among the 9 keys: backbone\.0\.weight/,
      corrupt: /corrupt\.ckpt: truncated or corrupt \(\d+ bytes\): a PyTorch zip archive without its central directory/,
      garbage: /garbage\.ckpt: not a readable PyTorch checkpoint \(truncated or corrupt\?\): invalid load key/,
    };
    for (const [layout, expected] of Object.entries(want)) {
      const c = found.get(layout)!;
      if (expected instanceof RegExp) {
        expect(c.ok, layout).toBe(false);
        expect(c.error, layout).toMatch(expected);
      } else {
        expect(c, layout).toMatchObject({ ok: true, dims: [8, 16, 24, 32], ...expected });
      }
    }
    // Unpickling never calls what a checkpoint names: the hostile file's os.system was replaced, not run.
    expect(found.get('hostile')!.ignoredObjects).toEqual(['posix.system']);
    expect(existsSync(marker)).toBe(false);
  });

  it('reads the stage widths, depths and number of classes from the tensors', async () => {
    const other = await makeCheckpoints(['timm'], ['--dims', '12,20,28,36', '--depths', '2,1,3,1', '--classes', '3', '--seed', '7']);
    const r = await runPython(['tools/convert.py', '--inspect', other.path('timm'), '--json']);
    expect(r.code, r.stderr).toBe(0);
    const [c] = (JSON.parse(r.stdout) as { checkpoints: Array<Inspected & { depths: number[]; classes: number }> }).checkpoints;
    expect(c).toMatchObject({ ok: true, layout: 'timm', prefix: '', dims: [12, 20, 28, 36], depths: [2, 1, 3, 1], classes: 3 });
  });

  it('keys outside the model are named, and accepted once dropped with --prefix / --ignore', async () => {
    const unplaced = (await inspect(['extra-keys'], ['--prefix', 'model.'])).get('extra-keys')!;
    expect(unplaced.error).toMatch(/^could not place 4 key\(s\) of the checkpoint: .*model\.loss_fn\.weight.*model_ema\.stem\.0\.weight.*--ignore REGEX/);
    const ok = (await inspect(['extra-keys'], ['--prefix', 'model.', '--ignore', '^model_ema\\.', '--ignore', 'loss_fn'])).get('extra-keys')!;
    expect(ok).toMatchObject({ ok: true, layout: 'timm', dims: [8, 16, 24, 32] });
  });

  const cases: Array<[string, string[], RegExp]> = [
    ['wrong-head', [], /1 tensor\(s\) of the wrong shape: model\.head\.fc\.weight \[2, 35\]/],
    ['lightning-timm', ['--labels', 'fake,real,other'], /the checkpoint's head has 2 classes but the labels name 3 \(fake,real,other\)/],
    ['lightning-timm', ['--parity-tolerance', '1e-9'], /parity check failed: onnxruntime and PyTorch logits differ by .* \(> 1e-09\) on the same inputs; nothing was written/],
  ];
  it.each(cases)('a conversion refused: %s %j writes nothing', async (layout, args, message) => {
    const dir = join(out, `refused-${layout}-${args.join('')}`);
    const r = await convert(ck.path(layout), ['--id', 'refused', '--out', dir, '--fp16', ...args]);
    expectRefused(r, dir);
    expect(existsSync(`${dir}-fp16`)).toBe(false);
    expect(r.error).toMatch(message);
  });

  it('bad options exit 2 with usage', async () => {
    for (const args of [['--id', 'Bad Id'], ['--id', 'fixture'], ['--generated-index', '2'], ['--parity-tolerance', '1e-3']]) {
      const r = await convert(ck.path('lightning-timm'), ['--out', join(out, 'bad'), ...args]);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toContain('usage:');
    }
    expect(existsSync(join(out, 'bad'))).toBe(false);
  });
});

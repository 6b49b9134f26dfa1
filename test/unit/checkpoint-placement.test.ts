// Key placement on tensor tables written out by hand (test/tools/checkpoint-reader.test.ts checks
// the same rules against the converter on files PyTorch writes): the data file's patterns, timm
// and torchvision names, prefixes, and the refusals that name the checkpoint's own keys.

import { describe, expect, it } from 'vitest';
import keys from '../../src/detector/checkpoint/convnext-keys.json';
import { CheckpointError } from '../../src/detector/checkpoint/errors';
import { placeConvNeXt, timmToTorchvision, torchvisionToTimm } from '../../src/detector/checkpoint/placement';
import type { DType, TensorInfo } from '../../src/detector/checkpoint/tensors';

/** A timm ConvNeXt with dims 4/8/12/16, depths 1/1/2/1 and 3 classes, written out name by name. */
function timmTable(prefix = 'model.', dtype: DType = 'float32'): TensorInfo[] {
  const rows: Array<[string, number[]]> = [['stem.0.weight', [4, 3, 4, 4]], ['stem.0.bias', [4]], ['stem.1.weight', [4]], ['stem.1.bias', [4]]];
  const dims = [4, 8, 12, 16];
  const depths = [1, 1, 2, 1];
  for (let s = 0; s < 4; s++) {
    const d = dims[s]!;
    if (s > 0) {
      const p = dims[s - 1]!;
      rows.push([`stages.${s}.downsample.0.weight`, [p]], [`stages.${s}.downsample.0.bias`, [p]], [`stages.${s}.downsample.1.weight`, [d, p, 2, 2]], [`stages.${s}.downsample.1.bias`, [d]]);
    }
    for (let b = 0; b < depths[s]!; b++) {
      const n = `stages.${s}.blocks.${b}`;
      rows.push([`${n}.gamma`, [d]], [`${n}.conv_dw.weight`, [d, 1, 7, 7]], [`${n}.conv_dw.bias`, [d]], [`${n}.norm.weight`, [d]], [`${n}.norm.bias`, [d]]);
      rows.push([`${n}.mlp.fc1.weight`, [4 * d, d]], [`${n}.mlp.fc1.bias`, [4 * d]], [`${n}.mlp.fc2.weight`, [d, 4 * d]], [`${n}.mlp.fc2.bias`, [d]]);
    }
  }
  rows.push(['head.norm.weight', [16]], ['head.norm.bias', [16]], ['head.fc.weight', [3, 16]], ['head.fc.bias', [3]]);
  let at = 1000;
  return rows.map(([name, shape]) => {
    const bytes = shape.reduce((a, b) => a * b, 1) * 4;
    const stride = shape.map((_, i) => shape.slice(i + 1).reduce((a, b) => a * b, 1));
    const t: TensorInfo = { key: prefix + name, dtype, itemSize: 4, shape, stride, contiguous: true, start: at, end: at + bytes, storageEntry: `a/data/${at}` };
    at += bytes;
    return t;
  });
}

function refusal(f: () => unknown): CheckpointError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(CheckpointError);
    return e as CheckpointError;
  }
  throw new Error('accepted');
}

describe('placing a ConvNeXt', () => {
  it('timm names under a Lightning prefix: architecture from the shapes, gamma as layer_scale [C, 1, 1], the same byte ranges', () => {
    const table = timmTable();
    const placed = placeConvNeXt(table);
    expect(placed).toMatchObject({ layout: 'timm', prefix: 'model.', architecture: { dims: [4, 8, 12, 16], depths: [1, 1, 2, 1], numClasses: 3 } });
    expect(placed.weights.length).toBe(table.length);
    const scale = placed.weights.find((w) => w.name === 'features.5.1.layer_scale')!;
    expect(scale.shape).toEqual([12, 1, 1]);
    expect(scale.tensor.key).toBe('model.stages.2.blocks.1.gamma');
    expect(placed.weights.find((w) => w.name === 'classifier.2.weight')!.tensor.key).toBe('model.head.fc.weight');
  });

  it('torchvision names, bare: every name matches the data file’s pattern', () => {
    const table = timmTable('').map((t) => {
      const name = timmToTorchvision(t.key)!;
      return { ...t, key: name, shape: name.endsWith('layer_scale') ? [t.shape[0]!, 1, 1] : t.shape };
    });
    const re = new RegExp(`^(?:${keys.torchvisionKey})$`);
    expect(table.every((t) => re.test(t.key))).toBe(true);
    const placed = placeConvNeXt(table);
    expect(placed).toMatchObject({ layout: 'torchvision', prefix: '', architecture: { dims: [4, 8, 12, 16], depths: [1, 1, 2, 1], numClasses: 3 } });
  });

  it('timm and torchvision names map one to one', () => {
    for (const t of timmTable('')) expect(torchvisionToTimm(timmToTorchvision(t.key)!)).toBe(t.key);
  });

  it('float16 weights are placed as they are', () => {
    expect(placeConvNeXt(timmTable('net.', 'float16')).prefix).toBe('net.');
  });
});

describe('refusals name the checkpoint’s keys', () => {
  it('a missing key and a misshapen head', () => {
    const table = timmTable().filter((t) => t.key !== 'model.stages.1.blocks.0.mlp.fc1.bias');
    expect(refusal(() => placeConvNeXt(table)).message).toBe('missing 1 key(s): model.stages.1.blocks.0.mlp.fc1.bias');
    const wrong = timmTable().map((t) => (t.key === 'model.head.fc.weight' ? { ...t, shape: [3, 17] } : t));
    expect(refusal(() => placeConvNeXt(wrong)).message).toBe('1 tensor(s) of the wrong shape: model.head.fc.weight [3, 17] (the model needs [3, 16])');
  });

  it('keys it cannot place, unless ignored; two models; mixed naming', () => {
    const extra = [...timmTable(), { ...timmTable()[0]!, key: 'model.loss.weight' }];
    expect(refusal(() => placeConvNeXt(extra)).message).toMatch(/^could not place 1 key\(s\) of the checkpoint: model\.loss\.weight/);
    expect(placeConvNeXt(extra, { ignore: ['loss'] }).weights.length).toBe(timmTable().length);
    expect(refusal(() => placeConvNeXt([...timmTable(), ...timmTable('ema.')])).message).toMatch(/several models in one checkpoint \(key prefixes ema\., model\.\)/);
    const mixed = timmTable().map((t) => (t.key === 'model.head.fc.bias' ? { ...t, key: 'model.classifier.2.bias' } : t));
    expect(refusal(() => placeConvNeXt(mixed)).message).toMatch(/mixes timm and torchvision/);
  });

  it('no stem, integer weights, a one-class head, a view with gaps', () => {
    expect(refusal(() => placeConvNeXt(timmTable().slice(1))).message).toMatch(/found no ConvNeXt stem/);
    expect(refusal(() => placeConvNeXt(timmTable('model.', 'int64'))).message).toBe('model.stem.0.weight holds int64 values; a ConvNeXt weight is a floating-point tensor');
    const one = timmTable().map((t) => (t.key === 'model.head.fc.weight' ? { ...t, shape: [1, 16] } : t.key === 'model.head.fc.bias' ? { ...t, shape: [1] } : t));
    expect(refusal(() => placeConvNeXt(one)).message).toMatch(/1 output\(s\); a classifier needs at least 2/);
    const gaps = timmTable().map((t) => (t.key === 'model.stages.0.blocks.0.mlp.fc1.weight' ? { ...t, stride: [1, 16], contiguous: false } : t));
    const e = refusal(() => placeConvNeXt(gaps));
    expect(e.kind).toBe('bad-tensor');
    expect(e.message).toMatch(/model\.stages\.0\.blocks\.0\.mlp\.fc1\.weight \[16, 4\] stride \[1, 16\]/);
  });
});

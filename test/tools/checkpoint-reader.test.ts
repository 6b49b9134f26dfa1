// The TypeScript checkpoint reader (src/detector/checkpoint/) on checkpoints PyTorch writes at
// test time: its tensor table must be what torch.load reports (names, dtypes, shapes, strides,
// and the values' bytes at each byte range), its key placement what the converter decides, and
// every file torch.save would not write must end in a typed CheckpointError.

import { existsSync, openAsBlob, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CheckpointError } from '../../src/detector/checkpoint/errors';
import { placeConvNeXt } from '../../src/detector/checkpoint/placement';
import { blobSource, bytesSource } from '../../src/detector/checkpoint/source';
import { readCheckpointTensors, type CheckpointTensors } from '../../src/detector/checkpoint/tensors';
import { Inert, PickleDict, unpickle } from '../../src/detector/checkpoint/unpickle';
import { locateEntry, readZip, readZipDirectory } from '../../src/detector/checkpoint/zip';
import { fileSource, gather, sha256 } from '../support/checkpoint-source';
import { runPython } from '../support/python';
import { makeCheckpoints, removeTempDirs, tempDir, type Checkpoints } from './support';

interface Reported {
  key: string;
  dtype: string;
  shape: number[];
  stride: number[];
  contiguous: boolean;
  sha256: string;
}

const MADE = ['lightning-timm', 'timm', 'torchvision', 'hostile', 'wrong-head', 'missing-keys', 'extra-keys', 'not-convnext', 'corrupt', 'garbage'];
const CASES = ['fp16', 'mixed-dtypes', 'adam', 'reversed', 'shared', 'zip64', 'deflated', 'eval-global'];
/** Files PyTorch reads back as a state_dict. */
const READABLE = ['lightning-timm', 'timm', 'torchvision', 'hostile', 'wrong-head', 'missing-keys', 'extra-keys', 'not-convnext', 'fp16', 'mixed-dtypes', 'adam', 'reversed', 'shared', 'zip64', 'eval-global'];

let ck: Checkpoints;
let marker: string;
// adam.ckpt holds Lightning's AttributeDict (a dict subclass) as hyper-parameters, as real Lightning files do.
const ACCEPTED = ['lightning-timm', 'timm', 'torchvision', 'hostile', 'fp16', 'reversed', 'zip64', 'adam'];
const PLACED = [...ACCEPTED, 'wrong-head', 'missing-keys', 'not-convnext', 'extra-keys'];

interface ConverterPlacement {
  error?: string;
  layout?: string;
  prefix?: string;
  arch?: number[][];
  names?: Array<[string, number[]]>;
}

const CONVERTER_PY = `
import json, sys
sys.path.insert(0, 'tools')
from realfake_ref.checkpoint import *
out = {}
for layout, path in zip(sys.argv[1::2], sys.argv[2::2]):
    try:
        p = place_weights(find_state_dict(read_checkpoint(path)))
        a = infer_architecture(p)
        m = build_module(a)
        load_into(m, p)
        out[layout] = {'layout': p.layout, 'prefix': p.prefix, 'arch': [a.dims, a.depths, [a.num_classes]],
                       'names': [[k, list(v.shape)] for k, v in m.state_dict().items()]}
    except CheckpointError as e:
        out[layout] = {'error': str(e)}
print(json.dumps(out))
`;

/** What the converter's own placement (tools/realfake_ref/checkpoint.py) decides for each file. */
async function converterPlacements(layouts: string[]): Promise<Record<string, ConverterPlacement>> {
  const r = await runPython(['-c', CONVERTER_PY, ...layouts.flatMap((l) => [l, ck.path(l)])]);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout);
}

let converter: Record<string, ConverterPlacement>;
const tablesByLayout = new Map<string, CheckpointTensors>();
let reported: Record<string, { tensors?: Reported[]; error?: string }>;

afterAll(removeTempDirs);

beforeAll(async () => {
  marker = join(tempDir('ckpt-marker'), 'HOSTILE-PAYLOAD-RAN');
  ck = await makeCheckpoints(MADE, ['--marker', marker]);
  const w = await runPython(['test/support/checkpoint_cases.py', 'write', ck.dir]);
  expect(w.code, w.stderr).toBe(0);
  // torch.load itself, but for the two files whose unpickling would run their payload.
  const hostile = ['hostile', 'eval-global'];
  const plain = await runPython(['test/support/checkpoint_cases.py', 'report', ...[...MADE, ...CASES].filter((l) => !hostile.includes(l)).map((l) => ck.path(l))]);
  const safe = await runPython(['test/support/checkpoint_cases.py', 'report', '--safe', ...hostile.map((l) => ck.path(l))]);
  expect(plain.code, plain.stderr).toBe(0);
  expect(safe.code, safe.stderr).toBe(0);
  reported = { ...JSON.parse(plain.stdout), ...JSON.parse(safe.stdout) };
  converter = await converterPlacements(PLACED);
  for (const layout of ['wrong-head', 'missing-keys', 'not-convnext', 'extra-keys', 'lightning-timm']) tablesByLayout.set(layout, await readTable(layout));
});

async function readTable(layout: string): Promise<CheckpointTensors> {
  const source = await fileSource(ck.path(layout));
  try {
    return await readCheckpointTensors(source);
  } finally {
    await source.close();
  }
}

async function refusal(layout: string): Promise<CheckpointError> {
  const e = await readTable(layout).then(
    () => null,
    (err: unknown) => err,
  );
  expect(e, layout).toBeInstanceOf(CheckpointError);
  return e as CheckpointError;
}

describe('the tensor table against torch.load', () => {
  it.each(READABLE)('%s: every key, dtype, shape, stride, and the values at each byte range', async (layout) => {
    const expected = reported[ck.path(layout)]?.tensors;
    expect(expected, JSON.stringify(reported[ck.path(layout)])).toBeDefined();
    const table = await readTable(layout);
    const file = readFileSync(ck.path(layout));
    expect(table.tensors.map((t) => t.key)).toEqual(expected!.map((t) => t.key));
    for (const [i, t] of table.tensors.entries()) {
      const want = expected![i]!;
      expect({ dtype: t.dtype, shape: t.shape, stride: t.stride, contiguous: t.contiguous }, t.key).toEqual({
        dtype: want.dtype,
        shape: want.shape,
        stride: want.stride,
        contiguous: want.contiguous,
      });
      const span = file.subarray(t.start, t.end);
      const values = t.contiguous ? span : gather(span, t.shape, t.stride, t.itemSize);
      expect(sha256(values), t.key).toBe(want.sha256);
    }
  });

  it('shared storages: tensors viewing one storage point into the same archive entry', async () => {
    const table = await readTable('shared');
    const by = Object.fromEntries(table.tensors.map((t) => [t.key, t]));
    expect(new Set(['first', 'second', 'whole', 'grid', 'transposed', 'column'].map((k) => by[k]!.storageEntry)).size).toBe(1);
    expect(by.other!.storageEntry).not.toBe(by.whole!.storageEntry);
    expect(by.second!.start - by.whole!.start).toBe(16 * 4);
  });

  it('reads the same table from a Blob (a File the user picked) as from a file handle, and from bytes in memory', async () => {
    const fromFile = await readTable('adam');
    const fromBlob = await readCheckpointTensors(blobSource(await openAsBlob(ck.path('adam'))));
    const fromBytes = await readCheckpointTensors(bytesSource(readFileSync(ck.path('adam'))));
    expect(fromBlob.tensors).toEqual(fromFile.tensors);
    expect(fromBytes.tensors).toEqual(fromFile.tensors);
  });

  it("the zip reader agrees with Python's zipfile on every entry, and torch.save's entries are stored and 64-byte aligned", async () => {
    for (const layout of ['lightning-timm', 'zip64']) {
      const r = await runPython([
        '-c',
        'import json, sys, zipfile\nz = zipfile.ZipFile(sys.argv[1])\nprint(json.dumps([[i.filename, i.file_size, i.CRC, i.header_offset, i.compress_type] for i in z.infolist()]))',
        ck.path(layout),
      ]);
      const zipfile = JSON.parse(r.stdout) as Array<[string, number, number, number, number]>;
      const source = await fileSource(ck.path(layout));
      const entries = await readZip(source);
      await source.close();
      expect(entries.map((e) => [e.name, e.size, e.crc32, e.localHeaderOffset, e.method])).toEqual(zipfile);
      const file = readFileSync(ck.path(layout));
      const pkl = entries.find((e) => e.name.endsWith('/data.pkl'))!;
      expect(file.subarray(pkl.dataOffset, pkl.dataOffset + 2)).toEqual(Buffer.from([0x80, 0x02])); // pickle protocol 2
      if (layout === 'lightning-timm') {
        expect((await readZipDirectory(bytesSource(file))).zip64).toBe(true); // PyTorch always writes the zip64 records
        for (const e of entries.filter((x) => x.name.includes('/data/'))) expect(e.dataOffset % 64, e.name).toBe(0);
      }
    }
  });
});

describe('pickled objects other than tensors stay inert', () => {
  async function root(layout: string): Promise<{ value: PickleDict; placeholders: string[] }> {
    const file = readFileSync(ck.path(layout));
    const dir = await readZipDirectory(bytesSource(file));
    const pkl = await locateEntry(bytesSource(file), dir.entries.find((e) => e.name.endsWith('/data.pkl'))!);
    const { value, placeholders } = unpickle(file.subarray(pkl.dataOffset, pkl.dataOffset + pkl.size));
    expect(value).toBeInstanceOf(PickleDict);
    return { value: value as PickleDict, placeholders };
  }

  it('os.system and builtins.eval payloads become placeholders; nothing runs', async () => {
    const hostile = await root('hostile');
    expect(hostile.placeholders).toEqual(['posix.system']);
    const payload = (hostile.value.get('hyper_parameters') as PickleDict).get('payload');
    expect(payload).toEqual(new Inert('posix.system'));
    expect((await readTable('hostile')).placeholders).toEqual(['posix.system']);

    const evil = await root('eval-global');
    // Protocol 2 names the module as Python 2 did: __builtin__ (as os.system is posix.system).
    expect(evil.placeholders).toEqual(['__builtin__.eval']);
    expect((evil.value.get('hyper_parameters') as PickleDict).get('payload')).toEqual(new Inert('__builtin__.eval'));
    expect(existsSync(marker)).toBe(false);
    expect(existsSync(join(ck.dir, 'EVAL-PAYLOAD-RAN'))).toBe(false);
  });

  it("Lightning's AttributeDict, a custom hyper-parameter class and Adam's state: placeholders and plain data beside the state_dict", async () => {
    const adam = await root('adam');
    expect(adam.placeholders).toEqual(['__main__.HyperParameters', 'pytorch_lightning.utilities.parsing.AttributeDict']);
    expect(adam.value.get('hyper_parameters')).toEqual(new Inert('pytorch_lightning.utilities.parsing.AttributeDict'));
    expect(adam.value.get('epoch')).toBe(4);
    const table = await readTable('adam');
    expect(table.container).toBe('state_dict');
    expect(table.tensors.every((t) => t.key.startsWith('model.'))).toBe(true);
  });
});

describe('key placement against the converter', () => {
  const converterPlacement = (layout: string): ConverterPlacement => converter[layout] as ConverterPlacement;

  it.each(ACCEPTED)(
    '%s: the same layout, prefix, architecture and torchvision names and shapes; the same bytes as the torchvision file',
    async (layout) => {
      const want = converterPlacement(layout);
      const placed = placeConvNeXt((await readTable(layout)).tensors);
      expect({ layout: placed.layout, prefix: placed.prefix }).toEqual({ layout: want.layout, prefix: want.prefix });
      const a = placed.architecture;
      expect([a.dims, a.depths, [a.numClasses]]).toEqual(want.arch);
      expect(placed.weights.map((w) => [w.name, w.shape])).toEqual(want.names);
      if (layout === 'fp16') return;
      // Every layout holds one network: each placed weight's bytes are torchvision's tensor of that name.
      const tv = Object.fromEntries(reported[ck.path('torchvision')]!.tensors!.map((t) => [t.key, t.sha256]));
      const file = readFileSync(ck.path(layout));
      for (const w of placed.weights) expect(sha256(file.subarray(w.tensor.start, w.tensor.end)), `${layout} ${w.tensor.key}`).toBe(tv[w.name]);
    },
  );

  it.each(['wrong-head', 'missing-keys', 'not-convnext'])('%s: refused with the converter’s message', async (layout) => {
    const want = converterPlacement(layout);
    expect(want.error).toBeDefined();
    const e = (() => {
      try {
        placeConvNeXt(tablesByLayout.get(layout)!.tensors);
        return null;
      } catch (err) {
        return err;
      }
    })();
    expect(e).toBeInstanceOf(CheckpointError);
    expect((e as CheckpointError).kind).toBe('wrong-model');
    expect((e as CheckpointError).message).toBe(want.error);
  });

  it('extra-keys: two models behind two prefixes, as the converter finds', async () => {
    const want = converterPlacement('extra-keys');
    expect(want.error).toMatch(/several models in one checkpoint \(key prefixes \['model\.', 'model_ema\.'\]\)/);
    expect(() => placeConvNeXt(tablesByLayout.get('extra-keys')!.tensors)).toThrow(/several models in one checkpoint \(key prefixes model\., model_ema\.\)/);
    // With the EMA copy and the loss left out, as with the converter's --ignore: only the loss remains unplaced.
    expect(() => placeConvNeXt(tablesByLayout.get('extra-keys')!.tensors, { ignore: ['^model_ema\\.'] })).toThrow(
      /could not place 1 key\(s\) of the checkpoint: model\.loss_fn\.weight/,
    );
    const kept = placeConvNeXt(tablesByLayout.get('extra-keys')!.tensors, { ignore: ['^model_ema\\.', 'loss_fn'] });
    const plain = placeConvNeXt(tablesByLayout.get('lightning-timm')!.tensors);
    expect(kept.weights.map((w) => [w.name, w.tensor.key])).toEqual(plain.weights.map((w) => [w.name, w.tensor.key]));
  });
});

describe('files torch.save would not write', () => {
  it('a download cut in half: truncated', async () => {
    expect((await refusal('corrupt')).kind).toBe('truncated');
  });

  it('random bytes: not a zip', async () => {
    expect((await refusal('garbage')).kind).toBe('not-zip');
  });

  it('an HTML page where the file should be: not a zip, saying it looks like a web page', async () => {
    const path = join(ck.dir, 'page.ckpt');
    writeFileSync(path, '<!DOCTYPE html>\n<html><head><title>Sign in</title></head><body>Please sign in</body></html>\n');
    const source = await fileSource(path);
    const e = await readCheckpointTensors(source).catch((err: unknown) => err);
    await source.close();
    expect(e).toBeInstanceOf(CheckpointError);
    expect((e as CheckpointError).kind).toBe('not-zip');
    expect((e as CheckpointError).message).toMatch(/web page/);
  });

  it('entries compressed with deflate: refused, naming the entry', async () => {
    const e = await refusal('deflated');
    expect(e.kind).toBe('unsupported-entry');
    expect(e.message).toMatch(/lightning-timm\/data\.pkl is compressed \(deflate\)/);
  });
});

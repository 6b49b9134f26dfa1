// The graph/weights split the engine uses to keep the model file out of the WebAssembly heap:
// checked against onnxruntime-node (its own protobuf parser and external-data loader) on the
// committed fixture models, and against malformed input.

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import ort from 'onnxruntime-node';
import { afterAll, describe, expect, it } from 'vitest';
import { externalizeInitializers, OnnxFormatError } from '../../src/detector/onnx-external';
import { probeInput } from '../../src/detector/probe';

const MODELS = [resolve(import.meta.dirname, '../../models/fixture'), resolve(import.meta.dirname, '../fixtures/models/fixture-fp16')];
const tmp = mkdtempSync(join(tmpdir(), 'rfl-external-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

async function logits(modelPath: string): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(modelPath);
  const input = new ort.Tensor('float32', probeInput(2, 224, 224), [2, 3, 224, 224]);
  const out = await session.run({ [session.inputNames[0] as string]: input });
  const data = out[session.outputNames[0] as string]?.data as Float32Array;
  await session.release();
  return data;
}

describe('externalizeInitializers', () => {
  for (const dir of MODELS) {
    it(`moves the weights of ${dir.split('/').pop()} out of the graph, and onnxruntime reads them back by offset`, async () => {
      const model = new Uint8Array(readFileSync(join(dir, 'model.onnx')));
      const split = await externalizeInitializers(model, 'weights.bin');
      if (!split) throw new Error('nothing externalized');
      // Read from a Blob (a file, a small window at a time), the split is the same bytes.
      const fromBlob = await externalizeInitializers(new Blob([model]), 'weights.bin');
      expect(fromBlob?.graph).toEqual(split.graph);
      console.log(`${dir.split('/').pop()}: ${model.length} bytes -> graph ${split.graph.length} bytes + ${split.tensors} tensors (${split.bytes} bytes) by offset`);
      expect(split.graph.length + split.bytes).toBeLessThanOrEqual(model.length + split.tensors * 64);
      expect(split.graph.length).toBeLessThan(model.length / 4);
      // The original file, unchanged, is the external data file: onnxruntime-node finds it next to the graph.
      const work = mkdtempSync(join(tmp, 'm-'));
      writeFileSync(join(work, 'graph.onnx'), split.graph);
      writeFileSync(join(work, 'weights.bin'), model);
      const [want, got] = [await logits(join(dir, 'model.onnx')), await logits(join(work, 'graph.onnx'))];
      expect(Array.from(got)).toEqual(Array.from(want));
    });
  }

  it('leaves a model that already uses external data alone, and one with no large weights', async () => {
    const model = new Uint8Array(readFileSync(join(MODELS[0] as string, 'model.onnx')));
    const split = await externalizeInitializers(model, 'weights.bin');
    expect(await externalizeInitializers(split?.graph ?? new Uint8Array(), 'again.bin')).toBeNull();
    expect(await externalizeInitializers(new Blob([split?.graph ?? new Uint8Array()]), 'again.bin')).toBeNull();
    expect(await externalizeInitializers(model, 'weights.bin', Number.MAX_SAFE_INTEGER)).toBeNull();
  });

  it('refuses malformed protobuf with its own error, never reading past the end', async () => {
    const model = new Uint8Array(readFileSync(join(MODELS[0] as string, 'model.onnx')));
    const cases = [
      model.subarray(0, model.length - 7), // truncated inside the graph
      Uint8Array.from([0x3a, 0xff, 0xff, 0xff, 0xff, 0x0f]), // graph field claiming 4 GB
      Uint8Array.from([0x3a, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01]), // 11-byte varint
      Uint8Array.from([0x3b, 0x00]), // wire type 3 (groups)
      Uint8Array.from([0x00, 0x00]), // field number 0
    ];
    for (const c of cases) {
      await expect(externalizeInitializers(c, 'weights.bin')).rejects.toThrow(OnnxFormatError);
      await expect(externalizeInitializers(new Blob([c]), 'weights.bin')).rejects.toThrow(OnnxFormatError);
    }
  });
});

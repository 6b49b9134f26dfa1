// The committed fixture manifest parses; each kind of bad field is refused by name.

import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ManifestError, parseManifest } from '../../src/detector/manifest';

const FIXTURE = resolve(import.meta.dirname, '../../models/fixture/manifest.json');
// The edits below reach into arbitrary JSON on purpose.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;
const valid = (): Record<string, Json> => JSON.parse(readFileSync(FIXTURE, 'utf8'));

/** Applies `edit` to a fresh copy of the fixture manifest. */
function broken(edit: (m: Record<string, Json>) => void): Record<string, Json> {
  const m = valid();
  edit(m);
  return m;
}

describe('parseManifest', () => {
  it('accepts the committed fixture manifest as it is', () => {
    const m = parseManifest(valid());
    expect(m.id).toBe('realfake-fixture');
    expect(m.fixture).toBe(true);
    // The published model's preset (realfake/config.py LABELS = {"real": 0, "fake": 1}; realfake/data.py).
    expect(m.labels).toEqual(['real', 'fake']);
    expect(m.generatedIndex).toBe(1);
    expect(m.preprocessing.resize).toEqual({ mode: 'square', size: 256, interpolation: 'opencv-linear' });
    expect(m.preprocessing.library).toBe('albumentations');
    expect(m.preset?.name).toBe('laion-realfake');
    expect(m.preset?.sources.labels).toMatch(/realfake\/config\.py/);
    expect(m.probe.logits).toHaveLength(m.probe.batch * m.labels.length);
    expect(m.variantOf).toBeNull();
  });

  it('reads a manifest written before presets as the torchvision recipe with no preset', () => {
    const m = parseManifest(
      broken((m) => {
        delete m.preset;
        delete m.preprocessing.library;
        m.preprocessing.resize.interpolation = 'bilinear';
      }),
    );
    expect(m.preprocessing.library).toBe('torchvision');
    expect(m.preprocessing.resize.interpolation).toBe('bilinear');
    expect(m.preset).toBeNull();
  });

  it("reads variantOf: another model's id", () => {
    expect(parseManifest(broken((m) => (m.variantOf = 'realfake'))).variantOf).toBe('realfake');
  });

  // An int8 variant as tools/realfake_ref/export.py build_manifest writes it (variant_of + agreement).
  const int8 = (m: Record<string, Json>): void => {
    m.id = 'realfake-int8';
    m.precision = 'int8';
    m.variantOf = 'realfake';
    m.agreement = { with: 'realfake', images: 21, photos: 9, synthetic: 12, maxAbsP: 0.0146, meanAbsP: 0.0041, labelAgreement: 1, threshold: 0.5 };
  };

  it('reads an int8 variant and its measured agreement with the model it was made from', () => {
    const m = parseManifest(broken(int8));
    expect(m.precision).toBe('int8');
    expect(m.agreement).toEqual({ with: 'realfake', images: 21, photos: 9, synthetic: 12, maxAbsP: 0.0146, meanAbsP: 0.0041, labelAgreement: 1, threshold: 0.5 });
    expect(parseManifest(valid()).agreement).toBeNull();
  });

  const cases: Array<[string, RegExp, (m: Record<string, Json>) => void]> = [
    ['agreement with another model than variantOf', /agreement\.with/, (m) => (int8(m), (m.agreement.with = 'other'))],
    ['agreement without variantOf', /agreement\.with/, (m) => (int8(m), (m.variantOf = null))],
    ['agreement share above 1', /agreement\.labelAgreement/, (m) => (int8(m), (m.agreement.labelAgreement = 21))],
    ['agreement over no pictures', /agreement\.images/, (m) => (int8(m), (m.agreement.images = 0))],
    ['agreement |Δp| missing', /agreement\.maxAbsP/, (m) => (int8(m), delete m.agreement.maxAbsP)],
    ['agreement not an object', /agreement/, (m) => (int8(m), (m.agreement = 'good'))],
    ['not an object', /\(root\)/, () => {}],
    ['schemaVersion', /schemaVersion/, (m) => (m.schemaVersion = 2)],
    ['id with capitals', /\bid\b/, (m) => (m.id = 'Realfake')],
    ['missing name', /\.name/, (m) => delete m.name],
    ['version not a string', /\.version/, (m) => (m.version = 1)],
    ['fixture not a boolean', /fixture/, (m) => (m.fixture = 'yes')],
    ['source missing', /\.source/, (m) => delete m.source],
    ['source.origin empty', /source\.origin/, (m) => (m.source.origin = '')],
    ['source.sha256 malformed', /source\.sha256/, (m) => (m.source.sha256 = 'abc')],
    ['onnx.file with a path', /onnx\.file/, (m) => (m.onnx.file = '../model.onnx')],
    ['onnx.sha256 upper case', /onnx\.sha256/, (m) => (m.onnx.sha256 = m.onnx.sha256.toUpperCase())],
    ['onnx.bytes zero', /onnx\.bytes/, (m) => (m.onnx.bytes = 0)],
    ['onnx.opset fractional', /onnx\.opset/, (m) => (m.onnx.opset = 17.5)],
    ['precision', /precision/, (m) => (m.precision = 'int4')],
    ['input.shape with 4 channels', /input\.shape/, (m) => (m.input.shape = ['batch', 4, 224, 224])],
    ['input.shape not the crop', /input\.shape.*224x224/, (m) => (m.input.shape = ['batch', 3, 256, 256])],
    ['input.name', /input\.name/, (m) => delete m.input.name],
    ['output.name', /output\.name/, (m) => (m.output.name = '')],
    ['labels too few', /labels/, (m) => (m.labels = ['fake'])],
    ['generatedIndex out of range', /generatedIndex/, (m) => (m.generatedIndex = 2)],
    ['generatedIndex negative', /generatedIndex/, (m) => (m.generatedIndex = -1)],
    ['resize.mode', /preprocessing\.resize\.mode/, (m) => (m.preprocessing.resize.mode = 'longer-side')],
    ['resize.interpolation', /preprocessing\.resize\.interpolation/, (m) => (m.preprocessing.resize.interpolation = 'bicubic')],
    ['resize.size', /preprocessing\.resize\.size/, (m) => (m.preprocessing.resize.size = 0)],
    ['centerCrop', /preprocessing\.centerCrop/, (m) => (m.preprocessing.centerCrop = '224')],
    ['library', /preprocessing\.library/, (m) => (m.preprocessing.library = 'opencv')],
    ['albumentations crop above the resize', /preprocessing\.centerCrop/, (m) => (m.preprocessing.resize.size = 200)],
    ['preset not an object', /preset/, (m) => (m.preset = 'laion-realfake')],
    ['preset source not a string', /preset\.sources\.labels/, (m) => (m.preset.sources.labels = 1)],
    ['mean of 2', /preprocessing\.mean/, (m) => (m.preprocessing.mean = [0.5, 0.5])],
    ['std zero', /preprocessing\.std/, (m) => (m.preprocessing.std = [0.229, 0, 0.225])],
    ['variantOf its own id', /variantOf/, (m) => (m.variantOf = m.id)],
    ['variantOf not an id', /variantOf/, (m) => (m.variantOf = '../x')],
    ['variantOf a number', /variantOf/, (m) => (m.variantOf = 1)],
    ['probe.batch', /probe\.batch/, (m) => (m.probe.batch = 0)],
    ['probe.logits wrong count', /probe\.logits/, (m) => m.probe.logits.pop()],
    ['probe.logits not finite', /probe\.logits/, (m) => (m.probe.logits[0] = null)],
    ['probe.tolerance negative', /probe\.tolerance/, (m) => (m.probe.tolerance = -1)],
  ];

  for (const [what, message, edit] of cases) {
    it(`refuses ${what}, naming the field`, () => {
      const input = what === 'not an object' ? [] : broken(edit);
      expect(() => parseManifest(input)).toThrow(ManifestError);
      expect(() => parseManifest(input)).toThrow(message);
    });
  }
});

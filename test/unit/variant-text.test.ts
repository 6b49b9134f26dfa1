// The options page's words for variants: the role of each kind, and an int8 variant's measured
// agreement written out with its numbers (worked by hand from the manifest figures below).

import { describe, expect, it } from 'vitest';
import { agreementText, variantRole } from '../../src/options/variant-text';

describe('variantRole', () => {
  it('says an int8 variant is used only when chosen, and an fp16 one stands in on WebGPU', () => {
    expect(variantRole({ precision: 'int8', variantOf: 'realfake' })).toBe(
      'int8 variant of realfake: about a quarter of the size, runs on WebAssembly; used only if you choose it',
    );
    expect(variantRole({ precision: 'fp16', variantOf: 'realfake' })).toBe('variant of realfake, used instead of it on WebGPU with shader-f16');
    expect(variantRole({ precision: 'fp32', variantOf: null })).toBeNull();
  });
});

describe('agreementText', () => {
  it('writes the counts and the score differences in points out of 100', () => {
    const a = { with: 'realfake', images: 21, photos: 9, synthetic: 12, maxAbsP: 0.0187, meanAbsP: 0.00512, labelAgreement: 20 / 21, threshold: 0.5 };
    expect(agreementText(a)).toBe(
      'Compared with realfake when converted: the same verdict on 20 of 21 test pictures (9 photographs, 12 synthetic; verdicts at 50%); ' +
        'scores differ by at most 1.9 points out of 100 (mean 0.5).',
    );
    expect(agreementText({ ...a, maxAbsP: 0.123, labelAgreement: 1 })).toMatch(/the same verdict on 21 of 21 .* at most 12 points/);
  });

  it('says when the import measured it in the browser, on test inputs and synthetic pictures only', () => {
    const a = { with: 'ckpt-x', images: 14, photos: 0, synthetic: 12, probes: 2, maxAbsP: 0.0042, meanAbsP: 0.0011, labelAgreement: 13 / 14, threshold: 0.5, measuredBy: 'browser' as const };
    expect(agreementText(a)).toBe(
      'Compared with ckpt-x when imported, in this browser: the same verdict on 13 of 14 test pictures (2 test inputs, 12 synthetic; verdicts at 50%); ' +
        'scores differ by at most 0.4 points out of 100 (mean 0.1).',
    );
  });
});

// The pure parts of `npm run eval` (tools/eval/) on tiny cases worked out by hand: metrics, ROC AUC
// with ties, the threshold sweep, histograms, manifest parsing, PIL's CMYK conversion and the
// report's markup escaping.

import { describe, expect, it } from 'vitest';
import { parseCsv, parseLabel, samplesFromCsv, samplesFromJsonl } from '../../tools/eval/dataset';
import { cmykToRgba, expandToRgba } from '../../tools/eval/decode-node';
import { fragment, h } from '../../tools/eval/markup';
import {
  confidentMistakes,
  confusion,
  histogram,
  metricsAt,
  midranks,
  rocAuc,
  rocCurve,
  sweepThresholds,
  trapezoidArea,
  type Scored,
} from '../../tools/eval/metrics';

const real = (p: number): Scored => ({ generated: false, p });
const fake = (p: number): Scored => ({ generated: true, p });

describe('confusion matrix and threshold metrics', () => {
  // real 0.2, real 0.5, generated 0.5, generated 0.9 at threshold 0.5 (at or above = generated):
  // TP = 2 (0.5, 0.9), FP = 1 (real 0.5), TN = 1 (0.2), FN = 0.
  const items = [real(0.2), real(0.5), fake(0.5), fake(0.9)];

  it('counts a score equal to the threshold as generated', () => {
    expect(confusion(items, 0.5)).toEqual({ tp: 2, fp: 1, tn: 1, fn: 0 });
    expect(confusion(items, 0.50001)).toEqual({ tp: 1, fp: 0, tn: 2, fn: 1 });
  });

  it('accuracy 3/4, precision 2/3, recall 1, F1 0.8, FPR 1/2', () => {
    const m = metricsAt(items, 0.5);
    expect(m.accuracy).toBe(0.75);
    expect(m.precision).toBe(2 / 3);
    expect(m.recall).toBe(1);
    expect(m.f1).toBe(0.8); // 2PR/(P+R) = (4/3)/(5/3)
    expect(m.falsePositiveRate).toBe(0.5);
  });

  it('says "undefined" (null) instead of dividing by zero', () => {
    const m = metricsAt([real(0.1), fake(0.2)], 0.5); // nothing predicted generated
    expect(m.precision).toBeNull();
    expect(m.recall).toBe(0);
    expect(m.f1).toBe(0);
    expect(metricsAt([real(0.1)], 0.5).recall).toBeNull();
    expect(metricsAt([], 0.5).accuracy).toBeNull();
  });
});

describe('ROC AUC', () => {
  it('is 0.75 when one of the four generated/real pairs is out of order', () => {
    // (generated, real) pairs: (0.4, 0.1) right, (0.4, 0.6) wrong, (0.8, 0.1) right, (0.8, 0.6) right.
    expect(rocAuc([real(0.1), fake(0.4), real(0.6), fake(0.8)])).toBe(0.75);
  });

  it('counts a tied pair as one half (midranks)', () => {
    // generated {0.5, 0.9} vs real {0.5, 0.2}: pairs 0.5~0.5 = 1/2, the other three = 1 -> 3.5 / 4.
    expect(midranks([0.5, 0.2, 0.5, 0.9])).toEqual([2.5, 1, 2.5, 4]);
    expect(rocAuc([real(0.5), real(0.2), fake(0.5), fake(0.9)])).toBe(0.875);
    // All scores equal: every pair is a tie.
    expect(rocAuc([real(0.3), real(0.3), fake(0.3)])).toBe(0.5);
    // Perfectly wrong ordering.
    expect(rocAuc([real(0.9), fake(0.1), fake(0.2)])).toBe(0);
  });

  it('equals the trapezoid area under the ROC curve, ties moving diagonally', () => {
    const items = [real(0.5), real(0.2), fake(0.5), fake(0.9)];
    const curve = rocCurve(items);
    // threshold 0.9: TPR 1/2; 0.5: one of each -> (1/2, 1); 0.2: (1, 1).
    expect(curve.map((p) => [p.fpr, p.tpr])).toEqual([[0, 0], [0, 0.5], [0.5, 1], [1, 1]]);
    expect(trapezoidArea(curve)).toBe(0.875);
    // A larger tie-heavy case, checked against the rank formula.
    const many = [real(0.1), real(0.1), fake(0.1), real(0.3), fake(0.3), fake(0.3), real(0.3), real(0.7), fake(0.7), fake(0.9), real(0.9), fake(1)];
    expect(trapezoidArea(rocCurve(many))).toBeCloseTo(rocAuc(many) ?? NaN, 12);
  });

  it('is undefined (null) with only one class', () => {
    expect(rocAuc([real(0.1), real(0.2)])).toBeNull();
    expect(rocAuc([fake(0.1)])).toBeNull();
    expect(rocCurve([fake(0.1)])).toEqual([]);
  });
});

describe('threshold sweep, histograms, mistakes', () => {
  it('sweeps 0.05 .. 0.95 in steps of 0.05, adding the chosen threshold once', () => {
    const t = sweepThresholds([0.5, 0.42]);
    expect(t.length).toBe(20);
    expect(t[0]).toBe(0.05);
    expect(t[t.length - 1]).toBe(0.95);
    expect(t).toContain(0.42);
    expect(t.filter((x) => x === 0.5).length).toBe(1);
    expect(t.map((x) => x.toFixed(2))).toContain('0.15'); // k / 20, not 3 * 0.05
    expect(t).toContain(0.15);
  });

  it('bins [lo, hi) with 1 in the last bin; values outside [0, 1] are left out', () => {
    expect(histogram([0, 0.05, 0.1, 0.55, 0.999, 1, 1.5, -0.1, Number.NaN], 10)).toEqual([2, 1, 0, 0, 0, 1, 0, 0, 0, 2]);
  });

  it('lists mistakes most confident first: p for a false positive, 1 - p for a false negative', () => {
    const items = [real(0.6), fake(0.05), real(0.95), fake(0.7), real(0.1), fake(0.45)];
    const m = confidentMistakes(items, 0.5, 10);
    expect(m.map((x) => [x.item.p, x.confidence])).toEqual([
      [0.05, 0.95], // ties keep input order
      [0.95, 0.95],
      [0.6, 0.6],
      [0.45, 0.55],
    ]);
    expect(confidentMistakes(items, 0.5, 2).length).toBe(2);
  });
});

describe('manifests', () => {
  it('parses RFC 4180 CSV: quotes, doubled quotes, commas and newlines in fields, CRLF', () => {
    expect(parseCsv('a,b\r\n"x,1","say ""hi"""\n"multi\nline",2\n\n')).toEqual([
      ['a', 'b'],
      ['x,1', 'say "hi"'],
      ['multi\nline', '2'],
    ]);
  });

  it('reads labels in the usual spellings, 1 = generated unless told otherwise', () => {
    for (const v of ['fake', 'FAKE', 'generated', 'synthetic', 1, '1', true, 'true']) expect(parseLabel(v), String(v)).toBe('fake');
    for (const v of ['real', 'REAL', 'authentic', 0, '0', false]) expect(parseLabel(v), String(v)).toBe('real');
    expect(parseLabel(1, 'real')).toBe('real');
    expect(parseLabel(0, 'real')).toBe('fake');
    expect(() => parseLabel('maybe')).toThrow('unknown label "maybe"');
    expect(() => parseLabel(2)).toThrow('unknown label 2');
  });

  it('CSV with a header naming the columns (any order), or headerless path,label; paths relative to the manifest', () => {
    expect(samplesFromCsv('label,Image\nreal,a.png\n1,/abs/b.jpg\n', '/data')).toEqual([
      { path: 'a.png', file: '/data/a.png', label: 'real' },
      { path: '/abs/b.jpg', file: '/abs/b.jpg', label: 'fake' },
    ]);
    expect(samplesFromCsv('x/a.png,fake\n"b,c.png",0\n', '/d')).toEqual([
      { path: 'x/a.png', file: '/d/x/a.png', label: 'fake' },
      { path: 'b,c.png', file: '/d/b,c.png', label: 'real' },
    ]);
    expect(() => samplesFromCsv('path,label\na.png,what\n', '/d')).toThrow('CSV line 2: unknown label "what"');
  });

  it('JSONL with path/image/file and label/target keys, other keys ignored', () => {
    const text = '{"path": "a.png", "label": "FAKE", "split": "test"}\n\n{"image": "b.png", "target": 0}\n{"file": "c.png", "is_fake": true}\n';
    expect(samplesFromJsonl(text, '/m')).toEqual([
      { path: 'a.png', file: '/m/a.png', label: 'fake' },
      { path: 'b.png', file: '/m/b.png', label: 'real' },
      { path: 'c.png', file: '/m/c.png', label: 'fake' },
    ]);
    expect(() => samplesFromJsonl('{"label": 1}\n', '/m')).toThrow('JSONL line 1: no path');
    expect(() => samplesFromJsonl('{"path": "a"}\n', '/m')).toThrow('JSONL line 1: no label');
    expect(() => samplesFromJsonl('not json\n', '/m')).toThrow('JSONL line 1: not valid JSON');
  });
});

describe('pixel conversions of the Node decoder', () => {
  it("converts CMYK as PIL's cmyk2rgb does (nk - c * nk / 255, rounded like MULDIV255)", () => {
    // (c, m, y, k) -> (r, g, b): k = 0: 255 - c; k = 255: black; c = 128, k = 128: nk = 127,
    // 128 * 127 / 255 = 63.75 -> MULDIV255 gives 64, so 127 - 64 = 63.
    const cmyk = new Uint8Array([255, 0, 10, 0, 7, 7, 7, 255, 128, 0, 255, 128]);
    expect(Array.from(cmykToRgba(cmyk, 3))).toEqual([0, 255, 245, 255, 0, 0, 0, 255, 63, 127, 0, 255]);
  });

  it('expands grey, grey + alpha and RGB to RGBA', () => {
    expect(Array.from(expandToRgba(new Uint8Array([9, 200]), 2, 1))).toEqual([9, 9, 9, 255, 200, 200, 200, 255]);
    expect(Array.from(expandToRgba(new Uint8Array([9, 0]), 1, 2))).toEqual([9, 9, 9, 0]);
    expect(Array.from(expandToRgba(new Uint8Array([1, 2, 3]), 1, 3))).toEqual([1, 2, 3, 255]);
  });
});

describe('report markup', () => {
  it('escapes text and attribute values; only built markup nests unescaped', () => {
    const evil = `"><script>alert('x')</script>&`;
    expect(h('p', { title: evil }, evil).markup).toBe(
      '<p title="&quot;&gt;&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;">&quot;&gt;&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;</p>',
    );
    expect(h('div', {}, h('b', {}, 1), [' ', 2], null, false, fragment('<'), h('br')).markup).toBe('<div><b>1</b> 2&lt;<br></div>');
    expect(() => h('p onclick=x', {})).toThrow('bad element name');
    expect(() => h('p', { 'on click': 'x' })).toThrow('bad attribute name');
    expect(h('input', { disabled: true, hidden: false, value: null }).markup).toBe('<input disabled>');
  });
});

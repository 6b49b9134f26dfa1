import { describe, expect, it } from 'vitest';
import type { Verdict } from '../../src/shared/protocol/shapes';
import { describeCard, describePreparation, describeVerdict, FIXTURE_WARNING, MODEL_LIMITS } from '../../src/shared/verdict-text';

const model = { id: 'm', name: 'Realfake ConvNeXt-L', fixture: false };
const done = (p: number, fixture = false): Verdict => ({
  status: 'done',
  pGenerated: p,
  threshold: 0.5,
  model: { ...model, fixture },
  fromCache: false,
});

describe('hotlink-protected pictures', () => {
  it('keeps the status on the badge when the detail explains the refusal', () => {
    const failed: Verdict = { status: 'failed', reason: 'http-error', detail: "HTTP 403, also with the page's address as referrer" };
    expect(describeVerdict(failed).label).toBe("Couldn't check: HTTP 403");
    expect(describeVerdict(failed).title).toContain("also with the page's address as referrer");
    expect(describeVerdict({ status: 'failed', reason: 'http-error', detail: 'HTTP 4031' }).label).toBe("Couldn't check: server error");
  });
  it('says which way the bytes came, on the badge and on its card', () => {
    const v = { ...(done(0.3) as Extract<Verdict, { status: 'done' }>), via: 'referrer' as const };
    expect(describeVerdict(v).title).toContain("with the page's address as referrer (no cookies)");
    expect(describeCard(v).lines.join(' ')).toContain("with the page's address as referrer (no cookies)");
    expect(describeCard({ ...v, via: 'cookies' }).lines.join(' ')).toContain("this site's cookies");
    expect(describeCard({ ...v, via: 'page' }).lines.join(' ')).toContain('the page read the picture itself');
    expect(describeVerdict(done(0.3)).title).not.toMatch(/referrer|cookies|the page read/);
  });
});

describe('describeVerdict', () => {
  it('says "checking" before a verdict arrives', () => {
    expect(describeVerdict(null)).toMatchObject({ state: 'checking', label: 'Checking…' });
  });
  it('labels by threshold, with the score as a percentage', () => {
    expect(describeVerdict(done(0.97))).toMatchObject({ state: 'generated', label: 'Likely generated 97%' });
    expect(describeVerdict(done(0.5))).toMatchObject({ state: 'generated', label: 'Likely generated 50%' });
    expect(describeVerdict(done(0.124))).toMatchObject({ state: 'real', label: 'Likely real 12%' });
    expect(describeVerdict(done(0.97)).ariaLabel).toBe('Realfake Lens: Likely generated 97%');
  });
  it('says plainly when the score comes from the test fixture', () => {
    const t = describeVerdict(done(0.8, true));
    expect(t.label.startsWith('TEST')).toBe(true);
    expect(t.title).toContain(FIXTURE_WARNING);
    expect(t.ariaLabel).toContain('test model');
    expect(describeVerdict(done(0.8)).title).not.toContain('TEST MODEL');
  });
  it('gives the label in its two parts, words and score, so that the badge draws the score apart', () => {
    expect(describeVerdict(done(0.97))).toMatchObject({ words: 'Likely generated', score: '97%' });
    expect(describeVerdict(done(0.124))).toMatchObject({ words: 'Likely real', score: '12%' });
    expect(describeVerdict(done(0.8, true))).toMatchObject({ words: 'TEST · Likely generated', score: '80%' });
    expect(describeVerdict(null)).toMatchObject({ words: 'Checking…', score: null });
    expect(describeVerdict({ status: 'failed', reason: 'http-error', detail: 'HTTP 404' })).toMatchObject({ words: "Couldn't check: HTTP 404", score: null });
    for (const v of [done(0.03), done(0.5), done(0.999, true), null, { status: 'failed', reason: 'timeout', detail: '' } as Verdict]) {
      const t = describeVerdict(v);
      expect(t.label).toBe(t.score === null ? t.words : `${t.words} ${t.score}`);
    }
  });
  it('names the reason when an image could not be checked', () => {
    expect(describeVerdict({ status: 'failed', reason: 'http-error', detail: 'HTTP 404' }).label).toBe("Couldn't check: HTTP 404");
    expect(describeVerdict({ status: 'failed', reason: 'not-an-image', detail: 'not an image' }).label).toBe(
      "Couldn't check: not an image",
    );
    expect(describeVerdict({ status: 'failed', reason: 'timeout', detail: 'no answer within 20 s' }).label).toBe(
      "Couldn't check: timed out",
    );
  });
});

describe('describeCard', () => {
  it('gives the score, the threshold, the model, what the score means and its limits', () => {
    const c = describeCard({ ...done(0.97), threshold: 0.7 } as Verdict);
    expect(c.heading).toBe('Likely generated · 97%');
    expect(c.lines[0]).toBe('Score 97%; images from 70% up are shown as likely generated (your threshold).');
    expect(c.lines).toContain('Model: Realfake ConvNeXt-L.');
    expect(c.lines).toContain(MODEL_LIMITS);
    expect(c.warning).toBeNull();
  });
  it("says how the model's input was made: squeezed to a square, or shrunk on the shorter side", () => {
    const square = { resize: 'square', size: 256, crop: 224 } as const;
    const c = describeCard({ status: 'done', pGenerated: 0.97, threshold: 0.5, model: { ...model, input: square }, fromCache: false });
    expect(c.lines).toContain(describePreparation(square));
    expect(describePreparation(square)).toMatch(/^Each picture is squeezed to 256 × 256 pixels and its centre 224 × 224 is judged: wide or tall pictures are distorted/);
    expect(describePreparation({ resize: 'shorter-side', size: 256, crop: 224 })).toMatch(/shrunk to 256 pixels on its shorter side/);
    // A verdict stored before models carried their input says nothing about it rather than something wrong.
    expect(describeCard(done(0.97)).lines.some((l) => l.startsWith('Each picture'))).toBe(false);
  });

  it('warns about the fixture, and says a failure judged nothing', () => {
    expect(describeCard(done(0.2, true)).warning).toBe(FIXTURE_WARNING);
    expect(describeCard(done(0.2, true)).heading).toBe('Likely real · 20%');
    const failed = describeCard({ status: 'failed', reason: 'too-large', detail: 'larger than 20 MB' });
    expect(failed.heading).toBe("Couldn't check: too large");
    expect(failed.lines).toEqual(['Details: larger than 20 MB.', 'Nothing was judged, so this says nothing about the image.']);
  });
});

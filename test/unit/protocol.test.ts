import { describe, expect, it } from 'vitest';
import {
  MAX_ITEMS_PER_CHECK,
  parseBackgroundToContent,
  parseBackgroundToOffscreen,
  parseContentToBackground,
  parseJudgeReply,
  parseUiToBackground,
} from '../../src/shared/protocol';

describe('content -> background', () => {
  it('accepts a well-formed batch and copies only known fields', () => {
    const m = parseContentToBackground({ kind: 'content/check', items: [{ requestId: 'r1', url: 'https://a/b.jpg', extra: 1 }], x: 2 });
    expect(m).toEqual({ kind: 'content/check', items: [{ requestId: 'r1', url: 'https://a/b.jpg' }] });
  });
  it('refuses malformed, empty, oversized and foreign messages', () => {
    const item = { requestId: 'r', url: 'https://a/b.jpg' };
    for (const bad of [
      null,
      'content/check',
      { kind: 'content/check' },
      { kind: 'content/check', items: [] },
      { kind: 'content/check', items: Array(MAX_ITEMS_PER_CHECK + 1).fill(item) },
      { kind: 'content/check', items: [{ requestId: '', url: 'https://a' }] },
      { kind: 'content/check', items: [{ requestId: 'r', url: 'x'.repeat(9000) }] },
      { kind: 'content/check', items: [{ requestId: 5, url: 'https://a' }] },
      { kind: 'ui/get-status' },
    ]) {
      expect(parseContentToBackground(bad)).toBeNull();
    }
  });
});

describe('background -> content', () => {
  const model = { id: 'm', name: 'M', fixture: true };
  it('accepts verdicts and failures', () => {
    expect(
      parseBackgroundToContent({ kind: 'verdict', requestId: 'r1', url: 'u', verdict: { status: 'done', pGenerated: 0.3, threshold: 0.5, model, fromCache: true } }),
    ).not.toBeNull();
    expect(parseBackgroundToContent({ kind: 'verdict', requestId: 'r1', url: 'u', verdict: { status: 'failed', reason: 'timeout', detail: 'x' } })).not.toBeNull();
  });
  it('refuses impossible scores and unknown reasons', () => {
    for (const verdict of [
      { status: 'done', pGenerated: 1.5, threshold: 0.5, model, fromCache: false },
      { status: 'done', pGenerated: NaN, threshold: 0.5, model, fromCache: false },
      { status: 'done', pGenerated: 0.5, threshold: 0.5, model: { id: 'm' }, fromCache: false },
      { status: 'failed', reason: 'because', detail: 'x' },
      { status: 'maybe' },
    ]) {
      expect(parseBackgroundToContent({ kind: 'verdict', requestId: 'r', url: 'u', verdict })).toBeNull();
    }
  });
});

describe('other directions', () => {
  it('ui and offscreen messages are recognised only in their exact shape', () => {
    expect(parseUiToBackground({ kind: 'ui/get-status' })).toEqual({ kind: 'ui/get-status' });
    expect(parseUiToBackground({ kind: 'content/check', items: [] })).toBeNull();
    const engine = { allowSoftwareWebGpu: false };
    expect(parseBackgroundToOffscreen({ target: 'offscreen', kind: 'offscreen/judge', url: 'https://a', pageUrl: 'https://b', engine })).not.toBeNull();
    expect(parseBackgroundToOffscreen({ target: 'offscreen', kind: 'offscreen/judge', url: 'https://a', pageUrl: 'https://b' })).toBeNull();
    expect(parseBackgroundToOffscreen({ kind: 'offscreen/judge', url: 'https://a', pageUrl: 'https://b', engine })).toBeNull();
    expect(parseJudgeReply({ ok: true, pGenerated: 0.2, logits: [1, 2], backend: 'wasm' })).not.toBeNull();
    expect(parseJudgeReply({ ok: true, pGenerated: 0.2, logits: [1, 2], backend: 'cuda' })).toBeNull();
  });
});

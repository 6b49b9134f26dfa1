import { describe, expect, it } from 'vitest';
import { MAX_ITEMS_PER_CHECK, MAX_URLS_PER_LOOKUP, parseBackgroundToContent, parseContentToBackground, parseLookupReply } from '../../src/shared/protocol/content';
import { parseBackgroundToOffscreen, parseFetchReply, parseJudgeReply } from '../../src/shared/protocol/offscreen';
import { parseUiToBackground } from '../../src/shared/protocol/ui';
import { DEFAULT_ENGINE_OPTIONS } from '../../src/shared/settings';

describe('content -> background', () => {
  const item = { requestId: 'r', url: 'https://a/b.jpg', priority: 'visible', minSide: 0 };
  it('accepts a well-formed batch and copies only known fields', () => {
    const m = parseContentToBackground({ kind: 'content/check', trigger: 'auto', items: [{ requestId: 'r1', url: 'https://a/b.jpg', priority: 'near', minSide: 128, extra: 1 }], x: 2 });
    expect(m).toEqual({ kind: 'content/check', trigger: 'auto', items: [{ requestId: 'r1', url: 'https://a/b.jpg', priority: 'near', minSide: 128 }] });
  });
  it('accepts one picture sent as bytes, withdrawals and mistake reports', () => {
    const bytes = { ...item, url: 'blob:https://a/1', bytes: 'data:image/png;base64,iVBORw0KGgo=' };
    expect(parseContentToBackground({ kind: 'content/check', trigger: 'user', items: [bytes] })).toEqual({ kind: 'content/check', trigger: 'user', items: [bytes] });
    expect(parseContentToBackground({ kind: 'content/cancel', requestIds: ['a', 'b'] })).toEqual({ kind: 'content/cancel', requestIds: ['a', 'b'] });
    expect(parseContentToBackground({ kind: 'content/report-mistake', url: 'https://a/b.jpg', mistake: true })).toEqual({
      kind: 'content/report-mistake',
      url: 'https://a/b.jpg',
      mistake: true,
    });
  });
  it('accepts cache lookups and reports of pictures shown, each address once', () => {
    expect(parseContentToBackground({ kind: 'content/lookup', trigger: 'auto', urls: ['https://a/1.jpg', 'https://a/2.jpg', 'https://a/1.jpg'], x: 1 })).toEqual({
      kind: 'content/lookup',
      trigger: 'auto',
      urls: ['https://a/1.jpg', 'https://a/2.jpg'],
    });
    expect(parseContentToBackground({ kind: 'content/shown', trigger: 'user', urls: ['https://a/1.jpg'] })).toEqual({ kind: 'content/shown', trigger: 'user', urls: ['https://a/1.jpg'] });
    for (const bad of [
      { kind: 'content/lookup', trigger: 'auto', urls: [] },
      { kind: 'content/lookup', urls: ['https://a/1.jpg'] },
      { kind: 'content/lookup', trigger: 'page', urls: ['https://a/1.jpg'] },
      { kind: 'content/lookup', trigger: 'auto', urls: Array.from({ length: MAX_URLS_PER_LOOKUP + 1 }, (_, i) => `https://a/${i}.jpg`) },
      { kind: 'content/lookup', trigger: 'auto', urls: ['x'.repeat(9000)] },
      { kind: 'content/shown', trigger: 'auto', urls: [''] },
      { kind: 'content/shown', trigger: 'auto', urls: 'https://a/1.jpg' },
    ]) {
      expect(parseContentToBackground(bad), JSON.stringify(bad).slice(0, 200)).toBeNull();
    }
  });
  it('reads a lookup reply only with cached, finished verdicts', () => {
    const model = { id: 'm', name: 'M', fixture: true };
    const verdict = { status: 'done', pGenerated: 0.7, threshold: 0.5, model, fromCache: true };
    expect(parseLookupReply({ refused: null, known: [{ url: 'https://a/1.jpg', verdict, stale: false }] })).toEqual({
      refused: null,
      known: [{ url: 'https://a/1.jpg', verdict, stale: false }],
    });
    expect(parseLookupReply({ refused: 'site-off', known: [] })).toEqual({ refused: 'site-off', known: [] });
    for (const bad of [
      { refused: 'nope', known: [] },
      { refused: null },
      { refused: null, known: [{ url: 'https://a/1.jpg', verdict: { ...verdict, fromCache: false }, stale: false }] },
      { refused: null, known: [{ url: 'https://a/1.jpg', verdict: { status: 'failed', reason: 'timeout', detail: 'x' }, stale: false }] },
      { refused: null, known: [{ url: 'https://a/1.jpg', verdict }] },
      { refused: null, known: [{ url: '', verdict, stale: true }] },
    ]) {
      expect(parseLookupReply(bad), JSON.stringify(bad)).toBeNull();
    }
  });
  it('refuses malformed, empty, oversized and foreign messages', () => {
    for (const bad of [
      null,
      'content/check',
      { kind: 'content/check' },
      { kind: 'content/check', trigger: 'auto', items: [] },
      { kind: 'content/check', items: [item] },
      { kind: 'content/check', trigger: 'page', items: [item] },
      { kind: 'content/check', trigger: 'auto', items: Array(MAX_ITEMS_PER_CHECK + 1).fill(item) },
      { kind: 'content/check', trigger: 'auto', items: [{ ...item, requestId: '' }] },
      { kind: 'content/check', trigger: 'auto', items: [{ ...item, url: 'x'.repeat(9000) }] },
      { kind: 'content/check', trigger: 'auto', items: [{ ...item, requestId: 5 }] },
      { kind: 'content/check', trigger: 'auto', items: [{ ...item, priority: 'menu' }] },
      { kind: 'content/check', trigger: 'auto', items: [{ ...item, minSide: -1 }] },
      { kind: 'content/check', trigger: 'auto', items: [{ ...item, minSide: 1.5 }] },
      { kind: 'content/check', trigger: 'auto', items: [{ requestId: 'r', url: 'https://a' }] },
      // Bytes must be a base64 image data: URL, and travel alone.
      { kind: 'content/check', trigger: 'auto', items: [{ ...item, bytes: 'data:text/html;base64,AAAA' }] },
      { kind: 'content/check', trigger: 'auto', items: [{ ...item, bytes: 'https://a/b.jpg' }] },
      { kind: 'content/check', trigger: 'auto', items: [{ ...item, bytes: 'data:image/png;base64,AAAA' }, item] },
      { kind: 'content/cancel', requestIds: [] },
      { kind: 'content/cancel', requestIds: [3] },
      { kind: 'content/report-mistake', url: 'https://a/b.jpg' },
      { kind: 'ui/get-status' },
    ]) {
      expect(parseContentToBackground(bad), JSON.stringify(bad).slice(0, 200)).toBeNull();
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
  it("keeps a model's input summary, and refuses a malformed one", () => {
    const input = { resize: 'square', size: 256, crop: 224 };
    const v = { status: 'done', pGenerated: 0.3, threshold: 0.5, model: { ...model, input, extra: 'x' }, fromCache: true };
    const parsed = parseBackgroundToContent({ kind: 'verdict', requestId: 'r1', url: 'u', verdict: v });
    expect(parsed && parsed.kind === 'verdict' && parsed.verdict.status === 'done' ? parsed.verdict.model : null).toEqual({ ...model, input });
    for (const bad of [{ ...input, resize: 'longer-side' }, { ...input, size: 0 }, { ...input, crop: 1.5 }, 'square']) {
      const verdict = { ...v, model: { ...model, input: bad } };
      expect(parseBackgroundToContent({ kind: 'verdict', requestId: 'r1', url: 'u', verdict }), JSON.stringify(bad)).toBeNull();
    }
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
    expect(parseUiToBackground({ kind: 'ui/set-site-enabled', site: 'news.example', enabled: false })).not.toBeNull();
    expect(parseUiToBackground({ kind: 'ui/set-site-enabled', site: 'a b', enabled: false })).toBeNull();
    expect(parseUiToBackground({ kind: 'ui/set-paused', paused: 'yes' })).toBeNull();
    const engine = DEFAULT_ENGINE_OPTIONS;
    expect(parseBackgroundToOffscreen({ target: 'offscreen', kind: 'offscreen/infer', token: '0'.repeat(32), engine: { ...engine, threads: 1000 } })).toBeNull();
    expect(parseBackgroundToOffscreen({ target: 'offscreen', kind: 'offscreen/infer', token: '0'.repeat(32), engine: { ...engine, faults: {} } })).toBeNull();
    const fetch = { target: 'offscreen', kind: 'offscreen/fetch', url: 'https://a', pageUrl: 'https://b', engine };
    expect(parseBackgroundToOffscreen(fetch)).toEqual(fetch);
    expect(parseBackgroundToOffscreen({ ...fetch, engine: undefined })).toBeNull();
    expect(parseBackgroundToOffscreen({ ...fetch, target: undefined })).toBeNull();
    const token = '0123456789abcdef0123456789abcdef';
    expect(parseBackgroundToOffscreen({ target: 'offscreen', kind: 'offscreen/infer', token, minSide: 0, engine })).not.toBeNull();
    expect(parseBackgroundToOffscreen({ target: 'offscreen', kind: 'offscreen/infer', token, engine })).toBeNull();
    expect(parseBackgroundToOffscreen({ target: 'offscreen', kind: 'offscreen/infer', token: 'x', engine })).toBeNull();
    expect(parseBackgroundToOffscreen({ target: 'offscreen', kind: 'offscreen/release', token: `${token}0` })).toBeNull();
    const validators = { etag: '"v1"', lastModified: null };
    expect(parseFetchReply({ ok: true, token, sha256: 'ab'.repeat(32), bytes: 10, validators })).not.toBeNull();
    expect(parseFetchReply({ ok: true, token, sha256: 'ab'.repeat(32), bytes: 10 })).toBeNull();
    expect(parseFetchReply({ ok: true, token, sha256: 'AB'.repeat(32), bytes: 10, validators })).toBeNull();
    expect(parseFetchReply({ ok: true, notModified: true, validators })).toEqual({ ok: true, notModified: true, validators });
    expect(parseFetchReply({ ok: true, notModified: false, validators })).toBeNull();
    expect(parseFetchReply({ ok: false, reason: 'http-error', detail: 'HTTP 404' })).not.toBeNull();
    expect(parseFetchReply({ ok: false, reason: 'http-error', detail: 'HTTP 403', status: 403 })).toMatchObject({ status: 403 });
    expect(parseFetchReply({ ok: false, reason: 'http-error', detail: 'HTTP 403', status: 4030 })).toBeNull();
    // Cookies and conditional requests only in their exact shape.
    expect(parseBackgroundToOffscreen({ ...fetch, withCookies: true, conditional: validators })).toEqual({ ...fetch, withCookies: true, conditional: validators });
    expect(parseBackgroundToOffscreen({ ...fetch, withCookies: 'yes' })).toBeNull();
    expect(parseBackgroundToOffscreen({ ...fetch, conditional: { etag: 'x'.repeat(257), lastModified: null } })).toBeNull();
    const judged = { ok: true, pGenerated: 0.2, logits: [1, 2], backend: 'wasm', modelId: 'realfake-fixture', thumbnail: 'data:image/jpeg;base64,AAAA' };
    expect(parseJudgeReply(judged)).toEqual(judged);
    expect(parseJudgeReply({ ...judged, backend: 'cuda' })).toBeNull();
    // The model that judged is named, as a model id.
    const { modelId: _, ...unnamed } = judged;
    expect(parseJudgeReply(unnamed)).toBeNull();
    expect(parseJudgeReply({ ...judged, modelId: '../x' })).toBeNull();
    // A thumbnail that is not a small JPEG data: URL is dropped, never passed on to the popup.
    expect(parseJudgeReply({ ...judged, thumbnail: 'https://tracker.example/t.gif' })).toMatchObject({ thumbnail: null });
    expect(parseJudgeReply({ ok: false, reason: 'model-error', detail: 'gone', tokenLost: true })).toMatchObject({ tokenLost: true });
  });
});

// Property-based fuzzing (fast-check) of the message validators at every boundary. The oracle
// is a separate, declarative reading of the message types in src/shared/protocol/: for random objects
// and for single mutations of valid messages, a validator accepts exactly what the oracle calls
// valid, never throws, and what it returns is a clean copy that validates again to itself.

import { afterAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { MAX_HISTORY_PAGE, parseUiToBackground } from '../../src/shared/protocol/ui';
import { MAX_ITEMS_PER_CHECK, MAX_URLS_PER_LOOKUP, parseBackgroundToContent, parseCheckReply, parseContentToBackground, parseLookupReply, parseMenuPicture } from '../../src/shared/protocol/content';
import { MAX_URL_LENGTH } from '../../src/shared/protocol/validate';
import { parseBackgroundToOffscreen, parseEngineStatus, parseFetchReply, parseJudgeReply } from '../../src/shared/protocol/offscreen';
import { FAILURE_REASONS } from '../../src/shared/protocol/shapes';

const RUNS = 10_000;
const summary: string[] = [];
afterAll(() => console.log(`protocol fuzzing:\n  ${summary.join('\n  ')}`));

// ---- the oracle -----------------------------------------------------------------------------

type Rec = Record<string, unknown>;
const isRec = (v: unknown): v is Rec => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown, max: number): boolean => typeof v === 'string' && v.length >= 1 && v.length <= max;
const int = (v: unknown, min: number, max: number): boolean => typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max;
const bool = (v: unknown): boolean => typeof v === 'boolean';
const id = (v: unknown): boolean => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const HOST = /^[a-z0-9.-]{1,253}$|^\[[0-9a-f:.]{2,45}\]$/;
const host = (v: unknown): boolean => typeof v === 'string' && HOST.test(v);
const TOKEN = /^[0-9a-f]{32}$/;
const BYTES = /^data:image\/[a-z0-9.+-]{1,40};base64,[A-Za-z0-9+/]*={0,2}$/;

const validItem = (i: unknown): boolean =>
  isRec(i) && str(i.requestId, 64) && str(i.url, MAX_URL_LENGTH) && ['visible', 'near', 'rest'].includes(i.priority as string) &&
  int(i.minSide, 0, 4096) && (i.bytes === undefined || (typeof i.bytes === 'string' && BYTES.test(i.bytes))) &&
  (i.brokenInPage === undefined || i.brokenInPage === true) &&
  // Bytes a page read from an http(s) address the server refused to the extension.
  (i.via === undefined || (i.via === 'page' && i.bytes !== undefined && /^https?:/.test(i.url as string)));

/** ETag and Last-Modified: each null or a string of 1 to 256 characters. */
const validator = (v: unknown): boolean => v === null || str(v, 256);
const validValidators = (v: unknown): boolean => isRec(v) && validator(v.etag) && validator(v.lastModified);

function validContent(m: unknown): boolean {
  if (!isRec(m)) return false;
  if (m.kind === 'content/cancel') return Array.isArray(m.requestIds) && m.requestIds.length >= 1 && m.requestIds.length <= MAX_ITEMS_PER_CHECK && m.requestIds.every((r) => str(r, 64));
  if (m.kind === 'content/report-mistake') return str(m.url, MAX_URL_LENGTH) && bool(m.mistake);
  if (m.kind === 'content/lookup' || m.kind === 'content/shown') {
    return (m.trigger === 'auto' || m.trigger === 'user') && Array.isArray(m.urls) && m.urls.length >= 1 && m.urls.length <= MAX_URLS_PER_LOOKUP && m.urls.every((u) => str(u, MAX_URL_LENGTH));
  }
  if (m.kind !== 'content/check' || (m.trigger !== 'auto' && m.trigger !== 'user')) return false;
  const items = m.items;
  if (!Array.isArray(items) || items.length < 1 || items.length > MAX_ITEMS_PER_CHECK || !items.every(validItem)) return false;
  // A picture's bytes travel alone.
  return items.length === 1 || items.every((i) => (i as Rec).bytes === undefined);
}

function validUi(m: unknown): boolean {
  if (!isRec(m)) return false;
  switch (m.kind) {
    case 'ui/get-status': case 'ui/clear-history': case 'ui/export-history': case 'ui/delete-all-data':
    case 'ui/list-models': case 'ui/cancel-model-download':
      return true;
    case 'ui/set-site-enabled': return host(m.site) && bool(m.enabled);
    case 'ui/set-paused': return bool(m.paused);
    case 'ui/get-tab': case 'ui/scan-tab': return id(m.tabId);
    case 'ui/list-history': return (m.site === null || host(m.site)) && typeof m.query === 'string' && m.query.length <= 200 && id(m.limit) && (m.limit as number) >= 1 && (m.limit as number) <= MAX_HISTORY_PAGE;
    case 'ui/mark-mistake': return id(m.id) && bool(m.mistake);
    case 'ui/install-model': return str(m.url, MAX_URL_LENGTH);
    case 'ui/set-active-model': case 'ui/remove-model': return typeof m.id === 'string' && /^[a-z0-9][a-z0-9._-]{0,63}$/.test(m.id);
    default: return false;
  }
}

const validEngine = (e: unknown): boolean =>
  isRec(e) && bool(e.useWebGpu) && bool(e.allowSoftwareWebGpu) && int(e.threads, 0, 64) && int(e.maxBatch, 1, 16) && int(e.batchWindowMs, 0, 1000) &&
  int(e.idleReleaseMs, 0, 24 * 3_600_000) && isRec(e.faults) && bool(e.faults.failWebGpuInit) && bool(e.faults.perturbWebGpuProbe) && bool(e.faults.pretendShaderF16);

function validOffscreen(m: unknown): boolean {
  if (!isRec(m) || m.target !== 'offscreen') return false;
  switch (m.kind) {
    case 'offscreen/fetch':
      return validEngine(m.engine) && str(m.url, MAX_URL_LENGTH) && str(m.pageUrl, MAX_URL_LENGTH) &&
        (m.withCookies === undefined || m.withCookies === true) && (m.conditional === undefined || validValidators(m.conditional));
    case 'offscreen/infer': return validEngine(m.engine) && typeof m.token === 'string' && TOKEN.test(m.token) && int(m.minSide, 0, 4096);
    case 'offscreen/release': return typeof m.token === 'string' && TOKEN.test(m.token);
    case 'offscreen/status': case 'offscreen/model-download-status': case 'offscreen/model-download-cancel': return true;
    case 'offscreen/model-download': return validEngine(m.engine) && str(m.url, MAX_URL_LENGTH);
    default: return false;
  }
}

function validFetchReply(m: unknown): boolean {
  if (!isRec(m)) return false;
  if (m.ok === true) {
    if (!validValidators(m.validators)) return false;
    // A 304: nothing else counts.
    if (m.notModified !== undefined) return m.notModified === true;
    return typeof m.token === 'string' && TOKEN.test(m.token) && typeof m.sha256 === 'string' && /^[0-9a-f]{64}$/.test(m.sha256) && int(m.bytes, 0, Number.MAX_VALUE);
  }
  return m.ok === false && FAILURE_REASONS.includes(m.reason as never) && typeof m.detail === 'string' && (m.status === undefined || int(m.status, 100, 599));
}

// ---- valid messages ---------------------------------------------------------------------------

const text = (max: number): fc.Arbitrary<string> => fc.string({ minLength: 1, maxLength: max, unit: 'grapheme-ascii' });
const hex = (n: number): fc.Arbitrary<string> => fc.stringMatching(new RegExp(`^[0-9a-f]{${n}}$`));
const hostArb = fc.oneof(fc.domain(), fc.ipV4().map((x) => x), fc.constant('[::1]'));
const engineArb = fc.record({
  useWebGpu: fc.boolean(),
  allowSoftwareWebGpu: fc.boolean(),
  threads: fc.integer({ min: 0, max: 64 }),
  maxBatch: fc.integer({ min: 1, max: 16 }),
  batchWindowMs: fc.integer({ min: 0, max: 1000 }),
  idleReleaseMs: fc.integer({ min: 0, max: 24 * 3_600_000 }),
  faults: fc.record({ failWebGpuInit: fc.boolean(), perturbWebGpuProbe: fc.boolean(), pretendShaderF16: fc.boolean() }),
});
const itemArb = fc.record(
  {
    requestId: text(64),
    url: fc.oneof(fc.webUrl(), text(100)),
    priority: fc.constantFrom('visible', 'near', 'rest'),
    minSide: fc.integer({ min: 0, max: 4096 }),
    brokenInPage: fc.constant(true),
  },
  { requiredKeys: ['requestId', 'url', 'priority', 'minSide'] },
);
const validatorsArb = fc.record({ etag: fc.option(text(256), { nil: null }), lastModified: fc.option(text(256), { nil: null }) });
const contentArb = fc.oneof(
  fc.record({ kind: fc.constant('content/check'), trigger: fc.constantFrom('auto', 'user'), items: fc.array(itemArb, { minLength: 1, maxLength: 8 }) }),
  fc.record({
    kind: fc.constant('content/check'),
    trigger: fc.constantFrom('auto', 'user'),
    items: fc.tuple(itemArb, fc.base64String({ maxLength: 64 })).map(([i, b]) => [{ ...i, bytes: `data:image/png;base64,${b}` }]),
  }),
  fc.record({
    kind: fc.constant('content/check'),
    trigger: fc.constantFrom('auto', 'user'),
    items: fc.tuple(itemArb, fc.webUrl(), fc.base64String({ maxLength: 64 })).map(([i, url, b]) => [{ ...i, url, bytes: `data:image/png;base64,${b}`, via: 'page' }]),
  }),
  fc.record({ kind: fc.constant('content/cancel'), requestIds: fc.array(text(64), { minLength: 1, maxLength: 8 }) }),
  fc.record({ kind: fc.constant('content/report-mistake'), url: fc.webUrl(), mistake: fc.boolean() }),
  fc.record({
    kind: fc.constantFrom('content/lookup', 'content/shown'),
    trigger: fc.constantFrom('auto', 'user'),
    urls: fc.uniqueArray(fc.oneof(fc.webUrl(), text(100)), { minLength: 1, maxLength: 8 }),
  }),
);
const uiArb = fc.oneof(
  fc.constantFrom('ui/get-status', 'ui/clear-history', 'ui/export-history', 'ui/delete-all-data', 'ui/list-models', 'ui/cancel-model-download').map((kind) => ({ kind })),
  fc.record({ kind: fc.constant('ui/set-site-enabled'), site: hostArb, enabled: fc.boolean() }),
  fc.record({ kind: fc.constant('ui/set-paused'), paused: fc.boolean() }),
  fc.record({ kind: fc.constantFrom('ui/get-tab', 'ui/scan-tab'), tabId: fc.nat() }),
  fc.record({ kind: fc.constant('ui/list-history'), site: fc.option(hostArb, { nil: null }), query: fc.string({ maxLength: 200 }), limit: fc.integer({ min: 1, max: MAX_HISTORY_PAGE }) }),
  fc.record({ kind: fc.constant('ui/mark-mistake'), id: fc.nat(), mistake: fc.boolean() }),
  fc.record({ kind: fc.constant('ui/install-model'), url: fc.webUrl() }),
  fc.record({ kind: fc.constantFrom('ui/set-active-model', 'ui/remove-model'), id: fc.stringMatching(/^[a-z0-9][a-z0-9._-]{0,20}$/) }),
);
const offscreenArb = fc.oneof(
  fc.record(
    {
      target: fc.constant('offscreen'),
      kind: fc.constant('offscreen/fetch'),
      url: fc.webUrl(),
      pageUrl: fc.webUrl(),
      engine: engineArb,
      withCookies: fc.constant(true),
      conditional: validatorsArb,
    },
    { requiredKeys: ['target', 'kind', 'url', 'pageUrl', 'engine'] },
  ),
  fc.record({ target: fc.constant('offscreen'), kind: fc.constant('offscreen/infer'), token: hex(32), minSide: fc.integer({ min: 0, max: 4096 }), engine: engineArb }),
  fc.record({ target: fc.constant('offscreen'), kind: fc.constant('offscreen/release'), token: hex(32) }),
  fc.constantFrom('offscreen/status', 'offscreen/model-download-status', 'offscreen/model-download-cancel').map((kind) => ({ target: 'offscreen', kind })),
  fc.record({ target: fc.constant('offscreen'), kind: fc.constant('offscreen/model-download'), url: fc.webUrl(), engine: engineArb }),
);
const fetchReplyArb = fc.oneof(
  fc.record({ ok: fc.constant(true), token: hex(32), sha256: hex(64), bytes: fc.nat(), validators: validatorsArb }),
  fc.record({ ok: fc.constant(true), notModified: fc.constant(true), validators: validatorsArb }),
  fc.record(
    { ok: fc.constant(false), reason: fc.constantFrom(...FAILURE_REASONS), detail: fc.string({ maxLength: 500 }), status: fc.integer({ min: 100, max: 599 }) },
    { requiredKeys: ['ok', 'reason', 'detail'] },
  ),
);

// ---- mutation: one change somewhere in a valid message ------------------------------------------

type Path = Array<string | number>;
function paths(v: unknown, at: Path = []): Path[] {
  const out: Path[] = [at];
  if (Array.isArray(v)) v.forEach((x, i) => out.push(...paths(x, [...at, i])));
  else if (isRec(v)) for (const [k, x] of Object.entries(v)) out.push(...paths(x, [...at, k]));
  return out;
}

type Mutation = { pick: number; op: 'replace' | 'delete' | 'extra'; value: unknown; key: string };
const mutationArb: fc.Arbitrary<Mutation> = fc.record({
  pick: fc.nat(),
  op: fc.constantFrom('replace', 'delete', 'extra'),
  value: fc.oneof(fc.anything(), fc.string(), fc.integer(), fc.double(), fc.constant(null), fc.constant(undefined), fc.string({ minLength: 9000, maxLength: 9000 })),
  key: fc.string({ minLength: 1, maxLength: 8 }).map((k) => `x_${k}`),
});

function mutate(original: unknown, m: Mutation): unknown {
  const copy = structuredClone(original);
  const all = paths(copy).filter((p) => p.length > 0);
  const path = all[m.pick % all.length] as Path;
  const parent = path.slice(0, -1).reduce<unknown>((o, k) => (o as Rec)[k as string], copy) as Rec | unknown[];
  const last = path[path.length - 1] as string | number;
  if (m.op === 'replace') (parent as Rec)[last as string] = m.value;
  else if (m.op === 'delete') {
    if (Array.isArray(parent)) parent.splice(last as number, 1);
    else delete (parent as Rec)[last as string];
  } else if (isRec(parent)) parent[m.key] = m.value;
  else (parent as unknown[]).push(m.value);
  return copy;
}

interface Boundary {
  name: string;
  parse: (v: unknown) => unknown;
  valid: (v: unknown) => boolean;
  arb: fc.Arbitrary<unknown>;
}

const BOUNDARIES: Boundary[] = [
  { name: 'content -> background', parse: parseContentToBackground, valid: validContent, arb: contentArb },
  { name: 'ui -> background', parse: parseUiToBackground, valid: validUi, arb: uiArb },
  { name: 'background -> offscreen', parse: parseBackgroundToOffscreen, valid: validOffscreen, arb: offscreenArb },
  { name: 'offscreen -> background (fetch reply)', parse: parseFetchReply, valid: validFetchReply, arb: fetchReplyArb },
];

/** Parses without letting an exception escape the property (it fails the run instead). */
function safely(parse: (v: unknown) => unknown, v: unknown): unknown {
  try {
    return parse(v);
  } catch (e) {
    throw new Error(`validator threw on ${JSON.stringify(v)?.slice(0, 300)}: ${String(e)}`);
  }
}

/** What a message looks like after chrome.runtime messaging (JSON serialisation). */
const overTheWire = (v: unknown): unknown => (v === undefined ? undefined : JSON.parse(JSON.stringify(v)));

describe.each(BOUNDARIES)('$name', { timeout: 120_000 }, ({ name, parse, valid, arb }) => {
  it(`accepts ${RUNS} valid messages, returning a clean copy that round-trips`, () => {
    let n = 0;
    fc.assert(
      fc.property(arb, (msg) => {
        n++;
        const out = safely(parse, msg);
        expect(valid(msg)).toBe(true);
        expect(out).toEqual(msg);
        expect(out).not.toBe(msg);
        expect(safely(parse, overTheWire(out))).toEqual(out);
      }),
      { numRuns: RUNS },
    );
    summary.push(`${name}: ${n} valid messages accepted and round-tripped`);
  });

  it(`accepts a mutated message exactly when the oracle does (${RUNS} mutations)`, () => {
    let accepted = 0;
    let refused = 0;
    fc.assert(
      fc.property(arb, mutationArb, (msg, mutation) => {
        const mutated = overTheWire(mutate(msg, mutation));
        const out = safely(parse, mutated);
        expect(out !== null, JSON.stringify(mutated)?.slice(0, 300)).toBe(valid(mutated));
        if (out === null) refused++;
        else {
          accepted++;
          // Extra keys never get through.
          expect(paths(out).some((p) => String(p[p.length - 1]).startsWith('x_'))).toBe(false);
          expect(safely(parse, overTheWire(out))).toEqual(out);
        }
      }),
      { numRuns: RUNS, endOnFailure: true },
    );
    summary.push(`${name}: ${RUNS} mutations, ${refused} refused, ${accepted} still valid`);
    expect(refused).toBeGreaterThan(RUNS / 4);
  });

  it(`refuses random values (${RUNS} runs) unless the oracle calls them valid`, () => {
    let accepted = 0;
    fc.assert(
      fc.property(fc.oneof(fc.anything(), fc.object(), fc.jsonValue()), (v) => {
        const out = safely(parse, v);
        expect(out !== null).toBe(valid(v));
        if (out !== null) accepted++;
      }),
      { numRuns: RUNS },
    );
    summary.push(`${name}: ${RUNS} random values, ${accepted} accepted`);
  });
});

describe('the other validators', { timeout: 180_000 }, () => {
  it(`never throw, and what they return validates to itself (${RUNS} runs each)`, () => {
    const others: Array<[string, (v: unknown) => unknown]> = [
      ['background -> content', parseBackgroundToContent],
      ['check reply', parseCheckReply],
      ['lookup reply', parseLookupReply],
      ['judge reply', parseJudgeReply],
      ['engine status', parseEngineStatus],
      ['menu picture', parseMenuPicture],
    ];
    const verdictArb = fc.oneof(
      fc.record({ status: fc.constant('done'), pGenerated: fc.double({ min: 0, max: 1, noNaN: true }), threshold: fc.double({ min: 0, max: 1, noNaN: true }), model: fc.record({ id: text(64), name: text(200), fixture: fc.boolean() }), fromCache: fc.boolean() }),
      fc.record({ status: fc.constant('failed'), reason: fc.constantFrom(...FAILURE_REASONS), detail: fc.string({ maxLength: 300 }) }),
    );
    const toContent = fc.oneof(
      fc.record({ kind: fc.constant('verdict'), requestId: text(64), url: fc.webUrl(), verdict: verdictArb }),
      fc.record({ kind: fc.constant('menu-verdict'), url: fc.webUrl(), verdict: verdictArb }),
      fc.record({ kind: fc.constant('menu-resolve'), srcUrl: fc.option(fc.webUrl(), { nil: null }) }),
    );
    const menuPictureArb = fc.oneof(
      fc.record({ found: fc.constant(true), url: fc.webUrl() }),
      fc.record({ found: fc.constant(true), url: text(100), bytes: fc.base64String({ maxLength: 64 }).map((b) => `data:image/png;base64,${b}`) }),
      fc.record({ found: fc.constant(false), why: fc.constantFrom('nothing-there', 'unreadable') }),
    );
    for (const [name, parse] of others) {
      let accepted = 0;
      fc.assert(
        fc.property(fc.oneof(fc.anything(), toContent, toContent.chain((m) => mutationArb.map((x) => mutate(m, x))), menuPictureArb, menuPictureArb.chain((m) => mutationArb.map((x) => mutate(m, x)))), (v) => {
          const out = safely(parse, overTheWire(v));
          if (out !== null) {
            accepted++;
            expect(safely(parse, overTheWire(out))).toEqual(out);
          }
        }),
        { numRuns: RUNS },
      );
      summary.push(`${name}: ${RUNS} random and mutated values, ${accepted} accepted, all stable`);
    }
    // Valid verdict messages are accepted as they are.
    fc.assert(fc.property(toContent, (m) => void expect(parseBackgroundToContent(m)).toEqual(m)), { numRuns: 1000 });
    fc.assert(fc.property(menuPictureArb, (m) => void expect(parseMenuPicture(m)).toEqual(m)), { numRuns: 1000 });
  });
});

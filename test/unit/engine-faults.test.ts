// The engine's fault switches (EngineOptions.faults) travel in background -> offscreen messages
// only in a test build. A test build's validator requires them and checks each switch; a release
// build's validator refuses any message that carries them. Vitest runs the test build's code
// (vitest.config.ts defines __REALFAKE_TEST__ on globalThis); stubbing it to false runs the release
// build's branch of the same source. test/e2e/release-build.test.ts proves the release bundles
// contain no fault code at all.

import { afterEach, describe, expect, it, vi } from 'vitest';
import { parseBackgroundToOffscreen } from '../../src/shared/protocol/offscreen';

const token = '0123456789abcdef0123456789abcdef';
const plain = { useWebGpu: true, allowSoftwareWebGpu: false, threads: 2, maxBatch: 4, batchWindowMs: 15, idleReleaseMs: 0 };
const faults = { failWebGpuInit: true, perturbWebGpuProbe: false, pretendShaderF16: true };
const infer = (engine: unknown): unknown => ({ target: 'offscreen', kind: 'offscreen/infer', token, minSide: 0, engine });

afterEach(() => {
  vi.unstubAllGlobals();
});

describe('engine fault switches in a test build', () => {
  it('are required, each a boolean, and passed on', () => {
    expect(parseBackgroundToOffscreen(infer({ ...plain, faults }))).toEqual(infer({ ...plain, faults }));
    expect(parseBackgroundToOffscreen(infer(plain))).toBeNull();
    expect(parseBackgroundToOffscreen(infer({ ...plain, faults: { ...faults, pretendShaderF16: 'yes' } }))).toBeNull();
    expect(parseBackgroundToOffscreen(infer({ ...plain, faults: true }))).toBeNull();
  });

  it('take the read piece in whole bytes, at least 64', () => {
    const withPiece = { ...faults, readPieceBytes: 4099 };
    expect(parseBackgroundToOffscreen(infer({ ...plain, faults: withPiece }))).toEqual(infer({ ...plain, faults: withPiece }));
    for (const bad of [63, 4099.5, '4099', -1]) {
      expect(parseBackgroundToOffscreen(infer({ ...plain, faults: { ...faults, readPieceBytes: bad } })), String(bad)).toBeNull();
    }
  });

  it('take the wait before each read piece in whole milliseconds, 0 to 1000', () => {
    for (const ok of [0, 20, 1000]) {
      const withDelay = { ...faults, readPieceBytes: 4099, readDelayMs: ok };
      expect(parseBackgroundToOffscreen(infer({ ...plain, faults: withDelay })), String(ok)).toEqual(infer({ ...plain, faults: withDelay }));
    }
    for (const bad of [-1, 1001, 2.5, '20', null]) {
      expect(parseBackgroundToOffscreen(infer({ ...plain, faults: { ...faults, readDelayMs: bad } })), String(bad)).toBeNull();
    }
  });
});

describe('engine fault switches in a release build', () => {
  const messages = (engine: unknown): unknown[] => [
    infer(engine),
    { target: 'offscreen', kind: 'offscreen/fetch', url: 'https://a/b.jpg', pageUrl: 'https://b/', engine },
    { target: 'offscreen', kind: 'offscreen/model-download', url: 'https://a/m.json', engine },
  ];

  it('are refused wherever an engine message carries them, even all off', () => {
    vi.stubGlobal('__REALFAKE_TEST__', false);
    const off = { failWebGpuInit: false, perturbWebGpuProbe: false, pretendShaderF16: false };
    for (const f of [faults, off, {}, null]) {
      for (const m of messages({ ...plain, faults: f })) expect(parseBackgroundToOffscreen(m), JSON.stringify(m)).toBeNull();
    }
  });

  it('leave the same messages without them valid, and add none', () => {
    vi.stubGlobal('__REALFAKE_TEST__', false);
    for (const m of messages(plain)) expect(parseBackgroundToOffscreen(m), JSON.stringify(m)).toEqual(m);
  });
});

// The model-management messages of the protocol: what the options page and the background may
// send is accepted as typed, and anything malformed is dropped.

import { describe, expect, it } from 'vitest';
import { parseBackgroundToOffscreen, parseCheckpointImportStatus, parseModelDownloadStatus } from '../../src/shared/protocol/offscreen';
import { parseActionReply as parseModelActionReply } from '../../src/shared/protocol/validate';
import { parseUiToBackground } from '../../src/shared/protocol/ui';
import type { EngineOptions } from '../../src/shared/protocol/shapes';

const engine: EngineOptions = {
  useWebGpu: true,
  allowSoftwareWebGpu: false,
  threads: 0,
  maxBatch: 4,
  batchWindowMs: 10,
  idleReleaseMs: 60_000,
  faults: { failWebGpuInit: false, perturbWebGpuProbe: false, pretendShaderF16: false },
};

const status = {
  state: 'downloading',
  manifestUrl: 'https://h.org/m/manifest.json',
  id: 'realfake',
  name: 'Realfake',
  received: 10,
  total: 100,
  resumedFrom: [0],
  error: null,
};

describe('model management messages', () => {
  it('accepts the UI messages', () => {
    expect(parseUiToBackground({ kind: 'ui/list-models' })).toEqual({ kind: 'ui/list-models' });
    expect(parseUiToBackground({ kind: 'ui/install-model', url: 'https://h.org/m.json', extra: 1 })).toEqual({ kind: 'ui/install-model', url: 'https://h.org/m.json' });
    expect(parseUiToBackground({ kind: 'ui/set-active-model', id: 'realfake-fp16' })).toEqual({ kind: 'ui/set-active-model', id: 'realfake-fp16' });
    expect(parseUiToBackground({ kind: 'ui/remove-model', id: 'x.1' })).toEqual({ kind: 'ui/remove-model', id: 'x.1' });
    expect(parseUiToBackground({ kind: 'ui/cancel-model-download' })).toEqual({ kind: 'ui/cancel-model-download' });
  });

  it.each([
    { kind: 'ui/install-model' },
    { kind: 'ui/install-model', url: '' },
    { kind: 'ui/install-model', url: 'x'.repeat(9000) },
    { kind: 'ui/set-active-model', id: '../etc' },
    { kind: 'ui/set-active-model', id: 'Upper' },
    { kind: 'ui/remove-model', id: 7 },
    { kind: 'ui/remove-model-now', id: 'a' },
  ])('drops %j', (m) => expect(parseUiToBackground(m)).toBeNull());

  it('accepts the offscreen messages only with valid engine options', () => {
    const m = { target: 'offscreen', kind: 'offscreen/model-download', url: 'https://h.org/m.json', engine };
    expect(parseBackgroundToOffscreen(m)).toEqual(m);
    expect(parseBackgroundToOffscreen({ ...m, engine: { ...engine, threads: -1 } })).toBeNull();
    expect(parseBackgroundToOffscreen({ ...m, target: undefined })).toBeNull();
    expect(parseBackgroundToOffscreen({ target: 'offscreen', kind: 'offscreen/model-download-status' })).toEqual({ target: 'offscreen', kind: 'offscreen/model-download-status' });
  });

  it('carries a checkpoint import\'s int8 option as a boolean, or refuses the message', () => {
    const url = 'https://h.org/c.ckpt';
    expect(parseUiToBackground({ kind: 'ui/import-checkpoint', url })).toEqual({ kind: 'ui/import-checkpoint', url });
    expect(parseUiToBackground({ kind: 'ui/import-checkpoint', url, int8: true })).toEqual({ kind: 'ui/import-checkpoint', url, int8: true });
    expect(parseUiToBackground({ kind: 'ui/import-checkpoint', url, int8: false })).toEqual({ kind: 'ui/import-checkpoint', url });
    expect(parseUiToBackground({ kind: 'ui/import-checkpoint', url, int8: 'yes' })).toBeNull();
    const m = { target: 'offscreen', kind: 'offscreen/checkpoint-import', url, engine };
    expect(parseBackgroundToOffscreen({ ...m, int8: true })).toEqual({ ...m, int8: true });
    expect(parseBackgroundToOffscreen(m)).toEqual(m);
    expect(parseBackgroundToOffscreen({ ...m, int8: 1 })).toBeNull();
    const running = { state: 'int8', url, id: 'ckpt-c', fetched: 1, toFetch: 1, fileBytes: 2, weightBytes: 4, startedAt: 0, fetchedAtStart: 0, requests: 3, error: null };
    expect(parseCheckpointImportStatus(running)).toEqual(running);
    expect(parseCheckpointImportStatus({ ...running, state: 'quantising' })).toBeNull();
  });

  it('validates download status and action replies', () => {
    expect(parseModelDownloadStatus(status)).toEqual(status);
    expect(parseModelDownloadStatus({ ...status, state: 'paused' })).toBeNull();
    expect(parseModelDownloadStatus({ ...status, received: -1 })).toBeNull();
    expect(parseModelDownloadStatus({ ...status, resumedFrom: ['0'] })).toBeNull();
    expect(parseModelDownloadStatus({ ...status, id: 'Bad Id' })).toBeNull();
    expect(parseModelDownloadStatus({ ...status, error: 'e'.repeat(900) })?.error).toHaveLength(500);
    expect(parseModelActionReply({ ok: true })).toEqual({ ok: true });
    expect(parseModelActionReply({ ok: false, error: 'no' })).toEqual({ ok: false, error: 'no' });
    expect(parseModelActionReply({ ok: false })).toBeNull();
  });
});

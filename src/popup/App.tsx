// The popup: which model is running (and a plain warning when it is the test fixture), its
// backend and state, and what has been checked so far.

import { useEffect, useState } from 'preact/hooks';
import browser from 'webextension-polyfill';
import type { EngineStatus, StatusReply } from '../shared/protocol';
import { FIXTURE_WARNING, MODEL_LIMITS } from '../shared/verdict-text';

function engineLine(e: EngineStatus): string {
  switch (e.state) {
    case 'not-loaded':
      return 'not loaded yet (loads on the first image)';
    case 'loading':
      return 'loading…';
    case 'ready':
      return `ready on ${e.backend === 'webgpu' ? 'WebGPU' : 'WebAssembly'}`;
    case 'failed':
      return 'failed to load';
  }
}

function isStatusReply(v: unknown): v is StatusReply {
  return typeof v === 'object' && v !== null && 'engine' in v && 'stats' in v;
}

export function App() {
  const [status, setStatus] = useState<StatusReply | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    let alive = true;
    const refresh = (): void => {
      browser.runtime
        .sendMessage({ kind: 'ui/get-status' })
        .then((reply: unknown) => {
          if (alive && isStatusReply(reply)) setStatus(reply);
        })
        .catch((e: unknown) => alive && setError(String(e)));
    };
    refresh();
    const timer = setInterval(refresh, 1000);
    return () => {
      alive = false;
      clearInterval(timer);
    };
  }, []);

  const model = status?.engine.model ?? null;
  return (
    <main>
      <h1>
        <img src="/icons/icon-32.png" alt="" /> Realfake Lens
      </h1>
      {model?.fixture && (
        <p class="warning" role="alert">
          {FIXTURE_WARNING} Install the real model to get meaningful scores.
        </p>
      )}
      {error && <p class="warning">Could not reach the extension: {error}</p>}
      {status && (
        <dl>
          <dt>Model</dt>
          <dd>{model ? model.name : 'unknown'}</dd>
          <dt>Engine</dt>
          <dd>{engineLine(status.engine)}</dd>
          {status.engine.note && (
            <>
              <dt>Note</dt>
              <dd>{status.engine.note}</dd>
            </>
          )}
          <dt>Judged</dt>
          <dd>{status.stats.inferences} images</dd>
          <dt>From cache</dt>
          <dd>{status.stats.cacheHits}</dd>
          <dt>Couldn't check</dt>
          <dd>{status.stats.failures}</dd>
        </dl>
      )}
      <p class="limits">{MODEL_LIMITS}</p>
      <p class="privacy">Everything runs on this computer. No image, address or verdict leaves it.</p>
    </main>
  );
}

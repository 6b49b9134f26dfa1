// Which model judges, on what backend, and what has been done so far.

import type { EngineStatus, StatusReply } from '../shared/protocol';

function engineLine(e: EngineStatus): string {
  switch (e.state) {
    case 'not-loaded':
      return 'not loaded yet (loads on the first image)';
    case 'loading':
      return e.progress === null ? 'loading…' : `loading… ${Math.round(e.progress * 100)}%`;
    case 'ready': {
      const threads = e.backend === 'wasm' && e.threads ? `, ${e.threads} thread${e.threads === 1 ? '' : 's'}` : '';
      const precision = e.precision ? ` (${e.precision}${threads})` : '';
      return `ready on ${e.backend === 'webgpu' ? 'WebGPU' : 'WebAssembly'}${precision}`;
    }
    case 'failed':
      return 'failed to load';
  }
}

export function ModelStatus({ status }: { status: StatusReply }) {
  const model = status.engine.model;
  return (
    <dl class="card" aria-label="Model">
      <dt>Model</dt>
      <dd>{model ? model.name : 'unknown'}</dd>
      <dt>Engine</dt>
      <dd data-engine-state={status.engine.state} data-threads={status.engine.threads ?? ''} data-largest-batch={status.engine.largestBatch}>
        {engineLine(status.engine)}
      </dd>
      {status.engine.note && (
        <>
          <dt>Note</dt>
          <dd>{status.engine.note}</dd>
        </>
      )}
      {status.engine.state === 'failed' && (
        <>
          <dt>What to do</dt>
          <dd>Reload the extension from chrome://extensions; if it fails again, reinstall the model.</dd>
        </>
      )}
      {status.engine.inferred.images > 0 && (
        <>
          <dt>Speed</dt>
          <dd>{Math.round(status.engine.inferred.ms / status.engine.inferred.images)} ms per image</dd>
        </>
      )}
      <dt>Judged</dt>
      <dd>
        {status.stats.inferences} images ({status.stats.cacheHits + status.stats.hashHits} answers from the cache)
      </dd>
    </dl>
  );
}

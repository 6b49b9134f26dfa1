// Which model judges, on what backend, how far its loading is, and what to do when it failed.

import type { EngineStatus } from '../shared/protocol/offscreen';
import type { StatusReply } from '../shared/protocol/ui';

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

const plural = (n: number, noun: string): string => `${n} ${noun}${n === 1 ? '' : 's'}`;

/** Plain advice for a model that did not load, from what went wrong. */
export function failureAdvice(note: string | null): string {
  if (note && /differs from its manifest's reference|does not match its manifest|larger than its manifest|incomplete|is gone/.test(note)) {
    return 'This model’s file is damaged or is not the one its manifest describes. In the options, switch to another model, or remove this one and install it again.';
  }
  return 'Reload a page to try again. If it fails again, switch to another model in the options, or reload the extension from chrome://extensions.';
}

export function ModelStatus({ status, onOpenOptions }: { status: StatusReply; onOpenOptions: () => void }) {
  const { engine } = status;
  const model = engine.model;
  return (
    <dl class="card" aria-label="Model">
      <dt>Model</dt>
      <dd>{model ? model.name : 'unknown'}</dd>
      <dt>Engine</dt>
      <dd data-engine-state={engine.state} data-threads={engine.threads ?? ''} data-largest-batch={engine.largestBatch}>
        {engineLine(engine)}
        {engine.state === 'loading' && (
          <progress class="load" aria-label="Model loading" max={1} value={engine.progress ?? undefined} />
        )}
      </dd>
      {engine.note && (
        <>
          <dt>{engine.state === 'failed' ? 'Error' : 'Note'}</dt>
          <dd class={engine.state === 'failed' ? 'error' : ''}>{engine.note}</dd>
        </>
      )}
      {engine.state === 'failed' && (
        <>
          <dt>What to do</dt>
          <dd class="advice">
            {failureAdvice(engine.note)}{' '}
            <button type="button" class="link" onClick={onOpenOptions}>
              Open the model options
            </button>
          </dd>
        </>
      )}
      {engine.inferred.images > 0 && (
        <>
          <dt>Speed</dt>
          <dd>{Math.round(engine.inferred.ms / engine.inferred.images)} ms per image</dd>
        </>
      )}
      <dt>Judged</dt>
      <dd>
        {plural(status.stats.inferences, 'image')} ({plural(status.stats.cacheHits + status.stats.hashHits, 'answer')} from the cache)
      </dd>
    </dl>
  );
}

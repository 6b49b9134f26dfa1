// The offscreen document's side of the C2PA worker (c2pa-worker.ts): one worker, started on the
// first image that carries a C2PA manifest store, given a time cap per image (past it the worker
// is terminated, so nothing keeps running), and closed after a quiet minute to free its memory.

import type { C2paValidation, MetadataScan, ReadOptions } from '../detector/provenance';

const VALIDATE_MS = 8_000;
const IDLE_MS = 60_000;
/** Reading with validation may take this long (the first use compiles 9 MB of wasm). */
const EVIDENCE_WITH_C2PA_MS = 10_000;

interface Pending {
  resolve: (v: C2paValidation) => void;
  reject: (e: Error) => void;
  timer: ReturnType<typeof setTimeout>;
}

let worker: Worker | null = null;
let nextId = 1;
let idleTimer: ReturnType<typeof setTimeout> | undefined;
const pending = new Map<number, Pending>();

function stop(reason: string): void {
  worker?.terminate();
  worker = null;
  for (const p of pending.values()) {
    clearTimeout(p.timer);
    p.reject(new Error(reason));
  }
  pending.clear();
}

function start(): Worker {
  const w = new Worker(new URL('./c2pa-worker.ts', import.meta.url), { type: 'module' });
  w.onmessage = (e: MessageEvent<{ id: number; ok: boolean; result?: C2paValidation; error?: string }>) => {
    const p = pending.get(e.data.id);
    if (!p) return;
    pending.delete(e.data.id);
    clearTimeout(p.timer);
    if (e.data.ok && e.data.result) p.resolve(e.data.result);
    else p.reject(new Error(e.data.error ?? 'C2PA reader failed'));
  };
  w.onerror = () => stop('the C2PA reader could not start');
  return w;
}

/** Validates the C2PA manifest store of `blob` with the official library. */
export function validateC2pa(blob: Blob): Promise<C2paValidation> {
  clearTimeout(idleTimer);
  worker ??= start();
  const id = nextId++;
  const w = worker;
  return new Promise<C2paValidation>((resolve, reject) => {
    const timer = setTimeout(() => stop('C2PA validation took too long'), VALIDATE_MS);
    pending.set(id, { resolve, reject, timer });
    w.postMessage({ id, blob });
  }).finally(() => {
    if (pending.size === 0) idleTimer = setTimeout(() => stop('idle'), IDLE_MS);
  });
}

/** readEvidence() options for one image: validation only where a JUMBF box was found. */
export function evidenceOptions(metadata: MetadataScan, blob: Blob): ReadOptions {
  if (!metadata.items.some((i) => i.type === 'jumbf')) return {};
  return { validateC2pa: () => validateC2pa(blob), timeoutMs: EVIDENCE_WITH_C2PA_MS };
}

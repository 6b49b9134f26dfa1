// "Get LAION's realfake model": a checkpoint imported from a URL (src/shared/checkpoint-import.ts)
// with HTTP Range requests, in the offscreen document for the same reason as model downloads (an
// import outlives the service worker's limits). One at a time; pause keeps what was stored (it
// continues on the next start of the same URL, after a restart too), cancel removes it.

import { CheckpointError } from '../detector/checkpoint/errors';
import type { RandomAccessSource } from '../detector/checkpoint/source';
import { checkModelUrl } from '../detector/model-source';
import { importCheckpoint, importErrorMessage, LAION_CHECKPOINT_URL, LAION_MODEL_ID, modelIdFor } from '../shared/checkpoint-import';
import { Int8VariantError } from '../shared/int8-import';
import type { CheckpointImportStatus } from '../shared/protocol/offscreen';
import type { ModelActionReply } from '../shared/protocol/ui';

/** The most bytes one Range request may answer with beyond what was asked (a server ignoring the end). */
const MAX_ATTEMPTS = 4;

interface Running {
  status: CheckpointImportStatus;
  abort: AbortController;
  pause: boolean;
  done: Promise<void>;
}

let current: Running | null = null;

export function checkpointImportStatus(): CheckpointImportStatus | null {
  return current ? { ...current.status } : null;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function get(url: URL, signal: AbortSignal, range: string): Promise<Response> {
  let res: Response;
  try {
    res = await fetch(url, { credentials: 'omit', cache: 'no-store', referrerPolicy: 'no-referrer', redirect: 'follow', signal, headers: { Range: range } });
  } catch (e) {
    if (signal.aborted) throw e;
    throw new Error(`cannot fetch ${url.href}: the connection failed or the server redirected in a loop (${e instanceof Error ? e.message : String(e)})`);
  }
  // After a redirect the same rule holds: https, or http on this machine only.
  const final = checkModelUrl(res.url || url.href);
  if (!final.ok) {
    await res.body?.cancel();
    throw new Error(`redirected to ${res.url}: ${final.detail}`);
  }
  if (res.status === 404) throw new Error(`${url.href}: not found on the server (HTTP 404)`);
  if (!res.ok) throw new Error(`${url.href}: the server answered HTTP ${res.status}`);
  if (/^text\/html/i.test(res.headers.get('content-type') ?? '')) {
    await res.body?.cancel();
    throw new CheckpointError('not-zip', `${url.href} answered with a web page, not the checkpoint file (a login or error page?)`);
  }
  return res;
}

/** Random access to a checkpoint over HTTP Range requests; refuses a server without ranges. */
export async function httpSource(url: URL, signal: AbortSignal): Promise<RandomAccessSource & { requests: () => number }> {
  let requests = 1;
  const first = await get(url, signal, 'bytes=0-0');
  const m = /^bytes 0-0\/(\d+)$/.exec(first.headers.get('content-range') ?? '');
  await first.body?.cancel();
  if (first.status !== 206 || !m) {
    throw new Error(`${url.href}: the server does not answer Range requests, which the import needs to fetch only the model's weights out of the file`);
  }
  const size = Number(m[1]);
  const read = async (offset: number, length: number): Promise<Uint8Array> => {
    const end = Math.min(size, offset + length);
    if (end <= offset) return new Uint8Array(0);
    for (let attempt = 1; ; attempt++) {
      requests++;
      try {
        const res = await get(url, signal, `bytes=${offset}-${end - 1}`);
        const cr = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(res.headers.get('content-range') ?? '');
        if (res.status !== 206 || !cr || Number(cr[1]) !== offset || Number(cr[2]) !== end - 1) {
          await res.body?.cancel();
          throw new CheckpointError('inconsistent', `${url.href}: the server did not answer the range ${offset}-${end - 1} it was asked for`);
        }
        if (Number(cr[3]) !== size) throw new CheckpointError('inconsistent', `${url.href} changed on the server while it was read (${size} bytes, now ${cr[3]})`);
        const bytes = new Uint8Array(await res.arrayBuffer());
        if (bytes.length !== end - offset) throw new Error(`the connection dropped after ${bytes.length} of ${end - offset} bytes`);
        return bytes;
      } catch (e) {
        // A dropped connection is tried again; a refusal or a cancel is not.
        if (signal.aborted || e instanceof CheckpointError || attempt >= MAX_ATTEMPTS) throw e;
        await sleep(300 * attempt);
      }
    }
  };
  return { size, read, requests: () => requests };
}

/** Starts importing the checkpoint at `url` (LAION's when empty). */
export function startCheckpointImport(rawUrl: string, hold: () => () => void, int8 = false): ModelActionReply {
  const s = current?.status.state;
  if (s === 'reading' || s === 'fetching' || s === 'probing' || s === 'int8') return { ok: false, error: 'a checkpoint import is already under way' };
  const checked = checkModelUrl((rawUrl || LAION_CHECKPOINT_URL).trim());
  if (!checked.ok) return { ok: false, error: checked.detail };
  const url = checked.url;
  const laion = url.href === LAION_CHECKPOINT_URL;
  const id = laion ? LAION_MODEL_ID : modelIdFor(url.pathname);
  const name = laion ? 'LAION realfake (ConvNeXt-Large), imported from Hugging Face' : `${decodeURIComponent(url.pathname.split('/').pop() ?? url.host)} (imported checkpoint)`;
  const status: CheckpointImportStatus = {
    state: 'reading',
    url: url.href,
    id,
    fetched: 0,
    toFetch: 0,
    fileBytes: 0,
    weightBytes: 0,
    startedAt: Date.now(),
    fetchedAtStart: 0,
    requests: 0,
    error: null,
  };
  const abort = new AbortController();
  const run: Running = { status, abort, pause: false, done: Promise.resolve() };
  const release = hold();
  let source: Awaited<ReturnType<typeof httpSource>> | null = null;
  let first = true;
  run.done = (async () => {
    source = await httpSource(url, abort.signal);
    await importCheckpoint({
      id,
      name,
      origin: url.href,
      source,
      signal: abort.signal,
      paused: () => run.pause,
      int8,
      fetchGraph: async (file) => {
        const res = await fetch(chrome.runtime.getURL(file));
        if (!res.ok) throw new Error(`${file}: HTTP ${res.status}`);
        return new Uint8Array(await res.arrayBuffer());
      },
      progress: (p) => {
        if (first && p.phase === 'fetching') {
          // Bytes stored by an earlier run do not count towards this run's speed.
          status.fetchedAtStart = p.fetched;
          status.startedAt = Date.now();
          first = false;
        }
        Object.assign(status, { state: p.phase, fetched: p.fetched, toFetch: p.toFetch, fileBytes: p.fileBytes, weightBytes: p.weightBytes });
        status.requests = source?.requests() ?? 0;
      },
    });
  })()
    .then(
      () => {
        status.state = 'installed';
      },
      (e: unknown) => {
        if (e instanceof Int8VariantError) {
          // The model is installed; only its int8 variant failed (the error says so).
          status.state = 'installed';
          status.error = e.message;
          return;
        }
        status.state = run.pause ? 'paused' : abort.signal.aborted ? 'cancelled' : 'failed';
        status.error = abort.signal.aborted ? null : importErrorMessage(e);
      },
    )
    .finally(() => {
      status.requests = source?.requests() ?? status.requests;
      release();
    });
  current = run;
  return { ok: true };
}

/** Pauses (keeps what is stored) or cancels (removes it) the import under way. */
export async function stopCheckpointImport(pause: boolean): Promise<void> {
  if (!current) return;
  current.pause = pause;
  current.abort.abort();
  await current.done;
}

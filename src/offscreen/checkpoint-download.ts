// "Get LAION's realfake model": a checkpoint imported from a URL (src/shared/checkpoint-import.ts)
// with HTTP Range requests, in the offscreen document for the same reason as model downloads (an
// import outlives the service worker's limits). One at a time; pause keeps what was stored (it
// continues on the next start of the same URL, after a restart too), cancel removes it. A server
// that ignores Range requests sends the whole file: it is streamed once and only what the import
// needs is kept (src/detector/checkpoint/stream-keep.ts), in a spool file beside the model's parts
// (models/<id>/stream.bin, removed when the import ends).

import { CheckpointError } from '../detector/checkpoint/errors';
import { DEFAULT_PLAN_OPTIONS } from '../detector/checkpoint/import-plan';
import type { RandomAccessSource } from '../detector/checkpoint/source';
import { keepFromStream, type Spool } from '../detector/checkpoint/stream-keep';
import { responseChunks } from './response-chunks';
import { checkModelUrl } from '../detector/model-source';
import { importCheckpoint, importErrorMessage, LAION_CHECKPOINT_URL, LAION_MODEL_ID, modelIdFor } from '../shared/checkpoint-import';
import { Int8VariantError } from '../shared/int8-import';
import { IMPORT_FILE, modelDir, readJson, readStoredModel, removeStoredModel } from '../shared/model-store';
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

type HttpSource = RandomAccessSource & { requests: () => number };

/**
 * Random access to a checkpoint over HTTP Range requests; or, from a server that answers the first
 * one with the whole file, that response (to be streamed once).
 */
export async function httpSource(url: URL, signal: AbortSignal): Promise<HttpSource | { whole: Response; size: number | null }> {
  let requests = 1;
  const first = await get(url, signal, 'bytes=0-0');
  const m = /^bytes 0-0\/(\d+)$/.exec(first.headers.get('content-range') ?? '');
  if (first.status === 200) {
    const length = Number(first.headers.get('content-length') ?? NaN);
    return { whole: first, size: Number.isSafeInteger(length) && length >= 0 ? length : null };
  }
  await first.body?.cancel();
  if (first.status !== 206 || !m) {
    throw new Error(`${url.href}: the server answered a Range request with HTTP ${first.status} and no usable Content-Range`);
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

/** The spool of a streamed checkpoint's kept bytes, beside the model's parts. */
const STREAM_FILE = 'stream.bin';
const SPOOL_BATCH = 4 * 1024 * 1024;

/** A spool in OPFS: kept bytes batched into 4 MiB writes, read back once the writable is closed. */
async function opfsSpool(dir: FileSystemDirectoryHandle): Promise<Spool> {
  const handle = await dir.getFileHandle(STREAM_FILE, { create: true });
  const writable = await handle.createWritable();
  let batch = new Uint8Array(SPOOL_BATCH);
  let used = 0;
  let file: File | null = null;
  const flush = async (): Promise<void> => {
    if (used) await writable.write(batch.subarray(0, used));
    batch = new Uint8Array(SPOOL_BATCH);
    used = 0;
  };
  return {
    append: async (b) => {
      if (used + b.length > SPOOL_BATCH) await flush();
      if (b.length >= SPOOL_BATCH) await writable.write(b.slice());
      else {
        batch.set(b, used);
        used += b.length;
      }
    },
    finish: async () => {
      await flush();
      await writable.close();
      file = await handle.getFile();
    },
    read: async (offset, length) => {
      if (!file) throw new Error('the spool is read before it is finished');
      return new Uint8Array(await file.slice(offset, offset + length).arrayBuffer());
    },
    discard: () => writable.abort(),
  };
}

/** Streams the whole response once into the model folder's spool; returns a source over what was kept. */
async function streamOnce(id: string, whole: Response, size: number | null, signal: AbortSignal, progress: (streamed: number) => void): Promise<RandomAccessSource> {
  if (!whole.body) throw new Error('the server sent no body');
  if (await readStoredModel(id)) {
    await whole.body.cancel();
    throw new Error(`"${id}" is installed already: remove it first to import it again`);
  }
  const dir = await modelDir(id, true);
  if (!dir) throw new Error('cannot create the model folder (browser storage unavailable?)');
  return keepFromStream(
    responseChunks(whole.body, signal, (e, received) => {
      const of = size === null ? '' : ` of ${size}`;
      return new Error(`the connection dropped after ${received}${of} bytes; this server does not answer Range requests, so the import cannot continue where it stopped (${e instanceof Error ? e.message : String(e)})`);
    }),
    size, await opfsSpool(dir), progress);
}

/** After a streamed import: the spool goes, and the folder too unless an import keeps parts in it. */
async function removeSpool(id: string): Promise<void> {
  const dir = await modelDir(id, false);
  if (!dir) return;
  await dir.removeEntry(STREAM_FILE).catch(() => undefined);
  if (!(await readStoredModel(id)) && (await readJson(dir, IMPORT_FILE)) === undefined) await removeStoredModel(id).catch(() => undefined);
}

/** Starts importing the checkpoint at `url` (LAION's when empty); `unitBytes` (test builds) overrides the plan's unit size. */
export function startCheckpointImport(rawUrl: string, hold: () => () => void, int8 = false, unitBytes?: number): ModelActionReply {
  const s = current?.status.state;
  if (s === 'reading' || s === 'streaming' || s === 'fetching' || s === 'probing' || s === 'int8') return { ok: false, error: 'a checkpoint import is already under way' };
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
  let source: HttpSource | null = null;
  let streamed = false;
  let first = true;
  const work = async (): Promise<void> => {
    const opened = await httpSource(url, abort.signal);
    let read: RandomAccessSource;
    if ('whole' in opened) {
      streamed = true;
      Object.assign(status, { state: 'streaming', fileBytes: opened.size ?? 0, toFetch: opened.size ?? 0, startedAt: Date.now() });
      read = await streamOnce(id, opened.whole, opened.size, abort.signal, (n) => {
        status.fetched = n;
      });
    } else read = source = opened;
    await importCheckpoint({
      id,
      name,
      origin: url.href,
      source: read,
      signal: abort.signal,
      paused: () => run.pause,
      int8,
      ...(unitBytes ? { planOptions: { ...DEFAULT_PLAN_OPTIONS, maxUnit: unitBytes } } : {}),
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
        status.requests = source?.requests() ?? 1;
      },
    });
  };
  run.done = (async () => {
    try {
      await work();
    } finally {
      // Before the outcome shows: nothing of a stream stays behind.
      if (streamed) await removeSpool(id).catch(() => undefined);
    }
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
      status.requests = source?.requests() ?? (streamed ? 1 : status.requests);
      release();
    });
  current = run;
  return { ok: true };
}

/** Pauses (keeps what is stored) or cancels (removes it) the import under way. */
export async function stopCheckpointImport(pause: boolean): Promise<void> {
  if (!current) return;
  // A stream cannot continue where it stopped: pausing it keeps nothing, like a cancel.
  current.pause = pause && current.status.state !== 'streaming';
  current.abort.abort();
  await current.done;
}

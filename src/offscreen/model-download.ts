// Downloads a converted model into OPFS (src/shared/model-store.ts). It runs in the offscreen
// document because MV3 stops an idle service worker after 30 s (and any event after 5 min), which
// an 800 MB download outlives; the document stays while the download holds the engine busy.
//
// The manifest is fetched and validated first; the ONNX file (named by the manifest, next to it)
// streams into fixed-size chunk files, each committed with the SHA-256 state after it, so a
// dropped connection continues with a Range request from the last whole chunk (or starts again
// when the server ignores ranges), and a document that was closed mid-way continues the next time
// the same URL is installed. Only when the size and SHA-256 match is the manifest written, which
// makes the model installed; any other ending removes everything it wrote.

import { readManifestText } from '../detector/manifest';
import { checkModelUrl, onnxUrlOf, resumesAt } from '../detector/model-source';
import { Sha256 } from '../detector/sha256';
import { readModelsIndex } from '../shared/model-registry';
import {
  chunkHashes,
  chunkSizeFor,
  finishInstall,
  modelDir,
  partName,
  PROGRESS_FILE,
  readJson,
  readStoredModel,
  removeStoredModel,
  webCryptoSha256Hex,
  writeFile,
  type DownloadProgress,
} from '../shared/model-store';
import type { ModelActionReply } from '../shared/protocol/ui';
import type { ModelDownloadStatus } from '../shared/protocol/offscreen';
import { responseChunks } from './response-chunks';

const MAX_MANIFEST_CHARS = 1 << 20;
/** The first try and up to three continuations after the connection drops. */
const MAX_ATTEMPTS = 4;

/** The connection dropped or ended early: the download can go on from its last whole chunk. */
class Interrupted extends Error {}

interface Running {
  status: ModelDownloadStatus;
  abort: AbortController;
  done: Promise<void>;
}

let current: Running | null = null;

export function modelDownloadStatus(): ModelDownloadStatus | null {
  return current ? { ...current.status, resumedFrom: [...current.status.resumedFrom] } : null;
}

const messageOf = (e: unknown): string => (e instanceof Error ? e.message : String(e));
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function get(url: URL, signal: AbortSignal, headers: Record<string, string> = {}): Promise<Response> {
  const res = await fetch(url, { credentials: 'omit', cache: 'no-store', referrerPolicy: 'no-referrer', redirect: 'follow', signal, headers });
  // After a redirect the same rule holds: https, or http on this machine only.
  const final = checkModelUrl(res.url || url.href);
  if (!final.ok) {
    await res.body?.cancel();
    throw new Error(`redirected to ${res.url}: ${final.detail}`);
  }
  return res;
}

/**
 * Starts a download; its progress is read with modelDownloadStatus(). `hold` keeps the engine's
 * idle timer from closing this document meanwhile and returns the function that lets it go.
 */
export function startModelDownload(url: string, hold: () => () => void): ModelActionReply {
  const s = current?.status.state;
  if (s === 'downloading' || s === 'verifying') return { ok: false, error: 'a model download is already under way' };
  const checked = checkModelUrl(url.trim());
  if (!checked.ok) return { ok: false, error: checked.detail };
  const status: ModelDownloadStatus = {
    state: 'downloading',
    manifestUrl: checked.url.href,
    id: null,
    name: null,
    received: 0,
    total: null,
    resumedFrom: [],
    error: null,
  };
  const abort = new AbortController();
  const release = hold();
  /** Set once the folder is ours (not a packaged or installed model's id). */
  let ownFolder: string | null = null;
  const done = download(checked.url, status, abort.signal, (id) => (ownFolder = id))
    .then(
      () => {
        status.state = 'installed';
      },
      async (e: unknown) => {
        status.state = abort.signal.aborted ? 'cancelled' : 'failed';
        status.error = abort.signal.aborted ? 'cancelled' : messageOf(e);
        // A clean failure: nothing of this download stays behind.
        if (ownFolder !== null) await removeStoredModel(ownFolder).catch(() => undefined);
      },
    )
    .finally(release);
  current = { status, abort, done };
  return { ok: true };
}

export async function cancelModelDownload(): Promise<void> {
  if (!current) return;
  current.abort.abort();
  await current.done;
}

async function download(manifestUrl: URL, status: ModelDownloadStatus, signal: AbortSignal, claim: (id: string) => void): Promise<void> {
  let res: Response;
  try {
    res = await get(manifestUrl, signal);
  } catch (e) {
    throw new Error(`cannot fetch the manifest ${manifestUrl.href}: ${messageOf(e)}`);
  }
  if (!res.ok) throw new Error(`cannot fetch the manifest ${manifestUrl.href}: HTTP ${res.status}`);
  const text = await res.text();
  if (text.length > MAX_MANIFEST_CHARS) throw new Error(`${manifestUrl.href} is too large for a model manifest`);
  const read = readManifestText(text);
  if (!read.ok) throw new Error(read.notJson ? `${manifestUrl.href} is not a model manifest (not JSON)` : read.detail);
  const { manifest, json: raw } = read;
  const { id } = manifest;
  if ((await readModelsIndex()).models[id] !== undefined) throw new Error(`a model with the id "${id}" is part of the extension already`);
  if (await readStoredModel(id)) throw new Error(`"${id}" is installed already: remove it first to download it again`);
  status.id = id;
  status.name = manifest.name;
  status.total = manifest.onnx.bytes;

  let dir = await modelDir(id, true);
  if (!dir) throw new Error('cannot create the model folder (browser storage unavailable?)');
  claim(id);
  const saved = (await readJson(dir, PROGRESS_FILE)) as DownloadProgress | undefined;
  const sameFile =
    saved?.manifestUrl === manifestUrl.href &&
    (saved.manifest as { onnx?: { sha256?: unknown } } | undefined)?.onnx?.sha256 === manifest.onnx.sha256 &&
    saved.chunkSize === chunkSizeFor(manifest.onnx.bytes) &&
    // A download saved before part hashes were kept starts again.
    Array.isArray(saved.parts) &&
    saved.parts.length === saved.chunks;
  if (!sameFile && saved !== undefined) {
    // An unfinished download of another file under this id: its chunks must not mix with ours.
    await removeStoredModel(id);
    dir = await modelDir(id, true);
    if (!dir) throw new Error('cannot create the model folder (browser storage unavailable?)');
  }
  let progress: DownloadProgress = sameFile
    ? saved
    : { manifestUrl: manifestUrl.href, manifest: raw, chunkSize: chunkSizeFor(manifest.onnx.bytes), chunks: 0, hash: new Sha256().state(), parts: [], etag: null };

  const onnxUrl = onnxUrlOf(manifestUrl, manifest.onnx.file);
  for (let attempt = 1; ; attempt++) {
    try {
      progress = await transfer(dir, onnxUrl, manifest.onnx.bytes, progress, status, signal);
      break;
    } catch (e) {
      if (!(e instanceof Interrupted) || attempt >= MAX_ATTEMPTS || signal.aborted) throw e;
      // Go on from what was committed: the chunks written and the hash state after them.
      progress = ((await readJson(dir, PROGRESS_FILE)) as DownloadProgress | undefined) ?? progress;
      await sleep(300 * attempt);
    }
  }

  status.state = 'verifying';
  const sha = Sha256.fromState(progress.hash).hex();
  if (sha !== manifest.onnx.sha256) {
    throw new Error(`the downloaded file's SHA-256 ${sha} does not match the manifest's ${manifest.onnx.sha256}: refused (corrupt, or not the file the manifest describes)`);
  }
  const size = progress.chunkSize;
  const total = manifest.onnx.bytes;
  const chunks = chunkHashes(
    sha,
    total,
    progress.parts.map((sha256, i) => ({ bytes: Math.min(size, total - i * size), sha256 })),
  );
  await finishInstall(dir, { manifestUrl: manifestUrl.href }, text, chunks); // from now on the model counts as installed
}

/** One request for the rest of the file; returns the progress once the whole file is written. */
async function transfer(
  dir: FileSystemDirectoryHandle,
  url: URL,
  total: number,
  start: DownloadProgress,
  status: ModelDownloadStatus,
  signal: AbortSignal,
): Promise<DownloadProgress> {
  let p = { ...start };
  const from = p.chunks * p.chunkSize;
  const headers: Record<string, string> = from > 0 ? { Range: `bytes=${from}-`, ...(p.etag ? { 'If-Range': p.etag } : {}) } : {};
  let res: Response;
  try {
    res = await get(url, signal, headers);
  } catch (e) {
    if (signal.aborted) throw e;
    throw new Interrupted(`cannot fetch ${url.href}: ${messageOf(e)}`);
  }
  if (from > 0 && resumesAt(res.status, res.headers.get('content-range'), from, total)) {
    status.resumedFrom.push(from);
  } else if (res.status === 200) {
    // The server sends the whole file (no ranges, or it changed): start again from byte 0.
    p = { ...p, chunks: 0, hash: new Sha256().state(), parts: [], etag: res.headers.get('etag') };
  } else {
    await res.body?.cancel();
    throw new Error(`cannot download ${url.href}: HTTP ${res.status}`);
  }
  if (!res.body) throw new Error(`cannot download ${url.href}: empty response`);

  const hash = Sha256.fromState(p.hash);
  const buf = new Uint8Array(p.chunkSize);
  let written = p.chunks * p.chunkSize;
  let fill = 0;
  const commit = async (data: Uint8Array<ArrayBuffer>): Promise<void> => {
    hash.update(data);
    const part = await webCryptoSha256Hex(data);
    await writeFile(dir, partName(p.chunks), data);
    p = { ...p, chunks: p.chunks + 1, hash: hash.state(), parts: [...p.parts, part] };
    await writeFile(dir, PROGRESS_FILE, JSON.stringify(p));
    written += data.length;
  };
  status.received = written;
  const startedAt = written;
  const chunks = responseChunks(res.body, signal, (e, received) => new Interrupted(`the connection dropped after ${startedAt + received} of ${total} bytes (${messageOf(e)})`));
  for await (let v of chunks) {
    // Leaving the loop (the throw below) cancels the body.
    if (written + fill + v.length > total) throw new Error(`${url.href} is larger than the ${total} bytes its manifest says: refused`);
    while (v.length > 0) {
      const n = Math.min(v.length, p.chunkSize - fill);
      buf.set(v.subarray(0, n), fill);
      fill += n;
      v = v.subarray(n);
      if (fill === p.chunkSize) {
        await commit(buf);
        fill = 0;
      }
    }
    status.received = written + fill;
  }
  if (written + fill < total) throw new Interrupted(`the server ended the file after ${written + fill} of ${total} bytes`);
  if (fill > 0) await commit(buf.subarray(0, fill));
  return p;
}

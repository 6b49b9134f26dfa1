// Downloaded models in the origin private file system (OPFS), readable by the service worker (which
// lists and removes them) and the offscreen document (which downloads and loads them):
//
//   models/<id>/part-00000.bin …   the ONNX file in chunks; each chunk is written and committed
//                                  on its own, so an interrupted download keeps what it finished
//   models/<id>/download.json      while downloading: where from, how far, the hash state so far
//                                  and each committed part's hash
//   models/<id>/source.json        once installed: the manifest URL (or the imported file's
//                                  name) and when
//   models/<id>/chunks.json        once installed: each part's SHA-256 (ChunkHashes below), so a
//                                  load checks the parts with WebCrypto instead of hashing the
//                                  whole file in JavaScript; absent for installs made before it
//   models/<id>/weights-00000.bin …  a model imported from a checkpoint: its weights (float32),
//                                  one part per fetched range; part-00000.bin is then its graph
//   models/<id>/import.json        while importing a checkpoint: the ranges stored and their SHA-256
//   models/<id>/manifest.json      written last, after the SHA-256 matched: its presence means
//                                  "installed"; a folder without it is an unfinished download
//   active.json                    the model the user chose ({ id }), packaged or downloaded
// Over 300 lines: the one module that owns the OPFS layout above (writes, reads, removal, the
// part-hash records); splitting it would spread the layout's rules over several files.

import { parseManifest, type ModelManifest } from '../detector/manifest';
import { Sha256, type Sha256State } from '../detector/sha256';

const MODELS_DIR = 'models';
const ACTIVE_FILE = 'active.json';
/** Probes that reproduced their reference on WebAssembly, by src/detector/probe.ts probeMemoKey. */
const PROBES_FILE = 'probes-passed.json';
/** Enough for every installed model and variant across a few browser and extension updates. */
const PROBES_KEPT = 16;
export const MANIFEST_FILE = 'manifest.json';
export const SOURCE_FILE = 'source.json';
export const PROGRESS_FILE = 'download.json';

export interface StoredModel {
  manifest: ModelManifest;
  /** Where a downloaded model came from ('' for an imported one). */
  manifestUrl: string;
  /** The ONNX file's name for a model imported from files (null for a downloaded one). */
  importedFrom: string | null;
  installedAt: number;
}

/** How a model reached OPFS: downloaded from a manifest URL, or imported from local files. */
export type ModelSource = { manifestUrl: string } | { importedFrom: string };

export const CHUNKS_FILE = 'chunks.json';

/** About 64 chunks per model, each between 64 KiB and 8 MiB (about 100 files for 800 MB). */
export function chunkSizeFor(bytes: number): number {
  const KiB64 = 65_536;
  return Math.min(8 * 1024 * 1024, Math.max(KiB64, Math.ceil(bytes / 64 / KiB64) * KiB64));
}

/**
 * chunks.json: the SHA-256 of each part of a model file, recorded when the file was installed
 * (downloaded, imported or packaged), from the same bytes whose whole-file SHA-256 was checked
 * against the manifest then (a checkpoint import, whose weights file it wrote itself, records
 * that file's parts in weights-chunks.json). Every load checks each part against it (WebCrypto,
 * native speed); the file is the manifest's only if `sha256` and `bytes` are the manifest's too.
 *
 *   { "v": 1, "sha256": "<whole file>", "bytes": N, "parts": [{ "bytes": n, "sha256": "<hex>" }, …] }
 *
 * The parts follow each other from byte 0 and their sizes add up to N (any sizes, up to
 * MAX_PART_BYTES each). Whoever writes an install makes it with `chunkHashes`, hashing each part
 * with `webCryptoSha256Hex` as it is written.
 */
export interface ChunkHashes {
  v: 1;
  /** The whole file's SHA-256 and size: the manifest's (`onnx` or `weights`). */
  sha256: string;
  bytes: number;
  /** In file order; lower-case hex. */
  parts: PartHash[];
}
export interface PartHash {
  bytes: number;
  sha256: string;
}

export const WEIGHTS_CHUNKS_FILE = 'weights-chunks.json';
/** The largest part a record may name (the loader reads a part at a time into a buffer of the record's largest part). */
export const MAX_PART_BYTES = 32 * 1024 * 1024;

const HEX64 = /^[0-9a-f]{64}$/;

/** SHA-256 of `data` (WebCrypto), lower-case hex. */
export async function webCryptoSha256Hex(data: Uint8Array<ArrayBuffer>): Promise<string> {
  return Array.from(new Uint8Array(await crypto.subtle.digest('SHA-256', data)), (b) => b.toString(16).padStart(2, '0')).join('');
}

/** The record of an installed file: its whole SHA-256 (checked against the manifest) and its parts'. */
export function chunkHashes(sha256: string, bytes: number, parts: PartHash[]): ChunkHashes {
  return { v: 1, sha256, bytes, parts };
}

/** `raw` as the part hashes of the file `file` describes, or null if it is not exactly that. */
export function parseChunkHashes(raw: unknown, file: { sha256: string; bytes: number }): ChunkHashes | null {
  if (typeof raw !== 'object' || raw === null) return null;
  const c = raw as Partial<Record<keyof ChunkHashes, unknown>>;
  if (c.v !== 1 || c.sha256 !== file.sha256 || c.bytes !== file.bytes || !Array.isArray(c.parts)) return null;
  const parts: PartHash[] = [];
  let total = 0;
  for (const p of c.parts as unknown[]) {
    const { bytes, sha256 } = (p ?? {}) as Partial<Record<keyof PartHash, unknown>>;
    if (typeof bytes !== 'number' || !Number.isSafeInteger(bytes) || bytes <= 0 || bytes > MAX_PART_BYTES) return null;
    if (typeof sha256 !== 'string' || !HEX64.test(sha256)) return null;
    parts.push({ bytes, sha256 });
    total += bytes;
  }
  return total === file.bytes ? chunkHashes(file.sha256, file.bytes, parts) : null;
}

/** The part hashes of installed model `id`'s file (`name`: CHUNKS_FILE or WEIGHTS_CHUNKS_FILE), if they describe `file`. */
export async function readChunkHashes(id: string, file: { sha256: string; bytes: number }, name = CHUNKS_FILE): Promise<ChunkHashes | null> {
  const dir = await modelDir(id, false);
  return dir ? parseChunkHashes(await readJson(dir, name), file) : null;
}

/** What an unfinished download saved: enough to continue it. */
export interface DownloadProgress {
  manifestUrl: string;
  /** The manifest as downloaded (validated again when used). */
  manifest: unknown;
  chunkSize: number;
  /** Chunks written and committed, in order. */
  chunks: number;
  /** SHA-256 state after those chunks. */
  hash: Sha256State;
  /** Each of those chunks' own SHA-256 (ChunkHashes.parts so far). */
  parts: string[];
  /** The server's ETag for the ONNX file, sent as If-Range when resuming. */
  etag: string | null;
}

export interface UnfinishedDownload {
  id: string;
  manifestUrl: string;
  received: number;
  total: number;
  /** A paused or interrupted checkpoint import (manifestUrl: the checkpoint's URL or file name). */
  checkpoint?: boolean;
}

type Entries = { entries(): AsyncIterable<[string, FileSystemHandle]> };

async function root(): Promise<FileSystemDirectoryHandle> {
  return navigator.storage.getDirectory();
}

export async function modelsDir(create: boolean): Promise<FileSystemDirectoryHandle | null> {
  try {
    return await (await root()).getDirectoryHandle(MODELS_DIR, { create });
  } catch {
    return null;
  }
}

export async function modelDir(id: string, create: boolean): Promise<FileSystemDirectoryHandle | null> {
  const dir = await modelsDir(create);
  if (!dir) return null;
  try {
    return await dir.getDirectoryHandle(id, { create });
  } catch {
    return null;
  }
}

export async function readJson(dir: FileSystemDirectoryHandle, name: string): Promise<unknown> {
  try {
    return JSON.parse(await (await (await dir.getFileHandle(name)).getFile()).text()) as unknown;
  } catch {
    return undefined;
  }
}

/** Writes a file and commits it (an OPFS writable only lands on close). */
export async function writeFile(dir: FileSystemDirectoryHandle, name: string, data: string | Uint8Array<ArrayBuffer>): Promise<void> {
  const w = await (await dir.getFileHandle(name, { create: true })).createWritable();
  try {
    await w.write(data);
  } catch (e) {
    await w.abort().catch(() => undefined);
    throw e;
  }
  await w.close();
}

export const partName = (i: number): string => `part-${String(i).padStart(5, '0')}.bin`;
/** A checkpoint import's weights file, in parts (one per fetched unit: src/detector/checkpoint/import-plan.ts). */
export const weightsPartName = (i: number): string => `weights-${String(i).padStart(5, '0')}.bin`;
/** While a checkpoint import runs or is paused: what it has stored so far (src/shared/checkpoint-import.ts). */
export const IMPORT_FILE = 'import.json';

/**
 * Makes a model whose chunks are all written installed: where it came from and its parts' hashes,
 * then its manifest (last: its presence means "installed"), then the download's progress file goes.
 */
export async function finishInstall(dir: FileSystemDirectoryHandle, source: ModelSource, manifestText: string, chunks?: ChunkHashes): Promise<void> {
  await writeFile(dir, SOURCE_FILE, JSON.stringify({ ...source, installedAt: Date.now() }));
  if (chunks) await writeFile(dir, CHUNKS_FILE, JSON.stringify(chunks));
  await writeFile(dir, MANIFEST_FILE, manifestText);
  await dir.removeEntry(PROGRESS_FILE).catch(() => undefined);
}

/**
 * Stores the bytes `read` gives, chunk by chunk (chunkSizeFor), as model `dir`'s ONNX parts, and
 * returns the whole file's SHA-256 and each part's, hashed as they pass (to compare `sha256` with
 * the manifest, then hand to finishInstall). `read(at, n)` returns up to n bytes from `at`.
 */
export async function writeChunks(
  dir: FileSystemDirectoryHandle,
  total: number,
  read: (at: number, n: number) => Promise<Uint8Array<ArrayBuffer>>,
  progress: (written: number) => void,
): Promise<ChunkHashes> {
  const size = chunkSizeFor(total);
  const hash = new Sha256();
  const parts: PartHash[] = [];
  for (let i = 0, at = 0; at < total; i++) {
    const data = await read(at, Math.min(size, total - at));
    if (data.length === 0) throw new Error(`the file ended after ${at} of ${total} bytes`);
    hash.update(data);
    parts.push({ bytes: data.length, sha256: await webCryptoSha256Hex(data) });
    await writeFile(dir, partName(i), data);
    at += data.length;
    progress(at);
  }
  return chunkHashes(hash.hex(), total, parts);
}

async function entries(dir: FileSystemDirectoryHandle): Promise<Array<[string, FileSystemHandle]>> {
  const out: Array<[string, FileSystemHandle]> = [];
  for await (const e of (dir as unknown as Entries).entries()) out.push(e);
  return out;
}

/** One downloaded model, if it is completely installed. */
export async function readStoredModel(id: string): Promise<StoredModel | null> {
  const dir = await modelDir(id, false);
  if (!dir) return null;
  const raw = await readJson(dir, MANIFEST_FILE);
  if (raw === undefined) return null;
  try {
    const manifest = parseManifest(raw);
    if (manifest.id !== id) return null;
    const src = (await readJson(dir, SOURCE_FILE)) as { manifestUrl?: unknown; importedFrom?: unknown; installedAt?: unknown } | undefined;
    return {
      manifest,
      manifestUrl: typeof src?.manifestUrl === 'string' ? src.manifestUrl : '',
      importedFrom: typeof src?.importedFrom === 'string' ? src.importedFrom : null,
      installedAt: typeof src?.installedAt === 'number' ? src.installedAt : 0,
    };
  } catch {
    return null;
  }
}

export async function listStoredModels(): Promise<{ installed: StoredModel[]; unfinished: UnfinishedDownload[] }> {
  const installed: StoredModel[] = [];
  const unfinished: UnfinishedDownload[] = [];
  const dir = await modelsDir(false);
  if (!dir) return { installed, unfinished };
  for (const [name, handle] of await entries(dir)) {
    if (handle.kind !== 'directory') continue;
    const model = await readStoredModel(name);
    if (model) {
      installed.push(model);
      continue;
    }
    const imp = (await readJson(handle as FileSystemDirectoryHandle, IMPORT_FILE)) as { origin?: unknown; fetched?: unknown; toFetch?: unknown } | undefined;
    if (imp && typeof imp.origin === 'string' && typeof imp.fetched === 'number' && typeof imp.toFetch === 'number') {
      unfinished.push({ id: name, manifestUrl: imp.origin, received: imp.fetched, total: imp.toFetch, checkpoint: true });
      continue;
    }
    const p = (await readJson(handle as FileSystemDirectoryHandle, PROGRESS_FILE)) as Partial<DownloadProgress> | undefined;
    const total = (p?.manifest as { onnx?: { bytes?: unknown } } | undefined)?.onnx?.bytes;
    if (p && typeof p.manifestUrl === 'string' && typeof total === 'number' && typeof p.chunks === 'number' && typeof p.chunkSize === 'number') {
      unfinished.push({ id: name, manifestUrl: p.manifestUrl, received: Math.min(total, p.chunks * p.chunkSize), total });
    } else {
      unfinished.push({ id: name, manifestUrl: '', received: 0, total: 0 });
    }
  }
  installed.sort((a, b) => a.manifest.id.localeCompare(b.manifest.id));
  return { installed, unfinished };
}

/**
 * The ONNX file of an installed model as one Blob made of its part files: nothing is read here,
 * so the 800 MB never sits in memory whole (onnxruntime and the hash read it in pieces).
 */
export async function storedOnnxBlob(id: string, bytes: number): Promise<Blob> {
  return (await storedOnnxParts(id, bytes)).blob;
}

/** The weights file of a model imported from a checkpoint (its graph is the ONNX file), as one Blob. */
export async function storedWeightsBlob(id: string, bytes: number): Promise<Blob> {
  return (await storedWeightsParts(id, bytes)).blob;
}

/** A stored file: its parts as one Blob, and the parts' handles in order (for a worker to read them itself). */
export interface StoredParts {
  blob: Blob;
  handles: FileSystemFileHandle[];
}

export function storedOnnxParts(id: string, bytes: number): Promise<StoredParts> {
  return storedParts(id, bytes, partName, 'model');
}

export function storedWeightsParts(id: string, bytes: number): Promise<StoredParts> {
  return storedParts(id, bytes, weightsPartName, 'weights file of the model');
}

async function storedParts(id: string, bytes: number, nameOf: (i: number) => string, what: string): Promise<StoredParts> {
  const dir = await modelDir(id, false);
  if (!dir) throw new Error(`downloaded model "${id}" is gone`);
  const parts: File[] = [];
  const handles: FileSystemFileHandle[] = [];
  let at = 0;
  for (let i = 0; ; i++) {
    let handle: FileSystemFileHandle;
    let file: File;
    try {
      handle = await dir.getFileHandle(nameOf(i));
      file = await handle.getFile();
    } catch {
      break;
    }
    at += file.size;
    if (at > bytes) throw new Error(`the ${what} "${id}" is larger than its manifest says`);
    parts.push(file);
    handles.push(handle);
  }
  if (at !== bytes) throw new Error(`the ${what} "${id}" is incomplete (${at} of ${bytes} bytes)`);
  return { blob: new Blob(parts), handles };
}

export async function removeStoredModel(id: string): Promise<void> {
  const dir = await modelsDir(false);
  await dir?.removeEntry(id, { recursive: true }).catch((e: unknown) => {
    if (!(e instanceof DOMException && e.name === 'NotFoundError')) throw e;
  });
}

/** Every downloaded model, finished or not, the choice of active model, and the probes remembered. */
export async function removeAllStoredModels(): Promise<void> {
  const r = await root();
  for (const name of [MODELS_DIR, ACTIVE_FILE, PROBES_FILE]) {
    await r.removeEntry(name, { recursive: true }).catch((e: unknown) => {
      if (!(e instanceof DOMException && e.name === 'NotFoundError')) throw e;
    });
  }
}

/** The id the user chose, or null for the build's default. */
export async function readActiveChoice(): Promise<string | null> {
  const v = (await readJson(await root(), ACTIVE_FILE)) as { id?: unknown } | undefined;
  return typeof v?.id === 'string' ? v.id : null;
}

export async function writeActiveChoice(id: string | null): Promise<void> {
  const r = await root();
  if (id === null) await r.removeEntry(ACTIVE_FILE).catch(() => undefined);
  else await writeFile(r, ACTIVE_FILE, JSON.stringify({ id }));
}

async function probesPassed(r: FileSystemDirectoryHandle): Promise<string[]> {
  const v = (await readJson(r, PROBES_FILE)) as { keys?: unknown } | undefined;
  return Array.isArray(v?.keys) ? v.keys.filter((k): k is string => typeof k === 'string') : [];
}

/** Whether a probe under these conditions (probeMemoKey) reproduced its reference before. */
export async function probePassedBefore(key: string): Promise<boolean> {
  try {
    return (await probesPassed(await root())).includes(key);
  } catch {
    return false;
  }
}

/** Remembers a probe that reproduced its reference (the newest PROBES_KEPT are kept). */
export async function rememberProbePassed(key: string): Promise<void> {
  const r = await root();
  const keys = [...(await probesPassed(r)).filter((k) => k !== key), key].slice(-PROBES_KEPT);
  await writeFile(r, PROBES_FILE, JSON.stringify({ keys }));
}

// Installs a model converted with the project's tool (`npm run model:install` / tools/convert.py)
// from local files: its manifest.json and ONNX file, picked in the options page. The options page
// is an extension page, so it writes the same origin private file system the offscreen engine
// reads (src/shared/model-store.ts), in the same layout a download leaves. The manifest is
// validated first and the file's size checked before anything is written; the ONNX file is then
// read in slices, hashed and stored chunk by chunk, and only when its SHA-256 matches the
// manifest's is the model installed. Any other ending removes what was written.

import { readManifestText, type ModelManifest } from '../detector/manifest';
import { readModelsIndex } from '../shared/model-registry';
import { finishInstall, modelDir, readStoredModel, removeStoredModel, writeChunks } from '../shared/model-store';

const MAX_MANIFEST_BYTES = 1 << 20;

export interface PickedModelFiles {
  manifest: File;
  /** Null when none of the files is the ONNX file. */
  onnx: File | null;
}

export type ImportPhase = 'storing' | 'verifying';

export interface ImportProgress {
  phase: ImportPhase;
  done: number;
  total: number;
}

/** Refusals that say what is wrong with the files (shown to the user as they are). */
export class ImportError extends Error {}

const fileName = (f: File): string => f.name.split(/[\\/]/).pop() ?? f.name;

/**
 * Which picked file is the manifest and which the ONNX file: `manifest.json` (or the only .json),
 * and the file the manifest names (or the only .onnx). Pure: tests call it with node's File.
 */
export function pickModelFiles(files: readonly File[], onnxName: string | null): PickedModelFiles {
  const json = files.filter((f) => fileName(f).toLowerCase().endsWith('.json'));
  const manifest = json.find((f) => fileName(f) === 'manifest.json') ?? (json.length === 1 ? json[0] : undefined);
  if (!manifest) {
    throw new ImportError(
      json.length === 0 ? 'no manifest.json among the chosen files: choose the converted model’s manifest.json and its ONNX file' : 'several .json files and none is named manifest.json: choose one manifest',
    );
  }
  const onnxFiles = files.filter((f) => fileName(f).toLowerCase().endsWith('.onnx'));
  const onnx = onnxFiles.find((f) => fileName(f) === onnxName) ?? (onnxFiles.length === 1 ? onnxFiles[0] : undefined);
  return { manifest, onnx: onnx ?? null };
}

async function readManifest(file: File): Promise<{ manifest: ModelManifest; text: string }> {
  if (file.size > MAX_MANIFEST_BYTES) throw new ImportError(`${fileName(file)} is too large for a model manifest`);
  const text = await file.text();
  const read = readManifestText(text);
  if (read.ok) return { manifest: read.manifest, text };
  throw new ImportError(read.notJson ? `${fileName(file)} is not a model manifest (not JSON)` : `${fileName(file)} is not a valid model manifest: ${read.detail}`);
}

/** Checks, stores and registers the model in `files`; returns its manifest once installed. */
export async function importModelFiles(files: readonly File[], progress: (p: ImportProgress) => void): Promise<ModelManifest> {
  const { manifest, text } = await readManifest(pickModelFiles(files, null).manifest);
  const onnx = pickModelFiles(files, manifest.onnx.file).onnx;
  if (!onnx) throw new ImportError(`the manifest names the model file “${manifest.onnx.file}”: choose it together with manifest.json`);
  const { id } = manifest;
  if ((await readModelsIndex()).models[id] !== undefined) throw new ImportError(`a model with the id "${id}" is part of the extension already`);
  if (await readStoredModel(id)) throw new ImportError(`"${id}" is installed already: remove it first to install it again`);
  if (await modelDir(id, false)) throw new ImportError(`an unfinished download or import uses the id "${id}": discard it first`);
  if (onnx.size !== manifest.onnx.bytes) {
    throw new ImportError(`${fileName(onnx)} has ${onnx.size} bytes but the manifest says ${manifest.onnx.bytes}: refused (not the file the manifest describes, or incomplete)`);
  }

  const dir = await modelDir(id, true);
  if (!dir) throw new Error('cannot create the model folder (browser storage unavailable?)');
  try {
    const total = manifest.onnx.bytes;
    progress({ phase: 'storing', done: 0, total });
    const read = async (at: number, n: number): Promise<Uint8Array<ArrayBuffer>> => new Uint8Array(await onnx.slice(at, at + n).arrayBuffer());
    const chunks = await writeChunks(dir, total, read, (done) => progress({ phase: 'storing', done, total }));
    const sha = chunks.sha256;
    progress({ phase: 'verifying', done: total, total });
    if (sha !== manifest.onnx.sha256) {
      throw new ImportError(
        `${fileName(onnx)}’s SHA-256 ${sha} does not match the manifest’s ${manifest.onnx.sha256}: refused (corrupt, or not the file the manifest describes)`,
      );
    }
    await finishInstall(dir, { importedFrom: fileName(onnx) }, text, chunks);
  } catch (e) {
    await removeStoredModel(id).catch(() => undefined);
    throw e;
  }
  return manifest;
}

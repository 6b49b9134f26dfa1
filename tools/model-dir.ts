// The checks a model folder (manifest.json + its ONNX file) must pass before a tool uses it, in one
// place for `npm run model:install`, `npm run eval` and the converter's tests: the manifest against
// the schema the extension uses (src/detector/manifest.ts), the ONNX file's size and SHA-256 against
// the manifest, and the model itself, loaded by onnxruntime-node and run on the probe input, against
// the manifest's PyTorch probe logits (the rule is src/detector/probe.ts's, as in the extension).
// Also where models live: the folders under models/ and which one a build or an eval uses.

import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import ort from 'onnxruntime-node';
import { runtimeFor, type Runtime } from './exact-int8';
import { readManifestText, type ModelManifest } from '../src/detector/manifest';
import { probeInput, probeMaxDiff, probeReproduced } from '../src/detector/probe';
import { runWithinLimit } from '../src/detector/variants';
import fixture from './fixture.json';

/** The committed test model's id and its folder under models/ (also read by tools/realfake_ref/fixture.py). */
export const FIXTURE_ID: string = fixture.id;
export const FIXTURE_FOLDER: string = fixture.folder;

/** A model folder that fails a check; its message says which and why, in one line or two. */
export class ModelDirError extends Error {
  override name = 'ModelDirError';
}

/** The first line of an error's message. */
export const errorText = (e: unknown): string => (e instanceof Error ? e.message : String(e)).split('\n')[0] ?? '';

export async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** A manifest's text, parsed and checked against the schema; `where` (a path or URL) names it in errors. */
export function parseManifestText(text: string, where: string): ModelManifest {
  const read = readManifestText(text);
  if (read.ok) return read.manifest;
  throw new ModelDirError(read.notJson ? `${where} is not valid JSON (${errorText(read.detail)})` : `${where}: ${errorText(read.detail)}`);
}

export async function readManifest(path: string): Promise<ModelManifest> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new ModelDirError(`cannot read ${path}: ${errorText(e)}`);
  }
  return parseManifestText(text, path);
}

/** Size and SHA-256 of `onnxPath` against the manifest. */
export async function checkOnnxFile(onnxPath: string, m: ModelManifest): Promise<void> {
  let size: number;
  try {
    size = (await stat(onnxPath)).size;
  } catch {
    throw new ModelDirError(`${onnxPath}: no such file (the manifest names ${m.onnx.file})`);
  }
  if (size !== m.onnx.bytes) {
    throw new ModelDirError(
      `${onnxPath} is ${size} bytes but its manifest says ${m.onnx.bytes}: ` +
        (size < m.onnx.bytes ? 'the file is truncated (an interrupted copy or download?)' : 'it is not the file the manifest describes'),
    );
  }
  const sha = await sha256File(onnxPath);
  if (sha !== m.onnx.sha256) {
    throw new ModelDirError(`${onnxPath}: SHA-256 ${sha} does not match its manifest's ${m.onnx.sha256}: the file is corrupt or not the one the manifest describes`);
  }
}

export interface CheckedSession {
  session: ort.InferenceSession;
  /** The onnxruntime that runs it (tools/exact-int8.ts), for its tensors. */
  runtime: Runtime;
  /** Largest |logit difference| of that runtime on the probe input from the manifest's. */
  probeMaxDiff: number;
}

/**
 * Loads the model with onnxruntime-node (an int8 one with onnxruntime-web where the native int8
 * kernel is not exact on this CPU: tools/exact-int8.ts) and runs the probe; throws (releasing it)
 * unless it reproduces the manifest.
 */
export async function openChecked(onnxPath: string, m: ModelManifest): Promise<CheckedSession> {
  const { ort: runtime, provider } = await runtimeFor(m.precision);
  let session: ort.InferenceSession;
  try {
    session = await runtime.InferenceSession.create(onnxPath, { executionProviders: [provider] });
  } catch (e) {
    throw new ModelDirError(`onnxruntime cannot load ${onnxPath} (truncated or not an ONNX model?): ${errorText(e)}`);
  }
  try {
    if (!session.inputNames.includes(m.input.name) || !session.outputNames.includes(m.output.name)) {
      throw new ModelDirError(
        `${onnxPath} has inputs [${session.inputNames.join(', ')}] and outputs [${session.outputNames.join(', ')}]; ` +
          `its manifest says input "${m.input.name}", output "${m.output.name}"`,
      );
    }
    const [, c, h, w] = m.input.shape;
    const { batch, logits: want, tolerance } = m.probe;
    let got: Float32Array;
    try {
      got = await runWithinLimit(m, probeInput(batch, h, w), batch, async (part, n) => {
        const out = await session.run({ [m.input.name]: new runtime.Tensor('float32', part, [n, c, h, w]) });
        return out[m.output.name]?.data as Float32Array;
      });
    } catch (e) {
      throw new ModelDirError(`onnxruntime cannot run ${onnxPath} on the probe input: ${errorText(e)}`);
    }
    if (got.length !== want.length) {
      throw new ModelDirError(`${onnxPath} gives ${got.length} logits for the probe, its manifest ${want.length} (${m.labels.length} labels)`);
    }
    const worst = probeMaxDiff(got, want);
    if (!probeReproduced(worst, tolerance)) {
      throw new ModelDirError(`${onnxPath}: probe logits differ from the manifest's by ${worst.toPrecision(3)} (> ${tolerance}): not the model the manifest describes`);
    }
    return { session, runtime, probeMaxDiff: worst };
  } catch (e) {
    await session.release();
    throw e;
  }
}

export interface CheckedModel extends CheckedSession {
  dir: string;
  manifest: ModelManifest;
}

/** Every check on a model folder; the caller releases the returned session. */
export async function openModelDir(dir: string): Promise<CheckedModel> {
  const manifest = await readManifest(join(dir, 'manifest.json'));
  const onnxPath = join(dir, manifest.onnx.file);
  await checkOnnxFile(onnxPath, manifest);
  return { dir, manifest, ...(await openChecked(onnxPath, manifest)) };
}

/** Every check on a model folder, releasing the model afterwards. */
export async function verifyModelDir(dir: string): Promise<Omit<CheckedModel, 'session'>> {
  const { session, ...checked } = await openModelDir(dir);
  await session.release();
  return checked;
}

/** The id a folder's manifest.json names, or undefined when it has none or cannot be read. */
async function manifestId(dir: string): Promise<string | undefined> {
  try {
    const id = (JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8')) as { id?: unknown }).id;
    return typeof id === 'string' ? id : undefined;
  } catch {
    return undefined;
  }
}

/** The model folders under `modelsDir` (not the hidden staging ones), with the id each manifest names. */
export async function modelFolders(modelsDir: string): Promise<Array<{ name: string; dir: string; id: string | undefined }>> {
  const entries = existsSync(modelsDir) ? await readdir(modelsDir, { withFileTypes: true }) : [];
  const folders = entries.filter((e) => e.isDirectory() && !e.name.startsWith('.') && existsSync(join(modelsDir, e.name, 'manifest.json')));
  return Promise.all(folders.map(async (e) => ({ name: e.name, dir: join(modelsDir, e.name), id: await manifestId(join(modelsDir, e.name)) })));
}

/**
 * The folder of model `idOrDir`: a folder holding manifest.json, or the id of a model under
 * `modelsDir`; by default the active one (models/active.json), else the fixture, as the build does.
 */
export async function findModelDir(idOrDir: string | undefined, modelsDir: string): Promise<string> {
  if (idOrDir && existsSync(join(idOrDir, 'manifest.json'))) return resolve(idOrDir);
  let id = idOrDir;
  if (!id) {
    try {
      const active = JSON.parse(await readFile(join(modelsDir, 'active.json'), 'utf8')) as { id?: unknown };
      if (typeof active.id === 'string') id = active.id;
    } catch {
      // No active.json: the fixture.
    }
  }
  id ??= FIXTURE_ID;
  const found = (await modelFolders(modelsDir)).find((f) => f.id === id);
  if (found) return found.dir;
  throw new ModelDirError(`no model "${id}" under ${modelsDir} (install one with npm run model:install, or pass --model FOLDER)`);
}

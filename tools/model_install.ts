// `npm run model:install`: puts a converted model under models/<id>/ and makes the next build use it
// (vite.config.ts packages every model folder and activates $REALFAKE_MODEL, else models/active.json,
// else the fixture). Run through tools/bin/model_install.mjs, which loads this file with Vite.
//
//   npm run model:install -- CHECKPOINT [converter options]   converts with tools/convert.py
//   npm run model:install -- MODEL.onnx MANIFEST.json          copies an already converted model
//   npm run model:install -- DIR                               the same, DIR holding manifest.json
//   npm run model:install -- https://HOST/PATH/manifest.json   downloads a converted model
//   npm run model:install -- --activate ID                     switches to an installed model
// Options: --force (replace an installed model of the same id), --no-activate, --models-dir DIR.
//
// Everything is checked in a staging folder inside the models folder before it is renamed into
// place, by tools/model-dir.ts (manifest schema, ONNX size and SHA-256, probe logits). Any failure
// removes the staging folder: nothing half-installed is left behind. A download (https; plain http only from
// 127.0.0.1/localhost) streams the ONNX file named by the manifest, next to it, into the staging
// folder, hashing it as it arrives, with progress on stderr.

import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, open, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import type { ModelManifest } from '../src/detector/manifest';
import { checkModelUrl, onnxUrlOf } from '../src/detector/model-source';
import { checkOnnxFile, errorText, FIXTURE_FOLDER, FIXTURE_ID, modelFolders, ModelDirError, parseManifestText, readManifest, verifyModelDir } from './model-dir';

export const REPO = resolve(import.meta.dirname, '..');

export class InstallError extends ModelDirError {
  override name = 'InstallError';
}

export interface InstallOptions {
  /** Where models live (default: the repository's models/). */
  modelsDir: string;
  /** Replace an installed model with the same id. */
  force: boolean;
  /** Write models/active.json naming the (first) installed model. */
  activate: boolean;
  /** The Python with Debian's torch/torchvision/onnx, for checkpoints. */
  python: string;
  log: (line: string) => void;
  /** Download progress lines (stderr). */
  progress: (line: string) => void;
}

export interface Installed {
  manifest: ModelManifest;
  /** Largest |logit difference| of onnxruntime-node on the probe input from the manifest's. */
  probeMaxDiff: number;
  dir: string;
}

/** The folder that would hold `id`, refusing ids that belong to another folder or to the fixture. */
async function targetDir(modelsDir: string, id: string, force: boolean): Promise<string> {
  const target = join(modelsDir, id);
  if (id === FIXTURE_FOLDER) throw new InstallError(`the id "${id}" is the committed test model's folder; choose another id`);
  const other = (await modelFolders(modelsDir)).find((f) => f.name !== id && f.id === id);
  if (other) throw new InstallError(`the id "${id}" already belongs to ${other.dir}; choose another id`);
  if (existsSync(target) && !force) throw new InstallError(`${target} already exists: pass --force to replace it`);
  return target;
}

/** Renames a verified staging folder into place, replacing an older install of the same id. */
async function moveIntoPlace(staged: string, target: string): Promise<void> {
  if (!existsSync(target)) {
    await rename(staged, target);
    return;
  }
  const old = await mkdtemp(join(dirname(target), `.${basename(target)}.old-`));
  await rename(target, join(old, 'previous'));
  try {
    await rename(staged, target);
  } catch (e) {
    await rename(join(old, 'previous'), target);
    throw e;
  }
  await rm(old, { recursive: true, force: true });
}

export async function activate(modelsDir: string, id: string): Promise<void> {
  const found = existsSync(join(modelsDir, id, 'manifest.json')) || id === FIXTURE_ID;
  if (!found) throw new InstallError(`no model "${id}" is installed under ${modelsDir}`);
  const tmp = join(modelsDir, `.active.json.${process.pid}.tmp`);
  await writeFile(tmp, JSON.stringify({ id }, null, 2) + '\n');
  await rename(tmp, join(modelsDir, 'active.json'));
}

function runConverter(python: string, args: string[], log: (line: string) => void): Promise<{ models: Array<{ id: string; dir: string }> }> {
  return new Promise((done, fail) => {
    const child = execFile(python, [join(REPO, 'tools/convert.py'), ...args, '--json'], { cwd: REPO, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) {
        const lines = stderr.split('\n').filter((l) => l.startsWith('convert: error:') || l.includes('usage:') || l.includes('error:'));
        const why = lines.length > 0 ? lines.join('\n') : stderr.trim().split('\n').slice(-3).join('\n') || errorText(err);
        fail(new InstallError(why.replace(/^convert: error: /gm, 'conversion failed: ')));
        return;
      }
      done(JSON.parse(stdout) as { models: Array<{ id: string; dir: string }> });
    });
    child.stderr?.on('data', (d: Buffer) => {
      for (const line of d.toString().split('\n')) if (line && !line.startsWith('convert: error:')) log(line);
    });
  });
}

async function withStaging<T>(modelsDir: string, work: (staging: string) => Promise<T>): Promise<T> {
  await mkdir(modelsDir, { recursive: true });
  const staging = await mkdtemp(join(modelsDir, '.install-'));
  try {
    return await work(staging);
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

/** Verifies every staged model, then moves them all into place and activates the first. */
async function commit(staged: string[], o: InstallOptions): Promise<Installed[]> {
  const checked: Array<Omit<Installed, 'dir'> & { staged: string; target: string }> = [];
  for (const dir of staged) {
    const { manifest, probeMaxDiff } = await verifyModelDir(dir);
    checked.push({ manifest, probeMaxDiff, staged: dir, target: await targetDir(o.modelsDir, manifest.id, o.force) });
  }
  const installed: Installed[] = [];
  for (const c of checked) {
    await moveIntoPlace(c.staged, c.target);
    installed.push({ manifest: c.manifest, probeMaxDiff: c.probeMaxDiff, dir: c.target });
    o.log(`installed ${c.manifest.id} (${c.manifest.precision}, ${c.manifest.onnx.bytes} bytes, SHA-256 ${c.manifest.onnx.sha256}) in ${c.target}`);
  }
  const first = installed[0];
  if (o.activate && first) {
    await activate(o.modelsDir, first.manifest.id);
    o.log(`active model: ${first.manifest.id} (${join(o.modelsDir, 'active.json')}); the next build uses it`);
  }
  return installed;
}

/** Copies an already converted model (ONNX + manifest) into the models folder. */
export async function installFiles(onnxPath: string, manifestPath: string, o: InstallOptions): Promise<Installed[]> {
  const manifest = await readManifest(manifestPath);
  await targetDir(o.modelsDir, manifest.id, o.force); // fail before copying hundreds of MB
  await checkOnnxFile(onnxPath, manifest);
  return withStaging(o.modelsDir, async (staging) => {
    const dir = join(staging, manifest.id);
    await mkdir(dir);
    await copyFile(onnxPath, join(dir, manifest.onnx.file));
    await copyFile(manifestPath, join(dir, 'manifest.json'));
    return commit([dir], o);
  });
}

/** Converts a checkpoint with tools/convert.py (parity-checked) and installs the result. */
export async function installCheckpoint(checkpoint: string, convertArgs: string[], o: InstallOptions): Promise<Installed[]> {
  if (!existsSync(checkpoint)) throw new InstallError(`${checkpoint}: no such file`);
  if (convertArgs.some((a) => a === '--out' || a.startsWith('--out=') || a === '--inspect')) {
    throw new InstallError('--out and --inspect are converter options that model:install does not take (it picks the folder)');
  }
  const idAt = convertArgs.indexOf('--id');
  const id = idAt >= 0 ? (convertArgs[idAt + 1] ?? '') : 'realfake';
  // Fail before a long conversion.
  await targetDir(o.modelsDir, id, o.force);
  if (convertArgs.includes('--fp16')) await targetDir(o.modelsDir, `${id}-fp16`, o.force);
  return withStaging(o.modelsDir, async (staging) => {
    const summary = await runConverter(o.python, [resolve(checkpoint), '--out', join(staging, id), ...convertArgs], o.log);
    return commit(summary.models.map((m) => m.dir), o);
  });
}

const MAX_MANIFEST_BYTES = 1 << 20;
const MB = (n: number): string => (n / 1e6).toFixed(1);

/** A model URL the policy accepts, or an InstallError saying why not. */
function modelUrl(raw: string): URL {
  const d = checkModelUrl(raw);
  if (!d.ok) throw new InstallError(d.detail);
  return d.url;
}

async function get(url: URL, what: string): Promise<Response> {
  let res: Response;
  try {
    res = await fetch(url, { redirect: 'follow' });
  } catch (e) {
    const cause = (e as { cause?: unknown }).cause;
    throw new InstallError(`cannot download ${what} from ${url.href}: ${errorText(cause ?? e)}`);
  }
  // A redirect must not lead to plain http off this machine (or to anything but http(s)).
  if (res.url) modelUrl(res.url);
  if (!res.ok || !res.body) throw new InstallError(`cannot download ${what} from ${url.href}: HTTP ${res.status}`);
  return res;
}

async function fetchManifest(url: URL): Promise<{ manifest: ModelManifest; text: string }> {
  const res = await get(url, 'the manifest');
  const text = await res.text();
  if (text.length > MAX_MANIFEST_BYTES) throw new InstallError(`${url.href} is too large for a model manifest`);
  return { manifest: parseManifestText(text, url.href), text };
}

/** Streams the ONNX file into `dest`, hashing as it arrives; throws unless size and SHA-256 match. */
async function downloadOnnx(url: URL, dest: string, m: ModelManifest, progress: (line: string) => void): Promise<void> {
  const res = await get(url, m.onnx.file);
  const file = await open(dest, 'wx');
  const hash = createHash('sha256');
  const reader = res.body!.getReader();
  let got = 0;
  let shown = -1;
  try {
    for (;;) {
      let chunk: ReadableStreamReadResult<Uint8Array>;
      try {
        chunk = await reader.read();
      } catch (e) {
        const cause = (e as { cause?: unknown }).cause;
        throw new InstallError(`the download of ${url.href} stopped after ${got} of ${m.onnx.bytes} bytes (${errorText(cause ?? e)}); nothing was installed`);
      }
      if (chunk.done) break;
      got += chunk.value.length;
      if (got > m.onnx.bytes) {
        await reader.cancel();
        throw new InstallError(`${url.href} is larger than the ${m.onnx.bytes} bytes its manifest says; nothing was installed`);
      }
      hash.update(chunk.value);
      await file.write(chunk.value);
      const percent = Math.floor((100 * got) / m.onnx.bytes);
      if (percent >= shown + 5 || got === m.onnx.bytes) {
        shown = percent;
        progress(`downloading ${m.onnx.file}: ${MB(got)} of ${MB(m.onnx.bytes)} MB (${percent}%)`);
      }
    }
  } finally {
    await file.close();
  }
  if (got < m.onnx.bytes) {
    throw new InstallError(`the download of ${url.href} ended after ${got} of ${m.onnx.bytes} bytes (the server stopped half-way?); nothing was installed`);
  }
  const sha = hash.digest('hex');
  if (sha !== m.onnx.sha256) {
    throw new InstallError(`${url.href}: SHA-256 ${sha} does not match its manifest's ${m.onnx.sha256}: the file is corrupt or not the one the manifest describes; nothing was installed`);
  }
}

/** Downloads a converted model (its manifest's URL; the ONNX file next to it) and installs it. */
export async function installUrl(raw: string, o: InstallOptions): Promise<Installed[]> {
  const manifestUrl = modelUrl(raw);
  const { manifest, text } = await fetchManifest(manifestUrl);
  await targetDir(o.modelsDir, manifest.id, o.force); // fail before downloading hundreds of MB
  const onnxUrl = modelUrl(onnxUrlOf(manifestUrl, manifest.onnx.file).href);
  return withStaging(o.modelsDir, async (staging) => {
    const dir = join(staging, manifest.id);
    await mkdir(dir);
    await writeFile(join(dir, 'manifest.json'), text);
    await downloadOnnx(onnxUrl, join(dir, manifest.onnx.file), manifest, o.progress);
    return commit([dir], o);
  });
}

export interface ParsedArgs {
  files: string[];
  convertArgs: string[];
  activateId: string | null;
  help: boolean;
  options: InstallOptions;
}

const USAGE = `usage: npm run model:install -- CHECKPOINT [--id ID] [--fp16] [converter options]
       npm run model:install -- MODEL.onnx MANIFEST.json | MODEL_DIR
       npm run model:install -- https://HOST/PATH/manifest.json
       npm run model:install -- --activate ID
Converts, copies or downloads a model into models/<id>/, checks it (manifest, size, SHA-256, probe
logits) and makes the next build use it. A URL names a converted model's manifest.json; its ONNX
file (the manifest's onnx.file) is fetched from the same folder. URLs must be https; plain http is
accepted only from this machine (127.0.0.1, localhost, [::1]).
options: --force  --no-activate  --models-dir DIR  -h, --help
         (converter options: /usr/bin/python3 tools/convert.py --help)`;

export function parseArgs(argv: string[]): ParsedArgs {
  const o: InstallOptions = {
    modelsDir: join(REPO, 'models'),
    force: false,
    activate: true,
    python: process.env.PYTHON ?? '/usr/bin/python3',
    log: (line) => console.log(line),
    progress: (line) => console.error(line),
  };
  const files: string[] = [];
  const convertArgs: string[] = [];
  let activateId: string | null = null;
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] ?? '';
    if (a === '--force') o.force = true;
    else if (a === '--no-activate') o.activate = false;
    else if (a === '--models-dir' || a === '--activate') {
      const v = argv[++i];
      if (!v) throw new InstallError(`${a} needs a value\n${USAGE}`);
      if (a === '--activate') activateId = v;
      else o.modelsDir = resolve(v);
    } else if (a === '-h' || a === '--help') help = true;
    else if (a.startsWith('-')) {
      convertArgs.push(a);
      // Converter options with a value (all but the flags) take the next word along.
      if (!['--fp16', '--json', '--inspect'].includes(a) && !a.includes('=') && i + 1 < argv.length) convertArgs.push(argv[++i] ?? '');
    } else files.push(a);
  }
  return { files, convertArgs, activateId, help, options: o };
}

export async function main(argv: string[]): Promise<number> {
  try {
    const { files, convertArgs, activateId, help, options } = parseArgs(argv);
    if (help) {
      console.log(USAGE);
      return 0;
    }
    if (activateId !== null) {
      if (files.length > 0) throw new InstallError(`--activate takes no files\n${USAGE}`);
      await activate(options.modelsDir, activateId);
      options.log(`active model: ${activateId}`);
      return 0;
    }
    const url = files.find((f) => /^[a-z][a-z0-9+.-]*:\/\//i.test(f));
    if (url !== undefined) {
      if (files.length > 1 || convertArgs.length > 0) throw new InstallError(`a URL is installed on its own\n${USAGE}`);
      await installUrl(url, options);
      return 0;
    }
    let onnx = files.find((f) => f.endsWith('.onnx'));
    let manifest = files.find((f) => f.endsWith('.json'));
    if (files.length === 1 && existsSync(join(files[0] ?? '', 'manifest.json'))) {
      manifest = join(files[0] ?? '', 'manifest.json');
      onnx = join(files[0] ?? '', (await readManifest(manifest)).onnx.file);
    }
    if (onnx || manifest) {
      if (!onnx || !manifest || files.length > 2) throw new InstallError(`give one MODEL.onnx and its MANIFEST.json\n${USAGE}`);
      if (convertArgs.length > 0) throw new InstallError(`converter options (${convertArgs.join(' ')}) apply to checkpoints only`);
      await installFiles(onnx, manifest, options);
    } else {
      if (files.length !== 1) throw new InstallError(USAGE);
      await installCheckpoint(files[0] ?? '', convertArgs, options);
    }
    return 0;
  } catch (e) {
    console.error(`model:install: ${e instanceof ModelDirError ? '' : 'unexpected error: '}${e instanceof Error ? e.message : String(e)}`);
    return 1;
  }
}

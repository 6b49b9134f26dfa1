// Runs the Python reference pipeline (tools/reference.py: PIL + torchvision + PyTorch from
// Debian's python3-* packages). Missing packages fail the test with what to do, never skip it.

import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const REPO = resolve(import.meta.dirname, '../..');
export const PYTHON = process.env.PYTHON ?? '/usr/bin/python3';
export const FIXTURE_MODEL_DIR = join(REPO, 'models/fixture');
const REFERENCE = join(REPO, 'tools/reference.py');

export interface PythonResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `$PYTHON args...` in the repository root; resolves with its exit code and output. */
export function runPython(args: string[], timeoutMs = 240_000): Promise<PythonResult> {
  return new Promise((done, fail) => {
    execFile(PYTHON, args, { cwd: REPO, maxBuffer: 256 * 1024 * 1024, timeout: timeoutMs }, (err, stdout, stderr) => {
      if (err && typeof err.code !== 'number') {
        fail(new Error(`cannot run ${PYTHON} (${err.message}): run scripts/setup.sh, or set PYTHON to a Python with torch, torchvision and PIL`));
        return;
      }
      done({ code: typeof err?.code === 'number' ? err.code : 0, stdout, stderr });
    });
  });
}

let checked: Promise<void> | undefined;

/** Fails (with what to do) unless $PYTHON can import torch, torchvision, PIL and numpy. */
export function requireReferencePython(): Promise<void> {
  checked ??= runPython(['-c', 'import torch, torchvision, PIL, numpy']).then((r) => {
    if (r.code !== 0) {
      throw new Error(
        `${PYTHON} lacks torch/torchvision/PIL/numpy, which the reference pipeline needs: run scripts/setup.sh ` +
          `(installs Debian's python3-torch, python3-torchvision, python3-pil, python3-numpy), or set PYTHON.\n${r.stderr}`,
      );
    }
  });
  return checked;
}

async function reference(args: string[]): Promise<string> {
  await requireReferencePython();
  const r = await runPython([REFERENCE, ...args]);
  if (r.code !== 0) throw new Error(`tools/reference.py ${args[0]} failed (exit ${r.code}):\n${r.stderr}`);
  return r.stdout;
}

export interface ReferenceScore {
  image: string;
  logits: number[];
  probabilities: number[];
  pGenerated: number;
}

/** PyTorch scores of image files (or raw:PATH:W:H:C inputs), keyed by the name passed in. */
export async function referenceScoreDetails(images: string[], modelDir = FIXTURE_MODEL_DIR): Promise<Map<string, ReferenceScore>> {
  const out = JSON.parse(await reference(['score', '--model', modelDir, ...images])) as { results: ReferenceScore[] };
  return new Map(out.results.map((r) => [r.image, r]));
}

/** PyTorch p(generated) of image files, keyed by the path passed in. */
export async function referenceScores(images: string[], modelDir = FIXTURE_MODEL_DIR): Promise<Map<string, number>> {
  const details = await referenceScoreDetails(images, modelDir);
  return new Map([...details].map(([k, v]) => [k, v.pGenerated]));
}

export interface PilPixels {
  input: string;
  width: number;
  height: number;
  /** Interleaved RGB. */
  rgb: Uint8Array;
  /** Original PIL mode (decode only). */
  mode?: string;
}

export interface PilTensor {
  input: string;
  shape: number[];
  data: Float32Array;
}

interface IndexEntry {
  input: string;
  file: string;
  width?: number;
  height?: number;
  mode?: string;
  shape?: number[];
}

function readIndex(dir: string): IndexEntry[] {
  return (JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8')) as { images: IndexEntry[] }).images;
}

function readPixels(dir: string): PilPixels[] {
  return readIndex(dir).map((e) => {
    const px: PilPixels = { input: e.input, width: e.width ?? 0, height: e.height ?? 0, rgb: new Uint8Array(readFileSync(join(dir, e.file))) };
    if (e.mode !== undefined) px.mode = e.mode;
    return px;
  });
}

function float32(buf: Buffer): Float32Array {
  // Copy into an aligned buffer; the files are little-endian like every machine we run on.
  const out = new Float32Array(buf.length / 4);
  new Uint8Array(out.buffer).set(buf);
  return out;
}

/** Runs `use` with a fresh temporary folder, removed afterwards (what it returns is read into memory first). */
async function inTempDir<T>(what: string, use: (dir: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), `rfl-ref-${what}-`));
  try {
    return await use(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface PreprocessOptions {
  resizeMode?: 'shorter-side' | 'square';
  size?: number;
  crop?: number;
  interpolation?: 'opencv-linear' | 'bilinear';
  library?: 'albumentations' | 'torchvision';
}

function preprocessArgs(o: PreprocessOptions): string[] {
  return [
    ...(o.resizeMode ? ['--resize-mode', o.resizeMode] : []),
    ...(o.interpolation ? ['--interpolation', o.interpolation] : []),
    ...(o.library ? ['--library', o.library] : []),
    ...(o.size ? ['--size', String(o.size)] : []),
    ...(o.crop ? ['--crop', String(o.crop)] : []),
  ];
}

/** The reference decode: the published np.asarray(Image.open(p)), grey expanded and alpha dropped (other modes: PIL's convert('RGB')). */
export async function pilDecode(images: string[]): Promise<PilPixels[]> {
  return inTempDir('decode', async (dir) => {
    await reference(['decode', ...images, '--out', dir]);
    return readPixels(dir);
  });
}

/**
 * The reference Resize output of each image (PIL's bilinear unless `interpolation` says
 * opencv-linear), or the resize to exactly (w, h) with `to` (one size for all images, or one per image).
 */
export async function pilResize(images: string[], o: PreprocessOptions & { to?: Array<[number, number]> } = {}): Promise<PilPixels[]> {
  const to = (o.to ?? []).flatMap(([w, h]) => ['--to', `${w}x${h}`]);
  return inTempDir('resize', async (dir) => {
    await reference(['resize', ...images, '--out', dir, ...to, ...preprocessArgs({ interpolation: 'bilinear', ...o })]);
    return readPixels(dir);
  });
}

/** The reference Resize, CenterCrop, Normalize tensors (CHW; the laion-realfake preset unless `o` says otherwise), or without Normalize. */
export async function torchPreprocess(images: string[], o: PreprocessOptions & { unnormalized?: boolean } = {}): Promise<PilTensor[]> {
  return inTempDir('pre', async (dir) => {
    await reference(['preprocess', ...images, '--out', dir, ...(o.unnormalized ? ['--unnormalized'] : []), ...preprocessArgs(o)]);
    return readIndex(dir).map((e) => ({ input: e.input, shape: e.shape ?? [], data: float32(readFileSync(join(dir, e.file))) }));
  });
}

/** `raw:PATH:W:H:C` input naming raw pixels for tools/reference.py. */
export function rawInput(path: string, width: number, height: number, channels: 3 | 4): string {
  return `raw:${path}:${width}:${height}:${channels}`;
}

/** Pixels a cv2_resize.py job reads: raw bytes on disk, or a picture PIL decodes (convert(mode)). */
export type Cv2Source =
  | { id: string; raw: string; width: number; height: number; channels: 1 | 3 | 4 }
  | { id: string; image: string; mode: 'L' | 'RGB' | 'RGBA' };

export interface Cv2Pixels {
  width: number;
  height: number;
  channels: number;
  /** Interleaved, row-major. */
  data: Uint8Array;
}

export interface Cv2Results {
  /** cv2.__version__ of the Python that ran. */
  version: string;
  /** PIL's decoded pixels of each `image` source, by id (raw sources are not echoed). */
  decoded: Map<string, Cv2Pixels>;
  /** cv2.resize(..., INTER_LINEAR) of each resize, in order. */
  resized: Cv2Pixels[];
}

const CV2_RESIZE = join(REPO, 'test/support/cv2_resize.py');

/** cv2.resize(src, to, interpolation=cv2.INTER_LINEAR) for each resize, in one Python run. */
export async function cv2Resize(sources: Cv2Source[], resizes: Array<{ source: string; to: [number, number] }>): Promise<Cv2Results> {
  const check = await runPython(['-c', 'import cv2, numpy, PIL']);
  if (check.code !== 0) {
    throw new Error(`${PYTHON} cannot import cv2/numpy/PIL: run scripts/setup.sh (installs Debian's python3-opencv), or set PYTHON.\n${check.stderr}`);
  }
  return inTempDir('cv2', async (dir) => {
    const jobs = join(dir, 'jobs.json');
    writeFileSync(jobs, JSON.stringify({ sources, resizes }));
    const r = await runPython([CV2_RESIZE, jobs, join(dir, 'out')]);
    if (r.code !== 0) throw new Error(`test/support/cv2_resize.py failed (exit ${r.code}):\n${r.stderr}`);
    type Entry = { id?: string; width: number; height: number; channels: number; file: string | null };
    const out = JSON.parse(r.stdout) as { cv2: string; sources: Entry[]; resizes: Entry[] };
    const pixels = (e: Entry): Cv2Pixels => ({
      width: e.width,
      height: e.height,
      channels: e.channels,
      data: new Uint8Array(readFileSync(e.file ?? '')),
    });
    return {
      version: out.cv2,
      decoded: new Map(out.sources.filter((s) => s.file !== null).map((s) => [s.id ?? '', pixels(s)])),
      resized: out.resizes.map(pixels),
    };
  });
}

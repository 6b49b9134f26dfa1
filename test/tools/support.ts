// Helpers for the converter / model:install tests: synthetic checkpoints (tools/make_test_checkpoint.py),
// the converter (tools/convert.py) and the install command (tools/bin/model_install.mjs), each run as
// the user would run it, plus onnxruntime-node to look at what they wrote.

import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { parseManifest, type ModelManifest } from '../../src/detector/manifest';
import { softmax } from '../../src/detector/scores';
import { REPO, requireReferencePython, runPython, type PythonResult } from '../support/python';

const made: string[] = [];

/** A new temporary folder, removed by removeTempDirs(). */
export function tempDir(what: string): string {
  const dir = mkdtempSync(join(tmpdir(), `rfl-tools-${what}-`));
  made.push(dir);
  return dir;
}

/** Removes every folder tempDir() made (call from afterAll). */
export function removeTempDirs(): void {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
}

export interface Reference {
  /** PyTorch's logits of the probe input (src/detector/probe.ts), batch 2. */
  probe: number[];
  inputs: { file: string; shape: [number, number, number, number]; logits: number[] };
  dims: number[];
  depths: number[];
  classes: number;
  /** make_timm_checkpoint.py: the checkpoint's state_dict keys, in its order. */
  keys?: string[];
}

export interface Checkpoints {
  dir: string;
  path: (layout: string) => string;
  reference: Reference;
  /** The reference batch (NCHW float32). */
  inputs: Float32Array;
}

/** Writes OUTDIR/<layout>.ckpt for each layout, all of one small perturbed-random ConvNeXt. */
export async function makeCheckpoints(layouts: string[], extra: string[] = []): Promise<Checkpoints> {
  await requireReferencePython();
  const dir = tempDir('ckpt');
  const r = await runPython(['tools/make_test_checkpoint.py', dir, ...layouts, ...extra]);
  if (r.code !== 0) throw new Error(`make_test_checkpoint.py failed:\n${r.stderr}`);
  return readCheckpoints(dir);
}

/** OUTDIR/lightning-timm.ckpt of tools/make_timm_checkpoint.py: an independent re-implementation of timm's
 *  ConvNeXt (tools/timm_convnext_ref.py, nothing of the converter's), saved as a Lightning checkpoint. */
export async function makeTimmCheckpoint(extra: string[] = []): Promise<Checkpoints> {
  await requireReferencePython();
  const dir = tempDir('timm');
  const r = await runPython(['tools/make_timm_checkpoint.py', dir, ...extra]);
  if (r.code !== 0) throw new Error(`make_timm_checkpoint.py failed:\n${r.stderr}`);
  return readCheckpoints(dir);
}

function readCheckpoints(dir: string): Checkpoints {
  const reference = JSON.parse(readFileSync(join(dir, 'reference.json'), 'utf8')) as Reference;
  const bytes = readFileSync(join(dir, reference.inputs.file));
  const inputs = new Float32Array(bytes.length / 4);
  new Uint8Array(inputs.buffer).set(bytes);
  return { dir, path: (layout) => join(dir, `${layout}.ckpt`), reference, inputs };
}

export interface ConvertSummary {
  layout: string;
  prefix: string;
  variant: string;
  dims: number[];
  depths: number[];
  classes: number;
  sha256: string;
  parity: { inputs: number; maxAbsLogit: number; maxAbsP: number; tolerance: number };
  fp16?: { inputs: number; maxAbsLogit: number; maxAbsP: number; labelAgreement: number };
  models: Array<{ id: string; dir: string; precision: string; bytes: number; sha256: string }>;
  seconds: number;
}

export interface ConvertResult extends PythonResult {
  summary: ConvertSummary | null;
  /** The lines the converter printed that start with "convert: error:". */
  error: string;
}

export async function convert(checkpoint: string, args: string[]): Promise<ConvertResult> {
  const r = await runPython(['tools/convert.py', checkpoint, '--json', ...args]);
  return {
    ...r,
    summary: r.code === 0 ? (JSON.parse(r.stdout) as ConvertSummary) : null,
    error: r.stderr.split('\n').filter((l) => l.startsWith('convert: error:')).join('\n'),
  };
}

/** `npm run model:install -- args` (tools/bin/model_install.mjs), with its exit code and output. */
export function install(args: string[]): Promise<PythonResult> {
  return new Promise((done) => {
    execFile('node', [join(REPO, 'tools/bin/model_install.mjs'), ...args], { cwd: REPO, timeout: 240_000 }, (err, stdout, stderr) => {
      done({ code: typeof err?.code === 'number' ? err.code : err ? 1 : 0, stdout, stderr });
    });
  });
}

export function readModel(dir: string): ModelManifest {
  return parseManifest(JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')));
}

/** Logits of `input` (NCHW float32) through the ONNX file, by onnxruntime-node. */
export async function onnxLogits(onnxPath: string, input: Float32Array, dims: number[]): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(onnxPath, { executionProviders: ['cpu'] });
  try {
    const [inputName] = session.inputNames;
    const [outputName] = session.outputNames;
    const out = await session.run({ [inputName ?? 'input']: new ort.Tensor('float32', input, dims) });
    return out[outputName ?? 'logits']?.data as Float32Array;
  } finally {
    await session.release();
  }
}

/** Element types (onnx TensorProto names) in an ONNX file, read by Python's onnx package. */
export interface OnnxTypes {
  /** Graph inputs and outputs: name -> element type. */
  inputs: Record<string, string>;
  outputs: Record<string, string>;
  /** How many initializers / intermediate tensors (strict shape inference) have each element type. */
  initializers: Record<string, number>;
  intermediates: Record<string, number>;
  /** How many nodes of each op type. */
  ops: Record<string, number>;
  /** The names of the float32 initializers / intermediate tensors (graph inputs and outputs aside). */
  float32: { initializers: string[]; intermediates: string[] };
  /** Each node's output -> that node's op type and inputs. */
  producers: Record<string, { op: string; inputs: string[] }>;
}

const ONNX_TYPES_PY = `
import collections, json, sys
import onnx
m = onnx.load(sys.argv[1])
name = onnx.TensorProto.DataType.Name
elem = lambda v: name(v.type.tensor_type.elem_type)
inferred = onnx.shape_inference.infer_shapes(m, check_type=True, strict_mode=True).graph
print(json.dumps({
    'inputs': {v.name: elem(v) for v in m.graph.input},
    'outputs': {v.name: elem(v) for v in m.graph.output},
    'initializers': collections.Counter(name(t.data_type) for t in m.graph.initializer),
    'intermediates': collections.Counter(elem(v) for v in inferred.value_info),
    'ops': collections.Counter(n.op_type for n in m.graph.node),
    'float32': {
        'initializers': sorted(t.name for t in m.graph.initializer if t.data_type == onnx.TensorProto.FLOAT),
        'intermediates': sorted(v.name for v in inferred.value_info if v.type.tensor_type.elem_type == onnx.TensorProto.FLOAT),
    },
    'producers': {o: {'op': n.op_type, 'inputs': list(n.input)} for n in m.graph.node for o in n.output},
}))
`;

export async function onnxTypes(onnxPath: string): Promise<OnnxTypes> {
  const r = await runPython(['-c', ONNX_TYPES_PY, onnxPath]);
  if (r.code !== 0) throw new Error(`cannot read the types of ${onnxPath} with python3-onnx:\n${r.stderr}`);
  return JSON.parse(r.stdout) as OnnxTypes;
}

/** Entries of a folder whose names say they are leftovers of an unfinished write. */
export function leftovers(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).filter((n) => n.startsWith('.') && /partial|install|old|tmp/.test(n));
}

/** Row-wise softmax of [rows, classes] logits, flattened. */
export function softmaxRows(logits: ArrayLike<number>, classes: number): number[] {
  const rows = Array.from({ length: logits.length / classes }, (_, r) => Array.from({ length: classes }, (_, c) => Number(logits[r * classes + c])));
  return rows.flatMap((row) => softmax(row));
}

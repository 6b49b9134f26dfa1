// The model manifest: everything the extension knows about a model comes from here
// (docs/ARCHITECTURE.md, "Model files and the manifest"). Written by tools/, read by the browser,
// the tests and the tools alike.
// Over 300 lines: one validator per manifest section, each refusing with a message that names
// the field; the format's rules stay in one place.

export interface ResizeSpec {
  /** "shorter-side": torchvision Resize(size); "square": both sides to size (aspect ratio not kept). */
  mode: 'shorter-side' | 'square';
  size: number;
  /**
   * "opencv-linear": cv2.resize(..., INTER_LINEAR), which does not antialias when shrinking
   * (albumentations' Resize, the published model); "bilinear": PIL's bilinear, which does.
   */
  interpolation: 'opencv-linear' | 'bilinear';
}

export type PreprocessingLibrary = 'albumentations' | 'torchvision';

export interface PreprocessingSpec {
  resize: ResizeSpec;
  /** CenterCrop(size). */
  centerCrop: number;
  mean: [number, number, number];
  std: [number, number, number];
  /**
   * Whose CenterCrop offsets and Normalize arithmetic: albumentations ((size - crop) // 2;
   * (x - mean * 255) * (1 / (std * 255)) in float32) or torchvision (round((size - crop) / 2),
   * padding small images; (x / 255 - mean) / std). Manifests written before this field are torchvision.
   */
  library: PreprocessingLibrary;
}

/** A named set of labels and preprocessing (tools/realfake_ref/defaults.py), and where each fact comes from. */
export interface PresetInfo {
  name: string;
  /** Fact ("labels", "decoding", "preprocessing") -> its source, e.g. the published code's file and line. */
  sources: Record<string, string>;
}

export interface ProbeSpec {
  /** The probe input is computed by `probeInput()` (src/detector/probe.ts, tools/fixture_model.py). */
  batch: number;
  /** Reference logits from PyTorch, row-major [batch, classes]. */
  logits: number[];
  /** Largest acceptable absolute difference on any logit. */
  tolerance: number;
}

export type Precision = 'fp32' | 'fp16' | 'int8';

/**
 * How closely a variant's scores follow the model it is a variant of, measured by the converter
 * (tools/realfake_ref/int8.py) on photographs and synthetic pictures, both files run by
 * onnxruntime-node, or by the in-browser import (src/shared/int8-import.ts) on the probe inputs and
 * synthetic pictures, both models on WebAssembly. Shown to the user beside the variant.
 */
export interface VariantAgreement {
  /** The id of the model it was compared with (the manifest's `variantOf`). */
  with: string;
  images: number;
  photos: number;
  synthetic: number;
  /** Largest and mean |p(generated) - p(generated) of `with`| over the pictures. */
  maxAbsP: number;
  meanAbsP: number;
  /** Share of the pictures given the same label at `threshold`, 0..1. */
  labelAgreement: number;
  threshold: number;
  /** Probe inputs among `images` (0 when absent). */
  probes?: number;
  /** Who measured it: the converter (when absent) or the extension itself, at import. */
  measuredBy?: 'converter' | 'browser';
  /** What it was measured on, in words (the picture set, the runtime). */
  measuredOn?: string;
}

export interface ModelManifest {
  schemaVersion: 1;
  id: string;
  name: string;
  version: string;
  /** A fixture model has random weights: its scores mean nothing, and the UI must say so. */
  fixture: boolean;
  source: {
    description: string;
    /** Where the weights came from (a checkpoint URL or the generating script). */
    origin: string;
    /** SHA-256 of the source checkpoint, when there is one. */
    sha256: string | null;
  };
  onnx: {
    file: string;
    sha256: string;
    bytes: number;
    opset: number;
  };
  /**
   * A model imported from a checkpoint in the browser (src/shared/checkpoint-import.ts): the ONNX
   * file is a graph whose initializers are external data in this file (float32 weights, the
   * location named `file`). Absent when the ONNX file holds its own weights.
   */
  weights?: { file: string; sha256: string; bytes: number };
  /**
   * fp32: the exported graph. fp16: every float tensor inside the graph is fp16 (input and output
   * stay float32), for WebGPU adapters with `shader-f16`; CPU backends run it through casts.
   * int8: MatMul/Gemm weights int8 per output channel, activations quantised at run time
   * (DynamicQuantizeLinear + MatMulInteger), for WebAssembly; used only when the user chooses it.
   */
  precision: Precision;
  /**
   * The id of the model this one was converted alongside (same weights, another precision), or
   * null. The engine picks among such variants by backend (src/detector/variants.ts).
   */
  variantOf: string | null;
  /** The converter's measured agreement with `variantOf` (int8 variants), or null. */
  agreement: VariantAgreement | null;
  input: { name: string; shape: [number | string, number, number, number] };
  output: { name: string };
  /** Labels in output order. */
  labels: string[];
  /** Index into `labels` of the class meaning "generated". */
  generatedIndex: number;
  preprocessing: PreprocessingSpec;
  /** The preset the converter applied, or null (manifests written before presets). */
  preset: PresetInfo | null;
  probe: ProbeSpec;
}

export class ManifestError extends Error {
  override name = 'ManifestError';
}

function fail(path: string, what: string): never {
  throw new ManifestError(`model manifest: ${path} ${what}`);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function str(o: Record<string, unknown>, key: string, path: string): string {
  const v = o[key];
  if (typeof v !== 'string' || v.length === 0) fail(`${path}.${key}`, 'must be a non-empty string');
  return v;
}

function num(o: Record<string, unknown>, key: string, path: string, opts: { int?: boolean; min?: number } = {}): number {
  const v = o[key];
  if (typeof v !== 'number' || !Number.isFinite(v)) fail(`${path}.${key}`, 'must be a finite number');
  if (opts.int && !Number.isInteger(v)) fail(`${path}.${key}`, 'must be an integer');
  if (opts.min !== undefined && v < opts.min) fail(`${path}.${key}`, `must be >= ${opts.min}`);
  return v;
}

function rec(o: Record<string, unknown>, key: string, path: string): Record<string, unknown> {
  const v = o[key];
  if (!isRecord(v)) fail(`${path}.${key}`, 'must be an object');
  return v;
}

function triple(o: Record<string, unknown>, key: string, path: string, positive: boolean): [number, number, number] {
  const v = o[key];
  if (!Array.isArray(v) || v.length !== 3 || !v.every((x) => typeof x === 'number' && Number.isFinite(x))) {
    fail(`${path}.${key}`, 'must be an array of 3 numbers');
  }
  const t = v as [number, number, number];
  if (positive && !t.every((x) => x > 0)) fail(`${path}.${key}`, 'must be positive');
  return t;
}

const SHA256_RE = /^[0-9a-f]{64}$/;
/** A model id: also a folder name in OPFS and in models/. */
export const MODEL_ID_RE = /^[a-z0-9][a-z0-9._-]{0,63}$/;

function parsePreset(v: unknown): PresetInfo | null {
  if (v === undefined || v === null) return null;
  if (!isRecord(v)) fail('preset', 'must be an object or null');
  const name = str(v, 'name', 'preset');
  const sources = rec(v, 'sources', 'preset');
  const out: Record<string, string> = {};
  for (const [k, text] of Object.entries(sources)) {
    if (typeof text !== 'string' || text.length > 1000) fail(`preset.sources.${k}`, 'must be a string of at most 1000 characters');
    out[k] = text;
  }
  return { name, sources: out };
}

function parseAgreement(v: unknown, variantOf: string | null): VariantAgreement | null {
  if (v === undefined || v === null) return null;
  if (!isRecord(v)) fail('agreement', 'must be an object or null');
  const p = 'agreement';
  const withId = str(v, 'with', p);
  if (withId !== variantOf) fail('agreement.with', 'must name the model in variantOf');
  const images = num(v, 'images', p, { int: true, min: 1 });
  const share = (key: string): number => {
    const x = num(v, key, p, { min: 0 });
    if (x > 1) fail(`${p}.${key}`, 'must be at most 1');
    return x;
  };
  return {
    with: withId,
    images,
    photos: num(v, 'photos', p, { int: true, min: 0 }),
    synthetic: num(v, 'synthetic', p, { int: true, min: 0 }),
    maxAbsP: share('maxAbsP'),
    meanAbsP: share('meanAbsP'),
    labelAgreement: share('labelAgreement'),
    threshold: share('threshold'),
    ...(v.probes === undefined ? {} : { probes: num(v, 'probes', p, { int: true, min: 0 }) }),
    ...(v.measuredBy === undefined ? {} : { measuredBy: v.measuredBy === 'browser' ? 'browser' : v.measuredBy === 'converter' ? 'converter' : fail(`${p}.measuredBy`, 'must be "converter" or "browser"') }),
    ...(v.measuredOn === undefined ? {} : { measuredOn: str(v, 'measuredOn', p).slice(0, 500) }),
  };
}

/** Validates untrusted JSON into a manifest, with a message that names the offending field. */
export function parseManifest(json: unknown): ModelManifest {
  if (!isRecord(json)) fail('(root)', 'must be an object');
  if (json.schemaVersion !== 1) fail('schemaVersion', 'must be 1');
  const id = str(json, 'id', '');
  if (!MODEL_ID_RE.test(id)) fail('id', 'must be lowercase letters, digits, ".", "_" or "-"');
  if (typeof json.fixture !== 'boolean') fail('fixture', 'must be a boolean');

  const source = rec(json, 'source', '');
  const sourceSha = source.sha256;
  if (sourceSha !== null && (typeof sourceSha !== 'string' || !SHA256_RE.test(sourceSha))) {
    fail('source.sha256', 'must be null or 64 lowercase hex digits');
  }

  const onnx = rec(json, 'onnx', '');
  const onnxFile = str(onnx, 'file', 'onnx');
  if (!/^[A-Za-z0-9._-]+\.onnx$/.test(onnxFile)) fail('onnx.file', 'must be a plain .onnx file name');
  const onnxSha = str(onnx, 'sha256', 'onnx');
  if (!SHA256_RE.test(onnxSha)) fail('onnx.sha256', 'must be 64 lowercase hex digits');

  let weights: ModelManifest['weights'];
  if (json.weights !== undefined && json.weights !== null) {
    const w = rec(json, 'weights', '');
    const file = str(w, 'file', 'weights');
    if (!/^[A-Za-z0-9._-]+$/.test(file)) fail('weights.file', 'must be a plain file name');
    const sha256 = str(w, 'sha256', 'weights');
    if (!SHA256_RE.test(sha256)) fail('weights.sha256', 'must be 64 lowercase hex digits');
    weights = { file, sha256, bytes: num(w, 'bytes', 'weights', { int: true, min: 1 }) };
  }

  const precision = json.precision;
  if (precision !== 'fp32' && precision !== 'fp16' && precision !== 'int8') fail('precision', 'must be "fp32", "fp16" or "int8"');

  const variantOf = json.variantOf ?? null;
  if (variantOf !== null && (typeof variantOf !== 'string' || !MODEL_ID_RE.test(variantOf) || variantOf === id)) {
    fail('variantOf', "must be another model's id");
  }
  const agreement = parseAgreement(json.agreement, variantOf as string | null);

  const input = rec(json, 'input', '');
  const shape = input.shape;
  if (
    !Array.isArray(shape) ||
    shape.length !== 4 ||
    !(typeof shape[0] === 'string' || typeof shape[0] === 'number') ||
    shape[1] !== 3 ||
    !shape.slice(2).every((d) => typeof d === 'number' && Number.isInteger(d) && d > 0)
  ) {
    fail('input.shape', 'must be [batch, 3, H, W]');
  }
  const output = rec(json, 'output', '');

  const labels = json.labels;
  if (!Array.isArray(labels) || labels.length < 2 || !labels.every((l) => typeof l === 'string' && l.length > 0)) {
    fail('labels', 'must list at least two non-empty label names');
  }
  const generatedIndex = num(json, 'generatedIndex', '', { int: true, min: 0 });
  if (generatedIndex >= labels.length) fail('generatedIndex', 'must index into labels');

  const pre = rec(json, 'preprocessing', '');
  const resize = rec(pre, 'resize', 'preprocessing');
  if (resize.mode !== 'shorter-side' && resize.mode !== 'square') {
    fail('preprocessing.resize.mode', 'must be "shorter-side" or "square"');
  }
  const interpolation = resize.interpolation;
  if (interpolation !== 'bilinear' && interpolation !== 'opencv-linear') {
    fail('preprocessing.resize.interpolation', 'must be "opencv-linear" or "bilinear"');
  }
  const resizeSize = num(resize, 'size', 'preprocessing.resize', { int: true, min: 1 });
  const centerCrop = num(pre, 'centerCrop', 'preprocessing', { int: true, min: 1 });
  const library = pre.library ?? 'torchvision';
  if (library !== 'albumentations' && library !== 'torchvision') {
    fail('preprocessing.library', 'must be "albumentations" or "torchvision"');
  }
  // albumentations' CenterCrop refuses a crop larger than the image; torchvision pads instead.
  if (library === 'albumentations' && resizeSize < centerCrop) {
    fail('preprocessing.centerCrop', 'must not exceed preprocessing.resize.size with the albumentations library');
  }
  const preset = parsePreset(json.preset);
  if (shape[2] !== centerCrop || shape[3] !== centerCrop) {
    fail('input.shape', `must end in the center crop size (${centerCrop}x${centerCrop})`);
  }

  const probe = rec(json, 'probe', '');
  const probeBatch = num(probe, 'batch', 'probe', { int: true, min: 1 });
  const logits = probe.logits;
  if (
    !Array.isArray(logits) ||
    logits.length !== probeBatch * labels.length ||
    !logits.every((x) => typeof x === 'number' && Number.isFinite(x))
  ) {
    fail('probe.logits', 'must hold batch x labels finite numbers');
  }

  return {
    schemaVersion: 1,
    id,
    name: str(json, 'name', ''),
    version: str(json, 'version', ''),
    fixture: json.fixture,
    source: {
      description: str(source, 'description', 'source'),
      origin: str(source, 'origin', 'source'),
      sha256: sourceSha as string | null,
    },
    onnx: {
      file: onnxFile,
      sha256: onnxSha,
      bytes: num(onnx, 'bytes', 'onnx', { int: true, min: 1 }),
      opset: num(onnx, 'opset', 'onnx', { int: true, min: 1 }),
    },
    ...(weights ? { weights } : {}),
    precision,
    variantOf,
    agreement,
    input: { name: str(input, 'name', 'input'), shape: shape as ModelManifest['input']['shape'] },
    output: { name: str(output, 'name', 'output') },
    labels: labels as string[],
    generatedIndex,
    preprocessing: {
      resize: { mode: resize.mode, size: resizeSize, interpolation },
      centerCrop,
      mean: triple(pre, 'mean', 'preprocessing', false),
      std: triple(pre, 'std', 'preprocessing', true),
      library,
    },
    preset,
    probe: {
      batch: probeBatch,
      logits: logits as number[],
      tolerance: num(probe, 'tolerance', 'probe', { min: 0 }),
    },
  };
}

/** A manifest file's text, read: the manifest, or whether it was not JSON at all or failed the schema. */
/** `json`: the text as parsed, before the schema (what a caller stores to read again later). */
export type ManifestText = { ok: true; manifest: ModelManifest; json: unknown } | { ok: false; notJson: boolean; detail: string };

/** The one reader of a manifest's text (a file, a download, a tool's folder); callers word the failure. */
export function readManifestText(text: string): ManifestText {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    return { ok: false, notJson: true, detail: e instanceof Error ? e.message : String(e) };
  }
  try {
    return { ok: true, manifest: parseManifest(json), json };
  } catch (e) {
    return { ok: false, notJson: false, detail: e instanceof Error ? e.message : String(e) };
  }
}

// Installs a model straight from a PyTorch(-Lightning) checkpoint, with no conversion step: the
// checkpoint reader (src/detector/checkpoint/) finds the state_dict's tensors as byte ranges, the
// plan (import-plan.ts) fetches only the model's ranges, coalesced, and stores them as the weights
// file (float32, in parts: models/<id>/weights-NNNNN.bin), and the packaged weightless graph of the
// architecture (public/graphs/, tools/weightless_graph.py) gets its initializers pointed at that file
// (models/<id>/part-00000.bin). The probe logits are then computed once on WebAssembly and stored in
// the manifest, so every later load proves nothing changed.
//
// Runs where the bytes are: the offscreen document for a URL (HTTP Range requests), the options
// page for a file on disk (File.slice). Each fetched range is committed as one part with its
// SHA-256 recorded in import.json, so a paused or interrupted import continues from its last
// whole range. Any ending but a pause removes everything it wrote; the manifest is written last.

import { CheckpointError } from '../detector/checkpoint/errors';
import { planImport, unitOutput, type ImportPlan, type PlannedTensor, type PlanOptions } from '../detector/checkpoint/import-plan';
import { placeConvNeXt, type Architecture } from '../detector/checkpoint/placement';
import type { RandomAccessSource } from '../detector/checkpoint/source';
import { readCheckpointTensors } from '../detector/checkpoint/tensors';
import { MODEL_ID_RE, type ModelManifest } from '../detector/manifest';
import { relocateExternalData, type ExternalInitializer } from '../detector/onnx-external';
import presets from '../detector/presets.json';
import { probeInput } from '../detector/probe';
import { Sha256, sha256Hex, type Sha256State } from '../detector/sha256';
import { ortRuntime } from '../offscreen/ort-runtime';
import { Int8VariantError, makeInt8Variant } from './int8-import';
import { readModelsIndex } from './model-registry';
import {
  chunkHashes,
  finishInstall,
  IMPORT_FILE,
  modelDir,
  partName,
  readJson,
  readStoredModel,
  removeStoredModel,
  storedWeightsBlob,
  webCryptoSha256Hex,
  weightsPartName,
  WEIGHTS_CHUNKS_FILE,
  writeFile,
  type PartHash,
} from './model-store';

/** The weights file's name in the graph's external data and in the manifest. */
export const WEIGHTS_FILE = 'weights.bin';
const GRAPH_FILE = 'graph.onnx';
const OPSET = 17;
const PROBE_BATCH = 2;
const PROBE_TOLERANCE_FP32 = 1e-3;
const FLOAT = 1;

/** LAION's published checkpoint (Hugging Face realfakerepo/realfake). */
export const LAION_CHECKPOINT_URL =
  'https://huggingface.co/realfakerepo/realfake/resolve/main/checkpoints/convnext_large_2m_e5/convnext_large-epoch=04-val_acc=0.9978.ckpt';
export const LAION_MODEL_ID = 'laion-realfake';

export type ImportPhase = 'reading' | 'fetching' | 'probing' | 'int8' | 'installed' | 'paused' | 'failed' | 'cancelled';

export interface CheckpointImportProgress {
  phase: ImportPhase;
  /** Bytes of the checkpoint fetched so far (this run and earlier ones), and all it needs. */
  fetched: number;
  toFetch: number;
  /** The checkpoint's size. */
  fileBytes: number;
  /** Weights file size (float32). */
  weightBytes: number;
}

/** What import.json keeps while an import is unfinished. */
interface SavedImport {
  origin: string;
  fileBytes: number;
  units: number;
  unitsDone: number;
  fetched: number;
  toFetch: number;
  /** SHA-256 of each stored range's source bytes, in order. */
  rangeSha256: string[];
  /** Each weights part as stored (its size and SHA-256), in order: the load checks them (WEIGHTS_CHUNKS_FILE). */
  weightParts?: PartHash[];
  /** SHA-256 state of the weights file so far. */
  hash: Sha256State;
}

export interface CheckpointImportRequest {
  id: string;
  name: string;
  /** The checkpoint's URL, or the file's name. */
  origin: string;
  source: RandomAccessSource;
  signal: AbortSignal;
  /** `signal` aborted for a pause: keep what is stored, to continue later. */
  paused: () => boolean;
  progress: (p: CheckpointImportProgress) => void;
  /** How the ranges are joined and cut into units (default: import-plan.ts's). */
  planOptions?: PlanOptions;
  /** The packaged graph for an architecture (graphFileFor). */
  fetchGraph: (file: string) => Promise<Uint8Array>;
  /** Also make the int8 variant `<id>-int8` once the model is installed (src/shared/int8-import.ts). */
  int8?: boolean;
}

/** The packaged weightless graph of a ConvNeXt architecture (tools/weightless_graph.py names them so). */
export function graphFileFor(a: Architecture): string {
  return `graphs/convnext-${a.dims.join('.')}-${a.depths.join('.')}-c${a.numClasses}.onnx`;
}

/** The graph's initializers pointed into the weights file; refuses a graph that does not fit the plan. */
async function placeGraph(graph: Uint8Array, plan: ImportPlan): Promise<Uint8Array<ArrayBuffer>> {
  const byName = new Map<string, PlannedTensor>(plan.tensors.map((t) => [t.name, t]));
  const used = new Set<string>();
  const { graph: placed } = await relocateExternalData(graph, WEIGHTS_FILE, (init: ExternalInitializer) => {
    const t = byName.get(init.name);
    const shape = t ? t.shape.join(',') : '';
    if (!t || init.dataType !== FLOAT || init.dims.join(',') !== shape || init.length !== t.length) {
      throw new CheckpointError('wrong-model', `the graph's weight ${init.name} [${init.dims.join(', ')}] has no counterpart in the checkpoint${t ? ` (it holds [${shape}])` : ''}`);
    }
    used.add(init.name);
    return t.offset;
  });
  const unused = plan.tensors.filter((t) => !used.has(t.name));
  if (unused.length) throw new CheckpointError('wrong-model', `the graph does not use ${unused.length} weight(s) of the checkpoint, e.g. ${unused[0]?.key}`);
  return placed;
}

/** An import's origin is the checkpoint's address, or (imported from a file on disk) the file's name. */
export function isAddressOrigin(origin: string): boolean {
  return origin.includes('://');
}

/** A model id from a checkpoint's file name (or URL). */
export function modelIdFor(origin: string): string {
  const base = (origin.split(/[\\/?#]/).filter(Boolean).find((_, i, all) => i === all.length - 1) ?? 'checkpoint').replace(/\.(ckpt|pt|pth|bin)$/i, '');
  const id = `ckpt-${base.toLowerCase().replace(/[^a-z0-9._-]+/g, '-')}`.slice(0, 64).replace(/[-.]+$/, '');
  return MODEL_ID_RE.test(id) ? id : 'ckpt-import';
}

/** The probe's logits on WebAssembly for the stored graph and weights. */
async function probeOnWasm(graph: Uint8Array<ArrayBuffer>, weights: Blob): Promise<number[]> {
  const { ort } = await ortRuntime();
  const session = await ort.InferenceSession.create(graph, {
    executionProviders: ['wasm'],
    graphOptimizationLevel: 'all',
    externalData: [{ path: WEIGHTS_FILE, data: weights }],
    extra: { session: { disable_prepacking: '1' } },
  });
  try {
    const input = new ort.Tensor('float32', probeInput(PROBE_BATCH, 224, 224), [PROBE_BATCH, 3, 224, 224]);
    const out = await session.run({ input });
    const logits = out.logits;
    if (!logits) throw new Error('the graph has no output named logits');
    return [...(logits.data as Float32Array)];
  } finally {
    await session.release();
  }
}

function manifestFor(req: CheckpointImportRequest, arch: Architecture, graph: Uint8Array, weights: { sha256: string; bytes: number }, probe: number[]): ModelManifest {
  const preset = presets.presets.find((p) => p.name === 'laion-realfake');
  if (!preset) throw new Error('the laion-realfake preset is missing');
  const labels = arch.numClasses === preset.labels.length ? preset.labels : Array.from({ length: arch.numClasses }, (_, i) => `class ${i}`);
  return {
    schemaVersion: 1,
    id: req.id,
    name: req.name,
    version: '1',
    fixture: false,
    source: {
      description: `imported in the browser from a PyTorch checkpoint (ConvNeXt dims ${arch.dims.join('/')}, depths ${arch.depths.join('/')}, ${arch.numClasses} classes)`,
      origin: req.origin,
      sha256: null,
    },
    onnx: { file: GRAPH_FILE, sha256: sha256Hex(graph), bytes: graph.length, opset: OPSET },
    weights: { file: WEIGHTS_FILE, ...weights },
    precision: 'fp32',
    variantOf: null,
    agreement: null,
    input: { name: 'input', shape: ['batch', 3, 224, 224] },
    output: { name: 'logits' },
    labels,
    generatedIndex: Math.min(preset.generatedIndex, labels.length - 1),
    preprocessing: {
      ...preset.preprocessing,
      resize: { ...preset.preprocessing.resize, mode: 'square', interpolation: 'opencv-linear' },
      mean: preset.preprocessing.mean as [number, number, number],
      std: preset.preprocessing.std as [number, number, number],
      library: 'albumentations',
    },
    preset: { name: preset.name, sources: preset.sources },
    probe: { batch: PROBE_BATCH, logits: probe, tolerance: PROBE_TOLERANCE_FP32 },
  };
}

/** Imports the checkpoint `req.source`; returns the installed model's manifest. */
export async function importCheckpoint(req: CheckpointImportRequest): Promise<ModelManifest> {
  const { id, source, signal } = req;
  if ((await readModelsIndex()).models[id] !== undefined) throw new Error(`a model with the id "${id}" is part of the extension already`);
  if (await readStoredModel(id)) throw new Error(`"${id}" is installed already: remove it first to import it again`);
  const report = (phase: ImportPhase, fetched = 0, toFetch = 0, weightBytes = 0): void =>
    req.progress({ phase, fetched, toFetch, fileBytes: source.size, weightBytes });
  report('reading');
  const table = await readCheckpointTensors(source);
  const placed = placeConvNeXt(table.tensors);
  const plan = planImport(placed, req.planOptions);
  const graphFile = graphFileFor(placed.architecture);
  let graph: Uint8Array;
  try {
    graph = await req.fetchGraph(graphFile);
  } catch {
    const a = placed.architecture;
    throw new CheckpointError(
      'wrong-model',
      `a ConvNeXt with widths ${a.dims.join('/')}, depths ${a.depths.join('/')} and ${a.numClasses} classes, which this extension has no graph for (it runs ConvNeXt-Large, 192/384/768/1536, depths 3/3/27/3, 2 classes)`,
    );
  }
  const placedGraph = await placeGraph(graph, plan);
  signal.throwIfAborted();

  let dir = await modelDir(id, true);
  if (!dir) throw new Error('cannot create the model folder (browser storage unavailable?)');
  try {
    let saved = (await readJson(dir, IMPORT_FILE)) as SavedImport | undefined;
    if (saved && (saved.origin !== req.origin || saved.fileBytes !== source.size || saved.units !== plan.units.length)) {
      // Another file's unfinished import under this id: start again.
      await removeStoredModel(id);
      dir = await modelDir(id, true);
      if (!dir) throw new Error('cannot create the model folder (browser storage unavailable?)');
      saved = undefined;
    }
    let state: SavedImport = saved ?? {
      origin: req.origin,
      fileBytes: source.size,
      units: plan.units.length,
      unitsDone: 0,
      fetched: 0,
      toFetch: plan.fetchBytes,
      rangeSha256: [],
      weightParts: [],
      hash: new Sha256().state(),
    };
    if (!saved) await writeFile(dir, IMPORT_FILE, JSON.stringify(state));
    const hash = Sha256.fromState(state.hash);
    report('fetching', state.fetched, plan.fetchBytes, plan.weightBytes);
    for (let i = state.unitsDone; i < plan.units.length; i++) {
      signal.throwIfAborted();
      const unit = plan.units[i]!;
      const fetched = await source.read(unit.start, unit.end - unit.start);
      if (fetched.length !== unit.end - unit.start) {
        throw new CheckpointError('truncated', `the checkpoint ended early: got ${fetched.length} of ${unit.end - unit.start} bytes at ${unit.start}`);
      }
      const out = unitOutput(plan, unit, fetched);
      hash.update(out);
      await writeFile(dir, weightsPartName(i), out);
      state = {
        ...state,
        unitsDone: i + 1,
        fetched: state.fetched + fetched.length,
        rangeSha256: [...state.rangeSha256, sha256Hex(fetched)],
        weightParts: state.weightParts ? [...state.weightParts, { bytes: out.length, sha256: await webCryptoSha256Hex(out) }] : undefined,
        hash: hash.state(),
      };
      await writeFile(dir, IMPORT_FILE, JSON.stringify(state));
      report('fetching', state.fetched, plan.fetchBytes, plan.weightBytes);
    }
    report('probing', state.fetched, plan.fetchBytes, plan.weightBytes);
    await writeFile(dir, partName(0), placedGraph);
    const weights = { sha256: hash.hex(), bytes: plan.weightBytes };
    const probe = await probeOnWasm(placedGraph, await storedWeightsBlob(id, plan.weightBytes));
    if (!probe.every(Number.isFinite)) throw new CheckpointError('wrong-model', 'the model computes non-finite logits on the probe input: the weights are broken');
    signal.throwIfAborted();
    const manifest = manifestFor(req, placed.architecture, placedGraph, weights, probe);
    const ranges = plan.units.map((u, k) => ({ start: u.start, end: u.end, sha256: state.rangeSha256[k] }));
    await writeFile(dir, 'ranges.json', JSON.stringify({ origin: req.origin, fileBytes: source.size, layout: placed.layout, prefix: placed.prefix, ranges }));
    // An import continued from one saved before part hashes were kept has none: its load hashes the weights whole.
    if (state.weightParts?.length === plan.units.length) {
      await writeFile(dir, WEIGHTS_CHUNKS_FILE, JSON.stringify(chunkHashes(weights.sha256, weights.bytes, state.weightParts)));
    }
    const from = isAddressOrigin(req.origin) ? { manifestUrl: req.origin } : { importedFrom: req.origin };
    await finishInstall(dir, from, JSON.stringify(manifest, null, 2));
    await dir.removeEntry(IMPORT_FILE).catch(() => undefined);
    if (req.int8) {
      report('int8', state.fetched, plan.fetchBytes, plan.weightBytes);
      await makeInt8Variant({ fp32: manifest, graphFile, fetchGraph: req.fetchGraph, source: from, signal });
    }
    report('installed', state.fetched, plan.fetchBytes, plan.weightBytes);
    return manifest;
  } catch (e) {
    // A failed int8 variant leaves the installed model be (Int8VariantError says so).
    if (!req.paused() && !(e instanceof Int8VariantError)) await removeStoredModel(id).catch(() => undefined);
    throw e;
  }
}

/** A message a person can act on, for any failure of an import. */
export function importErrorMessage(e: unknown): string {
  if (e instanceof CheckpointError) return e.message;
  if (e instanceof DOMException && e.name === 'QuotaExceededError') {
    return 'the browser has no room left for the model (disk quota reached): free some disk space and try again';
  }
  return e instanceof Error ? e.message : String(e);
}

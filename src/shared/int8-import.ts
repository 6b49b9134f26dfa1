// The int8 variant of a model just imported from a checkpoint, made in the browser (the import's
// "also make the int8 variant" option, after the fp32 model is installed): its weights are made
// from the fp32 model's stored weights (src/detector/int8-variant.ts, the packaged weightless int8
// graph of the architecture), stored as model `<id>-int8` (graph part-00000.bin, weights
// weights-NNNNN.bin) with `variantOf` the fp32 model. Its probe logits are computed on WebAssembly
// (one image per run, as the engine runs an int8 model), and its agreement with the fp32 model is
// measured here too, both models on WebAssembly, over the probe inputs and seeded synthetic
// pictures (src/detector/synthetic-pictures.ts): no photographs are at hand in the browser.
// Any failure removes what this step wrote; the fp32 model stays installed.

import { int8WeightParts, planInt8Variant } from '../detector/int8-variant';
import { MODEL_ID_RE, type ModelManifest, type VariantAgreement } from '../detector/manifest';
import { DEFAULT_THRESHOLD, scoreLogits } from '../detector/scores';
import { Sha256, sha256Hex } from '../detector/sha256';
import { agreementInputs, SYNTHETIC_SEED } from '../detector/synthetic-pictures';
import { ortRuntime } from '../offscreen/ort-runtime';
import {
  chunkHashes,
  finishInstall,
  modelDir,
  partName,
  readStoredModel,
  removeStoredModel,
  storedOnnxBlob,
  storedWeightsBlob,
  WEIGHTS_CHUNKS_FILE,
  webCryptoSha256Hex,
  weightsPartName,
  writeFile,
  type ModelSource,
  type PartHash,
} from './model-store';

const PROBE_BATCH = 2;
/** An int8 model's probe tolerance, the converter's (tools/realfake_ref/defaults.py PROBE_TOLERANCE). */
const PROBE_TOLERANCE_INT8 = 0.25;
const SIDE = 224;

/** The fp32 model was installed; its int8 variant was not (the message says why). */
export class Int8VariantError extends Error {
  override name = 'Int8VariantError';
}

/** The packaged weightless int8 graph beside an fp32 one (tools/weightless_graph.py --int8 names them so). */
export function int8GraphFile(fp32GraphFile: string): string {
  return fp32GraphFile.replace(/\.onnx$/, '-int8.onnx');
}

export interface Int8VariantRequest {
  /** The installed fp32 model, imported from a checkpoint (it has a weights file). */
  fp32: ModelManifest;
  /** Its packaged graph's file (graphFileFor). */
  graphFile: string;
  fetchGraph: (file: string) => Promise<Uint8Array>;
  source: ModelSource;
  signal: AbortSignal;
}

/** The logits of a graph + weights file model for `input` (NCHW), on WebAssembly, one image per run. */
async function logitsOnWasm(graph: Uint8Array<ArrayBuffer>, weightsFile: string, weights: Blob, input: Float32Array): Promise<Float32Array> {
  const { ort } = await ortRuntime();
  const session = await ort.InferenceSession.create(graph, {
    executionProviders: ['wasm'],
    graphOptimizationLevel: 'all',
    externalData: [{ path: weightsFile, data: weights }],
    extra: { session: { disable_prepacking: '1' } },
  });
  const plane = 3 * SIDE * SIDE;
  const rows: number[] = [];
  try {
    for (let at = 0; at < input.length; at += plane) {
      const out = await session.run({ input: new ort.Tensor('float32', input.slice(at, at + plane), [1, 3, SIDE, SIDE]) });
      const logits = out.logits;
      if (!logits) throw new Error('the graph has no output named logits');
      rows.push(...(logits.data as Float32Array));
    }
  } finally {
    await session.release();
  }
  return Float32Array.from(rows);
}

function pGenerated(logits: Float32Array, m: ModelManifest): number[] {
  const n = m.labels.length;
  return Array.from({ length: logits.length / n }, (_, i) => scoreLogits(logits.subarray(i * n, (i + 1) * n), m).pGenerated);
}

export function measureAgreement(fp32: ModelManifest, p32: number[], p8: number[]): VariantAgreement {
  const d = p32.map((p, i) => Math.abs(p - (p8[i] ?? NaN)));
  if (!d.every(Number.isFinite)) throw new Error('a model gave a score that is not a number');
  const same = p32.filter((p, i) => p >= DEFAULT_THRESHOLD === (p8[i] ?? NaN) >= DEFAULT_THRESHOLD).length;
  return {
    with: fp32.id,
    images: d.length,
    photos: 0,
    synthetic: d.length - PROBE_BATCH,
    probes: PROBE_BATCH,
    maxAbsP: Math.max(...d),
    meanAbsP: d.reduce((a, b) => a + b, 0) / d.length,
    labelAgreement: same / d.length,
    threshold: DEFAULT_THRESHOLD,
    measuredBy: 'browser',
    measuredOn:
      `the probe's ${PROBE_BATCH} inputs and ${d.length - PROBE_BATCH} synthetic pictures (seed ${SYNTHETIC_SEED}), ` +
      'both models on WebAssembly in this browser at import, one image per run',
  };
}

/** Makes and installs the int8 variant of `req.fp32`; returns its manifest. Throws Int8VariantError. */
export async function makeInt8Variant(req: Int8VariantRequest): Promise<ModelManifest> {
  const { fp32, signal } = req;
  const id = `${fp32.id}-int8`;
  try {
    if (!fp32.weights) throw new Error(`${fp32.id} has no weights file of its own`);
    if (!MODEL_ID_RE.test(id)) throw new Error(`"${id}" is not a valid model id`);
    if (await readStoredModel(id)) throw new Error(`"${id}" is installed already: remove it first`);
    await removeStoredModel(id); // an earlier attempt's leftovers
    const fp32Graph = new Uint8Array(await (await storedOnnxBlob(fp32.id, fp32.onnx.bytes)).arrayBuffer());
    const fp32Weights = await storedWeightsBlob(fp32.id, fp32.weights.bytes);
    const plan = await planInt8Variant(await req.fetchGraph(int8GraphFile(req.graphFile)), fp32Graph, fp32.weights.file);
    const dir = await modelDir(id, true);
    if (!dir) throw new Error('cannot create the model folder (browser storage unavailable?)');
    try {
      const hash = new Sha256();
      const parts: PartHash[] = [];
      for await (const part of int8WeightParts(plan, async (o, n) => new Uint8Array(await fp32Weights.slice(o, o + n).arrayBuffer()))) {
        signal.throwIfAborted();
        hash.update(part);
        await writeFile(dir, weightsPartName(parts.length), part);
        parts.push({ bytes: part.length, sha256: await webCryptoSha256Hex(part) });
      }
      const sha256 = hash.hex();
      // Each part's SHA-256, which every load checks (as the fp32 import's).
      await writeFile(dir, WEIGHTS_CHUNKS_FILE, JSON.stringify(chunkHashes(sha256, plan.bytes, parts)));
      await writeFile(dir, partName(0), plan.graph);
      const weights = await storedWeightsBlob(id, plan.bytes);
      const inputs = agreementInputs(PROBE_BATCH, fp32.preprocessing);

      // One session at a time: the WebAssembly heap (which never shrinks) then holds the larger model, not both.
      const logits8 = await logitsOnWasm(plan.graph, fp32.weights.file, weights, inputs);
      signal.throwIfAborted();
      const probe = [...logits8.subarray(0, PROBE_BATCH * fp32.labels.length)];
      if (!probe.every(Number.isFinite)) throw new Error('it computes non-finite logits on the probe input');
      const logits32 = await logitsOnWasm(fp32Graph, fp32.weights.file, fp32Weights, inputs);
      signal.throwIfAborted();
      const manifest: ModelManifest = {
        ...fp32,
        id,
        name: `${fp32.name} int8`,
        onnx: { ...fp32.onnx, sha256: sha256Hex(plan.graph), bytes: plan.graph.length },
        weights: { file: fp32.weights.file, sha256, bytes: plan.bytes },
        precision: 'int8',
        variantOf: fp32.id,
        agreement: measureAgreement(fp32, pGenerated(logits32, fp32), pGenerated(logits8, fp32)),
        probe: { batch: PROBE_BATCH, logits: probe, tolerance: PROBE_TOLERANCE_INT8 },
      };
      await finishInstall(dir, req.source, JSON.stringify(manifest, null, 2));
      return manifest;
    } catch (e) {
      await removeStoredModel(id).catch(() => undefined);
      throw e;
    }
  } catch (e) {
    if (signal.aborted) throw e;
    const why = e instanceof DOMException && e.name === 'QuotaExceededError' ? 'the browser has no room left for it' : e instanceof Error ? e.message : String(e);
    throw new Int8VariantError(`${fp32.id} is installed, but its int8 variant was not made: ${why}`);
  }
}

// The one onnxruntime-web session of the extension, created lazily and reused. It prefers a
// real WebGPU adapter, falls back to multi-threaded WASM (the document is cross-origin
// isolated: see the manifest), proves the chosen backend on the manifest's probe input before
// any page image is judged, runs images that arrive together as one batch, and asks to be
// closed when idle so its memory (a WebAssembly heap never shrinks) goes back to the system.
//
// ORT's JSPI build (Chrome 137+, recent Firefox): it reads a model's weights from a Blob on demand
// while the session is built, so the model file (OPFS parts or the packaged file) never sits in
// JavaScript memory whole, beside the heap that holds the weights. Peak memory is about the heap
// alone. Where JSPI is missing, ORT's plain build runs instead (see ort-runtime.ts).
// Over 300 lines: the session's whole life (backend choice, load with its checks, batching,
// idle release) is one state machine, easier to follow in one file.

import type * as ort from 'onnxruntime-web/jspi';
import type { ModelManifest } from '../detector/manifest';
import { openPartsReader, type PartsReader } from './parts-reader';
import { probeInput, probeMaxDiff, probeMemoKey, probeReproduced } from '../detector/probe';
import type { Backend, CheckRead, EngineStatus, LoadSteps } from '../shared/protocol/offscreen';
import type { EngineOptions } from '../shared/protocol/shapes';
import { loadActiveFamily, summarize, type ActiveModel } from '../shared/model-registry';
import { loadPlan, runWithinLimit } from '../detector/variants';
import { externalizeInitializers, OnnxFormatError } from '../detector/onnx-external';
import {
  CHUNKS_FILE,
  parseChunkHashes,
  probePassedBefore,
  readChunkHashes,
  rememberProbePassed,
  storedOnnxParts,
  storedWeightsParts,
  WEIGHTS_CHUNKS_FILE,
  type ChunkHashes,
} from '../shared/model-store';
import { sha256Hex } from '../detector/sha256';
import type { HashReply, HashRequest } from './hash-worker';
import { ortRuntime, type Ort, type OrtRuntime } from './ort-runtime';

interface Loaded {
  ort: Ort;
  session: ort.InferenceSession;
  /** The model that runs: the chosen one or one of its variants (another precision). */
  manifest: ModelManifest;
  /** The model the user chose (the one verdicts are labelled and cached under), read when the load began. */
  chosenId: string;
  backend: Backend;
}

interface GpuAdapterLike {
  info?: { isFallbackAdapter?: boolean };
  isFallbackAdapter?: boolean;
  features?: ReadonlySet<string>;
}
interface GpuLike {
  requestAdapter(): Promise<GpuAdapterLike | null>;
}

/** What WebGPU offers here: why it should not be used (null when it may), and shader-f16. */
async function webGpuHere(options: EngineOptions): Promise<{ unusable: string | null; shaderF16: boolean }> {
  if (!options.useWebGpu) return { unusable: 'WebGPU is turned off in the engine settings', shaderF16: false };
  const gpu = (navigator as Navigator & { gpu?: GpuLike }).gpu;
  if (!gpu) return { unusable: 'WebGPU is not available in this browser', shaderF16: false };
  let adapter: GpuAdapterLike | null = null;
  try {
    adapter = await gpu.requestAdapter();
  } catch {
    adapter = null;
  }
  if (!adapter) return { unusable: 'WebGPU has no adapter on this machine', shaderF16: false };
  // Test builds only: claim shader-f16 on an adapter without it, to exercise the fp16 path.
  const pretendF16 = __REALFAKE_TEST__ && options.faults?.pretendShaderF16 === true;
  const shaderF16 = pretendF16 || (adapter.features?.has('shader-f16') ?? false);
  // A software adapter (e.g. SwiftShader) is slower than WASM.
  const software = adapter.info?.isFallbackAdapter ?? adapter.isFallbackAdapter ?? false;
  if (software && !options.allowSoftwareWebGpu) return { unusable: 'WebGPU has only a software adapter here, slower than WebAssembly', shaderF16 };
  return { unusable: null, shaderF16 };
}

async function runLogits(l: Loaded, input: Float32Array, batch: number): Promise<Float32Array> {
  const [, c, h, w] = l.manifest.input.shape;
  return runWithinLimit(l.manifest, input, batch, async (part, n) => {
    const tensor = new l.ort.Tensor('float32', part, [n, c, h, w]);
    const out = await l.session.run({ [l.manifest.input.name]: tensor });
    const logits = out[l.manifest.output.name];
    if (!logits) throw new Error(`model has no output named ${l.manifest.output.name}`);
    const data = logits.data as Float32Array;
    tensor.dispose();
    return data;
  });
}

/**
 * How many images of the manifest's probe a backend runs at load. On WebAssembly the probe costs
 * a whole CPU inference per image (about a third of a ConvNeXt-Large cold start, measured with the
 * engine bench), so it runs the first image alone; WebGPU runs the whole probe batch, which also
 * proves its kernels over a batch of several images. The probe input's first image is the same
 * tensor in either (probeInput is defined element by element), so its logits are the reference's first row.
 */
function probeImages(backend: Backend, manifest: ModelManifest): number {
  return backend === 'wasm' ? 1 : manifest.probe.batch;
}

/** Runs the manifest's probe (probeImages of it); returns the largest logit difference from the reference. */
async function probeError(l: Loaded, perturb = false): Promise<number> {
  const [, , h, w] = l.manifest.input.shape;
  const batch = probeImages(l.backend, l.manifest);
  const got = await runLogits(l, probeInput(batch, h, w), batch);
  // Test builds only: pretend the backend computes something else.
  if (__REALFAKE_TEST__ && perturb) for (let i = 0; i < got.length; i++) got[i] = (got[i] ?? 0) + 1;
  const perImage = l.manifest.probe.logits.length / l.manifest.probe.batch;
  return probeMaxDiff(got, l.manifest.probe.logits.slice(0, batch * perImage));
}

/**
 * The name a WebAssembly probe of `manifest` is remembered under once it has reproduced its
 * reference (src/shared/model-store.ts): WebAssembly gives the same logits for the same bytes,
 * runtime, browser and threads, and the bytes are checked at every load, so a later load on the
 * same conditions need not spend an inference on it (a third of a ConvNeXt-Large cold start).
 * WebGPU has no such name: a driver can change its kernels under the same browser, so its probe
 * runs at every load.
 */
function probeMemo(backend: Backend, manifest: ModelManifest, runtime: OrtRuntime): string | null {
  if (backend !== 'wasm') return null;
  return probeMemoKey({
    manifest,
    ortVersions: runtime.ort.env.versions,
    // Named by its content (the build puts a hash in the file name).
    ortBinary: runtime.wasmPath,
    browser: navigator.userAgent,
    cores: navigator.hardwareConcurrency,
    threads: runtime.ort.env.wasm.numThreads ?? 1,
  });
}

/**
 * The packaged model file as a Blob. Chromium holds it in its browser process, not in this
 * document's; Firefox holds it in the extension's process (843 MiB more at the peak for
 * ConvNeXt-Large than the same file read from OPFS, bench/firefox-engine.bench.ts). A real model
 * is downloaded or imported into OPFS; a packaged one exists only in builds made with one.
 */
async function fetchModel(url: string, expected: number): Promise<Blob> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`model file: HTTP ${res.status}`);
  const file = await res.blob();
  if (file.size !== expected) throw new Error(`model file is ${file.size > expected ? 'larger' : 'smaller'} than its manifest says`);
  return file;
}

/** A check under way: resolves with how it read the file, rejects on a mismatch. */
interface Check {
  checked: Promise<CheckRead>;
  stop: () => void;
}

/**
 * Checks `file` in a worker: each part against `parts` when the install recorded them, else the
 * whole file against `sha256`; the check reads the parts through `handles` where given. `progress`
 * gets the share checked so far. Returns the check (rejecting on a mismatch) and a way to stop it.
 */
function verifyInWorker(
  file: Blob,
  sha256: string,
  parts: ChunkHashes | null,
  progress: (share: number) => void,
  handles: FileSystemFileHandle[] | null,
): Check {
  const worker = new Worker(new URL('./hash-worker.ts', import.meta.url), { type: 'module' });
  const checked = new Promise<CheckRead>((resolve, reject) => {
    worker.onmessage = (e: MessageEvent<HashReply>) => {
      const m = e.data;
      if (m.kind === 'progress') return progress(m.bytes / Math.max(1, file.size));
      worker.terminate();
      if (m.kind === 'error') reject(new Error(`model file could not be read: ${m.message}`));
      else if (m.kind === 'parts-done' && m.mismatch !== null) reject(new Error(`model file does not match its manifest (SHA-256 of part ${m.mismatch + 1} of ${parts?.parts.length})`));
      else if (m.kind === 'done' && m.hex !== sha256) reject(new Error('model file does not match its manifest (SHA-256)'));
      else {
        progress(1);
        resolve(m.kind === 'parts-done' ? m.read : 'blob');
      }
    };
    worker.onerror = (e) => {
      worker.terminate();
      reject(new Error(`model file check failed: ${e.message}`));
    };
  });
  // Awaited only once the session is built; a rejection before then is not "unhandled".
  checked.catch(() => undefined);
  worker.postMessage({ file, ...(parts ? { parts: parts.parts } : {}), ...(handles ? { handles } : {}) } satisfies HashRequest);
  return { checked, stop: () => worker.terminate() };
}

/** The part hashes packaged beside a model file (written by the build), if any. */
async function packagedChunkHashes(onnxUrl: string, onnx: { sha256: string; bytes: number }): Promise<ChunkHashes | null> {
  try {
    const res = await fetch(new URL(CHUNKS_FILE, onnxUrl));
    return res.ok ? parseChunkHashes(await res.json(), onnx) : null;
  } catch {
    return null;
  }
}

/** The name under which the model file is handed to ORT as the external data of its own graph. */
const WEIGHTS_FILE = 'weights.bin';

type SessionInput = { graph: Uint8Array<ArrayBuffer>; externalData: ort.InferenceSession.SessionOptions['externalData'] };

/**
 * What ORT is given for `file`: its graph with the weights pointing into `file` itself by offset
 * (ORT reads each weight from the Blob into its place in the heap; from `reader`'s worker for a
 * stored model), or, when the file cannot be split, its bytes as they are.
 */
async function sessionInput(file: Blob, reader: PartsReader | null): Promise<SessionInput> {
  try {
    const split = await externalizeInitializers(file, WEIGHTS_FILE);
    if (split) return { graph: split.graph, externalData: [{ path: WEIGHTS_FILE, data: reader?.blob ?? file }] };
  } catch (e) {
    if (!(e instanceof OnnxFormatError)) throw e;
    // ORT's own parser gives the clearer error for a malformed file.
  }
  return { graph: new Uint8Array(await file.arrayBuffer()), externalData: undefined };
}

/** Whether ORT reads `input`'s weights through `reader` (not when the file was handed over whole). */
function usesReader(input: SessionInput, reader: PartsReader | null): boolean {
  return reader !== null && (input.externalData ?? []).some((d) => typeof d !== 'string' && d.data === reader.blob);
}

/** ORT options per backend. */
function sessionOptions(backend: Backend, externalData: ort.InferenceSession.SessionOptions['externalData']): ort.InferenceSession.SessionOptions {
  const common = externalData ? { externalData } : {};
  if (backend === 'webgpu') return { ...common, executionProviders: ['webgpu'] };
  // No prepacking: MLAS would keep a second, repacked copy of every Conv/MatMul weight in the
  // heap (325 MB for ConvNeXt-Large) for no measurable speed-up here.
  return { ...common, executionProviders: ['wasm'], graphOptimizationLevel: 'all', extra: { session: { disable_prepacking: '1' } } };
}

/** The machine's cores less one, left for the page; at least 1. */
export function defaultThreads(): number {
  return Math.max(1, (navigator.hardwareConcurrency || 2) - 1);
}

interface Opened {
  id: string;
  input: SessionInput;
  checked: Promise<CheckRead>;
  stop: () => void;
  checkStarted: number;
  /** When the check passed. */
  checkEnded: Promise<number>;
  how: LoadSteps['check'];
  weights: LoadSteps['weights'];
  openMs: number;
}

/** One image's scores, and the model that computed them. */
export interface Inferred {
  logits: Float32Array;
  backend: Backend;
  batch: number;
  /** The model that ran (the chosen one or a variant), and the chosen one's id. */
  manifest: ModelManifest;
  chosenId: string;
}

interface Waiting {
  input: Float32Array;
  resolve: (r: Inferred) => void;
  reject: (e: unknown) => void;
}

export class Engine {
  private loading: Promise<Loaded> | null = null;
  /** The chosen model's manifest, read first in a load (chosenManifest). */
  private chosen: Promise<ModelManifest> | null = null;
  /** Pictures handed to infer() while the model loaded (LoadSteps.preparedAtReady). */
  private preparedInLoad = 0;
  private waiting: Waiting[] = [];
  private gatherTimer: ReturnType<typeof setTimeout> | undefined;
  private running = false;
  private idleTimer: ReturnType<typeof setTimeout> | undefined;
  private busy = 0;
  status: EngineStatus = {
    state: 'not-loaded',
    backend: null,
    note: null,
    model: null,
    progress: null,
    threads: null,
    precision: null,
    largestBatch: 0,
    loadMs: null,
    loadSteps: null,
    inferred: { images: 0, ms: 0 },
  };

  /** Called when the engine has been idle for `idleReleaseMs`. */
  onIdle: () => void = () => undefined;

  private async load(options: EngineOptions): Promise<Loaded> {
    const t0 = performance.now();
    const loaded = await this.loadSession(options);
    this.status.loadMs = performance.now() - t0;
    return loaded;
  }

  /**
   * One installed model's file, ready for ORT, with its SHA-256 check started beside it (load
   * progress in the status is the share checked).
   */
  private async openModel({ manifest, onnxUrl, storedId }: ActiveModel, options: EngineOptions): Promise<Opened> {
    // Test builds may read in smaller pieces, and slowly; otherwise the reader's own size, at once.
    const piece = __REALFAKE_TEST__ ? options.faults?.readPieceBytes : undefined;
    const delay = __REALFAKE_TEST__ ? options.faults?.readDelayMs : undefined;
    const t0 = performance.now();
    // A downloaded model is read from OPFS, a packaged one from the extension package.
    const [stored, parts] =
      storedId !== null
        ? await Promise.all([storedOnnxParts(storedId, manifest.onnx.bytes), readChunkHashes(storedId, manifest.onnx)])
        : await Promise.all([fetchModel(onnxUrl ?? '', manifest.onnx.bytes).then((blob) => ({ blob, handles: [] })), packagedChunkHashes(onnxUrl ?? '', manifest.onnx)]);
    const file = stored.blob;
    const progress = (share: number): void => {
      this.status.progress = share;
    };
    const opened = (input: SessionInput, check: Check, how: LoadSteps['check'], reader: PartsReader | null): Opened => {
      const checkStarted = performance.now();
      const checkEnded = check.checked.then(() => performance.now());
      checkEnded.catch(() => undefined);
      const stop = (): void => {
        check.stop();
        void reader?.close();
      };
      return { id: manifest.id, input, checked: check.checked, stop, checkStarted, checkEnded, how, weights: usesReader(input, reader) ? 'worker' : 'blob', openMs: performance.now() - t0 };
    };
    if (manifest.weights && storedId !== null) {
      // Imported from a checkpoint: a small graph (checked here) whose weights are external data in
      // the weights file (checked in the worker, as a whole model file is).
      const graph = new Uint8Array(await file.arrayBuffer());
      if (sha256Hex(graph) !== manifest.onnx.sha256) throw new Error('model graph does not match its manifest (SHA-256)');
      const [weights, weightParts] = await Promise.all([
        storedWeightsParts(storedId, manifest.weights.bytes),
        readChunkHashes(storedId, manifest.weights, WEIGHTS_CHUNKS_FILE),
      ]);
      // Opened before the check starts reading: where it fails, its handles are closed by then.
      const reader = await openPartsReader(weights, piece, delay);
      // The parts are handed to the check only where the reader proved them shareable read-only.
      const check = verifyInWorker(weights.blob, manifest.weights.sha256, weightParts, progress, reader ? weights.handles : null);
      return opened({ graph, externalData: [{ path: manifest.weights.file, data: reader?.blob ?? weights.blob }] }, check, weightParts ? 'parts' : 'stream', reader);
    }
    const reader = await openPartsReader(stored, piece, delay);
    const check = verifyInWorker(file, manifest.onnx.sha256, parts, progress, reader ? stored.handles : null);
    try {
      return opened(await sessionInput(file, reader), check, parts ? 'parts' : 'stream', reader);
    } catch (e) {
      check.stop();
      void reader?.close();
      throw e;
    }
  }

  private async loadSession(options: EngineOptions): Promise<Loaded> {
    this.status = { ...this.status, state: 'loading', note: null, progress: 0, loadSteps: null };
    this.preparedInLoad = 0;
    const t0 = performance.now();
    const familyRead = loadActiveFamily();
    this.chosen = familyRead.then((f) => {
      if (!f[0]) throw new Error('no model to load');
      return f[0].manifest;
    });
    this.chosen.catch(() => undefined);
    const family = await familyRead;
    const runtime = await ortRuntime();

    // Read by ORT once, when it first starts WebAssembly; threads need cross-origin isolation.
    const wanted = options.threads > 0 ? options.threads : defaultThreads();
    runtime.ort.env.wasm.numThreads = crossOriginIsolated ? wanted : 1;
    // ORT's WebAssembly binary is given as bytes, not as a URL: compiled from a URL, Chrome caches
    // the compiled code, and a later load that reads that cache peaked ~240 MiB higher (measured
    // with the bench: each third load in a browser, never once the cache was cleared). Compiling
    // the 16 MB binary each load is cheap next to reading the model.
    runtime.ort.env.wasm.wasmBinary ??= await (await fetch(chrome.runtime.getURL(runtime.wasmPath))).arrayBuffer();
    const runtimeMs = performance.now() - t0;
    const notes: string[] = [];
    if (!crossOriginIsolated && wanted > 1) notes.push('not cross-origin isolated, so WebAssembly runs on 1 thread');
    if (!runtime.jspi) notes.push('no JavaScript Promise Integration here, so the model file is held in memory whole while it loads');

    const gpu = await webGpuHere(options);
    // ORT's plain build has no WebGPU backend.
    if (!runtime.jspi && gpu.unusable === null) gpu.unusable = 'WebGPU needs JavaScript Promise Integration, missing here';
    if (gpu.unusable !== null) notes.unshift(gpu.unusable);
    const plan = loadPlan(family, { usable: gpu.unusable === null, shaderF16: gpu.shaderF16 });
    if (gpu.unusable === null && plan.every((a) => a.backend !== 'webgpu')) {
      notes.unshift('the model is installed only in fp16, which needs WebGPU shader-f16, not offered here');
    }
    const failures: string[] = [];
    let opened: Opened | null = null;
    try {
      for (const [i, { backend, model }] of plan.entries()) {
        const { manifest } = model;
        const last = i === plan.length - 1;
        // Precision is named only where there is a choice of it.
        const what = `${backend === 'webgpu' ? 'WebGPU' : 'WebAssembly'}${family.length > 1 ? ` ${manifest.precision}` : ''}`;
        this.status.model = summarize(manifest);
        this.status.precision = manifest.precision;
        // Only one model at a time: the previous attempt's session and check go first.
        if (opened === null || opened.id !== manifest.id) {
          opened?.stop();
          opened = null;
          opened = await this.openModel(model, options);
        }
        const { input, checked } = opened;
        let session: ort.InferenceSession | null = null;
        try {
          // Test builds only: the fault switches (EngineOptions.faults); a release build has none.
          const failInit = __REALFAKE_TEST__ && backend === 'webgpu' && options.faults?.failWebGpuInit === true;
          const perturb = __REALFAKE_TEST__ && backend === 'webgpu' && options.faults?.perturbWebGpuProbe === true;
          if (failInit) throw new Error('injected fault: WebGPU initialisation failed');
          const memo = probeMemo(backend, manifest, runtime);
          const passedBefore = memo === null ? Promise.resolve(false) : probePassedBefore(memo);
          const tSession = performance.now();
          session = await runtime.ort.InferenceSession.create(input.graph, sessionOptions(backend, input.externalData));
          const loaded: Loaded = { ort: runtime.ort, session, manifest, chosenId: family[0]?.manifest.id ?? manifest.id, backend };
          const tProbe = performance.now();
          const remembered = await passedBefore;
          const err = remembered ? 0 : await probeError(loaded, perturb);
          if (probeReproduced(err, manifest.probe.tolerance)) {
            const tWait = performance.now();
            // Nothing is judged before the whole file is known to be the manifest's.
            const checkRead = await checked;
            // Only a probe of bytes known to be the manifest's is remembered.
            if (memo !== null && !remembered) await rememberProbePassed(memo).catch(() => undefined);
            this.status.loadSteps = {
              runtimeMs,
              openMs: opened.openMs,
              sessionMs: tProbe - tSession,
              probeMs: tWait - tProbe,
              probe: remembered ? 'remembered' : 'ran',
              checkMs: (await opened.checkEnded) - opened.checkStarted,
              checkWaitMs: performance.now() - tWait,
              check: opened.how,
              weights: opened.weights,
              checkRead,
              readyAt: Date.now(),
              preparedAtReady: this.preparedInLoad,
              firstRunMs: null,
              firstRunEndAt: null,
            };
            if (failures.length > 0) notes.unshift(`${failures.join('; ')}; using ${what}`);
            this.status.note = notes.join('; ') || null;
            return loaded;
          }
          if (last) throw new Error(`model output differs from its manifest's reference by ${err.toExponential(2)}`);
          failures.push(`${what} output differed from the reference by ${err.toExponential(2)}`);
          await session.release();
        } catch (e) {
          await session?.release().catch(() => undefined);
          if (last) throw e;
          failures.push(`${what} failed (${e instanceof Error ? e.message : String(e)})`);
        }
      }
    } finally {
      // A check still running for a model that was not kept.
      opened?.stop();
    }
    throw new Error('no model to load');
  }

  /** Loads the model once; `options` count only for the load that actually happens. */
  ensureLoaded(options: EngineOptions): Promise<Loaded> {
    if (!this.loading) {
      this.loading = this.load(options).then(
        (l) => {
          this.status = { ...this.status, state: 'ready', backend: l.backend, progress: null, threads: l.ort.env.wasm.numThreads ?? 1 };
          return l;
        },
        (e: unknown) => {
          this.status = { ...this.status, state: 'failed', backend: null, progress: null, note: e instanceof Error ? e.message : String(e) };
          this.loading = null; // the next request tries again
          throw e;
        },
      );
    }
    return this.loading;
  }

  /**
   * The chosen model's manifest, known early in its load (starting the load if none has): its
   * variants preprocess as it does (isVariantOf), so a picture can be made ready for the model
   * while the session is still being created, and its inference start the moment it is ready.
   */
  async chosenManifest(options: EngineOptions): Promise<ModelManifest> {
    const loading = this.ensureLoaded(options);
    // A load that fails is reported by the inference waiting for it.
    loading.catch(() => undefined);
    return this.chosen ?? (await loading).manifest;
  }

  /** Marks work under way (a fetch or an inference), so the idle timer waits. */
  hold(options: EngineOptions): () => void {
    this.busy++;
    clearTimeout(this.idleTimer);
    return () => {
      this.busy--;
      if (this.busy > 0 || options.idleReleaseMs <= 0) return;
      this.idleTimer = setTimeout(() => {
        if (this.busy === 0) this.onIdle();
      }, options.idleReleaseMs);
    };
  }

  /**
   * Scores one preprocessed image. Images that arrive within `batchWindowMs` of each other (up
   * to `maxBatch`) run as one batch; each caller gets its own logits.
   */
  infer(input: Float32Array, options: EngineOptions): Promise<Inferred> {
    if (this.status.state === 'loading') this.preparedInLoad++;
    return new Promise((resolve, reject) => {
      this.waiting.push({ input, resolve, reject });
      if (this.waiting.length >= options.maxBatch) {
        clearTimeout(this.gatherTimer);
        void this.drain(options);
      } else if (this.waiting.length === 1) {
        this.gatherTimer = setTimeout(() => void this.drain(options), options.batchWindowMs);
      }
    });
  }

  private async drain(options: EngineOptions): Promise<void> {
    if (this.running) return; // the running batch drains the rest when it ends
    this.running = true;
    try {
      while (this.waiting.length > 0) {
        const batch = this.waiting.splice(0, options.maxBatch);
        try {
          const l = await this.ensureLoaded(options);
          const size = batch[0]?.input.length ?? 0;
          const input = new Float32Array(size * batch.length);
          batch.forEach((w, i) => input.set(w.input, i * size));
          const t0 = performance.now();
          const logits = await runLogits(l, input, batch.length);
          const runMs = performance.now() - t0;
          this.status.inferred = { images: this.status.inferred.images + batch.length, ms: this.status.inferred.ms + runMs };
          const steps = this.status.loadSteps;
          if (steps && steps.firstRunEndAt === null) this.status.loadSteps = { ...steps, firstRunMs: runMs, firstRunEndAt: Date.now() };
          const per = logits.length / batch.length;
          this.status.largestBatch = Math.max(this.status.largestBatch, batch.length);
          batch.forEach((w, i) =>
            w.resolve({ logits: logits.slice(i * per, (i + 1) * per), backend: l.backend, batch: batch.length, manifest: l.manifest, chosenId: l.chosenId }),
          );
        } catch (e) {
          for (const w of batch) w.reject(e);
        }
        // The next batch's inference holds this thread: let this batch's callers reply first.
        if (this.waiting.length > 0) await new Promise((r) => setTimeout(r, 0));
      }
    } finally {
      this.running = false;
    }
  }
}

// The one onnxruntime-web session of the extension, created lazily and reused. It prefers a
// real WebGPU adapter, falls back to WASM, and proves the chosen backend on the manifest's
// probe input before any page image is judged.

import * as ort from 'onnxruntime-web';
// The build emits ORT's WebAssembly binary as an extension file; this is its packaged path.
import ortWasmPath from 'onnxruntime-web/ort-wasm-simd-threaded.jsep.wasm?url';
import type { ModelManifest } from '../detector/manifest';
import { probeInput } from '../detector/probe';
import type { Backend, EngineOptions, EngineStatus } from '../shared/protocol';
import { loadActiveModel, summarize } from '../shared/model-registry';

// Every ORT file is bundled with the extension: no CDN, no remote code.
ort.env.wasm.wasmPaths = { wasm: chrome.runtime.getURL(ortWasmPath) };
ort.env.wasm.proxy = false;
ort.env.logLevel = 'error';

interface Loaded {
  session: ort.InferenceSession;
  manifest: ModelManifest;
  backend: Backend;
}

interface GpuAdapterLike {
  info?: { isFallbackAdapter?: boolean };
  isFallbackAdapter?: boolean;
}
interface GpuLike {
  requestAdapter(): Promise<GpuAdapterLike | null>;
}

/** Why WebGPU should not be used here, or null when a usable adapter exists. */
async function webGpuUnusable(options: EngineOptions): Promise<string | null> {
  const gpu = (navigator as Navigator & { gpu?: GpuLike }).gpu;
  if (!gpu) return 'WebGPU is not available in this browser';
  let adapter: GpuAdapterLike | null = null;
  try {
    adapter = await gpu.requestAdapter();
  } catch {
    adapter = null;
  }
  if (!adapter) return 'WebGPU has no adapter on this machine';
  // A software adapter (e.g. SwiftShader) is slower than WASM.
  const software = adapter.info?.isFallbackAdapter ?? adapter.isFallbackAdapter ?? false;
  if (software && !options.allowSoftwareWebGpu) return 'WebGPU has only a software adapter here, slower than WebAssembly';
  return null;
}

async function sha256Hex(bytes: ArrayBuffer): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', bytes);
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs((a[i] ?? NaN) - (b[i] ?? NaN)));
  return Number.isNaN(m) ? Infinity : m;
}

async function runLogits(l: Loaded, input: Float32Array, batch: number): Promise<Float32Array> {
  const [, c, h, w] = l.manifest.input.shape;
  const tensor = new ort.Tensor('float32', input, [batch, c, h, w]);
  const out = await l.session.run({ [l.manifest.input.name]: tensor });
  const logits = out[l.manifest.output.name];
  if (!logits) throw new Error(`model has no output named ${l.manifest.output.name}`);
  const data = logits.data as Float32Array;
  tensor.dispose();
  return data;
}

/** Runs the manifest's probe; returns the largest logit difference from the reference. */
async function probeError(l: Loaded): Promise<number> {
  const [, , h, w] = l.manifest.input.shape;
  const got = await runLogits(l, probeInput(l.manifest.probe.batch, h, w), l.manifest.probe.batch);
  return maxAbsDiff(got, l.manifest.probe.logits);
}

export class Engine {
  private loading: Promise<Loaded> | null = null;
  private queue: Promise<unknown> = Promise.resolve();
  status: EngineStatus = { state: 'not-loaded', backend: null, note: null, model: null };

  private async load(options: EngineOptions): Promise<Loaded> {
    this.status = { ...this.status, state: 'loading', note: null };
    const { manifest, onnxUrl } = await loadActiveModel();
    this.status.model = summarize(manifest);
    const res = await fetch(onnxUrl);
    if (!res.ok) throw new Error(`model file: HTTP ${res.status}`);
    const bytes = await res.arrayBuffer();
    const sha = await sha256Hex(bytes);
    if (sha !== manifest.onnx.sha256) throw new Error('model file does not match its manifest (SHA-256)');

    const model = new Uint8Array(bytes);
    let note: string | null = await webGpuUnusable(options);
    if (note === null) {
      try {
        const session = await ort.InferenceSession.create(model, { executionProviders: ['webgpu'] });
        const loaded: Loaded = { session, manifest, backend: 'webgpu' };
        const err = await probeError(loaded);
        if (err <= manifest.probe.tolerance) return loaded;
        note = `WebGPU output differed from the reference by ${err.toExponential(2)}; using WebAssembly`;
        await session.release();
      } catch (e) {
        note = `WebGPU failed (${e instanceof Error ? e.message : String(e)}); using WebAssembly`;
      }
    }
    const session = await ort.InferenceSession.create(model, {
      executionProviders: ['wasm'],
      graphOptimizationLevel: 'all',
    });
    const loaded: Loaded = { session, manifest, backend: 'wasm' };
    const err = await probeError(loaded);
    if (!(err <= manifest.probe.tolerance)) {
      await session.release();
      throw new Error(`model output differs from its manifest's reference by ${err.toExponential(2)}`);
    }
    this.status.note = note;
    return loaded;
  }

  /** Loads the model once; `options` count only for the load that actually happens. */
  ensureLoaded(options: EngineOptions): Promise<Loaded> {
    if (!this.loading) {
      this.loading = this.load(options).then(
        (l) => {
          this.status = { ...this.status, state: 'ready', backend: l.backend };
          return l;
        },
        (e: unknown) => {
          this.status = { ...this.status, state: 'failed', backend: null, note: e instanceof Error ? e.message : String(e) };
          this.loading = null; // the next request tries again
          throw e;
        },
      );
    }
    return this.loading;
  }

  /** Runs one batch; calls are serialised because a session runs one inference at a time. */
  infer(
    input: Float32Array,
    batch: number,
    options: EngineOptions,
  ): Promise<{ logits: Float32Array; manifest: ModelManifest; backend: Backend }> {
    const run = this.queue.then(async () => {
      const l = await this.ensureLoaded(options);
      return { logits: await runLogits(l, input, batch), manifest: l.manifest, backend: l.backend };
    });
    this.queue = run.catch(() => undefined);
    return run;
  }
}

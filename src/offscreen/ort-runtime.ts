// Which onnxruntime-web build runs the model here.
//
// The JSPI build (JavaScript Promise Integration: Chrome 137+, recent Firefox) reads a model's
// weights from a Blob on demand while the session is built, so the file never sits in JavaScript
// memory whole beside the WebAssembly heap: peak memory is about the heap alone. A Firefox without
// JSPI gets ORT's plain WebAssembly build, which reads the whole Blob into an ArrayBuffer first:
// its peak is the heap plus one copy of the model file (about 800 MB more for fp32 ConvNeXt-Large),
// released once the session is built. Same operators, same results; only the Firefox build
// carries the plain one (Chromium's minimum version has JSPI).

import type * as OrtModule from 'onnxruntime-web/jspi';
import jspiMjs from 'onnxruntime-web/ort-wasm-simd-threaded.jspi.mjs?url';
import jspiWasm from 'onnxruntime-web/ort-wasm-simd-threaded.jspi.wasm?url';
import { plainOrtBuild } from '../shared/platform';

export type Ort = typeof OrtModule;

export interface OrtRuntime {
  ort: Ort;
  /** false: the plain build, which holds the whole model file in memory while loading it. */
  jspi: boolean;
  /** ORT's WebAssembly binary, as a packaged extension path. */
  wasmPath: string;
}

export function hasJspi(): boolean {
  return typeof (WebAssembly as { Suspending?: unknown }).Suspending === 'function';
}

async function load(): Promise<OrtRuntime> {
  if (plainOrtBuild && !hasJspi()) {
    const plain = await plainOrtBuild();
    // The same API as the JSPI build, without its WebGPU backend (the engine checks `jspi`).
    return configure(plain.ort as Ort, false, plain.mjsPath, plain.wasmPath);
  }
  return configure(await import('onnxruntime-web/jspi'), true, jspiMjs, jspiWasm);
}

function configure(ort: Ort, jspi: boolean, mjsPath: string, wasmPath: string): OrtRuntime {
  // Every ORT file is bundled with the extension: no CDN, no remote code.
  ort.env.wasm.wasmPaths = { mjs: chrome.runtime.getURL(mjsPath), wasm: chrome.runtime.getURL(wasmPath) };
  ort.env.wasm.proxy = false;
  ort.env.logLevel = 'error';
  return { ort, jspi, wasmPath };
}

let runtime: Promise<OrtRuntime> | null = null;

/** The build for this browser, imported and configured once. */
export function ortRuntime(): Promise<OrtRuntime> {
  runtime ??= load();
  return runtime;
}

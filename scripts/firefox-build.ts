// What the Firefox build does differently (vite.config.ts, mode "firefox"). The manifest is made
// from the Chromium one (manifest.json stays the only one written by hand). Firefox's MV3 has no service worker for extensions and no offscreen documents: the
// background is an event page (background.scripts, with a DOM), which hosts the engine's
// document in a frame (src/shared/platform.ts). Keys Firefox does not know are dropped, so
// `web-ext lint` has nothing to warn about.

import { dirname, relative } from 'node:path/posix';
import type { Plugin } from 'vite';

/** Firefox's add-on id; also the id the end-to-end tests install it under. */
export const GECKO_ID = 'realfake-lens@realfake-lens';

/**
 * The oldest Firefox that reads `data_collection_permissions` (140, an ESR). Older Firefox
 * without JavaScript Promise Integration still runs the engine (src/offscreen/engine.ts).
 */
export const GECKO_MIN_VERSION = '140.0';

export const GECKO_ANDROID_MIN_VERSION = '142.0';

/** Manifest keys only Chromium reads. */
const CHROMIUM_ONLY = [
  'minimum_chrome_version',
  // Firefox never lets other extensions or pages message an extension that does not listen.
  'externally_connectable',
  // Firefox has no manifest keys for these; its extension pages are not cross-origin isolated.
  'cross_origin_embedder_policy',
  'cross_origin_opener_policy',
] as const;

/** Permissions of APIs Firefox does not have. */
const CHROMIUM_ONLY_PERMISSIONS = new Set(['offscreen']);

/** Content script keys Firefox does not read. */
const CHROMIUM_ONLY_CONTENT_SCRIPT_KEYS = ['match_origin_as_fallback'] as const;

type Json = Record<string, unknown>;

export function firefoxManifest<M extends Json>(chromium: M): Json {
  const m: Json = structuredClone(chromium);
  for (const key of CHROMIUM_ONLY) delete m[key];
  m.permissions = (m.permissions as string[]).filter((p) => !CHROMIUM_ONLY_PERMISSIONS.has(p));
  const background = m.background as { service_worker: string; type?: string };
  m.background = { scripts: [background.service_worker], type: background.type ?? 'module' };
  m.content_scripts = (m.content_scripts as Json[]).map((cs) => {
    const copy = { ...cs };
    for (const key of CHROMIUM_ONLY_CONTENT_SCRIPT_KEYS) delete copy[key];
    return copy;
  });
  m.browser_specific_settings = {
    gecko: {
      id: GECKO_ID,
      strict_min_version: GECKO_MIN_VERSION,
      // Nothing leaves the machine: no data is collected.
      data_collection_permissions: { required: ['none'] },
    },
    // Firefox for Android reads data_collection_permissions from 142 on.
    gecko_android: { strict_min_version: GECKO_ANDROID_MIN_VERSION },
  };
  return m;
}

/**
 * Code paths of bundled libraries that the extension never takes and that Firefox's add-on linter
 * (`web-ext lint`) rightly warns about: each is replaced by a refusal. Every pattern must match
 * exactly as often as written here, so a library update that changes them fails the build instead
 * of silently shipping them.
 */
export const LINT_REPLACEMENTS: ReadonlyArray<{ what: string; file: RegExp; pattern: RegExp; count: number; replace: string }> = [
  {
    // Preact's dangerouslySetInnerHTML; nothing here uses it (HTML is never built from strings).
    what: "Preact's dangerouslySetInnerHTML",
    file: /\.js$/,
    pattern: /\b[\w$]+\.innerHTML=[\w$]+\.__html\b/g,
    count: 1,
    replace: '(()=>{throw Error("dangerouslySetInnerHTML is not supported")})()',
  },
  {
    // Emscripten embind's method caller made with new Function: the extension's CSP (no
    // 'unsafe-eval') refuses it in every browser anyway.
    what: "onnxruntime's embind new Function",
    file: /ort-wasm-simd-threaded[^/]*\.mjs$/,
    pattern: /\(new Function\(Object\.keys\([\w$]+\),[\w$]+\)\)/g,
    count: 1,
    replace: '(()=>{throw new EvalError("code from strings is not allowed here")})()',
  },
];

/** onnxruntime-web imports its Emscripten loader from a URL; here it can only be the packaged one. */
const ORT_DYNAMIC_IMPORT = /\(await import\((?:\/\*[^*]*\*\/\s*)*[\w$]+\)\)\.default/g;

/** The JSPI build, and the plain one for a Firefox without JSPI (src/offscreen/ort-runtime.ts). */
const ORT_BUILDS = 2;

interface OutputFile {
  type: 'chunk' | 'asset';
  fileName: string;
  code?: string;
  source?: string | Uint8Array;
}

/** Applies LINT_REPLACEMENTS and pins ORT's loader import to the packaged file (Firefox build only). */
export function lintCleanBundle(): Plugin {
  return {
    name: 'realfake-lens:firefox-lint-clean',
    apply: 'build',
    enforce: 'post',
    generateBundle(_options, bundle) {
      const files = Object.values(bundle) as OutputFile[];
      const textOf = (f: OutputFile): string | null =>
        f.type === 'chunk' ? (f.code ?? '') : typeof f.source === 'string' ? f.source : /\.m?js$/.test(f.fileName) && f.source ? new TextDecoder().decode(f.source) : null;
      const setText = (f: OutputFile, text: string): void => {
        if (f.type === 'chunk') f.code = text;
        else f.source = text;
      };
      for (const r of LINT_REPLACEMENTS) {
        let found = 0;
        for (const f of files) {
          const text = textOf(f);
          if (text === null || !r.file.test(f.fileName)) continue;
          const n = text.match(r.pattern)?.length ?? 0;
          if (n === 0) continue;
          found += n;
          setText(f, text.replace(r.pattern, r.replace));
        }
        if (found !== r.count) throw new Error(`firefox build: expected ${r.count} ${r.what}, found ${found}`);
      }
      // Each ORT build names its own loader file (the JSPI one, and the plain one for a Firefox
      // without JSPI); its import is pinned to that file as packaged.
      const loaderOf = (code: string): RegExp | null =>
        code.includes('ort-wasm-simd-threaded.jspi.mjs')
          ? /(^|\/)ort-wasm-simd-threaded\.jspi-[\w-]+\.mjs$/
          : code.includes('ort-wasm-simd-threaded.mjs')
            ? /(^|\/)ort-wasm-simd-threaded-[\w-]+\.mjs$/
            : null;
      let pinned = 0;
      for (const f of files) {
        if (f.type !== 'chunk' || !f.code) continue;
        const n = f.code.match(ORT_DYNAMIC_IMPORT)?.length ?? 0;
        if (n === 0) continue;
        if (n > 1) throw new Error(`firefox build: ${n} onnxruntime loader imports in ${f.fileName}`);
        const name = loaderOf(f.code);
        const loaders = name ? files.filter((a) => a.type === 'asset' && name.test(a.fileName)) : [];
        if (loaders.length !== 1) throw new Error(`firefox build: no single onnxruntime loader for ${f.fileName}`);
        const rel = relative(dirname(f.fileName), (loaders[0] as OutputFile).fileName);
        f.code = f.code.replace(ORT_DYNAMIC_IMPORT, `(await import(${JSON.stringify(rel.startsWith('.') ? rel : `./${rel}`)})).default`);
        pinned++;
      }
      if (pinned !== ORT_BUILDS) throw new Error(`firefox build: expected ${ORT_BUILDS} onnxruntime loader imports, found ${pinned}`);
    },
  };
}

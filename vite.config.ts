import { crx } from '@crxjs/vite-plugin';
import { copyFile, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { defineConfig, type Plugin } from 'vite';
import manifest from './manifest.json' with { type: 'json' };
import { firefoxManifest, lintCleanBundle } from './scripts/firefox-build';
import { chunkHashes, chunkSizeFor, CHUNKS_FILE, type ChunkHashes } from './src/shared/model-store';
import fixture from './tools/fixture.json' with { type: 'json' };

const root = import.meta.dirname;

/**
 * The part hashes of `file` (ChunkHashes in src/shared/model-store.ts), for the engine's check at
 * load; the build fails unless the whole file is the one its manifest describes.
 */
async function fileChunkHashes(file: string, sha256: string, bytes: number): Promise<ChunkHashes> {
  const size = chunkSizeFor(bytes);
  const whole = createHash('sha256');
  const parts: Array<{ bytes: number; sha256: string }> = [];
  let read = 0;
  for (let at = 0; at < bytes; at += size) {
    const part = createHash('sha256');
    for await (const piece of createReadStream(file, { start: at, end: Math.min(at + size, bytes) - 1 })) {
      part.update(piece as Buffer);
      whole.update(piece as Buffer);
      read += (piece as Buffer).length;
    }
    parts.push({ bytes: Math.min(size, bytes - at), sha256: part.digest('hex') });
  }
  const hex = whole.digest('hex');
  if (read !== bytes || hex !== sha256) throw new Error(`${file} is not the file its manifest describes (${read} bytes, SHA-256 ${hex})`);
  return chunkHashes(sha256, bytes, parts);
}

/**
 * Packages every model under models/ (each a folder with manifest.json + ONNX file) and writes
 * models/index.json naming the active one: $REALFAKE_MODEL, else models/active.json, else the fixture.
 * $REALFAKE_MODEL_DIR instead packages just that one folder, wherever it is, as the active model
 * (benchmarks build with a large model kept outside the repository). Beside each ONNX file goes
 * chunks.json, its parts' SHA-256, so a load checks it with WebCrypto; the whole file's SHA-256 is
 * the manifest's (checked by whoever put the model there: model:install, or the converter).
 */
function packageModels(): Plugin {
  return {
      name: 'realfake-lens:models',
      apply: 'build',
      async writeBundle(options) {
        const outDir = options.dir ?? 'dist';
        const models: Record<string, string> = {};
        const only = process.env.REALFAKE_MODEL_DIR;
        const folders = only
          ? [resolve(only)]
          : (await readdir(resolve(root, 'models'), { withFileTypes: true }))
              .filter((e) => e.isDirectory())
              .map((e) => resolve(root, 'models', e.name));
        for (const src of folders) {
          if (!existsSync(join(src, 'manifest.json'))) continue;
          const m = JSON.parse(await readFile(join(src, 'manifest.json'), 'utf8')) as { id: string; onnx: { file: string; sha256: string; bytes: number } };
          const dest = join(outDir, 'models', m.id);
          await mkdir(dest, { recursive: true });
          await copyFile(join(src, 'manifest.json'), join(dest, 'manifest.json'));
          await copyFile(join(src, m.onnx.file), join(dest, m.onnx.file));
          const chunks = await fileChunkHashes(join(dest, m.onnx.file), m.onnx.sha256, m.onnx.bytes);
          await writeFile(join(dest, CHUNKS_FILE), JSON.stringify(chunks));
          models[m.id] = `models/${m.id}/`;
        }
        let active = only ? Object.keys(models)[0] : process.env.REALFAKE_MODEL;
        const activeFile = resolve(root, 'models/active.json');
        if (!active && existsSync(activeFile)) active = (JSON.parse(await readFile(activeFile, 'utf8')) as { id: string }).id;
        active ??= fixture.id;
        if (!models[active]) throw new Error(`active model "${active}" is not under models/`);
        await writeFile(join(outDir, 'models', 'index.json'), JSON.stringify({ active, models }, null, 2));
      },
  };
}

// `vite build --mode firefox` (npm run build:firefox): the same source for Firefox, into
// dist-firefox/. The mode is also import.meta.env.MODE, which src/shared/platform.ts reads.
// `--mode test` / `--mode firefox-test` (npm run build:test / build:firefox-test): the test builds
// that the end-to-end tests load, into dist-test/ and dist-firefox-test/. Only they define
// __REALFAKE_TEST__ as true, so test hooks and engine fault switches exist only there.
export default defineConfig(({ mode }) => {
  const firefox = mode === 'firefox' || mode === 'firefox-test';
  const testBuild = mode === 'test' || mode === 'firefox-test';
  const suffix = testBuild ? '-test' : '';
  return {
    define: { __REALFAKE_TEST__: JSON.stringify(testBuild) },
    plugins: [
      crx({
        manifest: firefox ? (firefoxManifest(manifest) as unknown as typeof manifest) : manifest,
        browser: firefox ? 'firefox' : 'chrome',
        // A self-contained IIFE: no loader, so no web_accessible_resources exposed to pages.
        contentScripts: { standaloneFiles: ['src/content/index.ts'] },
      }),
      packageModels(),
      ...(firefox ? [lintCleanBundle()] : []),
    ],
    // ORT's non-bundled build: its Emscripten loader (.mjs) and .wasm stay separate extension files,
    // so the pthread workers it starts load ORT's loader rather than our offscreen chunk.
    resolve: { conditions: ['onnxruntime-web-use-extern-wasm'] },
    oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
    build: {
      // RFL_DIST lets parallel work build into separate folders; tests read the same variable.
      outDir: firefox ? (process.env.RFL_DIST_FIREFOX ?? `dist-firefox${suffix}`) : (process.env.RFL_DIST ?? `dist${suffix}`),
      emptyOutDir: true,
      target: firefox ? 'firefox140' : 'chrome137',
      sourcemap: false,
      chunkSizeWarningLimit: 2000,
      rollupOptions: {
        input: { offscreen: 'src/offscreen/index.html' },
      },
    },
  };
});

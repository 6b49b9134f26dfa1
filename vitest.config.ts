import { defineConfig } from 'vitest/config';

// Every project runs the test build's code paths (fault switches in engine messages; see
// src/env.d.ts). Vitest sets a define on globalThis rather than replacing it in the source, so a
// test can stub it to false to run a release build's paths. (Inline projects do not inherit it.)
const define = { __REALFAKE_TEST__: 'true' };

export default defineConfig({
  test: {
    projects: [
      {
        define,
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          environment: 'node',
        },
      },
      {
        // Compares the TypeScript pipeline with PIL + torchvision + PyTorch (Debian's python3-*).
        define,
        test: {
          name: 'parity',
          include: ['test/parity/**/*.test.ts'],
          environment: 'node',
          testTimeout: 300_000,
          hookTimeout: 300_000,
        },
      },
      {
        // The checkpoint converter and model:install on small synthetic checkpoints (Debian's python3-*).
        define,
        test: {
          name: 'tools',
          include: ['test/tools/**/*.test.ts'],
          environment: 'node',
          testTimeout: 300_000,
          hookTimeout: 300_000,
        },
      },
      {
        // `npm run test:full`: one full-size ConvNeXt-Large through convert, model:install and eval.
        define,
        test: {
          name: 'full',
          include: ['test/full/**/*.test.ts'],
          environment: 'node',
          testTimeout: 3_900_000,
          hookTimeout: 600_000,
          fileParallelism: false,
        },
      },
      {
        // Real Chromium with the built extension; one browser per file, files one at a time.
        define,
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          environment: 'node',
          testTimeout: 180_000,
          hookTimeout: 300_000,
          fileParallelism: false,
        },
      },
      {
        // Real Firefox ESR (WebDriver BiDi) with the Firefox build (dist-firefox/); one browser per file.
        define,
        test: {
          name: 'firefox',
          include: ['test/firefox/**/*.test.ts'],
          environment: 'node',
          testTimeout: 180_000,
          hookTimeout: 300_000,
          fileParallelism: false,
        },
      },
      {
        // `npm run bench`: prints measured ratios against a reference taken in the same run.
        define,
        test: {
          name: 'bench',
          include: ['bench/**/*.bench.ts'],
          environment: 'node',
          testTimeout: 600_000,
          hookTimeout: 300_000,
          fileParallelism: false,
        },
      },
    ],
  },
});

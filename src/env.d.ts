/// <reference types="vite/client" />

/**
 * True only in a test build (`vite build --mode test` / `--mode firefox-test`, see vite.config.ts),
 * false in every release build. The bundler replaces it with its value, so code behind
 * `if (__REALFAKE_TEST__)` (test hooks, engine fault switches) is removed from what users install.
 * Vitest sets it to true (vitest.config.ts).
 */
declare const __REALFAKE_TEST__: boolean;

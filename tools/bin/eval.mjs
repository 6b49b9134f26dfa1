#!/usr/bin/env node
// `npm run eval -- ...`: loads tools/eval/cli.ts (which shares preprocessing, the manifest schema and
// scoring with the extension, src/detector/) through Vite's module runner, and runs it.
import { runnerImport } from 'vite';

const entry = new URL('../eval/cli.ts', import.meta.url).pathname;
const { module } = await runnerImport(entry, { configFile: false, logLevel: 'silent' });
process.exitCode = await module.main(process.argv.slice(2));

#!/usr/bin/env node
// `npm run model:install -- ...`: loads tools/model_install.ts (which shares the manifest schema and
// probe input with the extension, src/detector/) through Vite's module runner, and runs it.
import { runnerImport } from 'vite';

const entry = new URL('../model_install.ts', import.meta.url).pathname;
const { module } = await runnerImport(entry, { configFile: false, logLevel: 'silent' });
process.exitCode = await module.main(process.argv.slice(2));

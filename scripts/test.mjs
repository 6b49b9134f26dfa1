#!/usr/bin/env node
// `npm test`: checks the machine, builds the extension's test build once (for Chromium into
// dist-test/, for Firefox into dist-firefox-test/: vite.config.ts, mode test / firefox-test), then
// runs every test project (unit, parity against PyTorch/PIL, end to end in Chromium, then in
// Firefox) and prints one summary line.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';

const run = (cmd, args, env = {}) => {
  const r = spawnSync(cmd, args, { stdio: 'inherit', env: { ...process.env, ...env } });
  return r.status ?? 1;
};

const only = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const projects = only.length > 0 ? only : ['unit', 'parity', 'tools', 'e2e', 'firefox'];

if (run('bash', ['scripts/setup.sh']) !== 0) {
  console.error('npm test: machine setup failed (see above)');
  process.exit(1);
}
if (projects.includes('e2e') && !process.env.SKIP_BUILD) {
  if (run('npm', ['run', '--silent', 'build:test', '--', '--logLevel', 'warn']) !== 0) {
    console.error('npm test: build failed');
    process.exit(1);
  }
}
if (projects.includes('firefox') && !process.env.SKIP_BUILD) {
  if (run('npm', ['run', '--silent', 'build:firefox-test', '--', '--logLevel', 'warn']) !== 0) {
    console.error('npm test: Firefox build failed');
    process.exit(1);
  }
}

mkdirSync('artifacts', { recursive: true });
let passed = 0;
let failed = 0;
let skipped = 0;
let status = 0;
// One project at a time: the end-to-end files each own a browser, and the machine has 2 cores.
for (const project of projects) {
  const out = `artifacts/vitest-${project}.json`;
  const code = run('npx', ['vitest', 'run', '--project', project, '--reporter=default', '--reporter=json', `--outputFile=${out}`]);
  if (code !== 0) status = code;
  if (existsSync(out)) {
    const r = JSON.parse(readFileSync(out, 'utf8'));
    passed += r.numPassedTests;
    failed += r.numFailedTests;
    skipped += r.numPendingTests + (r.numTodoTests ?? 0);
    if (r.numTotalTests === 0) {
      console.error(`npm test: project ${project} ran no test`);
      status = status || 1;
    }
  } else {
    console.error(`npm test: project ${project} wrote no report`);
    status = status || 1;
  }
}
console.log(`\ntests: ${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(status !== 0 || failed > 0 ? 1 : 0);

#!/usr/bin/env node
// `npm run test:hardening`: runs the hardening suite of issue 10 (the fuzzing unit files and the
// two hostile e2e files) and prints the figures we track: hostile fixtures tried / passed, fuzz
// runs, requests observed on a busy page. The figures come from the lines the tests print.
// Builds the extension's test build first (into $RFL_DIST when set, else dist-test/) unless SKIP_BUILD is set.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';

const FUZZ = ['test/unit/fuzz-protocol.test.ts', 'test/unit/fuzz-headers.test.ts'];
const E2E = ['test/e2e/hostile-images.test.ts', 'test/e2e/hostile-pages.test.ts'];

if (!process.env.SKIP_BUILD && spawnSync('npm', ['run', '--silent', 'build:test', '--', '--logLevel', 'warn'], { stdio: 'inherit' }).status !== 0) {
  console.error('test:hardening: build failed');
  process.exit(1);
}

/** Runs one vitest project on `files`, echoing its output; returns the output and the JSON report. */
function vitest(project, files) {
  const out = `artifacts/hardening-${project}.json`;
  const args = ['vitest', 'run', '--project', project, '--reporter=default', '--reporter=json', `--outputFile=${out}`, ...files];
  return new Promise((resolve) => {
    const child = spawn('npx', args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, FORCE_COLOR: '0' } });
    let text = '';
    for (const s of [child.stdout, child.stderr]) {
      s.on('data', (d) => {
        process.stdout.write(d);
        text += d;
      });
    }
    child.on('close', (code) => resolve({ code: code ?? 1, text, report: existsSync(out) ? JSON.parse(readFileSync(out, 'utf8')) : null }));
  });
}

mkdirSync('artifacts', { recursive: true });
const unit = await vitest('unit', FUZZ);
const e2e = await vitest('e2e', E2E);
// eslint-disable-next-line no-control-regex
const text = `${unit.text}\n${e2e.text}`.replace(/\x1b\[[0-9;]*m/g, '');

// The fuzz files print a block ("protocol fuzzing:", "header fuzzing:") with one indented line
// per property and its run count; only those blocks are read (test titles name counts too).
const RUN_LINE = /\b(\d+) (valid messages|mutations|random values|random and mutated values|random byte strings|signatures with random tails|valid headers|mutated headers)\b/;
let fuzzRuns = 0;
let properties = 0;
let inBlock = false;
for (const line of text.split('\n')) {
  if (/^\w+ fuzzing:$/.test(line.trim()) && !line.startsWith(' ')) {
    inBlock = true;
    continue;
  }
  if (!inBlock) continue;
  if (!line.startsWith('  ')) {
    inBlock = false;
    continue;
  }
  const m = RUN_LINE.exec(line);
  if (m) {
    fuzzRuns += Number(m[1]);
    properties++;
  }
}
const fixtures = /hostile fixtures: (\d+) of (\d+) passed/.exec(text);
const requests = /requests observed: (\d+) \(extension (\d+), page (\d+)\)/.exec(text);
const tests = [unit.report, e2e.report].filter(Boolean);
const passed = tests.reduce((a, r) => a + r.numPassedTests, 0);
const total = tests.reduce((a, r) => a + r.numTotalTests, 0);

console.log(
  `\nhardening: hostile fixtures ${fixtures ? `${fixtures[2]} tried / ${fixtures[1]} passed` : 'not run'}; ` +
    `fuzz runs ${fuzzRuns} (${properties} properties); ` +
    `requests observed ${requests ? `${requests[1]} (extension ${requests[2]}, page ${requests[3]})` : 'not run'}; ` +
    `tests ${passed} / ${total} passed`,
);
process.exit(unit.code !== 0 ? unit.code : e2e.code);

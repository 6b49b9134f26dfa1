// The release builds users install (`npm run build`, `npm run build:firefox`) carry no test-only
// code: no test hooks, no engine fault switches. Those exist only in the test builds
// (`npm run build:test`, `build:firefox-test`: vite.config.ts defines __REALFAKE_TEST__, and the
// bundler drops what it guards), which every other end-to-end test loads. This file builds all four
// from the same source into a temporary folder and searches their emitted files; the test builds
// must contain each name, so the search can fail. Then the Chromium release build runs in Chromium:
// no hooks in its service worker, and a photograph gets PyTorch's score.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { extname, join } from 'node:path';
import { launchWithExtension, type ExtensionSession } from '../support/chrome';
import { startServer, type TestServer } from '../support/server';
import { waitForBadges } from '../support/badges';
import { PHOTOS_DIR } from '../support/photos';
import { REPO, referenceScores } from '../support/python';

/** What the tests use to reach test-only code. (checkImage and siteOf are product functions the hooks only expose.) */
const TEST_ONLY = [
  'realfakeLensTestHooks', // the service worker's global
  'menuListener', // its members
  'activeReferrerRules',
  'queueSize',
  'delayRecords',
  'engine.testFaults', // the storage key of the fault switches
  'failWebGpuInit', // the switches (EngineOptions.faults)
  'perturbWebGpuProbe',
  'pretendShaderF16',
  'checkpointUnitBytes', // the checkpoint import's unit size (EngineFaults)
  'readPieceBytes', // the piece a stored model's weights are read in (EngineFaults)
  'readDelayMs', // the wait before each such piece (EngineFaults)
  'injected fault', // the failWebGpuInit error
];

/** npm script -> whether it is a test build. */
const BUILDS = { build: false, 'build:firefox': false, 'build:test': true, 'build:firefox-test': true } as const;
type Script = keyof typeof BUILDS;

const PHOTO = 'chelsea.png';

let work: string;
const sources = new Map<Script, Map<string, string>>();
let ext: ExtensionSession | undefined;
let server: TestServer | undefined;

/** Every text file a build emitted (scripts, pages, manifest), by path. */
function emittedText(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const f of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!f.isFile() || !['.js', '.mjs', '.html', '.json', '.css'].includes(extname(f.name))) continue;
    const path = join(f.parentPath, f.name);
    out.set(path.slice(dir.length + 1), readFileSync(path, 'utf8'));
  }
  return out;
}

const filesWith = (files: Map<string, string>, needle: string): string[] => [...files].filter(([, text]) => text.includes(needle)).map(([f]) => f);

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'rfl-release-'));
  // As from a shell: vitest's NODE_ENV=test must not reach the build.
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.NODE_ENV;
  for (const script of Object.keys(BUILDS) as Script[]) {
    const dir = join(work, script.replace(':', '-'));
    const r = spawnSync('npm', ['run', '--silent', script, '--', '--logLevel', 'error'], {
      cwd: REPO,
      env: { ...env, RFL_DIST: dir, RFL_DIST_FIREFOX: dir },
      encoding: 'utf8',
    });
    if (r.status !== 0) throw new Error(`npm run ${script} failed:\n${r.stdout}\n${r.stderr}`);
    sources.set(script, emittedText(dir));
  }
}, 300_000);

afterAll(async () => {
  await ext?.close();
  await server?.close();
  rmSync(work, { recursive: true, force: true });
});

describe('release builds', () => {
  it('the test builds contain every test-only name (so the search below can fail)', () => {
    for (const script of ['build:test', 'build:firefox-test'] as const) {
      const files = sources.get(script) as Map<string, string>;
      const missing = TEST_ONLY.filter((n) => filesWith(files, n).length === 0);
      expect(missing, script).toEqual([]);
    }
  });

  it('npm run build and npm run build:firefox contain none of them', () => {
    for (const script of ['build', 'build:firefox'] as const) {
      const files = sources.get(script) as Map<string, string>;
      expect(files.size, script).toBeGreaterThan(5);
      const found = TEST_ONLY.flatMap((n) => filesWith(files, n).map((f) => `${n} in ${f}`));
      expect(found, script).toEqual([]);
    }
  });

  it('every build replaced __REALFAKE_TEST__ with its value', () => {
    for (const [script, files] of sources) expect(filesWith(files, '__REALFAKE_TEST__'), script).toEqual([]);
  });

  it("the Chromium release build has no hooks in its service worker and gives a photograph PyTorch's score", async () => {
    const want = (await referenceScores([join(PHOTOS_DIR, PHOTO)])).get(join(PHOTOS_DIR, PHOTO));
    server = await startServer(PHOTOS_DIR);
    server.page('/photo.html', `<!doctype html><title>photo</title><img src="/static/${PHOTO}" width="300" alt="">`);
    ext = await launchWithExtension({ dist: join(work, 'build') });
    const worker = await ext.serviceWorker();
    expect(await worker.evaluate(() => typeof (globalThis as { realfakeLensTestHooks?: unknown }).realfakeLensTestHooks)).toBe('undefined');
    const page = await ext.context.newPage();
    await page.goto(`${server.origin}/photo.html`);
    const [badge] = await waitForBadges(page, (b) => b.length === 1 && b[0]?.state !== 'checking');
    expect(badge?.state).toMatch(/^(generated|real)$/);
    expect(want).toBeTypeOf('number');
    expect(Math.abs((badge?.p ?? NaN) - (want as number))).toBeLessThanOrEqual(1e-3);
  });
});

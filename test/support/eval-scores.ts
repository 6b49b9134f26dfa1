// `npm run eval` (tools/bin/eval.mjs: sharp decode, the TypeScript preprocessing, onnxruntime-node)
// run as a user runs it, for the p(generated) it writes per file: a reference for model files that
// PyTorch cannot run (an int8 variant), through a path that shares nothing with the browser's engine.

import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { parseCsv } from '../../tools/eval/dataset';
import { REPO } from './python';

/** p(generated) by file name, for every picture under `imagesDir`, from the model folder `modelDir`. */
export function evalScores(modelDir: string, imagesDir: string): Promise<Map<string, number>> {
  const dest = mkdtempSync(join(tmpdir(), 'rfl-eval-scores-'));
  return new Promise<Map<string, number>>((done, fail) => {
    const args = [join(REPO, 'tools/bin/eval.mjs'), '--real', imagesDir, '--model', modelDir, '--out', dest, '--quiet'];
    execFile('node', args, { cwd: REPO, timeout: 240_000 }, (err, _stdout, stderr) => {
      if (err) return fail(new Error(`eval failed: ${stderr}`));
      const [header = [], ...rows] = parseCsv(readFileSync(join(dest, 'scores.csv'), 'utf8'));
      const path = header.indexOf('path');
      const p = header.indexOf('p_generated');
      done(new Map(rows.filter((row) => row.length > p).map((row) => [basename(row[path] ?? ''), Number(row[p])])));
    });
  }).finally(() => rmSync(dest, { recursive: true, force: true }));
}

// One picture per decoding case, written at test time by tools independent of the code under test:
// test/support/decoding_cases.py (PIL and OpenCV: progressive, CMYK, greyscale and ICC-tagged JPEG;
// palette, palette + tRNS, grey + alpha, translucent RGBA, 16-bit RGB and grey PNG; GIF; lossy and
// lossless WebP) and exiftool (JPEGs carrying EXIF orientations 2-8, from test/support/oriented.ts).

import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { makeOrientedSet } from './oriented';
import { runPython } from './python';

export interface DecodingCase {
  /** File name inside the set's `dir`. */
  file: string;
  /** What the case is, in words. */
  case: string;
  /** The mode PIL's Image.open reports (RGB, L, P, CMYK, LA, RGBA, I, ...). */
  mode: string;
}

export interface DecodingSet {
  dir: string;
  cases: DecodingCase[];
  remove: () => void;
}

const WRITER = resolve(import.meta.dirname, 'decoding_cases.py');

/** Writes every decoding case into a new temp dir. */
export async function makeDecodingSet(): Promise<DecodingSet> {
  const dir = mkdtempSync(join(tmpdir(), 'rfl-decoding-'));
  const r = await runPython([WRITER, dir]);
  if (r.code !== 0) throw new Error(`test/support/decoding_cases.py failed (exit ${r.code}):\n${r.stderr}`);
  const cases = (JSON.parse(r.stdout) as { cases: DecodingCase[] }).cases;
  const oriented = await makeOrientedSet();
  try {
    for (const f of oriented.files) {
      if (f.orientation === 1 || f.writer !== 'exiftool (big-endian)') continue;
      const file = `exif-orientation-${f.orientation}.jpg`;
      copyFileSync(join(oriented.dir, f.file), join(dir, file));
      cases.push({ file, case: `JPEG with EXIF orientation ${f.orientation} (${f.writer})`, mode: 'RGB' });
    }
  } finally {
    rmSync(oriented.dir, { recursive: true, force: true });
  }
  return { dir, cases, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

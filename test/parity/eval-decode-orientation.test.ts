// `npm run eval`'s decoder (tools/eval/decode-node.ts, sharp) ignores EXIF orientation as PIL's
// Image.open does: pictures carrying each orientation (1-8; JPEG in both byte orders from exiftool,
// PNG eXIf from PIL, written at test time) decode to exactly PIL's convert('RGB') pixels and size.

import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeBytes } from '../../tools/eval/decode-node';
import { makeOrientedSet, type OrientedSet } from '../support/oriented';
import { pilDecode, type PilPixels } from '../support/python';

let set: OrientedSet;
let pil: Map<string, PilPixels>;

beforeAll(async () => {
  set = await makeOrientedSet();
  const decoded = await pilDecode(set.files.map((f) => join(set.dir, f.file)));
  pil = new Map(decoded.map((d) => [d.input.split('/').pop() ?? '', d]));
});
afterAll(() => {
  if (set) rmSync(set.dir, { recursive: true, force: true });
});

/** Max |Δ| over RGB of RGBA `rgba` against interleaved RGB `rgb`. */
function maxRgbDiff(rgba: Uint8Array, rgb: Uint8Array): number {
  let d = 0;
  for (let i = 0, j = 0; i < rgba.length; i += 4, j += 3) {
    for (let c = 0; c < 3; c++) d = Math.max(d, Math.abs((rgba[i + c] ?? 0) - (rgb[j + c] ?? 0)));
  }
  return d;
}

describe("eval's sharp decode vs PIL, EXIF orientations 1-8", () => {
  it('gives PIL\'s size and pixels for every orientation', async () => {
    const rows: string[] = [];
    for (const f of set.files) {
      const got = await decodeBytes(new Uint8Array(readFileSync(join(set.dir, f.file))));
      const ref = pil.get(f.file);
      if (!ref) throw new Error(`no PIL reference for ${f.file}`);
      const size = `${got.width}x${got.height}`;
      const diff = size === `${ref.width}x${ref.height}` ? maxRgbDiff(got.rgba, ref.rgb) : Number.POSITIVE_INFINITY;
      rows.push(`  ${f.file.padEnd(20)} ${size.padStart(7)} / ${ref.width}x${ref.height}   max |Δ| ${diff}`);
      expect({ file: f.file, size, diff }).toEqual({ file: f.file, size: `${ref.width}x${ref.height}`, diff: 0 });
    }
    console.log(`eval decode (sharp) vs PIL, size / PIL size:\n${rows.join('\n')}`);
  });
});

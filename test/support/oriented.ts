// Pictures carrying each EXIF orientation (1-8), written at test time by tools that are not the
// code under test: exiftool sets the Orientation of a copy of a committed portrait JPEG (in both
// byte orders; the JPEG data is not re-encoded), PIL's Image.save(exif=...) writes a PNG eXIf chunk
// into a landscape photo. Both photos are non-square and not symmetric, so any rotation or flip
// changes the pixels (and, for 5-8, the size).

import { execFile } from 'node:child_process';
import { copyFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { photoPath } from './photos';
import { runPython } from './python';

export const JPEG_SOURCE = 'astronaut-portrait.jpg';
export const PNG_SOURCE = 'chelsea-447x300.png';

export interface OrientedFile {
  /** File name inside `dir`. */
  file: string;
  orientation: number;
  writer: 'exiftool (big-endian)' | 'exiftool (little-endian)' | 'PIL PNG eXIf';
}

export interface OrientedSet {
  dir: string;
  files: OrientedFile[];
}

function exiftool(args: string[]): Promise<void> {
  return new Promise((done, fail) => {
    execFile('exiftool', args, (err, _stdout, stderr) => {
      if (err) fail(new Error(`exiftool ${args.join(' ')} failed (is exiftool installed? scripts/setup.sh): ${stderr || err.message}`));
      else done();
    });
  });
}

const PNG_WRITER = `
import sys
from PIL import Image
src, out = sys.argv[1], sys.argv[2]
with Image.open(src) as im:
    for o in range(1, 9):
        exif = Image.Exif()
        exif[0x0112] = o
        im.save(f'{out}/png-o{o}.png', exif=exif.tobytes())
`;

/** Writes 24 files: JPEG big-endian, JPEG little-endian and PNG, orientations 1-8, into a new temp dir. */
export async function makeOrientedSet(): Promise<OrientedSet> {
  const dir = mkdtempSync(join(tmpdir(), 'rfl-oriented-'));
  const files: OrientedFile[] = [];
  for (let o = 1; o <= 8; o++) {
    for (const [order, name] of [['Big-endian', 'mm'], ['Little-endian', 'ii']] as const) {
      const file = `jpeg-${name}-o${o}.jpg`;
      const src = join(dir, `src-${file}`);
      copyFileSync(photoPath(JPEG_SOURCE), src);
      await exiftool(['-q', '-o', join(dir, file), `-ExifByteOrder=${order}`, `-Orientation#=${o}`, src]);
      files.push({ file, orientation: o, writer: name === 'mm' ? 'exiftool (big-endian)' : 'exiftool (little-endian)' });
    }
    files.push({ file: `png-o${o}.png`, orientation: o, writer: 'PIL PNG eXIf' });
  }
  const png = await runPython(['-c', PNG_WRITER, photoPath(PNG_SOURCE), dir]);
  if (png.code !== 0) throw new Error(`writing the PNG eXIf files failed:\n${png.stderr}`);
  return { dir, files };
}

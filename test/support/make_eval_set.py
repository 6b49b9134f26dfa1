#!/usr/bin/env python3
"""Writes a small labelled image set for the eval tests (test/tools/eval.test.ts), deterministically,
from the committed photographs (test/fixtures/photos/): crops, flips and resizes saved as PNG, JPEG
(several qualities, 4:4:4, progressive with a non-sRGB colour profile, greyscale, CMYK), WebP
(lossy, lossless) and GIF, in RGB, greyscale, RGBA and palette modes, some smaller than the 224 px
crop; plus a truncated JPEG and a scored image with markup in their names, a text file, a hidden
file, nested folders, and CSV / JSONL manifests of the same files.

  /usr/bin/python3 test/support/make_eval_set.py OUTDIR

writes OUTDIR/real/..., OUTDIR/fake/..., OUTDIR/set.csv, OUTDIR/set.jsonl and OUTDIR/index.json
({"images": [{"path", "label", "format"}], "broken": [...], "hidden": [...]}).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageCms, ImageOps

PHOTOS = Path(__file__).resolve().parent.parent / 'fixtures' / 'photos'
SOURCES = ['chelsea.png', 'rocket.jpg', 'retina.jpg', 'astronaut-portrait.jpg', 'coins.png', 'camera.png', 'coffee-alpha.png',
           'hubble-palette.png']
# One of the names is built to break an HTML report that does not escape (file names may hold < > " ' &).
HOSTILE = "<img src=x onerror=alert(1)> & 'q\".png"
# The truncated file is always listed in the report (skipped files are), so it carries markup too.
TRUNCATED = "<script>alert(1)<_script> 'truncated' & \"more\".jpg"


def variants(rng: np.random.Generator):
    """(name, save function) pairs, 20 per label, varied in size, mode and format."""
    k = 0
    for src in SOURCES:
        base = Image.open(PHOTOS / src)
        base.load()
        for j in range(5):
            k += 1
            im = base.convert('RGBA' if base.mode in ('RGBA', 'P') and j % 2 == 0 else 'RGB')
            w, h = im.size
            # A crop at a random place, of 40..100% of each side, sometimes flipped, sometimes resized.
            cw, ch = int(w * rng.uniform(0.4, 1.0)), int(h * rng.uniform(0.4, 1.0))
            x, y = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
            im = im.crop((x, y, x + cw, y + ch))
            if rng.random() < 0.4:
                im = ImageOps.mirror(im)
            if rng.random() < 0.3:
                s = rng.uniform(0.35, 0.8)  # some end up smaller than the 224 crop: the padding path
                im = im.resize((max(16, int(im.width * s)), max(16, int(im.height * s))), Image.BILINEAR)
            yield k, im


# An embedded colour profile that is not sRGB: PIL (and the extension) ignore it, a decoder that
# applied it would change the pixels by up to 240 levels.
XYZ_ICC = ImageCms.ImageCmsProfile(ImageCms.createProfile('XYZ')).tobytes()


def save(im: Image.Image, path_stem: Path, k: int) -> tuple[Path, str]:
    kind = k % 10
    if kind == 0:
        p = path_stem.with_suffix('.png'); im.save(p)
    elif kind == 1:
        p = path_stem.with_suffix('.jpg'); im.convert('RGB').save(p, quality=90)
    elif kind == 2:
        p = path_stem.with_suffix('.jpg'); im.convert('RGB').save(p, quality=55, subsampling=0)
    elif kind == 3:
        p = path_stem.with_suffix('.jpg'); im.convert('RGB').save(p, quality=80, progressive=True, icc_profile=XYZ_ICC)
    elif kind == 4:
        p = path_stem.with_suffix('.webp'); im.save(p, quality=75)
    elif kind == 5:
        p = path_stem.with_suffix('.webp'); im.save(p, lossless=True)
    elif kind == 6:
        p = path_stem.with_suffix('.gif'); im.convert('RGB').convert('P', palette=Image.ADAPTIVE).save(p)
    elif kind == 7:
        p = path_stem.with_suffix('.png'); im.convert('L').save(p)
    elif kind == 8:
        p = path_stem.with_suffix('.jpg'); im.convert('L').save(p, quality=85)
    else:
        p = path_stem.with_suffix('.jpg'); im.convert('RGB').convert('CMYK').save(p, quality=85)
    return p, {'.png': 'PNG', '.jpg': 'JPEG', '.webp': 'WEBP', '.gif': 'GIF'}[p.suffix]


def main() -> None:
    out = Path(sys.argv[1])
    rng = np.random.default_rng(20261125)
    images = []
    for k, im in variants(rng):
        label = 'fake' if k % 2 == 0 else 'real'
        folder = out / label / ('nested' if k % 7 == 0 else '')
        folder.mkdir(parents=True, exist_ok=True)
        stem = folder / (HOSTILE.removesuffix('.png') if k == 12 else f'img{k:02d}')
        p, fmt = save(im, stem, k)
        images.append({'path': str(p.relative_to(out)), 'label': label, 'format': fmt})

    # Not images / broken: skipped by both tools, counted and listed.
    jpeg = (out / images[1]['path']).read_bytes()
    (out / 'fake' / TRUNCATED).write_bytes(jpeg[: len(jpeg) // 2])
    (out / 'real' / 'notes.txt').write_text('not an image\n')
    broken = [{'path': f'fake/{TRUNCATED}', 'label': 'fake'}, {'path': 'real/notes.txt', 'label': 'real'}]
    # Hidden files are not part of the set at all.
    (out / 'real' / '.DS_Store').write_bytes(b'\x00\x00\x00\x01Bud1')

    listed = images + broken
    # CSV: a header with other column names, 0/1 labels (1 = generated), a quoted field.
    rows = ['image,target'] + [
        ('"' + r['path'].replace('"', '""') + '"' if any(c in r['path'] for c in ',"\n') else r['path']) + ',' +
        ('1' if r['label'] == 'fake' else '0') for r in listed]
    (out / 'set.csv').write_text('\n'.join(rows) + '\n')
    # JSONL in the seed's prepared.*.jsonl style: a path and a "REAL"/"FAKE" label, plus other keys.
    (out / 'set.jsonl').write_text(''.join(json.dumps({'path': r['path'], 'label': r['label'].upper(), 'split': 'test'}) + '\n' for r in listed))
    (out / 'index.json').write_text(json.dumps({'images': images, 'broken': broken, 'hidden': ['real/.DS_Store']}, indent=2) + '\n')


if __name__ == '__main__':
    main()

#!/usr/bin/env python3
"""Writes test/fixtures/photos/ from scikit-image's sample photographs (Debian python3-skimage,
public domain / CC0; see test/fixtures/photos/LICENSES.md) and its index.json.

  /usr/bin/python3 tools/make_test_photos.py [--src DIR] [--out DIR]

The files are committed; this script documents how each one was made. Crops and edits are
chosen to cover what the preprocessing must get right (see the `why` of each entry).
"""
from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import numpy as np
from PIL import Image

SKIMAGE = Path('/usr/lib/python3/dist-packages/skimage/data')
REPO = Path(__file__).resolve().parent.parent
SMALL = 128  # the extension skips images smaller than this on both sides (e2e "no badge" case)


def copy(src: Path, out: Path, name: str) -> None:
    shutil.copyfile(src / name, out / name)


def make(src: Path, out: Path) -> list[dict]:
    out.mkdir(parents=True, exist_ok=True)
    entries: list[tuple[str, str, str]] = []  # (file, source, why)

    def add(name: str, source: str, why: str) -> None:
        entries.append((name, source, why))

    copy(src, out, 'chelsea.png')
    add('chelsea.png', 'chelsea.png', 'landscape RGB PNG')
    copy(src, out, 'rocket.jpg')
    add('rocket.jpg', 'rocket.jpg', 'landscape JPEG')
    copy(src, out, 'retina.jpg')
    add('retina.jpg', 'retina.jpg', 'large square JPEG (downscale by 5.5)')
    copy(src, out, 'camera.png')
    add('camera.png', 'camera.png', 'grayscale (L) PNG, square')
    copy(src, out, 'coins.png')
    add('coins.png', 'coins.png', 'grayscale (L) PNG, landscape')

    with Image.open(src / 'chelsea.png') as im:
        # 447x300 -> Resize(256) gives 381x256; (381-224)/2 = 78.5: Python round() -> 78, JS Math.round -> 79.
        im.crop((0, 0, 447, 300)).save(out / 'chelsea-447x300.png', optimize=True)
        add('chelsea-447x300.png', 'chelsea.png (crop)', 'center-crop offset 78.5 rounds half to even (78)')
        im.crop((150, 40, 250, 120)).save(out / 'small-chelsea.png', optimize=True)
        add('small-chelsea.png', 'chelsea.png (crop)', 'small (100x80): no badge; upscaled by Resize')

    with Image.open(src / 'astronaut.png') as im:
        im.convert('RGB').crop((120, 0, 420, 480)).save(out / 'astronaut-portrait.jpg', quality=90)
        add('astronaut-portrait.jpg', 'astronaut.png (crop, JPEG q90 by PIL)', 'portrait JPEG')

    with Image.open(src / 'coffee.png') as im:
        rgb = np.asarray(im.convert('RGB'))
        h, w = rgb.shape[:2]
        yy, xx = np.mgrid[0:h, 0:w]
        r = np.hypot((xx - w / 2) / (w / 2), (yy - h / 2) / (h / 2))
        # Soft vignette: opaque centre, alpha falling to 0 in the corners (colour kept underneath).
        alpha = np.clip(255 * (1.3 - r) / 0.6, 0, 255).astype(np.uint8)
        Image.fromarray(np.dstack([rgb, alpha]), 'RGBA').save(out / 'coffee-alpha.png', optimize=True)
        add('coffee-alpha.png', 'coffee.png (alpha added)', 'RGBA: convert("RGB") drops alpha, no compositing')

    with Image.open(src / 'hubble_deep_field.jpg') as im:
        pal = im.convert('RGB').crop((300, 250, 660, 550)).quantize(256)
        pal.save(out / 'hubble-palette.png', optimize=True)
        add('hubble-palette.png', 'hubble_deep_field.jpg (crop, 256-colour palette)', 'palette (P) PNG')

    with Image.open(src / 'camera.png') as im:
        im.crop((200, 60, 296, 180)).save(out / 'small-camera.png', optimize=True)
        add('small-camera.png', 'camera.png (crop)', 'small (96x120) grayscale portrait: no badge')

    index = []
    for name, source, why in entries:
        with Image.open(out / name) as im:
            w, h = im.size
            index.append({
                'file': name, 'width': w, 'height': h, 'mode': im.mode, 'format': im.format,
                'small': w < SMALL and h < SMALL, 'source': f'scikit-image data/{source}', 'why': why,
            })
    index.sort(key=lambda e: e['file'])
    (out / 'index.json').write_text(json.dumps(index, indent=2, sort_keys=True) + '\n')
    return index


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--src', type=Path, default=SKIMAGE)
    ap.add_argument('--out', type=Path, default=REPO / 'test' / 'fixtures' / 'photos')
    args = ap.parse_args()
    for e in make(args.src, args.out):
        print(f"{e['file']:24} {e['width']}x{e['height']} {e['mode']:4} {e['format']:4} small={e['small']}")


if __name__ == '__main__':
    main()

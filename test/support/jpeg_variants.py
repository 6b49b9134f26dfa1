#!/usr/bin/env python3
"""Writes JPEGs of every layout the browser's YCbCr-plane decode must finish exactly as libjpeg-turbo
does for PIL, into OUTDIR, with writers independent of the code under test (PIL and OpenCV):
chroma 4:4:4, 4:2:2 and 4:2:0, baseline and progressive, with and without restart markers, odd and
even sizes down to 1 x 1 (chroma rows of 1 or 2 samples take libjpeg's plain replication), quality
100 (levels near 0 and 255, so the range limit is reached) and 75; greyscale and CMYK (which the
browser does not hand over as YCbCr planes); and two truncated files (baseline and progressive).

  /usr/bin/python3 test/support/jpeg_variants.py OUTDIR

prints JSON: {"cases": [{"file", "case", "planes", "truncated"}]}; `planes` says whether the file is
YCbCr with 4:4:4, 4:2:2 or 4:2:0 chroma (the layouts Chromium hands over as I444/I422/I420).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageFile

PHOTOS = Path(__file__).resolve().parent.parent / 'fixtures' / 'photos'
SUBSAMPLING = {'4:4:4': 0, '4:2:2': 1, '4:2:0': 2}


def picture(w: int, h: int, seed: int) -> Image.Image:
    """A photo scaled to w x h with strong coloured noise: saturated chroma edges everywhere, so
    every rounding step of upsampling and colour conversion is exercised."""
    with Image.open(PHOTOS / 'chelsea.png') as im:
        base = np.asarray(im.convert('RGB').resize((w, h), Image.BICUBIC)).astype(np.int16)
    noise = np.random.default_rng(seed).integers(-90, 91, size=base.shape, dtype=np.int16)
    return Image.fromarray(np.clip(base + noise, 0, 255).astype(np.uint8), 'RGB')


def main() -> None:
    # Pillow 9.4 writes progressive JPEGs through a buffer of MAXBLOCK bytes at least; tiny pictures
    # at quality 100 otherwise fail with 'Suspension not allowed here'.
    ImageFile.MAXBLOCK = 1 << 22
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    cases: list[dict[str, object]] = []

    def add(file: str, case: str, planes: bool, truncated: bool = False) -> None:
        cases.append({'file': file, 'case': case, 'planes': planes, 'truncated': truncated})

    sizes = [(1, 1), (2, 3), (3, 2), (4, 5), (5, 4), (6, 7), (9, 6), (17, 33), (33, 17), (301, 203), (640, 427)]
    seed = 0
    for w, h in sizes:
        for name, sub in SUBSAMPLING.items():
            for progressive in (False, True):
                for quality in (100, 75):
                    if quality == 75 and (w, h) not in ((301, 203), (640, 427)):
                        continue
                    seed += 1
                    kind = 'progressive' if progressive else 'baseline'
                    file = f"{kind}-{name.replace(':', '')}-{w}x{h}-q{quality}.jpg"
                    picture(w, h, seed).save(out / file, quality=quality, subsampling=sub, progressive=progressive)
                    add(file, f'{kind} {name} {w}x{h} q{quality} (PIL)', True)

    # Restart markers (OpenCV's writer: libjpeg defaults, 4:2:0), baseline and progressive.
    for w, h, interval in ((301, 203, 1), (640, 427, 5), (33, 17, 2)):
        for progressive in (0, 1):
            seed += 1
            bgr = np.ascontiguousarray(np.asarray(picture(w, h, seed))[:, :, ::-1])
            kind = 'progressive' if progressive else 'baseline'
            file = f'restart-{kind}-{w}x{h}-every{interval}.jpg'
            params = [cv2.IMWRITE_JPEG_QUALITY, 92, cv2.IMWRITE_JPEG_RST_INTERVAL, interval, cv2.IMWRITE_JPEG_PROGRESSIVE, progressive]
            if not cv2.imwrite(str(out / file), bgr, params):
                raise SystemExit(f'cv2.imwrite failed for {file}')
            add(file, f'{kind} 4:2:0 {w}x{h}, a restart marker every {interval} MCUs (OpenCV)', True)

    grey = picture(301, 203, 99).convert('L')
    grey.save(out / 'grey-baseline.jpg', quality=90)
    add('grey-baseline.jpg', 'greyscale baseline (PIL)', False)
    grey.save(out / 'grey-progressive.jpg', quality=90, progressive=True)
    add('grey-progressive.jpg', 'greyscale progressive (PIL)', False)
    picture(301, 203, 98).convert('CMYK').save(out / 'cmyk.jpg', quality=90)
    add('cmyk.jpg', 'CMYK, Adobe marker (PIL)', False)

    for src, file in (('baseline-420-640x427-q75.jpg', 'truncated-baseline.jpg'), ('progressive-420-640x427-q75.jpg', 'truncated-progressive.jpg')):
        data = (out / src).read_bytes()
        (out / file).write_bytes(data[: len(data) * 2 // 3])
        add(file, f'{src} cut to two thirds', True, truncated=True)

    for c in cases:
        if c['truncated']:
            continue
        with Image.open(out / str(c['file'])) as im:
            layers = getattr(im, 'layer', None)
            c['mode'] = im.mode
            c['layers'] = layers
    print(json.dumps({'cases': cases}))


if __name__ == '__main__':
    main()

#!/usr/bin/env python3
"""OpenCV's cv2.resize(..., interpolation=cv2.INTER_LINEAR) for the parity tests, many at once.

  cv2_resize.py JOBS.json OUTDIR

JOBS.json: {"sources": [SOURCE...], "resizes": [{"source": ID, "to": [W, H]}...]}, where a SOURCE
is {"id": ID, "raw": PATH, "width": W, "height": H, "channels": C} (row-major uint8 pixels) or
{"id": ID, "image": PATH, "mode": "RGB" | "L" | "RGBA"} (decoded by PIL:
np.asarray(Image.open(PATH).convert(MODE)), as albumentations receives a picture).

Writes OUTDIR/source-<i>.u8 for image sources (their decoded pixels, for the TypeScript side) and
OUTDIR/resize-<j>.u8 for each resize, and prints JSON: the cv2 version, each source's
width/height/channels/file and each resize's width/height/channels/file.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

CHANNELS = {'L': 1, 'RGB': 3, 'RGBA': 4}


def load(source: dict, out: Path, i: int) -> tuple[np.ndarray, str | None]:
    if 'raw' in source:
        w, h, c = source['width'], source['height'], source['channels']
        a = np.fromfile(source['raw'], dtype=np.uint8)
        if a.size != w * h * c:
            raise SystemExit(f"{source['raw']}: {a.size} bytes, expected {w}x{h}x{c}")
        return (a.reshape(h, w) if c == 1 else a.reshape(h, w, c)), None
    mode = source.get('mode', 'RGB')
    if mode not in CHANNELS:
        raise SystemExit(f'unsupported mode {mode}')
    with Image.open(source['image']) as im:
        a = np.ascontiguousarray(np.asarray(im.convert(mode)))
    file = out / f'source-{i}.u8'
    a.tofile(file)
    return a, str(file)


def main() -> None:
    jobs = json.loads(Path(sys.argv[1]).read_text())
    out = Path(sys.argv[2])
    out.mkdir(parents=True, exist_ok=True)
    arrays: dict[str, np.ndarray] = {}
    sources = []
    for i, s in enumerate(jobs['sources']):
        a, file = load(s, out, i)
        arrays[s['id']] = a
        sources.append({'id': s['id'], 'width': a.shape[1], 'height': a.shape[0],
                        'channels': 1 if a.ndim == 2 else a.shape[2], 'file': file})
    resizes = []
    for j, r in enumerate(jobs['resizes']):
        w, h = r['to']
        b = cv2.resize(arrays[r['source']], (w, h), interpolation=cv2.INTER_LINEAR)
        file = out / f'resize-{j}.u8'
        np.ascontiguousarray(b).tofile(file)
        resizes.append({'width': b.shape[1], 'height': b.shape[0], 'channels': 1 if b.ndim == 2 else b.shape[2],
                        'file': str(file)})
    print(json.dumps({'cv2': cv2.__version__, 'sources': sources, 'resizes': resizes}))


if __name__ == '__main__':
    main()

#!/usr/bin/env python3
"""The reference pipeline: the published model's decode (np.asarray of PIL's image), OpenCV or PIL
resizing, albumentations' or torchvision's crop and normalisation, PyTorch scoring
(tools/realfake_ref/pipeline.py).

The TypeScript detector core is tested against this (test/parity/). Images are file paths, or raw
pixels written as `raw:PATH:WIDTH:HEIGHT:CHANNELS` (row-major uint8, 3 = RGB, 4 = RGBA; alpha is
dropped), e.g. pixels a browser decoded.

  reference.py decode IMAGE... --out DIR        the decoded RGB pixels: DIR/<name>.rgb + index.json
  reference.py resize IMAGE... --out DIR        the Resize output (RGB uint8): DIR/<name>.rgb + index.json
      [--to WxH]...                             resize to exactly WxH instead (once, or per image)
  reference.py preprocess IMAGE... --out DIR    Resize, CenterCrop, Normalize:
                                                DIR/<name>.f32 (3xHxW float32 little-endian) + index.json
      [--unnormalized]                          stop before Normalize (the cropped levels / 255)
  reference.py score --model DIR IMAGE...       JSON on stdout: logits, probabilities, pGenerated
  reference.py score-tensor --model DIR F32...  same, for preprocessed 3xHxW float32 tensors

Preprocessing comes from --model DIR's manifest, else --preset (default: laion-realfake, the
published model's recipe); --resize-mode, --size, --crop, --interpolation and --library override it.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402

from realfake_ref.defaults import PRESETS, preset  # noqa: E402
from realfake_ref.pipeline import (  # noqa: E402
    load_manifest, load_model, load_pixels, preprocess, published_pixels, resize_pixels, rgb_from_raw, score_tensors,
)


def open_rgb(spec: str) -> np.ndarray:
    if spec.startswith('raw:'):
        path, w, h, ch = spec[4:].rsplit(':', 3)
        return rgb_from_raw(Path(path).read_bytes(), int(w), int(h), int(ch))
    return load_pixels(spec)


def out_name(spec: str, ext: str) -> str:
    base = os.path.basename(spec[4:].rsplit(':', 3)[0] if spec.startswith('raw:') else spec)
    return base + ext


def preprocessing(args: argparse.Namespace) -> dict[str, Any]:
    pre = json.loads(json.dumps(load_manifest(args.model)['preprocessing'] if args.model else preset(args.preset)['preprocessing']))
    if args.resize_mode:
        pre['resize']['mode'] = args.resize_mode
    if args.interpolation:
        pre['resize']['interpolation'] = args.interpolation
    if args.library:
        pre['library'] = args.library
    if args.size:
        pre['resize']['size'] = args.size
    if args.crop:
        pre['centerCrop'] = args.crop
    return pre


def write_outputs(args: argparse.Namespace, ext: str, produce) -> None:
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    entries = []
    seen: set[str] = set()
    for spec in args.images:
        name = out_name(spec, ext)
        if name in seen:
            sys.exit(f'reference.py: two inputs share the output name {name}')
        seen.add(name)
        data, meta = produce(spec)
        (out / name).write_bytes(data)
        entries.append({'input': spec, 'file': name, **meta})
    index = {'command': args.cmd, 'images': entries}
    if args.cmd in ('preprocess', 'resize'):
        index['preprocessing'] = preprocessing(args)
    (out / 'index.json').write_text(json.dumps(index, indent=2, sort_keys=True) + '\n')


def cmd_decode(args: argparse.Namespace) -> None:
    def produce(spec: str):
        with Image.open(spec) as im:
            mode, fmt = im.mode, im.format
            rgb = published_pixels(im)
        return np.ascontiguousarray(rgb, dtype=np.uint8).tobytes(), {
            'width': rgb.shape[1], 'height': rgb.shape[0], 'channels': 3, 'mode': mode, 'format': fmt}
    write_outputs(args, '.rgb', produce)


def cmd_resize(args: argparse.Namespace) -> None:
    # --to: the same resampler to exactly (w, h), to test it on any sizes; given once
    # for all images, or once per image.
    sizes = [tuple(int(v) for v in t.lower().split('x')) for t in (args.to or [])]
    if sizes and len(sizes) not in (1, len(args.images)):
        sys.exit('reference.py resize: give --to once, or once per image')
    pre = preprocessing(args)
    todo = iter(range(len(args.images)))

    def produce(spec: str):
        i = next(todo)
        a = open_rgb(spec)
        if sizes:
            w, h = sizes[min(i, len(sizes) - 1)]
            exact = {**pre, 'resize': {**pre['resize'], 'mode': 'exact', 'width': w, 'height': h}}
            a = resize_pixels(a, exact)
        else:
            a = resize_pixels(a, pre)
        return np.ascontiguousarray(a, dtype=np.uint8).tobytes(), {'width': a.shape[1], 'height': a.shape[0], 'channels': 3}
    write_outputs(args, '.rgb', produce)


def cmd_preprocess(args: argparse.Namespace) -> None:
    pre = preprocessing(args)

    def produce(spec: str):
        t = preprocess(open_rgb(spec), pre, normalize=not args.unnormalized)
        assert t.dtype == torch.float32
        return t.numpy().astype('<f4').tobytes(), {'shape': list(t.shape), 'dtype': 'float32'}
    write_outputs(args, '.f32', produce)


def cmd_score(args: argparse.Namespace) -> None:
    manifest = load_manifest(args.model)
    pre = preprocessing(args)
    batch = torch.stack([preprocess(open_rgb(s), pre) for s in args.images])
    emit(manifest, args.images, batch)


def cmd_score_tensor(args: argparse.Namespace) -> None:
    manifest = load_manifest(args.model)
    c = int(manifest['preprocessing']['centerCrop'])
    batch = torch.stack([torch.from_numpy(np.fromfile(f, dtype='<f4').reshape(3, c, c).copy()) for f in args.images])
    emit(manifest, args.images, batch)


def emit(manifest: dict, names: list[str], batch: torch.Tensor) -> None:
    results = score_tensors(load_model(manifest), batch, manifest)
    print(json.dumps({'model': manifest['id'], 'labels': manifest['labels'], 'generatedIndex': manifest['generatedIndex'],
                      'results': [{'image': n, **r} for n, r in zip(names, results)]}, indent=2))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest='cmd', required=True)

    def common(p: argparse.ArgumentParser, out: bool, model_required: bool = False) -> None:
        p.add_argument('images', nargs='+', metavar='IMAGE')
        p.add_argument('--model', required=model_required, help='model folder (manifest.json)')
        p.add_argument('--preset', choices=sorted(PRESETS), default='laion-realfake',
                       help='the recipe when no --model is given (default: laion-realfake)')
        p.add_argument('--resize-mode', choices=['shorter-side', 'square'])
        p.add_argument('--interpolation', choices=['opencv-linear', 'bilinear'],
                       help="opencv-linear: cv2.resize INTER_LINEAR; bilinear: PIL's (antialiased)")
        p.add_argument('--library', choices=['albumentations', 'torchvision'],
                       help="whose CenterCrop offsets and Normalize arithmetic")
        p.add_argument('--size', type=int)
        p.add_argument('--crop', type=int)
        if out:
            p.add_argument('--out', required=True)

    common(sub.add_parser('decode', help="PIL convert('RGB') pixels"), out=True)
    p = sub.add_parser('resize', help='resized RGB pixels')
    common(p, out=True)
    p.add_argument('--to', metavar='WxH', action='append', help='resize to exactly WxH instead (once, or once per image)')
    p = sub.add_parser('preprocess', help='preprocessed tensors')
    common(p, out=True)
    p.add_argument('--unnormalized', action='store_true', help='stop before Normalize')
    common(sub.add_parser('score', help='PyTorch scores of images'), out=False, model_required=True)
    common(sub.add_parser('score-tensor', help='PyTorch scores of .f32 tensors'), out=False, model_required=True)
    args = ap.parse_args()
    {'decode': cmd_decode, 'resize': cmd_resize, 'preprocess': cmd_preprocess,
     'score': cmd_score, 'score-tensor': cmd_score_tensor}[args.cmd](args)


if __name__ == '__main__':
    main()

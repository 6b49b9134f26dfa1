#!/usr/bin/env python3
"""The reference pipeline: PIL decode + torchvision preprocessing + PyTorch scoring.

The TypeScript detector core is tested against this (test/parity/). Images are file paths, or raw
pixels written as `raw:PATH:WIDTH:HEIGHT:CHANNELS` (row-major uint8, 3 = RGB, 4 = RGBA; alpha is
dropped like PIL's convert('RGB')), e.g. pixels a browser decoded.

  reference.py decode IMAGE... --out DIR        PIL convert('RGB') pixels: DIR/<name>.rgb + index.json
  reference.py resize IMAGE... --out DIR        PIL's Resize output (RGB uint8): DIR/<name>.rgb + index.json
      [--to WxH]...                             plain Image.resize((W, H), BILINEAR) instead (once, or per image)
  reference.py preprocess IMAGE... --out DIR    Compose([Resize, CenterCrop, ToTensor, Normalize]):
                                                DIR/<name>.f32 (3xHxW float32 little-endian) + index.json
      [--unnormalized]                          stop before Normalize (0..1 values)
  reference.py score --model DIR IMAGE...       JSON on stdout: logits, probabilities, pGenerated
  reference.py score-tensor --model DIR F32...  same, for preprocessed 3xHxW float32 tensors

Preprocessing comes from --model DIR's manifest (default: the realfake recipe); --resize-mode,
--size and --crop override it (e.g. --resize-mode square).
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

from realfake_ref.pipeline import (  # noqa: E402
    DEFAULT_PREPROCESSING, build_transform, load_manifest, load_model, load_rgb, resize_transform,
    rgb_from_raw, score_tensors, unnormalized_transform,
)


def open_rgb(spec: str) -> Image.Image:
    if spec.startswith('raw:'):
        path, w, h, ch = spec[4:].rsplit(':', 3)
        return rgb_from_raw(Path(path).read_bytes(), int(w), int(h), int(ch))
    return load_rgb(spec)


def out_name(spec: str, ext: str) -> str:
    base = os.path.basename(spec[4:].rsplit(':', 3)[0] if spec.startswith('raw:') else spec)
    return base + ext


def preprocessing(args: argparse.Namespace) -> dict[str, Any]:
    pre = json.loads(json.dumps(load_manifest(args.model)['preprocessing'] if args.model else DEFAULT_PREPROCESSING))
    if args.resize_mode:
        pre['resize']['mode'] = args.resize_mode
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
            rgb = im.convert('RGB')
        return np.asarray(rgb, dtype=np.uint8).tobytes(), {
            'width': rgb.width, 'height': rgb.height, 'channels': 3, 'mode': mode, 'format': fmt}
    write_outputs(args, '.rgb', produce)


def cmd_resize(args: argparse.Namespace) -> None:
    # --to: plain Image.resize((w, h), BILINEAR), to test the resampler on any sizes; given once
    # for all images, or once per image.
    sizes = [tuple(int(v) for v in t.lower().split('x')) for t in (args.to or [])]
    if sizes and len(sizes) not in (1, len(args.images)):
        sys.exit('reference.py resize: give --to once, or once per image')
    tf = resize_transform(preprocessing(args))
    todo = iter(range(len(args.images)))

    def produce(spec: str):
        i = next(todo)
        im = open_rgb(spec)
        im = im.resize(sizes[min(i, len(sizes) - 1)], Image.BILINEAR) if sizes else tf(im)
        return np.asarray(im, dtype=np.uint8).tobytes(), {'width': im.width, 'height': im.height, 'channels': 3}
    write_outputs(args, '.rgb', produce)


def cmd_preprocess(args: argparse.Namespace) -> None:
    pre = preprocessing(args)
    tf = unnormalized_transform(pre) if args.unnormalized else build_transform(pre)

    def produce(spec: str):
        t = tf(open_rgb(spec))
        assert t.dtype == torch.float32
        return t.numpy().astype('<f4').tobytes(), {'shape': list(t.shape), 'dtype': 'float32'}
    write_outputs(args, '.f32', produce)


def cmd_score(args: argparse.Namespace) -> None:
    manifest = load_manifest(args.model)
    tf = build_transform(preprocessing(args))
    batch = torch.stack([tf(open_rgb(s)) for s in args.images])
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
        p.add_argument('--resize-mode', choices=['shorter-side', 'square'])
        p.add_argument('--size', type=int)
        p.add_argument('--crop', type=int)
        if out:
            p.add_argument('--out', required=True)

    common(sub.add_parser('decode', help="PIL convert('RGB') pixels"), out=True)
    p = sub.add_parser('resize', help="PIL's resized RGB pixels")
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

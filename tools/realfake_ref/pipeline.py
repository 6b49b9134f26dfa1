"""PIL decode, torchvision preprocessing and PyTorch scoring, driven by a model manifest."""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torchvision import transforms
from torchvision.transforms import InterpolationMode

from .defaults import DEFAULT_PREPROCESSING  # noqa: F401 - re-exported (tools/reference.py, fixture_model.py)

Manifest = dict[str, Any]


def load_manifest(model_dir: str | Path) -> Manifest:
    return json.loads((Path(model_dir) / 'manifest.json').read_text())


def load_rgb(path: str | Path) -> Image.Image:
    """The training-time decode: Image.open(p).convert('RGB') (alpha is dropped, not composited)."""
    with Image.open(path) as im:
        return im.convert('RGB')


def _resize_arg(pre: dict[str, Any]) -> int | tuple[int, int]:
    r = pre['resize']
    if r.get('interpolation', 'bilinear') != 'bilinear':
        raise ValueError(f"unsupported interpolation {r.get('interpolation')!r}")
    if r['mode'] == 'shorter-side':
        return int(r['size'])  # Resize(size): shorter side -> size
    if r['mode'] == 'square':
        return (int(r['size']), int(r['size']))
    raise ValueError(f"unknown resize mode {r['mode']!r}")


def resize_transform(pre: dict[str, Any]) -> transforms.Resize:
    return transforms.Resize(_resize_arg(pre), interpolation=InterpolationMode.BILINEAR)


def build_transform(pre: dict[str, Any]) -> transforms.Compose:
    """Exactly Compose([Resize, CenterCrop, ToTensor, Normalize]) as used in training."""
    return transforms.Compose([
        resize_transform(pre),
        transforms.CenterCrop(int(pre['centerCrop'])),
        transforms.ToTensor(),
        transforms.Normalize(pre['mean'], pre['std']),
    ])


def unnormalized_transform(pre: dict[str, Any]) -> transforms.Compose:
    """Resize + CenterCrop + ToTensor: the 0..1 values before Normalize."""
    return transforms.Compose([resize_transform(pre), transforms.CenterCrop(int(pre['centerCrop'])), transforms.ToTensor()])


def rgb_from_raw(data: bytes, width: int, height: int, channels: int = 3) -> Image.Image:
    """Raw row-major RGB (3) or RGBA (4) bytes -> PIL RGB image (alpha dropped like convert('RGB'))."""
    arr = np.frombuffer(data, dtype=np.uint8)
    if arr.size != width * height * channels:
        raise ValueError(f'expected {width * height * channels} bytes, got {arr.size}')
    arr = arr.reshape(height, width, channels)[:, :, :3]
    return Image.fromarray(np.ascontiguousarray(arr), 'RGB')


def _fixture_seed(manifest: Manifest) -> int:
    m = re.search(r'seed=(\d+)', manifest['source']['origin'])
    if not m:
        raise ValueError('fixture manifest: source.origin names no seed=N')
    return int(m.group(1))


def load_model(manifest: Manifest) -> torch.nn.Module:
    """The PyTorch model a manifest describes. Fixtures are rebuilt from their seed; a real
    checkpoint loader plugs in here (the ONNX file is never the reference)."""
    if manifest.get('fixture'):
        from .fixture import build_fixture_model
        return build_fixture_model(_fixture_seed(manifest))
    raise NotImplementedError(
        f"no PyTorch loader for non-fixture model {manifest.get('id')!r} yet: add one in tools/realfake_ref/pipeline.py")


@torch.no_grad()
def score_tensors(model: torch.nn.Module, batch: torch.Tensor, manifest: Manifest) -> list[dict[str, Any]]:
    logits = model(batch).to(torch.float64)
    probs = torch.softmax(logits, dim=1)
    gi = int(manifest['generatedIndex'])
    return [
        {
            'logits': [float(x) for x in lg],
            'probabilities': [float(x) for x in pr],
            'pGenerated': float(pr[gi]),
        }
        for lg, pr in zip(logits, probs)
    ]

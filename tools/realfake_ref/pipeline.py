"""The reference pipeline, driven by a model manifest: decode as the published code does, resize
(OpenCV or PIL), centre-crop and normalise (albumentations' or torchvision's arithmetic), score
with PyTorch. Written from the libraries' own behaviour, independently of the TypeScript in
src/detector/, which the tests hold to it.
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from PIL import Image
from torchvision import transforms
from torchvision.transforms import InterpolationMode

Manifest = dict[str, Any]
Pre = dict[str, Any]


def load_manifest(model_dir: str | Path) -> Manifest:
    return json.loads((Path(model_dir) / 'manifest.json').read_text())


def published_pixels(im: Image.Image) -> np.ndarray:
    """The HxWx3 uint8 array the published code hands to its transforms.

    realfake/data.py reads `np.asarray(PIL.Image.open(path))` (no EXIF rotation, no colour
    profile), expands grey to three channels and drops alpha: that is followed for the modes where
    it is well defined (L, RGB, RGBA). For the others np.asarray would give the model something that
    is not the picture a person sees (palette indices, CMYK ink, 16-bit values read as 0..255
    levels, two-channel grey+alpha), so they are converted with PIL's convert('RGB'), the picture
    PIL shows, except 16-bit grey (below)."""
    if im.format == 'PNG' and im.mode in ('I', 'I;16', 'I;16B'):
        # 16-bit grey PNG (mode I in Pillow 9, I;16 in later ones): convert('RGB') clips its 0..65535
        # levels to 255, a white picture. Chromium, the browser a person sees it in, keeps each
        # level's high byte (v >> 8, measured: test/parity/decode-cases.test.ts), as PIL itself does
        # for 16-bit RGB and RGBA PNGs; so does the reference.
        grey = (np.asarray(im).astype(np.uint32) >> 8).astype(np.uint8)
        return np.repeat(grey[:, :, None], 3, axis=2)
    if im.mode in ('L', 'RGB', 'RGBA'):
        a = np.asarray(im)
        if a.ndim == 2:
            a = np.repeat(a[:, :, None], 3, axis=2)  # ExpandChannels
        return np.ascontiguousarray(a[:, :, :3])  # RGBAtoRGB: the alpha channel is dropped
    return np.asarray(im.convert('RGB'))


def load_pixels(path: str | Path) -> np.ndarray:
    with Image.open(path) as im:
        return published_pixels(im)


def rgb_from_raw(data: bytes, width: int, height: int, channels: int = 3) -> np.ndarray:
    """Raw row-major RGB (3) or RGBA (4) bytes -> HxWx3 uint8 (alpha dropped)."""
    arr = np.frombuffer(data, dtype=np.uint8)
    if arr.size != width * height * channels:
        raise ValueError(f'expected {width * height * channels} bytes, got {arr.size}')
    return np.ascontiguousarray(arr.reshape(height, width, channels)[:, :, :3])


def resized_size(width: int, height: int, pre: Pre) -> tuple[int, int]:
    """(width, height) after the manifest's resize: both sides to N, or torchvision's Resize(N)."""
    r = pre['resize']
    if r['mode'] == 'exact':  # tools/reference.py resize --to WxH
        return int(r['width']), int(r['height'])
    n = int(r['size'])
    if r['mode'] == 'square':
        return n, n
    if r['mode'] == 'shorter-side':
        short, long = min(width, height), max(width, height)
        new_long = int(n * long / short)
        return (n, new_long) if width <= height else (new_long, n)
    raise ValueError(f"unknown resize mode {r['mode']!r}")


def resize_pixels(a: np.ndarray, pre: Pre) -> np.ndarray:
    w, h = resized_size(a.shape[1], a.shape[0], pre)
    interpolation = pre['resize'].get('interpolation', 'bilinear')
    if interpolation == 'opencv-linear':
        return cv2.resize(a, (w, h), interpolation=cv2.INTER_LINEAR)
    if interpolation == 'bilinear':  # PIL's, through torchvision as the training recipe calls it
        size = (h, w)
        return np.asarray(transforms.Resize(size, interpolation=InterpolationMode.BILINEAR)(Image.fromarray(a, 'RGB')))
    raise ValueError(f'unsupported interpolation {interpolation!r}')


def library(pre: Pre) -> str:
    lib = pre.get('library', 'torchvision')
    if lib not in ('torchvision', 'albumentations'):
        raise ValueError(f'unknown preprocessing library {lib!r}')
    return lib


def crop_and_normalize(a: np.ndarray, pre: Pre, normalize: bool = True) -> torch.Tensor:
    """CenterCrop + (ToTensor/Normalize or albumentations' Normalize) -> 3xCxC float32.
    Without `normalize`: the cropped levels / 255 (ToTensor's values), for either library."""
    c = int(pre['centerCrop'])
    if library(pre) == 'torchvision':
        t = transforms.ToTensor()(transforms.CenterCrop(c)(Image.fromarray(a, 'RGB')))
        return transforms.Normalize(pre['mean'], pre['std'])(t) if normalize else t
    # albumentations CenterCrop: y1 = (height - crop) // 2, x1 = (width - crop) // 2; it refuses
    # crops larger than the image.
    h, w = a.shape[:2]
    if c > h or c > w:
        raise ValueError(f'albumentations CenterCrop({c}) of a {w}x{h} image')
    y0, x0 = (h - c) // 2, (w - c) // 2
    crop = a[y0:y0 + c, x0:x0 + c]
    if not normalize:
        return torch.from_numpy(np.ascontiguousarray(crop.transpose(2, 0, 1))).to(torch.float32) / 255
    # albumentations.augmentations.functional.normalize, in float32 throughout.
    mean = np.array(pre['mean'], dtype=np.float32)
    mean *= 255.0
    std = np.array(pre['std'], dtype=np.float32)
    std *= 255.0
    denominator = np.reciprocal(std, dtype=np.float32)
    x = crop.astype(np.float32)
    x -= mean
    x *= denominator
    return torch.from_numpy(np.ascontiguousarray(x.transpose(2, 0, 1)))  # ToTensorV2


def preprocess(a: np.ndarray, pre: Pre, normalize: bool = True) -> torch.Tensor:
    """The model input (3xCxC float32) from HxWx3 uint8 pixels, as the manifest's recipe computes it."""
    return crop_and_normalize(resize_pixels(a, pre), pre, normalize)


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

"""Constants of the model format that the command-line tools need before (and without) importing
torch: presets, argument defaults and limits. realfake_ref.pipeline / realfake_ref.export re-export them."""
from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

# The committed test model's id and its folder under models/, written once for Python and
# TypeScript: tools/fixture.json (also read by tools/model-dir.ts and vite.config.ts).
_FIXTURE = json.loads((Path(__file__).resolve().parent.parent / 'fixture.json').read_text())
FIXTURE_ID: str = _FIXTURE['id']
FIXTURE_FOLDER: str = _FIXTURE['folder']

# The published checkpoint (Hugging Face realfakerepo/realfake), read from its own code. Every fact
# carries where it comes from, and the manifest keeps both (manifest.preset).
LAION_REALFAKE: dict[str, Any] = {
    'name': 'laion-realfake',
    'labels': ['real', 'fake'],
    'generatedIndex': 1,
    'preprocessing': {
        # albumentations Resize(256, 256): both sides to 256 (aspect ratio not kept) with
        # cv2.resize(..., INTER_LINEAR), which does not antialias when shrinking.
        'resize': {'mode': 'square', 'size': 256, 'interpolation': 'opencv-linear'},
        'centerCrop': 224,
        'mean': [0.485, 0.456, 0.406],
        'std': [0.229, 0.224, 0.225],
        # albumentations' CenterCrop offsets ((size - crop) // 2) and Normalize arithmetic
        # ((x - mean * 255) * float32(1 / (std * 255)), in float32).
        'library': 'albumentations',
    },
    'sources': {
        'labels': 'realfake/config.py: LABELS = {"real": 0, "fake": 1} (output index 1 means generated)',
        'decoding': 'realfake/data.py: np.asarray(PIL.Image.open(path)) (no EXIF rotation, no colour profile), '
                    'ExpandChannels() (grey to three channels), RGBAtoRGB() (alpha dropped)',
        'preprocessing': 'realfake/data.py, evaluation transforms: A.Resize(256, 256) (OpenCV INTER_LINEAR, '
                         "albumentations' default), A.CenterCrop(224, 224), A.Normalize() (ImageNet mean/std, "
                         'max_pixel_value 255), ToTensorV2()',
    },
}

# A generic torchvision recipe, for checkpoints that are not the published one: Resize(256) on the
# shorter side with PIL's antialiased bilinear filter, CenterCrop(224), ToTensor, Normalize.
TORCHVISION: dict[str, Any] = {
    'name': 'torchvision',
    'labels': ['real', 'fake'],
    'generatedIndex': 1,
    'preprocessing': {
        'resize': {'mode': 'shorter-side', 'size': 256, 'interpolation': 'bilinear'},
        'centerCrop': 224,
        'mean': [0.485, 0.456, 0.406],
        'std': [0.229, 0.224, 0.225],
        'library': 'torchvision',
    },
    'sources': {
        'labels': 'assumed: index 1 means generated (the published model\'s order); check your checkpoint',
        'decoding': "PIL Image.open(path).convert('RGB') (no EXIF rotation, no colour profile)",
        'preprocessing': 'torchvision Resize(256), CenterCrop(224), ToTensor(), Normalize(ImageNet mean/std)',
    },
}

PRESETS: dict[str, dict[str, Any]] = {p['name']: p for p in (LAION_REALFAKE, TORCHVISION)}


def preset(name: str) -> dict[str, Any]:
    """A deep copy of a named preset (callers change their copy)."""
    return copy.deepcopy(PRESETS[name])


OPSET = 17
PROBE_BATCH = 2
# Probe tolerances written into the manifest: the browser compares its backend's logits with them.
PROBE_TOLERANCE = {'fp32': 1e-3, 'fp16': 5e-2, 'int8': 0.25}
# onnxruntime-node (CPU) on an fp16 variant vs PyTorch fp32, at conversion and fixture check: half the
# browser's allowance, leaving the other half to backends that round more (WebGPU computes in fp16).
FP16_CHECK_TOLERANCE = PROBE_TOLERANCE['fp16'] / 2
# onnxruntime-node on an int8 variant vs PyTorch fp32 at conversion: half the browser's allowance,
# as for fp16 (WebAssembly runs the same integer kernels; the rest is float rounding).
INT8_CHECK_TOLERANCE = PROBE_TOLERANCE['int8'] / 2
# PyTorch vs onnxruntime-node on the exported fp32 graph.
PARITY_TOLERANCE = 1e-4

"""Constants of the model format that the command-line tools need before (and without) importing
torch: argument defaults and limits. realfake_ref.pipeline / realfake_ref.export re-export them."""
from __future__ import annotations

from typing import Any

# What the published realfake model uses; also what models/fixture/manifest.json says.
DEFAULT_PREPROCESSING: dict[str, Any] = {
    'resize': {'mode': 'shorter-side', 'size': 256, 'interpolation': 'bilinear'},
    'centerCrop': 224,
    'mean': [0.485, 0.456, 0.406],
    'std': [0.229, 0.224, 0.225],
}
# The published realfake model's class order: index 0 "fake" is the generated class.
DEFAULT_LABELS = ['fake', 'real']
DEFAULT_GENERATED_INDEX = 0

OPSET = 17
PROBE_BATCH = 2
# Probe tolerances written into the manifest: the browser compares its backend's logits with them.
PROBE_TOLERANCE = {'fp32': 1e-3, 'fp16': 5e-2}
# onnxruntime-node (CPU) on an fp16 variant vs PyTorch fp32, at conversion and fixture check: half the
# browser's allowance, leaving the other half to backends that round more (WebGPU computes in fp16).
FP16_CHECK_TOLERANCE = PROBE_TOLERANCE['fp16'] / 2
# PyTorch vs onnxruntime-node on the exported fp32 graph.
PARITY_TOLERANCE = 1e-4

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

# The presets (the published checkpoint, read from its own code, and a generic torchvision recipe),
# every fact with where it comes from; the manifest keeps both (manifest.preset). One JSON file,
# also read by the in-browser checkpoint import (src/shared/checkpoint-import.ts).
_PRESETS = json.loads((Path(__file__).resolve().parents[2] / 'src' / 'detector' / 'presets.json').read_text())['presets']
LAION_REALFAKE: dict[str, Any] = next(p for p in _PRESETS if p['name'] == 'laion-realfake')
TORCHVISION: dict[str, Any] = next(p for p in _PRESETS if p['name'] == 'torchvision')

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

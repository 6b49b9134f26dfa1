"""ONNX export, the fp16 variant, the PyTorch-vs-onnxruntime parity check, and the manifest.

Shared by tools/fixture_model.py (the test fixture) and tools/convert.py (real checkpoints), so the
two write the same kind of file with the same manifest schema (src/detector/manifest.ts).
"""
from __future__ import annotations

import json
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .defaults import OPSET, PROBE_BATCH, PROBE_TOLERANCE
from .files import sha256_file
from .fixture import probe_input
INPUT_NAME = 'input'
OUTPUT_NAME = 'logits'
# Operators whose second input is a weight worth storing as fp16 (convolutions and the 1x1 MLPs,
# which the exporter writes as MatMul / Gemm): >99% of a ConvNeXt's bytes.
_FP16_WEIGHT_OPS = {'Conv', 'MatMul', 'Gemm'}

REPO = Path(__file__).resolve().parents[2]


def export_onnx(model: torch.nn.Module, path: Path, crop: int = 224) -> None:
    """fp32, opset 17, input `input` [batch, 3, crop, crop] -> output `logits` [batch, classes]."""
    dummy = torch.from_numpy(probe_input(1, crop, crop))
    torch.onnx.export(
        model, dummy, str(path),
        opset_version=OPSET,
        input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
        dynamic_axes={INPUT_NAME: {0: 'batch'}, OUTPUT_NAME: {0: 'batch'}},
        do_constant_folding=True,
    )


def cast_weights_to_fp16(src: Path, dst: Path) -> int:
    """Stores the conv / matmul weights of an fp32 graph as fp16, each followed by a Cast back to fp32.

    The download halves while every operator still computes in fp32 with fp32 input and output, so
    the graph runs on any onnxruntime backend (CPU and WASM have few fp16 kernels) and the
    extension feeds it the same Float32Array. Returns the number of tensors stored as fp16.
    """
    import onnx  # only here: importing it costs every other tool half a second
    from onnx import TensorProto, helper, numpy_helper

    model = onnx.load(str(src))
    graph = model.graph
    weights = {n.input[1] for n in graph.node if n.op_type in _FP16_WEIGHT_OPS and len(n.input) > 1}
    kept, casts = [], []
    for init in graph.initializer:
        if init.name in weights and init.data_type == TensorProto.FLOAT:
            half = numpy_helper.from_array(numpy_helper.to_array(init).astype(np.float16), init.name + '__fp16')
            kept.append(half)
            casts.append(helper.make_node('Cast', [half.name], [init.name], to=TensorProto.FLOAT, name=init.name + '__cast'))
        else:
            kept.append(init)
    del graph.initializer[:]
    graph.initializer.extend(kept)
    nodes = list(graph.node)
    del graph.node[:]
    graph.node.extend(casts + nodes)
    onnx.checker.check_model(model)
    onnx.save(model, str(dst))
    return len(casts)


def _write_f32(path: Path, x: np.ndarray) -> None:
    path.write_bytes(np.ascontiguousarray(x, dtype='<f4').tobytes())


def run_onnx_node(onnx_path: Path, x: np.ndarray | None = None, batch: int = PROBE_BATCH) -> np.ndarray:
    """Logits from onnxruntime-node through the project's own runner (tools/run_onnx.mjs): of the
    float32 NCHW tensor `x`, or of the probe input (src/detector/probe.ts) when `x` is None."""
    with tempfile.TemporaryDirectory(prefix='rfl-ort-') as tmp:
        args = ['node', str(REPO / 'tools' / 'run_onnx.mjs'), str(onnx_path)]
        if x is None:
            args.append(str(batch))
        else:
            inp = Path(tmp) / 'input.f32'
            _write_f32(inp, x)
            args += ['--input', str(inp), '--shape', ','.join(map(str, x.shape))]
        r = subprocess.run(args, capture_output=True, text=True, cwd=REPO)
    if r.returncode != 0:
        lines = [ln for ln in r.stderr.splitlines() if 'rror' in ln] or r.stderr.splitlines() or ['(no output)']
        raise RuntimeError(f'onnxruntime-node could not run {onnx_path.name}: {lines[0].strip()}')
    out = json.loads(r.stdout)
    return np.asarray(out['logits'], dtype=np.float64).reshape(out['dims'])


def parity_inputs(crop: int, seed: int = 0, batch: int = 3) -> np.ndarray:
    """Random normal inputs plus the probe input: the same tensors go through both runtimes.
    Their batch (5) differs from the export's (1), so the dynamic batch axis is exercised too."""
    g = torch.Generator().manual_seed(seed)
    rnd = torch.randn((batch, 3, crop, crop), generator=g, dtype=torch.float32).numpy()
    return np.concatenate([rnd, probe_input(PROBE_BATCH, crop, crop)])


@torch.no_grad()
def torch_logits(model: torch.nn.Module, x: np.ndarray) -> np.ndarray:
    return model(torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))).to(torch.float64).numpy()


@torch.no_grad()
def probe_logits(model: torch.nn.Module, crop: int = 224) -> list[float]:
    """Reference logits of the probe input, as the manifest stores them (row-major)."""
    return [float(v) for v in model(torch.from_numpy(probe_input(PROBE_BATCH, crop, crop))).reshape(-1)]


def softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def build_manifest(*, model_id: str, name: str, version: str, fixture: bool, description: str, origin: str,
                   source_sha256: str | None, onnx_path: Path, precision: str, labels: list[str],
                   generated_index: int, preprocessing: dict[str, Any], probe: list[float]) -> dict[str, Any]:
    """The manifest (schema: src/detector/manifest.ts parseManifest)."""
    crop = int(preprocessing['centerCrop'])
    return {
        'schemaVersion': 1,
        'id': model_id,
        'name': name,
        'version': version,
        'fixture': fixture,
        'source': {'description': description, 'origin': origin, 'sha256': source_sha256},
        'onnx': {'file': onnx_path.name, 'sha256': sha256_file(onnx_path), 'bytes': onnx_path.stat().st_size, 'opset': OPSET},
        'precision': precision,
        'input': {'name': INPUT_NAME, 'shape': ['batch', 3, crop, crop]},
        'output': {'name': OUTPUT_NAME},
        'labels': labels,
        'generatedIndex': generated_index,
        'preprocessing': preprocessing,
        'probe': {'batch': PROBE_BATCH, 'logits': probe, 'tolerance': PROBE_TOLERANCE[precision]},
    }

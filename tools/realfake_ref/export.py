"""ONNX export, the fp16 variant (fp16 compute), the PyTorch-vs-onnxruntime parity check, and the manifest.

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


def convert_to_fp16(src: Path, dst: Path) -> dict[str, int]:
    """Writes an fp16-compute copy of an fp32 graph: every float tensor becomes float16 except the
    graph's own input and output, which stay float32 (a Cast after `input`), and the classifier head,
    which stays float32 (see below).

    Why compute in fp16, not only store fp16 weights: on WebGPU with the adapter feature
    `shader-f16` the extension runs this variant, and there fp16 arithmetic halves the memory
    traffic of every activation (the bulk of a ConvNeXt's run time), not just the download. The
    public interface does not change: the same names, the same Float32Array in and out. Backends
    without fp16 kernels for an op still run the file: onnxruntime's CPU EP (and WASM, the same
    kernels) inserts Casts around those ops (there: Conv, MatMul, Gemm, Erf, the element-wise ops;
    LayerNormalization and Transpose do run in fp16), so it rounds less than a full-fp16 backend.

    The classifier head stays float32: the Gemm (or MatMul and its bias Add) that produces `logits`,
    found structurally (the producer of `logits`, back through at most one Add), with its weight
    and bias, behind a Cast fp16 -> fp32 of its input (the final LayerNorm/Flatten's output); it
    writes `logits` itself, so no Cast before the output. Why: an f16 shader that accumulates in
    its data type sums the head's 1536-wide dot product (ConvNeXt-Large) in fp16, and that rounding
    dominated the fp16 variant's logit error (all-fp16 compute emulated on two random
    ConvNeXt-Large checkpoints: probe max|Δlogit| 2.7e-2 and 5.2e-2 with the head in fp16, 1.1e-2
    with it in fp32; the error grows with the logits), while the head is 0.0015% of the FLOPs and
    12 KB of float32 weights (1536 x 2): no measurable cost in time or size. A graph whose `logits`
    come from anything else is refused (ValueError).

    What changes: float initializers and float tensor attributes (Constant / ConstantOfShape
    values), Cast targets, and value_info types. Integer tensors (shape constants) and scalar float
    attributes (LayerNormalization epsilon, Gemm alpha/beta) stay as they are: attributes are fp32
    by definition, whatever the tensors' type. A float value beyond fp16's range (65504) is refused
    rather than turned into inf. The result is checked by onnx.checker and by strict shape
    inference, which must find no float32 tensor inside the graph but the head's. Returns counts of
    what was converted (for the log); `head_fp32`: the head's initializers kept as float32.
    """
    import onnx  # only here: importing it costs every other tool half a second
    from onnx import TensorProto, helper, numpy_helper

    FLOAT, HALF = TensorProto.FLOAT, TensorProto.FLOAT16

    def to_half(t: onnx.TensorProto) -> onnx.TensorProto:
        x = numpy_helper.to_array(t)
        with np.errstate(over='ignore'):  # overflow is reported below, by name
            half = x.astype(np.float16)
        if not np.array_equal(np.isfinite(half), np.isfinite(x)):
            raise ValueError(f'{t.name!r} holds values beyond fp16 range (max |x| {np.nanmax(np.abs(x)):.4g})')
        return numpy_helper.from_array(half, t.name)

    model = onnx.load(str(src))
    graph = model.graph
    counts = {'initializers': 0, 'constants': 0, 'casts': 0, 'head_fp32': 0}
    initializer_names = {t.name for t in graph.initializer}

    # The classifier head, before anything changes: `logits` <- Gemm, or <- MatMul, or <- Add <- MatMul.
    producer = {v: n for n in graph.node for v in n.output}
    consumers: dict[str, list[onnx.NodeProto]] = {}
    for n in graph.node:
        for v in n.input:
            consumers.setdefault(v, []).append(n)
    out_node = producer.get(OUTPUT_NAME)
    if out_node is None or OUTPUT_NAME not in {v.name for v in graph.output}:
        raise ValueError(f'no node produces the graph output {OUTPUT_NAME!r}')
    head_nodes: list[onnx.NodeProto]
    if out_node.op_type in ('Gemm', 'MatMul'):
        head_nodes = [out_node]
    elif out_node.op_type == 'Add':
        mm = [producer[v] for v in out_node.input if v in producer and producer[v].op_type == 'MatMul']
        bias = [v for v in out_node.input if v in initializer_names]
        if len(mm) != 1 or len(bias) != 1 or len(consumers[mm[0].output[0]]) != 1:
            raise ValueError(f'{OUTPUT_NAME!r} comes from an Add that is not MatMul + bias: no classifier head to keep in fp32')
        head_nodes = [mm[0], out_node]
    else:
        raise ValueError(f'{OUTPUT_NAME!r} comes from {out_node.op_type} {out_node.name!r}, not a Gemm/MatMul '
                         '(+ Add) classifier head')
    head_ids = {id(n) for n in head_nodes}
    head_x = head_nodes[0].input[0]  # the activation entering the head (Flatten's output)
    head_params = [v for n in head_nodes for v in n.input if v in initializer_names]
    inner = {v for n in head_nodes[:-1] for v in n.output}  # MatMul -> Add, when separate
    if head_x in initializer_names or any(v not in initializer_names and v != head_x and v not in inner
                                          for n in head_nodes for v in n.input if v):
        raise ValueError('the classifier head takes inputs other than one activation and its initializers')
    for v in head_params:
        if any(id(n) not in head_ids for n in consumers[v]):
            raise ValueError(f'the classifier head\'s {v!r} is also used outside it')
    head_params_set = set(head_params)

    for i, t in enumerate(graph.initializer):
        if t.data_type == FLOAT:
            if t.name in head_params_set:
                counts['head_fp32'] += 1
                continue
            graph.initializer[i].CopyFrom(to_half(t))
            counts['initializers'] += 1
    for node in graph.node:
        for a in node.attribute:
            if a.type == onnx.AttributeProto.GRAPH or a.type == onnx.AttributeProto.GRAPHS:
                raise ValueError(f'{node.op_type} node {node.name!r} has a subgraph: not supported by the fp16 conversion')
            if a.type == onnx.AttributeProto.TENSOR and a.t.data_type == FLOAT:
                a.t.CopyFrom(to_half(a.t))
                counts['constants'] += 1
            elif node.op_type == 'Cast' and a.name == 'to' and a.i == FLOAT:
                a.i = HALF
                counts['casts'] += 1
            elif node.op_type == 'Constant' and a.name in ('value_float', 'value_floats'):
                raise ValueError(f'Constant {node.name!r} uses {a.name}, which is always float32')
    # Intermediate tensors, and graph inputs that are initializers (older exporters list them), but the head's.
    for vi in list(graph.value_info) + [v for v in graph.input if v.name in initializer_names]:
        if vi.type.tensor_type.elem_type == FLOAT and vi.name not in head_params_set and vi.name not in inner:
            vi.type.tensor_type.elem_type = HALF

    # float32 at the edges: `input` -> Cast -> (fp16 graph) -> Cast -> head (fp32) -> `logits`, same public names.
    taken = {n.name for n in graph.node} | {v for n in graph.node for v in (*n.input, *n.output)}

    def fresh(name: str) -> str:
        while name in taken:
            name += '_'
        taken.add(name)
        return name

    def rename(old: str, new: str) -> None:
        for node in graph.node:
            node.input[:] = [new if v == old else v for v in node.input]
            node.output[:] = [new if v == old else v for v in node.output]

    head: list[onnx.NodeProto] = []
    tail: list[onnx.NodeProto] = []
    for v in graph.input:
        if v.name not in initializer_names and v.type.tensor_type.elem_type == FLOAT:
            half = fresh(v.name + '_fp16')
            rename(v.name, half)
            head.append(helper.make_node('Cast', [v.name], [half], to=HALF, name=fresh(v.name + '_to_fp16')))
    head_out = head_nodes[-1].output[0]
    for v in graph.output:
        if v.type.tensor_type.elem_type == FLOAT and v.name != head_out:
            half = fresh(v.name + '_fp16')
            rename(v.name, half)
            tail.append(helper.make_node('Cast', [half], [v.name], to=FLOAT, name=fresh(v.name + '_to_fp32')))
    head_x32 = fresh(head_x + '_fp32')
    head_nodes[0].input[0] = head_x32
    to_head = helper.make_node('Cast', [head_x], [head_x32], to=FLOAT, name=fresh('classifier_head_to_fp32'))
    nodes: list[onnx.NodeProto] = head
    for n in graph.node:
        if n is head_nodes[0]:
            nodes.append(to_head)
        nodes.append(n)
    nodes += tail
    del graph.node[:]
    graph.node.extend(nodes)

    onnx.checker.check_model(model, full_check=True)
    inferred = onnx.shape_inference.infer_shapes(model, check_type=True, strict_mode=True)
    edges = {v.name for v in (*graph.input, *graph.output)}
    allowed = {head_x32} | inner  # the head's float32 activations; its weights are checked below
    left = [v.name for v in inferred.graph.value_info
            if v.type.tensor_type.elem_type == FLOAT and v.name not in edges and v.name not in allowed]
    if left:
        raise AssertionError(f'{len(left)} tensor(s) still float32 after the fp16 conversion, e.g. {left[0]!r}')
    f32 = {t.name for t in graph.initializer if t.data_type == FLOAT}
    if f32 != head_params_set:
        raise AssertionError(f'float32 initializers {sorted(f32)} after the fp16 conversion, expected the head\'s '
                             f'{sorted(head_params_set)}')
    onnx.save(model, str(dst))
    return counts


def _write_f32(path: Path, x: np.ndarray) -> None:
    path.write_bytes(np.ascontiguousarray(x, dtype='<f4').tobytes())


def run_onnx_node(onnx_path: Path, x: np.ndarray | None = None, batch: int = PROBE_BATCH, each: bool = False) -> np.ndarray:
    """Logits from onnxruntime-node through the project's own runner (tools/run_onnx.mjs; an int8
    graph on onnxruntime-web's WebAssembly where the native int8 kernel is not exact on this CPU,
    tools/exact-int8.ts): of the float32 NCHW tensor `x`, or of the probe input
    (src/detector/probe.ts) when `x` is None.
    `each`: one image per run (an int8 graph quantises activations per tensor, i.e. per batch)."""
    with tempfile.TemporaryDirectory(prefix='rfl-ort-') as tmp:
        args = ['node', str(REPO / 'tools' / 'run_onnx.mjs'), str(onnx_path)]
        if x is None:
            args.append(str(batch))
        else:
            inp = Path(tmp) / 'input.f32'
            _write_f32(inp, x)
            args += ['--input', str(inp), '--shape', ','.join(map(str, x.shape))]
        if each:
            args.append('--each')
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
                   source_sha256: str | None, onnx_path: Path, precision: str, preset: dict[str, Any],
                   probe: list[float], variant_of: str | None = None, agreement: dict[str, Any] | None = None) -> dict[str, Any]:
    """The manifest (schema: src/detector/manifest.ts parseManifest). `preset`: labels,
    generatedIndex, preprocessing, and the preset's name and where each fact comes from
    (realfake_ref.defaults). `variant_of`: for a model converted from another one (the fp16
    variant), that model's id: same weights, preprocessing and labels, another precision. Absent
    from the manifest when None. `agreement`: for the int8 variant, how closely its scores follow
    that model's, measured at conversion (realfake_ref.int8.agreement); absent when None."""
    preprocessing = preset['preprocessing']
    crop = int(preprocessing['centerCrop'])
    manifest = {
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
        'labels': list(preset['labels']),
        'generatedIndex': int(preset['generatedIndex']),
        'preprocessing': preprocessing,
        'preset': {'name': preset['name'], 'sources': dict(preset['sources'])},
        'probe': {'batch': PROBE_BATCH, 'logits': probe, 'tolerance': PROBE_TOLERANCE[precision]},
    }
    if variant_of is not None:
        if variant_of == model_id:
            raise ValueError(f'model {model_id!r} cannot be a variant of itself')
        manifest['variantOf'] = variant_of
    if agreement is not None:
        if variant_of is None:
            raise ValueError('an agreement is measured against the model this one is a variant of: give variant_of')
        manifest['agreement'] = {**agreement, 'with': variant_of}
    return manifest

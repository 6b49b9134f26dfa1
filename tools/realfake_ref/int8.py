"""The int8 variant: MatMul/Gemm weights quantised per output channel, activations quantised when the
graph runs, written with the onnx package from the operator specification (no onnxruntime tool),
and how closely it agrees with the fp32 model on pictures.

What the transform writes, for each MatMul or Gemm whose weight is a float initializer (ONNX
operators, opset 17; the same pattern as onnxruntime's own dynamic quantisation, so its graph
optimiser fuses it into DynamicQuantizeMatMul, one kernel):

    x ─ DynamicQuantizeLinear ─> x_q (uint8), x_scale, x_zero_point      (per tensor, at run time)
    MatMulInteger(x_q, W_q, x_zero_point) ─> int32 ─ Cast(float) ─ Mul(x_scale · W_scale) [─ Add(bias)]

W_q is int8, symmetric (zero point 0, levels -127..127), one scale per output column:
W_scale[n] = max_k |W[k, n]| / 127 (1 for an all-zero column). A Gemm's weight is stored
transposed to [K, N] when transB = 1; a Gemm with transA, alpha != 1 or beta != 1 is left in float32.
Everything else (Conv, LayerNormalization, the element-wise ops) stays float32: in a ConvNeXt the
two Linear layers of each block hold ~95% of the weights and of the FLOPs.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

# The threshold at which a label is counted: the extension's default (src/detector/scores.ts).
LABEL_THRESHOLD = 0.5
# Synthetic pictures in the agreement set (sizes vary, so the resize and crop are exercised).
SYNTHETIC_COUNT = 12
SYNTHETIC_SEED = 20261202


def quantize_weight(w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """[K, N] float32 -> (int8 [K, N], float32 scale [N]): symmetric, per output column."""
    w = np.asarray(w, dtype=np.float32)
    peak = np.max(np.abs(w), axis=0)
    scale = np.where(peak > 0, peak / 127.0, 1.0).astype(np.float32)
    q = np.clip(np.rint(w / scale), -127, 127).astype(np.int8)
    return q, scale


def quantize_int8(src: Path, dst: Path) -> dict[str, int]:
    """Writes the int8 copy of the fp32 graph at `src` to `dst`; returns counts for the log.
    Checked by onnx.checker and strict shape inference before it is saved."""
    import onnx  # only here: importing it costs every other tool half a second
    from onnx import TensorProto, helper, numpy_helper

    model = onnx.load(str(src))
    graph = model.graph
    inits = {t.name: t for t in graph.initializer}
    uses: dict[str, int] = {}
    for n in graph.node:
        for v in n.input:
            uses[v] = uses.get(v, 0) + 1
    taken = {n.name for n in graph.node} | {v for n in graph.node for v in (*n.input, *n.output)} | set(inits)

    def fresh(name: str) -> str:
        while name in taken:
            name += '_'
        taken.add(name)
        return name

    counts = {'matmul': 0, 'gemm': 0, 'kept_float': 0, 'weights_int8': 0}
    quantized_x: dict[str, tuple[str, str, str]] = {}  # activation -> (x_q, x_scale, x_zero_point): one per tensor
    new_inits: list[onnx.TensorProto] = []
    dropped: set[str] = set()
    nodes: list[onnx.NodeProto] = []

    def weight_of(node: onnx.NodeProto) -> tuple[np.ndarray, str | None] | None:
        """The [K, N] float weight and the bias (a Gemm's C) of a node to quantise, or None."""
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        b = node.input[1] if len(node.input) > 1 else ''
        t = inits.get(b)
        if t is None or t.data_type != TensorProto.FLOAT or len(t.dims) != 2 or uses.get(b, 0) != 1:
            return None
        w = numpy_helper.to_array(t)
        if node.op_type == 'MatMul':
            return w, None
        if attrs.get('transA', 0) != 0 or attrs.get('alpha', 1.0) != 1.0 or attrs.get('beta', 1.0) != 1.0:
            return None
        bias = node.input[2] if len(node.input) > 2 and node.input[2] else None
        return (w.T if attrs.get('transB', 0) else w), bias

    for node in graph.node:
        found = weight_of(node) if node.op_type in ('MatMul', 'Gemm') else None
        if found is None:
            if node.op_type in ('MatMul', 'Gemm'):
                counts['kept_float'] += 1
            nodes.append(node)
            continue
        w, bias = found
        x, b_name, y = node.input[0], node.input[1], node.output[0]
        stem = fresh(node.name or y)
        q, scale = quantize_weight(w)
        wq, ws = fresh(b_name + '_int8'), fresh(b_name + '_scale')
        new_inits += [numpy_helper.from_array(np.ascontiguousarray(q), wq), numpy_helper.from_array(scale, ws)]
        dropped.add(b_name)
        if x not in quantized_x:
            xq, xs, xz = fresh(x + '_quantized'), fresh(x + '_scale'), fresh(x + '_zero_point')
            nodes.append(helper.make_node('DynamicQuantizeLinear', [x], [xq, xs, xz], name=fresh(x + '_QuantizeLinear')))
            quantized_x[x] = (xq, xs, xz)
        xq, xs, xz = quantized_x[x]
        acc, acc_f, s = fresh(stem + '_int32'), fresh(stem + '_int32_float'), fresh(stem + '_scales')
        out = fresh(stem + '_unbiased') if bias else y
        nodes += [
            helper.make_node('MatMulInteger', [xq, wq, xz], [acc], name=fresh(stem + '_MatMulInteger')),
            helper.make_node('Cast', [acc], [acc_f], to=TensorProto.FLOAT, name=fresh(stem + '_Cast')),
            helper.make_node('Mul', [xs, ws], [s], name=fresh(stem + '_scales_Mul')),
            helper.make_node('Mul', [acc_f, s], [out], name=fresh(stem + '_Mul')),
        ]
        if bias:
            nodes.append(helper.make_node('Add', [out, bias], [y], name=fresh(stem + '_bias_Add')))
        counts['gemm' if node.op_type == 'Gemm' else 'matmul'] += 1
        counts['weights_int8'] += int(q.size)

    if counts['matmul'] + counts['gemm'] == 0:
        raise ValueError('no MatMul or Gemm with a float32 weight initializer: nothing to quantise')
    kept = [t for t in graph.initializer if t.name not in dropped]
    del graph.initializer[:]
    graph.initializer.extend(kept + new_inits)
    # Older exporters list initializers among the inputs too: drop the replaced ones.
    inputs = [v for v in graph.input if v.name not in dropped]
    del graph.input[:]
    graph.input.extend(inputs)
    # value_info of the replaced weights (if any) would now describe nothing.
    infos = [v for v in graph.value_info if v.name not in dropped]
    del graph.value_info[:]
    graph.value_info.extend(infos)
    del graph.node[:]
    graph.node.extend(nodes)

    onnx.checker.check_model(model, full_check=True)
    onnx.shape_inference.infer_shapes(model, check_type=True, strict_mode=True)
    onnx.save(model, str(dst))
    return counts


def synthetic_pictures(count: int = SYNTHETIC_COUNT, seed: int = SYNTHETIC_SEED) -> list[tuple[str, np.ndarray]]:
    """Seeded HxWx3 uint8 pictures, no two alike: smooth waves, edges and noise, in varied sizes
    and aspect ratios (the photographs' kind of content without their files)."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(count):
        h, w = int(rng.integers(160, 640)), int(rng.integers(160, 640))
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        img = np.zeros((h, w, 3), np.float32)
        for c in range(3):
            for _ in range(3):
                fx, fy, ph = rng.uniform(0, 0.15), rng.uniform(0, 0.15), rng.uniform(0, 2 * math.pi)
                img[:, :, c] += rng.uniform(20, 50) * np.sin(fx * xx + fy * yy + ph)
        for _ in range(int(rng.integers(1, 5))):  # flat rectangles: hard edges
            y0, x0 = int(rng.integers(0, h - 8)), int(rng.integers(0, w - 8))
            img[y0:y0 + int(rng.integers(8, h // 2)), x0:x0 + int(rng.integers(8, w // 2))] = rng.uniform(-128, 128, 3)
        img += 128 + rng.normal(0, rng.uniform(2, 30), img.shape)
        out.append((f'synthetic-{i:02d}', np.clip(np.rint(img), 0, 255).astype(np.uint8)))
    return out


def agreement_set(preprocessing: dict[str, Any], photos_dir: Path) -> tuple[np.ndarray, dict[str, int]]:
    """The model inputs (NCHW float32) of the photographs the extension judges (test/fixtures/photos,
    index.json: not `small`) and of the synthetic pictures, through the reference pipeline."""
    import json

    from .pipeline import load_pixels, preprocess

    index = json.loads((photos_dir / 'index.json').read_text())
    photos = [(p['file'], load_pixels(photos_dir / p['file'])) for p in index if not p['small']]
    pictures = photos + synthetic_pictures()
    batch = np.stack([preprocess(a, preprocessing).numpy() for _, a in pictures]).astype(np.float32)
    return batch, {'photos': len(photos), 'synthetic': len(pictures) - len(photos)}


def p_generated(logits: np.ndarray, generated_index: int) -> np.ndarray:
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return (e / e.sum(axis=1, keepdims=True))[:, generated_index]


def agreement(p_ref: np.ndarray, p: np.ndarray, threshold: float = LABEL_THRESHOLD) -> dict[str, Any]:
    """max and mean |Δp(generated)|, and the share of pictures given the same label at `threshold`."""
    d = np.abs(p_ref - p)
    same = (p_ref >= threshold) == (p >= threshold)
    return {'images': int(p.size), 'maxAbsP': float(d.max()), 'meanAbsP': float(d.mean()),
            'labelAgreement': float(same.mean()), 'threshold': threshold}


def run_each(onnx_path: Path, x: np.ndarray) -> np.ndarray:
    """Logits of `x` by onnxruntime-node, one picture per run, as the extension runs an int8 model
    (its activation scale is per tensor: in a batch, a picture's score would depend on the others)."""
    from .export import run_onnx_node

    return run_onnx_node(onnx_path, x, each=True)


def make_int8(fp32_onnx: Path, dst: Path, *, probe: list[float], preprocessing: dict[str, Any], generated_index: int,
              photos_dir: Path, log=print) -> dict[str, Any]:
    """Writes the int8 variant of `fp32_onnx` to `dst`, checks its probe logits against PyTorch's
    (`probe`: within INT8_CHECK_TOLERANCE) and measures its agreement with the fp32 file on the
    photographs and synthetic pictures (onnxruntime-node runs both). Raises ValueError when the
    graph has nothing to quantise or the probe is too far off."""
    from .defaults import INT8_CHECK_TOLERANCE, PROBE_BATCH
    from .export import run_onnx_node

    counts = quantize_int8(fp32_onnx, dst)
    log(f"int8 variant: {counts['matmul']} MatMul + {counts['gemm']} Gemm with int8 weights "
        f"({counts['weights_int8']} weights), {counts['kept_float']} kept in float32 ({dst.stat().st_size / 1e6:.1f} MB)")
    got = run_onnx_node(dst, None, PROBE_BATCH, each=True).reshape(-1)
    probe_d = float(np.max(np.abs(got - np.asarray(probe, dtype=np.float64))))
    if not probe_d <= INT8_CHECK_TOLERANCE:
        raise ValueError(f'the int8 variant is too far from PyTorch: probe logits differ by {probe_d:.3g} '
                         f'(> {INT8_CHECK_TOLERANCE:g})')
    x, kinds = agreement_set(preprocessing, photos_dir)
    p32 = p_generated(run_each(fp32_onnx, x), generated_index)
    p8 = p_generated(run_each(dst, x), generated_index)
    agree = {**agreement(p32, p8), **kinds}
    log(f"int8 vs fp32 on {agree['images']} pictures ({kinds['photos']} photographs, {kinds['synthetic']} synthetic): "
        f"max |Δp| = {agree['maxAbsP']:.3g}, mean {agree['meanAbsP']:.3g}, labels agree {agree['labelAgreement']:.0%} "
        f"at {agree['threshold']}; probe |Δlogit| vs PyTorch = {probe_d:.3g} (limit {INT8_CHECK_TOLERANCE:g})")
    return {'counts': counts, 'probeMaxAbsLogit': probe_d, 'agreement': agree}

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


# A weightless graph's metadata key: which initializer of the int8 graph comes from which float
# weight of the checkpoint, and whether the import transposes it (src/detector/int8-variant.ts).
WEIGHTLESS_INT8_KEY = 'realfake.int8'


def _rewrite(model: Any, make_weights) -> tuple[dict[str, int], list[dict[str, Any]]]:
    """Rewrites `model` (in place) as the int8 graph: each MatMul or Gemm whose weight is a float
    initializer gets the int8 pattern. A MatMul weight may also be a Transpose (perm [1, 0]) of a
    2-D float initializer used once: the layout a weightless graph keeps from the checkpoint
    (tools/weightless_graph.py); that Transpose goes too, the int8 weight is stored [K, N].
    `make_weights(name, transposed, k, n, wq, ws)` returns the two new initializers (the int8
    weight [K, N] named wq and the scales [N] named ws) for the float initializer `name`, stored
    [N, K] when `transposed`. Returns counts for the log and one entry per quantised weight."""
    from onnx import TensorProto, helper

    graph = model.graph
    inits = {t.name: t for t in graph.initializer}
    uses: dict[str, int] = {}
    for n in graph.node:
        for v in n.input:
            uses[v] = uses.get(v, 0) + 1
    producer = {o: n for n in graph.node for o in n.output}
    taken = {n.name for n in graph.node} | {v for n in graph.node for v in (*n.input, *n.output)} | set(inits)

    def fresh(name: str) -> str:
        while name in taken:
            name += '_'
        taken.add(name)
        return name

    def float_2d(name: str) -> bool:
        t = inits.get(name)
        return t is not None and t.data_type == TensorProto.FLOAT and len(t.dims) == 2 and uses.get(name, 0) == 1

    counts = {'matmul': 0, 'gemm': 0, 'kept_float': 0, 'weights_int8': 0}
    quantized_x: dict[str, tuple[str, str, str]] = {}  # activation -> (x_q, x_scale, x_zero_point): one per tensor
    new_inits: list[Any] = []
    dropped: set[str] = set()
    dropped_nodes: set[int] = set()
    made: list[dict[str, Any]] = []
    nodes: list[Any] = []

    def weight_of(node: Any) -> tuple[str, bool, Any, str | None] | None:
        """(float initializer, stored [N, K], the Transpose node to drop or None, bias) of a node to quantise, or None."""
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        b = node.input[1] if len(node.input) > 1 else ''
        if node.op_type == 'MatMul':
            if float_2d(b):
                return b, False, None, None
            t = producer.get(b)
            perm = {a.name: helper.get_attribute_value(a) for a in t.attribute}.get('perm') if t is not None and t.op_type == 'Transpose' else None
            if t is not None and list(perm or []) == [1, 0] and uses.get(b, 0) == 1 and float_2d(t.input[0]):
                return t.input[0], True, t, None
            return None
        if not float_2d(b) or attrs.get('transA', 0) != 0 or attrs.get('alpha', 1.0) != 1.0 or attrs.get('beta', 1.0) != 1.0:
            return None
        bias = node.input[2] if len(node.input) > 2 and node.input[2] else None
        return b, bool(attrs.get('transB', 0)), None, bias

    found_for = {id(n): weight_of(n) for n in graph.node if n.op_type in ('MatMul', 'Gemm')}
    for f in found_for.values():
        if f is not None and f[2] is not None:
            dropped_nodes.add(id(f[2]))
    for node in graph.node:
        if id(node) in dropped_nodes:
            continue
        found = found_for.get(id(node))
        if found is None:
            if node.op_type in ('MatMul', 'Gemm'):
                counts['kept_float'] += 1
            nodes.append(node)
            continue
        b_name, transposed, _, bias = found
        x, y = node.input[0], node.output[0]
        stem = fresh(node.name or y)
        rows, cols = (int(d) for d in inits[b_name].dims)
        k, n = (cols, rows) if transposed else (rows, cols)
        wq, ws = fresh(b_name + '_int8'), fresh(b_name + '_scale')
        new_inits += make_weights(b_name, transposed, k, n, wq, ws)
        made.append({'int8': wq, 'scale': ws, 'from': b_name, 'transposed': transposed})
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
        counts['weights_int8'] += k * n

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
    return counts, made


def quantize_int8(src: Path, dst: Path) -> dict[str, int]:
    """Writes the int8 copy of the fp32 graph at `src` to `dst`; returns counts for the log.
    Checked by onnx.checker and strict shape inference before it is saved."""
    import onnx  # only here: importing it costs every other tool half a second
    from onnx import numpy_helper

    model = onnx.load(str(src))
    arrays = {t.name: t for t in model.graph.initializer}

    def make_weights(name: str, transposed: bool, k: int, n: int, wq: str, ws: str) -> list[Any]:
        w = numpy_helper.to_array(arrays[name])
        q, scale = quantize_weight(w.T if transposed else w)
        return [numpy_helper.from_array(np.ascontiguousarray(q), wq), numpy_helper.from_array(scale, ws)]

    counts, _ = _rewrite(model, make_weights)
    onnx.checker.check_model(model, full_check=True)
    onnx.shape_inference.infer_shapes(model, check_type=True, strict_mode=True)
    onnx.save(model, str(dst))
    return counts


def weightless_int8(src: Path, dst: Path) -> dict[str, Any]:
    """Writes the int8 graph of the weightless fp32 graph at `src` (tools/weightless_graph.py) to
    `dst`, weightless too: the int8 weights [K, N] and their scales [N] are external-data
    initializers with the fp32 graph's placeholder location, offset 0 and their byte length, the
    other initializers stay as they are. The model's metadata entry WEIGHTLESS_INT8_KEY lists, for
    each int8 weight, its scales, the checkpoint weight it is made of and whether that one is stored
    [N, K] (a torch Linear's [out, in]: then the import transposes it while quantising). Checked by
    onnx.checker and strict shape inference before it is saved."""
    import json

    import onnx
    from onnx import TensorProto

    model = onnx.load(str(src), load_external_data=False)
    location = next((e.value for t in model.graph.initializer for e in t.external_data if e.key == 'location'), None)
    if location is None or any(t.data_location != TensorProto.EXTERNAL for t in model.graph.initializer):
        raise ValueError(f'{src} is not a weightless graph: every initializer must be external data')

    def external(name: str, data_type: int, dims: list[int], length: int) -> Any:
        t = TensorProto(name=name, data_type=data_type, dims=dims)
        t.data_location = TensorProto.EXTERNAL
        for key, value in (('location', location), ('offset', '0'), ('length', str(length))):
            e = t.external_data.add()
            e.key, e.value = key, value
        return t

    def make_weights(name: str, transposed: bool, k: int, n: int, wq: str, ws: str) -> list[Any]:
        return [external(wq, TensorProto.INT8, [k, n], k * n), external(ws, TensorProto.FLOAT, [n], 4 * n)]

    counts, made = _rewrite(model, make_weights)
    if [m['int8'] for m in made] != [m['from'] + '_int8' for m in made]:
        raise ValueError('an int8 weight name was taken already')
    entry = model.metadata_props.add()
    entry.key, entry.value = WEIGHTLESS_INT8_KEY, json.dumps(made, separators=(',', ':'))
    model.doc_string = model.doc_string + ' | int8 (tools/weightless_graph.py --int8, tools/realfake_ref/int8.py)'
    # The checker reads external data: it checks a copy with zeros in place of every weight.
    filled = onnx.ModelProto()
    filled.CopyFrom(model)
    for t in filled.graph.initializer:
        length = int(next(e.value for e in t.external_data if e.key == 'length'))
        del t.external_data[:]
        t.data_location = TensorProto.DEFAULT
        t.raw_data = bytes(length)
    onnx.checker.check_model(filled, full_check=True)
    onnx.shape_inference.infer_shapes(filled, check_type=True, strict_mode=True)
    del filled
    dst.write_bytes(model.SerializeToString())
    return {'file': str(dst), 'bytes': dst.stat().st_size, **counts}


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
    """Logits of `x` by tools/run_onnx.mjs (the exact int8 runtime on this CPU), one picture per run, as the extension runs an int8 model
    (its activation scale is per tensor: in a batch, a picture's score would depend on the others)."""
    from .export import run_onnx_node

    return run_onnx_node(onnx_path, x, each=True)


def make_int8(fp32_onnx: Path, dst: Path, *, probe: list[float], preprocessing: dict[str, Any], generated_index: int,
              photos_dir: Path, log=print) -> dict[str, Any]:
    """Writes the int8 variant of `fp32_onnx` to `dst`, checks its probe logits against PyTorch's
    (`probe`: within INT8_CHECK_TOLERANCE) and measures its agreement with the fp32 file on the
    photographs and synthetic pictures (tools/run_onnx.mjs runs both). Raises ValueError when the
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

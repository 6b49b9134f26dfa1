#!/usr/bin/env python3
"""Writes the ONNX graph of a ConvNeXt without its weights, for the in-browser checkpoint import
(src/offscreen/checkpoint-import.ts): the extension fetches only the weights out of a checkpoint
and points this graph's initializers at them.

  /usr/bin/python3 tools/weightless_graph.py OUT.onnx [--dims 192,384,768,1536] [--depths 3,3,27,3]
      [--classes 2] [--int8 | --int8-only]

The graph is exported by the same exporter as the converter (torch.onnx.export, opset 17, input
`input` [batch, 3, 224, 224], output `logits`; tools/realfake_ref/export.py's names), with constant
folding OFF: then every initializer is a parameter of torchvision's ConvNeXt under its state_dict
key, in the checkpoint's own layout (a Linear on channels-last activations is exported as a
Transpose node in front of MatMul, instead of a folded, transposed and renamed copy of the weight).
The weights are first set to distinct random values, so that the exporter's deduplication of equal
initializers (which replaces one by an Identity of the other) finds nothing to merge.

Each initializer then becomes external data: data_location EXTERNAL, location "checkpoint",
offset 0, length = its float32 bytes; the import rewrites location and offset to point into the
weights file it stores (src/detector/checkpoint/graph.ts). No tensor is transformed, so the import
applies no transform but the dtype's (fp16/bf16/fp64 to float32). The tool checks all of this and
refuses to write a graph where it does not hold.

With --int8 it also writes OUT-int8.onnx (--int8-only: only that, from an OUT written before), the
int8 variant's weightless graph, by the converter's transform (tools/realfake_ref/int8.py,
`weightless_int8`): each Linear's Transpose + MatMul (and the head's Gemm) becomes the int8 pattern
with an int8 weight [in, out] and per-column scales, both external data of their own; the import
makes them from the fp32 weights it stored, transposing the checkpoint's [out, in] while it
quantises (src/detector/int8-variant.ts). The graph's metadata `realfake.int8` names, for each int8
weight, its scales and the checkpoint weight it comes from.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch  # noqa: E402
from torchvision.models.convnext import CNBlockConfig, ConvNeXt  # noqa: E402

from realfake_ref.defaults import OPSET  # noqa: E402
from realfake_ref.export import INPUT_NAME, OUTPUT_NAME  # noqa: E402
from realfake_ref.fixture import probe_input  # noqa: E402

PLACEHOLDER_LOCATION = 'checkpoint'


def build(dims: list[int], depths: list[int], classes: int) -> torch.nn.Module:
    setting = [CNBlockConfig(d, dims[i + 1] if i < 3 else None, n) for i, (d, n) in enumerate(zip(dims, depths))]
    model = ConvNeXt(setting, stochastic_depth_prob=0.0, num_classes=classes).eval()
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.rand(p.shape, generator=g))
    return model


def write_graph(out: Path, dims: list[int], depths: list[int], classes: int) -> dict:
    import onnx
    from onnx import TensorProto

    model = build(dims, depths, classes)
    state = model.state_dict()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / 'full.onnx'
        torch.onnx.export(
            model, torch.from_numpy(probe_input(1, 224, 224)), str(path),
            opset_version=OPSET, input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
            dynamic_axes={INPUT_NAME: {0: 'batch'}, OUTPUT_NAME: {0: 'batch'}},
            do_constant_folding=False,
        )
        graph_model = onnx.load(str(path))
    graph = graph_model.graph
    names = [t.name for t in graph.initializer]
    if sorted(names) != sorted(state):
        raise SystemExit(f'the exported initializers are not the state_dict: extra {sorted(set(names) - set(state))[:5]}, '
                         f'missing {sorted(set(state) - set(names))[:5]}')
    identities = [n for n in graph.node if n.op_type == 'Identity' and any(i in state for i in n.input)]
    if identities:
        raise SystemExit(f'{len(identities)} initializer(s) reached through Identity nodes (deduplicated)')
    for t in graph.initializer:
        if t.data_type != TensorProto.FLOAT or list(t.dims) != list(state[t.name].shape):
            raise SystemExit(f'{t.name}: exported as type {t.data_type} {list(t.dims)}, the state_dict has {list(state[t.name].shape)}')
        length = len(t.raw_data)
        if length != state[t.name].numel() * 4:
            raise SystemExit(f'{t.name}: {length} raw bytes, expected {state[t.name].numel() * 4}')
        t.ClearField('raw_data')
        t.data_location = TensorProto.EXTERNAL
        for key, value in (('location', PLACEHOLDER_LOCATION), ('offset', '0'), ('length', str(length))):
            entry = t.external_data.add()
            entry.key = key
            entry.value = value
    # The initializers in state_dict order, so the graph reads like the checkpoint.
    order = {k: i for i, k in enumerate(state)}
    sorted_inits = sorted(graph.initializer, key=lambda t: order[t.name])
    del graph.initializer[:]
    graph.initializer.extend(sorted_inits)
    graph_model.doc_string = (f'ConvNeXt dims {dims} depths {depths} classes {classes}: weightless graph for the checkpoint '
                              'import (tools/weightless_graph.py)')
    out.write_bytes(graph_model.SerializeToString())
    return {'file': str(out), 'bytes': out.stat().st_size, 'initializers': len(names),
            'weightBytes': sum(v.numel() * 4 for v in state.values())}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('out', type=Path)
    ap.add_argument('--dims', default='192,384,768,1536')
    ap.add_argument('--depths', default='3,3,27,3')
    ap.add_argument('--classes', type=int, default=2)
    ap.add_argument('--int8', action='store_true', help='also write the int8 graph, OUT-int8.onnx')
    ap.add_argument('--int8-only', action='store_true', help='write only OUT-int8.onnx, from the existing OUT')
    a = ap.parse_args()
    if not a.int8_only:
        print(write_graph(a.out, [int(v) for v in a.dims.split(',')], [int(v) for v in a.depths.split(',')], a.classes))
    if a.int8 or a.int8_only:
        from realfake_ref.int8 import weightless_int8

        print(weightless_int8(a.out, a.out.with_name(a.out.stem + '-int8.onnx')))
    return 0


if __name__ == '__main__':
    sys.exit(main())

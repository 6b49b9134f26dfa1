#!/usr/bin/env python3
"""Writes synthetic ConvNeXt checkpoints in the layouts real ones come in, for the converter's
tests (test/tools/). The network is a SMALL ConvNeXt (torchvision's class) with perturbed random
weights (tools/realfake_ref/fixture.py: torchvision's default init is nearly an identity).

  /usr/bin/python3 tools/make_test_checkpoint.py OUTDIR LAYOUT... [--seed N] [--dims 8,16,24,32]
      [--depths 1,2,1,1] [--classes 2] [--marker PATH]

writes OUTDIR/<LAYOUT>.ckpt for each LAYOUT (one network, same weights in every layout), and
OUTDIR/reference.json: PyTorch's logits of the probe input (src/detector/probe.ts) and of a fixed
random batch (OUTDIR/inputs.f32, NCHW float32 little-endian).

LAYOUT:
  lightning-timm  {'state_dict': {'model.<timm name>': ...}, 'epoch': ..., ...} (PyTorch Lightning)
  timm            a bare state_dict in timm names (gamma [C], head.fc, stem.0, ...)
  torchvision     a bare state_dict in torchvision names (features.N, classifier.2, layer_scale)
  wrong-head      lightning-timm, but head.fc.weight is [classes, C + 3]
  missing-keys    lightning-timm without stages.2.blocks.0.mlp.fc1.weight and head.norm.bias
  extra-keys      lightning-timm plus a loss module's weights (model.loss_fn.weight) and an EMA copy
  not-convnext    a bare state_dict of a small torchvision ResNet-ish stack (no ConvNeXt stem)
  hostile         lightning-timm whose hyper_parameters unpickle by calling os.system (--marker PATH:
                  the command would create PATH)
  corrupt         the lightning-timm file cut at half its length
  garbage         random bytes
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torchvision.models.convnext import CNBlockConfig  # noqa: E402

from realfake_ref.checkpoint import torchvision_to_timm  # noqa: E402
from realfake_ref.export import probe_logits  # noqa: E402
from realfake_ref.fixture import build_fixture_model  # noqa: E402

LAYOUTS = ['lightning-timm', 'timm', 'torchvision', 'wrong-head', 'missing-keys', 'extra-keys', 'not-convnext',
           'hostile', 'corrupt', 'garbage']


class Hostile:
    """Unpickling this calls os.system: a safe loader must never do it."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        import os
        return (os.system, (f'touch {self.marker}',))


def small_model(seed: int, dims: list[int], depths: list[int], classes: int) -> torch.nn.Module:
    setting = [CNBlockConfig(d, dims[i + 1] if i < 3 else None, n) for i, (d, n) in enumerate(zip(dims, depths))]
    return build_fixture_model(seed, block_setting=setting, num_classes=classes)


def timm_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    out = {}
    for k, v in model.state_dict().items():
        name = torchvision_to_timm(k)
        out[name] = v.reshape(-1).clone() if name.endswith('.gamma') else v.clone()  # timm's gamma is [C]
    return out


def lightning(state: dict[str, torch.Tensor], hyper: object | None = None) -> dict:
    return {
        'epoch': 4, 'global_step': 1234, 'pytorch-lightning_version': '1.9.0',
        'state_dict': {f'model.{k}': v for k, v in state.items()},
        'loops': {}, 'callbacks': {},
        'optimizer_states': [{'state': {}, 'param_groups': [{'lr': 1e-4, 'params': [0, 1]}]}],
        'lr_schedulers': [],
        'hyper_parameters': hyper if hyper is not None else {'lr': 1e-4, 'arch': 'convnext_large'},
    }


def checkpoint_object(layout: str, model: torch.nn.Module, timm: dict[str, torch.Tensor], args: argparse.Namespace,
                      dims: list[int]) -> object | None:
    """What torch.save writes for `layout` (None: the file is not a torch.save at all)."""
    if layout in ('lightning-timm', 'corrupt'):
        return lightning(timm)
    if layout == 'timm':
        return timm
    if layout == 'torchvision':
        return model.state_dict()
    if layout == 'wrong-head':
        bad = dict(timm)
        bad['head.fc.weight'] = torch.randn(args.classes, dims[-1] + 3)
        return lightning(bad)
    if layout == 'missing-keys':
        return lightning({k: v for k, v in timm.items() if k not in ('stages.2.blocks.0.mlp.fc1.weight', 'head.norm.bias')})
    if layout == 'extra-keys':
        extra = dict(timm)
        extra['loss_fn.weight'] = torch.ones(args.classes)
        obj = lightning(extra)
        obj['state_dict'].update({f'model_ema.{k}': v.clone() for k, v in list(timm.items())[:3]})
        return obj
    if layout == 'not-convnext':
        net = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.BatchNorm2d(8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
        return {f'backbone.{k}': v for k, v in net.state_dict().items()}
    if layout == 'hostile':
        return lightning(timm, {'lr': 1e-4, 'payload': Hostile(args.marker)})
    return None  # garbage


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('outdir', type=Path)
    ap.add_argument('layouts', nargs='+', choices=LAYOUTS, metavar='LAYOUT')
    ap.add_argument('--seed', type=int, default=1)
    ap.add_argument('--dims', default='8,16,24,32')
    ap.add_argument('--depths', default='1,2,1,1')
    ap.add_argument('--classes', type=int, default=2)
    ap.add_argument('--marker', default='/tmp/rfl-hostile-marker', help='hostile: the file the payload would create')
    args = ap.parse_args()
    dims = [int(v) for v in args.dims.split(',')]
    depths = [int(v) for v in args.depths.split(',')]
    model = small_model(args.seed, dims, depths, args.classes)
    timm = timm_state(model)
    args.outdir.mkdir(parents=True, exist_ok=True)

    for layout in args.layouts:
        out = args.outdir / f'{layout}.ckpt'
        obj = checkpoint_object(layout, model, timm, args, dims)
        if obj is None:
            out.write_bytes(np.random.default_rng(args.seed).integers(0, 256, 4096, dtype=np.uint8).tobytes())
        else:
            torch.save(obj, out)
        if layout == 'corrupt':
            data = out.read_bytes()
            out.write_bytes(data[: len(data) // 2])

    g = torch.Generator().manual_seed(args.seed + 1000)
    x = torch.randn((3, 3, 224, 224), generator=g, dtype=torch.float32)
    np.ascontiguousarray(x.numpy(), dtype='<f4').tofile(args.outdir / 'inputs.f32')
    with torch.no_grad():
        logits = model(x).reshape(-1).tolist()
    ref = {'probe': probe_logits(model), 'inputs': {'file': 'inputs.f32', 'shape': list(x.shape), 'logits': logits},
           'dims': dims, 'depths': depths, 'classes': args.classes}
    (args.outdir / 'reference.json').write_text(json.dumps(ref, indent=2) + '\n')
    return 0


if __name__ == '__main__':
    sys.exit(main())

#!/usr/bin/env python3
"""Writes a checkpoint the way LAION's realfake checkpoint was written: a PyTorch-Lightning file whose
`state_dict` holds a timm ConvNeXt under `model.`, with AdamW's state after a real training step, a
scheduler's state and hyper-parameters pickled as an instance of a class of the training script. The
network is tools/timm_convnext_ref.py, an independent re-implementation of timm's ConvNeXt: nothing
here comes from tools/realfake_ref/ (the converter), so converting this file tests the converter's
timm -> torchvision mapping against timm's own semantics (test/tools/timm-independent.test.ts).

  /usr/bin/python3 tools/make_timm_checkpoint.py OUTDIR [--seed N] [--dims 8,16,24,32] [--depths 1,2,1,1]
      [--classes 2] [--saved-on cuda:0]

writes OUTDIR/lightning-timm.ckpt and OUTDIR/reference.json: this model's logits of the probe input
(src/detector/probe.ts) and of a fixed random batch (OUTDIR/inputs.f32, NCHW float32 little-endian).
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

from timm_convnext_ref import TimmConvNeXt  # noqa: E402

# The stem conv and depthwise convs are scaled down so that the LayerNorm after each sees inputs of
# variance ~1e-4: LayerNorm ignores its input's scale, but not its eps then, so an eps other than
# timm's 1e-6 changes the logits visibly.
SMALL_BEFORE_NORM = 0.02


class TrainConfig:
    """Stands for the training script's own hyper-parameter object (Lightning pickles it with the
    checkpoint; it cannot be imported where the checkpoint is converted)."""

    def __init__(self, **values: object) -> None:
        self.__dict__.update(values)


def probe_input(batch: int, size: int) -> np.ndarray:
    """src/detector/probe.ts probeInput(): element i (row-major NCHW) is ((i * 7919) % 2000) / 1000 - 1."""
    i = np.arange(batch * 3 * size * size, dtype=np.int64)
    return (((i * 7919) % 2000) / 1000.0 - 1.0).astype(np.float32).reshape(batch, 3, size, size)


@torch.no_grad()
def perturb(model: TimmConvNeXt, seed: int) -> None:
    """Random weights under which every parameter moves the logits. timm's init would make every
    LayerNorm an identity, every bias zero and every gamma 1e-6 (each block nearly a no-op)."""
    g = torch.Generator().manual_seed(seed)

    def normal(t: torch.Tensor, std: float) -> torch.Tensor:
        return torch.randn(t.shape, generator=g) * std

    def uniform(t: torch.Tensor, lo: float, hi: float) -> torch.Tensor:
        return torch.rand(t.shape, generator=g) * (hi - lo) + lo

    for name, p in model.named_parameters():  # a fixed order: reproducible draws
        module = model.get_submodule(name.rsplit('.', 1)[0]) if '.' in name else model
        if name.endswith('gamma'):
            p.copy_(uniform(p, 0.1, 0.4))
        elif isinstance(module, nn.LayerNorm):
            p.copy_(uniform(p, 0.5, 1.5) if name.endswith('weight') else normal(p, 0.1))
        elif name.endswith('weight'):
            p.copy_(normal(p, 1.0 / math.sqrt(math.prod(p.shape[1:]))))
        else:
            p.copy_(normal(p, 0.1))
        if name.startswith('stem.0.') or '.conv_dw.' in name:
            p.mul_(SMALL_BEFORE_NORM)
    model.head.fc.weight.mul_(3.0)


def train_one_step(model: TimmConvNeXt, seed: int, classes: int) -> tuple[torch.optim.Optimizer, object]:
    """One AdamW step on a random batch, as training leaves a model: the saved weights are those after it."""
    g = torch.Generator().manual_seed(seed + 500)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0.05)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=100)
    model.train()
    x = torch.randn((2, 3, 64, 64), generator=g)
    y = torch.arange(2) % classes
    loss = nn.functional.cross_entropy(model(x), y)
    opt.zero_grad()
    loss.backward()
    opt.step()
    sched.step()
    model.eval()
    return opt, sched


def tag_storages_as(device: str) -> None:
    """Makes torch.save record every tensor's storage as on `device`, as a checkpoint saved during
    training on a GPU records it (Lightning saves the tensors where they are); loading it without
    that device needs a map_location."""
    torch.serialization.register_package(0, lambda storage: device, lambda storage, location: None)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('outdir', type=Path)
    ap.add_argument('--seed', type=int, default=1)
    ap.add_argument('--dims', default='8,16,24,32')
    ap.add_argument('--depths', default='1,2,1,1')
    ap.add_argument('--classes', type=int, default=2)
    ap.add_argument('--saved-on', default='cuda:0', help="the device the file says its tensors were saved from (default: cuda:0)")
    args = ap.parse_args()
    dims = [int(v) for v in args.dims.split(',')]
    depths = [int(v) for v in args.depths.split(',')]
    torch.manual_seed(args.seed)
    model = TimmConvNeXt(dims, depths, args.classes)
    perturb(model, args.seed)
    opt, sched = train_one_step(model, args.seed, args.classes)

    args.outdir.mkdir(parents=True, exist_ok=True)
    checkpoint = {
        'epoch': 3,
        'global_step': 1,
        'pytorch-lightning_version': '1.9.4',
        'state_dict': {f'model.{k}': v.detach().clone() for k, v in model.state_dict().items()},
        'loops': {'fit_loop': {'epoch_progress': {'current': {'completed': 3}}}},
        'callbacks': {"ModelCheckpoint{'monitor': 'val_acc', 'mode': 'max'}": {'best_model_score': torch.tensor(0.99)}},
        'optimizer_states': [opt.state_dict()],
        'lr_schedulers': [sched.state_dict()],
        'hparams_name': 'config',
        'hyper_parameters': {'config': TrainConfig(arch='convnext_large', lr=1e-4, batch_size=2, dims=dims)},
    }
    if args.saved_on != 'cpu':
        tag_storages_as(args.saved_on)
    torch.save(checkpoint, args.outdir / 'lightning-timm.ckpt')

    g = torch.Generator().manual_seed(args.seed + 1000)
    x = torch.randn((3, 3, 224, 224), generator=g, dtype=torch.float32)
    np.ascontiguousarray(x.numpy(), dtype='<f4').tofile(args.outdir / 'inputs.f32')
    with torch.no_grad():
        logits = model(x).reshape(-1).tolist()
        probe = model(torch.from_numpy(probe_input(2, 224))).reshape(-1).tolist()
    ref = {'probe': probe, 'inputs': {'file': 'inputs.f32', 'shape': list(x.shape), 'logits': logits},
           'dims': dims, 'depths': depths, 'classes': args.classes, 'keys': list(checkpoint['state_dict'])}
    (args.outdir / 'reference.json').write_text(json.dumps(ref, indent=2) + '\n')
    return 0


if __name__ == '__main__':
    sys.exit(main())

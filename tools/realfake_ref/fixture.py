"""The test-fixture model: a small ConvNeXt with deterministic random weights.

It is built with torchvision's own ConvNeXt class (the module `convnext_large` comes from), so it
has the same block structure, op types and state_dict key names (`features.N`, `classifier.2`) as
the real realfake checkpoint, only far fewer channels. Its scores mean nothing.
"""
from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn
from torchvision.models.convnext import CNBlockConfig, ConvNeXt

FIXTURE_SEED = 20240417
# Multiplies the head's weights. Found by trying a few values (tools/fixture_model.py --spread) so
# that class-0 probabilities of the photos in test/fixtures/photos spread over roughly 0.1..0.9;
# a constant, so the model never depends on which photos the tests use.
HEAD_SCALE = 2.0
HEAD_BIAS = -1.0

# dims 16/32/64/128, depths 1/1/2/1: convnext_large is 192/384/768/1536 with depths 3/3/27/3.
BLOCK_SETTING = [
    CNBlockConfig(16, 32, 1),
    CNBlockConfig(32, 64, 1),
    CNBlockConfig(64, 128, 2),
    CNBlockConfig(128, None, 1),
]
NUM_CLASSES = 2


def probe_input(batch: int, height: int, width: int) -> np.ndarray:
    """Same values as probeInput() in src/detector/probe.ts: ((i*7919) % 2000)/1000 - 1, NCHW."""
    i = np.arange(batch * 3 * height * width, dtype=np.int64)
    return (((i * 7919) % 2000) / 1000.0 - 1.0).astype(np.float32).reshape(batch, 3, height, width)


def _fan_in(weight: torch.Tensor) -> int:
    return int(math.prod(weight.shape[1:]))


@torch.no_grad()
def build_fixture_model(seed: int = FIXTURE_SEED, head_scale: float = HEAD_SCALE, head_bias: float = HEAD_BIAS,
                        block_setting: list[CNBlockConfig] | None = None, num_classes: int = NUM_CLASSES) -> nn.Module:
    """Builds the fixture in eval mode. Not torchvision's default init, whose tiny layer_scale and
    zero biases make every block nearly the identity (then all photos score alike).

    `block_setting` and `num_classes` give other small ConvNeXts with the same kind of weights
    (the converter's synthetic test checkpoints); the defaults are the fixture."""
    model = ConvNeXt(block_setting or BLOCK_SETTING, stochastic_depth_prob=0.0, num_classes=num_classes)
    g = torch.Generator().manual_seed(seed)

    def uniform(shape, lo: float, hi: float) -> torch.Tensor:
        return torch.rand(shape, generator=g, dtype=torch.float32) * (hi - lo) + lo

    def normal(shape, std: float) -> torch.Tensor:
        return torch.randn(shape, generator=g, dtype=torch.float32) * std

    # named_modules() order is fixed by the architecture, so the draws are reproducible.
    for name, m in model.named_modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            m.weight.copy_(normal(m.weight.shape, 1.0 / math.sqrt(_fan_in(m.weight))))
            if m.bias is not None:
                m.bias.copy_(normal(m.bias.shape, 0.05))
        elif isinstance(m, nn.LayerNorm):  # also LayerNorm2d
            m.weight.copy_(uniform(m.weight.shape, 0.9, 1.1))
            m.bias.copy_(normal(m.bias.shape, 0.05))
    for name, p in model.named_parameters():
        if name.endswith('layer_scale'):
            p.copy_(uniform(p.shape, 0.05, 0.25))
    head = model.classifier[2]
    head.weight.mul_(head_scale)
    head.bias.add_(torch.linspace(head_bias, -head_bias, num_classes))  # [b, -b] for two classes
    return model.eval()

"""An independent re-implementation of timm's ConvNeXt, for tests only.

Written in plain torch from the published source of timm (huggingface/pytorch-image-models,
timm/models/convnext.py with timm/models/layers/{norm,mlp}.py at v0.6.12, checked against v0.9.2:
the classic layout `convnext_large` has in both, the one LAION's realfake checkpoint holds). It uses
nothing from tools/realfake_ref/, so a checkpoint it writes checks the converter's timm -> torchvision
mapping instead of repeating it. timm itself is not installable here (no PyPI).

What it reproduces, names and semantics (timm's defaults: patch stem, conv_mlp=False,
head_norm_first=False, GELU, every LayerNorm eps 1e-6):
  stem.0                       Conv2d(3, d0, 4, stride 4)
  stem.1                       LayerNorm2d (over channels of NCHW)
  stages.N.downsample.{0,1}    N > 0: LayerNorm2d, then Conv2d(d[N-1], d[N], 2, stride 2); stage 0 has none
  stages.N.blocks.M            x + gamma * fc2(GELU(fc1(LN(dwconv7x7(x))))), the LN and both Linear
                               layers channels-last (N, H, W, C); gamma is [C]
  head.norm, head.fc           global average pool (N, C, 1, 1), LayerNorm2d, flatten, Linear
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

EPS = 1e-6  # timm's LayerNorm and LayerNorm2d default


class LayerNorm2d(nn.LayerNorm):
    """Normalises the channels of an NCHW tensor (timm.layers.LayerNorm2d)."""

    def __init__(self, channels: int) -> None:
        super().__init__(channels, eps=EPS)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.layer_norm(x.permute(0, 2, 3, 1), self.normalized_shape, self.weight, self.bias, self.eps)
        return y.permute(0, 3, 1, 2)


class Mlp(nn.Module):
    """timm.layers.Mlp without dropout: fc1, GELU (exact erf form), fc2 on the last dimension."""

    def __init__(self, channels: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(channels, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class Block(nn.Module):
    """ConvNeXtBlock with conv_mlp=False: the norm and MLP run channels-last."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv_dw = nn.Conv2d(channels, channels, kernel_size=7, padding=3, groups=channels)
        self.norm = nn.LayerNorm(channels, eps=EPS)
        self.mlp = Mlp(channels, 4 * channels)
        self.gamma = nn.Parameter(torch.full((channels,), 1e-6))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv_dw(x).permute(0, 2, 3, 1)
        y = self.mlp(self.norm(y)).permute(0, 3, 1, 2)
        return x + y * self.gamma.reshape(1, -1, 1, 1)


class Stage(nn.Module):
    def __init__(self, in_channels: int, channels: int, depth: int, first: bool) -> None:
        super().__init__()
        # timm builds the downsample only when channels or stride change: never in stage 0.
        self.downsample = nn.Identity() if first else nn.Sequential(
            LayerNorm2d(in_channels), nn.Conv2d(in_channels, channels, kernel_size=2, stride=2))
        self.blocks = nn.Sequential(*[Block(channels) for _ in range(depth)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.blocks(self.downsample(x))


class Head(nn.Module):
    """Pool, then norm, then fc: ConvNeXt's order (timm's head_norm_first=False)."""

    def __init__(self, channels: int, classes: int) -> None:
        super().__init__()
        self.global_pool = nn.AdaptiveAvgPool2d(1)
        self.norm = LayerNorm2d(channels)
        self.flatten = nn.Flatten(1)
        self.fc = nn.Linear(channels, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.flatten(self.norm(self.global_pool(x))))


class TimmConvNeXt(nn.Module):
    def __init__(self, dims: list[int], depths: list[int], classes: int) -> None:
        super().__init__()
        assert len(dims) == len(depths) == 4
        self.stem = nn.Sequential(nn.Conv2d(3, dims[0], kernel_size=4, stride=4), LayerNorm2d(dims[0]))
        self.stages = nn.Sequential(*[Stage(dims[max(i - 1, 0)], dims[i], depths[i], i == 0) for i in range(4)])
        self.head = Head(dims[-1], classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.stages(self.stem(x)))

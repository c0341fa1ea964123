"""DARTS evaluation network (Liu et al. 2019; NAS-Bench-301 cells), reimplemented in
PyTorch, scaled down.

Macro-architecture: stem 3x3 conv + BN (``3 * channels`` maps) -> ``stages`` stages of
``cells_per_stage`` normal cells with one reduction cell between consecutive stages (the
reduction cell halves the resolution and doubles the channels) -> global average pooling
-> linear classifier. The official CIFAR-10 network (20 cells, C=36) is ``channels=36,
stages=3, cells_per_stage=6``; the auxiliary head and drop-path are left out.

Cell: inputs c_{k-2}, c_{k-1} preprocessed to C channels (a 1x1 ReLU-conv-BN, or a
factorized reduction when the previous cell reduced); intermediate node k sums two ops on
its two chosen sources; the cell outputs the concatenation of the 4 intermediate nodes
(4C channels). In a reduction cell the ops reading the cell inputs use stride 2.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .nb201 import ReLUConvBN

OPS = ("max_pool_3x3", "avg_pool_3x3", "skip_connect", "sep_conv_3x3", "sep_conv_5x5",
       "dil_conv_3x3", "dil_conv_5x5")


class DilConv(nn.Sequential):
    """ReLU -> depthwise (dilated) conv -> pointwise conv -> BN."""

    def __init__(self, c_in, c_out, kernel, stride, padding, dilation):
        super().__init__(
            nn.ReLU(),
            nn.Conv2d(c_in, c_in, kernel, stride=stride, padding=padding, dilation=dilation,
                      groups=c_in, bias=False),
            nn.Conv2d(c_in, c_out, 1, bias=False),
            nn.BatchNorm2d(c_out),
        )


class SepConv(nn.Sequential):
    """Two stacked DilConv (dilation 1), the first one carrying the stride."""

    def __init__(self, c_in, c_out, kernel, stride, padding):
        super().__init__(DilConv(c_in, c_in, kernel, stride, padding, 1),
                         DilConv(c_in, c_out, kernel, 1, padding, 1))


class FactorizedReduce(nn.Module):
    """ReLU -> two 1x1 stride-2 convs on offset grids, concatenated -> BN (halves H, W)."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.relu = nn.ReLU()
        self.conv_1 = nn.Conv2d(c_in, c_out // 2, 1, stride=2, bias=False)
        self.conv_2 = nn.Conv2d(c_in, c_out - c_out // 2, 1, stride=2, bias=False)
        self.bn = nn.BatchNorm2d(c_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(x)
        if x.shape[-1] % 2 or x.shape[-2] % 2:  # odd sizes: pad so both grids agree
            x = F.pad(x, (0, x.shape[-1] % 2, 0, x.shape[-2] % 2))
        return self.bn(torch.cat([self.conv_1(x), self.conv_2(x[:, :, 1:, 1:])], dim=1))


def _op(name: str, c: int, stride: int) -> nn.Module:
    if name == "max_pool_3x3":
        return nn.MaxPool2d(3, stride=stride, padding=1)
    if name == "avg_pool_3x3":
        return nn.AvgPool2d(3, stride=stride, padding=1, count_include_pad=False)
    if name == "skip_connect":
        return nn.Identity() if stride == 1 else FactorizedReduce(c, c)
    if name == "sep_conv_3x3":
        return SepConv(c, c, 3, stride, 1)
    if name == "sep_conv_5x5":
        return SepConv(c, c, 5, stride, 2)
    if name == "dil_conv_3x3":
        return DilConv(c, c, 3, stride, 2, 2)
    if name == "dil_conv_5x5":
        return DilConv(c, c, 5, stride, 4, 2)
    raise ValueError(f"darts cell: unknown op {name!r}; known: {', '.join(OPS)}")


class DartsCell(nn.Module):
    """One DARTS cell from 8 ``(op, source)`` pairs."""

    def __init__(self, pairs, c_pp: int, c_p: int, c: int, reduction: bool, reduction_prev: bool):
        super().__init__()
        pairs = tuple(pairs)
        if len(pairs) != 8:
            raise ValueError(f"darts cell needs 8 (op, source) pairs, got {len(pairs)}")
        for k, (_, src) in enumerate(pairs):
            if not 0 <= int(src) < 2 + k // 2:
                raise ValueError(f"darts cell: pair {k} reads source {src}, "
                                 f"allowed 0..{1 + k // 2}")
        self.pre0 = FactorizedReduce(c_pp, c) if reduction_prev else ReLUConvBN(c_pp, c, 1)
        self.pre1 = ReLUConvBN(c_p, c, 1)
        self.sources = [int(s) for _, s in pairs]
        self.ops = nn.ModuleList(
            _op(op, c, 2 if reduction and int(src) < 2 else 1) for op, src in pairs)

    def forward(self, s0: torch.Tensor, s1: torch.Tensor) -> torch.Tensor:
        states = [self.pre0(s0), self.pre1(s1)]
        for k in range(4):
            a, b = 2 * k, 2 * k + 1
            states.append(self.ops[a](states[self.sources[a]]) + self.ops[b](states[self.sources[b]]))
        return torch.cat(states[2:], dim=1)


class DartsNetwork(nn.Module):
    """The DARTS evaluation macro-architecture for a genotype (see the module docstring)."""

    def __init__(self, normal, reduce, num_classes: int = 10, in_channels: int = 3,
                 channels: int = 8, stages: int = 3, cells_per_stage: int = 1,
                 stem_multiplier: int = 3):
        super().__init__()
        c_stem = stem_multiplier * channels
        self.stem = nn.Sequential(nn.Conv2d(in_channels, c_stem, 3, padding=1, bias=False),
                                  nn.BatchNorm2d(c_stem))
        c_pp, c_p, c = c_stem, c_stem, channels
        cells, reduction_prev = [], False
        for stage in range(stages):
            if stage > 0:
                c *= 2
                cells.append(DartsCell(reduce, c_pp, c_p, c, True, reduction_prev))
                c_pp, c_p, reduction_prev = c_p, 4 * c, True
            for _ in range(cells_per_stage):
                cells.append(DartsCell(normal, c_pp, c_p, c, False, reduction_prev))
                c_pp, c_p, reduction_prev = c_p, 4 * c, False
        self.cells = nn.ModuleList(cells)
        self.classifier = nn.Linear(c_p, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s0 = s1 = self.stem(x)
        for cell in self.cells:
            s0, s1 = s1, cell(s0, s1)
        return self.classifier(s1.mean(dim=(2, 3)))

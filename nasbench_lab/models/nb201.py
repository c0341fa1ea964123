"""NAS-Bench-201 network (Dong & Yang 2020), reimplemented in PyTorch, scaled down.

Macro-architecture: stem 3x3 conv + BN -> stage 1: ``cells_per_stage`` cells of C channels
-> residual reduction block (C -> 2C, stride 2) -> stage 2 cells -> reduction block
(2C -> 4C) -> stage 3 cells -> BN-ReLU -> global average pooling -> linear classifier.
The official network is ``channels=16, cells_per_stage=5`` (three stages) on 3x32x32.

Cell: four nodes; node i sums ``op(node j)`` over j < i; the cell outputs node 3. Edge ops:
``none`` (drops the edge: contributes zeros), ``skip_connect`` (identity),
``nor_conv_1x1`` / ``nor_conv_3x3`` (ReLU-conv-BN), ``avg_pool_3x3`` (stride 1, padding
not counted). The reduction block is a ResNet basic block: ReLU-conv3x3(stride 2)-BN,
ReLU-conv3x3-BN, plus a shortcut of 2x2 average pooling and a 1x1 conv.
"""
from __future__ import annotations

import torch
from torch import nn

#: the edges of the official cell string, in order: (to, from)
EDGES = ((1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2))
OPS = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")


class ReLUConvBN(nn.Sequential):
    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int = 1, padding: int = 0,
                 dilation: int = 1):
        super().__init__(
            nn.ReLU(),
            nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=padding, dilation=dilation,
                      bias=False),
            nn.BatchNorm2d(c_out),
        )


def _edge_op(name: str, c: int) -> nn.Module:
    if name == "skip_connect":
        return nn.Identity()
    if name == "nor_conv_1x1":
        return ReLUConvBN(c, c, 1)
    if name == "nor_conv_3x3":
        return ReLUConvBN(c, c, 3, padding=1)
    if name == "avg_pool_3x3":
        return nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False)
    raise ValueError(f"nb201 cell: unknown op {name!r}; known: {', '.join(OPS)}")


class NB201Cell(nn.Module):
    """One NAS-Bench-201 cell for 6 edge ops in the official string order."""

    def __init__(self, ops, c: int):
        super().__init__()
        if len(ops) != 6:
            raise ValueError(f"nb201 cell needs 6 edge ops, got {len(ops)}")
        self.edges = [(to, src, str(i)) for i, (to, src) in enumerate(EDGES) if ops[i] != "none"]
        for name in ops:
            if name not in OPS:
                raise ValueError(f"nb201 cell: unknown op {name!r}; known: {', '.join(OPS)}")
        self.ops = nn.ModuleDict({k: _edge_op(ops[int(k)], c) for _, _, k in self.edges})

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nodes: list[torch.Tensor | None] = [x, None, None, None]
        for to, src, k in self.edges:
            if nodes[src] is None:  # a node whose every input is ``none`` carries zeros
                continue
            h = self.ops[k](nodes[src])
            nodes[to] = h if nodes[to] is None else nodes[to] + h
        return nodes[3] if nodes[3] is not None else torch.zeros_like(x)


class ResidualReduction(nn.Module):
    """ResNet basic block with stride 2 between the stages."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.conv_a = ReLUConvBN(c_in, c_out, 3, stride=2, padding=1)
        self.conv_b = ReLUConvBN(c_out, c_out, 3, padding=1)
        self.shortcut = nn.Sequential(nn.AvgPool2d(2, stride=2, ceil_mode=True),
                                      nn.Conv2d(c_in, c_out, 1, bias=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.shortcut(x) + self.conv_b(self.conv_a(x))


class NB201Network(nn.Module):
    """The NAS-Bench-201 macro-architecture around one cell (see the module docstring)."""

    def __init__(self, ops, num_classes: int = 10, in_channels: int = 3, channels: int = 16,
                 stages: int = 3, cells_per_stage: int = 1):
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(in_channels, channels, 3, padding=1, bias=False),
                                   nn.BatchNorm2d(channels)]
        c = channels
        for stage in range(stages):
            if stage > 0:
                layers.append(ResidualReduction(c, 2 * c))
                c *= 2
            layers += [NB201Cell(ops, c) for _ in range(cells_per_stage)]
        layers += [nn.BatchNorm2d(c), nn.ReLU()]
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Linear(c, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x).mean(dim=(2, 3)))

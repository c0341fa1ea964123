"""NAS-Bench-101 network (Ying et al. 2019), reimplemented in PyTorch from the paper and the
public description of its model builder, scaled down by three numbers.

Macro-architecture: stem 3x3 conv-BN-ReLU -> ``stages`` stacks of ``cells_per_stage`` cells;
between stacks a 2x2 max-pool (stride 2) halves the resolution and the channel count
doubles -> global average pooling -> linear classifier. The official network is
``channels=128, stages=3, cells_per_stage=3`` on 3x32x32 input.

Cell semantics (as the official builder):

* the output's channels are split evenly among the vertices that feed the output (the
  remainder goes, one each, to the first of them); every other interior vertex takes the
  largest channel count among its successors;
* an interior vertex sums its inputs: the cell input through a 1x1 conv-BN-ReLU projection,
  other vertices truncated to the vertex's channels (first channels kept);
* the output concatenates the interior vertices that feed it; the input->output edge adds a
  1x1 projection of the cell input to that concatenation (or is the whole output when no
  interior vertex feeds the output);
* ops: ``conv3x3-bn-relu``, ``conv1x1-bn-relu``, ``maxpool3x3`` (3x3, stride 1, same
  padding; keeps the channels of its input).
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn


class ConvBnRelu(nn.Sequential):
    """conv (no bias) -> BN -> ReLU with same padding."""

    def __init__(self, c_in: int, c_out: int, kernel: int):
        super().__init__(
            nn.Conv2d(c_in, c_out, kernel, padding=kernel // 2, bias=False),
            # torch's default momentum 0.1 (not the official TF decay 0.997, i.e. 0.003):
            # short budgets leave running statistics near their init otherwise
            nn.BatchNorm2d(c_out, eps=1e-5),
            nn.ReLU(),
        )


def vertex_channels(c_in: int, c_out: int, matrix: np.ndarray) -> list[int]:
    """Channels of every vertex of a cell (input first, output last), official rule.

    >>> vertex_channels(16, 16, np.array([[0, 1, 1], [0, 0, 1], [0, 0, 0]]))
    [16, 16, 16]
    """
    n = matrix.shape[0]
    ch = [0] * n
    ch[0], ch[n - 1] = c_in, c_out
    if n == 2:
        return ch
    in_degree = matrix[1:].sum(axis=0)
    share, extra = divmod(c_out, int(in_degree[n - 1]))
    for v in range(1, n - 1):
        if matrix[v, n - 1]:
            ch[v] = share + (1 if extra else 0)
            extra = max(extra - 1, 0)
    for v in range(n - 3, 0, -1):
        if not matrix[v, n - 1]:
            for dst in range(v + 1, n - 1):
                if matrix[v, dst]:
                    ch[v] = max(ch[v], ch[dst])
        if ch[v] <= 0:
            raise ValueError(f"nb101 cell: vertex {v} gets no channels (is the matrix pruned?)")
    return ch


_OPS = {
    "conv3x3-bn-relu": lambda c: ConvBnRelu(c, c, 3),
    "conv1x1-bn-relu": lambda c: ConvBnRelu(c, c, 1),
    "maxpool3x3": lambda c: nn.MaxPool2d(3, stride=1, padding=1),
}


class NB101Cell(nn.Module):
    """One NAS-Bench-101 module for a pruned ``matrix`` and its ``ops`` labels."""

    def __init__(self, matrix: np.ndarray, ops, c_in: int, c_out: int):
        super().__init__()
        self.matrix = np.asarray(matrix, dtype=np.int64)
        n = self.matrix.shape[0]
        self.n = n
        self.ch = vertex_channels(c_in, c_out, self.matrix)
        self.proj = nn.ModuleDict()
        self.ops = nn.ModuleDict()
        for t in range(1, n - 1):
            if self.matrix[0, t]:
                self.proj[str(t)] = ConvBnRelu(c_in, self.ch[t], 1)
            try:
                self.ops[str(t)] = _OPS[ops[t]](self.ch[t])
            except KeyError:
                raise ValueError(f"nb101 cell: unknown op {ops[t]!r} at vertex {t}; "
                                 f"known: {', '.join(_OPS)}") from None
        if self.matrix[0, n - 1]:
            self.proj[str(n - 1)] = ConvBnRelu(c_in, c_out, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        m, n = self.matrix, self.n
        states = [x]
        concat = []
        for t in range(1, n - 1):
            ins = [states[s][:, : self.ch[t]] for s in range(1, t) if m[s, t]]
            if m[0, t]:
                ins.append(self.proj[str(t)](x))
            h = ins[0]
            for extra in ins[1:]:
                h = h + extra
            states.append(self.ops[str(t)](h))
            if m[t, n - 1]:
                concat.append(states[t])
        if not concat:
            return self.proj[str(n - 1)](x)
        out = concat[0] if len(concat) == 1 else torch.cat(concat, dim=1)
        if m[0, n - 1]:
            out = out + self.proj[str(n - 1)](x)
        return out


class NB101Network(nn.Module):
    """The NAS-Bench-101 macro-architecture around one cell (see the module docstring)."""

    def __init__(self, matrix, ops, num_classes: int = 10, in_channels: int = 3,
                 channels: int = 16, stages: int = 3, cells_per_stage: int = 1):
        super().__init__()
        layers: list[nn.Module] = [ConvBnRelu(in_channels, channels, 3)]
        c_prev, c = channels, channels
        for stage in range(stages):
            if stage > 0:
                layers.append(nn.MaxPool2d(2, stride=2, ceil_mode=True))  # TF 'same' pooling
                c *= 2
            for _ in range(cells_per_stage):
                layers.append(NB101Cell(matrix, ops, c_prev, c))
                c_prev = c
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Linear(c_prev, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x).mean(dim=(2, 3)))

"""PyTorch networks for every search space: one call, ``build_model(arch, ...)``.

One module per family: :mod:`.nb101`, :mod:`.nb201`, :mod:`.darts` (the cell networks, whose
parts the one-shot super-nets reuse) and :mod:`.mlp` (the one MLP builder of ``spaces.mlp``
chains). This package sits between ``spaces`` and ``benchmarks`` in the layers: it reads
architectures, and the live benchmarks, the zero-cost proxies and the one-shot super-nets
build their networks with it.

The builders follow the benchmarks' macro-architectures (NAS-Bench-101, NAS-Bench-201, the
DARTS/NAS-Bench-301 evaluation network), scaled down by three numbers shared by all of them:

* ``channels``: width of the first stage (NB101: stem channels; NB201, DARTS: C),
* ``stages``: number of resolution stages (each later stage halves H, W and doubles channels),
* ``cells_per_stage``: cells per stage (NB101 modules per stack; NB201 N; DARTS normal cells).

Official sizes: NB101 ``(128, 3, 3)``, NB201 ``(16, 3, 5)``, DARTS ``(36, 3, 6)``. The
defaults here are small, for 8x8 digits on a CPU. Every builder accepts any input size
from 1x8x8 (digits) to 3x32x32 (CIFAR-10) and beyond (``in_channels`` sets the first).

Dispatch is by duck typing, so any object with the right attributes works:

* ``.matrix`` and ``.ops``: a NAS-Bench-101 cell (pruned matrix, official op labels),
* ``.normal`` and ``.reduce``: a DARTS genotype (8 ``(op, source)`` pairs each),
* ``.layers``: an MLP chain (``spaces.mlp.Chain``), 2 inputs, 2 classes by default,
* ``.ops`` with 6 entries: a NAS-Bench-201 cell; a NAS-Bench-201 cell string works too.

>>> import numpy as np, torch
>>> from types import SimpleNamespace
>>> cell = SimpleNamespace(matrix=np.array([[0, 1, 1], [0, 0, 1], [0, 0, 0]]),
...                        ops=("input", "conv3x3-bn-relu", "output"))
>>> net = build_model(cell, num_classes=10, in_channels=1)
>>> net(torch.zeros(2, 1, 8, 8)).shape
torch.Size([2, 10])
"""
from __future__ import annotations

from typing import Any

import numpy as np
from torch import nn

from .darts import DartsNetwork
from .mlp import build_chain
from .nb101 import NB101Network
from .nb201 import NB201Network

#: small default sizes per family (channels, stages, cells_per_stage), for digits on CPU
DEFAULT_SIZES = {
    "nb101": dict(channels=16, stages=3, cells_per_stage=1),
    "nb201": dict(channels=16, stages=3, cells_per_stage=1),
    "darts": dict(channels=8, stages=3, cells_per_stage=1),
}


def family(arch: Any) -> str:
    """Which builder serves ``arch``: ``"nb101" "nb201" "darts" "mlp"`` (duck typing)."""
    if isinstance(arch, str) and arch.startswith("|"):
        return "nb201"
    if hasattr(arch, "matrix") and hasattr(arch, "ops"):
        return "nb101"
    if hasattr(arch, "normal") and hasattr(arch, "reduce"):
        return "darts"
    if hasattr(arch, "layers"):
        return "mlp"
    if hasattr(arch, "ops") and len(arch.ops) == 6:
        return "nb201"
    raise TypeError(f"no model builder for {type(arch).__name__!r}: expected an NB101 cell "
                    "(.matrix, .ops), an NB201 cell (.ops of 6), a DARTS genotype "
                    "(.normal, .reduce) or an MLP chain (.layers)")


def nb201_ops(arch: Any) -> tuple[str, ...]:
    """The 6 edge ops of an NB201 cell object or official cell string.

    >>> nb201_ops("|nor_conv_3x3~0|+|none~0|skip_connect~1|+|avg_pool_3x3~0|none~1|nor_conv_1x1~2|")
    ('nor_conv_3x3', 'none', 'skip_connect', 'avg_pool_3x3', 'none', 'nor_conv_1x1')
    """
    if not isinstance(arch, str):
        return tuple(arch.ops)
    ops = []
    for node in arch.strip().strip("+").split("+"):
        for tok in filter(None, node.strip("|").split("|")):
            op, _, _ = tok.partition("~")
            ops.append(op)
    if len(ops) != 6:
        raise ValueError(f"not an NB201 cell string (need 6 edges): {arch!r}")
    return tuple(ops)


def build_model(arch: Any, num_classes: int | None = None, in_channels: int = 3, *,
                channels: int | None = None, stages: int | None = None,
                cells_per_stage: int | None = None) -> nn.Module:
    """A freshly initialised network for ``arch`` (uses torch's global RNG for the weights:
    wrap in ``torch.random.fork_rng()`` + ``torch.manual_seed`` for a seeded init).

    ``num_classes`` None: 10 for the cell networks, 2 (HalfMoons) for MLP chains. MLP chains
    ignore the size arguments: they take 2 input features (HalfMoons).

    >>> from nasbench_lab.spaces.mlp import Chain
    >>> build_model(Chain([(4, "Tanh")]))[-1]
    Linear(in_features=4, out_features=2, bias=True)
    """
    fam = family(arch)
    if fam == "mlp":
        return build_chain(arch.layers) if num_classes is None else build_chain(arch.layers, num_classes=num_classes)
    num_classes = 10 if num_classes is None else num_classes
    size = dict(DEFAULT_SIZES[fam])
    for k, v in (("channels", channels), ("stages", stages), ("cells_per_stage", cells_per_stage)):
        if v is not None:
            size[k] = int(v)
    if size["channels"] < 1 or size["stages"] < 1 or size["cells_per_stage"] < 1:
        raise ValueError(f"model sizes must be >= 1, got {size}")
    if fam == "nb101":
        return NB101Network(np.asarray(arch.matrix), tuple(arch.ops), num_classes, in_channels,
                            **size)
    if fam == "nb201":
        return NB201Network(nb201_ops(arch), num_classes, in_channels, **size)
    return DartsNetwork(tuple(arch.normal), tuple(arch.reduce), num_classes, in_channels, **size)


def count_parameters(model: nn.Module) -> int:
    """Trainable parameters of ``model``."""
    return int(sum(p.numel() for p in model.parameters() if p.requires_grad))


__all__ = ["DEFAULT_SIZES", "build_chain", "build_model", "count_parameters", "family",
           "nb201_ops"]

"""The MLP builder: the torch network of a ``spaces.mlp.Chain`` (the one home of that rule).

``Linear(in, w1), Act1, ..., Linear(w_last, num_classes)`` with torch's default init;
HalfMoons sizes (2 inputs, 2 classes) by default.

>>> build_chain([(4, "Tanh")])
Sequential(
  (0): Linear(in_features=2, out_features=4, bias=True)
  (1): Tanh()
  (2): Linear(in_features=4, out_features=2, bias=True)
)
"""
from __future__ import annotations

from typing import Iterable

from torch import nn

from ..spaces.mlp import ACTIVATIONS, INPUT_DIM, OUTPUT_DIM


def build_chain(layers: Iterable[tuple[int, str]], in_features: int = INPUT_DIM,
                num_classes: int = OUTPUT_DIM) -> nn.Module:
    """An MLP from ``(width, activation)`` hidden layers (the ``spaces.mlp.Chain`` contract);
    activations are the space's (``spaces.mlp.ACTIVATIONS``, torch's classes of those names)."""
    mods: list[nn.Module] = []
    prev = int(in_features)
    for width, act in layers:
        if act not in ACTIVATIONS:
            raise ValueError(f"unknown activation {act!r}; the MLP space has {', '.join(ACTIVATIONS)}")
        mods += [nn.Linear(prev, int(width)), getattr(nn, act)()]
        prev = int(width)
    mods.append(nn.Linear(prev, int(num_classes)))
    return nn.Sequential(*mods)


__all__ = ["build_chain"]

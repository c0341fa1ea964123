"""Gumbel DARTS (GDAS, Dong & Yang 2019): differentiable search over sampled paths.

Like :mod:`.darts` (alternate an Adam step of alpha on a validation batch and an SGD step
of the weights on a training batch), but every edge runs in ``"gumbel"`` mode: a hard
Gumbel-softmax sample of its op with temperature ``tau`` (one-hot forward, softmax
straight-through gradient to alpha), so one op per edge runs. ``tau`` is annealed
linearly from ``tau_max`` (1.0) at the first epoch to ``tau_min`` (0.33) at the last one
(``anneal_epochs``, default the run's ``max_epochs``). Samples come from the strategy's
seeded generator. Export as DARTS: argmax of alpha per edge (top-2 inputs in DARTS
cells, never ``none``).

>>> from nasbench_lab import oneshot
>>> r = oneshot.search("gumbel_darts", "nb201", max_epochs=2, max_steps_per_epoch=2)  # doctest: +SKIP
>>> r.log[["epoch", "tau"]]                                                           # doctest: +SKIP
"""
from __future__ import annotations

import dataclasses

from .darts import DartsConfig, DartsModule


@dataclasses.dataclass
class GumbelDartsConfig(DartsConfig):
    """GDAS settings: DARTS's optimisers plus the temperature schedule."""

    tau_max: float = 1.0
    """Gumbel-softmax temperature at the first epoch"""
    tau_min: float = 0.33
    """temperature at the last epoch of the schedule"""
    anneal_epochs: int | None = None
    """length of the linear schedule in epochs (None: the run's max_epochs)"""


class GumbelDartsModule(DartsModule):
    """DARTS's alternating steps with hard Gumbel-softmax samples on every edge."""

    mode = "gumbel"

    def tau(self) -> float:
        """Linear in the epoch: ``tau_max`` at epoch 0, ``tau_min`` at the last epoch."""
        c = self.config
        n = c.anneal_epochs or (self.trainer.max_epochs if self._trainer is not None else 1)
        frac = min(self.current_epoch / max(n - 1, 1), 1.0)
        return c.tau_max + (c.tau_min - c.tau_max) * frac

    def arch_weights(self) -> dict[str, float]:
        return {"tau": self.tau(), **super().arch_weights()}


Config = GumbelDartsConfig
Module = GumbelDartsModule

__all__ = ["GumbelDartsConfig", "GumbelDartsModule", "Config", "Module"]

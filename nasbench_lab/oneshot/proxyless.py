"""ProxylessNAS (Cai, Zhu & Han 2019): binary gates on sampled paths, optional cost penalty.

Every edge runs in ``"binary"`` mode: one active op drawn from ``p = softmax(alpha)``,
its output multiplied by a gate of value 1 that carries the gradient to alpha (the
active-path approximation of ProxylessNAS's binary-gate gradient, see
``supernet.MixedOp.forward``), so only one op per edge runs and is kept in memory. Each
search step

1. an **architecture step** on a validation batch (a fresh path sample): Adam on alpha
   (lr 1e-3, betas (0, 0.999) as in ProxylessNAS) of ``CE + cost_weight * E[cost]``,
   ``E[cost] = sum_edges sum_ops p * cost / max_cost``, with ``max_cost`` the sum over the
   edges of their costliest op (so ``E[cost]`` lies in [0, 1]). ``cost`` is each candidate op's parameter
   count (default) or ``latency_table[op]`` (e.g. measured latencies; ops missing from
   it cost 0), summed over the cells that share the edge;
2. a **weight step** on a training batch with another sampled path (SGD).

Export: argmax of the gate probabilities per edge (top-2 inputs in DARTS cells, never
``none``).

>>> from nasbench_lab import oneshot
>>> r = oneshot.search("proxyless", "nb201", max_epochs=1, cost_weight=0.1)   # doctest: +SKIP
"""
from __future__ import annotations

import dataclasses

import torch
import torch.nn.functional as F

from .training import OneShotConfig, OneShotModule


@dataclasses.dataclass
class ProxylessConfig(OneShotConfig):
    """ProxylessNAS settings (the weight optimiser and batches come from :class:`OneShotConfig`)."""

    arch_lr: float = 1e-3
    """Adam learning rate of the gate parameters"""
    arch_betas: tuple[float, float] = (0.0, 0.999)
    """Adam betas of the gate parameters"""
    arch_weight_decay: float = 0.0
    """Adam weight decay of the gate parameters"""
    cost_weight: float = 0.0
    """weight of the expected relative cost in the architecture loss (0: no penalty)"""
    latency_table: dict[str, float] | None = None
    """cost per op name (e.g. latency); None: parameter counts"""


class ProxylessModule(OneShotModule):
    """Alternating gate (validation) and weight (training) steps on binary-gated paths."""

    def __init__(self, supernet, config: ProxylessConfig, seed: int = 0):
        super().__init__(supernet, config, seed)
        costs = supernet.op_costs(config.latency_table)
        total = sum(float(c.max(dim=1).values.sum()) for c in costs.values())
        for name, c in costs.items():
            self.register_buffer(f"cost_{name}", c / max(total, 1e-12))

    def configure_optimizers(self):
        c = self.config
        gates = torch.optim.Adam(self.supernet.arch_parameters(), lr=c.arch_lr, betas=tuple(c.arch_betas),
                                 weight_decay=c.arch_weight_decay)
        return [self.weight_optimizer(), gates]

    def expected_cost(self) -> torch.Tensor:
        """``sum p * cost`` over every edge, relative to the sum of the costliest ops."""
        return sum((F.softmax(a, dim=-1) * getattr(self, f"cost_{name}")).sum()
                   for name, a in self.supernet.alpha.items())

    def search_step(self, x, y, xv, yv):
        _, opt_a = self.optimizers()
        opt_a.zero_grad()
        with self.supernet.use("binary", generator=self.generator, drop=self.config.param_free_dropout):
            loss = F.cross_entropy(self.supernet(xv), yv)
        if self.config.cost_weight:
            loss = loss + self.config.cost_weight * self.expected_cost()
        self.manual_backward(loss)
        opt_a.step()
        return self.weight_step(x, y, "binary")

    def arch_weights(self) -> dict[str, float]:
        return {"expected_cost": float(self.expected_cost().detach()), **super().arch_weights()}


Config = ProxylessConfig
Module = ProxylessModule

__all__ = ["ProxylessConfig", "ProxylessModule", "Config", "Module"]

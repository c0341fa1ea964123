"""Random one-shot / SPOS (Guo et al. 2020): uniform path sampling, then a sub-network search.

Training: every step trains the shared weights on a training batch in ``"path"`` mode on
one architecture drawn uniformly from the space (``supernet.sample`` with the strategy's
seeded generator); there are no architecture parameters. The log's ``val_acc`` is the
mean inherited-weight validation accuracy of ``log_paths`` uniform architectures drawn
from a generator seeded by ``(seed, epoch)``.

Export (after training): a search over sub-networks scored by the super-net
(``supernet.evaluate(arch, "val")``, inherited weights), with ``search_budget`` distinct
architectures evaluated: ``search_method="random"`` (uniform samples) or ``"evolution"``
(SPOS's evolutionary search, mutation only: a population of ``population`` uniform
samples, then children ``space.mutate(parent)`` of a parent drawn uniformly from the
``parents`` best so far). The best-scored architecture is exported; ``history`` keeps
``(key, score)`` of every evaluated one. The search draws from a numpy generator seeded
by ``seed``.

>>> from nasbench_lab import oneshot
>>> r = oneshot.search("random_one_shot", "nb201", max_epochs=1, search_budget=8)   # doctest: +SKIP
"""
from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import torch

from .training import OneShotConfig, OneShotModule

SEARCH_METHODS = ("evolution", "random")


@dataclasses.dataclass
class RandomOneShotConfig(OneShotConfig):
    """SPOS settings (the weight optimiser and batches come from :class:`OneShotConfig`)."""

    search_method: str = "evolution"
    """sub-network search after training: "evolution" or "random\""""
    search_budget: int = 20
    """distinct architectures scored by the super-net in that search"""
    population: int = 8
    """evolution: size of the initial uniform population"""
    parents: int = 4
    """evolution: parents are drawn from this many best architectures"""
    log_paths: int = 2
    """uniform architectures whose mean validation accuracy is logged per epoch"""


class RandomOneShotModule(OneShotModule):
    """Uniform single-path training of the shared weights; a scored search at export."""

    def __init__(self, supernet, config: RandomOneShotConfig, seed: int = 0):
        super().__init__(supernet, config, seed)
        if config.search_method not in SEARCH_METHODS:
            raise ValueError(f"search_method must be one of {SEARCH_METHODS}, got {config.search_method!r}")
        self.history: list[tuple[str, float]] = []

    def configure_optimizers(self):
        return self.weight_optimizer()

    def search_step(self, x, y, xv, yv):
        return self.weight_step(x, y, "path", arch=self.supernet.sample(self.generator))

    def arch_weights(self) -> dict[str, float]:
        return {}

    def epoch_val_accuracy(self) -> float:
        g = torch.Generator().manual_seed(int(np.random.default_rng([self.seed, self.current_epoch]).integers(2 ** 62)))
        archs = [self.supernet.sample(g) for _ in range(max(self.config.log_paths, 1))]
        return float(np.mean([self.supernet.evaluate(a, "val") for a in archs]))

    def current_arch(self) -> Any:
        """The best architecture scored so far (a uniform sample before the search)."""
        if not self.history:
            return self.supernet.sample(torch.Generator().manual_seed(self.seed))
        return self.supernet.space.from_key(max(self.history, key=lambda h: h[1])[0])

    def export(self) -> Any:
        """Run the sub-network search (see the module docstring) and return its best."""
        c, space = self.config, self.supernet.space
        rng = np.random.default_rng([self.seed, 10])
        scores: dict[str, float] = {}
        self.history = []

        def score(arch) -> None:
            key = space.key(arch)
            if key not in scores:
                scores[key] = self.supernet.evaluate(arch, "val")
                self.history.append((key, scores[key]))

        def uniform():
            return space.sample(rng)

        budget = max(int(c.search_budget), 1)
        attempts = 0
        first = budget if c.search_method == "random" else min(c.population, budget)
        while len(scores) < first and attempts < 20 * budget:
            score(uniform())
            attempts += 1
        while len(scores) < budget and attempts < 20 * budget:
            best = sorted(scores, key=lambda k: (-scores[k], k))[:max(c.parents, 1)]
            parent = space.from_key(best[int(rng.integers(len(best)))])
            score(space.mutate(parent, rng))
            attempts += 1
        return self.current_arch()


Config = RandomOneShotConfig
Module = RandomOneShotModule

__all__ = ["RandomOneShotConfig", "RandomOneShotModule", "Config", "Module", "SEARCH_METHODS"]

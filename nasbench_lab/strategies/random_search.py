"""Random search (paper §3.2.3): fresh samples from the space's own sampler.

Not incremental: it ignores the environment. In the evaluation protocol one episode is
one fresh sample, i.e. one query (§4.1.2). It is also a multi-trial strategy
(``ask() -> arch``, ``tell(arch, metrics)``) built from a space or a benchmark.

>>> from nasbench_lab.spaces.mlp import ChainSpace
>>> rs = RandomSearch(ChainSpace(max_depth=3), seed=0)
>>> arch = rs.ask()
>>> rs.tell(arch, 0.5); rs.best[1]
0.5
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .agents import IncrementalAgent


class RandomSearch(IncrementalAgent):
    """Samples architectures with ``space.sample`` (the uniform-size sampler for NB101)."""

    name = "random_search"
    incremental = False

    def __init__(self, space_or_benchmark: Any, seed: int = 0) -> None:
        space = getattr(space_or_benchmark, "space", None)
        is_space = space is None and hasattr(space_or_benchmark, "sample")
        super().__init__(None if is_space else space_or_benchmark, seed)
        self.space = space_or_benchmark if is_space else space
        if self.space is None:
            raise ValueError("RandomSearch needs a search space (or a benchmark with .space)")
        self.best: tuple[Any, float] | None = None

    def ask(self) -> Any:
        """One fresh architecture from the space's sampler."""
        return self.space.sample(self.rng)

    def sample(self, n: int) -> list:
        return [self.space.sample(self.rng) for _ in range(n)]

    def tell(self, arch: Any, metrics: Any) -> None:
        """Record a result (``Metrics`` or a validation accuracy)."""
        v = float(getattr(metrics, "validation_accuracy", metrics))
        if self.best is None or v > self.best[1]:
            self.best = (arch, v)

    def act(self, observation, info) -> int:
        """Inside the env random search never moves: it ends the episode (0)."""
        return 0

    def state_dict(self) -> dict:
        d = super().state_dict()
        d["best"] = self.best
        return d

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        self.best = state.get("best")

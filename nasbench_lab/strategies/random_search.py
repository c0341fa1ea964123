"""Random search (paper §3.2.3): fresh samples from the space's own sampler.

Not incremental: it ignores the environment. In the evaluation protocol one episode is
one fresh sample, i.e. one query (§4.1.2). It is a multi-trial strategy
(``ask() -> arch``, ``tell(arch, metrics)``, see ``strategies.base``) built
``cls(space, seed=0)`` like every strategy.

>>> from nasbench_lab.spaces.mlp import ChainSpace
>>> rs = RandomSearch(ChainSpace(max_depth=3), seed=0)
>>> arch = rs.ask()
>>> rs.tell(arch, 0.5); rs.best[1]
0.5
"""
from __future__ import annotations

from typing import Any


from .base import MultiTrialStrategy


class RandomSearch(MultiTrialStrategy):
    """Samples architectures with ``space.sample`` (the uniform-size sampler for NB101)."""

    name = "random_search"
    #: not an agent of the incremental environment
    incremental = False
    #: §4.1.2: one sample = one query
    counts_neighbour_queries = False

    def __init__(self, space_or_benchmark: Any, seed: int = 0) -> None:
        super().__init__(space_or_benchmark, seed)
        if not hasattr(self.space, "sample"):
            raise ValueError("RandomSearch needs a search space (or a benchmark with .space)")

    def ask(self) -> Any:
        """One fresh architecture from the space's sampler."""
        return self.space.sample(self.rng)

    def sample(self, n: int) -> list:
        """``n`` fresh architectures at once."""
        return [self.space.sample(self.rng) for _ in range(n)]

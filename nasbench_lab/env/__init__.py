"""The incremental MDP of the paper (§3.2.1): gymnasium env and vectorised env.

* :class:`IncrementalEnv`: one episode at a time over any SearchSpace + Benchmark.
* :class:`VectorIncrementalEnv`: thousands of episodes at once over a tabular benchmark
  (numpy or torch backend), agreeing step for step with ``IncrementalEnv``.
* :mod:`.neighbours`: neighbour tables aligned with a tabular benchmark's rows (built from the
  space's own neighbour table, cached where the space caches it).

The evaluation protocol of §4 that runs agents in these environments lives a layer up,
in ``nasbench_lab.experiment.protocol`` (``nasbench_lab.run_protocol``).

>>> import nasbench_lab as nl                                             # doctest: +SKIP
>>> env = nl.env.IncrementalEnv(space, bench, n_neighbours=50, alpha=6.0)  # doctest: +SKIP
"""
from __future__ import annotations

import importlib

from .incremental import IncrementalEnv, shape_accuracy, shown_positions

_LAZY = {
    "VectorIncrementalEnv": ".vector", "shown_table": ".vector",
    "NeighbourTable": ".neighbours", "neighbour_table": ".neighbours", "NeighbourTableError": ".neighbours",
}


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    if name in {"vector", "neighbours", "incremental"}:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["IncrementalEnv", "shape_accuracy", "shown_positions", *_LAZY]

"""Studies across benchmarks through the protocol: reuse of trained agents (paper §7).

:func:`reuse` evaluates trained agents on other benchmarks without retraining (for
example an Ape-X agent trained on NB201 CIFAR-10 validation, evaluated on CIFAR-100 and
ImageNet16-120) next to the baselines run on each target, and returns the best-so-far
table.

>>> table, queries = reuse([agent], {"cifar100": c100})   # doctest: +SKIP
"""
from __future__ import annotations

from typing import Any, Sequence

from .protocol import ProtocolConfig, run_protocol


def reuse(agents: Sequence[Any], targets: dict[str, Any], baselines: Sequence[str] = ("random_search",
          "random_walk", "local_search"), protocol=None, budgets: Sequence[int] = (50, 100, 150, 300),
          n_resamples: int = 5000, progress: bool = True):
    """Evaluate trained ``agents`` on every target benchmark without retraining.

    ``targets``: ``{name: benchmark}`` (each must share the agents' search space). Runs the
    agents and the baselines through the evaluation protocol on every target and returns
    ``(table, queries)``: the long best-so-far table (``analysis.tables.budget_table`` with a
    ``target`` column) and the query frames.
    """
    import pandas as pd

    from ..analysis import tables

    cfg = protocol or ProtocolConfig(n_sets=5, set_size=1000, budget=max(budgets))
    rows, qs = [], []
    for name, bench in targets.items():
        res = run_protocol(bench, [*baselines, *agents], cfg, progress=progress)
        q = res.queries.assign(benchmark=name)
        qs.append(q)
        t = tables.budget_table(q, budgets=budgets, benchmark=name, n_resamples=n_resamples)
        rows.append(t.assign(target=name))
    return pd.concat(rows, ignore_index=True), pd.concat(qs, ignore_index=True)


__all__ = ["reuse"]

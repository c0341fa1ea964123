"""How good is the weight sharing? Super-net rankings against stand-alone training.

A one-shot search is only as good as its super-net's *ranking*: the architecture it
exports is the best by inherited-weight accuracy, so inherited-weight accuracy must order
architectures as stand-alone training does. NNI's implementations never measure it. Here:

1. **Ground truth.** :func:`standalone` trains every cell of a list stand-alone with the
   live trainer (``benchmarks.live.LiveBenchmark``: Lightning, the bundled digits data,
   every result committed to its SQLite store, so a rerun trains nothing twice) and
   returns their validation and test accuracies. :func:`ground_truth_cells` draws the
   cells uniformly from the space (seeded).
2. **Ranking correlation.** :func:`ranking_quality` evaluates the same cells with a trained
   super-net's inherited weights (``supernet.evaluate``, the same digits validation split)
   and reports Kendall's tau and Spearman's rho with their p-values (``scipy.stats``).
3. **Collapse.** :func:`parameter_free_share` is the share of parameter-free operations
   (skip connections, pooling, ``none``) in exported cells: DARTS on NAS-Bench-201 is known
   to collapse to skip-connection cells.
4. :func:`study` runs every method for several seeds, scores each export (stand-alone
   digits accuracy and, given the NAS-Bench-201 table, its CIFAR-10 test accuracy), and
   returns one tidy frame; :func:`summary` averages it per method.

>>> from nasbench_lab.spaces.nb201 import Cell
>>> parameter_free_share([Cell.from_string("|skip_connect~0|+|skip_connect~0|avg_pool_3x3~1|+|none~0|nor_conv_3x3~1|skip_connect~2|")])
0.8333333333333334
"""
from __future__ import annotations

import dataclasses
import time
from typing import Any, Callable, Iterable, Sequence

import numpy as np

#: operations without weights (the collapse statistic counts these)
PARAMETER_FREE = frozenset({"none", "skip_connect", "avg_pool_3x3", "max_pool_3x3"})


def arch_ops(arch: Any) -> list[str]:
    """The operation names of a cell (NAS-Bench-201 ``Cell.ops``) or genotype (the normal
    and reduction cells' edges of a DARTS ``Genotype``)."""
    ops = getattr(arch, "ops", None)
    if ops is not None:
        return list(ops)
    edges = list(getattr(arch, "normal", ())) + list(getattr(arch, "reduce", ()))
    if not edges:
        raise TypeError(f"cannot read the operations of {arch!r}")
    return [op for op, _ in edges]


def parameter_free_share(archs: Iterable[Any]) -> float:
    """Share of parameter-free operations over every edge of ``archs``."""
    ops = [op for a in archs for op in arch_ops(a)]
    if not ops:
        raise ValueError("no architectures")
    return sum(op in PARAMETER_FREE for op in ops) / len(ops)


def op_shares(archs: Iterable[Any]) -> dict[str, float]:
    """Share of each operation over every edge of ``archs`` (which ops a collapse goes to)."""
    ops = [op for a in archs for op in arch_ops(a)]
    if not ops:
        raise ValueError("no architectures")
    names, counts = np.unique(ops, return_counts=True)
    return {str(n): float(c) / len(ops) for n, c in zip(names, counts)}


def ground_truth_cells(space: Any, n: int = 150, seed: int = 0) -> list:
    """``n`` distinct architectures drawn uniformly with ``space.sample`` (seeded)."""
    rng = np.random.default_rng(seed)
    cells, seen = [], set()
    for _ in range(100 * n):
        c = space.sample(rng)
        if space.key(c) not in seen:
            seen.add(space.key(c))
            cells.append(c)
            if len(cells) == n:
                return cells
    raise ValueError(f"could not draw {n} distinct architectures from the {space.name!r} space")


def standalone(cells: Sequence[Any], space: Any, trainer=None, seeds: Sequence[int] = (0,), store=None,
               progress: bool = False) -> dict[str, np.ndarray]:
    """Stand-alone ``validation`` and ``test`` accuracy (seed means) and the ``seconds`` of
    training of each cell, with the live trainer (``benchmarks.live``; default: the digits
    ``TrainerConfig()``, one thread). Results come from, and go to, its SQLite store."""
    from ..benchmarks.live import LiveBenchmark, TrainerConfig

    bench = LiveBenchmark(space, trainer or TrainerConfig(threads=1), seeds=seeds, store=store)
    it = cells
    if progress:
        from tqdm.auto import tqdm

        it = tqdm(cells, desc="stand-alone training", unit="cell")
    val, test, secs = [], [], []
    for c in it:
        m = bench.query(c)
        val.append(float(m.validation_accuracy))
        test.append(float(m.test_accuracy))
        secs.append(float(m.training_time))
    return {"validation": np.asarray(val), "test": np.asarray(test), "seconds": np.asarray(secs),
            "trained": bench.trained}


@dataclasses.dataclass
class Ranking:
    """Rank agreement of inherited-weight and stand-alone accuracy over ``n`` cells."""

    kendall_tau: float
    kendall_p: float
    spearman_rho: float
    spearman_p: float
    n: int
    inherited: np.ndarray
    """inherited-weight accuracy of each cell (the super-net's scores)"""
    seconds: float
    """wall seconds of evaluating every cell with the super-net"""


def ranking_quality(supernet: Any, cells: Sequence[Any], truth: Sequence[float], split: str = "val") -> Ranking:
    """Kendall's tau and Spearman's rho between ``supernet.evaluate(cell, split)`` and
    ``truth`` (the stand-alone accuracies of the same cells)."""
    from scipy import stats

    truth = np.asarray(truth, dtype=float)
    if len(cells) != len(truth) or len(cells) < 3:
        raise ValueError(f"need >= 3 cells with one stand-alone accuracy each, got {len(cells)} and {len(truth)}")
    from ..device import torch_threads

    t0 = time.perf_counter()
    with torch_threads(1):  # one small forward per cell: one thread is several times faster
        scores = np.asarray([supernet.evaluate(c, split) for c in cells], dtype=float)
    seconds = time.perf_counter() - t0
    tau = stats.kendalltau(scores, truth)
    rho = stats.spearmanr(scores, truth)
    return Ranking(float(tau.statistic), float(tau.pvalue), float(rho.statistic), float(rho.pvalue), len(cells),
                   scores, seconds)


def study(methods: Sequence[str], space: Any = "nb201", seeds: Sequence[int] = (0, 1, 2), n_cells: int = 150,
          max_epochs: int = 20, options: dict | None = None, table: Any = None, trainer=None, store=None,
          search: Callable[..., Any] | None = None, progress: bool = False):
    """Every method of ``methods`` for every seed: one frame row per (method, seed) with
    the ranking correlation of its super-net over ``n_cells`` uniform cells, its export,
    the export's stand-alone digits accuracy and (``table``, a NAS-Bench-201 benchmark)
    its table test accuracy, the parameter-free share of the export, and the search's and
    the stand-alone trainings' seconds (the speed-up weight sharing buys).

    ``options``: ``{method: {...}}`` search options (``max_steps_per_epoch``, ``channels``, ...).
    """
    import pandas as pd

    from .. import spaces
    from . import search as oneshot_search

    search = search or oneshot_search
    space_obj = spaces.get(space) if isinstance(space, str) else space
    cells = ground_truth_cells(space_obj, n_cells, seed=0)
    truth = standalone(cells, space_obj, trainer=trainer, store=store, progress=progress)
    per_cell = float(np.mean(truth["seconds"]))
    rows = []
    for method in methods:
        for seed in seeds:
            t0 = time.perf_counter()
            result = search(method, space_obj, max_epochs=max_epochs, seed=int(seed),
                            **(options or {}).get(method, {}))
            searched = time.perf_counter() - t0
            rank = ranking_quality(result.supernet, cells, truth["validation"])
            export = standalone([result.arch], space_obj, trainer=trainer, store=store)
            row = {"method": method, "seed": int(seed), "export": space_obj.key(result.arch),
                   "kendall_tau": rank.kendall_tau, "kendall_p": rank.kendall_p,
                   "spearman_rho": rank.spearman_rho, "spearman_p": rank.spearman_p, "n_cells": rank.n,
                   "export_inherited": float(result.supernet.evaluate(result.arch)),
                   "export_standalone_validation": float(export["validation"][0]),
                   "export_standalone_test": float(export["test"][0]),
                   "parameter_free_share": parameter_free_share([result.arch]),
                   **{f"share {op}": v for op, v in op_shares([result.arch]).items()},
                   "search_seconds": searched, "standalone_seconds_per_cell": per_cell,
                   "speedup_vs_standalone": per_cell * rank.n / max(searched, 1e-9)}
            if table is not None:
                m = table.query(result.arch)
                row["export_table_test"] = float(m.test_accuracy)
                row["export_table_validation"] = float(m.validation_accuracy)
            rows.append(row)
    frame = pd.DataFrame(rows)
    shares = sorted(c for c in frame.columns if c.startswith("share "))
    frame[shares] = frame[shares].fillna(0.0)  # an op no export uses has share 0
    rest = [c for c in frame.columns if c not in shares]
    at = rest.index("parameter_free_share") + 1
    return frame[rest[:at] + shares + rest[at:]]


def summary(frame):
    """Mean (and std over seeds) of every number of :func:`study`'s frame, per method."""
    numeric = [c for c in frame.columns if c not in ("method", "seed", "export", "n_cells")]
    out = frame.groupby("method", sort=False)[numeric].agg(["mean", "std"])
    out.columns = [f"{a} ({b})" for a, b in out.columns]
    out.insert(0, "seeds", frame.groupby("method", sort=False)["seed"].nunique())
    return out


__all__ = ["PARAMETER_FREE", "Ranking", "arch_ops", "ground_truth_cells", "op_shares", "parameter_free_share",
           "ranking_quality", "standalone", "study", "summary"]

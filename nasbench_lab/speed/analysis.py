"""Speed of the analysis layer: the bootstrap CI of best-so-far curves vs scipy.

``bootstrap``: ``stats.bootstrap_mean_ci`` on 250,000 runs x 300 query budgets with
5,000 resamples (the paper's setting: a 300-query curve over 2.5e5 episodes), and on a
subset the same call against ``scipy.stats.bootstrap`` (percentile method, vectorised)
on the same data, with the per-sample cost (seconds per resample per run per budget).

    nasbench-lab bench bootstrap [--quick]
"""
from __future__ import annotations

import time

import numpy as np

from . import Row, median_time


def _curves(n_runs: int, budget: int, seed: int = 0) -> np.ndarray:
    """Best-so-far curves of random search on an accuracy table (4 decimals, like NB101)."""
    rng = np.random.default_rng(seed)
    out = np.empty((n_runs, budget), dtype=np.float32)
    step = 25_000
    for i in range(0, n_runs, step):
        acc = np.round(0.95 - rng.gamma(2.0, 0.012, size=(min(step, n_runs - i), budget)), 4)
        out[i:i + step] = np.maximum.accumulate(acc, axis=1)
    return out


def bootstrap(quick: bool = False) -> list[Row]:
    from scipy import stats as sps

    from ..analysis.stats import bootstrap_mean_ci

    n_full, budget, resamples = (20_000, 300, 1000) if quick else (250_000, 300, 5000)
    n_sub, sub_resamples = (1000, 100) if quick else (2000, 200)
    x = _curves(n_full, budget)
    cpu = []

    def full():
        c0 = time.process_time()
        bootstrap_mean_ci(x, n_resamples=resamples, seed=0)
        cpu.append(time.process_time() - c0)

    t_full = median_time(full, repeat=1 if not quick else 3)
    sub = x[:n_sub].astype(np.float64)
    t_ours = median_time(lambda: bootstrap_mean_ci(sub, n_resamples=sub_resamples, seed=0), repeat=3)
    t_scipy = median_time(lambda: sps.bootstrap((sub,), np.mean, axis=0, n_resamples=sub_resamples,
                                                method="percentile", vectorized=True, rng=0), repeat=3)
    per_full = t_full / (resamples * n_full * budget)
    per_scipy = t_scipy / (sub_resamples * n_sub * budget)
    return [
        (f"ours: {n_full:,} runs x {budget} budgets, {resamples:,} resamples", t_full, "s", "bootstrap_mean_ci"),
        ("ours: CPU time of that call (all threads)", float(np.median(cpu)), "s", "wall above is shared-machine time"),
        (f"ours: {n_sub:,} runs x {budget} budgets, {sub_resamples} resamples", t_ours, "s", "same data as scipy"),
        (f"scipy.stats.bootstrap: same {n_sub:,} x {budget}, {sub_resamples} resamples", t_scipy, "s",
         "percentile, vectorized"),
        ("speed-up on the same data (scipy / ours)", t_scipy / t_ours, "x", ""),
        ("ours per sample (full size)", per_full * 1e9, "ns", "per resample x run x budget"),
        ("scipy per sample (subset)", per_scipy * 1e9, "ns", "per resample x run x budget"),
        ("per-sample ratio (scipy subset / ours full)", per_scipy / per_full, "x", ""),
    ]


SECTIONS = {"bootstrap": bootstrap}

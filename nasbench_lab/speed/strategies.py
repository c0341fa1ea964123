"""``nasbench-lab bench strategies``: ask + tell cost per trial of every multi-trial strategy.

Each registry strategy with ``ask``/``tell`` runs 300 trials on NAS-Bench-201 (the shared
table; NAS-Bench-Moons when it is absent), three times, and reports the cost of one ask +
tell (the benchmark query excluded) amortised over the run: the run's total ask + tell
time divided by its trials, the median of the three runs, against random search's in the
same process, with one torch / BLAS thread as ``experiment.compare`` runs them. Amortised, because the learners pay in bursts (PolicyBasedRL's PPO update
every 20 tells, REINFORCE's per-tell gradient step), which a per-call median would hide.
TPE's cost grows with the trials told: it is also shown near trials 50, 150 and 300 (the
mean of the 10 trials before each).
"""
from __future__ import annotations

import statistics
import time

from . import Row


def _costs(cls, bench, n: int) -> list[float]:
    """Seconds of each ask + tell (query excluded) over ``n`` trials."""
    s = cls(bench.space, seed=0)
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        try:
            arch = s.ask()
        except StopIteration:
            break
        t1 = time.perf_counter()
        m = bench.query(arch)
        t2 = time.perf_counter()
        s.tell(arch, m)
        out.append((t1 - t0) + (time.perf_counter() - t2))
    return out


REPEATS = 3


def strategy_costs(quick: bool) -> list[Row]:
    from threadpoolctl import threadpool_limits

    from ..device import torch_threads
    from .. import strategies
    from ..experiment.protocol import is_incremental
    from .experiment import _benchmark

    bench, label = _benchmark()
    n = 100 if quick else 300
    rows: list[Row] = []
    _costs(strategies.get("random_search"), bench, n)  # warm-up (imports, caches)
    names = [n_ for n_ in strategies.names() if not is_incremental(strategies.get(n_))]
    with torch_threads(1), threadpool_limits(1):  # as experiment.compare runs them
        runs = {name: [_costs(strategies.get(name), bench, n) for _ in range(1 if quick else REPEATS)]
                for name in names}
    per_trial = {name: statistics.median(sum(c) / len(c) for c in r) for name, r in runs.items()}
    ref = per_trial["random_search"]
    for name in names:
        cost = per_trial[name]
        rows.append((f"{name}: ask + tell per trial (amortised), {label}", cost * 1e6, "us/trial",
                     f"{cost / ref:,.1f}x random_search, {len(runs[name][0])} trials x {len(runs[name])} runs"))
        if name == "tpe":
            for k in (50, 150, 300):
                if k <= len(runs[name][0]):
                    near = statistics.median(statistics.fmean(c[max(0, k - 10): k]) for c in runs[name])
                    rows.append((f"tpe: ask + tell near trial {k}", near * 1e6, "us/trial", ""))
    return rows


SECTIONS = {"strategies": strategy_costs}

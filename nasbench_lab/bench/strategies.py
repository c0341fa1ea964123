"""``nasbench-lab bench strategies``: ask + tell cost per trial of every multi-trial strategy.

Each registry strategy with ``ask``/``tell`` runs 300 trials on NAS-Bench-201 (the shared
table; NAS-Bench-Moons when it is absent) and reports the median cost of one ask + tell
(the benchmark query excluded), against random search's in the same process. TPE's cost
grows with the trials told: it is shown at 50, 150 and 300.
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


def strategy_costs(quick: bool) -> list[Row]:
    from .. import strategies
    from ..experiment.protocol import is_incremental
    from .experiment import _benchmark

    bench, label = _benchmark()
    n = 100 if quick else 300
    rows: list[Row] = []
    _costs(strategies.get("random_search"), bench, n)  # warm-up (imports, caches)
    names = [n_ for n_ in strategies.names() if not is_incremental(strategies.get(n_))]
    measured = {name: _costs(strategies.get(name), bench, n) for name in names}
    ref = statistics.median(measured["random_search"])
    for name in names:
        costs = measured[name]
        med = statistics.median(costs)
        rows.append((f"{name}: ask + tell, {label}", med * 1e6, "us/trial",
                     f"{med / ref:,.1f}x random_search, {len(costs)} trials"))
        if name == "tpe":
            for k in (50, 150, 300):
                if k <= len(costs):
                    window = costs[max(0, k - 10): k]
                    rows.append((f"tpe: ask + tell near trial {k}", statistics.median(window) * 1e6, "us/trial", ""))
    return rows


SECTIONS = {"strategies": strategy_costs}

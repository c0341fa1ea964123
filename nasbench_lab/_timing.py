"""Wall-clock medians: the one timer of the speed figures (``nasbench-lab bench``, Fig. 16)."""
from __future__ import annotations

import statistics
import time
from typing import Callable


def median_time(fn: Callable[[], object], repeat: int = 5, number: int = 1) -> float:
    """Median wall time in seconds of ``number`` calls of ``fn``, over ``repeat`` runs."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        times.append((time.perf_counter() - t0) / number)
    return statistics.median(times)


__all__ = ["median_time"]

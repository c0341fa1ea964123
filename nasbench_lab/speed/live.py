"""Live training and zero-cost proxy throughput per search space, on the bundled digits.

``nasbench-lab bench live-training proxies`` prints cells trained per second
(``live.train_cell`` with the default small budget: 3 epochs of 17 minibatches, default
network sizes, one torch thread, Lightning on the CPU or the GPU it finds) and proxy scores
per second (NASWOT and synflow, default batch sizes). Architectures are sampled from each
space with seed 0; each is timed once and the rate is 1 / the median time per
architecture (model building included). No reference implementation is named for these
figures, so no ratio row.
"""
from __future__ import annotations

import statistics
import time

import numpy as np

from . import Row

CELL_SPACES = ("nb101", "nb201", "darts")


def _samples(name: str, n: int) -> list:
    from .. import spaces

    space = spaces.get(name)
    rng = np.random.default_rng(0)
    return [space.sample(rng) for _ in range(n)]


def _median_each(fn, items) -> float:
    times = []
    for it in items:
        t0 = time.perf_counter()
        fn(it)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def live_training(quick: bool) -> list[Row]:
    from ..benchmarks.live import TrainerConfig, train_cell
    from ..device import default_device, torch_threads

    config = TrainerConfig(threads=1, max_steps=8 if quick else -1)
    budget = f"{config.max_steps} steps" if quick else f"{config.epochs} epochs x 17 steps"
    rows: list[Row] = []
    with torch_threads(1):
        for name in CELL_SPACES:
            archs = _samples(name, 2 if quick else 5)
            train_cell(archs[0], TrainerConfig(threads=1, max_steps=1))  # warm-up: imports, data
            results = []

            def run(arch):
                results.append(train_cell(arch, config, seed=0))

            t = _median_each(run, archs)
            fit = statistics.median(r.training_time for r in results)
            acc = statistics.median(r.validation_accuracy for r in results)
            rows.append((f"{name} cells trained on digits", 1.0 / t, "cells/s",
                         f"{budget}, {default_device()}; fit {fit:.2f}s of {t:.2f}s, "
                         f"median val acc {acc:.3f}"))
    return rows


def proxy_speed(quick: bool) -> list[Row]:
    from ..benchmarks.proxies import DEFAULT_BATCH, PROXIES, score
    from ..device import torch_threads

    rows: list[Row] = []
    with torch_threads(1):
        for name in (*CELL_SPACES, "mlp"):
            archs = _samples(name, 3 if quick else 20)
            batch = DEFAULT_BATCH["mlp" if name == "mlp" else "cells"]
            for proxy in PROXIES:
                score(archs[0], proxy)  # warm-up
                t = _median_each(lambda a: score(a, proxy), archs)
                note = f"batch {batch}" if proxy == "naswot" else "one all-ones input, float64"
                rows.append((f"{name} {proxy} scores", 1.0 / t, "scores/s", f"{note}, CPU"))
    return rows


SECTIONS = {"live-training": live_training, "proxies": proxy_speed}

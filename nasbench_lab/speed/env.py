"""``nasbench-lab bench env``: environment steps/s (paper Fig. 16).

For every tabular benchmark available here (NAS-Bench-Moons, NAS-Bench-201 from the shared
CSV, NAS-Bench-101 once its neighbour table is cached) the vectorised env is timed at
vectorisation degrees 1, 8, 64, 512, 4096 with random-walk actions and autoreset, on the
numpy backend and the torch backend (CPU, and the GPU when present). The reference, run in
the same process, is the single gymnasium ``IncrementalEnv`` (one episode at a time,
Python objects and benchmark queries); the ratio row compares the best vectorised figure
with it. :func:`throughput` returns the same numbers as a DataFrame for the Fig. 16 plot
(the main job and notebook 05 draw it).
"""
from __future__ import annotations

import time
from typing import Any, Sequence

import numpy as np

from . import median_time


def env_benchmarks() -> dict[str, Any]:
    """The tabular benchmarks to time here: those the catalogue finds (moons, nb201), and
    NAS-Bench-101 once its neighbour table is cached (its official file when present, else
    ``benchmarks.testing.nb101_fixture_benchmark``: the env's speed does not depend on the numbers)."""
    from ..benchmarks import catalogue
    from ..benchmarks.testing import nb101_fixture_benchmark
    from ..env.neighbours import table_is_ready
    from ..spaces import get

    out = catalogue.available(("moons", "nb201"))
    if table_is_ready(get("nb101")):
        found = catalogue.available(("nb101",))
        out.update(found or {"nb101-fixture": nb101_fixture_benchmark()})
    return out


def _time_env(venv, steps: int, repeat: int) -> float:
    def run():
        venv.reset()
        for _ in range(steps):
            venv.step(venv.random_actions())
        if venv.backend == "torch" and venv.device.startswith("cuda"):
            import torch
            torch.cuda.synchronize()

    run()  # warm-up (allocations, CUDA context)
    return median_time(run, repeat=repeat)


def throughput(benchmarks: dict[str, Any] | None = None, degrees: Sequence[int] = (1, 8, 64, 512, 4096),
               backends: Sequence[str] = ("numpy", "torch"), devices: Sequence[str] | None = None,
               steps: int = 64, repeat: int = 3, n_neighbours: int = 50, max_steps: int = 16,
               reference_steps: int = 200, seed: int = 0, cpu_threads: int | None = 1):
    """Env steps per second of the vectorised env (random-walk actions, autoreset).

    Returns a DataFrame with columns ``benchmark, implementation, backend, device,
    n_envs, steps_per_second``. ``implementation`` is ``"vector"`` for
    :class:`~nasbench_lab.env.vector.VectorIncrementalEnv` and ``"gymnasium"`` for the
    single :class:`~nasbench_lab.env.incremental.IncrementalEnv` (the reference, at
    ``n_envs=1``). Devices: CPU, plus ``cuda`` for torch when available. The torch CPU
    backend runs with ``cpu_threads`` intra-op threads (None: torch's default).
    ``benchmarks``: ``{name: tabular benchmark}`` (default :func:`env_benchmarks`).

    >>> frame = throughput(degrees=(1, 64), steps=16)   # doctest: +SKIP
    """
    import pandas as pd

    from ..device import default_device, torch_threads
    from ..env.incremental import IncrementalEnv
    from ..env.neighbours import neighbour_table
    from ..env.vector import VectorIncrementalEnv

    benchmarks = env_benchmarks() if benchmarks is None else benchmarks
    if devices is None:
        devices = ["cpu"] + (["cuda"] if default_device() == "cuda" else [])
    rows = []
    for name, bench in benchmarks.items():
        table = neighbour_table(bench.space, bench)
        for backend in backends:
            for device in (devices if backend == "torch" else ["cpu"]):
                for b in degrees:
                    venv = VectorIncrementalEnv(table, bench.validation, bench.keys, b,
                                                n_neighbours=n_neighbours, max_steps=max_steps, seed=seed,
                                                backend=backend, device=device, autoreset=True)
                    with torch_threads(cpu_threads if backend == "torch" and device == "cpu" else None):
                        sec = _time_env(venv, steps, repeat)
                    rows.append((name, "vector", backend, device, b, b * steps / sec))
        # the reference: one gymnasium env, Python objects, benchmark queries
        env = IncrementalEnv(bench.space, bench, n_neighbours=n_neighbours, max_steps=max_steps, seed=seed)
        rng = np.random.default_rng(seed)
        env.reset(seed=seed)
        t0 = time.perf_counter()
        n_done = 0
        _, info = env.reset()
        while n_done < reference_steps:
            valid = np.flatnonzero(info["action_mask"])
            _, _, term, trunc, info = env.step(int(valid[rng.integers(len(valid))]))
            n_done += 1
            if term or trunc:
                _, info = env.reset()
        rows.append((name, "gymnasium", "python", "cpu", 1, n_done / (time.perf_counter() - t0)))
    return pd.DataFrame(rows, columns=["benchmark", "implementation", "backend", "device", "n_envs",
                                       "steps_per_second"])


def _env_rows(quick: bool):
    degrees = (1, 64, 4096) if quick else (1, 8, 64, 512, 4096)
    frame = throughput(degrees=degrees, steps=16 if quick else 64, repeat=3 if quick else 5,
                       reference_steps=100 if quick else 500)
    rows = []
    for r in frame.itertuples():
        if r.implementation == "gymnasium":
            label = f"{r.benchmark} IncrementalEnv (reference)"
        else:
            label = f"{r.benchmark} vector {r.backend}/{r.device} B={r.n_envs}"
        rows.append((label, float(r.steps_per_second), "steps/s", "median" if r.implementation == "vector" else ""))
    for name, g in frame.groupby("benchmark"):
        ref = g[g.implementation == "gymnasium"].steps_per_second.max()
        best = g[g.implementation == "vector"].steps_per_second.max()
        rows.append((f"{name} best vector / reference", float(best / ref), "x", "same process"))
    if not rows:
        rows.append(("no tabular benchmark available", 0.0, "", "moons/nb201/nb101 missing"))
    return rows


SECTIONS = {"env": _env_rows}

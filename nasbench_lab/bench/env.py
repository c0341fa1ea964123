"""``nasbench-lab bench env``: environment steps/s (paper Fig. 16).

For every tabular benchmark available here (NAS-Bench-Moons, NAS-Bench-201 from the shared
CSV, NAS-Bench-101 once its neighbour table is cached) the vectorised env is timed at
vectorisation degrees 1, 8, 64, 512, 4096 with random-walk actions and autoreset, on the
numpy backend and the torch backend (CPU, and the GPU when present). The reference, run in
the same process, is the single gymnasium ``IncrementalEnv`` (one episode at a time,
Python objects and benchmark queries); the ratio row compares the best vectorised figure
with it. ``nasbench_lab.env.vector.throughput()`` returns the same numbers as a DataFrame
for the Fig. 16 plot.
"""
from __future__ import annotations


def _env_rows(quick: bool):
    from ..env.vector import throughput

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

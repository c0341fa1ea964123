"""``nasbench-lab bench experiment``: durable trials per second through the Experiment.

Random search on NB201 (the shared table; NAS-Bench-Moons when it is absent) through
``Experiment.run`` (in-process path: every trial journalled in SQLite with the strategy's
checkpointed state) against the bare ask/query/tell loop in the same process. Goal:
>= 10,000 durable trials/s and an overhead <= 3x the bare loop.
"""
from __future__ import annotations

import os
import tempfile

from . import Row, median_time


def _benchmark():
    from ..benchmarks import catalogue, load

    if catalogue.locate("nb201") is not None:
        return load("nb201"), "nb201"
    return load("moons"), "moons (NB201 table absent)"


def experiment_trials(quick: bool) -> list[Row]:
    from ..experiment import Experiment, ExperimentConfig
    from ..strategies import get

    bench, label = _benchmark()
    n = 5_000 if quick else 50_000
    cls = get("random_search")

    def bare():
        s = cls(bench.space, seed=0)
        for _ in range(n):
            arch = s.ask()
            s.tell(arch, bench.query(arch))

    with tempfile.TemporaryDirectory() as tmp:
        old = os.environ.get("NASBENCH_LAB_EXPERIMENTS")
        os.environ["NASBENCH_LAB_EXPERIMENTS"] = tmp
        try:
            made = []

            def durable():
                exp = Experiment(ExperimentConfig(benchmark=bench, strategy="random_search", max_trial_number=n,
                                                  seed=0))
                exp.run()
                made.append(exp)

            t_bare = median_time(bare, repeat=5)
            t_exp = median_time(durable, repeat=5)
            for exp in made:  # every trial was journalled
                assert exp.get_status() == "DONE" and exp._store.n_trials() == n
        finally:
            if old is None:
                os.environ.pop("NASBENCH_LAB_EXPERIMENTS", None)
            else:
                os.environ["NASBENCH_LAB_EXPERIMENTS"] = old
    return [
        (f"bare ask/query/tell loop, {label}", n / t_bare, "trials/s", f"{n:,} trials, median of 5"),
        (f"Experiment.run, durable journal, {label}", n / t_exp, "trials/s",
         "goal >= 10,000 (store creation and registry included)"),
        ("overhead: Experiment / bare loop", t_exp / t_bare, "x", "goal <= 3"),
    ]


SECTIONS = {"experiment": experiment_trials}

"""Performance estimation: tabular, surrogate, live-training and zero-cost benchmarks.

``load(name, path=None, *, fallback=None, **options)`` is the one entry point; the names
it takes, where it looks for files and how to get the missing ones are the catalogue
(:mod:`.catalogue`)::

    load("moons")                                   # bundled NAS-Bench-Moons (offline)
    load("nb201")                                   # the table found here, or BenchmarkNotFound
    load("nb201", path="nb201.csv", validation="cifar10_valid_12", test="cifar10_test_200")
    load("nb101", path="nasbench_only108.tfrecord")  # or the built cache
    load("nb301", path="nb_models_1.0/xgb_v1.0")
    load("nb201", fallback="moons")                 # moons, with a warning, when nb201 is absent
    load("live:nb201", seeds=(0, 1))                # trains on demand (LiveBenchmark)
    load("live:moons")                              # MLP chains trained on HalfMoons (MoonsTrainer)
    load("proxy:nb201", proxy="synflow")            # a zero-cost proxy (ProxyBenchmark)
"""
from __future__ import annotations

from .base import Benchmark, BenchmarkFileError, Metrics, NotInBenchmark
from .catalogue import BenchmarkFallbackWarning, BenchmarkNotFound, load, locate, names

__all__ = ["Benchmark", "BenchmarkFallbackWarning", "BenchmarkFileError", "BenchmarkNotFound", "Metrics",
           "NotInBenchmark", "load", "locate", "names"]

"""Performance estimation: tabular, surrogate, live-training and zero-cost benchmarks.

``load(name, path=None, **options)`` is the one entry point::

    load("moons")                                   # bundled NAS-Bench-Moons (offline)
    load("nb201", path="nb201.csv", validation="cifar10_valid_12", test="cifar10_test_200")
    load("nb101", path="nasbench_only108.tfrecord")  # or the built cache
    load("nb301", path="nb_models_1.0/xgb_v1.0")
"""
from __future__ import annotations

import gzip
import importlib
import zlib

from .base import Benchmark, BenchmarkFileError, Metrics, NotInBenchmark

#: benchmark name -> (module, loader function)
_LOADERS = {
    "nb101": ("nasbench_lab.benchmarks.nb101", "load"),
    "nb201": ("nasbench_lab.benchmarks.nb201", "load"),
    "nb301": ("nasbench_lab.benchmarks.nb301", "load"),
    "moons": ("nasbench_lab.benchmarks.moons", "load"),
    "tabular": ("nasbench_lab.benchmarks.tabular", "load"),
}


def names() -> list[str]:
    return sorted(_LOADERS)


def load(name: str, path=None, **options) -> Benchmark:
    """Load benchmark ``name`` (see module docstring)."""
    try:
        module, attr = _LOADERS[name]
    except KeyError:
        raise KeyError(f"unknown benchmark {name!r}; known: {', '.join(names())}") from None
    try:
        return getattr(importlib.import_module(module), attr)(path, **options)
    except (EOFError, gzip.BadGzipFile, zlib.error) as e:  # a truncated or corrupt compressed table
        where = path if path is not None else f"the default {name} file"
        raise BenchmarkFileError(f"{name}: {where} is truncated or corrupt ({type(e).__name__}: {e}); "
                                 "fetch or rebuild it") from None


__all__ = ["Benchmark", "BenchmarkFileError", "Metrics", "NotInBenchmark", "load", "names"]

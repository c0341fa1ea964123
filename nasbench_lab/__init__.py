"""nasbench_lab: a Jupyter research workbench for Neural Architecture Search.

Layers (dependencies point downwards only)::

    spaces      architectures as immutable values
    benchmarks  performance estimation: query(arch) -> Metrics
    env         the incremental MDP (gymnasium API, vectorised)
    strategies  multi-trial (ask/tell) strategies and incremental agents
    analysis    statistics, figures, tables from result frames

Notebooks use ``import nasbench_lab as nl`` and reach the layers as attributes
(``nl.spaces``, ``nl.benchmarks``, ...); they are imported lazily so that
``import nasbench_lab`` stays cheap.
"""
from __future__ import annotations

import importlib

__version__ = "0.1.0"

_SUBMODULES = {"spaces", "benchmarks", "env", "strategies", "analysis", "oneshot", "experiment", "cli", "paths", "notebook", "widgets"}


def __getattr__(name: str):
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module 'nasbench_lab' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_SUBMODULES))

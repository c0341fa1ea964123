"""nasbench_lab: a Jupyter research workbench for Neural Architecture Search.

Layers (dependencies point downwards only)::

    spaces      architectures as immutable values
    models      the torch network of an architecture (every space's builder)
    benchmarks  performance estimation: query(arch) -> Metrics
    env         the incremental MDP (gymnasium API, vectorised)
    strategies  multi-trial (ask/tell) strategies and incremental agents
    oneshot     weight-sharing strategies
    experiment  the runner, the paper's protocol, the NNI-style Experiment
    analysis    statistics, figures, tables from result frames

``nasbench_lab.run_protocol`` and ``nasbench_lab.ProtocolConfig`` are the stable names of
the paper's evaluation protocol (``experiment.protocol``).

Notebooks use ``import nasbench_lab as nl`` and reach the layers as attributes
(``nl.spaces``, ``nl.benchmarks``, ...); they are imported lazily so that
``import nasbench_lab`` stays cheap.
"""
from __future__ import annotations

import importlib

__version__ = "0.1.0"

_SUBMODULES = {"spaces", "models", "benchmarks", "env", "strategies", "analysis", "oneshot", "experiment", "cli", "paths",
               "device", "notebook", "widgets"}


#: stable top-level names -> the module that defines them
_NAMES = {"run_protocol": "experiment.protocol", "ProtocolConfig": "experiment.protocol",
          "ProtocolResult": "experiment.protocol"}


def __getattr__(name: str):
    if name in _NAMES:
        return getattr(importlib.import_module(f"{__name__}.{_NAMES[name]}"), name)
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module 'nasbench_lab' has no attribute {name!r}")


def __dir__():
    """The public names only: the lazily imported modules, the stable names and the version
    (not this module's own helpers such as ``importlib`` or ``annotations``)."""
    return sorted(["__version__", *_SUBMODULES, *_NAMES])

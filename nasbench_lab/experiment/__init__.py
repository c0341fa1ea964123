"""Running strategies: the one runner, the paper's protocol and the NNI-style Experiment.

* :func:`run` (``runner.run``): any strategy against any evaluator under a query budget,
  as a query frame (``schema.QUERY_COLUMNS``).
* :func:`run_protocol` / :class:`ProtocolConfig` (``protocol``): the paper's evaluation
  protocol (S sets of M initial states, query counting of §4.1.2); also
  ``nasbench_lab.run_protocol`` and ``nasbench_lab.ProtocolConfig``.
* :class:`Experiment` / :class:`ExperimentConfig`: NNI's Experiment API, journalled in
  SQLite, resumable after any crash.

Submodules are imported lazily, so ``import nasbench_lab.experiment`` stays cheap.
"""
from __future__ import annotations

import importlib

_LAZY = {
    "run": ".runner", "compare": ".runner", "trials": ".runner", "Trial": ".runner", "build_strategy": ".runner",
    "resolve_benchmark": ".runner", "query_rows": ".runner",
    "ProtocolConfig": ".protocol", "ProtocolResult": ".protocol", "run_protocol": ".protocol",
    "initial_state_sets": ".protocol", "query_frame": ".protocol", "save_frame": ".protocol",
    "load_frame": ".protocol", "load_results": ".protocol", "ResultFileError": ".protocol",
    "Experiment": ".experiment", "ExperimentConfig": ".config", "parse_duration": ".config",
    "TrialResult": ".records", "TrialJob": ".records", "TrialMetricData": ".records",
    "ExperimentError": ".store",
}


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    if name in {"runner", "protocol", "experiment", "config", "store", "records", "studies", "dashboard", "commands"}:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_LAZY))


__all__ = list(_LAZY)

"""Column schemas of the tidy result frames every strategy writes and ``analysis`` reads.

Episode frame (one row per episode of the evaluation protocol)
--------------------------------------------------------------
==================  ======  =====================================================
column              dtype   meaning
==================  ======  =====================================================
benchmark           str     benchmark name (``"nb101"``, ``"moons"``, ...)
agent               str     strategy name (``"local_search"``, ...)
seed                int     the agent's (training) seed
set                 int     index of the set of initial states (0..S-1)
episode             int     index of the initial state within its set (0..M-1)
initial_key         str     key of the initial architecture
final_key           str     key of the architecture the episode ended at
initial_validation  float   validation accuracy (fraction) of the initial arch
initial_test        float   test accuracy of the initial arch (NaN if none)
final_validation    float   validation accuracy of the final arch
final_test          float   test accuracy of the final arch (NaN if none)
steps               int     environment steps taken
queries             int     benchmark queries charged (paper §4.1.2 rule)
terminated          bool    the agent chose to stop
truncated           bool    the episode hit the step limit
==================  ======  =====================================================

Query frame (one row per query of a search run, best-so-far carried forward)
----------------------------------------------------------------------------
==================  ======  =====================================================
benchmark, agent, seed, set   as above
run                 int     index of the search run within (agent, seed, set)
query               int     1-based query index within the run
validation          float   validation accuracy of the architecture queried
test                float   its test accuracy (NaN if none)
best_validation     float   best validation accuracy seen so far in the run
best_test           float   test accuracy of that best-by-validation arch
oracle_test         float   best test accuracy seen so far (the labelled oracle)
==================  ======  =====================================================
"""
from __future__ import annotations

EPISODE_COLUMNS = {
    "benchmark": "str", "agent": "str", "seed": "int64", "set": "int64", "episode": "int64",
    "initial_key": "str", "final_key": "str",
    "initial_validation": "float64", "initial_test": "float64",
    "final_validation": "float64", "final_test": "float64",
    "steps": "int64", "queries": "int64", "terminated": "bool", "truncated": "bool",
}

QUERY_COLUMNS = {
    "benchmark": "str", "agent": "str", "seed": "int64", "set": "int64", "run": "int64",
    "query": "int64", "validation": "float64", "test": "float64",
    "best_validation": "float64", "best_test": "float64", "oracle_test": "float64",
}


def check_frame(frame, columns: dict) -> None:
    """Raise ValueError naming any missing column of ``columns`` in ``frame``."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"result frame lacks columns {missing}; expected {list(columns)}")

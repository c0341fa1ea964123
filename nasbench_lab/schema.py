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
key                 str     key of the architecture reported at this query ("" if none)
validation          float   validation accuracy of the architecture queried
test                float   its test accuracy (NaN if none)
best_validation     float   best validation accuracy seen so far in the run
best_test           float   test accuracy of that best-by-validation arch
oracle_test         float   best test accuracy seen so far (the labelled oracle)
==================  ======  =====================================================

Every producer (the protocol, the runner, the Experiment) and every reader (``analysis``)
computes the three best-so-far columns with :func:`carry_best`, the one place that
writes the rule down.
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
    "query": "int64", "key": "str", "validation": "float64", "test": "float64",
    "best_validation": "float64", "best_test": "float64", "oracle_test": "float64",
}


#: version of the two schemas above; stored results record it
SCHEMA_VERSION = 2


def carry_best(validation, test, run=None):
    """The best-so-far rule: ``(best_validation, best_test, oracle_test)`` arrays.

    Within each run (``run``: one label per row, rows of a run contiguous and in query
    order; None: a single run) ``best_validation`` is the running maximum of
    ``validation``; ``best_test`` is the test accuracy of the row that set it, the earlier
    row on ties (a search only switches on a strict improvement); ``oracle_test`` is the
    running maximum of ``test``. NaN validations (queries that report nothing, failed
    trials) carry the best forward and never become it; before a run's first report
    everything is NaN.

    >>> bv, bt, ot = carry_best([.5, .7, float("nan"), .7], [.4, .6, .1, .9])
    >>> bv.tolist(), bt.tolist(), ot.tolist()
    ([0.5, 0.7, 0.7, 0.7], [0.4, 0.6, 0.6, 0.6], [0.4, 0.6, 0.6, 0.9])
    """
    import numpy as np

    val = np.asarray(validation, dtype=np.float64)
    test = np.asarray(test, dtype=np.float64)
    n = len(val)
    if test.shape != val.shape:
        raise ValueError(f"validation and test differ in length ({n} vs {len(test)})")
    if n == 0:
        e = np.empty(0)
        return e, e.copy(), e.copy()
    if run is None:
        starts = np.zeros(1, np.int64)
    else:
        run = np.asarray(run)
        if run.shape != val.shape:
            raise ValueError(f"run labels and values differ in length ({len(run)} vs {n})")
        starts = np.flatnonzero(np.concatenate([[True], run[1:] != run[:-1]]))
    best_v, best_t, oracle = (np.full(n, np.nan) for _ in range(3))
    for lo, hi in zip(starts, np.r_[starts[1:], n]):
        v, t = val[lo:hi], test[lo:hi]
        run_max = np.maximum.accumulate(np.where(np.isnan(v), -np.inf, v))
        prev = np.r_[-np.inf, run_max[:-1]]
        setter = np.maximum.accumulate(np.where(v > prev, np.arange(hi - lo), -1))  # strict: ties keep the earlier
        has = setter >= 0
        best_v[lo:hi][has] = v[setter[has]]
        best_t[lo:hi][has] = t[setter[has]]
        acc = np.maximum.accumulate(np.where(np.isnan(t), -np.inf, t))
        oracle[lo:hi] = np.where(np.isinf(acc), np.nan, acc)
    return best_v, best_t, oracle


def check_frame(frame, columns: dict) -> None:
    """Raise ValueError naming any missing column of ``columns`` in ``frame``."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"result frame lacks columns {missing}; expected {list(columns)}")

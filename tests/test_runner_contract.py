"""One contract over every registry entry, run through the one runner on every benchmark.

For each (strategy, benchmark) pair ``nasbench_lab.experiment.run(name, bench, budget=B,
seed=0)`` either refuses with a ``ValueError`` naming the strategy and the space (a
strategy that does not fit the space, listed in ``REFUSES``), or returns one search run
whose query frame

* has exactly the columns and dtypes of ``schema.QUERY_COLUMNS``, one row per query 1..B,
  ``set`` and ``run`` 0, and the run's benchmark, agent and seed,
* reports only real architectures: every non-empty ``key`` is an architecture of the
  benchmark whose validation (and test) accuracy is the row's, and a row without a key
  reports nothing (NaN),
* carries the best so far as the paper does: ``best_validation`` is non-decreasing and the
  running maximum of the non-NaN ``validation`` column; ``best_test`` is the test accuracy
  of the best-by-validation key (the first one on ties); ``oracle_test`` the running
  maximum of ``test``, all recomputed here with a plain loop (not ``schema.carry_best``),
* is reproducible: the same seed gives the identical frame, another seed other keys (for
  the strategies with randomness of their own, see ``NO_OWN_RANDOMNESS``).

Benchmarks: NAS-Bench-Moons (bundled), the real NAS-Bench-201 table (``../shared/data``;
skipped with the reason when absent), NAS-Bench-101 cells with FIXTURE accuracies
(``benchmarks.testing.nb101_fixture_benchmark``: seeded made-up numbers for all 423,624 cells) and
a NAS-Bench-301 FIXTURE surrogate (a 2-member XGB ensemble fitted here on made-up
accuracies; no test accuracy). Ape-X runs untrained (greedy on its seeded initial weights).
"""
from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest

from nasbench_lab import experiment, strategies
from nasbench_lab.schema import QUERY_COLUMNS

BENCHMARKS = ("moons", "nb201", "nb101", "nb301")

#: (strategy, benchmark) pairs where the strategy does not fit the space: REINFORCE writes
#: MLP chains (ChainSpace) only
REFUSES = {("grid_search", "nb301")}  # the DARTS space is not enumerable

#: strategies whose choices depend on the seed through nothing but the initial states:
#: local search is deterministic hill climbing from the states the runner draws
#: (``ProtocolConfig.initial_seed``), so another agent seed need not change its keys
NO_OWN_RANDOMNESS = {"local_search"}

DEFAULT_BUDGET = 30
#: local search is charged every shown neighbour (§4.1.2): a longer budget gets it past
#: its first steps. The NB301 surrogate has no neighbour table, so its runs go episode by
#: episode through the gymnasium env (seconds per run): small budgets there (local search:
#: one step of 50 shown neighbours).
BUDGETS = {("local_search", "*"): 150, ("local_search", "nb301"): 50, ("apex", "nb301"): 6,
           ("random_walk", "nb301"): 8, ("policy_based_rl", "nb301"): 6, ("tpe", "nb301"): 12}

#: what the runner may warn about without it being a failure here
EXPECTED_WARNINGS = (".*no cached neighbour table.*",)


def budget_of(name: str, bench: str) -> int:
    return BUDGETS.get((name, bench), BUDGETS.get((name, "*"), DEFAULT_BUDGET))


# -- the benchmarks (module-scoped: the NB101 fixture and the NB301 surrogate take seconds) --
@pytest.fixture(scope="module")
def nb101():
    """All 423,624 NB101 cells with FIXTURE accuracies (seeded made-up numbers)."""
    try:
        from nasbench_lab.benchmarks.testing import nb101_fixture_benchmark
    except ModuleNotFoundError as e:
        pytest.skip(f"the NB101 fixture benchmark is not available: {e}")
    return nb101_fixture_benchmark(seed=0)


@pytest.fixture(scope="module")
def nb301(tmp_path_factory):
    """A FIXTURE NB301 surrogate: 2 XGB members fitted on made-up accuracies of 64 genotypes."""
    pytest.importorskip("xgboost")
    from nasbench_lab import benchmarks
    from nasbench_lab.benchmarks.nb301 import fit_surrogate
    from nasbench_lab.spaces.darts import DartsSpace

    space = DartsSpace()
    rng = np.random.default_rng(0)
    records = [(space.sample(rng), float(rng.uniform(0.85, 0.95))) for _ in range(64)]
    root = tmp_path_factory.mktemp("nb301_surrogate")
    fit_surrogate(records, root, members=2, num_rounds=20, nthread=1)
    return benchmarks.load("nb301", path=root, runtime=False, nthread=1)


@pytest.fixture
def bench(request, bench_name):
    return request.getfixturevalue(bench_name)


#: the NB101 tests share the worker of the project's other NB101-enumeration tests
PAIRS = [pytest.param(name, b, id=f"{name}-{b}",
                      marks=[pytest.mark.xdist_group("nb101_enum")] if b == "nb101" else [])
         for b in BENCHMARKS for name in strategies.names()]


# -- independent expectations --------------------------------------------------------------
def _table_lookup(bench):
    """``key -> (validation, test)`` of the benchmark, without going through the runner."""
    if hasattr(bench, "row_of") and hasattr(bench, "validation"):
        val, test = np.asarray(bench.validation, dtype=np.float64), np.asarray(bench.test, dtype=np.float64)

        def lookup(key):
            row = bench.row_of(key)
            return float(val[row]), float(test[row])
    else:  # a surrogate: query the architecture the key names
        def lookup(key):
            m = bench.query(bench.space.from_key(key))
            return float(m.validation_accuracy), float(m.test_accuracy)
    return lookup


def _same(a: float, b: float, tol: float = 0.0) -> bool:
    return (math.isnan(a) and math.isnan(b)) or abs(a - b) <= tol


def _expected_best(frame, lookup):
    """(best_validation, best_test, oracle_test) lists by a plain loop over the rows."""
    best_v = best_t = oracle = math.nan
    out_v, out_t, out_o = [], [], []
    for key, v, t in zip(frame["key"], frame["validation"], frame["test"]):
        if not math.isnan(v) and (math.isnan(best_v) or v > best_v):  # strict: ties keep the earlier
            best_v, best_t = v, lookup(key)[1]
        if not math.isnan(t) and (math.isnan(oracle) or t > oracle):
            oracle = t
        out_v.append(best_v), out_t.append(best_t), out_o.append(oracle)
    return out_v, out_t, out_o


def _run(name, bench, budget, seed):
    with warnings.catch_warnings():
        for pattern in EXPECTED_WARNINGS:
            warnings.filterwarnings("ignore", message=pattern)
        return experiment.run(name, bench, budget=budget, seed=seed)


# -- the contract ------------------------------------------------------------------------
@pytest.mark.parametrize("name,bench_name", PAIRS)
def test_runner_contract(name, bench_name, bench):
    budget = budget_of(name, bench_name)
    space_name = getattr(bench.space, "name", None)
    if (name, bench_name) in REFUSES:
        with pytest.raises(ValueError, match=name) as refused:
            _run(name, bench, budget, seed=0)
        assert space_name is None or space_name in str(refused.value), refused.value
        return

    frame = _run(name, bench, budget, seed=0)

    # the schema: exactly QUERY_COLUMNS, in order, with their dtypes; queries 1..B of one run
    assert list(frame.columns) == list(QUERY_COLUMNS)
    for column, dtype in QUERY_COLUMNS.items():
        assert frame[column].dtype == pd.Series(dtype=dtype).dtype, (column, frame[column].dtype, dtype)
    assert frame["query"].tolist() == list(range(1, budget + 1))
    assert frame.index.tolist() == list(range(budget))
    assert (frame["set"] == 0).all() and (frame["run"] == 0).all() and (frame["seed"] == 0).all()
    assert (frame["agent"] == name).all()
    assert (frame["benchmark"] == getattr(bench, "name", "benchmark")).all()

    # every reported key is an architecture of the benchmark with the row's accuracies
    lookup = _table_lookup(bench)
    # a table answers exactly; a surrogate answers one architecture (its numpy forest) and a
    # batch (xgboost, float32) equal to float32 precision, and the frame reports what the
    # environment looked up, in batches
    tol = 0.0 if hasattr(bench, "row_of") else 1e-6
    keys = frame["key"].tolist()
    reported = [k for k in keys if k != ""]
    assert reported, f"{name} on {bench_name}: no architecture reported in {budget} queries"
    for q, key, v, t in zip(frame["query"], keys, frame["validation"], frame["test"]):
        if key == "":
            assert math.isnan(v) and math.isnan(t), f"query {q} reports accuracies without a key"
            continue
        tv, tt = lookup(key)
        assert _same(v, tv, tol), f"query {q}: validation {v!r} but the benchmark has {tv!r} for {key}"
        assert _same(t, tt, tol), f"query {q}: test {t!r} but the benchmark has {tt!r} for {key}"

    # the best so far, recomputed by a plain loop
    bv = frame["best_validation"].to_numpy()
    seen = bv[~np.isnan(bv)]
    assert (np.diff(seen) >= 0).all(), "best_validation decreases"
    assert np.isnan(bv[: len(bv) - len(seen)]).all(), "best_validation is NaN only before the first report"
    ev, et, eo = _expected_best(frame, lookup)
    np.testing.assert_array_equal(bv, np.asarray(ev), err_msg="best_validation is not the running max")
    np.testing.assert_array_equal(frame["best_test"].to_numpy(), np.asarray(et),
                                  err_msg="best_test is not the test accuracy of the best-by-validation key")
    np.testing.assert_array_equal(frame["oracle_test"].to_numpy(), np.asarray(eo),
                                  err_msg="oracle_test is not the running max of test")

    # reproducible: the same seed gives the identical frame, another seed other keys
    pd.testing.assert_frame_equal(_run(name, bench, budget, seed=0), frame)
    if name not in NO_OWN_RANDOMNESS:
        other = _run(name, bench, budget, seed=1)
        assert (other["seed"] == 1).all()
        assert other["key"].tolist() != keys, f"{name} on {bench_name}: seeds 0 and 1 chose the same keys"


# -- the same strategies as Experiments, stopped and resumed ----------------------------------
MULTI_TRIAL = ("random", "grid_search", "regularized_evolution", "tpe", "policy_based_rl", "reinforce")
EXPERIMENT_PAIRS = [pytest.param(name, b, id=f"{name}-{b}",
                                 marks=[pytest.mark.xdist_group("nb101_enum")] if b == "nb101" else [])
                    for b in BENCHMARKS for name in MULTI_TRIAL if (name, b) not in REFUSES]


@pytest.mark.parametrize("name,bench_name", EXPERIMENT_PAIRS)
def test_experiment_stopped_and_resumed_is_the_runner_trace(name, bench_name, bench, tmp_path, monkeypatch):
    """Every NNI strategy (and REINFORCE) on every benchmark through the Experiment: half the
    budget, then resumed from the store (the journal and the pickled ``state_dict``) to the
    whole budget; the trials are those of one uninterrupted runner search with the seed."""
    from nasbench_lab.experiment import Experiment, ExperimentConfig

    monkeypatch.setenv("NASBENCH_LAB_EXPERIMENTS", str(tmp_path / "registry"))
    budget = min(budget_of(name, bench_name), 12)
    options = {"population_size": 4, "sample_size": 2} if name == "regularized_evolution" else {}
    cfg = ExperimentConfig(benchmark=bench, strategy=name, strategy_options=options, seed=1,
                           max_trial_number=budget // 2)
    first = Experiment(cfg)
    assert first.run()
    first.update_max_trial_number(budget)
    resumed = Experiment.resume(first.id, benchmark=bench)
    assert resumed.get_status() == "DONE"
    trials = resumed.trials()
    assert trials["trial"].tolist() == list(range(1, budget + 1))
    reference = experiment.run(name, bench, budget, seed=1, strategy_options=options)
    assert trials["key"].tolist() == reference["key"].tolist()
    np.testing.assert_array_equal(trials["validation"].to_numpy(), reference["validation"].to_numpy())

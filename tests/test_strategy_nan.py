"""Stage 7, item 9: one policy for NaN from an evaluator, and a ``tell`` that raises changes nothing.

NaN is a failed trial: counted in ``trials`` and ``failed``, never the ``best``, no
learning signal (REINFORCE used to turn one NaN into a NaN policy whose next ``ask()``
raised). An invalid architecture or an infinite reward raises before any state changes.
"""
from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import torch

from conftest import chain_benchmark
from nasbench_lab import strategies
from nasbench_lab.spaces.base import InvalidArchitecture
from nasbench_lab.spaces.mlp import Chain
from nasbench_lab.experiment import run
from nasbench_lab.strategies.base import MultiTrialStrategy

MULTI_TRIAL = sorted(n for n in strategies.REGISTRY
                     if isinstance(strategies.get(n), type) and issubclass(strategies.get(n), MultiTrialStrategy))


@pytest.fixture(scope="module")
def bench():
    return chain_benchmark(5)


def _snapshot(s) -> dict:
    state = copy.deepcopy(s.state_dict())
    return {k: (v.clone() if isinstance(v, torch.Tensor) else v) for k, v in state.items()}


def _same(a: dict, b: dict) -> bool:
    def eq(x, y):
        if isinstance(x, torch.Tensor):
            return torch.equal(x, y)
        if isinstance(x, dict):
            return x.keys() == y.keys() and all(eq(x[k], y[k]) for k in x)
        if isinstance(x, (list, tuple)):
            return len(x) == len(y) and all(eq(p, q) for p, q in zip(x, y))
        if isinstance(x, np.ndarray):
            return np.array_equal(x, y)
        return x == y or (isinstance(x, float) and math.isnan(x) and math.isnan(y))
    return eq(a, b)


@pytest.mark.parametrize("name", MULTI_TRIAL)
def test_nan_is_a_failed_trial_never_the_best(name, bench):
    s = strategies.get(name)(bench.space, seed=0)
    first = s.ask()
    s.tell(first, math.nan)
    assert s.best is None and s.trials == 1 and s.failed == 1
    a = s.ask()
    s.tell(a, 0.5)
    s.tell(s.ask(), math.nan)
    assert s.best[1] == 0.5 and s.trials == 3 and s.failed == 2
    assert s.state_dict()["failed"] == 2


def test_reinforce_keeps_asking_after_a_nan_reward(bench):
    s = strategies.get("reinforce")(bench.space, seed=0, batch_size=4)
    for i in range(12):  # three updates' worth of rollouts, every third one failed
        arch = s.ask()
        s.tell(arch, math.nan if i % 3 == 0 else float(bench.query(arch).validation_accuracy))
    assert s.updates == 2 and s.failed == 4
    assert all(torch.isfinite(p).all() for p in s.parameters())
    assert math.isfinite(s.baseline)
    for _ in range(5):
        assert bench.space.is_valid(s.ask())


@pytest.mark.parametrize("name", MULTI_TRIAL)
def test_a_tell_that_raises_changes_no_state(name, bench):
    s = strategies.get(name)(bench.space, seed=0, **({"batch_size": 2} if name == "reinforce" else {}))
    s.tell(s.ask(), 0.6)
    before = _snapshot(s)
    too_deep = Chain(((8, "Tanh"),) * 4)  # max_depth is 3
    with pytest.raises(InvalidArchitecture):
        s.tell(too_deep, 0.99)
    assert _same(_snapshot(s), before) and s.trials == 1 and s.best[1] == 0.6
    with pytest.raises(ValueError, match="infinite"):
        s.tell(s.space.sample(np.random.default_rng(0)), math.inf)
    assert _same(_snapshot(s), before)


def test_run_with_an_evaluator_that_fails(bench):
    class Flaky:
        """Every third query fails (NaN)."""

        def __init__(self, inner):
            self.inner, self.n, self.name, self.space = inner, 0, "flaky", inner.space

        def key(self, arch):
            return self.inner.key(arch)

        def query(self, arch):
            self.n += 1
            m = self.inner.query(arch)
            return m if self.n % 3 else type(m)(validation_accuracy=math.nan, test_accuracy=math.nan)

    s = strategies.get("reinforce")(bench.space, seed=1, batch_size=3)
    frame = run(s, Flaky(bench), 30)
    failed = frame.validation.isna()
    assert failed.sum() == 10 and s.failed == 10 and (frame["query"][failed] % 3 == 0).all()
    assert frame.key.ne("").all()  # a failed trial still names the architecture it asked for
    assert frame.best_validation.notna().all() and s.best[1] == frame.best_validation.iloc[-1]
    # the best so far is the best of the trials that did not fail, never a NaN one
    assert frame.best_validation.iloc[-1] == frame.validation.max()
    assert (frame.best_validation == frame.validation.where(~failed).cummax().ffill()).all()


@pytest.mark.parametrize("name", MULTI_TRIAL)
def test_a_nan_reward_never_becomes_the_best_in_the_runner(name, bench):
    """Every multi-trial strategy through ``experiment.run``: a NaN trial after a good one
    carries the best forward; a NaN first trial leaves the best unknown (NaN), not NaN-best."""
    class FailFirstAndEvenTrials:
        def __init__(self, inner):
            self.inner, self.n, self.name, self.space = inner, 0, "flaky", inner.space

        def query(self, arch):
            self.n += 1
            m = self.inner.query(arch)
            return type(m)(validation_accuracy=math.nan, test_accuracy=0.99) if self.n % 2 else m

    frame = run(name, FailFirstAndEvenTrials(bench), 12, seed=0)
    assert frame.validation.iloc[::2].isna().all() and frame.validation.iloc[1::2].notna().all()
    assert math.isnan(frame.best_validation.iloc[0]) and math.isnan(frame.best_test.iloc[0])
    good = frame.iloc[1::2]
    assert frame.best_validation.iloc[-1] == good.validation.max()
    # the best's test accuracy is a real trial's, never the 0.99 of a failed one
    assert frame.best_test.iloc[-1] == good.test[good.validation.idxmax()] != 0.99

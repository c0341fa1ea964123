"""The common base of multi-trial strategies (ask/tell) and the ``run`` loop.

A multi-trial strategy proposes architectures with ``ask()`` and learns from
``tell(arch, metrics)``; it owns a ``np.random.Generator`` seeded from ``seed`` (learned
strategies add a ``torch.Generator``) and saves/restores everything with
``state_dict()`` / ``load_state_dict()``.

Failed trials, one policy for every strategy: a NaN reward (an evaluator that failed,
a table row without a value) is a *failed trial*. It counts in ``trials`` and in
``failed``, never becomes ``best``, and carries no learning signal (learned strategies
leave it out of their updates). An infinite reward is refused. ``tell`` checks the
architecture (``space.validate``) and the reward before it changes anything: a ``tell``
that raises leaves the strategy exactly as it was.

``run(strategy, benchmark, n_trials)`` drives any of them against any benchmark and
returns a tidy frame, one row per trial:

================  ======  ===========================================================
column            dtype   meaning
================  ======  ===========================================================
trial             int     1-based trial index (also ``query``, as in the query frame)
key               str     key of the architecture asked for
reward            float   what the strategy was told: validation accuracy (fraction)
test              float   test accuracy of that architecture (NaN if none)
best_validation   float   best validation accuracy so far
best_test         float   test accuracy of the best-by-validation architecture so far
oracle_test       float   best test accuracy seen so far
best_key          str     key of the best-by-validation architecture so far
================  ======  ===========================================================

>>> from nasbench_lab import benchmarks, strategies               # doctest: +SKIP
>>> bench = benchmarks.load("moons")                              # doctest: +SKIP
>>> frame = run(strategies.get("reinforce")(bench.space, seed=0), bench, 200)  # doctest: +SKIP
>>> frame.best_test.iloc[-1]                                      # doctest: +SKIP
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

RUN_COLUMNS = ("trial", "query", "key", "reward", "validation", "test", "best_validation",
               "best_test", "oracle_test", "best_key")


def space_of(space_or_benchmark: Any):
    """The search space itself, or the ``.space`` of a benchmark."""
    space = getattr(space_or_benchmark, "space", None)
    if space is not None and not hasattr(space_or_benchmark, "sample"):
        return space
    return space_or_benchmark


def reward_of(metrics: Any) -> float:
    """The validation accuracy of a ``Metrics`` (or a plain number); NaN for a failed trial."""
    r = float(getattr(metrics, "validation_accuracy", metrics))
    if math.isinf(r):
        raise ValueError(f"reward {r} is infinite; tell a validation accuracy in [0, 1], or NaN for a failed trial")
    return r


class MultiTrialStrategy:
    """Base class: the space, the seed, an own ``np.random.Generator``, the best so far.

    Subclasses implement ``ask()`` and ``_observe(arch, reward, metrics)``, and extend
    ``state_dict`` / ``load_state_dict`` with their own state.
    """

    name: str = "multi_trial"

    def __init__(self, space: Any, seed: int = 0) -> None:
        self.space = space_of(space)
        if self.space is None:
            raise ValueError(f"{type(self).__name__} needs a search space (or a benchmark with .space)")
        self.seed = int(seed)
        self.rng = np.random.default_rng(self.seed)
        self.trials = 0
        self.failed = 0
        self.best: tuple[Any, float] | None = None

    def ask(self) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def tell(self, arch: Any, metrics: Any) -> None:
        """Record the result of ``arch`` (``Metrics`` or a validation accuracy; NaN: a
        failed trial). Raises before any state changes on an invalid architecture or an
        infinite reward."""
        reward = reward_of(metrics)
        validate = getattr(self.space, "validate", None)
        if callable(validate):
            arch = validate(arch)
        self._observe(arch, reward, metrics)
        self.trials += 1
        if math.isnan(reward):
            self.failed += 1
        elif self.best is None or reward > self.best[1]:
            self.best = (arch, reward)

    def _observe(self, arch: Any, reward: float, metrics: Any) -> None:
        """Learn from one result (default: nothing); ``arch`` is valid, ``reward`` may be
        NaN (a failed trial). Raises only before changing state."""

    def state_dict(self) -> dict:
        return {"seed": self.seed, "rng": self.rng.bit_generator.state, "trials": self.trials,
                "failed": self.failed, "best": self.best}

    def load_state_dict(self, state: dict) -> None:
        self.seed = int(state["seed"])
        self.rng = np.random.default_rng(self.seed)
        self.rng.bit_generator.state = state["rng"]
        self.trials = int(state["trials"])
        self.failed = int(state.get("failed", 0))
        self.best = state["best"]

    def __repr__(self) -> str:
        return f"{type(self).__name__}(seed={self.seed}, trials={self.trials})"


def run(strategy: Any, benchmark: Any, n_trials: int, progress: bool = False):
    """Ask, query, tell ``n_trials`` times; the tidy per-trial frame (see module docstring)."""
    import pandas as pd

    rows = []
    best_v, best_t, best_key, oracle = -math.inf, math.nan, None, -math.inf
    it = range(1, int(n_trials) + 1)
    if progress:
        from tqdm.auto import tqdm

        it = tqdm(it, desc=getattr(strategy, "name", "run"), unit="trial")
    for trial in it:
        arch = strategy.ask()
        m = benchmark.query(arch)
        strategy.tell(arch, m)
        v = reward_of(m)  # NaN (a failed trial) never becomes the best
        t = float(getattr(m, "test_accuracy", math.nan))
        key = benchmark.key(arch) if hasattr(benchmark, "key") else str(arch)
        if v > best_v:
            best_v, best_t, best_key = v, t, key
        if t == t and t > oracle:
            oracle = t
        rows.append((trial, trial, key, v, v, t, best_v, best_t, oracle if oracle > -math.inf else math.nan, best_key))
    frame = pd.DataFrame(rows, columns=list(RUN_COLUMNS))
    frame.attrs["strategy"] = getattr(strategy, "name", type(strategy).__name__)
    frame.attrs["benchmark"] = getattr(benchmark, "name", type(benchmark).__name__)
    return frame


__all__ = ["MultiTrialStrategy", "RUN_COLUMNS", "reward_of", "run", "space_of"]

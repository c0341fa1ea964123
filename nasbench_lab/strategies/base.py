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

Strategies are run by ``nasbench_lab.experiment`` (``experiment.run`` for one search,
the ``Experiment`` for a durable one), which writes the one query frame of ``schema.py``.

>>> from nasbench_lab.spaces.mlp import ChainSpace
>>> from nasbench_lab.strategies.random_search import RandomSearch
>>> s = RandomSearch(ChainSpace(max_depth=3), seed=0)
>>> arch = s.ask(); s.tell(arch, 0.5); s.tell(s.ask(), float("nan")); (s.trials, s.failed)
(2, 1)
"""
from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np

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
        state = {"seed": self.seed, "rng": self.rng.bit_generator.state, "trials": self.trials,
                 "failed": self.failed, "best": self.best}
        config = getattr(self, "config", None)
        if dataclasses.is_dataclass(config):
            state["config"] = dataclasses.asdict(config)
        return state

    def load_state_dict(self, state: dict) -> None:
        """Restore ``state``; a state saved with other hyperparameters (``config``) is
        refused before anything changes."""
        config = getattr(self, "config", None)
        if dataclasses.is_dataclass(config) and "config" in state and dataclasses.asdict(config) != state["config"]:
            raise ValueError(f"state was saved with config {state['config']}, this strategy has "
                             f"{dataclasses.asdict(config)}")
        self.seed = int(state["seed"])
        self.rng = np.random.default_rng(self.seed)
        self.rng.bit_generator.state = state["rng"]
        self.trials = int(state["trials"])
        self.failed = int(state.get("failed", 0))
        self.best = state["best"]

    def __repr__(self) -> str:
        return f"{type(self).__name__}(seed={self.seed}, trials={self.trials})"


__all__ = ["MultiTrialStrategy", "reward_of", "space_of"]

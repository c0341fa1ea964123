"""The common interface of incremental agents (paper §3.2.3), learned or not.

An agent is built like every strategy, ``cls(space, seed=0, **hyperparameters)``, and
chooses one action per step with ``act(observation, info) -> int`` from what
:class:`~nasbench_lab.env.IncrementalEnv` shows it (``info["action_mask"]``,
``info["arch"]``, ``info["neighbours"]``, and ``info["neighbour_validation"]`` for
agents with ``counts_neighbour_queries``, which are charged those queries). It never
holds the benchmark. Agents that can act on a whole batch of episodes of the vectorised
env also implement ``act_batch(obs, venv) -> np.ndarray`` (the protocol then uses it).

Every agent owns a ``np.random.Generator`` seeded from ``seed``; ``begin_set(i)``
re-derives it from ``(seed, i)`` so that each set of initial states of the evaluation
protocol is reproducible on its own (and resumable). ``state_dict()`` /
``load_state_dict()`` save and restore the seed and the generator state (learned agents
add their weights).

>>> from nasbench_lab.strategies.random_walk import RandomWalk
>>> agent = RandomWalk(None, seed=0)
>>> import numpy as np
>>> agent.act(None, {"action_mask": np.array([True, True, False])}) in (0, 1)
True
"""
from __future__ import annotations

from typing import Any

import numpy as np


class IncrementalAgent:
    """Base class: seeding, ``state_dict``, the query-counting rule of §4.1.2."""

    name: str = "agent"
    #: acts in the incremental environment (random search does not)
    incremental: bool = True
    #: §4.1.2: True when every shown neighbour at every step counts as a query
    #: (local search); False when one episode counts as one query
    counts_neighbour_queries: bool = False

    def __init__(self, space: Any = None, seed: int = 0) -> None:
        from .base import space_of

        self.space = space_of(space) if space is not None else None
        self.seed = int(seed)
        self.rng = np.random.default_rng(self.seed)

    def begin_set(self, index: int) -> None:
        """Re-derive the generator from ``(seed, index)`` (one stream per protocol set)."""
        self.rng = np.random.default_rng([self.seed, int(index)])

    def act(self, observation: Any, info: dict) -> int:  # pragma: no cover - abstract
        raise NotImplementedError

    def act_batch(self, obs: dict, venv) -> np.ndarray:
        """Actions for a batch of the vectorised env (``obs["rows"]``, ``obs["action_mask"]``)."""
        raise NotImplementedError(f"{type(self).__name__} has no vectorised policy")

    @property
    def vectorised(self) -> bool:
        return type(self).act_batch is not IncrementalAgent.act_batch

    def state_dict(self) -> dict:
        return {"seed": self.seed, "rng": self.rng.bit_generator.state}

    def load_state_dict(self, state: dict) -> None:
        self.seed = int(state["seed"])
        self.rng = np.random.default_rng(self.seed)
        self.rng.bit_generator.state = state["rng"]

    def __repr__(self) -> str:
        return f"{type(self).__name__}(seed={self.seed})"


def action_mask(observation: Any, info: dict | None) -> np.ndarray:
    """The boolean action mask from ``info`` (or a Dict observation)."""
    if info is not None and "action_mask" in info:
        return np.asarray(info["action_mask"], dtype=bool)
    if isinstance(observation, dict) and "action_mask" in observation:
        return np.asarray(observation["action_mask"], dtype=bool)
    raise ValueError("no action mask: pass the env's info (or a Dict observation with 'action_mask')")


__all__ = ["IncrementalAgent", "action_mask"]

"""Random walk (paper §3.2.3): uniform among the shown neighbours and the terminate action.

>>> import numpy as np
>>> from nasbench_lab.strategies.random_walk import RandomWalk
>>> agent = RandomWalk(None, seed=0)
>>> mask = np.array([True, True, True, False])
>>> sorted({agent.act(None, {"action_mask": mask}) for _ in range(200)})
[0, 1, 2]
"""
from __future__ import annotations

import numpy as np

from .agents import IncrementalAgent, action_mask


class RandomWalk(IncrementalAgent):
    """Picks uniformly among the allowed actions (terminate included)."""

    name = "random_walk"

    def act(self, observation, info) -> int:
        allowed = np.flatnonzero(action_mask(observation, info))
        return int(allowed[self.rng.integers(len(allowed))])

    def act_batch(self, obs: dict, venv) -> np.ndarray:
        # allowed actions are 0..n_shown (shown neighbours are packed first)
        n = np.asarray(obs["action_mask"]).sum(axis=1)
        return np.minimum((self.rng.random(len(n)) * n).astype(np.int64), n - 1)

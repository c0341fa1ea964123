"""Local search exactly as paper §3.2.3: query every shown neighbour's validation accuracy,
move to the best one, terminate when none is better than the current architecture.

No enhancements (no restarts, no tie moves): a neighbour must be strictly better; among
equally good best neighbours the first shown wins. Query counting (§4.1.2): every shown
neighbour at every step counts (``counts_neighbour_queries = True``); the environment
shows their validation accuracies (``info["neighbour_validation"]``) because of it. The
agent keeps no memory between steps, so a neighbour shown at two steps is charged twice;
the benchmark itself looks each architecture up once (see ``experiment.protocol``, item 3).

>>> import numpy as np
>>> agent = LocalSearch(None, seed=0)
>>> agent.act(None, {"validation": 0.5, "neighbours": ["a", "b"],
...                  "neighbour_validation": np.array([0.4, 0.6])})
2
"""
from __future__ import annotations

import numpy as np

from .agents import IncrementalAgent


class LocalSearch(IncrementalAgent):
    """Greedy hill climbing on validation accuracy over the shown neighbours."""

    name = "local_search"
    counts_neighbour_queries = True

    def act(self, observation, info) -> int:
        if not len(info["neighbours"]):
            return 0
        if "neighbour_validation" not in info:
            raise ValueError("local search needs the shown neighbours' validation accuracies: run it in an "
                             "env built with reveal_validation=True (the protocol and the runner do)")
        current = float(info["validation"])
        vals = np.asarray(info["neighbour_validation"], dtype=np.float64)
        best = int(np.argmax(vals))
        return best + 1 if vals[best] > current else 0

    def act_batch(self, obs: dict, venv) -> np.ndarray:
        rows = np.asarray(obs["rows"])
        val = np.asarray(venv.validation)
        vals = np.where(rows >= 0, val[np.maximum(rows, 0)], -np.inf)
        best = np.argmax(vals[:, 1:], axis=1) if rows.shape[1] > 1 else np.zeros(len(rows), np.int64)
        better = vals[np.arange(len(rows)), best + 1] > vals[:, 0]
        return np.where(better, best + 1, 0).astype(np.int64)

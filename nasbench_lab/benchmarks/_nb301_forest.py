"""Small-batch prediction with the NAS-Bench-301 XGBoost members: :class:`Forest`.

The members are read by :mod:`.._formats.xgboost_legacy` (pickled 2020 boosters, without
running pickled code); a :class:`Forest` holds their trees as flat numpy arrays, so that a
single query walks the trees directly instead of paying xgboost's per-call cost.
"""
from __future__ import annotations

import numpy as np

from .base import BenchmarkFileError


# -- small-batch prediction ------------------------------------------------------------
class Forest:
    """Every tree of every member in flat numpy arrays, for small batches.

    xgboost's predictor pays a set-up cost per call that grows with the number of trees
    (milliseconds for thousands of trees), which dominates one-genotype queries. Here a
    batch of ``n`` rows descends all ``T`` trees at once, one numpy step per tree level
    (leaves point to themselves), so a call costs ``O(depth * n * T)`` with no set-up.
    Splits compare in float32 as xgboost does; leaf values are summed in float64, so
    results agree with xgboost to float32 rounding.
    """

    def __init__(self, models: list[dict]):
        left, right, feat, thr, dleft, value, roots, starts, bases = [], [], [], [], [], [], [], [], []
        offset, depth = 0, 0
        for m in models:
            lr = m["learner"]
            bases.append(float(str(lr["learner_model_param"]["base_score"]).strip("[]")))
            starts.append(len(roots))
            for t in lr["gradient_booster"]["model"]["trees"]:
                lc = np.asarray(t["left_children"], dtype=np.int64)
                rc = np.asarray(t["right_children"], dtype=np.int64)
                n = len(lc)
                own = np.arange(n) + offset
                leaf = lc == -1
                left.append(np.where(leaf, own, lc + offset))
                right.append(np.where(leaf, own, rc + offset))
                feat.append(np.where(leaf, 0, np.asarray(t["split_indices"], dtype=np.int64)))
                cond = np.asarray(t["split_conditions"], dtype=np.float32)
                thr.append(cond)
                value.append(np.where(leaf, cond, 0.0))
                dleft.append(np.asarray(t["default_left"], dtype=bool))
                roots.append(offset)
                depth = max(depth, _tree_depth(lc, rc))
                offset += n
        self.left, self.right = np.concatenate(left), np.concatenate(right)
        self.feat, self.thr = np.concatenate(feat), np.concatenate(thr)
        self.default_left, self.value = np.concatenate(dleft), np.concatenate(value).astype(np.float64)
        self.roots = np.asarray(roots, dtype=np.int64)
        self.member_starts = np.asarray(starts, dtype=np.int64)
        self.base = np.asarray(bases, dtype=np.float64)
        self.depth = depth

    @property
    def num_trees(self) -> int:
        return len(self.roots)

    def predict_members(self, X: np.ndarray) -> np.ndarray:
        """(members, rows) raw predictions (identity link) for float32 rows ``X``."""
        X = np.asarray(X, dtype=np.float32)
        n = len(X)
        idx = np.broadcast_to(self.roots, (n, len(self.roots))).copy()
        rows = np.arange(n)[:, None]
        has_nan = bool(np.isnan(X).any())
        for _ in range(self.depth):
            x = X[rows, self.feat[idx]]
            go_left = x < self.thr[idx]
            if has_nan:
                go_left = np.where(np.isnan(x), self.default_left[idx], go_left)
            idx = np.where(go_left, self.left[idx], self.right[idx])
        sums = np.add.reduceat(self.value[idx], self.member_starts, axis=1)
        return (sums + self.base[None, :]).T


def _tree_depth(left: np.ndarray, right: np.ndarray) -> int:
    depth, level = 0, [0]
    while True:
        nxt = [c for v in level if left[v] != -1 for c in (left[v], right[v])]
        if not nxt:
            return depth
        if depth >= len(left):  # deeper than the node count: a cycle (validate_model refuses it)
            raise BenchmarkFileError("a tree has a cycle")
        depth, level = depth + 1, nxt

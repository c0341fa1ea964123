"""NNI's ``GridSearch``: every architecture of a finite space exactly once, then stop.

The grid is ``space.enumerate()`` deduplicated by ``space.key`` (first occurrence kept).
With ``shuffle`` the visiting order is a permutation drawn from the strategy's own
generator; the strategy keeps only the enumeration (lazy where the space's is, as for
NAS-Bench-101), an index array of the grid and the permutation as a numpy array, never a
second list of architectures. ``state_dict`` stores the position and the permutation's
seed, not the permutation.

>>> from nasbench_lab.spaces.nb201 import NB201Space
>>> g = GridSearch(NB201Space(), seed=0)
>>> len(g), g.remaining
(15625, 15625)
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .base import MultiTrialStrategy
from .random import enumeration_keys, space_name


class GridSearch(MultiTrialStrategy):
    """Visits every architecture of a finite, enumerable space once, then raises
    ``StopIteration`` (the Experiment ends with ``NO_MORE_TRIAL``).

    Parameters
    ----------
    space : SearchSpace
        A finite space (``space.size`` not None) whose ``enumerate()`` works; an infinite
        or unenumerable one (DARTS, chains deeper than 4 layers) raises ValueError at
        construction naming the space. Duplicate keys in the enumeration are visited once.
    seed : int
        Seed of the strategy's own ``np.random.Generator``; the shuffled order is a
        permutation drawn from it (global RNGs are never touched).
    shuffle : bool
        NNI's ``shuffle``: visit the grid in a seeded random order (the same seed gives the
        same order); ``False``: in ``enumerate()`` order.

    ``tell`` only records the result (the best so far, failed trials); it never changes
    the order.

    >>> from nasbench_lab.spaces.mlp import ChainSpace
    >>> space = ChainSpace(max_depth=1)
    >>> g = GridSearch(space, seed=0, shuffle=False)
    >>> [space.key(g.ask()) for _ in range(3)]
    ['empty', '1-Sigmoid', '1-Tanh']
    >>> for _ in range(18): _ = g.ask()
    >>> g.ask()
    Traceback (most recent call last):
    ...
    StopIteration: grid search: all 21 architectures of the mlp space have been asked
    """

    name = "grid_search"
    incremental = False
    counts_neighbour_queries = False

    def __init__(self, space: Any, seed: int = 0, shuffle: bool = True) -> None:
        super().__init__(space, seed)
        self.shuffle = bool(shuffle)
        name = space_name(self.space)
        if getattr(self.space, "size", None) is None:
            raise ValueError(f"grid search needs a finite, enumerable space; the {name!r} space is "
                             "infinite or of unknown size (size is None)")
        try:
            enum = self.space.enumerate()
        except (NotImplementedError, ValueError) as e:
            raise ValueError(f"grid search needs a finite, enumerable space; the {name!r} space cannot "
                             f"be enumerated ({e})") from None
        self._enum = enum
        keys = enumeration_keys(self.space, enum)
        first: dict = {}
        for i, k in enumerate(keys):
            first.setdefault(k, i)
        #: enumeration positions of the grid (None: the enumeration itself, no duplicates)
        self._grid: np.ndarray | None = None
        if len(first) != len(enum):
            self._grid = np.fromiter(first.values(), dtype=np.int64, count=len(first))
        self._n = len(first)
        self.position = 0
        self.permutation_seed = int(self.rng.integers(2**63)) if self.shuffle else None
        self._perm = self._permutation(self.permutation_seed)

    def _permutation(self, seed: int | None) -> np.ndarray | None:
        if seed is None:
            return None
        dtype = np.int32 if self._n < 2**31 else np.int64
        return np.random.default_rng(seed).permutation(self._n).astype(dtype)

    def __len__(self) -> int:
        """Number of architectures in the grid."""
        return self._n

    @property
    def remaining(self) -> int:
        """Architectures not asked yet."""
        return self._n - self.position

    def ask(self) -> Any:
        """The next architecture of the grid; ``StopIteration`` after the last."""
        if self.position >= self._n:
            raise StopIteration(f"grid search: all {self._n} architectures of the "
                                f"{space_name(self.space)} space have been asked")
        i = self.position if self._perm is None else int(self._perm[self.position])
        if self._grid is not None:
            i = int(self._grid[i])
        self.position += 1
        return self._enum[i]

    def state_dict(self) -> dict:
        state = super().state_dict()
        state.update({"shuffle": self.shuffle, "position": self.position, "grid_size": self._n,
                      "permutation_seed": self.permutation_seed})
        return state

    def load_state_dict(self, state: dict) -> None:
        if bool(state["shuffle"]) != self.shuffle:
            raise ValueError(f"state was saved with shuffle={state['shuffle']}, this strategy has "
                             f"shuffle={self.shuffle}")
        if int(state["grid_size"]) != self._n:
            raise ValueError(f"state was saved over a grid of {state['grid_size']} architectures; the "
                             f"{space_name(self.space)} space now has {self._n}")
        super().load_state_dict(state)
        self.position = int(state["position"])
        if state["permutation_seed"] != self.permutation_seed:
            self.permutation_seed = state["permutation_seed"]
            self._perm = self._permutation(self.permutation_seed)


__all__ = ["GridSearch"]

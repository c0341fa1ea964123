"""NNI's ``Random`` strategy: uniform over the space's categorical decisions, no repeats.

Unlike :class:`~nasbench_lab.strategies.random_search.RandomSearch`, which draws from the
space's own sampler (for NAS-Bench-101 the paper's uniform-size sampler: vertex count
first), ``Random`` draws every decision of ``space.decisions()`` independently and
uniformly among its choices and builds the architecture with ``space.from_decisions``,
as NNI v3.0's ``strategy.Random`` samples each mutable of the model space uniformly.
The two laws differ wherever the decision encoding is not one-to-one with the
architectures (NB101 graphs, chains with unused layer slots); on NAS-Bench-201 they
coincide.

The module also holds the helpers the other NNI strategies share (``grid_search``,
``regularized_evolution``): uniform decision draws with the invalid-draw policy, and the
keys of a finite space's enumeration.

>>> from nasbench_lab.spaces.nb201 import NB201Space
>>> s = Random(NB201Space(), seed=0)
>>> a = s.ask(); s.tell(a, 0.5); s.asked
1
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..spaces.base import InvalidArchitecture
from .base import MultiTrialStrategy

#: draws (invalid or, with ``dedup``, already seen) before a strategy stops retrying
PATIENCE = 500
#: with fewer than ``size / NEARLY_EXHAUSTED`` architectures left, a deduplicating draw
#: comes from the not-yet-seen remainder of ``enumerate()`` (faster than rejection)
NEARLY_EXHAUSTED = 50
_UNSET = object()


# -- shared helpers ----------------------------------------------------------------------
def decisions_of(space: Any) -> list[tuple[str, tuple]] | None:
    """``space.decisions()`` as ``[(name, tuple(choices)), ...]``, or None where the space
    has no decision encoding (NotImplementedError, or no such method)."""
    fn = getattr(space, "decisions", None)
    if not callable(fn):
        return None
    try:
        decisions = fn()
    except NotImplementedError:
        return None
    out = [(str(name), tuple(choices)) for name, choices in decisions]
    for name, choices in out:
        if not choices:
            raise ValueError(f"the {getattr(space, 'name', space)!r} space has an empty decision {name!r}")
    return out


def draw_values(decisions: Sequence[tuple[str, tuple]], rng: np.random.Generator) -> list:
    """One value per decision, each uniform among its choices (one ``rng`` draw per decision)."""
    idx = rng.integers(0, [len(c) for _, c in decisions])
    return [c[int(i)] for (_, c), i in zip(decisions, idx)]


def space_name(space: Any) -> str:
    return str(getattr(space, "name", type(space).__name__))


def enumeration_keys(space: Any, enum: Sequence) -> Sequence[str]:
    """The key of every entry of ``enum = space.enumerate()`` (the enumeration's own
    ``keys`` array where it has one, e.g. NAS-Bench-101's lazy enumeration)."""
    keys = getattr(enum, "keys", None)
    if keys is not None and not callable(keys) and len(keys) == len(enum):
        return keys
    return [space.key(a) for a in enum]


def finite_enumeration(space: Any) -> Sequence | None:
    """``space.enumerate()`` for a finite space; None where ``size`` is None or the space
    cannot enumerate itself (NotImplementedError, or a ValueError for a space too large)."""
    if getattr(space, "size", None) is None:
        return None
    try:
        return space.enumerate()
    except (NotImplementedError, ValueError):
        return None


class Random(MultiTrialStrategy):
    """NNI's ``Random(dedup=True)``: each ask draws every decision uniformly.

    Parameters
    ----------
    space : SearchSpace
        The search space (or a benchmark with ``.space``). Architectures are drawn over its
        decision encoding (``decisions()`` / ``from_decisions``); a space without one
        (``decisions()`` raises NotImplementedError) is sampled with ``space.sample(rng)``
        instead, and ``uses_decisions`` is False.
    seed : int
        Seed of the strategy's own ``np.random.Generator`` (global RNGs are never touched).
    dedup : bool
        NNI's ``dedup``: never ask an architecture (by ``space.key``) that was asked or told
        before. Duplicates are redrawn. On a finite space (``space.size`` not None) the
        strategy knows when every architecture has been seen and then raises
        ``StopIteration`` (the Experiment ends with ``NO_MORE_TRIAL``); once fewer than
        ``size / 50`` remain, or after ``PATIENCE`` (500) rejected draws, it draws
        uniformly from the not-yet-seen remainder of ``space.enumerate()`` instead. On an
        infinite space it stops (``StopIteration``, NNI's "out of patience") after 500
        draws in a row that were all duplicates or invalid. ``False``: repeats allowed,
        never exhausted.

    Invalid draws: a decision vector that ``from_decisions`` refuses
    (``InvalidArchitecture``, e.g. an NB101 graph with too many edges) is redrawn, so the
    law is uniform over the valid vectors. After 500 invalid draws in a row the ask falls
    back to a uniform pick from ``enumerate()`` on a finite space, else raises
    RuntimeError naming the space.

    >>> from nasbench_lab.spaces.mlp import ChainSpace
    >>> s = Random(ChainSpace(max_depth=1), seed=0)
    >>> keys = []
    >>> while True:
    ...     try:
    ...         arch = s.ask()
    ...     except StopIteration:
    ...         break
    ...     s.tell(arch, 0.5); keys.append(s.space.key(arch))
    >>> len(keys) == len(set(keys)) == s.space.size == 21
    True
    """

    name = "random"
    incremental = False
    counts_neighbour_queries = False

    def __init__(self, space: Any, seed: int = 0, dedup: bool = True) -> None:
        super().__init__(space, seed)
        if not hasattr(self.space, "sample") and decisions_of(self.space) is None:
            raise ValueError("Random needs a search space (or a benchmark with .space)")
        self.dedup = bool(dedup)
        self._decisions = decisions_of(self.space)
        self.asked = 0
        self._seen: dict[str, None] = {}  # keys asked or told, in order (dedup)
        self._enum: Any = _UNSET  # derived caches, rebuilt on demand
        self._enum_keys: Sequence[str] | None = None
        self._remaining: np.ndarray | None = None

    @property
    def uses_decisions(self) -> bool:
        """Whether asks are drawn over ``space.decisions()`` (else ``space.sample``)."""
        return self._decisions is not None

    @property
    def exhausted(self) -> bool:
        """True when ``dedup`` and every architecture of a finite space has been seen."""
        size = getattr(self.space, "size", None)
        return self.dedup and size is not None and len(self._seen) >= size

    # -- drawing ---------------------------------------------------------------------
    def _draw(self) -> Any | None:
        """One draw: an architecture, or None for an invalid decision vector."""
        if self._decisions is None:
            return self.space.sample(self.rng)
        try:
            return self.space.from_decisions(draw_values(self._decisions, self.rng))
        except InvalidArchitecture:
            return None

    def _enumeration(self):
        if self._enum is _UNSET:
            self._enum = finite_enumeration(self.space)
        return self._enum

    def _from_remainder(self) -> Any | None:
        """Uniform over the enumerated architectures not seen yet (None: not enumerable)."""
        enum = self._enumeration()
        if enum is None:
            return None
        if self._remaining is None:
            if self._enum_keys is None:
                self._enum_keys = enumeration_keys(self.space, enum)
            seen = self._seen
            mask = np.fromiter((k not in seen for k in self._enum_keys), dtype=bool, count=len(enum))
            self._remaining = np.flatnonzero(mask)
            # one position per key (an enumeration may list a key twice)
            _, first = np.unique(np.asarray(self._enum_keys, dtype=object)[self._remaining], return_index=True)
            self._remaining = self._remaining[np.sort(first)]
        if len(self._remaining) == 0:
            return None
        j = int(self.rng.integers(len(self._remaining)))
        arch = enum[int(self._remaining[j])]
        self._remaining = np.delete(self._remaining, j)
        return arch

    def _mark(self, key: str, from_remainder: bool = False) -> None:
        if key not in self._seen:
            self._seen[key] = None
            if not from_remainder:
                self._remaining = None  # the remainder cache is exact or absent

    def ask(self) -> Any:
        """The next architecture; ``StopIteration`` once a finite space is exhausted."""
        size = getattr(self.space, "size", None)
        key = self.space.key
        if self.dedup:
            if size is not None and len(self._seen) >= size:
                raise StopIteration(f"random: all {size} architectures of the {space_name(self.space)} "
                                    "space have been asked")
            if size is not None and (size - len(self._seen)) * NEARLY_EXHAUSTED < size:
                arch = self._from_remainder()
                if arch is not None:
                    self._mark(key(arch), from_remainder=True)
                    self.asked += 1
                    return arch
        invalid = 0
        for _ in range(PATIENCE):
            arch = self._draw()
            if arch is None:
                invalid += 1
                continue
            k = key(arch)
            if self.dedup and k in self._seen:
                continue
            self._mark(k)
            self.asked += 1
            return arch
        # out of patience
        if self.dedup:
            arch = self._from_remainder()
            if arch is not None:
                self._mark(key(arch), from_remainder=True)
                self.asked += 1
                return arch
            if size is not None and self._enumeration() is not None:
                raise StopIteration(f"random: every architecture of the {space_name(self.space)} space "
                                    "has been asked")
            if invalid < PATIENCE:
                raise StopIteration(f"random: {PATIENCE} draws in a row from the {space_name(self.space)} "
                                    "space were all seen before or invalid; out of patience")
        else:
            enum = self._enumeration()
            if enum is not None and len(enum):
                arch = enum[int(self.rng.integers(len(enum)))]
                self.asked += 1
                return arch
        raise RuntimeError(f"random: {PATIENCE} uniform decision vectors in a row were invalid in the "
                           f"{space_name(self.space)} space (from_decisions raised InvalidArchitecture)")

    def _observe(self, arch: Any, reward: float, metrics: Any) -> None:
        if self.dedup:
            self._mark(self.space.key(arch))

    # -- state -----------------------------------------------------------------------
    def state_dict(self) -> dict:
        state = super().state_dict()
        state.update({"dedup": self.dedup, "asked": self.asked, "seen": list(self._seen)})
        return state

    def load_state_dict(self, state: dict) -> None:
        if bool(state["dedup"]) != self.dedup:
            raise ValueError(f"state was saved with dedup={state['dedup']}, this strategy has dedup={self.dedup}")
        super().load_state_dict(state)
        self.asked = int(state["asked"])
        self._seen = dict.fromkeys(state["seen"])
        self._remaining = None


__all__ = ["Random", "PATIENCE", "decisions_of", "draw_values", "enumeration_keys", "finite_enumeration"]

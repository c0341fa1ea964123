"""The SearchSpace contract shared by every space."""
from __future__ import annotations

import abc
import collections.abc
from typing import Any, Hashable, Sequence

import numpy as np


class InvalidArchitecture(ValueError):
    """An architecture violates its space's rules; the message says which rule."""


class InvalidIndex(InvalidArchitecture, TypeError):
    """An index (or action) that is not a whole number: refused, never truncated."""


def as_index(value, what: str = "index") -> int:
    """``value`` as an ``int``: integers and integral floats (``3.0``) only.

    ``2.7``, ``True``, ``"3"`` or NaN raise :class:`InvalidIndex` instead of being
    truncated or coerced.

    >>> as_index(np.int64(3)), as_index(4.0)
    (3, 4)
    """
    if isinstance(value, (bool, np.bool_)):
        raise InvalidIndex(f"{what} must be an integer, got the boolean {value!r}")
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)) and np.isfinite(value) and float(value).is_integer():
        return int(value)
    kind = type(value).__name__
    raise InvalidIndex(f"{what} must be an integer, got {value!r} ({kind}); non-integral values are "
                       "refused, not truncated")


def check_decision_values(space: str, decisions, values) -> list:
    """``values`` as a list of exact choices of ``decisions``, or InvalidArchitecture naming
    the decision. Integer choices take Python/numpy integers (never booleans or floats),
    string choices strings; nothing is coerced."""
    if isinstance(values, (str, bytes)) or not isinstance(values, (collections.abc.Sequence, np.ndarray)):
        raise InvalidArchitecture(f"{space} decisions: expected a sequence of {len(decisions)} values, "
                                  f"got {type(values).__name__}")
    if len(values) != len(decisions):
        raise InvalidArchitecture(f"{space} decisions: expected {len(decisions)} values (one per decision), "
                                  f"got {len(values)}")
    out = []
    for (name, choices), v in zip(decisions, values):
        for c in choices:
            if isinstance(c, str):
                if isinstance(v, str) and v == c:
                    break
            elif (isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))
                  and int(v) == c):
                break
        else:
            raise InvalidArchitecture(f"{space} decisions: {name!r} = {v!r} is not one of its choices "
                                      f"{choices}")
        out.append(c)
    return out


class SearchSpace(abc.ABC):
    """One object per space. Architectures are frozen, hashable values.

    Subclasses implement the abstract methods; ``mutate`` and ``is_valid`` have
    generic defaults. ``size`` is ``None`` for spaces too large to enumerate.
    """

    name: str = "space"
    #: number of entries of ``encode(arch)``
    encoding_size: int = 0
    #: total number of unique architectures, or None when not enumerable
    size: int | None = None

    @property
    def finite(self) -> bool:
        return self.size is not None

    @abc.abstractmethod
    def sample(self, rng: np.random.Generator) -> Any:
        """Draw one architecture with the space's default sampler."""

    @abc.abstractmethod
    def neighbours(self, arch: Any) -> list:
        """All one-move neighbours: deterministic order, unique by key, never ``arch``."""

    @abc.abstractmethod
    def key(self, arch: Any) -> str:
        """Canonical string key; isomorphic architectures share it."""

    @abc.abstractmethod
    def encode(self, arch: Any) -> np.ndarray:
        """The agent observation of one architecture (1-D float32 array)."""

    def validate(self, arch: Any) -> Any:
        """Return ``arch`` as this space's architecture type or raise InvalidArchitecture."""
        return arch

    def is_valid(self, arch: Any) -> bool:
        try:
            self.validate(arch)
        except InvalidArchitecture:
            return False
        return True

    def mutate(self, arch: Any, rng: np.random.Generator) -> Any:
        """One random neighbour (uniform over ``neighbours(arch)``)."""
        nbrs = self.neighbours(arch)
        if not nbrs:
            raise InvalidArchitecture(f"{self.name}: architecture has no neighbours to mutate to")
        return nbrs[int(rng.integers(len(nbrs)))]

    def enumerate(self) -> Sequence:
        """Every unique architecture (finite spaces only)."""
        raise NotImplementedError(f"the {self.name} space is not enumerable")

    def neighbour_table(self, keys: Sequence[str] | None = None, **options):
        """The :class:`~nasbench_lab.spaces.neighbour_table.NeighbourTable` of a finite space:
        the rows of every architecture's neighbours, in ``neighbours`` order, rows in
        ``enumerate()`` order or in the order of ``keys`` (a permutation of the keys).

        This default builds it in memory from ``neighbours``; spaces with a faster or
        cached source override it. Spaces that are not finite raise NeighbourTableError.
        """
        from .neighbour_table import NeighbourTableError, build_table

        if self.size is None:
            raise NeighbourTableError(f"the {self.name!r} space is not enumerable: no neighbour table")
        archs = self.enumerate()
        own = [self.key(a) for a in archs]
        table = build_table(self, own, archs.__getitem__, progress=bool(options.get("progress", False)))
        return table if keys is None else table.reordered(own, keys)

    #: matplotlib axes one drawing of an architecture takes (DARTS: normal and reduction cell)
    draw_panels = 1

    def draw_on(self, arch: Any, axes: Sequence) -> None:
        """Draw ``arch`` on ``draw_panels`` given matplotlib axes (the space's ``draw``)."""
        draw = getattr(self, "draw", None)
        if draw is None:
            raise NotImplementedError(f"the {self.name} space cannot draw its architectures")
        draw(arch, ax=axes[0])

    def encode_batch(self, archs: Sequence[Any]) -> np.ndarray:
        """Stack ``encode`` over many architectures: shape (len(archs), encoding_size)."""
        out = np.zeros((len(archs), self.encoding_size), dtype=np.float32)
        for i, a in enumerate(archs):
            out[i] = self.encode(a)
        return out

    def decisions(self) -> list[tuple[str, tuple]]:
        """The space as a fixed sequence of categorical decisions ``[(name, choices), ...]``
        (for TPE, grid search and RL controllers); spaces that are not such a product
        raise NotImplementedError."""
        raise NotImplementedError(f"the {self.name} space is not a fixed sequence of categorical decisions")

    def to_decisions(self, arch: Any) -> list:
        """The value of every decision of ``arch`` (see :meth:`decisions`)."""
        raise NotImplementedError(f"the {self.name} space is not a fixed sequence of categorical decisions")

    def from_decisions(self, values: Sequence) -> Any:
        """The architecture of one value per decision (see :meth:`decisions`)."""
        raise NotImplementedError(f"the {self.name} space is not a fixed sequence of categorical decisions")

    def from_key(self, key: str) -> Any:  # pragma: no cover - optional
        """Rebuild an architecture from its key where the key is invertible."""
        raise NotImplementedError(f"the {self.name} space cannot rebuild an architecture from a key")

    def __repr__(self) -> str:
        size = f", size={self.size}" if self.size is not None else ""
        return f"<{type(self).__name__} {self.name!r}{size}>"


Arch = Hashable

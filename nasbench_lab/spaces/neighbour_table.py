"""Neighbour tables: every architecture's neighbours as rows of an enumerable space.

A :class:`NeighbourTable` stores, for every row (= every architecture of a finite space,
in ``space.enumerate()`` order or in a given key order), the rows of its neighbours in
exactly the order ``space.neighbours`` gives them, as CSR arrays (``offsets``,
``targets``). Every finite space returns one from ``space.neighbour_table()``;
:func:`build_table` is the generic in-memory builder from ``space.neighbours``.

>>> t = NeighbourTable.from_lists([[1, 2], [], [0]])
>>> t.counts.tolist(), t.neighbours(0).tolist()
([2, 0, 1], [1, 2])
>>> t.reordered(["a", "b", "c"], ["c", "a", "b"]).neighbours(1).tolist()   # row of "a"
[2, 0]
"""
from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from .. import paths

#: bumped whenever the table layout or neighbour rule changes
TABLE_VERSION = 1


class NeighbourTableError(ValueError):
    """A neighbour table is inconsistent with its space or benchmark (the message says how)."""


@dataclasses.dataclass(frozen=True)
class NeighbourTable:
    """CSR neighbour lists: ``targets[offsets[r]:offsets[r+1]]`` are the rows of row r's neighbours."""

    offsets: np.ndarray
    """(n_rows + 1,) int64, non-decreasing, ``offsets[0] == 0``."""
    targets: np.ndarray
    """(n_edges,) int32 rows, each in ``0..n_rows-1``."""
    fingerprint: str = ""
    """digest of the row keys the table was built for ('' when unknown)."""

    def __post_init__(self) -> None:
        off, tgt = np.asarray(self.offsets), np.asarray(self.targets)
        if off.ndim != 1 or len(off) < 1 or off[0] != 0 or off[-1] != len(tgt):
            raise NeighbourTableError("offsets must start at 0 and end at len(targets)")
        if np.any(np.diff(off) < 0):
            raise NeighbourTableError("offsets must be non-decreasing")
        if len(tgt) and (tgt.min() < 0 or tgt.max() >= len(off) - 1):
            raise NeighbourTableError(f"targets out of range 0..{len(off) - 2}")
        for name, arr in (("offsets", off), ("targets", tgt)):  # read-only views: tables are shared
            view = arr.view()
            view.flags.writeable = False
            object.__setattr__(self, name, view)

    @property
    def n_rows(self) -> int:
        return len(self.offsets) - 1

    @property
    def counts(self) -> np.ndarray:
        """Number of neighbours of every row."""
        return np.diff(self.offsets)

    def neighbours(self, row: int) -> np.ndarray:
        return self.targets[self.offsets[row]: self.offsets[row + 1]]

    @classmethod
    def from_lists(cls, lists: Sequence[Sequence[int]], fingerprint: str = "") -> "NeighbourTable":
        counts = np.fromiter((len(x) for x in lists), dtype=np.int64, count=len(lists))
        offsets = np.zeros(len(lists) + 1, dtype=np.int64)
        np.cumsum(counts, out=offsets[1:])
        targets = np.fromiter((r for x in lists for r in x), dtype=np.int32, count=int(offsets[-1]))
        return cls(offsets, targets, fingerprint)

    @classmethod
    def from_dense(cls, dense: np.ndarray, fingerprint: str = "") -> "NeighbourTable":
        """From an (n_rows, k) array padded with negative entries."""
        dense = np.asarray(dense)
        valid = dense >= 0
        offsets = np.zeros(len(dense) + 1, dtype=np.int64)
        np.cumsum(valid.sum(1), out=offsets[1:])
        return cls(offsets, dense[valid].astype(np.int32), fingerprint)

    def dense(self) -> np.ndarray:
        """(n_rows, max count) int64 array, rows padded with -1 (the inverse of :meth:`from_dense`)."""
        counts = self.counts
        out = np.full((self.n_rows, int(counts.max(initial=0))), -1, np.int64)
        cols = np.arange(len(self.targets)) - np.repeat(self.offsets[:-1], counts)
        out[np.repeat(np.arange(self.n_rows), counts), cols] = self.targets
        return out

    def reordered(self, keys: Sequence[str], new_keys: Sequence[str]) -> "NeighbourTable":
        """The same table with rows in the order of ``new_keys``, a permutation of ``keys``
        (the row keys of this table); returns ``self`` when the orders are equal."""
        keys = [str(k) for k in keys]
        new_keys = [str(k) for k in new_keys]
        if len(keys) != self.n_rows:
            raise NeighbourTableError(f"{len(keys)} keys for a table of {self.n_rows} rows")
        if keys == new_keys:
            return self
        new_row = {k: i for i, k in enumerate(new_keys)}
        if len(new_keys) != len(keys) or len(new_row) != len(new_keys):
            raise NeighbourTableError(f"the {len(new_keys)} requested rows are not a permutation of the "
                                      f"table's {len(keys)} rows")
        try:
            perm = np.fromiter((new_row[k] for k in keys), np.int64, count=len(keys))  # old -> new
        except KeyError as e:
            raise NeighbourTableError(f"row {e.args[0]!r} of the table is not among the requested rows") from None
        old = np.empty_like(perm)
        old[perm] = np.arange(len(perm))  # new row -> old row
        counts = self.counts[old]
        offsets = np.zeros(len(counts) + 1, np.int64)
        np.cumsum(counts, out=offsets[1:])
        flat = np.repeat(self.offsets[:-1][old] - offsets[:-1], counts) + np.arange(int(offsets[-1]))
        return NeighbourTable(offsets, perm[self.targets[flat]].astype(np.int32), keys_fingerprint(new_keys))

    def save(self, path) -> None:
        """Atomic ``.npz`` write."""
        with paths.atomic_write(path, suffix=".npz") as tmp:
            np.savez(tmp, offsets=self.offsets, targets=self.targets,
                     fingerprint=np.array(self.fingerprint), version=np.array(TABLE_VERSION))

    @classmethod
    def load(cls, path) -> "NeighbourTable":
        path = Path(path)
        try:
            z = paths.read_npz(path, ("offsets", "targets", "fingerprint", "version"), "neighbour table")
        except paths.UnreadableFile as e:
            raise NeighbourTableError(f"{e}; rebuild it") from None
        version = int(z["version"])
        if version != TABLE_VERSION:
            raise NeighbourTableError(f"{path}: table version {version}, expected {TABLE_VERSION}; rebuild it")
        try:
            return cls(z["offsets"], z["targets"], str(z["fingerprint"]))
        except NeighbourTableError as e:
            raise NeighbourTableError(f"{path}: {e}; rebuild it") from None


def keys_fingerprint(keys: Sequence[str]) -> str:
    """Digest of a row order (the keys, in order)."""
    h = hashlib.blake2b(digest_size=16)
    for k in keys:
        h.update(str(k).encode())
        h.update(b"\n")
    return h.hexdigest()


# -- the generic builder ----------------------------------------------------------------
def rows_of(keys: Sequence[str]) -> dict[str, int]:
    """``key -> row`` of a row order."""
    return {str(k): i for i, k in enumerate(keys)}


def neighbour_keys(space, arch) -> list[str]:
    """Keys of ``space.neighbours(arch)`` in order (``space.neighbour_keys`` when offered)."""
    fast = getattr(space, "neighbour_keys", None)
    if fast is not None:
        return list(fast(arch))
    return [space.key(nb) for nb in space.neighbours(arch)]


def neighbour_rows(space, arch, row_of: dict[str, int]) -> list[int]:
    """Rows (``row_of``) of the neighbours of ``arch``; NeighbourTableError when one is no row."""
    out = []
    for k in neighbour_keys(space, arch):
        try:
            out.append(row_of[k])
        except KeyError:
            raise NeighbourTableError(
                f"neighbour {k!r} of {space.key(arch)!r} is not a row of the benchmark") from None
    return out


def build_table(space, keys: Sequence[str], arch_of: Callable[[int], Any] | None = None,
                progress: bool = False) -> NeighbourTable:
    """Neighbour table over rows ``keys`` (in memory, one process).

    ``arch_of(row)`` rebuilds the architecture of a row (default: ``space.enumerate()[row]``).
    """
    keys = [str(k) for k in keys]
    row_of = rows_of(keys)
    if arch_of is None:
        archs = space.enumerate()
        if len(archs) != len(keys):
            raise NeighbourTableError(f"space enumerates {len(archs)} architectures, benchmark has {len(keys)} rows")
        arch_of = archs.__getitem__
    it = range(len(keys))
    if progress:
        from tqdm.auto import tqdm
        it = tqdm(it, desc=f"{getattr(space, 'name', 'space')} neighbours", unit="arch")
    return NeighbourTable.from_lists([neighbour_rows(space, arch_of(i), row_of) for i in it],
                                     keys_fingerprint(keys))

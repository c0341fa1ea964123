"""Precomputed neighbour tables for enumerable spaces (the vectorised env's transitions).

A :class:`NeighbourTable` stores, for every row of a tabular benchmark (= every
architecture of an enumerable space, in ``space.enumerate()`` order), the rows of its
neighbours in exactly the order ``space.neighbours`` gives them, as CSR arrays
(``offsets``, ``targets``). Because the order is the space's own, the vectorised env
shows the same neighbours as :class:`~nasbench_lab.env.incremental.IncrementalEnv`.

* NAS-Bench-201: from ``NB201Space.neighbour_table()`` (every cell has 24 neighbours).
* NAS-Bench-Moons / any small enumerable space: built from ``space.neighbours`` in memory.
* NAS-Bench-101: 423,624 cells; built once (``nasbench-lab build nb101-neighbours``: the
  compiled batch path over forked processes, about 25 s on 2 busy cores; 10.9 M edges, a
  47 MB file that loads in about 0.05 s) and cached in
  ``paths.cache_dir()/nb101_neighbours.npz`` (atomic write).

>>> table = neighbour_table(space, benchmark)         # doctest: +SKIP
>>> table.neighbours(0)                               # rows of the neighbours of row 0  # doctest: +SKIP
"""
from __future__ import annotations

import dataclasses
import weakref
import hashlib
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from .. import paths

#: cache file name of the NAS-Bench-101 neighbour table (under ``paths.cache_dir()``)
NB101_CACHE = "nb101_neighbours.npz"
#: bumped whenever the table layout or neighbour rule changes
TABLE_VERSION = 1


def table_is_ready(space) -> bool:
    """Whether ``space``'s neighbour table can be had without a long build: spaces that
    declare a ``neighbour_table_cache`` file (NB101) are ready once it is built."""
    cache = getattr(space, "neighbour_table_cache", None)
    return cache is None or (paths.cache_dir() / cache).exists()


def build_hint(space) -> str:
    """How to build ``space``'s cached neighbour table (for messages)."""
    cmd = getattr(space, "neighbour_table_command", None)
    return f"`{cmd}`" if cmd else "`neighbour_table(space, benchmark)`"


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


# -- building -------------------------------------------------------------------------
def _rows_of(keys: Sequence[str]) -> dict[str, int]:
    return {str(k): i for i, k in enumerate(keys)}


def _neighbour_keys(space, arch) -> list[str]:
    """Keys of ``space.neighbours(arch)`` in order (``space.neighbour_keys`` when offered)."""
    fast = getattr(space, "neighbour_keys", None)
    if fast is not None:
        return list(fast(arch))
    return [space.key(nb) for nb in space.neighbours(arch)]


def _neighbour_rows(space, arch, row_of: dict[str, int]) -> list[int]:
    out = []
    for k in _neighbour_keys(space, arch):
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
    row_of = _rows_of(keys)
    if arch_of is None:
        archs = space.enumerate()
        if len(archs) != len(keys):
            raise NeighbourTableError(f"space enumerates {len(archs)} architectures, benchmark has {len(keys)} rows")
        arch_of = archs.__getitem__
    it = range(len(keys))
    if progress:
        from tqdm.auto import tqdm
        it = tqdm(it, desc=f"{getattr(space, 'name', 'space')} neighbours", unit="arch")
    return NeighbourTable.from_lists([_neighbour_rows(space, arch_of(i), row_of) for i in it],
                                     keys_fingerprint(keys))


# worker state for the multiprocessing build (fork: inherited, not pickled)
_WORK: dict = {}


def _fork_map(fn: Callable, chunks: list, workers: int, progress: bool, desc: str) -> list:
    """``[fn(c) for c in chunks]`` over ``workers`` forked processes (in order); the workers
    inherit ``_WORK``, which is cleared afterwards."""
    from .._parallel import imap  # a dead worker raises/falls back, never hangs

    try:
        results = imap(fn, chunks, workers, start_method="fork", desc=desc)
        if progress:
            from tqdm.auto import tqdm
            results = tqdm(results, total=len(chunks), desc=desc, unit="chunk")
        out = list(results)
    finally:
        _WORK.clear()
    return out


def _work_chunk(rows: np.ndarray) -> list[list[int]]:
    space, arch_of, row_of = _WORK["space"], _WORK["arch_of"], _WORK["row_of"]
    return [_neighbour_rows(space, arch_of(int(i)), row_of) for i in rows]


def neighbour_lists_parallel(space, keys: Sequence[str], arch_of: Callable[[int], Any],
                             rows: Sequence[int] | None = None, workers: int = 2, chunk: int = 2_000,
                             progress: bool = True) -> list[list[int]]:
    """Neighbour rows of ``rows`` (default: all) over ``workers`` forked processes."""
    keys = [str(k) for k in keys]
    rows = np.arange(len(keys)) if rows is None else np.asarray(rows, dtype=np.int64)
    _WORK.update(space=space, arch_of=arch_of, row_of=_rows_of(keys))
    bounds = [rows[i: i + chunk] for i in range(0, len(rows), chunk)]
    parts = _fork_map(_work_chunk, bounds, workers, progress, "neighbour table")
    return [x for part in parts for x in part]


def build_table_parallel(space, keys: Sequence[str], arch_of: Callable[[int], Any], workers: int = 2,
                         chunk: int = 2_000, progress: bool = True) -> NeighbourTable:
    """As :func:`build_table`, over ``workers`` forked processes (chunks of rows)."""
    lists = neighbour_lists_parallel(space, keys, arch_of, None, workers, chunk, progress)
    return NeighbourTable.from_lists(lists, keys_fingerprint(keys))


# -- per-space tables -----------------------------------------------------------------
def nb201_table(space, keys: Sequence[str] | None = None) -> NeighbourTable:
    """From ``NB201Space.neighbour_table()`` ((15625, 24) official indices, -1 padded)."""
    dense = np.asarray(space.neighbour_table())
    table = NeighbourTable.from_dense(dense, keys_fingerprint(keys) if keys is not None else "")
    return table


def _nb101_arch_of(space, keys: Sequence[str]):
    """``row -> Cell`` for rows ``keys``: the enumeration directly when it is the row order."""
    archs = space.enumerate()
    enum_keys = getattr(archs, "keys", None)
    if enum_keys is not None and len(enum_keys) == len(keys) and np.array_equal(np.asarray(enum_keys),
                                                                                 np.asarray(keys)):
        return archs.__getitem__
    return lambda i: space.from_key(str(keys[i]))


def _nb101_chunk(bounds: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    from ..spaces import nb101

    d = _WORK["data"]
    lo, hi = bounds
    idx = np.arange(lo, hi, dtype=np.int64)
    return nb101.neighbour_rows_batch(d["n"][lo:hi], d["adj"][lo:hi], d["codes"][lo:hi], idx, d)


def nb101_enumeration_table(workers: int = 2, chunk: int = 10_000, progress: bool = True) -> NeighbourTable:
    """The table over the enumeration's own row order, by the compiled batch path.

    Candidates of a chunk of cells are generated and mapped to rows in compiled code
    (``nb101.neighbour_rows_batch``: no key strings), over ``workers`` forked processes.
    """
    from ..spaces import nb101

    keys = nb101.enumeration_arrays()["keys"]
    d = nb101._load()
    if nb101._enum_index(d) is None:  # built before forking, so the workers inherit it
        raise NeighbourTableError("the compiled NAS-Bench-101 kernels are unavailable")
    bounds = [(i, min(i + chunk, len(keys))) for i in range(0, len(keys), chunk)]
    _WORK.update(data=d)
    parts = _fork_map(_nb101_chunk, bounds, workers, progress, "nb101 neighbour table")
    counts = np.concatenate([np.diff(off) for off, _ in parts])
    offsets = np.zeros(len(keys) + 1, np.int64)
    np.cumsum(counts, out=offsets[1:])
    targets = np.concatenate([t for _, t in parts]).astype(np.int32)
    return NeighbourTable(offsets, targets, keys_fingerprint(keys))


def nb101_table(space=None, keys: Sequence[str] | None = None, workers: int = 2, cache: bool = True,
                path=None, progress: bool = True) -> NeighbourTable:
    """The NAS-Bench-101 neighbour table over all 423,624 cells (enumeration order).

    Loaded from ``paths.cache_dir()/nb101_neighbours.npz`` when present and built for
    the same row order; otherwise built with ``workers`` processes and written atomically.
    Rows in enumeration order (the default) take the compiled batch path
    (:func:`nb101_enumeration_table`), any other order the generic per-cell one.
    """
    if space is None:
        from ..spaces import get
        space = get("nb101")
    path = Path(path) if path is not None else paths.cache_dir() / NB101_CACHE
    from ..spaces import nb101

    keys = nb101.enumeration_arrays()["keys"] if keys is None else np.asarray([str(k) for k in keys])
    fp = keys_fingerprint(keys)
    if cache and path.exists():
        try:
            table = NeighbourTable.load(path)
        except NeighbourTableError as e:  # a derived cache: rebuild it, and say so
            import warnings

            warnings.warn(f"{e} (rebuilding)", RuntimeWarning, stacklevel=2)
        else:
            if table.fingerprint == fp:
                return table
    t0 = time.perf_counter()
    if nb101._jit() and np.array_equal(keys, nb101.enumeration_arrays()["keys"]):
        table = nb101_enumeration_table(workers=workers, progress=progress)
    else:
        table = build_table_parallel(space, keys, _nb101_arch_of(space, keys), workers=workers,
                                     progress=progress)
    if cache:
        table.save(path)
    table_build_seconds[("nb101", len(keys))] = time.perf_counter() - t0
    return table


#: wall seconds of the last builds (for the report of ``nasbench-lab build``)
table_build_seconds: dict = {}


#: tables already built in this process, per (benchmark object, space object): a table
#: depends only on the space and the benchmark's row keys, which are fixed at load time
_BUILT: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def neighbour_table(space, benchmark, **options) -> NeighbourTable:
    """The neighbour table aligned with ``benchmark``'s rows (``benchmark.keys`` order).

    Picks the fastest source: NB201's own table, the NB101 cache, or an in-memory build;
    a table built once for a benchmark object is reused for it within the process.
    """
    try:
        memo = _BUILT.setdefault(benchmark, {})
    except TypeError:  # not weak-referenceable
        memo = {}
    tag = (id(space), len(benchmark.keys), tuple(sorted(options.items())))
    if tag not in memo:
        memo[tag] = _neighbour_table(space, benchmark, **options)
    return memo[tag]


def _neighbour_table(space, benchmark, **options) -> NeighbourTable:
    keys = [str(k) for k in benchmark.keys]
    name = getattr(space, "name", "")
    if name == "nb201" and hasattr(space, "neighbour_table"):
        table = nb201_table(space, keys)
        if table.n_rows != len(keys):
            raise NeighbourTableError(f"NB201 table has {table.n_rows} rows, benchmark {len(keys)}")
        return table
    if name == "nb101":
        return nb101_table(space, keys, **options)
    if getattr(space, "size", None) is None:
        raise NeighbourTableError(f"the {name!r} space is not enumerable: no neighbour table")
    if space.size == len(keys):
        archs = space.enumerate()
        if all(space.key(a) == k for a, k in zip(archs, keys)):
            return build_table(space, keys, archs.__getitem__)
    return build_table(space, keys, lambda i: _arch_from_key(space, benchmark, keys[i]))


def _arch_from_key(space, benchmark, key):
    try:
        return space.from_key(key)
    except NotImplementedError:
        return benchmark.arch(benchmark.row_of(key))


def cli_build_nb101_neighbours(args) -> int:
    """``nasbench-lab build nb101-neighbours [--workers 2] [--out PATH]``."""
    t0 = time.perf_counter()
    out = Path(args.out) if getattr(args, "out", None) else paths.cache_dir() / NB101_CACHE
    table = nb101_table(workers=int(getattr(args, "workers", 2) or 2), path=out, cache=True)
    c = table.counts
    print(f"nb101 neighbour table: {table.n_rows:,} cells, {len(table.targets):,} edges, "
          f"neighbours min/mean/max {c.min()}/{c.mean():.1f}/{c.max()}, "
          f"{time.perf_counter() - t0:.0f} s -> {out}")
    return 0

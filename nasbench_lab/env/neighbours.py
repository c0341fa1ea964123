"""Neighbour tables aligned with a tabular benchmark's rows (the vectorised env's transitions).

A :class:`NeighbourTable` stores, for every row of a tabular benchmark (= every
architecture of an enumerable space), the rows of its neighbours in exactly the order
``space.neighbours`` gives them, as CSR arrays (``offsets``, ``targets``). Because the
order is the space's own, the vectorised env shows the same neighbours as
:class:`~nasbench_lab.env.incremental.IncrementalEnv`.

The table is a capability of the space: :func:`neighbour_table` asks
``space.neighbour_table(keys=benchmark.keys)`` when the benchmark has one row per
architecture of the space (each space picks its own source: a vectorised table, a cache
file, an in-memory build), and otherwise builds the table over the benchmark's rows from
``space.neighbours``. Spaces whose table is cached declare ``neighbour_table_cache`` (a
file name under ``paths.cache_dir()``) and ``neighbour_table_command`` (the command that
builds it); :func:`table_is_ready` and :func:`build_hint` read them.

>>> table = neighbour_table(space, benchmark)         # doctest: +SKIP
>>> table.neighbours(0)                               # rows of the neighbours of row 0  # doctest: +SKIP
"""
from __future__ import annotations

import weakref
from typing import Any, Callable, Sequence

import numpy as np

from .. import paths
from ..spaces.neighbour_table import (TABLE_VERSION, NeighbourTable, NeighbourTableError, build_table,
                                      keys_fingerprint, neighbour_rows, rows_of)

__all__ = ["NeighbourTable", "NeighbourTableError", "TABLE_VERSION", "build_table", "build_table_parallel",
           "build_hint", "keys_fingerprint", "neighbour_lists_parallel", "neighbour_table", "table_is_ready"]


def table_is_ready(space) -> bool:
    """Whether ``space``'s neighbour table can be had without a long build: spaces that
    declare a ``neighbour_table_cache`` file are ready once it is built."""
    cache = getattr(space, "neighbour_table_cache", None)
    return cache is None or (paths.cache_dir() / cache).exists()


def build_hint(space) -> str:
    """How to build ``space``'s cached neighbour table (for messages)."""
    cmd = getattr(space, "neighbour_table_command", None)
    return f"`{cmd}`" if cmd else "`neighbour_table(space, benchmark)`"


# -- the generic parallel builder (any space, per architecture) --------------------------
def _work_chunk(rows: np.ndarray) -> list[list[int]]:
    from .._parallel import shared

    w = shared()
    return [neighbour_rows(w["space"], w["arch_of"](int(i)), w["row_of"]) for i in rows]


def neighbour_lists_parallel(space, keys: Sequence[str], arch_of: Callable[[int], Any],
                             rows: Sequence[int] | None = None, workers: int = 2, chunk: int = 2_000,
                             progress: bool = True) -> list[list[int]]:
    """Neighbour rows of ``rows`` (default: all) over ``workers`` forked processes."""
    from .._parallel import fork_map  # a dead worker raises/falls back, never hangs

    keys = [str(k) for k in keys]
    rows = np.arange(len(keys)) if rows is None else np.asarray(rows, dtype=np.int64)
    bounds = [rows[i: i + chunk] for i in range(0, len(rows), chunk)]
    parts = fork_map(_work_chunk, bounds, workers, dict(space=space, arch_of=arch_of, row_of=rows_of(keys)),
                     desc="neighbour table", progress=progress)
    return [x for part in parts for x in part]


def build_table_parallel(space, keys: Sequence[str], arch_of: Callable[[int], Any], workers: int = 2,
                         chunk: int = 2_000, progress: bool = True) -> NeighbourTable:
    """As :func:`build_table`, over ``workers`` forked processes (chunks of rows)."""
    lists = neighbour_lists_parallel(space, keys, arch_of, None, workers, chunk, progress)
    return NeighbourTable.from_lists(lists, keys_fingerprint(keys))


# -- the table of a benchmark -----------------------------------------------------------
#: tables already built in this process, per (benchmark object, space object): a table
#: depends only on the space and the benchmark's row keys, which are fixed at load time
_BUILT: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def neighbour_table(space, benchmark, **options) -> NeighbourTable:
    """The neighbour table aligned with ``benchmark``'s rows (``benchmark.keys`` order).

    ``space.neighbour_table`` (``options`` are passed to it) when the benchmark has one row
    per architecture of the space, else an in-memory build over the benchmark's rows; a
    table built once for a benchmark object is reused for it within the process.
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
    size = getattr(space, "size", None)
    if size is None:
        raise NeighbourTableError(f"the {getattr(space, 'name', '')!r} space is not enumerable: no neighbour table")
    if size == len(keys):
        table = space.neighbour_table(keys=keys, **options)
        if table.n_rows != len(keys):
            raise NeighbourTableError(f"the space's table has {table.n_rows} rows, the benchmark {len(keys)}")
        return table
    return build_table(space, keys, lambda i: _arch_from_key(space, benchmark, keys[i]))


def _arch_from_key(space, benchmark, key):
    try:
        return space.from_key(key)
    except NotImplementedError:
        return benchmark.arch(benchmark.row_of(key))

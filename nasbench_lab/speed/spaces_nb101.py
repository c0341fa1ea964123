"""``nasbench-lab bench spaces-nb101``: NAS-Bench-101 hashing, enumeration and neighbours.

Rows: keys per second of the plain md5 reference (``nb101.reference.reference_key``: numpy
pruning and the official string algorithm), of ``Cell(matrix, ops).key`` end to end on fresh
cells (validation and pruning included) and of ``hash_batch``, with their ratios against the
reference measured in the same process, and of ``Cell.blake2s_key`` (``hashlib.blake2s``);
the enumeration build time (from the cache metadata; ``quick`` never builds), the cache load
time, and neighbour generations per second with the neighbour-count distribution (the
enumeration-lookup path, the md5-kernel path, and the batched table-build path); sampler
draws per second against the one-proposal-at-a-time rejection loop of the same law.
"""
from __future__ import annotations

import statistics
import time

import numpy as np

from . import median_time


def _fresh_inputs(count: int, seed: int) -> list[tuple[list, list]]:
    """(matrix as nested lists, ops) pairs drawn with the paper's sampler, unique by key."""
    from ..spaces import nb101

    rng = np.random.default_rng(seed)
    seen, out = set(), []
    while len(out) < count:
        c = nb101.sample(rng)
        if c.key not in seen:
            seen.add(c.key)
            out.append((c.matrix.tolist(), list(c.ops)))
    return out


def _per_item(fn, items, repeat: int) -> float:
    """Median over ``repeat`` runs of the mean seconds per item of ``fn`` over ``items``."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        for it in items:
            fn(it)
        times.append((time.perf_counter() - t0) / len(items))
    return statistics.median(times)


def hashing(quick: bool) -> list:
    from ..spaces import nb101
    from ..spaces.nb101.reference import reference_key

    count = 300 if quick else 1000
    repeat = 3 if quick else 5
    nb101.Cell([[0, 1], [0, 0]], ["input", "output"])  # load the compiled kernel first
    # fresh cells: every timed Cell(...) call sees a (matrix, ops) pair it never hashed
    pools = [_fresh_inputs(count, seed) for seed in range(repeat)]
    ref = statistics.median(_per_item(lambda mo: reference_key(*mo), p, 1) for p in pools)
    key_times = []
    for p in pools:
        t0 = time.perf_counter()
        for m, o in p:
            nb101.Cell(m, o).key
        key_times.append((time.perf_counter() - t0) / len(p))
    key = statistics.median(key_times)
    mats = [m for m, _ in pools[0]]
    ops = [o for _, o in pools[0]]
    batch = median_time(lambda: nb101.hash_batch(mats, ops), repeat=repeat) / len(mats)
    arr7 = [(m, o) for m, o in pools[0] if len(m) == 7]
    arr = np.array([m for m, _ in arr7], dtype=np.int8)
    arr_ops = [o for _, o in arr7]
    batch7 = median_time(lambda: nb101.hash_batch(arr, arr_ops), repeat=repeat) / max(1, len(arr7))
    b2_times = []
    for p in pools:
        cells = [nb101.Cell(m, o) for m, o in p]  # fresh objects: blake2s_key not cached yet
        t0 = time.perf_counter()
        for c in cells:
            c.blake2s_key
        b2_times.append((time.perf_counter() - t0) / len(cells))
    b2 = statistics.median(b2_times)
    return [
        ("md5 reference (reference_key), keys/s", 1 / ref, "keys/s", f"{ref * 1e6:.0f} us/key"),
        ("Cell(matrix, ops).key end to end, fresh cells", 1 / key, "keys/s", f"{key * 1e6:.1f} us/key"),
        ("  ratio Cell(...).key vs reference", ref / key, "x", "same process, median"),
        ("hash_batch (mixed sizes, nested lists)", 1 / batch, "keys/s", f"{batch * 1e6:.1f} us/key"),
        ("  ratio hash_batch vs reference", ref / batch, "x", ""),
        ("hash_batch ((N, 7, 7) int8 array)", 1 / batch7, "keys/s", f"{len(arr7)} cells of 7 vertices"),
        ("Cell.blake2s_key (hashlib.blake2s)", 1 / b2, "keys/s", f"{b2 * 1e6:.1f} us/key"),
    ]


def enumeration(quick: bool) -> list:
    from ..spaces import nb101
    from ..spaces.nb101 import enumeration as nb_enum

    rows = []
    cached = nb101.enumeration_cached()
    if not cached and quick:
        return [("enumeration cache", 0.0, "", "absent; quick mode does not build it "
                 "(nasbench-lab build nb101-enumeration)")]
    if cached:
        def load():
            nb_enum._ENUM.clear()
            nb101.enumeration_counts()

        def arrays():
            nb_enum._ENUM.clear()
            nb101.enumeration_arrays()

        rows.append(("enumeration cache load (423,624 cells)", median_time(load, repeat=3), "s",
                     "np.load of the packed arrays"))
        rows.append(("  enumeration_arrays() from disk", median_time(arrays, repeat=3), "s",
                     "plus str keys, (N, 7, 7) matrices, (N, 7) ops"))
    else:
        nb101.enumeration_arrays()  # builds it
    meta = nb101.enumeration_metadata()
    rows.append(("enumeration build (from cache metadata)", meta.get("build_seconds", float("nan")), "s",
                 f"{meta.get('workers', '?')} workers, {meta.get('labelled_hashed', 0):,} labelled graphs hashed"))
    counts = nb101.enumeration_counts()
    rows.append(("enumeration size", float(sum(counts.values())), "cells",
                 " ".join(f"{v}:{c}" for v, c in counts.items())))
    return rows


def neighbours(quick: bool) -> list:
    from ..spaces import nb101
    from ..spaces.nb101 import enumeration as nb_enum
    from ..spaces.nb101.neighbourhood import _loaded_enumeration

    count = 200 if quick else 1000
    rng = np.random.default_rng(0)
    if nb101.enumeration_cached():
        cells = [nb101.cell_at(i) for i in rng.choice(nb101.SIZE, count, replace=False)]
        note = "uniform over the enumeration"
    else:
        cells = [nb101.sample(rng) for _ in range(count)]
        note = "paper's sampler (no enumeration cache)"
    nb101.neighbours(cells[0])
    t_cells = _per_item(nb101.neighbours, cells, 3 if not quick else 1)
    t_keys = _per_item(nb101.neighbour_keys, cells, 3 if not quick else 1)
    counts = np.array([len(nb101.neighbour_keys(c)) for c in cells])
    path = "enumeration lookup" if _loaded_enumeration() is not None else "md5 kernel"
    loaded = dict(nb_enum._ENUM)
    nb_enum._ENUM.clear()  # without a loaded enumeration: every candidate md5-hashed
    try:
        t_md5 = _per_item(nb101.neighbour_keys, cells, 3 if not quick else 1)
    finally:
        nb_enum._ENUM.update(loaded)
    rows = []
    if loaded:
        d = nb_enum._load()
        idx = rng.choice(nb101.SIZE, 2000 if quick else 20000, replace=False)
        args = (d["n"][idx], d["adj"][idx], d["codes"][idx], idx, d)
        nb101.neighbour_rows_batch(*args)
        t_rows = median_time(lambda: nb101.neighbour_rows_batch(*args), repeat=3) / len(idx)
        rows.append(("neighbour_rows_batch (table build path) cells/s", 1 / t_rows, "cells/s",
                     f"{t_rows * 1e6:.1f} us/cell, one process"))
    return rows + [
        ("neighbours(cell) generations/s", 1 / t_cells, "cells/s", f"{t_cells * 1e3:.3f} ms/cell, {note}"),
        ("neighbour_keys(cell) generations/s", 1 / t_keys, "cells/s", f"{t_keys * 1e3:.3f} ms/cell, {path}"),
        ("neighbour_keys(cell), md5 kernel path", 1 / t_md5, "cells/s", f"{t_md5 * 1e3:.3f} ms/cell, "
         "no enumeration loaded"),
        ("neighbours per cell: mean", float(counts.mean()), "", f"min {counts.min()}, median "
         f"{int(np.median(counts))}, max {counts.max()} over {count} cells"),
    ]


def _reference_sample(rng: np.random.Generator, n: int):
    """The one-proposal-at-a-time rejection loop (the law ``nb101.sample`` keeps), for the ratio."""
    from ..spaces import nb101
    from ..spaces.nb101._hash import is_full

    while True:
        bits = rng.integers(0, 2, size=n * (n - 1) // 2).tolist()
        rows, k = [0] * n, 0
        for i in range(n):
            for j in range(i + 1, n):
                rows[i] |= bits[k] << j
                k += 1
        codes = (0, *rng.integers(1, 4, size=n - 2).tolist(), 4)
        if is_full(n, rows) and sum(r.bit_count() for r in rows) <= nb101.MAX_EDGES:
            return nb101.Cell._trusted(n, tuple(rows), codes)


def samplers(quick: bool) -> list:
    from ..spaces import nb101
    from ..spaces.nb101.sampling import _accept_table

    draws = 300 if quick else 2000
    repeat = 3 if quick else 5
    rng = np.random.default_rng(0)
    for n in range(2, 8):  # the acceptance tables are built once per process, not timed
        _accept_table("full", n)
    _accept_table("prunable", nb101.MAX_VERTICES)

    def per_draw(fn, count):
        return median_time(lambda: [fn(rng) for _ in range(count)], repeat=repeat) / count

    t_sample = per_draw(nb101.sample, draws)
    t_bananas = per_draw(nb101.sample_bananas, draws)
    t_uniform = per_draw(nb101.sample_uniform, draws) if nb101.enumeration_cached() else float("nan")
    ref_count = max(20, draws // 20)
    t_ref = per_draw(lambda r: _reference_sample(r, int(r.integers(2, 8))), ref_count)
    return [
        ("sample (uniform size, batched rejection) draws/s", 1 / t_sample, "draws/s",
         f"{t_sample * 1e3:.3f} ms/draw, md5 key included"),
        ("  one-at-a-time rejection loop (same law) draws/s", 1 / t_ref, "draws/s",
         f"{t_ref * 1e3:.2f} ms/draw"),
        ("  ratio sample vs one-at-a-time loop", t_ref / t_sample, "x", "same process, median"),
        ("sample_bananas draws/s", 1 / t_bananas, "draws/s", f"{t_bananas * 1e3:.3f} ms/draw"),
        ("sample_uniform draws/s", 1 / t_uniform, "draws/s",
         "enumeration loaded" if t_uniform == t_uniform else "no enumeration cache"),
    ]


def _section(quick: bool) -> list:
    return hashing(quick) + samplers(quick) + enumeration(quick) + neighbours(quick)


SECTIONS = {"spaces-nb101": _section}

"""Neighbour generation and encoding speed of the NAS-Bench-201 and DARTS spaces.

``nasbench-lab bench spaces-cells`` prints, per space, neighbour generations per second
(calls and the architectures they produce), the vectorised NB201 neighbour table and
encoding throughput. Medians of repeated runs (``bench.median_time``).
"""
from __future__ import annotations

import numpy as np

from . import Row, median_time


def _nb201(quick: bool) -> list[Row]:
    from ..spaces import nb201

    space = nb201.NB201Space()
    rng = np.random.default_rng(0)
    cells = [space.sample(rng) for _ in range(200 if quick else 2000)]
    rep = 3 if quick else 5
    t = median_time(lambda: [space.neighbours(c) for c in cells], repeat=rep)
    rows = [
        ("nb201 neighbours(cell)", len(cells) / t, "calls/s", "24 neighbours per call"),
        ("nb201 neighbour cells generated", 24 * len(cells) / t, "archs/s", ""),
    ]

    def build():
        nb201._neighbour_table.cache_clear()
        nb201._table.cache_clear()
        return space.neighbour_table()

    rows.append(("nb201 neighbour_table() build (15625 x 24)", median_time(build, repeat=rep), "s", "cold"))
    table = space.neighbour_table().dense()
    idx = rng.integers(15625, size=100_000)
    t = median_time(lambda: table[idx], repeat=rep)
    rows.append(("nb201 neighbour_table lookups (vectorised)", len(idx) / t, "rows/s", "24 indices per row"))
    enum = space.enumerate()
    t = median_time(lambda: space.encode_batch(enum), repeat=rep)
    rows.append(("nb201 encode_batch (all 15625)", len(enum) / t, "archs/s", f"{space.encoding_size} floats"))
    t = median_time(lambda: [space.encode(c) for c in cells], repeat=rep)
    rows.append(("nb201 encode one at a time", len(cells) / t, "archs/s", ""))
    return rows


def _darts(quick: bool) -> list[Row]:
    from ..spaces import darts

    space = darts.DartsSpace()
    rng = np.random.default_rng(0)
    gs = [space.sample(rng) for _ in range(20 if quick else 100)]
    rep = 3 if quick else 5
    t = median_time(lambda: [darts.cell_neighbours(g.normal) for g in gs], repeat=rep)
    rows = [("darts cell_neighbours(cell)", len(gs) / t, "calls/s", "60 cells per call")]
    t = median_time(lambda: [space.neighbours(g) for g in gs], repeat=rep)
    rows += [("darts neighbours(genotype), all tuples", len(gs) / t, "calls/s", "3600 tuples per call"),
             ("darts neighbour tuples generated", 3600 * len(gs) / t, "archs/s", "")]
    r = np.random.default_rng(1)
    t = median_time(lambda: [space.neighbour_pairs_sample(g, 50, r) for g in gs], repeat=rep)
    rows.append(("darts neighbour_pairs_sample(genotype, 50)", len(gs) / t, "calls/s", "the env's N = 50"))
    sample = space.neighbour_pairs_sample(gs[0], 50, r)
    t = median_time(lambda: space.encode_batch(sample), repeat=rep)
    rows.append(("darts encode (pair of cells, ops-on-nodes)", len(sample) / t, "archs/s",
                 f"{space.encoding_size} floats"))
    return rows


def spaces_cells(quick: bool) -> list[Row]:
    return _nb201(quick) + _darts(quick)


SECTIONS = {"spaces-cells": spaces_cells}

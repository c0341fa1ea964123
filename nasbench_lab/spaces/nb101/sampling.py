"""The NAS-Bench-101 samplers (paper §3.2.3, Fig. 5): uniform size, BANANAS, uniform over cells.

The samplers test whole batches of proposals against a per-size acceptance table (see
below); the law is that of the plain one-proposal-at-a-time rejection loop.
"""
from __future__ import annotations

import numpy as np

from . import _hash as _h
from ._hash import MAX_EDGES, MAX_VERTICES
from .cell import Cell
from .enumeration import SIZE, cell_at


# A proposal is an adjacency matrix of n vertices with every upper-triangular bit an
# independent fair coin: one integer u uniform in [0, 2**m), m = n(n-1)/2, whose bit k is
# the k-th upper-triangular entry in row-major order ((0,1), (0,2), ..., (n-2,n-1)).
# Whether a proposal is accepted depends on the adjacency only, so a lookup table over all
# 2**m proposals (built once per n with numpy, 2 MiB for n = 7) decides it in one indexing
# step, and proposals are drawn in vectorised batches. The labels are independent of the
# adjacency, so drawing them once after acceptance instead of with every proposal leaves
# the law of the returned cell unchanged: still exactly a rejection sampler of the same law.
_PROPOSALS: dict = {}  # (rule, n) -> (accept table over the 2**m proposals, acceptance rate)


def _pair_bits(n: int) -> list[tuple[int, int]]:
    return [(i, j) for i in range(n) for j in range(i + 1, n)]


def _proposal_rows(n: int) -> list[np.ndarray]:
    """Row masks (successor bits) of every proposal u in [0, 2**m), one int64 array per row."""
    m = n * (n - 1) // 2
    u = np.arange(1 << m, dtype=np.int64)
    rows = [np.zeros(1 << m, np.int64) for _ in range(n)]
    for k, (i, j) in enumerate(_pair_bits(n)):
        rows[i] |= ((u >> k) & 1) << j
    return rows


def _accept_table(rule: str, n: int) -> tuple[np.ndarray, float]:
    """``rule`` "full": every vertex on an input->output path and <= 9 edges (the
    uniform-size sampler); "prunable": the output reachable and <= 9 edges after pruning
    (BANANAS). Returns (accept[u] booleans, acceptance rate)."""
    got = _PROPOSALS.get((rule, n))
    if got is not None:
        return got
    rows = _proposal_rows(n)
    size = len(rows[0])
    fwd = np.ones(size, np.int64)  # vertices reachable from the input
    for v in range(n):
        fwd |= np.where((fwd >> v) & 1 == 1, rows[v], 0)
    bwd = np.full(size, 1 << (n - 1), np.int64)  # vertices reaching the output
    for v in range(n - 2, -1, -1):
        bwd |= np.where(rows[v] & bwd != 0, np.int64(1) << v, 0)
    keep = fwd & bwd
    if rule == "full":
        ok = keep == (1 << n) - 1
        edges = sum(np.bitwise_count(r) for r in rows)
    else:
        ok = (fwd >> (n - 1)) & 1 == 1
        edges = sum(np.where((keep >> v) & 1 == 1, np.bitwise_count(rows[v] & keep), 0)
                    for v in range(n))
    ok &= edges <= MAX_EDGES
    got = (ok, float(ok.mean()))
    _PROPOSALS[(rule, n)] = got
    return got


def _draw_adjacency(rng: np.random.Generator, rule: str, n: int) -> tuple[int, ...]:
    """Row masks of the first accepted proposal of an i.i.d. sequence (batches of them)."""
    ok, rate = _accept_table(rule, n)
    batch = min(1 << 16, max(8, int(4 / rate)))  # about 98% of batches hold an acceptance
    pairs = _pair_bits(n)
    while True:
        u = rng.integers(0, len(ok), size=batch)
        hit = np.flatnonzero(ok[u])
        if len(hit):
            bits = int(u[hit[0]])
            rows = [0] * n
            for k, (i, j) in enumerate(pairs):
                if bits >> k & 1:
                    rows[i] |= 1 << j
            return tuple(rows)


def sample(rng: np.random.Generator) -> Cell:
    """The paper's uniform-size sampler: vertex count uniform in 2..7, then random
    adjacency (p = 0.5) with exactly that size, rejected until the graph is valid and
    pruning keeps all of its vertices; then random interior labels.

    Proposals are drawn and tested in vectorised batches (see above): the law is that of
    the plain one-at-a-time rejection loop, the per-seed trace is not.

    >>> sample(np.random.default_rng(0)).num_vertices in range(2, 8)
    True
    """
    n = int(rng.integers(2, MAX_VERTICES + 1))
    rows = _draw_adjacency(rng, "full", n)
    codes = (0, *rng.integers(1, 4, size=n - 2).tolist(), 4)
    return Cell._trusted(n, rows, codes)


def sample_bananas(rng: np.random.Generator) -> Cell:
    """BANANAS' "random cell adj": 7 vertices, adjacency bits with p = 0.5, random ops,
    rejected until the pruned cell is valid (output reachable, <= 9 edges); batched as
    :func:`sample` (same law as the one-at-a-time loop)."""
    rows = _draw_adjacency(rng, "prunable", MAX_VERTICES)
    codes = (0, *rng.integers(1, 4, size=MAX_VERTICES - 2).tolist(), 4)
    n, prows, pcodes = _h.prune(MAX_VERTICES, rows, codes)
    return Cell._trusted(n, prows, pcodes)


def sample_uniform(rng: np.random.Generator) -> Cell:
    """Uniform over the 423,624 cells of the enumeration (builds or loads its cache)."""
    return cell_at(int(rng.integers(SIZE)))

"""Building the NAS-Bench-101 enumeration: every unique cell, deduplicated by key.

Plan (vectorised numpy, then the compiled hash kernel over 2 processes; see
``nasbench_lab._parallel`` for when it runs in one):

1. per vertex count n = 2..7, every strictly upper-triangular n x n matrix with at most 9
   edges in which every vertex lies on an input->output path (so pruning keeps it as is:
   input has out-edges, output in-edges, every interior vertex both);
2. one representative per isomorphism class of these unlabelled graphs: the canonical code
   is the minimum, over the (n-2)! permutations of the interior vertices, of the permuted
   adjacency bits (computed with per-permutation look-up tables on 7-bit chunks);
3. every labelling (3 ** (n-2)) of every representative, hashed with the official md5
   module hash; every valid labelled cell is isomorphic to one of these, so deduplicating
   the keys gives exactly the space.

The result is sorted by key. Cells are packed as integers: adjacency bit ``7*i + j`` for an
edge ``i -> j``, op codes 3 bits per vertex (index in ``OPS``).
"""
from __future__ import annotations

import itertools
import time

import numpy as np

MAX_VERTICES = 7
MAX_EDGES = 9


def _pairs(n: int) -> list[tuple[int, int]]:
    return [(i, j) for i in range(n) for j in range(i + 1, n)]


def full_structures(n: int) -> np.ndarray:
    """Pair-bit masks of every valid unlabelled n-vertex graph (every vertex on a path)."""
    pairs = _pairs(n)
    m = np.arange(1 << len(pairs), dtype=np.int64)
    pop = np.zeros(len(m), np.int64)
    for k in range(len(pairs)):
        pop += (m >> k) & 1
    m = m[pop <= MAX_EDGES]
    ok = np.ones(len(m), bool)
    for v in range(n):
        in_mask = sum(1 << k for k, (i, j) in enumerate(pairs) if j == v)
        out_mask = sum(1 << k for k, (i, j) in enumerate(pairs) if i == v)
        if v > 0:
            ok &= (m & in_mask) != 0
        if v < n - 1:
            ok &= (m & out_mask) != 0
    return m[ok]


def to_adj(n: int, masks: np.ndarray) -> np.ndarray:
    """Pair-bit masks -> adjacency bits ``7*i + j``."""
    adj = np.zeros(len(masks), np.int64)
    for k, (i, j) in enumerate(_pairs(n)):
        adj |= ((masks >> k) & 1) << (7 * i + j)
    return adj


def representatives(n: int, masks: np.ndarray) -> np.ndarray:
    """One mask per isomorphism class (interior vertices permuted; input/output fixed)."""
    pairs = _pairs(n)
    if n <= 3:
        return masks
    chunks = [list(range(s, min(s + 7, len(pairs)))) for s in range(0, len(pairs), 7)]
    canon = None
    for perm in itertools.permutations(range(1, n - 1)):
        p = (0,) + perm + (n - 1,)
        code = np.zeros(len(masks), np.int64)
        for c, ks in enumerate(chunks):
            lut = np.zeros(1 << len(ks), np.int64)
            for x in range(1 << len(ks)):
                v = 0
                for t, k in enumerate(ks):
                    if x >> t & 1:
                        i, j = pairs[k]
                        v |= 1 << (p[i] * n + p[j])
                lut[x] = v
            code |= lut[(masks >> ks[0]) & ((1 << len(ks)) - 1)]
        canon = code if canon is None else np.minimum(canon, code)
    _, first = np.unique(canon, return_index=True)
    return masks[np.sort(first)]


def labelled(n: int, adjs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every labelling of every structure: (adjs repeated, packed op codes)."""
    labs = np.array(list(itertools.product((1, 2, 3), repeat=n - 2)), dtype=np.int64)
    labs = labs.reshape(len(labs), n - 2)
    packed = np.full(len(labs), 4 << (3 * (n - 1)), np.int64)  # input code 0, output 4
    for v in range(1, n - 1):
        packed |= labs[:, v - 1] << (3 * v)
    return np.repeat(adjs, len(packed)), np.tile(packed, len(adjs))


def _hash_chunk(args):
    ns, adjs, codes = args
    from . import _jit
    return _jit.key_halves_batch(ns, adjs, codes).view(np.uint64)


def build(workers: int = 2, progress=None) -> dict:
    """Enumerate the space: dict of arrays sorted by key plus build metadata."""
    t0 = time.perf_counter()
    ns_l, adj_l, code_l = [], [], []
    for n in range(2, MAX_VERTICES + 1):
        reps = to_adj(n, representatives(n, full_structures(n)))
        adjs, codes = labelled(n, reps)
        ns_l.append(np.full(len(adjs), n, np.int64))
        adj_l.append(adjs)
        code_l.append(codes)
    ns, adjs, codes = np.concatenate(ns_l), np.concatenate(adj_l), np.concatenate(code_l)
    t_struct = time.perf_counter() - t0
    parts = max(1, int(workers)) * 8
    bounds = np.linspace(0, len(ns), parts + 1).astype(int)
    tasks = [(ns[a:b], adjs[a:b], codes[a:b]) for a, b in zip(bounds[:-1], bounds[1:])]
    from ..._parallel import imap  # spawn workers; one process where they could not start

    halves = np.concatenate(list(imap(_hash_chunk, tasks, int(workers or 1), desc="nb101 enumeration")))
    # dedupe by key, sort by key (hi, lo unsigned order == hex order)
    order = np.lexsort((halves[:, 1], halves[:, 0]))
    halves, ns, adjs, codes = halves[order], ns[order], adjs[order], codes[order]
    first = np.ones(len(halves), bool)
    first[1:] = (halves[1:] != halves[:-1]).any(axis=1)
    halves, ns, adjs, codes = halves[first], ns[first], adjs[first], codes[first]
    keys = np.array([f"{h:016x}{lo:016x}" for h, lo in halves.tolist()], dtype="S32")
    seconds = time.perf_counter() - t0
    return {
        "keys": keys,
        "n": ns.astype(np.uint8),
        "adj": adjs.astype(np.uint64),
        "codes": codes.astype(np.uint32),
        "labelled_hashed": np.int64(len(order)),
        "structure_seconds": np.float64(t_struct),
        "build_seconds": np.float64(seconds),
        "workers": np.int64(workers),
    }

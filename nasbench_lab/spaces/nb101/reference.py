"""The plain, official-style NAS-Bench-101 key: the yardstick and the independent check.

:func:`reference_key` follows the public NAS-Bench-101 code step by step (numpy pruning as
``ModelSpec`` does, then ``graph_util.hash_module`` on hex strings with ``hashlib.md5``),
with no caching, bit tricks or compiled code. It is not used by the space itself:
``nasbench-lab bench spaces-nb101`` times ``Cell(...).key`` against it in the same
process, and the tests check every fast path against it.

>>> reference_key([[0, 1], [0, 0]], ["input", "output"])
'043721b9c7fe8c5fad811d47d83132ec'
"""
from __future__ import annotations

import hashlib

import numpy as np

from ..base import InvalidArchitecture
from ._hash import INTERIOR_OPS

__all__ = ["reference_key"]


def reference_key(matrix, ops) -> str:
    """The official md5 module hash of ``(matrix, ops)`` (same results as ``Cell.key``).

    It does not validate beyond what pruning needs: use :class:`~.cell.Cell` for checked input.
    """
    matrix = np.array(matrix, dtype=np.int64)
    ops = list(ops)
    n = matrix.shape[0]
    visited_in, frontier = {0}, [0]
    while frontier:
        top = frontier.pop()
        for v in range(top + 1, n):
            if matrix[top, v] and v not in visited_in:
                visited_in.add(v)
                frontier.append(v)
    visited_out, frontier = {n - 1}, [n - 1]
    while frontier:
        top = frontier.pop()
        for v in range(0, top):
            if matrix[v, top] and v not in visited_out:
                visited_out.add(v)
                frontier.append(v)
    extraneous = sorted(set(range(n)) - (visited_in & visited_out))
    if len(extraneous) > n - 2:
        raise InvalidArchitecture("the output is not reachable from the input")
    matrix = np.delete(np.delete(matrix, extraneous, axis=0), extraneous, axis=1)
    ops = [op for i, op in enumerate(ops) if i not in extraneous]
    labeling = [-1] + [INTERIOR_OPS.index(op) for op in ops[1:-1]] + [-2]

    vertices = matrix.shape[0]
    in_edges = [int(x) for x in np.sum(matrix, axis=0)]
    out_edges = [int(x) for x in np.sum(matrix, axis=1)]
    hashes = [hashlib.md5(str(h).encode("utf-8")).hexdigest()
              for h in zip(out_edges, in_edges, labeling)]
    for _ in range(vertices):
        new_hashes = []
        for v in range(vertices):
            in_neighbours = [hashes[w] for w in range(vertices) if matrix[w, v]]
            out_neighbours = [hashes[w] for w in range(vertices) if matrix[v, w]]
            new_hashes.append(hashlib.md5(("".join(sorted(in_neighbours)) + "|"
                                           + "".join(sorted(out_neighbours)) + "|"
                                           + hashes[v]).encode("utf-8")).hexdigest())
        hashes = new_hashes
    return hashlib.md5(str(sorted(hashes)).encode("utf-8")).hexdigest()

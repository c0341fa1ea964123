"""The agent observation of a NAS-Bench-101 cell (paper §3.2.3): ``encode``, ``encode_batch``."""
from __future__ import annotations

from typing import Sequence

import numpy as np

from ._hash import MAX_VERTICES, OPS
from .cell import Cell, _pack, as_cell  # noqa: F401 - Cell for the doctest

#: length of ``encode(cell)``: 21 lower-triangular adjacency bits + 7 x 5 one-hot labels
ENCODING_SIZE = MAX_VERTICES * (MAX_VERTICES - 1) // 2 + MAX_VERTICES * len(OPS)
_LOWER = [(i, j) for i in range(MAX_VERTICES) for j in range(i)]  # row-major strictly lower part


def encode(cell) -> np.ndarray:
    """Lower-triangular adjacency (transpose of the upper-triangular matrix, strictly lower
    part, row by row: 21 entries) then one-hot labels over :data:`OPS` for 7 vertices;
    smaller cells are padded with zero vertices after the output. float32, length 56.

    >>> encode(Cell([[0, 1], [0, 0]], ["input", "output"]))[:2].tolist()
    [1.0, 0.0]
    """
    cell = as_cell(cell)
    return _encode_packed(np.array([cell._n]), *[np.array([x], np.int64) for x in _pack(cell._n, cell._rows, cell._codes)])[0]


def encode_batch(cells: Sequence) -> np.ndarray:
    """``encode`` over many cells: shape (len(cells), 56), vectorised."""
    cells = [as_cell(c) for c in cells]
    packed = [_pack(c._n, c._rows, c._codes) for c in cells]
    return _encode_packed(np.array([c._n for c in cells], np.int64),
                          np.array([p[0] for p in packed], np.int64),
                          np.array([p[1] for p in packed], np.int64))


def _encode_packed(ns: np.ndarray, adjs: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Encodings of packed cells (the layout of ``enumeration_arrays()``)."""
    adjs = np.asarray(adjs, np.int64)
    codes = np.asarray(codes, np.int64)
    out = np.zeros((len(adjs), ENCODING_SIZE), np.float32)
    for k, (i, j) in enumerate(_LOWER):  # entry (i, j) of the transpose = edge j -> i
        out[:, k] = (adjs >> (7 * j + i)) & 1
    base = len(_LOWER)
    ns = np.asarray(ns, np.int64)
    for v in range(MAX_VERTICES):
        c = (codes >> (3 * v)) & 7
        present = v < ns
        rows = np.flatnonzero(present)
        out[rows, base + 5 * v + c[rows]] = 1.0
    return out

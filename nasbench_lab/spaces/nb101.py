"""The NAS-Bench-101 cell space: operations on vertices, at most 7 vertices and 9 edges.

A :class:`Cell` is a DAG given by a strictly upper-triangular 0/1 adjacency matrix and
one label per vertex (``input`` first, ``output`` last, interior vertices one of
``conv3x3-bn-relu``, ``conv1x1-bn-relu``, ``maxpool3x3``). Construction validates and
prunes exactly as the official ``ModelSpec`` does (vertices not on an input->output path
are dropped); ``key`` is the official md5 module hash, ``blake2s_key`` the paper's
blake2s variant (same refinement, raw 32-byte digests).

>>> from nasbench_lab.spaces.nb101 import Cell, NB101Space
>>> c = Cell([[0, 1, 1], [0, 0, 1], [0, 0, 0]], ["input", "conv3x3-bn-relu", "output"])
>>> len(c.key), c.num_vertices, c.num_edges
(32, 3, 3)
>>> space = NB101Space()
>>> all(n != c for n in space.neighbours(c))
True

The space (``enumerate()``, deduplicated by ``key``) holds 423,624 cells; by number of
vertices after pruning:

======== ========
vertices cells
======== ========
2        1
3        6
4        84
5        2,441
6        62,010
7        359,082
======== ========

Neighbours (paper §3.2.1: remove a vertex, add a vertex, change a label, remove an
edge, add an edge; deduplicated by key). Observed over 10,000 cells drawn uniformly from
the enumeration: mean 25.7 neighbours (the paper saw about 25), median 23, min 7, max 77,
5th-95th percentile 17-37; 7-vertex cells have 24.9 on average, 6-vertex cells 29.7 (no
vertex can be added to a 7-vertex cell). Over 3,000 cells of the uniform-size sampler the
mean is 22.0 (3 to 76). The relation is not symmetric: ``input -> conv3x3 -> output`` has
``input -> output`` as a neighbour (remove the vertex), but adding a vertex to
``input -> output`` keeps the direct edge, so the chain is not its neighbour.

Neighbour candidates are generated in a compiled kernel (``_nb101_jit.candidates_batch``,
the same moves in the same order as the Python :func:`_candidates`). Once an enumeration is
loaded, each candidate is mapped to its row by a cheap 64-bit hash with the refinement
structure of the module hash (equal for equal keys, and checked unique over the 423,624
cells, so the row is exact) and its key read from there; otherwise the candidates are
md5-hashed in one batch. About 0.2 ms per cell with the enumeration loaded, 0.8 ms
without, 1.3 ms on the earlier Python-candidate path (``nasbench-lab bench spaces-nb101``,
2 busy cores). :func:`neighbour_rows_batch` does the same for many cells at once without
forming key strings (about 45 us per cell): the precomputed neighbour table of the
environment over all 423,624 cells (3 to 77 neighbours, mean 25.7) builds in about 25 s.

The samplers test whole batches of proposals against a per-size acceptance table (see
:func:`sample`): about 0.06 ms per draw, 20x the one-proposal-at-a-time loop of the same law.

Hashing (md5 and blake2s) runs in a compiled numba kernel (``_nb101_jit``, compiled once
and cached beside the module): ``Cell(matrix, ops).key`` end to end on fresh cells is about
6x faster than the plain md5 reference :func:`_reference_hash` and ``hash_batch`` about
11x (``nasbench-lab bench spaces-nb101``). Without numba, or with ``NASBENCH_LAB_NO_JIT=1``,
the pure-Python path in ``_nb101_hash`` gives the same keys, more slowly.

The enumeration is built once (about a minute on 2 processes: 450,808 labelled graphs,
one per labelling of each unlabelled isomorphism class, are hashed and deduplicated) and
cached as packed arrays in ``paths.cache_dir()/"nb101_enumeration.npz"``.
"""
from __future__ import annotations

import builtins
import os
import warnings
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np

from .. import paths
from . import _nb101_hash as _h
from ._nb101_hash import (CONV1X1, CONV3X3, INPUT, INTERIOR_OPS, MAX_EDGES, MAX_VERTICES,
                          MAXPOOL3X3, OPS, OUTPUT)
from .base import InvalidArchitecture, SearchSpace, as_index, check_decision_values

#: cells in the space (unique by key)
SIZE = 423_624
#: cells per number of vertices after pruning (checked by the slow enumeration test)
COUNTS = {2: 1, 3: 6, 4: 84, 5: 2441, 6: 62010, 7: 359082}
#: length of ``encode(cell)``: 21 lower-triangular adjacency bits + 7 x 5 one-hot labels
ENCODING_SIZE = MAX_VERTICES * (MAX_VERTICES - 1) // 2 + MAX_VERTICES * len(OPS)
#: the file name of the enumeration cache under ``paths.cache_dir()``
ENUMERATION_FILE = "nb101_enumeration.npz"
_ENUM_FORMAT = 1
_U64 = (1 << 64) - 1
_enumerate = builtins.enumerate  # ``enumerate`` below is the space's function
_SHIFT7 = tuple(7 * i for i in range(MAX_VERTICES))
_SHIFT3 = tuple(3 * i for i in range(MAX_VERTICES))

__all__ = ["Cell", "NB101Space", "OPS", "INTERIOR_OPS", "INPUT", "OUTPUT", "CONV3X3", "CONV1X1",
           "MAXPOOL3X3", "MAX_VERTICES", "MAX_EDGES", "SIZE", "ENCODING_SIZE", "hash_batch",
           "neighbours", "neighbour_keys", "neighbour_rows_batch", "sample", "sample_bananas", "sample_uniform", "encode",
           "encode_batch", "blake2s_batch", "md5_batch", "enumerate", "enumeration_arrays", "enumeration_counts", "cell_at",
           "enumeration_metadata", "enumeration_cached", "build_enumeration", "index_of",
           "cli_build_enumeration", "draw", "InvalidArchitecture"]


# -- the plain md5 reference ---------------------------------------------------------------
def _reference_hash(matrix, ops) -> str:
    """The straightforward official-style key: numpy pruning, then ``hash_module`` on strings.

    This is the reference the speed figures compare against (same results as ``Cell.key``);
    it does not validate beyond what pruning needs.
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
    ops = [op for i, op in _enumerate(ops) if i not in extraneous]
    labeling = [-1] + [INTERIOR_OPS.index(op) for op in ops[1:-1]] + [-2]
    import hashlib

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


# -- the key of a pruned cell: compiled kernel, or the pure-Python path ----------------------
_JIT: Any = None  # the kernel module once loaded; False when numba is unavailable


def _jit():
    global _JIT
    if _JIT is None:
        if os.environ.get("NASBENCH_LAB_NO_JIT"):
            _JIT = False
        else:
            try:
                from . import _nb101_jit
                _JIT = _nb101_jit
            except ImportError:  # pragma: no cover - numba missing
                _JIT = False
    return _JIT


def _pack(n: int, rows, codes) -> tuple[int, int]:
    """Pruned cell -> (adjacency bits ``7*i + j``, op codes 3 bits per vertex)."""
    return (sum(map(int.__lshift__, rows, _SHIFT7)), sum(map(int.__lshift__, codes, _SHIFT3)))


def _unpack(n: int, adj: int, code: int) -> tuple[tuple, tuple]:
    rows = tuple((adj >> (7 * i)) & 0x7F for i in range(n))
    codes = tuple((code >> (3 * i)) & 7 for i in range(n))
    return rows, codes


def _key_of(n: int, rows, codes) -> str:
    jit = _jit()
    if jit:
        adj, code = _pack(n, rows, codes)
        hi, lo = jit.key_halves(n, adj, code)
        return f"{hi & _U64:016x}{lo & _U64:016x}"
    return _h.md5_key(n, rows, codes)


def _keys_of(ns, adjs, codes, algorithm: str = "md5") -> list[str]:
    """Keys (``algorithm`` "md5" or "blake2s") of many pruned cells given as integer arrays.

    Both run in the compiled batch kernels when numba is available; otherwise cells are
    grouped by structure so that repeated messages are hashed once.
    """
    jit = _jit()
    if jit and len(ns):
        args = (np.asarray(ns, np.int64), np.asarray(adjs, np.int64), np.asarray(codes, np.int64))
        if algorithm == "md5":
            halves = jit.key_halves_batch(*args).view(np.uint64)
            return [f"{hi:016x}{lo:016x}" for hi, lo in halves.tolist()]
        if algorithm == "blake2s":
            hexes = jit.blake2s_batch(*args).tobytes().hex()
            return [hexes[k:k + 64] for k in range(0, len(hexes), 64)]
    groups: dict = {}
    for i, (n, a, c) in _enumerate(zip(np.asarray(ns).tolist(), np.asarray(adjs).tolist(),
                                       np.asarray(codes).tolist())):
        groups.setdefault((n, a), []).append((i, c))
    out: list = [None] * len(ns)
    for (n, a), members in groups.items():
        rows, _ = _unpack(n, a, 0)
        labelings = [_unpack(n, 0, c)[1] for _, c in members]
        for (i, _), k in zip(members, _h.keys_for_labelings(n, rows, labelings, algorithm)):
            out[i] = k
    return out


def md5_batch(ns, adjs, codes) -> list[str]:
    """Official md5 keys of many packed, already pruned cells (the layout of
    :func:`enumeration_arrays`)."""
    return _keys_of(ns, adjs, codes, "md5")


def blake2s_batch(ns, adjs, codes) -> list[str]:
    """blake2s keys of many packed cells (the layout of :func:`enumeration_arrays`)."""
    return _keys_of(ns, adjs, codes, "blake2s")


# -- the Cell value ---------------------------------------------------------------------
class Cell:
    """A pruned NAS-Bench-101 cell: frozen, equal and hashed by ``key``.

    ``matrix``: a square nested list or numpy array of 0/1 (integers, booleans, or floats
    that are exactly 0.0/1.0); ``ops``: one official label per vertex. Anything else raises
    :class:`InvalidArchitecture` with the reason. ``matrix`` (np.int8, read-only) and
    ``ops`` then hold the pruned graph in the original vertex order; ``key`` is the official
    md5 module hash, ``blake2s_key`` the variant.

    >>> c = Cell([[0, 1], [0, 0]], ["input", "output"])
    >>> c.ops
    ('input', 'output')
    >>> c.matrix.tolist()
    [[0, 1], [0, 0]]
    """

    __slots__ = ("_n", "_rows", "_codes", "key", "_blake2s", "_matrix")

    def __init__(self, matrix, ops):
        n, rows, codes = _h.parse(matrix, ops)
        _init(self, n, rows, codes, _key_of(n, rows, codes))

    @classmethod
    def _trusted(cls, n: int, rows: tuple, codes: tuple, key: str | None = None) -> "Cell":
        """A cell from an already pruned, valid graph (internal fast path)."""
        self = object.__new__(cls)
        _init(self, n, rows, codes, key if key is not None else _key_of(n, rows, codes))
        return self

    @property
    def matrix(self) -> np.ndarray:
        m = self._matrix
        if m is None:
            n = self._n
            m = np.zeros((n, n), dtype=np.int8)
            for i, r in _enumerate(self._rows):
                for j in range(i + 1, n):
                    if r >> j & 1:
                        m[i, j] = 1
            m.flags.writeable = False
            object.__setattr__(self, "_matrix", m)
        return m

    @property
    def ops(self) -> tuple[str, ...]:
        return tuple(OPS[c] for c in self._codes)

    @property
    def blake2s_key(self) -> str:
        """The blake2s (32-byte digest) module hash: 64 hex characters."""
        b = self._blake2s
        if b is None:
            adj, code = _pack(self._n, self._rows, self._codes)
            b = _keys_of([self._n], [adj], [code], "blake2s")[0]
            object.__setattr__(self, "_blake2s", b)
        return b

    @property
    def num_vertices(self) -> int:
        return self._n

    @property
    def num_edges(self) -> int:
        return sum(r.bit_count() for r in self._rows)

    def to_dict(self) -> dict:
        return {"matrix": self.matrix.tolist(), "ops": list(self.ops)}

    def __eq__(self, other) -> bool:
        return isinstance(other, Cell) and other.key == self.key

    def __hash__(self) -> int:
        return hash(self.key)

    def __setattr__(self, name, value):
        raise AttributeError("Cell is frozen")

    def __delattr__(self, name):
        raise AttributeError("Cell is frozen")

    def __reduce__(self):
        return Cell, (self.matrix.tolist(), list(self.ops))

    def __repr__(self) -> str:
        return f"Cell(matrix={self.matrix.tolist()}, ops={list(self.ops)})"


def _init(self: Cell, n, rows, codes, key) -> None:
    s = object.__setattr__
    s(self, "_n", n)
    s(self, "_rows", rows)
    s(self, "_codes", codes)
    s(self, "key", key)
    s(self, "_blake2s", None)
    s(self, "_matrix", None)


def as_cell(arch) -> Cell:
    """``Cell``, ``(matrix, ops)`` or ``{"matrix": ..., "ops": ...}`` -> Cell."""
    if isinstance(arch, Cell):
        return arch
    if isinstance(arch, dict):
        try:
            return Cell(arch["matrix"], arch["ops"])
        except KeyError as e:
            raise InvalidArchitecture(f"a NAS-Bench-101 dict needs 'matrix' and 'ops' (missing {e})") from None
    if isinstance(arch, (tuple, list)) and len(arch) == 2:
        return Cell(arch[0], arch[1])
    raise InvalidArchitecture(
        f"expected a nb101 Cell, (matrix, ops) or a dict with matrix/ops, got {type(arch).__name__}")


# -- batched hashing ----------------------------------------------------------------------
def hash_batch(matrices, ops_list) -> list[str]:
    """Keys of many ``(matrix, ops)`` pairs; validation and pruning vectorised over the batch.

    Cells of one size given as one ``(N, n, n)`` integer/boolean array (or a list of
    equal-size matrices) are checked with numpy; any violation raises
    :class:`InvalidArchitecture` naming the offending cell.

    >>> hash_batch([[[0, 1], [0, 0]]], [["input", "output"]]) == [Cell([[0, 1], [0, 0]], ["input", "output"]).key]
    True
    """
    ops_list = list(ops_list)
    if isinstance(matrices, np.ndarray) and matrices.ndim == 3:
        _h.check_size(matrices.shape[1], "cell 0: ")
        groups = {matrices.shape[1]: (np.arange(len(matrices)), matrices)}
        if len(ops_list) != len(matrices):
            raise InvalidArchitecture(f"{len(matrices)} matrices but {len(ops_list)} op lists")
    else:
        matrices = list(matrices)
        if len(ops_list) != len(matrices):
            raise InvalidArchitecture(f"{len(matrices)} matrices but {len(ops_list)} op lists")
        by_size: dict = {}
        for i, m in _enumerate(matrices):
            _h.check_size(len(m) if hasattr(m, "__len__") else 0, f"cell {i}: ")
            by_size.setdefault(len(m), []).append(i)
        groups = {}
        for size, idx in by_size.items():
            try:
                arr = np.asarray([matrices[i] for i in idx])
            except ValueError:
                arr = None
            if arr is None or arr.ndim != 3 or arr.dtype == object:
                for i in idx:  # ragged or odd input: the scalar path gives the exact reason
                    _wrap(i, lambda i=i: _h.parse(matrices[i], ops_list[i]))
                raise InvalidArchitecture("ragged matrices in batch")  # pragma: no cover
            groups[size] = (np.asarray(idx), arr)
    total = sum(len(idx) for idx, _ in groups.values())
    ns = np.zeros(total, np.int64)
    adjs = np.zeros(total, np.int64)
    codes = np.zeros(total, np.int64)
    for size, (idx, arr) in groups.items():
        n_, a_, c_ = _batch_prune(arr, [ops_list[i] for i in idx], idx)
        ns[idx], adjs[idx], codes[idx] = n_, a_, c_
    return _keys_of(ns, adjs, codes)


def _wrap(i, fn):
    try:
        return fn()
    except InvalidArchitecture as e:
        raise InvalidArchitecture(f"cell {i}: {e}") from None


def _batch_prune(arr: np.ndarray, ops_list: list, idx) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Vectorised validation and pruning of N cells of one size n: (ns, adjs, codes)."""
    N, n, n2 = arr.shape
    if n != n2:
        raise InvalidArchitecture(f"cell {idx[0]}: matrix must be square, got shape {arr.shape[1:]}")
    if n < 2:
        raise InvalidArchitecture(f"cell {idx[0]}: a cell needs at least 2 vertices, got {n}")
    if arr.dtype.kind not in "biuf":
        raise InvalidArchitecture(f"cell {idx[0]}: matrix dtype must be integer or boolean, got {arr.dtype}")
    bad = ~((arr == 0) | (arr == 1)).all(axis=(1, 2))
    lower = np.tril(np.ones((n, n), bool))
    bad |= (arr.astype(bool) & lower[None]).any(axis=(1, 2))
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        _wrap(int(idx[k]), lambda: _h.parse(arr[k], ops_list[k]))
    bits = arr.astype(bool)
    weights = np.int64(1) << np.arange(n, dtype=np.int64)
    rows = (bits * weights).sum(axis=2)  # (N, n): successor masks
    # ops -> codes (vectorised lookup over the distinct op names)
    try:
        names = np.asarray(ops_list, dtype=object)
    except ValueError:
        names = None
    if names is None or names.shape != (N, n):
        for k, ops in _enumerate(ops_list):
            _wrap(int(idx[k]), lambda ops=ops: _h.parse_ops(ops, n))
    table = {op: c for c, op in _enumerate(OPS)}
    try:
        codes = np.vectorize(table.__getitem__, otypes=[np.int64])(names)
    except (KeyError, TypeError):
        for k, ops in _enumerate(ops_list):
            _wrap(int(idx[k]), lambda ops=ops: _h.parse_ops(ops, n))
        raise  # pragma: no cover
    okops = (codes[:, 0] == 0) & (codes[:, -1] == 4)
    if n > 2:
        okops &= ((codes[:, 1:-1] >= 1) & (codes[:, 1:-1] <= 3)).all(axis=1)
    if not okops.all():
        k = int(np.flatnonzero(~okops)[0])
        _wrap(int(idx[k]), lambda: _h.parse_ops(ops_list[k], n))
    # pruning: forward reach from the input, backward reach from the output
    fwd = np.ones(N, np.int64)
    for v in range(n):
        fwd |= np.where((fwd >> v) & 1 == 1, rows[:, v], 0)
    bwd = np.full(N, 1 << (n - 1), np.int64)
    for v in range(n - 2, -1, -1):
        bwd |= np.where(rows[:, v] & bwd != 0, np.int64(1) << v, 0)
    keep = fwd & bwd
    full = (1 << n) - 1
    ns = np.full(N, n, np.int64)
    shifts = 7 * np.arange(n, dtype=np.int64)
    adjs = (rows << shifts).sum(axis=1)
    packed_codes = (codes << (3 * np.arange(n, dtype=np.int64))).sum(axis=1)
    for k in np.flatnonzero(keep != full).tolist():  # rare: prune one by one, exact errors
        pn, prow, pcodes = _wrap(int(idx[k]), lambda k=k: _h.prune(n, tuple(int(x) for x in rows[k]),
                                                                  tuple(int(x) for x in codes[k])))
        ns[k] = pn
        adjs[k], packed_codes[k] = _pack(pn, prow, pcodes)
    edges = np.zeros(N, np.int64)
    for s in range(49):
        edges += (adjs >> s) & 1
    over = (ns > MAX_VERTICES) | (edges > MAX_EDGES)
    if over.any():
        k = int(np.flatnonzero(over)[0])
        _wrap(int(idx[k]), lambda: _h.parse(arr[k], ops_list[k]))
    return ns, adjs, packed_codes


# -- neighbours (paper §3.2.1, Fig. 2) -------------------------------------------------------
def _remove_vertex(n: int, rows, codes, v: int) -> list:
    """Every way of removing interior vertex ``v`` and reconnecting its predecessors to its
    successors so that each of them keeps in- and out-degree >= 1 (within the edge limit)."""
    preds = [u for u in range(v) if rows[u] >> v & 1]
    succs = [w for w in range(v + 1, n) if rows[v] >> w & 1]
    base = [rows[u] & ~(1 << v) for u in range(n)]
    base[v] = 0
    pairs = [(p, s) for p in preds for s in succs if not base[p] >> s & 1]
    has_in = 0
    for u in range(n):
        if u != v:
            has_in |= base[u]
    edges0 = sum(r.bit_count() for r in base)
    out = []
    low = (1 << v) - 1
    for subset in range(1 << len(pairs)):
        if edges0 + subset.bit_count() > MAX_EDGES:
            continue
        new = base[:]
        for k, (p, s) in _enumerate(pairs):
            if subset >> k & 1:
                new[p] |= 1 << s
        inn = has_in
        for p in preds:
            inn |= new[p]
        if any(new[p] == 0 for p in preds) or any(not inn >> s & 1 for s in succs):
            continue
        # drop vertex v: bits above v shift down by one
        nr = tuple((r & low) | ((r >> 1) & ~low) for u, r in _enumerate(new) if u != v)
        out.append((n - 1, nr, codes[:v] + codes[v + 1:]))
    return out


def _candidates(n: int, rows, codes) -> list:
    """The five moves as (n, rows, codes) tuples, in a fixed order, before deduplication."""
    cands = []
    edges = sum(r.bit_count() for r in rows)
    # 1. remove a vertex
    for v in range(1, n - 1):
        cands.extend(_remove_vertex(n, rows, codes, v))
    # 2. add a vertex between a preceding vertex a and a succeeding vertex b (all labels)
    if n < MAX_VERTICES and edges + 2 <= MAX_EDGES:
        for a in range(n - 1):
            low = (1 << (a + 1)) - 1
            shifted = [(r & low) | ((r & ~low) << 1) for r in rows]
            for b in range(a + 1, n):
                nb = b + 1
                new = shifted[:a + 1] + [1 << nb] + shifted[a + 1:]
                new[a] |= 1 << (a + 1)
                nr = tuple(new)
                for c in (1, 2, 3):
                    cands.append((n + 1, nr, codes[:a + 1] + (c,) + codes[a + 1:]))
    # 3. change a vertex label
    for v in range(1, n - 1):
        for c in (1, 2, 3):
            if c != codes[v]:
                cands.append((n, rows, codes[:v] + (c,) + codes[v + 1:]))
    # 4. remove an edge, if every vertex stays on an input->output path
    for i in range(n - 1):
        for j in range(i + 1, n):
            if rows[i] >> j & 1:
                new = list(rows)
                new[i] &= ~(1 << j)
                if _h.is_full(n, new):
                    cands.append((n, tuple(new), codes))
    # 5. add an edge a -> b (either direction, no cycle, edge limit)
    if edges < MAX_EDGES:
        desc = [0] * n  # descendants of each vertex
        for v in range(n - 1, -1, -1):
            d = rows[v]
            for w in range(v + 1, n):
                if rows[v] >> w & 1:
                    d |= desc[w]
            desc[v] = d
        for a in range(n - 1):
            for b in range(1, n):
                if a == b or rows[a] >> b & 1 or (b < a and rows[b] >> a & 1):
                    continue
                if a < b:
                    new = list(rows)
                    new[a] |= 1 << b
                    cands.append((n, tuple(new), codes))
                elif not desc[b] >> a & 1:  # no path b -> a: the edge a -> b keeps it acyclic
                    new = list(rows)
                    new[a] |= 1 << b  # against index order: renumber topologically
                    order, nr = _h.topo_sort(n, new)
                    cands.append((n, tuple(nr), tuple(codes[v] for v in order)))
    return cands


def _enum_index(d: dict):
    """(sorted 64-bit refinement hashes, their rows) of a loaded enumeration, or None when the
    compiled kernels are unavailable or the hash is not unique over the enumeration."""
    got = d.get("wl64_index")
    if got is None:
        jit = _jit()
        got = False
        if jit:
            h = jit.wl64_batch(d["n"].astype(np.int64), d["adj"].astype(np.int64),
                               d["codes"].astype(np.int64))
            order = np.argsort(h, kind="stable")
            sh = h[order]
            if not (sh[1:] == sh[:-1]).any():
                got = (sh, order.astype(np.int64))
        d["wl64_index"] = got
    return got or None


def _loaded_enumeration() -> dict | None:
    """A complete enumeration already in memory (any cache path), else None."""
    for d in _ENUM.values():
        if len(d["keys"]) == SIZE:
            return d
    return None


def _rows_of_packed(index, ns, adjs, codes) -> np.ndarray | None:
    """Enumeration rows of packed cells through the refinement-hash index (None if one misses)."""
    sh, order = index
    h = _jit().wl64_batch(ns, adjs, codes)
    pos = np.minimum(np.searchsorted(sh, h), len(sh) - 1)
    if not (sh[pos] == h).all():
        return None
    return order[pos]


def _first_rows(offsets: np.ndarray, rows: np.ndarray, own: np.ndarray) -> np.ndarray:
    """Mask of the candidates that are the first of their cell to reach a row other than the
    cell's own (``own[i]``): the deduplication by key, vectorised over many cells."""
    cell = np.repeat(np.arange(len(offsets) - 1, dtype=np.int64), np.diff(offsets))
    first = np.zeros(len(rows), bool)
    _, idx = np.unique(cell * SIZE + rows, return_index=True)
    first[idx] = True
    return first & (rows != own[cell])


def neighbour_rows_batch(ns, adjs, codes, own_rows, data: dict) -> tuple[np.ndarray, np.ndarray]:
    """Neighbour rows of many enumeration cells as CSR ``(offsets, targets)``, in
    ``neighbours`` order (the precomputed-table path: no key strings are formed).

    ``data`` is the loaded enumeration (``_load()``); cells are packed as in it.
    """
    index = _enum_index(data)
    if index is None:
        raise RuntimeError("the compiled kernels are needed for neighbour_rows_batch")
    args = [np.asarray(x, np.int64) for x in (ns, adjs, codes)]
    off, cn, ca, cc = _jit().candidates_batch(*args)
    rows = _rows_of_packed(index, cn, ca, cc)
    if rows is None:
        raise RuntimeError("a neighbour is missing from the enumeration")
    keep = _first_rows(off, rows, np.asarray(own_rows, np.int64))
    cell = np.repeat(np.arange(len(off) - 1, dtype=np.int64), np.diff(off))
    counts = np.bincount(cell[keep], minlength=len(off) - 1)
    offsets = np.zeros(len(off), np.int64)
    np.cumsum(counts, out=offsets[1:])
    return offsets, rows[keep].astype(np.int32)


def _neighbour_data(cell: Cell) -> tuple[list, list]:
    """(candidates, keys) of the unique neighbours of ``cell`` in move order.

    Three paths, same result: with the compiled kernels, the candidates are generated in
    numba; then, when an enumeration is loaded, each is mapped to its row by the 64-bit
    refinement hash (unique over the enumeration, equal for equal keys) and the key read
    from it, else hashed with the batched md5 kernel. Without numba, plain Python.
    """
    jit = _jit()
    if not jit:
        return _neighbour_data_python(cell)
    adj, code = _pack(cell._n, cell._rows, cell._codes)
    off, cn, ca, cc = jit.candidates_batch(np.array([cell._n], np.int64), np.array([adj], np.int64),
                                           np.array([code], np.int64))
    d = _loaded_enumeration()
    index = _enum_index(d) if d is not None else None
    if index is not None:
        rows = _rows_of_packed(index, np.append(cn, cell._n), np.append(ca, adj), np.append(cc, code))
        if rows is not None:
            keep = np.flatnonzero(_first_rows(off, rows[:-1], rows[-1:]))
            keys = _keys_str(d)[rows[keep]].tolist()
            return list(zip(cn[keep].tolist(), ca[keep].tolist(), cc[keep].tolist())), keys
    # md5 path: exact duplicates dropped first, then the first of every key kept
    packed = np.stack([cn, ca, cc], axis=1)
    _, first = np.unique(packed, axis=0, return_index=True)
    first.sort()
    keys = _keys_of(cn[first], ca[first], cc[first])
    seen = {cell.key}
    out_c, out_k = [], []
    for c, k in zip(packed[first].tolist(), keys):
        if k not in seen:
            seen.add(k)
            out_c.append(tuple(c))
            out_k.append(k)
    return out_c, out_k


def _neighbour_data_python(cell: Cell) -> tuple[list, list]:
    """The plain-Python ``_neighbour_data`` (candidates as (n, rows, codes) tuples)."""
    cands = _candidates(cell._n, cell._rows, cell._codes)
    uniq = list(dict.fromkeys(cands))
    packed = [_pack(*c) for c in uniq]
    keys = _keys_of([c[0] for c in uniq], [p[0] for p in packed], [p[1] for p in packed])
    seen = {cell.key}
    out_c, out_k = [], []
    for c, k in zip(uniq, keys):
        if k not in seen:
            seen.add(k)
            out_c.append((c[0], *_pack(*c)))
            out_k.append(k)
    return out_c, out_k


def neighbours(cell) -> list[Cell]:
    """All one-move neighbours of ``cell`` (paper §3.2.1), unique by key, never ``cell``.

    Order: remove-vertex moves, add-vertex, change-label, remove-edge, add-edge; within a
    move by vertex/edge index; the first of several moves reaching the same key is kept.

    >>> c = Cell([[0, 1, 0], [0, 0, 1], [0, 0, 0]], ["input", "maxpool3x3", "output"])
    >>> [n.num_vertices for n in neighbours(c)][:3]
    [2, 4, 4]
    """
    cell = as_cell(cell)
    cands, keys = _neighbour_data(cell)
    return [Cell._trusted(n, *_unpack(n, a, c), k) for (n, a, c), k in zip(cands, keys)]


def neighbour_keys(cell) -> list[str]:
    """The keys of ``neighbours(cell)``, in the same order, without building Cell objects."""
    return _neighbour_data(as_cell(cell))[1]


# -- samplers (paper §3.2.3, Fig. 5) ------------------------------------------------------
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
    for k, (i, j) in _enumerate(_pair_bits(n)):
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
            for k, (i, j) in _enumerate(pairs):
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


# -- the agent observation (paper §3.2.3) --------------------------------------------------
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
    for k, (i, j) in _enumerate(_LOWER):  # entry (i, j) of the transpose = edge j -> i
        out[:, k] = (adjs >> (7 * j + i)) & 1
    base = len(_LOWER)
    ns = np.asarray(ns, np.int64)
    for v in range(MAX_VERTICES):
        c = (codes >> (3 * v)) & 7
        present = v < ns
        rows = np.flatnonzero(present)
        out[rows, base + 5 * v + c[rows]] = 1.0
    return out


# -- the enumeration ---------------------------------------------------------------------
_ENUM: dict = {}  # cache path -> loaded arrays


def enumeration_cache_path() -> Path:
    return paths.cache_dir() / ENUMERATION_FILE


def enumeration_cached(path=None) -> bool:
    """Whether the enumeration cache file exists."""
    return Path(path or enumeration_cache_path()).exists()


def build_enumeration(path=None, workers: int = 2) -> dict:
    """Enumerate the space and write the cache atomically (``np.savez`` arrays).

    Two processes building at once each write a private temporary file and rename it over
    the target, so readers only ever see a complete file.
    """
    from . import _nb101_enum

    path = Path(path or enumeration_cache_path())
    data = _nb101_enum.build(workers=workers)
    data["format"] = np.int64(_ENUM_FORMAT)
    with paths.atomic_write(path, suffix=".npz") as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, **data)
    _ENUM.pop(str(path), None)
    return data


def _load(path=None, workers: int = 2) -> dict:
    path = Path(path or enumeration_cache_path())
    got = _ENUM.get(str(path))
    if got is not None:
        return got
    data = None
    if path.exists():
        why = ""
        try:
            data = paths.read_npz(path, ("keys", "n", "adj", "codes", "format"), "nb101 enumeration cache")
        except paths.UnreadableFile as e:  # a derived cache: rebuild it
            why = str(e)
        else:
            lengths = {len(data[k]) for k in ("keys", "n", "adj", "codes")}
            if int(data["format"]) != _ENUM_FORMAT or lengths != {SIZE}:
                why = f"nb101 enumeration cache {path} is stale or incomplete (format, or not {SIZE:,} cells)"
        if why:
            data = None
            warnings.warn(f"{why}; rebuilding it", RuntimeWarning, stacklevel=3)
    if data is None:
        data = build_enumeration(path, workers=workers)
    _ENUM[str(path)] = data
    return data


def _keys_str(d: dict) -> np.ndarray:
    """The keys as a str array (converted once, on first use)."""
    if "keys_str" not in d:
        d["keys_str"] = d["keys"].astype("U32")
    return d["keys_str"]


def enumeration_arrays(path=None) -> dict[str, np.ndarray]:
    """Arrays over the 423,624 cells in enumeration order (sorted by key), for vectorised use.

    ``keys`` (str), ``n`` (vertices), ``adj`` (uint64, bit ``7*i + j`` = edge i -> j),
    ``codes`` (uint32, 3 bits per vertex), ``ops`` ((N, 7) int8 op codes, -1 padded) and
    ``matrices`` ((N, 7, 7) int8, zero padded after the output).
    """
    d = _load(path)
    if "matrices" not in d:
        bits = np.unpackbits(d["adj"].astype("<u8").view(np.uint8).reshape(-1, 8), axis=1, bitorder="little")
        d["matrices"] = bits[:, :49].reshape(-1, 7, 7).astype(np.int8)
        ops = ((d["codes"][:, None].astype(np.int64) >> (3 * np.arange(7))) & 7).astype(np.int8)
        ops[np.arange(7)[None, :] >= d["n"][:, None]] = -1
        d["ops"] = ops
    return {"keys": _keys_str(d), "n": d["n"], "adj": d["adj"], "codes": d["codes"],
            "ops": d["ops"], "matrices": d["matrices"]}


def enumeration_counts(path=None) -> dict[int, int]:
    """Cells per number of vertices (2..7) in the enumeration."""
    n = _load(path)["n"]
    return {int(v): int(c) for v, c in zip(*np.unique(n, return_counts=True))}


def enumeration_metadata(path=None) -> dict:
    """Build metadata stored with the cache (seconds, workers, labelled graphs hashed)."""
    d = _load(path)
    return {k: d[k].item() for k in ("build_seconds", "structure_seconds", "labelled_hashed", "workers")
            if k in d}


def cell_at(i: int, path=None) -> Cell:
    """The ``i``-th cell of the enumeration."""
    i = as_index(i, "nb101 enumeration index")
    d = _load(path)
    if not -SIZE <= i < SIZE:
        raise IndexError(f"nb101 enumeration index {i} out of range")
    n = int(d["n"][i])
    rows, codes = _unpack(n, int(d["adj"][i]), int(d["codes"][i]))
    return Cell._trusted(n, rows, codes, d["keys"][i].decode())


def index_of(key: str, path=None) -> int:
    """Position of ``key`` in the enumeration (KeyError when absent)."""
    keys = _load(path)["keys"]
    k = key.encode() if isinstance(key, str) else key
    i = int(np.searchsorted(keys, k))
    if i >= len(keys) or keys[i] != k:
        raise KeyError(f"{key!r} is not a NAS-Bench-101 cell key")
    return i


class Enumeration(Sequence):
    """The cells of the space in enumeration order, built lazily on access."""

    def __init__(self, path=None):
        self._path = path
        self._data = _load(path)

    def __len__(self) -> int:
        return len(self._data["keys"])

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [cell_at(j, self._path) for j in range(*i.indices(len(self)))]
        return cell_at(i, self._path)

    def __iter__(self) -> Iterator[Cell]:
        d = self._data
        for n, a, c, k in zip(d["n"].tolist(), d["adj"].tolist(), d["codes"].tolist(), _keys_str(d).tolist()):
            rows, codes = _unpack(n, a, c)
            yield Cell._trusted(n, rows, codes, k)

    @property
    def keys(self) -> np.ndarray:
        return _keys_str(self._data)


def enumerate(path=None) -> Enumeration:  # noqa: A001 - the space's vocabulary
    """All 423,624 unique cells, sorted by key (a lazy sequence over the cached arrays)."""
    return Enumeration(path)


def cli_build_enumeration(args) -> int:
    """``nasbench-lab build nb101-enumeration [--workers 2] [--out PATH]``."""
    out = Path(args.out) if getattr(args, "out", None) else enumeration_cache_path()
    data = build_enumeration(out, workers=int(getattr(args, "workers", 2) or 2))
    counts = {int(v): int(c) for v, c in zip(*np.unique(data["n"], return_counts=True))}
    print(f"nb101 enumeration: {len(data['keys']):,} cells {counts}, "
          f"{float(data['build_seconds']):.1f} s on {int(data['workers'])} workers -> {out}")
    return 0


# -- drawing ------------------------------------------------------------------------------
OP_COLOURS = {INPUT: "#4c72b0", CONV3X3: "#dd8452", CONV1X1: "#55a868", MAXPOOL3X3: "#c44e52",
              OUTPUT: "#8172b3"}
_SHORT = {INPUT: "in", CONV3X3: "3x3", CONV1X1: "1x1", MAXPOOL3X3: "mp", OUTPUT: "out"}


def draw(cell, ax=None, layout: str = "layered"):
    """Draw ``cell`` on a matplotlib axis (networkx layout, vertices coloured by op).

    ``layout`` is ``"layered"`` (topological layers left to right) or any networkx
    ``*_layout`` name such as ``"spring"``. Returns the axis.
    """
    import matplotlib.pyplot as plt
    import networkx as nx

    cell = as_cell(cell)
    if ax is None:
        _, ax = plt.subplots(figsize=(4, 3))
    g = nx.DiGraph()
    ops = cell.ops
    for v, op in _enumerate(ops):
        g.add_node(v, op=op)
    m = cell.matrix
    g.add_edges_from((int(i), int(j)) for i, j in zip(*np.nonzero(m)))
    if layout == "layered":
        for v in nx.topological_sort(g):
            g.nodes[v]["layer"] = max((g.nodes[u]["layer"] + 1 for u in g.predecessors(v)), default=0)
        pos = nx.multipartite_layout(g, subset_key="layer")
    else:
        pos = getattr(nx, f"{layout}_layout")(g)
    nx.draw_networkx(g, pos, ax=ax, node_color=[OP_COLOURS[op] for op in ops],
                     labels={v: _SHORT[op] for v, op in _enumerate(ops)}, font_size=8,
                     font_color="white", node_size=600, arrows=True, arrowsize=12)
    ax.set_axis_off()
    return ax



# -- the space object ---------------------------------------------------------------------
class NB101Space(SearchSpace):
    """The NAS-Bench-101 space for the rest of the package (see DESIGN.md).

    >>> import numpy as np
    >>> space = NB101Space()
    >>> cell = space.sample(np.random.default_rng(0))
    >>> space.validate((cell.matrix, cell.ops)) == cell
    True
    """

    name = "nb101"
    encoding_size = ENCODING_SIZE
    size = SIZE
    #: the neighbour table over all cells takes a long build; it is cached under this
    #: file name and built by this command (``env.tables.table_is_ready``)
    neighbour_table_cache = "nb101_neighbours.npz"
    neighbour_table_command = "nasbench-lab build nb101-neighbours"

    def sample(self, rng: np.random.Generator) -> Cell:
        return sample(rng)

    def sample_bananas(self, rng: np.random.Generator) -> Cell:
        return sample_bananas(rng)

    def sample_uniform(self, rng: np.random.Generator) -> Cell:
        return sample_uniform(rng)

    def neighbours(self, arch) -> list[Cell]:
        return neighbours(arch)

    def neighbour_keys(self, arch) -> list[str]:
        return neighbour_keys(arch)

    def key(self, arch) -> str:
        return as_cell(arch).key

    def encode(self, arch) -> np.ndarray:
        return encode(arch)

    def encode_batch(self, archs: Sequence) -> np.ndarray:
        return encode_batch(archs)

    def validate(self, arch) -> Cell:
        return as_cell(arch)

    def enumerate(self) -> Enumeration:
        return enumerate()

    def from_key(self, key: str) -> Cell:
        return cell_at(index_of(key))

    def index(self, arch) -> int:
        """Position of ``arch`` in ``enumerate()``."""
        return index_of(as_cell(arch).key)

    def draw(self, arch, ax=None, **kw):
        return draw(arch, ax=ax, **kw)

    # -- categorical decisions -------------------------------------------------------------
    def decisions(self) -> list[tuple[str, tuple]]:
        """21 edge bits of the 7-vertex upper triangle (row-major: ``edge 0->1``, ``edge
        0->2``, ..., ``edge 5->6``), choices ``(0, 1)``; then the labels of the 5 interior
        vertices ``op 1`` .. ``op 5``, choices :data:`INTERIOR_OPS`. Vertex 0 is the input,
        vertex 6 the output.

        Not every vector is a cell: :meth:`from_decisions` prunes and may refuse.

        >>> d = NB101Space().decisions()
        >>> len(d), d[0], d[20], d[21]
        (26, ('edge 0->1', (0, 1)), ('edge 5->6', (0, 1)), ('op 1', ('conv3x3-bn-relu', 'conv1x1-bn-relu', 'maxpool3x3')))
        """
        return list(_DECISIONS)

    def to_decisions(self, arch) -> list:
        """The decision values of ``arch``: its pruned graph embedded in the 7-vertex layout.

        Vertices ``0 .. n-2`` of the pruned ``n``-vertex cell keep their positions, its
        output moves to vertex 6; the unused interior vertices ``n-1 .. 5`` get no edges
        and the label ``conv3x3-bn-relu`` (pruning drops them again), so
        ``from_decisions(to_decisions(a))`` has the key of ``a``.

        >>> c = Cell([[0, 1, 1], [0, 0, 1], [0, 0, 0]], ["input", "maxpool3x3", "output"])
        >>> v = NB101Space().to_decisions(c)
        >>> [name for (name, _), x in zip(NB101Space().decisions(), v) if x == 1]
        ['edge 0->1', 'edge 0->6', 'edge 1->6']
        >>> v[21:]
        ['maxpool3x3', 'conv3x3-bn-relu', 'conv3x3-bn-relu', 'conv3x3-bn-relu', 'conv3x3-bn-relu']
        >>> NB101Space().from_decisions(v).key == c.key
        True
        """
        cell = as_cell(arch)
        n, last = cell._n, MAX_VERTICES - 1
        place = list(range(n - 1)) + [last]  # pruned vertex -> vertex of the 7-vertex layout
        adj = [[0] * MAX_VERTICES for _ in range(MAX_VERTICES)]
        for i, r in _enumerate(cell._rows):
            for j in range(i + 1, n):
                if r >> j & 1:
                    adj[place[i]][place[j]] = 1
        edges = [adj[i][j] for i, j in _DECISION_PAIRS]
        ops = [OPS[c] for c in cell._codes[1:-1]] + [INTERIOR_OPS[0]] * (MAX_VERTICES - n)
        return edges + ops

    def from_decisions(self, values) -> Cell:
        """The pruned cell of one value per decision (see :meth:`decisions`).

        Values must be exactly choices of their decision: edge bits are the integers 0
        or 1 (``True`` or ``1.0`` are refused, not coerced), ops official labels. The
        graph is then validated and pruned as by :class:`Cell` (vertices off every
        input->output path dropped, at most 9 edges after pruning); a graph that is not
        a cell raises :class:`InvalidArchitecture` with the reason.

        >>> space = NB101Space()
        >>> v = [0] * 21 + ["conv3x3-bn-relu"] * 5
        >>> v[5] = 1                                     # edge 0->6
        >>> space.from_decisions(v).ops
        ('input', 'output')
        >>> v[5] = 0
        >>> space.from_decisions(v)
        Traceback (most recent call last):
        ...
        nasbench_lab.spaces.base.InvalidArchitecture: nb101 decisions: the output is not reachable from the input
        """
        values = check_decision_values("nb101", _DECISIONS, values)
        n_pairs = len(_DECISION_PAIRS)
        rows = [0] * MAX_VERTICES
        for (i, j), bit in zip(_DECISION_PAIRS, values[:n_pairs]):
            if bit:
                rows[i] |= 1 << j
        codes = (0, *(OPS.index(op) for op in values[n_pairs:]), len(OPS) - 1)
        try:
            n, prows, pcodes = _h.prune(MAX_VERTICES, rows, codes)
        except InvalidArchitecture as e:
            raise InvalidArchitecture(f"nb101 decisions: {e}") from None
        return Cell._trusted(n, prows, pcodes)


#: the (i, j) vertex pair of each edge decision, row-major upper triangle of 7 x 7
_DECISION_PAIRS: tuple[tuple[int, int], ...] = tuple((i, j) for i in range(MAX_VERTICES)
                                                     for j in range(i + 1, MAX_VERTICES))
_DECISIONS: tuple[tuple[str, tuple], ...] = (
    tuple((f"edge {i}->{j}", (0, 1)) for i, j in _DECISION_PAIRS)
    + tuple((f"op {v}", INTERIOR_OPS) for v in range(1, MAX_VERTICES - 1)))

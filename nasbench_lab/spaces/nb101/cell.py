"""The NAS-Bench-101 cell value and its keys: :class:`Cell`, ``hash_batch``, packed batches.

A :class:`Cell` is a DAG given by a strictly upper-triangular 0/1 adjacency matrix and
one label per vertex (``input`` first, ``output`` last, interior vertices one of
``conv3x3-bn-relu``, ``conv1x1-bn-relu``, ``maxpool3x3``). Construction validates and
prunes exactly as the official ``ModelSpec`` does (vertices not on an input->output path
are dropped); ``key`` is the official md5 module hash, computed by the compiled kernel of
:mod:`._jit`; ``blake2s_key`` the paper's blake2s variant (same refinement, raw 32-byte
digests, ``hashlib.blake2s``; see :mod:`._hash`).

Packed form (the layout of the enumeration arrays): ``n`` vertices, adjacency bits
``7*i + j`` for an edge ``i -> j``, op codes 3 bits per vertex (index in ``OPS``).
"""
from __future__ import annotations

import numpy as np

from ..base import InvalidArchitecture
from . import _hash as _h
from . import _jit as _kernels
from ._hash import MAX_EDGES, MAX_VERTICES, OPS

_U64 = (1 << 64) - 1
_SHIFT7 = tuple(7 * i for i in range(MAX_VERTICES))
_SHIFT3 = tuple(3 * i for i in range(MAX_VERTICES))


def _pack(n: int, rows, codes) -> tuple[int, int]:
    """Pruned cell -> (adjacency bits ``7*i + j``, op codes 3 bits per vertex)."""
    return (sum(map(int.__lshift__, rows, _SHIFT7)), sum(map(int.__lshift__, codes, _SHIFT3)))


def _unpack(n: int, adj: int, code: int) -> tuple[tuple, tuple]:
    rows = tuple((adj >> (7 * i)) & 0x7F for i in range(n))
    codes = tuple((code >> (3 * i)) & 7 for i in range(n))
    return rows, codes


def _key_of(n: int, rows, codes) -> str:
    adj, code = _pack(n, rows, codes)
    hi, lo = _kernels.key_halves(n, adj, code)
    return f"{hi & _U64:016x}{lo & _U64:016x}"


def _keys_of(ns, adjs, codes) -> list[str]:
    """md5 keys of many pruned cells given as integer arrays (the compiled batch kernel)."""
    if not len(ns):
        return []
    args = (np.asarray(ns, np.int64), np.asarray(adjs, np.int64), np.asarray(codes, np.int64))
    halves = _kernels.key_halves_batch(*args).view(np.uint64)
    return [f"{hi:016x}{lo:016x}" for hi, lo in halves.tolist()]


def _blake2s_keys_of(ns, adjs, codes) -> list[str]:
    """blake2s keys of many pruned cells, grouped by structure so repeated messages are
    hashed once."""
    groups: dict = {}
    for i, (n, a, c) in enumerate(zip(np.asarray(ns).tolist(), np.asarray(adjs).tolist(),
                                       np.asarray(codes).tolist())):
        groups.setdefault((n, a), []).append((i, c))
    out: list = [None] * len(ns)
    for (n, a), members in groups.items():
        rows, _ = _unpack(n, a, 0)
        labelings = [_unpack(n, 0, c)[1] for _, c in members]
        for (i, _), k in zip(members, _h.blake2s_keys_for_labelings(n, rows, labelings)):
            out[i] = k
    return out


def md5_batch(ns, adjs, codes) -> list[str]:
    """Official md5 keys of many packed, already pruned cells (the layout of
    :func:`enumeration_arrays`)."""
    return _keys_of(ns, adjs, codes)


def blake2s_batch(ns, adjs, codes) -> list[str]:
    """blake2s keys of many packed cells (the layout of :func:`enumeration_arrays`)."""
    return _blake2s_keys_of(ns, adjs, codes)


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
            for i, r in enumerate(self._rows):
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
        """The blake2s (32-byte digest) module hash: 64 hex characters (``hashlib.blake2s``
        over the canonical messages of :mod:`._hash`)."""
        b = self._blake2s
        if b is None:
            b = _h.blake2s_key(self._n, self._rows, self._codes)
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
        for i, m in enumerate(matrices):
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
        for k, ops in enumerate(ops_list):
            _wrap(int(idx[k]), lambda ops=ops: _h.parse_ops(ops, n))
    table = {op: c for c, op in enumerate(OPS)}
    try:
        codes = np.vectorize(table.__getitem__, otypes=[np.int64])(names)
    except (KeyError, TypeError):
        for k, ops in enumerate(ops_list):
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

"""NAS-Bench-101 cell parsing, pruning and the blake2s variant of the hash on small Python ints.

A pruned cell is held as ``(n, rows, codes)``: ``n`` vertices, ``rows[i]`` the bit mask
of the successors of vertex ``i`` (bit ``j`` set for an edge ``i -> j``, always ``j > i``)
and ``codes[i]`` an index into :data:`OPS`. Everything here is small-int code;
:mod:`nasbench_lab.spaces.nb101` builds the public API on top, and the md5 key itself is
computed by the compiled kernel in :mod:`._jit`.

The module hash is the one of the public NAS-Bench-101 code (``graph_util.hash_module``):
every vertex starts from the md5 of ``str((out_degree, in_degree, label))``; then, once per
vertex, each vertex's hash becomes the md5 of its sorted in-neighbour hashes, ``|``, its
sorted out-neighbour hashes, ``|``, its own hash; the fingerprint is the md5 of ``str`` of
the sorted list of the final hashes. Labels are ``-1`` (input), ``-2`` (output) and the
index in ``conv3x3-bn-relu, conv1x1-bn-relu, maxpool3x3``. The blake2s variant runs the
same refinement on raw 32-byte digests (no hex strings, no str/bytes conversions), with
``hashlib.blake2s``: every vertex starts from the digest of ``bytes((out_degree, in_degree,
op code))``, the message of a vertex is its sorted in-neighbour digests, ``b"|"``, its sorted
out-neighbour digests, ``b"|"``, its own digest, and the key is the hex digest of the
concatenated sorted final digests.

>>> n, rows, codes = parse([[0, 1], [0, 0]], ["input", "output"])
>>> n, rows, codes
(2, (2, 0), (0, 4))
>>> blake2s_key(n, rows, codes)[:16]
'd476567e3696e0f5'
"""
from __future__ import annotations

import hashlib
import numbers
from itertools import compress

import numpy as np

from ..base import InvalidArchitecture

INPUT = "input"
OUTPUT = "output"
CONV3X3 = "conv3x3-bn-relu"
CONV1X1 = "conv1x1-bn-relu"
MAXPOOL3X3 = "maxpool3x3"
#: the five vertex labels; a cell's op codes index this tuple (also the one-hot order)
OPS = (INPUT, CONV3X3, CONV1X1, MAXPOOL3X3, OUTPUT)
#: labels an interior vertex may carry
INTERIOR_OPS = (CONV3X3, CONV1X1, MAXPOOL3X3)
MAX_VERTICES = 7
MAX_EDGES = 9

_CODE = {op: i for i, op in enumerate(OPS)}
#: op code -> the integer label of the official hash
HASH_LABEL = (-1, 0, 1, 2, -2)

_blake2s = hashlib.blake2s

_OK_TYPES = frozenset({int, bool, float, np.bool_, np.int8, np.int16, np.int32, np.int64,
                       np.uint8, np.uint16, np.uint32, np.uint64, np.float16, np.float32,
                       np.float64})
_ZERO_ONE = frozenset({0, 1})


# -- parsing and validation -------------------------------------------------------------
def _entry_reason(x, i: int, j: int) -> str:
    """Why matrix entry (i, j) is not acceptable (slow path, for the error message)."""
    where = f"matrix[{i}][{j}] = {x!r}"
    if isinstance(x, (bool, np.bool_)):
        return ""
    if isinstance(x, (str, bytes)) or not isinstance(x, numbers.Real):
        return f"{where}: entries must be 0/1 integers or booleans, not {type(x).__name__}"
    if isinstance(x, numbers.Integral):
        return "" if int(x) in (0, 1) else f"{where}: entries must be 0 or 1"
    xf = float(x)
    if not np.isfinite(xf) or xf != int(xf):
        return f"{where}: entries must be whole numbers 0 or 1 (got a non-whole float)"
    return "" if xf in (0.0, 1.0) else f"{where}: entries must be 0 or 1"


#: the largest matrix accepted before pruning (bit masks of 64-bit integers; a cell has at
#: most 7 vertices after pruning, so anything near this is far outside the space)
MAX_MATRIX_VERTICES = 63


def check_size(n: int, where: str = "") -> None:
    """Refuse a matrix of more than ``MAX_MATRIX_VERTICES`` vertices before touching its entries."""
    if n > MAX_MATRIX_VERTICES:
        raise InvalidArchitecture(f"{where}matrix has {n} vertices; at most {MAX_MATRIX_VERTICES} are accepted "
                                  f"(a NAS-Bench-101 cell has at most {MAX_VERTICES} after pruning)")


def _as_rows(matrix) -> list:
    """The matrix as a list of row sequences, with shape and dtype checks (size first)."""
    if isinstance(matrix, np.ndarray):
        if matrix.ndim != 2:
            raise InvalidArchitecture(f"matrix must be 2-D, got {matrix.ndim}-D of shape {matrix.shape}")
        if matrix.shape[0] != matrix.shape[1]:
            raise InvalidArchitecture(f"matrix must be square, got shape {matrix.shape}")
        check_size(matrix.shape[0])
        kind = matrix.dtype.kind
        if kind not in "biuf":
            raise InvalidArchitecture(f"matrix dtype must be integer or boolean, got {matrix.dtype}")
        return matrix.tolist()
    if not isinstance(matrix, (list, tuple)):
        raise InvalidArchitecture(
            f"matrix must be a square nested list or a numpy array, got {type(matrix).__name__}")
    n = len(matrix)
    check_size(n)
    for i, row in enumerate(matrix):
        if isinstance(row, np.ndarray):
            row = row.tolist()
        if not isinstance(row, (list, tuple)):
            raise InvalidArchitecture(f"matrix row {i} is a {type(row).__name__}, not a list")
        if len(row) != n:
            raise InvalidArchitecture(
                f"matrix must be square: row {i} has {len(row)} entries, expected {n} (ragged or non-square)")
    return matrix


_BITS = [1 << j for j in range(64)]
#: per row i, the bits of columns 0..i (the diagonal and the lower triangle)
_DIAG_AND_BELOW = [(2 << i) - 1 for i in range(64)]
_LOWER_INDEX: dict = {}


def _lower_index(n: int) -> list:
    """Flat indices of the diagonal and lower triangle of an n x n matrix."""
    idx = _LOWER_INDEX.get(n)
    if idx is None:
        idx = _LOWER_INDEX[n] = [i * n + j for i in range(n) for j in range(i + 1)]
    return idx


def parse(matrix, ops) -> tuple[int, tuple, tuple]:
    """Validate ``(matrix, ops)`` and return the pruned ``(n, rows, codes)``.

    Raises :class:`InvalidArchitecture` with the reason for any violation.
    """
    rows_in = _as_rows(matrix)
    n = len(rows_in)
    if n < 2:
        raise InvalidArchitecture(f"a cell needs at least 2 vertices (input and output), got {n}")
    # entries: fast path (all entries in {0, 1} with a numeric type), else exact reason
    flat = [x for row in rows_in for x in row]
    if len(flat) != n * n:  # rows of a numpy array can't be ragged; lists were checked
        raise InvalidArchitecture("matrix must be square")
    if not (set(flat) <= _ZERO_ONE and set(map(type, flat)) <= _OK_TYPES):
        for k, x in enumerate(flat):
            reason = _entry_reason(x, k // n, k % n)
            if reason:
                raise InvalidArchitecture(reason)
    bits = _BITS[:n]
    rows = [sum(compress(bits, row)) for row in rows_in]  # entries are 0/1 here
    if any(map(int.__and__, rows, _DIAG_AND_BELOW)):
        k = next(k for k in _lower_index(n) if flat[k])
        raise InvalidArchitecture(
            f"matrix must be strictly upper-triangular: entry ({k // n}, {k % n}) is set")
    codes = parse_ops(ops, n)
    return prune(n, rows, codes)


def parse_ops(ops, n: int) -> tuple:
    if isinstance(ops, (str, bytes)) or not isinstance(ops, (list, tuple, np.ndarray)):
        raise InvalidArchitecture(f"ops must be a list of labels, got {type(ops).__name__}")
    if len(ops) != n:
        raise InvalidArchitecture(f"ops has {len(ops)} labels but the matrix has {n} vertices")
    try:
        codes = tuple(_CODE[op] for op in ops)
    except (KeyError, TypeError):
        bad = next(op for op in ops if not isinstance(op, str) or op not in _CODE)
        raise InvalidArchitecture(f"unknown op {bad!r}; known: {', '.join(OPS)}") from None
    if codes[0] != 0:
        raise InvalidArchitecture(f"the first op must be 'input', got {ops[0]!r}")
    if codes[-1] != 4:
        raise InvalidArchitecture(f"the last op must be 'output', got {ops[-1]!r}")
    for i in range(1, n - 1):
        if codes[i] in (0, 4):
            raise InvalidArchitecture(f"interior vertex {i} has op {ops[i]!r}; allowed: {', '.join(INTERIOR_OPS)}")
    return codes


def prune(n: int, rows, codes) -> tuple[int, tuple, tuple]:
    """Drop vertices not on an input->output path (as the official ModelSpec) and check limits."""
    fwd = 1
    for v in range(n):
        if fwd >> v & 1:
            fwd |= rows[v]
    if not fwd >> (n - 1) & 1:
        raise InvalidArchitecture("the output is not reachable from the input")
    out_bit = 1 << (n - 1)
    bwd = out_bit
    for v in range(n - 2, -1, -1):
        if rows[v] & bwd:
            bwd |= 1 << v
    keep = fwd & bwd
    if keep != (1 << n) - 1:
        idx = [v for v in range(n) if keep >> v & 1]
        new_pos = {v: k for k, v in enumerate(idx)}
        rows = [sum(1 << new_pos[w] for w in range(n) if rows[v] >> w & 1 and keep >> w & 1)
                for v in idx]
        codes = tuple(codes[v] for v in idx)
        n = len(idx)
    rows = tuple(rows)
    if n > MAX_VERTICES:
        raise InvalidArchitecture(f"{n} vertices after pruning; at most {MAX_VERTICES} allowed")
    edges = sum(r.bit_count() for r in rows)
    if edges > MAX_EDGES:
        raise InvalidArchitecture(f"{edges} edges after pruning; at most {MAX_EDGES} allowed")
    return n, rows, codes


def is_full(n: int, rows) -> bool:
    """Every vertex lies on an input->output path (no pruning would happen)."""
    cols = 0
    for v in range(n - 1):
        if not rows[v]:
            return False
        cols |= rows[v]
    return cols | 1 == (1 << n) - 1


# -- per-structure plans ---------------------------------------------------------------
_PLANS: dict = {}


def plan(n: int, rows) -> tuple:
    """Per-structure work, cached: per vertex (in-neighbours, out-neighbours, degrees)."""
    key = (n, rows)
    p = _PLANS.get(key)
    if p is None:
        ins = [[] for _ in range(n)]
        outs = []
        for v in range(n):
            o = [w for w in range(v + 1, n) if rows[v] >> w & 1]
            outs.append(tuple(o))
            for w in o:
                ins[w].append(v)
        p = tuple((v, tuple(ins[v]), outs[v], len(outs[v]), len(ins[v])) for v in range(n))
        if len(_PLANS) > 200_000:
            _PLANS.clear()
        _PLANS[key] = p
    return p


# -- the blake2s variant of the module hash ---------------------------------------------
#: (out_degree, in_degree, op code) -> blake2s digest of bytes((out, in, code))
_B2_INIT = {(o, i, c): _blake2s(bytes((o, i, c))).digest()
            for o in range(MAX_VERTICES) for i in range(MAX_VERTICES) for c in range(5)}


def blake2s_key(n: int, rows, codes) -> str:
    """The blake2s variant of the module hash on raw 32-byte digests (64 hex characters)."""
    p = plan(n, rows)
    init = _B2_INIT
    h = [init[od, idg, codes[v]] for v, _, _, od, idg in p]
    b2 = _blake2s
    join = b"".join
    for _ in range(n):
        h = [b2(join(sorted([h[w] for w in ins])) + b"|" + join(sorted([h[w] for w in outs]))
                + b"|" + h[v]).digest()
             for v, ins, outs, _, _ in p]
    h.sort()
    return b2(join(h)).hexdigest()


def blake2s_keys_for_labelings(n: int, rows, labelings) -> list[str]:
    """blake2s keys of one structure under many op-code tuples, sharing repeated messages
    (equal to :func:`blake2s_key` cell by cell)."""
    p = plan(n, rows)
    init, join, sep = _B2_INIT, b"".join, b"|"
    memo: dict = {}
    get = memo.get
    out = []
    for codes in labelings:
        h = [init[od, idg, codes[v]] for v, _, _, od, idg in p]
        for _ in range(n):
            new = []
            for v, ins, outs, _, _ in p:
                msg = join(sorted([h[w] for w in ins])) + sep + join(sorted([h[w] for w in outs])) + sep + h[v]
                d = get(msg)
                if d is None:
                    d = memo[msg] = _blake2s(msg).digest()
                new.append(d)
            h = new
        h.sort()
        out.append(_blake2s(join(h)).hexdigest())
    return out

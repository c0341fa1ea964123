"""The NAS-Bench-201 cell space: 4 nodes, 6 edges, one of 5 operations on each edge.

A :class:`Cell` holds the 6 edge operations in the order of the official string
``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|``, i.e. the edges
``(1<-0), (2<-0), (2<-1), (3<-0), (3<-1), (3<-2)``; node 3 is the cell output.
There are 5**6 = 15,625 cells, all distinct (the benchmark does not merge isomorphic
cells, so neither do we: ``key`` is the official string).

>>> from nasbench_lab.spaces.nb201 import Cell, NB201Space
>>> c = Cell.from_string("|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+"
...                      "|skip_connect~0|nor_conv_3x3~1|skip_connect~2|")
>>> c.index
1
>>> space = NB201Space()
>>> len(space.neighbours(c))
24
>>> space.enumerate()[1] == c
True

Official index order. The benchmark's architecture list was made by enumerating the
cells as ``itertools.product(OPS, repeat=6)`` (first edge most significant, ops in the
order of :data:`OPS`) and shuffling that list once with Python's ``random.seed(88);
random.shuffle(...)``. :func:`official_order` reproduces it with a private
``random.Random(88)`` (no global state); the test checks it against the ``arch`` column
of the complete NAS-Bench-201 table.

Ops-on-nodes view (:func:`to_nodes`, paper Fig. 1 applied to NB201): vertex 0 is the
input; for node 1, 2, 3 in turn come one op vertex per incoming edge (in string order)
and then a ``sum`` vertex; the last vertex is ``output``. Input/sum vertices feed the op
vertices of the edges leaving them, op vertices feed the sum of their destination node,
and the sum of node 3 feeds the output (in NAS-Bench-201 only node 3 is the cell
output, unlike DARTS where every intermediate node is concatenated). ``none`` edges keep
their vertex, labelled ``none``, so the encoding has a fixed size (11 vertices).
"""
from __future__ import annotations

import dataclasses
import functools
import itertools
import random
import re
from typing import Any, Sequence

import numpy as np

from .base import InvalidArchitecture, SearchSpace, as_index, check_decision_values
from .neighbour_table import NeighbourTable, keys_fingerprint

#: the 5 operations, in the official order of the NAS-Bench-201 search space
OPS: tuple[str, ...] = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
#: the 6 edges ``(to, from)`` in the order of the official string
EDGES: tuple[tuple[int, int], ...] = ((1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2))
NUM_EDGES = 6
SIZE = len(OPS) ** NUM_EDGES  # 15625
#: vertex labels of the ops-on-nodes view, in one-hot order
NODE_LABELS: tuple[str, ...] = ("input", "output", "sum") + OPS
NUM_VERTICES = 1 + NUM_EDGES + 3 + 1  # input, 6 op vertices, 3 sums, output
ENCODING_SIZE = NUM_VERTICES * (NUM_VERTICES - 1) // 2 + NUM_VERTICES * len(NODE_LABELS)
#: seed of the official shuffle of the product order
OFFICIAL_SHUFFLE_SEED = 88

_OP_INDEX = {op: i for i, op in enumerate(OPS)}
_STRING_RE = re.compile(r"^\|([^|~]+)~0\|\+\|([^|~]+)~0\|([^|~]+)~1\|\+"
                        r"\|([^|~]+)~0\|([^|~]+)~1\|([^|~]+)~2\|$")
_POW = np.array([len(OPS) ** (NUM_EDGES - 1 - e) for e in range(NUM_EDGES)], dtype=np.int64)


# -- official index order --------------------------------------------------------------
@functools.cache
def official_order() -> np.ndarray:
    """``order[i]`` = product code (base-5 digits, first edge most significant) of index ``i``."""
    codes = list(range(SIZE))
    random.Random(OFFICIAL_SHUFFLE_SEED).shuffle(codes)
    out = np.array(codes, dtype=np.int64)
    out.setflags(write=False)
    return out


@functools.cache
def _index_of_code() -> np.ndarray:
    inv = np.empty(SIZE, dtype=np.int64)
    inv[official_order()] = np.arange(SIZE)
    inv.setflags(write=False)
    return inv


@functools.cache
def _ops_of_code() -> np.ndarray:
    """(15625, 6) op ids of every product code."""
    out = np.array(list(itertools.product(range(len(OPS)), repeat=NUM_EDGES)), dtype=np.int8)
    out.setflags(write=False)
    return out


# -- the architecture value ------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Cell:
    """One NAS-Bench-201 cell: the 6 edge operations in official string order.

    >>> Cell(("nor_conv_3x3",) * 6).to_string()
    '|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|'
    """

    ops: tuple[str, ...]

    def __post_init__(self) -> None:
        ops = self.ops
        if isinstance(ops, (str, bytes)) or not isinstance(ops, Sequence | np.ndarray):
            raise InvalidArchitecture(f"nb201: ops must be a sequence of {NUM_EDGES} op names, got {ops!r}")
        ops = tuple(ops)
        if len(ops) != NUM_EDGES:
            raise InvalidArchitecture(f"nb201: expected {NUM_EDGES} edge ops, got {len(ops)}")
        for e, op in enumerate(ops):
            if not isinstance(op, str) or op not in _OP_INDEX:
                raise InvalidArchitecture(f"nb201: edge {e} {EDGES[e][1]}->{EDGES[e][0]}: "
                                          f"unknown op {op!r}; known: {', '.join(OPS)}")
        object.__setattr__(self, "ops", tuple(str(op) for op in ops))

    @classmethod
    def from_string(cls, s: str) -> "Cell":
        """Parse the official string ``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|``."""
        if not isinstance(s, str):
            raise InvalidArchitecture(f"nb201: expected the official cell string, got {type(s).__name__}")
        m = _STRING_RE.match(s.strip())
        if m is None:
            raise InvalidArchitecture(f"nb201: {s!r} is not of the form |op~0|+|op~0|op~1|+|op~0|op~1|op~2|")
        return cls(m.groups())

    @classmethod
    def from_code(cls, code: int) -> "Cell":
        """The cell of product code ``code`` (base-5 op ids, first edge most significant)."""
        code = as_index(code, "nb201 code")
        if not 0 <= code < SIZE:
            raise InvalidArchitecture(f"nb201: code {code} outside 0..{SIZE - 1}")
        return cls._trusted(tuple(OPS[i] for i in _ops_of_code()[code]))

    @classmethod
    def from_index(cls, index: int) -> "Cell":
        """The cell at official benchmark index ``index``."""
        index = as_index(index, "nb201 index")
        if not 0 <= index < SIZE:
            raise InvalidArchitecture(f"nb201: index {index} outside 0..{SIZE - 1}")
        return cls.from_code(int(official_order()[index]))

    @classmethod
    def _trusted(cls, ops: tuple[str, ...]) -> "Cell":
        cell = object.__new__(cls)
        object.__setattr__(cell, "ops", ops)
        return cell

    def to_string(self) -> str:
        return "|{}~0|+|{}~0|{}~1|+|{}~0|{}~1|{}~2|".format(*self.ops)

    @property
    def key(self) -> str:
        """The official string (each of the 15,625 cells is its own benchmark entry)."""
        return self.to_string()

    @property
    def op_ids(self) -> tuple[int, ...]:
        return tuple(_OP_INDEX[o] for o in self.ops)

    @property
    def code(self) -> int:
        """Product-order code: base-5 digits of the op ids, first edge most significant."""
        c = 0
        for o in self.ops:
            c = c * len(OPS) + _OP_INDEX[o]
        return c

    @property
    def index(self) -> int:
        """Official NAS-Bench-201 index (row of the benchmark)."""
        return int(_index_of_code()[self.code])

    def __str__(self) -> str:
        return self.to_string()


# -- ops-on-edges -> ops-on-nodes ------------------------------------------------------
def to_nodes(cell: Cell) -> tuple[np.ndarray, tuple[str, ...]]:
    """Fig. 1 conversion: (upper-triangular int8 adjacency of 11 vertices, labels)."""
    n = NUM_VERTICES
    m = np.zeros((n, n), dtype=np.int8)
    labels = ["input"]
    node_vertex = {0: 0}  # cell node -> vertex producing it
    v = 1
    for node in (1, 2, 3):
        op_vertices = []
        for e, (to, frm) in enumerate(EDGES):
            if to != node:
                continue
            m[node_vertex[frm], v] = 1
            labels.append(cell.ops[e])
            op_vertices.append(v)
            v += 1
        for ov in op_vertices:
            m[ov, v] = 1
        labels.append("sum")
        node_vertex[node] = v
        v += 1
    m[node_vertex[3], v] = 1
    labels.append("output")
    m.setflags(write=False)
    return m, tuple(labels)


def encode_nodes(matrix: np.ndarray, labels: Sequence[str], label_set: Sequence[str]) -> np.ndarray:
    """Paper §3.2.3 observation of an ops-on-nodes graph.

    The strictly lower triangle of the in-edge matrix ``matrix.T`` flattened row by row
    (row ``j`` lists ``matrix[i, j]`` for ``i < j``), then one-hot labels, vertex by vertex.
    """
    n = len(labels)
    rows, cols = np.tril_indices(n, -1)
    adj = np.asarray(matrix, dtype=np.float32).T[rows, cols]
    onehot = np.zeros((n, len(label_set)), dtype=np.float32)
    index = {lab: i for i, lab in enumerate(label_set)}
    onehot[np.arange(n), [index[lab] for lab in labels]] = 1.0
    return np.concatenate([adj, onehot.ravel()])


def draw_nodes(matrix: np.ndarray, labels: Sequence[str], ax=None, title: str | None = None,
               palette: dict[str, str] | None = None):
    """Draw an ops-on-nodes DAG on a matplotlib axis (networkx, layered left to right)."""
    import matplotlib.pyplot as plt
    import networkx as nx

    if ax is None:
        _, ax = plt.subplots(figsize=(7, 3))
    g = nx.DiGraph()
    for i, lab in enumerate(labels):
        g.add_node(i, label=lab)
    rows, cols = np.nonzero(np.asarray(matrix))
    g.add_edges_from(zip(rows.tolist(), cols.tolist()))
    for layer, nodes in enumerate(nx.topological_generations(g)):
        for v in nodes:
            g.nodes[v]["layer"] = layer
    pos = nx.multipartite_layout(g, subset_key="layer")
    names = sorted(set(labels))
    cmap = plt.get_cmap("tab10")
    colours = palette or {lab: cmap(i % 10) for i, lab in enumerate(names)}
    nx.draw_networkx_edges(g, pos, ax=ax, arrows=True, arrowsize=10, node_size=900)
    nx.draw_networkx_nodes(g, pos, ax=ax, node_color=[colours[labels[v]] for v in g.nodes],
                           node_size=900)
    nx.draw_networkx_labels(g, pos, ax=ax, labels={v: labels[v].replace("_", "\n") for v in g.nodes},
                            font_size=6)
    if title:
        ax.set_title(title, fontsize=8)
    ax.set_axis_off()
    return ax


# -- the space -------------------------------------------------------------------------
class NB201Space(SearchSpace):
    """The 15,625 NAS-Bench-201 cells.

    ``neighbours``: the 24 cells that differ in exactly one edge's op (edge by edge in
    string order, ops in :data:`OPS` order). ``sample``: uniform over the cells.

    >>> space = NB201Space()
    >>> cell = space.sample(np.random.default_rng(0))
    >>> space.encode(cell).shape == (space.encoding_size,)
    True
    """

    name = "nb201"
    size = SIZE
    encoding_size = ENCODING_SIZE
    ops = OPS

    def validate(self, arch: Any) -> Cell:
        if isinstance(arch, Cell):
            return arch
        if isinstance(arch, str):
            return Cell.from_string(arch)
        return Cell(arch)

    def key(self, arch: Any) -> str:
        return self.validate(arch).key

    def from_key(self, key: str) -> Cell:
        return Cell.from_string(key)

    def decisions(self) -> list[tuple[str, tuple]]:
        """One decision per edge (string order), choosing among :data:`OPS`.

        >>> NB201Space().decisions()[0]
        ('edge 0->1', ('none', 'skip_connect', 'nor_conv_1x1', 'nor_conv_3x3', 'avg_pool_3x3'))
        """
        return [(f"edge {j}->{i}", OPS) for i, j in EDGES]

    def to_decisions(self, arch: Any) -> list[str]:
        return list(self.validate(arch).ops)

    def from_decisions(self, values) -> Cell:
        return Cell(tuple(check_decision_values("nb201", self.decisions(), values)))

    def index(self, arch: Any) -> int:
        """Official benchmark index of ``arch``."""
        return self.validate(arch).index

    def sample(self, rng: np.random.Generator) -> Cell:
        ids = rng.integers(len(OPS), size=NUM_EDGES)
        return Cell._trusted(tuple(OPS[i] for i in ids))

    def neighbours(self, arch: Any) -> list[Cell]:
        cell = self.validate(arch)
        out = []
        for e in range(NUM_EDGES):
            for op in OPS:
                if op != cell.ops[e]:
                    out.append(Cell._trusted(cell.ops[:e] + (op,) + cell.ops[e + 1:]))
        return out

    def enumerate(self) -> list[Cell]:
        """All 15,625 cells in official index order."""
        return _enumeration()

    def neighbour_table(self, keys: Sequence[str] | None = None, **options) -> NeighbourTable:
        """The :class:`~nasbench_lab.spaces.neighbour_table.NeighbourTable` of the space:
        24 neighbours per cell, rows in official index order (or in the order of ``keys``).

        Row ``i`` lists, in ``neighbours`` order, the indices of the neighbours of
        ``Cell.from_index(i)``; ``.dense()`` gives them as a (15625, 24) array.
        """
        table = _table()
        return table if keys is None else table.reordered([c.key for c in _enumeration()], keys)

    def encode(self, arch: Any) -> np.ndarray:
        return self.encode_batch([arch])[0]

    def encode_batch(self, archs: Sequence[Any]) -> np.ndarray:
        """Encodings of many cells: a fixed template plus one one-hot entry per edge."""
        base, op_slots = _encoding_template()
        ids = np.array([self.validate(a).op_ids for a in archs], dtype=np.int64).reshape(-1, NUM_EDGES)
        out = np.tile(base, (len(ids), 1))
        out[np.arange(len(ids))[:, None], op_slots[None, :] + ids] = 1.0
        return out

    def to_nodes(self, arch: Any) -> tuple[np.ndarray, tuple[str, ...]]:
        return to_nodes(self.validate(arch))

    def draw(self, arch: Any, ax=None):
        """Draw the ops-on-nodes view of ``arch`` on a matplotlib axis."""
        cell = self.validate(arch)
        m, labels = to_nodes(cell)
        return draw_nodes(m, labels, ax=ax, title=cell.to_string())


@functools.cache
def _encoding_template() -> tuple[np.ndarray, np.ndarray]:
    """(encoding with every op one-hot cleared, first one-hot slot of each edge's op vertex)."""
    m, labels = to_nodes(Cell._trusted(("none",) * NUM_EDGES))
    base = encode_nodes(m, labels, NODE_LABELS)
    n_adj = NUM_VERTICES * (NUM_VERTICES - 1) // 2
    L = len(NODE_LABELS)
    op_vertices = [v for v, lab in enumerate(labels) if lab == "none"]  # edges in string order
    slots = np.array([n_adj + v * L + NODE_LABELS.index(OPS[0]) for v in op_vertices], dtype=np.int64)
    base[slots] = 0.0
    base.setflags(write=False)
    return base, slots


@functools.cache
def _enumeration() -> list[Cell]:
    ops = _ops_of_code()
    return [Cell._trusted(tuple(OPS[i] for i in ops[c])) for c in official_order()]


@functools.cache
def _table() -> NeighbourTable:
    return NeighbourTable.from_dense(_neighbour_table(), keys_fingerprint([c.key for c in _enumeration()]))


@functools.cache
def _neighbour_table() -> np.ndarray:
    codes = official_order()
    digits = _ops_of_code()[codes].astype(np.int64)  # (N, 6) by official index
    out = np.empty((SIZE, NUM_EDGES * (len(OPS) - 1)), dtype=np.int64)
    col = 0
    for e in range(NUM_EDGES):
        for k in range(1, len(OPS)):
            # k-th other op in OPS order: skip the current one
            cur = digits[:, e]
            new = np.where(np.arange(len(OPS))[None, :] != cur[:, None])[1].reshape(SIZE, len(OPS) - 1)[:, k - 1]
            new_codes = codes + (new - cur) * _POW[e]
            out[:, col] = _index_of_code()[new_codes]
            col += 1
    out.setflags(write=False)
    return out


__all__ = ["Cell", "NB201Space", "OPS", "EDGES", "NODE_LABELS", "official_order", "to_nodes",
           "encode_nodes", "draw_nodes"]

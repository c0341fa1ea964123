"""The DARTS / NAS-Bench-301 space: a pair of cells (normal, reduction), ops on edges.

A cell has two inputs (``c_{k-2}``, ``c_{k-1}``: sources 0 and 1) and 4 intermediate
nodes; node ``k = 0..3`` (source id ``k + 2``) sums two edges from two *different*
earlier sources, each edge carrying one of 7 operations. The cell output concatenates
the 4 intermediate nodes. A :class:`Genotype` holds, per cell, 8 ``(op, source)`` pairs
in DARTS order: pairs ``2k, 2k+1`` feed node ``k``.

>>> from nasbench_lab.spaces.darts import Genotype, DartsSpace
>>> cell = (("sep_conv_3x3", 0), ("sep_conv_3x3", 1), ("sep_conv_3x3", 0), ("sep_conv_3x3", 1),
...         ("sep_conv_3x3", 1), ("skip_connect", 0), ("skip_connect", 0), ("dil_conv_3x3", 2))
>>> g = Genotype(cell, cell)
>>> space = DartsSpace()
>>> len(space.cell_neighbours(g.normal))
60
>>> len(space.neighbours(g))
3600
>>> Genotype.from_config_dict(g.to_config_dict()) == g
True

Neighbourhood (paper §3.2.1). Per cell, one move: change one edge's op (8 x 6 = 48) or
move one edge to another source that keeps the node's two sources distinct
(node ``k`` has ``k`` free sources per edge: 0 + 2 + 4 + 6 = 12), so every cell has
exactly 60 distinct neighbours (the moves never collide; the paper counted about 70
with its move set). For the pair, the paper generates the neighbours of each cell and
forms tuples *(normal neighbour, reduction neighbour)*; its count (about 70 per cell,
about 4,900 tuples) is the plain product, so a tuple always changes both cells. That is
our default: ``neighbours(g)`` returns the 3,600 tuples of the product (normal-major
order). ``DartsSpace(single_cell_moves=True)`` adds the 120 tuples that change one cell
and keep the other (a strict one-change neighbourhood on top of the paper's).
``neighbours(g, n, rng)`` / ``neighbour_pairs_sample(g, n, rng)`` draw ``n`` distinct
tuples uniformly without replacement, reproducibly from ``rng``.

Canonical key: within a node the order of the two edges does not matter, so the key
lists each node's edges sorted by ``(source, op)``; equality and hashing use the key.

Ops-on-nodes view (:func:`to_nodes`, paper Fig. 1): vertices are the two inputs, then
for node ``k = 0..3`` its two op vertices (canonical order) and a ``sum`` vertex, then
``output`` (15 vertices). Input/sum vertices feed the op vertices of their out-edges,
op vertices feed their node's sum, every sum feeds the output. ``encode`` concatenates
the §3.2.3 encodings (lower triangle of the in-edge matrix + one-hot labels) of the
normal and the reduction cell.

NAS-Bench-301 configuration naming (``to_config_dict``): edge ``i`` of a cell is
numbered ``start(k) + source`` with ``start = 0, 2, 5, 9`` for nodes ``k = 0..3``, keyed
``NetworkSelectorDatasetInfo:darts:edge_{normal|reduce}_{i}``; nodes 1..3 also name their
two sources as ``NetworkSelectorDatasetInfo:darts:inputs_node_{normal|reduce}_{k+2}`` =
``"i_j"`` (``i < j``). Node 0 always reads sources 0 and 1 and has no inputs key.
"""
from __future__ import annotations

import dataclasses
import functools
import itertools
from typing import Any, Sequence

import numpy as np

from .base import InvalidArchitecture, SearchSpace, check_decision_values
from .nb201 import draw_nodes, encode_nodes

#: the 7 operations, in NAS-Bench-301 configuration-space order
OPS: tuple[str, ...] = ("max_pool_3x3", "avg_pool_3x3", "skip_connect", "sep_conv_3x3",
                        "sep_conv_5x5", "dil_conv_3x3", "dil_conv_5x5")
NUM_NODES = 4
NUM_EDGES = 2 * NUM_NODES
CELL_TYPES = ("normal", "reduce")
#: first NAS-Bench-301 edge number of each intermediate node
EDGE_START: tuple[int, ...] = (0, 2, 5, 9)
NUM_CONFIG_EDGES = 14
CONFIG_PREFIX = "NetworkSelectorDatasetInfo:darts:"
#: vertex labels of the ops-on-nodes view, in one-hot order
NODE_LABELS: tuple[str, ...] = ("input", "output", "sum") + OPS
NUM_VERTICES = 2 + 3 * NUM_NODES + 1
CELL_ENCODING_SIZE = NUM_VERTICES * (NUM_VERTICES - 1) // 2 + NUM_VERTICES * len(NODE_LABELS)
ENCODING_SIZE = 2 * CELL_ENCODING_SIZE
#: neighbours of one cell (48 op changes + 12 input changes)
CELL_NEIGHBOURS = NUM_EDGES * (len(OPS) - 1) + sum(2 * k for k in range(NUM_NODES))

_OP_INDEX = {op: i for i, op in enumerate(OPS)}
Cell = tuple  # a cell: tuple of 8 (op, source) pairs


# -- validation and canonical form -----------------------------------------------------
def validate_cell(cell: Any, name: str = "cell") -> tuple[tuple[str, int], ...]:
    """Return ``cell`` as a tuple of 8 ``(op, source)`` tuples or raise InvalidArchitecture."""
    if isinstance(cell, (str, bytes)) or not isinstance(cell, Sequence | np.ndarray):
        raise InvalidArchitecture(f"darts {name}: expected a sequence of {NUM_EDGES} (op, source) pairs, "
                                  f"got {type(cell).__name__}")
    if len(cell) != NUM_EDGES:
        raise InvalidArchitecture(f"darts {name}: expected {NUM_EDGES} (op, source) pairs "
                                  f"(2 per intermediate node), got {len(cell)}")
    out = []
    for i, pair in enumerate(cell):
        k = i // 2
        if isinstance(pair, (str, bytes)) or not isinstance(pair, Sequence | np.ndarray) or len(pair) != 2:
            raise InvalidArchitecture(f"darts {name} edge {i}: expected an (op, source) pair, got {pair!r}")
        op, src = pair
        if not isinstance(op, str) or op not in _OP_INDEX:
            raise InvalidArchitecture(f"darts {name} edge {i}: unknown op {op!r}; known: {', '.join(OPS)}")
        if isinstance(src, (bool, np.bool_)) or not isinstance(src, (int, np.integer)):
            raise InvalidArchitecture(f"darts {name} edge {i}: source must be an integer, got {src!r}")
        src = int(src)
        if not 0 <= src < k + 2:
            raise InvalidArchitecture(f"darts {name} edge {i}: node {k} (id {k + 2}) can read sources "
                                      f"0..{k + 1}, got {src}")
        out.append((str(op), src))
    for k in range(NUM_NODES):
        if out[2 * k][1] == out[2 * k + 1][1]:
            raise InvalidArchitecture(f"darts {name}: node {k} reads source {out[2 * k][1]} twice; "
                                      "its two edges need different sources")
    return tuple(out)


def canonical_cell(cell: Sequence[tuple[str, int]]) -> tuple[tuple[str, int], ...]:
    """The cell with each node's two edges sorted by ``(source, op index)``."""
    out = []
    for k in range(NUM_NODES):
        a, b = cell[2 * k], cell[2 * k + 1]
        if (a[1], _OP_INDEX[a[0]]) > (b[1], _OP_INDEX[b[0]]):
            a, b = b, a
        out += [a, b]
    return tuple(out)


def cell_key(cell: Sequence[tuple[str, int]]) -> str:
    """Canonical string of one cell: nodes separated by ``|``, edges ``op~source`` by ``+``."""
    c = canonical_cell(cell)
    return "|".join(f"{c[2 * k][0]}~{c[2 * k][1]}+{c[2 * k + 1][0]}~{c[2 * k + 1][1]}"
                    for k in range(NUM_NODES))


def _parse_cell_key(s: str, name: str) -> tuple[tuple[str, int], ...]:
    nodes = s.split("|")
    if len(nodes) != NUM_NODES:
        raise InvalidArchitecture(f"darts {name} key {s!r}: expected {NUM_NODES} nodes separated by '|'")
    pairs = []
    for node in nodes:
        for edge in node.split("+"):
            op, sep, src = edge.rpartition("~")
            if not sep or not src.isdigit():
                raise InvalidArchitecture(f"darts {name} key {s!r}: bad edge {edge!r} (expected op~source)")
            pairs.append((op, int(src)))
    return validate_cell(pairs, name)


# -- the architecture value ------------------------------------------------------------
@dataclasses.dataclass(frozen=True, eq=False)
class Genotype:
    """A (normal, reduction) pair of DARTS cells; equality and hash by canonical ``key``.

    >>> n = (("skip_connect", 1), ("sep_conv_3x3", 0)) + (("max_pool_3x3", 0), ("avg_pool_3x3", 2)) * 3
    >>> g = Genotype(n, n)
    >>> g == Genotype((n[1], n[0]) + n[2:], n)   # edge order inside a node is irrelevant
    True
    >>> g.key.split("|")[0]                           # node 0, edges sorted by source
    'normal=sep_conv_3x3~0+skip_connect~1'
    """

    normal: tuple[tuple[str, int], ...]
    reduce: tuple[tuple[str, int], ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "normal", validate_cell(self.normal, "normal cell"))
        object.__setattr__(self, "reduce", validate_cell(self.reduce, "reduce cell"))

    @classmethod
    def _trusted(cls, normal: tuple, reduce: tuple) -> "Genotype":
        g = object.__new__(cls)
        object.__setattr__(g, "normal", normal)
        object.__setattr__(g, "reduce", reduce)
        return g

    @functools.cached_property
    def key(self) -> str:
        """``normal=<cell key>;reduce=<cell key>`` (see :func:`cell_key`)."""
        return f"normal={cell_key(self.normal)};reduce={cell_key(self.reduce)}"

    @classmethod
    def from_key(cls, key: str) -> "Genotype":
        if not isinstance(key, str) or not key.startswith("normal=") or ";reduce=" not in key:
            raise InvalidArchitecture(f"darts: {key!r} is not a genotype key 'normal=...;reduce=...'")
        n, r = key[len("normal="):].split(";reduce=", 1)
        return cls._trusted(_parse_cell_key(n, "normal cell"), _parse_cell_key(r, "reduce cell"))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Genotype):
            return NotImplemented
        return self.key == other.key

    def __hash__(self) -> int:
        return hash(self.key)

    def cell(self, which: str) -> tuple:
        if which not in CELL_TYPES:
            raise ValueError(f"cell type must be one of {CELL_TYPES}, got {which!r}")
        return self.normal if which == "normal" else self.reduce

    def to_config_dict(self) -> dict[str, str]:
        """The NAS-Bench-301 configuration of the architecture (no training hyperparameters)."""
        config: dict[str, str] = {}
        for ct in CELL_TYPES:
            cell = self.cell(ct)
            for k in range(NUM_NODES):
                pairs = cell[2 * k: 2 * k + 2]
                for op, src in pairs:
                    config[f"{CONFIG_PREFIX}edge_{ct}_{EDGE_START[k] + src}"] = op
                if k > 0:
                    i, j = sorted(src for _, src in pairs)
                    config[f"{CONFIG_PREFIX}inputs_node_{ct}_{k + 2}"] = f"{i}_{j}"
        return config

    @classmethod
    def from_config_dict(cls, config: dict) -> "Genotype":
        """Inverse of :meth:`to_config_dict`; other (training) keys are ignored.

        Raises InvalidArchitecture for missing keys, bad values, and edge keys of edges
        that the ``inputs_node`` choices leave inactive.
        """
        cells = {}
        for ct in CELL_TYPES:
            used: set[str] = set()
            pairs = []
            for k in range(NUM_NODES):
                if k == 0:
                    sources = (0, 1)
                else:
                    name = f"{CONFIG_PREFIX}inputs_node_{ct}_{k + 2}"
                    if name not in config:
                        raise InvalidArchitecture(f"darts config: missing {name!r}")
                    val = config[name]
                    try:
                        i, j = (int(x) for x in str(val).split("_"))
                    except ValueError:
                        raise InvalidArchitecture(f"darts config: {name} = {val!r} is not 'i_j'") from None
                    if not (0 <= i < j < k + 2) or str(val) != f"{i}_{j}":
                        raise InvalidArchitecture(f"darts config: {name} = {val!r}: need 'i_j' with "
                                                  f"0 <= i < j <= {k + 1}")
                    sources = (i, j)
                for src in sources:
                    name = f"{CONFIG_PREFIX}edge_{ct}_{EDGE_START[k] + src}"
                    if name not in config:
                        raise InvalidArchitecture(f"darts config: missing {name!r} (active edge)")
                    pairs.append((config[name], src))
                    used.add(name)
            stray = [key for key in config if key.startswith(f"{CONFIG_PREFIX}edge_{ct}_") and key not in used]
            if stray:
                raise InvalidArchitecture(f"darts config: {sorted(stray)} are edges that the inputs_node "
                                          f"choices of the {ct} cell leave inactive")
            cells[ct] = validate_cell(pairs, f"{ct} cell")
        return cls._trusted(cells["normal"], cells["reduce"])

    def __str__(self) -> str:
        return self.key


# -- ops-on-edges -> ops-on-nodes ------------------------------------------------------
def to_nodes(cell: Sequence[tuple[str, int]]) -> tuple[np.ndarray, tuple[str, ...]]:
    """Fig. 1 conversion of one cell: (upper-triangular int8 adjacency, 15 labels)."""
    c = canonical_cell(cell)
    n = NUM_VERTICES
    m = np.zeros((n, n), dtype=np.int8)
    labels = ["input", "input"]
    source_vertex = [0, 1]  # vertex that produces each source id
    for k in range(NUM_NODES):
        first = 2 + 3 * k  # the node's two op vertices, then its sum vertex
        total = first + 2
        for e, (op, src) in enumerate(c[2 * k: 2 * k + 2]):
            m[source_vertex[src], first + e] = 1
            m[first + e, total] = 1
            labels.append(op)
        labels.append("sum")
        source_vertex.append(total)
        m[total, n - 1] = 1
    labels.append("output")
    m.setflags(write=False)
    return m, tuple(labels)


def encode_cell(cell: Sequence[tuple[str, int]]) -> np.ndarray:
    """§3.2.3 encoding of one cell's ops-on-nodes graph (``CELL_ENCODING_SIZE`` floats)."""
    m, labels = to_nodes(cell)
    return encode_nodes(m, labels, NODE_LABELS)


@functools.cache
def _encoding_template() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(cell encoding without source edges and op labels, op vertex of each canonical edge
    position, vertex of each source id, first adjacency slot of each op vertex)."""
    n, L = NUM_VERTICES, len(NODE_LABELS)
    n_adj = n * (n - 1) // 2
    base = np.zeros(n_adj + n * L, dtype=np.float32)
    slot = lambda i, j: j * (j - 1) // 2 + i  # noqa: E731  edge i -> j in the flattening
    lab = {name: i for i, name in enumerate(NODE_LABELS)}
    base[n_adj + 0 * L + lab["input"]] = base[n_adj + 1 * L + lab["input"]] = 1.0
    base[n_adj + (n - 1) * L + lab["output"]] = 1.0
    for k in range(NUM_NODES):
        total = 4 + 3 * k
        base[n_adj + total * L + lab["sum"]] = 1.0
        base[slot(total, n - 1)] = 1.0
        for e in (0, 1):
            base[slot(2 + 3 * k + e, total)] = 1.0
    op_vertex = np.array([2 + 3 * (p // 2) + p % 2 for p in range(NUM_EDGES)], dtype=np.int64)
    src_vertex = np.array([0, 1] + [4 + 3 * k for k in range(NUM_NODES)], dtype=np.int64)
    base.setflags(write=False)
    return base, op_vertex, src_vertex, op_vertex * (op_vertex - 1) // 2


def encode_cells(cells: Sequence[Sequence[tuple[str, int]]]) -> np.ndarray:
    """Vectorised :func:`encode_cell` of many (valid) cells: (n, ``CELL_ENCODING_SIZE``)."""
    base, op_vertex, src_vertex, adj_start = _encoding_template()
    n = len(cells)
    ops = np.array([[_OP_INDEX[op] for op, _ in c] for c in cells], dtype=np.int64).reshape(n, NUM_NODES, 2)
    src = np.array([[s for _, s in c] for c in cells], dtype=np.int64).reshape(n, NUM_NODES, 2)
    key = src * len(OPS) + ops
    swap = key[:, :, 0] > key[:, :, 1]  # canonical order inside each node
    ops = np.where(swap[:, :, None], ops[:, :, ::-1], ops).reshape(n, NUM_EDGES)
    src = np.where(swap[:, :, None], src[:, :, ::-1], src).reshape(n, NUM_EDGES)
    out = np.tile(base, (n, 1))
    rows = np.arange(n)[:, None]
    out[rows, adj_start[None, :] + src_vertex[src]] = 1.0
    n_adj = NUM_VERTICES * (NUM_VERTICES - 1) // 2
    out[rows, n_adj + op_vertex[None, :] * len(NODE_LABELS) + 3 + ops] = 1.0
    return out


# -- neighbours ------------------------------------------------------------------------
def cell_neighbours(cell: Sequence[tuple[str, int]]) -> list[tuple[tuple[str, int], ...]]:
    """The 60 one-move neighbours of a (valid) cell, deterministic order, distinct keys."""
    cell = tuple(cell)
    out = []
    for i, (op, src) in enumerate(cell):
        for new in OPS:
            if new != op:
                out.append(cell[:i] + ((new, src),) + cell[i + 1:])
    for i, (op, src) in enumerate(cell):
        k = i // 2
        other = cell[i ^ 1][1]
        for new_src in range(k + 2):
            if new_src != src and new_src != other:
                out.append(cell[:i] + ((op, new_src),) + cell[i + 1:])
    return out


# -- the space -------------------------------------------------------------------------
class DartsSpace(SearchSpace):
    """Pairs of DARTS cells (the NAS-Bench-301 space, about 10**18 architectures).

    Args:
        single_cell_moves: also offer the tuples that change one cell only (see module doc).

    >>> space = DartsSpace()
    >>> g = space.sample(np.random.default_rng(0))
    >>> pairs = space.neighbour_pairs_sample(g, 50, np.random.default_rng(1))
    >>> len(pairs), len({p.key for p in pairs}), g in pairs
    (50, 50, False)
    """

    name = "darts"
    size = None
    encoding_size = ENCODING_SIZE
    ops = OPS

    def __init__(self, single_cell_moves: bool = False):
        self.single_cell_moves = bool(single_cell_moves)

    def validate(self, arch: Any) -> Genotype:
        if isinstance(arch, Genotype):
            return arch
        if isinstance(arch, str):
            return Genotype.from_key(arch)
        if isinstance(arch, dict):
            return Genotype.from_config_dict(arch)
        normal = getattr(arch, "normal", None)
        reduce = getattr(arch, "reduce", None)
        if normal is not None and reduce is not None:  # e.g. the DARTS namedtuple
            return Genotype(normal, reduce)
        if isinstance(arch, Sequence) and len(arch) == 2:
            return Genotype(arch[0], arch[1])
        raise InvalidArchitecture(f"darts: cannot read a genotype from {type(arch).__name__}")

    def key(self, arch: Any) -> str:
        return self.validate(arch).key

    def from_key(self, key: str) -> Genotype:
        return Genotype.from_key(key)

    def neighbour_table(self, keys=None, **options):
        """Not available: the DARTS space is not enumerable (``size`` is None), so there are
        no rows to tabulate; neighbours come one architecture at a time from ``neighbours``
        (the episode-by-episode env). Raises NeighbourTableError."""
        from .neighbour_table import NeighbourTableError

        raise NeighbourTableError(f"the {self.name!r} space is not enumerable: no neighbour table "
                                  "(use neighbours() one architecture at a time)")

    # -- categorical decisions ---------------------------------------------------------
    def decisions(self) -> list[tuple[str, tuple]]:
        """Per cell (normal, then reduce), per intermediate node ``2..5`` (its source id):
        ``"<cell> node k input 1"``, ``"... input 2"`` (choices: the earlier sources
        ``0 .. k-1``; 0 and 1 are the cell inputs), ``"... op 1"``, ``"... op 2"``
        (choices :data:`OPS`); op ``e`` sits on the edge from input ``e``. 32 decisions.

        >>> d = DartsSpace().decisions()
        >>> len(d), d[0], d[4][0], d[4][1], d[16][0]
        (32, ('normal node 2 input 1', (0, 1)), 'normal node 3 input 1', (0, 1, 2), 'reduce node 2 input 1')
        """
        return list(_DECISIONS)

    def to_decisions(self, arch: Any) -> list:
        """The decision values of ``arch``, from its canonical form: within a node, input
        1 is the smaller source (ties impossible), so equal keys give equal vectors.

        >>> space = DartsSpace()
        >>> cell = (("skip_connect", 1), ("sep_conv_3x3", 0)) + (("max_pool_3x3", 0), ("avg_pool_3x3", 2)) * 3
        >>> space.to_decisions(Genotype(cell, cell))[:8]
        [0, 1, 'sep_conv_3x3', 'skip_connect', 0, 2, 'max_pool_3x3', 'avg_pool_3x3']
        """
        g = self.validate(arch)
        out: list = []
        for ct in CELL_TYPES:
            c = canonical_cell(g.cell(ct))
            for k in range(NUM_NODES):
                (op1, in1), (op2, in2) = c[2 * k], c[2 * k + 1]
                out += [in1, in2, op1, op2]
        return out

    def from_decisions(self, values: Sequence) -> Genotype:
        """The genotype of one value per decision (see :meth:`decisions`).

        Values must be exactly choices of their decision (integer sources, never
        booleans or floats; op names); the two inputs of a node must differ. Anything
        else raises :class:`InvalidArchitecture` naming the decision or the node.

        >>> space = DartsSpace()
        >>> v = [0, 1, "skip_connect", "sep_conv_3x3"] * 8
        >>> space.from_decisions(v).normal[:2]
        (('skip_connect', 0), ('sep_conv_3x3', 1))
        >>> space.from_decisions(v) == space.from_decisions(space.to_decisions(space.from_decisions(v)))
        True
        >>> v[4:6] = [2, 2]
        >>> space.from_decisions(v)
        Traceback (most recent call last):
        ...
        nasbench_lab.spaces.base.InvalidArchitecture: darts decisions: normal node 3 reads source 2 as input 1 and input 2; the two inputs of a node must be distinct
        """
        values = check_decision_values("darts", _DECISIONS, values)
        cells = []
        per_cell = 4 * NUM_NODES
        for c, ct in enumerate(CELL_TYPES):
            pairs: list = []
            for k in range(NUM_NODES):
                in1, in2, op1, op2 = values[c * per_cell + 4 * k: c * per_cell + 4 * k + 4]
                if in1 == in2:
                    raise InvalidArchitecture(f"darts decisions: {ct} node {k + 2} reads source {in1} as "
                                              "input 1 and input 2; the two inputs of a node must be distinct")
                pairs += [(op1, in1), (op2, in2)]
            cells.append(tuple(pairs))
        return Genotype(*cells)

    # -- sampling ---------------------------------------------------------------------
    def sample_cell(self, rng: np.random.Generator) -> tuple[tuple[str, int], ...]:
        """Uniform over canonical cells: per node a uniform pair of distinct sources, uniform ops."""
        pairs = []
        ops = rng.integers(len(OPS), size=NUM_EDGES)
        for k in range(NUM_NODES):
            combos = list(itertools.combinations(range(k + 2), 2))
            i, j = combos[int(rng.integers(len(combos)))]
            pairs += [(OPS[ops[2 * k]], i), (OPS[ops[2 * k + 1]], j)]
        return tuple(pairs)

    def sample(self, rng: np.random.Generator) -> Genotype:
        return Genotype._trusted(self.sample_cell(rng), self.sample_cell(rng))

    # -- neighbours -------------------------------------------------------------------
    def cell_neighbours(self, cell: Any) -> list[tuple[tuple[str, int], ...]]:
        """The 60 neighbours of one cell (48 op changes, then 12 input changes)."""
        return cell_neighbours(validate_cell(cell))

    def _pair_lists(self, g: Genotype) -> tuple[list, list]:
        ns = cell_neighbours(g.normal)
        rs = cell_neighbours(g.reduce)
        if self.single_cell_moves:
            ns = ns + [g.normal]
            rs = rs + [g.reduce]
        return ns, rs

    def num_neighbours(self, arch: Any) -> int:
        n, r = CELL_NEIGHBOURS, CELL_NEIGHBOURS
        return (n + 1) * (r + 1) - 1 if self.single_cell_moves else n * r

    def neighbours(self, arch: Any, n: int | None = None, rng: np.random.Generator | None = None) -> list[Genotype]:
        """All neighbour tuples (``n=None``, normal-major product order) or ``n`` of them.

        With ``n``, ``n`` distinct tuples are drawn uniformly without replacement using
        ``rng`` (required), in draw order; fewer if there are fewer.
        """
        g = self.validate(arch)
        if n is not None:
            if rng is None:
                raise ValueError("neighbours(arch, n): pass rng (np.random.Generator) to draw n tuples")
            return self.neighbour_pairs_sample(g, n, rng)
        ns, rs = self._pair_lists(g)
        out = [Genotype._trusted(a, b) for a in ns for b in rs]
        if self.single_cell_moves:
            out.pop()  # (normal, reduce) itself is the last product entry
        return out

    def neighbour_pairs_sample(self, arch: Any, n: int, rng: np.random.Generator) -> list[Genotype]:
        """``n`` distinct neighbour tuples drawn uniformly without replacement (fast path)."""
        g = self.validate(arch)
        ns, rs = self._pair_lists(g)
        total = len(ns) * len(rs) - (1 if self.single_cell_moves else 0)
        picks = rng.choice(total, size=min(int(n), total), replace=False)
        return [Genotype._trusted(ns[p // len(rs)], rs[p % len(rs)]) for p in picks.tolist()]

    def mutate(self, arch: Any, rng: np.random.Generator) -> Genotype:
        return self.neighbour_pairs_sample(arch, 1, rng)[0]

    # -- encodings --------------------------------------------------------------------
    def to_nodes(self, cell: Any) -> tuple[np.ndarray, tuple[str, ...]]:
        """Ops-on-nodes view of one cell (Fig. 1)."""
        return to_nodes(validate_cell(cell))

    def encode(self, arch: Any) -> np.ndarray:
        return self.encode_batch([arch])[0]

    def encode_batch(self, archs: Sequence[Any]) -> np.ndarray:
        """(n, 510): normal-cell encoding then reduction-cell encoding, vectorised."""
        gs = [self.validate(a) for a in archs]
        return np.concatenate([encode_cells([g.normal for g in gs]), encode_cells([g.reduce for g in gs])],
                              axis=1)

    def to_config_dict(self, arch: Any) -> dict[str, str]:
        return self.validate(arch).to_config_dict()

    def from_config_dict(self, config: dict) -> Genotype:
        return Genotype.from_config_dict(config)

    draw_panels = 2

    def draw_on(self, arch: Any, axes) -> None:
        self.draw(arch, axes=axes)

    def draw(self, arch: Any, axes=None):
        """Draw both cells (ops-on-nodes) on two matplotlib axes; returns the axes."""
        import matplotlib.pyplot as plt

        g = self.validate(arch)
        if axes is None:
            _, axes = plt.subplots(1, 2, figsize=(12, 3.5))
        for ax, ct in zip(axes, CELL_TYPES):
            m, labels = to_nodes(g.cell(ct))
            draw_nodes(m, labels, ax=ax, title=f"{ct} cell")
        return axes


#: the decisions of :meth:`DartsSpace.decisions`: per cell, per node (input 1, input 2, op 1, op 2)
_DECISIONS: tuple[tuple[str, tuple], ...] = tuple(
    (f"{ct} node {k + 2} {what}", tuple(range(k + 2)) if what.startswith("input") else OPS)
    for ct in CELL_TYPES for k in range(NUM_NODES) for what in ("input 1", "input 2", "op 1", "op 2"))



__all__ = ["Genotype", "DartsSpace", "OPS", "NODE_LABELS", "EDGE_START", "CONFIG_PREFIX",
           "validate_cell", "canonical_cell", "cell_key", "cell_neighbours", "to_nodes", "encode_cell",
           "encode_cells"]

"""The NAS-Bench-101 space object: :class:`NB101Space` and its categorical decisions."""
from __future__ import annotations

import builtins
from typing import Sequence

import numpy as np

from ..base import InvalidArchitecture, SearchSpace, check_decision_values
from ..neighbour_table import NeighbourTable
from . import _hash as _h
from ._hash import INTERIOR_OPS, MAX_VERTICES, OPS
from .cell import Cell, as_cell
from .drawing import draw
from .encoding import ENCODING_SIZE, encode, encode_batch
from .enumeration import SIZE, Enumeration, cell_at, enumerate, index_of
from .neighbourhood import (NEIGHBOUR_TABLE_COMMAND, NEIGHBOUR_TABLE_FILE, neighbour_keys, neighbour_table,
                            neighbours)
from .sampling import sample, sample_bananas, sample_uniform

_enumerate = builtins.enumerate

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
    #: file name of ``paths.cache_dir()`` and built by this command
    neighbour_table_cache = NEIGHBOUR_TABLE_FILE
    neighbour_table_command = NEIGHBOUR_TABLE_COMMAND

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

    def neighbour_table(self, keys: Sequence[str] | None = None, **options) -> NeighbourTable:
        """Rows of the neighbours of every cell, in ``neighbours`` order (rows in
        ``enumerate()`` order, or in the order of ``keys``); cached, see
        :func:`.neighbourhood.neighbour_table` for ``options`` (``workers``, ``cache``,
        ``path``, ``progress``)."""
        return neighbour_table(keys, **options)

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

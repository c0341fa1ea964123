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

One module per concern, every public name re-exported here:

* :mod:`.cell`: the :class:`Cell` value, ``hash_batch``, ``md5_batch``/``blake2s_batch``
  over packed cells;
* :mod:`.neighbourhood`: ``neighbours``, ``neighbour_keys``, ``neighbour_rows_batch`` and
  the cached ``neighbour_table`` over the whole space;
* :mod:`.sampling`: ``sample`` (uniform size), ``sample_bananas``, ``sample_uniform``;
* :mod:`.encoding`: ``encode``, ``encode_batch`` (the agent observation);
* :mod:`.enumeration`: the 423,624 cells (``enumerate``, ``cell_at``, ``index_of``, the
  cache and its build);
* :mod:`.drawing`: ``draw``;
* :mod:`.space`: :class:`NB101Space`, the space object with its categorical decisions;
* :mod:`.reference`: the plain official-style md5 key (the yardstick of the speed
  figures and an independent check; not used by the space).

The private modules are the compiled numba kernels (``_jit``: md5 module hash, neighbour
candidates, a 64-bit refinement hash), small-int parsing, pruning and the blake2s variant
(``_hash``) and the enumeration builder (``_enum``).
"""
from __future__ import annotations

from ..base import InvalidArchitecture
from ._hash import (CONV1X1, CONV3X3, INPUT, INTERIOR_OPS, MAX_EDGES, MAX_VERTICES, MAXPOOL3X3, OPS,
                    OUTPUT)
from .cell import Cell, as_cell, blake2s_batch, hash_batch, md5_batch
from .drawing import OP_COLOURS, draw
from .encoding import ENCODING_SIZE, encode, encode_batch
from .enumeration import (COUNTS, ENUMERATION_FILE, SIZE, Enumeration, build_enumeration, cell_at,
                          cli_build_enumeration, enumeration_arrays, enumeration_cache_path,
                          enumeration_cached, enumeration_counts, enumeration_metadata, enumerate,
                          index_of)
from .neighbourhood import (NEIGHBOUR_TABLE_COMMAND, NEIGHBOUR_TABLE_FILE, build_neighbour_table,
                            cli_build_neighbour_table, neighbour_keys, neighbour_rows_batch,
                            neighbour_table, neighbours)
from .sampling import sample, sample_bananas, sample_uniform
from .space import NB101Space

__all__ = ["Cell", "NB101Space", "OPS", "INTERIOR_OPS", "INPUT", "OUTPUT", "CONV3X3", "CONV1X1",
           "MAXPOOL3X3", "MAX_VERTICES", "MAX_EDGES", "SIZE", "COUNTS", "ENCODING_SIZE", "hash_batch",
           "neighbours", "neighbour_keys", "neighbour_rows_batch", "neighbour_table", "build_neighbour_table",
           "sample", "sample_bananas", "sample_uniform", "encode", "encode_batch", "blake2s_batch",
           "md5_batch", "enumerate", "enumeration_arrays", "enumeration_counts", "cell_at",
           "enumeration_metadata", "enumeration_cached", "enumeration_cache_path", "build_enumeration",
           "index_of", "cli_build_enumeration", "cli_build_neighbour_table", "draw", "as_cell",
           "Enumeration", "OP_COLOURS", "ENUMERATION_FILE", "NEIGHBOUR_TABLE_FILE", "NEIGHBOUR_TABLE_COMMAND",
           "InvalidArchitecture"]

"""NAS-Bench-201 cell space: official strings, official index order, neighbours, encoding."""
from __future__ import annotations

import gzip
import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nasbench_lab import spaces
from nasbench_lab.spaces import InvalidArchitecture
from nasbench_lab.spaces.nb201 import EDGES, NODE_LABELS, OPS, Cell, NB201Space, encode_nodes, to_nodes

SPACE = NB201Space()
cells = st.tuples(*[st.sampled_from(OPS)] * 6).map(Cell)


def test_registry_returns_the_space():
    space = spaces.get("nb201")
    assert isinstance(space, NB201Space) and space.name == "nb201" and space.size == 15625


def test_official_index_order_matches_the_published_table(shared):
    path = shared("nasbench201", "nb201_accuracies.csv.gz")
    with gzip.open(path, "rt") as f:
        header = f.readline().rstrip("\n").split(",")
        col = header.index("arch")
        rows = [line.rstrip("\n").split(",") for line in f]
    assert [int(r[0]) for r in rows] == list(range(15625))
    enum = SPACE.enumerate()
    assert [c.to_string() for c in enum] == [r[col] for r in rows]
    for i in (0, 1, 777, 15624):
        c = Cell.from_string(rows[i][col])
        assert c.index == i and Cell.from_index(i) == c and SPACE.index(rows[i][col]) == i


def test_official_order_is_the_seeded_shuffle_of_the_product():
    # the three indices the official generator asserts after random.seed(88); random.shuffle
    assert Cell.from_index(0).to_string() == (
        "|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|")
    assert Cell.from_index(9).to_string() == (
        "|avg_pool_3x3~0|+|none~0|none~1|+|skip_connect~0|none~1|nor_conv_3x3~2|")
    assert Cell.from_index(123).to_string() == (
        "|avg_pool_3x3~0|+|avg_pool_3x3~0|nor_conv_1x1~1|+|none~0|avg_pool_3x3~1|nor_conv_3x3~2|")
    enum = SPACE.enumerate()
    assert len(enum) == 15625 and len({c.key for c in enum}) == 15625
    assert {c.ops for c in enum} == set(itertools.product(OPS, repeat=6))
    assert [c.index for c in enum[:50]] == list(range(50))


def test_string_round_trip_and_edge_order():
    s = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|"
    c = Cell.from_string(s)
    assert c.ops == ("nor_conv_3x3", "nor_conv_3x3", "avg_pool_3x3", "skip_connect", "nor_conv_3x3",
                     "skip_connect")
    assert c.to_string() == s == c.key == str(c) and SPACE.from_key(s) == c
    assert EDGES == ((1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2))
    assert hash(c) == hash(Cell(list(c.ops))) and c == Cell(list(c.ops))


@pytest.mark.parametrize("bad", [
    ("none",) * 5,
    ("none",) * 7,
    ("none",) * 5 + ("conv_3x3",),
    ("none",) * 5 + (3,),
    "none",
    None,
    42,
])
def test_invalid_ops_raise(bad):
    with pytest.raises(InvalidArchitecture):
        Cell(bad)
    assert not SPACE.is_valid(bad)


@pytest.mark.parametrize("bad", [
    "|none~0|+|none~0|none~1|+|none~0|none~1|",
    "|none~1|+|none~0|none~1|+|none~0|none~1|none~2|",
    "|none~0|+|none~0|none~1|+|none~0|none~1|conv~2|",
    "none~0|+|none~0|none~1|+|none~0|none~1|none~2|",
    "",
    b"|none~0|+|none~0|none~1|+|none~0|none~1|none~2|",
])
def test_invalid_strings_raise(bad):
    with pytest.raises(InvalidArchitecture):
        Cell.from_string(bad)
    with pytest.raises(InvalidArchitecture):
        SPACE.validate(bad)


def test_index_range_checked():
    for bad in (-1, 15625):
        with pytest.raises(InvalidArchitecture):
            Cell.from_index(bad)


@settings(max_examples=200, deadline=None)
@given(cells)
def test_neighbours_are_the_24_one_edge_changes(cell):
    nbrs = SPACE.neighbours(cell)
    assert len(nbrs) == 24 and len({n.key for n in nbrs}) == 24 and cell not in nbrs
    for n in nbrs:
        assert SPACE.is_valid(n)
        assert sum(a != b for a, b in zip(n.ops, cell.ops)) == 1
    assert SPACE.mutate(cell, np.random.default_rng(0)) in nbrs


def test_neighbour_table_matches_neighbours_and_is_symmetric():
    csr = SPACE.neighbour_table()
    assert csr.n_rows == 15625 and (csr.counts == 24).all()
    table = csr.dense()
    assert table.shape == (15625, 24) and table.dtype.kind == "i"
    assert not csr.targets.flags.writeable and not csr.offsets.flags.writeable
    enum = SPACE.enumerate()
    rng = np.random.default_rng(3)
    for i in rng.choice(15625, 200, replace=False):
        assert table[i].tolist() == [n.index for n in SPACE.neighbours(enum[i])]
    # changing one edge is an involution: j is a neighbour of i iff i is one of j
    pairs = set(zip(np.repeat(np.arange(15625), 24).tolist(), table.ravel().tolist()))
    assert all((j, i) in pairs for i, j in itertools.islice(pairs, 0, None, 97))
    assert (np.sort(table, axis=1)[:, 1:] != np.sort(table, axis=1)[:, :-1]).all()
    assert not (table == np.arange(15625)[:, None]).any()


def test_sampler_is_uniform_and_seeded():
    rng = np.random.default_rng(11)
    samples = [SPACE.sample(rng) for _ in range(5000)]
    rng2 = np.random.default_rng(11)
    assert [SPACE.sample(rng2) for _ in range(20)] == samples[:20]
    counts = np.zeros((6, 5))
    for c in samples:
        for e, i in enumerate(c.op_ids):
            counts[e, i] += 1
    # each (edge, op) has probability 1/5: 1000 expected, sd ~ 28
    assert np.abs(counts - 1000).max() < 150


def test_to_nodes_is_the_fig1_conversion():
    c = Cell.from_string("|nor_conv_3x3~0|+|none~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_1x1~1|skip_connect~2|")
    m, labels = to_nodes(c)
    assert m.shape == (11, 11) and labels[0] == "input" and labels[-1] == "output"
    assert labels == ("input", "nor_conv_3x3", "sum", "none", "avg_pool_3x3", "sum",
                      "skip_connect", "nor_conv_1x1", "skip_connect", "sum", "output")
    assert not np.tril(m).any()  # a DAG in topological order
    indeg, outdeg = m.sum(0), m.sum(1)
    ops_v = [i for i, lab in enumerate(labels) if lab in OPS]
    assert (indeg[ops_v] == 1).all() and (outdeg[ops_v] == 1).all()
    sums = [i for i, lab in enumerate(labels) if lab == "sum"]
    assert indeg[sums].tolist() == [1, 2, 3]
    assert m[sums[-1], 10] == 1 and indeg[10] == 1  # only node 3 is the cell output
    # edge (2 <- 1) reads node 1's sum; edge (3 <- 2) reads node 2's sum
    assert m[2, 4] == 1 and m[5, 8] == 1 and m[0, 1] == m[0, 3] == m[0, 6] == 1


def test_encode_is_fixed_size_injective_and_batched():
    assert SPACE.encoding_size == 55 + 11 * len(NODE_LABELS)
    enum = SPACE.enumerate()
    batch = SPACE.encode_batch(enum)
    assert batch.shape == (15625, SPACE.encoding_size) and batch.dtype == np.float32
    assert set(np.unique(batch).tolist()) == {0.0, 1.0}
    assert len(np.unique(batch, axis=0)) == 15625
    for i in (0, 4242, 15624):
        assert np.array_equal(batch[i], SPACE.encode(enum[i]))
    # the vectorised template path equals the direct Fig. 1 conversion + encoding
    for i in range(0, 15625, 311):
        assert np.array_equal(batch[i], encode_nodes(*to_nodes(enum[i]), NODE_LABELS))
    # adjacency part is the lower triangle of the in-edge matrix, row by row
    m, _ = to_nodes(enum[0])
    r, c = np.tril_indices(11, -1)
    assert np.array_equal(batch[0][:55], m.T[r, c])


def test_draw_puts_every_vertex_on_the_axis():
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    SPACE.draw(SPACE.enumerate()[5], ax=ax)
    offsets = [len(col.get_offsets()) for col in ax.collections if hasattr(col, "get_offsets")]
    assert 11 in offsets and ax.get_title() == SPACE.enumerate()[5].to_string()
    plt.close(fig)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.sampled_from(OPS), st.text(max_size=14), st.integers()), min_size=0, max_size=8))
def test_any_invalid_op_list_raises(ops):
    valid = len(ops) == 6 and all(isinstance(o, str) and o in OPS for o in ops)
    if valid:
        assert Cell(ops).ops == tuple(ops)
    else:
        with pytest.raises(InvalidArchitecture):
            Cell(ops)

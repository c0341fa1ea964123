"""DARTS / NAS-Bench-301 space: genotypes, canonical keys, neighbour tuples, Fig. 1, config naming."""
from __future__ import annotations

import itertools
from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nasbench_lab import spaces
from nasbench_lab.spaces import InvalidArchitecture
from nasbench_lab.spaces.darts import (CELL_NEIGHBOURS, CONFIG_PREFIX, NODE_LABELS, OPS, DartsSpace,
                                       Genotype, canonical_cell, cell_key, cell_neighbours, encode_cell, to_nodes,
                                       validate_cell)

SPACE = DartsSpace()

# the genotype of the official NAS-Bench-301 example script
EXAMPLE = Genotype(
    normal=[("sep_conv_3x3", 0), ("sep_conv_3x3", 1), ("sep_conv_3x3", 0), ("sep_conv_3x3", 1),
            ("sep_conv_3x3", 1), ("skip_connect", 0), ("skip_connect", 0), ("dil_conv_3x3", 2)],
    reduce=[("max_pool_3x3", 0), ("max_pool_3x3", 1), ("skip_connect", 2), ("max_pool_3x3", 1),
            ("max_pool_3x3", 0), ("skip_connect", 2), ("skip_connect", 2), ("max_pool_3x3", 1)],
)


@st.composite
def cell_strategy(draw):
    pairs = []
    for k in range(4):
        i, j = draw(st.sampled_from(list(itertools.combinations(range(k + 2), 2))))
        if draw(st.booleans()):
            i, j = j, i
        pairs += [(draw(st.sampled_from(OPS)), i), (draw(st.sampled_from(OPS)), j)]
    return tuple(pairs)


genotypes = st.builds(Genotype, cell_strategy(), cell_strategy())


def test_registry_returns_the_space():
    assert isinstance(spaces.get("darts"), DartsSpace) and isinstance(spaces.get("nb301"), DartsSpace)
    assert spaces.get("darts").name == "darts" and spaces.get("darts").size is None


@pytest.mark.parametrize("cell, reason", [
    (EXAMPLE.normal[:7], "expected 8"),
    (EXAMPLE.normal + (("max_pool_3x3", 0),), "expected 8"),
    ((("conv_7x7", 0),) + EXAMPLE.normal[1:], "unknown op"),
    ((("none", 0),) + EXAMPLE.normal[1:], "unknown op"),
    (EXAMPLE.normal[:2] + (("skip_connect", 3),) + EXAMPLE.normal[3:], "sources 0..2"),
    (EXAMPLE.normal[:2] + (("skip_connect", -1),) + EXAMPLE.normal[3:], "sources 0..2"),
    (EXAMPLE.normal[:3] + (("skip_connect", 0),) + EXAMPLE.normal[4:], "twice"),
    ((("max_pool_3x3", 1), ("max_pool_3x3", 1)) + EXAMPLE.normal[2:], "twice"),
    ((("max_pool_3x3", True),) + EXAMPLE.normal[1:], "integer"),
    ((("max_pool_3x3", 0.0),) + EXAMPLE.normal[1:], "integer"),
    (((0, "max_pool_3x3"),) + EXAMPLE.normal[1:], "unknown op"),
    ((("max_pool_3x3", 0, 1),) + EXAMPLE.normal[1:], "pair"),
    ("max_pool_3x3", "sequence"),
    (None, "sequence"),
])
def test_invalid_cells_raise_with_reason(cell, reason):
    with pytest.raises(InvalidArchitecture, match=reason):
        Genotype(cell, EXAMPLE.reduce)
    with pytest.raises(InvalidArchitecture):
        Genotype(EXAMPLE.normal, cell)
    assert not SPACE.is_valid((EXAMPLE.normal, cell))


def test_canonical_key_ignores_edge_order_inside_a_node():
    swapped = [EXAMPLE.normal[1], EXAMPLE.normal[0]] + list(EXAMPLE.normal[2:])
    g = Genotype(swapped, EXAMPLE.reduce)
    assert g == EXAMPLE and hash(g) == hash(EXAMPLE) and g.key == EXAMPLE.key
    assert g.normal != EXAMPLE.normal  # the value keeps the given order
    assert Genotype.from_key(EXAMPLE.key) == EXAMPLE and SPACE.from_key(EXAMPLE.key) == EXAMPLE
    other = Genotype(EXAMPLE.reduce, EXAMPLE.normal)
    assert other != EXAMPLE and other.key != EXAMPLE.key
    # swapping edges across nodes is a different cell
    moved = list(EXAMPLE.normal)
    moved[1], moved[2] = moved[2], moved[1]
    with pytest.raises(InvalidArchitecture):
        Genotype(moved, EXAMPLE.reduce)  # node 0 would read source 0 twice
    assert EXAMPLE.key == (
        "normal=sep_conv_3x3~0+sep_conv_3x3~1|sep_conv_3x3~0+sep_conv_3x3~1|skip_connect~0+sep_conv_3x3~1|"
        "skip_connect~0+dil_conv_3x3~2;reduce=max_pool_3x3~0+max_pool_3x3~1|max_pool_3x3~1+skip_connect~2|"
        "max_pool_3x3~0+skip_connect~2|max_pool_3x3~1+skip_connect~2")


@pytest.mark.parametrize("key", ["", "normal=x;reduce=y", "normal=" + "a~0+b~1|" * 3 + "a~0+b~1",
                                 EXAMPLE.key.replace("~2;", "~9;"), EXAMPLE.key.replace("~0+", "~0,", 1)])
def test_bad_keys_raise(key):
    with pytest.raises(InvalidArchitecture):
        Genotype.from_key(key)


def test_validate_accepts_the_darts_namedtuple_and_pairs():
    from collections import namedtuple

    G = namedtuple("Genotype", "normal normal_concat reduce reduce_concat")
    official = G(list(EXAMPLE.normal), [2, 3, 4, 5], list(EXAMPLE.reduce), [2, 3, 4, 5])
    assert SPACE.validate(official) == EXAMPLE
    assert SPACE.validate((EXAMPLE.normal, EXAMPLE.reduce)) == EXAMPLE
    assert SPACE.validate(EXAMPLE.to_config_dict()) == EXAMPLE
    with pytest.raises(InvalidArchitecture):
        SPACE.validate(3)


@settings(max_examples=150, deadline=None)
@given(cell_strategy())
def test_cell_neighbours_are_the_60_single_moves(cell):
    nbrs = cell_neighbours(cell)
    keys = [cell_key(n) for n in nbrs]
    assert len(nbrs) == CELL_NEIGHBOURS == 60 and len(set(keys)) == 60 and cell_key(cell) not in keys
    assert nbrs == SPACE.cell_neighbours(cell)
    n_op = n_src = 0
    for n in nbrs:
        validate_cell(n)
        diff = [i for i in range(8) if n[i] != cell[i]]
        assert len(diff) == 1
        (i,) = diff
        if n[i][1] == cell[i][1]:
            n_op += 1
        else:
            n_src += 1
            assert n[i][0] == cell[i][0]
    assert (n_op, n_src) == (48, 12)


@settings(max_examples=10, deadline=None)
@given(genotypes)
def test_pair_neighbours_follow_the_paper(g):
    nbrs = SPACE.neighbours(g)
    assert len(nbrs) == 3600 == SPACE.num_neighbours(g)
    assert len({n.key for n in nbrs}) == 3600 and g not in nbrs
    assert all(cell_key(n.normal) != cell_key(g.normal) and cell_key(n.reduce) != cell_key(g.reduce)
               for n in nbrs)
    first = cell_neighbours(g.normal)[0]
    assert nbrs[:60] == [Genotype(first, r) for r in cell_neighbours(g.reduce)]  # normal-major order
    # the optional strict one-change neighbourhood adds the 120 single-cell tuples
    wide = DartsSpace(single_cell_moves=True).neighbours(g)
    assert len(wide) == 3720 == DartsSpace(single_cell_moves=True).num_neighbours(g)
    assert len(set(wide)) == 3720 and g not in wide and set(nbrs) < set(wide)
    single = set(wide) - set(nbrs)
    assert all((n.normal == g.normal) != (n.reduce == g.reduce) for n in single)


def test_neighbour_sample_is_reproducible_distinct_and_within_the_product():
    g = SPACE.sample(np.random.default_rng(5))
    everything = set(SPACE.neighbours(g))
    a = SPACE.neighbour_pairs_sample(g, 50, np.random.default_rng(9))
    b = SPACE.neighbours(g, 50, np.random.default_rng(9))
    c = SPACE.neighbour_pairs_sample(g, 50, np.random.default_rng(10))
    assert a == b and a != c and len(set(a)) == 50 and set(a) <= everything and g not in a
    assert len(SPACE.neighbour_pairs_sample(g, 10_000, np.random.default_rng(0))) == 3600
    with pytest.raises(ValueError, match="rng"):
        SPACE.neighbours(g, 50)
    m = SPACE.mutate(g, np.random.default_rng(1))
    assert m in everything


@settings(max_examples=100, deadline=None)
@given(genotypes)
def test_sampled_and_mutated_genotypes_are_valid(g):
    assert SPACE.validate(g) is g
    Genotype(g.normal, g.reduce)  # re-validates
    assert Genotype.from_key(g.key) == g


def test_sampler_is_uniform_over_canonical_cells_and_seeded():
    rng = np.random.default_rng(2)
    gs = [SPACE.sample(rng) for _ in range(3000)]
    rng2 = np.random.default_rng(2)
    assert [SPACE.sample(rng2) for _ in range(10)] == gs[:10]
    for g in gs[:200]:
        Genotype(g.normal, g.reduce)
    # node 3 picks one of 10 source pairs uniformly; ops uniform over 7
    pairs = Counter(tuple(sorted((g.normal[6][1], g.normal[7][1]))) for g in gs)
    assert set(pairs) == set(itertools.combinations(range(5), 2))
    assert max(abs(v - 300) for v in pairs.values()) < 75
    ops = Counter(op for g in gs for op, _ in g.reduce)
    assert max(abs(v - 3000 * 8 / 7) for v in ops.values()) < 200


def test_config_dict_uses_the_nasbench301_naming():
    cfg = EXAMPLE.to_config_dict()
    p = CONFIG_PREFIX
    assert cfg == {
        p + "edge_normal_0": "sep_conv_3x3", p + "edge_normal_1": "sep_conv_3x3",
        p + "edge_normal_2": "sep_conv_3x3", p + "edge_normal_3": "sep_conv_3x3",
        p + "inputs_node_normal_3": "0_1",
        p + "edge_normal_6": "sep_conv_3x3", p + "edge_normal_5": "skip_connect",
        p + "inputs_node_normal_4": "0_1",
        p + "edge_normal_9": "skip_connect", p + "edge_normal_11": "dil_conv_3x3",
        p + "inputs_node_normal_5": "0_2",
        p + "edge_reduce_0": "max_pool_3x3", p + "edge_reduce_1": "max_pool_3x3",
        p + "edge_reduce_4": "skip_connect", p + "edge_reduce_3": "max_pool_3x3",
        p + "inputs_node_reduce_3": "1_2",
        p + "edge_reduce_5": "max_pool_3x3", p + "edge_reduce_7": "skip_connect",
        p + "inputs_node_reduce_4": "0_2",
        p + "edge_reduce_11": "skip_connect", p + "edge_reduce_10": "max_pool_3x3",
        p + "inputs_node_reduce_5": "1_2",
    }
    assert Genotype.from_config_dict(cfg) == EXAMPLE
    assert Genotype.from_config_dict({**cfg, "OptimizerSelector:sgd:momentum": 0.9}) == EXAMPLE


@settings(max_examples=100, deadline=None)
@given(genotypes)
def test_config_dict_round_trip(g):
    cfg = g.to_config_dict()
    assert len(cfg) == 2 * (8 + 3)
    assert Genotype.from_config_dict(cfg) == g


def test_bad_config_dicts_raise():
    cfg = EXAMPLE.to_config_dict()
    p = CONFIG_PREFIX
    for mutate, reason in [
        (lambda c: c.pop(p + "inputs_node_normal_4"), "missing"),
        (lambda c: c.pop(p + "edge_reduce_0"), "missing"),
        (lambda c: c.__setitem__(p + "edge_normal_4", "skip_connect"), "inactive"),
        (lambda c: c.__setitem__(p + "inputs_node_normal_3", "2_1"), "i_j"),
        (lambda c: c.__setitem__(p + "inputs_node_normal_3", "0_3"), "i_j"),
        (lambda c: c.__setitem__(p + "inputs_node_normal_3", "x"), "i_j"),
        (lambda c: c.__setitem__(p + "edge_normal_0", "conv"), "unknown op"),
    ]:
        bad = dict(cfg)
        mutate(bad)
        with pytest.raises(InvalidArchitecture, match=reason):
            Genotype.from_config_dict(bad)


def test_to_nodes_is_the_fig1_conversion():
    m, labels = to_nodes(EXAMPLE.normal)
    assert m.shape == (15, 15) and not np.tril(m).any()
    assert labels == ("input", "input", "sep_conv_3x3", "sep_conv_3x3", "sum", "sep_conv_3x3", "sep_conv_3x3",
                      "sum", "skip_connect", "sep_conv_3x3", "sum", "skip_connect", "dil_conv_3x3", "sum",
                      "output")
    indeg, outdeg = m.sum(0), m.sum(1)
    op_v = [i for i, lab in enumerate(labels) if lab in OPS]
    sums = [i for i, lab in enumerate(labels) if lab == "sum"]
    assert (indeg[op_v] == 1).all() and (outdeg[op_v] == 1).all()
    assert (indeg[sums] == 2).all() and m[sums, 14].tolist() == [1, 1, 1, 1] and indeg[14] == 4
    assert m.sum() == 8 * 2 + 4
    # node 3's dil_conv edge (vertex 12) reads node 0's sum (vertex 4)
    assert m[4, 12] == 1 and m[0, 11] == 1


def test_encode_concatenates_both_cells_and_is_canonical():
    assert SPACE.encoding_size == 2 * (105 + 15 * len(NODE_LABELS)) == 510
    e = SPACE.encode(EXAMPLE)
    assert e.shape == (510,) and e.dtype == np.float32
    swapped = Genotype([EXAMPLE.normal[1], EXAMPLE.normal[0]] + list(EXAMPLE.normal[2:]), EXAMPLE.reduce)
    assert np.array_equal(SPACE.encode(swapped), e)
    assert not np.array_equal(SPACE.encode(Genotype(EXAMPLE.reduce, EXAMPLE.normal)), e)
    m, _ = to_nodes(EXAMPLE.reduce)
    r, c = np.tril_indices(15, -1)
    assert np.array_equal(e[255:255 + 105], m.T[r, c])
    rng = np.random.default_rng(0)
    gs = {g.key: g for g in (SPACE.sample(rng) for _ in range(300))}
    enc = SPACE.encode_batch(list(gs.values()))
    assert len(np.unique(enc, axis=0)) == len(gs)
    # the vectorised path equals the direct Fig. 1 conversion + encoding of each cell
    ref = np.stack([np.concatenate([encode_cell(g.normal), encode_cell(g.reduce)]) for g in gs.values()])
    assert np.array_equal(enc, ref)
    assert canonical_cell(EXAMPLE.normal)[:2] == (("sep_conv_3x3", 0), ("sep_conv_3x3", 1))


def test_draw_both_cells():
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2)
    out = SPACE.draw(EXAMPLE, axes=axes)
    assert [ax.get_title() for ax in out] == ["normal cell", "reduce cell"]
    for ax in out:
        assert 15 in [len(col.get_offsets()) for col in ax.collections if hasattr(col, "get_offsets")]
    plt.close(fig)


@settings(max_examples=200, deadline=None)
@given(genotypes, st.integers(0, 7), st.one_of(st.integers(-3, 8), st.text(max_size=14)), st.booleans())
def test_any_corrupted_edge_raises(g, i, bad, in_reduce):
    from hypothesis import assume

    cell = list(g.reduce if in_reduce else g.normal)
    op, src = cell[i]
    k = i // 2
    if isinstance(bad, int):
        assume(not (0 <= bad < k + 2) or bad == cell[i ^ 1][1])
        cell[i] = (op, bad)
    else:
        assume(bad not in OPS)
        cell[i] = (bad, src)
    with pytest.raises(InvalidArchitecture):
        Genotype(g.normal, cell) if in_reduce else Genotype(cell, g.reduce)


def test_draw_on_fills_the_space_s_panels():
    from matplotlib.figure import Figure

    from nasbench_lab.spaces.nb201 import NB201Space

    for space, titles in ((DartsSpace(), ["normal cell", "reduce cell"]), (NB201Space(), None)):
        fig = Figure()
        axes = fig.subplots(1, space.draw_panels, squeeze=False)[0]
        space.draw_on(space.sample(np.random.default_rng(0)), list(axes))
        assert all(ax.has_data() or ax.patches or ax.texts for ax in axes)
        if titles:
            assert [ax.get_title() for ax in axes] == titles
    assert (DartsSpace().draw_panels, NB201Space().draw_panels) == (2, 1)

"""The MLP chain space of the HalfMoons system: values, validation, enumeration, moves."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nasbench_lab import spaces
from nasbench_lab.spaces import InvalidArchitecture
from nasbench_lab.spaces.mlp import ACTIVATIONS, WIDTHS, Chain, ChainSpace
from nasbench_lab.models import build_model

layer = st.tuples(st.sampled_from(WIDTHS), st.sampled_from(ACTIVATIONS))


def chains(max_depth=6):
    return st.lists(layer, min_size=0, max_size=max_depth).map(lambda ls: Chain(tuple(ls)))


# -- the value ------------------------------------------------------------------------------
def test_key_str_and_round_trip():
    c = Chain([(8, "Tanh"), (8, "ReLU"), (4, "ReLU")])
    assert c.key == "8-Tanh|8-ReLU|4-ReLU"
    assert str(c) == "[8, Tanh, 8, ReLU, 4, ReLU, 2]"  # the seed's notation
    assert Chain.from_key(c.key) == c
    assert Chain(()).key == "empty" and Chain.from_key("empty") == Chain([])
    assert c.layers == ((8, "Tanh"), (8, "ReLU"), (4, "ReLU"))
    assert c.depth == 3 and c.widths == (8, 8, 4) and c.activations == ("Tanh", "ReLU", "ReLU")
    # numpy integers are accepted and normalised to int
    assert Chain([(np.int64(8), "Tanh")]) == Chain([(8, "Tanh")])
    assert hash(Chain([[8, "Tanh"]])) == hash(Chain(((8, "Tanh"),)))


@pytest.mark.parametrize("layers, reason", [
    ([(3, "ReLU")], "width 3"),
    ([(True, "ReLU")], "width must be an integer"),
    ([(8.0, "ReLU")], "width must be an integer"),
    ([(8, "relu")], "activation 'relu'"),
    ([(8, "GELU")], "activation 'GELU'"),
    ([(8,)], "pair"),
    ([8, "ReLU"], "pair"),
    ([(8, "ReLU", 1)], "pair"),
    ([(2, "Tanh")] * 7, "at most 6"),
    ("8-ReLU", "sequence"),
    (None, "sequence"),
])
def test_invalid_chains_raise_with_reason(layers, reason):
    with pytest.raises(InvalidArchitecture, match=reason):
        Chain(layers)


@pytest.mark.parametrize("key", ["", "8", "8-", "x-ReLU", "8-Relu", "8-ReLU|", "3-Tanh", "|".join(["1-Tanh"] * 7)])
def test_malformed_keys_raise(key):
    with pytest.raises(InvalidArchitecture):
        Chain.from_key(key)


def test_parameters_match_the_torch_module():
    for c in [Chain(()), Chain([(16, "ReLU"), (16, "ReLU")]), Chain([(1, "Sigmoid"), (4, "LeakyReLU"), (2, "Tanh")])]:
        module = build_model(c)
        assert sum(p.numel() for p in module.parameters()) == c.parameters
    assert Chain([(16, "ReLU"), (16, "ReLU")]).parameters == 2 * 16 + 16 + 16 * 16 + 16 + 16 * 2 + 2


def test_the_torch_network_of_a_chain_structure_and_forward():
    import torch
    from torch import nn

    m = build_model(Chain([(8, "Tanh"), (4, "LeakyReLU")]))
    kinds = [type(x) for x in m]
    assert kinds == [nn.Linear, nn.Tanh, nn.Linear, nn.LeakyReLU, nn.Linear]
    assert (m[0].in_features, m[0].out_features, m[-1].in_features, m[-1].out_features) == (2, 8, 4, 2)
    assert m(torch.zeros(5, 2)).shape == (5, 2)
    empty = build_model(Chain(()))
    assert len(empty) == 1 and empty[0].in_features == 2 and empty[0].out_features == 2


# -- the space ------------------------------------------------------------------------------
def test_registry_and_sizes():
    space = spaces.get("mlp")
    assert isinstance(space, ChainSpace) and space.max_depth == 6 and space.name == "mlp"
    assert space.size == sum(20**d for d in range(7)) == 67_368_421
    assert ChainSpace(max_depth=3).size == 8421
    assert ChainSpace(max_depth=0).size == 1
    with pytest.raises(ValueError, match="max_depth"):
        ChainSpace(max_depth=7)


def test_enumerate_order_index_and_refusal():
    space = ChainSpace(max_depth=3)
    archs = space.enumerate()
    assert len(archs) == 8421 == len({a.key for a in archs})
    assert archs[0] == Chain(()) and archs[1] == Chain([(1, "Sigmoid")]) and archs[20] == Chain([(16, "LeakyReLU")])
    assert archs[21] == Chain([(1, "Sigmoid"), (1, "Sigmoid")])
    assert archs[-1] == Chain([(16, "LeakyReLU")] * 3)
    assert [a.depth for a in archs] == sorted(a.depth for a in archs)
    for i in [0, 1, 20, 21, 420, 421, 5000, 8420]:
        assert space.index(archs[i]) == i and space.from_index(i) == archs[i]
    with pytest.raises(IndexError):
        space.from_index(8421)
    with pytest.raises(ValueError, match="limited"):
        ChainSpace(max_depth=5).enumerate()
    big = ChainSpace(max_depth=6)
    deep = Chain([(16, "LeakyReLU")] * 6)
    assert big.index(deep) == big.size - 1 and big.from_index(big.size - 1) == deep


def test_validate_respects_max_depth():
    space = ChainSpace(max_depth=2)
    with pytest.raises(InvalidArchitecture, match="at most 2"):
        space.validate(Chain([(1, "Tanh")] * 3))
    assert space.validate("8-Tanh") == Chain([(8, "Tanh")])
    assert space.key([(8, "Tanh")]) == "8-Tanh"
    assert not space.is_valid([(5, "Tanh")])


def test_neighbour_counts_of_small_cases():
    space = ChainSpace(max_depth=3)
    # empty chain: the 20 one-layer chains
    assert len(space.neighbours(Chain(()))) == 20
    # one layer: 2 positions x 20 insertions less 1 duplicate, 1 removal, 4 widths, 3 activations
    assert len(space.neighbours(Chain([(8, "Tanh")]))) == 39 + 1 + 4 + 3
    # at max depth: no insertions; 3 removals (two identical layers -> 2 distinct), 12 widths, 9 acts
    full = Chain([(8, "Tanh"), (8, "Tanh"), (2, "ReLU")])
    nbrs = space.neighbours(full)
    assert len(nbrs) == 2 + 12 + 9
    assert nbrs == space.neighbours(full)  # deterministic


@settings(max_examples=150, deadline=None)
@given(chains(max_depth=6))
def test_neighbours_valid_unique_not_self_and_symmetric(chain):
    space = ChainSpace(max_depth=6)
    nbrs = space.neighbours(chain)
    keys = [n.key for n in nbrs]
    assert len(keys) == len(set(keys))
    assert chain.key not in keys
    assert all(space.is_valid(n) for n in nbrs)
    # each move changes one layer, or the depth by one
    for n in nbrs:
        assert abs(n.depth - chain.depth) <= 1
    for n in nbrs[:: max(1, len(nbrs) // 7)]:
        assert chain in space.neighbours(n)


@settings(max_examples=100, deadline=None)
@given(chains(max_depth=6), st.integers(0, 2**32 - 1))
def test_mutate_and_samples_are_valid(chain, seed):
    space = ChainSpace(max_depth=6)
    rng = np.random.default_rng(seed)
    assert space.mutate(chain, rng) != chain
    s = space.sample(rng)
    assert space.is_valid(s)
    assert space.is_valid(space.sample_uniform(rng))


def test_sampler_is_seeded_and_covers_depths():
    space = ChainSpace(max_depth=6)
    a = [space.sample(np.random.default_rng(7)).key for _ in range(3)]
    assert len(set(a)) == 1
    rng = np.random.default_rng(0)
    depths = np.bincount([space.sample(rng).depth for _ in range(3500)], minlength=7)
    assert depths.min() > 400  # uniform over the 7 depths (500 expected each)
    rng = np.random.default_rng(0)
    udepths = [space.sample_uniform(rng).depth for _ in range(2000)]
    assert np.mean(np.array(udepths) == 6) > 0.9  # uniform over chains: 95% have 6 layers


def test_encode_is_fixed_size_one_hot_and_injective():
    space = ChainSpace(max_depth=2)
    archs = space.enumerate()
    enc = space.encode_batch(archs)
    assert enc.shape == (421, 18) and enc.dtype == np.float32
    assert np.array_equal(enc.sum(1), [2 * a.depth for a in archs])
    assert len({row.tobytes() for row in enc}) == 421
    e = space.encode(Chain([(4, "ReLU")]))
    assert e[:9].tolist() == [0, 0, 1, 0, 0, 0, 0, 1, 0] and not e[9:].any()


def test_draw_returns_an_axis():
    import matplotlib

    matplotlib.use("Agg")
    ax = ChainSpace().draw(Chain([(8, "Tanh"), (8, "ReLU")]))
    assert ax.get_title() == "8-Tanh|8-ReLU"
    assert len(ax.patches) == 4

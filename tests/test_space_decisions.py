"""Every space as a sequence of categorical decisions (``decisions``, ``to_decisions``,
``from_decisions``): round trips, coverage of the finite spaces, NB101 validity against an
independent pruning and the official hashes, and refusal of malformed vectors."""
from __future__ import annotations

import gzip
import itertools
import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nasbench_lab.spaces import InvalidArchitecture
from nasbench_lab.spaces import nb101
from nasbench_lab.spaces.darts import OPS as DARTS_OPS
from nasbench_lab.spaces.darts import DartsSpace, Genotype
from nasbench_lab.spaces.mlp import ACTIVATIONS, WIDTHS, Chain, ChainSpace
from nasbench_lab.spaces.nb101 import INTERIOR_OPS, Cell, NB101Space
from nasbench_lab.spaces.nb101.reference import reference_key
from nasbench_lab.spaces.nb201 import OPS as NB201_OPS
from nasbench_lab.spaces.nb201 import NB201Space
from test_space_nb101 import random_topological_relabel

seeds = st.integers(min_value=0, max_value=2**32 - 1)

SPACES = {
    "nb101": NB101Space(),
    "nb201": NB201Space(),
    "darts": DartsSpace(),
    "mlp3": ChainSpace(max_depth=3),
    "mlp6": ChainSpace(max_depth=6),
}


def check_vector(space, values):
    """``values`` is one exact choice per decision of ``space``."""
    decisions = space.decisions()
    assert len(values) == len(decisions)
    for (name, choices), v in zip(decisions, values):
        assert v in choices, (name, v, choices)
        assert not isinstance(v, bool), name




# -- round trips ---------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(SPACES))
@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=seeds)
def test_round_trip_keeps_the_key(name, seed):
    space = SPACES[name]
    rng = np.random.default_rng(seed)
    arch = space.sample(rng)
    values = space.to_decisions(arch)
    check_vector(space, values)
    back = space.from_decisions(values)
    assert space.key(back) == space.key(arch)
    assert space.to_decisions(back) == values  # one canonical vector per architecture


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=seeds)
def test_nb101_round_trip_of_every_sampler_and_a_relabelled_copy(seed):
    """BANANAS cells (mostly 7 vertices) and a random topological renumbering of a cell
    (same key, other vertex order) map back to the same key."""
    space = NB101Space()
    rng = np.random.default_rng(seed)
    for cell in (nb101.sample_bananas(rng), nb101.sample(rng)):
        assert space.from_decisions(space.to_decisions(cell)).key == cell.key
        m, ops = random_topological_relabel(cell, rng)
        other = Cell(m, ops)
        assert space.from_decisions(space.to_decisions(other)).key == cell.key


def test_nb101_round_trip_reproduces_the_official_hashes():
    """The 1,000 real cells (unpruned, 2..7 vertices): through the decision vector to
    the official hash."""
    from conftest import shared_file

    with open(shared_file("nasbench101", "nb101_sample_1k.jsonl")) as f:
        records = [json.loads(line) for line in f]
    space = NB101Space()
    keys = [space.from_decisions(space.to_decisions((r["matrix"], r["ops"]))).key for r in records]
    assert keys == [r["hash"] for r in records]


def test_nb101_embedding_of_small_cells():
    """A pruned 3-vertex cell: output at vertex 6, padding vertices without edges and with
    the first interior op."""
    space = NB101Space()
    c = Cell([[0, 1, 1], [0, 0, 1], [0, 0, 0]], ["input", "maxpool3x3", "output"])
    values = space.to_decisions(c)
    names = [n for n, _ in space.decisions()]
    on = {n for n, v in zip(names, values) if v == 1}
    assert on == {"edge 0->1", "edge 0->6", "edge 1->6"}
    assert values[21:] == ["maxpool3x3"] + [INTERIOR_OPS[0]] * 4
    two = Cell([[0, 1], [0, 0]], ["input", "output"])
    assert [n for n, v in zip(names, space.to_decisions(two)) if v == 1] == ["edge 0->6"]


# -- names ---------------------------------------------------------------------------------
def test_decision_names_and_choices():
    nb = NB101Space().decisions()
    assert [n for n, _ in nb[:3]] == ["edge 0->1", "edge 0->2", "edge 0->3"]
    assert nb[20][0] == "edge 5->6" and [n for n, _ in nb[21:]] == [f"op {v}" for v in range(1, 6)]
    assert all(c == (0, 1) for _, c in nb[:21]) and all(c == INTERIOR_OPS for _, c in nb[21:])
    d = DartsSpace().decisions()
    assert len(d) == 32
    assert [n for n, _ in d[:4]] == ["normal node 2 input 1", "normal node 2 input 2",
                                     "normal node 2 op 1", "normal node 2 op 2"]
    assert d[12] == ("normal node 5 input 1", (0, 1, 2, 3, 4))
    assert d[16][0] == "reduce node 2 input 1" and d[-1] == ("reduce node 5 op 2", DARTS_OPS)
    m = ChainSpace(max_depth=3).decisions()
    assert [n for n, _ in m] == ["depth", "layer 1 width", "layer 1 activation", "layer 2 width",
                                 "layer 2 activation", "layer 3 width", "layer 3 activation"]
    assert m[0][1] == (0, 1, 2, 3) and m[1][1] == WIDTHS and m[2][1] == ACTIVATIONS
    for space in SPACES.values():  # names are unique
        names = [n for n, _ in space.decisions()]
        assert len(set(names)) == len(names)


def test_mlp_unused_slots_are_the_first_choices_and_ignored():
    space = ChainSpace(max_depth=3)
    assert space.to_decisions(Chain(())) == [0, 1, "Sigmoid", 1, "Sigmoid", 1, "Sigmoid"]
    assert space.to_decisions(Chain([(8, "Tanh")])) == [1, 8, "Tanh", 1, "Sigmoid", 1, "Sigmoid"]
    assert space.from_decisions([1, 8, "Tanh", 16, "ReLU", 4, "LeakyReLU"]).key == "8-Tanh"
    assert space.from_decisions([0, 8, "Tanh", 16, "ReLU", 4, "LeakyReLU"]).key == "empty"


# -- coverage of the finite spaces ---------------------------------------------------------
def test_nb201_full_product_is_the_enumeration():
    space = NB201Space()
    choices = [c for _, c in space.decisions()]
    keys = [space.key(space.from_decisions(list(v))) for v in itertools.product(*choices)]
    assert len(keys) == len(set(keys)) == 15_625
    assert set(keys) == {space.key(a) for a in space.enumerate()}


@pytest.mark.parametrize("max_depth", [2, 3])
def test_mlp_canonical_vectors_are_the_enumeration(max_depth):
    """Every depth with every used-slot product and first-choice unused slots: a
    bijection onto the enumeration."""
    space = ChainSpace(max_depth=max_depth)
    slot = [(w, a) for w in WIDTHS for a in ACTIVATIONS]
    keys = []
    for depth in range(max_depth + 1):
        for layers in itertools.product(slot, repeat=depth):
            v = [depth]
            for i in range(max_depth):
                v += list(layers[i]) if i < depth else [WIDTHS[0], ACTIVATIONS[0]]
            keys.append(space.key(space.from_decisions(v)))
    enum = [space.key(a) for a in space.enumerate()]
    assert len(keys) == len(set(keys)) == space.size
    assert set(keys) == set(enum)


def test_mlp_full_product_reaches_exactly_the_enumeration():
    space = ChainSpace(max_depth=2)
    choices = [c for _, c in space.decisions()]
    keys = {space.key(space.from_decisions(list(v))) for v in itertools.product(*choices)}
    assert keys == {space.key(a) for a in space.enumerate()}


# -- NB101: random vectors are a valid cell or refused ---------------------------------------
def _independent_prune(bits: list[int]) -> tuple[bool, int]:
    """(output reachable from the input, edges among the vertices on an input->output path)
    of the 7-vertex graph of 21 row-major upper-triangular bits, by plain matrix powers."""
    m = np.zeros((7, 7), dtype=np.int64)
    m[np.triu_indices(7, 1)] = bits
    reach = np.eye(7, dtype=np.int64)
    for _ in range(7):
        reach = ((reach + reach @ m) > 0).astype(np.int64)
    on_path = (reach[0] > 0) & (reach[:, 6] > 0)
    if not reach[0, 6]:
        return False, 0
    return True, int(m[np.ix_(on_path, on_path)].sum())


def test_nb101_random_vectors_are_valid_cells_or_refused():
    from conftest import shared_file

    with gzip.open(shared_file("nasbench101", "nb101_sample_hashes.csv.gz"), "rt") as f:
        header = f.readline().strip().split(",")
        col = header.index("hash")
        official = sorted(line.split(",")[col].strip() for line in f)
    official_set = set(official)
    lowest = official[20_000]  # the file holds the lowest 20,001 hashes of the space
    space = NB101Space()
    rng = np.random.default_rng(20240601)
    valid = invalid = checked = 0
    reasons = set()
    for _ in range(1500):
        p = rng.uniform(0.1, 0.6)
        bits = (rng.random(21) < p).astype(int).tolist()
        ops = [INTERIOR_OPS[i] for i in rng.integers(3, size=5)]
        reachable, edges = _independent_prune(bits)
        try:
            cell = space.from_decisions(bits + ops)
        except InvalidArchitecture as e:
            invalid += 1
            assert not reachable or edges > nb101.MAX_EDGES, (bits, str(e))
            reasons.add("unreachable" if "not reachable" in str(e) else
                        "edges" if "edges after pruning" in str(e) else str(e))
            continue
        valid += 1
        assert reachable and edges <= nb101.MAX_EDGES and cell.num_edges == edges
        m = np.zeros((7, 7), dtype=int)
        m[np.triu_indices(7, 1)] = bits
        assert cell.key == reference_key(m, ["input", *ops, "output"])
        assert space.from_decisions(space.to_decisions(cell)).key == cell.key
        if cell.key <= lowest:
            checked += 1
            assert cell.key in official_set
    assert valid >= 100 and invalid >= 100, (valid, invalid)
    assert reasons == {"unreachable", "edges"}
    assert checked >= 3, checked  # some valid cells fall in the fully covered hash range


# -- DARTS: the two inputs of a node ---------------------------------------------------------
@settings(max_examples=60, deadline=None)
@given(seed=seeds, slot=st.integers(0, 7))
def test_darts_equal_inputs_raise_naming_the_node(seed, slot):
    space = DartsSpace()
    values = space.to_decisions(space.sample(np.random.default_rng(seed)))
    k = slot % 4
    values[4 * slot + 1] = values[4 * slot]
    cell = "normal" if slot < 4 else "reduce"
    with pytest.raises(InvalidArchitecture, match=f"{cell} node {k + 2} reads source .* must be distinct"):
        space.from_decisions(values)


def test_darts_input_order_and_op_placement():
    """Op e sits on the edge from input e; swapping the inputs together with the ops is the
    same genotype, swapping the inputs alone is not."""
    space = DartsSpace()
    v = [0, 1, "skip_connect", "sep_conv_3x3"] * 8
    g = space.from_decisions(v)
    assert g.normal[:2] == (("skip_connect", 0), ("sep_conv_3x3", 1))
    w = list(v)
    w[:4] = [1, 0, "sep_conv_3x3", "skip_connect"]
    assert space.from_decisions(w) == g
    w[:4] = [1, 0, "skip_connect", "sep_conv_3x3"]
    assert space.from_decisions(w) != g
    assert isinstance(g, Genotype)


# -- malformed vectors are refused everywhere ----------------------------------------------
def _first_vector(space):
    return space.to_decisions(space.sample(np.random.default_rng(3)))


@pytest.mark.parametrize("name", sorted(SPACES))
def test_wrong_lengths_raise(name):
    space = SPACES[name]
    values = _first_vector(space)
    for bad in (values[:-1], values + [values[-1]], []):
        with pytest.raises(InvalidArchitecture):
            space.from_decisions(bad)


def _names_decision(space_name: str, decision: str) -> str:
    """The pattern by which a refusal names ``decision``."""
    return f"'{decision}' = "


@pytest.mark.parametrize("name", sorted(SPACES))
def test_unknown_values_raise_naming_the_decision(name):
    """Every position in turn gets a value outside its choices (including a string where
    an integer is expected and the near misses True, 1.0, a padded op name)."""
    space = SPACES[name]
    decisions = space.decisions()
    values = _first_vector(space)
    space.from_decisions(values)  # the unmodified vector is accepted
    for i, (dname, choices) in enumerate(decisions):
        if isinstance(choices[0], str):
            bads = ["not_an_op", choices[0] + " ", 0]
        else:
            bads = [max(choices) + 1, -1, "1", float(choices[-1]), True if 1 in choices else None]
        for bad in bads:
            if bad is None:
                continue
            w = list(values)
            w[i] = bad
            with pytest.raises(InvalidArchitecture, match=_names_decision(name, dname)):
                space.from_decisions(w)


def test_mlp_unused_slots_must_still_be_choices():
    space = ChainSpace(max_depth=3)
    with pytest.raises(InvalidArchitecture, match="'layer 3 width' = 3"):
        space.from_decisions([1, 8, "Tanh", 1, "Sigmoid", 3, "Sigmoid"])
    with pytest.raises(InvalidArchitecture, match="'depth' = 4"):
        space.from_decisions([4, 8, "Tanh", 1, "Sigmoid", 1, "Sigmoid"])


@pytest.mark.parametrize("name", sorted(SPACES))
def test_non_sequences_raise(name):
    space = SPACES[name]
    for bad in ("abc", 3, None, {1, 2}):
        with pytest.raises(InvalidArchitecture):
            space.from_decisions(bad)


def test_numpy_values_are_accepted_as_exact_choices():
    space = NB101Space()
    values = _first_vector(space)
    arr = np.array(values, dtype=object)
    arr[:21] = [np.int64(b) for b in values[:21]]
    assert space.from_decisions(arr).key == space.from_decisions(values).key
    assert NB201Space().from_decisions(np.array(list(NB201_OPS) + ["none"])).key.startswith("|none~0|")

"""NNI's multi-trial strategies: Random, GridSearch, RegularizedEvolution.

Rewards come from synthetic functions of the architecture (a hash of the key, or the
number of decisions equal to a target), so every test is exact and runs offline. Spaces:
NAS-Bench-201 (a decision encoding), MLP chains (finite, small at max_depth 1-2; with or
without a decision encoding, whichever the space has), and a toy space of three
decisions whose ``from_decisions`` refuses some vectors.
"""
from __future__ import annotations

import collections
import copy
import itertools
import math
import random as pyrandom
import zlib

import numpy as np
import pytest
import torch

from nasbench_lab.spaces.base import InvalidArchitecture, SearchSpace
from nasbench_lab.spaces.mlp import ChainSpace
from nasbench_lab.spaces.nb201 import NB201Space
from nasbench_lab.strategies.grid_search import GridSearch
from nasbench_lab.strategies.random import Random, draw_values
from nasbench_lab.strategies.regularized_evolution import RegularizedEvolution


# -- toy spaces ----------------------------------------------------------------------------
class ToySpace(SearchSpace):
    """Decisions a, b in 0..2 and c in x/y; a == b == 2 is invalid: 16 architectures.

    ``finite=False`` reports ``size = None`` (an "infinite" space); ``with_decisions=False``
    has no decision encoding; ``duplicate_enumeration`` lists every architecture twice. Its own ``sample`` is
    not uniform (one of the first three), unlike the uniform decisions."""

    name = "toy"
    encoding_size = 3
    CHOICES = ((0, 1, 2), (0, 1, 2), ("x", "y"))

    def __init__(self, finite=True, with_decisions=True, duplicate_enumeration=False):
        self._all = [v for v in itertools.product(*self.CHOICES) if not (v[0] == 2 and v[1] == 2)]
        self.size = len(self._all) if finite else None
        self.with_decisions = with_decisions
        self.duplicate_enumeration = duplicate_enumeration
        self.from_decisions_calls = 0
        self.refused = 0

    def validate(self, arch):
        arch = tuple(arch)
        if len(arch) != 3 or any(v not in c for v, c in zip(arch, self.CHOICES)):
            raise InvalidArchitecture(f"toy: {arch!r} is not a toy architecture")
        if arch[0] == 2 and arch[1] == 2:
            raise InvalidArchitecture("toy: a == b == 2 is not allowed")
        return arch

    def key(self, arch):
        return "-".join(map(str, self.validate(arch)))

    def sample(self, rng):
        """The space's own sampler, deliberately not uniform: one of the first three."""
        return self._all[int(rng.integers(3))]

    def neighbours(self, arch):
        arch = self.validate(arch)
        out = []
        for i, choices in enumerate(self.CHOICES):
            for v in choices:
                if v != arch[i]:
                    n = arch[:i] + (v,) + arch[i + 1:]
                    if self.is_valid(n):
                        out.append(n)
        return out

    def encode(self, arch):
        return np.array([self.CHOICES[i].index(v) for i, v in enumerate(self.validate(arch))], np.float32)

    def enumerate(self):
        if self.size is None:
            raise NotImplementedError("toy: not enumerable")
        if self.duplicate_enumeration:  # every architecture twice in a row
            return [a for a in self._all for _ in range(2)]
        return list(self._all)

    def decisions(self):
        if not self.with_decisions:
            raise NotImplementedError("toy: no decisions")
        return [("a", self.CHOICES[0]), ("b", self.CHOICES[1]), ("c", self.CHOICES[2])]

    def to_decisions(self, arch):
        return list(self.validate(arch))

    def from_decisions(self, values):
        self.from_decisions_calls += 1
        try:
            return self.validate(values)
        except InvalidArchitecture:
            self.refused += 1
            raise


# -- helpers -------------------------------------------------------------------------------
def hashed_reward(space, arch):
    """A deterministic pseudo-random reward in [0, 1); about one arch in 9 fails (NaN)."""
    h = zlib.crc32(space.key(arch).encode())
    return math.nan if h % 9 == 0 else (h % 10007) / 10007


def drive(strategy, n, reward=hashed_reward, batch=1):
    """``n`` trials, ``batch`` asks then their tells; returns the asked keys."""
    space, keys = strategy.space, []
    while len(keys) < n:
        archs = [strategy.ask() for _ in range(min(batch, n - len(keys)))]
        for a in archs:
            strategy.tell(a, reward(space, a))
            keys.append(space.key(a))
    return keys


def exhaust(strategy, limit):
    """Ask (and tell) until StopIteration; fails if more than ``limit`` asks succeed."""
    keys = []
    for _ in range(limit + 1):
        try:
            arch = strategy.ask()
        except StopIteration:
            return keys
        strategy.tell(arch, hashed_reward(strategy.space, arch))
        keys.append(strategy.space.key(arch))
    raise AssertionError(f"{type(strategy).__name__} asked more than {limit} architectures")


def hamming(space, a, b):
    return sum(x != y for x, y in zip(space.to_decisions(a), space.to_decisions(b)))


def has_decisions(space):
    try:
        space.decisions()
    except NotImplementedError:
        return False
    return True


NB201 = NB201Space()

FACTORIES = {
    "random": lambda space, seed: Random(space, seed=seed),
    "random_nodedup": lambda space, seed: Random(space, seed=seed, dedup=False),
    "grid_search": lambda space, seed: GridSearch(space, seed=seed),
    "grid_search_unshuffled": lambda space, seed: GridSearch(space, seed=seed, shuffle=False),
    "regularized_evolution": lambda space, seed: RegularizedEvolution(space, seed=seed, population_size=12,
                                                                      sample_size=4, mutation_prob=0.2),
    "regularized_evolution_space": lambda space, seed: RegularizedEvolution(
        space, seed=seed, population_size=12, sample_size=4, mutation="space"),
    "regularized_evolution_defaults": lambda space, seed: RegularizedEvolution(space, seed=seed),
}
SPACES = {"nb201": lambda: NB201, "mlp3": lambda: ChainSpace(max_depth=3), "toy": lambda: ToySpace()}


# -- all three: determinism, resume, global RNG ----------------------------------------------
@pytest.mark.parametrize("space_name", sorted(SPACES))
@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_same_seed_same_trace_resume_and_global_rng_untouched(name, space_name):
    space = SPACES[space_name]()
    make = FACTORIES[name]
    n = 6 if space_name == "toy" else 60  # the toy space has 16 architectures
    np_state, py_state, torch_state = np.random.get_state(), pyrandom.getstate(), torch.get_rng_state()
    a = make(space, 0)
    trace_a = drive(a, n, batch=3)
    trace_b = drive(make(space, 0), n, batch=3)
    assert trace_a == trace_b, "same seed, different trace"
    if space_name != "toy" and name != "grid_search_unshuffled":
        assert drive(make(space, 1), n, batch=3) != trace_a, "another seed, the same trace"
    # resume mid-run, with asks pending (as with trial_concurrency > 1)
    pending = [a.ask(), a.ask()]
    state = copy.deepcopy(a.state_dict())
    fresh = make(space, 123)
    fresh.load_state_dict(state)
    for s in (a, fresh):
        for arch in pending:
            s.tell(arch, hashed_reward(space, arch))
    m = 4 if space_name == "toy" else 60
    cont = drive(a, m, batch=2)
    again = drive(fresh, m, batch=2)
    assert cont == again, "load_state_dict did not restore the strategy"
    assert a.trials == fresh.trials and a.failed == fresh.failed and a.best == fresh.best
    assert pyrandom.getstate() == py_state
    assert torch.equal(torch.get_rng_state(), torch_state)
    after = np.random.get_state()
    assert np.array_equal(after[1], np_state[1]) and after[2:] == np_state[2:]


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_constructor_leaves_global_rng_alone_and_asks_are_valid(name):
    torch_state, np_state, py_state = torch.get_rng_state(), np.random.get_state()[1].copy(), pyrandom.getstate()
    s = FACTORIES[name](NB201, 0)
    assert torch.equal(torch.get_rng_state(), torch_state)
    assert np.array_equal(np.random.get_state()[1], np_state) and pyrandom.getstate() == py_state
    for _ in range(20):
        arch = s.ask()
        assert NB201.is_valid(arch)
        s.tell(arch, 0.5)


@pytest.mark.parametrize("cls", [Random, RegularizedEvolution])
def test_invalid_draws_are_redrawn(cls):
    """The toy space refuses a == b == 2 (2 of 18 vectors): never asked, draws redrawn."""
    space = ToySpace()
    s = cls(space, seed=0, dedup=False)
    archs = [s.ask() for _ in range(1600)]
    for a in archs:
        s.tell(a, 0.5)
    assert space.refused > 0, "no vector was refused: the policy was not exercised"
    assert all(space.is_valid(a) for a in archs)
    assert all(not (a[0] == 2 and a[1] == 2) for a in archs)
    if cls is Random:  # uniform over the 16 valid vectors: each 100 +- 10 times in 1600
        counts = collections.Counter(archs)
        assert len(counts) == 16 and min(counts.values()) >= 65 and max(counts.values()) <= 135, counts


def test_strategies_refuse_bad_state():
    s = RegularizedEvolution(NB201, seed=0, population_size=5, sample_size=2)
    drive(s, 3)
    with pytest.raises(ValueError, match="population_size"):
        RegularizedEvolution(NB201, seed=0, population_size=6, sample_size=2).load_state_dict(s.state_dict())
    with pytest.raises(ValueError, match="dedup"):
        Random(NB201, dedup=False).load_state_dict(Random(NB201).state_dict())
    with pytest.raises(ValueError, match="shuffle"):
        GridSearch(NB201, shuffle=False).load_state_dict(GridSearch(NB201).state_dict())


# -- Random ---------------------------------------------------------------------------------
@pytest.mark.parametrize("depth", [1, 2])
def test_random_dedup_exhausts_chain_space_exactly(depth):
    space = ChainSpace(max_depth=depth)
    s = Random(space, seed=depth)
    keys = exhaust(s, space.size)
    assert len(keys) == len(set(keys)) == space.size
    assert set(keys) == {space.key(a) for a in space.enumerate()}
    with pytest.raises(StopIteration):  # and stays exhausted
        s.ask()
    assert s.exhausted and s.uses_decisions == has_decisions(space)


def test_random_dedup_exhausts_nb201_and_resumes_in_the_remainder():
    s = Random(NB201, seed=5)
    keys = drive(s, NB201.size - 100)  # past the switch to the enumerated remainder
    fresh = Random(NB201, seed=0)
    fresh.load_state_dict(copy.deepcopy(s.state_dict()))
    rest = exhaust(s, 100)
    assert exhaust(fresh, 100) == rest
    assert len(rest) == 100 and len(set(keys + rest)) == NB201.size
    # architectures told (not asked) while drawing from the remainder are never asked
    t = Random(NB201, seed=6)
    seen = set(drive(t, NB201.size - 100))
    told = [a for a in NB201.enumerate() if NB201.key(a) not in seen][:5]
    for a in told:
        t.tell(a, 0.5)
    rest = exhaust(t, 95)
    assert len(rest) == 95 and not set(rest) & {NB201.key(a) for a in told}


def test_random_toy_space_with_invalid_vectors_exhausts_the_valid_ones():
    space = ToySpace()
    keys = exhaust(Random(space, seed=0), space.size)
    assert sorted(keys) == sorted(space.key(a) for a in space.enumerate())
    assert space.refused > 0


def test_random_on_an_infinite_space_stops_when_out_of_patience():
    space = ToySpace(finite=False)
    keys = exhaust(Random(space, seed=0), 16)
    assert len(keys) == len(set(keys)) == 16


def test_random_without_dedup_repeats_and_never_stops():
    space = ChainSpace(max_depth=1)
    s = Random(space, seed=0, dedup=False)
    keys = drive(s, 200)
    assert len(set(keys)) < len(keys) and len(set(keys)) == space.size


def test_random_draws_decisions_uniformly_not_the_space_sampler():
    s = Random(NB201, seed=7, dedup=False)
    assert s.uses_decisions
    expected = NB201.from_decisions(draw_values(NB201.decisions(), np.random.default_rng(7)))
    assert s.ask() == expected
    # a space without decisions: falls back to the space's own sampler
    toy = ToySpace(with_decisions=False)
    t = Random(toy, seed=7, dedup=False)
    assert not t.uses_decisions
    rng = np.random.default_rng(7)
    assert [t.ask() for _ in range(10)] == [toy.sample(rng) for _ in range(10)]
    assert toy.from_decisions_calls == 0


def test_random_dedup_skips_told_architectures():
    space = ChainSpace(max_depth=1)
    s = Random(space, seed=0)
    told = space.enumerate()[:15]
    for a in told:
        s.tell(a, 0.5)
    keys = exhaust(s, space.size)
    assert len(keys) == 6 and not set(keys) & {space.key(a) for a in told}


# -- GridSearch -----------------------------------------------------------------------------
@pytest.mark.parametrize("space", [NB201, ChainSpace(max_depth=2), ToySpace(duplicate_enumeration=True)],
                         ids=["nb201", "mlp2", "toy-duplicates"])
def test_grid_search_visits_every_key_once_then_stops(space):
    enum_keys = list(dict.fromkeys(space.key(a) for a in space.enumerate()))
    g = GridSearch(space, seed=0)
    keys = exhaust(g, len(enum_keys))
    assert len(keys) == len(set(keys)) == len(enum_keys) == len(g)
    assert set(keys) == set(enum_keys)
    assert keys != enum_keys, "shuffled, yet in enumeration order"
    unshuffled = exhaust(GridSearch(space, seed=3, shuffle=False), len(enum_keys))
    assert unshuffled == enum_keys


def test_grid_search_order_is_seeded():
    space = ChainSpace(max_depth=2)
    a = exhaust(GridSearch(space, seed=0), space.size)
    assert a == exhaust(GridSearch(space, seed=0), space.size)
    assert a != exhaust(GridSearch(space, seed=1), space.size)


def test_grid_search_state_is_small_and_resumes():
    g = GridSearch(NB201, seed=4)
    first = drive(g, 100)
    state = copy.deepcopy(g.state_dict())
    assert state["position"] == 100
    assert not any(isinstance(v, (list, tuple, np.ndarray)) and len(v) > 10 for v in state.values())
    fresh = GridSearch(NB201, seed=99)
    fresh.load_state_dict(state)
    rest = exhaust(fresh, NB201.size)
    assert rest == exhaust(g, NB201.size)
    assert len(set(first + rest)) == NB201.size


@pytest.mark.parametrize("space, name", [(ToySpace(finite=False), "toy"), (ChainSpace(max_depth=6), "mlp")],
                         ids=["size-none", "too-large-to-enumerate"])
def test_grid_search_refuses_infinite_or_unenumerable_spaces(space, name):
    with pytest.raises(ValueError, match="grid search needs a finite, enumerable space") as e:
        GridSearch(space)
    assert repr(name) in str(e.value)


def test_grid_search_refuses_the_darts_space():
    from nasbench_lab.spaces.darts import DartsSpace

    with pytest.raises(ValueError, match="grid search needs a finite, enumerable space"):
        GridSearch(DartsSpace())


def test_grid_search_ends_an_experiment_with_no_more_trial(tmp_path, monkeypatch):
    from nasbench_lab.experiment import Experiment, ExperimentConfig

    monkeypatch.setenv("NASBENCH_LAB_EXPERIMENTS", str(tmp_path / "registry"))
    space = ChainSpace(max_depth=1)
    exp = Experiment(ExperimentConfig(benchmark="moons", space=space, strategy=GridSearch(space, seed=0),
                                      max_trial_number=100, seed=0))
    assert exp.run() is True
    assert exp.get_status() == "NO_MORE_TRIAL", exp.get_experiment_profile().get("error")
    frame = exp.trials()
    assert len(frame) == space.size and frame["key"].nunique() == space.size


# -- RegularizedEvolution ---------------------------------------------------------------------
def test_re_hand_simulated_small_run():
    """Population of 3, tournaments of 2: the first 3 asks are random; then each parent is
    the best told member of its tournament, the population is the last 3 told (oldest
    dropped) and never larger."""
    s = RegularizedEvolution(NB201, seed=3, population_size=3, sample_size=2, mutation_prob=0.3)
    expected = collections.deque()
    for step in range(40):
        pop_keys = [NB201.key(a) for a, _ in expected]
        rewards = {NB201.key(a): r for a, r in expected}
        child = s.ask()
        if step < 3:
            assert s.last_tournament is None, "the first population_size asks are random"
        else:
            sampled, parent = s.last_tournament
            assert len(sampled) == len(set(sampled)) == 2 and set(sampled) <= set(pop_keys)
            valid = [k for k in sampled if not math.isnan(rewards[k])]
            if valid:
                assert parent == max(valid, key=lambda k: rewards[k])
                parent_arch = NB201.from_key(parent)
                assert hamming(NB201, child, parent_arch) >= 1
            else:
                assert parent is None
        r = hashed_reward(NB201, child)
        s.tell(child, r)
        expected.append((child, r))
        if len(expected) > 3:
            expected.popleft()
        assert len(s.population) <= 3
        assert [NB201.key(a) for a, _ in s.population] == [NB201.key(a) for a, _ in expected]
        got = [r for _, r in s.population]
        want = [r for _, r in expected]
        assert all((g == w) or (math.isnan(g) and math.isnan(w)) for g, w in zip(got, want))


@pytest.mark.parametrize("mutation_prob", [0.0, 0.05, 0.5, 1.0])
def test_re_child_differs_from_its_parent(mutation_prob):
    s = RegularizedEvolution(NB201, seed=0, population_size=8, sample_size=3, mutation_prob=mutation_prob)
    drive(s, 8)
    distances = []
    for _ in range(60):
        child = s.ask()
        parent = NB201.from_key(s.last_tournament[1])
        distances.append(hamming(NB201, child, parent))
        s.tell(child, hashed_reward(NB201, child))
    assert min(distances) >= 1
    if mutation_prob == 0.0:  # only the forced change
        assert set(distances) == {1}
    if mutation_prob == 1.0:  # every decision resampled: about 4.8 of 6 change
        assert np.mean(distances) > 3.5


def _targets():
    return ("nor_conv_3x3", "skip_connect", "nor_conv_3x3", "avg_pool_3x3", "nor_conv_1x1", "nor_conv_3x3")


def match_reward(space, arch):
    """Fraction of the 6 edges equal to the target cell."""
    return sum(a == b for a, b in zip(space.to_decisions(arch), _targets())) / 6


@pytest.mark.parametrize("mutation", ["decisions", "space"])
def test_re_seeded_with_one_very_good_arch_mutates_it(mutation):
    space = NB201
    s = RegularizedEvolution(space, seed=0, population_size=6, sample_size=6, mutation=mutation)
    rng = np.random.default_rng(11)
    for _ in range(5):  # 5 poor members first, the very good one last (youngest)
        s.tell(space.sample(rng), 0.0)
    good = space.from_decisions(_targets())
    s.tell(good, 0.99)
    for _ in range(5):  # the good arch survives 5 more tells; every tournament picks it
        child = s.ask()
        assert s.last_tournament[1] == space.key(good)
        d = hamming(space, child, good)
        assert 1 <= d <= 2, f"the child differs from the good arch in {d} decisions"
        if mutation == "space":
            assert child in space.neighbours(good)
        s.tell(child, 0.0)


def test_re_failed_trials_never_win():
    space = NB201
    s = RegularizedEvolution(space, seed=0, population_size=3, sample_size=3, mutation_prob=0.0)
    a = space.from_decisions(["none"] * 6)
    b = space.from_decisions(["skip_connect"] * 6)
    c = space.from_decisions(["nor_conv_3x3"] * 6)
    s.tell(a, float("nan"))
    s.tell(b, 0.1)
    s.tell(c, float("nan"))
    for _ in range(10):
        child = s.ask()
        assert s.last_tournament[1] == space.key(b)
        assert hamming(space, child, b) == 1
    # all members failed: no winner, a random ask
    t = RegularizedEvolution(space, seed=0, population_size=2, sample_size=2)
    t.tell(a, float("nan"))
    t.tell(b, float("nan"))
    child = t.ask()
    assert t.last_tournament is not None and t.last_tournament[1] is None
    assert space.is_valid(child)


def test_re_pending_asks_and_told_only_tournaments():
    space = NB201
    s = RegularizedEvolution(space, seed=2, population_size=4, sample_size=4, mutation_prob=0.0)
    first = [s.ask() for _ in range(4)]
    assert s.pending == 4 and len(s.population) == 0
    extra = s.ask()  # population still empty: a random ask, not a crash
    assert s.last_tournament is None and s.pending == 5
    s.tell(first[2], 0.7)
    s.tell(first[0], 0.3)
    child = s.ask()
    sampled, parent = s.last_tournament
    assert sorted(sampled) == sorted([space.key(first[2]), space.key(first[0])])
    assert parent == space.key(first[2]) and hamming(space, child, first[2]) == 1
    for arch in (first[1], first[3], extra, child):
        s.tell(arch, 0.1)
    assert s.pending == 0 and len(s.population) == 4
    # told order, oldest (first[2], first[0]) dropped
    assert [space.key(a) for a, _ in s.population] == [space.key(x) for x in (first[1], first[3], extra, child)]
    keys = drive(s, 30, batch=4)
    assert len(set(keys)) == len(keys), "dedup: a pending or told architecture was asked again"


def test_re_beats_random_on_a_target_matching_benchmark():
    """Reward = decisions equal to a target: RE climbs, Random does not (same budget)."""
    budget, seeds = 150, range(4)
    re_best, rs_best = [], []
    for seed in seeds:
        re = RegularizedEvolution(NB201, seed=seed, population_size=20, sample_size=5)
        drive(re, budget, reward=match_reward)
        re_best.append(re.best[1])
        rs = Random(NB201, seed=seed)
        drive(rs, budget, reward=match_reward)
        rs_best.append(rs.best[1])
    assert np.mean(re_best) > np.mean(rs_best) + 0.1, (re_best, rs_best)
    assert min(re_best) >= 5 / 6


def test_re_without_decisions_uses_the_space_mutate():
    space = ToySpace(with_decisions=False)
    s = RegularizedEvolution(space, seed=0, population_size=4, sample_size=4)
    assert not s.uses_decisions
    drive(s, 4)
    for _ in range(6):
        members = {space.key(a): a for a, _ in s.population}
        child = s.ask()
        parent = s.last_tournament[1]
        if parent is not None:
            assert child in space.neighbours(members[parent])
        s.tell(child, hashed_reward(space, child))
    assert space.from_decisions_calls == 0


def test_re_refuses_bad_hyperparameters():
    for kw, match in [({"population_size": 0}, "population_size"), ({"sample_size": 200}, "sample_size"),
                      ({"mutation_prob": 1.5}, "mutation_prob"), ({"mutation": "crossover"}, "mutation")]:
        with pytest.raises(ValueError, match=match):
            RegularizedEvolution(NB201, **kw)


@pytest.mark.parametrize("space_name", ["nb101", "darts"])
def test_other_spaces_when_they_have_decisions(space_name):
    """Where the NB101 / DARTS decision encodings exist, Random and RE ask valid archs."""
    from nasbench_lab.spaces import darts, nb101

    space = nb101.NB101Space() if space_name == "nb101" else darts.DartsSpace()
    if not has_decisions(space):
        pytest.skip(f"the {space_name} space has no decisions() yet")
    for s in (Random(space, seed=0), RegularizedEvolution(space, seed=0, population_size=5, sample_size=2)):
        assert s.uses_decisions
        keys = drive(s, 12)
        assert len(set(keys)) == len(keys)


def test_the_runner_ends_a_search_when_the_space_is_exhausted():
    """Grid search over ChainSpace(1) (21 chains) with a budget of 50: the runner's frame
    holds the 21 trials, every chain once, and the best is the table's best."""
    from conftest import chain_benchmark
    from nasbench_lab import experiment
    from nasbench_lab.spaces.mlp import ChainSpace

    bench, space = chain_benchmark(1), ChainSpace(max_depth=1)  # the depth-3 table answers depth-1 chains
    frame = experiment.run("grid_search", bench, 50, seed=0, space=space)
    keys = [space.key(a) for a in space.enumerate()]
    assert len(frame) == len(keys) == 21 and sorted(frame["key"]) == sorted(keys)
    assert frame["best_validation"].iloc[-1] == max(bench.query(a).validation_accuracy for a in space.enumerate())

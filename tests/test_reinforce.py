"""The HalfMoons REINFORCE system: controller, determinism, resume, learning.

Search runs go through the one runner, ``experiment.run``, whose query frame
(``schema.QUERY_COLUMNS``) every strategy writes."""
from __future__ import annotations

import copy
import math

import numpy as np
import pytest

from nasbench_lab import benchmarks, strategies
from nasbench_lab.benchmarks.moons import MoonsConfig, MoonsTrainer
from nasbench_lab.spaces.mlp import Chain, ChainSpace
from nasbench_lab.experiment import run
from nasbench_lab.schema import QUERY_COLUMNS
from nasbench_lab.strategies.reinforce import Reinforce, ReinforceConfig


@pytest.fixture(scope="module")
def bench():
    return benchmarks.load("moons")


def keys_of(frame):
    return frame.key.tolist()


def test_registry_and_contract():
    cls = strategies.get("reinforce")
    assert cls is Reinforce
    agent = cls(ChainSpace(max_depth=6), seed=0)
    chain = agent.ask()
    assert isinstance(chain, Chain) and ChainSpace(6).is_valid(chain)
    agent.tell(chain, 0.8)
    assert agent.trials == 1 and agent.best == (chain, 0.8)
    with pytest.raises(TypeError, match="MLP chains or a fixed sequence of categorical decisions"):
        Reinforce(object(), seed=0)
    from nasbench_lab.spaces.nb201 import NB201Space

    class Opaque(NB201Space):  # cells without a decision encoding
        name = "opaque"

        def decisions(self):
            raise NotImplementedError

    with pytest.raises(TypeError, match="'opaque' space is neither"):
        Reinforce(Opaque(), seed=0)


def _is_nb101_cell(matrix, ops) -> bool:
    """An independent check of a pruned NAS-Bench-101 cell (networkx, not the space's own
    validation): a DAG on at most 7 vertices and 9 edges, upper triangular, input first and
    output last, every vertex on an input -> output path."""
    import networkx as nx

    m = np.asarray(matrix)
    n = len(m)
    if not (2 <= n <= 7 and m.shape == (n, n) and len(ops) == n and ops[0] == "input" and ops[-1] == "output"):
        return False
    if np.tril(m).any() or m.sum() > 9:
        return False
    g = nx.from_numpy_array(m, create_using=nx.DiGraph)
    on_path = nx.descendants(g, 0) | {0}
    return on_path >= set(range(n)) and all(n - 1 in nx.descendants(g, v) for v in range(n - 1))


def test_invalid_decision_vectors_are_drawn_again_nb101():
    """About a quarter of NB101 decision vectors are invalid graphs: ask() draws again and
    only ever returns valid cells, and what it returns is exactly the first valid draw of
    the controller (a twin decodes raw draws and skips the invalid ones itself)."""
    from nasbench_lab.spaces.base import InvalidArchitecture
    from nasbench_lab.spaces.nb101 import NB101Space

    space = NB101Space()
    agent, twin = Reinforce(space, seed=2), Reinforce(space, seed=2)
    cells = [agent.ask() for _ in range(40)]
    assert all(_is_nb101_cell(c.matrix, c.ops) for c in cells)
    skipped, expected = 0, []
    while len(expected) < 40:  # the raw controller, the retry done by hand
        try:
            expected.append(twin._decode(greedy=False))
        except InvalidArchitecture:
            skipped += 1
    assert skipped > 0, "no invalid draw among these: the retry was not exercised"
    assert [space.key(c) for c in cells] == [space.key(c) for c in expected]
    # the checker itself refuses what is not a cell
    assert not _is_nb101_cell([[0, 1, 0], [0, 0, 0], [0, 0, 0]], ["input", "conv3x3-bn-relu", "output"])
    assert not _is_nb101_cell([[0, 1], [1, 0]], ["input", "output"])


def test_controller_over_categorical_decisions_nb201():
    """Over NAS-Bench-201's six edge decisions: every sample is a valid cell, tokens
    round-trip, and pi over all 15,625 cells is a proper distribution."""
    import numpy as np

    from nasbench_lab.spaces.nb201 import OPS, NB201Space

    space = NB201Space()
    agent = Reinforce(space, seed=1)
    cells = [agent.ask() for _ in range(50)]
    assert all(space.is_valid(c) for c in cells) and len({c.key for c in cells}) > 40
    rng = np.random.default_rng(0)
    for c in (space.sample(rng) for _ in range(20)):
        assert agent.program.arch(agent.program.tokens(c)) == c
    assert agent.program.vocab == 6 * len(OPS) and agent.program.length == 6
    logp, ent = agent.log_prob(list(space.enumerate()))
    assert math.isclose(float(logp.detach().exp().sum()), 1.0, rel_tol=1e-4)
    # each decision may only take its own values: no probability leaks to another edge's range
    assert float(ent.max()) <= 6 * math.log(len(OPS)) + 1e-4
    agent.tell(cells[0], 0.9)
    state = agent.state_dict()
    again = Reinforce(space, seed=7)
    again.load_state_dict(state)
    assert again.ask() == agent.ask()


def test_controller_distribution_sums_to_one():
    """log pi over every chain of a depth-2 space is a proper distribution (masking, stop)."""
    agent = Reinforce(ChainSpace(max_depth=2), seed=3)
    logp, ent = agent.log_prob(ChainSpace(max_depth=2).enumerate())
    assert math.isclose(float(logp.detach().exp().sum()), 1.0, rel_tol=1e-4)
    assert (ent > 0).all()


def test_samples_reach_every_depth_up_to_six():
    agent = Reinforce(ChainSpace(max_depth=6), seed=1)
    depths = np.bincount([agent.ask().depth for _ in range(400)], minlength=7)
    assert (depths > 0).all() and len(depths) == 7


def test_same_seed_same_trace(bench):
    a = run(Reinforce(bench.space, seed=5, batch_size=4), bench, 60)
    b = run(Reinforce(bench.space, seed=5, batch_size=4), bench, 60)
    c = run(Reinforce(bench.space, seed=6, batch_size=4), bench, 60)
    assert keys_of(a) == keys_of(b)
    assert keys_of(a) != keys_of(c)
    assert list(a.columns) == list(QUERY_COLUMNS)
    assert (a.best_validation.diff().dropna() >= 0).all()
    assert a["query"].tolist() == list(range(1, 61))
    assert (a.agent == "reinforce").all() and (a.benchmark == "moons").all()
    # each row is the rollout asked at that query: its key and the table's accuracies
    rows = bench.rows(a.key.tolist())
    np.testing.assert_array_equal(a.validation, np.asarray(bench.validation)[rows])
    np.testing.assert_array_equal(a.test, np.asarray(bench.test)[rows])


def test_state_dict_round_trip_resumes_identically(bench):
    agent = Reinforce(bench.space, seed=2, batch_size=8)
    run(agent, bench, 37)  # stops mid-batch: the buffer is part of the state
    state = copy.deepcopy(agent.state_dict())
    cont = run(agent, bench, 40)
    resumed = Reinforce(bench.space, seed=99, batch_size=8)
    resumed.load_state_dict(state)
    assert keys_of(run(resumed, bench, 40)) == keys_of(cont)
    assert resumed.updates == agent.updates and resumed.baseline == agent.baseline
    with pytest.raises(ValueError, match="config"):
        Reinforce(bench.space, seed=2, batch_size=4).load_state_dict(state)


def test_learns_on_nas_bench_moons(bench):
    """A small budget: the last rollouts are clearly better than the first ones."""
    frame = run(Reinforce(bench.space, seed=0), bench, 600)
    first, last = frame.validation.iloc[:100].mean(), frame.validation.iloc[-100:].mean()
    assert last > first + 0.03, (first, last)
    assert frame.best_validation.iloc[-1] > 0.96


def test_runs_live_against_the_trainer(tmp_data):
    trainer = MoonsTrainer(config=MoonsConfig(steps=20), seeds=(0,))
    agent = Reinforce(trainer, seed=0, batch_size=2)
    frame = run(agent, trainer, 4)
    assert len(frame) == 4 and trainer.queries == 4 and agent.updates == 2
    assert frame.validation.between(0, 1).all() and frame.test.between(0, 1).all()
    assert ChainSpace(6).is_valid(agent.most_probable())


def test_config_overrides():
    agent = Reinforce(ChainSpace(3), seed=0, config=ReinforceConfig(hidden_size=16), lr=0.5)
    assert agent.config.hidden_size == 16 and agent.config.lr == 0.5
    with pytest.raises(TypeError):
        Reinforce(ChainSpace(3), seed=0, not_a_field=1)

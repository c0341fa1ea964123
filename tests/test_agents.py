"""The baseline agents of paper §3.2.3 on the real NAS-Bench-201 table."""
from __future__ import annotations

import numpy as np
import pytest

from nasbench_lab import strategies
from nasbench_lab.env import IncrementalEnv
from nasbench_lab.env.vector import VectorIncrementalEnv
from nasbench_lab.strategies.local_search import LocalSearch
from nasbench_lab.strategies.random_search import RandomSearch
from nasbench_lab.strategies.random_walk import RandomWalk


def play(env, agent, arch):
    obs, info = env.reset(options={"arch": arch})
    trace = [(info, None)]
    while True:
        a = agent.act(obs, info)
        obs, _, te, tr, info = env.step(a)
        trace.append((info, a))
        if te or tr:
            return trace


def test_registry_names_resolve():
    assert strategies.get("random_search") is RandomSearch
    assert strategies.get("random_walk") is RandomWalk
    assert strategies.get("local_search") is LocalSearch


def test_local_search_never_ends_below_start(nb201):
    space = nb201.space
    env = IncrementalEnv(space, nb201, n_neighbours=50, max_steps=32, seed=0, reveal_validation=True)
    agent = LocalSearch(space, seed=0)
    rng = np.random.default_rng(3)
    improved = 0
    for _ in range(60):
        trace = play(env, agent, space.sample(rng))
        vals = [info["validation"] for info, _ in trace]
        assert vals[-1] >= vals[0]
        assert all(b > a for a, b in zip(vals, vals[1:-1]))  # every move strictly improves
        improved += vals[-1] > vals[0]
        last = trace[-1][0]
        if trace[-1][1] == 0:  # stopped: no shown neighbour is better
            nb_vals = nb201.query_batch(last["neighbours"]).validation_accuracy
            assert np.max(nb_vals) <= last["validation"]
    assert improved > 40


def test_local_search_moves_to_best_neighbour(nb201):
    space = nb201.space
    env = IncrementalEnv(space, nb201, n_neighbours=50, seed=0, reveal_validation=True)
    agent = LocalSearch(space, seed=0)
    obs, info = env.reset(seed=21)
    a = agent.act(obs, info)
    vals = nb201.query_batch(info["neighbours"]).validation_accuracy
    if a:
        assert a == int(np.argmax(vals)) + 1 and vals[a - 1] > info["validation"]
    else:
        assert vals.max() <= info["validation"]


def test_local_search_sees_accuracies_only_through_the_env(nb201):
    space = nb201.space
    agent = LocalSearch(space, seed=0)
    assert not hasattr(agent, "benchmark")
    obs, info = IncrementalEnv(space, nb201, n_neighbours=50, seed=0).reset(seed=21)
    with pytest.raises(ValueError, match="reveal_validation=True"):
        agent.act(obs, info)
    # the accuracies it is shown decide its move, whatever the benchmark holds
    n = len(info["neighbours"])
    shown = {**info, "validation": 0.5, "neighbour_validation": np.r_[np.full(n - 1, 0.4), 0.6]}
    assert agent.act(obs, shown) == n
    assert agent.act(obs, {**shown, "neighbour_validation": np.full(n, 0.5)}) == 0  # ties never move


def test_local_search_single_and_vectorised_agree(nb201):
    space = nb201.space
    rng = np.random.default_rng(0)
    starts = np.array([nb201.row_of(space.key(space.sample(rng))) for _ in range(40)])
    venv = VectorIncrementalEnv.from_benchmark(nb201, n_envs=40, n_neighbours=10, max_steps=32, seed=2)
    obs, _ = venv.reset(rows=starts)
    agent = LocalSearch(space, seed=0)
    while not np.asarray(venv.done).all():
        obs, *_ = venv.step(agent.act_batch(obs, venv))
    env = IncrementalEnv(space, nb201, n_neighbours=10, max_steps=32, seed=2, reveal_validation=True)
    finals = [play(env, agent, nb201.arch(int(r)))[-1][0]["key"] for r in starts]
    assert finals == nb201.keys[np.asarray(venv.rows)].tolist()


def test_random_walk_final_state_is_the_neighbour_it_chose(nb201):
    space = nb201.space
    env = IncrementalEnv(space, nb201, n_neighbours=50, max_steps=16, seed=0)
    agent = RandomWalk(space, seed=4)
    rng = np.random.default_rng(1)
    lengths = []
    for _ in range(40):
        trace = play(env, agent, space.sample(rng))
        for (prev, _), (info, a) in zip(trace, trace[1:]):
            assert 0 <= a <= len(prev["neighbours"])
            expect = prev["arch"] if a == 0 else prev["neighbours"][a - 1]
            assert info["arch"] == expect
        moves = [(prev, a) for (prev, _), (_, a) in zip(trace, trace[1:]) if a]
        if moves:
            prev, a = moves[-1]
            assert trace[-1][0]["arch"] == prev["neighbours"][a - 1]
        lengths.append(len(trace) - 1)
    # uniform among 24 neighbours + terminate: P(stop) = 1/25 per step
    assert 8 < np.mean(lengths) < 16


def test_random_walk_is_uniform_over_allowed_actions():
    agent = RandomWalk(None, seed=0)
    mask = np.zeros(51, bool)
    mask[:6] = True
    counts = np.bincount([agent.act(None, {"action_mask": mask}) for _ in range(6000)], minlength=51)
    assert counts[6:].sum() == 0
    assert np.allclose(counts[:6] / 6000, 1 / 6, atol=0.025)
    batch = agent.act_batch({"action_mask": np.tile(mask, (6000, 1))}, None)
    assert batch.max() <= 5 and np.allclose(np.bincount(batch) / 6000, 1 / 6, atol=0.025)


@pytest.mark.parametrize("cls", [RandomWalk, LocalSearch, RandomSearch])
def test_seeded_and_state_dict_roundtrip(nb201, cls):
    space = nb201.space
    env = IncrementalEnv(space, nb201, n_neighbours=50, max_steps=16, seed=0, reveal_validation=True)

    def actions(agent, n=30):
        obs, info = env.reset(seed=5)
        out = []
        for _ in range(n):
            a = agent.act(obs, info) if cls is not RandomSearch else space.key(agent.ask())
            out.append(a)
            if cls is not RandomSearch:
                obs, _, te, tr, info = env.step(a)
                if te or tr:
                    obs, info = env.reset(seed=len(out))
        return out

    a, b = cls(space, seed=3), cls(space, seed=3)
    assert actions(a) == actions(b)
    state = a.state_dict()
    first = actions(a)
    c = cls(space, seed=99)
    c.load_state_dict(state)
    assert actions(c) == first


def test_begin_set_gives_independent_streams():
    a = RandomWalk(None, seed=0)
    mask = np.ones(51, bool)
    a.begin_set(0)
    s0 = [a.act(None, {"action_mask": mask}) for _ in range(20)]
    a.begin_set(1)
    s1 = [a.act(None, {"action_mask": mask}) for _ in range(20)]
    a.begin_set(0)
    assert s0 == [a.act(None, {"action_mask": mask}) for _ in range(20)] and s0 != s1


def test_random_search_samples_the_space(nb201):
    rs = RandomSearch(nb201.space, seed=0)
    assert rs.space is nb201.space and not rs.incremental
    keys = [nb201.space.key(a) for a in rs.sample(500)]
    assert len(set(keys)) > 480  # 15,625 cells: few repeats
    rs.tell(nb201.arch(0), nb201.query_index(0))
    rs.tell(nb201.arch(1), 0.0)
    assert rs.best[0] == nb201.arch(0)
    with pytest.raises(ValueError, match="search space"):
        RandomSearch(object(), seed=0)

"""The incremental environment: gymnasium API, invariants, tables, vectorised agreement.

Most tests run on the real NAS-Bench-201 table (../shared/data); a synthetic table over the
MLP chain space (seeded numbers) covers a second space with irregular neighbour counts.
"""
from __future__ import annotations

import numpy as np
import pytest

from conftest import chain_benchmark
from nasbench_lab.env import IncrementalEnv, shape_accuracy, shown_positions
from nasbench_lab.env.neighbours import (NeighbourTable, NeighbourTableError, build_table, keys_fingerprint,
                                     neighbour_table)
from nasbench_lab.env.vector import VectorIncrementalEnv, shown_table

@pytest.fixture(scope="module")
def chain_bench():
    """A synthetic tabular benchmark over ChainSpace(3) (8,421 chains; seeded accuracies)."""
    return chain_benchmark(7)


def random_episode(env, rng, start=None, max_len=100):
    obs, info = env.reset(options={"arch": start} if start is not None else None)
    infos, rewards, actions = [info], [], []
    for _ in range(max_len):
        valid = np.flatnonzero(info["action_mask"])
        a = int(valid[rng.integers(len(valid))])
        obs, r, te, tr, info = env.step(a)
        actions.append(a), rewards.append(r), infos.append(info)
        if te or tr:
            return infos, rewards, actions, te, tr
    raise AssertionError("episode did not end")


# -- gymnasium API --------------------------------------------------------------------
def test_check_env_passes(nb201):
    from gymnasium.utils.env_checker import check_env

    env = IncrementalEnv(nb201.space, nb201, n_neighbours=50, alpha=6.0, max_steps=16, seed=0)
    check_env(env, skip_render_check=True)
    obs, info = env.reset(seed=3)
    assert obs["observation"].shape == (51, nb201.space.encoding_size)
    assert obs["observation"].dtype == np.float32
    for k in ("arch", "neighbours", "action_mask"):
        assert k in info


def test_check_env_passes_on_chain_space(chain_bench):
    from gymnasium.utils.env_checker import check_env

    check_env(IncrementalEnv(chain_bench.space, chain_bench, n_neighbours=25, seed=1), skip_render_check=True)


def test_observation_encodes_current_then_neighbours(nb201):
    space = nb201.space
    env = IncrementalEnv(space, nb201, n_neighbours=50)
    obs, info = env.reset(seed=11)
    x = obs["observation"]
    assert np.array_equal(x[0], space.encode(info["arch"]))
    for i, nb in enumerate(info["neighbours"]):
        assert np.array_equal(x[i + 1], space.encode(nb))
    assert not x[len(info["neighbours"]) + 1:].any()  # zero padding
    assert np.array_equal(obs["action_mask"].astype(bool), info["action_mask"])


# -- invariants -----------------------------------------------------------------------
@pytest.mark.parametrize("n", [10, 24, 50])
def test_mask_matches_neighbour_count(nb201, n):
    space = nb201.space
    env = IncrementalEnv(space, nb201, n_neighbours=n, max_steps=8, seed=4)
    rng = np.random.default_rng(0)
    for _ in range(5):
        infos, *_ = random_episode(env, rng)
        for info in infos:
            k = min(len(space.neighbours(info["arch"])), n)
            assert len(info["neighbours"]) == k
            assert info["action_mask"].sum() == k + 1
            assert info["action_mask"][: k + 1].all() and not info["action_mask"][k + 1:].any()
            keys = {space.key(a) for a in space.neighbours(info["arch"])}
            assert {space.key(a) for a in info["neighbours"]} <= keys


def test_mask_matches_irregular_counts(chain_bench):
    space = chain_bench.space
    env = IncrementalEnv(space, chain_bench, n_neighbours=30, max_steps=6, seed=2)
    rng = np.random.default_rng(1)
    counts = set()
    for _ in range(10):
        infos, *_ = random_episode(env, rng)
        for info in infos:
            k = len(space.neighbours(info["arch"]))
            counts.add(k)
            assert info["action_mask"].sum() == min(k, 30) + 1
    assert len(counts) > 1  # the chain space really has varying neighbour counts


@pytest.mark.parametrize("alpha", [6.0, 32.0, None])
def test_rewards_telescope(nb201, alpha):
    env = IncrementalEnv(nb201.space, nb201, n_neighbours=50, alpha=alpha, max_steps=16, seed=0)
    rng = np.random.default_rng(5)
    for _ in range(10):
        infos, rewards, *_ = random_episode(env, rng)
        v0 = nb201.query(infos[0]["arch"]).validation_accuracy
        v1 = nb201.query(infos[-1]["arch"]).validation_accuracy
        g = (lambda v: np.exp(alpha * v)) if alpha is not None else (lambda v: v)
        assert np.isclose(sum(rewards), g(v1) - g(v0), rtol=1e-9, atol=1e-9)
        for a, b, r in zip(infos, infos[1:], rewards):  # each step: shaped difference
            assert np.isclose(r, g(b["validation"]) - g(a["validation"]), rtol=1e-12, atol=1e-12)


def test_terminate_ends_episode_in_place(nb201):
    env = IncrementalEnv(nb201.space, nb201, seed=0)
    _, info0 = env.reset(seed=1)
    _, r, te, tr, info = env.step(0)
    assert te and not tr and r == 0.0
    assert info["terminated"] and not info["truncated"]
    assert info["arch"] == info0["arch"]
    with pytest.raises(RuntimeError, match="finished episode"):
        env.step(1)


def test_truncation_at_max_steps(nb201):
    env = IncrementalEnv(nb201.space, nb201, max_steps=3, seed=0)
    env.reset(seed=2)
    flags = [env.step(1)[2:4] for _ in range(3)]
    assert flags == [(False, False), (False, False), (False, True)]
    # terminating on the last allowed step is a termination, not a truncation
    env.reset(seed=2)
    env.step(1), env.step(1)
    _, _, te, tr, info = env.step(0)
    assert te and not tr and info["step"] == 3


def test_transitions_are_deterministic(nb201):
    env = IncrementalEnv(nb201.space, nb201, seed=0)
    _, info = env.reset(seed=9)
    for k in (3, 1, 17, 24):
        target = info["neighbours"][k - 1]
        _, _, _, _, info = env.step(k)
        assert info["arch"] == target


@pytest.mark.parametrize("n", [50, 10])
@pytest.mark.parametrize("which", ["nb201", "chain"])
def test_reveal_validation_shows_the_shown_neighbours_accuracies(nb201, chain_bench, which, n):
    """``info["neighbour_validation"]`` is the benchmark's validation accuracy of
    ``info["neighbours"]`` (what local search reads), present only with the flag, which
    changes nothing else the env shows."""
    bench = nb201 if which == "nb201" else chain_bench
    val = np.asarray(bench.validation, dtype=np.float64)
    env = IncrementalEnv(bench.space, bench, n_neighbours=n, max_steps=6, seed=3, reveal_validation=True)
    plain = IncrementalEnv(bench.space, bench, n_neighbours=n, max_steps=6, seed=3)
    rng = np.random.default_rng(4)
    for episode in range(3):
        _, info = env.reset(seed=episode)
        _, pinfo = plain.reset(seed=episode)
        while True:
            assert "neighbour_validation" not in pinfo
            shown = [bench.space.key(a) for a in info["neighbours"]]
            assert shown == [bench.space.key(a) for a in pinfo["neighbours"]] and info["key"] == pinfo["key"]
            nv = info["neighbour_validation"]
            assert nv.dtype == np.float64 and nv.shape == (len(shown),)
            np.testing.assert_array_equal(nv, val[bench.rows(shown)])
            a = int(rng.integers(0, len(shown) + 1)) if info["step"] else int(rng.integers(1, len(shown) + 1))
            _, r, te, tr, info = env.step(a)
            _, pr, pte, ptr, pinfo = plain.step(a)
            assert (r, te, tr) == (pr, pte, ptr)
            if te or tr:
                assert "neighbour_validation" in info and "neighbour_validation" not in pinfo
                break


def test_invalid_action(nb201):
    env = IncrementalEnv(nb201.space, nb201, n_neighbours=50, seed=0)
    _, info = env.reset(seed=0)
    _, r, te, tr, info2 = env.step(40)  # NB201 shows 24: action 40 is masked
    assert te and r == 0 and info2["invalid_action"] and info2["arch"] == info["arch"]
    strict = IncrementalEnv(nb201.space, nb201, n_neighbours=50, seed=0, invalid_action="raise")
    strict.reset(seed=0)
    with pytest.raises(ValueError, match="masked"):
        strict.step(40)
    with pytest.raises(ValueError, match="outside"):
        strict.step(51)


def test_bad_config_raises(nb201):
    with pytest.raises(ValueError, match="n_neighbours"):
        IncrementalEnv(nb201.space, nb201, n_neighbours=0)
    with pytest.raises(ValueError, match="max_steps"):
        IncrementalEnv(nb201.space, nb201, max_steps=0)
    with pytest.raises(ValueError, match="empty"):
        IncrementalEnv(nb201.space, nb201, initial_states=[])


def test_seeding_reproduces_trajectories(nb201):
    def trajectory(env_seed, reset_seed, agent_seed):
        env = IncrementalEnv(nb201.space, nb201, n_neighbours=10, max_steps=16, seed=env_seed)
        env.reset(seed=reset_seed)
        infos, rewards, actions, *_ = random_episode(env, np.random.default_rng(agent_seed),
                                                     start=env.arch)
        return [i["key"] for i in infos], rewards, actions, [[nb201.space.key(a) for a in i["neighbours"]]
                                                           for i in infos]

    a = trajectory(0, 5, 1)
    assert a == trajectory(0, 5, 1)
    assert a[0][0] != trajectory(0, 6, 1)[0][0]  # another reset seed, another start
    # another env seed shows other subsets of the 24 neighbours (N = 10)
    assert a[3][0] != trajectory(1, 5, 1)[3][0]


def test_initial_states_from_fixed_list(nb201):
    space = nb201.space
    fixed = [space.sample(np.random.default_rng(i)) for i in range(3)]
    env = IncrementalEnv(space, nb201, seed=0, initial_states=fixed)
    starts = {env.reset()[1]["key"] for _ in range(30)}
    assert starts == {space.key(a) for a in fixed}


def test_shown_positions_reproducible_and_uniform():
    a = shown_positions(100, 10, 0, "k")
    assert np.array_equal(a, shown_positions(100, 10, 0, "k"))
    assert len(np.unique(a)) == 10 and np.all(np.diff(a) > 0)
    assert not np.array_equal(a, shown_positions(100, 10, 1, "k"))
    assert np.array_equal(shown_positions(7, 10, 0, "k"), np.arange(7))
    hits = np.zeros(20)
    for i in range(2000):
        hits[shown_positions(20, 5, 0, f"key{i}")] += 1
    assert np.allclose(hits / 2000, 5 / 20, atol=0.05)


# -- neighbour tables -----------------------------------------------------------------
def test_nb201_table_follows_space_neighbour_order(nb201):
    space = nb201.space
    table = neighbour_table(space, nb201)
    assert table.n_rows == 15625 and np.all(table.counts == 24)
    for r in np.random.default_rng(0).integers(15625, size=50):
        expect = nb201.rows([space.key(a) for a in space.neighbours(nb201.arch(int(r)))])
        assert np.array_equal(table.neighbours(int(r)), expect)


def test_generic_table_matches_space(chain_bench):
    space = chain_bench.space
    table = neighbour_table(space, chain_bench)
    assert table.fingerprint == keys_fingerprint(chain_bench.keys)
    for r in np.random.default_rng(0).integers(table.n_rows, size=50):
        expect = chain_bench.rows([space.key(a) for a in space.neighbours(chain_bench.arch(int(r)))])
        assert np.array_equal(table.neighbours(int(r)), expect)


def test_table_follows_a_shuffled_benchmark_row_order(chain_bench):
    space = chain_bench.space
    keys = list(np.random.default_rng(1).permutation(chain_bench.keys))

    class Shuffled:  # the same rows in another order
        pass

    bench = Shuffled()
    bench.keys = keys
    table = neighbour_table(space, bench)
    expect = build_table(space, keys, lambda i: space.from_key(keys[i]))
    assert table.fingerprint == expect.fingerprint == keys_fingerprint(keys)
    assert np.array_equal(table.offsets, expect.offsets) and np.array_equal(table.targets, expect.targets)
    assert not np.array_equal(table.targets, neighbour_table(space, chain_bench).targets)
    with pytest.raises(NeighbourTableError, match="not a permutation"):
        space.neighbour_table(keys=keys[:-1] + keys[:1])


def test_table_roundtrip_and_errors(tmp_data, chain_bench):
    table = NeighbourTable.from_lists([[1, 2], [], [0]], "fp")
    assert table.counts.tolist() == [2, 0, 1]
    path = tmp_data / "cache" / "t.npz"
    table.save(path)
    back = NeighbourTable.load(path)
    assert np.array_equal(back.offsets, table.offsets) and np.array_equal(back.targets, table.targets)
    assert back.fingerprint == "fp"
    path.write_bytes(b"not a table")
    with pytest.raises(NeighbourTableError, match=r"t\.npz is not an \.npz archive.*rebuild it"):
        NeighbourTable.load(path)
    with pytest.raises(NeighbourTableError, match="out of range"):
        NeighbourTable(np.array([0, 1]), np.array([5], dtype=np.int32))
    with pytest.raises(NeighbourTableError, match="not a row"):  # a space neighbour missing from the rows
        space = chain_bench.space
        build_table(space, chain_bench.keys[:100], lambda i: chain_bench.arch(i))


def test_shown_table_trims_reproducibly(nb201):
    table = neighbour_table(nb201.space, nb201)
    s = shown_table(table, nb201.keys, 10, seed=3)
    assert s.shape == (15625, 10) and (s >= 0).all()
    env = IncrementalEnv(nb201.space, nb201, n_neighbours=10, seed=3)
    for r in (0, 17, 15624):
        shown = env.shown_neighbours(nb201.arch(r))
        assert s[r].tolist() == nb201.rows([nb201.space.key(a) for a in shown]).tolist()


# -- vectorised env -------------------------------------------------------------------
def _compare_single_vector(bench, n, alpha, max_steps, backend="numpy", b=48, seed=3):
    space = bench.space
    venv = VectorIncrementalEnv.from_benchmark(bench, n_envs=b, n_neighbours=n, alpha=alpha,
                                               max_steps=max_steps, seed=seed, backend=backend, device="cpu")
    rng = np.random.default_rng(0)
    start = rng.integers(len(bench.keys), size=b)
    obs, _ = venv.reset(rows=start)
    envs = [IncrementalEnv(space, bench, n_neighbours=n, alpha=alpha, max_steps=max_steps, seed=seed)
            for _ in range(b)]
    infos = [e.reset(options={"arch": bench.arch(int(r))})[1] for e, r in zip(envs, start)]
    done = np.zeros(b, bool)
    steps = 0
    while not done.all():
        rows = np.asarray(obs["rows"])
        mask = np.asarray(obs["action_mask"])
        for i in np.flatnonzero(~done):
            assert np.array_equal(mask[i], infos[i]["action_mask"])
            assert rows[i, 0] == bench.row_of(infos[i]["key"])
            k = len(infos[i]["neighbours"])
            assert rows[i, 1: k + 1].tolist() == bench.rows([space.key(a) for a in infos[i]["neighbours"]]).tolist()
        # actions: random valid, terminate rarely so that truncation happens too
        acts = np.array([0 if rng.random() < 0.08 else int(rng.integers(1, m.sum())) if m.sum() > 1 else 0
                         for m in mask])
        obs, rew, te, tr, info = venv.step(acts)
        rew, te, tr = np.asarray(rew), np.asarray(te), np.asarray(tr)
        for i in np.flatnonzero(~done):
            _, r, t1, t2, infos[i] = envs[i].step(int(acts[i]))
            assert np.isclose(rew[i], r, rtol=1e-12, atol=1e-12)
            assert (te[i], tr[i]) == (t1, t2)
            assert np.asarray(venv.rows)[i] == bench.row_of(infos[i]["key"])
            done[i] = t1 or t2
        assert not te[done & ~np.asarray(info["active"])].any()
        steps += 1
    assert steps <= max_steps
    return steps


@pytest.mark.parametrize("n,alpha", [(50, 6.0), (10, None), (5, 32.0)])
def test_vector_and_single_agree_step_for_step(nb201, n, alpha):
    _compare_single_vector(nb201, n, alpha, max_steps=12)


def test_vector_and_single_agree_on_irregular_space(chain_bench):
    _compare_single_vector(chain_bench, 30, 6.0, max_steps=10)


def test_torch_backend_agrees(nb201):
    pytest.importorskip("torch")
    _compare_single_vector(nb201, 10, 6.0, max_steps=8, backend="torch", b=16)


def test_vector_autoreset_and_done_envs(nb201):
    venv = VectorIncrementalEnv.from_benchmark(nb201, n_envs=8, max_steps=2, seed=0, autoreset=True)
    venv.reset(seed=1)
    before = np.asarray(venv.rows).copy()
    obs, r, te, tr, info = venv.step(np.array([0, 1, 1, 1, 0, 0, 2, 3]))
    assert te.tolist() == [True, False, False, False, True, True, False, False]
    assert np.array_equal(info["final_rows"][te], before[te])  # ended where they stood
    assert (np.asarray(venv.t)[te] == 0).all() and not np.asarray(venv.done).any()
    obs, r, te, tr, info = venv.step(np.ones(8, dtype=np.int64))
    assert tr[[1, 2, 3, 6, 7]].all()
    # without autoreset finished envs stay put and ignore actions
    venv = VectorIncrementalEnv.from_benchmark(nb201, n_envs=4, max_steps=5, seed=0)
    venv.reset(rows=np.array([0, 1, 2, 3]))
    venv.step(np.array([0, 1, 1, 1]))
    obs, r, te, tr, info = venv.step(np.array([5, 1, 1, 1]))
    assert np.asarray(venv.rows)[0] == 0 and r[0] == 0 and not te[0] and not info["active"][0]


def test_vector_rejects_bad_input(nb201):
    venv = VectorIncrementalEnv.from_benchmark(nb201, n_envs=4, seed=0)
    with pytest.raises(ValueError, match="shape"):
        venv.reset(rows=np.array([0, 1]))
    with pytest.raises(ValueError, match="lie in"):
        venv.reset(rows=np.array([0, 1, 2, 10**6]))
    venv.reset(rows=np.array([0, 1, 2, 3]))
    with pytest.raises(ValueError, match="actions"):
        venv.step(np.array([0, 1, 2, 99]))


def test_vector_encode_matches_space(nb201):
    venv = VectorIncrementalEnv.from_benchmark(nb201, n_envs=2, seed=0)
    obs, _ = venv.reset(rows=np.array([5, 9000]))
    enc = venv.encode(obs["rows"])
    assert enc.shape == (2, 51, nb201.space.encoding_size)
    assert np.array_equal(enc[1, 0], nb201.space.encode(nb201.arch(9000)))
    assert np.array_equal(enc[0, 3], nb201.space.encode(nb201.arch(int(obs["rows"][0, 3]))))
    assert not enc[0, 30].any()  # padding


def test_shape_accuracy():
    assert shape_accuracy(0.5, None) == 0.5
    assert np.isclose(shape_accuracy(0.5, 6.0), np.exp(3.0))


def test_throughput_frame(nb201):
    from nasbench_lab.speed.env import throughput

    frame = throughput({"nb201": nb201}, degrees=(1, 8), backends=("numpy",), steps=4, repeat=1,
                       reference_steps=5)
    assert set(frame.columns) == {"benchmark", "implementation", "backend", "device", "n_envs",
                                  "steps_per_second"}
    assert len(frame) == 3 and (frame.steps_per_second > 0).all()


# -- NAS-Bench-101 (the 423,624-cell table) --------------------------------------------
@pytest.fixture(scope="module")
def nb101_space():
    try:
        from nasbench_lab.spaces import get
        space = get("nb101")
    except ModuleNotFoundError as e:
        pytest.skip(f"spaces.nb101 not available: {e}")
    return space


@pytest.fixture(scope="module")
def nb101_keys(nb101_space):
    """Enumeration keys, read from the project's cache before a test redirects data/."""
    return nb101_space.enumerate().keys


@pytest.mark.slow
@pytest.mark.xdist_group("nb101_enum")
def test_nb101_table_rows_match_space_neighbours(nb101_space):
    """The parallel table builder (2 processes) on 600 random cells of the enumeration."""
    from nasbench_lab.env.neighbours import neighbour_lists_parallel

    space = nb101_space
    archs = space.enumerate()
    keys = archs.keys
    assert len(keys) == 423_624
    rows = np.random.default_rng(0).integers(len(keys), size=600)
    lists = neighbour_lists_parallel(space, keys, archs.__getitem__, rows=rows, workers=2,
                                     chunk=150, progress=False)
    row_of = {str(k): i for i, k in enumerate(keys)}
    for r, got in zip(rows, lists):
        expect = [row_of[space.key(a)] for a in space.neighbours(archs[int(r)])]
        assert got == expect
    counts = np.array([len(x) for x in lists])
    assert 15 < counts.mean() < 40 and counts.max() <= 113  # the space reports 0..113, mean ~27


@pytest.mark.slow
@pytest.mark.xdist_group("nb101_enum")
def test_nb101_table_is_loaded_from_its_cache(nb101_space, nb101_keys, tmp_data):
    from nasbench_lab.env.neighbours import neighbour_table

    keys = nb101_keys
    n = len(keys)
    # a stand-in table for the same row order (every cell -> its successor row)
    stand_in = NeighbourTable(np.arange(n + 1, dtype=np.int64), ((np.arange(n) + 1) % n).astype(np.int32),
                              keys_fingerprint(keys))
    stand_in.save(tmp_data / "cache" / nb101_space.neighbour_table_cache)

    class Rows:  # a benchmark with one row per cell, in enumeration order
        pass

    bench = Rows()
    bench.keys = keys
    got = neighbour_table(nb101_space, bench)  # must not rebuild (many minutes)
    assert np.array_equal(got.targets, stand_in.targets)


@pytest.mark.slow
@pytest.mark.xdist_group("nb101_enum")
def test_nb101_state_is_its_key_whatever_the_labelling(nb101_space):
    """A sampled cell and the enumeration's representative of its key show the same neighbours.

    ``space.neighbours`` works on the labelled graph (e.g. edges are added from lower to
    higher vertex index), so two labellings of one cell can list different neighbour sets;
    the env lists those of the space's representative of the key.
    """
    space = nb101_space

    class Flat:  # the env only needs the validation accuracy of visited cells here
        def query(self, arch):
            from nasbench_lab.benchmarks import Metrics
            return Metrics(validation_accuracy=0.9)

    env = IncrementalEnv(space, Flat(), n_neighbours=20, seed=0)
    rng = np.random.default_rng(0)
    differs = 0
    for _ in range(40):
        cell = space.sample(rng)
        rep = space.from_key(cell.key)
        raw = [space.key(a) for a in space.neighbours(cell)]
        canon = [space.key(a) for a in space.neighbours(rep)]
        differs += raw != canon  # another order, or even another set
        env._nbr.clear()
        shown = [space.key(a) for a in env.shown_neighbours(cell)]
        env._nbr.clear()
        assert shown == [space.key(a) for a in env.shown_neighbours(rep)]
    assert differs > 0


@pytest.mark.slow
@pytest.mark.xdist_group("nb101_enum")
def test_nb101_compiled_table_build_matches_space_neighbours(nb101_space, nb101_keys, tmp_path):
    """The whole 423,624-row table by the compiled batch path (2 processes, tens of seconds)."""
    from nasbench_lab.spaces.nb101 import build_neighbour_table

    space = nb101_space
    table = build_neighbour_table(workers=2, chunk=20_000, progress=False)
    assert table.n_rows == len(nb101_keys) == 423_624
    assert table.fingerprint == keys_fingerprint(nb101_keys)
    counts = table.counts
    assert counts.min() >= 1 and 25 < counts.mean() < 27 and counts.max() <= 113
    archs = space.enumerate()
    row_of = {str(k): i for i, k in enumerate(nb101_keys)}
    for r in np.random.default_rng(5).integers(len(nb101_keys), size=300).tolist():
        expect = [row_of[space.key(a)] for a in space.neighbours(archs[r])]
        assert table.neighbours(r).tolist() == expect
    table.save(tmp_path / "t.npz")
    again = NeighbourTable.load(tmp_path / "t.npz")
    assert np.array_equal(again.offsets, table.offsets) and np.array_equal(again.targets, table.targets)

"""The evaluation protocol: query counting (§4.1.2), best-so-far traces, frames, resume,
multi-trial strategies (one ask/query/tell per episode, a fresh strategy per search run)."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from conftest import chain_benchmark
from nasbench_lab.env import IncrementalEnv
from nasbench_lab.experiment.protocol import (ProtocolConfig, initial_state_sets, load_frame, load_results,
                                              query_frame, run_protocol, run_seed, save_frame)
from nasbench_lab.schema import EPISODE_COLUMNS, QUERY_COLUMNS
from nasbench_lab.strategies.local_search import LocalSearch
from nasbench_lab.strategies.random_search import RandomSearch

AGENTS = ["random_search", "random_walk", "local_search"]


@pytest.fixture(scope="module")
def small(nb201):
    cfg = ProtocolConfig(n_sets=2, set_size=150, budget=60, n_neighbours=10, seeds=(0, 1))
    return cfg, run_protocol(nb201, AGENTS, cfg, progress=False)


# -- query_frame on hand-made reports ---------------------------------------------------
def test_query_frame_one_query_per_episode():
    # 5 episodes, one report each; budget 2 -> runs {0,1}, {2,3}; episode 4 left over (dropped)
    c = query_frame([0, 1, 2, 3, 4], [1] * 5, [0.5, 0.7, 0.6, 0.4, 0.9], [0.1, 0.2, 0.3, 0.35, 0.9], 5, 2)
    assert c["run"].tolist() == [0, 0, 1, 1]
    assert c["query"].tolist() == [1, 2, 1, 2]
    assert c["validation"].tolist() == [0.5, 0.7, 0.6, 0.4]
    assert c["best_validation"].tolist() == [0.5, 0.7, 0.6, 0.6]
    assert c["best_test"].tolist() == [0.1, 0.2, 0.3, 0.3]  # test of the best-by-validation arch
    assert c["oracle_test"].tolist() == [0.1, 0.2, 0.3, 0.35]


def test_query_frame_local_search_steps_carry_forward():
    # episode 0: steps charging 3 and 2 queries; episode 1: 4 queries; budget 8
    c = query_frame([0, 0, 1], [3, 2, 4], [0.6, 0.8, 0.7], [0.5, 0.6, 0.9], 2, 8)
    nan = np.nan
    np.testing.assert_array_equal(c["best_validation"], [nan, nan, 0.6, 0.6, 0.8, 0.8, 0.8, 0.8])
    np.testing.assert_array_equal(c["validation"], [nan, nan, 0.6, nan, 0.8, nan, nan, nan])
    # the episode-1 report lands at query 9 > budget: dropped, the run still counts (reached 8)
    np.testing.assert_array_equal(c["oracle_test"][-1], 0.6)
    assert set(c["run"].tolist()) == {0}


def test_query_frame_ties_keep_first_and_zero_cost_reports():
    c = query_frame([0, 0, 1], [2, 0, 2], [0.5, 0.5, 0.5], [0.1, 0.9, 0.2], 2, 4)
    assert c["best_test"].tolist()[-1] == 0.1  # equal validation: the first stays best
    assert c["oracle_test"].tolist()[-1] == 0.9
    assert np.isnan(c["best_validation"][0]) and c["best_validation"][1] == 0.5


def test_query_frame_without_full_run_is_empty():
    c = query_frame([0, 1], [1, 1], [0.5, 0.6], [0.5, 0.6], 2, 10)
    assert len(c["run"]) == 0


# -- the protocol on NAS-Bench-201 --------------------------------------------------------
def test_frames_follow_the_schema(small):
    cfg, res = small
    assert list(res.episodes.columns) == list(EPISODE_COLUMNS)
    assert list(res.queries.columns) == list(QUERY_COLUMNS)
    e = res.episodes
    assert len(e) == len(AGENTS) * 2 * 2 * 150
    assert set(e.benchmark) == {"nb201"} and set(e.agent) == set(AGENTS)
    counts = e.groupby(["agent", "seed", "set"]).size()
    assert (counts == 150).all()
    # the same initial states for every agent and seed of a set, different across sets
    firsts = e[e.episode == 0].groupby("set").initial_key.nunique()
    assert (firsts == 1).all() and e[e.episode == 0].initial_key.nunique() == 2


def test_query_counts_follow_the_paper_rule(small, nb201):
    cfg, res = small
    e = res.episodes
    rs, rw, ls = (e[e.agent == a] for a in AGENTS)
    assert (rs.queries == 1).all() and (rs.steps == 0).all()
    assert (rw.queries == 1).all()
    assert (rw.steps >= 1).all() and (rw.steps <= cfg.max_steps).all()
    # local search: every shown neighbour at every step, replayed in the gymnasium env
    env = IncrementalEnv(nb201.space, nb201, n_neighbours=cfg.n_neighbours, max_steps=cfg.max_steps,
                         seed=cfg.env_seed, reveal_validation=True)
    agent = LocalSearch(nb201.space, seed=0)
    for row in ls[ls.seed == 0].head(25).itertuples():
        obs, info = env.reset(options={"arch": nb201.arch(nb201.row_of(row.initial_key))})
        charged, steps = 0, 0
        while True:
            charged += len(info["neighbours"])
            obs, _, te, tr, info = env.step(agent.act(obs, info))
            steps += 1
            if te or tr:
                break
        assert (row.queries, row.steps, row.final_key) == (charged, steps, info["key"])
        assert row.queries == row.steps * cfg.n_neighbours  # NB201: 24 > N = 10 shown each step


def test_local_search_never_ends_below_start_in_protocol(small):
    _, res = small
    ls = res.episodes[res.episodes.agent == "local_search"]
    assert (ls.final_validation >= ls.initial_validation).all()
    assert ls.terminated.mean() > 0.9


def test_query_traces(small):
    cfg, res = small
    q, e = res.queries, res.episodes
    for (agent, seed, set_), g in q.groupby(["agent", "seed", "set"]):
        eps = e[(e.agent == agent) & (e.seed == seed) & (e.set == set_)].sort_values("episode")
        n_runs = g.run.nunique()
        assert len(g) == n_runs * cfg.budget
        assert (g.groupby("run")["query"].apply(lambda s: s.tolist() == list(range(1, cfg.budget + 1)))).all()
        for _, run in g.groupby("run"):
            b = run.best_validation.dropna().to_numpy()
            assert np.all(np.diff(b) >= 0)
        if agent != "local_search":
            # one query per episode: run r = episodes r*B .. r*B+B-1
            assert n_runs == len(eps) // cfg.budget
            for r in range(n_runs):
                chunk = eps.iloc[r * cfg.budget:(r + 1) * cfg.budget]
                run = g[g.run == r]
                assert np.allclose(run.validation, chunk.final_validation)
                assert np.isclose(run.best_validation.iloc[-1], chunk.final_validation.max())
                assert np.isclose(run.oracle_test.iloc[-1], chunk.final_test.max())
        else:
            assert n_runs >= 1
            assert g.validation.isna().any()  # queries inside a step report nothing


# -- multi-trial strategies: one ask/query/tell per episode, a fresh strategy per run --------
def hand_ask_tell(make, bench, seed: int, set_index: int, n_episodes: int, budget: int):
    """The protocol's ask/tell path written out: the key, validation and test asked at every
    episode of a set, a fresh strategy ``make(run_seed(seed, set, run))`` every ``budget``
    episodes (the last, unfinished run included)."""
    keys, val, test = [], [], []
    for e in range(n_episodes):
        if e % budget == 0:
            strategy = make(run_seed(seed, set_index, e // budget))
        arch = strategy.ask()
        m = bench.query(arch)
        strategy.tell(arch, m)
        keys.append(bench.space.key(arch))
        val.append(float(m.validation_accuracy))
        test.append(float(m.test_accuracy))
    return keys, val, test


def hand_best(val, test) -> np.ndarray:
    """Best so far by hand: the first strictly best validation, its test, the best test."""
    bv = bt = ot = math.nan
    out = []
    for v, t in zip(val, test):
        if not math.isnan(v) and (math.isnan(bv) or v > bv):
            bv, bt = v, t
        if not math.isnan(t) and (math.isnan(ot) or t > ot):
            ot = t
        out.append((bv, bt, ot))
    return np.array(out)


def check_ask_tell_unit(res, bench, make, agent, seed, set_index, cfg):
    """Episodes and query runs of one (agent, seed, set) equal the hand-written loop."""
    keys, val, test = hand_ask_tell(make, bench, seed, set_index, cfg.set_size, cfg.budget)
    e, q = res.episodes, res.queries
    ep = e[(e.agent == agent) & (e.seed == seed) & (e.set == set_index)].sort_values("episode")
    assert ep.final_key.tolist() == keys  # the leftover episodes of the unfinished run too
    np.testing.assert_array_equal(ep.final_validation, val)
    np.testing.assert_array_equal(ep.final_test, test)
    assert (ep.queries == 1).all() and (ep.steps == 0).all()
    starts = initial_state_sets(bench.space, cfg.n_sets, cfg.set_size, seed=cfg.initial_seed)[set_index]
    assert ep.initial_key.tolist() == [bench.space.key(a) for a in starts]
    g = q[(q.agent == agent) & (q.seed == seed) & (q.set == set_index)]
    n_runs = cfg.set_size // cfg.budget
    assert sorted(g.run.unique()) == list(range(n_runs))
    for r in range(n_runs):
        run = g[g.run == r].sort_values("query")
        lo, hi = r * cfg.budget, (r + 1) * cfg.budget
        assert run["query"].tolist() == list(range(1, cfg.budget + 1))
        assert run.key.tolist() == keys[lo:hi]
        np.testing.assert_array_equal(run.validation, val[lo:hi])
        np.testing.assert_array_equal(run.test, test[lo:hi])
        np.testing.assert_array_equal(run[["best_validation", "best_test", "oracle_test"]].to_numpy(),
                                      hand_best(val[lo:hi], test[lo:hi]))
    return keys


def test_random_search_runs_are_a_hand_written_ask_tell_loop(small, nb201):
    cfg, res = small
    for seed in cfg.seeds:
        for i in range(cfg.n_sets):
            check_ask_tell_unit(res, nb201, lambda s: RandomSearch(nb201.space, seed=s), "random_search", seed, i, cfg)


@pytest.fixture(scope="module")
def chain():
    """A synthetic tabular benchmark over ChainSpace(3): the space REINFORCE writes."""
    return chain_benchmark(11)


def test_reinforce_runs_through_the_protocol_on_a_chain_space(chain):
    from nasbench_lab.strategies.reinforce import Reinforce

    cfg = ProtocolConfig(n_sets=2, set_size=70, budget=30, seeds=(0,))
    res = run_protocol(chain, ["reinforce"], cfg, progress=False)
    assert list(res.episodes.columns) == list(EPISODE_COLUMNS) and list(res.queries.columns) == list(QUERY_COLUMNS)
    assert set(res.episodes.agent) == set(res.queries.agent) == {"reinforce"} and len(res.episodes) == 2 * 70
    assert (res.queries.benchmark == "chain").all()
    for i in range(cfg.n_sets):
        check_ask_tell_unit(res, chain, lambda s: Reinforce(chain.space, seed=s), "reinforce", 0, i, cfg)


def test_reinforce_next_to_the_incremental_agents(chain):
    cfg = ProtocolConfig(n_sets=1, set_size=60, budget=20, n_neighbours=10, max_steps=8)
    res = run_protocol(chain, [*AGENTS, "reinforce"], cfg, progress=False)
    assert set(res.queries.agent) == {*AGENTS, "reinforce"}
    firsts = res.episodes.groupby("agent").initial_key.apply(list)
    assert all(f == firsts["random_walk"] for f in firsts)  # one set of initial states for all


def test_run_seed_gives_every_search_run_a_fresh_strategy(chain):
    from nasbench_lab import experiment
    from nasbench_lab.strategies.reinforce import Reinforce

    seeds = {run_seed(s, i, r) for s in range(3) for i in range(3) for r in range(4)}
    assert len(seeds) == 36 and not seeds & {0, 1, 2}
    assert run_seed(0, 1, 2) == run_seed(0, 1, 2)
    cfg = ProtocolConfig(n_sets=1, set_size=40, budget=20, seeds=(0,))
    q = run_protocol(chain, ["reinforce"], cfg, progress=False).queries
    run0, run1 = (q[q.run == r].sort_values("query").key.tolist() for r in (0, 1))
    assert run0 != run1
    # run 1 is a fresh controller seeded run_seed(0, 0, 1), not run 0's controller continued
    continued = Reinforce(chain.space, seed=run_seed(0, 0, 0))
    assert experiment.run(continued, chain, 20).key.tolist() == run0
    after = experiment.run(continued, chain, 20).key.tolist()
    fresh = experiment.run(Reinforce(chain.space, seed=run_seed(0, 0, 1)), chain, 20).key.tolist()
    assert fresh == run1 and after != run1


def test_key_column_is_the_reported_architecture(small, nb201):
    _, res = small
    q = res.queries
    assert q.key.map(type).eq(str).all()
    nan = q.validation.isna()
    assert ((q.key == "") == nan).all()  # "" exactly where nothing is reported
    assert nan[q.agent == "local_search"].any() and not nan[q.agent != "local_search"].any()
    reported = q[~nan]
    rows = nb201.rows(reported.key.tolist())
    np.testing.assert_array_equal(np.asarray(nb201.validation)[rows], reported.validation)
    np.testing.assert_array_equal(np.asarray(nb201.test)[rows], reported.test)
    # a reported key is the architecture of its episode's report: the final one for one-query agents
    e = res.episodes
    for agent in ("random_search", "random_walk"):
        g = q[(q.agent == agent) & (q.seed == 0) & (q.set == 0)].sort_values(["run", "query"])
        ep = e[(e.agent == agent) & (e.seed == 0) & (e.set == 0)].sort_values("episode")
        assert g.key.tolist() == ep.final_key.tolist()[: len(g)]


def test_the_protocol_has_stable_top_level_names():
    import nasbench_lab as nl
    from nasbench_lab import experiment

    assert nl.run_protocol is experiment.run_protocol is run_protocol
    assert nl.ProtocolConfig is experiment.ProtocolConfig is ProtocolConfig
    with pytest.raises(AttributeError):
        nl.env.protocol  # noqa: B018 - no alias in the lower layer


def test_vectorised_and_single_paths_agree_for_local_search(nb201):
    cfg = ProtocolConfig(n_sets=1, set_size=40, budget=50, n_neighbours=10)
    fast = run_protocol(nb201, ["local_search"], cfg, progress=False)
    slow = run_protocol(nb201, ["local_search"], ProtocolConfig(**{**cfg.__dict__, "vectorised": False}),
                        progress=False)
    pd.testing.assert_frame_equal(fast.episodes, slow.episodes)
    pd.testing.assert_frame_equal(fast.queries, slow.queries)


def test_single_path_random_walk_counts(nb201):
    cfg = ProtocolConfig(n_sets=1, set_size=30, budget=10, vectorised=False, max_steps=8)
    res = run_protocol(nb201, ["random_walk"], cfg, progress=False)
    e = res.episodes
    assert (e.queries == 1).all() and (e.steps <= 8).all()
    assert (e.truncated == ~e.terminated).all() and (e.steps[e.truncated] == 8).all()
    assert res.queries.run.nunique() == 3


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_frames_reload_identically(small, tmp_path, fmt):
    _, res = small
    for frame, name in ((res.episodes, "e"), (res.queries, "q")):
        path = save_frame(frame, tmp_path / f"{name}.{fmt}")
        pd.testing.assert_frame_equal(load_frame(path), frame)


def test_interrupted_run_resumes_from_finished_sets(nb201, tmp_path):
    cfg = ProtocolConfig(n_sets=3, set_size=60, budget=20, n_neighbours=10, fmt="csv")
    out = tmp_path / "run"
    first = run_protocol(nb201, ["random_walk", "local_search"], cfg, out_dir=out, progress=False)
    files = sorted(out.glob("*.csv"))
    assert len(files) == 2 * 3 * 2
    stamps = {f.name: f.stat().st_mtime_ns for f in files}
    # simulate an interruption during the last unit: its files were never written
    for f in out.glob("local_search__seed0__set2.*"):
        f.unlink()
    again = run_protocol(nb201, ["random_walk", "local_search"], cfg, out_dir=out, progress=False)
    pd.testing.assert_frame_equal(again.episodes, first.episodes)
    pd.testing.assert_frame_equal(again.queries, first.queries)
    for f in sorted(out.glob("*.csv")):
        if not f.name.startswith("local_search__seed0__set2."):
            assert f.stat().st_mtime_ns == stamps[f.name]  # reused, not recomputed
    assert not list(out.glob(".*"))  # no temporary files left behind
    loaded = load_results(out)
    assert len(loaded.episodes) == len(first.episodes)
    with pytest.raises(ValueError, match="different protocol configuration"):
        run_protocol(nb201, ["random_walk"], ProtocolConfig(n_sets=3, set_size=61, budget=20, fmt="csv"),
                     out_dir=out, progress=False)


def test_initial_state_sets_are_seeded(nb201):
    space = nb201.space
    a = initial_state_sets(space, 2, 5, seed=0)
    assert a == initial_state_sets(space, 2, 5, seed=0)
    assert a[0] != a[1] and a != initial_state_sets(space, 2, 5, seed=1)
    # never the same stream as a strategy seeded plainly or for a search run of set 0
    assert RandomSearch(space, seed=0).sample(5) != a[0]
    assert RandomSearch(space, seed=run_seed(0, 0, 0)).sample(5) != a[0]


@pytest.mark.slow
def test_protocol_on_nb301_surrogate_fixture(tmp_path, tmp_data):
    """NAS-Bench-301 (genotype pairs, surrogate, no test accuracy) through the gymnasium env.

    The surrogate is a FIXTURE: a 2-member XGB ensemble fitted on made-up accuracies.
    """
    import warnings

    pytest.importorskip("xgboost")
    from nasbench_lab import benchmarks
    from nasbench_lab.benchmarks.nb301 import fit_surrogate
    from nasbench_lab.spaces.darts import DartsSpace, Genotype

    space = DartsSpace()
    rng = np.random.default_rng(0)
    records = [(space.sample(rng), float(rng.uniform(0.85, 0.95))) for _ in range(64)]
    fit_surrogate(records, tmp_path / "surrogate", members=2, num_rounds=20, nthread=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bench = benchmarks.load("nb301", path=tmp_path / "surrogate")
    cfg = ProtocolConfig(n_sets=1, set_size=4, budget=40, max_steps=3, n_neighbours=20, alpha=32.0)
    res = run_protocol(bench, AGENTS, cfg, progress=False)
    e = res.episodes
    assert len(e) == 12 and e.initial_test.isna().all() and e.final_test.isna().all()
    ls = e[e.agent == "local_search"]
    assert (ls.final_validation >= ls.initial_validation).all()
    assert (ls.queries == ls.steps * 20).all()  # 3,600 pair neighbours, 20 shown per step
    assert (e[e.agent != "local_search"].queries == 1).all()
    # states are genotype pairs, shown neighbours are pairs of the space's tuple construction
    env = IncrementalEnv(space, bench, n_neighbours=20, alpha=32.0, max_steps=3, seed=0)
    _, info = env.reset(seed=1)
    assert isinstance(info["arch"], Genotype) and len(info["neighbours"]) == 20
    pair_keys = {space.key(g) for g in space.neighbours(info["arch"])}
    assert {space.key(g) for g in info["neighbours"]} <= pair_keys
    q = res.queries[res.queries.agent == "local_search"]
    assert q.run.nunique() >= 1 and q.best_test.isna().all()


@pytest.mark.slow
@pytest.mark.xdist_group("nb101_enum")
def test_protocol_on_nb101_space_with_fixture_numbers(monkeypatch):
    """NAS-Bench-101 cells (uniform-size sampler, the paper's neighbours) with FIXTURE
    accuracies (seeded, made up) for all 423,624 cells; episode-by-episode path."""
    try:
        from nasbench_lab.spaces import get
        space = get("nb101")
    except ModuleNotFoundError as e:
        pytest.skip(f"spaces.nb101 not available: {e}")
    from nasbench_lab.benchmarks.tabular import TabularBenchmark
    from nasbench_lab.env import neighbours as tables

    # no cached neighbour table (whatever the project's cache holds): episode-by-episode path
    monkeypatch.setattr(space, "neighbour_table_cache", "nb101_neighbours_absent_for_this_test.npz")
    assert not tables.table_is_ready(space)
    keys = space.enumerate().keys
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"key": keys, "val": rng.uniform(0.8, 0.95, len(keys)),
                          "test": rng.uniform(0.8, 0.95, len(keys))})
    bench = TabularBenchmark(None, frame, "key", {"validation_accuracy": "val", "test_accuracy": "test"},
                             name="nb101")
    bench.space = space
    cfg = ProtocolConfig(n_sets=1, set_size=6, budget=40, max_steps=4, n_neighbours=50, alpha=6.0)
    with pytest.warns(UserWarning, match="no cached neighbour table"):
        res = run_protocol(bench, AGENTS, cfg, progress=False)
    e = res.episodes
    assert len(e) == 18 and (e.benchmark == "nb101").all()
    ls = e[e.agent == "local_search"]
    assert (ls.final_validation >= ls.initial_validation).all()
    env = IncrementalEnv(space, bench, n_neighbours=50, max_steps=4, seed=0, reveal_validation=True)
    agent = LocalSearch(space, seed=0)
    for row in ls.itertuples():  # §4.1.2: every shown neighbour at every step
        obs, info = env.reset(options={"arch": space.from_key(row.initial_key)})
        charged = 0
        while True:
            charged += len(info["neighbours"])
            obs, _, te, tr, info = env.step(agent.act(obs, info))
            if te or tr:
                break
        assert row.queries == charged and row.final_key == info["key"]


def test_forced_vectorised_needs_a_tabular_benchmark(nb201):
    class NotTabular:
        name, space = "x", nb201.space

        def query(self, arch):
            return nb201.query(arch)

    with pytest.raises(ValueError, match="tabular"):
        run_protocol(NotTabular(), ["random_walk"], ProtocolConfig(n_sets=1, set_size=5, vectorised=True),
                     progress=False)


def test_protocol_on_nas_bench_moons():
    """The bundled NAS-Bench-Moons (ChainSpace(3), vectorised path) once it is built."""
    from nasbench_lab import benchmarks

    try:
        bench = benchmarks.load("moons")
    except (FileNotFoundError, AttributeError, ModuleNotFoundError) as e:
        pytest.skip(f"NAS-Bench-Moons is not available: {e}")
    cfg = ProtocolConfig(n_sets=2, set_size=200, budget=50, n_neighbours=50)
    res = run_protocol(bench, AGENTS, cfg, progress=False)
    e = res.episodes
    assert (e.benchmark == "moons").all() and len(e) == 3 * 2 * 200
    ls = e[e.agent == "local_search"]
    assert (ls.final_validation >= ls.initial_validation).all()
    single = run_protocol(bench, ["local_search"], ProtocolConfig(**{**cfg.__dict__, "n_sets": 1,
                                                                    "vectorised": False}), progress=False)
    pd.testing.assert_frame_equal(single.episodes, ls[ls.set == 0].reset_index(drop=True))


def test_local_search_charge_and_benchmark_counters_on_moons():
    """§4.1.2 charges local search every shown neighbour at every step (a neighbour shown
    again at the next step is charged again); the benchmark counts each architecture it
    looks up once (the initial state included, which is looked up for the reward but never
    charged), and the protocol never queries an architecture twice to report it. Both are
    recomputed here by walking the episode by hand, and pinned for this seed."""
    from nasbench_lab import benchmarks

    bench = benchmarks.load("moons")
    space = bench.space
    cfg = ProtocolConfig(n_sets=1, set_size=1, budget=10, max_steps=32, n_neighbours=50, vectorised=False)
    bench.reset_counters()
    ep = run_protocol(bench, ["local_search"], cfg, progress=False).episodes
    assert len(ep) == 1 and bool(ep.terminated.iloc[0])
    arch = initial_state_sets(space, 1, 1, cfg.initial_seed)[0][0]
    assert space.key(arch) == ep.initial_key.iloc[0]
    # the walk by hand: at each state all neighbours are shown (fewer than N here), the agent
    # moves to the strictly best one or stops
    oracle = benchmarks.load("moons")
    val = lambda a: float(oracle.query(a).validation_accuracy)  # noqa: E731
    charged, looked_up, steps, state = 0, {space.key(arch)}, 0, arch
    while True:
        shown = list(space.neighbours(space.from_key(space.key(state))))
        assert len(shown) <= cfg.n_neighbours
        charged += len(shown)
        looked_up |= {space.key(a) for a in shown}
        steps += 1
        best = max(shown, key=val)  # max keeps the first of equals, as the agent does
        if val(best) <= val(state):
            break
        state = best
    assert ep.final_key.iloc[0] == space.key(state)
    assert (int(ep.steps.iloc[0]), int(ep.queries.iloc[0])) == (steps, charged)
    assert bench.queries == bench.unique_queries == len(looked_up)
    assert (steps, charged, len(looked_up)) == (2, 67, 60)  # this seed, pinned: 67 charged, 60 looked up

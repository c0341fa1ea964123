"""The Ape-X agent (strategies/apex.py): each mechanism against hand-computed values,
checkpoint/resume, a learning test on NAS-Bench-Moons and the protocol hand-off."""
from __future__ import annotations

import dataclasses
import math
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
import torch

from conftest import chain_benchmark
from nasbench_lab import strategies
from nasbench_lab.strategies import apex
from nasbench_lab.strategies.apex import (ApexAgent, ApexConfig, NStep, PrioritizedReplay, build_network,
                                          random_valid, select_actions, train, worker_epsilons)

TINY = dict(embed_dim=16, heads=2, ff_dim=32, transformer_layers=1, encoder_layers=1, batch_size=16,
            learning_starts=64, n_workers=2, envs_per_worker=4, rollout_fragment=8, buffer_size=512,
            target_update_period=64, report_every=64, checkpoint_every=128, total_steps=384, lr=1e-3,
            torch_threads=1, device="cpu")


@pytest.fixture(scope="module")
def bench():
    return chain_benchmark(3)


# -- exploration schedule ---------------------------------------------------------------
def test_epsilon_schedule_for_eight_workers():
    eps = worker_epsilons(8, 0.4, 7.0)
    expected = [0.4 ** (1 + i) for i in range(8)]  # 7 i / (K - 1) = i for K = 8
    assert np.allclose(eps, expected, rtol=0, atol=1e-15)
    assert eps[0] == pytest.approx(0.4) and eps[1] == pytest.approx(0.16) and eps[-1] == pytest.approx(0.000655, abs=5e-7)
    assert worker_epsilons(1).tolist() == [0.4]


# -- n-step returns with partial episode bootstrapping ------------------------------------
def _push(ns, s, a, r, s2, term, ended):
    t = lambda x, dt: torch.tensor(x, dtype=dt)  # noqa: E731
    return ns.push({"row": t(s, torch.int64)}, t(a, torch.int64), t(r, torch.float64), t([0.0] * len(s), torch.float32),
                   {"row": t(s2, torch.int64)}, t(term, torch.bool), t(ended, torch.bool))


def _as_set(out):
    if out is None:
        return set()
    return {(int(s), int(a), round(float(r), 9), int(s2), round(float(d), 9))
            for s, a, r, s2, d in zip(out["obs"]["row"], out["action"], out["ret"], out["next_obs"]["row"],
                                      out["discount"])}


def test_nstep_targets_running_terminated_truncated_and_partial():
    g = 0.5
    ns = NStep(3, g, 3, "cpu")
    # env 0 runs 10 -> 11 -> 12 -> 13 -> 14 (never ends); env 1: 20 -> 21, then terminates (action 0)
    # at 21; env 2: 30 -> 31 -> 32, truncated there
    assert _as_set(_push(ns, [10, 20, 30], [1, 1, 1], [1.0, 2.0, 4.0], [11, 21, 31], [0, 0, 0], [0, 0, 0])) == set()
    out = _push(ns, [11, 21, 31], [2, 0, 3], [2.0, 0.0, 8.0], [12, 21, 32], [0, 1, 0], [0, 1, 1])
    assert _as_set(out) == {
        # env 1 terminated: no bootstrap (discount 0), two shortened sums
        (20, 1, 2.0 + g * 0.0, 21, 0.0), (21, 0, 0.0, 21, 0.0),
        # env 2 truncated: bootstrap from the real final state 32 with gamma^m, m = 2 and 1
        (30, 1, 4.0 + g * 8.0, 32, g ** 2), (31, 3, 8.0, 32, g ** 1)}
    out = _push(ns, [12, 99, 99], [3, 1, 1], [4.0, 0.0, 0.0], [13, 98, 98], [0, 0, 0], [0, 0, 0])
    # env 0's window is full: R = 1 + g 2 + g^2 4, bootstrap gamma^3 from s_3 = 13; the ended envs
    # started afresh and emit nothing (no sum crosses an episode boundary)
    assert _as_set(out) == {(10, 1, 1 + g * 2 + g * g * 4, 13, g ** 3)}
    out = _push(ns, [13, 98, 98], [1, 1, 1], [8.0, 0.0, 0.0], [14, 97, 97], [0, 0, 0], [0, 0, 0])
    assert _as_set(out) == {(11, 2, 2 + g * 4 + g * g * 8, 14, g ** 3)}  # new episodes: 2 steps so far
    out = _push(ns, [14, 97, 97], [2, 1, 1], [16.0, 1.0, 2.0], [15, 96, 96], [0, 0, 0], [0, 0, 0])
    assert _as_set(out) == {(12, 3, 4 + g * 8 + g * g * 16, 15, g ** 3), (99, 1, g * g * 1.0, 96, g ** 3),
                            (99, 1, g * g * 2.0, 96, g ** 3)}


# -- prioritised replay -------------------------------------------------------------------
def test_per_probabilities_and_importance_weights_match_the_closed_form():
    gen = torch.Generator().manual_seed(0)
    alpha, beta, eps = 0.6, 0.4, 1e-6
    rb = PrioritizedReplay(8, alpha, beta, eps, "cpu", gen)
    td = torch.tensor([1.0, 2.0, 3.0, 4.0])
    rb.add({"action": torch.arange(4), "obs": {"row": torch.arange(4)}}, td)
    p = (np.array([1.0, 2.0, 3.0, 4.0]) + eps) ** alpha
    prob = p / p.sum()
    assert np.allclose(rb.probabilities().numpy(), prob, rtol=1e-12)
    idx, w, data = rb.sample(200_000)
    freq = np.bincount(idx.numpy(), minlength=4) / 200_000
    assert np.allclose(freq, prob, atol=0.005)
    expected_w = (prob / prob.min()) ** (-beta)  # (N P_i)^-beta / max_j (N P_j)^-beta
    assert np.allclose(w.numpy(), expected_w[idx.numpy()], rtol=1e-6)
    assert torch.equal(data["action"], idx) and torch.equal(data["obs"]["row"], idx)
    # replayed priorities become |td| + eps; the buffer wraps around at capacity
    rb.update(torch.tensor([0]), torch.tensor([-9.0]))
    assert float(rb.priority[0]) == pytest.approx((9.0 + eps) ** alpha)
    rb.add({"action": torch.arange(10, 16), "obs": {"row": torch.arange(10, 16)}}, torch.ones(6))
    assert rb.size == 8 and sorted(rb.data["action"].tolist()) == [2, 3, 10, 11, 12, 13, 14, 15]


# -- network: masking and the duelling mean -----------------------------------------------
@pytest.fixture(scope="module")
def net():
    cfg = ApexConfig(**{**TINY, "n_neighbours": 6})
    return build_network(5, cfg, seed=0)


def _batch(seed=0, b=64, n=7, d=5):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(b, n, d, generator=g)
    counts = torch.randint(0, n, (b,), generator=g)  # valid: token 0 .. counts
    mask = torch.arange(n)[None, :] <= counts[:, None]
    return x, mask


def test_masked_actions_are_never_chosen_greedy_or_random(net):
    x, mask = _batch()
    q = net(x, mask)
    assert torch.isinf(q[~mask]).all() and torch.isfinite(q[mask]).all()
    assert mask[torch.arange(len(q)), q.argmax(1)].all()
    gen = torch.Generator().manual_seed(1)
    seen = torch.zeros_like(mask)
    for _ in range(300):
        a = random_valid(mask, gen)
        assert mask[torch.arange(len(a)), a].all()
        seen[torch.arange(len(a)), a] = True
    assert torch.equal(seen, mask)  # every valid action is drawn, no masked one ever
    a, explored = select_actions(q, mask, torch.ones(len(q)), gen)
    assert explored.all() and mask[torch.arange(len(a)), a].all()
    a, explored = select_actions(q, mask, torch.zeros(len(q)), gen)
    assert not explored.any() and torch.equal(a, q.argmax(1))


def test_duelling_mean_is_over_valid_actions_only(net):
    x, mask = _batch(seed=3)
    q = net(x, mask)
    h = net.transformer(net.encoder(x) + net.position[: x.shape[1]], src_key_padding_mask=~mask)
    value = net.value(h[:, 0]).squeeze(1)
    adv = net.advantage(h).squeeze(-1)
    m = mask.float()
    mean_q_valid = (torch.where(mask, q, torch.zeros_like(q)) * m).sum(1) / m.sum(1)
    assert torch.allclose(mean_q_valid, value, atol=1e-5)  # mean over valid A is subtracted
    expected = value[:, None] + adv - ((adv * m).sum(1) / m.sum(1))[:, None]
    assert torch.allclose(q[mask], expected[mask], atol=1e-5)
    # what masked tokens hold changes nothing for the valid ones
    x2 = torch.where(mask[..., None], x, torch.full_like(x, 7.0))
    assert torch.allclose(net(x2, mask)[mask], q[mask], atol=1e-5)


def test_network_initialisation_is_seeded_and_leaves_global_rng_alone():
    cfg = ApexConfig(**TINY)
    state = torch.get_rng_state()
    a, b, c = build_network(5, cfg, 0), build_network(5, cfg, 0), build_network(5, cfg, 1)
    assert torch.equal(torch.get_rng_state(), state)
    sa, sb, sc = a.state_dict(), b.state_dict(), c.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa) and not all(torch.equal(sa[k], sc[k]) for k in sa)


# -- the training loop --------------------------------------------------------------------
def test_target_network_is_copied_every_period_of_trained_samples(bench):
    cfg = ApexConfig(**{**TINY, "batch_size": 16, "target_update_period": 40, "total_steps": 640})
    log = train(bench, cfg, seed=0, progress=False).log
    # copies happen at the first update whose trained samples since the last copy reach 40:
    # every ceil(40 / 16) = 3 updates
    assert (log["target_updates"] == log["updates"] // 3).all()
    assert log["updates"].iloc[-1] > 6
    # one replayed sample per sampled step from the fragment that reaches learning_starts on
    # (training intensity 1): the fragments are 64 steps and learning starts at 64
    assert log["trained_samples"].iloc[-1] == 640
    half = train(bench, dataclasses.replace(cfg, training_intensity=0.5), seed=0, progress=False).log
    assert half["trained_samples"].iloc[-1] == 320


def test_same_seed_same_log_and_another_seed_differs(bench):
    cfg = ApexConfig(**TINY)
    a = train(bench, cfg, seed=0, progress=False).log.drop(columns=list(apex.TIMING_COLUMNS))
    b = train(bench, cfg, seed=0, progress=False).log.drop(columns=list(apex.TIMING_COLUMNS))
    c = train(bench, cfg, seed=1, progress=False).log.drop(columns=list(apex.TIMING_COLUMNS))
    assert a.equals(b)
    assert not a.equals(c)


def test_checkpoint_resume_gives_the_same_log(bench, tmp_path):
    cfg = ApexConfig(**TINY)
    full = train(bench, cfg, seed=0, progress=False)
    with pytest.raises(KeyboardInterrupt):
        train(bench, cfg, seed=0, checkpoint_dir=tmp_path, progress=False, _stop_after=130)
    assert (tmp_path / apex.CHECKPOINT).exists() and not (tmp_path / apex.AGENT_FILE).exists()
    resumed = train(bench, cfg, seed=0, checkpoint_dir=tmp_path, progress=False)
    cols = [c for c in apex.LOG_COLUMNS if c not in apex.TIMING_COLUMNS]
    assert resumed.log[cols].equals(full.log[cols])
    assert resumed.agent.fingerprint() == full.agent.fingerprint()
    # a finished run is returned as it is, without training again
    t0 = time.perf_counter()
    again = train(bench, cfg, seed=0, checkpoint_dir=tmp_path, progress=False)
    assert again.log[cols].equals(full.log[cols]) and again.agent.fingerprint() == full.agent.fingerprint()
    assert time.perf_counter() - t0 < full.seconds + 5
    # another configuration refuses the folder
    with pytest.raises(ValueError, match="another configuration"):
        train(bench, dataclasses.replace(cfg, gamma=0.95), seed=0, checkpoint_dir=tmp_path, progress=False)
    # a corrupted checkpoint is named
    (tmp_path / apex.CHECKPOINT).write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="unreadable checkpoint"):
        train(bench, cfg, seed=0, checkpoint_dir=tmp_path, progress=False)


@pytest.mark.slow
def test_killed_run_resumes_to_the_same_log(tmp_path):
    """kill -9 of a training process after its first checkpoint; the resumed run's log is
    the uninterrupted one's."""
    cfg = {**TINY, "total_steps": 2048, "checkpoint_every": 256}
    script = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {os.path.dirname(__file__)!r})
        from conftest import chain_benchmark
        from nasbench_lab.strategies.apex import ApexConfig, train
        train(chain_benchmark(3), ApexConfig(**{cfg!r}), seed=0, checkpoint_dir=sys.argv[1], progress=False)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script, str(tmp_path / "run")])
    try:
        deadline = time.time() + 120
        while not (tmp_path / "run" / apex.CHECKPOINT).exists():
            assert proc.poll() is None, "the training process ended before its first checkpoint"
            assert time.time() < deadline
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert not (tmp_path / "run" / apex.AGENT_FILE).exists(), "the run finished before it was killed"
    bench = chain_benchmark(3)
    resumed = train(bench, ApexConfig(**cfg), seed=0, checkpoint_dir=tmp_path / "run", progress=False)
    full = train(bench, ApexConfig(**cfg), seed=0, progress=False)
    cols = [c for c in apex.LOG_COLUMNS if c not in apex.TIMING_COLUMNS]
    assert resumed.log[cols].equals(full.log[cols])


def test_agent_save_load_act_and_registry(bench, tmp_path):
    assert strategies.get("apex") is ApexAgent
    result = train(bench, ApexConfig(**TINY), seed=2, progress=False)
    agent = result.agent
    path = agent.save(tmp_path / "agent.pt")
    loaded = ApexAgent.load(path)
    assert loaded.fingerprint() == agent.fingerprint() and loaded.seed == 2
    from nasbench_lab.env import IncrementalEnv
    from nasbench_lab.env.vector import VectorIncrementalEnv

    env = IncrementalEnv(bench.space, bench, n_neighbours=50, max_steps=8, seed=0)
    obs, info = env.reset(seed=0)
    for _ in range(6):
        a = agent.act(obs, info)
        assert a == loaded.act(obs, info) and info["action_mask"][a]
        obs, _, te, tr, info = env.step(a)
        if te or tr:
            obs, info = env.reset()
    venv = VectorIncrementalEnv.from_benchmark(bench, n_envs=32, n_neighbours=50, max_steps=8, seed=0)
    vobs, _ = venv.reset()
    acts = agent.act_batch(vobs, venv)
    assert np.array_equal(acts, loaded.act_batch(vobs, venv))
    assert np.asarray(vobs["action_mask"])[np.arange(32), acts].all()
    # the single and the batched policy agree on the same states
    for i in range(4):
        row = int(np.asarray(venv.rows)[i])
        o, inf = env.reset(options={"arch": bench.arch(row)})
        assert agent.act(o, inf) == acts[i]
    (tmp_path / "bad.pt").write_bytes(b"\x00garbage")
    with pytest.raises(ValueError, match="not a readable Ape-X agent"):
        ApexAgent.load(tmp_path / "bad.pt")
    with pytest.raises(ValueError, match="features"):
        agent.q_values(np.zeros((1, 3, agent.input_dim + 1)), np.ones((1, 3), bool))


def test_trained_agent_runs_through_the_protocol_next_to_the_baselines(bench, tmp_path):
    from nasbench_lab import ProtocolConfig, run_protocol

    agents = [train(bench, ApexConfig(**TINY), seed=s, progress=False).agent for s in (0, 1)]
    cfg = ProtocolConfig(n_sets=2, set_size=60, budget=10, max_steps=8)
    res = run_protocol(bench, ["random_walk", *agents], cfg, progress=False, out_dir=tmp_path)
    assert set(res.episodes["agent"]) == {"random_walk", "apex"}
    assert sorted(res.episodes.loc[res.episodes.agent == "apex", "seed"].unique()) == [0, 1]
    assert len(res.queries[res.queries.agent == "apex"]) == 2 * 2 * (60 // 10) * 10
    # the vectorised and the single-episode path give the same episodes for the agent
    single = run_protocol(bench, [agents[0]], ProtocolConfig(n_sets=1, set_size=60, budget=10, max_steps=8,
                                                             vectorised=False), progress=False)
    vec = res.episodes[(res.episodes.agent == "apex") & (res.episodes.seed == 0) & (res.episodes.set == 0)]
    assert single.episodes["final_key"].tolist() == vec["final_key"].tolist()
    # stored units are keyed by the weights: another agent with the same seed does not reuse them
    other = train(bench, ApexConfig(**{**TINY, "lr": 3e-3}), seed=0, progress=False).agent
    assert other.fingerprint() != agents[0].fingerprint()
    again = run_protocol(bench, ["random_walk", other, agents[1]], cfg, progress=False, out_dir=tmp_path)
    a0 = res.episodes[(res.episodes.agent == "apex") & (res.episodes.seed == 0)]["final_key"].tolist()
    b0 = again.episodes[(again.episodes.agent == "apex") & (again.episodes.seed == 0)]["final_key"].tolist()
    assert len(a0) == len(b0) and a0 != b0


def test_non_tabular_benchmarks_train_through_single_episode_envs(bench):
    class Surrogate:
        """Only query / query_batch: no rows, no table (like the NB301 surrogate)."""

        name = "surrogate"
        space = bench.space

        def query(self, arch):
            return bench.query(arch)

        def query_batch(self, archs):
            self.batches = getattr(self, "batches", 0) + 1
            return bench.query_batch(archs)

        def key(self, arch):
            return bench.key(arch)

    sur = Surrogate()
    assert not apex.is_tabular(sur) and apex.is_tabular(bench)
    cfg = ApexConfig(**{**TINY, "total_steps": 256})
    a = train(sur, cfg, seed=0, progress=False)
    b = train(sur, cfg, seed=0, progress=False)
    cols = [c for c in apex.LOG_COLUMNS if c not in apex.TIMING_COLUMNS]
    assert a.log[cols].equals(b.log[cols]) and a.log["updates"].iloc[-1] > 0
    assert sur.batches > 0


def test_config_refuses_bad_values():
    with pytest.raises(ValueError, match="gamma"):
        ApexConfig(gamma=1.0)
    with pytest.raises(ValueError, match="divisible"):
        ApexConfig(embed_dim=30, heads=4)
    with pytest.raises(ValueError, match="overflows"):
        ApexConfig(alpha=1000.0)
    with pytest.raises(ValueError, match="batch_size"):
        ApexConfig(batch_size=0)
    with pytest.raises(KeyError, match="nb201"):
        ApexConfig.paper("nb201")
    p101, p301 = ApexConfig.paper("nb101"), ApexConfig.paper("nb301")
    assert (p101.embed_dim, p101.alpha, p101.gamma, p101.n_step, p101.lr, p101.batch_size) == (256, 6.0, 0.9, 3, 4e-5, 512)
    assert (p301.embed_dim, p301.alpha) == (512, 32.0)
    assert (p101.buffer_size, p101.learning_starts, p101.target_update_period, p101.n_envs) == (25_000, 50_000, 500_000, 256)


@pytest.mark.slow
def test_learning_on_moons_raises_the_accuracy_the_episodes_end_on():
    """A short training on NAS-Bench-Moons: the greedy agent's episodes end on far better
    architectures than the table's typical one and than where its early training episodes
    ended. Margins: +0.02 over the first log row; greedy episodes end 0.04 above random
    walk's and 0.03 above the table's median architecture. N = 25 keeps it under a minute."""
    from nasbench_lab import benchmarks
    from nasbench_lab import ProtocolConfig, run_protocol

    bench = benchmarks.load("moons")
    cfg = ApexConfig.small(total_steps=30_000, learning_starts=2_000, report_every=3_072, training_intensity=4,
                           target_update_period=10_000, n_neighbours=25)
    result = train(bench, cfg, seed=0, progress=False)
    log = result.log
    first, last = log["mean_final_validation"].iloc[0], log["mean_final_validation"].iloc[-3:].mean()
    assert last > first + 0.02, (first, last)
    res = run_protocol(bench, ["random_walk", result.agent],
                       ProtocolConfig(n_sets=1, set_size=500, budget=50, n_neighbours=25), progress=False)
    final = res.episodes.groupby("agent")["final_validation"].mean()
    median = float(np.median(np.asarray(bench.validation)))
    assert final["apex"] > median + 0.03 and final["apex"] > final["random_walk"] + 0.04, (final.to_dict(), median)


def test_trains_on_an_nb301_surrogate_fixture(tmp_data):
    """The NB301 XGB surrogate has no neighbour table: the actors run single-episode envs
    over the DARTS pair space, their surrogate queries batched. FIXTURE surrogate: fitted on
    made-up accuracies."""
    pytest.importorskip("xgboost")
    from nasbench_lab import benchmarks, spaces
    from nasbench_lab.benchmarks import nb301

    space = spaces.get("darts")
    rng = np.random.default_rng(0)
    genos = [space.sample(rng) for _ in range(120)]
    made_up = [0.9 + 0.05 * float(np.tanh(space.encode(g)[:40].sum() / 10 - 1)) for g in genos]
    nb301.fit_surrogate(zip(genos, made_up), tmp_data / "nb301_fixture", members=2, num_rounds=10, nthread=1)
    bench = benchmarks.load("nb301", path=tmp_data / "nb301_fixture", nthread=1)
    assert not apex.is_tabular(bench)
    cfg = ApexConfig(**{**TINY, "n_neighbours": 20, "alpha": 32.0, "total_steps": 192, "learning_starts": 64,
                        "report_every": 64})
    result = train(bench, cfg, seed=0, progress=False)
    assert result.log["env_steps"].iloc[-1] == 192 and result.log["updates"].iloc[-1] > 0
    ended = result.log["mean_final_validation"].dropna()  # rows before any episode ended are NaN
    assert len(ended) >= 1 and ended.between(0.8, 1.0).all()
    assert result.agent.input_dim == space.encoding_size


def test_ablation_grid_is_resumable_and_feeds_the_figures(bench, tmp_path):
    from nasbench_lab.strategies import apex_studies

    cfg = ApexConfig(**{**TINY, "total_steps": 256})
    kw = dict(seeds=(0,), gammas=(0.9, 0.95), neighbours=(50,), alphas=(None, 6.0), out_dir=tmp_path, progress=False)
    frame = apex_studies.ablation_grid(bench, cfg, **kw)
    # one factor at a time around gamma 0.9 / N 50 / alpha 6: 3 distinct runs, the base shared
    runs = sorted(p.parent.parent.name for p in tmp_path.glob("*/seed0/agent.pt"))
    assert runs == ["gamma0.95_N50_alpha6", "gamma0.9_N50_alpha6", "gamma0.9_N50_alphanone"]
    assert frame.groupby("parameter").setting.unique().map(sorted).to_dict() == {
        "alpha": ["no shaping", "α = 6"], "gamma": ["γ = 0.9", "γ = 0.95"], "n_neighbours": ["N = 50"]}
    base = frame[(frame.parameter == "gamma") & (frame.value == 0.9)].mean_final_validation.to_numpy()
    same = frame[(frame.parameter == "alpha") & (frame.setting == "α = 6")].mean_final_validation.to_numpy()
    assert np.array_equal(base, same, equal_nan=True)  # the shared base run appears under each parameter
    stamps = {p: p.stat().st_mtime_ns for p in tmp_path.glob("*/seed0/checkpoint.pt")}
    again = apex_studies.ablation_grid(bench, cfg, **kw)
    assert {p: p.stat().st_mtime_ns for p in tmp_path.glob("*/seed0/checkpoint.pt")} == stamps  # nothing rerun
    cols = [c for c in frame.columns if c not in apex.TIMING_COLUMNS]
    assert again[cols].equals(frame[cols])
    figs = apex_studies.ablation_figures(frame, "chain", window=2)
    assert sorted(figs) == [17, 18, 19]
    assert [t.get_text() for t in figs[19].axes[0].get_legend().get_texts()] == ["no shaping", "α = 6"]
    curves = apex_studies.ablation_curves(frame, "gamma")
    assert list(curves.columns) == ["setting", "seed", "step", "value"] and curves.step.max() == 256


def test_reuse_evaluates_agents_on_other_benchmarks_without_retraining(bench):
    from nasbench_lab import ProtocolConfig
    from nasbench_lab.experiment.studies import reuse

    agent = train(bench, ApexConfig(**TINY), seed=0, progress=False).agent
    before = agent.fingerprint()
    targets = {"other": chain_benchmark(7), "same": bench}
    table, queries = reuse([agent], targets, protocol=ProtocolConfig(n_sets=1, set_size=60, budget=10, max_steps=8),
                           budgets=(5, 10), n_resamples=200, progress=False)
    assert agent.fingerprint() == before
    assert set(table.target) == {"other", "same"} and set(queries.benchmark) == {"other", "same"}
    assert {"apex", "random_search", "random_walk", "local_search"} <= set(table.agent)
    # the agent's moves depend on the encodings only: the same episodes, scored by each table
    ep_other = queries[(queries.benchmark == "other") & (queries.agent == "apex")]
    ep_same = queries[(queries.benchmark == "same") & (queries.agent == "apex")]
    assert len(ep_other) == len(ep_same) and not np.allclose(ep_other.validation, ep_same.validation, equal_nan=True)


def test_network_initialisation_never_reseeds_cuda(monkeypatch):
    calls = []
    monkeypatch.setattr(torch.cuda, "manual_seed_all", lambda s: calls.append(s))
    monkeypatch.setattr(torch.cuda, "manual_seed", lambda s: calls.append(s))
    build_network(5, ApexConfig(**TINY), seed=123)
    assert calls == []


def test_actors_of_one_run_show_the_same_neighbours_but_start_apart(bench):
    from nasbench_lab.strategies._apex_ray import _Worker

    cfg = ApexConfig(**{**TINY, "n_neighbours": 5})
    learner = apex.TableActors(bench, 4, cfg, 0, "cpu")
    w0, w1 = _Worker(bench, cfg.to_dict(), 0, 0), _Worker(bench, cfg.to_dict(), 0, 1)
    # the learner decodes stored (row, action) pairs with the workers' shown-neighbour table
    assert torch.equal(w0.actors._shown, learner._shown) and torch.equal(w1.actors._shown, learner._shown)
    assert not torch.equal(w0.obs["row"], w1.obs["row"])


def test_single_episode_actors_share_one_cache(bench):
    actors = apex.ListActors(bench, 6, ApexConfig(**TINY), 0, "cpu")
    actors.reset()
    a0 = actors.envs[0]
    assert all(e._acc is a0._acc and e._enc is a0._enc and e._nbr is a0._nbr for e in actors.envs)
    assert len(a0._acc) <= len({e.space.key(e.arch) for e in actors.envs}) + sum(len(i["neighbours"]) for i in actors._info)


def test_bench_apex_section_measures_acting_learning_and_training(bench):
    from nasbench_lab import speed as bench_pkg
    from nasbench_lab.speed import apex as bench_apex

    assert "apex" in bench_pkg.sections()
    assert bench_apex.PAPER_STEPS_PER_SECOND == pytest.approx(1e7 / (92.6 * 3600))
    cfg = ApexConfig(**TINY)
    acting = bench_apex.acting_steps_per_second(bench, cfg, 8, steps=4, repeat=1)
    learning = bench_apex.learner_samples_per_second(bench, cfg, updates=2, repeat=1)
    e2e = bench_apex.end_to_end_steps_per_second(bench, cfg, learning_steps=256)
    assert all(math.isfinite(v) and v > 0 for v in (acting, learning, e2e)), (acting, learning, e2e)

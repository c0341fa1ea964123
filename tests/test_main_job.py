"""The main job (``nasbench-lab figures``): step reporting, and a real quick run end to end."""
from __future__ import annotations

import argparse

import numpy as np
import pandas as pd
import pytest

from nasbench_lab import main_job
from nasbench_lab.analysis import stats


def test_quick_config_shrinks_every_size(tmp_path):
    full = main_job.JobConfig.from_args(argparse.Namespace(quick=False, out=str(tmp_path), benchmark=None))
    quick = main_job.JobConfig.from_args(argparse.Namespace(quick=True, out=str(tmp_path), benchmark="moons"))
    assert full.benchmark == quick.benchmark == "moons" and quick.out == tmp_path
    for f in ("set_size", "budget", "ablation_steps", "n_resamples", "sampler_draws", "strategy_seeds"):
        assert getattr(quick, f) < getattr(full, f), f
    assert (full.n_sets, full.set_size, full.n_resamples) == (5, 10_000, 5000)  # the paper's protocol
    assert (full.strategy_seeds, full.budget) == (100, 300)  # the side-by-side comparison


def test_run_reports_missing_and_failed_steps_and_keeps_going(tmp_path, monkeypatch):
    def fine():
        p = tmp_path / "a.txt"
        p.write_text("x")
        return [p]

    def missing():
        raise main_job.Missing("the moons table is not built")

    def broken():
        raise ZeroDivisionError("boom")

    monkeypatch.setattr(main_job, "plan", lambda ctx: [("first", missing), ("second", broken), ("third", fine)])
    lines = []
    cfg = main_job.JobConfig(out=tmp_path, quick=True)
    reports = main_job.run(cfg, echo=lines.append)
    assert [r.status for r in reports] == ["missing", "failed", "ok"]
    assert reports[0].detail == "the moons table is not built"
    assert "ZeroDivisionError: boom" in reports[1].detail and "test_main_job.py" in reports[1].detail
    text = "\n".join(lines)
    assert "[MISSING] first" in text and "[FAILED ] second" in text and "[ok     ] third" in text
    assert "wrote 1 files" in text
    index = (tmp_path / "index.md").read_text()
    assert "| first | missing: the moons table is not built |" in index and "[a.txt](a.txt)" in index
    monkeypatch.setattr(main_job, "run", lambda cfg: reports)
    assert main_job.cli_figures(argparse.Namespace(quick=True, out=str(tmp_path), benchmark="moons")) == 1


def test_apex_config_follows_the_job_budget(tmp_path):
    cfg = main_job.JobConfig(out=tmp_path)
    ctx = main_job.Context(cfg)
    moons, nb201 = main_job.apex_config(ctx, "moons"), main_job.apex_config(ctx, "nb201")
    assert (moons.total_steps, moons.training_intensity) == (40_000, 4.0)
    assert (nb201.total_steps, nb201.training_intensity, nb201.gamma, nb201.n_step) == (200_000, 1.0, 0.9, 3)
    assert main_job.apex_config(ctx, "moons", steps=2_048).learning_starts == 512


def test_protocol_agents_ask_each_class_to_build_on_the_space():
    """REINFORCE joins the protocol where it builds on the space (MLP chains, a decision
    encoding), and is left out, with a note naming the misfit, elsewhere: decided by the
    class, not by name."""
    from conftest import chain_benchmark
    from nasbench_lab import spaces

    notes = []
    chain = chain_benchmark(2)
    assert main_job.protocol_agents(chain, notes=notes) == ["random_search", "random_walk", "local_search",
                                                           "reinforce"]
    assert notes == []

    class CellBenchmark:  # NB201's six categorical decisions: REINFORCE writes them too
        name, space = "cells", spaces.get("nb201")

    assert main_job.protocol_agents(CellBenchmark(), notes=notes) == ["random_search", "random_walk",
                                                                     "local_search", "reinforce"]
    assert notes == []

    class Opaque(type(spaces.get("nb201"))):  # cells without a decision encoding
        name = "opaque"

        def decisions(self):
            raise NotImplementedError

    class OpaqueBenchmark:
        name, space = "graphs", Opaque()

    assert main_job.protocol_agents(OpaqueBenchmark(), notes=notes) == ["random_search", "random_walk",
                                                                       "local_search"]
    assert len(notes) == 1 and "graphs: reinforce left out" in notes[0] and "categorical decisions" in notes[0]

    class RenamedChains:  # a chain space under another name still gets REINFORCE
        name, space = "nb201", chain.space

    assert "reinforce" in main_job.protocol_agents(RenamedChains())


def test_one_query_frame_holds_every_strategy(tmp_path):
    """The protocol step on a chain-space benchmark: REINFORCE in the same episode and
    query frames as the baselines, and its learning curve drawn from that frame."""
    from conftest import chain_benchmark

    cfg = main_job.JobConfig(out=tmp_path, n_sets=1, set_size=120, budget=30, n_resamples=50)
    ctx = main_job.Context(cfg, benchmarks={"chain": chain_benchmark(4)})
    files = main_job.step_protocol(ctx, "chain")
    q = ctx.queries["chain"]
    assert set(q.agent) == set(ctx.episodes["chain"].agent) == {"random_search", "random_walk", "local_search",
                                                               "reinforce"}
    assert set(pd.read_parquet(files[1]).agent) == set(q.agent)
    assert q[q.agent == "reinforce"].groupby("run").size().tolist() == [30] * 4  # 120 episodes / budget 30
    import matplotlib

    matplotlib.use("Agg")
    trace = main_job.reinforce_trace(ctx, "chain", q)
    assert [p.name for p in trace] == ["reinforce_trace_chain.png", "reinforce_trace_chain.pdf"]
    assert main_job.reinforce_trace(ctx, "chain", q[q.agent != "reinforce"]) == []
    tables = main_job.step_tables(ctx, "chain")
    table = pd.read_csv(next(p for p in tables if p.suffix == ".csv"))
    assert set(table.agent) == set(q.agent)


def test_best_so_far_agrees_with_the_protocol_on_nb201(shared):
    """The protocol's best-so-far columns equal ``stats.add_best_so_far`` of its raw columns."""
    from nasbench_lab import benchmarks
    from nasbench_lab import ProtocolConfig, run_protocol

    path = shared(*benchmarks.catalogue.BENCHMARKS["nb201"].shared)
    bench = benchmarks.load("nb201", path=path, validation="cifar10_valid_12", test="cifar10_test_200")
    res = run_protocol(bench, ["random_walk", "local_search"], ProtocolConfig(n_sets=1, set_size=300, budget=60),
                       progress=False)
    q = res.queries
    keys = ["benchmark", "agent", "seed", "set", "run", "query"]
    ours = stats.add_best_so_far(q[keys + ["validation", "test"]]).sort_values(keys).reset_index(drop=True)
    theirs = q.sort_values(keys).reset_index(drop=True)
    for c in ("best_validation", "best_test", "oracle_test"):
        np.testing.assert_allclose(ours[c], theirs[c], equal_nan=True)
    # local search reports when its steps end: 24 neighbours per NB201 cell
    bsf = stats.best_so_far(q[q.agent == "local_search"])
    assert bsf.reached(30) == 24 and np.isnan(bsf.values[:, :23]).all()


def _nontrivial(path, min_bytes):
    return path.exists() and path.stat().st_size >= min_bytes


@pytest.mark.slow
def test_quick_main_job_writes_every_figure_and_table(tmp_path, tmp_data):
    args = argparse.Namespace(quick=True, out=str(tmp_path), benchmark="moons")
    reports = main_job.run(main_job.JobConfig.from_args(args), echo=lambda s: None)
    bad = [(r.name, r.status, r.detail) for r in reports if r.status != "ok"]
    assert not bad, bad
    figures = ["fig03_shaping_histogram_moons", "fig04_shaping_curves_moons", "fig05_sampler_histograms_nb101",
               "fig05_sampler_histograms_moons", "fig07_initial_vs_improvement_moons",
               "fig08_improvement_histograms_moons", "fig09_local_optimum_moons", "fig10_best_so_far_moons",
               "fig10_best_so_far_oracle_moons", "fig11_neighbours_vs_accuracy_moons", "fig16_throughput",
               "fig17_ablation_gamma_apex_moons", "fig18_ablation_neighbours_apex_moons",
               "fig19_ablation_alpha_apex_moons", "apex_training_moons", "reinforce_trace_moons",
               "strategies_best_so_far_moons", "strategies_anytime_rank_moons"]
    for name in figures:
        png, pdf = tmp_path / f"{name}.png", tmp_path / f"{name}.pdf"
        assert _nontrivial(png, 10_000), name
        assert png.read_bytes()[:4] == b"\x89PNG"
        assert _nontrivial(pdf, 5_000) and pdf.read_bytes()[:5] == b"%PDF-", name
    for name in ("table_best_so_far_moons", "table_strategies_moons", "table1_nb101_published",
                 "table2_nb301_published"):
        md = (tmp_path / f"{name}.md").read_text()
        assert md.count("\n|") >= 4, name
        assert r"\begin{table}" in (tmp_path / f"{name}.tex").read_text()
        assert len(pd.read_csv(tmp_path / f"{name}.csv")) >= 4
    table = pd.read_csv(tmp_path / "table_best_so_far_moons.csv")
    ours = table[table.source == "ours"]
    every = {"random_search", "random_walk", "local_search", "reinforce", "apex"}
    assert set(ours.agent) == every  # one table: every strategy, from one query frame
    curves = pd.read_csv(tmp_path / "curves_moons.csv")
    assert set(curves.agent) == every  # one Fig. 10
    known = ours[ours["mean"].notna()]
    assert known["mean"].between(0.5, 1.0).all() and (known["ci_low"] <= known["ci_high"]).all()
    # N/A only where no run had reported yet: local search before its first step ends
    unknown = ours[ours["mean"].isna()]
    assert set(unknown.agent) <= {"local_search"} and (unknown["queries"] == 0).all()
    ep = pd.read_parquet(tmp_path / "results" / "moons_episodes.parquet")
    assert set(ep.agent) == every
    q = pd.read_parquet(tmp_path / "results" / "moons_queries.parquet")
    assert set(q.agent) == every and not (tmp_path / "results" / "moons_reinforce_queries.parquet").exists()
    ablation = pd.read_csv(tmp_path / "results" / "moons_apex_ablation.csv")
    assert set(ablation.parameter) == {"gamma", "n_neighbours", "alpha"}
    assert ablation.groupby("parameter").setting.nunique().to_dict() == {"gamma": 3, "n_neighbours": 3, "alpha": 4}
    tests = pd.read_csv(tmp_path / "improvement_tests_moons.csv")
    assert set(tests.agent) == set(ep.agent) and tests["normaltest_p"].between(0, 1).all()
    assert "| protocol moons | ok |" in (tmp_path / "index.md").read_text()
    # the side-by-side comparison: every multi-trial strategy, the baselines and Ape-X
    side = pd.read_csv(tmp_path / "table_strategies_moons.csv")
    assert set(side.agent) == every | {"random", "grid_search", "regularized_evolution", "tpe", "policy_based_rl"}
    # NAS-Bench-201 joins when its table is beside the project
    if main_job.nb201_path() is not None:
        assert _nontrivial(tmp_path / "fig10_best_so_far_nb201.png", 10_000)
        assert (tmp_path / "table_best_so_far_nb201.md").exists()
        refs = pd.read_csv(tmp_path / "table_strategies_nb201_references.csv")
        assert {"REA: 93.92 ± 0.30", "RS: 93.70 ± 0.36"} <= set(refs.published)
        for target in ("cifar100", "imagenet16"):
            reuse = pd.read_csv(tmp_path / f"table_apex_reuse_nb201_to_{target}.csv")
            assert {"apex", "random_search"} <= set(reuse.agent)


def test_reuse_targets_without_the_nb201_table_is_missing_not_a_crash(tmp_data, monkeypatch):
    from nasbench_lab.benchmarks import catalogue

    monkeypatch.setattr(catalogue.paths, "shared_data_dir", lambda: None)
    with pytest.raises(main_job.Missing, match="NAS-Bench-201 table not found"):
        main_job.reuse_targets()

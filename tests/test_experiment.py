"""The NNI-style Experiment, in-process: lifecycle, every strategy, stop/resume, NNI's reading
API, changes while running, YAML and the CLI, bad input and damaged stores, the failure
policy and the dashboard.

Every test runs against a private registry (``$NASBENCH_LAB_EXPERIMENTS`` under
``tmp_path``). References are computed independently where possible: a hand-written
ask/query/tell loop, the benchmark's own ``query_key``, running maxima computed here, the
journal read with ``sqlite3``. The SIGKILL crash test, live-trial failures/hangs and the
worker pool are tested elsewhere (test_experiment_kill.py, test_experiment_workers.py).
"""
from __future__ import annotations

import dataclasses
import math
import sqlite3
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import NB201_CSV, shared_file
from nasbench_lab import benchmarks, cli, strategies
from nasbench_lab.benchmarks.base import Benchmark, Metrics
from nasbench_lab.experiment import Experiment, ExperimentConfig, ExperimentError, TrialJob, TrialMetricData, \
    TrialResult
from nasbench_lab.experiment.config import ConfigError, parse_duration
from nasbench_lab.experiment.store import ExperimentStore
from nasbench_lab.spaces.mlp import ChainSpace
from nasbench_lab.spaces.nb201 import NB201Space
from nasbench_lab.strategies.base import reward_of
from nasbench_lab.strategies.random_search import RandomSearch

HUGE = 5_000_000
NB201_OPTIONS = {"validation": "cifar10_valid_12", "test": "cifar10_test_200"}
#: the strategy tests share one worker: the Moons neighbour table (random walk, local
#: search) is built once per benchmark object and process, torch (reinforce) imported once
STRATEGIES = pytest.mark.xdist_group("experiment_strategies")

pytestmark = pytest.mark.usefixtures("registry")


@pytest.fixture(scope="module")
def moons_ref():
    """A separate Moons object: the reference values, untouched by any experiment."""
    return benchmarks.load("moons")


def nb201_path() -> Path:
    return shared_file(*NB201_CSV)  # skips, naming the missing file, when ../shared/data is absent


# -- helpers ------------------------------------------------------------------------------
def _journalled(exp: Experiment) -> int:
    """Trials in the experiment's journal, read with a connection of our own."""
    db = exp.folder / "experiment.sqlite"
    if not db.exists():
        return 0
    con = sqlite3.connect(str(db), timeout=5)
    try:
        return int(con.execute("SELECT COUNT(*) FROM trials").fetchone()[0])
    except sqlite3.OperationalError:  # the tables are not there yet
        return 0
    finally:
        con.close()


def _until(predicate, timeout: float, what: str) -> None:
    end = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < end, f"{what}: not within {timeout} s"
        time.sleep(0.01)


def _depth(key: str) -> int:
    return 0 if key == "empty" else key.count("|") + 1


def _running_max(values) -> np.ndarray:
    """Running maximum that skips NaN (NaN before the first number)."""
    out, best = [], math.nan
    for v in values:
        if v == v and (best != best or v > best):
            best = v
        out.append(best)
    return np.array(out, dtype=float)


def _config(bench: str = "moons", **fields) -> ExperimentConfig:
    if bench == "nb201":
        fields.setdefault("space", "nb201")
        fields.setdefault("benchmark_options", {"path": str(nb201_path()), **NB201_OPTIONS})
    return ExperimentConfig(benchmark=bench, **fields)


def _reference(bench: str, moons_ref, request):
    return moons_ref if bench == "moons" else request.getfixturevalue("nb201")


# -- 1. lifecycle -------------------------------------------------------------------------
@pytest.mark.parametrize("bench", ["moons", "nb201"])
def test_run_matches_a_hand_written_loop_and_the_table(bench, moons_ref, request):
    n, seed = 300, 4
    ref = _reference(bench, moons_ref, request)
    exp = Experiment(_config(bench, strategy="random_search", max_trial_number=n, seed=seed))
    assert exp.get_status() == "INITIALIZED"
    assert exp.run() is True
    assert exp.get_status() == "DONE"
    f = exp.trials()
    for column in ("trial", "key", "status", "validation", "test", "best_validation", "best_test"):
        assert column in f.columns
    assert len(f) == n
    assert f["trial"].tolist() == list(range(1, n + 1))
    assert f["trial_job_id"].tolist() == [f"{i:06d}" for i in range(1, n + 1)]
    assert (f["status"] == "SUCCEEDED").all()
    assert (f["query"] == f["trial"]).all()

    # the same trace as a hand-written ask/query/tell loop
    s = strategies.get("random_search")(ref.space, seed=seed)
    keys, vals = [], []
    for _ in range(n):
        arch = s.ask()
        m = ref.query(arch)
        s.tell(arch, m)
        keys.append(ref.space.key(arch))
        vals.append(float(m.validation_accuracy))
    assert f["key"].tolist() == keys
    np.testing.assert_allclose(f["validation"], vals)

    # each row holds the benchmark's own values for its key
    own = [ref.query_key(k) for k in f["key"]]
    np.testing.assert_allclose(f["validation"], [m.validation_accuracy for m in own])
    np.testing.assert_allclose(f["test"], [m.test_accuracy for m in own])

    # best so far: the running max, and the test accuracy of the row that set it (earlier on ties)
    np.testing.assert_allclose(f["best_validation"], np.maximum.accumulate(f["validation"].to_numpy()))
    best_row = [int(np.argmax(f["validation"].to_numpy()[: i + 1])) for i in range(n)]
    np.testing.assert_allclose(f["best_test"], f["test"].to_numpy()[best_row])
    assert f["key"].nunique() > n // 3  # it did sample, not repeat one architecture


def test_same_seed_same_trace_other_seed_other_trace():
    def frame(seed):
        exp = Experiment(_config(strategy="random_search", max_trial_number=200, seed=seed))
        assert exp.run()
        return exp.trials()[["key", "validation"]]

    a, b, c = frame(11), frame(11), frame(12)
    pd.testing.assert_frame_equal(a, b)
    assert a["key"].tolist() != c["key"].tolist()


def test_nni_training_service_form_and_not_twice():
    exp = Experiment("local", benchmark="moons", max_trial_number=5, seed=1)
    assert exp.run() and len(exp.trials()) == 5
    with pytest.raises(ExperimentError, match="resume"):
        exp.run()  # a finished experiment runs again only through resume
    with pytest.raises(ConfigError, match="'remote'"):
        Experiment("remote")
    with pytest.raises(ExperimentError, match="has not started"):
        Experiment(_config(max_trial_number=3)).trials()


# -- 2. every strategy, drawn together ----------------------------------------------------
@STRATEGIES
def test_every_strategy_runs_on_moons_and_analysis_draws_them(moons, moons_ref):
    from nasbench_lab.analysis.figures import best_so_far_curves
    from nasbench_lab.analysis.tables import budget_table

    n = 60
    names = ["random_search", "random_walk", "local_search", "reinforce"]
    frames = []
    for name in names:
        exp = Experiment(ExperimentConfig(benchmark=moons, strategy=name, max_trial_number=n, seed=2))
        assert exp.run(), (name, exp.get_experiment_profile()["error"])
        f = exp.trials()
        assert len(f) >= 1 and (f["status"] == "SUCCEEDED").all(), name
        assert f["trial"].tolist() == list(range(1, len(f) + 1)), name
        assert (f["agent"] == name).all() and (f["benchmark"] == "moons").all()
        assert f["query"].is_monotonic_increasing and f["query"].max() <= n, name
        if name != "local_search":  # local search reports one architecture per episode
            assert len(f) == n, name
        np.testing.assert_allclose(f["validation"], [moons_ref.query_key(k).validation_accuracy for k in f["key"]])
        frames.append(f)
    frame = pd.concat(frames, ignore_index=True)

    fig = best_so_far_curves(frame, n_resamples=200)
    lines = fig.axes[0].get_lines()
    assert len(lines) == len(names)
    labels = " ".join(line.get_label() for line in lines)
    for label in ("Random Search", "Random Walk", "Local Search", "REINFORCE"):
        assert label in labels
    import matplotlib.pyplot as plt

    plt.close(fig)

    budgets = (10, 30, 60)
    table = budget_table(frame, budgets=budgets, n_resamples=200)
    groups = table.groupby("agent")
    assert sorted(groups.groups) == sorted(names)
    assert all(len(g) == len(budgets) and g["budget"].tolist() == list(budgets) for _, g in groups)
    # one run per agent: the table's mean is that run's best-so-far test accuracy at the budget
    for name, f in zip(names, frames):
        for b in budgets:
            seen = f[f["query"] <= b]
            want = seen["best_test"].iloc[-1] if len(seen) else math.nan
            got = table[(table["agent"] == name) & (table["budget"] == b)]["mean"].item()
            assert (math.isnan(want) and math.isnan(got)) or got == pytest.approx(want), (name, b)


@STRATEGIES
def test_all_four_strategies_on_nb201(nb201):
    """Random search, random walk, local search and REINFORCE (over NB201's six edge
    decisions) run through the Experiment on the shared table; values are the table's."""
    for bench in (nb201, "nb201"):
        for name in ("random_search", "random_walk", "local_search", "reinforce"):
            cfg = ExperimentConfig(benchmark=bench, strategy=name, max_trial_number=40, seed=0,
                                   benchmark_options={} if bench is nb201 else {"path": str(nb201_path()),
                                                                                 **NB201_OPTIONS})
            exp = Experiment(cfg)
            assert exp.run(), name
            f = exp.trials()
            assert len(f) >= 1 and (f["status"] == "SUCCEEDED").all()
            np.testing.assert_allclose(f["test"], [nb201.query_key(k).test_accuracy for k in f["key"]])
            if name == "reinforce":
                assert len(f) == 40 and f["key"].nunique() > 20
    assert all(e["status"] == "DONE" for e in Experiment.get_all_experiments_metadata())


# -- 3. stop and resume -------------------------------------------------------------------
def test_stop_then_resume_continues_the_same_trace():
    cfg = _config(strategy="random_search", max_trial_number=HUGE, seed=7, journal_batch=128)
    exp = Experiment(cfg)
    exp.start()
    _until(lambda: _journalled(exp) >= 500, 20, "first trials journalled")
    exp.stop()
    assert exp.get_status() == "STOPPED"
    n1 = _journalled(exp)
    assert 500 <= n1 < HUGE
    assert len(exp.trials()) == n1  # every trial run is kept
    assert Experiment.get_experiment_metadata(exp.id)["status"] == "STOPPED"

    again = Experiment.resume(exp.id, wait_completion=False)
    _until(lambda: _journalled(again) >= n1 + 500, 20, "resumed trials journalled")
    again.stop()
    assert again.get_status() == "STOPPED"
    n2 = _journalled(again)
    assert n1 + 500 <= n2 < HUGE

    again.update_max_trial_number(n2 + 1000)
    final = Experiment.resume(exp.id)
    assert final.get_status() == "DONE"
    f = final.trials()
    total = n2 + 1000
    assert f["trial"].tolist() == list(range(1, total + 1))  # contiguous, no duplicates
    assert (f["status"] == "SUCCEEDED").all()

    ref = Experiment(dataclasses.replace(cfg, max_trial_number=total))
    assert ref.run()
    g = ref.trials()
    assert f["key"].tolist() == g["key"].tolist()
    np.testing.assert_array_equal(f["validation"], g["validation"])
    np.testing.assert_array_equal(f["best_validation"], g["best_validation"])


# -- 4. reading (NNI's shapes) ------------------------------------------------------------
def test_reading_api_has_nnis_shapes():
    n = 20
    exp = Experiment(_config(strategy="random_search", max_trial_number=n, seed=3, name="reader"))
    assert exp.run()
    f = exp.trials()

    data = exp.export_data()
    assert len(data) == n and all(isinstance(r, TrialResult) for r in data)
    assert [r.trialJobId for r in data] == [f"{i:06d}" for i in range(1, n + 1)]
    assert [r.parameter for r in data] == [{"key": k} for k in f["key"]]
    assert [r.value for r in data] == pytest.approx(f["validation"].tolist())
    assert all(isinstance(r.value, float) for r in data)

    jobs = exp.list_trial_jobs()
    assert len(jobs) == n and all(isinstance(j, TrialJob) for j in jobs)
    assert [j.trialJobId for j in jobs] == [f"{i:06d}" for i in range(1, n + 1)]
    assert all(j.status == "SUCCEEDED" and j.startTime <= j.endTime and j.error is None for j in jobs)
    assert [j.finalMetricData for j in jobs] == pytest.approx(f["validation"].tolist())
    assert [j.test for j in jobs] == pytest.approx(f["test"].tolist())
    assert exp.get_trial_job("000003") == exp.get_trial_job(3) == jobs[2]
    assert jobs[2].hyperParameters == {"key": f["key"].iloc[2]} and jobs[2].trial == 3
    with pytest.raises(ExperimentError, match="no trial"):
        exp.get_trial_job(n + 1)
    with pytest.raises(ExperimentError, match="not a trial job id"):
        exp.get_trial_job("abc")

    metrics = exp.get_job_metrics()
    assert list(metrics) == [f"{i:06d}" for i in range(1, n + 1)]
    for i, (jid, ms) in enumerate(metrics.items()):
        final = [m for m in ms if m.type == "FINAL"]
        assert len(final) == 1 and isinstance(final[0], TrialMetricData)
        assert final[0].trialJobId == jid and final[0].parameterId == str(i + 1) and final[0].sequence == 0
        assert final[0].data == pytest.approx(f["validation"].iloc[i])
        assert all(m.type in ("PERIODICAL", "FINAL") for m in ms)
    assert list(exp.get_job_metrics("000003")) == ["000003"]
    assert exp.get_job_metrics(3) == {"000003": metrics["000003"]}

    stats = exp.get_job_statistics()
    assert all(set(d) == {"trialJobStatus", "trialJobNumber"} for d in stats)
    assert sum(d["trialJobNumber"] for d in stats) == n
    assert {d["trialJobStatus"]: d["trialJobNumber"] for d in stats} == {"SUCCEEDED": n}

    profile = exp.get_experiment_profile()
    assert profile["id"] == exp.id and profile["status"] == "DONE" and profile["name"] == "reader"
    assert profile["params"]["max_trial_number"] == n and profile["params"]["strategy"] == "random_search"
    assert profile["params"] == exp.config.to_dict()
    assert profile["maxSequenceId"] == n and profile["trialCounts"] == {"SUCCEEDED": n}
    assert Path(profile["logDir"]) == exp.folder and profile["execDuration"] >= 0

    other = Experiment(_config(max_trial_number=2, seed=1))
    assert other.run()
    meta = Experiment.get_experiment_metadata(exp.id)
    assert meta["id"] == exp.id and meta["status"] == "DONE" and meta["name"] == "reader"
    assert Path(meta["folder"]) == exp.folder.resolve()
    assert [e["id"] for e in Experiment.get_all_experiments_metadata()] == [exp.id, other.id]
    with pytest.raises(ExperimentError, match="'nosuch'"):
        Experiment.get_experiment_metadata("nosuch")

    viewed = Experiment.view(exp.id)
    pd.testing.assert_frame_equal(viewed.trials(), f)
    assert viewed.get_status() == "DONE"
    with pytest.raises(ExperimentError, match="viewing"):
        viewed.run()
    with pytest.raises(ExperimentError, match="finished"):
        exp.kill_trial_job(3)  # nothing to kill: it has succeeded


# -- 5. changing while running ------------------------------------------------------------
def test_raised_limit_lets_a_done_experiment_go_on():
    cfg = _config(strategy="random_search", max_trial_number=50, seed=5)
    exp = Experiment(cfg)
    assert exp.run()
    with pytest.raises(ConfigError, match="max_trial_number"):
        exp.update_max_trial_number(0)
    assert exp.config.max_trial_number == 50  # a refused update changes nothing
    exp.update_max_trial_number(120)
    again = Experiment.resume(exp.id)
    assert again.get_status() == "DONE"
    f = again.trials()
    assert f["trial"].tolist() == list(range(1, 121))
    ref = Experiment(dataclasses.replace(cfg, max_trial_number=120))
    assert ref.run()
    assert f["key"].tolist() == ref.trials()["key"].tolist()
    # resuming a finished experiment whose limit was not raised runs nothing more
    assert len(Experiment.resume(exp.id).trials()) == 120


def test_lowered_limit_stops_a_running_experiment():
    exp = Experiment(_config(strategy="random_search", max_trial_number=HUGE, seed=6, journal_batch=64))
    exp.start()
    _until(lambda: _journalled(exp) >= 200, 20, "first trials journalled")
    limit = _journalled(exp) + 3000
    exp.update_max_trial_number(limit)
    assert exp.wait(20), "the lowered limit did not stop it"
    assert exp.get_status() == "DONE"
    assert len(exp.trials()) == limit
    assert Experiment.view(exp.id).config.max_trial_number == limit  # persisted


def test_duration_limit_ends_a_huge_experiment_and_stopped_time_does_not_count():
    exp = Experiment(_config(strategy="random_search", max_trial_number=HUGE, seed=8))
    exp.start()
    _until(lambda: _journalled(exp) >= 100, 20, "first trials journalled")
    t0 = time.monotonic()
    exp.update_max_experiment_duration("1s")
    assert exp.wait(10), "the 1s duration did not end it"
    assert time.monotonic() - t0 < 5
    assert exp.get_status() == "DONE"
    n = len(exp.trials())
    assert 100 <= n < HUGE
    spent = exp.get_experiment_profile()["execDuration"]
    assert 1.0 <= spent < 5

    time.sleep(0.3)  # stopped time does not count: the spent second is still spent
    assert len(Experiment.resume(exp.id).trials()) == n
    exp.update_max_experiment_duration("1.4s")
    again = Experiment.resume(exp.id)
    assert again.get_status() == "DONE"
    assert len(again.trials()) > n
    assert 1.4 <= again.get_experiment_profile()["execDuration"] < 5
    for bad in ("10 minutes", "-1s", "abc"):
        with pytest.raises(ConfigError, match="duration"):
            again.update_max_experiment_duration(bad)
    assert again.config.max_experiment_duration == "1.4s"


def test_search_space_update_applies_to_later_trials_and_survives_resume():
    small = ChainSpace(max_depth=1)
    allowed = {small.key(a) for a in small.enumerate()}
    assert len(allowed) == 21
    exp = Experiment(_config(strategy="random_search", max_trial_number=HUGE, seed=9, journal_batch=64))
    exp.start()
    _until(lambda: _journalled(exp) >= 500, 20, "first trials journalled")
    exp.update_search_space(small)
    c1 = _journalled(exp)
    _until(lambda: _journalled(exp) >= c1 + 2000, 20, "trials after the update")
    exp.stop()
    assert exp.get_status() == "STOPPED", exp.get_experiment_profile()["error"]
    f = exp.trials()
    before = f[f["trial"] <= 500]
    after = f[f["trial"] > c1 + 64]  # the batch running at the update may finish in the old space
    assert before["key"].map(_depth).max() > 1
    assert len(after) >= 1000 and set(after["key"]) <= allowed
    assert len(set(after["key"])) >= 15  # sampled from the new space, not stuck
    assert (f["status"] == "SUCCEEDED").all()

    # the store keeps the space object's place: a plain resume cannot guess it
    n = len(f)
    exp.update_max_trial_number(n + 500)
    with pytest.raises(ExperimentError, match="live objects"):
        Experiment.resume(exp.id)
    assert len(exp.trials()) == n
    again = Experiment.resume(exp.id, space=ChainSpace(max_depth=1))
    assert again.get_status() == "DONE"
    g = again.trials()
    assert g["trial"].tolist() == list(range(1, n + 501))
    assert set(g[g["trial"] > n]["key"]) <= allowed


def test_search_space_update_to_a_larger_space_keys_its_archs():
    """Trials asked from the updated space are keyed by it (not the space at start)."""
    moons_space = benchmarks.load("moons").space
    exp = Experiment(ExperimentConfig(benchmark="moons", space=ChainSpace(max_depth=1), max_trial_number=HUGE,
                                      seed=10, journal_batch=64))
    exp.start()
    _until(lambda: _journalled(exp) >= 300, 20, "first trials journalled")
    exp.update_search_space(moons_space)
    c1 = _journalled(exp)
    _until(lambda: _journalled(exp) >= c1 + 2000 or exp.get_status() != "RUNNING", 20, "trials after the update")
    exp.stop()
    assert exp.get_status() == "STOPPED", exp.get_experiment_profile()["error"]
    f = exp.trials()
    assert f[f["trial"] <= 300]["key"].map(_depth).max() <= 1
    assert f[f["trial"] > c1 + 64]["key"].map(_depth).max() == 3


# -- 6. YAML and the CLI ------------------------------------------------------------------
def test_yaml_roundtrip(tmp_path):
    cfg = ExperimentConfig(space="nb201", strategy="random_walk", strategy_options={"a": 1},
                           benchmark="nb201", benchmark_options={"path": "x.csv", **NB201_OPTIONS},
                           max_trial_number=300, max_experiment_duration="2h", trial_concurrency=2,
                           experiment_working_directory=str(tmp_path / "wd"), seed=3, name="n", id="yaml-1",
                           failure_policy="worst", protocol={"max_steps": 5})
    text = cfg.to_yaml()
    assert "max_trial_number: 300" in text and "benchmark_options:" in text
    assert ExperimentConfig.from_yaml(text) == cfg
    path = tmp_path / "cfg.yaml"
    assert cfg.to_yaml(path) == path.read_text()
    assert ExperimentConfig.from_yaml(path) == cfg
    assert ExperimentConfig.from_yaml(str(path)) == cfg
    # a live benchmark is written by its name
    live = ExperimentConfig(benchmark=benchmarks.load("moons"), max_trial_number=3)
    assert not live.serialisable and ExperimentConfig.from_yaml(live.to_yaml()).benchmark == "moons"


def test_cli_run_list_export_resume(tmp_path, capsys):
    cfg = tmp_path / "cfg.yaml"
    ExperimentConfig(benchmark="moons", strategy="random_search", max_trial_number=40, seed=2,
                     id="cli-exp").to_yaml(cfg)
    assert cli.main(["experiment", "run", str(cfg), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "cli-exp" in out and "DONE" in out
    assert cli.main(["experiment", "run", str(cfg), "--quiet", "--id", "cli-two"]) == 0
    assert cli.main(["experiment", "list"]) == 0
    listing = capsys.readouterr().out
    assert "cli-exp" in listing and "cli-two" in listing and "DONE" in listing

    view = Experiment.view("cli-exp").trials()
    assert len(view) == 40
    assert cli.main(["experiment", "export", "cli-exp", "--out", str(tmp_path / "x.csv")]) == 0
    csv = pd.read_csv(tmp_path / "x.csv")
    assert len(csv) == 40 and csv["trial"].tolist() == list(range(1, 41))
    assert csv["key"].tolist() == view["key"].tolist()
    np.testing.assert_allclose(csv["best_validation"], view["best_validation"])
    assert cli.main(["experiment", "export", "cli-exp", "--out", str(tmp_path / "sub" / "x.parquet")]) == 0
    pq = pd.read_parquet(tmp_path / "sub" / "x.parquet")
    assert pq["key"].tolist() == view["key"].tolist() and (pq["status"] == "SUCCEEDED").all()

    assert cli.main(["experiment", "resume", "cli-exp", "--quiet"]) == 0  # finished: nothing more to run
    assert len(Experiment.view("cli-exp").trials()) == 40
    capsys.readouterr()

    assert cli.main(["experiment", "resume", "nosuch-id"]) == 2
    assert "nosuch-id" in capsys.readouterr().err
    assert cli.main(["experiment", "export", "nosuch-id", "--out", str(tmp_path / "y.csv")]) == 2
    assert "nosuch-id" in capsys.readouterr().err and not (tmp_path / "y.csv").exists()
    assert cli.main(["experiment", "export", "cli-exp", "--out", str(tmp_path / "y.txt")]) == 2
    assert ".csv or .parquet" in capsys.readouterr().err
    assert cli.main(["experiment", "run", str(cfg), "--quiet"]) == 2  # the id is taken
    assert "exists already" in capsys.readouterr().err
    bad = tmp_path / "bad.yaml"
    bad.write_text("strategy: random_search\nmax_trial_number: 5\n  seed: 3\n")
    assert cli.main(["experiment", "run", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "bad.yaml" in err and "line 3" in err
    assert cli.main(["experiment", "run", str(tmp_path / "missing.yaml")]) == 2
    assert "no such config file" in capsys.readouterr().err


# -- 7. bad input -------------------------------------------------------------------------
@pytest.mark.parametrize("fields, message", [
    ({"strategy": "nope"}, r"unknown strategy 'nope'; known: .*random_search"),
    ({"space": "nope"}, r"unknown search space 'nope'; known: .*mlp"),
    ({"benchmark": "nope"}, r"unknown benchmark 'nope'; known: .*moons"),
    ({"space": "nb201"}, r"space 'nb201' does not fit benchmark 'moons'"),
    ({"space": "mlp"}, r"space 'mlp' \(67,368,421 architectures\) is larger than .*'moons'"),
    ({"max_trial_number": 0}, r"max_trial_number must be a positive integer"),
    ({"max_trial_number": -3}, r"max_trial_number must be a positive integer"),
    ({"max_trial_number": True}, r"max_trial_number must be a positive integer"),
    ({"max_trial_number": None}, r"needs a limit"),
    ({"max_experiment_duration": "10 minutes"}, r"bad duration '10 minutes'"),
    ({"max_experiment_duration": "-1s"}, r"bad duration '-1s'"),
    ({"max_experiment_duration": "abc"}, r"bad duration 'abc'"),
    ({"max_experiment_duration": "0s"}, r"must be positive"),
    ({"trial_timeout": "soon"}, r"trial_timeout: bad duration 'soon'"),
    ({"trial_concurrency": 0}, r"trial_concurrency must be an integer >= 1"),
    ({"failure_policy": "retry"}, r"failure_policy must be one of"),
    ({"id": "bad id!"}, r"id 'bad id!'"),
    ({"strategy_options": {"nope": 1}}, r"strategy 'random_search' does not fit .*\['nope'\]"),
])
def test_bad_config_is_refused_naming_the_problem(fields, message, registry):
    fields = {"max_trial_number": 5, **fields}
    with pytest.raises(ConfigError, match=message):
        Experiment(ExperimentConfig(benchmark=fields.pop("benchmark", "moons"), **fields)).run()
    assert not (registry / "registry.sqlite").exists() or Experiment.get_all_experiments_metadata() == []


def test_bad_durations_are_refused():
    assert parse_duration("2h") == 7200 and parse_duration(" 2 m ") == 120 and parse_duration("1.5h") == 5400
    assert parse_duration(30) == 30.0 and parse_duration(None) is None
    for bad in ("10 minutes", "-1s", "abc", "0s", 0, -5, float("nan"), float("inf"), True):
        with pytest.raises(ConfigError):
            parse_duration(bad)


class _OpaqueCells(NB201Space):
    """NAS-Bench-201 cells without a decision encoding: a space REINFORCE cannot write."""

    name = "opaque-cells"

    def decisions(self):
        raise NotImplementedError("opaque cells are not a sequence of decisions")


class _OverOpaqueCells(Benchmark):
    """A constant benchmark over ``_OpaqueCells``."""

    name = "over-opaque-cells"

    def __init__(self):
        super().__init__()
        self.space = _OpaqueCells()

    def _lookup(self, archs, **options):
        return Metrics(np.full(len(archs), 0.5), np.full(len(archs), 0.5))


def test_a_strategy_that_does_not_fit_the_space_is_refused():
    with pytest.raises(ConfigError, match=r"strategy 'reinforce' does not fit the 'opaque-cells' space.*categorical"):
        Experiment(ExperimentConfig(benchmark=_OverOpaqueCells(), strategy="reinforce", max_trial_number=5)).run()
    # the same benchmark runs a strategy that fits
    assert Experiment(ExperimentConfig(benchmark=_OverOpaqueCells(), strategy="random_search",
                                       max_trial_number=5)).run()


def test_bad_yaml_is_refused_naming_the_line_or_the_field(tmp_path):
    with pytest.raises(ConfigError, match=r"malformed YAML at line 3"):
        ExperimentConfig.from_yaml("strategy: random_search\nmax_trial_number: 5\n  seed: 3\n")
    path = tmp_path / "broken.yaml"
    path.write_text("benchmark: moons\nseed: [1, 2\nname: x\n")
    with pytest.raises(ConfigError, match=r"broken\.yaml: malformed YAML at line \d"):
        ExperimentConfig.from_yaml(path)
    with pytest.raises(ConfigError, match=r"unknown config field\(s\) \['max_trials'\]"):
        ExperimentConfig.from_yaml("strategy: random_search\nmax_trials: 3\n")
    with pytest.raises(ConfigError, match="mapping"):
        ExperimentConfig.from_yaml("- a\n- b\n")
    with pytest.raises(ConfigError, match="empty"):
        ExperimentConfig.from_yaml("# nothing\n")


def test_unknown_and_reused_ids(tmp_path, registry, monkeypatch):
    with pytest.raises(ExperimentError, match=r"no experiment 'nosuch'.*registry is empty"):
        Experiment.resume("nosuch")
    wd = tmp_path / "wd"
    cfg = _config(max_trial_number=5, id="fixed-1", experiment_working_directory=str(wd))
    exp = Experiment(cfg)
    assert exp.run() and exp.folder == wd / "fixed-1"
    with pytest.raises(ExperimentError, match=r"no experiment 'other'.*known: fixed-1"):
        Experiment.resume("other")
    db = exp.folder / "experiment.sqlite"
    before = db.read_bytes()
    with pytest.raises(ExperimentError, match="exists already"):
        Experiment(cfg).run()
    # a store is never silently overwritten, not even by an experiment of another registry
    monkeypatch.setenv("NASBENCH_LAB_EXPERIMENTS", str(tmp_path / "registry-2"))
    with pytest.raises(ExperimentError, match="exists already"):
        Experiment(cfg).run()
    with pytest.raises(ExperimentError, match="never overwritten"):
        ExperimentStore(exp.folder, create=True)
    assert db.read_bytes() == before
    monkeypatch.setenv("NASBENCH_LAB_EXPERIMENTS", str(registry))
    assert len(Experiment.view("fixed-1").trials()) == 5


def _done(**fields) -> Experiment:
    exp = Experiment(_config(max_trial_number=30, **fields))
    assert exp.run()
    return exp


@pytest.mark.parametrize("garbage, message", [
    (b"garbage!" * 512, r"not an SQLite database \(corrupted"),
    (b"SQLite format 3\x00" + b"\xff" * 4080, r"corrupt"),
])
def test_a_corrupted_store_is_refused(garbage, message):
    exp = _done()
    for extra in exp.folder.glob("experiment.sqlite-*"):  # WAL and shared memory
        extra.unlink()
    (exp.folder / "experiment.sqlite").write_bytes(garbage)
    with pytest.raises(ExperimentError, match=message) as e:
        Experiment.resume(exp.id)
    assert "experiment.sqlite" in str(e.value)
    with pytest.raises(ExperimentError, match=message):
        Experiment.view(exp.id)


def test_a_store_from_a_newer_version_is_refused():
    exp = _done()
    con = sqlite3.connect(str(exp.folder / "experiment.sqlite"))
    con.execute("PRAGMA user_version=99")
    con.commit()
    con.close()
    with pytest.raises(ExperimentError, match=r"newer.*99"):
        Experiment.resume(exp.id)


def test_a_locked_store():
    exp = _done()
    holder = sqlite3.connect(str(exp.folder / "experiment.sqlite"), isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        # the store: a write while another process holds the lock fails within its timeout
        store = ExperimentStore(exp.folder, timeout=0.2)
        t0 = time.monotonic()
        with pytest.raises(ExperimentError, match="locked"):
            store.set_meta(probe=1)
        assert time.monotonic() - t0 < 5
        store.close()

        # the Experiment refuses to resume at once, naming the lock
        t0 = time.monotonic()
        with pytest.raises(ExperimentError, match="locked"):
            Experiment.resume(exp.id)
        assert time.monotonic() - t0 < 10
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    # nothing was damaged: once free, it reads and resumes
    view = Experiment.view(exp.id)
    assert len(view.trials()) == 30
    assert Experiment.resume(exp.id).get_status() == "DONE"


# -- 8. the failure policy ----------------------------------------------------------------
class _Flaky(Benchmark):
    """Moons, except: the first query raises; chains starting with a 16-unit layer raise;
    chains starting with a 1-unit layer answer NaN validation (and a perfect test accuracy,
    which must never become the best)."""

    name = "flaky"

    def __init__(self, moons):
        super().__init__()
        self.moons = moons
        self.space = moons.space
        self.calls = 0

    def _lookup(self, archs, **options):
        self.calls += 1
        if self.calls == 1:
            raise RuntimeError("the first query fails")
        v, t = [], []
        for arch in archs:
            key = self.space.key(arch)
            if key.startswith("16-"):
                raise ValueError(f"flaky refuses {key}")
            m = self.moons.query_key(key)
            nan = key.startswith("1-")
            v.append(math.nan if nan else m.validation_accuracy)
            t.append(1.0 if nan else m.test_accuracy)
        return Metrics(np.array(v), np.array(t))


class _Recording(RandomSearch):
    """Random search that records what it is told."""

    def __init__(self, space, seed=0):
        super().__init__(space, seed)
        self.told = []

    def tell(self, arch, metrics):
        self.told.append(reward_of(metrics))
        super().tell(arch, metrics)


def _nan(x):
    return math.nan if x is None else float(x)


@pytest.mark.parametrize("policy", ["ignore", "worst"])
def test_failed_trials_are_recorded_never_best_and_told_by_the_policy(policy, moons_ref):
    n = 300
    bench = _Flaky(moons_ref)
    strategy = _Recording(bench.space, seed=1)
    exp = Experiment(ExperimentConfig(benchmark=bench, strategy=strategy, max_trial_number=n, failure_policy=policy))
    assert exp.run() is True
    assert exp.get_status() == "DONE"
    f = exp.trials()
    assert len(f) == n and f["trial"].tolist() == list(range(1, n + 1))

    raised = (f["trial"] == 1) | f["key"].str.startswith("16-")
    nan = ~raised & f["key"].str.startswith("1-")
    failed = raised | nan
    assert 10 < failed.sum() < n - 10  # both kinds happen, most trials succeed
    assert (f.loc[failed, "status"] == "FAILED").all() and (f.loc[~failed, "status"] == "SUCCEEDED").all()
    assert f.loc[failed, "validation"].isna().all() and f.loc[failed, "test"].isna().all()
    errors = f["error"]
    assert "RuntimeError: the first query fails" in errors.iloc[0] and "Traceback" in errors.iloc[0]
    for key, err in zip(f.loc[raised & (f["trial"] > 1), "key"], errors[raised & (f["trial"] > 1)]):
        assert f"ValueError: flaky refuses {key}" in err and "Traceback" in err
    assert errors[nan].str.contains("NaN").all()
    assert errors[~failed].isna().all()

    # failed trials never become the best: the running max over succeeded trials only
    ok_val = np.where(~failed, [moons_ref.query_key(k).validation_accuracy for k in f["key"]], math.nan)
    np.testing.assert_allclose(f["validation"], ok_val)
    np.testing.assert_allclose(f["best_validation"], _running_max(ok_val))
    assert (f["best_test"].dropna() < 1.0).all() and (f["oracle_test"].dropna() < 1.0).all()
    assert len(exp.export_data()) == (~failed).sum()
    job = exp.get_trial_job(1)
    assert job.status == "FAILED" and job.finalMetricData is None and "first query fails" in job.error
    stats = {d["trialJobStatus"]: d["trialJobNumber"] for d in exp.get_job_statistics()}
    assert stats == {"FAILED": int(failed.sum()), "SUCCEEDED": int((~failed).sum())}

    # what the strategy was told: the value, else NaN (ignore) or the worst value seen so far (worst)
    expected, worst = [], None
    for ok, v in zip(~failed, ok_val):
        if ok:
            worst = v if worst is None else min(worst, v)
            expected.append(v)
        else:
            expected.append(math.nan if policy == "ignore" else (0.0 if worst is None else worst))
    if policy == "worst":
        assert expected[0] == 0.0  # the first trial failed before any value was seen
    np.testing.assert_allclose(strategy.told, expected)
    told = [_nan(r["told"]) for r in ExperimentStore(exp.folder).trial_rows()]
    np.testing.assert_allclose(told, expected)
    assert strategy.trials == n
    assert strategy.failed == (failed.sum() if policy == "ignore" else 0)


# -- 9. the dashboard ---------------------------------------------------------------------
def test_widget_follows_a_running_experiment():
    pytest.importorskip("ipywidgets")
    n = 2000
    exp = Experiment(_config(strategy="random_search", max_trial_number=n, seed=12, journal_batch=64))
    w = exp.widget(interval=0.2)
    try:
        assert "INITIALIZED" in w.status.value and "no trials yet" in w.counts.value
        exp.start()
        _until(lambda: f"SUCCEEDED: <b>{n}</b>" in w.counts.value and "DONE" in w.status.value, 10,
               "the widget's counts reach the final count")
        assert exp.wait(10) and exp.get_status() == "DONE"
        last = exp.trials()["key"].iloc[-1]
        _until(lambda: last in w.table.value, 5, "the latest trials table shows the last trial")
    finally:
        w.close()
    # built on a finished experiment it draws at once (the plot, the counts, the table)
    done = exp.widget()
    try:
        assert f"SUCCEEDED: <b>{n}</b>" in done.counts.value and "DONE" in done.status.value
        assert "experiment-latest" in done.table.value
        assert bytes(done.plot.value).startswith(b"\x89PNG")  # the best-so-far plot
    finally:
        done.close()

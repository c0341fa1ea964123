"""SIGKILL at random instants: an experiment resumed after each kill ends with exactly the
trials of an uninterrupted run with the same seed (none lost, none run twice, numbering
continued).

The experiment runs in a subprocess (``nasbench-lab experiment run`` / ``resume``), which
is killed with SIGKILL at 20 instants, each drawn uniformly over the time the process would
take (its start-up plus the trials still to run, from an uninterrupted run's timing), and
resumed each time; the last resume runs to the end.
"""
from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from nasbench_lab.experiment import Experiment, ExperimentConfig

pytestmark = pytest.mark.xdist_group("experiment_kill")


def _cli(args, env) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "nasbench_lab.cli", "experiment", *args, "--quiet"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _kill_and_resume(tmp_path, monkeypatch, cfg: ExperimentConfig, kills: int, seed: int):
    root = tmp_path / "registry"
    monkeypatch.setenv("NASBENCH_LAB_EXPERIMENTS", str(root))
    env = {**os.environ, "NASBENCH_LAB_EXPERIMENTS": str(root), "PYTHONUNBUFFERED": "1"}
    cfg_path = tmp_path / "cfg.yaml"
    cfg.to_yaml(cfg_path)

    # the uninterrupted reference, through the same command
    t0 = time.perf_counter()
    ref = _cli(["run", str(cfg_path), "--id", "reference"], env)
    out, err = ref.communicate(timeout=300)
    duration = time.perf_counter() - t0
    assert ref.returncode == 0, err
    reference = Experiment.view("reference").trials()
    assert len(reference) == cfg.max_trial_number

    # start-up alone (imports, store creation): a one-trial experiment
    t0 = time.perf_counter()
    small = tmp_path / "small.yaml"
    dataclasses.replace(cfg, max_trial_number=1).to_yaml(small)
    p = _cli(["run", str(small), "--id", "startup"], env)
    p.communicate(timeout=300)
    startup = time.perf_counter() - t0
    work = max(duration - startup, 0.1)

    rng = np.random.default_rng(seed)
    popen_env = env
    killed_mid_run = 0
    for _ in range(kills):
        exists = (root / "killed" / "experiment.sqlite").exists()
        done = len(Experiment.view("killed").trials()) if exists else 0
        # uniform over what this process would take: start-up plus the trials still to run
        instant = rng.uniform(0.0, startup + work * (cfg.max_trial_number - done) / cfg.max_trial_number)
        p = _cli(["resume", "killed"] if exists else ["run", str(cfg_path), "--id", "killed"], popen_env)
        time.sleep(instant)
        if p.poll() is None:
            os.kill(p.pid, signal.SIGKILL)
            killed_mid_run += 1
        p.communicate(timeout=300)
        if p.returncode not in (0, -signal.SIGKILL):
            pytest.fail(f"the experiment process failed (rc {p.returncode}): {p.stderr}")
    # the last resume runs to the end
    exists = (root / "killed" / "experiment.sqlite").exists()
    p = _cli(["resume", "killed"] if exists else ["run", str(cfg_path), "--id", "killed"], popen_env)
    _, err = p.communicate(timeout=300)
    assert p.returncode == 0, err
    assert killed_mid_run >= kills // 2, f"only {killed_mid_run} of {kills} kills hit a running process"

    final = Experiment.view("killed")
    assert final.get_status() == "DONE"
    trials = final.trials()
    # none lost, none twice, numbering continued
    assert trials["trial"].tolist() == list(range(1, cfg.max_trial_number + 1))
    assert (trials["status"] == "SUCCEEDED").all()
    # the same trace as the uninterrupted run
    assert trials["key"].tolist() == reference["key"].tolist()
    np.testing.assert_array_equal(trials["validation"].to_numpy(), reference["validation"].to_numpy())
    np.testing.assert_array_equal(trials["best_test"].to_numpy(), reference["best_test"].to_numpy())
    return killed_mid_run


def test_sigkill_twenty_times_random_search(tmp_path, monkeypatch):
    """Random search on Moons, 60,000 trials (journalled in batches), killed 20 times."""
    cfg = ExperimentConfig(benchmark="moons", strategy="random_search", max_trial_number=60_000, seed=3,
                           journal_batch=256)
    _kill_and_resume(tmp_path, monkeypatch, cfg, kills=20, seed=0)


@pytest.mark.parametrize("strategy, trials, batch", [
    ("regularized_evolution", 8_000, 256),
    pytest.param("reinforce", 400, 16, marks=pytest.mark.slow),
    pytest.param("tpe", 150, 4, marks=pytest.mark.slow),
])
def test_sigkill_learning_strategies_resume_identically(tmp_path, monkeypatch, strategy, trials, batch):
    """Strategies with state beyond a generator: evolution (population, ages, pending
    children, seen keys), REINFORCE (torch weights, Adam state, baseline, entropy
    schedule) and TPE (the optuna study replayed, the sampler's generators restored),
    killed 20 times: the resumed trace equals the uninterrupted one."""
    cfg = ExperimentConfig(benchmark="moons", strategy=strategy, max_trial_number=trials, seed=1, journal_batch=batch)
    _kill_and_resume(tmp_path, monkeypatch, cfg, kills=20, seed=1)

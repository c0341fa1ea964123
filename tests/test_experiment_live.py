"""Live trials of the Experiment: worker processes, failures, hangs, dead workers, GPUs.

The evaluator functions below run in spawned worker processes (they re-import this
module), one per trial. A scripted strategy asks a fixed list of MLP chains so that each
test knows which trial does what.
"""
from __future__ import annotations

import os
import signal
import time

import pytest

from nasbench_lab.experiment import Experiment, ExperimentConfig
from nasbench_lab.experiment._workers import report_intermediate_result
from nasbench_lab.spaces.mlp import Chain, ChainSpace

from _scripted import Scripted

pytestmark = [pytest.mark.xdist_group("experiment_live"), pytest.mark.usefixtures("registry")]

SPACE = ChainSpace(max_depth=3)


def chain(*widths) -> Chain:
    return Chain(tuple((w, "ReLU") for w in widths))


def behaving(arch) -> dict:
    """The evaluator: fails, hangs or dies on chosen chains, else returns an accuracy."""
    key = SPACE.key(arch)
    if key == "1-ReLU":
        raise ValueError("boom: this trial fails on purpose")
    if key == "2-ReLU":
        time.sleep(600)
    if key == "4-ReLU":
        os.kill(os.getpid(), signal.SIGKILL)
    for step in range(3):
        report_intermediate_result(0.1 * (step + 1))
    return {"default": 0.5 + 0.01 * len(key), "test": 0.4}


def placement(arch) -> dict:
    """Returns the worker's CUDA_VISIBLE_DEVICES as its 'test' value (and holds a moment)."""
    time.sleep(0.3)
    devices = os.environ.get("CUDA_VISIBLE_DEVICES", "unset")
    return {"default": 0.5, "test": float(devices) if devices.isdigit() else -1.0}


def _scripted(archs):
    return Scripted(SPACE, archs=archs)


def test_failing_hanging_and_dying_trials_are_failed_and_the_experiment_completes():
    archs = [chain(8), chain(1), chain(2), chain(4), chain(16)]
    strategy = _scripted(archs)
    exp = Experiment(ExperimentConfig(space=SPACE, strategy=strategy, benchmark=None,
                                      evaluator=behaving, max_trial_number=10, trial_concurrency=3,
                                      trial_timeout="12s", failure_policy="ignore"))
    t0 = time.time()
    assert exp.run() is True
    assert time.time() - t0 < 120
    assert exp.get_status() == "NO_MORE_TRIAL"
    jobs = {j.hyperParameters["key"]: j for j in exp.list_trial_jobs()}
    assert set(jobs) == {"8-ReLU", "1-ReLU", "2-ReLU", "4-ReLU", "16-ReLU"}
    assert jobs["8-ReLU"].status == jobs["16-ReLU"].status == "SUCCEEDED", (jobs["8-ReLU"].error, jobs["16-ReLU"].error)
    assert jobs["8-ReLU"].finalMetricData == pytest.approx(0.5 + 0.01 * len("8-ReLU"))
    failed = jobs["1-ReLU"]
    assert failed.status == "FAILED" and "ValueError" in failed.error and "boom" in failed.error
    hung = jobs["2-ReLU"]
    assert hung.status == "FAILED" and "timed out" in hung.error
    assert 12 <= hung.endTime - hung.startTime < 40
    died = jobs["4-ReLU"]
    assert died.status == "FAILED" and ("died" in died.error or "SIGKILL" in died.error)
    # the strategy was told NaN for the three failures (policy "ignore") and the values otherwise
    told = dict(strategy.told)
    assert set(told) == set(jobs)
    assert all(told[k] != told[k] for k in ("1-ReLU", "2-ReLU", "4-ReLU"))
    assert told["8-ReLU"] == pytest.approx(jobs["8-ReLU"].finalMetricData)
    # intermediate results of the succeeded trials arrive as PERIODICAL metrics, then FINAL
    metrics = exp.get_job_metrics(jobs["8-ReLU"].trialJobId)[jobs["8-ReLU"].trialJobId]
    assert [m.type for m in metrics].count("PERIODICAL") == 3
    assert [m.data for m in metrics if m.type == "PERIODICAL"] == pytest.approx([0.1, 0.2, 0.3])
    assert [m.type for m in metrics][-1] == "FINAL"
    frame = exp.trials()
    assert frame.loc[frame["status"] == "FAILED", "validation"].isna().all()
    assert frame["best_validation"].max() == pytest.approx(max(j.finalMetricData for j in jobs.values()
                                                               if j.status == "SUCCEEDED"))


def test_worst_failure_policy_tells_the_worst_value_seen():
    archs = [chain(8), chain(16, 16), chain(1)]
    strategy = _scripted(archs)
    exp = Experiment(ExperimentConfig(space=SPACE, strategy=strategy, benchmark=None, evaluator=behaving,
                                      max_trial_number=3, trial_concurrency=1, failure_policy="worst"))
    assert exp.run()
    told = dict(strategy.told)
    worst = min(0.5 + 0.01 * len("8-ReLU"), 0.5 + 0.01 * len("16-ReLU|16-ReLU"))
    assert told["1-ReLU"] == pytest.approx(worst)
    assert exp.get_trial_job(3).status == "FAILED"


def test_gpu_placement_follows_trial_gpu_number_on_a_fake_device_list():
    """Four trials, two at a time, one GPU each out of the fake devices [0, 1], one trial per GPU."""
    strategy = _scripted([chain(1), chain(2), chain(4), chain(8)])
    exp = Experiment(ExperimentConfig(space=SPACE, strategy=strategy, benchmark=None, evaluator=placement,
                                      max_trial_number=4, trial_concurrency=4, trial_gpu_number=1,
                                      max_trial_number_per_gpu=1, gpu_indices=[0, 1]))
    assert exp.run()
    jobs = exp.list_trial_jobs()
    assert [j.status for j in jobs] == ["SUCCEEDED"] * 4
    devices = [j.test for j in jobs]
    assert sorted(devices) == [0.0, 0.0, 1.0, 1.0]
    # never two trials on one GPU at once: trials on the same device do not overlap in time
    for d in (0.0, 1.0):
        spans = sorted((j.startTime, j.endTime) for j in jobs if j.test == d)
        assert spans[0][1] <= spans[1][0] + 1e-3


def test_stop_cancels_running_trials_and_resume_runs_them_again():
    archs = [chain(8), chain(16), chain(8, 8)]
    strategy = _scripted(archs)
    cfg = ExperimentConfig(space=SPACE, strategy=strategy, benchmark=None, evaluator=placement,
                           max_trial_number=3, trial_concurrency=1)
    exp = Experiment(cfg)
    exp.start()
    deadline = time.time() + 30
    while time.time() < deadline and not any(j.status == "RUNNING" for j in _jobs(exp)):
        time.sleep(0.05)
    exp.stop()
    assert exp.get_status() == "STOPPED"
    statuses = [j.status for j in exp.list_trial_jobs()]
    assert "RUNNING" not in statuses and len([s for s in statuses if s == "SUCCEEDED"]) < 3
    with pytest.raises(Exception, match="live objects .*space"):  # a space object is not rebuilt from its name
        Experiment.resume(exp.id, strategy=_scripted(archs))
    # the evaluator, a module-level function, is re-imported by its name
    again = Experiment.resume(exp.id, strategy=_scripted(archs), space=SPACE)
    jobs = again.list_trial_jobs()
    assert [j.hyperParameters["key"] for j in jobs] == ["8-ReLU", "16-ReLU", "8-ReLU|8-ReLU"]
    assert [j.status for j in jobs] == ["SUCCEEDED"] * 3
    assert [j.trial for j in jobs] == [1, 2, 3]


def _jobs(exp):
    try:
        return exp.list_trial_jobs()
    except Exception:  # noqa: BLE001 - not created yet
        return []

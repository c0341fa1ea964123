"""The Ray engine of the Experiment (``training_service="ray"``) on a local Ray instance.

The instance (conftest's ``local_ray``: 2 CPUs, loopback only) is started once per test
process; every test here shares it (``xdist_group("ray")``). The trial functions live in
``_ray_trials`` so that Ray's worker processes and a driver subprocess import them by name.
"""
from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from nasbench_lab.experiment import Experiment, ExperimentConfig
from nasbench_lab.experiment.config import ConfigError
from nasbench_lab.experiment.store import ExperimentStore
from nasbench_lab.spaces.mlp import Chain

import _ray_trials
from _scripted import Scripted
from _ray_trials import SPACE, value_of

pytestmark = [pytest.mark.xdist_group("ray"), pytest.mark.usefixtures("registry")]
TESTS = Path(__file__).resolve().parent


def chain(*widths) -> Chain:
    return Chain(tuple((w, "ReLU") for w in widths))


def _ray_config(archs, evaluator, **fields) -> ExperimentConfig:
    return ExperimentConfig(space=SPACE, strategy=Scripted(SPACE, archs=archs), benchmark=None, evaluator=evaluator,
                            max_trial_number=len(archs), training_service="ray", **fields)


def _wait_for(predicate, seconds: float) -> bool:
    end = time.time() + seconds
    while time.time() < end:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def _overlap(spans) -> int:
    """The most intervals ``(start, end)`` open at one instant."""
    events = sorted([(s, 1) for s, _ in spans] + [(e, -1) for _, e in spans], key=lambda x: (x[0], x[1]))
    most = now = 0
    for _, d in events:
        now += d
        most = max(most, now)
    return most


# -- without an instance ----------------------------------------------------------------
def test_trial_resources_follow_the_gpu_settings():
    from nasbench_lab.experiment._ray import trial_resources

    assert trial_resources(0) == {"num_cpus": 1, "num_gpus": 0}
    assert trial_resources(1) == {"num_cpus": 1, "num_gpus": 1}
    assert trial_resources(1, 4) == {"num_cpus": 1, "num_gpus": 0.25}
    assert trial_resources(1, 3)["num_gpus"] == pytest.approx(1 / 3)
    assert trial_resources(2, 1) == {"num_cpus": 1, "num_gpus": 2}
    assert trial_resources(0, 4) == {"num_cpus": 1, "num_gpus": 0}  # a CPU trial asks for no GPU at all
    with pytest.raises(ConfigError, match="shares a GPU only between one-GPU trials"):
        trial_resources(2, 2)
    for bad in ((-1, 1), (1, 0), (1.5, 1), (True, 1)):
        with pytest.raises(ConfigError, match="must be an integer"):
            trial_resources(*bad)


def test_training_service_and_ray_address_are_validated():
    base = dict(benchmark="moons", max_trial_number=2)
    assert Experiment("ray", **base).config.training_service == "ray"
    assert Experiment("local", **base).config.training_service == "local"
    with pytest.raises(ConfigError, match="unknown training service 'kubernetes'"):
        Experiment("kubernetes", **base)
    with pytest.raises(ConfigError, match="training_service must be one of"):
        ExperimentConfig(training_service="slurm", **base).validate()
    for good in ("auto", "ray://head:10001", "10.0.0.5:6379", None):
        ExperimentConfig(training_service="ray", ray_address=good, **base).validate()
    for bad in ("http://head:8265", "head", 6379, "ray://head"):
        with pytest.raises(ConfigError, match="ray_address"):
            ExperimentConfig(training_service="ray", ray_address=bad, **base).validate()
    with pytest.raises(ConfigError, match="is for training_service='ray'"):
        ExperimentConfig(ray_address="auto", **base).validate()
    with pytest.raises(ConfigError, match="gpu_indices"):
        ExperimentConfig(training_service="ray", gpu_indices=[0], **base).validate()
    with pytest.raises(ConfigError, match="max_trial_number_per_gpu=1"):
        ExperimentConfig(training_service="ray", trial_gpu_number=2, max_trial_number_per_gpu=2, **base).validate()
    cfg = ExperimentConfig(training_service="ray", ray_address="auto", **base)
    again = ExperimentConfig.from_yaml(cfg.to_yaml())
    assert (again.training_service, again.ray_address) == ("ray", "auto")
    from nasbench_lab.strategies.apex import ApexConfig

    assert ApexConfig(backend="ray", ray_address="auto").ray_address == "auto"
    with pytest.raises(ValueError, match="ApexConfig: ray_address"):
        ApexConfig(backend="ray", ray_address="http://head:8265")


def test_without_ray_the_message_says_pip_install_the_ray_extra(monkeypatch):
    from nasbench_lab import _ray
    from nasbench_lab.paths import MissingExtra

    monkeypatch.setitem(sys.modules, "ray", None)  # as if Ray were not installed
    exp = Experiment(_ray_config([chain(8)], _ray_trials.steady))
    with pytest.raises(MissingExtra, match=r"pip install 'nasbench-lab\[ray\]'"):
        exp.run()
    with pytest.raises(MissingExtra, match=r"nasbench-lab\[ray\]"):
        _ray.init()
    # a benchmark answered in-process needs no Ray, whatever the service
    table = Experiment("ray", benchmark="moons", max_trial_number=5)
    assert table.run() is True and len(table.list_trial_jobs()) == 5


# -- on the local instance -------------------------------------------------------------
def test_the_local_instance_listens_on_loopback_only(local_ray):
    from nasbench_lab import _ray

    address = _ray.address_of_connection()
    assert address is not None and address.startswith("127.0.0.1:"), address
    assert all(n["NodeManagerAddress"] == "127.0.0.1" for n in local_ray.nodes() if n["Alive"])


@pytest.mark.slow
def test_ray_trials_give_the_results_of_local_trials_on_a_live_benchmark(local_ray):
    """Seeded training: the same architectures get the same accuracies on both engines."""
    from nasbench_lab.benchmarks.moons import MoonsConfig, MoonsTrainer

    trainer = MoonsTrainer(MoonsConfig(n_samples=300, n_train=180, n_val=60, steps=30), seeds=(0,), cache=False)
    frames = {}
    for service in ("local", "ray"):
        exp = Experiment(service, benchmark=trainer, strategy="random_search", max_trial_number=4,
                         trial_concurrency=2, seed=3)
        assert exp.run() is True, exp.get_experiment_profile()["error"]
        frames[service] = exp.trials()
    local, ray_ = frames["local"], frames["ray"]
    assert (ray_["status"] == "SUCCEEDED").all() and (local["status"] == "SUCCEEDED").all()
    assert ray_["key"].tolist() == local["key"].tolist()
    assert ray_["validation"].tolist() == local["validation"].tolist()
    assert ray_["test"].tolist() == local["test"].tolist()
    assert ray_["validation"].nunique() > 1  # the comparison is between different trained networks


def test_a_failing_and_a_dying_trial_are_failed_and_the_rest_succeed(local_ray):
    archs = [chain(8), chain(1), chain(4), chain(16), chain(8, 8)]
    exp = Experiment(_ray_config(archs, _ray_trials.behaving, trial_concurrency=2))
    assert exp.run() is True, exp.get_experiment_profile()["error"]
    assert exp.get_status() == "DONE"  # every trial ran: the experiment went on past both failures
    jobs = {j.hyperParameters["key"]: j for j in exp.list_trial_jobs()}
    assert [j.trial for j in exp.list_trial_jobs()] == [1, 2, 3, 4, 5]
    failed, died = jobs.pop("1-ReLU"), jobs.pop("4-ReLU")
    assert failed.status == "FAILED" and "ValueError" in failed.error and "boom" in failed.error
    assert died.status == "FAILED" and "died" in died.error and "WorkerCrashedError" in died.error
    for key, job in jobs.items():
        assert job.status == "SUCCEEDED", (key, job.error)
        assert job.finalMetricData == pytest.approx(value_of(key))
    told = dict(exp._objects["strategy"].told)
    assert math.isnan(told["1-ReLU"]) and math.isnan(told["4-ReLU"])
    # intermediate results reach the store as on the local engine: PERIODICAL, then FINAL
    jid = jobs["8-ReLU"].trialJobId
    metrics = exp.get_job_metrics(jid)[jid]
    assert [m.type for m in metrics] == ["PERIODICAL", "PERIODICAL", "FINAL"]
    assert [m.data for m in metrics[:2]] == pytest.approx([0.1, 0.2])
    frame = exp.trials()
    assert frame["best_validation"].max() == pytest.approx(max(value_of(k) for k in jobs))


def test_a_trial_past_its_timeout_is_cancelled_and_failed(local_ray):
    exp = Experiment(_ray_config([chain(2), chain(8)], _ray_trials.hang, trial_concurrency=1, trial_timeout="2s"))
    t0 = time.time()
    assert exp.run() is True
    assert time.time() - t0 < 60
    jobs = exp.list_trial_jobs()
    assert [j.status for j in jobs] == ["FAILED", "FAILED"]
    assert all("timed out after 2.0 s" in j.error for j in jobs)
    assert all(2 <= j.endTime - j.startTime < 20 for j in jobs)


def test_more_gpus_per_trial_than_the_cluster_has_is_a_clear_error(local_ray):
    have = int(local_ray.cluster_resources().get("GPU", 0))
    exp = Experiment(_ray_config([chain(8)], _ray_trials.steady, trial_gpu_number=have + 1))
    assert exp.run() is False
    assert exp.get_status() == "ERROR"
    assert f"the Ray cluster has {have}" in exp.get_experiment_profile()["error"]


def test_cpu_trials_see_no_gpu_and_gpu_trials_share_a_gpu_by_fractions(local_ray):
    """CPU trials get an empty CUDA_VISIBLE_DEVICES; with a GPU in the instance, two trials
    of half a GPU each (max_trial_number_per_gpu=2) run on it at the same time."""
    exp = Experiment(_ray_config([chain(8)], _ray_trials.gpus_seen))
    assert exp.run() is True
    assert exp.list_trial_jobs()[0].test == -1.0
    if local_ray.cluster_resources().get("GPU", 0) < 1:
        pytest.skip("the local Ray instance has no GPU")
    exp = Experiment(_ray_config([chain(1), chain(2), chain(4), chain(16)], _ray_trials.gpus_seen,
                                 trial_concurrency=2, trial_gpu_number=1, max_trial_number_per_gpu=2))
    assert exp.run() is True, exp.get_experiment_profile()["error"]
    jobs = exp.list_trial_jobs()
    assert [j.status for j in jobs] == ["SUCCEEDED"] * 4
    assert all(j.test >= 0 for j in jobs)
    assert _overlap([(j.startTime, j.endTime) for j in jobs]) == 2  # half a GPU each: two at once


def test_concurrency_is_respected_and_follows_updates(local_ray):
    """The instance has 2 CPUs, so only trial_concurrency can hold trials to one at a time."""
    archs = [chain(w) for w in (1, 2, 4, 8, 16)] + [chain(w, w) for w in (1, 2, 4, 8, 16)]
    exp = Experiment(_ray_config(archs, _ray_trials.slow, trial_concurrency=1))
    exp.start()
    assert _wait_for(lambda: _succeeded(exp) >= 3, 90)
    exp.update_trial_concurrency(2)
    assert exp.wait(120), "the experiment did not end"
    jobs = exp.list_trial_jobs()
    assert [j.status for j in jobs] == ["SUCCEEDED"] * len(archs)
    first = [(j.startTime, j.endTime) for j in jobs[:3]]
    assert _overlap(first) == 1
    assert _overlap([(j.startTime, j.endTime) for j in jobs[4:]]) == 2


def _succeeded(exp) -> int:
    try:
        return sum(j.status == "SUCCEEDED" for j in exp.list_trial_jobs())
    except Exception:  # noqa: BLE001 - the store is not created yet
        return 0


def test_kill_trial_job_and_stop_cancel_ray_tasks_and_resume_runs_them_again(local_ray):
    archs = [chain(8), chain(16), chain(4)]
    exp = Experiment(_ray_config(archs, _ray_trials.hang, trial_concurrency=2, trial_timeout="20s"))
    exp.start()
    assert _wait_for(lambda: _statuses(exp)[:2] == ["RUNNING", "RUNNING"], 60)
    t0 = time.time()
    exp.kill_trial_job(1)
    assert _wait_for(lambda: _statuses(exp)[0] == "USER_CANCELED", 30)
    assert time.time() - t0 < 15  # the hanging task was cancelled, not waited for
    assert _wait_for(lambda: _statuses(exp)[1:] == ["RUNNING", "RUNNING"], 60)
    exp.stop()
    assert exp.get_status() == "STOPPED"
    assert _statuses(exp) == ["USER_CANCELED", "WAITING", "WAITING"]  # cancelled by stop(): they run again
    # the resumed experiment (same cluster, trial functions now quick) runs them under their own numbers
    again = Experiment.resume(exp.id, strategy=Scripted(SPACE, archs=archs), space=SPACE, evaluator=_ray_trials.steady)
    jobs = again.list_trial_jobs()
    assert [j.trial for j in jobs] == [1, 2, 3]
    assert [j.status for j in jobs] == ["USER_CANCELED", "SUCCEEDED", "SUCCEEDED"]
    assert [j.finalMetricData for j in jobs[1:]] == pytest.approx([value_of("16-ReLU"), value_of("4-ReLU")])


def _statuses(exp) -> list[str]:
    try:
        return [j.status for j in exp.list_trial_jobs()]
    except Exception:  # noqa: BLE001 - the store is not created yet
        return []


DRIVER = textwrap.dedent("""
    import sys
    sys.path.insert(0, {tests!r})
    from nasbench_lab.experiment import Experiment
    exp = Experiment("ray", space="mlp", strategy="random_search", benchmark=None, evaluator="_ray_trials:slow",
                     max_trial_number=8, trial_concurrency=2, seed=5, id={id!r},
                     experiment_working_directory={wd!r}, ray_address={address!r})
    exp.run()
""")


@pytest.mark.slow
def test_resume_after_the_driver_is_killed_loses_no_finished_trial(local_ray, tmp_path):
    from nasbench_lab import _ray

    eid, wd = "raydriver1", str(tmp_path / "experiments")
    script = DRIVER.format(tests=str(TESTS), id=eid, wd=wd, address=_ray.address_of_connection())
    env = dict(os.environ)
    driver = subprocess.Popen([sys.executable, "-c", script], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
    store_file = Path(wd) / eid / "experiment.sqlite"

    def finished():
        if not store_file.exists():
            return 0
        try:
            return sum(r["status"] == "SUCCEEDED" for r in ExperimentStore(store_file.parent).trial_rows())
        except Exception:  # noqa: BLE001 - being created
            return 0

    try:
        if not _wait_for(lambda: finished() >= 3 or driver.poll() is not None, 120):
            driver.kill()
            pytest.fail("no trial finished in the driver process:\n" + driver.communicate()[0][-3000:])
        assert driver.poll() is None, driver.communicate()[0][-3000:]
        os.kill(driver.pid, signal.SIGKILL)
        driver.wait(30)
    finally:
        if driver.poll() is None:
            driver.kill()
            driver.wait()
    before = {r["trial"]: r for r in ExperimentStore(store_file.parent).trial_rows()
              if r["status"] == "SUCCEEDED"}
    assert 3 <= len(before) < 8
    exp = Experiment.resume(eid)
    assert exp.get_status() == "DONE", exp.get_experiment_profile()["error"]
    rows = {r["trial"]: r for r in exp._store.trial_rows()}
    assert sorted(rows) == list(range(1, 9))
    assert all(r["status"] == "SUCCEEDED" for r in rows.values()), [(r["status"], r["error"]) for r in rows.values()]
    for trial, r in before.items():  # every trial finished before the kill is kept as it was
        assert (rows[trial]["key"], rows[trial]["validation"], rows[trial]["end_time"]) == \
            (r["key"], r["validation"], r["end_time"])
    assert all(r["validation"] == pytest.approx(value_of(r["key"])) for r in rows.values())


@pytest.mark.slow
def test_apex_ray_backend_attaches_to_the_running_instance(local_ray, monkeypatch):
    """Ape-X's actors run on the instance already running here: ray.init is not called again."""
    from conftest import chain_benchmark
    from nasbench_lab import _ray
    from nasbench_lab.strategies.apex import ApexConfig, train

    address = _ray.address_of_connection()

    def refuse(*args, **kwargs):
        raise AssertionError("a second Ray instance was started")

    monkeypatch.setattr(local_ray, "init", refuse)
    cfg = ApexConfig(embed_dim=8, heads=2, ff_dim=16, transformer_layers=1, encoder_layers=1, batch_size=8,
                     learning_starts=16, n_workers=2, envs_per_worker=2, rollout_fragment=4, buffer_size=128,
                     target_update_period=16, report_every=32, total_steps=64, lr=1e-3, device="cpu",
                     backend="ray", weight_sync_every=8, ray_address="ray://elsewhere:10001")
    result = train(chain_benchmark(3), cfg, seed=0, progress=False)
    assert result.log["env_steps"].iloc[-1] >= 64
    assert _ray.address_of_connection() == address

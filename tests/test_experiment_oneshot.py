"""A one-shot search as one trial of the Experiment: journalled export, per-epoch
metrics (validation accuracy and architecture weights), and a SIGKILLed search resumed
from its Lightning checkpoint to the export of an uninterrupted search."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest

from conftest import NB201_CSV, shared_file
from nasbench_lab import oneshot
from nasbench_lab.experiment import Experiment, ExperimentConfig
from nasbench_lab.experiment.config import ConfigError

NB201_OPTIONS = {"validation": "cifar10_valid_12", "test": "cifar10_test_200"}
OPTIONS = {"max_epochs": 2, "max_steps_per_epoch": 2}

pytestmark = pytest.mark.usefixtures("registry")


def test_one_shot_search_is_one_journalled_trial(nb201):
    exp = Experiment(ExperimentConfig(benchmark=nb201, strategy="darts", strategy_options=OPTIONS,
                                      max_trial_number=1, seed=3))
    assert exp.run() and exp.get_status() == "DONE"
    trials = exp.trials()
    assert trials["trial"].tolist() == [1] and trials["status"].tolist() == ["SUCCEEDED"]
    # the export is the one a direct search with the same seed gives, queried in the table
    direct = oneshot.search("darts", "nb201", max_epochs=2, max_steps_per_epoch=2, seed=3)
    key = nb201.space.key(direct.arch)
    assert trials["key"].iloc[0] == key
    row = nb201.row_of(key)
    assert trials["validation"].iloc[0] == float(nb201.validation[row])
    assert trials["test"].iloc[0] == float(nb201.test[row])
    # per epoch: the super-net's validation accuracy and the architecture weights
    metrics = exp.get_job_metrics()["000001"]
    periodic = [m for m in metrics if m.type == "PERIODICAL"]
    weights = [json.loads(m.data) for m in metrics if m.type == "ARCH_WEIGHTS"]
    assert [m.sequence for m in periodic] == [1, 2] and len(weights) == 2
    assert [m.data for m in periodic] == pytest.approx(direct.log["val_acc"].tolist())
    edge = [k for k in weights[-1] if k.startswith("alpha/0->1/")]
    assert len(edge) == 5 and sum(weights[-1][k] for k in edge) == pytest.approx(1.0, abs=1e-5)
    pd.testing.assert_frame_equal(exp.one_shot_log(), direct.log, check_dtype=False)
    # done is done: resuming a finished one-shot experiment runs nothing again
    again = Experiment.resume(exp.id, benchmark=nb201)
    assert again.get_status() == "DONE" and len(again.trials()) == 1


def test_search_reports_each_epoch_as_it_ends(tmp_path):
    """``on_epoch`` sees every new epoch's row, in order, as the log has it; a search resumed
    from its checkpoint reports only the epochs it runs."""
    seen = []
    r = oneshot.search("enas", "nb201", max_epochs=2, max_steps_per_epoch=2, checkpoint_dir=tmp_path / "c",
                       on_epoch=seen.append)
    assert [row["epoch"] for row in seen] == [1, 2]
    assert pd.DataFrame(seen).equals(r.log)
    more = []
    r3 = oneshot.search("enas", "nb201", max_epochs=3, max_steps_per_epoch=2, checkpoint_dir=tmp_path / "c",
                        on_epoch=more.append)
    assert [row["epoch"] for row in more] == [3] and len(r3.log) == 3


def test_one_shot_config_errors():
    with pytest.raises(ConfigError, match="no super-net for space"):
        Experiment(ExperimentConfig(benchmark="moons", strategy="random_one_shot", max_trial_number=1)).run()
    with pytest.raises(ConfigError, match="one-shot: darts, gumbel_darts, enas, random_one_shot, proxyless"):
        ExperimentConfig(benchmark="moons", strategy="dartz", max_trial_number=1).validate()


@pytest.mark.slow
def test_sigkilled_one_shot_search_resumes_from_its_checkpoint(tmp_path, registry):
    """The experiment process is killed with SIGKILL once the first epoch's checkpoint is
    written; ``resume`` continues the search from it and journals the export of an
    uninterrupted search with the same seed."""
    path = shared_file(*NB201_CSV)
    options = {"max_epochs": 4, "max_steps_per_epoch": 4}
    cfg = ExperimentConfig(benchmark="nb201", benchmark_options={"path": str(path), **NB201_OPTIONS},
                           strategy="random_one_shot", strategy_options=options, max_trial_number=1, seed=5)
    cfg_path = tmp_path / "cfg.yaml"
    cfg.to_yaml(cfg_path)
    env = {**os.environ, "NASBENCH_LAB_EXPERIMENTS": str(registry), "PYTHONUNBUFFERED": "1"}
    cmd = [sys.executable, "-m", "nasbench_lab.cli", "experiment"]
    p = subprocess.Popen(cmd + ["run", str(cfg_path), "--id", "killed", "--quiet"], env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    ckpt = registry / "killed" / "oneshot" / "last.ckpt"
    deadline = time.time() + 240
    while not ckpt.exists() and p.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    assert ckpt.exists(), p.stderr.read() if p.poll() is not None else "no checkpoint within 240 s"
    killed = p.poll() is None
    if killed:
        os.kill(p.pid, signal.SIGKILL)
    p.communicate(timeout=60)
    assert killed, "the search finished before the kill"
    view = Experiment.view("killed")
    assert view.trials()["status"].tolist() == ["RUNNING"]  # killed mid-search
    # the epochs that ended before the kill are journalled already (live, not at the end)
    before = [m.sequence for m in view.get_job_metrics().get("000001", []) if m.type == "PERIODICAL"]
    assert before and before == list(range(1, len(before) + 1)) and len(before) < options["max_epochs"]
    r = subprocess.run(cmd + ["resume", "killed", "--quiet"], env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    final = Experiment.view("killed")
    assert final.get_status() == "DONE"
    trials = final.trials()
    direct = oneshot.search("random_one_shot", "nb201", seed=5, **options)
    assert trials["status"].tolist() == ["SUCCEEDED"] and trials["key"].iloc[0] == direct.space.key(direct.arch)
    np.testing.assert_allclose(final.one_shot_log()["val_acc"], direct.log["val_acc"])
    metrics = final.get_job_metrics()["000001"]
    periodic = [m for m in metrics if m.type == "PERIODICAL"]
    assert [m.sequence for m in periodic] == [1, 2, 3, 4]  # one row per epoch, none twice after the resume
    np.testing.assert_allclose([m.data for m in periodic], direct.log["val_acc"])
    assert len([m for m in metrics if m.type == "ARCH_WEIGHTS"]) == 4


def test_one_shot_search_reads_cifar10_from_a_user_folder(tmp_path):
    """``data="cifar10", data_path=...``: the CIFAR-10 python batches through the project's
    loader (3 x 32 x 32 images; a made-up folder here, 5,000 of its training images held
    out for validation as the loader does), or the loader's ``Splits`` given directly."""
    from test_live import _write_cifar

    from nasbench_lab.benchmarks.data import load_cifar10

    folder = tmp_path / "cifar-10-batches-py"
    _write_cifar(folder, per_batch=1010, test=10)
    r = oneshot.search("darts", "nb201", data="cifar10", data_path=folder, max_epochs=1, max_steps_per_epoch=1,
                       batch_size=8)
    assert r.space.is_valid(r.arch) and tuple(r.supernet.data.x_train.shape[1:]) == (3, 32, 32)
    assert len(r.supernet.data.x_val) == 5000
    splits = load_cifar10(folder, validation=20)
    r = oneshot.search("random_one_shot", "darts", data=splits, max_epochs=1, max_steps_per_epoch=1, batch_size=8)
    assert r.space.is_valid(r.arch) and len(r.supernet.data.x_val) == 20

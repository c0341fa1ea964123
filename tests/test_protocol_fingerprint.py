"""Stage 7, item 4: a protocol ``out_dir`` never hands back another benchmark's results.

``run_protocol`` on NB201 CIFAR-10 then CIFAR-100 with one ``out_dir`` used to return
the CIFAR-10 frames for CIFAR-100 without a word (the stored config held only the name).
It also never said whether an agent's episodes came from the vectorised or the single
path, which differ for random walk at the same seed.
"""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from conftest import NB201_CSV, shared_file
from nasbench_lab import benchmarks
from nasbench_lab import ProtocolConfig, run_protocol


@pytest.fixture(scope="module")
def cifar100():
    bench = benchmarks.load("nb201", path=shared_file(*NB201_CSV), validation="cifar100_valid_12",
                            test="cifar100_test_12")
    if bench.space is None:
        pytest.skip("spaces.nb201 is not available")
    return bench


CFG = ProtocolConfig(n_sets=1, set_size=30, budget=10, n_neighbours=10, max_steps=6)


def test_fingerprint_tells_tables_of_one_name_apart(nb201, cifar100):
    from nasbench_lab.benchmarks.base import benchmark_fingerprint

    assert nb201.name == cifar100.name == "nb201"
    assert nb201.fingerprint() != cifar100.fingerprint()
    again = benchmarks.load("nb201", path=shared_file(*NB201_CSV), validation="cifar10_valid_12",
                            test="cifar10_test_200")
    assert again.fingerprint() == nb201.fingerprint()
    assert nb201.fingerprint() is nb201.fingerprint()  # computed once
    assert benchmark_fingerprint(cifar100)["benchmark_columns"] == {
        "validation_accuracy": ["cifar100_valid_12"], "test_accuracy": ["cifar100_test_12"]}


def test_resume_refuses_another_benchmarks_results(nb201, cifar100, tmp_path):
    out = tmp_path / "run"
    c10 = run_protocol(nb201, ["random_walk"], CFG, out_dir=out, progress=False)
    with pytest.raises(ValueError, match=r"different protocol configuration.*benchmark_digest"):
        run_protocol(cifar100, ["random_walk"], CFG, out_dir=out, progress=False)
    c100 = run_protocol(cifar100, ["random_walk"], CFG, out_dir=tmp_path / "other", progress=False)
    assert c100.episodes.final_test.mean() < c10.episodes.final_test.mean()  # CIFAR-100 is harder
    # the same benchmark still resumes
    again = run_protocol(nb201, ["random_walk"], CFG, out_dir=out, progress=False)
    pd.testing.assert_frame_equal(again.episodes, c10.episodes)


def test_resume_refuses_to_mix_the_vectorised_and_the_single_path(nb201, tmp_path):
    out = tmp_path / "run"
    fast = run_protocol(nb201, ["random_walk", "random_search"], CFG, out_dir=out, progress=False)
    recorded = json.loads((out / "config.json").read_text())["paths"]
    assert recorded == {"random_walk": "vectorised", "random_search": "ask_tell"}
    single = ProtocolConfig(**{**CFG.__dict__, "vectorised": False})
    with pytest.raises(ValueError, match=r"'random_walk' results from the vectorised path.*single path"):
        run_protocol(nb201, ["random_walk"], single, out_dir=out, progress=False)
    # random search has one path only, and a new agent may join the folder
    run_protocol(nb201, ["random_search", "local_search"], single, out_dir=out, progress=False)
    assert json.loads((out / "config.json").read_text())["paths"]["local_search"] == "single"
    slow = run_protocol(nb201, ["random_walk"], single, out_dir=tmp_path / "slow", progress=False)
    walk = fast.episodes[fast.episodes.agent == "random_walk"].reset_index(drop=True)
    assert not walk.final_key.equals(slow.episodes.final_key)  # why the paths are not mixed


def test_nb301_surrogates_with_other_predictions_have_other_fingerprints(tmp_data):
    pytest.importorskip("xgboost")
    from nasbench_lab import benchmarks, spaces
    from nasbench_lab.benchmarks import nb301

    space = spaces.get("darts")
    rng = np.random.default_rng(0)
    genos = [space.sample(rng) for _ in range(80)]
    fps = []
    for name, shift in (("a", 0.0), ("b", 0.0), ("c", 0.02)):  # made-up accuracies; b repeats a
        made_up = [0.9 + shift + 0.03 * float(np.tanh(space.encode(g)[:30].sum() / 10 - 1)) for g in genos]
        nb301.fit_surrogate(zip(genos, made_up), tmp_data / name, members=2, num_rounds=8, nthread=1)
        fps.append(benchmarks.load("nb301", path=tmp_data / name, nthread=1).fingerprint())
    assert fps[0] == fps[1] != fps[2]
    noisy = benchmarks.load("nb301", path=tmp_data / "a", nthread=1, noise=True)
    assert noisy.fingerprint() != fps[0]

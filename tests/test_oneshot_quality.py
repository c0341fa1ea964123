"""The weight-sharing quality study: ranking correlation, collapse statistic, stand-alone
ground truth (cached), and one small study end to end."""
from __future__ import annotations

import numpy as np
import pytest

from nasbench_lab.oneshot import quality
from nasbench_lab.spaces.darts import DartsSpace
from nasbench_lab.spaces.nb201 import Cell, NB201Space

ALL_SKIP = Cell.from_string("|skip_connect~0|+|skip_connect~0|skip_connect~1|+|skip_connect~0|skip_connect~1|skip_connect~2|")
ALL_CONV = Cell.from_string("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_1x1~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_1x1~2|")


def test_parameter_free_share_counts_skip_pool_and_none():
    assert quality.parameter_free_share([ALL_SKIP]) == 1.0
    assert quality.parameter_free_share([ALL_CONV]) == 0.0
    assert quality.parameter_free_share([ALL_SKIP, ALL_CONV]) == 0.5
    g = DartsSpace().sample(np.random.default_rng(0))
    ops = [op for op, _ in g.normal + g.reduce]
    assert quality.parameter_free_share([g]) == sum(op in quality.PARAMETER_FREE for op in ops) / 16
    with pytest.raises(ValueError, match="no architectures"):
        quality.parameter_free_share([])


def test_op_shares_count_each_operation_over_the_edges():
    mixed = Cell(("none", "skip_connect", "nor_conv_3x3", "nor_conv_3x3", "avg_pool_3x3", "none"))
    shares = quality.op_shares([mixed, ALL_SKIP])
    assert shares == {"avg_pool_3x3": 1 / 12, "none": 2 / 12, "nor_conv_3x3": 2 / 12, "skip_connect": 7 / 12}
    assert sum(shares.values()) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="no architectures"):
        quality.op_shares([])


class _Scored:
    """A stand-in super-net whose inherited-weight accuracy is a given function."""

    def __init__(self, score):
        self.score = score

    def evaluate(self, arch, split="val"):
        return self.score(arch)


def test_ranking_quality_is_kendall_and_spearman_of_the_scores():
    space = NB201Space()
    cells = quality.ground_truth_cells(space, 30, seed=1)
    truth = np.asarray([c.ops.count("nor_conv_3x3") + 0.01 * i for i, c in enumerate(cells)])
    same = quality.ranking_quality(_Scored(lambda c: truth[cells.index(c)]), cells, truth)
    assert same.kendall_tau == pytest.approx(1.0) and same.spearman_rho == pytest.approx(1.0) and same.kendall_p < 1e-6
    flipped = quality.ranking_quality(_Scored(lambda c: -truth[cells.index(c)]), cells, truth)
    assert flipped.kendall_tau == pytest.approx(-1.0)
    noise = np.random.default_rng(0).permutation(len(cells))
    shuffled = quality.ranking_quality(_Scored(lambda c: noise[cells.index(c)]), cells, truth)
    assert abs(shuffled.kendall_tau) < 0.4 and shuffled.kendall_p > 0.01
    with pytest.raises(ValueError, match=">= 3 cells"):
        quality.ranking_quality(_Scored(len), cells[:2], truth[:2])


def test_ground_truth_cells_are_distinct_and_seeded():
    space = NB201Space()
    a = quality.ground_truth_cells(space, 50, seed=3)
    assert len({space.key(c) for c in a}) == 50
    assert a == quality.ground_truth_cells(space, 50, seed=3)
    assert a != quality.ground_truth_cells(space, 50, seed=4)


def test_a_small_study_end_to_end_and_the_ground_truth_is_cached(tmp_path):
    """Two methods x one seed over 6 cells (tiny budgets): one row each, a valid export in
    the space, correlations in [-1, 1]; a second study trains nothing stand-alone."""
    from nasbench_lab.benchmarks.live import TrainerConfig
    from nasbench_lab.benchmarks.store import ResultStore

    space = NB201Space()
    trainer = TrainerConfig(epochs=1, max_steps=3, threads=1)
    store = ResultStore(tmp_path / "live.sqlite")
    opts = {m: {"max_steps_per_epoch": 2} for m in ("random_one_shot", "darts")}
    frame = quality.study(["random_one_shot", "darts"], space, seeds=(0,), n_cells=6, max_epochs=1, options=opts,
                          trainer=trainer, store=store)
    assert frame["method"].tolist() == ["random_one_shot", "darts"]
    for key in frame["export"]:
        assert space.is_valid(space.from_key(key))
    assert frame["kendall_tau"].between(-1, 1).all() and (frame["n_cells"] == 6).all()
    assert frame["export_standalone_validation"].between(0, 1).all()
    assert (frame["speedup_vs_standalone"] > 0).all()
    trained = len(store)
    assert 6 <= trained <= 8  # the ground truth and the two exports (fewer where an export is one of the cells)
    again = quality.study(["random_one_shot"], space, seeds=(0,), n_cells=6, max_epochs=1, options=opts,
                          trainer=trainer, store=store)
    assert again["export"].iloc[0] == frame["export"].iloc[0]  # same seed, same export
    assert again["kendall_tau"].iloc[0] == frame["kendall_tau"].iloc[0]
    assert len(store) == trained  # every stand-alone result came from the store
    s = quality.summary(frame)
    assert list(s.index) == ["random_one_shot", "darts"] and "kendall_tau (mean)" in s.columns


# -- the command line ----------------------------------------------------------------
def _cli(*args, env_extra=None, cwd=None):
    import os
    import subprocess
    import sys

    env = dict(os.environ, **(env_extra or {}))
    return subprocess.run([sys.executable, "-m", "nasbench_lab.cli", "oneshot-quality", *args],
                          capture_output=True, text=True, env=env, cwd=cwd, timeout=600)


def test_oneshot_quality_command_writes_its_table_and_csv(tmp_path):
    import pandas as pd

    from nasbench_lab.benchmarks.store import ResultStore

    store = tmp_path / "standalone.sqlite"
    r = _cli("--methods", "random_one_shot", "--cells", "5", "--seeds", "1", "--epochs", "1", "--steps", "2",
             "--set", "search_budget=4", "--tag", "small", "--store", str(store), "--out", str(tmp_path))
    assert r.returncode == 0, r.stderr[-3000:]
    frame = pd.read_csv(tmp_path / "oneshot_quality_nb201_small.csv")
    assert list(frame["method"]) == ["random_one_shot"] and list(frame["seed"]) == [0]
    row = frame.iloc[0]
    assert row["n_cells"] == 5
    assert -1.0 <= row["kendall_tau"] <= 1.0 and 0.0 <= row["kendall_p"] <= 1.0
    space = NB201Space()
    assert space.key(space.validate(space.from_key(row["export"]))) == row["export"]
    shares = {c[len("share "):]: row[c] for c in frame.columns if c.startswith("share ")}
    assert sum(shares.values()) == pytest.approx(1.0)
    assert row["parameter_free_share"] == pytest.approx(
        sum(v for op, v in shares.items() if op in quality.PARAMETER_FREE))
    assert shares == pytest.approx(quality.op_shares([space.from_key(row["export"])]))
    assert 0.0 < row["export_standalone_validation"] <= 1.0
    text = (tmp_path / "table_oneshot_quality_nb201_small.md").read_text()
    assert "5 uniform cells trained stand-alone" in text and "search_budget" in text
    assert "random_one_shot" in text
    # the stand-alone trainings went to the given store: the 5 cells (and the export)
    assert 5 <= len(ResultStore(store)) <= 6
    assert not (tmp_path / "oneshot_quality_nb201.csv").exists()


@pytest.mark.parametrize("args, message", [
    (["--methods", "dartz"], "unknown methods ['dartz']"),
    (["--set", "second_order"], "--set takes KEY=VALUE"),
    (["--tag", "../x"], "--tag takes letters"),
])
def test_oneshot_quality_command_refuses_bad_arguments_before_any_training(tmp_path, args, message):
    r = _cli(*args, "--cells", "3", "--store", str(tmp_path / "s.sqlite"), "--out", str(tmp_path))
    assert r.returncode != 0
    assert message in r.stderr
    assert not (tmp_path / "s.sqlite").exists()

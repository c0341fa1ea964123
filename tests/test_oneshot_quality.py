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

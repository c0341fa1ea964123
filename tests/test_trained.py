"""The shared base of the live benchmarks: fetch from the store, train the missing seeds, average."""
from __future__ import annotations

import numpy as np
import pytest

from nasbench_lab.benchmarks.store import ResultStore
from nasbench_lab.benchmarks.trained import TrainedBenchmark
from nasbench_lab.spaces.mlp import Chain, ChainSpace


class Counting(TrainedBenchmark):
    """Made-up 'training': accuracy = 0.1 * seed + 0.01 * depth; every batch is recorded."""

    def __init__(self, *args, one_at_a_time=False, fail_after=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.space = ChainSpace(max_depth=3)
        self.batches: list[list[int]] = []
        self.one_at_a_time, self.fail_after = one_at_a_time, fail_after

    def _train(self, arch, seeds):
        chain = self.space.validate(arch)
        groups = [[s] for s in seeds] if self.one_at_a_time else [list(seeds)]
        for g in groups:
            if self.fail_after is not None and len(self.batches) >= self.fail_after:
                raise KeyboardInterrupt("stopped")
            self.batches.append(g)
            yield [(s, {"validation_accuracy": 0.1 * s + 0.01 * chain.depth, "test_accuracy": 0.2 * s,
                        "training_time": 1.0 + s, "parameters": chain.parameters}) for s in g]


CHAIN = Chain([(8, "Tanh"), (4, "ReLU")])


def test_the_seed_means_and_per_seed_values_match_a_direct_computation(tmp_path):
    bench = Counting((0, 1, 3), "d1", tmp_path / "r.sqlite")
    m = bench.query(CHAIN)
    per_seed = np.array([0.1 * s + 0.01 * 2 for s in (0, 1, 3)])
    np.testing.assert_allclose(m.extra["validation_per_seed"], per_seed)
    assert m.validation_accuracy == pytest.approx(per_seed.mean())
    assert m.test_accuracy == pytest.approx(np.mean([0.0, 0.2, 0.6]))
    assert m.training_time == pytest.approx(np.mean([1.0, 2.0, 4.0]))
    assert m.parameters == CHAIN.parameters and m.extra["cached"] == 0
    assert bench.batches == [[0, 1, 3]] and bench.trained == 3


def test_only_missing_seeds_are_trained_and_the_rest_read_from_the_store(tmp_path):
    store = ResultStore(tmp_path / "r.sqlite")
    Counting((0, 1), "d1", store).query(CHAIN)
    more = Counting((0, 1, 2), "d1", store)
    m = more.query(CHAIN)
    assert more.batches == [[2]] and more.trained == 1 and m.extra["cached"] == 2
    other = Counting((0,), "d2", store)  # another configuration digest: trained anew
    other.query(CHAIN)
    assert other.batches == [[0]] and len(store) == 4
    asked = more.query(CHAIN, seeds=(5,))
    assert more.batches[-1] == [5] and asked.extra["validation_per_seed"].shape == (1,)


def test_each_batch_is_committed_as_it_ends(tmp_path):
    store = ResultStore(tmp_path / "r.sqlite")
    bench = Counting((0, 1, 2), "d1", store, one_at_a_time=True, fail_after=2)
    with pytest.raises(KeyboardInterrupt):
        bench.query(CHAIN)
    assert store.keys("d1") == {(CHAIN.key, 0), (CHAIN.key, 1)}  # the interrupted run lost only seed 2
    again = Counting((0, 1, 2), "d1", store, one_at_a_time=True)
    assert again.query(CHAIN).extra["cached"] == 2 and again.batches == [[2]]


def test_without_a_cache_every_query_trains_and_no_seed_is_refused(tmp_path):
    bench = Counting((0,), "d1", cache=False)
    bench.query(CHAIN)
    bench.query(CHAIN)
    assert bench.store is None and bench.batches == [[0], [0]]
    with pytest.raises(ValueError, match="Counting needs at least one seed"):
        Counting((), "d1", tmp_path / "r.sqlite")

"""NAS-Bench-201: the real shared table through the generic path, and the official .pth layout."""
from __future__ import annotations

import pickle

import numpy as np
import pytest

from nasbench_lab.benchmarks import BenchmarkFileError, NotInBenchmark, load
from nasbench_lab.benchmarks import nb201
from nasbench_lab.benchmarks import testing as fixtures

CSV = ("nasbench201", "nb201_accuracies.csv.gz")


_LOADED: dict = {}


def same(a, b) -> None:
    """Two Metrics are equal field by field (NaN equals NaN)."""
    np.testing.assert_equal(a.as_dict(), b.as_dict())


@pytest.fixture
def real(shared):
    path = shared(*CSV)
    if path not in _LOADED:  # one load for the module
        _LOADED[path] = load("nb201", path, validation="cifar10_valid_12", test="cifar10_test_200")
    return path, _LOADED[path]


def test_real_table_loads_every_cell_as_fractions(real):
    path, b = real
    assert len(b) == 15_625 and len(b.keys) == 15_625
    assert round(float(np.max(b.test)), 4) == 0.9437
    assert 0 < b.validation.min() and b.validation.max() < 1
    # the best cell by test accuracy, queried by key, row and batch
    best = int(np.argmax(b.test))
    key = b.keys[best]
    assert b.query(key).test_accuracy == pytest.approx(0.943733)
    same(b.query_index(best), b.query_key(key))
    assert b.query_batch([key, b.keys[0]]).test_accuracy[0] == pytest.approx(0.943733)


def test_real_table_matches_the_file_row_by_row(real):
    import pandas as pd

    path, b = real
    raw = pd.read_csv(path)
    # official index order: row i is the file's index i
    assert (b.keys == raw.sort_values("index")["arch"].to_numpy()).all()
    i = 1234
    m = b.query_index(i)
    assert m.validation_accuracy == pytest.approx(raw.loc[raw["index"] == i, "cifar10_valid_12"].item() / 100)
    np.testing.assert_allclose(b.query_rows(np.arange(100)).test_accuracy,
                               raw["cifar10_test_200"].to_numpy()[:100] / 100)


def test_real_table_with_the_space_if_available(real):
    _, b = real
    if b.space is None:
        pytest.skip("spaces.nb201 is not available yet; keys are the official strings")
    cell = b.arch(1)
    assert b.space.key(cell) == b.keys[1]
    same(b.query(cell), b.query_index(1))


def test_unknown_key_names_it(real):
    _, b = real
    bad = "|none~0|+|none~0|none~1|+|none~0|none~1|bogus~2|"
    with pytest.raises(NotInBenchmark, match="bogus"):
        b.query(bad)


def test_official_pth_layout_round_trip(tmp_path, tmp_data):
    archs = fixtures.nb201_arch_strings(7)
    path = tmp_path / "NAS-Bench-201-fixture.pth"
    c = fixtures.write_nb201_pth(path, archs, seed=1)
    b = load("nb201", path, complete=False)  # defaults: cifar10-valid, 200 epochs, x-valid / ori-test
    assert sorted(b.keys) == sorted(archs)
    if b.space is not None:  # rows follow the space's (official) order
        order = {c.key: i for i, c in enumerate(b.space.enumerate())}
        assert [order[k] for k in b.keys] == sorted(order[a] for a in archs)
    for i in (0, 4, 5):
        runs = c["arch2infos"][i]["full"]["all_results"]
        seeds = [s for (ds, s) in runs if ds == "cifar10-valid"]
        assert len(seeds) == 1 + i % 3
        val = np.mean([runs[("cifar10-valid", s)]["eval_acc1es"]["x-valid@199"] for s in seeds]) / 100
        test = np.mean([runs[("cifar10-valid", s)]["eval_acc1es"]["ori-test@199"] for s in seeds]) / 100
        time = np.mean([sum(runs[("cifar10-valid", s)]["train_times"].values()) for s in seeds])
        m = b.query(archs[i])
        assert m.validation_accuracy == pytest.approx(val)
        assert m.test_accuracy == pytest.approx(test)
        assert m.training_time == pytest.approx(time)
        assert m.parameters == pytest.approx(runs[("cifar10-valid", seeds[0])]["params"] * 1e6)
    # 12-epoch results, other datasets and explicit columns
    runs = c["arch2infos"][2]["less"]["all_results"]
    per_seed = {s: (runs[("cifar100", s)]["eval_acc1es"]["x-valid@11"],
                    runs[("cifar100", s)]["eval_acc1es"]["x-test@11"]) for s in (777, 888, 999)}
    b12 = load("nb201", path, dataset="cifar100", epochs=12, complete=False)
    draws = {tuple(np.round([m.validation_accuracy * 100, m.test_accuracy * 100], 9))
             for m in (b12.query(archs[2], reduction="sample") for _ in range(40))}
    # each draw is one real repeat, validation and test from the same seed
    assert draws == {tuple(np.round(v, 9)) for v in per_seed.values()}
    explicit = load("nb201", path, validation="ImageNet16-120@200:x-valid",
                    test="ImageNet16-120@200:ori-test", complete=False)
    r = c["arch2infos"][0]["full"]["all_results"][("ImageNet16-120", 777)]["eval_acc1es"]
    assert explicit.query(archs[0]).validation_accuracy == pytest.approx(r["x-valid@199"] / 100)
    with pytest.raises(ValueError, match="no validation split"):
        load("nb201", path, dataset="cifar10", complete=False)
    with pytest.raises(BenchmarkFileError, match="no column 'cifar10@200:x-valid'"):
        load("nb201", path, validation="cifar10@200:x-valid", complete=False)
    # parsed once into the cache
    assert len(list((tmp_data / "cache" / "nb201").glob("*.parquet"))) == 1


class _Opaque:
    """Not a plain container: weights_only loading must refuse it."""

    def __init__(self):
        self.x = 1


def test_pth_needing_full_unpickling_is_refused_without_trust(tmp_path, tmp_data):
    import torch

    archs = fixtures.nb201_arch_strings(2)
    c = fixtures.write_nb201_pth(tmp_path / "ok.pth", archs)
    c["evil"] = _Opaque()
    path = tmp_path / "needs-pickle.pth"
    torch.save(c, path)
    with pytest.raises(BenchmarkFileError, match="trust_pickle=True"):
        load("nb201", path, complete=False)
    b = load("nb201", path, trust_pickle=True, complete=False)
    assert len(b) == 2


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_not_a_nb201_file(tmp_path, tmp_data):
    import torch

    torch.save({"something": 1}, tmp_path / "x.pth")
    with pytest.raises(BenchmarkFileError, match="meta_archs"):
        load("nb201", tmp_path / "x.pth")
    (tmp_path / "junk.pth").write_bytes(pickle.dumps([1, 2]) + b"garbage")
    with pytest.raises(BenchmarkFileError):
        load("nb201", tmp_path / "junk.pth")
    with pytest.raises(FileNotFoundError, match="download nb201"):
        nb201.load(None)


def test_single_query_equals_batched_row(real):
    _, b = real
    for i in (0, 77, 15_624):
        one = b.query_index(i)
        row = b.query_rows([i])[0]
        np.testing.assert_equal(one.as_dict(), {k: float(v) for k, v in row.as_dict().items()})

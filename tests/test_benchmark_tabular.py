"""The generic tabular benchmark and the common query protocol."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from nasbench_lab.benchmarks import BenchmarkFileError, NotInBenchmark, load
from nasbench_lab.benchmarks.tabular import TabularBenchmark


def _frame():
    return pd.DataFrame({
        "arch": ["a", "b", "c", "d"],
        "v0": [90.0, 80.0, 70.0, np.nan],
        "v1": [92.0, 82.0, np.nan, np.nan],
        "v2": [94.0, 84.0, np.nan, 60.0],
        "test": [91.0, 81.0, 71.0, 61.0],
        "time": [10.0, 20.0, 30.0, 40.0],
        "params": [1e5, 2e5, 3e5, 4e5],
        "flops": [1.0, 2.0, 3.0, 4.0],
    })


def _bench(seed=0):
    return TabularBenchmark(None, _frame(), "arch",
                            {"validation": ["v0", "v1", "v2"], "test": "test", "time": "time",
                             "params": "params", "flops": "flops"}, percent=True, seed=seed)


def test_mean_is_the_seed_mean_as_fractions():
    b = _bench()
    m = b.query("a")
    assert m.validation_accuracy == pytest.approx(0.92)
    assert m.test_accuracy == pytest.approx(0.91)
    assert m.training_time == 10.0 and m.parameters == 1e5
    assert m.extra == {"flops": 1.0}
    assert b.query("c").validation_accuracy == pytest.approx(0.70)  # NaN seeds ignored
    np.testing.assert_allclose(b.validation, [0.92, 0.82, 0.70, 0.60])


def test_key_index_row_and_batch_agree():
    b = _bench()
    assert b.rows(["c", "a"]).tolist() == [2, 0]
    assert b.rows(np.array(["d", "b"])).tolist() == [3, 1]  # searchsorted path
    assert b.row_of("b") == 1
    single = b.query_key("b")
    by_index = b.query_index(1)
    batch = b.query_batch(["d", "b"])
    np.testing.assert_equal(single.as_dict(), by_index.as_dict())
    assert batch[1].validation_accuracy == single.validation_accuracy
    rows = b.query_rows([1, 3])
    np.testing.assert_array_equal(rows.validation_accuracy, batch.validation_accuracy[::-1])
    assert b.arch(2) == "c" and list(b.keys) == ["a", "b", "c", "d"]


def test_counters():
    b = _bench()
    b.query("a")
    b.query("a")
    b.query_batch(["a", "b", "c"])
    b.query_rows([3])
    assert b.queries == 6
    assert b.unique_queries == 4
    assert b.simulated_seconds == pytest.approx(10 + 10 + 10 + 20 + 30 + 40)
    b.reset_counters()
    assert (b.queries, b.unique_queries, b.simulated_seconds) == (0, 0, 0.0)


def test_not_in_benchmark_names_the_key():
    b = _bench()
    for call in (lambda: b.query("zz"), lambda: b.query_batch(["a", "zz"]),
                 lambda: b.rows(np.array(["a", "zz"])), lambda: b.row_of("zz")):
        with pytest.raises(NotInBenchmark, match="'zz'"):
            call()
    with pytest.raises(NotInBenchmark, match="index 9"):
        b.query_index(9)
    with pytest.raises(NotInBenchmark, match="index 7"):
        b.query_rows([0, 7])
    assert b.queries == 0  # failed queries are not charged


def test_sample_reduction_draws_real_repeats_and_is_seeded():
    b1, b2 = _bench(seed=3), _bench(seed=3)
    draws1 = [b1.query("a", reduction="sample").validation_accuracy for _ in range(60)]
    draws2 = [b2.query("a", reduction="sample").validation_accuracy for _ in range(60)]
    assert draws1 == draws2
    assert set(np.round(draws1, 6)) == {0.90, 0.92, 0.94}
    # rows with missing seeds only ever give their present seeds
    batch = b1.query_batch(["c", "d"] * 30, reduction="sample").validation_accuracy
    assert set(np.round(batch[::2], 6)) == {0.70} and set(np.round(batch[1::2], 6)) == {0.60}
    with pytest.raises(ValueError, match="reduction"):
        b1.query("a", reduction="max")


def test_load_from_csv_and_parquet(tmp_path):
    f = _frame()
    f.to_csv(tmp_path / "t.csv", index=False)
    f.to_parquet(tmp_path / "t.parquet", index=False)
    for p in ("t.csv", "t.parquet"):
        b = load("tabular", tmp_path / p, key="arch", validation=["v0", "v1", "v2"], test="test",
                 percent=True)
        assert b.query("b").validation_accuracy == pytest.approx(0.82)


def test_bad_tables_raise_clear_errors(tmp_path):
    f = _frame()
    with pytest.raises(BenchmarkFileError, match="key column 'name'"):
        TabularBenchmark(None, f, "name", {"validation": "v0"})
    with pytest.raises(BenchmarkFileError, match=r"columns \['nope'\]"):
        TabularBenchmark(None, f, "arch", {"validation": "nope"})
    dup = pd.concat([f, f.iloc[:1]])
    with pytest.raises(BenchmarkFileError, match="'a' appears more than once"):
        TabularBenchmark(None, dup, "arch", {"validation": "v0"})
    with pytest.raises(FileNotFoundError):
        load("tabular", tmp_path / "missing.csv")


class _TinySpace:
    """A finite space of 4 keys, enumerated in its own order."""

    name = "tiny"
    size = 4

    def enumerate(self):
        return ["d", "c", "b", "a"]

    def key(self, arch):
        return arch

    def from_key(self, key):
        return key


def test_finite_space_sets_row_order_and_checks_completeness():
    # v0 is in percent and has no value for "d": that row is kept (NaN) only on request
    b = TabularBenchmark(_TinySpace(), _frame(), "arch", {"validation": "v0"}, percent=True,
                         nan_policy="propagate")
    assert list(b.keys) == ["d", "c", "b", "a"]
    assert b.arch(0) == "d" and b.query_index(3).validation_accuracy == pytest.approx(0.90)
    with pytest.raises(BenchmarkFileError, match=r"lacks 1 of the 4 .*'d'"):
        TabularBenchmark(_TinySpace(), _frame().iloc[:3], "arch", {"validation": "v0"})
    part = TabularBenchmark(_TinySpace(), _frame().iloc[:3], "arch", {"validation": "v0"}, complete=False,
                            percent=True)
    assert list(part.keys) == ["c", "b", "a"]
    extra = pd.concat([_frame(), pd.DataFrame({"arch": ["q"], "v0": [1.0]})])
    with pytest.raises(BenchmarkFileError, match=r"not architectures of the tiny space.*'q'"):
        TabularBenchmark(_TinySpace(), extra, "arch", {"validation": "v0"})

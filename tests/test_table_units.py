"""Stage 7, item 5: accuracies of every table are checked after the unit conversion.

Each case is a table that used to load silently with wrong numbers: fractions read as
percent (best accuracy 0.0085), percent read as fractions (84.9), rows outside [0, 1],
and rows with no value at all (queries answered NaN).
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from conftest import NB201_CSV, shared_file
from nasbench_lab import benchmarks
from nasbench_lab.benchmarks import BenchmarkFileError
from nasbench_lab.benchmarks.tabular import TabularBenchmark


def _table(val, test=None):
    n = len(val)
    return pd.DataFrame({"key": [f"k{i}" for i in range(n)], "val": val,
                         "test": test if test is not None else [0.5] * n})


# (values, percent, what the error must say)
BAD = {
    "fractions read as percent": ([0.85, 0.7, 0.6], True, r"look like fractions.*pass percent=False"),
    "percent read as fractions": ([84.9, 70.0, 60.0], False, r"look like percentages.*pass percent=True"),
    "minus fifty percent": ([90.0, -50.0, 60.0], True, r"outside \[0, 1\].*-50.*'k1'"),
    "two hundred fifty percent": ([90.0, 250.0, 60.0], True, r"outside \[0, 1\].*250.*'k1'"),
    "negative fraction": ([0.9, -0.2, 0.6], False, r"outside \[0, 1\].*-0.2.*'k1'"),
    "infinite": ([0.9, math.inf, 0.6], False, r"outside \[0, 1\]"),
    "one fraction above one": ([0.9, 1.5, 0.6], False, r"outside \[0, 1\].*1\.5.*'k1'"),
    "a row without value": ([0.9, np.nan, 0.6], False, r"1 row\(s\) have no validation_accuracy.*'k1'.*nan_policy"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_accuracies_are_refused_with_the_diagnosis(case):
    values, percent, message = BAD[case]
    with pytest.raises(BenchmarkFileError, match=message):
        TabularBenchmark(None, _table(values), "key", {"validation": "val"}, percent=percent)


def test_test_column_is_checked_too():
    with pytest.raises(BenchmarkFileError, match=r"test_accuracy.*look like percentages"):
        TabularBenchmark(None, _table([0.9, 0.8], test=[91.0, 81.0]), "key",
                         {"validation": "val", "test": "test"})


def test_nan_rows_load_only_with_the_propagate_policy():
    frame = _table([0.9, np.nan, 0.6])
    b = TabularBenchmark(None, frame, "key", {"validation": "val"}, nan_policy="propagate")
    assert math.isnan(b.query("k1").validation_accuracy) and b.query("k0").validation_accuracy == 0.9
    with pytest.raises(ValueError, match="nan_policy"):
        TabularBenchmark(None, frame, "key", {"validation": "val"}, nan_policy="ignore")
    # a missing seed is not a missing row: the mean is over the seeds present
    seeds = pd.DataFrame({"key": ["a", "b"], "s0": [0.9, np.nan], "s1": [0.8, 0.7]})
    assert TabularBenchmark(None, seeds, "key", {"validation": ["s0", "s1"]}).query("b").validation_accuracy == 0.7


def test_good_tables_still_load():
    b = TabularBenchmark(None, _table([90.0, 0.5, 60.0]), "key", {"validation": "val"}, percent=True)
    np.testing.assert_allclose(b.validation, [0.9, 0.005, 0.6])
    b = TabularBenchmark(None, _table([1.0, 0.0, 0.5]), "key", {"validation": "val"})
    assert b.validation.max() == 1.0


def test_real_nb201_table_in_the_wrong_unit_is_named():
    path = shared_file(*NB201_CSV)
    with pytest.raises(BenchmarkFileError, match=r"look like percentages \(values .*84\.892.*percent=True"):
        benchmarks.load("nb201", path=path, validation="cifar10_valid_12", test="cifar10_test_200",
                        percent=False)
    frame = pd.read_csv(path)
    frame["frac"] = frame["cifar10_valid_12"] / 100.0
    with pytest.raises(BenchmarkFileError, match=r"look like fractions.*best accuracy 0\.00848.*percent=False"):
        TabularBenchmark(None, frame, "arch", {"validation": "frac"}, percent=True, name="nb201")

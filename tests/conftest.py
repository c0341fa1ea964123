"""Shared fixtures: the real public samples beside the project, temporary data dirs."""
from __future__ import annotations

import os

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")

# experiments created by tests (and by the notebooks they execute) never reach the user's
# registry: one temporary registry per test process unless a test sets its own
if "NASBENCH_LAB_EXPERIMENTS" not in os.environ:
    import tempfile

    os.environ["NASBENCH_LAB_EXPERIMENTS"] = tempfile.mkdtemp(prefix="nasbench-lab-test-experiments-")

from nasbench_lab.paths import shared_data_dir  # noqa: E402


def shared_file(*parts: str):
    """Path of a file under ../shared/data, or skip the test with the reason."""
    root = shared_data_dir()
    if root is None:
        pytest.skip("../shared/data (real benchmark samples) is not present beside the project")
    p = root.joinpath(*parts)
    if not p.exists():
        pytest.skip(f"shared sample {p.name} is not present")
    return p


@pytest.fixture
def shared():
    """Callable fixture: ``shared("nasbench201", "nb201_accuracies.csv.gz")``."""
    return shared_file


@pytest.fixture
def tmp_data(tmp_path, monkeypatch):
    """A private data/ folder for tests that write caches."""
    monkeypatch.setenv("NASBENCH_LAB_DATA", str(tmp_path / "data"))
    return tmp_path / "data"


NB201_CSV = ("nasbench201", "nb201_accuracies.csv.gz")


@pytest.fixture(scope="module")
def nb201():
    """The real NAS-Bench-201 table (CIFAR-10 valid 12 / test 200), one per test module."""
    from nasbench_lab import benchmarks

    bench = benchmarks.load("nb201", path=shared_file(*NB201_CSV), validation="cifar10_valid_12",
                            test="cifar10_test_200")
    if bench.space is None:
        pytest.skip("spaces.nb201 is not available")
    return bench


def chain_benchmark(seed: int):
    """A synthetic tabular benchmark over ChainSpace(3) (8,421 chains; accuracies seeded by ``seed``)."""
    import numpy as np
    import pandas as pd

    from nasbench_lab.benchmarks.tabular import TabularBenchmark
    from nasbench_lab.spaces.mlp import ChainSpace

    space = ChainSpace(max_depth=3)
    keys = [space.key(a) for a in space.enumerate()]
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"key": keys, "val": rng.uniform(0.5, 1.0, len(keys)),
                          "test": rng.uniform(0.5, 1.0, len(keys))})
    return TabularBenchmark(space, frame, "key", {"validation_accuracy": "val", "test_accuracy": "test"},
                            name="chain")

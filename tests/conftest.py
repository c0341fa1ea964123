"""Shared fixtures: the real public samples beside the project, temporary data dirs."""
from __future__ import annotations

import os

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")

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

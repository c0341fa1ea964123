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
def moons():
    """The bundled NAS-Bench-Moons benchmark, one per test module (its neighbour table is
    built once; its query counters start at zero in every module)."""
    from nasbench_lab import benchmarks

    return benchmarks.load("moons")


@pytest.fixture(scope="module")
def nb201():
    """The real NAS-Bench-201 table (CIFAR-10 valid 12 / test 200), one per test module."""
    from nasbench_lab import benchmarks

    bench = benchmarks.load("nb201", path=shared_file(*NB201_CSV), validation="cifar10_valid_12",
                            test="cifar10_test_200")
    if bench.space is None:
        pytest.skip("spaces.nb201 is not available")
    return bench


@pytest.fixture(scope="session")
def local_ray():
    """A local Ray instance for this test process (2 CPUs, loopback only, its own temporary
    folder, no dashboard), started through ``nasbench_lab._ray.init`` as the library starts
    one, and shut down at the end. Mark the tests using it ``xdist_group("ray")``."""
    ray = pytest.importorskip("ray", reason="the optional `ray` extra is not installed")
    import shutil
    import tempfile

    from nasbench_lab import _ray

    folder = tempfile.mkdtemp(prefix="ray-")  # short: Ray's socket paths must stay under ~100 characters
    # Ray's worker processes import trial functions by module name: let them find tests/ (Ray
    # adds only the driver's working folder and script folder; the workers inherit this variable)
    saved = os.environ.get("PYTHONPATH")
    here = os.path.dirname(os.path.abspath(__file__))
    os.environ["PYTHONPATH"] = here if not saved else here + os.pathsep + saved
    os.environ.setdefault("RAY_raylet_start_wait_time_s", "120")  # a busy machine starts the node slowly
    try:
        _ray.init(num_cpus=2, temp_dir=folder, log_to_driver=False)
    finally:
        if saved is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = saved
    yield ray
    ray.shutdown()
    shutil.rmtree(folder, ignore_errors=True)


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


@pytest.fixture
def registry(tmp_path, monkeypatch):
    """A private experiment registry (``NASBENCH_LAB_EXPERIMENTS``) for one test; modules
    that create experiments use it for every test (``pytest.mark.usefixtures("registry")``)."""
    root = tmp_path / "registry"
    monkeypatch.setenv("NASBENCH_LAB_EXPERIMENTS", str(root))
    return root

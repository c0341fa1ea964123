"""The entry points the issues promise, exercised exactly as written there."""
from __future__ import annotations

import numpy as np
import pytest

import nasbench_lab.benchmarks as benchmarks
import nasbench_lab.spaces as spaces
import nasbench_lab.strategies as strategies
from nasbench_lab.env import IncrementalEnv


@pytest.mark.parametrize("name", ["nb101", "nb201", "darts", "mlp"])
def test_spaces_get_offers_the_contract(name):
    space = spaces.get(name)
    rng = np.random.default_rng(0)
    arch = space.sample(rng)
    assert space.is_valid(arch)
    key = space.key(arch)
    assert isinstance(key, str) and key
    nbrs = space.neighbours(arch)
    assert nbrs and all(space.key(n) != key for n in nbrs)
    assert len({space.key(n) for n in nbrs}) == len(nbrs)
    enc = space.encode(arch)
    assert enc.ndim == 1 and enc.shape[0] == space.encoding_size
    assert space.is_valid(space.mutate(arch, rng))


def test_nb101_cell_and_invalid_architecture():
    from nasbench_lab.spaces.nb101 import Cell

    cell = Cell([[0, 1, 1], [0, 0, 1], [0, 0, 0]], ["input", "conv3x3-bn-relu", "output"])
    assert len(cell.key) == 32 and len(cell.blake2s_key) == 64
    with pytest.raises(spaces.InvalidArchitecture):
        Cell([[0, 1], [1, 0]], ["input", "output"])          # not upper-triangular
    with pytest.raises(spaces.InvalidArchitecture):
        Cell([[0, 1], [0, 0]], ["input", "conv5x5", "output"])  # wrong length / unknown op


def test_nb201_load_shared_csv_and_counters(shared):
    path = shared("nasbench201", "nb201_accuracies.csv.gz")
    bench = benchmarks.load("nb201", path=path, validation="cifar10_valid_12", test="cifar10_test_200")
    space = spaces.get("nb201")
    cell = space.sample(np.random.default_rng(1))
    m = bench.query(cell)
    assert 0.0 <= m.validation_accuracy <= 1.0 and 0.0 <= m.test_accuracy <= 1.0
    assert bench.queries == 1
    assert float(np.max(bench.test)) == pytest.approx(0.9437, abs=5e-5)
    with pytest.raises(benchmarks.NotInBenchmark):
        bench.query_key("|nope~0|+|none~0|none~1|+|none~0|none~1|none~2|")


def test_moons_and_reinforce_ask_tell():
    bench = benchmarks.load("moons")
    assert bench.space.size == 8421
    strat = strategies.get("reinforce")(bench.space, seed=0)
    for _ in range(8):
        arch = strat.ask()
        strat.tell(arch, bench.query(arch))
    assert bench.queries == 8


def test_incremental_env_and_agents_on_moons():
    bench = benchmarks.load("moons")
    env = IncrementalEnv(bench.space, bench, n_neighbours=50, alpha=6.0, max_steps=16, seed=0,
                         reveal_validation=True)
    obs, info = env.reset(seed=0)
    assert {"arch", "neighbours", "action_mask", "neighbour_validation"} <= set(info)
    for name in ("random_walk", "local_search"):  # every strategy is built on the space
        agent = strategies.get(name)(bench.space, seed=0)
        action = agent.act(obs, info)
        assert 0 <= action <= len(info["neighbours"])
    assert bench.space.is_valid(strategies.get("random_search")(bench.space, seed=0).ask())
    agent = strategies.get("local_search")(bench.space, seed=0)
    start = bench.query(info["arch"]).validation_accuracy
    done = False
    while not done:
        obs, reward, terminated, truncated, info = env.step(agent.act(obs, info))
        done = terminated or truncated
    assert bench.query(info["arch"]).validation_accuracy >= start


def test_cli_help_lists_commands(capsys):
    from nasbench_lab.cli import build_parser

    text = build_parser().format_help()
    for cmd in ("bench", "download", "import", "build", "figures"):
        assert cmd in text


def test_dir_of_the_package_lists_only_what_it_offers():
    """``dir(nl)``: every name resolves to a module with public names or to a stable
    object; the facade's own helpers (``importlib``, ``annotations``) are not listed."""
    import types

    import nasbench_lab as nl

    names = dir(nl)
    assert "importlib" not in names and "annotations" not in names and "_NAMES" not in names
    assert {"spaces", "benchmarks", "env", "strategies", "experiment", "analysis", "device", "run_protocol"} <= set(names)
    for name in names:
        obj = getattr(nl, name)
        if isinstance(obj, types.ModuleType):
            assert [n for n in dir(obj) if not n.startswith("_")], f"nl.{name} is an empty module"
        else:
            assert name == "__version__" or callable(obj), f"nl.{name} = {obj!r}"


def test_device_helpers_live_at_the_bottom():
    from nasbench_lab import device, paths

    assert device.default_device("cpu") == "cpu" and device.default_device() in ("cpu", "cuda")
    assert not hasattr(paths, "default_device") and not hasattr(paths, "torch_threads")
    import torch

    before = torch.get_num_threads()
    with device.torch_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before


def test_make_targets_and_requirement_files_agree():
    """Every target the Makefile declares has a rule; the environment stamp depends on both
    requirement files and installs the development one, which includes the runtime one;
    torch is pinned in the same file as Lightning; conda delegates to the same files."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    make = (root / "Makefile").read_text()
    phony = re.search(r"^\.PHONY:(.*)$", make, re.M).group(1).split()
    rules = set(re.findall(r"^([\w-]+):", make, re.M))
    assert set(phony) <= rules, f"declared without a rule: {sorted(set(phony) - rules)}"
    assert "clean-cache" in rules and "cache_dir()" in make
    stamp = re.search(r"^\$\(STAMP\):(.*)$", make, re.M).group(1).split()
    assert {"requirements.txt", "requirements-dev.txt", "pyproject.toml"} <= set(stamp)
    assert "-r requirements-dev.txt" in make
    runtime = (root / "requirements.txt").read_text().splitlines()
    dev = (root / "requirements-dev.txt").read_text().splitlines()
    assert "-r requirements.txt" in dev
    assert any(re.fullmatch(r"torch==[\d.]+", ln) for ln in runtime) and any(ln.startswith("lightning") for ln in runtime)
    assert not [ln for ln in runtime if ln.split(">=")[0] in {"pytest", "pytest-xdist", "hypothesis", "nbmake"}]
    assert "-r requirements-dev.txt" in (root / "environment.yml").read_text()
    import tomllib

    def names(lines):
        return {re.split(r"[\[<>=!~ ;]", ln.strip(), maxsplit=1)[0].lower() for ln in lines
                if ln.strip() and not ln.lstrip().startswith(("#", "-r"))}

    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    runtime_extras = {n for k, v in extras.items() if k not in ("gpu", "test") for n in names(v)}
    assert names(project["dependencies"]) | runtime_extras <= names(runtime), \
        sorted((names(project["dependencies"]) | runtime_extras) - names(runtime))
    assert names(extras["test"]) <= names(dev), sorted(names(extras["test"]) - names(dev))
    ignore = (root / ".gitignore").read_text().splitlines()
    whitelisted = [ln[1:] for ln in ignore if ln.startswith("!")]
    assert all((root / p).exists() for p in whitelisted), whitelisted

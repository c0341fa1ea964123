"""The benchmark catalogue: one table that loading, downloads, discovery and the CLI derive from."""
from __future__ import annotations

import pytest

from nasbench_lab import benchmarks, cli, notebook
from nasbench_lab.benchmarks import catalogue, download


def test_downloads_discovery_and_the_cli_help_come_from_the_catalogue():
    assert download.CATALOGUE is catalogue.DOWNLOADS
    assert notebook.BENCHMARKS == catalogue.SETUP and notebook.locate is catalogue.locate
    check = notebook.setup_check(show=False)  # the set-up check reads the catalogue's entries
    assert check.loc["nb101", "how_to_get"] == catalogue.BENCHMARKS["nb101"].how_to_get
    assert check.loc["nb201", "description"] == catalogue.BENCHMARKS["nb201"].description
    assert benchmarks.names() == catalogue.names() == ["moons", "nb101", "nb201", "nb301", "tabular"]
    sub = next(a for a in cli.build_parser()._actions if a.dest == "command").choices
    name_help = {c: next(a.help for a in sub[c]._actions if a.dest == "name") for c in ("download", "import")}
    assert name_help == {"download": "nb101 | nb101-full | nb201 | nb301", "import": "nb101 | nb201 | nb301"}


def test_an_absent_benchmark_raises_naming_its_files_and_how_to_get_them(tmp_data, monkeypatch):
    monkeypatch.setattr(catalogue.paths, "shared_data_dir", lambda: None)
    assert catalogue.locate("nb201") is None
    with pytest.raises(catalogue.BenchmarkNotFound, match=r"nb201: .*nb201_accuracies\.csv.*nasbench-lab download nb201"):
        benchmarks.load("nb201")
    assert issubclass(catalogue.BenchmarkNotFound, FileNotFoundError)
    with pytest.raises(catalogue.BenchmarkNotFound, match="auto: none of"):
        benchmarks.load("auto")
    with pytest.raises(KeyError, match="unknown benchmark 'nb999'; known: moons, nb101"):
        benchmarks.load("nb999")
    with pytest.raises(KeyError, match="unknown benchmark 'nb999'"):
        benchmarks.load("nb201", fallback="nb999")


def test_a_table_found_under_data_is_loaded_with_the_catalogue_options(tmp_data, monkeypatch, shared):
    csv = shared("nasbench201", "nb201_accuracies.csv.gz")
    monkeypatch.setattr(catalogue.paths, "shared_data_dir", lambda: None)
    target = tmp_data / "cache" / "downloads" / csv.name
    target.parent.mkdir(parents=True)
    target.write_bytes(csv.read_bytes())
    assert catalogue.locate("nb201") == target
    bench = benchmarks.load("nb201")
    assert len(bench.keys) == 15625 and abs(float(bench.test.max()) - 0.9437) < 1e-4
    other = benchmarks.load("nb201", test="cifar100_test_12")  # the caller's options win
    assert abs(float(other.test.max()) - float(bench.test.max())) > 0.1
    # a table's own ``name=`` option is an option, not load's first argument (main job's reuse step)
    renamed = benchmarks.load("nb201", name="nb201-cifar100", test="cifar100_test_12")
    assert renamed.name == "nb201-cifar100" and float(renamed.test.max()) == float(other.test.max())


def test_the_fallback_drops_options_meant_for_the_absent_benchmark(tmp_data, monkeypatch):
    monkeypatch.setattr(catalogue.paths, "shared_data_dir", lambda: None)
    with pytest.warns(catalogue.BenchmarkFallbackWarning, match="nb201: no benchmark file.*using 'moons'"):
        bench = benchmarks.load("nb201", fallback="moons", validation="cifar10_valid_12")
    assert bench.name == "moons"


def test_live_and_proxy_benchmarks_are_reachable_through_load(tmp_path):
    from nasbench_lab.benchmarks.live import LiveBenchmark, TrainerConfig
    from nasbench_lab.benchmarks.moons import MoonsTrainer
    from nasbench_lab.benchmarks.proxies import ProxyBenchmark

    live = benchmarks.load("live:nb201", seeds=(0, 1), store=tmp_path / "r.sqlite", config=TrainerConfig(epochs=1))
    assert type(live) is LiveBenchmark and live.seeds == (0, 1) and live.config.epochs == 1
    assert live.space.name == "nb201"
    moons = benchmarks.load("live:moons", seeds=(3,), store=tmp_path / "m.sqlite")
    assert type(moons) is MoonsTrainer and moons.seeds == (3,)
    proxy = benchmarks.load("proxy:mlp", proxy="synflow", seed=2)
    assert type(proxy) is ProxyBenchmark and (proxy.proxy, proxy.seed) == ("synflow", 2)
    with pytest.raises(KeyError, match="unknown benchmark form 'trained:'"):
        benchmarks.load("trained:nb201")
    with pytest.raises(ValueError, match="name the search space"):
        benchmarks.load("live:")
    with pytest.raises(ValueError, match="reads no file"):
        benchmarks.load("proxy:nb201", path=tmp_path)


def test_available_loads_what_is_here_and_warns_about_a_broken_file(tmp_data, monkeypatch):
    monkeypatch.setattr(catalogue.paths, "shared_data_dir", lambda: None)
    assert list(catalogue.available()) == ["moons"]  # bundled; nb201 and nb101 absent here
    broken = tmp_data / "cache" / "downloads" / "nb201_accuracies.csv.gz"
    broken.parent.mkdir(parents=True)
    broken.write_bytes(b"\x1f\x8b\x08\x00 not really gzip")
    with pytest.warns(UserWarning, match=r"nb201: present but not loaded \(BenchmarkFileError"):
        assert list(catalogue.available(("nb201",))) == []

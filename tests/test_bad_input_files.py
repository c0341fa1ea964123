"""One parametrised test of the smaller bad-input gaps (stage 7): each is refused with a
clear, typed error instead of a bare traceback, a silent truncation or a huge allocation."""
from __future__ import annotations

import contextlib
import io
import sys
import tomllib
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from nasbench_lab import paths
from nasbench_lab.benchmarks import BenchmarkFileError
from nasbench_lab.spaces.base import InvalidArchitecture

ROOT = Path(paths.__file__).resolve().parent.parent


class CliExit(Exception):
    """A command that returned (instead of raising): its status and standard error."""


def _cli(*argv) -> None:
    from nasbench_lab.cli import main

    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        rc = main(list(argv))
    raise CliExit(f"exit {rc}: {err.getvalue().strip()}")


def _truncated_gz(src: Path, dst: Path) -> Path:
    raw = src.read_bytes()
    dst.write_bytes(raw[: len(raw) // 2])
    return dst


# -- the cases ---------------------------------------------------------------------------------
def truncated_moons_table(tmp_path, monkeypatch):
    from nasbench_lab import benchmarks

    benchmarks.load("moons", path=_truncated_gz(ROOT / "data" / "nas_bench_moons.csv.gz", tmp_path / "m.csv.gz"))


def truncated_nb201_table(tmp_path, monkeypatch):
    from conftest import NB201_CSV, shared_file

    from nasbench_lab import benchmarks

    path = _truncated_gz(shared_file(*NB201_CSV), tmp_path / "nb201.csv.gz")
    benchmarks.load("nb201", path=path, validation="cifar10_valid_12", test="cifar10_test_200")


def missing_xgboost(tmp_path, monkeypatch):
    from nasbench_lab.benchmarks._formats import xgboost_legacy

    monkeypatch.setitem(sys.modules, "xgboost", None)  # as if not installed
    xgboost_legacy.json_to_booster({"learner": {}}, "member")


def missing_ipywidgets(tmp_path, monkeypatch):
    from nasbench_lab import widgets

    monkeypatch.setitem(sys.modules, "ipywidgets", None)
    widgets._control("benchmark", ["moons", "nb201"])


def download_dest_is_a_file(tmp_path, monkeypatch):
    monkeypatch.setenv("NASBENCH_LAB_DATA", str(tmp_path / "data"))
    target = tmp_path / "a-file"
    target.write_text("x")
    _cli("download", "nb101", "--dest", str(target), "--url", "http://127.0.0.1:9/x")


def download_url_is_not_a_url(tmp_path, monkeypatch):
    monkeypatch.setenv("NASBENCH_LAB_DATA", str(tmp_path / "data"))
    _cli("download", "nb101", "--url", "not a url")


def nb101_batch_of_64_vertices(tmp_path, monkeypatch):
    from nasbench_lab.spaces import nb101

    m = np.zeros((64, 64), np.int8)
    m[0, 63] = 1
    nb101.hash_batch([m], [["input"] + ["conv3x3-bn-relu"] * 62 + ["output"]])


def nb101_cell_of_64_vertices(tmp_path, monkeypatch):
    from nasbench_lab.spaces import nb101

    m = np.zeros((64, 64), np.int8)
    m[0, 63] = 1
    nb101.Cell(m.tolist(), ["input"] + ["conv3x3-bn-relu"] * 62 + ["output"])


def nb101_huge_matrix_small_peak(tmp_path, monkeypatch):
    """A 3000 x 3000 matrix is refused by its size before its entries are converted."""
    from nasbench_lab.spaces import nb101

    m = np.zeros((3000, 3000), np.int8)
    tracemalloc.start()
    try:
        nb101.Cell(m, ["input"] * 3000)
    except InvalidArchitecture as e:
        peak = tracemalloc.get_traced_memory()[1]
        raise InvalidArchitecture(f"{e} [peak {'small' if peak < 8 << 20 else f'{peak:,} bytes'}]") from None
    finally:
        tracemalloc.stop()


def chain_of_a_set(tmp_path, monkeypatch):
    from nasbench_lab.spaces.mlp import Chain

    Chain({(8, "Tanh"), (4, "ReLU")})


def chain_layer_of_a_set(tmp_path, monkeypatch):
    from nasbench_lab.spaces.mlp import Chain

    Chain([{8, "Tanh"}])


def chain_key_not_canonical(tmp_path, monkeypatch):
    from nasbench_lab.spaces.mlp import Chain

    Chain.from_key("08-Tanh")


def chain_float_index(tmp_path, monkeypatch):
    from nasbench_lab.spaces.mlp import ChainSpace

    ChainSpace(max_depth=3).from_index(2.7)


def nb201_float_index(tmp_path, monkeypatch):
    from nasbench_lab.spaces.nb201 import Cell

    Cell.from_index(10.5)


def nb101_float_index(tmp_path, monkeypatch):
    from nasbench_lab.spaces import nb101

    nb101.cell_at(3.5, path=tmp_path / "never-built.npz")  # refused before the enumeration is needed


CASES = [
    (truncated_moons_table, BenchmarkFileError, r"m\.csv\.gz is truncated or corrupt \(EOFError"),
    (truncated_nb201_table, BenchmarkFileError, r"nb201\.csv\.gz is truncated or corrupt \(EOFError"),
    (missing_xgboost, ModuleNotFoundError, r"optional package 'xgboost'.*pip install 'nasbench-lab\[surrogate\]'"),
    (missing_ipywidgets, ModuleNotFoundError, r"optional package 'ipywidgets'.*nasbench-lab\[notebooks\]"),
    (download_dest_is_a_file, CliExit, r"^exit 1: --dest .*a-file is a file; pass the folder"),
    (download_url_is_not_a_url, CliExit, r"^exit 1: --url 'not a url' is not a URL"),
    (nb101_batch_of_64_vertices, InvalidArchitecture, r"cell 0: matrix has 64 vertices; at most 63"),
    (nb101_cell_of_64_vertices, InvalidArchitecture, r"matrix has 64 vertices; at most 63"),
    (nb101_huge_matrix_small_peak, InvalidArchitecture, r"3000 vertices.*\[peak small\]"),
    (chain_of_a_set, InvalidArchitecture, r"ordered sequence .* got a set"),
    (chain_layer_of_a_set, InvalidArchitecture, r"layer 0: expected an ordered .* unordered set"),
    (chain_key_not_canonical, InvalidArchitecture, r"'08-Tanh' is not canonical; that chain's key is '8-Tanh'"),
    (chain_float_index, TypeError, r"chain index must be an integer, got 2\.7 \(float\)"),
    (nb201_float_index, TypeError, r"nb201 index must be an integer, got 10\.5"),
    (nb101_float_index, TypeError, r"nb101 enumeration index must be an integer, got 3\.5"),
]


@pytest.mark.parametrize("case, error, pattern", CASES, ids=[c[0].__name__ for c in CASES])
def test_bad_input_is_refused_clearly(case, error, pattern, tmp_path, monkeypatch):
    with pytest.raises(error, match=pattern):
        case(tmp_path, monkeypatch)


def test_integral_floats_are_still_indices():
    from nasbench_lab.spaces.mlp import ChainSpace
    from nasbench_lab.spaces.nb201 import Cell

    space = ChainSpace(max_depth=3)
    assert space.from_index(3.0) == space.from_index(3) == space.from_index(np.int64(3))
    assert Cell.from_index(np.float32(7.0)) == Cell.from_index(7)


def test_extras_named_in_messages_exist_in_pyproject():
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    for module, extra in paths.EXTRAS.items():
        assert extra in extras, f"{module}: extra {extra!r} is not in pyproject.toml"
        assert any(req.lower().startswith(module.lower()) for req in extras[extra]), (module, extras[extra])


def test_query_index_refuses_fractional_rows():
    from conftest import chain_benchmark
    from nasbench_lab.spaces.base import InvalidIndex

    bench = chain_benchmark(0)
    assert bench.query_index(3.0).validation_accuracy == bench.query_index(3).validation_accuracy
    with pytest.raises(InvalidIndex):
        bench.query_index(2.7)

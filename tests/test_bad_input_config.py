"""Stage 7, the smaller gaps: bad configuration values and bad files get one clear error each.

Every case used to be accepted silently, or to fail later for the wrong reason:
``cache_size=0`` (KeyError at reset), ``alpha=1000`` (inf - inf = NaN rewards), the
vector env's ``step()`` before ``reset()`` (nothing happened), negative ``initial_rows``
(wrapped around), non-positive protocol sizes, ``--workers 0``, a truncated unit file
(a bare ArrowInvalid), a benchmark-name typo in ``figures`` (NB201 silently dropped as
well) and float actions (truncated).
"""
from __future__ import annotations

import argparse

import numpy as np
import pandas as pd
import pytest

from conftest import chain_benchmark
from nasbench_lab.env import IncrementalEnv
from nasbench_lab.experiment.protocol import ProtocolConfig, load_frame, save_frame
from nasbench_lab.env.vector import VectorIncrementalEnv
from nasbench_lab.schema import EPISODE_COLUMNS


@pytest.fixture(scope="module")
def bench():
    return chain_benchmark(7)


@pytest.fixture(scope="module")
def table(bench):
    from nasbench_lab.env.neighbours import neighbour_table

    return neighbour_table(bench.space, bench)


def _venv(bench, table, **kw):
    return VectorIncrementalEnv(table, bench.validation, bench.keys, 4, n_neighbours=5, **kw)


def cache_size_zero(bench, table, tmp_path):
    with pytest.raises(ValueError, match="cache_size must be >= 1"):
        IncrementalEnv(bench.space, bench, cache_size=0)
    env = IncrementalEnv(bench.space, bench, cache_size=1)  # the smallest cache still works
    _, info = env.reset(seed=0)
    assert env.step(1)[4]["validation"] == bench.query(info["neighbours"][0]).validation_accuracy


def alpha_that_overflows(bench, table, tmp_path):
    for build in (lambda: IncrementalEnv(bench.space, bench, alpha=1000.0),
                  lambda: _venv(bench, table, alpha=1000.0),
                  lambda: ProtocolConfig(alpha=1000.0),
                  lambda: IncrementalEnv(bench.space, bench, alpha=float("nan"))):
        with pytest.raises(ValueError, match=r"exp\(alpha \* accuracy\) overflows float64"):
            build()
    env = IncrementalEnv(bench.space, bench, alpha=700.0)  # large but finite: finite rewards
    env.reset(seed=0)
    assert np.isfinite(env.step(1)[1])


def vector_step_before_reset(bench, table, tmp_path):
    venv = _venv(bench, table)
    with pytest.raises(RuntimeError, match=r"before reset\(\)"):
        venv.step(np.ones(4, np.int64))
    venv.reset(seed=0)
    assert np.asarray(venv.step(np.ones(4, np.int64))[4]["active"]).all()


def negative_initial_rows(bench, table, tmp_path):
    with pytest.raises(ValueError, match="negative rows do not wrap around"):
        _venv(bench, table, initial_rows=np.array([0, -1]))
    with pytest.raises(ValueError, match="initial_rows"):
        _venv(bench, table, initial_rows=np.array([len(bench)]))


def non_positive_protocol_sizes(bench, table, tmp_path):
    for field, value in (("budget", 0), ("budget", -300), ("set_size", 0), ("n_sets", 0),
                         ("max_steps", 0), ("n_neighbours", -1), ("batch_size", 0), ("set_size", 2.5)):
        with pytest.raises(ValueError, match=f"ProtocolConfig.{field} must be a positive integer"):
            ProtocolConfig(**{field: value})
    with pytest.raises(ValueError, match="seeds is empty"):
        ProtocolConfig(seeds=())


def workers_zero(bench, table, tmp_path):
    from nasbench_lab import build, cli

    with pytest.raises(SystemExit) as e:
        cli.build_parser().parse_args(["build", "moons", "--workers", "0"])
    assert e.value.code == 2  # argparse's usage error
    with pytest.raises(SystemExit, match="--workers must be a positive integer"):
        build.cli_build(argparse.Namespace(what="moons", workers=0, seed=0, out=None))
    assert cli.build_parser().parse_args(["build", "moons", "--workers", "1"]).workers == 1


def truncated_unit_file(bench, table, tmp_path):
    frame = pd.DataFrame({c: pd.Series([], dtype=t) for c, t in EPISODE_COLUMNS.items()})
    for name in ("random_walk__seed0__set0.episodes.parquet", "random_walk__seed0__set0.episodes.csv"):
        path = save_frame(frame, tmp_path / name)
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 3] if path.suffix == ".parquet" else b"benchmark,agent\n")
        with pytest.raises(ValueError, match=rf"{name}.*truncated or corrupt\. Delete it and rerun") as e:
            load_frame(path, EPISODE_COLUMNS)
        assert type(e.value).__name__ == "ResultFileError"


def benchmark_name_typo(bench, table, tmp_path):
    from nasbench_lab import main_job

    ctx = main_job.Context(main_job.JobConfig(benchmark="mons", out=tmp_path))
    with pytest.raises(ValueError, match=r"unknown benchmark 'mons'; known: .*moons.*nb201"):
        main_job.step_benchmarks(ctx)
    if main_job.nb201_path() is not None:  # the typo no longer drops NAS-Bench-201 as well
        assert "nb201" in ctx.benchmarks
    with pytest.raises(SystemExit, match=r"unknown benchmark 'mons'; known:"):
        main_job.cli_figures(argparse.Namespace(benchmark="mons", out=str(tmp_path), quick=True))


def float_actions(bench, table, tmp_path):
    env = IncrementalEnv(bench.space, bench, n_neighbours=5)
    env.reset(seed=0)
    with pytest.raises(ValueError, match="must be an integer"):
        env.step(1.5)
    with pytest.raises(ValueError, match="must be an integer"):
        env.step(np.float32(0.7))
    venv = _venv(bench, table)
    venv.reset(seed=0)
    with pytest.raises(ValueError, match="actions must be integers"):
        venv.step(np.array([0.0, 1.5, 1.0, 2.0]))
    env.step(np.float64(1.0))  # an integral float is an integer
    venv.step(np.array([0.0, 1.0, 1.0, 2.0]))


CASES = {f.__name__: f for f in (cache_size_zero, alpha_that_overflows, vector_step_before_reset,
                                 negative_initial_rows, non_positive_protocol_sizes, workers_zero,
                                 truncated_unit_file, benchmark_name_typo, float_actions)}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_gets_one_clear_error(case, bench, table, tmp_path):
    CASES[case](bench, table, tmp_path)

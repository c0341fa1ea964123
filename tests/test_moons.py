"""HalfMoons: the data, the (batched) trainer, the result store, NAS-Bench-Moons."""
from __future__ import annotations

import math
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest

from nasbench_lab import benchmarks, paths
from nasbench_lab.benchmarks import moons
from nasbench_lab.benchmarks.moons import MoonsConfig, MoonsTrainer, moons_data, train_batch
from nasbench_lab.benchmarks.store import ResultStore, config_hash
from nasbench_lab.spaces.mlp import ACTIVATIONS, Chain, ChainSpace

FAST = MoonsConfig(steps=60)


# -- data -------------------------------------------------------------------------------------
def test_data_split_is_fixed_and_standardised():
    d = moons_data()
    assert [len(d[k]) for k in ("x_train", "x_val", "x_test")] == [600, 200, 200]
    assert np.allclose(d["x_train"].mean(0), 0, atol=1e-5) and np.allclose(d["x_train"].std(0), 1, atol=1e-4)
    assert set(np.unique(d["y_val"])) == {0, 1} and 0.4 < d["y_test"].mean() < 0.6
    again = moons_data.__wrapped__(MoonsConfig())
    assert all(np.array_equal(d[k], again[k]) for k in d)
    other = moons_data(MoonsConfig(data_seed=1))
    assert not np.array_equal(d["x_val"], other["x_val"])


# -- training -------------------------------------------------------------------------------
def test_trained_16_16_relu_is_well_above_chance(tmp_data):
    trainer = MoonsTrainer(seeds=(0, 1, 2))
    m = trainer.query(Chain([(16, "ReLU"), (16, "ReLU")]))
    assert m.validation_accuracy > 0.9 and m.test_accuracy > 0.9
    assert m.parameters == 354 and m.training_time > 0
    assert len(m.extra["validation_per_seed"]) == 3
    assert all(v * 200 == round(v * 200) for v in m.extra["validation_per_seed"])  # counts of 200 points
    # a linear classifier cannot separate the moons as well as the trained network
    lin = trainer.query(Chain(()))
    assert 0.75 < lin.validation_accuracy < m.validation_accuracy - 0.05


def test_loss_decreases_on_a_tiny_budget():
    res = train_batch((8,), [("Tanh",), ("ReLU",)], [0, 1], MoonsConfig(steps=20), record_loss=True)
    curve = res["loss_curve"]
    assert curve.shape == (21, 2)
    assert (curve[-1] < curve[0] - 0.1).all()
    assert math.isclose(res["train_loss"][0], curve[-1, 0], rel_tol=1e-6)


def test_batched_training_matches_training_alone():
    """Stacked members follow their own updates: same as training each chain alone."""
    widths = (4, 8)
    acts = [("Tanh", "ReLU"), ("Sigmoid", "LeakyReLU"), ("ReLU", "ReLU"), ("Tanh", "ReLU")]
    seeds = [0, 0, 1, 2]
    together = train_batch(widths, acts, seeds, FAST)
    for i, (a, s) in enumerate(zip(acts, seeds)):
        alone = train_batch(widths, [a], [s], FAST)
        assert abs(alone["train_loss"][0] - together["train_loss"][i]) < 1e-4
        assert abs(alone["validation_accuracy"][0] - together["validation_accuracy"][i]) <= 0.01
    # the same chain with different seeds starts elsewhere
    assert together["train_loss"][0] != together["train_loss"][3]


def test_training_is_deterministic_and_seeded():
    a = train_batch((2,), [("Tanh",)] * 2, [3, 4], FAST)
    b = train_batch((2,), [("Tanh",)] * 2, [3, 4], FAST)
    assert np.array_equal(a["train_loss"], b["train_loss"])
    assert a["train_loss"][0] != a["train_loss"][1]


def test_train_batch_rejects_mismatched_patterns():
    with pytest.raises(ValueError, match="does not match"):
        train_batch((2, 4), [("Tanh",)], [0], FAST)
    with pytest.raises(ValueError, match="unknown activations"):
        train_batch((2,), [("GELU",)], [0], FAST)


def test_trainer_caches_in_the_store(tmp_data):
    store = ResultStore(tmp_data / "live.sqlite")
    trainer = MoonsTrainer(config=FAST, seeds=(0, 1), store=store)
    chain = Chain([(4, "Tanh")])
    first = trainer.query(chain)
    assert len(store) == 2
    # a new trainer on the same store answers from it (no training: identical numbers)
    again = MoonsTrainer(config=FAST, seeds=(0, 1), store=store).query(chain)
    assert again.validation_accuracy == first.validation_accuracy and again.training_time == first.training_time
    # a different training config is a different cache entry
    MoonsTrainer(config=MoonsConfig(steps=30), seeds=(0,), store=store).query(chain)
    assert len(store) == 3
    assert trainer.queries == 1 and trainer.unique_queries == 1
    with pytest.raises(Exception, match="at most 6"):
        trainer.query([(2, "Tanh")] * 7)


# -- the result store -----------------------------------------------------------------------
def test_store_round_trip(tmp_path):
    s = ResultStore(tmp_path / "r.sqlite")
    cfg = config_hash({"a": 1})
    assert cfg == config_hash({"a": 1}) != config_hash({"a": 2})
    s.put("k", 0, cfg, {"validation_accuracy": np.float64(0.5), "test_accuracy": math.nan, "n": 3})
    got = s.get("k", 0, cfg)
    assert got["validation_accuracy"] == 0.5 and math.isnan(got["test_accuracy"]) and got["n"] == 3
    assert s.get("k", 1, cfg) is None and s.get("k", 0, "other") is None
    s.put_many([("k", 1, {"v": 1}), ("j", 0, {"v": 2})], cfg)
    assert s.keys(cfg) == {("k", 0), ("k", 1), ("j", 0)}
    assert s.get_config(cfg)[("j", 0)] == {"v": 2}
    s.close()
    (tmp_path / "bad.sqlite").write_bytes(b"this is not a database" * 100)
    with pytest.raises(sqlite3.DatabaseError, match="not a usable SQLite"):
        ResultStore(tmp_path / "bad.sqlite")


def test_store_survives_a_killed_process(tmp_path):
    """A writer SIGKILLed mid-run leaves every committed result readable and the file sound."""
    db = tmp_path / "killed.sqlite"
    script = textwrap.dedent(f"""
        import sys, time
        from nasbench_lab.benchmarks.store import ResultStore
        s = ResultStore({str(db)!r})
        i = 0
        while True:
            s.put(f"arch{{i}}", i % 3, "cfg", {{"validation_accuracy": i / 1000, "blob": "x" * 2000}})
            print(i, flush=True)
            i += 1
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, cwd=paths.PROJECT_ROOT)
    written = -1
    try:
        for line in proc.stdout:
            written = int(line)
            if written >= 200:
                break
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL and written >= 200
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()
    s = ResultStore(db)
    got = s.get_config("cfg")
    assert len(got) >= written + 1  # every printed (committed) result is there
    for i in range(written + 1):
        assert got[(f"arch{i}", i % 3)]["validation_accuracy"] == i / 1000
    s.put("after", 0, "cfg", {"v": 1})  # and the store keeps working
    assert s.get("after", 0, "cfg") == {"v": 1}


# -- building NAS-Bench-Moons ------------------------------------------------------------------
def test_build_is_resumable_and_reproduces_the_bundled_rows(tmp_path, monkeypatch):
    out, store = tmp_path / "moons1.csv.gz", tmp_path / "build.sqlite"
    moons.build(out=out, store=store, max_depth=1, workers=1, progress=False)
    table = pd.read_csv(out)
    assert len(table) == 21 and table.key.tolist() == [c.key for c in ChainSpace(1).enumerate()]
    # a second build finds every group in the store and trains nothing
    monkeypatch.setattr(moons, "_train_group", lambda job: pytest.fail("retrained a stored group"))
    moons.build(out=tmp_path / "again.csv.gz", store=store, max_depth=1, workers=1, progress=False)
    again = pd.read_csv(tmp_path / "again.csv.gz")
    pd.testing.assert_frame_equal(table, again)
    # the committed table was built by the same code: its depth <= 1 rows are reproduced
    # (exactly on the building machine; another CPU may round a few products differently)
    bundled = pd.read_csv(paths.bundled_dir() / moons.BUNDLED_FILE).iloc[:21]
    assert table.key.tolist() == bundled.key.tolist() and table.parameters.tolist() == bundled.parameters.tolist()
    cols = [f"{f}_{i}" for f in ("validation", "test") for i in range(3)]
    close = np.abs(table[cols].to_numpy() - bundled[cols].to_numpy()) <= 0.01
    assert close.mean() >= 0.9, close.mean()


# -- the bundled benchmark ------------------------------------------------------------------
@pytest.fixture(scope="module")
def bench():
    return benchmarks.load("moons")


def test_moons_benchmark_loads_complete(bench):
    assert bench.name == "moons" and len(bench) == 8421
    assert isinstance(bench.space, ChainSpace) and bench.space.max_depth == 3
    assert bench.keys.tolist() == [c.key for c in bench.space.enumerate()]
    for field in ("validation_accuracy", "test_accuracy"):
        v = bench.per_seed[field]
        assert v.shape == (8421, 3) and (v >= 0).all() and (v <= 1).all()
    assert np.allclose(bench.validation, bench.per_seed["validation_accuracy"].mean(1))
    assert np.array_equal(bench.parameters, [c.parameters for c in bench.space.enumerate()])
    assert (bench.training_time > 0).all()
    # real spread: collapsed networks near chance, good ones near the noise ceiling
    assert bench.validation.min() < 0.6 and 0.95 < bench.validation.max() < 1.0


def test_moons_queries_agree(bench):
    chain = Chain([(8, "Tanh"), (8, "ReLU"), (4, "ReLU")])
    row = bench.row_of(chain.key)
    assert row == bench.space.index(chain)
    by_arch, by_key, by_index = bench.query(chain), bench.query_key(chain.key), bench.query_index(row)
    assert by_arch.validation_accuracy == by_key.validation_accuracy == by_index.validation_accuracy
    assert by_arch.test_accuracy == by_index.test_accuracy == bench.test[row]
    assert bench.arch(row) == chain
    batch = bench.query_batch([chain, Chain(())])
    assert batch.validation_accuracy[0] == by_arch.validation_accuracy
    with pytest.raises(benchmarks.NotInBenchmark):
        bench.query(Chain([(2, "Tanh")] * 4))


def test_moons_missing_or_bad_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="build moons"):
        moons.load(tmp_path / "absent.csv.gz")
    frame = pd.read_csv(paths.bundled_dir() / moons.BUNDLED_FILE)
    frame.loc[5, "validation_1"] = 1.5
    frame.to_csv(tmp_path / "bad.csv.gz", index=False)
    with pytest.raises(benchmarks.BenchmarkFileError, match=r"outside \[0, 1\]"):
        moons.load(tmp_path / "bad.csv.gz")
    frame.iloc[:-1].to_csv(tmp_path / "short.csv.gz", index=False)
    with pytest.raises(benchmarks.BenchmarkFileError, match="lacks 1"):
        moons.load(tmp_path / "short.csv.gz")

"""Live training: data splits, the Lightning cell trainer, LiveBenchmark's cache."""
from __future__ import annotations

import pickle
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("lightning")

from nasbench_lab.benchmarks import data as D  # noqa: E402
from nasbench_lab.benchmarks.live import LiveBenchmark, TrainerConfig, train_cell  # noqa: E402
from nasbench_lab.benchmarks.store import ResultStore  # noqa: E402
from nasbench_lab.spaces import get as get_space, nb201  # noqa: E402

from _cells import DARTS_CELL, MIXED_NB201, NB101_CELL  # noqa: E402

MIXED = MIXED_NB201
CELL_STRINGS = [
    MIXED.key,
    "|nor_conv_1x1~0|+|skip_connect~0|nor_conv_3x3~1|+|none~0|avg_pool_3x3~1|skip_connect~2|",
    "|skip_connect~0|+|nor_conv_1x1~0|none~1|+|nor_conv_3x3~0|skip_connect~1|none~2|",
    "|avg_pool_3x3~0|+|nor_conv_3x3~0|nor_conv_1x1~1|+|skip_connect~0|none~1|nor_conv_3x3~2|",
    "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|",
    "|none~0|+|skip_connect~0|nor_conv_1x1~1|+|avg_pool_3x3~0|nor_conv_3x3~1|skip_connect~2|",
]
CELLS = [nb201.Cell.from_string(s) for s in CELL_STRINGS]


TINY = TrainerConfig(max_steps=3, threads=1)
NB201 = get_space("nb201")


# ---------------------------------------------------------------------------------------
# data
# ---------------------------------------------------------------------------------------
def test_digits_split_is_seeded_normalised_and_complete():
    d = D.load_digits()
    assert d.input_shape == (1, 8, 8) and d.num_classes == 10
    assert len(d.x_train) + len(d.x_val) + len(d.x_test) == 1797
    assert (len(d.x_train), len(d.x_val), len(d.x_test)) == (1078, 359, 360)
    assert abs(float(d.x_train.mean())) < 1e-5 and abs(float(d.x_train.std()) - 1) < 1e-4
    for y in (d.y_train, d.y_val, d.y_test):
        assert set(np.unique(y)) == set(range(10))
    again, other = D.load_digits(seed=0), D.load_digits(seed=1)
    assert np.array_equal(d.x_test, again.x_test) and np.array_equal(d.y_val, again.y_val)
    assert not np.array_equal(d.y_test, other.y_test)
    # the three splits are disjoint: no test image appears among the training images
    train_rows = {r.tobytes() for r in d.x_train}
    assert sum(r.tobytes() in train_rows for r in d.x_test) < 5  # digits has a few exact duplicates


def _write_cifar(folder, per_batch=10, test=6):
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True)
    labels = {}
    for name in D.CIFAR10_FILES:
        n = test if name == "test_batch" else per_batch
        data = rng.integers(0, 256, size=(n, 3072), dtype=np.uint8)
        data[0, :1024], data[0, 1024:] = 255, 0  # first image: pure red
        labels[name] = [int(v) for v in rng.integers(0, 10, size=n)]
        with open(folder / name, "wb") as f:  # the official format: bytes keys, protocol 2
            pickle.dump({b"batch_label": name.encode(), b"labels": labels[name], b"data": data,
                         b"filenames": [b"x.png"] * n}, f, protocol=2)
    return labels


def test_cifar10_loader_reads_the_python_batches(tmp_path):
    labels = _write_cifar(tmp_path / "cifar-10-batches-py")
    d = D.load_cifar10(tmp_path, validation=8)  # the parent folder works too
    assert d.input_shape == (3, 32, 32)
    assert (len(d.x_train), len(d.x_val), len(d.x_test)) == (42, 8, 6)
    assert d.y_test.tolist() == labels["test_batch"]
    red = d.x_test[0]
    assert red[0].mean() > red[1].mean() and red[0].mean() > red[2].mean()
    assert np.allclose(d.x_train.mean(axis=(0, 2, 3)), 0, atol=1e-5)
    same = D.load_cifar10(tmp_path / "cifar-10-batches-py", validation=8, seed=0)
    assert np.array_equal(same.x_val, d.x_val) and np.array_equal(same.y_train, d.y_train)


def test_cifar10_missing_or_malformed_files_say_which(tmp_path):
    with pytest.raises(D.DataNotFoundError, match="data_batch_1.*test_batch"):
        D.load_cifar10(tmp_path)
    _write_cifar(tmp_path / "c")
    (tmp_path / "c" / "data_batch_3").write_bytes(b"not a pickle")
    with pytest.raises(D.DataError, match="data_batch_3: not a CIFAR-10 python batch"):
        D.load_cifar10(tmp_path / "c", validation=5)
    with pytest.raises(D.DataNotFoundError, match="needs path"):
        D.load_dataset("cifar10")


# ---------------------------------------------------------------------------------------
# one training run
# ---------------------------------------------------------------------------------------
def test_training_decreases_the_loss_and_learns_digits():
    r = train_cell(MIXED, TrainerConfig(epochs=2, threads=1), seed=0)
    assert r.steps == 2 * 17 == len(r.losses)
    assert np.mean(r.losses[-5:]) < 0.5 * np.mean(r.losses[:5])
    assert r.validation_accuracy > 0.6 and r.test_accuracy > 0.6  # chance is 0.1
    assert r.training_time > 0 and r.parameters > 10_000


@pytest.mark.parametrize("arch", [NB101_CELL, DARTS_CELL], ids=["nb101", "darts"])
def test_other_families_train(arch):
    r = train_cell(arch, TrainerConfig(max_steps=12, threads=1), seed=0)
    assert r.steps == 12
    assert np.mean(r.losses[-4:]) < np.mean(r.losses[:4])


def test_training_is_deterministic_per_seed_and_leaves_the_global_rng_alone():
    state = torch.random.get_rng_state()
    a = train_cell(MIXED, TrainerConfig(max_steps=4, threads=1), seed=3)
    b = train_cell(MIXED, TrainerConfig(max_steps=4, threads=1), seed=3)
    c = train_cell(MIXED, TrainerConfig(max_steps=4, threads=1), seed=4)
    assert torch.equal(state, torch.random.get_rng_state())
    assert a.losses == b.losses and a.validation_accuracy == b.validation_accuracy
    assert a.losses != c.losses


def test_cifar_sized_data_trains(tmp_path):
    _write_cifar(tmp_path / "cifar", per_batch=8, test=4)
    cfg = TrainerConfig(dataset="cifar10", data_path=str(tmp_path / "cifar"), max_steps=1,
                        batch_size=8, threads=1)
    r = train_cell(MIXED, cfg, data=D.load_cifar10(tmp_path / "cifar", validation=4), seed=0)
    assert r.steps == 1 and 0 <= r.test_accuracy <= 1


def test_config_digest_keys_what_changes_results():
    base = TrainerConfig()
    assert base.digest() == TrainerConfig(accelerator="cpu", threads=1).digest()
    assert base.digest() != TrainerConfig(epochs=4).digest()
    assert base.digest() != TrainerConfig(channels=32).digest()


# ---------------------------------------------------------------------------------------
# the benchmark and its cache
# ---------------------------------------------------------------------------------------
def test_live_benchmark_averages_seeds_and_caches(tmp_data):
    store = ResultStore(tmp_data / "live.sqlite")
    bench = LiveBenchmark(NB201, TINY, seeds=(0, 1), store=store)
    m = bench.query(MIXED)
    assert bench.trained == 2 and len(store) == 2
    per_seed = m.extra["validation_per_seed"]
    assert per_seed.shape == (2,) and m.validation_accuracy == pytest.approx(per_seed.mean())
    assert m.extra["cached"] == 0 and m.parameters > 0 and m.training_time > 0
    assert store.get(MIXED.key, 1, TINY.digest())["validation_accuracy"] == per_seed[1]

    again = LiveBenchmark(NB201, TINY, seeds=(0, 1), store=ResultStore(store.path))
    m2 = again.query(MIXED)
    assert again.trained == 0 and m2.extra["cached"] == 2
    assert m2.validation_accuracy == m.validation_accuracy and m2.test_accuracy == m.test_accuracy
    batch = again.query_batch([MIXED, MIXED])
    assert again.trained == 0 and again.queries == 3 and again.unique_queries == 1
    assert np.array_equal(batch.validation_accuracy, [m.validation_accuracy] * 2)
    # a third seed trains only the missing run; another config trains afresh
    more = LiveBenchmark(NB201, TINY, seeds=(0, 1, 2), store=store)
    more.query(MIXED)
    assert more.trained == 1 and len(store) == 3
    other = LiveBenchmark(NB201, TrainerConfig(max_steps=2, threads=1), store=store)
    other.query(MIXED)
    assert other.trained == 1 and len(store) == 4


def test_results_survive_a_killed_process(tmp_data):
    path = tmp_data / "killed.sqlite"
    script = textwrap.dedent(f"""
        import sys
        from nasbench_lab.benchmarks.live import LiveBenchmark, TrainerConfig
        from nasbench_lab.spaces.nb201 import Cell
        bench = LiveBenchmark("nb201", TrainerConfig(max_steps=3, threads=1), store={str(path)!r})
        for cell in sys.argv[1:]:
            bench.query(Cell.from_string(cell))
            print("done", flush=True)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script, *CELL_STRINGS], stdout=subprocess.PIPE, text=True)
    try:
        done = 0
        deadline = time.monotonic() + 300
        while done < 2 and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            done += line.strip() == "done"
        assert done == 2, "the training process stopped before finishing two cells"
        proc.kill()  # SIGKILL mid-run: no cleanup, no atexit
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode != 0
    store = ResultStore(path)
    finished = store.keys(TINY.digest())
    assert {(CELL_STRINGS[0], 0), (CELL_STRINGS[1], 0)} <= finished and len(finished) < len(CELLS)
    bench = LiveBenchmark(NB201, TINY, store=store)
    bench.query_batch(CELLS[:2])
    assert bench.trained == 0
    bench.query(CELLS[-1])  # the store is still writable
    assert bench.trained == 1 and (CELL_STRINGS[-1], 0) in store.keys(TINY.digest())

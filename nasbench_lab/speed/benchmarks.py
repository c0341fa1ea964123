"""Speed of the benchmark layer: NB101 import/cache/queries, NB201 table queries.

References run in the same process:

* NB101: the official API's in-memory layout (``fixed_statistics[hash]`` and
  ``computed_statistics[hash][epochs] -> [repeat dicts]``) built from the same data. Two
  reference queries for an already-hashed cell: ``official`` follows the official
  ``query``: deep copies of both dicts, one repeat drawn at random, a result dict
  assembled; ``dict`` is the most generous reading: a bare dict-of-dicts lookup and the
  mean over repeats, no copies. The official layout is built for a subset of the cells
  (its Python dicts take about 1.5 kB per cell); lookup speed barely depends on its size.
* The fixture is made-up data in the exact official format, scaled to 423,624 cells x 3
  repeats (quick mode: 20,000 cells).
"""
from __future__ import annotations

import copy
import random
import tempfile
import time
from pathlib import Path

import numpy as np

from . import Row

def median_times(fn, repeat: int = 3) -> tuple[float, float]:
    """Medians of (wall, process CPU) seconds of ``fn``. On a shared, overloaded machine
    the CPU time shows what the code costs; the wall time what this run saw."""
    walls, cpus = [], []
    for _ in range(repeat):
        c, w = time.process_time(), time.perf_counter()
        fn()
        walls.append(time.perf_counter() - w)
        cpus.append(time.process_time() - c)
    return float(np.median(walls)), float(np.median(cpus))


def _load_note() -> str:
    try:
        import os

        return f"load avg {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
    except OSError:  # pragma: no cover
        return ""


FULL_CELLS = 423_624
QUICK_CELLS = 20_000


def _fixture(tmp: Path, n_cells: int):
    from ..benchmarks import testing

    path = tmp / "nasbench_fixture.tfrecord"
    t0 = time.perf_counter()
    testing.write_nb101_tfrecord_scaled(path, n_cells=n_cells, seed=0)
    return path, time.perf_counter() - t0


_STATE: dict = {}


def _nb101(quick: bool):
    """Build (once per process and size) the fixture, its cache and the loaded benchmark."""
    n = QUICK_CELLS if quick else FULL_CELLS
    if n in _STATE:
        return _STATE[n]
    from ..benchmarks import nb101

    tmpdir = tempfile.TemporaryDirectory(prefix="nb101-bench-")
    tmp = Path(tmpdir.name)
    src, t_write = _fixture(tmp, n)
    cache = tmp / "nb101.npz"
    t_build = median_times(lambda: nb101.import_tfrecord(src, out=cache, rebuild=True), repeat=1)
    first_key = str(nb101.load_cache(cache).keys[n // 2])
    src.unlink()  # the cache is all the query figures need
    t_load = median_times(lambda: nb101.load_cache(cache), repeat=3)
    t_first = median_times(lambda: nb101.load_cache(cache).query(first_key), repeat=3)
    bench = nb101.load_cache(cache, seed=0)
    _STATE[n] = dict(tmpdir=tmpdir, n=n, bench=bench, cache=cache, t_write=t_write,
                     t_build=t_build, t_load=t_load, t_first=t_first)
    return _STATE[n]


def nb101_cache(quick: bool) -> list[Row]:
    s = _nb101(quick)
    n = s["n"]
    size = s["cache"].stat().st_size / 1e6
    return [
        (f"fixture tfrecord written ({n:,} cells x 3)", s["t_write"], "s", "made-up data, official format"),
        ("cache build (import: read, CRCs, decode, write)", s["t_build"][0], "s",
         f"cpu {s['t_build'][1]:,.1f} s, {3 * n / s['t_build'][1]:,.0f} records/cpu-s"),
        ("cache size", size, "MB", f"{size * 1e6 / n:,.0f} B/cell"),
        ("cache load (median of 3)", s["t_load"][0], "s", f"cpu {s['t_load'][1]:.3f} s; target <= 1 s"),
        ("cache load + first query (builds the key index)", s["t_first"][0], "s",
         f"cpu {s['t_first'][1]:.3f} s"),
        ("machine", float("nan"), "", _load_note()),
    ]


def _official_query(fixed, computed, h, epochs, rng: random.Random):
    """The official API's query for an already-hashed cell (its steps, minus hashing)."""
    fixed_stat = copy.deepcopy(fixed[h])
    computed_stat = copy.deepcopy(computed[h])
    reps = computed_stat[epochs]
    stat = reps[rng.randint(0, len(reps) - 1)]
    data = {"module_adjacency": fixed_stat["module_adjacency"],
            "module_operations": fixed_stat["module_operations"],
            "trainable_parameters": fixed_stat["trainable_parameters"],
            "training_time": stat["final_training_time"],
            "train_accuracy": stat["final_train_accuracy"],
            "validation_accuracy": stat["final_validation_accuracy"],
            "test_accuracy": stat["final_test_accuracy"]}
    return data


def _dict_query(computed, h, epochs):
    """A bare dict-of-dicts lookup with the mean over repeats (no copies)."""
    reps = computed[h][epochs]
    k = len(reps)
    return (sum(r["final_validation_accuracy"] for r in reps) / k,
            sum(r["final_test_accuracy"] for r in reps) / k,
            sum(r["final_training_time"] for r in reps) / k)


def nb101_queries(quick: bool) -> list[Row]:
    s = _nb101(quick)
    b = s["bench"]
    n = len(b)
    rng = np.random.default_rng(0)
    n_ref = min(n, 20_000 if quick else 100_000)
    ref_rows = np.sort(rng.choice(n, n_ref, replace=False))
    fixed, computed = b.to_official_dicts(ref_rows)
    keys_ref = [str(b.keys[r]) for r in ref_rows]

    n_batch = 200_000 if quick else 1_000_000
    batch_keys = [keys_ref[i] for i in rng.integers(0, n_ref, n_batch)]
    batch_arr = np.array(batch_keys)
    batch_rows = rng.integers(0, n, n_batch)
    n_single = 50_000 if quick else 200_000
    single_keys = batch_keys[:n_single]
    prng = random.Random(0)

    t_batch_keys = median_times(lambda: b.query_batch(batch_keys))
    t_batch_arr = median_times(lambda: b.query_batch(batch_arr))
    t_batch_rows = median_times(lambda: b.query_rows(batch_rows))

    def singles(reduction="mean"):
        q = b.query
        for k in single_keys:
            q(k, reduction=reduction)

    def singles_default():
        q = b.query
        for k in single_keys:
            q(k)

    t_single = median_times(singles_default)
    t_single_sample = median_times(lambda: singles("sample"))
    n_off = min(n_single, 20_000)

    def official():
        for k in single_keys[:n_off]:
            _official_query(fixed, computed, k, 108, prng)

    def bare():
        for k in single_keys:
            _dict_query(computed, k, 108)

    t_off = [t / n_off for t in median_times(official)]
    t_dict = [t / n_single for t in median_times(bare)]
    # sanity: our mean equals the reference's
    k0 = single_keys[0]
    ours = b.query(k0)
    ref = _dict_query(computed, k0, 108)
    assert abs(ours.validation_accuracy - ref[0]) < 1e-12, (ours, ref)

    def rate(t, k, what="", target=""):
        note = f"cpu-time rate {k / t[1]:,.0f}/s"
        return k / t[0], ", ".join(x for x in (note, target, what) if x)

    rows = []
    for label, t, k, unit, target in (
            (f"batched query_batch(list of {n_batch:,} keys)", t_batch_keys, n_batch, "keys/s", "target >= 1,000,000"),
            (f"batched query_batch(np.array of {n_batch:,} keys)", t_batch_arr, n_batch, "keys/s", "searchsorted"),
            (f"batched query_rows({n_batch:,} rows)", t_batch_rows, n_batch, "rows/s", ""),
            (f"single query(key), mean of repeats ({n_single:,})", t_single, n_single, "queries/s", "target >= 200,000"),
            ("single query(key, reduction='sample')", t_single_sample, n_single, "queries/s", ""),
            (f"reference: official query (deepcopy, random repeat; {n_ref:,} cells)", [x * n_off for x in t_off],
             n_off, "queries/s", ""),
            ("reference: bare dict-of-dicts lookup + mean", [x * n_single for x in t_dict], n_single, "queries/s", "")):
        v, note = rate(t, k, target=target)
        rows.append((label, v, unit, note))
    r_batch = [n_batch / x for x in t_batch_keys]
    r_single = [n_single / x for x in t_single]
    for label, r, ref_t in (("ratio batched / official query", r_batch, t_off),
                            ("ratio batched / bare dict lookup", r_batch, t_dict),
                            ("ratio single / official query", r_single, t_off),
                            ("ratio single / bare dict lookup", r_single, t_dict)):
        rows.append((label, r[0] * ref_t[0], "x", f"cpu-time ratio {r[1] * ref_t[1]:,.1f}x"))
    rows.append(("machine", float("nan"), "", _load_note()))
    return rows


def nb201_queries(quick: bool) -> list[Row]:
    from ..benchmarks import catalogue, load

    path = catalogue.shared_path("nb201")  # the CSV: these rows time the table load
    if path is None:
        return [("nb201 shared table absent: skipped", float("nan"), "", "")]
    options = catalogue.entry("nb201").table_options
    t_load = median_times(lambda: load("nb201", path, **options))[0]
    b = load("nb201", path, **options)
    rng = np.random.default_rng(0)
    keys = [str(k) for k in b.keys[rng.integers(0, len(b), 100_000 if quick else 1_000_000)]]
    n_single = 50_000 if quick else 200_000
    cells = [b.arch(i) for i in rng.integers(0, len(b), n_single)]
    t_batch = median_times(lambda: b.query_batch(keys))

    def singles():
        q = b.query
        for k in keys[:n_single]:
            q(k)

    def singles_cells():
        q = b.query
        for c in cells:
            q(c)

    frame = b.to_frame().set_index("key")
    reference = {k: (v, t) for k, v, t in zip(frame.index, frame["validation_accuracy"], frame["test_accuracy"])}

    def ref():
        for k in keys[:n_single]:
            reference[k]

    t_single = median_times(singles)
    t_cells = median_times(singles_cells)
    t_ref = median_times(ref)

    def row(label, t, k, unit, note=""):
        return (label, k / t[0], unit, ", ".join(x for x in (f"cpu-time rate {k / t[1]:,.0f}/s", note) if x))

    return [
        ("nb201 table load (CSV, 15,625 cells)", t_load, "s", "space order check included"),
        row(f"batched query_batch({len(keys):,} keys)", t_batch, len(keys), "keys/s"),
        row("single query(key)", t_single, n_single, "queries/s"),
        row("single query(Cell)", t_cells, n_single, "queries/s"),
        row("reference: plain dict lookup of a tuple", t_ref, n_single, "queries/s", "no Metrics, no counters"),
        ("machine", float("nan"), "", _load_note()),
    ]


SECTIONS = {
    "nb101-cache": nb101_cache,
    "nb101-queries": nb101_queries,
    "nb201-queries": nb201_queries,
}

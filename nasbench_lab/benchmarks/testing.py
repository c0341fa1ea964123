"""Test and bench fixtures: official file formats and benchmarks with made-up numbers.

Nothing here is a result. The test suite, ``nasbench-lab bench`` and the notebooks' small
runs use it where the official files are absent:

* ``write_nb101_tfrecord`` / ``write_nb101_tfrecord_scaled`` / ``random_nb101_cells``:
  NAS-Bench-101 tfrecords in the exact official format;
* ``write_nb201_pth`` / ``nb201_arch_strings``: a NAS-Bench-201 ``.pth`` in the official layout;
* ``nb101_fixture_benchmark``: every NAS-Bench-101 cell with seeded made-up accuracies (for
  timing code whose speed does not depend on the numbers).

Every number these functions write is FIXTURE DATA: drawn from a seeded rng, not measured.
The files say so where their format has room: each NAS-Bench-101 ``EvaluationData`` carries
``checkpoint_path = "FIXTURE: made-up metrics"`` (the loader then flags the benchmark
``is_fixture``), and the NAS-Bench-201 container has a top-level ``"fixture"`` note.

>>> cells = [(np.array([[0, 1], [0, 0]]), ["input", "output"])]
>>> offsets = write_nb101_tfrecord("tiny.tfrecord", cells, seed=0)   # doctest: +SKIP
"""
from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from ._formats.protobuf import encode_model_metrics
from ._formats.tfrecord import write_record

FIXTURE_NOTE = "FIXTURE: made-up metrics"
NB101_INTERIOR = ("conv3x3-bn-relu", "conv1x1-bn-relu", "maxpool3x3")


def _cell_parts(cell: Any) -> tuple[np.ndarray, list[str], str | None]:
    """(matrix, ops, hash or None) from a Cell, a (matrix, ops) or (matrix, ops, hash) tuple."""
    if hasattr(cell, "matrix") and hasattr(cell, "ops"):
        return np.asarray(cell.matrix), list(cell.ops), getattr(cell, "key", None)
    if len(cell) == 3:
        return np.asarray(cell[0]), list(cell[1]), cell[2]
    return np.asarray(cell[0]), list(cell[1]), None


def official_hash(matrix: np.ndarray, ops: Sequence[str]) -> str:
    """The official module hash via ``spaces.nb101.Cell`` when available, else a
    synthetic stand-in (md5 of the matrix and ops; NOT the official hash)."""
    try:
        from ..spaces.nb101 import Cell
    except ModuleNotFoundError:
        return synthetic_hash(matrix, ops)
    return Cell(np.asarray(matrix), tuple(ops)).key


def synthetic_hash(matrix: np.ndarray, ops: Sequence[str]) -> str:
    """md5 of the matrix bits and op labels: a stand-in key for fixture cells."""
    s = "".join(str(int(x)) for x in np.asarray(matrix).ravel()) + "|" + ",".join(ops)
    return hashlib.md5(s.encode()).hexdigest()


def _made_up_metrics(n: int, epochs: np.ndarray, quality: np.ndarray, rng: np.random.Generator):
    """Made-up learning curves for ``n`` runs: (n, 3, 5) evaluation_data, total times."""
    t_final = epochs * rng.uniform(15, 30, n)
    frac = np.array([0.0, 0.5, 1.0])
    base = 0.1 + (quality[:, None] - 0.1) * (frac * (1.2 - 0.2 * frac)) * (1 - np.exp(-epochs / 20))[:, None]
    val = np.clip(base + rng.normal(0, 0.005, (n, 3)), 0, 1)
    test = np.clip(val + rng.normal(0, 0.005, (n, 3)), 0, 1)
    train = np.minimum(1.0, val + 0.05 * frac)
    ev = np.stack([frac * epochs[:, None], frac * t_final[:, None], train, val, test], axis=2)
    return ev, t_final * 1.1


def _is_official(matrix, ops, h: str) -> bool:
    try:
        return official_hash(matrix, ops) == h
    except ValueError:  # not a valid cell (InvalidArchitecture)
        return False


def write_nb101_tfrecord(path: str | Path, cells: Iterable[Any], seed: int = 0,
                         epochs: Sequence[int] = (108,), repeats: int = 3,
                         shuffle: bool = True, synthetic_hashes: bool | None = None) -> list[dict]:
    """Write a NAS-Bench-101 tfrecord in the official format with FIXTURE metrics.

    ``cells``: ``spaces.nb101.Cell`` objects, ``(matrix, ops)`` or ``(matrix, ops, hash)``
    (without a hash, ``official_hash`` supplies one). Returns one dict per record
    (``offset``, ``hash``, ``epochs``, ``repeat``, ``length``) in file order, so tests can
    corrupt a chosen record.

    Every record's checkpoint note says FIXTURE and how many cells the file holds (the
    import checks that count, as it checks 423,624 for the official file). A given hash
    that is not the official hash of its graph is marked ``synthetic hash`` (the import
    verifies all others); ``synthetic_hashes=True`` marks every given hash without
    checking (large made-up fixtures).
    """
    rng = np.random.default_rng(seed)
    parts = []
    for c in cells:
        m, ops, h = _cell_parts(c)
        adj = (np.asarray(m, dtype=np.uint8).ravel() + ord("0")).tobytes().decode()
        synthetic = h is not None and (bool(synthetic_hashes) or not _is_official(m, ops, h))
        parts.append((h or official_hash(m, ops), adj, ",".join(ops), synthetic))
    quality = rng.uniform(0.8, 0.95, len(parts))
    params = rng.integers(200_000, 40_000_000, len(parts)).tolist()
    jobs = [(i, e, r) for i in range(len(parts)) for e in epochs for r in range(repeats)]
    if shuffle:
        jobs = [jobs[k] for k in rng.permutation(len(jobs))]
    cell_of = np.array([j[0] for j in jobs], dtype=np.int64)
    ep = np.array([j[1] for j in jobs], dtype=np.float64)
    evals, totals = _made_up_metrics(len(jobs), ep, quality[cell_of], rng)
    evals, totals = evals.tolist(), totals.tolist()
    dumps = json.JSONEncoder().encode
    out, offset = [], 0
    with open(path, "wb") as f:
        for k, (i, e, r) in enumerate(jobs):
            h, adj, ops, synthetic = parts[i]
            note = f"{FIXTURE_NOTE}; cells={len(parts)}" + ("; synthetic hash" if synthetic else "")
            raw = encode_model_metrics(evals[k], params[i], totals[k], checkpoint_path=note)
            data = dumps([h, int(e), adj, ops, base64.b64encode(raw).decode()]).encode()
            write_record(f, data)
            out.append({"offset": offset, "hash": h, "epochs": e, "repeat": r, "length": len(data)})
            offset += 16 + len(data)
    return out


def random_nb101_cells(n: int, seed: int = 0) -> list[tuple[np.ndarray, list[str], str]]:
    """``n`` made-up cells (random upper-triangular graphs, 2..7 vertices) with synthetic,
    distinct hashes; for scale tests of the import (not valid NB101 cells in general)."""
    rng = np.random.default_rng(seed)
    verts = rng.integers(2, 8, n)
    full = np.triu(rng.integers(0, 2, (n, 7, 7)), 1).astype(np.int8)
    full[:, np.arange(6), np.arange(1, 7)] = 1  # a path input -> ... -> output
    codes = rng.integers(0, 3, (n, 5))
    cells = []
    for i in range(n):
        v = int(verts[i])
        ops = ["input"] + [NB101_INTERIOR[k] for k in codes[i, : v - 2]] + ["output"]
        h = hashlib.md5(f"fixture-cell-{seed}-{i}".encode()).hexdigest()
        cells.append((full[i, :v, :v], ops, h))
    return cells


def write_nb101_tfrecord_scaled(path: str | Path, n_cells: int = 423_624, seed: int = 0,
                                epochs: Sequence[int] = (108,), repeats: int = 3) -> Path:
    """A full-size fixture: ``n_cells`` made-up cells x ``repeats`` records per budget
    (423,624 cells, as many as the only-108 file, about 0.5 GB)."""
    write_nb101_tfrecord(path, random_nb101_cells(n_cells, seed), seed=seed, epochs=epochs,
                         repeats=repeats, shuffle=False, synthetic_hashes=True)
    return Path(path)


# -- NAS-Bench-201 -------------------------------------------------------------------------
NB201_OPS = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")


def nb201_arch_strings(n: int | None = None) -> list[str]:
    """Cell strings in product order (edge (1<-0) varying slowest; not the official index
    order, which only the official file defines). The first ``n`` if given."""
    import itertools

    out = []
    for ops in itertools.product(range(5), repeat=6):
        o = [NB201_OPS[k] for k in ops]
        out.append(f"|{o[0]}~0|+|{o[1]}~0|{o[2]}~1|+|{o[3]}~0|{o[4]}~1|{o[5]}~2|")
        if n is not None and len(out) >= n:
            break
    return out


def write_nb201_pth(path: str | Path, archs: Sequence[str], seed: int = 0,
                    seeds: Sequence[int] = (777, 888, 999),
                    datasets: Sequence[str] = ("cifar10-valid", "cifar10", "cifar100", "ImageNet16-120"),
                    epochs: Sequence[int] = (12, 200)) -> dict:
    """Write a NAS-Bench-201 ``.pth`` in the official container layout with FIXTURE numbers.

    Architecture ``i`` gets ``1 + i % len(seeds)`` seeds (as the real file, where some
    cells were trained once, some twice, some three times). Returns the container.
    """
    import torch

    rng = np.random.default_rng(seed)
    splits = {"cifar10-valid": ("x-valid", "ori-test"), "cifar10": ("ori-test",),
              "cifar100": ("x-valid", "x-test", "ori-test"),
              "ImageNet16-120": ("x-valid", "x-test", "ori-test")}
    arch2infos = {}
    for i, a in enumerate(archs):
        quality = float(rng.uniform(10, 94))
        info = {}
        for ep in epochs:
            all_results, dataset_seed = {}, {}
            for ds in datasets:
                params, flop = float(rng.uniform(0.1, 1.5)), float(rng.uniform(10, 200))
                use = list(seeds[: 1 + i % len(seeds)])
                dataset_seed[ds] = use
                for s in use:
                    accs = {f"{sp}@{e}": float(min(100.0, quality * (e + 1) / ep + rng.normal(0, 0.5)))
                            for sp in splits[ds] for e in range(ep)}
                    all_results[(ds, s)] = {
                        "name": ds, "seed": s, "epochs": ep, "net_state_dict": None,
                        "train_acc1es": {e: float(quality * (e + 1) / ep + 3) for e in range(ep)},
                        "train_losses": {e: 1.0 / (e + 1) for e in range(ep)},
                        "train_times": {e: float(rng.uniform(5, 15)) for e in range(ep)},
                        "eval_names": list(splits[ds]), "eval_acc1es": accs,
                        "eval_losses": {k: 1.0 for k in accs}, "eval_times": {k: 1.0 for k in accs},
                        "params": params, "flop": flop,
                        "latency": [0.01], "arch_config": {"arch_str": a, "channel": 16, "num_cells": 5},
                    }
            info["less" if ep == 12 else "full"] = {
                "arch_index": i, "arch_str": a, "all_results": all_results,
                "dataset_seed": dataset_seed, "clear_net_done": True}
        arch2infos[i] = info
    container = {"meta_archs": list(archs), "arch2infos": arch2infos,
                 "evaluated_indexes": list(range(len(archs))),
                 "fixture": "FIXTURE: made-up numbers in the official NAS-Bench-201 layout"}
    torch.save(container, path)
    return container


# -- a whole benchmark -----------------------------------------------------------------------
def nb101_fixture_benchmark(seed: int = 0):
    """All 423,624 NB101 cells with FIXTURE accuracies (seeded uniform draws, made up).

    For timing code whose speed does not depend on the numbers (the environment, the
    agents) where the official NAS-Bench-101 file is absent; never for results.
    """
    import pandas as pd

    from ..spaces import get
    from .tabular import TabularBenchmark

    space = get("nb101")
    keys = space.enumerate().keys
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"key": keys, "val": rng.uniform(0.8, 0.95, len(keys)),
                          "test": rng.uniform(0.8, 0.95, len(keys))})
    bench = TabularBenchmark(None, frame, "key", {"validation_accuracy": "val", "test_accuracy": "test"},
                             name="nb101-fixture")
    bench.space = space
    return bench


__all__ = ["nb101_fixture_benchmark", "write_nb101_tfrecord", "write_nb101_tfrecord_scaled", "random_nb101_cells",
           "official_hash", "synthetic_hash", "write_nb201_pth", "nb201_arch_strings", "FIXTURE_NOTE"]

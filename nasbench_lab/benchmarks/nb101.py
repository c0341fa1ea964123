"""NAS-Bench-101 from the official tfrecord, without TensorFlow, through a compact cache.

The official ``nasbench_only108.tfrecord`` / ``nasbench_full.tfrecord`` hold one record per
training run: UTF-8 JSON ``[module_hash, epochs, adjacency_bits, "op,op,...",
base64(ModelMetrics protobuf)]``; ``evaluation_data[1]`` is the halfway point and
``evaluation_data[2]`` the end of training. Each (hash, epochs) was trained three times.

``import_tfrecord`` reads the file once (both CRCs of every record checked; a bad record
raises ``BenchmarkFileError`` naming its byte offset; accuracies must be fractions, every
module hash must be its graph's official hash, and a partial file is refused unless
``allow_partial=True``, see :func:`parse_tfrecord`) and writes a columnar ``.npz`` cache
atomically, one row per cell in sorted-hash order:

===============  ======================  ==============================================
array            shape, dtype            content
===============  ======================  ==============================================
hash             (n,) S32                official md5 module hash
epochs           (E,) int16              epoch budgets present (4, 12, 36, 108)
metrics          (n, E, 3, 8) float32    per budget and repeat, ``METRICS`` order
n_repeats        (n, E) uint8            repeats present (NaN-filled beyond)
parameters       (n,) int32              trainable parameters
n_vertices       (n,) uint8              vertices of the stored (pruned) matrix
matrix_bits      (n,) uint32             its upper triangle, row-major, bit k = entry k
ops              (n, 7) uint8            op codes (``OPS`` index), 255 = no vertex
meta             (k,) uint8              JSON: format, source name/size, fixture flag
===============  ======================  ==============================================

Values are stored as float32 (NAS-Bench-101's accuracies were computed in float32; times
keep 7 significant digits). The only-108 file gives a cache of about 61 MB (145 bytes a
cell) that loads in well under a second. Sorted-hash order is also the order of
``spaces.nb101``'s enumeration, so with a complete file row ``i`` is enumerated cell ``i``.

>>> bench = load(path="nasbench_only108.tfrecord")     # built once  # doctest: +SKIP
>>> m = bench.query(cell)                              # mean of 3 repeats  # doctest: +SKIP
>>> m = bench.query(cell, reduction="sample", epochs=36)  # doctest: +SKIP
>>> bench.query_batch(bench.keys[:1000]).validation_accuracy.mean()  # doctest: +SKIP
"""
from __future__ import annotations

import binascii
import json
import re
import warnings
from array import array
from pathlib import Path
from typing import Any

import numpy as np

from .. import paths
from ._formats.protobuf import decode_model_metrics
from ._formats.tfrecord import read_records
from .base import BenchmarkFileError, Metrics, NotInBenchmark, source_cache_path
from .tabular import RowBenchmark, _check_reduction, fast_metrics

OPS = ("input", "conv3x3-bn-relu", "conv1x1-bn-relu", "maxpool3x3", "output")
OP_CODE = {op: i for i, op in enumerate(OPS)}
NO_OP = 255
MAX_VERTICES = 7
#: names in Metrics.extra of METRICS[3:8]
_EXTRA = ("train_accuracy", "halfway_validation_accuracy", "halfway_test_accuracy",
          "halfway_training_time", "halfway_train_accuracy")
#: the 8 values stored per (cell, epochs, repeat)
METRICS = ("final_validation_accuracy", "final_test_accuracy", "final_training_time",
           "final_train_accuracy", "halfway_validation_accuracy", "halfway_test_accuracy",
           "halfway_training_time", "halfway_train_accuracy")
REPEATS = 3
FORMAT = 1
FIXTURE_MARK = b"FIXTURE"
#: a fixture record whose module hash is made up (``testing.random_nb101_cells``): not verified
SYNTHETIC_HASH_MARK = b"synthetic hash"
#: a fixture's own statement of how many cells it holds (checked like the real file's 423,624)
_FIXTURE_CELLS = re.compile(rb"cells=(\d+)")
#: columns of METRICS that are accuracies (fractions) and training times (seconds)
_ACCURACY_COLUMNS = (0, 1, 3, 4, 5, 7)
_TIME_COLUMNS = (2, 6)


class PartialImportWarning(UserWarning):
    """A NAS-Bench-101 file or cache holds fewer cells or repeats than the format implies, and
    was used anyway because the caller passed ``allow_partial=True``."""


# -- matrix packing ----------------------------------------------------------------------
def pack_matrix(matrix: np.ndarray) -> int:
    """Upper triangle of an n x n 0/1 matrix as bits (row-major over i < j)."""
    n = len(matrix)
    iu = np.triu_indices(n, 1)
    bits = np.asarray(matrix)[iu].astype(np.uint64)
    return int((bits << np.arange(len(bits), dtype=np.uint64)).sum())


def unpack_matrix(bits: int, n: int) -> np.ndarray:
    iu = np.triu_indices(n, 1)
    m = np.zeros((n, n), dtype=np.int8)
    m[iu] = (int(bits) >> np.arange(len(iu[0]))) & 1
    return m


# -- import -----------------------------------------------------------------------------
def _fail(name: str, offset: int, why: str) -> BenchmarkFileError:
    return BenchmarkFileError(f"{name}: record at offset {offset}: {why}")


def parse_tfrecord(path: str | Path, progress: bool = False, allow_partial: bool = False) -> dict[str, np.ndarray]:
    """Read an official NAS-Bench-101 tfrecord into the cache's arrays (see module doc).

    Every record is checked: accuracies must be fractions in [0, 1] and times finite
    (a percentage or NaN names the record's offset), and every cell's module hash must be
    the official hash of its graph. The file as a whole must be complete: three repeats of
    every cell at every budget present, and as many cells as the file implies (423,624 for
    an official file; the count a fixture states for itself). A partial file (e.g. cut at a
    record boundary) raises ``BenchmarkFileError`` unless ``allow_partial=True``, which
    imports what is there with a ``PartialImportWarning`` and records it in the cache.
    """
    path = Path(path)
    name = path.name
    if not path.exists():
        raise FileNotFoundError(f"NAS-Bench-101 file {path} does not exist")
    index: dict[str, int] = {}
    hashes: list[str] = []
    params = array("q")
    nverts = array("B")
    mbits = array("Q")
    opcodes = bytearray()
    rec_row, rec_epochs, rec_off = array("q"), array("q"), array("q")
    first_off, synthetic = array("q"), bytearray()
    vals = array("f")
    fixture = False
    stated_cells: int | None = None
    size = path.stat().st_size
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=size, unit="B", unit_scale=True, desc=f"import {name}")
    done = 0
    loads = json.JSONDecoder().decode
    a2b_base64 = binascii.a2b_base64
    with open(path, "rb", buffering=1 << 20) as f:
        for offset, data in read_records(f, name):
            try:
                rec = loads(data.decode("utf-8"))
            except UnicodeDecodeError as e:
                raise _fail(name, offset, f"not UTF-8 ({e})") from None
            except ValueError as e:
                raise _fail(name, offset, f"not valid JSON ({e})") from None
            if not (isinstance(rec, list) and len(rec) == 5):
                raise _fail(name, offset, "expected a JSON list [hash, epochs, adjacency, ops, metrics]")
            h, epochs, adj, ops, m64 = rec
            if not (isinstance(h, str) and len(h) == 32 and not h.strip("0123456789abcdef")):
                raise _fail(name, offset, f"module hash {h!r} is not 32 lowercase hex digits")
            if not isinstance(epochs, int) or epochs <= 0:
                raise _fail(name, offset, f"epochs {epochs!r} is not a positive integer")
            if not isinstance(m64, str):
                raise _fail(name, offset, "metrics is not a base64 string")
            try:
                raw = a2b_base64(m64, strict_mode=True)
            except (binascii.Error, ValueError) as e:
                raise _fail(name, offset, f"metrics are not valid base64 ({e})") from None
            try:
                evals, nparams, _ = decode_model_metrics(raw)
            except ValueError as e:
                raise _fail(name, offset, f"metrics are not a ModelMetrics protobuf ({e})") from None
            if len(evals) < 3:
                raise _fail(name, offset, f"{len(evals)} evaluation_data entries, expected 3 "
                                          "(initial, halfway, final)")
            row = index.get(h)
            if row is None:
                row = index[h] = len(hashes)
                hashes.append(h)
                n, bits, codes = _parse_graph(name, offset, adj, ops)
                nverts.append(n)
                mbits.append(bits)
                opcodes += codes
                params.append(nparams)
                first_off.append(offset)
                is_fixture = FIXTURE_MARK in raw
                synthetic.append(is_fixture and SYNTHETIC_HASH_MARK in raw)
                if is_fixture and not fixture:
                    fixture = True
                    stated = _FIXTURE_CELLS.search(raw)
                    stated_cells = int(stated.group(1)) if stated else None
            half, final = evals[1], evals[2]
            rec_row.append(row)
            rec_epochs.append(epochs)
            rec_off.append(offset)
            vals.extend((final[3], final[4], final[1], final[2], half[3], half[4], half[1], half[2]))
            if bar is not None:
                step = offset + 16 + len(data) - done
                if step > 1 << 22:
                    bar.update(step)
                    done += step
    if bar is not None:
        bar.update(size - done)
        bar.close()
    if not hashes:
        raise BenchmarkFileError(f"{name}: no records (an empty file?)")
    arrays = _assemble(name, size, fixture, hashes, params, nverts, mbits, opcodes,
                       rec_row, rec_epochs, rec_off, vals)
    perm = np.argsort(np.array(hashes, dtype="S32"), kind="stable")
    _verify_hashes(name, arrays, np.frombuffer(first_off, dtype=np.int64)[perm],
                   np.frombuffer(bytes(synthetic), dtype=bool)[perm])
    _check_complete(name, arrays, fixture, stated_cells, allow_partial)
    return arrays


def _check_values(name: str, v: np.ndarray, off: np.ndarray) -> None:
    """Accuracies are fractions in [0, 1], times finite and non-negative (else: the offset)."""
    for cols, ok, what in ((_ACCURACY_COLUMNS, lambda x: (x >= 0) & (x <= 1), "a fraction in [0, 1]"),
                           (_TIME_COLUMNS, lambda x: x >= 0, "a finite, non-negative number of seconds")):
        x = v[:, cols]
        with np.errstate(invalid="ignore"):
            bad = ~(np.isfinite(x) & ok(x))
        if bad.any():
            r, c = (int(i) for i in np.argwhere(bad)[0])
            val = float(x[r, c])
            hint = " (a percentage? accuracies must be fractions)" if what.startswith("a fraction") and 1 < val <= 100 else ""
            raise _fail(name, int(off[r]), f"{METRICS[cols[c]]} = {val:g} is not {what}{hint}")


def _packed_graphs(n_vertices: np.ndarray, matrix_bits: np.ndarray, ops: np.ndarray):
    """(ns, adjacency bits ``7*i + j``, op codes 3 bits a vertex, is_full) of cached cells."""
    ns = n_vertices.astype(np.int64)
    bits = matrix_bits.astype(np.int64)
    adj = np.zeros(len(ns), np.int64)
    for n in range(2, MAX_VERTICES + 1):
        sel = ns == n
        if sel.any():
            b, a = bits[sel], np.zeros(int(sel.sum()), np.int64)
            for k, p in enumerate(_UPPER[n]):
                i, j = divmod(p, n)
                a |= ((b >> k) & 1) << (7 * i + j)
            adj[sel] = a
    codes = np.zeros(len(ns), np.int64)
    cols = np.zeros(len(ns), np.int64)  # bit v: vertex v has an in-edge
    full = np.ones(len(ns), bool)
    for v in range(MAX_VERTICES):
        inside = v < ns
        codes |= np.where(inside, ops[:, v].astype(np.int64), 0) << (3 * v)
        row = (adj >> (7 * v)) & 0x7F
        cols |= row
        full &= ~inside | (v == ns - 1) | (row != 0)
    full &= (cols | 1) == (np.int64(1) << ns) - 1
    return ns, adj, codes, full


def _verify_hashes(name: str, arrays: dict, first_off: np.ndarray, synthetic: np.ndarray) -> None:
    """Every cell's module hash is the official hash of its graph (fixtures' synthetic ones aside)."""
    try:
        from ..spaces import nb101 as space
    except ModuleNotFoundError:  # pragma: no cover - the space is part of the package
        return
    todo = np.flatnonzero(~synthetic)
    if not len(todo):
        return
    ns, adj, codes, full = _packed_graphs(arrays["n_vertices"][todo], arrays["matrix_bits"][todo],
                                          arrays["ops"][todo])
    got = np.empty(len(todo), dtype=object)
    if full.any():
        got[full] = space.md5_batch(ns[full], adj[full], codes[full])
    for k in np.flatnonzero(~full).tolist():  # graphs the official code would prune first
        row = int(todo[k])
        n = int(arrays["n_vertices"][row])
        matrix = unpack_matrix(int(arrays["matrix_bits"][row]), n)
        try:
            got[k] = space.Cell(matrix, [OPS[c] for c in arrays["ops"][row, :n]]).key
        except space.InvalidArchitecture as e:
            raise _fail(name, int(first_off[row]), f"the graph of module hash "
                        f"{arrays['hash'][row].decode()} is not a NAS-Bench-101 cell ({e})") from None
    want = arrays["hash"][todo].astype("U32")
    bad = np.flatnonzero(got.astype("U32") != want)
    if len(bad):
        k = int(bad[np.argmin(first_off[todo[bad]])])
        raise _fail(name, int(first_off[todo[k]]), f"module hash {want[k]} does not match its graph "
                    f"(whose official hash is {got[k]}); {len(bad)} cell(s) in the file have a wrong hash")


def _check_complete(name: str, arrays: dict, fixture: bool, stated_cells: int | None, allow_partial: bool) -> None:
    """Refuse (or, with ``allow_partial``, flag) a file with fewer cells or repeats than it implies."""
    n_rep = arrays["n_repeats"]
    n = len(n_rep)
    problems = []
    expected = stated_cells if fixture else _nb101_size()
    if expected is not None and n != expected:
        source = "the fixture states" if fixture else "an official NAS-Bench-101 file holds"
        problems.append(f"{n:,} cells, where {source} {expected:,}")
    short = n_rep < REPEATS
    if short.any():
        r, e = (int(i) for i in np.argwhere(short)[0])
        problems.append(f"{int(short.sum()):,} (cell, epochs) pairs with fewer than {REPEATS} repeats (e.g. "
                        f"{arrays['hash'][r].decode()} at {int(arrays['epochs'][e])} epochs: "
                        f"{int(n_rep[r, e])} of {REPEATS})")
    if not problems:
        return
    what = f"{name}: partial NAS-Bench-101 file: " + "; ".join(problems)
    if not allow_partial:
        raise BenchmarkFileError(f"{what}. The file may be truncated (cut at a record boundary) or "
                                 "incomplete; fetch it again, or pass allow_partial=True (e.g. "
                                 "benchmarks.load('nb101', path=..., allow_partial=True)) to use the "
                                 "cells that are there")
    warnings.warn(f"{what}; imported anyway (allow_partial=True)", PartialImportWarning, stacklevel=4)
    meta = json.loads(bytes(arrays["meta"]).decode())
    meta["partial"] = what
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)


def _nb101_size() -> int | None:
    try:
        from ..spaces.nb101 import SIZE
    except ModuleNotFoundError:  # pragma: no cover
        return None
    return SIZE


#: per vertex count n: string positions of the upper triangle (row-major, i < j)
_UPPER = {n: [i * n + j for i in range(n) for j in range(i + 1, n)] for n in range(2, MAX_VERTICES + 1)}
#: per n: string slices on or below the diagonal (must be all '0')
_LOWER = {n: [(i * n, i * n + i + 1) for i in range(n)] for n in range(2, MAX_VERTICES + 1)}


def _parse_graph(name: str, offset: int, adj: Any, ops: Any) -> tuple[int, int, bytes]:
    """Check the adjacency string and ops; return (n, packed upper triangle, op codes)."""
    if not isinstance(adj, str) or not isinstance(ops, str):
        raise _fail(name, offset, "adjacency and operations must be strings")
    n = int(round(len(adj) ** 0.5))
    if n * n != len(adj) or not 2 <= n <= MAX_VERTICES or adj.strip("01"):
        raise _fail(name, offset, f"adjacency {adj!r} is not a square 0/1 matrix of 2..7 vertices")
    if any("1" in adj[a:b] for a, b in _LOWER[n]):
        raise _fail(name, offset, "adjacency is not strictly upper triangular")
    bits = 0
    for k, p in enumerate(_UPPER[n]):
        if adj[p] == "1":
            bits |= 1 << k
    labels = ops.split(",")
    if len(labels) != n:
        raise _fail(name, offset, f"{len(labels)} operations for {n} vertices")
    codes = bytearray([NO_OP] * MAX_VERTICES)
    for i, op in enumerate(labels):
        c = OP_CODE.get(op)
        if c is None:
            raise _fail(name, offset, f"unknown op {op!r} (known: {', '.join(OPS)})")
        codes[i] = c
    if labels[0] != "input" or labels[-1] != "output":
        raise _fail(name, offset, "operations must start with 'input' and end with 'output'")
    return n, bits, bytes(codes)


def _assemble(name, size, fixture, hashes, params, nverts, mbits, opcodes,
              rec_row, rec_epochs, rec_off, vals) -> dict[str, np.ndarray]:
    n = len(hashes)
    rows = np.frombuffer(rec_row, dtype=np.int64)
    ep = np.frombuffer(rec_epochs, dtype=np.int64)
    off = np.frombuffer(rec_off, dtype=np.int64)
    v = np.frombuffer(vals, dtype=np.float32).reshape(-1, len(METRICS))
    _check_values(name, v, off)
    budgets = np.unique(ep)
    e_idx = np.searchsorted(budgets, ep)
    # repeat number of each record within its (cell, budget), in file order
    order = np.lexsort((off, e_idx, rows))
    g = rows[order] * len(budgets) + e_idx[order]
    start = np.r_[True, g[1:] != g[:-1]]
    pos = np.arange(len(g))
    rank_sorted = pos - np.maximum.accumulate(np.where(start, pos, 0))
    if rank_sorted.max() >= REPEATS:
        bad = off[order][rank_sorted >= REPEATS][0]
        raise _fail(name, int(bad), f"more than {REPEATS} repeats of the same cell and epochs")
    rank = np.empty_like(rank_sorted)
    rank[order] = rank_sorted
    # rows in sorted-hash order
    hash_arr = np.array(hashes, dtype="S32")
    perm = np.argsort(hash_arr, kind="stable")
    new_row = np.empty(n, dtype=np.int64)
    new_row[perm] = np.arange(n)
    r = new_row[rows]
    metrics = np.full((n, len(budgets), REPEATS, len(METRICS)), np.nan, dtype=np.float32)
    metrics[r, e_idx, rank] = v
    n_rep = np.zeros((n, len(budgets)), dtype=np.uint8)
    np.add.at(n_rep, (r, e_idx), 1)
    meta = {"format": FORMAT, "source": name, "source_size": size, "fixture": bool(fixture),
            "metrics": list(METRICS), "ops": list(OPS)}
    return {
        "hash": hash_arr[perm],
        "epochs": budgets.astype(np.int16),
        "metrics": metrics,
        "n_repeats": n_rep,
        "parameters": np.frombuffer(params, dtype=np.int64)[perm].astype(np.int32),
        "n_vertices": np.frombuffer(nverts, dtype=np.uint8)[perm].copy(),
        "matrix_bits": np.frombuffer(mbits, dtype=np.uint64)[perm].astype(np.uint32),
        "ops": np.frombuffer(bytes(opcodes), dtype=np.uint8).reshape(n, MAX_VERTICES)[perm].copy(),
        "meta": np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8),
    }


def write_cache(arrays: dict[str, np.ndarray], out: str | Path) -> Path:
    """Write the cache arrays as an uncompressed ``.npz``, atomically."""
    out = Path(out)
    with paths.atomic_write(out, suffix=".npz") as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)
    return out


def default_cache_path(src: str | Path) -> Path:
    """Cache file of a tfrecord: named after the file, tagged by its path, size and mtime."""
    return source_cache_path(src, "nb101", ".npz")


def import_tfrecord(src: str | Path, out: str | Path | None = None, rebuild: bool = False,
                    progress: bool = False, allow_partial: bool = False) -> Path:
    """Build the cache of ``src`` once (atomic write); return the cache path.

    An existing cache that is unreadable (truncated, corrupt, an older format) is rebuilt
    with a warning. ``allow_partial``: see :func:`parse_tfrecord`.
    """
    out = Path(out) if out is not None else default_cache_path(src)
    if out.exists() and not rebuild:
        try:
            read_cache(out)
            return out
        except paths.UnreadableFile as e:
            warnings.warn(f"{e}; rebuilding it from {Path(src).name}", RuntimeWarning, stacklevel=2)
    return write_cache(parse_tfrecord(src, progress=progress, allow_partial=allow_partial), out)


# -- the benchmark ------------------------------------------------------------------------
def _nb101_space():
    """The NB101 space, or None while ``spaces.nb101`` is not importable."""
    try:
        from .. import spaces

        return spaces.get("nb101")
    except (ImportError, AttributeError):
        return None


class NB101Benchmark(RowBenchmark):
    """NAS-Bench-101 from the compact cache.

    Query options: ``epochs`` (a budget present in the file; default 108) and
    ``reduction`` (``"mean"`` of the repeats, default, or ``"sample"``: one repeat drawn
    from this benchmark's rng, seeded by ``seed``, as the official API does).
    ``Metrics.extra`` holds the final train accuracy and the halfway numbers.
    """

    name = "nb101"

    def __init__(self, arrays: dict[str, np.ndarray], seed: int = 0, epochs: int = 108,
                 source: str | None = None, allow_partial: bool = False) -> None:
        super().__init__()
        try:
            self.meta = _check_cache_arrays(arrays, str(source))
        except paths.UnreadableFile as e:
            raise BenchmarkFileError(f"{e}; import the tfrecord again") from None
        self.partial = self.meta.get("partial")
        if self.partial:
            if not allow_partial:
                raise BenchmarkFileError(f"nb101 cache {source} holds a partial import ({self.partial}); "
                                         "pass allow_partial=True to use it anyway")
            warnings.warn(f"nb101 cache {source}: {self.partial}", PartialImportWarning, stacklevel=3)
        self.source = source
        self.is_fixture = bool(self.meta.get("fixture"))
        self.seed = seed
        self._rng = np.random.default_rng(seed)
        self.hash = arrays["hash"]
        self.epoch_budgets = tuple(int(e) for e in arrays["epochs"])
        self.metrics = arrays["metrics"]
        self.n_repeats = arrays["n_repeats"]
        self.parameters = arrays["parameters"].astype(np.float64)
        self.n_vertices = arrays["n_vertices"]
        self.matrix_bits = arrays["matrix_bits"]
        self.ops_codes = arrays["ops"]
        self._index_dict: dict | None = None  # built on first use (see _index)
        self._sorted_keys = self.hash  # rows are in sorted-hash order
        self._sorted_rows = np.arange(len(self.hash), dtype=np.int64)
        self._keys_u: np.ndarray | None = None
        self._means: dict[int, np.ndarray] = {}
        self._tables: dict[int, np.ndarray] = {}
        self.default_epochs = epochs if epochs in self.epoch_budgets else self.epoch_budgets[-1]
        self._e_default = self.epoch_budgets.index(self.default_epochs)
        self._nrep_bytes: dict[int, bytes] = {}
        self._default_table: np.ndarray | None = None
        self._hex: tuple | None = None
        self._random = self._rng.random
        self._params_list: list | None = None
        self._space: Any = False  # resolved on first use

    @property
    def _index(self) -> dict:
        """key -> row, built on first use (about 0.1 s for 423,624 cells), so loading the
        cache is just reading its arrays."""
        d = self._index_dict
        if d is None:
            text = self.hash.tobytes().decode("ascii")  # n x 32 hex digits, no padding
            d = self._index_dict = dict(zip([text[i:i + 32] for i in range(0, len(text), 32)],
                                            range(len(self.hash))))
        return d

    def __len__(self) -> int:
        return len(self.hash)

    def _key_at(self, row: int) -> str:
        return self.hash[row].decode("ascii")

    @property
    def space(self):
        """The NB101 SearchSpace (looked up lazily; None when unavailable)."""
        if self._space is False:
            self._space = _nb101_space()
        return self._space

    # -- arrays of the preamble's tabular API (default epochs, seed mean) ---------------
    @property
    def _key_array(self) -> np.ndarray:
        if self._keys_u is None:
            self._keys_u = self.hash.astype("U32")
        return self._keys_u

    # -- vectorised key -> row: md5 hex keys as two uint64 (sorted, like the rows) ------
    def rows(self, keys) -> np.ndarray:
        """Rows of many hashes (or cells). A list (or str array) of more than 64 hash
        strings is decoded in bulk (``bytes.fromhex``) and looked up, vectorised, in a
        bucketed table of the 128-bit values; anything else, and any key that table does
        not find, goes through the key -> row dict (``NotInBenchmark`` names a missing key)."""
        if isinstance(keys, np.ndarray) and keys.dtype.kind == "U":
            keys = keys.tolist()
        if isinstance(keys, list) and len(keys) > 64:
            rows = self._rows_hex(keys)
            if rows is not None:
                return rows
        return super().rows(keys)

    def _rows_hex(self, keys: list) -> np.ndarray | None:
        try:
            joined = "".join(keys)
        except TypeError:  # not all strings (cells): the generic path
            return None
        n = len(keys)
        if len(joined) != 32 * n or any(c in joined for c in "ABCDEF"):
            return None
        try:
            raw = bytes.fromhex(joined)
        except ValueError:
            return None
        if len(raw) != 16 * n:
            return None
        q = np.frombuffer(raw, dtype=">u8").reshape(n, 2).astype(np.uint64)
        qhi, qlo = q[:, 0], q[:, 1]
        hi, lo, start, shift = self._hex_table()
        # md5 values are uniform: the top bits pick a bucket of the sorted table (about
        # one entry each); walk the bucket a step at a time, all queries at once
        qb = (qhi >> shift).astype(np.int64)
        pos, end = start[qb], start[qb + 1]
        last = len(hi) - 1
        active = np.flatnonzero(pos < end)
        while active.size:
            p = pos[active]
            step = hi[p] < qhi[active]
            active = active[step]
            pos[active] += 1
            active = active[pos[active] < end[active]]
        pos = np.minimum(pos, last)
        bad = (hi[pos] != qhi) | (lo[pos] != qlo)
        if bad.any():  # absent keys (or a shared 64-bit prefix): settle them by the dict
            idx = np.flatnonzero(bad)
            pos[idx] = super().rows([keys[i] for i in idx])
        return pos.astype(np.int64, copy=False)

    def _hex_table(self):
        """(hi, lo, bucket starts, shift): the sorted hashes as uint64 halves, bucketed by
        their top bits."""
        if self._hex is None:
            v = np.frombuffer(bytes.fromhex(self.hash.tobytes().decode("ascii")), dtype=">u8")
            v = v.reshape(-1, 2).astype(np.uint64)
            hi, lo = np.ascontiguousarray(v[:, 0]), np.ascontiguousarray(v[:, 1])
            bits = max(1, int(np.ceil(np.log2(max(len(hi), 2)))))
            shift = np.uint64(64 - bits)
            start = np.searchsorted((hi >> shift).astype(np.int64), np.arange((1 << bits) + 1))
            self._hex = (hi, lo, start.astype(np.int64), shift)
        return self._hex

    def _e(self, epochs: int | None) -> int:
        epochs = self.default_epochs if epochs is None else int(epochs)
        try:
            return self.epoch_budgets.index(epochs)
        except ValueError:
            raise ValueError(f"nb101: epochs={epochs} is not in this file "
                             f"(budgets: {self.epoch_budgets})") from None

    def means(self, epochs: int | None = None) -> np.ndarray:
        """(n, 8) float64 repeat means in ``METRICS`` order for ``epochs``."""
        e = self._e(epochs)
        m = self._means.get(e)
        if m is None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                m = np.nanmean(self.metrics[:, e], axis=1, dtype=np.float64)
            self._means[e] = m
        return m

    @property
    def validation(self) -> np.ndarray:
        return self.means()[:, 0]

    @property
    def test(self) -> np.ndarray:
        return self.means()[:, 1]

    @property
    def training_time(self) -> np.ndarray:
        return self.means()[:, 2]

    def spec(self, row: int) -> tuple[np.ndarray, list[str]]:
        """``(matrix, ops)`` of ``row`` as stored in the official file."""
        n = int(self.n_vertices[row])
        ops = [OPS[c] for c in self.ops_codes[row, :n]]
        return unpack_matrix(int(self.matrix_bits[row]), n), ops

    def arch(self, row: int) -> Any:
        """The ``spaces.nb101.Cell`` of ``row`` (its key when the space is unavailable)."""
        try:
            from ..spaces.nb101 import Cell
        except ModuleNotFoundError:
            return self._key_at(row)
        matrix, ops = self.spec(row)
        return Cell(matrix, ops)

    # -- lookups ------------------------------------------------------------------------
    def _values(self, rows: np.ndarray, reduction: str, epochs: int | None) -> np.ndarray:
        e = self._e(epochs)
        if _check_reduction(reduction) == "mean":
            return self.means(epochs)[rows]
        nrep = self.n_repeats[rows, e]
        j = (self._rng.random(len(rows)) * nrep).astype(np.int64)
        return self.metrics[rows, e, np.minimum(j, REPEATS - 1)].astype(np.float64)

    def _metrics_rows(self, rows: np.ndarray, reduction: str = "mean", epochs: int | None = None) -> Metrics:
        v = self._values(np.asarray(rows, dtype=np.int64), reduction, epochs)
        return Metrics(
            validation_accuracy=v[:, 0], test_accuracy=v[:, 1], training_time=v[:, 2],
            parameters=self.parameters[rows],
            extra={name: v[:, 3 + i] for i, name in enumerate(_EXTRA)},
        )

    def query(self, arch: Any, reduction: str = "mean", epochs: int | None = None) -> Metrics:
        """Metrics of one cell (a ``Cell`` or its hash; counts one query).

        The hot path of single queries: the default budget's repeat means are one row of a
        prepared table.
        """
        key = arch if type(arch) is str else self._key_of(arch)
        row = self._index.get(key)
        if row is None:
            raise NotInBenchmark(key, self.name)
        if reduction == "mean" and epochs is None:
            t = self._default_table
            if t is None:
                t = self._default_table = self._table(self._e_default)
            v = t[row].tolist()
            m = fast_metrics(v[0], v[1], v[2], v[8], {
                "train_accuracy": v[3], "halfway_validation_accuracy": v[4],
                "halfway_test_accuracy": v[5], "halfway_training_time": v[6],
                "halfway_train_accuracy": v[7]})
        else:
            m = self._metrics_row(row, reduction, epochs)
        return self._count_one(row, m)

    def _table(self, e: int) -> np.ndarray:
        """(n, 9) float64: the repeat means of budget ``e`` and the parameter count."""
        t = self._tables.get(e)
        if t is None:
            t = self._tables[e] = np.column_stack([self.means(self.epoch_budgets[e]), self.parameters])
        return t

    def _metrics_row(self, row: int, reduction: str = "mean", epochs: int | None = None) -> Metrics:
        e = self._e_default if epochs is None else self._e(epochs)
        if reduction == "mean":
            v = self._table(e)[row].tolist()
        elif reduction == "sample":
            nrep = self._nrep_bytes.get(e)
            if nrep is None:
                nrep = self._nrep_bytes[e] = self.n_repeats[:, e].tobytes()
            v = self.metrics[row, e, int(self._random() * nrep[row])].tolist()
            if self._params_list is None:
                self._params_list = self.parameters.tolist()
            v.append(self._params_list[row])
        else:
            _check_reduction(reduction)
        return fast_metrics(v[0], v[1], v[2], v[8], dict(zip(_EXTRA, v[3:8])))

    # -- the official API's in-memory layout (reference for the bench, migration) -------
    def to_official_dicts(self, rows=None) -> tuple[dict, dict]:
        """``(fixed_statistics, computed_statistics)`` as the official API holds them."""
        rows = range(len(self.hash)) if rows is None else rows
        fixed, computed = {}, {}
        names = METRICS
        for row in rows:
            h = self._key_at(row)
            matrix, ops = self.spec(row)
            fixed[h] = {"module_adjacency": matrix, "module_operations": ops,
                        "trainable_parameters": int(self.parameters[row])}
            per_e = {}
            for e, budget in enumerate(self.epoch_budgets):
                reps = self.metrics[row, e, : int(self.n_repeats[row, e])].tolist()
                per_e[budget] = [dict(zip(names, r)) for r in reps]
            computed[h] = per_e
        return fixed, computed

    def __repr__(self) -> str:
        fx = ", FIXTURE DATA (made-up metrics)" if self.is_fixture else ""
        part = ", PARTIAL" if self.partial else ""
        src = f" from {Path(self.source).name}" if self.source else ""
        return f"<NB101Benchmark {len(self)} cells, epochs {self.epoch_budgets}{fx}{part}{src}>"


#: arrays every cache holds (see the module docstring)
CACHE_ARRAYS = ("hash", "epochs", "metrics", "n_repeats", "parameters", "n_vertices", "matrix_bits", "ops", "meta")


def _check_cache_arrays(arrays: dict, where: str) -> dict:
    """The cache's meta, after checking format and that the arrays agree in shape."""
    missing = [k for k in CACHE_ARRAYS if k not in arrays]
    if missing:
        raise paths.UnreadableFile(f"nb101 cache {where} lacks {', '.join(missing)}")
    try:
        meta = json.loads(bytes(arrays["meta"]).decode())
    except (UnicodeDecodeError, ValueError) as e:
        raise paths.UnreadableFile(f"nb101 cache {where}: unreadable metadata ({e})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        got = meta.get("format") if isinstance(meta, dict) else meta
        raise paths.UnreadableFile(f"nb101 cache {where}: format {got!r} != {FORMAT} (an older version)")
    n, e = len(arrays["hash"]), len(arrays["epochs"])
    shapes = {"metrics": (n, e, REPEATS, len(METRICS)), "n_repeats": (n, e), "parameters": (n,),
              "n_vertices": (n,), "matrix_bits": (n,), "ops": (n, MAX_VERTICES)}
    for k, shape in shapes.items():
        if arrays[k].shape != shape:
            raise paths.UnreadableFile(f"nb101 cache {where}: {k} has shape {arrays[k].shape}, expected {shape}")
    if n == 0 or e == 0:
        raise paths.UnreadableFile(f"nb101 cache {where} holds no cells")
    return meta


def read_cache(path: str | Path) -> dict[str, np.ndarray]:
    """The arrays of a cache, checked; ``paths.UnreadableFile`` names a truncated, corrupt or
    stale file."""
    arrays = paths.read_npz(path, CACHE_ARRAYS, "nb101 cache")
    _check_cache_arrays(arrays, str(path))
    return arrays


def load_cache(path: str | Path, seed: int = 0, epochs: int = 108, allow_partial: bool = False) -> NB101Benchmark:
    """Load a cache written by ``import_tfrecord`` (refused, naming the file, when unreadable)."""
    path = Path(path)
    try:
        arrays = read_cache(path)
    except paths.UnreadableFile as e:
        raise BenchmarkFileError(f"{e}; delete it and import the tfrecord again "
                                 "(`nasbench-lab import nb101 FILE`)") from None
    return NB101Benchmark(arrays, seed=seed, epochs=epochs, source=str(path), allow_partial=allow_partial)


_SOURCES = ("nasbench_only108.tfrecord", "nasbench_full.tfrecord")


def _find_default() -> Path:
    """The file ``load("nb101")`` uses, chosen deterministically.

    An official tfrecord (only-108 before full; in the cache, downloads, then data
    folder) wins: its own cache is the one tagged with its path, size and mtime, so a
    stale cache is never picked for it. Without one, the newest cache (by modification
    time, then name). When other candidates were passed over, a warning names the file
    loaded and the ones ignored.
    """
    dirs = [d for d in (paths.cache_dir() / "nb101", paths.cache_dir() / "downloads", paths.data_dir())
            if d.is_dir()]
    sources = [d / f for f in _SOURCES for d in dirs if (d / f).is_file()]
    caches = [p for d in dirs for pat in ("nasbench_only108*.npz", "nasbench_full*.npz") for p in d.glob(pat)]
    caches.sort(key=lambda p: (p.stat().st_mtime_ns, p.name), reverse=True)
    if sources:
        chosen = sources[0]
        own = default_cache_path(chosen)
        ignored = [p for p in sources[1:] + caches if p != own]
        why = "the official source file; its cache is the one tagged with its size and mtime"
    elif caches:
        chosen, ignored, why = caches[0], caches[1:], "the newest import"
    else:
        chosen = None
    if chosen is not None:
        if ignored:
            warnings.warn(f"nb101: loading {chosen} ({why}); also present and not used: "
                          f"{', '.join(str(p) for p in ignored)}", UserWarning, stacklevel=3)
        return chosen
    raise FileNotFoundError(
        "nb101: no NAS-Bench-101 file found. Run `nasbench-lab download nb101` (or fetch "
        "https://storage.googleapis.com/nasbench/nasbench_only108.tfrecord yourself and run "
        "`nasbench-lab import nb101 PATH`), or pass path=")


def load(path=None, *, seed: int = 0, epochs: int = 108, rebuild: bool = False,
         progress: bool = False, cache: str | Path | None = None, allow_partial: bool = False) -> NB101Benchmark:
    """``benchmarks.load("nb101", path=<tfrecord or .npz cache>)``; builds the cache once.

    Without ``path`` the choice among the files present is deterministic (see
    ``_find_default``) and ``repr`` of the result names the file. An unreadable cache of
    a tfrecord is rebuilt from it (with a warning); an unreadable ``.npz`` given directly is
    refused with one message naming it. ``allow_partial=True`` accepts a file or cache with
    fewer cells or repeats than the format implies (with a ``PartialImportWarning``).
    """
    path = Path(path) if path is not None else _find_default()
    if path.suffix == ".npz":
        return load_cache(path, seed=seed, epochs=epochs, allow_partial=allow_partial)
    if not path.exists():
        raise FileNotFoundError(f"NAS-Bench-101 file {path} does not exist")
    out = Path(cache) if cache is not None else default_cache_path(path)
    if out.exists() and not rebuild:
        try:
            arrays = read_cache(out)
        except paths.UnreadableFile as e:  # a derived cache: rebuild it from the source
            warnings.warn(f"{e}; rebuilding it from {path.name}", RuntimeWarning, stacklevel=2)
        else:
            return NB101Benchmark(arrays, seed=seed, epochs=epochs, source=str(out), allow_partial=allow_partial)
    out = import_tfrecord(path, out=out, rebuild=True, progress=progress, allow_partial=allow_partial)
    return load_cache(out, seed=seed, epochs=epochs, allow_partial=allow_partial)


__all__ = ["NB101Benchmark", "PartialImportWarning", "read_cache", "load", "load_cache", "import_tfrecord", "parse_tfrecord",
           "write_cache", "OPS", "METRICS", "pack_matrix", "unpack_matrix"]

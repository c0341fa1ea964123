"""Tabular benchmarks: any space + any table (DataFrame, CSV, Parquet) becomes a Benchmark.

One row per architecture, a key column, and metric columns mapped to ``Metrics`` fields.
A field may have several columns (one per training seed): their mean is the search signal
(``reduction="mean"``, the denoised setting) and the per-seed values are kept for
``reduction="sample"`` (one training repeat drawn from the benchmark's own seeded rng).

>>> import pandas as pd
>>> frame = pd.DataFrame({"arch": ["a", "b"], "val_s0": [90.0, 80.0], "val_s1": [92.0, 82.0]})
>>> bench = TabularBenchmark(None, frame, "arch", {"validation_accuracy": ["val_s0", "val_s1"]},
...                          percent=True)
>>> round(bench.query("a").validation_accuracy, 3)
0.91
>>> bench.rows(["b", "a"]).tolist()
[1, 0]

Accuracies are checked after the percent conversion: every value must lie in [0, 1]; a
table whose values look like the other unit (a median in [0, 1] with ``percent=True``,
in (1, 100] with ``percent=False``) is refused with that diagnosis. Missing values per seed
are fine (the mean is over the seeds present), but a row with no accuracy at all (NaN in
every column of a field) is refused unless ``nan_policy="propagate"``: such rows are then
kept and their queries answer NaN, which every strategy treats as a failed trial.

``RowBenchmark`` (the shared half) gives every table-backed benchmark the same API:
``keys``, ``row_of``, ``rows``, ``query_key``, ``query_index``, ``query_rows``, a fast
single-query path and honest counters. ``benchmarks.nb101`` builds on it too.
"""
from __future__ import annotations

import abc
import hashlib
import warnings
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from .base import Benchmark, BenchmarkFileError, Metrics, NotInBenchmark

#: the Metrics fields a mapping may name (short aliases accepted)
FIELDS = ("validation_accuracy", "test_accuracy", "training_time", "parameters")
ALIASES = {"validation": "validation_accuracy", "valid": "validation_accuracy",
           "test": "test_accuracy", "time": "training_time", "params": "parameters"}
REDUCTIONS = ("mean", "sample")
#: what a row without any accuracy value (NaN in every column of a field) does
NAN_POLICIES = ("raise", "propagate")
_new_metrics = object.__new__


def fast_metrics(validation_accuracy, test_accuracy, training_time, parameters, extra) -> Metrics:
    """A ``Metrics`` built without the frozen-dataclass ``__init__`` (the single-query hot
    path; the same object ``Metrics(...)`` would build)."""
    m = _new_metrics(Metrics)
    d = m.__dict__
    d["validation_accuracy"] = validation_accuracy
    d["test_accuracy"] = test_accuracy
    d["training_time"] = training_time
    d["parameters"] = parameters
    d["extra"] = extra
    return m


class RowBenchmark(Benchmark):
    """A benchmark whose answers are rows of arrays, one row per architecture.

    Subclasses set ``self._index`` (dict key -> row), ``self._key_array`` (keys in row
    order) and implement ``_metrics_rows(rows, **options)`` (arrays) and
    ``_metrics_row(row, **options)`` (one row, plain Python numbers: the fast path).
    """

    _index: dict
    _key_array: np.ndarray
    _sorted_keys: np.ndarray | None = None
    _sorted_rows: np.ndarray | None = None

    # -- keys and rows ---------------------------------------------------------------
    @property
    def keys(self) -> np.ndarray:
        """Keys in row order (np.ndarray of str)."""
        return self._key_array

    def __len__(self) -> int:
        return len(self._index)

    def __contains__(self, arch: Any) -> bool:
        return self._key_of(arch) in self._index

    def _key_of(self, arch: Any) -> str:
        if isinstance(arch, str):
            return arch
        k = getattr(arch, "key", None)
        if isinstance(k, str):
            return k
        if self.space is None:
            raise TypeError(f"{self.name}: cannot key {arch!r} (no search space; pass keys as str)")
        return self.space.key(arch)

    def row_of(self, key: Any) -> int:
        """Row of one key (or architecture); ``NotInBenchmark`` names it when absent."""
        key = self._key_of(key)
        try:
            return self._index[key]
        except KeyError:
            raise NotInBenchmark(key, self.name) from None

    def rows(self, keys: Iterable[Any]) -> np.ndarray:
        """Rows of many keys (int64 array).

        A numpy array of strings goes through a sorted-key ``np.searchsorted``; any other
        sequence (a list of keys or architectures) through the key -> row dict.
        """
        if isinstance(keys, np.ndarray) and keys.dtype.kind in "US":
            return self._rows_sorted(keys)
        index = self._index
        if not isinstance(keys, (list, tuple)):
            keys = list(keys)
        try:
            return np.fromiter(map(index.__getitem__, keys), dtype=np.int64, count=len(keys))
        except (KeyError, TypeError):  # an architecture object, or a key not in the table
            keys = [k if isinstance(k, str) else self._key_of(k) for k in keys]
        missing = next((k for k in keys if k not in index), None)
        if missing is not None:
            raise NotInBenchmark(missing, self.name)
        return np.fromiter(map(index.__getitem__, keys), dtype=np.int64, count=len(keys))

    def _rows_sorted(self, keys: np.ndarray) -> np.ndarray:
        if self._sorted_keys is None:
            order = np.argsort(self._key_array, kind="stable")
            self._sorted_keys = np.asarray(self._key_array)[order]
            self._sorted_rows = order.astype(np.int64)
        sk = self._sorted_keys
        if keys.dtype.kind != sk.dtype.kind:
            keys = keys.astype(sk.dtype.kind)
        pos = np.searchsorted(sk, keys)
        pos_c = np.minimum(pos, len(sk) - 1)
        bad = sk[pos_c] != keys
        if bad.any():
            k = keys[np.flatnonzero(bad)[0]]
            raise NotInBenchmark(k.decode() if isinstance(k, bytes) else str(k), self.name)
        return self._sorted_rows[pos_c]

    # -- identity ------------------------------------------------------------------
    _fingerprint: str | None = None

    def fingerprint(self) -> str:
        """A digest of what the answers depend on: the keys in row order and the seed-mean
        validation and test accuracy of every row (computed once, then cached).

        Two tables with the same name but other numbers (another dataset, other columns,
        an edited file) have different fingerprints; the protocol stores it beside its
        results and refuses to resume from those of another benchmark.
        """
        if self._fingerprint is None:
            h = hashlib.blake2b(digest_size=16)
            h.update("\0".join(map(str, np.asarray(self.keys).tolist())).encode())
            for name in ("validation", "test"):
                v = getattr(self, name, None)
                h.update(name.encode())
                if v is not None:
                    h.update(np.ascontiguousarray(v, dtype=np.float64).tobytes())
            self._fingerprint = h.hexdigest()
        return self._fingerprint

    def arch(self, row: int) -> Any:
        """The architecture of ``row`` (the key itself when no space can rebuild it)."""
        key = str(self._key_array[row])
        if self.space is not None:
            try:
                return self.space.from_key(key)
            except NotImplementedError:
                pass
        return key

    # -- counting (distinct queries tracked per row: one byte a row) ------------------
    _seen_rows: bytearray | None = None

    def reset_counters(self) -> None:
        super().reset_counters()
        self._seen_rows = None

    def _seen_buffer(self) -> bytearray:
        if self._seen_rows is None:
            self._seen_rows = bytearray(len(self))
        return self._seen_rows

    @property
    def unique_queries(self) -> int:
        s = self._seen_rows
        return 0 if s is None else len(s) - s.count(0)

    def _count_rows(self, rows: np.ndarray, m: Metrics) -> None:
        self.queries += len(rows)
        np.frombuffer(self._seen_buffer(), dtype=np.uint8)[rows] = 1
        t = np.asarray(m.training_time, dtype=float)
        if t.size:
            self.simulated_seconds += float(np.nansum(t))

    # -- the protocol ---------------------------------------------------------------
    @abc.abstractmethod
    def _metrics_rows(self, rows: np.ndarray, **options) -> Metrics:
        """Metrics of arrays for ``rows`` (no counting)."""

    @abc.abstractmethod
    def _metrics_row(self, row: int, **options) -> Metrics:
        """Metrics of plain numbers for one row (no counting)."""

    def _lookup(self, archs: Sequence[Any], **options) -> Metrics:
        return self._metrics_rows(self.rows(archs), **options)

    def query(self, arch: Any, **options) -> Metrics:
        """Metrics of one architecture, key or ``Cell`` (counts one query)."""
        key = arch if isinstance(arch, str) else self._key_of(arch)
        row = self._index.get(key)
        if row is None:
            raise NotInBenchmark(key, self.name)
        return self._count_one(row, self._metrics_row(row, **options))

    def _count_one(self, row: int, m: Metrics) -> Metrics:
        """Count one query of ``row`` answered by ``m`` (plain numbers); return ``m``."""
        self.queries += 1
        seen = self._seen_rows
        if seen is None:
            seen = self._seen_buffer()
        seen[row] = 1
        t = m.training_time
        if t == t:  # not NaN
            self.simulated_seconds += t
        return m

    def query_key(self, key: str, **options) -> Metrics:
        """Same as ``query`` for a key string."""
        return self.query(str(key), **options)

    def query_index(self, i: int, **options) -> Metrics:
        """Metrics of row ``i`` (counts one query)."""
        from ..spaces.base import as_index

        n = len(self)
        i = as_index(i, "row")  # 2.7 is refused, never truncated
        if not -n <= i < n:
            raise NotInBenchmark(f"index {i} (benchmark has {n} rows)", self.name)
        return self.query(self._key_at(i), **options)

    def _key_at(self, row: int) -> str:
        return str(self._key_array[row])

    def query_batch(self, archs: Sequence[Any], **options) -> Metrics:
        """Metrics of arrays for many architectures or keys (counts ``len(archs)``)."""
        rows = self.rows(archs)
        m = self._metrics_rows(rows, **options)
        self._count_rows(rows, m)
        return m

    def query_rows(self, rows: Sequence[int] | np.ndarray, **options) -> Metrics:
        """Metrics of arrays for row indices (counts ``len(rows)``)."""
        rows = np.asarray(rows, dtype=np.int64)
        n = len(self)
        if rows.size and (rows.min() < -n or rows.max() >= n):
            bad = rows[(rows < -n) | (rows >= n)][0]
            raise NotInBenchmark(f"index {bad} (benchmark has {n} rows)", self.name)
        rows = rows % n if rows.size else rows
        m = self._metrics_rows(rows, **options)
        self._count_rows(rows, m)
        return m


def _check_reduction(reduction: str) -> str:
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")
    return reduction


class TabularBenchmark(RowBenchmark):
    """A table of per-architecture metrics as a Benchmark.

    Args:
        space: the SearchSpace (or its name, or ``None``: keys are then plain strings).
        frame: a pandas DataFrame, or a path to a CSV (``.csv``, ``.csv.gz``) or Parquet file.
        key_column: the column holding ``space.key(arch)`` of each row.
        mapping: Metrics field (``validation_accuracy``, ``test_accuracy``,
            ``training_time``, ``parameters``, or any other name, kept in ``extra``) ->
            a column name or a list of per-seed column names.
        percent: accuracy columns are percentages (converted to fractions).
        nan_policy: a row with no value of an accuracy field (NaN in all its columns):
            ``"raise"`` (default) refuses the table, ``"propagate"`` keeps the row, whose
            queries then answer NaN (a failed trial for every strategy).
        seed: seed of the rng that ``reduction="sample"`` draws repeats from.
        complete: for a finite space, require every architecture of the space.
        name: the benchmark's name (``Benchmark.name``).

    Rows follow ``space.enumerate()`` order for finite spaces (the table is reordered and
    checked), else the table's order.
    """

    def __init__(self, space: Any, frame: Any, key_column: str,
                 mapping: Mapping[str, str | Sequence[str]], *, percent: bool = False,
                 seed: int = 0, complete: bool = True, name: str = "tabular",
                 nan_policy: str = "raise") -> None:
        import pandas as pd

        if nan_policy not in NAN_POLICIES:
            raise ValueError(f"{name}: nan_policy must be one of {NAN_POLICIES}, got {nan_policy!r}")
        super().__init__()
        self.name = name
        self.seed = seed
        self._rng = np.random.default_rng(seed)
        if isinstance(space, str):
            from .. import spaces

            space = spaces.get(space)
        self.space = space
        if not isinstance(frame, pd.DataFrame):
            frame = read_table(frame)
        if key_column not in frame.columns:
            raise BenchmarkFileError(f"{name}: key column {key_column!r} not in the table "
                                     f"(columns: {list(frame.columns)})")
        keys = frame[key_column].astype(str).to_numpy()
        dup = pd.Index(keys).duplicated()
        if dup.any():
            raise BenchmarkFileError(f"{name}: key {keys[dup][0]!r} appears more than once")
        order, self._archs = self._space_order(keys, complete)
        self._key_array = keys[order].astype(str)
        self._index = {k: i for i, k in enumerate(self._key_array.tolist())}

        mapping = {ALIASES.get(f, f): ([c] if isinstance(c, str) else list(c)) for f, c in mapping.items()}
        if "validation_accuracy" not in mapping:
            raise ValueError(f"{name}: the mapping must name the validation accuracy column(s)")
        missing = [c for cols in mapping.values() for c in cols if c not in frame.columns]
        if missing:
            raise BenchmarkFileError(f"{name}: columns {missing} not in the table "
                                     f"(columns: {list(frame.columns)})")
        #: field -> (rows, seeds) float64 values, in row order
        self.per_seed: dict[str, np.ndarray] = {}
        for f, cols in mapping.items():
            v = frame[cols].to_numpy(dtype=np.float64)[order]
            if percent and f.endswith("accuracy"):
                v = v / 100.0
            self.per_seed[f] = v
        self.mapping = mapping
        self._check_accuracies(percent, nan_policy)
        self.has_test = "test_accuracy" in mapping
        n = len(self._key_array)
        nan = np.full(n, np.nan)
        with warnings.catch_warnings():  # an all-NaN row (no seed) stays NaN, quietly
            warnings.simplefilter("ignore", RuntimeWarning)
            self.means = {f: np.nanmean(v, axis=1) for f, v in self.per_seed.items()}
        self.validation = self.means["validation_accuracy"]
        self.test = self.means.get("test_accuracy", nan)
        self.training_time = self.means.get("training_time", nan)
        self.parameters = self.means.get("parameters", nan)
        self._extra_fields = [f for f in self.per_seed if f not in FIELDS]
        # repeats with a value, valid ones first (for reduction="sample")
        val = self.per_seed["validation_accuracy"]
        ok = ~np.isnan(val)
        self._n_seeds = ok.sum(axis=1)
        self._seed_order = np.argsort(~ok, axis=1, kind="stable")
        self._n_columns = val.shape[1]
        self._mean_table: np.ndarray | None = None

    # -- construction helpers ----------------------------------------------------------
    def _check_accuracies(self, percent: bool, nan_policy: str) -> None:
        """Every accuracy (after the percent conversion) in [0, 1]; the other unit named
        when the values look like it; rows without any value refused unless
        ``nan_policy="propagate"``."""
        scale = 100.0 if percent else 1.0
        for f, v in self.per_seed.items():
            if not f.endswith("accuracy"):
                continue
            cols = self.mapping[f]
            present = v[~np.isnan(v)]
            if present.size:
                # as in the file; the median decides the unit, so one outlier is just out of range
                with np.errstate(invalid="ignore"):  # inf values are reported below
                    mid = float(np.median(present)) * scale
                lo, hi = float(present.min()) * scale, float(present.max()) * scale
                if percent and 0.0 <= mid <= 1.0:
                    raise BenchmarkFileError(
                        f"{self.name}: {f} columns {cols} look like fractions already (values "
                        f"{lo:g}..{hi:g}, median {mid:g}), but percent=True divides them by 100 "
                        f"(best accuracy {hi / 100:g}); pass percent=False")
                if not percent and 1.0 < mid <= 100.0:
                    raise BenchmarkFileError(
                        f"{self.name}: {f} columns {cols} look like percentages (values "
                        f"{lo:g}..{hi:g}, median {mid:g}), but accuracies are fractions in [0, 1]; "
                        "pass percent=True")
                bad = (v < 0.0) | (v > 1.0)  # NaN compares False
                if bad.any():
                    r, c = (int(x[0]) for x in np.nonzero(bad))
                    raise BenchmarkFileError(
                        f"{self.name}: {int(bad.sum())} value(s) of {f} lie outside [0, 1]"
                        f"{' after the percent conversion' if percent else ''}, e.g. "
                        f"{v[r, c] * scale:g} in column {cols[c]!r} for key {self._key_array[r]!r}")
            empty = np.isnan(v).all(axis=1)
            if empty.any() and nan_policy == "raise":
                r = int(np.flatnonzero(empty)[0])
                raise BenchmarkFileError(
                    f"{self.name}: {int(empty.sum())} row(s) have no {f} value (NaN in every column "
                    f"of {cols}), e.g. key {self._key_array[r]!r}; pass nan_policy='propagate' to keep "
                    "them (their queries answer NaN, a failed trial for every strategy)")

    def _space_order(self, keys: np.ndarray, complete: bool):
        """Row order: the space's enumeration for finite spaces, else the table's."""
        space = self.space
        if space is None or getattr(space, "size", None) is None:
            return np.arange(len(keys)), None
        archs = list(space.enumerate())
        space_keys = [space.key(a) for a in archs]
        pos = {k: i for i, k in enumerate(keys.tolist())}
        unknown = sorted(set(pos) - set(space_keys))
        if unknown:
            raise BenchmarkFileError(
                f"{self.name}: {len(unknown)} key(s) of the table are not architectures of the "
                f"{space.name} space, e.g. {unknown[:5]}")
        missing = [k for k in space_keys if k not in pos]
        if missing and complete:
            raise BenchmarkFileError(
                f"{self.name}: the table lacks {len(missing)} of the {len(space_keys)} architectures "
                f"of the {space.name} space, e.g. {missing[:5]} (pass complete=False to allow)")
        keep = [i for i, k in enumerate(space_keys) if k in pos]
        order = np.array([pos[space_keys[i]] for i in keep], dtype=np.int64)
        return order, [archs[i] for i in keep]

    def arch(self, row: int) -> Any:
        if self._archs is not None:
            return self._archs[row]
        return super().arch(row)

    # -- lookups ------------------------------------------------------------------------
    def _pick(self, rows: np.ndarray, reduction: str):
        """Per-field value arrays for ``rows`` under ``reduction``."""
        if reduction == "mean":
            return {f: v[rows] for f, v in self.means.items()}
        n = self._n_seeds[rows]
        j = np.minimum((self._rng.random(len(rows)) * np.maximum(n, 1)).astype(np.int64),
                       np.maximum(n - 1, 0))
        col = self._seed_order[rows, j]
        out = {}
        for f, v in self.per_seed.items():
            if v.shape[1] == self._n_columns and v.shape[1] > 1:
                out[f] = v[rows, col]
            else:
                out[f] = self.means[f][rows]
        return out

    def _metrics_rows(self, rows: np.ndarray, reduction: str = "mean", **options) -> Metrics:
        _check_reduction(reduction)
        if options:
            raise TypeError(f"{self.name}: unknown query option(s) {sorted(options)}")
        vals = self._pick(np.asarray(rows, dtype=np.int64), reduction)
        nan = np.full(len(rows), np.nan)
        return Metrics(
            validation_accuracy=vals["validation_accuracy"],
            test_accuracy=vals.get("test_accuracy", nan),
            training_time=vals.get("training_time", nan),
            parameters=vals.get("parameters", nan),
            extra={f: vals[f] for f in self._extra_fields},
        )

    def _metrics_row(self, row: int, reduction: str = "mean", **options) -> Metrics:
        if reduction == "mean" and not options:
            if self._mean_table is None:
                n = len(self._key_array)
                cols = [self.means.get(f, np.full(n, np.nan)) for f in FIELDS]
                cols += [self.means[f] for f in self._extra_fields]
                self._mean_table = np.column_stack(cols)
            v = self._mean_table[row].tolist()
            return fast_metrics(v[0], v[1], v[2], v[3],
                                dict(zip(self._extra_fields, v[4:])) if self._extra_fields else {})
        return self._metrics_rows(np.array([row]), reduction=reduction, **options)[0]

    def to_frame(self):
        """The seed-mean table (one row per architecture, row order) as a DataFrame."""
        import pandas as pd

        d = {"key": self._key_array}
        d.update({f: v for f, v in self.means.items()})
        return pd.DataFrame(d)


def read_table(path: str | Path):
    """Read a CSV (optionally compressed) or Parquet file into a DataFrame."""
    import pandas as pd

    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"table {p} does not exist")
    suffixes = "".join(p.suffixes).lower()
    try:
        if ".parquet" in suffixes or ".pq" in suffixes:
            return pd.read_parquet(p)
        return pd.read_csv(p)
    except (ValueError, OSError) as e:  # pandas/pyarrow parse errors
        raise BenchmarkFileError(f"cannot read table {p}: {e}") from e


def load(path=None, *, space: Any = None, key: str = "key", validation: str | Sequence[str] = "validation",
         test: str | Sequence[str] | None = None, training_time: str | Sequence[str] | None = None,
         parameters: str | Sequence[str] | None = None, extra: Mapping[str, Any] | None = None,
         percent: bool = False, seed: int = 0, complete: bool = True,
         name: str = "tabular", nan_policy: str = "raise") -> TabularBenchmark:
    """``benchmarks.load("tabular", path, space=..., key=..., validation=..., test=...)``.

    ``path`` may also be a DataFrame. Column arguments take one column or a list of
    per-seed columns. ``percent`` and ``nan_policy``: see ``TabularBenchmark``.

    >>> bench = load("table.csv", space="nb201", key="arch",               # doctest: +SKIP
    ...              validation="cifar10_valid_12", test="cifar10_test_200", percent=True)
    """
    if path is None:
        raise ValueError("tabular: pass the table (a DataFrame or a CSV/Parquet path)")
    mapping: dict[str, Any] = {"validation_accuracy": validation}
    for f, c in (("test_accuracy", test), ("training_time", training_time), ("parameters", parameters)):
        if c is not None:
            mapping[f] = c
    mapping.update(extra or {})
    return TabularBenchmark(space, path, key, mapping, percent=percent, seed=seed,
                            complete=complete, name=name, nan_policy=nan_policy)


__all__ = ["RowBenchmark", "TabularBenchmark", "load", "read_table", "FIELDS", "NAN_POLICIES"]

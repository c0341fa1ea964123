"""The Benchmark contract: ``query(arch) -> Metrics`` with honest counters."""
from __future__ import annotations

import abc
import dataclasses
import hashlib
import math
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from .. import paths


def source_cache_path(src: str | Path, folder: str, suffix: str) -> Path:
    """``cache_dir()/folder/<stem>-<tag><suffix>``: the cache of a source file, named after it
    and tagged by its resolved path, size and mtime (a changed source gets a new cache)."""
    src = Path(src)
    st = src.stat()
    tag = hashlib.blake2s(f"{src.resolve()}|{st.st_size}|{st.st_mtime_ns}".encode(),
                          digest_size=6).hexdigest()
    return paths.cache_dir() / folder / f"{src.stem}-{tag}{suffix}"


class NotInBenchmark(KeyError):
    """The architecture (or key, or index) is not in this benchmark's table."""

    def __init__(self, key: Any, benchmark: str = "benchmark"):
        self.key = key
        self.benchmark = benchmark
        super().__init__(f"{benchmark}: architecture {key!r} is not in the benchmark")

    def __str__(self) -> str:  # KeyError would repr() the message
        return self.args[0]


class BenchmarkFileError(ValueError):
    """A benchmark file is malformed, truncated or fails its checksum; says where."""


@dataclasses.dataclass(frozen=True)
class Metrics:
    """What a benchmark answers for one architecture (or, from ``query_batch``, arrays).

    Accuracies are fractions in [0, 1]. ``test_accuracy`` is NaN where the benchmark
    has none (NAS-Bench-301). ``training_time`` is the (simulated) training cost in
    seconds; ``parameters`` the trainable parameter count. ``extra`` holds anything
    benchmark-specific (per-seed values, halfway accuracies, proxy scores, ...).
    """

    validation_accuracy: Any
    test_accuracy: Any = math.nan
    training_time: Any = math.nan
    parameters: Any = math.nan
    extra: dict = dataclasses.field(default_factory=dict)

    def as_dict(self) -> dict:
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "extra"}
        d.update(self.extra)
        return d

    def __len__(self) -> int:
        v = np.asarray(self.validation_accuracy)
        return 1 if v.ndim == 0 else len(v)

    def __getitem__(self, i) -> "Metrics":
        """Row ``i`` of a batched Metrics."""
        pick = lambda v: (np.asarray(v)[i] if np.ndim(v) > 0 else v)  # noqa: E731
        return Metrics(
            validation_accuracy=pick(self.validation_accuracy),
            test_accuracy=pick(self.test_accuracy),
            training_time=pick(self.training_time),
            parameters=pick(self.parameters),
            extra={k: pick(v) for k, v in self.extra.items()},
        )


class Benchmark(abc.ABC):
    """A performance estimator for one search space.

    Subclasses implement ``_lookup(archs) -> Metrics`` (arrays, one row per arch) and
    ``_key(arch)``; the base class keeps the counters:

    * ``queries``: architectures asked for (a batch of n counts n),
    * ``unique_queries``: distinct keys asked for,
    * ``simulated_seconds``: training time the answered queries would have cost.
    """

    name: str = "benchmark"
    space: Any = None
    #: whether ``test_accuracy`` is meaningful (False for NAS-Bench-301)
    has_test: bool = True

    #: True for evaluators that train on demand (seconds to hours per query): the
    #: Experiment runs their trials in worker processes; tables, surrogates and proxies
    #: answer in-process
    live: bool = False

    def __init__(self) -> None:
        self.reset_counters()

    # -- counters -------------------------------------------------------------------
    def reset_counters(self) -> None:
        self.queries = 0
        self._seen: set = set()
        self.simulated_seconds = 0.0

    @property
    def unique_queries(self) -> int:
        return len(self._seen)

    def _count(self, keys: Iterable[str], metrics: Metrics) -> None:
        keys = list(keys)
        self.queries += len(keys)
        self._seen.update(keys)
        t = np.asarray(metrics.training_time, dtype=float)
        if t.size:
            self.simulated_seconds += float(np.nansum(t))

    # -- the protocol ---------------------------------------------------------------
    def key(self, arch: Any) -> str:
        return self.space.key(arch)

    @abc.abstractmethod
    def _lookup(self, archs: Sequence[Any], **options) -> Metrics:
        """Metrics of arrays for ``archs`` (no counting)."""

    def query(self, arch: Any, **options) -> Metrics:
        """Metrics of one architecture (counts one query)."""
        m = self._lookup([arch], **options)
        self._count([self.key(arch)], m)
        return m[0]

    def query_batch(self, archs: Sequence[Any], **options) -> Metrics:
        """Metrics of arrays for many architectures (counts ``len(archs)`` queries)."""
        archs = list(archs)
        m = self._lookup(archs, **options)
        self._count([self.key(a) for a in archs], m)
        return m

    def fingerprint(self) -> str | None:
        """A digest of the answers' content (tables: keys, validation and test columns), or
        None where the benchmark cannot digest it cheaply; the protocol records it beside
        its results and refuses to resume from those of another benchmark."""
        return None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"


def benchmark_fingerprint(benchmark) -> dict:
    """What results depend on besides the configuration: the benchmark's name and class,
    its content digest (``benchmark.fingerprint()``; None where it has none) and the
    columns a table reads its validation / test accuracy from."""
    fp = getattr(benchmark, "fingerprint", None)
    digest = fp() if callable(fp) else None
    out = {"benchmark": getattr(benchmark, "name", "benchmark"),
           "benchmark_class": type(benchmark).__name__, "benchmark_digest": digest}
    mapping = getattr(benchmark, "mapping", None)
    if isinstance(mapping, dict):
        out["benchmark_columns"] = {f: [str(c) for c in mapping[f]]
                                    for f in ("validation_accuracy", "test_accuracy") if f in mapping}
    return out

"""The benchmark catalogue: every benchmark the package knows, and where its files are.

One table, :data:`BENCHMARKS`, from which everything that names a benchmark derives:
``benchmarks.load`` (the loader, the default file, the options of a table), the set-up
check and file discovery of the notebooks (:func:`locate`), the main job, the zero-cost
proxies' NAS-Bench-201 correlation, ``nasbench-lab bench`` and the CLI help. The official
files behind ``nasbench-lab download`` are :data:`DOWNLOADS`.

:func:`load` takes a catalogue name, or one of two prefixed forms:

* ``"live:SPACE"``: a trained benchmark that trains what it is asked on demand and keeps
  the results in a SQLite store (``"live:moons"``: ``MoonsTrainer`` over MLP chains on
  HalfMoons; ``"live:nb101"``, ``"live:nb201"``, ``"live:darts"``: ``LiveBenchmark``);
  the options go to the class (``seeds=``, ``store=``, ``config=`` / ``trainer_config=``);
* ``"proxy:SPACE"``: a zero-cost proxy as a benchmark (``ProxyBenchmark``;
  ``proxy="naswot"`` or ``"synflow"``, ``seed=``, ...).

Without ``path`` a file-backed benchmark is looked for on this machine (:func:`locate`);
when none is there :func:`load` raises :class:`BenchmarkNotFound`, naming the files it
looked for and the command that gets them. ``fallback=NAME`` loads ``NAME`` instead, with a
:class:`BenchmarkFallbackWarning` saying what was missing and what was loaded (the
notebooks use it to keep running offline). ``"auto"`` picks the first of NAS-Bench-101,
NAS-Bench-301 and NAS-Bench-201 present here.

>>> import nasbench_lab as nl
>>> nl.benchmarks.catalogue.names()
['moons', 'nb101', 'nb201', 'nb301', 'tabular']
>>> nl.benchmarks.load("moons").name
'moons'
>>> bench = nl.benchmarks.load("nb201", fallback="moons")       # doctest: +SKIP
>>> live = nl.benchmarks.load("live:nb201", seeds=(0, 1))      # doctest: +SKIP
>>> proxy = nl.benchmarks.load("proxy:nb201", proxy="synflow")  # doctest: +SKIP
"""
from __future__ import annotations

import dataclasses
import gzip
import importlib
import warnings
import zlib
from pathlib import Path
from types import MappingProxyType
from typing import Any, Iterable, Mapping

from .. import paths
from .base import Benchmark, BenchmarkFileError


@dataclasses.dataclass(frozen=True)
class BenchmarkEntry:
    """One benchmark of the catalogue."""

    name: str
    """the name ``load`` takes"""
    description: str
    """one line for the set-up check"""
    loader: str
    """``"module:function"``, called as ``function(path, **options)``"""
    how_to_get: str
    """the command that fetches or rebuilds its files"""
    patterns: tuple[str, ...] = ()
    """file or folder names that identify it under ``data/`` and the bundled files (searched
    recursively); empty: never looked for (a path is always given)"""
    shared: tuple[str, ...] = ()
    """path parts of its real public sample under ``paths.shared_data_dir()``; empty: none"""
    table_options: Mapping[str, Any] = dataclasses.field(default_factory=lambda: MappingProxyType({}))
    """options ``load`` passes when the file it found is a CSV/Parquet table"""
    finds_own_file: bool = False
    """the loader chooses its default file itself when no path is given (the bundled moons
    table, the newest NB101 cache, the unpacked NB301 ensemble)"""


@dataclasses.dataclass(frozen=True)
class Download:
    """One official file of the catalogue (``nasbench-lab download NAME``)."""

    name: str
    """catalogue name (``nasbench-lab download NAME``)"""
    filename: str
    """the official file name"""
    url: str
    """where the publisher serves it (a landing page when ``manual``)"""
    size: int | None
    """exact size in bytes, ``None`` where the publisher gives none"""
    sha256: str | None
    """published sha256, ``None`` where the publisher publishes none"""
    approx_size: str
    """human-readable size as published"""
    manual: bool = False
    """the host needs a browser (Google Drive): the command explains, it cannot fetch"""
    import_as: str = ""
    """the ``import`` name for this file"""
    note: str = ""
    """where the checksum and size come from, and what to do with the file"""
    format: str = ""
    """what the bytes must look like (``download.FORMATS``: tfrecord, torch, zip); '' = unchecked"""
    min_size: int | None = None
    """smallest plausible size in bytes, checked where no sha256 proves the file's identity"""


BENCHMARKS: dict[str, BenchmarkEntry] = {
    "moons": BenchmarkEntry(
        "moons", "NAS-Bench-Moons: every MLP chain of depth <= 3 trained on HalfMoons (bundled)",
        "nasbench_lab.benchmarks.moons:load",
        "bundled with the package (regenerate: nasbench-lab build moons)",
        patterns=("nas_bench_moons.csv.gz", "nas_bench_moons.csv", "nas_bench_moons.parquet"),
        finds_own_file=True),
    "nb201": BenchmarkEntry(
        "nb201", "NAS-Bench-201: 15,625 cells, CIFAR-10/100, ImageNet16-120 (complete table)",
        "nasbench_lab.benchmarks.nb201:load",
        "nasbench-lab download nb201   (then: nasbench-lab import nb201 <file>)",
        patterns=("NAS-Bench-201-v1_*.pth", "NATS-tss-v1_0-*.pickle.pbz2", "nb201_accuracies.csv*"),
        shared=("nasbench201", "nb201_accuracies.csv.gz"),
        table_options=MappingProxyType({"validation": "cifar10_valid_12", "test": "cifar10_test_200"})),
    "nb101": BenchmarkEntry(
        "nb101", "NAS-Bench-101: 423,624 cells trained on CIFAR-10 (108 epochs, 3 seeds)",
        "nasbench_lab.benchmarks.nb101:load",
        "nasbench-lab download nb101   (then: nasbench-lab import nb101 <tfrecord>)",
        patterns=("nasbench_only108*.npz", "nasbench_full*.npz", "nasbench_only108.tfrecord",
                  "nasbench_full.tfrecord"),
        finds_own_file=True),
    "nb301": BenchmarkEntry(
        "nb301", "NAS-Bench-301: surrogate over the DARTS space (XGBoost ensemble)",
        "nasbench_lab.benchmarks.nb301:load",
        "nasbench-lab download nb301   (unpacks nb_models_1.0; needs the nb301 extra)",
        patterns=("nb_models_1.0/xgb_v1.0", "nb_models/xgb_v1.0", "xgb_v1.0"),
        finds_own_file=True),
    "tabular": BenchmarkEntry(
        "tabular", "any table of architectures and metrics (CSV/Parquet) over a named space",
        "nasbench_lab.benchmarks.tabular:load",
        "your own table: load('tabular', path=..., space=..., key=..., mapping=...)",
        finds_own_file=True),
}

#: the benchmarks the set-up check lists, in its order (those a machine may hold files of)
SETUP = ("moons", "nb201", "nb101", "nb301")
#: the order ``"auto"`` tries
AUTO = ("nb101", "nb301", "nb201")
#: the prefixed forms of :func:`load`
PREFIXES = ("live", "proxy")
#: ``live:SPACE`` trainers other than ``LiveBenchmark(SPACE, ...)``: space -> ``"module:class"``
#: (called with the options only)
LIVE_TRAINERS = {"moons": "nasbench_lab.benchmarks.moons:MoonsTrainer"}

DOWNLOADS: dict[str, Download] = {
    "nb101": Download(
        "nb101", "nasbench_only108.tfrecord",
        "https://storage.googleapis.com/nasbench/nasbench_only108.tfrecord", None,
        "4c39c3936e36a85269881d659e44e61a245babcb72cb374eacacf75d0e5f4fd1", "~499 MB",
        import_as="nb101", note="sha256 as published in the nasbench README; exact size unpublished",
        format="tfrecord"),
    "nb101-full": Download(
        "nb101-full", "nasbench_full.tfrecord",
        "https://storage.googleapis.com/nasbench/nasbench_full.tfrecord", None,
        "3d64db8180fb1b0207212f9032205064312b6907a3bbc81eabea10db2f5c7e9c", "~1.95 GB",
        import_as="nb101", note="sha256 as published in the nasbench README; exact size unpublished",
        format="tfrecord"),
    "nb201": Download(
        "nb201", "NAS-Bench-201-v1_1-096897.pth",
        "https://drive.google.com/open?id=1SKW0Cu0u8-gb18zDpaAGi0f74UdXeGKs", None, None, "~4.7 GB",
        manual=True, import_as="nb201",
        note="served from Google Drive (the NAS-Bench-201 README's link; v1_0-e61699.pth is in the "
             "same folder); no checksum is published (the file name's six hex digits are the "
             "publisher's tag, not a documented digest)",
        format="torch", min_size=100_000_000),
    "nb301": Download(
        "nb301", "nasbench301_models_v1.0.zip", "https://ndownloader.figshare.com/files/24992018",
        None, None, "~1.7 GB", import_as="nb301",
        note="figshare article 13061510 (nasbench301_models_v1_0_zip); no sha256 published; "
             "unzip it and import the nb_models_1.0/xgb_v1.0 folder",
        format="zip", min_size=100_000_000),
}


class BenchmarkNotFound(FileNotFoundError):
    """No file of a benchmark on this machine; the message names what was looked for and
    the command that gets it."""


class BenchmarkFallbackWarning(UserWarning):
    """``load(..., fallback=...)`` loaded the fallback: the message says what was missing."""


def names() -> list[str]:
    """The catalogue names ``load`` takes (besides ``"auto"`` and the prefixed forms)."""
    return sorted(BENCHMARKS)


def download_names() -> list[str]:
    """The names ``nasbench-lab download`` takes."""
    return list(DOWNLOADS)


def import_names() -> list[str]:
    """The names ``nasbench-lab import`` takes."""
    return list(dict.fromkeys(d.import_as for d in DOWNLOADS.values()))


def entry(name: str) -> BenchmarkEntry:
    """The catalogue entry of ``name``; KeyError listing the known names."""
    try:
        return BENCHMARKS[name]
    except KeyError:
        raise KeyError(f"unknown benchmark {name!r}; known: {', '.join(names())}, 'auto', "
                       f"{', '.join(p + ':SPACE' for p in PREFIXES)}") from None


def _glob_first(roots: Iterable[Path], patterns: Iterable[str]) -> Path | None:
    for root in roots:
        if root is None or not root.is_dir():
            continue
        for pattern in patterns:
            hits = sorted(root.glob(pattern)) or sorted(root.rglob(pattern))
            if hits:
                return hits[0]
    return None


def shared_path(name: str) -> Path | None:
    """The real public sample of ``name`` beside the project (``paths.shared_data_dir()``),
    or None when it has none or the file is absent."""
    parts = entry(name).shared
    root = paths.shared_data_dir()
    if not parts or root is None:
        return None
    p = root.joinpath(*parts)
    return p if p.exists() else None


def locate(name: str) -> Path | None:
    """The file or folder this machine has for benchmark ``name``, or None.

    Looks, in order: the project's ``data/`` folder (downloads and caches), the bundled
    files, then the real public sample beside the project (:func:`shared_path`; for
    NAS-Bench-201 ``nasbench201/nb201_accuracies.csv.gz``).
    """
    e = entry(name)
    found = _glob_first([paths.data_dir(), paths.bundled_dir()], e.patterns) if e.patterns else None
    return found if found is not None else shared_path(name)


def is_table(path: str | Path) -> bool:
    """Whether ``path`` is a CSV/Parquet table (by its name)."""
    return any(x in Path(path).name for x in (".csv", ".parquet"))


def missing_message(name: str) -> str:
    """What :class:`BenchmarkNotFound` says for ``name``: the files looked for, and how to get them."""
    e = entry(name)
    where = ", ".join(e.patterns) or "its file"
    shared = f", or {'/'.join(e.shared)} beside the project" if e.shared else ""
    return (f"{name}: no benchmark file on this machine (looked for {where} under the data folder"
            f"{shared}); get it with: {e.how_to_get}")


def choose(name: str, fallback: str | None = None) -> str:
    """The catalogue name :func:`load` loads for ``name`` when no path is given.

    ``name`` itself when its files are here (or its loader finds its own), the first present
    of :data:`AUTO` for ``"auto"``; otherwise ``fallback`` with a
    :class:`BenchmarkFallbackWarning`, or :class:`BenchmarkNotFound` without one.
    """
    return _choose(name, fallback)[0]


def _choose(name: str, fallback: str | None) -> tuple[str, Path | None]:
    """:func:`choose`, and the file it found for the chosen name (None: not looked up)."""
    name = str(name).lower()
    if fallback is not None:
        entry(fallback)
    if name == "auto":
        for candidate in AUTO:
            found = locate(candidate)
            if found is not None:
                return candidate, found
        if fallback is None:
            raise BenchmarkNotFound("auto: none of " + ", ".join(AUTO) + " is on this machine; "
                                    + "; ".join(f"{c}: {entry(c).how_to_get}" for c in AUTO))
        warnings.warn(f"auto: none of {', '.join(AUTO)} is on this machine; using {fallback!r} instead.",
                      BenchmarkFallbackWarning, stacklevel=3)
        return fallback, None
    e = entry(name)
    if name == fallback:
        return name, None
    found = locate(name)
    if found is not None or (fallback is None and e.finds_own_file):
        return name, found
    if fallback is None:
        raise BenchmarkNotFound(missing_message(name))
    warnings.warn(f"{name}: no benchmark file on this machine ({e.how_to_get}); using {fallback!r} instead.",
                  BenchmarkFallbackWarning, stacklevel=3)
    return fallback, None


def load(name: str, /, path=None, *, fallback: str | None = None, **options) -> Benchmark:
    """Load benchmark ``name`` (see the module docstring for the names and forms).

    ``path``: the benchmark's file or folder; without it the catalogue finds one
    (:func:`locate`) and passes the entry's table options when it is a table. ``options``
    go to the loader (they override the table options); they are dropped when ``fallback``
    is loaded instead.
    """
    name = str(name)
    prefix, sep, space = name.partition(":")
    if sep:
        return _load_prefixed(prefix.lower(), space, path, options)
    found = None
    if path is not None:
        chosen = entry(name.lower()).name
    else:
        chosen, found = _choose(name, fallback)
        if chosen == fallback and name.lower() != fallback:
            options = {}  # they were meant for the benchmark that is absent
    e = entry(chosen)
    if path is None and not e.finds_own_file:
        path = found if found is not None else locate(chosen)
        if path is None:
            raise BenchmarkNotFound(missing_message(chosen))
        if is_table(path):
            options = {**e.table_options, **options}
    module, attr = e.loader.split(":")
    try:
        return getattr(importlib.import_module(module), attr)(path, **options)
    except (EOFError, gzip.BadGzipFile, zlib.error) as err:  # a truncated or corrupt compressed table
        where = path if path is not None else f"the default {chosen} file"
        raise BenchmarkFileError(f"{chosen}: {where} is truncated or corrupt ({type(err).__name__}: {err}); "
                                 "fetch or rebuild it") from None


def available(names: Iterable[str] = ("moons", "nb201", "nb101")) -> dict[str, Benchmark]:
    """The benchmarks of ``names`` whose files are here, loaded: ``{name: benchmark}``.

    Those absent, or whose files cannot be loaded (corrupt, an optional package missing),
    are left out: callers that time or draw every benchmark at hand use it.
    """
    out: dict[str, Benchmark] = {}
    for name in names:
        if locate(name) is None:
            continue
        try:
            out[name] = load(name)
        except (OSError, ValueError, ImportError) as e:  # BenchmarkFileError is a ValueError
            warnings.warn(f"{name}: present but not loaded ({type(e).__name__}: {e})", UserWarning, stacklevel=2)
    return out


def _load_prefixed(prefix: str, space: str, path, options: dict) -> Benchmark:
    if prefix not in PREFIXES:
        raise KeyError(f"unknown benchmark form {prefix + ':'!r}; known: "
                       f"{', '.join(p + ':SPACE' for p in PREFIXES)}")
    if not space:
        raise ValueError(f"{prefix}: name the search space after the colon, e.g. {prefix}:nb201")
    if path is not None:
        raise ValueError(f"{prefix}:{space} reads no file (path={path!r}); a live benchmark keeps "
                         "its results in store=...")
    if prefix == "proxy":
        from .proxies import ProxyBenchmark

        return ProxyBenchmark(space, **options)
    if space in LIVE_TRAINERS:
        module, attr = LIVE_TRAINERS[space].split(":")
        return getattr(importlib.import_module(module), attr)(**options)
    from .live import LiveBenchmark

    if "config" in options:
        options["trainer_config"] = options.pop("config")
    return LiveBenchmark(space, **options)


__all__ = ["AUTO", "available", "BENCHMARKS", "BenchmarkEntry", "BenchmarkFallbackWarning", "BenchmarkNotFound", "DOWNLOADS",
           "Download", "LIVE_TRAINERS", "PREFIXES", "SETUP", "choose", "download_names", "entry", "import_names", "is_table",
           "load", "locate", "missing_message", "names", "shared_path"]

"""NAS-Bench-201: the official ``.pth`` file or any table with the official cell strings.

Two sources, one Benchmark (a ``TabularBenchmark`` keyed by the official cell string
``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|``, rows in official index order):

* a CSV/Parquet table (``validation=`` / ``test=`` name its columns; NAS-Bench-201 reports
  percentages, converted to fractions unless ``percent=False``)::

      load("nb201_accuracies.csv.gz", validation="cifar10_valid_12", test="cifar10_test_200")

* the official ``NAS-Bench-201-v1_0-e61699.pth`` / ``NAS-Bench-201-v1_1-096897.pth``. These
  are plain containers: ``{"meta_archs": [arch_str, ...], "evaluated_indexes": [...],
  "arch2infos": {index: {"less": <12-epoch results>, "full": <200-epoch results>}}}`` where
  each results dict holds ``all_results[(dataset, seed)]`` with ``eval_acc1es`` keyed
  ``"<split>@<epoch>"`` (``x-valid``, ``x-test``, ``ori-test``), ``train_times`` per epoch,
  ``params`` (millions; stored here as a count) and ``flop``. The file is read with ``torch.load(weights_only=True)``
  (no arbitrary code runs); a file that needs more raises ``BenchmarkFileError`` saying so,
  and ``trust_pickle=True`` (only for a file you trust) reads it with full unpickling.
  The parsed table is cached as Parquet (``import nb201 PATH`` builds it once).

  Columns of the parsed table, per training seed: ``"<dataset>@<epochs>:<split>@seed<s>"``
  and ``"<dataset>@<epochs>:train_time@seed<s>"``; ``validation=`` / ``test=`` take the
  part before ``@seed`` (e.g. ``"cifar10-valid@200:x-valid"``) or, by default, follow the
  official API for ``dataset`` and ``epochs``: validation ``x-valid``; test ``ori-test``
  for cifar10-valid and cifar10 (which has no validation split), ``x-test`` otherwise.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from .. import paths
from .base import BenchmarkFileError, source_cache_path
from .tabular import TabularBenchmark, read_table

DATASETS = ("cifar10-valid", "cifar10", "cifar100", "ImageNet16-120")
#: the results group of the official file for each training budget
HP_GROUPS = {12: "less", 200: "full"}
#: the official API's validation / test splits per dataset
SPLITS = {
    "cifar10-valid": ("x-valid", "ori-test"),
    "cifar10": (None, "ori-test"),
    "cifar100": ("x-valid", "x-test"),
    "ImageNet16-120": ("x-valid", "x-test"),
}
#: columns of the shared CSV (percentages), for reference
CSV_COLUMNS = ("cifar10_valid_12", "cifar10_test_12", "cifar100_valid_12", "cifar100_test_12",
               "imagenet16_valid_12", "imagenet16_test_12", "cifar10_test_200")


def _space():
    """The NB201 space, or None while ``spaces.nb201`` is not available."""
    try:
        from .. import spaces

        return spaces.get("nb201")
    except ModuleNotFoundError as e:
        if "nasbench_lab.spaces.nb201" not in str(e):
            raise
        return None


# -- the official .pth ------------------------------------------------------------------
def read_pth(path: str | Path, trust_pickle: bool = False) -> dict:
    """The official container as plain Python objects.

    ``torch.load(weights_only=True)`` first; if the file holds anything beyond plain
    containers, numbers, strings and tensors, raise unless ``trust_pickle=True``.
    """
    import pickle

    import torch

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"NAS-Bench-201 file {path} does not exist")
    from .download import check_format  # not a torch file at all: say so (no unpickling advice)

    check_format(path, "torch", "nb201")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=not trust_pickle)
    except pickle.UnpicklingError as e:
        if trust_pickle:
            raise BenchmarkFileError(f"{path}: not a readable torch file: {e}") from e
        raise BenchmarkFileError(
            f"{path} cannot be read as plain data (torch.load(weights_only=True) refused it: "
            f"{str(e).splitlines()[0]}). Loading it would run pickled code from the file; if you "
            "trust it, pass trust_pickle=True.") from e
    except (RuntimeError, EOFError, OSError) as e:
        raise BenchmarkFileError(f"{path}: not a readable torch file ({e})") from e
    if not isinstance(obj, dict) or not {"meta_archs", "arch2infos"} <= set(obj):
        got = sorted(obj)[:8] if isinstance(obj, dict) else type(obj).__name__
        raise BenchmarkFileError(f"{path}: not a NAS-Bench-201 file: expected a dict with "
                                 f"'meta_archs' and 'arch2infos', got {got}")
    return obj


def _num(x) -> float:
    if x is None:
        return np.nan
    if hasattr(x, "item"):
        return float(x.item())
    return float(x)


def pth_frame(obj: dict):
    """Flatten the official container into one row per architecture (official index order)."""
    import pandas as pd

    archs = list(obj["meta_archs"])
    infos = obj["arch2infos"]
    cols: dict[str, np.ndarray] = {}
    n = len(archs)

    def put(name: str, i: int, value: float) -> None:
        col = cols.get(name)
        if col is None:
            col = cols[name] = np.full(n, np.nan)
        col[i] = value

    for i in range(n):
        info = infos.get(i)
        if info is None:
            continue
        for epochs, group in HP_GROUPS.items():
            res = info.get(group)
            if not res:
                continue
            for (dataset, seed), r in res.get("all_results", {}).items():
                last = int(r.get("epochs", epochs)) - 1
                prefix = f"{dataset}@{epochs}:"
                for k, acc in (r.get("eval_acc1es") or {}).items():
                    split, _, ep = k.rpartition("@")
                    if ep.isdigit() and int(ep) == last:
                        put(f"{prefix}{split}@seed{seed}", i, _num(acc))
                times = r.get("train_times")
                if isinstance(times, dict) and times:
                    put(f"{prefix}train_time@seed{seed}", i, sum(_num(t) for t in times.values()))
                if r.get("train_acc1es"):
                    put(f"{prefix}train@seed{seed}", i, _num(r["train_acc1es"].get(last, np.nan)))
                put(f"{prefix}params", i, _num(r.get("params")) * 1e6)  # the file says MB (millions)
                put(f"{prefix}flops", i, _num(r.get("flop")))
    frame = pd.DataFrame({"index": np.arange(n), "arch": archs})
    return pd.concat([frame, pd.DataFrame(cols)], axis=1)


def import_pth(path: str | Path, trust_pickle: bool = False, rebuild: bool = False) -> Path:
    """Parse the official file once into a Parquet table in the cache; return its path."""
    path = Path(path)
    out = source_cache_path(path, "nb201", ".parquet")
    if out.exists() and not rebuild:
        return out
    frame = pth_frame(read_pth(path, trust_pickle=trust_pickle))
    with paths.atomic_write(out, suffix=".parquet") as tmp:
        frame.to_parquet(tmp, index=False)
    return out


def _seed_columns(frame, spec: str) -> list[str]:
    """Per-seed columns of ``spec`` (``"<dataset>@<epochs>:<split>"``), or ``spec`` itself."""
    if spec in frame.columns:
        return [spec]
    pat = re.compile(re.escape(spec) + r"@seed\d+$")
    cols = [c for c in frame.columns if pat.match(c)]
    if not cols:
        known = sorted({c.rsplit("@seed", 1)[0] for c in frame.columns if "@seed" in c})
        raise BenchmarkFileError(f"nb201: no column {spec!r} in the official file; available: {known}")
    return cols


def _is_table(path: Path) -> bool:
    s = "".join(path.suffixes).lower()
    return any(x in s for x in (".csv", ".parquet", ".pq"))


def load(path=None, *, validation: str | Sequence[str] | None = None,
         test: str | Sequence[str] | None = None, dataset: str = "cifar10-valid",
         epochs: int = 200, percent: bool = True, seed: int = 0, trust_pickle: bool = False,
         space: Any = "auto", key: str = "arch", complete: bool = True,
         name: str = "nb201", nan_policy: str = "raise") -> TabularBenchmark:
    """``benchmarks.load("nb201", path, validation=..., test=...)``.

    ``path``: a CSV/Parquet table (default ``key="arch"``) or the official ``.pth``.
    ``dataset`` and ``epochs`` (12 or 200) choose the official file's defaults.
    ``complete=False`` accepts a table of only some cells (rows still in official order).
    Accuracies are checked after conversion (all in [0, 1]; a table in the other unit than
    ``percent`` says is refused, naming it); a cell with no accuracy value is refused unless
    ``nan_policy="propagate"`` (see ``TabularBenchmark``).

    >>> b = load("nb201_accuracies.csv.gz", validation="cifar10_valid_12",  # doctest: +SKIP
    ...          test="cifar10_test_200")
    >>> b.test.max()                                                        # doctest: +SKIP
    0.943733
    """
    if path is None:
        raise FileNotFoundError(
            "nb201: pass path= (the official NAS-Bench-201-v1_1-096897.pth or v1_0-e61699.pth, "
            "or a CSV/Parquet table); `nasbench-lab download nb201` says where to get it")
    if space == "auto":
        space = _space()
    path = Path(path)
    if _is_table(path):
        frame = read_table(path)
        if path.suffix.lower() in (".parquet", ".pq") and any("@seed" in c for c in frame.columns):
            return _from_official_frame(frame, validation, test, dataset, epochs, seed, space, name,
                                        complete, nan_policy)
        if validation is None:
            raise ValueError(f"nb201: name the validation column of {path.name} (validation=...); "
                             f"columns: {list(frame.columns)}")
        if "index" in frame.columns:
            frame = frame.sort_values("index", kind="stable")
        return TabularBenchmark(space, frame, key, _mapping(validation, test),
                                percent=percent, seed=seed, complete=complete, name=name,
                                nan_policy=nan_policy)
    if path.suffix.lower() != ".pth":
        raise BenchmarkFileError(f"nb201: {path} is neither a table (.csv/.parquet) nor an official .pth")
    frame = read_table(import_pth(path, trust_pickle=trust_pickle))
    return _from_official_frame(frame, validation, test, dataset, epochs, seed, space, name, complete,
                                nan_policy)


def _mapping(validation, test) -> dict:
    m = {"validation_accuracy": validation}
    if test is not None:
        m["test_accuracy"] = test
    return m


def _from_official_frame(frame, validation, test, dataset, epochs, seed, space, name, complete=True,
                         nan_policy="raise"):
    if dataset not in DATASETS:
        raise ValueError(f"nb201: dataset must be one of {DATASETS}, got {dataset!r}")
    if epochs not in HP_GROUPS:
        raise ValueError(f"nb201: epochs must be 12 or 200, got {epochs!r}")
    vsplit, tsplit = SPLITS[dataset]
    if validation is None:
        if vsplit is None:
            raise ValueError("nb201: cifar10 (trained on train+valid) has no validation split; "
                             "search on dataset='cifar10-valid' or name validation= explicitly")
        validation = f"{dataset}@{epochs}:{vsplit}"
    if test is None:
        test = f"{dataset}@{epochs}:{tsplit}"
    ds = validation.split("@")[0] if isinstance(validation, str) else dataset
    mapping = {"validation_accuracy": _seed_columns(frame, validation),
               "test_accuracy": _seed_columns(frame, test)}
    prefix = validation.rsplit(":", 1)[0] if isinstance(validation, str) and ":" in validation else f"{ds}@{epochs}"
    time_cols = [c for c in frame.columns if c.startswith(f"{prefix}:train_time@seed")]
    if time_cols:
        # the same seeds as the validation columns, so reduction="sample" pairs them
        seeds = [c.rsplit("@seed", 1)[1] for c in mapping["validation_accuracy"]]
        tc = [f"{prefix}:train_time@seed{s}" for s in seeds]
        if all(c in frame.columns for c in tc):
            mapping["training_time"] = tc
    if f"{prefix}:params" in frame.columns:
        mapping["parameters"] = f"{prefix}:params"
    return TabularBenchmark(space, frame, "arch", mapping, percent=True, seed=seed,
                            complete=complete, name=name, nan_policy=nan_policy)


__all__ = ["load", "read_pth", "pth_frame", "import_pth", "DATASETS", "SPLITS"]

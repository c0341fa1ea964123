"""NAS-Bench-301: the official XGBoost surrogate ensemble, batched, without the official package.

``load("nb301", path="nb_models_1.0/xgb_v1.0")`` reads the official ensemble directory:
every sub-folder holding a ``surrogate_model.model`` is one member (the official release
has 10), and ``model_config.json`` / ``data_config.json`` are read from the first member
folder, as the official loader does. Each member is a pickled ``xgboost.core.Booster``
from a 2020 xgboost; we read it without running pickled code (see ``_formats.xgboost_legacy``),
convert it once to xgboost's JSON model and cache that under
``paths.cache_dir()/nb301/<sha256 of the pickle>.json``; later loads read the cache.

* Pickles are read only from the directory the user names, with a ``UserWarning``.
  When the directory holds a ``SHA256SUMS`` file (``sha256sum`` format, paths relative
  to the directory), every member must be listed, and every listed file (members and
  config files) must exist and match, or loading is refused.
* Every member's tree structure is validated before xgboost or the numpy forest walks it
  (``_formats.xgboost_legacy.validate_model``: children in range, no cycles, split features below
  the feature count, sane sizes), and a member pickle is checked opcode by opcode before
  it is read, so no file can crash, hang or exhaust the process.
* Members written by :func:`fit_surrogate` carry a ``surrogate_model.json`` beside the
  pickle; it is preferred, so no pickle is read at all.

Prediction: the feature vector of a genotype is the ConfigSpace array of the official
configuration space (see ``_nb301_features``: 56 features, order and encoding documented
there). The surrogate predicts validation accuracy in percent; ``Metrics`` report it as a
fraction. ``noise=False`` (default, the paper's denoised setting) gives the mean of the
members; ``noise=True`` reproduces the official ``with_noise`` option, mean plus one
normal draw with the members' standard deviation (``np.std``), from the benchmark's own
generator (``seed``). ``has_test`` is False: ``test_accuracy`` is NaN. ``training_time``
comes from a runtime ensemble (``runtime=`` a directory; by default the sibling
``lgb_runtime_v1.0`` when present; LightGBM members need the optional ``lightgbm``
package) and is NaN without one.

Batched inference: ``query_batch`` builds the feature rows of all genotypes at once and
makes one prediction call per member (xgboost ``inplace_predict``; on the GPU when the
installed xgboost has CUDA and a GPU is visible). xgboost pays a set-up cost per call
that grows with the number of trees, so batches of at most ``Ensemble.small_batch``
rows (16) instead descend all trees of all members together in numpy
(``_nb301_forest.Forest``); a single ``query`` is then about as cheap per genotype as a
large batch is. ``nasbench-lab bench nb301`` shows both.

>>> from nasbench_lab import benchmarks
>>> bench = benchmarks.load("nb301", path="nb_models_1.0/xgb_v1.0")  # doctest: +SKIP
>>> g = bench.space.sample(np.random.default_rng(0))                 # doctest: +SKIP
>>> bench.query(g).validation_accuracy        # a fraction, e.g. 0.94  # doctest: +SKIP
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import pickle
import warnings
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from .. import paths
from ..device import default_device
from ..spaces.darts import DartsSpace
from ._nb301_features import FEATURE_NAMES, NUM_FEATURES, features
from ._formats.xgboost_legacy import json_to_booster, read_pickled_booster, snapshot_to_booster
from ._nb301_forest import Forest
from .base import Benchmark, BenchmarkFileError, Metrics

MEMBER_FILE = "surrogate_model.model"
JSON_MEMBER_FILE = "surrogate_model.json"
CHECKSUM_FILE = "SHA256SUMS"
MODEL_CONFIG = "model_config.json"
DATA_CONFIG = "data_config.json"
#: where the official models come from (a zip holding ``nb_models/xgb_v1.0`` and ``lgb_runtime_v1.0``)
OFFICIAL_MODELS_URL = "https://ndownloader.figshare.com/files/24992018"
RUNTIME_DIR_NAME = "lgb_runtime_v1.0"


# -- the ensemble ----------------------------------------------------------------------
@dataclasses.dataclass
class Ensemble:
    """Members of an NB301-style surrogate ensemble, predicting from the 56 features.

    ``kind`` is ``"xgb"`` (xgboost Boosters) or ``"lgb"`` (LightGBM Boosters).
    """

    members: list
    model_config: dict
    data_config: dict
    member_dirs: list[str]
    path: Path | None = None
    kind: str = "xgb"
    device: str = "cpu"
    #: batches up to this many rows go through the numpy :class:`Forest` (no per-call set-up)
    small_batch: int = 16
    _forest: Forest | None = dataclasses.field(default=None, repr=False)

    def __len__(self) -> int:
        return len(self.members)

    def predict_members(self, X: np.ndarray) -> np.ndarray:
        """(members, rows) predictions for feature rows ``X`` (float32, NaN already -1)."""
        X = np.ascontiguousarray(X, dtype=np.float32)
        if X.ndim != 2 or X.shape[1] != NUM_FEATURES:
            raise ValueError(f"expected features of shape (n, {NUM_FEATURES}), got {X.shape}")
        if self.kind == "xgb" and self.device == "cpu" and len(X) <= self.small_batch:
            return self.forest().predict_members(X)
        out = np.empty((len(self.members), len(X)), dtype=np.float64)
        if self.kind == "lgb":
            for i, m in enumerate(self.members):
                out[i] = m.predict(X)
            return out
        if self.device == "cuda":
            xgb = paths.require("xgboost", "NAS-Bench-301")

            d = xgb.DMatrix(X)
            for i, m in enumerate(self.members):
                out[i] = m.predict(d)
            return out
        for i, m in enumerate(self.members):
            out[i] = m.inplace_predict(X)
        return out

    def forest(self) -> Forest:
        """The members as one flat numpy forest (built on first use)."""
        if self._forest is None:
            self._forest = Forest([json.loads(m.save_raw("json")) for m in self.members])
        return self._forest

    def mean_std(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        preds = self.predict_members(X)
        return preds.mean(axis=0), preds.std(axis=0)

    def predict(self, X: np.ndarray, noise: bool = False, rng: np.random.Generator | None = None) -> np.ndarray:
        """Mean of the members, plus (``noise=True``) N(0, member std) drawn from ``rng``."""
        mean, std = self.mean_std(X)
        if not noise:
            return mean
        if rng is None:
            raise ValueError("noise=True needs rng (np.random.Generator)")
        return mean + rng.normal(0.0, 1.0, size=mean.shape) * std

    def split_features(self) -> set[int]:
        """Feature columns some tree splits on (xgboost members)."""
        used: set[int] = set()
        for m in self.members:
            if self.kind != "xgb":
                break
            model = json.loads(m.save_raw("json"))
            for t in model["learner"]["gradient_booster"]["model"]["trees"]:
                leaf = np.asarray(t["left_children"]) == -1
                used.update(np.asarray(t["split_indices"])[~leaf].tolist())
        return used


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _read_checksums(root: Path) -> dict[str, str] | None:
    f = root / CHECKSUM_FILE
    if not f.exists():
        return None
    out = {}
    for ln, line in enumerate(f.read_text().splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split(None, 1)
        if len(parts) != 2 or len(parts[0]) != 64:
            raise BenchmarkFileError(f"{f}:{ln}: expected '<sha256>  <relative path>', got {line!r}")
        out[parts[1].strip().lstrip("*").removeprefix("./")] = parts[0].lower()
    return out


def _check(root: Path, file: Path, data: bytes, sums: dict[str, str] | None) -> str:
    digest = _sha256(data)
    if sums is None:
        return digest
    rel = file.relative_to(root).as_posix()
    if rel not in sums:
        raise BenchmarkFileError(f"{root / CHECKSUM_FILE} has no entry for {rel}; refusing to load it")
    if sums[rel] != digest:
        raise BenchmarkFileError(f"{file}: sha256 {digest} does not match {sums[rel]} in "
                                 f"{root / CHECKSUM_FILE}; refusing to load it")
    return digest


def _check_listed(root: Path, sums: dict[str, str] | None) -> None:
    """Every file ``SHA256SUMS`` lists (members and config files alike) exists inside the
    folder and matches, before anything is read from it."""
    for rel, want in (sums or {}).items():
        f = root / rel
        if ".." in Path(rel).parts or Path(rel).is_absolute():
            raise BenchmarkFileError(f"{root / CHECKSUM_FILE}: {rel!r} is not a path inside {root}")
        if not f.is_file():
            raise BenchmarkFileError(f"{root / CHECKSUM_FILE} lists {rel}, which is missing; refusing to load")
        _check(root, f, f.read_bytes(), sums)


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise BenchmarkFileError(f"{path} is missing (every ensemble member folder has one)") from None
    except json.JSONDecodeError as e:
        raise BenchmarkFileError(f"{path}: not valid JSON ({e})") from e


def _member_dirs(root: Path) -> list[Path]:
    dirs = {p.parent for p in root.rglob(MEMBER_FILE)} | {p.parent for p in root.rglob(JSON_MEMBER_FILE)}
    return sorted(dirs)


def _xgb_device(device: str | None) -> str:
    device = default_device(device)
    if device != "cuda":
        return "cpu"
    xgb = paths.require("xgboost", "NAS-Bench-301")

    return "cuda" if xgb.build_info().get("USE_CUDA") else "cpu"


def load_ensemble(path: str | Path, device: str | None = None, nthread: int = 0) -> Ensemble:
    """Load an NB301 ensemble directory (official layout) through the conversion cache.

    ``device``: ``"cuda"``/``"cpu"`` (default: the GPU when xgboost and torch see one);
    ``nthread``: prediction threads (0 = xgboost's default, all cores).
    """
    root = Path(path)
    if not root.is_dir():
        raise FileNotFoundError(
            f"NAS-Bench-301 ensemble directory {root} does not exist. Fetch the official models "
            f"(models_1.0.zip from {OFFICIAL_MODELS_URL}), unzip it, and pass its xgb_v1.0 folder.")
    dirs = _member_dirs(root)
    if not dirs:
        raise BenchmarkFileError(f"{root}: no ensemble members (*/{MEMBER_FILE}) found")
    sums = _read_checksums(root)
    _check_listed(root, sums)
    model_config = _read_json(dirs[0] / MODEL_CONFIG)
    data_config = _read_json(dirs[0] / DATA_CONFIG)
    name = str(model_config.get("model", ""))
    if name.startswith("lgb"):
        kind = "lgb"
    elif name.startswith("xgb"):
        kind = "xgb"
    else:
        raise BenchmarkFileError(f"{dirs[0] / MODEL_CONFIG}: model {name!r} is not an xgb/lgb ensemble")
    for d in dirs[1:]:
        if (d / MODEL_CONFIG).exists() and _read_json(d / MODEL_CONFIG).get("model") != name:
            raise BenchmarkFileError(f"{root}: members of different kinds ({d.relative_to(root)} is not "
                                     f"{name!r}); pass one ensemble folder such as xgb_v1.0, not its parent")
    if model_config.get("param:bananas_enc"):
        raise BenchmarkFileError(f"{dirs[0] / MODEL_CONFIG}: the BANANAS path encoding is not supported")
    dev = _xgb_device(device) if kind == "xgb" else "cpu"
    members = []
    warned = False
    for d in dirs:
        where = str(d)
        jf = d / JSON_MEMBER_FILE
        if jf.exists() and kind == "xgb":
            data = jf.read_bytes()
            _check(root, jf, data, sums)
            members.append(json_to_booster(data, where))
            continue
        pf = d / MEMBER_FILE
        data = pf.read_bytes()
        digest = _check(root, pf, data, sums)
        if kind == "lgb":
            if not warned:
                warnings.warn(f"reading pickled NAS-Bench-301 members from {root} (restricted unpickler: "
                              "only a Booster's state is accepted)", UserWarning, stacklevel=2)
                warned = True
            members.append(_lgb_member(data, where))
            continue
        cached = paths.cache_dir() / "nb301" / f"{digest}.json"
        if cached.exists():
            members.append(json_to_booster(cached.read_bytes(), f"{where} (cache {cached})"))
            continue
        if not warned:
            warnings.warn(f"reading pickled NAS-Bench-301 members from {root} (restricted unpickler: only "
                          "a Booster's state is accepted); converting them once to xgboost JSON in "
                          f"{cached.parent}", UserWarning, stacklevel=2)
            warned = True
        state = read_pickled_booster(data, where)
        bst = snapshot_to_booster(state["handle"], where)
        with paths.atomic_write(cached) as tmp:
            tmp.write_bytes(bst.save_raw("json"))
        members.append(bst)
    for m in members:
        if kind == "xgb":
            m.set_param({"device": dev, "nthread": int(nthread)})
            n_feat = m.num_features()
            if n_feat != NUM_FEATURES:
                raise BenchmarkFileError(f"{root}: a member expects {n_feat} features, the NAS-Bench-301 "
                                         f"configuration space has {NUM_FEATURES}")
    return Ensemble(members, model_config, data_config, [d.relative_to(root).as_posix() for d in dirs],
                    path=root, kind=kind, device=dev)


def import_path(path: str | Path) -> Path:
    """``nasbench-lab import nb301 DIR``: check the ensemble folder and convert its members once.

    Reads every member through the restricted unpickler (checksums enforced when a
    ``SHA256SUMS`` file is present), writes the xgboost JSON conversions to the cache and
    returns the folder to pass to ``benchmarks.load("nb301", path=...)``.
    """
    ens = load_ensemble(path)
    print(f"NAS-Bench-301: {len(ens.members)} {ens.kind} members checked and converted "
          f"(cache: {paths.cache_dir() / 'nb301'})")
    return Path(path)


def _lgb_member(data: bytes, where: str):
    state = read_pickled_booster(data, where)
    try:
        import lightgbm
    except ImportError:
        raise BenchmarkFileError(f"{where}: a LightGBM member needs the optional 'lightgbm' package") from None
    return _LGBMember(lightgbm.Booster(model_str=state["handle"].decode()), state.get("best_iteration"))


class _LGBMember:
    """A LightGBM member predicting as the official code did (best iteration when recorded)."""

    def __init__(self, booster, best_iteration):
        self.booster = booster
        self.num_iteration = int(best_iteration) if best_iteration else None

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.booster.predict(X, num_iteration=self.num_iteration)


# -- training your own ensemble ----------------------------------------------------------
#: xgboost parameters of :func:`fit_surrogate` (override with ``params=``)
DEFAULT_PARAMS = {"objective": "reg:squarederror", "eval_metric": "rmse", "max_depth": 6, "eta": 0.05,
                  "subsample": 0.8, "colsample_bytree": 0.5, "min_child_weight": 1.0}


def fit_surrogate(records: Iterable[tuple[Any, float]], path: str | Path, members: int = 10, seed: int = 0,
                  num_rounds: int = 500, params: dict | None = None, target: str = "accuracy",
                  device: str | None = None, nthread: int = 0) -> Ensemble:
    """Train an XGB ensemble on ``(genotype, value)`` records into ``path`` (official layout).

    ``target="accuracy"``: values are validation accuracies as fractions (stored and
    predicted in percent, like the official surrogate). ``target="runtime"``: seconds.
    Member ``i`` uses seed ``seed + i`` (row and column subsampling make them differ);
    ``nthread`` training threads (0 = all cores; 1 is far faster on a crowded machine).
    Writes ``member_{i}/{surrogate_model.json, surrogate_model.model, model_config.json,
    data_config.json}`` and ``SHA256SUMS``, atomically per file.

    >>> recs = [(g, acc) for g, acc in my_results]                # doctest: +SKIP
    >>> ens = fit_surrogate(recs, "my_surrogate", members=3)      # doctest: +SKIP
    """
    xgb = paths.require("xgboost", "NAS-Bench-301")

    if target not in ("accuracy", "runtime"):
        raise ValueError(f"target must be 'accuracy' or 'runtime', got {target!r}")
    space = DartsSpace()
    genos, ys = [], []
    for i, rec in enumerate(records):
        try:
            arch, y = rec
        except (TypeError, ValueError):
            raise ValueError(f"record {i}: expected (genotype, value), got {rec!r}") from None
        genos.append(space.validate(arch))
        ys.append(float(y))
    if len(genos) < 2:
        raise ValueError(f"fit_surrogate needs at least 2 records, got {len(genos)}")
    y = np.asarray(ys, dtype=np.float64)
    if not np.isfinite(y).all():
        raise ValueError("fit_surrogate: every value must be finite")
    if target == "accuracy":
        if y.min() < 0 or y.max() > 1:
            raise ValueError(f"accuracies must be fractions in [0, 1] (got {y.min():g}..{y.max():g}); "
                             "the ensemble stores them in percent itself")
        y = y * 100.0
    X = features(genos)
    root = Path(path)
    root.mkdir(parents=True, exist_ok=True)
    cfg = {**DEFAULT_PARAMS, **(params or {})}
    model_config = {"model": "xgb" if target == "accuracy" else "xgb_time",
                    "param:num_rounds": int(num_rounds), **{f"param:{k}": v for k, v in cfg.items()}}
    data_config = {"seed": int(seed), "target": target, "num_records": len(genos),
                   "features": list(FEATURE_NAMES)}
    dtrain = xgb.DMatrix(X, label=y)
    sums = {}
    dev = _xgb_device(device)
    for i in range(members):
        bst = xgb.train({**cfg, "seed": int(seed) + i, "device": dev, "nthread": int(nthread)}, dtrain,
                        num_boost_round=int(num_rounds))
        d = root / f"member_{i}"
        files = {
            JSON_MEMBER_FILE: bytes(bst.save_raw("json")),
            MEMBER_FILE: pickle.dumps(bst, protocol=4),
            MODEL_CONFIG: json.dumps(model_config, indent=1).encode(),
            DATA_CONFIG: json.dumps(data_config, indent=1).encode(),
        }
        for name, data in files.items():
            with paths.atomic_write(d / name) as tmp:
                tmp.write_bytes(data)
            sums[f"member_{i}/{name}"] = _sha256(data)
    with paths.atomic_write(root / CHECKSUM_FILE) as tmp:
        tmp.write_text("".join(f"{h}  {p}\n" for p, h in sorted(sums.items())))
    return load_ensemble(root, device=device, nthread=nthread)


# -- the benchmark -----------------------------------------------------------------------
class NB301Benchmark(Benchmark):
    """Surrogate benchmark over the DARTS space (validation accuracy only).

    Args:
        ensemble: the performance ensemble (predicts percent).
        runtime: optional runtime ensemble (predicts seconds).
        noise: default for queries: False = mean of members (denoised), True = official noise.
        seed: seed of the generator used by ``noise=True``.
    """

    name = "nb301"
    has_test = False

    def __init__(self, ensemble: Ensemble, runtime: Ensemble | None = None, noise: bool = False, seed: int = 0):
        super().__init__()
        self.space = DartsSpace()
        self.ensemble = ensemble
        self.runtime = runtime
        self.noise = bool(noise)
        self.seed = int(seed)
        self.rng = np.random.default_rng(seed)

    def features(self, archs: Sequence[Any]) -> np.ndarray:
        return features([self.space.validate(a) for a in archs])

    #: genotypes the content fingerprint is computed on (drawn once from a fixed seed)
    FINGERPRINT_PROBES = 64

    def fingerprint(self) -> str:
        """A digest of what this surrogate answers: every member's prediction (and the
        runtime model's) on a fixed, seeded set of genotypes, plus the noise setting. Two
        ensembles that predict differently never share it, whatever their file paths."""
        if getattr(self, "_fingerprint", None) is None:
            import hashlib

            rng = np.random.default_rng([0x301, 0xF1])
            X = self.features([self.space.sample(rng) for _ in range(self.FINGERPRINT_PROBES)])
            h = hashlib.blake2b(digest_size=16)
            h.update(np.asarray(self.ensemble.predict_members(X), dtype=np.float64).tobytes())
            if self.runtime is not None:
                h.update(np.asarray(self.runtime.predict(X), dtype=np.float64).tobytes())
            h.update(f"noise={self.noise};seed={self.seed if self.noise else 0}".encode())
            self._fingerprint = h.hexdigest()
        return self._fingerprint

    def _lookup(self, archs: Sequence[Any], noise: bool | None = None) -> Metrics:
        X = self.features(archs)
        mean, std = self.ensemble.mean_std(X)
        noisy = self.noise if noise is None else bool(noise)
        pred = mean + self.rng.normal(0.0, 1.0, size=mean.shape) * std if noisy else mean
        n = len(X)
        t = (np.asarray(self.runtime.predict(X), dtype=float) if self.runtime is not None
             else np.full(n, math.nan))
        return Metrics(validation_accuracy=pred / 100.0, test_accuracy=np.full(n, math.nan),
                       training_time=t, parameters=np.full(n, math.nan),
                       extra={"ensemble_std": std / 100.0})

    def predict(self, archs: Sequence[Any]) -> np.ndarray:
        """Denoised validation accuracies (fractions) without counting queries."""
        return self.ensemble.mean_std(self.features(archs))[0] / 100.0


def load(path: str | Path | None = None, noise: bool = False, seed: int = 0, runtime: str | Path | bool | None = None,
         device: str | None = None, nthread: int = 0) -> NB301Benchmark:
    """``benchmarks.load("nb301", path=<ensemble dir>)``; see the module docstring.

    ``runtime``: a runtime ensemble directory, ``False`` for none, ``None`` to use the
    sibling ``lgb_runtime_v1.0`` when it exists (skipped with a warning when it cannot be
    read, e.g. without ``lightgbm``).
    """
    if path is None:
        default = paths.cache_dir() / "nb301" / "nb_models_1.0" / "xgb_v1.0"
        if not default.is_dir():
            raise FileNotFoundError(
                "no NAS-Bench-301 ensemble given: pass path=<.../nb_models_1.0/xgb_v1.0>. The official "
                f"models are models_1.0.zip from {OFFICIAL_MODELS_URL} (unzip; the xgb_v1.0 folder).")
        path = default
    ens = load_ensemble(path, device=device, nthread=nthread)
    rt = None
    if runtime is None:
        sibling = Path(path).parent / RUNTIME_DIR_NAME
        if sibling.is_dir():
            try:
                rt = load_ensemble(sibling, device=device, nthread=nthread)
            except BenchmarkFileError as e:
                warnings.warn(f"runtime model {sibling} not used ({e}); training_time is NaN", UserWarning,
                              stacklevel=2)
    elif runtime is not False:
        rt = load_ensemble(runtime, device=device, nthread=nthread)
    return NB301Benchmark(ens, runtime=rt, noise=noise, seed=seed)


__all__ = ["Ensemble", "NB301Benchmark", "load", "load_ensemble", "fit_surrogate", "FEATURE_NAMES",
           "features", "CHECKSUM_FILE", "MEMBER_FILE"]

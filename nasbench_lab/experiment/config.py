"""``ExperimentConfig``: what an Experiment runs, as a dataclass and as YAML.

The field names are the YAML keys (NNI's Experiment config, snake case)::

    space: nb201                       # optional when a benchmark is given
    strategy: random_search
    strategy_options: {}
    benchmark: nb201
    benchmark_options: {path: NAS-Bench-201.csv, validation: cifar10_valid_12, test: cifar10_test_200}
    max_trial_number: 300
    max_experiment_duration: 1h
    trial_concurrency: 1
    seed: 0

A config holding only names and options is serialisable (``to_yaml`` / ``from_yaml``)
and an experiment built from it can be resumed from its store alone. In a notebook
``benchmark``, ``strategy``, ``space`` and ``evaluator`` may also be live objects; the
store then records their names, and ``Experiment.resume`` asks for the objects again.

>>> cfg = ExperimentConfig(benchmark="moons", strategy="random_search", max_trial_number=50)
>>> ExperimentConfig.from_yaml(cfg.to_yaml()) == cfg
True
>>> parse_duration("2h"), parse_duration("30s"), parse_duration(None)
(7200.0, 30.0, None)
"""
from __future__ import annotations

import dataclasses
import importlib
import math
import re
from pathlib import Path
from typing import Any

#: seconds per unit of a duration string
_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*([smhd])\s*$")

#: how the strategy is told a failed trial
FAILURE_POLICIES = ("ignore", "worst")

#: where live trials run (``ExperimentConfig.training_service``)
TRAINING_SERVICES = ("local", "ray")


class ConfigError(ValueError):
    """An experiment configuration that cannot run; the message names the field."""


def parse_duration(value: Any) -> float | None:
    """Seconds of a duration: a number of seconds, or a string ``"30s"``, ``"1m"``, ``"2h"``,
    ``"1d"`` (also fractional, ``"1.5h"``); None means no limit."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise ConfigError(f"max_experiment_duration: {value!r} is not a duration")
    if isinstance(value, (int, float)):
        if not math.isfinite(value) or value <= 0:
            raise ConfigError(f"a duration must be a positive number of seconds, got {value!r}")
        return float(value)
    m = _DURATION.match(str(value))
    if not m:
        raise ConfigError(f"bad duration {value!r}: write a number and a unit s, m, h or d, e.g. '30s', "
                          "'1m', '2h', '1d'")
    seconds = float(m.group(1)) * _UNITS[m.group(2)]
    if seconds <= 0:
        raise ConfigError(f"a duration must be positive, got {value!r}")
    return seconds


def _name_of(obj: Any) -> Any:
    """A serialisable stand-in for a live object: its name (or None)."""
    if obj is None or isinstance(obj, (str, int, float, bool)):
        return obj
    if callable(obj) and hasattr(obj, "__module__") and hasattr(obj, "__qualname__") and not isinstance(obj, type):
        return f"{obj.__module__}:{obj.__qualname__}"
    if isinstance(obj, type):
        return f"{obj.__module__}:{obj.__qualname__}"
    return getattr(obj, "name", None) or type(obj).__name__


def import_callable(spec: str):
    """The callable named ``"package.module:function"``."""
    if not isinstance(spec, str) or ":" not in spec:
        raise ConfigError(f"evaluator {spec!r}: name a function as 'package.module:function'")
    module, attr = spec.split(":", 1)
    try:
        obj = importlib.import_module(module)
        for part in attr.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as e:
        raise ConfigError(f"evaluator {spec!r} cannot be imported ({type(e).__name__}: {e})") from None
    if not callable(obj):
        raise ConfigError(f"evaluator {spec!r} is not callable")
    return obj


@dataclasses.dataclass
class ExperimentConfig:
    """Everything an Experiment needs; validated by :meth:`validate` (``Experiment`` calls it)."""

    space: Any = None
    """search space name (``spaces.get``) or object; None: the benchmark's own space
    (Moons: the depth-3 MLP chains)."""
    strategy: Any = "random_search"
    """strategy registry name, class or ready instance (built ``cls(space, seed, **strategy_options)``)."""
    strategy_options: dict = dataclasses.field(default_factory=dict)
    """hyperparameters passed to the strategy's constructor."""
    benchmark: Any = "moons"
    """evaluator: a benchmark name (``benchmarks.load``) or a Benchmark object; None when
    ``evaluator`` is a function."""
    benchmark_options: dict = dataclasses.field(default_factory=dict)
    """``path`` and keyword options of the benchmark's loader (e.g. NB201 ``validation``/``test``)."""
    evaluator: Any = None
    """a live-training function ``f(arch) -> float | dict | Metrics`` (or its name
    ``"module:function"``) run in worker processes; instead of ``benchmark``."""
    max_trial_number: int | None = None
    """stop after this many trials (None: no limit; then give a duration)."""
    max_experiment_duration: Any = None
    """stop after this much running time: seconds or ``"30s"``, ``"1m"``, ``"2h"``, ``"1d"``
    (time spent stopped does not count)."""
    trial_concurrency: int = 1
    """live trials running at once (worker processes); in-process evaluators run one at a time."""
    trial_gpu_number: int = 0
    """GPUs each live trial gets (``CUDA_VISIBLE_DEVICES`` of its worker); 0: CPU."""
    max_trial_number_per_gpu: int = 1
    """live trials that may share one GPU."""
    gpu_indices: list | None = None
    """the GPUs trials may use (None: every GPU torch sees)."""
    trial_timeout: Any = None
    """a live trial running longer than this is killed and FAILED (a duration, None: never)."""
    failure_policy: str = "ignore"
    """what the strategy is told of a failed trial: ``"ignore"`` (NaN: counted, never the
    best, no learning signal) or ``"worst"`` (the worst validation value seen so far, 0 before any)."""
    experiment_working_directory: str | None = None
    """where the experiment's folder ``<dir>/<id>/`` lives (None: the registry's root,
    ``$NASBENCH_LAB_EXPERIMENTS`` or ``~/nasbench-lab-experiments``)."""
    seed: int = 0
    """seeds the strategy (and the protocol of incremental agents): same seed, same trace."""
    name: str | None = None
    """a human-readable name (the id identifies the experiment)."""
    id: str | None = None
    """the experiment id (None: a new random id); must be unused."""
    protocol: dict = dataclasses.field(default_factory=dict)
    """``ProtocolConfig`` fields for incremental agents (``n_neighbours``, ``max_steps``, ``alpha``, ...)."""
    journal_batch: int = 2048
    """in-process trials journalled per SQLite transaction (with the strategy's state)."""
    training_service: str = "local"
    """where live trials run: ``"local"`` (worker processes on this machine) or ``"ray"``
    (Ray tasks on a Ray cluster; the optional extra ``nasbench-lab[ray]``). In-process
    benchmarks (tables, surrogates, proxies), agents and one-shot searches run here either way."""
    ray_address: str | None = None
    """``training_service="ray"``: the cluster, when this process is not connected to Ray yet.
    None: ``$RAY_ADDRESS``, else a local instance on loopback; ``"auto"``: the cluster started
    with ``ray start --head`` on this machine; ``"host:port"``; ``"ray://head:10001"`` (Ray Client)."""

    # -- checks -------------------------------------------------------------------------
    def validate(self) -> "ExperimentConfig":
        """Raise :class:`ConfigError` naming the first field that cannot run; returns self."""
        for f in ("max_trial_number",):
            v = getattr(self, f)
            if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 1):
                raise ConfigError(f"{f} must be a positive integer or None, got {v!r}")
        for f, low in (("trial_concurrency", 1), ("trial_gpu_number", 0), ("max_trial_number_per_gpu", 1),
                       ("journal_batch", 1)):
            v = getattr(self, f)
            if isinstance(v, bool) or not isinstance(v, int) or v < low:
                raise ConfigError(f"{f} must be an integer >= {low}, got {v!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise ConfigError(f"seed must be an integer, got {self.seed!r}")
        parse_duration(self.max_experiment_duration)
        try:
            parse_duration(self.trial_timeout)
        except ConfigError as e:
            raise ConfigError(f"trial_timeout: {e}") from None
        if self.max_trial_number is None and self.max_experiment_duration is None:
            raise ConfigError("give max_trial_number or max_experiment_duration: an experiment needs a limit")
        self._validate_service()
        if self.failure_policy not in FAILURE_POLICIES:
            raise ConfigError(f"failure_policy must be one of {FAILURE_POLICIES}, got {self.failure_policy!r}")
        if self.benchmark is None and self.evaluator is None:
            raise ConfigError("give a benchmark (name or object) or an evaluator function")
        if self.benchmark is not None and self.evaluator is not None:
            raise ConfigError("give either benchmark or evaluator, not both")
        if self.evaluator is not None and self.space is None:
            raise ConfigError("an evaluator function needs a search space: set space")
        for f in ("strategy_options", "benchmark_options", "protocol"):
            if not isinstance(getattr(self, f), dict):
                raise ConfigError(f"{f} must be a mapping, got {type(getattr(self, f)).__name__}")
        if self.gpu_indices is not None and (not isinstance(self.gpu_indices, (list, tuple)) or not all(
                isinstance(i, int) and not isinstance(i, bool) and i >= 0 for i in self.gpu_indices)):
            raise ConfigError(f"gpu_indices must be a list of GPU numbers >= 0, got {self.gpu_indices!r}")
        if self.id is not None and not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", str(self.id)):
            raise ConfigError(f"id {self.id!r}: use 1-64 letters, digits, '_', '-' or '.'")
        if isinstance(self.strategy, str):
            from .. import oneshot, strategies

            if self.strategy not in strategies.REGISTRY and self.strategy not in oneshot.names():
                raise ConfigError(f"unknown strategy {self.strategy!r}; known: {', '.join(strategies.names())}; "
                                  f"one-shot: {', '.join(oneshot.names())}")
        if isinstance(self.space, str):
            from .. import spaces

            if self.space not in spaces.names():
                raise ConfigError(f"unknown search space {self.space!r}; known: {', '.join(spaces.names())}")
        if isinstance(self.benchmark, str):
            from .. import benchmarks

            if self.benchmark not in benchmarks.names():
                raise ConfigError(f"unknown benchmark {self.benchmark!r}; known: {', '.join(benchmarks.names())}")
        return self

    def _validate_service(self) -> None:
        if self.training_service not in TRAINING_SERVICES:
            raise ConfigError(f"training_service must be one of {TRAINING_SERVICES}, got {self.training_service!r}")
        from .._ray import check_address

        try:
            check_address(self.ray_address)
        except ValueError as e:
            raise ConfigError(str(e)) from None
        if self.training_service != "ray":
            if self.ray_address is not None:
                raise ConfigError(f"ray_address={self.ray_address!r} is for training_service='ray' (this config "
                                  f"runs {self.training_service!r})")
            return
        if self.gpu_indices is not None:
            raise ConfigError("gpu_indices picks GPUs of this machine (training_service='local'); on Ray the "
                              "cluster assigns GPUs: leave gpu_indices unset (start nodes with `ray start "
                              "--num-gpus N`)")
        if self.trial_gpu_number > 1 and self.max_trial_number_per_gpu > 1:
            raise ConfigError(f"trial_gpu_number={self.trial_gpu_number} with max_trial_number_per_gpu="
                              f"{self.max_trial_number_per_gpu}: Ray shares a GPU only between one-GPU trials; "
                              "set max_trial_number_per_gpu=1 or trial_gpu_number=1")

    @property
    def duration_seconds(self) -> float | None:
        return parse_duration(self.max_experiment_duration)

    @property
    def timeout_seconds(self) -> float | None:
        return parse_duration(self.trial_timeout)

    @property
    def live_fields(self) -> list[str]:
        """The fields holding live objects (a Benchmark, a strategy instance, ...), not names."""
        out = []
        for k in ("space", "strategy", "benchmark", "evaluator"):
            v = getattr(self, k)
            if _name_of(v) == v:
                continue
            if k == "evaluator" and callable(v) and not isinstance(v, type) and "<" not in getattr(v, "__qualname__", "<"):
                continue  # a module-level function is re-imported by its name
            out.append(k)
        return out

    @property
    def serialisable(self) -> bool:
        """Whether every field is a plain value (names, not live objects)."""
        return not self.live_fields

    # -- (de)serialisation ---------------------------------------------------------------
    def to_dict(self) -> dict:
        """Plain values only: live objects are replaced by their names."""
        out = {}
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if f.name in ("space", "strategy", "benchmark", "evaluator"):
                v = _name_of(v)
            elif isinstance(v, (dict, list, tuple)):
                v = _plain(v)
            out[f.name] = v
        return out

    @classmethod
    def from_dict(cls, data: dict) -> "ExperimentConfig":
        if not isinstance(data, dict):
            raise ConfigError(f"an experiment config is a mapping of fields, got {type(data).__name__}")
        fields = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - fields)
        if unknown:
            raise ConfigError(f"unknown config field(s) {unknown}; known: {sorted(fields)}")
        return cls(**data)

    def to_yaml(self, path: str | Path | None = None) -> str:
        """The config as YAML text (also written atomically to ``path`` when given)."""
        import yaml

        text = yaml.safe_dump(self.to_dict(), sort_keys=False)
        if path is not None:
            from .. import paths

            with paths.atomic_write(path) as tmp:
                Path(tmp).write_text(text)
        return text

    @classmethod
    def from_yaml(cls, source: str | Path) -> "ExperimentConfig":
        """Read a config from a YAML file path or YAML text; malformed YAML raises
        :class:`ConfigError` naming the file and the line."""
        import yaml

        text, where = str(source), "<text>"
        if isinstance(source, Path) or ("\n" not in text and text.endswith((".yaml", ".yml"))):
            p = Path(source)
            if not p.exists():
                raise ConfigError(f"{p}: no such config file")
            text, where = p.read_text(), str(p)
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as e:
            mark = getattr(e, "problem_mark", None)
            line = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
            raise ConfigError(f"{where}: malformed YAML{line}: {getattr(e, 'problem', None) or e}") from None
        if data is None:
            raise ConfigError(f"{where}: the config is empty")
        try:
            return cls.from_dict(data)
        except TypeError as e:
            raise ConfigError(f"{where}: {e}") from None


def _plain(v):
    if isinstance(v, dict):
        return {str(k): _plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    if isinstance(v, Path):
        return str(v)
    return v


__all__ = ["ConfigError", "ExperimentConfig", "FAILURE_POLICIES", "TRAINING_SERVICES", "import_callable",
           "parse_duration"]

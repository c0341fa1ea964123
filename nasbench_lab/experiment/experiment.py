"""The Experiment: NNI's Experiment API over the runner, journalled in SQLite, resumable.

Lifecycle (NNI's method names)::

    exp = Experiment(ExperimentConfig(benchmark="moons", strategy="random_search",
                                      max_trial_number=500, seed=0))
    exp.run()                       # blocks; True when it completed, False when it failed
    exp.start(); exp.widget()       # or: in the background, with a live dashboard
    exp.start(port=8080)            # ... and serve the web portal (``portal``: page, REST API)
    exp.stop()                      # checkpoint and stop
    exp = Experiment.resume(exp.id) # continue a stopped or killed experiment
    exp.trials()                    # the query frame: analysis draws it directly

How trials run:

* **in-process** (tabular, surrogate and proxy benchmarks: ``benchmark.live`` is False):
  ask, query, tell, one trial after the other; the journal is written in batches
  (``journal_batch`` trials and the strategy's ``state_dict`` per transaction, at least
  every half second). A crash loses at most the unwritten batch, which the resumed
  experiment recomputes from the checkpointed state: the trace is identical to an
  uninterrupted run with the same seed.
* **live** (``benchmark.live`` True, or an ``evaluator`` function): every trial in its own
  worker process (``_workers.TrialProcesses``), up to ``trial_concurrency`` at once, with
  ``CUDA_VISIBLE_DEVICES`` per worker from ``trial_gpu_number`` /
  ``max_trial_number_per_gpu`` / ``gpu_indices``. A trial is journalled WAITING with its
  architecture (and the strategy's state) before it starts, and finished with its result.
  A trial that raises is FAILED with its traceback; one that runs past ``trial_timeout``
  or whose worker dies is killed and FAILED with the reason. After a crash, the trials
  that were waiting or running start again under their own numbers. With
  ``training_service="ray"`` (``Experiment("ray", ...)``) the same loop runs each trial as
  a Ray task instead (``_ray.RayTrials``: the GPUs of ``trial_gpu_number``, fractional
  ones with ``max_trial_number_per_gpu``), journalled in the same store.
* **incremental agents** (``act``: random walk, local search, Ape-X) run through the
  paper's protocol (``runner.run``) in-process; each trial is an architecture the search
  reports, its ``query`` column the queries charged so far (local search is charged every
  shown neighbour).

Failure policy (``failure_policy``): ``"ignore"`` tells the strategy NaN (a failed trial:
counted, never the best, no learning signal; ``strategies.base``), ``"worst"`` tells it
the worst validation value seen so far (0 before any). Either way the experiment goes on.

Statuses: INITIALIZED, RUNNING, STOPPING, STOPPED, DONE (a limit was reached),
NO_MORE_TRIAL (the strategy has nothing more to ask: ``ask`` raised ``StopIteration``),
ERROR (the message is in ``get_experiment_profile()["error"]``).
"""
from __future__ import annotations

import dataclasses
import math
import secrets
import threading
import time
import traceback
from pathlib import Path
from typing import Any

import numpy as np

from ..schema import QUERY_COLUMNS, carry_best
from .config import TRAINING_SERVICES, ConfigError, ExperimentConfig, import_callable
from .records import FINISHED, TrialJob, TrialMetricData, TrialResult, job_id
from .store import ExperimentError, ExperimentStore, Registry, dumps_arch, experiments_root

#: seconds between journal commits on the in-process path, at most
COMMIT_INTERVAL = 0.5


def _new_id() -> str:
    """A fresh experiment id (8 lowercase letters and digits, as NNI's)."""
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    return "".join(secrets.choice(alphabet) for _ in range(8))


def _metric_values(result: Any) -> tuple[float, float]:
    """(validation, test) from what an evaluator returned: a number, a dict
    (``default``/``validation`` and ``test``, as NNI's final results) or ``Metrics``."""
    if isinstance(result, dict):
        v = result.get("default", result.get("validation", result.get("validation_accuracy", math.nan)))
        t = result.get("test", result.get("test_accuracy", math.nan))
        return float(v), float(t)
    if hasattr(result, "validation_accuracy"):
        return float(result.validation_accuracy), float(getattr(result, "test_accuracy", math.nan))
    return float(result), math.nan


def evaluate_in_worker(evaluator: Any, arch: Any) -> tuple[float, float]:
    """What a live trial's worker runs: ``evaluator.query(arch)`` (a live Benchmark) or
    ``evaluator(arch)`` (a function); returns ``(validation, test)``."""
    result = evaluator.query(arch) if hasattr(evaluator, "query") else evaluator(arch)
    return _metric_values(result)


class Experiment:
    """An NNI-style experiment (see the module docstring).

    ``Experiment(config)`` with an :class:`ExperimentConfig`, or ``Experiment("local",
    **fields)`` (NNI's training-service form; set ``exp.config`` fields before ``run``).
    """

    def __init__(self, config: ExperimentConfig | str = "local", **fields: Any) -> None:
        if isinstance(config, str):
            if config not in TRAINING_SERVICES:
                raise ConfigError(f"unknown training service {config!r}: give one of {TRAINING_SERVICES}")
            config = ExperimentConfig(**{"training_service": config, **fields})
        elif not isinstance(config, ExperimentConfig):
            raise ConfigError(f"Experiment takes an ExperimentConfig, 'local' or 'ray', got {type(config).__name__}")
        elif fields:
            config = dataclasses.replace(config, **fields)
        self.config = config
        self._id = config.id or _new_id()
        self._status = "INITIALIZED"
        self._error: str | None = None
        self._store: ExperimentStore | None = None
        self._thread: threading.Thread | None = None
        self._stop_event = threading.Event()
        self._lock = threading.RLock()
        self._kills: set[int] = set()
        self._pending_space: Any = None
        self._objects: dict[str, Any] = {}
        self._read_only = False
        self._session_start: float | None = None
        self._elapsed_before = 0.0
        self._start_time: float | None = None
        self._end_time: float | None = None
        self.progress = False
        #: the interface the portal listens on (``start(port=...)``): loopback; set it
        #: (e.g. "0.0.0.0") before starting to serve other machines as well
        self.portal_host = "127.0.0.1"
        self._portal = None

    # -- identity -----------------------------------------------------------------------
    @property
    def id(self) -> str:
        """The experiment id (the registry's key)."""
        return self._id

    @property
    def folder(self) -> Path:
        """The experiment's folder, ``<working dir>/<id>/``."""
        wd = self.config.experiment_working_directory
        return (Path(wd).expanduser() if wd else experiments_root()) / self.id

    def __repr__(self) -> str:
        return f"Experiment(id={self.id!r}, status={self.get_status()!r})"

    # -- building the parts -------------------------------------------------------------
    def _resolve(self) -> None:
        """Validate the config and build benchmark/evaluator, space and strategy."""
        from .runner import build_strategy, resolve_benchmark, strategy_class

        cfg = self.config.validate()
        bench = evaluator = None
        if cfg.benchmark is not None:
            try:
                bench = resolve_benchmark(cfg.benchmark, cfg.benchmark_options)
            except (KeyError, TypeError) as e:
                raise ConfigError(f"benchmark {cfg.benchmark!r}: {e}") from None
        else:
            evaluator = import_callable(cfg.evaluator) if isinstance(cfg.evaluator, str) else cfg.evaluator
            if not callable(evaluator):
                raise ConfigError(f"evaluator {cfg.evaluator!r} is not callable")
        space = cfg.space
        if isinstance(space, str):
            from .. import spaces

            space = spaces.get(space)
        if space is None:
            space = bench.space
        elif bench is not None and getattr(bench, "space", None) is not None:
            mine, theirs = getattr(space, "name", None), getattr(bench.space, "name", None)
            if mine is not None and theirs is not None and mine != theirs:
                raise ConfigError(f"space {mine!r} does not fit benchmark {getattr(bench, 'name', '?')!r}, "
                                  f"which answers for the {theirs!r} space")
            size, answered = getattr(space, "size", None), getattr(bench.space, "size", None)
            if isinstance(size, int) and isinstance(answered, int) and size > answered:
                # e.g. space "mlp" is ChainSpace(6); Moons answers for ChainSpace(3) only
                raise ConfigError(f"space {mine!r} ({size:,} architectures) is larger than the space benchmark "
                                  f"{getattr(bench, 'name', '?')!r} answers for ({answered:,}); leave space "
                                  "unset to search the benchmark's own space")
        strategy = cfg.strategy
        if _is_one_shot(strategy):
            from ..oneshot.supernet import supernet_config_class

            try:
                supernet_config_class(space)
            except ValueError as e:
                raise ConfigError(f"one-shot strategy {strategy!r} on the {getattr(space, 'name', space)!r} space: "
                                  f"{e}") from None
            self._objects = {"benchmark": bench, "evaluator": evaluator, "space": space, "strategy": strategy,
                             "incremental": False, "one_shot": True, "live": False}
            return
        if isinstance(strategy, (str, type)):
            try:
                incremental = _is_incremental(strategy_class(strategy))
            except KeyError as e:
                raise ConfigError(str(e)) from None
        else:
            incremental = _is_incremental(strategy)
        try:
            built = build_strategy(strategy, space, cfg.seed, cfg.strategy_options)
        except ValueError as e:
            raise ConfigError(str(e)) from None
        if incremental and bench is None:
            raise ConfigError("incremental agents act in the environment over a benchmark; give benchmark=")
        if incremental and cfg.max_trial_number is None:
            raise ConfigError("incremental agents run through the protocol with a query budget: set max_trial_number")
        self._objects = {"benchmark": bench, "evaluator": evaluator, "space": space, "strategy": built,
                         "incremental": incremental,
                         "live": evaluator is not None or bool(getattr(bench, "live", False))}
        if cfg.training_service == "ray" and self._objects["live"] and not incremental:
            from .._ray import require

            require("training_service='ray'")  # without Ray: say how to install it, before anything runs

    def _label(self) -> str:
        from .runner import strategy_label

        return strategy_label(self.config.strategy)

    def _bench_name(self) -> str:
        b = self._objects.get("benchmark")
        if b is not None:
            return getattr(b, "name", "benchmark")
        return getattr(self.config.evaluator, "__name__", str(self.config.evaluator))

    # -- store --------------------------------------------------------------------------
    def _registry(self) -> Registry:
        return Registry()

    def _create_store(self) -> None:
        """Create the store in a scratch folder and rename it into place, then register
        it: a crash at any instant leaves either nothing or a complete store."""
        import os
        import shutil

        folder = self.folder
        reg = self._registry()
        if reg.get(self.id) is not None or folder.exists():
            raise ExperimentError(f"an experiment with id {self.id!r} exists already ({folder}); choose another "
                                  f"id or resume it with Experiment.resume({self.id!r})")
        scratch = folder.parent / f".{self.id}.creating-{os.getpid()}"
        shutil.rmtree(scratch, ignore_errors=True)
        store = ExperimentStore(scratch, create=True)
        store.set_meta(id=self.id, config=self.config.to_dict(), created=time.time(), elapsed=0.0,
                       status="INITIALIZED", strategy=self._label(), benchmark=self._bench_name(),
                       serialisable=self.config.serialisable, live_fields=self.config.live_fields)
        store.close()
        os.replace(scratch, folder)
        reg.add(self.id, self.config.name, folder, "INITIALIZED")
        self._store = ExperimentStore(folder)

    def _set_status(self, status: str, error: str | None = None) -> None:
        with self._lock:
            self._status = status
            if error is not None:
                self._error = error
        if self._store is not None:
            meta = {"status": status}
            if error is not None:
                meta["error"] = error
            for write in (lambda: self._store.set_meta(**meta), lambda: self._registry().update(self.id, status=status)):
                try:
                    write()
                except ExperimentError:  # a locked or vanished store: the status stays in memory
                    pass

    def _elapsed(self) -> float:
        if self._session_start is None:
            return self._elapsed_before
        return self._elapsed_before + (time.time() - self._session_start)

    # -- running ------------------------------------------------------------------------
    def run(self, port: int | None = None, wait_completion: bool = True, debug: bool = False) -> bool | None:
        """Run the experiment; with ``wait_completion`` block until it ends and return True
        when it completed (DONE / NO_MORE_TRIAL), False when it failed or was stopped.
        Ctrl-C stops it cleanly (everything finished so far is kept)."""
        if not wait_completion:
            self.start(port=port, debug=debug)
            return None
        self._begin(port)
        try:
            self._main()
        except KeyboardInterrupt:
            self._stop_event.set()
            self._set_status("STOPPED")
        return self.get_status() in ("DONE", "NO_MORE_TRIAL")

    def start(self, port: int | None = None, debug: bool = False, run_mode: str = "background") -> None:
        """Start the experiment in a background thread and return at once."""
        self._begin(port)
        self._thread = threading.Thread(target=self._main, name=f"experiment-{self.id}", daemon=True)
        self._thread.start()

    def _begin(self, port: int | None) -> None:
        sock, begun = None, False
        try:
            if port is not None:
                if self._portal is not None and self._portal.serving:
                    raise ExperimentError(f"experiment {self.id!r} serves its portal already on {self._portal.url}")
                from .portal.server import bind

                sock = bind(port, self.portal_host)  # before anything is created: a port in use fails at once
            self._begin_run()
            begun = True
            if sock is not None:
                self._serve(sock, read_only=False)
        except BaseException:
            if sock is not None and self._portal is None:
                sock.close()
            if begun:  # the portal failed to start: nothing runs
                self._set_status("STOPPED")
            raise

    def _serve(self, sock, read_only: bool) -> None:
        """Serve the portal on the bound ``sock`` and print its URL (with the token)."""
        from .portal.server import Portal, ensure_token

        token = None if read_only else ensure_token(self.folder)
        self._portal = Portal(self, sock, token, read_only=read_only).start()
        mode = " (read-only)" if read_only else ""
        print(f"experiment {self.id}: web portal{mode} on {self._portal.token_url}", flush=True)

    def _close_portal(self) -> None:
        portal, self._portal = self._portal, None
        if portal is not None:
            portal.close()

    @property
    def token(self) -> str | None:
        """The token of the experiment's portal (``Authorization: Bearer <token>`` for
        changes), kept owner-only in ``<folder>/portal.token``; None before it was served."""
        if self._portal is not None and self._portal.token:
            return self._portal.token
        from .portal.server import read_token

        return read_token(self.folder)

    @property
    def portal_url(self) -> str | None:
        """The portal's address with ``?token=`` (the plain address when read-only); None
        when it is not served."""
        return self._portal.token_url if self._portal is not None and self._portal.serving else None

    @classmethod
    def connect(cls, port: int, token: str | None = None, host: str = "127.0.0.1",
                timeout: float = 30.0) -> "Experiment":
        """The experiment served on ``port`` (by another process too), driven through its
        REST API: reading needs no token; changes (``update_*``, ``kill_trial_job``,
        ``stop``) send ``token``, else the token file of the experiment on this machine."""
        from .portal.client import RemoteExperiment

        return RemoteExperiment(port, token=token, host=host, timeout=timeout)

    def _begin_run(self) -> None:
        if self._read_only:
            raise ExperimentError(f"experiment {self.id!r} is opened for viewing; use Experiment.resume to run it")
        if self._status in ("RUNNING", "STOPPING"):
            raise ExperimentError(f"experiment {self.id!r} is running already")
        if self._status != "INITIALIZED":
            raise ExperimentError(f"experiment {self.id!r} has run ({self._status}); use Experiment.resume({self.id!r})")
        self._resolve()
        if self._store is None:
            self._create_store()
        self._stop_event.clear()
        self._set_status("RUNNING")
        self._start_time = time.time()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for a ``start()``-ed experiment to end; True when it has ended."""
        if self._thread is not None:
            self._thread.join(timeout)
            return not self._thread.is_alive()
        return True

    def stop(self) -> None:
        """Stop the experiment: running trials are cancelled (they start again on resume),
        everything finished is kept, the strategy's state is checkpointed. Its web portal,
        if it serves one, stops serving."""
        self._stop_trials()
        self._close_portal()

    def _stop_trials(self) -> None:
        """Stop running (the portal's stop: it keeps serving)."""
        if self._status not in ("RUNNING", "STOPPING"):
            return
        self._set_status("STOPPING")
        self._stop_event.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join()

    def _main(self) -> None:
        self._session_start = time.time()
        meta = self._store.meta()
        self._elapsed_before = float(meta.get("elapsed", 0.0))
        try:
            if self._objects.get("one_shot"):
                outcome = self._run_one_shot()
            elif self._objects["incremental"]:
                outcome = self._run_incremental()
            elif self._objects["live"]:
                outcome = self._run_live()
            else:
                outcome = self._run_in_process()
            self._store.set_meta(elapsed=self._elapsed())
            self._end_time = time.time()
            self._set_status("STOPPED" if self._stop_event.is_set() and outcome == "DONE" else outcome)
        except BaseException as e:  # noqa: BLE001 - recorded as the experiment's error
            self._end_time = time.time()
            self._set_status("ERROR", "".join(traceback.format_exception(e)))
            if not isinstance(e, Exception):
                raise
        finally:
            self._session_start = None
            self._elapsed_before = float(self._store.meta().get("elapsed", self._elapsed_before))

    def _limits(self) -> tuple[float, float | None]:
        """(most trials, unix deadline or None) as the config says now."""
        cfg = self.config
        most = math.inf if cfg.max_trial_number is None else cfg.max_trial_number
        d = cfg.duration_seconds
        return most, (None if d is None else time.time() + (d - self._elapsed()))

    def _limit(self, trials: int) -> bool:
        cfg = self.config
        if cfg.max_trial_number is not None and trials >= cfg.max_trial_number:
            return True
        d = cfg.duration_seconds
        return d is not None and self._elapsed() >= d

    def _restore(self) -> tuple[Any, dict]:
        """The strategy, restored from the checkpoint when there is one, and the runner state."""
        strategy = self._objects["strategy"]
        state = self._store.state()
        runner: dict = {"worst": None}
        if state is not None:
            strategy.load_state_dict(state["strategy"])
            runner.update(state.get("runner", {}))
        return strategy, runner

    def _told(self, ok: bool, value: float, runner: dict) -> float:
        """What the strategy is told of a trial with ``value`` (the failure policy)."""
        if ok:
            worst = runner.get("worst")
            runner["worst"] = value if worst is None else min(worst, value)
            return value
        if self.config.failure_policy == "worst":
            return 0.0 if runner.get("worst") is None else float(runner["worst"])
        return math.nan

    def _apply_updates(self, strategy) -> None:
        with self._lock:
            space, self._pending_space = self._pending_space, None
        if space is not None:
            hook = getattr(strategy, "update_search_space", None)
            if callable(hook):
                hook(space)
            else:
                strategy.space = space
            self._objects["space"] = space

    def _run_in_process(self) -> str:
        strategy, runner = self._restore()
        bench, space = self._objects["benchmark"], self._objects["space"]
        store = self._store
        n = store.last_trial()
        rows: list[tuple] = []
        last_commit = time.time()
        batch = self.config.journal_batch
        outcome = "DONE"
        bar = self._bar(n)

        def commit():
            nonlocal rows, last_commit
            store.journal(rows, {"strategy": strategy.state_dict(), "runner": dict(runner)}, elapsed=self._elapsed())
            if bar is not None:
                bar.update(len(rows))
            rows, last_commit = [], time.time()

        max_trials, deadline = self._limits()
        stop = self._stop_event.is_set
        clock = time.time
        key = space.key
        nan = math.nan
        while True:
            # per trial: stop flag, limits, ask, query, tell, one journal row; every
            # ``batch`` trials (or COMMIT_INTERVAL seconds) one transaction
            if not rows:
                self._apply_updates(strategy)
                space = self._objects["space"]  # keys of the updated space's archs
                key = space.key
                max_trials, deadline = self._limits()
            t0 = clock()
            if stop() or n + len(rows) >= max_trials or (deadline is not None and t0 >= deadline):
                break
            try:
                arch = strategy.ask()
            except StopIteration:
                outcome = "NO_MORE_TRIAL"
                break
            error = None
            try:
                metrics = bench.query(arch)
                v = float(metrics.validation_accuracy)
                te = float(getattr(metrics, "test_accuracy", nan))
            except Exception as e:  # noqa: BLE001 - a failed trial, recorded with its traceback
                metrics, v, te, error = None, nan, nan, "".join(traceback.format_exception(e))
            if v == v:
                worst = runner["worst"]
                if worst is None or v < worst:
                    runner["worst"] = v
                strategy.tell(arch, metrics)
                status, told = "SUCCEEDED", v
            else:
                error = error or "the evaluator returned no validation accuracy (NaN)"
                told = self._told(False, v, runner)
                strategy.tell(arch, told)
                status = "FAILED"
            trial = n + len(rows) + 1
            t1 = clock()
            rows.append((trial, trial, status, key(arch), None, v, te, told, t0, t1, error))
            if len(rows) >= batch or t1 - last_commit >= COMMIT_INTERVAL:
                n += len(rows)
                commit()
        n += len(rows)
        commit()
        if bar is not None:
            bar.close()
        return outcome

    def _run_incremental(self) -> str:
        from .protocol import ProtocolConfig
        from .runner import run as run_search

        cfg = self.config
        bench, space = self._objects["benchmark"], self._objects["space"]
        try:
            protocol = ProtocolConfig(**cfg.protocol)
        except (TypeError, ValueError) as e:
            raise ConfigError(f"protocol: {e}") from None
        frame = run_search(self._objects["strategy"], bench, cfg.max_trial_number, seed=cfg.seed, space=space,
                           protocol=protocol, label=self._label())
        reports = frame[frame["key"] != ""]
        done = self._store.trial_rows()
        if done and [r["key"] for r in done] != reports["key"].tolist()[: len(done)]:
            raise ExperimentError(f"experiment {self.id!r}: the journal differs from the protocol's trace "
                                  "(benchmark or code changed since it started)")
        rows = []
        now = time.time()
        for i, r in enumerate(reports.itertuples(index=False), start=1):
            if i <= len(done):
                continue
            rows.append((i, int(r.query), "SUCCEEDED", r.key, None, float(r.validation), float(r.test),
                         float(r.validation), now, now, None))
        step = max(1, cfg.journal_batch)
        for lo in range(0, len(rows), step):
            if self._stop_event.is_set():
                return "DONE"
            self._store.journal(rows[lo: lo + step], elapsed=self._elapsed())
        return "DONE"

    def _run_one_shot(self) -> str:
        """A one-shot search is one trial: ``oneshot.search`` trains the super-net
        (checkpointed every epoch in ``<folder>/oneshot``, so a killed experiment resumes its
        search from the last epoch), its export is queried in the benchmark (or given to the
        evaluator) and journalled as trial 1. As each epoch ends, the super-net's validation
        accuracy is journalled as a PERIODICAL metric and the architecture weights as an
        ARCH_WEIGHTS metric (a JSON object: ``alpha/<edge>/<op>`` -> probability), one row
        per epoch even when a resumed search repeats one; the whole log is ``one_shot_log()``.

        ``strategy_options``: ``max_epochs`` (default 2), ``data`` (default ``"digits"``) and
        every option of ``oneshot.search`` (the strategy's and the super-net's config fields).
        """
        import json

        from .. import oneshot, paths

        store = self._store
        done = store.trial_rows("WHERE status = 'SUCCEEDED'")
        if done:
            return "DONE"
        max_trials, _ = self._limits()
        if max_trials < 1:
            return "DONE"
        cfg = self.config
        options = dict(cfg.strategy_options)
        max_epochs = int(options.pop("max_epochs", 2))
        data = options.pop("data", "digits")
        t0 = time.time()
        store.journal([(1, 1, "RUNNING", "", None, math.nan, math.nan, None, t0, None, None)], elapsed=self._elapsed())

        def journal_epoch(row: dict) -> None:  # live, as each epoch ends
            now, epoch = time.time(), int(row["epoch"])
            weights = {c: float(v) for c, v in row.items() if "/" in c}
            store.replace_metrics([(1, "PERIODICAL", epoch, float(row.get("val_acc", math.nan)), now),
                                   (1, "ARCH_WEIGHTS", epoch, json.dumps(weights), now)])

        try:
            result = oneshot.search(cfg.strategy, self._objects["space"], data=data, max_epochs=max_epochs,
                                    seed=cfg.seed, checkpoint_dir=self.folder / "oneshot", progress=self.progress,
                                    on_epoch=journal_epoch, **options)
            arch = result.arch
            bench, evaluator = self._objects["benchmark"], self._objects["evaluator"]
            metrics = bench.query(arch) if bench is not None else evaluator(arch)
            v, te = _metric_values(metrics)
            status, error = "SUCCEEDED", None
        except Exception as e:  # noqa: BLE001 - the trial failed; recorded with its traceback
            status, error, arch, result = "FAILED", "".join(traceback.format_exception(e)), None, None
            v = te = math.nan
        t1 = time.time()
        if result is not None:
            with paths.atomic_write(self.folder / "oneshot_log.parquet", suffix=".parquet") as tmp:
                result.log.to_parquet(tmp, index=False)
        key = self._objects["space"].key(arch) if arch is not None else ""
        store.journal([(1, 1, status, key, dumps_arch(arch) if arch is not None else None, v, te, v, t0, t1, error)],
                      elapsed=self._elapsed())
        return "DONE"

    def one_shot_log(self):
        """The per-epoch log of a one-shot experiment's search (``oneshot.search(...).log``:
        losses, accuracies and architecture weights), or None before it finished."""
        import pandas as pd

        path = self.folder / "oneshot_log.parquet"
        return pd.read_parquet(path) if path.exists() else None

    def _run_live(self) -> str:
        cfg = self.config
        strategy, runner = self._restore()
        space, store = self._objects["space"], self._store
        evaluator = self._objects["evaluator"] if self._objects["evaluator"] is not None else self._objects["benchmark"]
        engine = self._trial_engine()
        timeout = cfg.timeout_seconds
        pending = store.pending()  # asked before a crash or a stop: run again under their numbers
        archs: dict[int, tuple[Any, str]] = {}
        next_trial = store.last_trial() + 1
        finished = sum(v for k, v in store.counts().items() if k in FINISHED)
        asked = finished + len(pending)
        outcome = "DONE"
        sequences: dict[int, int] = {}
        bar = self._bar(finished)
        with engine as pool:
            while True:
                self._apply_updates(strategy)
                space = self._objects["space"]  # keys of the updated space's archs
                if hasattr(pool, "max_workers"):
                    pool.max_workers = self.config.trial_concurrency
                stopping = self._stop_event.is_set()
                if not stopping:
                    while pool.free() > 0 and (pending or (outcome == "DONE" and not self._limit(asked))):
                        if pending:
                            trial, query, key, arch = pending.pop(0)
                        else:
                            try:
                                arch = strategy.ask()
                            except StopIteration:
                                outcome = "NO_MORE_TRIAL"
                                break
                            trial, key = next_trial, space.key(arch)
                            next_trial += 1
                            asked += 1
                            store.journal([(trial, trial, "WAITING", key, dumps_arch(arch), None, None, None, None,
                                            None, None)], {"strategy": strategy.state_dict(), "runner": dict(runner)})
                        archs[trial] = (arch, key)
                        pool.submit(trial, evaluate_in_worker, (evaluator, arch), timeout)
                        store.journal([(trial, trial, "RUNNING", key, dumps_arch(arch), None, None, None,
                                        time.time(), None, None)])
                with self._lock:
                    kills, self._kills = self._kills, set()
                for trial in kills:
                    if trial in pool.running():
                        pool.kill(trial, status="USER_CANCELED")
                if stopping:
                    for trial in pool.running():
                        pool.kill(trial, status="SYS_CANCELED")
                ending = not pool.running() and (stopping or outcome != "DONE" or
                                                 (not pending and self._limit(asked)))
                # a trial's intermediate results are all read before its outcome: store them first
                outcomes = pool.poll(timeout=0 if ending else 0.05)
                periodical = []
                for trial, value, stamp in pool.intermediate():
                    seq = sequences.get(trial, 0)
                    sequences[trial] = seq + 1
                    periodical.append((trial, "PERIODICAL", seq, float(value), stamp))
                store.add_metrics(periodical)
                for o in outcomes:
                    self._finish_live(o, archs, strategy, runner, stopping, bar)
                if ending and not outcomes:
                    break
                if self._limit(asked) and self.config.duration_seconds is not None and \
                        self._elapsed() >= self.config.duration_seconds:
                    for trial in pool.running():
                        pool.kill(trial, status="SYS_CANCELED")
        store.journal([], {"strategy": strategy.state_dict(), "runner": dict(runner)}, elapsed=self._elapsed())
        if bar is not None:
            bar.close()
        return outcome

    def _finish_live(self, o, archs, strategy, runner, stopping: bool, bar) -> None:
        arch, key = archs.pop(o.trial_id)
        store = self._store
        if o.status == "SYS_CANCELED" and stopping:
            # cancelled by stop(): waits to run again on resume; the strategy is not told
            store.journal([(o.trial_id, o.trial_id, "WAITING", key, dumps_arch(arch), None, None, None, None, None,
                            "cancelled by stop(); runs again on resume")])
            return
        ok = o.status == "SUCCEEDED"
        v, te = (o.value if ok else (math.nan, math.nan))
        if ok and v != v:
            ok = False
        told = self._told(ok, v, runner)
        strategy.tell(arch, told)
        status = "SUCCEEDED" if ok else ("FAILED" if o.status == "SUCCEEDED" else o.status)
        error = None if ok else (o.error or "the evaluator returned no validation accuracy (NaN)")
        rows = [(o.trial_id, o.trial_id, status, key, dumps_arch(arch), v, te, told, o.start_time, o.end_time, error)]
        store.journal(rows, {"strategy": strategy.state_dict(), "runner": dict(runner)}, elapsed=self._elapsed())
        if ok:
            store.add_metrics([(o.trial_id, "FINAL", 0, v, o.end_time)])
        if bar is not None:
            bar.update(1)

    def _trial_engine(self):
        """What runs the live trials: worker processes here (``_workers.TrialProcesses``) or,
        with ``training_service="ray"``, Ray tasks (``_ray.RayTrials``, the same interface)."""
        cfg = self.config
        if cfg.training_service == "ray":
            from ._ray import RayTrials

            return RayTrials.from_config(cfg)
        from ._workers import TrialProcesses, gpu_slots

        return TrialProcesses(max_workers=cfg.trial_concurrency, placements=self._placements(gpu_slots))

    def _placements(self, gpu_slots):
        cfg = self.config
        if cfg.trial_gpu_number == 0:
            return [()] * cfg.trial_concurrency
        indices = cfg.gpu_indices
        if indices is None:
            import torch

            indices = list(range(torch.cuda.device_count()))
        if not indices:
            raise ConfigError(f"trial_gpu_number={cfg.trial_gpu_number} but no GPU is visible; set "
                              "trial_gpu_number=0 or gpu_indices")
        return gpu_slots(gpu_indices=list(indices), trial_gpu_number=cfg.trial_gpu_number,
                         max_trial_number_per_gpu=cfg.max_trial_number_per_gpu)

    def _bar(self, initial: int):
        if not self.progress:
            return None
        from tqdm.auto import tqdm

        return tqdm(total=self.config.max_trial_number, initial=initial, desc=f"experiment {self.id}", unit="trial")

    # -- resume and view ----------------------------------------------------------------
    @classmethod
    def _open(cls, experiment_id: str, **objects: Any) -> "Experiment":
        reg = Registry()
        entry = reg.get(experiment_id)
        if entry is None:
            # created but not yet registered when the process died: the store is complete
            # (see _create_store), so register it now
            folder = experiments_root() / experiment_id
            if not (folder / "experiment.sqlite").exists():
                reg.find(experiment_id)  # raises, naming the known ids
            meta = ExperimentStore(folder).meta()
            reg.add(experiment_id, meta.get("config", {}).get("name"), folder, meta.get("status", "INITIALIZED"))
            entry = reg.find(experiment_id)
        folder = Path(entry["folder"])
        store = ExperimentStore(folder)
        meta = store.meta()
        data = dict(meta["config"])
        for name in ("benchmark", "strategy", "space", "evaluator"):
            if objects.get(name) is not None:
                data[name] = objects[name]
        data["experiment_working_directory"] = str(folder.parent)
        config = ExperimentConfig.from_dict(data)
        exp = cls(config)
        exp._id = experiment_id
        exp._store = store
        exp._status = meta.get("status", "STOPPED")
        exp._error = meta.get("error")
        exp._elapsed_before = float(meta.get("elapsed", 0.0))
        return exp

    @classmethod
    def resume(cls, experiment_id: str, port: int | None = None, wait_completion: bool = True,
               debug: bool = False, benchmark: Any = None, strategy: Any = None, space: Any = None,
               evaluator: Any = None, progress: bool = False, host: str = "127.0.0.1") -> "Experiment":
        """Continue a stopped or killed experiment from its store (found through the
        registry). Experiments created from live objects (a Benchmark object, a strategy
        instance) need them again: pass ``benchmark=``, ``strategy=`` ... Returns the
        experiment, after it ended (``wait_completion``) or while it runs in the background.
        With ``port``, its portal is served on ``host`` (the token of its first serving)."""
        exp = cls._open(experiment_id, benchmark=benchmark, strategy=strategy, space=space, evaluator=evaluator)
        exp.portal_host = host
        meta = exp._store.meta()
        given = {"benchmark": benchmark, "strategy": strategy, "space": space, "evaluator": evaluator}
        missing = [f for f in meta.get("live_fields", []) if given.get(f) is None]
        if not meta.get("serialisable", True) and missing:
            names = ", ".join(f"{f} {meta['config'].get(f)!r}" for f in missing)
            raise ExperimentError(f"experiment {experiment_id!r} was built from live objects ({names}); pass them "
                                  f"again: Experiment.resume(id, {', '.join(f'{f}=...' for f in missing)})")
        if exp._status == "RUNNING":
            pid = Registry().get(experiment_id).get("pid")
            if pid not in (None,) and _alive(pid) and pid != _own_pid():
                raise ExperimentError(f"experiment {experiment_id!r} is running in process {pid}; stop it first")
        exp._store.check_writable()
        exp._status = "INITIALIZED"
        exp.progress = progress
        Registry().update(experiment_id, pid=_own_pid())
        if wait_completion:
            exp.run(port=port, debug=debug)
        else:
            exp.start(port=port, debug=debug)
        return exp

    @classmethod
    def view(cls, experiment_id: str, port: int | None = None, non_blocking: bool = True,
             host: str = "127.0.0.1") -> "Experiment":
        """Open an experiment to read it (trials, metrics, widget) without running it. With
        ``port``, serve its portal read-only (every change refused) on ``host`` until
        ``exp.stop()``; ``non_blocking=False`` serves until Ctrl-C."""
        sock = None
        if port is not None:
            from .portal.server import bind

            sock = bind(port, host)
        try:
            exp = cls._open(experiment_id)
        except BaseException:
            if sock is not None:
                sock.close()
            raise
        exp._read_only = True
        exp.portal_host = host
        if sock is not None:
            exp._serve(sock, read_only=True)
            if not non_blocking:
                try:
                    while exp._portal is not None and exp._portal.serving:
                        time.sleep(0.5)
                except KeyboardInterrupt:
                    pass
                exp.stop()
        return exp

    # -- changing a running experiment --------------------------------------------------
    def _persist_config(self) -> None:
        if self._store is not None:
            self._store.set_meta(config=self.config.to_dict(), serialisable=self.config.serialisable,
                                 live_fields=self.config.live_fields)

    def update_max_trial_number(self, value: int) -> None:
        """Raise or lower the trial limit, also while it runs."""
        self.config = dataclasses.replace(self.config, max_trial_number=value).validate()
        self._persist_config()

    def update_max_experiment_duration(self, value: Any) -> None:
        """Change the duration limit (``"30s"``, ``"2h"``, seconds), also while it runs."""
        self.config = dataclasses.replace(self.config, max_experiment_duration=value).validate()
        self._persist_config()

    def update_trial_concurrency(self, value: int) -> None:
        """Change how many live trials run at once, also while it runs."""
        self.config = dataclasses.replace(self.config, trial_concurrency=value).validate()
        self._persist_config()

    def update_search_space(self, space: Any) -> None:
        """Search ``space`` (a name or object) from the next trial on; the strategy's
        ``update_search_space(space)`` is called when it has one, else its ``space`` is
        replaced. The space must be answerable by the benchmark."""
        given = space
        if isinstance(space, str):
            from .. import spaces

            space = spaces.get(space)
        if not hasattr(space, "sample") or not hasattr(space, "key"):
            raise ConfigError(f"update_search_space: {space!r} is not a search space")
        with self._lock:
            self._pending_space = space
        # keep the name only when a name was given: a space object stored by its name would
        # come back on resume as spaces.get(name), another space (ChainSpace(1) -> "mlp" -> ChainSpace(6))
        self.config = dataclasses.replace(self.config, space=given)
        self._persist_config()

    def kill_trial_job(self, trial_job_id: str | int) -> None:
        """Cancel a running live trial (USER_CANCELED)."""
        trial = self._trial_number(trial_job_id)
        job = self.get_trial_job(trial)
        if job.status in FINISHED:
            raise ExperimentError(f"trial {job.trialJobId} has finished ({job.status}); nothing to kill")
        with self._lock:
            self._kills.add(trial)

    # -- reading ------------------------------------------------------------------------
    def _need_store(self) -> ExperimentStore:
        if self._store is None:
            raise ExperimentError(f"experiment {self.id!r} has not started: nothing is stored yet")
        return self._store

    @staticmethod
    def _trial_number(trial_job_id: str | int) -> int:
        try:
            return int(trial_job_id)
        except (TypeError, ValueError):
            raise ExperimentError(f"{trial_job_id!r} is not a trial job id") from None

    def get_status(self) -> str:
        """INITIALIZED, RUNNING, STOPPING, STOPPED, DONE, NO_MORE_TRIAL or ERROR."""
        return self._status

    def list_trial_jobs(self) -> list[TrialJob]:
        """Every trial's job, in trial order."""
        return [TrialJob.from_row(r) for r in self._need_store().trial_rows()]

    def get_trial_job(self, trial_job_id: str | int) -> TrialJob:
        """One trial's job (by job id ``"000007"`` or trial number 7)."""
        trial = self._trial_number(trial_job_id)
        rows = self._need_store().trial_rows("WHERE trial = ?", (trial,))
        if not rows:
            raise ExperimentError(f"experiment {self.id!r} has no trial {trial_job_id!r}")
        return TrialJob.from_row(rows[0])

    def export_data(self) -> list[TrialResult]:
        """Every succeeded trial as ``TrialResult(parameter, value, trialJobId)``."""
        return [TrialResult({"key": r["key"]}, r["validation"], job_id(r["trial"]))
                for r in self._need_store().trial_rows("WHERE status = 'SUCCEEDED'")]

    def get_job_metrics(self, trial_job_id: str | int | None = None) -> dict[str, list[TrialMetricData]]:
        """``{trialJobId: [TrialMetricData, ...]}``: PERIODICAL (intermediate) and FINAL metrics."""
        store = self._need_store()
        trial = None if trial_job_id is None else self._trial_number(trial_job_id)
        out: dict[str, list[TrialMetricData]] = {}
        live = {(t, typ) for t, typ, *_ in store.metrics(trial)}
        for t, typ, seq, value, stamp in store.metrics(trial):
            out.setdefault(job_id(t), []).append(TrialMetricData(stamp, job_id(t), str(t), typ, seq, value))
        # in-process trials journal their final value in the trial row only
        where, params = ("WHERE status = 'SUCCEEDED'", ()) if trial is None else \
            ("WHERE status = 'SUCCEEDED' AND trial = ?", (trial,))
        for r in store.trial_rows(where, params):
            if (r["trial"], "FINAL") not in live:
                out.setdefault(job_id(r["trial"]), []).append(
                    TrialMetricData(r["end_time"], job_id(r["trial"]), str(r["trial"]), "FINAL", 0, r["validation"]))
        return dict(sorted(out.items()))

    def get_job_statistics(self) -> list[dict]:
        """``[{"trialJobStatus": status, "trialJobNumber": n}, ...]``."""
        return [{"trialJobStatus": s, "trialJobNumber": n} for s, n in sorted(self._need_store().counts().items())]

    def get_experiment_profile(self) -> dict:
        """The experiment's profile: id, status, config, counts, times, folder, error."""
        store = self._need_store()
        meta = store.meta()
        return {"id": self.id, "name": self.config.name, "status": self.get_status(), "params": self.config.to_dict(),
                "logDir": str(store.folder), "startTime": meta.get("created"), "endTime": self._end_time,
                "execDuration": self._elapsed() if self._session_start else float(meta.get("elapsed", 0.0)),
                "maxSequenceId": store.last_trial(), "trialCounts": store.counts(), "error": self._error,
                "strategy": meta.get("strategy"), "benchmark": meta.get("benchmark")}

    @staticmethod
    def get_experiment_metadata(experiment_id: str) -> dict:
        """One experiment's registry entry: id, name, folder, status, created, updated, pid."""
        return Registry().find(experiment_id)

    @staticmethod
    def get_all_experiments_metadata() -> list[dict]:
        """The registry entries of every experiment."""
        return Registry().all()

    def trials(self):
        """The trials as a query frame (``schema.QUERY_COLUMNS`` + ``trial``, ``status``,
        ``trial_job_id``, ``start_time``, ``end_time``, ``error``); best so far over the
        succeeded trials, by ``schema.carry_best``; ``analysis`` draws it directly."""
        import pandas as pd

        store = self._need_store()
        rows = store.trial_rows()
        meta = store.meta()
        f = pd.DataFrame(rows, columns=["trial", "query", "status", "key", "validation", "test", "told",
                                        "start_time", "end_time", "error"])
        ok = (f["status"] == "SUCCEEDED").to_numpy()
        v = np.where(ok, pd.to_numeric(f["validation"], errors="coerce").to_numpy(float), np.nan)
        t = np.where(ok, pd.to_numeric(f["test"], errors="coerce").to_numpy(float), np.nan)
        bv, bt, ot = carry_best(v, t)
        out = pd.DataFrame({"benchmark": meta.get("benchmark", self._bench_name() if self._objects else ""),
                            "agent": meta.get("strategy", ""), "seed": int(self.config.seed), "set": 0, "run": 0,
                            "query": f["query"].astype("int64"), "key": f["key"].fillna("").astype(str),
                            "validation": v, "test": t, "best_validation": bv, "best_test": bt, "oracle_test": ot,
                            "trial": f["trial"].astype("int64"), "status": f["status"].astype(str),
                            "trial_job_id": [job_id(x) for x in f["trial"]],
                            "start_time": f["start_time"], "end_time": f["end_time"], "error": f["error"]})
        return out[list(QUERY_COLUMNS) + ["trial", "status", "trial_job_id", "start_time", "end_time", "error"]]

    def widget(self, interval: float = 0.5, latest: int = 8):
        """An ipywidgets dashboard (status, counts by trial status, live best-so-far plot,
        latest trials) that refreshes while the experiment runs."""
        from .dashboard import ExperimentWidget

        return ExperimentWidget(self, interval=interval, latest=latest)


def _own_pid() -> int:
    import os

    return os.getpid()


def _alive(pid: int) -> bool:
    import os

    try:
        os.kill(int(pid), 0)
    except (OSError, ValueError):
        return False
    return True


def _is_one_shot(strategy) -> bool:
    """A one-shot strategy is named by a string of ``oneshot.names()``."""
    if not isinstance(strategy, str):
        return False
    from .. import oneshot

    return strategy in oneshot.names()


def _is_incremental(strategy) -> bool:
    from .protocol import is_incremental

    return is_incremental(strategy)


__all__ = ["Experiment", "evaluate_in_worker"]

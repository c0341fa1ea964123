"""Live trials as Ray tasks: the ``training_service="ray"`` engine of the Experiment.

:class:`RayTrials` has the interface of ``_workers.TrialProcesses`` (``free``, ``submit``,
``poll``, ``intermediate``, ``running``, ``kill``, ``shutdown``, ``max_workers``), so the
Experiment's live loop, its journal and its statuses are the same for both services; only
where a trial runs differs:

* every trial is one Ray task (``max_retries=0``: a trial runs once per submission) that
  asks for ``num_cpus=1`` and the GPUs of :func:`trial_resources`; Ray sets the task's
  ``CUDA_VISIBLE_DEVICES`` (a CPU trial gets an empty one, as a local worker does);
* at most ``max_workers`` (the experiment's ``trial_concurrency``) tasks are in flight;
* a trial that raises returns its traceback (FAILED with it); a task whose worker process
  dies (``WorkerCrashedError``, a node lost, out of memory) is FAILED naming the Ray error;
* ``kill`` and the ``trial_timeout`` cancel the task with ``ray.cancel(force=True)``,
  which kills its worker process; a task still queued is simply dropped;
* intermediate results (``_workers.report_intermediate_result``) and the moment a task
  starts reach the driver through a small metrics actor (no CPU reserved); a task hands
  them all over before it returns, so they are journalled before its outcome.

The function and its arguments are serialised in the driver (Ray's cloudpickle), so what
cannot be sent fails at :meth:`RayTrials.submit` with a TypeError.
"""
from __future__ import annotations

import numbers
import os
import time
import traceback
from dataclasses import dataclass
from typing import Any, Callable

from .._ray import init as ray_init
from ._workers import FAILED, SUCCEEDED, USER_CANCELED, Outcome, TrialEngine, _count
from .config import ConfigError


def trial_resources(trial_gpu_number: int, max_trial_number_per_gpu: int = 1) -> dict[str, float]:
    """The Ray resources of one trial: ``num_cpus`` 1 and ``num_gpus`` = ``trial_gpu_number``,
    or ``1 / max_trial_number_per_gpu`` when one-GPU trials share a GPU.

    >>> trial_resources(1, 4), trial_resources(2), trial_resources(0)
    ({'num_cpus': 1, 'num_gpus': 0.25}, {'num_cpus': 1, 'num_gpus': 2}, {'num_cpus': 1, 'num_gpus': 0})
    """
    for name, v, low in (("trial_gpu_number", trial_gpu_number, 0),
                         ("max_trial_number_per_gpu", max_trial_number_per_gpu, 1)):
        if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < low:
            raise ConfigError(f"{name} must be an integer >= {low}, got {v!r}")
    if trial_gpu_number == 1 and max_trial_number_per_gpu > 1:
        return {"num_cpus": 1, "num_gpus": 1.0 / max_trial_number_per_gpu}
    if trial_gpu_number > 1 and max_trial_number_per_gpu > 1:
        raise ConfigError(f"trial_gpu_number={trial_gpu_number} with max_trial_number_per_gpu="
                          f"{max_trial_number_per_gpu}: Ray shares a GPU only between one-GPU trials")
    return {"num_cpus": 1, "num_gpus": int(trial_gpu_number)}


class _Sink:
    """The metrics actor: tasks put ``("start", trial, t)`` and ``("metric", trial, value, t)``."""

    def __init__(self) -> None:
        self.items: list[tuple] = []

    def put(self, item: tuple) -> None:
        self.items.append(item)

    def flush(self) -> bool:
        """Called by a task before it returns: every earlier ``put`` of that task is in."""
        return True

    def drain(self) -> list[tuple]:
        items, self.items = self.items, []
        return items


class _Reporter:
    """``_workers._REPORTER`` inside a Ray task: sends what the trial reports to the sink."""

    def __init__(self, sink, trial_id: int) -> None:
        self.sink, self.trial_id = sink, trial_id

    def send(self, message: tuple) -> None:
        _, value, stamp = message
        self.sink.put.remote(("metric", self.trial_id, float(value), float(stamp)))


def _run_trial(payload: bytes, trial_id: int, sink, cpu_only: bool) -> tuple:
    """The Ray task: ``("result", value, start, gpus)`` or ``("error", traceback, start, gpus)``."""
    import ray
    from ray import cloudpickle

    from . import _workers

    start = time.time()
    sink.put.remote(("start", trial_id, start))
    saved = os.environ.get("CUDA_VISIBLE_DEVICES")
    if cpu_only:
        os.environ["CUDA_VISIBLE_DEVICES"] = ""
    try:
        gpus = tuple(int(g) if str(g).isdigit() else g for g in ray.get_gpu_ids())
    except Exception:  # noqa: BLE001 - informative only
        gpus = ()
    _workers._REPORTER = _Reporter(sink, trial_id)
    try:
        fn, args = cloudpickle.loads(payload)  # after CUDA_VISIBLE_DEVICES: this imports fn's module
        message = ("result", fn(*args), start, gpus)
    except BaseException:  # noqa: BLE001 - the trial's error, sent back as text
        message = ("error", traceback.format_exc(), start, gpus)
    finally:
        _workers._REPORTER = None
        if cpu_only:
            if saved is None:
                os.environ.pop("CUDA_VISIBLE_DEVICES", None)
            else:
                os.environ["CUDA_VISIBLE_DEVICES"] = saved
    ray.get(sink.flush.remote())  # the sink holds every metric of this trial before the outcome
    return message


@dataclass
class _Task:
    trial_id: int
    ref: Any
    submitted: float
    timeout: float | None
    start_time: float | None = None  # when the task began running (reported by the task)
    gpus: tuple = ()  # the GPU ids Ray gave the task


class RayTrials(TrialEngine):
    """Run trials as Ray tasks, at most ``max_workers`` at once (see the module docstring).

    ``resources``: from :func:`trial_resources`; ``address``: the cluster (``_ray.init``).
    Raises ConfigError when the cluster has fewer GPUs than one trial asks for.
    """

    #: ``poll`` waits at most this long per Ray wait, so timeouts and kills are seen while tasks run
    pump_slice = 0.5

    def __init__(self, max_workers: int, resources: dict[str, float] | None = None, address: str | None = None):
        self.max_workers = _count("max_workers", max_workers, 1)
        self.resources = dict(resources or trial_resources(0))
        ray = ray_init(address)
        self._ray = ray
        gpus = float(self.resources.get("num_gpus", 0) or 0)
        have = float(ray.cluster_resources().get("GPU", 0))
        if gpus > have:
            raise ConfigError(f"each trial asks for {gpus:g} GPU(s) (trial_gpu_number), but the Ray cluster has "
                              f"{have:g}; start its nodes with GPUs (`ray start --num-gpus N`) or set "
                              "trial_gpu_number=0")
        self._cpu_only = gpus == 0
        self._remote = ray.remote(max_retries=0, **self.resources)(_run_trial)
        self._sink = ray.remote(num_cpus=0)(_Sink).remote()
        self._running: dict[int, _Task] = {}
        self._done: list[Outcome] = []
        self._metrics: list[tuple[int, float, float]] = []
        self._closed = False

    @classmethod
    def from_config(cls, config) -> "RayTrials":
        """The engine of an ``ExperimentConfig`` with ``training_service="ray"``."""
        return cls(config.trial_concurrency, trial_resources(config.trial_gpu_number, config.max_trial_number_per_gpu),
                   config.ray_address)

    def free(self) -> int:
        """How many trials :meth:`submit` accepts now."""
        return max(0, self.max_workers - len(self._running))

    def submit(self, trial_id: int, fn: Callable[..., Any], args: tuple = (), timeout: float | None = None) -> None:
        """Run ``fn(*args)`` as trial ``trial_id`` in a Ray task; as ``TrialProcesses.submit``."""
        timeout = self._check_submit(trial_id, timeout)
        from ray import cloudpickle

        try:
            payload = cloudpickle.dumps((fn, tuple(args)))
        except Exception as e:
            raise TypeError(f"trial {trial_id}: the trial function and its arguments cannot be sent to a Ray "
                            f"worker: {type(e).__name__}: {e}") from e
        ref = self._remote.remote(payload, trial_id, self._sink, self._cpu_only)
        self._running[trial_id] = _Task(trial_id, ref, time.time(), timeout)

    def _collect(self) -> None:
        self._drain()

    def kill(self, trial_id: int, status: str = USER_CANCELED) -> bool:
        """Cancel a trial's task (its worker process is killed); False when it is not running."""
        task = self._running.get(trial_id)
        if task is None:
            return False
        self._cancel(task)
        self._finish(task, status, None, f"stopped by kill() ({status}); the Ray task was cancelled")
        return True

    def shutdown(self) -> None:
        """Cancel every trial in flight (USER_CANCELED) and refuse new ones."""
        if self._closed:
            return
        self._closed = True
        for task in list(self._running.values()):
            self._cancel(task)
            self._finish(task, USER_CANCELED, None, "the Ray task was cancelled: the engine was shut down")
        try:
            self._ray.kill(self._sink)
        except Exception:  # noqa: BLE001 - the actor is gone already
            pass

    # -- internals ----------------------------------------------------------------------
    def _cancel(self, task: _Task) -> None:
        try:
            self._ray.cancel(task.ref, force=True)
        except Exception:  # noqa: BLE001 - it ended meanwhile: its result is dropped
            pass

    def _drain(self) -> None:
        try:
            items = self._ray.get(self._sink.drain.remote())
        except Exception:  # noqa: BLE001 - the sink died (its node was lost): metrics are lost, trials are not
            return
        for item in items:
            task = self._running.get(item[1])
            if item[0] == "start":
                if task is not None:
                    task.start_time = item[2]
            else:
                self._metrics.append((item[1], item[2], item[3]))

    def _pump(self, timeout: float) -> None:
        if not self._running:
            return
        ray = self._ray
        by_ref = {t.ref: t for t in self._running.values()}
        ready, _ = ray.wait(list(by_ref), num_returns=1, timeout=timeout)
        if ready:
            ready, _ = ray.wait(list(by_ref), num_returns=len(by_ref), timeout=0)
        self._drain()
        for ref in ready:
            task = by_ref[ref]
            try:
                message = ray.get(ref)
            except ray.exceptions.RayTaskError as e:  # the task's own code failed outside the trial
                self._finish(task, FAILED, None, f"the Ray task failed: {e}")
                continue
            except ray.exceptions.RayError as e:  # WorkerCrashedError, node lost, out of memory, ...
                self._finish(task, FAILED, None, f"worker process died ({type(e).__name__}: {e}) before reporting "
                                                 "a result")
                continue
            kind, value, start, gpus = message
            task.start_time, task.gpus = start, tuple(gpus)
            if kind == "result":
                self._finish(task, SUCCEEDED, value, None)
            else:
                self._finish(task, FAILED, None, value)
        now = time.time()
        for task in list(self._running.values()):
            if task.timeout is not None and task.start_time is not None and now - task.start_time >= task.timeout:
                self._cancel(task)
                self._finish(task, FAILED, None, f"timed out after {task.timeout} s (killed)")

    def _finish(self, task: _Task, status: str, value: Any, error: str | None) -> None:
        self._running.pop(task.trial_id, None)
        start = task.start_time if task.start_time is not None else task.submitted
        self._done.append(Outcome(task.trial_id, status, value, error, start, time.time(), task.gpus))


__all__ = ["RayTrials", "trial_resources"]

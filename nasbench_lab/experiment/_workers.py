"""Live-training trials in worker processes, one process per trial, that end without hanging.

An NNI-style Experiment runs up to ``trial_concurrency`` trials at a time and places
each on ``trial_gpu_number`` GPUs, with at most ``max_trial_number_per_gpu`` trials per
GPU. This module runs those trials: :func:`gpu_slots` turns the GPU settings into
placements, and :class:`TrialProcesses` starts one ``multiprocessing`` process per trial.

Why one fresh process per trial, and never ``multiprocessing.Pool``:

* ``CUDA_VISIBLE_DEVICES`` only counts when it is set before CUDA starts in a process, so
  every trial needs a process of its own that sets it first (from the trial's placement)
  and only then unpickles and calls the trial function.
* A trial may have to be stopped (timeout, cancellation) or may die (out of memory,
  a segfault in a kernel). Killing a process of one's own is safe; ``Pool`` replaces a
  worker that dies and waits forever for the task it lost.
* A process that ends frees everything it held (GPU memory included) for the next trial.

The parent waits on each trial's pipe and process sentinel with
``multiprocessing.connection.wait``, so it notices a result, an intermediate value, a
process that died without a result (its exit code or signal is named) and a deadline,
and it joins every process it started. A process that lingers after sending its result
(a non-daemon thread left running, say) is stopped after a short grace and its result
kept. The trial function and its arguments are pickled in the parent, so a function the
workers could not find fails at :meth:`TrialProcesses.submit`; its return value must be
picklable too, or the trial is FAILED with a message saying so.

Inside a trial, :func:`report_intermediate_result` sends a value to the parent (NNI's
periodical metrics); :meth:`TrialProcesses.intermediate` collects them.

>>> import operator
>>> with TrialProcesses(max_workers=1, start_method="fork") as pool:
...     pool.submit(0, operator.add, (2, 3))
...     [(o.status, o.value) for o in pool.poll(timeout=10)]
[('SUCCEEDED', 5)]
"""
from __future__ import annotations

import math
import multiprocessing as mp
import numbers
import os
import pickle
import signal
import time
import traceback
import weakref
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Any, Callable, Iterable, Sequence

SUCCEEDED, FAILED, USER_CANCELED = "SUCCEEDED", "FAILED", "USER_CANCELED"

_REPORTER: Connection | None = None  # the pipe to the parent; set in a worker process only


@dataclass(frozen=True)
class Outcome:
    """How one trial ended.

    ``status`` is ``"SUCCEEDED"`` (``value`` is what the trial function returned),
    ``"FAILED"`` or the status given to :meth:`TrialProcesses.kill` (``value`` is None and
    ``error`` holds the traceback or the reason). Times are unix seconds; ``placement``
    is the tuple of GPU indices the trial saw (``()`` for a CPU trial).
    """

    trial_id: int
    status: str
    value: Any
    error: str | None
    start_time: float
    end_time: float
    placement: tuple[int, ...]


def _count(name: str, value: Any, least: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < least:
        raise ValueError(f"{name} must be an integer >= {least}, got {value!r}")
    return int(value)


def gpu_slots(gpu_indices: Sequence[int] | None, trial_gpu_number: int,
              max_trial_number_per_gpu: int = 1) -> list[tuple[int, ...]]:
    """Placements for concurrent trials: one tuple of GPU indices per slot.

    ``trial_gpu_number=0`` gives ``[()]``, the CPU placement, which any number of trials
    share (``CUDA_VISIBLE_DEVICES=""``). Otherwise ``gpu_indices`` is split in order into
    groups of ``trial_gpu_number`` distinct GPUs (GPUs left over are not used) and each
    group is one slot ``max_trial_number_per_gpu`` times, so no GPU serves more trials at
    once than that. Raises ValueError for negative or duplicate indices, a negative
    ``trial_gpu_number``, one above ``len(gpu_indices)`` or without any GPUs, and a
    ``max_trial_number_per_gpu`` below 1.

    >>> gpu_slots([0, 1], trial_gpu_number=1, max_trial_number_per_gpu=2)
    [(0,), (1,), (0,), (1,)]
    >>> gpu_slots([0, 1, 2, 3], trial_gpu_number=2)
    [(0, 1), (2, 3)]
    """
    gpus = [_count("each of gpu_indices", g, 0) for g in (gpu_indices or ())]
    k = _count("trial_gpu_number", trial_gpu_number, 0)
    per_gpu = _count("max_trial_number_per_gpu", max_trial_number_per_gpu, 1)
    if len(set(gpus)) != len(gpus):
        raise ValueError(f"gpu_indices has duplicates: {gpus}")
    if k == 0:
        return [()]
    if not gpus:
        raise ValueError(f"trial_gpu_number={k} needs GPUs, but no gpu_indices were given")
    if k > len(gpus):
        raise ValueError(f"trial_gpu_number={k} is more than the {len(gpus)} GPU(s) in gpu_indices={gpus}")
    groups = [tuple(gpus[i:i + k]) for i in range(0, len(gpus) - k + 1, k)]
    return groups * per_gpu


def report_intermediate_result(value: float) -> bool:
    """Send ``float(value)`` (an intermediate metric) from a running trial to the parent.

    Returns True inside a worker of :class:`TrialProcesses`. Outside one (the trial
    function called directly, in a test or a notebook) it does nothing and returns False,
    so trial code can report unconditionally. Call it from the trial's main thread.
    """
    if _REPORTER is None:
        return False
    _REPORTER.send(("metric", float(value), time.time()))
    return True


def _child_main(conn: Connection, payload: bytes, placement: tuple[int, ...]) -> None:
    """Worker body: set the GPUs, run the trial, send ``("result", value)`` or ``("error", text)``."""
    global _REPORTER
    os.environ["CUDA_VISIBLE_DEVICES"] = ",".join(map(str, placement))
    _REPORTER = conn
    try:
        fn, args = pickle.loads(payload)  # after CUDA_VISIBLE_DEVICES: this imports fn's module
        message = ("result", fn(*args))
    except BaseException:
        message = ("error", traceback.format_exc())
    _REPORTER = None
    try:
        conn.send(message)
    except Exception as e:  # an unpicklable return value: nothing was written yet
        conn.send(("error", f"the trial returned a {type(message[1]).__name__}, which cannot be sent back to "
                            f"the parent process: {type(e).__name__}: {e}"))
    conn.close()


def _stop(processes: Iterable[Any], grace: float) -> None:
    """Terminate the processes, kill those still alive after ``grace`` seconds, join all."""
    processes = list(processes)
    for p in processes:
        if p.is_alive():
            p.terminate()
    end = time.monotonic() + grace
    for p in processes:
        p.join(max(0.0, end - time.monotonic()))
    for p in processes:
        if p.is_alive():
            p.kill()
        p.join()


def _died(exitcode: int, start_method: str) -> str:
    how = f"exit code {exitcode}"
    if exitcode < 0:
        try:
            how += f" / signal {signal.Signals(-exitcode).name}"
        except ValueError:
            how += f" / signal {-exitcode}"
    hint = ""
    if exitcode == 1 and start_method != "fork":
        hint = (f"; a {start_method} worker also ends this way when it cannot import the main module or the "
                "main module submits trials outside an `if __name__ == \"__main__\":` guard (see its stderr)")
    return f"worker process died ({how}) before reporting a result{hint}"


@dataclass
class _Trial:
    trial_id: int
    process: Any
    conn: Connection | None  # None once the pipe reached end of file
    slot: int | None  # index into the placements; None for the shared CPU placement
    placement: tuple[int, ...]
    start_time: float
    timeout: float | None
    deadline: float  # time.monotonic() at which the process is stopped
    message: tuple | None = None  # ("result", value) or ("error", text), once received


def _stop_all(running: dict[int, _Trial], grace: float) -> None:
    _stop((t.process for t in running.values()), grace)
    for t in running.values():
        if t.conn is not None:
            t.conn.close()
    running.clear()


class TrialEngine:
    """What the live loop of an Experiment drives: ``free``, ``submit``, ``poll``,
    ``intermediate``, ``kill``, ``shutdown``, ``running`` and ``with``.

    Subclasses (:class:`TrialProcesses`, ``_ray.RayTrials``) keep ``max_workers``, the
    running trials in ``_running``, finished outcomes in ``_done`` and intermediate values in
    ``_metrics``, and implement ``_pump(timeout)`` (wait up to ``timeout`` seconds for news),
    ``_collect()`` (gather intermediate values without waiting), ``free``, ``submit``,
    ``kill`` and ``shutdown``.
    """

    #: the longest single wait of :meth:`poll` (seconds)
    pump_slice = math.inf
    max_workers: int
    _running: dict
    _done: list
    _metrics: list
    _closed: bool

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.shutdown()

    def running(self) -> list[int]:
        """Ids of the trials submitted and not yet collected."""
        return list(self._running)

    def _check_submit(self, trial_id: int, timeout: float | None) -> float | None:
        """The checks every ``submit`` makes; the timeout as float seconds (or None)."""
        if self._closed:
            raise RuntimeError("the trial engine is shut down")
        if trial_id in self._running:
            raise ValueError(f"trial {trial_id} is already running")
        if self.free() < 1:
            raise RuntimeError("no free worker or GPU slot; poll() until a trial ends, or check free() first")
        if timeout is not None and not timeout > 0:
            raise ValueError(f"timeout must be positive seconds or None, got {timeout!r}")
        return None if timeout is None else float(timeout)

    def poll(self, timeout: float | None = 0.1) -> list[Outcome]:
        """Outcomes of the trials that ended since the last call, in the order they ended.

        Waits up to ``timeout`` seconds (None: without limit) for at least one, and
        returns at once when nothing runs. A trial's intermediate values are all
        collected before its outcome, so call :meth:`intermediate` after this to get them.
        """
        end = math.inf if timeout is None else time.monotonic() + timeout
        while True:
            self._pump(max(0.0, min(end - time.monotonic(), self.pump_slice)))
            if self._done or not self._running or time.monotonic() >= end:
                break
        done, self._done = self._done, []
        return done

    def intermediate(self) -> list[tuple[int, float, float]]:
        """``(trial_id, value, unix time)`` reported by the trials since the last call, in order."""
        self._collect()
        metrics, self._metrics = self._metrics, []
        return metrics

    def free(self) -> int:  # pragma: no cover - abstract
        raise NotImplementedError

    def shutdown(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _pump(self, timeout: float) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _collect(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError


class TrialProcesses(TrialEngine):
    """Run trials concurrently, one process each, on at most ``max_workers`` processes.

    ``placements`` (from :func:`gpu_slots`; default ``[()]``, CPU only) are the GPU slots:
    a running trial holds one, its process sees only those GPUs, and the slot is free
    again once the pool notices the trial ended. A CPU placement ``()`` limits nothing.
    ``start_method`` is ``"spawn"``, ``"fork"`` or ``"forkserver"``; ``grace`` is how
    long a stopped process may take to exit on SIGTERM before it gets SIGKILL.

    Call :meth:`poll` regularly: it collects results and intermediate values, and stops
    trials past their timeout. Processes still running are stopped by :meth:`shutdown`,
    at the end of a ``with`` block, when the pool is garbage-collected and at exit.
    """

    def __init__(self, max_workers: int, placements: Sequence[Sequence[int]] | None = None,
                 start_method: str = "spawn", grace: float = 1.0):
        self.max_workers = _count("max_workers", max_workers, 1)
        self.placements = [tuple(int(g) for g in p) for p in (placements if placements is not None else [()])]
        if not self.placements:
            raise ValueError("placements is empty: give at least one (gpu_slots() makes them)")
        if any(self.placements) and not all(self.placements):
            raise ValueError(f"placements mix CPU () and GPU slots: {self.placements}")
        self.start_method = start_method
        self.grace = float(grace)
        self._ctx = mp.get_context(start_method)  # ValueError for an unknown method
        self._cpu = not self.placements[0]
        self._running: dict[int, _Trial] = {}
        self._done: list[Outcome] = []
        self._metrics: list[tuple[int, float, float]] = []
        self._closed = False
        self._finalizer = weakref.finalize(self, _stop_all, self._running, self.grace)

    def free(self) -> int:
        """How many trials :meth:`submit` accepts now: free workers, capped by free GPU slots."""
        workers = self.max_workers - len(self._running)
        if self._cpu:
            return workers
        return min(workers, len(self.placements) - len(self._running))

    def submit(self, trial_id: int, fn: Callable[..., Any], args: tuple = (), timeout: float | None = None) -> None:
        """Start ``fn(*args)`` as trial ``trial_id`` in a new process on a free placement.

        ``fn`` and ``args`` must be picklable (``fn`` a module-level function), else
        TypeError; ``timeout`` (seconds, None for none) stops the trial as FAILED.
        Raises RuntimeError when :meth:`free` is 0 or the pool is shut down, ValueError
        for an id that is already running.
        """
        timeout = self._check_submit(trial_id, timeout)
        try:
            payload = pickle.dumps((fn, tuple(args)))
        except Exception as e:
            raise TypeError(f"trial {trial_id}: fn and args must be picklable (fn a module-level function) to run "
                            f"in a worker process: {type(e).__name__}: {e}") from e
        slot = None if self._cpu else self._free_slot()
        placement = () if slot is None else self.placements[slot]
        reader, writer = self._ctx.Pipe(duplex=False)
        process = self._ctx.Process(target=_child_main, args=(writer, payload, placement), name=f"trial-{trial_id}")
        start_time = time.time()
        try:
            process.start()
        except BaseException:
            reader.close()
            raise
        finally:
            writer.close()  # the child holds the only writer now
        deadline = math.inf if timeout is None else time.monotonic() + timeout
        self._running[trial_id] = _Trial(trial_id, process, reader, slot, placement, start_time, timeout, deadline)

    def _free_slot(self) -> int:
        """The free slot whose GPUs serve the fewest running trials (the first such)."""
        busy = {t.slot for t in self._running.values()}
        load: dict[int, int] = {}
        for s in busy:
            for g in self.placements[s]:
                load[g] = load.get(g, 0) + 1
        free = [s for s in range(len(self.placements)) if s not in busy]
        return min(free, key=lambda s: (sum(load.get(g, 0) for g in self.placements[s]), s))

    def _collect(self) -> None:
        self._pump(0.0)

    def kill(self, trial_id: int, status: str = USER_CANCELED) -> bool:
        """Stop a running trial; the next :meth:`poll` returns its outcome with ``status``.

        Returns False (and does nothing) when the trial is not running.
        """
        trial = self._running.get(trial_id)
        if trial is None:
            return False
        self._read(trial)
        _stop([trial.process], self.grace)
        self._finish(trial, status, None, f"stopped by kill() ({status}); the worker process was killed")
        return True

    def shutdown(self) -> None:
        """Stop every running trial (their outcomes: USER_CANCELED) and refuse new ones."""
        self._closed = True
        trials = list(self._running.values())
        _stop((t.process for t in trials), self.grace)
        for t in trials:
            self._finish(t, USER_CANCELED, None, "the worker process was killed: the pool was shut down")
        self._finalizer.detach()

    def _pump(self, timeout: float) -> None:
        """Wait up to ``timeout`` seconds for activity, then handle messages, exits and deadlines."""
        if not self._running:
            return
        nearest = min(t.deadline for t in self._running.values()) - time.monotonic()
        timeout = max(0.0, min(timeout, nearest))
        waitables: dict[Any, _Trial] = {}
        for t in self._running.values():
            waitables[t.process.sentinel] = t
            if t.conn is not None:
                waitables[t.conn] = t
        ready = wait(list(waitables), None if math.isinf(timeout) else timeout)
        for obj in ready:
            if isinstance(obj, Connection):
                self._read(waitables[obj])
        for obj in ready:
            if not isinstance(obj, Connection):  # a process ended
                t = waitables[obj]
                t.process.join()
                self._read(t)
                self._finish_from_message(t, _died(t.process.exitcode, self.start_method))
        now = time.monotonic()
        for t in [t for t in self._running.values() if t.deadline <= now]:
            self._read(t)
            _stop([t.process], self.grace)
            self._finish_from_message(t, f"timed out after {t.timeout} s (killed)")

    def _read(self, trial: _Trial) -> None:
        """Take every message already in the trial's pipe."""
        while trial.conn is not None and trial.conn.poll():
            try:
                message = trial.conn.recv()
            except (EOFError, OSError):
                trial.conn.close()
                trial.conn = None
                break
            except Exception:  # the bytes arrived, but this process cannot unpickle them
                message = ("error", "the parent process could not unpickle the trial's message:\n"
                           + traceback.format_exc())
            if message[0] == "metric":
                self._metrics.append((trial.trial_id, message[1], message[2]))
            else:
                trial.message = message
                trial.deadline = min(trial.deadline, time.monotonic() + self.grace)  # time to exit

    def _finish_from_message(self, trial: _Trial, reason: str) -> None:
        """End a trial with its received result or error, else FAILED with ``reason``."""
        if trial.message is None:
            self._finish(trial, FAILED, None, reason)
        elif trial.message[0] == "result":
            self._finish(trial, SUCCEEDED, trial.message[1], None)
        else:
            self._finish(trial, FAILED, None, trial.message[1])

    def _finish(self, trial: _Trial, status: str, value: Any, error: str | None) -> None:
        self._running.pop(trial.trial_id, None)
        trial.process.join()
        if trial.conn is not None:
            trial.conn.close()
            trial.conn = None
        self._done.append(Outcome(trial.trial_id, status, value, error, trial.start_time, time.time(),
                                  trial.placement))


__all__ = ["Outcome", "TrialProcesses", "gpu_slots", "report_intermediate_result",
           "SUCCEEDED", "FAILED", "USER_CANCELED"]

"""Process pools that finish or fail, never hang: the one helper every parallel build uses.

``multiprocessing.Pool`` replaces a worker that dies and waits forever for the task it
lost; under the ``spawn`` start method a worker also dies at once when the main module
cannot be re-imported (code read from standard input, ``python -c``) or re-runs a pool
of its own (a script without an ``if __name__ == "__main__":`` guard). :func:`imap`
therefore uses ``concurrent.futures.ProcessPoolExecutor``, which reports a dead worker
as ``BrokenProcessPool``, and:

* runs in this process from the start when ``spawn`` workers could not import the main
  module (:func:`spawn_is_safe`);
* refuses, with a clear message, to start a pool inside a worker that is still
  importing the main module (the unguarded-script case);
* when the pool breaks anyway, warns (``PoolFallbackWarning``, naming the cause) and
  computes the items that are still missing in this process.

>>> list(imap(abs, [-1, -2, 3], workers=1))
[1, 2, 3]
"""
from __future__ import annotations

import multiprocessing as mp
import os
import pickle
import sys
import warnings
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Callable, Iterable, Iterator


class PoolFallbackWarning(RuntimeWarning):
    """A process pool could not be used; the work ran (or continues) in this process."""


def spawn_is_safe() -> bool:
    """Whether ``spawn`` workers can re-import the main module.

    True for ``python -m``, a script file, ``python -c`` and notebooks (nothing to import);
    False when the main module names a file that does not exist (``python -`` reading
    standard input names ``<stdin>``).
    """
    main = sys.modules.get("__main__")
    if main is None or getattr(main, "__spec__", None) is not None:
        return True
    path = getattr(main, "__file__", None)
    return path is None or os.path.isfile(path)


def _in_bootstrapping_worker() -> bool:
    """True inside a spawned worker that is still importing the main module."""
    return bool(getattr(mp.current_process(), "_inheriting", False))


def imap(fn: Callable[[Any], Any], items: Iterable[Any], workers: int, *, start_method: str = "spawn",
         ordered: bool = True, desc: str = "pool") -> Iterator[Any]:
    """Yield ``fn(item)`` for every item, over ``workers`` processes where that is safe.

    ``ordered=False`` yields results as they finish. ``fn`` must be a module-level
    function (and the items picklable) for ``spawn``; ``fork`` workers inherit the
    parent's memory. The pool is shut down (pending items cancelled) when the consumer
    stops early.
    """
    items = list(items)
    workers = int(workers)
    if start_method not in mp.get_all_start_methods():
        workers = 1
    if workers > 1 and _in_bootstrapping_worker():
        raise RuntimeError(
            f"{desc}: a worker process is re-importing the main script and reached code that starts "
            "another process pool; put the script's code under `if __name__ == \"__main__\":` (or pass "
            "workers=1)")
    if workers > 1 and start_method == "spawn" and not spawn_is_safe():
        workers = 1  # the workers could not import the main module: no pool at all
    if workers <= 1 or len(items) <= 1:
        for it in items:
            yield fn(it)
        return
    done: dict[int, Any] = {}  # ordered: finished results waiting for their turn
    yielded: set[int] = set()
    nxt = 0  # ordered: the next item to yield
    broken: BaseException | None = None
    ex = ProcessPoolExecutor(min(workers, len(items)), mp_context=mp.get_context(start_method))
    queue = iter(enumerate(items))
    futures: dict = {}

    def submit_next() -> None:
        # an item is pickled here, just before it is submitted: one that cannot be pickled is a
        # clear error in this process (in the executor's feeder thread it can leave
        # ``shutdown`` waiting forever on Python 3.11), and only the items in flight are held
        # pickled (a few per worker)
        for k, it in queue:
            futures[ex.submit(_call, fn, _pickled(it, k, desc))] = k
            return

    try:
        for _ in range(2 * workers):
            submit_next()
        while futures:
            finished, _ = wait(futures, return_when=FIRST_COMPLETED)
            for f in finished:
                k = futures.pop(f)
                result = f.result()  # BrokenProcessPool when a worker died
                if ordered:
                    done[k] = result
                else:
                    yielded.add(k)
                    yield result
                submit_next()
            while nxt in done:
                yielded.add(nxt)
                yield done.pop(nxt)
                nxt += 1
        return
    except BrokenProcessPool as e:
        broken = e
    finally:
        ex.shutdown(wait=True, cancel_futures=True)
    warnings.warn(f"{desc}: a worker process died ({broken}); computing the remaining items in this "
                  "process", PoolFallbackWarning, stacklevel=2)
    for k, it in enumerate(items):
        if k not in yielded:
            yield done.pop(k) if k in done else fn(it)


_SHARED: dict = {}  # fork_map's state for its workers (inherited at fork, never pickled)


def shared() -> dict:
    """Inside a :func:`fork_map` function: the ``state`` the map was given."""
    return _SHARED


def fork_map(fn: Callable[[Any], Any], items: Iterable[Any], workers: int, state: dict, *,
             desc: str = "pool", progress: bool = False) -> list[Any]:
    """``[fn(item) for item in items]`` over ``workers`` forked processes (:func:`imap`)
    that read large read-only ``state`` (e.g. a loaded enumeration) through :func:`shared`
    instead of receiving it pickled; ``progress`` shows a tqdm bar of ``desc``."""
    items = list(items)
    _SHARED.clear()
    _SHARED.update(state)
    try:
        results = imap(fn, items, workers, start_method="fork", desc=desc)
        if progress:
            from tqdm.auto import tqdm

            results = tqdm(results, total=len(items), desc=desc, unit="chunk")
        return list(results)
    finally:
        _SHARED.clear()


def _pickled(item: Any, k: int, desc: str) -> bytes:
    try:
        return pickle.dumps(item, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as e:  # noqa: BLE001 - every pickling failure says which item
        raise TypeError(f"{desc}: item {k} cannot be sent to a worker process ({type(e).__name__}: {e}); "
                        "pass picklable items, or workers=1") from e


def _call(fn: Callable[[Any], Any], payload: bytes) -> Any:
    return fn(pickle.loads(payload))


__all__ = ["imap", "fork_map", "shared", "spawn_is_safe", "PoolFallbackWarning"]

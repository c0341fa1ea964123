"""The base of the benchmarks that train what they are asked (live training).

:class:`TrainedBenchmark` holds the rule both live benchmarks share: a query reads every
(architecture, seed) result from the SQLite :class:`~.store.ResultStore` (keyed by arch key,
seed and the training configuration's digest), trains the missing seeds, commits each
finished batch at once (an interrupted run loses only the training in progress), and
answers the seed means (the denoised setting) with the per-seed values in ``extra``.

A subclass says only how to train: ``_train(arch, seeds)`` yields lists of
``(seed, record)`` (one list per batch it trains together); a record holds at least
``validation_accuracy``, ``test_accuracy``, ``training_time`` and ``parameters``.

* :class:`~.moons.MoonsTrainer`: MLP chains on HalfMoons, all missing seeds in one batch;
* :class:`~.live.LiveBenchmark`: cell networks with Lightning, one seed at a time.
"""
from __future__ import annotations

from typing import Any, Iterator, Sequence

import numpy as np

from .base import Benchmark, Metrics
from .store import ResultStore


class TrainedBenchmark(Benchmark):
    """Fetch from the store, train the missing seeds, average over seeds (module docstring).

    ``seeds``: the seeds a query trains and averages (``query(arch, seeds=(4,))`` asks for
    others); ``store``: a ``ResultStore``, its path, or None for the default file; ``cache``
    False keeps no store (every query trains). ``trained`` counts the runs this object
    performed (results read from the store do not count).

    ``Metrics``: validation/test accuracy = seed means; ``training_time`` = mean seconds of
    one run; ``parameters``; ``extra``: ``validation_per_seed``, ``test_per_seed`` (arrays
    over the seeds) and ``cached`` (how many seeds were read from the store).
    """

    live = True

    def __init__(self, seeds: Sequence[int], digest: str, store: ResultStore | str | None = None,
                 cache: bool = True) -> None:
        super().__init__()
        self.seeds = tuple(int(s) for s in seeds)
        if not self.seeds:
            raise ValueError(f"{type(self).__name__} needs at least one seed")
        self.digest = digest
        self.store = (store if isinstance(store, ResultStore) else ResultStore(store)) if cache else None
        self.trained = 0

    def _train(self, arch: Any, seeds: list[int]) -> Iterator[list[tuple[int, dict]]]:
        """Train ``arch`` once per seed of ``seeds``; yield ``[(seed, record), ...]`` per batch."""
        raise NotImplementedError

    def records(self, arch: Any, seeds: Sequence[int] | None = None) -> list[dict]:
        """One record per seed (``self.seeds`` by default), read from the store or trained and
        committed; each carries ``cached``: whether it was read from the store."""
        key = self.key(arch)
        seeds = self.seeds if seeds is None else tuple(int(s) for s in seeds)
        found = {}
        if self.store is not None:
            found = {s: rec for s in seeds if (rec := self.store.get(key, s, self.digest)) is not None}
        cached = set(found)
        missing = [s for s in dict.fromkeys(seeds) if s not in found]
        if missing:
            for batch in self._train(arch, missing):
                if self.store is not None:
                    self.store.put_many([(key, s, rec) for s, rec in batch], self.digest)
                found.update(batch)
                self.trained += len(batch)
        return [dict(found[s], cached=s in cached) for s in seeds]

    def _lookup(self, archs: Sequence[Any], **options) -> Metrics:
        seeds = options.get("seeds")
        n, s = len(archs), len(self.seeds if seeds is None else tuple(seeds))
        val, test, t = np.full((n, s), np.nan), np.full((n, s), np.nan), np.full((n, s), np.nan)
        params, cached = np.zeros(n), np.zeros(n, dtype=np.int64)
        for i, arch in enumerate(archs):
            for j, rec in enumerate(self.records(arch, seeds)):
                val[i, j], test[i, j] = rec["validation_accuracy"], rec["test_accuracy"]
                t[i, j], params[i] = rec["training_time"], rec["parameters"]
                cached[i] += rec["cached"]
        return Metrics(validation_accuracy=val.mean(axis=1), test_accuracy=test.mean(axis=1),
                       training_time=t.mean(axis=1), parameters=params,
                       extra={"validation_per_seed": val, "test_per_seed": test, "cached": cached})


__all__ = ["TrainedBenchmark"]

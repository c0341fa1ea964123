"""The one runner: any strategy against any evaluator under a query budget.

``run(strategy, benchmark, budget, seed=0)`` returns one search run as a query frame
(``schema.QUERY_COLUMNS``: one row per query, best so far carried by
``schema.carry_best``), whatever the kind of strategy:

* a multi-trial strategy (``ask``/``tell``: random search, REINFORCE, ...) is asked,
  its architecture queried and the result told, ``budget`` times (:func:`trials` yields
  these trials one by one; the Experiment journals them);
* an incremental agent (``act``: random walk, local search, Ape-X, ...) runs through the
  paper's protocol (:mod:`.protocol`): episodes from initial states drawn with the space's
  sampler, queries charged as §4.1.2, until the budget is spent.

``strategy`` is a registry name, a class (both built ``cls(space, seed=seed, **options)``)
or a ready instance. ``benchmark`` is anything with ``query`` and ``space`` (tabular,
surrogate, live training, proxy), or a registry name loaded with ``benchmark_options``.
A failed query (NaN validation, see ``strategies.base``) is told as such and stays in the
frame; it never becomes the best.

>>> import nasbench_lab as nl                                              # doctest: +SKIP
>>> frame = nl.experiment.run("local_search", nl.benchmarks.load("moons"), 100)  # doctest: +SKIP
>>> frame.best_test.iloc[-1]                                               # doctest: +SKIP
"""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Any, Iterator

import numpy as np

from ..schema import QUERY_COLUMNS, carry_best
from .protocol import ProtocolConfig, conform, is_incremental, run_protocol


def resolve_benchmark(benchmark: Any, options: dict | None = None):
    """A Benchmark object: ``benchmark`` itself, or the registry name loaded with
    ``options`` (``path`` and the loader's keywords)."""
    if isinstance(benchmark, str):
        from .. import benchmarks

        options = dict(options or {})
        path = options.pop("path", None)
        return benchmarks.load(benchmark, path, **options)
    if benchmark is None or not hasattr(benchmark, "query"):
        raise TypeError(f"expected a benchmark (an object with .query) or its name, got {benchmark!r}")
    return benchmark


def strategy_class(strategy: Any):
    """The class of ``strategy`` (a registry name or a class)."""
    if isinstance(strategy, str):
        from .. import strategies

        return strategies.get(strategy)
    if isinstance(strategy, type):
        return strategy
    raise TypeError(f"expected a strategy name or class, got {strategy!r}")


def build_strategy(strategy: Any, space: Any, seed: int = 0, options: dict | None = None):
    """``strategy`` ready to run: an instance as it is, else ``cls(space, seed=seed, **options)``.

    Raises ``ValueError`` naming the strategy and the space when it does not fit it.
    """
    if not isinstance(strategy, (str, type)):
        if options:
            raise ValueError("strategy_options apply to a strategy name or class, not to a ready instance")
        return strategy
    cls = strategy_class(strategy)
    try:
        return cls(space, seed=seed, **(options or {}))
    except (TypeError, ValueError) as e:
        name = strategy if isinstance(strategy, str) else cls.__name__
        raise ValueError(f"strategy {name!r} does not fit the {getattr(space, 'name', space)!r} space "
                         f"(or its options {sorted(options or {})}): {e}") from e


def strategy_label(strategy: Any) -> str:
    if isinstance(strategy, str):
        return strategy
    return getattr(strategy, "label", None) or getattr(strategy, "name", None) or type(strategy).__name__


@dataclass
class Trial:
    """One evaluated architecture of a multi-trial search."""

    index: int
    """1-based trial number."""
    arch: Any
    """the architecture asked for."""
    key: str
    """its key in the space."""
    metrics: Any
    """what the evaluator returned (``Metrics``)."""

    @property
    def validation(self) -> float:
        return float(getattr(self.metrics, "validation_accuracy", self.metrics))

    @property
    def test(self) -> float:
        return float(getattr(self.metrics, "test_accuracy", math.nan))


def trials(strategy, benchmark, budget: int, start: int = 1) -> Iterator[Trial]:
    """Ask, query, tell: yields each ``Trial`` after the strategy was told its result; ends
    early when the strategy has nothing more to ask (``ask`` raises StopIteration)."""
    space = getattr(benchmark, "space", None) or getattr(strategy, "space", None)
    for index in range(int(start), int(budget) + 1):
        try:
            arch = strategy.ask()
        except StopIteration:  # nothing more to ask (a finite space exhausted): the search ends
            return
        metrics = benchmark.query(arch)
        strategy.tell(arch, metrics)
        key = space.key(arch) if space is not None else benchmark.key(arch)
        yield Trial(index, arch, key, metrics)


def query_rows(validation, test, keys, *, benchmark: str, agent: str, seed: int = 0, set_index: int = 0,
               run: int = 0):
    """A query frame (``QUERY_COLUMNS``) from per-query ``validation``, ``test`` and ``keys``."""
    import pandas as pd

    v = np.asarray(validation, dtype=np.float64)
    t = np.asarray(test, dtype=np.float64)
    bv, bt, ot = carry_best(v, t)
    frame = pd.DataFrame({"benchmark": benchmark, "agent": agent, "seed": int(seed), "set": int(set_index),
                          "run": int(run), "query": np.arange(1, len(v) + 1, dtype=np.int64),
                          "key": [str(k) for k in keys], "validation": v, "test": t,
                          "best_validation": bv, "best_test": bt, "oracle_test": ot})
    return conform(frame, QUERY_COLUMNS)


def run(strategy: Any, benchmark: Any, budget: int, *, seed: int = 0, space: Any = None,
        strategy_options: dict | None = None, benchmark_options: dict | None = None,
        protocol: ProtocolConfig | None = None, label: str | None = None, progress: bool = False):
    """One search run of ``budget`` queries as a query frame (see the module docstring).

    ``protocol`` sets the environment of incremental agents (episode length, shown
    neighbours, reward shaping); its sizes are replaced by one set of as many initial
    states as the budget needs, drawn with ``initial_seed = seed``, so another seed is
    another search. ``label`` names the run's ``agent``.
    """
    budget = int(budget)
    if budget < 1:
        raise ValueError(f"budget must be a positive number of queries, got {budget}")
    bench = resolve_benchmark(benchmark, benchmark_options)
    space = space if space is not None else bench.space
    label = label or strategy_label(strategy)
    bench_name = getattr(bench, "name", "benchmark")
    incremental = is_incremental(strategy if not isinstance(strategy, str) else strategy_class(strategy))
    if not incremental:
        s = build_strategy(strategy, space, seed, strategy_options)
        it = trials(s, bench, budget)
        if progress:
            from tqdm.auto import tqdm

            it = tqdm(it, total=budget, desc=label, unit="trial")
        done = list(it)
        return query_rows([t.validation for t in done], [t.test for t in done], [t.key for t in done],
                          benchmark=bench_name, agent=label, seed=seed)
    return _incremental_run(strategy, bench, space, budget, seed, strategy_options, protocol, label, progress)


def _incremental_run(strategy, bench, space, budget, seed, options, protocol, label, progress):
    """The first search run of the protocol on one set of initial states drawn from
    ``seed``; the set grows until its episodes charge the budget."""
    import dataclasses
    import warnings

    base = protocol or ProtocolConfig()
    if isinstance(strategy, (str, type)):
        factory = (lambda sp, seed, _s=strategy: build_strategy(_s, sp, seed, options))
        agents = {label: factory}
        charged = getattr(strategy_class(strategy), "counts_neighbour_queries", False)
    else:
        agents = {label: (lambda sp, seed, _a=strategy: _a)}
        charged = getattr(strategy, "counts_neighbour_queries", False)
    # one query per episode: ``budget`` episodes make one run; an agent charged every shown
    # neighbour spends the budget in far fewer episodes, so start small and grow
    size = max(1, budget // base.n_neighbours) if charged else budget
    for _ in range(12):
        cfg = dataclasses.replace(base, n_sets=1, set_size=size, budget=budget, seeds=(int(seed),),
                                  initial_seed=int(seed))
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*fewer than one run of budget.*")
            result = run_protocol(bench, agents, cfg, progress=progress, space=space)
        q = result.queries
        if len(q):
            return conform(q[q["run"] == 0], QUERY_COLUMNS)
        size *= 4
    raise RuntimeError(f"{label}: {size} episodes charged fewer than {budget} queries")


def compare(strategies, benchmark: Any, budget: int, seeds=range(10), *, strategy_options: dict | None = None,
            protocol: ProtocolConfig | None = None, workers: int = 1, progress: bool = False):
    """Every strategy of ``strategies`` for every seed, one search of ``budget`` queries each,
    as one query frame (the input of ``analysis``: best-so-far curves, tables, ranks).

    ``strategies``: registry names, classes or ready instances (a trained Ape-X agent,
    say; every run starts from a copy of it, as it was given). ``strategy_options``: ``{name: {...}}`` hyperparameters per strategy.

    ``workers > 1`` spreads the runs over that many processes (``_parallel.imap``: a dead
    worker is reported and its runs are computed here, never waited for). Every run
    depends on its strategy and seed only, so the frame is the same for any ``workers``.
    Each run uses one torch / BLAS thread: the strategies' networks are tiny, and
    threads fighting over the cores slow them down.

    >>> frame = compare(["random_search", "regularized_evolution"], bench, 300, seeds=range(100))  # doctest: +SKIP
    """
    import pandas as pd

    from .._parallel import imap

    bench = resolve_benchmark(benchmark)
    seeds = [int(s) for s in seeds]
    if not seeds:
        raise ValueError("compare needs at least one seed")
    workers = max(1, int(workers))
    # a few chunks per strategy and worker: the slow strategies (TPE, PPO) spread over every worker
    size = max(1, -(-len(seeds) // (4 * workers))) if workers > 1 else len(seeds)
    chunks = [(s, bench, seeds[i: i + size], int(budget), (strategy_options or {}).get(strategy_label(s)), protocol)
              for s in strategies for i in range(0, len(seeds), size)]
    it = imap(_compare_chunk, chunks, workers, desc="compare")
    if progress:
        from tqdm.auto import tqdm

        it = tqdm(it, total=len(chunks), desc=f"compare ({len(seeds)} seeds per strategy)", unit="chunk")
    frames = [f for chunk in it for f in chunk]
    return conform(pd.concat(frames, ignore_index=True), QUERY_COLUMNS)


def _compare_chunk(job) -> list:
    """The runs of one strategy for a few seeds (a pool task of :func:`compare`)."""
    from threadpoolctl import threadpool_limits

    from ..device import torch_threads

    strategy, bench, seeds, budget, options, protocol = job
    ready = not isinstance(strategy, (str, type))
    with torch_threads(1), threadpool_limits(1):
        # a ready instance starts every run as it was given (a copy per run), whatever the chunking
        return [run(copy.deepcopy(strategy) if ready else strategy, bench, budget, seed=seed, protocol=protocol,
                    strategy_options=options, label=strategy_label(strategy)) for seed in seeds]


__all__ = ["Trial", "build_strategy", "compare", "query_rows", "resolve_benchmark", "run", "strategy_class",
           "strategy_label", "trials"]

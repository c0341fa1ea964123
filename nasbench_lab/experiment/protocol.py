"""The evaluation protocol of the paper (§4.1.1, §4.1.2) producing tidy result frames.

1. Draw S sets of M initial states with the space's sampler (set ``i`` from its own
   generator, see :func:`initial_state_sets`; the paper: S=5, M=10,000).
2. Run every agent, for each of its seeds, once from every initial state of every set,
   with evaluation-length episodes (``max_steps``, paper 32). Agents are built
   ``cls(space, seed=...)`` like every strategy and see the benchmark only through the
   environment. A multi-trial strategy (``ask``/``tell``: random search, REINFORCE, ...)
   is not incremental: its "episode" is one ask, query, tell, and every search run of
   it is a fresh strategy seeded from ``(seed, set, run)`` (see :func:`run_seed`), so
   a learning strategy never carries what it learnt into the next run.
3. Charge queries as §4.1.2: one episode = one query (the architecture it ends at),
   except agents with ``counts_neighbour_queries`` (local search), which are shown the
   validation accuracy of every neighbour (``info["neighbour_validation"]``) and are
   charged every shown neighbour at every step. The charge is the paper's cost model, not
   the benchmark's counters: a neighbour shown again at the next step (the state just
   left, say) is charged again, while the benchmark answers it once (``bench.queries``
   counts distinct architectures looked up: the initial state, looked up for the reward but
   never charged, and the shown neighbours; the last state of a truncated episode also
   reveals its neighbours, looked up but not charged since no action follows). One
   episode on NAS-Bench-Moons charges 67 queries where the benchmark counts 60
   (``tests/test_protocol.py`` pins both).
4. Turn the episodes of one (agent, seed, set) into search *runs* with a query budget B
   (paper: 300 for NB101, 1,000 for NB301), see :func:`query_frame`.

Query traces, precisely
-----------------------
Each episode yields *reports*: an architecture made available after some queries.
For one-query-per-episode agents an episode yields one report, its final architecture,
after 1 query. For local search every step yields one report: the architecture the agent
stands on after the step (the best neighbour when it moved, the current one when it
stopped), after ``n`` queries, ``n`` being the number of neighbours shown in that step
(the initial architecture itself is not charged, as in the paper). Runs chain
consecutive episodes of the set (episode order) and each run ends with the episode
during which its cumulative query count reaches B; reports beyond query B are dropped
and the next run starts with the next episode. A run that never reaches B (the leftover
episodes at the end of a set) is dropped. For every query index ``q = 1..B`` of a run the
query frame holds ``best_validation`` (highest validation accuracy among reports made
at or before query q), ``best_test`` (test accuracy of that architecture; the first one
on ties), ``oracle_test`` (highest test accuracy among those reports) and
``validation``/``test``/``key`` of the report made exactly at query q (NaN and "" when q
falls inside a local-search step, whose neighbour queries report nothing until the step
ends). Before the first report everything is NaN. This is the paper's "carry the last
improvement forward" (table notes of Tables 1 and 2), computed by ``schema.carry_best``.

Resuming: with ``out_dir`` each (agent, seed, set) writes its two frames atomically
(``<agent>__seed<s>__set<i>.{episodes,queries}.<fmt>``) beside ``config.json``; a rerun
with the same configuration loads finished units instead of recomputing them, a rerun
with a different configuration refuses to mix results. ``config.json`` records what the
results depend on: the configuration, the benchmark's name, class and content
fingerprint (``benchmark.fingerprint()``: for tables a digest of the keys and the
validation and test columns) and the columns it reads, and for every agent the episode
path it ran (``"vectorised"``, ``"single"`` or ``"ask_tell"``; random walk draws other
episodes on the vectorised and the single path for the same seed). Another benchmark
(NB201 CIFAR-100 after CIFAR-10, say) or another path for an agent is refused, never
mixed. A unit file that cannot be read (a truncated write by another tool, a disk error)
raises :class:`ResultFileError` naming it: delete it and rerun to recompute that unit.

>>> cfg = ProtocolConfig(n_sets=5, set_size=1000, budget=300)                      # doctest: +SKIP
>>> result = run_protocol(bench, ["random_search", "random_walk", "local_search"], cfg)  # doctest: +SKIP
>>> result.episodes.groupby("agent").final_test.mean()                            # doctest: +SKIP
"""
from __future__ import annotations

import dataclasses
import json
import warnings
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from .. import paths
from ..benchmarks.base import benchmark_fingerprint
from ..env import neighbours as env_neighbours
from ..env.incremental import check_alpha
from ..schema import EPISODE_COLUMNS, QUERY_COLUMNS, SCHEMA_VERSION, carry_best, check_frame


@dataclasses.dataclass
class ProtocolConfig:
    """Settings of one protocol run (defaults: the paper's NB101 evaluation).

    Sizes must be positive integers, ``seeds`` non-empty and ``alpha`` such that
    ``exp(alpha)`` is finite; anything else raises ValueError at construction.
    """

    n_sets: int = 5
    """S, the number of sets of initial states."""
    set_size: int = 10_000
    """M, initial states per set."""
    max_steps: int = 32
    """evaluation episode length (truncation)."""
    n_neighbours: int = 50
    """N, neighbours shown per step."""
    budget: int = 300
    """query budget of one search run (300 NB101, 1,000 NB301)."""
    seeds: tuple = (0,)
    """agent seeds (trained seeds for learned agents)."""
    initial_seed: int = 0
    """seed of the initial-state sets."""
    env_seed: int = 0
    """the env's seed (which neighbours are shown when there are more than N)."""
    alpha: float | None = 6.0
    """reward shaping of the env (the baselines ignore rewards)."""
    vectorised: bool | None = None
    """use the vectorised env (None: whenever the benchmark is tabular and the agent can)."""
    batch_size: int = 16_384
    """most episodes the vectorised env runs at once."""
    fmt: str = "parquet"
    """file format of per-unit results: "parquet" or "csv"."""

    def __post_init__(self) -> None:
        for k in ("n_sets", "set_size", "max_steps", "n_neighbours", "budget", "batch_size"):
            v = getattr(self, k)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                raise ValueError(f"ProtocolConfig.{k} must be a positive integer, got {v!r}")
        if len(self.seeds) == 0:
            raise ValueError("ProtocolConfig.seeds is empty: give at least one agent seed")
        if self.fmt not in ("parquet", "csv"):
            raise ValueError(f"fmt must be 'parquet' or 'csv', got {self.fmt!r}")
        if self.alpha is not None:
            check_alpha(self.alpha)

    @classmethod
    def paper(cls, benchmark: str, **overrides) -> "ProtocolConfig":
        """The paper's settings for ``"nb101"`` (budget 300, alpha 6) or ``"nb301"``
        (budget 1,000, alpha 32); S=5, M=10,000, 32-step episodes, N=50.

        >>> ProtocolConfig.paper("nb301", set_size=100).budget
        1000
        """
        presets = {"nb101": {"budget": 300, "alpha": 6.0}, "nb301": {"budget": 1000, "alpha": 32.0}}
        if benchmark not in presets:
            raise KeyError(f"no paper preset for {benchmark!r}; known: {sorted(presets)}")
        return cls(**{**presets[benchmark], **overrides})

    def fingerprint(self) -> dict:
        d = dataclasses.asdict(self)
        d["seeds"] = [int(s) for s in self.seeds]
        for k in ("vectorised", "batch_size"):  # how, not what: results stay comparable
            d.pop(k)
        d["schema"] = SCHEMA_VERSION
        return d


@dataclasses.dataclass
class ProtocolResult:
    """The two tidy frames of ``schema.py``."""

    episodes: Any
    """one row per episode (EPISODE_COLUMNS)."""
    queries: Any
    """one row per query index of every search run (QUERY_COLUMNS)."""


# -- frames ---------------------------------------------------------------------------
def conform(frame, columns: dict):
    """``frame`` with exactly ``columns``, in order, with their dtypes, index 0..n-1."""
    check_frame(frame, columns)
    return frame[list(columns)].astype(columns).reset_index(drop=True)


def _schema_for(frame) -> dict:
    return EPISODE_COLUMNS if "final_key" in frame.columns else QUERY_COLUMNS


def save_frame(frame, path) -> Path:
    """Write a result frame atomically as Parquet (``.parquet``) or CSV (anything else)."""
    path = Path(path)
    frame = conform(frame, _schema_for(frame))
    with paths.atomic_write(path, suffix=path.suffix) as tmp:
        if path.suffix == ".parquet":
            frame.to_parquet(tmp, index=False)
        else:
            frame.to_csv(tmp, index=False)
    return path


class ResultFileError(ValueError):
    """A result file cannot be read (truncated, corrupt, not a result frame); names it."""


def load_frame(path, columns: dict | None = None):
    """Read a frame written by :func:`save_frame` (same columns and dtypes); a file that
    cannot be read raises :class:`ResultFileError` naming it."""
    import pandas as pd

    path = Path(path)
    try:
        frame = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(
            path, keep_default_na=False, na_values={c: ["", "NaN", "nan"] for c in
                                                    ("initial_validation", "initial_test", "final_validation",
                                                     "final_test", "validation", "test", "best_validation",
                                                     "best_test", "oracle_test")})
        return conform(frame, columns or _schema_for(frame))
    except FileNotFoundError:
        raise
    except Exception as e:  # noqa: BLE001 - pyarrow, pandas parser and dtype errors alike
        raise ResultFileError(
            f"{path}: cannot read this result file ({type(e).__name__}: {e}); it is truncated or "
            "corrupt. Delete it and rerun: the protocol recomputes the missing unit") from e


# -- initial states -------------------------------------------------------------------
#: first word of the initial-state generator's entropy, so that the initial states never
#: share a stream with an agent seeded ``(seed, set)`` (e.g. random search)
INITIAL_STATE_STREAM = 0x1A17_0001


def initial_state_sets(space, n_sets: int, set_size: int, seed: int = 0) -> list[list]:
    """S lists of M architectures from ``space.sample``; set i from the generator seeded
    ``(INITIAL_STATE_STREAM, seed, i)``."""
    return [initial_state_set(space, i, set_size, seed) for i in range(n_sets)]


def initial_state_set(space, index: int, set_size: int, seed: int = 0) -> list:
    rng = np.random.default_rng([INITIAL_STATE_STREAM, int(seed), int(index)])
    return [space.sample(rng) for _ in range(set_size)]


# -- one (agent, seed, set): episodes + reports ---------------------------------------
@dataclasses.dataclass
class _Episodes:
    """Episode outcomes of one unit plus its reports (for the query trace)."""

    initial_key: list
    final_key: list
    initial_validation: np.ndarray
    initial_test: np.ndarray
    final_validation: np.ndarray
    final_test: np.ndarray
    steps: np.ndarray
    queries: np.ndarray
    terminated: np.ndarray
    truncated: np.ndarray
    report_episode: np.ndarray
    """episode of every report, non-decreasing."""
    report_cost: np.ndarray
    """queries charged just before the report."""
    report_validation: np.ndarray
    report_test: np.ndarray
    report_key: list


def _run_vectorised(agent, rows: np.ndarray, venv, bench) -> _Episodes:
    """Run ``agent.act_batch`` on episodes starting at ``rows`` (batches of ``venv.n_envs``)."""
    val, test = np.asarray(bench.validation, float), np.asarray(bench.test, float)
    keys = np.asarray(bench.keys)
    m, b = len(rows), venv.n_envs
    final = np.empty(m, np.int64)
    steps = np.empty(m, np.int64)
    term = np.empty(m, bool)
    trunc = np.empty(m, bool)
    rep_ep, rep_cost, rep_row = [], [], []
    for lo in range(0, m, b):
        chunk = rows[lo: lo + b]
        k = len(chunk)
        start = np.concatenate([chunk, np.full(b - k, chunk[0])])  # pad the last batch
        obs, _ = venv.reset(rows=start)
        t_term = np.zeros(b, bool)
        for _ in range(venv.max_steps):
            active = ~np.asarray(venv.done)
            if not active[:k].any():
                break
            actions = agent.act_batch(obs, venv)
            cost = np.asarray(venv.n_shown())
            obs, _, te, _, _ = venv.step(actions)
            t_term |= np.asarray(te)
            if agent.counts_neighbour_queries:
                idx = np.flatnonzero(active[:k])
                rep_ep.append(lo + idx)
                rep_cost.append(cost[idx])
                rep_row.append(np.asarray(venv.rows)[idx])
        final[lo: lo + k] = np.asarray(venv.rows)[:k]
        steps[lo: lo + k] = np.asarray(venv.t)[:k]
        term[lo: lo + k] = t_term[:k]
        trunc[lo: lo + k] = ~t_term[:k]
    if agent.counts_neighbour_queries:
        ep = np.concatenate(rep_ep)
        order = np.argsort(ep, kind="stable")  # episode-major, step order kept
        ep, cost, rrow = ep[order], np.concatenate(rep_cost)[order], np.concatenate(rep_row)[order]
        queries = np.bincount(ep, weights=cost, minlength=m).astype(np.int64)
    else:
        ep, cost, rrow = np.arange(m), np.ones(m, np.int64), final
        queries = np.ones(m, np.int64)
    return _Episodes(keys[rows].tolist(), keys[final].tolist(), val[rows], test[rows], val[final],
                     test[final], steps, queries, term, trunc, ep, cost, val[rrow], test[rrow],
                     keys[rrow].tolist())


class _Scores:
    """Memoised (validation, test) of architectures through the benchmark.

    It is also the benchmark the protocol's ``IncrementalEnv`` queries (``query`` and
    ``query_batch`` answer from the memo and forward the rest), so an architecture the
    environment has looked up (a shown neighbour, the current state) is never queried again
    to report it: the benchmark's counters count each architecture of a protocol run once
    (while it is among the last ``capacity`` architectures remembered).
    """

    def __init__(self, bench, capacity: int = 1_000_000):
        from collections import OrderedDict

        self.bench, self.capacity = bench, int(capacity)
        self.memo: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def __call__(self, arch) -> tuple[float, float]:
        k = self.bench.key(arch)
        if k not in self.memo:
            self._remember([k], self.bench.query(arch))
        return self.memo[k]

    def _remember(self, keys: list, m) -> None:
        val = np.atleast_1d(np.asarray(m.validation_accuracy, dtype=np.float64))
        test = np.broadcast_to(np.asarray(m.test_accuracy, dtype=np.float64), val.shape)
        for k, v, t in zip(keys, val, test):
            self.memo[k] = (float(v), float(t))
        while len(self.memo) > self.capacity:
            self.memo.popitem(last=False)

    def query(self, arch):
        """``validation_accuracy`` / ``test_accuracy`` of one architecture (what the env reads)."""
        from types import SimpleNamespace

        v, t = self(arch)
        return SimpleNamespace(validation_accuracy=v, test_accuracy=t)

    def query_batch(self, archs):
        """The same as arrays, one batched benchmark query for the architectures not remembered."""
        from types import SimpleNamespace

        keys = [self.bench.key(a) for a in archs]
        new = {k: a for k, a in zip(keys, archs) if k not in self.memo}
        if new:
            self._remember(list(new), self.bench.query_batch(list(new.values())))
        vt = np.asarray([self.memo[k] if k in self.memo else self(a) for k, a in zip(keys, archs)],
                        dtype=np.float64).reshape(len(keys), 2)
        return SimpleNamespace(validation_accuracy=vt[:, 0], test_accuracy=vt[:, 1])


def _run_single(agent, archs: Sequence, env, bench, scores: _Scores, progress) -> _Episodes:
    """Run ``agent.act`` in the gymnasium env, one episode after the other."""
    out = {k: [] for k in ("ik", "fk", "iv", "it", "fv", "ft", "steps", "q", "te", "tr")}
    rep_ep, rep_cost, rep_v, rep_t, rep_k = [], [], [], [], []
    for e, arch in enumerate(archs):
        obs, info = env.reset(options={"arch": arch})
        steps = queries = 0
        te = tr = False
        while not (te or tr):
            a = agent.act(obs, info)
            cost = len(info["neighbours"])
            obs, _, te, tr, info = env.step(a)
            steps += 1
            if agent.counts_neighbour_queries:
                queries += cost
                v, t = scores(info["arch"])
                rep_ep.append(e), rep_cost.append(cost), rep_v.append(v), rep_t.append(t)
                rep_k.append(info["key"])
        if not agent.counts_neighbour_queries:
            queries = 1
            v, t = scores(info["arch"])
            rep_ep.append(e), rep_cost.append(1), rep_v.append(v), rep_t.append(t)
            rep_k.append(info["key"])
        iv, it = scores(arch)
        fv, ft = scores(info["arch"])
        for k, x in zip(out, (bench.key(arch), bench.key(info["arch"]), iv, it, fv, ft, steps, queries, te, tr)):
            out[k].append(x)
        if progress is not None:
            progress.update(1)
    f = lambda k, dt: np.asarray(out[k], dtype=dt)  # noqa: E731
    return _Episodes(out["ik"], out["fk"], f("iv", float), f("it", float), f("fv", float), f("ft", float),
                     f("steps", np.int64), f("q", np.int64), f("te", bool), f("tr", bool),
                     np.asarray(rep_ep, np.int64), np.asarray(rep_cost, np.int64),
                     np.asarray(rep_v, float), np.asarray(rep_t, float), rep_k)


#: first word of the seeds of the protocol's multi-trial runs (no shared stream with the
#: initial states or with an agent seeded plainly)
RUN_STREAM = 0x1A17_0002


def run_seed(seed: int, set_index: int, run: int) -> int:
    """The seed of the fresh multi-trial strategy of search run ``run`` of set ``set_index``."""
    return int(np.random.SeedSequence([RUN_STREAM, int(seed), int(set_index), int(run)]).generate_state(1)[0])


def _run_ask_tell(make, seed: int, set_index: int, archs: Sequence, bench, scores: _Scores,
                  budget: int) -> _Episodes:
    """One ask, query, tell per initial state (0 steps, 1 query, final = the asked arch);
    a fresh strategy ``make(seed)`` for every ``budget`` episodes (one search run)."""
    m = len(archs)
    asked = []
    strategy = None
    for e in range(m):
        if e % budget == 0:
            strategy = make(run_seed(seed, set_index, e // budget))
        arch = strategy.ask()
        metrics = bench.query(arch)
        strategy.tell(arch, metrics)
        k = bench.key(arch)
        scores.memo.setdefault(k, (float(metrics.validation_accuracy), float(metrics.test_accuracy)))
        asked.append(arch)
    a = np.array([scores(x) for x in archs], float).reshape(m, 2)
    b = np.array([scores(x) for x in asked], float).reshape(m, 2)
    iv, it, fv, ft = a[:, 0], a[:, 1], b[:, 0], b[:, 1]
    ik, fk = [bench.key(x) for x in archs], [bench.key(x) for x in asked]
    ones = np.ones(m, np.int64)
    return _Episodes(ik, fk, iv, it, fv, ft, np.zeros(m, np.int64), ones, np.ones(m, bool),
                     np.zeros(m, bool), np.arange(m), ones, fv, ft, fk)


# -- query traces ---------------------------------------------------------------------
def query_frame(report_episode, report_cost, report_validation, report_test, n_episodes: int,
                budget: int, report_key=None) -> dict[str, np.ndarray]:
    """Per-query best-so-far columns (``run, query, key, validation, test, best_validation,
    best_test, oracle_test``) from the reports of consecutive episodes (module docstring).

    >>> c = query_frame([0, 1, 2], [1, 1, 1], [0.5, 0.7, 0.6], [0.4, 0.8, 0.9], 3, 2)
    >>> c["best_validation"].tolist(), c["oracle_test"].tolist()
    ([0.5, 0.7], [0.4, 0.8])
    """
    ep = np.asarray(report_episode, np.int64)
    cost = np.asarray(report_cost, np.int64)
    v = np.asarray(report_validation, float)
    t = np.asarray(report_test, float)
    keys = np.asarray(report_key if report_key is not None else [""] * len(ep), dtype=object)
    per_ep = np.bincount(ep, weights=cost, minlength=n_episodes).astype(np.int64)
    # episodes -> runs: a run ends with the episode that reaches the budget
    run_of = np.full(n_episodes, -1, np.int64)
    run, acc, first = 0, 0, 0
    for e in range(n_episodes):
        acc += per_ep[e]
        if acc >= budget:
            run_of[first: e + 1] = run
            run, acc, first = run + 1, 0, e + 1
    names = ("run", "query", "key", "validation", "test", "best_validation", "best_test", "oracle_test")
    cols: dict[str, list] = {k: [] for k in names}
    starts = np.searchsorted(ep, np.arange(n_episodes + 1))  # reports of episode e: starts[e]:starts[e+1]
    q = np.arange(1, budget + 1)
    for r in range(run):
        eps = np.flatnonzero(run_of == r)
        lo, hi = starts[eps[0]], starts[eps[-1] + 1]
        Q = np.cumsum(cost[lo:hi])
        keep = Q <= budget
        Q, rv, rt, rk = Q[keep], v[lo:hi][keep], t[lo:hi][keep], keys[lo:hi][keep]
        # the reports land at query Q; queries between reports carry the best forward
        qv, qt, qk = np.full(budget, np.nan), np.full(budget, np.nan), np.full(budget, "", dtype=object)
        # several reports at one query index (zero-cost steps): the last one is shown
        at = Q >= 1  # a report after zero queries (a step showing no neighbour) lands nowhere
        qv[Q[at] - 1], qt[Q[at] - 1], qk[Q[at] - 1] = rv[at], rt[at], rk[at]
        # best so far over the reports, then carried to every query index
        bv, bt, ot = carry_best(rv, rt)
        pos = np.searchsorted(Q, q, side="right") - 1
        has = pos >= 0
        p = np.maximum(pos, 0)
        pick = (lambda x: np.where(has, x[p], np.nan)) if len(Q) else (lambda x: np.full(budget, np.nan))
        cols["run"].append(np.full(budget, r))
        cols["query"].append(q)
        cols["key"].append(qk)
        cols["validation"].append(qv)
        cols["test"].append(qt)
        cols["best_validation"].append(pick(bv))
        cols["best_test"].append(pick(bt))
        cols["oracle_test"].append(pick(ot))
    return {k: (np.concatenate(x) if x else np.empty(0, dtype=object if k == "key" else float))
            for k, x in cols.items()}


def _frames(ep: _Episodes, bench_name: str, agent: str, seed: int, set_index: int, budget: int):
    import pandas as pd

    m = len(ep.initial_key)
    episodes = pd.DataFrame({
        "benchmark": bench_name, "agent": agent, "seed": seed, "set": set_index, "episode": np.arange(m),
        "initial_key": ep.initial_key, "final_key": ep.final_key,
        "initial_validation": ep.initial_validation, "initial_test": ep.initial_test,
        "final_validation": ep.final_validation, "final_test": ep.final_test,
        "steps": ep.steps, "queries": ep.queries, "terminated": ep.terminated, "truncated": ep.truncated,
    })
    cols = query_frame(ep.report_episode, ep.report_cost, ep.report_validation, ep.report_test, m, budget,
                       ep.report_key)
    if len(cols["run"]) == 0:
        warnings.warn(f"{agent} seed {seed} set {set_index}: {m} episodes charge {int(ep.queries.sum())} "
                      f"queries, fewer than one run of budget {budget}; no query trace", stacklevel=3)
    queries = pd.DataFrame({"benchmark": bench_name, "agent": agent, "seed": seed, "set": set_index, **cols})
    return conform(episodes, EPISODE_COLUMNS), conform(queries, QUERY_COLUMNS)


# -- the protocol ---------------------------------------------------------------------
def _is_agent_object(a) -> bool:
    """A ready strategy instance (e.g. a trained Ape-X agent) rather than a name or a class."""
    return not isinstance(a, (str, type)) and (hasattr(a, "act") or hasattr(a, "ask"))


def is_incremental(strategy) -> bool:
    """Whether ``strategy`` (class or instance) acts in the incremental environment
    (``act``) rather than proposing architectures (``ask``/``tell``)."""
    return bool(getattr(strategy, "incremental", not hasattr(strategy, "ask")))


def _agent_factories(agents) -> dict[str, tuple[Callable, tuple | None]]:
    """``label -> (factory(space, seed=...), seeds)``; ``seeds`` is None for names and
    classes (the config's seeds apply) and the agents' own seeds for ready agent objects,
    which are used as they are (several objects under one label are its trained seeds; a
    ready ask/tell object is one search continued through every run)."""
    from .. import strategies

    if isinstance(agents, dict):
        items = list(agents.items())
    else:
        items = []
        for a in agents:
            if isinstance(a, str):
                items.append((a, strategies.get(a)))
            elif _is_agent_object(a):
                items.append((getattr(a, "label", None) or getattr(a, "name", type(a).__name__), a))
            else:
                items.append((getattr(a, "name", a.__name__), a))
    out: dict[str, tuple[Callable, tuple | None]] = {}
    objects: dict[str, dict[int, Any]] = {}
    for label, f in items:
        if isinstance(f, str):
            f = strategies.get(f)
        if _is_agent_object(f):
            seed = int(getattr(f, "seed", 0))
            if seed in objects.setdefault(label, {}):
                raise ValueError(f"two agent objects labelled {label!r} share seed {seed}; "
                                 "give them distinct .seed or .label")
            objects[label][seed] = f
        else:
            if label in out or label in objects:
                raise ValueError(f"agent label {label!r} given twice")
            out[label] = (f, None)
    for label, by_seed in objects.items():
        if label in out:
            raise ValueError(f"agent label {label!r} names both a strategy and agent objects")
        out[label] = ((lambda space, seed, _m=by_seed: _m[int(seed)]), tuple(sorted(by_seed)))
    return out


def _unit_stem(label: str, seed: int, index: int, agent_obj=None) -> str:
    """File stem of one (agent, seed, set); an agent object adds the digest of its weights
    so a retrained agent never reuses the results of another one."""
    digest = getattr(agent_obj, "fingerprint", None) if agent_obj is not None else None
    tag = f"__{digest()[:12]}" if callable(digest) else ""
    return f"{label}{tag}__seed{seed}__set{index}"


def _episode_path(agent, tabular: bool, cfg: "ProtocolConfig") -> str:
    """How ``agent``'s episodes run: ``"ask_tell"`` (multi-trial), ``"vectorised"`` or ``"single"``."""
    if not is_incremental(agent):
        return "ask_tell"
    if tabular and getattr(agent, "vectorised", False) and cfg.vectorised is not False:
        return "vectorised"
    return "single"


def _is_tabular(bench, forced: bool = False) -> bool:
    """Whether the vectorised env can run: a tabular benchmark over an enumerable space
    whose neighbour table is cheap (NB201, small spaces) or already built (a space whose
    table takes a long build, NB101: ``forced`` builds it)."""
    space = getattr(bench, "space", None)
    if not (hasattr(bench, "rows") and hasattr(bench, "validation") and space is not None
            and getattr(space, "size", None) is not None):
        if forced:
            raise ValueError(f"vectorised=True needs a tabular benchmark over an enumerable space; "
                             f"{getattr(bench, 'name', bench)!r} is not")
        return False
    if not forced and not env_neighbours.table_is_ready(space):
        warnings.warn(f"{getattr(space, 'name', 'space')}: no cached neighbour table, the protocol runs "
                      f"episode by episode; {env_neighbours.build_hint(space)} builds it once", stacklevel=3)
        return False
    return True


def run_protocol(benchmark, agents, config: ProtocolConfig | None = None, out_dir=None,
                 progress: bool = True, space=None) -> ProtocolResult:
    """Run ``agents`` on ``benchmark``: registry names, classes, ready agent objects (a
    trained Ape-X agent, say: several under one name are its trained seeds, each run with
    its own ``.seed``), or ``{label: factory(space, seed=...)}``. Every strategy kind
    runs: incremental agents in the environment, multi-trial ones by ask/tell.

    Returns the concatenated episode and query frames; with ``out_dir`` per-unit results
    are written (atomically) and reused on a rerun with the same configuration.
    """
    import pandas as pd
    from tqdm.auto import tqdm

    from ..env.incremental import IncrementalEnv

    cfg = config or ProtocolConfig()
    cfg.__post_init__()  # fields may have been changed after construction
    space = space if space is not None else benchmark.space
    if space is None:
        raise ValueError("the benchmark has no search space; pass space=")
    factories = _agent_factories(agents)
    bench_name = getattr(benchmark, "name", "benchmark")
    out = Path(out_dir) if out_dir is not None else None
    if out is not None:
        fingerprint = benchmark_fingerprint(benchmark)
        if fingerprint["benchmark_digest"] is None:
            warnings.warn(f"{bench_name}: the benchmark has no content fingerprint; results in {out} "
                          "are matched to it by name and class only", stacklevel=2)
        _check_config(out, {**fingerprint, **cfg.fingerprint()})

    tabular = cfg.vectorised is not False and _is_tabular(benchmark, forced=cfg.vectorised is True)
    episode_paths: dict[str, str] = {}
    if out is not None:
        for label, (factory, own) in factories.items():
            episode_paths[label] = _episode_path(factory(space, seed=(own or cfg.seeds)[0]), tabular, cfg)
        _check_paths(out, episode_paths, cfg)
    venv = None
    envs: dict[bool, Any] = {}
    scores = _Scores(benchmark)
    units = [(label, s, i) for label, (_, own) in factories.items() for s in (own or cfg.seeds)
             for i in range(cfg.n_sets)]
    ep_frames, q_frames = [], []
    bar = tqdm(units, desc=f"protocol {bench_name}", unit="set", disable=not progress)
    sets: dict[int, list] = {}
    for label, seed, i in bar:
        bar.set_postfix_str(f"{label} seed={seed} set={i}")
        factory, own = factories[label]
        stem = _unit_stem(label, seed, i, factory(space, seed=seed) if own else None)
        if out is not None:
            fe, fq = out / f"{stem}.episodes.{cfg.fmt}", out / f"{stem}.queries.{cfg.fmt}"
            if fe.exists() and fq.exists():
                ep_frames.append(load_frame(fe, EPISODE_COLUMNS))
                q_frames.append(load_frame(fq, QUERY_COLUMNS))
                continue
        if i not in sets:
            sets[i] = initial_state_set(space, i, cfg.set_size, cfg.initial_seed)
        archs = sets[i]
        agent = factory(space, seed=seed)
        path = _episode_path(agent, tabular, cfg)
        if path != "ask_tell" and hasattr(agent, "begin_set"):
            agent.begin_set(i)
        if out is not None and path != episode_paths[label]:
            raise ValueError(f"{label} seed {seed}: runs on the {path} path, its other seeds on the "
                             f"{episode_paths[label]} one; results of the two are not mixed")
        if path == "ask_tell":
            make = (lambda s, _a=agent: _a) if own else (lambda s, _f=factory: _f(space, seed=s))
            episodes = _run_ask_tell(make, seed, i, archs, benchmark, scores, cfg.budget)
        elif path == "vectorised":
            if venv is None:
                from ..env.vector import VectorIncrementalEnv
                venv = VectorIncrementalEnv.from_benchmark(
                    benchmark, n_envs=min(cfg.set_size, cfg.batch_size), space=space,
                    n_neighbours=cfg.n_neighbours, alpha=cfg.alpha, max_steps=cfg.max_steps,
                    seed=cfg.env_seed)
            rows = benchmark.rows([space.key(a) for a in archs])
            episodes = _run_vectorised(agent, rows, venv, benchmark)
        else:
            reveal = bool(getattr(agent, "counts_neighbour_queries", False))
            if reveal not in envs:
                envs[reveal] = IncrementalEnv(space, scores, n_neighbours=cfg.n_neighbours, alpha=cfg.alpha,
                                              max_steps=cfg.max_steps, seed=cfg.env_seed,
                                              reveal_validation=reveal)
            env = envs[reveal]
            inner = tqdm(total=len(archs), desc=f"{label} set {i}", unit="episode", leave=False,
                         disable=not progress)
            episodes = _run_single(agent, archs, env, benchmark, scores, inner)
            inner.close()
        fe_, fq_ = _frames(episodes, bench_name, label, int(seed), i, cfg.budget)
        if out is not None:
            save_frame(fq_, fq)
            save_frame(fe_, fe)
        ep_frames.append(fe_)
        q_frames.append(fq_)
    bar.close()
    cat = lambda fs, cols: conform(pd.concat(fs, ignore_index=True), cols) if fs else \
        conform(pd.DataFrame({c: [] for c in cols}), cols)  # noqa: E731
    return ProtocolResult(cat(ep_frames, EPISODE_COLUMNS), cat(q_frames, QUERY_COLUMNS))


def _check_config(out: Path, fingerprint: dict) -> None:
    out.mkdir(parents=True, exist_ok=True)
    f = out / "config.json"
    if f.exists():
        old = _read_config(f)
        old.pop("paths", None)
        if old != json.loads(json.dumps(fingerprint)):
            diff = sorted(k for k in set(old) | set(fingerprint) if old.get(k) != fingerprint.get(k))
            raise ValueError(f"{out} holds results of a different protocol configuration "
                             f"(differs in {diff}); use another out_dir or remove it")
        return
    with paths.atomic_write(f) as tmp:
        tmp.write_text(json.dumps(fingerprint, indent=1, sort_keys=True))


def _read_config(f: Path) -> dict:
    try:
        return json.loads(f.read_text())
    except (ValueError, UnicodeDecodeError) as e:
        raise ResultFileError(f"{f}: not a readable protocol config ({e}); delete the folder's "
                              "results or use another out_dir") from e


def _check_paths(out: Path, episode_paths: dict, cfg: ProtocolConfig) -> None:
    """Record each agent's episode path in ``config.json``; refuse one that changed."""
    f = out / "config.json"
    config = _read_config(f)
    recorded = dict(config.get("paths", {}))
    for label, path in episode_paths.items():
        old = recorded.get(label)
        if old is not None and old != path:
            raise ValueError(
                f"{out} holds {label!r} results from the {old} path; this run takes the {path} path "
                f"(vectorised={cfg.vectorised!r}), whose episodes differ for the same seed. Rerun with "
                f"vectorised={old == 'vectorised'!r}, or use another out_dir")
        recorded[label] = path
    if recorded != config.get("paths"):
        config["paths"] = recorded
        with paths.atomic_write(f) as tmp:
            tmp.write_text(json.dumps(config, indent=1, sort_keys=True))


def load_results(out_dir, fmt: str | None = None) -> ProtocolResult:
    """All per-unit frames of ``out_dir``, concatenated."""
    import pandas as pd

    out = Path(out_dir)
    exts = [fmt] if fmt else ["parquet", "csv"]
    eps = [load_frame(p, EPISODE_COLUMNS) for e in exts for p in sorted(out.glob(f"*.episodes.{e}"))]
    qs = [load_frame(p, QUERY_COLUMNS) for e in exts for p in sorted(out.glob(f"*.queries.{e}"))]
    return ProtocolResult(conform(pd.concat(eps, ignore_index=True), EPISODE_COLUMNS) if eps else None,
                          conform(pd.concat(qs, ignore_index=True), QUERY_COLUMNS) if qs else None)

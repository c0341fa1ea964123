"""Statistics of result frames: best-so-far curves, bootstrap and closed-form intervals.

Everything the paper's figures and tables compute, in one place:

* best so far per query budget from a query frame (``best_so_far``): the architecture is
  picked by validation accuracy and reported by its test accuracy where the benchmark has
  one, by its validation accuracy where it has not (NAS-Bench-301); the oracle variant (the
  best test accuracy seen, which a real search could not know) is available and labelled;
* the bootstrap 95% confidence interval of the mean best-so-far accuracy per budget
  (``bootstrap_mean_ci``: 5,000 resamples, seeded, vectorised with resample counts and one
  matrix product per chunk, so a 300-budget curve over 250,000 runs takes seconds);
* the closed-form normal interval from a published (mean, std, n) (``normal_ci``);
* the median with symmetric percentile intervals, skew, ``scipy.stats.normaltest``,
  ``scipy.stats.goodness_of_fit`` against a t-distribution, Pearson r and Kendall tau;
* a simple moving average (N=10) for training curves.

>>> import numpy as np
>>> ci = bootstrap_mean_ci(np.array([0.90, 0.91, 0.93, 0.94]), n_resamples=1000, seed=0)
>>> bool(ci.low[0] <= ci.mean[0] <= ci.high[0])
True
"""
from __future__ import annotations

import dataclasses
from typing import Sequence

import numpy as np
import pandas as pd
from scipy import special, stats

from ..schema import EPISODE_COLUMNS, QUERY_COLUMNS, carry_best, check_frame

#: the three ways to read a best-so-far curve; see ``best_so_far``
KINDS = ("reported", "validation", "oracle")
#: label of each kind on plots and tables
KIND_LABELS = {
    "reported": "test accuracy of the best-by-validation architecture",
    "validation": "best validation accuracy",
    "oracle": "oracle: best test accuracy seen",
}
_RUN_KEYS = ["benchmark", "agent", "seed", "set", "run"]


# --------------------------------------------------------------------------------------
# best so far
# --------------------------------------------------------------------------------------
def add_best_so_far(frame: pd.DataFrame) -> pd.DataFrame:
    """Recompute ``best_validation``, ``best_test`` and ``oracle_test`` from the raw columns.

    Within each run (rows ordered by ``query``): ``best_validation`` is the running maximum
    of ``validation``; ``best_test`` is the test accuracy of the architecture that set that
    maximum (on ties the earlier one is kept: a search only switches on a strict
    improvement); ``oracle_test`` is the running maximum of ``test``. Rows whose
    ``validation`` is NaN (queries that report nothing, e.g. inside a local-search step)
    carry the values forward. A producer that writes only ``validation`` and ``test`` gets
    a complete query frame from this.

    >>> f = pd.DataFrame({"benchmark": "b", "agent": "a", "seed": 0, "set": 0, "run": 0,
    ...                   "query": [1, 2, 3], "validation": [.5, .7, .6], "test": [.4, .6, .9]})
    >>> add_best_so_far(f)[["best_validation", "best_test", "oracle_test"]].values.tolist()
    [[0.5, 0.4, 0.4], [0.7, 0.6, 0.6], [0.7, 0.6, 0.9]]
    """
    missing = [c for c in _RUN_KEYS + ["query", "validation", "test"] if c not in frame.columns]
    if missing:
        raise ValueError(f"query frame lacks columns {missing} needed to compute best-so-far")
    out = frame.sort_values(_RUN_KEYS + ["query"], kind="stable").reset_index(drop=True)
    run = out.groupby(_RUN_KEYS, sort=False).ngroup().to_numpy()
    out["best_validation"], out["best_test"], out["oracle_test"] = carry_best(
        out["validation"].to_numpy(float), out["test"].to_numpy(float), run)
    return out


def metric_column(frame: pd.DataFrame, kind: str = "reported") -> str:
    """The query-frame column that ``kind`` reads.

    ``"reported"``: ``best_test``, or ``best_validation`` when the benchmark has no test
    accuracy (all NaN, as for NAS-Bench-301); ``"validation"``: ``best_validation``;
    ``"oracle"``: ``oracle_test`` (an error where there is no test accuracy).
    """
    if kind not in KINDS:
        raise ValueError(f"unknown best-so-far kind {kind!r}; known: {', '.join(KINDS)}")
    has_test = "best_test" in frame.columns and frame["best_test"].notna().any()
    if kind == "validation" or (kind == "reported" and not has_test):
        return "best_validation"
    if kind == "reported":
        return "best_test"
    if "oracle_test" not in frame.columns or not frame["oracle_test"].notna().any():
        raise ValueError("oracle best-so-far needs test accuracies; this frame has none")
    return "oracle_test"


@dataclasses.dataclass
class BestSoFar:
    """Best-so-far curves of the runs of one agent, as a dense matrix."""

    #: (runs, max_query) accuracy at query q+1, the last value carried forward
    values: np.ndarray
    #: (max_query,) whether any run has a row at query q+1 (data, not carried forward)
    has_data: np.ndarray
    #: (runs,) the last query index each run has data for
    last_query: np.ndarray
    #: the column read (``best_test``, ``best_validation`` or ``oracle_test``)
    column: str
    #: ``reported``, ``validation`` or ``oracle``
    kind: str

    @property
    def queries(self) -> np.ndarray:
        return np.arange(1, self.values.shape[1] + 1)

    def reached(self, budget: int) -> int:
        """#Q: the largest query index <= ``budget`` at which a run has data (0 if none).

        With dense query frames (a row per query) this is ``min(budget, longest run)``;
        with frames that record improvements only it is the query of the last preceding
        improvement, as in the paper's tables.
        """
        idx = np.flatnonzero(self.has_data[: max(0, int(budget))])
        return int(idx[-1] + 1) if idx.size else 0

    def at(self, budget: int) -> np.ndarray:
        """Per-run best-so-far at ``budget`` (carried forward past a run's end)."""
        if budget < 1:
            raise ValueError(f"query budget must be >= 1, got {budget}")
        return self.values[:, min(int(budget), self.values.shape[1]) - 1]


def best_so_far(frame: pd.DataFrame, kind: str = "reported", max_query: int | None = None) -> BestSoFar:
    """Dense best-so-far matrix (runs x queries) of a single-agent query frame.

    Each run's value at query q is its best-so-far at its last row with ``query <= q``
    (the paper's note: "we use the data of the last preceding improvement"), so runs that
    end early, or frames that only record improvements, are carried forward. Before a
    run's first report the value is NaN (local search reports only when a step ends).
    ``has_data[q-1]`` says whether some run made a report at query q (a row with a known
    ``validation``, or any row where the frame has no ``validation`` column).

    >>> f = pd.DataFrame({"benchmark": "b", "agent": "a", "seed": 0, "set": 0, "run": [0, 0, 1],
    ...                   "query": [1, 3, 1], "best_validation": [.5, .7, .6]})
    >>> best_so_far(f, "validation").values.tolist()
    [[0.5, 0.5, 0.7], [0.6, 0.6, 0.6]]
    """
    column = metric_column(frame, kind)
    missing = [c for c in _RUN_KEYS + ["query", column] if c not in frame.columns]
    if missing:
        raise ValueError(f"query frame lacks columns {missing}; expected {list(QUERY_COLUMNS)}")
    if frame.empty:
        raise ValueError("query frame is empty")
    agents = frame["agent"].unique()
    if len(agents) > 1:
        raise ValueError(f"best_so_far takes one agent at a time; frame has {list(agents)}")
    run = frame.groupby(_RUN_KEYS, sort=True).ngroup().to_numpy()
    q = frame["query"].to_numpy(np.int64)
    if (q < 1).any():
        raise ValueError(f"query frame row {int(np.flatnonzero(q < 1)[0])}: query index must be >= 1")
    n_runs = int(run.max()) + 1
    width = int(max_query) if max_query is not None else int(q.max())
    keep = q <= width
    reported = frame["validation"].notna().to_numpy() if "validation" in frame.columns \
        else np.ones(len(frame), dtype=bool)
    run, q, reported = run[keep], q[keep], reported[keep]
    v = frame[column].to_numpy(float)[keep]
    values = np.full((n_runs, width), np.nan)
    # the last row per (run, query) wins; rows are not assumed sorted
    order = np.lexsort((np.arange(len(q)), q, run))
    values[run[order], q[order] - 1] = v[order]
    has_data = np.zeros(width, dtype=bool)
    has_data[q[reported] - 1] = True
    present = ~np.isnan(values)
    last_query = np.zeros(n_runs, dtype=np.int64)
    np.maximum.at(last_query, run, q)
    # carry the last known value forward (position of the last non-NaN so far)
    cols = np.where(present, np.arange(width), -1)
    np.maximum.accumulate(cols, axis=1, out=cols)
    filled = np.take_along_axis(values, np.maximum(cols, 0), axis=1)
    filled[cols < 0] = np.nan
    return BestSoFar(values=filled, has_data=has_data, last_query=last_query, column=column, kind=kind)


# --------------------------------------------------------------------------------------
# bootstrap
# --------------------------------------------------------------------------------------
@dataclasses.dataclass
class BootstrapCI:
    """Bootstrap interval of the mean, per column of the input."""

    #: (T,) sample mean per column
    mean: np.ndarray
    #: (T,) lower end of the interval
    low: np.ndarray
    #: (T,) upper end of the interval
    high: np.ndarray
    #: (T,) sample standard deviation (ddof=1) per column
    std: np.ndarray
    #: number of rows (runs) resampled
    n: int
    confidence: float
    n_resamples: int
    method: str
    #: (n_resamples, T) the bootstrap distribution of the mean (kept when asked for)
    distribution: np.ndarray | None = None


def _step_matrix(x: np.ndarray, centre: np.ndarray, force: bool = False):
    """``x`` as a sparse (T, n) CSC matrix of steps: the centred first column, then the
    changes between consecutive columns; ``None`` when the steps are not sparse.

    Best-so-far curves change a handful of times in hundreds of queries, so their steps
    hold a few percent of the entries of the dense matrix.
    """
    from scipy import sparse

    n, width = x.shape
    changed = x[:, 1:] != x[:, :-1]
    nnz = n + int(np.count_nonzero(changed))
    if nnz > 0.25 * n * width and not force:
        return None
    run, col = np.nonzero(changed)            # row-major: sorted by run, then column
    col1 = col + 1
    steps = x[run, col1] - x[run, col]
    # per run: the first column, then its steps (CSC columns are runs)
    per_run = np.bincount(run, minlength=n) + 1
    indptr = np.concatenate([[0], np.cumsum(per_run)])
    indices = np.empty(nnz, dtype=np.int32)
    data = np.empty(nnz, dtype=np.float32)
    first = indptr[:-1]
    indices[first] = 0
    data[first] = x[:, 0] - centre[0]
    rest = np.ones(nnz, dtype=bool)
    rest[first] = False
    indices[rest] = col1
    data[rest] = steps
    return sparse.csc_array((data, indices, indptr), shape=(width, n))


#: resamples drawn from one generator; block b of a bootstrap seeded ``seed`` uses the
#: generator of ``SeedSequence(seed).spawn(...)[b]``, so results do not depend on threads
RESAMPLE_BLOCK = 16


def resample_generators(seed: int, n_resamples: int) -> list[np.random.Generator]:
    """The generators of the resample blocks (``RESAMPLE_BLOCK`` resamples each)."""
    n_blocks = -(-int(n_resamples) // RESAMPLE_BLOCK)
    return [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(n_blocks)]


def _resample_means(x: np.ndarray, n_resamples: int, seed: int, sparse: bool | None = None,
                    workers: int | None = None) -> np.ndarray:
    """Means of ``n_resamples`` bootstrap resamples of the rows of ``x`` (n, T): (B, T).

    Each resample draws n row indices with replacement and counts them (``bincount``): the
    multinomial resample counts. The resample means of every column are then one product
    per block of resamples: ``counts @ x`` (dense, columns centred so float32 keeps full
    precision), or, for step-like rows such as best-so-far curves, ``steps @ counts.T``
    with the sparse step matrix followed by a cumulative sum over the columns
    (``sparse=None`` picks the step path when steps are under a quarter of the entries).
    Blocks run on ``workers`` threads (numpy and scipy release the GIL in the heavy
    parts); each block has its own generator, so the result is the same for any number
    of workers.
    """
    import os
    from concurrent.futures import ThreadPoolExecutor

    from threadpoolctl import threadpool_limits

    n, width = x.shape
    centre = x.mean(axis=0, dtype=np.float64)
    steps = _step_matrix(x, centre, force=bool(sparse)) if width > 1 and sparse is not False else None
    dense = None if steps is not None else (x - centre).astype(np.float32)
    out = np.empty((n_resamples, width))
    gens = resample_generators(seed, n_resamples)

    def block(b: int) -> None:
        start = b * RESAMPLE_BLOCK
        k = min(RESAMPLE_BLOCK, n_resamples - start)
        counts = np.empty((k, n), dtype=np.float32)
        for r in range(k):
            idx = gens[b].integers(0, n, size=n, dtype=np.int32).astype(np.intp)
            counts[r] = np.bincount(idx, minlength=n)
        if steps is None:
            out[start:start + k] = counts @ dense
        else:
            counts_t = np.empty((n, k), dtype=np.float32)
            for j in range(0, n, 4096):             # cache-friendly transpose
                counts_t[j:j + 4096] = counts[:, j:j + 4096].T
            sums = steps @ counts_t                  # (T, k) per-column step sums
            out[start:start + k] = np.cumsum(sums, axis=0, dtype=np.float64).T

    workers = max(1, min(len(gens), workers or min(4, os.cpu_count() or 1)))
    if workers == 1 or n * width < 100_000:
        for b in range(len(gens)):
            block(b)
    else:
        with threadpool_limits(1), ThreadPoolExecutor(workers) as pool:
            list(pool.map(block, range(len(gens))))
    out /= n
    out += centre if steps is None else centre[0]
    return out


def _column_moments(x: np.ndarray, rows: int = 16_384) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Column mean, sum of squared and of cubed deviations, in float64, a block of rows at a time."""
    mean = x.mean(axis=0, dtype=np.float64)
    m2 = np.zeros_like(mean)
    m3 = np.zeros_like(mean)
    for i in range(0, x.shape[0], rows):
        d = x[i:i + rows].astype(np.float64) - mean
        m2 += (d * d).sum(axis=0)
        m3 += (d * d * d).sum(axis=0)
    return mean, m2, m3


def _percentile_of_score(dist: np.ndarray, score: np.ndarray) -> np.ndarray:
    return ((dist < score).sum(axis=0) + (dist <= score).sum(axis=0)) / (2.0 * dist.shape[0])


def bootstrap_mean_ci(values, n_resamples: int = 5000, confidence: float = 0.95, seed: int = 0,
                      method: str = "percentile", keep_distribution: bool = False,
                      workers: int | None = None) -> BootstrapCI:
    """Bootstrap confidence interval of the mean of each column of ``values``.

    ``values`` is (n,) or (n, T): n independent runs, T query budgets. The rows are
    resampled jointly (one set of counts serves every budget), so each resampled curve
    is a mean of whole runs and the bands of monotone best-so-far curves are monotone.
    ``method``: ``"percentile"`` (default), ``"basic"`` or ``"bca"`` (bias-corrected and
    accelerated, with the jackknife acceleration of the mean in closed form), defined as
    in ``scipy.stats.bootstrap``. ``workers``: threads (default: up to 4 cores); the result
    does not depend on it.

    >>> x = np.random.default_rng(1).normal(0.9, 0.01, size=(200, 3))
    >>> ci = bootstrap_mean_ci(x, n_resamples=2000, seed=0)
    >>> ci.low.shape, bool(np.all(ci.low < ci.high))
    ((3,), True)
    """
    x = np.asarray(values)
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float64)
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2:
        raise ValueError(f"values must be 1-D or 2-D (runs x budgets), got shape {x.shape}")
    n = x.shape[0]
    if n < 2:
        raise ValueError(f"a bootstrap interval needs at least 2 runs, got {n}")
    if np.isnan(x).any():
        r, c = np.argwhere(np.isnan(x))[0]
        raise ValueError(f"values contain NaN (first at run {r}, column {c}); "
                         "carry best-so-far forward before bootstrapping")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    if n_resamples < 2:
        raise ValueError(f"n_resamples must be >= 2, got {n_resamples}")
    dist = _resample_means(x, int(n_resamples), seed, workers=workers)
    mean, m2, m3 = _column_moments(x)
    alpha = (1.0 - confidence) / 2.0
    if method == "percentile":
        low, high = np.quantile(dist, [alpha, 1.0 - alpha], axis=0)
    elif method == "basic":
        qlo, qhi = np.quantile(dist, [alpha, 1.0 - alpha], axis=0)
        low, high = 2 * mean - qhi, 2 * mean - qlo
    elif method == "bca":
        z0 = special.ndtri(_percentile_of_score(dist, mean))
        # jackknife acceleration of the mean, in closed form: skewness / (6 sqrt(n))
        den = 6.0 * m2 ** 1.5
        a = np.divide(m3, den, out=np.zeros_like(m3), where=den > 0)
        levels = []
        for z in (special.ndtri(alpha), special.ndtri(1.0 - alpha)):
            levels.append(special.ndtr(z0 + (z0 + z) / (1.0 - a * (z0 + z))))
        low = np.array([np.quantile(dist[:, j], levels[0][j]) for j in range(x.shape[1])])
        high = np.array([np.quantile(dist[:, j], levels[1][j]) for j in range(x.shape[1])])
    else:
        raise ValueError(f"unknown bootstrap method {method!r}; known: percentile, basic, bca")
    return BootstrapCI(mean=mean, low=np.asarray(low), high=np.asarray(high),
                       std=np.sqrt(m2 / (n - 1)), n=n, confidence=confidence,
                       n_resamples=int(n_resamples), method=method,
                       distribution=dist if keep_distribution else None)


def anytime_ranks(frame: pd.DataFrame, kind: str = "reported", max_query: int | None = None) -> pd.DataFrame:
    """Mean rank of every agent at every query budget (1 = best), over paired runs.

    Runs of different agents are paired by ``(benchmark, seed, set, run)``; only the
    pairs every agent has are ranked. At each query q the agents of one pair are ranked
    by their best-so-far (``kind`` as in :func:`best_so_far`; higher is better, ties share
    the mean rank, an agent with no report yet ranks last), and the ranks are averaged
    over pairs. Returns a long frame ``agent, query, mean_rank, n_pairs``.

    >>> f = pd.DataFrame({"benchmark": "b", "agent": ["a", "a", "b", "b"], "seed": 0, "set": 0,
    ...                   "run": 0, "query": [1, 2, 1, 2], "best_validation": [.5, .5, .4, .6]})
    >>> anytime_ranks(f, "validation").pivot(index="query", columns="agent", values="mean_rank").values.tolist()
    [[1.0, 2.0], [2.0, 1.0]]
    """
    keys = ["benchmark", "seed", "set", "run"]
    agents = list(dict.fromkeys(frame["agent"]))
    if len(agents) < 2:
        raise ValueError(f"anytime_ranks compares agents; the frame has {agents}")
    per_agent, pairs = {}, None
    for agent in agents:
        sub = frame[frame["agent"] == agent]
        bsf = best_so_far(sub, kind=kind, max_query=max_query)
        ids = [tuple(k) for k in sub.groupby(_RUN_KEYS, sort=True).size().index.droplevel("agent")]
        per_agent[agent] = dict(zip(ids, bsf.values))
        pairs = set(ids) if pairs is None else pairs & set(ids)
    if not pairs:
        raise ValueError(f"no run {keys} is shared by every agent: nothing to rank")
    pairs = sorted(pairs)
    width = min(len(next(iter(per_agent[a].values()))) for a in agents)
    if max_query is not None:
        width = min(width, int(max_query))
    # (pairs, agents, queries); a NaN (no report yet) ranks below every number
    cube = np.stack([np.stack([per_agent[a][p][:width] for a in agents], axis=0) for p in pairs])
    cube = np.where(np.isnan(cube), -np.inf, cube)
    ranks = stats.rankdata(-cube, axis=1, method="average")
    mean = ranks.mean(axis=0)  # (agents, queries)
    rows = [(a, q + 1, float(mean[i, q]), len(pairs)) for i, a in enumerate(agents) for q in range(width)]
    return pd.DataFrame(rows, columns=["agent", "query", "mean_rank", "n_pairs"])


def curve_summary(frame: pd.DataFrame, kind: str = "reported", max_query: int | None = None,
                  n_resamples: int = 5000, confidence: float = 0.95, seed: int = 0,
                  method: str = "percentile") -> pd.DataFrame:
    """Tidy per-agent best-so-far curves with bootstrap intervals.

    Columns: ``agent, query, mean, std, low, high, n_runs, n_reported, has_data, column,
    kind``: one row per agent and query index 1..max_query (default: each agent's longest
    run). The curve is defined from the first query at which every run has reported (the
    mean over all runs); before that ``mean``/``low``/``high`` are NaN, and
    ``n_reported`` says how many runs had reported by then.
    """
    check_frame(frame, {c: QUERY_COLUMNS[c] for c in _RUN_KEYS + ["query"]})
    parts = []
    for i, (agent, sub) in enumerate(frame.groupby("agent", sort=True)):
        bsf = best_so_far(sub, kind=kind, max_query=max_query)
        vals = bsf.values
        width = vals.shape[1]
        n_reported = (~np.isnan(vals)).sum(axis=0)
        complete = n_reported == vals.shape[0]
        mean, std, low, high = (np.full(width, np.nan) for _ in range(4))
        if complete.any() and vals.shape[0] >= 2:
            ci = bootstrap_mean_ci(vals[:, complete], n_resamples, confidence, seed + i, method)
            mean[complete], std[complete], low[complete], high[complete] = ci.mean, ci.std, ci.low, ci.high
        elif complete.any():  # a single run: its curve, no interval
            mean[complete] = low[complete] = high[complete] = vals[0, complete]
        parts.append(pd.DataFrame({
            "agent": agent, "query": bsf.queries, "mean": mean, "std": std, "low": low,
            "high": high, "n_runs": vals.shape[0], "n_reported": n_reported,
            "has_data": bsf.has_data, "column": bsf.column, "kind": kind,
        }))
    if not parts:
        raise ValueError("query frame has no rows")
    return pd.concat(parts, ignore_index=True)


# --------------------------------------------------------------------------------------
# closed-form intervals (published baselines)
# --------------------------------------------------------------------------------------
def normal_ci(mean, std, n=None, confidence: float = 0.95, of: str = "mean"):
    """Closed-form interval from a reported mean and standard deviation, assuming normality.

    ``of="mean"``: the interval of the mean, ``mean -/+ t(n-1) * std / sqrt(n)`` (z when
    ``n`` is None). ``of="values"``: ``mean -/+ t(n-1) * std``, the range that holds
    ``confidence`` of the runs; this is the convention the paper's published-baseline
    rows follow (e.g. GraphPNAS 94.19 +/- 0.07 with n=10 gives [94.03, 94.35]).
    Arrays broadcast. Returns ``(low, high)``.

    >>> [round(float(v), 4) for v in normal_ci(94.19, 0.07, 10, of="values")]
    [94.0316, 94.3484]
    """
    if of not in ("mean", "values"):
        raise ValueError(f"of must be 'mean' or 'values', got {of!r}")
    mean, std = np.asarray(mean, float), np.asarray(std, float)
    if np.any(std < 0):
        raise ValueError("standard deviation must be >= 0")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    q = 0.5 + confidence / 2.0
    if n is None:
        crit = stats.norm.ppf(q)
        scale = std
        if of == "mean":
            raise ValueError("the interval of the mean needs the number of runs n")
    else:
        n = np.asarray(n, float)
        if np.any(n < 2):
            raise ValueError("n must be >= 2 for a t interval")
        crit = stats.t.ppf(q, n - 1)
        scale = std / np.sqrt(n) if of == "mean" else std
    half = crit * scale
    return mean - half, mean + half


def implied_critical_value(std, low, high):
    """``(high - low) / (2 * std)``: the multiplier a printed interval implies."""
    std = np.asarray(std, float)
    return (np.asarray(high, float) - np.asarray(low, float)) / (2.0 * std)


# --------------------------------------------------------------------------------------
# distributions of improvements
# --------------------------------------------------------------------------------------
@dataclasses.dataclass
class Spread:
    """Median, symmetric percentile intervals around it, and shape of a sample."""

    median: float
    #: level (0.5, 0.8, 0.95) -> (low, high): the central ``level`` share of the sample
    intervals: dict
    skew: float
    n: int


def percentile_intervals(x, levels: Sequence[float] = (0.5, 0.8, 0.95)) -> Spread:
    """Median and symmetric percentile intervals (e.g. 50% = 25th..75th percentile).

    >>> s = percentile_intervals(np.arange(101.0))
    >>> s.median, s.intervals[0.5]
    (50.0, (25.0, 75.0))
    """
    x = _finite(x)
    for lv in levels:
        if not 0 < lv < 1:
            raise ValueError(f"interval level must be in (0, 1), got {lv}")
    qs = np.quantile(x, [0.5] + [p for lv in levels for p in (0.5 - lv / 2, 0.5 + lv / 2)])
    intervals = {lv: (float(qs[1 + 2 * i]), float(qs[2 + 2 * i])) for i, lv in enumerate(levels)}
    return Spread(median=float(qs[0]), intervals=intervals, skew=skew(x), n=int(x.size))


def skew(x) -> float:
    """Sample skewness (``scipy.stats.skew``, biased moment estimator as in the paper)."""
    return float(stats.skew(_finite(x)))


def normality(x):
    """``scipy.stats.normaltest`` (D'Agostino-Pearson: skew and kurtosis combined)."""
    return stats.normaltest(_finite(x))


def t_goodness_of_fit(x, n_mc_samples: int = 1000, seed: int = 0, subsample: int | None = None,
                      statistic: str = "ad"):
    """``scipy.stats.goodness_of_fit`` of ``x`` against a fitted t-distribution.

    Every Monte-Carlo sample refits (df, loc, scale), so on hundreds of thousands of
    episodes the test costs minutes; ``subsample`` draws that many values first (seeded).
    The smallest p-value the test can return is ``1 / (n_mc_samples + 1)``.
    """
    x = _finite(x)
    rng = np.random.default_rng(seed)
    if subsample is not None and x.size > subsample:
        x = rng.choice(x, size=int(subsample), replace=False)
    return stats.goodness_of_fit(stats.t, x, n_mc_samples=int(n_mc_samples), rng=rng,
                                 statistic=statistic)


@dataclasses.dataclass
class Correlation:
    """Pearson's r and Kendall's tau (tau-b) with their p-values."""

    pearson_r: float
    pearson_p: float
    kendall_tau: float
    kendall_p: float
    n: int


def correlations(x, y) -> Correlation:
    """Pearson r and Kendall tau between two paired samples (NaN pairs dropped).

    >>> c = correlations([1, 2, 3, 4], [1, 3, 2, 4])
    >>> round(c.pearson_r, 3), round(c.kendall_tau, 3)
    (0.8, 0.667)
    """
    x, y = np.asarray(x, float), np.asarray(y, float)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(f"x and y must be 1-D of equal length, got {x.shape} and {y.shape}")
    ok = ~(np.isnan(x) | np.isnan(y))
    x, y = x[ok], y[ok]
    if x.size < 3:
        raise ValueError(f"correlations need at least 3 finite pairs, got {x.size}")
    r = stats.pearsonr(x, y)
    t = stats.kendalltau(x, y)
    return Correlation(float(r.statistic), float(r.pvalue), float(t.statistic), float(t.pvalue),
                       int(x.size))


def moving_average(x, n: int = 10) -> np.ndarray:
    """Trailing simple moving average: mean of the last ``n`` values (fewer at the start).

    Same length as ``x``, so a smoothed curve keeps its steps axis.

    >>> moving_average([1.0, 2.0, 3.0, 4.0], n=2).tolist()
    [1.0, 1.5, 2.5, 3.5]
    """
    x = np.asarray(x, float)
    if x.ndim != 1:
        raise ValueError(f"moving_average takes a 1-D series, got shape {x.shape}")
    if n < 1:
        raise ValueError(f"window must be >= 1, got {n}")
    c = np.concatenate([[0.0], np.cumsum(x)])
    i = np.arange(1, x.size + 1)
    lo = np.maximum(0, i - n)
    return (c[i] - c[lo]) / (i - lo)


# --------------------------------------------------------------------------------------
# episode frames
# --------------------------------------------------------------------------------------
def episode_accuracy(frame: pd.DataFrame, which: str = "auto") -> tuple[np.ndarray, np.ndarray, str]:
    """(initial, final, column stem) accuracies of an episode frame.

    ``which="auto"`` reads test accuracy where the frame has it and validation where it
    has not (NAS-Bench-301), like the paper; ``"test"`` or ``"validation"`` force one.
    """
    check_frame(frame, {c: EPISODE_COLUMNS[c] for c in
                        ["initial_validation", "final_validation", "initial_test", "final_test"]})
    if which == "auto":
        which = "test" if frame["final_test"].notna().any() else "validation"
    if which not in ("test", "validation"):
        raise ValueError(f"which must be 'auto', 'test' or 'validation', got {which!r}")
    return (frame[f"initial_{which}"].to_numpy(float), frame[f"final_{which}"].to_numpy(float), which)


def improvements(frame: pd.DataFrame, which: str = "auto") -> pd.DataFrame:
    """Per-episode ``agent, initial, final, improvement`` (fractions) and the column used."""
    initial, final, stem = episode_accuracy(frame, which)
    out = pd.DataFrame({"agent": frame["agent"].to_numpy(), "initial": initial, "final": final,
                        "improvement": final - initial})
    out.attrs["metric"] = stem
    return out


def _finite(x) -> np.ndarray:
    x = np.asarray(x, float).ravel()
    x = x[np.isfinite(x)]
    if x.size == 0:
        raise ValueError("no finite values")
    return x


__all__ = [
    "KINDS", "KIND_LABELS", "BestSoFar", "BootstrapCI", "Correlation", "Spread",
    "add_best_so_far", "anytime_ranks", "best_so_far", "bootstrap_mean_ci", "correlations", "curve_summary",
    "episode_accuracy", "implied_critical_value", "improvements", "metric_column",
    "moving_average", "normal_ci", "normality", "percentile_intervals", "skew",
    "t_goodness_of_fit",
]

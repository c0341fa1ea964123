"""Statistics of result frames: against scipy and hand-computed small cases."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from nasbench_lab.analysis import stats


def _query_frame(curves: dict, agent="a", benchmark="b") -> pd.DataFrame:
    """A query frame from {run: [(validation, test), ...]} (one row per query)."""
    rows = []
    for run, pairs in curves.items():
        for q, (v, t) in enumerate(pairs, start=1):
            rows.append(dict(benchmark=benchmark, agent=agent, seed=0, set=0, run=run, query=q,
                             validation=v, test=t))
    return stats.add_best_so_far(pd.DataFrame(rows))


# -- best so far --------------------------------------------------------------------------
def test_add_best_so_far_hand_computed():
    f = _query_frame({0: [(0.5, 0.4), (0.7, 0.6), (0.7, 0.95), (0.6, 0.9), (0.8, 0.5)]})
    assert f["best_validation"].tolist() == [0.5, 0.7, 0.7, 0.7, 0.8]
    # a tie in validation does not switch the pick (0.95 test stays unseen by the search)
    assert f["best_test"].tolist() == [0.4, 0.6, 0.6, 0.6, 0.5]
    assert f["oracle_test"].tolist() == [0.4, 0.6, 0.95, 0.95, 0.95]


def test_add_best_so_far_keeps_runs_apart():
    f = _query_frame({0: [(0.9, 0.9), (0.1, 0.1)], 1: [(0.2, 0.3), (0.4, 0.5)]})
    f = f.sort_values(["run", "query"])
    assert f["best_validation"].tolist() == [0.9, 0.9, 0.2, 0.4]
    assert f["best_test"].tolist() == [0.9, 0.9, 0.3, 0.5]


def test_best_so_far_carries_forward_and_reports_reached():
    # run 0 records queries 1 and 3 only (improvements), run 1 stops after query 2
    f = pd.DataFrame(dict(benchmark="b", agent="a", seed=0, set=0, run=[0, 0, 1, 1], query=[1, 3, 1, 2],
                          validation=[0.5, 0.7, 0.6, 0.65], best_validation=[0.5, 0.7, 0.6, 0.65],
                          best_test=[0.4, 0.8, 0.5, 0.55]))
    b = stats.best_so_far(f, max_query=5)
    assert b.column == "best_test"
    np.testing.assert_array_equal(b.values, [[0.4, 0.4, 0.8, 0.8, 0.8], [0.5, 0.55, 0.55, 0.55, 0.55]])
    assert b.has_data.tolist() == [True, True, True, False, False]
    assert b.reached(5) == 3 and b.reached(2) == 2 and b.reached(1) == 1
    assert b.last_query.tolist() == [3, 2]
    np.testing.assert_array_equal(b.at(4), [0.8, 0.55])
    # budgets past the matrix carry the last column
    np.testing.assert_array_equal(b.at(50), [0.8, 0.55])


def test_best_so_far_leading_nan_stays_nan_until_first_report():
    # a local-search run: queries 1-2 are neighbours of the first step, the report at 3
    f = pd.DataFrame(dict(benchmark="b", agent="ls", seed=0, set=0, run=0, query=[1, 2, 3, 4],
                          validation=[np.nan, np.nan, 0.7, np.nan],
                          best_validation=[np.nan, np.nan, 0.7, 0.7], best_test=[np.nan, np.nan, 0.9, 0.9]))
    b = stats.best_so_far(f)
    assert np.isnan(b.values[0, :2]).all() and b.values[0, 2:].tolist() == [0.9, 0.9]
    assert b.has_data.tolist() == [False, False, True, False]
    assert b.reached(4) == 3 and b.reached(2) == 0


def test_metric_column_kinds():
    f = _query_frame({0: [(0.5, 0.4)]})
    assert stats.metric_column(f) == "best_test"
    assert stats.metric_column(f, "validation") == "best_validation"
    assert stats.metric_column(f, "oracle") == "oracle_test"
    nb301 = _query_frame({0: [(0.5, np.nan)]})
    assert stats.metric_column(nb301) == "best_validation"  # no test: report validation
    with pytest.raises(ValueError, match="oracle"):
        stats.metric_column(nb301, "oracle")
    with pytest.raises(ValueError, match="unknown"):
        stats.metric_column(f, "best")


def test_best_so_far_rejects_several_agents_and_bad_queries():
    f = pd.concat([_query_frame({0: [(0.5, 0.4)]}, agent="a"), _query_frame({0: [(0.5, 0.4)]}, agent="b")])
    with pytest.raises(ValueError, match="one agent"):
        stats.best_so_far(f)
    g = _query_frame({0: [(0.5, 0.4)]})
    g.loc[0, "query"] = 0
    with pytest.raises(ValueError, match="query index must be >= 1"):
        stats.best_so_far(g)


# -- bootstrap ----------------------------------------------------------------------------
@pytest.mark.parametrize("method,scipy_method", [("percentile", "percentile"), ("basic", "basic"), ("bca", "BCa")])
def test_bootstrap_matches_scipy(method, scipy_method):
    rng = np.random.default_rng(3)
    x = rng.gamma(2.0, 0.01, size=(400, 3))  # skewed, like improvements
    ours = stats.bootstrap_mean_ci(x, n_resamples=20_000, seed=1, method=method)
    ref = sps.bootstrap((x,), np.mean, axis=0, n_resamples=20_000, method=scipy_method, rng=2)
    se = x.std(axis=0, ddof=1) / np.sqrt(len(x))
    # Monte-Carlo error of the 2.5% / 97.5% quantiles with 20,000 resamples is ~2% of se
    np.testing.assert_allclose(ours.low, ref.confidence_interval.low, atol=0.08 * se.max())
    np.testing.assert_allclose(ours.high, ref.confidence_interval.high, atol=0.08 * se.max())
    np.testing.assert_allclose(ours.mean, x.mean(axis=0))


def test_bootstrap_counts_equal_index_resampling():
    # the multinomial counts of each resample are exactly those of drawing indices
    x = np.maximum.accumulate(np.round(np.random.default_rng(0).random((300, 40)), 3), axis=1)
    dist = stats.bootstrap_mean_ci(x, n_resamples=40, seed=5, keep_distribution=True).distribution
    naive = []
    for rng in stats.resample_generators(5, 40):  # blocks of RESAMPLE_BLOCK resamples
        for _ in range(min(stats.RESAMPLE_BLOCK, 40 - len(naive))):
            naive.append(x[rng.integers(0, 300, size=300, dtype=np.int32)].mean(axis=0))
    np.testing.assert_allclose(dist, np.array(naive), atol=1e-7)


def test_bootstrap_paths_and_threads_agree():
    x = np.maximum.accumulate(np.round(0.93 - np.random.default_rng(1).gamma(2, 0.01, (500, 300)), 4), axis=1)
    a = stats._resample_means(x, 70, seed=9, sparse=True, workers=1)
    b = stats._resample_means(x, 70, seed=9, sparse=False, workers=1)
    c = stats._resample_means(x, 70, seed=9, sparse=None, workers=3)
    np.testing.assert_allclose(a, b, atol=1e-7)
    np.testing.assert_array_equal(a, c)  # same blocks, same generators: identical


def test_bootstrap_hand_cases():
    # constant data: a zero-width interval at the value
    ci = stats.bootstrap_mean_ci(np.full(10, 0.9), n_resamples=100)
    assert ci.low[0] == pytest.approx(0.9) and ci.high[0] == pytest.approx(0.9)
    # two values 0 and 1: resample means are k/2 with k ~ Binomial(2, 1/2): 0, .5, 1 w.p. 1/4 1/2 1/4
    d = stats.bootstrap_mean_ci([0.0, 1.0], n_resamples=40_000, seed=0, keep_distribution=True).distribution
    shares = [np.mean(d == v) for v in (0.0, 0.5, 1.0)]
    np.testing.assert_allclose(shares, [0.25, 0.5, 0.25], atol=0.01)
    # same seed, same interval; another seed, another draw
    x = np.random.default_rng(0).random(50)
    a, b = stats.bootstrap_mean_ci(x, 500, seed=4), stats.bootstrap_mean_ci(x, 500, seed=4)
    assert a.low[0] == b.low[0]
    assert stats.bootstrap_mean_ci(x, 500, seed=5).low[0] != a.low[0]


def test_bootstrap_monotone_bands_for_monotone_curves():
    x = np.maximum.accumulate(np.random.default_rng(2).random((200, 30)), axis=1)
    ci = stats.bootstrap_mean_ci(x, n_resamples=1000, seed=0)
    assert np.all(np.diff(ci.low) >= -1e-12) and np.all(np.diff(ci.high) >= -1e-12)


def test_bootstrap_rejects_bad_input():
    with pytest.raises(ValueError, match="NaN"):
        stats.bootstrap_mean_ci([0.1, np.nan, 0.3])
    with pytest.raises(ValueError, match="at least 2"):
        stats.bootstrap_mean_ci([0.1])
    with pytest.raises(ValueError, match="unknown bootstrap method"):
        stats.bootstrap_mean_ci([0.1, 0.2], method="student")


def test_curve_summary_defined_once_every_run_reported():
    f = pd.DataFrame(dict(benchmark="b", agent="ls", seed=0, set=0, run=[0, 0, 0, 1, 1, 1], query=[1, 2, 3] * 2,
                          validation=[np.nan, 0.7, np.nan, np.nan, np.nan, 0.8],
                          best_validation=[np.nan, 0.7, 0.7, np.nan, np.nan, 0.8],
                          best_test=[np.nan, 0.9, 0.9, np.nan, np.nan, 0.7]))
    s = stats.curve_summary(f, n_resamples=200)
    assert s["n_reported"].tolist() == [0, 1, 2]
    assert np.isnan(s["mean"].iloc[:2]).all()
    assert s["mean"].iloc[2] == pytest.approx(0.8)
    assert s["low"].iloc[2] == pytest.approx(0.7) and s["high"].iloc[2] == pytest.approx(0.9)


# -- closed form, spread, tests, correlations ---------------------------------------------
def test_normal_ci_hand_computed():
    lo, hi = stats.normal_ci(0.9, 0.1, n=4, of="mean")
    half = sps.t.ppf(0.975, 3) * 0.1 / 2
    assert (lo, hi) == pytest.approx((0.9 - half, 0.9 + half))
    lo, hi = stats.normal_ci(0.9, 0.1, of="values")  # no n: the normal quantile
    assert hi - 0.9 == pytest.approx(1.959964 * 0.1, rel=1e-6)
    with pytest.raises(ValueError, match="needs the number of runs"):
        stats.normal_ci(0.9, 0.1)


def test_normal_ci_reproduces_published_intervals():
    """The paper's published-baseline intervals are mean +/- t(n-1) * std (of="values")."""
    from nasbench_lab.analysis import tables

    pub = tables.load_published(kinds=("published",))
    crr = pub[pub["citation"].isin(["[25]", "[8]"]) & (pub["note"] == "")]  # five runs each
    lo, hi = stats.normal_ci(crr["mean"], crr["std"], n=5, of="values")
    # printed to 0.01 percentage points, std rounded to 0.01: 0.005 * t(4) + rounding
    np.testing.assert_allclose(lo, crr["ci_low"], atol=0.0002)
    np.testing.assert_allclose(hi, crr["ci_high"], atol=0.0002)
    # the implied multipliers of every cited row are t quantiles (1.96 .. 2.78, up to rounding), bar the typo row
    k = stats.implied_critical_value(pub["std"], pub["ci_low"], pub["ci_high"])
    ok = (pub["note"] == "").to_numpy()
    assert ((k[ok] > 1.9) & (k[ok] < 3.5)).all()  # 3.0: std printed as 0.01
    assert not ((k[~ok] > 1.9) & (k[~ok] < 3.5)).any()


def test_percentile_intervals_hand_computed():
    s = stats.percentile_intervals(np.arange(101.0), levels=(0.5, 0.8, 0.95))
    assert s.median == 50.0
    assert list(s.intervals) == [0.5, 0.8, 0.95]
    for level, bounds in {0.5: (25.0, 75.0), 0.8: (10.0, 90.0), 0.95: (2.5, 97.5)}.items():
        assert s.intervals[level] == pytest.approx(bounds)
    assert s.skew == pytest.approx(0.0, abs=1e-12) and s.n == 101


def test_skew_normaltest_and_t_fit_follow_scipy():
    rng = np.random.default_rng(0)
    x = rng.exponential(size=500)
    assert stats.skew(x) == pytest.approx(sps.skew(x))
    assert stats.normality(x).pvalue == pytest.approx(sps.normaltest(x).pvalue)
    assert stats.normality(x).pvalue < 1e-6  # exponential is far from normal
    t_sample = sps.t.rvs(5, size=150, random_state=np.random.default_rng(1))
    fit = stats.t_goodness_of_fit(t_sample, n_mc_samples=19, seed=0)
    assert fit.pvalue > 1 / 20  # not rejected at the smallest reachable level
    bad = stats.t_goodness_of_fit(rng.uniform(size=300), n_mc_samples=19, seed=0)
    assert bad.pvalue == pytest.approx(1 / 20)  # the smallest p-value 19 MC samples can give


def test_correlations_hand_computed():
    c = stats.correlations([1, 2, 3, 4], [1, 3, 2, 4])
    assert c.pearson_r == pytest.approx(0.8)
    assert c.kendall_tau == pytest.approx(4 / 6)  # 5 concordant, 1 discordant pair
    c = stats.correlations([1, 2, np.nan, 4, 5], [5, 4, 0, 2, 1])
    assert c.n == 4 and c.kendall_tau == pytest.approx(-1.0)
    with pytest.raises(ValueError, match="equal length"):
        stats.correlations([1, 2], [1])


def test_moving_average_hand_computed():
    np.testing.assert_allclose(stats.moving_average([1.0, 2.0, 3.0, 4.0], n=2), [1.0, 1.5, 2.5, 3.5])
    x = np.arange(30.0)
    sma = stats.moving_average(x, n=10)
    np.testing.assert_allclose(sma[9:], np.convolve(x, np.ones(10) / 10, mode="valid"))
    with pytest.raises(ValueError):
        stats.moving_average(x, n=0)


def test_improvements_pick_test_or_validation():
    ep = pd.DataFrame(dict(agent=["a", "b"], initial_validation=[0.5, 0.6], final_validation=[0.7, 0.5],
                           initial_test=[0.4, 0.5], final_test=[0.8, 0.45]))
    imp = stats.improvements(ep)
    assert imp.attrs["metric"] == "test"
    np.testing.assert_allclose(imp["improvement"], [0.4, -0.05])
    ep[["initial_test", "final_test"]] = np.nan
    imp = stats.improvements(ep)
    assert imp.attrs["metric"] == "validation"
    np.testing.assert_allclose(imp["improvement"], [0.2, -0.1])


def test_anytime_ranks_against_a_loop():
    """Mean ranks per query equal a plain loop over paired runs (ties share the mean rank,
    no report yet ranks last, unpaired runs are left out)."""
    import itertools

    from nasbench_lab.analysis.stats import anytime_ranks

    rng = np.random.default_rng(4)
    rows = []
    curves = {}
    for agent, seed in itertools.product(("a", "b", "c"), range(5)):
        v = np.maximum.accumulate(np.round(rng.uniform(0.5, 0.9, 6), 1))  # coarse: ties happen
        if agent == "c" and seed == 0:
            v[:2] = np.nan  # no report before query 3
        curves[agent, seed] = v
        rows += [("bench", agent, seed, 0, 0, q + 1, x) for q, x in enumerate(v)]
    rows.append(("bench", "a", 99, 0, 0, 1, 0.99))  # a run no other agent has: not ranked
    frame = pd.DataFrame(rows, columns=["benchmark", "agent", "seed", "set", "run", "query", "best_validation"])
    got = anytime_ranks(frame, "validation").set_index(["agent", "query"])["mean_rank"]
    for q in range(6):
        totals = {a: 0.0 for a in "abc"}
        for seed in range(5):
            vals = {a: (-np.inf if np.isnan(curves[a, seed][q]) else curves[a, seed][q]) for a in "abc"}
            for a in "abc":
                better = sum(vals[b] > vals[a] for b in "abc")
                ties = sum(vals[b] == vals[a] for b in "abc")
                totals[a] += better + (ties + 1) / 2
        for a in "abc":
            assert got[a, q + 1] == pytest.approx(totals[a] / 5)
    assert set(anytime_ranks(frame, "validation")["n_pairs"]) == {5}
    with pytest.raises(ValueError, match="compares agents"):
        anytime_ranks(frame[frame["agent"] == "a"], "validation")

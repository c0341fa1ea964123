"""Tables 1 and 2: published rows, budgets, #Q, and the Markdown / LaTeX / CSV renderings."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from nasbench_lab.analysis import stats, tables


def _queries(agent="random_search", runs=8, length=40, seed=0, benchmark="nb101"):
    rng = np.random.default_rng(seed)
    parts = []
    for r in range(runs):
        v = rng.uniform(0.85, 0.95, length)
        parts.append(pd.DataFrame(dict(benchmark=benchmark, agent=agent, seed=0, set=0, run=r,
                                       query=np.arange(1, length + 1), validation=v, test=v - 0.005)))
    return stats.add_best_so_far(pd.concat(parts, ignore_index=True))


def test_published_csv_holds_the_paper_rows():
    raw = pd.read_csv(tables.published_path())
    assert len(raw) == 64
    counts = raw.groupby(["table", "kind"]).size().to_dict()
    assert counts == {(1, "paper"): 16, (1, "published"): 6, (2, "paper"): 24, (2, "published"): 18}
    assert set(raw["benchmark"]) == {"nb101", "nb301"}
    assert (raw["citation"] != "").all() and raw["reference"].str.len().gt(20).all()
    # spot checks against the printed tables
    row = raw[(raw.algorithm == "GraphPNAS") & (raw.budget == 300)].iloc[0]
    assert (row["mean"], row["std"], row["ci_low"], row["ci_high"]) == (94.19, 0.07, 94.03, 94.36)
    row = raw[(raw.algorithm == "Ape-X (Ours)") & (raw.benchmark == "nb301") & (raw.budget == 400)].iloc[0]
    assert (row["queries"], row["mean"], row["ci_low"], row["ci_high"]) == (398, 94.88, 94.87, 94.88)
    row = raw[(raw.algorithm == "Random (NASWOT)")].iloc[0]
    assert row["ci_high"] == 101.21  # printed above 100%: kept as printed
    # every interval contains its mean, except the flagged misprint
    inside = (raw["ci_low"] <= raw["mean"]) & (raw["mean"] <= raw["ci_high"])
    assert inside.all()


def test_load_published_as_fractions():
    pub = tables.load_published("nb101")
    assert set(pub["kind"]) == {"published"} and len(pub) == 6
    assert pub["mean"].between(0.9, 0.95).all()
    both = tables.load_published("nb301", kinds=("published", "paper"))
    assert len(both) == 42
    assert "Local Search (paper)" in set(both["algorithm"])


def test_budget_table_values_match_best_so_far_by_hand():
    q = _queries()
    long = tables.budget_table(q, budgets=(10, 40), n_resamples=500, published=pd.DataFrame())
    assert list(long["budget"]) == [10, 40]
    bsf = stats.best_so_far(q)
    at10 = bsf.values[:, 9]
    row = long.iloc[0]
    assert row["queries"] == 10 and row["n_runs"] == 8
    assert row["mean"] == pytest.approx(at10.mean())
    assert row["std"] == pytest.approx(at10.std(ddof=1))
    assert row["ci_low"] < row["mean"] < row["ci_high"]
    assert row["algorithm"] == "Random Search" and row["source"] == "ours"


def test_reached_query_count_for_sparse_reports_and_short_runs():
    # a local-search-like run that reports at queries 5, 9 and 14 only
    q = pd.DataFrame(dict(benchmark="x", agent="local_search", seed=0, set=0, run=np.repeat([0, 1], 14),
                          query=np.tile(np.arange(1, 15), 2), validation=np.nan, test=np.nan))
    for run in (0, 1):
        for k, qq in enumerate((5, 9, 14)):
            m = (q.run == run) & (q["query"] == qq)
            q.loc[m, ["validation", "test"]] = [0.8 + 0.05 * k + 0.01 * run, 0.9 + 0.01 * k]
    q = stats.add_best_so_far(q)
    long = tables.budget_table(q, budgets=(8, 10, 20), n_resamples=200)
    assert long["queries"].tolist() == [5, 9, 14]  # last report at or before each budget
    assert long["mean"].tolist() == pytest.approx([0.90, 0.91, 0.92])  # carried forward


def test_budget_table_adds_matching_published_rows():
    q = _queries()
    long = tables.budget_table(q, budgets=(50, 100, 150, 300), benchmark="nb101", n_resamples=100)
    pub = long[long.source == "published"]
    assert set(pub["algorithm"]) == {"Random (NASWOT)", "NASWOT", "Random (GraphPNAS)", "NAO", "SemiNAS", "GraphPNAS"}
    assert set(pub["budget"]) == {100, 300}
    # runs of 40 queries: #Q stops at 40, values carried forward
    ours = long[long.source == "ours"]
    assert ours["queries"].tolist() == [40, 40, 40, 40]
    assert ours["mean"].nunique() == 1


def test_paper_tables_render_markdown_latex_with_bold_best():
    t1 = tables.paper_table(1)
    md = tables.to_markdown(t1)
    assert "| GraphPNAS [14]" in md and "**94.19% ± 0.07%**" in md  # best at 300 queries
    assert "**93.73% ± 0.16%**" in md  # Ape-X (paper) best at 50 queries
    wide = tables.wide_table(t1)
    assert wide.loc["NASWOT [20]", ("50 queries", "#Q")] == "N/A"
    assert wide.loc["NASWOT [20]", ("100 queries", "95% CI")] == "[91.67%, 91.87%]"
    tex = tables.to_latex(t1, caption="Table 1", label="tab:t1")
    assert r"\begin{table}" in tex and r"\toprule" in tex and r"\multicolumn{3}{c}{300 queries}" in tex
    assert r"\textbf{94.19\% $\pm$ 0.07\%}" in tex and r"\#Q" in tex
    t2 = tables.wide_table(tables.paper_table(2))
    assert t2.loc["Random Search (paper)", ("800 queries", "#Q")] == "268"  # as printed
    assert list(t2.columns.get_level_values(0).unique()) == [f"{b} queries" for b in (150, 200, 300, 400, 800, 1000)]


def test_write_table_writes_three_files(tmp_path):
    long = tables.budget_table(_queries(), budgets=(10, 20), n_resamples=100, published=pd.DataFrame())
    written = tables.write_table(long, "t", out=tmp_path)
    assert sorted(p.name for p in written) == ["t.csv", "t.md", "t.tex"]
    back = pd.read_csv(tmp_path / "t.csv")
    assert back["mean"].tolist() == pytest.approx(long["mean"].tolist())
    assert "Random Search" in (tmp_path / "t.md").read_text()


def test_budget_table_rejects_bad_budgets_and_missing_file(tmp_path):
    with pytest.raises(ValueError, match="positive"):
        tables.budget_table(_queries(), budgets=(0, 10))
    with pytest.raises(FileNotFoundError, match="published baselines"):
        tables.load_published(path=tmp_path / "none.csv")
    with pytest.raises(ValueError, match="tables"):
        tables.paper_table(3)


def test_latex_escapes_unknown_agent_names():
    long = tables.budget_table(_queries(agent="my_agent&co"), budgets=(10,), n_resamples=100, published=pd.DataFrame())
    tex = tables.to_latex(long)
    assert r"my\_agent\&co" in tex and "my_agent&co" not in tex

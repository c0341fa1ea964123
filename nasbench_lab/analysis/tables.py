"""Tables 1 and 2 of the paper, regenerated from query frames for any benchmark.

A table gives, per algorithm and query budget: ``#Q`` (the query count actually reached),
``mean ± std`` of the best-so-far accuracy over runs, and its 95% confidence interval
(bootstrap for our runs; the published rows keep their printed intervals). Values are
read with ``stats.best_so_far`` (test accuracy of the best-by-validation architecture,
validation where the benchmark has no test accuracy), carrying the last improvement
forward, as the tables' note in the paper says.

``#Q`` (``queries`` column) is the largest query index <= the budget at which some run
of the agent made a report (a query whose result is known). With one report per query
(random search, random walk, learned agents) it equals the budget whenever runs are
that long; local search reports only when a step ends, so its #Q can fall short of the
budget; the values are then those of the last preceding report, carried forward.

The published rows (paper Tables 1 and 2, with citations) live in
``data/published_baselines.csv`` in percent, as printed; ``load_published`` returns them
as fractions like every other accuracy of the package.

>>> long = budget_table(queries, budgets=(50, 100, 150, 300), benchmark="nb101")  # doctest: +SKIP
>>> print(to_markdown(long))                                                     # doctest: +SKIP
>>> write_table(long, "table1_nb101")                                            # doctest: +SKIP
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from .. import paths
from . import stats
from .figures import agent_label, order_agents

#: the paper's query budgets per benchmark (Table 1: NB101, Table 2: NB301)
PAPER_BUDGETS = {"nb101": (50, 100, 150, 300), "nb301": (150, 200, 300, 400, 800, 1000)}
#: budgets for a benchmark the paper does not cover
DEFAULT_BUDGETS = (50, 100, 150, 300)
#: which paper table belongs to which benchmark
PAPER_TABLES = {1: "nb101", 2: "nb301"}
LONG_COLUMNS = ["algorithm", "agent", "source", "budget", "queries", "n_runs", "mean", "std",
                "ci_low", "ci_high", "citation"]


def published_path() -> Path:
    return paths.bundled_dir() / "published_baselines.csv"


def load_published(benchmark: str | None = None, kinds: Sequence[str] = ("published",),
                   path=None) -> pd.DataFrame:
    """The printed rows of paper Tables 1 and 2 as fractions.

    ``kinds``: ``"published"`` (the cited baselines) and/or ``"paper"`` (the paper's own
    results, labelled "... (paper)"). Columns: ``table, benchmark, algorithm, agent, kind,
    budget, queries, mean, std, ci_low, ci_high, citation, reference, note``.
    """
    path = Path(path) if path is not None else published_path()
    if not path.exists():
        raise FileNotFoundError(f"published baselines table not found at {path}")
    frame = pd.read_csv(path, keep_default_na=False, na_values={"queries": [""], "agent": []})
    need = ["benchmark", "algorithm", "kind", "budget", "mean", "std", "ci_low", "ci_high", "citation"]
    missing = [c for c in need if c not in frame.columns]
    if missing:
        raise ValueError(f"{path}: lacks columns {missing}")
    for c in ("mean", "std", "ci_low", "ci_high"):
        frame[c] = pd.to_numeric(frame[c], errors="raise") / 100.0
    frame = frame[frame["kind"].isin(list(kinds))]
    if benchmark is not None:
        frame = frame[frame["benchmark"] == benchmark]
    frame = frame.copy()
    frame.loc[frame["kind"] == "paper", "algorithm"] = frame.loc[frame["kind"] == "paper", "algorithm"] \
        .str.replace("(Ours)", "(paper)", regex=False)
    return frame.reset_index(drop=True)


def references_path() -> Path:
    return paths.bundled_dir() / "nb201_search_references.csv"


def load_references(path=None) -> pd.DataFrame:
    """Published NAS-Bench-201 search results (``data/nb201_search_references.csv``) as
    fractions: ``algorithm, agents`` (our registry names it compares with, a list),
    ``mean, std, citation, note``. The ``optimum`` row has no agents."""
    path = Path(path) if path is not None else references_path()
    if not path.exists():
        raise FileNotFoundError(f"reference table not found at {path}")
    frame = pd.read_csv(path, keep_default_na=False)
    missing = [c for c in ("algorithm", "agents", "mean", "std", "citation") if c not in frame.columns]
    if missing:
        raise ValueError(f"{path}: lacks columns {missing}")
    for c in ("mean", "std"):
        frame[c] = pd.to_numeric(frame[c], errors="raise") / 100.0
    frame["agents"] = [[a for a in str(v).split(";") if a] for v in frame["agents"]]
    return frame


def reference_table(long: pd.DataFrame, references: pd.DataFrame, budgets: Sequence[int] = (100, 300),
                    optimum: float | None = None) -> pd.DataFrame:
    """Our strategies next to published numbers: one row per agent of ``long`` (a
    :func:`budget_table`) with ``mean ± std [CI]`` at each of ``budgets``, the reference
    it compares with (``references``, :func:`load_references`), and ``ours - reference``
    at each budget. References no agent of ``long`` matches (the optimum) are rows of
    their own; ``optimum`` (the benchmark's best reported accuracy) fills ours there."""
    rows = []
    matched = set()
    ours = long[long["source"] == "ours"]
    for agent in order_agents(ours["agent"].unique()):
        g = ours[ours["agent"] == agent].set_index("budget")
        ref = references[[agent in a for a in references["agents"]]]
        row = {"strategy": agent_label(agent)}
        for b in budgets:
            if b in g.index:
                r = g.loc[b]
                row[f"ours at {b} queries"] = (f"{100 * r['mean']:.2f} ± {100 * r['std']:.2f} "
                                               f"[{100 * r['ci_low']:.2f}, {100 * r['ci_high']:.2f}]")
            else:
                row[f"ours at {b} queries"] = "N/A"
        if len(ref):
            r0 = ref.iloc[0]
            matched.add(r0["algorithm"])
            row["published"] = f"{r0['algorithm']}: {100 * r0['mean']:.2f} ± {100 * r0['std']:.2f}"
            for b in budgets:
                row[f"ours - published at {b}"] = (f"{100 * (g.loc[b, 'mean'] - r0['mean']):+.2f}"
                                                   if b in g.index else "N/A")
        else:
            row["published"] = "N/A"
            for b in budgets:
                row[f"ours - published at {b}"] = "N/A"
        rows.append(row)
    for _, r0 in references.iterrows():
        if r0["algorithm"] not in matched and not r0["agents"]:
            row = {"strategy": f"({r0['algorithm']})", "published": f"{100 * r0['mean']:.2f}"}
            if optimum is not None and r0["algorithm"] == "optimum":
                row.update({f"ours at {b} queries": f"{100 * optimum:.2f}" for b in budgets})
                row.update({f"ours - published at {b}": f"{100 * (optimum - r0['mean']):+.2f}" for b in budgets})
            rows.append(row)
    return pd.DataFrame(rows).fillna("")


def budgets_for(benchmark: str | None) -> tuple[int, ...]:
    """The paper's budgets for ``nb101``/``nb301``, ``DEFAULT_BUDGETS`` otherwise."""
    return PAPER_BUDGETS.get(benchmark or "", DEFAULT_BUDGETS)


def budget_table(queries: pd.DataFrame | None, budgets: Sequence[int] | None = None, kind: str = "reported",
                 published: pd.DataFrame | None = None, benchmark: str | None = None,
                 n_resamples: int = 5000, confidence: float = 0.95, seed: int = 0) -> pd.DataFrame:
    """Long table: one row per (algorithm, budget) with #Q, n, mean, std and the CI.

    ``queries``: a query frame (one or more agents; ``None`` for a table of published rows
    only). ``budgets``: default the paper's for ``benchmark`` (or the frame's benchmark).
    ``published``: rows as from ``load_published`` (default: the cited baselines of the
    matching benchmark, if any); rows at other budgets are dropped.
    """
    if benchmark is None and queries is not None and "benchmark" in queries.columns and len(queries):
        names = queries["benchmark"].unique()
        benchmark = str(names[0]) if len(names) == 1 else None
    budgets = tuple(int(b) for b in (budgets or budgets_for(benchmark)))
    if not budgets or min(budgets) < 1:
        raise ValueError(f"budgets must be positive query counts, got {budgets}")
    rows = []
    if queries is not None and len(queries):
        for i, agent in enumerate(order_agents(queries["agent"].unique())):
            bsf = stats.best_so_far(queries[queries["agent"] == agent], kind=kind, max_query=max(budgets))
            for j, b in enumerate(budgets):
                v = bsf.at(b)
                v = v[np.isfinite(v)]
                row = dict(algorithm=agent_label(agent), agent=agent, source="ours", budget=b,
                           queries=bsf.reached(b), n_runs=int(v.size), citation="")
                if v.size >= 2:
                    ci = stats.bootstrap_mean_ci(v, n_resamples=n_resamples, confidence=confidence,
                                                 seed=seed + 1000 * i + j)
                    row.update(mean=float(ci.mean[0]), std=float(ci.std[0]), ci_low=float(ci.low[0]),
                               ci_high=float(ci.high[0]))
                else:
                    row.update(mean=float(v[0]) if v.size else np.nan, std=np.nan, ci_low=np.nan, ci_high=np.nan)
                rows.append(row)
    if published is None and benchmark is not None:
        published = load_published(benchmark)
    if published is not None and len(published):
        for _, p in published[published["budget"].isin(budgets)].iterrows():
            q = p.get("queries", p["budget"])
            rows.append(dict(algorithm=p["algorithm"], agent=p.get("agent", "") or "", source=p.get("kind", "published"),
                             budget=int(p["budget"]), queries=int(q) if pd.notna(q) else int(p["budget"]),
                             n_runs=np.nan, mean=p["mean"], std=p["std"], ci_low=p["ci_low"],
                             ci_high=p["ci_high"], citation=p["citation"]))
    out = pd.DataFrame(rows, columns=LONG_COLUMNS)
    out.attrs.update(budgets=budgets, benchmark=benchmark, kind=kind, confidence=confidence)
    return out


def paper_table(number: int, kinds: Sequence[str] = ("published", "paper")) -> pd.DataFrame:
    """Paper Table 1 (NB101) or 2 (NB301) as printed, as a long table."""
    if number not in PAPER_TABLES:
        raise ValueError(f"the paper has tables {sorted(PAPER_TABLES)}, not {number}")
    bench = PAPER_TABLES[number]
    return budget_table(None, PAPER_BUDGETS[bench], published=load_published(bench, kinds), benchmark=bench)


# --------------------------------------------------------------------------------------
# rendering
# --------------------------------------------------------------------------------------
def _fmt(v: float, pct: str) -> str:
    return f"{100 * v:.2f}{pct}"


def wide_table(long: pd.DataFrame, style: str = "plain", bold_best: bool = True) -> pd.DataFrame:
    """The paper's layout: rows are algorithms (published first), and for every budget
    the columns ``#Q``, ``μ ± σ`` and ``95% CI`` as text (``N/A`` where absent).

    ``style``: ``"plain"``, ``"markdown"`` (best mean per budget in bold) or ``"latex"``.
    """
    pct = r"\%" if style == "latex" else "%"
    pm = r" $\pm$ " if style == "latex" else " ± "
    conf = int(round(100 * long.attrs.get("confidence", 0.95)))
    order = list(dict.fromkeys(
        list(long.loc[long["source"] == "published", "algorithm"])
        + list(long.loc[long["source"] == "paper", "algorithm"])
        + list(long.loc[long["source"] == "ours", "algorithm"])))
    budgets = long.attrs.get("budgets") or tuple(sorted(long["budget"].unique()))
    cols = pd.MultiIndex.from_product([[f"{b} queries" for b in budgets], ["#Q", "μ ± σ", f"{conf}% CI"]])
    table = pd.DataFrame("N/A", index=pd.Index(order, name="Algorithm"), columns=cols)
    for b in budgets:
        at = long[long["budget"] == b]
        best = at["mean"].max() if at["mean"].notna().any() else np.nan
        for _, r in at.iterrows():
            if not np.isfinite(r["mean"]):
                continue
            ms = _fmt(r["mean"], pct) + (pm + _fmt(r["std"], pct) if np.isfinite(r["std"]) else "")
            if bold_best and style != "plain" and np.isclose(r["mean"], best):
                ms = rf"\textbf{{{ms}}}" if style == "latex" else f"**{ms}**"
            ci = (f"[{_fmt(r['ci_low'], pct)}, {_fmt(r['ci_high'], pct)}]"
                  if np.isfinite(r["ci_low"]) else "N/A")
            name = r["algorithm"]
            table.loc[name, (f"{b} queries", "#Q")] = str(int(r["queries"]))
            table.loc[name, (f"{b} queries", "μ ± σ")] = ms
            table.loc[name, (f"{b} queries", f"{conf}% CI")] = ci
    if style == "latex":
        table.columns = pd.MultiIndex.from_tuples(
            [(a, b.replace("μ ± σ", r"$\mu \pm \sigma$").replace("%", r"\%").replace("#", r"\#")) for a, b in table.columns])
    cites = long.drop_duplicates("algorithm").set_index("algorithm")["citation"]
    table.index = [f"{a} {cites.get(a)}" if cites.get(a) and cites.get(a) != "paper" else a for a in table.index]
    if style == "latex":
        table.index = [_tex_escape(a) for a in table.index]
    table.index.name = "Algorithm"
    return table


_TEX = str.maketrans({"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#",
                      "_": r"\_", "{": r"\{", "}": r"\}"})


def _tex_escape(text: str) -> str:
    return str(text).translate(_TEX)


def to_markdown(long: pd.DataFrame, caption: str | None = None) -> str:
    """GitHub Markdown of the paper's layout (budget and field joined in each header)."""
    wide = wide_table(long, style="markdown")
    flat = wide.copy()
    flat.columns = [f"{a}: {b}" for a, b in wide.columns]
    text = flat.to_markdown()
    return f"{caption}\n\n{text}\n" if caption else text + "\n"


def to_latex(long: pd.DataFrame, caption: str | None = None, label: str | None = None) -> str:
    """A LaTeX ``table`` (booktabs) of the paper's layout."""
    wide = wide_table(long, style="latex")
    return wide.style.to_latex(hrules=True, multicol_align="c", caption=caption, label=label,
                               environment="table", position="htbp", position_float="centering")


def default_caption(long: pd.DataFrame) -> str:
    bench = long.attrs.get("benchmark") or "the benchmark"
    kind = long.attrs.get("kind", "reported")
    what = stats.KIND_LABELS.get(kind, kind)
    return (f"Best-so-far {what} on {bench} (mean ± std over runs) and 95% confidence intervals "
            f"(bootstrap, 5,000 resamples, for our runs; as published otherwise) at several query "
            f"budgets. #Q: the query count actually reached; where no run reported at a budget, the "
            f"last preceding report is carried forward.")


def write_table(long: pd.DataFrame, name: str, out=None, caption: str | None = None) -> list[Path]:
    """Write ``<name>.md``, ``<name>.tex`` and ``<name>.csv`` (the long table) atomically."""
    folder = Path(out) if out is not None else paths.figures_dir()
    caption = caption or default_caption(long)
    written = []
    for suffix, text in ((".md", to_markdown(long, caption)),
                         (".tex", to_latex(long, caption=caption, label=f"tab:{name}"))):
        target = folder / f"{name}{suffix}"
        with paths.atomic_write(target, suffix=suffix) as tmp:
            tmp.write_text(text, encoding="utf-8")
        written.append(target)
    target = folder / f"{name}.csv"
    with paths.atomic_write(target, suffix=".csv") as tmp:
        long.to_csv(tmp, index=False)
    written.append(target)
    return written


__all__ = [
    "DEFAULT_BUDGETS", "PAPER_BUDGETS", "PAPER_TABLES", "budget_table", "budgets_for", "default_caption",
    "load_published", "load_references", "paper_table", "reference_table", "references_path", "published_path", "to_latex", "to_markdown", "wide_table", "write_table",
]

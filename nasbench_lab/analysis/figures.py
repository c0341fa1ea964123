"""One function per figure of the paper, each returning a matplotlib Figure.

Every function takes tidy result frames (``schema.py``) or small arrays/frames and draws
on a fresh figure; ``save(fig, name)`` writes ``name.png`` and ``name.pdf`` atomically to
``figures/`` (``paths.figures_dir()``). Agents keep one colour across every figure
(``agent_colour``), accuracies are shown in percent, and each figure states the numbers
the paper reads off it (shares, skews, correlations, outliers) on the figure itself.

==========  ===========================================  ==============================
paper       function                                     input
==========  ===========================================  ==============================
Fig. 3      ``shaping_histogram``                        accuracies (array)
Fig. 4      ``shaping_curves``                           alphas
Fig. 5      ``sampler_histograms``                       frame sampler, vertices, edges
Fig. 7/12   ``initial_vs_improvement``                   episode frame
Fig. 8/13   ``improvement_histograms``                   episode frame
Fig. 9      ``local_optimum``                            episode frame + space
Fig. 10/14  ``best_so_far_curves``                       query frame (+ published rows)
Fig. 11     ``neighbours_vs_accuracy``                   neighbours, accuracy
Fig. 16     ``throughput``                               frame benchmark, n_envs, steps/s
Fig. 17-19  ``training_curves``                          frame setting, step, value
==========  ===========================================  ==============================

>>> fig = shaping_curves((2, 6, 10))          # doctest: +SKIP
>>> save(fig, "fig04_shaping_curves")         # doctest: +SKIP
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd

from .. import paths
from . import stats

# --------------------------------------------------------------------------------------
# style: one colour and one display name per agent, everywhere
# --------------------------------------------------------------------------------------
#: display names of the registry's agents (others are shown as given)
AGENT_LABELS = {
    "random_search": "Random Search", "random_walk": "Random Walk", "local_search": "Local Search",
    "apex": "Ape-X", "ape_x": "Ape-X", "reinforce": "REINFORCE", "regularized_evolution": "Regularized Evolution",
    "evolution": "Evolution", "tpe": "TPE", "bananas": "BANANAS", "random": "Random (NNI)",
    "grid_search": "Grid Search", "policy_based_rl": "PolicyBasedRL",
}
#: fixed order of the known agents (plots list agents in this order)
AGENT_ORDER = ["random_search", "random", "grid_search", "random_walk", "local_search", "apex", "ape_x",
               "reinforce", "policy_based_rl", "regularized_evolution", "evolution", "tpe", "bananas"]
_KNOWN_COLOURS = {"random_search": 0, "random_walk": 1, "local_search": 2, "apex": 3, "ape_x": 3,
                  "reinforce": 4, "regularized_evolution": 5, "evolution": 5, "tpe": 6, "bananas": 8,
                  "random": 7, "grid_search": 9, "policy_based_rl": 8}


#: NNI's multi-trial strategies are drawn dashed, so that ten lines in ten colours stay apart
_DASHED = {"random", "grid_search", "regularized_evolution", "tpe", "policy_based_rl"}


def agent_linestyle(agent: str) -> str:
    """The line style of an agent on every line plot: dashed for NNI's multi-trial strategies."""
    return "--" if agent in _DASHED else "-"


def agent_label(agent: str) -> str:
    """Display name of an agent (``"local_search"`` -> ``"Local Search"``)."""
    return AGENT_LABELS.get(agent, str(agent))


def agent_colour(agent: str):
    """The colour an agent has on every figure (seaborn ``colorblind`` palette)."""
    import seaborn as sns

    pal = sns.color_palette("colorblind", 10)
    if agent in _KNOWN_COLOURS:
        return pal[_KNOWN_COLOURS[agent]]
    # unknown agents: a stable colour from the name, avoiding the known ones' first slots
    h = sum(ord(c) * (i + 1) for i, c in enumerate(str(agent)))
    return sns.color_palette("husl", 12)[h % 12]


def order_agents(agents) -> list[str]:
    """Known agents in ``AGENT_ORDER``, then the others alphabetically."""
    agents = list(dict.fromkeys(agents))
    known = [a for a in AGENT_ORDER if a in agents]
    return known + sorted(a for a in agents if a not in known)


def _style():
    import seaborn as sns

    sns.set_theme(context="paper", style="whitegrid", font_scale=1.1)


def _figure(nrows=1, ncols=1, **kw):
    import matplotlib.pyplot as plt

    _style()
    kw.setdefault("layout", "constrained")
    return plt.subplots(nrows, ncols, **kw)


def _pct(ax, axis="both"):
    from matplotlib.ticker import FuncFormatter

    fmt = FuncFormatter(lambda v, _: f"{100 * v:g}%")
    if axis in ("x", "both"):
        ax.xaxis.set_major_formatter(fmt)
    if axis in ("y", "both"):
        ax.yaxis.set_major_formatter(fmt)


# --------------------------------------------------------------------------------------
# saving
# --------------------------------------------------------------------------------------
def save(fig, name: str, out=None, formats: Sequence[str] = ("png", "pdf"), dpi: int = 150) -> list[Path]:
    """Write ``fig`` as ``<out>/<name>.png`` and ``.pdf`` atomically; return the paths.

    ``out`` defaults to ``paths.figures_dir()`` (``figures/``, or ``$NASBENCH_LAB_FIGURES``).
    """
    import matplotlib.pyplot as plt

    folder = Path(out) if out is not None else paths.figures_dir()
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for fmt in formats:
        target = folder / f"{name}.{fmt}"
        with paths.atomic_write(target, suffix=f".{fmt}") as tmp:
            fig.savefig(tmp, format=fmt, dpi=dpi, bbox_inches="tight")
        written.append(target)
    plt.close(fig)
    return written


# --------------------------------------------------------------------------------------
# Fig. 3 / 4: reward shaping
# --------------------------------------------------------------------------------------
def shaped(acc, alpha: float | None):
    """``exp(alpha * acc)`` rescaled to [0, 1] (``(e^{a x} - 1) / (e^a - 1)``) for plotting
    beside the raw accuracy; the shape of the distribution is that of ``exp(alpha * acc)``
    (an affine map does not change a histogram's shape). ``alpha=None``: ``acc``."""
    acc = np.asarray(acc, float)
    if alpha is None or alpha == 0:
        return acc
    return np.expm1(alpha * acc) / math.expm1(alpha)


def shaping_histogram(accuracies, alpha: float = 6.0, bins: int = 100, title: str | None = None):
    """Fig. 3: histogram of validation accuracies before and after reward shaping (log y).

    ``accuracies``: fractions, e.g. every architecture and every seed of a benchmark.
    The mean of each distribution is marked; the legend names alpha.
    """
    acc = stats._finite(accuracies)
    fig, ax = _figure(figsize=(7, 4))
    after = shaped(acc, alpha)
    edges = np.linspace(0.0, 1.0, bins + 1)
    ax.hist(acc, bins=edges, color="tab:blue", alpha=0.6, label=f"accuracy (mean {100 * acc.mean():.2f}%)")
    ax.hist(after, bins=edges, color="tab:red", alpha=0.6,
            label=fr"shaped, $\alpha$={alpha:g} (rescaled $e^{{\alpha x}}$)")
    for v, c in ((acc.mean(), "tab:blue"), (after.mean(), "tab:red")):
        ax.axvline(v, color=c, lw=1, ls="--")
    ax.set_yscale("log")
    ax.set_xlabel("validation accuracy / shaped reward (rescaled to [0, 1])")
    ax.set_ylabel("count (log)")
    ax.set_title(title or f"Accuracy distribution before and after reward shaping (n={acc.size:,})")
    ax.legend(loc="upper left")
    return fig


def shaping_curves(alphas: Sequence[float | None] = (None, 2, 6, 10, 32), marks: Sequence[float] | None = None):
    """Fig. 4: the shaping functions ``exp(alpha * x)`` for several alphas, rescaled to [0, 1].

    ``marks``: accuracies to highlight (e.g. a benchmark's mean accuracy) as vertical lines.
    """
    fig, ax = _figure(figsize=(6, 4))
    x = np.linspace(0, 1, 401)
    for a in alphas:
        ax.plot(x, shaped(x, a), label="no shaping" if a in (None, 0) else fr"$\alpha$ = {a:g}")
    for m in marks or ():
        ax.axvline(m, color="grey", ls=":", lw=1)
    ax.set_xlabel("validation accuracy")
    ax.set_ylabel(r"$(e^{\alpha x} - 1) / (e^{\alpha} - 1)$")
    ax.set_title("Reward shaping functions")
    ax.legend()
    return fig


# --------------------------------------------------------------------------------------
# Fig. 5: samplers
# --------------------------------------------------------------------------------------
def sampler_histograms(frame: pd.DataFrame, columns: Sequence[str] = ("vertices", "edges")):
    """Fig. 5: histograms of vertex and edge counts per sampler (log y), one panel each.

    ``frame``: one row per sampled architecture with ``sampler`` and the ``columns``.
    """
    missing = [c for c in ("sampler", *columns) if c not in frame.columns]
    if missing:
        raise ValueError(f"sampler frame lacks columns {missing}")
    fig, axes = _figure(1, len(columns), figsize=(5 * len(columns), 4), squeeze=False)
    samplers = list(dict.fromkeys(frame["sampler"]))
    import seaborn as sns

    pal = dict(zip(samplers, sns.color_palette("colorblind", len(samplers))))
    width = 0.8 / max(1, len(samplers))
    for ax, col in zip(axes[0], columns):
        values = np.sort(frame[col].unique())
        for j, s in enumerate(samplers):
            counts = frame.loc[frame["sampler"] == s, col].value_counts().reindex(values, fill_value=0)
            ax.bar(values + (j - (len(samplers) - 1) / 2) * width, counts.to_numpy(), width=width,
                   color=pal[s], label=f"{s} (n={int(counts.sum()):,})")
        ax.set_yscale("log")
        ax.set_xlabel(f"number of {col}")
        ax.set_ylabel("count (log)")
        ax.set_xticks(values)
    axes[0][0].legend()
    fig.suptitle("Architecture size by sampler")
    return fig


# --------------------------------------------------------------------------------------
# Fig. 7 / 12 and 8 / 13: episodes
# --------------------------------------------------------------------------------------
def _agents_of(frame) -> list[str]:
    return order_agents(frame["agent"].unique())


def initial_vs_improvement(episodes: pd.DataFrame, which: str = "auto", levels: Sequence[float] | None = None,
                           max_points: int = 50_000, seed: int = 0):
    """Fig. 7/12: initial accuracy vs improvement over the episode, one panel per agent.

    Dashed diagonals mark constant final accuracy (``levels``, default three round values
    spanning the final accuracies); the shaded triangle is the impossible region where the
    final accuracy would exceed 100%. At most ``max_points`` episodes per agent are drawn
    (a seeded subsample; the panel title gives the total).
    """
    imp = stats.improvements(episodes, which)
    agents = _agents_of(imp)
    ncols = min(len(agents), 4)
    nrows = math.ceil(len(agents) / ncols)
    fig, axes = _figure(nrows, ncols, figsize=(4 * ncols, 3.8 * nrows), squeeze=False, sharex=True, sharey=True)
    x_lo, x_hi = np.nanmin(imp["initial"]), np.nanmax(imp["initial"])
    y_lo, y_hi = np.nanmin(imp["improvement"]), np.nanmax(imp["improvement"])
    pad_x, pad_y = 0.05 * (x_hi - x_lo + 1e-9), 0.05 * (y_hi - y_lo + 1e-9)
    x0, x1 = x_lo - pad_x, min(1.0, x_hi + pad_x)
    y0, y1 = y_lo - pad_y, y_hi + pad_y
    if levels is None:
        fin = imp["final"].to_numpy()
        lo, hi = np.nanpercentile(fin, 5), np.nanpercentile(fin, 95)
        step = max(0.01, round((hi - lo) / 2, 2))
        levels = [round(hi - k * step, 2) for k in (2, 1, 0)]
    rng = np.random.default_rng(seed)
    xs = np.linspace(x0, x1, 2)
    for k, agent in enumerate(agents):
        ax = axes.flat[k]
        sub = imp[imp["agent"] == agent]
        shown = sub if len(sub) <= max_points else sub.iloc[np.sort(rng.choice(len(sub), max_points, replace=False))]
        ax.scatter(shown["initial"], shown["improvement"], s=3, alpha=0.3, color=agent_colour(agent),
                   rasterized=True, linewidths=0)
        for j, lv in enumerate(levels):
            ax.plot(xs, lv - xs, ls="--", lw=0.9, color="0.3")
            xl = x0 + (0.04 + 0.22 * j) * (x1 - x0)   # staggered labels: final accuracy
            if y0 <= lv - xl <= y1:
                ax.annotate(f"final {100 * lv:g}%", xy=(xl, lv - xl), fontsize=7, color="0.2",
                            xytext=(2, 2), textcoords="offset points")
        ax.fill_between(xs, 1.0 - xs, max(y1, 1.0 - x0) + 1, color="tab:red", alpha=0.15, lw=0,
                        label="final > 100%")
        ax.axhline(0, color="black", lw=0.6)
        ax.set_xlim(x0, x1)
        ax.set_ylim(y0, y1)
        ax.set_title(f"{agent_label(agent)} (n={len(sub):,})")
        _pct(ax)
    for ax in axes.flat[len(agents):]:
        ax.set_visible(False)
    for ax in axes[-1]:
        ax.set_xlabel(f"initial {imp.attrs['metric']} accuracy")
    for ax in axes[:, 0]:
        ax.set_ylabel("improvement")
    fig.suptitle("Initial accuracy vs improvement (dashed: constant final accuracy)")
    return fig


def improvement_histograms(episodes: pd.DataFrame, which: str = "auto", clip: float = 0.125, bins: int = 50,
                           levels: Sequence[float] = (0.5, 0.8, 0.95)):
    """Fig. 8/13: histogram of the improvement over an episode, one panel per agent.

    Only improvements within ``[-clip, clip]`` are binned (the excluded outliers are
    counted in the legend, not piled into the extreme bins); the solid line is the median,
    dashed lines the edges of the symmetric ``levels`` intervals around it; the legend
    gives the skew. Statistics are computed on all episodes, not the clipped ones.
    """
    imp = stats.improvements(episodes, which)
    agents = _agents_of(imp)
    fig, axes = _figure(len(agents), 1, figsize=(7, 2.4 * len(agents)), squeeze=False, sharex=True)
    edges = np.linspace(-clip, clip, bins + 1)
    dashes = ["--", "-.", ":"]
    for ax, agent in zip(axes[:, 0], agents):
        d = imp.loc[imp["agent"] == agent, "improvement"].to_numpy()
        d = d[np.isfinite(d)]
        spread = stats.percentile_intervals(d, levels)
        inside = d[(d >= -clip) & (d <= clip)]
        out = d.size - inside.size
        weights = np.full(inside.size, 1.0 / d.size)
        ax.hist(inside, bins=edges, weights=weights, color=agent_colour(agent), alpha=0.8,
                label=f"{agent_label(agent)}: skew {spread.skew:+.3f}")
        ax.axvline(spread.median, color="black", lw=1.6, label=f"median {100 * spread.median:+.2f}%")
        for lv, ls in zip(levels, dashes * 3):
            lo, hi = spread.intervals[lv]
            ax.axvline(lo, color="black", lw=0.9, ls=ls, label=f"{100 * lv:g}%: [{100 * lo:+.2f}%, {100 * hi:+.2f}%]")
            ax.axvline(hi, color="black", lw=0.9, ls=ls)
        ax.plot([], [], " ", label=f"outside ±{100 * clip:g}%: {out:,} ({100 * out / max(1, d.size):.2f}%)")
        ax.set_ylabel("share of episodes")
        ax.legend(fontsize=7, loc="upper left", frameon=True)
        ax.set_xlim(-clip, clip)
    _pct(axes[-1, 0], "x")
    axes[-1, 0].set_xlabel(f"improvement in {imp.attrs['metric']} accuracy over the episode")
    fig.suptitle("Improvement per episode")
    return fig


# --------------------------------------------------------------------------------------
# Fig. 9: the most frequent local-search optimum
# --------------------------------------------------------------------------------------
def local_optimum(episodes: pd.DataFrame, space=None, agent: str = "local_search",
                  arch_of: Callable[[str], Any] | None = None, top: int = 5):
    """Fig. 9: the most frequent final architecture of ``agent``, drawn, with its share.

    ``space`` draws the cell when it has ``draw(arch, ax)`` (duck-typed); ``arch_of`` maps a
    key to an architecture (default ``space.from_key``). A side panel lists the ``top``
    most frequent final architectures and their shares.
    """
    sub = episodes[episodes["agent"] == agent]
    if sub.empty:
        raise ValueError(f"no episodes of agent {agent!r}; agents: {sorted(episodes['agent'].unique())}")
    counts = sub["final_key"].value_counts()
    key, share = counts.index[0], counts.iloc[0] / len(sub)
    fig, (ax_cell, ax_bar) = _figure(1, 2, figsize=(10, 4), gridspec_kw={"width_ratios": [3, 2]})
    drawn = False
    arch = None
    if arch_of is None and space is not None and hasattr(space, "from_key"):
        arch_of = space.from_key
    if arch_of is not None:
        try:
            arch = arch_of(key)
        except (NotImplementedError, KeyError, ValueError):
            arch = None
    if arch is not None and space is not None and callable(getattr(space, "draw", None)):
        space.draw(arch, ax=ax_cell)
        drawn = True
    if not drawn:
        ax_cell.text(0.5, 0.5, str(key), ha="center", va="center", fontsize=9, wrap=True)
        ax_cell.axis("off")
    acc = sub.loc[sub["final_key"] == key, ["final_validation", "final_test"]].iloc[0]
    acc_txt = f"validation {100 * acc['final_validation']:.2f}%"
    if np.isfinite(acc["final_test"]):
        acc_txt += f", test {100 * acc['final_test']:.2f}%"
    ax_cell.set_title(f"{agent_label(agent)}: most frequent optimum, {100 * share:.1f}% of "
                      f"{len(sub):,} episodes\n{acc_txt}", fontsize=9)
    head = counts.iloc[:top] / len(sub)
    labels = [str(k) if len(str(k)) <= 28 else str(k)[:25] + "..." for k in head.index]
    ax_bar.barh(range(len(head))[::-1], head.to_numpy(), color=agent_colour(agent))
    ax_bar.set_yticks(range(len(head))[::-1], labels, fontsize=7)
    ax_bar.set_xlabel("share of episodes")
    _pct(ax_bar, "x")
    ax_bar.set_title(f"top {len(head)} final architectures", fontsize=9)
    return fig


# --------------------------------------------------------------------------------------
# Fig. 10 / 14 / 15: best so far vs queries
# --------------------------------------------------------------------------------------
_COLUMN_LABELS = {"best_test": "test accuracy of the best (by validation)",
                  "best_validation": "best validation accuracy",
                  "oracle_test": "oracle: best test accuracy seen"}

def best_so_far_curves(queries: pd.DataFrame | None = None, published: pd.DataFrame | None = None,
                       kind: str = "reported", max_query: int | None = None, n_resamples: int = 5000,
                       confidence: float = 0.95, seed: int = 0, summary: pd.DataFrame | None = None,
                       title: str | None = None):
    """Fig. 10/14/15: mean best-so-far accuracy vs queries with bootstrap CI bands.

    ``queries``: a query frame (every agent is one line with its band), or a precomputed
    ``summary`` from ``stats.curve_summary``. ``published``: rows with ``algorithm``,
    ``budget``, ``mean``, ``ci_low``, ``ci_high`` (fractions; see ``tables.load_published``)
    drawn as points with error bars (those within the curves' query range). ``kind="oracle"`` draws the labelled oracle curves.
    """
    if summary is None:
        if queries is None:
            raise ValueError("pass a query frame or a curve summary")
        summary = stats.curve_summary(queries, kind=kind, max_query=max_query, n_resamples=n_resamples,
                                      confidence=confidence, seed=seed)
    fig, ax = _figure(figsize=(8, 5))
    for agent in order_agents(summary["agent"].unique()):
        s = summary[summary["agent"] == agent]
        c = agent_colour(agent)
        n_runs = int(s["n_runs"].iloc[0])
        ax.plot(s["query"], s["mean"], color=c, lw=1.6, ls=agent_linestyle(agent),
                label=f"{agent_label(agent)} ({n_runs:,} runs)")
        ax.fill_between(s["query"], s["low"], s["high"], color=c, alpha=0.25, lw=0)
    if published is not None and len(published) and len(summary):
        published = published[published["budget"] <= summary["query"].max()]
    if published is not None and len(published):
        import seaborn as sns

        algos = list(dict.fromkeys(published["algorithm"]))
        markers = "osD^vP*Xh<>"
        greys = sns.color_palette("dark:black", len(algos) + 2)[1:]
        for j, algo in enumerate(algos):
            p = published[published["algorithm"] == algo]
            yerr = np.vstack([p["mean"] - p["ci_low"], p["ci_high"] - p["mean"]])
            ax.errorbar(p["budget"], p["mean"], yerr=np.clip(yerr, 0, None), fmt=markers[j % len(markers)],
                        color=greys[j], ms=5, capsize=3, lw=1, label=f"{algo} (published)")
    column = summary["column"].iloc[0] if "column" in summary and len(summary) else ""
    ax.set_xlabel("queries")
    ax.set_ylabel(_COLUMN_LABELS.get(column, "best-so-far accuracy"))
    _pct(ax, "y")
    if len(summary):
        lo = np.nanpercentile(summary["low"], 2)
        hi = np.nanmax(summary["high"])
        if published is not None and len(published):
            hi = max(hi, float(np.nanmax(np.minimum(published["ci_high"], 1.0))))
        ax.set_ylim(lo - 0.1 * (hi - lo + 1e-9), hi + 0.05 * (hi - lo + 1e-9))
    ax.set_title(title or f"Best architecture found so far ({int(100 * confidence)}% bootstrap CI bands)")
    ax.legend(fontsize=7, ncol=2, loc="lower right")
    return fig


# --------------------------------------------------------------------------------------
# Fig. 11: neighbours vs accuracy
# --------------------------------------------------------------------------------------
def neighbours_vs_accuracy(neighbours, accuracy, max_points: int = 50_000, seed: int = 0,
                           ylabel: str = "test accuracy"):
    """Fig. 11: number of neighbours of an architecture vs its accuracy, with r and tau.

    A jittered scatter (at most ``max_points``, seeded) with the per-count median line.
    """
    nb = np.asarray(neighbours, float)
    acc = np.asarray(accuracy, float)
    corr = stats.correlations(nb, acc)
    fig, ax = _figure(figsize=(7, 4.5))
    rng = np.random.default_rng(seed)
    idx = np.arange(nb.size) if nb.size <= max_points else rng.choice(nb.size, max_points, replace=False)
    ax.scatter(nb[idx] + rng.uniform(-0.3, 0.3, idx.size), acc[idx], s=3, alpha=0.25, color="tab:blue",
               rasterized=True, linewidths=0)
    med = pd.Series(acc).groupby(nb).median()
    ax.plot(med.index, med.to_numpy(), color="black", lw=1.5, label="median per count")
    ax.set_xlabel("number of neighbours")
    ax.set_ylabel(ylabel)
    _pct(ax, "y")
    ax.set_title(f"Pearson r = {corr.pearson_r:.3f}, Kendall τ = {corr.kendall_tau:.3f} (n={corr.n:,})")
    ax.legend(loc="lower right")
    return fig


# --------------------------------------------------------------------------------------
# Fig. 16: throughput
# --------------------------------------------------------------------------------------
def anytime_ranking(ranks: pd.DataFrame, title: str | None = None):
    """Mean rank of each strategy per query budget (the frame of ``stats.anytime_ranks``;
    1 = best), one line per strategy, log-scaled queries."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    for agent in order_agents(ranks["agent"].unique()):
        sub = ranks[ranks["agent"] == agent].sort_values("query")
        ax.plot(sub["query"], sub["mean_rank"], label=agent_label(agent), color=agent_colour(agent),
                ls=agent_linestyle(agent))
    n = int(ranks["n_pairs"].iloc[0]) if len(ranks) else 0
    ax.set_xscale("log")
    ax.set_xlabel("queries")
    ax.set_ylabel("mean rank (1 = best)")
    ax.invert_yaxis()
    ax.set_title(title or f"Anytime ranking over {n} paired runs")
    ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    return fig


def throughput(frame: pd.DataFrame):
    """Fig. 16: environment steps per second vs degree of vectorisation (log-log).

    ``frame``: columns ``benchmark``, ``n_envs`` and ``steps_per_s`` (or
    ``steps_per_second``); one line per benchmark and, where present, per
    ``implementation``/``backend``/``device``.
    """
    rate = "steps_per_s" if "steps_per_s" in frame.columns else "steps_per_second"
    missing = [c for c in ("benchmark", "n_envs", rate) if c not in frame.columns]
    if missing:
        raise ValueError(f"throughput frame lacks columns {missing}")
    groups = ["benchmark"] + [c for c in ("implementation", "backend", "device") if c in frame.columns]
    fig, ax = _figure(figsize=(7, 4.5))
    markers = "os^Dv<>"
    for j, (key, g) in enumerate(frame.groupby(groups, sort=True)):
        key = key if isinstance(key, tuple) else (key,)
        g = g.groupby("n_envs", as_index=False)[rate].median().sort_values("n_envs")
        ax.plot(g["n_envs"], g[rate], marker=markers[j % len(markers)], label=" / ".join(map(str, key)))
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("environments stepped at once")
    ax.set_ylabel("environment steps per second")
    ax.set_title("Environment throughput vs vectorisation")
    ax.legend(fontsize=8)
    return fig


# --------------------------------------------------------------------------------------
# Fig. 17-19: training curves (ablations)
# --------------------------------------------------------------------------------------
def training_curves(curves: pd.DataFrame, window: int = 10, title: str = "Mean validation accuracy during training",
                    ylabel: str = "mean validation accuracy", percent: bool = True, xlabel: str = "training step"):
    """Fig. 17-19: smoothed mean of a logged value over training steps, one line per setting.

    ``curves``: columns ``setting``, ``step``, ``value`` (and optionally ``seed``): the
    mean over seeds at each step is smoothed with a simple moving average of ``window``
    points (the paper: N=10); the band spans the smoothed seeds' min..max where there
    are several seeds.
    """
    missing = [c for c in ("setting", "step", "value") if c not in curves.columns]
    if missing:
        raise ValueError(f"curves frame lacks columns {missing}")
    import seaborn as sns

    fig, ax = _figure(figsize=(7, 4.5))
    settings = list(dict.fromkeys(curves["setting"]))
    pal = dict(zip(settings, sns.color_palette("colorblind", len(settings))))
    for s in settings:
        g = curves[curves["setting"] == s]
        mean = g.groupby("step")["value"].mean().sort_index()
        ax.plot(mean.index, stats.moving_average(mean.to_numpy(), window), color=pal[s], lw=1.6, label=str(s))
        if "seed" in g.columns and g["seed"].nunique() > 1:
            wide = g.pivot_table(index="step", columns="seed", values="value").sort_index()
            sm = np.column_stack([stats.moving_average(wide[c].ffill().to_numpy(), window) for c in wide])
            ax.fill_between(wide.index, np.nanmin(sm, axis=1), np.nanmax(sm, axis=1), color=pal[s], alpha=0.2, lw=0)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(f"{ylabel} (SMA, N={window})" if window > 1 else ylabel)
    if percent:
        _pct(ax, "y")
    ax.set_title(title)
    ax.legend()
    return fig


# --------------------------------------------------------------------------------------
# one-shot search (notebook 09): architecture weights, ranking quality, exports
# --------------------------------------------------------------------------------------
#: log column prefixes of the architecture distribution of a one-shot search
ARCH_WEIGHT_PREFIXES = ("alpha/", "policy/")


def arch_weight_columns(log: pd.DataFrame) -> dict[str, list[tuple[str, str]]]:
    """``{edge or decision: [(choice, column), ...]}`` from the ``alpha/<edge>/<op>`` or
    ``policy/<decision>/<choice>`` columns of a one-shot ``.log`` frame, in column order.

    The edge is everything between the prefix and the last ``/`` (DARTS edges read
    ``normal/0->2``). ValueError when the frame has no such column.

    >>> arch_weight_columns(pd.DataFrame(columns=["epoch", "alpha/0->1/none", "alpha/0->1/skip"]))
    {'0->1': [('none', 'alpha/0->1/none'), ('skip', 'alpha/0->1/skip')]}
    """
    out: dict[str, list[tuple[str, str]]] = {}
    for col in map(str, log.columns):
        prefix = next((p for p in ARCH_WEIGHT_PREFIXES if col.startswith(p)), None)
        if prefix is None or col.count("/") < 2:
            continue
        edge, choice = col[len(prefix):].rsplit("/", 1)
        out.setdefault(edge, []).append((choice, col))
    if not out:
        shown = ", ".join(map(str, list(log.columns)[:8])) or "none"
        raise ValueError("the log has no architecture weights: no 'alpha/<edge>/<op>' or "
                         f"'policy/<decision>/<choice>' columns (columns: {shown}); random_one_shot (SPOS) "
                         "samples paths uniformly and logs none")
    return out


def arch_weights_heatmap(log: pd.DataFrame, title: str | None = None, ncols: int | None = None):
    """One heat-map per edge (or controller decision) of the architecture probabilities
    over epochs: rows the candidate ops/choices, columns the epochs, one colour scale shared by
    every panel (0 .. the largest probability logged). Each panel's title names the edge and the final most probable choice.

    ``log``: a ``OneShotResult.log`` frame (``epoch`` and ``alpha/...`` or ``policy/...``
    columns). ValueError when it has none (see :func:`arch_weight_columns`).
    """
    groups = arch_weight_columns(log)
    epochs = log["epoch"].to_numpy() if "epoch" in log.columns else np.arange(1, len(log) + 1)
    n = len(groups)
    ncols = int(ncols or min(n, 6 if n > 8 else 3))
    nrows = math.ceil(n / ncols)
    n_choices = max(len(v) for v in groups.values())
    fig, axes = _figure(nrows, ncols, figsize=(2.9 * ncols, 0.35 * n_choices * nrows + 1.1 * nrows + 0.6),
                        squeeze=False)
    image = None
    # one colour scale for every panel: 0 .. the largest probability logged (at small
    # budgets every probability stays near uniform and a 0..1 scale would hide the moves)
    top = float(np.nanmax(log[[c for v in groups.values() for _, c in v]].to_numpy(dtype=float)))
    top = min(1.0, top) if np.isfinite(top) and top > 0 else 1.0
    for ax, (edge, items) in zip(axes.flat, groups.items()):
        matrix = log[[c for _, c in items]].to_numpy(dtype=float).T  # choices x epochs
        image = ax.imshow(matrix, aspect="auto", vmin=0.0, vmax=top, cmap="viridis", interpolation="nearest")
        labels = [choice for choice, _ in items]
        ax.set_yticks(range(len(labels)), labels, fontsize=7)
        step = max(1, math.ceil(len(epochs) / 8))
        ax.set_xticks(range(0, len(epochs), step), [str(e) for e in epochs[::step]], fontsize=7)
        ax.grid(False)
        best = labels[int(np.nanargmax(matrix[:, -1]))] if matrix.size else "?"
        ax.set_title(f"{edge}: {best}", fontsize=8)
    for ax in list(axes.flat)[n:]:
        ax.remove()
    for ax in axes[-1, :]:
        if ax.figure is not None:
            ax.set_xlabel("epoch", fontsize=8)
    if image is not None:
        fig.colorbar(image, ax=[a for a in axes.flat if a.figure is not None], shrink=0.8, label="probability")
    kind = "controller policy" if next(iter(groups.values()))[0][1].startswith("policy/") else "softmax(alpha)"
    fig.suptitle(title or f"Architecture weights ({kind}) per edge over {len(epochs)} epochs", fontsize=10)
    return fig


def ranking_scatter(inherited, standalone, tau: float | None = None, rho: float | None = None,
                    title: str | None = None, labels: Sequence[str] | None = None):
    """Inherited-weight (super-net) accuracy against stand-alone accuracy of the same cells,
    with Kendall's tau and Spearman's rho (computed with scipy when not given) in the title
    and the legend. Both axes in percent."""
    x = np.asarray(inherited, dtype=float)
    y = np.asarray(standalone, dtype=float)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(f"inherited and standalone need one accuracy per cell, got shapes {x.shape} and {y.shape}")
    if len(x) < 2:
        raise ValueError("ranking_scatter needs at least 2 cells")
    if tau is None or rho is None:
        from scipy import stats as sst

        tau = float(sst.kendalltau(x, y).statistic) if tau is None else tau
        rho = float(sst.spearmanr(x, y).statistic) if rho is None else rho
    fig, ax = _figure(figsize=(5.5, 4.5))
    ax.scatter(x, y, s=28, alpha=0.8, color=agent_colour("random_search"),
               label=f"{len(x)} cells: Kendall τ = {tau:.2f}, Spearman ρ = {rho:.2f}")
    if labels is not None:
        for xi, yi, lab in zip(x, y, labels):
            ax.annotate(str(lab), (xi, yi), fontsize=6, alpha=0.7)
    ax.set_xlabel("inherited-weight accuracy (super-net)")
    ax.set_ylabel("stand-alone accuracy")
    _pct(ax, "both")
    ax.legend(fontsize=8, loc="best")
    ax.set_title(title or f"Super-net ranking vs stand-alone training: τ = {tau:.2f}, ρ = {rho:.2f}", fontsize=10)
    return fig


def oneshot_curves(logs: dict, column: str = "val_acc", title: str | None = None):
    """One line per one-shot method of a logged value over epochs (``logs``: name -> the
    ``.log`` frame of a search; default the inherited-weight validation accuracy of the
    architecture the search would export at each epoch)."""
    if not logs:
        raise ValueError("no logs given")
    fig, ax = _figure(figsize=(7, 4.2))
    for name, log in logs.items():
        if column not in log.columns:
            raise ValueError(f"the log of {name!r} has no column {column!r}; columns: {list(log.columns)[:8]}")
        ax.plot(log["epoch"], log[column], marker="o", ms=3, label=str(name))
    ax.set_xlabel("epoch")
    ax.set_ylabel({"val_acc": "validation accuracy (inherited weights)", "train_acc": "training accuracy",
                   "train_loss": "training loss"}.get(column, column))
    if column.endswith("acc"):
        _pct(ax, "y")
    ax.legend(fontsize=8)
    ax.set_title(title or f"One-shot search: {column} over epochs")
    return fig


def architectures(space, archs: dict, notes: dict | None = None, title: str | None = None):
    """Draw each architecture of ``archs`` (label -> arch) with ``space.draw_on`` on the
    space's ``draw_panels`` axes (one for NB201, two for DARTS's normal and reduction
    cells); ``notes`` (label -> text) goes under each title."""
    if not archs:
        raise ValueError("no architectures given")
    per = int(getattr(space, "draw_panels", 1))
    two = per > 1
    n = len(archs)
    ncols = per if two else min(n, 3)
    nrows = n if two else math.ceil(n / ncols)
    fig, axes = _figure(nrows, ncols, figsize=(5.2 * ncols, 3.4 * nrows), squeeze=False)
    flat = list(axes.flat)
    for i, (label, arch) in enumerate(archs.items()):
        panel = flat[i * per:(i + 1) * per]
        space.draw_on(arch, panel)
        note = f"\n{notes[label]}" if notes and label in notes else ""
        drawn = panel[0].get_title().replace("|+|", "|\n+|")  # NB201 strings: one line per node
        panel[0].set_title(f"{label}{note}\n{drawn}", fontsize=8)
    for ax in flat[n * per:]:
        ax.remove()
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


#: paper figure number -> function
FIGURES = {
    3: shaping_histogram, 4: shaping_curves, 5: sampler_histograms, 7: initial_vs_improvement,
    8: improvement_histograms, 9: local_optimum, 10: best_so_far_curves, 11: neighbours_vs_accuracy,
    12: initial_vs_improvement, 13: improvement_histograms, 14: best_so_far_curves,
    15: best_so_far_curves, 16: throughput, 17: training_curves, 18: training_curves, 19: training_curves,
}

__all__ = [
    "AGENT_LABELS", "AGENT_ORDER", "FIGURES", "agent_colour", "agent_label", "agent_linestyle", "anytime_ranking", "best_so_far_curves",
    "improvement_histograms", "initial_vs_improvement", "local_optimum", "neighbours_vs_accuracy",
    "order_agents", "sampler_histograms", "save", "shaped", "shaping_curves", "shaping_histogram",
    "throughput", "training_curves",
    "ARCH_WEIGHT_PREFIXES", "arch_weight_columns", "arch_weights_heatmap", "architectures", "oneshot_curves",
    "ranking_scatter",
]

"""ipywidgets controls that redraw the paper's figures: benchmark, agent, budget, alpha, N.

:func:`explorer` is the generic piece: give it a drawing function returning a matplotlib
Figure and one control spec per keyword argument of that function; every change of a
control redraws the figure below the controls. Specs:

* a list/tuple of strings -> a dropdown (the first entry is the initial value),
* ``(min, max)`` or ``(min, max, step)`` or ``(min, max, step, value)`` of numbers -> a slider
  (integer when all numbers are integers, float otherwise),
* a ``set`` of strings -> a multi-select (all selected initially),
* an ``ipywidgets.Widget`` -> used as is.

The named explorers below wire it to ``nasbench_lab.analysis`` figure functions. ipywidgets
is imported lazily, so importing this module costs nothing.

>>> import nasbench_lab as nl
>>> def draw(alpha):                                              # doctest: +SKIP
...     return nl.analysis.figures.shaping_curves(alphas=[alpha])
>>> nl.widgets.explorer(draw, alpha=(0.0, 32.0, 1.0, 6.0))      # doctest: +SKIP
"""
from __future__ import annotations

from typing import Any, Callable

from . import paths

#: the control names the notebooks use, with their labels
LABELS = {
    "benchmark": "benchmark",
    "agent": "agent",
    "agents": "agents",
    "budget": "query budget",
    "alpha": "alpha (shaping)",
    "N": "N",
    "seed": "seed",
    "strategy": "strategy",
    "seeds": "seeds",
    "population_size": "population (evolution)",
    "sample_size": "tournament (evolution)",
    "n_startup_trials": "startup trials (TPE)",
}


def _control(name: str, spec: Any):
    w = paths.require("ipywidgets", "the notebook widgets")

    label = LABELS.get(name, name)
    style = {"description_width": "initial"}
    if isinstance(spec, w.Widget):
        return spec
    if isinstance(spec, (set, frozenset)):
        options = sorted(spec)
        return w.SelectMultiple(options=options, value=tuple(options), description=label,
                                rows=min(len(options), 6), style=style)
    if isinstance(spec, (list, tuple)) and spec and all(isinstance(s, str) for s in spec):
        return w.Dropdown(options=list(spec), value=spec[0], description=label, style=style)
    if isinstance(spec, tuple) and 2 <= len(spec) <= 4 and all(isinstance(s, (int, float)) for s in spec):
        lo, hi = spec[0], spec[1]
        is_int = all(isinstance(s, int) and not isinstance(s, bool) for s in spec)
        step = spec[2] if len(spec) > 2 else (1 if is_int else (hi - lo) / 100)
        value = spec[3] if len(spec) > 3 else lo
        cls = w.IntSlider if is_int else w.FloatSlider
        return cls(min=lo, max=hi, step=step, value=value, description=label,
                   continuous_update=False, style=style, layout=w.Layout(width="420px"))
    raise TypeError(
        f"control {name!r}: cannot build a widget from {spec!r}; use a list of strings, "
        "a (min, max[, step[, value]]) tuple of numbers, a set of strings or a Widget")


class Explorer:
    """Controls plus an output area; ``redraw()`` calls the drawing function again.

    Attributes: ``controls`` (name -> widget), ``output`` (the ipywidgets Output),
    ``figure`` (the last matplotlib Figure drawn), ``box`` (the widget to display),
    ``error`` (the last exception raised by the drawing function, or None).
    """

    def __init__(self, draw: Callable[..., Any], controls: dict, title: str | None = None):
        w = paths.require("ipywidgets", "the notebook widgets")

        self.draw = draw
        self.controls = controls
        self.output = w.Output()
        self.figure = None
        self.error: BaseException | None = None
        header = [w.HTML(f"<b>{title}</b>")] if title else []
        self.box = w.VBox(header + [w.HBox(list(controls.values()), layout=w.Layout(flex_flow="row wrap")),
                                    self.output])
        for c in controls.values():
            c.observe(lambda change: self.redraw(), names="value")

    def values(self) -> dict:
        return {k: (list(c.value) if isinstance(c.value, tuple) else c.value) for k, c in self.controls.items()}

    def redraw(self):
        import matplotlib.pyplot as plt
        from IPython.display import display

        self.output.clear_output(wait=True)
        with self.output:
            try:
                fig = self.draw(**self.values())
                self.error = None
            except Exception as exc:  # shown in the output area, kept for inspection
                self.error = exc
                print(f"{type(exc).__name__}: {exc}")
                return None
            if fig is not None:
                display(fig)
                if hasattr(fig, "savefig"):  # a matplotlib Figure: shown once, then freed
                    plt.close(fig)
            self.figure = fig
        return self.figure

    def _ipython_display_(self):
        from IPython.display import display

        display(self.box)


def explorer(draw: Callable[..., Any], title: str | None = None, **specs) -> Explorer:
    """Build controls from ``specs`` (see module docstring) and draw once.

    ``draw`` receives one keyword argument per spec and returns a matplotlib Figure.
    Display the returned object (last expression of a cell) to show it.
    """
    if not specs:
        raise ValueError("explorer needs at least one control spec, e.g. alpha=(0.0, 32.0)")
    controls = {name: _control(name, spec) for name, spec in specs.items()}
    ex = Explorer(draw, controls, title=title)
    ex.redraw()
    return ex


# -- the paper's figures, wired to controls ---------------------------------------------
def _analysis():
    from .analysis import figures, stats, tables

    return figures, stats, tables


def _one(frames, benchmark: str):
    """The rows of ``benchmark`` from a frame with a ``benchmark`` column (or a dict of frames)."""
    if isinstance(frames, dict):
        return frames[benchmark]
    return frames[frames["benchmark"] == benchmark]


def _benchmarks_of(frames) -> list[str]:
    names = list(frames) if isinstance(frames, dict) else list(dict.fromkeys(frames["benchmark"]))
    if not names:
        raise ValueError("no results: the frame is empty")
    return names


def shaping_explorer(benchmarks: dict, alpha: float = 6.0) -> Explorer:
    """Fig. 3 with a benchmark dropdown and an alpha slider (validation accuracies, log y).

    ``benchmarks``: name -> tabular benchmark (anything with a ``validation`` array).
    """
    figures, _, _ = _analysis()
    names = list(benchmarks)
    return explorer(
        lambda benchmark, alpha: figures.shaping_histogram(
            benchmarks[benchmark].validation, alpha=alpha,
            title=f"{benchmark}: accuracy before and after shaping (Fig. 3)"),
        title="Reward shaping (Fig. 3): pick a benchmark and alpha",
        benchmark=names, alpha=(0.0, 40.0, 1.0, float(alpha)))


def best_so_far_explorer(queries, budget: int | None = None, n_resamples: int = 1000, seed: int = 0,
                         published: bool = True) -> Explorer:
    """Fig. 10/14 with benchmark, agents and query-budget controls.

    ``queries``: a query frame (``schema.QUERY_COLUMNS``) with a ``benchmark`` column, or a
    dict name -> query frame. The published baselines of the paper are drawn for
    ``nb101``/``nb301`` when ``published``.
    """
    figures, _, tables = _analysis()
    names = _benchmarks_of(queries)
    first = _one(queries, names[0])
    max_q = int(budget or first["query"].max())
    agents = set(first["agent"].unique())

    def draw(benchmark, agents, budget):
        q = _one(queries, benchmark)
        q = q[q["agent"].isin(agents)]
        if q.empty:
            raise ValueError("select at least one agent")
        pub = tables.load_published(benchmark) if (published and benchmark in ("nb101", "nb301")) else None
        if pub is not None:
            pub = pub[pub["budget"] <= budget]
        return figures.best_so_far_curves(q, published=pub, max_query=budget, n_resamples=n_resamples,
                                          seed=seed, title=f"{benchmark}: best so far vs queries (Fig. 10)")

    return explorer(draw, title="Best so far vs queries (Fig. 10): pick benchmark, agents, budget",
                    benchmark=names, agents=agents,
                    budget=(min(10, max_q), max_q, max(1, max_q // 30), max_q))


#: the options each explorer control sets, per strategy that has them
STRATEGY_OPTIONS = {"regularized_evolution": ("population_size", "sample_size"), "tpe": ("n_startup_trials",)}


def strategy_explorer(benchmark, strategies=None, reference: str | None = "random_search", budget: int = 300,
                      seeds: int = 5, n_resamples: int = 1000, seed: int = 0) -> Explorer:
    """Run one multi-trial strategy on ``benchmark`` from controls and draw its best-so-far
    curve (bootstrap 95% band) next to ``reference``'s (random search) under the same seeds.

    Controls: strategy, query budget, seeds (search runs), the population and tournament
    sizes of regularized evolution and TPE's startup trials (each applies to its strategy
    only). Every change reruns the searches through ``experiment.compare``, so keep
    ``seeds`` and ``budget`` small in a live session (TPE's cost grows with its trials).
    ``strategies``: registry names (default: NNI's multi-trial strategies that fit the
    benchmark's space, ``notebook.MULTI_TRIAL``).
    """
    from .experiment.runner import compare
    from .notebook import MULTI_TRIAL, strategies_for

    figures, _, _ = _analysis()
    names = list(strategies) if strategies is not None else strategies_for(benchmark.space, MULTI_TRIAL, show=False)
    if not names:
        raise ValueError("no strategy to explore: none of the given ones fits the benchmark's space")
    label = getattr(benchmark, "name", "benchmark")

    def draw(strategy, budget, seeds, population_size, sample_size, n_startup_trials):
        given = {"population_size": population_size, "sample_size": min(sample_size, population_size),
                 "n_startup_trials": n_startup_trials}
        options = {strategy: {k: given[k] for k in STRATEGY_OPTIONS.get(strategy, ())}}
        runs = [strategy] + ([reference] if reference and reference != strategy else [])
        frame = compare(runs, benchmark, budget, seeds=range(seed, seed + seeds), strategy_options=options)
        shown = ", ".join(f"{k}={v}" for k, v in options[strategy].items())
        return figures.best_so_far_curves(frame, max_query=budget, n_resamples=n_resamples, seed=seed,
                                          title=f"{label}: {strategy}{f' ({shown})' if shown else ''}, "
                                                f"{seeds} runs, 95% bootstrap band")

    return explorer(draw, title="A multi-trial strategy against random search: pick a strategy and its settings",
                    strategy=names, budget=(10, max(10, int(budget)), 10, int(budget)),
                    seeds=(1, max(1, 4 * int(seeds)), 1, int(seeds)), population_size=(2, 200, 2, 100),
                    sample_size=(1, 100, 1, 25), n_startup_trials=(1, 100, 1, 20))


def improvement_explorer(episodes) -> Explorer:
    """Fig. 8 or Fig. 7 for one agent at a time: agent, figure and benchmark dropdowns.

    ``episodes``: an episode frame with a ``benchmark`` column, or a dict name -> frame.
    """
    figures, _, _ = _analysis()
    names = _benchmarks_of(episodes)
    agents = figures.order_agents(_one(episodes, names[0])["agent"].unique())
    kinds = {"Fig. 8: improvement histogram": figures.improvement_histograms,
             "Fig. 7: initial accuracy vs improvement": figures.initial_vs_improvement}

    def draw(agent, figure, benchmark):
        e = _one(episodes, benchmark)
        e = e[e["agent"] == agent]
        if e.empty:
            raise ValueError(f"no episodes of {agent} on {benchmark}")
        fig = kinds[figure](e)
        fig.suptitle(f"{benchmark}", x=0.01, ha="left", fontsize=9)
        return fig

    return explorer(draw, title="Improvement over an episode (Fig. 7 and 8): pick an agent",
                    agent=list(agents), figure=list(kinds), benchmark=names)


def neighbours_explorer(benchmark, agents=("local_search", "random_walk"), n_values=(5, 100, 5, 50),
                        set_size: int = 1000, budget: int = 100, seed: int = 0, n_resamples: int = 500) -> Explorer:
    """Re-run the protocol with N shown neighbours per step and redraw Fig. 10 (§5.2).

    Each change of the N slider runs ``agents`` on one set of ``set_size`` initial states of
    ``benchmark`` (vectorised; seconds on a tabular benchmark) and draws the best-so-far
    curves: with fewer neighbours local search pays less per step, but sees less.
    """
    from .experiment import protocol

    figures, _, _ = _analysis()
    cache: dict[int, object] = {}

    def draw(N):
        if N not in cache:
            cfg = protocol.ProtocolConfig(n_sets=1, set_size=set_size, budget=budget, n_neighbours=int(N),
                                          seeds=(seed,), initial_seed=seed, max_steps=32)
            cache[N] = protocol.run_protocol(benchmark, list(agents), cfg, progress=False).queries
        return figures.best_so_far_curves(cache[N], n_resamples=n_resamples, seed=seed,
                                          title=f"{getattr(benchmark, 'name', '')}: N = {N} shown neighbours")

    return explorer(draw, title="Neighbours shown per step (N): the protocol re-runs on each change",
                    N=tuple(int(v) for v in n_values))


# -- the Ape-X agent (notebook 06) -------------------------------------------------------
#: training-log columns of ``strategies.apex`` the Ape-X explorers offer -> axis label
APEX_METRICS = {
    "mean_final_validation": "mean validation accuracy at episode end",
    "mean_return": "mean episode return (shaped reward)",
    "mean_q": "mean Q of the replayed actions",
    "loss": "learner loss (weighted Huber)",
    "steps_per_second": "env steps per second",
}
_ABLATION_NAMES = {"gamma": "γ: discount (Fig. 17)", "n_neighbours": "N: neighbours shown (Fig. 18)",
                   "alpha": "α: reward shaping (Fig. 19)"}


def _metric_choices(columns) -> dict[str, str]:
    """Axis label -> log column, for the logged values present in ``columns``."""
    return {label: col for col, label in APEX_METRICS.items() if col in columns}


def ablation_explorer(frame, benchmark: str = "", window: int = 10) -> Explorer:
    """Figs. 17-19 from one ablation frame: pick the parameter (γ, N, α), the logged value
    and the moving-average window.

    ``frame``: the tidy frame of ``strategies.apex_studies.ablation_grid`` (one line per
    setting; the band spans the seeds where there are several).
    """
    from .strategies import apex_studies

    figures, _, _ = _analysis()
    present = [p for p in apex_studies.FIGURE_OF if (frame["parameter"] == p).any()]
    if not present:
        raise ValueError("the ablation frame has no rows")
    parameters = {_ABLATION_NAMES[p]: p for p in present}
    metrics = _metric_choices(frame.columns)

    def draw(parameter, value, window):
        p, col = parameters[parameter], metrics[value]
        curves = apex_studies.ablation_curves(frame, p, metric=col)
        return figures.training_curves(
            curves, window=int(window), xlabel="training env steps", ylabel=value,
            percent=col == "mean_final_validation",
            title=f"Fig. {apex_studies.FIGURE_OF[p]}: Ape-X on {benchmark or 'the benchmark'}, {parameter.split(' (')[0]}")

    return explorer(draw, title="Ape-X ablations (Figs. 17-19): pick the parameter and the logged value",
                    parameter=list(parameters), value=list(metrics), window=(1, 20, 1, int(window)))


def _apex_runs(logs, ablation) -> dict[str, dict[int, Any]]:
    """``{run label: {seed: training log}}`` from ``logs`` and an ablation frame."""
    import math

    import pandas as pd

    runs: dict[str, dict[int, Any]] = {}
    items = logs.items() if isinstance(logs, dict) else [("trained", logs)]
    for label, v in items:
        if isinstance(v, pd.DataFrame):
            v = ({int(s): g for s, g in v.groupby("seed")} if "seed" in v.columns
                 else {int(v.attrs.get("seed", 0)): v})
        runs[str(label)] = {int(s): g for s, g in dict(v).items()}
    if ablation is not None and len(ablation):
        for (g, n, a, s), log in ablation.groupby(["gamma", "n_neighbours", "alpha", "seed"], dropna=False,
                                                  sort=False):
            a = "none" if a is None or (isinstance(a, float) and math.isnan(a)) else f"{float(a):g}"
            label = f"ablation: γ = {float(g):g}, N = {int(n)}, α = {a}"
            # the base setting appears once per parameter: its rows are the same run
            runs.setdefault(label, {})[int(s)] = log.drop_duplicates("env_steps")
    if not runs:
        raise ValueError("no training logs given")
    return runs


def training_explorer(logs, ablation=None, window: int = 10) -> Explorer:
    """Ape-X training curves: pick the run, the trained seed and the logged value.

    ``logs``: ``{run label: {seed: log}}`` where ``log`` is the ``.log`` frame of
    ``strategies.apex.train`` (a single frame with a ``seed`` column also works);
    ``ablation``: optionally an ``apex_studies.ablation_grid`` frame, whose runs are added
    (one per setting). The seed dropdown offers every trained seed and ``"all seeds"``
    (their mean, with the min..max band where a run has several).
    """
    import pandas as pd

    figures, _, _ = _analysis()
    runs = _apex_runs(logs, ablation)
    seeds = sorted({s for r in runs.values() for s in r})
    columns = set().union(*(set(log.columns) for r in runs.values() for log in r.values()))
    metrics = _metric_choices(columns)

    def draw(run, seed, value, window):
        by_seed = runs[run]
        chosen = sorted(by_seed) if seed == "all seeds" else [int(seed.split()[-1])]
        missing = [s for s in chosen if s not in by_seed]
        if missing:
            raise ValueError(f"{run!r} was not trained with seed {missing[0]}; its seeds: {sorted(by_seed)}")
        col = metrics[value]
        curves = pd.concat([pd.DataFrame({"setting": f"seed {s}" if len(chosen) == 1 else "mean over seeds",
                                          "seed": s, "step": by_seed[s]["env_steps"].to_numpy(),
                                          "value": by_seed[s][col].to_numpy()}) for s in chosen],
                           ignore_index=True)
        return figures.training_curves(curves, window=int(window), xlabel="training env steps", ylabel=value,
                                       percent=col == "mean_final_validation", title=f"Ape-X training: {run}")

    return explorer(draw, title="Ape-X training curves: pick the run, the trained seed and the logged value",
                    run=list(runs), seed=[*(f"seed {s}" for s in seeds), "all seeds"], value=list(metrics),
                    window=(1, 20, 1, int(window)))


# -- one-shot search (notebook 09) -------------------------------------------------------
#: the figures :func:`oneshot_explorer` offers
ONESHOT_FIGURES = ("architecture weights (heat-map)", "validation accuracy over epochs")


def oneshot_explorer(results: dict) -> Explorer:
    """One-shot searches side by side: pick the method and the figure (its architecture
    weights per edge over epochs, or the inherited-weight validation accuracy of its
    current export per epoch, drawn against the other methods' in grey).

    ``results``: name -> ``oneshot.OneShotResult`` (anything with a ``.log`` frame). A
    method that logs no architecture weights (``random_one_shot``) shows why in the
    output area.
    """
    figures, _, _ = _analysis()
    if not results:
        raise ValueError("no one-shot results given")
    names = list(results)

    def draw(method, figure):
        r = results[method]
        export = getattr(r, "arch", None)
        shown = f" -> {export}" if export is not None else ""
        if figure == ONESHOT_FIGURES[0]:
            return figures.arch_weights_heatmap(r.log, title=f"{method}: architecture weights over epochs{shown}")
        fig = figures.oneshot_curves({n: results[n].log for n in names},
                                     title=f"{method}: inherited-weight validation accuracy over epochs")
        ax = fig.axes[0]
        for line in ax.get_lines():
            if line.get_label() != method:
                line.set_color("0.75")
                line.set_alpha(0.6)
            else:
                line.set_linewidth(2.5)
                line.set_zorder(3)
        ax.legend(fontsize=8)
        return fig

    return explorer(draw, title="One-shot search: pick a method and a figure",
                    method=names, figure=list(ONESHOT_FIGURES))


__all__ = ["APEX_METRICS", "Explorer", "LABELS", "STRATEGY_OPTIONS", "ablation_explorer", "best_so_far_explorer",
           "explorer", "improvement_explorer", "neighbours_explorer", "shaping_explorer", "strategy_explorer",
           "training_explorer", "ONESHOT_FIGURES", "oneshot_explorer"]

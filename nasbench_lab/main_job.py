"""The main job (``make figures`` = ``nasbench-lab figures``): the offline default end to end.

1. load NAS-Bench-Moons (bundled) and, when the real NAS-Bench-201 table is found beside
   the project (``paths.shared_data_dir()``), NAS-Bench-201 as well;
2. train the paper's Ape-X agent (``strategies.apex``, small preset) on every loaded
   benchmark; trainings are checkpointed in ``data/cache/apex/`` and reused by a rerun;
3. run every strategy that builds on the benchmark's space (random search, random walk,
   local search and REINFORCE where they fit the space, see :func:`protocol_agents`) and the trained Ape-X agents through the one
   evaluation protocol (``nasbench_lab.run_protocol``) on every loaded benchmark: one query
   frame per benchmark holds them all (REINFORCE runs by ask/tell, each search run a fresh
   controller), so Fig. 10 and the best-so-far table compare every strategy, and
   REINFORCE's learning curve is drawn from the same frame;
4. the side-by-side comparison of every strategy (the paper's baselines, NNI's multi-trial
   strategies, REINFORCE and the trained Ape-X agents) on every loaded benchmark:
   ``strategy_seeds`` (100) search runs of ``budget`` (300) queries each, through
   ``experiment.compare`` over ``workers`` processes (:func:`step_strategies`);
5. the Ape-X ablation grid of §5 on NAS-Bench-Moons (Figs. 17-19) and, with NAS-Bench-201,
   the reuse of the CIFAR-10 agent on CIFAR-100 and ImageNet16-120 (§7);
6. draw every figure that applies (paper Figs. 3-5, 7-11, 16, 17-19) and write every table
   (Markdown, LaTeX, CSV), plus the paper's Tables 1 and 2 as published.

Each step is a function of a shared :class:`Context`; a step whose dependency is missing
raises :class:`Missing` and is reported as such in the closing summary (never skipped
silently); a failing step is reported with its error and the others still run. The exit
code is 0 only when every step succeeded. Everything is written atomically into
``figures/`` (or ``--out``); the result frames go to ``<out>/results/``.

>>> # nasbench-lab figures --quick --out /tmp/figs      (a smoke run in well under a minute)
"""
from __future__ import annotations

import dataclasses
import os
import time
import traceback
from pathlib import Path
from typing import Any, Callable

import numpy as np

from . import paths
from .device import default_device
from .device import torch_threads as _torch_threads


class Missing(RuntimeError):
    """A step cannot run because something it needs is not available (the message says what)."""


@dataclasses.dataclass
class JobConfig:
    """Sizes of the main job (``quick`` shrinks everything for a smoke run)."""

    benchmark: str = "moons"
    """the primary benchmark (NAS-Bench-201 is added when its table is found)."""
    out: Path = dataclasses.field(default_factory=paths.figures_dir)
    """output folder of figures and tables."""
    quick: bool = False
    """tiny budgets (smoke run)."""
    seed: int = 0
    """seed of every random choice of the job."""
    n_sets: int = 5
    """protocol: sets of initial states (paper: 5)."""
    set_size: int = 10_000
    """protocol: initial states per set (paper: 10,000)."""
    budget: int = 300
    """query budget of one search run (paper NB101: 300)."""
    n_resamples: int = 5000
    """bootstrap resamples of the CI bands and tables."""
    sampler_draws: int = 2000
    """architectures drawn per sampler for the sampler histograms (paper: 10,000; the
    uniform-size NB101 sampler rejects many graphs, about 10 ms a draw)."""
    mc_samples: int = 0
    """Monte-Carlo samples of the t goodness-of-fit test of the improvements (paper: 1,000);
    0 leaves the test out: each sample refits a t-distribution (minutes per agent)."""
    fit_subsample: int = 400
    """improvements per agent fed to the t goodness-of-fit test."""
    apex_steps: dict = dataclasses.field(default_factory=lambda: {"moons": 40_000, "nb201": 200_000})
    """training env steps of the Ape-X small preset per benchmark (others: the preset's)."""
    apex_intensity: dict = dataclasses.field(default_factory=lambda: {"moons": 4.0})
    """replay ratio (training intensity) per benchmark where it differs from the preset's 1."""
    apex_seeds: int = 1
    """trained Ape-X seeds per benchmark (the NB201 acceptance table uses 3)."""
    ablation_steps: int = 10_000
    """training env steps of each Ape-X ablation run (Figs. 17-19) on NAS-Bench-Moons."""
    ablation_seeds: int = 1
    """seeds per ablation setting."""
    strategy_seeds: int = 100
    """search runs (seeds) per strategy of the side-by-side comparison (every multi-trial
    strategy, the paper's baselines and the trained Ape-X agents, ``notebook.COMPARISON``)."""
    workers: int = dataclasses.field(default_factory=lambda: max(1, min(8, os.cpu_count() or 1)))
    """processes of the side-by-side comparison (results do not depend on it)."""

    @classmethod
    def from_args(cls, args) -> "JobConfig":
        quick = bool(getattr(args, "quick", False))
        cfg = cls(benchmark=getattr(args, "benchmark", None) or "moons",
                  out=Path(args.out) if getattr(args, "out", None) else paths.figures_dir(), quick=quick)
        if quick:
            cfg = dataclasses.replace(cfg, n_sets=2, set_size=600, budget=100, n_resamples=500,
                                      sampler_draws=200, fit_subsample=100, strategy_seeds=5,
                                      apex_steps={"moons": 6_144, "nb201": 6_144}, ablation_steps=1_024)
        if getattr(args, "apex_seeds", None):
            cfg = dataclasses.replace(cfg, apex_seeds=int(args.apex_seeds))
        return cfg


@dataclasses.dataclass
class StepReport:
    """What one step did."""

    name: str
    status: str  # "ok", "missing" or "failed"
    detail: str = ""
    files: list = dataclasses.field(default_factory=list)
    seconds: float = 0.0


@dataclasses.dataclass
class Context:
    """What the steps share: the configuration, loaded benchmarks and result frames."""

    cfg: JobConfig
    benchmarks: dict = dataclasses.field(default_factory=dict)
    episodes: dict = dataclasses.field(default_factory=dict)
    queries: dict = dataclasses.field(default_factory=dict)
    curves: dict = dataclasses.field(default_factory=dict)
    agents: dict = dataclasses.field(default_factory=dict)
    apex_logs: dict = dataclasses.field(default_factory=dict)
    notes: list = dataclasses.field(default_factory=list)

    def save_fig(self, fig, name: str) -> list[Path]:
        from .analysis import figures

        return figures.save(fig, name, out=self.cfg.out)


# --------------------------------------------------------------------------------------
# steps
# --------------------------------------------------------------------------------------
def nb201_path() -> Path | None:
    """The NAS-Bench-201 file the catalogue finds here (the shared table beside the project), or None."""
    from .benchmarks import catalogue

    return catalogue.locate("nb201")


def job_benchmark(name: str):
    """Benchmark ``name`` as the job loads it (``benchmarks.load``, which finds its file); an
    unknown name is a ValueError listing the known ones, an absent or unloadable one :class:`Missing`."""
    from . import benchmarks

    if name not in benchmarks.names():
        raise ValueError(f"unknown benchmark {name!r}; known: {', '.join(benchmarks.names())}")
    try:
        return benchmarks.load(name)
    except (FileNotFoundError, ImportError, AttributeError) as e:
        raise Missing(f"benchmark {name!r} cannot be loaded ({type(e).__name__}: {e})") from e


def step_benchmarks(ctx: Context) -> list[Path]:
    """Load the primary benchmark and NAS-Bench-201 when present."""
    names = [ctx.cfg.benchmark] + (["nb201"] if ctx.cfg.benchmark != "nb201" and nb201_path() else [])
    problems, unknown = [], None
    for name in names:  # a failing name never keeps the others from loading
        try:
            ctx.benchmarks[name] = job_benchmark(name)
        except Missing as e:
            problems.append(str(e))
        except ValueError as e:
            unknown = unknown or e
    if unknown is not None:
        raise unknown
    if ctx.cfg.benchmark != "nb201" and nb201_path() is None:
        ctx.notes.append("NAS-Bench-201 table not found beside the project: only the primary benchmark runs")
    if problems:
        raise Missing("; ".join(problems))
    return []


def protocol_agents(bench, seed: int = 0, notes: list | None = None, names=None,
                    purpose: str = "the protocol") -> list[str]:
    """The registry strategies ``names`` (default ``notebook.STRATEGIES``) that build on
    ``bench``'s space; each misfit (grid search on the DARTS space, say) is noted as left
    out of ``purpose``, never decided by a name check: the class is asked to build on the
    space."""
    from .notebook import STRATEGIES, strategies_for

    left_out: dict[str, str] = {}
    agents = strategies_for(bench.space, STRATEGIES if names is None else names, seed=seed, show=False,
                            left_out=left_out)
    for agent, reason in left_out.items():
        if notes is not None:
            notes.append(f"{getattr(bench, 'name', 'benchmark')}: {agent} left out of {purpose} ({reason})")
    return agents


def step_protocol(ctx: Context, name: str) -> list[Path]:
    """Every strategy that fits ``name``'s space (and the Ape-X agents trained on it)
    through the evaluation protocol: one episode frame and one query frame.

    Runs with one CPU thread for torch and BLAS: the REINFORCE controller and the batched
    Ape-X forwards are tiny, and thread pools fighting over two cores slow them down.
    """
    from threadpoolctl import threadpool_limits

    from .experiment.protocol import ProtocolConfig, run_protocol, save_frame

    bench = _bench(ctx, name)
    cfg = ctx.cfg
    pcfg = ProtocolConfig(n_sets=cfg.n_sets, set_size=cfg.set_size, budget=cfg.budget, seeds=(cfg.seed,),
                          initial_seed=cfg.seed, env_seed=cfg.seed)
    agents = [*protocol_agents(bench, seed=cfg.seed, notes=ctx.notes), *ctx.agents.get(name, [])]
    with _torch_threads(1), threadpool_limits(1):
        result = run_protocol(bench, agents, pcfg, progress=True)
    ctx.episodes[name] = result.episodes
    ctx.queries[name] = result.queries
    res = cfg.out / "results"
    return [save_frame(result.episodes, res / f"{name}_episodes.parquet"),
            save_frame(result.queries, res / f"{name}_queries.parquet")]


def step_strategies(ctx: Context, name: str) -> list[Path]:
    """Every strategy side by side on ``name``: the paper's baselines, NNI's multi-trial
    strategies, REINFORCE and the trained Ape-X agents (``notebook.COMPARISON``, where they
    fit the space), ``strategy_seeds`` search runs of ``budget`` queries each through the
    one runner (``experiment.compare``). Draws the best-so-far curves with bootstrap 95%
    CIs and the mean rank per query budget ("anytime" ranking); writes the table at
    50/100/150/300 queries and, on NAS-Bench-201, the comparison with the NAS-Bench-201
    paper's search results."""
    from .analysis import figures, stats, tables
    from .experiment.protocol import save_frame
    from .experiment.runner import compare
    from .notebook import COMPARISON

    bench = _bench(ctx, name)
    cfg = ctx.cfg
    names = protocol_agents(bench, seed=cfg.seed, notes=ctx.notes, names=COMPARISON,
                            purpose="the strategy comparison")
    seeds = range(cfg.seed, cfg.seed + cfg.strategy_seeds)
    t0 = time.perf_counter()
    q = compare([*names, *ctx.agents.get(name, [])], bench, cfg.budget, seeds=seeds, workers=cfg.workers,
                progress=True)
    ctx.notes.append(f"{name}: strategy comparison, {q['agent'].nunique()} strategies x {cfg.strategy_seeds} seeds x "
                     f"{cfg.budget} queries in {time.perf_counter() - t0:.0f} s on {cfg.workers} worker(s)")
    ctx.queries[f"{name}:strategies"] = q
    files = [save_frame(q, cfg.out / "results" / f"{name}_strategies_queries.parquet")]
    runs = f"{cfg.strategy_seeds} runs each"
    summary = stats.curve_summary(q, max_query=cfg.budget, n_resamples=cfg.n_resamples, seed=cfg.seed)
    files += ctx.save_fig(figures.best_so_far_curves(summary=summary, title=(
        f"{name}: every strategy, best architecture found so far ({runs}, 95% bootstrap CI)")),
        f"strategies_best_so_far_{name}")
    ranks = stats.anytime_ranks(q, max_query=cfg.budget)
    files += ctx.save_fig(figures.anytime_ranking(ranks, title=f"{name}: mean rank per query budget ({runs}; 1 = best)"),
                          f"strategies_anytime_rank_{name}")
    budgets = tuple(b for b in tables.DEFAULT_BUDGETS if b <= cfg.budget)
    long = tables.budget_table(q, budgets=budgets, benchmark=name, n_resamples=cfg.n_resamples, seed=cfg.seed)
    files += tables.write_table(long, f"table_strategies_{name}", out=cfg.out, caption=(
        f"Every strategy on {name}: best-so-far test accuracy of the best-by-validation architecture "
        f"(mean ± std over {cfg.strategy_seeds} seeds) and bootstrap 95% CIs at each query budget."))
    if name == "nb201":
        files += _reference_table(ctx, long, name)
    return files


def _reference_table(ctx: Context, long, name: str) -> list[Path]:
    """Ours at 100 and 300 queries next to the NAS-Bench-201 paper's search results."""
    from .analysis import tables

    budgets = tuple(b for b in (100, 300) if b <= ctx.cfg.budget)
    refs = tables.load_references()
    bench = _bench(ctx, name)
    metric = np.asarray(bench.test if getattr(bench, "has_test", False) else bench.validation, dtype=float)
    table = tables.reference_table(long, refs, budgets=budgets, optimum=float(np.nanmax(metric)))
    caption = (f"{name}: ours (mean ± std [bootstrap 95% CI], {ctx.cfg.strategy_seeds} seeds) next to the "
               f"NAS-Bench-201 paper ({refs['citation'].iloc[0]}), whose runs search under a simulated time "
               "budget rather than a query budget: roughly comparable only.")
    files = []
    md = ctx.cfg.out / f"table_strategies_{name}_references.md"
    with paths.atomic_write(md, suffix=".md") as tmp:
        tmp.write_text(f"{caption}\n\n{table.to_markdown(index=False)}\n", encoding="utf-8")
    files.append(md)
    csv = md.with_suffix(".csv")
    with paths.atomic_write(csv, suffix=".csv") as tmp:
        table.to_csv(tmp, index=False)
    return files + [csv]


def reinforce_trace(ctx: Context, name: str, queries) -> list[Path]:
    """REINFORCE's learning curve from the protocol's query frame: the validation accuracy
    of the rollout at each query, averaged over every search run (each a fresh controller),
    and the best so far of the first run. Nothing when REINFORCE did not run on ``name``."""
    import pandas as pd

    from .analysis import figures

    q = queries[queries["agent"] == "reinforce"]
    if q.empty:
        return []
    runs = q.groupby(["seed", "set", "run"]).ngroups
    first = q[(q["seed"] == q["seed"].min()) & (q["set"] == q["set"].min())]
    first = first[first["run"] == first["run"].min()]
    trace = pd.DataFrame({"setting": f"validation accuracy of the rollout (mean of {runs} runs)",
                          "step": q["query"], "value": q["validation"]})
    fig = figures.training_curves(trace, window=10, xlabel="rollout (= query)", ylabel="accuracy",
                                  title=f"REINFORCE on {name}: {runs} search runs of the protocol")
    ax = fig.axes[0]
    ax.step(first["query"], first["best_validation"], where="post", color="tab:orange",
            label="best validation so far (first run)")
    ax.step(first["query"], first["best_test"], where="post", color="tab:green",
            label="test accuracy of the best so far (first run)")
    ax.set_ylabel("accuracy (rollouts: SMA, N=10)")
    ax.legend()
    return ctx.save_fig(fig, f"reinforce_trace_{name}")


def apex_config(ctx: Context, name: str, steps: int | None = None, **overrides):
    """The Ape-X small preset with the job's budget for benchmark ``name``."""
    from .strategies.apex import ApexConfig

    cfg = ctx.cfg
    total = int(steps or cfg.apex_steps.get(name, ApexConfig.small().total_steps))
    extra = {"learning_starts": min(5_000, max(512, total // 10)), "report_every": max(1_024, total // 40)}
    if name in cfg.apex_intensity:
        extra.update(training_intensity=cfg.apex_intensity[name], target_update_period=10_000)
    return ApexConfig.small(total_steps=total, **{**extra, **overrides})


def _apex_dir(name: str, config, seed: int, bench) -> Path:
    """A checkpoint folder per (benchmark content, configuration, seed): a rerun of the job
    reuses a finished training instead of repeating it."""
    import hashlib
    import json

    from .benchmarks.base import benchmark_fingerprint

    device = str(config.device or default_device()).split(":")[0]  # a cuda run resumes on cuda only
    digest = hashlib.blake2b(json.dumps([config.fingerprint(), benchmark_fingerprint(bench), device], sort_keys=True,
                                        default=str).encode(), digest_size=6).hexdigest()
    return paths.cache_dir() / "apex" / f"{name}-{digest}" / f"seed{seed}"


def step_apex(ctx: Context, name: str) -> list[Path]:
    """Train the Ape-X small preset on ``name`` (``apex_seeds`` seeds, resumable); its
    training curve. The trained agents join the protocol step."""
    import pandas as pd

    from .analysis import figures
    from .strategies.apex import train

    bench = _bench(ctx, name)
    cfg = ctx.cfg
    config = apex_config(ctx, name)
    agents, logs = [], []
    with _torch_threads(1):
        for s in range(cfg.apex_seeds):
            seed = cfg.seed + s
            result = train(bench, config, seed=seed, checkpoint_dir=_apex_dir(name, config, seed, bench))
            agents.append(result.agent)
            logs.append(result.log.assign(seed=seed))
    ctx.agents[name] = agents
    log = pd.concat(logs, ignore_index=True)
    ctx.apex_logs[name] = log
    out = cfg.out / "results" / f"{name}_apex_training_log.csv"
    with paths.atomic_write(out, suffix=".csv") as tmp:
        log.to_csv(tmp, index=False)
    curves = log.rename(columns={"env_steps": "step", "mean_final_validation": "value"}).assign(
        setting="Ape-X (small preset)")[["setting", "seed", "step", "value"]]
    fig = figures.training_curves(curves, window=1, xlabel="training env steps",
                                  title=f"Ape-X on {name}: mean validation accuracy of the training episodes' ends")
    ctx.notes.append(f"{name}: Ape-X trained {config.total_steps:,} env steps x {cfg.apex_seeds} seed(s), "
                     f"{log['steps_per_second'].median():,.0f} steps/s (median of the log)")
    return [out] + ctx.save_fig(fig, f"apex_training_{name}")


def step_apex_ablation(ctx: Context, name: str = "moons") -> list[Path]:
    """Figs. 17-19 from real Ape-X training logs: the grid of gamma, N and alpha (§5)."""
    from .strategies.apex_studies import ablation_figures, ablation_grid

    bench = _bench(ctx, name)
    cfg = ctx.cfg
    config = apex_config(ctx, name, steps=cfg.ablation_steps, report_every=max(256, cfg.ablation_steps // 30))
    root = _apex_dir(name + "-ablation", config, 0, bench).parent
    with _torch_threads(1):
        frame = ablation_grid(bench, config, seeds=tuple(cfg.seed + s for s in range(cfg.ablation_seeds)),
                              out_dir=root)
    ctx.curves[f"{name}:apex"] = frame
    out = cfg.out / "results" / f"{name}_apex_ablation.csv"
    with paths.atomic_write(out, suffix=".csv") as tmp:
        frame.to_csv(tmp, index=False)
    files = [out]
    names = {17: "gamma", 18: "neighbours", 19: "alpha"}
    for number, fig in ablation_figures(frame, name).items():
        files += ctx.save_fig(fig, f"fig{number}_ablation_{names[number]}_apex_{name}")
    return files


def reuse_targets(columns=(("cifar100", "cifar100_valid_12", "cifar100_test_12"),
                           ("imagenet16", "imagenet16_valid_12", "imagenet16_test_12"))) -> dict:
    """NB201 on other data sets (search on their 12-epoch validation, report their test)."""
    from . import benchmarks

    try:
        return {name: benchmarks.load("nb201", validation=v, test=t, name=f"nb201-{name}") for name, v, t in columns}
    except FileNotFoundError as e:  # benchmarks.BenchmarkNotFound: no table on this machine
        raise Missing(f"NAS-Bench-201 table not found ({e})") from e


def step_apex_reuse(ctx: Context, name: str = "nb201") -> list[Path]:
    """§7: the agents trained on NB201 CIFAR-10 evaluated on CIFAR-100 and ImageNet16-120
    without retraining, next to the baselines run on each target."""
    from .analysis import tables
    from .experiment.protocol import ProtocolConfig
    from .experiment.studies import reuse

    agents = ctx.agents.get(name)
    if not agents:
        raise Missing(f"no Ape-X agent trained on {name} (the apex step did not run)")
    cfg = ctx.cfg
    targets = reuse_targets()
    pcfg = ProtocolConfig(n_sets=cfg.n_sets, set_size=min(cfg.set_size, 1_000), budget=cfg.budget,
                          initial_seed=cfg.seed, env_seed=cfg.seed)
    budgets = tuple(b for b in (50, 100, 150, 300) if b <= cfg.budget)
    table, _ = reuse(agents, targets, protocol=pcfg, budgets=budgets, n_resamples=cfg.n_resamples)
    files = []
    for target, g in table.groupby("target", sort=False):
        files += tables.write_table(g.drop(columns=["target"]), f"table_apex_reuse_{name}_to_{target}", out=cfg.out,
                                    caption=f"Ape-X trained on {name} (CIFAR-10 validation), evaluated on "
                                            f"NB201 {target} without retraining; baselines run on {target}.")
    return files


def step_figures(ctx: Context, name: str) -> list[Path]:
    """Every figure that applies to benchmark ``name``."""
    from .analysis import figures, stats, tables

    bench = _bench(ctx, name)
    cfg = ctx.cfg
    files: list[Path] = []
    # Fig. 3 / 4: accuracy distribution (every architecture and seed) and shaping
    per_seed = getattr(bench, "per_seed", {}).get("validation_accuracy")
    acc = per_seed.ravel() if per_seed is not None else np.asarray(bench.validation)
    alpha = 6.0
    files += ctx.save_fig(figures.shaping_histogram(acc, alpha=alpha, title=(
        f"{name}: validation accuracy of every architecture and seed, before and after shaping")), f"fig03_shaping_histogram_{name}")
    files += ctx.save_fig(figures.shaping_curves(marks=[float(np.nanmean(acc))]), f"fig04_shaping_curves_{name}")
    # Fig. 11: number of neighbours vs accuracy
    try:
        from .env.neighbours import neighbour_table

        counts = neighbour_table(bench.space, bench).counts
        metric = bench.test if getattr(bench, "has_test", False) else bench.validation
        if np.unique(counts).size < 2:
            raise ValueError(f"every architecture has {counts[0]} neighbours, no correlation to show")
        files += ctx.save_fig(figures.neighbours_vs_accuracy(counts, metric, seed=cfg.seed,
                                                             ylabel="test accuracy" if bench.has_test else "validation accuracy"),
                              f"fig11_neighbours_vs_accuracy_{name}")
    except ValueError as e:  # correlations of a constant count
        ctx.notes.append(f"{name}: Fig. 11 not drawn ({e})")
    # episodes: Figs. 7, 8, 9 and the distribution tests of §4.2.2
    ep = ctx.episodes.get(name)
    if ep is None:
        raise Missing(f"no protocol episodes for {name} (the protocol step did not run)")
    files += ctx.save_fig(figures.initial_vs_improvement(ep, seed=cfg.seed), f"fig07_initial_vs_improvement_{name}")
    files += ctx.save_fig(figures.improvement_histograms(ep), f"fig08_improvement_histograms_{name}")
    files += ctx.save_fig(figures.local_optimum(ep, space=bench.space, arch_of=_arch_of(bench)),
                          f"fig09_local_optimum_{name}")
    files += _distribution_tests(ctx, ep, name)
    # Fig. 10: best so far vs queries, every strategy of the protocol's one query frame
    q = ctx.queries.get(name)
    if q is None:
        raise Missing(f"no protocol queries for {name} (the protocol step did not run)")
    allq = q[q["query"] <= cfg.budget]
    published = tables.load_published(name) if name in tables.PAPER_BUDGETS else None
    summary = stats.curve_summary(allq, max_query=cfg.budget, n_resamples=cfg.n_resamples, seed=cfg.seed)
    files += ctx.save_fig(figures.best_so_far_curves(summary=summary, published=published,
                                                     title=f"{name}: best architecture found so far (95% bootstrap CI)"),
                          f"fig10_best_so_far_{name}")
    oracle = stats.curve_summary(allq, kind="oracle", max_query=cfg.budget, n_resamples=cfg.n_resamples,
                                 seed=cfg.seed) if bench.has_test else None
    if oracle is not None:
        files += ctx.save_fig(figures.best_so_far_curves(summary=oracle, title=f"{name}: oracle best test accuracy seen (labelled oracle)"),
                              f"fig10_best_so_far_oracle_{name}")
    summary_path = cfg.out / f"curves_{name}.csv"
    with paths.atomic_write(summary_path, suffix=".csv") as tmp:
        summary.to_csv(tmp, index=False)
    files.append(summary_path)
    files += reinforce_trace(ctx, name, q)
    return files


def _arch_of(bench) -> Callable[[str], Any]:
    def arch_of(key: str):
        try:
            return bench.space.from_key(key)
        except (NotImplementedError, AttributeError):
            return bench.arch(bench.row_of(key))
    return arch_of


def _distribution_tests(ctx: Context, ep, name: str) -> list[Path]:
    """Skew, normaltest and a t goodness-of-fit of the improvements per agent (§4.2.2)."""
    import pandas as pd

    from .analysis import stats

    imp = stats.improvements(ep)
    rows = []
    for agent, g in imp.groupby("agent"):
        d = g["improvement"].to_numpy()
        d = d[np.isfinite(d)]
        spread = stats.percentile_intervals(d)
        row = {"agent": agent, "n": d.size, "median": spread.median, "skew": spread.skew,
               **{f"interval_{int(100 * k)}_low": v[0] for k, v in spread.intervals.items()},
               **{f"interval_{int(100 * k)}_high": v[1] for k, v in spread.intervals.items()}}
        testable = np.ptp(d) > 0 and d.size >= 20
        if testable:
            row["normaltest_p"] = float(stats.normality(d).pvalue)
        if testable and ctx.cfg.mc_samples > 0:
            try:
                gof = stats.t_goodness_of_fit(d, n_mc_samples=ctx.cfg.mc_samples, seed=ctx.cfg.seed,
                                              subsample=ctx.cfg.fit_subsample)
                row["t_fit_p"] = float(gof.pvalue)
                row["t_fit_subsample"] = min(d.size, ctx.cfg.fit_subsample)
            except (ValueError, RuntimeError, FloatingPointError) as e:
                ctx.notes.append(f"{name}/{agent}: t goodness-of-fit failed ({e})")
        rows.append(row)
    if ctx.cfg.mc_samples <= 0:
        ctx.notes.append(f"{name}: the t goodness-of-fit test of the improvements is left out (JobConfig.mc_samples=0: "
                         "each Monte-Carlo sample refits a t-distribution; stats.t_goodness_of_fit runs it)")
    out = ctx.cfg.out / f"improvement_tests_{name}.csv"
    with paths.atomic_write(out, suffix=".csv") as tmp:
        pd.DataFrame(rows).to_csv(tmp, index=False)
    return [out]


def step_tables(ctx: Context, name: str) -> list[Path]:
    """Table of best-so-far accuracy at query budgets for ``name``, every strategy of the
    protocol's query frame (Markdown, LaTeX, CSV)."""
    from .analysis import tables

    cfg = ctx.cfg
    q = ctx.queries.get(name)
    if q is None:
        raise Missing(f"no query frame for {name} (the protocol step did not run)")
    budgets = tables.PAPER_BUDGETS.get(name) or tuple(b for b in (10, 25, 50, 100, 150, 300) if b <= cfg.budget)
    long = tables.budget_table(q, budgets=budgets, benchmark=name, n_resamples=cfg.n_resamples, seed=cfg.seed)
    return tables.write_table(long, f"table_best_so_far_{name}", out=cfg.out)


def step_paper_tables(ctx: Context) -> list[Path]:
    """The paper's Tables 1 and 2 as published (cited baselines and the paper's own rows)."""
    from .analysis import tables

    files = []
    for number, bench in tables.PAPER_TABLES.items():
        long = tables.paper_table(number)
        files += tables.write_table(long, f"table{number}_{bench}_published", out=ctx.cfg.out, caption=(
            f"Paper Table {number} ({bench}) as published: mean ± std and 95% CI at each query budget."))
    return files


def step_samplers(ctx: Context) -> list[Path]:
    """Fig. 5: vertex and edge counts of NB101 samplers; layer counts of the chain samplers."""
    import pandas as pd

    from . import spaces
    from .analysis import figures

    cfg = ctx.cfg
    files = []
    rng = np.random.default_rng(cfg.seed)
    try:
        nb101 = spaces.get("nb101")
    except (ImportError, KeyError) as e:
        raise Missing(f"the nb101 space is not available ({e})") from e
    rows = []
    samplers = [("ours (uniform size)", nb101.sample), ("BANANAS random cell adj", getattr(nb101, "sample_bananas", None))]
    from .spaces import nb101 as nb101_module

    if not nb101_module.enumeration_cached() and not cfg.quick:
        # the full job builds the enumeration once (about a minute on 2 cores, cached)
        t0 = time.perf_counter()
        nb101_module.build_enumeration(workers=2)
        ctx.notes.append(f"Fig. 5: built the NAS-Bench-101 enumeration cache in {time.perf_counter() - t0:.0f} s")
    if nb101_module.enumeration_cached():
        samplers.append(("uniform over NAS-Bench-101", nb101.sample_uniform))
    else:
        ctx.notes.append("Fig. 5: the uniform NAS-Bench-101 sampler needs the enumeration cache "
                         "(`nasbench-lab build nb101-enumeration`; the full job builds it); drawn without it")
    for label, fn in samplers:
        if fn is None:
            continue
        for _ in range(cfg.sampler_draws):
            c = fn(rng)
            m = np.asarray(c.matrix)
            rows.append((label, m.shape[0], int(m.sum())))
    frame = pd.DataFrame(rows, columns=["sampler", "vertices", "edges"])
    files += ctx.save_fig(figures.sampler_histograms(frame), "fig05_sampler_histograms_nb101")
    # the chain space of NAS-Bench-Moons: hidden layers and units per sampler
    mlp = spaces.get("mlp", max_depth=3) if "moons" in ctx.benchmarks else None
    if mlp is not None:
        rows = []
        for label, fn in (("default sampler", mlp.sample), ("uniform over chains", getattr(mlp, "sample_uniform", None))):
            if fn is None:
                continue
            for _ in range(cfg.sampler_draws):
                c = fn(rng)
                rows.append((label, len(c.layers), int(sum(w for w, _ in c.layers))))
        frame = pd.DataFrame(rows, columns=["sampler", "layers", "hidden units"])
        files += ctx.save_fig(figures.sampler_histograms(frame, columns=("layers", "hidden units")),
                              "fig05_sampler_histograms_moons")
    return files


def step_throughput(ctx: Context) -> list[Path]:
    """Fig. 16: steps per second of the vectorised env per benchmark (log-log)."""
    import pandas as pd

    from .analysis import figures

    from .speed.env import throughput
    if not ctx.benchmarks:
        raise Missing("no benchmark is loaded")
    degrees = (1, 8, 64) if ctx.cfg.quick else (1, 8, 64, 512, 4096)
    frame = throughput(benchmarks=dict(ctx.benchmarks), degrees=degrees, backends=("numpy",),
                       steps=8 if ctx.cfg.quick else 32, repeat=1 if ctx.cfg.quick else 3,
                       reference_steps=20 if ctx.cfg.quick else 200, seed=ctx.cfg.seed)
    out = ctx.cfg.out / "throughput.csv"
    with paths.atomic_write(out, suffix=".csv") as tmp:
        pd.DataFrame(frame).to_csv(tmp, index=False)
    return [out] + ctx.save_fig(figures.throughput(frame), "fig16_throughput")


def _bench(ctx: Context, name: str):
    if name not in ctx.benchmarks:
        raise Missing(f"benchmark {name!r} is not loaded (see the benchmarks step)")
    return ctx.benchmarks[name]


# --------------------------------------------------------------------------------------
# the job
# --------------------------------------------------------------------------------------
def plan(ctx: Context) -> list[tuple[str, Callable[[], list[Path]]]]:
    """The steps in order (benchmark-dependent steps for every benchmark the job loads)."""
    names = list(dict.fromkeys([ctx.cfg.benchmark] + (["nb201"] if nb201_path() else [])))
    steps: list[tuple[str, Callable]] = [("load benchmarks", lambda: step_benchmarks(ctx))]
    for n in names:
        steps.append((f"apex {n}", lambda n=n: step_apex(ctx, n)))
        steps.append((f"protocol {n}", lambda n=n: step_protocol(ctx, n)))
        steps.append((f"strategies {n}", lambda n=n: step_strategies(ctx, n)))
    if "moons" in names:
        steps.append(("apex ablation moons", lambda: step_apex_ablation(ctx, "moons")))
    if "nb201" in names:
        steps.append(("apex reuse nb201", lambda: step_apex_reuse(ctx, "nb201")))
    for n in names:
        steps.append((f"figures {n}", lambda n=n: step_figures(ctx, n)))
        steps.append((f"table {n}", lambda n=n: step_tables(ctx, n)))
    steps += [("samplers (Fig. 5)", lambda: step_samplers(ctx)),
              ("throughput (Fig. 16)", lambda: step_throughput(ctx)),
              ("paper tables 1-2", lambda: step_paper_tables(ctx))]
    return steps


def run(cfg: JobConfig, echo: Callable[[str], None] = print) -> list[StepReport]:
    """Run every step, report each one, return the reports."""
    import matplotlib

    matplotlib.use("Agg")
    from tqdm.auto import tqdm

    cfg.out.mkdir(parents=True, exist_ok=True)
    ctx = Context(cfg)
    reports = []
    steps = plan(ctx)
    bar = tqdm(steps, desc="main job", unit="step")
    for name, fn in bar:
        bar.set_postfix_str(name)
        t0 = time.perf_counter()
        try:
            files = fn() or []
            rep = StepReport(name, "ok", files=files)
        except Missing as e:
            rep = StepReport(name, "missing", str(e))
        except Exception as e:  # noqa: BLE001 - reported, the other steps still run
            tb = traceback.extract_tb(e.__traceback__)[-1]
            rep = StepReport(name, "failed", f"{type(e).__name__}: {e} ({Path(tb.filename).name}:{tb.lineno})")
        rep.seconds = time.perf_counter() - t0
        reports.append(rep)
    bar.close()
    _summary(reports, ctx, echo)
    return reports


def _summary(reports: list[StepReport], ctx: Context, echo) -> None:
    out = ctx.cfg.out
    echo(f"\nmain job ({'quick' if ctx.cfg.quick else 'full'}) -> {out}")
    for r in reports:
        mark = {"ok": "ok     ", "missing": "MISSING", "failed": "FAILED "}[r.status]
        extra = f" {len(r.files)} files" if r.files else ""
        echo(f"  [{mark}] {r.name:<24s} {r.seconds:7.1f} s{extra}{(' - ' + r.detail) if r.detail else ''}")
    for note in ctx.notes:
        echo(f"  note: {note}")
    files = [f for r in reports for f in r.files]
    n_png = sum(1 for f in files if f.suffix == ".png")
    n_tab = sum(1 for f in files if f.suffix == ".md")
    index = out / "index.md"
    lines = [f"# Main job output ({'quick' if ctx.cfg.quick else 'full'} run)", "",
             "| step | status | seconds | files |", "|:--|:--|--:|:--|"]
    for r in reports:
        names = ", ".join(f"[{f.name}]({f.relative_to(out).as_posix()})" for f in r.files if f.is_relative_to(out))
        lines.append(f"| {r.name} | {r.status}{(': ' + r.detail) if r.detail else ''} | {r.seconds:.1f} | {names} |")
    lines += [""] + [f"- {n}" for n in ctx.notes]
    with paths.atomic_write(index, suffix=".md") as tmp:
        tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    echo(f"  wrote {len(files)} files: {n_png} figures (PNG + PDF), {n_tab} tables (Markdown + LaTeX + CSV); "
         f"index: {index}")


def cli_figures(args) -> int:
    """``nasbench-lab figures [--benchmark moons] [--out DIR] [--quick]``."""
    from . import benchmarks

    name = getattr(args, "benchmark", None) or "moons"
    if name not in benchmarks.names():
        raise SystemExit(f"nasbench-lab figures: unknown benchmark {name!r}; known: {', '.join(benchmarks.names())}")
    reports = run(JobConfig.from_args(args))
    return 0 if all(r.status == "ok" for r in reports) else 1


def cli_ablation(args) -> int:
    """``nasbench-lab ablation``: run the grid on a benchmark and draw Figs. 17-19."""
    import matplotlib

    matplotlib.use("Agg")
    from .analysis import figures
    from .strategies.apex import ApexConfig
    from .strategies.apex_studies import ablation_figures, ablation_grid

    bench = job_benchmark(args.benchmark)
    cfg = ApexConfig.small(total_steps=args.steps, report_every=max(1, args.steps // 40))
    out = Path(args.out) if args.out else paths.figures_dir() / "ablation"
    frame = ablation_grid(bench, cfg, seeds=tuple(range(args.seeds)), full_factorial=args.full_factorial,
                          out_dir=out / "runs")
    with paths.atomic_write(out / f"ablation_{args.benchmark}.csv", suffix=".csv") as tmp:
        frame.to_csv(tmp, index=False)
    for number, fig in ablation_figures(frame, args.benchmark).items():
        name = {17: "gamma", 18: "neighbours", 19: "alpha"}[number]
        for f in figures.save(fig, f"fig{number}_ablation_{name}_apex_{args.benchmark}", out=out):
            print(f)
    return 0


def cli_oneshot_quality(args) -> int:
    """``nasbench-lab oneshot-quality``: :func:`study` over the chosen methods, written as
    ``oneshot_quality_<space>[_<tag>].csv`` (every search) and
    ``table_oneshot_quality_<space>[_<tag>].md`` (per method) in ``--out`` (default
    ``figures/``). The NAS-Bench-201 table, when it is beside the project, gives each NB201
    export's CIFAR-10 test accuracy. ``--store``: the stand-alone trainings' SQLite store."""
    import yaml

    from .oneshot import names
    from .oneshot.quality import study, summary

    out = Path(args.out) if args.out else paths.figures_dir()
    methods = args.methods or names()
    unknown = [m for m in methods if m not in names()]
    if unknown:
        raise SystemExit(f"nasbench-lab oneshot-quality: unknown methods {unknown}; known: {', '.join(names())}")
    extra = {}
    for item in getattr(args, "set", None) or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise SystemExit(f"nasbench-lab oneshot-quality: --set takes KEY=VALUE, got {item!r}")
        extra[key] = yaml.safe_load(value)
    options = {m: {"max_steps_per_epoch": int(args.steps), **extra} for m in methods}
    tag = getattr(args, "tag", "") or ""
    if tag and not tag.replace("-", "").replace("_", "").isalnum():
        raise SystemExit(f"nasbench-lab oneshot-quality: --tag takes letters, digits, - and _, got {tag!r}")
    stem = f"{args.space}_{tag}" if tag else args.space
    table = None
    if args.space == "nb201":
        try:
            table = job_benchmark("nb201")
        except Missing as e:
            print(f"note: {e}; the exports' NAS-Bench-201 accuracies are left out")
    frame = study(methods, args.space, seeds=tuple(range(args.seeds)), n_cells=args.cells, max_epochs=args.epochs,
                  options=options, table=table, store=getattr(args, "store", None), progress=True)
    with paths.atomic_write(out / f"oneshot_quality_{stem}.csv", suffix=".csv") as tmp:
        frame.to_csv(tmp, index=False)
    text = summary(frame).round(4).to_markdown()
    caption = (f"Weight-sharing quality on {args.space} (digits): {args.cells} uniform cells trained stand-alone, "
               f"{args.seeds} searches per method of {args.epochs} epochs x {args.steps} steps"
               f"{f', options {extra}' if extra else ''}.")
    with paths.atomic_write(out / f"table_oneshot_quality_{stem}.md", suffix=".md") as tmp:
        tmp.write_text(f"{caption}\n\n{text}\n", encoding="utf-8")
    print(caption)
    print(text)
    return 0


__all__ = ["Context", "JobConfig", "Missing", "StepReport", "cli_figures", "plan", "protocol_agents", "run",
           "step_strategies"]

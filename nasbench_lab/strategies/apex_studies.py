"""Studies of the Ape-X agent: the ablations of paper §5 and reuse across benchmarks (§7).

* :func:`ablation_grid` trains the agent for every setting of the grid (default: the
  paper's one-factor-at-a-time ablations around gamma 0.9, N 50, alpha 6: gamma in
  {0.9, 0.95, 0.99}, N in {25, 50, 100}, alpha in {none, 2, 6, 10}; ``full_factorial=True``
  crosses them) for several seeds. Every run checkpoints into ``out_dir/<setting>/seed<s>``,
  so a rerun skips the finished settings and resumes an interrupted one.
  Returns a tidy frame (``parameter, value, setting, seed`` + the training log columns).
* :func:`ablation_curves` / :func:`ablation_figures` turn it into the frames and figures of
  Figs. 17-19 (mean validation accuracy of the architectures the training episodes end on,
  SMA N=10).

Reuse across benchmarks (trained agents evaluated elsewhere through the protocol) is
``nasbench_lab.experiment.studies.reuse``.

>>> frame = ablation_grid(bench, ApexConfig.small(total_steps=30_000), seeds=(0, 1),   # doctest: +SKIP
...                       out_dir="ablation/")
>>> figs = ablation_figures(frame)                                                   # doctest: +SKIP
"""
from __future__ import annotations

import dataclasses
import itertools
from pathlib import Path
from typing import Any, Sequence

from .apex import ApexConfig, train

#: the paper's ablation values (§5)
GAMMAS = (0.9, 0.95, 0.99)
NEIGHBOURS = (25, 50, 100)
ALPHAS = (None, 2.0, 6.0, 10.0)
BASE = {"gamma": 0.9, "n_neighbours": 50, "alpha": 6.0}
#: parameter -> paper figure
FIGURE_OF = {"gamma": 17, "n_neighbours": 18, "alpha": 19}


def _label(parameter: str, value) -> str:
    sym = {"gamma": "γ", "n_neighbours": "N", "alpha": "α"}[parameter]
    if parameter == "alpha" and value is None:
        return "no shaping"
    return f"{sym} = {value:g}"


def _slug(setting: dict) -> str:
    a = setting["alpha"]
    return f"gamma{setting['gamma']:g}_N{setting['n_neighbours']}_alpha{'none' if a is None else f'{a:g}'}"


def grid_settings(gammas: Sequence[float] = GAMMAS, neighbours: Sequence[int] = NEIGHBOURS,
                  alphas: Sequence[float | None] = ALPHAS, full_factorial: bool = False,
                  base: dict | None = None) -> list[dict]:
    """The distinct settings ``{"gamma", "n_neighbours", "alpha"}`` of the grid.

    >>> len(grid_settings())          # 3 + 3 + 4 around one shared base setting
    8
    >>> len(grid_settings(full_factorial=True))
    36
    """
    base = {**BASE, **(base or {})}
    if full_factorial:
        combos = [dict(gamma=g, n_neighbours=n, alpha=a) for g, n, a in itertools.product(gammas, neighbours, alphas)]
    else:
        combos = ([{**base, "gamma": g} for g in gammas] + [{**base, "n_neighbours": n} for n in neighbours]
                  + [{**base, "alpha": a} for a in alphas])
    out, seen = [], set()
    for c in combos:
        k = _slug(c)
        if k not in seen:
            seen.add(k)
            out.append(c)
    return out


def ablation_grid(benchmark, config: ApexConfig | None = None, seeds: Sequence[int] = (0, 1, 2),
                  gammas: Sequence[float] = GAMMAS, neighbours: Sequence[int] = NEIGHBOURS,
                  alphas: Sequence[float | None] = ALPHAS, full_factorial: bool = False,
                  out_dir=None, progress: bool = True):
    """Train every setting of the grid for every seed; the tidy frame of all training logs.

    Columns: ``parameter`` (the one the row's figure varies: ``gamma``, ``n_neighbours`` or
    ``alpha``; the base setting appears once per parameter), ``value``, ``setting`` (its
    label, e.g. ``"γ = 0.95"``), ``gamma``, ``n_neighbours``, ``alpha``, ``seed``, then the
    training log columns. ``out_dir``: one checkpoint folder per (setting, seed); a finished
    run is loaded, not rerun.
    """
    import pandas as pd
    from tqdm.auto import tqdm

    cfg = config or ApexConfig.small()
    settings = grid_settings(gammas, neighbours, alphas, full_factorial)
    runs = [(s, seed) for s in settings for seed in seeds]
    logs = {}
    bar = tqdm(runs, desc="ape-x ablation", unit="run", disable=not progress)
    for setting, seed in bar:
        slug = _slug(setting)
        bar.set_postfix_str(f"{slug} seed {seed}")
        ckpt = Path(out_dir) / slug / f"seed{seed}" if out_dir is not None else None
        run_cfg = dataclasses.replace(cfg, **setting)
        result = train(benchmark, run_cfg, seed=seed, checkpoint_dir=ckpt, progress=False)
        logs[(slug, seed)] = result.log
    bar.close()
    frames = []
    for parameter, values in (("gamma", gammas), ("n_neighbours", neighbours), ("alpha", alphas)):
        if full_factorial:
            chosen = [s for v in values for s in settings if s[parameter] == v]
        else:  # in the order the values were given, the other two parameters at the base
            chosen = [s for v in values for s in settings
                      if s[parameter] == v and all(s[k] == BASE[k] for k in BASE if k != parameter)]
        for setting in chosen:
            for seed in seeds:
                log = logs[(_slug(setting), seed)].copy()
                log.insert(0, "seed", seed)
                for k in ("alpha", "n_neighbours", "gamma"):
                    log.insert(0, k, setting[k])
                log.insert(0, "setting", _label(parameter, setting[parameter]) if not full_factorial
                           else _slug(setting))
                log.insert(0, "value", setting[parameter])
                log.insert(0, "parameter", parameter)
                frames.append(log)
    return pd.concat(frames, ignore_index=True)


def ablation_curves(frame, parameter: str, metric: str = "mean_final_validation"):
    """The ``setting, seed, step, value`` frame of one ablation (input of
    ``analysis.figures.training_curves``)."""
    g = frame[frame["parameter"] == parameter]
    if g.empty:
        raise ValueError(f"the ablation frame has no rows for {parameter!r}")
    return g.rename(columns={"env_steps": "step"}).assign(value=g[metric].to_numpy())[
        ["setting", "seed", "step", "value"]].reset_index(drop=True)


def ablation_figures(frame, benchmark: str = "", window: int = 10) -> dict[int, Any]:
    """Figs. 17-19 (gamma, N, alpha) from an :func:`ablation_grid` frame: ``{17: fig, ...}``."""
    from ..analysis import figures

    out = {}
    names = {"gamma": "γ", "n_neighbours": "the number of neighbours N", "alpha": "reward shaping α"}
    for parameter, number in FIGURE_OF.items():
        if (frame["parameter"] == parameter).any():
            curves = ablation_curves(frame, parameter)
            out[number] = figures.training_curves(
                curves, window=window, xlabel="training env steps",
                title=f"Fig. {number}: Ape-X on {benchmark or 'the benchmark'}, ablation of {names[parameter]}")
    return out


__all__ = ["ALPHAS", "GAMMAS", "NEIGHBOURS", "ablation_curves", "ablation_figures", "ablation_grid",
           "grid_settings"]

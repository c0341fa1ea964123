"""Statistics, one plotting function per paper figure, and table builders.

The layer reads tidy result frames (``nasbench_lab.schema``), never live objects:

* :mod:`.stats`: best-so-far curves, the vectorised bootstrap CI, closed-form intervals,
  percentile intervals, skew, normality and t goodness-of-fit tests, correlations, SMA;
* :mod:`.figures`: paper Figs. 3-19, each a function returning a matplotlib Figure, and
  ``save(fig, name)`` (PNG + PDF into ``figures/``);
* :mod:`.tables`: Tables 1 and 2 for any benchmark (DataFrame, Markdown, LaTeX, CSV) with
  the published baselines of ``data/published_baselines.csv``.

Submodules load lazily (matplotlib only when a figure is drawn)::

    import nasbench_lab as nl
    summary = nl.analysis.stats.curve_summary(queries)
    fig = nl.analysis.figures.best_so_far_curves(summary=summary)
"""
from __future__ import annotations

import importlib

_SUBMODULES = ("stats", "figures", "tables")


def __getattr__(name: str):
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_SUBMODULES))


__all__ = list(_SUBMODULES)

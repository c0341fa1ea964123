"""``nasbench-lab bench``: speed figures, each against a reference run in the same process.

Each module of this package defines ``SECTIONS: dict[str, callable]``; a callable
takes ``quick: bool`` and returns a list of rows ``(name, value, unit, note)``.
Ratios against a reference measured in the same process are reported as rows too.
Timings are medians of repeated runs (see ``median_time``).
"""
from __future__ import annotations

import importlib
import pkgutil
import statistics
import time
from typing import Callable

from .._timing import median_time  # noqa: F401 - the bench modules time with it

Row = tuple[str, float, str, str]


def sections() -> dict[str, Callable[[bool], list[Row]]]:
    out: dict[str, Callable] = {}
    for mod in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if mod.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{mod.name}")
        out.update(getattr(module, "SECTIONS", {}))
    return out


def run(selected: list[str] | None = None, quick: bool = False, out=print) -> list[tuple[str, Row]]:
    secs = sections()
    chosen = selected or list(secs)
    unknown = [s for s in chosen if s not in secs]
    if unknown:
        raise SystemExit(f"unknown bench section(s) {unknown}; known: {', '.join(secs)}")
    results = []
    for name in chosen:
        out(f"== {name}")
        for row in secs[name](quick):
            label, value, unit, note = row
            out(f"  {label:<52s} {value:>14,.3f} {unit:<10s} {note}")
            results.append((name, row))
    return results

"""Small helpers the notebooks call: the set-up check, the strategies that fit a space, parameters.

The notebooks under ``notebooks/`` follow the papermill convention: one code cell tagged
``parameters`` holds the knobs (``BENCHMARK``, ``BUDGET``, ``SEED``, ...). A runner (papermill,
the test suite, :func:`execute`) injects a cell right after it that overrides them, so the same
notebook runs at the paper's budgets for a user and at tiny budgets in CI.

* :func:`setup_check` lists which benchmarks are present on this machine, where their files
  are, and the command that fetches the missing ones.
* A ``BENCHMARK`` parameter is loaded with ``nl.benchmarks.load(BENCHMARK, fallback="moons")``:
  the bundled NAS-Bench-Moons, with a warning saying why, when the files are absent here
  (the names, the files looked for and how to get them are ``benchmarks.catalogue``).
* :func:`strategies_for` names the strategies that build on a space (what the protocol
  and the runner can run there: REINFORCE writes MLP chains and categorical decisions only, say).
* :func:`inject_parameters` / :func:`execute` run a notebook with overridden parameters.

>>> import nasbench_lab as nl
>>> nl.notebook.setup_check()                    # doctest: +SKIP
>>> bench = nl.benchmarks.load("nb201", fallback="moons")   # doctest: +SKIP
"""
from __future__ import annotations

import dataclasses
import os
import time
from pathlib import Path
from typing import Any, Callable, Iterable

from . import paths
from .benchmarks import catalogue

#: the benchmarks the set-up check lists
BENCHMARKS = catalogue.SETUP

#: the file (or folder) this machine has for a benchmark, or None (``benchmarks.locate``)
locate = catalogue.locate


@dataclasses.dataclass(frozen=True)
class BenchmarkStatus:
    """One row of the set-up check."""

    #: benchmark name as accepted by ``benchmarks.load``
    name: str
    #: whether a usable file was found
    present: bool
    #: the file or folder found (None when absent)
    path: Path | None
    #: one-line description
    description: str
    #: the command that fetches or rebuilds it
    how_to_get: str


def setup_check(show: bool = True):
    """Which benchmarks are present, where, and how to get the others.

    Returns a pandas DataFrame (one row per benchmark); with ``show`` it is also displayed
    (rich in a notebook, plain text elsewhere), followed by the optional caches.
    """
    import pandas as pd

    rows = []
    for name in BENCHMARKS:
        p, entry = locate(name), catalogue.BENCHMARKS[name]
        bundled = p is not None and Path(paths.bundled_dir()).resolve() in Path(p).resolve().parents
        rows.append(dataclasses.asdict(BenchmarkStatus(
            name=name, present=p is not None, path=p, description=entry.description,
            how_to_get="-" if bundled else entry.how_to_get)))
    frame = pd.DataFrame(rows).set_index("name")
    frame["path"] = frame["path"].map(lambda p: "" if p is None else _short(p))
    if show:
        _display(frame)
        caches = optional_caches()
        lines = [f"  {k:<28} {'present' if v else 'absent  (built on first use, minutes)'}" for k, v in caches.items()]
        print("Optional caches:\n" + "\n".join(lines))
        shared = paths.shared_data_dir()
        print(f"Real public samples (../shared/data): {'present' if shared else 'absent'}")
    return frame


def optional_caches() -> dict[str, bool]:
    """Cached artefacts that speed notebooks up (NB101 enumeration, neighbour tables)."""
    cache = paths.cache_dir()
    return {
        "nb101 enumeration": nb101_enumeration_cached(),
        "nb101 neighbour table": any(cache.glob("nb101*neighbour*")),
    }


def nb101_enumeration_cached() -> bool:
    """Whether the NAS-Bench-101 enumeration (423,624 cells) is cached (loads in ~1 s)."""
    try:
        from .spaces import nb101

        return bool(nb101.enumeration_cached())
    except Exception:  # the compiled kernels or an optional extra may be missing
        return False


#: the strategies every benchmark's comparison runs, where they fit its space
#: (the baselines of paper §3.2.3 and the HalfMoons REINFORCE controller)
STRATEGIES = ("random_search", "random_walk", "local_search", "reinforce")
#: NNI's multi-trial strategies (``nni.nas.strategy``) plus the generalised REINFORCE controller
MULTI_TRIAL = ("random", "grid_search", "regularized_evolution", "tpe", "policy_based_rl", "reinforce")
#: the side-by-side comparison of the main job and notebook 08: the paper's baselines and
#: every multi-trial strategy (the trained Ape-X agents join where there are any)
COMPARISON = ("random_search", "random_walk", "local_search", *MULTI_TRIAL)


def strategies_for(space, names: Iterable[str] = STRATEGIES, seed: int = 0, show: bool = True,
                   left_out: dict | None = None) -> list[str]:
    """The registry ``names`` whose class builds on ``space`` (``cls(space, seed=seed)``,
    through ``experiment.runner.build_strategy``), in the given order.

    A strategy that does not fit (``build_strategy`` raises ValueError naming the misfit,
    e.g. REINFORCE on a cell space) or cannot be imported is left out; ``show`` prints
    why, and ``left_out`` (a dict) collects ``name -> reason``.

    >>> import nasbench_lab as nl
    >>> nl.notebook.strategies_for(nl.spaces.get("mlp", max_depth=3))   # doctest: +SKIP
    ['random_search', 'random_walk', 'local_search', 'reinforce']
    """
    from .experiment.runner import build_strategy

    fit = []
    for name in names:
        try:
            build_strategy(name, space, seed=seed)
        except (ValueError, ImportError, AttributeError) as e:
            reason = f"{type(e).__name__}: {e}" if not isinstance(e, ValueError) else str(e)
            if left_out is not None:
                left_out[name] = reason
            if show:
                print(f"{name} left out: {reason}")
            continue
        fit.append(name)
    return fit


def sample_frame(samplers: dict[str, Callable], n: int, seed: int = 0, show_progress: bool = True):
    """Draw ``n`` architectures from each sampler; one row per draw (paper Fig. 5 data).

    ``samplers`` maps a label to ``fn(rng) -> arch``; each sampler gets its own generator
    derived from ``seed`` and its position. Columns: ``sampler``, ``key``, and, where the
    architecture has them, ``vertices`` and ``edges`` (NAS-Bench-101 cells) or ``depth``
    (MLP chains).

    >>> space = nl.spaces.get("nb101")                                  # doctest: +SKIP
    >>> sample_frame({"ours": space.sample, "bananas": space.sample_bananas}, 1000)  # doctest: +SKIP
    """
    import numpy as np
    import pandas as pd

    rows = []
    for j, (label, fn) in enumerate(samplers.items()):
        rng = np.random.default_rng([seed, j])
        draws = range(n)
        if show_progress:
            draws = progress(draws, desc=label, leave=False)
        for _ in draws:
            arch = fn(rng)
            row = {"sampler": label, "key": str(getattr(arch, "key", arch))}
            for col, attr in (("vertices", "num_vertices"), ("edges", "num_edges"), ("depth", "depth")):
                if hasattr(arch, attr):
                    v = getattr(arch, attr)
                    row[col] = int(v() if callable(v) else v)
            rows.append(row)
    return pd.DataFrame(rows)


def show(fig, name: str | None = None):
    """Display ``fig`` once; with ``name`` also write ``figures/<name>.png`` and ``.pdf``.

    >>> nl.notebook.show(figures.shaping_curves(), "fig04_shaping_curves")   # doctest: +SKIP
    """
    import matplotlib.pyplot as plt

    if name is not None:
        from .analysis import figures

        figures.save(fig, name)
    _display(fig)
    plt.close(fig)


def progress(iterable=None, **kwargs):
    """A progress bar that renders as a widget in notebooks and as text elsewhere."""
    from tqdm.auto import tqdm

    kwargs.setdefault("mininterval", 0.5)
    return tqdm(iterable, **kwargs)


# -- running notebooks with parameters (papermill-style) ------------------------------
#: small budgets (CI, smoke runs); a notebook gets the names its parameters cell assigns
SMALL_PARAMETERS: dict[str, Any] = {
    "BENCHMARK": "moons",
    "SEED": 0,
    "SAMPLES": 2000,             # architectures drawn per sampler (Fig. 5)
    "BUILD_ENUMERATION": False,  # never build the multi-minute NB101 enumeration
    "BUDGET": 60,                # queries per search run
    "RUNS": 20,                  # search runs per agent
    "EPISODES": 100,             # evaluation episodes per set of initial states
    "SETS": 2,                   # sets of initial states
    "SEEDS": 2,                  # agent seeds
    "ROLLOUTS": 300,             # REINFORCE rollouts
    "BOOTSTRAP": 500,            # bootstrap resamples
    "LIVE": False,               # no live training
    "SAVE": False,               # do not write figures/ (the analysis tests cover saving)
    # notebook 06 (Ape-X): seconds of training, learning from the first thousand steps
    "TRAIN_STEPS": 6000,         # env steps of the live Ape-X training
    "TRAIN_SEEDS": 1,            # trained Ape-X seeds
    "LEARNING_STARTS": 1000,     # env steps before the first learner update
    "ABLATION_STEPS": 3000,      # env steps per ablation run
    "ABLATION_SEEDS": 1,         # seeds per ablation setting
    "ABLATION_GAMMAS": (0.9,),   # one value: the base setting only
    "ABLATION_NEIGHBOURS": (50,),
    "ABLATION_ALPHAS": (None, 6.0),  # two settings in all: shaped and unshaped
    "REUSE_STEPS": 3000,         # env steps of the NB201 agent of the reuse table
    # notebook 07 (experiments)
    "TRIALS": 400,               # trials of the experiment started, stopped and resumed
    "STOP_AFTER": 0.5,           # seconds before it is stopped
    "COMPARE_TRIALS": 60,        # trials per experiment of the comparison
    # notebook 08 (multi-trial strategies): BUDGET and RUNS above
    "WORKERS": 2,                # processes of the side-by-side comparison
    # notebook 09 (one-shot search): a few steps of every search, a few barely trained cells
    "SEARCH_EPOCHS": 3,          # epochs of every one-shot search
    "SEARCH_STEPS": 3,           # search steps per epoch
    "RANK_CELLS": 6,             # uniform cells of the ranking study
    "STANDALONE_EPOCHS": 1,      # stand-alone training of those cells ...
    "STANDALONE_STEPS": 8,       # ... capped at this many optimiser steps
}


def parameter_names(nb) -> set[str]:
    """Names assigned in the ``parameters`` cell of ``nb``."""
    import ast

    tree = ast.parse(nb.cells[parameters_cell_index(nb)].source)
    return {t.id for node in tree.body if isinstance(node, ast.Assign) for t in node.targets
            if isinstance(t, ast.Name)}


def small_parameters(nb, **overrides) -> dict[str, Any]:
    """The entries of :data:`SMALL_PARAMETERS` (plus ``overrides``) that ``nb`` declares."""
    names = parameter_names(nb)
    return {k: v for k, v in {**SMALL_PARAMETERS, **overrides}.items() if k in names}


def parameters_cell_index(nb) -> int:
    """Index of the cell tagged ``parameters``; ValueError when there is none."""
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and "parameters" in cell.get("metadata", {}).get("tags", []):
            return i
    raise ValueError("notebook has no code cell tagged 'parameters'")


def inject_parameters(nb, **params):
    """Insert a cell tagged ``injected-parameters`` after the ``parameters`` cell.

    Returns the same notebook object (modified). Values are written with ``repr``.
    """
    import nbformat

    idx = parameters_cell_index(nb)
    source = "# Parameters injected by the runner\n" + "\n".join(f"{k} = {v!r}" for k, v in params.items())
    cell = nbformat.v4.new_code_cell(source, metadata={"tags": ["injected-parameters"]})
    nb.cells.insert(idx + 1, cell)
    return nb


def execute(path: str | os.PathLike, parameters: dict | None = None, timeout: int = 600,
            kernel_name: str = "python3", cwd: str | os.PathLike | None = None,
            output: str | os.PathLike | None = None):
    """Execute a notebook with injected parameters; returns ``(notebook, seconds)``.

    Cells run in the notebook's folder (or ``cwd``). An error in a cell raises
    ``nbclient.exceptions.CellExecutionError`` naming the cell. With ``output`` the
    executed notebook is written there (atomically).
    """
    import nbformat
    from nbclient import NotebookClient

    path = Path(path)
    nb = nbformat.read(path, as_version=4)
    if parameters:
        inject_parameters(nb, **parameters)
    # the kernel is killed once the last cell is done: a graceful shutdown was seen to wait the
    # whole timeout for a kernel that had displayed ipywidgets
    client = NotebookClient(nb, timeout=timeout, kernel_name=kernel_name, shutdown_kernel="immediate",
                            resources={"metadata": {"path": str(cwd or path.parent)}})
    t0 = time.perf_counter()
    client.execute()
    seconds = time.perf_counter() - t0
    if output is not None:
        with paths.atomic_write(output, suffix=".ipynb") as tmp:
            nbformat.write(nb, tmp)
    return nb, seconds


def error_outputs(nb) -> list[tuple[int, str]]:
    """``(cell index, "EName: value")`` for every error output of an executed notebook."""
    out = []
    for i, cell in enumerate(nb.cells):
        for o in cell.get("outputs", []):
            if o.get("output_type") == "error":
                out.append((i, f"{o.get('ename')}: {o.get('evalue')}"))
    return out


# -- small display helpers ------------------------------------------------------------
def _short(p: Path) -> str:
    p = Path(p)
    for root in (paths.PROJECT_ROOT, paths.PROJECT_ROOT.parent):
        try:
            return str(p.relative_to(root))
        except ValueError:
            continue
    return str(p)


def _display(obj) -> None:
    try:
        from IPython import get_ipython
        from IPython.display import display

        if get_ipython() is not None:
            display(obj)
            return
    except ImportError:  # pragma: no cover
        pass
    print(obj)


def timed(label: str) -> Callable:
    """Context manager printing the wall time of a block: ``with timed("search"): ...``."""
    import contextlib

    @contextlib.contextmanager
    def _cm():
        t0 = time.perf_counter()
        yield
        print(f"{label}: {time.perf_counter() - t0:.1f} s")

    return _cm()


def main(argv: list[str] | None = None) -> int:
    """``python -m nasbench_lab.notebook [--small] [--out DIR] [NOTEBOOK ...]``: execute notebooks.

    Runs each notebook (default: every ``notebooks/NN_*.ipynb``) at its own parameters, or at
    :data:`SMALL_PARAMETERS` with ``--small``, and prints the seconds each took. Executed
    copies go to ``--out`` when given; the committed notebooks are never modified.
    """
    import argparse

    import nbformat

    ap = argparse.ArgumentParser(prog="python -m nasbench_lab.notebook", description="Execute notebooks and print the seconds each took.")
    ap.add_argument("notebooks", nargs="*", type=Path)
    ap.add_argument("--small", action="store_true", help="inject the small CI budgets")
    ap.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                    help="override one parameter (a Python literal), e.g. --set BENCHMARK='nb201'")
    ap.add_argument("--out", type=Path, help="folder for the executed copies")
    ap.add_argument("--timeout", type=int, default=1800, help="seconds per cell")
    args = ap.parse_args(argv)
    import ast

    overrides = {}
    for item in args.set:
        key, _, value = item.partition("=")
        overrides[key.strip()] = ast.literal_eval(value)
    files = args.notebooks or sorted((paths.PROJECT_ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    failed = 0
    for path in files:
        nb = nbformat.read(path, as_version=4)
        params = small_parameters(nb, **overrides) if args.small else {
            k: v for k, v in overrides.items() if k in parameter_names(nb)}
        out = args.out / path.name if args.out else None
        try:
            _, seconds = execute(path, parameters=params, timeout=args.timeout, output=out)
        except Exception as exc:  # report and go on with the next notebook
            failed += 1
            print(f"{path.name}: FAILED ({type(exc).__name__}: {str(exc).splitlines()[-1] if str(exc) else ''})")
            continue
        print(f"{path.name}: {seconds:.1f} s  {params or '(own parameters)'}", flush=True)
    return 1 if failed else 0


__all__ = [
    "BENCHMARKS", "BenchmarkStatus", "COMPARISON", "MULTI_TRIAL", "STRATEGIES", "main",
    "SMALL_PARAMETERS", "error_outputs", "execute", "parameter_names", "small_parameters", "inject_parameters", "locate",
    "nb101_enumeration_cached", "optional_caches", "parameters_cell_index", "progress",
    "sample_frame", "setup_check", "show", "strategies_for", "timed",
]


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())

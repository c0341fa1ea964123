"""The ``nasbench-lab`` command: bench, download, import, build, figures, run.

Subcommands are contributed by the layers through ``COMMANDS`` below (lazy imports,
so ``nasbench-lab --help`` is instant).
"""
from __future__ import annotations

import argparse
import importlib
import sys


def _cmd_bench(args) -> int:
    from . import speed

    speed.run(args.sections or None, quick=args.quick)
    return 0


def run_target(target: str, args) -> int:
    """Import ``"module:function"`` and call it with the parsed arguments; its exit code."""
    module, attr = target.split(":")
    return int(getattr(importlib.import_module(module), attr)(args) or 0)


def _lazy(target: str):
    return lambda args: run_target(target, args)


def positive_int(text: str) -> int:
    """An argparse type: an integer >= 1."""
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {v}")
    return v


def build_parser() -> argparse.ArgumentParser:
    from .benchmarks import catalogue  # the names in the help (a light module: no heavy imports)

    p = argparse.ArgumentParser(prog="nasbench-lab", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)

    b = sub.add_parser("bench", help="print speed figures (medians, ratios against references)")
    b.add_argument("sections", nargs="*", help="sections to run (default: all)")
    b.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke run")
    b.set_defaults(func=_cmd_bench)

    d = sub.add_parser("download", help="download an official benchmark file (resumable, checked)")
    d.add_argument("name", help=" | ".join(catalogue.download_names()))
    d.add_argument("--url", help="override the download address (a mirror)")
    d.add_argument("--dest", help="target folder (default: data/cache/downloads)")
    d.set_defaults(func=_lazy("nasbench_lab.benchmarks.download:cli_download"))

    i = sub.add_parser("import", help="import an official benchmark file into the compact cache")
    i.add_argument("name", help=" | ".join(catalogue.import_names()))
    i.add_argument("path", help="the official file or folder")
    i.add_argument("--allow-partial", action="store_true",
                   help="accept an NB101 file with missing cells or repeats (warned, cache flagged)")
    i.set_defaults(func=_lazy("nasbench_lab.benchmarks.download:cli_import"))

    bu = sub.add_parser("build", help="build a bundled artefact (moons, nb101-enumeration, nb101-neighbours)")
    bu.add_argument("what")
    bu.add_argument("--seed", type=int, default=0)
    bu.add_argument("--workers", type=positive_int, default=2, help="worker processes (>= 1)")
    bu.add_argument("--out", help="output file (default: the bundled location)")
    bu.set_defaults(func=_lazy("nasbench_lab.build:cli_build"))

    f = sub.add_parser("figures", help="regenerate every figure and table of the offline default")
    f.add_argument("--benchmark", default="moons", help=" | ".join(catalogue.names()))
    f.add_argument("--out", help="output folder (default: figures/)")
    f.add_argument("--quick", action="store_true", help="tiny budgets (smoke run)")
    f.add_argument("--apex-seeds", type=int, default=None, help="trained Ape-X seeds per benchmark (default 1)")
    f.set_defaults(func=_lazy("nasbench_lab.main_job:cli_figures"))

    ab = sub.add_parser("ablation", help="train the Ape-X ablation grid (paper §5) and draw Figs. 17-19")
    ab.add_argument("--benchmark", default="moons", help=" | ".join(catalogue.names()))
    ab.add_argument("--seeds", type=int, default=3, help="seeds per setting")
    ab.add_argument("--steps", type=int, default=100_000, help="training env steps per run")
    ab.add_argument("--full-factorial", action="store_true", help="cross the three parameters (36 settings)")
    ab.add_argument("--out", help="output folder (default: figures/ablation); finished runs are reused")
    ab.set_defaults(func=_lazy("nasbench_lab.main_job:cli_ablation"))

    oq = sub.add_parser("oneshot-quality", help="weight-sharing quality of every one-shot method: Kendall tau / "
                                                "Spearman rho against stand-alone training, exports, collapse")
    oq.add_argument("--methods", nargs="+", default=None, help="one-shot methods (default: all five)")
    oq.add_argument("--space", default="nb201", choices=("nb201", "darts"))
    oq.add_argument("--cells", type=int, default=150, help="uniform cells trained stand-alone (ground truth)")
    oq.add_argument("--seeds", type=int, default=3, help="searches per method")
    oq.add_argument("--epochs", type=int, default=20, help="super-net epochs per search")
    oq.add_argument("--steps", type=int, default=16, help="super-net steps per epoch")
    oq.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE",
                    help="search options for every method (e.g. second_order=true channels=16)")
    oq.add_argument("--out", help="output folder (default: figures/)")
    oq.add_argument("--tag", default="", help="suffix of the output files (e.g. 'dropout' for runs with --set)")
    oq.add_argument("--store", default=None, help="SQLite store of the stand-alone trainings (default: the cache)")
    oq.set_defaults(func=_lazy("nasbench_lab.main_job:cli_oneshot_quality"))

    from .experiment.commands import add_parser as add_experiment_parser

    add_experiment_parser(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

"""``nasbench-lab build WHAT``: regenerate bundled or cached artefacts reproducibly.

Each target is ``name -> "module:function"``; the function takes the parsed CLI
arguments (``seed``, ``workers``, ``out``) and returns an exit code. The command line
(``cli``) reaches this module by name; this module does not import ``cli`` back.
"""
from __future__ import annotations

import importlib

TARGETS: dict[str, str] = {
    "moons": "nasbench_lab.benchmarks.moons:cli_build",
    "nb101-enumeration": "nasbench_lab.spaces.nb101:cli_build_enumeration",
    "nb101-neighbours": "nasbench_lab.spaces.nb101:cli_build_neighbour_table",
}


def cli_build(args) -> int:
    try:
        target = TARGETS[args.what]
    except KeyError:
        raise SystemExit(f"unknown build target {args.what!r}; known: {', '.join(sorted(TARGETS))}")
    workers = getattr(args, "workers", 1)
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise SystemExit(f"nasbench-lab build: --workers must be a positive integer, got {workers!r}")
    module, attr = target.split(":")  # imported here: one target never pays for the others
    return int(getattr(importlib.import_module(module), attr)(args) or 0)

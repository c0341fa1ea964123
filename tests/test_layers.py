"""The layers of DESIGN.md: dependencies point downwards only.

Every module under ``nasbench_lab/`` is parsed with ``ast``; every import of a
``nasbench_lab`` module is an arrow from the importing module to the imported one:
``import nasbench_lab.x``, ``from nasbench_lab.x import y``, the relative forms
(``from ..x import y``, ``from . import x``), imports inside functions and under
``if TYPE_CHECKING:`` (a lazy import is still an import arrow), and
``importlib.import_module("nasbench_lab.x")`` / ``__import__`` with a literal name.
``from P import name`` points at the submodule ``P.name`` when that is a module of the
tree, else at ``P``.

Where each module sits (by its first package part below ``nasbench_lab``):

* **bottom**: ``schema``, ``paths``, ``device``, ``_parallel``, ``_timing``, ``_ray``. They sit below every layer and may
  import only each other (no layer, no ``analysis``, no top-level module).
* **layers**, ranked: ``spaces`` 0, ``models`` 1, ``benchmarks`` 2, ``env`` 3, ``strategies`` 4 and
  ``oneshot`` 4, ``experiment`` 5. ``models`` (the torch network of an architecture) sits
  on purpose between the spaces it reads and the benchmarks (live training, zero-cost
  proxies) and one-shot super-nets that build networks with it; ``spaces`` never imports
  it (an architecture is a value, its network is built elsewhere). A module of rank k may import the bottom, modules of
  its own package, and layers of rank < k. Rank k from another package is refused
  (``strategies`` and ``oneshot`` do not import each other), as is any rank > k.
* **analysis** reads result frames, not live objects: it is a leaf library over frames.
  Any layer (and the top) may import ``analysis`` (e.g. ``strategies.apex_studies`` draws
  its ablation figures with it); ``analysis`` itself may import only the bottom (and
  itself), never a layer nor the top.
* **top**: ``nasbench_lab/__init__.py``, ``cli``, ``main_job``, ``notebook``,
  ``widgets``, ``build``, ``speed/`` (the ``nasbench-lab bench`` sections). They sit above
  all layers and may import anything;
  nothing below the top may import them (``import nasbench_lab`` inside a layer reaches
  up to the facade and counts as an import of the top).

A module whose first part is none of these is refused until it is given a place here:
a new file must be put in a layer on purpose, not slip past the check.

Every violation of the tree is reported in one assertion message, ``file:line ->
imported module``; :func:`test_checker_catches_planted_upward_imports` plants upward
imports in synthetic sources so that the check can never pass by seeing nothing.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = "nasbench_lab"
ROOT = Path(__file__).resolve().parent.parent / PACKAGE

LAYERS = {"spaces": 0, "models": 1, "benchmarks": 2, "env": 3, "strategies": 4, "oneshot": 4, "experiment": 5}
BOTTOM = {"schema", "paths", "device", "_parallel", "_timing", "_ray"}
TOP = {"cli", "main_job", "notebook", "widgets", "speed", "build"}
ANALYSIS = "analysis"


# -- the checker ---------------------------------------------------------------------
def module_name(path: Path, root: Path = ROOT) -> tuple[str, bool]:
    """(dotted module name, is a package ``__init__``) of a file under ``root``."""
    rel = path.relative_to(root.parent).with_suffix("")
    parts = list(rel.parts)
    is_package = parts[-1] == "__init__"
    if is_package:
        parts = parts[:-1]
    return ".".join(parts), is_package


def place(module: str) -> tuple[str, int | None]:
    """(category, rank) of a ``nasbench_lab`` module: ``("top", None)``, ``("bottom",
    None)``, ``("analysis", None)``, ``("layer", rank)`` or ``("unknown", None)``."""
    parts = module.split(".")
    if parts[0] != PACKAGE:
        raise ValueError(f"{module} is not a {PACKAGE} module")
    if len(parts) == 1:
        return "top", None
    head = parts[1]
    if head in LAYERS:
        return "layer", LAYERS[head]
    if head in BOTTOM:
        return "bottom", None
    if head == ANALYSIS:
        return "analysis", None
    if head in TOP:
        return "top", None
    return "unknown", None


def _package_of(module: str) -> str:
    """The first package part below ``nasbench_lab`` ("" for the package itself)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def allowed(src: str, dst: str) -> bool:
    """Whether module ``src`` may import module ``dst`` (the rules of the module docstring)."""
    s_cat, s_rank = place(src)
    d_cat, d_rank = place(dst)
    if s_cat == "top":
        return True
    if s_cat == "unknown" or d_cat == "unknown":
        return False
    if _package_of(src) == _package_of(dst):
        return True  # within one package (its own __init__ included)
    if d_cat == "bottom":
        return True
    if s_cat in ("bottom", "analysis"):
        return False  # the bottom and analysis import only the bottom (and themselves)
    # s_cat == "layer"
    if d_cat == "analysis":
        return True  # a leaf library over frames
    if d_cat == "top":
        return False
    return d_rank < s_rank  # same rank across packages (strategies <-> oneshot) is refused


def _resolve_relative(module: str, is_package: bool, level: int, target: str | None) -> str:
    base = module.split(".") if is_package else module.split(".")[:-1]
    if level - 1 > len(base) - 1:
        raise ValueError(f"{module}: relative import beyond the top-level package (level {level})")
    base = base[: len(base) - (level - 1)]
    return ".".join(base + ([target] if target else []))


def _literal_import_call(node: ast.Call) -> str | None:
    """The literal module name of ``importlib.import_module("x")`` / ``__import__("x")``."""
    f = node.func
    name = f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else None
    if name not in ("import_module", "__import__") or not node.args:
        return None
    arg = node.args[0]
    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
        return arg.value
    return None


def imports_of(source: str, module: str, is_package: bool = False,
               known: set[str] | frozenset = frozenset()) -> list[tuple[int, str]]:
    """``(line, imported nasbench_lab module)`` for every import arrow in ``source``.

    ``known``: the dotted names of the tree's modules (to tell ``from P import submodule``
    from ``from P import function``).
    """
    tree = ast.parse(source)
    out: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == PACKAGE:
                    out.append((node.lineno, alias.name))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = _resolve_relative(module, is_package, node.level, node.module)
            else:
                base = node.module or ""
            if base.split(".")[0] != PACKAGE:
                continue
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                out.append((node.lineno, sub if sub in known else base))
        elif isinstance(node, ast.Call):
            name = _literal_import_call(node)
            if name and name.split(".")[0] == PACKAGE:
                out.append((node.lineno, name))
    return sorted(set(out))


def violations_in(source: str, module: str, is_package: bool = False, filename: str | None = None,
                  known: set[str] | frozenset = frozenset()) -> list[str]:
    """``"file:line -> imported module (why)"`` for every import arrow ``allowed`` refuses."""
    filename = filename or module
    out = []
    if place(module)[0] == "unknown":
        out.append(f"{filename}:1 -> (module {module} is in no layer: give "
                   f"{_package_of(module)!r} a place in tests/test_layers.py)")
    for line, target in imports_of(source, module, is_package, known):
        if not allowed(module, target):
            s, d = place(module), place(target)
            out.append(f"{filename}:{line} -> {target} ({_describe(module, s)} imports {_describe(target, d)})")
    return out


def _describe(module: str, where: tuple[str, int | None]) -> str:
    cat, rank = where
    pkg = _package_of(module) or PACKAGE
    return f"{pkg} (layer {rank})" if cat == "layer" else f"{pkg} ({cat})"


def tree_modules(root: Path = ROOT) -> dict[str, tuple[Path, bool]]:
    """``module name -> (file, is_package)`` for every ``.py`` file under ``root``."""
    out = {}
    for path in sorted(root.rglob("*.py")):
        if "__pycache__" in path.parts:
            continue
        name, is_package = module_name(path, root)
        out[name] = (path, is_package)
    return out


def tree_violations(root: Path = ROOT) -> list[str]:
    modules = tree_modules(root)
    known = set(modules)
    out = []
    for name, (path, is_package) in modules.items():
        rel = path.relative_to(root.parent).as_posix()
        out += violations_in(path.read_text(encoding="utf-8"), name, is_package, rel, known)
    return out


# -- the tests -----------------------------------------------------------------------
def test_no_upward_imports_between_layers():
    modules = tree_modules()
    assert len(modules) > 20, f"found only {len(modules)} modules under {ROOT}: wrong root?"
    assert sum(len(imports_of(p.read_text(encoding="utf-8"), n, pkg, set(modules)))
               for n, (p, pkg) in modules.items()) > 50, "the checker sees almost no imports"
    found = tree_violations()
    assert not found, (f"{len(found)} import(s) against the layers of DESIGN.md "
                       "(see tests/test_layers.py for the rules):\n" + "\n".join(found))


KNOWN = {"nasbench_lab.env", "nasbench_lab.env.incremental", "nasbench_lab.experiment",
         "nasbench_lab.experiment.runner", "nasbench_lab.benchmarks", "nasbench_lab.spaces",
         "nasbench_lab.strategies", "nasbench_lab.oneshot", "nasbench_lab.analysis", "nasbench_lab.schema",
         "nasbench_lab.paths", "nasbench_lab.cli", "nasbench_lab.strategies.apex"}

PLANTED = [
    # (module, is_package, source, the imported module that must be reported)
    ("nasbench_lab.spaces.fake", False, "from ..experiment import run\n", "nasbench_lab.experiment"),
    ("nasbench_lab.spaces.mlp", False, "def f():\n    from ..models import build_model\n", "nasbench_lab.models"),
    ("nasbench_lab.models.mlp", False, "from ..benchmarks.base import Metrics\n", "nasbench_lab.benchmarks.base"),
    ("nasbench_lab.spaces.fake", False, "import nasbench_lab.benchmarks.tabular as t\n",
     "nasbench_lab.benchmarks.tabular"),
    ("nasbench_lab.benchmarks.fake", False,
     "import numpy as np\n\ndef lazy():\n    from ..env.incremental import IncrementalEnv\n    return 1\n",
     "nasbench_lab.env.incremental"),
    ("nasbench_lab.benchmarks", True, "from .. import env\n", "nasbench_lab.env"),
    ("nasbench_lab.env.fake", False,
     "class A:\n    def f(self):\n        import importlib\n"
     "        return importlib.import_module('nasbench_lab.strategies.apex')\n",
     "nasbench_lab.strategies.apex"),
    ("nasbench_lab.env.fake", False,
     "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from ..experiment.runner import Trial\n",
     "nasbench_lab.experiment.runner"),
    ("nasbench_lab.strategies.fake", False, "from ..oneshot import darts\n", "nasbench_lab.oneshot"),
    ("nasbench_lab.oneshot.fake", False, "from nasbench_lab.strategies import get\n", "nasbench_lab.strategies"),
    ("nasbench_lab.strategies.fake", False, "from .. import cli\n", "nasbench_lab.cli"),
    ("nasbench_lab.strategies.fake", False, "import nasbench_lab as nl\n", "nasbench_lab"),
    ("nasbench_lab.analysis.fake", False, "from ..spaces import get\n", "nasbench_lab.spaces"),
    ("nasbench_lab.analysis.stats", False, "def f():\n    from nasbench_lab.experiment import run\n",
     "nasbench_lab.experiment"),
    ("nasbench_lab.schema", False, "from .env import neighbours\n", "nasbench_lab.env"),
    ("nasbench_lab.paths", False, "from . import analysis\n", "nasbench_lab.analysis"),
    ("nasbench_lab.newthing", False, "x = 1\n", "in no layer"),
]


@pytest.mark.parametrize("module,is_package,source,target", PLANTED,
                         ids=[f"{m}<-{t}" for m, _, _, t in PLANTED])
def test_checker_catches_planted_upward_imports(module, is_package, source, target):
    found = violations_in(source, module, is_package, "planted.py", KNOWN)
    assert len(found) == 1 and target in found[0] and found[0].startswith("planted.py:"), found


ALLOWED = [
    ("nasbench_lab.strategies.apex_studies", False, "from ..analysis import figures\nfrom .. import analysis\n"),
    ("nasbench_lab.env.vector", False, "from ..spaces import get\nfrom ..benchmarks.tabular import T\n"
                                       "from .neighbours import neighbour_table\nfrom .. import paths\n"),
    ("nasbench_lab.experiment.runner", False, "def f():\n    from .. import benchmarks, strategies\n"
                                              "from ..schema import QUERY_COLUMNS\nfrom .protocol import x\n"),
    ("nasbench_lab.env", True, "from .incremental import IncrementalEnv\nfrom . import neighbours\n"),
    ("nasbench_lab.analysis.figures", False, "from .stats import ci\nfrom ..schema import QUERY_COLUMNS\n"
                                             "import numpy\nfrom .. import paths\n"),
    ("nasbench_lab.schema", False, "from . import paths\nimport pandas\n"),
    ("nasbench_lab.cli", False, "import nasbench_lab as nl\nfrom .experiment import run\nfrom .speed import x\n"),
    ("nasbench_lab", True, "from . import spaces, benchmarks, env, strategies, experiment, analysis\n"),
    ("nasbench_lab.speed.apex", False, "from ..strategies.apex import train\n"),
    ("nasbench_lab.benchmarks.live", False, "def f():\n    from ..models import build_model\n"),
    ("nasbench_lab.oneshot.supernet", False, "from ..models import darts, nb201\nfrom ..spaces import nb201\n"),
    ("nasbench_lab.models.mlp", False, "from ..spaces.mlp import ACTIVATIONS\n"),
]


@pytest.mark.parametrize("module,is_package,source", ALLOWED, ids=[m for m, _, _ in ALLOWED])
def test_checker_allows_downward_imports(module, is_package, source):
    assert imports_of(source, module, is_package, KNOWN), "the checker saw no import"
    assert violations_in(source, module, is_package, "ok.py", KNOWN) == []


def test_relative_imports_resolve_like_python():
    assert imports_of("from . import neighbours\n", "nasbench_lab.env", True, {"nasbench_lab.env.neighbours"}) == [
        (1, "nasbench_lab.env.neighbours")]
    assert imports_of("from . import neighbours\n", "nasbench_lab.env.vector", False, {"nasbench_lab.env.neighbours"}) == [
        (1, "nasbench_lab.env.neighbours")]
    assert imports_of("from ..spaces.nb101 import Cell\n", "nasbench_lab.benchmarks.nb101") == [
        (1, "nasbench_lab.spaces.nb101")]
    assert imports_of("from ...schema import X\n", "nasbench_lab.a.b.c") == [(1, "nasbench_lab.schema")]
    assert imports_of("import numpy\nfrom numpy import random\n", "nasbench_lab.env.x") == []


def mutual_imports(modules: dict[str, tuple[Path, bool]]) -> list[str]:
    """``"a <-> b"`` for every pair of modules of different packages (or two top-level
    modules) that import each other, lazily or not; a ``"nasbench_lab.x:function"`` string
    (imported by name when called) counts as an import of ``nasbench_lab.x``."""
    known = set(modules)
    arrows = {}
    for name, (path, is_package) in modules.items():
        source = path.read_text(encoding="utf-8")
        arrows[name] = {t for _, t in imports_of(source, name, is_package, known)}
        # "module:function" targets imported by name later (cli's sub-commands, build's targets)
        arrows[name] |= {node.value.split(":")[0] for node in ast.walk(ast.parse(source))
                         if isinstance(node, ast.Constant) and isinstance(node.value, str)
                         and node.value.split(":")[0] in known and ":" in node.value}
    out = []
    for a, targets in arrows.items():
        for b in targets:
            if a < b and a in arrows.get(b, ()) and (_package_of(a) != _package_of(b) or place(a)[0] == "top"):
                out.append(f"{a} <-> {b}")
    return sorted(out)


def test_no_two_modules_import_each_other(tmp_path):
    """``cli`` and ``build`` (and any two top-level modules or packages) never import each
    other; the check itself sees a planted pair."""
    assert mutual_imports(tree_modules()) == []
    pkg = tmp_path / PACKAGE
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "cli.py").write_text(f"COMMANDS = {{'build': '{PACKAGE}.build:g'}}\ndef f():\n    pass\n")
    (pkg / "build.py").write_text("def g():\n    from .cli import f\n")
    assert mutual_imports(tree_modules(pkg)) == [f"{PACKAGE}.build <-> {PACKAGE}.cli"]

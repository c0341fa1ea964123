"""``nasbench_lab/env`` names no particular space and reaches into no other package's privates.

The env works on any SearchSpace through its public methods (``neighbours``,
``neighbour_table``, ...). Two rules, read from the source with ``ast``:

* no space names in code: no identifier, attribute or name-like string constant (one
  without spaces: ``"nb101"``, ``"nb101_neighbours.npz"``; prose such as an error message
  citing the paper may name a space) containing a registered space name (``nb101``,
  ``nb201``, ``darts``, ...);
* no private cross-package imports: nothing ``_``-prefixed imported from another
  sub-package of ``nasbench_lab`` (``from ..spaces.nb101 import _load``,
  ``from ..spaces.nb101._jit import ...``) and no ``module._name`` access on a name imported
  from one. Private modules of the top package itself (``nasbench_lab._parallel``) are
  shared helpers of every layer and allowed.
"""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from nasbench_lab import spaces

ENV = Path(__file__).resolve().parents[1] / "nasbench_lab" / "env"
SPACE_NAMES = sorted(set(spaces.names()))
_NAMES = re.compile("|".join(map(re.escape, SPACE_NAMES)), re.IGNORECASE)


def _docstrings(tree: ast.AST) -> set[int]:
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                    and isinstance(body[0].value.value, str):
                out.add(id(body[0].value))
    return out


def _resolve(module: str | None, level: int, package: str) -> str:
    """Absolute module of ``from <level dots><module> import ...`` inside ``package``."""
    if not level:
        return module or ""
    parts = package.split(".")
    base = parts[: len(parts) - level + 1]
    return ".".join(base + ([module] if module else []))


def _is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _foreign_private(module: str) -> bool:
    """A module path that is private to a sub-package other than env."""
    parts = module.split(".")
    if parts[:1] != ["nasbench_lab"] or parts[1:2] == ["env"]:
        return False
    return any(_is_private(p) for p in parts[2:])  # parts[1] private: a top-package helper


def violations(source: str, package: str = "nasbench_lab.env") -> list[str]:
    """What the two rules find in one module's source (empty when it is generic)."""
    tree = ast.parse(source)
    docs = _docstrings(tree)
    found = []
    imported_from_others: set[str] = set()

    def named(what: str, name: str, node: ast.AST) -> None:
        if _NAMES.search(name):
            found.append(f"line {node.lineno}: space name in {what} {name!r}")

    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            module = _resolve(node.module, node.level, package)
            other = module.startswith("nasbench_lab") and not module.startswith("nasbench_lab.env")
            if _foreign_private(module):
                found.append(f"line {node.lineno}: private import from {module}")
            for alias in node.names:
                named("import", alias.name, node)
                if other:
                    imported_from_others.add(alias.asname or alias.name)
                    if module.count(".") >= 1 and _is_private(alias.name) and module != "nasbench_lab":
                        found.append(f"line {node.lineno}: private name {alias.name} from {module}")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                named("import", alias.name, node)
                if _foreign_private(alias.name):
                    found.append(f"line {node.lineno}: private import of {alias.name}")
                if alias.name.startswith("nasbench_lab") and not alias.name.startswith("nasbench_lab.env"):
                    imported_from_others.add(alias.asname or alias.name.split(".")[0])
        elif isinstance(node, ast.Name):
            named("name", node.id, node)
        elif isinstance(node, ast.Attribute):
            named("attribute", node.attr, node)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            named("definition", node.name, node)
        elif isinstance(node, ast.arg):
            named("argument", node.arg, node)
        elif (isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs
              and not re.search(r"\s", node.value)):
            named("string", node.value, node)
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and _is_private(node.attr) and isinstance(node.value, ast.Name)
                and node.value.id in imported_from_others):
            found.append(f"line {node.lineno}: private attribute {node.value.id}.{node.attr}")
    return found


def test_the_checker_finds_what_it_forbids():
    bad = (
        "from ..spaces import nb101\n"
        "from ..spaces.neighbour_table import _rows\n"
        "from ..spaces.foo._kernels import table\n"
        "import nasbench_lab.spaces._x\n"
        "CACHE = 'nb201_neighbours.npz'\n"
        "def f(space, mod):\n"
        "    if space.name == 'darts':\n"
        "        return nb101._load()\n"
    )
    found = "\n".join(violations(bad))
    for what in ("space name in import 'nb101'", "private name _rows", "private import from nasbench_lab.spaces.foo._kernels",
                 "private import of nasbench_lab.spaces._x", "'nb201_neighbours.npz'", "'darts'",
                 "private attribute nb101._load"):
        assert what in found, (what, found)
    assert violations("x = f'alpha {a} (paper: 6 for NB101)'\n") == []  # prose, not a name
    good = ("from .. import paths\nfrom .._parallel import imap\nfrom ..spaces.neighbour_table import build_table\n"
            "def f(space):\n    '''Works for nb101 and nb201 alike.'''\n    return space.neighbour_table()\n")
    assert violations(good) == []


@pytest.mark.parametrize("path", sorted(ENV.glob("*.py")), ids=lambda p: p.name)
def test_env_module_is_generic(path):
    assert violations(path.read_text()) == [], path.name

"""The docstring examples of every module of the package run, as written.

Every ``nasbench_lab`` module is found on disk (so a new module is covered without being
listed here), imported, and its doctests are run with ``doctest`` itself:
``# doctest: +SKIP`` is honoured (examples that need a downloaded benchmark, a GPU or a
long run say so), ``ELLIPSIS`` and ``NORMALIZE_WHITESPACE`` are on. A docstring whose
example cannot even be parsed (an option ``doctest`` does not know, say) fails its module
by name, as does an example whose output differs.

Each module's examples run in a temporary working folder with a private data folder, so
an example that writes a file leaves nothing behind.

Every name a module lists in ``__all__`` must resolve too: a promise of the public API.
"""
from __future__ import annotations

import doctest
import importlib
from pathlib import Path

import pytest

import nasbench_lab

ROOT = Path(nasbench_lab.__file__).resolve().parent
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def package_modules(root: Path = ROOT) -> list[str]:
    """Dotted names of every ``.py`` file of the package (``__init__`` as its package)."""
    out = []
    for path in sorted(root.rglob("*.py")):
        if "__pycache__" in path.parts:
            continue
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out.append(".".join(parts))
    return out


MODULES = package_modules()


def run_doctests(module) -> tuple[int, int, str]:
    """(examples tried, failed, the report of the failures) of ``module``'s doctests."""
    import io

    finder = doctest.DocTestFinder(exclude_empty=True)
    tests = finder.find(module, module.__name__)  # ValueError when an example does not parse
    out = io.StringIO()
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    for t in sorted(tests, key=lambda t: t.name):
        runner.run(t, out=out.write)
    r = runner.summarize(verbose=False)
    return r.attempted, r.failed, out.getvalue()


@pytest.mark.parametrize("name", MODULES)
def test_module_doctests_pass(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NASBENCH_LAB_DATA", str(tmp_path / "data"))
    module = importlib.import_module(name)
    try:
        tried, failed, report = run_doctests(module)
    except ValueError as e:  # a docstring example doctest cannot parse
        pytest.fail(f"{name}: a docstring example does not parse: {e}")
    assert failed == 0, f"{name}: {failed} of {tried} doctest examples failed\n{report}"


@pytest.mark.parametrize("name", MODULES)
def test_public_names_resolve(name):
    module = importlib.import_module(name)
    missing = [n for n in getattr(module, "__all__", ()) if not hasattr(module, n)]
    assert not missing, f"{name}.__all__ names what the module does not have: {missing}"


def test_the_runner_sees_failures_and_bad_examples(tmp_path):
    """A wrong output fails, a malformed option is refused, a skipped example is not run."""
    import types

    good = types.ModuleType("good")
    good.__doc__ = ">>> 1 + 1\n2\n>>> raise RuntimeError('never run')  # doctest: +SKIP\n"
    assert run_doctests(good)[:2] == (1, 0)
    bad = types.ModuleType("bad")
    bad.__doc__ = ">>> 1 + 1\n3\n"
    tried, failed, report = run_doctests(bad)
    assert (tried, failed) == (1, 1) and "Expected:\n    3\nGot:\n    2" in report
    broken = types.ModuleType("broken")
    broken.__doc__ = ">>> 1 + 1   # doctest: +SKIP  (a reason after the option)\n2\n"
    with pytest.raises(ValueError, match="invalid option"):
        run_doctests(broken)
    assert "nasbench_lab.benchmarks" in MODULES and "nasbench_lab" in MODULES

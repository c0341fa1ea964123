"""The ordered notebooks: committed clean, d2l-style, and executing end to end at CI budgets.

Every notebook has one code cell tagged ``parameters`` (papermill convention). The runner
injects ``nasbench_lab.notebook.SMALL_PARAMETERS`` (only the names that notebook's parameters cell assigns)
right after it, so the same notebook runs at the paper's budgets for a user and at small
budgets here. Also tests the helpers in ``nasbench_lab.notebook`` and ``nasbench_lab.widgets``
and ``scripts/clear_notebooks.py``.
"""
from __future__ import annotations

import ast
import importlib.util
import sys
from pathlib import Path

import nbformat
import pytest

import nasbench_lab as nl
from nasbench_lab import notebook as nbh

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK_DIR = ROOT / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb"))
EXPECTED = ["00_overview", "01_search_spaces", "02_benchmarks", "03_incremental_env",
            "04_agents_protocol", "05_paper_figures", "06_apex_agent", "07_experiments",
            "08_multi_trial_strategies", "09_one_shot"]

def _load_clear_script():
    spec = importlib.util.spec_from_file_location("clear_notebooks", ROOT / "scripts" / "clear_notebooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _code(nb) -> list[str]:
    return [c.source for c in nb.cells if c.cell_type == "code"]


# -- structure -----------------------------------------------------------------------
def test_every_ordered_notebook_exists():
    assert [p.stem for p in NOTEBOOKS] == EXPECTED


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_committed_clean(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert _load_clear_script().is_clean(nb), f"{path.name} has outputs: run scripts/clear_notebooks.py"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_d2l_style(path):
    """Imports the package as nl, has a parameters cell, keeps logic in the package."""
    nb = nbformat.read(path, as_version=4)
    code = _code(nb)
    assert any("import nasbench_lab as nl" in c for c in code), "notebooks import the package as nl"
    names = nbh.parameter_names(nb)
    assert "SEED" in names or "BENCHMARK" in names, f"parameters cell assigns {sorted(names)}"
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# ")
    for src in code:
        tree = ast.parse(src)
        defs = [n.name for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.ClassDef))]
        assert not defs, f"{path.name} defines {defs}: library logic belongs in nasbench_lab"
    markdown = sum(len(c.source) for c in nb.cells if c.cell_type == "markdown")
    assert markdown > 1500, "notebooks are teaching material: explain each step"


# -- execution -----------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_executes_at_ci_budgets(path, tmp_path, monkeypatch, record_property):
    # a fresh data dir (no caches: as on a fresh clone) and figures in tmp
    monkeypatch.setenv("NASBENCH_LAB_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("NASBENCH_LAB_FIGURES", str(tmp_path / "figures"))
    # conftest selects Agg for the test process; the kernel draws inline like a user's
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    nb = nbformat.read(path, as_version=4)
    params = nbh.small_parameters(nb)
    out = tmp_path / path.name
    executed, seconds = nbh.execute(path, parameters=params, timeout=300, output=out)
    record_property("seconds", round(seconds, 1))
    print(f"{path.name}: {seconds:.1f} s with {params}")
    assert nbh.error_outputs(executed) == []
    code_cells = [c for c in executed.cells if c.cell_type == "code"]
    assert all(c.execution_count is not None for c in code_cells)
    # every notebook shows real results: at least one figure or table
    rich = [o for c in code_cells for o in c.outputs
            if o.get("output_type") in {"display_data", "execute_result"}
            and {"image/png", "text/html"} & set(o.get("data", {}))]
    assert rich, f"{path.name} displayed no figure or table"
    images = [o for c in code_cells for o in c.outputs if "image/png" in o.get("data", {})]
    if not path.name.startswith("00_"):
        assert len(images) >= 3, f"{path.name} drew {len(images)} figures"


# -- nasbench_lab.notebook -------------------------------------------------------------
def _tiny_notebook(tmp_path, body="y = X * 2\nprint('y =', y)"):
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# tiny"),
        nbformat.v4.new_code_cell("X = 1", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell(body),
    ])
    path = tmp_path / "tiny.ipynb"
    nbformat.write(nb, path)
    return path


def test_inject_parameters_goes_right_after_the_parameters_cell(tmp_path):
    nb = nbformat.read(_tiny_notebook(tmp_path), as_version=4)
    nbh.inject_parameters(nb, X=21, NAME="nb201")
    assert [c.metadata.get("tags") for c in nb.cells[1:3]] == [["parameters"], ["injected-parameters"]]
    assert nb.cells[2].source.splitlines()[1:] == ["X = 21", "NAME = 'nb201'"]
    nbformat.validate(nb)


def test_parameters_cell_is_required(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("X = 1")])
    with pytest.raises(ValueError, match="tagged 'parameters'"):
        nbh.parameters_cell_index(nb)


def test_execute_overrides_parameters_and_reports_errors(tmp_path):
    nb, seconds = nbh.execute(_tiny_notebook(tmp_path), parameters={"X": 21}, timeout=120)
    assert seconds > 0
    assert nb.cells[-1].outputs[0]["text"] == "y = 42\n"
    assert nbh.error_outputs(nb) == []
    from nbclient.exceptions import CellExecutionError

    with pytest.raises(CellExecutionError, match="ZeroDivisionError"):
        nbh.execute(_tiny_notebook(tmp_path, body="1 / (X - 1)"), timeout=120)


def test_setup_check_lists_every_benchmark_with_a_way_to_get_it(tmp_data, monkeypatch, capsys):
    monkeypatch.setattr(nbh.paths, "shared_data_dir", lambda: None)
    frame = nbh.setup_check(show=True)
    assert list(frame.index) == ["moons", "nb201", "nb101", "nb301"]
    assert frame.loc["moons", "present"], "NAS-Bench-Moons is bundled"
    # with an empty data dir and no shared samples, the downloadable ones are absent ...
    assert not frame.loc[["nb201", "nb101", "nb301"], "present"].any()
    # ... and each says which command fetches it
    for name in ("nb201", "nb101", "nb301"):
        assert f"nasbench-lab download {name}" in frame.loc[name, "how_to_get"]
    assert "Optional caches" in capsys.readouterr().out


def test_locate_finds_a_downloaded_file(tmp_data, monkeypatch):
    monkeypatch.setattr(nbh.paths, "shared_data_dir", lambda: None)
    assert nbh.locate("nb101") is None
    target = tmp_data / "cache" / "downloads" / "nasbench_only108.tfrecord"
    target.parent.mkdir(parents=True)
    target.write_bytes(b"")
    assert nbh.locate("nb101") == target
    with pytest.raises(KeyError, match="unknown benchmark"):
        nbh.locate("nb999")


def test_load_falls_back_to_moons_and_says_why(tmp_data, monkeypatch):
    monkeypatch.setattr(nbh.paths, "shared_data_dir", lambda: None)
    assert nl.benchmarks.load("moons", fallback="moons").name == "moons"
    with pytest.warns(nl.benchmarks.BenchmarkFallbackWarning, match="nb301: .*nasbench-lab download nb301.*'moons'"):
        assert nl.benchmarks.load("nb301", fallback="moons").name == "moons"
    with pytest.warns(nl.benchmarks.BenchmarkFallbackWarning, match="auto: none of nb101, nb301, nb201"):
        assert nl.benchmarks.load("auto", fallback="moons").name == "moons"
    with pytest.raises(KeyError, match="unknown benchmark"):
        nl.benchmarks.load("cifar", fallback="moons")


def test_load_finds_the_shared_nb201_table(shared):
    csv = shared("nasbench201", "nb201_accuracies.csv.gz")
    assert nbh.locate("nb201") is not None
    bench = nl.benchmarks.load("nb201", fallback="moons")
    assert bench.name == "nb201"
    assert len(bench.keys) == 15625
    # the 200-epoch CIFAR-10 test accuracy of the best cell is 94.37% (fractions everywhere)
    assert abs(float(bench.test.max()) - 0.9437) < 1e-4
    assert csv.exists()


def test_load_moons_offline():
    bench = nl.benchmarks.load("moons", fallback="moons")
    assert bench.name == "moons"
    assert bench.space.size == len(bench.keys) > 8000
    assert 0.5 < float(bench.test.max()) <= 1.0


# -- scripts/clear_notebooks.py --------------------------------------------------------
def test_clear_script_strips_outputs_and_injected_cells(tmp_path):
    clear = _load_clear_script()
    path = _tiny_notebook(tmp_path)
    executed = tmp_path / "executed.ipynb"
    nbh.execute(path, parameters={"X": 3}, timeout=120, output=executed)
    nb = nbformat.read(executed, as_version=4)
    assert not clear.is_clean(nb)
    assert clear.main(["--check", str(executed)]) == 1
    assert clear.main([str(executed)]) == 0
    cleaned = nbformat.read(executed, as_version=4)
    assert clear.is_clean(cleaned)
    assert [c.source for c in cleaned.cells] == [c.source for c in nbformat.read(path, as_version=4).cells]
    assert clear.main(["--check", str(executed)]) == 0


# -- nasbench_lab.widgets ----------------------------------------------------------------
def test_explorer_builds_controls_and_redraws_on_change():
    pytest.importorskip("ipywidgets")
    import ipywidgets as w
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from nasbench_lab import widgets

    calls = []

    def draw(benchmark, budget, alpha, agents):
        calls.append((benchmark, budget, alpha, tuple(agents)))
        fig, ax = plt.subplots()
        ax.plot(range(budget), [alpha] * budget)
        ax.set_title(benchmark)
        return fig

    ex = widgets.explorer(draw, benchmark=["moons", "nb201"], budget=(10, 300, 10, 50),
                          alpha=(0.0, 32.0, 1.0, 6.0), agents={"local_search", "random_walk"})
    assert isinstance(ex.controls["benchmark"], w.Dropdown)
    assert isinstance(ex.controls["budget"], w.IntSlider)
    assert isinstance(ex.controls["alpha"], w.FloatSlider)
    assert isinstance(ex.controls["agents"], w.SelectMultiple)
    assert calls == [("moons", 50, 6.0, ("local_search", "random_walk"))]
    ex.controls["budget"].value = 120
    ex.controls["benchmark"].value = "nb201"
    assert calls[-1] == ("nb201", 120, 6.0, ("local_search", "random_walk"))
    assert len(ex.figure.axes[0].lines[0].get_xdata()) == 120
    assert ex.figure.axes[0].get_title() == "nb201"


def test_explorer_reports_bad_specs_and_drawing_errors():
    pytest.importorskip("ipywidgets")
    from nasbench_lab import widgets

    with pytest.raises(TypeError, match="cannot build a widget"):
        widgets.explorer(lambda alpha: None, alpha="six")
    with pytest.raises(ValueError, match="at least one control"):
        widgets.explorer(lambda: None)
    ex = widgets.explorer(lambda N: 1 / (N - 25), N=(25, 100, 25))
    assert isinstance(ex.error, ZeroDivisionError)
    ex.controls["N"].value = 50
    assert ex.error is None


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__, "-q"]))


@pytest.fixture(scope="module")
def moons_results():
    """A tiny protocol run on the bundled NAS-Bench-Moons (seconds)."""
    import nasbench_lab as nl

    bench = nl.benchmarks.load("moons")
    cfg = nl.ProtocolConfig(n_sets=1, set_size=120, budget=30, seeds=(0,), max_steps=8)
    res = nl.run_protocol(bench, ["random_search", "random_walk", "local_search"], cfg, progress=False)
    return bench, res


def test_named_explorers_redraw_the_paper_figures(moons_results):
    pytest.importorskip("ipywidgets")
    from nasbench_lab import widgets

    bench, res = moons_results
    shaping = widgets.shaping_explorer({"moons": bench}, alpha=6.0)
    assert shaping.error is None and "moons" in shaping.figure.axes[0].get_title()
    shaping.controls["alpha"].value = 20.0
    assert "20" in " ".join(t.get_text() for t in shaping.figure.axes[0].get_legend().get_texts())

    curves = widgets.best_so_far_explorer(res.queries, n_resamples=100)
    assert curves.error is None
    assert {"local_search", "random_walk", "random_search"} == set(curves.controls["agents"].value)
    full = len(curves.figure.axes[0].lines)
    curves.controls["agents"].value = ("random_walk",)
    assert curves.error is None and len(curves.figure.axes[0].lines) < full
    curves.controls["budget"].value = 10
    assert curves.figure.axes[0].get_xlim()[1] <= 12
    curves.controls["agents"].value = ()
    assert isinstance(curves.error, ValueError)

    imp = widgets.improvement_explorer(res.episodes)
    assert imp.error is None and set(imp.controls["agent"].options) == {"random_search", "random_walk", "local_search"}
    first = imp.figure
    imp.controls["agent"].value = "local_search"
    assert imp.error is None and imp.figure is not first


def test_neighbours_explorer_reruns_the_protocol_for_each_n(moons_results):
    pytest.importorskip("ipywidgets")
    from nasbench_lab import widgets

    bench, _ = moons_results
    ex = widgets.neighbours_explorer(bench, agents=("local_search",), set_size=200, budget=150, n_resamples=50)
    assert ex.error is None and "N = 50" in ex.figure.axes[0].get_title()
    ex.controls["N"].value = 10
    assert ex.error is None and "N = 10" in ex.figure.axes[0].get_title()

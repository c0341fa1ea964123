"""A real browser runs the widget notebooks in JupyterLab (headless Chromium + Playwright).

JupyterLab is started on loopback (free port, random token, a temporary root holding a copy
of the notebook with small-budget parameters injected, private config/runtime/settings
folders). Chromium opens it, runs all cells through the menu, and the tests check:

* ``05_paper_figures``: the ipywidgets controls and their figures render, a control change
  redraws the figure through the live kernel, no cell shows an error;
* ``07_experiments``: the Experiment dashboard (``exp.widget()``) renders its status, its
  trial counts and its best-so-far plot, and follows the experiment to its end.

Screenshots go to ``figures/`` (``$NASBENCH_LAB_FIGURES``).

``$NASBENCH_LAB_BROWSER_PARAMS`` (JSON) overrides notebook parameters.
Skips with the reason when Chromium (Debian package ``chromium``) or Playwright is absent.
"""
from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest

from nasbench_lab import notebook as nbh
from nasbench_lab import paths

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "notebooks" / "05_paper_figures.ipynb"
CHROMIUM = os.environ.get("NASBENCH_LAB_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
RUN_TIMEOUT_S = 420


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for_server(url: str, proc: subprocess.Popen, log: Path, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"JupyterLab exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"JupyterLab did not answer within {timeout:.0f} s:\n{log.read_text()[-3000:]}")


@pytest.fixture
def jupyterlab(tmp_path, request):
    """A JupyterLab server on loopback serving a temporary root holding ``widgets.ipynb``
    (notebook 05, or the one given by indirect parametrisation); yields (base_url, token, root)."""
    if not (Path(CHROMIUM).exists() or shutil.which("chromium")):
        pytest.skip(f"headless Chromium not found at {CHROMIUM} (Debian package 'chromium')")
    pytest.importorskip("playwright.sync_api", reason="playwright (Python package) is not installed")
    pytest.importorskip("jupyterlab", reason="jupyterlab is not installed")

    root = tmp_path / "root"
    root.mkdir()
    source, extra = getattr(request, "param", (NOTEBOOK, {}))
    nb = nbformat.read(source, as_version=4)
    # $NASBENCH_LAB_BROWSER_PARAMS (JSON) overrides parameters, e.g. '{"BENCHMARK": "nb201"}'
    overrides = {**extra, **json.loads(os.environ.get("NASBENCH_LAB_BROWSER_PARAMS", "{}"))}
    nbh.inject_parameters(nb, **nbh.small_parameters(nb, **overrides))
    nbformat.write(nb, root / "widgets.ipynb")

    settings = tmp_path / "settings"
    # render every cell (no virtual scrolling) so the DOM holds all outputs
    tracker = settings / "@jupyterlab" / "notebook-extension" / "tracker.jupyterlab-settings"
    tracker.parent.mkdir(parents=True)
    tracker.write_text(json.dumps({"windowingMode": "none", "autoStartDefaultKernel": True}))
    env = dict(os.environ,
               JUPYTER_CONFIG_DIR=str(tmp_path / "config"), JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"),
               MPLBACKEND="module://matplotlib_inline.backend_inline",
               NASBENCH_LAB_FIGURES=str(tmp_path / "figures"), NASBENCH_LAB_DATA=str(tmp_path / "data"),
               NASBENCH_LAB_EXPERIMENTS=str(tmp_path / "experiments"))
    port, token = _free_port(), secrets.token_hex(16)
    log = tmp_path / "jupyterlab.log"
    cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
           f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
           f"--LabApp.user_settings_dir={settings}", f"--LabApp.workspaces_dir={tmp_path / 'workspaces'}",
           "--LabApp.news_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
           "--LabApp.extension_manager=readonly", "--ServerApp.terminals_enabled=False",
           "--ServerApp.port_retries=0"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:  # CI containers run as root
        cmd.append("--allow-root")
    with open(log, "w") as fh:
        proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, env=env, cwd=root)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_for_server(f"{base}/api/status?token={token}", proc, log)
        yield base, token, root
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:  # pragma: no cover
            proc.kill()
            proc.wait()


def _run_all_cells(page, url: str, root: Path, page_errors: list) -> None:
    """Open ``url`` (the notebook), Run > Run All Cells, wait until every cell has run."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    page.goto(url, timeout=120_000)
    page.wait_for_selector(".jp-Notebook .jp-CodeCell", timeout=120_000)
    page.on("pageerror", lambda exc: page_errors.append(str(exc)))
    # accept the kernel (a dialog asks on some versions), wait until idle, Run > Run All Cells
    select = page.locator(".jp-Dialog button", has_text="Select")
    try:
        select.wait_for(timeout=10_000)
        select.click()
    except PlaywrightTimeout:
        pass
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=120_000)
    page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
    page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
    # the run starts within a minute (a prompt turns to [*] or [n])
    page.wait_for_function(
        "() => [...document.querySelectorAll('.jp-Notebook .jp-CodeCell .jp-InputArea-prompt')]"
        ".some(e => /\\[(\\*|\\d+)\\]/.test(e.textContent))", timeout=60_000)
    n_code = sum(c.cell_type == "code" for c in nbformat.read(root / "widgets.ipynb", as_version=4).cells)
    page.wait_for_function(
        """n => {
            const ps = [...document.querySelectorAll('.jp-Notebook .jp-CodeCell .jp-InputArea-prompt')]
                .map(e => e.textContent.trim());
            return ps.length === n && ps.every(p => /^\\[\\d+\\]:$/.test(p));
        }""", arg=n_code, timeout=RUN_TIMEOUT_S * 1000, polling=1000)
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=60_000)


def _saved_without_errors(page, root: Path) -> None:
    """Save the notebook and check, from disk, that every cell ran and none shows an error."""
    page.keyboard.press("Control+s")
    deadline = time.monotonic() + 60
    saved = None
    while time.monotonic() < deadline:
        saved = nbformat.read(root / "widgets.ipynb", as_version=4)
        if all(c.get("execution_count") for c in saved.cells if c.cell_type == "code"):
            break
        time.sleep(1)
    assert saved is not None and all(
        c.get("execution_count") for c in saved.cells if c.cell_type == "code"), "notebook was not saved"
    assert nbh.error_outputs(saved) == []
    assert page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']",
                        has_text="Traceback").count() == 0


def test_widgets_notebook_runs_in_jupyterlab(jupyterlab, tmp_path):
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import sync_playwright

    base, token, root = jupyterlab
    shot = paths.figures_dir() / "browser_05_paper_figures.png"
    page_errors: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            _run_all_cells(page, f"{base}/lab/tree/widgets.ipynb?token={token}", root, page_errors)

            # widgets rendered by the real front end (not the text fallback)
            page.wait_for_selector(".jp-OutputArea-output .widget-dropdown select", timeout=60_000)
            assert page.locator(".jp-OutputArea-output .widget-slider").count() >= 1
            assert page.get_by_text("Error displaying widget").count() == 0
            widget_images = page.locator(".jp-OutputArea-output .widget-output img")
            widget_images.first.wait_for(timeout=60_000)
            assert widget_images.count() >= 3, "every explorer shows its figure"

            # a control change redraws through the kernel: pick the first explorer with a
            # dropdown offering a choice, select another option, wait for its figure to change
            boxes = page.locator(".jp-OutputArea-output .widget-vbox").filter(
                has=page.locator(".widget-output img"))
            choice = None
            for i in range(boxes.count()):
                selects = boxes.nth(i).locator(".widget-dropdown select")
                for j in range(selects.count()):
                    options = selects.nth(j).locator("option").all_text_contents()
                    if len(options) >= 2:
                        choice = (boxes.nth(i), selects.nth(j), options)
                        break
                if choice:
                    break
            assert choice is not None, "no explorer offers a dropdown with two options"
            box, select, options = choice
            image = box.locator(".widget-output img").first
            before = image.get_attribute("src")
            select.select_option(label=options[1])
            deadline = time.monotonic() + 120
            after = before
            while time.monotonic() < deadline and after == before:
                time.sleep(0.5)
                imgs = box.locator(".widget-output img")
                after = imgs.first.get_attribute("src") if imgs.count() else before
            assert after != before, f"selecting {options[1]!r} did not redraw the figure"

            # no cell shows an error: save and read the outputs back from disk
            _saved_without_errors(page, root)
            news = page.locator(".jp-toast-button", has_text="No")
            if news.count():
                news.first.click()
            box.scroll_into_view_if_needed()
            page.screenshot(path=str(shot), full_page=True)
        except Exception:
            page.screenshot(path=str(tmp_path / "failure.png"), full_page=True)
            print(f"screenshot of the failure: {tmp_path / 'failure.png'}; page errors: {page_errors}")
            raise
        finally:
            browser.close()
    assert shot.stat().st_size > 10_000


EXPERIMENTS = ROOT / "notebooks" / "07_experiments.ipynb"


@pytest.mark.parametrize("jupyterlab", [(EXPERIMENTS, {"TRIALS": 400, "STOP_AFTER": 0.5, "COMPARE_TRIALS": 40,
                                                      "SEEDS": 2, "BOOTSTRAP": 200})], indirect=True)
def test_experiment_dashboard_renders_in_jupyterlab(jupyterlab, tmp_path):
    """``exp.widget()`` in a real front end: status, counts and plot render and reach the end."""
    from playwright.sync_api import sync_playwright

    base, token, root = jupyterlab
    shot = paths.figures_dir() / "browser_07_experiments.png"
    page_errors: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            _run_all_cells(page, f"{base}/lab/tree/widgets.ipynb?token={token}", root, page_errors)
            board = page.locator(".jp-OutputArea-output .nasbench-lab-experiment").first
            board.wait_for(timeout=60_000)
            assert page.get_by_text("Error displaying widget").count() == 0
            # the dashboard follows the resumed experiment to its end
            status = board.locator(".experiment-status")
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and status.text_content().strip() != "DONE":
                time.sleep(0.5)
            assert status.text_content().strip() == "DONE"
            assert "SUCCEEDED: 400" in board.text_content()
            plot = board.locator(".widget-image")
            src = plot.first.get_attribute("src") or "" if plot.count() else ""
            assert plot.count() == 1 and src.startswith(("blob:", "data:")), f"no best-so-far plot ({src[:40]!r})"
            assert board.locator("table.experiment-latest tr").count() >= 2
            _saved_without_errors(page, root)
            board.scroll_into_view_if_needed()
            page.screenshot(path=str(shot), full_page=True)
        except Exception:
            page.screenshot(path=str(tmp_path / "failure.png"), full_page=True)
            print(f"screenshot of the failure: {tmp_path / 'failure.png'}; page errors: {page_errors}")
            raise
        finally:
            browser.close()
    assert shot.stat().st_size > 10_000

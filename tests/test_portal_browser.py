"""A real browser (headless Chromium + Playwright) on the portal of a running experiment.

The experiment runs in this process (NAS-Bench-Moons answering after a short delay, so it
runs while the page is watched) and serves its portal on loopback. The test checks that
trials appear, the best-so-far chart draws, the trial table sorts and opens a trial's
detail (its architecture drawn), changing the concurrency from the page changes the
experiment's config, and stopping from the page fails without the token and works with
it. Screenshots go to ``figures/`` (``$NASBENCH_LAB_FIGURES``): ``portal.png`` (overview)
and ``portal_trials.png``. Skips with the reason when Chromium or Playwright is absent.
"""
from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

from nasbench_lab import benchmarks, paths
from test_portal import db_config, db_rows, free_port, running_experiment, until

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("registry")]

CHROMIUM = os.environ.get("NASBENCH_LAB_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture
def chromium():
    if not (Path(CHROMIUM).exists() or shutil.which("chromium")):
        pytest.skip(f"headless Chromium not found at {CHROMIUM} (Debian package 'chromium')")
    pytest.importorskip("playwright.sync_api", reason="playwright (Python package) is not installed")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium"),
                                     headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def open_portal(browser, url: str, errors: list):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("request", lambda req: errors.append(f"off-host request {req.url}")
            if not req.url.startswith(("http://127.0.0.1", "data:", "blob:")) else None)
    page.goto(url, timeout=60_000)
    return context, page


def test_portal_of_a_running_experiment_in_chromium(chromium, tmp_path):
    moons = benchmarks.load("moons")
    port = free_port()
    exp = running_experiment(moons, port)
    errors: list[str] = []
    page = None
    try:
        t0 = time.monotonic()
        context, page = open_portal(chromium, exp.portal_url, errors)
        # trials appear and the best-so-far chart draws
        page.wait_for_function("() => document.getElementById('status').textContent === 'RUNNING'", timeout=30_000)
        page.wait_for_function("() => /SUCCEEDED: \\d+/.test(document.getElementById('counts').textContent)",
                               timeout=30_000)
        page.wait_for_selector("#best-chart .main-svg .scatterlayer .trace path", timeout=30_000)
        load_s = time.monotonic() - t0
        print(f"portal page load (to the first best-so-far chart): {load_s:.2f} s")
        assert page.locator("#best-chart .scatterlayer .trace").count() == 2  # trials + best so far
        best_shown = float(page.locator("#best-value").text_content())
        values = [r[3] for r in db_rows(exp) if r[1] == "SUCCEEDED"]
        # shown to 4 decimals: one of the journalled values, and none journalled is higher
        assert any(abs(best_shown - v) <= 5e-5 for v in values) and best_shown <= max(values) + 5e-5
        assert "token" not in page.url  # taken into sessionStorage, off the address bar
        assert page.evaluate("() => Object.keys(sessionStorage).some(k => k.startsWith('nasbench-lab-token'))")

        # the concurrency control changes the running experiment
        page.fill("#concurrency", "3")
        page.click("#set-concurrency")
        page.wait_for_function("() => /trial concurrency is now 3/.test(document.getElementById('message')"
                               ".textContent)", timeout=15_000)
        assert exp.config.trial_concurrency == 3 and db_config(exp)["trial_concurrency"] == 3
        page.wait_for_timeout(1200)
        shot = paths.figures_dir() / "portal.png"
        page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 20_000

        # the trial table: sorted by validation, a trial's detail with its architecture
        page.click("nav a[data-tab=trials]")
        page.wait_for_selector("#trials-table tbody tr", timeout=15_000)
        page.click("#trials-table th[data-key=finalMetricData]")
        first = page.locator("#trials-table tbody tr").first
        top = float(first.locator("td").nth(3).text_content())
        shown = [float(t) for t in page.locator("#trials-table tbody tr td:nth-child(4)").all_text_contents() if t]
        assert top == max(shown)
        first.click()
        page.wait_for_function("() => { const i = document.getElementById('arch-img'); "
                               "return i.complete && i.naturalWidth > 0; }", timeout=20_000)
        page.wait_for_selector("#metric-chart .main-svg", timeout=15_000)
        page.screenshot(path=str(paths.figures_dir() / "portal_trials.png"), full_page=True)

        # the decisions view: parallel coordinates over the decision encoding
        page.click("nav a[data-tab=decisions]")
        page.wait_for_selector("#decisions-chart .main-svg", timeout=20_000)
        assert "layer 1 width" in page.locator("#decisions-chart").text_content()
        page.screenshot(path=str(paths.figures_dir() / "portal_decisions.png"))

        # stopping without the token fails (a fresh tab: nothing in its sessionStorage) ...
        other_errors: list[str] = []
        other, plain = open_portal(chromium, exp.portal_url.split("?")[0], other_errors)
        plain.wait_for_function("() => document.getElementById('status').textContent === 'RUNNING'",
                                timeout=30_000)
        assert "no token" in plain.locator("#token-state").text_content()
        plain.click("#stop")
        plain.wait_for_function("() => /401/.test(document.getElementById('message').textContent)", timeout=15_000)
        time.sleep(0.5)
        assert exp.get_status() == "RUNNING"
        other.close()
        assert other_errors == []

        # ... and works with it
        page.click("nav a[data-tab=overview]")
        page.click("#stop")
        until(lambda: exp.get_status() == "STOPPED", 30, "stopped from the page")
        page.wait_for_function("() => document.getElementById('status').textContent === 'STOPPED'", timeout=15_000)
        assert errors == [], errors
        context.close()
    except Exception:
        if page is not None:
            page.screenshot(path=str(tmp_path / "failure.png"), full_page=True)
            print(f"screenshot of the failure: {tmp_path / 'failure.png'}; page errors: {errors}")
        raise
    finally:
        exp.stop()

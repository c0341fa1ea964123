"""``nasbench-lab bench portal``: the experiment web portal's REST latency and page load.

An experiment of 10,000 in-process trials (random search on NAS-Bench-Moons) is served on
127.0.0.1; ``GET /api/v1/nni/trial-jobs`` (every trial, as the page polls it) and ``GET
check-status`` are timed over one kept-alive connection (median and p99; the full list is
cached until the store changes, so it is also timed built anew, through ``?status=``). With headless
Chromium and Playwright present, the page is opened in a fresh tab until its best-so-far
chart has drawn the 10,000 trials (median of the loads); without them that row is NaN.
"""
from __future__ import annotations

import http.client
import math
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from . import Row

CHROMIUM = os.environ.get("NASBENCH_LAB_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def _latencies(port: int, path: str, n: int) -> list[float]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    out = []
    try:
        for _ in range(n):
            t0 = time.perf_counter()
            conn.request("GET", path)
            r = conn.getresponse()
            r.read()
            out.append(time.perf_counter() - t0)
            assert r.status == 200, (path, r.status)
    finally:
        conn.close()
    return out


def _p99(values: list[float]) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, math.ceil(0.99 * len(s)) - 1)]


def _page_loads(url: str, n: int) -> list[float]:
    """Seconds from opening ``url`` to its best-so-far chart drawn; [] without a browser."""
    chromium = CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium")
    if chromium is None:
        return []
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return []
    out = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
        try:
            for _ in range(n + 1):  # the first load warms the browser and the server's caches
                context = browser.new_context(viewport={"width": 1400, "height": 1000})
                page = context.new_page()
                t0 = time.perf_counter()
                page.goto(url, timeout=120_000)
                page.wait_for_selector("#best-chart .main-svg .scatterlayer .trace path", timeout=120_000)
                out.append(time.perf_counter() - t0)
                context.close()
        finally:
            browser.close()
    return out[1:]


def portal_latency(quick: bool) -> list[Row]:
    from ..experiment import Experiment, ExperimentConfig

    trials = 10_000
    requests = 50 if quick else 300
    with tempfile.TemporaryDirectory() as tmp:
        old = os.environ.get("NASBENCH_LAB_EXPERIMENTS")
        os.environ["NASBENCH_LAB_EXPERIMENTS"] = tmp
        exp = None
        try:
            exp = Experiment(ExperimentConfig(benchmark="moons", strategy="random_search", max_trial_number=trials,
                                              seed=0))
            exp.run(port=0)
            assert exp.get_status() == "DONE" and exp._store.n_trials() == trials
            port = exp._portal.port
            jobs = _latencies(port, "/api/v1/nni/trial-jobs", requests)
            built = _latencies(port, "/api/v1/nni/trial-jobs?status=SUCCEEDED", max(10, requests // 10))
            status = _latencies(port, "/api/v1/nni/check-status", requests)
            loads = _page_loads(f"http://127.0.0.1:{port}/", 2 if quick else 5)
        finally:
            if exp is not None:
                exp.stop()
            if old is None:
                os.environ.pop("NASBENCH_LAB_EXPERIMENTS", None)
            else:
                os.environ["NASBENCH_LAB_EXPERIMENTS"] = old
    note = f"{trials:,} trials stored, {requests} requests"
    return [
        ("GET trial-jobs (10,000 trials), median", 1e3 * statistics.median(jobs), "ms", note),
        ("GET trial-jobs (10,000 trials), p99", 1e3 * _p99(jobs), "ms", note),
        ("GET trial-jobs?status=SUCCEEDED (built anew), median", 1e3 * statistics.median(built), "ms",
         f"the same 10,000 rows read and encoded each time, as while trials run; {len(built)} requests"),
        ("GET check-status, median", 1e3 * statistics.median(status), "ms", note),
        ("page load to the best-so-far chart (Chromium)", statistics.median(loads) if loads else math.nan, "s",
         f"median of {len(loads)} fresh tabs, 10,000 trials" if loads else "skipped: no Chromium/Playwright"),
    ]


SECTIONS = {"portal": portal_latency}

"""``nasbench-lab bench --quick``: every section runs and prints its figures (a smoke run).

Each section of ``nasbench_lab.speed`` (found through ``bench.sections()``, so a new one
is covered without being listed) runs as the command line does, in a subprocess, within
a time budget. Its output must be the header ``== SECTION`` followed by at least one
figure row ``label  value unit  note``; every ratio (unit ``x``) must be finite and
positive, no value infinite or negative, and a NaN only where its note says why (the
machine's load, a GPU figure on a machine without one). The sections whose quick run
takes longer than about 15 s on two shared cores are marked slow.
"""
from __future__ import annotations

import math
import os
import re
import subprocess
import sys

import pytest

from nasbench_lab import speed as bench

#: quick runs that took longer than about 15 s on two shared cores (CI still runs them)
SLOW = {"apex", "env", "live-training", "moons-trainer", "nb101-cache", "nb101-queries", "nb301", "oneshot",
        "portal", "proxies", "reinforce"}
BUDGET_S = {"fast": 120, "slow": 600}

ROW = re.compile(r"^  (?P<label>.*?)\s+(?P<value>nan|-?inf|-?\d{1,3}(?:,\d{3})*\.\d{3}) (?P<unit>\S*)(?:\s+(?P<note>.*))?$")


def parse(output: str, section: str) -> list[tuple[str, float, str, str]]:
    """The figure rows ``(label, value, unit, note)`` of one section's printout; AssertionError
    without the header or for an indented line that is not a row (unindented lines, a
    section's own log messages, are not figures and are left out)."""
    lines = [ln for ln in output.splitlines() if ln.strip()]
    headers = [i for i, ln in enumerate(lines) if ln == f"== {section}"]
    assert headers, f"no '== {section}' header:\n{output}"
    rows = []
    for ln in lines[headers[0] + 1:]:
        if not ln.startswith("  "):
            continue
        m = ROW.match(ln)
        assert m, f"{section}: not a figure row: {ln!r}"
        rows.append((m["label"], float(m["value"].replace(",", "")), m["unit"], (m["note"] or "").strip()))
    assert rows, f"{section} printed no figure"
    return rows


def bad_figures(rows) -> list[str]:
    """Rows that are not a figure: a ratio (unit ``x``) that is not finite and positive, a
    value that is infinite or negative, NaN without a note saying why (the machine's load,
    "no CUDA device: not measured"); and a section without any finite figure."""
    out = []
    for label, value, unit, note in rows:
        if math.isnan(value):
            if unit == "x" or not note:
                out.append(f"{label}: {value} {unit}")
        elif math.isinf(value) or value < 0 or (unit == "x" and value <= 0):
            out.append(f"{label}: {value} {unit}")
    if not any(math.isfinite(v) for _, v, _, _ in rows):
        out.append("no finite figure")
    return out


def test_the_row_checks_can_fail():
    ok = "== s\n  ratio a / b                                   2.500 x          same process\n" \
         "  machine                                         nan            load avg 1.0 on 2 cores\n"
    assert bad_figures(parse(ok, "s")) == []
    assert bad_figures(parse("== s\n  ratio                 0.000 x\n  speed   nan ops/s\n"
                             "  memory   nan MiB        not measured\n  time   -1.000 s\n", "s")) == \
        ["ratio: 0.0 x", "speed: nan ops/s", "time: -1.0 s"]
    assert bad_figures(parse("== s\n  memory   nan MiB        not measured\n", "s")) == ["no finite figure"]
    with pytest.raises(AssertionError, match="no '== s' header"):
        parse("  ratio  1.000 x\n", "s")
    with pytest.raises(AssertionError, match="not a figure row"):
        parse("== s\n  speed: 12 things\n", "s")
    with pytest.raises(AssertionError, match="printed no figure"):
        parse("== s\n", "s")


def _params():
    for name in bench.sections():
        marks = [pytest.mark.slow] if name in SLOW else []
        yield pytest.param(name, marks=marks, id=name)


@pytest.mark.parametrize("section", list(_params()))
def test_bench_quick_section_prints_its_figures(section, tmp_path):
    budget = BUDGET_S["slow" if section in SLOW else "fast"]
    env = {**os.environ, "MPLBACKEND": "Agg", "NASBENCH_LAB_FIGURES": str(tmp_path / "figures")}
    cmd = [sys.executable, "-c", "from nasbench_lab.cli import main; raise SystemExit(main())",
           "bench", section, "--quick"]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=budget, env=env, cwd=tmp_path)
    except subprocess.TimeoutExpired:
        pytest.fail(f"nasbench-lab bench {section} --quick ran past its {budget} s budget")
    assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    rows = parse(proc.stdout, section)
    assert not bad_figures(rows), f"{section}: figures that are not finite and positive: {bad_figures(rows)}"


def test_unknown_section_is_refused_naming_the_known_ones():
    with pytest.raises(SystemExit, match="unknown bench section.*known: .*env"):
        bench.run(["no-such-section"], quick=True, out=lambda s: None)


def test_the_slow_list_names_sections_that_exist():
    assert SLOW <= set(bench.sections()), sorted(SLOW - set(bench.sections()))

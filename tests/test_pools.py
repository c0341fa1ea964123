"""Process pools finish or fail with a clear message; none hangs (stage 7, item 1).

Each case runs in a fresh interpreter under a timeout, in its own process group, so a
hang fails the test instead of blocking the run.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import nasbench_lab

PACKAGE = Path(nasbench_lab.__file__).resolve().parent
TIMEOUT = 45


def _run(args, cwd, stdin: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(PACKAGE.parent), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen([sys.executable, *args], cwd=cwd, env=env, text=True, start_new_session=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        out, err = proc.communicate(stdin, timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        pytest.fail(f"{args} hung for {TIMEOUT} s (a process pool re-spawning dead workers?)")
    return subprocess.CompletedProcess(args, proc.returncode, out, err)


# the enumeration build shrunk to cells of at most 4 vertices (1 + 6 + 84 cells), 2 workers
ENUM_SCRIPT = textwrap.dedent("""
    from nasbench_lab.spaces.nb101 import _enum as _nb101_enum
    _nb101_enum.MAX_VERTICES = 4
    d = _nb101_enum.build(workers=2)
    print("cells", len(d["keys"]))
""")


def test_enumeration_build_from_stdin_finishes(tmp_path):
    """``python - <<EOF``: spawn workers cannot import ``<stdin>``; the build runs in one process."""
    r = _run(["-"], tmp_path, stdin=ENUM_SCRIPT)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.split() == ["cells", "91"]
    assert r.stderr.count("Traceback") == 0


def test_unguarded_script_finishes_with_a_warning(tmp_path):
    """A script without a main guard: the workers refuse to re-run the pool, the parent warns
    and finishes in one process (instead of re-spawning dying workers forever)."""
    script = tmp_path / "unguarded.py"
    script.write_text(ENUM_SCRIPT)
    r = _run([str(script)], tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.split()[-2:] == ["cells", "91"]
    assert "PoolFallbackWarning" in r.stderr
    assert "__name__" in r.stderr  # the workers' message says how to guard the script
    assert r.stderr.count("Traceback") <= 2  # at most one per worker, not one per respawn


FORK_SCRIPT = textwrap.dedent("""
    import os, warnings
    from nasbench_lab import _parallel
    PARENT = os.getpid()

    def work(chunk):
        if os.getpid() != PARENT and chunk == 3:
            os._exit(7)  # a worker dies (killed, out of memory, ...)
        return chunk * 10

    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        out = list(_parallel.imap(work, list(range(8)), 2, start_method="fork", desc="test map"))
    print(out, [type(x.message).__name__ for x in w])
""")


@pytest.mark.skipif("fork" not in __import__("multiprocessing").get_all_start_methods(), reason="no fork")
def test_fork_pool_with_a_dying_worker_does_not_hang(tmp_path):
    r = _run(["-"], tmp_path, stdin=FORK_SCRIPT)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.strip() == "[0, 10, 20, 30, 40, 50, 60, 70] ['PoolFallbackWarning']"


UNPICKLABLE_SCRIPT = textwrap.dedent("""
    import threading
    from nasbench_lab import _parallel

    if __name__ == "__main__":
        items = [1, 2, threading.Lock(), 4]  # a lock cannot be pickled
        try:
            print(list(_parallel.imap(abs, items, workers=2, desc="test map")))
        except TypeError as e:
            print("TypeError:", e)
        print(list(_parallel.imap(abs, [-1, -2, -3, -4, -5, -6, -7], workers=2)))  # the next pool works
""")


def test_an_item_that_cannot_be_pickled_is_a_clear_error_not_a_hang(tmp_path):
    """An unpicklable item used to reach the executor's feeder thread, after which the
    pool's shutdown waited forever (Python 3.11); now it is a TypeError naming the item."""
    script = tmp_path / "unpicklable.py"
    script.write_text(UNPICKLABLE_SCRIPT)
    r = _run([str(script)], tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    first, second = r.stdout.strip().splitlines()
    assert first.startswith("TypeError: test map: item 2 cannot be sent to a worker process") and "lock" in first
    assert second == "[1, 2, 3, 4, 5, 6, 7]"


def test_pool_keeps_order_and_yields_every_item_with_few_in_flight(tmp_path):
    script = tmp_path / "ordered.py"
    script.write_text(textwrap.dedent("""
        import time
        from nasbench_lab import _parallel

        def slow_first(x):
            time.sleep(0.5 if x == 0 else 0.0)
            return x * x

        if __name__ == "__main__":
            print(list(_parallel.imap(slow_first, range(20), workers=2)))
            print(sorted(_parallel.imap(slow_first, range(20), workers=2, ordered=False)))
    """))
    r = _run([str(script)], tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    expected = str([x * x for x in range(20)])
    assert r.stdout.strip().splitlines() == [expected, expected]


def test_no_bare_multiprocessing_pool_in_the_package():
    """Every process pool goes through ``nasbench_lab._parallel`` (which cannot hang)."""
    import ast

    offenders = []
    for path in PACKAGE.rglob("*.py"):
        if path.name == "_parallel.py":
            continue
        # code only: docstrings and comments may name what is avoided
        for node in ast.walk(ast.parse(path.read_text())):
            name = node.attr if isinstance(node, ast.Attribute) else node.id if isinstance(node, ast.Name) else \
                None
            if isinstance(node, ast.ImportFrom):
                name = next((a.name for a in node.names if a.name == "Pool"), None)
            if name in ("Pool", "imap_unordered"):
                offenders.append(f"{path.relative_to(PACKAGE).as_posix()}:{node.lineno}")
    assert offenders == []


def _scaled(x):
    from nasbench_lab._parallel import shared

    return x * shared()["factor"] + os.getpid() * 0


def _fails(x):
    raise ValueError(f"bad item {x}")


def test_fork_map_hands_its_state_to_forked_workers_and_clears_it():
    from nasbench_lab import _parallel

    assert _parallel.fork_map(_scaled, range(6), 2, {"factor": 3}, desc="t") == [0, 3, 6, 9, 12, 15]
    assert _parallel.shared() == {}
    with pytest.raises(ValueError, match="bad item"):
        _parallel.fork_map(_fails, range(3), 2, {"factor": 1}, desc="t")
    assert _parallel.shared() == {}

"""The experiment web portal: every REST endpoint against the store read independently
(sqlite3), every security rule (token, read-only view, malformed/oversized bodies,
unknown trials, path traversal, Host check, the token file's mode, a port in use),
``Experiment.connect`` from a second Python process, ``Experiment.view`` of an experiment
whose process has exited, and a one-shot search's architecture weights.

Ports come from :func:`free_port` (127.0.0.1); every test has a private registry.
"""
from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import sqlite3
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

pytest.importorskip("starlette", reason="the portal's libraries are not installed (pip install 'nasbench-lab[portal]')")
pytest.importorskip("uvicorn", reason="the portal's libraries are not installed (pip install 'nasbench-lab[portal]')")

from nasbench_lab.experiment import Experiment, ExperimentConfig, ExperimentError  # noqa: E402
from nasbench_lab.experiment.portal import PortalError  # noqa: E402
from nasbench_lab.experiment.portal.api import MAX_BODY  # noqa: E402
from nasbench_lab.experiment.portal.server import PortalStartError  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
API = "/api/v1/nni"

pytestmark = pytest.mark.usefixtures("registry")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SlowMoons:
    """NAS-Bench-Moons answering each query after ``delay`` seconds: an in-process
    experiment that runs long enough to be watched and changed."""

    def __init__(self, bench, delay: float = 0.01):
        self.bench, self.delay = bench, delay
        self.space, self.name = bench.space, "slow_moons"

    def query(self, arch):
        time.sleep(self.delay)
        return self.bench.query(arch)


def running_experiment(moons, port: int, **fields) -> Experiment:
    fields = {"strategy": "random_search", "max_trial_number": 5000, "seed": 1, **fields}
    exp = Experiment(ExperimentConfig(benchmark=SlowMoons(moons), **fields))
    exp.start(port=port)
    return exp


@pytest.fixture
def served(moons):
    """A running experiment serving its portal; stopped at the end."""
    port = free_port()
    exp = running_experiment(moons, port)
    try:
        yield exp, port
    finally:
        exp.stop()


def call(port: int, method: str, path: str, body=None, token: str | None = None, raw: bytes | None = None,
         headers: dict | None = None):
    """(status, parsed JSON or bytes) of one request, raw (no URL normalisation)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    h = dict(headers or {})
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    if data is not None:
        h.setdefault("Content-Type", "application/json")
    if token is not None:
        h["Authorization"] = f"Bearer {token}"
    try:
        conn.request(method, path, body=data, headers=h)
        r = conn.getresponse()
        payload = r.read()
        if r.getheader("content-type", "").startswith("application/json"):
            payload = json.loads(payload)
        return r.status, payload
    finally:
        conn.close()


def until(predicate, timeout: float, what: str) -> None:
    end = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < end, f"{what}: not within {timeout} s"
        time.sleep(0.02)


def db_rows(exp) -> list[tuple]:
    con = sqlite3.connect(str(exp.folder / "experiment.sqlite"), timeout=5)
    try:
        return con.execute("SELECT trial, status, key, validation, test FROM trials ORDER BY trial").fetchall()
    finally:
        con.close()


def db_config(exp) -> dict:
    con = sqlite3.connect(str(exp.folder / "experiment.sqlite"), timeout=5)
    try:
        return json.loads(con.execute("SELECT value FROM meta WHERE key = 'config'").fetchone()[0])
    finally:
        con.close()


@pytest.fixture
def finished(moons):
    """A finished 150-trial experiment still serving its portal."""
    port = free_port()
    exp = Experiment(ExperimentConfig(benchmark="moons", strategy="random_search", max_trial_number=150, seed=2))
    assert exp.run(port=port) is True
    try:
        yield exp, port
    finally:
        exp.stop()


# -- the endpoints ---------------------------------------------------------------------------
def test_every_read_endpoint_answers_what_the_store_holds(finished, moons):
    exp, port = finished
    assert exp.portal_url == f"http://127.0.0.1:{port}/?token={exp.token}"
    rows = db_rows(exp)
    assert len(rows) == 150

    assert call(port, "GET", f"{API}/check-status") == (200, {"status": "DONE", "errors": []})

    status, profile = call(port, "GET", f"{API}/experiment")
    assert status == 200 and profile["id"] == exp.id and profile["status"] == "DONE"
    assert profile["params"]["max_trial_number"] == 150 and profile["readOnly"] is False
    assert profile["oneShot"] is False and profile["maxSequenceId"] == 150
    assert exp.token not in json.dumps(profile)  # the token is never served

    status, jobs = call(port, "GET", f"{API}/trial-jobs")
    assert status == 200 and len(jobs) == 150
    for job, (trial, st, key, v, te) in zip(jobs, rows):
        assert job["trialJobId"] == f"{trial:06d}" and job["status"] == st
        assert job["hyperParameters"] == {"key": key}
        assert job["finalMetricData"] == v and job["test"] == te
    # each value is the benchmark's own answer for the key
    for job in jobs[:20]:
        m = moons.query(moons.space.from_key(job["hyperParameters"]["key"]))
        assert job["finalMetricData"] == pytest.approx(float(m.validation_accuracy))
    status, only = call(port, "GET", f"{API}/trial-jobs?status=SUCCEEDED")
    assert status == 200 and len(only) == sum(r[1] == "SUCCEEDED" for r in rows)
    assert call(port, "GET", f"{API}/trial-jobs?status=BOGUS")[0] == 400

    status, job7 = call(port, "GET", f"{API}/trial-jobs/000007")
    assert status == 200 and job7 == jobs[6]
    assert call(port, "GET", f"{API}/trial-jobs/7")[1] == jobs[6]

    status, metrics = call(port, "GET", f"{API}/metric-data")
    assert status == 200
    finals = {m["trialJobId"]: m["data"] for m in metrics if m["type"] == "FINAL"}
    assert finals == {f"{t:06d}": v for t, st, _, v, _ in rows if st == "SUCCEEDED"}
    status, m7 = call(port, "GET", f"{API}/metric-data/000007")
    assert status == 200 and [m["data"] for m in m7] == [rows[6][3]]

    status, stats = call(port, "GET", f"{API}/job-statistics")
    counts = {}
    for _, st, *_ in rows:
        counts[st] = counts.get(st, 0) + 1
    assert status == 200 and {s["trialJobStatus"]: s["trialJobNumber"] for s in stats} == counts

    status, exported = call(port, "GET", f"{API}/export-data")
    assert status == 200 and [e["trialJobId"] for e in exported] == [f"{r[0]:06d}" for r in rows
                                                                    if r[1] == "SUCCEEDED"]

    status, info = call(port, "GET", f"{API}/experiments-info")
    assert status == 200 and [e["id"] for e in info if e["current"]] == [exp.id]

    # the decision encoding, computed here from the space
    status, dec = call(port, "GET", f"{API}/decisions")
    space = moons.space
    assert status == 200 and dec["names"] == [n for n, _ in space.decisions()]
    assert dec["succeeded"] == dec["shown"] == counts.get("SUCCEEDED", 0)
    for tid, values in list(zip(dec["trialJobIds"], dec["values"]))[:30]:
        key = rows[int(tid) - 1][2]
        expected = space.to_decisions(space.from_key(key))
        assert [dec["choices"][i][v] for i, v in enumerate(values)] == [str(x) for x in expected]

    # the architecture, drawn as a cell (SVG)
    status, svg = call(port, "GET", f"{API}/architecture/7")
    assert status == 200 and b"<svg" in svg[:2000] and len(svg) > 1000

    # not one-shot: no architecture weights, said so
    status, w = call(port, "GET", f"{API}/arch-weights")
    assert status == 200 and w["available"] is False and w["epochs"] == []


def test_page_and_its_files_are_served_with_security_headers(finished):
    exp, port = finished
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", "/")
    r = conn.getresponse()
    page = r.read().decode()
    assert r.status == 200 and "/static/plotly.min.js" in page and "/static/app.js" in page
    assert r.getheader("x-frame-options") == "DENY" and r.getheader("x-content-type-options") == "nosniff"
    assert "default-src 'self'" in r.getheader("content-security-policy")
    conn.close()
    status, js = call(port, "GET", "/static/plotly.min.js")
    import plotly

    shipped = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    assert status == 200 and js == shipped.read_bytes()  # from the installed package, no CDN
    status, app = call(port, "GET", "/static/app.js")
    assert status == 200 and b"/api/v1/nni" in app and b"sessionStorage" in app
    assert b"http://" not in app and b"https://" not in app


def test_the_portal_answers_before_the_first_trial(moons):
    """Useful from the first second: the profile, empty lists, the page."""
    port = free_port()
    exp = Experiment(ExperimentConfig(benchmark=SlowMoons(moons, delay=2.0), strategy="random_search",
                                      max_trial_number=50, seed=0))
    exp.start(port=port)
    try:
        status, profile = call(port, "GET", f"{API}/experiment")
        assert status == 200 and profile["status"] == "RUNNING" and profile["trialCounts"] == {}
        assert profile["params"]["max_trial_number"] == 50 and profile["strategy"] == "random_search"
        assert call(port, "GET", f"{API}/trial-jobs") == (200, [])
        assert call(port, "GET", f"{API}/metric-data") == (200, [])
        assert call(port, "GET", f"{API}/decisions")[1]["shown"] == 0
        assert call(port, "GET", f"{API}/arch-weights")[1]["available"] is False
        assert call(port, "GET", "/")[0] == 200
        assert db_rows(exp) == []  # it was indeed before the first trial
    finally:
        exp.stop()


def test_trial_jobs_follow_the_running_experiment(served):
    """The trial list is cached between commits: each answer is the store at that moment."""
    exp, port = served
    until(lambda: len(db_rows(exp)) > 0, 30, "first trials journalled")
    first = call(port, "GET", f"{API}/trial-jobs")[1]
    until(lambda: len(db_rows(exp)) > len(first), 30, "more trials journalled")
    second = call(port, "GET", f"{API}/trial-jobs")[1]
    assert len(second) > len(first) and second[:len(first)] == first
    assert [j["hyperParameters"]["key"] for j in second] == [r[2] for r in db_rows(exp)[:len(second)]]


def test_put_experiment_changes_the_running_experiment(served):
    exp, port = served
    token = exp.token
    status, profile = call(port, "PUT", f"{API}/experiment", {"trial_concurrency": 3}, token=token)
    assert status == 200 and profile["params"]["trial_concurrency"] == 3
    assert exp.config.trial_concurrency == 3 and db_config(exp)["trial_concurrency"] == 3
    # NNI's form: the profile's params with update_type
    status, _ = call(port, "PUT", f"{API}/experiment?update_type=TRIAL_CONCURRENCY",
                     {"id": exp.id, "params": {"trialConcurrency": 5, "maxTrialNumber": 1}}, token=token)
    assert status == 200 and exp.config.trial_concurrency == 5 and exp.config.max_trial_number == 5000
    status, _ = call(port, "PUT", f"{API}/experiment", {"max_trial_number": 4000}, token=token)
    assert status == 200 and exp.config.max_trial_number == 4000 and db_config(exp)["max_trial_number"] == 4000
    status, _ = call(port, "PUT", f"{API}/experiment", {"maxExperimentDuration": "2h"}, token=token)
    assert status == 200 and exp.config.max_experiment_duration == "2h"
    # values and fields the config refuses: 400, nothing changed
    for body in ({"trial_concurrency": 0}, {"trial_concurrency": "many"}, {"max_experiment_duration": "soon"},
                 {"trial_concurrency": 2, "seed": 5}, {}):
        status, answer = call(port, "PUT", f"{API}/experiment", body, token=token)
        assert status == 400 and answer["error"], body
    assert call(port, "PUT", f"{API}/experiment?update_type=SEARCH_SPACE", {"trial_concurrency": 2},
                token=token)[0] == 400
    assert exp.config.trial_concurrency == 5 and exp.get_status() == "RUNNING"


def test_stop_through_the_api_keeps_the_portal_until_exp_stop(served):
    exp, port = served
    until(lambda: len(db_rows(exp)) > 0, 30, "first trials journalled")
    status, answer = call(port, "PUT", f"{API}/experiment/stop", token=exp.token)
    assert status == 202 and answer == {"status": "STOPPING"}
    until(lambda: exp.get_status() == "STOPPED", 30, "stopped")
    assert call(port, "GET", f"{API}/check-status")[1]["status"] == "STOPPED"
    n = len(db_rows(exp))
    time.sleep(0.3)
    assert len(db_rows(exp)) == n  # no trial after the stop
    exp.stop()
    with pytest.raises(OSError):
        call(port, "GET", f"{API}/check-status")
    assert exp.portal_url is None


def reporting_then_hanging(arch) -> float:
    """A live trial (in a worker process): three intermediate results, then it hangs."""
    from nasbench_lab.experiment._workers import report_intermediate_result

    for step in range(3):
        report_intermediate_result(0.1 * (step + 1))
    time.sleep(120)
    return 0.5


def test_live_trial_intermediate_metrics_and_kill_through_the_api():
    port = free_port()
    exp = Experiment(ExperimentConfig(space="mlp", benchmark=None, evaluator=reporting_then_hanging,
                                      strategy="random_search", max_trial_number=1, seed=0))
    exp.start(port=port)
    try:
        def periodical():
            status, metrics = call(port, "GET", f"{API}/metric-data/1")
            return [m["data"] for m in metrics if m["type"] == "PERIODICAL"] if status == 200 else []

        until(lambda: len(periodical()) == 3, 60, "three intermediate results, live")
        assert periodical() == pytest.approx([0.1, 0.2, 0.3])
        assert call(port, "GET", f"{API}/trial-jobs/1")[1]["status"] == "RUNNING"
        assert call(port, "DELETE", f"{API}/trial-jobs/1")[0] == 401
        status, answer = call(port, "DELETE", f"{API}/trial-jobs/1", token=exp.token)
        assert status == 202 and answer["trialJobId"] == "000001"
        until(lambda: call(port, "GET", f"{API}/trial-jobs/1")[1]["status"] == "USER_CANCELED", 30, "killed")
        assert exp.wait(30)
    finally:
        exp.stop()


def test_kill_trial_job_of_a_finished_trial_is_a_conflict(finished):
    exp, port = finished
    status, answer = call(port, "DELETE", f"{API}/trial-jobs/3", token=exp.token)
    assert status == 409 and "finished" in answer["error"]


# -- security ----------------------------------------------------------------------------------
def test_changes_need_the_token_reads_do_not(served):
    exp, port = served
    before = exp.config.trial_concurrency
    for method, path, body in (("PUT", f"{API}/experiment", {"trial_concurrency": 7}),
                               ("PUT", f"{API}/experiment/stop", {}), ("DELETE", f"{API}/trial-jobs/1", None),
                               ("POST", f"{API}/experiment", {})):
        status, answer = call(port, method, path, body)
        assert status == 401 and "token" in answer["error"], (method, path)
        status, answer = call(port, method, path, body, token="not-the-token")
        assert status == 403, (method, path)
        status, _ = call(port, method, path, body, headers={"Authorization": f"Basic {exp.token}"})
        assert status == 403, (method, path)
    assert exp.get_status() == "RUNNING" and exp.config.trial_concurrency == before
    for path in ("/", f"{API}/check-status", f"{API}/experiment", f"{API}/trial-jobs", f"{API}/metric-data"):
        assert call(port, "GET", path)[0] == 200, path


def test_bad_requests_get_4xx(served):
    exp, port = served
    token = exp.token
    for raw in (b"{not json", b"\xff\xfe", b"[1, 2]", b"3", b'"text"'):
        status, answer = call(port, "PUT", f"{API}/experiment", raw=raw, token=token)
        assert status == 400 and answer["error"], raw
    big = b'{"trial_concurrency": 2, "pad": "' + b"x" * (MAX_BODY + 10) + b'"}'
    assert call(port, "PUT", f"{API}/experiment", raw=big, token=token)[0] == 413
    # the same without Content-Length (chunked): refused while reading
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("PUT", f"{API}/experiment", body=iter([big[i:i + 8192] for i in range(0, len(big), 8192)]),
                 headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
                 encode_chunked=True)
    r = conn.getresponse()
    assert r.status == 413
    conn.close()
    assert exp.config.trial_concurrency == 1
    # unknown trials
    for path in (f"{API}/trial-jobs/999999", f"{API}/trial-jobs/abc", f"{API}/metric-data/999999",
                 f"{API}/architecture/999999", f"{API}/nothing-here"):
        assert call(port, "GET", path)[0] == 404, path
    assert call(port, "DELETE", f"{API}/trial-jobs/999999", token=token)[0] == 404
    # path traversal in static routes: never a file outside the page's own
    for path in ("/static/../api.py", "/static/..%2fapi.py", "/static/%2e%2e/%2e%2e/store.py",
                 "/static/../../../../etc/passwd", "/static//etc/passwd", "/static/%2Fetc%2Fpasswd",
                 "/static/.hidden", "/../experiment.py", "/static/..\\api.py"):
        status, body = call(port, "GET", path)
        assert status in (400, 404), path
        assert b"import" not in (body if isinstance(body, bytes) else json.dumps(body).encode()), path


def test_requests_for_another_host_are_refused(finished):
    """DNS rebinding: a page of another origin resolving to 127.0.0.1 sends its own Host."""
    exp, port = finished
    status, answer = call(port, "GET", f"{API}/trial-jobs", headers={"Host": f"evil.example:{port}"})
    assert status == 403 and "Host" in answer["error"]
    assert call(port, "GET", f"{API}/trial-jobs", headers={"Host": f"localhost:{port}"})[0] == 200


def test_host_is_served_when_asked(moons):
    """Another address only when asked (here 127.0.0.2, still loopback: the test stays on this machine)."""
    try:
        with socket.socket() as s:
            s.bind(("127.0.0.2", 0))
    except OSError:
        pytest.skip("127.0.0.2 cannot be bound here")
    port = free_port()
    exp = Experiment(ExperimentConfig(benchmark="moons", max_trial_number=20))
    exp.portal_host = "127.0.0.2"
    exp.run(port=port)
    try:
        assert exp._portal.host == "127.0.0.2" and exp.portal_url.startswith(f"http://127.0.0.2:{port}/")
        conn = http.client.HTTPConnection("127.0.0.2", port, timeout=30)
        conn.request("GET", f"{API}/check-status")
        assert conn.getresponse().status == 200
        conn.close()
        with pytest.raises(OSError):  # not on 127.0.0.1
            call(port, "GET", f"{API}/check-status")
    finally:
        exp.stop()


def test_token_file_is_owner_only_and_reused_on_resume(moons):
    port = free_port()
    exp = Experiment(ExperimentConfig(benchmark="moons", strategy="random_search", max_trial_number=30, seed=0))
    exp.run(port=port)
    token = exp.token
    path = exp.folder / "portal.token"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and path.read_text().strip() == token
    assert len(token) >= 40 and exp._portal.host == "127.0.0.1"  # loopback unless told otherwise
    exp.stop()
    exp2 = Experiment.resume(exp.id, port=port, wait_completion=False)
    try:
        assert exp2.token == token
    finally:
        exp2.stop()
    # a token file others can read is refused
    os.chmod(path, 0o644)
    with pytest.raises(PermissionError, match="readable by others"):
        Experiment.view(exp.id).token


def test_a_port_in_use_is_a_clear_error_and_creates_nothing(moons, registry):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        exp = Experiment(ExperimentConfig(benchmark="moons", max_trial_number=10))
        with pytest.raises(PortalStartError, match=f"port {port} .*in use"):
            exp.start(port=port)
        assert exp.get_status() == "INITIALIZED" and not exp.folder.exists()
        with pytest.raises(PortalStartError, match="in use"):
            Experiment.view("whatever", port=port)
    # an unknown id frees the port it had bound
    port = free_port()
    with pytest.raises(ExperimentError, match="no experiment 'nope'"):
        Experiment.view("nope", port=port)
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))
    with pytest.raises(PortalStartError, match="port must be"):
        Experiment(ExperimentConfig(benchmark="moons", max_trial_number=10)).start(port=-1)
    assert isinstance(PortalStartError("x"), ExperimentError)
    # port=None (the default): no portal, no token
    quiet = Experiment(ExperimentConfig(benchmark="moons", max_trial_number=10))
    assert quiet.run() is True and quiet.portal_url is None and quiet.token is None
    assert not (quiet.folder / "portal.token").exists()


# -- connect and view ------------------------------------------------------------------------------
def _python(code: str, env_root: Path, timeout: float = 120) -> subprocess.CompletedProcess:
    env = dict(os.environ, NASBENCH_LAB_EXPERIMENTS=str(env_root), PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          env=env, timeout=timeout, cwd=ROOT)


def test_connect_from_a_second_process_reads_trials_and_changes_concurrency(served, registry):
    exp, port = served
    until(lambda: len(db_rows(exp)) >= 5, 30, "first trials")
    done = _python(f"""
        import json
        from nasbench_lab.experiment import Experiment
        exp = Experiment.connect({port})
        jobs = exp.list_trial_jobs()
        frame = exp.trials()
        exp.update_trial_concurrency(4)
        print(json.dumps({{"id": exp.id, "status": exp.get_status(), "jobs": len(jobs),
                           "first": jobs[0].hyperParameters["key"], "frame": len(frame),
                           "concurrency": exp.get_experiment_profile()["params"]["trial_concurrency"]}}))
    """, registry)
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["id"] == exp.id and seen["status"] == "RUNNING"
    assert seen["jobs"] >= 5 and seen["frame"] >= seen["jobs"]
    assert seen["first"] == db_rows(exp)[0][2]
    assert seen["concurrency"] == 4 and exp.config.trial_concurrency == 4 and db_config(exp)["trial_concurrency"] == 4
    assert exp.get_status() == "RUNNING"


def test_connect_in_process_reads_like_the_experiment_and_needs_the_token_to_change(finished):
    exp, port = finished
    remote = Experiment.connect(port)
    assert isinstance(remote, Experiment) and remote.id == exp.id and remote.token == exp.token
    assert remote.get_status() == "DONE"
    assert remote.list_trial_jobs() == exp.list_trial_jobs()
    assert remote.get_trial_job(9) == exp.get_trial_job(9)
    assert remote.get_job_metrics() == exp.get_job_metrics()
    assert remote.export_data() == exp.export_data()
    import pandas as pd

    pd.testing.assert_frame_equal(remote.trials(), exp.trials(), check_dtype=False)
    remote.update_max_trial_number(200)
    assert exp.config.max_trial_number == 200
    wrong = Experiment.connect(port, token="wrong")
    with pytest.raises(PortalError, match="403") as e:
        wrong.update_trial_concurrency(2)
    assert e.value.status == 403
    with pytest.raises(ExperimentError, match="another process"):
        remote.run()
    with pytest.raises(PortalError, match="no portal answers"):
        Experiment.connect(free_port())


def test_view_serves_a_finished_experiment_after_its_process_exited(registry):
    done = _python("""
        from nasbench_lab.experiment import Experiment, ExperimentConfig
        exp = Experiment(ExperimentConfig(benchmark="moons", strategy="random_search", max_trial_number=120, seed=3))
        assert exp.run()
        print(exp.id)
    """, registry)
    assert done.returncode == 0, done.stderr
    exp_id = done.stdout.strip().splitlines()[-1]
    port = free_port()
    exp = Experiment.view(exp_id, port=port)
    try:
        assert exp.portal_url == f"http://127.0.0.1:{port}/"  # read-only: no token in the URL
        assert call(port, "GET", f"{API}/check-status")[1]["status"] == "DONE"
        status, jobs = call(port, "GET", f"{API}/trial-jobs")
        assert status == 200 and [(int(j["trialJobId"]), j["status"], j["hyperParameters"]["key"])
                                  for j in jobs] == [r[:3] for r in db_rows(exp)]
        assert len(jobs) == 120
        status, profile = call(port, "GET", f"{API}/experiment")
        assert profile["readOnly"] is True and profile["status"] == "DONE"
        assert call(port, "GET", f"{API}/architecture/1")[0] == 200
        assert call(port, "GET", f"{API}/decisions")[1]["shown"] > 0
        # every change refused, with or without a token
        token = (exp.folder / "portal.token").read_text().strip() if (exp.folder / "portal.token").exists() else "t"
        for method, path, body in (("PUT", f"{API}/experiment", {"trial_concurrency": 2}),
                                   ("PUT", f"{API}/experiment/stop", {}), ("DELETE", f"{API}/trial-jobs/1", None)):
            assert call(port, method, path, body)[0] == 403
            assert call(port, method, path, body, token=token)[0] == 403
        assert db_config(exp)["trial_concurrency"] == 1
        with pytest.raises(ExperimentError, match="viewing"):
            exp.start()
    finally:
        exp.stop()
    with pytest.raises(OSError):
        call(port, "GET", f"{API}/check-status")


def test_view_from_the_command_line_serves_until_ctrl_c(registry):
    exp = Experiment(ExperimentConfig(benchmark="moons", strategy="random_search", max_trial_number=40, seed=1))
    assert exp.run()
    port = free_port()
    env = dict(os.environ, NASBENCH_LAB_EXPERIMENTS=str(registry), PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, "-m", "nasbench_lab.cli", "experiment", "view", exp.id, "--port",
                             str(port)], env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        def answers():
            try:
                return call(port, "GET", f"{API}/trial-jobs")
            except OSError:
                assert proc.poll() is None, proc.communicate()
                return None

        until(lambda: answers() is not None, 60, "the view command serves")
        status, jobs = answers()
        assert status == 200 and len(jobs) == 40
        assert call(port, "PUT", f"{API}/experiment", {"trial_concurrency": 2}, token=exp.token)[0] == 403
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, err
        assert f"http://127.0.0.1:{port}/" in out and "read-only" in out
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    # a port in use: one line naming it, status 2
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        busy = _python_cli(["experiment", "view", exp.id, "--port", str(s.getsockname()[1])], registry)
    assert busy.returncode == 2 and "in use" in busy.stderr


def _python_cli(argv: list[str], env_root: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, NASBENCH_LAB_EXPERIMENTS=str(env_root), PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "nasbench_lab.cli", *argv], capture_output=True, text=True,
                          env=env, timeout=120, cwd=ROOT)


def test_one_shot_architecture_weights_over_epochs(nb201):
    port = free_port()
    exp = Experiment(ExperimentConfig(benchmark=nb201, strategy="darts",
                                      strategy_options={"max_epochs": 2, "max_steps_per_epoch": 2},
                                      max_trial_number=1, seed=3))
    assert exp.run(port=port)
    try:
        status, w = call(port, "GET", f"{API}/arch-weights")
        assert status == 200 and w["available"] is True and w["epochs"] == [1, 2]
        reference = [json.loads(m.data) for m in exp.get_job_metrics()["000001"] if m.type == "ARCH_WEIGHTS"]
        assert w["names"] == sorted(reference[-1])
        for i, name in enumerate(w["names"]):
            assert w["values"][i] == pytest.approx([r[name] for r in reference])
        periodic = [m.data for m in exp.get_job_metrics()["000001"] if m.type == "PERIODICAL"]
        assert w["accuracy"] == pytest.approx(periodic)
        assert call(port, "GET", f"{API}/experiment")[1]["oneShot"] is True
        status, metrics = call(port, "GET", f"{API}/metric-data/1")
        assert status == 200 and [m["data"] for m in metrics if m["type"] == "PERIODICAL"] == pytest.approx(periodic)
        status, svg = call(port, "GET", f"{API}/architecture/1")
        assert status == 200 and b"<svg" in svg[:2000]
    finally:
        exp.stop()

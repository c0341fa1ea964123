"""The portal's Starlette app: the REST API under ``/api/v1/nni/`` and the page's files.

Endpoints (NNI's manager names; times are unix seconds, metrics plain numbers)::

    GET    check-status            {"status": ..., "errors": [...]}
    GET    experiment              the profile (get_experiment_profile + readOnly, oneShot)
    PUT    experiment              {"trial_concurrency": 4} / {"max_trial_number": 500} /
                                   {"max_experiment_duration": "2h"} (also NNI's camelCase
                                   names, nested in "params", with ?update_type=TRIAL_CONCURRENCY,
                                   MAX_TRIAL_NUM or MAX_EXEC_DURATION)
    PUT    experiment/stop         stop the experiment (the portal keeps serving)
    GET    trial-jobs              every trial job (?status=SUCCEEDED filters)
    GET    trial-jobs/{id}         one (job id "000007" or trial number 7)
    DELETE trial-jobs/{id}         kill a running trial (USER_CANCELED)
    GET    metric-data             every metric: PERIODICAL, FINAL (and ARCH_WEIGHTS)
    GET    metric-data/{id}        one trial's metrics
    GET    job-statistics          trial counts by status
    GET    export-data             succeeded trials as {parameter, value, trialJobId}
    GET    experiments-info        every experiment of the registry
    GET    decisions               the decision encoding of the succeeded trials
    GET    arch-weights            a one-shot search's architecture weights over epochs
    GET    architecture/{id}       the trial's architecture drawn as a cell (SVG)

Rules: a mutating request (PUT, POST, DELETE, PATCH) needs ``Authorization: Bearer
<token>`` (none: 401, a wrong one: 403), a read-only portal refuses it (403); a body
over :data:`MAX_BODY` bytes is refused (413), one that is not a JSON object (400); an
unknown trial is 404, a trial that cannot be killed (finished) 409, a value the config
refuses 400. Static files are a fixed list (anything else, ``..`` included, is 404).
Served on loopback, requests naming another ``Host`` are refused (403).
"""
from __future__ import annotations

import dataclasses
import io
import json
import math
import pickle
import secrets
import threading
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from ..config import ConfigError
from ..records import TRIAL_STATUSES, job_id, trial_job_fields
from ..store import ExperimentError, ExperimentStore, Registry

#: the largest request body accepted (bytes)
MAX_BODY = 64 * 1024
#: the succeeded trials the decisions view draws at most (the latest)
MAX_DECISION_ROWS = 5000
STATIC = Path(__file__).resolve().parent / "static"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
PREFIX = "/api/v1/nni"
#: PUT experiment: config field -> (NNI's names, ?update_type value)
UPDATES = {
    "trial_concurrency": (("trialConcurrency",), "TRIAL_CONCURRENCY"),
    "max_trial_number": (("maxTrialNumber", "maxTrialNum"), "MAX_TRIAL_NUM"),
    "max_experiment_duration": (("maxExperimentDuration", "maxExecDuration"), "MAX_EXEC_DURATION"),
}
_HEADERS = [(b"x-content-type-options", b"nosniff"), (b"x-frame-options", b"DENY"),
            (b"referrer-policy", b"no-referrer"), (b"cache-control", b"no-store"),
            (b"content-security-policy",
             b"default-src 'self'; script-src 'self' 'unsafe-eval'; style-src 'self' 'unsafe-inline'; "
             b"img-src 'self' data: blob:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'")]
_DRAW_LOCK = threading.Lock()


def _plotly_js() -> Path:
    """plotly.min.js from the installed ``plotly`` package."""
    import plotly

    return Path(plotly.__file__).resolve().parent / "package_data" / "plotly.min.js"


def _num(x: Any) -> float | None:
    """A finite float, else None (JSON has no NaN)."""
    if x is None:
        return None
    try:
        x = float(x)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def _clean(obj: Any) -> Any:
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return _clean(dataclasses.asdict(obj))
    if hasattr(obj, "item") and callable(obj.item):  # numpy scalars
        return _clean(obj.item())
    return obj


class JSON(JSONResponse):
    """JSON without NaN (non-finite numbers become null)."""

    def render(self, content: Any) -> bytes:
        try:
            text = json.dumps(content, allow_nan=False, separators=(",", ":"))
        except (ValueError, TypeError):
            text = json.dumps(_clean(content), allow_nan=False, separators=(",", ":"), default=str)
        return text.encode("utf-8")


def _fail(status: int, message: str) -> HTTPException:
    return HTTPException(status_code=status, detail=message)


class Guard:
    """ASGI middleware: Host check, the token for mutating requests, read-only refusal,
    the body limit, and security headers on every answer."""

    def __init__(self, app, token: str | None, read_only: bool, hosts: set[str] | None):
        self.app, self.token, self.read_only, self.hosts = app, token, read_only, hosts

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = list(message["headers"]) + _HEADERS
            await send(message)

        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        refusal = self._refusal(scope["method"], headers)
        if refusal is not None:
            status, message, extra = refusal
            return await JSON({"error": message}, status_code=status, headers=extra)(scope, receive, send_with_headers)
        await self.app(scope, receive, send_with_headers)

    def _refusal(self, method: str, headers: dict) -> tuple[int, str, dict] | None:
        if self.hosts is not None and headers.get("host", "").lower() not in self.hosts:
            return 403, f"Host {headers.get('host', '')!r} is not served here (open the portal by its loopback URL)", {}
        if method not in SAFE_METHODS:
            if self.read_only:
                return 403, "this portal is read-only (Experiment.view): nothing can be changed through it", {}
            auth = headers.get("authorization")
            if not auth:
                return 401, "this request changes the experiment: send 'Authorization: Bearer <token>' (the token " \
                            "is printed with the portal's URL and is exp.token)", {"WWW-Authenticate": "Bearer"}
            scheme, _, given = auth.partition(" ")
            if scheme.lower() != "bearer" or not self.token or \
                    not secrets.compare_digest(given.strip().encode(), self.token.encode()):
                return 403, "wrong token", {}
        length = headers.get("content-length")
        if length is not None:
            try:
                n = int(length)
            except ValueError:
                return 400, f"bad Content-Length {length!r}", {}
            if n > MAX_BODY:
                return 413, f"request body of {n:,} bytes is over the limit of {MAX_BODY:,}", {}
        return None


async def _json_object(request: Request, required: bool = True) -> dict:
    """The request's JSON object (at most MAX_BODY bytes; 413 over, 400 when malformed)."""
    size, chunks = 0, []
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise _fail(413, f"request body over the limit of {MAX_BODY:,} bytes")
        chunks.append(chunk)
    raw = b"".join(chunks)
    if not raw.strip():
        if required:
            raise _fail(400, "send a JSON object in the request body")
        return {}
    try:
        body = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise _fail(400, f"malformed JSON: {e}") from None
    if not isinstance(body, dict):
        raise _fail(400, f"send a JSON object, not a {type(body).__name__}")
    return body


class PortalData:
    """What the endpoints read: the experiment, a read connection of its own to the store,
    the search space (resolved once) and drawings (cached)."""

    def __init__(self, experiment):
        self.exp = experiment
        self._store: ExperimentStore | None = None
        self._space: Any = None
        self._space_error: str | None = None
        self._decisions: dict[str, list[int] | None] = {}
        self._svgs: dict[int, bytes] = {}
        self._jobs: tuple[int, bytes] | None = None
        self._lock = threading.Lock()

    # -- store and space -------------------------------------------------------------------
    def store(self) -> ExperimentStore:
        if self._store is None:
            if self.exp._store is None:
                raise _fail(503, f"experiment {self.exp.id!r} has no store yet")
            self._store = ExperimentStore(self.exp._store.folder)
        return self._store

    def space(self):
        """The search space, or raise 404 saying why there is none."""
        with self._lock:
            if self._space is None and self._space_error is None:
                try:
                    self._space = self._resolve_space()
                except Exception as e:  # noqa: BLE001 - reported to the page
                    self._space_error = f"{type(e).__name__}: {e}"
        if self._space is None:
            raise _fail(404, f"the search space of experiment {self.exp.id!r} is not available ({self._space_error})")
        return self._space

    def _resolve_space(self):
        space = self.exp._objects.get("space") if self.exp._objects else None
        if space is not None:
            return space
        cfg = self.exp.config
        if isinstance(cfg.space, str):
            from ... import spaces

            return spaces.get(cfg.space)
        if cfg.space is not None and hasattr(cfg.space, "key"):
            return cfg.space
        bench = cfg.benchmark
        if isinstance(bench, str):
            from ..runner import resolve_benchmark

            bench = resolve_benchmark(bench, cfg.benchmark_options)
        space = getattr(bench, "space", None)
        if space is None:
            raise ValueError("neither the config nor the benchmark names a search space")
        return space

    def trial_number(self, trial_job_id: str) -> int:
        try:
            trial = int(trial_job_id)
        except (TypeError, ValueError):
            raise _fail(404, f"no trial job {trial_job_id!r} (job ids are numbers such as '000007')") from None
        if not self.store().read("SELECT 1 FROM trials WHERE trial = ?", (trial,)):
            raise _fail(404, f"experiment {self.exp.id!r} has no trial job {trial_job_id!r}")
        return trial

    def arch(self, trial: int):
        rows = self.store().read("SELECT arch, key FROM trials WHERE trial = ?", (trial,))
        blob, key = rows[0]
        if blob is not None:
            return pickle.loads(blob)  # the experiment's own store
        if not key:
            raise _fail(404, f"trial {job_id(trial)} has no architecture yet")
        try:
            return self.space().from_key(key)
        except NotImplementedError as e:
            raise _fail(404, str(e)) from None

    # -- endpoints' data -------------------------------------------------------------------
    def trial_jobs(self, status: str | None = None, trial: int | None = None) -> list[dict]:
        where, params = [], []
        if status is not None:
            where.append("status = ?")
            params.append(status)
        if trial is not None:
            where.append("trial = ?")
            params.append(trial)
        sql = ("WHERE " + " AND ".join(where)) if where else ""
        out = []
        for r in self.store().trial_rows(sql, params):
            job = trial_job_fields(r)  # the Experiment's TrialJob, plus the query count
            for name in ("startTime", "endTime", "finalMetricData", "test"):
                job[name] = _num(job[name])
            job["query"] = r["query"]
            out.append(job)
        return out

    def trial_jobs_body(self) -> bytes:
        """Every trial job as JSON bytes, cached until the store changes (``PRAGMA
        data_version`` of this read connection moves when another connection commits)."""
        version = self.store().read("PRAGMA data_version")[0][0]
        cached = self._jobs
        if cached is not None and cached[0] == version:
            return cached[1]
        body = JSON(self.trial_jobs()).body
        self._jobs = (version, body)
        return body

    def decisions(self) -> dict:
        space = self.space()
        try:
            names_choices = space.decisions()
        except NotImplementedError as e:
            raise _fail(404, str(e)) from None
        rows = self.store().read("SELECT trial, key, validation FROM trials WHERE status = 'SUCCEEDED' "
                                 "ORDER BY trial DESC LIMIT ?", (MAX_DECISION_ROWS,))
        total = int(self.store().read("SELECT COUNT(*) FROM trials WHERE status = 'SUCCEEDED'")[0][0])
        index = [{c: i for i, c in enumerate(choices)} for _, choices in names_choices]
        trials, values, validation, skipped = [], [], [], 0
        for trial, key, v in reversed(rows):
            vec = self._decisions.get(key, ())
            if vec == ():
                try:
                    vec = [ix[x] for ix, x in zip(index, space.to_decisions(space.from_key(key)))]
                except Exception:  # noqa: BLE001 - a key this space cannot rebuild
                    vec = None
                self._decisions[key] = vec
            if vec is None:
                skipped += 1
                continue
            trials.append(job_id(trial))
            values.append(vec)
            validation.append(_num(v))
        return {"names": [n for n, _ in names_choices], "choices": [[str(c) for c in ch] for _, ch in names_choices],
                "trialJobIds": trials, "values": values, "validation": validation, "skipped": skipped,
                "succeeded": total, "shown": len(trials)}

    def arch_weights(self, trial: int = 1) -> dict:
        rows = self.store().read("SELECT type, sequence, value FROM metrics WHERE trial = ? AND type IN "
                                 "('ARCH_WEIGHTS', 'PERIODICAL') ORDER BY sequence, rowid", (trial,))
        weights: dict[int, dict] = {}
        accuracy: dict[int, float | None] = {}
        for typ, seq, value in rows:
            if typ == "ARCH_WEIGHTS":
                try:
                    weights[int(seq)] = json.loads(value)
                except (TypeError, ValueError):
                    continue
            else:
                accuracy[int(seq)] = _num(value)
        epochs = sorted(weights)
        names = sorted({k for w in weights.values() for k in w})
        return {"trialJobId": job_id(trial), "epochs": epochs, "names": names,
                "values": [[_num(weights[e].get(n)) for e in epochs] for n in names],
                "accuracy": [accuracy.get(e) for e in epochs], "available": bool(epochs)}

    def architecture_svg(self, trial: int) -> bytes:
        if trial in self._svgs:
            return self._svgs[trial]
        arch = self.arch(trial)
        space = self.space()
        from matplotlib.figure import Figure

        with _DRAW_LOCK:
            panels = int(getattr(space, "draw_panels", 1))
            fig = Figure(figsize=(5.5 * panels, 3.2 if panels > 1 else 3))
            axes = fig.subplots(1, panels, squeeze=False)[0]
            space.draw_on(arch, list(axes))
            buf = io.BytesIO()
            fig.savefig(buf, format="svg", bbox_inches="tight")
        svg = buf.getvalue()
        if len(self._svgs) > 256:
            self._svgs.clear()
        self._svgs[trial] = svg
        return svg


def _profile(data: PortalData, read_only: bool) -> dict:
    from ..experiment import _is_one_shot

    exp = data.exp
    try:
        profile = exp.get_experiment_profile()
    except ExperimentError as e:
        raise _fail(503, str(e)) from None
    profile["readOnly"] = read_only
    profile["oneShot"] = _is_one_shot(exp.config.strategy)
    return profile


def create_app(experiment, token: str | None, read_only: bool = False, port: int | None = None,
               loopback: bool = True, host: str = "127.0.0.1") -> Starlette:
    """The portal's app for ``experiment`` (see the module docstring)."""
    data = PortalData(experiment)
    exp = experiment

    def check_status(request):
        return JSON({"status": exp.get_status(), "errors": [exp._error] if exp._error else []})

    def get_experiment(request):
        return JSON(_profile(data, read_only))

    async def put_experiment(request):
        body = await _json_object(request)
        src = body["params"] if isinstance(body.get("params"), dict) else body
        names = {n: field for field, (aliases, _) in UPDATES.items() for n in (field, *aliases)}
        update_type = request.query_params.get("update_type")
        if update_type is not None:
            fields = [f for f, (_, kind) in UPDATES.items() if kind == update_type]
            if not fields:
                raise _fail(400, f"unknown update_type {update_type!r}; known: "
                                 f"{', '.join(kind for _, kind in UPDATES.values())}")
            given = [(n, v) for n, v in src.items() if names.get(n) == fields[0]]
            if not given:
                raise _fail(400, f"update_type {update_type} needs {fields[0]!r} (or {UPDATES[fields[0]][0][0]!r})")
            changes = {fields[0]: given[0][1]}
        else:
            unknown = sorted(set(src) - set(names))
            if unknown or not src:
                raise _fail(400, f"cannot update {unknown or 'nothing'}; send any of "
                                 f"{', '.join(UPDATES)} (or NNI's {', '.join(a[0] for a, _ in UPDATES.values())})")
            changes = {names[n]: v for n, v in src.items()}
        setters = {"trial_concurrency": exp.update_trial_concurrency, "max_trial_number": exp.update_max_trial_number,
                   "max_experiment_duration": exp.update_max_experiment_duration}

        def apply():
            for field, value in changes.items():
                setters[field](value)
            return _profile(data, read_only)

        try:
            return JSON(await run_in_threadpool(apply))
        except ConfigError as e:
            raise _fail(400, str(e)) from None

    async def stop_experiment(request):
        await _json_object(request, required=False)
        status = exp.get_status()
        if status in ("RUNNING", "STOPPING"):
            threading.Thread(target=exp._stop_trials, name=f"portal-stop-{exp.id}", daemon=True).start()
            status = "STOPPING"
        return JSON({"status": status}, status_code=202 if status == "STOPPING" else 200)

    def trial_jobs(request):
        status = request.query_params.get("status")
        if status is not None and status not in TRIAL_STATUSES:
            raise _fail(400, f"unknown trial status {status!r}; known: {', '.join(TRIAL_STATUSES)}")
        if status is None:
            return Response(data.trial_jobs_body(), media_type="application/json")
        return JSON(data.trial_jobs(status))

    def trial_job(request):
        trial = data.trial_number(request.path_params["id"])
        return JSON(data.trial_jobs(trial=trial)[0])

    async def kill_trial_job(request):
        trial = data.trial_number(request.path_params["id"])
        try:
            await run_in_threadpool(exp.kill_trial_job, trial)
        except ExperimentError as e:
            raise _fail(409, str(e)) from None
        return JSON({"trialJobId": job_id(trial), "status": "USER_CANCELED"}, status_code=202)

    def _metrics(trial: int | None) -> list[dict]:
        out = []
        for rows in exp.get_job_metrics(trial).values():
            for m in rows:
                out.append({"timestamp": _num(m.timestamp), "trialJobId": m.trialJobId, "parameterId": m.parameterId,
                            "type": m.type, "sequence": m.sequence,
                            "data": m.data if isinstance(m.data, str) else _num(m.data)})
        return out

    def metric_data(request):
        return JSON(_metrics(None))

    def metric_data_of(request):
        return JSON(_metrics(data.trial_number(request.path_params["id"])))

    def job_statistics(request):
        return JSON(exp.get_job_statistics())

    def export_data(request):
        return JSON([dataclasses.asdict(r) for r in exp.export_data()])

    def experiments_info(request):
        out = []
        for e in Registry().all():
            e = dict(e)
            e["current"] = e["id"] == exp.id
            out.append(e)
        return JSON(out)

    def decisions(request):
        return JSON(data.decisions())

    def arch_weights(request):
        raw = request.query_params.get("trial", "1")
        try:
            trial = int(raw)
        except ValueError:
            raise _fail(400, f"trial={raw!r} is not a trial number") from None
        return JSON(data.arch_weights(trial))  # before the first epoch: available false

    def architecture(request):
        trial = data.trial_number(request.path_params["id"])
        try:
            svg = data.architecture_svg(trial)
        except HTTPException:
            raise
        except Exception as e:  # noqa: BLE001 - a space that cannot draw this architecture
            raise _fail(404, f"trial {job_id(trial)} cannot be drawn: {type(e).__name__}: {e}") from None
        return Response(svg, media_type="image/svg+xml")

    files = {p.name: p for p in STATIC.iterdir() if p.is_file() and not p.name.startswith(".")}

    def index(request):
        return FileResponse(files["index.html"], media_type="text/html")

    def static(request):
        name = request.path_params["name"]
        path = _plotly_js() if name == "plotly.min.js" else files.get(name)
        if path is None or not path.exists():
            raise _fail(404, f"no file {name!r}")
        return FileResponse(path)

    async def on_http_error(request, exc: HTTPException):
        headers = getattr(exc, "headers", None)
        return JSON({"error": exc.detail}, status_code=exc.status_code, headers=headers)

    async def on_store_error(request, exc: ExperimentError):
        return JSON({"error": str(exc)}, status_code=503)

    api = [
        Route(f"{PREFIX}/check-status", check_status, methods=["GET"]),
        Route(f"{PREFIX}/experiment", get_experiment, methods=["GET"]),
        Route(f"{PREFIX}/experiment", put_experiment, methods=["PUT"]),
        Route(f"{PREFIX}/experiment/stop", stop_experiment, methods=["PUT"]),
        Route(f"{PREFIX}/trial-jobs", trial_jobs, methods=["GET"]),
        Route(f"{PREFIX}/trial-jobs/{{id}}", trial_job, methods=["GET"]),
        Route(f"{PREFIX}/trial-jobs/{{id}}", kill_trial_job, methods=["DELETE"]),
        Route(f"{PREFIX}/metric-data", metric_data, methods=["GET"]),
        Route(f"{PREFIX}/metric-data/{{id}}", metric_data_of, methods=["GET"]),
        Route(f"{PREFIX}/job-statistics", job_statistics, methods=["GET"]),
        Route(f"{PREFIX}/export-data", export_data, methods=["GET"]),
        Route(f"{PREFIX}/experiments-info", experiments_info, methods=["GET"]),
        Route(f"{PREFIX}/decisions", decisions, methods=["GET"]),
        Route(f"{PREFIX}/arch-weights", arch_weights, methods=["GET"]),
        Route(f"{PREFIX}/architecture/{{id}}", architecture, methods=["GET"]),
        Route("/", index, methods=["GET"]),
        Route("/favicon.ico", lambda request: Response(status_code=204), methods=["GET"]),
        Route("/static/{name:path}", static, methods=["GET"]),
    ]
    app = Starlette(routes=api, exception_handlers={HTTPException: on_http_error, ExperimentError: on_store_error})
    hosts = None
    if loopback and port is not None:
        named = f"[{host}]" if ":" in host else host
        hosts = {f"{h}:{port}" for h in ("127.0.0.1", "localhost", "[::1]", named)}
    return Guard(app, token=token, read_only=read_only, hosts=hosts)


__all__ = ["MAX_BODY", "PREFIX", "PortalData", "create_app"]

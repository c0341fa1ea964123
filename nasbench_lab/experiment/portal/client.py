"""``Experiment.connect(port)``: an Experiment that drives a served one through its REST API.

>>> exp = Experiment.connect(8080)                 # doctest: +SKIP
>>> exp.list_trial_jobs()[:3]; exp.update_trial_concurrency(4); exp.stop()  # doctest: +SKIP

Reading needs no token. Changing (update_*, kill_trial_job, stop) sends the token: the
one given (``token=``), else the experiment's own token file, found through the registry
of this machine (``<folder>/portal.token``, readable by its owner only). Without either,
a change raises :class:`PortalError` (401) and reading still works.
"""
from __future__ import annotations

import json
import math
import time
import urllib.error
import urllib.request
from typing import Any

from ..config import ExperimentConfig
from ..experiment import Experiment
from ..records import TrialJob, TrialMetricData, TrialResult
from ..store import ExperimentError, Registry
from .server import LOOPBACK, read_token


class PortalError(ExperimentError):
    """A request to a portal failed: ``status`` is the HTTP status (0: no answer)."""

    def __init__(self, message: str, status: int = 0):
        super().__init__(message)
        self.status = status


class RemoteExperiment(Experiment):
    """A served experiment seen through its portal (see the module docstring)."""

    def __init__(self, port: int, token: str | None = None, host: str = LOOPBACK, timeout: float = 30.0):
        self.base = f"http://{host}:{int(port)}/api/v1/nni"
        self.timeout = float(timeout)
        self._remote_token = token
        profile = self.get_experiment_profile()
        try:
            config = ExperimentConfig.from_dict(dict(profile["params"]))
        except Exception:  # noqa: BLE001 - a config of a newer version: keep the fields we know
            config = ExperimentConfig(benchmark=profile["params"].get("benchmark"))
        super().__init__(config)
        self._id = profile["id"]
        self._remote_token = token if token is not None else self._token_file()

    # -- HTTP -------------------------------------------------------------------------------
    def _token_file(self) -> str | None:
        entry = Registry().get(self._id)
        if entry is None:
            return None
        try:
            return read_token(entry["folder"])
        except OSError:
            return None

    def _request(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        if method not in ("GET", "HEAD") and self._remote_token:
            req.add_header("Authorization", f"Bearer {self._remote_token}")
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as r:
                raw = r.read()
        except urllib.error.HTTPError as e:
            try:
                message = json.loads(e.read().decode()).get("error", e.reason)
            except (ValueError, AttributeError):
                message = e.reason
            hint = " (pass token=, or read it from exp.token of the serving process)" if e.code == 401 else ""
            raise PortalError(f"{method} {self.base}{path}: {e.code} {message}{hint}", e.code) from None
        except (urllib.error.URLError, OSError) as e:
            reason = getattr(e, "reason", e)
            raise PortalError(f"no portal answers at {self.base} ({reason}); is the experiment served "
                              "(exp.start(port=...))?") from None
        return json.loads(raw.decode()) if raw else None

    @property
    def token(self) -> str | None:
        """The token this connection sends with changes (None: read-only)."""
        return self._remote_token

    @property
    def portal_url(self) -> str:
        return self.base.rsplit("/api/", 1)[0] + "/"

    # -- running: not from here ----------------------------------------------------------------
    def run(self, *args, **kwargs):
        raise ExperimentError(f"experiment {self.id!r} runs in another process; a connected Experiment reads "
                              "and controls it (update_*, kill_trial_job, stop)")

    start = run

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until the served experiment is no longer RUNNING/STOPPING; True when it ended."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.get_status() in ("RUNNING", "STOPPING", "INITIALIZED"):
            if deadline is not None and time.monotonic() >= deadline:
                return False
            time.sleep(0.1)
        return True

    def stop(self, timeout: float = 60.0) -> None:
        """Stop the served experiment (its portal keeps serving) and wait until it has stopped."""
        self._request("PUT", "/experiment/stop", {})
        self.wait(timeout)

    # -- reading -------------------------------------------------------------------------------
    def get_status(self) -> str:
        return self._request("GET", "/check-status")["status"]

    def get_experiment_profile(self) -> dict:
        return self._request("GET", "/experiment")

    @property
    def folder(self):
        from pathlib import Path

        return Path(self.get_experiment_profile()["logDir"])

    @staticmethod
    def _trial_job(d: dict) -> TrialJob:
        names = {f for f in TrialJob.__dataclass_fields__}
        return TrialJob(**{k: v for k, v in d.items() if k in names})

    def list_trial_jobs(self) -> list[TrialJob]:
        return [self._trial_job(d) for d in self._request("GET", "/trial-jobs")]

    def get_trial_job(self, trial_job_id: str | int) -> TrialJob:
        return self._trial_job(self._request("GET", f"/trial-jobs/{self._trial_number(trial_job_id)}"))

    def get_job_metrics(self, trial_job_id: str | int | None = None) -> dict[str, list[TrialMetricData]]:
        path = "/metric-data" if trial_job_id is None else f"/metric-data/{self._trial_number(trial_job_id)}"
        out: dict[str, list[TrialMetricData]] = {}
        for m in self._request("GET", path):
            data = m["data"] if m["data"] is not None else math.nan
            out.setdefault(m["trialJobId"], []).append(TrialMetricData(m["timestamp"], m["trialJobId"],
                                                                       m["parameterId"], m["type"], m["sequence"],
                                                                       data))
        return dict(sorted(out.items()))

    def get_job_statistics(self) -> list[dict]:
        return self._request("GET", "/job-statistics")

    def export_data(self) -> list[TrialResult]:
        return [TrialResult(**d) for d in self._request("GET", "/export-data")]

    def trials(self):
        """The query frame of the served experiment (as ``Experiment.trials``)."""
        import numpy as np
        import pandas as pd

        from ...schema import QUERY_COLUMNS, carry_best

        jobs = self._request("GET", "/trial-jobs")
        profile = self.get_experiment_profile()
        f = pd.DataFrame(jobs, columns=["trialJobId", "trial", "query", "status", "hyperParameters", "startTime",
                                        "endTime", "finalMetricData", "test", "error"])
        ok = (f["status"] == "SUCCEEDED").to_numpy()
        v = np.where(ok, pd.to_numeric(f["finalMetricData"], errors="coerce").to_numpy(float), np.nan)
        t = np.where(ok, pd.to_numeric(f["test"], errors="coerce").to_numpy(float), np.nan)
        bv, bt, ot = carry_best(v, t)
        out = pd.DataFrame({"benchmark": profile.get("benchmark") or "", "agent": profile.get("strategy") or "",
                            "seed": int(self.config.seed), "set": 0, "run": 0, "query": f["query"].astype("int64"),
                            "key": [(h or {}).get("key", "") for h in f["hyperParameters"]],
                            "validation": v, "test": t, "best_validation": bv, "best_test": bt, "oracle_test": ot,
                            "trial": f["trial"].astype("int64"), "status": f["status"].astype(str),
                            "trial_job_id": f["trialJobId"].astype(str), "start_time": f["startTime"],
                            "end_time": f["endTime"], "error": f["error"]})
        return out[list(QUERY_COLUMNS) + ["trial", "status", "trial_job_id", "start_time", "end_time", "error"]]

    # -- changing ------------------------------------------------------------------------------
    def _update(self, field: str, value: Any) -> None:
        profile = self._request("PUT", "/experiment", {field: value})
        try:
            self.config = ExperimentConfig.from_dict(dict(profile["params"]))
        except Exception:  # noqa: BLE001 - keep the old local copy
            pass

    def update_trial_concurrency(self, value: int) -> None:
        self._update("trial_concurrency", value)

    def update_max_trial_number(self, value: int) -> None:
        self._update("max_trial_number", value)

    def update_max_experiment_duration(self, value: Any) -> None:
        self._update("max_experiment_duration", value)

    def update_search_space(self, space: Any) -> None:
        raise ExperimentError("the search space of a connected experiment cannot be changed through its portal")

    def kill_trial_job(self, trial_job_id: str | int) -> None:
        self._request("DELETE", f"/trial-jobs/{self._trial_number(trial_job_id)}")

    def __repr__(self) -> str:
        return f"RemoteExperiment(id={self.id!r}, portal={self.portal_url!r})"


__all__ = ["PortalError", "RemoteExperiment"]

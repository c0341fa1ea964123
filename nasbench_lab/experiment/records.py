"""The records the Experiment's reading methods return, shaped as NNI's.

``TrialResult`` (``export_data``), ``TrialJob`` (``list_trial_jobs``, ``get_trial_job``)
and ``TrialMetricData`` (``get_job_metrics``) keep NNI's field names (camelCase), so code
written against NNI's Experiment reads them unchanged.
"""
from __future__ import annotations

import dataclasses
from typing import Any

#: trial statuses (NNI's)
TRIAL_STATUSES = ("WAITING", "RUNNING", "SUCCEEDED", "FAILED", "USER_CANCELED", "SYS_CANCELED")
#: trial statuses that end a trial
FINISHED = ("SUCCEEDED", "FAILED", "USER_CANCELED", "SYS_CANCELED")
#: experiment statuses (NNI's)
EXPERIMENT_STATUSES = ("INITIALIZED", "RUNNING", "STOPPING", "STOPPED", "DONE", "NO_MORE_TRIAL", "ERROR")


@dataclasses.dataclass(frozen=True)
class TrialResult:
    """One finished trial as ``export_data`` returns it."""

    parameter: dict
    """the architecture: ``{"key": ...}``."""
    value: float
    """its final metric (validation accuracy)."""
    trialJobId: str
    """the trial's job id."""


@dataclasses.dataclass(frozen=True)
class TrialJob:
    """One trial's job: status, times, parameter, final metric."""

    trialJobId: str
    """the job id (``"000001"`` for trial 1)."""
    trial: int
    """the 1-based trial number."""
    status: str
    """WAITING, RUNNING, SUCCEEDED, FAILED, USER_CANCELED or SYS_CANCELED."""
    hyperParameters: dict
    """the architecture: ``{"key": ...}``."""
    startTime: float | None
    """unix seconds the trial started (None while waiting)."""
    endTime: float | None
    """unix seconds it ended (None while not finished)."""
    finalMetricData: float | None
    """its final metric (validation accuracy), None unless SUCCEEDED."""
    test: float | None = None
    """its test accuracy where the evaluator has one."""
    error: str | None = None
    """why it failed: the traceback or the reason (timeout, dead worker)."""

    @classmethod
    def from_row(cls, r) -> "TrialJob":
        """The job of one stored trial row (see :func:`trial_job_fields`)."""
        return cls(**trial_job_fields(r))


def trial_job_fields(r) -> dict:
    """The :class:`TrialJob` fields of one stored trial row (a row of
    ``ExperimentStore.trial_rows``) as a dict: the metrics only for a SUCCEEDED trial, a NaN
    test accuracy as None. The portal's ``trial-jobs`` serves these dicts (finite numbers
    only, plus the trial's query count)."""
    ok = r["status"] == "SUCCEEDED"
    test = r["test"]
    return {"trialJobId": job_id(r["trial"]), "trial": r["trial"], "status": r["status"],
            "hyperParameters": {"key": r["key"]}, "startTime": r["start_time"], "endTime": r["end_time"],
            "finalMetricData": r["validation"] if ok else None,
            "test": test if ok and test is not None and test == test else None, "error": r["error"]}


@dataclasses.dataclass(frozen=True)
class TrialMetricData:
    """One reported metric of a trial (``type``: PERIODICAL or FINAL)."""

    timestamp: float
    """unix seconds it was reported."""
    trialJobId: str
    parameterId: str
    """the trial number as a string (NNI's parameter id)."""
    type: str
    """PERIODICAL (intermediate) or FINAL."""
    sequence: int
    """0-based index among the trial's metrics of that type."""
    data: Any
    """the value."""


def job_id(trial: int) -> str:
    """The job id of trial number ``trial``."""
    return f"{int(trial):06d}"


__all__ = ["EXPERIMENT_STATUSES", "FINISHED", "TRIAL_STATUSES", "TrialJob", "TrialMetricData", "TrialResult",
           "job_id", "trial_job_fields"]

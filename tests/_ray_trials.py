"""Trial functions for the Ray engine's tests, importable by name (``"_ray_trials:steady"``)
in the test process, in a driver subprocess and in Ray's worker processes."""
from __future__ import annotations

import os
import time

from nasbench_lab.experiment._workers import report_intermediate_result
from nasbench_lab.spaces.mlp import ChainSpace

SPACE = ChainSpace(max_depth=3)
_key = ChainSpace(max_depth=6).key  # also the chains of the "mlp" space


def value_of(key: str) -> float:
    """The validation accuracy ``steady`` answers for a chain key (an independent reference)."""
    return 0.5 + 0.01 * len(key)


def steady(arch) -> dict:
    """Reports two intermediate values, then answers ``value_of(key)`` (and holds a moment)."""
    key = _key(arch)
    for step in range(2):
        report_intermediate_result(0.1 * (step + 1))
    time.sleep(0.3)
    return {"default": value_of(key), "test": 0.4}


def behaving(arch) -> dict:
    """Raises on the chain 1-ReLU, kills its own worker process on 4-ReLU, else ``steady``."""
    key = _key(arch)
    if key == "1-ReLU":
        raise ValueError("boom: this trial fails on purpose")
    if key == "4-ReLU":
        os._exit(3)
    return steady(arch)


def slow(arch) -> dict:
    """Holds for a second, then answers ``value_of(key)``."""
    time.sleep(1.0)
    return {"default": value_of(_key(arch)), "test": 0.4}


def hang(arch) -> dict:
    """Holds for ten minutes (to be cancelled)."""
    time.sleep(600)
    return {"default": 0.5, "test": 0.4}


def gpus_seen(arch) -> dict:
    """Holds 1.5 s; its 'test' value is the single GPU of CUDA_VISIBLE_DEVICES (-1: empty, -2: unset)."""
    time.sleep(1.5)
    devices = os.environ.get("CUDA_VISIBLE_DEVICES")
    seen = -2.0 if devices is None else float(devices) if devices.isdigit() else -1.0
    return {"default": value_of(_key(arch)), "test": seen}

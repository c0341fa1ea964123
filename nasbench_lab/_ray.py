"""Ray, the optional distributed engine: the one place that imports it and joins a cluster.

Everything that runs on Ray (the Experiment's ``training_service="ray"`` trials, the
``backend="ray"`` actors of Ape-X) calls :func:`init`, so all of it runs on one cluster per
process:

* when this process is connected to Ray already (a notebook that called ``ray.init``, an
  experiment that ran before), that connection is used as it is;
* ``address="auto"`` (or ``"host:port"``) attaches to a cluster started with
  ``ray start --head`` on this machine or reachable from it, ``"ray://head:10001"``
  connects through Ray Client;
* ``address=None`` attaches to ``$RAY_ADDRESS`` when that is set, else starts a local
  single-node instance bound to loopback (127.0.0.1 only), without the dashboard.
* a loopback address (``"127.0.0.1:port"``, such an instance started by another process)
  is joined on loopback too.

Ray is imported lazily; without it :func:`require` raises ``paths.MissingExtra`` saying
``pip install 'nasbench-lab[ray]'``. :func:`init` never shuts Ray down: an instance it
started lives until the process ends (or ``ray.shutdown()``).
"""
from __future__ import annotations

import os
import re
from typing import Any

#: what ``address`` may be besides None: "auto", "host:port", "ray://host:port"
_ADDRESS = re.compile(r"^(auto|(ray://)?[A-Za-z0-9_.\-]+:\d{1,5}|(ray://)?\[[0-9A-Fa-f:]+\]:\d{1,5})$")


def require(what: str = "the Ray engine"):
    """``import ray``, or ``paths.MissingExtra`` naming ``pip install 'nasbench-lab[ray]'``."""
    from . import paths

    return paths.require("ray", what)


def check_address(address: Any) -> str | None:
    """``address`` when it names a Ray cluster (None, ``"auto"``, ``"host:port"``,
    ``"ray://host:port"``), else ValueError saying what is accepted.

    >>> check_address("ray://head:10001"), check_address(None)
    ('ray://head:10001', None)
    """
    if address is None:
        return None
    if not isinstance(address, str) or not _ADDRESS.match(address.strip()):
        raise ValueError(f"ray_address {address!r}: give None (a local instance on this machine), 'auto' (the "
                         "cluster started with `ray start --head` here), 'host:port' or 'ray://host:10001'")
    return address.strip()


def init(address: str | None = None, *, num_cpus: int | None = None, temp_dir: str | None = None,
         log_to_driver: bool = True):
    """The ``ray`` module, connected to a cluster (see the module docstring); returns at
    once when this process is connected already. ``num_cpus`` and ``temp_dir`` apply to
    a local instance only (None: every core; Ray's default folder)."""
    address = check_address(address)
    ray = require()
    if ray.is_initialized():
        return ray
    if address is None:
        address = check_address(os.environ.get("RAY_ADDRESS") or None)
    if address is not None:
        if _is_loopback(address):  # a local instance of another process: stay on loopback as it does
            with _loopback(ray):
                ray.init(address=address, log_to_driver=log_to_driver)
        else:
            ray.init(address=address, log_to_driver=log_to_driver)
        return ray
    options: dict[str, Any] = {"include_dashboard": False, "log_to_driver": log_to_driver,
                               "_node_ip_address": "127.0.0.1"}
    if num_cpus is not None:
        options["num_cpus"] = int(num_cpus)
    if temp_dir is not None:
        options["_temp_dir"] = str(temp_dir)
    with _loopback(ray):
        ray.init(**options)
    return ray


def _is_loopback(address: str) -> bool:
    host = address.removeprefix("ray://").rsplit(":", 1)[0].strip("[]")
    return host in ("127.0.0.1", "localhost", "::1")


class _loopback:
    """Keep a local instance on 127.0.0.1: Ray on Linux resolves a loopback node address to
    the machine's outward address (to let other nodes join) unless its single-machine mode
    is on; switch that mode on while the instance starts."""

    def __init__(self, ray) -> None:
        try:
            from ray._private import ray_constants
        except ImportError:  # another layout: Ray's own default applies
            ray_constants = None
        self.constants = ray_constants

    def __enter__(self) -> None:
        c = self.constants
        self.saved = getattr(c, "ENABLE_RAY_CLUSTER", None) if c is not None else None
        if self.saved is not None:
            c.ENABLE_RAY_CLUSTER = False

    def __exit__(self, *exc) -> None:
        if self.saved is not None:
            self.constants.ENABLE_RAY_CLUSTER = self.saved


def address_of_connection() -> str | None:
    """The GCS address (``"host:port"``) of the cluster this process is connected to, or
    None when it is not connected (or Ray is not installed)."""
    try:
        import ray
    except ImportError:
        return None
    if not ray.is_initialized():
        return None
    return ray.get_runtime_context().gcs_address


__all__ = ["address_of_connection", "check_address", "init", "require"]

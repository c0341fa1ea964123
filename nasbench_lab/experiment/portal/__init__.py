"""The experiment web portal: a page and a JSON REST API modelled on NNI's manager.

``exp.start(port=8080)`` (also ``run``, ``Experiment.resume(id, port=...)`` and the
read-only ``Experiment.view(id, port=...)``) serves, on 127.0.0.1 unless told otherwise:

* ``/``: a single-page app in plain JavaScript with plotly.js (served from the installed
  ``plotly`` package: no CDN, works offline): overview (status, duration, counts, best so
  far, concurrency/max-trial/duration controls, stop), a sortable trial table with a
  detail view (intermediate metrics, the architecture drawn as a cell), a decisions view
  (parallel coordinates over ``space.decisions()``), the experiments list, and for
  one-shot searches the architecture weights over epochs;
* ``/api/v1/nni/...``: the REST API (:mod:`.api`); ``Experiment.connect(port)``
  (:mod:`.client`) drives a running experiment through it.

Security (:mod:`.api`): loopback by default; every mutating request carries the
experiment's token (``Authorization: Bearer <token>``; the token is printed with the URL
and kept owner-only in ``<folder>/portal.token``); read-only requests need none; a
viewed experiment refuses every mutation. Requests with another ``Host`` than the
loopback address are refused (DNS rebinding).
"""
from __future__ import annotations

from .client import PortalError, RemoteExperiment
from .server import Portal, bind, read_token, write_token

__all__ = ["Portal", "PortalError", "RemoteExperiment", "bind", "read_token", "write_token"]

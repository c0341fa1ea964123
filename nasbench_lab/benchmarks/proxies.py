"""Zero-cost proxies: score an untrained network from one minibatch, no training.

* **NASWOT** (Mellor et al. 2021, "Neural Architecture Search without Training"): run one
  minibatch of N inputs through the freshly initialised network (train mode, as the
  reference); at every activation layer record each unit's binary code ``pre-activation >
  0``; concatenated over layers this gives each input a code c_i of N_A bits. The kernel is
  ``K_ij = N_A - Hamming(c_i, c_j)`` and the score ``log|det K|`` (``slogdet``). ReLU is the
  paper's case; for the chains' Tanh, Sigmoid and LeakyReLU the same code (the side of the
  activation's centre a unit is on) is used. A network without activation layers scores
  ``-inf``, as does one mapping two inputs of the batch to the same code.
* **synflow** (Tanaka et al. 2020, "Pruning neural networks without any data by
  iteratively conserving synaptic flow"): all parameters and buffers replaced by their
  absolute values, float64, an all-ones input of batch size 1, R = sum of the output;
  score = sum over conv and linear weights of ``|theta * dR/dtheta|``. Batch norm runs in
  eval mode with its fresh running statistics (mean 0, variance 1), i.e. as the identity up
  to ``1/sqrt(1+eps)``; the reference implementation drops BN for synflow, which this
  matches up to that constant factor.

Inputs: cell spaces (NB101, NB201, DARTS) use a minibatch of the bundled digits (1x8x8; or
any ``data.Splits`` given as ``data=``); MLP chains use the HalfMoons training points.

``ProxyBenchmark(space, proxy="naswot")`` answers ``Metrics`` with the score in
``extra["score"]``; ``validation_accuracy`` and ``test_accuracy`` are NaN (a proxy is not
an accuracy), ``training_time`` is the wall time of scoring. Everything random (weights,
minibatch) flows from ``seed``.

>>> bench = ProxyBenchmark("nb201", proxy="naswot", batch_size=64, seed=0)  # doctest: +SKIP
>>> bench.query(cell).extra["score"]                                       # doctest: +SKIP
"""
from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from .base import Benchmark, Metrics

PROXIES = ("naswot", "synflow")


# ---------------------------------------------------------------------------------------
# the two scores, on a given network
# ---------------------------------------------------------------------------------------
def naswot_kernel(model, x):
    """The NASWOT kernel ``K = N_A - Hamming`` (float64 N x N tensor) of ``model`` on ``x``.

    >>> net = torch.nn.Sequential(torch.nn.Linear(2, 16), torch.nn.ReLU())  # doctest: +SKIP
    >>> naswot_kernel(net, torch.randn(8, 2)).diagonal()                     # doctest: +SKIP
    tensor([16., 16., 16., 16., 16., 16., 16., 16.], dtype=torch.float64)
    """
    import torch
    from torch import nn

    n = x.shape[0]
    kernel = torch.zeros(n, n, dtype=torch.float64)

    def hook(module, inputs, output):
        code = (inputs[0].detach().reshape(n, -1) > 0).float()
        # per layer in float32 (exact below 2**24 units), summed in float64
        k = code @ code.T + (1.0 - code) @ (1.0 - code).T
        kernel.add_(k.double().cpu())

    acts = (nn.ReLU, nn.LeakyReLU, nn.Tanh, nn.Sigmoid)
    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, acts)]
    try:
        model.train()
        with torch.no_grad():
            model(x)
    finally:
        for h in handles:
            h.remove()
    return kernel


def naswot_score(model, x) -> float:
    """NASWOT ``log|det K|`` of ``model`` on the minibatch ``x`` (N >= 2); ``-inf`` if singular.

    K has rank at most N_A + 1 (N_A activation units), so a batch larger than that always
    scores ``-inf``: tiny MLP chains need small batches.
    """
    import torch

    sign, logdet = torch.linalg.slogdet(naswot_kernel(model, x))
    return float(logdet) if float(sign) != 0 else -math.inf


def synflow_score(model, input_shape: Sequence[int]) -> float:
    """synflow of ``model`` for inputs of ``input_shape`` (one example, no batch axis).

    Modifies ``model`` (absolute values, float64): pass a fresh network.
    """
    import torch
    from torch import nn

    model = model.double().eval()
    with torch.no_grad():
        for t in model.state_dict().values():
            if t.is_floating_point():
                t.abs_()
    model.zero_grad(set_to_none=True)
    out = model(torch.ones(1, *input_shape, dtype=torch.float64))
    out.sum().backward()
    total = 0.0
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)) and m.weight.grad is not None:
                total += float((m.weight * m.weight.grad).abs().sum())
    return total


# ---------------------------------------------------------------------------------------
# scoring an architecture
# ---------------------------------------------------------------------------------------
def _moons_inputs() -> np.ndarray:
    from .moons import moons_data

    return moons_data()["x_train"]


#: default minibatch sizes: cell networks have thousands of units; chains at most 96
DEFAULT_BATCH = {"cells": 64, "mlp": 8}


def score(arch: Any, proxy: str = "naswot", batch_size: int | None = None, seed: int = 0,
          data=None, **sizes) -> tuple[float, int]:
    """``(score, parameters)`` of ``arch`` under ``proxy``, weights and batch from ``seed``.

    ``batch_size`` None: ``DEFAULT_BATCH`` (64 for cells, 8 for chains).
    ``data``: a ``data.Splits`` for cell spaces (default: the bundled digits); chains
    always use HalfMoons. ``sizes``: ``channels``, ``stages``, ``cells_per_stage`` of
    ``nasbench_lab.models.build_model``.
    """
    import torch

    from .data import cached_dataset
    from ..models import build_model, count_parameters, family

    if proxy not in PROXIES:
        raise KeyError(f"unknown proxy {proxy!r}; known: {', '.join(PROXIES)}")
    if family(arch) == "mlp":
        pool, num_classes, in_channels = _moons_inputs(), 2, None
        batch_size = DEFAULT_BATCH["mlp"] if batch_size is None else batch_size
    else:
        d = data if data is not None else cached_dataset("digits", None, 0)
        pool, num_classes, in_channels = d.x_train, d.num_classes, d.in_channels
        batch_size = DEFAULT_BATCH["cells"] if batch_size is None else batch_size
    if not 2 <= batch_size <= len(pool):
        raise ValueError(f"batch_size must be in 2..{len(pool)}, got {batch_size}")
    rng = np.random.default_rng(seed)
    x = torch.from_numpy(pool[rng.choice(len(pool), size=batch_size, replace=False)])
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        kwargs = {} if in_channels is None else dict(in_channels=in_channels, **sizes)
        model = build_model(arch, num_classes=num_classes, **kwargs)
    params = count_parameters(model)
    if proxy == "naswot":
        return naswot_score(model, x), params
    return synflow_score(model, tuple(x.shape[1:])), params


class ProxyBenchmark(Benchmark):
    """A zero-cost proxy as a Benchmark: ``query(arch).extra["score"]`` (see module docstring).

    Scores are memoised per arch key (a proxy has no noise for a fixed seed).

    >>> bench = ProxyBenchmark("mlp", proxy="synflow", seed=0)   # doctest: +SKIP
    >>> bench.query(chain).extra["score"]                         # doctest: +SKIP
    """

    has_test = False

    def __init__(self, space: Any, proxy: str = "naswot", batch_size: int | None = None,
                 seed: int = 0, data=None, **sizes):
        super().__init__()
        if isinstance(space, str):
            from .. import spaces

            space = spaces.get(space)
        if proxy not in PROXIES:
            raise KeyError(f"unknown proxy {proxy!r}; known: {', '.join(PROXIES)}")
        self.space, self.proxy = space, proxy
        self.batch_size, self.seed, self.data, self.sizes = batch_size, int(seed), data, sizes
        self.name = f"{proxy}-{getattr(space, 'name', 'space')}"
        self._memo: dict[str, tuple[float, int, float]] = {}

    def _lookup(self, archs: Sequence[Any], **options) -> Metrics:
        scores, params, times = [], [], []
        for arch in archs:
            key = self.key(arch)
            if key not in self._memo:
                t0 = time.perf_counter()
                s, p = score(arch, self.proxy, self.batch_size, self.seed, self.data, **self.sizes)
                self._memo[key] = (s, p, time.perf_counter() - t0)
            s, p, t = self._memo[key]
            scores.append(s), params.append(p), times.append(t)
        nan = np.full(len(archs), np.nan)
        return Metrics(validation_accuracy=nan, test_accuracy=nan.copy(),
                       training_time=np.asarray(times), parameters=np.asarray(params, dtype=float),
                       extra={"score": np.asarray(scores)})


# ---------------------------------------------------------------------------------------
# rank correlation against NAS-Bench-201
# ---------------------------------------------------------------------------------------
def nb201_table_path() -> Path:
    """The NAS-Bench-201 accuracy table (CSV) the catalogue finds here, or
    :class:`~.catalogue.BenchmarkNotFound` saying how to get it."""
    from . import catalogue

    p = catalogue.locate("nb201")
    if p is None or ".csv" not in p.name:
        p = catalogue.shared_path("nb201")
    if p is None:
        raise catalogue.BenchmarkNotFound(catalogue.missing_message("nb201") + "; or pass path= (a CSV table)")
    return p


def proxy_correlation(proxy: str = "naswot", n: int = 300, seed: int = 0, path=None,
                      target: str = "cifar10_test_200", batch_size: int | None = None, data=None,
                      **sizes):
    """Kendall tau between ``proxy`` and NAS-Bench-201 ``target`` on ``n`` sampled cells.

    Cells are drawn uniformly without replacement from the table with ``seed`` (which also
    seeds the proxy). A ``-inf`` NASWOT score (singular kernel: e.g. a cell whose output is
    always zero makes every input's code alike) takes part as the lowest rank. Returns ``(frame, tau)``; the frame has columns ``arch``, ``score``,
    ``target``, ``parameters``, ``seconds``.

    >>> frame, tau = proxy_correlation("naswot", n=300, seed=0)   # doctest: +SKIP
    """
    import pandas as pd
    from scipy.stats import kendalltau

    table = pd.read_csv(path or nb201_table_path(), usecols=["arch", target])
    rows = np.random.default_rng(seed).choice(len(table), size=min(n, len(table)), replace=False)
    out = []
    for r in rows:
        arch = table["arch"].iat[r]
        t0 = time.perf_counter()
        s, p = score(arch, proxy, batch_size, seed, data, **sizes)
        out.append((arch, s, float(table[target].iat[r]), p, time.perf_counter() - t0))
    frame = pd.DataFrame(out, columns=["arch", "score", "target", "parameters", "seconds"])
    known = ~np.isnan(frame["score"])  # -inf (a singular kernel) ranks last, as it should
    tau = float(kendalltau(frame["score"][known], frame["target"][known]).statistic)
    return frame, tau


__all__ = ["DEFAULT_BATCH", "PROXIES", "ProxyBenchmark", "naswot_kernel", "naswot_score", "proxy_correlation", "score",
           "synflow_score"]

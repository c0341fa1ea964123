"""One-shot (weight-sharing) architecture search on Lightning.

Five strategies (:func:`names`), one module each, all training a super-net of
:mod:`.supernet` with a manual-optimisation ``LightningModule`` (:mod:`.training`):

* ``darts``: softmax-weighted mixes, alternating Adam steps of alpha (validation) and
  SGD steps of the weights (training); first or second order (:mod:`.darts`);
* ``gumbel_darts``: GDAS, hard Gumbel-softmax samples, temperature 1.0 -> 0.33 (:mod:`.gumbel_darts`);
* ``enas``: an LSTM controller trained by REINFORCE on inherited-weight accuracy (:mod:`.enas`);
* ``random_one_shot``: SPOS, uniform path sampling, then random or evolutionary
  sub-network search scored by the super-net (:mod:`.random_one_shot`);
* ``proxyless``: binary gates on sampled paths, optional expected-cost penalty (:mod:`.proxyless`).

:func:`search` runs one of them on the NB201 or DARTS space and returns a
:class:`OneShotResult` (``arch``, per-epoch ``log``, the trained ``supernet``, ``config``).
The same seed gives the same export and log on a CPU; the caller's global torch RNG is
left as it was; with ``checkpoint_dir`` a stopped run resumes from its last epoch.

>>> from nasbench_lab import oneshot
>>> oneshot.names()
['darts', 'gumbel_darts', 'enas', 'random_one_shot', 'proxyless']
>>> r = oneshot.search("darts", "nb201", max_epochs=1, max_steps_per_epoch=2)   # doctest: +SKIP
>>> r.arch, r.supernet.evaluate(r.arch)                                          # doctest: +SKIP
"""
from __future__ import annotations

import dataclasses
import importlib
from pathlib import Path
from typing import Any

#: strategy name -> its module (each defines ``Config`` and ``Module``)
_STRATEGIES = {"darts": "darts", "gumbel_darts": "gumbel_darts", "enas": "enas",
               "random_one_shot": "random_one_shot", "proxyless": "proxyless"}
#: the spaces with a super-net (see ``supernet.SUPERNETS``)
_SPACES = ("nb201", "darts")


def names() -> list[str]:
    """The one-shot strategies, in a fixed order."""
    return list(_STRATEGIES)


@dataclasses.dataclass
class OneShotResult:
    """What :func:`search` returns."""

    name: str
    """the strategy"""
    arch: Any
    """the exported architecture (an ``nb201.Cell`` or ``darts.Genotype``)"""
    log: Any
    """pandas DataFrame, one row per epoch: epoch, train_loss, train_acc, val_acc and the
    architecture distribution (``alpha/<edge>/<op>``, ``policy/<decision>/<choice>``, ...)"""
    supernet: Any
    """the trained super-net (``supernet.evaluate(arch)``: inherited-weight accuracy)"""
    config: Any
    """the strategy's config dataclass"""
    supernet_config: Any
    """the super-net's config dataclass"""
    space: Any
    """the search space object"""
    seed: int = 0
    max_epochs: int = 0
    module: Any = None
    """the LightningModule (e.g. ``module.history`` of random_one_shot, ``module.controller`` of enas)"""


def strategy(name: str):
    """The module of one-shot strategy ``name`` (its ``Config`` dataclass and ``Module``)."""
    if name not in _STRATEGIES:
        raise ValueError(f"unknown one-shot strategy {name!r}; known: {', '.join(names())}")
    return importlib.import_module(f"{__name__}.{_STRATEGIES[name]}")


def resolve_space(space):
    """A cell space with a super-net: ``"nb201"``, ``"darts"`` or such a SearchSpace."""
    from .. import spaces
    from ..spaces.base import SearchSpace

    if isinstance(space, SearchSpace):
        return space
    if space not in _SPACES:
        raise ValueError(f"one-shot search: unknown space {space!r}; known: {', '.join(_SPACES)}")
    return spaces.get(space)


def prepare_data(data, path=None):
    """``data`` (a data set name such as ``"digits"``, or a ``Splits``) as image tensors
    ``(N, channels, side, side)``, the form the super-nets take."""
    import numpy as np

    from ..benchmarks.data import Splits, cached_dataset

    if isinstance(data, str):
        data = cached_dataset(data, path)
    if not isinstance(data, Splits):
        raise ValueError(f"data must be a data set name (e.g. 'digits') or a benchmarks.data.Splits, got {data!r}")
    if data.x_train.ndim == 2:  # flat images, e.g. 64 digits pixels: (N, 1, side, side)
        side = int(round(np.sqrt(data.x_train.shape[1])))
        shape = lambda a: np.asarray(a, dtype=np.float32).reshape(len(a), 1, side, side)  # noqa: E731
        data = dataclasses.replace(data, x_train=shape(data.x_train), x_val=shape(data.x_val),
                                   x_test=shape(data.x_test))
    return data


def _split_options(config_cls, net_config_cls, options: dict) -> tuple[dict, dict]:
    own = {f.name for f in dataclasses.fields(config_cls)}
    net = {f.name for f in dataclasses.fields(net_config_cls)} - {"num_classes", "in_channels"}
    unknown = sorted(set(options) - own - net)
    if unknown:
        raise ValueError(f"unknown options {unknown}; strategy options: {', '.join(sorted(own))}; "
                         f"super-net options: {', '.join(sorted(net))}")
    return ({k: v for k, v in options.items() if k in own},
            {k: v for k, v in options.items() if k in net})


def search(name: str, space: Any = "nb201", data: Any = "digits", max_epochs: int = 2, seed: int = 0,
           checkpoint_dir: str | Path | None = None, progress: bool = False, data_path: str | Path | None = None,
           on_epoch=None, **options) -> OneShotResult:
    """Run the one-shot strategy ``name`` on ``space`` and export an architecture.

    ``data``: ``"digits"`` (bundled), ``"cifar10"`` with ``data_path`` (the folder of the
    CIFAR-10 python batches, read by ``benchmarks.data.load_cifar10``), or a ``Splits``.
    ``options``: fields of the strategy's config (e.g. ``max_steps_per_epoch``,
    ``batch_size``, ``second_order``) or of the super-net's config (``channels``,
    ``cells_per_stage``, ...). ``checkpoint_dir``: write ``last.ckpt`` after every epoch
    and resume from it when it exists. ``on_epoch``: called with every new epoch's log row
    (a dict) as the search goes (not with the rows a resumed search restores). Torch's
    global RNG state is unchanged afterwards.
    """
    import pandas as pd
    import torch

    from ..device import torch_threads
    from .supernet import build_supernet, supernet_config_class
    from .training import fit

    method = strategy(name)
    space_obj = resolve_space(space)
    d = prepare_data(data, data_path)
    net_cfg_cls = supernet_config_class(space_obj)
    own, net = _split_options(method.Config, net_cfg_cls, options)
    config = method.Config(**own)
    devices = list(range(torch.cuda.device_count())) if torch.cuda.is_available() else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(int(seed))
        supernet = build_supernet(space_obj, net_cfg_cls(**net), data=d)
        module = method.Module(supernet, config, seed=int(seed))
        module.on_epoch = on_epoch
        fit(module, d, max_epochs, checkpoint_dir=checkpoint_dir, progress=progress)
        with torch_threads(config.threads):
            arch = module.export()
    return OneShotResult(name=name, arch=space_obj.validate(arch), log=pd.DataFrame(module.rows),
                         supernet=supernet, config=config, supernet_config=supernet.config,
                         space=space_obj, seed=int(seed), max_epochs=int(max_epochs), module=module)


__all__ = ["OneShotResult", "names", "search", "strategy", "resolve_space", "prepare_data"]

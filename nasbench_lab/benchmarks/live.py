"""Live training evaluators: train a cell network on real data, cache every result.

* ``TrainerConfig``: how a NAS-Bench-101 / NAS-Bench-201 / DARTS cell is trained (data set,
  budget, optimiser, network size); its ``digest()`` keys the cache.
* ``train_cell(arch, config, seed)``: one training run with Lightning
  (``accelerator="auto"``: the GPU when present), no logger, no checkpoint, quiet; the
  network's initial weights and the minibatch order come from ``seed`` only.
* ``LiveBenchmark(space, config, seeds=(0, 1, 2))``: a Benchmark whose query trains the
  architecture once per seed (or reads the result from the SQLite ``ResultStore``, keyed by
  arch key, seed and config digest) and answers the seed mean of validation accuracy (the
  denoised setting). Each finished (arch, seed) is committed at once, so an interrupted
  run loses at most the training in progress. The fetch/train/average rule is
  ``benchmarks.trained.TrainedBenchmark``, shared with ``benchmarks.moons.MoonsTrainer``
  (HalfMoons MLP chains; re-exported here); ``benchmarks.load("live:nb201")`` builds one.

The default budget (digits, 3 epochs of 17 minibatches of 64, small networks) trains a cell
in a few seconds on a CPU; CIFAR-10 works through ``TrainerConfig(dataset="cifar10",
data_path=...)`` with the same builders.

>>> bench = LiveBenchmark(spaces.get("nb201"), TrainerConfig(epochs=2), seeds=(0, 1))  # doctest: +SKIP
>>> m = bench.query(arch)                                                              # doctest: +SKIP
>>> m.validation_accuracy, m.extra["validation_per_seed"]                             # doctest: +SKIP
"""
from __future__ import annotations

import contextlib
import dataclasses
import functools
import importlib
import logging
import math
import time
import warnings
from typing import Any, Sequence

from .store import ResultStore, config_hash
from .trained import TrainedBenchmark
from ..device import torch_threads

# ---------------------------------------------------------------------------------------
# configuration
# ---------------------------------------------------------------------------------------
_NOT_IN_KEY = ("accelerator", "data_path", "threads")


@dataclasses.dataclass(frozen=True)
class TrainerConfig:
    """How a cell network is trained; every field but accelerator/data_path/threads keys the cache."""

    dataset: str = "digits"
    """``"digits"`` (bundled) or ``"cifar10"`` (needs ``data_path``)"""
    data_path: str | None = None
    """folder of the CIFAR-10 python batches (unused for digits)"""
    data_seed: int = 0
    """seed of the train/validation/test split"""
    epochs: int = 3
    """passes over the training split"""
    max_steps: int = -1
    """stop after this many optimiser steps (-1: no limit; for tiny test budgets)"""
    batch_size: int = 64
    """minibatch size"""
    lr: float = 0.01
    """Adam learning rate (cosine-annealed to 0 over the run)"""
    weight_decay: float = 1e-4
    """decoupled weight decay (AdamW)"""
    channels: int | None = None
    """first-stage width; None: the family default of ``models.DEFAULT_SIZES``"""
    stages: int | None = None
    """resolution stages; None: family default (3)"""
    cells_per_stage: int | None = None
    """cells per stage; None: family default (1)"""
    accelerator: str = "auto"
    """Lightning accelerator: ``"auto"`` (GPU when present), ``"cpu"``, ``"gpu"``"""
    threads: int | None = None
    """CPU threads for torch during a run (None: leave torch's setting); 1 is fastest on a
    loaded machine or with one process per core"""

    def digest(self) -> str:
        """Stable 16-hex hash of the fields that change results."""
        fields = {k: v for k, v in dataclasses.asdict(self).items() if k not in _NOT_IN_KEY}
        return config_hash({"trainer": "cells-v1", **fields})


@dataclasses.dataclass(frozen=True)
class TrainResult:
    """One training run of one architecture with one seed."""

    validation_accuracy: float
    test_accuracy: float
    training_time: float
    """wall seconds of the optimisation (evaluation excluded)"""
    parameters: int
    steps: int
    losses: tuple[float, ...] = ()
    """training loss of every optimiser step"""

    def record(self) -> dict:
        """The dict kept in the result store (losses: first and last only)."""
        d = dataclasses.asdict(self)
        losses = d.pop("losses")
        d["first_loss"] = losses[0] if losses else math.nan
        d["final_loss"] = losses[-1] if losses else math.nan
        return d


# ---------------------------------------------------------------------------------------
# the Lightning module and one training run
# ---------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=1)
def _module_class():
    import lightning.pytorch as pl
    import torch
    import torch.nn.functional as F

    class CellClassifier(pl.LightningModule):
        """Cross-entropy training of ``net``; evaluates validation/test at the end of fit."""

        def __init__(self, net, config: TrainerConfig, total_steps: int, eval_sets):
            super().__init__()
            self.net = net
            self.config = config
            self.total_steps = max(int(total_steps), 1)
            self.eval_sets = eval_sets
            self.losses: list = []
            self.accuracies: dict[str, float] = {}
            self.train_seconds = math.nan

        def forward(self, x):
            return self.net(x)

        def training_step(self, batch, batch_idx):
            x, y = batch
            loss = F.cross_entropy(self.net(x), y)
            self.losses.append(loss.detach())
            return loss

        def configure_optimizers(self):
            opt = torch.optim.AdamW(self.net.parameters(), lr=self.config.lr,
                                    weight_decay=self.config.weight_decay)
            sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=self.total_steps)
            return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}

        def on_train_start(self):
            self._t0 = time.perf_counter()

        def on_train_end(self):
            if self.device.type == "cuda":
                torch.cuda.synchronize(self.device)
            self.train_seconds = time.perf_counter() - self._t0

        @torch.no_grad()
        def on_fit_end(self):  # still on the training device here
            self.net.eval()
            for name, (x, y) in self.eval_sets.items():
                correct = 0
                for i in range(0, len(x), 1024):
                    xb = torch.as_tensor(x[i:i + 1024], device=self.device)
                    pred = self.net(xb).argmax(dim=1).cpu().numpy()
                    correct += int((pred == y[i:i + 1024]).sum())
                self.accuracies[name] = correct / len(x)

    return CellClassifier


@contextlib.contextmanager
def _quiet():
    """Silence Lightning's banners and hints for the duration of a fit."""
    loggers = [logging.getLogger(n) for n in ("lightning.pytorch", "lightning.fabric", "lightning")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", module="lightning")
            warnings.filterwarnings("ignore", message=".*does not have many workers.*")
            yield
    finally:
        for lg, lv in zip(loggers, levels):
            lg.setLevel(lv)


def train_cell(arch: Any, config: TrainerConfig = TrainerConfig(), seed: int = 0,
               data=None) -> TrainResult:
    """Train the network of ``arch`` once and evaluate it (see the module docstring).

    ``data`` (a ``data.Splits``) overrides ``config.dataset``. Torch's global RNG is left
    as it was: the weights are drawn inside ``torch.random.fork_rng``.

    >>> r = train_cell(nb201_cell, TrainerConfig(epochs=1), seed=0)   # doctest: +SKIP
    >>> r.validation_accuracy, r.training_time                         # doctest: +SKIP
    """
    import lightning.pytorch as pl
    import torch

    from .data import cached_dataset
    from ..models import build_model, count_parameters

    d = data if data is not None else cached_dataset(config.dataset, config.data_path, config.data_seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        net = build_model(arch, num_classes=d.num_classes, in_channels=d.in_channels,
                          channels=config.channels, stages=config.stages,
                          cells_per_stage=config.cells_per_stage)
    params = count_parameters(net)
    train = torch.utils.data.TensorDataset(torch.from_numpy(d.x_train), torch.from_numpy(d.y_train))
    loader = torch.utils.data.DataLoader(train, batch_size=config.batch_size, shuffle=True,
                                         generator=torch.Generator().manual_seed(int(seed)))
    steps = config.epochs * len(loader)
    if config.max_steps >= 0:
        steps = min(steps, config.max_steps)
    module = _module_class()(net, config, steps,
                             {"validation": (d.x_val, d.y_val), "test": (d.x_test, d.y_test)})
    with _quiet(), torch_threads(config.threads):
        trainer = pl.Trainer(accelerator=config.accelerator, devices=1, max_epochs=config.epochs,
                             max_steps=config.max_steps, logger=False, enable_checkpointing=False,
                             enable_progress_bar=False, enable_model_summary=False,
                             num_sanity_val_steps=0, limit_val_batches=0)
        trainer.fit(module, train_dataloaders=loader)
    losses = tuple(float(v) for v in torch.stack(module.losses).cpu()) if module.losses else ()
    return TrainResult(validation_accuracy=module.accuracies["validation"],
                       test_accuracy=module.accuracies["test"],
                       training_time=float(module.train_seconds), parameters=params,
                       steps=len(losses), losses=losses)


# ---------------------------------------------------------------------------------------
# the benchmark
# ---------------------------------------------------------------------------------------
class LiveBenchmark(TrainedBenchmark):
    """Train on demand, several seeds, cached in a ``ResultStore`` (see the module docstring).

    ``space``: a SearchSpace or its name (anything with ``.key(arch)`` and ``.name``).
    ``store``: a ``ResultStore``, a path to one, or None for the default
    ``data/cache/live_results.sqlite``. Fetching, training the missing seeds one at a time
    (each committed at once), averaging and ``trained`` are
    :class:`~.trained.TrainedBenchmark`'s.

    ``Metrics``: validation/test accuracy = seed means; ``training_time`` = mean seconds of
    one training run; ``parameters``; ``extra``: ``validation_per_seed``,
    ``test_per_seed`` (arrays over ``seeds``) and ``cached`` (seeds read from the store).

    >>> bench = LiveBenchmark("nb201", TrainerConfig(epochs=1), seeds=(0, 1))  # doctest: +SKIP
    >>> bench.query(cell).validation_accuracy                                  # doctest: +SKIP
    """

    def __init__(self, space: Any, trainer_config: TrainerConfig | None = None,
                 seeds: Sequence[int] = (0,), store: ResultStore | str | None = None):
        config = trainer_config or TrainerConfig()
        super().__init__(seeds, config.digest(), store)
        if isinstance(space, str):
            from .. import spaces

            space = spaces.get(space)
        self.space = space
        self.config = config
        self.name = f"live-{getattr(space, 'name', 'space')}"

    def _train(self, arch: Any, seeds: list[int]):
        for seed in seeds:  # one run at a time: each is committed as soon as it ends
            yield [(seed, train_cell(arch, self.config, seed).record())]

    def run(self, arch: Any, seed: int) -> dict:
        """The stored record of ``(arch, seed)``, training (and committing) it if absent."""
        return self.records(arch, (seed,))[0]


def __getattr__(name: str):
    if name in {"MoonsTrainer", "MoonsConfig"}:
        return getattr(importlib.import_module(f"{__package__}.moons"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["LiveBenchmark", "MoonsTrainer", "TrainResult", "TrainerConfig", "train_cell"]

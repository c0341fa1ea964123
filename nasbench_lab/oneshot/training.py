"""The Lightning scaffolding shared by the one-shot strategies.

* :class:`OneShotConfig`: the training settings every strategy has (batch size, steps per
  epoch, the weight optimiser, device, threads).
* :class:`EpochBatches`: the sampler of paired (training, validation) minibatches. Epoch
  ``e`` is a pure function of ``(seed, e)`` (Lightning calls ``set_epoch``), so a run
  resumed from a checkpoint sees the same batches as an uninterrupted one.
* :class:`OneShotModule`: a ``LightningModule`` with manual optimisation
  (``automatic_optimization = False``). It holds the super-net, one explicit CPU
  ``torch.Generator`` for every random choice of the search (paths, Gumbel noise,
  controller samples), and the per-epoch log; generator state and log go into every
  checkpoint (``on_save_checkpoint`` / ``on_load_checkpoint``).
* :func:`fit`: one quiet ``lightning.pytorch.Trainer(accelerator=..., devices=1,
  logger=False)`` run; with a ``checkpoint_dir`` a ``ModelCheckpoint`` writes
  ``last.ckpt`` after every epoch and a later call resumes from it (``ckpt_path="last"``).

Seeding (done by ``oneshot.search``): the super-net and strategy are built inside
``torch.random.fork_rng()`` after ``torch.manual_seed(seed)`` and the fit runs inside the
same fork, so the caller's global torch RNG state is never changed; nothing in the
search draws from the global RNG (the batches come from numpy generators seeded by
``(seed, epoch)``, the rest from the module's generator), which is why a resumed run
matches an uninterrupted one.
"""
from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import numpy as np
import torch
import torch.nn.functional as F

from ..benchmarks.live import _quiet
from ..device import torch_threads
from .supernet import SuperNet


@dataclasses.dataclass
class OneShotConfig:
    """Training settings shared by every one-shot strategy."""

    batch_size: int = 64
    """minibatch size of the training and the validation batches"""
    max_steps_per_epoch: int = 4
    """search steps per epoch (each: one training and one validation batch); <= 0: a full
    pass over the training split"""
    lr: float = 0.025
    """SGD learning rate of the shared weights (constant: a resumed run needs no schedule)"""
    momentum: float = 0.9
    """SGD momentum of the shared weights"""
    weight_decay: float = 3e-4
    """SGD weight decay of the shared weights"""
    grad_clip: float = 5.0
    """gradient-norm clip of the shared weights (<= 0: none)"""
    param_free_dropout: float = 0.0
    """operation-level dropout on the outputs of parameter-free candidates (skip, pooling)
    in the search's training passes, P-DARTS's regularisation against collapse (0: off)"""
    accelerator: str = "auto"
    """Lightning accelerator: "auto" (the GPU when present), "cpu", "gpu\""""
    threads: int | None = 1
    """torch CPU threads during the run (None: leave torch's setting)"""

    def __post_init__(self) -> None:
        if not 0.0 <= float(self.param_free_dropout) < 1.0:
            raise ValueError(f"param_free_dropout must be in [0, 1), got {self.param_free_dropout}")


class EpochBatches(torch.utils.data.Sampler):
    """Per step a pair of index arrays (training batch, validation batch), epoch-seeded.

    >>> s = EpochBatches(100, 30, batch_size=8, steps=3, seed=0)
    >>> s.set_epoch(1); a = [t.tolist() for t, _ in s]; s.set_epoch(1)
    >>> a == [t.tolist() for t, _ in s], len(s)
    (True, 3)
    """

    def __init__(self, n_train: int, n_val: int, batch_size: int, steps: int, seed: int):
        self.n_train, self.n_val, self.batch_size = int(n_train), int(n_val), int(batch_size)
        full = max(self.n_train // self.batch_size, 1)
        self.steps = full if steps <= 0 else min(int(steps), full)
        self.seed, self.epoch = int(seed), 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return self.steps

    def __iter__(self):
        rng = np.random.default_rng([self.seed, self.epoch])
        tr, va = rng.permutation(self.n_train), rng.permutation(self.n_val)
        b = np.arange(self.batch_size)
        for k in range(self.steps):
            yield tr[(k * self.batch_size + b) % self.n_train], va[(k * self.batch_size + b) % self.n_val]


class PairedSplits(torch.utils.data.Dataset):
    """``dataset[(train_idx, val_idx)]`` = (x_train, y_train, x_val, y_val) tensors."""

    def __init__(self, data):
        self.t = [torch.from_numpy(np.ascontiguousarray(a)) for a in
                  (data.x_train, data.y_train, data.x_val, data.y_val)]

    def __len__(self) -> int:
        return len(self.t[0])

    def __getitem__(self, item):
        ti, vi = (torch.as_tensor(i) for i in item)
        return self.t[0][ti], self.t[1][ti], self.t[2][vi], self.t[3][vi]


class OneShotModule(pl.LightningModule):
    """Base of the strategies: weight step, per-epoch log, generator in the checkpoint.

    Subclasses implement ``configure_optimizers`` (the weight optimiser first, from
    :meth:`weight_optimizer`), ``search_step(x, y, x_val, y_val) -> (loss, accuracy)``
    and ``current_arch()``; they may override ``arch_weights()``, ``epoch_val_accuracy()``
    and ``export()``, and add state to the checkpoint through ``extra_state``.
    """

    def __init__(self, supernet: SuperNet, config: OneShotConfig, seed: int = 0):
        super().__init__()
        self.automatic_optimization = False
        self.supernet = supernet
        self.config = config
        self.seed = int(seed)
        self.generator = torch.Generator().manual_seed(self.seed)
        self.rows: list[dict[str, Any]] = []
        self._stats: list[tuple[float, float]] = []
        #: called with each new epoch's log row (not with rows restored from a checkpoint)
        self.on_epoch: Any = None

    # -- the shared weight step ---------------------------------------------------------
    def weight_optimizer(self) -> torch.optim.Optimizer:
        c = self.config
        return torch.optim.SGD(self.supernet.weight_parameters(), lr=c.lr, momentum=c.momentum,
                               weight_decay=c.weight_decay)

    def weight_step(self, x, y, mode: str, arch: Any = None, tau: float = 1.0) -> tuple[float, float]:
        """One optimiser step of the weights on (x, y) with the super-net in ``mode``."""
        opt = self.optimizers()[0] if isinstance(self.optimizers(), list) else self.optimizers()
        opt.zero_grad()
        with self.supernet.use(mode, arch=arch, tau=tau, generator=self.generator,
                               drop=self.config.param_free_dropout):
            logits = self.supernet(x)
        loss = F.cross_entropy(logits, y)
        self.manual_backward(loss)
        if self.config.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(self.supernet.weight_parameters(), self.config.grad_clip)
        opt.step()
        return float(loss.detach()), float((logits.argmax(dim=1) == y).float().mean())

    def training_step(self, batch, batch_idx):
        x, y, xv, yv = batch
        self._stats.append(self.search_step(x, y, xv, yv))

    def search_step(self, x, y, xv, yv) -> tuple[float, float]:  # pragma: no cover - abstract
        raise NotImplementedError

    # -- per-epoch log --------------------------------------------------------------------
    def current_arch(self) -> Any:
        """The architecture the search would export now."""
        return self.supernet.export()

    def export(self) -> Any:
        """The final architecture (after the fit)."""
        return self.current_arch()

    def arch_weights(self) -> dict[str, float]:
        """Log columns of the architecture distribution (default: softmax(alpha) per edge)."""
        return self.supernet.arch_weights()

    def epoch_val_accuracy(self) -> float:
        """Inherited-weight validation accuracy of :meth:`current_arch`."""
        return self.supernet.evaluate(self.current_arch(), "val")

    def on_train_epoch_start(self) -> None:
        self._stats = []

    def on_train_epoch_end(self) -> None:
        loss = float(np.mean([s[0] for s in self._stats])) if self._stats else math.nan
        acc = float(np.mean([s[1] for s in self._stats])) if self._stats else math.nan
        self.rows.append({"epoch": int(self.current_epoch) + 1, "train_loss": loss, "train_acc": acc,
                          "val_acc": float(self.epoch_val_accuracy()), **self.arch_weights()})
        if self.on_epoch is not None:
            self.on_epoch(dict(self.rows[-1]))

    # -- checkpoint state -----------------------------------------------------------------
    def extra_state(self) -> dict[str, Any]:
        """Strategy state that is neither a parameter nor a buffer (saved with the checkpoint)."""
        return {}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        pass

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        checkpoint["oneshot"] = {"generator": self.generator.get_state(), "rows": list(self.rows),
                                 "extra": self.extra_state()}

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        state = checkpoint["oneshot"]
        self.generator.set_state(state["generator"])
        self.rows = list(state["rows"])
        self.load_extra_state(state["extra"])


def fit(module: OneShotModule, data, max_epochs: int, checkpoint_dir: str | Path | None = None,
        progress: bool = False) -> pl.Trainer:
    """Train ``module`` on ``data`` (a Splits) for ``max_epochs``, resuming from
    ``checkpoint_dir/last.ckpt`` when present (see the module docstring)."""
    c = module.config
    sampler = EpochBatches(len(data.x_train), len(data.x_val), c.batch_size, c.max_steps_per_epoch,
                           module.seed)
    loader = torch.utils.data.DataLoader(PairedSplits(data), sampler=sampler, batch_size=None)
    callbacks, ckpt_path = [], None
    if checkpoint_dir is not None:
        from lightning.pytorch.callbacks import ModelCheckpoint

        d = Path(checkpoint_dir)
        d.mkdir(parents=True, exist_ok=True)
        callbacks.append(ModelCheckpoint(dirpath=d, save_last=True, save_top_k=1, every_n_epochs=1,
                                         save_on_train_epoch_end=True))
        ckpt_path = "last" if (d / "last.ckpt").exists() else None
    with _quiet(), torch_threads(c.threads):
        trainer = pl.Trainer(accelerator=c.accelerator, devices=1, max_epochs=int(max_epochs),
                             logger=False, enable_checkpointing=checkpoint_dir is not None,
                             callbacks=callbacks, enable_progress_bar=bool(progress),
                             enable_model_summary=False, num_sanity_val_steps=0,
                             limit_val_batches=0)
        trainer.fit(module, train_dataloaders=loader, ckpt_path=ckpt_path)
    return trainer


__all__ = ["OneShotConfig", "OneShotModule", "EpochBatches", "PairedSplits", "fit"]

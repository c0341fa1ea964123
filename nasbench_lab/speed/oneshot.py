"""``nasbench-lab bench oneshot``: super-net training steps/s, against stand-alone training.

For every one-shot strategy on NB201 (and DARTS, first order, on the DARTS space) the
super-net of ``oneshot.search``'s default size is built and trained with the strategy's
module through ``oneshot.training.fit`` for a few epochs of a fixed number of search steps;
each epoch's steps are timed (from the epoch start to the epoch end, before the end-of-epoch
evaluation) and the first epoch (warm-up) is dropped: steps/s is the steps of an epoch
over the median epoch time. One search step is one training and (for all but SPOS) one
validation batch, as in the searches.

Against it: ``quality.standalone`` trains a few uniform cells of each space (NB201 cells,
DARTS genotypes) stand-alone with the default ``TrainerConfig(threads=1)`` (3 epochs of
digits) into a temporary store; its seconds per cell are what a ranking study pays per
architecture. The speed-up rows are
what weight sharing buys: training one stand-alone cell per architecture for ``K``
architectures against one super-net trained for the same number of optimiser steps as one
stand-alone training. With CUDA present the peak GPU memory of each NB201 strategy
(``torch.cuda.max_memory_allocated``) is reported too.
"""
from __future__ import annotations

import statistics
import tempfile
import time

from . import Row

#: architectures a ranking study trains stand-alone (the speed-up rows scale with it)
RANKED = 100


def _timed_fit(name: str, space: str, steps: int, epochs: int, accelerator: str = "cpu",
               batch_size: int = 64) -> tuple[float, object]:
    """Median seconds of the ``steps`` search steps of an epoch (first epoch dropped) of
    strategy ``name`` on ``space``, and the module."""
    import torch

    from .. import oneshot
    from ..oneshot.supernet import build_supernet, supernet_config_class
    from ..oneshot.training import fit

    space_obj = oneshot.resolve_space(space)
    data = oneshot.prepare_data("digits")
    strategy = oneshot.strategy(name)
    cuda = accelerator != "cpu" and torch.cuda.is_available()
    devices = [torch.cuda.current_device()] if cuda else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(0)
        net = build_supernet(space_obj, supernet_config_class(space_obj)(), data=data)
        config = strategy.Config(max_steps_per_epoch=steps, batch_size=batch_size,
                                 accelerator="gpu" if cuda else "cpu", threads=1)
        module = strategy.Module(net, config, seed=0)
        times: list[float] = []
        start = module.on_train_epoch_start
        end = module.on_train_epoch_end

        def epoch_start():
            if cuda:
                torch.cuda.synchronize()
            module._bench_t0 = time.perf_counter()
            start()

        def epoch_end():
            if cuda:
                torch.cuda.synchronize()
            times.append(time.perf_counter() - module._bench_t0)
            end()

        # Lightning calls the hooks by attribute, so instance attributes time each epoch
        module.on_train_epoch_start = epoch_start
        module.on_train_epoch_end = epoch_end
        fit(module, data, epochs)
    timed = times[1:] if len(times) > 1 else times
    return statistics.median(timed), module


def _standalone_seconds(space_name: str, n_cells: int) -> tuple[float, float, int]:
    """(median seconds per stand-alone cell of ``space_name``, its optimiser steps, cells)
    with the default ``TrainerConfig(threads=1)``, trained into a temporary store."""
    import math

    from .. import spaces
    from ..benchmarks.data import cached_dataset
    from ..benchmarks.live import TrainerConfig
    from ..oneshot import quality

    space = spaces.get(space_name)
    cells = quality.ground_truth_cells(space, n_cells, seed=0)
    trainer = TrainerConfig(threads=1)
    with tempfile.TemporaryDirectory() as tmp:
        res = quality.standalone(cells, space, trainer=trainer, store=f"{tmp}/standalone.sqlite")
    n_train = len(cached_dataset(trainer.dataset).x_train)
    steps = trainer.epochs * math.ceil(n_train / trainer.batch_size)
    if trainer.max_steps > 0:
        steps = min(steps, trainer.max_steps)
    return float(statistics.median(res["seconds"])), float(steps), len(cells)


def oneshot_speed(quick: bool) -> list[Row]:
    import torch

    from .. import oneshot

    steps, epochs = (4, 3) if quick else (16, 5)
    n_cells = 2 if quick else 5
    rows: list[Row] = []
    standalone = {}
    for space in ("nb201", "darts"):
        per_cell, cell_steps, n = standalone[space] = _standalone_seconds(space, n_cells)
        rows.append((f"stand-alone {space} cell, TrainerConfig(threads=1)", per_cell, "s/cell",
                     f"median of {n} uniform cells, {int(cell_steps)} optimiser steps each (3 epochs of digits)"))
        rows.append((f"stand-alone {space} training, optimiser steps per second", cell_steps / per_cell,
                     "steps/s", "one cell network, the live trainer"))
    plans = [(name, "nb201") for name in oneshot.names()] + [("darts", "darts")]
    for name, space in plans:
        # the DARTS super-net runs 8 ops on 28 edges per step: fewer steps in a quick run
        s, e = (2, 2) if (quick and space == "darts") else (steps, epochs)
        t, _ = _timed_fit(name, space, s, e)
        rate = s / t
        rows.append((f"{name} super-net on {space}, search steps/s", rate, "steps/s",
                     f"median of {max(e - 1, 1)} epochs x {s} steps, batch 64, 1 thread, CPU"))
        # one super-net trained for as many steps as one stand-alone cell of its space,
        # against RANKED cells of that space trained stand-alone
        per_cell, cell_steps, _ = standalone[space]
        supernet_s = cell_steps / rate
        rows.append((f"  speed-up vs {RANKED} stand-alone {space} cells",
                     RANKED * per_cell / supernet_s, "x",
                     f"{RANKED} x {per_cell:.2f} s vs {supernet_s:.2f} s of super-net training "
                     f"({int(cell_steps)} steps)"))
    if torch.cuda.is_available():
        for name in oneshot.names():
            torch.cuda.reset_peak_memory_stats()
            base = torch.cuda.memory_allocated()
            t, module = _timed_fit(name, "nb201", steps, epochs, accelerator="gpu")
            peak = torch.cuda.max_memory_allocated() - base
            rows.append((f"{name} super-net on nb201, GPU", steps / t, "steps/s",
                         f"{torch.cuda.get_device_name()}, batch 64"))
            rows.append((f"  peak GPU memory ({name})", peak / 2 ** 20, "MiB", "torch.cuda.max_memory_allocated"))
            del module
            torch.cuda.empty_cache()
    else:
        rows.append(("GPU memory", float("nan"), "MiB", "no CUDA device: not measured"))
    return rows


SECTIONS = {"oneshot": oneshot_speed}

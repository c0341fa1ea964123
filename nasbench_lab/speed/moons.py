"""Speed of the HalfMoons trainer, of NAS-Bench-Moons lookups and of REINFORCE on it.

* ``moons-trainer``: networks trained per second (8-8-8 ReLU chain, the benchmark's
  200 full-batch Adam steps, one thread): the reference (a plain ``nn.Sequential`` +
  ``torch.optim.Adam`` loop), the project's engine on one network, on the three seeds of
  a chain in one batch (the live trainer), and on a whole width group (all 64 activation
  patterns x 3 seeds, as ``nasbench-lab build moons`` does); ratios against the reference.
* ``moons-table``: load time of the bundled table, single queries/s, batched rows/s.
* ``reinforce``: controller rollouts/s on NAS-Bench-Moons (ask + query + tell through
  the one runner, ``experiment.run``).
"""
from __future__ import annotations

import itertools

from . import median_time


def _reference_training(chain, seed: int, config) -> float:
    """A plain loop: ``models.build_model(chain)``, cross-entropy, Adam; the same budget and data."""
    import torch
    import torch.nn.functional as F

    from ..benchmarks.moons import moons_data
    from ..models import build_model

    d = moons_data(config)
    x, y = torch.from_numpy(d["x_train"]), torch.from_numpy(d["y_train"])
    torch.manual_seed(seed)  # the reference only: the project's trainer uses its own generator
    model = build_model(chain)
    opt = torch.optim.Adam(model.parameters(), lr=config.lr)
    for _ in range(config.steps):
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
    with torch.no_grad():
        return float((model(torch.from_numpy(d["x_val"])).argmax(1) == torch.from_numpy(d["y_val"])).float().mean())


def _trainer(quick: bool):
    from ..benchmarks.moons import MoonsConfig, train_batch
    from ..spaces.mlp import ACTIVATIONS
    from ..device import torch_threads

    config = MoonsConfig()  # the benchmark's own budget (200 full-batch Adam steps)
    widths = (8, 8, 8)
    repeat = 1 if quick else 3
    rows = []
    from ..spaces.mlp import Chain

    chain = Chain(tuple((w, "ReLU") for w in widths))
    with torch_threads(1):
        train_batch(widths, [("ReLU",) * 3], [0], config)  # warm up
        ref = median_time(lambda: _reference_training(chain, 0, config), repeat=repeat)
        one = median_time(lambda: train_batch(widths, [("ReLU",) * 3], [0], config), repeat=repeat)
        three = median_time(lambda: train_batch(widths, [("ReLU",) * 3] * 3, [0, 1, 2], config), repeat=repeat)
        patterns = list(itertools.product(ACTIVATIONS, repeat=3))
        if quick:
            patterns = patterns[:16]
        acts = [p for p in patterns for _ in range(3)]
        seeds = [s for _ in patterns for s in range(3)]
        group = median_time(lambda: train_batch(widths, acts, seeds, config), repeat=1 if quick else 2)
    n_group = len(acts)
    rows.append(("reference: nn.Sequential + torch Adam loop", 1 / ref, "nets/s", f"{ref * 1e3:.0f} ms per network, 1 thread"))
    rows.append(("8-8-8 chain, one network at a time", 1 / one, "nets/s", f"x{ref / one:.1f} vs reference"))
    rows.append(("8-8-8 chain, 3 seeds in one batch", 3 / three, "nets/s", f"x{ref * 3 / three:.1f} vs reference"))
    rows.append((f"8-8-8 width group, {n_group} nets in one batch", n_group / group, "nets/s",
                 f"x{ref * n_group / group:.1f} vs reference"))
    return rows


def _table(quick: bool):
    import numpy as np

    from ..benchmarks import moons

    load_s = median_time(lambda: moons.load(), repeat=2 if quick else 5)
    bench = moons.load()
    rng = np.random.default_rng(0)
    archs = [bench.arch(int(i)) for i in rng.integers(len(bench), size=2000)]
    keys = bench.keys[rng.integers(len(bench), size=100_000)]
    single = median_time(lambda: [bench.query(a) for a in archs], repeat=3)
    batched = median_time(lambda: bench.query_batch(keys), repeat=3)
    return [
        ("NAS-Bench-Moons load (8,421 rows)", load_s * 1e3, "ms", "csv.gz + enumeration-order check"),
        ("single query(Chain)", len(archs) / single, "queries/s", ""),
        ("query_batch(np.ndarray of keys)", len(keys) / batched, "rows/s", "100,000 keys"),
    ]


def _reinforce(quick: bool):
    from ..benchmarks import moons
    from ..experiment.runner import run
    from ..strategies.reinforce import Reinforce

    bench = moons.load()
    n = 300 if quick else 2000
    t = median_time(lambda: run(Reinforce(bench.space, seed=0), bench, n), repeat=1 if quick else 3)
    return [("REINFORCE on NAS-Bench-Moons (experiment.run: ask+query+tell)", n / t, "rollouts/s",
             f"batch 10, {n} rollouts")]


SECTIONS = {"moons-trainer": _trainer, "moons-table": _table, "reinforce": _reinforce}

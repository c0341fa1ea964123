"""HalfMoons: the live ``MoonsTrainer`` and the bundled tabular NAS-Bench-Moons.

The data are scikit-learn's ``make_moons(1000, noise=0.2)`` with a fixed seed, split
once (seeded) into 600 training, 200 validation and 200 test points and standardised
with the training statistics. A chain (``spaces.mlp.Chain``) is trained full-batch with
Adam on the cross-entropy for a fixed number of steps; validation and test accuracy
are read at the end.

Speed: networks sharing their layer widths are trained *together*: their weights are
stacked along a batch dimension (``torch.baddbmm``), the activation of each member is
applied to its own slice, and one Adam step updates all members. Adam is elementwise
and the summed loss separates over members, so each member follows exactly the update
it would follow alone; only float rounding of the batched matrix products differs.
The live trainer trains the seeds of one chain in one batch; the benchmark build trains
all chains of one width pattern (all activation combinations x seeds) in one batch.

>>> trainer = MoonsTrainer()                                     # doctest: +SKIP
>>> m = trainer.query(Chain([(16, "ReLU"), (16, "ReLU")]))       # doctest: +SKIP
>>> m.validation_accuracy                                        # doctest: +SKIP
0.965

NAS-Bench-Moons (``load()``, ``benchmarks.load("moons")``): every chain with at most
3 hidden layers (8,421) trained for 3 seeds; built by ``nasbench-lab build moons``
into ``data/nas_bench_moons.csv.gz`` (see ``data/README.md``).
"""
from __future__ import annotations

import dataclasses
import functools
import gzip
import itertools
import math
import time
import zlib
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from .. import paths
from ..device import torch_threads
from ..spaces.mlp import ACTIVATIONS, Chain, ChainSpace, MAX_LAYERS, WIDTHS
from .base import BenchmarkFileError
from .store import ResultStore, config_hash
from .trained import TrainedBenchmark

BUNDLED_FILE = "nas_bench_moons.csv.gz"


# ---------------------------------------------------------------------------------------
# configuration and data
# ---------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class MoonsConfig:
    """How a chain is trained on HalfMoons (part of the cache key)."""

    n_samples: int = 1000
    """points drawn by ``make_moons``"""
    noise: float = 0.2
    """``make_moons`` noise level"""
    data_seed: int = 0
    """seed of ``make_moons`` and of the train/validation/test split"""
    n_train: int = 600
    """training points (the rest is split into validation and test)"""
    n_val: int = 200
    """validation points (the remaining ``n_samples - n_train - n_val`` are the test set)"""
    steps: int = 200
    """full-batch Adam steps"""
    lr: float = 0.03
    """Adam learning rate"""
    leaky_slope: float = 0.01
    """negative slope of LeakyReLU (torch's default)"""

    def digest(self) -> str:
        return config_hash({"trainer": "moons-v1", **dataclasses.asdict(self)})


@functools.lru_cache(maxsize=8)
def moons_data(config: MoonsConfig = MoonsConfig()) -> dict[str, np.ndarray]:
    """The standardised split: ``x_train, y_train, x_val, y_val, x_test, y_test`` (float32/int64)."""
    from sklearn.datasets import make_moons

    x, y = make_moons(n_samples=config.n_samples, noise=config.noise, random_state=config.data_seed)
    order = np.random.default_rng(config.data_seed).permutation(config.n_samples)
    x, y = x[order], y[order]
    a, b = config.n_train, config.n_train + config.n_val
    if not 0 < a < b < config.n_samples:
        raise ValueError(f"bad split {config.n_train}/{config.n_val} of {config.n_samples} points")
    mean, std = x[:a].mean(0), x[:a].std(0)
    x = ((x - mean) / std).astype(np.float32)
    y = y.astype(np.int64)
    return {"x_train": x[:a], "y_train": y[:a], "x_val": x[a:b], "y_val": y[a:b], "x_test": x[b:], "y_test": y[b:]}


# ---------------------------------------------------------------------------------------
# the batched training engine
# ---------------------------------------------------------------------------------------
def _init_weights(widths: Sequence[int], seed: int):
    """nn.Linear's default init (uniform +-1/sqrt(fan_in) for weight and bias), from ``seed``.

    Drawn layer by layer, weight (out, in) then bias, from one ``torch.Generator``; so the
    initial weights depend on the widths and the seed only (not on the activations).
    """
    import torch

    g = torch.Generator().manual_seed(int(seed))
    dims = (2, *widths, 2)
    out = []
    for fan_in, fan_out in zip(dims[:-1], dims[1:]):
        bound = 1.0 / math.sqrt(fan_in)
        w = torch.empty(fan_out, fan_in).uniform_(-bound, bound, generator=g)
        b = torch.empty(fan_out).uniform_(-bound, bound, generator=g)
        out.append((w, b))
    return out


def train_batch(
    widths: Sequence[int],
    activations: Sequence[Sequence[str]],
    seeds: Sequence[int],
    config: MoonsConfig = MoonsConfig(),
    record_loss: bool = False,
) -> dict[str, np.ndarray]:
    """Train ``len(seeds)`` chains that share ``widths`` at once.

    Member ``i`` has activations ``activations[i]`` and seed ``seeds[i]``. Returns arrays
    over members: ``validation_accuracy``, ``test_accuracy``, ``train_loss`` (final),
    ``training_time`` (the batch's wall time divided by the members) and, with
    ``record_loss``, ``loss_curve`` of shape (steps + 1, members).
    """
    import torch
    import torch.nn.functional as F

    widths = tuple(int(w) for w in widths)
    members = len(seeds)
    if len(activations) != members:
        raise ValueError(f"{len(activations)} activation patterns for {members} seeds")
    for acts in activations:
        if len(acts) != len(widths):
            raise ValueError(f"activation pattern {acts} does not match widths {widths}")
    data = moons_data(config)  # cached per process; not part of the training time
    t0 = time.perf_counter()
    xt, yt = torch.from_numpy(data["x_train"]), torch.from_numpy(data["y_train"])

    # Members are processed in a different order at each hidden layer: at layer l they are
    # sorted by (activation of l, original position), so that every activation acts on one
    # contiguous slice. ``orders[l]`` lists original member ids in the order used by the
    # linear layer l (and its activation); the weights of layer l are stored in that order.
    rank = {a: i for i, a in enumerate(ACTIVATIONS)}
    unknown = {a for acts in activations for a in acts} - set(ACTIVATIONS)
    if unknown:
        raise ValueError(f"unknown activations {sorted(unknown)}")
    orders = [sorted(range(members), key=lambda m: (rank[activations[m][l]], m)) for l in range(len(widths))]
    orders.append(orders[-1] if widths else list(range(members)))
    inits = [_init_weights(widths, s) for s in seeds]
    weights = [torch.stack([inits[m][l][0] for m in orders[l]]).requires_grad_() for l in range(len(widths) + 1)]
    biases = [torch.stack([inits[m][l][1] for m in orders[l]]).requires_grad_() for l in range(len(widths) + 1)]

    slope = config.leaky_slope
    fns = {
        "Sigmoid": torch.sigmoid,
        "Tanh": torch.tanh,
        "ReLU": torch.relu,
        "LeakyReLU": lambda h: F.leaky_relu(h, slope),
    }
    # per hidden layer: the member permutation from the previous layer's order (or None),
    # and the runs (function, start, length) of equal activation
    plans = []
    for l in range(len(widths)):
        prev = orders[l - 1] if l else list(range(members))
        pos = {m: i for i, m in enumerate(prev)}
        perm = [pos[m] for m in orders[l]]
        perm_t = None if perm == list(range(members)) else torch.tensor(perm)
        runs = []
        for a, grp in itertools.groupby(orders[l], key=lambda m: activations[m][l]):
            runs.append((fns[a], len(list(grp))))
        plans.append((perm_t, runs))
    last = orders[-1]
    to_original = torch.tensor([last.index(m) for m in range(members)])

    def forward(x):
        # features-by-points layout (members, features, points): the long points axis is the
        # contiguous one, which makes the small batched matrix products fast on CPU
        h = x.t().expand(members, *x.t().shape)
        for l, (w, b) in enumerate(zip(weights, biases)):
            if l < len(widths) and plans[l][0] is not None:
                h = h.index_select(0, plans[l][0])
            h = torch.baddbmm(b.unsqueeze(2), w, h)
            if l < len(widths):
                runs = plans[l][1]
                if len(runs) == 1:
                    h = runs[0][0](h)
                else:
                    h = torch.cat([fn(part) for (fn, _), part in zip(runs, h.split([n for _, n in runs]))])
        return h.index_select(0, to_original)  # (members, 2, points) in the callers' order

    sign = (1.0 - 2.0 * yt.float())  # +1 for class 0, -1 for class 1

    def loss_fn():
        logits = forward(xt)
        # two-class cross-entropy: -log softmax(z)[y] = softplus((z1 - z0) * (1 - 2y));
        # per member mean; the caller sums over members, so gradients separate
        return F.softplus((logits[:, 1] - logits[:, 0]) * sign).mean(1)

    opt = torch.optim.Adam(weights + biases, lr=config.lr, fused=True)
    curve = []
    for _ in range(config.steps):
        opt.zero_grad(set_to_none=True)
        per_member = loss_fn()
        if record_loss:
            curve.append(per_member.detach().numpy().copy())
        per_member.sum().backward()
        opt.step()
    with torch.no_grad():
        final = loss_fn()
        if record_loss:
            curve.append(final.numpy().copy())

        def accuracy(x, y):
            pred = forward(torch.from_numpy(x)).argmax(1)
            return (pred == torch.from_numpy(y)).sum(1).numpy() / len(y)

        val = accuracy(data["x_val"], data["y_val"])
        test = accuracy(data["x_test"], data["y_test"])
    elapsed = time.perf_counter() - t0
    out = {
        "validation_accuracy": val,
        "test_accuracy": test,
        "train_loss": final.numpy().astype(np.float64),
        "training_time": np.full(members, elapsed / members),
    }
    if record_loss:
        out["loss_curve"] = np.stack(curve)
    return out


# ---------------------------------------------------------------------------------------
# the live trainer
# ---------------------------------------------------------------------------------------
class MoonsTrainer(TrainedBenchmark):
    """Live benchmark: train chains on HalfMoons (cached in a ``ResultStore``).

    ``query(chain)`` trains the chain for every missing seed of ``seeds`` (in one batch), and
    answers the seed mean of validation and test accuracy (the denoised setting); the
    per-seed values are in ``extra``; ``query(chain, seeds=(4,))`` trains other seeds.
    ``training_time`` is the mean wall time of one training run (as in the tabular
    benchmarks). Fetching, storing and averaging are :class:`~.trained.TrainedBenchmark`'s:
    finished results are stored at once, keyed by (chain key, seed, config digest), so
    repeated or interrupted runs cost nothing twice.

    >>> trainer = MoonsTrainer(seeds=(0, 1, 2))                      # doctest: +SKIP
    >>> trainer.query(Chain([(8, "Tanh"), (8, "ReLU"), (4, "ReLU")]))  # doctest: +SKIP
    """

    name = "moons-live"

    def __init__(
        self,
        config: MoonsConfig = MoonsConfig(),
        seeds: Sequence[int] = (0, 1, 2),
        store: ResultStore | str | Path | None = None,
        cache: bool = True,
        max_depth: int = MAX_LAYERS,
        threads: int | None = 1,
    ) -> None:
        super().__init__(seeds, config.digest(), store, cache)
        self.config = config
        self.space = ChainSpace(max_depth=max_depth)
        self.threads = threads

    def _train(self, arch: Any, seeds: list[int]):
        chain = self.space.validate(arch)
        with torch_threads(self.threads):
            res = train_batch(chain.widths, [chain.activations] * len(seeds), seeds, self.config)
        yield [(s, {**{k: float(v[i]) for k, v in res.items()}, "parameters": chain.parameters})
               for i, s in enumerate(seeds)]

    def train(self, arch: Any, seeds: Sequence[int] | None = None) -> list[dict]:
        """Per-seed result dicts for one chain (from the cache where present)."""
        return self.records(arch, seeds)


# ---------------------------------------------------------------------------------------
# building NAS-Bench-Moons
# ---------------------------------------------------------------------------------------
BUILD_DEPTH = 3
SEEDS_PER_ARCH = 3


def build_seeds(seed: int = 0) -> tuple[int, ...]:
    """The training seeds of a build with ``--seed seed``: ``3*seed, 3*seed+1, 3*seed+2``."""
    return tuple(SEEDS_PER_ARCH * int(seed) + i for i in range(SEEDS_PER_ARCH))


def _build_digest(config: MoonsConfig) -> str:
    # the build trains whole width groups in one batch: its own cache key
    return config_hash({"build": "nas-bench-moons/width-groups", "config": config.digest()})


def _width_groups(max_depth: int = BUILD_DEPTH) -> list[tuple[int, ...]]:
    """Every width pattern of depth <= max_depth, heaviest first (for load balance)."""
    groups = [w for d in range(max_depth + 1) for w in itertools.product(WIDTHS, repeat=d)]

    def cost(widths):
        dims = (2, *widths, 2)
        return len(ACTIVATIONS) ** len(widths) * sum(8 + a * b for a, b in zip(dims[:-1], dims[1:]))

    return sorted(groups, key=cost, reverse=True)


_WARM = False


def _train_group(job) -> list[tuple[str, int, dict]]:
    """Worker: train every chain with ``widths`` (all activation patterns x seeds)."""
    widths, seeds, config = job
    import torch

    global _WARM
    torch.set_num_threads(1)
    if not _WARM:  # first call in a process: load the data and warm torch up, untimed
        train_batch((2,), [("ReLU",)], [0], dataclasses.replace(config, steps=2))
        _WARM = True
    patterns = list(itertools.product(ACTIVATIONS, repeat=len(widths)))
    acts = [p for p in patterns for _ in seeds]
    member_seeds = [s for _ in patterns for s in seeds]
    res = train_batch(widths, acts, member_seeds, config)
    out = []
    for i, (p, s) in enumerate(zip(acts, member_seeds)):
        chain = Chain(tuple(zip(widths, p)))
        row = {k: float(v[i]) for k, v in res.items()}
        row["parameters"] = chain.parameters
        out.append((chain.key, s, row))
    return out


def build(
    out: str | Path | None = None,
    seed: int = 0,
    workers: int = 2,
    config: MoonsConfig = MoonsConfig(),
    store: str | Path | None = None,
    max_depth: int = BUILD_DEPTH,
    progress: bool = True,
) -> Path:
    """Train every chain of depth <= ``max_depth`` for 3 seeds and write the table.

    Resumable: finished width groups are kept in a ``ResultStore`` (default
    ``cache_dir()/nas_bench_moons_build.sqlite``) and skipped on the next call.
    Returns the path of the written table (``data/nas_bench_moons.csv.gz`` by default).
    """
    from tqdm.auto import tqdm

    from .._parallel import imap

    seeds = build_seeds(seed)
    digest = _build_digest(config)
    store = ResultStore(store if store is not None else paths.cache_dir() / "nas_bench_moons_build.sqlite")
    done = store.keys(digest)
    jobs = []
    for widths in _width_groups(max_depth):
        n_patterns = len(ACTIVATIONS) ** len(widths)
        first = Chain(tuple((w, ACTIVATIONS[0]) for w in widths)).key
        last = Chain(tuple((w, ACTIVATIONS[-1]) for w in widths)).key
        # a group is committed in one transaction: its first and last members tell
        if not all((k, s) in done for k in (first, last) for s in seeds):
            jobs.append(((widths, seeds, config), n_patterns * len(seeds)))
    space = ChainSpace(max_depth=max_depth)
    total = space.size * len(seeds)
    bar = tqdm(total=total, initial=total - sum(n for _, n in jobs), unit="net", desc="NAS-Bench-Moons", disable=not progress)
    # spawn workers (one process where they could not start; a dead worker never hangs)
    for rows in imap(_train_group, [j for j, _ in jobs], int(workers), ordered=False, desc="NAS-Bench-Moons"):
        store.put_many(rows, digest)
        bar.update(len(rows))
    bar.close()
    results = store.get_config(digest)
    table = _assemble(space, seeds, results)
    out = Path(out) if out is not None else paths.bundled_dir() / BUNDLED_FILE
    with paths.atomic_write(out, suffix=".csv.gz") as tmp:
        table.to_csv(tmp, index=False, float_format="%.6g", compression="gzip")
    store.close()
    return out


def _assemble(space: ChainSpace, seeds: Sequence[int], results: dict) -> "pd.DataFrame":
    import pandas as pd

    chains = space.enumerate()
    cols: dict[str, Any] = {
        "key": [c.key for c in chains],
        "depth": [c.depth for c in chains],
        "parameters": [c.parameters for c in chains],
    }
    missing = [(c.key, s) for c in chains for s in seeds if (c.key, s) not in results]
    if missing:
        raise RuntimeError(f"{len(missing)} (chain, seed) results are missing from the store, e.g. {missing[:3]}")
    for i, s in enumerate(seeds):
        cols[f"validation_{i}"] = [results[(c.key, s)]["validation_accuracy"] for c in chains]
    for i, s in enumerate(seeds):
        cols[f"test_{i}"] = [results[(c.key, s)]["test_accuracy"] for c in chains]
    frame = pd.DataFrame(cols)
    n = len(seeds)
    frame["validation"] = frame[[f"validation_{i}" for i in range(n)]].mean(axis=1)
    frame["test"] = frame[[f"test_{i}" for i in range(n)]].mean(axis=1)
    frame["training_time"] = [np.mean([results[(c.key, s)]["training_time"] for s in seeds]) for c in chains]
    frame.attrs["seeds"] = list(seeds)
    return frame


def cli_build(args) -> int:
    """``nasbench-lab build moons [--seed S] [--workers W] [--out FILE]``."""
    t0 = time.perf_counter()
    out = build(out=getattr(args, "out", None), seed=args.seed, workers=args.workers)
    print(f"wrote {out} in {time.perf_counter() - t0:.0f} s")
    return 0


# ---------------------------------------------------------------------------------------
# the bundled tabular benchmark
# ---------------------------------------------------------------------------------------
def load(path: str | Path | None = None, seed: int = 0, **options):
    """NAS-Bench-Moons as a ``TabularBenchmark`` (``benchmarks.load("moons")``).

    ``path`` defaults to the bundled ``data/nas_bench_moons.csv.gz``. The search signal is
    the seed mean of validation accuracy; per-seed values serve ``reduction="sample"``
    (``seed`` seeds that draw). Rows follow ``ChainSpace(max_depth=3).enumerate()``.

    >>> bench = load()                                      # doctest: +SKIP
    >>> bench.query(Chain([(8, "Tanh")])).validation_accuracy  # doctest: +SKIP
    0.9666666666666667
    """
    from .tabular import TabularBenchmark

    path = Path(path) if path is not None else paths.bundled_dir() / BUNDLED_FILE
    if not path.exists():
        raise FileNotFoundError(f"NAS-Bench-Moons table {path} is missing; rebuild it with `nasbench-lab build moons`")
    seeds = range(SEEDS_PER_ARCH)
    mapping = {
        "validation_accuracy": [f"validation_{i}" for i in seeds],
        "test_accuracy": [f"test_{i}" for i in seeds],
        "training_time": "training_time",
        "parameters": "parameters",
    }
    try:
        bench = TabularBenchmark(ChainSpace(max_depth=BUILD_DEPTH), path, "key", mapping, seed=seed, name="moons",
                                 **options)
    except (EOFError, gzip.BadGzipFile, zlib.error, UnicodeDecodeError) as e:
        raise BenchmarkFileError(f"moons: {path} is truncated or corrupt ({type(e).__name__}: {e}); rebuild it "
                                 "with `nasbench-lab build moons` (or restore it from the repository)") from None
    for field in ("validation_accuracy", "test_accuracy"):
        v = bench.per_seed[field]
        if np.isnan(v).any() or (v < 0).any() or (v > 1).any():
            raise BenchmarkFileError(f"moons: {path}: {field} has values outside [0, 1] or missing")
    return bench

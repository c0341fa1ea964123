"""The NAS-Bench-301 feature vector: the ConfigSpace array of the official configuration space.

The official surrogates were trained on ``Configuration.get_array()`` of the space in
``nasbench301/configspace.json`` (ConfigSpace 0.4.12) after the official loader's
overrides (``layers``, ``init_channels``, ``T_max`` become integers in 1..10000 and
``eta_min`` a float in 0..10000), filled with the fixed training hyperparameters of the
official API, inactive entries (NaN) replaced by -1. This module writes that vector
without ConfigSpace.

Ordering (ConfigSpace's own): the hyperparameters without a condition sorted by name,
then the conditioned ones sorted by name (string order, so ``edge_normal_10`` comes
before ``edge_normal_2``): 32 + 24 = 56 features, listed in :data:`FEATURE_NAMES`.

Encoding of one value (ConfigSpace 0.4.12 ``_inverse_transform``):

* categorical: index of the value in the choices (edges: index in ``darts.OPS``;
  ``inputs_node_*_k``: index of ``"i_j"`` in ``itertools.combinations(range(k), 2)``);
* constant: 0;
* uniform float on ``[a, b]``: ``(v - a) / (b - a)``, in log space when ``log``;
* uniform integer on ``[a, b]``: as a float on ``[a - 0.49999, b + 0.49999]``;
* normal float: ``v`` (``log(v)`` when ``log``), not normalised;
* inactive (an edge whose source is not chosen by its node): NaN, then -1.

ConfigSpace 1.x normalises integers (``(v - a) / (b - a)``), constants (1.0) and bounded
normal floats differently. Those entries are training hyperparameters that are fixed
in every NAS-Bench-301 training row, so the trees never split on them; we keep the
0.4.12 values of the official package. The test checks ordering, every architecture
entry and every categorical entry against ConfigSpace's own ``get_array``.
"""
from __future__ import annotations

import functools
import itertools
import math
from typing import Sequence

import numpy as np

from ..spaces.darts import CELL_TYPES, CONFIG_PREFIX, EDGE_START, NUM_CONFIG_EDGES, NUM_NODES, OPS

#: training hyperparameters the official API adds to every architecture
FIXED_HYPERPARAMETERS: dict[str, object] = {
    "CreateImageDataLoader:batch_size": 96,
    "ImageAugmentation:augment": True,
    "ImageAugmentation:cutout": True,
    "ImageAugmentation:cutout_holes": 1,
    "ImageAugmentation:cutout_length": 16,
    "ImageAugmentation:autoaugment": False,
    "ImageAugmentation:fastautoaugment": False,
    "LossModuleSelectorIndices:loss_module": "cross_entropy",
    "NetworkSelectorDatasetInfo:darts:auxiliary": True,
    "NetworkSelectorDatasetInfo:darts:drop_path_prob": 0.2,
    "NetworkSelectorDatasetInfo:network": "darts",
    "OptimizerSelector:optimizer": "sgd",
    "OptimizerSelector:sgd:learning_rate": 0.025,
    "OptimizerSelector:sgd:momentum": 0.9,
    "OptimizerSelector:sgd:weight_decay": 0.0003,
    "SimpleLearningrateSchedulerSelector:cosine_annealing:T_max": 100,
    "SimpleLearningrateSchedulerSelector:cosine_annealing:eta_min": 1e-8,
    "SimpleLearningrateSchedulerSelector:lr_scheduler": "cosine_annealing",
    "SimpleTrainNode:batch_loss_computation_technique": "mixup",
    "SimpleTrainNode:mixup:alpha": 0.2,
    "NetworkSelectorDatasetInfo:darts:init_channels": 32,
    "NetworkSelectorDatasetInfo:darts:layers": 8,
}


def _input_choices(node_id: int) -> tuple[str, ...]:
    return tuple(f"{i}_{j}" for i, j in itertools.combinations(range(node_id), 2))


def _definition() -> list[dict]:
    """The official space (with the loader's overrides) as plain records."""
    hp = [
        dict(name="CreateImageDataLoader:batch_size", type="int", lower=64, upper=128, log=True),
        dict(name="ImageAugmentation:augment", type="cat", choices=(True,)),
        dict(name="ImageAugmentation:autoaugment", type="cat", choices=(False, True)),
        dict(name="ImageAugmentation:cutout", type="cat", choices=(True,)),
        dict(name="ImageAugmentation:cutout_holes", type="int", lower=1, upper=3, log=False),
        dict(name="ImageAugmentation:cutout_length", type="int", lower=1, upper=50, log=False),
        dict(name="ImageAugmentation:fastautoaugment", type="cat", choices=(False, True)),
        dict(name="LossModuleSelectorIndices:loss_module", type="cat", choices=("cross_entropy",)),
        dict(name="NetworkSelectorDatasetInfo:darts:auxiliary", type="cat", choices=(True,)),
        dict(name="NetworkSelectorDatasetInfo:darts:drop_path_prob", type="const", value=0.2),
        dict(name="NetworkSelectorDatasetInfo:darts:init_channels", type="int", lower=1, upper=10000, log=False),
        dict(name="NetworkSelectorDatasetInfo:darts:layers", type="int", lower=1, upper=10000, log=False),
        dict(name="NetworkSelectorDatasetInfo:network", type="cat", choices=("darts",)),
        dict(name="OptimizerSelector:optimizer", type="cat", choices=("sgd",)),
        dict(name="OptimizerSelector:sgd:learning_rate", type="normal", mu=0.025, sigma=0.05, log=True),
        dict(name="OptimizerSelector:sgd:momentum", type="float", lower=0.1, upper=0.99, log=False),
        dict(name="OptimizerSelector:sgd:weight_decay", type="normal", mu=0.0003, sigma=0.0006, log=True),
        dict(name="SimpleLearningrateSchedulerSelector:cosine_annealing:T_max", type="int", lower=1,
             upper=10000, log=False),
        dict(name="SimpleLearningrateSchedulerSelector:cosine_annealing:eta_min", type="float", lower=0.0,
             upper=10000.0, log=False),
        dict(name="SimpleLearningrateSchedulerSelector:lr_scheduler", type="cat", choices=("cosine_annealing",)),
        dict(name="SimpleTrainNode:batch_loss_computation_technique", type="cat", choices=("mixup",)),
        dict(name="SimpleTrainNode:mixup:alpha", type="float", lower=0.01, upper=0.7, log=True),
    ]
    for ct in CELL_TYPES:
        for k in range(NUM_NODES):
            node_id = k + 2
            if k > 0:
                hp.append(dict(name=f"{CONFIG_PREFIX}inputs_node_{ct}_{node_id}", type="cat",
                               choices=_input_choices(node_id)))
            for src in range(node_id):
                edge = dict(name=f"{CONFIG_PREFIX}edge_{ct}_{EDGE_START[k] + src}", type="cat", choices=OPS)
                if k > 0:  # active when the node's inputs include ``src``
                    edge["parent"] = f"{CONFIG_PREFIX}inputs_node_{ct}_{node_id}"
                    edge["values"] = tuple(c for c in _input_choices(node_id) if str(src) in c.split("_"))
                hp.append(edge)
    return hp


#: the hyperparameter records (name, type, range/choices, condition) of the space
HYPERPARAMETERS: tuple[dict, ...] = tuple(_definition())
#: feature order: unconditioned names sorted, then conditioned names sorted
FEATURE_NAMES: tuple[str, ...] = tuple(
    sorted(h["name"] for h in HYPERPARAMETERS if "parent" not in h)
    + sorted(h["name"] for h in HYPERPARAMETERS if "parent" in h))
NUM_FEATURES = len(FEATURE_NAMES)
_BY_NAME = {h["name"]: h for h in HYPERPARAMETERS}
assert NUM_FEATURES == 56 and len(_BY_NAME) == NUM_FEATURES
assert sum(1 for h in HYPERPARAMETERS if h["name"].startswith(CONFIG_PREFIX + "edge_")) == 2 * NUM_CONFIG_EDGES


def encode_value(hp: dict, value) -> float:
    """ConfigSpace 0.4.12 vector value of ``value`` for hyperparameter record ``hp``."""
    kind = hp["type"]
    if kind == "cat":
        choices = hp["choices"]
        for i, c in enumerate(choices):
            if c == value and type(c) is type(value):
                return float(i)
        raise ValueError(f"{hp['name']}: {value!r} is not one of {choices}")
    if kind == "const":
        if value != hp["value"]:
            raise ValueError(f"{hp['name']}: constant {hp['value']!r}, got {value!r}")
        return 0.0
    if kind == "normal":
        return math.log(value) if hp["log"] else float(value)
    lo, hi = float(hp["lower"]), float(hp["upper"])
    if kind == "int":
        lo, hi = lo - 0.49999, hi + 0.49999
    v = float(value)
    if hp["log"]:
        lo, hi, v = math.log(lo), math.log(hi), math.log(v)
    return (v - lo) / (hi - lo)


def _bool(value):
    if value in ("True", "False"):
        return value == "True"
    return value


@functools.cache
def _fixed_row() -> np.ndarray:
    """The feature vector with the fixed hyperparameters filled and every edge inactive (-1)."""
    row = np.full(NUM_FEATURES, -1.0, dtype=np.float64)
    for i, name in enumerate(FEATURE_NAMES):
        if name in FIXED_HYPERPARAMETERS:
            row[i] = encode_value(_BY_NAME[name], _bool(FIXED_HYPERPARAMETERS[name]))
    row.setflags(write=False)
    return row


@functools.cache
def _architecture_slots() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Lookup tables for :func:`features`.

    ``edge_col[c, e]``: column of edge number ``e`` of cell ``c``; ``input_col[c, k - 1]``:
    column of ``inputs_node`` of node ``k``; ``input_code[k, i, j]``: index of ``"i_j"``.
    """
    col = {n: i for i, n in enumerate(FEATURE_NAMES)}
    edge_col = np.array([[col[f"{CONFIG_PREFIX}edge_{ct}_{e}"] for e in range(NUM_CONFIG_EDGES)]
                         for ct in CELL_TYPES], dtype=np.int64)
    input_col = np.array([[col[f"{CONFIG_PREFIX}inputs_node_{ct}_{k + 2}"] for k in range(1, NUM_NODES)]
                          for ct in CELL_TYPES], dtype=np.int64)
    input_code = np.full((NUM_NODES, NUM_NODES + 1, NUM_NODES + 1), -1.0)
    for k in range(1, NUM_NODES):
        for code, (i, j) in enumerate(itertools.combinations(range(k + 2), 2)):
            input_code[k, i, j] = code
    return edge_col, input_col, input_code


_OP_ID = {op: i for i, op in enumerate(OPS)}
#: node of each of the 8 edges of a cell, and the first edge number of that node
_NODE_OF = np.repeat(np.arange(NUM_NODES), 2)
_START_OF = np.asarray(EDGE_START)[_NODE_OF]


def features(genotypes: Sequence, dtype=np.float32) -> np.ndarray:
    """(n, 56) feature matrix of ``genotypes`` (``darts.Genotype``), official encoding.

    >>> from nasbench_lab.spaces.darts import DartsSpace
    >>> g = DartsSpace().sample(np.random.default_rng(0))
    >>> features([g]).shape
    (1, 56)
    """
    n = len(genotypes)
    out = np.tile(_fixed_row(), (n, 1))
    if n == 0:
        return out.astype(dtype, copy=False)
    edge_col, input_col, input_code = _architecture_slots()
    op_id = _OP_ID
    ops = np.array([[op_id[op] for op, _ in g.normal] + [op_id[op] for op, _ in g.reduce] for g in genotypes],
                   dtype=np.float64).reshape(n, 2, 8)
    src = np.array([[s for _, s in g.normal] + [s for _, s in g.reduce] for g in genotypes],
                   dtype=np.int64).reshape(n, 2, 8)
    rows = np.arange(n)[:, None]
    for c in range(2):
        out[rows, edge_col[c][_START_OF[None, :] + src[:, c]]] = ops[:, c]
        for k in range(1, NUM_NODES):
            a, b = src[:, c, 2 * k], src[:, c, 2 * k + 1]
            out[:, input_col[c, k - 1]] = input_code[k, np.minimum(a, b), np.maximum(a, b)]
    return out.astype(dtype, copy=False)


def config_features(config: dict, dtype=np.float32) -> np.ndarray:
    """Feature vector of a full NAS-Bench-301 configuration dict (every hyperparameter given).

    Hyperparameters missing from ``config`` are treated as inactive (-1), exactly as
    ``get_array`` leaves them NaN; unknown names raise ``KeyError``.
    """
    row = np.full(NUM_FEATURES, -1.0)
    col = {n: i for i, n in enumerate(FEATURE_NAMES)}
    for name, value in config.items():
        if name not in col:
            raise KeyError(f"{name!r} is not a NAS-Bench-301 hyperparameter")
        row[col[name]] = encode_value(_BY_NAME[name], _bool(value))
    return row.astype(dtype)


__all__ = ["FEATURE_NAMES", "FIXED_HYPERPARAMETERS", "HYPERPARAMETERS", "NUM_FEATURES", "features",
           "config_features", "encode_value"]

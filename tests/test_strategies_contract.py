"""One contract over every entry of ``strategies.REGISTRY``.

* built from a seed, with its own generator: the global numpy / random / torch state is
  untouched (the constructor included),
* the same seed gives the same choices; ``state_dict()`` / ``load_state_dict()`` resume exactly,
* every entry is built the one way, ``cls(space, seed=0)`` (never from a benchmark),
* multi-trial strategies: ``ask() -> arch`` valid in the space, ``tell(arch, metrics)``,
* incremental agents: ``act(observation, info) -> int`` an allowed action, driven in an
  ``IncrementalEnv`` that reveals the shown neighbours' validation accuracies exactly to the
  agents charged for them (``counts_neighbour_queries``, local search), as the runner does.

Every entry must import: a registry entry whose module is missing fails, it is not skipped.
"""
from __future__ import annotations

import copy
import random

import numpy as np
import pytest
import torch

from conftest import chain_benchmark
from nasbench_lab import strategies


@pytest.fixture(scope="module")
def bench():
    """A synthetic tabular benchmark over ChainSpace(3) (seeded accuracies), fast to query."""
    return chain_benchmark(3)


def _load(name):
    """The registered class, through ``strategies.get``; it must be the class the registry
    entry names, defined in that module, and carry the registry name."""
    module, attr = strategies.REGISTRY[name].split(":")
    cls = strategies.get(name)
    assert isinstance(cls, type) and cls.__name__ == attr and cls.__module__ == module, (name, cls)
    assert cls.name == name, f"{module}:{attr}.name is {cls.name!r}, registered as {name!r}"
    return cls


def _is_incremental(cls) -> bool:
    """The runner's own rule (``act`` in the env rather than ``ask``/``tell``)."""
    from nasbench_lab.experiment.protocol import is_incremental

    return is_incremental(cls)


def _build(cls, bench, seed):
    """The one construction convention: ``cls(space, seed=...)``; the strategy never
    holds the benchmark (agents see it only through the environment)."""
    s = cls(bench.space, seed=seed)
    assert not any(v is bench for v in vars(s).values()), f"{cls.__name__} holds the benchmark"
    return s


def _incremental_trace(cls, bench, seed, n=40, agent=None):
    from nasbench_lab.env import IncrementalEnv

    env = IncrementalEnv(bench.space, bench, n_neighbours=20, max_steps=8, seed=0,
                         reveal_validation=getattr(cls, "counts_neighbour_queries", False))
    agent = agent or _build(cls, bench, seed)
    obs, info = env.reset(seed=1)
    out = []
    for _ in range(n):
        a = agent.act(obs, info)
        assert isinstance(a, (int, np.integer)) and info["action_mask"][a], f"{cls.__name__} chose masked {a}"
        out.append(int(a))
        obs, _, te, tr, info = env.step(a)
        if te or tr:
            obs, info = env.reset(seed=len(out))
    return out, agent


def _multi_trial_trace(cls, bench, seed, n=20, strategy=None):
    s = strategy or _build(cls, bench, seed)
    keys = []
    for _ in range(n):
        arch = s.ask()
        assert bench.space.is_valid(arch)
        s.tell(arch, bench.query(arch))
        keys.append(bench.space.key(arch))
    return keys, s


@pytest.mark.parametrize("name", sorted(strategies.REGISTRY))
def test_strategy_contract(name, bench):
    cls = _load(name)
    np_state, py_state, torch_state = np.random.get_state(), random.getstate(), torch.get_rng_state()
    incremental = _is_incremental(cls)
    trace = _incremental_trace if incremental else _multi_trial_trace
    a, agent = trace(cls, bench, seed=0)
    b, _ = trace(cls, bench, seed=0)
    assert a == b, "same seed, different choices"
    # resume: a copy restored from state_dict continues exactly like the original
    state = copy.deepcopy(agent.state_dict())
    cont, _ = trace(cls, bench, seed=0, agent=agent) if incremental else trace(cls, bench, 0, strategy=agent)
    fresh = _build(cls, bench, 123)
    fresh.load_state_dict(state)
    again, _ = trace(cls, bench, seed=0, agent=fresh) if incremental else trace(cls, bench, 0, strategy=fresh)
    assert cont == again, "load_state_dict did not restore the strategy"
    # no global random state touched
    assert random.getstate() == py_state
    assert torch.equal(torch.get_rng_state(), torch_state), "torch's global generator was advanced"
    after = np.random.get_state()
    assert after[0] == np_state[0] and np.array_equal(after[1], np_state[1]) and after[2:] == np_state[2:]


@pytest.mark.parametrize("name", sorted(strategies.REGISTRY))
def test_constructor_leaves_global_rng_alone(name, bench):
    """Building a strategy draws nothing from numpy's, random's or torch's global generator."""
    cls = _load(name)
    torch_state, np_state, py_state = torch.get_rng_state(), np.random.get_state()[1].copy(), random.getstate()
    _build(cls, bench, 0)
    assert torch.equal(torch.get_rng_state(), torch_state), f"{name}(...) advanced torch's global generator"
    assert np.array_equal(np.random.get_state()[1], np_state) and random.getstate() == py_state


def test_random_search_differs_between_seeds(bench):
    cls = _load("random_search")
    a, _ = _multi_trial_trace(cls, bench, seed=0)
    b, _ = _multi_trial_trace(cls, bench, seed=1)
    assert a != b

"""Search strategies: multi-trial (ask/tell) and incremental agents (act in the env).

``REGISTRY`` is a plain dict name -> "module:Class"; ``get(name)`` imports lazily.
Every entry obeys one contract (tests/test_strategies_contract.py):

* a seed -> its own ``np.random.Generator``; no global RNG state touched,
* ``state_dict()`` / ``load_state_dict()`` so a run can be resumed,
* one construction: ``cls(space, seed=0, **hyperparameters)``,
* multi-trial: ``ask() -> arch`` and ``tell(arch, metrics)``,
* incremental: ``act(observation, info) -> int`` on what the environment shows.

Any entry runs through ``nasbench_lab.experiment.run`` (tests/test_runner_contract.py).
"""
from __future__ import annotations

import importlib

REGISTRY: dict[str, str] = {
    "random_search": "nasbench_lab.strategies.random_search:RandomSearch",
    "random_walk": "nasbench_lab.strategies.random_walk:RandomWalk",
    "local_search": "nasbench_lab.strategies.local_search:LocalSearch",
    "reinforce": "nasbench_lab.strategies.reinforce:Reinforce",
    "apex": "nasbench_lab.strategies.apex:ApexAgent",
    # NNI's multi-trial strategies (over the spaces' decision encodings)
    "random": "nasbench_lab.strategies.random:Random",
    "grid_search": "nasbench_lab.strategies.grid_search:GridSearch",
    "regularized_evolution": "nasbench_lab.strategies.regularized_evolution:RegularizedEvolution",
    "tpe": "nasbench_lab.strategies.tpe:TPE",
    "policy_based_rl": "nasbench_lab.strategies.policy_based_rl:PolicyBasedRL",
}

#: NNI's class names, importable as ``from nasbench_lab.strategies import GridSearch``
_CLASSES = {"Random": "random", "GridSearch": "grid_search", "RegularizedEvolution": "regularized_evolution",
            "TPE": "tpe", "PolicyBasedRL": "policy_based_rl", "Reinforce": "reinforce"}


def names() -> list[str]:
    return sorted(REGISTRY)


def get(name: str):
    """The strategy class registered as ``name``."""
    try:
        target = REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown strategy {name!r}; known: {', '.join(names())}") from None
    module, attr = target.split(":")
    return getattr(importlib.import_module(module), attr)


def __getattr__(name: str):
    if name in _CLASSES:
        return get(_CLASSES[name])
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["REGISTRY", "get", "names", *_CLASSES]

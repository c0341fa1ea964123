"""Search spaces: NAS-Bench-101 cells, NAS-Bench-201 cells, DARTS genotypes, MLP chains.

>>> import nasbench_lab.spaces as sp
>>> space = sp.get("nb201")                     # doctest: +SKIP
>>> arch = space.sample(np.random.default_rng(0))  # doctest: +SKIP
"""
from __future__ import annotations

import importlib

from .base import InvalidArchitecture, SearchSpace

#: space name -> (module, factory attribute)
_REGISTRY = {
    "nb101": ("nasbench_lab.spaces.nb101", "NB101Space"),
    "nb201": ("nasbench_lab.spaces.nb201", "NB201Space"),
    "darts": ("nasbench_lab.spaces.darts", "DartsSpace"),
    "nb301": ("nasbench_lab.spaces.darts", "DartsSpace"),
    "mlp": ("nasbench_lab.spaces.mlp", "ChainSpace"),
}


def names() -> list[str]:
    return sorted(_REGISTRY)


def get(name: str, **options) -> SearchSpace:
    """The space object for ``name`` (``"nb101"``, ``"nb201"``, ``"darts"``, ``"mlp"``)."""
    try:
        module, attr = _REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown search space {name!r}; known: {', '.join(names())}") from None
    return getattr(importlib.import_module(module), attr)(**options)


def __getattr__(name: str):
    if name in {"nb101", "nb201", "darts", "mlp"}:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(name)


__all__ = ["InvalidArchitecture", "SearchSpace", "get", "names"]

"""Regularized (ageing) evolution, Real et al. 2019, as NNI v3.0's ``RegularizedEvolution``.

The first ``population_size`` asks are random (uniform over the decisions, as
:class:`~nasbench_lab.strategies.random.Random`). After that every ask runs a
tournament: ``sample_size`` members drawn uniformly without replacement from the
population, the one with the highest told reward is the parent, and its mutation is
asked. When a result is told the architecture joins the population as its youngest
member and, once the population holds more than ``population_size``, the oldest member
is dropped, however good it is (the "regularization" by age).

Asynchrony (``trial_concurrency > 1``): asks that have not been told yet are pending;
the random phase lasts while the told population plus the pending asks are fewer than
``population_size`` (so sequentially exactly the first ``population_size`` asks), and a
tournament only ever draws from told members. A tournament over an empty population (all
asks still pending) asks a random architecture.

>>> from nasbench_lab.spaces.nb201 import NB201Space
>>> re = RegularizedEvolution(NB201Space(), seed=0, population_size=4, sample_size=2)
>>> for _ in range(6):
...     arch = re.ask(); re.tell(arch, 0.5)
>>> len(re.population)
4
"""
from __future__ import annotations

import collections
import math
from typing import Any

import numpy as np

from ..spaces.base import InvalidArchitecture
from .base import MultiTrialStrategy
from .random import PATIENCE, decisions_of, draw_values, space_name

MUTATIONS = ("decisions", "space")
#: mutation attempts (invalid children, or already-seen ones with dedup) before accepting
MUTATION_TRIES = 100


class RegularizedEvolution(MultiTrialStrategy):
    """Ageing evolution over the space's decisions (NNI) or its own ``mutate`` (NAS-Bench).

    Parameters
    ----------
    space : SearchSpace
        The search space (or a benchmark with ``.space``).
    seed : int
        Seed of the strategy's own ``np.random.Generator`` (global RNGs are never touched).
    population_size : int
        NNI's ``population_size`` (default 100): the population the tournaments draw from;
        the oldest member is dropped once it would exceed this. Also the number of random
        asks that start the search.
    sample_size : int
        NNI's ``sample_size`` (default 25): members per tournament, drawn uniformly without
        replacement (all told members while fewer than this have been told).
        ``1 <= sample_size <= population_size``.
    mutation_prob : float
        NNI's ``mutation_prob`` (default 0.05): with ``mutation="decisions"`` each decision
        of the parent is resampled (uniformly among its choices) with this probability;
        when no decision changed, one decision (uniform) is set to a different choice, so a
        child always differs from its parent in at least one decision (and by key).
        Ignored by ``mutation="space"``.
    dedup : bool
        NNI's ``dedup`` (default True): random asks never repeat an architecture (by key)
        that was asked or told before, and a mutation is redrawn while it gives an
        architecture seen before, at most 100 times; then the last valid child is accepted
        even if seen. Random asks on an exhausted finite space: a repeat is accepted.
    mutation : str
        ``"decisions"`` (default, NNI): per-decision resampling as above, over
        ``space.decisions()``; an invalid child (``from_decisions`` raises
        ``InvalidArchitecture``) is redrawn. ``"space"``: the space's own
        ``mutate(arch, rng)`` (one random neighbour: the NAS-Bench literature's setting).
        A space without a decision encoding uses ``space.sample`` for random asks and
        ``space.mutate`` for mutations whatever this says (``uses_decisions`` is False).

    Failed trials (NaN reward) join the population and age out like any member, but never
    win a tournament; a tournament of failed members only asks a random architecture. If
    no valid child is found in 100 attempts, the ask is random.

    >>> from nasbench_lab.spaces.nb201 import NB201Space
    >>> space = NB201Space()
    >>> re = RegularizedEvolution(space, seed=1, population_size=3, sample_size=3, mutation_prob=0.0)
    >>> for reward in (0.1, 0.9, 0.2):
    ...     re.tell(re.ask(), reward)
    >>> best = re.population[1][0]
    >>> child = re.ask()
    >>> sum(a != b for a, b in zip(space.to_decisions(child), space.to_decisions(best)))
    1
    """

    name = "regularized_evolution"
    incremental = False
    counts_neighbour_queries = False

    def __init__(self, space: Any, seed: int = 0, population_size: int = 100, sample_size: int = 25,
                 mutation_prob: float = 0.05, dedup: bool = True, mutation: str = "decisions") -> None:
        super().__init__(space, seed)
        if isinstance(population_size, bool) or int(population_size) != population_size or population_size < 1:
            raise ValueError(f"population_size must be a positive integer, got {population_size!r}")
        if isinstance(sample_size, bool) or int(sample_size) != sample_size or not 1 <= sample_size <= population_size:
            raise ValueError(f"sample_size must be an integer in 1..population_size={population_size}, "
                             f"got {sample_size!r}")
        mutation_prob = float(mutation_prob)
        if not 0.0 <= mutation_prob <= 1.0:
            raise ValueError(f"mutation_prob must be in [0, 1], got {mutation_prob!r}")
        if mutation not in MUTATIONS:
            raise ValueError(f"mutation must be one of {MUTATIONS}, got {mutation!r}")
        self.population_size = int(population_size)
        self.sample_size = int(sample_size)
        self.mutation_prob = mutation_prob
        self.dedup = bool(dedup)
        self.mutation = mutation
        self._decisions = decisions_of(self.space)
        #: told members, oldest first: ``(arch, reward)``
        self.population: collections.deque = collections.deque()
        self._pending: collections.Counter = collections.Counter()  # key -> asks not told yet
        self._seen: dict[str, None] = {}  # keys asked or told
        self.asked = 0
        #: the last tournament: ``(keys of the sampled members, parent key)`` (None: random ask)
        self.last_tournament: tuple[list[str], str] | None = None

    @property
    def uses_decisions(self) -> bool:
        """Whether random asks and (``mutation="decisions"``) mutations use the decisions."""
        return self._decisions is not None

    @property
    def pending(self) -> int:
        """Asks not told yet."""
        return sum(self._pending.values())

    def hyperparameters(self) -> dict:
        return {"population_size": self.population_size, "sample_size": self.sample_size,
                "mutation_prob": self.mutation_prob, "dedup": self.dedup, "mutation": self.mutation}

    # -- proposals -----------------------------------------------------------------------
    def _random(self) -> Any:
        """Uniform decisions (redrawn while invalid and, with dedup, seen); space.sample
        without decisions. A repeat is accepted after ``PATIENCE`` draws."""
        key = self.space.key
        last = None
        for _ in range(PATIENCE):
            if self._decisions is None:
                arch = self.space.sample(self.rng)
            else:
                try:
                    arch = self.space.from_decisions(draw_values(self._decisions, self.rng))
                except InvalidArchitecture:
                    continue
            last = arch
            if not self.dedup or key(arch) not in self._seen:
                return arch
        if last is None:
            raise RuntimeError(f"regularized evolution: {PATIENCE} uniform decision vectors in a row were "
                               f"invalid in the {space_name(self.space)} space")
        return last

    def _mutate_decisions(self, parent: Any) -> Any:
        """Per-decision resampling with ``mutation_prob``; at least one decision changed."""
        values = list(self.space.to_decisions(parent))
        choices = [c for _, c in self._decisions]
        n = len(choices)
        changeable = [i for i, c in enumerate(choices) if len(c) > 1]
        if not changeable:
            raise InvalidArchitecture(f"{space_name(self.space)}: every decision has one choice; nothing to mutate")
        child = list(values)
        resample = self.rng.random(n) < self.mutation_prob
        for i in np.flatnonzero(resample):
            child[i] = choices[i][int(self.rng.integers(len(choices[i])))]
        if child == values:
            i = changeable[int(self.rng.integers(len(changeable)))]
            others = [v for v in choices[i] if v != values[i]]
            child[i] = others[int(self.rng.integers(len(others)))]
        return self.space.from_decisions(child)

    def _mutate(self, parent: Any) -> Any | None:
        """A child of ``parent`` (bounded retries, see the class docstring); None: none valid."""
        key = self.space.key
        parent_key = key(parent)
        use_decisions = self.mutation == "decisions" and self._decisions is not None
        last = None
        for _ in range(MUTATION_TRIES):
            try:
                child = self._mutate_decisions(parent) if use_decisions else self.space.mutate(parent, self.rng)
            except InvalidArchitecture:
                continue
            k = key(child)
            if k == parent_key:
                continue
            last = child
            if not self.dedup or k not in self._seen:
                return child
        return last

    def _tournament(self) -> Any | None:
        """The parent: best told reward among ``sample_size`` members; None if all failed."""
        members = self.population
        m = min(self.sample_size, len(members))
        picks = self.rng.choice(len(members), size=m, replace=False)
        best_i, best_r = None, -math.inf
        for i in picks:
            r = members[int(i)][1]
            if not math.isnan(r) and r > best_r:
                best_i, best_r = int(i), r
        key = self.space.key
        parent = None if best_i is None else members[best_i][0]
        self.last_tournament = ([key(members[int(i)][0]) for i in picks], None if parent is None else key(parent))
        return parent

    def ask(self) -> Any:
        """A random architecture during the first ``population_size`` asks, then a mutation
        of a tournament winner."""
        arch = None
        self.last_tournament = None
        if len(self.population) + self.pending >= self.population_size and self.population:
            parent = self._tournament()
            if parent is not None:
                arch = self._mutate(parent)
        if arch is None:
            arch = self._random()
        k = self.space.key(arch)
        self._seen.setdefault(k, None)
        self._pending[k] += 1
        self.asked += 1
        return arch

    def _observe(self, arch: Any, reward: float, metrics: Any) -> None:
        k = self.space.key(arch)
        if self._pending.get(k, 0) > 0:
            self._pending[k] -= 1
            if self._pending[k] == 0:
                del self._pending[k]
        self._seen.setdefault(k, None)
        self.population.append((arch, float(reward)))
        while len(self.population) > self.population_size:
            self.population.popleft()

    # -- state ---------------------------------------------------------------------------
    def state_dict(self) -> dict:
        state = super().state_dict()
        state.update({"hyperparameters": self.hyperparameters(), "population": list(self.population),
                      "pending": dict(self._pending), "seen": list(self._seen), "asked": self.asked})
        return state

    def load_state_dict(self, state: dict) -> None:
        if state["hyperparameters"] != self.hyperparameters():
            raise ValueError(f"state was saved with {state['hyperparameters']}, this strategy has "
                             f"{self.hyperparameters()}")
        super().load_state_dict(state)
        self.population = collections.deque((a, float(r)) for a, r in state["population"])
        self._pending = collections.Counter(state["pending"])
        self._seen = dict.fromkeys(state["seen"])
        self.asked = int(state["asked"])
        self.last_tournament = None


__all__ = ["RegularizedEvolution", "MUTATIONS"]

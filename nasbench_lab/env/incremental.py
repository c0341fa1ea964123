"""The incremental NAS environment of the paper (§3.2.1) as a gymnasium ``Env``.

The state is one architecture (a normal/reduction genotype pair for NAS-Bench-301).
Each step the agent sees the current architecture followed by up to ``N`` of its
neighbours (each ``space.encode``-d, zero-padded) and picks an action:

* ``0`` terminates the episode at the current architecture (always allowed),
* ``k >= 1`` moves to ``info["neighbours"][k - 1]`` (allowed iff that neighbour exists).

Transitions are deterministic. The reward of a move from ``s`` to ``s'`` is the
difference of shaped validation accuracy ``g(acc(s')) - g(acc(s))`` with
``g(a) = exp(alpha * a)`` (``alpha=None``: ``g(a) = a``). ``reset`` carries no reward,
which is the paper's "reward 0 at the first timestep"; hence the rewards of an episode
telescope to ``g(acc(final)) - g(acc(initial))``. Terminating earns 0.

When a state has more than ``N`` neighbours, the ``N`` shown ones are a subset chosen
by :func:`shown_positions` from the env's ``seed`` and the state's key (kept in the
space's neighbour order), so the same state always shows the same neighbours for a
given seed, and the vectorised environment (``nasbench_lab.env.vector``) reproduces
them exactly.

>>> import nasbench_lab as nl                                       # doctest: +SKIP
>>> space = nl.spaces.get("nb201")                                   # doctest: +SKIP
>>> env = nl.env.IncrementalEnv(space, bench, n_neighbours=50, alpha=6.0)  # doctest: +SKIP
>>> obs, info = env.reset(seed=0)                                    # doctest: +SKIP
>>> obs, reward, terminated, truncated, info = env.step(1)           # doctest: +SKIP
"""
from __future__ import annotations

import hashlib
import math
import numbers
from collections import OrderedDict
from typing import Any, Sequence

import gymnasium as gym
import numpy as np


def stable_key_hash(key: str) -> int:
    """A 64-bit integer from an architecture key, identical on every machine and run."""
    return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "little")


def shown_positions(n_available: int, n_shown: int, seed: int, key: str) -> np.ndarray:
    """Positions (sorted) of the neighbours shown when a state has more than ``n_shown``.

    The choice is uniform without replacement, drawn from a generator seeded with
    ``(seed, stable_key_hash(key))``: a pure function of the env's seed and the state.

    >>> shown_positions(5, 3, 0, "abc").tolist() == shown_positions(5, 3, 0, "abc").tolist()
    True
    """
    if n_available <= n_shown:
        return np.arange(n_available)
    rng = np.random.default_rng([int(seed) & 0xFFFFFFFF, stable_key_hash(key)])
    return np.sort(rng.choice(n_available, size=n_shown, replace=False))


def check_alpha(alpha: float | None) -> float | None:
    """``alpha`` as a float, or a ValueError when ``exp(alpha * acc)`` is not finite for
    some accuracy in [0, 1] (``alpha=1000`` would make every reward inf - inf = NaN)."""
    if alpha is None:
        return None
    if isinstance(alpha, bool) or not isinstance(alpha, numbers.Real):
        raise TypeError(f"alpha must be a real number or None, got {alpha!r}")
    a = float(alpha)
    try:
        if not math.isfinite(a) or not math.isfinite(math.exp(a)):
            raise OverflowError
    except OverflowError:
        raise ValueError(f"alpha={alpha!r}: exp(alpha * accuracy) overflows float64 (or is NaN) for accuracies in "
                         f"[0, 1] (rewards would be inf or NaN); use alpha <= "
                         f"{math.log(np.finfo(np.float64).max):.1f} (paper: 6 for NB101, 32 for NB301)") from None
    return a


def integral_action(action) -> int:
    """``action`` as an int; a float with a fractional part (or NaN) is refused, never truncated."""
    if isinstance(action, (bool, np.bool_)):
        raise TypeError(f"action must be an integer, got {action!r}")
    if isinstance(action, numbers.Integral):
        return int(action)
    v = action
    if hasattr(action, "item"):  # numpy scalars and arrays, torch tensors
        try:
            v = action.item()
        except (ValueError, RuntimeError):
            raise ValueError(f"action must be one integer, got {action!r}") from None
    if isinstance(v, numbers.Integral) and not isinstance(v, bool):
        return int(v)
    if isinstance(v, float) and math.isfinite(v) and v.is_integer():
        return int(v)
    raise ValueError(f"action must be an integer, got {action!r} (non-integral actions are not truncated)")


def shape_accuracy(acc, alpha: float | None):
    """The shaped accuracy ``exp(alpha * acc)`` (``acc`` itself when ``alpha`` is None)."""
    acc = np.asarray(acc, dtype=np.float64)
    return acc if alpha is None else np.exp(float(alpha) * acc)


class IncrementalEnv(gym.Env):
    """One episode at a time over any SearchSpace + Benchmark.

    Args:
        space: the search space (``sample``, ``neighbours``, ``key``, ``encode``).
        benchmark: answers ``query(arch).validation_accuracy`` (the search signal, seed mean).
        n_neighbours: N, the most neighbours shown per step (paper: 50).
        alpha: reward-shaping exponent (paper: 6 for NB101, 32 for NB301); None: no shaping.
        max_steps: episode length before truncation (paper: 16 training, 32 evaluation).
        seed: seeds the initial-state sampler and the choice of shown neighbours.
        initial_states: a fixed list to draw initial states from (uniformly) instead of
            ``space.sample``; ``reset(options={"arch": a})`` starts at ``a`` explicitly.
        invalid_action: ``"terminate"`` (a masked action ends the episode in place, with
            ``info["invalid_action"] = True``) or ``"raise"`` (ValueError).
        cache_size: architectures whose encoding / accuracy / neighbours are memoised (>= 1).
        reveal_validation: also show the validation accuracy of every shown neighbour
            (``info["neighbour_validation"]``, queried in one batch and memoised): what
            local search sees, charged as one query per shown neighbour (§4.1.2). The
            benchmark is asked once per architecture (results are memoised by key), so its
            counters count distinct architectures, not the charge.

    Observation: ``{"observation": float32 (N+1, encoding_size), "action_mask": int8 (N+1,)}``;
    row 0 is the current architecture, rows 1.. the shown neighbours, zero rows pad.
    ``reset`` and ``step`` return ``info`` with ``arch``, ``key``, ``neighbours``,
    ``action_mask`` (bool), ``validation`` (current accuracy), ``step``, ``terminated``,
    ``truncated`` (and ``neighbour_validation`` with ``reveal_validation``).
    """

    metadata = {"render_modes": []}

    def __init__(self, space, benchmark, n_neighbours: int = 50, alpha: float | None = 6.0,
                 max_steps: int = 16, seed: int = 0, initial_states: Sequence[Any] | None = None,
                 invalid_action: str = "terminate", cache_size: int = 100_000,
                 reveal_validation: bool = False):
        if n_neighbours < 1:
            raise ValueError(f"n_neighbours must be >= 1, got {n_neighbours}")
        if max_steps < 1:
            raise ValueError(f"max_steps must be >= 1, got {max_steps}")
        if invalid_action not in ("terminate", "raise"):
            raise ValueError(f"invalid_action must be 'terminate' or 'raise', got {invalid_action!r}")
        if initial_states is not None and len(initial_states) == 0:
            raise ValueError("initial_states is empty")
        if int(cache_size) < 1:
            raise ValueError(f"cache_size must be >= 1 (the current state and its neighbours are "
                             f"memoised), got {cache_size}")
        self.space = space
        self.benchmark = benchmark
        self.n_neighbours = int(n_neighbours)
        self.alpha = check_alpha(alpha)
        self.max_steps = int(max_steps)
        self.seed = int(seed)
        self.initial_states = None if initial_states is None else list(initial_states)
        self.invalid_action = invalid_action
        self.reveal_validation = bool(reveal_validation)
        self.encoding_size = int(space.encoding_size)
        self.action_space = gym.spaces.Discrete(self.n_neighbours + 1, seed=self.seed)
        self.observation_space = gym.spaces.Dict({
            "observation": gym.spaces.Box(-np.inf, np.inf, (self.n_neighbours + 1, self.encoding_size),
                                          dtype=np.float32),
            "action_mask": gym.spaces.MultiBinary(self.n_neighbours + 1),
        }, seed=self.seed)
        self._cache_size = int(cache_size)
        self._enc: OrderedDict[str, np.ndarray] = OrderedDict()
        self._acc: OrderedDict[str, float] = OrderedDict()
        self._nbr: OrderedDict[str, list] = OrderedDict()
        self._np_random, _ = gym.utils.seeding.np_random(self.seed)
        self._canonical_ok = True
        self.arch = None
        self._shown: list = []
        self._t = 0
        self._done = True

    # -- memoised look-ups --------------------------------------------------------------
    def _remember(self, cache: OrderedDict, key: str, value):
        cache[key] = value
        if len(cache) > self._cache_size:
            cache.popitem(last=False)
        return value

    def _key(self, arch) -> str:
        return self.space.key(arch)

    def accuracy(self, arch) -> float:
        """Validation accuracy (the search signal) of ``arch``, memoised by key."""
        k = self._key(arch)
        if k in self._acc:
            return self._acc[k]
        return self._remember(self._acc, k, float(self.benchmark.query(arch).validation_accuracy))

    def accuracies(self, archs: Sequence[Any]) -> np.ndarray:
        """Validation accuracies of ``archs`` (one batched query for the unseen ones)."""
        keys = [self._key(a) for a in archs]
        new = {k: a for k, a in zip(keys, archs) if k not in self._acc}
        if new:
            vals = np.atleast_1d(np.asarray(self.benchmark.query_batch(list(new.values())).validation_accuracy,
                                            dtype=np.float64))
            for k, v in zip(new, vals):
                self._remember(self._acc, k, float(v))
        return np.asarray([self._acc[k] if k in self._acc else self.accuracy(a) for k, a in zip(keys, archs)],
                          dtype=np.float64)

    def shaped(self, arch) -> float:
        """``exp(alpha * acc)`` of ``arch`` (or ``acc`` when ``alpha`` is None)."""
        return float(shape_accuracy(self.accuracy(arch), self.alpha))

    def _encode(self, arch) -> np.ndarray:
        k = self._key(arch)
        if k not in self._enc:
            self._remember(self._enc, k, np.asarray(self.space.encode(self.canonical(arch)), dtype=np.float32))
        return self._enc[k]

    def canonical(self, arch):
        """The space's own representative of ``arch``'s key (``space.from_key``), so that
        isomorphic encodings of one state (NB101 relabellings) list their neighbours in
        one order; ``arch`` itself where the space cannot rebuild from a key."""
        if self._canonical_ok:
            try:
                return self.space.from_key(self._key(arch))
            except NotImplementedError:
                self._canonical_ok = False
        return arch

    def shown_neighbours(self, arch) -> list:
        """The (at most N) neighbours shown in state ``arch``, in the space's order
        (the order ``space.neighbours`` gives for the canonical representative)."""
        k = self._key(arch)
        if k in self._nbr:
            return self._nbr[k]
        nbrs = list(self.space.neighbours(self.canonical(arch)))
        if len(nbrs) > self.n_neighbours:
            nbrs = [nbrs[i] for i in shown_positions(len(nbrs), self.n_neighbours, self.seed, k)]
        return self._remember(self._nbr, k, nbrs)

    # -- gymnasium API ------------------------------------------------------------------
    def _observe(self):
        n = len(self._shown)
        obs = np.zeros((self.n_neighbours + 1, self.encoding_size), dtype=np.float32)
        archs = [self.arch, *self._shown]
        keys = [self._key(a) for a in archs]
        # encode the space's representative of each key, as the vectorised env does (NB101
        # encodings depend on the vertex numbering of a cell)
        new = {k: self.canonical(a) for k, a in zip(keys, archs) if k not in self._enc}
        if new:  # one batched call for the architectures not seen before
            for k, e in zip(new, self.space.encode_batch(list(new.values()))):
                self._remember(self._enc, k, np.asarray(e, dtype=np.float32))
        for i, k in enumerate(keys):
            obs[i] = self._enc[k] if k in self._enc else self._encode(archs[i])
        mask = np.zeros(self.n_neighbours + 1, dtype=np.int8)
        mask[: n + 1] = 1
        return {"observation": obs, "action_mask": mask}

    def _info(self, terminated=False, truncated=False, invalid=False) -> dict:
        mask = np.zeros(self.n_neighbours + 1, dtype=bool)
        mask[: len(self._shown) + 1] = True
        info = {"arch": self.arch, "key": self._key(self.arch), "neighbours": list(self._shown),
                "action_mask": mask, "validation": self.accuracy(self.arch), "step": self._t,
                "terminated": terminated, "truncated": truncated, "invalid_action": invalid}
        if self.reveal_validation:
            info["neighbour_validation"] = self.accuracies(self._shown) if self._shown else np.empty(0)
        return info

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        """Start an episode: at ``options["arch"]``, else a draw from ``initial_states``
        or ``space.sample`` with the env's generator (reseeded by ``seed``)."""
        super().reset(seed=seed)
        options = options or {}
        if "arch" in options:
            arch = options["arch"]
        elif self.initial_states is not None:
            arch = self.initial_states[int(self.np_random.integers(len(self.initial_states)))]
        else:
            arch = self.space.sample(self.np_random)
        self.arch = arch
        self._t = 0
        self._done = False
        self._shown = self.shown_neighbours(arch)
        return self._observe(), self._info()

    def step(self, action):
        if self._done:
            raise RuntimeError("step() called on a finished episode; call reset() first")
        a = integral_action(action)
        if not 0 <= a <= self.n_neighbours:
            raise ValueError(f"action {a} outside 0..{self.n_neighbours}")
        invalid = a > len(self._shown)
        if invalid and self.invalid_action == "raise":
            raise ValueError(f"action {a} is masked: the state shows {len(self._shown)} neighbours")
        self._t += 1
        if a == 0 or invalid:
            terminated, reward = True, 0.0
        else:
            nxt = self._shown[a - 1]
            reward = self.shaped(nxt) - self.shaped(self.arch)
            self.arch = nxt
            self._shown = self.shown_neighbours(nxt)
            terminated = False
        truncated = (not terminated) and self._t >= self.max_steps
        self._done = terminated or truncated
        return self._observe(), float(reward), terminated, truncated, self._info(terminated, truncated, invalid)

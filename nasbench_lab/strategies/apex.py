"""Ape-X DQN with the paper's transformer Q-network (§3.2.3, Fig. 6), one module, top to bottom.

The agent learns the incremental MDP of :mod:`nasbench_lab.env`: in each state it sees the
current architecture and up to N neighbours, each ``space.encode``-d (Fig. 6, top row), and
picks one of them (token 0, the current architecture, terminates the episode).

Network (Fig. 6, bottom row), :class:`QNetwork`
    an MLP (``encoder_layers`` x Linear + ReLU) maps every shown architecture to T
    dimensions; a learned positional embedding is added (the order of the tokens is the
    order of the actions); a pre-norm transformer encoder (``transformer_layers``, ``heads``,
    ``ff_dim``: the paper does not state them; see :meth:`ApexConfig.paper`) mixes the
    tokens, masked tokens excluded by the key-padding mask; a duelling head gives one
    advantage per token and the state value from the first output token, and
    ``Q = V + A - mean(A over valid actions)``. Masked actions get ``-inf``.

Algorithm (Horgan et al. 2018, RLlib 1.13 defaults where the paper is silent)
    * **actors**: ``n_workers`` x ``envs_per_worker`` environments in one batched
      :class:`~nasbench_lab.env.vector.VectorIncrementalEnv` (torch backend, on the device),
      one forward pass acting for every actor; worker ``i`` explores with
      ``eps_i = epsilon ** (1 + epsilon_alpha * i / (K - 1))`` (:func:`worker_epsilons`),
      drawing a uniformly random *valid* action with probability ``eps_i``. Benchmarks with
      no neighbour table (the NB301 surrogate, live or proxy evaluators) use a list of
      single-episode :class:`~nasbench_lab.env.IncrementalEnv` instead, with the benchmark
      queries of all actors batched into one ``query_batch`` per step.
    * **n-step returns with partial episode bootstrapping**: a transition ``(s_t, a_t)``
      carries ``R = sum_{k<m} gamma^k r_{t+k}`` over ``m = min(n, steps left in the
      episode)`` steps and bootstraps from ``s_{t+m}`` with ``gamma^m``; the terminate
      action is terminal (no bootstrap); a time-limit truncation bootstraps from the real
      final state; no sum crosses an episode boundary (:class:`NStep`).
    * **prioritised replay** (proportional, :class:`PrioritizedReplay`): a flat priority
      array on the device, ``P(i) = p_i^alpha / sum p^alpha`` drawn by cumsum +
      searchsorted, importance weights ``w_i = (P(i) / P_min)^-beta``; new transitions
      enter with the actors' own |TD error| (plus ``per_eps``); replayed ones get their
      new |TD error| + ``per_eps``.
    * **learner**: double Q (the online network picks the next action, the target network
      values it), Huber loss weighted by the importance weights, Adam (``lr``,
      ``adam_eps``), global gradient-norm clip, one batch of ``batch_size`` per
      ``batch_size / training_intensity`` sampled steps once ``learning_starts`` steps are
      sampled; the target network is a hard copy every ``target_update_period`` trained
      samples.

Where this differs from RLlib 1.13 (on purpose)
    * RLlib discounts every n-step bootstrap with ``gamma^n``, also for sums shortened by the
      episode end; here a sum of ``m`` steps uses ``gamma^m`` (the intended algorithm).
    * RLlib divides the replay capacity by the number of replay shards twice (25,000 becomes
      about 6,250 with 4 shards); here ``buffer_size`` is the capacity.
    * Acting and learning alternate in one process (one rollout fragment of every actor,
      then the learner's share of updates), so the actors always act with the newest
      weights instead of weights synced every few hundred steps; the ``"ray"`` backend
      (optional extra) runs actors as Ray actors with periodic weight sync.

Reproducibility: every random choice comes from generators seeded by ``seed`` (network
initialisation under ``torch.random.fork_rng``, environments, exploration, replay); global
RNG state is never touched. On CPU the same seed gives the same training log, and a run
killed and resumed from its checkpoint (``checkpoint_dir``, replay saved) gives the same
log as an uninterrupted one (the wall-clock columns aside).

>>> import nasbench_lab as nl                                              # doctest: +SKIP
>>> from nasbench_lab.strategies.apex import ApexConfig, train              # doctest: +SKIP
>>> bench = nl.benchmarks.load("moons")                                     # doctest: +SKIP
>>> result = train(bench, ApexConfig.small(total_steps=50_000), seed=0)     # doctest: +SKIP
>>> result.log[["env_steps", "mean_final_validation"]].tail()              # doctest: +SKIP
>>> nl.run_protocol(bench, ["random_walk", result.agent])                   # doctest: +SKIP
"""
from __future__ import annotations

import copy
import dataclasses
import hashlib
import io
import math
import time
import weakref
from pathlib import Path
from typing import Any

import numpy as np

from .. import paths
from ..device import default_device, torch_threads
from ..benchmarks.base import benchmark_fingerprint
from .agents import IncrementalAgent

#: columns of the training log (one row per report interval); the last three are wall-clock
LOG_COLUMNS = ("env_steps", "updates", "trained_samples", "episodes", "mean_final_validation",
               "mean_return", "loss", "mean_q", "target_updates", "steps_per_second",
               "updates_per_second", "seconds")
TIMING_COLUMNS = ("steps_per_second", "updates_per_second", "seconds")
CHECKPOINT = "checkpoint.pt"
AGENT_FILE = "agent.pt"
FORMAT_VERSION = 1


# --------------------------------------------------------------------------------------
# configuration
# --------------------------------------------------------------------------------------
@dataclasses.dataclass
class ApexConfig:
    """Every setting of an Ape-X run (defaults: the paper's NB101 run, RLlib 1.13 defaults)."""

    # -- the MDP (paper §3.2, §4.1.1)
    n_neighbours: int = 50
    """N, the most neighbours shown per step."""
    alpha: float | None = 6.0
    """reward-shaping exponent (6 NB101, 32 NB301; None: no shaping)."""
    max_steps: int = 16
    """training episode length before truncation."""
    eval_max_steps: int = 32
    """evaluation episode length (the protocol's ``max_steps``)."""
    gamma: float = 0.9
    """discount factor."""
    n_step: int = 3
    """n of the n-step returns."""
    # -- the network (Fig. 6)
    embed_dim: int = 256
    """T, the width of the architecture encoding and of the transformer."""
    encoder_layers: int = 2
    """Linear + ReLU layers of the architecture encoder."""
    transformer_layers: int = 4
    """transformer encoder layers (the paper does not state them)."""
    heads: int = 8
    """attention heads (the paper does not state them)."""
    ff_dim: int = 1024
    """feed-forward width of each transformer layer (the paper does not state it)."""
    dropout: float = 0.0
    """dropout inside the transformer (RL: none)."""
    # -- the learner
    lr: float = 4e-5
    """Adam learning rate."""
    adam_eps: float = 1e-8
    """Adam epsilon."""
    grad_clip: float = 40.0
    """global gradient-norm clip (None: no clipping)."""
    huber_delta: float = 1.0
    """Huber loss threshold."""
    batch_size: int = 512
    """learner batch (transitions per update)."""
    learning_starts: int = 50_000
    """sampled env steps before the first update."""
    training_intensity: float = 1.0
    """replayed samples per sampled env step."""
    target_update_period: int = 500_000
    """trained samples between hard copies into the target network."""
    double_q: bool = True
    """double Q-learning (online network picks, target network values)."""
    # -- prioritised replay
    buffer_size: int = 25_000
    """replay capacity (transitions)."""
    per_alpha: float = 0.6
    """priority exponent alpha."""
    per_beta: float = 0.4
    """importance-sampling exponent beta."""
    per_eps: float = 1e-6
    """added to every |TD error| priority."""
    actor_priorities: bool = True
    """new transitions enter with the actors' |TD error| (False: the largest priority so far)."""
    # -- the actors
    n_workers: int = 8
    """K, the number of actors (each with its own epsilon)."""
    envs_per_worker: int = 32
    """vectorised environments per actor."""
    rollout_fragment: int = 50
    """steps every environment takes between two learner phases."""
    epsilon: float = 0.4
    """base of the Ape-X exploration schedule."""
    epsilon_alpha: float = 7.0
    """exponent spread of the schedule: ``eps_i = epsilon ** (1 + epsilon_alpha * i / (K - 1))``."""
    # -- the run
    total_steps: int = 10_000_000
    """sampled env steps of the whole run."""
    report_every: int = 50_000
    """env steps between two rows of the training log."""
    checkpoint_every: int = 500_000
    """env steps between two checkpoints (with ``checkpoint_dir``)."""
    save_replay: bool = True
    """store the replay contents in checkpoints (needed for an identical resumed trace)."""
    device: str | None = None
    """torch device (None: ``default_device()``, the GPU when there is one)."""
    torch_threads: int | None = None
    """CPU threads for torch during training (None: unchanged)."""
    backend: str = "local"
    """"local" (one process) or "ray" (actors as Ray actors, optional extra)."""
    weight_sync_every: int = 400
    """ray backend: env steps per actor between two weight syncs."""
    ray_address: str | None = None
    """ray backend: the cluster to attach to when this process is not connected to Ray yet
    (None: ``$RAY_ADDRESS`` or a local instance; ``"auto"``; ``"ray://head:10001"``)."""

    def __post_init__(self) -> None:
        positive = ("n_neighbours", "max_steps", "eval_max_steps", "n_step", "embed_dim", "encoder_layers",
                    "transformer_layers", "heads", "ff_dim", "batch_size", "buffer_size", "n_workers",
                    "envs_per_worker", "rollout_fragment", "total_steps", "report_every",
                    "checkpoint_every", "target_update_period", "weight_sync_every")
        bad = [f"{k}={getattr(self, k)!r}" for k in positive if int(getattr(self, k)) < 1]
        if bad:
            raise ValueError(f"ApexConfig: these must be >= 1: {', '.join(bad)}")
        if not 0.0 <= self.gamma < 1.0:
            raise ValueError(f"ApexConfig: gamma must lie in [0, 1), got {self.gamma}")
        if self.embed_dim % self.heads:
            raise ValueError(f"ApexConfig: embed_dim {self.embed_dim} is not divisible by heads {self.heads}")
        if self.training_intensity <= 0 or self.lr <= 0 or self.learning_starts < 0:
            raise ValueError("ApexConfig: training_intensity and lr must be > 0, learning_starts >= 0")
        if not 0.0 <= self.epsilon <= 1.0:
            raise ValueError(f"ApexConfig: epsilon must lie in [0, 1], got {self.epsilon}")
        if self.backend not in ("local", "ray"):
            raise ValueError(f"ApexConfig: backend must be 'local' or 'ray', got {self.backend!r}")
        if self.ray_address is not None:
            from .._ray import check_address

            try:
                check_address(self.ray_address)
            except ValueError as e:
                raise ValueError(f"ApexConfig: {e}") from None
        if self.alpha is not None and not -700.0 < float(self.alpha) < 700.0:  # exp(alpha * 1) must be finite
            raise ValueError(f"ApexConfig: alpha={self.alpha} overflows the shaped reward")

    @property
    def n_envs(self) -> int:
        """All actors' environments together."""
        return self.n_workers * self.envs_per_worker

    @classmethod
    def paper(cls, name: str, **overrides) -> "ApexConfig":
        """The paper's run on ``"nb101"`` (T=256, alpha 6, 1e7 steps) or ``"nb301"`` (T=512,
        alpha 32, 1.5e7 steps). Our choice where the paper is silent: 4 transformer layers,
        8 heads, feed-forward 4T, a 2-layer encoder.

        >>> ApexConfig.paper("nb301").embed_dim
        512
        """
        presets = {"nb101": dict(embed_dim=256, ff_dim=1024, alpha=6.0, total_steps=10_000_000),
                   "nb301": dict(embed_dim=512, ff_dim=2048, alpha=32.0, total_steps=15_000_000)}
        if name not in presets:
            raise KeyError(f"no paper preset for {name!r}; known: {sorted(presets)}")
        return cls(**{**presets[name], **overrides})

    @classmethod
    def small(cls, **overrides) -> "ApexConfig":
        """A CPU preset: a small network (T=32, 2 layers, 2 heads) and a short run that trains on
        NAS-Bench-201 or NAS-Bench-Moons in minutes on 2 cores. The algorithm and its
        schedule are the paper's; the sizes, the learning rate and the learning start
        are scaled down to the shorter run.

        >>> ApexConfig.small().embed_dim
        32
        """
        base = dict(embed_dim=32, encoder_layers=2, transformer_layers=2, heads=2, ff_dim=64,
                    lr=1e-3, batch_size=128, learning_starts=5_000, target_update_period=25_000,
                    buffer_size=25_000, n_workers=8, envs_per_worker=8, rollout_fragment=16,
                    total_steps=200_000, report_every=10_000, checkpoint_every=50_000, torch_threads=1)
        return cls(**{**base, **overrides})

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "ApexConfig":
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})

    def fingerprint(self) -> dict:
        """What the trace depends on (not where it runs or how often it is saved)."""
        d = self.to_dict()
        for k in ("device", "torch_threads", "checkpoint_every", "save_replay", "report_every", "eval_max_steps",
                  "ray_address"):
            d.pop(k)
        return d


def worker_epsilons(n_workers: int, epsilon: float = 0.4, alpha: float = 7.0) -> np.ndarray:
    """The Ape-X schedule ``eps_i = epsilon ** (1 + alpha * i / (K - 1))`` (K=1: ``epsilon``).

    >>> worker_epsilons(8).round(6).tolist()[:2], float(worker_epsilons(8)[-1].round(6))
    ([0.4, 0.16], 0.000655)
    """
    k = int(n_workers)
    if k < 1:
        raise ValueError(f"n_workers must be >= 1, got {n_workers}")
    i = np.arange(k, dtype=np.float64)
    return float(epsilon) ** (1.0 + float(alpha) * i / max(k - 1, 1))


# --------------------------------------------------------------------------------------
# the network (Fig. 6)
# --------------------------------------------------------------------------------------
def _torch():
    import torch

    return torch


def build_network(input_dim: int, config: ApexConfig, seed: int = 0):
    """A fresh :class:`QNetwork`, initialised from ``seed`` without touching global RNG."""
    torch = _torch()
    with torch.random.fork_rng(devices=[]):
        torch.random.default_generator.manual_seed(int(seed))  # the CPU generator only
        return QNetwork(input_dim, config)


def _network_class():
    torch = _torch()
    nn = torch.nn

    class _QNetwork(nn.Module):
        """Encoder MLP -> + positional embedding -> transformer encoder -> duelling head."""

        def __init__(self, input_dim: int, config: ApexConfig):
            super().__init__()
            t = int(config.embed_dim)
            layers, width = [], int(input_dim)
            for _ in range(int(config.encoder_layers)):
                layers += [nn.Linear(width, t), nn.ReLU()]
                width = t
            self.input_dim = int(input_dim)
            self.max_tokens = int(config.n_neighbours) + 1
            self.encoder = nn.Sequential(*layers)
            self.position = nn.Parameter(torch.randn(self.max_tokens, t) * 0.02)
            layer = nn.TransformerEncoderLayer(t, int(config.heads), int(config.ff_dim), float(config.dropout),
                                               batch_first=True, norm_first=True)
            self.transformer = nn.TransformerEncoder(layer, int(config.transformer_layers),
                                                     norm=nn.LayerNorm(t), enable_nested_tensor=False)
            self.advantage = nn.Linear(t, 1)
            self.value = nn.Linear(t, 1)
            self.dropout = float(config.dropout)

        def train(self, mode: bool = True):
            # Without dropout the two modes compute the same function; the transformer stays
            # on its training code path, which is several times faster for small padded
            # batches than torch's fused inference kernel (and gives the same numbers in
            # acting and learning).
            super().train(mode)
            if self.dropout == 0.0:
                self.transformer.train(True)
            return self

        def forward(self, x, mask):
            """``x`` (B, L, input_dim), ``mask`` (B, L) bool (token 0 always valid) -> Q (B, L)
            with ``-inf`` at masked actions."""
            n = x.shape[1]
            if n > self.max_tokens:
                raise ValueError(f"{n} tokens, the network was built for at most {self.max_tokens} "
                                 f"(n_neighbours={self.max_tokens - 1})")
            h = self.encoder(x) + self.position[:n]
            h = self.transformer(h, src_key_padding_mask=~mask)
            adv = self.advantage(h).squeeze(-1)
            value = self.value(h[:, 0])
            m = mask.to(adv.dtype)
            mean_adv = (adv * m).sum(1, keepdim=True) / m.sum(1, keepdim=True)
            q = value + adv - mean_adv
            return q.masked_fill(~mask, float("-inf"))

    return _QNetwork


class _LazyQNetwork:
    """``QNetwork(input_dim, config)``: the torch module class, built on first use (torch is
    imported lazily so that importing the strategies stays cheap)."""

    _cls = None

    def __call__(self, input_dim: int, config: ApexConfig):
        if _LazyQNetwork._cls is None:
            _LazyQNetwork._cls = _network_class()
        return _LazyQNetwork._cls(input_dim, config)


QNetwork = _LazyQNetwork()


def greedy(q):
    """Greedy actions of a Q batch whose masked entries are ``-inf``."""
    return q.argmax(dim=1)


def random_valid(mask, generator):
    """A uniform draw among each row's valid actions (masked ones are never drawn)."""
    torch = _torch()
    u = torch.rand(mask.shape, generator=generator, device=mask.device)
    return torch.where(mask, u, torch.full_like(u, -1.0)).argmax(dim=1)


def select_actions(q, mask, eps, generator):
    """Epsilon-greedy over valid actions: per row, with probability ``eps`` a random valid
    action, else the greedy one. Returns (actions, explored)."""
    torch = _torch()
    explore = torch.rand(q.shape[0], generator=generator, device=q.device) < eps
    return torch.where(explore, random_valid(mask, generator), greedy(q)), explore


# --------------------------------------------------------------------------------------
# n-step returns with partial episode bootstrapping
# --------------------------------------------------------------------------------------
class NStep:
    """Per-environment windows of the last ``n`` steps, emitting n-step transitions.

    ``push(obs, action, reward, q_sa, next_obs, terminated, ended)`` adds one step of every
    environment (tensors with a leading batch dimension; ``obs``/``next_obs`` dicts of
    tensors) and returns the transitions that are complete: for a running episode with a
    full window, the oldest step (``m = n``, bootstrap ``gamma^n`` from ``next_obs``); for an
    episode that ended, every step still in its window (``m = 1..n``), bootstrapping from the
    real final state with ``gamma^m`` after a truncation and not at all (discount 0) after
    the terminate action. Returned: dict with ``obs, action, ret, next_obs, discount, q_sa``.
    """

    def __init__(self, n: int, gamma: float, n_envs: int, device):
        torch = _torch()
        self.n, self.gamma, self.n_envs, self.device = int(n), float(gamma), int(n_envs), device
        self.action = torch.zeros(n_envs, self.n, dtype=torch.int64, device=device)
        self.reward = torch.zeros(n_envs, self.n, dtype=torch.float64, device=device)
        self.q = torch.zeros(n_envs, self.n, dtype=torch.float32, device=device)
        self.valid = torch.zeros(n_envs, self.n, dtype=torch.bool, device=device)
        self.obs: dict | None = None

    def _shift(self, t, new):
        return _torch().cat([t[:, 1:], new[:, None]], dim=1)

    def push(self, obs: dict, action, reward, q_sa, next_obs: dict, terminated, ended) -> dict | None:
        torch = _torch()
        if self.obs is None:
            self.obs = {k: torch.zeros((self.n_envs, self.n, *v.shape[1:]), dtype=v.dtype, device=self.device)
                        for k, v in obs.items()}
        self.obs = {k: self._shift(self.obs[k], obs[k]) for k in obs}
        self.action = self._shift(self.action, action.long())
        self.reward = self._shift(self.reward, reward.double())
        self.q = self._shift(self.q, q_sa.float())
        self.valid = self._shift(self.valid, torch.ones_like(ended))
        n, g = self.n, self.gamma
        # R_j = sum_{k=j}^{n-1} gamma^(k-j) r_k over the window (invalid slots hold 0)
        ret = torch.zeros_like(self.reward)
        acc = torch.zeros(self.n_envs, dtype=torch.float64, device=self.device)
        for j in range(n - 1, -1, -1):
            acc = self.reward[:, j] + g * acc
            ret[:, j] = acc
        steps = torch.arange(n, 0, -1, device=self.device)  # m_j = n - j
        full = self.valid[:, 0] & ~ended
        emit = self.valid & ended[:, None]
        emit[:, 0] |= full
        disc = torch.where(terminated[:, None], torch.zeros_like(ret), g ** steps.double()[None, :].expand_as(ret))
        env_idx, slot = emit.nonzero(as_tuple=True)
        out = None
        if len(env_idx):
            out = {"obs": {k: v[env_idx, slot] for k, v in self.obs.items()},
                   "action": self.action[env_idx, slot], "ret": ret[env_idx, slot].float(),
                   "next_obs": {k: v[env_idx] for k, v in next_obs.items()},
                   "discount": disc[env_idx, slot].float(), "q_sa": self.q[env_idx, slot]}
        # ended episodes start empty; a full window drops its oldest step
        self.valid = self.valid & ~ended[:, None]
        self.valid[:, 0] &= ~full
        return out

    def state_dict(self) -> dict:
        return {"action": self.action, "reward": self.reward, "q": self.q, "valid": self.valid, "obs": self.obs}

    def load_state_dict(self, s: dict) -> None:
        self.action, self.reward, self.q, self.valid = (s["action"].to(self.device), s["reward"].to(self.device),
                                                        s["q"].to(self.device), s["valid"].to(self.device))
        self.obs = None if s["obs"] is None else {k: v.to(self.device) for k, v in s["obs"].items()}


# --------------------------------------------------------------------------------------
# prioritised replay (proportional)
# --------------------------------------------------------------------------------------
class PrioritizedReplay:
    """A circular buffer of transitions (dicts of tensors) with proportional priorities.

    ``P(i) = p_i^alpha / sum_j p_j^alpha``; importance weights ``w_i = (N P(i))^-beta``
    normalised by their largest possible value, i.e. ``w_i = (P(i) / P_min)^-beta``.
    Sampling draws ``batch`` indices with replacement by a cumulative sum and
    ``searchsorted`` over the flat priority array (a sum tree is not needed at this size).
    """

    def __init__(self, capacity: int, alpha: float, beta: float, eps: float, device, generator):
        torch = _torch()
        self.capacity, self.alpha, self.beta, self.eps = int(capacity), float(alpha), float(beta), float(eps)
        self.device, self.generator = device, generator
        self.priority = torch.zeros(self.capacity, dtype=torch.float64, device=device)  # p_i^alpha
        self.data: dict | None = None
        self.size = 0
        self.pos = 0
        self.max_priority = 1.0

    def _alloc(self, batch: dict) -> dict:
        torch = _torch()

        def empty(v):
            if isinstance(v, dict):
                return {k: empty(x) for k, x in v.items()}
            return torch.zeros((self.capacity, *v.shape[1:]), dtype=v.dtype, device=self.device)
        return empty(batch)

    def add(self, batch: dict, priorities=None) -> None:
        """Add transitions (leading dimension k) with raw priorities |td| (None: the max so far)."""
        torch = _torch()
        k = len(batch["action"])
        if k == 0:
            return
        if self.data is None:
            self.data = self._alloc(batch)
        if priorities is None:
            priorities = torch.full((k,), self.max_priority, dtype=torch.float64, device=self.device)
        else:
            priorities = priorities.double().abs() + self.eps
            self.max_priority = max(self.max_priority, float(priorities.max()))
        if k > self.capacity:  # only the newest fit
            batch = _index(batch, slice(k - self.capacity, k))
            priorities = priorities[k - self.capacity:]
            k = self.capacity
        idx = (self.pos + torch.arange(k, device=self.device)) % self.capacity
        _assign(self.data, idx, batch)
        self.priority[idx] = priorities ** self.alpha
        self.pos = (self.pos + k) % self.capacity
        self.size = min(self.size + k, self.capacity)

    def probabilities(self):
        p = self.priority[: self.size]
        return p / p.sum()

    def sample(self, batch: int):
        """``(indices, weights, transitions)`` of ``batch`` draws."""
        torch = _torch()
        if self.size == 0:
            raise RuntimeError("sampling from an empty replay buffer")
        p = self.priority[: self.size]
        cum = torch.cumsum(p, 0)
        total = cum[-1]
        u = torch.rand(batch, generator=self.generator, device=self.device, dtype=torch.float64) * total
        idx = torch.searchsorted(cum, u, right=True).clamp_(max=self.size - 1)
        prob = p[idx] / total
        p_min = p.min() / total
        weights = (prob / p_min) ** (-self.beta)
        return idx, weights.float(), _index(self.data, idx)

    def update(self, idx, td) -> None:
        """New priorities ``|td| + eps`` for the replayed ``idx``."""
        pr = td.detach().double().abs() + self.eps
        self.max_priority = max(self.max_priority, float(pr.max()))
        self.priority[idx] = pr ** self.alpha

    def state_dict(self, with_data: bool = True) -> dict:
        return {"priority": self.priority if with_data else None, "data": self.data if with_data else None,
                "size": self.size if with_data else 0, "pos": self.pos if with_data else 0,
                "max_priority": self.max_priority if with_data else 1.0}

    def load_state_dict(self, s: dict) -> None:
        if s["priority"] is not None:
            self.priority = s["priority"].to(self.device)
        self.data = None if s["data"] is None else _to(s["data"], self.device)
        self.size, self.pos, self.max_priority = int(s["size"]), int(s["pos"]), float(s["max_priority"])


def _index(d: dict, idx) -> dict:
    return {k: (_index(v, idx) if isinstance(v, dict) else v[idx]) for k, v in d.items()}


def _assign(dst: dict, idx, src: dict) -> None:
    for k, v in src.items():
        if isinstance(v, dict):
            _assign(dst[k], idx, v)
        else:
            dst[k][idx] = v


def _to(d: dict, device) -> dict:
    return {k: (_to(v, device) if isinstance(v, dict) else v.to(device)) for k, v in d.items()}


def _cat(parts: list[dict]) -> dict:
    torch = _torch()
    return {k: (_cat([p[k] for p in parts]) if isinstance(parts[0][k], dict) else torch.cat([p[k] for p in parts]))
            for k in parts[0]}


# --------------------------------------------------------------------------------------
# the actors' environments: a batched tabular env, or a list of single-episode envs
# --------------------------------------------------------------------------------------
def is_tabular(benchmark) -> bool:
    """Whether the actors can run in one :class:`VectorIncrementalEnv` (a table with rows
    over a finite space whose neighbour table can be built)."""
    space = getattr(benchmark, "space", None)
    return (space is not None and getattr(space, "size", None) is not None
            and all(hasattr(benchmark, a) for a in ("rows", "validation", "keys", "arch")))


class TableActors:
    """All actors' episodes in one torch ``VectorIncrementalEnv`` with autoreset.

    Stored observations are state rows (``{"row": (B,)}``): a state's shown neighbours are
    fixed by the neighbour table, so ``decode`` rebuilds the tokens and encodings on the
    device with two gathers.
    """

    def __init__(self, benchmark, n_envs: int, config: ApexConfig, seed: int, device: str,
                 stream: int | None = None):
        from ..env.neighbours import neighbour_table
        from ..env.vector import VectorIncrementalEnv

        self.benchmark = benchmark
        table = neighbour_table(benchmark.space, benchmark)  # memoised per benchmark in this process
        self.venv = VectorIncrementalEnv.from_benchmark(
            benchmark, n_envs=n_envs, table=table, n_neighbours=config.n_neighbours, alpha=config.alpha,
            max_steps=config.max_steps, seed=seed, backend="torch", device=device, autoreset=True)
        if stream is not None:  # another actor's initial states; the same shown neighbours (``seed``)
            self.venv._rng.manual_seed(int(np.random.SeedSequence([seed, 4, stream]).generate_state(1)[0]))
        self.device = device
        self.input_dim = int(benchmark.space.encoding_size)
        self.venv.encode(np.zeros(1, np.int64))  # builds the encoding table on the device
        self._enc = self.venv._enc_table
        self._shown = self.venv._shown
        self._validation = self.venv.validation

    def reset(self) -> dict:
        self.venv.reset()
        return {"row": self.venv.rows.clone()}

    def decode(self, obs: dict):
        torch = _torch()
        rows = obs["row"]
        tokens = torch.cat([rows[:, None], self._shown[rows]], dim=1)
        mask = tokens >= 0
        return self._enc[tokens], mask

    def step(self, actions):
        """``(next_obs, reward, terminated, ended, final_obs, final_validation)``; for ended
        episodes ``next_obs`` is the new episode's first state, ``final_obs`` the last one."""
        _, reward, terminated, truncated, info = self.venv.step(actions)
        ended = terminated | truncated
        final = info["final_rows"]
        final_obs = {"row": _torch().where(ended, final, self.venv.rows)}
        final_val = self._validation[final.clamp(min=0)]
        return {"row": self.venv.rows.clone()}, reward, terminated, ended, final_obs, final_val

    def state_dict(self) -> dict:
        v = self.venv
        return {"rows": v.rows, "t": v.t, "done": v.done, "rng": v._rng.get_state()}

    def load_state_dict(self, s: dict) -> None:
        v = self.venv
        v.rows, v.t, v.done = s["rows"].to(self.device), s["t"].to(self.device), s["done"].to(self.device)
        v._rng.set_state(s["rng"].cpu())  # generator states are CPU byte tensors, even for cuda


class ListActors:
    """All actors' episodes as a list of :class:`~nasbench_lab.env.IncrementalEnv` (for
    benchmarks without a neighbour table: the NB301 surrogate, live training, proxies).

    The benchmark queries of every step are batched across the actors into one
    ``query_batch``; stored observations are the encodings themselves (float16) and masks.
    """

    def __init__(self, benchmark, n_envs: int, config: ApexConfig, seed: int, device: str,
                 stream: int | None = None):
        from ..env.incremental import IncrementalEnv

        self.benchmark = benchmark
        self.space = benchmark.space
        self.device = device
        self.input_dim = int(self.space.encoding_size)
        self.envs = [IncrementalEnv(self.space, benchmark, n_neighbours=config.n_neighbours, alpha=config.alpha,
                                    max_steps=config.max_steps, seed=seed) for _ in range(n_envs)]
        # one set of memo caches for every env: encodings, accuracies and shown neighbours are
        # functions of the key (and of the shared seed)
        env0 = self.envs[0]
        for e in self.envs[1:]:
            e._enc, e._acc, e._nbr = env0._enc, env0._acc, env0._nbr
        self.rng = np.random.default_rng([int(seed), 0x5EED] + ([] if stream is None else [int(stream)]))
        self._obs: list = [None] * n_envs
        self._info: list = [None] * n_envs

    def _prefetch(self, archs: list) -> None:
        """One ``query_batch`` for the accuracies the envs have not memoised yet."""
        env0 = self.envs[0]
        todo: dict[str, Any] = {}
        for a in archs:
            k = self.space.key(a)
            if k not in env0._acc and k not in todo:
                todo[k] = a
        if todo:
            vals = np.asarray(self.benchmark.query_batch(list(todo.values())).validation_accuracy, dtype=float)
            for k, v in zip(todo, vals):
                env0._remember(env0._acc, k, float(v))  # the cache all envs share

    def _reset_one(self, i: int):
        arch = self.space.sample(self.rng)
        self._prefetch([arch])
        self._obs[i], self._info[i] = self.envs[i].reset(options={"arch": arch})

    def _stack(self) -> dict:
        torch = _torch()
        x = np.stack([o["observation"] for o in self._obs]).astype(np.float16)
        m = np.stack([o["action_mask"] for o in self._obs]).astype(bool)
        return {"x": torch.as_tensor(x, device=self.device), "mask": torch.as_tensor(m, device=self.device)}

    def reset(self) -> dict:
        for i in range(len(self.envs)):
            self._reset_one(i)
        return self._stack()

    def decode(self, obs: dict):
        return obs["x"].float(), obs["mask"]

    def step(self, actions):
        torch = _torch()
        acts = actions.cpu().numpy()
        self._prefetch([self._info[i]["neighbours"][a - 1] for i, a in enumerate(acts)
                        if 0 < a <= len(self._info[i]["neighbours"])])
        n = len(self.envs)
        reward = np.zeros(n)
        term = np.zeros(n, bool)
        ended = np.zeros(n, bool)
        fval = np.zeros(n)
        final = []
        for i, (env, a) in enumerate(zip(self.envs, acts)):
            obs, r, te, tr, info = env.step(int(a))
            reward[i], term[i], ended[i] = r, te, te or tr
            self._obs[i], self._info[i] = obs, info
            if te or tr:
                fval[i] = info["validation"]
                final.append(i)
        final_obs = self._stack()
        for i in final:
            self._reset_one(i)
        nxt = self._stack() if final else final_obs
        t = lambda a, dt: torch.as_tensor(a, device=self.device, dtype=dt)  # noqa: E731
        return nxt, t(reward, torch.float64), t(term, torch.bool), t(ended, torch.bool), final_obs, \
            t(fval, torch.float64)

    def state_dict(self) -> dict:
        return {"keys": [self.space.key(e.arch) for e in self.envs], "t": [e._t for e in self.envs],
                "rng": self.rng.bit_generator.state}

    def load_state_dict(self, s: dict) -> None:
        self.rng.bit_generator.state = s["rng"]
        for i, (e, k, t) in enumerate(zip(self.envs, s["keys"], s["t"])):
            arch = self.space.from_key(k)
            self._prefetch([arch])
            self._obs[i], self._info[i] = e.reset(options={"arch": arch})
            e._t = int(t)


# --------------------------------------------------------------------------------------
# the trained agent
# --------------------------------------------------------------------------------------
class ApexAgent(IncrementalAgent):
    """The Ape-X Q-network as an incremental agent: greedy (epsilon 0) actions.

    Built like every strategy, ``ApexAgent(space_or_benchmark, seed=0, config=None)`` (an
    untrained network initialised from ``seed``); :func:`train` returns a trained one.
    ``act(observation, info)`` acts in :class:`~nasbench_lab.env.IncrementalEnv`,
    ``act_batch(obs, venv)`` in the vectorised env (so the evaluation protocol runs it
    vectorised on tabular benchmarks); the agent object can be passed to ``run_protocol``
    wherever a strategy name can. ``save(path)`` / ``ApexAgent.load(path)``.
    """

    name = "apex"
    counts_neighbour_queries = False

    def __init__(self, space_or_benchmark: Any = None, seed: int = 0, config: ApexConfig | None = None,
                 network=None, input_dim: int | None = None, device: str | None = None):
        super().__init__(space_or_benchmark, seed)
        space = getattr(space_or_benchmark, "space", None) or space_or_benchmark
        self.config = config or ApexConfig.small()
        if input_dim is None:
            if space is None or not hasattr(space, "encoding_size"):
                raise ValueError("ApexAgent needs a space (or benchmark) or input_dim to size its network")
            input_dim = int(space.encoding_size)
        self.input_dim = int(input_dim)
        self.space_name = getattr(space, "name", None)
        self.device = device or "cpu"
        self.network = network if network is not None else build_network(self.input_dim, self.config, seed)
        self.network.to(self.device).eval()
        self.label: str | None = None
        self.chunk = 4096
        self._policy: dict = {}

    # -- acting ---------------------------------------------------------------------------
    def q_values(self, x, mask):
        """Q (B, L) for encodings ``x`` (B, L, D) and ``mask`` (B, L) (numpy or torch)."""
        torch = _torch()
        x = torch.as_tensor(np.asarray(x) if not isinstance(x, torch.Tensor) else x, dtype=torch.float32,
                            device=self.device)
        mask = torch.as_tensor(np.asarray(mask) if not isinstance(mask, torch.Tensor) else mask, dtype=torch.bool,
                               device=self.device)
        if x.shape[-1] != self.input_dim:
            raise ValueError(f"observations have {x.shape[-1]} features, the agent was trained on "
                             f"{self.input_dim} (space {self.space_name!r})")
        used = int(mask.any(0).nonzero().max()) + 1  # drop all-padding columns
        x, mask = x[:, :used], mask[:, :used]
        with torch.no_grad(), torch_threads(self.config.torch_threads):
            out = [self.network(x[i: i + self.chunk], mask[i: i + self.chunk]) for i in range(0, len(x), self.chunk)]
        return torch.cat(out)

    def act(self, observation, info) -> int:
        from .agents import action_mask

        mask = action_mask(observation, info)
        x = observation["observation"] if isinstance(observation, dict) else observation
        q = self.q_values(np.asarray(x)[None], mask[None])
        return int(greedy(q)[0])

    def act_batch(self, obs: dict, venv) -> np.ndarray:
        """Greedy actions for a batch of the vectorised env. In a tabular env a state's
        observation is a function of its row (the shown neighbours are fixed by the table),
        so the greedy action of each row is computed once per env and reused."""
        rows_ = obs["rows"]
        cur = (rows_.cpu().numpy() if hasattr(rows_, "cpu") else np.asarray(rows_))[:, 0]
        ref, policy = self._policy.get(id(venv), (None, None))
        if ref is None or ref() is not venv:
            policy = np.full(int(venv.table.n_rows), -1, dtype=np.int64)
            self._policy[id(venv)] = (weakref.ref(venv), policy)
        need = np.unique(cur[policy[cur] < 0])
        for lo in range(0, len(need), self.chunk):
            rows = need[lo: lo + self.chunk]
            tokens = np.full((len(rows), venv.n_neighbours + 1), -1, dtype=np.int64)
            tokens[:, 0] = rows
            shown = venv._shown[rows]
            tokens[:, 1: venv.width + 1] = shown.cpu().numpy() if hasattr(shown, "cpu") else np.asarray(shown)
            x = venv.encode(tokens)
            policy[rows] = greedy(self.q_values(x, tokens >= 0)).cpu().numpy()
        return policy[cur].copy()

    # -- state ----------------------------------------------------------------------------
    def state_dict(self) -> dict:
        return {**super().state_dict(), "network": {k: v.detach().cpu().clone()
                                                    for k, v in self.network.state_dict().items()},
                "config": self.config.to_dict(), "input_dim": self.input_dim, "space": self.space_name}

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        self.network.load_state_dict(state["network"])
        self._policy = {}

    def fingerprint(self) -> str:
        """A digest of the weights (the protocol keys its stored results by it)."""
        h = hashlib.blake2b(digest_size=16)
        for k, v in sorted(self.network.state_dict().items()):
            h.update(k.encode())
            h.update(v.detach().cpu().numpy().tobytes())
        return h.hexdigest()

    def save(self, path) -> Path:
        """Write the agent (weights, config, seed) atomically to ``path``."""
        torch = _torch()
        path = Path(path)
        payload = {"format": FORMAT_VERSION, "kind": "apex-agent", **self.state_dict(), "label": self.label}
        with paths.atomic_write(path, suffix=".pt") as tmp:
            torch.save(payload, tmp)
        return path

    @classmethod
    def load(cls, path, device: str | None = None) -> "ApexAgent":
        """An agent written by :meth:`save` (or the ``agent.pt`` of a training checkpoint dir)."""
        torch = _torch()
        path = Path(path)
        if path.is_dir():
            path = path / AGENT_FILE
        try:
            payload = torch.load(path, map_location="cpu", weights_only=True)
        except FileNotFoundError:
            raise
        except Exception as e:  # noqa: BLE001 - a truncated or foreign file
            raise ValueError(f"{path} is not a readable Ape-X agent file ({type(e).__name__}: {e})") from e
        if not isinstance(payload, dict) or payload.get("kind") != "apex-agent":
            raise ValueError(f"{path} is not an Ape-X agent file")
        return _agent_from_payload(payload, device or "cpu", cls)

    def __reduce__(self):
        """Pickled as its saved payload (weights, config, seed, label), so an agent crosses
        into worker processes (``experiment.compare(workers=...)``); the network class is
        built at run time and cannot be pickled by reference."""
        return (_agent_from_payload, ({"kind": "apex-agent", **self.state_dict(), "label": self.label},
                                      self.device))

    def __repr__(self) -> str:
        return f"ApexAgent(seed={self.seed}, space={self.space_name!r}, T={self.config.embed_dim})"


def _agent_from_payload(payload: dict, device: str = "cpu", cls=None) -> ApexAgent:
    """The agent of a :meth:`ApexAgent.save` payload (also how an agent is unpickled)."""
    cls = cls or ApexAgent
    agent = cls(None, seed=int(payload["seed"]), config=ApexConfig.from_dict(payload["config"]),
                input_dim=int(payload["input_dim"]), device=device)
    agent.space_name = payload.get("space")
    agent.load_state_dict(payload)
    agent.label = payload.get("label")
    return agent


def load_agent(path, device: str | None = None) -> ApexAgent:
    """Load an agent saved with :meth:`ApexAgent.save`."""
    return ApexAgent.load(path, device=device)


# --------------------------------------------------------------------------------------
# training
# --------------------------------------------------------------------------------------
@dataclasses.dataclass
class TrainResult:
    """What :func:`train` returns."""

    agent: ApexAgent
    """the trained agent (greedy), on the CPU."""
    log: Any
    """the training log, one row per report interval (``LOG_COLUMNS``)."""
    config: ApexConfig
    """the configuration of the run."""
    seconds: float = 0.0
    """wall time of this call (excluding time spent before a resume)."""


class _Accumulator:
    """Sums between two log rows (saved in checkpoints, so a resumed log is identical)."""

    def __init__(self):
        self.episodes = 0
        self.final_val = 0.0
        self.ret = 0.0
        self.loss = 0.0
        self.q = 0.0
        self.updates = 0

    def state_dict(self) -> dict:
        return dict(vars(self))

    def load_state_dict(self, s: dict) -> None:
        vars(self).update(s)


def _huber(x, delta: float):
    torch = _torch()
    a = x.abs()
    return torch.where(a <= delta, 0.5 * x * x, delta * (a - 0.5 * delta))


def learner_update(online, target, optimiser, replay: PrioritizedReplay, decode, cfg: ApexConfig):
    """One learner update: a prioritised batch, double-Q n-step targets from the target
    network, the IS-weighted Huber loss, a clipped Adam step, new priorities.
    Returns ``(loss, mean Q(s, a))`` as floats."""
    torch = _torch()
    idx, w, b = replay.sample(cfg.batch_size)
    x, m = decode(b["obs"])
    x2, m2 = decode(b["next_obs"])
    online.train()
    q = online(x, m)
    q_sa = q.gather(1, b["action"][:, None]).squeeze(1)
    with torch.no_grad():
        q2_target = target(x2, m2)
        a2 = greedy(online(x2, m2)) if cfg.double_q else greedy(q2_target)
        boot = q2_target.gather(1, a2[:, None]).squeeze(1)
        y = b["ret"] + b["discount"] * torch.where(b["discount"] > 0, boot, torch.zeros_like(boot))
    td = y - q_sa
    loss = (w * _huber(td, cfg.huber_delta)).mean()
    optimiser.zero_grad(set_to_none=True)
    loss.backward()
    if cfg.grad_clip:
        torch.nn.utils.clip_grad_norm_(online.parameters(), cfg.grad_clip)
    optimiser.step()
    replay.update(idx, td)
    return float(loss.detach()), float(q_sa.detach().mean())


def rollout_fragment(actors, online, obs: dict, nstep: NStep, eps, generator, ep_return, steps: int):
    """``steps`` epsilon-greedy steps of every env in ``actors``: the n-step transitions they
    complete and the sums over the episodes that ended. Returns ``(obs, ep_return, pending,
    stats)`` with ``stats = {"episodes", "final_validation", "return"}`` (sums)."""
    torch = _torch()
    pending, stats = [], {"episodes": 0, "final_validation": 0.0, "return": 0.0}
    online.eval()
    for _ in range(steps):
        with torch.no_grad():
            x, m = actors.decode(obs)
            q = online(x, m)
        actions, _ = select_actions(q, m, eps, generator)
        q_sa = q.gather(1, actions[:, None]).squeeze(1)
        nxt, reward, term, ended, final_obs, final_val = actors.step(actions)
        t = nstep.push(obs, actions, reward, q_sa, final_obs, term, ended)
        if t is not None:
            pending.append(t)
        ep_return = ep_return + reward
        if bool(ended.any()):
            stats["episodes"] += int(ended.sum())
            stats["final_validation"] += float(final_val[ended].sum())
            stats["return"] += float(ep_return[ended].sum())
            ep_return = torch.where(ended, torch.zeros_like(ep_return), ep_return)
        obs = nxt
    return obs, ep_return, pending, stats


def actor_priorities(online, target, decode, batch: dict, cfg: ApexConfig, chunk: int = 4096):
    """The actors' initial priorities of new transitions: their |TD error| under the
    current networks (double Q), or None when ``cfg.actor_priorities`` is off."""
    if not cfg.actor_priorities:
        return None
    torch = _torch()
    with torch.no_grad():
        x2, m2 = decode(batch["next_obs"])
        out = []
        for i in range(0, len(x2), chunk):
            qt = target(x2[i:i + chunk], m2[i:i + chunk])
            a2 = greedy(online(x2[i:i + chunk], m2[i:i + chunk])) if cfg.double_q else greedy(qt)
            out.append(qt.gather(1, a2[:, None]).squeeze(1))
        boot = torch.cat(out)
        y = batch["ret"] + batch["discount"] * torch.where(batch["discount"] > 0, boot, torch.zeros_like(boot))
        return (y - batch["q_sa"]).abs()


def train(benchmark, config: ApexConfig | None = None, seed: int = 0, checkpoint_dir=None,
          progress: bool = True, _stop_after: int | None = None) -> TrainResult:
    """Train an Ape-X agent on ``benchmark``; see the module docstring.

    With ``checkpoint_dir`` the run writes ``checkpoint.pt`` atomically every
    ``checkpoint_every`` env steps and at the end (plus ``agent.pt``, the trained agent),
    and a call with the same directory resumes from it (a finished run returns at once).
    Returns a :class:`TrainResult` with ``.agent`` and ``.log``.
    """
    cfg = config or ApexConfig.small()
    if cfg.backend == "ray":
        from ._apex_ray import train_ray

        return train_ray(benchmark, cfg, seed=seed, checkpoint_dir=checkpoint_dir, progress=progress)
    with torch_threads(cfg.torch_threads):
        return _train_local(benchmark, cfg, int(seed), checkpoint_dir, progress, _stop_after)


def _train_local(benchmark, cfg: ApexConfig, seed: int, checkpoint_dir, progress: bool,
                 stop_after: int | None) -> TrainResult:
    import pandas as pd
    import torch
    from tqdm.auto import tqdm

    t_start = time.perf_counter()
    device = str(cfg.device or default_device())
    n_envs = cfg.n_envs
    # -- 1. environments (one batch over every actor), exploration per worker
    actors_cls = TableActors if is_tabular(benchmark) else ListActors
    actors = actors_cls(benchmark, n_envs, cfg, seed, device)
    eps = torch.as_tensor(np.repeat(worker_epsilons(cfg.n_workers, cfg.epsilon, cfg.epsilon_alpha),
                                    cfg.envs_per_worker), dtype=torch.float32, device=device)
    # -- 2. networks, optimiser, generators
    online = build_network(actors.input_dim, cfg, seed).to(device)
    target = copy.deepcopy(online).eval()
    for p in target.parameters():
        p.requires_grad_(False)
    optimiser = torch.optim.Adam(online.parameters(), lr=cfg.lr, eps=cfg.adam_eps)
    explore_rng = torch.Generator(device=device)
    explore_rng.manual_seed(int(np.random.SeedSequence([seed, 1]).generate_state(1)[0]))
    replay_rng = torch.Generator(device=device)
    replay_rng.manual_seed(int(np.random.SeedSequence([seed, 2]).generate_state(1)[0]))
    replay = PrioritizedReplay(cfg.buffer_size, cfg.per_alpha, cfg.per_beta, cfg.per_eps, device, replay_rng)
    nstep = NStep(cfg.n_step, cfg.gamma, n_envs, device)
    ep_return = torch.zeros(n_envs, dtype=torch.float64, device=device)
    acc = _Accumulator()
    counters = {"env_steps": 0, "updates": 0, "trained_samples": 0, "episodes": 0, "target_updates": 0,
                "last_target_sync": 0, "owed": 0.0, "next_report": cfg.report_every,
                "next_checkpoint": cfg.checkpoint_every}
    log_rows: list[dict] = []
    fingerprint = {"config": cfg.fingerprint(), "seed": seed, "benchmark": benchmark_fingerprint(benchmark),
                   "actors": actors_cls.__name__, "device_type": device.split(":")[0]}
    ckpt_dir = Path(checkpoint_dir) if checkpoint_dir is not None else None
    obs = actors.reset()

    def checkpoint_state() -> dict:
        return {"format": FORMAT_VERSION, "kind": "apex-checkpoint", "fingerprint": fingerprint,
                "online": online.state_dict(), "target": target.state_dict(), "optimiser": optimiser.state_dict(),
                "explore_rng": explore_rng.get_state(), "replay_rng": replay_rng.get_state(),
                "replay": replay.state_dict(with_data=cfg.save_replay), "nstep": nstep.state_dict(),
                "actors": actors.state_dict(), "obs": obs, "ep_return": ep_return, "acc": acc.state_dict(),
                "counters": dict(counters), "log": log_rows}

    def save_checkpoint() -> None:
        if ckpt_dir is None:
            return
        ckpt_dir.mkdir(parents=True, exist_ok=True)
        buf = io.BytesIO()
        torch.save(checkpoint_state(), buf)
        with paths.atomic_write(ckpt_dir / CHECKPOINT, suffix=".pt") as tmp:
            tmp.write_bytes(buf.getvalue())

    # -- 3. resume
    if ckpt_dir is not None and (ckpt_dir / CHECKPOINT).exists():
        f = ckpt_dir / CHECKPOINT
        try:
            state = torch.load(f, map_location=device, weights_only=True)
        except Exception as e:  # noqa: BLE001
            raise ValueError(f"{f}: unreadable checkpoint ({type(e).__name__}: {e}); delete it to start over") from e
        if state.get("kind") != "apex-checkpoint" or state.get("format") != FORMAT_VERSION:
            raise ValueError(f"{f} is not an Ape-X checkpoint of format {FORMAT_VERSION}")
        if state["fingerprint"] != fingerprint:
            old, new = state["fingerprint"], fingerprint
            diff = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
            if "config" in diff:
                diff += [f"config.{k}" for k in new["config"] if old["config"].get(k) != new["config"][k]]
            raise ValueError(f"{ckpt_dir} holds a run with another configuration (differs in {diff}); "
                             "use another checkpoint_dir or remove it")
        online.load_state_dict(state["online"])
        target.load_state_dict(state["target"])
        optimiser.load_state_dict(state["optimiser"])
        explore_rng.set_state(state["explore_rng"].cpu())
        replay_rng.set_state(state["replay_rng"].cpu())
        replay.load_state_dict(state["replay"])
        nstep.load_state_dict(state["nstep"])
        actors.load_state_dict(state["actors"])
        obs = _to(state["obs"], device)
        ep_return = state["ep_return"].to(device)
        acc.load_state_dict(state["acc"])
        counters.update(state["counters"])
        log_rows = list(state["log"])

    # -- 4. the loop: one rollout fragment of every actor, then the learner's share
    def learner_step() -> None:
        loss, q_mean = learner_update(online, target, optimiser, replay, actors.decode, cfg)
        counters["updates"] += 1
        counters["trained_samples"] += cfg.batch_size
        acc.loss += loss
        acc.q += q_mean
        acc.updates += 1
        if counters["trained_samples"] - counters["last_target_sync"] >= cfg.target_update_period:
            target.load_state_dict(online.state_dict())
            counters["last_target_sync"] = counters["trained_samples"]
            counters["target_updates"] += 1

    bar = tqdm(total=cfg.total_steps, initial=counters["env_steps"], desc=f"ape-x seed {seed}", unit="step",
               disable=not progress, smoothing=0.1)
    interval_t0, interval_steps0, interval_updates0 = time.perf_counter(), counters["env_steps"], counters["updates"]
    stepped = counters["env_steps"] < cfg.total_steps
    while counters["env_steps"] < cfg.total_steps:
        obs, ep_return, pending, stats = rollout_fragment(actors, online, obs, nstep, eps, explore_rng, ep_return,
                                                          cfg.rollout_fragment)
        acc.episodes += stats["episodes"]
        counters["episodes"] += stats["episodes"]
        acc.final_val += stats["final_validation"]
        acc.ret += stats["return"]
        counters["env_steps"] += cfg.rollout_fragment * n_envs
        bar.update(cfg.rollout_fragment * n_envs)
        if pending:
            batch = _cat(pending)
            replay.add(batch, actor_priorities(online, target, actors.decode, batch, cfg))
        if counters["env_steps"] >= cfg.learning_starts and replay.size > 0:
            counters["owed"] += cfg.rollout_fragment * n_envs * cfg.training_intensity
            n_updates = int(counters["owed"] // cfg.batch_size)
            counters["owed"] -= n_updates * cfg.batch_size
            for _ in range(n_updates):
                learner_step()
        if counters["env_steps"] >= counters["next_report"] or counters["env_steps"] >= cfg.total_steps:
            now = time.perf_counter()
            dt = max(now - interval_t0, 1e-9)
            row = {"env_steps": counters["env_steps"], "updates": counters["updates"],
                   "trained_samples": counters["trained_samples"], "episodes": counters["episodes"],
                   "mean_final_validation": acc.final_val / acc.episodes if acc.episodes else math.nan,
                   "mean_return": acc.ret / acc.episodes if acc.episodes else math.nan,
                   "loss": acc.loss / acc.updates if acc.updates else math.nan,
                   "mean_q": acc.q / acc.updates if acc.updates else math.nan,
                   "target_updates": counters["target_updates"],
                   "steps_per_second": (counters["env_steps"] - interval_steps0) / dt,
                   "updates_per_second": (counters["updates"] - interval_updates0) / dt,
                   "seconds": now - t_start}
            log_rows.append(row)
            acc = _Accumulator()
            while counters["next_report"] <= counters["env_steps"]:
                counters["next_report"] += cfg.report_every
            interval_t0, interval_steps0, interval_updates0 = now, counters["env_steps"], counters["updates"]
            bar.set_postfix(val=f"{row['mean_final_validation']:.4f}", loss=f"{row['loss']:.3g}",
                            sps=f"{row['steps_per_second']:.0f}")
        if counters["env_steps"] >= counters["next_checkpoint"]:
            while counters["next_checkpoint"] <= counters["env_steps"]:
                counters["next_checkpoint"] += cfg.checkpoint_every
            save_checkpoint()
        if stop_after is not None and counters["env_steps"] >= stop_after:
            bar.close()
            raise KeyboardInterrupt(f"stopped after {counters['env_steps']} env steps (test hook)")
    bar.close()
    if stepped:
        save_checkpoint()
    agent = ApexAgent(None, seed=seed, config=cfg, network=copy.deepcopy(online).cpu(), input_dim=actors.input_dim)
    agent.space_name = getattr(benchmark.space, "name", None)
    log = pd.DataFrame(log_rows, columns=list(LOG_COLUMNS))
    if ckpt_dir is not None and (stepped or not (ckpt_dir / AGENT_FILE).exists()):
        agent.save(ckpt_dir / AGENT_FILE)
        with paths.atomic_write(ckpt_dir / "log.csv", suffix=".csv") as tmp:
            log.to_csv(tmp, index=False)
    log.attrs.update({"benchmark": fingerprint["benchmark"]["benchmark"], "seed": seed})
    return TrainResult(agent, log, cfg, time.perf_counter() - t_start)


__all__ = ["ApexAgent", "ApexConfig", "LOG_COLUMNS", "NStep", "PrioritizedReplay", "QNetwork", "TrainResult",
           "build_network", "load_agent", "select_actions", "train", "worker_epsilons"]

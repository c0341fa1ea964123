"""Policy-based RL (PPO) over a space of categorical decisions: NNI's ``PolicyBasedRL``.

NNI's ``PolicyBasedRL`` runs tianshou's PPO on an environment in which an agent takes one
decision of the model space per step and receives the trained model's accuracy as the
reward of its last step. tianshou's current API no longer has what NNI used (and pins
``pandas<3``), so the algorithm is written here in torch, cleanrl-style: one module, read
top to bottom, hyperparameters in :class:`PPOConfig`.

The episode (one architecture). A GRU policy writes ``space.decisions()`` in order: at
step ``t`` it feeds the embedding of the previous choice (a start token first) to a
GRU; an actor head turns the hidden state into logits over the vocabulary of all
decisions' choices, of which those that are not decision ``t``'s are masked out, and a
value head into ``V(s_t)`` (one ``nn.GRU``, stepped while sampling, run over whole
sequences when teacher forcing). The reward ``R`` (the told validation accuracy) comes
at the last step; step ``t``'s return is ``gamma**(T-1-t) * R`` (``gamma = 1``: every step's
return is ``R``), its advantage ``return - V(s_t)`` with the value the policy had when it
asked.

Learning (PPO-clip, Schulman et al. 2017). Told episodes go into a buffer; once it holds
``samples_per_update`` episodes, ``update_repeats`` epochs over the buffer's transitions
(one per step) in shuffled minibatches of about ``batch_size`` transitions (whole
episodes, ``max(1, round(batch_size / T))`` of them for ``T`` decisions, so that each
minibatch runs the GRU over its own sequences only), each an Adam step on

    loss = -mean min(rho * A, clip(rho, 1 - clip, 1 + clip) * A)
           + value_coef * mean (V - return)**2 - entropy_coef * mean H

where ``rho = pi(a | s) / pi_old(a | s)``: the log-probabilities are recomputed under the
current policy by teacher forcing the buffer's sequences through the GRU, the old ones
were stored at ask time. Then the buffer is emptied.
"""
from __future__ import annotations

import copy
import dataclasses
import math
from typing import Any

import numpy as np

from ..device import default_device, torch_threads
from ..spaces.base import InvalidArchitecture
from .base import MultiTrialStrategy


@dataclasses.dataclass
class PPOConfig:
    """Hyperparameters of :class:`PolicyBasedRL` (NNI / tianshou defaults where they exist)."""

    lr: float = 1e-4
    """Adam learning rate of the policy and value heads (shared GRU)"""
    gamma: float = 1.0
    """discount factor; the reward comes at the last step, step t's return is gamma**(T-1-t) * R"""
    samples_per_update: int = 20
    """episodes (told architectures, and invalid ones) collected per PPO update"""
    batch_size: int = 32
    """transitions (decision steps) per minibatch: whole episodes, round(batch_size / T) of them (at least 1)"""
    update_repeats: int = 5
    """epochs over the collected transitions per update"""
    clip: float = 0.2
    """PPO ratio clipping epsilon"""
    entropy_coef: float = 0.0
    """weight of the entropy bonus"""
    value_coef: float = 0.5
    """weight of the value (critic) loss"""
    normalize_advantage: bool = True
    """standardise the advantages over each update's buffer (tianshou and cleanrl do it per minibatch)"""
    max_grad_norm: float = 0.5
    """global gradient-norm clip (0: none)"""
    hidden_size: int = 64
    """GRU hidden state size"""
    embedding_size: int = 16
    """size of the choice embedding fed to the GRU"""
    reward_for_invalid: float = 0.0
    """reward recorded for a decision vector the space rejects (it is never asked)"""
    max_invalid_retries: int = 1000
    """invalid decision vectors, at most, within one ``ask()`` before it raises"""
    threads: int = 1
    """torch CPU threads while sampling and updating (1 is fastest for this tiny model)"""


class _Decisions:
    """``space.decisions()`` as one vocabulary: decision i's choices at ``offsets[i]:...``."""

    def __init__(self, space) -> None:
        try:
            self.choices = [tuple(c) for _, c in space.decisions()]
        except (NotImplementedError, AttributeError):
            raise TypeError(f"PolicyBasedRL needs a space that is a fixed sequence of categorical decisions "
                            f"(space.decisions()); the {getattr(space, 'name', space)!r} space is not") from None
        if not self.choices or any(len(c) == 0 for c in self.choices):
            raise ValueError(f"the {getattr(space, 'name', space)!r} space has no decisions or an empty decision")
        sizes = [len(c) for c in self.choices]
        self.offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(int).tolist()
        self.vocab, self.length = int(sum(sizes)), len(sizes)
        self.start = self.vocab
        self.masks = np.zeros((self.length, self.vocab), dtype=bool)
        for i, (o, n) in enumerate(zip(self.offsets, sizes)):
            self.masks[i, o: o + n] = True

    def tokens(self, values) -> list[int]:
        return [o + c.index(v) for o, c, v in zip(self.offsets, self.choices, values)]

    def values(self, tokens) -> list:
        return [c[t - o] for o, c, t in zip(self.offsets, self.choices, tokens)]


class PolicyBasedRL(MultiTrialStrategy):
    """PPO over ``space.decisions()`` (NNI's ``PolicyBasedRL``), maximising the told
    validation accuracy.

    ``PolicyBasedRL(space, seed=0, lr=1e-4, gamma=1.0, samples_per_update=20,
    batch_size=32, update_repeats=5, clip=0.2, entropy_coef=0.0, hidden_size=64,
    reward_for_invalid=0.0, device=None, **more)``; ``more`` sets the other fields of
    :class:`PPOConfig`, ``config=PPOConfig(...)`` works too.

    Parameters:
        space: a search space with ``decisions()`` / ``to_decisions`` / ``from_decisions``
            (NAS-Bench-201, ...), or a benchmark (its ``.space``); other spaces raise
            TypeError.
        seed: seeds ``rng``, the ``torch.Generator`` that samples the decisions and the
            minibatch order, and the initial weights; no global RNG is touched.
        lr: Adam learning rate.
        gamma: discount factor (1.0: every step's return is the episode reward).
        samples_per_update: episodes per PPO update.
        batch_size: transitions (decision steps) per minibatch, taken as whole episodes.
        update_repeats: epochs over the collected transitions per update.
        clip: PPO clipping epsilon.
        entropy_coef: entropy bonus weight.
        hidden_size: GRU hidden size.
        reward_for_invalid: the reward of a decision vector the space rejects.
        device: torch device; ``None``: ``device.default_device()`` (cuda when available).
            Sampling draws on the CPU generator, so a CPU trace is reproducible exactly.

    Invalid architectures: where ``space.from_decisions`` raises ``InvalidArchitecture``
    the episode is not asked; it goes straight into the buffer with reward
    ``reward_for_invalid`` (``invalid`` counts them) and the policy samples again, at most
    ``max_invalid_retries`` times in one ``ask()``, then RuntimeError. Such an episode
    counts towards ``samples_per_update`` and may trigger an update inside ``ask()``.

    ``tell(arch, metrics)`` completes the oldest pending ask with the same ``space.key``;
    a NaN reward (failed trial) drops that episode: no learning signal, the buffer and the
    weights stay as they are. An architecture told without being asked is scored with the
    current policy's log-probabilities and values as its "old" ones.

    >>> from nasbench_lab.spaces.nb201 import NB201Space
    >>> agent = PolicyBasedRL(NB201Space(), seed=0, samples_per_update=4, device="cpu")
    >>> for _ in range(4):
    ...     cell = agent.ask()
    ...     agent.tell(cell, cell.ops.count("nor_conv_3x3") / 6)
    >>> agent.updates, agent.trials
    (1, 4)
    >>> again = PolicyBasedRL(NB201Space(), seed=0, samples_per_update=4, device="cpu")
    >>> again.load_state_dict(agent.state_dict())
    >>> again.ask() == agent.ask()
    True
    """

    name = "policy_based_rl"

    def __init__(self, space: Any, seed: int = 0, config: PPOConfig | None = None, device: str | None = None,
                 **overrides) -> None:
        import torch
        from torch import nn

        super().__init__(space, seed)
        self.config = dataclasses.replace(config or PPOConfig(), **overrides)
        cfg = self.config
        if cfg.samples_per_update < 1 or cfg.batch_size < 1 or cfg.update_repeats < 0:
            raise ValueError(f"samples_per_update and batch_size must be >= 1, update_repeats >= 0: {cfg}")
        self.program = _Decisions(self.space)
        self.device = torch.device(default_device(device))
        self.torch_rng = torch.Generator().manual_seed(self.seed)
        init = torch.Generator().manual_seed(int(self.rng.integers(2**62)))
        with torch.random.fork_rng(devices=[]):  # default module init draws from the global generator
            self.embedding = nn.Embedding(self.program.vocab + 1, cfg.embedding_size)
            self.gru = nn.GRU(cfg.embedding_size, cfg.hidden_size, batch_first=True)
            self.actor = nn.Linear(cfg.hidden_size, self.program.vocab)
            self.critic = nn.Linear(cfg.hidden_size, 1)
        with torch.no_grad():
            for p in self.parameters():
                bound = 1.0 / math.sqrt(p.shape[1] if p.dim() > 1 else cfg.hidden_size)
                p.uniform_(-bound, bound, generator=init)
        for m in self._modules():
            m.to(self.device)
        self.optimizer = torch.optim.Adam(self.parameters(), lr=cfg.lr)
        self._masks = torch.as_tensor(self.program.masks, device=self.device)
        self.updates = 0
        self.invalid = 0
        #: complete episodes: (tokens, old log-probs per step, old values per step, reward)
        self._buffer: list[tuple[list[int], list[float], list[float], float]] = []
        #: key -> asked, untold episodes (tokens, old log-probs, old values), oldest first
        self._pending: dict[str, list[tuple[list[int], list[float], list[float]]]] = {}

    def _modules(self):
        return (self.embedding, self.gru, self.actor, self.critic)

    def parameters(self):
        return [p for m in self._modules() for p in m.parameters()]

    # -- the policy -----------------------------------------------------------------------
    def _heads(self, out, masks):
        """(masked log-probs, values) of GRU outputs ``out`` (..., hidden)."""
        import torch

        logits = self.actor(out).masked_fill(~masks, float("-inf"))
        return torch.log_softmax(logits, dim=-1), self.critic(out)[..., 0]

    def _step(self, token, hidden, position: int):
        """One decision step for a batch: (masked log-probs, value, new hidden)."""
        out, hidden = self.gru(self.embedding(token)[:, None, :], hidden)
        logp, value = self._heads(out[:, 0], self._masks[position])
        return logp, value, hidden

    def _rollout(self) -> tuple[list[int], list[float], list[float]]:
        """Sample one episode: its tokens, their log-probs and the values on the way."""
        import torch

        tokens, logps, values = [], [], []
        with torch.no_grad():
            token = torch.tensor([self.program.start], device=self.device)
            hidden = torch.zeros(1, 1, self.config.hidden_size, device=self.device)
            for position in range(self.program.length):
                logp, value, hidden = self._step(token, hidden, position)
                logp = logp[0].cpu()
                t = int(torch.multinomial(logp.exp(), 1, generator=self.torch_rng))
                tokens.append(t)
                logps.append(float(logp[t]))
                values.append(float(value[0]))
                token = torch.tensor([t], device=self.device)
        return tokens, logps, values

    def evaluate(self, sequences: list[list[int]]):
        """Teacher forcing (one GRU call over whole sequences): (log-probs, values,
        entropies) of every step, each (n, T)."""
        import torch

        n = len(sequences)
        target = torch.tensor(sequences, dtype=torch.long, device=self.device)
        start = torch.full((n, 1), self.program.start, dtype=torch.long, device=self.device)
        out, _ = self.gru(self.embedding(torch.cat([start, target[:, :-1]], 1)))
        logp, values = self._heads(out, self._masks)
        probs = logp.exp()
        ents = -(probs * logp.masked_fill(probs == 0, 0.0)).sum(-1)
        return logp.gather(2, target[..., None])[..., 0], values, ents

    # -- ask / tell -------------------------------------------------------------------------
    def ask(self) -> Any:
        """Sample one architecture from the policy (pending until told)."""
        with torch_threads(self.config.threads):
            for _ in range(self.config.max_invalid_retries + 1):
                tokens, logps, values = self._rollout()
                try:
                    arch = self.space.from_decisions(self.program.values(tokens))
                except InvalidArchitecture:
                    self.invalid += 1
                    self._collect((tokens, logps, values, float(self.config.reward_for_invalid)))
                    continue
                self._pending.setdefault(self.space.key(arch), []).append((tokens, logps, values))
                return arch
        raise RuntimeError(f"PolicyBasedRL: {self.config.max_invalid_retries + 1} decision vectors in a row were "
                           f"invalid in the {getattr(self.space, 'name', self.space)!r} space")

    def most_probable(self) -> Any:
        """The greedy architecture (the most probable choice at every step)."""
        import torch

        with torch.no_grad(), torch_threads(self.config.threads):
            token = torch.tensor([self.program.start], device=self.device)
            hidden = torch.zeros(1, 1, self.config.hidden_size, device=self.device)
            tokens = []
            for position in range(self.program.length):
                logp, _, hidden = self._step(token, hidden, position)
                tokens.append(int(logp[0].argmax()))
                token = torch.tensor([tokens[-1]], device=self.device)
        return self.space.from_decisions(self.program.values(tokens))

    def _observe(self, arch: Any, reward: float, metrics: Any) -> None:
        key = self.space.key(arch)
        episodes = self._pending.get(key)
        if math.isnan(reward):  # a failed trial: no learning signal, the episode is dropped
            if episodes:
                episodes.pop(0)
                if not episodes:
                    del self._pending[key]
            return
        if episodes:
            tokens, logps, values = episodes[0]
        else:  # told without being asked: scored by the current policy
            import torch

            tokens = self.program.tokens(self.space.to_decisions(arch))
            with torch.no_grad(), torch_threads(self.config.threads):
                lp, v, _ = self.evaluate([tokens])
            logps, values = lp[0].tolist(), v[0].tolist()
        self._collect((tokens, logps, values, float(reward)))
        if episodes:
            episodes.pop(0)
            if not episodes:
                del self._pending[key]

    def _collect(self, episode) -> None:
        """Add an episode to the buffer; update once it is full (state changes only on success)."""
        self._buffer.append(episode)
        if len(self._buffer) >= self.config.samples_per_update:
            try:
                with torch_threads(self.config.threads):
                    self._update()
            except BaseException:
                self._buffer.pop()
                raise

    def _update(self) -> None:
        """PPO-clip: ``update_repeats`` epochs of minibatches over the buffer's transitions."""
        import torch

        cfg = self.config
        tokens, old_logp, old_values, rewards = zip(*self._buffer)
        n, T = len(tokens), self.program.length
        old_logp = torch.tensor(old_logp, dtype=torch.float32, device=self.device)
        old_values = torch.tensor(old_values, dtype=torch.float32, device=self.device)
        discount = cfg.gamma ** torch.arange(T - 1, -1, -1, dtype=torch.float32, device=self.device)
        returns = torch.tensor(rewards, dtype=torch.float32, device=self.device)[:, None] * discount
        advantages = returns - old_values
        if cfg.normalize_advantage and advantages.numel() > 1:
            # over the whole buffer: a minibatch may be a single episode, whose steps share R
            advantages = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
        sequences = [list(t) for t in tokens]
        snapshot = (copy.deepcopy([m.state_dict() for m in self._modules()]),
                    copy.deepcopy(self.optimizer.state_dict()), self.torch_rng.get_state())
        per_batch = max(1, round(cfg.batch_size / T))  # whole episodes, about batch_size transitions
        try:
            for _ in range(cfg.update_repeats):
                order = torch.randperm(n, generator=self.torch_rng).tolist()
                for start in range(0, n, per_batch):
                    idx = order[start: start + per_batch]
                    logp, value, ent = (x.reshape(-1) for x in self.evaluate([sequences[i] for i in idx]))
                    rows = torch.tensor(idx, device=self.device)
                    adv = advantages[rows].reshape(-1)
                    ratio = torch.exp(logp - old_logp[rows].reshape(-1))
                    policy_loss = -torch.min(ratio * adv, ratio.clamp(1 - cfg.clip, 1 + cfg.clip) * adv).mean()
                    value_loss = (value - returns[rows].reshape(-1)).pow(2).mean()
                    loss = policy_loss + cfg.value_coef * value_loss - cfg.entropy_coef * ent.mean()
                    self.optimizer.zero_grad()
                    loss.backward()
                    if cfg.max_grad_norm:
                        torch.nn.utils.clip_grad_norm_(self.parameters(), cfg.max_grad_norm)
                    self.optimizer.step()
        except BaseException:  # leave the policy as it was before the update
            for m, s in zip(self._modules(), snapshot[0]):
                m.load_state_dict(s)
            self.optimizer.load_state_dict(snapshot[1])
            self.torch_rng.set_state(snapshot[2])
            raise
        self._buffer = []
        self.updates += 1

    # -- state ----------------------------------------------------------------------------
    def state_dict(self) -> dict:
        state = super().state_dict()
        state.update({
            "torch_rng": self.torch_rng.get_state(),
            "modules": [{k: v.detach().cpu().clone() for k, v in m.state_dict().items()} for m in self._modules()],
            "optimizer": copy.deepcopy(self.optimizer.state_dict()),
            "updates": self.updates,
            "invalid": self.invalid,
            "buffer": copy.deepcopy(self._buffer),
            "pending": copy.deepcopy(self._pending),
        })
        return state

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        self.torch_rng.set_state(state["torch_rng"])
        for m, s in zip(self._modules(), state["modules"]):
            m.load_state_dict(s)
        self.optimizer.load_state_dict(copy.deepcopy(state["optimizer"]))
        self.updates = int(state["updates"])
        self.invalid = int(state.get("invalid", 0))
        self._buffer = copy.deepcopy(state["buffer"])
        self._pending = copy.deepcopy(state["pending"])


__all__ = ["PPOConfig", "PolicyBasedRL"]

"""REINFORCE with a GRU controller (the HalfMoons NAS system), over MLP chains or any
space of categorical decisions.

The controller is one ``GRUCell`` and one linear layer. It writes an architecture token
by token. Over MLP chains (the HalfMoons system): a layer width (1, 2, 4, 8, 16) or
``stop`` at every layer boundary, then that layer's activation (Sigmoid, Tanh, ReLU,
LeakyReLU); at ``max_depth`` layers it stops. Over a space that is a fixed sequence of
categorical decisions (``space.decisions()``, e.g. NAS-Bench-201's six edge operations):
one token per decision, chosen among that decision's values. Each step feeds the
embedding of the previous token (a start token first) to the GRU, and the linear layer
turns the hidden state into logits over the vocabulary, of which the tokens that are not
allowed at that position are masked out.

Learning (Williams 1992, as in Zoph & Le 2016): after every ``batch_size`` rollouts the
controller takes one Adam step on

    loss = -mean_i (R_i - b) * log pi(chain_i) - beta * mean_i H(pi | chain_i)

where ``R_i`` is the validation accuracy of chain ``i``, ``b`` an exponential moving
average of past rewards (the baseline, updated after each batch), and ``beta`` an
entropy bonus decaying geometrically per update. Log-probabilities are recomputed by
the current controller at update time (teacher forcing), so chains told without being
asked (or asked before an earlier update) are scored on-policy. A failed trial (NaN
reward, see ``strategies.base``) is counted but left out of the batch: it says nothing
about the chain's accuracy. The constructor draws the initial weights from its own
generator and leaves torch's global one untouched.

>>> from nasbench_lab.spaces.mlp import ChainSpace
>>> agent = Reinforce(ChainSpace(max_depth=3), seed=0)
>>> chain = agent.ask()
>>> agent.tell(chain, 0.9)
>>> agent.state_dict()["trials"]
1
"""
from __future__ import annotations

import copy
import dataclasses
import math
from typing import Any

import numpy as np

from ..device import torch_threads
from ..spaces.mlp import ACTIVATIONS, WIDTHS, Chain, ChainSpace
from .base import MultiTrialStrategy

#: token ids: widths 0..4, activations 5..8, stop 9; the start input is 10
N_WIDTH = len(WIDTHS)
N_ACT = len(ACTIVATIONS)
STOP = N_WIDTH + N_ACT
VOCAB = STOP + 1
START = VOCAB


@dataclasses.dataclass
class ReinforceConfig:
    """Hyperparameters of the controller and of REINFORCE."""

    hidden_size: int = 64
    """GRU hidden state size"""
    embedding_size: int = 16
    """size of the token embedding fed to the GRU"""
    lr: float = 0.01
    """Adam learning rate of the controller"""
    batch_size: int = 10
    """rollouts per policy-gradient update"""
    baseline_decay: float = 0.95
    """moving-average factor of the reward baseline (per update)"""
    entropy_coef: float = 0.02
    """initial weight of the entropy bonus"""
    entropy_decay: float = 0.995
    """factor applied to the entropy weight after every update"""
    advantage_scale: float = 10.0
    """rewards are fractions in [0, 1]; advantages are multiplied by this"""
    grad_clip: float = 1.0
    """global gradient-norm clip (0: none)"""
    threads: int = 1
    """torch CPU threads while sampling and updating (1 is fastest for this tiny model)"""


def _tokens(chain: Chain, max_depth: int) -> list[int]:
    """The token sequence that writes ``chain`` (stop omitted at max_depth)."""
    out = []
    for w, a in chain.layers:
        out += [WIDTHS.index(w), N_WIDTH + ACTIVATIONS.index(a)]
    if chain.depth < max_depth:
        out.append(STOP)
    return out


class _ChainProgram:
    """Chains as token sequences: width/stop and activation tokens (variable length)."""

    def __init__(self, space) -> None:
        self.space, self.max_depth = space, int(space.max_depth)
        self.vocab, self.start, self.stop = VOCAB, START, STOP
        self.length = 2 * self.max_depth
        self.masks = np.stack([_mask(p, self.max_depth) for p in range(2 * self.max_depth + 1)])

    def tokens(self, arch) -> list[int]:
        return _tokens(self.space.validate(arch), self.max_depth)

    def arch(self, tokens: list[int]) -> Chain:
        layers = [(WIDTHS[tokens[i]], ACTIVATIONS[tokens[i + 1] - N_WIDTH]) for i in range(0, len(tokens), 2)]
        return Chain(tuple(layers))


class _DecisionProgram:
    """A fixed sequence of categorical decisions: one token per decision, decision i's
    values occupying their own range of the vocabulary (no stop token)."""

    def __init__(self, space) -> None:
        self.space = space
        self.choices = [tuple(c) for _, c in space.decisions()]
        if not self.choices or any(len(c) == 0 for c in self.choices):
            raise ValueError(f"the {getattr(space, 'name', space)!r} space has an empty decision")
        sizes = [len(c) for c in self.choices]
        self.offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(int).tolist()
        self.vocab = int(sum(sizes))
        self.start, self.stop = self.vocab, None
        self.length = len(self.choices)
        self.masks = np.zeros((self.length + 1, self.vocab), dtype=bool)
        for i, (o, n) in enumerate(zip(self.offsets, sizes)):
            self.masks[i, o: o + n] = True

    def tokens(self, arch) -> list[int]:
        values = self.space.to_decisions(arch)
        return [o + c.index(v) for o, c, v in zip(self.offsets, self.choices, values)]

    def arch(self, tokens: list[int]):
        return self.space.from_decisions([c[t - o] for o, c, t in zip(self.offsets, self.choices, tokens)])


def _program(space):
    """How the controller writes architectures of ``space``; TypeError where it cannot."""
    if isinstance(space, ChainSpace):
        return _ChainProgram(space)
    try:
        space.decisions()
    except (NotImplementedError, AttributeError):
        raise TypeError(f"Reinforce writes MLP chains or a fixed sequence of categorical decisions "
                        f"(space.decisions()); the {getattr(space, 'name', space)!r} space is neither") from None
    return _DecisionProgram(space)


def _mask(position: int, max_depth: int):
    """Boolean mask over the 10 tokens allowed at ``position`` (even: width/stop; odd: activation)."""
    m = np.zeros(VOCAB, dtype=bool)
    if position % 2 == 0:
        m[:N_WIDTH] = position // 2 < max_depth
        m[STOP] = True
    else:
        m[N_WIDTH:STOP] = True
    return m


class Reinforce(MultiTrialStrategy):
    """REINFORCE controller over ``space``: a ``ChainSpace``, or any space with
    ``decisions()`` (NAS-Bench-201); other spaces raise TypeError naming it.

    ``Reinforce(space, seed=0, config=None, **overrides)``: ``overrides`` replace fields
    of ``ReinforceConfig``. ``most_probable()`` decodes the greedy architecture; ``best``
    is the best (architecture, reward) told so far.
    """

    name = "reinforce"

    def __init__(self, space: Any, seed: int = 0, config: ReinforceConfig | None = None, **overrides) -> None:
        import torch
        from torch import nn

        super().__init__(space, seed)
        self.program = _program(self.space)
        self.config = dataclasses.replace(config or ReinforceConfig(), **overrides)
        cfg = self.config
        self.torch_rng = torch.Generator().manual_seed(self.seed)
        # the controller's initial weights come from the seed too (not from global state)
        init = torch.Generator().manual_seed(int(self.rng.integers(2**62)))
        with torch.random.fork_rng(devices=[]):  # the modules' default init draws from the global generator
            self.embedding = nn.Embedding(self.program.vocab + 1, cfg.embedding_size)
            self.cell = nn.GRUCell(cfg.embedding_size, cfg.hidden_size)
            self.head = nn.Linear(cfg.hidden_size, self.program.vocab)
        with torch.no_grad():
            for p in self.parameters():
                if p.dim() > 1:
                    bound = 1.0 / np.sqrt(p.shape[1])
                else:
                    bound = 1.0 / np.sqrt(cfg.hidden_size)
                p.uniform_(-bound, bound, generator=init)
        self.optimizer = torch.optim.Adam(self.parameters(), lr=cfg.lr)
        self._masks = torch.as_tensor(self.program.masks)
        self.baseline: float | None = None
        self.entropy_coef = cfg.entropy_coef
        self.updates = 0
        self._buffer: list[tuple[list[int], float]] = []

    def parameters(self):
        return [*self.embedding.parameters(), *self.cell.parameters(), *self.head.parameters()]

    # -- the controller -----------------------------------------------------------------
    def _step(self, token, hidden, position: int):
        import torch

        hidden = self.cell(self.embedding(token), hidden)
        logits = self.head(hidden).masked_fill(~self._masks[position], float("-inf"))
        return torch.log_softmax(logits, dim=-1), hidden

    def _decode(self, greedy: bool):
        import torch

        program = self.program
        with torch.no_grad(), torch_threads(self.config.threads):
            token = torch.tensor([program.start])
            hidden = torch.zeros(1, self.config.hidden_size)
            tokens: list[int] = []
            for position in range(program.length):  # at the full length the architecture ends
                logp, hidden = self._step(token, hidden, position)
                if greedy:
                    t = int(logp.argmax())
                else:
                    t = int(torch.multinomial(logp.exp()[0], 1, generator=self.torch_rng))
                if t == program.stop:
                    break
                tokens.append(t)
                token = torch.tensor([t])
        return program.arch(tokens)

    def log_prob(self, archs: list) -> tuple[Any, Any]:
        """Log-probability and summed entropy of each architecture under the controller
        (teacher forcing)."""
        import torch

        seqs = [self.program.tokens(a) for a in archs]
        n, length = len(seqs), max(len(s) for s in seqs)
        hidden = torch.zeros(n, self.config.hidden_size)
        token = torch.full((n,), self.program.start, dtype=torch.long)
        logp_sum = torch.zeros(n)
        ent_sum = torch.zeros(n)
        for position in range(length):
            alive = torch.tensor([position < len(s) for s in seqs])
            target = torch.tensor([s[position] if position < len(s) else 0 for s in seqs])
            logp, hidden = self._step(token, hidden, position)
            probs = logp.exp()
            ent = -(probs * logp.masked_fill(probs == 0, 0.0)).sum(-1)
            chosen = logp.gather(1, target[:, None])[:, 0]
            logp_sum = logp_sum + torch.where(alive, chosen, torch.zeros(()))
            ent_sum = ent_sum + torch.where(alive, ent, torch.zeros(()))
            token = target
        return logp_sum, ent_sum

    # -- ask / tell -------------------------------------------------------------------
    #: invalid decision vectors (NB101 graphs whose output is unreachable, ...) are drawn
    #: again, at most this many times in a row
    max_invalid_draws: int = 1000

    def ask(self):
        """Sample one architecture from the controller. A draw that is not a valid
        architecture (``from_decisions`` raises ``InvalidArchitecture``) is drawn again:
        the controller learns only from architectures that were evaluated."""
        from ..spaces.base import InvalidArchitecture

        for _ in range(self.max_invalid_draws):
            try:
                return self._decode(greedy=False)
            except InvalidArchitecture:
                continue
        raise RuntimeError(f"Reinforce: {self.max_invalid_draws} draws in a row were invalid architectures of the "
                           f"{getattr(self.space, 'name', 'space')!r} space")

    def most_probable(self):
        """The greedy (most probable token at every step) architecture; raises
        ``InvalidArchitecture`` where that decision vector is not valid."""
        return self._decode(greedy=True)

    def _observe(self, arch: Any, reward: float, metrics: Any) -> None:
        if math.isnan(reward):
            return  # a failed trial: no learning signal
        self._buffer.append((arch, reward))
        if len(self._buffer) >= self.config.batch_size:
            try:
                with torch_threads(self.config.threads):
                    self._update()
            except BaseException:
                self._buffer.pop()  # the tell raises: nothing changed
                raise

    def _update(self) -> None:
        """One policy-gradient step on the buffer; state changes only once it succeeded."""
        import torch

        chains, rewards = zip(*self._buffer)
        r = torch.tensor(rewards, dtype=torch.float32)
        baseline = float(r.mean()) if self.baseline is None else self.baseline
        advantage = (r - baseline) * self.config.advantage_scale
        logp, ent = self.log_prob(list(chains))
        loss = -(advantage * logp).mean() - self.entropy_coef * ent.mean()
        self.optimizer.zero_grad()
        loss.backward()
        if self.config.grad_clip:
            torch.nn.utils.clip_grad_norm_(self.parameters(), self.config.grad_clip)
        self.optimizer.step()
        self._buffer = []
        d = self.config.baseline_decay
        self.baseline = d * baseline + (1 - d) * float(r.mean())
        self.entropy_coef *= self.config.entropy_decay
        self.updates += 1

    # -- state ------------------------------------------------------------------------
    def state_dict(self) -> dict:
        state = super().state_dict()
        state.update({
            "torch_rng": self.torch_rng.get_state(),
            "embedding": copy.deepcopy(self.embedding.state_dict()),
            "cell": copy.deepcopy(self.cell.state_dict()),
            "head": copy.deepcopy(self.head.state_dict()),
            "optimizer": copy.deepcopy(self.optimizer.state_dict()),
            "baseline": self.baseline,
            "entropy_coef": self.entropy_coef,
            "updates": self.updates,
            "buffer": [(self.space.key(c), r) for c, r in self._buffer],
        })
        return state

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        self.torch_rng.set_state(state["torch_rng"])
        self.embedding.load_state_dict(state["embedding"])
        self.cell.load_state_dict(state["cell"])
        self.head.load_state_dict(state["head"])
        self.optimizer.load_state_dict(copy.deepcopy(state["optimizer"]))
        self.baseline = state["baseline"]
        self.entropy_coef = state["entropy_coef"]
        self.updates = state["updates"]
        self._buffer = [(self.space.from_key(k), r) for k, r in state["buffer"]]


__all__ = ["Reinforce", "ReinforceConfig"]

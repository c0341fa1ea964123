"""ENAS (Pham et al. 2018): an LSTM controller samples sub-networks of a shared super-net.

The controller makes the space's decisions (``space.decisions()``: NB201's 6 edge ops;
DARTS's per node input 1, input 2, op 1, op 2 with input 2 masked to differ from input 1)
one after another: an ``LSTMCell`` whose input is the embedding of the previous choice,
one linear head per decision, logits squashed as ``tanh_constant * tanh(logits)``.
Each search step

1. trains the **shared weights** on a training batch in ``"path"`` mode, on an
   architecture sampled from the controller (no gradient to the controller);
2. trains the **controller** with REINFORCE on a validation batch: reward = accuracy of a
   fresh sample with inherited weights, ``loss = -(reward - baseline) * log p(arch) -
   entropy_weight * H``, the baseline a moving average ``b <- decay b + (1 - decay) r``
   (the first reward initialises it). Adam, lr 3.5e-4 as in ENAS.

Samples come from the strategy's seeded generator; the baseline is a buffer, so it is in
the checkpoint with the controller. Export (``export``): the controller's most likely
sample, approximated by greedy decoding (the argmax at each decision), or its best sample:
the greedy rollout and ``export_samples`` samples scored by inherited-weight validation
accuracy. Log columns
``policy/<decision>/<choice>``: the greedy rollout's conditional probabilities.

>>> from nasbench_lab import oneshot
>>> r = oneshot.search("enas", "darts", max_epochs=1, max_steps_per_epoch=2)   # doctest: +SKIP
"""
from __future__ import annotations

import dataclasses
from typing import Any, Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .supernet import sample_index
from .training import OneShotConfig, OneShotModule


@dataclasses.dataclass
class EnasConfig(OneShotConfig):
    """ENAS settings (the weight optimiser and batches come from :class:`OneShotConfig`)."""

    controller_hidden: int = 32
    """LSTM hidden size and choice-embedding size of the controller"""
    controller_lr: float = 3.5e-4
    """Adam learning rate of the controller"""
    tanh_constant: float = 1.5
    """logits are ``tanh_constant * tanh(head(h))``"""
    entropy_weight: float = 1e-4
    """weight of the entropy bonus in the controller loss"""
    baseline_decay: float = 0.99
    """decay of the moving-average reward baseline"""
    controller_steps: int = 1
    """controller updates per search step (each on the step's validation batch)"""
    export: str = "most_likely"
    """"most_likely": the greedy rollout; "best": the best of ``export_samples`` controller
    samples (and the greedy rollout) by inherited-weight validation accuracy"""
    export_samples: int = 16
    """controller samples scored by the super-net when ``export="best"``"""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.export not in ("most_likely", "best"):
            raise ValueError(f"EnasConfig.export must be 'most_likely' or 'best', got {self.export!r}")
        if int(self.export_samples) < 1:
            raise ValueError(f"EnasConfig.export_samples must be >= 1, got {self.export_samples}")


class Controller(nn.Module):
    """Autoregressive LSTM policy over a list of decisions (numbers of choices)."""

    def __init__(self, sizes: Sequence[int], hidden: int = 32, tanh_constant: float = 1.5):
        super().__init__()
        self.sizes = tuple(int(n) for n in sizes)
        self.tanh_constant = tanh_constant
        self.start = nn.Parameter(torch.zeros(1, hidden))
        self.lstm = nn.LSTMCell(hidden, hidden)
        self.embed = nn.ModuleList(nn.Embedding(n, hidden) for n in self.sizes)
        self.heads = nn.ModuleList(nn.Linear(hidden, n) for n in self.sizes)
        self.register_buffer("baseline", torch.tensor(float("nan")))

    def forward(self, generator: torch.Generator | None = None, greedy: bool = False,
                mask: Callable[[int, list[int]], list[bool] | None] | None = None):
        """(choice indices, summed log-probability, summed entropy, per-decision probs)."""
        h = torch.zeros_like(self.start)
        state = (h, torch.zeros_like(self.start))
        inp = self.start
        picks: list[int] = []
        log_prob = entropy = self.start.new_zeros(())
        probs = []
        for i, n in enumerate(self.sizes):
            state = self.lstm(inp, state)
            logits = self.tanh_constant * torch.tanh(self.heads[i](state[0]))[0]
            allowed = mask(i, picks) if mask is not None else None
            if allowed is not None:
                logits = logits.masked_fill(~torch.as_tensor(allowed, device=logits.device), float("-inf"))
            logp = F.log_softmax(logits, dim=-1)
            p = logp.exp()
            k = int(p.argmax()) if greedy else sample_index(p, generator)
            picks.append(k)
            log_prob = log_prob + logp[k]
            entropy = entropy - (p * logp.masked_fill(p == 0, 0.0)).sum()
            probs.append(p.detach().cpu())
            inp = self.embed[i](torch.tensor([k], device=logits.device))
        return picks, log_prob, entropy, probs


class EnasModule(OneShotModule):
    """Shared weights on controller samples; controller by REINFORCE on validation accuracy."""

    def __init__(self, supernet, config: EnasConfig, seed: int = 0):
        super().__init__(supernet, config, seed)
        self.decisions = supernet.space.decisions()
        self.controller = Controller([len(c) for _, c in self.decisions], config.controller_hidden,
                                     config.tanh_constant)

    def configure_optimizers(self):
        return [self.weight_optimizer(),
                torch.optim.Adam(self.controller.parameters(), lr=self.config.controller_lr)]

    def _mask(self, i: int, picks: list[int]):
        values = [self.decisions[j][1][k] for j, k in enumerate(picks)]
        return self.supernet.decision_mask(i, values)

    def _arch(self, picks: list[int]) -> Any:
        return self.supernet.space.from_decisions([self.decisions[i][1][k] for i, k in enumerate(picks)])

    def sample_arch(self, greedy: bool = False):
        """(architecture, log-probability, entropy, probabilities) of one controller rollout."""
        picks, log_prob, entropy, probs = self.controller(self.generator, greedy, self._mask)
        return self._arch(picks), log_prob, entropy, probs

    def search_step(self, x, y, xv, yv):
        with torch.no_grad():
            arch = self.sample_arch()[0]
        stats = self.weight_step(x, y, "path", arch=arch)
        opt_c = self.optimizers()[1]
        c = self.config
        for _ in range(c.controller_steps):
            arch, log_prob, entropy, _ = self.sample_arch()
            reward = self.supernet.evaluate(arch, (xv, yv))
            b = self.controller.baseline
            if torch.isnan(b):
                b.fill_(reward)
            b.mul_(c.baseline_decay).add_((1 - c.baseline_decay) * reward)
            loss = -(reward - b.item()) * log_prob - c.entropy_weight * entropy
            opt_c.zero_grad()
            self.manual_backward(loss)
            opt_c.step()
        return stats

    @torch.no_grad()
    def current_arch(self) -> Any:
        return self.sample_arch(greedy=True)[0]

    @torch.no_grad()
    def export(self) -> Any:
        """The greedy rollout, or (``export="best"``) the best-scored of it and
        ``export_samples`` samples; samples come from a generator seeded from the strategy's
        seed, so the export does not depend on how the search was interrupted."""
        greedy = self.current_arch()
        if self.config.export == "most_likely":
            return greedy
        gen = torch.Generator().manual_seed(self.seed + 1)
        candidates = [greedy] + [self._arch(self.controller(gen, False, self._mask)[0])
                                 for _ in range(int(self.config.export_samples))]
        scores = [self.supernet.evaluate(a, "val") for a in candidates]
        return candidates[int(np.argmax(scores))]

    @torch.no_grad()
    def arch_weights(self) -> dict[str, float]:
        probs = self.sample_arch(greedy=True)[3]
        return {f"policy/{name}/{choice}": float(p[j])
                for (name, choices), p in zip(self.decisions, probs) for j, choice in enumerate(choices)}


Config = EnasConfig
Module = EnasModule

__all__ = ["EnasConfig", "EnasModule", "Controller", "Config", "Module"]

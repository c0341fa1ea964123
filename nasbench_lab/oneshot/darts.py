"""DARTS (Liu, Simonyan & Yang 2019): differentiable architecture search.

Every edge of the super-net is a softmax(alpha)-weighted mix of its candidate ops
(``"weighted"`` mode). Each search step alternates

1. an **architecture step** on a validation batch: Adam on alpha (lr 3e-4, betas
   (0.5, 0.999), weight decay 1e-3, as in the paper). First order (default): the gradient
   of the validation loss at the current weights. ``second_order=True``: the unrolled
   one-step gradient of the paper, ``dL_val(w', a)/da - xi * [dL_train(w+, a)/da -
   dL_train(w-, a)/da] / (2 eps)`` with ``w' = w - xi dL_train(w, a)/dw`` (a plain SGD
   virtual step: momentum and weight decay are left out of it) and ``w+- = w +- eps
   dL_val(w', a)/dw'``, ``eps = 0.01 / ||dL_val(w', a)/dw'||``;
2. a **weight step** on a training batch: SGD with momentum on the shared weights.

Export: per edge the op of the largest alpha; in DARTS cells the top-2 input rule (each
node keeps the 2 sources whose strongest non-``none`` op weighs most), never ``none``.

>>> from nasbench_lab import oneshot
>>> r = oneshot.search("darts", "nb201", max_epochs=1, max_steps_per_epoch=2)   # doctest: +SKIP
>>> r.arch, r.log.filter(like="alpha/").shape                                     # doctest: +SKIP
"""
from __future__ import annotations

import dataclasses

import torch
import torch.nn.functional as F

from .training import OneShotConfig, OneShotModule


@dataclasses.dataclass
class DartsConfig(OneShotConfig):
    """DARTS settings (the weight optimiser and batches come from :class:`OneShotConfig`)."""

    arch_lr: float = 3e-4
    """Adam learning rate of the architecture parameters"""
    arch_betas: tuple[float, float] = (0.5, 0.999)
    """Adam betas of the architecture parameters"""
    arch_weight_decay: float = 1e-3
    """Adam weight decay of the architecture parameters"""
    second_order: bool = False
    """use the unrolled one-step (second-order) architecture gradient"""
    unrolled_lr: float | None = None
    """xi, the virtual step size of the second-order gradient (None: ``lr``)"""


class DartsModule(OneShotModule):
    """Alternating architecture (validation) and weight (training) steps, weighted mode."""

    mode = "weighted"

    def tau(self) -> float:
        """The relaxation temperature (unused in weighted mode)."""
        return 1.0

    def configure_optimizers(self):
        c = self.config
        arch = torch.optim.Adam(self.supernet.arch_parameters(), lr=c.arch_lr, betas=tuple(c.arch_betas),
                                weight_decay=c.arch_weight_decay)
        return [self.weight_optimizer(), arch]

    def _loss(self, x, y):
        with self.supernet.use(self.mode, tau=self.tau(), generator=self.generator,
                               drop=self.config.param_free_dropout):
            return F.cross_entropy(self.supernet(x), y)

    def search_step(self, x, y, xv, yv):
        _, opt_a = self.optimizers()
        opt_a.zero_grad()
        if self.config.second_order:
            self._unrolled_gradient(x, y, xv, yv)
        else:
            self.manual_backward(self._loss(xv, yv))
        opt_a.step()
        return self.weight_step(x, y, self.mode, tau=self.tau())

    def _unrolled_gradient(self, x, y, xv, yv) -> None:
        """Set ``alpha.grad`` to the second-order DARTS gradient (see the module docstring)."""
        weights, alphas = self.supernet.weight_parameters(), self.supernet.arch_parameters()
        xi = self.config.unrolled_lr if self.config.unrolled_lr is not None else self.config.lr
        backup = [w.detach().clone() for w in weights]

        def grads(loss, params):
            g = torch.autograd.grad(loss, params, allow_unused=True)
            return [torch.zeros_like(p) if gi is None else gi for p, gi in zip(params, g)]

        g_train = grads(self._loss(x, y), weights)
        with torch.no_grad():
            for w, g in zip(weights, g_train):
                w.sub_(xi * g)
        g_val = grads(self._loss(xv, yv), alphas + weights)
        d_alpha, d_w = g_val[:len(alphas)], g_val[len(alphas):]
        eps = 0.01 / (torch.sqrt(sum((g * g).sum() for g in d_w)) + 1e-12)
        hessian = []
        for sign in (1.0, -1.0):
            with torch.no_grad():
                for w, b, g in zip(weights, backup, d_w):
                    w.copy_(b + sign * eps * g)
            hessian.append(grads(self._loss(x, y), alphas))
        with torch.no_grad():
            for w, b in zip(weights, backup):
                w.copy_(b)
        for a, da, gp, gn in zip(alphas, d_alpha, *hessian):
            a.grad = (da - xi * (gp - gn) / (2 * eps)).detach()


Config = DartsConfig
Module = DartsModule

__all__ = ["DartsConfig", "DartsModule", "Config", "Module"]

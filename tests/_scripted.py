"""A multi-trial strategy that asks a given list of architectures in order (tests only)."""
from __future__ import annotations

from nasbench_lab.strategies.base import MultiTrialStrategy


class Scripted(MultiTrialStrategy):
    """Asks the given architectures in order, then says there is nothing more to ask;
    ``told`` records ``(key, reward)`` of every result, in the order they came back."""

    name = "scripted"

    def __init__(self, space, seed=0, archs=()):
        super().__init__(space, seed)
        self.archs = list(archs)
        self.told: list = []
        self._pending: list = []

    def ask(self):
        if self.trials + len(self._pending) >= len(self.archs):
            raise StopIteration
        arch = self.archs[self.trials + len(self._pending)]
        self._pending.append(arch)
        return arch

    def _observe(self, arch, reward, metrics):
        self._pending.remove(arch)
        self.told.append((self.space.key(arch), reward))

    def state_dict(self):
        return {**super().state_dict(), "pending": list(self._pending), "told": list(self.told)}

    def load_state_dict(self, state):
        super().load_state_dict(state)
        self._pending, self.told = list(state["pending"]), list(state["told"])

"""The vectorised incremental environment: many episodes at once over a tabular benchmark.

State, transitions and rewards are those of :class:`~nasbench_lab.env.incremental.IncrementalEnv`
(the test suite checks they agree step for step), but everything lives in arrays indexed by
benchmark row: a dense "shown neighbours" table (rows x N, -1 padded) derived from the
:class:`~nasbench_lab.env.neighbours.NeighbourTable`, the shaped validation accuracy of every
row, and the per-env current row / step counter. A step is a handful of gathers, so a
batch of thousands of episodes advances in microseconds per episode. Two backends share
the code: ``"numpy"`` and ``"torch"`` (on ``default_device()``: the GPU when present).

Observations are row indices, not encodings: ``obs["rows"]`` is (B, N+1) with column 0
the current row and columns 1..N the shown neighbours (-1 pads), ``obs["action_mask"]``
(B, N+1) bool. ``encode(rows)`` gathers ``space.encode`` vectors from a table built on
first use, for agents that need them.

>>> venv = VectorIncrementalEnv.from_benchmark(bench, n_envs=1024, max_steps=32)  # doctest: +SKIP
>>> obs, info = venv.reset(rows=start_rows)                                      # doctest: +SKIP
>>> obs, reward, terminated, truncated, info = venv.step(actions)                 # doctest: +SKIP

Its speed at several vectorisation degrees (paper Fig. 16) is measured by
``nasbench_lab.speed.env.throughput`` (``nasbench-lab bench env``).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from .incremental import check_alpha, shape_accuracy, shown_positions
from .neighbours import NeighbourTable, neighbour_table


def shown_table(table: NeighbourTable, keys: Sequence[str], n_neighbours: int, seed: int,
                chunk: int = 65_536) -> np.ndarray:
    """Dense (n_rows, W) int32 table of the neighbours shown in each row (-1 padded).

    ``W = min(N, max count)``. Rows with more than N neighbours show the subset of
    :func:`~nasbench_lab.env.incremental.shown_positions` (seeded by ``seed`` and the key).
    """
    counts = table.counts
    n = table.n_rows
    width = int(max(1, min(n_neighbours, counts.max() if n else 0)))
    out = np.full((n, width), -1, dtype=np.int32)
    j = np.arange(width)
    for lo in range(0, n, chunk):
        hi = min(lo + chunk, n)
        c = np.minimum(counts[lo:hi], n_neighbours)
        pos = table.offsets[lo:hi, None] + j
        valid = j < c[:, None]
        out[lo:hi] = np.where(valid, table.targets[np.where(valid, pos, 0)], -1)
    for r in np.flatnonzero(counts > n_neighbours):
        pos = shown_positions(int(counts[r]), n_neighbours, seed, str(keys[r]))
        out[r, :n_neighbours] = table.targets[table.offsets[r] + pos]
    return out


class VectorIncrementalEnv:
    """B incremental episodes advanced together over one tabular benchmark.

    Args:
        table: neighbour table aligned with the benchmark rows.
        validation: (n_rows,) validation accuracy (the search signal).
        keys: (n_rows,) architecture keys (they seed which neighbours are shown when
            a row has more than N).
        n_envs: B, the number of parallel episodes.
        n_neighbours, alpha, max_steps, seed: as in ``IncrementalEnv``.
        backend: ``"numpy"`` or ``"torch"``.
        device: torch device (default ``default_device()``); ignored for numpy.
        autoreset: finished episodes restart at once from a random initial row (drawn
            uniformly from ``initial_rows``, default all rows); the finishing rows are
            reported in ``info["final_rows"]``. Without it, finished envs stay put and
            ignore actions until ``reset``.
        initial_rows: pool of initial rows for ``reset()`` without rows and for autoreset.
        encoder: callable ``rows (int array) -> (len(rows), encoding_size)`` (e.g.
            ``lambda rows: space.encode_batch([bench.arch(r) for r in rows])``), used once
            by :meth:`encode` to build the encoding table.

    ``step`` returns ``(obs, reward, terminated, truncated, info)`` with (B,) arrays;
    ``info["active"]`` marks the envs that took the step. ``step`` before the first
    ``reset`` raises, and so do actions that are not integers (floats are never truncated).
    """

    def __init__(self, table: NeighbourTable, validation, keys: Sequence[str], n_envs: int = 1, *,
                 n_neighbours: int = 50, alpha: float | None = 6.0, max_steps: int = 16, seed: int = 0,
                 backend: str = "numpy", device: str | None = None, autoreset: bool = False,
                 initial_rows=None, encoder=None):
        if backend not in ("numpy", "torch"):
            raise ValueError(f"backend must be 'numpy' or 'torch', got {backend!r}")
        validation = np.asarray(validation, dtype=np.float64)
        if len(validation) != table.n_rows or len(keys) != table.n_rows:
            raise ValueError(f"table has {table.n_rows} rows, validation {len(validation)}, keys {len(keys)}")
        if n_envs < 1 or n_neighbours < 1 or max_steps < 1:
            raise ValueError("n_envs, n_neighbours and max_steps must be >= 1")
        self.n_envs = int(n_envs)
        self.n_neighbours = int(n_neighbours)
        self.alpha = check_alpha(alpha)
        self.max_steps = int(max_steps)
        self.seed = int(seed)
        self.backend = backend
        self.autoreset = bool(autoreset)
        self.keys = keys
        self.table = table
        self._encoder = encoder
        self._enc_table = None
        shown = shown_table(table, keys, self.n_neighbours, self.seed)
        n_shown = np.minimum(table.counts, self.n_neighbours).astype(np.int64)
        shaped = shape_accuracy(validation, self.alpha)
        pool = np.arange(table.n_rows) if initial_rows is None else np.asarray(initial_rows, dtype=np.int64)
        if len(pool) == 0:
            raise ValueError("initial_rows is empty")
        if pool.ndim != 1 or int(pool.min()) < 0 or int(pool.max()) >= table.n_rows:
            raise ValueError(f"initial_rows must be a 1-D array of rows in 0..{table.n_rows - 1} "
                             f"(negative rows do not wrap around), got min {int(pool.min())}, "
                             f"max {int(pool.max())}")
        if backend == "numpy":
            self.device = "cpu"
            self._rng = np.random.default_rng(self.seed)
            conv = lambda a, dt=None: np.asarray(a, dtype=dt)  # noqa: E731
        else:
            import torch

            from ..device import default_device
            self.device = str(device or default_device())
            self._rng = torch.Generator(device=self.device)
            self._rng.manual_seed(self.seed)
            conv = lambda a, dt=None: torch.as_tensor(np.asarray(a), device=self.device)  # noqa: E731
        self.validation = conv(validation)
        # numpy gathers with int32 (half the memory of int64 on the largest tables); torch wants int64
        self._shown = conv(shown if backend == "numpy" else shown.astype(np.int64))
        self._n_shown = conv(n_shown)
        self._shaped = conv(shaped)
        self._pool = conv(pool.astype(np.int64))
        self.width = shown.shape[1]
        self.rows = conv(np.zeros(self.n_envs, dtype=np.int64))
        self.t = conv(np.zeros(self.n_envs, dtype=np.int64))
        self.done = conv(np.ones(self.n_envs, dtype=bool))
        self._started = False

    @classmethod
    def from_benchmark(cls, benchmark, n_envs: int = 1, space=None, table: NeighbourTable | None = None,
                       **kwargs) -> "VectorIncrementalEnv":
        """Build from a tabular benchmark (``keys``, ``validation``) and its enumerable space."""
        space = space if space is not None else benchmark.space
        table = table if table is not None else neighbour_table(space, benchmark)
        kwargs.setdefault("encoder", lambda rows: space.encode_batch([benchmark.arch(int(r)) for r in rows]))
        return cls(table, benchmark.validation, benchmark.keys, n_envs, **kwargs)

    # -- backend helpers ----------------------------------------------------------------
    def _as(self, x, dtype):
        if self.backend == "numpy":
            return np.asarray(x, dtype=dtype)
        import torch
        tdt = {np.int64: torch.int64, bool: torch.bool}[dtype]
        return torch.as_tensor(np.asarray(x) if not isinstance(x, torch.Tensor) else x,
                               device=self.device).to(tdt)

    def _integral(self, actions):
        """``actions`` as int64 of this backend; non-integral values are refused."""
        if self.backend == "torch":
            import torch
            if isinstance(actions, torch.Tensor):
                if actions.is_floating_point():
                    x = actions.detach().double().cpu().numpy()
                    bad = ~np.isfinite(x) | (x != np.round(x))
                    if bad.any():
                        raise ValueError(f"actions must be integers, got {float(x[bad][0])!r} "
                                         "(non-integral actions are not truncated)")
                return self._as(actions, np.int64)
        x = np.asarray(actions)
        if x.dtype.kind == "b" or x.dtype.kind not in "iuf":
            raise TypeError(f"actions must be integers, got dtype {x.dtype}")
        if x.dtype.kind == "f":
            bad = ~np.isfinite(x) | (x != np.round(x))
            if bad.any():
                raise ValueError(f"actions must be integers, got {float(x[bad][0])!r} "
                                 "(non-integral actions are not truncated)")
        return self._as(x, np.int64)

    def _where(self, c, a, b):
        if self.backend == "numpy":
            return np.where(c, a, b)
        import torch
        return torch.where(c, a, b)

    def _draw_rows(self, k: int):
        if self.backend == "numpy":
            return self._pool[self._rng.integers(len(self._pool), size=k)]
        import torch
        return self._pool[torch.randint(len(self._pool), (k,), generator=self._rng, device=self.device)]

    def random_actions(self, obs=None):
        """A uniform draw among each env's allowed actions (the random-walk policy)."""
        n = self._n_shown[self.rows] + 1
        if self.backend == "numpy":
            return (self._rng.random(self.n_envs) * n).astype(np.int64)
        import torch
        u = torch.rand(self.n_envs, generator=self._rng, device=self.device, dtype=torch.float64)
        return (u * n).long()

    # -- observations -------------------------------------------------------------------
    def observe(self) -> dict:
        """``{"rows": (B, N+1), "action_mask": (B, N+1)}`` for the current states."""
        cur = self.rows
        if self.backend == "numpy":
            rows = np.full((self.n_envs, self.n_neighbours + 1), -1, dtype=np.int64)
        else:
            import torch
            rows = torch.full((self.n_envs, self.n_neighbours + 1), -1, dtype=torch.int64, device=self.device)
        rows[:, 0] = cur
        rows[:, 1: self.width + 1] = self._shown[cur]
        mask = rows >= 0
        return {"rows": rows, "action_mask": mask}

    def n_shown(self, rows=None):
        """Number of neighbours shown in ``rows`` (default: the current rows)."""
        return self._n_shown[self.rows if rows is None else rows]

    def encode(self, rows):
        """Encodings of ``rows`` (any shape; -1 gives zeros): float32 (..., encoding_size)."""
        if self._enc_table is None:
            if self._encoder is None:
                raise RuntimeError("no encoder given: build with from_benchmark or encoder=")
            n, chunk = self.table.n_rows, 8192
            first = np.asarray(self._encoder(np.arange(min(chunk, n))), dtype=np.float32)
            enc = np.zeros((n + 1, first.shape[1]), dtype=np.float32)
            enc[: len(first)] = first
            for lo in range(chunk, n, chunk):
                part = np.arange(lo, min(lo + chunk, n))
                enc[part] = self._encoder(part)
            # the last row stays zero: index -1 (padding) lands there
            self._enc_table = enc if self.backend == "numpy" else self._as_float(enc)
        return self._enc_table[rows]

    def _as_float(self, a):
        import torch
        return torch.as_tensor(a, device=self.device)

    # -- dynamics -----------------------------------------------------------------------
    def reset(self, rows=None, seed: int | None = None):
        """Start B episodes at ``rows`` (default: uniform draws from ``initial_rows``)."""
        if seed is not None:
            self.seed = int(seed)
            if self.backend == "numpy":
                self._rng = np.random.default_rng(self.seed)
            else:
                self._rng.manual_seed(self.seed)
        if rows is None:
            rows = self._draw_rows(self.n_envs)
        rows = self._as(rows, np.int64)
        if rows.shape != (self.n_envs,):
            raise ValueError(f"reset rows must have shape ({self.n_envs},), got {tuple(rows.shape)}")
        if int(rows.min()) < 0 or int(rows.max()) >= self.table.n_rows:
            raise ValueError(f"reset rows must lie in 0..{self.table.n_rows - 1}")
        self.rows = rows.clone() if self.backend == "torch" else rows.copy()
        self.t = self._as(np.zeros(self.n_envs, dtype=np.int64), np.int64)
        self.done = self._as(np.zeros(self.n_envs, dtype=bool), bool)
        self._started = True
        return self.observe(), {}

    def step(self, actions):
        """Advance every active env by one action; see the class docstring."""
        if not self._started:
            raise RuntimeError("step() called before reset(): call reset() to start the episodes")
        a = self._integral(actions)
        if a.shape != (self.n_envs,):
            raise ValueError(f"actions must have shape ({self.n_envs},), got {tuple(a.shape)}")
        if int(a.min()) < 0 or int(a.max()) > self.n_neighbours:
            raise ValueError(f"actions must lie in 0..{self.n_neighbours}")
        cur = self.rows
        active = ~self.done
        move = active & (a >= 1) & (a <= self._n_shown[cur])
        col = self._where(move, a - 1, a * 0)  # move implies a - 1 < n_shown <= width
        nxt = self._where(move, self._shown[cur, col], cur)
        reward = self._shaped[nxt] - self._shaped[cur]
        terminated = active & ~move
        t = self.t + active
        truncated = active & move & (t >= self.max_steps)
        self.rows, self.t = nxt, t
        self.done = self.done | terminated | truncated
        info = {"active": active}
        if self.autoreset:
            ended = terminated | truncated
            info["final_rows"] = self._where(ended, nxt, nxt * 0 - 1)
            k = int(ended.sum())
            if k:
                self.rows = self.rows.clone() if self.backend == "torch" else self.rows.copy()
                self.rows[ended] = self._draw_rows(k)
                self.t = self._where(ended, t * 0, t)
                self.done = self.done & ~ended
        return self.observe(), reward, terminated, truncated, info

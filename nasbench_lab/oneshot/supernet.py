"""Choice primitives and weight-sharing super-nets for the NB201 and DARTS spaces.

* :class:`MixedOp`: the candidate ops of one edge, run in one of four modes
  (:data:`MODES`): ``"weighted"`` (softmax(alpha)-weighted sum, DARTS), ``"gumbel"``
  (hard straight-through Gumbel-softmax sample with temperature ``tau``, GDAS),
  ``"path"`` (one given op only: ENAS, SPOS, fixed architectures) and ``"binary"``
  (ProxylessNAS binary gates: one op drawn from softmax(alpha); see :meth:`MixedOp.forward`
  for the gradient approximation).
* :class:`InputChoice`: one DARTS intermediate node, a MixedOp on the edge from every
  earlier state; it sums the 2 chosen edges (path mode) or all of them (relaxed modes).
* :class:`NB201SuperNet`, :class:`DartsSuperNet`: the macro skeletons of
  ``models.nb201`` / ``models.darts`` with every edge a MixedOp, built
  from those modules' own op constructors (plus :class:`Zero` for ``none``). Their
  architecture parameters (``alpha``: edges x ops, one matrix per cell type, shared by
  every cell of that type) are kept apart from the weights: :meth:`SuperNet.arch_parameters`
  and :meth:`SuperNet.weight_parameters`.
* :func:`build_supernet`: the one table from space class to super-net class.

DARTS's ``none`` op: with ``DartsSuperNetConfig(include_none=True)`` (the default, as in
the DARTS paper) it is a candidate zero op of every DARTS edge in the relaxed modes, so
its weight competes in the softmax; it is not an op of the DARTS space, so exports skip
it and architectures (path mode) never use it. In NB201 ``none`` is an ordinary op of the
space and can be exported.

>>> import torch
>>> from nasbench_lab.spaces.nb201 import Cell
>>> net = NB201SuperNet(NB201SuperNetConfig(channels=4, num_classes=10, in_channels=1))
>>> with net.use("path", arch=Cell(("nor_conv_3x3",) * 6)):
...     net(torch.zeros(2, 1, 8, 8)).shape
torch.Size([2, 10])
"""
from __future__ import annotations

import contextlib
import dataclasses
from typing import Any, Callable, Iterator, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..models import darts as _models_darts, nb201 as _models_nb201
from ..spaces import darts as darts_space
from ..spaces import nb201 as nb201_space
from ..spaces.base import SearchSpace

MODES = ("weighted", "gumbel", "path", "binary")


# ---------------------------------------------------------------------------------------
# choice primitives
# ---------------------------------------------------------------------------------------
class Zero(nn.Module):
    """The ``none`` op: zeros of the output shape (strided like the edge's other ops)."""

    def __init__(self, stride: int = 1):
        super().__init__()
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride > 1:
            x = x[:, :, ::self.stride, ::self.stride]
        return torch.zeros_like(x)


def gumbel_hard(alpha: torch.Tensor, tau: float, generator: torch.Generator | None) -> torch.Tensor:
    """One-hot sample of softmax((alpha + Gumbel noise) / tau), straight-through gradient.

    The noise is drawn on the CPU from ``generator`` (reproducible on any device).

    >>> w = gumbel_hard(torch.zeros(5, requires_grad=True), 1.0, torch.Generator().manual_seed(0))
    >>> float(w.detach().sum()), int((w == 1).sum())
    (1.0, 1)
    """
    u = torch.rand(alpha.shape, generator=generator).clamp_(1e-10, 1 - 1e-10).to(alpha.device)
    soft = F.softmax((alpha - torch.log(-torch.log(u))) / tau, dim=-1)
    hard = F.one_hot(soft.argmax(dim=-1), alpha.shape[-1]).to(soft.dtype)
    return hard - soft.detach() + soft


def sample_index(probs: torch.Tensor, generator: torch.Generator | None) -> int:
    """One index drawn from the probability vector ``probs`` (on the CPU, from ``generator``)."""
    return int(torch.multinomial(probs.detach().float().cpu(), 1, generator=generator))


class MixedOp(nn.Module):
    """The candidate ops of one edge (``names`` built by ``build(name)``), one of :data:`MODES`.

    ``alpha`` (one row of the super-net's arch parameters) is passed to :meth:`forward`,
    so the MixedOp holds weights only.

    >>> op = MixedOp(("skip_connect", "avg_pool_3x3"), lambda n: _models_nb201._edge_op(n, 2))
    >>> x = torch.randn(1, 2, 4, 4)
    >>> bool(torch.allclose(op(x, "weighted", torch.tensor([9e9, 0.0])), x))
    True
    """

    def __init__(self, names: Sequence[str], build: Callable[[str], nn.Module]):
        super().__init__()
        self.names = tuple(names)
        self.ops = nn.ModuleList(build(n) for n in self.names)
        #: which candidates have no weights (skip, pooling, zero): the ones ``drop`` regularises
        self.parameter_free = tuple(sum(p.numel() for p in op.parameters()) == 0 for op in self.ops)

    def _run(self, i: int, x: torch.Tensor, drop: float, generator: torch.Generator | None) -> torch.Tensor:
        out = self.ops[i](x)
        if drop > 0 and self.parameter_free[i]:
            keep = torch.rand(out.shape, generator=generator) >= drop
            out = out * keep.to(device=out.device, dtype=out.dtype) / (1.0 - drop)
        return out

    def forward(self, x: torch.Tensor, mode: str = "weighted", alpha: torch.Tensor | None = None,
                index: int | None = None, tau: float = 1.0,
                generator: torch.Generator | None = None, drop: float = 0.0) -> torch.Tensor:
        """Run the edge.

        ``drop``: operation-level dropout on the outputs of the parameter-free candidates
        (P-DARTS's regularisation against skip connections crowding out the others; the
        mask is drawn from ``generator``, scaled by ``1 / (1 - drop)``); 0 leaves every
        output as it is.

        * ``weighted``: ``sum_i softmax(alpha)_i * op_i(x)``.
        * ``gumbel``: a hard Gumbel-softmax sample ``w`` (one-hot in value); only the
          chosen op runs, scaled by ``w_k`` (= 1) so that alpha gets the straight-through
          gradient (GDAS).
        * ``path``: ``op_index(x)``; no gradient to alpha.
        * ``binary``: an active op ``k`` drawn from ``p = softmax(alpha)`` (or ``index``
          if given); output ``op_k(x) * g`` with the gate ``g = 1 + p_k - stop_grad(p_k)``
          (value 1). Approximation of ProxylessNAS's ``dL/dalpha_i = sum_j dL/dg_j
          p_j (delta_ij - p_i)``: only the active term ``j = k`` is kept, since only
          ``op_k(x)`` is computed (the paper's full rule needs every op's output).
        """
        if not 0.0 <= drop < 1.0:
            raise ValueError(f"MixedOp: drop must be in [0, 1), got {drop}")
        if mode == "weighted":
            w = F.softmax(alpha, dim=-1)
            return sum(w[i] * self._run(i, x, drop, generator) for i in range(len(self.ops)))
        if mode == "gumbel":
            w = gumbel_hard(alpha, tau, generator)
            k = int(w.detach().argmax())
            return w[k] * self._run(k, x, drop, generator)
        if mode == "path":
            if index is None:
                raise ValueError("MixedOp: path mode needs index=")
            return self._run(int(index), x, drop, generator)
        if mode == "binary":
            p = F.softmax(alpha, dim=-1)
            k = sample_index(p, generator) if index is None else int(index)
            return self._run(k, x, drop, generator) * (1 + p[k] - p[k].detach())
        raise ValueError(f"MixedOp: unknown mode {mode!r}; known: {', '.join(MODES)}")


class InputChoice(nn.Module):
    """One DARTS node: an edge (:class:`MixedOp`) from each earlier state; sums ``n_chosen``.

    ``forward(states, ..., chosen=None)`` sums every edge (each in its relaxed ``mode``:
    DARTS / GDAS / Proxyless keep all inputs and pick the top 2 at export);
    ``chosen=[(source, op index), ...]`` runs exactly those ``n_chosen`` distinct sources
    in path mode.
    """

    def __init__(self, edges: Sequence[MixedOp], n_chosen: int = 2):
        super().__init__()
        self.edges = nn.ModuleList(edges)
        self.n_chosen = n_chosen

    def forward(self, states: Sequence[torch.Tensor], mode: str = "weighted",
                alpha: torch.Tensor | None = None, chosen: Sequence[tuple[int, int]] | None = None,
                tau: float = 1.0, generator: torch.Generator | None = None, drop: float = 0.0) -> torch.Tensor:
        if chosen is None:
            return sum(edge(states[j], mode, alpha[j], tau=tau, generator=generator, drop=drop)
                       for j, edge in enumerate(self.edges))
        sources = [int(s) for s, _ in chosen]
        if len(set(sources)) != self.n_chosen or not all(0 <= s < len(self.edges) for s in sources):
            raise ValueError(f"InputChoice: need {self.n_chosen} distinct sources in "
                             f"0..{len(self.edges) - 1}, got {sources}")
        return sum(self.edges[s](states[s], "path", index=op, generator=generator, drop=drop)
                   for s, op in chosen)


# ---------------------------------------------------------------------------------------
# the common super-net interface
# ---------------------------------------------------------------------------------------
@dataclasses.dataclass
class _RunState:
    mode: str = "weighted"
    tau: float = 1.0
    generator: torch.Generator | None = None
    path: Any = None  # the space-specific indices of a fixed architecture (path mode)
    drop: float = 0.0  # operation-level dropout on parameter-free candidates


class SuperNet(nn.Module):
    """Base class: arch parameters in ``self.alpha`` (a ParameterDict), a run mode, evaluation.

    Subclasses set ``space``, register their MixedOps with :meth:`_register`, and
    implement ``forward``, ``_path_of(arch)`` and ``derive(probs)``.
    """

    space: SearchSpace

    def __init__(self):
        super().__init__()
        self.alpha = nn.ParameterDict()
        self._edges: list[tuple[str, int, MixedOp]] = []
        self._labels: dict[str, list[str]] = {}
        self._op_names: dict[str, tuple[str, ...]] = {}
        self.state = _RunState()
        self.data = None  # a benchmarks.data.Splits, for evaluate()

    # -- parameters ---------------------------------------------------------------------
    def _add_alpha(self, name: str, labels: list[str], ops: Sequence[str]) -> None:
        self.alpha[name] = nn.Parameter(1e-3 * torch.randn(len(labels), len(ops)))
        self._labels[name] = labels
        self._op_names[name] = tuple(ops)

    def _register(self, name: str, row: int, op: MixedOp) -> MixedOp:
        self._edges.append((name, row, op))
        return op

    def arch_parameters(self) -> list[nn.Parameter]:
        """The architecture parameters (alpha matrices), never in :meth:`weight_parameters`."""
        return list(self.alpha.values())

    def weight_parameters(self) -> list[nn.Parameter]:
        """Every other parameter (the shared weights)."""
        arch = {id(p) for p in self.arch_parameters()}
        return [p for p in self.parameters() if id(p) not in arch]

    def probabilities(self) -> dict[str, torch.Tensor]:
        """softmax(alpha) per edge, one (edges x ops) matrix per arch parameter (detached)."""
        return {k: F.softmax(a.detach(), dim=-1).cpu() for k, a in self.alpha.items()}

    def arch_weights(self) -> dict[str, float]:
        """``{"alpha/<edge>/<op>": probability}`` for the per-epoch log."""
        out = {}
        for name, p in self.probabilities().items():
            for r, label in enumerate(self._labels[name]):
                for c, op in enumerate(self._op_names[name]):
                    out[f"alpha/{label}/{op}"] = float(p[r, c])
        return out

    def op_costs(self, table: dict[str, float] | None = None) -> dict[str, torch.Tensor]:
        """Per arch parameter, an (edges x ops) cost: the parameter count of each candidate
        op summed over the cells that share the row, or ``table[op]`` (e.g. a latency) per
        use when a table is given (ops missing from the table cost 0)."""
        out = {k: torch.zeros_like(a, requires_grad=False) for k, a in self.alpha.items()}
        for name, row, mixed in self._edges:
            for c, (op_name, op) in enumerate(zip(mixed.names, mixed.ops)):
                cost = (float(table.get(op_name, 0.0)) if table is not None
                        else float(sum(p.numel() for p in op.parameters())))
                out[name][row, c] += cost
        return {k: v.detach() for k, v in out.items()}

    # -- running ------------------------------------------------------------------------
    @contextlib.contextmanager
    def use(self, mode: str, arch: Any = None, tau: float = 1.0,
            generator: torch.Generator | None = None, drop: float = 0.0) -> Iterator["SuperNet"]:
        """Run the block in ``mode`` (path mode: fixed to ``arch``; ``drop``: dropout on the
        parameter-free candidates, see :class:`MixedOp`); the old mode comes back."""
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}; known: {', '.join(MODES)}")
        if mode == "path" and arch is None:
            raise ValueError("path mode needs arch=")
        old = self.state
        path = self._path_of(self.space.validate(arch)) if mode == "path" else None
        self.state = _RunState(mode, float(tau), generator, path, float(drop))
        try:
            yield self
        finally:
            self.state = old

    def sample(self, generator: torch.Generator | None = None) -> Any:
        """A uniform random architecture of the space (the space's own sampler, seeded
        from ``generator``)."""
        seed = int(torch.randint(2 ** 62, (1,), generator=generator))
        return self.space.sample(np.random.default_rng(seed))

    def decision_mask(self, i: int, values: Sequence) -> list[bool] | None:
        """Which choices of decision ``i`` of ``space.decisions()`` are allowed after
        ``values`` (None: all); used by the ENAS controller."""
        return None

    def export(self) -> Any:
        """The architecture of the largest alpha per edge (see :meth:`derive`)."""
        return self.derive(self.probabilities())

    @torch.no_grad()
    def evaluate(self, arch: Any, split: str | tuple = "val", data=None, batch_size: int = 1024) -> float:
        """Inherited-weight accuracy of ``arch`` on ``split`` (``"train"``, ``"val"``,
        ``"test"`` of ``data`` or ``self.data``, or an ``(x, y)`` pair of arrays).

        Path mode fixed to ``arch``. BatchNorm normalises with the statistics of each
        evaluation batch (the running statistics mix every path trained); the running
        buffers and the train/eval flag are restored afterwards, so evaluation is
        deterministic and leaves the super-net unchanged.
        """
        if isinstance(split, str):
            d = data if data is not None else self.data
            if d is None:
                raise ValueError("evaluate: no data; pass data= (a Splits) or split=(x, y)")
            x, y = getattr(d, f"x_{split}"), getattr(d, f"y_{split}")
        else:
            x, y = split
        device = next(self.parameters()).device
        buffers = {k: v.clone() for k, v in self.named_buffers()}
        was_training = self.training
        self.train()
        correct = 0
        try:
            with self.use("path", arch=arch):
                for i in range(0, len(x), batch_size):
                    xb = torch.as_tensor(x[i:i + batch_size], device=device)
                    yb = torch.as_tensor(y[i:i + batch_size], device=device)
                    correct += int((self(xb).argmax(dim=1) == yb).sum())
        finally:
            for k, v in self.named_buffers():
                v.copy_(buffers[k])
            self.train(was_training)
        return correct / len(x)

    # -- subclass hooks -----------------------------------------------------------------
    def _path_of(self, arch: Any) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def derive(self, probs: dict[str, torch.Tensor]) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def _edge(self, mixed: MixedOp, name: str, row: int, x: torch.Tensor, index: int | None) -> torch.Tensor:
        s = self.state
        return mixed(x, s.mode, self.alpha[name][row], index=index, tau=s.tau, generator=s.generator,
                     drop=s.drop)


# ---------------------------------------------------------------------------------------
# NAS-Bench-201
# ---------------------------------------------------------------------------------------
@dataclasses.dataclass
class NB201SuperNetConfig:
    """Size of the NB201 super-net (the macro skeleton of ``_models_nb201.NB201Network``)."""

    channels: int = 8
    """first-stage width (the benchmark uses 16)"""
    cells_per_stage: int = 1
    """cells per stage (the benchmark uses 5)"""
    stages: int = 3
    """resolution stages, a residual reduction block between consecutive ones"""
    num_classes: int = 10
    """classifier outputs (set from the data)"""
    in_channels: int = 3
    """input image channels (set from the data)"""


def _nb201_op(name: str, c: int) -> nn.Module:
    return Zero() if name == "none" else _models_nb201._edge_op(name, c)


class NB201SuperCell(nn.Module):
    """An NB201 cell whose 6 edges are MixedOps over the 5 ops (node i sums its in-edges)."""

    def __init__(self, net: "NB201SuperNet", c: int):
        super().__init__()
        self.edges = nn.ModuleList(
            net._register("cell", e, MixedOp(nb201_space.OPS, lambda n: _nb201_op(n, c)))
            for e in range(nb201_space.NUM_EDGES))

    def forward(self, x: torch.Tensor, net: "NB201SuperNet") -> torch.Tensor:
        nodes = [x]
        path = net.state.path
        for node in (1, 2, 3):
            nodes.append(sum(net._edge(self.edges[e], "cell", e, nodes[src],
                                       None if path is None else path[e])
                             for e, (to, src) in enumerate(nb201_space.EDGES) if to == node))
        return nodes[3]


class NB201SuperNet(SuperNet):
    """NB201's skeleton (stem, stages of super-cells, residual reductions), 6 edges x 5 ops.

    One alpha matrix ``"cell"`` (6 x 5) is shared by every cell; log columns
    ``alpha/<from>-><to>/<op>``.
    """

    def __init__(self, config: NB201SuperNetConfig = NB201SuperNetConfig()):
        super().__init__()
        self.config = config
        self.space = nb201_space.NB201Space()
        self._add_alpha("cell", [f"{src}->{to}" for to, src in nb201_space.EDGES], nb201_space.OPS)
        c = config.channels
        self.stem = nn.Sequential(nn.Conv2d(config.in_channels, c, 3, padding=1, bias=False),
                                  nn.BatchNorm2d(c))
        blocks: list[nn.Module] = []
        for stage in range(config.stages):
            if stage > 0:
                blocks.append(_models_nb201.ResidualReduction(c, 2 * c))
                c *= 2
            blocks += [NB201SuperCell(self, c) for _ in range(config.cells_per_stage)]
        self.blocks = nn.ModuleList(blocks)
        self.head = nn.Sequential(nn.BatchNorm2d(c), nn.ReLU())
        self.classifier = nn.Linear(c, config.num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        for block in self.blocks:
            x = block(x, self) if isinstance(block, NB201SuperCell) else block(x)
        return self.classifier(self.head(x).mean(dim=(2, 3)))

    def _path_of(self, arch: nb201_space.Cell) -> tuple[int, ...]:
        return arch.op_ids

    def derive(self, probs: dict[str, torch.Tensor]) -> nb201_space.Cell:
        """The op of the largest weight on each edge (``none`` included: it is an NB201 op)."""
        return nb201_space.Cell(tuple(nb201_space.OPS[int(i)] for i in probs["cell"].argmax(dim=1)))


# ---------------------------------------------------------------------------------------
# DARTS / NAS-Bench-301
# ---------------------------------------------------------------------------------------
@dataclasses.dataclass
class DartsSuperNetConfig:
    """Size of the DARTS super-net (the skeleton of ``_models_darts.DartsNetwork``)."""

    channels: int = 4
    """first-stage cell width C (cells output 4C maps; DARTS search uses 16)"""
    stages: int = 2
    """resolution stages, one reduction cell between consecutive ones (DARTS search: 3)"""
    cells_per_stage: int = 1
    """normal cells per stage"""
    stem_multiplier: int = 3
    """the stem outputs ``stem_multiplier * channels`` maps"""
    include_none: bool = True
    """add DARTS's zero op as a candidate of the relaxed mixes (never exported)"""
    num_classes: int = 10
    """classifier outputs (set from the data)"""
    in_channels: int = 3
    """input image channels (set from the data)"""


def _darts_op(name: str, c: int, stride: int) -> nn.Module:
    return Zero(stride) if name == "none" else _models_darts._op(name, c, stride)


class DartsSuperCell(nn.Module):
    """A DARTS cell: 4 :class:`InputChoice` nodes over the 2 inputs and earlier nodes."""

    def __init__(self, net: "DartsSuperNet", kind: str, c_pp: int, c_p: int, c: int,
                 reduction_prev: bool):
        super().__init__()
        self.kind = kind
        reduction = kind == "reduce"
        self.pre0 = (_models_darts.FactorizedReduce(c_pp, c) if reduction_prev
                     else _models_nb201.ReLUConvBN(c_pp, c, 1))
        self.pre1 = _models_nb201.ReLUConvBN(c_p, c, 1)
        nodes = []
        for k in range(darts_space.NUM_NODES):
            edges = []
            for src in range(k + 2):
                stride = 2 if reduction and src < 2 else 1
                op = MixedOp(net.op_names, lambda n, s=stride: _darts_op(n, c, s))
                edges.append(net._register(kind, darts_space.EDGE_START[k] + src, op))
            nodes.append(InputChoice(edges, n_chosen=2))
        self.nodes = nn.ModuleList(nodes)

    def forward(self, s0: torch.Tensor, s1: torch.Tensor, net: "DartsSuperNet") -> torch.Tensor:
        states = [self.pre0(s0), self.pre1(s1)]
        st = net.state
        alpha = net.alpha[self.kind]
        for k, node in enumerate(self.nodes):
            start = darts_space.EDGE_START[k]
            chosen = None if st.path is None else st.path[self.kind][k]
            states.append(node(states, st.mode, alpha[start:start + k + 2], chosen=chosen,
                               tau=st.tau, generator=st.generator, drop=st.drop))
        return torch.cat(states[2:], dim=1)


class DartsSuperNet(SuperNet):
    """The DARTS search network: normal and reduce super-cells, 14 edges each.

    Two alpha matrices ``"normal"`` and ``"reduce"`` (14 x ops, rows numbered as
    NAS-Bench-301 edges: node k's edge from source j is row ``EDGE_START[k] + j``), over
    ``("none",) +`` the 7 NB301 ops when ``include_none``; log columns
    ``alpha/<cell>/<source>-><node id>/<op>``.
    """

    def __init__(self, config: DartsSuperNetConfig = DartsSuperNetConfig()):
        super().__init__()
        self.config = config
        self.space = darts_space.DartsSpace()
        self.op_names = (("none",) if config.include_none else ()) + darts_space.OPS
        labels = [f"{src}->{k + 2}" for k in range(darts_space.NUM_NODES) for src in range(k + 2)]
        for kind in darts_space.CELL_TYPES:
            self._add_alpha(kind, [f"{kind}/{lab}" for lab in labels], self.op_names)
        c = config.channels
        c_stem = config.stem_multiplier * c
        self.stem = nn.Sequential(nn.Conv2d(config.in_channels, c_stem, 3, padding=1, bias=False),
                                  nn.BatchNorm2d(c_stem))
        c_pp, c_p = c_stem, c_stem
        cells, reduction_prev = [], False
        for stage in range(config.stages):
            if stage > 0:
                c *= 2
                cells.append(DartsSuperCell(self, "reduce", c_pp, c_p, c, reduction_prev))
                c_pp, c_p, reduction_prev = c_p, 4 * c, True
            for _ in range(config.cells_per_stage):
                cells.append(DartsSuperCell(self, "normal", c_pp, c_p, c, reduction_prev))
                c_pp, c_p, reduction_prev = c_p, 4 * c, False
        self.cells = nn.ModuleList(cells)
        self.classifier = nn.Linear(c_p, config.num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s0 = s1 = self.stem(x)
        for cell in self.cells:
            s0, s1 = s1, cell(s0, s1, self)
        return self.classifier(s1.mean(dim=(2, 3)))

    def _path_of(self, arch: darts_space.Genotype) -> dict[str, list[list[tuple[int, int]]]]:
        index = {op: i for i, op in enumerate(self.op_names)}
        return {kind: [[(src, index[op]) for op, src in arch.cell(kind)[2 * k:2 * k + 2]]
                       for k in range(darts_space.NUM_NODES)]
                for kind in darts_space.CELL_TYPES}

    def derive(self, probs: dict[str, torch.Tensor]) -> darts_space.Genotype:
        """DARTS's rule: per edge its strongest op other than ``none``; per node the 2
        sources whose edges have the largest such weight (ties: the lower source)."""
        real = [i for i, op in enumerate(self.op_names) if op != "none"]
        cells = []
        for kind in darts_space.CELL_TYPES:
            p = probs[kind][:, real]
            pairs = []
            for k in range(darts_space.NUM_NODES):
                start = darts_space.EDGE_START[k]
                best, arg = p[start:start + k + 2].max(dim=1)
                order = sorted(range(k + 2), key=lambda j: (-float(best[j]), j))[:2]
                pairs += [(self.op_names[real[int(arg[j])]], j) for j in sorted(order)]
            cells.append(tuple(pairs))
        return darts_space.Genotype(*cells)

    def decision_mask(self, i: int, values: Sequence) -> list[bool] | None:
        """Input 2 of a node (decision ``4k + 1`` of each cell) must differ from input 1."""
        if i % 4 != 1:
            return None
        name, choices = self.space.decisions()[i]
        return [c != values[i - 1] for c in choices]


# ---------------------------------------------------------------------------------------
# the one builder table
# ---------------------------------------------------------------------------------------
#: space class -> (super-net class, its config class)
SUPERNETS: dict[type, tuple[type[SuperNet], type]] = {
    nb201_space.NB201Space: (NB201SuperNet, NB201SuperNetConfig),
    darts_space.DartsSpace: (DartsSuperNet, DartsSuperNetConfig),
}


def supernet_config_class(space: SearchSpace) -> type:
    """The config dataclass of ``space``'s super-net (ValueError for other spaces)."""
    for cls, (_, cfg) in SUPERNETS.items():
        if isinstance(space, cls):
            return cfg
    raise ValueError(f"no super-net for space {type(space).__name__}; known: "
                     f"{', '.join(c.__name__ for c in SUPERNETS)}")


def build_supernet(space: SearchSpace, config=None, data=None) -> SuperNet:
    """The super-net of ``space`` (``config``: its config dataclass; ``data``: a Splits
    that fixes ``num_classes`` / ``in_channels`` and becomes ``supernet.data``)."""
    cfg_cls = supernet_config_class(space)
    net_cls = next(n for cls, (n, _) in SUPERNETS.items() if isinstance(space, cls))
    config = config if config is not None else cfg_cls()
    if data is not None:
        config = dataclasses.replace(config, num_classes=int(data.num_classes),
                                     in_channels=int(data.in_channels))
    net = net_cls(config)
    net.data = data
    return net


__all__ = ["MODES", "MixedOp", "InputChoice", "Zero", "SuperNet", "NB201SuperNet", "NB201SuperNetConfig",
           "DartsSuperNet", "DartsSuperNetConfig", "SUPERNETS", "build_supernet", "supernet_config_class",
           "gumbel_hard", "sample_index"]

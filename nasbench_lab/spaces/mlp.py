"""The MLP chain space of the HalfMoons REINFORCE system.

A :class:`Chain` is a tuple of hidden layers ``(width, activation)`` with width in
``1, 2, 4, 8, 16`` and activation in ``Sigmoid, Tanh, ReLU, LeakyReLU``; between 0 and 6
of them. The network it stands for maps the 2-D input through the hidden layers to a
fixed output layer of 2 logits (the empty chain is a plain linear 2 -> 2 classifier).

>>> from nasbench_lab.spaces.mlp import Chain, ChainSpace
>>> c = Chain([(8, "Tanh"), (8, "ReLU")])
>>> c.key
'8-Tanh|8-ReLU'
>>> space = ChainSpace(max_depth=3)
>>> space.size
8421
>>> space.enumerate()[space.index(c)] == c
True

Enumeration order (also the row order of NAS-Bench-Moons): by depth 0, 1, ...,
``max_depth``; within one depth, lexicographically over the layers, first layer most
significant, where the 20 layer types are ordered width-major
(``1-Sigmoid, 1-Tanh, 1-ReLU, 1-LeakyReLU, 2-Sigmoid, ..., 16-LeakyReLU``).
"""
from __future__ import annotations

import collections.abc
import dataclasses
import itertools
from typing import Any

import numpy as np

from .base import InvalidArchitecture, SearchSpace, as_index, check_decision_values

WIDTHS: tuple[int, ...] = (1, 2, 4, 8, 16)
ACTIVATIONS: tuple[str, ...] = ("Sigmoid", "Tanh", "ReLU", "LeakyReLU")
#: the 20 layer types in enumeration order (width-major)
LAYER_TYPES: tuple[tuple[int, str], ...] = tuple((w, a) for w in WIDTHS for a in ACTIVATIONS)
MAX_LAYERS = 6
INPUT_DIM = 2
OUTPUT_DIM = 2
#: ``enumerate()`` refuses spaces larger than this (max_depth <= 4)
ENUMERATE_LIMIT = 1_000_000

_WIDTH_INDEX = {w: i for i, w in enumerate(WIDTHS)}
_ACT_INDEX = {a: i for i, a in enumerate(ACTIVATIONS)}
_LAYER_INDEX = {lt: i for i, lt in enumerate(LAYER_TYPES)}


def _check_layer(i: int, layer: Any) -> tuple[int, str]:
    if isinstance(layer, (collections.abc.Set, collections.abc.Mapping)):
        raise InvalidArchitecture(f"layer {i}: expected an ordered (width, activation) pair, got the "
                                  f"unordered {type(layer).__name__} {layer!r}")
    if isinstance(layer, (str, bytes)) or not hasattr(layer, "__len__") or len(layer) != 2:
        raise InvalidArchitecture(f"layer {i}: expected a (width, activation) pair, got {layer!r}")
    width, act = layer
    if isinstance(width, (bool, np.bool_)) or not isinstance(width, (int, np.integer)):
        raise InvalidArchitecture(f"layer {i}: width must be an integer in {WIDTHS}, got {width!r}")
    width = int(width)
    if width not in _WIDTH_INDEX:
        raise InvalidArchitecture(f"layer {i}: width {width} not in {WIDTHS}")
    if not isinstance(act, str) or act not in _ACT_INDEX:
        raise InvalidArchitecture(f"layer {i}: activation {act!r} not in {ACTIVATIONS}")
    return width, str(act)


@dataclasses.dataclass(frozen=True)
class Chain:
    """A chain of hidden layers ``((width, activation), ...)``; output layer of 2 fixed.

    >>> Chain([(16, "ReLU"), (16, "ReLU")]).parameters   # 2*16+16 + 16*16+16 + 16*2+2
    354
    >>> Chain.from_key("empty").depth
    0
    """

    layers: tuple[tuple[int, str], ...] = ()

    def __post_init__(self) -> None:
        layers = self.layers
        if isinstance(layers, (str, bytes)) or not hasattr(layers, "__iter__"):
            raise InvalidArchitecture(f"layers must be a sequence of (width, activation) pairs, got {layers!r}")
        if isinstance(layers, (collections.abc.Set, collections.abc.Mapping)):
            raise InvalidArchitecture(f"layers must be an ordered sequence (list or tuple), got a "
                                      f"{type(layers).__name__}, whose order differs between processes")
        layers = tuple(_check_layer(i, layer) for i, layer in enumerate(layers))
        if len(layers) > MAX_LAYERS:
            raise InvalidArchitecture(f"a chain has at most {MAX_LAYERS} hidden layers, got {len(layers)}")
        object.__setattr__(self, "layers", layers)

    # -- views ----------------------------------------------------------------------
    @property
    def depth(self) -> int:
        return len(self.layers)

    @property
    def widths(self) -> tuple[int, ...]:
        return tuple(w for w, _ in self.layers)

    @property
    def activations(self) -> tuple[str, ...]:
        return tuple(a for _, a in self.layers)

    @property
    def key(self) -> str:
        """``"8-Tanh|8-ReLU"``; ``"empty"`` for the chain without hidden layers."""
        if not self.layers:
            return "empty"
        return "|".join(f"{w}-{a}" for w, a in self.layers)

    @property
    def parameters(self) -> int:
        """Trainable parameters of the network (weights and biases, output layer included)."""
        dims = (INPUT_DIM, *self.widths, OUTPUT_DIM)
        return sum(i * o + o for i, o in zip(dims[:-1], dims[1:]))

    @classmethod
    def from_key(cls, key: str) -> "Chain":
        """Inverse of ``key``; raises InvalidArchitecture on a malformed key."""
        if not isinstance(key, str):
            raise InvalidArchitecture(f"chain key must be a string, got {key!r}")
        if key == "empty":
            return cls(())
        layers = []
        for i, part in enumerate(key.split("|")):
            w, sep, a = part.partition("-")
            if not sep or not w.isdigit():
                raise InvalidArchitecture(f"chain key {key!r}: layer {i} {part!r} is not 'WIDTH-Activation'")
            layers.append((int(w), a))
        chain = cls(tuple(layers))
        if chain.key != key:  # e.g. "08-Tanh": one chain, one key
            raise InvalidArchitecture(f"chain key {key!r} is not canonical; that chain's key is {chain.key!r}")
        return chain

    def __str__(self) -> str:
        """The seed's notation: ``[8, Tanh, 8, ReLU, 2]`` (2 is the output layer)."""
        return "[" + ", ".join([f"{w}, {a}" for w, a in self.layers] + [str(OUTPUT_DIM)]) + "]"


def _as_chain(arch: Any) -> Chain:
    if isinstance(arch, Chain):
        return arch
    if isinstance(arch, str):
        return Chain.from_key(arch)
    return Chain(arch)


class ChainSpace(SearchSpace):
    """Chains of at most ``max_depth`` hidden layers (1..6).

    >>> import numpy as np
    >>> space = ChainSpace(max_depth=6)
    >>> chain = space.sample(np.random.default_rng(0))
    >>> all(space.is_valid(n) for n in space.neighbours(chain))
    True
    """

    name = "mlp"

    def __init__(self, max_depth: int = MAX_LAYERS) -> None:
        if isinstance(max_depth, bool) or not isinstance(max_depth, (int, np.integer)) or not 0 <= max_depth <= MAX_LAYERS:
            raise ValueError(f"max_depth must be an integer in 0..{MAX_LAYERS}, got {max_depth!r}")
        self.max_depth = int(max_depth)
        #: width one-hot (5) + activation one-hot (4) per layer, padded to max_depth
        self.encoding_size = (len(WIDTHS) + len(ACTIVATIONS)) * self.max_depth
        n = len(LAYER_TYPES)
        #: first enumeration index of each depth
        self._offsets = [sum(n**k for k in range(d)) for d in range(self.max_depth + 2)]
        self.size = self._offsets[-1]

    # -- validation / keys ------------------------------------------------------------
    def validate(self, arch: Any) -> Chain:
        chain = _as_chain(arch)
        if chain.depth > self.max_depth:
            raise InvalidArchitecture(f"chain {chain.key!r} has {chain.depth} hidden layers; this space allows at most {self.max_depth}")
        return chain

    def key(self, arch: Any) -> str:
        return self.validate(arch).key

    def from_key(self, key: str) -> Chain:
        return self.validate(Chain.from_key(key))

    # -- categorical decisions ---------------------------------------------------------
    def decisions(self) -> list[tuple[str, tuple]]:
        """``depth`` (choices ``0 .. max_depth``), then for every layer slot ``i = 1 ..
        max_depth`` ``"layer i width"`` (choices :data:`WIDTHS`) and ``"layer i
        activation"`` (choices :data:`ACTIVATIONS`): ``1 + 2 * max_depth`` decisions.
        Slots beyond the depth are inactive (see :meth:`from_decisions`).

        >>> ChainSpace(max_depth=2).decisions()
        [('depth', (0, 1, 2)), ('layer 1 width', (1, 2, 4, 8, 16)), ('layer 1 activation', ('Sigmoid', 'Tanh', 'ReLU', 'LeakyReLU')), ('layer 2 width', (1, 2, 4, 8, 16)), ('layer 2 activation', ('Sigmoid', 'Tanh', 'ReLU', 'LeakyReLU'))]
        """
        out: list[tuple[str, tuple]] = [("depth", tuple(range(self.max_depth + 1)))]
        for i in range(1, self.max_depth + 1):
            out += [(f"layer {i} width", WIDTHS), (f"layer {i} activation", ACTIVATIONS)]
        return out

    def to_decisions(self, arch: Any) -> list:
        """The decision values of ``arch``; the unused slots beyond its depth are filled
        with the first choices, ``WIDTHS[0]`` and ``ACTIVATIONS[0]`` (``1, "Sigmoid"``),
        so each chain has one canonical vector.

        >>> ChainSpace(max_depth=3).to_decisions(Chain([(8, "Tanh")]))
        [1, 8, 'Tanh', 1, 'Sigmoid', 1, 'Sigmoid']
        """
        chain = self.validate(arch)
        out: list = [chain.depth]
        for i in range(self.max_depth):
            w, a = chain.layers[i] if i < chain.depth else (WIDTHS[0], ACTIVATIONS[0])
            out += [w, a]
        return out

    def from_decisions(self, values) -> Chain:
        """The chain of one value per decision (see :meth:`decisions`): its first ``depth``
        layer slots. Slots beyond the depth are ignored, but every value, used or not,
        must be exactly one of its decision's choices (integer widths and depth, never
        booleans or floats); otherwise :class:`InvalidArchitecture` names the decision.

        >>> space = ChainSpace(max_depth=2)
        >>> space.from_decisions([1, 16, "ReLU", 4, "Tanh"]).key
        '16-ReLU'
        >>> space.from_decisions([2, 16, "ReLU", 3, "Tanh"])
        Traceback (most recent call last):
        ...
        nasbench_lab.spaces.base.InvalidArchitecture: mlp decisions: 'layer 2 width' = 3 is not one of its choices (1, 2, 4, 8, 16)
        """
        values = check_decision_values("mlp", self.decisions(), values)
        depth = values[0]
        return Chain(tuple((values[1 + 2 * i], values[2 + 2 * i]) for i in range(depth)))

    # -- enumeration ------------------------------------------------------------------
    def index(self, arch: Any) -> int:
        """Position of ``arch`` in ``enumerate()`` (computed, no enumeration needed)."""
        chain = self.validate(arch)
        i = 0
        for layer in chain.layers:
            i = i * len(LAYER_TYPES) + _LAYER_INDEX[layer]
        return self._offsets[chain.depth] + i

    def from_index(self, index: int) -> Chain:
        """Inverse of ``index`` (an integer; ``2.7`` raises ``InvalidIndex``)."""
        index = as_index(index, "chain index")
        if not 0 <= index < self.size:
            raise IndexError(f"chain index {index} out of range 0..{self.size - 1}")
        depth = max(d for d in range(self.max_depth + 1) if self._offsets[d] <= index)
        rest = index - self._offsets[depth]
        digits = []
        for _ in range(depth):
            rest, r = divmod(rest, len(LAYER_TYPES))
            digits.append(r)
        return Chain(tuple(LAYER_TYPES[r] for r in reversed(digits)))

    def neighbour_table(self, keys=None, **options):
        """The neighbour table of the space (rows in ``enumerate()`` order, or in the order
        of ``keys``), built in memory from ``neighbours``; as ``enumerate()``, only for
        spaces of at most ``ENUMERATE_LIMIT`` chains."""
        return super().neighbour_table(keys, **options)

    def enumerate(self) -> list[Chain]:
        """Every chain, in the documented order (see the module docstring)."""
        if self.size > ENUMERATE_LIMIT:
            raise ValueError(
                f"the chain space with max_depth={self.max_depth} has {self.size:,} chains; "
                f"enumerate() is limited to {ENUMERATE_LIMIT:,} (max_depth <= 4); use index()/from_index() or sample()"
            )
        return [Chain(layers) for d in range(self.max_depth + 1) for layers in itertools.product(LAYER_TYPES, repeat=d)]

    # -- sampling -------------------------------------------------------------------
    def sample(self, rng: np.random.Generator) -> Chain:
        """Uniform depth in 0..max_depth, then each layer uniform over the 20 layer types."""
        depth = int(rng.integers(self.max_depth + 1))
        return Chain(tuple(LAYER_TYPES[int(j)] for j in rng.integers(len(LAYER_TYPES), size=depth)))

    def sample_uniform(self, rng: np.random.Generator) -> Chain:
        """Uniform over all chains of the space (dominated by the deepest ones)."""
        return self.from_index(int(rng.integers(self.size)))

    # -- neighbours -----------------------------------------------------------------
    def neighbours(self, arch: Any) -> list[Chain]:
        """Add a layer anywhere, remove one, change a width, change an activation.

        Order: insertions (position, then layer type in enumeration order), removals
        (by position), width changes (position, width), activation changes (position,
        activation); duplicates (e.g. inserting a layer next to an identical one) are
        kept at their first occurrence only.
        """
        chain = self.validate(arch)
        layers = chain.layers
        cands: list[tuple] = []
        if chain.depth < self.max_depth:
            for pos in range(chain.depth + 1):
                for lt in LAYER_TYPES:
                    cands.append(layers[:pos] + (lt,) + layers[pos:])
        for pos in range(chain.depth):
            cands.append(layers[:pos] + layers[pos + 1:])
        for pos, (w, a) in enumerate(layers):
            for w2 in WIDTHS:
                if w2 != w:
                    cands.append(layers[:pos] + ((w2, a),) + layers[pos + 1:])
        for pos, (w, a) in enumerate(layers):
            for a2 in ACTIVATIONS:
                if a2 != a:
                    cands.append(layers[:pos] + ((w, a2),) + layers[pos + 1:])
        seen = {layers}
        out = []
        for c in cands:
            if c not in seen:
                seen.add(c)
                out.append(Chain(c))
        return out

    # -- encoding -------------------------------------------------------------------
    def encode(self, arch: Any) -> np.ndarray:
        """Per layer one-hot width (5) then one-hot activation (4); zero rows pad to max_depth."""
        chain = self.validate(arch)
        out = np.zeros((self.max_depth, len(WIDTHS) + len(ACTIVATIONS)), dtype=np.float32)
        for i, (w, a) in enumerate(chain.layers):
            out[i, _WIDTH_INDEX[w]] = 1.0
            out[i, len(WIDTHS) + _ACT_INDEX[a]] = 1.0
        return out.reshape(-1)

    # -- drawing ----------------------------------------------------------------------
    def draw(self, arch: Any, ax=None):
        """Draw the chain as a row of boxes (input, hidden layers, output) on a matplotlib axis."""
        import matplotlib.pyplot as plt

        chain = self.validate(arch)
        if ax is None:
            _, ax = plt.subplots(figsize=(1.6 * (chain.depth + 2), 1.6))
        colours = {"Sigmoid": "#8dd3c7", "Tanh": "#ffffb3", "ReLU": "#bebada", "LeakyReLU": "#fb8072"}
        boxes = [("input\n2", "#dddddd")] + [(f"{w}\n{a}", colours[a]) for w, a in chain.layers] + [("output\n2", "#dddddd")]
        for i, (label, colour) in enumerate(boxes):
            ax.add_patch(plt.Rectangle((i * 1.5, 0), 1.0, 1.0, facecolor=colour, edgecolor="black"))
            ax.text(i * 1.5 + 0.5, 0.5, label, ha="center", va="center", fontsize=8)
            if i:
                ax.annotate("", xy=(i * 1.5, 0.5), xytext=(i * 1.5 - 0.5, 0.5), arrowprops={"arrowstyle": "->"})
        ax.set_xlim(-0.2, len(boxes) * 1.5 - 0.3)
        ax.set_ylim(-0.2, 1.2)
        ax.set_aspect("equal")
        ax.axis("off")
        ax.set_title(chain.key, fontsize=9)
        return ax

    def __repr__(self) -> str:
        return f"<ChainSpace 'mlp' max_depth={self.max_depth}, size={self.size:,}>"



__all__ = ["ACTIVATIONS", "Chain", "ChainSpace", "LAYER_TYPES", "MAX_LAYERS", "WIDTHS"]

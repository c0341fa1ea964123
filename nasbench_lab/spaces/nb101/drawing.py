"""Drawing a NAS-Bench-101 cell with matplotlib and networkx."""
from __future__ import annotations

import numpy as np

from ._hash import CONV1X1, CONV3X3, INPUT, MAXPOOL3X3, OUTPUT
from .cell import as_cell

OP_COLOURS = {INPUT: "#4c72b0", CONV3X3: "#dd8452", CONV1X1: "#55a868", MAXPOOL3X3: "#c44e52",
              OUTPUT: "#8172b3"}
_SHORT = {INPUT: "in", CONV3X3: "3x3", CONV1X1: "1x1", MAXPOOL3X3: "mp", OUTPUT: "out"}


def draw(cell, ax=None, layout: str = "layered"):
    """Draw ``cell`` on a matplotlib axis (networkx layout, vertices coloured by op).

    ``layout`` is ``"layered"`` (topological layers left to right) or any networkx
    ``*_layout`` name such as ``"spring"``. Returns the axis.
    """
    import matplotlib.pyplot as plt
    import networkx as nx

    cell = as_cell(cell)
    if ax is None:
        _, ax = plt.subplots(figsize=(4, 3))
    g = nx.DiGraph()
    ops = cell.ops
    for v, op in enumerate(ops):
        g.add_node(v, op=op)
    m = cell.matrix
    g.add_edges_from((int(i), int(j)) for i, j in zip(*np.nonzero(m)))
    if layout == "layered":
        for v in nx.topological_sort(g):
            g.nodes[v]["layer"] = max((g.nodes[u]["layer"] + 1 for u in g.predecessors(v)), default=0)
        pos = nx.multipartite_layout(g, subset_key="layer")
    else:
        pos = getattr(nx, f"{layout}_layout")(g)
    nx.draw_networkx(g, pos, ax=ax, node_color=[OP_COLOURS[op] for op in ops],
                     labels={v: _SHORT[op] for v, op in enumerate(ops)}, font_size=8,
                     font_color="white", node_size=600, arrows=True, arrowsize=12)
    ax.set_axis_off()
    return ax

"""Plain-Python oracles for the NAS-Bench-101 space (tests only).

* :func:`candidates` / :func:`remove_vertex`: the five neighbour moves of paper §3.2.1 as
  (n, rows, codes) tuples, in the order the compiled kernel must produce them;
* :func:`neighbour_data`: the unique neighbours those moves give (keys by md5);
* :func:`md5_key`: the official module hash on the small-int form of a pruned cell,
  independent of the compiled kernel (the matrix-level reference is
  ``nasbench_lab.spaces.nb101.reference.reference_key``).
"""
from __future__ import annotations

import hashlib

from nasbench_lab.spaces.nb101 import MAX_EDGES, MAX_VERTICES, md5_batch
from nasbench_lab.spaces.nb101._hash import HASH_LABEL, is_full
from nasbench_lab.spaces.nb101.cell import _pack

_MD5_INIT = {(o, i, c): hashlib.md5(str((o, i, HASH_LABEL[c])).encode()).hexdigest()
             for o in range(MAX_VERTICES) for i in range(MAX_VERTICES) for c in range(5)}


def md5_key(n: int, rows, codes) -> str:
    """The official module hash of a pruned cell ``(n, rows, codes)`` (32 hex characters)."""
    ins = [[u for u in range(n) if rows[u] >> v & 1] for v in range(n)]
    outs = [[w for w in range(n) if rows[v] >> w & 1] for v in range(n)]
    h = [_MD5_INIT[len(outs[v]), len(ins[v]), codes[v]] for v in range(n)]
    for _ in range(n):
        h = [hashlib.md5(("".join(sorted(h[u] for u in ins[v])) + "|" + "".join(sorted(h[w] for w in outs[v]))
                          + "|" + h[v]).encode()).hexdigest() for v in range(n)]
    return hashlib.md5(str(sorted(h)).encode()).hexdigest()


def remove_vertex(n: int, rows, codes, v: int) -> list:
    """Every way of removing interior vertex ``v`` and reconnecting its predecessors to its
    successors so that each of them keeps in- and out-degree >= 1 (within the edge limit)."""
    preds = [u for u in range(v) if rows[u] >> v & 1]
    succs = [w for w in range(v + 1, n) if rows[v] >> w & 1]
    base = [rows[u] & ~(1 << v) for u in range(n)]
    base[v] = 0
    pairs = [(p, s) for p in preds for s in succs if not base[p] >> s & 1]
    has_in = 0
    for u in range(n):
        if u != v:
            has_in |= base[u]
    edges0 = sum(r.bit_count() for r in base)
    out = []
    low = (1 << v) - 1
    for subset in range(1 << len(pairs)):
        if edges0 + subset.bit_count() > MAX_EDGES:
            continue
        new = base[:]
        for k, (p, s) in enumerate(pairs):
            if subset >> k & 1:
                new[p] |= 1 << s
        inn = has_in
        for p in preds:
            inn |= new[p]
        if any(new[p] == 0 for p in preds) or any(not inn >> s & 1 for s in succs):
            continue
        # drop vertex v: bits above v shift down by one
        nr = tuple((r & low) | ((r >> 1) & ~low) for u, r in enumerate(new) if u != v)
        out.append((n - 1, nr, codes[:v] + codes[v + 1:]))
    return out


def candidates(n: int, rows, codes) -> list:
    """The five moves as (n, rows, codes) tuples, in a fixed order, before deduplication."""
    cands = []
    edges = sum(r.bit_count() for r in rows)
    # 1. remove a vertex
    for v in range(1, n - 1):
        cands.extend(remove_vertex(n, rows, codes, v))
    # 2. add a vertex between a preceding vertex a and a succeeding vertex b (all labels)
    if n < MAX_VERTICES and edges + 2 <= MAX_EDGES:
        for a in range(n - 1):
            low = (1 << (a + 1)) - 1
            shifted = [(r & low) | ((r & ~low) << 1) for r in rows]
            for b in range(a + 1, n):
                nb = b + 1
                new = shifted[:a + 1] + [1 << nb] + shifted[a + 1:]
                new[a] |= 1 << (a + 1)
                nr = tuple(new)
                for c in (1, 2, 3):
                    cands.append((n + 1, nr, codes[:a + 1] + (c,) + codes[a + 1:]))
    # 3. change a vertex label
    for v in range(1, n - 1):
        for c in (1, 2, 3):
            if c != codes[v]:
                cands.append((n, rows, codes[:v] + (c,) + codes[v + 1:]))
    # 4. remove an edge, if every vertex stays on an input->output path
    for i in range(n - 1):
        for j in range(i + 1, n):
            if rows[i] >> j & 1:
                new = list(rows)
                new[i] &= ~(1 << j)
                if is_full(n, new):
                    cands.append((n, tuple(new), codes))
    # 5. add an edge a -> b (either direction, no cycle, edge limit)
    if edges < MAX_EDGES:
        desc = [0] * n  # descendants of each vertex
        for v in range(n - 1, -1, -1):
            d = rows[v]
            for w in range(v + 1, n):
                if rows[v] >> w & 1:
                    d |= desc[w]
            desc[v] = d
        for a in range(n - 1):
            for b in range(1, n):
                if a == b or rows[a] >> b & 1 or (b < a and rows[b] >> a & 1):
                    continue
                if a < b:
                    new = list(rows)
                    new[a] |= 1 << b
                    cands.append((n, tuple(new), codes))
                elif not desc[b] >> a & 1:  # no path b -> a: the edge a -> b keeps it acyclic
                    new = list(rows)
                    new[a] |= 1 << b  # against index order: renumber topologically
                    order, nr = topo_sort(n, new)
                    cands.append((n, tuple(nr), tuple(codes[v] for v in order)))
    return cands


def topo_sort(n: int, rows) -> tuple[list, list]:
    """A topological order (smallest index first) and the rows renumbered in it."""
    indeg = [0] * n
    for v in range(n):
        r = rows[v]
        for w in range(n):
            if r >> w & 1:
                indeg[w] += 1
    order = []
    ready = [v for v in range(n) if indeg[v] == 0]
    while ready:
        ready.sort()
        v = ready.pop(0)
        order.append(v)
        r = rows[v]
        for w in range(n):
            if r >> w & 1:
                indeg[w] -= 1
                if indeg[w] == 0:
                    ready.append(w)
    pos = {v: k for k, v in enumerate(order)}
    new_rows = [0] * n
    for v in range(n):
        r = 0
        for w in range(n):
            if rows[v] >> w & 1:
                r |= 1 << pos[w]
        new_rows[pos[v]] = r
    return order, new_rows


def neighbour_data(cell) -> tuple[list, list]:
    """(packed candidates, keys) of the unique neighbours of ``cell`` from the plain-Python
    moves, keys by the md5 batch kernel: what ``neighbourhood._neighbour_data`` must return."""
    cands = candidates(cell._n, cell._rows, cell._codes)
    uniq = list(dict.fromkeys(cands))
    packed = [_pack(*c) for c in uniq]
    keys = md5_batch([c[0] for c in uniq], [p[0] for p in packed], [p[1] for p in packed])
    seen = {cell.key}
    out_c, out_k = [], []
    for c, k in zip(uniq, keys):
        if k not in seen:
            seen.add(k)
            out_c.append((c[0], *_pack(*c)))
            out_k.append(k)
    return out_c, out_k


def blake2s_key(cell) -> str:
    """The blake2s variant computed with ``hashlib.blake2s`` from a cell's public matrix and
    ops: vertices start from ``bytes((out_degree, in_degree, op code))``, each round hashes
    sorted in-neighbour digests + ``|`` + sorted out-neighbour digests + ``|`` + own digest,
    the key is the hex digest of the sorted final digests concatenated."""
    from nasbench_lab.spaces.nb101 import OPS

    m = cell.matrix
    n = len(m)
    codes = [OPS.index(op) for op in cell.ops]
    h = [hashlib.blake2s(bytes((int(m[v].sum()), int(m[:, v].sum()), codes[v]))).digest() for v in range(n)]
    for _ in range(n):
        h = [hashlib.blake2s(b"".join(sorted(h[u] for u in range(n) if m[u, v])) + b"|"
                             + b"".join(sorted(h[w] for w in range(n) if m[v, w])) + b"|" + h[v]).digest()
             for v in range(n)]
    return hashlib.blake2s(b"".join(sorted(h))).hexdigest()

"""The NAS-Bench-101 enumeration: all 423,624 unique cells, cached as packed arrays.

The enumeration is built once (450,808 labelled graphs, one per labelling of each
unlabelled isomorphism class, are hashed and deduplicated; see :mod:`._enum`) and cached
in ``paths.cache_dir()/"nb101_enumeration.npz"`` (atomic write). By number of vertices
after pruning:

======== ========
vertices cells
======== ========
2        1
3        6
4        84
5        2,441
6        62,010
7        359,082
======== ========
"""
from __future__ import annotations

import warnings
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from ... import paths
from ..base import as_index
from . import _jit
from .cell import Cell, _unpack

#: cells in the space (unique by key)
SIZE = 423_624
#: cells per number of vertices after pruning (checked by the slow enumeration test)
COUNTS = {2: 1, 3: 6, 4: 84, 5: 2441, 6: 62010, 7: 359082}
#: the file name of the enumeration cache under ``paths.cache_dir()``
ENUMERATION_FILE = "nb101_enumeration.npz"
_ENUM_FORMAT = 1
_ENUM: dict = {}  # cache path -> loaded arrays


def enumeration_cache_path() -> Path:
    return paths.cache_dir() / ENUMERATION_FILE


def enumeration_cached(path=None) -> bool:
    """Whether the enumeration cache file exists."""
    return Path(path or enumeration_cache_path()).exists()


def build_enumeration(path=None, workers: int = 2) -> dict:
    """Enumerate the space and write the cache atomically (``np.savez`` arrays).

    Two processes building at once each write a private temporary file and rename it over
    the target, so readers only ever see a complete file.
    """
    from . import _enum

    path = Path(path or enumeration_cache_path())
    data = _enum.build(workers=workers)
    data["format"] = np.int64(_ENUM_FORMAT)
    with paths.atomic_write(path, suffix=".npz") as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, **data)
    _ENUM.pop(str(path), None)
    return data


def _load(path=None, workers: int = 2) -> dict:
    path = Path(path or enumeration_cache_path())
    got = _ENUM.get(str(path))
    if got is not None:
        return got
    data = None
    if path.exists():
        why = ""
        try:
            data = paths.read_npz(path, ("keys", "n", "adj", "codes", "format"), "nb101 enumeration cache")
        except paths.UnreadableFile as e:  # a derived cache: rebuild it
            why = str(e)
        else:
            lengths = {len(data[k]) for k in ("keys", "n", "adj", "codes")}
            if int(data["format"]) != _ENUM_FORMAT or lengths != {SIZE}:
                why = f"nb101 enumeration cache {path} is stale or incomplete (format, or not {SIZE:,} cells)"
        if why:
            data = None
            warnings.warn(f"{why}; rebuilding it", RuntimeWarning, stacklevel=3)
    if data is None:
        data = build_enumeration(path, workers=workers)
    _ENUM[str(path)] = data
    return data


def _keys_str(d: dict) -> np.ndarray:
    """The keys as a str array (converted once, on first use)."""
    if "keys_str" not in d:
        d["keys_str"] = d["keys"].astype("U32")
    return d["keys_str"]


def _enum_index(d: dict):
    """(sorted 64-bit refinement hashes, their rows) of a loaded enumeration, or None when
    the hash is not unique over the enumeration (it is over the space: checked by the tests)."""
    got = d.get("wl64_index")
    if got is None:
        got = False
        h = _jit.wl64_batch(d["n"].astype(np.int64), d["adj"].astype(np.int64),
                            d["codes"].astype(np.int64))
        order = np.argsort(h, kind="stable")
        sh = h[order]
        if not (sh[1:] == sh[:-1]).any():
            got = (sh, order.astype(np.int64))
        d["wl64_index"] = got
    return got or None


def _loaded_enumeration() -> dict | None:
    """A complete enumeration already in memory (any cache path), else None."""
    for d in _ENUM.values():
        if len(d["keys"]) == SIZE:
            return d
    return None


def enumeration_arrays(path=None) -> dict[str, np.ndarray]:
    """Arrays over the 423,624 cells in enumeration order (sorted by key), for vectorised use.

    ``keys`` (str), ``n`` (vertices), ``adj`` (uint64, bit ``7*i + j`` = edge i -> j),
    ``codes`` (uint32, 3 bits per vertex), ``ops`` ((N, 7) int8 op codes, -1 padded) and
    ``matrices`` ((N, 7, 7) int8, zero padded after the output).
    """
    d = _load(path)
    if "matrices" not in d:
        bits = np.unpackbits(d["adj"].astype("<u8").view(np.uint8).reshape(-1, 8), axis=1, bitorder="little")
        d["matrices"] = bits[:, :49].reshape(-1, 7, 7).astype(np.int8)
        ops = ((d["codes"][:, None].astype(np.int64) >> (3 * np.arange(7))) & 7).astype(np.int8)
        ops[np.arange(7)[None, :] >= d["n"][:, None]] = -1
        d["ops"] = ops
    return {"keys": _keys_str(d), "n": d["n"], "adj": d["adj"], "codes": d["codes"],
            "ops": d["ops"], "matrices": d["matrices"]}


def enumeration_counts(path=None) -> dict[int, int]:
    """Cells per number of vertices (2..7) in the enumeration."""
    n = _load(path)["n"]
    return {int(v): int(c) for v, c in zip(*np.unique(n, return_counts=True))}


def enumeration_metadata(path=None) -> dict:
    """Build metadata stored with the cache (seconds, workers, labelled graphs hashed)."""
    d = _load(path)
    return {k: d[k].item() for k in ("build_seconds", "structure_seconds", "labelled_hashed", "workers")
            if k in d}


def cell_at(i: int, path=None) -> Cell:
    """The ``i``-th cell of the enumeration."""
    i = as_index(i, "nb101 enumeration index")
    d = _load(path)
    if not -SIZE <= i < SIZE:
        raise IndexError(f"nb101 enumeration index {i} out of range")
    n = int(d["n"][i])
    rows, codes = _unpack(n, int(d["adj"][i]), int(d["codes"][i]))
    return Cell._trusted(n, rows, codes, d["keys"][i].decode())


def index_of(key: str, path=None) -> int:
    """Position of ``key`` in the enumeration (KeyError when absent)."""
    keys = _load(path)["keys"]
    k = key.encode() if isinstance(key, str) else key
    i = int(np.searchsorted(keys, k))
    if i >= len(keys) or keys[i] != k:
        raise KeyError(f"{key!r} is not a NAS-Bench-101 cell key")
    return i


class Enumeration(Sequence):
    """The cells of the space in enumeration order, built lazily on access."""

    def __init__(self, path=None):
        self._path = path
        self._data = _load(path)

    def __len__(self) -> int:
        return len(self._data["keys"])

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [cell_at(j, self._path) for j in range(*i.indices(len(self)))]
        return cell_at(i, self._path)

    def __iter__(self) -> Iterator[Cell]:
        d = self._data
        for n, a, c, k in zip(d["n"].tolist(), d["adj"].tolist(), d["codes"].tolist(), _keys_str(d).tolist()):
            rows, codes = _unpack(n, a, c)
            yield Cell._trusted(n, rows, codes, k)

    @property
    def keys(self) -> np.ndarray:
        return _keys_str(self._data)


def enumerate(path=None) -> Enumeration:  # noqa: A001 - the space's vocabulary
    """All 423,624 unique cells, sorted by key (a lazy sequence over the cached arrays)."""
    return Enumeration(path)


def cli_build_enumeration(args) -> int:
    """``nasbench-lab build nb101-enumeration [--workers 2] [--out PATH]``."""
    out = Path(args.out) if getattr(args, "out", None) else enumeration_cache_path()
    data = build_enumeration(out, workers=int(getattr(args, "workers", 2) or 2))
    counts = {int(v): int(c) for v, c in zip(*np.unique(data["n"], return_counts=True))}
    print(f"nb101 enumeration: {len(data['keys']):,} cells {counts}, "
          f"{float(data['build_seconds']):.1f} s on {int(data['workers'])} workers -> {out}")
    return 0

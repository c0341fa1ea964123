"""Reading the pickled XGBoost members of NAS-Bench-301 without running pickled code.

Each official member ``surrogate_model.model`` is ``pickle.dump(booster)`` of an
``xgboost.core.Booster`` from a 2020 xgboost release. A pickled Booster is the object's
``__dict__`` whose ``handle`` is the booster's memory snapshot (a bytearray). We read
the pickle with an unpickler that accepts only those few names (``xgboost.core.Booster``
is replaced by an inert stand-in that just keeps its state), then turn the snapshot into
xgboost's JSON model:

* xgboost 1.0-1.2 snapshot ``b"CONFIG-offset:" + int64 offset + legacy binary model +
  JSON config``, or a bare legacy binary model (older releases, optional ``b"binf"``):
  current xgboost can no longer read the legacy binary format, so
  :func:`legacy_binary_to_json` parses it (learner parameters 136 bytes, objective and
  booster names, gbtree parameters 160 bytes, per tree 148 bytes of parameters, 20 bytes
  per node, 16 bytes of statistics per node, the tree_info, the attributes) and writes
  the equivalent JSON model. Deleted (pruned) nodes are dropped while renumbering.
* JSON or UBJSON snapshots (xgboost >= 1.3): handed to xgboost's own loader.

The official API predicts with every tree (xgboost 1.x ``Booster.predict`` ignores early
stopping's ``best_iteration``), so ``best_iteration``/``best_ntree_limit`` attributes are
dropped from the converted model.
"""
from __future__ import annotations

import collections
import copyreg
import io
import json
import math
import pickle
import struct
from typing import Any

import numpy as np

from ... import paths
from ..base import BenchmarkFileError

SNAPSHOT_HEADER = b"CONFIG-offset:"
_LEARNER_PARAM = struct.Struct("<fIiiiII27i")  # 136 bytes
_GBTREE_PARAM = struct.Struct("<iiiiqii32i")  # 160 bytes
_TREE_PARAM = struct.Struct("<6i31i")  # 148 bytes
_NODE = np.dtype([("parent", "<i4"), ("cleft", "<i4"), ("cright", "<i4"), ("sindex", "<u4"), ("info", "<f4")])
_STAT = np.dtype([("loss_chg", "<f4"), ("sum_hess", "<f4"), ("base_weight", "<f4"), ("leaf_child_cnt", "<i4")])
#: objectives whose prediction is the raw margin (the only kind a surrogate regressor uses)
IDENTITY_OBJECTIVES = {"reg:squarederror": "reg:squarederror", "reg:linear": "reg:squarederror"}
_DROP_ATTRIBUTES = {"best_iteration", "best_ntree_limit", "best_msg", "best_score"}
assert _LEARNER_PARAM.size == 136 and _GBTREE_PARAM.size == 160 and _TREE_PARAM.size == 148
assert _NODE.itemsize == 20 and _STAT.itemsize == 16


#: the largest member file read at all (the official members are tens of MB)
MAX_MEMBER_BYTES = 1 << 30
#: bounds on a model's structure (the official members: about a thousand trees of a few
#: hundred nodes each)
MAX_TREES = 1_000_000
MAX_TREE_NODES = 1 << 24
MAX_MODEL_NODES = 1 << 27


# -- restricted unpickling -------------------------------------------------------------
def _safe_bytearray(*args):
    """``bytearray(bytes)`` only: ``bytearray(n)`` would allocate what the pickle asks for."""
    if len(args) > 2 or (args and not isinstance(args[0], (bytes, bytearray, str))):
        raise BenchmarkFileError("refusing to unpickle bytearray() of anything but bytes (a pickle "
                                 "may not make the reader allocate memory it does not hold)")
    return bytearray(*args)


def _safe_reconstructor(cls, base, state):
    """``copyreg._reconstructor`` for plain objects only (no ``base(state)`` allocations)."""
    if base is not object or state is not None:
        raise BenchmarkFileError(f"refusing to unpickle a {getattr(base, '__name__', base)!r}-based "
                                 "object: a NAS-Bench-301 member holds plain objects only")
    return copyreg._reconstructor(cls, base, state)


def _prescan(data: bytes, where: str) -> None:
    """Walk the pickle's opcodes without running them: every declared length (bytes, strings,
    frames) must fit in the data, so nothing is allocated beyond what the file holds."""
    import pickletools

    try:
        for op, arg, pos in pickletools.genops(data):
            if op.name == "FRAME" and int(arg) > len(data) - pos:
                raise ValueError(f"a frame at byte {pos} declares {arg} bytes, {len(data) - pos} remain")
    except ValueError as e:
        raise BenchmarkFileError(f"{where}: refusing a malformed pickle before reading it ({e})") from None


class PickledBooster:
    """Inert stand-in for a pickled ``xgboost.core.Booster`` / ``lightgbm.basic.Booster``."""

    def __init__(self, *args, **kwargs):
        self.state: Any = None

    def __setstate__(self, state):
        self.state = state


class _RestrictedUnpickler(pickle.Unpickler):
    _ALLOWED = {
        ("xgboost.core", "Booster"): PickledBooster,
        ("lightgbm.basic", "Booster"): PickledBooster,
        ("builtins", "bytearray"): _safe_bytearray,
        ("builtins", "object"): object,
        ("copyreg", "_reconstructor"): _safe_reconstructor,
        # plain containers and scalars a LightGBM Booster keeps in its state
        ("collections", "OrderedDict"): collections.OrderedDict,
        ("collections", "defaultdict"): collections.defaultdict,
    }
    _NUMPY_SCALARS = {("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
                      ("numpy", "dtype")}

    def find_class(self, module: str, name: str):
        if (module, name) == ("_codecs", "encode"):  # protocol-2 bytes
            import codecs

            return codecs.encode
        if (module, name) in self._NUMPY_SCALARS:
            return np.dtype if name == "dtype" else _numpy_scalar
        try:
            return self._ALLOWED[(module, name)]
        except KeyError:
            raise BenchmarkFileError(
                f"refusing to unpickle {module}.{name}: a NAS-Bench-301 member may only hold a "
                "pickled xgboost/lightgbm Booster") from None


def _numpy_scalar(dtype, data=None):
    """A numpy scalar from its pickled (dtype, bytes) form, without calling pickled code."""
    if not isinstance(dtype, np.dtype) or dtype.hasobject or not isinstance(data, (bytes, bytearray)):
        raise BenchmarkFileError("refusing to unpickle a numpy scalar that is not plain data")
    return np.frombuffer(bytes(data), dtype=dtype, count=1)[0]


def read_pickled_booster(data: bytes, where: str = "member") -> dict:
    """The state dict of a pickled Booster (``handle`` as bytes), without running its code.

    The opcodes are checked first (:func:`_prescan`), and no allowed callable allocates
    more than the pickle's own bytes, so a hostile member cannot make the reader allocate
    gigabytes before it is refused.
    """
    if len(data) > MAX_MEMBER_BYTES:
        raise BenchmarkFileError(f"{where}: {len(data):,} bytes; a member is at most {MAX_MEMBER_BYTES:,}")
    _prescan(data, where)
    try:
        obj = _RestrictedUnpickler(io.BytesIO(data)).load()
    except BenchmarkFileError as e:
        raise BenchmarkFileError(f"{where}: {e}") from None
    except Exception as e:  # truncated/garbled pickles raise many kinds of errors
        raise BenchmarkFileError(f"{where}: not a readable pickle ({type(e).__name__}: {e})") from e
    if not isinstance(obj, PickledBooster) or not isinstance(obj.state, dict) or "handle" not in obj.state:
        raise BenchmarkFileError(f"{where}: the pickle does not hold a Booster with a model handle")
    handle = obj.state["handle"]
    if isinstance(handle, str):  # lightgbm keeps its model as text
        handle = handle.encode()
    if not isinstance(handle, (bytes, bytearray)) or not handle:
        raise BenchmarkFileError(f"{where}: the pickled Booster holds no model")
    return {**obj.state, "handle": bytes(handle)}


# -- legacy binary model -> JSON model -------------------------------------------------
class _Reader:
    def __init__(self, buf: bytes, where: str):
        self.buf, self.pos, self.where = buf, 0, where

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.buf):
            raise BenchmarkFileError(f"{self.where}: legacy model truncated at byte {self.pos} "
                                     f"(needed {n} more bytes, {len(self.buf) - self.pos} left)")
        out = self.buf[self.pos:self.pos + n]
        self.pos += n
        return out

    def struct(self, s: struct.Struct) -> tuple:
        return s.unpack(self.take(s.size))

    def u64(self) -> int:
        return struct.unpack("<Q", self.take(8))[0]

    def string(self) -> str:
        n = self.u64()
        if n > len(self.buf):
            raise BenchmarkFileError(f"{self.where}: bad string length {n} at byte {self.pos - 8}")
        return self.take(n).decode("utf-8", errors="replace")

    def array(self, dtype: np.dtype, count: int) -> np.ndarray:
        return np.frombuffer(self.take(dtype.itemsize * count), dtype=dtype, count=count)


def _tree_json(nodes: np.ndarray, stats: np.ndarray, tree_id: int, num_feature: int, where: str) -> dict:
    """One tree in JSON form, renumbered breadth-first from the root (drops deleted nodes)."""
    order, index = [0], {0: 0}
    i = 0
    while i < len(order):
        nd = nodes[order[i]]
        if nd["cleft"] != -1:
            for child in (int(nd["cleft"]), int(nd["cright"])):
                if not 0 < child < len(nodes) or child in index:
                    raise BenchmarkFileError(f"{where}: tree {tree_id} has a bad child index {child}")
                index[child] = len(order)
                order.append(child)
        i += 1
    sel = np.asarray(order)
    nd, st = nodes[sel], stats[sel]
    leaf = nd["cleft"] == -1
    left = np.where(leaf, -1, [index.get(int(c), -1) for c in nd["cleft"]])
    right = np.where(leaf, -1, [index.get(int(c), -1) for c in nd["cright"]])
    parents = np.full(len(sel), 2147483647, dtype=np.int64)
    for p in range(len(sel)):
        if not leaf[p]:
            parents[left[p]] = p
            parents[right[p]] = p
    split = np.where(leaf, 0, nd["sindex"] & 0x7FFFFFFF).astype(np.int64)
    if (split[~leaf] >= num_feature).any():
        raise BenchmarkFileError(f"{where}: tree {tree_id} splits on a feature >= num_feature {num_feature}")
    default_left = np.where(leaf, 0, nd["sindex"] >> 31).astype(np.int64)
    f = lambda a: [float(x) for x in np.asarray(a, dtype=np.float32)]  # noqa: E731
    return {
        "base_weights": f(st["base_weight"]),
        "categories": [], "categories_nodes": [], "categories_segments": [], "categories_sizes": [],
        "default_left": default_left.tolist(),
        "id": tree_id,
        "left_children": left.tolist(),
        "loss_changes": f(st["loss_chg"]),
        "parents": parents.tolist(),
        "right_children": right.tolist(),
        "split_conditions": f(nd["info"]),
        "split_indices": split.tolist(),
        "split_type": [0] * len(sel),
        "sum_hessian": f(st["sum_hess"]),
        "tree_param": {"num_deleted": "0", "num_feature": str(num_feature), "num_nodes": str(len(sel)),
                       "size_leaf_vector": "1"},
    }


def legacy_binary_to_json(buf: bytes, where: str = "member") -> dict:
    """Parse an xgboost legacy binary model (gbtree, identity-link regression) into JSON form."""
    r = _Reader(buf, where)
    if buf[:4] == b"binf":
        r.take(4)
    if buf[:4] == b"bs64":
        raise BenchmarkFileError(f"{where}: base64 xgboost models are not supported")
    lp = r.struct(_LEARNER_PARAM)
    base_score, num_feature, num_class, extra_attrs = lp[0], lp[1], lp[2], lp[3]
    if num_class not in (0, 1):
        raise BenchmarkFileError(f"{where}: multi-class models (num_class={num_class}) are not surrogates")
    objective = r.string()
    booster = r.string()
    if booster != "gbtree":
        raise BenchmarkFileError(f"{where}: booster {booster!r} is not supported (only gbtree)")
    if objective not in IDENTITY_OBJECTIVES:
        raise BenchmarkFileError(f"{where}: objective {objective!r} is not supported "
                                 f"(expected one of {sorted(IDENTITY_OBJECTIVES)})")
    gp = r.struct(_GBTREE_PARAM)
    num_trees = gp[0]
    if not 0 <= num_trees <= 10_000_000:
        raise BenchmarkFileError(f"{where}: implausible tree count {num_trees}")
    trees = []
    for t in range(num_trees):
        tp = r.struct(_TREE_PARAM)
        num_nodes, size_leaf_vector = tp[1], tp[5]
        if num_nodes <= 0:
            raise BenchmarkFileError(f"{where}: tree {t} has {num_nodes} nodes")
        nodes = r.array(_NODE, num_nodes)
        stats = r.array(_STAT, num_nodes)
        if size_leaf_vector != 0:
            r.take(4 * r.u64())
        trees.append(_tree_json(nodes, stats, t, int(num_feature), where))
    tree_info = r.array(np.dtype("<i4"), num_trees).tolist() if num_trees else []
    attributes: dict[str, str] = {}
    if extra_attrs:
        for _ in range(r.u64()):
            k = r.string()
            attributes[k] = r.string()
    attributes.pop("objective", None)
    attributes.pop("metrics", None)
    attributes = {k: v for k, v in attributes.items()
                  if k not in _DROP_ATTRIBUTES and not k.startswith("SAVED_PARAM_")}
    return {
        "learner": {
            "attributes": attributes,
            "feature_names": [], "feature_types": [],
            "gradient_booster": {
                "model": {
                    "gbtree_model_param": {"num_parallel_tree": "1", "num_trees": str(num_trees)},
                    "iteration_indptr": list(range(num_trees + 1)),
                    "tree_info": tree_info,
                    "trees": trees,
                },
                "name": "gbtree",
            },
            "learner_model_param": {"base_score": repr(float(np.float32(base_score))),
                                    "boost_from_average": "0", "num_class": "0",
                                    "num_feature": str(num_feature), "num_target": "1"},
            "objective": {"name": IDENTITY_OBJECTIVES[objective], "reg_loss_param": {"scale_pos_weight": "1"}},
        },
        "version": [1, 0, 0],
    }


def snapshot_to_booster(handle: bytes, where: str = "member"):
    """An ``xgboost.Booster`` from a pickled Booster's memory snapshot (any known format)."""
    xgb = paths.require("xgboost", "NAS-Bench-301")

    if handle.startswith(SNAPSHOT_HEADER):
        off = struct.unpack_from("<q", handle, len(SNAPSHOT_HEADER))[0]
        start = len(SNAPSHOT_HEADER) + 8
        if not 0 < off <= len(handle) - start:
            raise BenchmarkFileError(f"{where}: bad CONFIG-offset {off} in the Booster snapshot")
        model = legacy_binary_to_json(handle[start:start + off], where)
    elif handle[:1] == b"{":  # JSON or UBJSON memory snapshot: xgboost reads it itself
        bst = xgb.Booster()
        try:
            bst.__setstate__({"handle": bytearray(handle)})
        except xgb.core.XGBoostError as e:
            raise BenchmarkFileError(f"{where}: xgboost cannot read the snapshot: "
                                     f"{str(e).splitlines()[0]}") from e
        model = json.loads(bst.save_raw("json"))
        attrs = model["learner"].get("attributes", {})
        for k in _DROP_ATTRIBUTES:
            attrs.pop(k, None)
    else:
        model = legacy_binary_to_json(handle, where)
    return json_to_booster(model, where)


def _trees_of(model: Any, where: str) -> tuple[dict, list]:
    try:
        learner = model["learner"]
        gb = learner["gradient_booster"]
        if gb.get("name") == "dart":
            gb = gb["gbtree"]
        if gb.get("name") != "gbtree":
            raise BenchmarkFileError(f"{where}: booster {gb.get('name')!r} is not supported (only gbtree)")
        trees = gb["model"]["trees"]
        param = learner["learner_model_param"]
    except (KeyError, TypeError, AttributeError):
        raise BenchmarkFileError(f"{where}: not an xgboost JSON model (learner/gradient_booster/model/"
                                 "trees missing)") from None
    if not isinstance(trees, list):
        raise BenchmarkFileError(f"{where}: the model's trees are not a list")
    return param, trees


def validate_model(model: Any, where: str = "member", num_features: int | None = None) -> None:
    """Check an xgboost JSON model's structure before xgboost (or :class:`Forest`) walks it.

    Each tree: equal-length node arrays of a sane size, children ``-1`` (a leaf) or in
    ``1..n-1``, no node the child of two parents (so the part reachable from the root is a
    tree: no cycle), split features in ``0..num_features-1`` and finite thresholds and leaf
    values. ``BenchmarkFileError`` names the member and the tree; a cycle or an
    out-of-range index would otherwise crash xgboost or loop forever.
    """
    param, trees = _trees_of(model, where)
    try:
        declared = int(str(param.get("num_feature", "0")).strip("[]"))
        base = float(str(param.get("base_score", "0")).strip("[]"))
    except (TypeError, ValueError):
        raise BenchmarkFileError(f"{where}: unreadable learner_model_param {param!r}") from None
    limit = declared if num_features is None else min(declared, num_features)
    if limit <= 0:
        raise BenchmarkFileError(f"{where}: the model declares {declared} features")
    if not math.isfinite(base):
        raise BenchmarkFileError(f"{where}: base_score {base} is not finite")
    if len(trees) > MAX_TREES:
        raise BenchmarkFileError(f"{where}: {len(trees):,} trees; at most {MAX_TREES:,} are accepted")
    total = 0
    for t, tree in enumerate(trees):
        bad = lambda why: BenchmarkFileError(f"{where}: tree {t} {why}")  # noqa: E731
        try:
            left = np.asarray(tree["left_children"], dtype=np.int64)
            right = np.asarray(tree["right_children"], dtype=np.int64)
            split = np.asarray(tree["split_indices"], dtype=np.int64)
            cond = np.asarray(tree["split_conditions"], dtype=np.float64)
            dleft = np.asarray(tree["default_left"], dtype=np.int64)
        except (KeyError, TypeError, ValueError, OverflowError):
            raise bad("lacks numeric left_children/right_children/split_indices/split_conditions/"
                      "default_left arrays") from None
        n = len(left)
        if left.ndim != 1 or not 1 <= n <= MAX_TREE_NODES:
            raise bad(f"has {n} nodes (1..{MAX_TREE_NODES:,} accepted)")
        if any(a.shape != (n,) for a in (right, split, cond, dleft)):
            raise bad("has node arrays of different lengths")
        total += n
        if total > MAX_MODEL_NODES:
            raise BenchmarkFileError(f"{where}: more than {MAX_MODEL_NODES:,} nodes in all")
        leaf = left == -1
        if not np.array_equal(leaf, right == -1):
            raise bad("has a node with exactly one child")
        inner = ~leaf
        kids = np.concatenate([left[inner], right[inner]])
        if len(kids) and (kids.min() < 1 or kids.max() >= n):
            k = int(kids[(kids < 1) | (kids >= n)][0])
            raise bad(f"has a bad child index {k} (nodes 1..{n - 1}; 0 is the root)")
        if len(np.unique(kids)) != len(kids):
            raise bad("has a node with two parents (a cycle or a shared subtree)")
        if (split[inner] < 0).any() or (split[inner] >= limit).any():
            k = int(split[inner][(split[inner] < 0) | (split[inner] >= limit)][0])
            raise bad(f"splits on feature {k}; the model has {limit} features (0..{limit - 1})")
        if not np.isfinite(cond).all():
            raise bad("has a threshold or leaf value that is not finite")
        if ((dleft != 0) & (dleft != 1)).any():
            raise bad("has default_left values other than 0/1")


def json_to_booster(model: dict | bytes | str, where: str = "member"):
    """An ``xgboost.Booster`` from a JSON model, after :func:`validate_model`."""
    xgb = paths.require("xgboost", "NAS-Bench-301")

    if isinstance(model, (bytes, bytearray, str)):
        try:
            model = json.loads(model)
        except (UnicodeDecodeError, ValueError) as e:
            raise BenchmarkFileError(f"{where}: not a JSON xgboost model ({e})") from None
    validate_model(model, where)
    if isinstance(model, dict) and model.get("version") == [1, 0, 0]:  # from our converter
        model = {**model, "version": [int(x) for x in xgb.__version__.split(".")[:3]]}
    raw = model if isinstance(model, (bytes, str)) else json.dumps(model)
    bst = xgb.Booster()
    try:
        bst.load_model(bytearray(raw.encode() if isinstance(raw, str) else raw))
    except xgb.core.XGBoostError as e:
        raise BenchmarkFileError(f"{where}: xgboost refused the converted model: "
                                 f"{str(e).splitlines()[0]}") from e
    return bst


def booster_to_legacy_snapshot(model: dict) -> bytes:
    """Inverse of :func:`legacy_binary_to_json` for a JSON model: an xgboost 1.0-1.2 snapshot.

    Used to build test fixtures in the official on-disk form (the installed xgboost can
    no longer write it).
    """
    lr = model["learner"]
    gb = lr["gradient_booster"]["model"]
    trees = gb["trees"]
    base = lr["learner_model_param"]["base_score"].strip("[]")
    num_feature = int(lr["learner_model_param"]["num_feature"])
    out = io.BytesIO()
    out.write(_LEARNER_PARAM.pack(float(base), num_feature, 0, 1, 0, 1, 2, *([0] * 27)))
    for s in (lr["objective"]["name"], "gbtree"):
        out.write(struct.pack("<Q", len(s)) + s.encode())
    out.write(_GBTREE_PARAM.pack(len(trees), 1, num_feature, 0, 0, 1, 0, *([0] * 32)))
    for t in trees:
        n = len(t["left_children"])
        out.write(_TREE_PARAM.pack(1, n, 0, 0, num_feature, 0, *([0] * 31)))
        nodes = np.zeros(n, dtype=_NODE)
        nodes["cleft"], nodes["cright"] = t["left_children"], t["right_children"]
        par = np.asarray(t["parents"], dtype=np.int64)
        is_left = np.zeros(n, dtype=bool)
        for p, c in enumerate(t["left_children"]):
            if c != -1:
                is_left[c] = True
        par = np.where(par == 2147483647, -1, par | (is_left.astype(np.int64) << 31))
        nodes["parent"] = par.astype(np.uint32).view(np.int32)
        nodes["sindex"] = (np.asarray(t["split_indices"], dtype=np.uint32)
                           | (np.asarray(t["default_left"], dtype=np.uint32) << 31))
        nodes["info"] = t["split_conditions"]
        stats = np.zeros(n, dtype=_STAT)
        stats["loss_chg"], stats["sum_hess"], stats["base_weight"] = (
            t["loss_changes"], t["sum_hessian"], t["base_weights"])
        out.write(nodes.tobytes() + stats.tobytes())
    out.write(np.asarray(gb["tree_info"], dtype="<i4").tobytes())
    attrs = {"objective": json.dumps(lr["objective"]), "best_iteration": str(len(trees) // 2)}
    out.write(struct.pack("<Q", len(attrs)))
    for k, v in sorted(attrs.items()):
        for s in (k, v):
            out.write(struct.pack("<Q", len(s)) + s.encode())
    binary = out.getvalue()
    config = json.dumps({"learner": {"learner_train_param": {"booster": "gbtree"}}}).encode()
    return SNAPSHOT_HEADER + struct.pack("<q", len(binary)) + binary + config


__all__ = ["PickledBooster", "read_pickled_booster", "legacy_binary_to_json", "snapshot_to_booster",
           "json_to_booster", "validate_model", "booster_to_legacy_snapshot"]

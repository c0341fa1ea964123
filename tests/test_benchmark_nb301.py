"""NAS-Bench-301 surrogate: feature vector vs ConfigSpace, official-layout fixtures, checksums, fitting.

The fixture ensembles are made here: tiny xgboost boosters trained on random features
(made-up targets, fixture data only), written in the official directory layout
(``<member>/surrogate_model.model`` + ``model_config.json`` + ``data_config.json``) and
pickled the way the 2020 release was: a protocol-3 pickle of ``xgboost.core.Booster``
whose state ``handle`` is an xgboost 1.0-1.2 memory snapshot (``CONFIG-offset:`` + legacy
binary model + JSON config).
"""
from __future__ import annotations

import copyreg
import hashlib
import io
import json
import math
import pickle
import warnings
from pathlib import Path

import numpy as np
import pytest

from nasbench_lab import benchmarks
from nasbench_lab.benchmarks import BenchmarkFileError
from nasbench_lab.benchmarks import nb301
from nasbench_lab.benchmarks._nb301_features import (FEATURE_NAMES, FIXED_HYPERPARAMETERS, HYPERPARAMETERS,
                                                     config_features, encode_value, features)
from nasbench_lab.benchmarks._formats.xgboost_legacy import booster_to_legacy_snapshot
from nasbench_lab.spaces.darts import DartsSpace, Genotype

xgb = pytest.importorskip("xgboost")
SPACE = DartsSpace()


def _genotypes(n, seed=0):
    rng = np.random.default_rng(seed)
    return [SPACE.sample(rng) for _ in range(n)]


# -- fixtures in the official layout ---------------------------------------------------------
class _LegacyPickler(pickle.Pickler):
    """Pickles a Booster stand-in as ``xgboost.core.Booster`` with a chosen state."""

    def reducer_override(self, obj):
        if isinstance(obj, xgb.core.Booster) and "_fixture_state" in obj.__dict__:
            return copyreg.__newobj__, (xgb.core.Booster,), obj.__dict__["_fixture_state"]
        return NotImplemented


def legacy_pickle(booster) -> bytes:
    snapshot = booster_to_legacy_snapshot(json.loads(booster.save_raw("json")))
    stand_in = object.__new__(xgb.core.Booster)
    stand_in.__dict__.update(handle=None, _fixture_state={
        "handle": bytearray(snapshot), "feature_names": None, "feature_types": None,
        "best_iteration": 3, "best_ntree_limit": 4, "best_score": 0.5})
    buf = io.BytesIO()
    _LegacyPickler(buf, protocol=3).dump(stand_in)
    return buf.getvalue()


def make_official_fixture(root: Path, members: int = 3, seed: int = 0, modern: bool = False,
                          spread: float = 1.0):
    """Write an ensemble in the official layout; return the original boosters."""
    rng = np.random.default_rng(seed)
    X = features(_genotypes(200, seed))
    boosters = []
    for i in range(members):
        # made-up targets (percent), member-specific so the members disagree
        y = 90 + 2 * X[:, 40] / 6 - X[:, 50] / 6 + spread * rng.normal(size=len(X))
        bst = xgb.train({"max_depth": 3, "eta": 0.3, "nthread": 1, "seed": i,
                         "objective": "reg:squarederror"}, xgb.DMatrix(X, label=y), num_boost_round=8)
        d = root / f"20201020-{i:02d}"
        d.mkdir(parents=True)
        (d / "surrogate_model.model").write_bytes(pickle.dumps(bst) if modern else legacy_pickle(bst))
        (d / "model_config.json").write_text(json.dumps({"model": "xgb", "param:max_depth": 3}))
        (d / "data_config.json").write_text(json.dumps({"seed": 6}))
        boosters.append(bst)
    return boosters


def write_checksums(root: Path) -> None:
    lines = [f"{hashlib.sha256(p.read_bytes()).hexdigest()}  {p.relative_to(root).as_posix()}\n"
             for p in sorted(root.rglob("surrogate_model.model"))]
    (root / nb301.CHECKSUM_FILE).write_text("".join(lines))


def reference_mean(boosters, genos):
    X = features(genos)
    return np.mean([b.predict(xgb.DMatrix(X)) for b in boosters], axis=0)


# -- the feature vector ------------------------------------------------------------------------
def _configspace():
    CS = pytest.importorskip("ConfigSpace")
    from ConfigSpace import Categorical, Constant, Float, InCondition, Integer, Normal

    cs = CS.ConfigurationSpace()
    hps = []
    for h in HYPERPARAMETERS:
        kind = h["type"]
        if kind == "cat":
            hps.append(Categorical(h["name"], list(h["choices"])))
        elif kind == "const":
            hps.append(Constant(h["name"], h["value"]))
        elif kind == "int":
            hps.append(Integer(h["name"], (h["lower"], h["upper"]), log=h["log"]))
        elif kind == "float":
            hps.append(Float(h["name"], (h["lower"], h["upper"]), log=h["log"]))
        else:  # ConfigSpace 1.x needs bounds for a normal float
            hps.append(Float(h["name"], (h["mu"] / 100, h["mu"] * 100), log=h["log"],
                             distribution=Normal(h["mu"], h["sigma"])))
    cs.add(hps)
    cs.add([InCondition(cs[h["name"]], cs[h["parent"]], list(h["values"]))
            for h in HYPERPARAMETERS if "parent" in h])
    return cs


def test_feature_order_is_configspace_order():
    cs = _configspace()
    assert list(cs.keys()) == list(FEATURE_NAMES)
    assert len(FEATURE_NAMES) == 56
    assert FEATURE_NAMES[10:12] == ("NetworkSelectorDatasetInfo:darts:edge_normal_0",
                                    "NetworkSelectorDatasetInfo:darts:edge_normal_1")
    assert FEATURE_NAMES[32] == "NetworkSelectorDatasetInfo:darts:edge_normal_10"


def test_features_match_configspace_get_array():
    from ConfigSpace import Configuration

    cs = _configspace()
    kinds = {h["name"]: h for h in HYPERPARAMETERS}
    fixed = {k: (v == "True" if v in ("True", "False") else v) for k, v in FIXED_HYPERPARAMETERS.items()}
    genos = _genotypes(150, seed=4)
    ours = features(genos, dtype=np.float64)
    for g, row in zip(genos, ours):
        config = Configuration(cs, values={**fixed, **g.to_config_dict()})
        arr = config.get_array()
        for i, name in enumerate(FEATURE_NAMES):
            h = kinds[name]
            if np.isnan(arr[i]):
                assert row[i] == -1.0, name  # inactive
            elif h["type"] == "cat":
                assert row[i] == arr[i], name  # categorical: index of the choice, same in every version
            else:
                # numeric: ConfigSpace's own value at this position, encoded as ConfigSpace 0.4.12 did
                value = cs[name].to_value(arr[i])
                assert row[i] == pytest.approx(encode_value(h, value), rel=1e-6), name
        assert np.array_equal(row, config_features({**FIXED_HYPERPARAMETERS, **g.to_config_dict()},
                                                   dtype=np.float64))
    assert (ours[:, 32:] == -1).sum(axis=1).tolist() == [24 - 12] * len(genos)  # 12 active of 24


def test_fixed_hyperparameter_values_follow_configspace_0_4():
    row = features(_genotypes(1), dtype=np.float64)[0]
    col = {n: i for i, n in enumerate(FEATURE_NAMES)}
    assert row[col["OptimizerSelector:sgd:learning_rate"]] == pytest.approx(math.log(0.025))
    assert row[col["NetworkSelectorDatasetInfo:darts:layers"]] == pytest.approx((8 - 0.50001) / 9999.99998)
    assert row[col["NetworkSelectorDatasetInfo:darts:drop_path_prob"]] == 0.0
    assert row[col["ImageAugmentation:autoaugment"]] == 0.0


# -- loading the official layout -------------------------------------------------------------
def test_official_layout_fixture_loads_and_predicts_the_member_mean(tmp_path, tmp_data):
    root = tmp_path / "nb_models_1.0" / "xgb_v1.0"
    boosters = make_official_fixture(root)
    with pytest.warns(UserWarning, match="pickled"):
        bench = benchmarks.load("nb301", path=root, nthread=1)
    assert isinstance(bench, nb301.NB301Benchmark) and len(bench.ensemble) == 3
    assert bench.has_test is False and bench.runtime is None
    genos = _genotypes(64, seed=7)
    m = bench.query_batch(genos)
    np.testing.assert_allclose(m.validation_accuracy * 100, reference_mean(boosters, genos), rtol=1e-6)
    assert np.isnan(m.test_accuracy).all() and np.isnan(m.training_time).all()
    assert 0.5 < m.validation_accuracy.min() <= m.validation_accuracy.max() < 1.0
    assert bench.queries == 64
    one = bench.query(genos[3])
    assert one.validation_accuracy == pytest.approx(m.validation_accuracy[3])
    assert bench.queries == 65 and bench.unique_queries == 64
    # converted once into the cache; the second load reads no pickle (no warning)
    cached = sorted((tmp_data / "cache" / "nb301").glob("*.json"))
    assert len(cached) == 3
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        again = nb301.load(root, nthread=1)
    np.testing.assert_allclose(again.query_batch(genos).validation_accuracy, m.validation_accuracy)


def test_small_batches_use_the_numpy_forest_with_the_same_answers(tmp_path, tmp_data):
    root = tmp_path / "xgb"
    boosters = make_official_fixture(root, members=3, seed=8)
    with pytest.warns(UserWarning):
        ens = nb301.load_ensemble(root, nthread=1)
    X = features(_genotypes(40, seed=9))
    X[:4, 40] = np.nan  # missing values take each split's default direction
    ref = np.stack([b.predict(xgb.DMatrix(X)) for b in boosters])
    assert ens.small_batch == 16 and ens.forest().num_trees == 3 * 8
    np.testing.assert_allclose(ens.predict_members(X), ref, rtol=1e-6)  # xgboost path
    small = np.concatenate([ens.predict_members(X[i:i + 8]) for i in range(0, 40, 8)], axis=1)
    np.testing.assert_allclose(small, ref, rtol=1e-6)  # numpy forest path
    assert not np.array_equal(ens.predict_members(X[:8]), ens.predict_members(X[8:16]))


def test_modern_pickles_load_through_the_same_path(tmp_path, tmp_data):
    root = tmp_path / "xgb"
    boosters = make_official_fixture(root, members=2, modern=True, seed=3)
    with pytest.warns(UserWarning):
        bench = nb301.load(root, nthread=1)
    genos = _genotypes(20, seed=1)
    np.testing.assert_allclose(bench.predict(genos) * 100, reference_mean(boosters, genos), rtol=1e-6)


def test_noise_option_is_seeded_and_centred(tmp_path, tmp_data):
    root = tmp_path / "xgb"
    make_official_fixture(root, members=4, spread=3.0)
    with pytest.warns(UserWarning):
        a = nb301.load(root, noise=True, seed=5, nthread=1)
    b = nb301.load(root, noise=True, seed=5, nthread=1)
    c = nb301.load(root, noise=False, nthread=1)
    g = _genotypes(1, seed=2)[0]
    many = [g] * 2000
    va, vb = a.query_batch(many), b.query_batch(many)
    np.testing.assert_array_equal(va.validation_accuracy, vb.validation_accuracy)
    mean = c.query(g).validation_accuracy
    std = c.query(g).extra["ensemble_std"]
    assert std > 0.001
    assert len(np.unique(va.validation_accuracy)) > 1900
    assert abs(va.validation_accuracy.mean() - mean) < 4 * std / math.sqrt(2000)
    assert va.validation_accuracy.std() == pytest.approx(std, rel=0.1)
    # per-query override
    assert c.query(g, noise=True).validation_accuracy != mean
    assert a.query(g, noise=False).validation_accuracy == pytest.approx(mean)


def test_checksum_file_is_enforced(tmp_path, tmp_data):
    root = tmp_path / "xgb"
    make_official_fixture(root, members=2)
    write_checksums(root)
    with pytest.warns(UserWarning):
        nb301.load(root, nthread=1)
    # a member that differs from its listed checksum is refused before it is read
    member = sorted(root.rglob("surrogate_model.model"))[1]
    data = bytearray(member.read_bytes())
    data[-3] ^= 0xFF
    member.write_bytes(bytes(data))
    before = set((tmp_data / "cache" / "nb301").glob("*"))
    with pytest.raises(BenchmarkFileError, match="does not match"):
        nb301.load(root, nthread=1)
    assert set((tmp_data / "cache" / "nb301").glob("*")) == before
    # a member missing from the checksum file is refused too
    write_checksums(root)
    lines = (root / nb301.CHECKSUM_FILE).read_text().splitlines()[:1]
    (root / nb301.CHECKSUM_FILE).write_text("\n".join(lines) + "\n")
    with pytest.raises(BenchmarkFileError, match="no entry"):
        nb301.load(root, nthread=1)
    (root / nb301.CHECKSUM_FILE).write_text("not a checksum line\n")
    with pytest.raises(BenchmarkFileError, match="SHA256SUMS:1"):
        nb301.load(root, nthread=1)


class _Evil:
    def __init__(self, target):
        self.target = target

    def __reduce__(self):
        return Path.touch, (self.target,)


def test_pickles_cannot_run_code(tmp_path, tmp_data):
    root = tmp_path / "xgb"
    make_official_fixture(root, members=2)
    target = tmp_path / "pwned"
    member = sorted(root.rglob("surrogate_model.model"))[0]
    member.write_bytes(pickle.dumps(_Evil(target)))
    with pytest.warns(UserWarning), pytest.raises(BenchmarkFileError, match="refusing to unpickle"):
        nb301.load(root, nthread=1)
    assert not target.exists()


def test_broken_members_raise_clear_errors(tmp_path, tmp_data):
    root = tmp_path / "xgb"
    make_official_fixture(root, members=1)
    member = next(root.rglob("surrogate_model.model"))
    good = member.read_bytes()
    member.write_bytes(good[: len(good) // 2])
    with pytest.warns(UserWarning), pytest.raises(BenchmarkFileError, match="pickle|truncated"):
        nb301.load(root, nthread=1)
    # a readable pickle whose legacy model is cut short names the byte offset
    state = {"handle": bytearray(b"CONFIG-offset:" + (400).to_bytes(8, "little") + b"\0" * 300)}
    stand_in = object.__new__(xgb.core.Booster)
    stand_in.__dict__.update(handle=None, _fixture_state=state)
    buf = io.BytesIO()
    _LegacyPickler(buf, protocol=3).dump(stand_in)
    member.write_bytes(buf.getvalue())
    with pytest.warns(UserWarning), pytest.raises(BenchmarkFileError, match="CONFIG-offset"):
        nb301.load(root, nthread=1)
    # a consistent snapshot whose legacy model stops inside the trees: the error names the byte
    bst = xgb.train({"max_depth": 2, "nthread": 1}, xgb.DMatrix(features(_genotypes(30)), label=np.arange(30.0)),
                    num_boost_round=3)
    snap = booster_to_legacy_snapshot(json.loads(bst.save_raw("json")))
    model = snap[22:22 + int.from_bytes(snap[14:22], "little")]
    cut = model[:600]
    state["handle"] = bytearray(b"CONFIG-offset:" + len(cut).to_bytes(8, "little") + cut + b"{}")
    buf = io.BytesIO()
    _LegacyPickler(buf, protocol=3).dump(stand_in)
    member.write_bytes(buf.getvalue())
    with pytest.warns(UserWarning), pytest.raises(BenchmarkFileError, match=r"truncated at byte \d+"):
        nb301.load(root, nthread=1)
    (member.parent / "model_config.json").write_text("{broken")
    with pytest.raises(BenchmarkFileError, match="model_config.json"):
        nb301.load(root, nthread=1)


def test_missing_paths_say_what_to_fetch(tmp_path, tmp_data):
    with pytest.raises(FileNotFoundError, match="xgb_v1.0"):
        benchmarks.load("nb301")
    with pytest.raises(FileNotFoundError, match="models_1.0.zip"):
        nb301.load(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(BenchmarkFileError, match="no ensemble members"):
        nb301.load(tmp_path / "empty")


# -- fitting your own ensemble ---------------------------------------------------------------
def _truth(g: Genotype) -> float:
    """A made-up accuracy from node 0 of each cell (its edges always read sources 0 and 1)."""
    normal = dict((src, op) for op, src in g.normal[:2])
    reduce = dict((src, op) for op, src in g.reduce[:2])
    return (0.88 + 0.02 * normal[0].startswith("sep_conv") + 0.01 * (normal[1] == "skip_connect")
            - 0.01 * (reduce[1] == "max_pool_3x3"))


def test_fit_surrogate_round_trip(tmp_path, tmp_data):
    from scipy.stats import spearmanr

    train = _genotypes(400, seed=10)
    ens = nb301.fit_surrogate([(g, _truth(g)) for g in train], tmp_path / "mine", members=3, seed=1,
                              num_rounds=100, params={"eta": 0.2}, nthread=1)
    assert len(ens) == 3 and ens.model_config["model"] == "xgb"
    root = tmp_path / "mine"
    assert sorted(p.name for p in root.iterdir()) == ["SHA256SUMS", "member_0", "member_1", "member_2"]
    assert {p.name for p in (root / "member_0").iterdir()} == {
        "surrogate_model.json", "surrogate_model.model", "model_config.json", "data_config.json"}
    test = _genotypes(200, seed=11)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # JSON members: no pickle is read
        bench = benchmarks.load("nb301", path=root, nthread=1)
    pred = bench.predict(test)
    truth = np.array([_truth(g) for g in test])
    assert spearmanr(pred, truth).correlation > 0.9
    assert np.abs(pred - truth).mean() < 0.005
    np.testing.assert_allclose(ens.predict(features(test)) / 100, pred)
    # the members are different models (seeded subsampling)
    per = ens.predict_members(features(test))
    assert not np.allclose(per[0], per[1])
    # the checksum file covers what was written
    (root / "member_2" / "surrogate_model.json").write_bytes(b"{}")
    with pytest.raises(BenchmarkFileError, match="does not match"):
        nb301.load(root)


def test_fit_surrogate_rejects_bad_records(tmp_path):
    g = _genotypes(3)
    with pytest.raises(ValueError, match="fractions"):
        nb301.fit_surrogate([(a, 93.5) for a in g], tmp_path / "x", members=1, num_rounds=2, nthread=1)
    with pytest.raises(ValueError, match="record 1"):
        nb301.fit_surrogate([(g[0], 0.9), (g[1],)], tmp_path / "x", members=1, num_rounds=2, nthread=1)
    with pytest.raises(Exception, match="unknown op"):
        nb301.fit_surrogate([(g[0], 0.9), ((g[1].normal, (("conv", 0),) * 8), 0.9)], tmp_path / "x")


def test_runtime_ensemble_gives_training_time(tmp_path, tmp_data):
    genos = _genotypes(120, seed=3)
    nb301.fit_surrogate([(g, _truth(g)) for g in genos], tmp_path / "nb" / "xgb_v1.0", members=2,
                        num_rounds=20, nthread=1)
    rt = nb301.fit_surrogate([(g, 3000 + 5000 * (_truth(g) - 0.85)) for g in genos], tmp_path / "rt",
                             members=2, num_rounds=20, target="runtime", nthread=1)
    bench = nb301.load(tmp_path / "nb" / "xgb_v1.0", runtime=tmp_path / "rt", nthread=1)
    m = bench.query_batch(genos[:10])
    np.testing.assert_allclose(m.training_time, rt.predict(features(genos[:10])))
    assert (m.training_time > 2000).all()
    assert bench.simulated_seconds == pytest.approx(float(np.sum(m.training_time)))
    # no runtime directory: NaN, and nothing counted
    plain = nb301.load(tmp_path / "nb" / "xgb_v1.0", nthread=1)
    assert math.isnan(plain.query(genos[0]).training_time) and plain.simulated_seconds == 0.0


def test_official_lightgbm_runtime_sibling_without_lightgbm(tmp_path, tmp_data, monkeypatch):
    """The official ``lgb_runtime_v1.0`` beside ``xgb_v1.0`` is picked up; without the optional
    lightgbm package its pickles are still read safely and training_time stays NaN."""
    import collections
    import sys
    import types

    root = tmp_path / "nb_models_1.0"
    make_official_fixture(root / "xgb_v1.0", members=2)
    fake = types.ModuleType("lightgbm.basic")

    class Booster:  # stand-in with the official pickled state of a LightGBM Booster
        def __reduce__(self):
            state = {"handle": "tree\nversion=v3\n", "best_iteration": 7, "params": {"seed": 1},
                     "best_score": collections.defaultdict(collections.OrderedDict,
                                                           {"valid_0": collections.OrderedDict(
                                                               rmse=np.float64(812.5))})}
            return copyreg.__newobj__, (Booster,), state

    Booster.__module__, Booster.__qualname__ = "lightgbm.basic", "Booster"
    fake.Booster = Booster
    parent = types.ModuleType("lightgbm")
    parent.basic = fake
    monkeypatch.setitem(sys.modules, "lightgbm", parent)
    monkeypatch.setitem(sys.modules, "lightgbm.basic", fake)
    d = root / "lgb_runtime_v1.0" / "member_0"
    d.mkdir(parents=True)
    (d / "surrogate_model.model").write_bytes(pickle.dumps(Booster(), protocol=3))
    (d / "model_config.json").write_text(json.dumps({"model": "lgb_time"}))
    (d / "data_config.json").write_text(json.dumps({"seed": 0}))
    monkeypatch.setitem(sys.modules, "lightgbm", None)  # the optional package is absent
    with pytest.warns(UserWarning) as record:
        bench = nb301.load(root / "xgb_v1.0", nthread=1)
    messages = " ".join(str(w.message) for w in record)
    assert "lgb_runtime_v1.0" in messages and "lightgbm" in messages
    assert bench.runtime is None and math.isnan(bench.query(_genotypes(1)[0]).training_time)
    with pytest.raises(BenchmarkFileError, match="different kinds"):
        nb301.load_ensemble(root)  # the parent folder mixes the xgb and lgb ensembles
    # the state itself was read (numpy scalars and containers are allowed, code is not)
    from nasbench_lab.benchmarks._formats.xgboost_legacy import read_pickled_booster

    state = read_pickled_booster((d / "surrogate_model.model").read_bytes())
    assert state["handle"].startswith(b"tree") and state["best_iteration"] == 7
    assert state["best_score"]["valid_0"]["rmse"] == 812.5

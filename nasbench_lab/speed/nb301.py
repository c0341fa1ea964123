"""NAS-Bench-301 surrogate throughput: batched queries vs one genotype at a time.

The official ensemble cannot ship with the project, so the section trains a synthetic
ensemble of the same form (10 xgboost members on the 56 NAS-Bench-301 features, made-up
targets) with :func:`benchmarks.nb301.fit_surrogate` in a temporary folder and queries
it through the same benchmark code path. Reported: genotypes/s of ``query_batch`` (one
call for thousands of genotypes: feature rows, one xgboost prediction call per member),
of single-row xgboost prediction (one genotype per call, as the official API predicts),
of ``query`` (one genotype per call, served by the numpy forest), and the ratios.
"""
from __future__ import annotations

import tempfile

import numpy as np

from . import Row, median_time


def nb301_throughput(quick: bool) -> list[Row]:
    from ..benchmarks import nb301
    from ..spaces.darts import DartsSpace

    space = DartsSpace()
    rng = np.random.default_rng(0)
    train = [space.sample(rng) for _ in range(500 if quick else 2000)]
    rounds, depth = (50, 6) if quick else (500, 8)
    records = [(g, 0.9 + 0.02 * np.tanh(float(x))) for g, x in zip(train, rng.normal(size=len(train)))]
    with tempfile.TemporaryDirectory() as d:
        nb301.fit_surrogate(records, d, members=10, num_rounds=rounds, params={"max_depth": depth}, nthread=1)
        bench = nb301.load(d, nthread=1)
        batch = [space.sample(rng) for _ in range(2000 if quick else 10000)]
        single = batch[:100 if quick else 300]
        rep = 3
        ens = bench.ensemble
        t_feat = median_time(lambda: nb301.features(batch), repeat=rep)
        t_batch = median_time(lambda: bench.query_batch(batch), repeat=rep) / len(batch)
        t_query = median_time(lambda: [bench.query(g) for g in single], repeat=rep) / len(single)
        small, ens.small_batch = ens.small_batch, 0  # every call through xgboost's predictor
        t_xgb1 = median_time(lambda: [bench.query(g) for g in single], repeat=rep) / len(single)
        ens.small_batch = small
        device = ens.device
    shape = f"10 members x {rounds} trees, depth {depth}, {device}, 1 thread"
    return [
        ("nb301 features (ConfigSpace array, 56 columns)", len(batch) / t_feat, "genotypes/s", ""),
        (f"nb301 query_batch ({len(batch)} genotypes per call)", 1 / t_batch, "genotypes/s", shape),
        ("nb301 single-row xgboost prediction (reference)", 1 / t_xgb1, "genotypes/s",
         "one genotype per call, one predict call per member"),
        ("nb301 query (one genotype per call, numpy forest)", 1 / t_query, "genotypes/s", ""),
        ("nb301 batch vs single-row xgboost, per genotype", t_xgb1 / t_batch, "x", "target >= 100x"),
        ("nb301 query() vs single-row xgboost", t_xgb1 / t_query, "x", ""),
    ]


SECTIONS = {"nb301": nb301_throughput}

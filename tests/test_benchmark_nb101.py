"""NAS-Bench-101: the tfrecord reader, the compact cache and the query protocol.

The tfrecords here are fixtures in the exact official format with made-up metrics
(``benchmarks.testing``); the cells come from the real 1k sample when it is present.
"""
from __future__ import annotations

import base64
import json
import struct

import numpy as np
import pytest

from nasbench_lab.benchmarks import BenchmarkFileError, NotInBenchmark, load
from nasbench_lab.benchmarks import nb101
from nasbench_lab.benchmarks import testing as fixtures
from nasbench_lab.benchmarks._formats.protobuf import decode_model_metrics
from nasbench_lab.benchmarks._formats.tfrecord import masked_crc, read_records, write_record


def _cells(n=40):
    return fixtures.random_nb101_cells(n, seed=7)


def _read_all(path):
    """Records of a tfrecord as decoded Python values (the reference reading)."""
    out = []
    with open(path, "rb") as f:
        for off, data in read_records(f):
            h, e, adj, ops, m = json.loads(data)
            evals, params, _ = decode_model_metrics(base64.b64decode(m))
            out.append((h, e, adj, ops, evals, params))
    return out


def test_round_trip_every_record(tmp_path, tmp_data):
    cells = _cells()
    path = tmp_path / "fx.tfrecord"
    fixtures.write_nb101_tfrecord(path, cells, seed=1, epochs=(4, 12, 36, 108))
    b = load("nb101", path=path)
    assert b.is_fixture and "FIXTURE" in repr(b)
    assert len(b) == len(cells) and b.epoch_budgets == (4, 12, 36, 108)
    assert list(b.keys) == sorted(c[2] for c in cells)  # sorted-hash row order
    recs = _read_all(path)
    by = {}
    for h, e, adj, ops, evals, params in recs:
        by.setdefault((h, e), []).append(evals)
    for h, e in [(cells[0][2], 108), (cells[5][2], 4), (cells[-1][2], 36)]:
        runs = by[(h, e)]
        assert len(runs) == 3
        m = b.query(h, epochs=e)
        assert m.validation_accuracy == pytest.approx(np.mean([r[2][3] for r in runs]), abs=1e-7)
        assert m.test_accuracy == pytest.approx(np.mean([r[2][4] for r in runs]), abs=1e-7)
        assert m.training_time == pytest.approx(np.mean([r[2][1] for r in runs]), rel=1e-6)
        assert m.extra["halfway_validation_accuracy"] == pytest.approx(np.mean([r[1][3] for r in runs]), abs=1e-7)
        assert m.extra["train_accuracy"] == pytest.approx(np.mean([r[2][2] for r in runs]), abs=1e-7)
        draws = {round(b.query(h, epochs=e, reduction="sample").validation_accuracy, 6) for _ in range(40)}
        assert draws == {round(r[2][3], 6) for r in runs}
    # graph, ops and parameters survive
    for m0, ops, h in cells[:10]:
        matrix, got_ops = b.spec(b.row_of(h))
        np.testing.assert_array_equal(matrix, m0)
        assert got_ops == ops
    params = {h: p for h, e, adj, ops, ev, p in recs}
    assert b.query(cells[3][2]).parameters == params[cells[3][2]]
    # validation/test arrays are the 108-epoch repeat means, in row order
    np.testing.assert_allclose(b.query_rows(np.arange(len(b))).validation_accuracy, b.validation)


def test_queries_by_key_cell_index_batch_and_counters(tmp_path, tmp_data):
    cells = _cells(30)
    path = tmp_path / "fx.tfrecord"
    fixtures.write_nb101_tfrecord(path, cells, seed=2)
    b = load("nb101", path=path, seed=5)
    keys = [c[2] for c in cells]
    batch = b.query_batch(keys)
    arr = b.query_batch(np.array(keys))  # the searchsorted path
    np.testing.assert_array_equal(batch.validation_accuracy, arr.validation_accuracy)
    for i in (0, 7, 29):
        one = b.query_key(keys[i])
        assert one.validation_accuracy == pytest.approx(batch.validation_accuracy[i])
        np.testing.assert_equal(b.query_index(b.row_of(keys[i])).as_dict(), one.as_dict())
    assert b.queries == 30 + 30 + 6 and b.unique_queries == 30
    b.reset_counters()
    m = b.query_batch(keys[:5])
    one = b.query(keys[9])
    assert b.simulated_seconds == pytest.approx(m.training_time.sum() + one.training_time, rel=1e-12)
    assert (b.queries, b.unique_queries) == (6, 6)
    with pytest.raises(NotInBenchmark, match="f" * 32):
        b.query("f" * 32)
    with pytest.raises(NotInBenchmark, match="e" * 32):
        b.query_batch(np.array([keys[0], "e" * 32]))
    with pytest.raises(ValueError, match="epochs=12 is not in this file"):
        b.query(keys[0], epochs=12)
    # same seed, same sample trace
    c = load("nb101", path=path, seed=5)
    b2 = load("nb101", path=path, seed=5)
    t1 = [c.query(keys[1], reduction="sample").validation_accuracy for _ in range(20)]
    t2 = [b2.query(keys[1], reduction="sample").validation_accuracy for _ in range(20)]
    assert t1 == t2


def test_real_cells_and_hashes_from_the_sample(tmp_path, tmp_data, shared):
    rows = [json.loads(line) for line in open(shared("nasbench101", "nb101_sample_1k.jsonl"))][:60]
    cells = [(np.array(r["matrix"]), r["ops"], r["hash"]) for r in rows]
    path = tmp_path / "real-cells.tfrecord"
    fixtures.write_nb101_tfrecord(path, cells, seed=0)
    b = load("nb101", path=path)
    assert set(b.keys) == {r["hash"] for r in rows}
    try:
        from nasbench_lab.spaces.nb101 import Cell
    except ModuleNotFoundError:
        pytest.skip("spaces.nb101 not available yet: Cell round trip not checked")
    for r in rows[:20]:
        cell = Cell(np.array(r["matrix"]), tuple(r["ops"]))
        assert cell.key == r["hash"]
        assert b.query(cell).validation_accuracy == b.query_key(r["hash"]).validation_accuracy
        assert b.arch(b.row_of(r["hash"])).key == r["hash"]


def test_cache_is_built_once_and_reloads(tmp_path, tmp_data):
    path = tmp_path / "fx.tfrecord"
    fixtures.write_nb101_tfrecord(path, _cells(10), seed=3)
    b1 = load("nb101", path=path)
    caches = list((tmp_data / "cache" / "nb101").glob("*.npz"))
    assert len(caches) == 1
    mtime = caches[0].stat().st_mtime_ns
    b2 = load("nb101", path=path)
    assert caches[0].stat().st_mtime_ns == mtime
    b3 = load("nb101", path=caches[0])  # the cache itself
    np.testing.assert_array_equal(b1.validation, b3.validation)
    np.testing.assert_array_equal(b2.test, b3.test)


# -- corrupt files ------------------------------------------------------------------------
def _write(tmp_path, n=6):
    path = tmp_path / "fx.tfrecord"
    recs = fixtures.write_nb101_tfrecord(path, _cells(n), seed=4)
    return path, recs


def _replace_record(path, recs, k, data: bytes):
    """Rewrite record k with new (validly framed) data."""
    raw = path.read_bytes()
    r = recs[k]
    start, end = r["offset"], r["offset"] + 16 + r["length"]
    import io

    buf = io.BytesIO()
    write_record(buf, data)
    path.write_bytes(raw[:start] + buf.getvalue() + raw[end:])


def _record_json(path, recs, k):
    raw = path.read_bytes()
    o = recs[k]["offset"]
    return json.loads(raw[o + 12: o + 12 + recs[k]["length"]])


def _expect(tmp_data, path, pattern):
    with pytest.raises(BenchmarkFileError, match=pattern):
        load("nb101", path=path)
    cache = tmp_data / "cache" / "nb101"
    left = [p.name for p in cache.iterdir()] if cache.exists() else []
    assert left == [], f"half-written cache left behind: {left}"


def test_truncated_file(tmp_path, tmp_data):
    path, recs = _write(tmp_path)
    raw = path.read_bytes()
    last = recs[-1]["offset"]
    path.write_bytes(raw[: last + 40])
    _expect(tmp_data, path, f"truncated record at offset {last}")
    path.write_bytes(raw[: last + 5])
    _expect(tmp_data, path, f"truncated record header at offset {last}")


def test_bad_length_crc(tmp_path, tmp_data):
    path, recs = _write(tmp_path)
    raw = bytearray(path.read_bytes())
    o = recs[2]["offset"]
    raw[o + 8] ^= 0xFF
    path.write_bytes(bytes(raw))
    _expect(tmp_data, path, f"bad length CRC in the record at offset {o}")


def test_bad_data_crc(tmp_path, tmp_data):
    path, recs = _write(tmp_path)
    raw = bytearray(path.read_bytes())
    o = recs[3]["offset"]
    raw[o + 12 + 5] ^= 0x01  # one bit of the JSON text
    path.write_bytes(bytes(raw))
    _expect(tmp_data, path, f"bad data CRC in the record at offset {o}")
    # and the CRC helpers agree with the framing
    assert struct.unpack("<I", path.read_bytes()[8:12])[0] == masked_crc(path.read_bytes()[:8])


def test_bad_json(tmp_path, tmp_data):
    path, recs = _write(tmp_path)
    _replace_record(path, recs, 1, b'["abc", 108, ')
    _expect(tmp_data, path, f"offset {recs[1]['offset']}: not valid JSON")
    path, recs = _write(tmp_path)
    _replace_record(path, recs, 1, json.dumps({"hash": "x"}).encode())
    _expect(tmp_data, path, f"offset {recs[1]['offset']}: expected a JSON list")


def test_bad_base64(tmp_path, tmp_data):
    path, recs = _write(tmp_path)
    rec = _record_json(path, recs, 4)
    rec[4] = rec[4][:-6] + "!!*%$#"
    _replace_record(path, recs, 4, json.dumps(rec).encode())
    _expect(tmp_data, path, f"offset {recs[4]['offset']}: metrics are not valid base64")


def test_bad_protobuf(tmp_path, tmp_data):
    path, recs = _write(tmp_path)
    rec = _record_json(path, recs, 0)
    rec[4] = base64.b64encode(base64.b64decode(rec[4])[:-3]).decode()
    _replace_record(path, recs, 0, json.dumps(rec).encode())
    _expect(tmp_data, path, f"offset {recs[0]['offset']}: metrics are not a ModelMetrics protobuf")


def test_unknown_op(tmp_path, tmp_data):
    path, recs = _write(tmp_path)
    # the first record of a cell defines its graph
    rec = _record_json(path, recs, 0)
    ops = rec[3].split(",")
    ops[-1] = "conv5x5-bn-relu" if len(ops) == 2 else ops[-1]
    if len(ops) > 2:
        ops[1] = "conv5x5-bn-relu"
    rec[3] = ",".join(ops)
    _replace_record(path, recs, 0, json.dumps(rec).encode())
    _expect(tmp_data, path, f"offset {recs[0]['offset']}: unknown op 'conv5x5-bn-relu'")


def test_bad_adjacency_and_too_many_repeats(tmp_path, tmp_data):
    path, recs = _write(tmp_path)
    rec = _record_json(path, recs, 0)
    rec[2] = rec[2][:-1]
    _replace_record(path, recs, 0, json.dumps(rec).encode())
    _expect(tmp_data, path, f"offset {recs[0]['offset']}: adjacency")
    path = tmp_path / "four.tfrecord"
    recs = fixtures.write_nb101_tfrecord(path, _cells(2), seed=0, repeats=4, shuffle=False)
    _expect(tmp_data, path, f"offset {recs[3]['offset']}: more than 3 repeats")


def test_missing_file_says_how_to_get_it(tmp_data):
    with pytest.raises(FileNotFoundError, match="download nb101"):
        load("nb101")
    with pytest.raises(FileNotFoundError):
        load("nb101", path=tmp_data / "nope.tfrecord")


def test_matrix_packing_round_trip():
    rng = np.random.default_rng(0)
    for n in range(2, 8):
        m = np.triu(rng.integers(0, 2, (n, n)), 1).astype(np.int8)
        np.testing.assert_array_equal(nb101.unpack_matrix(nb101.pack_matrix(m), n), m)


@pytest.mark.slow
def test_scaled_fixture_imports(tmp_path, tmp_data):
    """20,000 cells x 3 repeats: the import path at a scale where vectorisation matters."""
    path = fixtures.write_nb101_tfrecord_scaled(tmp_path / "big.tfrecord", n_cells=20_000, seed=0)
    b = load("nb101", path=path)
    assert len(b) == 20_000 and (b.n_repeats == 3).all()
    assert np.isfinite(b.validation).all()


def test_single_and_batched_answers_are_the_same_metrics(tmp_path, tmp_data):
    import dataclasses

    from nasbench_lab.benchmarks import Metrics

    cells = _cells(8)
    path = tmp_path / "fx.tfrecord"
    fixtures.write_nb101_tfrecord(path, cells, seed=9, epochs=(12, 108))
    b = load("nb101", path=path)
    for h in (cells[0][2], cells[7][2]):
        for epochs in (None, 12, 108):
            one = b.query(h) if epochs is None else b.query(h, epochs=epochs)
            row = b.query_batch([h], **({} if epochs is None else {"epochs": epochs}))[0]
            assert isinstance(one, Metrics)
            np.testing.assert_equal(one.as_dict(), {k: float(v) for k, v in row.as_dict().items()})
            assert dataclasses.replace(one, parameters=1).parameters == 1
    with pytest.raises(dataclasses.FrozenInstanceError):
        one.validation_accuracy = 0.5


def test_crc32c_check_value_and_fallback_agree():
    from nasbench_lab.benchmarks._formats import tfrecord as _tfrecord

    assert _tfrecord.crc32c(b"123456789") == 0xE3069283  # the standard CRC-32C check value
    data = np.random.default_rng(1).bytes(4096)
    assert _tfrecord.crc32c_python(data) == _tfrecord.crc32c(data)
    assert _tfrecord.crc32c_python(b"") == 0


def test_bad_hash(tmp_path, tmp_data):
    path, recs = _write(tmp_path)
    rec = _record_json(path, recs, 2)
    rec[0] = "Z" * 32
    _replace_record(path, recs, 2, json.dumps(rec).encode())
    _expect(tmp_data, path, f"offset {recs[2]['offset']}: module hash 'ZZZ")


def test_bulk_hex_lookup_agrees_with_the_dict(tmp_path, tmp_data):
    cells = _cells(200)
    path = tmp_path / "fx.tfrecord"
    fixtures.write_nb101_tfrecord(path, cells, seed=3)
    b = load("nb101", path=path)
    rng = np.random.default_rng(0)
    keys = [cells[i][2] for i in rng.integers(0, 200, 5000)]
    expect = np.array([b.row_of(k) for k in keys])
    np.testing.assert_array_equal(b.rows(keys), expect)  # the bulk path (> 64 keys)
    np.testing.assert_array_equal(b.rows(np.array(keys)), expect)
    # a lookalike (valid hex, absent), uppercase and non-hex keys are all refused by name
    for bad in ("0" * 32, keys[0].upper(), "g" * 32, keys[0][:31]):
        with pytest.raises(NotInBenchmark, match=bad):
            b.rows(keys[:100] + [bad])
    # two hashes sharing the first 64 bits are told apart by the second half
    a = keys[0]
    twin = a[:16] + ("0" if a[16] != "0" else "1") + a[17:]
    with pytest.raises(NotInBenchmark, match=twin):
        b.rows(keys[:100] + [twin])

"""Corrupt, partial, stale and impostor files: refused or rebuilt, never silently used (stage 7).

Items: 2 (NB301 model files), 3 (TFRecord length), 6 (stale NB101 cache), 7 (partial NB101
imports), 8 (a download that is not the file), 11 (truncated or bit-flipped ``.npz`` caches).
"""
from __future__ import annotations

import base64
import io
import json
import os
import struct
from pathlib import Path

import numpy as np
import pytest

from nasbench_lab import paths
from nasbench_lab.benchmarks import BenchmarkFileError, load, nb101
from nasbench_lab.benchmarks import testing as fixtures
from nasbench_lab.benchmarks._formats.protobuf import decode_model_metrics, encode_model_metrics
from nasbench_lab.benchmarks._formats.tfrecord import masked_crc, read_records, write_record


# -- helpers ------------------------------------------------------------------------------
def _real_cells(n: int, seed: int = 0) -> list:
    """``n`` distinct valid NB101 cells (official hashes) drawn from the space."""
    from nasbench_lab.spaces import nb101 as space

    rng = np.random.default_rng(seed)
    out: dict = {}
    while len(out) < n:
        c = space.sample(rng)
        out[c.key] = c
    return list(out.values())


def _records(path) -> list[tuple[int, bytes]]:
    with open(path, "rb") as f:
        return list(read_records(f))


def _rewrite(path, k: int, fn) -> int:
    """Replace record ``k``'s JSON ``rec`` by ``fn(rec)`` (validly framed); its offset."""
    recs = _records(path)
    off, data = recs[k]
    rec = fn(json.loads(data))
    buf = io.BytesIO()
    write_record(buf, json.dumps(rec).encode())
    raw = path.read_bytes()
    path.write_bytes(raw[:off] + buf.getvalue() + raw[off + 16 + len(data):])
    return off


def _set_metric(rec, which: int, value: float, note: str):
    """Record JSON with final evaluation field ``which`` (3 validation, 4 test) set to ``value``."""
    evals, params, total = decode_model_metrics(base64.b64decode(rec[4]))
    evals = [list(e) for e in evals]
    evals[2][which] = value
    rec[4] = base64.b64encode(encode_model_metrics(evals, params, total, checkpoint_path=note)).decode()
    return rec


def _cache_files(tmp_data):
    d = tmp_data / "cache" / "nb101"
    return sorted(d.glob("*.npz")) if d.exists() else []


# -- item 3: TFRecord length beyond the file ------------------------------------------------
def test_tfrecord_length_beyond_the_file_is_refused_naming_the_offset(tmp_path):
    path = tmp_path / "big-length.tfrecord"
    with open(path, "wb") as f:
        write_record(f, b"first")
        write_record(f, b"second record")
    raw = bytearray(path.read_bytes())
    off = 16 + len(b"first")
    length = struct.pack("<Q", 1 << 40)  # a valid length CRC: only the size can tell
    raw[off:off + 12] = length + struct.pack("<I", masked_crc(length))
    path.write_bytes(bytes(raw))
    with open(path, "rb") as f:
        with pytest.raises(BenchmarkFileError, match=rf"offset {off}: it declares {1 << 40} bytes"):
            list(read_records(f, path.name))


# -- item 7: partial imports ----------------------------------------------------------------
@pytest.mark.parametrize("shuffle", [True, False], ids=["shuffled", "cell-by-cell"])
def test_file_cut_at_a_record_boundary_is_refused_unless_allowed(tmp_path, tmp_data, shuffle):
    path = tmp_path / "cut.tfrecord"
    recs = fixtures.write_nb101_tfrecord(path, fixtures.random_nb101_cells(40, seed=3), seed=3,
                                         shuffle=shuffle)
    cut = recs[15]["offset"]  # 15 whole records: 5 whole cells when written cell by cell
    path.write_bytes(path.read_bytes()[:cut])
    with pytest.raises(BenchmarkFileError, match="partial NAS-Bench-101 file.*allow_partial=True"):
        load("nb101", path=path)
    assert _cache_files(tmp_data) == []
    with pytest.warns(nb101.PartialImportWarning, match="partial"):
        b = load("nb101", path=path, allow_partial=True)
    assert len(b) == len({r["hash"] for r in recs[:15]}) and "PARTIAL" in repr(b)
    # the partial cache is flagged: loading it again is refused without the keyword too
    with pytest.raises(BenchmarkFileError, match="partial"):
        load("nb101", path=_cache_files(tmp_data)[0])


@pytest.mark.parametrize("value, pattern", [(93.5, "93.5 is not a fraction in .0, 1.*percentage"),
                                            (float("nan"), "nan is not a fraction"),
                                            (-0.25, "-0.25 is not a fraction")])
def test_accuracy_out_of_range_inside_a_record_names_the_offset(tmp_path, tmp_data, value, pattern):
    path = tmp_path / "bad-acc.tfrecord"
    fixtures.write_nb101_tfrecord(path, fixtures.random_nb101_cells(6, seed=1), seed=1)
    note = f"{fixtures.FIXTURE_NOTE}; cells=6; synthetic hash"
    off = _rewrite(path, 4, lambda rec: _set_metric(rec, 3, value, note))
    with pytest.raises(BenchmarkFileError, match=f"offset {off}: final_validation_accuracy = {pattern}"):
        load("nb101", path=path)
    assert _cache_files(tmp_data) == []


def test_record_whose_hash_does_not_match_its_graph_is_refused(tmp_path, tmp_data):
    cells = _real_cells(8)
    path = tmp_path / "real.tfrecord"
    recs = fixtures.write_nb101_tfrecord(path, cells, seed=2)
    assert len(load("nb101", path=path)) == 8  # official hashes: verified, accepted
    other = _real_cells(9, seed=99)[-1].key
    # every record of one cell relabelled with another cell's (valid, official) hash
    offs = [_rewrite(path, i, lambda rec: [other, *rec[1:]]) for i, r in enumerate(recs) if r["hash"] == cells[0].key]
    assert len(offs) == 3
    with pytest.raises(BenchmarkFileError, match=f"offset {min(offs)}: module hash {other} does not match its graph"):
        load("nb101", path=path, rebuild=True)


# -- item 6: two caches -------------------------------------------------------------------
def _cache_of(tmp_path, n_cells: int, name: str, seed: int):
    src = tmp_path / f"src-{n_cells}.tfrecord"
    fixtures.write_nb101_tfrecord(src, fixtures.random_nb101_cells(n_cells, seed=seed), seed=seed)
    out = paths.cache_dir() / "nb101" / name
    nb101.write_cache(nb101.parse_tfrecord(src), out)
    return out


@pytest.mark.parametrize("stale_name, fresh_name", [("nasbench_only108-000000.npz", "nasbench_only108-ffffff.npz"),
                                                    ("nasbench_only108-ffffff.npz", "nasbench_only108-000000.npz")])
def test_two_caches_the_newest_import_is_loaded_and_named(tmp_path, tmp_data, stale_name, fresh_name):
    stale = _cache_of(tmp_path, 20, stale_name, seed=1)
    fresh = _cache_of(tmp_path, 40, fresh_name, seed=2)
    t = stale.stat().st_mtime_ns
    os.utime(stale, ns=(t - 10**10, t - 10**10))
    os.utime(fresh, ns=(t, t))
    for _ in range(3):
        with pytest.warns(UserWarning, match=f"loading {fresh}.*newest import.*not used: {stale}"):
            b = load("nb101")
        assert len(b) == 40 and fresh.name in repr(b)


def test_a_present_source_wins_over_stale_caches(tmp_path, tmp_data):
    stale = _cache_of(tmp_path, 20, "nasbench_only108-000000.npz", seed=1)
    src = paths.cache_dir() / "downloads" / "nasbench_only108.tfrecord"
    src.parent.mkdir(parents=True, exist_ok=True)
    fixtures.write_nb101_tfrecord(src, fixtures.random_nb101_cells(30, seed=5), seed=5)
    os.utime(stale)  # the stale cache is the newest file
    with pytest.warns(UserWarning, match=f"loading {src}.*not used: {stale}"):
        b = load("nb101")
    assert len(b) == 30


# -- item 11: truncated or bit-flipped .npz caches ----------------------------------------
def _damage(path, how: str) -> None:
    raw = bytearray(path.read_bytes())
    if how == "truncated":
        path.write_bytes(bytes(raw[: len(raw) // 2]))
    elif how == "bit-flipped":
        raw[len(raw) // 3] ^= 0x04
        path.write_bytes(bytes(raw))
    else:  # an empty file
        path.write_bytes(b"")


DAMAGE = ["truncated", "bit-flipped", "empty"]


@pytest.mark.parametrize("how", DAMAGE)
def test_damaged_nb101_cache_is_rebuilt_from_its_tfrecord(tmp_path, tmp_data, how):
    src = tmp_path / "fx.tfrecord"
    fixtures.write_nb101_tfrecord(src, fixtures.random_nb101_cells(12, seed=4), seed=4)
    first = load("nb101", path=src)
    (cache,) = _cache_files(tmp_data)
    _damage(cache, how)
    with pytest.warns(RuntimeWarning, match=f"nb101 cache {cache}.*rebuilding"):
        again = load("nb101", path=src)
    np.testing.assert_array_equal(again.validation, first.validation)


@pytest.mark.parametrize("how", DAMAGE)
def test_damaged_nb101_cache_given_directly_is_refused_naming_it(tmp_path, tmp_data, how):
    src = tmp_path / "fx.tfrecord"
    fixtures.write_nb101_tfrecord(src, fixtures.random_nb101_cells(12, seed=4), seed=4)
    load("nb101", path=src)
    (cache,) = _cache_files(tmp_data)
    _damage(cache, how)
    with pytest.raises(BenchmarkFileError, match=f"nb101 cache {cache} .*import the tfrecord again"):
        load("nb101", path=cache)


@pytest.mark.parametrize("how", DAMAGE + ["missing-array"])
def test_damaged_enumeration_cache_is_rebuilt(tmp_path, monkeypatch, how):
    from nasbench_lab.spaces.nb101 import enumeration as space

    path = tmp_path / "enum.npz"
    if how == "missing-array":
        np.savez(path, n=np.zeros(3))
    else:
        np.savez(path, keys=np.zeros(50_000, "S32"), n=np.zeros(50_000, np.uint8), format=np.int64(1))
        _damage(path, how)
    built = []
    monkeypatch.setattr(space, "build_enumeration", lambda p, workers=2: built.append(p) or {"keys": []})
    monkeypatch.setattr(space, "_ENUM", {})
    with pytest.warns(RuntimeWarning, match=f"enumeration cache {path}.*rebuilding"):
        space._load(path)
    assert built == [path]


@pytest.mark.parametrize("how", DAMAGE)
def test_damaged_neighbour_table_is_refused_by_name_and_rebuilt(tmp_path, monkeypatch, how):
    from nasbench_lab.env import neighbours as tables
    from nasbench_lab.spaces.nb101 import neighbourhood as space

    path = tmp_path / "nb.npz"
    keys = np.array(["a" * 32, "b" * 32])
    good = tables.NeighbourTable.from_lists([[1], [0]], tables.keys_fingerprint(keys))
    good.save(path)
    _damage(path, how)
    with pytest.raises(tables.NeighbourTableError, match=f"{path}.*rebuild it"):
        tables.NeighbourTable.load(path)
    monkeypatch.setattr(space, "enumeration_arrays", lambda: {"keys": keys})
    monkeypatch.setattr(space, "build_neighbour_table", lambda **k: good)
    with pytest.warns(RuntimeWarning, match=f"{path}.*rebuilding"):
        got = space.neighbour_table(path=path, progress=False)
    assert got is good
    assert tables.NeighbourTable.load(path).fingerprint == good.fingerprint  # rewritten whole


# -- item 2: NB301 model files ----------------------------------------------------------------
NB301_SCRIPT = """
import resource, sys
import numpy as np
from nasbench_lab.benchmarks import nb301
resource.setrlimit(resource.RLIMIT_AS, (8 << 30, 8 << 30))  # a runaway loop fails, not the machine
try:
    b = nb301.load(sys.argv[1], nthread=1, runtime=False)
    b.query(b.space.sample(np.random.default_rng(0)))
    b.query_batch([b.space.sample(np.random.default_rng(i)) for i in range(40)])
    print("LOADED")
except Exception as e:
    print("ERROR", type(e).__name__, e)
"""


def _run_python(script: str, *args, timeout: float = 60) -> str:
    import signal
    import subprocess
    import sys

    import nasbench_lab

    root = str(Path(nasbench_lab.__file__).resolve().parent.parent)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([root, os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen([sys.executable, "-c", script, *map(str, args)], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        pytest.fail(f"hung for {timeout} s")
    return f"[exit {proc.returncode}] {out}"


def _json_member_ensemble(root, mutate=None):
    """One xgboost member as ``surrogate_model.json`` (official folder layout), optionally
    with its model JSON changed by ``mutate(model)``."""
    xgb = pytest.importorskip("xgboost")
    from nasbench_lab.benchmarks._nb301_features import features
    from nasbench_lab.spaces.darts import DartsSpace

    space = DartsSpace()
    rng = np.random.default_rng(0)
    X = features([space.sample(rng) for _ in range(60)])
    bst = xgb.train({"max_depth": 3, "nthread": 1, "seed": 0}, xgb.DMatrix(X, label=90 + X[:, 40]),
                    num_boost_round=3)
    model = json.loads(bst.save_raw("json"))
    if mutate is not None:
        mutate(model["learner"]["gradient_booster"]["model"]["trees"][0])
    d = root / "member_0"
    d.mkdir(parents=True)
    (d / "surrogate_model.json").write_text(json.dumps(model))
    (d / "model_config.json").write_text(json.dumps({"model": "xgb"}))
    (d / "data_config.json").write_text(json.dumps({"seed": 0}))
    return root


def _cycle(tree):  # a leaf whose children are its own ancestors
    leaf = [i for i, c in enumerate(tree["left_children"]) if c == -1]
    root_kids = tree["left_children"][0], tree["right_children"][0]
    tree["left_children"][leaf[-1]], tree["right_children"][leaf[-1]] = root_kids


def _child_out_of_range(tree):
    n = len(tree["left_children"])
    tree["left_children"][0], tree["right_children"][0] = n + 1000, n + 2000


def _feature_out_of_range(tree):
    tree["split_indices"][0] = 5000


@pytest.mark.parametrize("mutate, pattern", [
    (_cycle, "tree 0 has a node with two parents"),
    (_child_out_of_range, "tree 0 has a bad child index"),
    (_feature_out_of_range, "tree 0 splits on feature 5000; the model has 56 features"),
], ids=["cycle", "child-out-of-range", "feature-out-of-range"])
def test_nb301_bad_tree_structure_is_refused_before_use(tmp_path, tmp_data, mutate, pattern):
    root = _json_member_ensemble(tmp_path / "xgb", mutate)
    out = _run_python(NB301_SCRIPT, root)
    assert "ERROR BenchmarkFileError" in out and pattern in out, out[-1500:]


def test_nb301_valid_json_member_still_loads(tmp_path, tmp_data):
    root = _json_member_ensemble(tmp_path / "xgb")
    from nasbench_lab.benchmarks import nb301

    b = nb301.load(root, nthread=1, runtime=False)
    assert 0 < b.query(b.space.sample(np.random.default_rng(0))).validation_accuracy < 1.5


def test_nb301_every_file_in_sha256sums_is_checked(tmp_path, tmp_data):
    import hashlib

    from nasbench_lab.benchmarks import nb301

    root = _json_member_ensemble(tmp_path / "xgb")
    files = sorted(p for p in root.rglob("*") if p.is_file())
    (root / nb301.CHECKSUM_FILE).write_text("".join(
        f"{hashlib.sha256(p.read_bytes()).hexdigest()}  {p.relative_to(root).as_posix()}\n" for p in files))
    nb301.load(root, nthread=1, runtime=False)  # all listed, all match
    cfg = root / "member_0" / "data_config.json"
    cfg.write_text(json.dumps({"seed": 1}))  # a listed config file changed
    with pytest.raises(BenchmarkFileError, match="data_config.json: sha256 .* does not match"):
        nb301.load(root, nthread=1, runtime=False)
    cfg.unlink()
    with pytest.raises(BenchmarkFileError, match="lists member_0/data_config.json, which is missing"):
        nb301.load(root, nthread=1, runtime=False)


def _peak_while(fn) -> int:
    import tracemalloc

    tracemalloc.start()
    try:
        fn()
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak


@pytest.mark.parametrize("payload", [
    b"\x80\x04\x8e" + struct.pack("<Q", 3 << 30) + b"xx.",  # BINBYTES8 declaring 3 GiB
    b"\x80\x04\x8d" + struct.pack("<Q", 3 << 30) + b"xx.",  # BINUNICODE8 declaring 3 GiB
    b"\x80\x02cbuiltins\nbytearray\nJ\x00\x00\x00\x01\x85R.",  # bytearray(16 MiB) via REDUCE
], ids=["bytes8", "unicode8", "bytearray-int"])
def test_nb301_member_pickle_cannot_make_the_reader_allocate(payload):
    from nasbench_lab.benchmarks._formats.xgboost_legacy import read_pickled_booster

    def read():
        with pytest.raises(BenchmarkFileError, match="member: refusing"):
            read_pickled_booster(payload, "member")

    assert _peak_while(read) < 4 << 20  # refused before any large allocation


# -- item 8: a download that is not the file ------------------------------------------------
HTML = b"<!DOCTYPE html><html><body>Sign in to continue</body></html>"


@pytest.fixture
def html_server():
    import http.server
    import threading

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(HTML)))
            self.end_headers()
            self.wfile.write(HTML)

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}/NAS-Bench-201-v1_1-096897.pth"
    srv.shutdown()
    srv.server_close()
    t.join(5)


@pytest.mark.parametrize("name", ["nb201", "nb101", "nb301"])
def test_download_of_an_html_page_is_refused_and_not_saved(html_server, tmp_data, capsys, name):
    from nasbench_lab.benchmarks import download as dl
    from nasbench_lab.cli import main as cli_main

    assert cli_main(["download", name, "--url", html_server]) == 1
    err = capsys.readouterr().err
    assert "is not a" in err and "HTML page" in err and "trust_pickle" not in err
    folder = tmp_data / "cache" / "downloads"
    assert sorted(p.name for p in folder.iterdir()) == []  # neither the file nor a .part
    assert dl.CATALOGUE[name].filename not in {p.name for p in folder.iterdir()}


def test_nb201_file_that_is_not_a_torch_file_never_advises_trust_pickle(tmp_path, tmp_data):
    from nasbench_lab.benchmarks import nb201

    bad = tmp_path / "NAS-Bench-201-v1_1-096897.pth"
    bad.write_bytes(HTML)
    with pytest.raises(BenchmarkFileError) as err:
        nb201.read_pth(bad)
    assert "not a torch .pth file" in str(err.value) and "HTML page" in str(err.value)
    assert "trust_pickle" not in str(err.value)


def test_download_without_a_checksum_needs_a_plausible_size(tmp_path, tmp_data, monkeypatch):
    """A real zip header on a tiny body: no published sha256 can tell, the size does."""
    import http.server
    import threading

    from nasbench_lab.benchmarks import download as dl

    body = b"PK\x03\x04" + b"\0" * 200

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        with pytest.raises(dl.DownloadError, match="204 bytes, far less than nasbench301_models_v1.0.zip"):
            dl.download("nb301", url=f"http://127.0.0.1:{srv.server_address[1]}/x.zip", progress=False)
    finally:
        srv.shutdown()
        srv.server_close()
    assert not (tmp_data / "cache" / "downloads" / "nasbench301_models_v1.0.zip").exists()


def test_cli_import_refuses_a_partial_file_unless_allowed(tmp_path, tmp_data, capsys):
    from nasbench_lab import cli

    path = tmp_path / "cut.tfrecord"
    recs = fixtures.write_nb101_tfrecord(path, fixtures.random_nb101_cells(20, seed=4), seed=4)
    path.write_bytes(path.read_bytes()[: recs[9]["offset"]])
    assert cli.main(["import", "nb101", str(path)]) == 1
    assert "partial" in capsys.readouterr().err
    assert _cache_files(tmp_data) == []
    with pytest.warns(nb101.PartialImportWarning):
        assert cli.main(["import", "nb101", str(path), "--allow-partial"]) == 0
    assert len(_cache_files(tmp_data)) == 1

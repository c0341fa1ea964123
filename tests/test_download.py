"""Downloads against a loopback HTTP server: Range resume, checks, offline message, import."""
from __future__ import annotations

import dataclasses
import hashlib
import http.server
import socket
import threading
from pathlib import Path

import numpy as np
import pytest

from nasbench_lab.benchmarks import download as dl
from nasbench_lab.benchmarks import testing as fixtures
from nasbench_lab.cli import main as cli_main

PAYLOAD = np.random.default_rng(0).bytes(300_000)


class _Handler(http.server.BaseHTTPRequestHandler):
    """Serves PAYLOAD at /file with Range support; ``cut`` closes mid-transfer once."""

    server_version = "fixture"
    cut_at: int | None = None
    honour_range = True
    requests: list = []

    def log_message(self, *args):  # quiet
        pass

    def do_GET(self):
        data = self.server.payload  # type: ignore[attr-defined]
        rng = self.headers.get("Range")
        type(self).requests.append(rng)
        start = 0
        if rng and self.honour_range:
            start = int(rng.split("=")[1].split("-")[0])
            if start >= len(data):
                self.send_response(416)
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        body = data[start:]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        cut = type(self).cut_at
        if cut is not None:
            type(self).cut_at = None  # only the first transfer is cut
            self.wfile.write(body[: cut - start])
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.wfile.write(body)


@pytest.fixture
def server():
    _Handler.cut_at = None
    _Handler.honour_range = True
    _Handler.requests = []
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    srv.payload = PAYLOAD
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield srv, f"http://127.0.0.1:{srv.server_address[1]}/file"
    srv.shutdown()
    srv.server_close()
    t.join(5)


@pytest.fixture
def entry(monkeypatch):
    """A catalogue entry for the served payload, with its real sha256 and size."""
    e = dl.Entry("fx", "fixture.bin", "http://unused.invalid/fixture.bin", len(PAYLOAD),
                 hashlib.sha256(PAYLOAD).hexdigest(), "300 kB", import_as="nb101")
    monkeypatch.setitem(dl.CATALOGUE, "fx", e)
    return e


def test_plain_download_verifies_and_renames(server, entry, tmp_data):
    _, url = server
    path = dl.download("fx", url=url, progress=False)
    assert path == tmp_data / "cache" / "downloads" / "fixture.bin"
    assert path.read_bytes() == PAYLOAD
    assert not path.with_name("fixture.bin.part").exists()
    assert dl.download("fx", url=url, progress=False) == path  # already there: no request
    assert len(_Handler.requests) == 1


def test_interrupted_download_resumes_with_range(server, entry, tmp_data):
    _, url = server
    _Handler.cut_at = 123_456
    with pytest.raises(dl.DownloadError, match=r"interrupted after 123,456 bytes.*\.part is kept"):
        dl.download("fx", url=url, progress=False, retries=0)
    part = tmp_data / "cache" / "downloads" / "fixture.bin.part"
    assert part.stat().st_size == 123_456
    path = dl.download("fx", url=url, progress=False, retries=0)
    assert path.read_bytes() == PAYLOAD
    assert _Handler.requests == [None, "bytes=123456-"]


def test_automatic_retry_resumes(server, entry, tmp_data):
    _, url = server
    _Handler.cut_at = 50_000
    path = dl.download("fx", url=url, progress=False, retries=2)
    assert path.read_bytes() == PAYLOAD
    assert _Handler.requests == [None, "bytes=50000-"]


def test_server_ignoring_range_restarts_cleanly(server, entry, tmp_data):
    _, url = server
    _Handler.cut_at = 10_000
    with pytest.raises(dl.DownloadError):
        dl.download("fx", url=url, progress=False, retries=0)
    _Handler.honour_range = False
    path = dl.download("fx", url=url, progress=False, retries=0)
    assert path.read_bytes() == PAYLOAD  # not the first 10,000 bytes twice


def test_checksum_mismatch_is_refused_and_the_file_removed(server, entry, monkeypatch, tmp_data):
    _, url = server
    monkeypatch.setitem(dl.CATALOGUE, "fx", dataclasses.replace(entry, sha256="0" * 64))
    with pytest.raises(dl.ChecksumError, match="does not match the published 0000"):
        dl.download("fx", url=url, progress=False)
    folder = tmp_data / "cache" / "downloads"
    assert sorted(p.name for p in folder.iterdir()) == []


def test_size_mismatch_keeps_the_part(server, entry, monkeypatch, tmp_data):
    _, url = server
    monkeypatch.setitem(dl.CATALOGUE, "fx", dataclasses.replace(entry, size=len(PAYLOAD) + 5, sha256=None))
    with pytest.raises(dl.DownloadError, match="300,000 bytes, expected 300,005.*kept"):
        dl.download("fx", url=url, progress=False)
    assert (tmp_data / "cache" / "downloads" / "fixture.bin.part").exists()


def _closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_offline_message_names_file_url_and_next_step(entry, tmp_data, capsys):
    url = f"http://127.0.0.1:{_closed_port()}/nasbench_only108.tfrecord"
    with pytest.raises(dl.DownloadError) as err:
        dl.download("nb101", url=url, progress=False)
    msg = str(err.value)
    target = tmp_data / "cache" / "downloads" / "nasbench_only108.tfrecord"
    assert "nasbench_only108.tfrecord" in msg and url in msg and "unreachable" in msg
    assert str(target) in msg
    assert f"nasbench-lab import nb101 {target}" in msg
    assert dl.CATALOGUE["nb101"].sha256 in msg
    # through the command line: exit status 1 and the same message
    assert cli_main(["download", "nb101", "--url", url]) == 1
    assert "Fetch nasbench_only108.tfrecord" in capsys.readouterr().err


def test_manual_hosts_explain_themselves(tmp_data):
    with pytest.raises(dl.DownloadError, match=r"(?s)NAS-Bench-201-v1_1-096897.pth.*drive.google.com.*import nb201"):
        dl.download("nb201", progress=False)
    with pytest.raises(KeyError, match="unknown download 'nb999'"):
        dl.download("nb999")


def test_catalogue_is_complete():
    for name in ("nb101", "nb101-full", "nb201", "nb301"):
        e = dl.CATALOGUE[name]
        assert e.url.startswith("https://") and e.filename and e.import_as
        assert e.sha256 is None or len(e.sha256) == 64


def test_cli_download_then_import_nb101(server, tmp_path, tmp_data, monkeypatch, capsys):
    """The whole path: serve a fixture tfrecord, download it, import it, load the cache."""
    srv, url = server
    tf = tmp_path / "served.tfrecord"
    fixtures.write_nb101_tfrecord(tf, fixtures.random_nb101_cells(12, seed=1), seed=1)
    srv.payload = tf.read_bytes()
    monkeypatch.setitem(dl.CATALOGUE, "nb101", dataclasses.replace(
        dl.CATALOGUE["nb101"], sha256=hashlib.sha256(srv.payload).hexdigest()))
    assert cli_main(["download", "nb101", "--url", url]) == 0
    path = Path(capsys.readouterr().out.splitlines()[0])
    assert path.read_bytes() == srv.payload
    assert cli_main(["import", "nb101", str(path)]) == 0
    cache = Path(capsys.readouterr().out.split(" (")[0])
    assert cache.suffix == ".npz" and cache.parent == tmp_data / "cache" / "nb101"
    from nasbench_lab.benchmarks import load

    assert len(load("nb101", path=cache)) == 12
    assert cli_main(["import", "nb101", str(tmp_path / "missing.tfrecord")]) == 1

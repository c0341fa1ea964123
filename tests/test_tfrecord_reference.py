"""The TFRecord reader against an independent writer: the ``tfrecord`` package.

The project reads TFRecord framing itself (``benchmarks._formats.tfrecord``, no
TensorFlow). Checking it only against the project's own writer would let one mistake in
both pass, so here the files come from the ``tfrecord`` package (its own framing, its own
CRC32C from the ``crc32c`` package, its own ``tf.train.Example`` protobuf):

* a file of ``tf.train.Example`` records it writes is read record for record, every CRC
  verified, the bytes equal to what the package's own reader yields, each record parsing
  back (with the package's protobuf) into the features that were written;
* NAS-Bench-101 records framed by the package give a byte-identical file to the
  project's writer, and ``nb101.parse_tfrecord`` imports both to the same arrays;
* one flipped byte in a file the package wrote is refused, naming the record's offset.

Skipped, with the reason, where the ``tfrecord`` package is not installed
(``requirements-dev.txt`` installs it).
"""
from __future__ import annotations

import importlib

import numpy as np
import pytest

tfrecord = pytest.importorskip("tfrecord", reason="the independent reference writer, package `tfrecord` "
                                                  "(requirements-dev.txt), is not installed")
from tfrecord import example_pb2  # noqa: E402
from tfrecord.reader import tfrecord_iterator  # noqa: E402
from tfrecord.writer import TFRecordWriter  # noqa: E402

from nasbench_lab.benchmarks import BenchmarkFileError, nb101  # noqa: E402


def _formats():
    """The project's TFRecord module (private; found where it lives)."""
    for name in ("nasbench_lab.benchmarks._formats.tfrecord", "nasbench_lab.benchmarks._tfrecord"):
        try:
            return importlib.import_module(name)
        except ModuleNotFoundError:
            continue
    raise ModuleNotFoundError("the project's TFRecord reader module")


def _testing():
    for name in ("nasbench_lab.benchmarks.testing", "nasbench_lab.benchmarks.fixtures"):
        try:
            return importlib.import_module(name)
        except ModuleNotFoundError:
            continue
    raise ModuleNotFoundError("the NAS-Bench-101 fixture writer")


EXAMPLES = [
    {"name": (b"cell-0", "byte"), "accuracy": ([0.25, 0.5, 0.9375], "float"), "epochs": ([4, 12, 36, 108], "int")},
    {"name": (b"", "byte"), "accuracy": ([], "float"), "epochs": ([-1, 2**40], "int")},
    {"name": ([b"a" * 3000, b"\x00\xff"], "byte"), "accuracy": ([1.0], "float"), "epochs": ([0], "int")},
]


def _write_examples(path):
    w = TFRecordWriter(str(path))
    for ex in EXAMPLES:
        w.write(ex)
    w.close()


def _values(feature):
    kind = feature.WhichOneof("kind")
    return kind, list(getattr(feature, kind).value) if kind else []


def test_examples_written_by_the_package_read_identically(tmp_path):
    path = tmp_path / "examples.tfrecord"
    _write_examples(path)
    with open(path, "rb") as f:
        ours = list(_formats().read_records(f, path.name, verify=True))
    theirs = [bytes(r) for r in tfrecord_iterator(str(path))]
    assert len(ours) == len(EXAMPLES) == len(theirs)
    assert [data for _, data in ours] == theirs
    # offsets: each record is 8 + 4 + data + 4 bytes, back to back
    assert [off for off, _ in ours] == list(np.cumsum([0] + [16 + len(d) for d in theirs[:-1]]))
    for (_, data), written in zip(ours, EXAMPLES):
        ex = example_pb2.Example()
        ex.ParseFromString(data)
        got = {k: _values(v) for k, v in ex.features.feature.items()}
        for key, (value, kind) in written.items():
            want = value if isinstance(value, list) else [value]
            k, vals = got[key]
            if want:
                assert k == {"byte": "bytes_list", "float": "float_list", "int": "int64_list"}[kind]
            assert vals == want, key


def test_nb101_records_framed_by_the_package_import_identically(tmp_path, tmp_data, monkeypatch):
    testing = _testing()
    ours = tmp_path / "ours.tfrecord"
    cells = testing.random_nb101_cells(12, seed=3)
    testing.write_nb101_tfrecord(ours, cells, seed=5, epochs=(12, 108))
    records = [bytes(r) for r in tfrecord_iterator(str(ours))]  # the package's reader
    assert len(records) == 12 * 2 * 3
    theirs = tmp_path / "theirs.tfrecord"
    # the package's writer, framing given bytes as they are: only its serialisation to
    # tf.train.Example is bypassed (NAS-Bench-101 records are JSON, not Examples)
    monkeypatch.setattr(TFRecordWriter, "serialize_tf_example", staticmethod(bytes))
    w = TFRecordWriter(str(theirs))
    for r in records:
        w.write(r)
    w.close()
    assert theirs.read_bytes() == ours.read_bytes()  # same framing, same CRCs
    a, b = nb101.parse_tfrecord(ours), nb101.parse_tfrecord(theirs)
    assert sorted(a) == sorted(b)
    for k in a:
        if k == "meta":
            continue  # names the source file
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)
    assert len(a["hash"]) == 12


@pytest.mark.parametrize("where", ["length", "data", "data-crc"])
def test_a_flipped_byte_in_a_package_file_is_refused(tmp_path, where):
    path = tmp_path / "examples.tfrecord"
    _write_examples(path)
    raw = bytearray(path.read_bytes())
    first = 16 + len(bytes(next(iter(tfrecord_iterator(str(path))))))  # the second record starts here
    second_len = int.from_bytes(raw[first:first + 8], "little")
    pos = {"length": first + 1, "data": first + 12 + second_len // 2, "data-crc": first + 12 + second_len + 1}[where]
    raw[pos] ^= 0x10
    path.write_bytes(bytes(raw))
    with open(path, "rb") as f, pytest.raises(BenchmarkFileError, match=f"offset {first}"):
        list(_formats().read_records(f, path.name, verify=True))

"""TFRecord framing without TensorFlow: read and write records, both CRCs checked.

A record is ``uint64 length | uint32 masked_crc32c(length bytes) | data |
uint32 masked_crc32c(data)`` (little endian). The mask is TensorFlow's:
``((crc >> 15 | crc << 17) + 0xa282ead8) & 0xffffffff``.

CRC32C comes from the ``google-crc32c`` package (a C extension) when installed, else from
a table-driven pure-Python fallback (correct, about 100x slower).

>>> import io
>>> buf = io.BytesIO(); write_record(buf, b"hello")
>>> [(off, data) for off, data in read_records(io.BytesIO(buf.getvalue()))]
[(0, b'hello')]
"""
from __future__ import annotations

import io
import os
import struct
from typing import BinaryIO, Iterator

from ..base import BenchmarkFileError

try:  # pragma: no branch
    import google_crc32c as _gcrc
except ImportError:  # pragma: no cover - exercised only without the package
    _gcrc = None


def _make_table() -> list[int]:
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_TABLE = _make_table()


def crc32c_python(data: bytes) -> int:
    """Table-driven CRC32C (reflected polynomial 0x82F63B78); the fallback."""
    crc = 0xFFFFFFFF
    t = _TABLE
    for b in data:
        crc = t[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


if _gcrc is not None:  # pragma: no branch
    def crc32c(data: bytes) -> int:
        """CRC32C (Castagnoli) of ``data``."""
        return _gcrc.value(data)

    CRC32C_IMPLEMENTATION = "google-crc32c"
else:  # pragma: no cover
    crc32c = crc32c_python
    CRC32C_IMPLEMENTATION = "python"


def masked_crc(data: bytes) -> int:
    """TensorFlow's masked CRC32C."""
    c = crc32c(data)
    return (((c >> 15) | (c << 17)) + 0xA282EAD8) & 0xFFFFFFFF


_HEAD = struct.Struct("<QI")
_FOOT = struct.Struct("<I")


def write_record(f: BinaryIO, data: bytes) -> None:
    """Append one framed record to ``f``."""
    length = struct.pack("<Q", len(data))
    f.write(length)
    f.write(struct.pack("<I", masked_crc(length)))
    f.write(data)
    f.write(struct.pack("<I", masked_crc(data)))


#: the longest record accepted from a stream whose size is unknown (NAS-Bench-101's are < 2 kB)
MAX_UNSIZED_RECORD = 1 << 30


def _stream_size(f: BinaryIO) -> int | None:
    """Bytes from the current position to the end of ``f`` (None when it cannot tell)."""
    try:
        return os.fstat(f.fileno()).st_size - f.tell()
    except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
        pass
    try:
        if not f.seekable():
            return None
        here = f.tell()
        end = f.seek(0, io.SEEK_END)
        f.seek(here)
        return end - here
    except (AttributeError, OSError, ValueError):
        return None


def read_records(f: BinaryIO, name: str = "tfrecord", verify: bool = True) -> Iterator[tuple[int, bytes]]:
    """Yield ``(offset, data)`` per record; ``BenchmarkFileError`` names the offset of a bad one.

    A declared length beyond the end of the file is refused before anything is read or
    allocated (even with a valid length CRC).
    """
    offset = 0
    size = _stream_size(f)
    read = f.read
    unpack_head = _HEAD.unpack
    while True:
        head = read(12)
        if not head:
            return
        if len(head) < 12:
            raise BenchmarkFileError(f"{name}: truncated record header at offset {offset} "
                                     f"({len(head)} of 12 bytes before the end of the file)")
        length, lcrc = unpack_head(head)
        if verify and masked_crc(head[:8]) != lcrc:
            raise BenchmarkFileError(f"{name}: bad length CRC in the record at offset {offset}")
        left = None if size is None else size - offset - 12
        if (left is not None and length + 4 > left) or (left is None and length > MAX_UNSIZED_RECORD):
            raise BenchmarkFileError(f"{name}: truncated record at offset {offset}: it declares "
                                     f"{length} bytes of data, the file ends first "
                                     f"({'an unknown number of' if left is None else max(left, 0)} bytes "
                                     "follow the header)")
        data = read(length)
        foot = read(4)
        if len(data) < length or len(foot) < 4:
            raise BenchmarkFileError(f"{name}: truncated record at offset {offset}: it declares "
                                     f"{length} bytes of data, the file ends first")
        if verify and masked_crc(data) != _FOOT.unpack(foot)[0]:
            raise BenchmarkFileError(f"{name}: bad data CRC in the record at offset {offset}")
        yield offset, data
        offset += 16 + length

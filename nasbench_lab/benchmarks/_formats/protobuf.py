"""A minimal protobuf wire-format codec for NAS-Bench-101's ``ModelMetrics`` message.

From the public ``model_metrics.proto`` (proto2)::

    message ModelMetrics {
      repeated EvaluationData evaluation_data = 1;
      optional int32 trainable_parameters = 2;
      optional double total_time = 3;
    }
    message EvaluationData {
      optional double current_epoch = 1;  optional double training_time = 2;
      optional double train_accuracy = 3; optional double validation_accuracy = 4;
      optional double test_accuracy = 5;  optional string checkpoint_path = 6;
    }

Hand-written (about forty lines) rather than a dependency on the ``protobuf`` package and a
generated module: only these two messages are needed, and decoding stays fast and lazy-free.
Unknown fields are skipped per the wire format; malformed bytes raise ``ValueError``.
"""
from __future__ import annotations

import struct

EVAL_FIELDS = ("current_epoch", "training_time", "train_accuracy", "validation_accuracy", "test_accuracy")
_D = struct.Struct("<d")


def _varint(buf: bytes, i: int) -> tuple[int, int]:
    shift = result = 0
    while True:
        if i >= len(buf):
            raise ValueError("truncated varint")
        b = buf[i]
        i += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, i
        shift += 7
        if shift > 63:
            raise ValueError("varint too long")


def _fields(buf: bytes):
    """Yield ``(field_number, wire_type, value)``; value is int, float or bytes."""
    i, n = 0, len(buf)
    while i < n:
        tag = buf[i]
        if tag < 0x80:  # one-byte tag (every field here)
            i += 1
        else:
            tag, i = _varint(buf, i)
        num, wt = tag >> 3, tag & 7
        if wt == 0:
            v, i = _varint(buf, i)
        elif wt == 1:
            if i + 8 > n:
                raise ValueError("truncated 64-bit field")
            v = _D.unpack_from(buf, i)[0]
            i += 8
        elif wt == 2:
            if i < n and buf[i] < 0x80:
                ln = buf[i]
                i += 1
            else:
                ln, i = _varint(buf, i)
            if i + ln > n:
                raise ValueError("truncated length-delimited field")
            v = buf[i:i + ln]
            i += ln
        elif wt == 5:
            if i + 4 > n:
                raise ValueError("truncated 32-bit field")
            v = struct.unpack_from("<f", buf, i)[0]
            i += 4
        else:
            raise ValueError(f"unsupported wire type {wt} for field {num}")
        if num == 0:
            raise ValueError("field number 0")
        yield num, wt, v


#: the common layout of an EvaluationData: fields 1..5, each a tag byte and a double
_EVAL = struct.Struct("<BdBdBdBdBd")
_EVAL_TAGS = (0x09, 0x11, 0x19, 0x21, 0x29)


def _decode_eval(v: bytes) -> tuple[float, ...]:
    """One EvaluationData; a struct fast path for the usual layout, the generic walk else."""
    if len(v) >= 45:
        t = _EVAL.unpack_from(v)
        if t[0::2] == _EVAL_TAGS:
            rest = v[45:]
            if not rest or all(n > 5 for n, _, _ in _fields(rest)):
                return t[1::2]
    e = [float("nan")] * 5
    for n2, w2, v2 in _fields(v):
        if 1 <= n2 <= 5 and w2 == 1:
            e[n2 - 1] = v2
    return tuple(e)


def decode_model_metrics(buf: bytes) -> tuple[list[tuple[float, ...]], int, float]:
    """``(evaluation_data, trainable_parameters, total_time)``.

    Each evaluation_data entry is a tuple in ``EVAL_FIELDS`` order (NaN where absent).
    A straight-line fast path covers the layout the official files use (each entry five
    tagged doubles, optionally a checkpoint_path); anything else takes the generic walk.
    """
    evals: list[tuple[float, ...]] = []
    params, total = 0, float("nan")
    i, n = 0, len(buf)
    unpack = _EVAL.unpack_from
    while i < n:
        tag = buf[i]
        if tag == 0x0A and i + 1 < n and buf[i + 1] < 0x80:
            ln = buf[i + 1]
            j, end = i + 2, i + 2 + buf[i + 1]
            if ln < 45 or end > n:
                break
            t = unpack(buf, j)
            if t[0] != 0x09 or t[2] != 0x11 or t[4] != 0x19 or t[6] != 0x21 or t[8] != 0x29:
                break
            if ln != 45 and not (buf[j + 45] == 0x32 and buf[j + 46] == ln - 47):
                break
            evals.append((t[1], t[3], t[5], t[7], t[9]))
            i = end
        elif tag == 0x10:
            params, i = _varint(buf, i + 1)
            if params >= 1 << 63:
                params -= 1 << 64
        elif tag == 0x19 and i + 9 <= n:
            total = _D.unpack_from(buf, i + 1)[0]
            i += 9
        else:
            break
    else:
        return evals, params, total
    return _decode_generic(buf)


def _decode_generic(buf: bytes) -> tuple[list[tuple[float, ...]], int, float]:
    evals: list[tuple[float, ...]] = []
    params, total = 0, float("nan")
    for num, wt, v in _fields(buf):
        if num == 1 and wt == 2:
            evals.append(_decode_eval(v))
        elif num == 2 and wt == 0:
            params = v - (1 << 64) if v >= 1 << 63 else v  # int32 negatives are 10-byte varints
        elif num == 3 and wt == 1:
            total = v
    return evals, params, total


def _put_varint(out: bytearray, v: int) -> None:
    if v < 0:
        v += 1 << 64
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return


def encode_model_metrics(evaluation_data, trainable_parameters: int, total_time: float,
                         checkpoint_path: str | None = None) -> bytes:
    """Encode a ``ModelMetrics`` (entries of ``evaluation_data`` as in ``decode_model_metrics``;
    ``checkpoint_path`` goes into the first entry)."""
    out = bytearray()
    note = checkpoint_path.encode() if checkpoint_path else b""
    for j, e in enumerate(evaluation_data):
        sub = bytearray(_EVAL.pack(0x09, e[0], 0x11, e[1], 0x19, e[2], 0x21, e[3], 0x29, e[4]))
        if note and j == 0:  # the checkpoint note on the initial evaluation only
            sub.append((6 << 3) | 2)
            _put_varint(sub, len(note))
            sub += note
        out.append((1 << 3) | 2)
        _put_varint(out, len(sub))
        out += sub
    out.append((2 << 3) | 0)
    _put_varint(out, int(trainable_parameters))
    out.append((3 << 3) | 1)
    out += _D.pack(float(total_time))
    return bytes(out)

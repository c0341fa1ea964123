"""Compiled (numba) kernels of the NAS-Bench-101 cell space: the md5 module hash, the
neighbour candidates and a 64-bit refinement hash for lookups.

The md5 kernel computes the official ``hash_module`` (see :mod:`._hash` for the
algorithm), with md5 itself written out over 32-bit words so the whole refinement runs
without Python objects. A cell is passed as three integers:
``n`` (vertices), ``adj`` (bit ``7*i + j`` set for an edge ``i -> j``) and ``codes``
(3 bits per vertex, the index in ``OPS``). The digest comes back as two 64-bit halves
(``hi`` = bytes 0-7, ``lo`` = bytes 8-15, big-endian), so ``f"{hi:016x}{lo:016x}"`` is the
32-hex key. The refinement keeps each vertex's hash twice: as its 32 hex characters (the
bytes the next messages are made of) and as two integers that sort like them (the digest's
big-endian halves), so sorting neighbours compares integers, not characters.

numba (a required dependency) is imported here only.
"""
from __future__ import annotations

import hashlib
import sys

import numpy as np
from numba import njit

if sys.byteorder != "little":  # the md5 kernel reads its message bytes as native 32-bit words
    raise ImportError("the NAS-Bench-101 hash kernels need a little-endian machine")

_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8).copy()
_LABEL = (-1, 0, 1, 2, -2)
#: md5 hex (as bytes) of str((out, in, label)) for out, in in 0..6 and op code 0..4
_INIT_DIGESTS = [hashlib.md5(str((o, i, _LABEL[k])).encode()).digest()
                 for o in range(7) for i in range(7) for k in range(5)]
_INIT = np.array([list(d.hex().encode()) for d in _INIT_DIGESTS], dtype=np.uint8)
#: flipping the sign bit makes int64 order the unsigned order of a digest's 64-bit halves
_SIGN64 = np.int64(-(1 << 63))
#: the sort keys of the rows of ``_INIT`` (see :func:`_hex_into`)
_INIT_ORDER = (np.frombuffer(b"".join(_INIT_DIGESTS), dtype=">u8").astype(np.uint64).view(np.int64)
               ^ _SIGN64).reshape(-1, 2)


@njit(cache=True, nogil=True)
def _md5(buf, length):
    """md5 of ``buf[:length]`` (``buf`` has room for the padding; its size is a multiple
    of 4): digest words (a, b, c, d) as int64.

    The message words are read in place (``buf.view(np.uint32)``: md5's little-endian
    words, since the module refuses big-endian machines), the 64 steps are unrolled with
    their constants (RFC 1321), and every step is cast back to uint32 so the compiler works
    on 32-bit words (numba widens uint32 arithmetic to 64 bits). F and G are written
    ``z ^ (x & (y ^ z))``.
    """
    buf[length] = 0x80
    total = ((length + 8) // 64 + 1) * 64
    for i in range(length + 1, total - 8):
        buf[i] = 0
    bits = length * 8
    for i in range(8):
        buf[total - 8 + i] = (bits >> (8 * i)) & 0xFF
    x = buf.view(np.uint32)  # message words, little-endian
    a0 = np.uint32(0x67452301)
    b0 = np.uint32(0xEFCDAB89)
    c0 = np.uint32(0x98BADCFE)
    d0 = np.uint32(0x10325476)
    for o in range(0, total // 4, 16):
        a = a0
        b = b0
        c = c0
        d = d0
        t = np.uint32(((d ^ (b & (c ^ d))) + a + np.uint32(0xd76aa478) + x[o + 0]))
        a = np.uint32(b + np.uint32(((t << 7) | (t >> 25))))
        t = np.uint32(((c ^ (a & (b ^ c))) + d + np.uint32(0xe8c7b756) + x[o + 1]))
        d = np.uint32(a + np.uint32(((t << 12) | (t >> 20))))
        t = np.uint32(((b ^ (d & (a ^ b))) + c + np.uint32(0x242070db) + x[o + 2]))
        c = np.uint32(d + np.uint32(((t << 17) | (t >> 15))))
        t = np.uint32(((a ^ (c & (d ^ a))) + b + np.uint32(0xc1bdceee) + x[o + 3]))
        b = np.uint32(c + np.uint32(((t << 22) | (t >> 10))))
        t = np.uint32(((d ^ (b & (c ^ d))) + a + np.uint32(0xf57c0faf) + x[o + 4]))
        a = np.uint32(b + np.uint32(((t << 7) | (t >> 25))))
        t = np.uint32(((c ^ (a & (b ^ c))) + d + np.uint32(0x4787c62a) + x[o + 5]))
        d = np.uint32(a + np.uint32(((t << 12) | (t >> 20))))
        t = np.uint32(((b ^ (d & (a ^ b))) + c + np.uint32(0xa8304613) + x[o + 6]))
        c = np.uint32(d + np.uint32(((t << 17) | (t >> 15))))
        t = np.uint32(((a ^ (c & (d ^ a))) + b + np.uint32(0xfd469501) + x[o + 7]))
        b = np.uint32(c + np.uint32(((t << 22) | (t >> 10))))
        t = np.uint32(((d ^ (b & (c ^ d))) + a + np.uint32(0x698098d8) + x[o + 8]))
        a = np.uint32(b + np.uint32(((t << 7) | (t >> 25))))
        t = np.uint32(((c ^ (a & (b ^ c))) + d + np.uint32(0x8b44f7af) + x[o + 9]))
        d = np.uint32(a + np.uint32(((t << 12) | (t >> 20))))
        t = np.uint32(((b ^ (d & (a ^ b))) + c + np.uint32(0xffff5bb1) + x[o + 10]))
        c = np.uint32(d + np.uint32(((t << 17) | (t >> 15))))
        t = np.uint32(((a ^ (c & (d ^ a))) + b + np.uint32(0x895cd7be) + x[o + 11]))
        b = np.uint32(c + np.uint32(((t << 22) | (t >> 10))))
        t = np.uint32(((d ^ (b & (c ^ d))) + a + np.uint32(0x6b901122) + x[o + 12]))
        a = np.uint32(b + np.uint32(((t << 7) | (t >> 25))))
        t = np.uint32(((c ^ (a & (b ^ c))) + d + np.uint32(0xfd987193) + x[o + 13]))
        d = np.uint32(a + np.uint32(((t << 12) | (t >> 20))))
        t = np.uint32(((b ^ (d & (a ^ b))) + c + np.uint32(0xa679438e) + x[o + 14]))
        c = np.uint32(d + np.uint32(((t << 17) | (t >> 15))))
        t = np.uint32(((a ^ (c & (d ^ a))) + b + np.uint32(0x49b40821) + x[o + 15]))
        b = np.uint32(c + np.uint32(((t << 22) | (t >> 10))))
        t = np.uint32(((c ^ (d & (b ^ c))) + a + np.uint32(0xf61e2562) + x[o + 1]))
        a = np.uint32(b + np.uint32(((t << 5) | (t >> 27))))
        t = np.uint32(((b ^ (c & (a ^ b))) + d + np.uint32(0xc040b340) + x[o + 6]))
        d = np.uint32(a + np.uint32(((t << 9) | (t >> 23))))
        t = np.uint32(((a ^ (b & (d ^ a))) + c + np.uint32(0x265e5a51) + x[o + 11]))
        c = np.uint32(d + np.uint32(((t << 14) | (t >> 18))))
        t = np.uint32(((d ^ (a & (c ^ d))) + b + np.uint32(0xe9b6c7aa) + x[o + 0]))
        b = np.uint32(c + np.uint32(((t << 20) | (t >> 12))))
        t = np.uint32(((c ^ (d & (b ^ c))) + a + np.uint32(0xd62f105d) + x[o + 5]))
        a = np.uint32(b + np.uint32(((t << 5) | (t >> 27))))
        t = np.uint32(((b ^ (c & (a ^ b))) + d + np.uint32(0x02441453) + x[o + 10]))
        d = np.uint32(a + np.uint32(((t << 9) | (t >> 23))))
        t = np.uint32(((a ^ (b & (d ^ a))) + c + np.uint32(0xd8a1e681) + x[o + 15]))
        c = np.uint32(d + np.uint32(((t << 14) | (t >> 18))))
        t = np.uint32(((d ^ (a & (c ^ d))) + b + np.uint32(0xe7d3fbc8) + x[o + 4]))
        b = np.uint32(c + np.uint32(((t << 20) | (t >> 12))))
        t = np.uint32(((c ^ (d & (b ^ c))) + a + np.uint32(0x21e1cde6) + x[o + 9]))
        a = np.uint32(b + np.uint32(((t << 5) | (t >> 27))))
        t = np.uint32(((b ^ (c & (a ^ b))) + d + np.uint32(0xc33707d6) + x[o + 14]))
        d = np.uint32(a + np.uint32(((t << 9) | (t >> 23))))
        t = np.uint32(((a ^ (b & (d ^ a))) + c + np.uint32(0xf4d50d87) + x[o + 3]))
        c = np.uint32(d + np.uint32(((t << 14) | (t >> 18))))
        t = np.uint32(((d ^ (a & (c ^ d))) + b + np.uint32(0x455a14ed) + x[o + 8]))
        b = np.uint32(c + np.uint32(((t << 20) | (t >> 12))))
        t = np.uint32(((c ^ (d & (b ^ c))) + a + np.uint32(0xa9e3e905) + x[o + 13]))
        a = np.uint32(b + np.uint32(((t << 5) | (t >> 27))))
        t = np.uint32(((b ^ (c & (a ^ b))) + d + np.uint32(0xfcefa3f8) + x[o + 2]))
        d = np.uint32(a + np.uint32(((t << 9) | (t >> 23))))
        t = np.uint32(((a ^ (b & (d ^ a))) + c + np.uint32(0x676f02d9) + x[o + 7]))
        c = np.uint32(d + np.uint32(((t << 14) | (t >> 18))))
        t = np.uint32(((d ^ (a & (c ^ d))) + b + np.uint32(0x8d2a4c8a) + x[o + 12]))
        b = np.uint32(c + np.uint32(((t << 20) | (t >> 12))))
        t = np.uint32(((b ^ c ^ d) + a + np.uint32(0xfffa3942) + x[o + 5]))
        a = np.uint32(b + np.uint32(((t << 4) | (t >> 28))))
        t = np.uint32(((a ^ b ^ c) + d + np.uint32(0x8771f681) + x[o + 8]))
        d = np.uint32(a + np.uint32(((t << 11) | (t >> 21))))
        t = np.uint32(((d ^ a ^ b) + c + np.uint32(0x6d9d6122) + x[o + 11]))
        c = np.uint32(d + np.uint32(((t << 16) | (t >> 16))))
        t = np.uint32(((c ^ d ^ a) + b + np.uint32(0xfde5380c) + x[o + 14]))
        b = np.uint32(c + np.uint32(((t << 23) | (t >> 9))))
        t = np.uint32(((b ^ c ^ d) + a + np.uint32(0xa4beea44) + x[o + 1]))
        a = np.uint32(b + np.uint32(((t << 4) | (t >> 28))))
        t = np.uint32(((a ^ b ^ c) + d + np.uint32(0x4bdecfa9) + x[o + 4]))
        d = np.uint32(a + np.uint32(((t << 11) | (t >> 21))))
        t = np.uint32(((d ^ a ^ b) + c + np.uint32(0xf6bb4b60) + x[o + 7]))
        c = np.uint32(d + np.uint32(((t << 16) | (t >> 16))))
        t = np.uint32(((c ^ d ^ a) + b + np.uint32(0xbebfbc70) + x[o + 10]))
        b = np.uint32(c + np.uint32(((t << 23) | (t >> 9))))
        t = np.uint32(((b ^ c ^ d) + a + np.uint32(0x289b7ec6) + x[o + 13]))
        a = np.uint32(b + np.uint32(((t << 4) | (t >> 28))))
        t = np.uint32(((a ^ b ^ c) + d + np.uint32(0xeaa127fa) + x[o + 0]))
        d = np.uint32(a + np.uint32(((t << 11) | (t >> 21))))
        t = np.uint32(((d ^ a ^ b) + c + np.uint32(0xd4ef3085) + x[o + 3]))
        c = np.uint32(d + np.uint32(((t << 16) | (t >> 16))))
        t = np.uint32(((c ^ d ^ a) + b + np.uint32(0x04881d05) + x[o + 6]))
        b = np.uint32(c + np.uint32(((t << 23) | (t >> 9))))
        t = np.uint32(((b ^ c ^ d) + a + np.uint32(0xd9d4d039) + x[o + 9]))
        a = np.uint32(b + np.uint32(((t << 4) | (t >> 28))))
        t = np.uint32(((a ^ b ^ c) + d + np.uint32(0xe6db99e5) + x[o + 12]))
        d = np.uint32(a + np.uint32(((t << 11) | (t >> 21))))
        t = np.uint32(((d ^ a ^ b) + c + np.uint32(0x1fa27cf8) + x[o + 15]))
        c = np.uint32(d + np.uint32(((t << 16) | (t >> 16))))
        t = np.uint32(((c ^ d ^ a) + b + np.uint32(0xc4ac5665) + x[o + 2]))
        b = np.uint32(c + np.uint32(((t << 23) | (t >> 9))))
        t = np.uint32(((c ^ (b | np.uint32(~d))) + a + np.uint32(0xf4292244) + x[o + 0]))
        a = np.uint32(b + np.uint32(((t << 6) | (t >> 26))))
        t = np.uint32(((b ^ (a | np.uint32(~c))) + d + np.uint32(0x432aff97) + x[o + 7]))
        d = np.uint32(a + np.uint32(((t << 10) | (t >> 22))))
        t = np.uint32(((a ^ (d | np.uint32(~b))) + c + np.uint32(0xab9423a7) + x[o + 14]))
        c = np.uint32(d + np.uint32(((t << 15) | (t >> 17))))
        t = np.uint32(((d ^ (c | np.uint32(~a))) + b + np.uint32(0xfc93a039) + x[o + 5]))
        b = np.uint32(c + np.uint32(((t << 21) | (t >> 11))))
        t = np.uint32(((c ^ (b | np.uint32(~d))) + a + np.uint32(0x655b59c3) + x[o + 12]))
        a = np.uint32(b + np.uint32(((t << 6) | (t >> 26))))
        t = np.uint32(((b ^ (a | np.uint32(~c))) + d + np.uint32(0x8f0ccc92) + x[o + 3]))
        d = np.uint32(a + np.uint32(((t << 10) | (t >> 22))))
        t = np.uint32(((a ^ (d | np.uint32(~b))) + c + np.uint32(0xffeff47d) + x[o + 10]))
        c = np.uint32(d + np.uint32(((t << 15) | (t >> 17))))
        t = np.uint32(((d ^ (c | np.uint32(~a))) + b + np.uint32(0x85845dd1) + x[o + 1]))
        b = np.uint32(c + np.uint32(((t << 21) | (t >> 11))))
        t = np.uint32(((c ^ (b | np.uint32(~d))) + a + np.uint32(0x6fa87e4f) + x[o + 8]))
        a = np.uint32(b + np.uint32(((t << 6) | (t >> 26))))
        t = np.uint32(((b ^ (a | np.uint32(~c))) + d + np.uint32(0xfe2ce6e0) + x[o + 15]))
        d = np.uint32(a + np.uint32(((t << 10) | (t >> 22))))
        t = np.uint32(((a ^ (d | np.uint32(~b))) + c + np.uint32(0xa3014314) + x[o + 6]))
        c = np.uint32(d + np.uint32(((t << 15) | (t >> 17))))
        t = np.uint32(((d ^ (c | np.uint32(~a))) + b + np.uint32(0x4e0811a1) + x[o + 13]))
        b = np.uint32(c + np.uint32(((t << 21) | (t >> 11))))
        t = np.uint32(((c ^ (b | np.uint32(~d))) + a + np.uint32(0xf7537e82) + x[o + 4]))
        a = np.uint32(b + np.uint32(((t << 6) | (t >> 26))))
        t = np.uint32(((b ^ (a | np.uint32(~c))) + d + np.uint32(0xbd3af235) + x[o + 11]))
        d = np.uint32(a + np.uint32(((t << 10) | (t >> 22))))
        t = np.uint32(((a ^ (d | np.uint32(~b))) + c + np.uint32(0x2ad7d2bb) + x[o + 2]))
        c = np.uint32(d + np.uint32(((t << 15) | (t >> 17))))
        t = np.uint32(((d ^ (c | np.uint32(~a))) + b + np.uint32(0xeb86d391) + x[o + 9]))
        b = np.uint32(c + np.uint32(((t << 21) | (t >> 11))))
        a0 = np.uint32(a0 + a)
        b0 = np.uint32(b0 + b)
        c0 = np.uint32(c0 + c)
        d0 = np.uint32(d0 + d)
    return np.int64(a0), np.int64(b0), np.int64(c0), np.int64(d0)


@njit(cache=True, nogil=True, inline="always")
def _big_endian(x, y):
    """Two digest words (little-endian bytes) -> their 8 bytes as one big-endian 64-bit int."""
    v = 0
    for w in (x, y):
        for byte in range(4):
            v = (v << 8) | ((w >> (8 * byte)) & 0xFF)
    return v


@njit(cache=True, nogil=True, inline="always")
def _halves(a, b, c, d):
    """Digest words -> the digest's two big-endian 64-bit halves (hi = bytes 0-7)."""
    return _big_endian(a, b), _big_endian(c, d)


@njit(cache=True, nogil=True, inline="always")
def _hex_into(a, b, c, d, out, order, row):
    """Write the 32 hex characters of digest words (a, b, c, d) into ``out[row]`` and their
    sort keys (the big-endian halves, sign bit flipped: hex strings sort as their digests'
    bytes) into ``order[row]``."""
    k = 0
    for w in (a, b, c, d):
        for byte in range(4):
            x = (w >> (8 * byte)) & 0xFF
            out[row, k] = _HEX[x >> 4]
            out[row, k + 1] = _HEX[x & 15]
            k += 2
    hi, lo = _halves(a, b, c, d)
    order[row, 0] = hi ^ _SIGN64
    order[row, 1] = lo ^ _SIGN64


@njit(cache=True, nogil=True, inline="always")
def _sort_rows(order, idx, m):
    """Insertion sort of ``idx[:m]`` by their hashes (the sort keys ``order``: the same order
    as the hex strings)."""
    for i in range(1, m):
        t = idx[i]
        t0 = order[t, 0]
        t1 = order[t, 1]
        j = i - 1
        while j >= 0 and (t0 < order[idx[j], 0] or (t0 == order[idx[j], 0] and t1 < order[idx[j], 1])):
            idx[j + 1] = idx[j]
            j -= 1
        idx[j + 1] = t


@njit(cache=True, nogil=True, inline="always")
def _init_rows(n, adj, codes, init, init_order, h, order):
    """Initial vertex hashes: row ``(out-degree, in-degree, op code)`` of ``init`` per vertex."""
    indeg = np.zeros(7, np.int64)
    outdeg = np.zeros(7, np.int64)
    for i in range(n):
        for j in range(i + 1, n):
            if (adj >> (7 * i + j)) & 1:
                outdeg[i] += 1
                indeg[j] += 1
    for v in range(n):
        code = (codes >> (3 * v)) & 7
        r = (outdeg[v] * 7 + indeg[v]) * 5 + code
        for k in range(32):
            h[v, k] = init[r, k]
        order[v, 0] = init_order[r, 0]
        order[v, 1] = init_order[r, 1]


@njit(cache=True, nogil=True, inline="always")
def _append_sorted(h, order, idx, m, buf, p):
    """Append the hash rows ``idx[:m]`` of ``h`` to ``buf`` at ``p`` in sorted order, then a
    '|'; returns the new length."""
    _sort_rows(order, idx, m)
    for t in range(m):
        r = idx[t]
        for k in range(32):
            buf[p + k] = h[r, k]
        p += 32
    buf[p] = 124  # '|'
    return p + 1


@njit(cache=True, nogil=True, inline="always")
def _message(n, adj, v, h, order, idx, buf):
    """Write vertex v's refinement input into ``buf``: sorted in-neighbour hashes, '|',
    sorted out-neighbour hashes, '|', its own hash; returns the length."""
    m = 0
    for w in range(v):
        if (adj >> (7 * w + v)) & 1:
            idx[m] = w
            m += 1
    p = _append_sorted(h, order, idx, m, buf, 0)
    m = 0
    for w in range(v + 1, n):
        if (adj >> (7 * v + w)) & 1:
            idx[m] = w
            m += 1
    p = _append_sorted(h, order, idx, m, buf, p)
    for k in range(32):
        buf[p + k] = h[v, k]
    return p + 32


@njit(cache=True, nogil=True)
def _key(n, adj, codes, h, new, order, new_order, buf, idx):
    """The md5 module hash of one pruned cell. Scratch: ``h``/``new`` (7, 32) uint8 hex rows,
    ``order``/``new_order`` (7, 2) int64 their sort keys, ``buf`` (384,) uint8, ``idx`` (7,)."""
    _init_rows(n, adj, codes, _INIT, _INIT_ORDER, h, order)
    for _ in range(n):
        for v in range(n):
            p = _message(n, adj, v, h, order, idx, buf)
            a, b, c, d = _md5(buf, p)
            _hex_into(a, b, c, d, new, new_order, v)
        for v in range(n):
            for k in range(32):
                h[v, k] = new[v, k]
            order[v, 0] = new_order[v, 0]
            order[v, 1] = new_order[v, 1]
    # fingerprint: md5 of str(sorted(hashes)) = "['h0', 'h1', ...]"
    for v in range(n):
        idx[v] = v
    _sort_rows(order, idx, n)
    p = 0
    buf[p] = 91  # '['
    p += 1
    for t in range(n):
        if t:
            buf[p] = 44  # ','
            buf[p + 1] = 32  # ' '
            p += 2
        buf[p] = 39  # "'"
        p += 1
        for k in range(32):
            buf[p] = h[idx[t], k]
            p += 1
        buf[p] = 39
        p += 1
    buf[p] = 93  # ']'
    p += 1
    a, b, c, d = _md5(buf, p)
    return _halves(a, b, c, d)


@njit(cache=True, nogil=True, inline="always")
def _scratch():
    """The work arrays of :func:`_key`: hex rows and their sort keys (current and new), the
    message buffer (a multiple of 4 bytes, md5 reads it as words) and the vertex order."""
    return (np.empty((7, 32), np.uint8), np.empty((7, 32), np.uint8), np.empty((7, 2), np.int64),
            np.empty((7, 2), np.int64), np.empty(384, np.uint8), np.empty(7, np.int64))


@njit(cache=True, nogil=True)
def key_halves(n, adj, codes):
    """(hi, lo) 64-bit halves of the md5 module hash of one pruned cell."""
    h, new, order, new_order, buf, idx = _scratch()
    return _key(n, adj, codes, h, new, order, new_order, buf, idx)


@njit(cache=True, nogil=True)
def key_halves_batch(ns, adjs, codes):
    """(N, 2) uint64 halves of the md5 module hash of N pruned cells."""
    out = np.empty((ns.shape[0], 2), np.uint64)
    h, new, order, new_order, buf, idx = _scratch()
    for i in range(ns.shape[0]):
        hi, lo = _key(ns[i], adjs[i], codes[i], h, new, order, new_order, buf, idx)
        out[i, 0] = hi
        out[i, 1] = lo
    return out


# -- neighbour candidates (the five moves of paper §3.2.1, in a fixed order) -----------------
@njit(cache=True, nogil=True)
def _emit(out_n, out_adj, out_code, m, n, rows, codes):
    """Append one candidate (n, packed rows, packed codes); returns the new count."""
    adj = 0
    code = 0
    for i in range(n):
        adj |= rows[i] << (7 * i)
        code |= codes[i] << (3 * i)
    out_n[m] = n
    out_adj[m] = adj
    out_code[m] = code
    return m + 1


@njit(cache=True, nogil=True)
def _popcount(x):
    c = 0
    while x:
        x &= x - 1
        c += 1
    return c


@njit(cache=True, nogil=True)
def _is_full(n, rows):
    cols = 0
    for v in range(n - 1):
        if rows[v] == 0:
            return False
        cols |= rows[v]
    return (cols | 1) == (1 << n) - 1


@njit(cache=True, nogil=True)
def _cell_candidates(n, adj, code, out_n, out_adj, out_code, m):
    """Write the candidates of one pruned cell from position ``m``; returns the new count.

    The moves in this order (checked against the plain-Python oracle of the tests):
    remove interior vertex v = 1..n-2 (every reconnection of its predecessors to its
    successors that keeps them connected, by subset), add a vertex after a = 0..n-2 with
    an edge to b = a+1..n-1 (labels 1, 2, 3), change the label of v = 1..n-2, remove an
    edge (i, j) row-major when every vertex stays on a path, add an edge a -> b (a < b as
    is, a > b renumbered topologically) when acyclic and within the edge limit.
    """
    rows = np.zeros(8, np.int64)
    codes = np.zeros(8, np.int64)
    new = np.zeros(8, np.int64)
    newc = np.zeros(8, np.int64)
    pp = np.zeros(49, np.int64)
    ps = np.zeros(49, np.int64)
    preds = np.zeros(7, np.int64)
    succs = np.zeros(7, np.int64)
    for i in range(n):
        rows[i] = (adj >> (7 * i)) & 0x7F
        codes[i] = (code >> (3 * i)) & 7
    edges = 0
    for i in range(n):
        edges += _popcount(rows[i])
    # 1. remove an interior vertex v, reconnecting predecessors to successors
    for v in range(1, n - 1):
        npred = 0
        for u in range(v):
            if (rows[u] >> v) & 1:
                preds[npred] = u
                npred += 1
        nsucc = 0
        for w in range(v + 1, n):
            if (rows[v] >> w) & 1:
                succs[nsucc] = w
                nsucc += 1
        base = np.zeros(8, np.int64)
        for u in range(n):
            base[u] = rows[u] & ~(1 << v)
        base[v] = 0
        npairs = 0
        for a in range(npred):
            for b in range(nsucc):
                p = preds[a]
                s = succs[b]
                if not (base[p] >> s) & 1:
                    pp[npairs] = p
                    ps[npairs] = s
                    npairs += 1
        has_in = 0
        for u in range(n):
            if u != v:
                has_in |= base[u]
        edges0 = 0
        for u in range(n):
            edges0 += _popcount(base[u])
        low = (1 << v) - 1
        for subset in range(1 << npairs):
            if edges0 + _popcount(subset) > 9:
                continue
            for u in range(n):
                new[u] = base[u]
            for k in range(npairs):
                if (subset >> k) & 1:
                    new[pp[k]] |= 1 << ps[k]
            inn = has_in
            for a in range(npred):
                inn |= new[preds[a]]
            ok = True
            for a in range(npred):
                if new[preds[a]] == 0:
                    ok = False
            for b in range(nsucc):
                if not (inn >> succs[b]) & 1:
                    ok = False
            if not ok:
                continue
            t = 0
            nr = np.zeros(8, np.int64)
            nc = np.zeros(8, np.int64)
            for u in range(n):
                if u != v:
                    r = new[u]
                    nr[t] = (r & low) | ((r >> 1) & ~low)
                    nc[t] = codes[u]
                    t += 1
            m = _emit(out_n, out_adj, out_code, m, n - 1, nr, nc)
    # 2. add a vertex between a and a later b (all three labels)
    if n < 7 and edges + 2 <= 9:
        for a in range(n - 1):
            low = (1 << (a + 1)) - 1
            for b in range(a + 1, n):
                nb = b + 1
                t = 0
                for u in range(a + 1):
                    r = rows[u]
                    new[t] = (r & low) | ((r & ~low) << 1)
                    newc[t] = codes[u]
                    t += 1
                new[t] = 1 << nb
                t += 1
                for u in range(a + 1, n):
                    r = rows[u]
                    new[t] = (r & low) | ((r & ~low) << 1)
                    newc[t] = codes[u]
                    t += 1
                new[a] |= 1 << (a + 1)
                for c in range(1, 4):
                    newc[a + 1] = c
                    m = _emit(out_n, out_adj, out_code, m, n + 1, new, newc)
    # 3. change a vertex label
    for v in range(1, n - 1):
        for c in range(1, 4):
            if c != codes[v]:
                for u in range(n):
                    newc[u] = codes[u]
                newc[v] = c
                m = _emit(out_n, out_adj, out_code, m, n, rows, newc)
    # 4. remove an edge, if every vertex stays on an input->output path
    for i in range(n - 1):
        for j in range(i + 1, n):
            if (rows[i] >> j) & 1:
                for u in range(n):
                    new[u] = rows[u]
                new[i] &= ~(1 << j)
                if _is_full(n, new):
                    m = _emit(out_n, out_adj, out_code, m, n, new, codes)
    # 5. add an edge a -> b (either direction, no cycle, edge limit)
    if edges < 9:
        desc = np.zeros(8, np.int64)
        for v in range(n - 1, -1, -1):
            d = rows[v]
            for w in range(v + 1, n):
                if (rows[v] >> w) & 1:
                    d |= desc[w]
            desc[v] = d
        for a in range(n - 1):
            for b in range(1, n):
                if a == b or (rows[a] >> b) & 1 or (b < a and (rows[b] >> a) & 1):
                    continue
                if a < b:
                    for u in range(n):
                        new[u] = rows[u]
                    new[a] |= 1 << b
                    m = _emit(out_n, out_adj, out_code, m, n, new, codes)
                elif not (desc[b] >> a) & 1:
                    for u in range(n):
                        new[u] = rows[u]
                    new[a] |= 1 << b
                    # topological renumbering, smallest ready vertex first (``topo_sort``)
                    indeg = np.zeros(8, np.int64)
                    for u in range(n):
                        for w in range(n):
                            if (new[u] >> w) & 1:
                                indeg[w] += 1
                    placed = 0
                    order = np.zeros(8, np.int64)
                    pos = np.zeros(8, np.int64)
                    for t in range(n):
                        pick = -1
                        for u in range(n):
                            if indeg[u] == 0 and not (placed >> u) & 1:
                                pick = u
                                break
                        placed |= 1 << pick
                        order[t] = pick
                        pos[pick] = t
                        for w in range(n):
                            if (new[pick] >> w) & 1:
                                indeg[w] -= 1
                    nr = np.zeros(8, np.int64)
                    nc = np.zeros(8, np.int64)
                    for u in range(n):
                        r = 0
                        for w in range(n):
                            if (new[u] >> w) & 1:
                                r |= 1 << pos[w]
                        nr[pos[u]] = r
                        nc[pos[u]] = codes[u]
                    m = _emit(out_n, out_adj, out_code, m, n, nr, nc)
    return m


#: room for the candidates of one cell (the most any cell of the space has is far below)
_CAND_ROOM = 2048


@njit(cache=True, nogil=True)
def candidates_batch(ns, adjs, codes):
    """Candidates of N pruned cells: (offsets (N+1,), n, adj, codes) in the order of ``_cell_candidates``."""
    cap = max(_CAND_ROOM, ns.shape[0] * 40)
    out_n = np.empty(cap, np.int64)
    out_adj = np.empty(cap, np.int64)
    out_code = np.empty(cap, np.int64)
    offsets = np.zeros(ns.shape[0] + 1, np.int64)
    m = 0
    for i in range(ns.shape[0]):
        if m + _CAND_ROOM > cap:
            cap = 2 * cap + _CAND_ROOM
            a = np.empty(cap, np.int64)
            b = np.empty(cap, np.int64)
            c = np.empty(cap, np.int64)
            a[:m] = out_n[:m]
            b[:m] = out_adj[:m]
            c[:m] = out_code[:m]
            out_n, out_adj, out_code = a, b, c
        m = _cell_candidates(ns[i], adjs[i], codes[i], out_n, out_adj, out_code, m)
        offsets[i + 1] = m
    return offsets, out_n[:m], out_adj[:m], out_code[:m]


# -- a fast 64-bit refinement hash (for lookups against the enumeration) ----------------------
@njit(cache=True, nogil=True)
def _mix(x):
    """splitmix64 finaliser (a bijection on 64-bit words)."""
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


@njit(cache=True, nogil=True)
def _fold(acc, x):
    return _mix(acc * np.uint64(0x9E3779B97F4A7C15) + x + np.uint64(0x632BE59BD9B4E019))


@njit(cache=True, nogil=True)
def _sort_small(a, m):
    for i in range(1, m):
        t = a[i]
        j = i - 1
        while j >= 0 and a[j] > t:
            a[j + 1] = a[j]
            j -= 1
        a[j + 1] = t


@njit(cache=True, nogil=True)
def wl64_batch(ns, adjs, codes):
    """A 64-bit hash of N pruned cells with the refinement structure of the module hash.

    Same steps as the md5 key (initial (out-degree, in-degree, label) per vertex; ``n``
    rounds of sorted in-neighbour values | sorted out-neighbour values | own value; the
    sorted multiset at the end) with a cheap integer mix in place of md5. So two cells with
    the same md5 key get the same value; the converse is checked over the enumeration by
    its users (every value unique there), which then map any cell to its row by this hash.
    """
    out = np.empty(ns.shape[0], np.uint64)
    h = np.zeros(8, np.uint64)
    new = np.zeros(8, np.uint64)
    tmp = np.zeros(8, np.uint64)
    ins = np.zeros((8, 8), np.int64)
    outs = np.zeros((8, 8), np.int64)
    nin = np.zeros(8, np.int64)
    nout = np.zeros(8, np.int64)
    for c in range(ns.shape[0]):
        n = ns[c]
        adj = adjs[c]
        code = codes[c]
        for v in range(n):
            nin[v] = 0
            nout[v] = 0
        for v in range(n):
            r = (adj >> (7 * v)) & 0x7F
            for w in range(v + 1, n):
                if (r >> w) & 1:
                    outs[v, nout[v]] = w
                    nout[v] += 1
                    ins[w, nin[w]] = v
                    nin[w] += 1
        for v in range(n):
            lab = (code >> (3 * v)) & 7
            h[v] = _mix(np.uint64((nout[v] * 8 + nin[v]) * 8 + lab + 1))
        for _ in range(n):
            for v in range(n):
                m = nin[v]
                for t in range(m):
                    tmp[t] = h[ins[v, t]]
                _sort_small(tmp, m)
                acc = np.uint64(1)
                for t in range(m):
                    acc = _fold(acc, tmp[t])
                acc = _fold(acc, np.uint64(0x7C))  # separator
                m = nout[v]
                for t in range(m):
                    tmp[t] = h[outs[v, t]]
                _sort_small(tmp, m)
                for t in range(m):
                    acc = _fold(acc, tmp[t])
                acc = _fold(acc, np.uint64(0x7C))
                new[v] = _fold(acc, h[v])
            for v in range(n):
                h[v] = new[v]
        for v in range(n):
            tmp[v] = h[v]
        _sort_small(tmp, n)
        acc = np.uint64(n)
        for t in range(n):
            acc = _fold(acc, tmp[t])
        out[c] = acc
    return out

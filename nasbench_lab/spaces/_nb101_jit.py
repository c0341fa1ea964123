"""Compiled (numba) kernel of the NAS-Bench-101 md5 module hash, one cell or a batch.

The algorithm is exactly the one of :func:`nasbench_lab.spaces._nb101_hash.md5_key`
(the official ``hash_module``), with md5 itself written out over 32-bit words so the whole
refinement runs without Python objects. A cell is passed as three integers:
``n`` (vertices), ``adj`` (bit ``7*i + j`` set for an edge ``i -> j``) and ``codes``
(3 bits per vertex, the index in ``OPS``). The digest comes back as two 64-bit halves
(``hi`` = bytes 0-7, ``lo`` = bytes 8-15, big-endian), so ``f"{hi:016x}{lo:016x}"`` is the
32-hex key.

numba is imported here only; the pure-Python path stays available without it.
"""
from __future__ import annotations

import hashlib
import numpy as np
from numba import njit

_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8).copy()
_LABEL = (-1, 0, 1, 2, -2)
#: md5 hex (as bytes) of str((out, in, label)) for out, in in 0..6 and op code 0..4
_INIT = np.array([[c for c in hashlib.md5(str((o, i, _LABEL[k])).encode()).hexdigest().encode()]
                  for o in range(7) for i in range(7) for k in range(5)], dtype=np.uint8)


@njit(cache=True, nogil=True)
def _md5(buf, length, w):
    """md5 of ``buf[:length]`` (``buf`` has room for the padding): digest words (a, b, c, d).

    ``w`` is scratch for the message words (96 int64). The 64 steps are unrolled with
    their constants (RFC 1321).
    """
    M = 0xFFFFFFFF
    buf[length] = 0x80
    total = ((length + 8) // 64 + 1) * 64
    for i in range(length + 1, total - 8):
        buf[i] = 0
    bits = length * 8
    for i in range(8):
        buf[total - 8 + i] = (bits >> (8 * i)) & 0xFF
    for j in range(total // 4):
        p = 4 * j
        w[j] = (np.int64(buf[p]) | (np.int64(buf[p + 1]) << 8) | (np.int64(buf[p + 2]) << 16)
                | (np.int64(buf[p + 3]) << 24))
    a0 = 0x67452301
    b0 = 0xEFCDAB89
    c0 = 0x98BADCFE
    d0 = 0x10325476
    for o in range(0, total // 4, 16):
        a = a0
        b = b0
        c = c0
        d = d0
        t = (((b & c) | (~b & d)) + a + 0xd76aa478 + w[o + 0]) & M
        a = (b + (((t << 7) | (t >> 25)) & M)) & M
        t = (((a & b) | (~a & c)) + d + 0xe8c7b756 + w[o + 1]) & M
        d = (a + (((t << 12) | (t >> 20)) & M)) & M
        t = (((d & a) | (~d & b)) + c + 0x242070db + w[o + 2]) & M
        c = (d + (((t << 17) | (t >> 15)) & M)) & M
        t = (((c & d) | (~c & a)) + b + 0xc1bdceee + w[o + 3]) & M
        b = (c + (((t << 22) | (t >> 10)) & M)) & M
        t = (((b & c) | (~b & d)) + a + 0xf57c0faf + w[o + 4]) & M
        a = (b + (((t << 7) | (t >> 25)) & M)) & M
        t = (((a & b) | (~a & c)) + d + 0x4787c62a + w[o + 5]) & M
        d = (a + (((t << 12) | (t >> 20)) & M)) & M
        t = (((d & a) | (~d & b)) + c + 0xa8304613 + w[o + 6]) & M
        c = (d + (((t << 17) | (t >> 15)) & M)) & M
        t = (((c & d) | (~c & a)) + b + 0xfd469501 + w[o + 7]) & M
        b = (c + (((t << 22) | (t >> 10)) & M)) & M
        t = (((b & c) | (~b & d)) + a + 0x698098d8 + w[o + 8]) & M
        a = (b + (((t << 7) | (t >> 25)) & M)) & M
        t = (((a & b) | (~a & c)) + d + 0x8b44f7af + w[o + 9]) & M
        d = (a + (((t << 12) | (t >> 20)) & M)) & M
        t = (((d & a) | (~d & b)) + c + 0xffff5bb1 + w[o + 10]) & M
        c = (d + (((t << 17) | (t >> 15)) & M)) & M
        t = (((c & d) | (~c & a)) + b + 0x895cd7be + w[o + 11]) & M
        b = (c + (((t << 22) | (t >> 10)) & M)) & M
        t = (((b & c) | (~b & d)) + a + 0x6b901122 + w[o + 12]) & M
        a = (b + (((t << 7) | (t >> 25)) & M)) & M
        t = (((a & b) | (~a & c)) + d + 0xfd987193 + w[o + 13]) & M
        d = (a + (((t << 12) | (t >> 20)) & M)) & M
        t = (((d & a) | (~d & b)) + c + 0xa679438e + w[o + 14]) & M
        c = (d + (((t << 17) | (t >> 15)) & M)) & M
        t = (((c & d) | (~c & a)) + b + 0x49b40821 + w[o + 15]) & M
        b = (c + (((t << 22) | (t >> 10)) & M)) & M
        t = (((d & b) | (~d & c)) + a + 0xf61e2562 + w[o + 1]) & M
        a = (b + (((t << 5) | (t >> 27)) & M)) & M
        t = (((c & a) | (~c & b)) + d + 0xc040b340 + w[o + 6]) & M
        d = (a + (((t << 9) | (t >> 23)) & M)) & M
        t = (((b & d) | (~b & a)) + c + 0x265e5a51 + w[o + 11]) & M
        c = (d + (((t << 14) | (t >> 18)) & M)) & M
        t = (((a & c) | (~a & d)) + b + 0xe9b6c7aa + w[o + 0]) & M
        b = (c + (((t << 20) | (t >> 12)) & M)) & M
        t = (((d & b) | (~d & c)) + a + 0xd62f105d + w[o + 5]) & M
        a = (b + (((t << 5) | (t >> 27)) & M)) & M
        t = (((c & a) | (~c & b)) + d + 0x02441453 + w[o + 10]) & M
        d = (a + (((t << 9) | (t >> 23)) & M)) & M
        t = (((b & d) | (~b & a)) + c + 0xd8a1e681 + w[o + 15]) & M
        c = (d + (((t << 14) | (t >> 18)) & M)) & M
        t = (((a & c) | (~a & d)) + b + 0xe7d3fbc8 + w[o + 4]) & M
        b = (c + (((t << 20) | (t >> 12)) & M)) & M
        t = (((d & b) | (~d & c)) + a + 0x21e1cde6 + w[o + 9]) & M
        a = (b + (((t << 5) | (t >> 27)) & M)) & M
        t = (((c & a) | (~c & b)) + d + 0xc33707d6 + w[o + 14]) & M
        d = (a + (((t << 9) | (t >> 23)) & M)) & M
        t = (((b & d) | (~b & a)) + c + 0xf4d50d87 + w[o + 3]) & M
        c = (d + (((t << 14) | (t >> 18)) & M)) & M
        t = (((a & c) | (~a & d)) + b + 0x455a14ed + w[o + 8]) & M
        b = (c + (((t << 20) | (t >> 12)) & M)) & M
        t = (((d & b) | (~d & c)) + a + 0xa9e3e905 + w[o + 13]) & M
        a = (b + (((t << 5) | (t >> 27)) & M)) & M
        t = (((c & a) | (~c & b)) + d + 0xfcefa3f8 + w[o + 2]) & M
        d = (a + (((t << 9) | (t >> 23)) & M)) & M
        t = (((b & d) | (~b & a)) + c + 0x676f02d9 + w[o + 7]) & M
        c = (d + (((t << 14) | (t >> 18)) & M)) & M
        t = (((a & c) | (~a & d)) + b + 0x8d2a4c8a + w[o + 12]) & M
        b = (c + (((t << 20) | (t >> 12)) & M)) & M
        t = ((b ^ c ^ d) + a + 0xfffa3942 + w[o + 5]) & M
        a = (b + (((t << 4) | (t >> 28)) & M)) & M
        t = ((a ^ b ^ c) + d + 0x8771f681 + w[o + 8]) & M
        d = (a + (((t << 11) | (t >> 21)) & M)) & M
        t = ((d ^ a ^ b) + c + 0x6d9d6122 + w[o + 11]) & M
        c = (d + (((t << 16) | (t >> 16)) & M)) & M
        t = ((c ^ d ^ a) + b + 0xfde5380c + w[o + 14]) & M
        b = (c + (((t << 23) | (t >> 9)) & M)) & M
        t = ((b ^ c ^ d) + a + 0xa4beea44 + w[o + 1]) & M
        a = (b + (((t << 4) | (t >> 28)) & M)) & M
        t = ((a ^ b ^ c) + d + 0x4bdecfa9 + w[o + 4]) & M
        d = (a + (((t << 11) | (t >> 21)) & M)) & M
        t = ((d ^ a ^ b) + c + 0xf6bb4b60 + w[o + 7]) & M
        c = (d + (((t << 16) | (t >> 16)) & M)) & M
        t = ((c ^ d ^ a) + b + 0xbebfbc70 + w[o + 10]) & M
        b = (c + (((t << 23) | (t >> 9)) & M)) & M
        t = ((b ^ c ^ d) + a + 0x289b7ec6 + w[o + 13]) & M
        a = (b + (((t << 4) | (t >> 28)) & M)) & M
        t = ((a ^ b ^ c) + d + 0xeaa127fa + w[o + 0]) & M
        d = (a + (((t << 11) | (t >> 21)) & M)) & M
        t = ((d ^ a ^ b) + c + 0xd4ef3085 + w[o + 3]) & M
        c = (d + (((t << 16) | (t >> 16)) & M)) & M
        t = ((c ^ d ^ a) + b + 0x04881d05 + w[o + 6]) & M
        b = (c + (((t << 23) | (t >> 9)) & M)) & M
        t = ((b ^ c ^ d) + a + 0xd9d4d039 + w[o + 9]) & M
        a = (b + (((t << 4) | (t >> 28)) & M)) & M
        t = ((a ^ b ^ c) + d + 0xe6db99e5 + w[o + 12]) & M
        d = (a + (((t << 11) | (t >> 21)) & M)) & M
        t = ((d ^ a ^ b) + c + 0x1fa27cf8 + w[o + 15]) & M
        c = (d + (((t << 16) | (t >> 16)) & M)) & M
        t = ((c ^ d ^ a) + b + 0xc4ac5665 + w[o + 2]) & M
        b = (c + (((t << 23) | (t >> 9)) & M)) & M
        t = ((c ^ (b | (~d & M))) + a + 0xf4292244 + w[o + 0]) & M
        a = (b + (((t << 6) | (t >> 26)) & M)) & M
        t = ((b ^ (a | (~c & M))) + d + 0x432aff97 + w[o + 7]) & M
        d = (a + (((t << 10) | (t >> 22)) & M)) & M
        t = ((a ^ (d | (~b & M))) + c + 0xab9423a7 + w[o + 14]) & M
        c = (d + (((t << 15) | (t >> 17)) & M)) & M
        t = ((d ^ (c | (~a & M))) + b + 0xfc93a039 + w[o + 5]) & M
        b = (c + (((t << 21) | (t >> 11)) & M)) & M
        t = ((c ^ (b | (~d & M))) + a + 0x655b59c3 + w[o + 12]) & M
        a = (b + (((t << 6) | (t >> 26)) & M)) & M
        t = ((b ^ (a | (~c & M))) + d + 0x8f0ccc92 + w[o + 3]) & M
        d = (a + (((t << 10) | (t >> 22)) & M)) & M
        t = ((a ^ (d | (~b & M))) + c + 0xffeff47d + w[o + 10]) & M
        c = (d + (((t << 15) | (t >> 17)) & M)) & M
        t = ((d ^ (c | (~a & M))) + b + 0x85845dd1 + w[o + 1]) & M
        b = (c + (((t << 21) | (t >> 11)) & M)) & M
        t = ((c ^ (b | (~d & M))) + a + 0x6fa87e4f + w[o + 8]) & M
        a = (b + (((t << 6) | (t >> 26)) & M)) & M
        t = ((b ^ (a | (~c & M))) + d + 0xfe2ce6e0 + w[o + 15]) & M
        d = (a + (((t << 10) | (t >> 22)) & M)) & M
        t = ((a ^ (d | (~b & M))) + c + 0xa3014314 + w[o + 6]) & M
        c = (d + (((t << 15) | (t >> 17)) & M)) & M
        t = ((d ^ (c | (~a & M))) + b + 0x4e0811a1 + w[o + 13]) & M
        b = (c + (((t << 21) | (t >> 11)) & M)) & M
        t = ((c ^ (b | (~d & M))) + a + 0xf7537e82 + w[o + 4]) & M
        a = (b + (((t << 6) | (t >> 26)) & M)) & M
        t = ((b ^ (a | (~c & M))) + d + 0xbd3af235 + w[o + 11]) & M
        d = (a + (((t << 10) | (t >> 22)) & M)) & M
        t = ((a ^ (d | (~b & M))) + c + 0x2ad7d2bb + w[o + 2]) & M
        c = (d + (((t << 15) | (t >> 17)) & M)) & M
        t = ((d ^ (c | (~a & M))) + b + 0xeb86d391 + w[o + 9]) & M
        b = (c + (((t << 21) | (t >> 11)) & M)) & M
        a0 = (a0 + a) & M
        b0 = (b0 + b) & M
        c0 = (c0 + c) & M
        d0 = (d0 + d) & M
    return a0, b0, c0, d0


@njit(cache=True, nogil=True)
def _hex_into(a, b, c, d, out, row):
    """Write the 32 hex characters of digest words (a, b, c, d) into ``out[row]``."""
    k = 0
    for w in (a, b, c, d):
        for byte in range(4):
            x = (w >> (8 * byte)) & 0xFF
            out[row, k] = _HEX[x >> 4]
            out[row, k + 1] = _HEX[x & 15]
            k += 2


@njit(cache=True, nogil=True)
def _less(h, x, y):
    """Row x of h sorts before row y (lexicographic over 32 bytes)."""
    for k in range(32):
        if h[x, k] != h[y, k]:
            return h[x, k] < h[y, k]
    return False


@njit(cache=True, nogil=True)
def _sort_rows(h, idx, m):
    """Insertion sort of ``idx[:m]`` by the hex rows of ``h``."""
    for i in range(1, m):
        t = idx[i]
        j = i - 1
        while j >= 0 and _less(h, t, idx[j]):
            idx[j + 1] = idx[j]
            j -= 1
        idx[j + 1] = t


@njit(cache=True, nogil=True)
def _key(n, adj, codes, h, new, buf, words, idx):
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
            h[v, k] = _INIT[r, k]
    for _ in range(n):
        for v in range(n):
            p = 0
            m = 0
            for w in range(v):
                if (adj >> (7 * w + v)) & 1:
                    idx[m] = w
                    m += 1
            _sort_rows(h, idx, m)
            for t in range(m):
                for k in range(32):
                    buf[p] = h[idx[t], k]
                    p += 1
            buf[p] = 124  # '|'
            p += 1
            m = 0
            for w in range(v + 1, n):
                if (adj >> (7 * v + w)) & 1:
                    idx[m] = w
                    m += 1
            _sort_rows(h, idx, m)
            for t in range(m):
                for k in range(32):
                    buf[p] = h[idx[t], k]
                    p += 1
            buf[p] = 124
            p += 1
            for k in range(32):
                buf[p] = h[v, k]
                p += 1
            a, b, c, d = _md5(buf, p, words)
            _hex_into(a, b, c, d, new, v)
        for v in range(n):
            for k in range(32):
                h[v, k] = new[v, k]
    # fingerprint: md5 of str(sorted(hashes)) = "['h0', 'h1', ...]"
    for v in range(n):
        idx[v] = v
    _sort_rows(h, idx, n)
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
    a, b, c, d = _md5(buf, p, words)
    # digest bytes are the words little-endian; fold them into two big-endian halves
    hi = 0
    for w in (a, b):
        for byte in range(4):
            hi = (hi << 8) | ((w >> (8 * byte)) & 0xFF)
    lo = 0
    for w in (c, d):
        for byte in range(4):
            lo = (lo << 8) | ((w >> (8 * byte)) & 0xFF)
    return hi, lo


@njit(cache=True, nogil=True)
def key_halves(n, adj, codes):
    """(hi, lo) 64-bit halves of the md5 module hash of one pruned cell."""
    h = np.empty((7, 32), np.uint8)
    new = np.empty((7, 32), np.uint8)
    buf = np.empty(384, np.uint8)
    words = np.empty(96, np.int64)
    idx = np.empty(7, np.int64)
    return _key(n, adj, codes, h, new, buf, words, idx)


@njit(cache=True, nogil=True)
def key_halves_batch(ns, adjs, codes):
    """(N, 2) uint64 halves of the md5 module hash of N pruned cells."""
    out = np.empty((ns.shape[0], 2), np.uint64)
    h = np.empty((7, 32), np.uint8)
    new = np.empty((7, 32), np.uint8)
    buf = np.empty(384, np.uint8)
    words = np.empty(96, np.int64)
    idx = np.empty(7, np.int64)
    for i in range(ns.shape[0]):
        hi, lo = _key(ns[i], adjs[i], codes[i], h, new, buf, words, idx)
        out[i, 0] = hi
        out[i, 1] = lo
    return out

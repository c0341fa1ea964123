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


# -- the blake2s variant (RFC 7693 blake2s, 32-byte digest, no key) ---------------------------
_B2_IV = np.array([0x6A09E667, 0xBB67AE85, 0x3C6EF372, 0xA54FF53A,
                   0x510E527F, 0x9B05688C, 0x1F83D9AB, 0x5BE0CD19], dtype=np.int64)
#: blake2s digests of bytes((out, in, op code)): the variant's initial vertex hashes
_B2_INIT = np.array([[c for c in hashlib.blake2s(bytes((o, i, k))).digest()]
                     for o in range(7) for i in range(7) for k in range(5)], dtype=np.uint8)


@njit(cache=True, nogil=True)
def _blake2s_into(buf, length, out, row, w, hs):
    """blake2s-256 of ``buf[:length]`` written as 32 raw bytes into ``out[row]``.

    ``w`` is scratch for the message words, ``hs`` for the chaining state; the 10 rounds
    of 8 mixing steps are unrolled (RFC 7693).
    """
    M = 0xFFFFFFFF
    for i in range(8):
        hs[i] = _B2_IV[i]
    hs[0] ^= 0x01010020  # digest length 32, no key, fanout 1, depth 1
    nblocks = max(1, (length + 63) // 64)
    for i in range(length, nblocks * 64):
        buf[i] = 0
    for j in range(nblocks * 16):
        p = 4 * j
        w[j] = (np.int64(buf[p]) | (np.int64(buf[p + 1]) << 8) | (np.int64(buf[p + 2]) << 16)
                | (np.int64(buf[p + 3]) << 24))
    for blk in range(nblocks):
        last = blk == nblocks - 1
        t = length if last else (blk + 1) * 64
        o = blk * 16
        m0 = w[o + 0]
        m1 = w[o + 1]
        m2 = w[o + 2]
        m3 = w[o + 3]
        m4 = w[o + 4]
        m5 = w[o + 5]
        m6 = w[o + 6]
        m7 = w[o + 7]
        m8 = w[o + 8]
        m9 = w[o + 9]
        m10 = w[o + 10]
        m11 = w[o + 11]
        m12 = w[o + 12]
        m13 = w[o + 13]
        m14 = w[o + 14]
        m15 = w[o + 15]
        v0 = hs[0]
        v1 = hs[1]
        v2 = hs[2]
        v3 = hs[3]
        v4 = hs[4]
        v5 = hs[5]
        v6 = hs[6]
        v7 = hs[7]
        v8 = _B2_IV[0]
        v9 = _B2_IV[1]
        v10 = _B2_IV[2]
        v11 = _B2_IV[3]
        v12 = _B2_IV[4] ^ (t & M)
        v13 = _B2_IV[5] ^ ((t >> 32) & M)
        v14 = _B2_IV[6] ^ (M if last else 0)
        v15 = _B2_IV[7]
        v0 = (v0 + v4 + m0) & M
        z = v12 ^ v0
        v12 = ((z >> 16) | (z << 16)) & M
        v8 = (v8 + v12) & M
        z = v4 ^ v8
        v4 = ((z >> 12) | (z << 20)) & M
        v0 = (v0 + v4 + m1) & M
        z = v12 ^ v0
        v12 = ((z >> 8) | (z << 24)) & M
        v8 = (v8 + v12) & M
        z = v4 ^ v8
        v4 = ((z >> 7) | (z << 25)) & M
        v1 = (v1 + v5 + m2) & M
        z = v13 ^ v1
        v13 = ((z >> 16) | (z << 16)) & M
        v9 = (v9 + v13) & M
        z = v5 ^ v9
        v5 = ((z >> 12) | (z << 20)) & M
        v1 = (v1 + v5 + m3) & M
        z = v13 ^ v1
        v13 = ((z >> 8) | (z << 24)) & M
        v9 = (v9 + v13) & M
        z = v5 ^ v9
        v5 = ((z >> 7) | (z << 25)) & M
        v2 = (v2 + v6 + m4) & M
        z = v14 ^ v2
        v14 = ((z >> 16) | (z << 16)) & M
        v10 = (v10 + v14) & M
        z = v6 ^ v10
        v6 = ((z >> 12) | (z << 20)) & M
        v2 = (v2 + v6 + m5) & M
        z = v14 ^ v2
        v14 = ((z >> 8) | (z << 24)) & M
        v10 = (v10 + v14) & M
        z = v6 ^ v10
        v6 = ((z >> 7) | (z << 25)) & M
        v3 = (v3 + v7 + m6) & M
        z = v15 ^ v3
        v15 = ((z >> 16) | (z << 16)) & M
        v11 = (v11 + v15) & M
        z = v7 ^ v11
        v7 = ((z >> 12) | (z << 20)) & M
        v3 = (v3 + v7 + m7) & M
        z = v15 ^ v3
        v15 = ((z >> 8) | (z << 24)) & M
        v11 = (v11 + v15) & M
        z = v7 ^ v11
        v7 = ((z >> 7) | (z << 25)) & M
        v0 = (v0 + v5 + m8) & M
        z = v15 ^ v0
        v15 = ((z >> 16) | (z << 16)) & M
        v10 = (v10 + v15) & M
        z = v5 ^ v10
        v5 = ((z >> 12) | (z << 20)) & M
        v0 = (v0 + v5 + m9) & M
        z = v15 ^ v0
        v15 = ((z >> 8) | (z << 24)) & M
        v10 = (v10 + v15) & M
        z = v5 ^ v10
        v5 = ((z >> 7) | (z << 25)) & M
        v1 = (v1 + v6 + m10) & M
        z = v12 ^ v1
        v12 = ((z >> 16) | (z << 16)) & M
        v11 = (v11 + v12) & M
        z = v6 ^ v11
        v6 = ((z >> 12) | (z << 20)) & M
        v1 = (v1 + v6 + m11) & M
        z = v12 ^ v1
        v12 = ((z >> 8) | (z << 24)) & M
        v11 = (v11 + v12) & M
        z = v6 ^ v11
        v6 = ((z >> 7) | (z << 25)) & M
        v2 = (v2 + v7 + m12) & M
        z = v13 ^ v2
        v13 = ((z >> 16) | (z << 16)) & M
        v8 = (v8 + v13) & M
        z = v7 ^ v8
        v7 = ((z >> 12) | (z << 20)) & M
        v2 = (v2 + v7 + m13) & M
        z = v13 ^ v2
        v13 = ((z >> 8) | (z << 24)) & M
        v8 = (v8 + v13) & M
        z = v7 ^ v8
        v7 = ((z >> 7) | (z << 25)) & M
        v3 = (v3 + v4 + m14) & M
        z = v14 ^ v3
        v14 = ((z >> 16) | (z << 16)) & M
        v9 = (v9 + v14) & M
        z = v4 ^ v9
        v4 = ((z >> 12) | (z << 20)) & M
        v3 = (v3 + v4 + m15) & M
        z = v14 ^ v3
        v14 = ((z >> 8) | (z << 24)) & M
        v9 = (v9 + v14) & M
        z = v4 ^ v9
        v4 = ((z >> 7) | (z << 25)) & M
        v0 = (v0 + v4 + m14) & M
        z = v12 ^ v0
        v12 = ((z >> 16) | (z << 16)) & M
        v8 = (v8 + v12) & M
        z = v4 ^ v8
        v4 = ((z >> 12) | (z << 20)) & M
        v0 = (v0 + v4 + m10) & M
        z = v12 ^ v0
        v12 = ((z >> 8) | (z << 24)) & M
        v8 = (v8 + v12) & M
        z = v4 ^ v8
        v4 = ((z >> 7) | (z << 25)) & M
        v1 = (v1 + v5 + m4) & M
        z = v13 ^ v1
        v13 = ((z >> 16) | (z << 16)) & M
        v9 = (v9 + v13) & M
        z = v5 ^ v9
        v5 = ((z >> 12) | (z << 20)) & M
        v1 = (v1 + v5 + m8) & M
        z = v13 ^ v1
        v13 = ((z >> 8) | (z << 24)) & M
        v9 = (v9 + v13) & M
        z = v5 ^ v9
        v5 = ((z >> 7) | (z << 25)) & M
        v2 = (v2 + v6 + m9) & M
        z = v14 ^ v2
        v14 = ((z >> 16) | (z << 16)) & M
        v10 = (v10 + v14) & M
        z = v6 ^ v10
        v6 = ((z >> 12) | (z << 20)) & M
        v2 = (v2 + v6 + m15) & M
        z = v14 ^ v2
        v14 = ((z >> 8) | (z << 24)) & M
        v10 = (v10 + v14) & M
        z = v6 ^ v10
        v6 = ((z >> 7) | (z << 25)) & M
        v3 = (v3 + v7 + m13) & M
        z = v15 ^ v3
        v15 = ((z >> 16) | (z << 16)) & M
        v11 = (v11 + v15) & M
        z = v7 ^ v11
        v7 = ((z >> 12) | (z << 20)) & M
        v3 = (v3 + v7 + m6) & M
        z = v15 ^ v3
        v15 = ((z >> 8) | (z << 24)) & M
        v11 = (v11 + v15) & M
        z = v7 ^ v11
        v7 = ((z >> 7) | (z << 25)) & M
        v0 = (v0 + v5 + m1) & M
        z = v15 ^ v0
        v15 = ((z >> 16) | (z << 16)) & M
        v10 = (v10 + v15) & M
        z = v5 ^ v10
        v5 = ((z >> 12) | (z << 20)) & M
        v0 = (v0 + v5 + m12) & M
        z = v15 ^ v0
        v15 = ((z >> 8) | (z << 24)) & M
        v10 = (v10 + v15) & M
        z = v5 ^ v10
        v5 = ((z >> 7) | (z << 25)) & M
        v1 = (v1 + v6 + m0) & M
        z = v12 ^ v1
        v12 = ((z >> 16) | (z << 16)) & M
        v11 = (v11 + v12) & M
        z = v6 ^ v11
        v6 = ((z >> 12) | (z << 20)) & M
        v1 = (v1 + v6 + m2) & M
        z = v12 ^ v1
        v12 = ((z >> 8) | (z << 24)) & M
        v11 = (v11 + v12) & M
        z = v6 ^ v11
        v6 = ((z >> 7) | (z << 25)) & M
        v2 = (v2 + v7 + m11) & M
        z = v13 ^ v2
        v13 = ((z >> 16) | (z << 16)) & M
        v8 = (v8 + v13) & M
        z = v7 ^ v8
        v7 = ((z >> 12) | (z << 20)) & M
        v2 = (v2 + v7 + m7) & M
        z = v13 ^ v2
        v13 = ((z >> 8) | (z << 24)) & M
        v8 = (v8 + v13) & M
        z = v7 ^ v8
        v7 = ((z >> 7) | (z << 25)) & M
        v3 = (v3 + v4 + m5) & M
        z = v14 ^ v3
        v14 = ((z >> 16) | (z << 16)) & M
        v9 = (v9 + v14) & M
        z = v4 ^ v9
        v4 = ((z >> 12) | (z << 20)) & M
        v3 = (v3 + v4 + m3) & M
        z = v14 ^ v3
        v14 = ((z >> 8) | (z << 24)) & M
        v9 = (v9 + v14) & M
        z = v4 ^ v9
        v4 = ((z >> 7) | (z << 25)) & M
        v0 = (v0 + v4 + m11) & M
        z = v12 ^ v0
        v12 = ((z >> 16) | (z << 16)) & M
        v8 = (v8 + v12) & M
        z = v4 ^ v8
        v4 = ((z >> 12) | (z << 20)) & M
        v0 = (v0 + v4 + m8) & M
        z = v12 ^ v0
        v12 = ((z >> 8) | (z << 24)) & M
        v8 = (v8 + v12) & M
        z = v4 ^ v8
        v4 = ((z >> 7) | (z << 25)) & M
        v1 = (v1 + v5 + m12) & M
        z = v13 ^ v1
        v13 = ((z >> 16) | (z << 16)) & M
        v9 = (v9 + v13) & M
        z = v5 ^ v9
        v5 = ((z >> 12) | (z << 20)) & M
        v1 = (v1 + v5 + m0) & M
        z = v13 ^ v1
        v13 = ((z >> 8) | (z << 24)) & M
        v9 = (v9 + v13) & M
        z = v5 ^ v9
        v5 = ((z >> 7) | (z << 25)) & M
        v2 = (v2 + v6 + m5) & M
        z = v14 ^ v2
        v14 = ((z >> 16) | (z << 16)) & M
        v10 = (v10 + v14) & M
        z = v6 ^ v10
        v6 = ((z >> 12) | (z << 20)) & M
        v2 = (v2 + v6 + m2) & M
        z = v14 ^ v2
        v14 = ((z >> 8) | (z << 24)) & M
        v10 = (v10 + v14) & M
        z = v6 ^ v10
        v6 = ((z >> 7) | (z << 25)) & M
        v3 = (v3 + v7 + m15) & M
        z = v15 ^ v3
        v15 = ((z >> 16) | (z << 16)) & M
        v11 = (v11 + v15) & M
        z = v7 ^ v11
        v7 = ((z >> 12) | (z << 20)) & M
        v3 = (v3 + v7 + m13) & M
        z = v15 ^ v3
        v15 = ((z >> 8) | (z << 24)) & M
        v11 = (v11 + v15) & M
        z = v7 ^ v11
        v7 = ((z >> 7) | (z << 25)) & M
        v0 = (v0 + v5 + m10) & M
        z = v15 ^ v0
        v15 = ((z >> 16) | (z << 16)) & M
        v10 = (v10 + v15) & M
        z = v5 ^ v10
        v5 = ((z >> 12) | (z << 20)) & M
        v0 = (v0 + v5 + m14) & M
        z = v15 ^ v0
        v15 = ((z >> 8) | (z << 24)) & M
        v10 = (v10 + v15) & M
        z = v5 ^ v10
        v5 = ((z >> 7) | (z << 25)) & M
        v1 = (v1 + v6 + m3) & M
        z = v12 ^ v1
        v12 = ((z >> 16) | (z << 16)) & M
        v11 = (v11 + v12) & M
        z = v6 ^ v11
        v6 = ((z >> 12) | (z << 20)) & M
        v1 = (v1 + v6 + m6) & M
        z = v12 ^ v1
        v12 = ((z >> 8) | (z << 24)) & M
        v11 = (v11 + v12) & M
        z = v6 ^ v11
        v6 = ((z >> 7) | (z << 25)) & M
        v2 = (v2 + v7 + m7) & M
        z = v13 ^ v2
        v13 = ((z >> 16) | (z << 16)) & M
        v8 = (v8 + v13) & M
        z = v7 ^ v8
        v7 = ((z >> 12) | (z << 20)) & M
        v2 = (v2 + v7 + m1) & M
        z = v13 ^ v2
        v13 = ((z >> 8) | (z << 24)) & M
        v8 = (v8 + v13) & M
        z = v7 ^ v8
        v7 = ((z >> 7) | (z << 25)) & M
        v3 = (v3 + v4 + m9) & M
        z = v14 ^ v3
        v14 = ((z >> 16) | (z << 16)) & M
        v9 = (v9 + v14) & M
        z = v4 ^ v9
        v4 = ((z >> 12) | (z << 20)) & M
        v3 = (v3 + v4 + m4) & M
        z = v14 ^ v3
        v14 = ((z >> 8) | (z << 24)) & M
        v9 = (v9 + v14) & M
        z = v4 ^ v9
        v4 = ((z >> 7) | (z << 25)) & M
        v0 = (v0 + v4 + m7) & M
        z = v12 ^ v0
        v12 = ((z >> 16) | (z << 16)) & M
        v8 = (v8 + v12) & M
        z = v4 ^ v8
        v4 = ((z >> 12) | (z << 20)) & M
        v0 = (v0 + v4 + m9) & M
        z = v12 ^ v0
        v12 = ((z >> 8) | (z << 24)) & M
        v8 = (v8 + v12) & M
        z = v4 ^ v8
        v4 = ((z >> 7) | (z << 25)) & M
        v1 = (v1 + v5 + m3) & M
        z = v13 ^ v1
        v13 = ((z >> 16) | (z << 16)) & M
        v9 = (v9 + v13) & M
        z = v5 ^ v9
        v5 = ((z >> 12) | (z << 20)) & M
        v1 = (v1 + v5 + m1) & M
        z = v13 ^ v1
        v13 = ((z >> 8) | (z << 24)) & M
        v9 = (v9 + v13) & M
        z = v5 ^ v9
        v5 = ((z >> 7) | (z << 25)) & M
        v2 = (v2 + v6 + m13) & M
        z = v14 ^ v2
        v14 = ((z >> 16) | (z << 16)) & M
        v10 = (v10 + v14) & M
        z = v6 ^ v10
        v6 = ((z >> 12) | (z << 20)) & M
        v2 = (v2 + v6 + m12) & M
        z = v14 ^ v2
        v14 = ((z >> 8) | (z << 24)) & M
        v10 = (v10 + v14) & M
        z = v6 ^ v10
        v6 = ((z >> 7) | (z << 25)) & M
        v3 = (v3 + v7 + m11) & M
        z = v15 ^ v3
        v15 = ((z >> 16) | (z << 16)) & M
        v11 = (v11 + v15) & M
        z = v7 ^ v11
        v7 = ((z >> 12) | (z << 20)) & M
        v3 = (v3 + v7 + m14) & M
        z = v15 ^ v3
        v15 = ((z >> 8) | (z << 24)) & M
        v11 = (v11 + v15) & M
        z = v7 ^ v11
        v7 = ((z >> 7) | (z << 25)) & M
        v0 = (v0 + v5 + m2) & M
        z = v15 ^ v0
        v15 = ((z >> 16) | (z << 16)) & M
        v10 = (v10 + v15) & M
        z = v5 ^ v10
        v5 = ((z >> 12) | (z << 20)) & M
        v0 = (v0 + v5 + m6) & M
        z = v15 ^ v0
        v15 = ((z >> 8) | (z << 24)) & M
        v10 = (v10 + v15) & M
        z = v5 ^ v10
        v5 = ((z >> 7) | (z << 25)) & M
        v1 = (v1 + v6 + m5) & M
        z = v12 ^ v1
        v12 = ((z >> 16) | (z << 16)) & M
        v11 = (v11 + v12) & M
        z = v6 ^ v11
        v6 = ((z >> 12) | (z << 20)) & M
        v1 = (v1 + v6 + m10) & M
        z = v12 ^ v1
        v12 = ((z >> 8) | (z << 24)) & M
        v11 = (v11 + v12) & M
        z = v6 ^ v11
        v6 = ((z >> 7) | (z << 25)) & M
        v2 = (v2 + v7 + m4) & M
        z = v13 ^ v2
        v13 = ((z >> 16) | (z << 16)) & M
        v8 = (v8 + v13) & M
        z = v7 ^ v8
        v7 = ((z >> 12) | (z << 20)) & M
        v2 = (v2 + v7 + m0) & M
        z = v13 ^ v2
        v13 = ((z >> 8) | (z << 24)) & M
        v8 = (v8 + v13) & M
        z = v7 ^ v8
        v7 = ((z >> 7) | (z << 25)) & M
        v3 = (v3 + v4 + m15) & M
        z = v14 ^ v3
        v14 = ((z >> 16) | (z << 16)) & M
        v9 = (v9 + v14) & M
        z = v4 ^ v9
        v4 = ((z >> 12) | (z << 20)) & M
        v3 = (v3 + v4 + m8) & M
        z = v14 ^ v3
        v14 = ((z >> 8) | (z << 24)) & M
        v9 = (v9 + v14) & M
        z = v4 ^ v9
        v4 = ((z >> 7) | (z << 25)) & M
        v0 = (v0 + v4 + m9) & M
        z = v12 ^ v0
        v12 = ((z >> 16) | (z << 16)) & M
        v8 = (v8 + v12) & M
        z = v4 ^ v8
        v4 = ((z >> 12) | (z << 20)) & M
        v0 = (v0 + v4 + m0) & M
        z = v12 ^ v0
        v12 = ((z >> 8) | (z << 24)) & M
        v8 = (v8 + v12) & M
        z = v4 ^ v8
        v4 = ((z >> 7) | (z << 25)) & M
        v1 = (v1 + v5 + m5) & M
        z = v13 ^ v1
        v13 = ((z >> 16) | (z << 16)) & M
        v9 = (v9 + v13) & M
        z = v5 ^ v9
        v5 = ((z >> 12) | (z << 20)) & M
        v1 = (v1 + v5 + m7) & M
        z = v13 ^ v1
        v13 = ((z >> 8) | (z << 24)) & M
        v9 = (v9 + v13) & M
        z = v5 ^ v9
        v5 = ((z >> 7) | (z << 25)) & M
        v2 = (v2 + v6 + m2) & M
        z = v14 ^ v2
        v14 = ((z >> 16) | (z << 16)) & M
        v10 = (v10 + v14) & M
        z = v6 ^ v10
        v6 = ((z >> 12) | (z << 20)) & M
        v2 = (v2 + v6 + m4) & M
        z = v14 ^ v2
        v14 = ((z >> 8) | (z << 24)) & M
        v10 = (v10 + v14) & M
        z = v6 ^ v10
        v6 = ((z >> 7) | (z << 25)) & M
        v3 = (v3 + v7 + m10) & M
        z = v15 ^ v3
        v15 = ((z >> 16) | (z << 16)) & M
        v11 = (v11 + v15) & M
        z = v7 ^ v11
        v7 = ((z >> 12) | (z << 20)) & M
        v3 = (v3 + v7 + m15) & M
        z = v15 ^ v3
        v15 = ((z >> 8) | (z << 24)) & M
        v11 = (v11 + v15) & M
        z = v7 ^ v11
        v7 = ((z >> 7) | (z << 25)) & M
        v0 = (v0 + v5 + m14) & M
        z = v15 ^ v0
        v15 = ((z >> 16) | (z << 16)) & M
        v10 = (v10 + v15) & M
        z = v5 ^ v10
        v5 = ((z >> 12) | (z << 20)) & M
        v0 = (v0 + v5 + m1) & M
        z = v15 ^ v0
        v15 = ((z >> 8) | (z << 24)) & M
        v10 = (v10 + v15) & M
        z = v5 ^ v10
        v5 = ((z >> 7) | (z << 25)) & M
        v1 = (v1 + v6 + m11) & M
        z = v12 ^ v1
        v12 = ((z >> 16) | (z << 16)) & M
        v11 = (v11 + v12) & M
        z = v6 ^ v11
        v6 = ((z >> 12) | (z << 20)) & M
        v1 = (v1 + v6 + m12) & M
        z = v12 ^ v1
        v12 = ((z >> 8) | (z << 24)) & M
        v11 = (v11 + v12) & M
        z = v6 ^ v11
        v6 = ((z >> 7) | (z << 25)) & M
        v2 = (v2 + v7 + m6) & M
        z = v13 ^ v2
        v13 = ((z >> 16) | (z << 16)) & M
        v8 = (v8 + v13) & M
        z = v7 ^ v8
        v7 = ((z >> 12) | (z << 20)) & M
        v2 = (v2 + v7 + m8) & M
        z = v13 ^ v2
        v13 = ((z >> 8) | (z << 24)) & M
        v8 = (v8 + v13) & M
        z = v7 ^ v8
        v7 = ((z >> 7) | (z << 25)) & M
        v3 = (v3 + v4 + m3) & M
        z = v14 ^ v3
        v14 = ((z >> 16) | (z << 16)) & M
        v9 = (v9 + v14) & M
        z = v4 ^ v9
        v4 = ((z >> 12) | (z << 20)) & M
        v3 = (v3 + v4 + m13) & M
        z = v14 ^ v3
        v14 = ((z >> 8) | (z << 24)) & M
        v9 = (v9 + v14) & M
        z = v4 ^ v9
        v4 = ((z >> 7) | (z << 25)) & M
        v0 = (v0 + v4 + m2) & M
        z = v12 ^ v0
        v12 = ((z >> 16) | (z << 16)) & M
        v8 = (v8 + v12) & M
        z = v4 ^ v8
        v4 = ((z >> 12) | (z << 20)) & M
        v0 = (v0 + v4 + m12) & M
        z = v12 ^ v0
        v12 = ((z >> 8) | (z << 24)) & M
        v8 = (v8 + v12) & M
        z = v4 ^ v8
        v4 = ((z >> 7) | (z << 25)) & M
        v1 = (v1 + v5 + m6) & M
        z = v13 ^ v1
        v13 = ((z >> 16) | (z << 16)) & M
        v9 = (v9 + v13) & M
        z = v5 ^ v9
        v5 = ((z >> 12) | (z << 20)) & M
        v1 = (v1 + v5 + m10) & M
        z = v13 ^ v1
        v13 = ((z >> 8) | (z << 24)) & M
        v9 = (v9 + v13) & M
        z = v5 ^ v9
        v5 = ((z >> 7) | (z << 25)) & M
        v2 = (v2 + v6 + m0) & M
        z = v14 ^ v2
        v14 = ((z >> 16) | (z << 16)) & M
        v10 = (v10 + v14) & M
        z = v6 ^ v10
        v6 = ((z >> 12) | (z << 20)) & M
        v2 = (v2 + v6 + m11) & M
        z = v14 ^ v2
        v14 = ((z >> 8) | (z << 24)) & M
        v10 = (v10 + v14) & M
        z = v6 ^ v10
        v6 = ((z >> 7) | (z << 25)) & M
        v3 = (v3 + v7 + m8) & M
        z = v15 ^ v3
        v15 = ((z >> 16) | (z << 16)) & M
        v11 = (v11 + v15) & M
        z = v7 ^ v11
        v7 = ((z >> 12) | (z << 20)) & M
        v3 = (v3 + v7 + m3) & M
        z = v15 ^ v3
        v15 = ((z >> 8) | (z << 24)) & M
        v11 = (v11 + v15) & M
        z = v7 ^ v11
        v7 = ((z >> 7) | (z << 25)) & M
        v0 = (v0 + v5 + m4) & M
        z = v15 ^ v0
        v15 = ((z >> 16) | (z << 16)) & M
        v10 = (v10 + v15) & M
        z = v5 ^ v10
        v5 = ((z >> 12) | (z << 20)) & M
        v0 = (v0 + v5 + m13) & M
        z = v15 ^ v0
        v15 = ((z >> 8) | (z << 24)) & M
        v10 = (v10 + v15) & M
        z = v5 ^ v10
        v5 = ((z >> 7) | (z << 25)) & M
        v1 = (v1 + v6 + m7) & M
        z = v12 ^ v1
        v12 = ((z >> 16) | (z << 16)) & M
        v11 = (v11 + v12) & M
        z = v6 ^ v11
        v6 = ((z >> 12) | (z << 20)) & M
        v1 = (v1 + v6 + m5) & M
        z = v12 ^ v1
        v12 = ((z >> 8) | (z << 24)) & M
        v11 = (v11 + v12) & M
        z = v6 ^ v11
        v6 = ((z >> 7) | (z << 25)) & M
        v2 = (v2 + v7 + m15) & M
        z = v13 ^ v2
        v13 = ((z >> 16) | (z << 16)) & M
        v8 = (v8 + v13) & M
        z = v7 ^ v8
        v7 = ((z >> 12) | (z << 20)) & M
        v2 = (v2 + v7 + m14) & M
        z = v13 ^ v2
        v13 = ((z >> 8) | (z << 24)) & M
        v8 = (v8 + v13) & M
        z = v7 ^ v8
        v7 = ((z >> 7) | (z << 25)) & M
        v3 = (v3 + v4 + m1) & M
        z = v14 ^ v3
        v14 = ((z >> 16) | (z << 16)) & M
        v9 = (v9 + v14) & M
        z = v4 ^ v9
        v4 = ((z >> 12) | (z << 20)) & M
        v3 = (v3 + v4 + m9) & M
        z = v14 ^ v3
        v14 = ((z >> 8) | (z << 24)) & M
        v9 = (v9 + v14) & M
        z = v4 ^ v9
        v4 = ((z >> 7) | (z << 25)) & M
        v0 = (v0 + v4 + m12) & M
        z = v12 ^ v0
        v12 = ((z >> 16) | (z << 16)) & M
        v8 = (v8 + v12) & M
        z = v4 ^ v8
        v4 = ((z >> 12) | (z << 20)) & M
        v0 = (v0 + v4 + m5) & M
        z = v12 ^ v0
        v12 = ((z >> 8) | (z << 24)) & M
        v8 = (v8 + v12) & M
        z = v4 ^ v8
        v4 = ((z >> 7) | (z << 25)) & M
        v1 = (v1 + v5 + m1) & M
        z = v13 ^ v1
        v13 = ((z >> 16) | (z << 16)) & M
        v9 = (v9 + v13) & M
        z = v5 ^ v9
        v5 = ((z >> 12) | (z << 20)) & M
        v1 = (v1 + v5 + m15) & M
        z = v13 ^ v1
        v13 = ((z >> 8) | (z << 24)) & M
        v9 = (v9 + v13) & M
        z = v5 ^ v9
        v5 = ((z >> 7) | (z << 25)) & M
        v2 = (v2 + v6 + m14) & M
        z = v14 ^ v2
        v14 = ((z >> 16) | (z << 16)) & M
        v10 = (v10 + v14) & M
        z = v6 ^ v10
        v6 = ((z >> 12) | (z << 20)) & M
        v2 = (v2 + v6 + m13) & M
        z = v14 ^ v2
        v14 = ((z >> 8) | (z << 24)) & M
        v10 = (v10 + v14) & M
        z = v6 ^ v10
        v6 = ((z >> 7) | (z << 25)) & M
        v3 = (v3 + v7 + m4) & M
        z = v15 ^ v3
        v15 = ((z >> 16) | (z << 16)) & M
        v11 = (v11 + v15) & M
        z = v7 ^ v11
        v7 = ((z >> 12) | (z << 20)) & M
        v3 = (v3 + v7 + m10) & M
        z = v15 ^ v3
        v15 = ((z >> 8) | (z << 24)) & M
        v11 = (v11 + v15) & M
        z = v7 ^ v11
        v7 = ((z >> 7) | (z << 25)) & M
        v0 = (v0 + v5 + m0) & M
        z = v15 ^ v0
        v15 = ((z >> 16) | (z << 16)) & M
        v10 = (v10 + v15) & M
        z = v5 ^ v10
        v5 = ((z >> 12) | (z << 20)) & M
        v0 = (v0 + v5 + m7) & M
        z = v15 ^ v0
        v15 = ((z >> 8) | (z << 24)) & M
        v10 = (v10 + v15) & M
        z = v5 ^ v10
        v5 = ((z >> 7) | (z << 25)) & M
        v1 = (v1 + v6 + m6) & M
        z = v12 ^ v1
        v12 = ((z >> 16) | (z << 16)) & M
        v11 = (v11 + v12) & M
        z = v6 ^ v11
        v6 = ((z >> 12) | (z << 20)) & M
        v1 = (v1 + v6 + m3) & M
        z = v12 ^ v1
        v12 = ((z >> 8) | (z << 24)) & M
        v11 = (v11 + v12) & M
        z = v6 ^ v11
        v6 = ((z >> 7) | (z << 25)) & M
        v2 = (v2 + v7 + m9) & M
        z = v13 ^ v2
        v13 = ((z >> 16) | (z << 16)) & M
        v8 = (v8 + v13) & M
        z = v7 ^ v8
        v7 = ((z >> 12) | (z << 20)) & M
        v2 = (v2 + v7 + m2) & M
        z = v13 ^ v2
        v13 = ((z >> 8) | (z << 24)) & M
        v8 = (v8 + v13) & M
        z = v7 ^ v8
        v7 = ((z >> 7) | (z << 25)) & M
        v3 = (v3 + v4 + m8) & M
        z = v14 ^ v3
        v14 = ((z >> 16) | (z << 16)) & M
        v9 = (v9 + v14) & M
        z = v4 ^ v9
        v4 = ((z >> 12) | (z << 20)) & M
        v3 = (v3 + v4 + m11) & M
        z = v14 ^ v3
        v14 = ((z >> 8) | (z << 24)) & M
        v9 = (v9 + v14) & M
        z = v4 ^ v9
        v4 = ((z >> 7) | (z << 25)) & M
        v0 = (v0 + v4 + m13) & M
        z = v12 ^ v0
        v12 = ((z >> 16) | (z << 16)) & M
        v8 = (v8 + v12) & M
        z = v4 ^ v8
        v4 = ((z >> 12) | (z << 20)) & M
        v0 = (v0 + v4 + m11) & M
        z = v12 ^ v0
        v12 = ((z >> 8) | (z << 24)) & M
        v8 = (v8 + v12) & M
        z = v4 ^ v8
        v4 = ((z >> 7) | (z << 25)) & M
        v1 = (v1 + v5 + m7) & M
        z = v13 ^ v1
        v13 = ((z >> 16) | (z << 16)) & M
        v9 = (v9 + v13) & M
        z = v5 ^ v9
        v5 = ((z >> 12) | (z << 20)) & M
        v1 = (v1 + v5 + m14) & M
        z = v13 ^ v1
        v13 = ((z >> 8) | (z << 24)) & M
        v9 = (v9 + v13) & M
        z = v5 ^ v9
        v5 = ((z >> 7) | (z << 25)) & M
        v2 = (v2 + v6 + m12) & M
        z = v14 ^ v2
        v14 = ((z >> 16) | (z << 16)) & M
        v10 = (v10 + v14) & M
        z = v6 ^ v10
        v6 = ((z >> 12) | (z << 20)) & M
        v2 = (v2 + v6 + m1) & M
        z = v14 ^ v2
        v14 = ((z >> 8) | (z << 24)) & M
        v10 = (v10 + v14) & M
        z = v6 ^ v10
        v6 = ((z >> 7) | (z << 25)) & M
        v3 = (v3 + v7 + m3) & M
        z = v15 ^ v3
        v15 = ((z >> 16) | (z << 16)) & M
        v11 = (v11 + v15) & M
        z = v7 ^ v11
        v7 = ((z >> 12) | (z << 20)) & M
        v3 = (v3 + v7 + m9) & M
        z = v15 ^ v3
        v15 = ((z >> 8) | (z << 24)) & M
        v11 = (v11 + v15) & M
        z = v7 ^ v11
        v7 = ((z >> 7) | (z << 25)) & M
        v0 = (v0 + v5 + m5) & M
        z = v15 ^ v0
        v15 = ((z >> 16) | (z << 16)) & M
        v10 = (v10 + v15) & M
        z = v5 ^ v10
        v5 = ((z >> 12) | (z << 20)) & M
        v0 = (v0 + v5 + m0) & M
        z = v15 ^ v0
        v15 = ((z >> 8) | (z << 24)) & M
        v10 = (v10 + v15) & M
        z = v5 ^ v10
        v5 = ((z >> 7) | (z << 25)) & M
        v1 = (v1 + v6 + m15) & M
        z = v12 ^ v1
        v12 = ((z >> 16) | (z << 16)) & M
        v11 = (v11 + v12) & M
        z = v6 ^ v11
        v6 = ((z >> 12) | (z << 20)) & M
        v1 = (v1 + v6 + m4) & M
        z = v12 ^ v1
        v12 = ((z >> 8) | (z << 24)) & M
        v11 = (v11 + v12) & M
        z = v6 ^ v11
        v6 = ((z >> 7) | (z << 25)) & M
        v2 = (v2 + v7 + m8) & M
        z = v13 ^ v2
        v13 = ((z >> 16) | (z << 16)) & M
        v8 = (v8 + v13) & M
        z = v7 ^ v8
        v7 = ((z >> 12) | (z << 20)) & M
        v2 = (v2 + v7 + m6) & M
        z = v13 ^ v2
        v13 = ((z >> 8) | (z << 24)) & M
        v8 = (v8 + v13) & M
        z = v7 ^ v8
        v7 = ((z >> 7) | (z << 25)) & M
        v3 = (v3 + v4 + m2) & M
        z = v14 ^ v3
        v14 = ((z >> 16) | (z << 16)) & M
        v9 = (v9 + v14) & M
        z = v4 ^ v9
        v4 = ((z >> 12) | (z << 20)) & M
        v3 = (v3 + v4 + m10) & M
        z = v14 ^ v3
        v14 = ((z >> 8) | (z << 24)) & M
        v9 = (v9 + v14) & M
        z = v4 ^ v9
        v4 = ((z >> 7) | (z << 25)) & M
        v0 = (v0 + v4 + m6) & M
        z = v12 ^ v0
        v12 = ((z >> 16) | (z << 16)) & M
        v8 = (v8 + v12) & M
        z = v4 ^ v8
        v4 = ((z >> 12) | (z << 20)) & M
        v0 = (v0 + v4 + m15) & M
        z = v12 ^ v0
        v12 = ((z >> 8) | (z << 24)) & M
        v8 = (v8 + v12) & M
        z = v4 ^ v8
        v4 = ((z >> 7) | (z << 25)) & M
        v1 = (v1 + v5 + m14) & M
        z = v13 ^ v1
        v13 = ((z >> 16) | (z << 16)) & M
        v9 = (v9 + v13) & M
        z = v5 ^ v9
        v5 = ((z >> 12) | (z << 20)) & M
        v1 = (v1 + v5 + m9) & M
        z = v13 ^ v1
        v13 = ((z >> 8) | (z << 24)) & M
        v9 = (v9 + v13) & M
        z = v5 ^ v9
        v5 = ((z >> 7) | (z << 25)) & M
        v2 = (v2 + v6 + m11) & M
        z = v14 ^ v2
        v14 = ((z >> 16) | (z << 16)) & M
        v10 = (v10 + v14) & M
        z = v6 ^ v10
        v6 = ((z >> 12) | (z << 20)) & M
        v2 = (v2 + v6 + m3) & M
        z = v14 ^ v2
        v14 = ((z >> 8) | (z << 24)) & M
        v10 = (v10 + v14) & M
        z = v6 ^ v10
        v6 = ((z >> 7) | (z << 25)) & M
        v3 = (v3 + v7 + m0) & M
        z = v15 ^ v3
        v15 = ((z >> 16) | (z << 16)) & M
        v11 = (v11 + v15) & M
        z = v7 ^ v11
        v7 = ((z >> 12) | (z << 20)) & M
        v3 = (v3 + v7 + m8) & M
        z = v15 ^ v3
        v15 = ((z >> 8) | (z << 24)) & M
        v11 = (v11 + v15) & M
        z = v7 ^ v11
        v7 = ((z >> 7) | (z << 25)) & M
        v0 = (v0 + v5 + m12) & M
        z = v15 ^ v0
        v15 = ((z >> 16) | (z << 16)) & M
        v10 = (v10 + v15) & M
        z = v5 ^ v10
        v5 = ((z >> 12) | (z << 20)) & M
        v0 = (v0 + v5 + m2) & M
        z = v15 ^ v0
        v15 = ((z >> 8) | (z << 24)) & M
        v10 = (v10 + v15) & M
        z = v5 ^ v10
        v5 = ((z >> 7) | (z << 25)) & M
        v1 = (v1 + v6 + m13) & M
        z = v12 ^ v1
        v12 = ((z >> 16) | (z << 16)) & M
        v11 = (v11 + v12) & M
        z = v6 ^ v11
        v6 = ((z >> 12) | (z << 20)) & M
        v1 = (v1 + v6 + m7) & M
        z = v12 ^ v1
        v12 = ((z >> 8) | (z << 24)) & M
        v11 = (v11 + v12) & M
        z = v6 ^ v11
        v6 = ((z >> 7) | (z << 25)) & M
        v2 = (v2 + v7 + m1) & M
        z = v13 ^ v2
        v13 = ((z >> 16) | (z << 16)) & M
        v8 = (v8 + v13) & M
        z = v7 ^ v8
        v7 = ((z >> 12) | (z << 20)) & M
        v2 = (v2 + v7 + m4) & M
        z = v13 ^ v2
        v13 = ((z >> 8) | (z << 24)) & M
        v8 = (v8 + v13) & M
        z = v7 ^ v8
        v7 = ((z >> 7) | (z << 25)) & M
        v3 = (v3 + v4 + m10) & M
        z = v14 ^ v3
        v14 = ((z >> 16) | (z << 16)) & M
        v9 = (v9 + v14) & M
        z = v4 ^ v9
        v4 = ((z >> 12) | (z << 20)) & M
        v3 = (v3 + v4 + m5) & M
        z = v14 ^ v3
        v14 = ((z >> 8) | (z << 24)) & M
        v9 = (v9 + v14) & M
        z = v4 ^ v9
        v4 = ((z >> 7) | (z << 25)) & M
        v0 = (v0 + v4 + m10) & M
        z = v12 ^ v0
        v12 = ((z >> 16) | (z << 16)) & M
        v8 = (v8 + v12) & M
        z = v4 ^ v8
        v4 = ((z >> 12) | (z << 20)) & M
        v0 = (v0 + v4 + m2) & M
        z = v12 ^ v0
        v12 = ((z >> 8) | (z << 24)) & M
        v8 = (v8 + v12) & M
        z = v4 ^ v8
        v4 = ((z >> 7) | (z << 25)) & M
        v1 = (v1 + v5 + m8) & M
        z = v13 ^ v1
        v13 = ((z >> 16) | (z << 16)) & M
        v9 = (v9 + v13) & M
        z = v5 ^ v9
        v5 = ((z >> 12) | (z << 20)) & M
        v1 = (v1 + v5 + m4) & M
        z = v13 ^ v1
        v13 = ((z >> 8) | (z << 24)) & M
        v9 = (v9 + v13) & M
        z = v5 ^ v9
        v5 = ((z >> 7) | (z << 25)) & M
        v2 = (v2 + v6 + m7) & M
        z = v14 ^ v2
        v14 = ((z >> 16) | (z << 16)) & M
        v10 = (v10 + v14) & M
        z = v6 ^ v10
        v6 = ((z >> 12) | (z << 20)) & M
        v2 = (v2 + v6 + m6) & M
        z = v14 ^ v2
        v14 = ((z >> 8) | (z << 24)) & M
        v10 = (v10 + v14) & M
        z = v6 ^ v10
        v6 = ((z >> 7) | (z << 25)) & M
        v3 = (v3 + v7 + m1) & M
        z = v15 ^ v3
        v15 = ((z >> 16) | (z << 16)) & M
        v11 = (v11 + v15) & M
        z = v7 ^ v11
        v7 = ((z >> 12) | (z << 20)) & M
        v3 = (v3 + v7 + m5) & M
        z = v15 ^ v3
        v15 = ((z >> 8) | (z << 24)) & M
        v11 = (v11 + v15) & M
        z = v7 ^ v11
        v7 = ((z >> 7) | (z << 25)) & M
        v0 = (v0 + v5 + m15) & M
        z = v15 ^ v0
        v15 = ((z >> 16) | (z << 16)) & M
        v10 = (v10 + v15) & M
        z = v5 ^ v10
        v5 = ((z >> 12) | (z << 20)) & M
        v0 = (v0 + v5 + m11) & M
        z = v15 ^ v0
        v15 = ((z >> 8) | (z << 24)) & M
        v10 = (v10 + v15) & M
        z = v5 ^ v10
        v5 = ((z >> 7) | (z << 25)) & M
        v1 = (v1 + v6 + m9) & M
        z = v12 ^ v1
        v12 = ((z >> 16) | (z << 16)) & M
        v11 = (v11 + v12) & M
        z = v6 ^ v11
        v6 = ((z >> 12) | (z << 20)) & M
        v1 = (v1 + v6 + m14) & M
        z = v12 ^ v1
        v12 = ((z >> 8) | (z << 24)) & M
        v11 = (v11 + v12) & M
        z = v6 ^ v11
        v6 = ((z >> 7) | (z << 25)) & M
        v2 = (v2 + v7 + m3) & M
        z = v13 ^ v2
        v13 = ((z >> 16) | (z << 16)) & M
        v8 = (v8 + v13) & M
        z = v7 ^ v8
        v7 = ((z >> 12) | (z << 20)) & M
        v2 = (v2 + v7 + m12) & M
        z = v13 ^ v2
        v13 = ((z >> 8) | (z << 24)) & M
        v8 = (v8 + v13) & M
        z = v7 ^ v8
        v7 = ((z >> 7) | (z << 25)) & M
        v3 = (v3 + v4 + m13) & M
        z = v14 ^ v3
        v14 = ((z >> 16) | (z << 16)) & M
        v9 = (v9 + v14) & M
        z = v4 ^ v9
        v4 = ((z >> 12) | (z << 20)) & M
        v3 = (v3 + v4 + m0) & M
        z = v14 ^ v3
        v14 = ((z >> 8) | (z << 24)) & M
        v9 = (v9 + v14) & M
        z = v4 ^ v9
        v4 = ((z >> 7) | (z << 25)) & M
        hs[0] ^= v0 ^ v8
        hs[1] ^= v1 ^ v9
        hs[2] ^= v2 ^ v10
        hs[3] ^= v3 ^ v11
        hs[4] ^= v4 ^ v12
        hs[5] ^= v5 ^ v13
        hs[6] ^= v6 ^ v14
        hs[7] ^= v7 ^ v15
    for i in range(8):
        for byte in range(4):
            out[row, 4 * i + byte] = (hs[i] >> (8 * byte)) & 0xFF


@njit(cache=True, nogil=True)
def _b2_key(n, adj, codes, h, new, buf, idx, words, hs, out, row):
    indeg = np.zeros(7, np.int64)
    outdeg = np.zeros(7, np.int64)
    for i in range(n):
        for j in range(i + 1, n):
            if (adj >> (7 * i + j)) & 1:
                outdeg[i] += 1
                indeg[j] += 1
    for u in range(n):
        code = (codes >> (3 * u)) & 7
        r = (outdeg[u] * 7 + indeg[u]) * 5 + code
        for k in range(32):
            h[u, k] = _B2_INIT[r, k]
    for _ in range(n):
        for u in range(n):
            p = 0
            c = 0
            for w in range(u):
                if (adj >> (7 * w + u)) & 1:
                    idx[c] = w
                    c += 1
            _sort_rows(h, idx, c)
            for t in range(c):
                for k in range(32):
                    buf[p] = h[idx[t], k]
                    p += 1
            buf[p] = 124
            p += 1
            c = 0
            for w in range(u + 1, n):
                if (adj >> (7 * u + w)) & 1:
                    idx[c] = w
                    c += 1
            _sort_rows(h, idx, c)
            for t in range(c):
                for k in range(32):
                    buf[p] = h[idx[t], k]
                    p += 1
            buf[p] = 124
            p += 1
            for k in range(32):
                buf[p] = h[u, k]
                p += 1
            _blake2s_into(buf, p, new, u, words, hs)
        for u in range(n):
            for k in range(32):
                h[u, k] = new[u, k]
    for u in range(n):
        idx[u] = u
    _sort_rows(h, idx, n)
    p = 0
    for t in range(n):
        for k in range(32):
            buf[p] = h[idx[t], k]
            p += 1
    _blake2s_into(buf, p, out, row, words, hs)


@njit(cache=True, nogil=True)
def blake2s_batch(ns, adjs, codes):
    """(N, 32) uint8 blake2s-variant digests of N pruned cells."""
    out = np.empty((ns.shape[0], 32), np.uint8)
    h = np.empty((7, 32), np.uint8)
    new = np.empty((7, 32), np.uint8)
    buf = np.empty(384, np.uint8)
    idx = np.empty(7, np.int64)
    w = np.empty(96, np.int64)
    hs = np.empty(8, np.int64)
    for i in range(ns.shape[0]):
        _b2_key(ns[i], adjs[i], codes[i], h, new, buf, idx, w, hs, out, i)
    return out

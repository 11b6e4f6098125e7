"""The ITU-T G.191 (STL) G.711 coder as the reference, one sample at a time in Python.

Written from G.191's description of its g711 module, not from native/g711.c, so that
tests/dsp/test_g711.py and bench/dsp_bench.py can count our mismatches (and spandsp's and
audioop's) over all 65536 linear inputs and all 256 codes.
"""

import functools

import numpy as np

ALL_LINEAR = np.arange(-32768, 32768, dtype=np.int16)
ALL_CODES = np.arange(256, dtype=np.uint8)


def g191_alaw_compress(x):
    ix = (~x if x < 0 else x) >> 4
    if ix > 15:
        exponent = 1
        while ix > 16 + 15:
            ix >>= 1
            exponent += 1
        ix = ix - 16 + (exponent << 4)
    if x >= 0:
        ix |= 0x80
    return ix ^ 0x55


def g191_alaw_expand(code):
    ix = (code ^ 0x55) & 0x7F
    exponent, mantissa = ix >> 4, ix & 0x0F
    if exponent > 0:
        mantissa += 16
    mantissa = (mantissa << 4) + 8
    if exponent > 1:
        mantissa <<= exponent - 1
    return mantissa if code > 127 else -mantissa


def g191_ulaw_absno(x):
    return min(((~x if x < 0 else x) >> 2) + 33, 0x1FFF)


def g191_ulaw_code_of_absno(absno, negative):
    segment, i = 1, absno >> 6
    while i:
        segment += 1
        i >>= 1
    code = ((8 - segment) << 4) | (0x0F - ((absno >> segment) & 0x0F))
    return code if negative else code | 0x80


def g191_ulaw_compress(x):
    return g191_ulaw_code_of_absno(g191_ulaw_absno(x), x < 0)


def g191_ulaw_expand(code):
    sign = -1 if code < 0x80 else 1
    inverted = ~code & 0xFF
    exponent, mantissa = (inverted >> 4) & 0x07, inverted & 0x0F
    step = 4 << (exponent + 1)
    return sign * ((0x80 << exponent) + step * mantissa + step // 2 - 4 * 33)


@functools.cache
def reference():
    """Encodings of ALL_LINEAR and decodings of ALL_CODES: {'alaw_encode': uint8[65536], ...}"""
    linear = [int(x) for x in ALL_LINEAR]
    return {
        "alaw_encode": np.array([g191_alaw_compress(x) for x in linear], dtype=np.uint8),
        "ulaw_encode": np.array([g191_ulaw_compress(x) for x in linear], dtype=np.uint8),
        "alaw_decode": np.array([g191_alaw_expand(c) for c in range(256)], dtype=np.int16),
        "ulaw_decode": np.array([g191_ulaw_expand(c) for c in range(256)], dtype=np.int16),
    }

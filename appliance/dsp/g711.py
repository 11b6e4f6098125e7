"""ITU-T G.711 on numpy arrays, bit-exact with ITU-T G.191 (see native/g711.h)."""

import numpy as np

from appliance.dsp._binding import ffi, lib

# The C types of the arrays crossing the boundary. G.711 is called once per tick on small
# frames, so the wrapper does its own cheap checks instead of the general c_array (whose
# per-call cost, ~8 us, is larger than decoding a whole board's tick).
_CTYPES = {np.dtype(np.int16): "int16_t[]", np.dtype(np.uint8): "uint8_t[]"}


def _block(function, data, in_dtype, out_dtype):
    data = np.asarray(data)
    if data.dtype != in_dtype:
        raise TypeError(f"expected a {np.dtype(in_dtype)} array, got {data.dtype}")
    try:
        source = ffi.from_buffer(_CTYPES[data.dtype], data)
    except ValueError:  # not C-contiguous (np.ascontiguousarray would make a 0-d array 1-d)
        data = data.copy(order="C")
        source = ffi.from_buffer(_CTYPES[data.dtype], data)
    out = np.empty(data.shape, dtype=out_dtype)
    # require_writable passed by position: cffi parses keywords slowly (~1 us a call)
    function(source, ffi.from_buffer(_CTYPES[out.dtype], out, True), data.size)
    return out


def alaw_encode(linear):
    """int16 linear -> uint8 A-law codes (same shape)."""
    return _block(lib.g711_alaw_encode, linear, np.int16, np.uint8)


def alaw_decode(codes):
    """uint8 A-law codes -> int16 linear (same shape)."""
    return _block(lib.g711_alaw_decode, codes, np.uint8, np.int16)


def ulaw_encode(linear):
    """int16 linear -> uint8 mu-law codes (same shape)."""
    return _block(lib.g711_ulaw_encode, linear, np.int16, np.uint8)


def ulaw_decode(codes):
    """uint8 mu-law codes -> int16 linear (same shape)."""
    return _block(lib.g711_ulaw_decode, codes, np.uint8, np.int16)


def alaw_to_ulaw(codes):
    """A-law codes -> mu-law codes, as G.711 Table 4 gives them."""
    return _block(lib.g711_alaw_to_ulaw, codes, np.uint8, np.uint8)


def ulaw_to_alaw(codes):
    """mu-law codes -> A-law codes, as G.711 Table 3 gives them."""
    return _block(lib.g711_ulaw_to_alaw, codes, np.uint8, np.uint8)


ENCODERS = {"alaw": alaw_encode, "ulaw": ulaw_encode}
DECODERS = {"alaw": alaw_decode, "ulaw": ulaw_decode}

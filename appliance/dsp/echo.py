"""Line echo canceller over the C core (native/ec.h), in the style of ITU-T G.168.

`EchoCanceller.process(tx, rx)` takes what the box sent to the line (tx) and what came
back at the same instants (rx), both 8 kHz int16, and returns rx with the echo of tx
removed. Streaming: any cut of the stream into calls gives the same output.
"""

import numpy as np

from appliance.dsp._binding import c_array, check, ffi, lib

RATE = 8000
MAX_TAIL_MS = lib.EC_MAX_TAPS * 1000 // RATE


def _config(rate, tail_ms, nlp, comfort_noise):
    if rate != RATE:
        raise ValueError(f"the echo canceller runs at {RATE} Hz, not {rate}")
    lanes = lib.EC_LANES
    taps = -(-int(round(tail_ms * RATE / 1000)) // lanes) * lanes  # the C core takes multiples of EC_LANES
    if not lib.EC_MIN_TAPS <= taps <= lib.EC_MAX_TAPS:
        raise ValueError(
            f"tail_ms must be {lib.EC_MIN_TAPS * 1000 / RATE:g} to {MAX_TAIL_MS} ms, "
            f"not {tail_ms}"
        )
    config = ffi.new("ec_config_t *")
    config.taps = taps
    config.nlp = 1 if nlp else 0
    config.comfort_noise = 1 if comfort_noise else 0
    return config


class EchoCanceller:
    """One line's echo canceller: an adaptive filter covering `tail_ms` of echo path,
    double-talk detection, and (with `nlp`) a non-linear processor that removes the
    residual echo and, with `comfort_noise`, fills the gap at the line's noise level."""

    def __init__(self, rate=RATE, tail_ms=64, nlp=True, comfort_noise=True):
        config = _config(rate, tail_ms, nlp, comfort_noise)
        self._state = ffi.new("ec_state_t *")
        check(lib.ec_init(self._state, config), "ec_init")
        self.tail_ms = config.taps * 1000 / RATE

    def reset(self):
        """Forget the echo path (a new call on the line)."""
        lib.ec_reset(self._state)

    def process(self, tx, rx):
        """rx without the echo of tx. tx (sent to the line) and rx (received at the same
        instants) are int16 arrays of equal length; streaming across calls."""
        if not isinstance(tx, np.ndarray) or not isinstance(rx, np.ndarray):
            raise TypeError("tx and rx must be numpy int16 arrays")
        if tx.ndim != 1 or rx.ndim != 1 or tx.size != rx.size:
            raise ValueError(
                f"tx and rx must be 1-D and of equal length, not {tx.shape} and {rx.shape}"
            )
        tx = np.ascontiguousarray(tx)
        rx = np.ascontiguousarray(rx)
        out = np.empty(rx.size, dtype=np.int16)
        lib.ec_process(
            self._state,
            c_array(tx, np.int16, name="tx"),
            c_array(rx, np.int16, name="rx"),
            c_array(out, np.int16, name="out", writable=True),
            rx.size,
        )
        return out


class EchoCancellerBank:
    """Echo cancellers for `channels` lines, run N channels x one frame in one C call."""

    def __init__(self, channels, rate=RATE, tail_ms=64, nlp=True, comfort_noise=True):
        if channels < 1:
            raise ValueError(f"a bank needs at least one channel, not {channels}")
        config = _config(rate, tail_ms, nlp, comfort_noise)
        self.channels = channels
        self._states = ffi.new("ec_state_t[]", channels)
        for i in range(channels):
            check(lib.ec_init(ffi.addressof(self._states, i), config), "ec_init")

    def reset(self, channel=None):
        """Forget the echo path of one channel (a new call), or of all."""
        for i in range(self.channels) if channel is None else [channel]:
            lib.ec_reset(ffi.addressof(self._states, i))

    def process(self, tx, rx):
        """tx and rx are int16 [channels, frame]; returns rx without echo, same shape."""
        if not isinstance(tx, np.ndarray) or not isinstance(rx, np.ndarray):
            raise TypeError("tx and rx must be numpy int16 arrays")
        if tx.ndim != 2 or tx.shape != rx.shape or tx.shape[0] != self.channels:
            raise ValueError(
                f"tx and rx must both be [{self.channels}, frame], not {tx.shape} and {rx.shape}"
            )
        tx = np.ascontiguousarray(tx)
        rx = np.ascontiguousarray(rx)
        out = np.empty_like(rx)
        lib.ec_process_batch(
            self._states,
            self.channels,
            c_array(tx, np.int16, name="tx"),
            c_array(rx, np.int16, name="rx"),
            c_array(out, np.int16, name="out", writable=True),
            tx.shape[1],
        )
        return out

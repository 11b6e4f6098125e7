"""1200 baud FSK (ITU-T V.23 and Bell 202) over the C core (native/fsk.h).

`modulate` turns bits into continuous-phase FSK; `frame_bytes` adds the asynchronous start
and stop bits; `FskReceiver` (one channel, streaming) and `FskReceiverBank` (N channels x one
frame per call, for the engine's tick) report carrier, channel seizure, mark and received
bytes as `FskEvent`s. Audio is 8 kHz int16; levels are dBm0.
"""

from enum import IntEnum
from typing import NamedTuple

import numpy as np

from appliance.dsp._binding import c_array, check, ffi, lib

RATE = 8000
BAUD = 1200
STANDARDS = {"v23": lib.FSK_V23, "bell202": lib.FSK_BELL202}
# Nominal (mark, space) frequencies in Hz.
TONES_HZ = {"v23": (1300.0, 2100.0), "bell202": (1200.0, 2200.0)}


class FskEventKind(IntEnum):
    CARRIER_ON = lib.FSK_EVENT_CARRIER_ON
    CARRIER_OFF = lib.FSK_EVENT_CARRIER_OFF
    SEIZURE = lib.FSK_EVENT_SEIZURE
    MARK = lib.FSK_EVENT_MARK
    BYTE = lib.FSK_EVENT_BYTE


class FskEvent(NamedTuple):
    """One receiver event. `position` is the sample (from the stream start) where it was
    decided. BYTE: `value` is the byte, `framing_error` set when its stop bit was a space.
    MARK: `value` is the mark bits counted, `mark_hz` the measured mark frequency.
    SEIZURE: `value` is the alternating bits counted.

    A NamedTuple rather than a frozen dataclass: just as immutable, and several times
    cheaper to make, which matters when a whole board's bytes come back in one tick."""

    kind: FskEventKind
    position: int
    value: int = 0
    extra: int = 0
    channel: int = 0

    @property
    def framing_error(self):
        return self.kind == FskEventKind.BYTE and bool(self.extra & lib.FSK_FRAMING_ERROR)

    @property
    def mark_hz(self):
        return self.extra if self.kind == FskEventKind.MARK else None

    @property
    def standard(self):
        """For a MARK event: "bell202" or "v23", from the measured mark frequency."""
        if self.kind != FskEventKind.MARK:
            return None
        return "bell202" if self.extra < 1250 else "v23"


_KINDS = {int(kind): kind for kind in FskEventKind}
# fsk_event_t as numpy sees it, to read a whole event array in one step.
_EVENT_DTYPE = np.dtype([("position", "<i8"), ("channel", "<i4"), ("kind", "<i4"),
                         ("value", "<i4"), ("extra", "<i4")])
_EVENT_SIZE = ffi.sizeof("fsk_event_t")
if _EVENT_DTYPE.itemsize != _EVENT_SIZE:  # pragma: no cover - another ABI
    _EVENT_DTYPE = np.dtype({"names": list(_EVENT_DTYPE.names),
                             "formats": [_EVENT_DTYPE[n] for n in _EVENT_DTYPE.names],
                             "offsets": [ffi.offsetof("fsk_event_t", n)
                                         for n in _EVENT_DTYPE.names],
                             "itemsize": _EVENT_SIZE})


def frame_bytes(data, stop_bits=1):
    """Asynchronous framing: for each byte a start bit (0), 8 data bits LSB first, and
    `stop_bits` stop bits (1). Returns a uint8 array of bits."""
    data = np.frombuffer(bytes(data), dtype=np.uint8)
    bits = np.ones((data.size, 9 + stop_bits), dtype=np.uint8)
    bits[:, 0] = 0
    bits[:, 1:9] = (data[:, None] >> np.arange(8, dtype=np.uint8)) & 1
    return bits.reshape(-1)


def seizure_bits(n):
    """Channel seizure: n alternating bits, starting with a space (0)."""
    return (np.arange(n) & 1).astype(np.uint8)


def mark_bits(n):
    return np.ones(n, dtype=np.uint8)


def _tx_config(standard, level_dbm0, twist_db, freq_error):
    if standard not in STANDARDS:
        raise ValueError(f"unknown FSK standard {standard!r}: use one of {sorted(STANDARDS)}")
    config = ffi.new("fsk_tx_config_t *")
    check(lib.fsk_tx_config_standard(config, STANDARDS[standard], level_dbm0),
          "fsk_tx_config_standard")
    config.mark_hz *= 1.0 + freq_error
    config.space_hz *= 1.0 + freq_error
    config.space_level_dbm0 = level_dbm0 + twist_db
    return config


class FskModulator:
    """Continuous-phase FSK; each `modulate` call continues the phase and bit grid."""

    def __init__(self, standard="v23", level_dbm0=-13.0, twist_db=0.0, freq_error=0.0):
        self._config = _tx_config(standard, level_dbm0, twist_db, freq_error)
        self._state = ffi.new("fsk_tx_state_t *")
        check(lib.fsk_tx_init(self._state, self._config), "fsk_tx_init")

    def modulate(self, bits):
        bits = np.ascontiguousarray(bits, dtype=np.uint8)
        out = np.empty(lib.fsk_tx_samples(self._config, bits.size) + 1, dtype=np.int16)
        n = check(lib.fsk_tx_process(self._state, c_array(bits, np.uint8), bits.size,
                                     c_array(out, np.int16, writable=True), out.size),
                  "fsk_tx_process")
        return out[:n].copy()


def modulate(bits, standard="v23", level_dbm0=-13.0, twist_db=0.0, freq_error=0.0):
    """Bits (0 = space, 1 = mark) as 8 kHz int16 FSK. level_dbm0 is the mark's level; the
    space is twist_db stronger (negative: weaker). freq_error scales both frequencies
    (0.015 = +1.5 %)."""
    return FskModulator(standard, level_dbm0, twist_db, freq_error).modulate(bits)


def _rx_config(min_level_dbm0, seizure_min_bits, mark_min_bits):
    config = ffi.new("fsk_rx_config_t *")
    lib.fsk_rx_config_default(config)
    if min_level_dbm0 is not None:
        config.min_level_dbm0 = min_level_dbm0
    if seizure_min_bits is not None:
        config.seizure_min_bits = seizure_min_bits
    if mark_min_bits is not None:
        config.mark_min_bits = mark_min_bits
    return config


def _events_room(samples):
    """Room for every event `samples` samples can give: a bit decision every 6.7 samples
    (at most one event each), and a carrier change needs 5 samples of power decay to go
    off again (so at most two per 6 samples)."""
    return samples // 2 + 16


def _events(buffer, count):
    if count == 0:
        return []
    rows = np.frombuffer(ffi.buffer(buffer, count * _EVENT_SIZE), dtype=_EVENT_DTYPE).tolist()
    return [FskEvent(_KINDS[kind], position, value, extra, channel)
            for position, channel, kind, value, extra in rows]


# Samples per C call in FskReceiver.feed: a whole recording goes through in blocks, so the
# event buffer stays small (under 1 MB) however long the audio is.
_FEED_BLOCK = 1 << 15


class FskReceiver:
    """One channel's streaming FSK receiver: `feed` audio in chunks of any size."""

    def __init__(self, rate=RATE, min_level_dbm0=None, seizure_min_bits=None,
                 mark_min_bits=None):
        config = _rx_config(min_level_dbm0, seizure_min_bits, mark_min_bits)
        config.rate = rate
        self._state = ffi.new("fsk_rx_state_t *")
        check(lib.fsk_rx_init(self._state, config), "fsk_rx_init")
        self._size = _events_room(_FEED_BLOCK)
        self._buffer = ffi.new("fsk_event_t[]", self._size)

    def reset(self):
        lib.fsk_rx_reset(self._state)

    def feed(self, samples):
        samples = np.ascontiguousarray(samples)
        if samples.ndim != 1:
            raise ValueError("samples must be a 1-D int16 array")
        events = []
        for start in range(0, samples.size, _FEED_BLOCK):
            block = samples[start:start + _FEED_BLOCK]
            count = check(lib.fsk_rx_process(self._state, c_array(block, np.int16), block.size,
                                             self._buffer, self._size), "fsk_rx_process")
            events += _events(self._buffer, count)
        return events


class FskReceiverBank:
    """N channels' receivers, fed one frame per channel in one C call (the engine's tick)."""

    def __init__(self, channels, frame=160, min_level_dbm0=None, seizure_min_bits=None,
                 mark_min_bits=None):
        if channels < 1 or frame < 1:
            raise ValueError("an FSK bank needs at least one channel and one sample per frame")
        config = _rx_config(min_level_dbm0, seizure_min_bits, mark_min_bits)
        self.channels = channels
        self.frame = frame
        self._states = ffi.new("fsk_rx_state_t[]", channels)
        for c in range(channels):
            check(lib.fsk_rx_init(ffi.addressof(self._states, c), config), "fsk_rx_init")
        self._size = channels * _events_room(frame)
        self._events = ffi.new("fsk_event_t[]", self._size)

    def reset(self, channel):
        lib.fsk_rx_reset(ffi.addressof(self._states, channel))

    def process(self, frames):
        """frames: int16 [channels, frame]. Returns the events of this tick, each with its
        channel; positions count samples in that channel's stream."""
        pointer = c_array(frames, np.int16, (self.channels, self.frame), name="frames")
        count = check(lib.fsk_rx_process_batch(self._states, self.channels, pointer,
                                               self.frame, self._events, self._size),
                      "fsk_rx_process_batch")
        return _events(self._events, count)

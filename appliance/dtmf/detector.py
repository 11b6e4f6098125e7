"""DTMF detection over the C receiver (native/dtmf.h): one-shot, streaming and batch.

Times are float seconds from the start of the stream (or buffer). A digit is reported
once it has ended (`DtmfEvent`); its key-down moment is reported earlier as a
`DtmfOnset`, so that a prompt can stop while the caller still holds the key. An onset
can come without a digit when the tone stops before it is long enough to count.
"""

from dataclasses import dataclass

import numpy as np

from appliance.dsp._binding import c_array, check, ffi, lib

RATE = 8000
# Events one call can produce are bounded by the analysis step (DTMF_SUBBLOCK samples):
# at most an onset and a digit per step, so size the buffer from the samples fed.
_MAX_CHUNK = 8000 * 60


@dataclass(frozen=True)
class DtmfEvent:
    """A completed digit: key `digit` sounded from `start` to `end` (seconds)."""

    digit: str
    start: float
    end: float


@dataclass(frozen=True)
class DtmfOnset:
    """Key `digit` went down at `start` (seconds); its DtmfEvent follows when it ends."""

    digit: str
    start: float


def _events_room(samples):
    return 2 * (samples // lib.DTMF_SUBBLOCK) + 4


def new_states(channels):
    """`channels` receivers with the default configuration, as one C array."""
    config = ffi.new("dtmf_config_t *")
    lib.dtmf_config_default(config)
    states = ffi.new("dtmf_state_t[]", channels)
    for ch in range(channels):
        check(lib.dtmf_init(states + ch, config), "dtmf_init")
    return states


def split_events(events, count, rate=RATE):
    """C events -> (digits, onsets): lists of (channel, DtmfEvent) and (channel, DtmfOnset)."""
    digits, onsets = [], []
    for i in range(count):
        e = events[i]
        digit = e.digit.decode()
        if e.kind == lib.DTMF_EVENT_DIGIT:
            digits.append((e.channel, DtmfEvent(digit, e.start / rate, e.end / rate)))
        else:
            onsets.append((e.channel, DtmfOnset(digit, e.start / rate)))
    return digits, onsets


class DtmfDetector:
    """A streaming receiver for one channel.

    `feed` returns the digits completed so far; `onsets` holds the key-down events the
    last `feed` or `flush` saw. Feeding in chunks of any size gives the same events.
    """

    def __init__(self, rate=RATE):
        if rate != RATE:
            raise ValueError(f"DtmfDetector runs at {RATE} Hz; resample {rate} Hz audio first")
        self._state = new_states(1)
        self.onsets = []

    def feed(self, samples):
        samples = np.ascontiguousarray(samples)
        if samples.ndim != 1:
            raise ValueError(f"samples must be 1-D, not shape {samples.shape}")
        digits, self.onsets = [], []
        for offset in range(0, samples.size, _MAX_CHUNK):
            chunk = samples[offset:offset + _MAX_CHUNK]
            room = _events_room(chunk.size)
            events = ffi.new("dtmf_event_t[]", room)
            count = check(
                lib.dtmf_process(self._state, c_array(chunk, np.int16, name="samples"),
                                 chunk.size, events, room),
                "dtmf_process",
            )
            self._collect(events, count, digits)
        return digits

    def flush(self):
        """Ends the stream: a digit still sounding ends at the last sample fed."""
        events = ffi.new("dtmf_event_t[]", 4)
        count = check(lib.dtmf_flush(self._state, events, 4), "dtmf_flush")
        digits, self.onsets = [], []
        self._collect(events, count, digits)
        return digits

    def reset(self):
        """Forgets the stream; the next sample fed is at time 0."""
        lib.dtmf_reset(self._state)
        self.onsets = []

    def _collect(self, events, count, digits):
        new_digits, new_onsets = split_events(events, count)
        digits += [event for _, event in new_digits]
        self.onsets += [onset for _, onset in new_onsets]


def detect(samples, rate=RATE):
    """The digits in a whole buffer of int16 audio at `rate` (resampled to 8 kHz)."""
    samples = np.asarray(samples)
    if samples.dtype != np.int16:
        raise TypeError(f"samples must be int16, not {samples.dtype}")
    if rate != RATE:
        from appliance.dtmf.generate import _resample

        samples = _resample(samples, rate, RATE)
    detector = DtmfDetector()
    return detector.feed(samples) + detector.flush()

"""Tone generator over the C core (native/tonegen.h): DTMF digits and call-progress tones.

A tone is a sequence of `ToneStep`s played once or repeated (a cadence). Output is 8 kHz
16-bit linear; levels are dBm0 per component.
"""

from dataclasses import dataclass

import numpy as np

from appliance.dsp._binding import c_array, check, ffi, lib

RATE = 8000
MAX_FREQS = lib.TONEGEN_MAX_FREQS
MAX_STEPS = lib.TONEGEN_MAX_STEPS
MIN_LEVEL_DBM0 = -90.0  # the limits tonegen_init enforces
MAX_LEVEL_DBM0 = 3.14


@dataclass(frozen=True)
class ToneStep:
    """Up to four sine components sounded together for on_ms, then off_ms of silence."""

    freqs_hz: tuple[float, ...]
    levels_dbm0: tuple[float, ...]
    on_ms: float
    off_ms: float = 0.0

    def __post_init__(self):
        if len(self.freqs_hz) != len(self.levels_dbm0):
            raise ValueError("a tone step needs one level per frequency")
        if len(self.freqs_hz) > MAX_FREQS:
            raise ValueError(f"a tone step has at most {MAX_FREQS} frequencies")
        for freq in self.freqs_hz:
            if not 0.0 < freq < RATE / 2:
                raise ValueError(f"tone frequency {freq} Hz is outside 0..{RATE // 2} Hz")
        for level in self.levels_dbm0:
            if not MIN_LEVEL_DBM0 <= level <= MAX_LEVEL_DBM0:
                raise ValueError(
                    f"tone level {level:g} dBm0 is outside {MIN_LEVEL_DBM0:g}..{MAX_LEVEL_DBM0:g} "
                    "dBm0 (+3.14 dBm0 is full scale)"
                )
        if self.on_ms < 0 or self.off_ms < 0:
            raise ValueError("tone on and off durations must not be negative")


def _samples(ms):
    return int(round(ms * RATE / 1000.0))


class ToneGenerator:
    """A streaming generator: each `generate(n)` continues where the last one stopped."""

    def __init__(self, steps, repeat=False):
        steps = list(steps)
        if not 1 <= len(steps) <= MAX_STEPS:
            raise ValueError(f"a tone has 1 to {MAX_STEPS} steps, not {len(steps)}")
        config = ffi.new("tonegen_config_t *")
        config.steps = len(steps)
        config.repeat = 1 if repeat else 0
        for i, step in enumerate(steps):
            target = config.step[i]
            for k, (freq, level) in enumerate(zip(step.freqs_hz, step.levels_dbm0)):
                target.freq_hz[k] = freq
                target.level_dbm0[k] = level
            target.on_samples = _samples(step.on_ms)
            target.off_samples = _samples(step.off_ms)
        self._state = ffi.new("tonegen_state_t *")
        check(lib.tonegen_init(self._state, config), "tonegen_init")
        self.length = None if repeat else sum(
            _samples(s.on_ms) + _samples(s.off_ms) for s in steps
        )

    def reset(self):
        lib.tonegen_reset(self._state)

    def generate(self, samples):
        """The next `samples` samples (silence once a one-shot tone has ended)."""
        out = np.empty(samples, dtype=np.int16)
        lib.tonegen_process(self._state, c_array(out, np.int16, writable=True), samples)
        return out


def render(steps, repeat=False, seconds=None):
    """A whole tone as one array: a one-shot tone's full length, or `seconds` of it."""
    generator = ToneGenerator(steps, repeat=repeat)
    if seconds is None:
        if generator.length is None:
            raise ValueError("a repeating tone needs a duration in seconds")
        return generator.generate(generator.length)
    return generator.generate(int(round(seconds * RATE)))

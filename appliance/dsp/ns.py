"""Noise suppressor over the C core (native/ns.h): stationary and slowly varying noise
(hum, hiss, fans) removed from 8 kHz telephone speech, streaming, NS_DELAY samples late.

``NoiseSuppressor(...).process(int16 array) -> int16 array`` of the same length: output
sample n is input sample n - DELAY_SAMPLES, cleaned, whatever the chunking.
"""

import numpy as np

from appliance.dsp._binding import c_array, check, ffi, lib

RATE = 8000
DELAY_SAMPLES = lib.NS_DELAY
"""Added delay in samples (9.9 ms at 8 kHz)."""


def _config(rate, max_attenuation_db, noise_window_ms):
    config = ffi.new("ns_config_t *")
    lib.ns_default_config(config)
    config.rate = rate
    config.max_attenuation_db = max_attenuation_db
    config.noise_window_ms = noise_window_ms
    return config


_ERRORS = {
    lib.NS_ERR_RATE: "rate must be 8000",
    lib.NS_ERR_ATTENUATION: "max_attenuation_db must be between 0 and 40",
    lib.NS_ERR_NOISE_WINDOW: "noise_window_ms must be between 256 and 8000",
}


class NoiseSuppressor:
    """One channel's suppressor: each `process` call continues the stream of the last."""

    def __init__(self, rate=RATE, max_attenuation_db=25.0, noise_window_ms=1024.0):
        config = _config(rate, float(max_attenuation_db), float(noise_window_ms))
        self._state = ffi.new("ns_state_t *")
        code = lib.ns_init(self._state, config)
        if code in _ERRORS:
            raise ValueError(f"NoiseSuppressor: {_ERRORS[code]}")
        check(code, "ns_init")
        self.rate = rate
        self.delay_samples = DELAY_SAMPLES

    def reset(self):
        """Forget the signal and the noise estimate (a new call on the port)."""
        lib.ns_reset(self._state)

    def process(self, samples):
        """The next len(samples) cleaned samples (int16, 1-D)."""
        samples = np.ascontiguousarray(samples)
        if samples.ndim != 1:
            raise ValueError(f"samples must be 1-D, not shape {samples.shape}")
        out = np.empty_like(samples)
        lib.ns_process(
            self._state,
            c_array(samples, np.int16, name="samples"),
            c_array(out, np.int16, name="out", writable=True),
            samples.size,
        )
        return out


class NoiseSuppressorBank:
    """`channels` suppressors run together: one C call per frame of channels x samples."""

    def __init__(self, channels, rate=RATE, max_attenuation_db=25.0, noise_window_ms=1024.0):
        if channels < 1:
            raise ValueError(f"channels must be at least 1, not {channels}")
        config = _config(rate, float(max_attenuation_db), float(noise_window_ms))
        self._states = ffi.new("ns_state_t[]", channels)
        for c in range(channels):
            code = lib.ns_init(self._states + c, config)
            if code in _ERRORS:
                raise ValueError(f"NoiseSuppressorBank: {_ERRORS[code]}")
            check(code, "ns_init")
        self.channels = channels

    def reset(self, channel):
        """Start `channel` afresh (its call ended)."""
        if not 0 <= channel < self.channels:
            raise ValueError(f"channel must be in 0..{self.channels - 1}, not {channel}")
        lib.ns_reset(self._states + channel)

    def process(self, frame):
        """frame: int16 array of shape (channels, samples); returns the cleaned frame."""
        frame = np.ascontiguousarray(frame)
        if frame.ndim != 2 or frame.shape[0] != self.channels:
            raise ValueError(f"frame must have shape ({self.channels}, samples), not {frame.shape}")
        out = np.empty_like(frame)
        lib.ns_process_batch(
            self._states,
            self.channels,
            c_array(frame, np.int16, name="frame"),
            c_array(out, np.int16, name="out", writable=True),
            frame.shape[1],
        )
        return out

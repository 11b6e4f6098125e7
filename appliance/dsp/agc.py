"""Automatic gain control over the C core (native/agc.h).

`Agc` brings speech to `target_dbfs` (active speech level, ITU-T P.56; dBFS re a full-scale
square wave, see `appliance.dsp.speech_level`) within about a second of speech at any input
level from -45 to -6 dBFS, and again within about a second after a 30 dB level step. The
gain is frozen in pauses and line noise, and a peak limiter keeps every output sample under
`ceiling_dbfs`, so nothing clips. Streaming: each `process` call continues where the last
one stopped, and any cutting of the input gives the same output.
"""

import numpy as np

from appliance.dsp._binding import c_array, ffi, lib

_ERRORS = {
    lib.AGC_ERR_RATE: "rate must be 8000 .. 48000 Hz and a multiple of 100",
    lib.AGC_ERR_TARGET: "target_dbfs must be -40 .. -3",
    lib.AGC_ERR_TIME: "a time setting is out of range (see native/agc.h)",
    lib.AGC_ERR_GAIN: "max_gain_db must be 0 .. 60 and min_gain_db -60 .. 0",
    lib.AGC_ERR_GATE: "gate_dbfs must be -100 .. -20, gate_margin_db 0 .. 40, step_db 3 .. 40",
    lib.AGC_ERR_CEILING: "ceiling_dbfs must be -20 .. -0.01",
}

# Settings passed through to agc_config_t; None keeps the C default.
_SETTINGS = (
    "target_dbfs", "attack_ms", "release_ms", "max_gain_db", "min_gain_db", "gate_dbfs",
    "gate_margin_db", "noise_window_ms", "hangover_ms", "acquire_ms", "track_ms", "step_db",
    "step_ms", "ceiling_dbfs", "limiter_release_ms",
)


def _config(rate, settings):
    if not isinstance(rate, (int, np.integer)) or isinstance(rate, bool):
        raise TypeError(f"rate must be an integer number of Hz, not {rate!r}")
    config = ffi.new("agc_config_t *")
    lib.agc_config_default(config, int(rate))
    for name, value in settings.items():
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
            raise TypeError(f"{name} must be a number, not {value!r}")
        setattr(config, name, float(value))
    return config


def _init(state, config):
    code = lib.agc_init(state, config)
    if code < 0:
        raise ValueError(f"Agc: {_ERRORS.get(code, 'invalid configuration')} (error {code})")


class Agc:
    """One channel of AGC. Defaults: target -18 dBFS, attack 20 ms, release 150 ms, gain
    -20 .. +30 dB, speech gate at -65 dBFS and 8 dB over the noise floor, limiter at -1 dBFS.
    """

    def __init__(self, rate=8000, target_dbfs=-18.0, attack_ms=None, release_ms=None,
                 max_gain_db=None, min_gain_db=None, gate_dbfs=None, gate_margin_db=None,
                 noise_window_ms=None, hangover_ms=None, acquire_ms=None, track_ms=None,
                 step_db=None, step_ms=None, ceiling_dbfs=None, limiter_release_ms=None):
        values = locals()
        self._config = _config(rate, {name: values[name] for name in _SETTINGS})
        self._state = ffi.new("agc_state_t *")
        _init(self._state, self._config)
        self.rate = int(rate)

    def reset(self):
        """Forget everything: unity gain, no level, no noise floor."""
        lib.agc_reset(self._state)

    def process(self, samples):
        """Gain a block of int16 samples; returns a new int16 array of the same length."""
        if not isinstance(samples, np.ndarray):
            raise TypeError(f"samples must be a numpy array, not {type(samples).__name__}")
        if samples.ndim != 1:
            raise ValueError(f"samples must be one-dimensional, not shape {samples.shape}")
        samples = np.ascontiguousarray(samples)
        out = np.empty_like(samples)
        lib.agc_process(self._state, c_array(samples, np.int16, name="samples"),
                        c_array(out, np.int16, writable=True), samples.size)
        return out

    @property
    def gain_db(self):
        """The smoothed gain now, before the limiter (dB)."""
        return lib.agc_gain_db(self._state)

    @property
    def level_dbfs(self):
        """The input's active speech level as estimated now (dBFS; None before speech)."""
        level = lib.agc_level_dbfs(self._state)
        return None if level <= -200.0 else level

    @property
    def restarts(self):
        """How many level steps were detected (each restarts the level estimate)."""
        return lib.agc_restarts(self._state)


class AgcBank:
    """N channels of AGC run together: one C call per frame of all channels."""

    def __init__(self, channels, rate=8000, **settings):
        if not isinstance(channels, (int, np.integer)) or channels < 1:
            raise ValueError(f"channels must be a positive integer, not {channels!r}")
        unknown = set(settings) - set(_SETTINGS)
        if unknown:
            raise TypeError(f"unknown AGC settings: {', '.join(sorted(unknown))}")
        self._config = _config(rate, settings)
        self.channels = int(channels)
        self._states = ffi.new("agc_state_t[]", self.channels)
        for c in range(self.channels):
            _init(self._states + c, self._config)

    def reset(self):
        for c in range(self.channels):
            lib.agc_reset(self._states + c)

    def process(self, frames):
        """Gain one frame per channel: int16 array (channels, frame) -> same shape."""
        if not isinstance(frames, np.ndarray) or frames.ndim != 2:
            raise ValueError("frames must be a 2-D numpy array (channels, frame)")
        if frames.shape[0] != self.channels:
            raise ValueError(f"frames must have {self.channels} rows, not {frames.shape[0]}")
        frames = np.ascontiguousarray(frames)
        out = np.empty_like(frames)
        lib.agc_process_batch(self._states, self.channels,
                              c_array(frames, np.int16, name="frames"),
                              c_array(out, np.int16, writable=True), frames.shape[1])
        return out

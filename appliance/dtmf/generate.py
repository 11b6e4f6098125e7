"""DTMF digit strings as audio."""

import numpy as np

from appliance.dsp.tonegen import MAX_STEPS, RATE, ToneStep, render
from appliance.dtmf.digits import frequencies


def generate(digits, rate=8000, level_dbm0=-10.0, on_ms=100.0, off_ms=100.0, twist_db=0.0,
             freq_error=0.0):
    """Audio of `digits` as int16 at `rate`.

    level_dbm0 is the low-group tone's level; the high-group tone is twist_db stronger
    (negative twist_db = normal twist, high group weaker). freq_error scales both
    frequencies (0.015 = +1.5%). Each digit sounds for on_ms and is followed by off_ms of
    silence.
    """
    steps = []
    for digit in digits:
        low, high = frequencies(digit)
        steps.append(ToneStep(
            freqs_hz=(low * (1.0 + freq_error), high * (1.0 + freq_error)),
            levels_dbm0=(level_dbm0, level_dbm0 + twist_db),
            on_ms=on_ms,
            off_ms=off_ms,
        ))
    parts = [render(steps[i:i + MAX_STEPS]) for i in range(0, len(steps), MAX_STEPS)]
    audio = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int16)
    if rate != RATE:
        audio = _resample(audio, RATE, rate)
    return audio


def _resample(audio, from_rate, to_rate):
    from scipy.signal import resample_poly  # lazy: scipy.signal takes ~2 s to import
    from math import gcd

    g = gcd(from_rate, to_rate)
    out = resample_poly(audio.astype(np.float64), to_rate // g, from_rate // g)
    return np.clip(np.round(out), -32768, 32767).astype(np.int16)

"""Active speech level, ITU-T P.56 method B (the measuring stick of the AGC tests).

P.56 method B, as the Recommendation defines it:
- the envelope is |x| smoothed twice by a first-order filter of time constant 0.03 s;
- for each of a ladder of thresholds c_j (one per 6 dB, 2**j in 16-bit units), a sample
  counts as active while the envelope is at or above c_j, or for a hangover of 0.2 s after
  the last sample that was;
- the active level for threshold j is A_j = (sum of squares) / (active count at j), and the
  active speech level is the A where A_j, in dB, stands the margin M = 15.9 dB above c_j in
  dB (found by straight-line interpolation between the two thresholds that bracket M);
- the activity factor is the long-term power divided by the active level's power.

Levels here are in dBFS: 10*log10(mean square / 32768**2), so a full-scale square wave is
0 dBFS and a full-scale sine -3.01 dBFS (the dBov of ITU-T G.100.1). This is pure numpy
and scipy: a measuring instrument for tests and benchmarks, not a per-tick path.
"""

from dataclasses import dataclass

import numpy as np

FULL_SCALE = 32768.0
TIME_CONSTANT_S = 0.03
HANGOVER_S = 0.2
MARGIN_DB = 15.9
# Thresholds 2**j for j = 0 .. 15 in 16-bit units: 6.02 dB apart over the whole range.
_THRESHOLDS = 2.0 ** np.arange(16)


@dataclass(frozen=True)
class SpeechLevel:
    """Result of a P.56 measurement.

    active_dbfs: active speech level (-inf for silence); long_term_dbfs: plain RMS level;
    activity: fraction of the time the signal is active (0..1).
    """

    active_dbfs: float
    long_term_dbfs: float
    activity: float


def _db(power):
    with np.errstate(divide="ignore"):
        return 10.0 * np.log10(power / FULL_SCALE**2)


def _as_float(samples):
    x = np.asarray(samples)
    if x.ndim != 1:
        raise ValueError(f"samples must be one-dimensional, not shape {x.shape}")
    if not (np.issubdtype(x.dtype, np.integer) or np.issubdtype(x.dtype, np.floating)):
        raise TypeError(f"samples must be integer or float (16-bit scale), not {x.dtype}")
    return x.astype(np.float64)


def measure(samples, rate=8000):
    """P.56 method B over `samples` (16-bit scale, int or float). Returns a SpeechLevel."""
    from scipy.signal import lfilter  # lazy: scipy.signal takes ~2 s to import
    if rate <= 0:
        raise ValueError(f"rate must be positive, not {rate}")
    x = _as_float(samples)
    n = x.size
    if n == 0:
        raise ValueError("cannot measure the level of an empty signal")
    sum_squares = float(np.dot(x, x))
    long_term = _db(sum_squares / n)
    if sum_squares == 0.0:
        return SpeechLevel(-np.inf, -np.inf, 0.0)

    g = np.exp(-1.0 / (rate * TIME_CONSTANT_S))
    p = lfilter([1.0 - g], [1.0, -g], np.abs(x))
    q = lfilter([1.0 - g], [1.0, -g], p)
    hangover = int(round(HANGOVER_S * rate))

    index = np.arange(n)
    active_counts = np.empty(_THRESHOLDS.size)
    for j, c in enumerate(_THRESHOLDS):
        above = q >= c
        if not above.any():
            active_counts[j:] = 0
            break
        # Index of the latest sample at or above the threshold, up to each sample.
        last = np.maximum.accumulate(np.where(above, index, -hangover - 1))
        active_counts[j] = np.count_nonzero(index - last <= hangover)

    levels = []  # (A_j dB, c_j dB) while the threshold has active samples
    for count, c in zip(active_counts, _THRESHOLDS):
        if count == 0:
            break
        levels.append((_db(sum_squares / count), 20.0 * np.log10(c / FULL_SCALE)))
    if not levels:
        return SpeechLevel(-np.inf, long_term, 0.0)

    active = None
    previous = None
    for a_db, c_db in levels:
        diff = a_db - c_db
        if diff <= MARGIN_DB:
            if previous is None:
                active = a_db  # even the lowest threshold is within M: all of it is active
            else:
                a0, d0 = previous
                t = (d0 - MARGIN_DB) / (d0 - diff)
                active = a0 + t * (a_db - a0)
            break
        previous = (a_db, diff)
    if active is None:
        active = levels[-1][0]  # the margin is never reached: the highest active threshold
    activity = min(1.0, 10.0 ** ((long_term - active) / 10.0))
    return SpeechLevel(float(active), float(long_term), float(activity))


def active_level_dbfs(samples, rate=8000):
    """Active speech level of `samples` in dBFS (P.56 method B)."""
    return measure(samples, rate).active_dbfs


def activity_factor(samples, rate=8000):
    """Fraction of `samples` that P.56 method B counts as active speech."""
    return measure(samples, rate).activity

"""ITU-T G.168 test material for the echo canceller's tests and benchmark.

The hybrid echo path models of G.168 Annex D (D.2 to D.9) are read at run time from
Debian's libspandsp-dev, which carries them as data in /usr/include/spandsp/g168models.h:
they are parsed from that header, never copied into this repository. `.ci/run` installs
the package; without it these tests skip, or fail under APPLIANCE_REQUIRE_SYSTEM=1.

Also here: echo path construction (pure delay, then the model scaled to an echo return
loss), far-end and near-end speech from the recorded corpus, and the measurements the
tests share (ERLE over time, level and correlation of near-end speech).
"""

import re
from functools import lru_cache
from pathlib import Path

import numpy as np

from corpus import SOUNDS, concatenated, require_system

G168_MODELS_H = Path("/usr/include/spandsp/g168models.h")
RATE = 8000

_MODEL = re.compile(
    r"const\s+int32_t\s+line_model_(d\d)_coeffs\[\]\s*=\s*\{([^}]*)\};\s*"
    r"#define\s+LINE_MODEL_D\d_GAIN\s+([0-9.Ee+-]+)f?",
    re.S,
)


@lru_cache(maxsize=None)
def _models():
    if not G168_MODELS_H.exists():
        return {}
    text = G168_MODELS_H.read_text()
    models = {}
    for name, body, gain in _MODEL.findall(text):
        taps = [int(v) for v in body.replace("\n", " ").split(",") if v.strip()]
        models[name.upper()] = np.array(taps, dtype=np.float64) * float(gain)
    return models


def echo_path_models():
    """{"D2": impulse response, ...}: the eight hybrid models of G.168 Annex D."""
    models = _models()
    require_system(
        len(models) == 8, f"G.168 echo path models ({G168_MODELS_H}, apt-get install libspandsp-dev)"
    )
    return dict(models)


_TONES = re.compile(r"const\s+int\s+tones_6_4_2_7\[\]\[2\]\s*=\s*\{(.*?)\};", re.S)


def narrowband_tones():
    """[(f1, f2), ...] Hz (f2 = 0: single tone): the narrow-band signals of G.168 test 6
    (clause 6.4.2.7), from the same header."""
    text = G168_MODELS_H.read_text() if G168_MODELS_H.exists() else ""
    match = _TONES.search(text)
    require_system(match, f"G.168 test 6 tones ({G168_MODELS_H}, apt-get install libspandsp-dev)")
    pairs = [tuple(int(v) for v in p) for p in re.findall(r"\{\s*(\d+)\s*,\s*(\d+)\s*\}", match.group(1))]
    return [p for p in pairs if p != (0, 0)]


def echo_path(model, delay_ms, erl_db, far_end):
    """Impulse response: `delay_ms` of pure delay then `model`, scaled so that the echo of
    `far_end` is `erl_db` below it (echo return loss measured on that very signal)."""
    delay = int(round(delay_ms * RATE / 1000))
    h = np.concatenate([np.zeros(delay), model])
    echo = np.convolve(far_end.astype(np.float64), h)[: far_end.size]
    gain = np.sqrt(np.mean(far_end.astype(np.float64) ** 2) / np.mean(echo**2))
    return h * gain * 10 ** (-erl_db / 20)


def echo_of(h, far_end):
    return np.convolve(far_end.astype(np.float64), h)[: far_end.size]


def to_int16(x):
    return np.clip(np.round(x), -32768, 32767).astype(np.int16)


def _speaker(directory, seconds, skip_files=0):
    files = sorted(directory.glob("*.wav"))
    require_system(files, "recorded speech")
    audio, _ = concatenated(files[skip_files : skip_files + 200], gap_samples=400)
    n = int(seconds * RATE)
    require_system(audio.size >= n, "enough recorded speech")
    return audio[:n]


def far_end_speech(seconds):
    """Far-end talker (what the box plays to the line): US English, female."""
    return _speaker(SOUNDS / "en_US_f_Allison", seconds)


def near_end_speech(seconds, skip_files=0):
    """Near-end talker (the caller): Italian, male, another voice than the far end."""
    return _speaker(SOUNDS / "it_IT_m_Carlo", seconds, skip_files)


def power(x):
    return float(np.mean(np.asarray(x, dtype=np.float64) ** 2))


def erle_db(echo, residual, window=1600):
    """ERLE per window (200 ms): echo power over residual power, dB. Windows whose echo
    is 40 dB under the loudest window (pauses) are NaN."""
    n = echo.size // window
    e = np.asarray(echo[: n * window], dtype=np.float64).reshape(n, window)
    r = np.asarray(residual[: n * window], dtype=np.float64).reshape(n, window)
    pe = np.mean(e**2, axis=1)
    pr = np.mean(r**2, axis=1)
    out = 10 * np.log10((pe + 1e-9) / (pr + 1e-3))
    out[pe < pe.max() * 1e-4] = np.nan
    return out


def active_time_to(erle, target_db, window=1600):
    """Seconds of far-end speech (windows with echo) until the ERLE reaches `target_db`
    and stays there; inf if it never does."""
    active = ~np.isnan(erle)
    below = np.nonzero(active & (erle < target_db))[0]
    first_good = 0 if below.size == 0 else below[-1] + 1
    if first_good >= erle.size:
        return float("inf")
    return float(np.count_nonzero(active[:first_good])) * window / RATE

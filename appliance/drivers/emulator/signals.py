"""Signals the simulated people and exchange put on a line.

- `SpeechSource` / `speech_like`: a speech-like signal for talking callers and agents
  (voiced syllables from a glottal pulse train through vowel formants, with pitch movement,
  unvoiced bursts and pauses), generated as it is played, so the package needs no recorded
  speech. Real recorded speech stays in
  tests/corpus.py for tests.
- `noise`: white line noise at a level in dBm0.
- `caller_id_signal`: the caller-ID burst the exchange sends, FSK (Bell 202 / V.23) or DTMF
  (``A<number>C``, China / ETSI annex), from ``appliance.dsp.callerid.encode``.
- `Loop`: a rendered signal played round and round (dial and busy tones from the tone plan).
"""

import math

import numpy as np
from scipy.signal import lfilter  # at import: the emulator may share the host's event loop

from appliance.dsp import callerid
from appliance.dtmf import generate

RATE = 8000
FRAME = 160
DBM0_RMS = 22827.6 / math.sqrt(2.0)  # rms of a 0 dBm0 sine (level_internal.h)
FORMATS = ("bell202", "v23", "dtmf")

# Vowel formants (F1, F2, F3) in Hz, a rough average adult voice.
_VOWELS = np.array([
    (730, 1090, 2440), (270, 2290, 3010), (300, 870, 2240), (530, 1840, 2480),
    (570, 840, 2410), (660, 1720, 2410), (440, 1020, 2240), (490, 1350, 1690),
], dtype=np.float64)
_BANDWIDTHS = (90.0, 110.0, 170.0)


def rms_of_dbm0(level_dbm0):
    return DBM0_RMS * 10.0 ** (level_dbm0 / 20.0)


def noise(samples, level_dbm0, rng):
    """White Gaussian noise of `level_dbm0` (rms), float64."""
    return rng.standard_normal(samples) * rms_of_dbm0(level_dbm0)


def _resonator(freq, bandwidth):
    r = math.exp(-math.pi * bandwidth / RATE)
    theta = 2.0 * math.pi * freq / RATE
    a = [1.0, -2.0 * r * math.cos(theta), r * r]
    return [sum(a)], a  # unity gain at DC keeps the cascade's level sane


# P.56 (method B) counts 200 ms of hangover after each syllable as active, so it reads a
# signal lower than the rms over its syllables alone: measured over 40 speakers x 20 s
# (tests/drivers/emulator/test_signals.py checks it), the difference is this many dB.
P56_OFFSET_DB = 1.78


class SpeechSource:
    """A speech-like talker, generated a syllable at a time (so a long talk costs nothing
    up front): voiced syllables of 100-280 ms from a glottal pulse train through vowel
    formants, with pitch movement and jitter, some led by a 30-70 ms noise burst, 30-120 ms
    gaps, and a 250-600 ms pause every 3-7 syllables. Its active speech level (ITU-T P.56
    method B) is `level_dbm0`; `pitch_hz` is the talker's mean pitch (drawn from 95-220 Hz
    when None)."""

    def __init__(self, rng, level_dbm0=-20.0, pitch_hz=None):
        self.rng = rng
        self.gain = rms_of_dbm0(level_dbm0 + P56_OFFSET_DB)
        self.f0_mean = float(pitch_hz) if pitch_hz else float(rng.uniform(95.0, 220.0))
        self.until_pause = int(rng.integers(3, 8))
        self.buffer = np.zeros(int(rng.integers(0, int(0.08 * RATE))))

    def next(self, n=FRAME):
        """The next `n` samples, int16."""
        parts, have = [self.buffer], self.buffer.size
        while have < n:
            parts.append(self._syllable())
            have += parts[-1].size
        buffer = np.concatenate(parts) if len(parts) > 1 else self.buffer
        out, self.buffer = buffer[:n], buffer[n:]
        return np.clip(np.round(out), -32768, 32767).astype(np.int16)

    def _syllable(self):
        rng = self.rng
        parts = []
        if rng.random() < 0.35:  # unvoiced onset: high-passed noise
            burst = rng.standard_normal(int(rng.uniform(0.03, 0.07) * RATE))
            burst = lfilter([1.0, -0.95], [1.0], burst) * 0.25
            parts.append(burst * np.hanning(burst.size))
        n = int(rng.uniform(0.10, 0.28) * RATE)
        t = np.arange(n) / RATE
        f0 = self.f0_mean * (1.0 + rng.uniform(-0.15, 0.15)) \
            * (1.0 + 0.08 * np.sin(2 * np.pi * rng.uniform(1.5, 4.0) * t + rng.uniform(0, 6.3)))
        f0 *= 1.0 + 0.01 * rng.standard_normal(n)  # jitter
        phase = np.cumsum(f0 / RATE)
        pulses = np.diff(np.floor(phase), prepend=0.0)  # one impulse per pitch period
        # Glottal roll-off, lip radiation and three formant resonators, as one filter.
        b, a = np.array([1.0, -1.0]), np.convolve([1.0, -0.97], [1.0, -0.9])
        formants = _VOWELS[rng.integers(0, len(_VOWELS))] * rng.uniform(0.93, 1.07)
        for freq, bw in zip(formants, _BANDWIDTHS):
            rb, ra = _resonator(freq, bw)
            b, a = b * rb[0], np.convolve(a, ra)
        voiced = lfilter(b, a, pulses)
        env = np.sin(np.pi * np.linspace(0.0, 1.0, n)) ** 0.6
        parts.append(voiced / (np.std(voiced) + 1e-9) * env)
        syllable = np.concatenate(parts)
        syllable *= self.gain / math.sqrt(np.mean(syllable ** 2))
        gap = int(rng.uniform(0.03, 0.12) * RATE)
        self.until_pause -= 1
        if self.until_pause == 0:
            gap += int(rng.uniform(0.25, 0.6) * RATE)
            self.until_pause = int(rng.integers(3, 8))
        return np.concatenate([syllable, np.zeros(gap)])


class Speaking:
    """A talker for a given number of samples, then silence; consumed one tick at a time."""

    def __init__(self, source, samples):
        self.source = source
        self.left = samples

    @property
    def done(self):
        return self.left <= 0

    def next(self, n=FRAME):
        if self.left <= 0:
            return np.zeros(n, dtype=np.int16)
        out = self.source.next(n)
        if self.left < n:
            out[self.left:] = 0
        self.left -= n
        return out


def speech_like(seconds, rng, level_dbm0=-20.0, pitch_hz=None):
    """`seconds` of a SpeechSource's speech-like signal (int16) at `level_dbm0` (P.56)."""
    return SpeechSource(rng, level_dbm0, pitch_hz).next(int(round(seconds * RATE)))


def dtmf_audio(digits, level_dbm0=-10.0, twist_db=0.0, on_ms=100.0, off_ms=100.0):
    """Digits pressed on a keypad: real DTMF, int16."""
    return generate(digits, level_dbm0=level_dbm0, twist_db=twist_db, on_ms=on_ms,
                    off_ms=off_ms)


def caller_id_signal(number, name=None, when=None, format="dtmf", level_dbm0=None):
    """The caller-ID signal for `number` (and `name`, `when`: a datetime, FSK only), int16.

    format "bell202" / "v23": FSK at -13 dBm0 by default; "dtmf": ``A<number>C``, 70 ms tones
    and gaps at -10 dBm0 by default (appliance.dsp.callerid.encode renders both).
    """
    if format not in FORMATS:
        raise ValueError(f"caller ID format must be one of {', '.join(FORMATS)}, not {format!r}")
    if format == "dtmf":
        level = -10.0 if level_dbm0 is None else level_dbm0
        return callerid.encode(number, format="dtmf", level_dbm0=level)
    level = -13.0 if level_dbm0 is None else level_dbm0
    return callerid.encode(number, name=name, when=when, format=format, level_dbm0=level)


class Loop:
    """A rendered signal played round and round, one tick at a time."""

    def __init__(self, samples):
        self.samples = np.asarray(samples, dtype=np.int16)
        self.pos = 0

    def next(self, n=FRAME):
        idx = (self.pos + np.arange(n)) % self.samples.size
        self.pos = (self.pos + n) % self.samples.size
        return self.samples[idx]


class Clip:
    """A one-shot signal consumed one tick at a time; silence after its end."""

    def __init__(self, samples):
        self.samples = np.asarray(samples, dtype=np.int16)
        self.pos = 0

    @property
    def done(self):
        return self.pos >= self.samples.size

    def next(self, n=FRAME):
        out = np.zeros(n, dtype=np.int16)
        chunk = self.samples[self.pos:self.pos + n]
        out[:chunk.size] = chunk
        self.pos += n
        return out

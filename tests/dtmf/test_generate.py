"""DTMF generation (appliance.dtmf.generate): frequencies, levels, twist, timing."""

import numpy as np
import pytest

from appliance.dtmf import generate
from appliance.dtmf.digits import DIGITS, frequencies

DBM0_PEAK = 22827.6


def tone_level_dbm0(x, freq, rate=8000):
    """Level of one sine component, by projecting onto it (exact for whole tones)."""
    n = np.arange(x.size)
    z = np.sum(x.astype(np.float64) * np.exp(-2j * np.pi * freq * n / rate))
    amplitude = 2 * np.abs(z) / x.size
    return 20 * np.log10(amplitude / DBM0_PEAK)


@pytest.mark.parametrize("digit", list(DIGITS))
def test_q23_each_digit_sends_its_two_frequencies(digit):
    x = generate(digit, level_dbm0=-10.0, on_ms=500, off_ms=0)
    low, high = frequencies(digit)
    assert abs(tone_level_dbm0(x, low) + 10.0) < 0.1
    assert abs(tone_level_dbm0(x, high) + 10.0) < 0.1
    spectrum = np.abs(np.fft.rfft(x.astype(np.float64)))
    strongest = sorted(np.argsort(spectrum)[-2:] * 8000 / x.size)
    assert strongest == pytest.approx([low, high], abs=2.0)


@pytest.mark.parametrize("twist", [-8.0, -4.0, 0.0, 4.0])
def test_twist_sets_the_high_group_relative_to_the_low_group(twist):
    x = generate("5", level_dbm0=-20.0, twist_db=twist, on_ms=500, off_ms=0)
    assert abs(tone_level_dbm0(x, 770.0) + 20.0) < 0.1
    assert abs(tone_level_dbm0(x, 1336.0) - (-20.0 + twist)) < 0.1


def test_timing_of_digits_and_pauses():
    x = generate("123", on_ms=40, off_ms=60)
    assert x.size == 3 * (320 + 480)
    active = np.abs(x) > 0
    assert not active[320 + 10 : 800 - 10].any()
    assert active[800 + 5 : 800 + 315].mean() > 0.95


def test_frequency_error_shifts_both_tones():
    x = generate("1", freq_error=0.015, on_ms=1000, off_ms=0)
    assert abs(tone_level_dbm0(x, 697.0 * 1.015) + 10.0) < 0.1
    assert abs(tone_level_dbm0(x, 1209.0 * 1.015) + 10.0) < 0.1


def test_other_rates_are_resampled():
    x = generate("9", rate=16000, on_ms=500, off_ms=0)
    assert x.size == 8000
    assert abs(tone_level_dbm0(x, 852.0, rate=16000) + 10.0) < 0.2
    assert abs(tone_level_dbm0(x, 1477.0, rate=16000) + 10.0) < 0.2


def test_unknown_digit_is_refused():
    with pytest.raises(ValueError, match="'E' is not a DTMF digit"):
        generate("12E")


@pytest.mark.parametrize("kwargs, message", [
    ({"level_dbm0": 2.0, "twist_db": 4.0}, "outside"),
    ({"level_dbm0": -100.0}, "outside"),
    ({"on_ms": -1.0}, "negative"),
    ({"freq_error": -1.0}, "Hz"),
])
def test_impossible_tones_are_refused_with_the_reason(kwargs, message):
    with pytest.raises(ValueError, match=message):
        generate("1", **kwargs)

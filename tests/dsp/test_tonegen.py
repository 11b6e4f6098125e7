"""The tone generator (native/tonegen.c): levels, frequencies, cadences, streaming."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from appliance.dsp.tonegen import ToneGenerator, ToneStep, render

DBM0_PEAK = 22827.6  # 0 dBm0 sine peak, G.711 A-law definition


def level_dbm0(x):
    power = np.mean(x.astype(np.float64) ** 2)
    return 10 * np.log10(power / (DBM0_PEAK**2 / 2))


def peak_hz(x, rate=8000):
    spectrum = np.abs(np.fft.rfft(x.astype(np.float64) * np.hanning(x.size)))
    return np.argmax(spectrum) * rate / x.size


@pytest.mark.parametrize("level", [-40.0, -20.0, -10.0, 0.0, 3.0])
def test_g711_level_of_single_tone(level):
    x = render([ToneStep((1004.0,), (level,), on_ms=1000)])
    assert x.size == 8000
    assert abs(level_dbm0(x) - level) < 0.05


@pytest.mark.parametrize("freq", [300.0, 450.0, 1004.0, 1633.0, 3400.0])
def test_frequency_is_exact(freq):
    x = render([ToneStep((freq,), (-10.0,), on_ms=2000)])
    assert abs(peak_hz(x) - freq) <= 0.5


def test_cadence_steps_and_silence_are_sample_exact():
    steps = [ToneStep((450.0,), (-10.0,), on_ms=350, off_ms=350)]
    x = render(steps, repeat=True, seconds=2.8)
    for cycle in range(4):
        on = x[cycle * 5600 : cycle * 5600 + 2800]
        off = x[cycle * 5600 + 2800 : (cycle + 1) * 5600]
        assert not off.any()
        assert abs(level_dbm0(on) + 10.0) < 0.05
        assert on[-18:].any()  # sounds up to the last sample of its 350 ms


def test_one_shot_tone_ends_in_silence():
    gen = ToneGenerator([ToneStep((1000.0,), (-10.0,), on_ms=10, off_ms=5)])
    assert gen.length == 120
    x = gen.generate(400)
    assert np.any(x[:80] != 0) and not np.any(x[80:])


def test_two_tones_at_full_level_saturate_instead_of_wrapping():
    x = render([ToneStep((697.0, 1209.0), (3.0, 3.0), on_ms=200)])
    n = np.arange(x.size)
    peak = DBM0_PEAK * 10 ** (3.0 / 20)
    exact = peak * (np.sin(2 * np.pi * 697 * n / 8000) + np.sin(2 * np.pi * 1209 * n / 8000))
    np.testing.assert_allclose(x, np.clip(exact, -32768, 32767), atol=1.5)
    assert x.max() == 32767 and x.min() == -32768


def test_long_tone_keeps_level_and_phase():
    gen = ToneGenerator([ToneStep((1000.0,), (-3.0,), on_ms=1000)], repeat=True)
    first = gen.generate(8000)
    for _ in range(58):
        gen.generate(8000)
    last = gen.generate(8000)
    assert abs(level_dbm0(first) - level_dbm0(last)) < 0.01
    # 1000 Hz has an integer number of cycles per 8000 samples: the minute-later second
    # is the same waveform.
    assert np.max(np.abs(first.astype(int) - last.astype(int))) <= 2


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=700), min_size=1, max_size=12))
def test_streaming_equals_one_shot_for_any_chunking(chunks):
    steps = [
        ToneStep((480.0, 620.0), (-20.0, -20.0), on_ms=250, off_ms=250),
        ToneStep((913.8,), (-24.0,), on_ms=274, off_ms=0),
    ]
    whole = ToneGenerator(steps, repeat=True).generate(sum(chunks))
    gen = ToneGenerator(steps, repeat=True)
    parts = np.concatenate([gen.generate(n) for n in chunks])
    np.testing.assert_array_equal(parts, whole)


def test_reset_restarts_the_tone():
    gen = ToneGenerator([ToneStep((440.0,), (-10.0,), on_ms=100, off_ms=100)], repeat=True)
    a = gen.generate(1234)
    gen.reset()
    np.testing.assert_array_equal(gen.generate(1234), a)


BAD_STEPS = [
    ((4000.0,), (-10.0,), 10),  # at Nyquist
    ((-5.0,), (-10.0,), 10),
    ((1000.0,), (5.0,), 10),  # above the G.711 overload level
    ((1000.0,), (-10.0,), -1),
]


@pytest.mark.parametrize("freqs, levels, on_ms", BAD_STEPS)
def test_invalid_steps_are_refused(freqs, levels, on_ms):
    with pytest.raises(ValueError):
        ToneStep(freqs, levels, on_ms=on_ms)


@pytest.mark.parametrize("freqs, levels, on_ms", BAD_STEPS)
def test_c_core_refuses_invalid_steps_too(freqs, levels, on_ms):
    from appliance.dsp._binding import ffi, lib

    config = ffi.new("tonegen_config_t *")
    config.steps = 1
    config.step[0].freq_hz[0] = freqs[0]
    config.step[0].level_dbm0[0] = levels[0]
    config.step[0].on_samples = on_ms * 8
    assert lib.tonegen_init(ffi.new("tonegen_state_t *"), config) < 0


def test_step_count_is_checked():
    with pytest.raises(ValueError):
        ToneGenerator([ToneStep((1000.0,), (-10.0,), on_ms=10)] * 9)
    with pytest.raises(ValueError):
        ToneStep((1.0, 2.0), (-10.0,), on_ms=10)

"""The P.56 method B active speech level meter (appliance.dsp.speech_level).

Checked against what P.56 defines: a steady signal's active level is its RMS level and its
activity is 1; silence added around a signal changes its long-term level and activity but
not its active level (beyond the 0.2 s hangover P.56 counts as active); scaling shifts the
active level by exactly the gain; real speech has an activity under 1 and an active level
above its long-term level.
"""

import numpy as np
import pytest

import corpus
from appliance.dsp.speech_level import active_level_dbfs, activity_factor, measure

RATE = 8000


def sine(level_dbfs, seconds, freq=1000.0):
    n = np.arange(int(seconds * RATE))
    return np.sqrt(2) * 32768 * 10 ** (level_dbfs / 20) * np.sin(2 * np.pi * freq * n / RATE)


@pytest.mark.parametrize("level", [-70.0, -60.0, -45.0, -30.0, -18.0, -6.0, -3.01])
def test_p56_sine_active_level_equals_its_rms(level):
    result = measure(sine(level, 5.0))
    assert abs(result.active_dbfs - level) < 0.05
    assert abs(result.long_term_dbfs - level) < 0.01
    assert result.activity > 0.99


@pytest.mark.parametrize("level", [-50.0, -20.0])
def test_p56_half_silence_gives_half_activity_and_the_same_active_level(level):
    x = sine(level, 10.0)
    x[x.size // 2:] = 0.0
    result = measure(x)
    # 5 s on, plus the 0.2 s hangover and the envelope's tail that P.56 counts as active.
    assert 0.50 <= result.activity <= 0.54
    assert abs(result.active_dbfs - level) < 0.3
    assert abs(result.long_term_dbfs - (level - 3.01)) < 0.01


def test_p56_silence_around_speech_leaves_the_active_level():
    speech, _ = corpus.concatenated(corpus.speech_files()[::400][:6])
    padded = np.concatenate([np.zeros(5 * RATE), speech, np.zeros(10 * RATE)])
    plain, longer = measure(speech), measure(padded)
    assert abs(plain.active_dbfs - longer.active_dbfs) < 0.3
    assert longer.activity < plain.activity * speech.size / padded.size + 0.02


@pytest.mark.parametrize("gain_db", [-40.0, -20.0, -6.0, 6.0])
def test_p56_scaling_shifts_the_active_level_by_the_gain(gain_db):
    speech, _ = corpus.concatenated(corpus.speech_files()[::300][:8])
    scaled = speech.astype(np.float64) * 10 ** (gain_db / 20)
    assert abs(active_level_dbfs(scaled) - active_level_dbfs(speech) - gain_db) < 0.2


def test_p56_real_speech_is_active_part_of_the_time():
    speech, _ = corpus.concatenated(corpus.speech_files()[::250][:10], gap_samples=4000)
    result = measure(speech)
    assert 0.4 < result.activity < 0.95
    assert result.active_dbfs > result.long_term_dbfs + 0.3
    assert activity_factor(speech) == result.activity


def test_p56_low_noise_under_speech_barely_moves_the_active_level():
    speech, _ = corpus.concatenated(corpus.speech_files()[::300][:8])
    noise = np.random.default_rng(7).normal(0.0, 32768 * 10 ** (-75 / 20), speech.size)
    assert abs(active_level_dbfs(speech + noise) - active_level_dbfs(speech)) < 0.5


def test_p56_silence_and_bad_input():
    assert measure(np.zeros(8000, dtype=np.int16)).active_dbfs == -np.inf
    assert measure(np.zeros(8000, dtype=np.int16)).activity == 0.0
    with pytest.raises(ValueError):
        measure(np.zeros(0, dtype=np.int16))
    with pytest.raises(ValueError):
        measure(np.zeros((2, 80), dtype=np.int16))
    with pytest.raises(TypeError):
        measure(np.array(["a", "b"]))
    with pytest.raises(ValueError):
        measure(np.ones(80), rate=0)

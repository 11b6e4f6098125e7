"""What the simulated people and exchange put on the line: the speech-like signal talks at
its level without false digits, DTMF caller ID is our receiver's, tones loop seamlessly."""

import numpy as np
import pytest

from appliance.drivers.emulator.signals import (
    DBM0_RMS, Clip, Loop, caller_id_signal, fsk_caller_id_available, noise, speech_like,
)
from appliance.dsp.speech_level import measure
from appliance.dtmf import detect

DBFS_OF_0_DBM0 = 20 * np.log10(DBM0_RMS / 32768.0)


@pytest.mark.parametrize("level_dbm0", [-30.0, -20.0, -10.0])
def test_speech_like_active_level_p56(level_dbm0):
    samples = speech_like(20.0, np.random.default_rng(11), level_dbm0)
    level = measure(samples)
    assert level.active_dbfs - DBFS_OF_0_DBM0 == pytest.approx(level_dbm0, abs=1.5)
    assert 0.4 < level.activity < 0.95  # syllables, gaps and pauses, like speech


def test_speech_like_has_no_dtmf_talk_off():
    # Two minutes of speakers drawn at random, at a loud level: no digit.
    for seed in range(6):
        samples = speech_like(20.0, np.random.default_rng(seed), -12.0)
        assert detect(samples) == []


def test_speech_like_is_reproducible_from_its_seed():
    a = speech_like(2.0, np.random.default_rng(3))
    assert np.array_equal(a, speech_like(2.0, np.random.default_rng(3)))
    assert not np.array_equal(a, speech_like(2.0, np.random.default_rng(4)))
    assert a.dtype == np.int16 and a.size == 16000


def test_noise_level():
    x = noise(80000, -40.0, np.random.default_rng(0))
    assert 20 * np.log10(np.sqrt(np.mean(x * x)) / DBM0_RMS) == pytest.approx(-40.0, abs=0.1)


def test_dtmf_caller_id_is_a_string_our_receiver_reads():
    audio = caller_id_signal("02087654321", format="dtmf", level_dbm0=-15.0)
    assert "".join(e.digit for e in detect(audio)) == "A02087654321C"
    with pytest.raises(ValueError, match="2 to 20 digits"):
        caller_id_signal("12a", format="dtmf")
    with pytest.raises(ValueError, match="format"):
        caller_id_signal("123", format="smoke")


@pytest.mark.skipif(fsk_caller_id_available(), reason="this build has FSK caller ID")
def test_fsk_caller_id_needs_the_generator():
    with pytest.raises(ValueError, match="appliance.dsp.callerid"):
        caller_id_signal("123", format="bell202")


def test_loop_and_clip_play_one_tick_at_a_time():
    loop = Loop(np.arange(300, dtype=np.int16))
    out = np.concatenate([loop.next() for _ in range(4)])
    assert np.array_equal(out, np.arange(640) % 300)
    clip = Clip(np.ones(200, dtype=np.int16))
    assert clip.next().sum() == 160 and not clip.done
    assert clip.next().sum() == 40 and clip.done

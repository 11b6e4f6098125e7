"""What the simulated people and exchange put on the line: the speech-like signal talks at
its level without false digits, DTMF caller ID is our receiver's, tones loop seamlessly."""

import numpy as np
import pytest
from corpus import SPEECH_DIRS, concatenated, speech_files
from scipy.signal import welch

from appliance.drivers.emulator.signals import (
    DBM0_RMS, Clip, Loop, Speaking, SpeechSource, caller_id_signal, fsk_caller_id_available,
    noise, speech_like,
)
from appliance.dsp.speech_level import measure
from appliance.dtmf import detect

DBFS_OF_0_DBM0 = 20 * np.log10(DBM0_RMS / 32768.0)


@pytest.mark.parametrize("level_dbm0", [-35.0, -20.0, -10.0])
@pytest.mark.parametrize("seed", [11, 12, 13])
def test_speech_like_active_level_p56(level_dbm0, seed):
    samples = speech_like(20.0, np.random.default_rng(seed), level_dbm0)
    level = measure(samples)
    assert level.active_dbfs - DBFS_OF_0_DBM0 == pytest.approx(level_dbm0, abs=0.5)
    assert 0.4 < level.activity < 0.95  # syllables, gaps and pauses, like speech


def test_speech_source_streams_what_speech_like_renders():
    whole = speech_like(3.0, np.random.default_rng(9), -20.0)
    source = SpeechSource(np.random.default_rng(9), -20.0)
    streamed = np.concatenate([source.next() for _ in range(150)])
    assert np.array_equal(whole, streamed)
    talk = Speaking(SpeechSource(np.random.default_rng(9), -20.0), 2000)
    out = []
    while not talk.done:
        out.append(talk.next())
    out = np.concatenate(out)
    assert out.size == 13 * 160  # 2000 samples, in whole ticks
    assert np.array_equal(out[:2000], whole[:2000]) and not out[2000:].any()


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


def _bands_db(samples):
    """Share of the 100-3400 Hz energy in four bands, dB (Welch long-term spectrum)."""
    freqs, power = welch(samples.astype(np.float64), 8000, nperseg=512)
    total = power[(freqs >= 100) & (freqs < 3400)].sum()
    return np.array([10 * np.log10(power[(freqs >= lo) & (freqs < hi)].sum() / total)
                     for lo, hi in ((100, 500), (500, 1000), (1000, 2000), (2000, 3400))])


@pytest.mark.needs_system
def test_speech_like_resembles_recorded_speech():
    # Long-term spectrum and P.56 activity of the generated talker fall within the spread
    # of six recorded speakers (12 random prompts each), with a 2 dB / 0.05 margin.
    speech_files()
    rng = np.random.default_rng(0)
    bands, activity = [], []
    for directory in SPEECH_DIRS:
        files = sorted(directory.rglob("*.wav"))
        audio, _ = concatenated([files[i] for i in rng.choice(len(files), 12, replace=False)])
        bands.append(_bands_db(audio))
        activity.append(measure(audio).activity)
    bands = np.array(bands)
    for seed in range(2):
        synthetic = speech_like(40.0, np.random.default_rng(seed))
        assert (_bands_db(synthetic) >= bands.min(axis=0) - 2.0).all()
        assert (_bands_db(synthetic) <= bands.max(axis=0) + 2.0).all()
        assert min(activity) - 0.05 <= measure(synthetic).activity <= max(activity) + 0.05

"""Talk-off: no digits (and no key-down onsets) from real recorded speech and music.

The corpus is about 160 minutes of speech by six speakers in five languages and 18
minutes of music (tests/corpus.py), sent through an A-law channel at its recorded level
and 10 dB above and below it. Q.24 allows a handful of false digits per tens of hours;
the box's callers talk over IVR prompts all day, so the target here is none.
"""

import numpy as np
import pytest

import corpus
from appliance.dsp import g711
from appliance.dtmf import DtmfDetector

CHUNK = 8000 * 60


def _false_detections(audio, gain_db):
    scaled = np.clip(audio.astype(np.float64) * 10 ** (gain_db / 20), -32768, 32767)
    line = g711.alaw_decode(g711.alaw_encode(scaled.astype(np.int16)))
    detector, digits, onsets = DtmfDetector(), [], []
    for offset in range(0, line.size, CHUNK):
        digits += detector.feed(line[offset:offset + CHUNK])
        onsets += detector.onsets
    digits += detector.flush()
    onsets += detector.onsets
    return digits, onsets


@pytest.fixture(scope="module")
def speech():
    return corpus.concatenated(corpus.speech_files())[0]


@pytest.fixture(scope="module")
def music():
    return corpus.concatenated(corpus.music_files())[0]


@pytest.mark.needs_system
@pytest.mark.parametrize("gain_db", [0.0, 10.0, -10.0])
def test_talkoff_real_speech_no_false_digits(speech, gain_db):
    assert speech.size > 100 * 60 * 8000  # the whole corpus, not a sample of it
    digits, onsets = _false_detections(speech, gain_db)
    assert digits == [] and onsets == []


@pytest.mark.needs_system
@pytest.mark.parametrize("gain_db", [0.0, 10.0, -10.0])
def test_talkoff_real_music_no_false_digits(music, gain_db):
    digits, onsets = _false_detections(music, gain_db)
    assert digits == [] and onsets == []

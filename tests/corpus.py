"""Real recorded speech and music for talk-off tests, from Debian packages.

Speakers (all CC-BY-SA 3.0 recordings of telephone prompts at 8 kHz, packaged by Debian):
  asterisk-core-sounds-en-wav  Allison Smith, US English, female
  asterisk-core-sounds-es-wav  Allison Smith, Mexican Spanish, female
  asterisk-core-sounds-fr-wav  June Wallack, Canadian French, female
  asterisk-core-sounds-it-wav  Carlo, Italian, male
  asterisk-prompt-it-menardi-wav  Marco Menardi's prompts, Italian
  asterisk-core-sounds-ru-wav  IvrvoiceRU, Russian, female
Music: asterisk-moh-opsound-wav (five CC-BY-SA pieces, 18 minutes).
About 156 minutes of speech and 18 of music. `.ci/run` installs the packages; without
them these tests skip, unless APPLIANCE_REQUIRE_SYSTEM=1 (set in CI) makes that a failure.
"""

import os
from pathlib import Path

import numpy as np
import pytest
import soundfile

SOUNDS = Path("/usr/share/asterisk/sounds")
SPEECH_DIRS = [
    SOUNDS / "en_US_f_Allison",
    SOUNDS / "es_MX_f_Allison",
    SOUNDS / "fr_CA_f_June",
    SOUNDS / "it_IT_m_Carlo",
    SOUNDS / "it_IT_f_Menardi",
    SOUNDS / "ru_RU_f_IvrvoiceRU",
]
MUSIC_DIR = Path("/usr/share/asterisk/moh")
APT_PACKAGES = (
    "asterisk-core-sounds-en-wav asterisk-core-sounds-es-wav asterisk-core-sounds-fr-wav "
    "asterisk-core-sounds-it-wav asterisk-core-sounds-ru-wav asterisk-prompt-it-menardi-wav "
    "asterisk-moh-opsound-wav"
)


def require_system(available, what):
    """Skip a test whose system piece is missing, or fail if CI says it must be there."""
    if available:
        return
    message = f"{what} is not installed (apt-get install {APT_PACKAGES})"
    if os.environ.get("APPLIANCE_REQUIRE_SYSTEM") == "1":
        pytest.fail(message)
    pytest.skip(message)


def _wavs(directory):
    return sorted(directory.rglob("*.wav")) if directory.is_dir() else []


def speech_files():
    files = [f for d in SPEECH_DIRS for f in _wavs(d)]
    require_system(files, "recorded speech")
    return files


def music_files():
    files = _wavs(MUSIC_DIR)
    require_system(files, "recorded music")
    return files


def load(path):
    """A file as 8 kHz mono int16 (all corpus files are already 8 kHz PCM16)."""
    audio, rate = soundfile.read(str(path), dtype="int16", always_2d=True)
    assert rate == 8000, f"{path} is {rate} Hz"
    return np.ascontiguousarray(audio[:, 0])


def concatenated(files, gap_samples=800):
    """All files in one stream, with short silences between them, and the offsets."""
    parts, offsets, position = [], [], 0
    gap = np.zeros(gap_samples, dtype=np.int16)
    for path in files:
        audio = load(path)
        offsets.append((position, path))
        parts += [audio, gap]
        position += audio.size + gap.size
    return np.concatenate(parts), offsets

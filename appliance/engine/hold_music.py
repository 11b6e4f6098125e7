"""Music on hold synthesised with numpy: a slow chord loop with a soft mallet melody.

The box needs hold music that is pleasant, clearly not speech, loops without a click, and
can never be mistaken for signalling by the equipment at the far end:
- every partial lies between 190 and 1000 Hz, so nothing reaches DTMF's high group
  (1209-1633 Hz): a DTMF receiver cannot see a digit in it;
- chords of three or four notes are always sounding, so no single frequency ever holds
  the 80 % of the power a call-progress detector asks of a tone;
- notes that run past the end of the loop wrap round to its start, so the loop is
  seamless when played over and over.
Levels: the active level (ITU-T P.56) is LEVEL_DBOV, a little under speech prompts.
"""

import numpy as np

RATE = 8000
SECONDS_PER_CHORD = 2.0
LEVEL_DBOV = -22.0
MAX_PARTIAL_HZ = 1000.0
_PEAK_LIMIT = 0.7 * 32767  # headroom for the G.711 coder and any mixing

# Cmaj7 - Am7 - Fmaj7 - G6 - Cmaj7 - Em7 - Dm7 - G7 (MIDI notes): pad voicings from G3
# to E5, and four mallet notes per chord an octave above the pad's middle.
_CHORDS = (
    ((60, 64, 67, 71), (72, 76, 79, 76)),
    ((57, 60, 64, 67), (69, 72, 76, 72)),
    ((57, 60, 65, 69), (72, 77, 81, 77)),
    ((55, 59, 62, 64), (71, 74, 79, 74)),
    ((60, 64, 67, 71), (76, 79, 83, 79)),
    ((59, 62, 64, 67), (71, 76, 79, 76)),
    ((57, 60, 62, 65), (69, 74, 77, 74)),
    ((55, 59, 62, 65), (71, 74, 77, 79)),
)


def _hz(midi):
    return 440.0 * 2.0 ** ((midi - 69) / 12.0)


def _partials(f0, rolloff):
    """(frequency, amplitude) of a tone's harmonics below MAX_PARTIAL_HZ."""
    count = int(MAX_PARTIAL_HZ // f0)
    return [(k * f0, k ** -rolloff) for k in range(1, count + 1)]


def _add_wrapped(out, start, samples):
    """Add `samples` into the loop `out` from `start`, wrapping past its end."""
    index = (start + np.arange(samples.size)) % out.size
    np.add.at(out, index, samples)


def _pad_note(f0, seconds):
    """A soft organ-like note: slow attack and release, two slightly detuned voices."""
    n = int(seconds * RATE)
    t = np.arange(n) / RATE
    tone = np.zeros(n)
    for f, a in _partials(f0, 1.6):
        for detune in (0.9985, 1.0015):
            tone += a * np.sin(2 * np.pi * f * detune * t)
    attack, release = int(0.35 * RATE), int(0.8 * RATE)
    envelope = np.ones(n)
    envelope[:attack] = np.sin(0.5 * np.pi * np.arange(attack) / attack) ** 2
    envelope[-release:] = np.cos(0.5 * np.pi * np.arange(release) / release) ** 2
    return tone * envelope


def _mallet_note(f0, seconds):
    """A struck note: 8 ms rise, exponential decay (0.35 s), a quiet octave partial."""
    n = int(seconds * RATE)
    t = np.arange(n) / RATE
    tone = np.sin(2 * np.pi * f0 * t)
    if 2 * f0 < MAX_PARTIAL_HZ:
        tone += 0.25 * np.sin(2 * np.pi * 2 * f0 * t) * np.exp(-t / 0.12)
    rise = int(0.008 * RATE)
    envelope = np.exp(-t / 0.35)
    envelope[:rise] *= np.sin(0.5 * np.pi * np.arange(rise) / rise) ** 2
    envelope[-rise:] *= np.cos(0.5 * np.pi * np.arange(rise) / rise) ** 2
    return tone * envelope


def render():
    """The hold-music loop: int16 at 8 kHz, len(_CHORDS) * SECONDS_PER_CHORD seconds."""
    step = int(SECONDS_PER_CHORD * RATE)
    out = np.zeros(step * len(_CHORDS))
    for i, (pad, melody) in enumerate(_CHORDS):
        start = i * step
        for note in pad:
            _add_wrapped(out, start, 0.25 * _pad_note(_hz(note), SECONDS_PER_CHORD + 0.8))
        beat = step // len(melody)
        for j, note in enumerate(melody):
            _add_wrapped(out, start + j * beat, 0.5 * _mallet_note(_hz(note), 1.2))
    return _levelled(out)


def _levelled(out):
    from appliance.dsp.speech_level import measure
    out = out * (_PEAK_LIMIT / np.abs(out).max())  # P.56 measures on the 16-bit scale
    gain = min(1.0, 10.0 ** ((LEVEL_DBOV - measure(out).active_dbfs) / 20.0))
    return np.round(out * gain).astype(np.int16)

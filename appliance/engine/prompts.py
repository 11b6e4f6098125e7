"""The engine's prompt library: every prompt the box plays, as 8 kHz int16 audio.

    library = PromptLibrary(config.ivr.prompt_dirs, tone_plan=config.tone_plan)
    problems = library.preload(names)      # at start-up: every failure, none raised
    audio = library.load("welcome.wav")    # read-only int16, converted once, cached

Names, as the IVR config writes them (appliance.ivr.Flows.prompt_paths finds files the
same way, so `appliance config check` and the engine agree):
- a file name: looked for under each folder of `dirs` in order (the installer's
  storage.prompts_dir, then the shipped set, `default_prompt_dir()`: config.ivr.prompt_dirs
  holds them); with no folders, as is. An absolute path is used as is.
- `builtin:beep` (the "after the tone" beep: BEEP_HZ for BEEP_SECONDS at BEEP_DBM0) and
  `builtin:silence` (one second).
- `tone:NAME`, engine-internal: one cadence cycle of the tone plan's NAME tone (dial,
  ringback, busy, congestion, sit), made to be played in a loop.
`music()` is the music-on-hold loop (appliance.engine.hold_music).

Files: anything appliance.dsp.audiofile reads (WAV PCM/float/A-law/mu-law, FLAC, ...), at
any rate (resampled to 8 kHz), stereo or more mixed down to mono. A file's level is left
alone when its active speech level (ITU-T P.56) is within NORMAL_DBOV; a file outside it
is brought to TARGET_DBOV, but never so far that a peak passes PEAK_LIMIT (no clipping).
Every problem is a PromptError naming the prompt, the file and the fix.
"""

import math
import os
from pathlib import Path

import numpy as np

RATE = 8000
BUILTIN_PREFIX = "builtin:"
TONE_PREFIX = "tone:"
BEEP_HZ = 1000.0
BEEP_SECONDS = 0.5
BEEP_DBM0 = -10.0
BEEP_RAMP_SECONDS = 0.005  # raised-cosine edges: a beep, not a click
SILENCE_SECONDS = 1.0
NORMAL_DBOV = (-28.0, -12.0)  # active speech level left as it is
TARGET_DBOV = -20.0  # where a prompt outside NORMAL_DBOV is brought
PEAK_LIMIT = 29204  # -1 dBFS: the loudest sample levelling may make
_CONTINUOUS_MAX_SECONDS = 10.0


class PromptError(Exception):
    """A prompt the engine cannot play: which prompt, which file(s), what is wrong, the fix."""

    def __init__(self, prompt, problem, fix, paths=()):
        self.prompt = prompt
        self.paths = tuple(str(p) for p in paths)
        self.problem = problem
        self.fix = fix
        where = f" ({', '.join(self.paths)})" if self.paths else ""
        super().__init__(f"prompt {prompt!r}{where}: {problem}; {fix}")


def default_prompt_dir():
    """The folder of the shipped default prompts (welcome.wav, main-menu.wav, ...)."""
    return Path(__file__).resolve().parent / "prompts" / "default"


class PromptLibrary:
    """Prompts by name, each converted once at its first load and kept, read-only.

    dirs: prompt folders searched in order. tone_plan: a plan name, path or TonePlan for
    the `tone:` prompts (appliance.dsp.toneplan.load_plan).
    """

    def __init__(self, dirs=(), tone_plan="cn"):
        from appliance.dsp.toneplan import load_plan
        self.dirs = tuple(Path(d) for d in dirs)
        self.tone_plan = load_plan(tone_plan)
        self._by_name = {}
        self._by_file = {}  # resolved path -> array: a file is converted once
        self._music = None

    def load(self, name):
        """The prompt `name` as read-only int16 8 kHz samples; raises PromptError."""
        cached = self._by_name.get(name)
        if cached is not None:
            return cached
        if isinstance(name, str) and name.startswith(BUILTIN_PREFIX):
            audio = self._builtin(name)
        elif isinstance(name, str) and name.startswith(TONE_PREFIX):
            audio = self._tone(name)
        else:
            audio = self._file(name)
        audio.setflags(write=False)
        self._by_name[name] = audio
        return audio

    def preload(self, names):
        """Loads every prompt of `names`; returns the PromptErrors (raises none of them)."""
        errors = []
        for name in dict.fromkeys(names):
            try:
                self.load(name)
            except PromptError as exc:
                errors.append(exc)
        return errors

    def music(self):
        """The music-on-hold loop (int16, 8 kHz, 16 s), made at the first call."""
        if self._music is None:
            from appliance.engine.hold_music import render
            self._music = render()
            self._music.setflags(write=False)
        return self._music

    # ---- built-ins and tones ----------------------------------------------------------

    def _builtin(self, name):
        make = BUILTINS.get(name[len(BUILTIN_PREFIX):])
        if make is None:
            raise PromptError(name, "no such built-in prompt", "use one of "
                              + ", ".join(BUILTIN_PREFIX + b for b in BUILTINS))
        return make()

    def _tone(self, name):
        tones = {tone.value: tone for tone in self.tone_plan.tones}
        tone = tones.get(name[len(TONE_PREFIX):])
        if tone is None:
            raise PromptError(name, f"tone plan {self.tone_plan.name!r} has no such tone",
                              "use one of " + ", ".join(TONE_PREFIX + t for t in tones))
        return tone_cycle(self.tone_plan, tone)

    # ---- files ------------------------------------------------------------------------

    def paths(self, name):
        """Where the file prompt `name` may be, in search order (as Flows.prompt_paths)."""
        text = os.fspath(name)
        if os.path.isabs(text) or not self.dirs:
            return [Path(text)]
        return [d / text for d in self.dirs]

    def _file(self, name):
        if not isinstance(name, (str, os.PathLike)):
            raise TypeError(f"a prompt name is a str or path, not {type(name).__name__}")
        text = os.fspath(name)
        if not text or "\0" in text or ".." in Path(text).parts:
            raise PromptError(name, "not a usable file name (empty, NUL or '..')",
                              "name a file in the prompt folders")
        paths = self.paths(text)
        found = next((p for p in paths if p.is_file()), None)
        if found is None:
            fix = (f"put the file in {self.dirs[0]} or correct the name" if self.dirs
                   else "correct the path, or give the file's folder as storage.prompts_dir")
            raise PromptError(name, "not found", fix, paths)
        key = found.resolve()
        audio = self._by_file.get(key)
        if audio is None:
            audio = self._by_file[key] = read_prompt(found, name)
        return audio


def read_prompt(path, name=None):
    """A prompt file as int16 at 8 kHz, mono, levelled (see the module doc)."""
    import soundfile

    from appliance.dsp.audiofile import AudioFileError, read_audio
    name = path if name is None else name
    try:
        try:  # by content, not by the name's suffix
            with open(path, "rb") as raw, soundfile.SoundFile(raw) as sound:
                channels = sound.channels
        except (soundfile.SoundFileError, OSError, TypeError):  # TypeError: a .raw name
            channels = 1  # not opened: read_audio tells what is wrong with it
        if channels <= 1:
            audio = read_audio(path, RATE)
        else:
            total = sum(read_audio(path, RATE, channel=c).astype(np.float64)
                        for c in range(channels))
            audio = np.round(total / channels).astype(np.int16)
    except AudioFileError as exc:
        raise PromptError(name, exc.problem, exc.fix, [path]) from None
    return levelled(audio)


def levelled(samples):
    """`samples` brought to TARGET_DBOV if their P.56 active level is outside NORMAL_DBOV,
    with the gain capped so no sample passes PEAK_LIMIT; otherwise unchanged."""
    from appliance.dsp.speech_level import measure
    active = measure(samples).active_dbfs
    low, high = NORMAL_DBOV
    if not math.isfinite(active) or low <= active <= high:
        return samples
    gain = 10.0 ** ((TARGET_DBOV - active) / 20.0)
    peak = int(np.abs(samples.astype(np.int32)).max())
    gain = min(gain, PEAK_LIMIT / peak) if gain > 1.0 else gain
    return np.round(samples * gain).astype(np.int16)


def beep():
    """The voicemail beep: BEEP_HZ for BEEP_SECONDS at BEEP_DBM0, with soft edges."""
    from appliance.dsp.tonegen import ToneStep, render
    audio = render([ToneStep((BEEP_HZ,), (BEEP_DBM0,), on_ms=BEEP_SECONDS * 1000.0)])
    ramp = int(BEEP_RAMP_SECONDS * RATE)
    edge = np.sin(0.5 * np.pi * (np.arange(ramp) + 0.5) / ramp) ** 2
    shaped = audio.astype(np.float64)
    shaped[:ramp] *= edge
    shaped[-ramp:] *= edge[::-1]
    return np.round(shaped).astype(np.int16)


def silence():
    return np.zeros(int(SILENCE_SECONDS * RATE), dtype=np.int16)


BUILTINS = {"beep": beep, "silence": silence}  # appliance.ivr's BUILTIN_PROMPTS names these


def tone_cycle(plan, tone):
    """One loopable cycle of a plan's tone: a whole cadence (on/off times as the plan gives
    them), or for a continuous tone the shortest whole number of 20 ms frames from 1 s up
    in which every component completes whole periods (so the loop joins without a click)."""
    spec = plan.tones[tone]
    if spec.continuous:
        freqs = spec.elements[0].signatures[0]
        frames = np.arange(RATE // 160, int(_CONTINUOUS_MAX_SECONDS * RATE) // 160 + 1)
        cycles = np.outer(frames * 160 / RATE, freqs)
        error = np.abs(cycles - np.round(cycles)).max(axis=1)
        samples = int(frames[np.argmax(error < 1e-6)] if (error < 1e-6).any()
                      else frames[np.argmin(error)]) * 160
    else:
        samples = sum(int(round(el.seconds[0] * 1000.0 * RATE / 1000.0))
                      for el in spec.elements)
    return plan.render(tone, samples / RATE)

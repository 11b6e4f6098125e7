"""PromptLibrary: files of any rate and format to 8 kHz int16 once, built-ins, tone-plan
tones, hold music and the shipped prompt set.

Signals are measured, not compared with stored answers: a sine's frequency from a finely
zero-padded spectrum, levels in dBm0 / dBov (P.56), DTMF by the box's own receiver (a
prompt must never dial), call-progress tones by its tone detector after G.711.
"""

import math
import tempfile
from pathlib import Path

import numpy as np
import pytest
import soundfile
from hypothesis import HealthCheck, given, settings, strategies as st

from appliance.dsp import g711
from appliance.dsp.speech_level import measure
from appliance.dsp.toneplan import Tone, available_plans, load_plan
from appliance.dsp.tones import ToneDetector, classify
from appliance.dtmf.detector import detect
from appliance.engine import prompts as prompts_module
from appliance.ivr import BUILTIN_PREFIX, BUILTIN_PROMPTS
from appliance.engine.playback import Playback
from appliance.engine.prompts import (
    BEEP_DBM0,
    BUILTINS,
    BEEP_HZ,
    BEEP_SECONDS,
    NORMAL_DBOV,
    PEAK_LIMIT,
    TARGET_DBOV,
    PromptError,
    PromptLibrary,
    default_prompt_dir,
)
from corpus import concatenated, speech_files

RATE = 8000
DBM0_SINE_RMS = 22827.6 / math.sqrt(2)  # 0 dBm0 (G.711): a sine of peak 22827.6
SINE_HZ = 1020.0
SINE_PEAK = 7320.0  # -16 dBov: inside NORMAL_DBOV, so the library leaves the level alone
SECONDS = 0.7531  # not a whole number of anything, so lengths are really checked
SHIPPED = ("welcome", "main-menu", "invalid", "no-input", "please-hold", "closed",
           "leave-message", "goodbye", "transferring", "enter-account",
           # the queue's announcements: place in line and expected wait
           *(f"position-{n}" for n in range(1, 10)), "position-more",
           *(f"wait-{n}" for n in range(0, 11)), "wait-more",
           # callbacks: the caller's confirmation, the agent's notice
           "callback-booked", "callback-offer")


def frequency_hz(samples, rate=RATE):
    """The strongest component, read from a spectrum zero-padded to 0.03 Hz bins."""
    x = samples.astype(np.float64) * np.hanning(samples.size)
    n = 1 << 18
    return float(np.argmax(np.abs(np.fft.rfft(x, n))) * rate / n)


def rms(samples):
    return float(np.sqrt(np.mean(samples.astype(np.float64) ** 2)))


def dbm0(samples):
    return 20.0 * math.log10(rms(samples) / DBM0_SINE_RMS)


def sine(rate, seconds=SECONDS, peak=SINE_PEAK, hz=SINE_HZ):
    t = np.arange(int(seconds * rate)) / rate
    return peak / 32768.0 * np.sin(2 * np.pi * hz * t)


# ---- files of every rate and format -----------------------------------------------------

FILES = [  # (id, rate, container, subtype, channels)
    ("wav-pcm16-8k", 8000, "WAV", "PCM_16", 1),
    ("wav-pcm16-16k", 16000, "WAV", "PCM_16", 1),
    ("wav-pcm16-44k1", 44100, "WAV", "PCM_16", 1),
    ("wav-pcm16-48k", 48000, "WAV", "PCM_16", 1),
    ("wav-pcm16-44k1-stereo", 44100, "WAV", "PCM_16", 2),
    ("wav-pcm16-8k-stereo", 8000, "WAV", "PCM_16", 2),
    ("wav-alaw-8k", 8000, "WAV", "ALAW", 1),
    ("wav-ulaw-8k", 8000, "WAV", "ULAW", 1),
    ("wav-alaw-16k", 16000, "WAV", "ALAW", 1),
    ("wav-float-48k", 48000, "WAV", "FLOAT", 1),
    ("wav-double-22k05-stereo", 22050, "WAV", "DOUBLE", 2),
    ("wav-pcm24-96k", 96000, "WAV", "PCM_24", 1),
    ("wav-u8-11k025", 11025, "WAV", "PCM_U8", 1),
    ("flac-8k", 8000, "FLAC", "PCM_16", 1),
    ("flac-44k1", 44100, "FLAC", "PCM_16", 1),
    ("flac-48k-stereo", 48000, "FLAC", "PCM_24", 2),
]


@pytest.mark.parametrize("rate, container, subtype, channels", [f[1:] for f in FILES],
                         ids=[f[0] for f in FILES])
def test_file_of_any_rate_and_format_loads_as_8khz_int16(tmp_path, rate, container, subtype,
                                                          channels):
    mono = sine(rate)
    # stereo: the right channel at half the left's level, so a mixdown (3/4 of the left)
    # is told apart from taking one channel
    data = mono if channels == 1 else np.stack([mono, 0.5 * mono], axis=1)
    path = tmp_path / f"prompt.{container.lower()}"
    soundfile.write(path, data, rate, subtype=subtype, format=container)

    audio = PromptLibrary([tmp_path]).load(path.name)

    assert audio.dtype == np.int16 and audio.ndim == 1
    assert abs(audio.size - mono.size * RATE / rate) <= 1
    steady = audio[400:-400]  # clear of the resampler's edges
    assert frequency_hz(steady) == pytest.approx(SINE_HZ, abs=0.5)
    expected = SINE_PEAK / math.sqrt(2) * (1.0 if channels == 1 else 0.75)
    quantisation = 0.3 if subtype == "PCM_U8" else 0.1  # 8-bit PCM: 48 dB SNR
    assert 20 * math.log10(rms(steady) / expected) == pytest.approx(0.0, abs=quantisation)


def test_8khz_pcm16_file_loads_sample_exact(tmp_path):
    samples = np.round(sine(RATE) * 32768).astype(np.int16)
    soundfile.write(tmp_path / "p.wav", samples, RATE, subtype="PCM_16")
    assert np.array_equal(PromptLibrary([tmp_path]).load("p.wav"), samples)


def test_alaw_file_loads_as_g711_decodes_it(tmp_path):
    codes = g711.alaw_encode(np.round(sine(RATE) * 32768).astype(np.int16))
    soundfile.write(tmp_path / "p.wav", g711.alaw_decode(codes), RATE, subtype="ALAW")
    assert np.array_equal(PromptLibrary([tmp_path]).load("p.wav"), g711.alaw_decode(codes))


# ---- converted once ---------------------------------------------------------------------

def test_file_is_converted_once_and_cached_read_only(tmp_path):
    path = tmp_path / "p.wav"
    soundfile.write(path, sine(16000), 16000, subtype="PCM_16")
    library = PromptLibrary([tmp_path])
    first = library.load("p.wav")
    assert library.load("p.wav") is first
    assert library.load(str(path)) is first  # the same file by another name: not read again
    assert not first.flags.writeable
    with pytest.raises(ValueError):
        first[0] = 1

    soundfile.write(path, sine(16000, hz=500.0), 16000, subtype="PCM_16")
    assert library.load("p.wav") is first  # a changed file counts only for a new library
    assert frequency_hz(PromptLibrary([tmp_path]).load("p.wav")) == pytest.approx(500, abs=0.5)


def test_folders_are_searched_in_order(tmp_path):
    mine, shipped = tmp_path / "mine", tmp_path / "shipped"
    mine.mkdir()
    shipped.mkdir()
    soundfile.write(shipped / "a.wav", sine(RATE, hz=500.0), RATE, subtype="PCM_16")
    soundfile.write(shipped / "b.wav", sine(RATE, hz=600.0), RATE, subtype="PCM_16")
    soundfile.write(mine / "a.wav", sine(RATE, hz=700.0), RATE, subtype="PCM_16")
    library = PromptLibrary([mine, shipped])
    assert frequency_hz(library.load("a.wav")) == pytest.approx(700, abs=0.5)
    assert frequency_hz(library.load("b.wav")) == pytest.approx(600, abs=0.5)
    assert library.paths("x.wav") == [mine / "x.wav", shipped / "x.wav"]
    assert library.paths(str(shipped / "b.wav")) == [shipped / "b.wav"]


# ---- bad files and names ----------------------------------------------------------------

def _missing(folder):
    return folder / "nothing-here.wav"


def _garbage(folder):
    path = folder / "garbage.wav"
    path.write_bytes(b"this is not audio at all, just some text\n" * 50)
    return path


def _empty(folder):
    path = folder / "empty.wav"
    path.write_bytes(b"")
    return path


def _truncated(folder):
    path = folder / "truncated.wav"
    soundfile.write(path, sine(RATE), RATE, subtype="PCM_16")
    path.write_bytes(path.read_bytes()[:30])  # cut inside the fmt chunk
    return path


def _directory(folder):
    path = folder / "folder.wav"
    path.mkdir()
    return path


def _raw(folder):
    path = folder / "prompt.raw"
    path.write_bytes(bytes(800))
    return path


BAD_FILES = [("missing", _missing, "not found"), ("garbage", _garbage, "not an audio file"),
             ("empty", _empty, "empty"), ("truncated", _truncated, ""),
             ("directory", _directory, ""), ("raw", _raw, "headerless")]


@pytest.mark.parametrize("make, problem", [b[1:] for b in BAD_FILES],
                         ids=[b[0] for b in BAD_FILES])
def test_bad_file_raises_prompt_error_naming_the_file(tmp_path, make, problem):
    path = make(tmp_path)
    library = PromptLibrary([tmp_path])
    with pytest.raises(PromptError) as caught:
        library.load(path.name)
    message = str(caught.value)
    assert repr(path.name) in message and str(path) in message and problem in message
    assert caught.value.prompt == path.name and caught.value.fix in message


def test_missing_file_names_every_place_looked_and_where_to_put_it(tmp_path):
    library = PromptLibrary([tmp_path / "a", tmp_path / "b"])
    with pytest.raises(PromptError) as caught:
        library.load("x.wav")
    assert caught.value.paths == (str(tmp_path / "a" / "x.wav"), str(tmp_path / "b" / "x.wav"))
    assert f"put the file in {tmp_path / 'a'}" in str(caught.value)


@pytest.mark.parametrize("name, problem", [
    ("builtin:chime", "no such built-in prompt"),
    ("tone:howler", "has no such tone"),
    ("../etc/passwd", "'..'"),
    ("", "not a usable file name"),
])
def test_bad_name_raises_prompt_error(tmp_path, name, problem):
    with pytest.raises(PromptError, match=problem):
        PromptLibrary([tmp_path]).load(name)


def test_preload_returns_every_failure_and_keeps_the_rest(tmp_path):
    soundfile.write(tmp_path / "good.wav", sine(RATE), RATE, subtype="PCM_16")
    _garbage(tmp_path)
    library = PromptLibrary([tmp_path])
    errors = library.preload(["good.wav", "garbage.wav", "missing.wav", "builtin:nope",
                              "builtin:beep", "missing.wav", "tone:busy"])
    assert [e.prompt for e in errors] == ["garbage.wav", "missing.wav", "builtin:nope"]
    assert all(isinstance(e, PromptError) for e in errors)
    good = library.load("good.wav")
    assert library.preload(["good.wav"]) == [] and library.load("good.wav") is good


WAV_HEADER = bytes.fromhex("52494646" "24080000" "57415645" "666d7420" "10000000"
                           "0100" "0100" "401f0000" "803e0000" "0200" "1000"
                           "64617461" "00080000")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=st.binary(max_size=2000), header=st.booleans(), suffix=st.sampled_from(
    [".wav", ".flac", ".au", ".aiff", ""]))
def test_random_bytes_give_prompt_error_or_audio(body, header, suffix):
    """Whatever a file holds, the library answers with audio or a PromptError, nothing else."""
    with tempfile.TemporaryDirectory() as folder:
        name = "p" + suffix
        Path(folder, name).write_bytes((WAV_HEADER if header else b"") + body)
        try:
            audio = PromptLibrary([folder]).load(name)
        except PromptError as exc:
            assert name in str(exc)
        else:
            assert audio.dtype == np.int16 and audio.ndim == 1 and not audio.flags.writeable


# ---- levels -----------------------------------------------------------------------------

def test_prompt_at_a_normal_level_is_left_alone(tmp_path):
    low, high = NORMAL_DBOV
    for level in (low + 0.5, (low + high) / 2, high - 0.5):  # a sine's P.56 level is its RMS
        peak = 32768 * 10 ** ((level + 3.0103) / 20)
        samples = np.round(sine(RATE, 2.0, peak=peak) * 32768).astype(np.int16)
        soundfile.write(tmp_path / "p.wav", samples, RATE, subtype="PCM_16")
        assert np.array_equal(PromptLibrary([tmp_path]).load("p.wav"), samples)


def test_quiet_speech_is_raised_to_the_target_without_clipping(tmp_path):
    speech, _ = concatenated(speech_files()[:6])
    quiet = np.round(speech * 10 ** (-24 / 20)).astype(np.int16)
    assert measure(quiet).active_dbfs < NORMAL_DBOV[0]
    soundfile.write(tmp_path / "quiet.wav", quiet, RATE, subtype="PCM_16")
    audio = PromptLibrary([tmp_path]).load("quiet.wav")
    assert measure(audio).active_dbfs == pytest.approx(TARGET_DBOV, abs=0.3)
    assert np.abs(audio.astype(np.int32)).max() <= PEAK_LIMIT


def test_hot_prompt_is_lowered_to_the_target(tmp_path):
    square = np.where(sine(RATE, 2.0) >= 0, 32000, -32000).astype(np.int16)  # -0.2 dBov
    soundfile.write(tmp_path / "hot.wav", square, RATE, subtype="PCM_16")
    audio = PromptLibrary([tmp_path]).load("hot.wav")
    assert measure(audio).active_dbfs == pytest.approx(TARGET_DBOV, abs=0.1)


def test_quiet_prompt_with_high_peaks_stops_at_the_peak_limit(tmp_path):
    clicks = np.zeros(16000, dtype=np.int16)
    clicks[::4000] = 16000  # almost nothing, with a few strong peaks: no clipping allowed
    clicks[100:8020] += np.round(sine(RATE, 0.99, peak=50.0) * 32768).astype(np.int16)
    soundfile.write(tmp_path / "clicks.wav", clicks, RATE, subtype="PCM_16")
    audio = PromptLibrary([tmp_path]).load("clicks.wav")
    assert np.abs(audio.astype(np.int32)).max() == pytest.approx(PEAK_LIMIT, abs=1)
    assert measure(audio).active_dbfs < TARGET_DBOV


# ---- built-ins --------------------------------------------------------------------------

def test_beep_is_at_its_frequency_level_and_length():
    beep = PromptLibrary().load("builtin:beep")
    assert beep.size == BEEP_SECONDS * RATE
    steady = beep[80:-80]
    assert frequency_hz(steady) == pytest.approx(BEEP_HZ, abs=0.5)
    assert dbm0(steady) == pytest.approx(BEEP_DBM0, abs=0.05)
    assert max(abs(int(beep[0])), abs(int(beep[-1]))) < 0.05 * np.abs(steady).max()
    assert detect(beep) == []
    for plan in available_plans():
        assert classify(np.tile(beep, 4), plan) == []


def test_every_builtin_the_ivr_accepts_is_made_here():
    library = PromptLibrary()
    assert set(BUILTINS) == set(BUILTIN_PROMPTS)
    for name in BUILTIN_PROMPTS:
        assert library.load(BUILTIN_PREFIX + name).dtype == np.int16


def test_silence_is_one_second_of_zeros():
    silence = PromptLibrary().load("builtin:silence")
    assert silence.dtype == np.int16 and silence.size == RATE and not silence.any()


# ---- call-progress tones ----------------------------------------------------------------

def _looped_through_g711(cycle, seconds, law):
    playback = Playback()
    playback.play("port", [cycle], loop=True)
    ticks = int(seconds * 50)
    audio = np.concatenate([playback.frame(["port"])[0][0] for _ in range(ticks)])
    return g711.DECODERS[law](g711.ENCODERS[law](audio))


PLAN_TONES = [(plan, tone) for plan in available_plans() for tone in load_plan(plan).tones]


@pytest.mark.parametrize("plan, tone", PLAN_TONES,
                         ids=[f"{p}-{t.value}" for p, t in PLAN_TONES])
def test_tone_cycle_played_in_a_loop_through_g711_is_recognised(plan, tone):
    """One cadence cycle looped by the playout, A-law (cn, etsi) or mu-law (us) coded, is
    the plan's tone for its own call-progress detector; nothing else is reported."""
    cycle = PromptLibrary(tone_plan=plan).load(f"tone:{tone.value}")
    seconds = max(4.0, 3 * cycle.size / RATE)
    audio = _looped_through_g711(cycle, seconds, "ulaw" if plan == "us" else "alaw")
    events = ToneDetector(plan).feed(audio)
    assert events and {e.tone for e in events} == {tone}


@pytest.mark.parametrize("plan", ["cn", "us"])
def test_busy_tone_loop_is_busy_for_the_detector(plan):
    cycle = PromptLibrary(tone_plan=plan).load("tone:busy")
    audio = _looped_through_g711(cycle, 4.0, "ulaw" if plan == "us" else "alaw")
    assert [e.tone for e in classify(audio, plan)] == [Tone.BUSY]


@pytest.mark.parametrize("plan", available_plans())
def test_continuous_tone_cycle_joins_without_a_click(plan):
    """Looped, the dial-tone cycle is the tone generator's own continuous tone."""
    tone_plan = load_plan(plan)
    cycle = PromptLibrary(tone_plan=plan).load("tone:dial")
    continuous = tone_plan.render(Tone.DIAL, 3 * cycle.size / RATE)
    looped = np.tile(cycle, 3).astype(np.int32)
    assert np.abs(looped - continuous).max() <= 0.01 * np.abs(continuous).max()


@pytest.mark.parametrize("plan, tone", PLAN_TONES,
                         ids=[f"{p}-{t.value}" for p, t in PLAN_TONES])
def test_cadenced_tone_cycle_is_one_cadence(plan, tone):
    spec = load_plan(plan).tones[tone]
    cycle = PromptLibrary(tone_plan=plan).load(f"tone:{tone.value}")
    if spec.continuous:
        assert cycle.size % 160 == 0 and cycle.size >= RATE
    else:
        assert cycle.size == round(sum(el.seconds[0] for el in spec.elements) * RATE)
        assert cycle[-1] == 0  # every cadence ends in its silence


# ---- music on hold ----------------------------------------------------------------------

def test_music_on_hold_has_no_dtmf_and_no_call_progress_tone():
    music = PromptLibrary().music()
    assert music.dtype == np.int16 and 3 * RATE <= music.size <= 30 * RATE
    looped = np.tile(music, 2)
    assert detect(looped) == []
    for law in ("alaw", "ulaw"):
        assert detect(g711.DECODERS[law](g711.ENCODERS[law](looped))) == []
    for plan in available_plans():
        assert classify(looped, plan) == []


def test_music_on_hold_is_below_speech_and_loops_without_a_click():
    music = PromptLibrary().music()
    assert -30.0 <= measure(music).active_dbfs <= -16.0
    steps = np.abs(np.diff(music.astype(np.int32)))
    assert abs(int(music[0]) - int(music[-1])) <= steps.max()
    library = PromptLibrary()
    assert library.music() is library.music() and not library.music().flags.writeable


def test_music_on_hold_has_nothing_in_the_dtmf_high_group():
    music = PromptLibrary().music().astype(np.float64)
    power = np.abs(np.fft.rfft(music)) ** 2
    freqs = np.fft.rfftfreq(music.size, 1 / RATE)
    high = power[(freqs > 1150) & (freqs < 1700)].sum() / power.sum()
    assert 10 * math.log10(high) < -50


# ---- the shipped prompt set -------------------------------------------------------------

def test_shipped_set_is_complete_small_8khz_mono():
    folder = default_prompt_dir()
    assert folder == Path(prompts_module.__file__).resolve().parent / "prompts" / "default"
    files = sorted(folder.glob("*.wav"))
    assert {f.stem for f in files} == set(SHIPPED)
    assert sum(f.stat().st_size for f in files) < 800_000
    for f in files:
        info = soundfile.info(f)
        assert (info.samplerate, info.channels, info.subtype) == (RATE, 1, "ALAW"), f.name


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_prompt_is_speech_level_and_dials_nothing(name):
    audio = PromptLibrary([default_prompt_dir()]).load(f"{name}.wav")
    level = measure(audio)
    assert -30.0 <= level.active_dbfs <= -10.0 and 0.3 <= level.activity <= 0.95
    assert 1.0 <= audio.size / RATE <= 8.0
    assert detect(audio) == []
    for plan in available_plans():
        assert classify(audio, plan) == []



def test_config_check_finds_the_shipped_prompts_where_the_library_does(tmp_path):
    from appliance.config import parse_config, sample_path
    from appliance.config.load import SHIPPED_PROMPTS

    assert SHIPPED_PROMPTS.resolve() == default_prompt_dir()
    text = sample_path().read_text(encoding="utf-8").replace(
        "prompts = \"builtin:beep\"", "prompts = [\"welcome.wav\", \"main-menu.wav\"]")
    config = parse_config(text, folder=tmp_path)  # no prompts_dir: the file's folder
    library = PromptLibrary(config.ivr.prompt_dirs)
    assert library.preload(["welcome.wav", "main-menu.wav"]) == []

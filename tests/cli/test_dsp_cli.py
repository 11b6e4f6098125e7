"""`appliance dsp ...` through click's CliRunner in an isolated filesystem."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile
from click.testing import CliRunner

from appliance.cli import main
from appliance.dsp import g711
from appliance.dsp.audiofile import read_audio, write_audio
from appliance.dsp.toneplan import load_plan
from appliance.dsp.tones import classify
from appliance.dtmf import generate
from appliance.dtmf.digits import DIGITS

def _runner():
    try:  # click < 8.2 mixes stderr into output unless told not to
        return CliRunner(mix_stderr=False)
    except TypeError:
        return CliRunner()


@pytest.fixture
def run(tmp_path, monkeypatch):
    """Runs `appliance ARGS...` in a fresh empty working directory (an isolated filesystem:
    click's own `isolated_filesystem` does the same but recent click deprecates it)."""
    monkeypatch.chdir(tmp_path)
    runner = _runner()

    def invoke(*args):
        return runner.invoke(main, [str(a) for a in args], prog_name="appliance",
                             catch_exceptions=False)
    return invoke


def _digits(stdout):
    return [line.split() for line in stdout.splitlines()]


# --- gen-dtmf and dtmf -------------------------------------------------------------------


def test_gen_dtmf_then_dtmf_recovers_all_16_digits_within_10ms(run):
    result = run("dsp", "gen-dtmf", DIGITS, "-o", "digits.wav")
    assert result.exit_code == 0, result.stderr
    assert "wrote digits.wav: 16 digits, 3.200 s, pcm16" in result.stdout
    result = run("dsp", "dtmf", "digits.wav")
    assert result.exit_code == 0, result.stderr
    rows = _digits(result.stdout)
    assert [row[0] for row in rows] == list(DIGITS)
    for i, (_, start, end) in enumerate(rows):
        assert abs(float(start) - 0.2 * i) <= 0.010
        assert abs(float(end) - (0.2 * i + 0.1)) <= 0.010
    assert result.stderr == ""


@pytest.mark.parametrize("fmt", ["alaw", "ulaw", "flac"])
def test_dtmf_reads_every_output_format_of_gen_dtmf(run, fmt):
    name = "d.flac" if fmt == "flac" else "d.wav"
    assert run("dsp", "gen-dtmf", "159#", "-o", name, "--format", fmt,
               "--on-ms", 40, "--off-ms", 40, "--level", -25).exit_code == 0
    rows = _digits(run("dsp", "dtmf", name).stdout)
    assert [row[0] for row in rows] == list("159#")
    for i, (_, start, end) in enumerate(rows):
        assert abs(float(start) - 0.08 * i) <= 0.010
        assert abs(float(end) - (0.08 * i + 0.04)) <= 0.010


def test_dtmf_json_lines_parse(run):
    run("dsp", "gen-dtmf", "*0#", "-o", "d.wav", "--on-ms", 60, "--off-ms", 90)
    result = run("dsp", "dtmf", "d.wav", "--json")
    assert result.exit_code == 0
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert [e["digit"] for e in events] == ["*", "0", "#"]
    for i, e in enumerate(events):
        assert set(e) == {"digit", "start", "end"}
        assert abs(e["start"] - 0.15 * i) <= 0.010
        assert abs(e["end"] - (0.15 * i + 0.06)) <= 0.010


def test_dtmf_resamples_and_takes_the_chosen_channel(run):
    rate = 44100
    left = generate("12", rate=rate, on_ms=80, off_ms=80)
    right = generate("9D", rate=rate, on_ms=80, off_ms=80)
    soundfile.write("stereo.wav", np.stack([left, right], axis=1), rate, subtype="PCM_16")
    assert [r[0] for r in _digits(run("dsp", "dtmf", "stereo.wav", "--channel", "left").stdout)] \
        == ["1", "2"]
    rows = _digits(run("dsp", "dtmf", "stereo.wav", "--channel", 1).stdout)
    assert [r[0] for r in rows] == ["9", "D"]
    assert abs(float(rows[1][1]) - 0.16) <= 0.010


def test_dtmf_on_silence_prints_nothing(run):
    write_audio("quiet.wav", np.zeros(8000, np.int16))
    result = run("dsp", "dtmf", "quiet.wav")
    assert (result.exit_code, result.stdout, result.stderr) == (0, "", "")


def test_gen_dtmf_writes_level_twist_timing_and_format(run):
    result = run("dsp", "gen-dtmf", "5a", "-o", "d.wav", "--level", -20, "--twist", -4,
                 "--on-ms", 50, "--off-ms", 30, "--format", "alaw")
    assert result.exit_code == 0, result.stderr
    assert soundfile.info("d.wav").subtype == "ALAW"
    x = read_audio("d.wav")
    expected = generate("5A", level_dbm0=-20, twist_db=-4, on_ms=50, off_ms=30)
    np.testing.assert_array_equal(x, g711.alaw_decode(g711.alaw_encode(expected)))


# --- transcode ---------------------------------------------------------------------------


def test_transcode_round_trip_through_every_format(run):
    x = generate("0123456789", level_dbm0=-3, on_ms=50, off_ms=50)
    write_audio("in.wav", x)
    assert run("dsp", "transcode", "in.wav", "in.flac", "--to", "flac").exit_code == 0
    np.testing.assert_array_equal(read_audio("in.flac"), x)
    for law in ("alaw", "ulaw"):
        assert run("dsp", "transcode", "in.flac", f"{law}.wav", "--to", law).exit_code == 0
        assert soundfile.info(f"{law}.wav").subtype == law.upper()
        coded = g711.DECODERS[law](g711.ENCODERS[law](x))
        result = run("dsp", "transcode", f"{law}.wav", f"{law}-back.wav", "--to", "pcm16")
        assert result.exit_code == 0
        assert result.stdout == f"wrote {law}-back.wav: 1.000 s, pcm16\n"
        assert soundfile.info(f"{law}-back.wav").subtype == "PCM_16"
        np.testing.assert_array_equal(read_audio(f"{law}-back.wav"), coded)


def test_transcode_takes_a_channel_and_resamples_to_8khz(run):
    rate = 16000
    left = np.zeros(rate, np.int16)
    right = generate("7", rate=rate, on_ms=500, off_ms=500)
    soundfile.write("st.wav", np.stack([left, right], axis=1), rate, subtype="PCM_16")
    result = run("dsp", "transcode", "st.wav", "mono.wav", "--to", "pcm16", "--channel", "right")
    assert result.exit_code == 0, result.stderr
    info = soundfile.info("mono.wav")
    assert (info.samplerate, info.channels, info.frames) == (8000, 1, 8000)
    assert [r[0] for r in _digits(run("dsp", "dtmf", "mono.wav").stdout)] == ["7"]


# --- tones -------------------------------------------------------------------------------


def _silence(seconds):
    return np.zeros(int(round(seconds * 8000)), np.int16)


def _tone_rows(stdout):
    return [line.split() for line in stdout.splitlines()]


def test_tones_reports_china_busy_tone_with_times(run):
    # 0.5 s of silence, then 3.5 s of busy (0.35 s on / 0.35 s off): the last tone-on
    # segment ends at 0.5 + 3.15 s.
    busy = load_plan("cn").render("busy", 3.5)
    write_audio("busy.wav", np.concatenate([_silence(0.5), busy, _silence(1.0)]))
    result = run("dsp", "tones", "busy.wav", "--plan", "cn")
    assert result.exit_code == 0, result.stderr
    [(name, start, detected, end)] = _tone_rows(result.stdout)
    assert name == "BUSY"
    assert abs(float(start) - 0.5) <= 0.010
    assert float(start) < float(detected) <= 0.5 + 2 * 0.7  # within two cadence cycles
    assert abs(float(end) - 3.65) <= 0.010
    assert run("dsp", "tones", "busy.wav").stdout == result.stdout  # cn is the default


def test_tones_json_lines_parse_and_follow_the_plan(run):
    # US ringback, 2 s on / 4 s off; a ring cut short by the end of the recording breaks
    # the cadence, so the tone ends with the second full ring.
    ring = load_plan("us").render("ringback", 13.0)
    write_audio("ring.wav", np.concatenate([_silence(0.5), ring, _silence(1.0)]))
    result = run("dsp", "tones", "ring.wav", "--plan", "us", "--json")
    assert result.exit_code == 0, result.stderr
    [event] = [json.loads(line) for line in result.stdout.splitlines()]
    assert set(event) == {"tone", "start", "detected", "end", "level_dbm0"}
    assert event["tone"] == "RINGBACK"
    assert abs(event["start"] - 0.5) <= 0.010 and abs(event["end"] - 8.5) <= 0.010
    assert event["start"] < event["detected"] < event["end"]
    [direct] = classify(read_audio("ring.wav"), plan="us")
    assert event["level_dbm0"] == round(direct.level_dbm0, 1)
    # The same recording under China's plan holds no tone (US ringback is 440+480 Hz).
    assert run("dsp", "tones", "ring.wav", "--plan", "cn").stdout == ""


def test_tones_takes_a_plan_file(run):
    from importlib import resources

    shipped = resources.files("appliance.dsp") / "tone_plans" / "cn.toml"
    Path("my-plan.toml").write_bytes(shipped.read_bytes())
    write_audio("dial.wav", np.concatenate([_silence(0.25), load_plan("cn").render("dial", 3.0)]))
    result = run("dsp", "tones", "dial.wav", "--plan", "my-plan.toml")
    assert result.exit_code == 0, result.stderr
    [(name, start, detected, end)] = _tone_rows(result.stdout)
    assert (name, abs(float(start) - 0.25) <= 0.010, abs(float(end) - 3.25) <= 0.010) == (
        "DIAL", True, True)
    assert result.stdout == run("dsp", "tones", "dial.wav", "--plan", "cn").stdout


# --- bad input: one line on stderr, exit 2 -----------------------------------------------


def _make_inputs():
    Path("notes.wav").write_text("not audio at all\n" * 50)
    Path("empty.wav").write_bytes(b"")
    soundfile.write("stereo.wav", np.zeros((800, 2), np.int16), 8000, subtype="PCM_16")
    write_audio("ok.wav", generate("1"))
    Path("plan.toml").write_text("[plan\nname = 1\n")


BAD_INPUTS = [
    # (argv, words the one line must contain)
    (["dsp", "dtmf", "missing.wav"], ["missing.wav", "no such file"]),
    (["dsp", "dtmf", "notes.wav"], ["notes.wav", "not an audio file"]),
    (["dsp", "dtmf", "empty.wav"], ["empty.wav", "empty"]),
    (["dsp", "dtmf", "stereo.wav"], ["stereo.wav", "2 channels", "--channel"]),
    (["dsp", "dtmf", "stereo.wav", "--channel", "2"], ["stereo.wav", "no channel 2"]),
    (["dsp", "dtmf", "ok.wav", "--channel", "right"], ["ok.wav", "mono"]),
    (["dsp", "dtmf", "."], ["is a directory"]),
    (["dsp", "dtmf"], ["Missing argument 'FILE'"]),
    (["dsp", "tones", "missing.wav"], ["missing.wav", "no such file"]),
    (["dsp", "tones", "stereo.wav", "--plan", "us"], ["stereo.wav", "--channel"]),
    (["dsp", "tones", "ok.wav", "--plan", "mars"], ["--plan", "'mars'", "no such plan", "cn"]),
    (["dsp", "tones", "ok.wav", "--plan", "plan.toml"], ["--plan", "plan.toml", "TOML"]),
    (["dsp", "tones", "ok.wav", "--plan", "gone.toml"], ["--plan", "gone.toml", "cannot read"]),
    (["dsp", "transcode", "notes.wav", "o.wav", "--to", "alaw"], ["notes.wav", "not an audio"]),
    (["dsp", "transcode", "ok.wav", "o.wav", "--to", "mp3"], ["--to", "'mp3'"]),
    (["dsp", "transcode", "ok.wav", "o.wav"], ["--to"]),
    (["dsp", "transcode", "ok.wav", "nodir/o.wav", "--to", "pcm16"], ["nodir", "does not exist"]),
    (["dsp", "transcode", "ok.wav", "o.wav", "--to", "flac"], ["o.wav", "name it o.flac"]),
    (["dsp", "gen-dtmf", "12x4", "-o", "d.wav"], ["DIGITS", "'X' is not a DTMF digit"]),
    (["dsp", "gen-dtmf", "1E2F", "-o", "d.wav"], ["DIGITS", "'EF' are not DTMF digits"]),
    (["dsp", "gen-dtmf", "", "-o", "d.wav"], ["DIGITS", "no digits"]),
    (["dsp", "gen-dtmf", "123"], ["-o"]),
    (["dsp", "gen-dtmf", "1", "-o", "d.wav", "--level", "0"], ["--level", "clip"]),
    (["dsp", "gen-dtmf", "1", "-o", "d.wav", "--level", "nan"], ["--level", "finite"]),
    (["dsp", "gen-dtmf", "1", "-o", "d.wav", "--level", "-99"], ["--level"]),
    (["dsp", "gen-dtmf", "1", "-o", "d.wav", "--level", "-5", "--twist", "10"],
     ["--twist", "high group", "5.0 dBm0"]),
    (["dsp", "gen-dtmf", "1", "-o", "d.wav", "--twist", "12"], ["--level", "clip", "--twist"]),
    (["dsp", "gen-dtmf", "1", "-o", "d.wav", "--on-ms", "0"], ["--on-ms"]),
    (["dsp", "gen-dtmf", "1", "-o", "d.wav", "--format", "gsm"], ["--format", "'gsm'"]),
    (["dsp", "gen-dtmf", "1", "-o", "nodir/d.wav"], ["nodir", "does not exist"]),
    (["dsp", "no-such-command"], ["no-such-command"]),
]


@pytest.mark.parametrize("argv,words", BAD_INPUTS, ids=[" ".join(a) for a, _ in BAD_INPUTS])
def test_bad_input_gives_one_line_on_stderr_and_exit_2(run, argv, words):
    _make_inputs()
    result = run(*argv)
    assert result.exit_code == 2, (result.stdout, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ")
    if "Invalid value" in lines[0] or "Missing" in lines[0]:
        assert f"(see 'appliance {' '.join(argv[:2])} --help')" in lines[0]
    for word in words:
        assert word in lines[0], lines[0]
    assert result.stdout == ""
    assert not Path("d.wav").exists() and not Path("o.wav").exists()


def test_bad_plan_file_is_checked_before_reading_audio(run):
    result = run("dsp", "tones", "missing.wav", "--plan", "missing.toml")
    assert result.exit_code == 2
    assert "--plan" in result.stderr and "missing.toml" in result.stderr


# --- the entry point ---------------------------------------------------------------------


def test_python_m_appliance_help_runs_in_a_subprocess():
    done = subprocess.run([sys.executable, "-m", "appliance", "--help"], capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert "Usage:" in done.stdout and "dsp" in done.stdout
    assert done.stderr == ""

"""`appliance dsp callerid FILE`: caller ID in recordings, every bad input one line + exit 2."""

import json

import numpy as np
import pytest
import soundfile
from click.testing import CliRunner

from appliance.cli import main
from appliance.dsp import fsk
from appliance.dsp.callerid import CallerIdTime, build_message, encode

WHEN = CallerIdTime(3, 14, 9, 26)


@pytest.fixture
def runner():
    return CliRunner()


def _write(path, samples, rate=8000, subtype="PCM_16"):
    soundfile.write(str(path), samples, rate, subtype=subtype)
    return str(path)


def _recording():
    gap = np.zeros(4000, np.int16)
    bad = bytearray(build_message("999"))
    bad[-1] ^= 1
    rejected = fsk.modulate(np.concatenate([fsk.mark_bits(180), fsk.frame_bytes(bad),
                                            fsk.mark_bits(4)]), "v23")
    return np.concatenate([
        gap, encode("5551234567", "DOE JANE", WHEN, format="bell202", level_dbm0=-30.0),
        gap, encode("0123456", format="v23"),
        gap, rejected,
        gap, encode(None, format="dtmf", number_absent="P"), gap])


def test_callerid_lists_every_message_in_time_order(runner, tmp_path):
    path = _write(tmp_path / "line.wav", _recording())
    result = runner.invoke(main, ["dsp", "callerid", path])
    assert result.exit_code == 0, result.output
    lines = [line.split("  ") for line in result.output.splitlines()]
    assert [line[1:] for line in lines] == [
        ["bell202", "MDMF", "5551234567", "DOE JANE", "03-14 09:26"],
        ["v23", "MDMF", "0123456", "-", "-"],
        ["rejected", "bad checksum: received 0xca, expected 0xcb"],
        ["dtmf", "DTMF", "(private)", "-", "-"],
    ]
    times = [float(line[0]) for line in lines]
    assert times == sorted(times)


def test_callerid_json_lines(runner, tmp_path):
    path = _write(tmp_path / "line.wav", _recording())
    result = runner.invoke(main, ["dsp", "callerid", path, "--json"])
    assert result.exit_code == 0
    records = [json.loads(line) for line in result.output.splitlines()]
    assert records[0]["number"] == "5551234567" and records[0]["when"]["minute"] == 26
    assert records[2]["rejected"].startswith("bad checksum")
    assert records[3]["number_absent"] == "P"


@pytest.mark.parametrize("subtype,rate", [("ULAW", 8000), ("ALAW", 8000), ("PCM_16", 16000)])
def test_callerid_reads_g711_and_other_rates(runner, tmp_path, subtype, rate):
    audio = encode("5551234567", format="v23", level_dbm0=-20.0)
    if rate != 8000:
        audio = encode("5551234567", format="v23", level_dbm0=-20.0, rate=rate)
    path = _write(tmp_path / "cid.wav", np.concatenate([audio, np.zeros(800, np.int16)]), rate,
                  subtype)
    result = runner.invoke(main, ["dsp", "callerid", path])
    assert result.exit_code == 0
    assert "5551234567" in result.output


def test_callerid_prints_nothing_without_caller_id(runner, tmp_path):
    path = _write(tmp_path / "quiet.wav", np.zeros(8000, np.int16))
    result = runner.invoke(main, ["dsp", "callerid", path])
    assert result.exit_code == 0 and result.output == ""


def test_callerid_channel_of_a_stereo_file(runner, tmp_path):
    audio = encode("5551234567", format="bell202")
    stereo = np.zeros((audio.size + 800, 2), np.int16)
    stereo[:audio.size, 1] = audio
    path = _write(tmp_path / "stereo.wav", stereo)
    result = runner.invoke(main, ["dsp", "callerid", path, "--channel", "right"])
    assert result.exit_code == 0 and "5551234567" in result.output


@pytest.mark.parametrize("case", ["missing", "directory", "not audio", "empty", "stereo",
                                  "bad channel"])
def test_callerid_bad_input_is_one_line_and_exit_2(runner, tmp_path, case):
    args = []
    if case == "missing":
        path = str(tmp_path / "nope.wav")
    elif case == "directory":
        path = str(tmp_path)
    elif case == "not audio":
        path = str(tmp_path / "text.wav")
        (tmp_path / "text.wav").write_text("hello")
    elif case == "empty":
        path = str(tmp_path / "empty.wav")
        (tmp_path / "empty.wav").write_bytes(b"")
    else:
        path = _write(tmp_path / "stereo.wav", np.zeros((800, 2), np.int16))
        if case == "bad channel":
            args = ["--channel", "7"]
    result = runner.invoke(main, ["dsp", "callerid", path, *args])
    assert result.exit_code == 2
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert len(result.output.strip().splitlines()) == 1
    assert result.output.startswith("Error: ")

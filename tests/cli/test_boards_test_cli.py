"""`appliance boards test URL`: the installer's line tests through click's CliRunner against
an emulated board on TCP with a loopback cable (FXS 2 to FXO 0, virtual clock), and once as
subprocesses: `appliance emulate --cable` and `appliance boards test` on its URL."""

import asyncio
import contextlib
import json
import socket
import subprocess
import sys
import threading

import pytest
from click.testing import CliRunner

from appliance.cli import main
from appliance.drivers.emulated_board import EmulatorRunner, emulated_board, serve_tcp


def _runner():
    try:  # click < 8.2 mixes stderr into output unless told not to
        return CliRunner(mix_stderr=False)
    except TypeError:
        return CliRunner()


@pytest.fixture
def run():
    runner = _runner()

    def invoke(*args):
        return runner.invoke(main, [str(a) for a in args], prog_name="appliance",
                             catch_exceptions=False)
    return invoke


@pytest.fixture(scope="module")
def bench():
    """The URL of an emulated 2fxo+2fxs board with FXS 2 cabled to FXO 0, on TCP."""
    started, box = threading.Event(), {}

    async def serve():
        session = emulated_board("2fxo+2fxs", cables=[(2, 0)], virtual=True, serial="EMU-LT")
        runner = EmulatorRunner(session).start()
        box["url"] = (await serve_tcp(runner)).url
        box["stop"], box["loop"] = asyncio.Event(), asyncio.get_running_loop()
        started.set()
        await box["stop"].wait()
        await runner.stop()

    thread = threading.Thread(target=asyncio.run, args=(serve(),), daemon=True)
    thread.start()
    assert started.wait(30)
    try:
        yield box["url"]
    finally:
        box["loop"].call_soon_threadsafe(box["stop"].set)
        thread.join(30)


def test_with_no_options_every_fxo_line_is_measured(run, bench):
    result = run("boards", "test", bench)
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"VB-2FXO2FXS  serial EMU-LT  {bench}"
    assert lines[1] == "FXO lines"
    assert lines[2].split() == ["port", "on-hook", "V", "off-hook", "V", "loop", "mA",
                                "polarity", "result"]
    assert [line.split() for line in lines[3:]] == [
        ["0", "48.0", "9.0", "25.0", "normal", "ok"],
        ["1", "48.0", "9.0", "25.0", "normal", "ok"]]


def test_loopback_reports_ring_trip_digits_and_levels(run, bench):
    result = run("boards", "test", bench, "--loopback", "2:0", "--level", "-20",
                 "--digits", "159#")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[1].startswith("loopback FXS 2 - FXO 0: ring seen on FXO 0 after ")
    assert lines[1].endswith("; ok") and "ring trip on FXS 2" in lines[1]
    assert lines[3].split() == ["FXS", "2", "FXO", "0", "159#", "159#", "-20.0", "-20.0",
                                "ok"]
    assert lines[4].split() == ["FXO", "0", "FXS", "2", "159#", "159#", "-20.0", "-20.0",
                                "ok"]


def test_json_gives_every_result(run, bench):
    result = run("boards", "test", bench, "--fxo", "1", "--loopback", "2:0", "--json")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert (data["ok"], data["serial"], data["station"]) == (True, "EMU-LT", None)
    assert data["fxo"] == [{"port": 1, "on_hook_v": 48.0, "off_hook_v": 9.0, "loop_ma": 25.0,
                            "polarity": "normal", "ok": True, "problem": None}]
    there, back = data["loopback"]["directions"]
    assert (there["source"], there["receiver"], back["source"], back["receiver"]) == \
        (2, 0, 0, 2)
    assert there["detected"] == back["detected"] == "1234567890*#ABCD"
    assert {x["low_dbm0"] for x in there["levels"] + back["levels"]} == {-10.0}


def test_a_failed_test_is_exit_1_with_its_cause(run, bench):
    result = run("boards", "test", bench, "--ring", "3", "--ring-seconds", "1")
    assert result.exit_code == 1
    assert result.stdout.splitlines()[1] == (
        "ring FXS 3: rang 1.0 s; FAILED: nobody answered in 1 s: lift the handset while it "
        "rings; if it never rang, check the phone's cable and ringer")


def test_a_loopback_without_a_cable_is_exit_1(run, bench):
    result = run("boards", "test", bench, "--loopback", "3:1", "--json")
    assert result.exit_code == 1
    loopback = json.loads(result.stdout)["loopback"]
    assert not loopback["ok"] and "is the cable between ports 3 and 1?" in loopback["problem"]


@pytest.mark.parametrize("args, words", [
    (["--ring", "0"], "--ring 0: port 0 is FXO, not FXS (its FXS ports: 2, 3)"),
    (["--fxo", "2"], "--fxo 2: port 2 is FXS, not FXO (its FXO ports: 0, 1)"),
    (["--loopback", "0:2"], "--loopback 0:2: port 0 is FXO, not FXS"),
    (["--loopback", "2:0,3:1"], "one FXS:FXO pair"),
    (["--loopback", "two"], "is not a cable"),
    (["--fxo", "a,b"], "write port numbers separated by commas"),
    (["--digits", "12X", "--loopback", "2:0"], "use DTMF digits"),
    (["--country", "mars"], "'mars': one of"),
])
def test_ports_that_do_not_fit_are_one_line_and_exit_2(run, bench, args, words):
    result = run("boards", "test", bench, *args)
    assert result.exit_code == 2
    assert words in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert result.stdout == ""


def test_an_unreachable_board_is_exit_2_with_a_hint(run):
    with contextlib.closing(socket.socket()) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    result = run("boards", "test", f"socket://127.0.0.1:{port}")
    assert result.exit_code == 2
    assert "connection refused" in result.stderr and "appliance boards list" in result.stderr


def test_emulate_with_a_cable_then_boards_test_as_an_installer_runs_them(tmp_path):
    emulator = subprocess.Popen(
        [sys.executable, "-m", "appliance", "emulate", "--ports", "2fxo+2fxs", "--cable",
         "3:1", "--listen", "tcp:127.0.0.1:0", "--virtual-clock"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        url = emulator.stdout.readline().strip()
        assert url.startswith("socket://127.0.0.1:"), emulator.stderr.read()
        done = subprocess.run([sys.executable, "-m", "appliance", "boards", "test", url,
                               "--fxo", "0", "--loopback", "3:1"],
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        lines = done.stdout.splitlines()
        assert lines[3].split()[-1] == "ok"  # FXO 0
        assert lines[-2].split()[:6] == ["FXS", "3", "FXO", "1", "1234567890*#ABCD",
                                         "1234567890*#ABCD"]
        assert lines[-1].split()[-1] == lines[-2].split()[-1] == "ok"
    finally:
        emulator.terminate()
        emulator.wait(30)

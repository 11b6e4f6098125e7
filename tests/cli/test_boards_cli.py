"""`appliance boards list / probe` and `appliance emulate` through click's CliRunner."""

import asyncio
import contextlib
import json
import threading

import pytest
from click.testing import CliRunner

from appliance.cli import main
from appliance.drivers.emulated_board import EmulatorRunner, emulated_board, serve_tcp
from appliance.drivers.transport import BoardLink, BoardsPresent, PresentBoard


def _runner():
    try:  # click < 8.2 mixes stderr into output unless told not to
        return CliRunner(mix_stderr=False)
    except TypeError:
        return CliRunner()


@pytest.fixture
def run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    runner = _runner()

    def invoke(*args):
        return runner.invoke(main, [str(a) for a in args], prog_name="appliance",
                             catch_exceptions=False)
    return invoke


@contextlib.contextmanager
def tcp_emulator(ports="2fxo+2fxs+1e1"):
    """An emulated board listening on a TCP port, served by a thread."""
    started, box = threading.Event(), {}

    async def serve():
        runner = EmulatorRunner(emulated_board(ports, serial="EMU-42")).start()
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


def test_probe_prints_the_capabilities(run):
    with tcp_emulator() as url:
        text = run("boards", "probe", url)
        as_json = run("boards", "probe", url, "--json")
    assert text.exit_code == 0, text.stderr
    lines = text.stdout.splitlines()
    assert lines[0] == "VB-2FXO2FXS1E1  firmware 1.0.0  serial EMU-42"
    assert lines[1] == "34 ports: 2 FXO + 2 FXS + 30 E1"
    assert lines[2].split() == ["0", "FXO", "alaw"]
    assert lines[6].split() == ["4", "E1", "alaw", "span", "0", "timeslot", "1"]
    info = json.loads(as_json.stdout)
    assert (info["model"], info["serial"], info["url"]) == ("VB-2FXO2FXS1E1", "EMU-42", url)
    assert [p["kind"] for p in info["ports"][:5]] == ["FXO", "FXO", "FXS", "FXS", "E1"]
    assert info["ports"][33] == {"port": 33, "kind": "E1", "law": "alaw", "span": 0,
                                 "timeslot": 31}


@pytest.mark.parametrize("url, words", [
    ("/dev/no-such-board", "no such device"),
    ("ftp://example", "unknown scheme"),
    ("socket://127.0.0.1:1", "connection refused"),
    ("usb://12:34", "bad USB URL"),
    ("loop://", "no CAPABILITIES"),
])
def test_probe_of_a_url_that_does_not_open_is_one_line_and_exit_2(run, url, words):
    result = run("boards", "probe", url, "--timeout", "0.5")
    assert result.exit_code == 2 and result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1
    assert words in result.stderr and url in result.stderr


def test_list_prints_each_board_with_its_url(run, monkeypatch):
    import appliance.drivers.transport as transport

    found = BoardsPresent(
        boards=(PresentBoard("/dev/ttyACM0", BoardLink.SERIAL, 0x1209, 0x0001, "VB0007",
                             "voice board (CDC-ACM)", True),
                PresentBoard("usb://1209:0001/VB0008", BoardLink.USB, 0x1209, 0x0001,
                             "VB0008", "voice board", True)),
        warnings=("USB not scanned: test",))
    monkeypatch.setattr(transport, "boards_present", lambda **kw: found)
    text = run("boards", "list")
    lines = run("boards", "list", "--json").stdout.splitlines()
    assert text.exit_code == 0
    assert text.stdout.splitlines()[0].startswith("/dev/ttyACM0  serial  1209:0001")
    assert "warning: USB not scanned: test" in text.stderr
    first, second = map(json.loads, lines)
    assert first["url"] == "/dev/ttyACM0" and second["url"] == "usb://1209:0001/VB0008"
    assert (second["vid"], second["pid"], second["serial"]) == ("1209", "0001", "VB0008")


def test_list_says_so_when_no_board_is_present(run, monkeypatch):
    import appliance.drivers.transport as transport

    monkeypatch.setattr(transport, "boards_present",
                        lambda **kw: BoardsPresent(boards=(), warnings=()))
    result = run("boards", "list")
    assert result.exit_code == 0 and result.stdout == ""
    assert "no boards found" in result.stderr


def test_emulate_prints_the_url_first_and_stops_after_seconds(run):
    result = run("emulate", "--ports", "1fxo+1fxs", "--listen", "tcp:127.0.0.1:0",
                 "--seconds", "0.2")
    assert result.exit_code == 0, result.stderr
    url = result.stdout.splitlines()[0]
    assert url.startswith("socket://127.0.0.1:") and int(url.rsplit(":", 1)[1]) > 0
    assert "VB-1FXO1FXS" in result.stderr and "real time" in result.stderr


def test_emulate_runs_a_scenario_for_its_length_and_writes_the_report(run, tmp_path):
    (tmp_path / "day.toml").write_text("""
[board]
ports = "1fxo"
[run]
seconds = 1.5
[exchange]
ring_cadence_s = [0.2, 0.2]
[[callers]]
name = "carol"
line = 0
at_s = 0.1
ring_patience_s = 1.0
""")
    result = run("emulate", "--scenario", "day.toml", "--listen", "tcp:127.0.0.1:0",
                 "--report", "report.json")
    assert result.exit_code == 0, result.stderr
    report = json.loads((tmp_path / "report.json").read_text())
    # Nobody answered: carol rang for her patience and gave up.
    (carol,) = report["callers"]
    assert carol["name"] == "carol" and carol["outcome"] == "abandoned"


@pytest.mark.parametrize("args, words", [
    (["--ports", "3xyz"], "is not a port group"),
    (["--ports", "2fxo+2fxs", "--cable", "0:1"], "not FXS"),
    (["--ports", "2fxo+2fxs", "--cable", "2-0"], "write FXS:FXO"),
    (["--ports", "1fxo", "--scenario", "x.toml"], "both give the board"),
    (["--listen", "udp:5"], "write pty, tcp:PORT"),
    (["--scenario", "missing.toml"], "missing.toml"),
])
def test_emulate_with_bad_flags_is_one_line_and_exit_2(run, args, words):
    result = run("emulate", *args)
    assert result.exit_code == 2 and result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1 and words in result.stderr


def test_help_lists_the_board_commands(run):
    result = run("--help")
    assert "boards" in result.stdout and "emulate" in result.stdout

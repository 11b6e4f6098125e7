"""`appliance run` as a user runs it: click's CliRunner for the demo, the output and the
mistakes; a subprocess for the signals (SIGHUP reload, SIGTERM stop).

The demo runs in virtual time with HOME in a temporary folder (the sample's data_dir is
~/.local/share/appliance) and the default configuration path pointed at a file that does
not exist, whatever the machine has in /etc/appliance.
"""

import json
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import soundfile
from click.testing import CliRunner

import appliance.cli.run as run_cli
from appliance.cli import main
from appliance.config import sample_path
from appliance.engine.demo import scenario_path
from appliance.store import Store

LINE = re.compile(r"^(\d\d):(\d\d\.\d\d)  call (\S+)  (\S+)")
SAMPLE = Path(sample_path()).read_text(encoding="utf-8")


def _runner():
    try:  # click < 8.2 mixes stderr into output unless told not to
        return CliRunner(mix_stderr=False)
    except TypeError:
        return CliRunner()


@pytest.fixture
def appliance(tmp_path, monkeypatch):
    """Invoke `appliance ARGS` with HOME in tmp_path and no configuration file anywhere."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("APPLIANCE_CONFIG", raising=False)
    monkeypatch.setattr(run_cli, "DEFAULT_PATH", tmp_path / "etc" / "appliance.toml")
    monkeypatch.chdir(tmp_path)
    runner = _runner()

    def invoke(*args):
        return runner.invoke(main, [str(a) for a in args], prog_name="appliance",
                             catch_exceptions=False)
    return invoke


def sample_with(tmp_path, **replace):
    """The sample configuration with its data in tmp_path/data, and `replace`d text."""
    text = SAMPLE.replace('data_dir = "~/.local/share/appliance"', 'data_dir = "data"')
    for old, new in replace.items():
        assert old in text, old
        text = text.replace(old, new)
    path = tmp_path / "appliance.toml"
    path.write_text(text, encoding="utf-8")
    return path


def call_lines(output):
    """{call id: [(seconds, what), ...]} from the text output."""
    calls = {}
    for line in output.splitlines():
        m = LINE.match(line)
        if m:
            seconds = int(m[1]) * 60 + float(m[2])
            calls.setdefault(m[3], []).append((seconds, m[4]))
    return calls


# ---- the demo ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """`appliance run --virtual-clock --seconds 40` on a newcomer's machine: no config."""
    tmp = tmp_path_factory.mktemp("demo")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HOME", str(tmp / "home"))
        mp.delenv("APPLIANCE_CONFIG", raising=False)
        mp.setattr(run_cli, "DEFAULT_PATH", tmp / "etc" / "appliance.toml")
        mp.chdir(tmp)
        result = _runner().invoke(main, ["run", "--virtual-clock", "--seconds", "40"],
                                  prog_name="appliance", catch_exceptions=False)
    return result, tmp / "home" / ".local" / "share" / "appliance"


def test_the_demo_runs_with_no_config_and_says_where_its_data_goes(demo):
    result, data = demo
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert "demo  no configuration file" in out
    assert str(sample_path()) in out and str(scenario_path()) in out
    assert f"database  {data / 'appliance.db'}" in out
    assert f"recordings  {data / 'recordings'}" in out
    assert "virtual clock, for 40 s of board time" in out
    assert "Traceback" not in result.stderr


def test_the_demo_shows_calls_queued_connected_and_ended(demo):
    result, _ = demo
    calls = call_lines(result.stdout)
    assert len(calls) >= 6
    whole = [c for c, events in calls.items()
             if [w for _, w in events][:3] == ["arrived", "answered", "queued"]
             and "connected" in [w for _, w in events] and events[-1][1] == "ended"]
    assert len(whole) >= 3
    for call_id in whole:
        times = [t for t, _ in calls[call_id]]
        assert times == sorted(times) and times[-1] <= 40.0
    queued = [line for line in result.stdout.splitlines() if "  queued  " in line]
    assert any(re.search(r"  queued  sales  caller 13800138000$", line) for line in queued)
    assert re.search(r"  ended  abandoned  ", result.stdout)  # one gave up in the queue


def test_the_demo_database_holds_the_cdrs_of_the_calls_shown(demo):
    result, data = demo
    calls = call_lines(result.stdout)
    with Store.open(data / "appliance.db") as store:
        cdrs = {c.call_id: c for c in store.cdrs()}
    assert set(calls) == set(cdrs)
    for call_id, events in calls.items():
        cdr = cdrs[call_id]
        assert cdr.end_ms is not None  # every call closed, those cut by the stop included
        if events[-1][1] == "ended":
            ended = [line for line in result.stdout.splitlines()
                     if f"call {call_id}  ended  " in line][0]
            assert f"  ended  {cdr.disposition}  " in ended
        else:
            assert cdr.disposition == "interrupted"
    answered = [c for c in cdrs.values() if c.disposition == "answered"]
    assert answered and all(c.agent in ("1001", "1002", "1003") or c.station == "supervisor"
                            for c in answered)
    summary = [line for line in result.stdout.splitlines() if line.startswith("summary")][0]
    n_abandoned = sum(c.disposition == "abandoned" for c in cdrs.values())
    assert summary.startswith(f"summary  {len(cdrs)} call(s): {len(answered)} answered, "
                              f"{n_abandoned} abandoned")


def test_the_demo_recordings_are_on_disk_and_readable(demo):
    result, data = demo
    with Store.open(data / "appliance.db") as store:
        cdrs = store.cdrs()
    paths = [Path(c.recording_path) for c in cdrs if c.recording_path]
    assert paths and all(p.exists() for p in paths)
    assert all(data / "recordings" in p.parents for p in paths)
    for cdr in cdrs:
        if cdr.disposition != "answered":
            continue
        audio, rate = soundfile.read(cdr.recording_path, dtype="int16")
        assert rate == 8000 and audio.ndim == 2  # the sample records stereo FLAC
        assert len(audio) > 4 * 8000  # queue, ring and talk
    assert f"{len(paths)} recording(s) written" in result.stdout


def test_json_gives_one_object_per_line_and_a_summary(appliance):
    result = appliance("run", "--virtual-clock", "--seconds", "12", "--json")
    assert result.exit_code == 0, result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines()]
    kinds = [r["event"] for r in records]
    assert kinds[0] == "demo" and kinds[-1] == "summary"
    assert {"database", "recordings", "started", "call_arrived", "queued",
            "connected"} <= set(kinds)
    queued = [r for r in records if r["event"] == "queued"]
    assert queued[0]["queue"] == "sales" and queued[0]["data"]["caller"] == "13800138000"
    assert all(0 <= r["t_s"] <= 12 for r in records if "t_s" in r)
    summary = records[-1]
    assert summary["calls"] == len({r["call_id"] for r in records if r.get("call_id")})
    assert Path(summary["database"]).exists()


def test_the_default_config_file_is_used_when_it_exists(appliance, tmp_path, monkeypatch):
    path = sample_with(tmp_path)
    monkeypatch.setattr(run_cli, "DEFAULT_PATH", path)
    result = appliance("run", "--virtual-clock", "--seconds", "2")
    assert result.exit_code == 0, result.stderr
    assert "demo" not in result.stdout  # no scenario: a box with nobody calling
    assert f"database  {tmp_path / 'data' / 'appliance.db'}" in result.stdout
    assert "summary  0 call(s)" in result.stdout
    assert (tmp_path / "data" / "appliance.db").exists()


# ---- mistakes ----------------------------------------------------------------------------

def test_a_bad_config_is_exit_2_with_its_key_paths_and_nothing_starts(appliance, tmp_path):
    path = sample_with(tmp_path, **{"max_wait_s = 180": "max_wait_s = -5",
                                    'station = "desk3"': 'station = "desk9"'})
    result = appliance("run", "--config", path)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert "queues.sales.max_wait_s" in result.stderr
    assert "agents.1003.station" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "data").exists()


@pytest.mark.parametrize("value", ["0", "-1", "inf", "nan", "soon"])
def test_seconds_must_be_a_positive_number(appliance, value):
    result = appliance("run", "--seconds", value)
    assert result.exit_code == 2
    assert "--seconds" in result.stderr and "Traceback" not in result.stderr
    assert result.stdout == ""


def test_a_config_that_cannot_be_read_is_exit_2(appliance, tmp_path):
    result = appliance("run", "--config", tmp_path / "missing.toml")
    assert result.exit_code == 2
    assert "missing.toml" in result.stderr and "Traceback" not in result.stderr


def _closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_board_url_that_cannot_be_opened_is_one_line_and_exit_2(appliance, tmp_path):
    path = sample_with(tmp_path, **{'url = "inprocess://main"':
                                    f'url = "socket://127.0.0.1:{_closed_port()}"',
                                    "emulated = true": "emulated = false"})
    result = appliance("run", "--config", path)
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("Error: board 'main': socket://127.0.0.1:")
    assert f"boards.main.url in {path}" in lines[0]


def test_a_board_that_does_not_answer_is_one_line_and_exit_2(appliance, tmp_path):
    with socket.socket() as server:  # accepts the connection, never says a word
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        path = sample_with(tmp_path, **{'url = "inprocess://main"':
                                        f'url = "socket://127.0.0.1:{port}"',
                                        "emulated = true": "emulated = false"})
        result = appliance("run", "--config", path)
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "board 'main'" in lines[0]
    assert "no CAPABILITIES" in lines[0] and "boards.main.url" in lines[0]


def test_a_scenario_for_another_board_is_exit_2(appliance, tmp_path):
    path = sample_with(tmp_path)
    scenario = tmp_path / "small.toml"
    scenario.write_text('[board]\nports = "2fxo+2fxs"\n', encoding="utf-8")
    result = appliance("run", "--config", path, "--scenario", scenario)
    assert result.exit_code == 2
    assert "ports = '4fxo+4fxs'" in result.stderr and "Traceback" not in result.stderr


def test_a_data_dir_the_box_cannot_write_is_exit_2(appliance, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    path = sample_with(tmp_path, **{'data_dir = "data"': f'data_dir = "{blocker}/data"'})
    result = appliance("run", "--config", path, "--seconds", "1")
    assert result.exit_code == 2
    assert "storage.data_dir" in result.stderr and "Traceback" not in result.stderr


def test_a_damaged_database_is_exit_2_naming_it(appliance, tmp_path):
    path = sample_with(tmp_path)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "appliance.db").write_bytes(b"not a database, " * 512)
    result = appliance("run", "--config", path, "--seconds", "1")
    assert result.exit_code == 2
    assert "appliance.db" in result.stderr and "Traceback" not in result.stderr


# ---- signals, in a subprocess ------------------------------------------------------------

class Daemon:
    """`python -m appliance run ...` with its stdout read line by line by a thread."""

    def __init__(self, *args, cwd):
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        env.pop("APPLIANCE_CONFIG", None)
        self.proc = subprocess.Popen([sys.executable, "-m", "appliance", "run", *args],
                                     cwd=cwd, env=env, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        self.lines = queue.Queue()
        self.seen = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def wait_for(self, pattern, timeout=60.0):
        """The next line matching `pattern` (lines before it are kept in `seen`)."""
        while True:
            line = self.lines.get(timeout=timeout)
            if line is None:
                raise AssertionError(f"exited before {pattern!r}: {self.seen}\n"
                                     f"{self.proc.stderr.read()}")
            self.seen.append(line)
            if re.search(pattern, line):
                return line

    def rest(self):
        out = []
        while (line := self.lines.get(timeout=60.0)) is not None:
            out.append(line)
        return out

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(30)


@pytest.fixture
def daemon(tmp_path):
    started = []

    def start(*args):
        started.append(Daemon(*args, cwd=tmp_path))
        return started[-1]
    yield start
    for d in started:
        d.kill()


def test_sighup_applies_a_changed_file_and_refuses_an_invalid_one(daemon, tmp_path):
    path = sample_with(tmp_path)
    box = daemon("--config", path, "--scenario", scenario_path())  # real time, no end
    box.wait_for(r"^running  ")
    path.write_text(path.read_text().replace("max_wait_s = 180", "max_wait_s = 90"))
    box.proc.send_signal(signal.SIGHUP)
    assert re.search(r"  reload  applied: queues\.sales changed \(new calls\)$",
                     box.wait_for(r"  reload  "))
    path.write_text(path.read_text().replace("max_wait_s = 90", "max_wait_s = -1"))
    box.proc.send_signal(signal.SIGHUP)
    refused = box.wait_for(r"  reload  ")
    assert "refused, nothing changed" in refused
    assert "queues.sales.max_wait_s" in box.wait_for(r"max_wait_s")
    # the box keeps running: calls go on after the refused reload
    box.wait_for(r"  call \S+  answered  ")
    assert box.proc.poll() is None
    box.proc.send_signal(signal.SIGTERM)
    rest = box.rest()
    assert box.proc.wait(30) == 0
    assert any(line.startswith("summary  ") for line in rest)
    # the stop closed every CDR (a call cut by the stop is 'interrupted')
    with Store.open(tmp_path / "data" / "appliance.db") as store:
        cdrs = store.cdrs()
    assert cdrs and all(c.end_ms is not None for c in cdrs)
    stderr = box.proc.stderr.read()
    assert "Traceback" not in stderr and "reload" not in stderr

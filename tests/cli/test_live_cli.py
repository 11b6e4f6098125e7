"""`appliance status / top / agents / queues / calls / monitor` against a running box
(tests/cti/daemon.py) through click's CliRunner and as subprocesses, and `appliance run`
serving its control socket in a subprocess."""

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile
from click.testing import CliRunner

from appliance.cli import main
from appliance.config import sample_path
from appliance.engine.demo import scenario_path
from appliance.store import Store
from tests.cti.daemon import RunningBox, call_of


def _runner():
    try:  # click < 8.2 mixes stderr into output unless told not to
        return CliRunner(mix_stderr=False)
    except TypeError:
        return CliRunner()


@pytest.fixture(scope="module")
def daemon(tmp_path_factory):
    running = RunningBox(tmp_path_factory.mktemp("cli"), board="ctl-cli")
    try:
        running.wait_for(lambda s: call_of(s, "sales") and call_of(s, "support"),
                         "both calls connected")
        yield running
    finally:
        running.stop()


@pytest.fixture
def appliance(daemon, monkeypatch, tmp_path):
    """`appliance ARGS --socket <the daemon's>`; returns the click Result."""
    monkeypatch.delenv("APPLIANCE_CONFIG", raising=False)
    monkeypatch.delenv("APPLIANCE_PIN", raising=False)
    monkeypatch.chdir(tmp_path)
    runner = _runner()

    def invoke(*args, socket=True):
        args = [str(a) for a in args] + (["--socket", str(daemon.socket)] if socket else [])
        return runner.invoke(main, args, prog_name="appliance", catch_exceptions=False)
    return invoke


def error_line(result):
    assert result.exit_code == 2, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    return lines[0]


def test_status_shows_boards_ports_calls_queues_and_agents(appliance, daemon):
    result = appliance("status")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("site  control test  board time ")
    assert re.match(r"board  main  inprocess://ctl-cli  VB-4FXO4FXS  up  fxo: ", lines[1])
    assert "  port  main:4  fxs  station desk1  talking  call " in result.stdout
    sales = call_of(daemon.ask("status"), "sales")
    assert re.search(rf"^call  {sales['id']}  inbound  connected  from 13800138000  to pstn"
                     r"  queue sales  agent 1001  [\d.]+ s  talking [\d.]+ s", result.stdout,
                     re.M)
    assert re.search(r"^queue  support  waiting \d+  ringing \d+  oldest [\d.]+ s", result.stdout,
                     re.M)
    assert re.search(r"^agent  1001  Li Na  ready  on_call  at desk1  for [\d.]+ s  call ",
                     result.stdout, re.M)
    assert re.search(r"^agent  1003  Sam Taylor  logged_out  idle  at -", result.stdout, re.M)
    # idle ports are counted on the board line; --all-ports lists them too
    assert "  port  main:6  " not in result.stdout
    assert "  port  main:6  fxs  station desk3  idle" in appliance("status", "--all-ports").stdout


def test_status_json_is_the_whole_picture(appliance):
    result = appliance("status", "--json")
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert {"site", "boards", "calls", "queues", "agents", "engine"} <= set(data)
    assert data["boards"][0]["ports_by_kind"]["fxs"]


def test_top_refreshes_the_status(appliance):
    result = appliance("top", "--iterations", "2", "--interval", "0.1")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.count("appliance top  ") == 2
    assert result.stdout.count("\nsite  control test  ") == 2
    assert appliance("top", "--once").stdout.count("appliance top  ") == 1


def test_agents_login_pause_ready_logout(appliance, daemon):
    result = appliance("agents", "login", "1003", "--station", "desk3")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("agent  1003  Sam Taylor  ready  idle  at desk3  for ")
    result = appliance("agents", "pause", "1003", "--reason", "lunch")
    assert "  not_ready (lunch)  " in result.stdout
    state = daemon.in_loop(lambda: dict(daemon.box.engine.switchboard.acd.agent("1003")))
    assert (state["status"].value, state["reason"]) == ("not_ready", "lunch")
    assert "  ready  " in appliance("agents", "ready", "1003").stdout
    result = appliance("agents", "logout", "1003", "--json")
    assert json.loads(result.stdout)["status"] == "logged_out"
    listed = json.loads(appliance("agents", "list", "--json").stdout)
    assert {a["id"] for a in listed} == {"1001", "1002", "1003", "2001", "2002"}
    rows = [r for r in daemon.rows if r.kind == "audit" and r.agent == "1003"]
    assert [r.data["action"] for r in rows[-4:]] == ["login", "pause", "ready", "logout"]


def test_a_refused_request_is_one_line_with_the_reason_and_exit_2(appliance, daemon):
    sales = call_of(daemon.ask("status"), "sales")
    line = error_line(appliance("calls", "hangup", sales["id"], "--as", "2001",
                                "--pin", "2468"))
    assert line == ("Error: 2001 may not hangup: 2001 does not supervise queue sales, the "
                    "queue of 1001's call; ask a supervisor of that queue or an admin")
    line = error_line(appliance("agents", "ready", "1001", "--as", "1001", "--pin", "1111"))
    assert "--as 1001: unknown agent or wrong PIN" in line
    assert "--pin" in error_line(appliance("agents", "ready", "1001", "--as", "1001"))
    assert "not logged in" in error_line(appliance("agents", "ready", "1003"))
    assert "Missing option '--reason'" in error_line(appliance("agents", "pause", "1003"))


def test_an_admin_by_pin_may_what_a_supervisor_may_not(appliance, daemon):
    sales = call_of(daemon.ask("status"), "sales")
    result = appliance("calls", "record", sales["id"], "--as", "2002", "--pin", "1357")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith(f"call  {sales['id']}  recording")
    row = [r for r in daemon.rows if r.kind == "audit" and r.data["action"] == "record"][-1]
    assert (row.data["by"], row.data["role"], row.data["why"]) == \
        ("2002", "admin", "admins may do everything")


def test_calls_and_queues_lists(appliance, daemon):
    sales = call_of(daemon.ask("status"), "sales")
    assert f"call  {sales['id']}  inbound  connected" in appliance("calls", "list").stdout
    calls = json.loads(appliance("calls", "list", "--json").stdout)
    assert sales["id"] in [c["id"] for c in calls]
    shown = appliance("queues", "show", "sales")
    assert shown.stdout.startswith("queue  sales  waiting ")
    assert "  serving  1001" in shown.stdout
    assert [q["name"] for q in json.loads(appliance("queues", "list", "--json").stdout)] \
        == ["sales", "support"]
    assert "no queue 'nope'" in error_line(appliance("queues", "show", "nope"))


def test_monitor_wav_writes_the_ports_audio(appliance, tmp_path):
    out = tmp_path / "line0.wav"
    result = appliance("monitor", "main:0", "--wav", out, "--seconds", "2")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.strip() == f"monitor  {out}  2.00 s  8000 Hz  2 channels (sent, heard)"
    audio, rate = soundfile.read(out, dtype="int16")
    assert rate == 8000 and audio.shape == (16000, 2)
    sent = audio[:, 0].astype(np.float64)
    # the caller talks at -16 dBm0 for 3 s of every 4: in any 2 s, at least 1 s of it
    level = 10 * np.log10(np.mean(sent ** 2) / (22827.6 ** 2 / 2))
    assert level > -26
    assert "no port 'main:99'" in error_line(appliance("monitor", "main:99", "--wav", out,
                                                       "--seconds", "1"))


def _monitor_process(daemon, tmp_path, alsa_config):
    """`appliance monitor desk1` in a subprocess whose ALSA sees only `alsa_config`."""
    conf = tmp_path / "asound.conf"
    conf.write_text(alsa_config)
    env = {**os.environ, "ALSA_CONFIG_PATH": f"/usr/share/alsa/alsa.conf:{conf}"}
    return subprocess.run([sys.executable, "-m", "appliance", "monitor", "desk1", "--seconds",
                           "0.5", "--socket", str(daemon.socket)], capture_output=True,
                          text=True, env=env, timeout=60)


def test_monitor_plays_on_the_sound_card_or_says_to_use_wav(daemon, tmp_path):
    try:
        import pyaudio  # noqa: F401  (the `audio` extra)
    except ImportError:
        done = _monitor_process(daemon, tmp_path, "")
        assert done.returncode == 2
        assert done.stderr.startswith("Error: monitor: PyAudio is not installed")
        assert done.stderr.strip().endswith("--wav FILE --seconds N")
        return
    # ALSA's null device: a sound card that plays into nothing (NOTES.md)
    done = _monitor_process(daemon, tmp_path, "pcm.!default { type null }\n")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("monitor  played 0.50 s on the sound card")
    # no sound card at all: one line, the hint, none of PortAudio's probing
    done = _monitor_process(daemon, tmp_path, "pcm.!default { type hw card 99 }\n")
    assert done.returncode == 2
    assert done.stderr.startswith("Error: monitor: no sound card: this machine has no audio "
                                  "output device")
    assert done.stderr.strip().endswith("written to a file instead with --wav FILE "
                                        "--seconds N")
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr


def test_no_daemon_is_exit_2_with_how_to_start_it(appliance, tmp_path):
    for args in (["status"], ["agents", "list"], ["calls", "hangup", "x"],
                 ["monitor", "0", "--wav", tmp_path / "x.wav"]):
        line = error_line(appliance(*args, "--socket", tmp_path / "none.sock", socket=False))
        assert line == (f"Error: no box is running at {tmp_path / 'none.sock'} (nothing "
                        "listens on its control socket); start it with `systemctl start "
                        "appliance` or `appliance run`, or give --socket PATH / --config "
                        "FILE of the box you mean")


def test_the_socket_follows_the_config_files_data_dir(appliance, daemon):
    result = appliance("status", "--json", "--config", daemon.config_path, socket=False)
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["site"] == "control test"


def test_a_config_file_broken_since_the_start_still_leads_to_the_box(appliance, daemon,
                                                                     tmp_path):
    broken = tmp_path / "box.toml"
    broken.write_text(daemon.config_path.read_text().replace('pin = "4821"', 'pin = 4821'))
    result = appliance("status", "--json", "--config", broken, socket=False)
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["site"] == "control test"
    unreadable = tmp_path / "bad.toml"
    unreadable.write_text("[storage\n")
    result = appliance("status", "--config", unreadable, socket=False)
    assert result.exit_code == 2
    assert result.stderr.startswith(f"Error: {unreadable}: 1 error(s)\n  line 1, column 9: ")


def test_status_as_a_subprocess(daemon):
    env = {**os.environ}
    env.pop("APPLIANCE_CONFIG", None)
    done = subprocess.run([sys.executable, "-m", "appliance", "status", "--json", "--socket",
                           str(daemon.socket)], capture_output=True, text=True, env=env,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["boards"][0]["name"] == "main"
    done = subprocess.run([sys.executable, "-m", "appliance", "status", "--socket",
                           str(daemon.socket) + ".none"], capture_output=True, text=True,
                          env=env, timeout=60)
    assert done.returncode == 2 and "systemctl start appliance" in done.stderr


# ---- `appliance run` serves the socket --------------------------------------------------

def _sample(tmp_path):
    """The sample with its data in tmp_path/data, open at all hours (so calls connect)."""
    text = Path(sample_path()).read_text(encoding="utf-8")
    for old, new in (('data_dir = "~/.local/share/appliance"', 'data_dir = "data"'),
                     ('flow = "main"', 'flow = "menu"')):
        assert old in text
        text = text.replace(old, new)
    # the queues' office hours (not the IVR's schedule node, which nothing enters now)
    text, count = re.subn(r'(?m)^schedule = "office"\n(?=\n\[(queues|agents)\.)', "", text)
    assert count == 2
    path = tmp_path / "appliance.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _start(path, cwd):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("APPLIANCE_CONFIG", None)
    return subprocess.Popen([sys.executable, "-m", "appliance", "run", "--config", str(path),
                             "--scenario", str(scenario_path())], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_appliance_run_serves_the_control_socket_and_removes_it_at_the_stop(tmp_path):
    path = _sample(tmp_path)
    socket_file = tmp_path / "data" / "control.sock"
    box = _start(path, tmp_path)
    lines = []
    try:
        for line in box.stdout:
            lines.append(line)
            if "  connected  " in line:
                break
        assert f"control  {socket_file}  (appliance status" in "".join(lines), \
            (lines, box.poll() is not None and box.stderr.read())
        done = subprocess.run([sys.executable, "-m", "appliance", "status", "--json",
                               "--config", str(path)], capture_output=True, text=True,
                              timeout=60)
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["site"] == "sample call centre"
        # a second box on the same socket is refused, and the first one goes on
        second = subprocess.run([sys.executable, "-m", "appliance", "run", "--config",
                                 str(path), "--seconds", "5"], capture_output=True,
                                text=True, timeout=120, cwd=tmp_path)
        assert second.returncode == 2
        assert (f"control socket {socket_file}: another box is running and serves it"
                in second.stderr)
        assert box.poll() is None and socket_file.exists()
        # refused before it opened the store: it closed none of the first box's live calls
        # as left open by a crash
        with Store.open(tmp_path / "data" / "appliance.db") as store:
            assert store.cdrs() and store.events(kind="call_closed_on_restart") == []
            assert not [c for c in store.cdrs()
                        if c.hangup_cause == "the box stopped during the call"]
        threading.Thread(target=box.stdout.read, daemon=True).start()
        box.send_signal(signal.SIGTERM)
        assert box.wait(60) == 0
    finally:
        if box.poll() is None:
            box.kill()
            box.wait(30)
    deadline = time.monotonic() + 5
    while socket_file.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not socket_file.exists()

"""The box killed mid-call (SIGKILL: no clean-up at all): on the next start the call's CDR is
closed with a reason and its recording, cut short, is playable up to the last second
written."""

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time

import soundfile

from appliance.config import parse_config
from appliance.engine.box import Box
from appliance.store import Store

from .test_inbound_call import CONFIG

SCENARIO = """
[board]
ports = "2fxo+2fxs"
[run]
seconds = 600.0
[[callers]]
name = "caller"
line = 0
at_s = 0.5
number = "13800138000"
actions = [{ listen_s = 2.5 }, { press = "2" }, { wait_for_agent_s = 40.0 },
           { talk_s = 300.0 }]
[[phones]]
name = "agent"
port = 2
answer_after_s = 1.0
actions = [{ talk_s = 300.0 }]
"""

RUN = """
import asyncio, sys
from appliance.config import parse_config
from appliance.drivers.emulator import parse_scenario
from appliance.engine.box import Box
config = parse_config(open(sys.argv[1]).read(), source="crash.toml", folder=sys.argv[2])
box = Box(config, scenario=parse_scenario(open(sys.argv[3]).read(), "s.toml"), virtual=True)
asyncio.run(box.run())
"""


def connected_calls(database):
    if not database.exists():
        return []
    try:
        with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=1.0) as db:
            return [r[0] for r in db.execute(
                "SELECT call_id FROM events WHERE kind = 'connected'")]
    except sqlite3.OperationalError:  # not created yet
        return []


def test_a_call_cut_by_a_crash_is_closed_on_restart_and_its_recording_plays(tmp_path):
    config_text = CONFIG.format(board="crash", data=tmp_path, format="wav-pcm16", country="cn")
    (tmp_path / "crash.toml").write_text(config_text)
    (tmp_path / "scenario.toml").write_text(SCENARIO)
    (tmp_path / "run.py").write_text(textwrap.dedent(RUN))
    box = Box(parse_config(config_text, source="crash.toml", folder=tmp_path))
    proc = subprocess.Popen([sys.executable, str(tmp_path / "run.py"), str(tmp_path / "crash.toml"),
                             str(tmp_path), str(tmp_path / "scenario.toml")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120.0
        while not connected_calls(box.database):
            assert proc.poll() is None, proc.stderr.read().decode()
            assert time.monotonic() < deadline, "the call never connected"
            time.sleep(0.2)
        time.sleep(3.0)  # some seconds of conversation reach the recording
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    [call_id] = connected_calls(box.database)

    import asyncio

    async def start_and_stop():
        await box.start()
        await box.close()

    asyncio.run(start_and_stop())
    assert box.closed_on_start == [call_id]
    with Store.open(box.database) as store:
        cdr = store.cdr(call_id)
    assert cdr.end_ms is not None and cdr.disposition == "interrupted"
    assert cdr.hangup_cause == "the box stopped during the call"
    audio, rate = soundfile.read(cdr.recording_path, dtype="int16")
    assert rate == 8000 and audio.shape[1] == 2 and len(audio) >= 8000

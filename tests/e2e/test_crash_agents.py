"""The box killed mid-call (SIGKILL) while its agents are in different states: on the next
start each agent is back where the event log left them (station, ready or not ready with
the reason; the one on the call comes back ready), not merely the config's logins."""

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time

from appliance.config import parse_config
from appliance.drivers.emulator import parse_scenario
from appliance.engine.box import Box
from appliance.store import Store

from .test_crash_recovery import RUN

CONFIG = """
skills = ["sales"]

[site]
name = "e2e"
country = "cn"

[boards.main]
url = "inprocess://{board}"
ports = "2fxo+2fxs"
emulated = true

[trunks.pstn]
board = "main"
ports = [0, 1]
flow = "sales"

[stations.desk1]
extension = "101"
board = "main"
port = 2

[stations.desk2]
extension = "102"
board = "main"
port = 3

[queues.sales]
skills = ["sales"]
max_wait_s = 60
overflow = "hangup"

[agents.1001]
name = "Li Na"
skills = {{ sales = 8 }}
pin = "4821"
station = "desk1"

[agents.1002]
name = "Wang Wei"
skills = {{ sales = 3 }}
pin = "2222"

[agents.1003]
name = "Sam Taylor"
skills = {{ sales = 5 }}
pin = "3333"
station = "desk2"

[storage]
data_dir = "{data}"

[ivr.sales]
type = "queue"
queue = "sales"
"""

# 1003 (desk2 by the config) logs out; 1002 logs in at desk2 with a PIN and goes not ready
# with reason 12; then a caller reaches 1001 at desk1 and they talk until the crash.
SCENARIO = """
[board]
ports = "2fxo+2fxs"
[run]
seconds = 600.0
[[callers]]
name = "caller"
line = 0
at_s = 14.0
number = "13800138000"
actions = [{ wait_for_agent_s = 40.0 }, { talk_s = 300.0 }]
[[phones]]
name = "li-na"
port = 2
answer_after_s = 1.0
actions = [{ talk_s = 300.0 }]
[[phones]]
name = "desk2"
port = 3
answer = false
calls = [
  { at_s = 0.5, actions = [{ listen_s = 0.5 }, { press = "*2#" }, { listen_s = 1.0 },
                           { hang_up = true }] },
  { at_s = 4.0, actions = [{ listen_s = 0.5 }, { press = "*11002*2222#" }, { listen_s = 1.0 },
                           { hang_up = true }] },
  { at_s = 9.0, actions = [{ listen_s = 0.5 }, { press = "*412#" }, { listen_s = 1.0 },
                           { hang_up = true }] },
]
"""

QUIET = """
[board]
ports = "2fxo+2fxs"
[run]
seconds = 2.0
"""


def rows(database, sql):
    if not database.exists():
        return []
    try:
        with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=1.0) as db:
            return db.execute(sql).fetchall()
    except sqlite3.OperationalError:  # not created yet
        return []


def test_agents_are_logged_in_again_as_the_event_log_left_them_after_a_crash(tmp_path):
    config_text = CONFIG.format(board="agents", data=tmp_path)
    (tmp_path / "crash.toml").write_text(config_text)
    (tmp_path / "scenario.toml").write_text(SCENARIO)
    (tmp_path / "run.py").write_text(textwrap.dedent(RUN))
    config = parse_config(config_text, source="crash.toml", folder=tmp_path)
    database = Box(config).database
    proc = subprocess.Popen([sys.executable, str(tmp_path / "run.py"),
                             str(tmp_path / "crash.toml"), str(tmp_path),
                             str(tmp_path / "scenario.toml")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120.0
        while not rows(database, "SELECT 1 FROM events WHERE kind = 'connected'"):
            assert proc.poll() is None, proc.stderr.read().decode()
            assert time.monotonic() < deadline, "the call never connected"
            time.sleep(0.2)
        time.sleep(0.5)  # the store thread writes in batches
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    last = {agent: data for agent, data in rows(
        database, "SELECT agent, data FROM events WHERE kind = 'agent_state' "
        "ORDER BY time_ms, id")}
    assert '"on_call"' in last["1001"] and '"12"' in last["1002"] \
        and '"logged_out"' in last["1003"], last

    box = Box(config, scenario=parse_scenario(QUIET, "quiet.toml"), virtual=True, until_s=2.0)
    asyncio.run(box.run())
    acd = box.engine.switchboard.acd
    li, wang, sam = acd.agent("1001"), acd.agent("1002"), acd.agent("1003")
    assert (li["status"].value, li["state"].value, li["station"]) == ("ready", "idle", "desk1")
    assert (wang["status"].value, wang["reason"], wang["station"]) == \
        ("not_ready", "12", "desk2")
    assert sam["status"].value == "logged_out"
    assert (acd.agent_at("desk1"), acd.agent_at("desk2")) == ("1001", "1002")
    with Store.open(box.database) as store:
        started = store.events(kind="box_started")[-1]
        after = [(e.agent, e.data["status"]) for e in store.events(kind="agent_state")
                 if e.time_ms >= started.time_ms and e.id > started.id]
    assert after[-1] == ("1002", "not_ready") and ("1001", "ready") in after
    assert "1003" not in {agent for agent, _ in after}

"""A running box with its control socket, for the control tests: the whole box
(`appliance.engine.box.Box`) on an emulated board in real time, in its own event loop on a
background thread, as `appliance run` runs it; the tests talk to it over the socket only.

The scenario keeps two calls connected for minutes (a sales call to agent 1001 at desk1, a
support call to 1002 at desk2), a third caller waiting in support, agent 1003 (sales only,
no usual station) logged out, and the supervisor's phone (station `boss`) off-hook with
dial tone for 12 s of every 16 s (a station gets busy tone after 15 s without a digit),
silent for the first 3 s, then talking for 9 s.
"""

import asyncio
import threading
import time
from pathlib import Path

from appliance.config import parse_config
from appliance.cti.client import ClientError, request
from appliance.cti.control import ControlServer
from appliance.drivers.emulator import parse_scenario
from appliance.engine.box import Box

ORIGIN_MS = 1_795_420_800_000  # 2026-11-23T08:00:00Z, a Monday
SUPERVISOR = ("2001", "2468")  # supervises support only
AGENT = ("1001", "4821")

CONFIG = """
skills = ["sales", "support"]

[site]
name = "control test"
country = "cn"

[boards.main]
url = "inprocess://{board}"
ports = "4fxo+4fxs"
emulated = true

[trunks.pstn]
board = "main"
ports = [0, 1, 2, 3]
flow = "menu"

[stations.desk1]
extension = "101"
board = "main"
port = 4

[stations.desk2]
extension = "102"
board = "main"
port = 5

[stations.desk3]
extension = "103"
board = "main"
port = 6

[stations.boss]
extension = "109"
board = "main"
port = 7

[queues.sales]
skills = ["sales"]
max_wait_s = 900
overflow = "hangup"

[queues.support]
skills = ["support"]
max_wait_s = 900
overflow = "hangup"

[agents.1001]
name = "Li Na"
skills = {{ sales = 8 }}
pin = "4821"
station = "desk1"

[agents.1002]
name = "Wang Wei"
skills = {{ support = 7 }}
pin = "7305"
station = "desk2"

[agents.1003]
name = "Sam Taylor"
skills = {{ sales = 5 }}
pin = "1596"

[agents.2001]
name = "Zhou Min"
pin = "2468"
role = "supervisor"
supervises = ["support"]

[agents.2002]
name = "Ma Li"
pin = "1357"
role = "admin"

[recording]
mode = "on_demand"
layout = "stereo"
format = "wav-pcm16"

[storage]
data_dir = "{data}"

[ivr.menu]
type = "menu"
prompts = "builtin:beep"
options = {{ 1 = "sales", 2 = "support" }}
timeout = 5
fallback = "sales"

[ivr.sales]
type = "queue"
queue = "sales"

[ivr.support]
type = "queue"
queue = "support"
"""

_TALKING = ", ".join(["{ talk_s = 3.0, level_dbm0 = -16.0 }, { listen_s = 1.0 }"] * 150)
# the supervisor lifts the phone every 16 s, listens 3 s, talks 9 s, hangs up
_BOSS = ",\n  ".join(f"{{ at_s = {t:.1f}, actions = [{{ listen_s = 3.0 }}, "
                     "{ talk_s = 9.0, level_dbm0 = -16.0 }, { hang_up = true }] }"
                     for t in range(6, 600, 16))

SCENARIO = f"""
[board]
ports = "4fxo+4fxs"

[run]
seconds = 600.0
seed = 5

[exchange]
profile = "cn"
clear_signal = "polarity"

[[callers]]
name = "sales-caller"
line = 0
at_s = 0.5
number = "13800138000"
actions = [{{ listen_s = 1.0 }}, {{ press = "1" }}, {{ wait_for_agent_s = 60.0 }}, {_TALKING}]

[[callers]]
name = "support-caller"
line = 1
at_s = 1.0
number = "13912345678"
actions = [{{ listen_s = 1.0 }}, {{ press = "2" }}, {{ wait_for_agent_s = 60.0 }}, {_TALKING}]

[[callers]]
name = "waiting-caller"
line = 2
at_s = 2.0
number = "02161234567"
actions = [{{ listen_s = 1.0 }}, {{ press = "2" }}, {{ wait_for_agent_s = 590.0 }}, {_TALKING}]

[[phones]]
name = "li"
port = 4
answer_after_s = 0.5
actions = [{{ listen_s = 600.0 }}]

[[phones]]
name = "wang"
port = 5
answer_after_s = 0.5
actions = [{{ listen_s = 600.0 }}]

[[phones]]
name = "boss"
port = 7
answer = false
calls = [
  {_BOSS},
]
"""


class RunningBox:
    """The box of CONFIG/SCENARIO (or `config_text`) in a thread; `socket` is its control
    socket. `stop()` stops it as SIGTERM does."""

    def __init__(self, folder, *, config_text=None, board="ctl", config_name="box.toml"):
        self.folder = Path(folder)
        self.data = self.folder / "data"
        self.config_path = self.folder / config_name
        text = config_text or CONFIG.format(board=board, data=self.data)
        self.config_path.write_text(text)
        config = parse_config(text, source=str(self.config_path), folder=self.folder)
        self.socket = self.data / "control.sock"
        self.rows = []  # the event log's rows as the engine writes them: (kind, entry)
        self.box = Box(config, scenario=parse_scenario(SCENARIO, "control-scenario.toml"),
                       origin_ms=ORIGIN_MS, config_path=self.config_path,
                       services=[lambda box: ControlServer(box, self.socket)])
        self.loop = None
        self.error = None
        self._ready = threading.Event()
        self.thread = threading.Thread(target=self._main, daemon=True)
        self.thread.start()
        if not self._ready.wait(60):
            raise RuntimeError("the box did not start")
        if self.error is not None:
            raise self.error

    def _main(self):
        async def main():
            self.loop = asyncio.get_running_loop()
            try:
                await self.box.start()
                self.box.engine.listeners.append(lambda entry, ms: self.rows.append(entry))
            except BaseException as exc:  # handed to the test's thread
                self.error = exc
                self._ready.set()
                await self.box.close()
                return
            self._ready.set()
            try:
                await self.box.engine.run()
            finally:
                await self.box.close()
        asyncio.run(main())

    def ask(self, op, actor=None, **args):
        return request(self.socket, op, actor=actor, **args)

    def in_loop(self, function):
        """`function()` run in the box's loop (between ticks); its result."""
        async def run():
            return function()
        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(30)

    def wait_for(self, predicate, what, timeout=60.0):
        """Poll `status` until `predicate(status)` is true; returns that status."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                status = self.ask("status")
            except ClientError:
                status = None
            if status is not None and predicate(status):
                return status
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}; last status: {status}")
            time.sleep(0.1)

    def stop(self):
        if self.loop is not None and self.thread.is_alive():
            self.loop.call_soon_threadsafe(self.box.engine.stop)
        self.thread.join(60)
        assert not self.thread.is_alive(), "the box did not stop"


def call_of(status, queue):
    """The connected call of `queue` in a status."""
    return next((c for c in status["calls"] if c["queue"] == queue
                 and c["state"] == "connected"), None)


def port_state(status, port):
    board = status["boards"][0]
    return board["ports"][port]["state"]

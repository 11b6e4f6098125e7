"""The box while calls are up: a reloaded config changes the IVR for new calls and leaves the
live one alone (an invalid file changes nothing); a board that goes silent ends its calls
with a CDR that says so."""

import asyncio

from appliance.config import ConfigError, parse_config
from appliance.drivers.emulator import parse_scenario
from appliance.engine.box import Box
from appliance.store import Store

from .rig import ORIGIN_MS

CONFIG = """
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
flow = "greeting"
[stations.desk1]
extension = "101"
board = "main"
port = 2
[storage]
data_dir = "{data}"
[ivr.greeting]
type = "play"
prompts = "{prompt}"
next = "bye"
[ivr.bye]
type = "hangup"
reason = "{reason}"
"""

SCENARIO = """
[board]
ports = "2fxo+2fxs"
[run]
seconds = 30.0
[[callers]]
name = "first"
line = 0
at_s = 0.5
actions = [{ listen_s = 30.0 }]
[[callers]]
name = "second"
line = 1
at_s = 12.0
actions = [{ listen_s = 30.0 }]
"""


async def at_board_time(box, seconds):
    while box.engine is None or box.engine.now - box.engine.calendar.origin_tick < seconds * 50:
        await asyncio.sleep(0.01)


def test_reload_changes_new_calls_only_and_an_invalid_file_nothing(tmp_path):
    path = tmp_path / "appliance.toml"
    old = CONFIG.format(board="e2e-reload", data=tmp_path, prompt="welcome.wav", reason="old")
    path.write_text(old)
    box = Box(parse_config(old, source=str(path), folder=tmp_path), config_path=path,
              scenario=parse_scenario(SCENARIO, "s.toml"), virtual=True, until_s=30.0,
              origin_ms=ORIGIN_MS)
    outcomes = []

    async def edit_while_the_first_call_is_up():
        await at_board_time(box, 6.0)  # answered at the 2nd ring (5 s): in the greeting
        path.write_text(old.replace("[ivr.bye]", "[ivr.bye]\nno_such_key = 1"))
        outcomes.append(box.reload())
        path.write_text(CONFIG.format(board="e2e-reload", data=tmp_path,
                                      prompt="goodbye.wav", reason="new")
                        .replace('extension = "101"', 'extension = "201"'))
        outcomes.append(box.reload())

    async def main():
        editor = asyncio.create_task(edit_while_the_first_call_is_up())
        await box.run()
        await editor

    asyncio.run(main())
    refused, plan = outcomes
    assert isinstance(refused, ConfigError)
    assert sorted(str(c) for c in plan.changes) == [
        "ivr.bye: changed; applies to new calls", "ivr.greeting: changed; applies to new calls",
        "stations.desk1: changed; needs a restart"]
    assert box.config.stations["desk1"].extension == "101"  # kept until a restart
    with Store.open(box.database) as store:
        first, second = sorted(store.cdrs(), key=lambda c: c.start_ms)
    assert first.hangup_cause == "old" and second.hangup_cause == "new"
    report = box.report()
    heard_first = report.callers[0].heard
    heard_second = report.callers[1].heard
    # the first call heard the whole old greeting (welcome.wav, ~1.7 s), the second the new
    # one (goodbye.wav): their lengths of sound differ as the prompts do
    assert abs(sound_s(heard_first) - sound_s(heard_second)) > 0.3


def sound_s(heard):
    frames = heard[: len(heard) // 160 * 160].reshape(-1, 160).astype(float)
    return float(((frames ** 2).mean(axis=1) > 1e4).sum()) * 0.02


LOSS_SCENARIO = """
[board]
ports = "2fxo+2fxs"
[run]
seconds = 600.0
[[callers]]
name = "caller"
line = 0
at_s = 0.5
actions = [{ listen_s = 600.0 }]
"""


def test_a_board_that_goes_silent_ends_its_calls_with_a_reason(tmp_path):
    text = CONFIG.format(board="e2e-loss", data=tmp_path, prompt="welcome.wav", reason="x")
    # a menu that waits a minute for a key: the call is up when the board goes silent
    text = text.replace('next = "bye"', 'next = "wait"') + \
        '[ivr.wait]\ntype = "menu"\nprompts = "builtin:silence"\noptions = { 1 = "bye" }\n' \
        'timeout = 60\nfallback = "bye"\n'
    box = Box(parse_config(text, source="loss.toml", folder=tmp_path),
              scenario=parse_scenario(LOSS_SCENARIO, "s.toml"), virtual=True,
              origin_ms=ORIGIN_MS)

    async def freeze_mid_call():
        await at_board_time(box, 5.0)
        box.runners[0].freeze()  # the board stops sending: lost after 1 s
        for _ in range(500):
            await asyncio.sleep(0.01)
            if not box.engine.switchboard.calls:
                break
        box.engine.stop()

    async def main():
        task = asyncio.create_task(freeze_mid_call())
        await box.run()
        await task

    asyncio.run(main())
    with Store.open(box.database) as store:
        [cdr] = store.cdrs()
    assert cdr.disposition == "interrupted" and cdr.hangup_cause == "board lost"
    assert cdr.end_ms is not None

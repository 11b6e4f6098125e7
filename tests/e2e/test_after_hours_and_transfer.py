"""End to end in virtual time: a known customer calling after hours leaves a voicemail (the
lookup, the schedule and the voicemail nodes against the real store and recorder), and an
agent transfers a caller to a colleague with the phone's hook flash and keypad."""

import soundfile

from appliance.store import Store

from .rig import ORIGIN_MS, level, rms_db, run_box

BASE = """
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
flow = "{flow}"
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
overflow = "voicemail"
[agents.1001]
name = "Li Na"
skills = {{ sales = 8 }}
pin = "4821"
station = "desk1"
[agents.1002]
name = "Wang Wei"
skills = {{ sales = 3 }}
pin = "7305"
station = "desk2"
[schedules.office]
time_zone = "UTC"
monday = ["09:00-17:00"]
[recording]
mode = "off"
[storage]
data_dir = "{data}"
[ivr.who]
type = "lookup"
fields = {{ customer_name = "name" }}
found = "known"
not_found = "hours"
[ivr.known]
type = "play"
prompts = "welcome.wav"
next = "hours"
[ivr.hours]
type = "schedule"
schedule = "office"
open = "sales"
closed = "after_hours"
[ivr.after_hours]
type = "voicemail"
mailbox = "general"
prompts = "closed.wav"
max_length = 60
[ivr.sales]
type = "queue"
queue = "sales"
"""

VOICEMAIL_SCENARIO = """
[board]
ports = "2fxo+2fxs"
[run]
seconds = 25.0
seed = 5
[exchange]
clear_signal = "loop_drop"
[[callers]]
name = "zhang"
line = 1
at_s = 0.5
number = "13800138000"
noise_dbm0 = -55.0
actions = [{ listen_s = 6.0 }, { talk_s = 4.0, level_dbm0 = -18.0 }, { press = "#" },
           { listen_s = 1.0 }, { hang_up = true }]
"""


def test_a_known_caller_after_hours_leaves_a_voicemail(tmp_path):
    # Monday 08:00 UTC: the office opens at 09:00
    def customers(box):
        with Store.open(box.database) as store:
            store.upsert_customer("13800138000", name="Zhang San")

    box = run_box(tmp_path, BASE.format(board="e2e-vm", flow="who", data=tmp_path),
                  VOICEMAIL_SCENARIO, before=customers)
    with Store.open(box.database) as store:
        cdr = store.cdrs()[0]
        voicemails = store.voicemails("general")
    caller = box.report().callers[0]
    assert list(cdr.ivr_path) == ["who", "known", "hours", "after_hours"]
    assert cdr.disposition == "voicemail"
    assert len(voicemails) == 1
    message = voicemails[0]
    assert message.caller == "13800138000"
    audio, rate = soundfile.read(message.path, dtype="int16")
    assert rate == 8000 and audio.ndim == 1
    # the message runs from the beep to the '#': it holds the 4 s the caller talked
    pressed = caller.pressed[0][1]
    assert abs(len(audio) / 8000 - message.duration_ms / 1000) < 0.1
    start_s = (message.time_ms - ORIGIN_MS) / 1000
    assert start_s < caller.answered_at_s + 6.0 and abs(start_s + len(audio) / 8000 - pressed) < 0.3
    talk = audio[int((caller.answered_at_s + 6.2 - start_s) * 8000):
                 int((caller.answered_at_s + 9.8 - start_s) * 8000)]
    assert rms_db(talk) > rms_db(audio[:int(0.3 * 8000)]) + 15


TRANSFER_SCENARIO = """
[board]
ports = "2fxo+2fxs"
[run]
seconds = 40.0
seed = 3
start = 2026-11-23T10:00:00
[exchange]
clear_signal = "polarity"
[[callers]]
name = "caller"
line = 0
at_s = 0.5
number = "5550001"
actions = [{ wait_for_agent_s = 30.0 }, { listen_s = 25.0 }, { hang_up = true }]
[[phones]]
name = "li"
port = 2
answer_after_s = 1.0
actions = [{ talk_s = 2.0 }, { flash_s = 0.3 }, { listen_s = 1.0 }, { press = "102" },
           { listen_s = 4.0 }, { talk_s = 1.0 }, { hang_up = true }]
[[phones]]
name = "wang"
port = 3
answer_after_s = 1.5
actions = [{ listen_s = 2.0 }, { talk_s = 3.0 }, { listen_s = 30.0 }]
"""


MONDAY_10_UTC_MS = 1_795_428_000_000  # 2026-11-23T10:00:00Z


def test_an_agent_transfers_the_caller_to_a_colleague_after_talking_to_them(tmp_path):
    # office hours: the call goes to sales, Li Na answers, holds, dials 102, talks to
    # Wang Wei, hangs up: the caller is Wang's now (an attended transfer)
    config = BASE.format(board="e2e-xfer", flow="hours", data=tmp_path)
    box = run_box(tmp_path, config, TRANSFER_SCENARIO, origin_ms=MONDAY_10_UTC_MS)
    report = box.report()
    caller = report.callers[0]
    li, wang = report.phones[0].calls[0], report.phones[1].calls[0]
    assert caller.agent == "li"
    assert li.flashes and li.pressed[0][0] == "102"
    assert wang.answered_ring
    with Store.open(box.database) as store:
        cdr = [c for c in store.cdrs() if c.direction == "inbound"][0]
        events = [e.kind for e in store.events(call_id=cdr.call_id)]
    assert cdr.station == "desk2" and cdr.agent == "1002"
    assert "hold" in events and "transferred" in events
    assert cdr.disposition == "answered" and cdr.hangup_cause == "far end: polarity reversal"
    # after the transfer the caller hears Wang talking
    assert rms_db(caller.heard[-int(25 * 8000):]) > 45


THREE_WAY_SCENARIO = """
[board]
ports = "2fxo+2fxs"
[run]
seconds = 40.0
seed = 4
[exchange]
clear_signal = "loop_drop"
[[callers]]
name = "caller"
line = 0
at_s = 0.5
number = "5550002"
actions = [{ wait_for_agent_s = 30.0 }, { listen_s = 17.5 }, { talk_s = 3.0 },
           { listen_s = 5.0 }, { hang_up = true }]
[[phones]]
name = "li"
port = 2
answer_after_s = 1.0
actions = [{ listen_s = 1.0 }, { flash_s = 0.3 }, { listen_s = 1.0 }, { press = "102" },
           { listen_s = 4.0 }, { flash_s = 0.3 }, { listen_s = 3.0 }, { talk_s = 2.0 },
           { listen_s = 30.0 }]
[[phones]]
name = "wang"
port = 3
answer_after_s = 1.0
actions = [{ listen_s = 9.0 }, { talk_s = 2.0 }, { listen_s = 30.0 }]
"""


def test_flash_flash_makes_a_three_way_call_mixed_on_the_host(tmp_path):
    config = BASE.format(board="e2e-3way", flow="hours", data=tmp_path)
    box = run_box(tmp_path, config, THREE_WAY_SCENARIO, origin_ms=MONDAY_10_UTC_MS)
    report = box.report()
    caller = report.callers[0]
    li, wang = report.phones[0].calls[0], report.phones[1].calls[0]
    with Store.open(box.database) as store:
        cdr = [c for c in store.cdrs() if c.direction == "inbound"][0]
        kinds = [e.kind for e in store.events(call_id=cdr.call_id)]
    assert "three_way" in kinds
    assert len(li.flashes) == 2

    joined = li.flashes[1] + 0.8
    li_talks = joined + 3.0 - 0.8  # li: listen 3 s after the second flash, then talk 2 s
    # Wang's 2 s of talk come 9 s after he answered; the caller's 3 s come 17.5 s after Li
    # answered: one talker at a time
    wang_talks = wang.off_hook_at_s + 9.0
    caller_talks = caller.agent_at_s + 17.5
    assert li_talks + 2.0 < wang_talks and wang_talks + 2.0 < caller_talks
    assert wang_talks > joined and li_talks > joined
    # everyone hears each talker, and nobody hears silence where a talker spoke
    assert level(caller.heard, caller.answered_at_s, wang_talks + 0.2, 1.5) > 55
    assert level(caller.heard, caller.answered_at_s, li_talks + 0.2, 1.5) > 55
    assert level(li.heard, li.off_hook_at_s, wang_talks + 0.2, 1.5) > 55
    assert level(wang.heard, wang.off_hook_at_s, caller_talks + 0.2, 2.5) > 55
    assert level(li.heard, li.off_hook_at_s, caller_talks + 0.2, 2.5) > 55
    # and a talker does not hear itself (the N-1 mix)
    assert level(wang.heard, wang.off_hook_at_s, wang_talks + 0.2, 1.5) < 45


TWO_BOARDS = """
skills = ["sales"]
[site]
name = "e2e"
country = "cn"
[boards.lines]
url = "inprocess://e2e-lines"
ports = "2fxo"
emulated = true
[boards.phones]
url = "inprocess://e2e-phones"
ports = "2fxs"
emulated = true
[trunks.pstn]
board = "lines"
ports = [0, 1]
flow = "sales"
[stations.desk1]
extension = "101"
board = "phones"
port = 0
[queues.sales]
skills = ["sales"]
max_wait_s = 60
overflow = "hangup"
[agents.1001]
name = "Li Na"
skills = {{ sales = 8 }}
pin = "4821"
station = "desk1"
[recording]
mode = "all"
layout = "mixed"
[storage]
data_dir = "{data}"
[ivr.sales]
type = "queue"
queue = "sales"
"""

LINES = """
[board]
ports = "2fxo"
[run]
seconds = 20.0
[exchange]
clear_signal = "loop_drop"
[[callers]]
name = "caller"
line = 1
at_s = 0.5
number = "5550003"
# the lines board cannot see the switch to another board: listen, then talk
actions = [{ listen_s = 9.0 }, { talk_s = 2.0 }, { listen_s = 3.0 }, { hang_up = true }]
"""

PHONES = """
[board]
ports = "2fxs"
[run]
seconds = 20.0
[[phones]]
name = "li"
port = 0
answer_after_s = 1.0
actions = [{ listen_s = 3.0 }, { talk_s = 2.0 }, { listen_s = 30.0 }]
"""


def test_a_line_on_one_board_talks_to_a_station_on_another(tmp_path):
    box = run_box(tmp_path, TWO_BOARDS.format(data=tmp_path),
                  {"lines": LINES, "phones": PHONES}, origin_ms=MONDAY_10_UTC_MS)
    caller = box.report("lines").callers[0]
    li = box.report("phones").phones[0].calls[0]
    assert caller.outcome.value == "answered" and li.answered_ring

    # each hears the other through the host's bridge
    caller_talks = caller.answered_at_s + 9.0
    li_talks = li.off_hook_at_s + 3.0
    assert level(li.heard, li.off_hook_at_s, caller_talks + 0.2, 1.5) > 55
    assert level(caller.heard, caller.answered_at_s, li_talks + 0.2, 1.5) > 55
    with Store.open(box.database) as store:
        cdr = store.cdrs()[0]
    assert cdr.station == "desk1" and cdr.hangup_cause == "far end: loop current drop"
    audio, _ = soundfile.read(cdr.recording_path, dtype="int16")
    assert audio.ndim == 1  # both parties mixed
    rec = cdr.answer_ms / 1000 - MONDAY_10_UTC_MS / 1000
    assert level(audio, rec, li_talks + 0.2, 1.5) > 55  # Li's voice
    assert level(audio, rec, caller_talks + 0.2, 1.5) > 55  # the caller's

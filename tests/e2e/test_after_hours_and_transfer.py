"""End to end in virtual time: a known customer calling after hours leaves a voicemail (the
lookup, the schedule and the voicemail nodes against the real store and recorder), and an
agent transfers a caller to a colleague with the phone's hook flash and keypad."""

import soundfile

from appliance.store import Store

from .rig import ORIGIN_MS, rms_db, run_box

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

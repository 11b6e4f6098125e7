"""End to end, in virtual time: a caller waits, presses the callback digit and hangs up;
when the agent is free their phone rings, they answer, the box dials the caller back on an
FXO line, the far end answers and they talk. The CDRs, the event log and the emulator's
account of the callee must agree."""

import pytest

from appliance.store import Store

from .rig import run_box

CONFIG = """
skills = ["sales"]

[site]
name = "e2e"
country = "cn"

[boards.main]
url = "inprocess://callback"
ports = "2fxo+2fxs"
emulated = true

[trunks.pstn]
board = "main"
ports = [0, 1]
direction = "both"
flow = "sales"

[stations.desk1]
extension = "101"
board = "main"
port = 2

[queues.sales]
skills = ["sales"]
max_wait_s = 300
overflow = "voicemail"
callback_digit = "5"
announce_s = 0

[agents.1001]
name = "Li Na"
skills = {{ sales = 8 }}
pin = "4821"
station = "desk1"

[storage]
data_dir = "{data}"

[dial]
trunk = "pstn"
allow = ["1"]
min_digits = 3

[ivr.sales]
type = "queue"
queue = "sales"
"""

# Ann (line 1) reaches Li Na first and talks; Bob (line 0) waits behind her, presses 5,
# hears the confirmation and the box hangs up. Li Na hangs up on Ann at about 30 s; her
# phone then rings for Bob's callback; the box dials Bob's number, Bob answers, they talk.
SCENARIO = """
[board]
ports = "2fxo+2fxs"

[run]
seconds = 90.0
seed = 5

[exchange]
answer_polarity = {polarity}

[[callers]]
name = "ann"
line = 1
at_s = 1.0
number = "13900001111"
actions = [{{ wait_for_agent_s = 20.0 }}, {{ talk_s = 3.0 }}, {{ listen_s = 60.0 }}]

[[callers]]
name = "bob"
line = 0
at_s = 4.0
number = "13800138000"
actions = [{{ listen_s = 6.0 }}, {{ press = "5" }}, {{ listen_s = 20.0 }}]

[[phones]]
name = "li-na"
port = 2
answer_after_s = 2.0
actions = [{{ listen_s = 22.0 }}, {{ talk_s = 3.0 }}, {{ listen_s = 2.0 }}, {{ hang_up = true }}]

[[callees]]
name = "bob-called-back"
number = "13800138000"
answer_after_s = {answer_after}
actions = [{{ talk_s = 2.0 }}, {{ listen_s = 30.0 }}]
"""


# How the box learns that the callee answered, and how late it may know it: the answer
# polarity at once; the end of the ringback within one cadence (cn: 1 s on, 4 s off); a
# callee who answers before the ringback is recognised, by the sound on the line 12 s
# after the dial.
WAYS = {"answer-polarity": ("true", 8.0, 0.1), "ringback-ends": ("false", 8.0, 6.0),
        "quick-answer": ("false", 1.0, 14.0)}


@pytest.fixture(scope="module", params=list(WAYS))
def finished(request, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("callback")
    polarity, answer_after, late = WAYS[request.param]
    box = run_box(tmp, CONFIG.format(data=tmp),
                  SCENARIO.format(polarity=polarity, answer_after=answer_after))
    with Store.open(box.database) as store:
        cdrs = store.cdrs()
        events = store.events()
    return box, cdrs, events, late


def test_the_callers_live_leg_ends_as_a_callback(finished):
    box, cdrs, events, late = finished
    (bob,) = [c for c in cdrs if c.caller_number == "13800138000"]
    assert (bob.direction, bob.queue, bob.disposition, bob.hangup_cause) == \
        ("inbound", "sales", "callback", "callback booked")
    (requested,) = [e for e in events if e.kind == "callback_requested"]
    assert requested.call_id == bob.call_id and requested.data["number"] == "13800138000"
    caller = box.report().caller("bob")
    assert caller.hung_up_by.value == "box" and "5" in [d for d, _ in caller.pressed]


def test_the_callback_rings_the_agent_dials_out_and_connects(finished):
    box, cdrs, events, late = finished
    (bob,) = [c for c in cdrs if c.caller_number == "13800138000"]
    (back,) = [c for c in cdrs if c.called == "13800138000"]
    assert (back.direction, back.agent, back.station, back.queue, back.disposition) == \
        ("outbound", "1001", "desk1", "sales", "answered")
    assert back.trunk == "pstn" and back.answer_ms is not None
    assert back.hangup_cause == "agent hung up"
    (row,) = [e for e in events if e.kind == "callback"]
    assert (row.call_id, row.data["callback_of"], row.agent) == (back.call_id, bob.call_id,
                                                                 "1001")
    kinds = [e.kind for e in events if e.call_id == back.call_id]
    assert kinds == ["callback", "offered", "dial_out", "connected", "call_ended"]
    # the agent was reserved for the callback, on the call once the far end answered,
    # and free after it
    states = [(e.data["state"], e.call_id) for e in events
              if e.kind == "agent_state" and e.agent == "1001" and e.time_ms >= row.time_ms]
    assert [state for state, call in states if call == bob.call_id][:2] == \
        ["reserved", "on_call"]
    assert states[-1][0] == "idle"
    assert not [e for e in events if e.kind == "callback_failed"]


def test_the_far_end_and_the_agent_talked(finished):
    box, cdrs, events, late = finished
    report = box.report()
    callee = report.callee("bob-called-back")
    assert callee.outcome.value == "answered" and callee.line in (0, 1)
    assert callee.agent == "li-na"
    assert callee.talked_s == pytest.approx(2.0, abs=0.1)
    (back,) = [c for c in cdrs if c.called == "13800138000"]
    known_s = (back.answer_ms - box.origin_ms) / 1000.0
    assert 0.0 <= known_s - callee.answered_at_s <= late


def test_a_busy_callee_fails_the_callback_without_blaming_the_agent(tmp_path):
    scenario = SCENARIO.format(polarity="false", answer_after=8.0).replace(
        "answer_after_s = 8.0\n", "busy = true\n")
    box = run_box(tmp_path, CONFIG.format(data=tmp_path), scenario)
    with Store.open(box.database) as store:
        cdrs = store.cdrs()
        events = store.events()
    (back,) = [c for c in cdrs if c.called == "13800138000"]
    assert (back.direction, back.disposition, back.answer_ms) == ("outbound", "busy", None)
    assert back.hangup_cause == "far end: busy tone"
    (failed,) = [e for e in events if e.kind == "callback_failed"]
    assert (failed.agent, failed.data["why"]) == ("1001", "far end: busy tone")
    (offer_failed,) = [e for e in events if e.kind == "offer_failed"]
    assert offer_failed.data["unanswered"] == 0  # not held against the agent
    assert [e.data["status"] for e in events if e.kind == "agent_state"][-1] == "ready"
    report = box.report()
    assert report.callees == ()  # a busy callee is never put through
    assert ["".join(d for d, _ in line.dialled) for line in report.lines
            if line.dialled] == ["13800138000"]

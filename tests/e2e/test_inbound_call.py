"""End to end, in virtual time: the box (`appliance.engine.Box`) on an emulated board.

A caller with caller ID dials in, hears the greeting, presses 2 (DTMF audio over a noisy
line), reaches the sales queue, the agent's station rings and answers, both talk, and the
caller hangs up; the line tells the box only by busy tone. Then the CDR row, the IVR path,
the recording and the emulator's account of what the caller heard must agree.
"""

import pytest
import soundfile

from appliance.store import Store

from .rig import ORIGIN_MS, rms_db, run_box

CONFIG = """
skills = ["sales"]

[site]
name = "e2e"
country = "{country}"

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

[recording]
mode = "all"
layout = "stereo"
format = "{format}"

[storage]
data_dir = "{data}"

[ivr.greeting]
type = "play"
prompts = "welcome.wav"
next = "menu"

[ivr.menu]
type = "menu"
prompts = "main-menu.wav"
options = {{ 1 = "support", 2 = "sales" }}
timeout = 6
fallback = "sales"

[ivr.sales]
type = "queue"
queue = "sales"

[ivr.support]
type = "hangup"
"""

SCENARIO = """
[board]
ports = "2fxo+2fxs"

[run]
seconds = 60.0
seed = 11

[exchange]
profile = "{country}"
clear_signal = "{clear}"

[[callers]]
name = "caller"
line = 0
at_s = 1.0
number = "13800138000"
caller_name = "ZHANG"
noise_dbm0 = -45.0
actions = [
  {{ listen_s = 2.5 }},
  {{ press = "2", level_dbm0 = -12.0 }},
  {{ wait_for_agent_s = 40.0 }},
  {{ talk_s = 4.0, level_dbm0 = -16.0 }},
  {{ listen_s = 4.0 }},
  {{ hang_up = true }},
]

[[phones]]
name = "agent"
port = 2
answer_after_s = 2.0
actions = [{{ listen_s = 4.5 }}, {{ talk_s = 3.0, level_dbm0 = -16.0 }}, {{ listen_s = 30.0 }}]
"""


def run_inbound(tmp_path, fmt="wav-pcm16", board="e2e", clear="busy_tone", country="cn"):
    return run_box(tmp_path, CONFIG.format(board=board, data=tmp_path, format=fmt,
                                           country=country),
                   SCENARIO.format(clear=clear, country=country))


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("box")
    return run_inbound(tmp), tmp


def test_the_cdr_tells_the_call(finished):
    box, tmp = finished
    with Store.open(box.database) as store:
        cdrs = store.cdrs()
    assert len(cdrs) == 1
    cdr = cdrs[0]
    report = box.report().callers[0]
    assert cdr.direction == "inbound"
    assert cdr.caller_number == "13800138000"
    assert cdr.caller_name == "ZHANG"
    assert cdr.trunk == "pstn" and cdr.port == "main:0"
    assert cdr.queue == "sales" and cdr.station == "desk1" and cdr.agent == "1001"
    assert list(cdr.ivr_path) == ["greeting", "menu", "sales"]
    assert cdr.disposition == "answered"
    assert "busy tone" in cdr.hangup_cause
    # the box's times agree with the caller's within a tick or two of pipeline delay
    assert abs((cdr.answer_ms - ORIGIN_MS) / 1000 - report.answered_at_s) < 0.2
    # the busy tone takes at most two cadence cycles (0.35 s on, 0.35 s off) to recognise
    assert 0 <= (cdr.end_ms - ORIGIN_MS) / 1000 - report.ended_at_s < 2.0


def test_the_caller_heard_the_greeting_pressed_2_and_reached_the_agent(finished):
    box, _ = finished
    report = box.report()
    caller = report.callers[0]
    assert caller.outcome.value == "answered"
    assert caller.caller_id == "bell202"
    assert caller.pressed[0][0] == "2"
    assert caller.agent == "agent" and not caller.gave_up
    assert caller.hung_up_by.value == "caller"
    answered, pressed = caller.answered_at_s, caller.pressed[0][1]
    greeting = caller.heard[: int((pressed - answered) * 8000)]
    assert rms_db(greeting) > 50  # the prompt, not silence (speech at about -20 dBm0)
    # the agent spoke to the caller, and the caller heard it
    agent = report.phones[0].calls[0]
    assert agent.answered_ring and agent.talked_s >= 2.9
    heard_from_agent = caller.heard[int((caller.agent_at_s + 4.6 - answered) * 8000):
                                    int((caller.agent_at_s + 7.4 - answered) * 8000)]
    assert rms_db(heard_from_agent) > 50


def test_the_recording_holds_both_voices_for_the_whole_call(finished):
    box, tmp = finished
    with Store.open(box.database) as store:
        cdr = store.cdrs()[0]
    audio, rate = soundfile.read(cdr.recording_path, dtype="int16")
    assert rate == 8000 and audio.ndim == 2
    length_s = len(audio) / 8000
    assert abs(length_s - (cdr.end_ms - cdr.answer_ms) / 1000) < 0.5
    caller = box.report().callers[0]
    # left: the caller; right: what the caller heard (the prompts, music, then the agent)
    talk = caller.agent_at_s - caller.answered_at_s
    left_talk = audio[int((talk + 0.3) * 8000):int((talk + 3.8) * 8000), 0]
    right_talk = audio[int((talk + 4.8) * 8000):int((talk + 7.3) * 8000), 1]
    left_quiet = audio[int((talk + 4.8) * 8000):int((talk + 7.3) * 8000), 0]
    assert rms_db(left_talk) > rms_db(left_quiet) + 10  # the caller's voice, then less
    assert rms_db(right_talk) > 50  # the agent's voice


@pytest.mark.parametrize("clear, cause", [("loop_drop", "loop current drop"),
                                          ("polarity", "polarity reversal")])
def test_other_line_clear_signals_end_the_call_as_fast(tmp_path, clear, cause):
    box = run_inbound(tmp_path, fmt="flac", board=f"e2e-{clear}", clear=clear)
    with Store.open(box.database) as store:
        cdr = store.cdrs()[0]
    caller = box.report().callers[0]
    assert cdr.hangup_cause == f"far end: {cause}"
    assert 0 <= (cdr.end_ms - ORIGIN_MS) / 1000 - caller.ended_at_s < 0.3
    audio, rate = soundfile.read(cdr.recording_path, dtype="int16")
    assert cdr.recording_path.endswith(".flac") and audio.shape[1] == 2
    assert abs(len(audio) / 8000 - (cdr.end_ms - cdr.answer_ms) / 1000) < 0.5


@pytest.mark.parametrize("country", ["us", "etsi"])
def test_other_countries_caller_id_and_busy_tone(tmp_path, country):
    # the US sends Bell 202 between the rings and its own busy cadence; ETSI (here V.23)
    # sends caller ID before the first ring
    box = run_inbound(tmp_path, board=f"e2e-{country}", country=country)
    with Store.open(box.database) as store:
        cdr = store.cdrs()[0]
    caller = box.report().callers[0]
    assert cdr.caller_number == "13800138000" and cdr.agent == "1001"
    assert cdr.hangup_cause == "far end: busy tone"
    assert 0 <= (cdr.end_ms - ORIGIN_MS) / 1000 - caller.ended_at_s < 2.0

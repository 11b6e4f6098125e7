"""IvrSession: one test per node type, then type-ahead, retries, back and goto.

Time is the engine's tick (20 ms): 50 ticks = 1 s. No test reads a clock."""

import pytest

from appliance.ivr import (
    Beep, CallerHungUp, DigitReceived, Event, Hangup, IvrSession, LookupAnswered,
    LookUpCustomer, Play, PromptFinished, Queue, RecordingFinished, StartRecording, State,
    StopPlayback, StopRecording, TickElapsed, Transfer,
)
from appliance.ivr.session import MAX_HOPS, TRANSITIONS

from .helpers import flows_of, readme_example, session

HANGUP = '[ivr.h]\ntype="hangup"\n'
SALES = '[ivr.sales]\ntype="queue"\nqueue="sales"\n'


def played(actions):
    return [a.prompts for a in actions if isinstance(a, Play)]


# ---- one test per node type -------------------------------------------------------------------

def test_play_without_barge_in_plays_to_the_end_and_keeps_digits():
    s = session('[ivr.p]\ntype="play"\nprompts=["a.wav","b.wav"]\nnext="h"\n' + HANGUP, "p")
    assert s.start(0) == [Play(("a.wav", "b.wav"), False, 1)]
    assert s.digit("5", 10) == []               # kept, prompt not stopped
    assert s.state is State.PLAYING
    assert s.prompt_finished(100, play_id=1) == [Hangup("ivr")]
    assert s.path == ["p", "h"] and s.digits == [("5", 10)]


def test_play_with_barge_in_stops_on_a_digit():
    s = session('[ivr.p]\ntype="play"\nprompts="a.wav"\nbarge_in=true\nnext="h"\n' + HANGUP, "p")
    s.start(0)
    assert s.digit("1", 7) == [StopPlayback(1), Hangup("ivr")]
    assert s.done and s.result == Hangup("ivr") and s.ended_by == "ivr"


MENU = """
[ivr.m]
type = "menu"
prompts = "menu.wav"
options = { 1 = "sales", 2 = "h" }
timeout = 2
no_input_prompts = "no-input.wav"
no_input_limit = 2
invalid_prompts = "invalid.wav"
invalid_limit = 3
fallback = "h"
no_input_fallback = "sales"
""" + HANGUP + SALES


def test_menu_option_goes_to_its_node():
    s = session(MENU, "m", {"caller": "555"})
    assert s.start(0) == [Play(("menu.wav",), True, 1)]
    assert s.prompt_finished(100) == []
    assert s.state is State.WAITING_DIGITS and s.deadline == 100 + 2 * 50
    acts = s.digit("1", 150)
    assert acts == [Queue("sales", {"caller": "555"}, 0)]
    assert s.path == ["m", "sales"]


def test_menu_no_input_and_invalid_are_counted_separately_with_their_own_prompts():
    s = session(MENU, "m")
    s.start(0)
    s.prompt_finished(50)
    # invalid, no input, invalid: neither limit reached (invalid 3, no input 2).
    assert played(s.digit("7", 60)) == [("invalid.wav", "menu.wav")]
    s.prompt_finished(120)
    assert s.tick(219) == []
    assert played(s.tick(220)) == [("no-input.wav", "menu.wav")]
    s.prompt_finished(300)
    assert played(s.digit("9", 310)) == [("invalid.wav", "menu.wav")]
    assert s.variables["m.invalid"] == "2" and s.variables["m.no_input"] == "1"
    s.prompt_finished(400)
    # The second no-input reaches its own limit (2): its own fallback, the sales queue.
    assert s.tick(500) == [Queue("sales", dict(s.variables), 0)]
    assert s.path == ["m", "sales"]


def test_menu_invalid_limit_goes_to_fallback():
    s = session(MENU, "m")
    s.start(0)
    s.prompt_finished(50)
    for t in (60, 200, 400):
        s.digit("0", t)  # barge-in on the re-prompt each time
    assert s.result == Hangup("ivr") and s.variables["m.invalid"] == "3"


def test_menu_max_failures_caps_both():
    s = session(MENU.replace('fallback = "h"\n', 'fallback = "h"\nmax_failures = 2\n'), "m")
    s.start(0)
    s.prompt_finished(50)
    s.digit("8", 60)
    s.prompt_finished(100)
    assert s.tick(200) == [Hangup("ivr")]


def test_menu_without_barge_in_finishes_the_prompt_then_takes_the_digit():
    s = session(MENU.replace('options =', 'barge_in = false\noptions ='), "m")
    assert s.start(0) == [Play(("menu.wav",), False, 1)]
    assert s.digit("2", 10) == []
    assert s.prompt_finished(80) == [Hangup("ivr")]


COLLECT = """
[ivr.c]
type = "collect"
prompts = "enter.wav"
digits = 6
min_digits = 4
first_digit_timeout = 4
inter_digit_timeout = 2
variable = "account"
next = "sales"
invalid_prompts = "bad.wav"
no_input_prompts = "nothing.wav"
fallback = "h"
""" + HANGUP + SALES


def feed(s, digits, start, step=10):
    out = []
    for i, d in enumerate(digits):
        out += s.digit(d, start + i * step)
    return out


def test_collect_all_digits():
    s = session(COLLECT, "c")
    s.start(0)
    s.prompt_finished(60)
    acts = feed(s, "123456", 70)
    assert acts[-1].name == "sales" and acts[-1].variables["account"] == "123456"


def test_collect_terminator_ends_a_shorter_entry():
    s = session(COLLECT, "c")
    s.start(0)
    s.prompt_finished(60)
    assert isinstance(feed(s, "1234#", 70)[-1], Queue)
    assert s.variables["account"] == "1234"


def test_collect_shorter_entry_accepted_when_the_inter_digit_timeout_expires():
    s = session(COLLECT, "c")
    s.start(0)
    s.prompt_finished(60)
    feed(s, "98765", 70)                       # last digit at tick 110
    assert s.deadline == 110 + 100
    assert s.tick(209) == []
    acts = s.tick(210)
    assert isinstance(acts[0], Queue) and s.variables["account"] == "98765"


def test_collect_too_short_on_inter_digit_timeout_is_invalid():
    s = session(COLLECT, "c")
    s.start(0)
    s.prompt_finished(60)
    feed(s, "12", 70)
    assert played(s.tick(180)) == [("bad.wav", "enter.wav")]
    assert "account" not in s.variables and s.variables["c.invalid"] == "1"


def test_collect_first_digit_timeout_is_no_input():
    s = session(COLLECT, "c")
    s.start(0)
    s.prompt_finished(60)
    assert s.deadline == 60 + 200
    assert played(s.tick(260)) == [("nothing.wav", "enter.wav")]
    assert s.variables["c.no_input"] == "1"


def test_collect_star_is_invalid_and_the_entry_starts_again():
    s = session(COLLECT, "c")
    s.start(0)
    s.prompt_finished(60)
    assert played(feed(s, "12*", 70)) == [("bad.wav", "enter.wav")]
    s.prompt_finished(200)
    feed(s, "4444#", 210)
    assert s.variables["account"] == "4444"


SCHEDULE = """
[ivr.s]
type = "schedule"
schedule = "office"
open = "sales"
closed = "h"
holiday = "hol"
[ivr.hol]
type = "hangup"
reason = "holiday"
""" + HANGUP + SALES


@pytest.mark.parametrize("state,result", [
    ("open", Queue), (True, Queue), ("closed", Hangup), (False, Hangup), ("lunch", Hangup),
    ("holiday", Hangup)])
def test_schedule_branches_on_the_schedule_at_the_current_tick(state, result):
    asked = []
    s = session(SCHEDULE, "s", schedules={"office": lambda t: asked.append(t) or state})
    acts = s.start(1234)
    assert asked == [1234] and isinstance(acts[0], result)
    if state == "holiday":
        assert acts[0] == Hangup("holiday")


def test_schedule_object_with_state_at():
    class Office:
        def state_at(self, tick):
            return "open" if tick < 1000 else "closed"

    assert isinstance(session(SCHEDULE, "s", schedules={"office": Office()}).start(999)[0],
                      Queue)
    assert session(SCHEDULE, "s", schedules={"office": Office()}).start(1000) == [
        Hangup("ivr")]


def test_schedule_must_be_given():
    with pytest.raises(ValueError, match="needs schedule 'office'"):
        session(SCHEDULE, "s")
    with pytest.raises(TypeError, match="must be callable"):
        session(SCHEDULE, "s", schedules={"office": "9-17"})


LOOKUP = """
[ivr.l]
type = "lookup"
fields = { name = "full_name", vip = "vip" }
timeout = 1
found = "q"
not_found = "h"
[ivr.q]
type = "queue"
queue = "sales"
priority = 3
""" + HANGUP


def test_lookup_through_the_engine_sets_variables():
    s = session(LOOKUP, "l", {"caller": "5551234"})
    assert s.start(0) == [LookUpCustomer("caller", "5551234", 1)]
    assert s.state is State.LOOKING_UP and s.deadline == 50
    acts = s.lookup_result({"full_name": "Ann Lee", "vip": True, "other": 1}, 5)
    assert acts == [Queue("sales", {"caller": "5551234", "customer.found": "1",
                                    "name": "Ann Lee", "vip": "True"}, 3)]


def test_lookup_with_an_injected_function_and_all_fields():
    s = session(LOOKUP.replace('fields = { name = "full_name", vip = "vip" }\n', ""), "l",
                {"caller": "42"}, lookup=lambda v: {"name": "Bo", "id": 7} if v == "42" else None)
    acts = s.start(0)
    assert acts[0].variables["customer.name"] == "Bo" and acts[0].variables["customer.id"] == "7"


def test_lookup_answer_after_its_timeout_is_not_taken_for_the_next_lookup():
    text = LOOKUP.replace('not_found = "h"', 'not_found = "l2"') + """
[ivr.l2]
type = "lookup"
key = "called"
found = "q"
not_found = "h"
"""
    s = session(text, "l", {"caller": "1", "called": "2"})
    s.start(0)
    assert s.tick(50) == [LookUpCustomer("called", "2", 2)]
    assert s.lookup_result({"full_name": "late"}, 51, request_id=1) == []
    assert s.state is State.LOOKING_UP
    assert s.lookup_result({"x": 1}, 52, request_id=2)[0].name == "sales"
    assert s.variables["customer.x"] == "1" and "name" not in s.variables


def test_lookup_not_found_timeout_and_no_caller_number():
    s = session(LOOKUP, "l")
    s.start(0)
    assert s.lookup_result(None, 3) == [Hangup("ivr")]
    s = session(LOOKUP, "l")
    s.start(0)
    assert s.tick(49) == [] and s.tick(50) == [Hangup("ivr")]
    assert s.variables["customer.lookup"] == "timeout"
    s = session(LOOKUP, "l", {"called": "100"})
    assert s.start(0) == [Hangup("ivr")] and s.variables["customer.found"] == "0"


def test_queue_carries_the_variables_and_priority():
    s = session(LOOKUP, "q", {"caller": "1", "trunk": "t1"})
    assert s.start(0) == [Queue("sales", {"caller": "1", "trunk": "t1"}, 3)]
    assert s.done and s.path == ["q"]


VOICEMAIL = """
[ivr.v]
type = "voicemail"
mailbox = "general"
prompts = "leave.wav"
max_length = 10
next = "bye"
[ivr.bye]
type = "hangup"
reason = "voicemail"
"""


def test_voicemail_records_after_the_tone_until_hash():
    s = session(VOICEMAIL, "v")
    assert s.start(0) == [Play(("leave.wav",), False, 1)]
    assert s.digit("#", 10) == []                         # during the greeting: dropped
    assert s.prompt_finished(100) == [Beep(2)]
    assert s.prompt_finished(110) == [StartRecording("general", 500)]
    assert s.digit("5", 200) == []                        # other digits do not end it
    assert s.digit("#", 400) == [StopRecording("general", 290), Hangup("voicemail")]
    assert s.variables["voicemail.length_ticks"] == "290"


def test_voicemail_max_length_and_engine_ended_recording():
    s = session(VOICEMAIL.replace('prompts = "leave.wav"\n', "beep = false\n"), "v")
    assert s.start(0) == [StartRecording("general", 500)]
    assert s.tick(499) == []
    assert s.tick(500) == [StopRecording("general", 500), Hangup("voicemail")]
    s = session(VOICEMAIL.replace('next = "bye"\n', ""), "v")
    s.start(0)
    s.prompt_finished(50)
    s.prompt_finished(60)
    assert s.recording_finished(300) == [Hangup("voicemail left")]


def test_caller_hanging_up_while_recording_keeps_the_message():
    s = session(VOICEMAIL, "v")
    s.start(0)
    s.prompt_finished(50)
    s.prompt_finished(60)
    assert s.caller_hung_up(160) == [StopRecording("general", 100)]
    assert s.done and s.ended_by == "caller" and s.result is None


def test_transfer_to_a_station_or_a_number():
    s = session('[ivr.t]\ntype="transfer"\nstation="reception"\n', "t")
    assert s.start(0) == [Transfer(station="reception")]
    s = session('[ivr.t]\ntype="transfer"\nnumber="0301234"\n', "t")
    assert s.start(0) == [Transfer(number="0301234")]


def test_hangup():
    s = session('[ivr.h]\ntype="hangup"\nreason="closed"\n', "h")
    assert s.start(0) == [Hangup("closed")] and s.done
    assert s.digit("1", 5) == [] and s.tick(100) == []   # after the end: ignored


def test_goto_jumps_and_is_in_the_path():
    s = session('[ivr.g]\ntype="goto"\nto="h"\n' + HANGUP, "g")
    assert s.start(0) == [Hangup("ivr")] and s.path == ["g", "h"]


BACK = """
[ivr.main]
type = "menu"
prompts = "main.wav"
options = { 1 = "sub", 2 = "info", 0 = "up" }
fallback = "h"
[ivr.sub]
type = "menu"
prompts = "sub.wav"
options = { 1 = "sales", 9 = "up", 8 = "again" }
fallback = "h"
[ivr.again]
type = "goto"
to = "up"
[ivr.info]
type = "play"
prompts = "info.wav"
next = "up"
[ivr.up]
type = "back"
""" + HANGUP + SALES


def test_back_from_a_submenu_returns_to_the_menu_before():
    s = session(BACK, "main")
    s.start(0)
    assert played(s.digit("1", 10)) == [("sub.wav",)]
    assert played(s.digit("9", 20)) == [("main.wav",)]
    assert s.path == ["main", "sub", "up", "main"]
    assert played(s.digit("1", 30)) == [("sub.wav",)]
    assert played(s.digit("8", 40)) == [("main.wav",)]   # through a goto: the same
    assert s.node == "main"


def test_back_after_a_play_returns_to_that_menu():
    s = session(BACK, "main")
    s.start(0)
    assert played(s.digit("2", 10)) == [("info.wav",)]
    assert played(s.prompt_finished(100)) == [("main.wav",)]


def test_back_with_no_previous_menu_uses_fallback_or_hangs_up():
    s = session(BACK, "main")
    s.start(0)
    assert s.digit("0", 10)[-1] == Hangup("back with no previous menu")
    s = session(BACK.replace('type = "back"\n', 'type = "back"\nfallback = "sales"\n'), "main")
    s.start(0)
    assert isinstance(s.digit("0", 10)[-1], Queue)


# ---- type-ahead -------------------------------------------------------------------------------

def test_type_ahead_through_a_greeting_and_two_menus():
    text = '[ivr.greet]\ntype="play"\nprompts="hello.wav"\nnext="main"\n' + BACK
    s = session(text, "greet")
    assert s.start(0) == [Play(("hello.wav",), False, 1)]
    assert s.digit("1", 10) == [] and s.digit("1", 20) == []  # no barge-in: both kept
    # The greeting ends: main takes 1 at once (its prompt skipped), sub takes the next 1.
    assert s.prompt_finished(200) == [Queue("sales", {"caller": "5551234"}, 0)]
    assert s.path == ["greet", "main", "sub", "sales"]


def test_type_ahead_fills_a_collect():
    text = '[ivr.greet]\ntype="play"\nprompts="hello.wav"\nbarge_in=true\nnext="c"\n' + COLLECT
    s = session(text, "greet")
    s.start(0)
    acts = s.digit("1", 10)
    assert acts == [StopPlayback(1)]                  # collect skipped its prompt
    assert s.state is State.WAITING_DIGITS and s.deadline == 10 + 100
    feed(s, "234", 20)
    assert s.tick(140) == [Queue("sales", dict(s.variables), 0)]
    assert s.variables["account"] == "1234"


def test_digits_before_start_are_type_ahead():
    s = session(MENU, "m")
    s.digit("1", 0)
    assert isinstance(s.start(1)[0], Queue)


def test_late_prompt_finished_for_a_stopped_prompt_is_ignored():
    s = session(MENU, "m")
    s.start(0)
    s.prompt_finished(10)
    (reprompt,) = [a for a in s.digit("5", 20) if isinstance(a, Play)]  # invalid: re-prompt
    acts = s.digit("5", 30)                           # barge-in stops it; invalid again
    assert acts[0] == StopPlayback(reprompt.play_id)
    (again,) = [a for a in acts if isinstance(a, Play)]
    assert again.play_id != reprompt.play_id
    assert s.prompt_finished(31, play_id=reprompt.play_id) == []   # late: ignored
    assert s.state is State.PLAYING
    assert s.prompt_finished(32, play_id=again.play_id) == []
    assert s.state is State.WAITING_DIGITS


def test_a_late_event_fires_a_passed_deadline_first():
    s = session(MENU, "m")
    s.start(0)
    s.prompt_finished(10)                             # deadline 110
    acts = s.digit("1", 500)                          # no tick() came in between
    assert played(acts) == [("no-input.wav", "menu.wav")]
    assert isinstance(acts[-1], Queue)                # then 1 barges in and is taken


def test_a_loop_that_spins_is_cut_by_the_hop_guard():
    s = session('[ivr.a]\ntype="goto"\nto="b"\n[ivr.b]\ntype="goto"\nto="a"\n', "a")
    assert s.start(0) == [Hangup("ivr loop")]
    assert len(s.path) == MAX_HOPS


def test_every_state_event_pair_is_in_the_table():
    assert set(TRANSITIONS) == {(st, ev) for st in State for ev in Event}
    for handler in TRANSITIONS.values():
        assert callable(getattr(IvrSession, handler))


def test_misuse_raises():
    flows = flows_of(MENU)
    with pytest.raises(ValueError, match="not a node"):
        IvrSession(flows, "nowhere", {})
    s = IvrSession(flows, "m", {})
    s.start(0)
    with pytest.raises(ValueError, match="not a DTMF digit"):
        s.digit("x", 1)
    with pytest.raises(RuntimeError):
        s.start(2)


def test_readme_example_call_to_support():
    flows = flows_of(readme_example())
    s = IvrSession(flows, "start", {"caller": "5551234"},
                   schedules={"office": lambda t: "open"})
    assert s.start(0) == [LookUpCustomer("caller", "5551234", 1)]
    assert s.lookup_result({"name": "Ann", "tier": "gold"}, 2) == [
        Play(("welcome.wav",), True, 1)]
    assert s.digit("2", 50) == [StopPlayback(1), Play(("support-menu.wav",), True, 3)]
    acts = s.digit("1", 80)
    assert acts[-1] == Queue("support", {"caller": "5551234", "customer.found": "1",
                                         "customer_name": "Ann", "tier": "gold"}, 1)
    assert s.path == ["start", "hours", "greeting", "main", "support", "support_queue"]


def test_events_as_dataclasses_through_handle():
    s = session(LOOKUP.replace('found = "q"', 'found = "v"') + VOICEMAIL.replace(
        'next = "bye"\n', ""), "l", {"caller": "7"})
    assert s.start(0) == [LookUpCustomer("caller", "7", 1)]
    assert s.handle(LookupAnswered({"full_name": "Cy"}, 3, 1)) == [Play(("leave.wav",), False, 1)]
    assert s.handle(DigitReceived("1", 4)) == []
    assert s.handle(PromptFinished(50, 1)) == [Beep(2)]
    assert s.handle(PromptFinished(60)) == [StartRecording("general", 500)]
    assert s.handle(TickElapsed(100)) == []
    assert s.handle(RecordingFinished(200)) == [Hangup("voicemail left")]
    assert s.handle(CallerHungUp(201)) == []
    with pytest.raises(TypeError, match="not an IVR event"):
        s.handle("1")

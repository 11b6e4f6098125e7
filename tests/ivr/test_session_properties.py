"""Property: whatever events come, in whatever order, IvrSession never raises, gives at most
one terminal action, and is always either done or waiting for something it can name (a
prompt to finish or a deadline). A patient engine then always brings the call to an end."""

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from appliance.ivr import TERMINAL_ACTIONS, Beep, IvrSession, LookUpCustomer, Play, State

from .helpers import flows_of, readme_example
from .test_session import BACK, COLLECT, LOOKUP, MENU, VOICEMAIL

FLOWS = {
    "readme": (flows_of(readme_example()), "start"),
    "back": (flows_of('[ivr.greet]\ntype="play"\nprompts="hello.wav"\nnext="main"\n' + BACK),
             "greet"),
    "menu": (flows_of(MENU), "m"),
    "collect": (flows_of(COLLECT), "c"),
    "lookup": (flows_of(LOOKUP), "l"),
    "voicemail": (flows_of(VOICEMAIL), "v"),
    # Option 3 leads into a loop that spins (check_flows reports it; the hop guard ends it).
    "spin": (flows_of(MENU.replace('2 = "h"', '2 = "h", 3 = "a"')
                      + '[ivr.a]\ntype="goto"\nto="b"\n[ivr.b]\ntype="schedule"\n'
                        'schedule="office"\nopen="a"\nclosed="a"\n'), "m"),
}

digits = st.sampled_from("0123456789*#")
dt = st.integers(min_value=-5, max_value=400)  # the engine's ticks may even repeat or jitter
records = st.one_of(st.none(), st.dictionaries(st.sampled_from(["name", "tier", "full_name"]),
                                               st.one_of(st.text(max_size=5), st.integers())))
events = st.lists(st.one_of(
    st.tuples(st.just("digit"), dt, digits),
    st.tuples(st.just("prompt_finished"), dt, st.sampled_from(["current", "stale", "none"])),
    st.tuples(st.just("tick"), dt, st.none()),
    st.tuples(st.just("recording_finished"), dt, st.none()),
    st.tuples(st.just("lookup_result"), dt, st.tuples(records, st.sampled_from(
        ["current", "stale", "none"]))),
    st.tuples(st.just("caller_hung_up"), dt, st.none()),
), max_size=60)


class Engine:
    """Feeds a session and checks the invariants after every event."""

    def __init__(self, flows, entry, schedule_state):
        self.s = IvrSession(flows, entry, {"caller": "5551234"},
                            schedules={"office": lambda t: schedule_state})
        self.now = 0
        self.play_id = None
        self.lookup_id = None
        self.terminals = []
        self.check(self.s.start(0))

    def check(self, actions):
        s = self.s
        for a in actions:
            if isinstance(a, (Play, Beep)):
                self.play_id = a.play_id
            if isinstance(a, LookUpCustomer):
                self.lookup_id = a.request_id
            if isinstance(a, TERMINAL_ACTIONS):
                self.terminals.append(a)
        assert len(self.terminals) <= 1
        assert all(n in s.flows.nodes for n in s.path)
        if s.done:
            assert s.deadline is None
            if s.ended_by == "ivr":
                assert self.terminals == [s.result]
            else:
                assert s.ended_by == "caller" and not self.terminals
        else:
            assert not self.terminals
            assert ((s.state in (State.PLAYING, State.BEEPING) and s.deadline is None)
                    or (s.state in (State.WAITING_DIGITS, State.RECORDING, State.LOOKING_UP)
                        and s.deadline is not None and s.deadline > s.now))

    def feed(self, kind, delta, arg):
        self.now = max(0, self.now + delta)
        done_before = self.s.done
        if kind == "digit":
            acts = self.s.digit(arg, self.now)
        elif kind == "prompt_finished":
            pid = {"current": self.play_id, "stale": -1, "none": None}[arg]
            acts = self.s.prompt_finished(self.now, play_id=pid)
        elif kind == "lookup_result":
            record, which = arg
            rid = {"current": self.lookup_id, "stale": -1, "none": None}[which]
            acts = self.s.lookup_result(record, self.now, request_id=rid)
        else:
            acts = getattr(self.s, kind)(self.now)
        if done_before:
            assert acts == []
        self.check(acts)

    def be_patient(self, steps=200):
        """Let prompts finish, deadlines pass and lookups find nothing, with no digits."""
        for _ in range(steps):
            s = self.s
            if s.done:
                return True
            if s.state in (State.PLAYING, State.BEEPING):
                self.feed("prompt_finished", 100, "current")
            else:
                self.feed("tick", s.deadline - self.now, None)
        return self.s.done


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(sorted(FLOWS)), st.sampled_from(["open", "closed", "holiday"]), events)
def test_any_events_never_raise_and_end_or_wait(name, schedule_state, evs):
    flows, entry = FLOWS[name]
    engine = Engine(flows, entry, schedule_state)
    for kind, delta, arg in evs:
        engine.feed(kind, delta, arg)
    assert engine.be_patient()

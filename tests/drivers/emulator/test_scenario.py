"""Scenario files: the README's example parses and runs against a small host that answers,
routes to an agent and hangs up; every mistake is reported with its key path."""

import re
from pathlib import Path

import numpy as np
import pytest

import appliance.drivers.emulator as emulator
from appliance.drivers.emulator import (
    Alarm, AbcdChanged, AlarmsChanged, ClearSignal, Connect, Disconnect, EmulatorConfigError,
    HookChanged, OffHook, OnHook, Outcome, Party, PolarityChanged, Ring, RingStarted,
    PortKind, SelectAudio, load_model, load_scenario, parse_scenario, run_scenario,
)
from appliance.drivers.emulator.signals import fsk_caller_id_available
from appliance.dsp import g711
from appliance.dtmf import DtmfDetector, generate

README = Path(emulator.__file__).with_name("README.md")


def readme_example():
    text = README.read_text()
    return re.search(r"```toml\n(.*?)```", text, re.S).group(1)


class MiniPbx:
    """A host for the example: answers on the second ring (after caller ID), sends a caller
    who presses 1 to agent-1's phone, plays "5" to anyone who presses 2 and hangs up on them,
    and hangs up when the far end clears."""

    def __init__(self, board):
        self.lines = board.model.ports_of(PortKind.FXO)
        board.apply(SelectAudio(frozenset(self.lines)))
        self.rings = {}
        self.detectors = {p: DtmfDetector() for p in self.lines}
        self.heard = {p: "" for p in self.lines}
        self.out = {}
        self.hang_up_at = {}
        self.waiting_agent = None
        self.events = []

    def __call__(self, board, result):
        self.events += result.events
        for event in result.events:
            if isinstance(event, RingStarted):
                self.rings[event.port] = self.rings.get(event.port, 0) + 1
                if self.rings[event.port] == 2:
                    board.apply(OffHook(event.port))
            elif isinstance(event, PolarityChanged) and event.polarity == 1:
                board.apply(OnHook(event.port))
                board.apply(Disconnect(event.port))
                self.rings[event.port] = 0
            elif isinstance(event, HookChanged) and event.off_hook \
                    and self.waiting_agent is not None:
                board.apply(Connect(self.waiting_agent, event.port))
                self.waiting_agent = None
        for row, port in enumerate(result.ports):
            for digit in self.detectors[port].feed(g711.alaw_decode(result.rx[row])):
                self.heard[port] += digit.digit
                if digit.digit == "1":
                    self.waiting_agent = port
                    board.apply(Ring(4, ((1000, 4000),)))
                if digit.digit == "#":
                    self.out[port] = g711.alaw_encode(generate("5", level_dbm0=-10.0))
                    self.hang_up_at[port] = result.tick + 50
        tx = {}
        for port, codes in list(self.out.items()):
            frame = codes[:160]
            if frame.size < 160:
                frame = frame.tolist() + [0xD5] * (160 - frame.size)
            tx[port] = bytes(bytearray(frame))
            self.out[port] = codes[160:]
            if not self.out[port].size:
                del self.out[port]
        for port, tick in list(self.hang_up_at.items()):
            if result.tick >= tick:
                board.apply(OnHook(port))
                del self.hang_up_at[port]
        return tx


def test_readme_example_runs_and_reports_the_truth():
    scenario = parse_scenario(readme_example(), "README.md")
    assert scenario.ticks == 90 * 50
    assert scenario.exchange.line(1).clear_signal is ClearSignal.BUSY_TONE
    assert scenario.exchange.line(0).clear_signal is ClearSignal.POLARITY
    (callee,) = scenario.callees
    assert (callee.name, callee.number, callee.answer_after_s) == ("customer-7", "13912345678",
                                                                  6.0)
    board, report = run_scenario(scenario)
    # Without a host nobody answers: both callers run out of ring patience.
    assert [c.outcome for c in report.callers] == [Outcome.ABANDONED] * 2
    assert report.caller("alice").ended_at_s == pytest.approx(32.0)

    hosts = []

    def host(board, result):
        if not hosts:
            hosts.append(MiniPbx(board))
        return hosts[0](board, result)

    board, report = run_scenario(scenario, host=host)
    pbx = hosts[0]
    alice, bob = report.caller("alice"), report.caller("bob")
    assert pbx.heard[0] == "A13800138000C1"  # DTMF caller ID, then her key
    assert alice.outcome is Outcome.ANSWERED and alice.rings == 2
    assert alice.answered_at_s == pytest.approx(7.0 + 0.02)
    assert alice.agent == "agent-1" and not alice.gave_up
    assert alice.hung_up_by is Party.CALLER
    assert alice.talked_s == 5.0
    assert bob.digits_heard == "5" and bob.hung_up_by is Party.BOX
    assert pbx.heard[1] == "2#"
    agent = report.phone("agent-1")
    assert len(agent.calls) == 1 and agent.calls[0].answered_ring
    dialler = report.phone("agent-2").calls[0]
    assert dialler.off_hook_at_s == 30.0 and dialler.flashes and dialler.pressed[0][0] == "8001"
    assert report.to_dict()["callers"][0]["agent"] == "agent-1"
    assert report.callees == ()  # this host never dials out


def test_scenario_file_and_model_file(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text(readme_example())
    assert load_scenario(path).model.model == "VB-4FXO2FXS"
    model = tmp_path / "m.toml"
    model.write_text('[board]\nports = [{ kind = "e1", spans = 2 }, { kind = "fxs", count = 4 }]\n'
                     'law = "ulaw"\n')
    m = load_model(model)
    assert len(m.ports) == 64 and m.spans == (0, 1) and m.ports[30].timeslot == 1


def test_e1_signals_in_a_scenario():
    scenario = parse_scenario("""
[board]
ports = "1e1"
[run]
seconds = 3.0
[[signals]]
at_s = 1.0
port = 4
abcd = 0b0001
[[signals]]
at_s = 2.0
span = 0
alarms = ["ais", "RAI"]
""")
    events = []
    run_scenario(scenario, host=lambda board, result: events.extend(result.events))
    assert events == [AlarmsChanged(0, Alarm(0), 0), AbcdChanged(4, 1, 50),
                      AlarmsChanged(0, Alarm.AIS | Alarm.RAI, 100)]


BASE = '[board]\nports = "2fxo+2fxs+1e1"\n'


@pytest.mark.parametrize("text, key, hint", [
    ('[board]\nport = "8fxo"\n', "board.port", "unknown key"),
    ('[board]\nports = "8fxq"\n', "board.ports", "8fxo"),
    ('[board]\nports = "3e1"\n', "board.ports", "at most 64"),
    ('[board]\nports = [{ kind = "e1", count = 1 }]\n', "board.ports[0].count", "spans"),
    ('[board]\nports = "1fxo"\nlaw = "slaw"\n', "board.law", "'alaw'"),
    ('[board]\nports = "1fxo"\nfirmware = "1.0"\n', "board.firmware", "major.minor.patch"),
    ('[run]\nseconds = 5\n', "board", "missing"),
    (BASE + '[run]\nseconds = -1\n', "run.seconds", "from 0.02"),
    (BASE + '[run]\nstart = "9am"\n', "run.start", "date-time"),
    (BASE + '[exchange]\nring_cadence_s = [1.0]\n', "exchange.ring_cadence_s", "pairs"),
    (BASE + '[exchange]\nring_cadence_s = [0.0, 4.0]\n', "exchange.ring_cadence_s[0]",
     "from 0.02"),
    (BASE + '[exchange]\nclear_signal = "hangup"\n', "exchange.clear_signal", "polarity"),
    (BASE + '[exchange]\ntone_plan = "mars"\n', "exchange.tone_plan", "no such plan"),
    (BASE + '[[exchange.lines]]\nport = 2\n', "exchange.lines[0].port", "not FXO"),
    (BASE + '[[exchange.lines]]\nport = 0\nring = 1\n', "exchange.lines[0].ring",
     "unknown key"),
    (BASE + '[[callers]]\nname = "a"\nline = 2\n', "callers[0].line", "FXO ports are 0-1"),
    (BASE + '[[callers]]\nname = "a"\nline = 99\n', "callers[0].line", "0 to 33"),
    (BASE + '[[callers]]\nline = 0\n', "callers[0].name", "missing"),
    (BASE + '[[callers]]\nname = "a"\nline = 0\nnumber = "12ab"\n', "callers[0].number",
     "digits"),
    (BASE + '[[callers]]\nname = "a"\nline = 0\nactions = [{ press = "1x" }]\n',
     "callers[0].actions[0].press", "keypad digits"),
    (BASE + '[[callers]]\nname = "a"\nline = 0\nactions = [{ listen_s = 1, talk_s = 2 }]\n',
     "callers[0].actions[0]", "exactly one"),
    (BASE + '[[callers]]\nname = "a"\nline = 0\nactions = [{ flash_s = 0.3 }]\n',
     "callers[0].actions[0].flash_s", "not an action here"),
    (BASE + '[[callers]]\nname = "a"\nline = 0\nactions = [{ talk_s = 1, twist_db = 2 }]\n',
     "callers[0].actions[0].twist_db", "unknown key"),
    (BASE + '[[callers]]\nname = "a"\nline = 0\nactions = [{ press = "1", level_dbm0 = 5 }]\n',
     "callers[0].actions[0].level_dbm0", "-60 to 0"),
    (BASE + '[[callers]]\nname = "a"\nline = 0\nactions = [{ hang_up = false }]\n',
     "callers[0].actions[0].hang_up", "must be true"),
    (BASE + '[[callers]]\nname = "a"\nline = 0\n[[callers]]\nname = "a"\nline = 1\n',
     "callers[1].name", "also the name"),
    (BASE + '[[phones]]\nname = "p"\nport = 0\n', "phones[0].port", "FXS ports are 2-3"),
    (BASE + '[[phones]]\nname = "p"\nport = 2\n[[phones]]\nname = "q"\nport = 2\n',
     "phones[1].port", "one phone per FXS port"),
    (BASE + '[[phones]]\nname = "p"\nport = 2\nactions = [{ wait_for_agent_s = 3 }]\n',
     "phones[0].actions[0].wait_for_agent_s", "not an action here"),
    (BASE + '[[phones]]\nname = "p"\nport = 2\ncalls = [{ actions = [] }]\n',
     "phones[0].calls[0].at_s", "missing"),
    (BASE + '[[callees]]\nname = "x"\nnumber = "+86"\n', "callees[0].number", "digits"),
    (BASE + '[[callees]]\nname = "x"\nnumber = "1"\n[[callees]]\nname = "y"\nnumber = "1"\n',
     "callees[1].number", "also the number"),
    (BASE + '[[callees]]\nname = "x"\nnumber = "1"\nbusy = 1\n', "callees[0].busy",
     "true or false"),
    (BASE + '[[callees]]\nname = "x"\nnumber = "1"\n[[phones]]\nname = "x"\nport = 2\n',
     "callees[0].name", "also the name"),
    (BASE + '[exchange]\ninterdigit_timeout_s = 0\n', "exchange.interdigit_timeout_s",
     "from 0.5"),
    (BASE + '[[signals]]\nat_s = 1\nport = 0\nabcd = 1\n', "signals[0].port", "not E1"),
    (BASE + '[[signals]]\nat_s = 1\nport = 4\nabcd = 16\n', "signals[0].abcd", "0 to 15"),
    (BASE + '[[signals]]\nat_s = 1\nspan = 1\nalarms = []\n', "signals[0].span", "no E1 span 1"),
    (BASE + '[[signals]]\nat_s = 1\nspan = 0\nalarms = ["red"]\n', "signals[0].alarms", "los"),
    ('[board\nports = "1fxo"\n', None, "not valid TOML"),
], ids=lambda v: None)
def test_scenario_errors_name_the_key_path(text, key, hint):
    with pytest.raises(EmulatorConfigError) as info:
        parse_scenario(text, "calls.toml")
    message = str(info.value)
    assert info.value.key == key, message
    assert message.startswith(f"calls.toml: {key}: " if key else "calls.toml: ")
    assert hint in message


@pytest.mark.skipif(fsk_caller_id_available(), reason="this build has FSK caller ID")
def test_fsk_caller_id_without_the_generator_is_a_clear_error():
    with pytest.raises(EmulatorConfigError, match=r"exchange.caller_id: bell202 is FSK"):
        parse_scenario(BASE + '[exchange]\ncaller_id = "bell202"\n', "s.toml")


@pytest.mark.skipif(not fsk_caller_id_available(), reason="needs appliance.dsp.callerid")
def test_fsk_caller_id_between_the_rings_decodes_on_the_host_side():
    from appliance.dsp import callerid

    scenario = parse_scenario(BASE + """
[run]
seconds = 8.0
start = 2026-11-23T09:30:00
[exchange]
caller_id = "bell202"
[[callers]]
name = "a"
line = 0
number = "13800138000"
caller_name = "ALICE"
""")
    rx = []

    def host(board, result):
        if board.now == 1:
            board.apply(SelectAudio(frozenset({0})))
        rx.extend(g711.alaw_decode(r) for r in result.rx)

    run_scenario(scenario, host=host)
    cid = callerid.decode(np.concatenate(rx))
    assert cid.number == "13800138000" and cid.name == "ALICE"
    assert (cid.when.hour, cid.when.minute) == (9, 30)


def test_exchange_from_a_country_profile():
    profiles = pytest.importorskip("appliance.drivers.profiles")
    profile = profiles.load_profile("us")
    scenario = parse_scenario(BASE + '[exchange]\nprofile = "us"\nclear_signal = "loop_drop"\n'
                              '[[exchange.lines]]\nport = 1\nring_cadence_s = [1.0, 2.0]\n')
    line0, line1 = scenario.exchange.line(0), scenario.exchange.line(1)
    assert line0.ring_cadence_s == tuple(profile.ringing.cadence_s)
    assert line0.clear_signal is ClearSignal.LOOP_DROP
    assert line1.ring_cadence_s == (1.0, 2.0) and line1.clear_signal is ClearSignal.LOOP_DROP
    assert line0.caller_id == ("bell202" if fsk_caller_id_available() else "dtmf")
    with pytest.raises(EmulatorConfigError, match="exchange.profile: .*mars"):
        parse_scenario(BASE + '[exchange]\nprofile = "mars"\n')


def test_country_profile_without_the_profiles_package_is_a_clear_error():
    try:
        import appliance.drivers.profiles  # noqa: F401
    except ModuleNotFoundError:
        with pytest.raises(EmulatorConfigError, match="exchange.profile: country profiles "
                           "need appliance.drivers.profiles"):
            parse_scenario(BASE + '[exchange]\nprofile = "cn"\n', "s.toml")
    else:
        pytest.skip("this build has appliance.drivers.profiles")


def test_missing_or_unreadable_files():
    with pytest.raises(EmulatorConfigError, match="cannot read the scenario"):
        load_scenario("/nonexistent/s.toml")
    with pytest.raises(EmulatorConfigError, match="cannot read the board model"):
        load_model("/nonexistent/m.toml")

"""The live operations over the control socket, on a running box (tests/cti/daemon.py): what
status shows of the scenario's calls and agents, agents' state changes in the ACD and the
event log, permissions (refusals with the rule's reason, audited), supervisors joining a
call and what their station hears, a forced end with its CDR, recording on demand."""

import inspect
import time

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from appliance.cti import api
from appliance.cti.client import ClientError, Connection
from appliance.store import Store

from .daemon import AGENT, SUPERVISOR, RunningBox, call_of, port_state

DIAL_TONE_HZ = 450.0  # the cn tone plan's dial tone


@pytest.fixture(scope="module")
def daemon(tmp_path_factory):
    running = RunningBox(tmp_path_factory.mktemp("live"), board="ctl-live")
    try:
        running.wait_for(lambda s: call_of(s, "sales") and call_of(s, "support"),
                         "both calls connected")
        yield running
    finally:
        running.stop()


def audits(daemon, action):
    return [r for r in daemon.rows if r.kind == "audit" and r.data["action"] == action]


def refused(daemon, op, actor=None, **args):
    with pytest.raises(ClientError) as caught:
        daemon.ask(op, actor=actor, **args)
    return caught.value


# ---- status -----------------------------------------------------------------------------

def test_status_shows_the_boards_calls_queues_and_agents_of_the_scenario(daemon):
    status = daemon.ask("status")
    assert status["site"] == "control test"
    board = status["boards"][0]
    assert (board["name"], board["alive"], board["model"]) == ("main", True, "VB-4FXO4FXS")
    assert [p["kind"] for p in board["ports"]] == ["fxo"] * 4 + ["fxs"] * 4
    assert [p["name"] for p in board["ports"][4:]] == ["desk1", "desk2", "desk3", "boss"]
    sales = call_of(status, "sales")
    assert (sales["from"], sales["agent"], sales["direction"]) == \
        ("13800138000", "1001", "inbound")
    assert sales["ports"] == ["main:0", "desk1"] and sales["talking_s"] > 0
    assert board["ports"][0] == {"port": 0, "kind": "fxo", "use": "line", "name": "pstn",
                                 "state": "in_call", "call": sales["id"]}
    assert sum(board["ports_by_kind"]["fxo"].values()) == 4
    agents = {a["id"]: a for a in status["agents"]}
    assert agents["1001"]["state"] == "on_call" and agents["1001"]["call"] == sales["id"]
    assert agents["2001"]["role"] == "supervisor"
    queues = {q["name"]: q for q in status["queues"]}
    assert set(queues) == {"sales", "support"}
    assert queues["sales"]["agents_by_state"]["on_call"] >= 1
    assert status["engine"]["ticks"] > 0 and status["engine"]["event_errors"] == 0


def test_queues_show_lists_the_waiting_caller_with_the_wait(daemon):
    # one answer that holds both the queue and the caller (status, then queues.show, are two
    # moments of a box that runs on in real time)
    deadline = time.monotonic() + 60
    while True:
        shown = daemon.ask("queues.show", queue="support")
        waiting = [c for c in shown["callers"] if c["from"] == "02161234567"]
        if waiting and waiting[0]["state"] == "waiting" or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert len(waiting) == 1 and waiting[0]["state"] == "waiting", shown
    assert waiting[0]["waiting_s"] > 0 and waiting[0]["position"] >= 1
    assert shown["waiting"] >= 1 and "1002" in shown["serving"]
    error = refused(daemon, "queues.show", queue="salse")
    assert error.message == "no queue 'salse'" and "sales" in error.hint


# ---- agents -----------------------------------------------------------------------------

def test_login_pause_ready_logout_change_the_acd_and_are_audited(daemon):
    acd_state = lambda: daemon.in_loop(  # noqa: E731
        lambda: dict(daemon.box.engine.switchboard.acd.agent("1003")))
    assert acd_state()["status"].value == "logged_out"
    agent = daemon.ask("agents.login", agent="1003", station="desk3")
    assert (agent["status"], agent["station"]) == ("ready", "desk3")
    assert acd_state()["station"] == "desk3"
    agent = daemon.ask("agents.pause", agent="1003", reason="lunch")
    assert (agent["status"], agent["reason"]) == ("not_ready", "lunch")
    assert acd_state()["reason"] == "lunch"
    assert daemon.ask("agents.ready", agent="1003")["status"] == "ready"
    assert daemon.ask("agents.logout", agent="1003")["status"] == "logged_out"
    assert acd_state()["status"].value == "logged_out"
    states = [(r.data["status"], r.data["reason"]) for r in daemon.rows
              if r.kind == "agent_state" and r.agent == "1003"]
    assert states[-4:] == [("ready", None), ("not_ready", "lunch"), ("ready", None),
                           ("logged_out", None)]
    for action in ("login", "pause", "ready", "logout"):
        row = audits(daemon, action)[-1]
        assert row.agent == "1003" and row.data["allowed"] is True
        assert row.data["by"].startswith("operator:") and row.data["role"] == "admin"
    assert audits(daemon, "pause")[-1].data["reason"] == "lunch"


def test_a_state_the_agent_cannot_take_is_refused_with_the_fix(daemon):
    error = refused(daemon, "agents.ready", agent="1003")
    assert "not logged in" in error.message and "agents login" in error.hint
    error = refused(daemon, "agents.login", agent="1003")
    assert "no usual station" in error.message and "--station" in error.hint
    error = refused(daemon, "agents.login", agent="1003", station="desk9")
    assert "'desk9' is not a station" in error.message
    assert refused(daemon, "agents.pause", agent="9999", reason="x").message == \
        "no agent '9999' in the configuration"


def test_an_agent_may_change_only_their_own_state(daemon):
    error = refused(daemon, "agents.pause", actor=AGENT, agent="1002", reason="break")
    assert error.message == ("1001 may not pause: agents may only change their own state; "
                             "set_agent_state on 1002 needs a supervisor of their queue")
    row = audits(daemon, "pause")[-1]
    assert (row.agent, row.data["by"], row.data["allowed"]) == ("1002", "1001", False)
    # their own: allowed (during a call it takes effect, the call goes on)
    assert daemon.ask("agents.pause", actor=AGENT, agent="1001",
                      reason="coaching")["reason"] == "coaching"
    assert daemon.ask("agents.ready", actor=AGENT, agent="1001")["status"] == "ready"
    assert audits(daemon, "ready")[-1].data["by"] == "1001"


def test_a_wrong_pin_is_refused_before_anything_runs(daemon):
    error = refused(daemon, "agents.ready", actor=("1001", "0000"), agent="1001")
    assert error.message == "--as 1001: unknown agent or wrong PIN"
    assert refused(daemon, "status", actor=("7777", "1234")).message == \
        "--as 7777: unknown agent or wrong PIN"


def test_a_supervisor_acts_on_agents_of_their_queues_only(daemon):
    error = refused(daemon, "agents.pause", actor=SUPERVISOR, agent="1001", reason="x")
    assert "2001 supervises no queue 1001 serves (sales)" in error.message
    assert daemon.ask("agents.pause", actor=SUPERVISOR, agent="1002",
                      reason="meeting")["reason"] == "meeting"
    assert daemon.ask("agents.ready", actor=SUPERVISOR, agent="1002")["status"] == "ready"
    sales = call_of(daemon.ask("status"), "sales")
    error = refused(daemon, "calls.hangup", actor=SUPERVISOR, call=sales["id"])
    assert error.message == ("2001 may not hangup: 2001 does not supervise queue sales, "
                             "the queue of 1001's call")
    assert any(r.call_id == sales["id"] and not r.data["allowed"]
               for r in audits(daemon, "hangup"))
    error = refused(daemon, "reload", actor=SUPERVISOR)
    assert "reload is for admins" in error.message


# ---- supervising ------------------------------------------------------------------------

def _heard(daemon, port, seconds):
    """What `port` hears (the right channel of the monitor stream) for `seconds`."""
    import base64

    with Connection(daemon.socket) as connection:
        chunks = [np.frombuffer(base64.b64decode(item["pcm"]), "<i2").reshape(-1, 2)
                  for item in connection.stream("monitor", port=port, seconds=seconds)
                  if "pcm" in item]
    return np.concatenate(chunks)[:, 1].astype(np.float64)


def _tone_share(audio, hz):
    """The share of `audio`'s energy within 30 Hz of `hz`."""
    spectrum = np.abs(np.fft.rfft(audio * np.hanning(len(audio)))) ** 2
    freqs = np.fft.rfftfreq(len(audio), 1 / 8000)
    return spectrum[np.abs(freqs - hz) < 30].sum() / max(spectrum.sum(), 1e-9)


def _fresh_dial_tone(daemon):
    """Wait for the boss's phone to go off-hook anew (14 s of dial tone ahead)."""
    daemon.wait_for(lambda s: port_state(s, 7) != "dialing", "the boss's phone hung up",
                    timeout=30)
    daemon.wait_for(lambda s: port_state(s, 7) == "dialing", "the boss's dial tone",
                    timeout=30)


def _dbm0(audio):
    return 10 * np.log10(np.mean(audio ** 2) / (22827.6 ** 2 / 2) + 1e-12)


def test_listen_whisper_barge_join_the_call_and_the_supervisor_hears_it(daemon):
    """The boss lifts the phone (dial tone), joins listening (hears the caller), whispers
    as they start talking (the agent hears them, the caller does not), then barges in
    (the caller hears them too)."""
    sales = call_of(daemon.ask("status"), "sales")
    _fresh_dial_tone(daemon)  # t = 0 of the boss's 12 s off-hook: silent until t = 3
    started = time.monotonic()
    before = _heard(daemon, "boss", 0.4)
    assert _tone_share(before, DIAL_TONE_HZ) > 0.9  # dial tone, nothing of the call
    # a supervisor of support only may not; the operator (an admin) may
    error = refused(daemon, "calls.listen", actor=SUPERVISOR, call=sales["id"],
                    station="boss")
    assert "2001 does not supervise queue sales" in error.message
    joined = daemon.ask("calls.listen", call=sales["id"], station="boss")
    assert joined["conference"]["boss"] == "listen"
    assert joined["conference"]["desk1"] == "talk"
    during = _heard(daemon, "boss", 1.6)
    assert _dbm0(during) > -30  # the caller's talk (-16 dBm0, 3 s of every 4)
    assert _tone_share(during, DIAL_TONE_HZ) < 0.2  # not the dial tone any more
    assert daemon.ask("calls.whisper", call=sales["id"],
                      station="boss")["conference"]["boss"] == "whisper"
    time.sleep(max(0.0, 3.3 - (time.monotonic() - started)))  # the boss talks from t = 3
    assert _dbm0(_heard(daemon, "desk1", 1.0)) > -30  # the agent hears the whisper
    assert _dbm0(_heard(daemon, "main:0", 1.0)) < -50  # the caller hears a silent agent
    assert daemon.ask("calls.barge", call=sales["id"],
                      station="boss")["conference"]["boss"] == "talk"
    assert _dbm0(_heard(daemon, "main:0", 1.0)) > -30  # now the caller hears the boss
    assert time.monotonic() - started < 11.5, "the boss's phone hung up meanwhile"
    modes = [r.data["mode"] for r in daemon.rows
             if r.kind == "supervise" and r.call_id == sales["id"]]
    assert modes[-3:] == ["listen", "whisper", "talk"]
    for action in ("listen", "whisper", "barge"):
        row = audits(daemon, action)[-1]
        assert row.call_id == sales["id"] and row.data["allowed"] is True
        assert row.data["station"] == "boss" and row.agent == "1001"


def test_a_station_without_dial_tone_cannot_join(daemon):
    sales = call_of(daemon.ask("status"), "sales")
    error = refused(daemon, "calls.listen", call=sales["id"], station="desk3")
    assert error.message == "station 'desk3' must be off-hook with dial tone"
    assert "off-hook with dial tone" in error.hint
    error = refused(daemon, "calls.listen", call="1234-main-0", station="boss")
    assert error.message == "no call '1234-main-0' is up" and "calls list" in error.hint


# ---- ending, recording ------------------------------------------------------------------

def test_record_starts_recording_the_call(daemon):
    sales = call_of(daemon.ask("status"), "sales")
    answer = daemon.ask("calls.record", call=sales["id"])
    assert answer == {"call": sales["id"], "recording": True, "already": False}
    assert call_of(daemon.ask("status"), "sales")["recording"] is True
    assert daemon.ask("calls.record", call=sales["id"])["already"] is True
    assert audits(daemon, "record")[-1].call_id == sales["id"]


def test_a_supervisor_of_the_queue_ends_a_call_and_its_cdr_says_who(daemon):
    support = call_of(daemon.ask("status"), "support")
    error = refused(daemon, "calls.hangup", actor=AGENT, call=support["id"])
    assert "agents may only change their own state" in error.message
    answer = daemon.ask("calls.hangup", actor=SUPERVISOR, call=support["id"])
    assert answer == {"call": support["id"], "ended": True, "cause": "ended by 2001"}
    assert support["id"] not in [c["id"] for c in daemon.ask("calls.list")]
    ended = [r for r in daemon.rows if r.kind == "call_ended" and r.call_id == support["id"]]
    assert ended[0].data == {"disposition": "answered", "cause": "ended by 2001"}
    row = audits(daemon, "hangup")[-1]
    assert (row.call_id, row.data["by"], row.data["allowed"]) == (support["id"], "2001",
                                                                  True)
    assert row.data["why"] == "2001 supervises queue support"
    deadline = time.monotonic() + 30
    while True:  # the store's thread writes the CDR a moment later
        with Store.open(daemon.box.database) as store:
            cdr = store.cdr(support["id"])
            logged = store.events(kind="audit", call_id=support["id"])
        if cdr.end_ms is not None and logged or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert (cdr.disposition, cdr.hangup_cause) == ("answered", "ended by 2001")
    assert any(e.data["action"] == "hangup" and e.data["by"] == "2001" for e in logged)


# ---- arguments of the wrong type --------------------------------------------------------

_NOT_TEXT = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | \
    st.lists(st.integers(), max_size=2) | st.dictionaries(st.text(max_size=3), st.integers(),
                                                          max_size=2)
_ARGUMENTED = sorted(name for name in api.OPERATIONS if name not in ("monitor", "reload")
                     and len(inspect.signature(api.OPERATIONS[name]).parameters) > 1)


@settings(max_examples=80, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.sampled_from(_ARGUMENTED), st.data())
def test_arguments_of_the_wrong_type_are_refused_never_a_bug(daemon, name, data):
    parameters = [p for p in inspect.signature(api.OPERATIONS[name]).parameters
                  if p not in ("box", "actor")]
    args = {p: data.draw(_NOT_TEXT, label=p) for p in parameters}
    try:
        daemon.ask(name, **args)  # None is a fine value for an optional argument
    except ClientError as error:
        assert not error.message.startswith("internal error"), (name, args, error.message)

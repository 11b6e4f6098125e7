"""Agent status (set by the agent) and state (set by the system): every transition, the
refusals, wrap-up, auto not-ready."""

import itertools

import pytest

from appliance.acd import (
    STATE_TRANSITIONS,
    STATUS_TRANSITIONS,
    AcdError,
    AgentState,
    AgentStateError,
    AgentStatus,
    UnknownAgent,
)
from appliance.acd.core import StatusEvent

from .helpers import S, CancelOffer, acd_with, agent, logs, of, offers, queue, states


def one(**queue_kw):
    return acd_with([queue(**queue_kw)], [agent("a"), agent("b", station="desk-b")])


def test_every_status_and_request_pair_is_in_the_table():
    assert set(STATUS_TRANSITIONS) == set(itertools.product(AgentStatus, StatusEvent))


def test_login_makes_the_agent_ready_and_idle_at_their_station():
    acd = one()
    out = acd.login("a", None, 5 * S)
    assert states(out, "a") == [("ready", "idle", None)]
    view = acd.agent("a")
    assert (view["status"], view["state"], view["station"], view["idle_since"]) == \
        (AgentStatus.READY, AgentState.IDLE, "st-a", 5 * S)


def test_login_at_another_station_and_a_taken_station():
    acd = one()
    acd.login("a", "hot-desk-7", 0)
    assert acd.agent("a")["station"] == "hot-desk-7"
    with pytest.raises(AcdError, match="station 'hot-desk-7' is taken by agent 'a'"):
        acd.login("b", "hot-desk-7", 0)
    acd.logout("a", S)
    acd.login("b", "hot-desk-7", 2 * S)


def test_refused_requests_say_what_to_do():
    acd = one()
    with pytest.raises(AgentStateError, match="'a' is not logged in; log in first"):
        acd.set_ready("a", 0)
    with pytest.raises(AgentStateError, match="is not logged in"):
        acd.set_not_ready("a", "lunch", 0)
    with pytest.raises(AgentStateError, match="is not logged in"):
        acd.logout("a", 0)
    acd.login("a", None, 0)
    with pytest.raises(AgentStateError, match="already logged in; log out first"):
        acd.login("a", None, 0)
    with pytest.raises(UnknownAgent, match="agent 'zz' is not configured"):
        acd.login("zz", None, 0)


def test_not_ready_with_reason_then_ready():
    acd = one()
    acd.login("a", None, 0)
    out = acd.set_not_ready("a", "lunch", 10 * S)
    assert states(out, "a") == [("not_ready", "idle", "lunch")]
    out = acd.set_not_ready("a", "meeting", 11 * S)          # a new reason is a change
    assert states(out, "a") == [("not_ready", "idle", "meeting")]
    assert acd.set_not_ready("a", "meeting", 12 * S) == []  # no change, no row
    out = acd.set_ready("a", 20 * S)
    assert states(out, "a") == [("ready", "idle", None)]
    assert acd.agent("a")["idle_since"] == 20 * S


def test_not_ready_agents_get_no_calls():
    acd = one()
    acd.login("a", None, 0)
    acd.set_not_ready("a", "lunch", S)
    assert offers(acd.enqueue("c1", "sales", 2 * S)) == []
    assert offers(acd.set_ready("a", 3 * S)) == [("c1", "a")]


def test_offer_reserves_answer_puts_on_call_end_starts_wrap_up_timer_ends_it():
    acd = one(wrap_up_s=30)
    acd.login("a", None, 0)
    out = acd.enqueue("c1", "sales", S)
    assert states(out, "a") == [("ready", "reserved", None)]
    out = acd.offer_answered("c1", "a", 3 * S)
    assert states(out, "a") == [("ready", "on_call", None)]
    out = acd.call_ended("c1", "a", 63 * S)
    assert states(out, "a") == [("ready", "wrap_up", None)]
    started, = logs(out, "wrapup_started")
    assert (started.call_id, started.queue, started.data["wrap_up_s"],
            started.data["talk_ms"]) == ("c1", "sales", 30, 60 * S)
    assert acd.deadline == 93 * S
    acd.enqueue("c2", "sales", 70 * S)
    assert acd.tick(92 * S) == []                     # still wrapping up: c2 waits
    out = acd.tick(93 * S)
    ended, = logs(out, "wrapup_ended")
    assert ended.data == {"wrap_ms": 30 * S, "early": False}
    assert states(out, "a") == [("ready", "idle", None), ("ready", "reserved", None)]
    assert offers(out) == [("c2", "a")]


def test_set_ready_ends_wrap_up_early():
    acd = one(wrap_up_s=30)
    acd.login("a", None, 0)
    acd.enqueue("c1", "sales", S)
    acd.offer_answered("c1", "a", 2 * S)
    acd.call_ended("c1", "a", 10 * S)
    out = acd.set_ready("a", 15 * S)
    assert logs(out, "wrapup_ended")[0].data == {"wrap_ms": 5 * S, "early": True}
    assert acd.agent("a")["state"] is AgentState.IDLE
    assert acd.tick(40 * S) == []                    # the old timer is gone


def test_no_wrap_up_when_the_queue_has_none():
    acd = one(wrap_up_s=0)
    acd.login("a", None, 0)
    acd.enqueue("c1", "sales", S)
    acd.offer_answered("c1", "a", 2 * S)
    out = acd.call_ended("c1", "a", 10 * S)
    assert states(out, "a") == [("ready", "idle", None)]
    assert logs(out, "wrapup_started") == []


def test_not_ready_during_a_call_keeps_the_call_and_applies_after_wrap_up():
    acd = one(wrap_up_s=10)
    acd.login("a", None, 0)
    acd.enqueue("c1", "sales", S)
    acd.offer_answered("c1", "a", 2 * S)
    out = acd.set_not_ready("a", "end of shift", 5 * S)
    assert states(out, "a") == [("not_ready", "on_call", "end of shift")]
    acd.call_ended("c1", "a", 8 * S)
    acd.enqueue("c2", "sales", 9 * S)
    out = acd.tick(18 * S)
    assert states(out, "a") == [("not_ready", "idle", "end of shift")]
    assert offers(out) == []


def test_not_ready_while_ringing_cancels_the_offer_and_the_call_goes_on():
    acd = one()
    acd.login("a", None, 0)
    acd.login("b", None, 0)
    assert offers(acd.enqueue("c1", "sales", S)) == [("c1", "a")]
    out = acd.set_not_ready("a", "toilet", 2 * S)
    assert of(out, CancelOffer) == [CancelOffer("c1", "a")]
    assert offers(out) == [("c1", "b")]
    assert acd.agent("a")["unanswered"] == 0     # not held against them


def test_logout_while_ringing_cancels_and_while_talking_waits_for_the_end():
    acd = one(wrap_up_s=20)
    acd.login("a", None, 0)
    acd.login("b", None, 0)
    acd.enqueue("c1", "sales", S)                     # -> a
    acd.offer_answered("c1", "a", 2 * S)
    acd.enqueue("c2", "sales", 3 * S)                 # -> b
    out = acd.logout("b", 4 * S)
    assert of(out, CancelOffer) == [CancelOffer("c2", "b")]
    assert states(out, "b") == [("logged_out", "reserved", None),
                                ("logged_out", "idle", None)]
    out = acd.logout("a", 5 * S)
    assert states(out, "a") == [("logged_out", "on_call", None)]
    out = acd.call_ended("c1", "a", 9 * S)             # no wrap-up once logged out
    assert states(out, "a") == [("logged_out", "idle", None)]
    assert offers(out) == []


def test_logout_during_wrap_up_ends_it():
    acd = one(wrap_up_s=20)
    acd.login("a", None, 0)
    acd.enqueue("c1", "sales", S)
    acd.offer_answered("c1", "a", 2 * S)
    acd.call_ended("c1", "a", 3 * S)
    out = acd.logout("a", 4 * S)
    assert logs(out, "wrapup_ended")[0].data == {"wrap_ms": S, "early": True}
    assert acd.agent("a")["state"] is AgentState.IDLE


def test_auto_not_ready_after_max_no_answer_offers_in_a_row():
    acd = acd_with([queue()], [agent("a", max_no_answer=2), agent("b")], login="a")
    acd.enqueue("c1", "sales", 0)
    out = acd.tick(20 * S)                           # rang out (ring_s 20)
    assert of(out, CancelOffer) == [CancelOffer("c1", "a")]
    assert logs(out, "offer_failed")[0].data == {"why": "no answer", "unanswered": 1}
    assert acd.agent("a")["status"] is AgentStatus.READY
    acd.enqueue("c2", "sales", 21 * S)                # a let c1 ring out: c2 goes to a
    out = acd.offer_failed("c2", "a", 25 * S)
    assert states(out, "a")[-1] == ("not_ready", "idle", "no answer")
    assert acd.agent("a")["unanswered"] == 2
    acd.set_ready("a", 30 * S)
    assert acd.agent("a")["unanswered"] == 0


def test_an_answer_resets_the_unanswered_count():
    acd = acd_with([queue()], [agent("a", max_no_answer=2)], login="a")
    acd.enqueue("c1", "sales", 0)
    acd.offer_failed("c1", "a", S)
    acd.enqueue("c2", "sales", 2 * S)
    acd.offer_answered("c2", "a", 3 * S)
    assert acd.agent("a")["unanswered"] == 0


def test_station_busy_counts_and_gives_its_own_reason():
    acd = acd_with([queue()], [agent("a", max_no_answer=1)], login="a")
    acd.enqueue("c1", "sales", 0)
    out = acd.offer_failed("c1", "a", S, why="station busy")
    assert states(out, "a")[-1] == ("not_ready", "idle", "station busy")


def test_max_no_answer_zero_never_makes_the_agent_not_ready():
    acd = acd_with([queue()], [agent("a", max_no_answer=0)], login="a")
    for n in range(5):
        acd.enqueue(f"c{n}", "sales", n * S)
        acd.offer_failed(f"c{n}", "a", n * S + 1)
    assert acd.agent("a")["status"] is AgentStatus.READY


def test_the_state_table_is_the_documented_cycle():
    from appliance.acd.core import StateEvent as E
    T = AgentState
    assert STATE_TRANSITIONS == {
        (T.IDLE, E.RESERVE): T.RESERVED, (T.RESERVED, E.ANSWER): T.ON_CALL,
        (T.RESERVED, E.RELEASE): T.IDLE, (T.ON_CALL, E.END): T.WRAP_UP,
        (T.ON_CALL, E.FREE): T.IDLE, (T.WRAP_UP, E.WRAP_END): T.IDLE}

"""Queues: order of callers, matching everyone at once, overflow of each kind, escalation,
callbacks, announcements and the expected wait, reloads, stale reports, the snapshot."""

import pytest

from appliance.acd import AcdError, Escalation, UnknownQueue

from .helpers import (
    S,
    Announce,
    Callback,
    CallbackBooked,
    CancelOffer,
    Overflow,
    acd_with,
    agent,
    logs,
    of,
    offers,
    queue,
)


# ---- order ---------------------------------------------------------------------------------

def test_higher_caller_priority_first_then_arrival_order():
    acd = acd_with([queue()], [agent("a")])
    acd.login("a", None, 0)
    acd.set_not_ready("a", "x", 0)
    for n, prio in enumerate([0, 0, 5, 0, 5]):
        acd.enqueue(f"c{n}", "sales", n * S, priority=prio)
    assert [w[0] for w in acd.waiting("sales")] == ["c2", "c4", "c0", "c1", "c3"]
    served = []
    acd.set_ready("a", 10 * S)
    for n in range(5):
        call = acd.agent("a")["offer"]
        served.append(call)
        acd.offer_answered(call, "a", (11 + 2 * n) * S)
        acd.call_ended(call, "a", (12 + 2 * n) * S)
    assert served == ["c2", "c4", "c0", "c1", "c3"]


def test_queue_priority_decides_between_queues_then_caller_priority():
    acd = acd_with([queue("low", {"sales": 1}, priority=0),
                    queue("high", {"sales": 1}, priority=5)], [agent("a")], login="a")
    acd.set_not_ready("a", "x", 0)
    acd.enqueue("l1", "low", 0, priority=9)          # a VIP in the low queue
    acd.enqueue("h1", "high", S)
    assert offers(acd.set_ready("a", 2 * S)) == [("h1", "a")]


def test_every_waiting_caller_that_can_be_matched_is_matched_not_only_the_head():
    acd = acd_with([queue("sales", {"sales": 1}), queue("tech", {"tech": 1})],
                   [agent("s", {"sales": 5}), agent("t", {"tech": 5}),
                    agent("t2", {"tech": 5, "sales": 1})])
    for agent_id in ("s", "t", "t2"):
        acd.login(agent_id, None, 0)
        acd.set_not_ready(agent_id, "x", 0)
    acd.enqueue("s1", "sales", S)
    acd.enqueue("s2", "sales", 2 * S)
    acd.enqueue("t1", "tech", 3 * S)
    acd.set_ready("s", 4 * S)                         # -> s1
    out = acd.set_ready("t", 5 * S)                   # the head of sales waits; t1 goes
    assert offers(out) == [("t1", "t")]
    out = acd.set_ready("t2", 6 * S)                  # t2 can take sales: s2
    assert offers(out) == [("s2", "t2")]


def test_a_reload_matches_all_newly_possible_pairs_in_order():
    q = queue(skills={"sales": 8}, no_agents_overflow=False)
    acd = acd_with([q], [agent("a"), agent("b")], login="ab")   # level 5 < 8
    assert offers(acd.enqueue("c1", "sales", S)) == []
    assert offers(acd.enqueue("c2", "sales", 2 * S)) == []
    out = acd.apply({"sales": queue(skills={"sales": 5})},
                    {"a": agent("a"), "b": agent("b")}, now=3 * S)
    assert offers(out) == [("c1", "a"), ("c2", "b")]


def test_an_agent_who_let_a_call_ring_out_is_skipped_for_it():
    acd = acd_with([queue()], [agent("a", max_no_answer=5), agent("b")], login="a")
    acd.enqueue("c1", "sales", 0)
    out = acd.offer_failed("c1", "a", 5 * S)
    assert offers(out) == []                          # a refused, nobody else
    assert offers(acd.enqueue("c2", "sales", 6 * S)) == [("c2", "a")]
    assert offers(acd.login("b", None, 7 * S)) == [("c1", "b")]


# ---- overflow ------------------------------------------------------------------------------

@pytest.mark.parametrize("target", ["hangup", "voicemail", "station:desk9", "flow:main"])
def test_max_wait_overflows_to_the_target(target):
    acd = acd_with([queue(max_wait_s=60, overflow=target)], [agent("a")], login="a")
    acd.set_not_ready("a", "x", 0)
    acd.enqueue("c1", "sales", S)
    assert acd.tick(60 * S) == []
    out = acd.tick(61 * S)
    assert of(out, Overflow) == [Overflow("c1", "sales", target, "max wait")]
    assert acd.waiting("sales") == []
    assert acd.leave("c1", 62 * S) == []               # gone


def test_overflow_to_another_queue_moves_the_call_there():
    acd = acd_with([queue("sales", max_wait_s=30, overflow="queue:support"),
                    queue("support", {"support": 1})],
                   [agent("a"), agent("b", {"support": 3})], login="ab")
    acd.set_not_ready("a", "x", 0)
    acd.set_not_ready("b", "x", 0)
    acd.enqueue("c1", "sales", 0, priority=3)
    out = acd.tick(30 * S)
    assert of(out, Overflow) == [Overflow("c1", "sales", "queue:support", "max wait")]
    assert acd.waiting("support")[0][:3] == ("c1", acd.waiting("support")[0][1], 3)
    assert of(out, Announce)                          # its entry in support
    assert offers(acd.set_ready("b", 31 * S)) == [("c1", "b")]


def test_an_overflow_loop_between_queues_ends_in_hangup():
    acd = acd_with([queue("a", max_wait_s=0, overflow="queue:b"),
                    queue("b", max_wait_s=0, overflow="queue:a")],
                   [agent("x")], login="x")
    acd.set_not_ready("x", "x", 0)
    acd.enqueue("c1", "a", 0)
    out = acd.tick(0)
    first, second = of(out, Overflow)
    assert first == Overflow("c1", "a", "queue:b", "max wait")
    assert (second.queue, second.target) == ("b", "hangup")
    assert "overflow loop through queue 'a'" in second.why
    assert acd.deadline is None


def test_no_agent_logged_in_overflows_at_once():
    acd = acd_with([queue(overflow="voicemail")], [agent("a")])
    out = acd.enqueue("c1", "sales", 0)
    assert of(out, Overflow) == [Overflow("c1", "sales", "voicemail", "no agents")]


def test_no_agents_overflow_off_lets_callers_wait():
    acd = acd_with([queue(no_agents_overflow=False)], [agent("a")])
    assert of(acd.enqueue("c1", "sales", 0), Overflow) == []
    assert offers(acd.login("a", None, S)) == [("c1", "a")]


def test_the_last_agent_logging_out_sends_the_waiting_callers_to_overflow():
    acd = acd_with([queue()], [agent("a")], login="a")
    acd.set_not_ready("a", "x", 0)                    # logged in: callers wait
    assert of(acd.enqueue("c1", "sales", S), Overflow) == []
    out = acd.logout("a", 2 * S)
    assert of(out, Overflow) == [Overflow("c1", "sales", "voicemail", "no agents")]


def test_max_wait_while_ringing_overflows_when_the_offer_fails():
    acd = acd_with([queue(max_wait_s=10, ring_s=20)], [agent("a")], login="a")
    acd.enqueue("c1", "sales", 0)
    assert acd.tick(10 * S) == []                     # ringing: not cut off
    out = acd.tick(20 * S)
    assert of(out, CancelOffer) == [CancelOffer("c1", "a")]
    assert of(out, Overflow) == [Overflow("c1", "sales", "voicemail", "max wait")]


def test_the_exit_digit_leaves_to_the_target_and_other_digits_do_nothing():
    acd = acd_with([queue(exit_digit="0", overflow="flow:menu")], [agent("a")], login="a")
    acd.set_not_ready("a", "x", 0)
    acd.enqueue("c1", "sales", 0)
    assert acd.digit("c1", "5", S) == []
    out = acd.digit("c1", "0", 2 * S)
    assert of(out, Overflow) == [Overflow("c1", "sales", "flow:menu", "exit digit")]


def test_the_exit_digit_while_ringing_cancels_the_offer():
    acd = acd_with([queue(exit_digit="*")], [agent("a")], login="a")
    acd.enqueue("c1", "sales", 0)
    out = acd.digit("c1", "*", S)
    assert of(out, CancelOffer) == [CancelOffer("c1", "a")]
    assert of(out, Overflow)[0].why == "exit digit"


def test_leave_while_ringing_cancels_the_offer_and_frees_the_agent_for_the_next():
    acd = acd_with([queue()], [agent("a")], login="a")
    acd.enqueue("c1", "sales", 0)
    acd.enqueue("c2", "sales", S)
    out = acd.leave("c1", 2 * S, "caller hung up")
    assert of(out, CancelOffer) == [CancelOffer("c1", "a")]
    assert logs(out, "left")[0].data["waited_ms"] == 2 * S
    assert offers(out) == [("c2", "a")]


# ---- escalation ----------------------------------------------------------------------------

def test_escalation_widens_the_skill_level_after_its_time():
    q = queue(skills={"sales": 8}, escalation=[(30, 4)])
    acd = acd_with([q], [agent("hi", {"sales": 9}), agent("lo", {"sales": 4})], login=["lo"])
    acd.login("hi", None, 0)
    acd.set_not_ready("hi", "x", 0)
    acd.enqueue("c1", "sales", 0)
    assert acd.deadline == 30 * S
    out = acd.tick(30 * S)
    assert logs(out, "escalated")[0].data == {"step": 1, "after_s": 30, "min_level": 4,
                                              "add_queue": None}
    assert offers(out) == [("c1", "lo")]


def test_escalation_adds_a_second_queues_agents():
    acd = acd_with([queue("sales", {"sales": 1}, escalation=[Escalation(45, add_queue="support")]),
                    queue("support", {"support": 1})],
                   [agent("s"), agent("t", {"support": 6})], login="st")
    acd.set_not_ready("s", "x", 0)
    acd.enqueue("c1", "sales", 0)
    assert offers(acd.tick(44 * S)) == []
    assert offers(acd.tick(45 * S)) == [("c1", "t")]


def test_escalation_steps_add_up():
    q = queue(skills={"sales": 9}, escalation=[(60, "queue:tech"), (10, 7)])
    assert [e.after_s for e in q.escalation] == [10, 60]
    acd = acd_with([q, queue("tech", {"tech": 1})],
                   [agent("seven", {"sales": 7}), agent("t", {"tech": 2})], login=["t"])
    acd.login("seven", None, 0)
    acd.set_not_ready("seven", "x", 0)
    acd.enqueue("c1", "sales", 0)
    assert offers(acd.tick(10 * S)) == []             # widened to 7: seven is on a break
    assert offers(acd.tick(60 * S)) == [("c1", "t")]


# ---- callbacks -----------------------------------------------------------------------------

def callback_setup():
    acd = acd_with([queue(callback_digit="9")], [agent("a")], login="a")
    acd.set_not_ready("a", "x", 0)
    acd.enqueue("c1", "sales", 0, variables={"caller": "021555"})
    acd.enqueue("c2", "sales", S, variables={"caller": "021666"})
    acd.enqueue("c3", "sales", 2 * S)
    return acd


def test_a_callback_keeps_the_place_and_is_dialled_when_it_comes_up():
    acd = callback_setup()
    out = acd.digit("c2", "9", 3 * S)
    assert of(out, CallbackBooked) == [CallbackBooked("c2", "021666", "sales")]
    assert logs(out, "callback_requested")[0].data["position"] == 2
    assert [(w[0], w[1].value) for w in acd.waiting("sales")] == \
        [("c1", "waiting"), ("c2", "callback"), ("c3", "waiting")]
    out = acd.set_ready("a", 10 * S)
    assert offers(out) == [("c1", "a")]               # c1 is ahead of the callback
    acd.offer_answered("c1", "a", 11 * S)
    out = acd.call_ended("c1", "a", 20 * S)
    assert of(out, Callback) == [Callback("c2", "021666", "sales", "a", "st-a")]
    assert acd.agent("a")["state"].value == "reserved"
    acd.offer_answered("c2", "a", 25 * S)
    out = acd.call_ended("c2", "a", 40 * S)
    assert offers(out) == [("c3", "a")]               # the caller behind is served next


def test_a_callback_is_never_announced_nor_cut_off_by_max_wait():
    acd = acd_with([queue(callback_digit="#", max_wait_s=30)], [agent("a")], login="a")
    acd.set_not_ready("a", "x", 0)
    acd.enqueue("c1", "sales", 0, variables={"callback_number": "13800"})
    acd.digit("c1", "#", S)
    assert acd.tick(3600 * S) == []
    assert of(acd.set_ready("a", 3601 * S), Callback)[0].number == "13800"


def test_a_failed_callback_is_dropped_and_the_agent_is_not_blamed():
    acd = callback_setup()
    acd.digit("c1", "9", 3 * S)
    acd.set_ready("a", 4 * S)
    out = acd.offer_failed("c1", "a", 30 * S, why="caller did not answer")
    assert logs(out, "callback_failed")[0].data["why"] == "caller did not answer"
    assert acd.agent("a")["unanswered"] == 0
    assert offers(out) == [("c2", "a")]
    assert "c1" not in [w[0] for w in acd.waiting("sales")]


def test_a_callback_nobody_reports_on_times_out():
    acd = callback_setup()
    acd.digit("c1", "9", 3 * S)
    acd.set_ready("a", 4 * S)
    out = acd.tick(124 * S)
    assert of(out, CancelOffer) == [CancelOffer("c1", "a")]
    assert logs(out, "callback_failed")


def test_no_number_no_callback():
    acd = callback_setup()
    out = acd.digit("c3", "9", 3 * S)
    assert logs(out, "callback_refused")[0].data == {"why": "no number to call back"}
    assert acd.waiting("sales")[2][1].value == "waiting"


# ---- announcements and the expected wait -------------------------------------------------

def test_announcements_at_entry_and_every_announce_s_with_position():
    acd = acd_with([queue(announce_s=30, aht_s=120)],
                   [agent("a"), agent("b")], login="ab")
    acd.enqueue("busy1", "sales", 0)
    acd.enqueue("busy2", "sales", 0)                  # both ringing: not ahead of anyone
    out = acd.enqueue("c1", "sales", S)
    assert of(out, Announce) == [Announce("c1", 1, 60)]       # 1 x 120 s / 2 agents
    out = acd.enqueue("c2", "sales", 2 * S)
    assert of(out, Announce) == [Announce("c2", 2, 120)]
    acd.offer_answered("busy1", "a", 3 * S)
    acd.offer_answered("busy2", "b", 3 * S)
    out = acd.tick(31 * S)
    assert of(out, Announce) == [Announce("c1", 1, 60)]
    out = acd.tick(32 * S)
    assert of(out, Announce) == [Announce("c2", 2, 120)]
    acd.leave("c1", 40 * S)
    assert of(acd.tick(62 * S), Announce) == [Announce("c2", 1, 60)]


def test_expected_wait_follows_recent_handle_times_not_past_waits():
    acd = acd_with([queue(announce_s=0, aht_s=300, wrap_up_s=10)], [agent("a")], login="a")
    for n in range(30):                                 # 30 calls of 50 s + 10 s wrap-up
        t = n * 100 * S
        acd.enqueue(f"x{n}", "sales", t)
        acd.offer_answered(f"x{n}", "a", t + S)
        acd.call_ended(f"x{n}", "a", t + 51 * S)
        acd.tick(t + 61 * S)
    snap = acd.snapshot(3000 * S)["queues"]["sales"]
    assert snap["aht_s"] == pytest.approx(60, abs=0.5)
    assert snap["expected_wait_s"] == 60


def test_no_staffed_agent_gives_no_expected_wait_figure():
    acd = acd_with([queue(aht_s=100)], [agent("a")], login="a")
    acd.set_not_ready("a", "x", 0)
    assert of(acd.enqueue("c1", "sales", 0), Announce) == [Announce("c1", 1, None)]


def test_a_call_matched_at_entry_hears_no_announcement():
    acd = acd_with([queue()], [agent("a")], login="a")
    assert of(acd.enqueue("c1", "sales", 0), Announce) == []


# ---- reload, stale reports, errors, snapshot -----------------------------------------------

def test_a_removed_queue_keeps_its_callers_until_they_leave():
    acd = acd_with([queue("old"), queue("new")], [agent("a")], login="a")
    acd.set_not_ready("a", "x", 0)
    acd.enqueue("c1", "old", 0)
    acd.apply({"new": queue("new")}, {"a": agent("a")}, now=S)
    with pytest.raises(UnknownQueue, match="queue 'old' is not configured; queues: new"):
        acd.enqueue("c2", "old", 2 * S)
    assert offers(acd.set_ready("a", 3 * S)) == [("c1", "a")]
    assert acd.snapshot(3 * S)["queues"]["old"]["retired"] is True


def test_a_reload_changes_max_wait_of_waiting_callers_from_their_arrival():
    acd = acd_with([queue(max_wait_s=300)], [agent("a")], login="a")
    acd.set_not_ready("a", "x", 0)
    acd.enqueue("c1", "sales", 0)
    acd.apply({"sales": queue(max_wait_s=60)}, {"a": agent("a")}, now=10 * S)
    assert acd.deadline == 60 * S
    assert of(acd.tick(60 * S), Overflow)[0].why == "max wait"


def test_stale_reports_change_nothing():
    acd = acd_with([queue()], [agent("a"), agent("b")], login="ab")
    acd.enqueue("c1", "sales", 0)
    assert acd.offer_failed("c1", "b", S) == []        # never offered to b
    assert acd.offer_failed("zz", "a", S) == []
    assert acd.call_ended("c1", "a", S) == []          # not answered yet
    assert acd.offer_answered("c1", "b", S) == [CancelOffer("c1", "b")]
    assert acd.agent("a")["offer"] == "c1"
    assert acd.digit("zz", "1", S) == []


def test_a_call_cannot_be_queued_twice():
    acd = acd_with([queue()], [agent("a")], login="a")
    acd.enqueue("c1", "sales", 0)
    with pytest.raises(AcdError, match="already in the ACD"):
        acd.enqueue("c1", "sales", S)


def test_snapshot_counts_callers_and_agents_by_state():
    acd = acd_with([queue(callback_digit="9")],
                   [agent("a"), agent("b"), agent("c"), agent("d")], login="abcd")
    acd.set_not_ready("d", "lunch", 0)
    acd.enqueue("c1", "sales", 0)                     # -> a
    acd.offer_answered("c1", "a", S)
    acd.enqueue("c2", "sales", 2 * S)                 # -> b, ringing
    acd.enqueue("c3", "sales", 3 * S)                 # -> c
    acd.offer_answered("c3", "c", 4 * S)
    acd.enqueue("c4", "sales", 5 * S, variables={"caller": "1"})
    acd.enqueue("c5", "sales", 6 * S)
    acd.digit("c4", "9", 7 * S)
    snap = acd.snapshot(10 * S)
    q = snap["queues"]["sales"]
    assert (q["waiting"], q["ringing"], q["callbacks"], q["oldest_wait_ms"]) == \
        (1, 1, 1, 8 * S)
    assert q["agents_by_state"] == {"ready": 3, "not_ready": 1, "idle": 1, "reserved": 1,
                                    "on_call": 2, "wrap_up": 0}
    assert snap["agents"]["d"]["reason"] == "lunch"
    assert snap["totals"]["talking"] == 2


def test_deadline_is_none_when_nothing_is_pending():
    acd = acd_with([queue(announce_s=0)], [agent("a")], login="a")
    assert acd.deadline is None
    acd.enqueue("c1", "sales", 0)
    assert acd.deadline == 20 * S                     # the offer's ring time
    acd.offer_answered("c1", "a", S)
    assert acd.deadline is None

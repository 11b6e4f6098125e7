"""KPIs from the event log (appliance.acd.kpis): hand-built logs whose every figure is worked
out by hand below, interval boundaries, a restart in the middle through a real sqlite
store, properties (hypothesis), and the real engine on the emulator."""

import datetime
import itertools
import json
import zoneinfo

import pytest
from hypothesis import given, settings, strategies as st

from appliance.acd import kpis
from appliance.acd.kpis import compute, interval_bounds, read_window, realtime
from appliance.store import Event, Store

T0 = 1_795_420_800_000  # 2026-11-23T08:00:00Z: on a 15-min, hour and UTC-day boundary
MIN15 = 15 * 60 * 1000


class Log:
    """A hand-built event log; times in seconds from T0."""

    def __init__(self):
        self.rows = []
        self._id = itertools.count(1)

    def add(self, s, kind, call=None, queue=None, agent=None, **data):
        self.rows.append(Event(next(self._id), T0 + round(s * 1000), kind, call, queue, agent,
                               data))
        return self

    def state(self, s, agent, status, state="idle", reason=None, **extra):
        return self.add(s, "agent_state", agent=agent, status=status, state=state,
                        reason=reason, **extra)


def ms(s):
    return round(s * 1000)


def sales_log():
    """Seven calls to 'sales' in 08:00-08:15 and agents A and B (the figures in the tests)."""
    log = Log()
    q = "sales"
    # c1: answered by A after 5 s, 10 s on hold, ended at 65, wrap-up 65-75
    log.add(0, "queued", "c1", q, priority=0, caller="100")
    log.add(2, "offered", "c1", q, "A", station="d1")
    log.add(5, "connected", "c1", q, "A", station="d1", first=True, waited_ticks=250,
            transfer=False)
    log.add(30, "hold", "c1", agent="A").add(40, "unhold", "c1", agent="A")
    log.add(65, "call_ended", "c1", q, "A", disposition="answered", cause="caller hung up")
    log.add(65, "wrapup_started", "c1", q, "A").add(75, "wrapup_ended", "c1", q, "A")
    # c2: answered by B after 25 s (outside 20 s), ended at 95, wrap-up 95-100
    log.add(10, "queued", "c2", q).add(12, "offered", "c2", q, "B", station="d2")
    log.add(35, "connected", "c2", q, "B", station="d2", first=True)
    log.add(95, "call_ended", "c2", q, "B", disposition="answered", cause="agent hung up")
    log.add(95, "wrapup_started", "c2", q, "B").add(100, "wrapup_ended", "c2", q, "B")
    # c3: abandoned after 3 s (short); c4: abandoned after 12 s
    log.add(20, "queued", "c3", q).add(23, "call_ended", "c3", q, disposition="abandoned")
    log.add(30, "queued", "c4", q).add(42, "call_ended", "c4", q, disposition="abandoned")
    # c5: overflow to voicemail after 60 s (its later call_ended is no abandon)
    log.add(40, "queued", "c5", q)
    log.add(100, "overflow", "c5", q, why="max wait", to="voicemail")
    log.add(130, "voicemail", "c5", mailbox=q, ticks=1000)
    log.add(131, "call_ended", "c5", q, disposition="voicemail", cause="voicemail")
    # c6: rings A for nothing, then B answers after 75 s, 60 s of talk
    log.add(50, "queued", "c6", q).add(100, "offered", "c6", q, "A", station="d1")
    log.add(120, "offer_timeout", "c6", q).add(121, "offered", "c6", q, "B", station="d2")
    log.add(125, "connected", "c6", q, "B", station="d2", first=True)
    log.add(185, "call_ended", "c6", q, "B", disposition="answered", cause="caller hung up")
    # c7: still waiting
    log.add(60, "queued", "c7", q)
    # agents (A was logged in before the window)
    log.state(-600, "A", "ready")
    log.state(2, "A", "ready", "reserved").state(5, "A", "ready", "on_call")
    log.state(65, "A", "ready", "wrap_up").state(75, "A", "ready")
    log.state(100, "A", "ready", "reserved").state(120, "A", "ready")
    log.state(300, "A", "not_ready", reason="lunch").state(600, "A", "ready")
    log.state(0, "B", "ready")
    log.state(12, "B", "ready", "reserved").state(35, "B", "ready", "on_call")
    log.state(95, "B", "ready", "wrap_up").state(100, "B", "ready")
    log.state(121, "B", "ready", "reserved").state(125, "B", "ready", "on_call")
    log.state(185, "B", "ready").state(200, "B", "not_ready", reason="training")
    log.state(250, "B", "ready").state(700, "B", "logged_out")
    return log


def first_quarter(log, **kw):
    return compute(log.rows, since_ms=T0, until_ms=T0 + MIN15, **kw)


def test_queue_kpis_of_a_worked_example():
    (row,) = first_quarter(sales_log())
    assert (row.start_ms, row.end_ms, row.queue, row.agent) == (T0, T0 + MIN15, "sales", None)
    assert (row.offered, row.answered, row.abandoned, row.short_abandons, row.overflowed,
            row.waiting, row.interrupted) == (7, 3, 2, 1, 1, 1, 0)
    assert row.answered_within_target == 1
    assert row.service_level == pytest.approx(1 / 7)
    assert row.sl_formula == "answered within 20 s / offered (abandoned and overflowed included)"
    assert row.asa_ms == pytest.approx(ms(5 + 25 + 75) / 3)
    assert row.longest_wait_ms == ms(75)
    # legs: A c1 (talk 50, hold 10, wrap 10), B c2 (talk 60, wrap 5), B c6 (talk 60)
    assert (row.handled, row.agents, row.calls_per_agent) == (3, 2, 1.5)
    assert (row.talk_ms, row.hold_ms, row.wrapup_ms) == (ms(170), ms(10), ms(15))
    assert row.aht_ms == pytest.approx(ms(195) / 3)
    assert row.avg_talk_ms == pytest.approx(ms(170) / 3)
    as_json = json.loads(json.dumps(row.to_dict()))
    assert as_json["aht_ms"] == pytest.approx(as_json["avg_talk_ms"] + as_json["avg_hold_ms"]
                                              + as_json["avg_wrapup_ms"])
    assert as_json["sl_formula"] == row.sl_formula and as_json["offered"] == 7
    # the queue's agents: A logged in 900 s, busy 60 + 10; B logged in 700 s, busy 125
    assert (row.logged_in_ms, row.busy_ms) == (ms(1600), ms(195))
    assert row.occupancy == pytest.approx(195 / 1600)
    assert row.not_ready_ms == {"lunch": ms(300), "training": ms(50)}


@pytest.mark.parametrize("formula, expected", [
    ("offered", 1 / 7), ("answered", 1 / 3), ("offered_minus_short_abandons", 1 / 6)])
def test_service_level_variants(formula, expected):
    (row,) = first_quarter(sales_log(), sl_formula=formula)
    assert row.service_level == pytest.approx(expected)
    assert row.sl_formula.startswith("answered within 20 s / ")


def test_target_and_short_abandon_thresholds_are_inclusive():
    (row,) = first_quarter(sales_log(), target_s=25, short_abandon_s=12)
    assert row.answered_within_target == 2  # 5 s and 25 s
    assert row.short_abandons == 2          # 3 s and 12 s
    assert row.sl_formula.startswith("answered within 25 s")
    (row,) = first_quarter(sales_log(), target_s=4.99, short_abandon_s=2.999)
    assert (row.answered_within_target, row.short_abandons) == (0, 0)


def test_agent_rows():
    rows = {r.agent: r for r in first_quarter(sales_log(), by=("agent",))}
    assert set(rows) == {None, "A", "B"}
    a, b, none = rows["A"], rows["B"], rows[None]
    assert (a.offered, a.answered, a.asa_ms, a.handled, a.calls_per_agent) == \
        (1, 1, ms(5), 1, 1.0)
    assert (a.talk_ms, a.hold_ms, a.wrapup_ms, a.aht_ms) == (ms(50), ms(10), ms(10), ms(70))
    assert (a.logged_in_ms, a.busy_ms, a.not_ready_ms) == (ms(900), ms(70), {"lunch": ms(300)})
    assert a.occupancy == pytest.approx(70 / 900)
    assert (b.offered, b.answered, b.answered_within_target, b.asa_ms) == (2, 2, 0, ms(50))
    assert (b.handled, b.talk_ms, b.wrapup_ms, b.aht_ms) == (2, ms(120), ms(5), ms(62.5))
    assert (b.logged_in_ms, b.busy_ms, b.not_ready_ms) == \
        (ms(700), ms(125), {"training": ms(50)})
    # the visits nobody answered are in the row without an agent
    assert (none.offered, none.abandoned, none.overflowed, none.waiting, none.handled) == \
        (4, 2, 1, 1, 0)
    assert none.occupancy is None and none.aht_ms is None
    total = first_quarter(sales_log(), by=())[0]
    for name in ("offered", "answered", "abandoned", "handled", "talk_ms", "logged_in_ms",
                 "busy_ms"):
        assert sum(getattr(r, name) for r in rows.values()) == getattr(total, name), name


def test_an_empty_interval_has_no_ratios():
    rows = compute(sales_log().rows, since_ms=T0 + 3600_000, until_ms=T0 + 3600_000 + MIN15,
                   by=())
    (row,) = rows
    assert (row.offered, row.handled, row.logged_in_ms) == (0, 0, ms(900))  # A is logged in
    assert (row.service_level, row.asa_ms, row.aht_ms, row.longest_wait_ms) == \
        (None, None, None, None)
    assert row.occupancy == 0.0


def test_a_call_counts_in_the_interval_it_was_offered_and_state_time_is_split():
    log = Log()
    log.state(0, "A", "ready")
    log.add(890, "queued", "x", "q").add(893, "offered", "x", "q", "A")
    log.state(893, "A", "ready", "reserved")
    log.add(905, "connected", "x", "q", "A").state(905, "A", "ready", "on_call")
    log.add(965, "call_ended", "x", "q", "A", disposition="answered")
    log.state(965, "A", "ready")
    first, second = compute(log.rows, since_ms=T0, until_ms=T0 + 2 * MIN15, by=("agent",))
    assert first.end_ms == second.start_ms == T0 + MIN15
    assert (first.offered, first.answered, first.asa_ms, first.handled) == (1, 1, ms(15), 1)
    assert first.talk_ms == ms(60)  # all of the talk, though 55 s of it is after 08:15
    assert (second.offered, second.handled, second.talk_ms) == (0, 0, 0)
    assert (first.busy_ms, second.busy_ms) == (ms(0), ms(60))
    assert (first.logged_in_ms, second.logged_in_ms) == (ms(900), ms(900))
    # the agent was rung in the first interval: the leg is there even if it connects later
    log2 = Log().add(880, "queued", "y", "q").add(899, "offered", "y", "q", "A")
    log2.add(901, "connected", "y", "q", "A").add(960, "call_ended", "y", "q", "A")
    first, second = compute(log2.rows, since_ms=T0, until_ms=T0 + 2 * MIN15, by=("agent",))
    assert (first.handled, second.handled) == (1, 0)


@pytest.mark.parametrize("interval, count", [("15min", 8), ("30min", 4), ("60min", 2),
                                             ("day", 1)])
def test_interval_lengths(interval, count):
    rows = compute(sales_log().rows, since_ms=T0, until_ms=T0 + 2 * 3600_000,
                   interval=interval, by=())
    assert len(rows) == count
    assert [r.start_ms for r in rows][0] == T0 and rows[-1].end_ms == T0 + 2 * 3600_000
    assert sum(r.offered for r in rows) == 7
    assert sum(r.logged_in_ms for r in rows) == ms(2 * 3600 + 700)


def test_intervals_follow_the_wall_clock_of_a_zone():
    shanghai = zoneinfo.ZoneInfo("Asia/Shanghai")  # 08:00Z is 16:00 there
    bounds = interval_bounds(T0, T0 + 24 * 3600_000, "day", shanghai)
    assert bounds == [T0, T0 + 8 * 3600_000, T0 + 24 * 3600_000]
    kolkata = zoneinfo.ZoneInfo("Asia/Kolkata")  # UTC+5:30: hours start at :30 UTC
    assert interval_bounds(T0, T0 + 3600_000, "60min", kolkata) == \
        [T0, T0 + 1800_000, T0 + 3600_000]
    # a not-aligned window starts and ends where asked
    assert interval_bounds(T0 + 1000, T0 + MIN15 + 5, "15min") == \
        [T0 + 1000, T0 + MIN15, T0 + MIN15 + 5]
    # the day of a DST change in Europe/Berlin (2026-10-25) is 25 h long
    berlin = zoneinfo.ZoneInfo("Europe/Berlin")
    start = int(datetime.datetime(2026, 10, 25, tzinfo=berlin).timestamp() * 1000)
    assert interval_bounds(start, start + 30 * 3600_000, "day", berlin) == \
        [start, start + 25 * 3600_000, start + 30 * 3600_000]


def test_overflow_to_another_queue_is_one_visit_each():
    log = Log().add(0, "queued", "c", "a").add(30, "overflow", "c", "a", why="max wait",
                                                 to="queue:b")
    log.add(30, "queued", "c", "b").add(40, "connected", "c", "b", "A")
    log.add(100, "call_ended", "c", "b", "A", disposition="answered")
    rows = {r.queue: r for r in first_quarter(log)}
    assert (rows["a"].offered, rows["a"].overflowed, rows["a"].longest_wait_ms) == (1, 1, ms(30))
    assert (rows["b"].offered, rows["b"].answered, rows["b"].asa_ms) == (1, 1, ms(10))
    # queued again without an overflow row: the first visit is closed as overflowed too
    log = Log().add(0, "queued", "c", "a").add(5, "queued", "c", "a")
    log.add(9, "call_ended", "c", "a", disposition="abandoned")
    (row,) = first_quarter(log)
    assert (row.offered, row.overflowed, row.abandoned) == (2, 1, 1)


def callback_log(outcome):
    """c books a callback at 30 s (the live leg ends, disposition callback); the callback
    call c-cb1 rings agent A at 100 s and, per `outcome`, reaches the caller at 110 s."""
    log = Log().add(0, "queued", "c", "sales")
    log.add(30, "callback_requested", "c", "sales", number="555", position=1, waited_ms=30000)
    log.add(31, "call_ended", "c", "sales", disposition="callback", cause="callback booked")
    log.add(100, "callback", "c-cb1", "sales", "A", callback_of="c", number="555", station="d1")
    log.add(100, "offered", "c-cb1", "sales", "A", station="d1")
    if outcome == "connected":
        log.add(110, "connected", "c-cb1", "sales", "A", station="d1")
        log.add(170, "call_ended", "c-cb1", "sales", "A", disposition="answered")
    elif outcome == "failed":
        log.add(140, "callback_failed", "c", "sales", "A", why="far end: busy tone")
        log.add(140, "call_ended", "c-cb1", "sales", "A", disposition="busy")
    elif outcome == "restart":
        log.add(120, "box_started", "c-cb1")
    return log


def test_a_callback_keeps_the_callers_visit_open_and_answers_it_when_it_connects():
    (row,) = first_quarter(callback_log("connected"))
    assert (row.offered, row.answered, row.abandoned, row.waiting) == (1, 1, 0, 0)
    assert row.asa_ms == ms(110)  # from the caller's queued row to the callback's answer
    assert (row.handled, row.talk_ms) == (1, ms(60))
    # before the callback connects, the booked caller is still in line
    rows = [r for r in callback_log("connected").rows if r.time_ms < T0 + ms(105)]
    (row,) = compute(rows, since_ms=T0, until_ms=T0 + MIN15)
    assert (row.offered, row.waiting, row.abandoned) == (1, 1, 0)


def test_a_callback_that_fails_or_is_lost_in_a_restart_is_an_abandon():
    (row,) = first_quarter(callback_log("failed"))
    assert (row.offered, row.answered, row.abandoned, row.longest_wait_ms) == (1, 0, 1, ms(140))
    (row,) = first_quarter(callback_log("restart"))
    assert (row.offered, row.answered, row.abandoned, row.interrupted) == (1, 0, 1, 1)


def test_transfer_splits_the_call_into_legs():
    log = Log().add(0, "queued", "c", "q").add(1, "offered", "c", "q", "A")
    log.add(4, "connected", "c", "q", "A")
    log.add(34, "hold", "c", agent="A")                     # consults B
    log.add(40, "transferred", "c", agent="A", **{"from": "d1", "to": "d2", "attended": True})
    log.add(40, "connected", "c", "q", "B", first=False, transfer=True)
    log.add(100, "call_ended", "c", "q", "B", disposition="answered")
    rows = {r.agent: r for r in first_quarter(log, by=("agent",))}
    assert (rows["A"].talk_ms, rows["A"].hold_ms, rows["A"].answered) == (ms(30), ms(6), 1)
    assert (rows["B"].talk_ms, rows["B"].hold_ms, rows["B"].answered) == (ms(60), 0, 0)
    (queue,) = first_quarter(log)
    assert (queue.answered, queue.handled, queue.asa_ms) == (1, 2, ms(4))


def test_unfinished_calls_and_wrap_ups_are_not_handled_yet():
    log = Log().add(0, "queued", "c", "q").add(3, "connected", "c", "q", "A")
    (row,) = first_quarter(log, by=("agent",))
    assert (row.answered, row.handled, row.aht_ms) == (1, 0, None)
    log.add(63, "call_ended", "c", "q", "A").add(63, "wrapup_started", "c", "q", "A")
    (row,) = first_quarter(log, by=("agent",))
    assert row.handled == 0  # wrap-up still running
    log.state(80, "A", "ready")  # the agent's state leaves wrap_up: the wrap-up is over
    (row,) = first_quarter(log, by=("agent",))
    assert (row.handled, row.talk_ms, row.wrapup_ms, row.aht_ms) == (1, ms(60), ms(17), ms(77))


def test_ring_all_and_failed_offers_count_the_leg_when_its_agent_was_rung():
    log = Log().add(880, "queued", "c", "q")
    log.add(890, "offered", "c", "q", "A").add(890, "offered", "c", "q", "B")  # ring all
    log.add(905, "connected", "c", "q", "B").add(960, "call_ended", "c", "q", "B")
    rows = compute(log.rows, since_ms=T0, until_ms=T0 + 2 * MIN15, by=("agent",))
    assert [(r.start_ms, r.agent, r.handled) for r in rows if r.handled] == [(T0, "B", 1)]
    # A's offer fails (station busy) at 895; B rings from 901, in the next interval
    log = Log().add(880, "queued", "c", "q").add(890, "offered", "c", "q", "A")
    log.add(895, "offer_failed", "c", "q", "A", why="station busy", unanswered=1)
    assert realtime(log.rows, T0 + ms(896)).queues[0].ringing == 0
    log.add(901, "offered", "c", "q", "B").add(905, "connected", "c", "q", "B")
    log.add(960, "call_ended", "c", "q", "B")
    rows = compute(log.rows, since_ms=T0, until_ms=T0 + 2 * MIN15, by=("agent",))
    assert [(r.start_ms, r.agent, r.handled) for r in rows if r.handled] == \
        [(T0 + MIN15, "B", 1)]


def test_board_loss_counts_as_interrupted():
    log = Log().add(0, "queued", "c", "q")
    log.add(8, "call_ended", "c", "q", disposition="interrupted", cause="board lost")
    (row,) = first_quarter(log)
    assert (row.abandoned, row.interrupted, row.waiting) == (1, 1, 0)


def test_queue_agents_named_by_agent_state():
    log = Log()
    log.state(0, "A", "ready", queues=["sales", "support"]).state(600, "A", "logged_out")
    rows = {r.queue: r for r in first_quarter(log)}
    assert rows["sales"].logged_in_ms == rows["support"].logged_in_ms == ms(600)
    assert rows["sales"].offered == 0 and rows["sales"].occupancy == 0.0


@pytest.mark.parametrize("kw, message", [
    ({"interval": "5min"}, "interval must be one of"),
    ({"by": ("trunk",)}, "by must be one of"),
    ({"sl_formula": "abandoned"}, "sl_formula must be one of"),
    ({"target_s": -1}, "target_s must be"),
    ({"until_ms": T0}, "must be after since_ms"),
    ({"since_ms": 1.5}, "since_ms must be an int"),
    ({"now_ms": "now"}, "now_ms must be an int"),
])
def test_bad_arguments_say_what_is_allowed(kw, message):
    args = {"since_ms": T0, "until_ms": T0 + MIN15, **kw}
    with pytest.raises(ValueError, match=message):
        compute([], **args)


def test_realtime_wallboard():
    log = sales_log()
    now = realtime(log.rows, T0 + ms(45))
    (sales,) = now.queues
    # at 45 s: c5 waits (since 40; c6 and c7 come later), nobody rings; c1 (till 65) and
    # c2 (since 35) talk
    assert (sales.waiting, sales.ringing, sales.oldest_wait_ms, sales.talking) == \
        (1, 0, ms(5), 2)
    assert now.agents_by_state == {"on_call": 2}
    now = realtime(log.rows, T0 + ms(110))
    (sales,) = now.queues
    assert (sales.waiting, sales.ringing, sales.oldest_wait_ms, sales.talking) == \
        (2, 1, ms(60), 0)  # c6 rings A since 100, c7 waits since 60
    assert now.agents_by_state == {"reserved": 1, "ready": 1}
    now = realtime(log.rows, T0 + ms(400))
    assert [(a.agent, a.status, a.state, a.reason, a.since_ms) for a in now.agents] == \
        [("A", "not_ready", "idle", "lunch", T0 + ms(300)), ("B", "ready", "idle", None,
                                                            T0 + ms(250))]
    assert now.agents_by_state == {"not_ready": 1, "ready": 1}
    with pytest.raises(ValueError, match="now_ms"):
        realtime([], -1)


def test_a_restart_in_the_middle_through_the_store(tmp_path):
    """The box crashes with one call talking and one waiting; the next start closes both
    (Store.close_open_calls); the KPIs read back from the sqlite file end them there."""
    path = tmp_path / "box.db"
    with Store.open(path) as store:
        def ev(s, kind, call=None, queue=None, agent=None, **data):
            store.append_event(T0 + ms(s), kind, call, queue, agent, data)
        for call, s in (("c1", 0), ("c2", 10), ("c3", 20)):
            store.cdr_open(call, "inbound", T0 + ms(s))
        ev(0, "agent_state", agent="A", status="ready", state="idle", reason=None)
        ev(0, "queued", "c1", "q")
        ev(2, "connected", "c1", "q", "A")
        ev(32, "call_ended", "c1", "q", "A", disposition="answered")
        store.cdr_close("c1", T0 + ms(32), "answered")
        ev(10, "queued", "c2", "q")
        ev(40, "connected", "c2", "q", "A")
        ev(50, "hold", "c2", agent="A")
        ev(25, "queued", "c3", "q")
        before = realtime(store.events(), T0 + ms(55))
        assert [(q.waiting, q.talking) for q in before.queues] == [(1, 1)]
    # -- the crash: nothing more is written; the next start:
    with Store.open(path) as store:
        closed = store.close_open_calls("restart after crash")
        assert sorted(closed) == ["c2", "c3"]
        store.append_event(T0 + ms(300), "agent_state", agent="A",
                           data={"status": "ready", "state": "idle", "reason": None})
        store.append_event(T0 + ms(310), "queued", "c4", "q")
        store.append_event(T0 + ms(312), "connected", "c4", "q", "A")
        store.append_event(T0 + ms(342), "call_ended", "c4", "q", "A",
                           {"disposition": "answered"})
    with Store.open(path) as store:
        lo, hi = read_window(T0, T0 + MIN15)
        events = store.events(since=lo, until=hi)
    (row,) = compute(events, since_ms=T0, until_ms=T0 + MIN15)
    # c3 waited from 25 s until its last known moment (25 s): abandoned, cut by the restart
    assert (row.offered, row.answered, row.abandoned, row.interrupted, row.waiting) == \
        (4, 3, 1, 1, 0)
    assert row.asa_ms == pytest.approx(ms(2 + 30 + 2) / 3)
    # c2 ends at its last known moment, the hold at 50 s: 10 s talk, then held till then
    assert (row.handled, row.talk_ms, row.hold_ms) == (3, ms(30 + 10 + 30), 0)
    after = realtime(events, T0 + ms(320))
    assert [(q.waiting, q.talking) for q in after.queues] == [(0, 1)]


def test_a_box_started_row_ends_the_agents_states_where_the_box_went_down():
    log = Log().state(0, "A", "ready").add(60, "queued", "c", "q")
    log.add(100, "connected", "c", "q", "A").state(100, "A", "ready", "on_call")
    log.add(130, "hold", "c", agent="A")
    # crash; the next start closes the call at its last known moment, then starts
    log.add(130, "call_closed_on_restart", "c", reason="restart after crash")
    log.add(3600, "box_started").state(3600, "A", "ready")
    rows = compute(log.rows, since_ms=T0, until_ms=T0 + 2 * 3600_000, interval="day",
                   by=("agent",))
    (a,) = rows
    assert (a.busy_ms, a.logged_in_ms) == (ms(30), ms(130 + 3600))
    assert (a.handled, a.talk_ms, a.hold_ms) == (1, ms(30), 0)
    # while the box is down nothing in the log says so yet: the last state shows
    assert realtime(log.rows, T0 + ms(1000)).agents_by_state == {"on_call": 1}
    now = realtime(log.rows, T0 + ms(3600))
    assert now.agents_by_state == {"ready": 1}
    # without the row, the down time counts as the state the agent was last in
    plain = [e for e in log.rows if e.kind != "box_started"]
    (a,) = compute(plain, since_ms=T0, until_ms=T0 + 2 * 3600_000, interval="day",
                   by=("agent",))
    assert a.busy_ms == ms(3600 - 100)


# ---- properties -------------------------------------------------------------------------

@st.composite
def centre_logs(draw):
    """Random calls in 2 queues answered by 3 agents, over about an hour, with agent states."""
    log = Log()
    for n in range(draw(st.integers(0, 25))):
        call, queue = f"c{n}", draw(st.sampled_from(["q1", "q2"]))
        t = draw(st.integers(-600, 3600))
        wait = draw(st.integers(0, 120))
        log.add(t, "queued", call, queue)
        outcome = draw(st.sampled_from(["answer", "abandon", "overflow", "none"]))
        if outcome == "answer":
            agent = draw(st.sampled_from("ABC"))
            log.add(t + wait, "offered", call, queue, agent)
            log.add(t + wait + draw(st.integers(0, 20)), "connected", call, queue, agent)
            talk = draw(st.integers(1, 900))
            end = t + wait + 20 + talk
            if draw(st.booleans()):
                log.add(t + wait + 20, "hold", call, agent=agent)
                log.add(t + wait + 20 + draw(st.integers(0, talk)), "unhold", call, agent=agent)
            log.add(end, "call_ended", call, queue, agent, disposition="answered")
            if draw(st.booleans()):
                log.add(end, "wrapup_started", call, queue, agent)
                log.add(end + draw(st.integers(0, 60)), "wrapup_ended", call, queue, agent)
        elif outcome == "abandon":
            log.add(t + wait, "call_ended", call, queue, disposition="abandoned")
        elif outcome == "overflow":
            log.add(t + wait, "overflow", call, queue, why="max wait", to="hangup")
            log.add(t + wait, "call_ended", call, queue, disposition="overflow")
    for agent in "ABC":
        t = -900
        for _ in range(draw(st.integers(0, 6))):
            t += draw(st.integers(1, 1200))
            status = draw(st.sampled_from(kpis.AGENT_STATUSES))
            state = draw(st.sampled_from(kpis.AGENT_STATES))
            log.state(t, agent, status, state, draw(st.sampled_from([None, "lunch", "meeting"])))
    return log


@settings(max_examples=60, deadline=None)
@given(log=centre_logs(), cut=st.integers(1, 3599), interval=st.sampled_from(list(kpis.INTERVALS)),
       by=st.sampled_from(kpis.GROUPINGS))
def test_properties_conservation_ranges_and_additivity(log, cut, interval, by):
    a, b, c = T0, T0 + ms(cut), T0 + ms(3600)
    whole = compute(log.rows, since_ms=a, until_ms=c, interval=interval, by=by)
    assert compute(kpis.replay(log.rows), since_ms=a, until_ms=c, interval=interval,
                   by=by) == whole
    parts = compute(log.rows, since_ms=a, until_ms=b, interval=interval, by=by) + \
        compute(log.rows, since_ms=b, until_ms=c, interval=interval, by=by)
    for row in whole + parts:
        assert row.offered == row.answered + row.abandoned + row.overflowed + row.waiting
        assert 0 <= row.short_abandons <= row.abandoned
        assert row.interrupted <= row.abandoned
        assert 0 <= row.answered_within_target <= row.answered
        assert row.service_level is None or 0 <= row.service_level <= 1
        assert row.occupancy is None or 0 <= row.occupancy <= 1
        assert row.busy_ms + sum(row.not_ready_ms.values()) <= row.logged_in_ms
        assert row.talk_ms >= 0 and row.hold_ms >= 0 and row.wrapup_ms >= 0
        if row.asa_ms is not None:
            assert row.asa_ms <= row.longest_wait_ms
    counted = ["offered", "answered", "abandoned", "short_abandons", "overflowed", "waiting",
               "answered_within_target", "handled", "talk_ms", "hold_ms", "wrapup_ms"]
    if by != ("queue",):  # a queue's agents are those that served it in that interval
        counted += ["logged_in_ms", "busy_ms"]
    for name in counted:
        assert sum(getattr(r, name) for r in whole) == sum(getattr(r, name) for r in parts), \
            name
    # the centre's offered calls are all those queued in [a, c)
    queued = sum(1 for e in log.rows if e.kind == "queued" and a <= e.time_ms < c)
    assert sum(r.offered for r in whole) == queued


@settings(max_examples=40, deadline=None)
@given(log=centre_logs(), at=st.integers(-600, 4000))
def test_property_realtime_agrees_with_the_waiting_count(log, at):
    now = realtime(log.rows, T0 + ms(at))
    until = T0 + ms(at) + 1
    rows = compute([e for e in log.rows if e.time_ms < until], since_ms=T0 - ms(600),
                   until_ms=until, interval="day", by=())
    assert sum(q.waiting for q in now.queues) == sum(r.waiting for r in rows)
    for q in now.queues:
        assert 0 <= q.ringing <= q.waiting
        assert q.oldest_wait_ms is None or q.oldest_wait_ms >= 0


# ---- the real engine on the emulator ----------------------------------------------------

TWO_CALLERS = """
[board]
ports = "2fxo+2fxs"

[run]
seconds = 45.0
seed = 5

[exchange]
profile = "cn"
clear_signal = "busy_tone"

[[callers]]
name = "first"
line = 0
at_s = 1.0
number = "13800138000"
actions = [
  { listen_s = 2.5 },
  { press = "2", level_dbm0 = -12.0 },
  { wait_for_agent_s = 30.0 },
  { talk_s = 10.0, level_dbm0 = -16.0 },
  { listen_s = 10.0 },
  { hang_up = true },
]

[[callers]]
name = "impatient"
line = 1
at_s = 4.0
number = "13900139000"
actions = [
  { listen_s = 2.5 },
  { press = "2", level_dbm0 = -12.0 },
  { wait_for_agent_s = 6.0 },
]

[[phones]]
name = "agent"
port = 2
answer_after_s = 2.0
actions = [{ listen_s = 10.0 }, { talk_s = 3.0, level_dbm0 = -16.0 }, { listen_s = 30.0 }]
"""


def test_kpis_of_the_real_engine_agree_with_the_emulators_account(tmp_path):
    """Two callers reach the sales queue of the box (tests/e2e's configuration); the one
    agent takes the first, the second gives up in the queue after 6 s of waiting."""
    from tests.e2e.rig import ORIGIN_MS, run_box
    from tests.e2e.test_inbound_call import CONFIG

    config = CONFIG.format(board="kpis", data=tmp_path, format="wav-pcm16", country="cn")
    box = run_box(tmp_path, config, TWO_CALLERS)
    report = {c.name: c for c in box.report().callers}
    first, impatient = report["first"], report["impatient"]
    assert first.agent == "agent" and not first.gave_up
    assert impatient.gave_up and impatient.agent is None
    with Store.open(box.database) as store:
        events = store.events()
    day = ORIGIN_MS - ORIGIN_MS % 86_400_000
    (row,) = compute(events, since_ms=day, until_ms=day + 86_400_000, interval="day")
    assert row.queue == "sales"
    assert (row.offered, row.answered, row.abandoned, row.waiting) == (2, 1, 1, 0)
    assert (row.handled, row.agents) == (1, 1)
    # the abandoned visit is the impatient caller's, and it waited his 6 s of patience
    abandoned = {e.call_id for e in events if e.kind == "call_ended"
                 and e.data["disposition"] == "abandoned"}
    (impatient_call,) = {e.call_id for e in events
                         if e.kind == "queued" and e.data["caller"] == impatient.number}
    assert abandoned == {impatient_call}
    queued_at = {e.call_id: e.time_ms for e in events if e.kind == "queued"}
    ended_at = {e.call_id: e.time_ms for e in events if e.kind == "call_ended"}
    # queued as the digit 2 was recognised; the hang-up recognised by the busy tone it
    # leaves on the line, which takes up to two cadence cycles (as in tests/e2e)
    pressed_s = impatient.pressed[0][1]
    assert 0 <= (queued_at[impatient_call] - ORIGIN_MS) / 1000 - pressed_s < 0.2
    assert 0 <= (ended_at[impatient_call] - ORIGIN_MS) / 1000 - impatient.ended_at_s < 2.0
    assert row.longest_wait_ms == ended_at[impatient_call] - queued_at[impatient_call]
    assert row.short_abandons == 0  # he waited longer than 5 s
    # ASA: queued -> connected, the engine's own count of ticks; the emulator's switch joins
    # the caller to the agent two ticks after the box decided it (its Connect command
    # crosses the board link and is applied on the board's next tick)
    (connected,) = [e for e in events if e.kind == "connected"]
    assert row.asa_ms == connected.time_ms - queued_at[connected.call_id]
    assert row.asa_ms == connected.data["waited_ticks"] * 20
    assert 0 <= first.agent_at_s - (connected.time_ms - ORIGIN_MS) / 1000 <= 0.040 + 1e-9
    assert row.answered_within_target == (1 if row.asa_ms <= 20_000 else 0)
    # talk: connected -> the line's clear (busy tone), as the CDR says
    with Store.open(box.database) as store:
        cdr = store.cdr(connected.call_id)
    assert row.talk_ms == cdr.end_ms - connected.time_ms
    assert (cdr.agent, row.hold_ms) == ("1001", 0)
    # the ACD logged the agent in at the start (08:00) and on_call from the connect to the
    # end; the run stopped at 45 s of board time
    stop = ORIGIN_MS + 45_000
    rows = compute(events, since_ms=day, until_ms=day + 86_400_000, interval="day",
                   by=("agent",), now_ms=stop)
    assert [(r.agent, r.answered, r.handled) for r in rows] == [(None, 0, 0), ("1001", 1, 1)]
    agent = rows[1]
    assert agent.logged_in_ms == stop - ORIGIN_MS
    assert agent.busy_ms == cdr.end_ms - connected.time_ms  # no wrap-up in this config
    assert agent.occupancy == pytest.approx(agent.busy_ms / agent.logged_in_ms)
    assert agent.not_ready_ms == {}
    # mid-call the wallboard shows the impatient caller waiting and the agent on the call
    now = realtime(events, queued_at[impatient_call] + 3000)
    assert [(q.queue, q.waiting, q.oldest_wait_ms, q.talking) for q in now.queues] == \
        [("sales", 1, 3000, 1)]
    assert now.agents_by_state == {"on_call": 1}

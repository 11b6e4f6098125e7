"""Call-centre KPIs computed from the box's persistent event log (EVENTS.md is the vocabulary).

Pure logic: no I/O and no clock. The caller reads the log (for instance
`Store.events(since=lo, until=hi)` with `(lo, hi) = read_window(since_ms, until_ms)`) and
passes the rows in; every time is the row's `time_ms` (integer epoch milliseconds). Because
the figures come from the log, they survive a restart: a call cut by one is ended at the
`call_closed_on_restart` row the next start writes.

- `compute(events, since_ms=, until_ms=, interval=, ...)` -> [Row]: per interval and per
  queue, agent or the whole centre (`by`).
- `realtime(events, now_ms)` -> Realtime: callers waiting per queue, the oldest wait, agents
  by state, replayed from the same log (wallboard, CLI).

Rules (stated again in each Row's `sl_formula` and in EVENTS.md):
- The unit of the queue figures is a *queue visit*: a `queued` row opens one; the first of
  `connected` (answered), `overflow` (overflowed; also a new `queued` for the same call
  without one), `call_ended` / `call_closed_on_restart` (abandoned) closes it. A visit that
  nothing closed yet is `waiting`. So offered == answered + abandoned + overflowed + waiting.
  A call that overflows from queue A to queue B is one visit of A (overflowed) and one of B.
  A caller who books a callback keeps their visit open after hanging up: the callback
  call's `connected` row (linked by its `callback` row's `callback_of`) answers it,
  `callback_failed` or a `box_started` row first abandons it.
- Wait = queued -> the row that closed the visit. Answered within T: wait <= T s; a short
  abandon: an abandon with wait <= N s. `interrupted` counts the abandons ended by a restart
  (`call_closed_on_restart`) or a lost board (disposition "interrupted"); they are in
  `abandoned` too, so a report may subtract them.
- A call counts in the interval it was offered: a visit in the interval of its `queued` row,
  an agent's leg of a call in the interval of the `offered` row that rang that agent (the
  `connected` row when there was none, e.g. an attended transfer) -- even when the call ends
  in a later interval. Times in a state (logged in, busy, not ready) are split at the
  interval boundaries instead.
- Leg: an agent's part of a call, `connected` -> the next `connected` of the call
  (transfer), `transferred`, or the call's end. talk = leg - hold; hold = hold -> unhold
  (or the leg's end); wrap-up = wrapup_started -> wrapup_ended (or the agent's next
  `agent_state` out of wrap_up). AHT = (talk + hold + wrap-up) / handled, over the legs that
  are over (call ended and wrap-up, if any, ended).
- A `box_started` row (the start after a stop or a crash) logs every agent out from the
  log's last row before it, so that the time the box was down is nobody's work time.
- Occupancy = busy / logged-in time, busy = state on_call or wrap_up while logged in;
  not-ready time = status not_ready while not busy, by reason. Both come from `agent_state`
  rows; an agent that never had one has no occupancy (None). A queue's row sums the agents
  that serve it: the `queues` an agent_state row names, else the agents that handled a leg
  of that queue in that interval.
"""

import datetime
import operator
from bisect import bisect_right
from dataclasses import dataclass, field

from .core import AgentState, AgentStatus

INTERVALS = {"15min": 15, "30min": 30, "60min": 60, "day": None}
GROUPINGS = ((), ("queue",), ("agent",))
SL_FORMULAS = {
    "offered": "answered within {t} s / offered (abandoned and overflowed included)",
    "answered": "answered within {t} s / answered",
    "offered_minus_short_abandons":
        "answered within {t} s / (offered - abandoned within {n} s)",
}
DEFAULT_SL_FORMULA = "offered"
# The values agent_state rows carry: the ACD's own enums (core.py)
AGENT_STATUSES = tuple(status.value for status in AgentStatus)
AGENT_STATES = tuple(state.value for state in AgentState)
BUSY_STATES = (AgentState.ON_CALL.value, AgentState.WRAP_UP.value)
_LOGGED_OUT, _NOT_READY = AgentStatus.LOGGED_OUT.value, AgentStatus.NOT_READY.value
_IDLE, _WRAP_UP = AgentState.IDLE.value, AgentState.WRAP_UP.value
# How far around [since, until) compute() needs the log: calls end within the engine's
# longest call (4 h) plus a wrap-up; agents' states come from their last agent_state row,
# which the ACD writes at least at every login and start (a day back is looked at).
LOOKBACK_MS = 24 * 3600 * 1000
LOOKAHEAD_MS = 5 * 3600 * 1000

_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
_MS = datetime.timedelta(milliseconds=1)
_TIME = operator.attrgetter("time_ms")


def read_window(since_ms, until_ms):
    """(from_ms, to_ms): the part of the log compute() over [since_ms, until_ms) reads."""
    return max(0, since_ms - LOOKBACK_MS), until_ms + LOOKAHEAD_MS


# ---- rows ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Row:
    """The KPIs of one interval [start_ms, end_ms) for one queue / agent (None: all).
    Times in ms; ratios in [0, 1]; None where the denominator is zero."""

    start_ms: int
    end_ms: int
    queue: str | None
    agent: str | None
    # queue visits offered in the interval (for agent rows: the visits the agent answered;
    # the unanswered ones are in the row with agent None)
    offered: int
    answered: int
    abandoned: int
    short_abandons: int
    overflowed: int
    interrupted: int
    waiting: int
    answered_within_target: int
    service_level: float | None
    sl_formula: str
    target_s: float
    short_abandon_s: float
    asa_ms: float | None
    longest_wait_ms: int | None
    # legs handled (calls per agent) and their handle time
    handled: int
    agents: int
    calls_per_agent: float | None
    talk_ms: int
    hold_ms: int
    wrapup_ms: int
    aht_ms: float | None
    # agent time in the interval
    logged_in_ms: int
    busy_ms: int
    occupancy: float | None
    not_ready_ms: dict = field(default_factory=dict)

    @property
    def avg_talk_ms(self):
        return self.talk_ms / self.handled if self.handled else None

    @property
    def avg_hold_ms(self):
        return self.hold_ms / self.handled if self.handled else None

    @property
    def avg_wrapup_ms(self):
        return self.wrapup_ms / self.handled if self.handled else None

    def to_dict(self):
        """The row as JSON-ready values, the AHT's parts per handled call included."""
        out = {name: getattr(self, name) for name in self.__dataclass_fields__}
        out["not_ready_ms"] = dict(self.not_ready_ms)
        out.update(avg_talk_ms=self.avg_talk_ms, avg_hold_ms=self.avg_hold_ms,
                   avg_wrapup_ms=self.avg_wrapup_ms)
        return out


@dataclass(frozen=True)
class QueueNow:
    queue: str
    waiting: int          # callers in the queue, ringing an agent or not
    ringing: int          # of them, being offered to an agent now
    oldest_wait_ms: int | None
    talking: int          # calls of this queue connected to an agent now


@dataclass(frozen=True)
class AgentNow:
    agent: str
    status: str
    state: str
    reason: str | None
    since_ms: int         # time of the agent_state row that set this


@dataclass(frozen=True)
class Realtime:
    now_ms: int
    queues: tuple         # QueueNow, by queue name
    agents: tuple         # AgentNow, by agent id
    agents_by_state: dict  # label -> count; label: logged_out, ready, not_ready, reserved,
    #                        on_call, wrap_up (a busy state wins over the status)


# ---- replay -------------------------------------------------------------------------------

class _Visit:
    __slots__ = ("call_id", "queue", "start_ms", "end_ms", "outcome", "agent", "interrupted")

    def __init__(self, call_id, queue, start_ms):
        self.call_id, self.queue, self.start_ms = call_id, queue, start_ms
        self.end_ms = self.outcome = self.agent = None
        self.interrupted = False


class _Leg:
    __slots__ = ("call_id", "agent", "queue", "offered_ms", "start_ms", "end_ms", "hold_ms",
                 "held_since", "wrap_ms", "wrap_since")

    def __init__(self, call_id, agent, queue, offered_ms, start_ms):
        self.call_id, self.agent, self.queue = call_id, agent, queue
        self.offered_ms, self.start_ms = offered_ms, start_ms
        self.end_ms = self.held_since = self.wrap_since = None
        self.hold_ms = self.wrap_ms = 0

    def close(self, t):
        if self.end_ms is None:
            if self.held_since is not None:
                self.hold_ms += t - self.held_since
                self.held_since = None
            self.end_ms = t

    @property
    def done(self):
        return self.end_ms is not None and self.wrap_since is None


class _Call:
    __slots__ = ("visit", "leg", "rings", "ended", "booked")

    def __init__(self):
        self.visit = self.leg = None
        self.rings = {}  # agent -> when its offer started ringing (ring all: several)
        self.ended = False
        self.booked = False  # a callback keeps the caller's visit open after the hang-up


class Replay:
    """The log played once, in time order, into queue visits, agent legs and agent-state
    spans: `replay(events)`. compute() takes one in place of the rows, so that a report of
    several groupings reads and plays the log once."""

    def __init__(self):
        self.calls = {}
        self.visits = []
        self.legs = []
        self.last_leg = {}     # (agent, call_id) -> leg, for wrap-ups
        self.open_wrap = {}    # agent -> leg whose wrap-up runs
        self.spans = []        # (agent, start, end, status, state, reason, queues)
        self.agent_now = {}    # agent -> [start, status, state, reason, queues]
        self.callback_of = {}  # a callback call's id -> the booked caller's _Call
        self.last_ms = None

    def play(self, events, stop_ms=None):
        """Plays `events` (rows after stop_ms are left out); returns self."""
        calls = self.calls
        for e in sorted(events, key=_TIME):
            t = e.time_ms
            if stop_ms is not None and t > stop_ms:
                break
            previous, self.last_ms = self.last_ms, t
            kind = e.kind
            if kind == "box_started":
                self._box_started(t if previous is None else previous)
                continue
            if kind == "agent_state":
                self._agent_state(e, t)
                continue
            if kind in ("wrapup_started", "wrapup_ended"):
                self._wrapup(e, t, kind == "wrapup_started")
                continue
            if e.call_id is None:
                continue
            call = calls.get(e.call_id)
            if call is None:
                call = calls[e.call_id] = _Call()
            handler = _HANDLERS.get(kind)
            if handler is not None:
                handler(self, call, e, t)
        return self

    # calls
    def _queued(self, call, e, t):
        if call.visit is not None:  # queued again without an overflow row
            self._close_visit(call, t, "overflowed")
        if call.ended or e.queue is None:
            return
        call.visit = _Visit(e.call_id, e.queue, t)
        self.visits.append(call.visit)

    def _close_visit(self, call, t, outcome, agent=None, interrupted=False):
        visit = call.visit
        visit.end_ms, visit.outcome, visit.agent = t, outcome, agent
        visit.interrupted = interrupted
        call.visit = None

    def _offered(self, call, e, t):
        call.rings[e.agent] = t

    def _offer_failed(self, call, e, t):
        call.rings.pop(e.agent, None)

    def _offer_timeout(self, call, e, t):
        call.rings.clear()  # logged when no offer of the call rings any more

    def _connected(self, call, e, t):
        if call.ended:
            return
        if call.leg is not None:
            call.leg.close(t)
        agent = e.agent
        if call.visit is not None:
            self._close_visit(call, t, "answered", agent)
        booked = self.callback_of.pop(e.call_id, None)
        if booked is not None and booked.visit is not None:
            # the callback reached the caller: their visit is answered now, its wait
            # counted from their queued row (the place they kept) to this answer
            self._close_visit(booked, t, "answered", agent)
            booked.booked = False
        offered = call.rings.get(agent, t)
        call.rings.clear()
        leg = _Leg(e.call_id, agent, e.queue, offered, t)
        call.leg = leg
        if agent is not None:
            self.legs.append(leg)
            self.last_leg[(agent, e.call_id)] = leg

    def _hold(self, call, e, t):
        leg = call.leg
        if leg is not None and leg.end_ms is None and leg.held_since is None:
            leg.held_since = t

    def _unhold(self, call, e, t):
        leg = call.leg
        if leg is not None and leg.end_ms is None and leg.held_since is not None:
            leg.hold_ms += t - leg.held_since
            leg.held_since = None

    def _transferred(self, call, e, t):
        if call.leg is not None:
            call.leg.close(t)
            call.leg = None

    def _overflow(self, call, e, t):
        if call.visit is not None:
            self._close_visit(call, t, "overflowed")

    def _callback_requested(self, call, e, t):
        call.booked = call.visit is not None

    def _callback(self, call, e, t):
        booked = self.calls.get((e.data or {}).get("callback_of"))
        if booked is not None and booked.booked:
            self.callback_of[e.call_id] = booked

    def _callback_failed(self, call, e, t):
        # the ACD drops a callback that did not reach the caller: they were not served
        if call.booked and call.visit is not None:
            self._close_visit(call, t, "abandoned")
        call.booked = False

    def _ended(self, call, e, t):
        if call.ended:
            return
        call.ended = True
        call.rings.clear()
        disposition = (e.data or {}).get("disposition")
        # a caller released after booking a callback keeps the visit open until the
        # callback reaches them (or fails)
        if call.visit is not None and not (call.booked and disposition == "callback"):
            cut = e.kind == "call_closed_on_restart" or disposition == "interrupted"
            self._close_visit(call, t, "abandoned", interrupted=cut)
        if call.leg is not None:
            call.leg.close(t)
            call.leg = None

    # agents
    def _wrapup(self, e, t, started):
        agent = e.agent
        if started:
            leg = self.last_leg.get((agent, e.call_id))
            if leg is not None and leg.wrap_since is None:
                leg.wrap_since = t
                self.open_wrap[agent] = leg
        else:
            self._end_wrap(agent, t, e.call_id)

    def _end_wrap(self, agent, t, call_id=None):
        leg = self.open_wrap.get(agent)
        if leg is None or (call_id is not None and leg.call_id != call_id):
            return
        leg.wrap_ms += t - leg.wrap_since
        leg.wrap_since = None
        del self.open_wrap[agent]

    def _agent_state(self, e, t):
        agent = e.agent
        if agent is None:
            return
        data = e.data or {}
        status = data.get("status", _LOGGED_OUT)
        state = data.get("state", _IDLE)
        if state != _WRAP_UP:
            self._end_wrap(agent, t)
        queues = data.get("queues")
        now = self.agent_now.get(agent)
        if now is not None:
            self.spans.append((agent, now[0], t, now[1], now[2], now[3], now[4]))
        self.agent_now[agent] = [t, status, state, data.get("reason"),
                                 tuple(queues) if queues is not None else None]

    def _box_started(self, down_ms):
        """The box started again: it was down from its last row before this one, so every
        agent still logged in is taken as logged out from then (and a wrap-up ends then)
        until the ACD logs their state again."""
        for agent in list(self.open_wrap):
            self._end_wrap(agent, max(down_ms, self.open_wrap[agent].wrap_since))
        # booked callbacks live in the ACD's memory: a stop loses them
        for call in self.calls.values():
            if call.booked and call.visit is not None:
                self._close_visit(call, max(down_ms, call.visit.start_ms), "abandoned",
                                  interrupted=True)
            call.booked = False
        self.callback_of.clear()
        for agent, now in self.agent_now.items():
            if now[1] == _LOGGED_OUT:
                continue
            at = max(now[0], down_ms)
            self.spans.append((agent, now[0], at, now[1], now[2], now[3], now[4]))
            self.agent_now[agent] = [at, _LOGGED_OUT, _IDLE, None, now[4]]

    def open_spans(self, end_ms):
        """The spans of the states agents are still in, closed at end_ms."""
        return [(agent, now[0], max(now[0], end_ms), now[1], now[2], now[3], now[4])
                for agent, now in self.agent_now.items()]


_HANDLERS = {
    "queued": Replay._queued,
    "offered": Replay._offered,
    "offer_failed": Replay._offer_failed,
    "offer_timeout": Replay._offer_timeout,
    "connected": Replay._connected,
    "hold": Replay._hold,
    "unhold": Replay._unhold,
    "transferred": Replay._transferred,
    "overflow": Replay._overflow,
    "call_ended": Replay._ended,
    "call_closed_on_restart": Replay._ended,
    "callback_requested": Replay._callback_requested,
    "callback": Replay._callback,
    "callback_failed": Replay._callback_failed,
}


def replay(events):
    """The log rows played once (a Replay), for several compute() calls."""
    return Replay().play(events)


# ---- intervals ----------------------------------------------------------------------------

def interval_bounds(since_ms, until_ms, interval, zone=datetime.timezone.utc):
    """[since_ms, b1, b2, ..., until_ms]: the interval boundaries inside [since, until),
    aligned to the wall clock of `zone` (15/30/60 min from the hour, days at midnight)."""
    step = INTERVALS[interval]
    day = datetime.datetime.fromtimestamp(since_ms / 1000, zone).date()
    last = datetime.datetime.fromtimestamp(until_ms / 1000, zone).date()
    cuts = set()
    one_day = datetime.timedelta(days=1)
    while day <= last:
        midnight = datetime.datetime(day.year, day.month, day.day, tzinfo=zone)
        if step is None:
            cuts.add((midnight - _EPOCH) // _MS)
        else:
            for minute in range(0, 1440, step):
                at = midnight + datetime.timedelta(minutes=minute)
                cuts.add((at - _EPOCH) // _MS)
        day += one_day
    return [since_ms, *sorted(c for c in cuts if since_ms < c < until_ms), until_ms]


# ---- compute ------------------------------------------------------------------------------

class _Acc:
    __slots__ = ("offered", "answered", "abandoned", "short", "overflowed", "interrupted",
                 "waiting", "within", "wait_sum", "longest", "handled", "agents", "talk",
                 "hold", "wrap", "logged_in", "busy", "not_ready", "tracked")

    def __init__(self):
        self.offered = self.answered = self.abandoned = self.short = self.overflowed = 0
        self.interrupted = self.waiting = self.within = self.wait_sum = 0
        self.longest = None
        self.handled = self.talk = self.hold = self.wrap = 0
        self.agents = set()
        self.logged_in = self.busy = 0
        self.not_ready = {}
        self.tracked = False


def _check(since_ms, until_ms, interval, target_s, short_abandon_s, by, sl_formula):
    for name, value in (("since_ms", since_ms), ("until_ms", until_ms)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"{name} must be an int of epoch ms >= 0, not {value!r}")
    if until_ms <= since_ms:
        raise ValueError(f"until_ms ({until_ms}) must be after since_ms ({since_ms})")
    if interval not in INTERVALS:
        raise ValueError(f"interval must be one of {', '.join(INTERVALS)}, not {interval!r}")
    for name, value in (("target_s", target_s), ("short_abandon_s", short_abandon_s)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
            raise ValueError(f"{name} must be a number of seconds >= 0, not {value!r}")
    if tuple(by) not in GROUPINGS:
        raise ValueError(f"by must be one of {', '.join(map(repr, GROUPINGS))}, not {by!r}")
    if sl_formula not in SL_FORMULAS:
        raise ValueError(f"sl_formula must be one of {', '.join(SL_FORMULAS)}, "
                         f"not {sl_formula!r}")


def compute(events, *, since_ms, until_ms, interval="15min", target_s=20, short_abandon_s=5,
            by=("queue",), sl_formula=DEFAULT_SL_FORMULA, zone=datetime.timezone.utc,
            now_ms=None):
    """The KPIs of [since_ms, until_ms) per interval and per `by` (("queue",), ("agent",) or
    () for the whole centre), as Rows sorted by interval, queue, agent; every key seen in
    the window gets a row in every interval (zeros when idle).

    `events`: the log rows (objects with time_ms, kind, call_id, queue, agent, data, as
    `appliance.store.Event`), at least those of `read_window(since_ms, until_ms)`, or their
    `replay(rows)` (played once for several calls); rows after until_ms finish the calls
    offered before it. `sl_formula`: "offered" (the default), "answered" or
    "offered_minus_short_abandons" (SL_FORMULAS). `now_ms`: agents' times in a state stop
    there (default until_ms; give the time of reading when until_ms is still to come).
    `zone`: the tzinfo whose wall clock aligns the intervals (default UTC)."""
    by = tuple(by)
    _check(since_ms, until_ms, interval, target_s, short_abandon_s, by, sl_formula)
    if now_ms is not None and (isinstance(now_ms, bool) or not isinstance(now_ms, int)):
        raise ValueError(f"now_ms must be an int of epoch ms or None, not {now_ms!r}")
    replay = events if isinstance(events, Replay) else Replay().play(events)
    bounds = interval_bounds(since_ms, until_ms, interval, zone)
    starts = bounds[:-1]
    n = len(starts)
    target_ms, short_ms = target_s * 1000, short_abandon_s * 1000
    accs = {}
    keys = set()

    def bucket(t):
        return bisect_right(starts, t) - 1 if since_ms <= t < until_ms else None

    def acc(i, key):
        a = accs.get((i, key))
        if a is None:
            a = accs[(i, key)] = _Acc()
            keys.add(key)
        return a

    by_queue, by_agent = by == ("queue",), by == ("agent",)
    for v in replay.visits:
        i = bucket(v.start_ms)
        if i is None:
            continue
        a = acc(i, (v.queue,) if by_queue else (v.agent,) if by_agent else ())
        a.offered += 1
        outcome = v.outcome
        if outcome is None:
            a.waiting += 1
            continue
        wait = v.end_ms - v.start_ms
        if a.longest is None or wait > a.longest:
            a.longest = wait
        if outcome == "answered":
            a.answered += 1
            a.wait_sum += wait
            if wait <= target_ms:
                a.within += 1
        elif outcome == "abandoned":
            a.abandoned += 1
            if wait <= short_ms:
                a.short += 1
            if v.interrupted:
                a.interrupted += 1
        else:
            a.overflowed += 1
    serves = {}  # (bucket, agent) -> queues it handled legs of
    for leg in replay.legs:
        i = bucket(leg.offered_ms)
        if i is None:
            continue
        serves.setdefault((i, leg.agent), set()).add(leg.queue)
        a = acc(i, (leg.queue,) if by_queue else (leg.agent,) if by_agent else ())
        a.agents.add(leg.agent)
        if not leg.done:
            continue
        a.handled += 1
        a.hold += leg.hold_ms
        a.talk += leg.end_ms - leg.start_ms - leg.hold_ms
        a.wrap += leg.wrap_ms
    stop = until_ms if now_ms is None else min(until_ms, now_ms)
    for agent, s, e, status, state, reason, queues in \
            replay.spans + replay.open_spans(stop):
        s, e = max(s, since_ms), min(e, stop)
        if s >= e:
            continue
        i = bucket(s)
        while i < n and bounds[i] < e:
            lo, hi = max(s, bounds[i]), min(e, bounds[i + 1])
            if lo < hi:
                if by_agent:
                    targets = ((agent,),)
                elif by_queue:
                    targets = [(q,) for q in (queues if queues is not None
                                              else serves.get((i, agent), ()))]
                else:
                    targets = ((),)
                for key in targets:
                    a = acc(i, key)
                    a.tracked = True
                    if status == _LOGGED_OUT:
                        continue
                    a.logged_in += hi - lo
                    if state in BUSY_STATES:
                        a.busy += hi - lo
                    elif status == _NOT_READY:
                        label = reason or ""
                        a.not_ready[label] = a.not_ready.get(label, 0) + hi - lo
            i += 1
    if by == ():
        keys.add(())
    formula = SL_FORMULAS[sl_formula].format(t=_num(target_s), n=_num(short_abandon_s))
    rows = []
    for key in sorted(keys, key=lambda k: tuple("" if x is None else x for x in k)):
        for i in range(n):
            a = accs.get((i, key)) or _Acc()
            rows.append(_row(a, bounds[i], bounds[i + 1], key, by, sl_formula, formula,
                             target_s, short_abandon_s))
    rows.sort(key=lambda r: (r.start_ms, r.queue or "", r.agent or ""))
    return rows


def _num(x):
    return int(x) if float(x).is_integer() else x


def _ratio(num, den):
    return num / den if den > 0 else None


def _row(a, start, end, key, by, sl_formula, formula, target_s, short_abandon_s):
    if sl_formula == "offered":
        den = a.offered
    elif sl_formula == "answered":
        den = a.answered
    else:
        den = a.offered - a.short
    handle = a.talk + a.hold + a.wrap
    agents = len(a.agents)
    return Row(
        start_ms=start, end_ms=end,
        queue=key[0] if by == ("queue",) else None,
        agent=key[0] if by == ("agent",) else None,
        offered=a.offered, answered=a.answered, abandoned=a.abandoned,
        short_abandons=a.short, overflowed=a.overflowed, interrupted=a.interrupted,
        waiting=a.waiting, answered_within_target=a.within,
        service_level=_ratio(a.within, den), sl_formula=formula, target_s=target_s,
        short_abandon_s=short_abandon_s, asa_ms=_ratio(a.wait_sum, a.answered),
        longest_wait_ms=a.longest, handled=a.handled, agents=agents,
        calls_per_agent=_ratio(a.handled, agents), talk_ms=a.talk, hold_ms=a.hold,
        wrapup_ms=a.wrap, aht_ms=_ratio(handle, a.handled), logged_in_ms=a.logged_in,
        busy_ms=a.busy, occupancy=_ratio(a.busy, a.logged_in) if a.tracked else None,
        not_ready_ms=dict(sorted(a.not_ready.items())))


# ---- real time ----------------------------------------------------------------------------

def realtime(events, now_ms):
    """The centre at `now_ms` from the log up to it (rows after now_ms are ignored): per
    queue the callers waiting (ringing an agent or not) and the oldest wait, calls talking;
    each agent's status, state and reason since its last agent_state row. Read the log
    from `read_window(now_ms, now_ms)[0]` on (a day back: calls last at most 4 h, agents'
    states are logged at least at every login and start)."""
    if isinstance(now_ms, bool) or not isinstance(now_ms, int) or now_ms < 0:
        raise ValueError(f"now_ms must be an int of epoch ms >= 0, not {now_ms!r}")
    replay = Replay()
    replay.play(events, stop_ms=now_ms)
    waiting, ringing, oldest, talking = {}, {}, {}, {}
    for call in replay.calls.values():
        v = call.visit
        if v is not None:
            waiting[v.queue] = waiting.get(v.queue, 0) + 1
            if call.rings:
                ringing[v.queue] = ringing.get(v.queue, 0) + 1
            wait = now_ms - v.start_ms
            if oldest.get(v.queue) is None or wait > oldest[v.queue]:
                oldest[v.queue] = wait
        leg = call.leg
        if leg is not None and not call.ended and leg.queue is not None:
            talking[leg.queue] = talking.get(leg.queue, 0) + 1
    queues = tuple(QueueNow(q, waiting.get(q, 0), ringing.get(q, 0), oldest.get(q),
                            talking.get(q, 0))
                   for q in sorted(set(waiting) | set(talking)))
    agents, counts = [], {}
    for agent in sorted(replay.agent_now):
        since, status, state, reason, _ = replay.agent_now[agent]
        agents.append(AgentNow(agent, status, state, reason, since))
        label = _LOGGED_OUT if status == _LOGGED_OUT else state if state != _IDLE else status
        counts[label] = counts.get(label, 0) + 1
    return Realtime(now_ms, queues, tuple(agents), counts)

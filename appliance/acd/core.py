"""The ACD: queues, agents and routing, sans-I/O.

`Acd` is fed requests (an agent logs in, a call is queued, an offer was answered, a tick)
each with `now` in integer milliseconds, and returns the actions (`actions.py`) that carry
its decisions out. It never reads a clock: `deadline` says when `tick` next has work.

Agents have a *status* they set themselves (logged out, ready, not ready with a reason) and
a *state* the system sets (idle, reserved = an offer rings, on call, wrap-up). Both change
only through the tables `STATUS_TRANSITIONS` and `STATE_TRANSITIONS`; a pair missing from
them is a refused request (status) or a bug (state). An agent is *free* when ready and idle.

Routing: a waiting call may go to a free agent who has every skill of the call's current
requirement (the queue's skills at their minimum levels, widened by escalation steps as the
call waits) and who has not let that call ring out before. Calls are taken in the order
(queue priority high first, caller priority high first, arrival), and each picks among its
candidates by its queue's strategy. After every request returns, no free agent can take a
waiting call: every caller who can be matched is matched at once, not only the heads.

The three ways of keeping that true, each exact given it held before the request:
- one call became waitable (enqueue, offer failed): offer it to its best free candidate;
- one agent became free: give it the first call in the order above that it can take;
- several agents became free (ring-all losers): walk the calls of the queues they serve, in
  order, over them;
- anything else (a failed offer: its agent and its call; a reload): walk all waiting calls
  in order over the free agents.
"""

import bisect
import enum
import heapq
import itertools
import math
import random
from types import MappingProxyType

from . import actions as act
from .errors import AcdError, AgentStateError, UnknownAgent, UnknownQueue
from .specs import AgentSpec, QueueSpec
from .strategies import STRATEGIES, Context

AHT_WINDOW = 20            # the handle-time EWMA weighs about the last 20 calls of a queue
CALLBACK_WAIT_S = 120      # a Callback not answered or failed by then is taken as failed
MAX_OVERFLOW_HOPS = 8      # queue -> queue overflows of one call before it is hung up


class AgentStatus(enum.Enum):
    LOGGED_OUT = "logged_out"
    READY = "ready"
    NOT_READY = "not_ready"


class AgentState(enum.Enum):
    IDLE = "idle"
    RESERVED = "reserved"      # an offer (or a callback) rings for this agent
    ON_CALL = "on_call"
    WRAP_UP = "wrap_up"


class StatusEvent(enum.Enum):
    LOGIN = "login"
    LOGOUT = "logout"
    READY = "ready"
    NOT_READY = "not_ready"


class StateEvent(enum.Enum):
    RESERVE = "reserve"        # an offer or callback for the agent
    ANSWER = "answer"          # the offer was answered
    RELEASE = "release"        # the offer failed or was cancelled
    END = "end"                # the call ended; wrap-up follows
    FREE = "free"              # the call ended with no wrap-up
    WRAP_END = "wrap_end"      # wrap-up over (its timer, set_ready, logout)


_S, _E = AgentStatus, StatusEvent
# (status, request) -> new status, or a str: the request is refused with that reason
STATUS_TRANSITIONS = {
    (_S.LOGGED_OUT, _E.LOGIN): _S.READY,
    (_S.LOGGED_OUT, _E.LOGOUT): "is not logged in",
    (_S.LOGGED_OUT, _E.READY): "is not logged in; log in first",
    (_S.LOGGED_OUT, _E.NOT_READY): "is not logged in; log in first",
    (_S.READY, _E.LOGIN): "is already logged in; log out first",
    (_S.READY, _E.LOGOUT): _S.LOGGED_OUT,
    (_S.READY, _E.READY): _S.READY,
    (_S.READY, _E.NOT_READY): _S.NOT_READY,
    (_S.NOT_READY, _E.LOGIN): "is already logged in; log out first",
    (_S.NOT_READY, _E.LOGOUT): _S.LOGGED_OUT,
    (_S.NOT_READY, _E.READY): _S.READY,
    (_S.NOT_READY, _E.NOT_READY): _S.NOT_READY,   # a new reason
}
_T, _V = AgentState, StateEvent
STATE_TRANSITIONS = {
    (_T.IDLE, _V.RESERVE): _T.RESERVED,
    (_T.RESERVED, _V.ANSWER): _T.ON_CALL,
    (_T.RESERVED, _V.RELEASE): _T.IDLE,
    (_T.ON_CALL, _V.END): _T.WRAP_UP,
    (_T.ON_CALL, _V.FREE): _T.IDLE,
    (_T.WRAP_UP, _V.WRAP_END): _T.IDLE,
}
# STATE_TRANSITIONS keyed by the members' ids, for `_state` (3 times per call): an Enum
# hashes through a Python-level __hash__, an int in C; the members live as long as the module
_STATE_BY_ID = {(id(state), id(event)): new for (state, event), new in STATE_TRANSITIONS.items()}


class CallState(enum.Enum):
    WAITING = "waiting"              # in line, no offer
    RINGING = "ringing"              # offered to one agent (ring all: several)
    CALLBACK = "callback"            # the caller hung up for a callback; the place is kept
    CALLING_BACK = "calling_back"    # Callback sent, an agent reserved for it


class _Agent:
    __slots__ = ("id", "spec", "status", "state", "reason", "station", "idle_since", "calls",
                 "talk_ms", "unanswered", "offer", "call", "call_queue", "answered_at",
                 "wrap_since", "wrap_until", "since")

    def __init__(self, spec):
        self.id = spec.id
        self.spec = spec
        self.status = AgentStatus.LOGGED_OUT
        self.state = AgentState.IDLE
        self.reason = None
        self.station = None
        self.idle_since = 0
        self.calls = 0
        self.talk_ms = 0
        self.unanswered = 0
        self.offer = None          # the call id ringing for this agent
        self.call = None           # the call id being handled (on call, wrap-up)
        self.call_queue = None
        self.answered_at = None
        self.wrap_since = None
        self.wrap_until = None
        self.since = 0             # when status or state last changed


class _Call:
    __slots__ = ("id", "queue", "priority", "seq", "variables", "enqueued_at", "state",
                 "step", "offers", "refused", "number", "max_wait_at", "announce_at",
                 "escalate_at", "visited")

    def __init__(self, call_id, queue, priority, seq, variables, now, visited):
        self.id = call_id
        self.queue = queue           # the _Queue it waits in
        self.priority = priority
        self.seq = seq               # arrival order, unique
        self.variables = variables
        self.enqueued_at = now
        self.state = CallState.WAITING
        self.step = 0                # escalation steps taken
        self.offers = {}             # agent id -> ms the offer rings until
        self.refused = {}            # agent ids that let this call ring out (ordered set)
        self.number = None           # callback number
        self.max_wait_at = None
        self.announce_at = None
        self.escalate_at = None
        self.visited = visited       # queues this call overflowed from

    @property
    def key(self):
        """Order within its queue: caller priority high first, then arrival."""
        return (-self.priority, self.seq)


class _Queue:
    __slots__ = ("name", "spec", "keys", "calls", "aht_ms", "memory", "alts", "ringing")

    def __init__(self, spec):
        self.name = spec.name
        self.spec = spec
        self.keys = []               # sorted call keys
        self.calls = {}              # key -> _Call
        self.aht_ms = None           # EWMA of handle time (talk + wrap-up)
        self.memory = {}             # the strategy's memory
        self.alts = {}               # escalation step -> requirement alternatives (cache)
        self.ringing = set()         # keys of the calls with an offer or callback out

    def add(self, call):
        key = call.key
        bisect.insort(self.keys, key)
        self.calls[key] = call

    def remove(self, call):
        key = call.key
        self.ringing.discard(key)
        index = bisect.bisect_left(self.keys, key)
        if index < len(self.keys) and self.keys[index] == key:
            del self.keys[index]
            del self.calls[key]

    def position(self, call):
        """1 + the callers ahead that still wait for an agent (live or callback; a call
        that rings is not ahead of anyone any more)."""
        key = call.key
        index = bisect.bisect_left(self.keys, key)
        return 1 + index - sum(1 for other in self.ringing if other < key)

    def in_order(self):
        calls = self.calls
        return (calls[key] for key in self.keys)


class Acd:
    """The ACD. `queues`: {name: QueueSpec}; `agents`: {id: AgentSpec}; `strategies`: extra
    or replacement strategies {name: Strategy}; `rng_seed`: seeds the random strategy."""

    def __init__(self, queues, agents, *, strategies=None, rng_seed=0):
        self.strategies = {**STRATEGIES, **(strategies or {})}
        self.rng = random.Random(rng_seed)
        self.queues = {}             # name -> _Queue
        self.agents = {}             # id -> _Agent
        self._calls = {}             # call id -> _Call (waiting, ringing, callbacks)
        self._talking = {}           # call id -> agent id (answered, not ended)
        self._free = {}              # agent id -> _Agent: ready and idle, in the order freed
        self._stations = {}          # station -> agent id (logged in)
        self._timers = []            # heap of (ms, seq, kind, call id / agent id, agent id)
        self._seq = itertools.count()
        self._arrivals = itertools.count()
        self._retired_queues = {}
        self._agent_specs = {}
        self._fit_cache = {}         # (agent id, queue name, step) -> bool; reset by apply
        self.now = 0                 # the latest `now` given
        self.apply(queues, agents)

    # ---- configuration -------------------------------------------------------------------

    def apply(self, queues, agents, now=None):
        """Use new specs for new decisions (a reload). Waiting callers of a queue that is
        kept follow its new spec from now on (skills, strategy, priority, timers counted from
        their arrival); callers of a removed queue keep the old spec until they leave. Agents
        keep their status, state and calls; a removed agent stays until logged out; a new one
        starts logged out. `now` defaults to the latest time the ACD was given. Returns the
        actions the new specs make possible (offers)."""
        for name, spec in queues.items():
            if not isinstance(spec, QueueSpec):
                raise AcdError(f"queue {name!r}: expected a QueueSpec, got "
                               f"{type(spec).__name__}")
            if spec.strategy not in self.strategies:
                raise AcdError(f"queue {name!r}: strategy {spec.strategy!r} is unknown; use "
                               "one of " + ", ".join(sorted(self.strategies)))
        for agent_id, spec in agents.items():
            if not isinstance(spec, AgentSpec):
                raise AcdError(f"agent {agent_id!r}: expected an AgentSpec, got "
                               f"{type(spec).__name__}")
        old = self.queues
        self.queues = {}
        self._fit_cache = {}
        for name, spec in sorted(queues.items(), key=lambda kv: -kv[1].priority):
            queue = old.pop(name, None) or self._retired_queues.pop(name, None) \
                or _Queue(spec)
            queue.spec, queue.alts = spec, {}
            self.queues[name] = queue
        for name, queue in old.items():   # removed: kept while callers wait in it
            if queue.calls:
                self._retired_queues[name] = queue
        for queue in self._retired_queues.values():
            queue.alts = {}
        for agent_id, spec in agents.items():
            agent = self.agents.get(agent_id)
            if agent is None:
                self.agents[agent_id] = _Agent(spec)
            else:
                agent.spec = spec
        self._agent_specs = dict(agents)
        for agent_id in [a for a in self.agents if a not in agents]:
            if self.agents[agent_id].status is AgentStatus.LOGGED_OUT and \
                    self.agents[agent_id].state is AgentState.IDLE:
                del self.agents[agent_id]
        out = []
        now = self.now if now is None else now
        self.now = now
        for call in list(self._calls.values()):
            self._arm_call(call, now, fresh=False)
        self._settle(out, now, everything=True)
        self._overflow_unstaffed(now, out)
        return out

    # ---- agents ----------------------------------------------------------------------------

    def login(self, agent_id, station, now):
        """The agent logs in at `station` (None: their usual one) and is ready."""
        self.now = now
        agent = self._agent(agent_id)
        station = station or agent.spec.station
        if station is None:
            raise AcdError(f"agent {agent_id!r} has no usual station; give the station to "
                           "log in at")
        other = self._stations.get(station)
        if other is not None and other != agent_id:
            raise AcdError(f"station {station!r} is taken by agent {other!r}; log that agent "
                           "out first or use another station")
        out = []
        self._status(agent, StatusEvent.LOGIN, now, out)
        agent.station = station
        self._stations[station] = agent_id
        agent.calls = agent.talk_ms = agent.unanswered = 0
        agent.idle_since = now
        self._refresh(agent, out, now)
        self._settle(out, now, agents=[agent])
        return out

    def logout(self, agent_id, now):
        """The agent logs out: an offer ringing for them is cancelled (the call keeps its
        place), a wrap-up ends; a call in progress goes on to its end (no wrap-up after)."""
        self.now = now
        agent = self._agent(agent_id)
        out = []
        self._status(agent, StatusEvent.LOGOUT, now, out)
        if self._stations.get(agent.station) == agent.id:
            del self._stations[agent.station]
        calls = self._drop_offer(agent, now, out)
        if agent.state is AgentState.WRAP_UP:
            self._end_wrap_up(agent, now, out, early=True)
        if agent.id not in self._agent_specs and agent.state is AgentState.IDLE:
            del self.agents[agent.id]
        self._free.pop(agent.id, None)
        self._overflow_unstaffed(now, out)
        self._settle(out, now, calls=calls)
        return out

    def set_ready(self, agent_id, now):
        """The agent is ready: from not ready (idle counts from now), or to end wrap-up
        early. Resets the count of unanswered offers."""
        self.now = now
        agent = self._agent(agent_id)
        out = []
        was = agent.status
        self._status(agent, StatusEvent.READY, now, out)
        agent.unanswered = 0
        if was is not AgentStatus.READY:
            agent.idle_since = now
        if agent.state is AgentState.WRAP_UP:
            self._end_wrap_up(agent, now, out, early=True)
        self._refresh(agent, out, now)
        self._settle(out, now, agents=[agent])
        return out

    def set_not_ready(self, agent_id, reason, now):
        """The agent takes a break (`reason`: a reason code). An offer ringing for them is
        cancelled; a call or wrap-up in progress goes on."""
        self.now = now
        agent = self._agent(agent_id)
        out = []
        self._status(agent, StatusEvent.NOT_READY, now, out, reason=reason)
        calls = self._drop_offer(agent, now, out)
        self._free.pop(agent.id, None)
        self._settle(out, now, calls=calls)
        return out

    # ---- calls -------------------------------------------------------------------------------

    def enqueue(self, call_id, queue, now, *, priority=0, variables=None):
        """A call joins `queue` with caller `priority` (higher goes first) and the IVR's
        `variables` ("caller" or "callback_number" give the callback number)."""
        self.now = now
        if call_id in self._calls or call_id in self._talking:
            raise AcdError(f"call {call_id!r} is already in the ACD; it leaves (leave / "
                           "call_ended) before it is queued again")
        if queue not in self.queues:
            raise UnknownQueue(f"queue {queue!r} is not configured; queues: "
                               + (", ".join(self.queues) or "none"))
        out = []
        self._join(call_id, self.queues[queue], now, priority,
                   dict(variables or {}), (), out)
        return out

    def leave(self, call_id, now, why="caller hung up"):
        """The caller left while waiting or ringing (hung up, went elsewhere); a kept
        callback is cancelled. Unknown or already answered calls: nothing."""
        self.now = now
        call = self._calls.get(call_id)
        if call is None:
            return []
        out = []
        agents = self._remove(call, now, out)
        out.append(act.Log("left", call.id, call.queue.name, None,
                           {"why": why, "waited_ms": now - call.enqueued_at,
                            "callback": call.number is not None}))
        self._settle(out, now, agents=agents)
        return out

    def offer_answered(self, call_id, agent_id, now):
        """The agent answered the offer (or the callback connected them). An answer to an
        offer that is no longer live (cancelled, timed out, the caller left) gets
        CancelOffer back: release that leg; nothing else changes."""
        self.now = now
        call = self._calls.get(call_id)
        agent = self.agents.get(agent_id)
        if call is None or agent is None or agent_id not in call.offers:
            return [act.CancelOffer(call_id, agent_id)]
        out = []
        del call.offers[agent_id]
        others = self._remove(call, now, out)      # cancels the other ring-all offers
        agent.offer = None
        agent.unanswered = 0
        self._state(agent, StateEvent.ANSWER, now, out, call=call)
        agent.call, agent.call_queue, agent.answered_at = call.id, call.queue.name, now
        self._talking[call.id] = agent.id
        out.append(act.Log("answered", call.id, call.queue.name, agent.id,
                           {"waited_ms": now - call.enqueued_at,
                            "callback": call.number is not None}))
        self._settle(out, now, agents=others)
        return out

    def offer_failed(self, call_id, agent_id, now, why="no answer"):
        """The offer rang out or found the station busy (`why`). The agent is skipped for
        this call from now on; after `max_no_answer` failures in a row they are made not
        ready. The call keeps its place (past max wait: it overflows now). A failed callback
        is dropped (its caller is not dialled again). Stale reports: nothing."""
        self.now = now
        call = self._calls.get(call_id)
        agent = self.agents.get(agent_id)
        if call is None or agent is None or agent_id not in call.offers:
            return []
        out = []
        self._fail_offer(call, agent, now, why, out)
        return out

    def call_ended(self, call_id, agent_id, now):
        """The answered call ended: the agent's wrap-up starts (the queue's wrap_up_s; none
        when 0 or the agent logged out meanwhile)."""
        self.now = now
        agent = self.agents.get(agent_id)
        if agent is None or self._talking.get(call_id) != agent_id:
            return []
        del self._talking[call_id]
        out = []
        talk = now - agent.answered_at
        agent.talk_ms += talk
        agent.calls += 1
        queue = self.queues.get(agent.call_queue) or self._retired_queues.get(agent.call_queue)
        wrap_s = queue.spec.wrap_up_s if queue is not None else 0
        if wrap_s > 0 and agent.status is not AgentStatus.LOGGED_OUT:
            self._state(agent, StateEvent.END, now, out)
            agent.wrap_since, agent.wrap_until = now, now + wrap_s * 1000
            self._push(agent.wrap_until, "wrap", agent.id)
            out.append(act.Log("wrapup_started", call_id, agent.call_queue, agent.id,
                               {"wrap_up_s": wrap_s, "talk_ms": talk}))
        else:
            self._state(agent, StateEvent.FREE, now, out)
            self._handled(agent.call_queue, talk)
            agent.call = agent.call_queue = None
            agent.idle_since = now
            self._done_with_agent(agent, now, out)
        return out

    def digit(self, call_id, digit, now):
        """A waiting (or ringing) caller pressed `digit`: the queue's exit digit leaves to
        its overflow target; its callback digit books a callback that keeps the place."""
        self.now = now
        call = self._calls.get(call_id)
        if call is None or call.state not in (CallState.WAITING, CallState.RINGING):
            return []
        spec = call.queue.spec
        out = []
        if digit == spec.exit_digit:
            self._overflow(call, "exit digit", now, out)
        elif digit == spec.callback_digit:
            number = call.variables.get("callback_number") or call.variables.get("caller")
            if not number:
                out.append(act.Log("callback_refused", call.id, call.queue.name, None,
                                   {"why": "no number to call back"}))
                return out
            agents = self._cancel_offers(call, now, out)
            call.state, call.number = CallState.CALLBACK, str(number)
            call.max_wait_at = call.announce_at = None
            out += [act.CallbackBooked(call.id, call.number, call.queue.name),
                    act.Log("callback_requested", call.id, call.queue.name, None,
                            {"number": call.number, "position": call.queue.position(call),
                             "waited_ms": now - call.enqueued_at})]
            self._settle(out, now, agents=agents, calls=[call])
        return out

    def tick(self, now):
        """Timers due by `now`: offers that rang out, callbacks never reported, max wait,
        escalation steps, announcements, wrap-up ends."""
        out = []
        self.now = now
        while self._timers and self._timers[0][0] <= now:
            due, _, kind, owner, extra = heapq.heappop(self._timers)
            if kind == "wrap":
                agent = self.agents.get(owner)
                if agent is not None and agent.state is AgentState.WRAP_UP \
                        and agent.wrap_until == due:
                    self._end_wrap_up(agent, now, out, early=False)
                    self._done_with_agent(agent, now, out)
                continue
            call = self._calls.get(owner)
            if call is None:
                continue
            if kind == "ring":
                agent = self.agents.get(extra)
                if call.offers.get(extra) == due and agent is not None:
                    out.append(act.CancelOffer(call.id, agent.id))
                    why = "no answer" if call.number is None else "callback not reported"
                    self._fail_offer(call, agent, now, why, out)
            elif kind == "wait":
                if call.max_wait_at == due and call.state is CallState.WAITING:
                    self._overflow(call, "max wait", now, out)
            elif kind == "escalate":
                if call.escalate_at == due:
                    self._escalate(call, now, out)
                    self._settle(out, now, calls=[call])
            elif kind == "announce":
                if call.announce_at == due:
                    call.announce_at = now + call.queue.spec.announce_s * 1000
                    self._push(call.announce_at, "announce", call.id)
                    if call.state is CallState.WAITING:
                        out.append(self._announcement(call))
        return out

    @property
    def deadline(self):
        """The next ms at which `tick` has something to do (None: nothing pending)."""
        timers = self._timers
        while timers and not self._live(timers[0]):
            heapq.heappop(timers)
        return timers[0][0] if timers else None

    # ---- what the wallboard and tests read -------------------------------------------------

    def snapshot(self, now):
        """Real-time figures: per queue callers waiting (live, ringing, callbacks), the
        oldest wait, the expected wait of a caller joining now and the agents who serve it
        by state; per agent status, state, reason and since when; totals."""
        queues = {}
        for queue in self._all_queues():
            live = [c for c in queue.in_order() if c.number is None]
            waits = [now - c.enqueued_at for c in queue.in_order()]
            serving = [a for a in self.agents.values()
                       if a.status is not AgentStatus.LOGGED_OUT and self._fits_any(a, queue)]
            by_state = {"ready": 0, "not_ready": 0, "idle": 0, "reserved": 0,
                        "on_call": 0, "wrap_up": 0}
            for agent in serving:
                by_state[agent.status.value] += 1
                by_state[agent.state.value] += 1
            staffed = sum(1 for a in serving if a.status is AgentStatus.READY
                          and self._fits(a, queue, 0))
            queues[queue.name] = {
                "waiting": sum(1 for c in live if c.state is CallState.WAITING),
                "ringing": sum(1 for c in live if c.state is CallState.RINGING),
                "callbacks": len(queue.calls) - len(live),
                "oldest_wait_ms": max(waits, default=0),
                "expected_wait_s": _expected_wait(len(queue.keys) + 1, staffed,
                                                  self._aht_ms(queue)),
                "aht_s": round(self._aht_ms(queue) / 1000, 1),
                "agents": len(serving),
                "agents_by_state": by_state,
                "retired": queue.name not in self.queues,
            }
        agents = {a.id: {"status": a.status.value, "state": a.state.value,
                         "reason": a.reason, "station": a.station, "since_ms": a.since,
                         "call": a.offer or a.call, "calls": a.calls, "talk_ms": a.talk_ms}
                  for a in self.agents.values()}
        counts = {}
        for a in self.agents.values():
            key = a.status.value if a.status is not AgentStatus.READY else a.state.value
            counts[key] = counts.get(key, 0) + 1
        return {"now_ms": now, "queues": queues, "agents": agents,
                "totals": {"waiting": sum(q["waiting"] + q["ringing"]
                                          for q in queues.values()),
                           "callbacks": sum(q["callbacks"] for q in queues.values()),
                           "talking": len(self._talking), "agents": counts}}

    def agent(self, agent_id):
        """(status, state, reason, offer call id, call id) of an agent, read-only."""
        a = self._agent(agent_id)
        return MappingProxyType({"status": a.status, "state": a.state, "reason": a.reason,
                                 "offer": a.offer, "call": a.call, "station": a.station,
                                 "idle_since": a.idle_since, "calls": a.calls,
                                 "talk_ms": a.talk_ms, "unanswered": a.unanswered})

    def station_of(self, agent_id):
        """The station `agent_id` is logged in at (None: logged out); as agent()["station"]
        without building the read-only view."""
        return self._agent(agent_id).station

    def agent_at(self, station):
        """The id of the agent logged in at `station`, or None."""
        return self._stations.get(station)

    def waiting(self, queue):
        """The calls in `queue`, in routing order: (call id, CallState, priority, escalation
        step, callback number or None, {agent ids offered})."""
        q = self.queues.get(queue) or self._retired_queues.get(queue)
        if q is None:
            raise UnknownQueue(f"queue {queue!r} is not configured")
        return [(c.id, c.state, c.priority, c.step, c.number, frozenset(c.offers))
                for c in q.in_order()]

    # ---- internals: agents -----------------------------------------------------------------

    def _agent(self, agent_id):
        agent = self.agents.get(agent_id)
        if agent is None:
            raise UnknownAgent(f"agent {agent_id!r} is not configured")
        return agent

    def _status(self, agent, event, now, out, reason=None):
        new = STATUS_TRANSITIONS[(agent.status, event)]
        if isinstance(new, str):
            raise AgentStateError(f"agent {agent.id!r} {new}")
        reason = reason if new is AgentStatus.NOT_READY else None
        if new is agent.status and reason == agent.reason:
            return
        agent.status, agent.reason, agent.since = new, reason, now
        self._log_agent(agent, out)

    def _state(self, agent, event, now, out, call=None):
        new = _STATE_BY_ID.get((id(agent.state), id(event)))
        if new is None:
            raise AssertionError(f"agent {agent.id!r}: no transition from "
                                 f"{agent.state.value} on {event.value}")
        agent.state, agent.since = new, now
        self._log_agent(agent, out, call)
        self._refresh(agent, out, now)

    def _log_agent(self, agent, out, call=None):
        call_id = call.id if call is not None else (agent.offer or agent.call)
        queue = call.queue.name if call is not None else agent.call_queue
        # (`_value_`: the member's value without the `value` property's lookup, a hot path)
        out.append(act.Log("agent_state", call_id, queue, agent.id,
                           {"status": agent.status._value_, "state": agent.state._value_,
                            "reason": agent.reason}))

    def _refresh(self, agent, out, now):
        if agent.status is AgentStatus.READY and agent.state is AgentState.IDLE:
            self._free.setdefault(agent.id, agent)
        else:
            self._free.pop(agent.id, None)

    def _end_wrap_up(self, agent, now, out, *, early):
        self._state(agent, StateEvent.WRAP_END, now, out)
        wrap = now - agent.wrap_since
        out.append(act.Log("wrapup_ended", agent.call, agent.call_queue, agent.id,
                           {"wrap_ms": wrap, "early": early}))
        self._handled(agent.call_queue, now - agent.answered_at)
        agent.call = agent.call_queue = agent.wrap_since = agent.wrap_until = None
        agent.idle_since = now

    def _done_with_agent(self, agent, now, out):
        if agent.id not in self._agent_specs and agent.status is AgentStatus.LOGGED_OUT \
                and agent.state is AgentState.IDLE:
            del self.agents[agent.id]      # removed by a reload, now logged out and free
            return
        self._settle(out, now, agents=[agent])

    def _drop_offer(self, agent, now, out):
        """Cancel the offer ringing for `agent` (not counted against them); returns the call
        (as a list) if it is waiting again (a call past its max wait overflows now)."""
        call = self._calls.get(agent.offer) if agent.offer else None
        if call is None:
            return []
        out.append(act.CancelOffer(call.id, agent.id))
        self._release(call, agent, now, out)
        if self._overdue(call, now, out):
            return []
        return [call]

    def _overdue(self, call, now, out, freed=()):
        """A live call back in line past its max wait (it was ringing then) overflows."""
        if call.state is CallState.WAITING and call.max_wait_at is not None \
                and now >= call.max_wait_at:
            self._overflow(call, "max wait", now, out, freed)
            return True
        return False

    def _release(self, call, agent, now, out):
        del call.offers[agent.id]
        agent.offer = None
        self._state(agent, StateEvent.RELEASE, now, out, call=call)
        if not call.offers:
            call.state = CallState.WAITING if call.number is None else CallState.CALLBACK
            call.queue.ringing.discard(call.key)

    def _fail_offer(self, call, agent, now, why, out):
        callback = call.number is not None
        self._release(call, agent, now, out)
        call.refused[agent.id] = True
        if not callback:
            agent.unanswered += 1
        out.append(act.Log("offer_failed", call.id, call.queue.name, agent.id,
                           {"why": why, "unanswered": agent.unanswered}))
        limit = agent.spec.max_no_answer
        if limit and agent.unanswered >= limit and agent.status is AgentStatus.READY:
            self._status(agent, StatusEvent.NOT_READY, now, out,
                         reason="station busy" if why == "station busy" else "no answer")
            self._free.pop(agent.id, None)
        if callback:
            out.append(act.Log("callback_failed", call.id, call.queue.name, agent.id,
                               {"why": why, "number": call.number}))
            self._remove(call, now, out)
        elif self._overdue(call, now, out, freed=[agent]):
            return
        self._settle(out, now, agents=[agent], calls=[call])

    # ---- internals: calls ------------------------------------------------------------------

    def _join(self, call_id, queue, now, priority, variables, visited, out):
        call = _Call(call_id, queue, priority, next(self._arrivals), variables, now, visited)
        self._calls[call_id] = call
        queue.add(call)
        self._arm_call(call, now, fresh=True)
        out.append(act.Log("queued", call.id, queue.name, None,
                           {"priority": priority, "position": queue.position(call),
                            "step": call.step}))
        if queue.spec.no_agents_overflow and not self._staffed_at_all(queue):
            self._overflow(call, "no agents", now, out)
            return
        self._settle(out, now, calls=[call])
        if call.state is CallState.WAITING and queue.spec.announce_s > 0:
            out.append(self._announcement(call))

    def _arm_call(self, call, now, *, fresh):
        """(Re)compute a call's timers from its arrival and its queue's current spec."""
        spec = call.queue.spec
        start = call.enqueued_at
        steps = spec.escalation
        step = 0
        while step < len(steps) and start + steps[step].after_s * 1000 <= now:
            step += 1
        call.step = max(call.step, step) if not fresh else step
        call.escalate_at = (start + steps[call.step].after_s * 1000
                            if call.step < len(steps) else None)
        if call.escalate_at is not None:
            self._push(call.escalate_at, "escalate", call.id)
        if call.number is None:
            call.max_wait_at = start + spec.max_wait_s * 1000
            self._push(call.max_wait_at, "wait", call.id)
            if spec.announce_s > 0:
                period = spec.announce_s * 1000
                call.announce_at = start + ((now - start) // period + 1) * period
                self._push(call.announce_at, "announce", call.id)
            else:
                call.announce_at = None

    def _escalate(self, call, now, out):
        steps = call.queue.spec.escalation
        step = steps[call.step]
        call.step += 1
        out.append(act.Log("escalated", call.id, call.queue.name, None,
                           {"step": call.step, "after_s": step.after_s,
                            "min_level": step.min_level, "add_queue": step.add_queue}))
        if call.step < len(steps):
            call.escalate_at = call.enqueued_at + steps[call.step].after_s * 1000
            self._push(call.escalate_at, "escalate", call.id)
        else:
            call.escalate_at = None

    def _announcement(self, call):
        queue = call.queue
        position = queue.position(call)
        staffed = sum(1 for a in self.agents.values()
                      if a.status is AgentStatus.READY and self._fits(a, queue, call.step))
        return act.Announce(call.id, position,
                            _expected_wait(position, staffed, self._aht_ms(queue)))

    def _aht_ms(self, queue):
        return queue.aht_ms if queue.aht_ms is not None else queue.spec.aht_s * 1000

    def _handled(self, queue_name, handle_ms):
        queue = self.queues.get(queue_name) or self._retired_queues.get(queue_name)
        if queue is None:
            return
        alpha = 2 / (AHT_WINDOW + 1)
        queue.aht_ms = handle_ms if queue.aht_ms is None else \
            queue.aht_ms + alpha * (handle_ms - queue.aht_ms)

    def _cancel_offers(self, call, now, out):
        agents = []
        for agent_id in list(call.offers):
            agent = self.agents[agent_id]
            out.append(act.CancelOffer(call.id, agent_id))
            self._release(call, agent, now, out)
            agents.append(agent)
        return agents

    def _remove(self, call, now, out):
        """Take `call` out of the ACD, cancelling its offers; returns the agents freed."""
        agents = self._cancel_offers(call, now, out)
        call.queue.remove(call)
        del self._calls[call.id]
        if not call.queue.calls and call.queue.name in self._retired_queues:
            del self._retired_queues[call.queue.name]
        return agents

    def _overflow(self, call, why, now, out, freed=()):
        """`call` leaves to its queue's overflow target. The agents its offers held, and
        `freed` (agents the same request freed), are matched before the call joins a target
        queue, so that it cannot take an agent from a caller ahead of it there."""
        queue = call.queue
        target = queue.spec.overflow
        agents = self._remove(call, now, out) + list(freed)
        join = None
        if target.startswith("queue:"):
            name = target[len("queue:"):]
            visited = call.visited + (queue.name,)
            if name not in self.queues:
                target, why = "hangup", f"{why}; overflow queue {name!r} is not configured"
            elif name in visited or len(visited) > MAX_OVERFLOW_HOPS:
                target, why = "hangup", f"{why}; overflow loop through queue {name!r}"
            else:
                join = self.queues[name], visited
        out.append(act.Overflow(call.id, queue.name, target, why))
        self._settle(out, now, agents=agents)
        if join is not None:
            self._join(call.id, join[0], now, call.priority, call.variables, join[1], out)

    def _staffed_at_all(self, queue):
        """Whether a logged-in agent could take a call of `queue` at some escalation step."""
        return any(a.status is not AgentStatus.LOGGED_OUT and self._fits_any(a, queue)
                   for a in self.agents.values())

    def _overflow_unstaffed(self, now, out):
        for queue in self._all_queues():
            if not queue.spec.no_agents_overflow or not queue.calls:
                continue
            if self._staffed_at_all(queue):
                continue
            for call in list(queue.in_order()):
                if call.state is CallState.WAITING:
                    self._overflow(call, "no agents", now, out)

    def _all_queues(self):
        return itertools.chain(self.queues.values(), list(self._retired_queues.values()))

    # ---- internals: matching ---------------------------------------------------------------

    def _alternatives(self, queue, step):
        """The skill requirements a call of `queue` at escalation `step` may be met by: a
        tuple of ((skill, min level), ...), any one of which suffices."""
        alts = queue.alts.get(step)
        if alts is None:
            alts = [dict(queue.spec.skills)]
            for esc in queue.spec.escalation[:step]:
                if esc.min_level is not None:
                    alts = [{s: min(level, esc.min_level) for s, level in a.items()}
                            for a in alts]
                else:
                    other = self.queues.get(esc.add_queue)
                    if other is not None:
                        alts.append(dict(other.spec.skills))
            alts = tuple(tuple(sorted(a.items())) for a in alts)
            queue.alts[step] = alts
        return alts

    def _fits(self, agent, queue, step):
        key = (agent.id, queue.name, step)
        fit = self._fit_cache.get(key)
        if fit is None:
            fit = self._fit_cache[key] = self._fits_now(agent, queue, step)
        return fit

    def _fits_now(self, agent, queue, step):
        skills = agent.spec.skills
        for req in self._alternatives(queue, step):
            for skill, level in req:
                if skills.get(skill, 0) < level:
                    break
            else:
                return True
        return False

    def _fits_any(self, agent, queue):
        return self._fits(agent, queue, len(queue.spec.escalation))

    def _can_take(self, agent, call):
        return agent.id not in call.refused and self._fits(agent, call.queue, call.step)

    def _settle(self, out, now, agents=(), calls=(), everything=False):
        """Match what the last request made matchable (see the module doc)."""
        free = self._free
        if not free:
            return
        # the agents still free and the calls still waiting, each once, in order (one or
        # none, the usual case, needs no dict to drop repeats)
        agents = [a for a in (agents if len(agents) < 2 else
                              {a.id: a for a in agents}.values()) if a.id in free]
        calls = [c for c in (calls if len(calls) < 2 else dict.fromkeys(calls))
                 if self._calls.get(c.id) is c
                 and c.state in (CallState.WAITING, CallState.CALLBACK)]
        if not agents and not calls and not everything:
            return
        if everything or (agents and calls) or len(calls) > 1:
            self._match_all(out, now)
        elif len(agents) > 1:
            self._match_agents(agents, out, now)
        elif agents:
            call = self._best_call_for(agents[0])
            if call is not None:
                self._match_call(call, out, now)
        else:
            self._match_call(calls[0], out, now)

    def _match_call(self, call, out, now):
        # _can_take for every free agent, inlined (this runs for every call and free agent)
        refused, queue, step = call.refused, call.queue, call.step
        name, cache = queue.name, self._fit_cache
        candidates = []
        for agent in self._free.values():
            if agent.id in refused:
                continue
            fit = cache.get((agent.id, name, step))
            if fit is None:
                fit = self._fits(agent, queue, step)
            if fit:
                candidates.append(agent)
        if candidates:
            self._offer(call, candidates, out, now)

    def _best_call_for(self, agent):
        best, best_key = None, None
        for queue in self._all_queues():
            if not queue.calls:
                continue
            if best is not None and -queue.spec.priority > best_key[0]:
                continue
            if not self._fits_any(agent, queue):
                continue
            for call in queue.in_order():
                if call.state in (CallState.WAITING, CallState.CALLBACK) \
                        and self._can_take(agent, call):
                    key = (-queue.spec.priority, -call.priority, call.seq)
                    if best is None or key < best_key:
                        best, best_key = call, key
                    break
        return best

    def _waiting_in_order(self, queues):
        """The calls waiting for an agent in `queues`, lazily in routing order."""
        return (call for _, call in heapq.merge(*map(_waiting_stream, queues),
                                                 key=lambda kc: kc[0]))

    def _match_all(self, out, now):
        free = self._free
        if not free:
            return
        for call in self._waiting_in_order(list(self._all_queues())):
            self._match_call(call, out, now)
            if not free:
                break

    def _match_agents(self, agents, out, now):
        """Several agents became free and nothing else changed: only they can take a
        waiting call, so walk the calls of the queues they serve, in order, over them."""
        queues = [q for q in self._all_queues()
                  if q.calls and any(self._fits_any(a, q) for a in agents)]
        free = self._free
        pending = list(agents)
        for call in self._waiting_in_order(queues):
            candidates = [a for a in pending if a.id in free and self._can_take(a, call)]
            if candidates:
                self._offer(call, candidates, out, now)
                pending = [a for a in pending if a.id in free]
                if not pending:
                    break

    def _offer(self, call, candidates, out, now):
        queue = call.queue
        strategy = self.strategies.get(queue.spec.strategy) or STRATEGIES["longest_idle"]
        ctx = Context(queue.spec, queue.memory, self.rng, now)
        if call.number is not None:
            agent = strategy.pick(candidates, ctx)
            strategy.offered(agent, ctx)
            until = now + CALLBACK_WAIT_S * 1000
            call.state = CallState.CALLING_BACK
            queue.ringing.add(call.key)
            call.offers[agent.id] = until
            agent.offer = call.id
            self._state(agent, StateEvent.RESERVE, now, out, call=call)
            self._push(until, "ring", call.id, agent.id)
            out.append(act.Callback(call.id, call.number, queue.name, agent.id,
                                    agent.station))
            return
        chosen = candidates if strategy.ring_all else [strategy.pick(candidates, ctx)]
        until = now + queue.spec.ring_s * 1000
        call.state = CallState.RINGING
        queue.ringing.add(call.key)
        for agent in chosen:
            strategy.offered(agent, ctx)
            call.offers[agent.id] = until
            agent.offer = call.id
            self._state(agent, StateEvent.RESERVE, now, out, call=call)
            self._push(until, "ring", call.id, agent.id)
            out.append(act.Offer(call.id, agent.id, agent.station, queue.name))

    # ---- internals: timers -------------------------------------------------------------------

    def _push(self, due, kind, owner, extra=None):
        heapq.heappush(self._timers, (due, next(self._seq), kind, owner, extra))

    def _live(self, entry):
        due, _, kind, owner, extra = entry
        if kind == "wrap":
            agent = self.agents.get(owner)
            return agent is not None and agent.state is AgentState.WRAP_UP \
                and agent.wrap_until == due
        call = self._calls.get(owner)
        if call is None:
            return False
        if kind == "ring":
            return call.offers.get(extra) == due
        if kind == "wait":
            return call.max_wait_at == due and call.number is None
        if kind == "escalate":
            return call.escalate_at == due
        return call.announce_at == due


def _waiting_stream(queue):
    """(routing key, call) of the calls of `queue` waiting for an agent, in order."""
    rank = -queue.spec.priority
    waitable = (CallState.WAITING, CallState.CALLBACK)
    for call in queue.in_order():
        if call.state in waitable:
            yield (rank, -call.priority, call.seq), call


def _expected_wait(position, staffed, aht_ms):
    """The expected wait in whole seconds of the caller at `position` (1 = next): with
    `staffed` agents each finishing a call every `aht_ms` on average, a call ends every
    aht/staffed, and this caller needs `position` of them: position * aht / staffed (exact
    for exponential handle times with every agent busy). None when nobody staffs the
    queue."""
    if staffed <= 0:
        return None
    return math.ceil(position * aht_ms / staffed / 1000)

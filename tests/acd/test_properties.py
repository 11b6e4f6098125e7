"""Properties of the ACD under random sequences of requests, checked against a model built
only from the actions it returns (never from its internals):

- a call is offered to one agent at a time (ring-all queues: to several, each free and
  matching at that moment), and an agent never has two offers;
- offers go only to agents who are ready and idle and have the call's skills (with the
  escalation its wait has reached), never to one who let that call ring out;
- after every request returns, no ready idle agent can take a waiting caller;
- each offer goes to the first caller in its queue's order (priority, then arrival) that
  the agent can take;
- every status / state change is logged, and the log agrees with the ACD's own view;
- the same seed and requests give the same actions.

The driver plays a patient engine: it calls tick() whenever the deadline has come, answers
or fails offers, ends calls, and lets callers hang up or press digits.
"""

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from appliance.acd import (
    STRATEGIES,
    Acd,
    AcdError,
    AgentSpec,
    Callback,
    CancelOffer,
    Log,
    Offer,
    Overflow,
    QueueSpec,
)

SKILLS = ("s0", "s1", "s2")
S = 1000


@st.composite
def escalations(draw, queue_names):
    steps = []
    for _ in range(draw(st.integers(0, 2))):
        after = draw(st.integers(0, 120))
        if draw(st.booleans()):
            steps.append((after, draw(st.integers(1, 10))))
        else:
            steps.append((after, "queue:" + draw(st.sampled_from(queue_names))))
    return steps


@st.composite
def scenarios(draw):
    n_queues = draw(st.integers(1, 3))
    names = [f"q{i}" for i in range(n_queues)]
    queues = {}
    for name in names:
        skills = draw(st.dictionaries(st.sampled_from(SKILLS), st.integers(1, 10),
                                      min_size=1, max_size=2))
        overflow = draw(st.sampled_from(["voicemail", "hangup"]
                                        + [f"queue:{n}" for n in names if n != name]))
        queues[name] = QueueSpec(
            name, skills, priority=draw(st.integers(0, 2)),
            strategy=draw(st.sampled_from(sorted(STRATEGIES))),
            max_wait_s=draw(st.integers(0, 300)), overflow=overflow,
            wrap_up_s=draw(st.sampled_from([0, 0, 5, 30])),
            announce_s=draw(st.sampled_from([0, 20, 60])),
            exit_digit="0", callback_digit="9",
            escalation=draw(escalations(names)),
            no_agents_overflow=draw(st.booleans()),
            ring_s=draw(st.sampled_from([5, 20])))
    agents = {}
    for i in range(draw(st.integers(1, 6))):
        agent_id = f"a{i}"
        skills = draw(st.dictionaries(st.sampled_from(SKILLS), st.integers(1, 10),
                                      max_size=3))
        agents[agent_id] = AgentSpec(agent_id, skills=skills, station=f"st{i}",
                                     order=draw(st.integers(0, 3)),
                                     max_no_answer=draw(st.integers(0, 3)))
    return queues, agents


OPS = st.lists(st.tuples(
    st.sampled_from(["login", "logout", "ready", "not_ready", "enqueue", "enqueue",
                     "enqueue", "leave", "answer", "answer", "fail", "end", "end", "digit",
                     "wait"]),
    st.integers(0, 1000), st.integers(0, 9), st.integers(0, 40_000)),
    min_size=1, max_size=60)


class Model:
    """What the actions say happened: offers, callers in line, agents' status and state."""

    def __init__(self, queues, agents):
        self.queues = queues
        self.agents = agents
        self.offers = {}         # call -> {agent}
        self.offer_of = {}       # agent -> call
        self.waiting = {}        # call -> dict(queue, priority, seq, since, callback)
        self.refused = {}        # call -> {agent}
        self.talking = {}        # call -> agent
        self.status = {a: ("logged_out", "idle") for a in agents}
        self.seq = 0

    def requirement_alternatives(self, call, now):
        info = self.waiting[call]
        spec = self.queues[info["queue"]]
        alts = [dict(spec.skills)]
        for step in spec.escalation:
            if info["since"] + step.after_s * S > now:
                break
            if step.min_level is not None:
                alts = [{s: min(lv, step.min_level) for s, lv in a.items()} for a in alts]
            else:
                alts.append(dict(self.queues[step.add_queue].skills))
        return alts

    def fits(self, agent, call, now):
        levels = self.agents[agent].skills
        return any(all(levels.get(s, 0) >= lv for s, lv in alt.items())
                   for alt in self.requirement_alternatives(call, now))

    def free(self, agent):
        return self.status[agent] == ("ready", "idle")

    def order(self, call):
        info = self.waiting[call]
        return (-info["priority"], info["seq"])

    def apply(self, actions, now, request):
        """Feed one request's actions, checking each offer as it is made."""
        for action in actions:
            if isinstance(action, Log):
                self.log(action, now)
            elif isinstance(action, (Offer, Callback)):
                self.offered(action, now)
            elif isinstance(action, CancelOffer):
                self.cancelled(action.call_id, action.agent_id)
            elif isinstance(action, Overflow):
                self.gone(action.call_id)

    def log(self, row, now):
        if row.kind == "agent_state":
            new = (row.data["status"], row.data["state"])
            if new[1] == "reserved" and self.status[row.agent][1] != "reserved":
                assert self.status[row.agent] == ("ready", "idle"), \
                    f"{row.agent} reserved while {self.status[row.agent]}"
            self.status[row.agent] = new
        elif row.kind == "queued":
            self.seq += 1
            self.waiting[row.call_id] = dict(queue=row.queue, priority=row.data["priority"],
                                             seq=self.seq, since=now, callback=False)
            self.refused[row.call_id] = set()
        elif row.kind == "offer_failed":
            self.cancelled(row.call_id, row.agent)
            self.refused[row.call_id].add(row.agent)
        elif row.kind == "answered":
            for agent in self.offers.pop(row.call_id, set()) - {row.agent}:
                raise AssertionError(f"{agent} still offered {row.call_id} after the answer")
            self.offer_of.pop(row.agent, None)
            self.waiting.pop(row.call_id)
            self.talking[row.call_id] = row.agent
        elif row.kind in ("left", "callback_failed"):
            self.gone(row.call_id)
        elif row.kind == "callback_requested":
            self.waiting[row.call_id]["callback"] = True

    def offered(self, offer, now):
        call, agent = offer.call_id, offer.agent_id
        assert call in self.waiting, f"offer of {call}, which is not in line"
        info = self.waiting[call]
        assert isinstance(offer, Offer) != info["callback"], "callback / offer mismatch"
        assert agent not in self.offer_of, f"{agent} got a second offer ({call})"
        # the agent_state row (reserved) comes just before the offer
        assert self.status[agent] == ("ready", "reserved"), (agent, self.status[agent])
        assert self.fits(agent, call, now), f"{agent} lacks the skills for {call}"
        assert agent not in self.refused[call], f"{agent} let {call} ring out before"
        ring_all = self.queues[info["queue"]].strategy == "ring_all" and not info["callback"]
        if self.offers.get(call):
            assert ring_all, f"{call} offered to {agent} while it rings elsewhere"
        # the first caller of the queue (in order) that this agent could take
        for other, o_info in self.waiting.items():
            if other == call or o_info["queue"] != info["queue"] or self.offers.get(other):
                continue
            if self.order(other) < self.order(call) and agent not in self.refused[other] \
                    and self.fits(agent, other, now):
                raise AssertionError(f"{call} offered to {agent} ahead of {other}")
        self.offers.setdefault(call, set()).add(agent)
        self.offer_of[agent] = call

    def cancelled(self, call, agent):
        if agent in self.offers.get(call, ()):
            self.offers[call].discard(agent)
            del self.offer_of[agent]

    def gone(self, call):
        assert not self.offers.get(call), f"{call} left with live offers"
        self.waiting.pop(call, None)
        self.offers.pop(call, None)

    def check_settled(self, acd, now):
        for agent in self.agents:
            view = acd.agent(agent)
            assert (view["status"].value, view["state"].value) == self.status[agent], agent
            assert view["offer"] == self.offer_of.get(agent), agent
            if not self.free(agent):
                continue
            for call in self.waiting:
                if not self.offers.get(call) and agent not in self.refused[call]:
                    assert not self.fits(agent, call, now), \
                        f"{agent} idle while {call} waits and could be taken"


def drive(scenario, ops, seed=0, check=True):
    """Play `ops` on a fresh Acd; returns every action, in order."""
    queues, agents = scenario
    acd = Acd(queues, agents, rng_seed=seed)
    model = Model(queues, agents)
    agent_ids = list(agents)
    queue_names = list(queues)
    now = 0
    trace = []
    calls = 0

    def run(request, t, fn, *args):
        try:
            actions = fn(*args)
        except AcdError:
            return                      # a refused request (e.g. ready while logged out)
        trace.append((request, t, actions))
        if check:
            model.apply(actions, t, request)
            model.check_settled(acd, t)

    for kind, pick, small, dt in ops:
        now += dt
        while acd.deadline is not None and acd.deadline <= now:
            due = acd.deadline
            run("tick", due, acd.tick, due)
        run("tick", now, acd.tick, now)
        agent = agent_ids[pick % len(agent_ids)]
        if kind == "login":
            run(kind, now, acd.login, agent, None, now)
        elif kind == "logout":
            run(kind, now, acd.logout, agent, now)
        elif kind == "ready":
            run(kind, now, acd.set_ready, agent, now)
        elif kind == "not_ready":
            run(kind, now, acd.set_not_ready, agent, ["lunch", "meeting"][small % 2], now)
        elif kind == "enqueue":
            calls += 1
            variables = {"caller": f"555{calls}"} if small % 3 else {}
            run(kind, now, lambda: acd.enqueue(f"c{calls}", queue_names[pick % len(queue_names)],
                                          now, priority=small % 3, variables=variables))
        elif kind in ("leave", "digit") and model.waiting:
            call = sorted(model.waiting)[pick % len(model.waiting)]
            if kind == "leave":
                run(kind, now, acd.leave, call, now, "caller hung up")
            else:
                run(kind, now, acd.digit, call, "09"[small % 2] if small < 6 else "5", now)
        elif kind in ("answer", "fail") and model.offer_of:
            agent = sorted(model.offer_of)[pick % len(model.offer_of)]
            call = model.offer_of[agent]
            if kind == "answer":
                run(kind, now, acd.offer_answered, call, agent, now)
            else:
                why = ["no answer", "station busy"][small % 2]
                run(kind, now, acd.offer_failed, call, agent, now, why)
        elif kind == "end" and model.talking:
            call = sorted(model.talking)[pick % len(model.talking)]
            run(kind, now, acd.call_ended, call, model.talking.pop(call), now)
    return trace


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios(), OPS)
def test_offers_are_exclusive_matched_at_once_and_in_order(scenario, ops):
    drive(scenario, ops)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios(), OPS, st.integers(0, 2**32 - 1))
def test_the_same_seed_gives_the_same_decisions(scenario, ops, seed):
    assert drive(scenario, ops, seed, check=False) == drive(scenario, ops, seed, check=False)

"""Small builders for the ACD tests: specs, an Acd with agents logged in, action filters."""

from appliance.acd import (
    Acd,
    AgentSpec,
    Announce,
    Callback,
    CallbackBooked,
    CancelOffer,
    Log,
    Offer,
    Overflow,
    QueueSpec,
)

S = 1000  # ms per second


def queue(name="sales", skills=None, **kw):
    return QueueSpec(name, {"sales": 1} if skills is None else skills, **kw)


def agent(agent_id, skills=None, **kw):
    kw.setdefault("station", f"st-{agent_id}")
    return AgentSpec(agent_id, name=agent_id.upper(),
                     skills={"sales": 5} if skills is None else skills, **kw)


def acd_with(queues, agents, *, login=(), now=0, **kw):
    """An Acd over the specs (lists or dicts) with the agents in `login` logged in (ready)
    at `now`, in that order."""
    qs = queues if isinstance(queues, dict) else {q.name: q for q in queues}
    ags = agents if isinstance(agents, dict) else {a.id: a for a in agents}
    acd = Acd(qs, ags, **kw)
    for agent_id in login:
        acd.login(agent_id, None, now)
    return acd


def of(actions, kind):
    return [a for a in actions if isinstance(a, kind)]


def offers(actions):
    """[(call id, agent id)] of the Offer actions, in order."""
    return [(a.call_id, a.agent_id) for a in of(actions, Offer)]


def logs(actions, kind):
    return [a for a in of(actions, Log) if a.kind == kind]


def states(actions, agent_id):
    """[(status, state, reason)] of the agent_state rows of `agent_id`."""
    return [(r.data["status"], r.data["state"], r.data["reason"])
            for r in logs(actions, "agent_state") if r.agent == agent_id]


__all__ = ["S", "queue", "agent", "acd_with", "of", "offers", "logs", "states", "Acd",
           "AgentSpec", "QueueSpec", "Announce", "Callback", "CallbackBooked", "CancelOffer",
           "Log", "Offer", "Overflow"]

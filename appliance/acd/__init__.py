"""The ACD: queues, agents, skills, routing strategies and agent states, as pure logic.

    acd = Acd({name: QueueSpec}, {id: AgentSpec}, rng_seed=0)
    actions = acd.enqueue("call-1", "sales", now_ms)

Every method takes `now` in integer milliseconds and returns actions (`actions.py`); the
ACD does no I/O and reads no clock. `permissions.may` decides who may supervise whom.
"""

from .actions import Announce, Callback, CallbackBooked, CancelOffer, Log, Offer, Overflow
from .core import (
    STATE_TRANSITIONS,
    STATUS_TRANSITIONS,
    Acd,
    AgentState,
    AgentStatus,
    CallState,
)
from .errors import AcdError, AgentStateError, UnknownAgent, UnknownQueue
from .specs import AgentSpec, Escalation, QueueSpec, specs_from_config
from .strategies import STRATEGIES, Context, Strategy

__all__ = [
    "Acd", "AgentState", "AgentStatus", "CallState", "STATE_TRANSITIONS",
    "STATUS_TRANSITIONS", "Announce", "Callback", "CallbackBooked", "CancelOffer", "Log",
    "Offer", "Overflow", "AcdError", "AgentStateError", "UnknownAgent", "UnknownQueue",
    "AgentSpec", "Escalation", "QueueSpec", "specs_from_config", "STRATEGIES", "Context",
    "Strategy",
]

"""What the ACD asks the engine to do: frozen dataclasses, named as imperatives.

The ACD never touches a port: the engine carries these out (ring a station, stop it, move
the caller, play an announcement, dial the caller back) and reports back through
`Acd.offer_answered` / `offer_failed` / `call_ended` / `leave`.
"""

from dataclasses import field
from types import MappingProxyType
from typing import Mapping, Optional

from appliance.records import record


@record
class Offer:
    """Ring `agent_id`'s `station` with the waiting call `call_id` of `queue`. A call is
    offered to one agent at a time and an agent has at most one offer, except ring all:
    a call of a ring-all queue is offered to every free matching agent at once (each agent
    still has only that one offer); the first to answer takes it and the others get
    CancelOffer."""
    call_id: str
    agent_id: str
    station: str
    queue: str


@record
class CancelOffer:
    """Stop ringing `agent_id`'s station for `call_id` (ring-all loser, the caller left, the
    ring time ran out, the agent went not ready or logged out). After `offer_answered` for an
    offer that is no longer live the engine gets this too: release that agent's leg."""
    call_id: str
    agent_id: str


@record
class Overflow:
    """The call leaves `queue` to `target`: "hangup", "voicemail", "queue:NAME",
    "station:NAME" or "flow:NODE". For "queue:NAME" the ACD has already put the call in that
    queue (the next actions are its entry there): the engine only logs it."""
    call_id: str
    queue: str
    target: str
    why: str  # "max wait", "no agents", "exit digit", "queue removed", "overflow loop"


@record
class Announce:
    """Tell the waiting caller their place (1 = next) and the expected wait in seconds
    (None: no agent staffs the queue now, so no honest figure exists)."""
    call_id: str
    position: int
    expected_wait_s: Optional[int]


@record
class CallbackBooked:
    """The caller asked for a callback: confirm it and release the live leg. The ACD keeps
    the caller's place in line under `call_id`."""
    call_id: str
    number: str
    queue: str


@record
class Callback:
    """Dial `number` back for `call_id`: its place came up and `agent_id` (at `station`) is
    reserved for it. Report `offer_answered(call_id, agent_id)` once the caller and the agent
    talk, or `offer_failed(call_id, agent_id, why=...)`."""
    call_id: str
    number: str
    queue: str
    agent_id: str = ""
    station: str = ""


@record
class Log:
    """A row for the event log (the engine stamps the time). Kinds: "agent_state" (data:
    status, state, reason), "queued", "answered", "left", "offer_failed", "escalated",
    "wrapup_started", "wrapup_ended", "callback_requested", "callback_refused",
    "callback_failed"; the README lists each kind's data."""
    kind: str
    call_id: Optional[str] = None
    queue: Optional[str] = None
    agent: Optional[str] = None
    data: Mapping = field(default_factory=lambda: MappingProxyType({}))

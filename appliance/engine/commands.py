"""What the switchboard asks of the world: frozen dataclasses the engine's shell carries out.

The switchboard (`switchboard.py`) is sans-I/O: it is fed board events and ticks and returns
these. A port is named by its key, ``(board name, port index)``. Port commands are sent to
the board without waiting on the tick (their answers come back as events or errors);
playback, recording and store writes never touch the disk on the tick.
"""

from dataclasses import field

from appliance.records import record


# ---- ports -----------------------------------------------------------------------------

@record
class Seize:
    """FXO: go off-hook (answer a ringing line, or take it to dial out)."""
    port: tuple


@record
class Release:
    """FXO: go on-hook."""
    port: tuple


@record
class Ring:
    """FXS: ring the station (the country's cadence) until it answers or StopRing."""
    port: tuple


@record
class StopRing:
    port: tuple


@record
class Connect:
    """Two ports hear each other (the board's switch, or a host bridge across boards)."""
    a: tuple
    b: tuple


@record
class Disconnect:
    """Undo the port's Connect (both ends)."""
    port: tuple


@record
class JoinConference:
    """The port takes part in the call's host-mixed conference (`appliance.engine.mixer`):
    mode "talk", "listen" (monitoring) or "whisper" (heard by `to` only). A port in a
    conference is off the board's switch; its audio out is its mix."""
    conference: str
    port: tuple
    mode: str = "talk"
    to: tuple | None = None


@record
class LeaveConference:
    port: tuple


@record
class DetectTones:
    """Call-progress tone detection on the port's audio (busy tone as a far-end clear,
    dial tone and ringback on outbound lines)."""
    port: tuple
    on: bool


# ---- audio -----------------------------------------------------------------------------

@record
class Play:
    """Play prompts to the port one after the other (names as the IVR gives them, plus
    "builtin:...", "tone:busy"..., "music", "dtmf:DIGITS"); `loop` repeats them until
    StopPlay. A playout that ends by itself is reported back with its `tag`."""
    port: tuple
    prompts: tuple
    loop: bool = False
    tag: object = None


@record
class StopPlay:
    port: tuple


@record
class StartRecording:
    """Record the call: `a` is the caller's port; the other side is what the caller hears
    (the box's playout, or the port connected to it). `name` is the recording's file stem."""
    call_id: str
    name: str
    a: tuple
    mailbox: str | None = None  # a voicemail (the caller only) instead of a call recording


@record
class StopRecording:
    call_id: str
    mailbox: str | None = None
    caller: str = ""
    start_tick: int = 0
    length_ticks: int = 0


# ---- data ------------------------------------------------------------------------------

@record
class LookUp:
    """Find the customer for the IVR off the tick; the answer goes back to the call."""
    call_id: str
    value: str
    request_id: int


@record
class CdrOpen:
    call_id: str
    direction: str
    tick: int
    fields: dict = field(default_factory=dict)


@record
class CdrUpdate:
    call_id: str
    fields: dict  # answer_tick (a tick, converted), ivr_path, station, agent, queue, ...


@record
class CdrClose:
    call_id: str
    tick: int
    disposition: str
    cause: str


@record
class LogEvent:
    """One row of the event log the ACD's KPIs are computed from."""
    tick: int
    kind: str
    call_id: str | None = None
    queue: str | None = None
    agent: str | None = None
    data: dict = field(default_factory=dict)

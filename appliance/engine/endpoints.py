"""The box's ends of calls: analog lines (FXO ports of trunk groups) and stations (agents'
phones on FXS ports), with the state the switchboard keeps for each.

A port is named by its key ``(board name, port index)``. Nothing here sends anything: the
switchboard reads and sets these and returns commands.
"""

import enum
from dataclasses import dataclass


class LineState(enum.Enum):
    IDLE = "idle"
    RINGING = "ringing"      # an inbound call rings the line; not answered yet
    IN_CALL = "in_call"      # off-hook: answered, or seized to dial out
    FAULTY = "faulty"        # rang on after the answer: left alone for a while


class StationState(enum.Enum):
    IDLE = "idle"            # on-hook, free
    RINGING = "ringing"      # we ring it for a call
    DIALING = "dialing"      # off-hook, dial tone / taking digits (`digits`)
    TALKING = "talking"      # on a call
    HOLDING = "holding"      # flashed: its caller on hold; dial tone, then a consultation
    CLEARED = "cleared"      # off-hook, the other party left: busy tone until on-hook


@dataclass(eq=False)
class Line:
    key: tuple
    trunk: object            # the appliance.config.TrunkGroup it belongs to
    state: LineState = LineState.IDLE
    call: object = None
    rings: int = 0
    ring_on: int | None = None     # tick the current ring burst started (None: no burst)
    ring_off: int | None = None    # tick the last ring burst ended
    last_ring: int = -10**9        # tick of the last ring burst (glare guard for dialling out)
    caller_id: object = None       # a CallerIdReceived that came before the first ring

    @property
    def name(self):
        return f"{self.key[0]}:{self.key[1]}"


@dataclass(eq=False)
class Station:
    key: tuple
    config: object           # the appliance.config.Station
    state: StationState = StationState.IDLE
    call: object = None      # the call it rings for or talks on
    consult: object = None   # HOLDING: the consultation call it made
    digits: str = ""         # DIALING / HOLDING: digits dialled so far

    @property
    def name(self):
        return self.config.name

    @property
    def free(self):
        return self.state is StationState.IDLE

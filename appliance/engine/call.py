"""One call through the box: who, where it is, and what the CDR will say."""

import enum
from dataclasses import dataclass, field


class CallState(enum.Enum):
    RINGING = "ringing"        # inbound, not answered yet
    IVR = "ivr"                # answered, in an IVR flow
    QUEUED = "queued"          # waiting in a queue (music on hold)
    ALERTING = "alerting"      # a station rings for it
    DIALING = "dialing"        # an outside number being dialled on a seized line
    CONNECTED = "connected"    # talking
    HELD = "held"              # the station flashed: music on hold
    RELEASING = "releasing"    # a last prompt (a callback's confirmation), then the hang-up
    ENDED = "ended"


@dataclass(eq=False, slots=True)
class Call:
    id: str
    direction: str             # "inbound", "outbound", "internal"
    start: int                 # tick
    a: object                  # the calling end: a Line (inbound) or a Station
    state: CallState = CallState.RINGING
    b: object = None           # the answering end: a Station, or a Line dialled out
    caller: str = ""
    caller_name: str = ""
    called: str = ""
    ivr: object = None         # the IvrSession while in the IVR
    ivr_path: list = field(default_factory=list)
    variables: dict = field(default_factory=dict)
    queue: object = None       # the appliance.config.Queue it waits in / came through
    queued_at: int | None = None
    priority: int = 0          # in the ACD: the IVR's, raised by VIP_PRIORITY for a VIP
    vip: bool = False          # the IVR's customer lookup found a VIP (store: customers.vip)
    agent: str | None = None
    answer: int | None = None  # tick the box answered (inbound) or the far end did
    connected: int | None = None  # tick it reached a person (station or outside)
    deadline: int | None = None   # the next tick its timer fires
    timer: str = ""               # what that timer is for
    recording: str | None = None  # the recording's name when recorded
    voicemail: tuple | None = None  # (mailbox, start tick) while leaving a message
    outside: str = ""          # the number dialled out
    transferred_from: str | None = None  # the station that transferred it
    offers: dict = field(default_factory=dict)  # agent id -> Station the ACD rings for it
    conference: dict | None = None  # host-mixed: {endpoint: mode} once a third party joined
    callback_booked: bool = False   # the caller asked for a callback: confirm, then release
    callback_of: str | None = None  # a callback call: the ACD's id of the call it calls back
    ringback: bool = False          # a callback: ringback was recognised on its line

    @property
    def ended(self):
        return self.state is CallState.ENDED

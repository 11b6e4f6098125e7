"""The validated configuration: frozen dataclasses, built only by `load_config`.

Names in the file are keys of tables (``[queues.sales]``); here each entry also carries its
`name`. Cross references (a station's board, a queue's skills) are names that `load_config`
has checked exist. Times are seconds, days are `datetime.date`, hours are minutes since
midnight in the schedule's time zone.
"""

import dataclasses
import datetime
import enum
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType


class PortKind(enum.Enum):
    FXO = "fxo"  # a line from the exchange
    FXS = "fxs"  # feeds a station (an agent's phone)
    E1 = "e1"  # one channel of an E1 span


class Direction(enum.Enum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"
    BOTH = "both"


class RecordingMode(enum.Enum):
    OFF = "off"
    ALL = "all"
    QUEUES = "queues"  # only calls through the queues listed in `recording.queues`
    ON_DEMAND = "on_demand"  # an agent or supervisor starts it


class RecordingLayout(enum.Enum):
    MIXED = "mixed"  # both parties in one channel
    STEREO = "stereo"  # caller left, agent right


class RecordingFormat(enum.Enum):
    WAV_PCM16 = "wav-pcm16"
    WAV_ALAW = "wav-alaw"
    WAV_ULAW = "wav-ulaw"
    FLAC = "flac"


WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


@dataclass(frozen=True)
class Board:
    name: str
    url: str  # a device path, socket://HOST:PORT, usb://VID:PID[/SERIAL], inprocess://NAME
    ports: str  # the port layout, e.g. "4fxo+4fxs" (the emulator's port spec)
    port_kinds: tuple[PortKind, ...]  # one per port, numbered from 0
    spans: tuple[int, ...]  # E1 span indexes present
    model: str | None  # the model the board must report (None: any)
    emulated: bool  # the box runs a virtual board with this layout behind `url`


@dataclass(frozen=True)
class TrunkGroup:
    name: str
    board: str
    kind: PortKind  # FXO (analog lines) or E1 (spans)
    ports: tuple[int, ...]  # the board's FXO ports (kind FXO)
    spans: tuple[int, ...]  # the board's E1 spans (kind E1)
    direction: Direction
    flow: str | None  # the IVR node inbound calls start at (None: ring `station`)
    station: str | None  # the station inbound calls ring when there is no flow (its name)


@dataclass(frozen=True)
class Station:
    name: str
    extension: str
    board: str
    port: int


@dataclass(frozen=True)
class EscalationStep:
    """After `after_s` seconds of waiting, a caller of the queue may also go to agents with
    at least `min_level` in each of its skills (widen), or to the agents of `queue` (a second
    queue's agents); exactly one of the two is set."""
    after_s: int
    min_level: int | None = None
    queue: str | None = None


@dataclass(frozen=True)
class Queue:
    name: str
    skills: tuple[str, ...]  # an agent needs all of them
    max_wait_s: int
    overflow: str  # "hangup", "voicemail", "queue:NAME", "station:NAME" or "flow:NODE"
    schedule: str | None  # outside its hours the queue overflows at once
    strategy: str = "longest_idle"  # the ACD's routing strategy (appliance.acd.strategies)
    priority: int = 0  # 0-9: a higher queue wins an agent both could take
    wrap_up_s: int = 0  # after-call work per call
    ring_s: int = 20  # an offer rings this long, then the next agent
    announce_s: int = 60  # place in line and expected wait, at entry and this often (0 never)
    exit_digit: str | None = None  # a waiting caller who presses it leaves to `overflow`
    # (skill, minimum level 1-10) per skill, in the file's order (a list of skills: level 1)
    skill_levels: tuple[tuple[str, int], ...] = ()
    callback_digit: str | None = None  # a waiting caller who presses it is called back
    escalation: tuple[EscalationStep, ...] = ()  # sorted by after_s


@dataclass(frozen=True)
class Agent:
    id: str
    name: str
    skills: tuple[tuple[str, int], ...]  # (skill, level 1-10), sorted by skill
    pin: str
    station: str | None  # the station (its name) the agent usually sits at
    order: int | None = None  # top-down rank, lower first (None: the file's order)
    max_no_answer: int = 2  # not ready after this many unanswered offers in a row (0 never)
    role: str = "agent"  # agent | supervisor | admin (appliance.acd.permissions.Role)
    supervises: tuple[str, ...] = ()  # a supervisor's queues


@dataclass(frozen=True)
class Schedule:
    name: str
    time_zone: str  # an IANA name, e.g. "Asia/Shanghai"
    # per weekday, Monday first: (start, end) in minutes since midnight
    hours: tuple[tuple[tuple[int, int], ...], ...]
    holidays: tuple[datetime.date, ...]


@dataclass(frozen=True)
class Recording:
    mode: RecordingMode
    queues: tuple[str, ...]
    layout: RecordingLayout
    format: RecordingFormat


@dataclass(frozen=True)
class Storage:
    data_dir: Path
    recordings_dir: Path
    prompts_dir: Path | None  # the installer's prompt files (besides the shipped ones)


@dataclass(frozen=True)
class DialPolicy:
    trunk: str | None  # the trunk group transfers to outside numbers go out on (None: none)
    allow: tuple[str, ...]  # number prefixes allowed ("" allows all)
    deny: tuple[str, ...]  # prefixes refused even when allowed (the longest match wins)
    min_digits: int
    max_digits: int

    def allows(self, number):
        """Whether a transfer may dial `number` (digits only) under this policy."""
        return self.refusal(number) is None

    def refusal(self, number):
        """None when a transfer may dial `number`, else why not, worded to follow the number
        ("'0044...' starts with '00', ..."), as appliance.ivr.parse_flows' dial_policy."""
        if self.trunk is None:
            return ("cannot be dialled: no outside transfers without dial.trunk; set it to an "
                    "outbound trunk group")
        if not number.isdigit():
            return "is not digits only"
        if not self.min_digits <= len(number) <= self.max_digits:
            return (f"has {len(number)} digits; dial.min_digits / max_digits allow "
                    f"{self.min_digits} to {self.max_digits}")
        allow = max((len(p) for p in self.allow if number.startswith(p)), default=-1)
        deny = max((len(p) for p in self.deny if number.startswith(p)), default=-1)
        if allow < 0:
            return "matches no prefix of dial.allow (" + ", ".join(self.allow) + ")"
        if deny >= allow:
            return f"starts with {number[:deny]!r}, which dial.deny refuses"
        return None


@dataclass(frozen=True)
class Config:
    source: str
    site: str
    country: str  # a country profile (appliance.drivers.profiles)
    tone_plan: str  # a tone plan (appliance.dsp.toneplan); default: the profile's
    boards: dict[str, Board]
    trunks: dict[str, TrunkGroup]
    stations: dict[str, Station]
    skills: tuple[str, ...]
    queues: dict[str, Queue]
    agents: dict[str, Agent]
    schedules: dict[str, Schedule]
    recording: Recording
    storage: Storage
    dial: DialPolicy
    ivr: object  # appliance.ivr.Flows: the IVR nodes by name
    warnings: tuple = ()  # ConfigIssues of severity "warning"

    def to_dict(self):
        """The effective configuration as JSON-ready data (enums by value, paths and dates
        as strings)."""
        return _plain({f.name: getattr(self, f.name) for f in dataclasses.fields(self)
                       if f.name != "warnings"})


def _plain(value):
    if hasattr(value, "nodes") and hasattr(value, "prompt_dirs"):  # appliance.ivr.Flows
        return _plain(dict(value.nodes))
    if dataclasses.is_dataclass(value):
        out = {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
        kind = getattr(type(value), "type", None)  # appliance.ivr's nodes: a class attribute
        return {"type": kind.value, **out} if isinstance(kind, enum.Enum) else out
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (Path, datetime.date, datetime.time)):
        return str(value) if isinstance(value, Path) else value.isoformat()
    if isinstance(value, (dict, MappingProxyType)):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value

"""What crosses the seam between the virtual board and the wire protocol, as plain objects.

Board -> host **events** (past tense) carry the board tick at which the board detected them;
each maps to one event message of voiceboard-v1 (SPEC.md section 7). Host -> board
**commands** (imperatives) map to the port-control and switching messages (sections 6 and 9);
`VirtualBoard.apply` answers each with a **reply**: `Ack`, `Rejected` (an `ErrorCode`, the
wire's ERROR code) or `LineReading`. A hook flash is answered when it is done: `apply` then
returns None and the reply comes later in a tick's `replies` as `Completed(ref, reply)`.

Units here are the engineer's (dB, V, mA, ms); the wire adapter converts them to the wire's
0.1 dB / 0.1 V / 0.1 mA.
"""

import enum
from dataclasses import dataclass


class ErrorCode(enum.IntEnum):
    """Why a command was refused; the values are voiceboard-v1's ERROR codes."""

    UNKNOWN_TYPE = 1
    BAD_PAYLOAD = 2
    BAD_PORT = 3
    WRONG_PORT_KIND = 4
    BAD_VALUE = 5
    WRONG_STATE = 6
    NO_SESSION = 7
    UNSUPPORTED_VERSION = 8
    HARDWARE_FAULT = 9
    BUSY = 10
    WRONG_DIRECTION = 11


class Alarm(enum.IntFlag):
    """E1 span alarms; the values are the ALARMS message's bits."""

    LOS = 0x01
    AIS = 0x02
    RAI = 0x04
    LOF = 0x08


# ---- events: board -> host ----------------------------------------------------------


@dataclass(frozen=True)
class RingStarted:
    """RING_ON: ringing voltage started on an FXO port (each burst of the cadence)."""

    port: int
    tick: int


@dataclass(frozen=True)
class RingStopped:
    """RING_OFF: ringing voltage stopped on an FXO port."""

    port: int
    tick: int


@dataclass(frozen=True)
class HookChanged:
    """HOOK: the station on an FXS port went off-hook (True) or on-hook (False)."""

    port: int
    off_hook: bool
    tick: int


@dataclass(frozen=True)
class PolarityChanged:
    """POLARITY: an FXO line's polarity reversed; `polarity` is the new one (0 normal)."""

    port: int
    polarity: int
    tick: int


@dataclass(frozen=True)
class LoopCurrentDropped:
    """LOOP_DROP: loop current fell away on an off-hook FXO port."""

    port: int
    tick: int


@dataclass(frozen=True)
class LoopCurrentRestored:
    """LOOP_RESTORE: loop current came back on an off-hook FXO port."""

    port: int
    tick: int


@dataclass(frozen=True)
class AlarmsChanged:
    """ALARMS: an E1 span's alarm set changed (Alarm(0) = clear); also sent per span at
    session start."""

    span: int
    alarms: Alarm
    tick: int


@dataclass(frozen=True)
class AbcdChanged:
    """ABCD: the ABCD bits received for an E1 channel changed (bits 3..0 = A..D)."""

    port: int
    abcd: int
    tick: int


# ---- commands: host -> board --------------------------------------------------------


@dataclass(frozen=True)
class OffHook:
    port: int


@dataclass(frozen=True)
class OnHook:
    port: int


@dataclass(frozen=True)
class HookFlash:
    port: int
    duration_ms: int


@dataclass(frozen=True)
class Ring:
    """Ring an FXS station with `cadence_ms`: 1-4 (on_ms, off_ms) pairs, repeated until
    StopRing or the station goes off-hook."""

    port: int
    cadence_ms: tuple[tuple[int, int], ...]


@dataclass(frozen=True)
class StopRing:
    port: int


@dataclass(frozen=True)
class SetPolarity:
    port: int
    polarity: int


@dataclass(frozen=True)
class SetGain:
    """rx_gain_db: line -> host; tx_gain_db: host -> line; each -24.0..+12.0 dB."""

    port: int
    rx_gain_db: float
    tx_gain_db: float


@dataclass(frozen=True)
class ReadLine:
    port: int


@dataclass(frozen=True)
class Connect:
    port_a: int
    port_b: int


@dataclass(frozen=True)
class Listen:
    listener: int
    source: int


@dataclass(frozen=True)
class Disconnect:
    port: int


@dataclass(frozen=True)
class SelectAudio:
    ports: frozenset


@dataclass(frozen=True)
class SetAbcd:
    port: int
    abcd: int


# ---- replies ------------------------------------------------------------------------


@dataclass(frozen=True)
class Ack:
    pass


@dataclass(frozen=True)
class Rejected:
    code: ErrorCode
    reason: str = ""


@dataclass(frozen=True)
class LineReading:
    """Tip-ring voltage (signed: the sign is the polarity) and loop current."""

    port: int
    voltage_v: float
    current_ma: float


@dataclass(frozen=True)
class Completed:
    """A reply that came after the command (a hook flash, once done); `ref` is what the
    host passed to `apply` (the wire adapter passes the command's seq)."""

    ref: object
    reply: object

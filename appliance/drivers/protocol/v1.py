"""voiceboard-v1 on the wire: constants, enums and the construct schema of every message.

The normative text is ``firmware-protocols/voiceboard-v1/SPEC.md``; section numbers below
refer to it. This module describes bytes and nothing else: ``FRAME`` is the frame of
section 2 (sync, header CRC, payload, frame CRC), ``PAYLOADS`` maps every message type of
section 4 to the ``Struct`` of its payload. Every payload ``Struct`` ends in ``Terminated``
and checks the wire ranges of section 4, on parse and on build alike, so a payload that does
not match its type exactly fails in both directions. The typed messages live in
``messages.py``; the stream codec in ``codec.py``.
"""

import binascii
import enum

from construct import (
    Bytes,
    Check,
    Checksum,
    Const,
    Int8ul,
    Int16sl,
    Int16ul,
    Int32ul,
    Int64ul,
    PascalString,
    PrefixedArray,
    RawCopy,
    Rebuild,
    Struct,
    Terminated,
    Validator,
    len_,
    this,
)

# --- Section 2: the frame ---------------------------------------------------------------
SYNC = b"VB"
VERSION = 1
HEADER_SIZE = 10           # sync, version, type, seq, length, header_crc
CRC_SIZE = 2
OVERHEAD = HEADER_SIZE + CRC_SIZE
MAX_PORTS = 64
TICK_MS = 20
TICK_SAMPLES = 160         # G.711 bytes per port per tick
AUDIO_HEADER_SIZE = 12     # u32 tick, u64 port_mask
MAX_PAYLOAD = AUDIO_HEADER_SIZE + MAX_PORTS * TICK_SAMPLES   # 10252
MAX_FRAME = MAX_PAYLOAD + OVERHEAD                           # 10264

# --- Section 5 and 8: timing -------------------------------------------------------------
KEEPALIVE_INTERVAL_MS = 200
LOSS_TIMEOUT_MS = 1000
HELLO_RETRY_MS = 500
PLAYOUT_DELAY_TICKS = 2
MAX_LEAD_TICKS = 8

NO_PORT = 0xFF             # ERROR.port when the error names no port
ANALOG_SPAN = 0xFF         # CAPABILITIES span of an analog port


def crc16(data):
    """CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF, no reflection): ``crc16(b"123456789")``
    is 0x29B1."""
    return binascii.crc_hqx(data, 0xFFFF)


class Direction(enum.Enum):
    """Which way a message type flows (section 4)."""

    HOST_TO_BOARD = "h2b"
    BOARD_TO_HOST = "b2h"
    BOTH = "both"


class MessageType(enum.IntEnum):
    """The ``type`` byte (section 4). Every other value is reserved."""

    HELLO = 0x01
    CAPABILITIES = 0x02
    KEEPALIVE = 0x03
    RESET = 0x04
    OFF_HOOK = 0x10
    ON_HOOK = 0x11
    HOOK_FLASH = 0x12
    RING = 0x13
    STOP_RING = 0x14
    SET_POLARITY = 0x15
    SET_GAIN = 0x16
    READ_LINE = 0x17
    CONNECT = 0x18
    LISTEN = 0x19
    DISCONNECT = 0x1A
    SELECT_AUDIO = 0x1B
    SET_ABCD = 0x1C
    ACK = 0x40
    ERROR = 0x41
    RING_ON = 0x42
    RING_OFF = 0x43
    HOOK = 0x44
    POLARITY = 0x45
    LOOP_DROP = 0x46
    LOOP_RESTORE = 0x47
    LINE_READING = 0x48
    ALARMS = 0x49
    ABCD = 0x4A
    AUDIO_RX = 0x70
    AUDIO_TX = 0x71


class PortKind(enum.IntEnum):
    FXO = 1     # a line to the exchange
    FXS = 2     # feeds a station
    E1 = 3      # one channel (timeslot) of an E1 span


class Law(enum.IntEnum):
    ALAW = 1
    ULAW = 2


IDLE_CODE = {Law.ALAW: 0xD5, Law.ULAW: 0xFF}   # section 8: what a port plays with no audio


class Polarity(enum.IntEnum):
    NORMAL = 0
    REVERSED = 1


class Alarm(enum.IntFlag):
    """E1 span alarm bits (section 7); ``Alarm(0)`` is a clear span."""

    LOS = 0x01
    AIS = 0x02
    RAI = 0x04
    LOF = 0x08


class ErrorCode(enum.IntEnum):
    """ERROR codes (section 7)."""

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


# --- Field types with their wire ranges -------------------------------------------------
class InRange(Validator):
    """An integer field that must lie in ``lo..hi`` (inclusive), checked on parse and build."""

    def __init__(self, subcon, lo, hi):
        super().__init__(subcon)
        self.lo = lo
        self.hi = hi

    def _validate(self, obj, context, path):
        return isinstance(obj, int) and self.lo <= obj <= self.hi


class OneOfInts(Validator):
    """An integer field restricted to a set of values (an IntEnum's, usually)."""

    def __init__(self, subcon, values):
        super().__init__(subcon)
        self.values = frozenset(int(v) for v in values)

    def _validate(self, obj, context, path):
        return isinstance(obj, int) and obj in self.values


Port = InRange(Int8ul, 0, MAX_PORTS - 1)
Tick = Int32ul
Seq = Int16ul
Flag = InRange(Int8ul, 0, 1)
Abcd = InRange(Int8ul, 0, 15)
Gain = InRange(Int16sl, -240, 120)          # 0.1 dB: -24.0 .. +12.0 dB
Text = PascalString(Int8ul, "utf8")
E1_TIMESLOTS = frozenset(range(1, 16)) | frozenset(range(17, 32))


def _port_entry_consistent(this):
    if this.kind == PortKind.E1:
        return this.span <= 7 and this.timeslot in E1_TIMESLOTS
    return this.span == ANALOG_SPAN and this.timeslot == 0


PortEntry = Struct(
    "kind" / OneOfInts(Int8ul, PortKind),
    "law" / OneOfInts(Int8ul, Law),
    "span" / Int8ul,
    "timeslot" / Int8ul,
    Check(_port_entry_consistent),
)

CadenceStep = Struct(
    "on_ms" / InRange(Int16ul, 1, 10000),
    "off_ms" / InRange(Int16ul, 0, 10000),
)


def _popcount(mask):
    return int(mask).bit_count()


def _audio():
    return Struct(
        "tick" / Tick,
        "port_mask" / Int64ul,
        "samples" / Bytes(lambda this: TICK_SAMPLES * _popcount(this.port_mask)),
        Terminated,
    )


def _port_only():
    return Struct("port" / Port, Terminated)


def _port_tick():
    return Struct("port" / Port, "tick" / Tick, Terminated)


PAYLOADS = {
    MessageType.HELLO: Struct("session" / Int32ul, Terminated),
    MessageType.CAPABILITIES: Struct(
        "session" / Int32ul,
        "model" / Text,
        "fw_major" / Int8ul,
        "fw_minor" / Int8ul,
        "fw_patch" / Int8ul,
        "serial" / Text,
        "tick" / Tick,
        "ports" / PrefixedArray(InRange(Int8ul, 1, MAX_PORTS), PortEntry),
        Terminated,
    ),
    MessageType.KEEPALIVE: Struct("tick" / Tick, Terminated),
    MessageType.RESET: Struct(Terminated),
    MessageType.OFF_HOOK: _port_only(),
    MessageType.ON_HOOK: _port_only(),
    MessageType.HOOK_FLASH: Struct(
        "port" / Port, "duration_ms" / InRange(Int16ul, 50, 2000), Terminated),
    MessageType.RING: Struct(
        "port" / Port,
        "cadence" / PrefixedArray(InRange(Int8ul, 1, 4), CadenceStep),
        Terminated,
    ),
    MessageType.STOP_RING: _port_only(),
    MessageType.SET_POLARITY: Struct(
        "port" / Port, "polarity" / OneOfInts(Int8ul, Polarity), Terminated),
    MessageType.SET_GAIN: Struct(
        "port" / Port, "rx_gain" / Gain, "tx_gain" / Gain, Terminated),
    MessageType.READ_LINE: _port_only(),
    MessageType.CONNECT: Struct(
        "port_a" / Port, "port_b" / Port, Check(this.port_a != this.port_b), Terminated),
    MessageType.LISTEN: Struct(
        "listener" / Port, "source" / Port, Check(this.listener != this.source), Terminated),
    MessageType.DISCONNECT: _port_only(),
    MessageType.SELECT_AUDIO: Struct("port_mask" / Int64ul, Terminated),
    MessageType.SET_ABCD: Struct("port" / Port, "abcd" / Abcd, Terminated),
    MessageType.ACK: Struct("ref_seq" / Seq, Terminated),
    MessageType.ERROR: Struct(
        "ref_seq" / Seq,
        "code" / OneOfInts(Int8ul, ErrorCode),
        "port" / OneOfInts(Int8ul, list(range(MAX_PORTS)) + [NO_PORT]),
        Terminated,
    ),
    MessageType.RING_ON: _port_tick(),
    MessageType.RING_OFF: _port_tick(),
    MessageType.HOOK: Struct("port" / Port, "off_hook" / Flag, "tick" / Tick, Terminated),
    MessageType.POLARITY: Struct(
        "port" / Port, "polarity" / OneOfInts(Int8ul, Polarity), "tick" / Tick, Terminated),
    MessageType.LOOP_DROP: _port_tick(),
    MessageType.LOOP_RESTORE: _port_tick(),
    MessageType.LINE_READING: Struct(
        "ref_seq" / Seq, "port" / Port, "voltage" / Int16sl, "current" / Int16sl, Terminated),
    MessageType.ALARMS: Struct(
        "span" / InRange(Int8ul, 0, 7), "alarms" / InRange(Int8ul, 0, 15), "tick" / Tick,
        Terminated),
    MessageType.ABCD: Struct("port" / Port, "abcd" / Abcd, "tick" / Tick, Terminated),
    MessageType.AUDIO_RX: _audio(),
    MessageType.AUDIO_TX: _audio(),
}

_H2B = Direction.HOST_TO_BOARD
_B2H = Direction.BOARD_TO_HOST
DIRECTIONS = {
    MessageType.HELLO: _H2B,
    MessageType.CAPABILITIES: _B2H,
    MessageType.KEEPALIVE: Direction.BOTH,
    MessageType.AUDIO_RX: _B2H,
    MessageType.AUDIO_TX: _H2B,
}
for _t in MessageType:
    DIRECTIONS.setdefault(_t, _H2B if _t < 0x40 else _B2H)
del _t

# --- The whole frame, as construct sees it ----------------------------------------------
HEADER = Struct(
    "sync" / Const(SYNC),
    "version" / Int8ul,
    "type" / Int8ul,
    "seq" / Seq,
    "length" / Rebuild(InRange(Int16ul, 0, MAX_PAYLOAD), len_(this._.payload)),
)

FRAME = Struct(
    "body" / RawCopy(Struct(
        "header" / RawCopy(HEADER),
        "header_crc" / Checksum(Int16ul, crc16, this.header.data),
        "payload" / Bytes(this.header.value.length),
    )),
    "crc" / Checksum(Int16ul, crc16, this.body.data),
)
"""Section 2. Build with ``FRAME.build(frame_container(version, type, seq, payload))``; a
parse checks both CRCs and the length limit (``ChecksumError`` / ``ValidationError``)."""


def frame_container(version, type, seq, payload):
    """The object ``FRAME.build`` takes for one frame."""
    return {"body": {"value": {
        "header": {"value": {"version": version, "type": type, "seq": seq}},
        "payload": payload,
    }}}

"""Typed voiceboard-v1 messages: one frozen dataclass per message type of SPEC section 4.

The class names follow the SPEC's message names, so a reader can go from the wire table to
the code and back; the Board layer turns the board's messages into the engine's events
(``HookChanged``, ``RingStarted`` ...). Field names are the SPEC's, units the wire's (ms, 0.1
dB, 0.1 V, 0.1 mA, ticks). Enumerated fields are coerced to their ``IntEnum`` on
construction. Ranges are checked once, by the construct schemas in ``v1.py``, when a message
is encoded (``LocalProtocolError``) or decoded (a bad payload).

``Frame`` pairs a message with the sender's sequence number.
"""

import dataclasses
from dataclasses import dataclass
from typing import ClassVar

from .errors import LocalProtocolError
from .v1 import (
    DIRECTIONS,
    MAX_PORTS,
    NO_PORT,
    TICK_SAMPLES,
    VERSION,
    Alarm,
    Direction,
    ErrorCode,
    Law,
    MessageType,
    Polarity,
    PortKind,
)

MESSAGE_CLASSES = {}
"""``MessageType`` -> the dataclass for it."""


class Message:
    """Base of every message. ``TYPE`` is its ``MessageType``, ``DIRECTION`` its flow."""

    __slots__ = ()
    TYPE: ClassVar[MessageType]
    DIRECTION: ClassVar[Direction]
    _ENUMS: ClassVar[dict] = {}

    def __post_init__(self):
        for name, enum_type in self._ENUMS.items():
            value = getattr(self, name)
            if not isinstance(value, enum_type):
                try:
                    value = enum_type(value)
                except (ValueError, TypeError) as exc:
                    raise LocalProtocolError(
                        f"{type(self).__name__}.{name}: {value!r} is not a "
                        f"{enum_type.__name__}") from exc
                object.__setattr__(self, name, value)

    # Conversion to and from the construct containers of v1.PAYLOADS. The default maps
    # dataclass fields one to one; messages with nested layouts override both.
    def to_payload(self):
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    @classmethod
    def from_payload(cls, c):
        return cls(**{f.name: c[f.name] for f in dataclasses.fields(cls)})


def _message(cls):
    """Make ``cls`` a frozen, slotted dataclass and register it under its ``TYPE``."""
    cls = dataclass(frozen=True, slots=True)(cls)
    cls.DIRECTION = DIRECTIONS[cls.TYPE]
    MESSAGE_CLASSES[cls.TYPE] = cls
    return cls


# --- Session --------------------------------------------------------------------------------
@_message
class Hello(Message):
    TYPE = MessageType.HELLO
    session: int


@dataclass(frozen=True, slots=True)
class PortInfo:
    """One row of the CAPABILITIES port table (SPEC 5.1)."""

    kind: PortKind
    law: Law
    span: int = 0xFF
    timeslot: int = 0

    def __post_init__(self):
        try:
            object.__setattr__(self, "kind", PortKind(self.kind))
            object.__setattr__(self, "law", Law(self.law))
        except ValueError as exc:
            raise LocalProtocolError(f"PortInfo: {exc}") from exc

    @classmethod
    def fxo(cls, law=Law.ALAW):
        return cls(PortKind.FXO, law)

    @classmethod
    def fxs(cls, law=Law.ALAW):
        return cls(PortKind.FXS, law)

    @classmethod
    def e1_span(cls, span, law=Law.ALAW):
        """The 30 ports of one E1 span, timeslots 1..15 and 17..31 in order."""
        slots = [*range(1, 16), *range(17, 32)]
        return tuple(cls(PortKind.E1, law, span, ts) for ts in slots)


@dataclass(frozen=True, slots=True, order=True)
class FirmwareVersion:
    major: int
    minor: int
    patch: int

    def __str__(self):
        return f"{self.major}.{self.minor}.{self.patch}"


@_message
class Capabilities(Message):
    TYPE = MessageType.CAPABILITIES
    session: int
    model: str
    firmware: FirmwareVersion
    serial: str
    tick: int
    ports: tuple

    def __post_init__(self):
        if not isinstance(self.firmware, FirmwareVersion):
            object.__setattr__(self, "firmware", FirmwareVersion(*self.firmware))
        object.__setattr__(self, "ports", tuple(
            p if isinstance(p, PortInfo) else PortInfo(*p) for p in self.ports))

    def to_payload(self):
        return {
            "session": self.session, "model": self.model,
            "fw_major": self.firmware.major, "fw_minor": self.firmware.minor,
            "fw_patch": self.firmware.patch, "serial": self.serial, "tick": self.tick,
            "ports": [{"kind": int(p.kind), "law": int(p.law), "span": p.span,
                       "timeslot": p.timeslot} for p in self.ports],
        }

    @classmethod
    def from_payload(cls, c):
        return cls(
            session=c.session, model=c.model,
            firmware=FirmwareVersion(c.fw_major, c.fw_minor, c.fw_patch),
            serial=c.serial, tick=c.tick,
            ports=tuple(PortInfo(PortKind(p.kind), Law(p.law), p.span, p.timeslot)
                        for p in c.ports),
        )


@_message
class Keepalive(Message):
    TYPE = MessageType.KEEPALIVE
    tick: int


@_message
class Reset(Message):
    TYPE = MessageType.RESET


# --- Port control (host -> board) -----------------------------------------------------------
@_message
class OffHook(Message):
    TYPE = MessageType.OFF_HOOK
    port: int


@_message
class OnHook(Message):
    TYPE = MessageType.ON_HOOK
    port: int


@_message
class HookFlash(Message):
    TYPE = MessageType.HOOK_FLASH
    port: int
    duration_ms: int


@_message
class Ring(Message):
    """Ring an FXS station; ``cadence`` is 1..4 ``(on_ms, off_ms)`` pairs, repeated."""

    TYPE = MessageType.RING
    port: int
    cadence: tuple

    def __post_init__(self):
        object.__setattr__(self, "cadence", tuple(tuple(step) for step in self.cadence))

    def to_payload(self):
        return {"port": self.port,
                "cadence": [{"on_ms": on, "off_ms": off} for on, off in self.cadence]}

    @classmethod
    def from_payload(cls, c):
        return cls(c.port, tuple((s.on_ms, s.off_ms) for s in c.cadence))


@_message
class StopRing(Message):
    TYPE = MessageType.STOP_RING
    port: int


@_message
class SetPolarity(Message):
    TYPE = MessageType.SET_POLARITY
    _ENUMS = {"polarity": Polarity}
    port: int
    polarity: Polarity


@_message
class SetGain(Message):
    """Per-port gains in 0.1 dB: ``rx_gain`` line -> host, ``tx_gain`` host -> line."""

    TYPE = MessageType.SET_GAIN
    port: int
    rx_gain: int
    tx_gain: int


@_message
class ReadLine(Message):
    TYPE = MessageType.READ_LINE
    port: int


@_message
class Connect(Message):
    """Switch ``port_a`` and ``port_b`` together both ways (SPEC 9)."""

    TYPE = MessageType.CONNECT
    port_a: int
    port_b: int


@_message
class Listen(Message):
    """``listener`` hears ``source`` one-way (SPEC 9)."""

    TYPE = MessageType.LISTEN
    listener: int
    source: int


@_message
class Disconnect(Message):
    TYPE = MessageType.DISCONNECT
    port: int


@_message
class SelectAudio(Message):
    TYPE = MessageType.SELECT_AUDIO
    port_mask: int

    @classmethod
    def of(cls, ports):
        return cls(ports_to_mask(ports))


@_message
class SetAbcd(Message):
    TYPE = MessageType.SET_ABCD
    port: int
    abcd: int


# --- Board -> host: answers and events ------------------------------------------------------
@_message
class Ack(Message):
    TYPE = MessageType.ACK
    ref_seq: int


@_message
class Error(Message):
    """The board refused the frame ``ref_seq``; ``port`` is ``NO_PORT`` when none applies."""

    TYPE = MessageType.ERROR
    _ENUMS = {"code": ErrorCode}
    ref_seq: int
    code: ErrorCode
    port: int = NO_PORT


@_message
class RingOn(Message):
    TYPE = MessageType.RING_ON
    port: int
    tick: int


@_message
class RingOff(Message):
    TYPE = MessageType.RING_OFF
    port: int
    tick: int


@_message
class Hook(Message):
    TYPE = MessageType.HOOK
    port: int
    off_hook: bool
    tick: int

    def __post_init__(self):
        if self.off_hook in (0, 1):
            object.__setattr__(self, "off_hook", bool(self.off_hook))

    def to_payload(self):
        off_hook = int(self.off_hook) if isinstance(self.off_hook, bool) else self.off_hook
        return {"port": self.port, "off_hook": off_hook, "tick": self.tick}


@_message
class PolarityChange(Message):
    """The POLARITY event: the FXO line's polarity is now ``polarity``."""

    TYPE = MessageType.POLARITY
    _ENUMS = {"polarity": Polarity}
    port: int
    polarity: Polarity
    tick: int


@_message
class LoopDrop(Message):
    TYPE = MessageType.LOOP_DROP
    port: int
    tick: int


@_message
class LoopRestore(Message):
    TYPE = MessageType.LOOP_RESTORE
    port: int
    tick: int


@_message
class LineReading(Message):
    """Answer to READ_LINE: tip-ring ``voltage`` in 0.1 V (signed), loop ``current`` in 0.1 mA."""

    TYPE = MessageType.LINE_READING
    ref_seq: int
    port: int
    voltage: int
    current: int


@_message
class Alarms(Message):
    TYPE = MessageType.ALARMS
    _ENUMS = {"alarms": Alarm}
    span: int
    alarms: Alarm
    tick: int


@_message
class Abcd(Message):
    TYPE = MessageType.ABCD
    port: int
    abcd: int
    tick: int


# --- Audio ----------------------------------------------------------------------------------
def ports_to_mask(ports):
    mask = 0
    for p in ports:
        if not 0 <= p < MAX_PORTS:
            raise LocalProtocolError(f"port {p} is not in 0..{MAX_PORTS - 1}")
        mask |= 1 << p
    return mask


def mask_to_ports(mask):
    """The ports of a mask, ascending."""
    ports = []
    while mask:
        low = mask & -mask
        ports.append(low.bit_length() - 1)
        mask ^= low
    return tuple(ports)


class _Audio(Message):
    """One tick of G.711 for every port in ``port_mask``: ``samples`` holds 160 bytes per port,
    ports ascending (SPEC 8)."""

    __slots__ = ()

    @classmethod
    def from_ports(cls, tick, audio):
        """Build from ``{port: 160 G.711 bytes}``."""
        mask = ports_to_mask(audio)
        samples = b"".join(bytes(audio[p]) for p in mask_to_ports(mask))
        return cls(tick, mask, samples)

    @property
    def ports(self):
        return mask_to_ports(self.port_mask)

    def port_audio(self, port):
        """The 160 bytes of ``port`` (KeyError if the port is not in the frame)."""
        if not (0 <= port < MAX_PORTS and (self.port_mask >> port) & 1):
            raise KeyError(port)
        index = (self.port_mask & ((1 << port) - 1)).bit_count()
        return self.samples[index * TICK_SAMPLES:(index + 1) * TICK_SAMPLES]

    def as_array(self):
        """A read-only ``uint8`` numpy view of shape ``(ports, 160)``."""
        import numpy as np
        return np.frombuffer(self.samples, dtype=np.uint8).reshape(-1, TICK_SAMPLES)

    def to_payload(self):
        return {"tick": self.tick, "port_mask": self.port_mask, "samples": self.samples}

    @classmethod
    def from_payload(cls, c):
        return cls(c.tick, c.port_mask, c.samples)


@_message
class AudioRx(_Audio):
    TYPE = MessageType.AUDIO_RX
    tick: int
    port_mask: int
    samples: bytes


@_message
class AudioTx(_Audio):
    TYPE = MessageType.AUDIO_TX
    tick: int
    port_mask: int
    samples: bytes


# --- Frame ----------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Frame:
    """One delivered (or to-be-sent) frame: the sender's ``seq`` and the message."""

    seq: int
    message: Message
    version: int = VERSION

    @property
    def type(self):
        return self.message.TYPE


def message_from_payload(mtype, container):
    return MESSAGE_CLASSES[mtype].from_payload(container)


if set(MESSAGE_CLASSES) != set(MessageType):
    raise ImportError("voiceboard-v1: a message type lacks its class")

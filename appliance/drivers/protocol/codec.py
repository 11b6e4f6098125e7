"""The sans-I/O voiceboard-v1 codec: bytes in, frames out; messages in, bytes out.

``Codec(Role.HOST)`` is the host's end of a link, ``Codec(Role.BOARD)`` the board's. It
knows no sockets, threads, asyncio or clock (model: h11's ``Connection``):

    codec = Codec(Role.HOST)
    wire = codec.encode(Hello(session=7))        # bytes to write; codec.last_seq == 0
    for event in codec.feed(data_read):          # Frame or RemoteProtocolError, in order
        ...

``feed`` applies the receive rules of SPEC section 3 to the bytes in order and returns what
they yield: a ``Frame`` for each message delivered and a ``RemoteProtocolError`` for each
discard. It never raises on input, whatever the bytes, and its buffer never holds more than
``2 x MAX_FRAME`` bytes however large the chunk fed. Its result depends only on the bytes,
not on how they were split: feeding a stream whole or a byte at a time gives the same list
(consecutive garbage discards are reported as one ``GARBAGE`` error when the run ends, i.e.
when the next header with a good CRC is seen; ``pending_garbage`` holds the open run).
``stats`` counts everything.

``encode`` raises ``LocalProtocolError`` for a message that is not valid v1 or that does
not flow from this role; nothing else.
"""

import binascii
import enum
import struct
from dataclasses import dataclass, field

from construct import ConstructError

from .errors import Fault, LocalProtocolError, RemoteProtocolError
from .messages import MESSAGE_CLASSES, Error, Frame, Message
from .v1 import (
    CRC_SIZE,
    HEADER_SIZE,
    MAX_FRAME,
    MAX_PAYLOAD,
    OVERHEAD,
    PAYLOADS,
    SYNC,
    VERSION,
    Direction,
    ErrorCode,
    MessageType,
    crc16,
)

_HEADER = struct.Struct("<2sBBHH")   # sync, version, type, seq, length
_U16 = struct.Struct("<H")
_SYNC0 = SYNC[0]
_KNOWN_TYPES = frozenset(int(t) for t in MessageType)
# What a construct parse of arbitrary bytes may raise: its own errors, and a bad UTF-8 string.
_PARSE_ERRORS = (ConstructError, UnicodeDecodeError)


class Role(enum.Enum):
    """Which end of the link a codec is. It decides which types may be sent and received."""

    HOST = "host"
    BOARD = "board"

    @property
    def sends(self):
        return Direction.HOST_TO_BOARD if self is Role.HOST else Direction.BOARD_TO_HOST

    @property
    def receives(self):
        return Direction.BOARD_TO_HOST if self is Role.HOST else Direction.HOST_TO_BOARD

    @property
    def session_start(self):
        """The message that restarts this role's ``seq`` at 0 (SPEC 2, ``seq``)."""
        return MessageType.HELLO if self is Role.HOST else MessageType.CAPABILITIES


@dataclass
class CodecStats:
    """Counters of one codec. ``errors`` and ``discarded_bytes`` are keyed by ``Fault``."""

    bytes_in: int = 0
    frames_in: int = 0
    bytes_out: int = 0
    frames_out: int = 0
    errors: dict = field(default_factory=lambda: {f: 0 for f in Fault})
    discarded_bytes: dict = field(default_factory=lambda: {f: 0 for f in Fault})

    @property
    def total_errors(self):
        return sum(self.errors.values())


def payload_bytes(message):
    """The payload of ``message`` (LocalProtocolError if it breaks a v1 wire rule)."""
    try:
        return PAYLOADS[message.TYPE].build(message.to_payload())
    except (ConstructError, KeyError, TypeError, ValueError, AttributeError) as exc:
        raise LocalProtocolError(f"{type(message).__name__} is not valid v1: {exc}") from exc


def encode_frame(frame):
    """The bytes of ``frame`` (any direction; ``Codec.encode`` adds the direction check)."""
    if not isinstance(frame, Frame) or not isinstance(frame.message, Message):
        raise LocalProtocolError(f"not a Frame of a v1 message: {frame!r}")
    if not (isinstance(frame.seq, int) and 0 <= frame.seq <= 0xFFFF):
        raise LocalProtocolError(f"seq {frame.seq!r} is not a u16")
    if not (isinstance(frame.version, int) and 0 <= frame.version <= 0xFF):
        raise LocalProtocolError(f"version {frame.version!r} is not a u8")
    return _pack(frame.version, frame.message.TYPE, frame.seq, payload_bytes(frame.message))


def _pack(version, mtype, seq, payload):
    if len(payload) > MAX_PAYLOAD:
        raise LocalProtocolError(f"payload of {len(payload)} bytes exceeds {MAX_PAYLOAD}")
    header = _HEADER.pack(SYNC, version, mtype, seq, len(payload))
    head = header + _U16.pack(crc16(header))
    crc = binascii.crc_hqx(payload, crc16(head))     # CRC of head + payload, no copy
    return b"".join((head, payload, _U16.pack(crc)))


def decode_payload(mtype, payload):
    """The message of type ``mtype`` carried by ``payload``; raises ConstructError or
    UnicodeDecodeError when the payload does not match the type's layout."""
    container = PAYLOADS[mtype].parse(payload)
    return MESSAGE_CLASSES[mtype].from_payload(container)


class Codec:
    """One end of a voiceboard-v1 link, without I/O. See the module doc."""

    MAX_BUFFER = 2 * MAX_FRAME

    def __init__(self, role):
        if not isinstance(role, Role):
            raise TypeError(f"role must be a Role, not {role!r}")
        self.role = role
        self.stats = CodecStats()
        self._buf = bytearray()
        self._garbage = 0          # bytes in the open garbage run
        self._next_seq = 0
        self.last_seq = None       # seq of the last frame encode() numbered
        self._reset_scan()

    # --- sending ------------------------------------------------------------------------
    @property
    def next_seq(self):
        """The ``seq`` the next message will get (a session-start message resets it to 0)."""
        return self._next_seq

    def encode(self, item):
        """Bytes for a ``Message`` (numbered with this end's ``seq`` counter) or for a
        ``Frame`` (sent with its own ``seq``; the counter is left alone)."""
        message = item.message if isinstance(item, Frame) else item
        if not isinstance(message, Message):
            raise LocalProtocolError(f"not a v1 message: {item!r}")
        if message.DIRECTION not in (self.role.sends, Direction.BOTH):
            raise LocalProtocolError(
                f"{type(message).__name__} flows {message.DIRECTION.value}; "
                f"a {self.role.value} cannot send it")
        if isinstance(item, Frame):
            data = encode_frame(item)
        else:
            payload = payload_bytes(message)
            seq = 0 if message.TYPE == self.role.session_start else self._next_seq
            data = _pack(VERSION, message.TYPE, seq, payload)
            self.last_seq = seq
            self._next_seq = (seq + 1) & 0xFFFF
        self.stats.frames_out += 1
        self.stats.bytes_out += len(data)
        return data

    # --- receiving ----------------------------------------------------------------------
    @property
    def buffered(self):
        """Bytes held waiting for the rest of a frame (at most ``MAX_BUFFER``)."""
        return len(self._buf)

    @property
    def pending_garbage(self):
        """Garbage bytes discarded in the run that is still open (not yet reported)."""
        return self._garbage

    def feed(self, data):
        """Take bytes from the peer; return the ``Frame``s and ``RemoteProtocolError``s they
        complete, in stream order. Never raises for any content of ``data``."""
        data = memoryview(data).cast("B")
        self.stats.bytes_in += len(data)
        out = []
        start = 0
        while start < len(data):
            # After _process the buffer holds less than MAX_FRAME bytes (it only ever waits
            # for one frame), so topping it up to MAX_BUFFER keeps it bounded.
            room = self.MAX_BUFFER - len(self._buf)
            self._buf += data[start:start + room]
            start += room
            self._process(out)
        return out

    def _reset_scan(self):
        self._scan = 1             # next offset to look at for an inner frame (rule 4)
        self._inner = []           # (end, start) of inner frames whose header passed 2-3

    def _discard(self, out, fault, k):
        del self._buf[:k]
        self._reset_scan()
        if fault is Fault.GARBAGE:
            self._garbage += k
            return
        self._close_garbage(out)
        self._count(fault, k)
        out.append(RemoteProtocolError(fault, k))

    def _close_garbage(self, out):
        if self._garbage:
            self._count(Fault.GARBAGE, self._garbage)
            out.append(RemoteProtocolError(Fault.GARBAGE, self._garbage))
            self._garbage = 0

    def _count(self, fault, k):
        self.stats.errors[fault] += 1
        self.stats.discarded_bytes[fault] += k

    def _process(self, out):
        buf = self._buf
        while buf:
            n = len(buf)
            # Rule 1: the buffer must start with the sync bytes.
            if buf[0] != _SYNC0 or n < 2 or buf[1] != SYNC[1]:
                if n < 2 and buf[0] == _SYNC0:
                    return
                i = buf.find(SYNC, 1)
                if i < 0:
                    i = n - 1 if buf[-1] == _SYNC0 else n
                self._discard(out, Fault.GARBAGE, i)
                continue
            # Rule 2: a header with a good CRC.
            if n < HEADER_SIZE:
                return
            if _U16.unpack_from(buf, 8)[0] != crc16(buf[:8]):
                self._discard(out, Fault.GARBAGE, 1)
                continue
            self._close_garbage(out)
            length = _U16.unpack_from(buf, 6)[0]
            # Rule 3: a length that cannot be.
            if length > MAX_PAYLOAD:
                self._discard(out, Fault.OVERSIZE, 1)
                continue
            extent = OVERHEAD + length
            # Rule 4: a complete sound frame inside the extent means this one was torn.
            j = self._torn_at(extent, n)
            if j:
                self._discard(out, Fault.TORN, j)
                continue
            # Rule 5: the frame CRC.
            if n < extent:
                return
            if _U16.unpack_from(buf, extent - CRC_SIZE)[0] != crc16(buf[:extent - CRC_SIZE]):
                self._discard(out, Fault.BAD_CRC, 1)
                continue
            # Rule 6: a sound frame; consume it whatever its content.
            _, version, mtype, seq, _ = _HEADER.unpack_from(buf)
            payload = bytes(buf[HEADER_SIZE:extent - CRC_SIZE])
            del buf[:extent]
            self._reset_scan()
            self.stats.frames_in += 1
            out.append(self._classify(version, mtype, seq, payload, extent))

    def _torn_at(self, extent, n):
        """Rule 4: the offset of the inner frame that makes the front frame torn, or 0.

        Incremental: inner headers found so far are remembered until the front frame
        changes, so feeding a frame a byte at a time costs O(extent), not O(extent**2)."""
        buf = self._buf
        limit = min(n, extent)
        j = self._scan
        while True:
            j = buf.find(SYNC, j, limit)
            if j < 0:
                self._scan = max(self._scan, limit - 1)
                break
            if j + HEADER_SIZE > n:
                self._scan = j
                break
            if _U16.unpack_from(buf, j + 8)[0] == crc16(buf[j:j + 8]):
                length = _U16.unpack_from(buf, j + 6)[0]
                end = j + OVERHEAD + length
                if length <= MAX_PAYLOAD and end <= extent:
                    self._inner.append((end, j))
            j += 1
            self._scan = j
        best = None
        waiting = []
        for end, start in self._inner:
            if end > n:
                waiting.append((end, start))
            elif (_U16.unpack_from(buf, end - CRC_SIZE)[0] == crc16(buf[start:end - CRC_SIZE])
                  and (best is None or (end, start) < best)):
                best = (end, start)
        self._inner = waiting
        return best[1] if best else 0

    def _classify(self, version, mtype, seq, payload, extent):
        def fault(kind, detail=""):
            self._count(kind, extent)
            return RemoteProtocolError(kind, extent, seq=seq, type=mtype, detail=detail)

        if version != VERSION:
            return fault(Fault.BAD_VERSION, f"version {version}")
        if mtype not in _KNOWN_TYPES:
            return fault(Fault.UNKNOWN_TYPE)
        mtype = MessageType(mtype)
        direction = MESSAGE_CLASSES[mtype].DIRECTION
        if direction not in (self.role.receives, Direction.BOTH):
            return fault(Fault.WRONG_DIRECTION, f"{mtype.name} flows {direction.value}")
        try:
            message = decode_payload(mtype, payload)
        except _PARSE_ERRORS as exc:
            return fault(Fault.BAD_PAYLOAD, f"{mtype.name}: {exc}".splitlines()[0])
        return Frame(seq, message, version)


_ERROR_FOR_FAULT = {
    Fault.BAD_VERSION: ErrorCode.UNSUPPORTED_VERSION,
    Fault.UNKNOWN_TYPE: ErrorCode.UNKNOWN_TYPE,
    Fault.WRONG_DIRECTION: ErrorCode.WRONG_DIRECTION,
    Fault.BAD_PAYLOAD: ErrorCode.BAD_PAYLOAD,
}


def error_reply(event):
    """The ERROR a board sends for a discarded frame (SPEC 3: sound frames failing rule 6),
    or None when the event is not answered (garbage, oversize, torn, bad CRC)."""
    code = _ERROR_FOR_FAULT.get(getattr(event, "fault", None))
    if code is None or event.seq is None:
        return None
    return Error(event.seq, code)


def decode_frame(data, role=None):
    """Decode exactly one frame (tests, vectors, tools): returns the ``Frame``, or raises
    ``RemoteProtocolError`` with the first fault the codec reports. ``role``: the receiving
    end (default: whichever end ``data``'s type flows to)."""
    if role is None:
        role = Role.HOST
        if len(data) > 3 and data[3] in _KNOWN_TYPES:
            direction = MESSAGE_CLASSES[MessageType(data[3])].DIRECTION
            role = Role.BOARD if direction is Direction.HOST_TO_BOARD else Role.HOST
    codec = Codec(role)
    events = codec.feed(data)
    for event in events:
        if isinstance(event, RemoteProtocolError):
            raise event
    if codec.pending_garbage:
        raise RemoteProtocolError(Fault.GARBAGE, codec.pending_garbage)
    if len(events) != 1 or codec.buffered:
        raise LocalProtocolError(
            f"not exactly one frame: {len(events)} frame(s), {codec.buffered} byte(s) left")
    return events[0]

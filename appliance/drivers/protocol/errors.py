"""The protocol layer's error tree (model: h11 ``_util.py``).

``ProtocolError`` splits into ``LocalProtocolError`` (our misuse: encoding a message that is
not valid v1, or one that does not flow our way) and ``RemoteProtocolError`` (the peer sent
bytes we had to throw away). The codec never raises ``RemoteProtocolError``: it hands the
instance out of ``next_frame()`` as an error event and carries on with the next frame.
"""

import enum


class ProtocolError(Exception):
    """Base class of every protocol error."""


class LocalProtocolError(ProtocolError, ValueError):
    """We tried to send something the protocol does not allow."""


class Fault(enum.Enum):
    """Why the codec threw bytes away (SPEC section 3, rules 1-6)."""

    GARBAGE = "garbage"                  # bytes before a sync, or a header with a bad CRC
    OVERSIZE = "oversize"                # good header CRC, length > MAX_PAYLOAD
    TORN = "torn"                        # a good frame began inside this frame's extent
    BAD_CRC = "bad_crc"                  # frame CRC wrong
    BAD_VERSION = "bad_version"          # sound frame, version != 1
    UNKNOWN_TYPE = "unknown_type"        # sound frame, type not in the message table
    WRONG_DIRECTION = "wrong_direction"  # sound frame of a type that flows the other way
    BAD_PAYLOAD = "bad_payload"          # sound frame whose payload does not match its type


class RemoteProtocolError(ProtocolError):
    """The peer sent bytes that the codec discarded; returned as an event, never raised.

    ``fault`` says why, ``nbytes`` how many input bytes this decision discarded. For sound
    frames (BAD_VERSION, UNKNOWN_TYPE, WRONG_DIRECTION, BAD_PAYLOAD) ``seq`` and ``type`` are
    the frame's, so the board can answer with ERROR; otherwise they are None.
    """

    def __init__(self, fault, nbytes, *, seq=None, type=None, detail=""):
        text = f"{fault.value}: {nbytes} byte(s) discarded"
        if seq is not None:
            text += f" (seq {seq}, type 0x{type:02x})"
        if detail:
            text += f": {detail}"
        super().__init__(text)
        self.fault = fault
        self.nbytes = nbytes
        self.seq = seq
        self.type = type
        self.detail = detail

    def __eq__(self, other):
        if not isinstance(other, RemoteProtocolError):
            return NotImplemented
        return (self.fault, self.nbytes, self.seq, self.type) == (
            other.fault, other.nbytes, other.seq, other.type)

    def __hash__(self):
        return hash((self.fault, self.nbytes, self.seq, self.type))

    def __repr__(self):
        return (f"RemoteProtocolError({self.fault}, {self.nbytes}, seq={self.seq}, "
                f"type={self.type})")

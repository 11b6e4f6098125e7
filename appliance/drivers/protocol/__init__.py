"""voiceboard-v1, the voice boards' wire protocol (firmware-protocols/voiceboard-v1/SPEC.md).

Sans-I/O: ``Codec`` turns bytes into ``Frame``s and messages into bytes; the transports move
the bytes. ``v1`` holds the construct schemas and constants, ``messages`` the typed messages.
"""

from .codec import (
    Codec,
    CodecStats,
    Role,
    decode_frame,
    decode_payload,
    encode_frame,
    error_reply,
)
from .errors import Fault, LocalProtocolError, ProtocolError, RemoteProtocolError
from .messages import (
    MESSAGE_CLASSES,
    Abcd,
    Ack,
    Alarms,
    AudioRx,
    AudioTx,
    Capabilities,
    Connect,
    Disconnect,
    Error,
    FirmwareVersion,
    Frame,
    Hello,
    Hook,
    HookFlash,
    Keepalive,
    LineReading,
    Listen,
    LoopDrop,
    LoopRestore,
    Message,
    OffHook,
    OnHook,
    PolarityChange,
    PortInfo,
    ReadLine,
    Reset,
    Ring,
    RingOff,
    RingOn,
    SelectAudio,
    SetAbcd,
    SetGain,
    SetPolarity,
    StopRing,
    mask_to_ports,
    ports_to_mask,
)
from .v1 import (
    IDLE_CODE,
    KEEPALIVE_INTERVAL_MS,
    LOSS_TIMEOUT_MS,
    MAX_FRAME,
    MAX_PAYLOAD,
    MAX_PORTS,
    TICK_MS,
    TICK_SAMPLES,
    Alarm,
    Direction,
    ErrorCode,
    Law,
    MessageType,
    Polarity,
    PortKind,
)

__all__ = [name for name in dir() if not name.startswith("_")]

"""Hypothesis strategies: a valid message of every voiceboard-v1 type, and streams of them."""

from hypothesis import strategies as st

from appliance.drivers.protocol import (
    MESSAGE_CLASSES,
    Abcd,
    Ack,
    Alarm,
    Alarms,
    AudioRx,
    AudioTx,
    Capabilities,
    Connect,
    Disconnect,
    Error,
    ErrorCode,
    FirmwareVersion,
    Frame,
    Hello,
    Hook,
    HookFlash,
    Keepalive,
    Law,
    LineReading,
    Listen,
    LoopDrop,
    LoopRestore,
    MessageType,
    OffHook,
    OnHook,
    Polarity,
    PolarityChange,
    PortInfo,
    PortKind,
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
)

port = st.integers(0, 63)
u8 = st.integers(0, 0xFF)
u16 = st.integers(0, 0xFFFF)
u32 = st.integers(0, 0xFFFFFFFF)
s16 = st.integers(-0x8000, 0x7FFF)
gain = st.integers(-240, 120)
abcd = st.integers(0, 15)
text = st.text(max_size=40).filter(lambda s: len(s.encode()) <= 255)


def _two_ports():
    return st.tuples(port, port).filter(lambda ab: ab[0] != ab[1])


analog = st.builds(PortInfo, st.sampled_from([PortKind.FXO, PortKind.FXS]),
                   st.sampled_from(Law))
e1 = st.builds(PortInfo, st.just(PortKind.E1), st.sampled_from(Law), st.integers(0, 7),
               st.sampled_from([*range(1, 16), *range(17, 32)]))


@st.composite
def audio(draw, cls, max_ports=8):
    ports = draw(st.sets(port, max_size=max_ports))
    data = {p: draw(st.binary(min_size=160, max_size=160)) for p in ports}
    return cls.from_ports(draw(u32), data)


MESSAGES = {
    MessageType.HELLO: st.builds(Hello, u32),
    MessageType.CAPABILITIES: st.builds(
        Capabilities, u32, text, st.builds(FirmwareVersion, u8, u8, u8), text, u32,
        st.lists(st.one_of(analog, e1), min_size=1, max_size=64).map(tuple)),
    MessageType.KEEPALIVE: st.builds(Keepalive, u32),
    MessageType.RESET: st.just(Reset()),
    MessageType.OFF_HOOK: st.builds(OffHook, port),
    MessageType.ON_HOOK: st.builds(OnHook, port),
    MessageType.HOOK_FLASH: st.builds(HookFlash, port, st.integers(50, 2000)),
    MessageType.RING: st.builds(Ring, port, st.lists(
        st.tuples(st.integers(1, 10000), st.integers(0, 10000)), min_size=1, max_size=4)),
    MessageType.STOP_RING: st.builds(StopRing, port),
    MessageType.SET_POLARITY: st.builds(SetPolarity, port, st.sampled_from(Polarity)),
    MessageType.SET_GAIN: st.builds(SetGain, port, gain, gain),
    MessageType.READ_LINE: st.builds(ReadLine, port),
    MessageType.CONNECT: _two_ports().map(lambda ab: Connect(*ab)),
    MessageType.LISTEN: _two_ports().map(lambda ab: Listen(*ab)),
    MessageType.DISCONNECT: st.builds(Disconnect, port),
    MessageType.SELECT_AUDIO: st.builds(SelectAudio, st.integers(0, 2**64 - 1)),
    MessageType.SET_ABCD: st.builds(SetAbcd, port, abcd),
    MessageType.ACK: st.builds(Ack, u16),
    MessageType.ERROR: st.builds(Error, u16, st.sampled_from(ErrorCode),
                                 st.one_of(port, st.just(0xFF))),
    MessageType.RING_ON: st.builds(RingOn, port, u32),
    MessageType.RING_OFF: st.builds(RingOff, port, u32),
    MessageType.HOOK: st.builds(Hook, port, st.booleans(), u32),
    MessageType.POLARITY: st.builds(PolarityChange, port, st.sampled_from(Polarity), u32),
    MessageType.LOOP_DROP: st.builds(LoopDrop, port, u32),
    MessageType.LOOP_RESTORE: st.builds(LoopRestore, port, u32),
    MessageType.LINE_READING: st.builds(LineReading, u16, port, s16, s16),
    MessageType.ALARMS: st.builds(Alarms, st.integers(0, 7),
                                  st.integers(0, 15).map(Alarm), u32),
    MessageType.ABCD: st.builds(Abcd, port, abcd, u32),
    MessageType.AUDIO_RX: audio(AudioRx),
    MessageType.AUDIO_TX: audio(AudioTx),
}
assert set(MESSAGES) == set(MESSAGE_CLASSES)

any_message = st.one_of(*MESSAGES.values())


def messages_to(direction):
    """Messages a receiver of ``direction`` (a ``Direction``) accepts."""
    return st.one_of(*(s for t, s in MESSAGES.items()
                       if MESSAGE_CLASSES[t].DIRECTION.value in (direction.value, "both")))


def frames_to(direction):
    return st.builds(Frame, u16, messages_to(direction))

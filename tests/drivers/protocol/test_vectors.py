"""The golden vectors of firmware-protocols/voiceboard-v1/vectors, replayed (SPEC section 10).

Valid vectors: parse, build, byte-exact round trip and size, against the table of expected
frames below (written from the SPEC, not from the codec); fed whole, a byte at a time and
in random splits. Invalid vectors: the outcome named in each vector's comment line, whole
and a byte at a time.
"""

import random
from pathlib import Path

import pytest
from construct import SizeofError

from appliance.drivers.protocol import (
    Abcd,
    Ack,
    Alarm,
    Alarms,
    AudioRx,
    AudioTx,
    Capabilities,
    Codec,
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
    OffHook,
    OnHook,
    Polarity,
    PolarityChange,
    PortInfo,
    PortKind,
    ReadLine,
    RemoteProtocolError,
    Reset,
    Ring,
    RingOff,
    RingOn,
    Role,
    SelectAudio,
    SetAbcd,
    SetGain,
    SetPolarity,
    StopRing,
    decode_frame,
    encode_frame,
)
from appliance.drivers.protocol.v1 import FRAME, PAYLOADS, frame_container

from . import vectorgen

VECTORS = Path(__file__).resolve().parents[3] / "firmware-protocols" / "voiceboard-v1" / "vectors"


def load(name):
    """[(id, direction, description, bytes)] from a vectors file."""
    lines = [line for line in (VECTORS / name).read_text().splitlines() if line.strip()]
    out = []
    for comment, data in zip(lines, lines[1:]):
        if comment.startswith("# ") and not data.startswith("#"):
            head, _, desc = comment[2:].partition(": ")
            vid, direction = head.split()
            out.append((vid, direction, desc, bytes.fromhex(data)))
    return out


def receiver(direction):
    return Codec(Role.BOARD if direction == "h2b" else Role.HOST)


def pattern(port, tick):
    return vectorgen.pattern(port, tick)


FXO, FXS = PortInfo.fxo(), PortInfo.fxs()
EXPECTED = {
    "hello": Frame(0, Hello(0x12345678)),
    "capabilities-8fxo-8fxs": Frame(0, Capabilities(
        0x12345678, "VB-8FXO8FXS", FirmwareVersion(1, 4, 2), "CN2026110001", 123456,
        (FXO,) * 8 + (FXS,) * 8)),
    "capabilities-e1": Frame(0, Capabilities(
        7, "VB-E1", FirmwareVersion(2, 0, 0), "E1-0042", 0, PortInfo.e1_span(0))),
    "capabilities-mulaw-fxs": Frame(0, Capabilities(
        1, "VB-2FXS-US", FirmwareVersion(0, 9, 17), "", 0xFFFFFFFF,
        (PortInfo(PortKind.FXS, Law.ULAW),) * 2)),
    "keepalive-h2b": Frame(1, Keepalive(1000)),
    "keepalive-b2h": Frame(65535, Keepalive(0xFFFFFFFF)),
    "reset": Frame(2, Reset()),
    "off-hook": Frame(3, OffHook(0)),
    "on-hook": Frame(4, OnHook(63)),
    "hook-flash": Frame(5, HookFlash(2, 600)),
    "ring-cn": Frame(6, Ring(8, ((1000, 4000),))),
    "ring-double": Frame(7, Ring(9, ((400, 200), (400, 2000)))),
    "stop-ring": Frame(8, StopRing(8)),
    "set-polarity": Frame(9, SetPolarity(8, Polarity.REVERSED)),
    "set-gain": Frame(10, SetGain(1, -35, 20)),
    "set-gain-limits": Frame(11, SetGain(1, -240, 120)),
    "read-line": Frame(12, ReadLine(3)),
    "connect": Frame(13, Connect(0, 8)),
    "listen": Frame(14, Listen(listener=9, source=0)),
    "disconnect": Frame(15, Disconnect(0)),
    "select-audio": Frame(16, SelectAudio.of(range(16))),
    "select-audio-none": Frame(17, SelectAudio(0)),
    "set-abcd": Frame(18, SetAbcd(4, 0b1001)),
    "ack": Frame(1, Ack(13)),
    "error-wrong-state": Frame(2, Error(5, ErrorCode.WRONG_STATE, 2)),
    "error-no-port": Frame(3, Error(0, ErrorCode.NO_SESSION)),
    "ring-on": Frame(4, RingOn(1, 500)),
    "ring-off": Frame(5, RingOff(1, 550)),
    "hook-off": Frame(6, Hook(8, True, 600)),
    "hook-on": Frame(7, Hook(8, False, 900)),
    "polarity": Frame(8, PolarityChange(1, Polarity.REVERSED, 700)),
    "loop-drop": Frame(9, LoopDrop(1, 800)),
    "loop-restore": Frame(10, LoopRestore(1, 810)),
    "line-reading": Frame(11, LineReading(12, 3, -480, 235)),
    "alarms": Frame(12, Alarms(0, Alarm.LOS | Alarm.RAI, 42)),
    "alarms-clear": Frame(13, Alarms(1, Alarm(0), 43)),
    "abcd": Frame(14, Abcd(5, 0b1101, 44)),
    "audio-rx-2": Frame(15, AudioRx.from_ports(100, {0: pattern(0, 100), 5: pattern(5, 100)})),
    "audio-rx-32": Frame(16, AudioRx.from_ports(101, {p: pattern(p, 101) for p in range(32)})),
    "audio-rx-port-63": Frame(17, AudioRx.from_ports(102, {63: pattern(63, 102)})),
    "audio-tx-1": Frame(19, AudioTx.from_ports(100, {8: pattern(8, 100)})),
    "audio-tx-empty": Frame(20, AudioTx(100, 0, b"")),
}

VALID = load("valid.txt")
INVALID = load("invalid.txt")


def test_vector_files_are_what_the_generator_writes():
    assert (VECTORS / "valid.txt").read_text() == vectorgen.valid_text()
    assert (VECTORS / "invalid.txt").read_text() == vectorgen.invalid_text()


def test_every_message_type_has_a_valid_vector():
    assert {frame.type for frame in EXPECTED.values()} == set(PAYLOADS)
    assert {vid for vid, *_ in VALID} == set(EXPECTED)


@pytest.mark.parametrize("vid,direction,desc,data", VALID, ids=[v[0] for v in VALID])
def test_valid_vector_parse_build_roundtrip_size(vid, direction, desc, data):
    expected = EXPECTED[vid]
    frame = decode_frame(data)
    assert frame == expected
    assert encode_frame(expected) == data
    # The construct schema agrees: FRAME parses it (both CRCs), the payload schema builds it.
    parsed = FRAME.parse(data)
    header = parsed.body.value.header.value
    assert (header.version, header.type, header.seq) == (1, expected.type, expected.seq)
    payload = parsed.body.value.payload
    assert header.length == len(payload) == len(data) - 12
    assert PAYLOADS[expected.type].build(expected.message.to_payload()) == payload
    assert FRAME.build(frame_container(1, expected.type, expected.seq, payload)) == data
    try:
        assert PAYLOADS[expected.type].sizeof() == len(payload)
    except SizeofError:
        pass  # variable-size payloads (strings, cadence, audio) have no static size
    # The direction in the comment is the one the type flows in (or both).
    assert expected.message.DIRECTION.value in (direction, "both")


@pytest.mark.parametrize("vid,direction,desc,data", VALID, ids=[v[0] for v in VALID])
def test_valid_vector_whole_bytewise_and_random_splits(vid, direction, desc, data):
    expected = EXPECTED[vid]
    whole = receiver(direction)
    assert whole.feed(data) == [expected]
    assert whole.buffered == 0 and whole.stats.total_errors == 0
    bytewise = receiver(direction)
    events = [e for i in range(len(data)) for e in bytewise.feed(data[i:i + 1])]
    assert events == [expected]
    rng = random.Random(vid)
    split = receiver(direction)
    cuts = sorted(rng.sample(range(1, len(data)), min(5, len(data) - 1)))
    chunks = [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)])]
    assert [e for c in chunks for e in split.feed(c)] == [expected]


def outcome(codec, events):
    tokens = []
    for event in events:
        if isinstance(event, RemoteProtocolError):
            token = f"{event.fault.value}:{event.nbytes}"
            if event.seq is not None:
                token += f":seq={event.seq}:type=0x{event.type:02x}"
        else:
            token = event.type.name
        tokens.append(token)
    if codec.pending_garbage:
        tokens.append(f"pending:{codec.pending_garbage}")
    elif codec.buffered:
        tokens.append(f"buffered:{codec.buffered}")
    return tokens


@pytest.mark.parametrize("vid,direction,desc,data", INVALID, ids=[v[0] for v in INVALID])
def test_invalid_vector_outcome_whole_and_bytewise(vid, direction, desc, data):
    expected = desc.rsplit(" -> ", 1)[1].split()
    whole = receiver(direction)
    assert outcome(whole, whole.feed(data)) == expected
    bytewise = receiver(direction)
    events = [e for i in range(len(data)) for e in bytewise.feed(data[i:i + 1])]
    assert outcome(bytewise, events) == expected
    assert bytewise.stats == whole.stats
    # Every byte is accounted for: delivered, discarded, or still waiting.
    stats = whole.stats
    frames = [e for e in events if isinstance(e, Frame)]
    assert (sum(len(encode_frame(f)) for f in frames) + sum(stats.discarded_bytes.values())
            + whole.pending_garbage + whole.buffered) == len(data)

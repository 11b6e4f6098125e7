"""The sans-I/O codec: SPEC section 2 (framing, CRC, seq) and section 3 (receive rules),
round trips of every message type, property tests and a fuzz run.

No wall clock anywhere: "no hang" is a bounded amount of work per byte, checked by the
fuzz run completing; "no growth" is measured with tracemalloc.
"""

import gc
import random
import tracemalloc

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from appliance.drivers.protocol import (
    MAX_FRAME,
    MAX_PAYLOAD,
    Ack,
    AudioRx,
    AudioTx,
    Capabilities,
    Codec,
    Connect,
    Direction,
    Error,
    ErrorCode,
    Fault,
    FirmwareVersion,
    Frame,
    Hello,
    Hook,
    Keepalive,
    LocalProtocolError,
    OffHook,
    PortInfo,
    RemoteProtocolError,
    Ring,
    Role,
    SetGain,
    SetPolarity,
    decode_frame,
    encode_frame,
    error_reply,
)
from appliance.drivers.protocol.v1 import crc16

from .strategies import MESSAGES, frames_to

TO_BOARD = Direction.HOST_TO_BOARD
TO_HOST = Direction.BOARD_TO_HOST
PROPERTY = settings(deadline=None, max_examples=150,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def receiver_for(message):
    return Codec(Role.HOST if message.DIRECTION is TO_HOST else Role.BOARD)


def sender_for(message):
    return Codec(Role.BOARD if message.DIRECTION is TO_HOST else Role.HOST)


def feed_split(codec, data, cuts):
    points = sorted({c % (len(data) + 1) for c in cuts})
    chunks = [data[a:b] for a, b in zip([0, *points], [*points, len(data)])]
    return [event for chunk in chunks for event in codec.feed(chunk)]


# --- Section 2: CRC, limits, seq ----------------------------------------------------------
def test_crc16_ccitt_false_check_value():
    assert crc16(b"123456789") == 0x29B1


def test_limits_are_an_all_port_audio_frame():
    full = AudioRx.from_ports(0, {p: bytes(160) for p in range(64)})
    data = encode_frame(Frame(0, full))
    assert len(data) == MAX_FRAME == MAX_PAYLOAD + 12 == 10264


def test_seq_starts_at_session_start_and_wraps():
    host = Codec(Role.HOST)
    host.encode(Keepalive(0))
    assert host.last_seq == 0
    host.encode(Hello(1))
    assert host.last_seq == 0 and host.next_seq == 1
    for _ in range(65535):
        host.encode(Keepalive(0))
    assert host.last_seq == 65535 and host.next_seq == 0
    host.encode(OffHook(1))
    assert host.last_seq == 0
    board = Codec(Role.BOARD)
    board.encode(Ack(3))
    board.encode(Capabilities(1, "m", FirmwareVersion(1, 0, 0), "s", 0, [PortInfo.fxo()]))
    assert board.last_seq == 0
    # An explicit Frame keeps its seq and leaves the counter alone.
    board.encode(Frame(777, Ack(1)))
    assert board.next_seq == 1


def test_session_start_seq_and_stats_out():
    host = Codec(Role.HOST)
    data = host.encode(Hello(5)) + host.encode(OffHook(2)) + host.encode(Keepalive(9))
    board = Codec(Role.BOARD)
    assert [(f.seq, f.message) for f in board.feed(data)] == [
        (0, Hello(5)), (1, OffHook(2)), (2, Keepalive(9))]
    assert host.stats.frames_out == 3 and host.stats.bytes_out == len(data)
    assert board.stats.frames_in == 3 and board.stats.bytes_in == len(data)


# --- Local errors: encoding what v1 does not allow ----------------------------------------
@pytest.mark.parametrize("role,message", [
    (Role.HOST, Ack(1)),
    (Role.HOST, AudioRx(0, 0, b"")),
    (Role.BOARD, OffHook(1)),
    (Role.BOARD, Hello(1)),
    (Role.BOARD, AudioTx(0, 0, b"")),
], ids=lambda v: getattr(v, "value", type(v).__name__))
def test_encode_refuses_the_wrong_direction(role, message):
    with pytest.raises(LocalProtocolError, match="cannot send"):
        Codec(role).encode(message)


@pytest.mark.parametrize("message", [
    OffHook(64), OffHook(-1), Ring(1, ()), Ring(1, [(100, 100)] * 5), Ring(1, [(0, 100)]),
    SetGain(1, 121, 0), SetGain(1, 0, -241), Connect(3, 3),
    AudioTx(0, 0b11, bytes(160)), AudioTx(0, 1, bytes(161)), Keepalive(2**32),
], ids=repr)
def test_encode_refuses_values_outside_the_wire_ranges(message):
    host = Codec(Role.HOST)
    with pytest.raises(LocalProtocolError, match="not valid v1"):
        host.encode(message)
    assert host.next_seq == 0 and host.stats.frames_out == 0


def test_enumerated_fields_are_checked_on_construction():
    with pytest.raises(LocalProtocolError):
        SetPolarity(1, 2)
    with pytest.raises(LocalProtocolError):
        Error(1, 99)
    with pytest.raises(LocalProtocolError):
        PortInfo(5, 1)
    with pytest.raises(LocalProtocolError, match="not a v1 message"):
        Codec(Role.HOST).encode(b"raw bytes")


# --- Round trips --------------------------------------------------------------------------
@pytest.mark.parametrize("mtype", sorted(MESSAGES), ids=lambda t: t.name)
@given(data=st.data())
@settings(deadline=None, max_examples=40, suppress_health_check=[HealthCheck.too_slow])
def test_every_type_round_trips(mtype, data):
    message = data.draw(MESSAGES[mtype])
    sender = sender_for(message)
    wire = sender.encode(message)
    assert len(wire) <= MAX_FRAME
    frames = receiver_for(message).feed(wire)
    assert frames == [Frame(sender.last_seq, message)]
    assert encode_frame(frames[0]) == wire
    assert decode_frame(wire) == frames[0]


# --- Section 3: the same result however the bytes are split --------------------------------
@given(frames=st.lists(frames_to(TO_HOST), max_size=12),
       cuts=st.lists(st.integers(0, 1 << 20), max_size=20))
@PROPERTY
def test_valid_stream_any_split_delivers_every_frame(frames, cuts):
    data = b"".join(encode_frame(f) for f in frames)
    codec = Codec(Role.HOST)
    assert feed_split(codec, data, cuts) == frames
    assert codec.stats.total_errors == 0 and codec.buffered == 0


@given(data=st.binary(max_size=3000), cuts=st.lists(st.integers(0, 1 << 20), max_size=30))
@PROPERTY
def test_arbitrary_bytes_never_raise_and_split_does_not_matter(data, cuts):
    whole = Codec(Role.BOARD)
    events = whole.feed(data)
    split = Codec(Role.BOARD)
    assert feed_split(split, data, cuts) == events
    assert split.stats == whole.stats
    assert all(isinstance(e, (Frame, RemoteProtocolError)) for e in events)
    frames = [e for e in events if isinstance(e, Frame)]
    assert (sum(len(encode_frame(f)) for f in frames)
            + sum(whole.stats.discarded_bytes.values())
            + whole.pending_garbage + whole.buffered) == len(data)


@given(frames=st.lists(frames_to(TO_BOARD), min_size=1, max_size=8),
       junk=st.lists(st.binary(max_size=40).map(lambda b: b.replace(b"V", b"v")),
                     min_size=1, max_size=9))
@PROPERTY
def test_junk_between_frames_is_garbage_and_every_frame_survives(frames, junk):
    parts = []
    for i, frame in enumerate(frames):
        parts += [junk[i % len(junk)], encode_frame(frame)]
    parts.append(junk[-1])
    codec = Codec(Role.BOARD)
    events = codec.feed(b"".join(parts))
    assert [e for e in events if isinstance(e, Frame)] == frames
    junk_total = sum(len(p) for p in parts[::2])
    assert codec.stats.discarded_bytes[Fault.GARBAGE] + codec.pending_garbage == junk_total
    assert codec.stats.total_errors == codec.stats.errors[Fault.GARBAGE]


@given(torn=frames_to(TO_HOST), after=st.lists(frames_to(TO_HOST), min_size=1, max_size=6),
       cut=st.floats(0.0, 1.0, exclude_max=True), cuts=st.lists(st.integers(0, 1 << 16)))
@PROPERTY
def test_a_torn_frame_costs_only_itself(torn, after, cut, cuts):
    """A sender cut off mid-frame and restarted: every frame it sends after is delivered."""
    head = encode_frame(torn)
    head = head[:int(len(head) * cut)]
    tail = b"".join(encode_frame(f) for f in after)
    codec = Codec(Role.HOST)
    events = feed_split(codec, head + tail, cuts)
    assert [e for e in events if isinstance(e, Frame)] == after
    assert codec.buffered == 0 and codec.pending_garbage == 0


@given(frames=st.lists(frames_to(TO_BOARD), min_size=1, max_size=8),
       flips=st.lists(st.integers(0, 1 << 30), min_size=1, max_size=3),
       cuts=st.lists(st.integers(0, 1 << 16)))
@PROPERTY
def test_bit_flips_lose_only_the_frames_they_hit(frames, flips, cuts):
    """Up to 3 flipped bits: CRC-16 catches them all, and only the frames hit are lost."""
    wires = [encode_frame(f) for f in frames]
    data = bytearray(b"".join(wires))
    bits = {flip % (len(data) * 8) for flip in flips}
    for bit in bits:
        data[bit // 8] ^= 1 << (bit % 8)
    hit, start = set(), 0
    for i, wire in enumerate(wires):
        if any(start * 8 <= bit < (start + len(wire)) * 8 for bit in bits):
            hit.add(i)
        start += len(wire)
    # A receiver cannot tell a cut at the very end from a frame still to come; close it.
    codec = Codec(Role.BOARD)
    events = feed_split(codec, bytes(data) + encode_frame(Frame(0, Keepalive(0))), cuts)
    delivered = [e for e in events if isinstance(e, Frame)]
    assert delivered == [f for i, f in enumerate(frames) if i not in hit] + [
        Frame(0, Keepalive(0))]


# --- Rule 6 faults carry the frame's seq, so the board can answer with ERROR ---------------
def test_sound_frame_faults_name_seq_and_type():
    board = Codec(Role.BOARD)
    bad = encode_frame(Frame(41, Ack(1)))           # flows board -> host
    [event] = board.feed(bad)
    assert isinstance(event, RemoteProtocolError)
    assert (event.fault, event.seq, event.type, event.nbytes) == (
        Fault.WRONG_DIRECTION, 41, 0x40, len(bad))
    assert board.stats.errors[Fault.WRONG_DIRECTION] == 1
    assert "ACK" in str(event)
    assert error_reply(event) == Error(41, ErrorCode.WRONG_DIRECTION)


@pytest.mark.parametrize("wire,code", [
    (encode_frame(Frame(7, Keepalive(1), version=2)), ErrorCode.UNSUPPORTED_VERSION),
    (encode_frame(Frame(7, Keepalive(1))).replace(b"VB\x01\x03", b"VB\x01\x7f"), None),
    (encode_frame(Frame(7, OffHook(1)))[:-3] + b"\x40", None),
], ids=["bad-version", "header-crc-now-wrong", "bad-crc"])
def test_error_reply_answers_only_sound_frames(wire, code):
    events = Codec(Role.BOARD).feed(wire + encode_frame(Frame(8, Keepalive(2))))
    errors = [e for e in events if isinstance(e, RemoteProtocolError)]
    assert errors
    replies = [error_reply(e) for e in errors]
    assert replies[0] == (Error(7, code) if code else None)
    assert all(r is None for r in replies[1:])


def test_never_raises_on_payload_decoding_surprises():
    # A payload that passes both CRCs but is not UTF-8 where a string is due.
    caps = encode_frame(Frame(0, Capabilities(
        1, "é", FirmwareVersion(1, 0, 0), "", 0, [PortInfo.fxo()])))
    raw = bytearray(caps)
    raw[15] = 0xFF                                   # second byte of the model's "é"
    body = bytes(raw[:-2])
    raw[-2:] = crc16(body).to_bytes(2, "little")
    [event] = Codec(Role.HOST).feed(bytes(raw))
    assert event.fault is Fault.BAD_PAYLOAD


# --- Bounded memory and the fuzz run ------------------------------------------------------
def fuzz_stream(rng, nbytes):
    """Random bytes, good frames both ways, frames torn at random points, bit flips,
    duplicated and dropped bytes, headers with huge lengths."""
    host, board = Codec(Role.HOST), Codec(Role.BOARD)
    out = bytearray()
    while len(out) < nbytes:
        kind = rng.random()
        if kind < 0.2:
            out += rng.randbytes(rng.randrange(1, 3000))
        elif kind < 0.3:
            out += b"VB" * rng.randrange(1, 200)
        else:
            if rng.random() < 0.3:
                ports = {p: rng.randbytes(160) for p in rng.sample(range(64), rng.randrange(33))}
                wire = bytearray(board.encode(AudioRx.from_ports(rng.getrandbits(32), ports)))
            else:
                wire = bytearray(rng.choice([
                    board.encode(Hook(rng.randrange(64), True, rng.getrandbits(32))),
                    host.encode(Ring(rng.randrange(64), [(1000, 4000)])),
                    host.encode(SetGain(rng.randrange(64), -10, 10)),
                    board.encode(Error(rng.getrandbits(16), 3)),
                ]))
            mutation = rng.random()
            if mutation < 0.2:
                wire = wire[:rng.randrange(len(wire))]
            elif mutation < 0.4:
                for _ in range(rng.randrange(1, 4)):
                    i = rng.randrange(len(wire))
                    wire[i] ^= 1 << rng.randrange(8)
            elif mutation < 0.5:
                i = rng.randrange(len(wire))
                wire[i:i] = wire[i:i + rng.randrange(1, 20)]
            elif mutation < 0.55:
                wire[6:8] = b"\xff\xff"
            out += wire
    return bytes(out)


def live_bytes():
    # construct's parse contexts hold reference cycles (``_root``); they are garbage, not
    # growth, so collect them before measuring what the codec really keeps.
    gc.collect()
    return tracemalloc.get_traced_memory()[0]


@pytest.mark.parametrize("seed", range(3))
def test_fuzz_no_crash_no_unbounded_buffer_no_growth(seed):
    rng = random.Random(seed)
    stream = fuzz_stream(rng, 600_000)
    codec = Codec(Role.HOST)
    tracemalloc.start()
    try:
        # Warm up (caches, enum lookups), then measure what a second pass keeps.
        pos = 0
        baseline = None
        delivered = 0
        while pos < len(stream):
            size = rng.choice([1, 7, 512, 4096, 30_000, 200_000])
            for event in codec.feed(stream[pos:pos + size]):
                delivered += isinstance(event, Frame)
            pos += size
            assert codec.buffered <= Codec.MAX_BUFFER
            if baseline is None and pos > len(stream) // 4:
                baseline = live_bytes()
        grown = live_bytes() - baseline
    finally:
        tracemalloc.stop()
    assert grown < 64 * 1024, f"codec kept {grown} bytes"
    assert delivered > 50
    stats = codec.stats
    assert stats.bytes_in == len(stream)
    assert stats.errors[Fault.GARBAGE] and stats.errors[Fault.BAD_CRC]
    assert stats.errors[Fault.WRONG_DIRECTION]      # the host-bound codec got H->B frames


@pytest.mark.parametrize("seed", range(2))
def test_fuzz_stream_gives_the_same_events_however_split(seed):
    """SPEC 3: rules 1-6 depend on the bytes only. The fuzz stream has torn frames, flips,
    duplicated runs and fake headers, so the incremental torn-frame scan is exercised."""
    rng = random.Random(100 + seed)
    stream = fuzz_stream(rng, 150_000)
    whole = Codec(Role.HOST)
    expected = whole.feed(stream)
    split = Codec(Role.HOST)
    events, pos = [], 0
    while pos < len(stream):
        size = rng.choice([1, 1, 2, 3, 10, 11, 100, 1000, 6000])
        events += split.feed(stream[pos:pos + size])
        pos += size
    assert events == expected
    assert split.stats == whole.stats
    assert whole.stats.errors[Fault.TORN] > 0


def test_one_huge_chunk_is_processed_in_bounded_slices():
    frame = encode_frame(Frame(0, Keepalive(7)))
    codec = Codec(Role.HOST)
    events = codec.feed(b"\x00" * 5_000_000 + frame * 1000)
    assert len(events) == 1001 and codec.buffered == 0
    assert events[0] == RemoteProtocolError(Fault.GARBAGE, 5_000_000)


def test_torn_rule_picks_the_inner_frame_that_ends_first():
    """SPEC 3 rule 4: a torn AUDIO_RX header, then an AUDIO_RX (A) whose samples hold a
    KEEPALIVE (B). B ends first, so the front is torn at B's start; A's tail is garbage."""
    keepalive = encode_frame(Frame(5, Keepalive(55)))
    samples = bytes(20) + keepalive + bytes(160 - 20 - len(keepalive))
    inner_a = encode_frame(Frame(4, AudioRx(9, 1 << 3, samples)))
    torn = encode_frame(Frame(3, AudioRx.from_ports(8, {p: bytes(160) for p in range(8)})))[:30]
    after = encode_frame(Frame(6, Hook(2, False, 10)))
    stream = torn + inner_a + after
    j = stream.index(keepalive)
    expected = [RemoteProtocolError(Fault.TORN, j), Frame(5, Keepalive(55)),
                RemoteProtocolError(Fault.GARBAGE, len(torn) + len(inner_a) - j - len(keepalive)),
                Frame(6, Hook(2, False, 10))]
    assert Codec(Role.HOST).feed(stream) == expected
    bytewise = Codec(Role.HOST)
    assert [e for i in range(len(stream)) for e in bytewise.feed(stream[i:i + 1])] == expected


anything = st.one_of(st.integers(-2**70, 2**70), st.text(max_size=300), st.binary(max_size=400),
                     st.none(), st.booleans(), st.lists(st.tuples(st.integers(-5, 20000),
                                                                  st.integers(-5, 20000))))


@given(mtype=st.sampled_from(sorted(MESSAGES)), data=st.data())
@PROPERTY
def test_encode_either_round_trips_or_raises_local_protocol_error(mtype, data):
    """Any field values: encode gives bytes that decode to the same message, or refuses with
    LocalProtocolError (a ValueError); nothing else escapes."""
    from appliance.drivers.protocol import MESSAGE_CLASSES
    cls = MESSAGE_CLASSES[mtype]
    names = [f for f in cls.__dataclass_fields__]
    try:
        message = cls(*[data.draw(anything, label=n) for n in names])
    except LocalProtocolError:
        return
    except (TypeError, ValueError):
        return  # the dataclass's own coercions (tuple(), bool) refusing a wrong type
    sender = sender_for(message)
    try:
        wire = sender.encode(message)
    except LocalProtocolError:
        return
    [frame] = receiver_for(message).feed(wire)
    assert isinstance(frame, Frame) and encode_frame(frame) == wire

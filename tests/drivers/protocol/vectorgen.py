"""Writes firmware-protocols/voiceboard-v1/vectors/{valid,invalid}.txt.

Deliberately independent of appliance.drivers.protocol: frames are packed here by hand from
the SPEC with ``struct`` and ``binascii.crc_hqx``, and the expected outcome of every invalid
stream is derived from how it was built (where the good frames start), not from the codec.
``test_vectors.py`` checks that the committed files equal what this writes, then replays them.

    python tests/drivers/protocol/vectorgen.py      # rewrite the files
"""

import binascii
import struct
from pathlib import Path

VECTORS = Path(__file__).resolve().parents[3] / "firmware-protocols" / "voiceboard-v1" / "vectors"
SYNC = b"VB"
MAX_PAYLOAD = 12 + 64 * 160


def crc(data):
    return binascii.crc_hqx(data, 0xFFFF)


def frame(mtype, seq, payload, version=1, length=None, header_crc=None, frame_crc=None):
    header = SYNC + struct.pack("<BBHH", version, mtype, seq,
                                len(payload) if length is None else length)
    head = header + struct.pack("<H", crc(header) if header_crc is None else header_crc)
    body = head + payload
    return body + struct.pack("<H", crc(body) if frame_crc is None else frame_crc)


def text(s):
    b = s.encode()
    return bytes([len(b)]) + b


def pattern(port, tick):
    """160 distinct-looking G.711 bytes for a port and tick (never the sync pair)."""
    return bytes(((port * 37 + tick * 11 + i * 3) % 251) | 0x80 for i in range(160))


def audio(tick, ports):
    mask = 0
    for p in ports:
        mask |= 1 << p
    return struct.pack("<IQ", tick, mask) + b"".join(pattern(p, tick) for p in sorted(ports))


def capabilities(session, model, fw, serial, tick, ports):
    out = struct.pack("<I", session) + text(model) + bytes(fw) + text(serial)
    out += struct.pack("<I", tick) + bytes([len(ports)])
    for kind, law, span, slot in ports:
        out += bytes([kind, law, span, slot])
    return out


FXO, FXS, E1, ALAW, ULAW = 1, 2, 3, 1, 2
E1_SLOTS = [*range(1, 16), *range(17, 32)]
u8, u16, s16, u32, u64 = (lambda v: struct.pack("<B", v)), (lambda v: struct.pack("<H", v)), \
    (lambda v: struct.pack("<h", v)), (lambda v: struct.pack("<I", v)), \
    (lambda v: struct.pack("<Q", v))

# (id, direction, description, type, seq, payload)
VALID = [
    ("hello", "h2b", "HELLO session 0x12345678, first frame of a session", 0x01, 0,
     u32(0x12345678)),
    ("capabilities-8fxo-8fxs", "b2h", "CAPABILITIES of an 8 FXO + 8 FXS A-law board, fw 1.4.2",
     0x02, 0, capabilities(0x12345678, "VB-8FXO8FXS", (1, 4, 2), "CN2026110001", 123456,
                           [(FXO, ALAW, 0xFF, 0)] * 8 + [(FXS, ALAW, 0xFF, 0)] * 8)),
    ("capabilities-e1", "b2h", "CAPABILITIES of one E1 span (30 channels, A-law, span 0)",
     0x02, 0, capabilities(7, "VB-E1", (2, 0, 0), "E1-0042", 0,
                           [(E1, ALAW, 0, ts) for ts in E1_SLOTS])),
    ("capabilities-mulaw-fxs", "b2h", "CAPABILITIES of a 2-port mu-law FXS board, empty serial",
     0x02, 0, capabilities(1, "VB-2FXS-US", (0, 9, 17), "", 0xFFFFFFFF,
                           [(FXS, ULAW, 0xFF, 0)] * 2)),
    ("keepalive-h2b", "h2b", "host KEEPALIVE echoing tick 1000", 0x03, 1, u32(1000)),
    ("keepalive-b2h", "b2h", "board KEEPALIVE at tick 0xFFFFFFFF (about to wrap)", 0x03, 65535,
     u32(0xFFFFFFFF)),
    ("reset", "h2b", "RESET (empty payload)", 0x04, 2, b""),
    ("off-hook", "h2b", "OFF_HOOK port 0", 0x10, 3, u8(0)),
    ("on-hook", "h2b", "ON_HOOK port 63 (the highest port)", 0x11, 4, u8(63)),
    ("hook-flash", "h2b", "HOOK_FLASH port 2 for 600 ms", 0x12, 5, u8(2) + u16(600)),
    ("ring-cn", "h2b", "RING port 8 with China's cadence 1 s on, 4 s off", 0x13, 6,
     u8(8) + u8(1) + u16(1000) + u16(4000)),
    ("ring-double", "h2b", "RING port 9 with a double ring 400/200/400/2000 ms", 0x13, 7,
     u8(9) + u8(2) + u16(400) + u16(200) + u16(400) + u16(2000)),
    ("stop-ring", "h2b", "STOP_RING port 8", 0x14, 8, u8(8)),
    ("set-polarity", "h2b", "SET_POLARITY port 8 reversed", 0x15, 9, u8(8) + u8(1)),
    ("set-gain", "h2b", "SET_GAIN port 1 rx -3.5 dB tx +2.0 dB", 0x16, 10,
     u8(1) + s16(-35) + s16(20)),
    ("set-gain-limits", "h2b", "SET_GAIN port 1 rx -24.0 dB tx +12.0 dB (the range ends)",
     0x16, 11, u8(1) + s16(-240) + s16(120)),
    ("read-line", "h2b", "READ_LINE port 3", 0x17, 12, u8(3)),
    ("connect", "h2b", "CONNECT ports 0 and 8 both ways", 0x18, 13, u8(0) + u8(8)),
    ("listen", "h2b", "LISTEN: port 9 hears port 0 one-way", 0x19, 14, u8(9) + u8(0)),
    ("disconnect", "h2b", "DISCONNECT port 0", 0x1A, 15, u8(0)),
    ("select-audio", "h2b", "SELECT_AUDIO ports 0..15", 0x1B, 16, u64(0xFFFF)),
    ("select-audio-none", "h2b", "SELECT_AUDIO nothing (stops AUDIO_RX)", 0x1B, 17, u64(0)),
    ("set-abcd", "h2b", "SET_ABCD port 4 to 1001 (A and D set)", 0x1C, 18, u8(4) + u8(0b1001)),
    ("ack", "b2h", "ACK of seq 13", 0x40, 1, u16(13)),
    ("error-wrong-state", "b2h", "ERROR WRONG_STATE for seq 5 on port 2", 0x41, 2,
     u16(5) + u8(6) + u8(2)),
    ("error-no-port", "b2h", "ERROR NO_SESSION for seq 0, no port (0xFF)", 0x41, 3,
     u16(0) + u8(7) + u8(0xFF)),
    ("ring-on", "b2h", "RING_ON port 1 at tick 500", 0x42, 4, u8(1) + u32(500)),
    ("ring-off", "b2h", "RING_OFF port 1 at tick 550", 0x43, 5, u8(1) + u32(550)),
    ("hook-off", "b2h", "HOOK port 8 off-hook at tick 600", 0x44, 6, u8(8) + u8(1) + u32(600)),
    ("hook-on", "b2h", "HOOK port 8 on-hook at tick 900", 0x44, 7, u8(8) + u8(0) + u32(900)),
    ("polarity", "b2h", "POLARITY port 1 reversed at tick 700", 0x45, 8,
     u8(1) + u8(1) + u32(700)),
    ("loop-drop", "b2h", "LOOP_DROP port 1 at tick 800", 0x46, 9, u8(1) + u32(800)),
    ("loop-restore", "b2h", "LOOP_RESTORE port 1 at tick 810", 0x47, 10, u8(1) + u32(810)),
    ("line-reading", "b2h", "LINE_READING for seq 12: port 3, -48.0 V, 23.5 mA", 0x48, 11,
     u16(12) + u8(3) + s16(-480) + s16(235)),
    ("alarms", "b2h", "ALARMS span 0: LOS and RAI at tick 42", 0x49, 12,
     u8(0) + u8(0x05) + u32(42)),
    ("alarms-clear", "b2h", "ALARMS span 1 clear at tick 43", 0x49, 13, u8(1) + u8(0) + u32(43)),
    ("abcd", "b2h", "ABCD port 5 received 1101 at tick 44", 0x4A, 14, u8(5) + u8(0b1101) + u32(44)),
    ("audio-rx-2", "b2h", "AUDIO_RX tick 100, ports 0 and 5", 0x70, 15, audio(100, [0, 5])),
    ("audio-rx-32", "b2h", "AUDIO_RX tick 101, ports 0..31 (a full 32-port board)", 0x70, 16,
     audio(101, range(32))),
    ("audio-rx-port-63", "b2h", "AUDIO_RX tick 102, port 63 alone", 0x70, 17, audio(102, [63])),
    ("audio-tx-1", "h2b", "AUDIO_TX for tick 100, port 8", 0x71, 19, audio(100, [8])),
    ("audio-tx-empty", "h2b", "AUDIO_TX for tick 100 with no ports", 0x71, 20, audio(100, [])),
]


def _no_sync(*parts):
    for p in parts:
        assert SYNC not in p, "a vector's junk contains the sync pair; pick other bytes"


def invalid():
    """(id, direction, description, bytes, expected tokens)."""
    out = []
    ka = frame(0x03, 1, u32(1000))                 # a good KEEPALIVE (16 bytes), both ways
    on_hook = frame(0x11, 2, u8(1))                # a good ON_HOOK (13 bytes)
    ring_on = frame(0x42, 3, u8(1) + u32(5))       # a good RING_ON (17 bytes)

    junk = bytes([0x00, 0x13, 0xFF, 0x42, 0x56, 0x00, 0x99])
    out.append(("garbage-before-frame", "b2h", "junk (a lone 0x56 and a lone 0x42 in it) "
                "before a KEEPALIVE", junk + ka, [f"garbage:{len(junk)}", "KEEPALIVE"]))

    bad = bytearray(frame(0x10, 1, u8(0)))
    bad[-1] ^= 0x01
    _no_sync(bytes(bad[1:]))
    out.append(("bad-crc", "h2b", "OFF_HOOK with its frame CRC's last bit flipped, then ON_HOOK",
                bytes(bad) + on_hook, ["bad_crc:1", f"garbage:{len(bad) - 1}", "ON_HOOK"]))

    bad = bytearray(frame(0x10, 1, u8(0)))
    bad[10] ^= 0x40                                  # payload bit flip: port 0 -> port 64
    _no_sync(bytes(bad[1:]))
    out.append(("bad-crc-payload-bit", "h2b", "OFF_HOOK with one payload bit flipped, then "
                "ON_HOOK", bytes(bad) + on_hook,
                ["bad_crc:1", f"garbage:{len(bad) - 1}", "ON_HOOK"]))

    bad = bytearray(frame(0x10, 1, u8(0)))
    bad[8] ^= 0xFF
    _no_sync(bytes(bad[1:]))
    out.append(("bad-header-crc", "h2b", "OFF_HOOK with a wrong header CRC (all garbage), then "
                "ON_HOOK", bytes(bad) + on_hook, [f"garbage:{len(bad)}", "ON_HOOK"]))

    for length, name in ((0xFFFF, "oversize"), (MAX_PAYLOAD + 1, "oversize-by-one")):
        header = SYNC + struct.pack("<BBHH", 1, 0x70, 9, length)
        head = header + u16(crc(header))
        _no_sync(head[1:])
        out.append((name, "b2h", f"a header with a good CRC and length {length} "
                    f"(> {MAX_PAYLOAD}), then KEEPALIVE", head + ka,
                    ["oversize:1", f"garbage:{len(head) - 1}", "KEEPALIVE"]))

    full = frame(0x70, 20, audio(200, range(32)))
    cut = full[:110]
    _no_sync(cut[1:])
    out.append(("torn-audio", "b2h", "an AUDIO_RX cut off after 110 of 5144 bytes (board reset), "
                "then KEEPALIVE and RING_ON inside its extent", cut + ka + ring_on,
                ["torn:110", "KEEPALIVE", "RING_ON"]))

    flash = frame(0x12, 4, u8(2) + u16(600))
    cut = flash[:11]
    _no_sync(cut[1:])
    out.append(("torn-short", "h2b", "a HOOK_FLASH cut off after 11 of 15 bytes, then KEEPALIVE "
                "(ends past the extent, so the cut frame fails its CRC)", cut + ka,
                ["bad_crc:1", "garbage:10", "KEEPALIVE"]))

    inner = frame(0x03, 7, u32(77))
    samples = pattern(0, 0)[:40] + inner + pattern(0, 0)[40 + len(inner):]
    outer = frame(0x70, 30, struct.pack("<IQ", 300, 1) + samples)
    j = outer.index(inner)
    rest = len(outer) - j - len(inner)
    _no_sync(outer[1:j], outer[j + len(inner):])
    out.append(("frame-inside-audio", "b2h", "an AUDIO_RX whose samples hold a complete "
                "KEEPALIVE: taken as torn (the SPEC 3 limit), then RING_ON", outer + ring_on,
                [f"torn:{j}", "KEEPALIVE", f"garbage:{rest}", "RING_ON"]))

    for mtype in (0x7F, 0x00, 0xFF):
        bad = frame(mtype, 5, b"\x01\x02")
        out.append((f"unknown-type-{mtype:02x}", "b2h", f"a sound frame of reserved type "
                    f"0x{mtype:02X}, then KEEPALIVE", bad + ka,
                    [f"unknown_type:{len(bad)}:seq=5:type=0x{mtype:02x}", "KEEPALIVE"]))

    bad = frame(0x03, 6, u32(1), version=2)
    out.append(("bad-version", "b2h", "a KEEPALIVE of version 2, then a good one", bad + ka,
                [f"bad_version:{len(bad)}:seq=6:type=0x03", "KEEPALIVE"]))

    bad = frame(0x40, 7, u16(1))
    out.append(("wrong-direction-ack", "h2b", "an ACK (board to host) sent to the board",
                bad + on_hook, [f"wrong_direction:{len(bad)}:seq=7:type=0x40", "ON_HOOK"]))
    bad = frame(0x01, 8, u32(1))
    out.append(("wrong-direction-hello", "b2h", "a HELLO (host to board) sent to the host",
                bad + ka, [f"wrong_direction:{len(bad)}:seq=8:type=0x01", "KEEPALIVE"]))

    bad_payloads = [
        ("off-hook-empty", "h2b", 0x10, b"", "OFF_HOOK with no payload"),
        ("off-hook-long", "h2b", 0x10, u8(1) + u8(0), "OFF_HOOK with a byte too many"),
        ("off-hook-port-64", "h2b", 0x10, u8(64), "OFF_HOOK port 64"),
        ("keepalive-short", "b2h", 0x03, u16(1), "KEEPALIVE with a 2-byte tick"),
        ("hook-flash-short", "h2b", 0x12, u8(1) + u16(49), "HOOK_FLASH of 49 ms"),
        ("hook-flash-long", "h2b", 0x12, u8(1) + u16(2001), "HOOK_FLASH of 2001 ms"),
        ("ring-no-steps", "h2b", 0x13, u8(1) + u8(0), "RING with an empty cadence"),
        ("ring-five-steps", "h2b", 0x13, u8(1) + u8(5) + (u16(100) + u16(100)) * 5,
         "RING with 5 cadence pairs"),
        ("ring-zero-on", "h2b", 0x13, u8(1) + u8(1) + u16(0) + u16(100), "RING with 0 ms on"),
        ("ring-count-mismatch", "h2b", 0x13, u8(1) + u8(2) + u16(100) + u16(100),
         "RING announcing 2 pairs, carrying 1"),
        ("set-polarity-2", "h2b", 0x15, u8(1) + u8(2), "SET_POLARITY 2"),
        ("set-gain-high", "h2b", 0x16, u8(1) + s16(121) + s16(0), "SET_GAIN rx +12.1 dB"),
        ("set-gain-low", "h2b", 0x16, u8(1) + s16(0) + s16(-241), "SET_GAIN tx -24.1 dB"),
        ("connect-same", "h2b", 0x18, u8(3) + u8(3), "CONNECT a port to itself"),
        ("listen-same", "h2b", 0x19, u8(3) + u8(3), "LISTEN to itself"),
        ("set-abcd-16", "h2b", 0x1C, u8(1) + u8(16), "SET_ABCD with an upper bit set"),
        ("error-code-0", "b2h", 0x41, u16(1) + u8(0) + u8(0xFF), "ERROR code 0"),
        ("error-code-12", "b2h", 0x41, u16(1) + u8(12) + u8(0xFF), "ERROR code 12"),
        ("error-port-64", "b2h", 0x41, u16(1) + u8(3) + u8(64), "ERROR naming port 64"),
        ("hook-2", "b2h", 0x44, u8(1) + u8(2) + u32(0), "HOOK off_hook 2"),
        ("alarms-span-8", "b2h", 0x49, u8(8) + u8(1) + u32(0), "ALARMS span 8"),
        ("alarms-upper-bits", "b2h", 0x49, u8(0) + u8(0x10) + u32(0), "ALARMS bit 0x10"),
        ("abcd-16", "b2h", 0x4A, u8(1) + u8(0x10) + u32(0), "ABCD with an upper bit set"),
        ("audio-short", "b2h", 0x70, audio(1, [0, 1])[:-1], "AUDIO_RX a byte short of 2 ports"),
        ("audio-long", "b2h", 0x70, audio(1, [0]) + b"\x80", "AUDIO_RX a byte over 1 port"),
        ("audio-mask-mismatch", "h2b", 0x71, struct.pack("<IQ", 1, 0b111) + pattern(0, 1) * 2,
         "AUDIO_TX with 3 ports in the mask and 2 ports of bytes"),
        ("capabilities-no-ports", "b2h", 0x02, capabilities(1, "X", (1, 0, 0), "S", 0, []),
         "CAPABILITIES with 0 ports"),
        ("capabilities-bad-utf8", "b2h", 0x02,
         capabilities(1, "X", (1, 0, 0), "S", 0, [(FXO, ALAW, 0xFF, 0)]).replace(
             b"\x01X", b"\x01\xff"), "CAPABILITIES whose model is not UTF-8"),
        ("capabilities-kind-4", "b2h", 0x02,
         capabilities(1, "X", (1, 0, 0), "S", 0, [(4, ALAW, 0xFF, 0)]), "a port of kind 4"),
        ("capabilities-law-3", "b2h", 0x02,
         capabilities(1, "X", (1, 0, 0), "S", 0, [(FXS, 3, 0xFF, 0)]), "a port of law 3"),
        ("capabilities-e1-ts16", "b2h", 0x02,
         capabilities(1, "X", (1, 0, 0), "S", 0, [(E1, ALAW, 0, 16)]), "an E1 port on TS16"),
        ("capabilities-fxo-span", "b2h", 0x02,
         capabilities(1, "X", (1, 0, 0), "S", 0, [(FXO, ALAW, 0, 0)]),
         "an FXO port with a span"),
    ]
    for vid, direction, mtype, payload, desc in bad_payloads:
        bad = frame(mtype, 9, payload)
        good = on_hook if direction == "h2b" else ka
        name = "ON_HOOK" if direction == "h2b" else "KEEPALIVE"
        out.append((f"bad-payload-{vid}", direction, f"{desc} (bad payload), then {name}",
                    bad + good, [f"bad_payload:{len(bad)}:seq=9:type=0x{mtype:02x}", name]))

    out.append(("duplicate", "b2h", "the same KEEPALIVE twice (seq is never a reason to reject)",
                ka + ka, ["KEEPALIVE", "KEEPALIVE"]))

    ins = ka[:12] + b"\x00" + ka[12:]
    _no_sync(ins[1:])
    out.append(("inserted-byte", "b2h", "a KEEPALIVE with a byte inserted in its payload, then "
                "RING_ON", ins + ring_on, ["bad_crc:1", f"garbage:{len(ins) - 1}", "RING_ON"]))

    lost = ka[:12] + ka[13:]
    _no_sync(lost[1:])
    out.append(("lost-byte", "b2h", "a KEEPALIVE missing a payload byte, then RING_ON (its "
                "extent reaches one byte into RING_ON)", lost + ring_on,
                ["bad_crc:1", f"garbage:{len(lost) - 1}", "RING_ON"]))

    noise = b"VB\x01\x03\x00\x00\x04\x00\x12\x34" + b"VB" + bytes(5)
    out.append(("noise-with-sync", "b2h", "noise holding the sync pair twice (bad header CRCs), "
                "then KEEPALIVE", noise + ka, [f"garbage:{len(noise)}", "KEEPALIVE"]))

    out.append(("trailing-sync-byte", "b2h", "a KEEPALIVE and a lone 0x56 that may start the "
                "next frame", ka + b"\x56", ["KEEPALIVE", "buffered:1"]))

    out.append(("trailing-garbage", "b2h", "a KEEPALIVE and 3 bytes of garbage, still open at "
                "the end", ka + b"\x01\x02\x03", ["KEEPALIVE", "pending:3"]))

    out.append(("incomplete", "b2h", "the first 14 bytes of a KEEPALIVE: nothing yet",
                ka[:14], ["buffered:14"]))
    return out


def render(entries):
    lines = []
    for vid, direction, desc, data in entries:
        lines.append(f"# {vid} {direction}: {desc}")
        lines.append(data.hex(" "))
    return "\n".join(lines) + "\n"


HEAD_VALID = ("# voiceboard-v1 golden frames, SPEC.md section 10: each vector is exactly one sound\n"
              "# frame of a defined type. Written by tests/drivers/protocol/vectorgen.py.\n")
HEAD_INVALID = ("# voiceboard-v1 invalid streams, SPEC.md section 10. Each description ends in\n"
                "# '-> ' and the outcome the codec must give, in stream order: a MESSAGE_TYPE\n"
                "# name for a delivered frame, fault:nbytes[:seq=N:type=0xTT] for an error,\n"
                "# and at the end buffered:N (bytes waiting) / pending:N (open garbage run).\n"
                "# Written by tests/drivers/protocol/vectorgen.py.\n")


def valid_text():
    return HEAD_VALID + render(
        (vid, d, desc, frame(t, seq, payload)) for vid, d, desc, t, seq, payload in VALID)


def invalid_text():
    return HEAD_INVALID + render(
        (vid, d, f"{desc} -> {' '.join(expect)}", data) for vid, d, desc, data, expect in invalid())


if __name__ == "__main__":
    VECTORS.mkdir(parents=True, exist_ok=True)
    (VECTORS / "valid.txt").write_text(valid_text())
    (VECTORS / "invalid.txt").write_text(invalid_text())
    print(f"wrote {len(VALID)} valid and {len(invalid())} invalid vectors to {VECTORS}")

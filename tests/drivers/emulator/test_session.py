"""The virtual board behind the wire: a host codec talks voiceboard-v1 to a BoardSession,
byte for byte, as a host would over a pty or a socket."""

import numpy as np
import pytest

from appliance.drivers.emulator import (
    BoardModel, CallerSpec, ExchangeConfig, HangUp, LineConfig, Press, VirtualBoard, Wait,
)
from appliance.drivers.emulator.session import BoardSession
from appliance.drivers.protocol import messages as wire
from appliance.drivers.protocol.codec import Codec, Role
from appliance.drivers.protocol.v1 import ErrorCode, Law, PortKind
from appliance.dsp import g711
from appliance.dtmf import DtmfDetector, generate


class HostLink:
    """A host's codec joined to a BoardSession in-process."""

    def __init__(self, board):
        self.board = board
        self.session = BoardSession(board)
        self.codec = Codec(Role.HOST)
        self.received = []  # messages from the board, in order

    def send(self, message, chunk=None):
        data = self.codec.encode(message)
        out = b""
        if chunk:  # one byte (or a few) at a time, as a slow link delivers them
            for i in range(0, len(data), chunk):
                out += self.session.receive(data[i:i + chunk])
        else:
            out = self.session.receive(data)
        return self._take(out)

    def tick(self):
        return self._take(self.session.tick())

    def _take(self, data):
        frames = self.codec.feed(data)
        assert all(isinstance(f, wire.Frame) for f in frames), frames
        messages = [f.message for f in frames]
        self.received += messages
        return messages


def board(spec="2fxo+2fxs", **kw):
    return VirtualBoard(BoardModel.from_ports(spec), ExchangeConfig(LineConfig(caller_id="dtmf")),
                        **kw)


def test_commands_before_hello_get_no_session():
    link = HostLink(board())
    seq = link.codec.next_seq
    assert link.send(wire.OffHook(0)) == [wire.Error(seq, ErrorCode.NO_SESSION)]
    assert link.tick() == []  # nothing unsolicited before a session


def test_hello_answers_capabilities_from_the_model():
    link = HostLink(VirtualBoard(BoardModel.from_ports("1e1+1fxo+1fxs", law="ulaw",
                                                       serial="SN-42")))
    for _ in range(7):
        link.tick()
    (caps,) = link.send(wire.Hello(0xC0FFEE), chunk=1)
    assert caps.session == 0xC0FFEE and caps.model == "VB-1E11FXO1FXS"
    assert caps.serial == "SN-42" and str(caps.firmware) == "1.0.0" and caps.tick == 7
    assert len(caps.ports) == 32
    assert caps.ports[0] == wire.PortInfo(PortKind.E1, Law.ULAW, 0, 1)
    assert caps.ports[29] == wire.PortInfo(PortKind.E1, Law.ULAW, 0, 31)
    assert caps.ports[30] == wire.PortInfo(PortKind.FXO, Law.ULAW, 0xFF, 0)
    assert caps.ports[31] == wire.PortInfo(PortKind.FXS, Law.ULAW, 0xFF, 0)
    assert link.tick() == [wire.Alarms(0, wire.Alarm(0), 7)]  # once per span at session start


def test_a_call_over_the_wire():
    b = board()
    b.add_caller(CallerSpec("c", 0, at=5, number="13800138000",
                            actions=(Wait(1.0), Press("42"), Wait(1.0), HangUp())))
    link = HostLink(b)
    link.send(wire.Hello(1))
    seq = link.codec.next_seq
    assert link.send(wire.SelectAudio.of([0])) == [wire.Ack(seq)]
    detector, digits, answered, rings = DtmfDetector(), [], None, 0
    prompt = g711.alaw_encode(generate("7", level_dbm0=-10.0))
    for _ in range(800):
        for msg in link.tick():
            rings += isinstance(msg, wire.RingOn)
            if isinstance(msg, wire.RingOn) and rings == 2:  # after the caller ID
                seq = link.codec.next_seq
                assert link.send(wire.OffHook(0)) == [wire.Ack(seq)]
                answered = b.now
            elif isinstance(msg, wire.AudioRx):
                assert msg.ports == (0,) and len(msg.samples) == 160
                digits += detector.feed(g711.alaw_decode(msg.as_array()[0]))
                # The host answers each AUDIO_RX with its AUDIO_TX for the same tick
                # (silence, or its prompt once it has answered).
                chunk = np.full(160, 0xD5, np.uint8)
                offset = (msg.tick - answered) * 160 if answered is not None else -1
                if 0 <= offset < prompt.size:
                    part = prompt[offset:offset + 160]
                    chunk[:part.size] = part
                link.send(wire.AudioTx.from_ports(msg.tick, {0: chunk.tobytes()}))
            elif isinstance(msg, wire.PolarityChange):
                link.send(wire.OnHook(0))
    report = b.report().caller("c")
    assert [wire.RingOn(0, 5), wire.RingOff(0, 55), wire.RingOn(0, 255), wire.RingOff(0, 256)] \
        == [m for m in link.received if isinstance(m, (wire.RingOn, wire.RingOff))]
    # Caller ID in the first silence, then the caller's keys, all through the AUDIO_RX frames.
    assert "".join(d.digit for d in digits) == "A13800138000C42"
    assert report.digits_heard == "7"
    # The host's audio for tick t played at t + 2 (PLAYOUT_DELAY).
    assert report.digit_events[0].start == pytest.approx((answered + 2) * 0.02, abs=0.015)
    assert report.hung_up_by.value == "caller"
    # 1 s + two 200 ms keys + 1 s after the answer, the caller hangs up: polarity reversal.
    assert wire.PolarityChange(0, wire.Polarity.REVERSED, answered + 120) in link.received
    assert link.session.late == link.session.early == 0


def test_flash_acknowledged_when_done_and_line_readings_in_tenths():
    link = HostLink(board())
    link.send(wire.Hello(2))
    link.send(wire.OffHook(0))
    seq = link.codec.next_seq
    assert link.send(wire.HookFlash(0, 100)) == []
    replies = []
    for _ in range(6):
        replies += [m for m in link.tick() if isinstance(m, wire.Ack)]
    assert replies == [wire.Ack(seq)]
    seq = link.codec.next_seq
    assert link.send(wire.ReadLine(0)) == [wire.LineReading(seq, 0, 90, 250)]
    seq = link.codec.next_seq
    assert link.send(wire.Ring(0, ((1000, 4000),))) == [
        wire.Error(seq, ErrorCode.WRONG_PORT_KIND, 0)]
    seq = link.codec.next_seq
    assert link.send(wire.SetGain(2, -60, 30)) == [wire.Ack(seq)]
    assert b_state(link, 2).rx_gain_db == -6.0 and b_state(link, 2).tx_gain_db == 3.0
    seq = link.codec.next_seq
    assert link.send(wire.Ring(3, ((400, 200), (400, 2000)))) == [wire.Ack(seq)]
    link.tick()
    assert b_state(link, 3).ringing


def b_state(link, port):
    return link.board.port_state(port)


def test_late_and_early_audio_is_dropped_and_counted():
    link = HostLink(board())
    link.send(wire.Hello(3))
    for _ in range(20):
        link.tick()
    now = link.board.now
    frame = {0: b"\x00" * 160}
    link.send(wire.AudioTx.from_ports(now - 3, frame))  # would play at now - 1: late
    link.send(wire.AudioTx.from_ports(now + 7, frame))  # plays at now + 9: early
    link.send(wire.AudioTx.from_ports(now + 6, frame))  # plays at now + 8: in time
    link.send(wire.AudioTx.from_ports(now, {0: b"\x00" * 160, 9: b"\x00" * 160}))  # no port 9
    assert (link.session.late, link.session.early) == (1, 1)
    assert sorted(link.session.playout) == [now + 2, now + 8]
    assert set(link.session.playout[now + 2]) == {0}


def test_keepalive_when_idle_and_host_lost_after_one_second():
    b = board()
    link = HostLink(b)
    link.send(wire.Hello(4))
    link.send(wire.OffHook(0))
    sent = [link.tick() for _ in range(50)]  # ticks 0-49
    keepalives = [i for i, msgs in enumerate(sent) if msgs and
                  isinstance(msgs[0], wire.Keepalive)]
    assert keepalives[:3] == [10, 20, 30]  # every 200 ms when nothing else goes out
    assert link.session.active and b.port_state(0).off_hook
    link.tick()  # tick 50: 1000 ms since the host's last frame
    assert not link.session.active and not b.port_state(0).off_hook
    assert link.session.hosts_lost == 1
    seq = link.codec.next_seq
    assert link.send(wire.OffHook(0)) == [wire.Error(seq, ErrorCode.NO_SESSION)]
    assert link.send(wire.Hello(5))[0].session == 5  # a new session


def test_garbage_is_skipped_and_a_bad_frame_answered():
    link = HostLink(board())
    link.send(wire.Hello(6))
    seq = link.codec.next_seq
    data = link.codec.encode(wire.OffHook(0))
    out = link._take(link.session.receive(b"\x56\x42garbage\x00\xff" + data))
    assert out == [wire.Ack(seq)]
    # A sound frame with a payload that does not fit its type: ERROR BAD_PAYLOAD.
    seq = link.codec.next_seq
    good = bytearray(link.codec.encode(wire.OffHook(1)))
    bad = _with_payload(good, b"\x01\x02")
    assert link._take(link.session.receive(bad)) == [wire.Error(seq, ErrorCode.BAD_PAYLOAD)]
    assert link.session.codec.stats.total_errors >= 2


def _with_payload(frame, payload):
    """The frame re-packed with another payload, both CRCs right (a sound frame)."""
    import binascii
    import struct

    header = bytes(frame[:6]) + struct.pack("<H", len(payload))
    header += struct.pack("<H", binascii.crc_hqx(header, 0xFFFF))
    body = header + payload
    return body + struct.pack("<H", binascii.crc_hqx(body, 0xFFFF))

"""The emulator's end of voiceboard-v1, driven byte by byte as a host would (no I/O, no
clock: `now` is a number the test passes)."""

import numpy as np
import pytest

from appliance.drivers.emulated_board import BoardSession, emulated_board, lay_cable
from appliance.drivers.emulator import BoardModel, EmulatorError, VirtualBoard
from appliance.drivers.protocol import (
    Ack, Alarms, AudioRx, AudioTx, Capabilities, Codec, Connect, Error, ErrorCode, Hello,
    Hook, HookFlash, Keepalive, LineReading, OffHook, OnHook, PolarityChange, ReadLine,
    Reset, Ring, RingOff, RingOn, Role, SelectAudio, SetGain, SetPolarity, StopRing,
)
from appliance.drivers.protocol.v1 import crc16
from appliance.dsp import g711
from appliance.dtmf import DtmfDetector, generate


class Host:
    """A host codec wired to a session; `now` advances 20 ms per step."""

    def __init__(self, session):
        self.session = session
        self.codec = Codec(Role.HOST)
        self.now = 0.0
        self.received = []

    def send(self, *messages):
        for m in messages:
            self.session.receive(self.codec.encode(m), self.now)
        return self.codec.last_seq

    def pump(self):
        got = [f.message for f in self.codec.feed(self.session.take_output())]
        self.received += got
        return got

    def step(self, n=1):
        got = []
        for _ in range(n):
            self.now += 0.02
            self.session.step(self.now)
            got += self.pump()
        return got

    def answer(self, ref):
        return next(m for m in self.received if getattr(m, "ref_seq", None) == ref)


def hello(session, sid=42):
    host = Host(session)
    host.send(Hello(sid))
    caps = host.pump()
    return host, caps


def test_hello_is_answered_by_capabilities_of_the_model():
    session = emulated_board("2fxo+2fxs+1e1")
    host, got = hello(session)
    (caps,) = got
    assert isinstance(caps, Capabilities) and caps.session == 42
    assert caps.model == session.board.model.model and str(caps.firmware) == "1.0.0"
    assert [int(p.kind) for p in caps.ports[:4]] == [1, 1, 2, 2]
    e1 = caps.ports[4:]
    assert len(e1) == 30 and {p.span for p in e1} == {0}
    assert [p.timeslot for p in e1] == [*range(1, 16), *range(17, 32)]
    assert all((p.span, p.timeslot) == (0xFF, 0) for p in caps.ports[:4])
    # An E1 board reports each span's alarms at session start (SPEC 7).
    assert any(isinstance(m, Alarms) and m.span == 0 for m in host.step())


def test_before_hello_every_frame_gets_no_session_and_nothing_is_sent():
    session = emulated_board("1fxo")
    host = Host(session)
    seq = host.send(OffHook(0))
    host.pump()
    assert host.answer(seq) == Error(seq, ErrorCode.NO_SESSION, 0)
    assert host.step(20) == []  # nothing unsolicited without a session


def test_commands_map_to_the_board_and_answers_carry_the_seq():
    session = emulated_board("2fxo+2fxs")
    host, _ = hello(session)
    seqs = [host.send(OffHook(0)), host.send(SetGain(1, -60, 35)),
            host.send(ReadLine(0)), host.send(Ring(0, ((1000, 4000),))),
            host.send(OffHook(2)), host.send(ReadLine(7)), host.send(Connect(0, 2))]
    host.pump()
    assert host.answer(seqs[0]) == Ack(seqs[0])
    assert host.answer(seqs[1]) == Ack(seqs[1])
    assert session.board.port_state(1).rx_gain_db == pytest.approx(-6.0)
    assert session.board.port_state(1).tx_gain_db == pytest.approx(3.5)
    reading = host.answer(seqs[2])
    assert isinstance(reading, LineReading) and (reading.voltage, reading.current) == (90, 250)
    assert host.answer(seqs[3]) == Error(seqs[3], ErrorCode.WRONG_PORT_KIND, 0)
    assert host.answer(seqs[4]) == Error(seqs[4], ErrorCode.WRONG_PORT_KIND, 2)
    assert host.answer(seqs[5]) == Error(seqs[5], ErrorCode.BAD_PORT, 7)
    assert host.answer(seqs[6]) == Ack(seqs[6])


def test_a_frame_that_fails_rule_6_is_answered_with_error():
    session = emulated_board("1fxo")
    host, _ = hello(session)
    # A sound frame of an unknown type (0x3F), seq 9, empty payload.
    header = b"VB\x01\x3f\x09\x00\x00\x00"
    head = header + crc16(header).to_bytes(2, "little")
    session.receive(head + crc16(head).to_bytes(2, "little"), 0.0)
    assert host.pump() == [Error(9, ErrorCode.UNKNOWN_TYPE)]


def test_hook_flash_is_acknowledged_when_done():
    session = emulated_board("1fxo")
    host, _ = hello(session)
    host.send(OffHook(0))
    seq = host.send(HookFlash(0, 300))
    host.pump()
    assert all(getattr(m, "ref_seq", None) != seq for m in host.received)
    host.step(14)
    assert all(getattr(m, "ref_seq", None) != seq for m in host.received)
    host.step(2)
    assert host.answer(seq) == Ack(seq)


def test_audio_rx_every_tick_with_the_selected_ports_and_tx_plays_two_ticks_later():
    session = emulated_board("2fxs+2fxo", cables=[(0, 2)])
    host, _ = hello(session)
    host.send(Ring(0, ((100, 100),)))
    host.step(3)
    host.send(OffHook(2), SelectAudio.of([0, 2]))
    host.step(2)
    tone = g711.alaw_encode(generate("5", level_dbm0=-10.0, on_ms=200.0, off_ms=0.0))
    detector, heard = DtmfDetector(), []
    frames = [m for m in host.step(1) if isinstance(m, AudioRx)]
    for i in range(12):
        (rx,) = frames
        assert rx.ports == (0, 2) and len(rx.samples) == 320
        heard += detector.feed(g711.alaw_decode(rx.as_array()[1]))
        chunk = tone[i * 160:(i + 1) * 160] if i < 10 else np.full(160, 0xD5, np.uint8)
        host.send(AudioTx.from_ports(rx.tick, {0: chunk.tobytes()}))
        frames = [m for m in host.step(1) if isinstance(m, AudioRx)]
    for _ in range(10):
        (rx,) = frames
        heard += detector.feed(g711.alaw_decode(rx.as_array()[1]))
        frames = [m for m in host.step(1) if isinstance(m, AudioRx)]
    assert [e.digit for e in heard] == ["5"]
    assert session.stats.audio_late == session.stats.audio_early == 0


def test_late_and_early_audio_tx_are_dropped_and_counted():
    session = emulated_board("1fxs")
    host, _ = hello(session)
    host.step(20)
    now = session.board.now
    host.send(AudioTx.from_ports(now - 5, {0: bytes(160)}))
    host.send(AudioTx.from_ports(now + 9, {0: bytes(160)}))
    host.send(AudioTx.from_ports(now - 1, {0: bytes(160)}))
    assert (session.stats.audio_late, session.stats.audio_early) == (1, 1)


def test_events_become_wire_events_with_their_tick():
    session = emulated_board("1fxs+1fxo", cables=[(0, 1)])
    host, _ = hello(session)
    host.send(Ring(0, ((200, 200),)))
    got = host.step(12)
    ons = [m for m in got if isinstance(m, RingOn)]
    offs = [m for m in got if isinstance(m, RingOff)]
    assert ons and offs and offs[0].tick - ons[0].tick == 10 and ons[0].port == 1
    host.send(OffHook(1))
    hooks = [m for m in host.step(2) if isinstance(m, Hook)]
    assert hooks and hooks[0].port == 0 and hooks[0].off_hook is True
    host.send(SetPolarity(0, 1))
    pol = [m for m in host.step(2) if isinstance(m, PolarityChange)]
    assert pol and pol[0].port == 1 and int(pol[0].polarity) == 1
    host.send(StopRing(0), OnHook(1))
    assert [m.off_hook for m in host.step(2) if isinstance(m, Hook)] == [False]


def test_keepalive_every_5_ticks_in_real_time_and_every_tick_on_a_virtual_clock():
    real = emulated_board("1fxo")
    host, _ = hello(real)
    assert sum(isinstance(m, Keepalive) for m in host.step(40)) == 8
    virtual = emulated_board("1fxo", virtual=True)
    vhost, _ = hello(virtual)
    seen = []
    for _ in range(50):
        assert virtual.may_tick()
        seen += [m for m in vhost.step() if isinstance(m, Keepalive)]
        vhost.send(Keepalive(seen[-1].tick))  # the host consumed it
    assert [m.tick for m in seen] == list(range(50))


def test_virtual_clock_waits_for_the_host_two_ticks_ahead():
    session = emulated_board("1fxo", virtual=True)
    host, _ = hello(session)
    host.step(2)  # ticks 0 and 1 run before the host has answered anything
    assert not session.may_tick()
    host.send(Keepalive(0))
    assert session.may_tick()
    host.step()
    assert not session.may_tick()


def test_a_silent_host_is_lost_after_one_second_and_hello_starts_again():
    session = emulated_board("1fxo")
    host, _ = hello(session)
    host.send(SelectAudio.of([0]), OffHook(0))
    host.step(49)
    assert session.active and session.board.port_state(0).off_hook
    host.step(1)  # 50 ticks = 1.0 s of `now` with no frame from the host
    assert not session.active and session.stats.host_lost == 1
    assert not session.board.port_state(0).off_hook
    assert host.step(10) == []
    seq = host.send(ReadLine(0))
    host.pump()
    assert host.answer(seq) == Error(seq, ErrorCode.NO_SESSION, 0)
    host.send(Hello(43))
    assert isinstance(host.pump()[0], Capabilities) and session.active


def test_reset_clears_the_session_state_and_is_acknowledged():
    session = emulated_board("1fxo")
    host, _ = hello(session)
    host.send(OffHook(0))
    seq = host.send(Reset())
    host.pump()
    assert host.answer(seq) == Ack(seq) and not session.board.port_state(0).off_hook


def test_output_is_dropped_not_buffered_without_bound_when_nobody_reads():
    session = BoardSession(VirtualBoard(BoardModel.from_ports("8fxo")), max_output=20000)
    host = Host(session)
    host.send(Hello(1), SelectAudio.of(range(8)))
    for _ in range(40):
        session.step(0.0)
    assert len(session.take_output()) <= 20000 and session.stats.dropped_output_bytes > 0


def test_a_cable_needs_an_fxs_and_an_fxo_port():
    board = VirtualBoard(BoardModel.from_ports("2fxo+2fxs"))
    with pytest.raises(EmulatorError, match="not FXS"):
        lay_cable(board, 0, 1)
    lay_cable(board, 2, 0)
    with pytest.raises(EmulatorError, match="already cabled"):
        lay_cable(board, 2, 1)

"""The virtual board driven as a host drives it: commands and their replies, the switch,
gains, G.711 laws, hook flash, line readings, E1 channels and session start."""

import numpy as np
import pytest

from appliance.drivers.emulator import (
    AbcdChanged, Ack, Alarm, AlarmsChanged, BoardModel, CallerSpec, Completed, Connect,
    Disconnect, EmulatorError, ErrorCode, ExchangeConfig, HookFlash, Law, LineConfig,
    LineReading, Listen, OffHook, OnHook, ReadLine, Rejected, Ring, RingStarted, SelectAudio,
    SetAbcd, SetGain, SetPolarity, StopRing, Talk, VirtualBoard, Wait,
)
from appliance.dsp.tonegen import ToneStep, render

from ._host import Host, rms

FXO, FXS = 0, 2  # on a "2fxo+2fxs" board: ports 0-1 FXO, 2-3 FXS


def board(spec="2fxo+2fxs", law="alaw", **kw):
    return VirtualBoard(BoardModel.from_ports(spec, law=law),
                        ExchangeConfig(LineConfig(caller_id="dtmf")), **kw)


def tone(seconds=1.0, level=-10.0, freq=1004.0):
    return render([ToneStep((freq,), (level,), on_ms=seconds * 1000.0)])


@pytest.mark.parametrize("command, code", [
    (Ring(FXO, ((1000, 4000),)), ErrorCode.WRONG_PORT_KIND),
    (SetPolarity(FXO, 1), ErrorCode.WRONG_PORT_KIND),
    (OffHook(FXS), ErrorCode.WRONG_PORT_KIND),
    (HookFlash(FXS, 300), ErrorCode.WRONG_PORT_KIND),
    (SetAbcd(FXO, 1), ErrorCode.WRONG_PORT_KIND),
    (OffHook(4), ErrorCode.BAD_PORT),
    (Connect(0, 9), ErrorCode.BAD_PORT),
    (Connect(1, 1), ErrorCode.BAD_VALUE),
    (SelectAudio(frozenset({0, 64})), ErrorCode.BAD_PORT),
    (SetGain(0, 12.5, 0.0), ErrorCode.BAD_VALUE),
    (SetGain(0, 0.0, -24.1), ErrorCode.BAD_VALUE),
    (HookFlash(FXO, 300), ErrorCode.WRONG_STATE),
    (Ring(FXS, ((0, 4000),)), ErrorCode.BAD_VALUE),
    (Ring(FXS, ((1000, 1000),) * 5), ErrorCode.BAD_VALUE),
    (SetPolarity(FXS, 2), ErrorCode.BAD_VALUE),
], ids=lambda v: type(v).__name__ if not isinstance(v, ErrorCode) else v.name)
def test_commands_refused_with_the_wire_error_code(command, code):
    reply = board().apply(command)
    assert isinstance(reply, Rejected) and reply.code is code and reply.reason


def test_flash_duration_and_unknown_commands():
    b = board()
    b.apply(OffHook(FXO))
    assert b.apply(HookFlash(FXO, 49)).code is ErrorCode.BAD_VALUE
    assert b.apply(HookFlash(FXO, 2001)).code is ErrorCode.BAD_VALUE
    with pytest.raises(EmulatorError, match="not a board command"):
        b.apply("OFF_HOOK 0")


def test_ring_refused_while_the_station_is_off_hook():
    b = board()
    from appliance.drivers.emulator import PhoneSpec

    b.add_phone(PhoneSpec("agent", FXS, calls=((0, (Wait(10.0),)),)))
    b.tick()
    assert b.apply(Ring(FXS, ((1000, 4000),))).code is ErrorCode.WRONG_STATE


def test_hook_flash_is_acknowledged_when_done():
    b = board()
    host = Host(b)
    assert b.apply(OffHook(FXO)) == Ack()
    start = b.now
    assert b.apply(HookFlash(FXO, 300), ref=77) is None
    assert b.apply(ReadLine(FXO)).current_ma == 0.0  # loop open during the flash
    assert b.apply(HookFlash(FXO, 300)).code is ErrorCode.WRONG_STATE
    host.run(15)  # 300 ms: ticks start .. start + 14 with the loop open
    assert host.replies == []
    assert host.step().replies == (Completed(77, Ack()),)
    assert b.now - 1 == start + 15
    assert b.apply(ReadLine(FXO)).current_ma > 0
    b.finish()
    assert b.report().lines[0].flashes == (start * 0.02,)


def test_line_readings_follow_hook_and_polarity():
    b = board()
    on = b.apply(ReadLine(FXO))
    assert on == LineReading(FXO, 48.0, 0.0)
    b.apply(OffHook(FXO))
    off = b.apply(ReadLine(FXO))
    assert 0 < off.voltage_v < on.voltage_v and off.current_ma > 0
    b.apply(SetPolarity(FXS, 1))
    assert b.apply(ReadLine(FXS)).voltage_v < 0
    state = b.port_state(FXS)
    assert state.polarity == 1 and not state.off_hook


def test_host_audio_reaches_the_caller_and_caller_audio_reaches_the_host():
    b = board()
    b.add_caller(CallerSpec("c", FXO, at=0, actions=(Wait(0.5), Talk(2.0, -15.0))))
    host = Host(b, [FXO])
    host.run_until(lambda e: isinstance(e, RingStarted))
    b.apply(OffHook(FXO))
    answered = b.now
    host.play(FXO, tone(1.0, -10.0))
    host.run(200)
    heard = b.report().caller("c").heard
    assert heard.size == 200 * 160
    # The caller heard the tone through G.711 at its level (0 dBm0 rms = 16141.6).
    assert 20 * np.log10(rms(heard[:8000]) / 16141.6) == pytest.approx(-10.0, abs=0.1)
    sent = host.audio(FXO, answered + 25)
    assert 20 * np.log10(rms(sent[sent != 8]) / 16141.6) > -25.0


def test_gains_apply_to_each_direction():
    b = board()
    b.add_caller(CallerSpec("c", FXO, at=0, actions=(Wait(60.0),)))
    host = Host(b, [FXO])
    host.run_until(lambda e: isinstance(e, RingStarted))
    b.apply(OffHook(FXO))
    assert b.apply(SetGain(FXO, 0.0, -6.0)) == Ack()
    host.play(FXO, tone(1.0, -10.0))
    host.run(60)
    heard = b.report().caller("c").heard
    assert 20 * np.log10(rms(heard[800:8000]) / rms(tone(0.9, -10.0))) == \
        pytest.approx(-6.0, abs=0.1)
    assert b.port_state(FXO).tx_gain_db == -6.0


def test_rx_gain_on_the_line_audio():
    b = board()
    b.add_caller(CallerSpec("c", FXO, at=0, actions=(Talk(3.0, -20.0),)))
    host = Host(b, [FXO])
    host.run_until(lambda e: isinstance(e, RingStarted))
    b.apply(OffHook(FXO))
    b.apply(SetGain(FXO, 6.0, 0.0))
    start = b.now
    host.run(150)
    sent = host.audio(FXO, start).astype(np.float64)
    b2 = board()
    b2.add_caller(CallerSpec("c", FXO, at=0, actions=(Talk(3.0, -20.0),)))
    host2 = Host(b2, [FXO])
    host2.run_until(lambda e: isinstance(e, RingStarted))
    b2.apply(OffHook(FXO))
    host2.run(150)
    plain = host2.audio(FXO, start).astype(np.float64)
    assert 20 * np.log10(rms(sent) / rms(plain)) == pytest.approx(6.0, abs=0.1)


@pytest.mark.parametrize("law", ["alaw", "ulaw"])
def test_idle_ports_send_the_laws_idle_code(law):
    b = board(law=law)
    b.apply(SelectAudio(frozenset({0, 1, 2, 3})))
    result = b.tick()
    assert result.ports == (0, 1, 2, 3) and result.rx.shape == (4, 160)
    assert (result.rx == Law[law.upper()].idle_code).all()


def test_mixed_law_board_encodes_each_port_in_its_own_law():
    from appliance.drivers.emulator.model import parse_model
    from appliance.drivers.emulator.errors import Reader

    model = parse_model({"ports": [{"kind": "fxo", "count": 1, "law": "ulaw"},
                                   {"kind": "fxo", "count": 1, "law": "alaw"}]}, Reader("t"))
    b = VirtualBoard(model, ExchangeConfig(LineConfig(caller_id="dtmf")))
    from appliance.drivers.emulator import Press

    for port in (0, 1):
        b.add_caller(CallerSpec(f"c{port}", port, at=0, actions=(Wait(0.5), Press("7"))))
    host = Host(b, [0, 1])
    host.run_until(lambda e: isinstance(e, RingStarted))
    for port in (0, 1):
        b.apply(OffHook(port))
        host.play(port, tone(0.4, -10.0))
    host.run(60)
    b.finish()
    # The host decodes each port in its own law (the Host helper) and finds the digit;
    # each caller hears the host's tone at its level through its own law.
    assert host.digit_string(0) == host.digit_string(1) == "7"
    for port in (0, 1):
        heard = b.report().caller(f"c{port}").heard[:3200]
        assert 20 * np.log10(rms(heard) / 16141.6) == pytest.approx(-10.0, abs=0.1)


def test_switch_connect_listen_disconnect():
    b = board("4fxo")
    for port in range(3):
        b.add_caller(CallerSpec(f"c{port}", port, at=0, actions=(Wait(30.0),)))
    host = Host(b)
    host.run_until(lambda e: isinstance(e, RingStarted))
    for port in range(3):
        b.apply(OffHook(port))
    # The host plays a different tone to each port; the switch overrides it.
    assert b.apply(Connect(0, 1)) == Ack()
    assert b.apply(Listen(2, 0)) == Ack()
    assert b.port_state(2).source == 0 and b.port_state(0).source == 1
    b.apply(Disconnect(1))
    assert b.port_state(0).source is None and b.port_state(1).source is None
    assert b.port_state(2).source == 0
    b.apply(Disconnect(2))
    assert [b.port_state(p).source for p in range(4)] == [None] * 4


def test_connected_callers_hear_each_other_and_a_listener_hears_one_way():
    from appliance.dtmf import generate
    from appliance.drivers.emulator import Press

    b = board("4fxo")
    b.add_caller(CallerSpec("a", 0, at=0, actions=(Wait(1.0), Press("1"), Wait(5.0))))
    b.add_caller(CallerSpec("b", 1, at=0, actions=(Wait(2.0), Press("2"), Wait(5.0))))
    b.add_caller(CallerSpec("spy", 2, at=0, actions=(Wait(1.5), Press("3"), Wait(5.0))))
    host = Host(b)
    host.run_until(lambda e: isinstance(e, RingStarted))
    for port in range(3):
        b.apply(OffHook(port))
        host.play(port, generate("9", level_dbm0=-10.0))  # overridden by the switch for 0-2
    b.apply(Connect(0, 1))
    b.apply(Listen(2, 0))
    host.run(300)
    b.finish()
    report = b.report()
    assert report.caller("a").digits_heard == "2"
    assert report.caller("b").digits_heard == "1"
    assert report.caller("spy").digits_heard == "1"  # hears a, is not heard by anyone


def test_host_audio_must_be_160_bytes_per_port():
    b = board()
    with pytest.raises(EmulatorError, match="160 G.711 bytes"):
        b.tick({0: b"\xd5" * 159})
    with pytest.raises(EmulatorError, match="lacks"):
        b.tick({7: b"\xd5" * 160})
    with pytest.raises(EmulatorError, match=r"uint8 \[4, 160\]"):
        b.tick(np.zeros((3, 160), np.uint8))
    assert b.tick({0: bytearray(b"\xd5" * 160), 1: np.full(160, 0xD5, np.uint8)}).tick == 0


def test_hello_resets_the_session_and_reports_span_alarms():
    b = board("1e1+1fxo+1fxs")
    fxo, fxs = 30, 31
    b.apply(OffHook(fxo))
    b.apply(Ring(fxs, ((1000, 4000),)))
    b.apply(Connect(fxo, 0))
    b.apply(SelectAudio(frozenset({fxo})))
    b.apply(SetGain(fxo, 3.0, 3.0))
    b.tick()
    b.hello()
    result = b.tick()
    assert result.events == (AlarmsChanged(0, Alarm(0), 1),)
    assert result.ports == ()
    assert not b.port_state(fxo).off_hook and b.port_state(fxs).ringing is False
    assert b.port_state(fxo).source is None and b.port_state(fxo).rx_gain_db == 0.0
    # RESET and a lost host do the same within the session, with no events.
    for reset in (b.reset, b.host_lost):
        b.apply(OffHook(fxo))
        b.apply(Connect(fxo, 0))
        reset()
        assert b.tick().events == ()
        assert not b.port_state(fxo).off_hook and b.port_state(fxo).source is None


def test_e1_span_channels_abcd_and_alarms():
    b = board("1e1")
    assert len(b.model.ports) == 30
    assert [p.timeslot for p in b.model.ports] == list(range(1, 16)) + list(range(17, 32))
    assert b.port_state(5).abcd_rx == 0b1001
    b.set_far_abcd(5, 0b0001)
    b.set_far_abcd(5, 0b0001)  # unchanged: no second event
    b.set_alarms(0, Alarm.LOS | Alarm.LOF)
    result = b.tick()
    assert result.events == (AbcdChanged(5, 0b0001, 0), AlarmsChanged(0, Alarm.LOS | Alarm.LOF, 0))
    assert b.apply(SetAbcd(5, 0b1101)) == Ack()
    assert b.port_state(5).abcd_tx == 0b1101
    assert b.apply(SetAbcd(5, 16)).code is ErrorCode.BAD_VALUE
    assert b.apply(OffHook(5)).code is ErrorCode.WRONG_PORT_KIND
    with pytest.raises(EmulatorError):
        b.set_far_abcd(40, 1)


def test_e1_loopback_returns_audio_and_abcd_unless_the_span_is_down():
    b = board("1e1", e1_loopback=True)
    host = Host(b, [3])
    b.apply(SetAbcd(3, 0b0101))
    host.play(3, tone(0.4, -10.0))
    host.run(20)
    assert AbcdChanged(3, 0b0101, 0) in host.events
    looped = host.audio(3)
    assert 20 * np.log10(rms(looped[160:160 * 19]) / 16141.6) == pytest.approx(-10.0, abs=0.2)
    b.set_alarms(0, Alarm.LOS)
    host.play(3, tone(0.4, -10.0))
    host.run(10)
    assert rms(host.audio(3)[-160 * 8:]) < 10


def test_same_seed_same_bytes():
    def run(seed):
        b = board(seed=seed)
        b.add_caller(CallerSpec("c", FXO, at=0, noise_dbm0=-50.0,
                                actions=(Talk(1.0), Wait(1.0))))
        host = Host(b, [FXO])
        host.run_until(lambda e: isinstance(e, RingStarted))
        b.apply(OffHook(FXO))
        host.run(100)
        return host.audio(FXO)

    assert np.array_equal(run(1), run(1))
    assert not np.array_equal(run(1), run(2))


def test_stop_ring_and_ring_trip():
    from appliance.drivers.emulator import HookChanged, PhoneSpec

    b = board()
    phone = b.add_phone(PhoneSpec("agent", FXS, answer_after_s=3.0, actions=(Wait(1.0),)))
    b.apply(Ring(FXS, ((400, 200), (400, 2000))))
    host = Host(b)
    host.run(5)
    assert b.port_state(FXS).ringing
    b.apply(StopRing(FXS))
    host.run(5)
    assert not b.port_state(FXS).ringing and phone.calls == []
    b.apply(Ring(FXS, ((1000, 4000),)))
    ring_start = b.now
    host.run(200)
    assert host.events == [HookChanged(FXS, True, ring_start + 150)]
    assert not b.port_state(FXS).ringing  # ring trip
    assert b.apply(OnHook(FXO)) == Ack()


def test_timeslot16_multiframe_carries_every_channels_abcd_g704():
    b = board("1e1+1e1")
    b.set_far_abcd(0, 0b0001)  # span 0, timeslot 1
    b.set_far_abcd(15, 0b0110)  # span 0, timeslot 17
    b.set_far_abcd(29, 0b1111)  # span 0, timeslot 31
    b.apply(SetAbcd(14, 0b0000))  # span 0, timeslot 15, sent by the box
    rx = b.timeslot16(0)
    assert rx[0] == 0x0B
    assert rx[1] == 0x16  # ts 1 = 0001 (upper), ts 17 = 0110 (lower)
    assert rx[15] == 0x9F  # ts 15 idle 1001, ts 31 = 1111
    assert all(byte == 0x99 for byte in rx[2:15])
    tx = b.timeslot16(0, "tx")
    assert tx[15] == 0x09 and tx[1] == 0x99
    assert b.timeslot16(1) == bytes([0x0B] + [0x99] * 15)
    with pytest.raises(EmulatorError):
        b.timeslot16(2)

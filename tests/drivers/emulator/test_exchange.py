"""The simulated exchange on FXO lines, seen from the host: ring cadence, caller ID between
the first and second ring (or before the first), answer, and the three ways a far-end
hang-up is signalled."""

import numpy as np
import pytest

from appliance.drivers.emulator import (
    BoardModel, CallerSpec, ClearSignal, ExchangeConfig, HangUp, LineConfig, LoopCurrentDropped,
    LoopCurrentRestored, OffHook, OnHook, Outcome, Party, PolarityChanged, ReadLine,
    RingStarted, RingStopped, VirtualBoard, Wait,
)
from appliance.drivers.emulator.signals import fsk_caller_id_available
from appliance.dsp.toneplan import Tone
from appliance.dsp.tones import ToneDetector, classify
from appliance.dtmf import generate

from ._host import Host

NUMBER = "13800138000"


def board_with(config=None, **line):
    config = config or LineConfig(**{"caller_id": "dtmf", **line})
    return VirtualBoard(BoardModel.from_ports("2fxo+2fxs"), ExchangeConfig(config), seed=3)


def ring_events(events, port=0):
    return [(type(e).__name__, e.tick) for e in events
            if isinstance(e, (RingStarted, RingStopped)) and e.port == port]


@pytest.mark.parametrize("cadence_s", [(1.0, 4.0), (2.0, 4.0), (0.4, 0.2, 0.4, 2.0)],
                         ids=["cn-1on-4off", "us-2on-4off", "uk-double-ring"])
def test_ring_cadence_follows_the_profile(cadence_s):
    board = board_with(ring_cadence_s=cadence_s, caller_id=None)
    board.add_caller(CallerSpec("c", 0, at=10, number=NUMBER, ring_patience_s=60))
    host = Host(board)
    host.run(1500)
    expected, t = [], 10
    steps = [round(s * 50) for s in cadence_s]
    i = 0
    while t < 1500:
        expected.append(("RingStarted" if i % 2 == 0 else "RingStopped", t))
        t += steps[i % len(steps)]
        i += 1
    assert ring_events(host.events) == expected


def test_dtmf_caller_id_between_first_and_second_ring():
    board = board_with()
    board.add_caller(CallerSpec("c", 0, at=10, number=NUMBER))
    host = Host(board, [0])
    host.run(300)
    rings = ring_events(host.events)
    assert rings[:3] == [("RingStarted", 10), ("RingStopped", 60), ("RingStarted", 260)]
    digits = host.digits[0]
    assert "".join(e.digit for e in digits) == "A" + NUMBER + "C"
    # Starts 0.5 s after the first ring, ends well before the second.
    assert digits[0].start == pytest.approx((60 + 25 - host.start) * 0.02, abs=0.015)
    assert digits[-1].end < (260 - host.start) * 0.02 - 0.2
    assert board.report().caller("c").caller_id == "dtmf"


def test_caller_id_before_the_first_ring():
    board = board_with(caller_id_timing="before_first_ring", caller_id_delay_s=0.3)
    board.add_caller(CallerSpec("c", 0, at=10, number=NUMBER))
    host = Host(board, [0])
    host.run(400)
    first_ring = ring_events(host.events)[0][1]
    digits = host.digits[0]
    assert "".join(e.digit for e in digits) == "A" + NUMBER + "C"
    assert digits[0].start == pytest.approx((25 - host.start) * 0.02, abs=0.015)
    assert digits[-1].end < (first_ring - host.start) * 0.02


@pytest.mark.skipif(not fsk_caller_id_available(), reason="needs appliance.dsp.callerid")
@pytest.mark.parametrize("fmt, timing", [("bell202", "after_first_ring"),
                                         ("v23", "before_first_ring")])
def test_fsk_caller_id_decodes_where_the_profile_puts_it(fmt, timing):
    from datetime import datetime

    from appliance.dsp import callerid

    config = LineConfig(caller_id=fmt, caller_id_timing=timing)
    board = VirtualBoard(BoardModel.from_ports("1fxo"), ExchangeConfig(config),
                         start_time=datetime(2026, 11, 23, 18, 4, 30))
    board.add_caller(CallerSpec("c", 0, at=1600, number="13800138000", caller_name="WANG"))
    host = Host(board, [0])
    host.run(2100)
    rings = ring_events(host.events)
    ((at_s, cid),) = callerid.scan(host.audio(0))
    assert (cid.number, cid.name, cid.format) == ("13800138000", "WANG", fmt)
    assert (cid.when.hour, cid.when.minute) == (18, 5)  # tick 1600: 32 s after 18:04:30
    if timing == "after_first_ring":
        assert rings[1][1] * 0.02 < at_s < rings[2][1] * 0.02
    else:
        assert 1600 * 0.02 < at_s < rings[0][1] * 0.02


def test_a_long_caller_id_delays_the_second_ring():
    # 0.5 s off-time cannot hold a 2.5 s caller ID: the exchange waits for it to finish.
    board = board_with(ring_cadence_s=(1.0, 0.5))
    board.add_caller(CallerSpec("c", 0, at=0, number="1" * 16))
    host = Host(board, [0])
    host.run(400)
    rings = ring_events(host.events)
    assert rings[1] == ("RingStopped", 50)
    assert host.digit_string(0) == "A" + "1" * 16 + "C"
    assert rings[2][1] * 0.02 > host.digits[0][-1].end + 0.2


def test_no_caller_id_without_a_number_or_when_switched_off():
    for board in (board_with(), board_with(caller_id=None)):
        number = None if board.exchange.default.caller_id else NUMBER
        board.add_caller(CallerSpec("c", 0, at=0, number=number))
        host = Host(board, [0])
        host.run(300)
        assert host.digits[0] == []
        assert board.report().caller("c").caller_id is None


def answered_call(clear_signal, actions=(Wait(1.0), HangUp()), **line):
    board = board_with(clear_signal=clear_signal, **line)
    board.add_caller(CallerSpec("c", 0, at=0, number=NUMBER, actions=actions))
    host = Host(board, [0])
    host.run_until(lambda e: isinstance(e, RingStarted))
    assert board.apply(OffHook(0)).__class__.__name__ == "Ack"
    answered = board.now
    return board, host, answered


def test_far_end_clear_by_polarity_reversal():
    board, host, answered = answered_call(ClearSignal.POLARITY)
    event = host.run_until(lambda e: isinstance(e, PolarityChanged))
    assert event == PolarityChanged(0, 1, answered + 50)
    reading = board.apply(ReadLine(0))
    assert reading.voltage_v < 0 and reading.current_ma > 0
    board.apply(OnHook(0))
    host.step()
    assert host.events[-1] == PolarityChanged(0, 0, event.tick + 1)
    report = board.report().caller("c")
    assert report.hung_up_by is Party.CALLER
    assert report.ended_at_s == pytest.approx((answered + 50) * 0.02)


def test_far_end_clear_by_loop_current_drop():
    board, host, answered = answered_call(ClearSignal.LOOP_DROP, loop_drop_s=0.6)
    drop = host.run_until(lambda e: isinstance(e, LoopCurrentDropped))
    assert drop.tick == answered + 50
    assert board.apply(ReadLine(0)).current_ma == 0.0
    restore = host.run_until(lambda e: isinstance(e, LoopCurrentRestored))
    assert restore.tick == drop.tick + 30
    assert not any(isinstance(e, PolarityChanged) for e in host.events)
    # Then the busy tone, which the host's detector recognises.
    host.run(150)
    tones = classify(host.audio(0, restore.tick), "cn")
    assert [t.tone for t in tones] == [Tone.BUSY]


def test_far_end_clear_by_busy_tone_only():
    board, host, answered = answered_call(ClearSignal.BUSY_TONE)
    host.run(250)
    signals = [e for e in host.events if isinstance(e, (PolarityChanged, LoopCurrentDropped))]
    assert signals == []
    tones = classify(host.audio(0, answered), "cn")
    assert [t.tone for t in tones] == [Tone.BUSY]
    assert tones[0].start == pytest.approx((answered + 50 - host.start) * 0.02, abs=0.05)


def test_busy_tone_follows_the_tone_plan():
    board, host, answered = answered_call(ClearSignal.BUSY_TONE, tone_plan="us")
    host.run(250)
    assert [t.tone for t in classify(host.audio(0, answered), "us")] == [Tone.BUSY]


def test_box_hang_up_ends_the_callers_call():
    board, host, answered = answered_call(ClearSignal.POLARITY, actions=(Wait(60.0),))
    host.run(100)
    board.apply(OnHook(0))
    host.run(10)
    report = board.report().caller("c")
    assert report.hung_up_by is Party.BOX
    assert report.ended_at_s == pytest.approx((answered + 100) * 0.02)
    assert not any(isinstance(e, PolarityChanged) for e in host.events)


def test_caller_abandons_after_ring_patience():
    board = board_with()
    board.add_caller(CallerSpec("c", 0, at=0, number=NUMBER, ring_patience_s=7.0))
    host = Host(board, [0])
    host.run(1000)
    assert ring_events(host.events) == [("RingStarted", 0), ("RingStopped", 50),
                                        ("RingStarted", 250), ("RingStopped", 300)]
    report = board.report().caller("c")
    assert report.outcome is Outcome.ABANDONED
    assert report.rings == 2
    assert report.ended_at_s == pytest.approx(7.0)
    assert report.hung_up_by is Party.CALLER and report.answered_at_s is None


def test_abandon_during_a_ring_burst_stops_the_ringing_at_once():
    board = board_with()
    board.add_caller(CallerSpec("c", 0, at=0, number=NUMBER, ring_patience_s=5.5))
    host = Host(board)
    host.run(400)
    assert ring_events(host.events)[-1] == ("RingStopped", 275)


def test_second_caller_on_a_busy_line_gets_busy():
    board = board_with()
    board.add_caller(CallerSpec("first", 0, at=0, number=NUMBER, actions=(Wait(30.0),)))
    board.add_caller(CallerSpec("second", 0, at=100, number="021555"))
    board.add_caller(CallerSpec("other", 1, at=100, number="021666"))
    host = Host(board)
    host.run_until(lambda e: isinstance(e, RingStarted))
    board.apply(OffHook(0))
    host.run(300)
    report = board.report()
    assert report.caller("second").outcome is Outcome.BUSY
    assert report.caller("other").outcome is Outcome.RINGING
    assert report.caller("first").outcome is Outcome.ANSWERED


def test_seized_line_gives_dial_tone_and_collects_the_boxs_digits():
    board = board_with()
    host = Host(board, [0])
    board.apply(OffHook(0))
    host.run(100)
    # Dial tone, recognised after 1.5 s (the plan's recognise_after_s), still sounding.
    events = ToneDetector("cn").feed(host.audio(0))
    assert [(e.tone, e.end) for e in events] == [(Tone.DIAL, None)]
    host.play(0, generate("955", level_dbm0=-8.0))
    first_key = board.now
    host.run(60)
    # Dial tone stops as the first key goes down (within the receiver's onset delay).
    after = host.audio(0, first_key + 3)
    assert rms(after) < 10.0
    board.apply(OnHook(0))
    board.apply(OffHook(0))  # a second seizure: dial tone again
    again = board.now
    host.run(20)
    assert rms(host.audio(0, again)) > 1000.0
    board.finish()
    assert board.report().lines[0].to_dict()["dialled"] == "955"


def rms(x):
    x = np.asarray(x, dtype=np.float64)
    return float(np.sqrt(np.mean(x * x)))


def outbound_board(**line):
    from appliance.drivers.emulator import CalleeSpec, Press, Talk

    b = board_with(**line)
    b.add_callee(CalleeSpec("customer", "13912345678", answer_after_s=6.0, noise_dbm0=-60.0,
                            actions=(Talk(1.0), Press("3"), Wait(1.0), HangUp())))
    b.add_callee(CalleeSpec("engaged", "02112345", busy=True))
    return b


def dial(b, host, number):
    b.apply(OffHook(0))
    host.run(50)
    host.play(0, generate(number, level_dbm0=-8.0, on_ms=80.0, off_ms=80.0))
    host.run(len(number) * 8)


def test_outbound_call_rings_back_answers_and_clears():
    b = outbound_board(answer_polarity=True)
    host = Host(b, [0])
    dial(b, host, "13912345678")
    # The number is complete: the exchange puts it through at once and rings back.
    routed = b.report().callee("customer").arrived_at_s
    assert routed is not None
    answer = host.run_until(lambda e: isinstance(e, PolarityChanged))
    assert answer.polarity == 1 and answer.tick == round(routed / 0.02) + 300
    tones = classify(host.audio(0, round(routed / 0.02), answer.tick), "cn")
    assert [t.tone for t in tones] == [Tone.RINGBACK]
    clear = host.run_until(lambda e: isinstance(e, PolarityChanged))
    assert clear.polarity == 0  # the far-end clear reverses it back
    b.apply(OnHook(0))
    host.run(5)
    b.finish()
    report = b.report()
    callee = report.callee("customer")
    assert callee.outcome is Outcome.ANSWERED and callee.hung_up_by is Party.CALLER
    assert callee.answered_at_s == pytest.approx(answer.tick * 0.02)
    assert callee.line == 0 and report.lines[0].to_dict()["dialled"] == "13912345678"
    assert host.digit_string(0).endswith("3")  # what the callee pressed reached the box


def test_outbound_to_a_busy_callee_or_an_unknown_number():
    for number, tone in (("02112345", Tone.BUSY), ("555", Tone.CONGESTION)):
        b = outbound_board(interdigit_timeout_s=2.0)
        host = Host(b, [0])
        dial(b, host, number)
        start = b.now
        host.run(100 + 300)
        tones = classify(host.audio(0, start), "cn")
        assert tones and {t.tone for t in tones} == {tone}, number
        assert b.report().callees == ()


def test_box_gives_up_on_an_unanswered_callee():
    b = outbound_board()
    host = Host(b, [0])
    dial(b, host, "13912345678")
    host.run(100)
    b.apply(OnHook(0))
    host.run(400)
    callee = b.report().callee("customer")
    assert callee.outcome is Outcome.ABANDONED and callee.hung_up_by is Party.BOX
    assert callee.answered_at_s is None
    # Free again: a second call gets through.
    dial(b, host, "13912345678")
    assert len(b.report().callees) == 2


def test_lines_from_every_country_profile():
    profiles = pytest.importorskip("appliance.drivers.profiles")
    for name in profiles.available_profiles():
        profile = profiles.load_profile(name)
        config = LineConfig.from_profile(profile, caller_id=None,
                                         clear_signal=ClearSignal.BUSY_TONE)
        assert config.ring_cadence_s == tuple(profile.ringing.cadence_s)
        assert config.caller_id_timing.value == profile.caller_id.when.value
        assert config.caller_id_delay_s == profile.caller_id.start_after_ms / 1000.0
        assert LineConfig.from_profile(profile).caller_id == profile.caller_id.standard.value
        b = VirtualBoard(BoardModel.from_ports("1fxo"), ExchangeConfig(config))
        b.add_caller(CallerSpec("c", 0, at=0, number=NUMBER, ring_patience_s=60.0,
                                actions=(Wait(0.5), HangUp())))
        host = Host(b, [0])
        host.run(2 * round(sum(config.ring_cadence_s) * 50))
        ons = [t for kind, t in ring_events(host.events) if kind == "RingStarted"]
        assert ons[1] - ons[0] == round(sum(config.ring_cadence_s) * 50), name
        b.apply(OffHook(0))
        host.run(200)
        # The far end clears with the busy tone of the profile's own tone plan.
        tones = classify(host.audio(0, ons[1] + 1), profile.tone_plan)
        assert [t.tone for t in tones] == [Tone.BUSY], name

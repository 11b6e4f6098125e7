"""Simulated callers and agents: what they send is real DTMF and speech-like audio that the
box's receivers must handle, and their reports tell the truth about what they did and heard."""

import pytest
from corpus import concatenated, speech_files

from appliance.drivers.emulator import (
    BoardModel, CallerSpec, Connect, ExchangeConfig, HangUp, HookChanged, LineConfig, Listen,
    OffHook,
    OnHook, Outcome, Party, PhoneSpec, Press, Ring, RingStarted, Talk, VirtualBoard, Wait,
    WaitForAgent,
)
from appliance.drivers.emulator.people import Flash
from appliance.dtmf import generate

from ._host import Host

FXO, FXS = 0, 2


def board(seed=5):
    return VirtualBoard(BoardModel.from_ports("2fxo+2fxs"),
                        ExchangeConfig(LineConfig(caller_id="dtmf")), seed=seed)


def answer_first_ring(b, host, port=FXO):
    host.run_until(lambda e: isinstance(e, RingStarted) and e.port == port)
    b.apply(OffHook(port))
    return b.now


@pytest.mark.parametrize("level_dbm0, twist_db, noise_dbm0", [
    (-3.0, 0.0, None), (-10.0, -4.0, -50.0), (-20.0, 4.0, -45.0), (-25.0, -6.0, -55.0),
], ids=["loud", "normal-twist-noisy", "reverse-twist-noisy", "weak"])
def test_caller_digits_reach_the_hosts_dtmf_receiver(level_dbm0, twist_db, noise_dbm0):
    b = board()
    keys = "0123456789*#"
    b.add_caller(CallerSpec("c", FXO, at=0, noise_dbm0=noise_dbm0, actions=(
        Wait(0.5), Press(keys, level_dbm0, twist_db, on_ms=60.0, off_ms=60.0), Wait(1.0))))
    host = Host(b, [FXO])
    answered = answer_first_ring(b, host)
    host.run(200)
    assert host.digit_string(FXO) == keys
    report = b.report().caller("c")
    pressed_at = report.pressed[0][1]
    assert report.pressed == ((keys, (answered + 25) * 0.02),)
    # The host hears the first digit start when the caller pressed it.
    assert host.digits[FXO][0].start + host.start * 0.02 == pytest.approx(pressed_at, abs=0.015)


def test_talking_caller_sends_no_digits_and_a_speech_level():
    b = board()
    b.add_caller(CallerSpec("c", FXO, at=0, noise_dbm0=-60.0,
                            actions=(Talk(20.0, -18.0), HangUp())))
    host = Host(b, [FXO])
    answered = answer_first_ring(b, host)
    host.run(1100)
    assert host.digits[FXO] == []
    report = b.report().caller("c")
    assert report.talked_s == 20.0 and report.hung_up_by is Party.CALLER
    assert report.ended_at_s == pytest.approx((answered + 1000) * 0.02)


def test_caller_hears_the_boxs_digits_with_their_times():
    b = board()
    b.add_caller(CallerSpec("c", FXO, at=0, actions=(Wait(5.0), HangUp())))
    host = Host(b, [FXO])
    answered = answer_first_ring(b, host)
    host.run(50)
    host.play(FXO, generate("147", level_dbm0=-12.0, twist_db=-2.0))
    host.run(300)
    report = b.report().caller("c")
    assert report.digits_heard == "147"
    assert report.digit_events[0].start == pytest.approx((answered + 50) * 0.02, abs=0.015)
    assert report.answered_at_s == pytest.approx(answered * 0.02)
    assert report.heard.size == 250 * 160  # from the answer to the hang-up


def test_caller_waits_for_an_agent_and_talks_to_them():
    b = board()
    b.add_phone(PhoneSpec("agent1", FXS, answer_after_s=2.0,
                          actions=(Wait(0.5), Press("5"), Talk(2.0), Wait(10.0))))
    b.add_caller(CallerSpec("c", FXO, at=0, number="13900000000", actions=(
        WaitForAgent(30.0), Wait(1.0), Press("9"), Talk(1.0), HangUp())))
    host = Host(b, [FXO, FXS])
    answer_first_ring(b, host)
    host.run(100)  # the IVR would play here; then the agent's phone rings
    ring_at = b.now
    b.apply(Ring(FXS, ((1000, 4000),)))
    off_hook = host.run_until(lambda e: isinstance(e, HookChanged))
    assert off_hook == HookChanged(FXS, True, ring_at + 100)
    b.apply(Connect(FXO, FXS))
    connected = b.now
    host.run(400)
    b.finish()
    report = b.report()
    caller = report.caller("c")
    assert caller.agent == "agent1" and caller.agent_at_s == pytest.approx(connected * 0.02)
    assert caller.digits_heard == "5"  # the agent's key, through the board's switch
    assert caller.hung_up_by is Party.CALLER and not caller.gave_up
    assert caller.outcome is Outcome.ANSWERED
    phone = report.phone("agent1")
    assert phone.rings == (pytest.approx((ring_at * 0.02, (ring_at + 100) * 0.02)),)
    (call,) = phone.calls
    assert call.answered_ring and call.digits_heard == "9"
    assert call.off_hook_at_s == pytest.approx((ring_at + 100) * 0.02)
    # The host also hears both sides on its selected ports (for recording).
    assert host.digit_string(FXO) == "9" and host.digit_string(FXS) == "5"


def test_caller_gives_up_in_the_queue():
    b = board()
    b.add_caller(CallerSpec("c", FXO, at=0, actions=(WaitForAgent(12.0), HangUp())))
    host = Host(b, [FXO])
    answered = answer_first_ring(b, host)
    host.run(800)
    report = b.report().caller("c")
    assert report.gave_up and report.agent is None
    assert report.ended_at_s == pytest.approx((answered + 600) * 0.02)
    assert report.hung_up_by is Party.CALLER


def test_caller_script_that_ends_stays_on_the_line_until_the_box_hangs_up():
    b = board()
    b.add_caller(CallerSpec("c", FXO, at=0, actions=(Press("1"),)))
    host = Host(b, [FXO])
    answer_first_ring(b, host)
    host.run(500)
    assert b.report().caller("c").ended_at_s is None
    b.apply(OnHook(FXO))
    host.step()
    assert b.report().caller("c").hung_up_by is Party.BOX


def test_phone_that_never_answers_and_a_phone_that_calls_out():
    b = board()
    b.add_phone(PhoneSpec("away", FXS, answer_after_s=None))
    b.add_phone(PhoneSpec("dialler", FXS + 1, calls=(
        (50, (Wait(0.2), Press("8001"), Wait(1.0), Flash(0.5), Wait(0.5), HangUp())),)))
    host = Host(b, [FXS + 1])
    b.apply(Ring(FXS, ((1000, 4000),)))
    host.run(400)
    assert not any(e.port == FXS for e in host.events)
    assert b.port_state(FXS).ringing is False or b.port_state(FXS).off_hook is False
    assert b.report().phone("away").calls == ()
    hooks = [(e.off_hook, e.tick) for e in host.events if isinstance(e, HookChanged)]
    # Off-hook at 50; keys from 60 (4 x 0.2 s); flash 1 s after them; on-hook 0.5 s later.
    assert hooks == [(True, 50), (False, 150), (True, 175), (False, 200)]
    assert host.digit_string(FXS + 1) == "8001"
    (call,) = b.report().phone("dialler").calls
    assert call.flashes == (150 * 0.02,) and not call.answered_ring
    assert call.hung_up_by is Party.PHONE and call.on_hook_at_s == pytest.approx(200 * 0.02)
    assert call.pressed == (("8001", 60 * 0.02),)


@pytest.mark.needs_system
def test_recorded_speech_through_the_board_gives_no_false_digits():
    # Two minutes of recorded prompts played by the host to a caller switched to an agent
    # who talks back: nobody's report shows a digit that was never pressed.
    files = speech_files()
    speech, _ = concatenated(files[::len(files) // 60][:60])
    speech = speech[:120 * 8000]
    b = board()
    b.add_phone(PhoneSpec("agent", FXS, answer_after_s=0.5, actions=(Talk(120.0, -15.0),)))
    b.add_caller(CallerSpec("c", FXO, at=0, noise_dbm0=-60.0,
                            actions=(Talk(60.0, -12.0), Wait(60.0))))
    host = Host(b, [FXO, FXS])
    answer_first_ring(b, host)
    host.play(FXO, speech)
    b.apply(Ring(FXS, ((1000, 4000),)))
    b.apply(Listen(FXS, FXO))  # the agent hears the caller; the caller hears the host
    host.run(6000)
    b.finish()
    report = b.report()
    assert report.caller("c").heard.size == 6000 * 160
    assert report.caller("c").digits_heard == ""
    assert report.phone("agent").calls[0].digits_heard == ""
    assert host.digits[FXO] == [] and host.digits[FXS] == []

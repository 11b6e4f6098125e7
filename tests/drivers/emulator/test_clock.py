"""Pacing: the virtual clock never waits; the real-time clock sleeps to each tick's moment
on a (here fake) monotonic clock and catches up after a late tick instead of drifting."""

import pytest

from appliance.drivers.emulator import BoardModel, RealTimeClock, VirtualBoard, VirtualClock


class FakeTime:
    def __init__(self):
        self.now = 100.0
        self.sleeps = []

    def monotonic(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(round(seconds, 9))
        self.now += seconds


def test_real_time_clock_paces_ticks_at_20_ms():
    fake = FakeTime()
    clock = RealTimeClock(now=fake.monotonic, sleep=fake.sleep)
    board = VirtualBoard(BoardModel.from_ports("1fxo"))

    def host(result):
        fake.now += 0.005  # the host's work for each tick
        return None

    board.run(5, host, clock)
    assert fake.sleeps == [0.015] * 4
    assert fake.now == pytest.approx(100.0 + 4 * 0.02 + 0.005)
    assert clock.late == 0


def test_real_time_clock_catches_up_after_a_stall():
    fake = FakeTime()
    clock = RealTimeClock(now=fake.monotonic, sleep=fake.sleep)
    clock.wait(0)
    fake.now += 0.1 + 1e-6  # a 100 ms stall: ticks 1-5 are due at once, no sleeping
    for tick in (1, 2, 3, 4, 5):
        clock.wait(tick)
    assert fake.sleeps == []
    assert clock.late == 4  # ticks 1-4 started more than a tick (20 ms) late
    clock.wait(6)
    assert fake.sleeps == [pytest.approx(0.02, abs=1e-5)]


def test_virtual_clock_never_waits():
    clock = VirtualClock()
    assert [clock.wait(t) for t in range(3)] == [None] * 3
    assert not clock.realtime and RealTimeClock().realtime


def test_tick_length_must_be_positive():
    with pytest.raises(ValueError):
        RealTimeClock(tick_s=0)

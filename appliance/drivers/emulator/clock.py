"""How fast the virtual board's ticks come.

The board never reads a clock; whoever runs it asks a pacer before each tick:
- `VirtualClock`: no waiting, ticks come as fast as the host consumes them (a day of traffic
  in minutes; tests);
- `RealTimeClock`: tick n starts at start + n x 20 ms on a monotonic clock; a late tick is
  not waited for (and counted in `late`), so the board catches up instead of drifting.
Both take `wait(tick)`; the real-time one takes its `now` and `sleep` as parameters so a
test can drive it with a fake clock.
"""

import time

TICK_S = 0.02


class VirtualClock:
    realtime = False

    def __init__(self):
        self.late = 0

    def wait(self, tick):
        """Return at once: tick `tick` may start now."""


class RealTimeClock:
    realtime = True

    def __init__(self, tick_s=TICK_S, now=time.monotonic, sleep=time.sleep):
        if tick_s <= 0:
            raise ValueError(f"tick_s must be positive, not {tick_s!r}")
        self.tick_s = tick_s
        self._now = now
        self._sleep = sleep
        self.start = None
        self.first = 0
        self.late = 0

    def wait(self, tick):
        """Sleep until tick `tick` is due (the first call fixes tick 0's moment)."""
        if self.start is None:
            self.start, self.first = self._now(), tick
            return
        due = self.start + (tick - self.first) * self.tick_s
        delay = due - self._now()
        if delay > 0:
            self._sleep(delay)
        elif delay < -self.tick_s:
            self.late += 1

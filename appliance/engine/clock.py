"""Engine time: board ticks, and what a tick means on the calendar.

Call logic counts 20 ms ticks (ARCHITECTURE.md: the board is the clock). CDRs, the event
log and schedules need dates, so the engine fixes the wall-clock time of one tick when it
starts (`TickCalendar`) and derives every other from it: a virtual-time run is as
deterministic as the board's ticks.
"""

import datetime
import zoneinfo

from appliance.drivers.protocol import TICK_MS  # the board's tick, as the wire protocol sets it

TICKS_PER_SECOND = 1000 // TICK_MS


def ticks(seconds):
    """Seconds as a whole number of ticks (at least one for a positive time)."""
    return max(1 if seconds > 0 else 0, round(seconds * TICKS_PER_SECOND))


class TickCalendar:
    """Maps engine ticks to epoch milliseconds: tick `origin_tick` happened at `origin_ms`."""

    def __init__(self, origin_ms, origin_tick=0):
        self.origin_ms = int(origin_ms)
        self.origin_tick = int(origin_tick)

    def ms(self, tick):
        return self.origin_ms + (int(tick) - self.origin_tick) * TICK_MS

    def datetime(self, tick, zone=datetime.timezone.utc):
        return datetime.datetime.fromtimestamp(self.ms(tick) / 1000.0, zone)


class ScheduleClock:
    """A configured schedule (`appliance.config.Schedule`) read at engine ticks:
    `state_at(tick)` is "open", "closed" or "holiday", in the schedule's time zone, as
    `appliance.ivr.IvrSession` expects."""

    def __init__(self, schedule, calendar):
        self.schedule = schedule
        self.calendar = calendar
        self.zone = zoneinfo.ZoneInfo(schedule.time_zone)

    def state_at(self, tick):
        local = self.calendar.datetime(tick, self.zone)
        if local.date() in self.schedule.holidays:
            return "holiday"
        minute = local.hour * 60 + local.minute
        for start, end in self.schedule.hours[local.weekday()]:
            if start <= minute < end:
                return "open"
        return "closed"

    def is_open(self, tick):
        return self.state_at(tick) == "open"

"""The demo: the sample configuration on its emulated board with scripted callers.

What `appliance run` plays when there is no configuration file: `scenario_path()` is the
shipped scenario (`demo_scenario.toml`: callers, agents' phones) for the sample's board
(`appliance.config.sample_path()`). The sample's queues keep office hours, so a demo run at
night would send every caller to voicemail; `office_hours_origin` picks the wall-clock time
of the first tick so the whole run falls in office hours (the board is the clock:
ARCHITECTURE.md, "Time").
"""

from importlib import resources

from .clock import TICKS_PER_SECOND, ScheduleClock, TickCalendar

MINUTE_MS = 60_000
SEARCH_DAYS = 31  # how far back to look for office hours (a schedule open on no day: give up)


def scenario_path():
    """The path of the demo scenario shipped in the package."""
    return resources.files(__package__) / "demo_scenario.toml"


def _open_throughout(schedules, origin_ms, seconds):
    """Whether every schedule is open from `origin_ms` for `seconds` (checked each minute
    and at the end)."""
    last = int(seconds * TICKS_PER_SECOND)
    checks = list(range(0, last, 60 * TICKS_PER_SECOND)) + [last]
    calendar = TickCalendar(origin_ms)
    return all(ScheduleClock(schedule, calendar).is_open(tick)
               for schedule in schedules for tick in checks)


def office_hours_origin(config, seconds, now_ms):
    """The epoch ms for a run of `seconds` to start at so that every schedule of `config`
    is open all through it: None when they are open from `now_ms` on (run in real time);
    otherwise a time in the latest office-hours period before `now_ms` that fits the run,
    offset within it by `now_ms` so that two runs never reuse a start (call ids are made of
    it). None too when no period of the last SEARCH_DAYS fits (the caller says so)."""
    schedules = list(config.schedules.values())
    if not schedules or _open_throughout(schedules, now_ms, seconds):
        return None
    # the latest whole minute before now that starts an open run ...
    latest = now_ms - now_ms % MINUTE_MS
    stop = latest - SEARCH_DAYS * 24 * 60 * MINUTE_MS
    while latest > stop and not _open_throughout(schedules, latest, seconds):
        latest -= MINUTE_MS
    if latest <= stop:
        return None
    # ... and the earliest of that period: start somewhere between them
    earliest = latest
    while _open_throughout(schedules, earliest - MINUTE_MS, seconds):
        earliest -= MINUTE_MS
    return earliest + (now_ms - earliest) % (latest - earliest + 1)

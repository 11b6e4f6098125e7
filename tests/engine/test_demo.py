"""appliance.engine.demo: the shipped scenario fits the sample, and the demo's clock lands in
the sample's office hours whatever the time of day."""

import dataclasses
import datetime

import pytest

from appliance.config import load_config, sample_path
from appliance.drivers.emulator import load_scenario
from appliance.engine.clock import ScheduleClock, TickCalendar
from appliance.engine.demo import office_hours_origin, scenario_path

SHANGHAI = datetime.timezone(datetime.timedelta(hours=8))
SAMPLE = load_config(sample_path())


def ms(*args):
    return int(datetime.datetime(*args, tzinfo=SHANGHAI).timestamp() * 1000)


def open_throughout(origin_ms, seconds):
    clock = ScheduleClock(SAMPLE.schedules["office"], TickCalendar(origin_ms))
    return all(clock.is_open(t) for t in range(0, int(seconds * 50) + 1, 50))


def test_the_scenario_has_the_sample_board_and_people_on_its_ports():
    scenario = load_scenario(scenario_path())
    board = SAMPLE.boards["main"]
    assert [p.kind.name.lower() for p in scenario.model.ports] == \
        [k.value for k in board.port_kinds]
    lines = set(SAMPLE.trunks["pstn"].ports)
    assert scenario.callers and {c.line for c in scenario.callers} == lines
    stations = {s.port for s in SAMPLE.stations.values()}
    assert {p.port for p in scenario.phones} == stations
    assert scenario.seconds == 120.0
    # every caller has caller ID and is gone before the run ends
    assert all(c.number for c in scenario.callers)
    assert max(c.at for c in scenario.callers) * 0.02 < scenario.seconds - 20


def test_in_office_hours_the_demo_runs_now():
    assert office_hours_origin(SAMPLE, 120.0, ms(2026, 11, 23, 10, 0)) is None  # Monday


@pytest.mark.parametrize("now", [
    (2026, 11, 23, 22, 0),      # Monday night
    (2026, 11, 23, 12, 30),     # lunch
    (2026, 11, 23, 17, 59),     # two minutes would run past closing
    (2026, 11, 22, 9, 0),       # Sunday (closed all day)
    (2026, 10, 2, 10, 0),       # a holiday
    (2027, 1, 1, 3, 0),         # a holiday night
])
def test_out_of_hours_the_clock_starts_in_the_latest_office_hours(now):
    now_ms = ms(*now)
    origin = office_hours_origin(SAMPLE, 120.0, now_ms)
    assert origin is not None and origin < now_ms
    assert open_throughout(origin, 120.0)
    assert now_ms - origin < 8 * 24 * 3600 * 1000


def test_two_runs_never_share_a_start():
    first = office_hours_origin(SAMPLE, 120.0, ms(2026, 11, 23, 22, 0))
    second = office_hours_origin(SAMPLE, 120.0, ms(2026, 11, 23, 22, 0) + 1)
    later = office_hours_origin(SAMPLE, 120.0, ms(2026, 11, 23, 22, 5))
    assert len({first, second, later}) == 3


def test_with_no_schedules_or_none_ever_open_the_demo_runs_now():
    now_ms = ms(2026, 11, 23, 22, 0)
    assert office_hours_origin(dataclasses.replace(SAMPLE, schedules={}), 120.0, now_ms) \
        is None
    never = dataclasses.replace(SAMPLE.schedules["office"], hours=((),) * 7)
    assert office_hours_origin(dataclasses.replace(SAMPLE, schedules={"office": never}),
                               120.0, now_ms) is None

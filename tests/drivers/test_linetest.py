"""The installer's line tests (appliance.drivers.linetest) against the emulated board in
process, on a virtual clock: exchange lines (and lines made faulty on the board's side: no
battery, a weak feed), a station that answers and one that does not, the loopback cable
with DTMF both ways across the levels the CLI allows, a pair with no cable, and ports of
the wrong kind refused before anything rings."""

import asyncio

import pytest

from appliance.drivers.board import Board
from appliance.drivers.emulated_board import EmulatorRunner, emulated_board, serve_inprocess
from appliance.drivers.emulator import parse_scenario
from appliance.drivers.linetest import (
    DEFAULT_DIGITS, LineTestError, loopback_call, measure_fxo_line, ring_station,
    run_line_tests,
)

LIMIT_S = 120.0

PHONE_SCENARIO = """
[board]
ports = "2fxo+2fxs"

[run]
seconds = 60.0

[[phones]]
name = "installer"
port = 3
answer_after_s = 2.5
actions = [{ listen_s = 5.0 }, { hang_up = true }]
"""


def on_board(session, body, name):
    """Run body(board, session) against `session` served in process."""
    async def main():
        async with asyncio.timeout(LIMIT_S):
            runner = EmulatorRunner(session).start()
            try:
                board = await Board.open(await serve_inprocess(runner, name))
                try:
                    return await body(board, session)
                finally:
                    await board.close()
            finally:
                await runner.stop()
    return asyncio.run(main())


def test_an_exchange_line_has_battery_on_hook_and_loop_current_seized():
    async def body(board, session):
        result = await measure_fxo_line(board, 1)
        return result, board.ports[1].off_hook
    result, left_off_hook = on_board(emulated_board("2fxo+2fxs", virtual=True), body, "fxo")
    assert (result.on_hook_v, result.off_hook_v, result.loop_ma) == (48.0, 9.0, 25.0)
    assert result.polarity == "normal" and result.ok and result.problem is None
    assert not left_off_hook  # released again


class FaultyLine:
    """The emulator's line of an FXO port with the readings of a faulty pair."""

    def __init__(self, port, on_hook, off_hook):
        self.port, self.on_hook, self.off_hook = port, on_hook, off_hook

    def __call__(self):
        return self.off_hook if self.port.off_hook else self.on_hook


@pytest.mark.parametrize("on_hook, off_hook, words", [
    ((0.0, 0.0), (0.0, 0.0), "no exchange battery (0.0 V on-hook"),
    ((48.0, 0.0), (48.0, 0.0), "no loop current off-hook"),
    ((48.0, 0.0), (14.0, 12.5), "low loop current 12.5 mA (at least 18 mA expected)"),
])
def test_a_faulty_line_is_reported_with_its_likely_cause(on_hook, off_hook, words):
    session = emulated_board("2fxo+2fxs", virtual=True)
    line = session.board.ports[0]
    line.reading = FaultyLine(line, on_hook, off_hook)

    async def body(board, session):
        return await measure_fxo_line(board, 0)
    result = on_board(session, body, "faulty")
    assert not result.ok and words in result.problem
    assert result.on_hook_v == on_hook[0]


def test_reversed_polarity_is_reported():
    session = emulated_board("1fxo+1fxs", virtual=True)
    line = session.board.ports[0]
    line.reading = FaultyLine(line, (-48.0, 0.0), (-9.0, 25.0))

    async def body(board, session):
        return await measure_fxo_line(board, 0)
    result = on_board(session, body, "reversed")
    assert result.polarity == "reversed" and result.ok


def test_a_station_that_answers_gives_the_ring_trip_and_its_loop():
    session = emulated_board(scenario=parse_scenario(PHONE_SCENARIO), virtual=True)

    async def body(board, session):
        return await ring_station(board, 3, seconds=8.0)
    result = on_board(session, body, "station")
    assert result.answered and result.ok
    # the phone lifts its handset 2.5 s after ringing starts (give or take the link's ticks)
    assert 2.5 <= result.ring_trip_s <= 2.6
    assert (result.off_hook_v, result.loop_ma) == (8.0, 23.0)  # a phone's loop


def test_a_station_nobody_answers_rings_for_the_time_asked():
    async def body(board, session):
        result = await ring_station(board, 3, seconds=3.0)
        return result, board.ports[3].ringing
    result, still_ringing = on_board(emulated_board("2fxo+2fxs", virtual=True), body, "noans")
    assert not result.answered and not result.ok and result.rang_s == 3.0
    assert "nobody answered in 3 s" in result.problem
    assert not still_ringing


@pytest.mark.parametrize("level", [-30.0, -20.0, -10.0, -3.0])
def test_loopback_sends_every_digit_both_ways_and_measures_its_level(level):
    async def body(board, session):
        return await loopback_call(board, 2, 0, level_dbm0=level)
    result = on_board(emulated_board("2fxo+2fxs", cables=[(2, 0)], virtual=True), body,
                      f"loop{int(-level)}")
    assert result.ok, result.problem
    assert result.ring_detected_s is not None and result.ring_trip_s is not None
    assert [(d.source, d.receiver) for d in result.directions] == [(2, 0), (0, 2)]
    for direction in result.directions:
        assert direction.detected == direction.sent == DEFAULT_DIGITS
        assert [x.digit for x in direction.levels] == list(DEFAULT_DIGITS)
        for x in direction.levels:  # G.711 both ways: within its quantisation
            assert abs(x.low_dbm0 - level) <= 0.3 and abs(x.high_dbm0 - level) <= 0.3, x


def test_loopback_over_a_pair_with_no_cable_says_so():
    async def body(board, session):
        return await loopback_call(board, 3, 1)
    result = on_board(emulated_board("2fxo+2fxs", cables=[(2, 0)], virtual=True), body,
                      "nocable")
    assert not result.ok and result.ring_detected_s is None
    assert "saw no ring from FXS port 3" in result.problem


@pytest.mark.parametrize("kwargs, words", [
    ({"fxo": [2]}, "--fxo 2: port 2 is FXS, not FXO (its FXO ports: 0, 1)"),
    ({"station": 0}, "--ring 0: port 0 is FXO, not FXS (its FXS ports: 2, 3)"),
    ({"loopback": (0, 2)}, "--loopback 0:2: port 0 is FXO, not FXS"),
    ({"station": 9}, "--ring 9: the board has no port 9 (ports 0-3"),
])
def test_ports_of_the_wrong_kind_are_refused_before_anything_runs(kwargs, words):
    async def body(board, session):
        seized = []

        async def seize():
            seized.append(True)
        board.ports[0].seize = seize  # the FXO line test would take port 0 off-hook first
        with pytest.raises(LineTestError) as refused:
            await run_line_tests(board, **{"fxo": [0], **kwargs})
        return str(refused.value), seized
    message, seized = on_board(emulated_board("2fxo+2fxs", virtual=True), body, "kinds")
    assert words in message
    assert seized == []


def test_bad_digits_are_refused():
    async def body(board, session):
        with pytest.raises(LineTestError):
            await loopback_call(board, 2, 0, digits="12E")
    on_board(emulated_board("2fxo+2fxs", cables=[(2, 0)], virtual=True), body, "digits")


def test_the_whole_run_reports_every_test():
    async def body(board, session):
        return await run_line_tests(board, fxo=[0, 1], station=3, ring_s=2.0, loopback=(2, 0))
    report = on_board(emulated_board("2fxo+2fxs", cables=[(2, 0)], virtual=True), body, "all")
    assert [r.port for r in report.fxo] == [0, 1] and all(r.ok for r in report.fxo)
    assert report.loopback.ok and not report.station.ok  # nobody at station 3
    assert not report.ok
    data = report.to_dict()
    assert data["ok"] is False and data["station"]["answered"] is False
    assert data["loopback"]["directions"][1]["levels"][0] == {
        "digit": "1", "low_dbm0": -10.0, "high_dbm0": -10.0}


def test_a_lossy_pair_is_measured_and_flagged():
    # 12 dB of loss on the way from the FXS end to the FXO end (a long or bad pair): the
    # digits still get through, the levels say by how much they were cut
    session = emulated_board("2fxo+2fxs", cables=[(2, 0)], virtual=True)
    fxo_end = session.board.ports[0]
    plain = fxo_end.line_in

    def lossy(n):
        audio = plain(n)
        return None if audio is None else (audio * 10 ** (-12 / 20)).astype(audio.dtype)
    fxo_end.line_in = lossy

    async def body(board, session):
        return await loopback_call(board, 2, 0, level_dbm0=-6.0)
    result = on_board(session, body, "lossy")
    there, back = result.directions
    assert there.detected == back.detected == DEFAULT_DIGITS
    for x in there.levels:
        assert abs(x.low_dbm0 - -18.0) <= 0.3 and abs(x.high_dbm0 - -18.0) <= 0.3, x
    assert not there.ok and "level off by more than 6 dB" in there.problem
    assert back.ok and not result.ok

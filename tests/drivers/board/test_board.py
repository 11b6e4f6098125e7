"""Board / Port over real transports to the emulator: every link kind, commands and their
errors, the event stream with the host DSP (digits, DTMF caller ID, station flashes),
loss of a board (hung or unplugged) while another one keeps running, and its return.

Time: the emulators run on a virtual clock (as fast as the host consumes) except where a
test says otherwise; the driver's loss timeout is its real 1 s."""

import asyncio

import pytest

from appliance.drivers.board import (
    AbcdChanged, AlarmsChanged, AudioReceived, Board, BoardBack, BoardLost, BoardUnavailable,
    CallEnded, CallerIdReceived, CommandRejected, DigitDetected, FlashDetected, HookChanged,
    PolarityReversed, RingStarted, ToneDetected,
)
from appliance.drivers.emulated_board import (
    EmulatorRunner, emulated_board, serve_inprocess, serve_pty, serve_tcp, serve_usb,
)
from appliance.drivers.emulator import parse_scenario
from appliance.drivers.protocol import Alarm, ErrorCode, PortKind
from appliance.drivers.transport.usb_emulated import EmulatedUsbBackend

LIMIT_S = 60.0


def run(coro):
    async def limited():
        async with asyncio.timeout(LIMIT_S):
            return await coro
    return asyncio.run(limited())


async def until(board, predicate, limit=2000):
    """Events until predicate(event); returns (event, the events before it)."""
    seen = []
    for _ in range(limit):
        event = await board.next_event(timeout=5.0)
        if predicate(event):
            return event, seen
        seen.append(event)
    lines = [e for e in seen if not isinstance(e, AudioReceived)]
    raise AssertionError(f"no matching event in {limit} events; other events: {lines[-8:]}")


async def start(session, how, name="b"):
    runner = EmulatorRunner(session).start()
    options = {}
    if how == "inprocess":
        url = await serve_inprocess(runner, name)
    elif how == "pty":
        url = (await serve_pty(runner)).path
    elif how == "tcp":
        url = (await serve_tcp(runner)).url
    else:
        backend = EmulatedUsbBackend()
        url = (await serve_usb(runner, backend, serial_number=name)).url
        options["usb_backend"] = backend
    return runner, url, options


@pytest.mark.parametrize("how", ["inprocess", "pty", "tcp", "usb"])
def test_open_a_board_and_command_it_over_every_transport(how):
    async def body():
        session = emulated_board("2fxo+2fxs", cables=[(2, 0)], virtual=True, serial="EMU-7")
        runner, url, options = await start(session, how, name=f"t-{how}")
        try:
            board = await Board.open(url, **options)
            try:
                caps = board.capabilities
                await board.ports[2].ring(((100, 100),))
                ring, _ = await until(board, lambda e: isinstance(e, RingStarted))
                await board.ports[0].seize()
                reading = await board.ports[0].read_line()
                return caps, ring, reading, [p.kind for p in board.ports]
            finally:
                await board.close()
        finally:
            await runner.stop()

    caps, ring, reading, kinds = run(body())
    assert (caps.model, caps.serial) == ("VB-2FXO2FXS", "EMU-7")
    assert kinds == [PortKind.FXO, PortKind.FXO, PortKind.FXS, PortKind.FXS]
    assert ring.port == 0
    assert (reading.voltage_v, reading.current_ma) == (9.0, 25.0)


def test_a_refused_command_raises_with_the_boards_code():
    async def body():
        session = emulated_board("1fxo+1fxs", virtual=True)
        runner, url, _ = await start(session, "inprocess", "refuse")
        board = await Board.open(url)
        try:
            with pytest.raises(CommandRejected) as wrong:
                await board.ports[0].ring()
            with pytest.raises(CommandRejected) as state:
                await board.ports[0].flash(200)  # on-hook
            return wrong.value, state.value
        finally:
            await board.close()
            await runner.stop()

    wrong, state = run(body())
    assert (wrong.code, wrong.port) == (ErrorCode.WRONG_PORT_KIND, 0)
    assert state.code == ErrorCode.WRONG_STATE


SCENARIO = """
[board]
ports = "1fxo+1fxs"
[run]
seed = 3
[exchange]
caller_id = "{format}"
caller_id_timing = "{timing}"
ring_cadence_s = [0.4, 2.0]
caller_id_delay_s = 0.3
[[callers]]
name = "alice"
line = 0
at_s = 0.2
number = "13800138000"
caller_name = "{name}"
actions = [{{ listen_s = 0.3 }}, {{ press = "42#", on_ms = 80.0, off_ms = 80.0 }},
           {{ listen_s = 5.0 }}]
[[phones]]
name = "agent"
port = 1
answer = false
calls = [{{ at_s = 0.5, actions = [{{ listen_s = 0.4 }}, {{ flash_s = 0.3 }},
                                    {{ listen_s = 0.4 }}, {{ hang_up = true }}] }}]
"""


@pytest.mark.parametrize("fmt, timing, name", [
    ("dtmf", "after_first_ring", None),
    ("bell202", "after_first_ring", "ALICE"),
    ("v23", "before_first_ring", "ALICE"),
])
def test_caller_id_digits_and_a_station_flash_come_from_the_host_dsp(fmt, timing, name):
    text = SCENARIO.format(format=fmt, timing=timing, name=name or "")
    if name is None:
        text = text.replace('caller_name = ""\n', "")

    async def body():
        session = emulated_board(scenario=parse_scenario(text), virtual=True)
        runner, url, _ = await start(session, "inprocess", "dsp")
        board = await Board.open(url)
        try:
            await board.select_audio([0, 1])
            cid, before = await until(board, lambda e: isinstance(e, CallerIdReceived))
            ring, between = await until(board, lambda e: isinstance(e, RingStarted))
            await board.ports[0].seize()
            digits = []
            _, after = await until(board, lambda e: isinstance(e, DigitDetected) and
                                   e.port == 0 and (digits.append(e.digit) or len(digits) == 3))
            log = before + between + after
            station = [e for e in log if isinstance(e, (HookChanged, FlashDetected))]
            return cid, before, "".join(digits), station
        finally:
            await board.close()
            await runner.stop()

    cid, before, digits, station = run(body())
    assert (cid.port, cid.number, cid.name, cid.format) == (0, "13800138000", name, fmt)
    assert not any(isinstance(e, DigitDetected) for e in before)  # caller ID is not digits
    assert digits == "42#"
    on, flash, off = station
    assert isinstance(on, HookChanged) and on.off_hook
    assert isinstance(flash, FlashDetected) and flash.duration_ms == 300
    assert isinstance(off, HookChanged) and not off.off_hook and off.tick > flash.tick


def test_a_hung_board_is_lost_its_calls_end_and_the_other_board_keeps_running():
    async def body():
        one = emulated_board("1fxo+1fxs", cables=[(1, 0)], virtual=True)
        two = emulated_board("1fxo", virtual=True)
        run_one, url_one, _ = await start(one, "inprocess", "one")
        run_two, url_two, _ = await start(two, "inprocess", "two")
        a = await Board.open(url_one, name="one")
        b = await Board.open(url_two, name="two")
        try:
            await a.ports[0].seize()
            await b.select_audio([0])
            run_one.freeze()  # board one hangs: no ticks, no answers
            lost, after = await until(a, lambda e: isinstance(e, BoardLost))
            ended, _ = await until(a, lambda e: isinstance(e, CallEnded))
            with pytest.raises(BoardUnavailable):
                await a.ports[0].read_line()
            # Board two ran on through board one's second of silence.
            ticks = [e.tick for e in await drain_audio(b)]
            run_one.thaw()
            back, _ = await until(a, lambda e: isinstance(e, BoardBack))
            reading = await a.ports[0].read_line()  # a new session: on-hook again
            return lost, ended, ticks, back, reading, a.ports[0].off_hook, b.alive
        finally:
            await a.close()
            await b.close()
            await run_one.stop()
            await run_two.stop()

    lost, ended, ticks, back, reading, off_hook, two_alive = run(body())
    assert lost.board == "one" and lost.silent_s >= 1.0
    assert (ended.board, ended.port, ended.reason) == ("one", 0, "board lost")
    assert len(ticks) >= 50 and ticks == list(range(ticks[0], ticks[0] + len(ticks)))
    assert back.capabilities.model == "VB-1FXO1FXS"
    assert reading.current_ma == 0.0 and not off_hook and two_alive


async def drain_audio(board):
    """The audio ticks queued so far (the board ran while the test waited)."""
    frames = []
    while True:
        try:
            event = await board.next_event(timeout=0.2)
        except TimeoutError:
            return frames
        if isinstance(event, AudioReceived):
            frames.append(event)
        if len(frames) >= 200:
            return frames


def test_a_board_whose_link_closes_is_lost_at_once_and_reopened_from_its_url():
    async def body():
        session = emulated_board("1fxo", virtual=True)
        runner, url, _ = await start(session, "inprocess", "unplug")
        board = await Board.open(url)
        try:
            runner.link.close()  # the board end goes away (unplugged, process killed)
            lost, _ = await until(board, lambda e: isinstance(e, BoardLost))
            back, _ = await until(board, lambda e: isinstance(e, BoardBack))
            return lost, back, board.stats.lost, board.stats.back, board.alive
        finally:
            await board.close()
            await runner.stop()

    lost, back, n_lost, n_back, alive = run(body())
    assert lost.reason == "the link closed" and lost.silent_s < 1.0
    assert (n_lost, n_back, alive) == (1, 1, True)


def test_a_url_with_no_board_behind_it_fails_to_open():
    async def body():
        with pytest.raises(BoardUnavailable, match="no CAPABILITIES"):
            # loop:// echoes our HELLO back: bytes, but never a board's answer.
            await Board.open("loop://", timeout=0.6)

    run(body())


BUSY_SCENARIO = """
[board]
ports = "1fxo"
[exchange]
clear_signal = "busy_tone"
ring_cadence_s = [0.4, 2.0]
caller_id = "none"
[[callers]]
name = "dave"
line = 0
at_s = 0.1
actions = [{ listen_s = 0.5 }, { hang_up = true }]
"""


def test_a_far_end_clear_by_busy_tone_is_a_tone_event_on_a_watched_line():
    from appliance.dsp.toneplan import Tone

    async def body():
        session = emulated_board(scenario=parse_scenario(BUSY_SCENARIO), virtual=True)
        runner, url, _ = await start(session, "inprocess", "busy")
        board = await Board.open(url)
        try:
            await board.select_audio([0])
            await until(board, lambda e: isinstance(e, RingStarted))
            await board.ports[0].seize()
            board.ports[0].detect_tones()  # a line that clears only with busy tone
            tone, before = await until(board, lambda e: isinstance(e, ToneDetected))
            return tone, before
        finally:
            await board.close()
            await runner.stop()

    tone, before = run(body())
    assert (tone.port, tone.tone) == (0, Tone.BUSY)
    assert not any(isinstance(e, PolarityReversed) for e in before)


def test_e1_span_alarms_and_abcd_bits_reach_the_engine():
    scenario = """
[board]
ports = "1e1"
[run]
e1_loopback = true
[[signals]]
at_s = 0.2
span = 0
alarms = ["ais"]
"""

    async def body():
        session = emulated_board(scenario=parse_scenario(scenario), virtual=True)
        runner, url, _ = await start(session, "inprocess", "e1")
        board = await Board.open(url)
        try:
            first, _ = await until(board, lambda e: isinstance(e, AlarmsChanged))
            ais, _ = await until(board, lambda e: isinstance(e, AlarmsChanged))
            await board.ports[5].set_abcd(0b0101)
            abcd, _ = await until(board, lambda e: isinstance(e, AbcdChanged))
            return first, ais, abcd, board.spans
        finally:
            await board.close()
            await runner.stop()

    first, ais, abcd, spans = run(body())
    assert (first.span, first.alarms) == (0, 0)  # sent once at session start
    assert (ais.span, ais.alarms) == (0, int(Alarm.AIS)) and spans[0].alarms == int(Alarm.AIS)
    assert (abcd.port, abcd.abcd) == (5, 0b0101)  # looped back by the far end
    assert len(spans) == 1 and len(spans[0].ports) == 30 and spans[0].ports[5].timeslot == 6


def test_ports_of_both_laws_each_get_their_own_dsp_bank(tmp_path):
    from appliance.drivers.emulator import load_model

    async def body(tmp):
        path = tmp / "model.toml"
        path.write_text('[board]\nports = [{ kind = "fxs", count = 2 }, '
                        '{ kind = "fxo", count = 1, law = "ulaw" }]\n')
        session = emulated_board(load_model(path), virtual=True)
        runner, url, _ = await start(session, "inprocess", "laws")
        board = await Board.open(url)
        try:
            await board.select_audio([0, 1, 2])
            audio, _ = await until(board, lambda e: isinstance(e, AudioReceived))
            return [p.law.name for p in board.ports], audio.ports, audio.linear.shape
        finally:
            await board.close()
            await runner.stop()

    laws, ports, shape = run(body(tmp_path))
    assert laws == ["ALAW", "ALAW", "ULAW"] and ports == (0, 1, 2) and shape == (3, 160)


def test_a_pty_board_that_goes_away_is_lost_at_once_and_retried():
    async def body():
        session = emulated_board("1fxo", virtual=True)
        runner, url, _ = await start(session, "pty")
        board = await Board.open(url)
        try:
            await runner.stop()  # the board process ends: its end of the pty closes
            lost, _ = await until(board, lambda e: isinstance(e, BoardLost))
            await asyncio.sleep(0.6)  # a re-open is attempted (and fails: the pty is gone)
            return lost, board.alive, board.closed
        finally:
            await board.close()

    lost, alive, closed = run(body())
    assert lost.reason == "the link closed" and lost.silent_s < 1.0
    assert not alive and not closed

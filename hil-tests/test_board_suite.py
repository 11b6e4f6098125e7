"""The board suite: what every voiceboard-v1 board must do, on real hardware or the emulator.

    pytest hil-tests --board URL [--loopback FXS:FXO,...] [--virtual-clock]

Session (SPEC 5), port control on every port (6), events across the bench's loopback
cables (7), a call across a cable carrying DTMF both ways (8), the board's switch (9), the
tick rate (8: the board is the clock), and the board's side of a lost host (5.3).
"""

import asyncio
import os
import time

import pytest
from conftest import Player, RawLink, collect, open_board

from appliance.drivers.board import (
    AudioReceived, CommandRejected, DigitDetected, FlashDetected, HookChanged,
    PolarityReversed, RingStarted, RingStopped,
)
from appliance.drivers.protocol import (
    AudioRx, Capabilities, Error, ErrorCode, Hello, LineReading, OffHook, OnHook, PortKind,
    ReadLine, SelectAudio,
)
from appliance.dtmf import generate


def _kind_ports(board, kind):
    return [p for p in board.ports if p.kind is kind]


def _cable_map(cables):
    return {fxs: fxo for fxs, fxo in cables}


def _need_cable(cables, count=1):
    if len(cables) < count:
        pytest.skip(f"needs {count} loopback cable(s): --loopback FXS:FXO")


# --- session -----------------------------------------------------------------------------
def test_hello_is_answered_by_capabilities_echoing_the_session(board_url, run):
    async def body():
        link = await RawLink.open(board_url)
        try:
            answers = []
            for session in (int.from_bytes(os.urandom(4), "little"), 7):
                await link.send(Hello(session))
                caps, _ = await link.receive(
                    lambda m, s=session: isinstance(m, Capabilities) and m.session == s, 1.0)
                answers.append(caps)
            return answers
        finally:
            link.close()

    first, second = run(body())
    assert first is not None and second is not None, "no CAPABILITIES within 1 s of HELLO"
    assert first.ports == second.ports and first.serial == second.serial
    assert second.tick >= first.tick  # the board's clock runs on across sessions


def test_capabilities_describe_a_consistent_board(board_url, run):
    async def body():
        board = await open_board(board_url)
        await board.close()
        return board.capabilities

    caps = run(body())
    assert 1 <= len(caps.model.encode()) <= 255 and caps.serial
    assert 1 <= len(caps.ports) <= 64
    spans = {}
    for info in caps.ports:
        if info.kind is PortKind.E1:
            spans.setdefault(info.span, []).append(info.timeslot)
        else:
            assert (info.span, info.timeslot) == (0xFF, 0)
    for span, slots in spans.items():
        assert sorted(slots) == [*range(1, 16), *range(17, 32)], f"span {span}: {slots}"


# --- port control on every port ----------------------------------------------------------
def test_hook_on_every_fxo_port(board_url, cables, run):
    station_of = {fxo: fxs for fxs, fxo in cables}

    async def body():
        board = await open_board(board_url)
        results = []
        try:
            for port in _kind_ports(board, PortKind.FXO):
                await port.seize()
                closed = await port.read_line()
                seen_off = seen_on = None
                if port.index in station_of:
                    seen_off, _ = await collect(board, lambda e: isinstance(e, HookChanged)
                                                and e.port == station_of[port.index], 25)
                await port.release()
                opened = await port.read_line()
                if port.index in station_of:
                    seen_on, _ = await collect(board, lambda e: isinstance(e, HookChanged)
                                               and e.port == station_of[port.index], 60)
                results.append((port.index, closed, opened, seen_off, seen_on))
        finally:
            await board.close()
        return results

    results = run(body())
    if not results:
        pytest.skip("the board has no FXO port")
    for index, closed, opened, seen_off, seen_on in results:
        if index in station_of:
            assert closed.current_ma >= 10.0, f"port {index}: no loop current off-hook"
            assert opened.current_ma < 1.0, f"port {index}: loop current on-hook"
            assert seen_off is not None and seen_off.off_hook, f"port {index}: no HOOK"
            assert seen_on is not None and not seen_on.off_hook, f"port {index}: no on-HOOK"


def test_ring_on_every_fxs_port(board_url, cables, run):
    line_of = _cable_map(cables)

    async def body():
        board = await open_board(board_url)
        results = []
        try:
            for port in _kind_ports(board, PortKind.FXS):
                await port.ring(((200, 200),))
                bursts = None
                if port.index in line_of:
                    fxo, started = line_of[port.index], []

                    def until(e, fxo=fxo, started=started):
                        if isinstance(e, RingStarted) and e.port == fxo:
                            started.append(e)
                        return isinstance(e, RingStopped) and e.port == fxo and bool(started)

                    stopped, _ = await collect(board, until, 60)
                    bursts = (started[0] if started else None, stopped)
                await port.stop_ring()
                results.append((port.index, bursts))
        finally:
            await board.close()
        return results

    results = run(body())
    if not results:
        pytest.skip("the board has no FXS port")
    for index, bursts in results:
        if index in line_of:
            on, off = bursts
            assert on and off, f"FXS {index}: the cabled FXO port saw no ring burst"
            assert 8 <= off.tick - on.tick <= 12, "a 200 ms burst is 10 ticks"


def test_commands_on_the_wrong_port_kind_or_port_are_refused(board_url, run):
    async def body():
        board = await open_board(board_url)
        codes = []
        try:
            for port in board.ports:
                command = port.ring if port.kind is not PortKind.FXS else port.seize
                try:
                    await command()
                except CommandRejected as exc:
                    codes.append((port.index, exc.code, exc.port))
                else:
                    codes.append((port.index, None, None))
            if len(board.ports) < 64:
                try:
                    await board.command(ReadLine(len(board.ports)))
                except CommandRejected as exc:
                    codes.append(("missing", exc.code, exc.port))
        finally:
            await board.close()
        return codes, len(board.ports)

    codes, count = run(body())
    for index, code, port in codes:
        if index == "missing":
            assert (code, port) == (ErrorCode.BAD_PORT, count)
        else:
            assert (code, port) == (ErrorCode.WRONG_PORT_KIND, index)


def test_hook_flash_is_acknowledged_when_done(board_url, cables, run):
    _need_cable(cables)
    fxs, fxo = cables[0]

    async def body():
        board = await open_board(board_url)
        try:
            port = board.ports[fxo]
            await port.seize()
            await collect(board, lambda e: isinstance(e, HookChanged) and e.port == fxs, 25)
            before = board.tick
            await port.flash(300)
            after = board.tick
            flash, _ = await collect(board, lambda e: isinstance(e, FlashDetected), 25)
            await port.release()
            return before, after, flash
        finally:
            await board.close()

    before, after, flash = run(body())
    assert after - before >= 14, "ACK came before the 300 ms flash was over"
    assert flash is not None and flash.port == fxs and 260 <= flash.duration_ms <= 340


# --- a call across a loopback cable --------------------------------------------------------
async def _call_up(board, fxs, fxo):
    """Ring the station, answer on the FXO side, select both ports' audio."""
    await board.ports[fxs].ring(((400, 200),))
    ring, _ = await collect(board, lambda e: isinstance(e, RingStarted) and e.port == fxo, 50)
    assert ring is not None, f"FXO {fxo} never rang"
    await board.ports[fxo].seize()
    hook, _ = await collect(board, lambda e: isinstance(e, HookChanged) and e.port == fxs, 25)
    assert hook is not None and hook.off_hook, f"FXS {fxs} saw no off-hook (ring trip)"


async def _send_digits(board, player, port, digits, heard_on):
    player.play(port, generate(digits, level_dbm0=-10.0, on_ms=80.0, off_ms=80.0))
    got = []
    await collect(board, lambda e: isinstance(e, DigitDetected) and e.port == heard_on and
                  (got.append(e.digit) or len(got) == len(digits)), 25 * len(digits) + 50,
                  player=player)
    return "".join(got)


def test_loopback_call_carries_dtmf_both_ways(board_url, cables, run):
    _need_cable(cables)

    async def body():
        board = await open_board(board_url)
        results = []
        try:
            player = Player(board)
            for fxs, fxo in cables:
                await _call_up(board, fxs, fxo)
                await board.select_audio([fxs, fxo])
                forward = await _send_digits(board, player, fxs, "159D", heard_on=fxo)
                backward = await _send_digits(board, player, fxo, "*073", heard_on=fxs)
                await board.ports[fxs].set_polarity(1)
                polarity, _ = await collect(board, lambda e: isinstance(e, PolarityReversed)
                                            and e.port == fxo, 25)
                await board.ports[fxo].release()
                results.append((fxs, fxo, forward, backward, polarity))
        finally:
            await board.close()
        return results

    for fxs, fxo, forward, backward, polarity in run(body()):
        assert forward == "159D", f"FXS {fxs} -> FXO {fxo}: heard {forward!r}"
        assert backward == "*073", f"FXO {fxo} -> FXS {fxs}: heard {backward!r}"
        assert polarity is not None and polarity.polarity == 1


def test_switch_connects_two_calls_inside_the_board(board_url, cables, run):
    _need_cable(cables, 2)
    (fxs_a, fxo_a), (fxs_b, fxo_b) = cables[:2]

    async def body():
        board = await open_board(board_url)
        try:
            player = Player(board)
            await _call_up(board, fxs_a, fxo_a)
            await _call_up(board, fxs_b, fxo_b)
            await board.ports[fxo_a].connect(fxo_b)
            await board.select_audio([fxs_a, fxs_b])
            # Host -> FXS a -> cable -> FXO a -> switch -> FXO b -> cable -> FXS b -> host.
            through = await _send_digits(board, player, fxs_a, "246", heard_on=fxs_b)
            await board.ports[fxo_a].disconnect()
            return through
        finally:
            await board.close()

    assert run(body()) == "246"


# --- the board is the clock ----------------------------------------------------------------
def test_ticks_come_every_20_ms_with_no_gap(board_url, virtual_clock, run):
    count = 150

    async def body():
        board = await open_board(board_url)
        try:
            await board.select_audio([p.index for p in board.ports])
            ticks, stamps = [], []
            while len(ticks) < count:
                event = await board.next_event(timeout=2.0)
                if isinstance(event, AudioReceived):
                    ticks.append(event.tick)
                    stamps.append(time.monotonic())
                    assert event.codes.shape == (len(board.ports), 160)
            return ticks, stamps
        finally:
            await board.close()

    ticks, stamps = run(body())
    assert all(b - a == 1 for a, b in zip(ticks, ticks[1:])), "a tick is missing"
    if virtual_clock:
        return  # a virtual clock has no rate to check: it ticks as fast as we answer
    # A real board is the clock. Skip the first ticks (the link's buffer may hold a few).
    rate = (count - 51) / (stamps[-1] - stamps[50])
    assert 48.0 <= rate <= 52.0, f"{rate:.2f} ticks/s, not 50"


# --- loss of the host and return -----------------------------------------------------------
def test_board_drops_a_silent_host_and_a_new_hello_restarts(board_url, cables, run):
    async def body():
        link = await RawLink.open(board_url)
        try:
            session = int.from_bytes(os.urandom(4), "little")
            await link.send(Hello(session))
            caps, _ = await link.receive(
                lambda m: isinstance(m, Capabilities) and m.session == session, 1.0)
            assert caps is not None, "no CAPABILITIES"
            fxo = next((i for i, p in enumerate(caps.ports) if p.kind is PortKind.FXO), None)
            await link.send(SelectAudio(1))
            if fxo is not None:
                await link.send(OffHook(fxo))
            silent_from = time.monotonic()
            # Say nothing for 1.6 s: the board must declare us lost and stop the audio.
            _, seen = await link.receive(lambda m: False, 1.6)
            audio = [m for m in seen if isinstance(m, AudioRx) and m.tick >= caps.tick]
            seq = await link.send(ReadLine(0))
            refused, _ = await link.receive(
                lambda m: isinstance(m, (Error, LineReading)) and m.ref_seq == seq, 1.0)
            back = int.from_bytes(os.urandom(4), "little")
            await link.send(Hello(back))
            again, _ = await link.receive(
                lambda m: isinstance(m, Capabilities) and m.session == back, 1.0)
            line = None
            if fxo is not None:
                seq = await link.send(ReadLine(fxo))
                line, _ = await link.receive(
                    lambda m: isinstance(m, LineReading) and m.ref_seq == seq, 1.0)
                await link.send(OnHook(fxo))
            return caps, audio, silent_from, refused, again, line
        finally:
            link.close()

    caps, audio, silent_from, refused, again, line = run(body())
    if audio:
        # Audio for at most LOSS_TIMEOUT (1 s, 50 ticks) after the host fell silent.
        assert audio[-1].tick - audio[0].tick <= 60, "the board kept sending audio"
    assert isinstance(refused, Error) and refused.code == ErrorCode.NO_SESSION
    assert again is not None, "no CAPABILITIES for the new session"
    if line is not None:
        assert line.current == 0, "the lost session's off-hook survived into the new one"


def test_board_keeps_the_session_while_the_host_talks(board_url, run):
    async def body():
        board = await open_board(board_url)
        try:
            await asyncio.sleep(1.5)  # only the driver's keepalives flow
            reading = await board.ports[0].read_line()
            return board.alive, board.stats.lost, reading
        finally:
            await board.close()

    alive, lost, reading = run(body())
    assert alive and lost == 0 and reading is not None

"""The board suite's options and helpers.

    pytest hil-tests --board URL [--loopback FXS:FXO,...] [--virtual-clock]

`--board` is any URL `open_transport` takes (a tty, a pty, socket://HOST:PORT,
usb://VID:PID[/SERIAL]). Without it every test is skipped. `--loopback` names the FXS ports
cabled to FXO ports on the bench (the tests of ring, hook and audio across a cable need at
least one); `--virtual-clock` says the board is an emulator that ticks as fast as the host
consumes (the timing check then asserts at least real-time speed instead of 50 ticks/s).
"""

import asyncio
import time

import numpy as np
import pytest

from appliance.drivers.board import AudioReceived, Board
from appliance.drivers.protocol import Codec, Law, Role
from appliance.drivers.transport import open_transport
from appliance.dsp import g711

TEST_TIMEOUT_S = 60.0  # a hung board fails the test instead of hanging the suite


def pytest_addoption(parser):
    group = parser.getgroup("board suite")
    group.addoption("--board", default=None, metavar="URL",
                    help="The board to test: a tty, a pty, socket://HOST:PORT or usb://...")
    group.addoption("--loopback", default="", metavar="FXS:FXO,...",
                    help="FXS ports cabled to FXO ports on the bench, e.g. 4:0,5:1")
    group.addoption("--virtual-clock", action="store_true",
                    help="The board is an emulator on a virtual clock.")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--board"):
        return
    skip = pytest.mark.skip(reason="no board: run with --board URL")
    for item in items:
        item.add_marker(skip)


@pytest.fixture(scope="session")
def board_url(request):
    return request.config.getoption("--board")


@pytest.fixture(scope="session")
def virtual_clock(request):
    return request.config.getoption("--virtual-clock")


@pytest.fixture(scope="session")
def cables(request):
    pairs = []
    for item in filter(None, request.config.getoption("--loopback").split(",")):
        fxs, fxo = item.split(":")
        pairs.append((int(fxs), int(fxo)))
    return tuple(pairs)


@pytest.fixture
def run():
    """Run a coroutine to completion on a fresh event loop, with the suite's time limit."""
    def runner(coro):
        async def limited():
            async with asyncio.timeout(TEST_TIMEOUT_S):
                return await coro
        return asyncio.run(limited())
    return runner


async def open_board(url):
    return await Board.open(url, timeout=5.0)


class Player:
    """Plays queued G.711 audio to ports, one frame per board tick, answering each
    AUDIO_RX (the board plays it two ticks later)."""

    def __init__(self, board):
        self.board = board
        self.queue = {}

    def play(self, port, samples):
        law = self.board.ports[port].law
        encode = g711.alaw_encode if law is Law.ALAW else g711.ulaw_encode
        codes = encode(np.asarray(samples, dtype=np.int16))
        old = self.queue.get(port, np.zeros(0, np.uint8))
        self.queue[port] = np.concatenate([old, codes])

    def on_audio(self, event):
        frames = {}
        for port, codes in list(self.queue.items()):
            idle = 0xD5 if self.board.ports[port].law is Law.ALAW else 0xFF
            frame = np.full(160, idle, dtype=np.uint8)
            frame[:min(160, codes.size)] = codes[:160]
            frames[port] = frame.tobytes()
            if codes.size <= 160:
                del self.queue[port]
            else:
                self.queue[port] = codes[160:]
        if frames:
            self.board.send_audio(event.tick, frames)

    @property
    def busy(self):
        return bool(self.queue)


async def collect(board, until, ticks, player=None, wall_s=20.0):
    """Events of `board` until until(event) is true (returns (event, seen)) or `ticks`
    board ticks pass (returns (None, seen)); `player` is fed every audio tick."""
    seen = []
    start = board.tick
    deadline = time.monotonic() + wall_s
    while time.monotonic() < deadline:
        try:
            event = await board.next_event(timeout=1.5)
        except TimeoutError:
            continue
        if isinstance(event, AudioReceived):
            if player is not None:
                player.on_audio(event)
        else:
            seen.append(event)
        if until(event):
            return event, seen
        if board.tick is not None and start is not None and board.tick - start > ticks:
            return None, seen
    return None, seen


class RawLink:
    """The wire itself, for the session tests: a transport and a host codec."""

    def __init__(self, transport):
        self.transport = transport
        self.codec = Codec(Role.HOST)
        self.backlog = []

    @classmethod
    async def open(cls, url):
        return cls(await asyncio.to_thread(open_transport, url))

    async def send(self, message):
        await self.transport.write(self.codec.encode(message))
        return self.codec.last_seq

    async def receive(self, until, timeout_s):
        """Frames until until(message); returns (message or None, messages seen)."""
        seen = []
        while self.backlog:
            message = self.backlog.pop(0)
            seen.append(message)
            if until(message):
                return message, seen
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout_s
        while True:
            left = end - loop.time()
            if left <= 0:
                return None, seen
            try:
                data = await self.transport.read(65536, timeout=left)
            except TimeoutError:
                return None, seen
            self.backlog += [item.message for item in self.codec.feed(data)
                             if hasattr(item, "message")]
            while self.backlog:
                message = self.backlog.pop(0)
                seen.append(message)
                if until(message):
                    return message, seen

    def close(self):
        self.transport.close()

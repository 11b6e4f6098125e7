"""Run a `BoardSession` over a transport: the emulator as a board on a pty, a TCP port,
the emulated USB device or an in-process endpoint.

`EmulatorRunner(session)` ticks the board (every 20 ms of the event loop's monotonic clock
in real time; as fast as the host consumes on a virtual clock) and carries bytes between
the session and the link attached with `attach(transport)`. With no host attached the
board keeps running (in real time) and its output is dropped, as a board on a UART whose
host closed the port. One link at a time.

Listeners (each returns once listening; the link is served by a task):
- `serve_pty(runner)` -> `PtyBoard` (the host opens ``.path``);
- `serve_tcp(runner, host, port)` -> `TcpBoardServer` (the host opens ``.url``);
- `serve_inprocess(runner, name)` (the host opens ``inprocess://NAME``; re-offered after
  each link closes);
- `serve_usb(runner, backend, serial)` -> `EmulatedUsbDevice` on `backend` (the host opens
  ``usb://1209:0001/SERIAL`` with ``usb_backend=backend``).

`freeze()` makes the board hang (no ticks, no answers, input ignored) and `thaw()` brings
it back, for tests of a board that stops answering.
"""

import asyncio
import contextlib

from appliance.drivers.emulator.clock import TICK_S
from appliance.drivers.transport import (
    PtyBoard,
    TcpBoardServer,
    TransportClosed,
    listen_inprocess,
)

MAX_QUEUED = 1 << 20  # bytes waiting for a slow host before output is dropped
VIRTUAL_BATCH = 32  # virtual clock: ticks run before yielding to the event loop


class EmulatorRunner:
    def __init__(self, session, *, tick_s=TICK_S):
        self.session = session
        self.tick_s = tick_s
        self.frozen = False
        self.link = None
        self.late_ticks = 0
        self._queue = None
        self._queued = 0
        self._progress = asyncio.Event()
        self._stopped = asyncio.Event()
        self._ticker = None
        self._tasks = set()
        self._closing = False

    @property
    def virtual(self):
        return self.session.virtual

    def start(self):
        """Start ticking (call from the event loop)."""
        if self._ticker is None:
            self._ticker = asyncio.get_running_loop().create_task(self._tick_loop())
        return self

    async def stop(self):
        """Stop ticking and serving; closes the link (the host sees the board go away)."""
        self._stopped.set()
        self._progress.set()
        self._closing = True
        if self.link is not None:
            self.link.close()  # wakes the link's reader
        tasks = [t for t in (self._ticker, *self._tasks) if t is not None]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=2.0)

    def freeze(self):
        """The board hangs: it stops ticking, answering and sending."""
        self.frozen = True

    def thaw(self):
        self.frozen = False
        self._progress.set()

    def spawn(self, coro):
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # --- the link -----------------------------------------------------------------------
    async def attach(self, transport):
        """Serve the host on `transport` until the link closes (then return)."""
        if self.link is not None:
            raise RuntimeError("the emulated board already has a host link")
        loop = asyncio.get_running_loop()
        self.link = transport
        self._queue = asyncio.Queue()
        self._queued = 0
        writer = loop.create_task(self._write_loop(transport, self._queue))
        try:
            while True:
                try:
                    data = await transport.read(65536)
                except TransportClosed:
                    return
                if self.frozen:
                    continue
                self.session.receive(data, loop.time())
                self._flush()
                self._progress.set()
        finally:
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError, TransportClosed):
                await writer
            self.link = None
            self._queue = None

    async def _write_loop(self, transport, queue):
        while True:
            data = await queue.get()
            self._queued -= len(data)
            await transport.write(data)

    def _flush(self):
        data = self.session.take_output()
        if not data or self.frozen:
            return
        if self._queue is None or self._queued + len(data) > MAX_QUEUED:
            self.session.stats.dropped_output_bytes += len(data)
            return
        self._queued += len(data)
        self._queue.put_nowait(data)

    # --- ticking ------------------------------------------------------------------------
    async def _tick_loop(self):
        loop = asyncio.get_running_loop()
        if self.virtual:
            await self._virtual_loop(loop)
        else:
            await self._realtime_loop(loop)

    async def _realtime_loop(self, loop):
        due = loop.time()
        while not self._stopped.is_set():
            delay = due - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            elif delay < -self.tick_s:
                self.late_ticks += 1
                await asyncio.sleep(0)
            due += self.tick_s
            if self.frozen:
                continue
            self.session.step(loop.time())
            self._flush()

    async def _virtual_loop(self, loop):
        while not self._stopped.is_set():
            ran = 0
            while not self.frozen and ran < VIRTUAL_BATCH and self.session.may_tick():
                self.session.step(loop.time())
                ran += 1
            if ran:
                self._flush()
                await asyncio.sleep(0)
                continue
            if not self.frozen and self.session.check_host(loop.time()):
                continue
            self._progress.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(0.1):
                    await self._progress.wait()


async def serve_pty(runner):
    """The board on a new pty; the host opens the returned board's ``.path``."""
    board_end = PtyBoard()
    runner.spawn(_serve_forever(runner, board_end))
    return board_end


async def _serve_forever(runner, transport):
    try:
        await runner.attach(transport)
    finally:
        transport.close()


async def serve_tcp(runner, host="127.0.0.1", port=0):
    """The board on a TCP port; the host opens the returned server's ``.url``."""
    server = await TcpBoardServer.start(host, port)

    async def accept_loop():
        try:
            while True:
                link = await server.accept()
                try:
                    await runner.attach(link)
                finally:
                    link.close()
        finally:
            server.close()

    runner.spawn(accept_loop())
    return server


async def serve_inprocess(runner, name):
    """The board at ``inprocess://NAME``, offered again after each link closes."""
    first = listen_inprocess(name)

    async def offer_loop(board_end):
        while True:
            try:
                await runner.attach(board_end)
            finally:
                board_end.close()
            if runner._closing:
                return
            board_end = listen_inprocess(name)

    runner.spawn(offer_loop(first))
    return f"inprocess://{name}"


async def serve_usb(runner, backend, serial_number="EMU-0001"):
    """The board as an emulated USB device plugged into `backend` (an
    `EmulatedUsbBackend`); returns the device (host URL: ``usb://VID:PID/SERIAL``)."""
    from appliance.drivers.transport.usb_emulated import EmulatedUsbDevice

    device = backend.attach(EmulatedUsbDevice(serial_number=serial_number))
    runner.spawn(_serve_forever(runner, device.peer))
    device.url = f"usb://{device.vid:04x}:{device.pid:04x}/{device.serial_number}"
    return device

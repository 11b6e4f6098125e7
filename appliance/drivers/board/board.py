"""`Board`, `Span` and `Port`: one voice board as the engine sees it.

    board = await Board.open("socket://127.0.0.1:5000", profile="cn")
    board.capabilities                   # model, firmware, serial, ports (protocol Capabilities)
    port = board.ports[0]
    await port.off_hook()                # every command waits for the board's ACK / ERROR
    await board.select_audio([0, 4])
    async for event in board.events():   # one stream: line events, DSP events, audio ticks
        ...
    board.send_audio(tick, {4: codes})   # one AUDIO_TX per tick, answering AUDIO_RX `tick`
    await board.close()

**Time.** The board is the clock: events carry its tick. The host's own clock (the event
loop's monotonic time) is used only for the link: keepalives (a frame at least every
100 ms), the 1000 ms loss timeout, HELLO retries every 500 ms and command timeouts. Every
board tick is answered once the consumer is done with it: by the AUDIO_TX it sent
(`send_audio`), else by a KEEPALIVE naming the tick when it asks for the next event (and
each board KEEPALIVE at once). A board on a virtual clock ticks on these answers.

**Loss.** When no frame has come for `loss_timeout_s` (SPEC 5.3), or the link fails, the
board is lost: pending commands raise `BoardUnavailable`, the stream gets `BoardLost` and a
`CallEnded` for every port that was in use, and the ports return to idle. The driver then
sends HELLO every 500 ms (re-opening the URL first when the link itself is gone) until the
board answers: `BoardBack`, a new session with every port on-hook and no audio selected.
Each board has its own tasks; a lost board never stalls another one.

**DSP.** With ``dsp=True`` (the default) a `ChannelBank` per sample law runs over every
tick's AUDIO_RX (one C call per law per tick): `AudioReceived` carries the linear audio, and
`DigitDetected`, `ToneDetected` / `ToneEnded` and, on an on-hook FXO line, `CallerIdReceived`
(``appliance.dsp.callerid``: FSK Bell 202 / V.23 and DTMF) follow it.
"""

import asyncio
import itertools
import os
from dataclasses import dataclass

import numpy as np

from appliance.drivers.board import events as ev
from appliance.drivers.profiles import load_profile
from appliance.drivers.protocol import (
    IDLE_CODE,
    LOSS_TIMEOUT_MS,
    TICK_SAMPLES,
    Codec,
    ErrorCode,
    Law,
    PortKind,
    RemoteProtocolError,
    Role,
    ports_to_mask,
)
from appliance.drivers.protocol import messages as wire
from appliance.drivers.transport import TransportClosed, TransportError, open_transport

HELLO_RETRY_S = 0.5
KEEPALIVE_S = 0.1  # the host sends a frame at least this often (SPEC: 200 ms)
WATCHDOG_S = 0.05
COMMAND_TIMEOUT_S = 1.0
MAX_QUEUED_AUDIO = 250  # AudioReceived kept for a slow consumer (5 s), then dropped
TICK_MASK = 0xFFFFFFFF


class BoardError(Exception):
    """Base of the driver's errors."""


class BoardUnavailable(BoardError):
    """The board cannot be reached: not opened yet, lost, or closed."""


class CommandRejected(BoardError):
    """The board answered ERROR: `code` (protocol ``ErrorCode``) and `port`."""

    def __init__(self, board, command, code, port):
        super().__init__(f"{board}: {type(command).__name__} refused: {ErrorCode(code).name}"
                         + (f" (port {port})" if port != 0xFF else ""))
        self.command, self.code, self.port = command, ErrorCode(code), port


class CommandTimeout(BoardError):
    """No answer within the command timeout."""


@dataclass(frozen=True)
class LineMeasurement:
    """A READ_LINE answer in engineer's units: signed tip-ring volts, loop milliamps."""

    voltage_v: float
    current_ma: float


@dataclass
class BoardStats:
    frames_in: int = 0
    frames_out: int = 0
    protocol_errors: int = 0
    audio_frames: int = 0
    audio_dropped: int = 0
    lost: int = 0
    back: int = 0
    hellos: int = 0
    caller_id_rejected: int = 0


class Port:
    """One port of a board: commands, and the state the driver tracks from events."""

    def __init__(self, board, index, info):
        self.board = board
        self.index = index
        self.kind = PortKind(info.kind)
        self.law = Law(info.law)
        self.span = None if self.kind is not PortKind.E1 else info.span
        self.timeslot = info.timeslot
        self._idle()

    def _idle(self):
        self.off_hook = False  # FXO: our hook; FXS: the station's
        self.ringing = False  # FXO: the line rings (a burst or between bursts); FXS: we ring
        self.polarity = 0
        self._onhook_tick = None  # FXS: on-hook pending the flash window
        self._ring_tick = None  # FXO: tick of the last RING_ON

    @property
    def in_use(self):
        return self.off_hook or self.ringing

    def __repr__(self):
        return f"<Port {self.board.name}:{self.index} {self.kind.name}>"

    # Commands (each awaits the board's answer; CommandRejected on ERROR).
    async def seize(self):
        """FXO: go off-hook (answer a ringing line, or seize it to dial)."""
        await self.board.command(wire.OffHook(self.index))
        self.off_hook, self.ringing, self._ring_tick = True, False, None
        self.board._listen_for_caller_id(self.index)  # caller ID ends with the answer

    async def release(self):
        """FXO: go on-hook."""
        await self.board.command(wire.OnHook(self.index))
        self.off_hook = False
        self.board._listen_for_caller_id(self.index)

    async def flash(self, duration_ms=None):
        """FXO: hook flash (default: the middle of the profile's window); returns when done."""
        if duration_ms is None:
            window = self.board.profile.hook_flash
            duration_ms = (window.min_ms + window.max_ms) // 2
        await self.board.command(wire.HookFlash(self.index, int(duration_ms)),
                                 timeout=COMMAND_TIMEOUT_S + duration_ms / 1000.0)

    async def ring(self, cadence=None):
        """FXS: ring the station with `cadence` ((on_ms, off_ms) pairs; default: the
        profile's), until `stop_ring` or the station answers."""
        cadence = self.board.profile.ringing.pairs_ms if cadence is None else cadence
        await self.board.command(wire.Ring(self.index, tuple(cadence)))
        self.ringing = True

    async def stop_ring(self):
        await self.board.command(wire.StopRing(self.index))
        self.ringing = False

    async def set_polarity(self, polarity):
        await self.board.command(wire.SetPolarity(self.index, int(polarity)))
        self.polarity = int(polarity)

    async def set_gain(self, rx_db=0.0, tx_db=0.0):
        """Gains in dB (-24.0..+12.0, 0.1 dB steps): rx line -> host, tx host -> line."""
        await self.board.command(wire.SetGain(self.index, int(round(rx_db * 10)),
                                              int(round(tx_db * 10))))

    async def read_line(self):
        """The line's voltage and loop current, as a `LineMeasurement`."""
        reply = await self.board.command(wire.ReadLine(self.index))
        return LineMeasurement(reply.voltage / 10.0, reply.current / 10.0)

    async def connect(self, other):
        """The board's switch: this port and `other` hear each other."""
        await self.board.command(wire.Connect(self.index, _index(other)))

    async def listen(self, source):
        """This port hears `source` one-way (monitoring)."""
        await self.board.command(wire.Listen(self.index, _index(source)))

    async def disconnect(self):
        await self.board.command(wire.Disconnect(self.index))

    async def set_abcd(self, abcd):
        """E1: send ABCD bits (0..15) in timeslot 16."""
        await self.board.command(wire.SetAbcd(self.index, abcd))

    def detect_tones(self, on=True):
        """Call-progress tone detection on this port's audio (outbound calls, lines that
        signal a far-end clear only by busy tone)."""
        self.board._enable_tones(self.index, on)


def _index(port):
    return port.index if isinstance(port, Port) else int(port)


class Span:
    """An E1 span: its 30 channel ports and its alarm set."""

    def __init__(self, board, index, ports):
        self.board, self.index, self.ports = board, index, tuple(ports)
        self.alarms = 0

    def __repr__(self):
        return f"<Span {self.board.name}:{self.index} {len(self.ports)} channels>"


def _import_dsp():
    # Loaded in a thread before HELLO: importing scipy on the event loop would stall the
    # session past the board's 1 s host-loss timeout.
    import appliance.dsp.bank  # noqa: F401 - imported for its side effect: loaded


class _Bank:
    """The DSP over the ports of one law: one ChannelBank call per tick. Caller ID (FSK and
    DTMF) runs on the FXO ports while they are on-hook; the voice path (noise suppression,
    AGC) is the engine's to switch on when it records."""

    def __init__(self, ports, law, tone_plan, fxo):
        from appliance.dsp import ChannelBank

        self.ports = np.array(ports)
        self.channel = {p: i for i, p in enumerate(ports)}
        self.bank = ChannelBank(len(ports), law="alaw" if law is Law.ALAW else "ulaw",
                                tone_plan=tone_plan)
        self.fxo = {p for p in ports if p in fxo}
        for port, channel in self.channel.items():
            self.bank.enable(channel, "ns", False)
            self.bank.enable(channel, "agc", False)
            self.bank.enable(channel, "callerid", port in self.fxo)  # ports start on-hook
        self.frames = np.full((len(ports), TICK_SAMPLES), IDLE_CODE[law], dtype=np.uint8)
        self.idle = IDLE_CODE[law]
        self._rows = {}

    def rows(self, ports):
        """For a frame carrying `ports`: (rows of the frame that are this bank's, their
        channels, whether the frame is exactly the bank). Kept per port set: the set
        changes with SELECT_AUDIO, not with the tick."""
        found = self._rows.get(ports)
        if found is None:
            pairs = [(row, self.channel[p]) for row, p in enumerate(ports) if p in self.channel]
            src, dst = [r for r, _ in pairs], [c for _, c in pairs]
            whole = src == dst == list(range(len(self.channel))) and len(ports) == len(src)
            found = self._rows[ports] = (src, dst, whole)
        return found


class _Found:
    number: str
    name: str | None
    format: str


class Board:
    """A voice board on a link named by a URL (see the module doc)."""

    def __init__(self, url, *, name=None, profile="cn", dsp=True, usb_backend=None,
                 loss_timeout_s=LOSS_TIMEOUT_MS / 1000.0, command_timeout_s=COMMAND_TIMEOUT_S,
                 reopen=True):
        self.url = url
        self.name = name or url
        self.profile = load_profile(profile) if isinstance(profile, str) else profile
        self.dsp = dsp
        self.usb_backend = usb_backend
        self.loss_timeout_s = loss_timeout_s
        self.command_timeout_s = command_timeout_s
        self.reopen = reopen
        self.stats = BoardStats()
        self.capabilities = None
        self.ports = ()
        self.spans = ()
        self.alive = False
        self.closed = False
        self.tick = None  # the last board tick seen
        self.selected = ()
        self._transport = None
        self._codec = Codec(Role.HOST)
        self._events = asyncio.Queue()
        self._audio_queued = 0
        self._pending = {}  # seq -> (future, command)
        self._session = None
        self._sessions = itertools.count(int.from_bytes(os.urandom(4), "little"))
        self._hello_at = None
        self._last_rx = None
        self._last_tx = None
        self._unanswered = None  # the last audio tick handed to the consumer
        self._answered = None  # the last tick answered with AUDIO_TX
        self._opening = None
        self._open_at = None
        self._tasks = []
        self._wqueue = asyncio.Queue()
        self._ready = None
        self._banks = {}
        self._timed = set()  # ports with a ring or flash-window timer running

    # --- opening and closing ------------------------------------------------------------
    @classmethod
    async def open(cls, url, *, timeout=3.0, **options):
        """Open `url`, start a session and return the Board once CAPABILITIES came.
        Raises TransportError (a URL that cannot be opened) or BoardUnavailable (no
        answer within `timeout` seconds)."""
        board = cls(url, **options)
        try:
            await board.start(timeout)
        except BaseException:
            await board.close()
            raise
        return board

    async def start(self, timeout=3.0):
        loop = asyncio.get_running_loop()
        self._ready = loop.create_future()
        if self.dsp:
            # The DSP modules import scipy: seconds on a busy machine. Import them in a
            # thread now, so the session never waits on them (a board drops a host that
            # is silent for 1 s).
            await asyncio.to_thread(_import_dsp)
        self._attach(await asyncio.to_thread(self._open_link))
        self._tasks = [loop.create_task(self._read_loop()),
                       loop.create_task(self._write_loop()),
                       loop.create_task(self._watchdog())]
        self._hello()
        try:
            async with asyncio.timeout(timeout):
                await asyncio.shield(self._ready)
        except TimeoutError:
            raise BoardUnavailable(f"{self.url}: no CAPABILITIES within {timeout} s: is it "
                                   "a voice board (voiceboard-v1), and is it powered?") from None

    def _open_link(self):
        return open_transport(self.url, usb_backend=self.usb_backend)

    def _attach(self, transport):
        self._transport = transport
        self._codec = Codec(Role.HOST)  # a fresh link: no half frame from the old one
        while not self._wqueue.empty():  # nor the old link's unsent frames
            self._wqueue.get_nowait()

    async def close(self):
        """Stop the tasks and close the link (the board sees the host go silent)."""
        if self.closed:
            return
        self.closed = True
        self.alive = False
        transport, self._transport = self._transport, None
        if transport is not None:
            transport.close()  # wakes the reader
        tasks = [t for t in (*self._tasks, self._opening) if t is not None]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=2.0)
        self._fail_pending(BoardUnavailable(f"{self.name}: closed"))

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc_info):
        await self.close()

    # --- sending ------------------------------------------------------------------------
    def _send(self, message):
        if self._transport is None:
            return None
        data = self._codec.encode(message)
        self._wqueue.put_nowait(data)
        self.stats.frames_out += 1
        self._last_tx = asyncio.get_running_loop().time()
        return self._codec.last_seq

    async def _write_loop(self):
        while True:
            data = await self._wqueue.get()
            transport = self._transport
            if transport is None:
                continue
            try:
                await transport.write(data)
            except TransportClosed:
                self._link_failed("the link closed")

    def _hello(self):
        self._session = next(self._sessions) & 0xFFFFFFFF
        self._hello_at = asyncio.get_running_loop().time()
        self.stats.hellos += 1
        self._send(wire.Hello(self._session))

    async def command(self, message, timeout=None):
        """Send a port-control or switching message and wait for its answer (ACK, or
        LINE_READING for READ_LINE). CommandRejected on ERROR, CommandTimeout, or
        BoardUnavailable when the board is (or gets) lost."""
        if not self.alive:
            raise BoardUnavailable(f"{self.name}: the board is not available (lost or closed)")
        future = asyncio.get_running_loop().create_future()
        seq = self._send(message)
        self._pending[seq] = (future, message)
        try:
            async with asyncio.timeout(timeout or self.command_timeout_s):
                return await future
        except TimeoutError:
            raise CommandTimeout(f"{self.name}: no answer to {type(message).__name__} "
                                 f"within {timeout or self.command_timeout_s} s") from None
        finally:
            if self._pending.get(seq, (None,))[0] is future:
                del self._pending[seq]

    async def select_audio(self, ports):
        """Which ports' audio the board sends each tick (SELECT_AUDIO); replaces the old set."""
        ports = tuple(sorted({_index(p) for p in ports}))
        await self.command(wire.SelectAudio(ports_to_mask(ports)))
        for port in set(ports) - set(self.selected):
            self._reset_dsp(port)
        self.selected = ports

    def send_audio(self, tick, audio, ports=None):
        """Queue one AUDIO_TX answering AUDIO_RX `tick` (played at tick + 2): `audio` is
        {port: 160 G.711 bytes}, or a uint8 array [len(ports), 160] for `ports` (ascending,
        e.g. an `AudioReceived`'s). Does nothing while the board is lost."""
        if not self.alive:
            return
        if ports is None:
            mask = ports_to_mask(audio)
            samples = b"".join(bytes(audio[p]) for p in wire.mask_to_ports(mask))
        else:
            mask = ports_to_mask(ports)
            samples = np.ascontiguousarray(audio, dtype=np.uint8).tobytes()
            if len(samples) != TICK_SAMPLES * len(ports) or list(ports) != sorted(set(ports)):
                raise ValueError(f"audio must be uint8 [{len(ports)}, {TICK_SAMPLES}] for "
                                 "ascending ports")
        self._send(wire.AudioTx(tick & TICK_MASK, mask, samples))
        self._answered = tick

    # --- the event stream ---------------------------------------------------------------
    async def events(self):
        """The board's events, in order, forever (until `close`)."""
        while True:
            yield await self.next_event()

    async def next_event(self, timeout=None):
        """The next event (TimeoutError after `timeout` seconds). Coming back for the next
        event also tells the board that the last audio tick was consumed (see `_settle`)."""
        self._settle()
        async with asyncio.timeout(timeout):
            event = await self._events.get()
        if isinstance(event, ev.AudioReceived):
            self._audio_queued -= 1
            self._unanswered = event.tick
        return event

    def _settle(self):
        # The consumer is back, so it is done with the last audio tick it took: when it sent
        # no AUDIO_TX for that tick, a KEEPALIVE reports it consumed. A board on a virtual
        # clock ticks on these reports (as fast as the host consumes).
        tick, self._unanswered = self._unanswered, None
        if tick is not None and self.alive and self._answered != tick:
            self._send(wire.Keepalive(tick & TICK_MASK))

    def _emit(self, event):
        self._events.put_nowait(event)

    # --- receiving ----------------------------------------------------------------------
    async def _read_loop(self):
        loop = asyncio.get_running_loop()
        while True:
            transport = self._transport
            if transport is None:
                await asyncio.sleep(WATCHDOG_S)
                continue
            try:
                data = await transport.read(65536)
            except TransportClosed:
                self._link_failed("the link closed")
                continue
            now = loop.time()
            for item in self._codec.feed(data):
                if isinstance(item, RemoteProtocolError):
                    self.stats.protocol_errors += 1
                    if item.seq is not None:
                        self._last_rx = now  # a sound frame (rule 6 fault) still counts
                    continue
                self._last_rx = now
                self.stats.frames_in += 1
                self._on_message(item.message)

    def _on_message(self, message):
        if isinstance(message, wire.Capabilities):
            if message.session == self._session:
                self._session_started(message)
            return
        if not self.alive:
            return
        handler = _HANDLERS.get(type(message))
        if handler is not None:
            handler(self, message)

    def _session_started(self, caps):
        was_lost = self.capabilities is not None
        self._build(caps)
        self.tick = caps.tick
        self.alive = True
        self.selected = ()
        if was_lost:
            self.stats.back += 1
            self._emit(ev.BoardBack(self.name, caps))
        if self._ready is not None and not self._ready.done():
            self._ready.set_result(caps)

    def _build(self, caps):
        if self.capabilities is not None and caps.ports == self.capabilities.ports:
            self.capabilities = caps
            for port in self.ports:
                port._idle()
            for span in self.spans:
                span.alarms = 0
            for port in self.ports:
                self._reset_dsp(port.index)
            return
        self.capabilities = caps
        self.ports = tuple(Port(self, i, info) for i, info in enumerate(caps.ports))
        spans = {}
        for port in self.ports:
            if port.span is not None:
                spans.setdefault(port.span, []).append(port)
        self.spans = tuple(Span(self, s, spans[s]) for s in sorted(spans))
        self._banks = {}
        self._timed = set()
        if self.dsp:
            fxo = {p.index for p in self.ports if p.kind is PortKind.FXO}
            for law in Law:
                members = [p.index for p in self.ports if p.law is law]
                if members:
                    self._banks[law] = _Bank(members, law, self.profile.tone_plan, fxo)

    def _ack(self, message):
        entry = self._pending.pop(message.ref_seq, None)
        if entry is not None and not entry[0].done():
            entry[0].set_result(message)

    def _error(self, message):
        entry = self._pending.pop(message.ref_seq, None)
        if entry is not None and not entry[0].done():
            entry[0].set_exception(CommandRejected(self.name, entry[1], message.code,
                                                   message.port))

    def _saw_tick(self, tick):
        self.tick = tick
        ring_gap = int(self.profile.ringing.period_s * 50 * 1.5) + 10
        for port in list(self._timed):
            if port._ring_tick is not None and port.kind is PortKind.FXO and \
                    tick - port._ring_tick > ring_gap:
                # No burst for 1.5 cadences: the caller gave up before the answer.
                port.ringing, port._ring_tick = False, None
            if port._onhook_tick is not None and \
                    (tick - port._onhook_tick) * 20 > self.profile.hook_flash.max_ms:
                self._emit(ev.HookChanged(self.name, port.index, False, port._onhook_tick))
                port._onhook_tick = None
            if port._ring_tick is None and port._onhook_tick is None:
                self._timed.discard(port)

    def _board_keepalive(self, message):
        self._saw_tick(message.tick)
        self._send(wire.Keepalive(message.tick))  # tick consumed: nothing to wait for

    def _port(self, index):
        return self.ports[index] if 0 <= index < len(self.ports) else None

    def _ring(self, message):
        port = self._port(message.port)
        on = isinstance(message, wire.RingOn)
        if port is not None and on:
            port.ringing, port._ring_tick = True, message.tick
            self._timed.add(port)
        self._emit((ev.RingStarted if on else ev.RingStopped)(self.name, message.port,
                                                               message.tick))

    def _hook(self, message):
        port = self._port(message.port)
        if port is None:
            return
        window = self.profile.hook_flash
        if message.off_hook:
            port.ringing = False  # ring trip
            if port._onhook_tick is not None:
                ms = (message.tick - port._onhook_tick) * 20
                port._onhook_tick, port.off_hook = None, True
                if window.is_flash(ms):
                    self._emit(ev.FlashDetected(self.name, port.index, ms, message.tick))
                # shorter than the window: a bounce, nothing to report
                return
            port.off_hook = True
            self._emit(ev.HookChanged(self.name, port.index, True, message.tick))
        else:
            if not port.off_hook:
                return
            port.off_hook = False
            port._onhook_tick = message.tick  # reported once the flash window has passed
            self._timed.add(port)

    def _polarity(self, message):
        port = self._port(message.port)
        if port is not None:
            port.polarity = int(message.polarity)
        self._emit(ev.PolarityReversed(self.name, message.port, int(message.polarity),
                                       message.tick))

    def _loop(self, message):
        cls = ev.LoopCurrentDropped if isinstance(message, wire.LoopDrop) \
            else ev.LoopCurrentRestored
        self._emit(cls(self.name, message.port, message.tick))

    def _alarms(self, message):
        for span in self.spans:
            if span.index == message.span:
                span.alarms = int(message.alarms)
        self._emit(ev.AlarmsChanged(self.name, message.span, int(message.alarms),
                                    message.tick))

    def _abcd(self, message):
        self._emit(ev.AbcdChanged(self.name, message.port, message.abcd, message.tick))

    def _audio(self, message):
        self._saw_tick(message.tick)
        self.stats.audio_frames += 1
        ports = message.ports
        codes = message.as_array()
        linear = self._run_dsp(message.tick, ports, codes) if self._banks else None
        if self._audio_queued >= MAX_QUEUED_AUDIO:
            self.stats.audio_dropped += 1
        else:
            self._audio_queued += 1
            self._emit(ev.AudioReceived(self.name, message.tick, ports, codes, linear))
        for event in self._dsp_events:
            self._emit(event)

    # --- DSP ----------------------------------------------------------------------------
    _dsp_events = ()

    def _run_dsp(self, tick, ports, codes):
        linear = np.empty((len(ports), TICK_SAMPLES), dtype=np.int16)
        out = []
        for bank in self._banks.values():
            src, dst, whole = bank.rows(tuple(ports))
            if not src:
                continue
            if whole:
                result = bank.bank.process(codes)
            elif len(src) == bank.bank.channels:
                result = bank.bank.process(codes[src])
            else:
                bank.frames[dst] = codes[src]
                result = bank.bank.process(bank.frames)
                bank.frames[dst] = bank.idle
            linear[src] = result.linear[dst]
            for channel, digit in result.digits:
                self._digit(out, int(bank.ports[channel]), digit, tick)
            for channel, tone in result.tones:
                cls = ev.ToneDetected if tone.end is None else ev.ToneEnded
                out.append(cls(self.name, int(bank.ports[channel]), tone.tone, tick))
            for channel, found in result.caller_ids:
                self._caller_id(out, int(bank.ports[channel]), found, tick)
        self._dsp_events = out
        return linear

    def _digit(self, out, index, event, tick):
        port = self.ports[index]
        if port.kind is PortKind.FXO and not port.off_hook:
            return  # digits on an on-hook line are caller ID (A<number>C ...): the bank's
        out.append(ev.DigitDetected(self.name, index, event.digit, tick))

    def _caller_id(self, out, index, found, tick):
        if isinstance(found, Exception):  # a rejected message (bad checksum, cut short)
            self.stats.caller_id_rejected += 1
            return
        out.append(ev.CallerIdReceived(self.name, index, found.number, found.name,
                                       found.format, tick, found))

    def _reset_dsp(self, index):
        for bank in self._banks.values():
            if index in bank.channel:
                bank.bank.reset(bank.channel[index])
                if index in bank.fxo:
                    bank.bank.enable(bank.channel[index], "callerid",
                                     not self.ports[index].off_hook)

    def _listen_for_caller_id(self, index):
        """Caller ID on an FXO port exactly while it is on-hook, from a fresh start."""
        for bank in self._banks.values():
            if index in bank.fxo:
                bank.bank.enable(bank.channel[index], "callerid", False)
                bank.bank.enable(bank.channel[index], "callerid", not self.ports[index].off_hook)

    def _enable_tones(self, index, on):
        for bank in self._banks.values():
            if index in bank.channel:
                bank.bank.enable_tones(bank.channel[index], on)

    # --- liveness -----------------------------------------------------------------------
    async def _watchdog(self):
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(WATCHDOG_S)
            now = loop.time()
            if self.alive:
                silent = now - self._last_rx
                if silent >= self.loss_timeout_s:
                    self._declare_lost(f"no frame for {silent:.2f} s", silent)
                elif self._last_tx is None or now - self._last_tx >= KEEPALIVE_S:
                    self._send(wire.Keepalive((self.tick or 0) & TICK_MASK))
                continue
            if self._transport is None:
                if self.reopen and self._opening is None and (
                        self._open_at is None or now - self._open_at >= HELLO_RETRY_S):
                    self._open_at = now
                    self._opening = loop.create_task(self._reopen())
            elif self._hello_at is None or now - self._hello_at >= HELLO_RETRY_S:
                self._hello()

    async def _reopen(self):
        try:
            transport = await asyncio.to_thread(self._open_link)
        except (TransportError, OSError):
            return
        finally:
            self._opening = None
        if self.closed:
            transport.close()
            return
        self._attach(transport)
        self._hello()

    def _link_failed(self, reason):
        transport, self._transport = self._transport, None
        if transport is not None:
            transport.close()
        if self.alive:
            silent = asyncio.get_running_loop().time() - (self._last_rx or 0.0)
            self._declare_lost(reason, silent)

    def _declare_lost(self, reason, silent):
        self.alive = False
        self.stats.lost += 1
        self._hello_at = None
        self._fail_pending(BoardUnavailable(f"{self.name}: board lost ({reason})"))
        self._emit(ev.BoardLost(self.name, reason, silent))
        for port in self.ports:
            if port.in_use or port._onhook_tick is not None:
                self._emit(ev.CallEnded(self.name, port.index, "board lost"))
            port._idle()
            self._reset_dsp(port.index)
        self.selected = ()

    def _fail_pending(self, error):
        pending, self._pending = self._pending, {}
        for future, _ in pending.values():
            if not future.done():
                future.set_exception(error)

    def __repr__(self):
        state = "alive" if self.alive else "closed" if self.closed else "lost"
        model = self.capabilities.model if self.capabilities else "?"
        return f"<Board {self.name} {model} {state}>"


_HANDLERS = {
    wire.Ack: Board._ack,
    wire.LineReading: Board._ack,
    wire.Error: Board._error,
    wire.Keepalive: Board._board_keepalive,
    wire.RingOn: Board._ring,
    wire.RingOff: Board._ring,
    wire.Hook: Board._hook,
    wire.PolarityChange: Board._polarity,
    wire.LoopDrop: Board._loop,
    wire.LoopRestore: Board._loop,
    wire.Alarms: Board._alarms,
    wire.Abcd: Board._abcd,
    wire.AudioRx: Board._audio,
}

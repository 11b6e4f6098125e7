"""The board's end of voiceboard-v1 for a `VirtualBoard`, without I/O (the seam of
``emulator/README.md``, mapped 1:1).

`BoardSession(board, virtual=False)` owns a `VirtualBoard` and a ``Codec(Role.BOARD)``:

    session.receive(data, now)   # bytes from the host; now: seconds on a monotonic clock
    if session.may_tick():       # virtual clock: the host has consumed recent ticks
        session.step(now)        # one board tick: events, replies, AUDIO_RX or KEEPALIVE
    wire = session.take_output() # bytes for the host, whole frames in order

What it does (SPEC sections):
- HELLO -> ``board.hello()`` and CAPABILITIES (5); anything else before the first HELLO, or
  after the host was declared lost, gets ERROR NO_SESSION (5.3) and nothing is sent
  unsolicited; RESET -> the same reset as a new session, and ACK.
- Port control and switching -> ``board.apply(command, ref=seq)``; the reply becomes ACK,
  ERROR (code and port) or LINE_READING (0.1 V, 0.1 mA); a hook flash is acknowledged when
  it is done (6). Units are converted at this edge: 0.1 dB -> dB, V -> 0.1 V.
- A sound frame that fails rule 6 is answered with ERROR (3, ``error_reply``).
- AUDIO_TX of tick t plays in board tick t + 2; a late or early frame is dropped and
  counted in `stats` (8).
- Each tick: the board's events as event messages, completed replies, one AUDIO_RX frame
  with every selected port (8), or a KEEPALIVE when no audio is selected: every
  `keepalive_ticks` ticks in real time, every tick on a virtual clock (so the host sees
  every tick and can keep the board moving).
- The host is lost after 1000 ms with no sound frame (5.3): ``board.host_lost()``.

**Clock.** In real time the runner steps the board every 20 ms. On a virtual clock the
board ticks as fast as the host consumes: tick n may run once the host has reported (in a
KEEPALIVE or an AUDIO_TX) a tick of at least n - `lead_ticks` (2: its AUDIO_TX then plays in
time); the host answers every tick once consumed (see ``drivers/board``).
"""

from dataclasses import dataclass, field

import numpy as np

from appliance.drivers.emulator import events as emu
from appliance.drivers.protocol import (
    LOSS_TIMEOUT_MS,
    Codec,
    RemoteProtocolError,
    Role,
    error_reply,
)
from appliance.drivers.protocol import messages as wire
from appliance.drivers.protocol.v1 import (
    ANALOG_SPAN,
    MAX_LEAD_TICKS,
    NO_PORT,
    PLAYOUT_DELAY_TICKS,
    ErrorCode,
)

TICK_MASK = 0xFFFFFFFF
KEEPALIVE_TICKS = 5  # a board frame at least every 100 ms of board time (SPEC: 200 ms)
# A virtual-clock board runs tick n once the host has answered tick n - 2, so the host's
# AUDIO_TX for that tick (played at tick n, SPEC 8) is never late.
VIRTUAL_LEAD_TICKS = PLAYOUT_DELAY_TICKS


@dataclass
class SessionStats:
    """Counters of one board end (the codec's own are in ``session.codec.stats``)."""

    sessions: int = 0
    ticks: int = 0
    commands: int = 0
    errors_sent: int = 0
    audio_rx_frames: int = 0
    audio_tx_frames: int = 0
    audio_late: int = 0
    audio_early: int = 0
    host_lost: int = 0
    dropped_output_bytes: int = 0
    by_error: dict = field(default_factory=dict)


# Events of the seam -> wire event messages.
def _event_message(event):
    tick = event.tick & TICK_MASK
    if isinstance(event, emu.RingStarted):
        return wire.RingOn(event.port, tick)
    if isinstance(event, emu.RingStopped):
        return wire.RingOff(event.port, tick)
    if isinstance(event, emu.HookChanged):
        return wire.Hook(event.port, bool(event.off_hook), tick)
    if isinstance(event, emu.PolarityChanged):
        return wire.PolarityChange(event.port, event.polarity, tick)
    if isinstance(event, emu.LoopCurrentDropped):
        return wire.LoopDrop(event.port, tick)
    if isinstance(event, emu.LoopCurrentRestored):
        return wire.LoopRestore(event.port, tick)
    if isinstance(event, emu.AlarmsChanged):
        return wire.Alarms(event.span, int(event.alarms), tick)
    if isinstance(event, emu.AbcdChanged):
        return wire.Abcd(event.port, event.abcd, tick)
    raise TypeError(f"no wire event for {event!r}")


# Wire commands -> the seam's commands (units converted here).
_COMMANDS = {
    wire.OffHook: lambda m: emu.OffHook(m.port),
    wire.OnHook: lambda m: emu.OnHook(m.port),
    wire.HookFlash: lambda m: emu.HookFlash(m.port, m.duration_ms),
    wire.Ring: lambda m: emu.Ring(m.port, tuple(m.cadence)),
    wire.StopRing: lambda m: emu.StopRing(m.port),
    wire.SetPolarity: lambda m: emu.SetPolarity(m.port, int(m.polarity)),
    wire.SetGain: lambda m: emu.SetGain(m.port, m.rx_gain / 10.0, m.tx_gain / 10.0),
    wire.ReadLine: lambda m: emu.ReadLine(m.port),
    wire.Connect: lambda m: emu.Connect(m.port_a, m.port_b),
    wire.Listen: lambda m: emu.Listen(m.listener, m.source),
    wire.Disconnect: lambda m: emu.Disconnect(m.port),
    wire.SelectAudio: lambda m: emu.SelectAudio(frozenset(wire.mask_to_ports(m.port_mask))),
    wire.SetAbcd: lambda m: emu.SetAbcd(m.port, m.abcd),
}


def _command_port(message):
    for name in ("port", "port_a", "listener"):
        value = getattr(message, name, None)
        if value is not None:
            return value
    return NO_PORT


def capabilities_of(model, session, tick):
    """The CAPABILITIES a board of `model` (an emulator BoardModel) sends."""
    ports = tuple(wire.PortInfo(int(p.kind), int(p.law),
                                ANALOG_SPAN if p.span is None else p.span, p.timeslot)
                  for p in model.ports)
    return wire.Capabilities(session=session, model=model.model,
                             firmware=wire.FirmwareVersion(*model.firmware),
                             serial=model.serial, tick=tick & TICK_MASK, ports=ports)


class BoardSession:
    """A `VirtualBoard` behind voiceboard-v1 (see the module doc)."""

    def __init__(self, board, *, virtual=False, keepalive_ticks=KEEPALIVE_TICKS,
                 lead_ticks=VIRTUAL_LEAD_TICKS, loss_timeout_s=LOSS_TIMEOUT_MS / 1000.0,
                 max_output=1 << 20):
        self.board = board
        self.virtual = virtual
        self.keepalive_ticks = keepalive_ticks
        self.lead_ticks = lead_ticks
        self.loss_timeout_s = loss_timeout_s
        self.max_output = max_output
        self.codec = Codec(Role.BOARD)
        self.stats = SessionStats()
        self.active = False
        self.session_id = None
        self.host_tick = None  # the last tick the host reported (KEEPALIVE / AUDIO_TX)
        self.last_heard = None  # `now` of the last sound frame from the host
        self._start_tick = 0
        self._out = []
        self._out_bytes = 0
        self._since_sent = 0
        self._pending = {}  # flash ref (seq) -> port, for the late ERROR's port field
        self._playout = {}  # board tick -> {port: 160 bytes}
        self._nports = len(board.model.ports)

    # --- output -------------------------------------------------------------------------
    def _send(self, message):
        data = self.codec.encode(message)
        if self._out_bytes + len(data) > self.max_output:
            # Nobody reads (a pty with no host): drop rather than grow without bound.
            self.stats.dropped_output_bytes += len(data)
            return
        self._out.append(data)
        self._out_bytes += len(data)
        self._since_sent = 0

    def take_output(self):
        """The bytes to write to the host, whole frames in order (b"" if none)."""
        data = b"".join(self._out)
        self._out.clear()
        self._out_bytes = 0
        return data

    def _error(self, seq, code, port=NO_PORT):
        self.stats.errors_sent += 1
        self.stats.by_error[ErrorCode(code)] = self.stats.by_error.get(ErrorCode(code), 0) + 1
        self._send(wire.Error(seq, ErrorCode(code), port if 0 <= port < 256 else NO_PORT))

    # --- input --------------------------------------------------------------------------
    def receive(self, data, now):
        """Bytes from the host, read at `now` (seconds, monotonic)."""
        for item in self.codec.feed(data):
            if isinstance(item, RemoteProtocolError):
                if item.seq is not None:  # a sound frame that failed rule 6
                    self.last_heard = now
                    reply = error_reply(item)
                    if reply is not None:
                        self._error(reply.ref_seq, reply.code)
                continue
            self.last_heard = now
            self._handle(item)

    def _handle(self, frame):
        message, seq = frame.message, frame.seq
        if isinstance(message, wire.Hello):
            self.board.hello()
            self.active = True
            self.session_id = message.session
            self.host_tick = None
            self._start_tick = self.board.now
            self._playout.clear()
            self._pending.clear()
            self.stats.sessions += 1
            self._send(capabilities_of(self.board.model, message.session, self.board.now))
            return
        if not self.active:
            self._error(seq, ErrorCode.NO_SESSION, _command_port(message))
            return
        if isinstance(message, wire.Keepalive):
            self._host_reported(message.tick)
        elif isinstance(message, wire.AudioTx):
            self._audio_tx(message)
        elif isinstance(message, wire.Reset):
            self.board.host_lost()  # the session's reset, without a new CAPABILITIES
            self._playout.clear()
            self._send(wire.Ack(seq))
        else:
            self._command(seq, message)

    def _board_tick(self, tick):
        """The board tick nearest to now that a wire tick (u32, wrapping) names."""
        now = self.board.now
        return now + (((tick - now + (1 << 31)) & TICK_MASK) - (1 << 31))

    def _host_reported(self, tick):
        tick = self._board_tick(tick)
        if tick < self.board.now and (self.host_tick is None or tick > self.host_tick):
            self.host_tick = tick
        return tick

    def _command(self, seq, message):
        self.stats.commands += 1
        port = _command_port(message)
        if port != NO_PORT and not isinstance(message, wire.SelectAudio) and \
                not port < self._nports:
            self._error(seq, ErrorCode.BAD_PORT, port)
            return
        reply = self.board.apply(_COMMANDS[type(message)](message), ref=seq)
        if reply is None:
            self._pending[seq] = port
            return
        self._reply(seq, port, reply)

    def _reply(self, seq, port, reply):
        if isinstance(reply, emu.Ack):
            self._send(wire.Ack(seq))
        elif isinstance(reply, emu.Rejected):
            self._error(seq, int(reply.code), port)
        elif isinstance(reply, emu.LineReading):
            self._send(wire.LineReading(seq, reply.port, _tenths(reply.voltage_v),
                                        _tenths(reply.current_ma)))
        else:
            raise TypeError(f"no wire reply for {reply!r}")

    def _audio_tx(self, message):
        self.stats.audio_tx_frames += 1
        play = self._host_reported(message.tick) + PLAYOUT_DELAY_TICKS
        if play < self.board.now:
            self.stats.audio_late += 1
            return
        if play > self.board.now + MAX_LEAD_TICKS:
            self.stats.audio_early += 1
            return
        frame = self._playout.setdefault(play, {})
        view = message.as_array()
        for row, port in enumerate(message.ports):
            if port < self._nports:  # audio for ports the board lacks is ignored (SPEC 8)
                frame[port] = view[row]

    # --- the tick -----------------------------------------------------------------------
    def may_tick(self):
        """On a virtual clock: whether the host has consumed enough for the next tick."""
        if not self.virtual:
            return True
        if not self.active:
            return False
        seen = self._start_tick - 1 if self.host_tick is None else self.host_tick
        return self.board.now - seen <= self.lead_ticks

    def check_host(self, now):
        """Declare the host lost after `loss_timeout_s` without a sound frame (SPEC 5.3);
        returns True when it did so now."""
        if self.active and self.last_heard is not None and \
                now - self.last_heard >= self.loss_timeout_s:
            self.active = False
            self.stats.host_lost += 1
            self.board.host_lost()
            self._playout.clear()
            self._pending.clear()
            return True
        return False

    def step(self, now):
        """Check for a lost host, then run one board tick and queue its frames."""
        self.check_host(now)
        tick = self.board.now
        result = self.board.tick(self._playout.pop(tick, None))
        self.stats.ticks += 1
        if not self.active:
            return result
        for event in result.events:
            self._send(_event_message(event))
        for done in result.replies:
            port = self._pending.pop(done.ref, NO_PORT)
            self._reply(done.ref, port, done.reply)
        if result.ports:
            samples = np.ascontiguousarray(result.rx, dtype=np.uint8).tobytes()
            mask = wire.ports_to_mask(result.ports)
            self._send(wire.AudioRx(tick & TICK_MASK, mask, samples))
            self.stats.audio_rx_frames += 1
        else:
            self._since_sent += 1
            if self.virtual or self._since_sent >= self.keepalive_ticks:
                self._send(wire.Keepalive(tick & TICK_MASK))
        return result


def _tenths(value):
    return max(-32768, min(32767, int(round(value * 10.0))))


__all__ = ["BoardSession", "SessionStats", "capabilities_of"]

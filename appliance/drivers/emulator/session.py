"""The virtual board behind the wire: the board's end of a voiceboard-v1 session, sans-I/O.

`BoardSession(board)` joins a `VirtualBoard` to the protocol codec
(`appliance.drivers.protocol`). It does no I/O and reads no clock: whoever runs it moves the
bytes (a pty, a socket, the emulated USB device, an in-process pipe) and paces the ticks
(`clock.VirtualClock` or `RealTimeClock`):

    session = BoardSession(board)
    reply = session.receive(data)   # bytes from the host -> bytes to send back now
    out = session.tick()            # one 20 ms tick -> bytes to send (events, AUDIO_RX, ...)

What it does, by SPEC section: HELLO starts a session (5: `board.hello()`, CAPABILITIES from
the model); before it, and after the host is lost, every other sound frame gets ERROR
NO_SESSION (5.3); commands become `VirtualBoard.apply` calls answered by ACK, ERROR or
LINE_READING (6), a hook flash by its ACK when it is done; a sound frame that fails rule 6
gets the ERROR the codec names (3); AUDIO_TX for tick t plays at t + 2, later frames and
frames more than 8 ticks ahead are dropped and counted (8); each tick sends the board's
events (7) and one AUDIO_RX for the selected ports; a KEEPALIVE goes out when nothing else
has for 200 ms (5.2); 1000 ms without a sound frame from the host ends the session (5.3).
"""

from appliance.drivers.emulator import events as ev
from appliance.drivers.protocol import messages as wire
from appliance.drivers.protocol.codec import Codec, Role, error_reply
from appliance.drivers.protocol.errors import RemoteProtocolError
from appliance.drivers.protocol.v1 import (
    KEEPALIVE_INTERVAL_MS, LOSS_TIMEOUT_MS, NO_PORT, PLAYOUT_DELAY_TICKS, Alarm, ErrorCode,
    Law, Polarity, PortKind,
)

TICK_MS = 20
MAX_EARLY_TICKS = 8  # SPEC 8: an AUDIO_TX more than this many ticks ahead is early
KEEPALIVE_TICKS = KEEPALIVE_INTERVAL_MS // TICK_MS
LOSS_TICKS = LOSS_TIMEOUT_MS // TICK_MS
_U32 = 1 << 32


class BoardSession:
    """The board's end of the link for `board` (a VirtualBoard). See the module doc."""

    def __init__(self, board):
        self.board = board
        self.codec = Codec(Role.BOARD)
        self.session = None  # the HELLO's session number while a session runs
        self.last_heard = None  # board tick of the host's last sound frame
        self.last_sent = board.now
        self.playout = {}  # board tick -> {port: 160 bytes}
        self.late = 0
        self.early = 0
        self.sessions = 0  # sessions started
        self.hosts_lost = 0

    @property
    def active(self):
        return self.session is not None

    # ---- host -> board -------------------------------------------------------------

    def receive(self, data):
        """Bytes from the host; returns the bytes the board answers with at once."""
        out = bytearray()
        for item in self.codec.feed(data):
            if isinstance(item, RemoteProtocolError):
                if item.seq is not None:  # a sound frame: the host is alive
                    self.last_heard = self.board.now
                    reply = error_reply(item)
                    if reply is not None:
                        out += self._send(reply)
                continue
            self.last_heard = self.board.now
            out += self._handle(item)
        return bytes(out)

    def _handle(self, frame):
        msg, seq = frame.message, frame.seq
        if isinstance(msg, wire.Hello):
            self.board.hello()
            self.session = msg.session
            self.sessions += 1
            self.playout.clear()
            return self._send(self._capabilities())
        if self.session is None:
            return self._send(wire.Error(seq, ErrorCode.NO_SESSION))
        if isinstance(msg, wire.Keepalive):
            return b""
        if isinstance(msg, wire.AudioTx):
            self._queue(msg)
            return b""
        if isinstance(msg, wire.Reset):
            self.board.reset()
            self.playout.clear()
            return self._send(wire.Ack(seq))
        command = _command(msg)
        reply = self.board.apply(command, ref=seq)
        if reply is None:  # answered when done (a hook flash)
            return b""
        return self._send(_reply(seq, command, reply))

    def _capabilities(self):
        model = self.board.model
        ports = tuple(wire.PortInfo(PortKind(int(p.kind)), Law(int(p.law)),
                                    NO_PORT if p.span is None else p.span, p.timeslot)
                      for p in model.ports)
        return wire.Capabilities(self.session, model.model, wire.FirmwareVersion(*model.firmware),
                                 model.serial, self.board.now % _U32, ports)

    def _queue(self, msg):
        now = self.board.now
        # The frame's tick is a u32; place it next to the board's own counter.
        target = now + ((msg.tick + PLAYOUT_DELAY_TICKS - now + _U32 // 2) % _U32) - _U32 // 2
        if target < now:
            self.late += 1
            return
        if target - now > MAX_EARLY_TICKS:
            self.early += 1
            return
        frame = self.playout.setdefault(target, {})
        for port in msg.ports:
            if port < len(self.board.ports):  # the board plays only ports it has
                frame[port] = msg.port_audio(port)

    # ---- board -> host -------------------------------------------------------------

    def tick(self):
        """Run one board tick; returns the bytes the board sends for it."""
        board = self.board
        if self.session is not None and board.now - self.last_heard >= LOSS_TICKS:
            board.host_lost()
            self.session = None
            self.hosts_lost += 1
            self.playout.clear()
        result = board.tick(self.playout.pop(board.now, None))
        if self.session is None:
            return b""
        out = bytearray()
        for event in result.events:
            out += self._send(_event(event))
        for done in result.replies:
            out += self._send(_reply(done.ref, None, done.reply))
        if result.ports:
            out += self._send(wire.AudioRx(result.tick % _U32, wire.ports_to_mask(result.ports),
                                           result.rx.tobytes()))
        if not out and result.tick - self.last_sent >= KEEPALIVE_TICKS:
            out += self._send(wire.Keepalive(result.tick % _U32))
        if out:
            self.last_sent = result.tick
        return bytes(out)

    def _send(self, message):
        return self.codec.encode(message)


def _command(msg):
    """The emulator command for a wire command (units: dB, not 0.1 dB)."""
    if isinstance(msg, wire.OffHook):
        return ev.OffHook(msg.port)
    if isinstance(msg, wire.OnHook):
        return ev.OnHook(msg.port)
    if isinstance(msg, wire.HookFlash):
        return ev.HookFlash(msg.port, msg.duration_ms)
    if isinstance(msg, wire.Ring):
        return ev.Ring(msg.port, tuple(msg.cadence))
    if isinstance(msg, wire.StopRing):
        return ev.StopRing(msg.port)
    if isinstance(msg, wire.SetPolarity):
        return ev.SetPolarity(msg.port, int(msg.polarity))
    if isinstance(msg, wire.SetGain):
        return ev.SetGain(msg.port, msg.rx_gain / 10.0, msg.tx_gain / 10.0)
    if isinstance(msg, wire.ReadLine):
        return ev.ReadLine(msg.port)
    if isinstance(msg, wire.Connect):
        return ev.Connect(msg.port_a, msg.port_b)
    if isinstance(msg, wire.Listen):
        return ev.Listen(msg.listener, msg.source)
    if isinstance(msg, wire.Disconnect):
        return ev.Disconnect(msg.port)
    if isinstance(msg, wire.SelectAudio):
        return ev.SelectAudio(frozenset(wire.mask_to_ports(msg.port_mask)))
    if isinstance(msg, wire.SetAbcd):
        return ev.SetAbcd(msg.port, msg.abcd)
    raise TypeError(f"not a host command: {msg!r}")  # the codec delivers only H->B types


def _reply(seq, command, reply):
    if isinstance(reply, ev.Ack):
        return wire.Ack(seq)
    if isinstance(reply, ev.LineReading):
        return wire.LineReading(seq, reply.port, round(reply.voltage_v * 10),
                                round(reply.current_ma * 10))
    port = getattr(command, "port", None)
    return wire.Error(seq, ErrorCode(int(reply.code)),
                      port if isinstance(port, int) and 0 <= port < 64 else NO_PORT)


def _event(event):
    if isinstance(event, ev.RingStarted):
        return wire.RingOn(event.port, event.tick % _U32)
    if isinstance(event, ev.RingStopped):
        return wire.RingOff(event.port, event.tick % _U32)
    if isinstance(event, ev.HookChanged):
        return wire.Hook(event.port, event.off_hook, event.tick % _U32)
    if isinstance(event, ev.PolarityChanged):
        return wire.PolarityChange(event.port, Polarity(event.polarity), event.tick % _U32)
    if isinstance(event, ev.LoopCurrentDropped):
        return wire.LoopDrop(event.port, event.tick % _U32)
    if isinstance(event, ev.LoopCurrentRestored):
        return wire.LoopRestore(event.port, event.tick % _U32)
    if isinstance(event, ev.AlarmsChanged):
        return wire.Alarms(event.span, Alarm(int(event.alarms)), event.tick % _U32)
    if isinstance(event, ev.AbcdChanged):
        return wire.Abcd(event.port, event.abcd, event.tick % _U32)
    raise TypeError(f"not a board event: {event!r}")

"""The virtual board: ports, switch, gains and audio, one 20 ms tick at a time.

`VirtualBoard.tick(tx)` runs one tick: it takes the host's 160 G.711 bytes per port (any
subset of the ports; the others play silence) and returns a `TickResult` with the 160
G.711 bytes every selected port received, and the events and late replies of the tick.
`apply(command)` carries out a host command between ticks (it acts from the next tick).
Nothing here reads a clock: the board is the clock, and `appliance.drivers.emulator.clock`
decides how fast ticks come (as fast as the host consumes them, or paced in real time).

Per tick the board does O(ports) Python work for signalling and a fixed number of numpy and
G.711 calls for the audio of all ports together.

**Seam for the wire protocol (voiceboard-v1)**, as `appliance.drivers.emulated_board.session.BoardSession` uses it: it owns a
`VirtualBoard` and a codec. HELLO -> `hello()` then CAPABILITIES from `model` and `now`;
each decoded command -> `apply(command, ref=seq)` -> ACK / ERROR / LINE_READING (None:
the reply comes later as `Completed(ref, reply)` in a tick's `replies`); each tick ->
AUDIO_TX frames queued for that tick (SPEC 8: played at their tick + 2) become `tick(tx)`'s
argument, and the result's `rx` becomes the AUDIO_RX frame, its `events` the event
messages. See README.md in this folder.
"""

from dataclasses import dataclass

import numpy as np

from appliance.drivers.emulator.errors import EmulatorError
from appliance.drivers.emulator.events import (
    Ack, Alarm, AlarmsChanged, Completed, Connect, Disconnect, ErrorCode, HookFlash, Listen,
    OffHook, OnHook, ReadLine, Rejected, Ring, SelectAudio, SetAbcd, SetGain, SetPolarity,
    StopRing,
)
from appliance.drivers.emulator.exchange import ExchangeConfig
from appliance.drivers.emulator.model import Law, PortKind
from appliance.drivers.emulator.people import Caller, CallerSpec, Phone
from appliance.drivers.emulator.ports import E1Port, FxoPort, FxsPort, PortState
from appliance.dsp import g711

FRAME = 160
MIN_GAIN_DB, MAX_GAIN_DB = -24.0, 12.0
_PORT_COMMANDS = (Disconnect, SetGain, OffHook, OnHook, HookFlash, Ring, StopRing, SetPolarity,
                  ReadLine, SetAbcd)


@dataclass(frozen=True)
class TickResult:
    """One tick of the board.

    ports: the selected ports, ascending; rx: uint8 [len(ports), 160], each port's G.711
    bytes received in this tick (in its own law); events: board -> host events stamped
    `tick`; replies: `Completed` replies of commands that finished in this tick.
    """

    tick: int
    ports: tuple
    rx: np.ndarray
    events: tuple
    replies: tuple


class VirtualBoard:
    """A voice board simulated tick by tick (see the module doc).

    model: a BoardModel; exchange: ExchangeConfig for the FXO lines; seed: for the people's
    random choices (noise, speech); start_time: a datetime for tick 0 (caller-ID time);
    e1_loopback: E1 channels loop the box's audio and ABCD bits back.
    """

    def __init__(self, model, exchange=None, seed=0, start_time=None, e1_loopback=False):
        self.model = model
        self.exchange = exchange or ExchangeConfig()
        self.start_time = start_time
        self.seed = seed
        self.now = 0
        self.ports = []
        for i, spec in enumerate(model.ports):
            if spec.kind is PortKind.FXO:
                self.ports.append(FxoPort(i, spec, self.exchange.line(i), self))
            elif spec.kind is PortKind.FXS:
                self.ports.append(FxsPort(i, spec, self))
            else:
                self.ports.append(E1Port(i, spec, self, e1_loopback))
        n = len(self.ports)
        laws = np.array([p.law for p in model.ports])
        self._alaw = np.flatnonzero(laws == Law.ALAW)
        self._ulaw = np.flatnonzero(laws == Law.ULAW)
        self._idle = np.array([p.law.idle_code for p in model.ports], dtype=np.uint8)
        self._rx_gain = np.ones(n)
        self._tx_gain = np.ones(n)
        self._gains_db = [(0.0, 0.0)] * n
        self.source = [None] * n  # the switch: source[p] is what p hears, or None
        # for a caller the host bridged to a station on another board: port -> the name
        # of the agent they hear, or None (several boards in one box)
        self.remote_agent = lambda port: None
        self.selected = ()
        self.alarms = {span: Alarm(0) for span in model.spans}
        self.callers = []
        self.phones = []
        self.callees = []  # Caller objects, one per outbound call put through
        self._callee_specs = {}  # number -> CalleeSpec
        self._schedule = []  # (tick, order, fn)
        self._events = []
        self._done = []
        self._rng = np.random.default_rng(seed)

    # ---- people and far-end signals --------------------------------------------------

    def add_caller(self, spec):
        """A simulated caller (people.CallerSpec) who calls an FXO line at tick spec.at."""
        port = self._port(spec.line)
        if port.kind is not PortKind.FXO:
            raise EmulatorError(f"caller {spec.name!r}: port {spec.line} is "
                                f"{port.kind.name}, not an FXO line")
        caller = Caller(spec, self._child_rng())
        self.callers.append(caller)
        self.at(spec.at, lambda n: port.offer(caller, n))
        return caller

    def add_phone(self, spec):
        """An agent's phone (people.PhoneSpec) on an FXS port."""
        port = self._port(spec.port)
        if port.kind is not PortKind.FXS:
            raise EmulatorError(f"phone {spec.name!r}: port {spec.port} is "
                                f"{port.kind.name}, not FXS")
        if port.phone is not None:
            raise EmulatorError(f"port {spec.port} already has phone {port.phone.spec.name!r}")
        phone = Phone(spec, self._child_rng())
        port.phone = phone
        self.phones.append(phone)
        return phone

    def add_callee(self, spec):
        """Someone the box can call out to (people.CalleeSpec), by dialling spec.number."""
        if not spec.number.isdigit():
            raise EmulatorError(f"callee {spec.name!r}: the number must be digits 0-9, "
                                f"not {spec.number!r}")
        if spec.number in self._callee_specs:
            raise EmulatorError(f"callee {spec.name!r}: number {spec.number} already belongs "
                                f"to {self._callee_specs[spec.number].name!r}")
        self._callee_specs[spec.number] = spec

    def _callee_for(self, number):
        return self._callee_specs.get(number)

    def _callee_busy(self, spec):
        return any(c.spec.name == spec.name and c.ended is None for c in self.callees)

    def _new_callee(self, spec, line, n):
        callee = Caller(CallerSpec(spec.name, line, n, number=spec.number,
                                   ring_patience_s=1e9, noise_dbm0=spec.noise_dbm0,
                                   actions=spec.actions), self._child_rng())
        self.callees.append(callee)
        return callee

    def at(self, tick, fn):
        """Run fn(n) at the start of tick `tick` (before the ports; in the order given)."""
        self._schedule.append((max(tick, self.now), len(self._schedule), fn))
        self._schedule.sort(key=lambda item: item[:2])

    def set_far_abcd(self, port, abcd):
        """The far end of an E1 channel sends `abcd` (an ABCD event if it changed)."""
        target = self._port(port)
        if target.kind is not PortKind.E1:
            raise EmulatorError(f"port {port} is {target.kind.name}, not an E1 channel")
        if not 0 <= abcd <= 15:
            raise EmulatorError(f"abcd is 0..15, not {abcd}")
        target.set_far_abcd(abcd, self.now, self._events)

    def set_alarms(self, span, alarms):
        """Span `span`'s alarm set becomes `alarms` (an Alarm flag; an event if changed)."""
        if span not in self.alarms:
            raise EmulatorError(f"the board has no E1 span {span}")
        alarms = Alarm(alarms)
        if alarms != self.alarms[span]:
            self.alarms[span] = alarms
            self._events.append(AlarmsChanged(span, alarms, self.now))

    def timeslot16(self, span, direction="rx"):
        """The 16 timeslot-16 bytes of one CAS multiframe of `span` (ITU-T G.704 5.1.3.2),
        as the span would carry them: byte 0 is the multiframe alignment word 0000 1011
        (spare bits 1, no distant multiframe alarm), byte k (1-15) carries the ABCD bits
        of timeslot k in its upper nibble and of timeslot 16 + k in its lower one.
        direction "rx": the bits the far end sends; "tx": the bits the box sends."""
        if span not in self.alarms:
            raise EmulatorError(f"the board has no E1 span {span}")
        if direction not in ("rx", "tx"):
            raise EmulatorError(f"direction is 'rx' or 'tx', not {direction!r}")
        frame = bytearray(16)
        frame[0] = 0x0B
        for port in self.ports:
            if port.kind is PortKind.E1 and port.spec.span == span:
                bits = port.abcd_rx if direction == "rx" else port.abcd_tx
                ts = port.spec.timeslot
                frame[ts if ts < 16 else ts - 16] |= bits << 4 if ts < 16 else bits
        return bytes(frame)

    def _child_rng(self):
        return np.random.default_rng(self._rng.integers(2**63))

    # ---- host side ------------------------------------------------------------------

    def hello(self):
        """A session starts (HELLO): every port on-hook, ringing stopped, the switch
        cleared, gains 0 dB, no audio selected; an ALARMS event per span follows in the
        next tick. Calls being offered by the exchange keep ringing."""
        self._reset()
        for span, alarms in self.alarms.items():
            self._events.append(AlarmsChanged(span, alarms, self.now))

    def host_lost(self):
        """The host went silent (SPEC 5.3): the same reset as a new session, no events."""
        self._reset()

    def reset(self):
        """RESET: every port on-hook, ringing stopped, the switch cleared, gains 0 dB, no
        audio selected (as HELLO, within the session: no events)."""
        self._reset()

    def _reset(self):
        for port in self.ports:
            port.reset(self.now, self._events)
        self.source = [None] * len(self.ports)
        self.selected = ()
        self._rx_gain[:] = 1.0
        self._tx_gain[:] = 1.0
        self._gains_db = [(0.0, 0.0)] * len(self.ports)

    def apply(self, command, ref=None):
        """Carry out a host command (events.py); returns its reply, or None when the reply
        comes later as Completed(ref, reply) in a tick's replies (a hook flash)."""
        if isinstance(command, SelectAudio):
            ports = sorted(set(command.ports))
            if any(not 0 <= p < len(self.ports) for p in ports):
                return Rejected(ErrorCode.BAD_PORT, "the selection names a port the board "
                                "does not have")
            self.selected = tuple(ports)
            return Ack()
        if isinstance(command, Connect):
            a, b = command.port_a, command.port_b
            bad = self._check_ports(a, b)
            if bad:
                return bad
            self.source[a], self.source[b] = b, a
            return Ack()
        if isinstance(command, Listen):
            bad = self._check_ports(command.listener, command.source)
            if bad:
                return bad
            self.source[command.listener] = command.source
            return Ack()
        if not isinstance(command, _PORT_COMMANDS):
            raise EmulatorError(f"not a board command: {command!r} (see events.py)")
        port_index = getattr(command, "port", None)
        if not isinstance(port_index, int) or not 0 <= port_index < len(self.ports):
            return Rejected(ErrorCode.BAD_PORT, f"no port {port_index!r} on this board")
        if isinstance(command, Disconnect):
            self.source[port_index] = None
            self.source = [None if s == port_index else s for s in self.source]
            return Ack()
        if isinstance(command, SetGain):
            for value in (command.rx_gain_db, command.tx_gain_db):
                if not MIN_GAIN_DB <= value <= MAX_GAIN_DB:
                    return Rejected(ErrorCode.BAD_VALUE, f"gain {value} dB is outside "
                                    f"{MIN_GAIN_DB}..{MAX_GAIN_DB} dB")
            self._rx_gain[port_index] = 10.0 ** (command.rx_gain_db / 20.0)
            self._tx_gain[port_index] = 10.0 ** (command.tx_gain_db / 20.0)
            self._gains_db[port_index] = (command.rx_gain_db, command.tx_gain_db)
            return Ack()
        return self.ports[port_index].apply(command, self.now, self._events, ref)

    def _check_ports(self, a, b):
        for p in (a, b):
            if not isinstance(p, int) or not 0 <= p < len(self.ports):
                return Rejected(ErrorCode.BAD_PORT, f"no port {p!r} on this board")
        if a == b:
            return Rejected(ErrorCode.BAD_VALUE, "a port cannot be switched to itself")
        return None

    def _complete(self, ref, reply):
        self._done.append(Completed(ref, reply))

    # ---- the tick -------------------------------------------------------------------

    def tick(self, tx=None):
        """Run tick `now` with the host's audio `tx`: None, a mapping {port: 160 G.711
        bytes (bytes or uint8 array)}, or a uint8 array [ports, 160] for every port."""
        n = self.now
        host = self._host_codes(tx)
        while self._schedule and self._schedule[0][0] <= n:
            _, _, fn = self._schedule.pop(0)
            fn(n)
        events = self._events
        for port in self.ports:
            port.begin(n, events)
        # What each line or station sends toward the board in this tick.
        line = np.zeros((len(self.ports), FRAME), dtype=np.float64)
        for i, port in enumerate(self.ports):
            samples = port.line_in(n)
            if samples is not None:
                line[i] = samples
        line *= self._rx_gain[:, None]
        received = _clip16(line)
        # What the board puts out to each line or station: the host's audio, or the switch.
        out = self._decode(host).astype(np.float64)
        for i, src in enumerate(self.source):
            if src is not None:
                out[i] = received[src]
        out *= self._tx_gain[:, None]
        out = _clip16(out)
        for i, port in enumerate(self.ports):
            port.hear(n, out[i])
        rx = self._encode(received)[list(self.selected)] if self.selected \
            else np.zeros((0, FRAME), dtype=np.uint8)
        self._events, done, self._done = [], self._done, []
        self.now = n + 1
        return TickResult(n, self.selected, rx, tuple(events), tuple(done))

    def run(self, ticks, host=None, clock=None):
        """Run `ticks` ticks, paced by `clock` (clock.VirtualClock or RealTimeClock; None:
        no pacing); host(result) -> the tx of the next tick (or None)."""
        tx = None
        for _ in range(ticks):
            if clock is not None:
                clock.wait(self.now)
            result = self.tick(tx)
            tx = host(result) if host is not None else None

    def _host_codes(self, tx):
        codes = np.repeat(self._idle[:, None], FRAME, axis=1)
        if tx is None:
            return codes
        if isinstance(tx, np.ndarray):
            if tx.dtype != np.uint8 or tx.shape != codes.shape:
                raise EmulatorError(f"host audio must be uint8 [{len(self.ports)}, {FRAME}], "
                                    f"not {tx.dtype} {tx.shape}")
            return tx
        for port, data in tx.items():
            if not isinstance(port, int) or not 0 <= port < len(self.ports):
                raise EmulatorError(f"host audio for port {port!r}, which the board lacks")
            row = np.frombuffer(data, dtype=np.uint8) if isinstance(data, (bytes, bytearray,
                                                                           memoryview)) \
                else np.asarray(data)
            if row.dtype != np.uint8 or row.shape != (FRAME,):
                raise EmulatorError(f"host audio for port {port} must be {FRAME} G.711 bytes, "
                                    f"not {row.dtype} {row.shape}")
            codes[port] = row
        return codes

    def _decode(self, codes):
        out = np.empty(codes.shape, dtype=np.int16)
        if self._alaw.size:
            out[self._alaw] = g711.alaw_decode(codes[self._alaw])
        if self._ulaw.size:
            out[self._ulaw] = g711.ulaw_decode(codes[self._ulaw])
        return out

    def _encode(self, linear):
        out = np.empty(linear.shape, dtype=np.uint8)
        if self._alaw.size:
            out[self._alaw] = g711.alaw_encode(linear[self._alaw])
        if self._ulaw.size:
            out[self._ulaw] = g711.ulaw_encode(linear[self._ulaw])
        return out

    # ---- state and reports ----------------------------------------------------------

    def _port(self, index):
        if not isinstance(index, int) or not 0 <= index < len(self.ports):
            raise EmulatorError(f"the board has no port {index!r} (ports 0.."
                                f"{len(self.ports) - 1})")
        return self.ports[index]

    def _agent_on(self, port):
        """The name of the off-hook agent phone whose audio the switch plays to `port`."""
        src = self.source[port]
        if src is None:
            return self.remote_agent(port)
        station = self.ports[src]
        if station.kind is PortKind.FXS and station.off_hook and station.phone is not None:
            return station.phone.spec.name
        return None

    def _agent_on_phone(self, port):
        src = self.source[port]
        return src is not None and self.ports[src].kind is PortKind.FXO

    def port_state(self, port):
        target = self._port(port)
        rx, tx = self._gains_db[port]
        return PortState(port=port, kind=target.kind, rx_gain_db=rx, tx_gain_db=tx,
                         source=self.source[port], **target.status())

    def finish(self):
        """End of the run: close every recording (a digit still sounding is counted)."""
        for port in self.ports:
            port.finish()
        for caller in self.callers + self.callees:
            caller.finish()

    def report(self):
        """What every simulated person did and heard so far (call `finish` first at the end
        of a run)."""
        lines = tuple(
            LineReport(p.index, tuple((d, round(t * 0.02, 6)) for d, t in p.dialled),
                       tuple(round(t * 0.02, 6) for t in p.flashes))
            for p in self.ports if p.kind is PortKind.FXO)
        return Report(tuple(c.report() for c in self.callers),
                      tuple(p.report() for p in self.phones), lines,
                      tuple(c.report() for c in self.callees))


@dataclass(frozen=True)
class LineReport:
    """What the box did on an FXO line besides calls: digits it dialled on a seized line
    (the exchange's DTMF receiver) and its hook flashes (seconds)."""

    port: int
    dialled: tuple
    flashes: tuple

    def to_dict(self):
        return {"port": self.port, "dialled": "".join(d for d, _ in self.dialled),
                "flashes": list(self.flashes)}


@dataclass(frozen=True)
class Report:
    """callers: CallerReport per inbound caller; phones: PhoneReport per agent phone; lines:
    LineReport per FXO line; callees: CallerReport per outbound call put through to a
    callee (in the order the box made them)."""

    callers: tuple
    phones: tuple
    lines: tuple
    callees: tuple = ()

    def caller(self, name):
        return next(c for c in self.callers if c.name == name)

    def callee(self, name):
        """The last call the box made to callee `name`."""
        return [c for c in self.callees if c.name == name][-1]

    def phone(self, name):
        return next(p for p in self.phones if p.name == name)

    def to_dict(self):
        return {"callers": [c.to_dict() for c in self.callers],
                "phones": [p.to_dict() for p in self.phones],
                "lines": [line.to_dict() for line in self.lines],
                "callees": [c.to_dict() for c in self.callees]}


def _clip16(values):
    return np.clip(np.round(values), -32768, 32767).astype(np.int16)

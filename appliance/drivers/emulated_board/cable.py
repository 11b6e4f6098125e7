"""A loopback cable between an FXS port and an FXO port of the same virtual board.

This is the test rig every voice-board bench has: a short two-wire cable from an FXS port
(which feeds a station) to an FXO port (which expects an exchange). The FXS side then plays
the exchange for the FXO side and the FXO side plays the station for the FXS side:

- the host rings the FXS port (RING) -> the FXO port sees ringing voltage: RING_ON /
  RING_OFF events following the cadence's bursts;
- the host takes the FXO port off-hook (OFF_HOOK) -> the loop closes: the FXS port reports
  HOOK off-hook (ring trip: ringing stops); ON_HOOK -> HOOK on-hook; a HOOK_FLASH opens the
  loop for its duration (the FXS port sees on-hook, then off-hook);
- SET_POLARITY on the FXS port -> POLARITY on the FXO port;
- while the loop is closed, what the board puts out to one port is what the other one
  receives, one tick later (the board's own delay).

`lay_cable(board, fxs, fxo)` replaces the two ports of a `VirtualBoard` by the cabled
ends (before the first tick; a port with a phone or callers cannot be cabled). The port
objects follow the emulator's port protocol (see ``emulator/ports.py``: ``begin``,
``line_in``, ``hear``, ``apply``, ``reset``, ``reading``, ``status``, ``finish``).
"""

from appliance.drivers.emulator import EmulatorError
from appliance.drivers.emulator.events import (
    Ack, ErrorCode, HookFlash, LineReading, OffHook, OnHook, PolarityChanged, ReadLine,
    Rejected, RingStarted, RingStopped,
)
from appliance.drivers.emulator.model import PortKind
from appliance.drivers.emulator.people import ticks
from appliance.drivers.emulator.ports import (
    LOOP_MA, OFF_HOOK_V, ON_HOOK_V, RING_V, FxsSignalling, LineState,
)


def _wrong_kind(command, kind):
    return Rejected(ErrorCode.WRONG_PORT_KIND,
                    f"{type(command).__name__} does not apply to an {kind.name} port")


class CabledFxs(FxsSignalling):
    """The FXS end: rings with the host's cadence; its 'station' is the FXO end's loop."""

    phone = None
    off_hook_v, loop_ma = OFF_HOOK_V, LOOP_MA  # the loop of an FXO port, not a phone's

    def __init__(self, index, spec, board):
        self.index, self.spec, self.board = index, spec, board
        self.other = None
        self.off_hook = False  # the loop as this port sees it (debounced: once per tick)
        self.polarity = 0
        self.heard = None  # what the board put out to this port in the last tick
        self._stop()

    def begin(self, n, events):
        closed = self.other.loop_closed
        if closed != self.off_hook:
            self._hook(closed, n, events)
        self._ring_cadence(n)

    def line_in(self, n):
        return self.other.heard if self.off_hook and self.other.loop_closed else None

    def hear(self, n, samples):
        self.heard = samples.copy() if self.off_hook else None

    def finish(self):
        pass


class CabledFxo:
    """The FXO end: sees the FXS end's ringing and polarity; its hook closes the loop."""

    kind = PortKind.FXO
    call = None

    def __init__(self, index, spec, board):
        self.index, self.spec, self.board = index, spec, board
        self.other = None
        self.off_hook = False
        self.flash_end = self.flash_ref = None
        self.seen_ring = False
        self.seen_polarity = 0
        self.heard = None
        self.dialled = []
        self.flashes = []

    @property
    def loop_closed(self):
        return self.off_hook and self.flash_end is None

    @property
    def polarity(self):
        return self.seen_polarity

    def begin(self, n, events):
        if self.flash_end is not None and n >= self.flash_end:
            self.board._complete(self.flash_ref, Ack())
            self.flash_end = self.flash_ref = None
        ring = self.other.ring_on
        if ring != self.seen_ring:
            self.seen_ring = ring
            events.append((RingStarted if ring else RingStopped)(self.index, n))
        if self.other.polarity != self.seen_polarity:
            self.seen_polarity = self.other.polarity
            events.append(PolarityChanged(self.index, self.seen_polarity, n))

    def line_in(self, n):
        return self.other.heard if self.loop_closed and self.other.off_hook else None

    def hear(self, n, samples):
        self.heard = samples.copy() if self.loop_closed else None

    def apply(self, command, n, events, ref):
        if isinstance(command, OffHook):
            self.off_hook = True
            return Ack()
        if isinstance(command, OnHook):
            if self.flash_end is not None:
                self.board._complete(self.flash_ref, Ack())
                self.flash_end = self.flash_ref = None
            self.off_hook = False
            return Ack()
        if isinstance(command, HookFlash):
            if not self.off_hook:
                return Rejected(ErrorCode.WRONG_STATE, "hook flash on an on-hook line")
            if self.flash_end is not None:
                return Rejected(ErrorCode.WRONG_STATE, "a hook flash is already under way")
            self.flash_end = n + max(1, ticks(command.duration_ms / 1000.0))
            self.flash_ref = ref
            self.flashes.append(n)
            return None
        if isinstance(command, ReadLine):
            return LineReading(self.index, *self.reading())
        return _wrong_kind(command, self.kind)

    def reset(self, n, events):
        self.apply(OnHook(self.index), n, events, None)

    def reading(self):
        sign = -1.0 if self.seen_polarity else 1.0
        if not self.loop_closed:
            return sign * (RING_V if self.seen_ring else ON_HOOK_V), 0.0
        return sign * OFF_HOOK_V, LOOP_MA

    def finish(self):
        pass

    def status(self):
        volts, amps = self.reading()
        return dict(off_hook=self.off_hook, ringing=self.seen_ring, polarity=self.polarity,
                    line_voltage_v=volts, loop_current_ma=amps,
                    line_state=LineState.SEIZED if self.off_hook else LineState.IDLE)


def lay_cable(board, fxs, fxo):
    """Cable FXS port `fxs` to FXO port `fxo` of `board` (a VirtualBoard, before it runs)."""
    for index, kind in ((fxs, PortKind.FXS), (fxo, PortKind.FXO)):
        if not isinstance(index, int) or not 0 <= index < len(board.ports):
            raise EmulatorError(f"cable {fxs}:{fxo}: the board has no port {index!r}")
        port = board.ports[index]
        if port.kind is not kind:
            raise EmulatorError(f"cable {fxs}:{fxo}: port {index} is {port.kind.name}, not "
                                f"{kind.name} (write FXS:FXO)")
        if isinstance(port, (CabledFxs, CabledFxo)):
            raise EmulatorError(f"cable {fxs}:{fxo}: port {index} is already cabled")
        if getattr(port, "phone", None) is not None or any(
                c.spec.line == index for c in board.callers):
            raise EmulatorError(f"cable {fxs}:{fxo}: port {index} has a phone or callers")
    a = CabledFxs(fxs, board.model.ports[fxs], board)
    b = CabledFxo(fxo, board.model.ports[fxo], board)
    a.other, b.other = b, a
    board.ports[fxs], board.ports[fxo] = a, b
    return a, b


def parse_cables(text):
    """"4:0,5:1" -> ((4, 0), (5, 1)): FXS:FXO pairs (ValueError with the fix)."""
    pairs = []
    for item in filter(None, (t.strip() for t in text.split(","))):
        parts = item.split(":")
        if len(parts) != 2 or not all(p.strip().isdigit() for p in parts):
            raise ValueError(f"{item!r} is not a cable; write FXS:FXO port numbers, e.g. 4:0")
        pairs.append((int(parts[0]), int(parts[1])))
    return tuple(pairs)


__all__ = ["CabledFxo", "CabledFxs", "lay_cable", "parse_cables"]

"""The ports of the virtual board: an FXO line with the exchange behind it, an FXS station
with an agent's phone on it, an E1 channel with its ABCD bits.

Each port is driven by the board once per tick n, in this order: `begin(n)` (signalling:
cadences, people's decisions, events stamped n), `line_in(n)` (the audio the line or
station sends toward the board in tick n, int16, None for silence), `hear(n, samples)`
(what the board put out to the line or station in tick n). Host commands reach a port
between ticks through `apply`, and act from the board's next tick (`board.now`).
"""

import enum
from dataclasses import dataclass
from datetime import timedelta

from appliance.drivers.emulator.events import (
    AbcdChanged, Ack, ErrorCode, HookChanged, HookFlash, LineReading,
    LoopCurrentDropped, LoopCurrentRestored, OffHook, OnHook, PolarityChanged, ReadLine,
    Rejected, Ring, RingStarted, RingStopped, SetAbcd, SetPolarity, StopRing,
)
from appliance.drivers.emulator.exchange import CallerIdTiming, ClearSignal, _Tones
from appliance.drivers.emulator.model import PortKind
from appliance.drivers.emulator.people import ticks
from appliance.drivers.emulator.signals import Clip, Loop, caller_id_signal
from appliance.dsp.toneplan import Tone
from appliance.dtmf import DtmfDetector

# Line readings (what a real line shows, roughly): battery on-hook, the loop off-hook.
ON_HOOK_V = 48.0
OFF_HOOK_V = 9.0
LOOP_MA = 25.0
STATION_OFF_HOOK_V = 8.0
STATION_LOOP_MA = 23.0
RING_V = 75.0  # rms ringing voltage, shown while a ring burst is on
E1_IDLE_ABCD = 0b1001  # Q.421 / China No.1 idle: a=1 b=0, c=0 d=1


class LineState(enum.Enum):
    IDLE = "idle"
    RINGING = "ringing"  # a call is offered, not answered
    ANSWERED = "answered"  # the box is off-hook on the call
    CLEARED = "cleared"  # the caller hung up; the box is still off-hook
    SEIZED = "seized"  # the box went off-hook with no call offered (to dial out)
    CALLING = "calling"  # the box dialled a callee whose phone is ringing (ringback)
    REFUSED = "refused"  # the box dialled a busy callee or a number nobody has


@dataclass(frozen=True)
class PortState:
    port: int
    kind: PortKind
    off_hook: bool  # FXO: the box's hook; FXS: the station's
    ringing: bool  # ringing voltage on the port now
    polarity: int
    line_voltage_v: float
    loop_current_ma: float
    rx_gain_db: float
    tx_gain_db: float
    source: int | None  # the port whose audio the switch plays to this one
    line_state: LineState | None = None  # FXO only
    abcd_rx: int | None = None  # E1 only
    abcd_tx: int | None = None


def _wrong_kind(command, kind):
    return Rejected(ErrorCode.WRONG_PORT_KIND,
                    f"{type(command).__name__} does not apply to an {kind.name} port")


class FxoPort:
    kind = PortKind.FXO

    def __init__(self, index, spec, config, board):
        self.index, self.spec, self.config, self.board = index, spec, config, board
        self.tones = tones = _Tones.of(config.tone_plan)
        self.busy = Loop(tones[Tone.BUSY])
        self.dial = Loop(tones[Tone.DIAL])
        self.ringback = Loop(tones[Tone.RINGBACK])
        self.refusal = None
        self.number = ""  # digits dialled since the box seized the line
        self.last_digit = 0
        self.answer_at = None
        self.state = LineState.IDLE
        self.off_hook = False
        self.polarity = 0
        self.call = None
        self.flash_end = self.flash_ref = None
        self.loop_dropped_until = None
        self.dialled = []  # (digit, tick) the box dialled on a seized line
        self.dial_tone = False
        self.flashes = []  # ticks of the box's hook flashes
        self._clear_ring()

    def _clear_ring(self):
        self.ring_on = False
        self.ring_index = 0  # position in the cadence
        self.ring_next = None  # tick of the next on/off change
        self.cid = self.cid_start = None
        self.cid_pending = False

    # -- the exchange offers a call --
    def offer(self, caller, n):
        accepted = self.state is LineState.IDLE and not self.off_hook
        caller.offered(n, accepted)
        if not accepted:
            return
        self.call, self.state = caller, LineState.RINGING
        self._clear_ring()
        cfg = self.config
        if caller.spec.number is not None and cfg.caller_id is not None:
            when = self.board.start_time
            if when is not None:
                when = when + timedelta(seconds=n * 0.02)
            fsk = cfg.caller_id != "dtmf"
            self.cid = Clip(caller_id_signal(caller.spec.number,
                                             caller.spec.caller_name if fsk else None,
                                             when if fsk else None, cfg.caller_id,
                                             cfg.caller_id_level_dbm0))
            caller.caller_id = cfg.caller_id
        if self.cid is not None and cfg.caller_id_timing is CallerIdTiming.BEFORE_FIRST_RING:
            self.cid_start = n + ticks(cfg.caller_id_delay_s)
            self.ring_next = self.cid_start + self.cid.samples.size // 160 + 1 + ticks(0.5)
        else:
            self.cid_pending = self.cid is not None
            self.ring_next = n

    def begin(self, n, events):
        if self.flash_end is not None and n >= self.flash_end:
            self.board._complete(self.flash_ref, Ack())
            self.flash_end = self.flash_ref = None
        if self.state is LineState.RINGING:
            if self.call.advance(n, None):  # gave up waiting for the answer
                if self.ring_on:
                    events.append(RingStopped(self.index, n))
                self.call, self.state = None, LineState.IDLE
                self._clear_ring()
                return
            cadence = self.config.ring_cadence_s
            while self.ring_next is not None and n >= self.ring_next:
                if not self.ring_on:
                    self.ring_on = True
                    self.call.rings += 1
                    events.append(RingStarted(self.index, n))
                    self.ring_next = n + max(1, ticks(cadence[self.ring_index]))
                else:
                    self.ring_on = False
                    events.append(RingStopped(self.index, n))
                    off = ticks(cadence[self.ring_index + 1])
                    self.ring_index = (self.ring_index + 2) % len(cadence)
                    nxt = n + off
                    if self.cid_pending:  # caller ID in the first silent interval
                        self.cid_pending = False
                        self.cid_start = n + ticks(self.config.caller_id_delay_s)
                        cid_end = self.cid_start + -(-self.cid.samples.size // 160)
                        nxt = max(nxt, cid_end + ticks(0.2))
                    self.ring_next = nxt
            return
        if self.state is LineState.SEIZED and self.number:
            if self.board._callee_for(self.number) is not None \
                    or n >= self.last_digit + ticks(self.config.interdigit_timeout_s):
                self._route(n)
        if self.state is LineState.CALLING and self.answer_at is not None \
                and n >= self.answer_at:
            self.state = LineState.ANSWERED
            self.call.answered_at(n)
            if self.config.answer_polarity:
                self.polarity ^= 1
                events.append(PolarityChanged(self.index, self.polarity, n))
        if self.state is LineState.ANSWERED:
            if self.call.advance(n, self.board._agent_on(self.index)):
                self._far_end_clear(n, events)
        elif self.state is LineState.CLEARED:
            if self.loop_dropped_until is not None and n >= self.loop_dropped_until:
                self.loop_dropped_until = None
                events.append(LoopCurrentRestored(self.index, n))

    def _route(self, n):
        """The exchange puts the box's call through to whoever has the number dialled."""
        spec = self.board._callee_for(self.number)
        if spec is None or spec.busy or self.board._callee_busy(spec):
            self.state = LineState.REFUSED
            tone = Tone.BUSY if spec is not None else Tone.CONGESTION
            self.refusal = Loop(self.tones.get(tone, self.tones[Tone.BUSY]))
            return
        self.call = self.board._new_callee(spec, self.index, n)
        self.call.offered(n, True)
        self.call.rings = 1
        self.state = LineState.CALLING
        self.ringback.pos = 0
        self.answer_at = None if spec.answer_after_s is None \
            else n + ticks(spec.answer_after_s)

    def _far_end_clear(self, n, events):
        self.state = LineState.CLEARED
        self.busy.pos = 0
        signal = self.config.clear_signal
        if signal is ClearSignal.POLARITY:
            self.polarity ^= 1
            events.append(PolarityChanged(self.index, self.polarity, n))
        elif signal is ClearSignal.LOOP_DROP:
            self.loop_dropped_until = n + max(1, ticks(self.config.loop_drop_s))
            events.append(LoopCurrentDropped(self.index, n))

    def line_in(self, n):
        state = self.state
        if state is LineState.RINGING:
            if self.cid is not None and self.cid_start is not None and n >= self.cid_start \
                    and not self.cid.done:
                return self.cid.next()
            return None
        if self.flash_end is not None:  # the loop is open
            return None
        if state is LineState.ANSWERED:
            return self.call.mic(n)
        if state is LineState.CLEARED:
            if self.loop_dropped_until is not None:
                return None
            if self.config.busy_after_clear or self.config.clear_signal is ClearSignal.BUSY_TONE:
                return self.busy.next()
            return None
        if state is LineState.SEIZED and self.dial_tone:
            return self.dial.next()
        if state is LineState.CALLING:
            return self.ringback.next()
        if state is LineState.REFUSED:
            return self.refusal.next()
        return None

    def hear(self, n, samples):
        if self.flash_end is not None:
            return
        if self.state is LineState.ANSWERED:
            self.call.hear(n, samples)
        elif self.state is LineState.SEIZED:
            for event in self.detector.feed(samples):
                self.dialled.append((event.digit, n))
                self.number += event.digit
                self.last_digit = n
            if self.detector.onsets:  # the exchange stops dial tone at the first key-down
                self.dial_tone = False

    # -- host commands --
    def apply(self, command, n, events, ref):
        if isinstance(command, OffHook):
            if self.off_hook:
                return Ack()
            self.off_hook = True
            if self.state is LineState.RINGING:
                if self.ring_on:
                    events.append(RingStopped(self.index, n))
                self._clear_ring()
                self.state = LineState.ANSWERED
                self.call.answered_at(n)
            else:
                self.state = LineState.SEIZED
                self.dial.pos = 0
                self.dial_tone = True
                self.detector = DtmfDetector()
                self.number = ""
            return Ack()
        if isinstance(command, OnHook):
            self._on_hook(n, events)
            return Ack()
        if isinstance(command, HookFlash):
            if not self.off_hook:
                return Rejected(ErrorCode.WRONG_STATE, "hook flash on an on-hook line")
            if self.flash_end is not None:
                return Rejected(ErrorCode.WRONG_STATE, "a hook flash is already under way")
            if not 50 <= command.duration_ms <= 2000:
                return Rejected(ErrorCode.BAD_VALUE, "a hook flash lasts 50 to 2000 ms")
            self.flash_end = n + max(1, ticks(command.duration_ms / 1000.0))
            self.flash_ref = ref
            self.flashes.append(n)
            return None
        if isinstance(command, ReadLine):
            return LineReading(self.index, *self.reading())
        return _wrong_kind(command, self.kind)

    def _on_hook(self, n, events):
        if self.flash_end is not None:
            self.board._complete(self.flash_ref, Ack())
            self.flash_end = self.flash_ref = None
        if not self.off_hook:
            return
        self.off_hook = False
        if self.state in (LineState.ANSWERED, LineState.CALLING):
            self.call.cleared_by_box(n)
        self.call = None
        if self.polarity:
            self.polarity = 0
            events.append(PolarityChanged(self.index, 0, n))
        self.loop_dropped_until = None
        self.state = LineState.IDLE

    def reset(self, n, events):
        """Session start or host lost: on-hook (a call being offered keeps ringing)."""
        self._on_hook(n, events)

    def reading(self):
        sign = -1.0 if self.polarity else 1.0
        if not self.off_hook or self.flash_end is not None:
            return sign * (RING_V if self.ring_on else ON_HOOK_V), 0.0
        if self.loop_dropped_until is not None:
            return 0.0, 0.0
        return sign * OFF_HOOK_V, LOOP_MA

    def finish(self):
        if self.call is not None:
            self.call.finish()

    def status(self):
        volts, amps = self.reading()
        return dict(off_hook=self.off_hook, ringing=self.ring_on, polarity=self.polarity,
                    line_voltage_v=volts, loop_current_ma=amps, line_state=self.state)


class FxsSignalling:
    """What every FXS end of the emulator shares: the host's ring cadence, the ring trip
    when the loop closes, polarity, and the line readings. `FxsPort` (a phone on it) and
    the loopback cable's FXS end (`appliance.drivers.emulated_board.cable`) build on it;
    `_ring_started` / `_ring_stopped` tell whoever listens to the bell."""

    kind = PortKind.FXS
    off_hook_v, loop_ma = STATION_OFF_HOOK_V, STATION_LOOP_MA

    def _stop(self):
        self.cadence = None  # ticks: on, off, on, off, ...
        self.ring_on = False
        self.ring_index = 0
        self.ring_next = None

    @property
    def ringing(self):
        return self.cadence is not None

    def _ring_started(self, n):
        pass

    def _ring_stopped(self, n):
        pass

    def _hook(self, off, n, events):
        """The loop opened or closed in tick n; closing it trips a ring."""
        self.off_hook = off
        events.append(HookChanged(self.index, off, n))
        if off and self.ringing:
            self._stop()
            self._ring_stopped(n)

    def _ring_cadence(self, n):
        while self.ringing and n >= self.ring_next:
            if not self.ring_on:
                self.ring_on = True
                self.ring_next = n + self.cadence[self.ring_index]
            else:
                self.ring_on = False
                self.ring_next = n + self.cadence[self.ring_index + 1]
                self.ring_index = (self.ring_index + 2) % len(self.cadence)

    def apply(self, command, n, events, ref):
        if isinstance(command, Ring):
            if self.off_hook:
                return Rejected(ErrorCode.WRONG_STATE, "ringing an off-hook station")
            if not 1 <= len(command.cadence_ms) <= 4:
                return Rejected(ErrorCode.BAD_VALUE, "a ring cadence has 1 to 4 pairs")
            cadence = []
            for on_ms, off_ms in command.cadence_ms:
                if not (1 <= on_ms <= 10000 and 0 <= off_ms <= 10000):
                    return Rejected(ErrorCode.BAD_VALUE, "ring cadence on 1-10000 ms, off "
                                    "0-10000 ms")
                cadence += [max(1, ticks(on_ms / 1000.0)), ticks(off_ms / 1000.0)]
            self.cadence, self.ring_on, self.ring_index, self.ring_next = cadence, False, 0, n
            self._ring_started(n)
            return Ack()
        if isinstance(command, StopRing):
            self.reset_ring(n)
            return Ack()
        if isinstance(command, SetPolarity):
            if command.polarity not in (0, 1):
                return Rejected(ErrorCode.BAD_VALUE, "polarity is 0 or 1")
            self.polarity = command.polarity
            return Ack()
        if isinstance(command, ReadLine):
            return LineReading(self.index, *self.reading())
        return _wrong_kind(command, self.kind)

    def reset_ring(self, n):
        if self.ringing:
            self._stop()
            self._ring_stopped(n)

    def reset(self, n, events):
        self.reset_ring(n)
        self.polarity = 0

    def reading(self):
        sign = -1.0 if self.polarity else 1.0
        if self.off_hook:
            return sign * self.off_hook_v, self.loop_ma
        return sign * (RING_V if self.ring_on else ON_HOOK_V), 0.0

    def status(self):
        volts, amps = self.reading()
        return dict(off_hook=self.off_hook, ringing=self.ring_on, polarity=self.polarity,
                    line_voltage_v=volts, loop_current_ma=amps)


class FxsPort(FxsSignalling):
    """A station on the board: an agent's phone (`phone`), or nobody."""

    def __init__(self, index, spec, board):
        self.index, self.spec, self.board = index, spec, board
        self.phone = None
        self.off_hook = False
        self.polarity = 0
        self._stop()

    def _ring_started(self, n):
        if self.phone is not None:
            self.phone.ring_started(n)

    def _ring_stopped(self, n):
        if self.phone is not None:
            self.phone.ring_stopped(n)

    def begin(self, n, events):
        if self.phone is not None:
            off = self.phone.advance(n, self.board._agent_on_phone(self.index))
            if off != self.off_hook:
                self._hook(off, n, events)
        self._ring_cadence(n)

    def line_in(self, n):
        if self.off_hook and self.phone is not None:
            return self.phone.mic(n)
        return None

    def hear(self, n, samples):
        if self.off_hook and self.phone is not None:
            self.phone.hear(n, samples)

    def finish(self):
        if self.phone is not None:
            self.phone.finish()


class E1Port:
    """One E1 channel. The far end is idle (silence, ABCD 1001) unless told otherwise
    (`VirtualBoard.set_far_abcd`), or loops the box's audio and bits back (`loopback`)."""

    kind = PortKind.E1

    def __init__(self, index, spec, board, loopback=False):
        self.index, self.spec, self.board = index, spec, board
        self.loopback = loopback
        self.abcd_tx = E1_IDLE_ABCD
        self.abcd_rx = E1_IDLE_ABCD
        self.last_heard = None

    def set_far_abcd(self, abcd, n, events):
        if abcd != self.abcd_rx:
            self.abcd_rx = abcd
            events.append(AbcdChanged(self.index, abcd, n))

    def begin(self, n, events):
        pass

    def line_in(self, n):
        if self.board.alarms.get(self.spec.span):
            return None  # no signal on the span
        return self.last_heard if self.loopback else None

    def hear(self, n, samples):
        if self.loopback:
            self.last_heard = samples.copy()

    def apply(self, command, n, events, ref):
        if isinstance(command, SetAbcd):
            if not 0 <= command.abcd <= 15:
                return Rejected(ErrorCode.BAD_VALUE, "abcd is 0..15")
            self.abcd_tx = command.abcd
            if self.loopback:
                self.set_far_abcd(command.abcd, n, events)
            return Ack()
        return _wrong_kind(command, self.kind)

    def reset(self, n, events):
        self.abcd_tx = E1_IDLE_ABCD

    def finish(self):
        pass

    def status(self):
        return dict(off_hook=False, ringing=False, polarity=0, line_voltage_v=0.0,
                    loop_current_ma=0.0, abcd_rx=self.abcd_rx, abcd_tx=self.abcd_tx)

"""Simulated people: callers on the exchange's side of FXO lines, agents at FXS phones.

A person runs a script of actions once their call is up (`Wait`, `Press`, `Talk`,
`WaitForAgent`, `Flash`, `HangUp`), records what they hear from the moment the call is
answered (or they lift the handset) and runs our DTMF receiver over it, so a report can say
what they did and what they heard. People are driven by the board, one tick at a time: at
the start of tick n, `advance(n, ...)` decides what they do in tick n (hang up, lift the
handset, start the next action); `mic(n)` is what they send in tick n; `hear(n, samples)`
is what reached them in tick n. Time is the board's tick counter; seconds in reports are
ticks x 20 ms from the board's first tick.
"""

import enum
from dataclasses import dataclass, field

import numpy as np

from appliance.drivers.emulator.signals import Clip, Speaking, SpeechSource, dtmf_audio, noise
from appliance.dtmf import DtmfDetector, DtmfEvent

TICK_S = 0.02
FRAME = 160


def ticks(seconds):
    """Whole ticks in `seconds` (rounded)."""
    return int(round(seconds / TICK_S))


def seconds(tick):
    return None if tick is None else round(tick * TICK_S, 6)


# ---- actions ------------------------------------------------------------------------


@dataclass(frozen=True)
class Wait:
    """Listen without doing anything for `seconds`."""

    seconds: float


@dataclass(frozen=True)
class Press:
    """Press `digits` on the keypad: real DTMF at `level_dbm0` (low group), the high group
    `twist_db` above it, each tone `on_ms` long with `off_ms` of silence after it."""

    digits: str
    level_dbm0: float = -10.0
    twist_db: float = 0.0
    on_ms: float = 100.0
    off_ms: float = 100.0


@dataclass(frozen=True)
class Talk:
    """Talk (a speech-like signal) for `seconds` at an active level of `level_dbm0`."""

    seconds: float
    level_dbm0: float = -20.0


@dataclass(frozen=True)
class WaitForAgent:
    """Caller: hold until the board's switch connects the line to an agent's off-hook phone;
    hang up (gave up) after `patience_s`."""

    patience_s: float


@dataclass(frozen=True)
class Flash:
    """Phone: a hook flash, on-hook for `seconds`."""

    seconds: float


@dataclass(frozen=True)
class HangUp:
    pass


class Party(enum.Enum):
    """Who ended a call."""

    CALLER = "caller"  # the simulated caller hung up
    BOX = "box"  # the host put the FXO line on-hook
    PHONE = "phone"  # the agent hung up the phone


class Outcome(enum.Enum):
    PENDING = "pending"  # not arrived yet when the run ended
    RINGING = "ringing"  # still ringing when the run ended
    BUSY = "busy"  # the line was in use when they called
    ABANDONED = "abandoned"  # hung up before the answer (ring patience ran out)
    ANSWERED = "answered"


# ---- what a person heard ------------------------------------------------------------


class _Recorder:
    """The audio reaching a person from `start` (a tick), and the digits in it."""

    def __init__(self, start):
        self.start = start
        self.chunks = []
        self.detector = DtmfDetector()
        self.digits = []
        self.closed = False

    def add(self, samples):
        samples = np.array(samples, dtype=np.int16)
        self.chunks.append(samples)
        self.digits += self.detector.feed(samples)

    def close(self):
        if not self.closed:
            self.digits += self.detector.flush()
            self.closed = True

    @property
    def audio(self):
        if not self.chunks:
            return np.zeros(0, dtype=np.int16)
        return np.concatenate(self.chunks)

    def events(self):
        """Digits with times in seconds from the board's first tick."""
        offset = self.start * TICK_S
        return tuple(DtmfEvent(e.digit, round(e.start + offset, 4), round(e.end + offset, 4))
                     for e in self.digits)


# ---- the script of a call -----------------------------------------------------------


class _Script:
    """Runs the actions of one call, one tick at a time."""

    def __init__(self, actions, rng):
        self.actions = tuple(actions)
        self.rng = rng
        self.index = -1
        self.current = None
        self.until = None
        self.clip = None
        self.pressed = []  # (digits, tick)
        self.talk_ticks = 0

    def step(self, n, connected):
        """Decide tick n: None, "hang_up", "gave_up" or ("flash", ticks)."""
        while True:
            action = self.current
            if isinstance(action, Wait) and n < self.until:
                return None
            if isinstance(action, (Press, Talk)) and not self.clip.done:
                return None
            if isinstance(action, WaitForAgent) and not connected:
                return "gave_up" if n >= self.until else None
            if isinstance(action, Flash) and n < self.until:
                return None
            self.clip = None
            if self.index + 1 >= len(self.actions):
                self.current = None
                return None
            self.index += 1
            action = self.current = self.actions[self.index]
            if isinstance(action, Wait):
                self.until = n + ticks(action.seconds)
            elif isinstance(action, Press):
                self.clip = Clip(dtmf_audio(action.digits, action.level_dbm0, action.twist_db,
                                            action.on_ms, action.off_ms))
                self.pressed.append((action.digits, n))
            elif isinstance(action, Talk):
                self.clip = Speaking(SpeechSource(self.rng, action.level_dbm0),
                                     ticks(action.seconds) * FRAME)
                self.talk_ticks += ticks(action.seconds)
            elif isinstance(action, WaitForAgent):
                self.until = n + ticks(action.patience_s)
            elif isinstance(action, Flash):
                self.until = n + max(1, ticks(action.seconds))
                return ("flash", self.until - n)
            elif isinstance(action, HangUp):
                return "hang_up"

    def mic(self):
        if self.clip is None:
            return None
        return self.clip.next(FRAME)


# ---- callers ------------------------------------------------------------------------


@dataclass(frozen=True)
class CallerSpec:
    """A caller: calls `line` (an FXO port) at tick `at`, from `number` (caller ID; None
    sends none), rings for at most `ring_patience_s`, then runs `actions` once answered.
    Their line adds white noise at `noise_dbm0` (None: a clean line) to what they send."""

    name: str
    line: int
    at: int
    number: str | None = None
    caller_name: str | None = None
    ring_patience_s: float = 30.0
    noise_dbm0: float | None = None
    actions: tuple = ()


@dataclass(frozen=True)
class CallerReport:
    name: str
    line: int
    number: str | None
    arrived_at_s: float | None
    outcome: Outcome
    rings: int
    caller_id: str | None  # format sent ("dtmf", "bell202", "v23") or None
    answered_at_s: float | None
    agent: str | None  # the first agent phone the caller was switched to
    agent_at_s: float | None
    gave_up: bool  # hung up because WaitForAgent ran out of patience
    ended_at_s: float | None
    hung_up_by: Party | None
    pressed: tuple  # ((digits, at_s), ...)
    talked_s: float
    digits_heard: str
    digit_events: tuple  # DtmfEvent, times from the board's first tick
    heard: np.ndarray = field(repr=False)  # int16 from the answer on

    def to_dict(self):
        return {
            "name": self.name, "line": self.line, "number": self.number,
            "arrived_at_s": self.arrived_at_s, "outcome": self.outcome.value,
            "rings": self.rings, "caller_id": self.caller_id,
            "answered_at_s": self.answered_at_s, "agent": self.agent,
            "agent_at_s": self.agent_at_s, "gave_up": self.gave_up,
            "ended_at_s": self.ended_at_s,
            "hung_up_by": None if self.hung_up_by is None else self.hung_up_by.value,
            "pressed": [{"digits": d, "at_s": t} for d, t in self.pressed],
            "talked_s": self.talked_s, "digits_heard": self.digits_heard,
            "digit_events": [{"digit": e.digit, "start_s": e.start, "end_s": e.end}
                             for e in self.digit_events],
            "heard_s": self.heard.size / 8000.0,
        }


class Caller:
    """One simulated caller (see CallerSpec)."""

    def __init__(self, spec, rng):
        self.spec = spec
        self.rng = rng
        self.outcome = Outcome.PENDING
        self.arrived = self.answered = self.ended = None
        self.hung_up_by = None
        self.rings = 0
        self.caller_id = None
        self.agent = self.agent_at = None
        self.gave_up = False
        self.deadline = None
        self.script = None
        self.recorder = None

    # -- called by the line --
    def offered(self, n, accepted):
        self.arrived = n
        if accepted:
            self.outcome = Outcome.RINGING
            self.deadline = n + ticks(self.spec.ring_patience_s)
        else:  # the line is in use: they hear busy and hang up
            self.outcome = Outcome.BUSY
            self._end(n, Party.CALLER)

    def answered_at(self, n):
        self.outcome = Outcome.ANSWERED
        self.answered = n
        self.script = _Script(self.spec.actions, self.rng)
        self.recorder = _Recorder(n)

    def cleared_by_box(self, n):
        if self.outcome is Outcome.RINGING:  # a callee whose caller (the box) gave up
            self.outcome = Outcome.ABANDONED
        self._end(n, Party.BOX)

    def advance(self, n, agent):
        """Tick n: True when the caller hangs up now. `agent`: the name of the agent phone
        the line is switched to, or None."""
        if self.outcome is Outcome.RINGING:
            if n >= self.deadline:
                self.outcome = Outcome.ABANDONED
                self._end(n, Party.CALLER)
                return True
            return False
        if self.outcome is not Outcome.ANSWERED or self.ended is not None:
            return False
        if agent is not None and self.agent is None:
            self.agent, self.agent_at = agent, n
        result = self.script.step(n, agent is not None)
        if result in ("hang_up", "gave_up"):
            self.gave_up = result == "gave_up"
            self._end(n, Party.CALLER)
            return True
        return False

    def mic(self, n):
        out = self.script.mic() if self.script is not None else None
        if self.spec.noise_dbm0 is None:
            return out
        hiss = noise(FRAME, self.spec.noise_dbm0, self.rng)
        if out is not None:
            hiss += out
        return np.clip(np.round(hiss), -32768, 32767).astype(np.int16)

    def hear(self, n, samples):
        if self.recorder is not None and not self.recorder.closed:
            self.recorder.add(samples)

    def _end(self, n, party):
        self.ended, self.hung_up_by = n, party
        if self.recorder is not None:
            self.recorder.close()

    def finish(self):
        if self.recorder is not None:
            self.recorder.close()

    def report(self):
        rec = self.recorder
        events = rec.events() if rec else ()
        script = self.script
        return CallerReport(
            name=self.spec.name, line=self.spec.line, number=self.spec.number,
            arrived_at_s=seconds(self.arrived), outcome=self.outcome, rings=self.rings,
            caller_id=self.caller_id, answered_at_s=seconds(self.answered),
            agent=self.agent, agent_at_s=seconds(self.agent_at), gave_up=self.gave_up,
            ended_at_s=seconds(self.ended), hung_up_by=self.hung_up_by,
            pressed=tuple((d, seconds(t)) for d, t in script.pressed) if script else (),
            talked_s=seconds(script.talk_ticks) if script else 0.0,
            digits_heard="".join(e.digit for e in events), digit_events=events,
            heard=rec.audio if rec else np.zeros(0, dtype=np.int16))


@dataclass(frozen=True)
class CalleeSpec:
    """Someone the box can call out to on an FXO line: reached by dialling `number`; their
    phone rings for `answer_after_s` before they answer (None: never), or is `busy`; then
    they run `actions` as a caller would. Reported like a caller (`line`: the line the box
    called from; `arrived_at_s`: when the exchange put the call through to them)."""

    name: str
    number: str
    answer_after_s: float | None = 5.0
    busy: bool = False
    noise_dbm0: float | None = None
    actions: tuple = ()


# ---- agent phones -------------------------------------------------------------------


@dataclass(frozen=True)
class PhoneSpec:
    """An agent's phone on FXS `port`: answers a ringing phone `answer_after_s` after the
    ringing began (None: never), then runs `actions`; `calls` are (tick, actions) at which
    the agent lifts the handset by themselves (to dial out)."""

    name: str
    port: int
    answer_after_s: float | None = 2.0
    actions: tuple = ()
    calls: tuple = ()
    noise_dbm0: float | None = None


@dataclass(frozen=True)
class PhoneCall:
    off_hook_at_s: float
    on_hook_at_s: float | None
    answered_ring: bool  # lifted to answer ringing (not a call of its own)
    hung_up_by: Party | None
    pressed: tuple
    flashes: tuple  # at_s of each hook flash
    talked_s: float
    digits_heard: str
    digit_events: tuple
    heard: np.ndarray = field(repr=False)

    def to_dict(self):
        return {
            "off_hook_at_s": self.off_hook_at_s, "on_hook_at_s": self.on_hook_at_s,
            "answered_ring": self.answered_ring,
            "hung_up_by": None if self.hung_up_by is None else self.hung_up_by.value,
            "pressed": [{"digits": d, "at_s": t} for d, t in self.pressed],
            "flashes": list(self.flashes), "talked_s": self.talked_s,
            "digits_heard": self.digits_heard,
            "digit_events": [{"digit": e.digit, "start_s": e.start, "end_s": e.end}
                             for e in self.digit_events],
            "heard_s": self.heard.size / 8000.0,
        }


@dataclass(frozen=True)
class PhoneReport:
    name: str
    port: int
    rings: tuple  # ((start_s, end_s or None), ...): each time the host rang the phone
    calls: tuple  # PhoneCall, one per off-hook period

    def to_dict(self):
        return {"name": self.name, "port": self.port,
                "rings": [{"start_s": a, "end_s": b} for a, b in self.rings],
                "calls": [c.to_dict() for c in self.calls]}


class _PhoneCallLog:
    def __init__(self, n, answered_ring, actions, rng):
        self.start, self.end = n, None
        self.answered_ring = answered_ring
        self.script = _Script(actions, rng)
        self.recorder = _Recorder(n)
        self.flashes = []
        self.hung_up_by = None


class Phone:
    """One simulated agent at an FXS phone (see PhoneSpec)."""

    def __init__(self, spec, rng):
        self.spec = spec
        self.rng = rng
        self.off_hook = False
        self.rings = []  # [start, end]
        self.ringing_since = None
        self.calls = []
        self.flash_until = None
        self.pending = sorted(spec.calls, key=lambda c: c[0])
        # what the phone does on a call it answers: spec.actions, unless a test rig that
        # knows the call (appliance simulate --with-audio) gives the actions here
        self.answer_actions = lambda n: self.spec.actions

    @property
    def call(self):
        return self.calls[-1] if self.calls and self.calls[-1].end is None else None

    def ring_started(self, n):
        if self.ringing_since is None:
            self.ringing_since = n
            self.rings.append([n, None])

    def ring_stopped(self, n):
        if self.ringing_since is not None:
            self.rings[-1][1] = n
            self.ringing_since = None

    def advance(self, n, agent_connected=False):
        """Tick n: whether the handset is off-hook in tick n."""
        call = self.call
        if call is None:
            if self.ringing_since is not None and self.spec.answer_after_s is not None \
                    and n >= self.ringing_since + ticks(self.spec.answer_after_s):
                call = self._lift(n, True, self.answer_actions(n))
            elif self.pending and n >= self.pending[0][0]:
                _, actions = self.pending.pop(0)
                call = self._lift(n, False, actions)
            else:
                return False
        if self.flash_until is not None:
            if n < self.flash_until:
                return False
            self.flash_until = None
        result = call.script.step(n, agent_connected)
        if result == "hang_up":
            call.end, call.hung_up_by = n, Party.PHONE
            call.recorder.close()
            self.off_hook = False
        elif isinstance(result, tuple):  # ("flash", ticks)
            self.flash_until = n + result[1]
            call.flashes.append(n)
            return False
        return self.off_hook

    def _lift(self, n, answered_ring, actions):
        self.off_hook = True
        self.calls.append(_PhoneCallLog(n, answered_ring, actions, self.rng))
        return self.calls[-1]

    def mic(self, n):
        call = self.call
        out = call.script.mic() if call is not None and self.flash_until is None else None
        if self.spec.noise_dbm0 is None:
            return out
        hiss = noise(FRAME, self.spec.noise_dbm0, self.rng)
        if out is not None:
            hiss += out
        return np.clip(np.round(hiss), -32768, 32767).astype(np.int16)

    def hear(self, n, samples):
        call = self.call
        if call is not None and self.flash_until is None:
            call.recorder.add(samples)

    def finish(self):
        for call in self.calls:
            call.recorder.close()

    def report(self):
        calls = []
        for c in self.calls:
            events = c.recorder.events()
            calls.append(PhoneCall(
                off_hook_at_s=seconds(c.start), on_hook_at_s=seconds(c.end),
                answered_ring=c.answered_ring, hung_up_by=c.hung_up_by,
                pressed=tuple((d, seconds(t)) for d, t in c.script.pressed),
                flashes=tuple(seconds(t) for t in c.flashes),
                talked_s=seconds(c.script.talk_ticks),
                digits_heard="".join(e.digit for e in events), digit_events=events,
                heard=c.recorder.audio))
        return PhoneReport(self.spec.name, self.spec.port,
                           tuple((seconds(a), seconds(b)) for a, b in self.rings), tuple(calls))

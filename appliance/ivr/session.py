"""The IVR interpreter: one call's walk through the flows, sans-I/O.

An IvrSession is fed events (a digit, a prompt finished, a tick, a recording finished, a
lookup result, the caller hung up), each with the engine's tick, and returns the actions the
engine carries out (play, stop playback, beep, record, look up, queue, transfer, hang up).
It never reads a clock and never blocks: timeouts are deadlines in ticks, checked whenever an
event brings a later tick, so the engine may call `tick(now)` every tick or only once
`deadline` has come.

Digits typed while a prompt plays are kept (type-ahead, up to TYPE_AHEAD_MAX). Where the node
allows barge-in a digit stops the prompt and is then used as input; a node with barge-in
entered with digits already typed skips its prompt. Events the current state does not expect
(a late `prompt_finished` for a prompt already stopped, a digit after the end, ...) are
ignored: they are normal races between the engine and the call, never errors. The state x
event table `TRANSITIONS` lists every pair.
"""

import enum
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Callable, Mapping, Optional

from appliance.records import record

from .flows import DTMF_DIGITS, NodeType

TYPE_AHEAD_MAX = 32
# Nodes entered one after another without consuming a digit or waiting: more than this in
# one event means a loop that would spin (check_flows reports them; this is the last guard).
MAX_HOPS = 256


# ---- actions -------------------------------------------------------------------------------

@record
class Play:
    """Play these prompts one after the other, then report prompt_finished(play_id)."""
    prompts: tuple
    barge_in: bool
    play_id: int


@record
class Beep:
    """Play the built-in beep (voicemail's "after the tone"), then report prompt_finished."""
    play_id: int


@record
class StopPlayback:
    """Stop the prompt or beep now; no prompt_finished is expected for it."""
    play_id: int


@record
class LookUpCustomer:
    """Find the customer whose `key` variable is `value`; answer with
    lookup_result(record, tick, request_id)."""
    key: str
    value: str
    request_id: int


@record
class StartRecording:
    mailbox: str
    max_ticks: int


@record
class StopRecording:
    mailbox: str
    length_ticks: int


@record
class Queue:
    """Terminal: hand the call to the ACD queue, with the call's variables."""
    name: str
    variables: Mapping
    priority: int = 0


@record
class Transfer:
    """Terminal: blind transfer to a station (by name) or an outside number."""
    station: str = ""
    number: str = ""


@record
class Hangup:
    """Terminal: hang up the call. reason goes to the CDR."""
    reason: str = "ivr"


TERMINAL_ACTIONS = (Queue, Transfer, Hangup)


# ---- states and events ---------------------------------------------------------------------

class State(enum.Enum):
    IDLE = "idle"              # not started
    PLAYING = "playing"        # a prompt plays (play node, menu/collect prompt, greeting)
    WAITING_DIGITS = "waiting_digits"  # menu/collect: prompt done, timer running
    BEEPING = "beeping"        # voicemail: the tone before recording
    RECORDING = "recording"    # voicemail: recording until #, max length or the engine ends it
    LOOKING_UP = "looking_up"  # lookup sent, waiting for the result or the timeout
    DONE = "done"              # a terminal action was given, or the caller hung up


class Event(enum.Enum):
    DIGIT = "digit"
    PROMPT_FINISHED = "prompt_finished"
    TICK = "tick"
    RECORDING_FINISHED = "recording_finished"
    LOOKUP_RESULT = "lookup_result"
    CALLER_HUNG_UP = "caller_hung_up"


# The same events as frozen dataclasses, for an engine that queues them: IvrSession.handle.

@record
class DigitReceived:
    digit: str
    tick: int


@record
class PromptFinished:
    tick: int
    play_id: Optional[int] = None


@record
class TickElapsed:
    tick: int


@record
class RecordingFinished:
    tick: int


@record
class LookupAnswered:
    record: Optional[Mapping]
    tick: int
    request_id: Optional[int] = None


@record
class CallerHungUp:
    tick: int


_I = "_ignore"
TRANSITIONS = {
    (State.IDLE, Event.DIGIT): "_buffer_digit",  # typed before start: kept as type-ahead
    (State.IDLE, Event.PROMPT_FINISHED): _I,
    (State.IDLE, Event.TICK): _I,
    (State.IDLE, Event.RECORDING_FINISHED): _I,
    (State.IDLE, Event.LOOKUP_RESULT): _I,
    (State.IDLE, Event.CALLER_HUNG_UP): "_caller_hung_up",
    (State.PLAYING, Event.DIGIT): "_digit_while_playing",
    (State.PLAYING, Event.PROMPT_FINISHED): "_prompt_finished",
    (State.PLAYING, Event.TICK): _I,
    (State.PLAYING, Event.RECORDING_FINISHED): _I,
    (State.PLAYING, Event.LOOKUP_RESULT): _I,
    (State.PLAYING, Event.CALLER_HUNG_UP): "_caller_hung_up",
    (State.WAITING_DIGITS, Event.DIGIT): "_digit_while_waiting",
    (State.WAITING_DIGITS, Event.PROMPT_FINISHED): _I,
    (State.WAITING_DIGITS, Event.TICK): "_input_timeout",
    (State.WAITING_DIGITS, Event.RECORDING_FINISHED): _I,
    (State.WAITING_DIGITS, Event.LOOKUP_RESULT): _I,
    (State.WAITING_DIGITS, Event.CALLER_HUNG_UP): "_caller_hung_up",
    (State.BEEPING, Event.DIGIT): _I,  # the message has not started: digits are not kept
    (State.BEEPING, Event.PROMPT_FINISHED): "_beep_finished",
    (State.BEEPING, Event.TICK): _I,
    (State.BEEPING, Event.RECORDING_FINISHED): _I,
    (State.BEEPING, Event.LOOKUP_RESULT): _I,
    (State.BEEPING, Event.CALLER_HUNG_UP): "_caller_hung_up",
    (State.RECORDING, Event.DIGIT): "_digit_while_recording",
    (State.RECORDING, Event.PROMPT_FINISHED): _I,
    (State.RECORDING, Event.TICK): "_recording_timeout",
    (State.RECORDING, Event.RECORDING_FINISHED): "_recording_finished",
    (State.RECORDING, Event.LOOKUP_RESULT): _I,
    (State.RECORDING, Event.CALLER_HUNG_UP): "_caller_hung_up",
    (State.LOOKING_UP, Event.DIGIT): "_buffer_digit",
    (State.LOOKING_UP, Event.PROMPT_FINISHED): _I,
    (State.LOOKING_UP, Event.TICK): "_lookup_timeout",
    (State.LOOKING_UP, Event.RECORDING_FINISHED): _I,
    (State.LOOKING_UP, Event.LOOKUP_RESULT): "_lookup_result",
    (State.LOOKING_UP, Event.CALLER_HUNG_UP): "_caller_hung_up",
    (State.DONE, Event.DIGIT): _I,
    (State.DONE, Event.PROMPT_FINISHED): _I,
    (State.DONE, Event.TICK): _I,
    (State.DONE, Event.RECORDING_FINISHED): _I,
    (State.DONE, Event.LOOKUP_RESULT): _I,
    (State.DONE, Event.CALLER_HUNG_UP): _I,
}


@dataclass
class _Visit:
    """Per-node-visit counters and input (reset each time a node is entered)."""
    no_input: int = 0
    invalid: int = 0
    entry: list = field(default_factory=list)   # collect: digits so far
    input_since: int = 0       # tick the input phase opened
    last_digit_tick: int = 0
    record_start: int = 0


class IvrSession:
    """One call in the IVR.

    flows: parsed Flows; entry: the node the call starts at; call_info: the call's facts
    (`caller`, `called`, `trunk`, ...), which seed the variables. schedules: schedule name ->
    callable(tick), or an object with .state_at(tick), returning "open", "closed" or
    "holiday" (True/False mean open/closed; anything else counts as closed), so the engine
    maps its ticks to local time. The session keeps its Flows: a reload gives new calls new
    Flows and leaves live calls on the old ones. lookup: callable(value) -> record dict or None,
    answered at once; without it a lookup node emits LookUpCustomer and waits for
    lookup_result (so the store is never read on the tick path).
    """

    def __init__(self, flows, entry, call_info: Mapping[str, str] = MappingProxyType({}), *,
                 schedules: Optional[Mapping[str, Callable]] = None,
                 lookup: Optional[Callable[[str], Optional[Mapping]]] = None):
        if entry not in flows.nodes:
            raise ValueError(f"IVR entry {entry!r} is not a node of the flows")
        schedules = {name: getattr(sched, "state_at", sched)
                     for name, sched in (schedules or {}).items()}
        for name, sched in schedules.items():
            if not callable(sched):
                raise TypeError(f"schedule {name!r} must be callable(tick) or have"
                                " .state_at(tick)")
        for node_name, needed in flows.schedule_nodes:
            if needed not in schedules:
                raise ValueError(f"node {node_name!r} needs schedule {needed!r},"
                                 " which was not given")
        self.flows = flows
        self.entry = entry
        self.schedules = schedules
        self.lookup = lookup
        self.variables = {str(k): str(v) for k, v in call_info.items()}
        self.path = []           # every node entered, in order (for the CDR)
        self.digits = []         # every digit received, with its tick: (digit, tick)
        self.state = State.IDLE
        self.result = None       # the terminal action, or None (caller hung up / not done)
        self.ended_by = None     # "ivr" or "caller"
        self.now = 0
        self.deadline = None     # the tick at which a timeout fires, if one runs
        self._node = None
        self._visit = _Visit()
        self._type_ahead = []    # [(digit, tick)]
        self._menus = []         # menus entered, for `back`
        self._from_menu_option = False
        self._play_id = 0
        self._lookup_id = 0
        self._playing_barge_in = False
        self._hops = 0

    # -- the engine's side ----------------------------------------------------------------

    @property
    def done(self):
        return self.state is State.DONE

    @property
    def node(self):
        """The name of the current node (None before start)."""
        return self._node.name if self._node else None

    def start(self, tick=0):
        if self.state is not State.IDLE:
            raise RuntimeError("IvrSession.start called twice")
        self.now = tick
        actions = []
        self._goto(self.entry, actions)
        return actions

    def digit(self, digit, tick):
        if not isinstance(digit, str) or len(digit) != 1 or digit not in DTMF_DIGITS:
            raise ValueError(f"not a DTMF digit: {digit!r}")
        return self._event(Event.DIGIT, tick, digit)

    def prompt_finished(self, tick, play_id=None):
        """The prompt (or beep) ended. play_id, if given, must be the current play's, so a
        late report for a prompt already stopped is ignored."""
        if play_id is not None and play_id != self._play_id:
            return self._event(Event.TICK, tick)
        return self._event(Event.PROMPT_FINISHED, tick)

    def tick(self, now):
        return self._event(Event.TICK, now)

    def recording_finished(self, tick):
        """The engine ended the recording on its own (disk, line); the message is kept."""
        return self._event(Event.RECORDING_FINISHED, tick)

    def lookup_result(self, record, tick, request_id=None):
        """The answer to LookUpCustomer: the customer's record (a mapping) or None.
        request_id, if given, must be the pending lookup's, so an answer that comes after
        its timeout is not taken for a later lookup's."""
        if request_id is not None and request_id != self._lookup_id:
            return self._event(Event.TICK, tick)
        return self._event(Event.LOOKUP_RESULT, tick, record)

    def caller_hung_up(self, tick):
        return self._event(Event.CALLER_HUNG_UP, tick)

    def handle(self, event):
        """Feeds one event dataclass (DigitReceived, PromptFinished, ...); returns actions."""
        if isinstance(event, DigitReceived):
            return self.digit(event.digit, event.tick)
        if isinstance(event, PromptFinished):
            return self.prompt_finished(event.tick, event.play_id)
        if isinstance(event, TickElapsed):
            return self.tick(event.tick)
        if isinstance(event, RecordingFinished):
            return self.recording_finished(event.tick)
        if isinstance(event, LookupAnswered):
            return self.lookup_result(event.record, event.tick, event.request_id)
        if isinstance(event, CallerHungUp):
            return self.caller_hung_up(event.tick)
        raise TypeError(f"not an IVR event: {event!r}")

    # -- dispatch ----------------------------------------------------------------------------

    def _event(self, event, tick, arg=None):
        actions = []
        self._hops = 0
        if tick > self.now:
            self.now = tick
        # A deadline that passed before this event fires first, as if tick() had come.
        if event is not Event.TICK and self._deadline_passed():
            getattr(self, TRANSITIONS[(self.state, Event.TICK)])(actions, None)
        handler = TRANSITIONS[(self.state, event)]
        getattr(self, handler)(actions, arg)
        return actions

    def _deadline_passed(self):
        return self.deadline is not None and self.now >= self.deadline

    def _ignore(self, actions, arg):
        pass

    # -- moving between nodes ------------------------------------------------------------------

    def _goto(self, name, actions):
        while name:
            self._hops += 1
            if self._hops > MAX_HOPS:
                self._finish(Hangup("ivr loop"), actions)
                return
            node = self.flows.nodes[name]
            self._node = node
            self._visit = _Visit()
            self.deadline = None
            self.path.append(name)
            came_from_option = self._from_menu_option
            self._from_menu_option = False
            name = getattr(self, "_enter_" + node.type.value)(node, actions, came_from_option)

    def _finish(self, action, actions):
        actions.append(action)
        self.result = action
        self.ended_by = "ivr"
        self.state = State.DONE
        self.deadline = None
        self._type_ahead.clear()

    def _play(self, prompts, barge_in, actions):
        self._play_id += 1
        self._playing_barge_in = barge_in
        self.state = State.PLAYING
        actions.append(Play(tuple(prompts), barge_in, self._play_id))

    def _stop_playback(self, actions):
        actions.append(StopPlayback(self._play_id))
        self._play_id += 1  # a late prompt_finished for the stopped play no longer matches

    # -- node entry: each returns the next node's name, or "" when it waits or ends ------------

    def _enter_play(self, node, actions, _):
        if node.barge_in and self._type_ahead:
            return node.next
        self._play(node.prompts, node.barge_in, actions)
        return ""

    def _enter_menu(self, node, actions, _):
        if node.name in self._menus:
            del self._menus[self._menus.index(node.name):]
        self._menus.append(node.name)
        return self._prompt_for_input(node.prompts, actions)

    def _enter_collect(self, node, actions, _):
        return self._prompt_for_input(node.prompts, actions)

    def _prompt_for_input(self, prompts, actions):
        node = self._node
        if node.barge_in and self._type_ahead:
            return self._open_input(actions)
        self._play(prompts, node.barge_in, actions)
        return ""

    def _enter_schedule(self, node, actions, _):
        state = self.schedules[node.schedule](self.now)
        if state is True or state == "open":
            return node.open
        if state == "holiday" and node.holiday:
            return node.holiday
        return node.closed

    def _enter_lookup(self, node, actions, _):
        value = self.variables.get(node.key, "")
        if not value:
            self.variables["customer.found"] = "0"
            return node.not_found
        if self.lookup is not None:
            return self._apply_lookup(self.lookup(value))
        self.state = State.LOOKING_UP
        self.deadline = self.now + node.timeout_ticks
        self._lookup_id += 1
        actions.append(LookUpCustomer(node.key, value, self._lookup_id))
        return ""

    def _apply_lookup(self, record):
        node = self._node
        self.deadline = None
        if not record:
            self.variables["customer.found"] = "0"
            return node.not_found
        self.variables["customer.found"] = "1"
        if node.fields:
            for var, fld in node.fields.items():
                value = record.get(fld)
                self.variables[var] = "" if value is None else str(value)
        else:
            for k, value in record.items():
                self.variables[f"customer.{k}"] = "" if value is None else str(value)
        return node.found

    def _enter_queue(self, node, actions, _):
        self._finish(Queue(node.queue, MappingProxyType(dict(self.variables)), node.priority),
                     actions)
        return ""

    def _enter_transfer(self, node, actions, _):
        self._finish(Transfer(station=node.station, number=node.number), actions)
        return ""

    def _enter_hangup(self, node, actions, _):
        self._finish(Hangup(node.reason), actions)
        return ""

    def _enter_goto(self, node, actions, came_from_option):
        self._from_menu_option = came_from_option  # goto is transparent for `back`
        return node.to

    def _enter_back(self, node, actions, came_from_option):
        # Chosen in a menu: leave that menu for the one before it. Reached after a menu (a
        # play, a collect...): return to that menu.
        if came_from_option and self._menus:
            self._menus.pop()
        if self._menus:
            return self._menus.pop()  # entering it pushes it again
        if node.fallback:
            return node.fallback
        self._finish(Hangup("back with no previous menu"), actions)
        return ""

    def _enter_voicemail(self, node, actions, _):
        self._type_ahead.clear()
        if node.prompts:
            self._play(node.prompts, False, actions)
            return ""
        return self._voicemail_after_greeting(actions)

    def _voicemail_after_greeting(self, actions):
        if self._node.beep:
            self._play_id += 1
            self.state = State.BEEPING
            actions.append(Beep(self._play_id))
            return ""
        return self._start_recording(actions)

    def _start_recording(self, actions):
        node = self._node
        self._type_ahead.clear()
        self.state = State.RECORDING
        self._visit.record_start = self.now
        self.deadline = self.now + node.max_length_ticks
        actions.append(StartRecording(node.mailbox, node.max_length_ticks))
        return ""

    # -- input -----------------------------------------------------------------------------

    def _buffer_digit(self, actions, digit):
        self.digits.append((digit, self.now))
        if len(self._type_ahead) < TYPE_AHEAD_MAX:
            self._type_ahead.append((digit, self.now))

    def _digit_while_playing(self, actions, digit):
        self._buffer_digit(actions, digit)
        if self._playing_barge_in:
            self._stop_playback(actions)
            self._goto(self._prompt_done(actions), actions)

    def _prompt_finished(self, actions, _):
        self._goto(self._prompt_done(actions), actions)

    def _prompt_done(self, actions):
        node = self._node
        if node.type is NodeType.PLAY:
            return node.next
        if node.type is NodeType.VOICEMAIL:
            return self._voicemail_after_greeting(actions)
        return self._open_input(actions)

    def _open_input(self, actions):
        self.state = State.WAITING_DIGITS
        self._visit.input_since = self.now
        return self._take_digits(actions)

    def _digit_while_waiting(self, actions, digit):
        self._buffer_digit(actions, digit)
        self._goto(self._take_digits(actions), actions)

    def _take_digits(self, actions):
        """Uses the typed digits; returns the next node, or "" to keep waiting."""
        node = self._node
        visit = self._visit
        if node.type is NodeType.MENU:
            if not self._type_ahead:
                self.deadline = visit.input_since + node.timeout_ticks
                return ""
            digit, _ = self._type_ahead.pop(0)
            self._hops = 0
            target = node.options.get(digit)
            if target is None:
                return self._failed("invalid", actions)
            self._from_menu_option = True
            return target
        # collect
        while self._type_ahead:
            digit, at = self._type_ahead.pop(0)
            self._hops = 0
            if node.terminator and digit == node.terminator:
                return self._collected(actions)
            if digit not in "0123456789":
                return self._failed("invalid", actions)
            visit.entry.append(digit)
            visit.last_digit_tick = max(at, visit.input_since)
            if len(visit.entry) >= node.max_digits:
                return self._collected(actions)
        if visit.entry:
            self.deadline = visit.last_digit_tick + node.inter_digit_timeout_ticks
        else:
            self.deadline = visit.input_since + node.first_digit_timeout_ticks
        return ""

    def _collected(self, actions):
        node = self._node
        if len(self._visit.entry) < node.min_digits:
            return self._failed("invalid", actions)
        self.variables[node.variable] = "".join(self._visit.entry)
        return node.next

    def _input_timeout(self, actions, _):
        if not self._deadline_passed():
            return
        self.deadline = None
        node = self._node
        if node.type is NodeType.COLLECT and self._visit.entry:
            # The inter-digit timeout: a shorter entry is accepted if long enough.
            self._goto(self._collected(actions), actions)
        else:
            self._goto(self._failed("no_input", actions), actions)

    def _failed(self, kind, actions):
        """Counts a no-input or invalid entry; re-prompts, or returns the fallback."""
        node = self._node
        retry = node.retry
        visit = self._visit
        self._type_ahead.clear()
        visit.entry = []
        self.deadline = None
        if kind == "no_input":
            visit.no_input += 1
            over, fallback = visit.no_input >= retry.no_input_limit, retry.no_input_fallback
            prompts = retry.no_input_prompts
        else:
            visit.invalid += 1
            over, fallback = visit.invalid >= retry.invalid_limit, retry.invalid_fallback
            prompts = retry.invalid_prompts
        self.variables[f"{node.name}.{kind}"] = str(getattr(visit, kind))
        if over:
            return fallback or retry.fallback
        if retry.max_failures is not None and visit.no_input + visit.invalid >= retry.max_failures:
            return retry.fallback
        self._play(tuple(prompts) + tuple(node.prompts), node.barge_in, actions)
        return ""

    # -- voicemail ----------------------------------------------------------------------------

    def _beep_finished(self, actions, _):
        self._start_recording(actions)

    def _digit_while_recording(self, actions, digit):
        self.digits.append((digit, self.now))
        if digit == "#":
            self._end_recording(actions, stop=True)

    def _recording_timeout(self, actions, _):
        if self._deadline_passed():
            self._end_recording(actions, stop=True)

    def _recording_finished(self, actions, _):
        self._end_recording(actions, stop=False)

    def _end_recording(self, actions, stop):
        node = self._node
        length = min(self.now - self._visit.record_start, node.max_length_ticks)
        self.deadline = None
        if stop:
            actions.append(StopRecording(node.mailbox, length))
        self.variables["voicemail.mailbox"] = node.mailbox
        self.variables["voicemail.length_ticks"] = str(length)
        if node.next:
            self._goto(node.next, actions)
        else:
            self._finish(Hangup("voicemail left"), actions)

    # -- lookup ------------------------------------------------------------------------------

    def _lookup_result(self, actions, record):
        self._goto(self._apply_lookup(record), actions)

    def _lookup_timeout(self, actions, _):
        if self._deadline_passed():
            self.variables["customer.lookup"] = "timeout"
            self._goto(self._apply_lookup(None), actions)

    # -- the caller left -----------------------------------------------------------------------

    def _caller_hung_up(self, actions, _):
        if self.state in (State.PLAYING, State.BEEPING):
            self._stop_playback(actions)
        elif self.state is State.RECORDING:
            node = self._node
            length = min(self.now - self._visit.record_start, node.max_length_ticks)
            actions.append(StopRecording(node.mailbox, length))
            self.variables["voicemail.mailbox"] = node.mailbox
            self.variables["voicemail.length_ticks"] = str(length)
        self.state = State.DONE
        self.deadline = None
        self.ended_by = "caller"
        self._type_ahead.clear()

"""The switchboard: call control for the whole box, sans-I/O.

Fed the board events (`appliance.drivers.board` events) with the engine's tick, timer ticks
and the end of playouts, it keeps every line, station and call, and returns the commands
(`commands.py`) that carry its decisions out. It never waits and never reads a clock, so
every hang-up kind, transfer and race is a unit test (tests/engine/test_switchboard.py).

Inbound on an analog line: ring -> caller ID (before or between rings) -> answer on the
caller ID or the second ring -> the trunk's IVR flow -> queue (the ACD, `appliance.acd`,
picks the agent; their station rings) or transfer -> the station answers -> the board's
switch connects them -> a hang-up ends the call:
- the line: loop-current drop, polarity reversal, a busy (or congestion) tone heard on it,
  or, as the last resort, nothing but silence from it for `SILENCE_CLEAR_S` while talking;
- the station: on-hook; the other party then hears busy tone until it hangs up too.
A station's hook flash puts its caller on hold (music) and gives it dial tone: it dials an
extension to consult (flash again returns to the caller), hangs up while the extension rings
(blind transfer) or after it answered (attended transfer); a flash while the consultation
talks makes a three-way call, mixed on the host, as is a supervisor who listens, whispers to
the agent or barges in (`supervise`). A line that goes on ringing after
the answer is released and left alone for `FAULTY_LINE_S`; a line rung while we take it to
dial out (glare) takes the inbound call, and the outbound dial goes to another line.
"""

import heapq
import itertools

from appliance.acd import Acd, specs_from_config
from appliance.drivers.board import events as ev
from appliance.dsp.toneplan import Tone
from appliance.ivr import IvrSession, session as ivr

from . import commands as cmd
from .call import Call, CallState
from .clock import TICK_MS, ticks
from .endpoints import Line, LineState, Station, StationState
from .queueing import Queueing
from .requests import OutsideRequests

ANSWER_ON_RING = 2            # answer at the start of this ring when no caller ID came first
STUCK_RING_S = 8.0            # a ring burst longer than this: answer anyway (ring trip)
RING_GONE_S = 6.0             # no new burst for this long after one: the caller gave up
FAULTY_LINE_S = 60.0          # a line that rang on after the answer is left alone this long
GLARE_GUARD_S = 6.0           # never dial out on a line that rang this recently
TRANSFER_RING_S = 30.0        # a transfer's station rings this long before the call ends
SILENCE_CLEAR_S = 60.0        # a connected line silent this long is taken as cleared
SILENCE_CHECK_S = 5.0
DIAL_TONE_WAIT_S = 2.0        # dialling out: dial at the dial tone, or after this
INTERDIGIT_S = 4.0            # a station's number is complete after this pause
FIRST_DIGIT_S = 15.0          # dial tone without a digit: busy tone
MAX_CALL_S = 4 * 3600.0       # the last resort against a call nobody can end
CLEAR_TONES = (Tone.BUSY, Tone.CONGESTION)
# the timers armed for every call, in ticks once (TICKS_PER_SECOND is fixed)
_STUCK_RING = ticks(STUCK_RING_S)
_MAX_CALL = ticks(MAX_CALL_S)
_SILENCE_CLEAR = ticks(SILENCE_CLEAR_S)
_SILENCE_CHECK = ticks(SILENCE_CHECK_S)



class Switchboard(Queueing, OutsideRequests):
    """Lines, stations and calls of the box. `config`: an `appliance.config.Config`;
    `ports`: {board name: [appliance.config.PortKind per port]} of the boards present;
    `schedules`: {name: object with state_at(tick)}; `ms(tick)`: epoch ms of a tick (for
    call ids); `last_voice(port key) -> tick`: when the port last carried voice (the
    engine's per-tick level check) for the silence clear."""

    def __init__(self, config, *, schedules, ms=lambda tick: tick * 20,
                 last_voice=lambda key: None):
        self.ms = ms
        self.last_voice = last_voice
        self.lines = {}
        self.stations = {}
        for trunk in config.trunks.values():
            for port in trunk.ports:
                key = (trunk.board, port)
                self.lines[key] = Line(key, trunk)
        for station in config.stations.values():
            key = (station.board, station.port)
            self.stations[key] = Station(key, station)
        self.calls = {}
        self._timers = []         # heap of (tick, seq, call or endpoint)
        self._seq = itertools.count()
        self.now = 0
        self.acd = Acd(*specs_from_config(config))
        self._acd_timer = _Timer()
        self._callbacks = {}      # the ACD's call id -> the callback Call dialling it back
        self._waiting_rings = {}  # station name -> the ACD's Offer / Callback held until the
                                  # station, off-hook with no call, hangs up
        self.apply(config, schedules)

    def start(self, now, agents=None):
        """The box starts. `agents`: {agent id: the data of their last `agent_state` row in
        the event log (status, reason, station)}: each agent of the config found there is
        logged in again where they were, ready or not ready with their reason (one who was
        on a call or in wrap-up when the box stopped comes back in the status they had set),
        or stays logged out; agents the log does not know yet, with a usual station, are
        logged in there, ready (they log out, pause or move with their phone's codes or the
        CLI). Returns commands."""
        self.now = now
        agents = agents or {}
        # before the agents log in: the KPIs end every agent state left open by a stop
        out = [cmd.LogEvent(now, "box_started", data={"site": self.config.site})]
        restored = [a for a in self.config.agents.values() if a.id in agents]
        fresh = [a for a in self.config.agents.values() if a.id not in agents]
        for agent in restored + fresh:
            last = agents.get(agent.id)
            status = last.get("status") if last is not None else "ready"
            station = last.get("station") if last is not None else None
            if station not in self.by_name:
                station = agent.station
            if status not in ("ready", "not_ready") or station not in self.by_name \
                    or self.acd.agent_at(station) is not None:
                continue
            self._acd(self.acd.login(agent.id, station, self._ms()), out)
            if status == "not_ready":
                reason = last.get("reason") or "break"
                self._acd(self.acd.set_not_ready(agent.id, reason, self._ms()), out)
        return out

    # ---- configuration -------------------------------------------------------------------
    def apply(self, config, schedules):
        """Use `config` for new calls (a reload): flows, queues, agents, schedules,
        recording and dial policy. Live calls keep the flows and queue they have. Returns
        commands (the ACD may offer waiting calls under the new queues)."""
        first = not hasattr(self, "config")
        self.config = config
        self.schedules = schedules
        self.by_extension = {s.config.extension: s for s in self.stations.values()}
        self.by_name = {s.name: s for s in self.stations.values()}
        self.trunks = {}
        for line in self.lines.values():
            line.trunk = config.trunks.get(line.trunk.name, line.trunk)
            self.trunks.setdefault(line.trunk.name, []).append(line)
        self._overflow_flows = {}
        out = []
        if not first:
            self._acd(self.acd.apply(*specs_from_config(config), now=self._ms()), out)
        return out

    # ---- the way in ----------------------------------------------------------------------
    def handle(self, event, now):
        """One board event at engine tick `now`; returns commands."""
        self.now = now
        out = []
        key = (event.board, getattr(event, "port", None))
        line = self.lines.get(key)
        if line is not None:
            handler = _LINE_EVENTS.get(type(event))
            if handler:
                getattr(self, handler)(line, event, out)
            return out
        station = self.stations.get(key)
        if station is not None:
            handler = _STATION_EVENTS.get(type(event))
            if handler:
                getattr(self, handler)(station, event, out)
        return out

    def tick(self, now):
        """Fire the timers due by `now`; returns commands."""
        self.now = now
        out = []
        while self._timers and self._timers[0][0] <= now:
            due, _, owner = heapq.heappop(self._timers)
            if owner.deadline == due:
                owner.deadline = None
                self._timer(owner, out)
        return out

    @property
    def deadline(self):
        """The earliest tick at which `tick` may have work (None: no timer armed). It may
        be early, never late: a simulation jumps its clock here. Timers disarmed or moved
        since they were set are dropped first (`tick` would skip them), and the ACD's when
        the ACD's own next deadline is later (its timer is set again there), so that a jump
        does not land on a tick with nothing to do."""
        timers = self._timers
        acd_timer = self._acd_timer
        while timers:
            due, _, owner = timers[0]
            if owner.deadline != due:
                heapq.heappop(timers)
            elif owner is acd_timer:
                acd_due = self.acd.deadline
                acd_due = None if acd_due is None else -(-acd_due // TICK_MS)
                if acd_due == due:
                    break
                heapq.heappop(timers)
                acd_timer.deadline = None
                if acd_due is not None:  # later than `due`: the ACD never moves it earlier
                    acd_timer.deadline = acd_due
                    heapq.heappush(timers, (acd_due, next(self._seq), acd_timer))
            else:
                break
        return timers[0][0] if timers else None

    def playout_finished(self, key, tag, now):
        """A Play with `tag` ended by itself on port `key`."""
        self.now = now
        out = []
        if tag is None:
            return out
        kind, call_id, extra = tag
        call = self.calls.get(call_id)
        if call is None or call.ended:
            return out
        if kind == "ivr" and call.ivr is not None:
            self._ivr(call, call.ivr.prompt_finished(now, extra), out)
        elif kind == "dial" and call.state is CallState.DIALING:
            self._dialled(call, out)
        elif kind == "announced" and call.state in (CallState.QUEUED, CallState.ALERTING):
            out.append(cmd.Play(call.a.key, ("music",), loop=True))
        elif kind == "end":
            self._end(call, "answered" if call.connected else "ivr", extra, out)
        return out

    def lookup_answered(self, call_id, record, request_id, now):
        """The customer store's answer to a LookUp (`record`: a dict, None when not found);
        a VIP customer ("vip": "1") waits in the queues with VIP_PRIORITY more."""
        self.now = now
        out = []
        call = self.calls.get(call_id)
        if call is not None and call.ivr is not None and not call.ended:
            if record and str(record.get("vip", "")) in ("1", "True", "true"):
                call.vip = True  # queued ahead of other callers (VIP_PRIORITY)
            self._ivr(call, call.ivr.lookup_result(record, now, request_id), out)
        return out

    def supervise(self, call_id, station_name, mode, now):
        """A supervisor at `station_name` (off-hook with dial tone, or already on the call)
        listens to, whispers to the agent of, or barges into (mode "listen", "whisper",
        "talk") a connected call. Returns commands; ValueError says why it cannot."""
        self.now = now
        out = []
        call = self.calls.get(call_id)
        station = self.by_name.get(station_name)
        if call is None or call.state is not CallState.CONNECTED or call.b is None:
            raise ValueError(f"call {call_id!r} is not a connected call")
        if station is None:
            raise ValueError(f"{station_name!r} is not a station")
        if mode not in ("listen", "whisper", "talk"):
            raise ValueError(f"mode must be listen, whisper or talk, not {mode!r}")
        joined = call.conference is not None and station in call.conference
        if not joined and not (station.state is StationState.DIALING and not station.digits
                               and station.call is None):
            raise ValueError(f"station {station_name!r} must be off-hook with dial tone")
        self._mix(call, out)
        if not joined:
            out.append(cmd.StopPlay(station.key))
            self._disarm(station)
            station.state, station.call = StationState.TALKING, call
        call.conference[station] = mode
        out += [cmd.JoinConference(call.id, station.key, mode,
                                   call.b.key if mode == "whisper" else None),
                cmd.LogEvent(now, "supervise", call.id, agent=call.agent,
                             data={"station": station.name, "mode": mode})]
        return out

    def record(self, call_id, now):
        """Start recording a live call on demand (recording mode on_demand, or any)."""
        self.now = now
        out = []
        call = self.calls.get(call_id)
        if call is None or call.answer is None:
            raise ValueError(f"call {call_id!r} is not an answered call")
        if call.recording is None:
            call.recording = call.id
            out.append(cmd.StartRecording(call.id, call.id, call.a.key))
        return out

    def board_lost(self, board, now):
        """Every call on `board` ends (the driver sends CallEnded per port, too)."""
        self.now = now
        out = []
        for call in list(self.calls.values()):
            ends = [e for e in (call.a, call.b) if e is not None]
            if any(e.key[0] == board for e in ends):
                self._end(call, "interrupted", "board lost", out, hardware=False)
        return out

    # ---- timers --------------------------------------------------------------------------
    def _arm(self, owner, delay_ticks, what=""):
        owner.deadline = self.now + max(1, delay_ticks)
        if hasattr(owner, "timer"):
            owner.timer = what
        heapq.heappush(self._timers, (owner.deadline, next(self._seq), owner))

    def _disarm(self, owner):
        owner.deadline = None

    def _timer(self, owner, out):
        if owner is self._acd_timer:
            self._acd(self.acd.tick(self._ms()), out)
        elif isinstance(owner, Line):
            self._line_timer(owner, out)
        elif isinstance(owner, Station):
            self._station_timer(owner, out)
        elif not owner.ended:
            self._call_timer(owner, out)

    # ---- analog lines --------------------------------------------------------------------
    def _ring_started(self, line, event, out):
        line.last_ring = self.now
        if line.state is LineState.FAULTY:
            return
        if line.state is LineState.IN_CALL:
            call = line.call
            if call is not None and call.direction == "outbound" and call.connected is None:
                self._glare(line, out)
            elif call is not None:
                self._line_fault(line, out)  # off-hook, yet it rings: the answer did not hold
            return
        if line.trunk.direction._value_ == "outbound":  # (.value without the property)
            return  # an outbound-only group never answers
        if line.state is LineState.IDLE:
            call = self._new_call(line, "inbound", out)
            line.state, line.call, line.rings = LineState.RINGING, call, 0
            if line.caller_id is not None and self.now - line.caller_id.tick < ticks(10.0):
                self._take_caller_id(call, line.caller_id)
            line.caller_id = None
        line.rings += 1
        line.ring_on, line.ring_off = self.now, None
        if line.rings >= ANSWER_ON_RING:
            self._answer(line, out)
        else:
            self._arm(line, _STUCK_RING)

    def _ring_stopped(self, line, event, out):
        if line.state is LineState.RINGING:
            line.ring_on, line.ring_off = None, self.now
            if line.call.caller:  # caller ID came during the burst
                self._answer(line, out)
            else:
                self._arm(line, ticks(RING_GONE_S))

    def _caller_id(self, line, event, out):
        if line.state is LineState.IDLE:
            line.caller_id = event  # sent before the first ring (ETSI)
        elif line.state is LineState.RINGING:
            self._take_caller_id(line.call, event)
            if line.ring_on is None:
                self._answer(line, out)

    def _take_caller_id(self, call, event):
        call.caller = event.number or ""
        call.caller_name = event.name or ""
        details = getattr(event, "details", None)
        absent = getattr(details, "absence", None) or getattr(details, "reason", None)
        if not call.caller and absent:
            call.caller_name = str(absent)

    def _line_timer(self, line, out):
        if line.state is LineState.RINGING:
            if line.ring_on is not None:  # a burst that never ends
                self._answer(line, out)
            else:  # the caller gave up before the answer
                call = line.call
                line.state, line.call = LineState.IDLE, None
                self._close(call, "abandoned", "caller hung up while ringing", out)
        elif line.state is LineState.FAULTY:
            line.state = LineState.IDLE

    def _answer(self, line, out):
        call = line.call
        self._disarm(line)
        line.state, line.ring_on = LineState.IN_CALL, None
        call.answer = self.now
        out += [cmd.Seize(line.key), cmd.DetectTones(line.key, True),
                cmd.CdrUpdate(call.id, {"answer_tick": self.now, "caller_number": call.caller,
                                        "caller_name": call.caller_name}),
                cmd.LogEvent(self.now, "call_answered", call.id, data={"trunk": line.trunk.name})]
        self._arm(call, _MAX_CALL, "max")
        self._record_if(call, None, out)
        trunk = line.trunk
        if trunk.flow:
            self._start_ivr(call, self.config.ivr, trunk.flow, out)
        elif trunk.station:
            self._transfer_to_station(call, self.by_name.get(trunk.station), out)
        else:
            self._end(call, "ivr", "no flow or station for the trunk", out)

    def _line_fault(self, line, out):
        call = line.call
        self._end(call, "failed", "line rang on after the answer", out)
        line.state = LineState.FAULTY
        self._arm(line, ticks(FAULTY_LINE_S))
        out.append(cmd.LogEvent(self.now, "line_fault", call.id, data={"port": line.name}))

    def _glare(self, line, out):
        """We took the line to dial out as the exchange rang it: our off-hook answered the
        inbound call. It becomes an inbound call; the outbound dial tries another line."""
        outbound = line.call
        origin = outbound.a
        line.call = None
        line.state = LineState.IDLE
        out.append(cmd.StopPlay(line.key))
        call = self._new_call(line, "inbound", out)
        line.state, line.call = LineState.IN_CALL, call
        call.answer = self.now
        out += [cmd.CdrUpdate(call.id, {"answer_tick": self.now}),
                cmd.LogEvent(self.now, "glare", call.id, data={"port": line.name})]
        self._arm(call, _MAX_CALL, "max")
        if line.trunk.flow:
            self._start_ivr(call, self.config.ivr, line.trunk.flow, out)
        outbound.b = None
        self._dial_out(outbound, origin, outbound.outside, out)

    def _far_end_cleared(self, line, cause, out):
        call = line.call
        if line.state is not LineState.IN_CALL or call is None or call.ended:
            return
        self._end(call, "answered" if call.connected else
                  ("abandoned" if call.queue is not None else "ivr"),
                  f"far end: {cause}", out)

    def _polarity(self, line, event, out):
        call = line.call
        if call is not None and line is call.b and call.callback_of is not None \
                and call.answer is None:
            self._callback_far_answered(call, out)  # answer supervision
            return
        if call is not None and call.direction == "outbound" and line is call.b \
                and call.connected is None:
            self._outside_answered(call, out)  # answer supervision
            return
        self._far_end_cleared(line, "polarity reversal", out)

    def _loop_dropped(self, line, event, out):
        self._far_end_cleared(line, "loop current drop", out)

    def _tone(self, line, event, out):
        call = line.call
        if event.tone is Tone.RINGBACK and call is not None:
            call.ringback = True
        if event.tone is Tone.SIT and call is not None and call.callback_of is not None \
                and call.answer is None:  # an announcement ("not in service"), no person
            self._far_end_cleared(line, "sit tone", out)
        elif event.tone in CLEAR_TONES:
            self._far_end_cleared(line, f"{event.tone.value} tone", out)
        elif event.tone is Tone.DIAL and line.call is not None \
                and line.call.state is CallState.DIALING and line.call.timer == "dial tone":
            self._send_digits(line.call, out)

    def _tone_ended(self, line, event, out):
        call = line.call
        if event.tone is Tone.RINGBACK and call is not None and line is call.b \
                and call.callback_of is not None and call.answer is None \
                and call.state is CallState.CONNECTED:
            self._callback_far_answered(call, out)  # the ringback stopped: answered

    def _line_digit(self, line, event, out):
        call = line.call
        if call is None or call.a is not line:
            return
        if call.ivr is not None:
            self._ivr(call, call.ivr.digit(event.digit, self.now), out)
        elif call.state in (CallState.QUEUED, CallState.ALERTING):  # e.g. the exit digit
            self._queue_digit(call, event.digit, out)

    def _call_ended_by_board(self, endpoint, event, out):
        call = endpoint.call
        if call is not None and not call.ended:
            self._end(call, "interrupted", event.reason, out, hardware=False)

    # ---- stations ------------------------------------------------------------------------
    def _hook(self, station, event, out):
        if event.off_hook:
            self._off_hook(station, out)
        else:
            self._on_hook(station, out)

    def _off_hook(self, station, out):
        call = station.call
        if station.state is StationState.RINGING and call is not None \
                and call.callback_of is not None:
            self._callback_answered(station, call, out)
        elif station.state is StationState.RINGING and call is not None:
            self._station_answered(station, call, out)
        elif station.state is StationState.IDLE:
            station.state, station.digits = StationState.DIALING, ""
            out.append(cmd.Play(station.key, ("tone:dial",), loop=True))
            self._arm(station, ticks(FIRST_DIGIT_S))

    def _on_hook(self, station, out):
        state, call = station.state, station.call
        if state is StationState.RINGING:
            return  # it was on-hook already
        self._disarm(station)
        if state is StationState.TALKING and call is not None and call.conference \
                and station in call.conference and self._leave_mix(call, station, out):
            self._idle(station, out)  # the call goes on without it
        elif state is StationState.TALKING and call is not None:
            self._idle(station, out)  # free before the ACD hears of the end: the next
            self._end(call, "answered", "agent hung up" if call.a is not station  # offer
                      else "caller hung up", out, by_station=station)  # may ring it now
        elif state is StationState.HOLDING and call is not None:
            self._complete_transfer(station, call, out)
        elif state is StationState.DIALING and call is not None:  # an internal call it made
            self._idle(station, out)
            self._end(call, "abandoned", "caller hung up", out, by_station=station)
        else:
            self._idle(station, out)
        self._ring_waiting(station, out)  # an offer held while it was off-hook

    def _idle(self, station, out):
        if station.state is not StationState.IDLE:
            out.append(cmd.StopPlay(station.key))
        station.state, station.call, station.consult, station.digits = \
            StationState.IDLE, None, None, ""
        self._disarm(station)

    def _flash(self, station, event, out):
        call = station.call
        if station.state is StationState.TALKING and call is not None and call.a is not station \
                and call.conference is None:
            # hold: the caller hears music, the station dial tone to consult
            other = call.a
            out += [cmd.Disconnect(other.key), cmd.Play(other.key, ("music",), loop=True),
                    cmd.Play(station.key, ("tone:dial",), loop=True),
                    cmd.LogEvent(self.now, "hold", call.id, agent=call.agent)]
            call.state = CallState.HELD
            station.state, station.digits = StationState.HOLDING, ""
        elif station.state is StationState.HOLDING and call is not None:
            consult = station.consult
            if consult is not None and consult.connected is not None:
                self._three_way(station, call, consult, out)
                return
            self._drop_consult(station, out)
            self._reconnect(station, call, out)

    def _digit(self, station, event, out):
        if station.state not in (StationState.DIALING, StationState.HOLDING) \
                or station.consult is not None:
            return
        if not station.digits:
            out.append(cmd.StopPlay(station.key))
        station.digits += event.digit
        target = self.by_extension.get(station.digits)
        if station.digits.startswith("*") and station.state is StationState.DIALING:
            if event.digit == "#":
                self._feature_code(station, station.digits[1:-1], out)
            else:
                self._arm(station, ticks(INTERDIGIT_S))
        elif target is not None:
            self._dial_station(station, target, out)
        elif event.digit == "#" and len(station.digits) > 1:
            station.digits = station.digits[:-1]
            self._dial_outside(station, out)
        else:
            self._arm(station, ticks(INTERDIGIT_S))

    def _station_timer(self, station, out):
        if station.state in (StationState.DIALING, StationState.HOLDING) \
                and station.consult is None:
            if station.digits:
                self._dial_outside(station, out)
            else:
                self._busy(station, out)

    def _busy(self, station, out):
        station.state = StationState.CLEARED
        out.append(cmd.Play(station.key, ("tone:busy",), loop=True))

    # ---- station dialling ----------------------------------------------------------------
    def _dial_station(self, station, target, out):
        if station.state is StationState.HOLDING:
            consult = self._new_internal(station, target.config.extension, out)
            station.consult = consult
            if target.free and target is not station:
                self._offer(consult, target, out, ring_s=TRANSFER_RING_S)
                out.append(cmd.Play(station.key, ("tone:ringback",), loop=True))
            else:
                station.consult = None
                self._close(consult, "busy", "extension busy", out)
                out.append(cmd.Play(station.key, ("tone:busy",), loop=True))
            return
        call = self._new_internal(station, target.config.extension, out)
        station.call = call
        if target.free:
            self._offer(call, target, out, ring_s=TRANSFER_RING_S)
            out.append(cmd.Play(station.key, ("tone:ringback",), loop=True))
        else:
            self._close(call, "busy", "extension busy", out)
            station.call = None
            self._busy(station, out)

    def _dial_outside(self, station, out):
        number = station.digits
        refusal = self.config.dial.refusal(number)
        if refusal or station.state is StationState.HOLDING:
            # consultations go to extensions only; an outside number must pass the policy
            self._busy(station, out)
            return
        call = self._new_internal(station, number, out, direction="outbound")
        station.call = call
        self._dial_out(call, station, number, out)

    # ---- IVR -----------------------------------------------------------------------------
    def _start_ivr(self, call, flows, entry, out):
        info = {"caller": call.caller, "caller_name": call.caller_name, "called": call.called,
                "trunk": call.a.trunk.name if isinstance(call.a, Line) else "",
                "call_id": call.id}
        call.ivr = IvrSession(flows, entry, info, schedules=self.schedules)
        call.state = CallState.IVR
        self._ivr(call, call.ivr.start(self.now), out)

    def _ivr(self, call, actions, out):
        session = call.ivr
        for action in actions:
            kind = type(action)
            if kind is ivr.Play:
                out.append(cmd.Play(call.a.key, tuple(action.prompts),
                                    tag=("ivr", call.id, action.play_id)))
            elif kind is ivr.Beep:
                out.append(cmd.Play(call.a.key, ("builtin:beep",),
                                    tag=("ivr", call.id, action.play_id)))
            elif kind is ivr.StopPlayback:
                out.append(cmd.StopPlay(call.a.key))
            elif kind is ivr.StartRecording:
                call.voicemail = (action.mailbox, self.now)
                out.append(cmd.StartRecording(f"{call.id}.vm", f"{call.id}", call.a.key,
                                              mailbox=action.mailbox))
            elif kind is ivr.StopRecording:
                self._stop_voicemail(call, action.length_ticks, out)
            elif kind is ivr.LookUpCustomer:
                out.append(cmd.LookUp(call.id, action.value, action.request_id))
        call.ivr_path = list(session.path)
        if session.done:
            call.ivr = None
            out.append(cmd.CdrUpdate(call.id, {"ivr_path": call.ivr_path}))
            result = session.result
            if isinstance(result, ivr.Queue):
                call.variables = dict(result.variables)
                self._enqueue(call, result.name, result.priority, out)
            elif isinstance(result, ivr.Transfer):
                if result.station:
                    self._transfer_to_station(call, self.by_name.get(result.station), out)
                else:
                    self._dial_out(call, call.a, result.number, out)
            elif isinstance(result, ivr.Hangup):
                self._end(call, "voicemail" if "voicemail.mailbox" in session.variables
                          else "ivr", result.reason, out)
        elif session.deadline is not None:
            self._arm(call, session.deadline - self.now, "ivr")

    def _stop_voicemail(self, call, length_ticks, out):
        if call.voicemail is None:
            return
        mailbox, start = call.voicemail
        call.voicemail = None
        out.append(cmd.StopRecording(f"{call.id}.vm", mailbox=mailbox, caller=call.caller,
                                     start_tick=start, length_ticks=length_ticks))
        out.append(cmd.LogEvent(self.now, "voicemail", call.id,
                                data={"mailbox": mailbox, "ticks": length_ticks}))

    # ---- reaching a station --------------------------------------------------------------
    def _transfer_to_station(self, call, station, out):
        if station is None or not station.free:
            out.append(cmd.Play(call.a.key, ("tone:busy",), tag=("end", call.id, "station busy")))
            call.state = CallState.ALERTING
            return
        out.append(cmd.Play(call.a.key, ("tone:ringback",), loop=True))
        self._offer(call, station, out, ring_s=TRANSFER_RING_S)

    def _station_answered(self, station, call, out):
        self._disarm(call)
        station.state = StationState.TALKING
        if call.direction == "internal" and call.a.consult is call:
            # a consultation answered: the holding station talks to it
            origin = call.a
            call.state, call.connected = CallState.CONNECTED, self.now
            out += [cmd.StopPlay(origin.key), cmd.Connect(origin.key, station.key),
                    cmd.CdrUpdate(call.id, {"answer_tick": self.now, "station": station.name})]
            return
        held = call.transferred_from
        call.state, call.b = CallState.CONNECTED, station
        first = call.connected is None
        call.connected = call.connected or self.now
        offered = None
        for agent, ringing in call.offers.items():
            if ringing is station:
                offered = agent
                break
        if offered is not None:
            del call.offers[offered]
            call.agent = offered
        else:
            call.agent = self.acd.agent_at(station.name) or call.agent
        out += [cmd.StopPlay(call.a.key), cmd.Connect(call.a.key, station.key),
                cmd.CdrUpdate(call.id, {"station": station.name, "agent": call.agent,
                                        **({"answer_tick": self.now}
                                           if call.direction == "internal" else {})}),
                cmd.LogEvent(self.now, "connected", call.id,
                             queue=call.queue.name if call.queue else None, agent=call.agent,
                             data={"station": station.name, "first": first,
                                   "waited_ticks": self.now - (call.queued_at or call.start),
                                   "transfer": held is not None})]
        if isinstance(call.a, Station):
            call.a.state = StationState.TALKING
        self._arm(call, _SILENCE_CHECK, "silence")
        if offered is not None:
            self._acd(self.acd.offer_answered(call.id, offered, self._ms()), out)

    def _mix(self, call, out):
        """Move a two-party call off the board's switch into a host-mixed conference."""
        if call.conference is not None:
            return
        call.conference = {call.a: "talk", call.b: "talk"}
        out += [cmd.Disconnect(call.a.key), cmd.StopPlay(call.a.key),
                cmd.JoinConference(call.id, call.a.key), cmd.JoinConference(call.id, call.b.key)]

    def _three_way(self, station, call, consult, out):
        """Flash while the consultation talks: the caller, the agent and the consulted
        extension all hear each other."""
        target = consult.b
        station.consult = None
        self._close(consult, "answered", "joined a three-way call", out)
        out.append(cmd.Disconnect(station.key))  # its consultation link
        call.state = CallState.CONNECTED
        station.state, station.digits = StationState.TALKING, ""
        self._mix(call, out)
        call.conference[target] = "talk"
        target.call = call
        out += [cmd.JoinConference(call.id, target.key),
                cmd.LogEvent(self.now, "three_way", call.id, agent=call.agent,
                             data={"station": station.name, "with": target.name})]

    def _leave_mix(self, call, station, out):
        """A station hangs up out of a mixed call: the call goes on with the others; back
        on the board's switch when two talkers are left."""
        del call.conference[station]
        out.append(cmd.LeaveConference(station.key))
        if station is call.b:  # the agent left: a talking member takes the call over
            call.b = next((m for m, mode in call.conference.items()
                           if mode == "talk" and m is not call.a), None)
            if call.b is None:
                return False
            call.agent = self.acd.agent_at(call.b.name) or call.agent
            out.append(cmd.CdrUpdate(call.id, {"station": call.b.name, "agent": call.agent}))
        talkers = [m for m, mode in call.conference.items() if mode == "talk"]
        if len(call.conference) == 2 and len(talkers) == 2:
            for member in talkers:
                out.append(cmd.LeaveConference(member.key))
            out.append(cmd.Connect(call.a.key, call.b.key))
            call.conference = None
        return True

    def _reconnect(self, station, call, out):
        other = call.a
        out += [cmd.StopPlay(other.key), cmd.StopPlay(station.key),
                cmd.Connect(other.key, station.key),
                cmd.LogEvent(self.now, "unhold", call.id, agent=call.agent)]
        call.state = CallState.CONNECTED
        station.state, station.digits = StationState.TALKING, ""

    def _drop_consult(self, station, out):
        consult = station.consult
        station.consult = None
        if consult is None or consult.ended:
            return
        target = consult.b
        self._close(consult, "answered" if consult.connected else "abandoned",
                    "consultation ended", out)
        if target is not None and target.call is consult:
            if target.state is StationState.RINGING:
                out.append(cmd.StopRing(target.key))
                self._idle(target, out)
            else:
                out.append(cmd.Disconnect(target.key))
                target.call = None
                self._busy(target, out)

    def _complete_transfer(self, station, call, out):
        """The holding station hung up: its caller goes to the consulted extension (blind
        while it rings, attended once it answered); with no consultation, the caller is
        left on hold with nobody: the call ends."""
        consult = station.consult
        self._idle(station, out)  # free before the ACD hears its part ended
        target = consult.b if consult is not None else None
        if consult is None or target is None or target.call is not consult:
            self._end(call, "answered", "agent hung up while holding", out,
                      by_station=station)
            return
        self._close(consult, "transferred", "transfer completed", out)
        if call.agent is not None:  # the transferring agent's part is over: wrap-up
            self._acd(self.acd.call_ended(call.id, call.agent, self._ms()), out)
        call.transferred_from = station.name
        out.append(cmd.LogEvent(self.now, "transferred", call.id, agent=call.agent,
                                data={"from": station.name, "to": target.name,
                                      "attended": target.state is StationState.TALKING}))
        target.call = call
        if target.state is StationState.TALKING:
            self._station_answered(target, call, out)
        else:  # blind: it still rings; the caller hears music until it answers
            call.state, call.b = CallState.ALERTING, target
            self._arm(call, ticks(TRANSFER_RING_S), "offer")

    # ---- dialling out --------------------------------------------------------------------
    def _free_line(self):
        """An idle line of the dial trunk that has not rung lately, or None."""
        for candidate in self.trunks.get(self.config.dial.trunk, ()):
            if candidate.state is LineState.IDLE and \
                    self.now - candidate.last_ring >= ticks(GLARE_GUARD_S):
                return candidate
        return None

    def _dial_out(self, call, origin, number, out):
        call.outside = number
        line = self._free_line()
        if line is None:
            out.append(cmd.Play(origin.key, ("tone:congestion",),
                                tag=("end", call.id, "no free line to dial out")))
            return
        line.state, line.call = LineState.IN_CALL, call
        call.b, call.state = line, CallState.DIALING
        out += [cmd.Seize(line.key), cmd.DetectTones(line.key, True),
                cmd.CdrUpdate(call.id, {"called": number, "trunk": line.trunk.name,
                                        "port": line.name}),
                cmd.LogEvent(self.now, "dial_out", call.id, data={"port": line.name})]
        self._arm(call, ticks(DIAL_TONE_WAIT_S), "dial tone")

    def _send_digits(self, call, out):
        self._disarm(call)
        call.timer = "dialling"
        out.append(cmd.Play(call.b.key, (f"dtmf:{call.outside}",),
                            tag=("dial", call.id, None)))

    def _dialled(self, call, out):
        """The number is out: the caller hears the far end (ringback, the answer) through
        the switch from now on."""
        origin = call.a
        call.state = CallState.CONNECTED
        call.connected = self.now
        if isinstance(origin, Station):
            origin.state = StationState.TALKING
        out += [cmd.StopPlay(origin.key), cmd.Connect(origin.key, call.b.key)]
        self._arm(call, _SILENCE_CHECK, "silence")

    def _outside_answered(self, call, out):
        out.append(cmd.CdrUpdate(call.id, {"answer_tick": self.now}))

    # ---- call timers ---------------------------------------------------------------------
    def _call_timer(self, call, out):
        what = call.timer
        if what == "ivr" and call.ivr is not None:
            self._ivr(call, call.ivr.tick(self.now), out)
        elif what == "offer" and call.state is CallState.ALERTING:
            self._offer_timed_out(call, out)
        elif what == "dial tone" and call.state is CallState.DIALING:
            self._send_digits(call, out)
        elif what == "callback ring" and call.state is CallState.ALERTING:
            self._end(call, "no answer", "agent did not answer", out)
        elif what == "silence" and call.callback_of is not None and call.answer is None:
            self._callback_progress(call, out)
        elif what == "silence" and call.state in (CallState.CONNECTED, CallState.HELD):
            line = call.a if isinstance(call.a, Line) else call.b
            if isinstance(line, Line):
                heard = self.last_voice(line.key)
                since = max(heard if heard is not None else call.connected, call.connected)
                if self.now - since >= _SILENCE_CLEAR:
                    self._far_end_cleared(line, "silence", out)
                    return
                # `since` only grows, so no check before since + SILENCE_CLEAR_S can clear:
                # skip to the first one at or after it (same outcome, far fewer timers)
                period = _SILENCE_CHECK
                skip = since + _SILENCE_CLEAR - self.now
                self._arm(call, -(-skip // period) * period, "silence")
                return
            self._arm(call, _SILENCE_CHECK, "silence")
        elif what == "max":
            self._end(call, "answered" if call.connected else "ivr", "call too long", out)

    # ---- ending --------------------------------------------------------------------------
    def _new_call(self, line, direction, out):
        call = Call(f"{self.ms(self.now)}-{line.key[0]}-{line.key[1]}", direction, self.now,
                    line, called=line.trunk.name)
        self.calls[call.id] = call
        out += [cmd.CdrOpen(call.id, direction, self.now,
                            {"called": call.called, "trunk": line.trunk.name, "port": line.name}),
                cmd.LogEvent(self.now, "call_arrived", call.id, data={"port": line.name})]
        return call

    def _new_internal(self, station, number, out, direction="internal"):
        call = Call(f"{self.ms(self.now)}-{station.key[0]}-{station.key[1]}-{next(self._seq)}",
                    direction, self.now, station, caller=station.config.extension,
                    called=number)
        call.answer = self.now
        self.calls[call.id] = call
        out += [cmd.CdrOpen(call.id, direction, self.now,
                            {"caller_number": call.caller, "called": number,
                             "station": station.name}),
                cmd.CdrUpdate(call.id, {"answer_tick": self.now})]
        return call

    def _record_if(self, call, queue, out):
        if call.recording is not None:
            return
        policy = self.config.recording
        mode = policy.mode._value_  # (the member's value without the property: every call)
        if (mode == "all" and queue is None) or \
                (mode == "queues" and queue is not None and queue.name in policy.queues):
            call.recording = call.id
            out.append(cmd.StartRecording(call.id, call.id, call.a.key))

    def _end(self, call, disposition, cause, out, *, by_station=None, hardware=True):
        """End `call` everywhere: release the line, free or clear the stations, stop the
        playouts and recordings, close the CDR."""
        if call.ended:
            return
        # an agent's call is reported ended once their station is cleared below: with no
        # wrap-up the ACD may offer them the next caller at once, which must find the
        # station free or hearing busy tone (it rings when they hang up), not still on
        # this call (a failed offer, "station busy")
        agents_call = False
        if call.callback_of is not None:
            disposition, cause = self._callback_ended(call, disposition, cause, out)
        elif call.callback_booked:  # the ACD keeps the place: the live leg is over
            disposition = "callback"
        elif call.agent is not None and call.connected is not None:
            agents_call = True
        elif call.queue is not None:  # still waiting or ringing: its offers are cancelled
            self._acd(self.acd.leave(call.id, self._ms(), cause), out)
        if call.ivr is not None and not call.ivr.done:
            call.ivr_path = list(call.ivr.path)
            call.ivr.caller_hung_up(self.now)
        call.ivr = None
        if call.voicemail is not None:  # hung up while leaving a message: keep it
            self._stop_voicemail(call, self.now - call.voicemail[1], out)
            disposition = "voicemail"
        members = list(call.conference or ())
        if call.conference is not None and hardware:
            out += [cmd.LeaveConference(m.key) for m in members]
        call.conference = None
        for end in [call.a, call.b] + [m for m in members if m not in (call.a, call.b)]:
            if end is None:
                continue
            if isinstance(end, Line):
                if end.call is call:
                    if hardware:
                        out += [cmd.StopPlay(end.key), cmd.Disconnect(end.key),
                                cmd.DetectTones(end.key, False), cmd.Release(end.key)]
                    end.state, end.call = LineState.IDLE, None
            elif end.call is call:
                if end is by_station:
                    continue  # on-hook already; _on_hook idles it
                if end.state is StationState.RINGING:
                    if hardware:
                        out.append(cmd.StopRing(end.key))
                    self._idle(end, out)
                elif end.state in (StationState.TALKING, StationState.HOLDING,
                                   StationState.DIALING):
                    self._drop_consult(end, out)
                    end.call = None
                    if hardware:
                        out.append(cmd.Disconnect(end.key))
                        self._busy(end, out)
                    else:
                        end.state = StationState.CLEARED
        if agents_call:
            self._acd(self.acd.call_ended(call.id, call.agent, self._ms()), out)
        if call.recording is not None:
            out.append(cmd.StopRecording(call.recording))
        out.append(cmd.CdrUpdate(call.id, {"ivr_path": call.ivr_path}))
        self._close(call, disposition, cause, out)

    def _close(self, call, disposition, cause, out):
        call.state = CallState.ENDED
        self._disarm(call)
        self.calls.pop(call.id, None)
        out += [cmd.CdrClose(call.id, self.now, disposition, cause),
                cmd.LogEvent(self.now, "call_ended", call.id,
                             queue=call.queue.name if call.queue else None, agent=call.agent,
                             data={"disposition": disposition, "cause": cause})]


_LINE_EVENTS = {
    ev.RingStarted: "_ring_started",
    ev.RingStopped: "_ring_stopped",
    ev.CallerIdReceived: "_caller_id",
    ev.PolarityReversed: "_polarity",
    ev.LoopCurrentDropped: "_loop_dropped",
    ev.ToneDetected: "_tone",
    ev.ToneEnded: "_tone_ended",
    ev.DigitDetected: "_line_digit",
    ev.CallEnded: "_call_ended_by_board",
}
_STATION_EVENTS = {
    ev.HookChanged: "_hook",
    ev.FlashDetected: "_flash",
    ev.DigitDetected: "_digit",
    ev.CallEnded: "_call_ended_by_board",
}


class _Timer:
    """The ACD's next deadline in the switchboard's timer heap."""
    deadline = None

"""The switchboard's queues: calls handed to the ACD (`appliance.acd`) and its decisions
carried out, overflow targets, offers that ring a station, and the agents' codes from their
phones. A part of `Switchboard` (a mixin: it shares the switchboard's lines, stations, calls,
timers and `now`), kept apart so that call control and queueing read on their own.
"""

from appliance.acd import AcdError
from appliance.acd import actions as acd_act
from appliance.ivr.flows import Flows, HangupNode, VoicemailNode

from . import commands as cmd
from .call import Call, CallState
from .clock import TICK_MS, ticks
from .endpoints import StationState

# A VIP customer (the IVR's lookup found the caller's number with the vip flag) waits with
# this much more priority than the IVR's queue node gives (0-9): ahead of every other
# caller of the queue, and among VIPs in the order of the IVR's priority.
VIP_PRIORITY = 10
CALLBACK_ANSWER_S = 60.0  # a callback's far end that has not answered by then: no answer
# No ringback recognised this long after the dial (two cadences of the cn, us and etsi
# plans), yet sound from the line: someone answered at once and speaks.
CALLBACK_VOICE_S = 12.0
CALLBACK_CHECK_S = 1.0
CALLBACK_PROMPTS = ("callback-booked.wav", "callback-offer.wav", "invalid.wav")

_Log, _Offer = acd_act.Log, acd_act.Offer

# the ACD's log rows the engine writes (call-level rows it writes itself: EVENTS.md)
ACD_LOG_KINDS = frozenset({"agent_state", "wrapup_started", "wrapup_ended", "escalated",
                           "offer_failed", "callback_requested", "callback_refused",
                           "callback_failed"})


class Queueing:
    def _enqueue(self, call, name, priority, out):
        queue = self.config.queues.get(name)
        if queue is None:
            self._end(call, "failed", f"queue {name!r} is not configured any more", out)
            return
        if call.vip and priority < VIP_PRIORITY:  # (a call moved on keeps its raise)
            priority += VIP_PRIORITY
        call.queue, call.priority = queue, priority
        call.queued_at, call.state = self.now, CallState.QUEUED
        out += [cmd.CdrUpdate(call.id, {"queue": name}),
                cmd.LogEvent(self.now, "queued", call.id, queue=name,
                             data={"priority": priority, "caller": call.caller})]
        schedule = self.schedules.get(queue.schedule) if queue.schedule else None
        if schedule is not None and schedule.state_at(self.now) != "open":
            self._overflow(call, queue.overflow, "closed", out)
            return
        self._record_if(call, queue, out)
        out.append(cmd.Play(call.a.key, ("music",), loop=True))
        variables = {**call.variables, "caller": call.caller}
        self._acd(self.acd.enqueue(call.id, name, self._ms(), priority=priority,
                                   variables=variables), out)

    # ---- the ACD -------------------------------------------------------------------------
    def _ms(self):
        return self.now * TICK_MS  # the ACD's clock: engine ticks in ms

    def _acd(self, actions, out):
        """Carry out the ACD's actions (appliance.acd.actions)."""
        calls = self.calls
        for action in actions:
            kind = type(action)
            if kind is _Log:  # the most frequent: no call to look up
                log_kind = action.kind
                if log_kind in ACD_LOG_KINDS:
                    data = action.data
                    if log_kind == "agent_state" and data.get("status") != "logged_out":
                        # where the agent is logged in: a restart logs them in there again
                        # (a copy with the station added: one dict, not a copy then a set)
                        data = {**data, "station": self.acd.station_of(action.agent)}
                    else:
                        data = dict(data)
                    out.append(cmd.LogEvent(self.now, log_kind, action.call_id,
                                            action.queue, action.agent, data))
                continue
            call = calls.get(action.call_id) if hasattr(action, "call_id") else None
            if kind is _Offer:
                self._acd_offer(call, action, out)
            elif kind is acd_act.CancelOffer:
                self._unwait(action)
                if action.call_id in self._callbacks:
                    self._callback_cancelled(self._callbacks[action.call_id], out)
                else:
                    self._acd_cancel(call, action.agent_id, out)
            elif kind is acd_act.CallbackBooked and call is not None:
                self._callback_booked(call, out)
            elif kind is acd_act.Callback:
                self._callback(action, out)
            elif kind is acd_act.Overflow and call is not None:
                self._overflow(call, action.target, action.why, out, requeued=True)
            elif kind is acd_act.Announce and call is not None:
                self._announce(call, action, out)
        deadline = self.acd.deadline
        if deadline is not None:
            due = -(-deadline // TICK_MS)
            if self._acd_timer.deadline is None or due < self._acd_timer.deadline:
                self._arm(self._acd_timer, due - self.now)

    def _acd_offer(self, call, offer, out):
        station = self.by_name.get(offer.station)
        if call is None or call.ended:
            self._acd(self.acd.leave(offer.call_id, self._ms(), "call gone"), out)
        elif self._off_hook_idle(station):
            self._waiting_rings[station.name] = offer  # e.g. the agent's *3# just now
        elif station is None or not station.free:
            self._acd(self.acd.offer_failed(call.id, offer.agent_id, self._ms(),
                                            why="station busy"), out)
        else:
            call.offers[offer.agent_id] = station
            self._offer(call, station, out, ring_s=None, agent=offer.agent_id)

    @staticmethod
    def _off_hook_idle(station):
        """Off-hook with no call: the agent keyed a phone code (*3# ready) or hears busy
        tone after a call; it rings once it hangs up (the ACD still times the offer)."""
        return station is not None and station.call is None and station.consult is None \
            and station.state in (StationState.DIALING, StationState.CLEARED)

    def _ring_waiting(self, station, out):
        """The station hung up: ring it for the offer or callback held for it, if the ACD
        still has that agent reserved for that call."""
        action = self._waiting_rings.pop(station.name, None)
        if action is None:
            return
        try:
            live = self.acd.agent(action.agent_id)["offer"] == action.call_id
        except AcdError:  # the agent left the config
            live = False
        if not live:
            return
        if type(action) is acd_act.Callback:
            self._callback(action, out)
        else:
            self._acd_offer(self.calls.get(action.call_id), action, out)

    def _unwait(self, cancel):
        for name, action in list(self._waiting_rings.items()):
            if (action.call_id, action.agent_id) == (cancel.call_id, cancel.agent_id):
                del self._waiting_rings[name]

    def _acd_cancel(self, call, agent_id, out):
        if call is None:
            return
        station = call.offers.pop(agent_id, None)
        if station is not None and station.call is call \
                and station.state is StationState.RINGING:
            out.append(cmd.StopRing(station.key))
            self._idle(station, out)
        if call.b is station:
            call.b = None
        if not call.offers and call.state is CallState.ALERTING:
            call.state = CallState.QUEUED
            out.append(cmd.LogEvent(self.now, "offer_timeout", call.id,
                                    queue=call.queue.name, agent=agent_id))

    def _announce(self, call, announce, out):
        if call.state not in (CallState.QUEUED, CallState.ALERTING):
            return
        position = f"position-{announce.position}" if announce.position <= 9 \
            else "position-more"
        prompts = [position + ".wav"]
        if announce.expected_wait_s is not None:
            minutes = round(announce.expected_wait_s / 60)
            prompts.append(f"wait-{minutes}.wav" if minutes <= 10 else "wait-more.wav")
        out.append(cmd.Play(call.a.key, tuple(prompts), tag=("announced", call.id, None)))

    def _overflow(self, call, target, why, out, requeued=False):
        """The call leaves its queue for `target` ("hangup", "voicemail", "queue:NAME",
        "station:NAME", "flow:NODE"); `requeued`: the ACD put it in the next queue."""
        queue = call.queue
        out.append(cmd.LogEvent(self.now, "overflow", call.id, queue=queue.name,
                                data={"why": why, "to": target}))
        out.append(cmd.StopPlay(call.a.key))
        if target.startswith("queue:"):
            name = target[len("queue:"):]
            if requeued:  # already waiting there: only the engine's side moves
                call.queue, call.queued_at = self.config.queues.get(name, queue), self.now
                out += [cmd.CdrUpdate(call.id, {"queue": name}),
                        cmd.LogEvent(self.now, "queued", call.id, queue=name,
                                     data={"priority": call.priority, "caller": call.caller}),
                        cmd.Play(call.a.key, ("music",), loop=True)]
            else:
                self._enqueue(call, name, call.priority, out)
        elif target == "voicemail":
            flows = self._overflow_flows.get(queue.name)
            if flows is None:
                vm = VoicemailNode("_voicemail", mailbox=queue.name,
                                   prompts=("leave-message.wav",), next="_bye")
                bye = HangupNode("_bye", reason="voicemail")
                flows = Flows({"_voicemail": vm, "_bye": bye}, self.config.ivr.prompt_dirs)
                self._overflow_flows[queue.name] = flows
            self._start_ivr(call, flows, "_voicemail", out)
        elif target.startswith("station:"):
            self._transfer_to_station(call, self.by_name.get(target[len("station:"):]), out)
        elif target.startswith("flow:"):
            self._start_ivr(call, self.config.ivr, target[len("flow:"):], out)
        else:
            self._end(call, "overflow", why, out)

    def _offer(self, call, station, out, ring_s, agent=None):
        """Ring `station` for `call`; `ring_s` None: the ACD times the offer."""
        station.state, station.call = StationState.RINGING, call
        call.state, call.b = CallState.ALERTING, station
        out += [cmd.Ring(station.key),
                cmd.LogEvent(self.now, "offered", call.id,
                             queue=call.queue.name if call.queue else None,
                             agent=agent, data={"station": station.name})]
        if ring_s is not None:
            self._arm(call, ticks(ring_s), "offer")

    def _offer_timed_out(self, call, out):
        """A transfer's or an internal call's station rang out (the ACD times its own)."""
        station = call.b
        call.b = None
        if station is not None:
            out.append(cmd.StopRing(station.key))
            self._idle(station, out)
        if call.direction == "internal":
            origin = call.a
            self._close(call, "no answer", "extension did not answer", out)
            if origin.consult is call:
                origin.consult = None
                out.append(cmd.Play(origin.key, ("tone:busy",), loop=True))
            elif origin.call is call:
                origin.call = None
                self._busy(origin, out)
        else:
            self._end(call, "no answer", "station did not answer", out)


    # ---- callbacks ----------------------------------------------------------------------
    # The caller presses the queue's callback digit: the ACD keeps their place
    # (CallbackBooked), the caller hears a confirmation and the box hangs up (CDR
    # "callback"). When the place comes up (Callback), the reserved agent's station rings;
    # the agent answers and hears a prompt while the box seizes a line of the dial trunk
    # and dials the number; the agent hears the progress tones through the switch. The far
    # end answered (answer polarity, the ringback heard on the line stopped, or, with no
    # ringback recognised by CALLBACK_VOICE_S, sound from the line): offer_answered, and
    # the call goes on as any call of the agent (call_ended at its end, wrap-up). Any other
    # end before that (the agent did not answer, no free line, busy, congestion or SIT
    # tone, no answer within CALLBACK_ANSWER_S, the agent hung up) is offer_failed: the
    # ACD drops the callback without blaming the agent.

    def _queue_digit(self, call, digit, out):
        """A waiting caller's digit to the ACD (exit, callback). A callback to a number the
        dial policy refuses, or to no number, is refused: the caller hears invalid.wav and
        waits on."""
        callback = call.queue is not None and digit == call.queue.callback_digit
        number = call.variables.get("callback_number") or call.caller
        refusal = self.config.dial.refusal(number) if callback and number else None
        if refusal is not None:
            actions = [acd_act.Log("callback_refused", call.id, call.queue.name, None,
                                   {"why": f"{number} {refusal}"})]
        else:
            actions = self.acd.digit(call.id, digit, self._ms())
        if any(type(a) is acd_act.Log and a.kind == "callback_refused" for a in actions):
            out += [cmd.StopPlay(call.a.key),
                    cmd.Play(call.a.key, ("invalid.wav",), tag=("announced", call.id, None))]
        self._acd(actions, out)

    def _callback_booked(self, call, out):
        call.callback_booked = True
        call.state = CallState.RELEASING
        out += [cmd.StopPlay(call.a.key),
                cmd.Play(call.a.key, ("callback-booked.wav",),
                         tag=("end", call.id, "callback booked"))]

    def _callback(self, action, out):
        station = self.by_name.get(action.station)
        if self._off_hook_idle(station):
            self._waiting_rings[station.name] = action  # rings once it hangs up
            return
        if station is None or not station.free:
            self._acd(self.acd.offer_failed(action.call_id, action.agent_id, self._ms(),
                                            why="station busy"), out)
            return
        queue = self.config.queues.get(action.queue)
        call = Call(f"{action.call_id}-cb{next(self._seq)}", "outbound", self.now, station,
                    caller=station.config.extension, called=action.number)
        call.queue, call.agent, call.callback_of = queue, action.agent_id, action.call_id
        call.outside, call.state = action.number, CallState.ALERTING
        station.state, station.call = StationState.RINGING, call
        self.calls[call.id] = call
        self._callbacks[action.call_id] = call
        out += [cmd.CdrOpen(call.id, "outbound", self.now,
                            {"caller_number": call.caller, "called": action.number,
                             "station": station.name, "agent": action.agent_id,
                             "queue": action.queue}),
                cmd.Ring(station.key),
                cmd.LogEvent(self.now, "callback", call.id, queue=action.queue,
                             agent=action.agent_id,
                             data={"callback_of": action.call_id, "number": action.number,
                                   "station": station.name}),
                cmd.LogEvent(self.now, "offered", call.id, queue=action.queue,
                             agent=action.agent_id, data={"station": station.name})]
        self._arm(call, ticks(queue.ring_s if queue is not None else 20), "callback ring")

    def _callback_answered(self, station, call, out):
        """The agent took the callback: dial the number on a free line of the dial trunk
        (congestion tone to the agent when there is none)."""
        self._disarm(call)
        if self._free_line() is None:
            station.state, station.call = StationState.CLEARED, None
            out.append(cmd.Play(station.key, ("tone:congestion",), loop=True))
            self._end(call, "failed", "no free line to dial out", out)
            return
        station.state = StationState.TALKING
        out.append(cmd.Play(station.key, ("callback-offer.wav",)))
        self._dial_out(call, station, call.outside, out)

    def _callback_progress(self, call, out):
        """A callback dialled, the far end not answered yet: give up after
        CALLBACK_ANSWER_S; with no ringback recognised by CALLBACK_VOICE_S, sound from the
        line since the dial means the far end answered (the exchange gave no answer
        signal)."""
        since = self.now - call.connected
        if since >= ticks(CALLBACK_ANSWER_S):
            self._end(call, "no answer", "far end did not answer", out)
            return
        heard = self.last_voice(call.b.key)
        if not call.ringback and since >= ticks(CALLBACK_VOICE_S) and heard is not None \
                and heard > call.connected + ticks(CALLBACK_CHECK_S):
            self._callback_far_answered(call, out)
        self._arm(call, ticks(CALLBACK_CHECK_S), "silence")

    def _callback_far_answered(self, call, out):
        call.answer = self.now
        policy = self.config.recording
        mode = policy.mode.value
        if call.recording is None and (mode == "all" or mode == "queues" and call.queue
                                       is not None and call.queue.name in policy.queues):
            # the customer on the left, as for an inbound call: the line is the caller here
            call.recording = call.id
            out.append(cmd.StartRecording(call.id, call.id, call.b.key))
        out += [cmd.CdrUpdate(call.id, {"answer_tick": self.now}),
                cmd.LogEvent(self.now, "connected", call.id,
                             queue=call.queue.name if call.queue else None, agent=call.agent,
                             data={"station": call.a.name, "first": True,
                                   "waited_ticks": self.now - call.start,
                                   "transfer": False})]
        self._acd(self.acd.offer_answered(call.callback_of, call.agent, self._ms()), out)

    def _callback_cancelled(self, call, out):
        """The ACD took the callback back (not reported in time, the agent went not ready
        or logged out while it rang): release it."""
        if not call.ended:
            self._end(call, "failed", "callback cancelled", out)

    def _callback_ended(self, call, disposition, cause, out):
        """A callback call ends: tell the ACD (call_ended once the far end answered, else
        offer_failed); returns the CDR's (disposition, cause)."""
        self._callbacks.pop(call.callback_of, None)
        ms = self._ms()
        if cause == "caller hung up":  # the calling end of a callback is the agent
            cause = "agent hung up"
        if call.answer is not None:
            self._acd(self.acd.call_ended(call.callback_of, call.agent, ms), out)
            return disposition, cause
        if "busy" in cause:
            disposition = "busy"
        elif "congestion" in cause or "sit tone" in cause or "no free line" in cause:
            disposition = "failed"
        elif cause == "agent hung up":
            disposition, cause = "abandoned", "agent hung up before the answer"
        elif disposition not in ("no answer", "failed", "interrupted"):
            disposition = "failed"
        self._acd(self.acd.offer_failed(call.callback_of, call.agent, ms, why=cause), out)
        return disposition, cause

    def _feature_code(self, station, code, out):
        """An agent's code from the phone, `*CODE#`: 1 log in here (`*1#` the agent who
        usually sits here, `*1AGENT*PIN#` anyone with their PIN), 2 log out, 3 ready,
        4 not ready (`*4#`, or `*4REASON#` with a reason code). A beep says done, the
        congestion tone refused; then hang up."""
        ms = self._ms()
        agent_id = self.acd.agent_at(station.name)
        try:
            if code.startswith("1"):
                who, _, pin = code[1:].partition("*")
                agent = self.config.agents.get(who) if who else next(
                    (a for a in self.config.agents.values() if a.station == station.name), None)
                if agent is None or (who and pin != agent.pin):
                    raise ValueError("unknown agent or wrong PIN")
                actions = self.acd.login(agent.id, station.name, ms)
            elif agent_id is None:
                raise ValueError("no agent is logged in at this station")
            elif code == "2":
                actions = self.acd.logout(agent_id, ms)
            elif code == "3":
                actions = self.acd.set_ready(agent_id, ms)
            elif code.startswith("4"):
                actions = self.acd.set_not_ready(agent_id, code[1:] or "break", ms)
            else:
                raise ValueError(f"no feature code *{code}#")
        except (ValueError, AcdError) as refused:
            out += [cmd.Play(station.key, ("tone:congestion",), loop=True),
                    cmd.LogEvent(self.now, "feature_refused", agent=agent_id,
                                 data={"station": station.name, "code": code[:1],
                                       "why": str(refused)})]
        else:
            out.append(cmd.Play(station.key, ("builtin:beep",)))
            self._acd(actions, out)
        self._disarm(station)
        station.state = StationState.CLEARED  # done: the agent hangs up

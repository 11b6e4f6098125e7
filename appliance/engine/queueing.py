"""The switchboard's queues: calls handed to the ACD (`appliance.acd`) and its decisions
carried out, overflow targets, offers that ring a station, and the agents' codes from their
phones. A part of `Switchboard` (a mixin: it shares the switchboard's lines, stations, calls,
timers and `now`), kept apart so that call control and queueing read on their own.
"""

from appliance.acd import AcdError
from appliance.acd import actions as acd_act
from appliance.ivr.flows import Flows, HangupNode, VoicemailNode

from . import commands as cmd
from .call import CallState
from .clock import TICK_MS, ticks
from .endpoints import StationState

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
        for action in actions:
            kind = type(action)
            call = self.calls.get(action.call_id) if hasattr(action, "call_id") else None
            if kind is acd_act.Offer:
                self._acd_offer(call, action, out)
            elif kind is acd_act.CancelOffer:
                self._acd_cancel(call, action.agent_id, out)
            elif kind is acd_act.Overflow and call is not None:
                self._overflow(call, action.target, action.why, out, requeued=True)
            elif kind is acd_act.Announce and call is not None:
                self._announce(call, action, out)
            elif kind is acd_act.Log and action.kind in ACD_LOG_KINDS:
                out.append(cmd.LogEvent(self.now, action.kind, action.call_id, action.queue,
                                        action.agent, dict(action.data)))
            # Callback / CallbackBooked: no queue has a callback digit until the config
            # gives one (issue 6); the ACD emits them only then.
        deadline = self.acd.deadline
        if deadline is not None:
            due = -(-deadline // TICK_MS)
            if self._acd_timer.deadline is None or due < self._acd_timer.deadline:
                self._arm(self._acd_timer, due - self.now)

    def _acd_offer(self, call, offer, out):
        station = self.by_name.get(offer.station)
        if call is None or call.ended:
            self._acd(self.acd.leave(offer.call_id, self._ms(), "call gone"), out)
        elif station is None or not station.free:
            self._acd(self.acd.offer_failed(call.id, offer.agent_id, self._ms(),
                                            why="station busy"), out)
        else:
            call.offers[offer.agent_id] = station
            self._offer(call, station, out, ring_s=None, agent=offer.agent_id)

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

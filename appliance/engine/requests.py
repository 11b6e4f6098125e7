"""Requests to the switchboard from outside the phones: the control socket and, later, the
CTI (both through `appliance.cti.api`). A part of `Switchboard` (a mixin, as `Queueing`):
agents' states by agent id, a call forced to end, and what a live view reads.

Each request takes `now` (the engine's tick) last and returns commands, like the
switchboard's other entries (`Engine.request` runs them); a refusal is a ValueError (an
`AcdError` for the agent's state) whose message is for the user, with nothing changed.
Who asked, and whether they may, is the API's business (appliance.cti.live): it writes the
audit rows.
"""

from appliance.acd import AcdError

from .call import CallState
from .endpoints import Line


class OutsideRequests:
    # ---- agents ---------------------------------------------------------------------------
    def agent_login(self, agent_id, station, now):
        """Log `agent_id` in at `station` (None: their usual one), ready."""
        self.now = now
        if station is not None and station not in self.by_name:
            raise AcdError(f"{station!r} is not a station; stations: "
                           + (", ".join(sorted(self.by_name)) or "none"))
        out = []
        self._acd(self.acd.login(agent_id, station, self._ms()), out)
        return out

    def agent_logout(self, agent_id, now):
        self.now = now
        out = []
        self._acd(self.acd.logout(agent_id, self._ms()), out)
        return out

    def agent_ready(self, agent_id, now):
        self.now = now
        out = []
        self._acd(self.acd.set_ready(agent_id, self._ms()), out)
        return out

    def agent_not_ready(self, agent_id, reason, now):
        """Not ready with a reason code (a break, training, ...)."""
        self.now = now
        out = []
        self._acd(self.acd.set_not_ready(agent_id, reason, self._ms()), out)
        return out

    # ---- calls ----------------------------------------------------------------------------
    def hang_up(self, call_id, cause, now):
        """End a live call now, whatever its state (a supervisor's force end): the line is
        released, the stations hear busy tone, the CDR closes with `cause`."""
        self.now = now
        call = self.calls.get(call_id)
        if call is None or call.ended:
            raise ValueError(f"no call {call_id!r} is up")
        out = []
        disposition = "answered" if call.connected is not None else \
            "abandoned" if call.queue is not None else "ivr"
        self._end(call, disposition, cause, out)
        return out

    def call_view(self, call):
        """What a live view shows of `call` (JSON-ready)."""
        ends = [e for e in (call.a, call.b) if e is not None]
        return {
            "id": call.id, "direction": call.direction, "state": call.state.value,
            "from": call.caller, "caller_name": call.caller_name,
            "to": call.outside or call.called,
            "queue": call.queue.name if call.queue is not None else None,
            "agent": call.agent,
            "ports": [_end_name(e) for e in ends],
            "start_tick": call.start, "connected_tick": call.connected,
            "queued_tick": call.queued_at if call.state in (CallState.QUEUED,
                                                            CallState.ALERTING) else None,
            "recording": call.recording is not None,
            "conference": None if call.conference is None else
            {_end_name(e): mode for e, mode in call.conference.items()},
        }

    def port_states(self):
        """{port key: (what it is: 'line' / 'station', its name, state, call id or None)}."""
        ports = {}
        for key, line in self.lines.items():
            ports[key] = ("line", line.trunk.name, line.state.value,
                          line.call.id if line.call is not None else None)
        for key, station in self.stations.items():
            ports[key] = ("station", station.name, station.state.value,
                          station.call.id if station.call is not None else None)
        return ports


def _end_name(end):
    return f"{end.key[0]}:{end.key[1]}" if isinstance(end, Line) else end.name

"""The live operations on a running box (appliance.cti.api): what `appliance status`, `top`,
`agents`, `queues`, `calls`, `monitor` and `config apply` ask the daemon over the control
socket, and what the CTI will ask over HTTP.

Every operation runs in the box's event loop between two ticks; changes go through the
switchboard (`Engine.request`), so they happen at the current tick like a phone's code.

Who may do what (appliance.acd.permissions.may): the box's operator (anyone the control
socket admits) is an admin; ``--as ID --pin PIN`` acts as that agent, supervisor or admin
(`role`, `supervises` of ``[agents.ID]``). Agents' state changes need `set_agent_state` on
that agent; listen, whisper and barge need their permission on the call's agent (recording
a call on demand needs `listen`); a force end needs `force_end`; monitoring a port and a
reload are for admins. Every such request, allowed or refused, is an ``audit`` row of the
event log: who (`by`, `role`), what (`action`), to whom (the row's agent and call), whether
it was allowed and why (`allowed`, `why`), and `error` when the switchboard refused it.
"""

import asyncio
import base64

import numpy as np

from appliance.acd import AcdError
from appliance.acd.permissions import Permission, Role, Target, queues_of
from appliance.acd.specs import specs_from_config
from appliance.engine.clock import TICK_MS

from .api import ApiError, operation

TICK_S = 0.02
MONITOR_BATCH = 5          # ticks per streamed chunk (100 ms)
MONITOR_BACKLOG = 250      # chunks a slow reader may fall behind before the oldest go
MONITOR_SILENT_S = 5       # no tick of the port's board for this long: the stream ends


# ---- helpers ----------------------------------------------------------------------------

def _engine(box):
    engine = getattr(box, "engine", None)
    if engine is None:
        raise ApiError("the box is still starting", "try again in a moment")
    return engine


def _text(name, value, most=80):
    if not isinstance(value, str) or not value.strip() or len(value) > most:
        raise ApiError(f"{name} must be a non-empty string of at most {most} characters, "
                       f"not {value!r}", f"give {name}")
    return value.strip()


def _agent_config(box, agent_id):
    agent_id = _text("agent", agent_id)
    agent = box.config.agents.get(agent_id)
    if agent is None:
        raise ApiError(f"no agent {agent_id!r} in the configuration",
                       "agents: " + (", ".join(box.config.agents) or "none"))
    return agent


def _target(box, agent_id, call_queue=None):
    agent = box.config.agents.get(agent_id)
    queues, agents = specs_from_config(box.config)
    spec = agents.get(agent_id)
    return Target(agent_id, queues_of(spec, queues) if spec is not None else frozenset(),
                  call_queue, Role(agent.role) if agent is not None else Role.AGENT)


def _audit(box, actor, action, *, allowed, why, agent=None, call_id=None, queue=None,
           **data):
    _engine(box).log_event("audit", call_id, queue, agent,
                           {"by": actor.id, "role": actor.role.value, "action": action,
                            "allowed": allowed, "why": why, **data})


def _permit(box, actor, permission, target, action, call_id=None, **data):
    """Check `permission`; refused: an audit row and ApiError with the reason. Returns why
    it was allowed."""
    from appliance.acd.permissions import may

    allowed, why = may(actor, permission, target)
    if not allowed:
        _audit(box, actor, action, allowed=False, why=why, agent=target.agent_id,
               call_id=call_id, queue=target.call_queue, **data)
        raise ApiError(f"{actor.id} may not {action}: {why}",
                       "ask a supervisor of that queue or an admin")
    return why


def _admin_only(box, actor, action):
    if actor.role is not Role.ADMIN:
        why = f"{action} is for admins; {actor.id} is a {actor.role.value}"
        _audit(box, actor, action, allowed=False, why=why)
        raise ApiError(f"{actor.id} may not {action}: {why}",
                       "run it as the box's operator (without --as) or as an admin")


def _do(box, actor, action, why, method, *args, agent=None, call_id=None, queue=None,
        **data):
    """Run a switchboard request; audit it (done, or the switchboard's refusal)."""
    try:
        _engine(box).request(method, *args)
    except (AcdError, ValueError) as exc:
        _audit(box, actor, action, allowed=True, why=why, agent=agent, call_id=call_id,
               queue=queue, error=str(exc), **data)
        raise ApiError(str(exc), _HINTS.get(action, "")) from None
    _audit(box, actor, action, allowed=True, why=why, agent=agent, call_id=call_id,
           queue=queue, **data)


_HINTS = {
    "login": "give --station STATION, or log the agent out of the other station first",
    "ready": "log the agent in first (appliance agents login AGENT)",
    "pause": "log the agent in first (appliance agents login AGENT)",
    "logout": "the agent is logged out already",
    "listen": "the supervisor's station must be off-hook with dial tone, and the call "
              "connected (appliance calls list)",
    "hangup": "appliance calls list shows the calls up",
    "record": "only answered calls can be recorded (appliance calls list)",
}
_HINTS["whisper"] = _HINTS["barge"] = _HINTS["listen"]


def _acd_ms(engine):
    """The ACD's clock: the engine's tick in ms (appliance.acd's README)."""
    return engine.now * TICK_MS


def _seconds(engine, tick):
    return None if tick is None else round((engine.now - tick) * TICK_S, 2)


# ---- reading ----------------------------------------------------------------------------

def _boards(box, engine):
    ports = engine.switchboard.port_states()
    boards = []
    for name, board_config in box.config.boards.items():
        board = box.boards.get(name)
        listed = []
        by_kind = {}
        for index, kind in enumerate(board_config.port_kinds):
            use, label, state, call = ports.get((name, index), ("unused", None, "unused",
                                                                None))
            listed.append({"port": index, "kind": kind.value, "use": use, "name": label,
                           "state": state, "call": call})
            counts = by_kind.setdefault(kind.value, {})
            counts[state] = counts.get(state, 0) + 1
        caps = getattr(board, "capabilities", None)
        boards.append({"name": name, "url": board_config.url,
                       "emulated": board_config.emulated,
                       "alive": bool(getattr(board, "alive", False)),
                       "model": getattr(caps, "model", None), "ports": listed,
                       "ports_by_kind": by_kind})
    return boards


def _calls(engine):
    sb = engine.switchboard
    calls = []
    for call in sb.calls.values():
        view = sb.call_view(call)
        view["since_s"] = _seconds(engine, call.start)
        view["talking_s"] = _seconds(engine, call.connected)
        view["waiting_s"] = _seconds(engine, view.pop("queued_tick"))
        for key in ("start_tick", "connected_tick"):
            view.pop(key)
        calls.append(view)
    return calls


def _agents(box, engine):
    snapshot = engine.switchboard.acd.snapshot(_acd_ms(engine))
    now_ms = snapshot["now_ms"]
    agents = []
    for agent_id, live in snapshot["agents"].items():
        config = box.config.agents.get(agent_id)
        agents.append({"id": agent_id, "name": config.name if config else "",
                       "role": config.role if config else "agent",
                       "status": live["status"], "state": live["state"],
                       "reason": live["reason"], "station": live["station"],
                       "usual_station": config.station if config else None,
                       "since_s": round((now_ms - live["since_ms"]) / 1000, 2),
                       "call": live["call"], "calls": live["calls"],
                       "talk_s": round(live["talk_ms"] / 1000, 1)})
    return agents, snapshot


def _queues(snapshot):
    queues = []
    for name, q in snapshot["queues"].items():
        queues.append({"name": name, "waiting": q["waiting"], "ringing": q["ringing"],
                       "callbacks": q["callbacks"],
                       "oldest_wait_s": round(q["oldest_wait_ms"] / 1000, 2),
                       "expected_wait_s": q["expected_wait_s"], "aht_s": q["aht_s"],
                       "agents": q["agents"], "agents_by_state": q["agents_by_state"],
                       "retired": q["retired"]})
    return queues


def _engine_view(engine):
    stats = dict(vars(engine.stats))
    stats["board_time_s"] = round((engine.now - engine.calendar.origin_tick) * TICK_S, 2)
    stats["time_ms"] = engine.calendar.ms(engine.now)
    return stats


@operation("status")
def status(box):
    """Boards and ports, calls up, queues, agents and the engine's figures, at a glance."""
    engine = _engine(box)
    agents, snapshot = _agents(box, engine)
    return {"site": box.config.site, "config": str(box.config.source),
            "boards": _boards(box, engine), "calls": _calls(engine),
            "queues": _queues(snapshot), "agents": agents, "engine": _engine_view(engine)}


@operation("agents.list")
def agents_list(box):
    return _agents(box, _engine(box))[0]


@operation("queues.list")
def queues_list(box):
    engine = _engine(box)
    return _queues(engine.switchboard.acd.snapshot(_acd_ms(engine)))


@operation("queues.show")
def queues_show(box, *, queue):
    """A queue's figures and its callers in routing order, with their waits."""
    engine = _engine(box)
    name = _text("queue", queue)
    sb = engine.switchboard
    snapshot = sb.acd.snapshot(_acd_ms(engine))
    if name not in snapshot["queues"]:
        raise ApiError(f"no queue {name!r}", "queues: " + (", ".join(snapshot["queues"])
                                                            or "none"))
    view = next(q for q in _queues(snapshot) if q["name"] == name)
    callers = []
    for position, (call_id, state, priority, step, number, offered) in \
            enumerate(sb.acd.waiting(name), 1):
        call = sb.calls.get(call_id)
        callers.append({"position": position, "call": call_id, "state": state.value,
                        "priority": priority, "escalation_step": step,
                        "from": call.caller if call is not None else number,
                        "callback": number,
                        "waiting_s": _seconds(engine, call.queued_at)
                        if call is not None and call.queued_at is not None else None,
                        "offered_to": sorted(offered)})
    view["callers"] = callers
    view["serving"] = [a["id"] for a in _agents(box, engine)[0]
                       if a["status"] != "logged_out" and a["id"] in
                       _serving(box, name)]
    return view


def _serving(box, queue):
    queues, agents = specs_from_config(box.config)
    return {a for a, spec in agents.items() if queue in queues_of(spec, queues)}


@operation("calls.list")
def calls_list(box):
    return _calls(_engine(box))


# ---- agents' states ---------------------------------------------------------------------

def _agent_change(box, actor, agent, action, method, *args, **data):
    config = _agent_config(box, agent)
    target = _target(box, config.id)
    why = _permit(box, actor, Permission.SET_AGENT_STATE, target, action, **data)
    _do(box, actor, action, why, method, config.id, *args, agent=config.id, **data)
    return next(a for a in _agents(box, _engine(box))[0] if a["id"] == config.id)


@operation("agents.login")
def agents_login(box, *, agent, station=None, actor):
    """Log AGENT in at `station` (default: their usual one), ready."""
    if station is not None:
        station = _text("station", station)
    sb = _engine(box).switchboard
    return _agent_change(box, actor, agent, "login", sb.agent_login, station,
                         **({"station": station} if station else {}))


@operation("agents.logout")
def agents_logout(box, *, agent, actor):
    return _agent_change(box, actor, agent, "logout", _engine(box).switchboard.agent_logout)


@operation("agents.ready")
def agents_ready(box, *, agent, actor):
    return _agent_change(box, actor, agent, "ready", _engine(box).switchboard.agent_ready)


@operation("agents.pause")
def agents_pause(box, *, agent, reason, actor):
    """Not ready with a reason code."""
    reason = _text("reason", reason, most=40)
    return _agent_change(box, actor, agent, "pause", _engine(box).switchboard.agent_not_ready,
                         reason, reason=reason)


# ---- calls ------------------------------------------------------------------------------

def _call(engine, call_id):
    call_id = _text("call", call_id, most=120)
    call = engine.switchboard.calls.get(call_id)
    if call is None:
        raise ApiError(f"no call {call_id!r} is up",
                       "appliance calls list shows the calls up and their ids")
    return call


def _call_target(box, call):
    return _target(box, call.agent or "(nobody)",
                   call.queue.name if call.queue is not None else None)


_MODES = {"listen": ("listen", Permission.LISTEN), "whisper": ("whisper", Permission.WHISPER),
          "barge": ("talk", Permission.BARGE)}


def _supervise(box, actor, call_id, station, action):
    engine = _engine(box)
    call = _call(engine, call_id)
    if station is None:
        usual = box.config.agents.get(actor.id)
        station = usual.station if usual is not None else None
        if station is None:
            raise ApiError(f"{action}: which station should join the call?",
                           "give --station STATION (off-hook with dial tone)")
    station = _text("station", station)
    mode, permission = _MODES[action]
    target = _call_target(box, call)
    why = _permit(box, actor, permission, target, action, call_id=call.id, station=station)
    _do(box, actor, action, why, engine.switchboard.supervise, call.id, station, mode,
        agent=call.agent, call_id=call.id, queue=target.call_queue, station=station)
    return engine.switchboard.call_view(call) | {"since_s": _seconds(engine, call.start)}


@operation("calls.listen")
def calls_listen(box, *, call, station=None, actor):
    """The supervisor's station (off-hook, dial tone) hears the call, unheard."""
    return _supervise(box, actor, call, station, "listen")


@operation("calls.whisper")
def calls_whisper(box, *, call, station=None, actor):
    """The supervisor talks to the agent only."""
    return _supervise(box, actor, call, station, "whisper")


@operation("calls.barge")
def calls_barge(box, *, call, station=None, actor):
    """Three-way: caller and agent both hear the supervisor."""
    return _supervise(box, actor, call, station, "barge")


@operation("calls.hangup")
def calls_hangup(box, *, call, actor):
    """End a call now (its CDR closes, cause "ended by WHO")."""
    engine = _engine(box)
    live = _call(engine, call)
    target = _call_target(box, live)
    why = _permit(box, actor, Permission.FORCE_END, target, "hangup", call_id=live.id)
    _do(box, actor, "hangup", why, engine.switchboard.hang_up, live.id,
        f"ended by {actor.id}", agent=live.agent, call_id=live.id, queue=target.call_queue)
    return {"call": live.id, "ended": True, "cause": f"ended by {actor.id}"}


@operation("calls.record")
def calls_record(box, *, call, actor):
    """Record a live, answered call from now on (needs the listen permission)."""
    engine = _engine(box)
    live = _call(engine, call)
    target = _call_target(box, live)
    why = _permit(box, actor, Permission.LISTEN, target, "record", call_id=live.id)
    was = live.recording is not None
    _do(box, actor, "record", why, engine.switchboard.record, live.id, agent=live.agent,
        call_id=live.id, queue=target.call_queue)
    return {"call": live.id, "recording": True, "already": was}


# ---- the box ----------------------------------------------------------------------------

@operation("reload")
def reload(box, *, actor):
    """What SIGHUP does: re-read the configuration file. The plan applied, or the refusal
    with every error (nothing changed)."""
    from appliance.config import ConfigError

    _engine(box)
    _admin_only(box, actor, "reload")
    if getattr(box, "config_path", None) is None:
        raise ApiError("this box was started without a configuration file to re-read",
                       "start it with --config FILE")
    try:
        outcome = box.reload()
    except OSError as exc:
        raise ApiError(f"cannot read {box.config_path} ({exc.strerror or exc})",
                       "check the file and its permissions") from None
    if isinstance(outcome, ConfigError):
        _audit(box, actor, "reload", allowed=True, why="admins may do everything",
               error=f"{sum(i.severity == 'error' for i in outcome.issues)} error(s)")
        return {"applied": False, "file": str(box.config_path),
                "errors": [{"path": i.path, "message": i.message, "severity": i.severity}
                           for i in outcome.issues]}
    _audit(box, actor, "reload", allowed=True, why="admins may do everything",
           changes=len(outcome.changes))
    return {"applied": True, "file": str(box.config_path),
            "changes": [{"path": c.path, "change": c.kind.value, "restart": c.restart}
                        for c in outcome.changes],
            "needs_restart": outcome.needs_restart}


def _port_key(box, engine, port):
    """'BOARD:N', 'N' (the first board) or a station's name -> (board, index)."""
    port = _text("port", str(port) if isinstance(port, int) else port)
    for station in box.config.stations.values():
        if station.name == port:
            return station.board, station.port
    board, _, index = port.rpartition(":")
    board = board or next(iter(box.config.boards))
    if board in box.config.boards and index.isdigit() and \
            int(index) < len(box.config.boards[board].port_kinds):
        return board, int(index)
    raise ApiError(f"no port {port!r}",
                   "give BOARD:PORT (e.g. " + next(iter(box.config.boards)) + ":0), a port "
                   "number of the first board, or a station's name")


@operation("monitor")
def monitor(box, *, port, seconds=None, actor):
    """Stream a port's live audio: a header item, then every 100 ms an item with `tick`
    and `pcm` (base64, int16 little-endian, 8000 Hz, 2 channels: what the port sends,
    what it hears), for `seconds` (None: until the client goes)."""
    engine = _engine(box)
    _admin_only(box, actor, "monitor")
    key = _port_key(box, engine, port)
    if seconds is not None and (isinstance(seconds, bool) or not isinstance(seconds, (
            int, float)) or not 0 < seconds <= 86400):
        raise ApiError(f"seconds must be a number from 0 to 86400, not {seconds!r}",
                       "give --seconds N")
    _audit(box, actor, "monitor", allowed=True, why="admins may do everything",
           port=f"{key[0]}:{key[1]}")
    total = None if seconds is None else max(1, int(round(seconds / TICK_S)))
    return _monitor(engine, key, total)


async def _monitor(engine, key, total):
    chunks = asyncio.Queue()
    pending = []

    def listener(tick, audio):
        pending.append((tick, audio.copy()))
        if len(pending) >= MONITOR_BATCH:
            if chunks.qsize() >= MONITOR_BACKLOG:
                chunks.get_nowait()  # a slow reader loses the oldest, never stalls a tick
            chunks.put_nowait(list(pending))
            pending.clear()

    untap = engine.tap(key, listener)
    try:
        yield {"port": f"{key[0]}:{key[1]}", "rate": 8000, "channels": ["sent", "heard"],
               "ticks": total}
        sent = 0
        quiet = 0  # seconds without a tick of the port's board
        while total is None or sent < total:
            try:
                batch = await asyncio.wait_for(chunks.get(), 1.0)
            except asyncio.TimeoutError:
                if engine.stopped.is_set():
                    return
                quiet += 1
                if quiet >= MONITOR_SILENT_S:
                    raise ApiError(f"no audio from board {key[0]} for {quiet} s",
                                   "is the board connected? appliance status shows it")
                continue
            quiet = 0
            if total is not None:
                batch = batch[:total - sent]
            audio = np.concatenate([a for _, a in batch]).astype("<i2")
            sent += len(batch)
            yield {"tick": batch[0][0], "pcm": base64.b64encode(audio.tobytes()).decode()}
    finally:
        untap()

"""History: the KPIs, CDRs and recordings of the past, read from the box's database.

Pure functions over an open Store (``Store.open_read_only(path)``; `open_history(path)`
says the same with a message for people): `kpi_report` (the call-centre KPIs per interval,
per queue or agent, computed by appliance.acd.kpis from the event log, not here),
`search_cdrs` (newest first) and `list_recordings` / `find_recording`. Each is also an
operation of the box's API (appliance.cti.api: "stats", "cdr.search", "recordings.list",
"recordings.show"; an agent asking sees their own calls only),
which opens the box's database read-only on a thread, so that a slow query never holds the
tick.

Why history reads the store directly instead of asking the running box: the database *is*
the record (the KPIs are defined on its event log, the CDRs are its rows), SQLite's WAL
lets a reader see whole transactions while the box writes, and an installer must be able to
read last week's figures with the daemon stopped (after a crash, on a copied database, on a
laptop). What the box is doing *now* (calls up, agents' states) is the live view and goes
over the control socket.

Arguments come from people (the CLI) and from API requests: a bad one raises `BadArgument`
(an ApiError naming the argument, what is wrong and the fix). Times are integer epoch ms;
`parse_time` reads what people write ("2026-11-23", "2026-11-23 09:30", "today",
"yesterday", "now", "-2h") in a time zone. Intervals align to that zone's wall clock.
"""

import asyncio
import datetime
import os
import re
import zoneinfo
from pathlib import Path

from appliance.acd import kpis
from appliance.cti.api import ApiError, operation
from appliance.store import Store, normalize_number

# How people write an interval -> kpis.INTERVALS' names.
INTERVALS = {"15m": "15min", "15min": "15min", "30m": "30min", "30min": "30min",
             "60m": "60min", "60min": "60min", "1h": "60min", "hour": "60min",
             "day": "day", "1d": "day"}
GROUPINGS = {"queue": ("queue",), "agent": ("agent",), "centre": (), "center": ()}
SL_FORMULAS = dict(kpis.SL_FORMULAS)
DEFAULT_SL_FORMULA = kpis.DEFAULT_SL_FORMULA
DEFAULT_LIMIT = 50
MAX_INTERVALS = 5000  # rows per queue in one report: 15m over 52 days, days over 13 years
_RELATIVE = re.compile(r"^-(\d+(?:\.\d+)?)\s*(m|min|h|d)$")
_UNIT_MS = {"m": 60_000, "min": 60_000, "h": 3_600_000, "d": 86_400_000}


class BadArgument(ApiError):
    """An argument a person got wrong: `argument` is its name (the CLI shows its option)."""

    def __init__(self, argument, problem, hint):
        super().__init__(f"{argument}: {problem}", hint)
        self.argument = argument
        self.problem = problem


# ---- opening the database -----------------------------------------------------------------

def open_history(path):
    """The database at `path` opened read-only (a Store); StoreError when it is not there
    or not readable, with the fix."""
    return Store.open_read_only(path)


def _using(store_or_path, function, *args, **kwargs):
    if isinstance(store_or_path, Store):
        return function(store_or_path, *args, **kwargs)
    with open_history(store_or_path) as store:
        return function(store, *args, **kwargs)


# ---- times --------------------------------------------------------------------------------

def local_zone():
    """The machine's time zone as a ZoneInfo ($TZ, else /etc/localtime), or UTC."""
    name = os.environ.get("TZ", "").lstrip(":")
    candidates = [name] if name else []
    try:
        target = os.path.realpath("/etc/localtime")
        if "/zoneinfo/" in target:
            candidates.append(target.split("/zoneinfo/", 1)[1])
    except OSError:
        pass
    for candidate in candidates:
        try:
            return zoneinfo.ZoneInfo(candidate)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            continue
    return datetime.timezone.utc


def zone_named(name, argument="zone"):
    """The tzinfo of an IANA name (None: the machine's zone)."""
    if name is None:
        return local_zone()
    if not isinstance(name, str):
        raise BadArgument(argument, f"{name!r} is not a time zone name",
                          "give an IANA name such as Asia/Shanghai or UTC")
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise BadArgument(argument, f"{name!r} is not a time zone",
                          "give an IANA name such as Asia/Shanghai, Europe/London or UTC") \
            from None


def now_ms():
    return int(datetime.datetime.now(datetime.timezone.utc).timestamp() * 1000)


def to_ms(moment):
    return int(round(moment.timestamp() * 1000))


def iso(time_ms, zone):
    """Epoch ms as ISO 8601 in `zone`, to the second (None stays None)."""
    if time_ms is None:
        return None
    return datetime.datetime.fromtimestamp(time_ms / 1000, zone).isoformat(timespec="seconds")


def parse_time(value, argument, zone, now=None):
    """Epoch ms from what a person or a request gives: an int (epoch ms), "now", "today"
    or "yesterday" (their midnight), "-90m" / "-2h" / "-7d" (before now), an ISO date
    ("2026-11-23": its midnight) or date and time ("2026-11-23 09:30", "...T09:30:00+08:00");
    a time without an offset is in `zone`."""
    now = now_ms() if now is None else now
    if isinstance(value, bool):
        value = str(value)
    if isinstance(value, int):
        if value < 0:
            raise BadArgument(argument, f"{value} is before 1970",
                              "give epoch milliseconds >= 0 or a date such as 2026-11-23")
        return value
    text = str(value).strip().lower()
    today = datetime.datetime.fromtimestamp(now / 1000, zone).date()
    if text == "now":
        return now
    if text in ("today", "yesterday"):
        day = today - datetime.timedelta(days=1 if text == "yesterday" else 0)
        return to_ms(datetime.datetime(day.year, day.month, day.day, tzinfo=zone))
    relative = _RELATIVE.match(text)
    if relative:
        return max(0, now - int(float(relative[1]) * _UNIT_MS[relative[2]]))
    try:
        if len(text) == 10:
            day = datetime.date.fromisoformat(text)
            moment = datetime.datetime(day.year, day.month, day.day)
        else:
            moment = datetime.datetime.fromisoformat(text.upper().replace(" ", "T", 1))
    except ValueError:
        raise BadArgument(argument, f"{value!r} is not a date or time",
                          "write 2026-11-23, \"2026-11-23 09:30\", today, yesterday, now or "
                          "-2h / -7d") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    if moment.timestamp() < 0:
        raise BadArgument(argument, f"{value!r} is before 1970", "give a later time")
    return to_ms(moment)


def time_range(since, until, zone, now=None, default_since="today"):
    """(since_ms, until_ms) from two parse_time values (None: `default_since` and now);
    BadArgument when the range is empty."""
    now = now_ms() if now is None else now
    lo = parse_time(default_since if since is None else since, "since", zone, now)
    hi = now if until is None else parse_time(until, "until", zone, now)
    if hi <= lo:
        raise BadArgument("until", f"{iso(hi, zone)} is not after the start "
                                   f"{iso(lo, zone)}",
                          "give an end after the start (or leave it out: now)")
    return lo, hi


def _limit(limit):
    if limit is None:
        return None
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise BadArgument("limit", f"{limit!r} is not a number of rows",
                          "give a whole number >= 1 (or none for every row)")
    return limit


def _name(argument, value):
    if value is not None and (not isinstance(value, str) or not value):
        raise BadArgument(argument, f"{value!r} is not a name", f"give the {argument}'s name")
    return value


# ---- KPIs ---------------------------------------------------------------------------------

def kpi_report(store, *, since_ms, until_ms, interval="60m", by=None, queue=None,
               agent=None, sl_formula=DEFAULT_SL_FORMULA, target_s=20, short_abandon_s=5,
               zone=datetime.timezone.utc, now=None, known_queues=(), known_agents=()):
    """The KPIs of [since_ms, until_ms) as appliance.acd.kpis.compute makes them from the
    store's event log, per `interval` ("15m", "30m", "60m" or "day", aligned to `zone`'s
    wall clock) and per `by` ("queue", "agent" or "centre"); `queue` / `agent` keep that
    one's rows. The service level is `sl_formula` (SL_FORMULAS: "offered", the default,
    "answered" or "offered_minus_short_abandons"), answered within `target_s`; its wording
    is in the result. `now`: agents' times stop there when the range reaches the future.
    `known_queues` / `known_agents`: the names the configuration has, which a `queue` or
    `agent` may name even when the log has nothing of them (no rows then); another name
    is a BadArgument listing the names there are.

    Returns JSON-ready data: the range, the interval, the grouping, the formula, the
    queues and agents seen, and `rows` (kpis.Row.to_dict() plus `start` / `end` in ISO
    8601 and `key`, the queue or agent, None for calls no agent answered)."""
    if interval not in INTERVALS:
        raise BadArgument("interval", f"{interval!r} is not an interval",
                          "use 15m, 30m, 60m or day")
    if by is not None and by not in GROUPINGS:
        raise BadArgument("by", f"{by!r} is not a grouping", "use queue, agent or centre")
    if sl_formula not in SL_FORMULAS:
        raise BadArgument("sl_formula", f"{sl_formula!r} is not a service-level formula",
                          "use " + ", ".join(SL_FORMULAS))
    for argument, value in (("target_s", target_s), ("short_abandon_s", short_abandon_s)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or \
                not 0 <= value <= 86400:
            raise BadArgument(argument, f"{value!r} is not a number of seconds",
                              "give seconds from 0 to 86400, e.g. 20")
    _name("queue", queue)
    _name("agent", agent)
    if queue is not None and agent is not None:
        raise BadArgument("agent", "a report is per queue or per agent, not both",
                          "give queue or agent, not both")
    grouping = "queue" if queue is not None else "agent" if agent is not None else \
        "queue" if by is None else by
    if by is not None and GROUPINGS[by] != GROUPINGS[grouping]:
        raise BadArgument("by", f"{by!r} does not go with a {grouping}",
                          f"leave by out or use by {grouping}")
    minutes = kpis.INTERVALS[INTERVALS[interval]] or 1440
    count = (until_ms - since_ms) // (minutes * 60_000) + 1
    if count > MAX_INTERVALS:
        raise BadArgument("interval", f"{interval} intervals over "
                                      f"{(until_ms - since_ms) / 86_400_000:.0f} days make "
                                      f"{count} rows per {grouping}",
                          f"use a longer interval or a shorter range (at most "
                          f"{MAX_INTERVALS} intervals)")
    lo, hi = kpis.read_window(since_ms, until_ms)
    with store.snapshot():
        events = store.events(lo, hi)
    played = kpis.replay(events)
    now = now_ms() if now is None else now
    rows = kpis.compute(played, since_ms=since_ms, until_ms=until_ms,
                        interval=INTERVALS[interval], target_s=target_s,
                        short_abandon_s=short_abandon_s, by=GROUPINGS[grouping],
                        sl_formula=sl_formula, zone=zone,
                        now_ms=min(now, until_ms) if now < until_ms else None)
    queues = sorted({v.queue for v in played.visits if v.queue is not None})
    agents = sorted({leg.agent for leg in played.legs if leg.agent is not None}
                    | set(played.agent_now))
    if queue is not None:
        if queue not in queues and queue not in known_queues:
            names = sorted(set(queues) | set(known_queues))
            raise BadArgument("queue", f"no queue {queue!r} in the configuration or the log",
                              "queues: " + (", ".join(names) or "none"))
        rows = [r for r in rows if r.queue == queue]
    if agent is not None:
        if agent not in agents and agent not in known_agents:
            names = sorted(set(agents) | set(known_agents))
            raise BadArgument("agent", f"no agent {agent!r} in the configuration or the log",
                              "agents: " + (", ".join(names) or "none"))
        rows = [r for r in rows if r.agent == agent]
    out = []
    for row in rows:
        record = row.to_dict()
        record.update(start=iso(row.start_ms, zone), end=iso(row.end_ms, zone),
                      key=row.queue if grouping == "queue" else
                      row.agent if grouping == "agent" else "centre")
        out.append(record)
    return {
        "since_ms": since_ms, "until_ms": until_ms, "since": iso(since_ms, zone),
        "until": iso(until_ms, zone), "zone": str(zone), "interval": interval,
        "by": grouping, "queue": queue, "agent": agent,
        "sl_formula": sl_formula,
        "sl_definition": SL_FORMULAS[sl_formula].format(t=_num(target_s),
                                                         n=_num(short_abandon_s)),
        "sl_formulas": {name: text.format(t=_num(target_s), n=_num(short_abandon_s))
                        for name, text in SL_FORMULAS.items()},
        "target_s": target_s, "short_abandon_s": short_abandon_s,
        "queues": queues, "agents": agents, "rows": out,
    }


def _num(x):
    return int(x) if float(x).is_integer() else x


def is_idle(row):
    """True for a KPI row in which nothing happened (no call, no agent logged in)."""
    return not (row["offered"] or row["handled"] or row["logged_in_ms"]
                or row["agents"])


# ---- CDRs ---------------------------------------------------------------------------------

def _number(argument, value, names_too=False):
    """A phone number as the store keys it; with names_too, a text that is not a number
    (the number called may be a trunk's name) is matched as it is."""
    if value is None:
        return None
    key = normalize_number(value) if isinstance(value, str) else None
    if key is None and names_too and isinstance(value, str) and value.strip():
        return value.strip()
    if key is None:
        raise BadArgument(argument, f"{value!r} is not a phone number",
                          "give digits, with an optional leading + (spaces and dashes "
                          "are ignored)")
    return key


def cdr_record(cdr, zone):
    """A store Cdr as JSON-ready data, with ISO times and durations in seconds."""
    record = {
        "call_id": cdr.call_id, "direction": cdr.direction,
        "start": iso(cdr.start_ms, zone), "answer": iso(cdr.answer_ms, zone),
        "end": iso(cdr.end_ms, zone),
        "caller_number": cdr.caller_number, "caller_name": cdr.caller_name,
        "called": cdr.called, "trunk": cdr.trunk, "port": cdr.port,
        "station": cdr.station, "queue": cdr.queue, "agent": cdr.agent,
        "disposition": cdr.disposition, "hangup_cause": cdr.hangup_cause,
        "duration_s": None if cdr.end_ms is None else (cdr.end_ms - cdr.start_ms) / 1000,
        "answered_after_s": None if cdr.answer_ms is None
        else (cdr.answer_ms - cdr.start_ms) / 1000,
        "ivr_path": list(cdr.ivr_path), "recording_path": cdr.recording_path,
        "start_ms": cdr.start_ms, "answer_ms": cdr.answer_ms, "end_ms": cdr.end_ms,
    }
    return record


CDR_FIELDS = ("call_id", "direction", "start", "answer", "end", "caller_number",
              "caller_name", "called", "trunk", "port", "station", "queue", "agent",
              "disposition", "hangup_cause", "duration_s", "answered_after_s", "ivr_path",
              "recording_path", "start_ms", "answer_ms", "end_ms")


def search_cdrs(store, *, since_ms=None, until_ms=None, number=None, caller=None,
                called=None, queue=None, agent=None, disposition=None, call_id=None,
                limit=DEFAULT_LIMIT, zone=datetime.timezone.utc):
    """The CDRs of the calls that started in [since_ms, until_ms) (None: no bound), newest
    first, at most `limit` (None: all): `number` matches the caller's number or the number
    called, `caller` / `called` one of them (punctuation ignored; the number called may
    also be a name, such as the trunk group's when the line gives no number); `queue`, `agent`,
    `disposition` ("answered", "abandoned", "voicemail", ...) and `call_id` match exactly.
    Returns a list of cdr_record dicts."""
    rows = store.cdrs(since_ms, until_ms, number=_number("number", number, True),
                      caller_number=_number("caller", caller),
                      called=_number("called", called, True), queue=_name("queue", queue),
                      agent=_name("agent", agent),
                      disposition=_name("disposition", disposition),
                      call_id=_name("call_id", call_id), limit=_limit(limit),
                      newest_first=True)
    return [cdr_record(cdr, zone) for cdr in rows]


# ---- recordings ---------------------------------------------------------------------------

def recording_record(cdr, zone):
    """What the history knows of a call's recording: the call, its time, the file (exists,
    size, duration, channels, format from its header; `problem` when unreadable)."""
    path = Path(cdr.recording_path)
    record = {"call_id": cdr.call_id, "start": iso(cdr.start_ms, zone),
              "start_ms": cdr.start_ms, "caller_number": cdr.caller_number,
              "queue": cdr.queue, "agent": cdr.agent, "disposition": cdr.disposition,
              "path": str(path), "exists": path.is_file(), "size_bytes": None,
              "duration_s": None, "channels": None, "format": None, "problem": None}
    if not record["exists"]:
        part = path.with_name(path.name + ".part.wav")
        record["problem"] = ("still being written (the call is up or its FLAC is being "
                             "encoded)" if part.exists() else "the file is missing")
        return record
    import soundfile  # lazy: only listing recordings needs it

    try:
        record["size_bytes"] = path.stat().st_size
        info = soundfile.info(str(path))
        record.update(duration_s=round(info.frames / info.samplerate, 3),
                      channels=info.channels, format=f"{info.format} {info.subtype}")
    except (OSError, RuntimeError) as exc:  # soundfile.LibsndfileError is a RuntimeError
        record["problem"] = f"unreadable ({exc})"
    return record


def list_recordings(store, *, since_ms=None, until_ms=None, queue=None, agent=None,
                    number=None, limit=DEFAULT_LIMIT, zone=datetime.timezone.utc):
    """The recordings of the calls that started in [since_ms, until_ms), newest first, at
    most `limit`: recording_record dicts."""
    rows = store.cdrs(since_ms, until_ms, queue=_name("queue", queue),
                      agent=_name("agent", agent), number=_number("number", number),
                      recorded_only=True, limit=_limit(limit), newest_first=True)
    return [recording_record(cdr, zone) for cdr in rows]


def find_recording(store, call_id, zone=datetime.timezone.utc):
    """The recording_record of one call; BadArgument when the call is unknown or was not
    recorded (the record's `exists` / `problem` say when its file is not usable)."""
    _name("call_id", call_id)
    cdr = store.cdr(call_id)
    if cdr is None:
        raise BadArgument("call_id", f"no call {call_id!r} in the database",
                          "`appliance recordings list` or `appliance cdr` shows the calls")
    if not cdr.recording_path:
        raise BadArgument("call_id", f"call {call_id!r} was not recorded",
                          "the configuration's [recording] mode decides which calls are; "
                          "`appliance recordings list` shows those that were")
    return recording_record(cdr, zone)


# ---- the box's API ------------------------------------------------------------------------
#
# Names as the other operations have them (group.verb). Who asks (`actor`, given by
# api.call, never by the request) decides what they see: an agent sees their own calls,
# recordings and agent rows only (queue and centre figures are the wallboard's, open to
# all); supervisors and admins see everything.

async def _on_database(box, function, **kwargs):
    """Runs `function(store, **kwargs)` on a thread with the box's database opened
    read-only there (a Store belongs to the thread that opens it)."""
    from appliance.store import StoreError

    try:
        return await asyncio.to_thread(_using, box.database, function, **kwargs)
    except StoreError as exc:
        raise ApiError(str(exc), "check storage.data_dir in the configuration") from None


def _own_agent(actor, agent):
    """The agent filter for `actor`: an agent's own id (refusing another's), else `agent`."""
    from appliance.acd.permissions import Actor, Role

    if not isinstance(actor, Actor) or actor.role is not Role.AGENT:
        return agent
    if agent is not None and agent != actor.id:
        raise BadArgument("agent", f"agent {actor.id} may see their own history only, not "
                                   f"{agent!r}'s", "leave agent out, or ask a supervisor")
    return actor.id


@operation("stats")
async def stats_operation(box, *, since=None, until=None, interval="60m", by=None,
                          queue=None, agent=None, sl_formula=DEFAULT_SL_FORMULA, target_s=20,
                          short_abandon_s=5, zone=None, actor=None):
    """The KPI report (kpi_report) of [since, until) (default: today until now)."""
    tz = zone_named(zone)
    since_ms, until_ms = time_range(since, until, tz)
    if agent is not None or by == "agent":
        agent = _own_agent(actor, agent)
    config = getattr(box, "config", None)
    return await _on_database(box, kpi_report, since_ms=since_ms, until_ms=until_ms,
                              interval=interval, by=by, queue=queue, agent=agent,
                              sl_formula=sl_formula, target_s=target_s,
                              short_abandon_s=short_abandon_s, zone=tz,
                              known_queues=tuple(getattr(config, "queues", ())),
                              known_agents=tuple(getattr(config, "agents", ())))


@operation("cdr.search")
async def cdr_operation(box, *, since=None, until=None, number=None, caller=None, called=None,
                        queue=None, agent=None, disposition=None, call_id=None,
                        limit=DEFAULT_LIMIT, zone=None, actor=None):
    """CDRs, newest first (search_cdrs); since / until as parse_time takes them."""
    tz = zone_named(zone)
    now = now_ms()
    since_ms = None if since is None else parse_time(since, "since", tz, now)
    until_ms = None if until is None else parse_time(until, "until", tz, now)
    return await _on_database(box, search_cdrs, since_ms=since_ms, until_ms=until_ms,
                              number=number, caller=caller, called=called, queue=queue,
                              agent=_own_agent(actor, agent), disposition=disposition,
                              call_id=call_id, limit=limit, zone=tz)


@operation("recordings.list")
async def recordings_operation(box, *, since=None, until=None, queue=None, agent=None,
                               number=None, limit=DEFAULT_LIMIT, zone=None, actor=None):
    """Recordings, newest first (list_recordings)."""
    tz = zone_named(zone)
    now = now_ms()
    since_ms = None if since is None else parse_time(since, "since", tz, now)
    until_ms = None if until is None else parse_time(until, "until", tz, now)
    return await _on_database(box, list_recordings, since_ms=since_ms, until_ms=until_ms,
                              queue=queue, agent=_own_agent(actor, agent), number=number,
                              limit=limit, zone=tz)


@operation("recordings.show")
async def recording_operation(box, *, call_id, zone=None, actor=None):
    """One call's recording (find_recording)."""
    record = await _on_database(box, find_recording, call_id=call_id, zone=zone_named(zone))
    mine = _own_agent(actor, None)
    if mine is not None and record["agent"] != mine:
        raise BadArgument("call_id", f"call {call_id!r} is not agent {mine}'s",
                          "an agent may hear their own calls only; ask a supervisor")
    return record

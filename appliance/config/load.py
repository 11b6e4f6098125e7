"""`load_config(path)`: the TOML file checked as a whole, every problem reported at once.

File layout (see sample.toml for a complete, commented example)::

    [site]            name, country (a country profile), tone_plan (default: the profile's)
    skills            = ["sales", ...]: the skill names queues and agents use
    [boards.NAME]     url, ports ("4fxo+4fxs+1e1"), model (expected), emulated
    [trunks.NAME]     board, ports (FXO port numbers) or spans (E1 span numbers),
                      direction (inbound | outbound | both), flow (IVR flow) or station
    [stations.NAME]   extension, board, port (an FXS port)
    [queues.NAME]     skills (["sales", ...], or { sales = 3 } with a minimum level 1-10
                      per skill), max_wait_s, overflow, schedule, strategy (longest_idle,
                      round_robin, fewest_calls, least_talk_time, ring_all, top_down,
                      skills_based, random), priority (0-9), wrap_up_s, ring_s, announce_s,
                      exit_digit, callback_digit, escalation = [{ after_s = 60,
                      min_level = 2 }, { after_s = 120, queue = "support" }]
    [agents.ID]       name, skills = { skill = level 1-10 }, pin (4-8 digits), station,
                      order (top-down rank, lower first), max_no_answer (0-20; 0 never),
                      role (agent | supervisor | admin), supervises (queue names)
    [schedules.NAME]  time_zone, monday ... sunday = ["09:00-12:00", ...], holidays
    [recording]       mode (off | all | queues | on_demand), queues, layout (mixed |
                      stereo), format (wav-pcm16 | wav-alaw | wav-ulaw | flac)
    [storage]         data_dir, recordings_dir, prompts_dir (relative to the file's folder)
    [dial]            trunk, allow, deny (number prefixes), min_digits, max_digits
    [ivr.NODE]        the IVR nodes (appliance.ivr's README has the shape)

Problems are `ConfigIssue`s with the dotted key path; `load_config` raises one `ConfigError`
holding all of them (and the warnings), or returns a `Config` whose `warnings` lists what
`appliance config check` should still show.
"""

import datetime
import os
import re
import tomllib
import zoneinfo
from pathlib import Path

from appliance.acd.strategies import STRATEGIES
from appliance.config.issues import ConfigError, ConfigIssue, key_path
from appliance.config.model import (
    WEEKDAYS,
    Agent,
    Board,
    Config,
    DialPolicy,
    Direction,
    EscalationStep,
    PortKind,
    Queue,
    Recording,
    RecordingFormat,
    RecordingLayout,
    RecordingMode,
    Schedule,
    Station,
    Storage,
    TrunkGroup,
)
from appliance.config.ports import parse_port_spec
from appliance.config.reader import Reader, did_you_mean, type_name

DEFAULT_PATH = Path("/etc/appliance/appliance.toml")

MAX_WAIT_S = (0, 86400)
SKILL_LEVEL = (1, 10)
DIGITS = (1, 32)  # a dialled number's length
_NAME = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
_EXTENSION = re.compile(r"^[0-9]{2,8}$")
_PIN = re.compile(r"^[0-9]{4,8}$")
_PREFIX = re.compile(r"^[0-9]{0,16}$")
_SPAN = re.compile(r"^(\d\d):(\d\d)-(\d\d):(\d\d)$")
_URL_SCHEMES = ("socket", "loop", "usb", "inprocess")
_URL_USAGE = ("a device path (/dev/ttyACM0), socket://HOST:PORT, usb://VID:PID[/SERIAL] or "
              "inprocess://NAME")
_TOML_POSITION = re.compile(r"^(.*) \(at line (\d+), column (\d+)\)$")

_TOP = ("site", "skills", "boards", "trunks", "stations", "queues", "agents", "schedules",
        "recording", "storage", "dial", "ivr")


# The default prompt set shipped in the package (appliance/engine/prompts/default).
SHIPPED_PROMPTS = Path(__file__).resolve().parent.parent / "engine" / "prompts" / "default"


def load_config(path=DEFAULT_PATH):
    """The configuration in the TOML file at `path`, validated as a whole.
    Raises ConfigError listing every problem (key path, what is allowed, the fix)."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError([ConfigIssue("", f"cannot read the file ({exc.strerror}); give "
                                       "the path of the appliance's .toml config with "
                                       "--config")], str(path)) from None
    return parse_config(data, source=str(path), folder=path.parent)


def parse_config(text, *, source="<config>", folder=None):
    """Like `load_config` for the TOML text (str or bytes) of a config; relative storage
    paths are taken from `folder` (default: the current directory)."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ConfigError([ConfigIssue("", f"not UTF-8 text (byte {exc.start}); save "
                                           "the file as UTF-8")], source) from None
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([_syntax_issue(exc)], source) from None
    reader = Reader()
    config = _Builder(reader, source, Path(folder) if folder is not None else Path(".")) \
        .build(doc)
    if reader.errors:
        raise ConfigError(reader.issues, source)
    return config


def _syntax_issue(exc):
    match = _TOML_POSITION.match(str(exc))
    if match:
        what, line, column = match.group(1), match.group(2), match.group(3)
        return ConfigIssue(f"line {line}, column {column}",
                           f"not valid TOML: {what}; fix the syntax there")
    return ConfigIssue("", f"not valid TOML: {exc}; fix the syntax")


class _Builder:
    def __init__(self, reader, source, folder):
        self.r = reader
        self.source = source
        self.folder = folder
        # every board, trunk group and station named in the file, by section: an entry with
        # errors of its own is left out, but a reference to it is not an error too
        self.declared = {"boards": set(), "trunks": set(), "stations": set()}

    def build(self, doc):
        r = self.r
        for section in ("boards", "trunks", "stations"):
            if isinstance(doc.get(section), dict):
                self.declared[section].update(doc[section])
        r.table(doc, "", _TOP, required=("site", "boards"), hints={
            "site": "add [site] with country = \"cn\" (or another country profile)",
            "boards": "add a board, e.g. [boards.main] with url = \"inprocess://main\", "
                      "ports = \"4fxo+4fxs\" and emulated = true"})
        site, country, tone_plan = (self.site(doc["site"]) if "site" in doc
                                    else ("appliance", None, None))
        skills = r.get_list(doc, "skills", "", str, default=())
        for index, skill in enumerate(skills):
            self.check_name(skill, key_path("skills", index), "skill")
        boards = {name: b for name, entry in r.named_tables(doc.get("boards"), "boards",
                                                             "boards").items()
                  if (b := self.board(name, entry)) is not None}
        urls = {}
        for board in boards.values():
            if board.url and board.url in urls:
                r.error(key_path("boards", board.name, "url"), f"{board.url!r} is already the "
                        f"URL of board {urls[board.url]!r}; each board has its own link")
            urls.setdefault(board.url, board.name)
        if doc.get("boards") == {}:
            r.error("boards", "is empty; add a board, e.g. [boards.main] with url = "
                    "\"inprocess://main\", ports = \"4fxo+4fxs\" and emulated = true")
        schedules = {name: self.schedule(name, entry) for name, entry in
                     r.named_tables(doc.get("schedules"), "schedules", "schedules").items()}
        ivr = self.ivr_table(doc.get("ivr"))
        stations = self.stations(doc.get("stations"), boards)
        trunks = self.trunks(doc.get("trunks"), boards, ivr, stations)
        queues = {name: self.queue(name, entry, skills, schedules, ivr, stations)
                  for name, entry in r.named_tables(doc.get("queues"), "queues",
                                                    "queues").items()}
        # overflow to another queue and escalation steps: checked once all queues are known
        declared_queues = set(doc["queues"]) if isinstance(doc.get("queues"), dict) else set()
        for queue in queues.values():
            if queue.overflow.startswith("queue:"):
                target = queue.overflow[6:]
                where = key_path("queues", queue.name, "overflow")
                if target == queue.name:
                    r.error(where, "overflows to its own queue; name another queue, "
                            "'voicemail' or 'hangup'")
                elif target not in queues:
                    r.error(where, f"names queue {target!r}, which is not defined"
                            f"{did_you_mean(target, queues)}; queues: "
                            + (", ".join(queues) or "none"))
            for index, step in enumerate(queue.escalation):
                if step.queue is None:
                    continue
                where = key_path("queues", queue.name, "escalation", index, "queue")
                if step.queue == queue.name:
                    r.error(where, "names its own queue; name another queue whose agents "
                            "may take its callers, or use min_level")
                elif step.queue not in queues and step.queue not in declared_queues:
                    r.error(where, f"names queue {step.queue!r}, which is not defined"
                            f"{did_you_mean(step.queue, queues)}; queues: "
                            + (", ".join(queues) or "none"))
        agents = self.agents(doc.get("agents"), skills, stations)
        self.supervised(agents, queues)
        recording = self.recording(doc.get("recording", {}), queues)
        storage = self.storage(doc.get("storage", {}))
        dial = self.dial(doc.get("dial", {}), trunks)
        if not (isinstance(doc.get("dial"), dict) and "trunk" in doc["dial"]):
            for queue in queues.values():
                if queue.callback_digit is not None:
                    r.error(key_path("queues", queue.name, "callback_digit"), "callbacks are "
                            "dialled on dial.trunk, which is not set; set trunk in [dial] to "
                            "an outbound trunk group or leave callback_digit out")
        entries = [t.flow for t in trunks.values() if t.flow] + \
            [q.overflow[5:] for q in queues.values() if q.overflow.startswith("flow:")]
        # every station in the file, with errors of its own or not: no cascade into the IVR
        declared = tuple(doc["stations"]) if isinstance(doc.get("stations"), dict) else ()
        # the installer's prompts (storage.prompts_dir, else the config file's folder)
        # first, then the shipped default set
        prompt_dirs = (str(storage.prompts_dir or self.folder), str(SHIPPED_PROMPTS))
        flows = _parse_ivr(ivr, r, queues=tuple(queues), stations=declared,
                           prompt_dirs=prompt_dirs, schedules=tuple(schedules), dial_policy=dial.refusal,
                           entries=entries, folder=self.folder)
        self.coverage(queues, agents, skills)
        return Config(
            source=self.source, site=site, country=country, tone_plan=tone_plan,
            boards=boards, trunks=trunks, stations=stations, skills=skills, queues=queues,
            agents=agents, schedules=schedules, recording=recording, storage=storage,
            dial=dial, ivr=flows,
            warnings=tuple(i for i in r.issues if i.severity == "warning"))

    # ---- helpers ----------------------------------------------------------------------

    def check_name(self, name, where, what):
        if not _NAME.match(str(name)):
            self.r.error(where, f"{name!r} is not a usable {what} name; use 1-40 letters, "
                         "digits, '_' or '-'")

    def reference(self, table, key, path, known, what, default=None, section=None):
        """table[key] as the name of one of `known` (an issue when it is not; none when it
        names an entry that is in the file but has errors of its own, already reported)."""
        value = self.r.get(table, key, path, str, default=default)
        if value is None or value == default:
            return value
        if value not in known and value in self.declared.get(section, ()):
            return None
        if value not in known:
            self.r.error(key_path(path, key), f"names {what} {value!r}, which is not defined"
                         f"{did_you_mean(value, known)}; {what}s: "
                         + (", ".join(map(str, known)) or "none"))
            return None
        return value

    # ---- sections ---------------------------------------------------------------------

    def site(self, table):
        from appliance.drivers.profiles import ProfileError, available_profiles, load_profile
        from appliance.dsp.toneplan import ToneplanError, available_plans, load_plan

        r = self.r
        table = r.table(table, "site", ("name", "country", "tone_plan"), required=("country",),
                        top=_TOP, hints={"country": "a country profile: "
                                         + ", ".join(available_profiles())})
        name = r.get(table, "name", "site", str, default="appliance")
        country = r.get(table, "country", "site", str, default=None)
        plan = None
        if country is not None:
            try:
                profile = load_profile(country if "/" in country or country.endswith(".toml")
                                       else country.lower())
                plan = profile.tone_plan.name
            except ProfileError as exc:
                hint = "" if "/" in country else did_you_mean(country, available_profiles())
                r.error("site.country", f"{country!r} is not a usable country profile{hint}: "
                        f"{exc.problem}")
                country = None
        tone_plan = r.get(table, "tone_plan", "site", str, default=None)
        if tone_plan is not None:
            try:
                load_plan(tone_plan)
            except ToneplanError as exc:
                hint = "" if "/" in tone_plan else did_you_mean(tone_plan, available_plans())
                r.error("site.tone_plan", f"{tone_plan!r} is not a usable tone plan{hint}: "
                        + str(exc).split(": ", 1)[-1])
                tone_plan = None
        return name, country, tone_plan or plan

    def board(self, name, table):
        r = self.r
        path = key_path("boards", name)
        self.check_name(name, path, "board")
        table = r.table(table, path, ("url", "ports", "model", "emulated"),
                        required=("url", "ports"))
        url = r.get(table, "url", path, str, default=None)
        if url is not None:
            scheme = url.split("://", 1)[0] if "://" in url else ""
            if (scheme == "" and not url.startswith("/")) or \
                    (scheme and scheme not in _URL_SCHEMES) or url.endswith("://"):
                r.error(key_path(path, "url"), f"{url!r} is not a board URL; use {_URL_USAGE}")
        spec = r.get(table, "ports", path, str, default=None)
        model = r.get(table, "model", path, str, default=None)
        emulated = r.get(table, "emulated", path, bool, default=False)
        if emulated and url is not None and not url.startswith("inprocess://"):
            r.error(key_path(path, "url"), f"an emulated board is reached in-process; write "
                    f"url = \"inprocess://{name}\"")
        if spec is None:
            return None
        try:
            layout = parse_port_spec(spec)
        except ValueError as exc:
            r.error(key_path(path, "ports"), str(exc))
            return None
        if emulated and model is not None and model != layout.model:
            r.error(key_path(path, "model"), f"is {model!r}, but an emulated {spec.lower()} "
                    f"board reports {layout.model!r}; write that or leave model out")
        return Board(name=name, url=url or "", ports=spec.lower(), port_kinds=layout.kinds,
                     spans=layout.spans, model=model, emulated=bool(emulated))

    def port(self, value, where, board, kind, what):
        """A port number of `board` that must be of `kind`; None when it is not."""
        number = self.r.check(value, where, int, low=0)
        if number is None:
            return None
        if number >= len(board.port_kinds):
            self.r.error(where, f"port {number} is not on board {board.name!r}, whose ports "
                         f"are 0-{len(board.port_kinds) - 1} ({board.ports})")
            return None
        actual = board.port_kinds[number]
        if actual is not kind:
            self.r.error(where, f"port {number} of board {board.name!r} is {actual.name}; "
                         f"{what} needs an {kind.name} port (" + _ports_of(board, kind) + ")")
            return None
        return number

    def stations(self, value, boards):
        r = self.r
        stations, taken, extensions = {}, {}, {}
        for name, table in r.named_tables(value, "stations", "stations").items():
            path = key_path("stations", name)
            self.check_name(name, path, "station")
            table = r.table(table, path, ("extension", "board", "port"),
                            required=("extension", "board", "port"))
            extension = r.get(table, "extension", path, str, default=None)
            if extension is not None and not _EXTENSION.match(extension):
                r.error(key_path(path, "extension"), f"{extension!r} is not an extension; "
                        "use 2-8 digits, e.g. \"101\"")
                extension = None
            elif extension is not None and extension in extensions:
                r.error(key_path(path, "extension"), f"{extension} is already the extension "
                        f"of station {extensions[extension]!r}; give each station its own")
                extension = None
            board = self.reference(table, "board", path, boards, "board", section="boards")
            port = None
            if board is not None and "port" in table:
                port = self.port(table["port"], key_path(path, "port"), boards[board],
                                 PortKind.FXS, "a station")
            if port is not None:
                if (board, port) in taken:
                    r.error(key_path(path, "port"), f"port {port} of board {board!r} already "
                            f"feeds station {taken[board, port]!r}; one station per FXS port")
                    port = None
                else:
                    taken[board, port] = name
            if extension is not None:
                extensions[extension] = name
            if None not in (extension, board, port):
                stations[name] = Station(name, extension, board, port)
        return stations

    def trunks(self, value, boards, ivr, stations):
        r = self.r
        trunks, taken = {}, {}
        for name, table in r.named_tables(value, "trunks", "trunk groups").items():
            path = key_path("trunks", name)
            self.check_name(name, path, "trunk group")
            table = r.table(table, path, ("board", "ports", "spans", "direction", "flow",
                                          "station"), required=("board",))
            board_name = self.reference(table, "board", path, boards, "board", section="boards")
            direction = r.get(table, "direction", path, str, default="both",
                              choices=[d.value for d in Direction])
            flow = self.reference(table, "flow", path, ivr, "IVR node")
            station = self.reference(table, "station", path, stations, "station",
                                     section="stations")
            if flow is not None and station is not None:
                r.error(key_path(path, "station"), "a trunk group's inbound calls go to a "
                        "flow or a station, not both; remove one")
            if direction in ("inbound", "both") and "flow" not in table \
                    and "station" not in table:
                r.warning(path, "inbound calls have nowhere to go; set flow (the IVR node they "
                          "start at) or station, or direction = \"outbound\"")
            if ("ports" in table) == ("spans" in table):
                r.error(path, "give ports (FXO port numbers) or spans (E1 span numbers), "
                        "one of them")
                continue
            if board_name is None:
                continue
            board = boards[board_name]
            ports, spans = (), ()
            if "ports" in table:
                kind = PortKind.FXO
                numbers = r.get_list(table, "ports", path, int)
                ports = tuple(p for index, number in enumerate(numbers)
                              if (p := self.port(number, key_path(path, "ports", index),
                                                 board, PortKind.FXO, "an FXO trunk"))
                              is not None)
                owned = [((board_name, "port", p), key_path(path, "ports", i))
                         for i, p in enumerate(ports)]
                if not numbers:
                    r.error(key_path(path, "ports"), "is empty; list the FXO ports")
            else:
                kind = PortKind.E1
                numbers = r.get_list(table, "spans", path, int, low=0)
                spans = []
                for index, span in enumerate(numbers):
                    if span not in board.spans:
                        r.error(key_path(path, "spans", index), f"span {span} is not on board "
                                f"{board_name!r}, which has "
                                + (f"spans {_list(board.spans)}" if board.spans
                                   else "no E1 span"))
                    else:
                        spans.append(span)
                spans = tuple(spans)
                owned = [((board_name, "span", s), key_path(path, "spans", i))
                         for i, s in enumerate(spans)]
                if not numbers:
                    r.error(key_path(path, "spans"), "is empty; list the E1 spans")
            clash = False
            for resource, where in owned:
                if resource in taken:
                    r.error(where, f"{resource[1]} {resource[2]} of board {board_name!r} is "
                            f"already in trunk group {taken[resource]!r}; a line belongs to "
                            "one group")
                    clash = True
                else:
                    taken[resource] = name
            if not clash and direction is not None and (ports or spans):
                trunks[name] = TrunkGroup(name, board_name, kind, ports, spans,
                                          Direction(direction), flow, station)
        return trunks

    def schedule(self, name, table):
        r = self.r
        path = key_path("schedules", name)
        self.check_name(name, path, "schedule")
        table = r.table(table, path, ("time_zone", "holidays") + WEEKDAYS,
                        required=("time_zone",))
        zone = r.get(table, "time_zone", path, str, default=None)
        if zone is not None:
            try:
                zoneinfo.ZoneInfo(zone)
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                r.error(key_path(path, "time_zone"), f"{zone!r} is not a time zone"
                        f"{did_you_mean(zone, zoneinfo.available_timezones())}; use an IANA "
                        "name such as \"Asia/Shanghai\" or \"Europe/London\"")
        hours = []
        for day in WEEKDAYS:
            spans = []
            for index, text in enumerate(r.get_list(table, day, path, str, default=())):
                where = key_path(path, day, index)
                match = _SPAN.match(text)
                minutes = None
                if match:
                    h1, m1, h2, m2 = map(int, match.groups())
                    if h1 <= 24 and h2 <= 24 and m1 < 60 and m2 < 60:
                        minutes = (h1 * 60 + m1, h2 * 60 + m2)
                if minutes is None or minutes[1] > 1440 or minutes[0] >= minutes[1]:
                    r.error(where, f"{text!r} is not a span of hours; write \"HH:MM-HH:MM\" "
                            "with the start before the end, e.g. \"09:00-17:30\"")
                    continue
                for other in spans:
                    if minutes[0] < other[1] and other[0] < minutes[1]:
                        r.error(where, f"{text!r} overlaps another span of {day}; merge them")
                        break
                else:
                    spans.append(minutes)
            hours.append(tuple(sorted(spans)))
        holidays = []
        raw = table.get("holidays", [])
        if not isinstance(raw, list):
            r.error(key_path(path, "holidays"), f"is {type_name(raw)}; expected an array of "
                    "dates, e.g. [2026-10-01, 2026-12-25]")
            raw = []
        for index, day in enumerate(raw):
            where = key_path(path, "holidays", index)
            if isinstance(day, str):
                try:
                    day = datetime.date.fromisoformat(day)
                except ValueError:
                    pass
            if type(day) is not datetime.date:
                r.error(where, f"{day!r} is not a date; write YYYY-MM-DD, e.g. 2026-10-01")
            elif day in holidays:
                r.error(where, f"{day} is listed twice; list it once")
            else:
                holidays.append(day)
        return Schedule(name, zone or "UTC", tuple(hours), tuple(sorted(holidays)))

    def queue(self, name, table, skills, schedules, ivr, stations):
        r = self.r
        path = key_path("queues", name)
        self.check_name(name, path, "queue")
        table = r.table(table, path, ("skills", "max_wait_s", "overflow", "schedule",
                                      "strategy", "priority", "wrap_up_s", "ring_s",
                                      "announce_s", "exit_digit", "callback_digit",
                                      "escalation"),
                        required=("skills",))
        levels = self.queue_skills(table, path, skills)
        wanted = tuple(skill for skill, _ in levels)
        max_wait = r.get(table, "max_wait_s", path, int, default=300, low=MAX_WAIT_S[0],
                         high=MAX_WAIT_S[1], unit="s")
        overflow = r.get(table, "overflow", path, str, default="voicemail")
        if overflow is not None:
            kind, _, target = overflow.partition(":")
            where = key_path(path, "overflow")
            if overflow in ("hangup", "voicemail") or kind == "queue" and target:
                pass  # queue targets are checked once every queue is known
            elif kind == "station" and target:
                if target not in stations and target not in self.declared["stations"]:
                    r.error(where, f"names station {target!r}, which is not defined"
                            f"{did_you_mean(target, stations)}; stations: "
                            + (", ".join(stations) or "none"))
            elif kind == "flow" and target:
                if target not in ivr:
                    r.error(where, f"names IVR node {target!r}, which is not defined"
                            f"{did_you_mean(target, ivr)}; IVR nodes: "
                            + (", ".join(ivr) or "none"))
            else:
                r.error(where, f"{overflow!r} is not an overflow target; use \"hangup\", "
                        "\"voicemail\", \"queue:NAME\", \"station:NAME\" or \"flow:NODE\"")
                overflow = None
        schedule = self.reference(table, "schedule", path, schedules, "schedule")
        # how the ACD serves it (appliance.acd.specs.QueueSpec has the same names)
        strategy = r.get(table, "strategy", path, str, default="longest_idle",
                         choices=tuple(sorted(STRATEGIES)))
        priority = r.get(table, "priority", path, int, default=0, low=0, high=9)
        wrap_up = r.get(table, "wrap_up_s", path, int, default=0, low=0, high=3600, unit="s")
        ring = r.get(table, "ring_s", path, int, default=20, low=5, high=120, unit="s")
        announce = r.get(table, "announce_s", path, int, default=60, low=0, high=3600,
                         unit="s")
        exit_digit = r.get(table, "exit_digit", path, str, default=None,
                           choices=tuple("0123456789*#"))
        callback_digit = r.get(table, "callback_digit", path, str, default=None,
                               choices=tuple("0123456789*#"))
        if callback_digit is not None and callback_digit == exit_digit:
            r.error(key_path(path, "callback_digit"), f"is {callback_digit!r}, the same as "
                    "exit_digit; give the callback another digit")
            callback_digit = None
        escalation = self.escalation(table, path)
        return Queue(name, wanted, max_wait if max_wait is not None else 300,
                     overflow or "voicemail", schedule, strategy or "longest_idle",
                     priority or 0, wrap_up or 0, ring or 20,
                     60 if announce is None else announce, exit_digit, levels,
                     callback_digit, escalation)

    def queue_skills(self, table, path, skills):
        """A queue's `skills`: an array of skill names (each needed at level 1 or more) or a
        table { skill = minimum level 1-10 }; ((skill, level), ...) of the defined ones."""
        r = self.r
        raw = table.get("skills")
        levels = []
        if isinstance(raw, dict):
            if not raw:
                r.error(key_path(path, "skills"), "is empty; a queue needs at least one skill")
            for skill, level in raw.items():
                where = key_path(path, "skills", skill)
                if skill not in skills:
                    r.error(where, f"skill {skill!r} is not defined"
                            f"{did_you_mean(skill, skills)}; add it to skills = [...] at the "
                            "top or use one of: " + (", ".join(skills) or "none defined"))
                    continue
                level = r.check(level, where, int, low=SKILL_LEVEL[0], high=SKILL_LEVEL[1])
                if level is not None:
                    levels.append((skill, level))
            return tuple(levels)
        if raw is not None and not isinstance(raw, list):
            r.error(key_path(path, "skills"), f"is {type_name(raw)}; expected an array of "
                    "skills, e.g. [\"sales\"], or a table of skill = minimum level (1-10), "
                    "e.g. { sales = 3, english = 5 }")
            return ()
        wanted = r.get_list(table, "skills", path, str, default=())
        for index, skill in enumerate(wanted):
            if skill not in skills:
                r.error(key_path(path, "skills", index), f"skill {skill!r} is not defined"
                        f"{did_you_mean(skill, skills)}; add it to skills = [...] at the top "
                        "or use one of: " + (", ".join(skills) or "none defined"))
            else:
                levels.append((skill, 1))
        if "skills" in table and not wanted and isinstance(raw, list):
            r.error(key_path(path, "skills"), "is empty; a queue needs at least one skill")
        return tuple(levels)

    def escalation(self, table, path):
        """A queue's `escalation`: an array of steps { after_s = N, min_level = L } (widen
        every minimum to L) or { after_s = N, queue = "NAME" } (add that queue's agents);
        queue names are checked once every queue is known."""
        r = self.r
        if "escalation" not in table:
            return ()
        raw = table["escalation"]
        where = key_path(path, "escalation")
        usage = ("e.g. escalation = [{ after_s = 60, min_level = 2 }, { after_s = 120, "
                 "queue = \"support\" }]")
        if not isinstance(raw, list):
            r.error(where, f"is {type_name(raw)}; expected an array of steps, {usage}")
            return ()
        steps = []
        for index, step in enumerate(raw):
            at = key_path(where, index)
            if not isinstance(step, dict):
                r.error(at, f"is {type_name(step)}; expected a table, {usage}")
                continue
            step = r.table(step, at, ("after_s", "min_level", "queue"), required=("after_s",),
                           hints={"after_s": "the seconds a caller waits before this step, "
                                  "e.g. after_s = 60"})
            if isinstance(step.get("after_s"), float):
                r.error(key_path(at, "after_s"), f"is {step['after_s']}; give whole seconds, "
                        f"e.g. after_s = {max(0, round(step['after_s']))}")
                continue
            after = r.get(step, "after_s", at, int, default=None, low=0, high=MAX_WAIT_S[1],
                          unit="s")
            level = r.get(step, "min_level", at, int, default=None, low=SKILL_LEVEL[0],
                          high=SKILL_LEVEL[1])
            queue = r.get(step, "queue", at, str, default=None)
            if set(step) - {"after_s", "min_level", "queue"}:
                continue  # an unknown key (reported): maybe a misspelt one of the two
            if ("min_level" in step) == ("queue" in step):
                r.error(at, "give min_level (widen the skill levels) or queue (add another "
                        "queue's agents), one of the two")
                continue
            if after is None or (level is None and queue is None):
                continue  # reported above
            steps.append(EscalationStep(after, min_level=level, queue=queue))
        return tuple(sorted(steps, key=lambda s: s.after_s))

    def agents(self, value, skills, stations):
        r = self.r
        agents = {}
        for agent_id, table in r.named_tables(value, "agents", "agents").items():
            path = key_path("agents", agent_id)
            self.check_name(agent_id, path, "agent id")
            table = r.table(table, path, ("name", "skills", "pin", "station", "order",
                                          "max_no_answer", "role", "supervises"),
                            required=("name", "pin"))
            name = r.get(table, "name", path, str, default="")
            pin = r.get(table, "pin", path, str, default=None)
            if pin is not None and not _PIN.match(pin):
                r.error(key_path(path, "pin"), "is not a PIN; use 4-8 digits in quotes, e.g. "
                        "pin = \"4821\"")
            elif "pin" in table and isinstance(table["pin"], int):
                pass  # already reported as a wrong type
            levels = []
            raw = table.get("skills", {})
            if not isinstance(raw, dict):
                r.error(key_path(path, "skills"), f"is {type_name(raw)}; expected a table of "
                        "skill = level (1-10), e.g. { sales = 7, english = 5 }")
                raw = {}
            for skill, level in raw.items():
                where = key_path(path, "skills", skill)
                if skill not in skills:
                    r.error(where, f"skill {skill!r} is not defined{did_you_mean(skill, skills)}"
                            "; add it to skills = [...] at the top or use one of: "
                            + (", ".join(skills) or "none defined"))
                    continue
                level = r.check(level, where, int, low=SKILL_LEVEL[0], high=SKILL_LEVEL[1])
                if level is not None:
                    levels.append((skill, level))
            station = self.reference(table, "station", path, stations, "station",
                                     section="stations")
            order = r.get(table, "order", path, int, default=None, low=0, high=9999)
            max_no_answer = r.get(table, "max_no_answer", path, int, default=2, low=0,
                                  high=20)
            # what they may do through the control socket and the CTI
            # (appliance.acd.permissions); `supervises` is checked in `supervised` once the
            # queues are known
            role = r.get(table, "role", path, str, default="agent",
                         choices=("agent", "supervisor", "admin")) or "agent"
            supervises = r.get_list(table, "supervises", path, str, default=()) or ()
            if supervises and role != "supervisor":
                r.warning(key_path(path, "supervises"), f"is ignored for role {role!r}; set "
                          "role = \"supervisor\" or drop it")
            agents[agent_id] = Agent(str(agent_id), name or "", tuple(sorted(levels)),
                                     pin or "", station, order=order,
                                     max_no_answer=2 if max_no_answer is None
                                     else max_no_answer, role=role,
                                     supervises=tuple(supervises))
        return agents

    def supervised(self, agents, queues):
        """Every queue a supervisor's `supervises` names must exist."""
        for agent in agents.values():
            for name in agent.supervises:
                if name not in queues:
                    self.r.error(key_path("agents", agent.id, "supervises"),
                                 f"names queue {name!r}, which is not defined"
                                 f"{did_you_mean(name, queues)}; queues: "
                                 + (", ".join(queues) or "none"))

    def recording(self, table, queues):
        r = self.r
        table = r.table(table, "recording", ("mode", "queues", "layout", "format"), top=_TOP)
        mode = r.get(table, "mode", "recording", str, default="off",
                     choices=[m.value for m in RecordingMode])
        listed = r.get_list(table, "queues", "recording", str, default=())
        for index, queue in enumerate(listed):
            if queue not in queues:
                r.error(key_path("recording", "queues", index), f"names queue {queue!r}, "
                        f"which is not defined{did_you_mean(queue, queues)}; queues: "
                        + (", ".join(queues) or "none"))
        if mode == "queues" and not listed:
            r.error("recording.queues", "is missing or empty; with mode = \"queues\" list the "
                    "queues whose calls are recorded")
        elif mode not in (None, "queues") and listed:
            r.warning("recording.queues", f"is ignored with mode = {mode!r}; use mode = "
                      "\"queues\" to record only these queues")
        layout = r.get(table, "layout", "recording", str, default="mixed",
                       choices=[m.value for m in RecordingLayout])
        fmt = r.get(table, "format", "recording", str, default="wav-pcm16",
                    choices=[m.value for m in RecordingFormat])
        return Recording(RecordingMode(mode or "off"), listed,
                         RecordingLayout(layout or "mixed"), RecordingFormat(fmt or "wav-pcm16"))

    def storage(self, table):
        r = self.r
        table = r.table(table, "storage", ("data_dir", "recordings_dir", "prompts_dir"),
                        top=_TOP)

        def folder(key, default):
            text = r.get(table, key, "storage", str, default=default)
            if text is None:
                return None
            if not text.strip():
                r.error(key_path("storage", key), "is empty; give a folder")
                return None
            path = Path(os.path.expanduser(text))
            return path if path.is_absolute() else self.folder / path

        data_dir = folder("data_dir", "/var/lib/appliance") or Path("/var/lib/appliance")
        recordings = folder("recordings_dir", None) or data_dir / "recordings"
        return Storage(data_dir, recordings, folder("prompts_dir", None))

    def dial(self, table, trunks):
        r = self.r
        table = r.table(table, "dial", ("trunk", "allow", "deny", "min_digits", "max_digits"),
                        top=_TOP)
        trunk = self.reference(table, "trunk", "dial", trunks, "trunk group", section="trunks")
        if trunk is not None and trunks[trunk].direction is Direction.INBOUND:
            r.error("dial.trunk", f"trunk group {trunk!r} is inbound only; transfers go out on "
                    "a group with direction \"outbound\" or \"both\"")
        prefixes = {}
        for key in ("allow", "deny"):
            values = r.get_list(table, key, "dial", str, default=() if key == "deny" else ("",))
            for index, prefix in enumerate(values):
                if not _PREFIX.match(prefix):
                    r.error(key_path("dial", key, index), f"{prefix!r} is not a number prefix; "
                            "use up to 16 digits (\"\" matches every number)")
            prefixes[key] = values
        low = r.get(table, "min_digits", "dial", int, default=3, low=DIGITS[0], high=DIGITS[1])
        high = r.get(table, "max_digits", "dial", int, default=20, low=DIGITS[0],
                     high=DIGITS[1])
        if low is not None and high is not None and low > high:
            r.error("dial.min_digits", f"is {low}, more than max_digits ({high}); make it at "
                    "most max_digits")
        if trunk is None and ("allow" in table or "deny" in table):
            r.warning("dial", "allow / deny have no effect without trunk: no transfer to an "
                      "outside number is possible; set trunk to an outbound trunk group")
        return DialPolicy(trunk, prefixes["allow"], prefixes["deny"], low or 3, high or 20)

    def ivr_table(self, value):
        """The [ivr] table: {node name: node table}, as `_parse_ivr` takes it."""
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.r.error("ivr", f"is {type_name(value)}; expected a table of IVR nodes, "
                         "e.g. [ivr.main]")
            return {}
        return value

    def coverage(self, queues, agents, skills):
        """Warnings: a queue no agent can take, a skill nobody uses."""
        def taken(needed):  # some agent has every skill at its level
            return any(all(dict(a.skills).get(s, 0) >= level for s, level in needed)
                       for a in agents.values())

        def levels_of(queue):
            return queue.skill_levels or tuple((s, 1) for s in queue.skills)

        for queue in queues.values():
            needed = levels_of(queue)
            # escalation may widen the levels or add another queue's agents later on
            later = [tuple((s, min(level, step.min_level)) for s, level in needed)
                     if step.min_level is not None else levels_of(queues[step.queue])
                     for step in queue.escalation
                     if step.min_level is not None or step.queue in queues]
            if needed and not any(taken(n) for n in [needed, *later]):
                self.r.warning(key_path("queues", queue.name, "skills"),
                               "no agent has all of "
                               + ", ".join(s if level == 1 else f"{s} at level {level}"
                                           for s, level in needed)
                               + f"; callers wait {queue.max_wait_s} s and overflow")
        used = {s for q in queues.values() for s in q.skills} | \
            {s for a in agents.values() for s, _ in a.skills}
        for index, skill in enumerate(skills):
            if skill not in used:
                self.r.warning(key_path("skills", index), f"skill {skill!r} is used by no "
                               "queue and no agent")


def _parse_ivr(table, reader, *, queues, stations, prompt_dirs, schedules, dial_policy,
               entries, folder):
    """The [ivr] table (node name -> node table) parsed by appliance.ivr.parse_flows and
    checked by check_flows (missing prompt files, unreachable nodes, loops without input),
    their issues added to `reader`'s. `entries`: the nodes calls start at; prompt files are
    looked for on disk, relative paths from `folder`."""
    from appliance.ivr import check_flows, parse_flows  # appliance.ivr imports config.issues

    flows, issues = parse_flows(table, where="ivr", queues=queues, stations=stations,
                                prompt_dirs=prompt_dirs, schedules=schedules,
                                dial_policy=dial_policy)
    reader.issues.extend(issues)
    if not any(i.severity == "error" for i in issues):
        reader.issues.extend(check_flows(flows, lambda path: (folder / path).is_file(),
                                         entries=entries))
    return flows


def _ports_of(board, kind):
    numbers = [i for i, k in enumerate(board.port_kinds) if k is kind]
    return (f"its {kind.name} ports are {_list(numbers)}" if numbers
            else f"it has no {kind.name} port")


def _list(numbers):
    """[0, 1, 2, 3, 6] -> "0-3, 6"."""
    numbers = sorted(numbers)
    runs, start = [], None
    for i, n in enumerate(numbers):
        if start is None:
            start = n
        if i + 1 == len(numbers) or numbers[i + 1] != n + 1:
            runs.append(str(start) if start == n else f"{start}-{n}")
            start = None
    return ", ".join(runs)

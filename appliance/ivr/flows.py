"""IVR flows as data: the `[ivr]` table of the config parsed into a graph of nodes.

`parse_flows` checks the whole table and returns every problem at once as a ConfigIssue with
its key path (`ivr.main.options.9: goes to 'sales2', which is not a node`); it does no I/O.
Times are written in seconds in the config and kept in engine ticks (20 ms) here, because
the interpreter counts ticks, never the wall clock. The TOML shape is in README.md.
"""

import difflib
import enum
import re
from dataclasses import dataclass, field
from functools import cached_property
from types import MappingProxyType
from typing import Callable, Mapping, Optional

from appliance.config.issues import ConfigIssue, key_path

TICK_MS = 20
TICKS_PER_SECOND = 1000 // TICK_MS

DTMF_DIGITS = "0123456789*#ABCD"
BUILTIN_PREFIX = "builtin:"
BUILTIN_PROMPTS = frozenset({"beep", "silence"})  # made by the engine (engine/prompts.py)

MAX_TIMEOUT_S = 60.0
MAX_RECORDING_S = 600.0
MAX_COLLECT_DIGITS = 32
MAX_LIMIT = 20
NUMBER_RE = re.compile(r"^\+?[0-9]{1,24}$")
NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,63}$")
VARIABLE_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]{0,63}$")


class NodeType(enum.Enum):
    PLAY = "play"
    MENU = "menu"
    COLLECT = "collect"
    SCHEDULE = "schedule"
    LOOKUP = "lookup"
    QUEUE = "queue"
    VOICEMAIL = "voicemail"
    TRANSFER = "transfer"
    HANGUP = "hangup"
    GOTO = "goto"
    BACK = "back"


NODE_TYPE_NAMES = ", ".join(t.value for t in NodeType)


@dataclass(frozen=True)
class Retry:
    """How a menu or collect treats a caller who says nothing or enters something wrong.

    No-input and invalid input are counted separately: after `no_input_limit` timeouts the
    call goes to `no_input_fallback`, after `invalid_limit` bad entries to
    `invalid_fallback`; `max_failures` (if set) caps both together and goes to `fallback`.
    Before each retry the node plays its own `no_input_prompts` / `invalid_prompts` and then
    its prompts again."""

    fallback: str
    no_input_prompts: tuple = ()
    no_input_limit: int = 3
    no_input_fallback: str = ""
    invalid_prompts: tuple = ()
    invalid_limit: int = 3
    invalid_fallback: str = ""
    max_failures: Optional[int] = None


@dataclass(frozen=True)
class Node:
    name: str

    type = None  # NodeType, set by each subclass

    def targets(self):
        """(key, node name) pairs of every node this one can go to."""
        return []

    def prompt_refs(self):
        """(key, prompt) pairs of every prompt this node plays."""
        return []


def _retry_targets(retry):
    out = [("fallback", retry.fallback)]
    if retry.no_input_fallback:
        out.append(("no_input_fallback", retry.no_input_fallback))
    if retry.invalid_fallback:
        out.append(("invalid_fallback", retry.invalid_fallback))
    return out


def _prompt_refs(key, prompts):
    return [(f"{key}.{i}", p) for i, p in enumerate(prompts)]


@dataclass(frozen=True)
class PlayNode(Node):
    prompts: tuple = ()
    next: str = ""
    barge_in: bool = False
    type = NodeType.PLAY

    def targets(self):
        return [("next", self.next)]

    def prompt_refs(self):
        return _prompt_refs("prompts", self.prompts)


@dataclass(frozen=True)
class MenuNode(Node):
    prompts: tuple = ()
    options: Mapping = field(default_factory=dict)  # digit -> node
    timeout_ticks: int = 5 * TICKS_PER_SECOND
    barge_in: bool = True
    retry: Retry = None
    type = NodeType.MENU

    def targets(self):
        return [(f"options.{d}", t) for d, t in self.options.items()] + _retry_targets(self.retry)

    def prompt_refs(self):
        return (_prompt_refs("prompts", self.prompts)
                + _prompt_refs("no_input_prompts", self.retry.no_input_prompts)
                + _prompt_refs("invalid_prompts", self.retry.invalid_prompts))


@dataclass(frozen=True)
class CollectNode(Node):
    prompts: tuple = ()
    variable: str = ""
    next: str = ""
    max_digits: int = 1
    min_digits: int = 1
    terminator: str = "#"  # "" for none
    first_digit_timeout_ticks: int = 5 * TICKS_PER_SECOND
    inter_digit_timeout_ticks: int = 3 * TICKS_PER_SECOND
    barge_in: bool = True
    retry: Retry = None
    type = NodeType.COLLECT

    def targets(self):
        return [("next", self.next)] + _retry_targets(self.retry)

    def prompt_refs(self):
        return (_prompt_refs("prompts", self.prompts)
                + _prompt_refs("no_input_prompts", self.retry.no_input_prompts)
                + _prompt_refs("invalid_prompts", self.retry.invalid_prompts))


@dataclass(frozen=True)
class ScheduleNode(Node):
    schedule: str = ""
    open: str = ""
    closed: str = ""
    holiday: str = ""  # "" -> closed
    type = NodeType.SCHEDULE

    def targets(self):
        out = [("open", self.open), ("closed", self.closed)]
        if self.holiday:
            out.append(("holiday", self.holiday))
        return out


@dataclass(frozen=True)
class LookupNode(Node):
    key: str = "caller"  # the variable whose value is looked up
    fields: Mapping = field(default_factory=dict)  # variable -> record field; empty: all fields
    found: str = ""
    not_found: str = ""
    timeout_ticks: int = 2 * TICKS_PER_SECOND
    type = NodeType.LOOKUP

    def targets(self):
        return [("found", self.found), ("not_found", self.not_found)]


@dataclass(frozen=True)
class QueueNode(Node):
    queue: str = ""
    priority: int = 0
    type = NodeType.QUEUE


@dataclass(frozen=True)
class VoicemailNode(Node):
    mailbox: str = ""
    prompts: tuple = ()
    max_length_ticks: int = 120 * TICKS_PER_SECOND
    beep: bool = True
    next: str = ""  # "" -> hang up after the message
    type = NodeType.VOICEMAIL

    def targets(self):
        return [("next", self.next)] if self.next else []

    def prompt_refs(self):
        return _prompt_refs("prompts", self.prompts)


@dataclass(frozen=True)
class TransferNode(Node):
    station: str = ""
    number: str = ""
    type = NodeType.TRANSFER


@dataclass(frozen=True)
class HangupNode(Node):
    reason: str = "ivr"
    type = NodeType.HANGUP


@dataclass(frozen=True)
class GotoNode(Node):
    to: str = ""
    type = NodeType.GOTO

    def targets(self):
        return [("to", self.to)]


@dataclass(frozen=True)
class BackNode(Node):
    fallback: str = ""  # where to go when there is no previous menu; "" -> hang up
    type = NodeType.BACK

    def targets(self):
        return [("fallback", self.fallback)] if self.fallback else []


@dataclass(frozen=True)
class Flows:
    """Every IVR node by name. An entry point is any node name (trunk groups name theirs)."""

    nodes: Mapping
    prompt_dirs: tuple = ()
    where: str = "ivr"

    def __getitem__(self, name):
        return self.nodes[name]

    def __contains__(self, name):
        return name in self.nodes

    def __iter__(self):
        return iter(self.nodes)

    def __len__(self):
        return len(self.nodes)

    @cached_property
    def schedule_nodes(self):
        """(node name, schedule name) of every schedule node, in order: worked out once per
        Flows (nodes are read-only), as every new IvrSession checks its schedules against
        it."""
        return tuple((node.name, node.schedule) for node in self.nodes.values()
                     if node.type is NodeType.SCHEDULE)

    def prompt_paths(self, prompt):
        """Where a prompt file may be, in search order: an absolute name as is, a relative
        one under each prompt directory (or as is when there are none). Built-ins: none."""
        if prompt.startswith(BUILTIN_PREFIX):
            return []
        if prompt.startswith("/") or not self.prompt_dirs:
            return [prompt]
        return [d.rstrip("/") + "/" + prompt for d in self.prompt_dirs]


def default_dial_policy(number):
    """Outside numbers the IVR may transfer to when the config gives no policy: digits only
    (an optional leading +), 1 to 24 of them. Returns None if allowed, else why not."""
    if not NUMBER_RE.match(number):
        return "is not a dialable number (digits only, optional leading +, at most 24)"
    return None


# ---- parsing -------------------------------------------------------------------------------

_COMMON_KEYS = {"type", "description"}
_RETRY_KEYS = {"fallback", "no_input_prompts", "no_input_limit", "no_input_fallback",
               "invalid_prompts", "invalid_limit", "invalid_fallback", "max_failures"}
_KEYS = {
    NodeType.PLAY: {"prompts", "next", "barge_in"},
    NodeType.MENU: {"prompts", "options", "timeout", "barge_in"} | _RETRY_KEYS,
    NodeType.COLLECT: {"prompts", "variable", "next", "digits", "min_digits", "terminator",
                       "first_digit_timeout", "inter_digit_timeout", "barge_in"} | _RETRY_KEYS,
    NodeType.SCHEDULE: {"schedule", "open", "closed", "holiday"},
    NodeType.LOOKUP: {"key", "fields", "found", "not_found", "timeout"},
    NodeType.QUEUE: {"queue", "priority"},
    NodeType.VOICEMAIL: {"mailbox", "prompts", "max_length", "beep", "next"},
    NodeType.TRANSFER: {"station", "number"},
    NodeType.HANGUP: {"reason"},
    NodeType.GOTO: {"to"},
    NodeType.BACK: {"fallback"},
}

_MISSING = object()


class _Reader:
    """Reads one node's table, collecting issues instead of raising."""

    def __init__(self, parser, name, table):
        self.p = parser
        self.name = name
        self.t = table

    def path(self, *keys):
        return key_path(self.p.where, self.name, *keys)

    def issue(self, keys, message, severity="error"):
        self.p.issues.append(ConfigIssue(self.path(*keys), message, severity))

    def raw(self, key, required=False):
        v = self.t.get(key, _MISSING)
        if v is _MISSING and required:
            self.issue([key], "missing; this node type needs it")
        return v

    def string(self, key, default="", required=False, allowed_re=None, what=""):
        v = self.raw(key, required)
        if v is _MISSING:
            return default
        if not isinstance(v, str) or not v:
            self.issue([key], f"must be a non-empty string, not {v!r}")
            return default
        if allowed_re is not None and not allowed_re.match(v):
            self.issue([key], f"{v!r} is not a valid {what}")
            return default
        return v

    def boolean(self, key, default):
        v = self.raw(key)
        if v is _MISSING:
            return default
        if not isinstance(v, bool):
            self.issue([key], f"must be true or false, not {v!r}")
            return default
        return v

    def integer(self, key, default, lo, hi, required=False):
        v = self.raw(key, required)
        if v is _MISSING:
            return default
        if not isinstance(v, int) or isinstance(v, bool) or not lo <= v <= hi:
            self.issue([key], f"must be a whole number from {lo} to {hi}, not {v!r}")
            return default
        return v

    def seconds(self, key, default_s, hi=MAX_TIMEOUT_S):
        """A time in seconds, kept as ticks (rounded to the nearest, at least one)."""
        v = self.raw(key)
        if v is _MISSING:
            return round(default_s * TICKS_PER_SECOND)
        if (not isinstance(v, (int, float)) or isinstance(v, bool) or v != v
                or not 0 < v <= hi):
            self.issue([key], f"must be a number of seconds, more than 0 and at most {hi:g},"
                              f" not {v!r}")
            return round(default_s * TICKS_PER_SECOND)
        return max(1, round(v * TICKS_PER_SECOND))

    def prompts(self, key, required=False):
        v = self.raw(key, required)
        if v is _MISSING:
            return ()
        if isinstance(v, str):
            v = [v]
            single = True
        else:
            single = False
        if not isinstance(v, list) or (required and not v):
            self.issue([key], "must be a prompt file name or a non-empty list of them,"
                              f" not {v!r}")
            return ()
        out = []
        for i, p in enumerate(v):
            keys = [key] if single else [key, i]
            if not isinstance(p, str) or not p.strip():
                self.issue(keys, f"must be a prompt file name, not {p!r}")
            elif p.startswith(BUILTIN_PREFIX):
                if p[len(BUILTIN_PREFIX):] not in BUILTIN_PROMPTS:
                    self.issue(keys, f"{p!r} is not a built-in prompt; there are: "
                               + ", ".join(BUILTIN_PREFIX + b for b in sorted(BUILTIN_PROMPTS)))
                else:
                    out.append(p)
            elif "\0" in p or ".." in p.split("/"):
                self.issue(keys, f"{p!r} may not contain '..' or NUL")
            else:
                out.append(p)
        return tuple(out)

    def target(self, key, required=True, keys=None):
        """A node name this node goes to; must be a node of the table."""
        v = self.raw(key, required) if keys is None else key
        keys = [key] if keys is None else keys
        if v is _MISSING:
            return ""
        if not isinstance(v, str) or not v:
            self.issue(keys, f"must name a node, not {v!r}")
            return ""
        if v not in self.p.names:
            msg = f"goes to {v!r}, which is not a node"
            close = difflib.get_close_matches(v, sorted(self.p.names), n=1)
            if close:
                msg += f" (did you mean {close[0]!r}?)"
            self.issue(keys, msg)
            return ""
        return v

    def unknown_keys(self, allowed):
        for k in self.t:
            if k not in allowed:
                self.issue([k], "is not a setting of a "
                           f"{self.t.get('type')} node; allowed: " + ", ".join(sorted(allowed)))

    def retry(self):
        fallback = self.target("fallback")
        no_input_limit = self.integer("no_input_limit", 3, 1, MAX_LIMIT)
        invalid_limit = self.integer("invalid_limit", 3, 1, MAX_LIMIT)
        max_failures = self.integer("max_failures", None, 1, 2 * MAX_LIMIT)
        return Retry(
            fallback=fallback,
            no_input_prompts=self.prompts("no_input_prompts"),
            no_input_limit=no_input_limit,
            no_input_fallback=self.target("no_input_fallback", required=False),
            invalid_prompts=self.prompts("invalid_prompts"),
            invalid_limit=invalid_limit,
            invalid_fallback=self.target("invalid_fallback", required=False),
            max_failures=max_failures,
        )


class _Parser:
    def __init__(self, where, queues, stations, schedules, dial_policy):
        self.where = where
        self.queues = set(queues)
        self.stations = set(stations)
        self.schedules = None if schedules is None else set(schedules)
        self.dial_policy = dial_policy
        self.issues = []
        self.names = set()

    def known(self, r, key, value, names, what):
        if value and value not in names:
            msg = f"{value!r} is not a configured {what}"
            close = difflib.get_close_matches(value, sorted(names), n=1)
            if close:
                msg += f" (did you mean {close[0]!r}?)"
            elif not names:
                msg += f" (no {what}s are configured)"
            r.issue([key], msg)
            return ""
        return value

    def node(self, name, table):
        r = _Reader(self, name, table)
        t = table.get("type", _MISSING)
        if t is _MISSING:
            r.issue(["type"], f"missing; one of {NODE_TYPE_NAMES}")
            return None
        try:
            ntype = NodeType(t)
        except (ValueError, TypeError):
            r.issue(["type"], f"{t!r} is not a node type; one of {NODE_TYPE_NAMES}")
            return None
        r.unknown_keys(_KEYS[ntype] | _COMMON_KEYS)
        r.string("description")
        return getattr(self, "_" + ntype.value)(r, name)

    def _play(self, r, name):
        return PlayNode(name, prompts=r.prompts("prompts", required=True),
                        next=r.target("next"), barge_in=r.boolean("barge_in", False))

    def _menu(self, r, name):
        options = {}
        raw = r.raw("options", required=True)
        if raw is not _MISSING:
            if not isinstance(raw, dict) or not raw:
                r.issue(["options"], "must be a table of digit = node, e.g. { 1 = \"sales\" }")
            else:
                for digit, target in raw.items():
                    if len(digit) != 1 or digit not in DTMF_DIGITS:
                        r.issue(["options", digit], f"{digit!r} is not one DTMF digit"
                                                    f" ({DTMF_DIGITS})")
                        continue
                    t = r.target(target, keys=["options", digit])
                    if t:
                        options[digit] = t
        return MenuNode(name, prompts=r.prompts("prompts", required=True),
                        options=MappingProxyType(options),
                        timeout_ticks=r.seconds("timeout", 5.0),
                        barge_in=r.boolean("barge_in", True), retry=r.retry())

    def _collect(self, r, name):
        max_digits = r.integer("digits", 1, 1, MAX_COLLECT_DIGITS, required=True)
        min_digits = r.integer("min_digits", max_digits, 1, MAX_COLLECT_DIGITS)
        if min_digits > max_digits:
            r.issue(["min_digits"], f"{min_digits} is more than digits = {max_digits}")
            min_digits = max_digits
        term = r.raw("terminator")
        if term is _MISSING:
            term = "#"
        elif not isinstance(term, str) or term not in ("", "#", "*"):
            r.issue(["terminator"], f"must be \"#\", \"*\" or \"\" (none), not {term!r}")
            term = "#"
        return CollectNode(
            name, prompts=r.prompts("prompts", required=True),
            variable=r.string("variable", required=True, allowed_re=VARIABLE_RE,
                              what="variable name (letters, digits, _ and .)"),
            next=r.target("next"), max_digits=max_digits, min_digits=min_digits,
            terminator=term,
            first_digit_timeout_ticks=r.seconds("first_digit_timeout", 5.0),
            inter_digit_timeout_ticks=r.seconds("inter_digit_timeout", 3.0),
            barge_in=r.boolean("barge_in", True), retry=r.retry())

    def _schedule(self, r, name):
        sched = r.string("schedule", required=True)
        if self.schedules is not None:
            sched = self.known(r, "schedule", sched, self.schedules, "schedule")
        return ScheduleNode(name, schedule=sched, open=r.target("open"),
                            closed=r.target("closed"),
                            holiday=r.target("holiday", required=False))

    def _lookup(self, r, name):
        fields = {}
        raw = r.raw("fields")
        if raw is not _MISSING:
            if not isinstance(raw, dict):
                r.issue(["fields"], "must be a table of variable = \"record field\"")
            else:
                for var, fld in raw.items():
                    if not VARIABLE_RE.match(var):
                        r.issue(["fields", var], f"{var!r} is not a valid variable name")
                    elif not isinstance(fld, str) or not fld:
                        r.issue(["fields", var], f"must name a record field, not {fld!r}")
                    else:
                        fields[var] = fld
        found = r.target("found")
        not_found = r.target("not_found", required=False) or found
        return LookupNode(name, key=r.string("key", "caller", allowed_re=VARIABLE_RE,
                                             what="variable name"),
                          fields=MappingProxyType(fields), found=found, not_found=not_found,
                          timeout_ticks=r.seconds("timeout", 2.0))

    def _queue(self, r, name):
        q = r.string("queue", required=True)
        q = self.known(r, "queue", q, self.queues, "queue")
        return QueueNode(name, queue=q, priority=r.integer("priority", 0, 0, 9))

    def _voicemail(self, r, name):
        return VoicemailNode(
            name, mailbox=r.string("mailbox", required=True, allowed_re=NAME_RE,
                                   what="mailbox name (letters, digits, _ and -)"),
            prompts=r.prompts("prompts"),
            max_length_ticks=r.seconds("max_length", 120.0, hi=MAX_RECORDING_S),
            beep=r.boolean("beep", True), next=r.target("next", required=False))

    def _transfer(self, r, name):
        station = r.string("station")
        number = r.string("number")
        if station and number:
            r.issue(["number"], "give either station or number, not both")
        elif not station and not number and "station" not in r.t and "number" not in r.t:
            r.issue(["station"], "missing; a transfer needs a station or a number")
        station = self.known(r, "station", station, self.stations, "station")
        if number:
            why = (self.dial_policy or default_dial_policy)(number)
            if why:
                r.issue(["number"], f"{number!r} {why}")
                number = ""
        return TransferNode(name, station=station, number=number)

    def _hangup(self, r, name):
        return HangupNode(name, reason=r.string("reason", "ivr"))

    def _goto(self, r, name):
        return GotoNode(name, to=r.target("to"))

    def _back(self, r, name):
        return BackNode(name, fallback=r.target("fallback", required=False))


def parse_flows(table, *, where="ivr", queues=(), stations=(), prompt_dirs=(), schedules=None,
                dial_policy: Optional[Callable[[str], Optional[str]]] = None):
    """Parses the `[ivr]` table (node name -> node table) into Flows.

    queues, stations: the names configured elsewhere, which queue and transfer nodes must
    use. schedules: the schedule names, or None to leave them unchecked. dial_policy:
    number -> None if an outside transfer is allowed, else the reason (default: any number
    of 1 to 24 digits). Returns (Flows, issues): every issue found, with its key path; the
    Flows hold only the nodes that parsed cleanly, so use them only if no issue is an error.
    """
    p = _Parser(where, queues, stations, schedules, dial_policy)
    nodes = {}
    dirs = []
    for i, d in enumerate(prompt_dirs):
        if not isinstance(d, str) or not d:
            p.issues.append(ConfigIssue(key_path(where, "prompt_dirs", i),
                                        f"must be a directory name, not {d!r}"))
        else:
            dirs.append(d)
    if not isinstance(table, dict):
        p.issues.append(ConfigIssue(where, "must be a table of IVR nodes"))
        return Flows(MappingProxyType({}), tuple(dirs), where), p.issues
    p.names = {n for n, t in table.items() if isinstance(t, dict)}
    for name, node_table in table.items():
        if not isinstance(node_table, dict):
            p.issues.append(ConfigIssue(key_path(where, name),
                                        "must be a table (a node with a type)"))
            continue
        if not NAME_RE.match(name):
            p.issues.append(ConfigIssue(key_path(where, name), f"{name!r} is not a valid node"
                                        " name (letter or _, then letters, digits, _ or -)"))
            continue
        before = len(p.issues)
        node = p.node(name, node_table)
        if node is not None and not any(i.severity == "error" for i in p.issues[before:]):
            nodes[name] = node
    return Flows(MappingProxyType(nodes), tuple(dirs), where), p.issues

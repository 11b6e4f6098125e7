"""Scenario files: the board, the exchange, the callers, the agents' phones and far-end
signals of one emulator run, in TOML (the format is documented in README.md here).

`load_scenario(path)` / `parse_scenario(text, source)` read and validate a file strictly:
an unknown key, a value out of range, a caller on a port that is not an FXO line... raise
`EmulatorConfigError`, whose message names the file, the key path
(``callers[1].actions[2].press``) and the fix. `Scenario.build()` makes the `VirtualBoard`
with every person attached; `run_scenario` runs it for its length against a host callback
and returns the report.
"""

import datetime
import importlib
import tomllib
from dataclasses import dataclass, replace
from pathlib import Path

from appliance.drivers.emulator.board import VirtualBoard
from appliance.drivers.emulator.errors import EmulatorConfigError, Reader
from appliance.drivers.emulator.events import Alarm
from appliance.drivers.emulator.exchange import (
    CALLER_ID_FORMATS, CallerIdTiming, ClearSignal, ExchangeConfig, LineConfig,
)
from appliance.drivers.emulator.model import BoardModel, PortKind, parse_model
from appliance.drivers.emulator.people import (
    CalleeSpec, CallerSpec, Flash, HangUp, PhoneSpec, Press, Talk, Wait, WaitForAgent, ticks,
)
from appliance.drivers.emulator.signals import fsk_caller_id_available
from appliance.dsp.toneplan import ToneplanError, load_plan
from appliance.dtmf.digits import DIGITS

MAX_SECONDS = 7 * 24 * 3600.0


@dataclass(frozen=True)
class Signal:
    """A far-end E1 signal at tick `at`: ABCD bits on a channel, or a span's alarms."""

    at: int
    port: int | None = None
    abcd: int | None = None
    span: int | None = None
    alarms: Alarm | None = None


@dataclass(frozen=True)
class Scenario:
    source: str
    model: BoardModel
    exchange: ExchangeConfig
    callers: tuple
    phones: tuple
    signals: tuple
    callees: tuple
    seconds: float
    seed: int
    start_time: datetime.datetime | None
    e1_loopback: bool

    @property
    def ticks(self):
        return ticks(self.seconds)

    def build(self):
        """A VirtualBoard with this scenario's people and signals on it."""
        board = VirtualBoard(self.model, self.exchange, seed=self.seed,
                             start_time=self.start_time, e1_loopback=self.e1_loopback)
        for spec in self.phones:
            board.add_phone(spec)
        for spec in self.callers:
            board.add_caller(spec)
        for spec in self.callees:
            board.add_callee(spec)
        for sig in self.signals:
            if sig.port is not None:
                board.at(sig.at, lambda n, s=sig: board.set_far_abcd(s.port, s.abcd))
            else:
                board.at(sig.at, lambda n, s=sig: board.set_alarms(s.span, s.alarms))
        return board


def run_scenario(scenario, host=None, clock=None):
    """Run `scenario` for its length: the board starts a session (hello), then host(board,
    result) -> tx is called after every tick. Returns (board, report)."""
    board = scenario.build()
    board.hello()
    board.run(scenario.ticks, None if host is None else (lambda r: host(board, r)), clock)
    board.finish()
    return board, board.report()


def load_scenario(path):
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise EmulatorConfigError(path, None, f"cannot read the scenario ({exc.strerror}); "
                                  "give the path of a .toml scenario file") from None
    except UnicodeDecodeError:
        raise EmulatorConfigError(path, None, "not UTF-8 text; save it as UTF-8") from None
    return parse_scenario(text, str(path))


def parse_scenario(text, source="<scenario>"):
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise EmulatorConfigError(source, None, f"not valid TOML ({exc}); fix the syntax") \
            from None
    return _Parser(source).scenario(doc)


_ACTIONS_CALLER = ("listen_s", "press", "talk_s", "wait_for_agent_s", "hang_up")
_ACTIONS_PHONE = ("listen_s", "press", "talk_s", "flash_s", "hang_up")
_PRESS_OPTIONS = ("level_dbm0", "twist_db", "on_ms", "off_ms")


class _Parser(Reader):
    def scenario(self, doc):
        self.table(doc, "", ("board", "run", "exchange", "callers", "phones", "callees",
                             "signals"), required=("board",))
        model = parse_model(doc["board"], self, "board")
        run = self.table(doc.get("run", {}), "run", ("seconds", "seed", "start", "e1_loopback"))
        seed = self.integer(run.get("seed", 0), "run.seed", 0, 2**63 - 1)
        start = run.get("start")
        if start is not None and not isinstance(start, datetime.datetime):
            self.fail("run.start", f"must be a TOML date-time such as 2026-11-23T09:00:00, "
                      f"not {start!r}")
        loopback = self.boolean(run.get("e1_loopback", False), "run.e1_loopback")
        exchange = self.exchange(doc.get("exchange", {}), model)
        phones = tuple(self.phone(p, f"phones[{i}]", model)
                       for i, p in enumerate(self.tables(doc.get("phones", []), "phones")))
        callers = tuple(self.caller(c, f"callers[{i}]", model, exchange)
                        for i, c in enumerate(self.tables(doc.get("callers", []), "callers")))
        callees = tuple(self.callee(c, f"callees[{i}]")
                        for i, c in enumerate(self.tables(doc.get("callees", []), "callees")))
        numbers = {}
        for i, callee in enumerate(callees):
            if callee.number in numbers:
                self.fail(f"callees[{i}].number", f"{callee.number} is also the number of "
                          f"{numbers[callee.number]}; give every callee a different number")
            numbers[callee.number] = f"callees[{i}]"
        names = {}
        for kind, people in (("callers", callers), ("phones", phones), ("callees", callees)):
            for i, person in enumerate(people):
                if person.name in names:
                    self.fail(f"{kind}[{i}].name", f"{person.name!r} is also the name of "
                              f"{names[person.name]}; give every person a different name")
                names[person.name] = f"{kind}[{i}]"
        ports = {}
        for i, phone in enumerate(phones):
            if phone.port in ports:
                self.fail(f"phones[{i}].port", f"port {phone.port} already has "
                          f"{ports[phone.port]}; one phone per FXS port")
            ports[phone.port] = f"phones[{i}]"
        signals = tuple(self.signal(s, f"signals[{i}]", model)
                        for i, s in enumerate(self.tables(doc.get("signals", []), "signals")))
        last = max([c.at for c in callers] + [s.at for s in signals] + [0]) * 0.02
        default_seconds = last + 60.0
        seconds = self.number(run.get("seconds", default_seconds), "run.seconds", 0.02,
                              MAX_SECONDS, " seconds")
        return Scenario(self.source, model, exchange, callers, phones, signals, callees, seconds,
                        seed, start, loopback)

    # -- exchange --
    _LINE_KEYS = ("tone_plan", "ring_cadence_s", "caller_id", "caller_id_timing",
                  "caller_id_delay_s", "caller_id_level_dbm0", "clear_signal", "loop_drop_s",
                  "busy_after_clear", "answer_polarity", "interdigit_timeout_s")

    def exchange(self, doc, model):
        self.table(doc, "exchange", ("profile",) + self._LINE_KEYS + ("lines",))
        base = LineConfig()
        if "profile" in doc:
            base = self.profile(doc["profile"], "exchange.profile")
        default = self.line_config(doc, "exchange", base)
        lines = {}
        for i, line in enumerate(self.tables(doc.get("lines", []), "exchange.lines")):
            key = f"exchange.lines[{i}]"
            self.table(line, key, ("port",) + self._LINE_KEYS, required=("port",))
            port = self.port(line["port"], f"{key}.port", model, PortKind.FXO)
            if port in lines:
                self.fail(f"{key}.port", f"port {port} is given twice; merge the two tables")
            lines[port] = self.line_config(line, key, default)
        return ExchangeConfig(default, lines)

    def profile(self, value, key):
        name = self.string(value, key)
        try:
            profiles = importlib.import_module("appliance.drivers.profiles")
        except ModuleNotFoundError:
            self.fail(key, "country profiles need appliance.drivers.profiles, which this "
                      "build lacks; give ring_cadence_s, caller_id and tone_plan instead")
        try:
            profile = profiles.load_profile(name)
        except ValueError as exc:  # ProfileError names the profile file and its key
            self.fail(key, str(exc))
        config = LineConfig.from_profile(profile)
        if config.caller_id in ("bell202", "v23") and not fsk_caller_id_available():
            config = replace(config, caller_id="dtmf")
        return config

    def line_config(self, doc, key, base):
        changes = {}
        if "tone_plan" in doc:
            plan = self.string(doc["tone_plan"], f"{key}.tone_plan")
            try:
                load_plan(plan)
            except ToneplanError as exc:
                self.fail(f"{key}.tone_plan", str(exc))
            changes["tone_plan"] = plan
        if "ring_cadence_s" in doc:
            value = doc["ring_cadence_s"]
            k = f"{key}.ring_cadence_s"
            if not isinstance(value, list) or not 2 <= len(value) <= 8 or len(value) % 2:
                self.fail(k, "must be on, off pairs in seconds (1 to 4 pairs), e.g. [1.0, 4.0]")
            cadence = tuple(self.number(v, f"{k}[{j}]", 0.0 if j % 2 else 0.02, 30.0,
                                        " seconds") for j, v in enumerate(value))
            changes["ring_cadence_s"] = cadence
        if "caller_id" in doc:
            fmt = self.string(doc["caller_id"], f"{key}.caller_id",
                              CALLER_ID_FORMATS + ("none", "auto"))
            if fmt in ("bell202", "v23") and not fsk_caller_id_available():
                self.fail(f"{key}.caller_id", f"{fmt} is FSK caller ID, which needs "
                          "appliance.dsp.callerid (not in this build); use \"dtmf\"")
            changes["caller_id"] = None if fmt == "none" else fmt
        if "caller_id_timing" in doc:
            changes["caller_id_timing"] = CallerIdTiming(self.string(
                doc["caller_id_timing"], f"{key}.caller_id_timing",
                tuple(t.value for t in CallerIdTiming)))
        if "caller_id_delay_s" in doc:
            changes["caller_id_delay_s"] = self.number(doc["caller_id_delay_s"],
                                                       f"{key}.caller_id_delay_s", 0.0, 10.0,
                                                       " seconds")
        if "caller_id_level_dbm0" in doc:
            changes["caller_id_level_dbm0"] = self.number(doc["caller_id_level_dbm0"],
                                                          f"{key}.caller_id_level_dbm0", -60.0,
                                                          0.0, " dBm0")
        if "clear_signal" in doc:
            changes["clear_signal"] = ClearSignal(self.string(
                doc["clear_signal"], f"{key}.clear_signal", tuple(c.value for c in ClearSignal)))
        if "loop_drop_s" in doc:
            changes["loop_drop_s"] = self.number(doc["loop_drop_s"], f"{key}.loop_drop_s",
                                                 0.02, 10.0, " seconds")
        if "busy_after_clear" in doc:
            changes["busy_after_clear"] = self.boolean(doc["busy_after_clear"],
                                                       f"{key}.busy_after_clear")
        if "answer_polarity" in doc:
            changes["answer_polarity"] = self.boolean(doc["answer_polarity"],
                                                      f"{key}.answer_polarity")
        if "interdigit_timeout_s" in doc:
            changes["interdigit_timeout_s"] = self.number(doc["interdigit_timeout_s"],
                                                          f"{key}.interdigit_timeout_s", 0.5,
                                                          30.0, " seconds")
        fields = {f: getattr(base, f) for f in self._LINE_KEYS}
        fields.update(changes)
        return LineConfig(**fields)

    # -- people --
    def port(self, value, key, model, kind):
        port = self.integer(value, key, 0, len(model.ports) - 1)
        actual = model.ports[port].kind
        if actual is not kind:
            self.fail(key, f"port {port} is {actual.name}, not {kind.name}; the board's "
                      f"{kind.name} ports are {_ranges(model.ports_of(kind)) or 'none'}")
        return port

    def when(self, doc, key):
        return ticks(self.number(doc.get("at_s", 0.0), key, 0.0, MAX_SECONDS, " seconds"))

    def name(self, doc, key):
        name = self.string(doc["name"], key)
        if not name:
            self.fail(key, "must not be empty")
        return name

    def noise(self, doc, key):
        if "noise_dbm0" not in doc:
            return None
        return self.number(doc["noise_dbm0"], key, -90.0, -10.0, " dBm0")

    def caller(self, doc, key, model, exchange):
        self.table(doc, key, ("name", "line", "at_s", "number", "caller_name",
                              "ring_patience_s", "noise_dbm0", "actions"),
                   required=("name", "line"))
        line = self.port(doc["line"], f"{key}.line", model, PortKind.FXO)
        number = doc.get("number")
        if number is not None:
            number = self.string(number, f"{key}.number")
            if not number.isdigit() or not 2 <= len(number) <= 20:
                self.fail(f"{key}.number", f"must be 2 to 20 digits 0-9, not {number!r}")
        caller_name = doc.get("caller_name")
        if caller_name is not None:
            caller_name = self.string(caller_name, f"{key}.caller_name")
            if not caller_name.isascii() or not 1 <= len(caller_name) <= 15:
                self.fail(f"{key}.caller_name", "must be 1 to 15 ASCII characters (what FSK "
                          "caller ID can carry)")
        return CallerSpec(
            name=self.name(doc, f"{key}.name"), line=line, at=self.when(doc, f"{key}.at_s"),
            number=number, caller_name=caller_name,
            ring_patience_s=self.number(doc.get("ring_patience_s", 30.0),
                                        f"{key}.ring_patience_s", 0.0, 3600.0, " seconds"),
            noise_dbm0=self.noise(doc, f"{key}.noise_dbm0"),
            actions=self.actions(doc.get("actions", []), f"{key}.actions", _ACTIONS_CALLER))

    def callee(self, doc, key):
        self.table(doc, key, ("name", "number", "answer_after_s", "answer", "busy",
                              "noise_dbm0", "actions"), required=("name", "number"))
        number = self.string(doc["number"], f"{key}.number")
        if not number.isdigit() or not 1 <= len(number) <= 20:
            self.fail(f"{key}.number", f"must be 1 to 20 digits 0-9 (what the box dials), "
                      f"not {number!r}")
        answer = self.boolean(doc.get("answer", True), f"{key}.answer")
        after = self.number(doc.get("answer_after_s", 5.0), f"{key}.answer_after_s", 0.0,
                            3600.0, " seconds")
        return CalleeSpec(name=self.name(doc, f"{key}.name"), number=number,
                          answer_after_s=after if answer else None,
                          busy=self.boolean(doc.get("busy", False), f"{key}.busy"),
                          noise_dbm0=self.noise(doc, f"{key}.noise_dbm0"),
                          actions=self.actions(doc.get("actions", []), f"{key}.actions",
                                               _ACTIONS_CALLER))

    def phone(self, doc, key, model):
        self.table(doc, key, ("name", "port", "answer_after_s", "answer", "noise_dbm0",
                              "actions", "calls"), required=("name", "port"))
        port = self.port(doc["port"], f"{key}.port", model, PortKind.FXS)
        answer = self.boolean(doc.get("answer", True), f"{key}.answer")
        after = self.number(doc.get("answer_after_s", 2.0), f"{key}.answer_after_s", 0.0,
                            3600.0, " seconds")
        calls = []
        for i, call in enumerate(self.tables(doc.get("calls", []), f"{key}.calls")):
            ck = f"{key}.calls[{i}]"
            self.table(call, ck, ("at_s", "actions"), required=("at_s",))
            calls.append((self.when(call, f"{ck}.at_s"),
                          self.actions(call.get("actions", []), f"{ck}.actions",
                                       _ACTIONS_PHONE)))
        return PhoneSpec(name=self.name(doc, f"{key}.name"), port=port,
                         answer_after_s=after if answer else None,
                         actions=self.actions(doc.get("actions", []), f"{key}.actions",
                                              _ACTIONS_PHONE),
                         calls=tuple(calls), noise_dbm0=self.noise(doc, f"{key}.noise_dbm0"))

    def actions(self, value, key, allowed):
        if not isinstance(value, list):
            self.fail(key, "must be an array of action tables, e.g. [{ listen_s = 2.0 }, "
                      "{ press = \"1\" }, { hang_up = true }]")
        return tuple(self.action(a, self.join(key, i), allowed) for i, a in enumerate(value))

    def action(self, doc, key, allowed):
        if not isinstance(doc, dict):
            self.fail(key, f"must be a table with one of {', '.join(allowed)}")
        kinds = [k for k in doc if k in _ACTIONS_CALLER + _ACTIONS_PHONE]
        if len(kinds) != 1:
            self.fail(key, f"give exactly one of {', '.join(allowed)}")
        kind = kinds[0]
        if kind not in allowed:
            self.fail(f"{key}.{kind}", f"not an action here; allowed: {', '.join(allowed)}")
        options = {"press": _PRESS_OPTIONS, "talk_s": ("level_dbm0",)}.get(kind, ())
        self.table(doc, key, (kind,) + options)
        k = f"{key}.{kind}"
        if kind == "listen_s":
            return Wait(self.number(doc[kind], k, 0.0, MAX_SECONDS, " seconds"))
        if kind == "wait_for_agent_s":
            return WaitForAgent(self.number(doc[kind], k, 0.0, MAX_SECONDS, " seconds"))
        if kind == "flash_s":
            return Flash(self.number(doc[kind], k, 0.02, 2.0, " seconds"))
        if kind == "hang_up":
            if doc[kind] is not True:
                self.fail(k, "must be true (leave the action out to stay on the line)")
            return HangUp()
        if kind == "talk_s":
            return Talk(self.number(doc[kind], k, 0.02, 3600.0, " seconds"),
                        self.number(doc.get("level_dbm0", -20.0), f"{key}.level_dbm0", -60.0,
                                    0.0, " dBm0"))
        digits = self.string(doc[kind], k)
        if not digits or any(d not in DIGITS for d in digits.upper()):
            self.fail(k, f"must be keypad digits from {DIGITS}, not {digits!r}")
        return Press(digits.upper(),
                     self.number(doc.get("level_dbm0", -10.0), f"{key}.level_dbm0", -60.0, 0.0,
                                 " dBm0"),
                     self.number(doc.get("twist_db", 0.0), f"{key}.twist_db", -20.0, 20.0,
                                 " dB"),
                     self.number(doc.get("on_ms", 100.0), f"{key}.on_ms", 10.0, 5000.0, " ms"),
                     self.number(doc.get("off_ms", 100.0), f"{key}.off_ms", 0.0, 5000.0, " ms"))

    def signal(self, doc, key, model):
        self.table(doc, key, ("at_s", "port", "abcd", "span", "alarms"), required=("at_s",))
        at = self.when(doc, f"{key}.at_s")
        if "port" in doc:
            if "span" in doc or "alarms" in doc:
                self.fail(key, "a signal is either { port, abcd } or { span, alarms }")
            if "abcd" not in doc:
                self.fail(f"{key}.abcd", "missing; add the ABCD bits, e.g. 0b1101")
            port = self.port(doc["port"], f"{key}.port", model, PortKind.E1)
            return Signal(at, port=port, abcd=self.integer(doc["abcd"], f"{key}.abcd", 0, 15))
        if "span" not in doc or "alarms" not in doc:
            self.fail(key, "give { port, abcd } (an E1 channel's ABCD bits) or { span, alarms }")
        if "abcd" in doc:
            self.fail(f"{key}.abcd", "only with port; a span takes alarms")
        span = self.integer(doc["span"], f"{key}.span", 0, 7)
        if span not in model.spans:
            self.fail(f"{key}.span", f"the board has no E1 span {span} (spans: "
                      f"{list(model.spans) or 'none'})")
        alarms = doc["alarms"]
        names = [a.name.lower() for a in Alarm]
        if not isinstance(alarms, list) or any(not isinstance(a, str) or a.lower() not in names
                                               for a in alarms):
            self.fail(f"{key}.alarms", f"must be a list of {', '.join(names)} ([] clears them)")
        flags = Alarm(0)
        for a in alarms:
            flags |= Alarm[a.upper()]
        return Signal(at, span=span, alarms=flags)


def _ranges(ports):
    out, start = [], None
    for i, p in enumerate(ports):
        if start is None:
            start = p
        if i + 1 == len(ports) or ports[i + 1] != p + 1:
            out.append(f"{start}" if start == p else f"{start}-{p}")
            start = None
    return ", ".join(out)

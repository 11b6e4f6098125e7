"""`appliance run`: the box's main job.

- ``appliance run [--config F]``: start the box (appliance.engine.box.Box) from the
  configuration and run until SIGINT or SIGTERM (a clean stop: live calls are cut, every
  recording and CDR row is flushed), or until ``--seconds`` of board time. SIGHUP re-reads
  the file: changes to IVR, queues, agents, schedules, recording and the dial policy apply to
  new calls; an invalid file is refused and nothing changes.
- With no ``--config`` (and no $APPLIANCE_CONFIG): /etc/appliance/appliance.toml when it
  exists, otherwise the demo: the shipped sample configuration on its emulated board with
  the shipped scenario of callers and agents (appliance.engine.demo), stopping at the
  scenario's end.

Output: one line per row of the engine's event log as it happens (time since the start in
board time, the call, what happened), ``--json`` one JSON object per line; at the end a
summary of the calls this run saw (dispositions, recordings, where they are). A bad config,
a board that cannot be opened or does not answer, an unwritable data folder: one message on
stderr and exit 2, with nothing left running (appliance.cli.errors).

Under systemd (appliance.service, Type=notify): READY=1 once the engine ticks, WATCHDOG=1
from the tick loop, RELOADING=1 around a SIGHUP reload, STOPPING=1 (appliance.engine
.sd_notify); warnings and errors go to the journal with structured fields (CALL_ID, PORT,
...) when stderr is the journal, or with ``--journal`` (appliance.engine.journal).
``--metrics HOST:PORT`` serves Prometheus metrics (appliance.cti.metrics).
"""

import asyncio
import contextlib
import datetime
import json
import logging
import math
import os
import signal
import zoneinfo
from pathlib import Path

import click

from appliance.cli.errors import UserError, config_error_text
from appliance.config import DEFAULT_PATH, ConfigError, load_config, sample_path

# What a newcomer reads for an event-log kind (others print as they are named).
_KIND_WORDS = {"call_arrived": "arrived", "call_answered": "answered", "call_ended": "ended"}


@click.command()
@click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None,
              envvar="APPLIANCE_CONFIG",
              help=f"The configuration file (TOML); $APPLIANCE_CONFIG also sets it. Default: "
                   f"{DEFAULT_PATH} when it exists, otherwise the demo (see above).")
@click.option("--scenario", "scenario_path", type=click.Path(dir_okay=False), default=None,
              help="A scenario file (TOML: callers, agents' phones) for the config's "
                   "emulated board; it must have the board's ports. Default: nobody calls "
                   "(the demo: its shipped scenario).")
@click.option("--virtual-clock", is_flag=True,
              help="Emulated boards tick as fast as the box keeps up instead of every 20 ms "
                   "(real boards keep their own time).")
@click.option("--seconds", type=click.FloatRange(0.0, min_open=True), default=None,
              metavar="S",
              help="Stop after this many seconds of board time. Default: the scenario's "
                   "length with a scenario (the demo: 120 s), otherwise until SIGINT or "
                   "SIGTERM.")
@click.option("--json", "as_json", is_flag=True,
              help="One JSON object per line instead of text.")
@click.option("--journal/--no-journal", default=None,
              help="Warnings and errors to systemd's journal with structured fields "
                   "(CALL_ID, PORT, QUEUE, AGENT, ...) instead of stderr. Default: when "
                   "stderr is the journal already (run by systemd).")
@click.option("--metrics", "metrics_at", default=None, metavar="HOST:PORT",
              help="Serve Prometheus metrics at http://HOST:PORT/metrics (e.g. "
                   "127.0.0.1:9464; port 0 picks a free one, printed at the start).")
@click.option("--socket", "socket", type=click.Path(dir_okay=False), default=None,
              help="Serve the control socket (what `appliance status`, `agents`, `calls` "
                   "... talk to) here. Default: control.sock in storage.data_dir.")
def run(config_path, scenario_path, virtual_clock, seconds, as_json, journal, metrics_at,
        socket):
    """Run the box: answer calls, run the IVR, queue callers to agents, record, write CDRs.

    With no configuration file (neither --config nor /etc/appliance/appliance.toml), this
    runs the demo: the sample configuration shipped with the package (its path is the
    first line printed) on its emulated board, with scripted callers who press 1 or 2 at
    the menu, wait in the queue and talk to the agents (16 calls in 120 s of board time).
    It stops by itself at the end of the scenario and exits 0; with --virtual-clock it
    takes about 15 s instead of two minutes. Its database and recordings go to
    ~/.local/share/appliance. Since the sample's queues keep office hours in Asia/Shanghai,
    outside them the demo's clock starts at a moment of the latest office hours instead of
    now, so that the calls reach agents.

    SIGHUP re-reads the configuration file; SIGINT or SIGTERM stop the box cleanly.
    """
    from appliance.drivers.emulator import EmulatorConfigError, load_scenario
    from appliance.engine.demo import office_hours_origin, scenario_path as demo_scenario

    if seconds is not None and not math.isfinite(seconds):
        raise click.BadParameter(f"{seconds} is not a number of seconds; give one such as 60, "
                                 "or leave --seconds out to run until stopped",
                                 param_hint="'--seconds'")
    metrics = None
    if metrics_at is not None:
        from appliance.cti.metrics import parse_address

        try:
            metrics = parse_address(metrics_at)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="'--metrics'") from None
    demo = config_path is None and not Path(DEFAULT_PATH).exists()
    if config_path is None:
        config_path = str(sample_path() if demo else DEFAULT_PATH)
        if demo and scenario_path is None:
            scenario_path = str(demo_scenario())
    config = load_config(config_path)  # a ConfigError: every issue on stderr, exit 2
    for issue in config.warnings:
        click.echo(f"warning: {issue}", err=True)
    scenario = None
    if scenario_path is not None:
        try:
            scenario = load_scenario(scenario_path)
        except EmulatorConfigError as exc:
            raise UserError(str(exc)) from None
        from appliance.engine.box import scenario_problem

        problem = scenario_problem(config, scenario)
        if problem:
            raise UserError(f"--scenario {scenario_path}: {problem}")
        if seconds is None:
            seconds = scenario.seconds
    emulated = [b for b in config.boards.values() if b.emulated]
    if virtual_clock and not emulated:
        click.echo("warning: --virtual-clock: no board of the configuration is emulated; "
                   "real boards keep their own time", err=True)
    origin_ms = None
    view = EventView(as_json)
    if demo:
        now_ms = int(datetime.datetime.now(datetime.timezone.utc).timestamp() * 1000)
        origin_ms = office_hours_origin(config, seconds or 0.0, now_ms)
        view.note("demo", f"no configuration file ({DEFAULT_PATH} does not exist): the sample "
                          f"configuration {config_path} runs on its emulated board with the "
                          f"scripted callers of {scenario_path}",
                  config=config_path, scenario=scenario_path)
        if origin_ms is not None:
            zone = next(iter(config.schedules.values())).time_zone
            start = datetime.datetime.fromtimestamp(origin_ms / 1000, zoneinfo.ZoneInfo(zone))
            view.note("demo", f"outside office hours now: the board's clock starts at "
                              f"{start:%Y-%m-%d %H:%M:%S} {zone}, in the sample's office "
                              f"hours, so that the calls reach agents",
                      origin=start.isoformat())
    from appliance.engine.box import Box
    from appliance.engine.journal import JOURNAL_SOCKET, journal_available, under_journal

    if journal is None:
        journal = under_journal()
    elif journal and not journal_available():
        raise UserError(f"--journal: no journal socket at {JOURNAL_SOCKET} (is systemd-journald "
                        "running?); leave --journal out to log on stderr")
    from appliance.cti.control import ControlServer, socket_path

    control = Path(socket) if socket else socket_path(config)
    box = Box(config, scenario=scenario, virtual=virtual_clock, until_s=seconds,
              origin_ms=origin_ms, config_path=config_path,
              services=[lambda box: ControlServer(box, control)])
    with _log_to_stderr(journal):
        asyncio.run(_run(box, view, seconds, virtual_clock, metrics))
    view.summary(box)


async def _run(box, view, seconds, virtual, metrics=None):
    from appliance.cti.control import ControlError
    from appliance.drivers.board import BoardUnavailable
    from appliance.drivers.transport import TransportError
    from appliance.engine.sd_notify import Notifier
    from appliance.store import StoreError

    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    notifier = Notifier.from_environ()  # systemd (Type=notify); nothing otherwise
    server = None
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, _stopper(box, stop))
    with contextlib.suppress(NotImplementedError, RuntimeError):
        loop.add_signal_handler(signal.SIGHUP, lambda: _reload(box, view, notifier))
    try:
        try:
            await box.start()
        except (TransportError, BoardUnavailable) as exc:
            raise UserError(_board_failure(box, exc)) from None
        except (StoreError, ControlError) as exc:
            raise UserError(str(exc)) from None
        except OSError as exc:
            source = box.config.source
            fix = (f"copy {source}, set storage.data_dir in the copy to a folder you may "
                   "write and run with --config COPY" if source == str(sample_path()) else
                   f"set storage.data_dir in {source} to a folder the box may write")
            raise UserError(f"storage: cannot write in {box.config.storage.data_dir} "
                            f"({exc.strerror or exc}); {fix}") from None
        if box.closed_on_start:
            view.note("recovered", f"{len(box.closed_on_start)} call(s) a previous run left "
                                   "open were closed", calls=list(box.closed_on_start))
        if metrics is not None:
            server = await _serve_metrics(box, view, *metrics)
        box.engine.listeners.append(view.event)
        view.started(box, seconds, virtual)
        notifier.watch(box.engine)  # READY=1 at the first tick, then WATCHDOG=1 and STATUS=
        if not stop.is_set():
            await box.engine.run()
    finally:
        notifier.stopping()
        notifier.close()
        if server is not None:
            server.close()
        await box.close()
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(sig)


async def _serve_metrics(box, view, host, port):
    from appliance.cti.metrics import start_metrics

    try:
        server = await start_metrics(box, host, port)
    except OSError as exc:
        raise UserError(f"--metrics {host}:{port}: cannot listen there "
                        f"({exc.strerror or exc}); pick another port or address") from None
    bound = server.sockets[0].getsockname()
    where = f"[{bound[0]}]" if ":" in bound[0] else bound[0]
    url = f"http://{where}:{bound[1]}/metrics"
    view.note("metrics", url, url=url)
    return server


def _stopper(box, stop):
    def handler():
        stop.set()
        if box.engine is not None:
            box.engine.stop()
    return handler


def _board_failure(box, exc):
    """One line: which board, what went wrong, and where to fix it."""
    name = next((n for n in box.config.boards if n not in box.boards), "?")
    text = f"board {name!r}: {exc}".rstrip(". ")
    joint = " " if text.endswith("?") else "; "
    hint = "" if "boards list" in text else \
        f"{joint}`appliance boards list` shows the boards present"
    return f"{text}{hint}; its URL is boards.{name}.url in {box.config.source}"


def _reload(box, view, notifier):
    """SIGHUP: re-read the configuration file and say what it changed."""
    if box.engine is None:
        view.reload_refused("the box is still starting; send SIGHUP again once it runs", [])
        return
    notifier.reloading()
    try:
        outcome = box.reload()
    except OSError as exc:
        view.reload_refused(f"cannot read {box.config_path} ({exc.strerror or exc})", [])
        return
    finally:
        notifier.ready()
    if isinstance(outcome, ConfigError):
        view.reload_refused(config_error_text(outcome).splitlines()[0],
                            [i for i in outcome.issues])
    else:
        view.reload_applied(outcome)


class EventView:
    """What `appliance run` prints: text lines or JSON lines, on stdout."""

    def __init__(self, as_json):
        self.as_json = as_json
        self.origin_ms = None
        self.callers = {}  # call id -> caller number, once the queue told it
        self.calls = []  # call ids in the order this run saw them
        self._seen = set()
        self._engine = None

    def _json(self, record):
        click.echo(json.dumps(record, ensure_ascii=False))

    def _time(self, time_ms=None):
        """Board time since the start, mm:ss.cc (h:mm:ss.cc after an hour)."""
        if self._engine is None:
            return 0.0, "--:--.--"
        if time_ms is None:
            time_ms = self._engine.calendar.ms(self._engine.now)
        seconds = max(0.0, (time_ms - self._engine.calendar.origin_ms) / 1000.0)
        minutes, rest = divmod(seconds, 60.0)
        hours, minutes = divmod(int(minutes), 60)
        text = f"{minutes:02d}:{rest:05.2f}"
        return seconds, (f"{hours}:{text}" if hours else text)

    def note(self, what, text, **fields):
        if self.as_json:
            self._json({"event": what, **fields})
        else:
            click.echo(f"{what}  {text}")

    def started(self, box, seconds, virtual):
        self._engine = box.engine
        database, recordings = _where(box)
        self.note("database", database, path=database)
        self.note("recordings", recordings, path=recordings)
        for service in box.services:
            if hasattr(service, "path"):  # the control socket
                path = os.path.abspath(service.path)
                self.note("control", f"{path}  (appliance status, agents, calls ... talk "
                                     "to the box here)", path=path)
        boards = ", ".join(f"{name} ({b.url}, {b.ports}"
                           f"{', emulated' if b.emulated else ''})"
                           for name, b in box.config.boards.items())
        clock = "virtual clock" if virtual else "real time"
        until = (f"for {seconds:g} s of board time" if seconds is not None
                 else "until SIGINT or SIGTERM (SIGHUP re-reads the configuration)")
        if self.as_json:
            self._json({"event": "started", "boards": list(box.config.boards),
                        "virtual": virtual, "seconds": seconds})
        else:
            click.echo(f"running  boards {boards}; {clock}, {until}")

    def event(self, entry, time_ms):
        seconds, stamp = self._time(time_ms)
        if entry.call_id is not None and entry.call_id not in self._seen:
            self._seen.add(entry.call_id)
            self.calls.append(entry.call_id)
        data = dict(entry.data or {})
        if entry.kind == "queued" and data.get("caller"):
            self.callers[entry.call_id] = data["caller"]
        if self.as_json:
            self._json({"event": entry.kind, "t_s": round(seconds, 3), "time_ms": time_ms,
                        "call_id": entry.call_id, "queue": entry.queue, "agent": entry.agent,
                        "data": data})
            return
        words = [stamp]
        if entry.call_id is not None:
            words.append(f"call {entry.call_id}")
        words.append(_KIND_WORDS.get(entry.kind, entry.kind))
        words += self._details(entry, data)
        click.echo("  ".join(words))

    def _details(self, entry, data):
        out = []
        if entry.kind == "call_ended":
            out.append(data.pop("disposition", "") or "")
            cause = data.pop("cause", None)
            if cause:
                out.append(f"({cause})")
        if entry.queue:
            out.append(entry.queue)
        caller = data.pop("caller", None)
        if caller:
            out.append(f"caller {caller}")
        station = data.pop("station", None)
        if entry.agent:
            out.append(f"agent {entry.agent}" + (f" at {station}" if station else ""))
        elif station:
            out.append(f"station {station}")
        waited = data.pop("waited_ticks", None)
        if waited is not None:
            out.append(f"waited {waited * 0.02:.1f} s")
        length = data.pop("ticks", None)  # a voicemail's
        if length is not None:
            out.append(f"length {length * 0.02:.1f} s")
        for key in ("first", "transfer", "priority"):
            data.pop(key, None)
        out += [f"{key} {value}" for key, value in data.items()]
        return [w for w in out if w]

    def _reload_line(self, text):
        click.echo(f"{self._time()[1]}  reload  {text}")

    def reload_applied(self, plan):
        if self.as_json:
            self._json({"event": "reload", "t_s": round(self._time()[0], 3),
                        "result": "applied",
                        "changes": [{"path": c.path, "change": c.kind.value,
                                     "restart": c.restart} for c in plan.changes]})
            return
        if not plan.changes:
            self._reload_line("applied: no change")
        for change in plan.changes:
            self._reload_line(f"{'needs a restart' if change.restart else 'applied'}: "
                              f"{change.path} {change.kind.value}"
                              + (" (restart the box for it to take effect)"
                                 if change.restart else " (new calls)"))

    def reload_refused(self, head, issues):
        if self.as_json:
            self._json({"event": "reload", "t_s": round(self._time()[0], 3),
                        "result": "refused", "reason": head,
                        "errors": [{"path": i.path, "message": i.message,
                                    "severity": i.severity} for i in issues]})
            return
        self._reload_line(f"refused, nothing changed: {head}")
        for issue in issues:
            click.echo(f"    {issue if issue.path else issue.message}")

    def summary(self, box):
        from appliance.store import Store

        cdrs = []
        if self.calls and box.database.exists():
            with Store.open(box.database) as store:
                cdrs = [c for c in (store.cdr(call_id) for call_id in self.calls)
                        if c is not None]
        dispositions = {}
        for cdr in cdrs:
            key = cdr.disposition if cdr.end_ms is not None else "still up at the stop"
            dispositions[key] = dispositions.get(key, 0) + 1
        recordings = [c.recording_path for c in cdrs
                      if c.recording_path and Path(c.recording_path).exists()]
        database, folder = _where(box)
        if self.as_json:
            self._json({"event": "summary", "calls": len(cdrs),
                        "answered": dispositions.get("answered", 0),
                        "abandoned": dispositions.get("abandoned", 0),
                        "dispositions": dispositions, "recordings": len(recordings),
                        "database": database, "recordings_dir": folder})
            return
        others = ", ".join(f"{n} {what}" for what, n in sorted(dispositions.items())
                           if what not in ("answered", "abandoned"))
        click.echo(f"summary  {len(cdrs)} call(s): {dispositions.get('answered', 0)} "
                   f"answered, {dispositions.get('abandoned', 0)} abandoned"
                   + (f", {others}" if others else "")
                   + f"; {len(recordings)} recording(s) written")
        click.echo(f"database  {database}  (CDRs and the event log; SQLite)")
        click.echo(f"recordings  {folder}")


def _where(box):
    """The database and the recordings folder, as absolute paths."""
    return (os.path.abspath(box.database),
            os.path.abspath(box.config.storage.recordings_dir))


def _not_a_reload(record):
    """The reload outcomes the view prints itself are not logged twice."""
    return not (record.name == "appliance.box" and str(record.msg).startswith("reload"))


class _StderrHandler(logging.Handler):
    """The box's warnings on stderr, except the reload outcomes the view prints itself."""

    def emit(self, record):
        if not _not_a_reload(record):
            return
        try:
            click.echo(f"{record.levelname.lower()}: {self.format(record)}", err=True)
        except (OSError, ValueError):  # a closed stream: logging's contract is not to raise
            self.handleError(record)


@contextlib.contextmanager
def _log_to_stderr(journal=False):
    """The box's log records on stderr, or in the journal (appliance.engine.journal)."""
    logger = logging.getLogger("appliance")
    if journal:
        from appliance.engine.journal import JournalHandler

        handler = JournalHandler(logging.WARNING)
        handler.addFilter(_not_a_reload)
    else:
        handler = _StderrHandler(logging.WARNING)
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        handler.close()

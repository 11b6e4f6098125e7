"""`appliance stats`, `appliance cdr`, `appliance recordings ...`: the box's history.

- ``appliance stats [--interval 15m|30m|60m|day] [--from T] [--to T] [--by queue|agent|
  centre] [--queue Q | --agent A] [--sl-formula F] [--target S] [--csv | --json]``: the
  KPI table per interval (appliance.cti.history.kpi_report, which lets appliance.acd.kpis
  compute it from the event log), the service-level formula stated above it.
- ``appliance cdr [--from T] [--to T] [--number N] [--caller N] [--called N] [--queue Q]
  [--agent A] [--disposition D] [--limit N] [--csv | --json] [--output FILE]``: call
  detail records, newest first; exports show a progress bar.
- ``appliance recordings list | export CALL...|--all DEST | play CALL``.

Where the data comes from: the database of the box, `<storage.data_dir>/appliance.db` of
the configuration (``--config``, $APPLIANCE_CONFIG, else /etc/appliance/appliance.toml as
`appliance run`), or of ``--data-dir DIR``. With no configuration file at all: the
demo's (``appliance demo``'s folder, else the sample configuration's, which `appliance
run` with no configuration fills).

These commands read the database directly, read-only, instead of asking the running
daemon over the control socket: the database is the record (CDRs, and the event log the
KPIs are defined on), SQLite in WAL mode lets them read while the daemon writes, and they
must work with the daemon stopped (after a crash, on a copied database). What the box is
doing now (`appliance status`, `top`) is the live view and goes over the socket.

Times (``--from/--to``): 2026-11-23, "2026-11-23 09:30", today, yesterday, now, -2h, -7d,
in ``--tz`` (default: this machine's zone). A bad option: one line naming it and the fix,
exit 2 (appliance.cli.errors).
"""

import csv
import io
import json
import shutil
import sys
from pathlib import Path

import click

from appliance.cli.errors import AppGroup, UserError
from appliance.config import DEFAULT_PATH, load_config, sample_path
from appliance.cti import history as hist
from appliance.store import StoreError

# history's argument names -> the options that set them
_OPTIONS = {"since": "--from", "until": "--to", "interval": "--interval", "by": "--by",
            "queue": "--queue", "agent": "--agent", "sl_formula": "--sl-formula",
            "target_s": "--target", "short_abandon_s": "--short-abandon",
            "number": "--number", "caller": "--caller", "called": "--called",
            "disposition": "--disposition", "limit": "--limit", "zone": "--tz",
            "call_id": "CALL"}
_EXPORT_FORMATS = ("copy", "pcm16", "alaw", "ulaw", "flac")
_PROGRESS_ROWS = 200  # exports with more rows than this show a progress bar


def user_error(exc):
    """A history BadArgument as the CLI says it: the option, the problem, the fix."""
    option = _OPTIONS.get(exc.argument, exc.argument)
    return UserError(f"{option}: {exc.problem}; {exc.hint}" if exc.hint
                     else f"{option}: {exc.problem}")


# ---- where the database is ----------------------------------------------------------------

def database_path(config_path, data_dir):
    """The database these commands read, from --data-dir, else the configuration (see the
    module doc)."""
    return _source(config_path, data_dir)[0]


def _source(config_path, data_dir):
    """(database path, the Config it came from or None)."""
    if data_dir is not None:
        return Path(data_dir).expanduser() / "appliance.db", None
    if config_path is None and not Path(DEFAULT_PATH).exists():
        from appliance.cli.demo import demo_data_dir

        demo = demo_data_dir() / "appliance.db"
        if demo.exists():
            return demo, None
        config_path = str(sample_path())
    config = load_config(config_path)  # ConfigError: exit 2 with every issue
    return Path(config.storage.data_dir) / "appliance.db", config


def _known(config_path, data_dir):
    """The queue and agent names of the configuration the database belongs to."""
    config = _source(config_path, data_dir)[1] if data_dir is None else None
    return (tuple(config.queues), tuple(config.agents)) if config is not None else ((), ())


def _open(config_path, data_dir):
    path = database_path(config_path, data_dir)
    try:
        return hist.open_history(path)
    except StoreError as exc:
        hint = "" if data_dir is not None else \
            " (give --config FILE or --data-dir DIR for another box's data)"
        raise UserError(f"{exc}{hint}") from None


def _source_options(function):
    function = click.option(
        "--data-dir", type=click.Path(file_okay=False), default=None, metavar="DIR",
        help="Read DIR/appliance.db (a box's storage.data_dir, or a copy of one) instead "
             "of the configuration's.")(function)
    function = click.option(
        "--config", "config_path", type=click.Path(dir_okay=False), default=None,
        envvar="APPLIANCE_CONFIG",
        help=f"The configuration whose storage.data_dir holds the database; "
             f"$APPLIANCE_CONFIG also sets it. Default: {DEFAULT_PATH} when it exists, "
             f"otherwise the demo's data.")(function)
    return function


def _range_options(function):
    function = click.option("--tz", "zone", default=None, metavar="ZONE",
                            help="The time zone of --from/--to and of the times shown "
                                 "(IANA, e.g. Asia/Shanghai). Default: this machine's.")(function)
    function = click.option("--to", "until", default=None, metavar="TIME",
                            help="End (excluded): a date, \"DATE HH:MM\", today, now, "
                                 "-2h, ...")(function)
    function = click.option("--from", "since", default=None, metavar="TIME",
                            help="Start: 2026-11-23, \"2026-11-23 09:30\", today, "
                                 "yesterday, -2h, -7d.")(function)
    return function


def _zone(zone):
    try:
        return hist.zone_named(zone)
    except hist.BadArgument as exc:
        raise user_error(exc) from None


def _bounds(since, until, zone):
    """(since_ms or None, until_ms or None) for searches with no default range."""
    try:
        now = hist.now_ms()
        lo = None if since is None else hist.parse_time(since, "since", zone, now)
        hi = None if until is None else hist.parse_time(until, "until", zone, now)
    except hist.BadArgument as exc:
        raise user_error(exc) from None
    if lo is not None and hi is not None and hi <= lo:
        raise UserError(f"--to: {hist.iso(hi, zone)} is not after --from "
                        f"{hist.iso(lo, zone)}; give an end after the start")
    return lo, hi


def _formats(as_csv, as_json):
    if as_csv and as_json:
        raise UserError("--csv and --json: give one of them")


def _stamp(iso_text):
    """'2026-11-23T15:45:00+08:00' -> '2026-11-23 15:45:00' (the zone is in the header)."""
    return "-" if iso_text is None else iso_text[:19].replace("T", " ")


def _table(rows, header):
    """Aligned columns, two spaces apart."""
    cells = [header] + [["-" if c is None else str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    return ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in cells]


def _seconds(ms, digits=1):
    return None if ms is None else f"{ms / 1000:.{digits}f}"


def _percent(ratio):
    return None if ratio is None else f"{ratio * 100:.0f}%"


# ---- stats --------------------------------------------------------------------------------

_INTERVAL_NAMES = ("15m", "30m", "60m", "day")
_STAT_CSV = ("start", "end", "key", "queue", "agent", "offered", "answered", "abandoned",
             "short_abandons", "overflowed", "interrupted", "waiting",
             "answered_within_target", "service_level", "sl_formula", "target_s",
             "short_abandon_s", "asa_ms", "longest_wait_ms", "handled", "agents",
             "calls_per_agent", "talk_ms", "hold_ms", "wrapup_ms", "aht_ms",
             "avg_talk_ms", "avg_hold_ms", "avg_wrapup_ms", "logged_in_ms", "busy_ms",
             "occupancy", "not_ready_ms", "start_ms", "end_ms")


def stats_report(store, *, since, until, interval, by, queue, agent, sl_formula, target,
                 short_abandon, zone, now=None, default_since="today", known=((), ())):
    """kpi_report with the CLI's option values (BadArgument -> UserError); `known`: the
    configuration's (queues, agents)."""
    try:
        since_ms, until_ms = hist.time_range(since, until, zone, now,
                                             default_since=default_since)
        return hist.kpi_report(store, since_ms=since_ms, until_ms=until_ms,
                               interval=interval, by=by, queue=queue, agent=agent,
                               sl_formula=sl_formula, target_s=target,
                               short_abandon_s=short_abandon, zone=zone, now=now,
                               known_queues=known[0], known_agents=known[1])
    except hist.BadArgument as exc:
        raise user_error(exc) from None


def stats_lines(report, show_idle=False):
    """The text table of a kpi_report: a header stating the range and the service-level
    formula, then one line per interval and queue / agent."""
    zone = report["zone"]
    what = {"queue": "queue", "agent": "agent", "centre": "centre"}[report["by"]]
    lines = [f"KPIs  {_stamp(report['since'])} to {_stamp(report['until'])} {zone}, "
             f"per {report['interval']}, by {what}",
             f"service level = {report['sl_definition']}"]
    others = [name for name in report["sl_formulas"] if name != report["sl_formula"]]
    lines.append("  (other formulas: " + ", ".join(f"--sl-formula {n}" for n in others)
                 + "; ASA, longest wait and AHT in seconds; AHT = talk + hold + wrap-up)")
    rows = [r for r in report["rows"] if show_idle or not hist.is_idle(r)]
    hidden = len(report["rows"]) - len(rows)
    header = ["interval", what, "offered", "answered", "abandoned", "overflowed", "SL",
              "ASA", "longest", "handled", "AHT", "occupancy", "not ready"]
    table = []
    for r in rows:
        key = r["key"] if r["key"] is not None else "(no agent)"
        not_ready = sum(r["not_ready_ms"].values())
        table.append([_stamp(r["start"]), key, r["offered"], r["answered"], r["abandoned"],
                      r["overflowed"], _percent(r["service_level"]), _seconds(r["asa_ms"]),
                      _seconds(r["longest_wait_ms"]), r["handled"], _seconds(r["aht_ms"]),
                      _percent(r["occupancy"]),
                      _seconds(not_ready, 0) if r["occupancy"] is not None else None])
    if table:
        lines += _table(table, header)
    else:
        lines.append("no calls and no agent logged in in this range")
    if hidden:
        lines.append(f"({hidden} interval row(s) with no activity not shown; --all shows "
                     "them)")
    return lines


def _stats_csv(report, out):
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(_STAT_CSV)
    for r in report["rows"]:
        writer.writerow(["" if r[c] is None else
                         json.dumps(r[c], sort_keys=True) if isinstance(r[c], dict) else r[c]
                         for c in _STAT_CSV])


@click.command()
@click.option("--interval", type=click.Choice(_INTERVAL_NAMES), default="60m",
              show_default=True, help="The length of each row's interval, aligned to the "
                                      "clock (15m from the hour, day from midnight).")
@_range_options
@click.option("--by", type=click.Choice(["queue", "agent", "centre"]), default=None,
              help="One row per queue (the default), per agent, or for the whole centre.")
@click.option("--queue", default=None, metavar="NAME", help="Only this queue's rows.")
@click.option("--agent", default=None, metavar="ID", help="Only this agent's rows.")
@click.option("--sl-formula", type=click.Choice(sorted(hist.SL_FORMULAS)),
              default=hist.DEFAULT_SL_FORMULA, show_default=True,
              help="Service level: answered within the target over offered calls "
                   "(abandoned included), over answered calls, or over offered calls less "
                   "the short abandons.")
@click.option("--target", type=click.FloatRange(0, 86400), default=20.0, show_default=True,
              metavar="S", help="Service-level target: answered within S seconds.")
@click.option("--short-abandon", type=click.FloatRange(0, 86400), default=5.0,
              show_default=True, metavar="S",
              help="An abandon within S seconds is a short abandon.")
@click.option("--all", "show_idle", is_flag=True,
              help="Also show intervals in which nothing happened.")
@click.option("--csv", "as_csv", is_flag=True, help="CSV (every interval, every figure).")
@click.option("--json", "as_json", is_flag=True, help="One JSON document.")
@_source_options
def stats(interval, since, until, zone, by, queue, agent, sl_formula, target, short_abandon,
          show_idle, as_csv, as_json, config_path, data_dir):
    """KPI tables per interval: offered, answered, abandoned, service level, ASA, longest
    wait, AHT, occupancy, not-ready time, per queue or per agent.

    The figures come from the box's event log (so they survive restarts), for today
    unless --from/--to say otherwise. A call counts in the interval it was offered in.
    """
    _formats(as_csv, as_json)
    tz = _zone(zone)
    known = _known(config_path, data_dir)
    with _open(config_path, data_dir) as store:
        report = stats_report(store, since=since, until=until, interval=interval, by=by,
                              queue=queue, agent=agent, sl_formula=sl_formula,
                              target=_whole(target), short_abandon=_whole(short_abandon),
                              zone=tz, known=known)
    if as_json:
        click.echo(json.dumps(report, ensure_ascii=False))
    elif as_csv:
        out = io.StringIO()
        _stats_csv(report, out)
        click.echo(out.getvalue(), nl=False)
    else:
        for line in stats_lines(report, show_idle):
            click.echo(line)


def _whole(x):
    return int(x) if float(x).is_integer() else x


# ---- cdr ----------------------------------------------------------------------------------

def cdr_lines(records):
    header = ["start", "call", "caller", "name", "queue", "agent", "disposition",
              "duration", "recorded"]
    rows = [[_stamp(r["start"]), r["call_id"], r["caller_number"], r["caller_name"],
             r["queue"], r["agent"] or r["station"], r["disposition"] or "(up)",
             _seconds(None if r["duration_s"] is None else r["duration_s"] * 1000),
             "yes" if r["recording_path"] else "no"] for r in records]
    return _table(rows, header)


def _export(records, fields, as_csv, output, label):
    """Writes records as CSV or JSON lines to `output` (None: stdout), with a progress bar
    on stderr for long exports."""
    stream = click.open_file(output or "-", "w", encoding="utf-8", atomic=output is not None)
    with stream as out:
        writer = None
        if as_csv:
            writer = csv.writer(out, lineterminator="\n")
            writer.writerow(fields)
        show = len(records) > _PROGRESS_ROWS or output is not None
        bar = click.progressbar(records, label=label, file=sys.stderr) \
            if show else _NoBar(records)
        with bar as items:
            for record in items:
                if writer is not None:
                    writer.writerow(["" if record[f] is None else
                                     " ".join(record[f]) if isinstance(record[f], list)
                                     else record[f] for f in fields])
                else:
                    out.write(json.dumps(record, ensure_ascii=False) + "\n")


class _NoBar:
    def __init__(self, items):
        self.items = items

    def __enter__(self):
        return self.items

    def __exit__(self, *exc):
        return False


def _output_path(output):
    if output is None:
        return None
    path = Path(output)
    if path.is_dir():
        raise UserError(f"--output {output}: is a folder; give a file name")
    if not path.parent.is_dir():
        raise UserError(f"--output {output}: folder {path.parent} does not exist; create it "
                        "or give another path")
    return str(path)


@click.command()
@_range_options
@click.option("--number", default=None, metavar="N",
              help="The caller's number or the number called (punctuation ignored).")
@click.option("--caller", default=None, metavar="N", help="The caller's number.")
@click.option("--called", default=None, metavar="N", help="The number called.")
@click.option("--queue", default=None, metavar="NAME")
@click.option("--agent", default=None, metavar="ID")
@click.option("--disposition", default=None, metavar="D",
              help="answered, abandoned, voicemail, ivr, overflow, busy, no answer, failed, "
                   "interrupted, transferred.")
@click.option("--call", "call_id", default=None, metavar="CALL", help="One call's record.")
@click.option("--limit", type=click.IntRange(1), default=None, metavar="N",
              help="At most N records (newest first). Default: 50 on the terminal, all "
                   "with --csv/--json.")
@click.option("--csv", "as_csv", is_flag=True, help="Export as CSV.")
@click.option("--json", "as_json", is_flag=True, help="Export as JSON, one record a line.")
@click.option("--output", "-o", default=None, metavar="FILE",
              help="Write the export to FILE (with a progress bar) instead of stdout.")
@_source_options
def cdr(since, until, zone, number, caller, called, queue, agent, disposition, call_id,
        limit, as_csv, as_json, output, config_path, data_dir):
    """Search the call detail records, newest first; export them as CSV or JSON."""
    _formats(as_csv, as_json)
    if output is not None and not (as_csv or as_json):
        raise UserError("--output: give --csv or --json too (the format of the file)")
    output = _output_path(output)
    tz = _zone(zone)
    lo, hi = _bounds(since, until, tz)
    exporting = as_csv or as_json
    if limit is None and not exporting:
        limit = hist.DEFAULT_LIMIT
    with _open(config_path, data_dir) as store:
        try:
            records = hist.search_cdrs(store, since_ms=lo, until_ms=hi, number=number,
                                       caller=caller, called=called, queue=queue,
                                       agent=agent, disposition=disposition,
                                       call_id=call_id, limit=limit, zone=tz)
        except hist.BadArgument as exc:
            raise user_error(exc) from None
    if exporting:
        _export(records, hist.CDR_FIELDS, as_csv, output, "exporting CDRs")
        if output is not None:
            click.echo(f"{len(records)} CDR(s) written to {output}", err=True)
        return
    if not records:
        click.echo("no call matches")
        return
    for line in cdr_lines(records):
        click.echo(line)
    if len(records) == limit:
        click.echo(f"(the newest {limit}; --limit N shows more, --csv/--json export all)")


# ---- recordings ---------------------------------------------------------------------------

@click.group(cls=AppGroup)
def recordings():
    """List, export and play call recordings."""


def _size(n):
    if n is None:
        return None
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000


def recording_lines(records):
    header = ["call", "time", "duration", "size", "path"]
    rows = [[r["call_id"], _stamp(r["start"]),
             None if r["duration_s"] is None else f"{r['duration_s']:.1f} s",
             _size(r["size_bytes"]),
             r["path"] + (f"  ({r['problem']})" if r["problem"] else "")] for r in records]
    return _table(rows, header)


@recordings.command("list")
@_range_options
@click.option("--queue", default=None, metavar="NAME")
@click.option("--agent", default=None, metavar="ID")
@click.option("--number", default=None, metavar="N",
              help="The caller's number or the number called.")
@click.option("--call", "call_id", default=None, metavar="CALL", help="Only this call's.")
@click.option("--limit", type=click.IntRange(1), default=hist.DEFAULT_LIMIT,
              show_default=True, metavar="N", help="At most N (newest first).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per recording a line.")
@_source_options
def list_(since, until, zone, queue, agent, number, call_id, limit, as_json, config_path,
          data_dir):
    """The recordings: call, time, duration, size and path, newest first."""
    tz = _zone(zone)
    lo, hi = _bounds(since, until, tz)
    with _open(config_path, data_dir) as store:
        try:
            if call_id is not None:
                records = [hist.find_recording(store, call_id, zone=tz)]
            else:
                records = hist.list_recordings(store, since_ms=lo, until_ms=hi, queue=queue,
                                               agent=agent, number=number, limit=limit,
                                               zone=tz)
        except hist.BadArgument as exc:
            raise user_error(exc) from None
    if as_json:
        for record in records:
            click.echo(json.dumps(record, ensure_ascii=False))
        return
    if not records:
        click.echo("no recording matches")
        return
    for line in recording_lines(records):
        click.echo(line)
    source = (f" --data-dir {data_dir}" if data_dir is not None else
              f" --config {config_path}" if config_path is not None else "")
    click.echo(f"play one with: appliance recordings play CALL{source}")


def read_recording(path):
    """(int16 samples, interleaved when stereo, channels) of a recording, decoded by the
    box's audio reader (appliance.dsp.audiofile: WAV PCM16 / A-law / mu-law, FLAC)."""
    import soundfile

    from appliance.dsp.audiofile import read_audio
    from appliance.recording.wavfile import interleave

    try:
        channels = soundfile.info(str(path)).channels
    except (OSError, RuntimeError) as exc:
        raise UserError(f"{path}: not a readable recording ({exc}); check the file") from None
    if channels == 1:
        return read_audio(path), 1
    if channels == 2:
        return interleave(read_audio(path, channel=0), read_audio(path, channel=1)), 2
    raise UserError(f"{path}: has {channels} channels; box recordings have 1 or 2")


def _usable(record):
    if record["problem"]:
        raise UserError(f"call {record['call_id']}: its recording {record['path']}: "
                        f"{record['problem']}")
    return Path(record["path"])


def _convert(source, dest, fmt):
    """Writes the recording `source` to `dest` in `fmt` (pcm16, alaw, ulaw: WAV; flac),
    with the recording writer's own WAV and FLAC code; never overwrites."""
    from appliance.recording.wavfile import GrowingWav
    from appliance.recording.writer import finish_flac

    samples, channels = read_recording(source)
    target = dest.with_name(dest.name + ".part.wav") if fmt == "flac" else dest
    with open(target, "xb") as file:
        wav = GrowingWav(file, "pcm16" if fmt == "flac" else fmt, channels)
        wav.write(samples)
        wav.close()
    if fmt == "flac":
        finish_flac(target, dest)


@recordings.command()
@click.argument("items", nargs=-1, required=True, metavar="CALL... DEST")
@click.option("--all", "everything", is_flag=True,
              help="Every recording (of --from/--to, --queue, --agent when given); then "
                   "only DEST is given.")
@_range_options
@click.option("--queue", default=None, metavar="NAME")
@click.option("--agent", default=None, metavar="ID")
@click.option("--format", "fmt", type=click.Choice(_EXPORT_FORMATS), default="copy",
              show_default=True,
              help="copy: the file as it is; pcm16, alaw, ulaw: WAV; flac.")
@_source_options
def export(items, everything, since, until, zone, queue, agent, fmt, config_path, data_dir):
    """Copy (or convert) recordings into the folder DEST: `export CALL... DEST` or
    `export --all DEST`. Files are named after the call and never overwritten."""
    *calls, dest = items
    if everything and calls:
        raise UserError("--all: give only DEST with it, or the calls without --all")
    if not everything and not calls:
        raise UserError("CALL: give the calls to export (`appliance recordings list` shows "
                        "them) before DEST, or --all")
    dest = Path(dest).expanduser()
    if dest.exists() and not dest.is_dir():
        raise UserError(f"DEST {dest}: is a file; give a folder (it is created if missing)")
    tz = _zone(zone)
    lo, hi = _bounds(since, until, tz)
    with _open(config_path, data_dir) as store:
        try:
            records = (hist.list_recordings(store, since_ms=lo, until_ms=hi, queue=queue,
                                            agent=agent, limit=None, zone=tz)
                       if everything else
                       [hist.find_recording(store, c, zone=tz) for c in calls])
        except hist.BadArgument as exc:
            raise user_error(exc) from None
    if everything:
        missing = [r for r in records if r["problem"]]
        for r in missing:
            click.echo(f"skipped  {r['call_id']}  {r['path']}: {r['problem']}", err=True)
        records = [r for r in records if not r["problem"]]
    plan = []
    for record in records:
        source = _usable(record)
        suffix = source.suffix if fmt == "copy" else ".flac" if fmt == "flac" else ".wav"
        target = dest / f"{record['call_id']}{suffix}"
        if target.exists():
            raise UserError(f"{target}: exists; export into an empty folder or remove it "
                            "(exports never overwrite)")
        plan.append((source, target))
    try:
        dest.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"DEST {dest}: cannot create it ({exc.strerror or exc}); give a "
                        "folder you may write") from None
    with click.progressbar(plan, label="exporting recordings",
                           file=sys.stderr,
                           item_show_func=lambda p: p and p[1].name) as bar:
        for source, target in bar:
            try:
                if fmt == "copy":
                    shutil.copy2(source, target)
                else:
                    _convert(source, target, fmt)
            except OSError as exc:
                raise UserError(f"{target}: cannot write ({exc.strerror or exc}); check "
                                "the folder and the disk") from None
    for _, target in plan:
        click.echo(str(target))


@recordings.command()
@click.argument("call_id", metavar="CALL")
@click.option("--skip", type=click.FloatRange(0), default=0.0, metavar="S",
              help="Start S seconds in.")
@click.option("--seconds", type=click.FloatRange(0, min_open=True), default=None,
              metavar="S", help="Play at most S seconds.")
@click.option("--device", type=click.IntRange(0), default=None, metavar="INDEX",
              help="The PortAudio output device (default: the system's).")
@_source_options
def play(call_id, skip, seconds, device, config_path, data_dir):
    """Play a call's recording on this machine's sound card (needs PyAudio: pip install
    'appliance[audio]'). Ctrl-C stops it."""
    from appliance.cli.soundcard import RATE, SoundcardError, open_output
    from appliance.cli.soundcard import play as play_samples

    with _open(config_path, data_dir) as store:
        try:
            record = hist.find_recording(store, call_id, zone=_zone(None))
        except hist.BadArgument as exc:
            raise user_error(exc) from None
    path = _usable(record)
    samples, channels = read_recording(path)
    first = int(skip * RATE) * channels
    last = samples.shape[0] if seconds is None else first + int(seconds * RATE) * channels
    samples = samples[first:last]
    if samples.shape[0] == 0:
        raise UserError(f"--skip {skip:g}: the recording is only "
                        f"{record['duration_s']:.1f} s long; skip less")
    try:
        output = open_output(channels, RATE, device)
    except SoundcardError as exc:
        raise UserError(f"recordings play: {exc}") from None
    length = samples.shape[0] // channels
    click.echo(f"playing  {call_id}  {path}  ({length / RATE:.1f} s, "
               f"{'stereo: caller left, agent right' if channels == 2 else 'mono'}); "
               "Ctrl-C stops")
    try:
        with click.progressbar(length=length, label="playing",
                               file=sys.stderr) as bar:
            play_samples(samples, channels, progress=bar.update, output=output)
    except KeyboardInterrupt:
        click.echo("stopped", err=True)

"""`appliance demo`: what a newcomer runs right after installing.

The box on its emulated board with the sample configuration and the scripted callers of
appliance/engine/demo.py (what `appliance run` plays with no configuration file: the same
start-up, live view and stop, reused from appliance.cli.run), on a virtual clock so that
its 120 s of board time take seconds; then what the history commands show of it: a KPI
table (appliance.cti.history.kpi_report), the latest CDRs and the recordings with the
command that plays one.

Its data goes to a folder of its own (default ~/.local/share/appliance/demo, or
``--data-dir``), never a real box's: the folder is marked as the demo's, each run starts it
afresh, and a folder that holds anything else is refused.
"""

import asyncio
import dataclasses
import datetime
import os
import shutil
import zoneinfo
from pathlib import Path

import click

from appliance.cli.errors import UserError

MARKER = ".appliance-demo"  # the file that says a folder is the demo's to empty
_DEMO_FILES = ("appliance.db", "appliance.db-wal", "appliance.db-shm", "recordings",
               MARKER)


def demo_data_dir():
    """The demo's default folder: $XDG_DATA_HOME/appliance/demo (~/.local/share/...)."""
    base = os.environ.get("XDG_DATA_HOME") or os.path.join("~", ".local", "share")
    return Path(os.path.expanduser(base)) / "appliance" / "demo"


def fresh_folder(folder):
    """Empties the demo's own folder for a new run, or refuses a folder with other data."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise UserError(f"--data-dir {folder}: is a file; give a folder for the demo's data")
    if folder.is_dir() and any(folder.iterdir()):
        if not (folder / MARKER).exists():
            raise UserError(f"--data-dir {folder}: holds files the demo did not make; give an "
                            "empty or new folder (the demo empties its folder at each run)")
        strangers = [p.name for p in folder.iterdir() if p.name not in _DEMO_FILES]
        if strangers:
            raise UserError(f"--data-dir {folder}: holds {', '.join(sorted(strangers)[:3])}, "
                            "which the demo did not make; move them away or give another "
                            "folder")
        for name in _DEMO_FILES:
            path = folder / name
            if path.is_dir():
                shutil.rmtree(path)
            elif path.exists():
                path.unlink()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / MARKER).write_text("appliance demo data: `appliance demo` empties this "
                                     "folder at each run\n", encoding="utf-8")
    except OSError as exc:
        raise UserError(f"--data-dir {folder}: cannot write there ({exc.strerror or exc}); "
                        "give a folder you may write") from None
    return folder.resolve()


@click.command()
@click.option("--data-dir", type=click.Path(file_okay=False), default=None, metavar="DIR",
              help="Where the demo's database and recordings go (emptied at each run). "
                   "Default: ~/.local/share/appliance/demo.")
@click.option("--real-time", is_flag=True,
              help="Play the calls at the speed of a real board (two minutes) instead of "
                   "as fast as the machine allows.")
def demo(data_dir, real_time):
    """Show what the box does, in under a minute, with nothing to set up.

    The sample configuration (two queues, three agents, an IVR menu) runs on an emulated
    board: 16 scripted callers ring in, press 1 or 2, wait in the queue with music, talk
    to the agents or give up. You see each call event as it happens, then the KPI table,
    the latest call records and the recordings you can play.
    """
    from appliance.cli.history import (cdr_lines, database_path, recording_lines,
                                       stats_report, stats_lines)
    from appliance.cli.run import EventView, _log_to_stderr, _run
    from appliance.config import ConfigError, load_config, sample_path
    from appliance.cti import history as hist
    from appliance.drivers.emulator import load_scenario
    from appliance.engine.box import Box
    from appliance.engine.demo import office_hours_origin, scenario_path
    from appliance.store import Store

    folder = fresh_folder(Path(data_dir).expanduser() if data_dir else demo_data_dir())
    config_path = str(sample_path())
    sample = load_config(config_path)
    config = dataclasses.replace(sample, storage=dataclasses.replace(
        sample.storage, data_dir=folder, recordings_dir=folder / "recordings"))
    scenario = load_scenario(str(scenario_path()))
    seconds = scenario.seconds
    zone_name = next(iter(config.schedules.values())).time_zone
    zone = zoneinfo.ZoneInfo(zone_name)
    now = int(datetime.datetime.now(datetime.timezone.utc).timestamp() * 1000)
    origin = office_hours_origin(config, seconds, now)
    view = EventView(False)
    view.note("demo", f"the sample configuration {config_path} on its emulated board, "
                      f"with the scripted callers of {scenario_path()}; "
                      f"{seconds:g} s of board time"
                      + ("" if real_time else " on a virtual clock"))
    start = datetime.datetime.fromtimestamp((origin or now) / 1000, zone)
    view.note("demo", f"the board's clock starts at {start:%Y-%m-%d %H:%M:%S} {zone_name}"
                      + (", in the sample's office hours, so that the calls reach agents"
                         if origin is not None else ""))
    box = Box(config, scenario=scenario, virtual=not real_time, until_s=seconds,
              origin_ms=origin, config_path=config_path)
    with _log_to_stderr():
        asyncio.run(_run(box, view, seconds, not real_time))
    view.summary(box)

    since_ms = box.engine.calendar.origin_ms
    until_ms = since_ms + int(seconds * 1000) + 1
    with Store.open_read_only(box.database) as store:
        report = stats_report(store, since=since_ms, until=until_ms, interval="day", by=None,
                              queue=None, agent=None, sl_formula=hist.DEFAULT_SL_FORMULA,
                              target=20, short_abandon=5, zone=zone, now=until_ms)
        agents = stats_report(store, since=since_ms, until=until_ms, interval="day",
                              by="agent", queue=None, agent=None,
                              sl_formula=hist.DEFAULT_SL_FORMULA, target=20,
                              short_abandon=5, zone=zone, now=until_ms)
        cdrs = hist.search_cdrs(store, since_ms=since_ms, until_ms=until_ms, limit=5,
                                zone=zone)
        recordings = hist.list_recordings(store, since_ms=since_ms, until_ms=until_ms,
                                          limit=3, zone=zone)
    click.echo("")
    for line in stats_lines(report):
        click.echo(line)
    click.echo("")
    for line in stats_lines(agents)[3:]:  # the same header was just shown
        click.echo(line)
    click.echo("")
    click.echo("latest calls (appliance cdr):")
    for line in cdr_lines(cdrs):
        click.echo(line)
    click.echo("")
    click.echo("recordings (appliance recordings list):")
    for line in recording_lines(recordings):
        click.echo(line)
    try:  # the history commands find the demo's data by themselves when no box is set up
        found = database_path(None, None)
    except ConfigError:  # this machine's configuration has problems: say where instead
        found = None
    where = "" if found == box.database else f" --data-dir {folder}"
    click.echo("")
    click.echo("next:")
    if recordings:
        click.echo(f"  appliance recordings play {recordings[0]['call_id']}{where}"
                   "    # on this machine's sound card (pip install 'appliance[audio]')")
    click.echo(f"  appliance stats --from {start:%Y-%m-%d} --tz {zone_name} --interval 15m"
               f"{where}")
    click.echo(f"  appliance cdr --csv{where} > calls.csv")
    click.echo("  appliance config show --config " + config_path
               + "    # the configuration it ran")

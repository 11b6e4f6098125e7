"""`appliance boards ...` and `appliance emulate`: find, probe and emulate voice boards.

- ``appliance boards list [--json] [--all]``: the serial and USB boards plugged in, with
  the URL to open each one.
- ``appliance boards probe URL [--json]``: open URL, start a session and print the board's
  capabilities (model, firmware, serial, ports).
- ``appliance emulate``: a virtual board (ports from flags, a model file or a scenario
  file) that speaks voiceboard-v1 on a pty or a TCP port; prints the URL to open, then
  runs until interrupted (or for ``--seconds``).

A URL that cannot be opened, or a board that does not answer, is one line on stderr and
exit 2 (appliance.cli.errors).
"""

import asyncio
import contextlib
import json
import signal
import sys

import click

from appliance.cli.errors import AppGroup, UserError

_KIND_NAMES = {1: "FXO", 2: "FXS", 3: "E1"}
_LAW_NAMES = {1: "alaw", 2: "ulaw"}


@click.group(cls=AppGroup)
def boards():
    """Voice boards: list the boards present, probe one."""


@boards.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per board.")
@click.option("--all", "all_serial", is_flag=True,
              help="Every serial port, not only the ones that look like boards.")
def list_boards(as_json, all_serial):
    """The serial and USB boards present, with the URL to open each one."""
    from appliance.drivers.transport import boards_present

    present = boards_present(all_serial=all_serial)
    for warning in present.warnings:
        click.echo(f"warning: {warning}", err=True)
    for board in present:
        if as_json:
            click.echo(json.dumps({
                "url": board.url, "link": board.link.value,
                "vid": None if board.vid is None else f"{board.vid:04x}",
                "pid": None if board.pid is None else f"{board.pid:04x}",
                "serial": board.serial_number, "description": board.description,
                "known": board.known}))
        else:
            ids = "" if board.vid is None else f"{board.vid:04x}:{board.pid:04x}  "
            click.echo(f"{board.url}  {board.link.value}  {ids}{board.description}"
                       + (f"  serial {board.serial_number}" if board.serial_number else ""))
    if not present.boards and not as_json:
        click.echo("no boards found", err=True)


def _capabilities_dict(caps, url):
    return {
        "url": url, "model": caps.model, "firmware": str(caps.firmware),
        "serial": caps.serial, "tick": caps.tick,
        "ports": [{"port": i, "kind": _KIND_NAMES[int(p.kind)], "law": _LAW_NAMES[int(p.law)],
                   **({"span": p.span, "timeslot": p.timeslot} if int(p.kind) == 3 else {})}
                  for i, p in enumerate(caps.ports)],
    }


def _summary(ports):
    counts = {}
    for p in ports:
        counts[p["kind"]] = counts.get(p["kind"], 0) + 1
    return " + ".join(f"{n} {kind}" for kind, n in counts.items())


@boards.command()
@click.argument("url")
@click.option("--json", "as_json", is_flag=True, help="The capabilities as one JSON object.")
@click.option("--timeout", type=click.FloatRange(0.1, 60.0), default=3.0, show_default=True,
              help="Seconds to wait for the board's answer.")
def probe(url, as_json, timeout):
    """Open URL (a tty path, socket://HOST:PORT, usb://VID:PID[/SERIAL]) and print the
    board's capabilities."""
    caps = asyncio.run(_probe(url, timeout))
    info = _capabilities_dict(caps, url)
    if as_json:
        click.echo(json.dumps(info))
        return
    click.echo(f"{info['model']}  firmware {info['firmware']}  serial {info['serial']}")
    click.echo(f"{len(info['ports'])} ports: {_summary(info['ports'])}")
    for p in info["ports"]:
        where = f"  span {p['span']} timeslot {p['timeslot']}" if "span" in p else ""
        click.echo(f"  {p['port']:2d}  {p['kind']}  {p['law']}{where}")


async def _probe(url, timeout):
    from appliance.drivers.board import Board, BoardUnavailable
    from appliance.drivers.transport import TransportError

    try:
        board = await Board.open(url, timeout=timeout, dsp=False, reopen=False)
    except (TransportError, BoardUnavailable) as exc:
        raise UserError(str(exc)) from None
    try:
        return board.capabilities
    finally:
        await board.close()


@click.command()
@click.option("--ports", default=None, metavar="SPEC",
              help='Port groups joined by "+": e.g. 8fxo+8fxs, 2fxo+2fxs, 1e1 '
                   "(default 2fxo+2fxs).")
@click.option("--law", type=click.Choice(["alaw", "ulaw"]), default="alaw", show_default=True,
              help="Sample law of the ports given by --ports.")
@click.option("--serial", default="EMU-0001", show_default=True, help="Serial number.")
@click.option("--model-file", type=click.Path(dir_okay=False), default=None,
              help="A TOML file with a [board] table (instead of --ports).")
@click.option("--scenario", type=click.Path(dir_okay=False), default=None,
              help="A scenario file (TOML): board, exchange, callers, phones.")
@click.option("--cable", "cables", multiple=True, metavar="FXS:FXO",
              help="Cable an FXS port to an FXO port (a loopback; repeatable).")
@click.option("--listen", default="pty", show_default=True, metavar="pty|tcp:[HOST:]PORT",
              help="Where the board listens.")
@click.option("--virtual-clock", is_flag=True,
              help="Tick as fast as the host consumes frames instead of every 20 ms (the "
                   "board then stands still while no host is connected; --seconds counts "
                   "board time).")
@click.option("--seconds", type=click.FloatRange(0.0, min_open=True), default=None,
              help="Stop after this many seconds (default: the scenario's length with "
                   "--scenario, else until interrupted).")
@click.option("--report", type=click.Path(dir_okay=False), default=None,
              help="Write what the simulated people did and heard here (JSON) at the end.")
def emulate(ports, law, serial, model_file, scenario, cables, listen, virtual_clock, seconds,
            report):
    """Run a virtual voice board and print the URL to open it with (first line)."""
    from appliance.drivers.emulated_board import emulated_board, parse_cables
    from appliance.drivers.emulator import (
        BoardModel, EmulatorConfigError, EmulatorError, load_model, load_scenario,
    )

    given = [name for name, value in (("--ports", ports), ("--model-file", model_file),
                                      ("--scenario", scenario)) if value is not None]
    if len(given) > 1:
        raise UserError(f"{' and '.join(given)} both give the board; use one of them")
    try:
        pairs = parse_cables(",".join(cables))
    except ValueError as exc:
        raise UserError(f"--cable: {exc}") from None
    where = _parse_listen(listen)
    loaded = model = None
    try:
        if scenario is not None:
            loaded = load_scenario(scenario)
        elif model_file is not None:
            model = load_model(model_file)
        else:
            model = BoardModel.from_ports(ports or "2fxo+2fxs", law=law, serial=serial)
    except EmulatorConfigError as exc:
        raise UserError(str(exc)) from None
    try:
        session = emulated_board(model, scenario=loaded, cables=pairs, virtual=virtual_clock)
    except EmulatorError as exc:
        raise UserError(f"--cable: {exc}") from None
    if seconds is None and loaded is not None:
        seconds = loaded.seconds
    asyncio.run(_emulate(session, where, seconds))
    if report is not None:
        session.board.finish()
        with open(report, "w", encoding="utf-8") as out:
            json.dump(session.board.report().to_dict(), out, indent=1)


def _parse_listen(text):
    if text == "pty":
        return ("pty",)
    if text.startswith("tcp:"):
        rest = text[4:]
        host, _, port = rest.rpartition(":")
        if port.isdigit() and int(port) < 65536:
            return ("tcp", host or "127.0.0.1", int(port))
    raise UserError(f"--listen {text!r}: write pty, tcp:PORT or tcp:HOST:PORT "
                    "(e.g. tcp:127.0.0.1:5000)")


async def _emulate(session, where, seconds):
    from appliance.drivers.emulated_board import EmulatorRunner, serve_pty, serve_tcp

    runner = EmulatorRunner(session).start()
    if where[0] == "pty":
        url = (await serve_pty(runner)).path
    else:
        url = (await serve_tcp(runner, where[1], where[2])).url
    click.echo(url)
    caps = session.board.model
    click.echo(f"# {caps.model} serial {caps.serial}, {len(caps.ports)} ports, "
               f"{'virtual clock' if session.virtual else 'real time'}; Ctrl-C stops",
               err=True)
    sys.stdout.flush()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    if seconds is not None and session.virtual:
        # A virtual clock runs on board time: stop at the board's tick, not the wall's.
        end = session.board.now + round(seconds * 50)
        while not stop.is_set() and session.board.now < end:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(0.05):
                    await stop.wait()
    else:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await stop.wait()
    await runner.stop()

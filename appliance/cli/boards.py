"""`appliance boards ...` and `appliance emulate`: find, probe and emulate voice boards.

- ``appliance boards list [--json] [--all]``: the serial and USB boards plugged in, with
  the URL to open each one.
- ``appliance boards probe URL [--json]``: open URL, start a session and print the board's
  capabilities (model, firmware, serial, ports).
- ``appliance boards test URL [--fxo PORTS] [--ring PORT] [--loopback FXS:FXO] [--json]``:
  the installer's line tests (appliance.drivers.linetest): loop voltage and current of
  FXO lines, ringing a station, a loopback call with DTMF both ways; exit 1 when a test
  failed.
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
    """Voice boards: list the boards present, probe one, test its lines."""


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


def _port_list(text):
    ports = []
    for item in filter(None, (t.strip() for t in text.split(","))):
        if not item.isdigit():
            raise click.BadParameter(f"{text!r}: write port numbers separated by commas, "
                                     "e.g. 0,1,2", param_hint="'--fxo'")
        ports.append(int(item))
    return ports


@boards.command("test")
@click.argument("url")
@click.option("--fxo", "fxo_text", default=None, metavar="PORTS",
              help="FXO ports whose lines to measure (e.g. 0,1). Default: every FXO port "
                   "when neither --ring nor --loopback is given.")
@click.option("--ring", "station", type=click.IntRange(0), default=None, metavar="PORT",
              help="Ring the station on this FXS port; lift its handset to see the ring "
                   "trip.")
@click.option("--ring-seconds", type=click.FloatRange(1.0, 120.0), default=8.0,
              show_default=True, metavar="S", help="How long to ring (board time).")
@click.option("--loopback", "cable", default=None, metavar="FXS:FXO",
              help="A cable between an FXS and an FXO port: ring, ring trip, DTMF both ways.")
@click.option("--digits", default="1234567890*#ABCD", show_default=True,
              help="The DTMF digits the loopback sends each way.")
@click.option("--level", "level_dbm0", type=click.FloatRange(-40.0, 0.0), default=-10.0,
              show_default=True, metavar="DBM0", help="The loopback's DTMF level per tone.")
@click.option("--country", default="cn", show_default=True,
              help="The country profile: ring cadence, hook-flash window, tone plan.")
@click.option("--timeout", type=click.FloatRange(0.1, 60.0), default=3.0, show_default=True,
              help="Seconds to wait for the board's answer when opening it.")
@click.option("--json", "as_json", is_flag=True, help="The results as one JSON object.")
@click.pass_context
def test_lines(ctx, url, fxo_text, station, ring_seconds, cable, digits, level_dbm0, country,
               timeout, as_json):
    """Line tests for installers on the board at URL: loop voltage and current of FXO
    lines, ringing a station, a loopback call over a cable from an FXS to an FXO port with
    DTMF both ways (levels in dBm0, digits detected). Exit code 0 when every test passed, 1
    when one failed, 2 when the board cannot be reached or the ports do not fit."""
    from appliance.drivers.emulated_board import parse_cables
    from appliance.drivers.profiles import available_profiles

    if country not in available_profiles():
        raise click.BadParameter(f"{country!r}: one of {', '.join(available_profiles())}",
                                 param_hint="'--country'")
    fxo = None if fxo_text is None else _port_list(fxo_text)
    loopback = None
    if cable is not None:
        try:
            pairs = parse_cables(cable)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="'--loopback'") from None
        if len(pairs) != 1:
            raise click.BadParameter(f"{cable!r}: one FXS:FXO pair, e.g. 4:0",
                                     param_hint="'--loopback'")
        loopback = pairs[0]
    caps, report = asyncio.run(_test_lines(url, timeout, country, fxo, station, ring_seconds,
                                           loopback, digits, level_dbm0))
    if as_json:
        click.echo(json.dumps({"url": url, "model": caps.model, "serial": caps.serial,
                               **report.to_dict()}))
    else:
        _print_line_tests(url, caps, report)
    if not report.ok:
        ctx.exit(1)


async def _test_lines(url, timeout, country, fxo, station, ring_s, loopback, digits, level):
    from appliance.drivers.board import Board, BoardUnavailable
    from appliance.drivers.linetest import LineTestError, run_line_tests
    from appliance.drivers.protocol import PortKind
    from appliance.drivers.transport import TransportError

    try:
        board = await Board.open(url, timeout=timeout, profile=country, reopen=False)
    except (TransportError, BoardUnavailable) as exc:
        raise UserError(f"{exc}; `appliance boards list` shows the boards present") from None
    try:
        if fxo is None and station is None and loopback is None:
            fxo = [p.index for p in board.ports if p.kind is PortKind.FXO]
            if not fxo:
                raise UserError(f"{url}: the board has no FXO port to measure; give --ring "
                                "PORT or --loopback FXS:FXO")
        try:
            report = await run_line_tests(board, fxo=fxo or (), station=station,
                                          ring_s=ring_s, loopback=loopback, digits=digits,
                                          level_dbm0=level)
        except LineTestError as exc:
            raise UserError(str(exc)) from None
        return board.capabilities, report
    finally:
        await board.close()


def _verdict(result):
    return "ok" if result.ok else f"FAILED: {result.problem}"


def _print_line_tests(url, caps, report):
    click.echo(f"{caps.model}  serial {caps.serial}  {url}")
    if report.fxo:
        click.echo("FXO lines")
        click.echo("  port  on-hook V  off-hook V  loop mA  polarity  result")
        for r in report.fxo:
            off = "-" if r.off_hook_v is None else f"{r.off_hook_v:.1f}"
            loop = "-" if r.loop_ma is None else f"{r.loop_ma:.1f}"
            click.echo(f"  {r.port:4d}  {r.on_hook_v:9.1f}  {off:>10}  {loop:>7}  "
                       f"{r.polarity:<8}  {_verdict(r)}")
    if report.station is not None:
        r = report.station
        if r.answered:
            text = (f"answered after {r.ring_trip_s:.2f} s (ring trip); station off-hook "
                    f"{r.off_hook_v:.1f} V, loop {r.loop_ma:.1f} mA")
        else:
            text = f"rang {r.rang_s:.1f} s"
        click.echo(f"ring FXS {r.port}: {text}; {_verdict(r)}")
    if report.loopback is not None:
        r = report.loopback
        head = f"loopback FXS {r.fxs} - FXO {r.fxo}:"
        if r.ring_detected_s is not None:
            head += f" ring seen on FXO {r.fxo} after {r.ring_detected_s:.2f} s"
        if r.ring_trip_s is not None:
            head += f", ring trip on FXS {r.fxs} {r.ring_trip_s:.2f} s after the seizure"
        click.echo(f"{head}; {_verdict(r) if not r.directions else ('ok' if r.ok else 'FAILED')}")
        if r.directions:
            click.echo("  from   to     sent              detected          "
                       "low dBm0     high dBm0    result")
            for d in r.directions:
                kinds = {r.fxs: "FXS", r.fxo: "FXO"}
                click.echo(f"  {kinds[d.source]} {d.source:<2} {kinds[d.receiver]} "
                           f"{d.receiver:<2} {d.sent:<16}  {d.detected or '-':<16}  "
                           f"{_span([x.low_dbm0 for x in d.levels]):<11}  "
                           f"{_span([x.high_dbm0 for x in d.levels]):<11}  {_verdict(d)}")


def _span(values):
    """-10.0, or -10.4..-9.8 across digits, or - when nothing was measured."""
    known = [v for v in values if v is not None]
    if not known:
        return "-"
    low, high = min(known), max(known)
    return f"{low:.1f}" if low == high else f"{low:.1f}..{high:.1f}"


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

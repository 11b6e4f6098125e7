"""The running box from the command line, over its control socket (appliance.cti.control):

- ``appliance status [--all-ports] [--json]``: boards and (busy) ports, calls up, queues,
  agents, the engine;
- ``appliance top [--interval S] [--once | --iterations N] [--all-ports]``: the same,
  refreshing until Ctrl-C;
- ``appliance agents list | login AGENT [--station S] | logout AGENT | ready AGENT |
  pause AGENT --reason R``;
- ``appliance queues list | show NAME``;
- ``appliance calls list | listen CALL | whisper CALL | barge CALL [--station S] |
  hangup CALL | record CALL``;
- ``appliance monitor PORT [--wav FILE] [--seconds N] [--device I]``: a live port on the
  sound card (appliance.cli.soundcard), or into a WAV file.

Each takes ``--socket PATH`` (default: control.sock in the storage.data_dir of ``--config
FILE``, which defaults as `appliance run`'s does) and ``--as ID --pin PIN`` to act as that
agent or supervisor (default: the box's operator, an admin). A box that does not run, a
refusal (with the permission rule that refused it), a bad argument: one line on stderr
with the fix, exit 2.
"""

import base64
import functools
import json
import sys
import time
from pathlib import Path

import click
import numpy as np

from appliance.cli.errors import AppGroup, UserError
from appliance.config import DEFAULT_PATH, sample_path


# ---- reaching the box -------------------------------------------------------------------

def resolve_socket(config_path, socket):
    """The control socket: `socket`, else the one of `config_path` (default: the file
    `appliance run` would use: /etc/appliance/appliance.toml, or the demo's sample)."""
    from appliance.cti.control import socket_path_of_file

    if socket:
        return Path(socket)
    if config_path is None:
        config_path = DEFAULT_PATH if Path(DEFAULT_PATH).exists() else sample_path()
    return socket_path_of_file(config_path)


class Box:
    """Where the CLI finds the box and who it acts as."""

    def __init__(self, config_path, socket, as_id, pin):
        if (as_id is None) != (pin is None):
            raise click.BadParameter("give both --as ID and --pin PIN (or neither, to act "
                                     "as the box's operator)", param_hint="'--as'")
        self.config_path = config_path
        self.socket = socket
        self.actor = None if as_id is None else (as_id, pin)
        self._path = None

    @property
    def path(self):
        if self._path is None:
            self._path = resolve_socket(self.config_path, self.socket)
        return self._path

    def ask(self, op, **args):
        from appliance.cti.client import ClientError, request

        try:
            return request(self.path, op, actor=self.actor, **args)
        except ClientError as exc:
            raise UserError(str(exc)) from None

    def stream(self, op, **args):
        from appliance.cti.client import ClientError, stream

        try:
            yield from stream(self.path, op, actor=self.actor, **args)
        except ClientError as exc:
            raise UserError(str(exc)) from None


def box_options(function):
    """--socket, --config, --as, --pin: the command gets `box` (a Box)."""
    @click.option("--socket", type=click.Path(dir_okay=False), default=None,
                  envvar="APPLIANCE_SOCKET",
                  help="The box's control socket. Default: control.sock in the "
                       "storage.data_dir of --config.")
    @click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None,
                  envvar="APPLIANCE_CONFIG",
                  help=f"The box's configuration file (for the socket's place). Default: "
                       f"{DEFAULT_PATH}, or the demo's sample when it does not exist.")
    @click.option("--as", "as_id", default=None, metavar="ID",
                  help="Act as this agent or supervisor (permissions checked); default: "
                       "the box's operator, an admin.")
    @click.option("--pin", default=None, envvar="APPLIANCE_PIN", metavar="PIN",
                  help="The PIN of --as ($APPLIANCE_PIN also sets it).")
    @functools.wraps(function)
    def wrapper(socket, config_path, as_id, pin, **kwargs):
        return function(box=Box(config_path, socket, as_id, pin), **kwargs)
    return wrapper


def json_option(function):
    return click.option("--json", "as_json", is_flag=True,
                        help="JSON instead of text.")(function)


def _echo_json(data):
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


def _dash(value):
    return "-" if value is None or value == "" else str(value)


# ---- text -------------------------------------------------------------------------------

def status_lines(status, all_ports=False):
    """`appliance status` as lines of text, two spaces between columns; ports only when
    busy (all of them with `all_ports`)."""
    engine = status["engine"]
    lines = [f"site  {status['site']}  board time {engine['board_time_s']:.2f} s  "
             f"calls {len(status['calls'])}  errors {engine['event_errors']}/"
             f"{engine['command_errors']}"]
    for board in status["boards"]:
        kinds = "  ".join(f"{kind}: " + ", ".join(f"{n} {state}" for state, n in
                                                  sorted(states.items()))
                          for kind, states in board["ports_by_kind"].items())
        lines.append(f"board  {board['name']}  {board['url']}  {_dash(board['model'])}  "
                     f"{'up' if board['alive'] else 'DOWN'}  {kinds}")
        for port in board["ports"]:
            if not all_ports and port["state"] in ("idle", "unused"):
                continue
            lines.append(f"  port  {board['name']}:{port['port']}  {port['kind']}  "
                         f"{port['use']} {_dash(port['name'])}  {port['state']}"
                         + (f"  call {port['call']}" if port["call"] else ""))
    lines += [call_line(call) for call in status["calls"]]
    lines += [queue_line(queue) for queue in status["queues"]]
    lines += [agent_line(agent) for agent in status["agents"]]
    return lines


def call_line(call):
    words = [f"call  {call['id']}  {call['direction']}  {call['state']}  from "
             f"{_dash(call['from'])}  to {_dash(call['to'])}",
             f"queue {_dash(call['queue'])}", f"agent {_dash(call['agent'])}",
             f"{call['since_s']:.1f} s"]
    if call.get("waiting_s") is not None:
        words.append(f"waiting {call['waiting_s']:.1f} s")
    if call.get("talking_s") is not None:
        words.append(f"talking {call['talking_s']:.1f} s")
    if call.get("recording"):
        words.append("recording")
    if call.get("conference"):
        words.append("conference " + ", ".join(f"{who} {mode}" for who, mode in
                                                call["conference"].items()))
    return "  ".join(words)


def queue_line(queue):
    by_state = queue["agents_by_state"]
    staffed = ", ".join(f"{n} {state}" for state, n in by_state.items() if n)
    expected = queue["expected_wait_s"]
    return (f"queue  {queue['name']}  waiting {queue['waiting']}  ringing {queue['ringing']}"
            f"  oldest {queue['oldest_wait_s']:.1f} s  expected "
            f"{'-' if expected is None else f'{expected} s'}  agents {queue['agents']}"
            + (f" ({staffed})" if staffed else ""))


def agent_line(agent):
    status = agent["status"] + (f" ({agent['reason']})" if agent["reason"] else "")
    return (f"agent  {agent['id']}  {agent['name'] or '-'}  {status}  {agent['state']}  "
            f"at {_dash(agent['station'])}  for {agent['since_s']:.1f} s"
            + (f"  call {agent['call']}" if agent["call"] else ""))


# ---- status, top ------------------------------------------------------------------------

def _ports_option(function):
    return click.option("--all-ports", is_flag=True,
                        help="List every port, idle ones too (default: the busy ones; "
                             "the board line counts them all).")(function)


@click.command()
@box_options
@_ports_option
@json_option
def status(box, all_ports, as_json):
    """Boards and ports, calls up, queues and agents of the running box, at a glance."""
    data = box.ask("status")
    if as_json:
        _echo_json(data)
        return
    for line in status_lines(data, all_ports):
        click.echo(line)


@click.command()
@box_options
@click.option("--interval", type=click.FloatRange(0.1, 3600), default=1.0, show_default=True,
              metavar="S", help="Seconds between refreshes.")
@click.option("--once", is_flag=True, help="Show it once and stop (as --iterations 1).")
@click.option("--iterations", type=click.IntRange(1), default=None, metavar="N",
              help="Stop after N refreshes (default: until Ctrl-C).")
@_ports_option
def top(box, interval, once, iterations, all_ports):
    """`appliance status`, live: refreshed every --interval seconds until Ctrl-C."""
    if once:
        iterations = 1
    shown = 0
    tty = sys.stdout.isatty()
    try:
        while iterations is None or shown < iterations:
            lines = status_lines(box.ask("status"), all_ports)
            if tty:
                click.clear()
            stamp = time.strftime("%H:%M:%S")
            click.echo(f"appliance top  {stamp}  every {interval:g} s  (Ctrl-C stops)")
            for line in lines:
                click.echo(line)
            shown += 1
            if iterations is None or shown < iterations:
                time.sleep(interval)
    except KeyboardInterrupt:
        pass


# ---- agents -----------------------------------------------------------------------------

@click.group(cls=AppGroup)
def agents():
    """Agents of the running box: list them, log them in and out, ready, pause."""


def _agent_result(data, as_json):
    if as_json:
        _echo_json(data)
    else:
        click.echo(agent_line(data))


@agents.command("list")
@box_options
@json_option
def agents_list(box, as_json):
    """Every agent: status (what they set), state (what the box set), station."""
    data = box.ask("agents.list")
    if as_json:
        _echo_json(data)
        return
    for agent in data:
        click.echo(agent_line(agent))


@agents.command()
@click.argument("agent")
@click.option("--station", default=None, help="Where (default: the agent's usual station).")
@box_options
@json_option
def login(agent, station, box, as_json):
    """Log AGENT in (ready)."""
    _agent_result(box.ask("agents.login", agent=agent,
                          **({"station": station} if station else {})), as_json)


@agents.command()
@click.argument("agent")
@box_options
@json_option
def logout(agent, box, as_json):
    """Log AGENT out."""
    _agent_result(box.ask("agents.logout", agent=agent), as_json)


@agents.command()
@click.argument("agent")
@box_options
@json_option
def ready(agent, box, as_json):
    """Make AGENT ready (also ends their wrap-up)."""
    _agent_result(box.ask("agents.ready", agent=agent), as_json)


@agents.command()
@click.argument("agent")
@click.option("--reason", required=True, help="The not-ready reason code (break, lunch, ...).")
@box_options
@json_option
def pause(agent, reason, box, as_json):
    """Make AGENT not ready, with a reason code."""
    _agent_result(box.ask("agents.pause", agent=agent, reason=reason), as_json)


# ---- queues -----------------------------------------------------------------------------

@click.group(cls=AppGroup)
def queues():
    """Queues of the running box: callers waiting, oldest wait, agents by state."""


@queues.command("list")
@box_options
@json_option
def queues_list(box, as_json):
    """Every queue at a glance."""
    data = box.ask("queues.list")
    if as_json:
        _echo_json(data)
        return
    for queue in data:
        click.echo(queue_line(queue))


@queues.command()
@click.argument("name")
@box_options
@json_option
def show(name, box, as_json):
    """One queue and its callers in routing order, with their waits."""
    data = box.ask("queues.show", queue=name)
    if as_json:
        _echo_json(data)
        return
    click.echo(queue_line(data))
    for caller in data["callers"]:
        wait = caller["waiting_s"]
        click.echo(f"  caller  {caller['position']}  call {caller['call']}  from "
                   f"{_dash(caller['from'])}  {caller['state']}  priority "
                   f"{caller['priority']}  waiting {'-' if wait is None else f'{wait:.1f} s'}"
                   + (f"  rings {', '.join(caller['offered_to'])}"
                      if caller["offered_to"] else ""))
    click.echo("  serving  " + (", ".join(data["serving"]) or "nobody logged in"))


# ---- calls ------------------------------------------------------------------------------

@click.group(cls=AppGroup)
def calls():
    """Calls up on the running box; supervise them (listen, whisper, barge), end or record
    them."""


@calls.command("list")
@box_options
@json_option
def calls_list(box, as_json):
    """Every call up: id, from, to, state, queue, agent, for how long."""
    data = box.ask("calls.list")
    if as_json:
        _echo_json(data)
        return
    for call in data:
        click.echo(call_line(call))


def _supervise_command(action, doc):
    @calls.command(action, help=doc)
    @click.argument("call")
    @click.option("--station", default=None,
                  help="The supervisor's station, off-hook with dial tone (default: the "
                       "--as agent's usual station).")
    @box_options
    @json_option
    def command(call, station, box, as_json):
        data = box.ask(f"calls.{action}", call=call,
                       **({"station": station} if station else {}))
        if as_json:
            _echo_json(data)
        else:
            click.echo(call_line(data))
    return command


_supervise_command("listen", "The supervisor's station hears CALL, unheard.")
_supervise_command("whisper", "The supervisor talks to CALL's agent only.")
_supervise_command("barge", "The supervisor joins CALL: caller and agent both hear them.")


@calls.command()
@click.argument("call")
@box_options
@json_option
def hangup(call, box, as_json):
    """End CALL now (its CDR says who ended it)."""
    data = box.ask("calls.hangup", call=call)
    if as_json:
        _echo_json(data)
    else:
        click.echo(f"call  {data['call']}  ended  ({data['cause']})")


@calls.command()
@click.argument("call")
@box_options
@json_option
def record(call, box, as_json):
    """Record CALL from now on (both sides, as the recording settings say)."""
    data = box.ask("calls.record", call=call)
    if as_json:
        _echo_json(data)
    else:
        click.echo(f"call  {data['call']}  recording"
                   + ("  (it was already)" if data["already"] else ""))


# ---- monitor ----------------------------------------------------------------------------

@click.command()
@click.argument("port")
@click.option("--wav", "wav", type=click.Path(dir_okay=False), default=None,
              help="Write the audio to this WAV file (16-bit, 8 kHz, stereo) instead of "
                   "playing it.")
@click.option("--seconds", type=click.FloatRange(0.02, 86400), default=None, metavar="N",
              help="Stop after N seconds (default: until Ctrl-C).")
@click.option("--device", type=int, default=None, metavar="I",
              help="The sound card's output device (default: the system's default).")
@box_options
def monitor(port, wav, seconds, device, box):
    """Listen to a live PORT on the local sound card: BOARD:N, N (a port of the first
    board) or a station's name. Left: what the port sends (the caller on a line, the
    agent on a station); right: what it hears."""
    items = box.stream("monitor", port=port, **({"seconds": seconds} if seconds else {}))
    if wav is not None:
        _to_wav(items, wav)
    else:
        _to_sound_card(items, device)


def _chunks(items):
    header = next(items, None)
    for item in items:
        yield np.frombuffer(base64.b64decode(item["pcm"]), dtype="<i2").reshape(-1, 2)
    return header


def _to_wav(items, path):
    import soundfile

    try:
        out = soundfile.SoundFile(path, "w", samplerate=8000, channels=2, subtype="PCM_16",
                                  format="WAV")
    except (soundfile.LibsndfileError, OSError) as exc:
        raise click.BadParameter(f"cannot write {path} ({exc})", param_hint="'--wav'") \
            from None
    frames = 0
    try:
        with out:
            for audio in _chunks(items):
                out.write(audio)
                frames += len(audio)
    except KeyboardInterrupt:
        pass
    click.echo(f"monitor  {path}  {frames / 8000:.2f} s  8000 Hz  2 channels (sent, heard)")


def _to_sound_card(items, device):
    from appliance.cli.soundcard import SoundcardError, open_output

    try:
        audio, stream = open_output(2, device=device)
    except SoundcardError as exc:
        raise UserError(f"monitor: {exc}; a live port can be written to a file instead with "
                        "--wav FILE --seconds N") from None
    frames = 0
    try:
        for chunk in _chunks(items):
            stream.write(chunk.tobytes())
            frames += len(chunk)
    except KeyboardInterrupt:
        pass
    finally:
        stream.close()
        audio.terminate()
    click.echo(f"monitor  played {frames / 8000:.2f} s on the sound card  8000 Hz  "
               "2 channels (sent, heard)")

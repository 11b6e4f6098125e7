"""Prometheus metrics of a running box: ``GET /metrics`` on a local port.

    server = await start_metrics(box, "127.0.0.1", 9464)   # in the box's event loop
    ...
    server.close(); await server.wait_closed()

The text exposition format (Prometheus 0.0.4: ``# HELP`` / ``# TYPE`` lines, then
``name{label="value"} number``) is written here by hand rather than with the PyPI
``prometheus_client``: its registry is filled from other threads and served from a thread
of its own, whereas here every figure is read straight from the engine, the ACD and the
boards at the moment of the scrape. The server is an asyncio server in the box's own event
loop, so a scrape runs between two ticks: it reads a consistent state with no lock and
nothing for the tick to publish, and costs one pass over the queues and agents (the ACD's
snapshot) per scrape, not per tick.

What it serves (every name starts ``appliance_``): the engine's counters (ticks, commands
and their errors, recorded and dropped frames), the host time per tick as a histogram,
calls up by state, per queue the callers waiting and ringing and the oldest wait, agents
by state, recordings written and running, and per board whether it is up and its link's
counters. HTTP: GET or HEAD on ``/metrics``; anything else is 404 or 405.
"""

import asyncio
import logging
import math

from appliance.acd.core import AgentState, AgentStatus
from appliance.engine.call import CallState
from appliance.engine.clock import TICK_MS

log = logging.getLogger("appliance.metrics")

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_REQUEST_TIMEOUT_S = 5.0
_MAX_HEADER_BYTES = 16384
AGENT_STATES = ([s.value for s in AgentStatus if s is not AgentStatus.READY]
                + [s.value for s in AgentState])


class Exposition:
    """Builds the text exposition: one `metric` per name (help, type), then its samples."""

    def __init__(self):
        self.lines = []

    def metric(self, name, kind, help_text, samples):
        """`samples`: a number, or [(labels dict, number)] (labels of one name alike)."""
        self.lines.append(f"# HELP {name} {_escape_help(help_text)}")
        self.lines.append(f"# TYPE {name} {kind}")
        if not isinstance(samples, list):
            samples = [({}, samples)]
        for labels, value in samples:
            self.sample(name, labels, value)

    def sample(self, name, labels, value):
        text = ",".join(f'{k}="{_escape_label(v)}"' for k, v in labels.items())
        self.lines.append(f"{name}{{{text}}} {_number(value)}" if text
                          else f"{name} {_number(value)}")

    def histogram(self, name, help_text, bounds, counts, total):
        """`counts[i]`: observations in (bounds[i-1], bounds[i]]; the last, above all."""
        self.lines.append(f"# HELP {name} {_escape_help(help_text)}")
        self.lines.append(f"# TYPE {name} histogram")
        running = 0
        for bound, count in zip((*bounds, math.inf), counts):
            running += count
            self.sample(f"{name}_bucket", {"le": _number(bound)}, running)
        self.sample(f"{name}_sum", {}, total)
        self.sample(f"{name}_count", {}, running)

    def text(self):
        return "\n".join(self.lines) + "\n"


def _escape_help(text):
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _escape_label(value):
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number(value):
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if math.isnan(value):
        return "NaN"
    return repr(float(value))


def render(box):
    """The exposition text of `box` (an appliance.engine.box.Box that has started)."""
    engine = box.engine
    stats = engine.stats
    out = Exposition()
    for name, value, help_text in (
            ("ticks", stats.ticks, "Ticks of the clock board the engine has run."),
            ("commands", stats.commands, "Commands the switchboard gave the engine."),
            ("command_errors", stats.command_errors,
             "Commands that failed (refused by a board, or a bug; see the log)."),
            ("event_errors", stats.event_errors, "Board events whose handling failed."),
            ("recorded_frames", stats.recorded_frames,
             "Call ticks handed to the recording writer."),
            ("dropped_frames", stats.dropped_frames,
             "Call ticks the recording writer dropped (disk too slow; silence instead)."),
    ):
        out.metric(f"appliance_engine_{name}_total", "counter", help_text, value)
    out.histogram("appliance_engine_tick_duration_seconds",
                  "Host time spent on one board's audio tick (a tick is 20 ms of audio).",
                  stats.TICK_BUCKETS_S, stats.tick_counts, stats.tick_seconds)
    out.metric("appliance_engine_tick_duration_max_seconds", "gauge",
               "The longest audio tick so far, in host time.", stats.tick_max_s)

    switchboard = engine.switchboard
    by_state = {s.value: 0 for s in CallState if s is not CallState.ENDED}
    for call in switchboard.calls.values():
        if call.state.value in by_state:
            by_state[call.state.value] += 1
    out.metric("appliance_calls_up", "gauge", "Calls in the box now.",
               sum(by_state.values()))
    out.metric("appliance_calls", "gauge", "Calls in the box now, by state.",
               [({"state": s}, n) for s, n in by_state.items()])

    snapshot = switchboard.acd.snapshot(switchboard.now * TICK_MS)
    queues = {name: q for name, q in snapshot["queues"].items() if not q["retired"]}
    out.metric("appliance_queue_callers_waiting", "gauge",
               "Callers waiting in the queue (no agent's phone ringing for them yet).",
               [({"queue": n}, q["waiting"]) for n, q in queues.items()])
    out.metric("appliance_queue_callers_ringing", "gauge",
               "Callers of the queue whose offered agent's phone is ringing.",
               [({"queue": n}, q["ringing"]) for n, q in queues.items()])
    out.metric("appliance_queue_oldest_wait_seconds", "gauge",
               "How long the queue's longest-waiting caller has waited (board time).",
               [({"queue": n}, q["oldest_wait_ms"] / 1000) for n, q in queues.items()])
    out.metric("appliance_queue_expected_wait_seconds", "gauge",
               "The expected wait of a caller joining the queue now.",
               [({"queue": n}, float(q["expected_wait_s"])) for n, q in queues.items()
                if q["expected_wait_s"] is not None])  # None: nobody ready serves it
    agents = snapshot["totals"]["agents"]
    out.metric("appliance_agents", "gauge",
               "Agents by state (logged_out, not_ready; logged-in ready agents by what "
               "they are doing: idle, reserved, on_call, wrap_up).",
               [({"state": s}, agents.get(s, 0)) for s in AGENT_STATES])

    out.metric("appliance_recordings_written_total", "counter",
               "Call recordings finished (voicemail not included).", stats.recordings)
    out.metric("appliance_recordings_active", "gauge", "Recordings running now.",
               len(engine.recordings))

    boards = box.boards
    out.metric("appliance_board_up", "gauge", "Whether the board answers (1) or is lost (0).",
               [({"board": n}, b.alive) for n, b in boards.items()])
    for field, help_text in (("audio_dropped", "Audio ticks dropped for a slow engine."),
                             ("protocol_errors", "Bad frames from the board."),
                             ("lost", "Times the board was lost.")):
        out.metric(f"appliance_board_{field}_total", "counter", help_text,
                   [({"board": n}, getattr(b.stats, field)) for n, b in boards.items()])
    return out.text()


async def start_metrics(box, host, port):
    """Serve ``/metrics`` for `box` on (host, port) in the running loop; returns the
    asyncio Server (its `sockets` give the bound port when `port` is 0). OSError when the
    address cannot be bound."""

    async def handle(reader, writer):
        try:
            async with asyncio.timeout(_REQUEST_TIMEOUT_S):
                head = await reader.readuntil(b"\r\n\r\n")
            try:
                status, body, allow = _answer(box, head)
            except Exception:  # a bug here must not touch the box: say so, keep serving
                log.exception("metrics: rendering failed")
                status, body, allow = "500 Internal Server Error", "see the log\n", False
            head_only = head.startswith(b"HEAD ")
            data = body.encode("utf-8")
            lines = [f"HTTP/1.1 {status}", f"Content-Type: {CONTENT_TYPE}",
                     f"Content-Length: {len(data)}", "Connection: close"]
            if allow:
                lines.append("Allow: GET, HEAD")
            writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("ascii")
                         + (b"" if head_only else data))
            await writer.drain()
        except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError,
                ConnectionError):
            pass  # a client that went away or never finished its request
        finally:
            writer.close()

    return await asyncio.start_server(handle, host, port, limit=_MAX_HEADER_BYTES)


def _answer(box, head):
    """(status line, body, whether to send Allow) for a request head."""
    request = head.split(b"\r\n", 1)[0].decode("latin-1").split()
    if len(request) != 3 or not request[2].startswith("HTTP/"):
        return "400 Bad Request", "bad request\n", False
    method, target = request[0], request[1].split("?", 1)[0]
    if target != "/metrics":
        return "404 Not Found", "the metrics are at /metrics\n", False
    if method not in ("GET", "HEAD"):
        return "405 Method Not Allowed", "GET /metrics\n", True
    if box.engine is None:
        return "503 Service Unavailable", "the box is starting\n", False
    return "200 OK", render(box), False


def parse_address(text):
    """"HOST:PORT" ("[::1]:9464", ":9464" is 127.0.0.1) -> (host, port); ValueError."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) < 65536:
        raise ValueError(f"{text!r}: write HOST:PORT, e.g. 127.0.0.1:9464")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif ":" in host:
        raise ValueError(f"{text!r}: an IPv6 address goes in brackets, e.g. [::1]:9464")
    return host or "127.0.0.1", int(port)

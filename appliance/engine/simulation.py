"""Capacity simulation: the real switchboard and ACD in virtual time, with synthetic callers.

`simulate(traffic, agents=, trunks=, hours=, seed=)` runs `Switchboard` (call control and,
through it, the ACD) exactly as the engine does, but in place of the board and the engine's
shell it plays the world itself, answering every command at once:

- callers (`traffic.Traffic`: Poisson arrivals, talk times, patience) arrive on simulated
  FXO lines: caller ID, a ring burst; the box answers, the trunk's IVR flow queues them;
  a call that finds every line busy is blocked (the exchange gives it busy tone; the box
  never sees it);
- the agents' stations ring on the ACD's offers; the simulated agent lifts the handset
  `ring_delay_s` later, talks for the call's talk time and hangs up (the queue's wrap-up
  follows in the ACD); a station told to play busy tone hangs up at once;
- a caller whose patience runs out before an agent answers hangs up (loop current drop);
- playouts with a tag end after their length (prompt files measured once), lookups find
  nobody, every other command (switching, tones, CDRs) needs nothing back.

Event-driven: a heap of future events (arrivals, answers, hang-ups, playout ends); the
clock jumps from one to the next, and to the switchboard's next timer (`Switchboard
.deadline`) when that comes first. Within a tick the events come first, then the timers,
as the engine does (a board's events of a tick arrive before its audio). No audio is made.

KPIs are counted from the event-log rows (`LogEvent` commands: call_arrived, queued,
offered, connected, call_ended, agent_state) as they stream by, over the calls that arrive
in the measured window (after the warm-up), each followed to its end (the run drains after
the window). Definitions (as `appliance plan`, appliance.acd.erlang): service level =
answered within the target / all offered (abandoned and blocked included); p_wait, abandon
rate, blocking rate over all offered; ASA = mean wait (queued to answered) of the answered
calls; occupancy = agent busy time (ringing, talking, wrap-up) / (agents x window). The
confidence intervals are batch means: the window is cut into `batches` equal batches by
arrival time, each batch's ratio is one sample, and the interval is Student's t at 95 %.
"""

import dataclasses
import heapq
import itertools
import math
from collections import deque

from appliance.config import parse_config
from appliance.drivers.board import events as ev

from . import commands as cmd
from .clock import TICKS_PER_SECOND, ScheduleClock, TickCalendar
from .endpoints import Line
from .switchboard import Switchboard
from .traffic import Traffic

ORIGIN_MS = 1_795_420_800_000  # 2026-11-23T08:00:00Z, a Monday: tick 0 of every run
BOARD_PORTS = 64               # a board's most ports (appliance.config.ports.MAX_PORTS)
QUEUE = "q"
SKILL = "s"
BATCHES = 20
MAX_DRAIN_S = 2 * 86400.0      # after the window, calls still up get this long to end
BUSY_TONES = ("tone:busy", "tone:congestion")
DIGIT_GAP_S = 1.0              # --config: a caller presses a digit every second from the answer

CI_METHOD = ("batch means over {r} independent replication(s), each after a warm-up of "
             "{w:.3g} h (discarded): {b} batches of {h:.3g} h by arrival time; 95% Student t "
             "interval of the batch ratios")
DEFINITIONS = (
    "service level = answered within the target / all offered calls (abandoned and blocked "
    "included); p_wait, abandon_rate, blocking_rate: of all offered calls; asa: mean wait "
    "(queued to answered) of the answered calls; occupancy: agent busy time (ringing, "
    "talking, wrap-up) / (agents x measured time); other: offered calls that ended neither "
    "answered, abandoned nor blocked (IVR, voicemail, overflow, or still in the box when "
    "the run stopped)")


# ---- the synthetic centre ----------------------------------------------------------------

def centre_config(agents, lines, *, wrap_up_s=0, ring_s=20, data_dir="/tmp/appliance-sim"):
    """A config for `agents` agents (each logged in at a station of their own) and `lines`
    inbound lines, one queue that every agent serves, reached straight from the lines (no
    IVR prompt): boards of up to 64 FXO lines first (the first is the engine's clock), then
    boards of up to 64 stations. Callers never leave the queue by themselves (max wait a
    day, no announcements): patience is the traffic's."""
    out = ['skills = ["s"]', "[site]", 'name = "simulated centre"', 'country = "cn"']
    trunks, stations, agent_rows = [], [], []
    for b, first in enumerate(range(0, lines, BOARD_PORTS)):
        count = min(BOARD_PORTS, lines - first)
        out += [f"[boards.lines{b}]", f'url = "inprocess://lines{b}"',
                f'ports = "{count}fxo"', "emulated = true"]
        trunks += [f"[trunks.pstn{b}]", f'board = "lines{b}"',
                   f"ports = {list(range(count))}", 'direction = "inbound"', 'flow = "in"']
    for b, first in enumerate(range(0, agents, BOARD_PORTS)):
        count = min(BOARD_PORTS, agents - first)
        out += [f"[boards.desks{b}]", f'url = "inprocess://desks{b}"',
                f'ports = "{count}fxs"', "emulated = true"]
        for port in range(count):
            n = first + port + 1
            stations += [f"[stations.d{n:04d}]", f'extension = "{10000 + n}"',
                         f'board = "desks{b}"', f"port = {port}"]
            agent_rows += [f"[agents.a{n:04d}]", f'name = "agent {n}"', "skills = { s = 5 }",
                           f'pin = "{n:04d}"', f'station = "d{n:04d}"']
    out += trunks + stations
    out += ["[queues.q]", 'skills = ["s"]', "max_wait_s = 86400", 'overflow = "hangup"',
            f"wrap_up_s = {int(wrap_up_s)}", f"ring_s = {int(ring_s)}", "announce_s = 0"]
    out += agent_rows
    out += ["[recording]", 'mode = "off"', "[storage]", f'data_dir = "{data_dir}"',
            "[ivr.in]", 'type = "queue"', 'queue = "q"']
    return parse_config("\n".join(out) + "\n", source="<simulated centre>")


def config_for(traffic, agents, trunks, data_dir="/tmp/appliance-sim"):
    """The synthetic centre for a run: `trunks` lines (None: as many as agents to start
    with; the event-driven run adds lines whenever every one is busy)."""
    ring_s = max(20, int(math.ceil(traffic.ring_delay_s)) + 10)
    return centre_config(agents, trunks if trunks is not None else agents,
                         wrap_up_s=traffic.wrap_up_s, ring_s=ring_s, data_dir=data_dir)


# ---- counting the KPIs from the event log ------------------------------------------------

class Tally:
    """KPIs from the event-log rows of the calls arriving in [start, end) ticks, in
    `batches` batches by arrival time. Feed every LogEvent to `row`, blocked calls to
    `blocked`; `result` after the run."""

    def __init__(self, start, end, batches, target_ticks):
        self.start, self.end = start, end
        self.batches = batches
        self.span = end - start
        self.target = target_ticks
        n = batches
        self.offered = [0] * n
        self.answered = [0] * n
        self.within = [0] * n
        self.waited = [0] * n
        self.wait_sum = [0] * n       # ticks, answered calls
        self.abandoned = [0] * n
        self.blocked_n = [0] * n
        self.calls = {}               # call id -> [batch, queued tick, first offer tick]
        self.busy_since = {}          # agent -> tick it became busy
        self.busy_ticks = 0

    def _batch(self, tick):
        if self.start <= tick < self.end:
            return (tick - self.start) * self.batches // self.span
        return -1

    def blocked(self, tick):
        b = self._batch(tick)
        if b >= 0:
            self.offered[b] += 1
            self.blocked_n[b] += 1

    def row(self, c):
        kind = c.kind
        if kind == "agent_state":  # (self._agent, inlined: a third of the rows)
            since = self.busy_since.get(c.agent)
            if c.data["state"] != "idle":
                if since is None:
                    self.busy_since[c.agent] = c.tick
            elif since is not None:
                del self.busy_since[c.agent]
                self.busy_ticks += max(0, min(c.tick, self.end) - max(since, self.start))
            return
        calls = self.calls
        if kind == "call_arrived":
            tick = c.tick  # (self._batch, inlined)
            if self.start <= tick < self.end:
                b = (tick - self.start) * self.batches // self.span
                calls[c.call_id] = [b, None, None]
                self.offered[b] += 1
            return
        rec = calls.get(c.call_id)
        if rec is None:
            return
        if kind == "queued":
            if rec[1] is None:
                rec[1] = c.tick
        elif kind == "offered":
            if rec[2] is None:
                rec[2] = c.tick
        elif kind == "connected":
            del calls[c.call_id]
            b = rec[0]
            wait = c.data["waited_ticks"]
            self.answered[b] += 1
            self.wait_sum[b] += wait
            if wait <= self.target:
                self.within[b] += 1
            if rec[1] is not None and (rec[2] is None or rec[2] > rec[1]):
                self.waited[b] += 1
        elif kind == "call_ended":
            del calls[c.call_id]
            b = rec[0]
            if rec[1] is not None and (rec[2] is None or rec[2] > rec[1]):
                self.waited[b] += 1
            if c.data["disposition"] == "abandoned":
                self.abandoned[b] += 1

    def _agent(self, c):
        busy = c.data["state"] != "idle"
        since = self.busy_since.get(c.agent)
        if busy:
            if since is None:
                self.busy_since[c.agent] = c.tick
        elif since is not None:
            del self.busy_since[c.agent]
            self.busy_ticks += max(0, min(c.tick, self.end) - max(since, self.start))

    def close(self, now):
        """The run is over at tick `now`: agents still busy count up to it."""
        for since in self.busy_since.values():
            self.busy_ticks += max(0, min(now, self.end) - max(since, self.start))
        self.busy_since.clear()
        # calls that never ended (a drain cut short) count as offered, not answered
        self.calls.clear()


def _t95(df):
    from scipy import special
    return float(special.stdtrit(df, 0.975))


def _ci(num, den):
    """Batch means of num[i] / den[i] over the batches with den > 0: (mean, low, high), or
    Nones when fewer than two batches count."""
    ratios = [n / d for n, d in zip(num, den) if d > 0]
    if len(ratios) < 2:
        return None, None, None
    k = len(ratios)
    mean = sum(ratios) / k
    var = sum((r - mean) ** 2 for r in ratios) / (k - 1)
    half = _t95(k - 1) * math.sqrt(var / k)
    return mean, mean - half, mean + half


# ---- the run -----------------------------------------------------------------------------

_ARRIVE, _ANSWER, _HANGUP, _ABANDON, _PLAYED, _DIGIT, _CALLER_ENDS = range(7)


class Simulation:
    """One run. `traffic`: a traffic.Traffic; `agents`: agents logged in and ready (the
    synthetic centre), or `config`: a real configuration (its agents with a station, its
    queues and IVR; traffic enters at its first inbound trunk group with a flow, on that
    group's lines; `press`: digits each caller presses, one a second from the answer);
    `trunks`: lines (None: unlimited); `hours` measured after `warmup_hours` (default a
    tenth of `hours`, at least the time for 20 handle times) discarded; `progress(fraction)`
    is called now and then."""

    def __init__(self, traffic, *, agents=None, trunks=None, hours=1.0, seed=0,
                 warmup_hours=None, target_seconds=20.0, config=None, press="",
                 batches=BATCHES, progress=None, prompt_dirs=None):
        if not isinstance(traffic, Traffic):
            raise TypeError("traffic must be an appliance.engine.traffic.Traffic")
        if (agents is None) == (config is None):
            raise ValueError("give the number of agents, or a config (not both)")
        if agents is not None and (not isinstance(agents, int) or agents < 1):
            raise ValueError(f"agents must be a whole number >= 1, not {agents!r}")
        if trunks is not None and (not isinstance(trunks, int) or trunks < 1):
            raise ValueError(f"trunks must be a whole number >= 1, not {trunks!r}")
        if not (isinstance(hours, (int, float)) and math.isfinite(hours) and hours > 0):
            raise ValueError(f"hours must be a positive number, not {hours!r}")
        if not (isinstance(target_seconds, (int, float)) and math.isfinite(target_seconds)
                and target_seconds >= 0):
            raise ValueError(f"target_seconds must be >= 0, not {target_seconds!r}")
        if warmup_hours is None:
            warmup_hours = default_warmup(traffic)
        self.traffic = traffic
        self.trunks = trunks
        self.hours = float(hours)
        self.warmup_hours = float(warmup_hours)
        self.seed = seed
        self.target_seconds = float(target_seconds)
        self.batches = batches
        self.progress = progress
        self.press = press
        self.unlimited = config is None and trunks is None
        self.config = config if config is not None else config_for(traffic, agents, trunks)
        self.entry = next((t for t in self.config.trunks.values()
                           if t.direction.value != "outbound" and (t.flow or t.station)
                           and t.kind.value == "fxo"), None)
        if self.entry is None:
            raise ValueError(f"{self.config.source} has no inbound analog trunk group with a "
                             "flow or station for the callers to come in on; add one")
        if any(d not in "0123456789*#ABCD" for d in press):
            raise ValueError(f"press {press!r}: give DTMF digits (0-9, *, #, A-D)")
        self._prompt_dirs = prompt_dirs
        self._durations = {}
        self.record = None  # a list: every call's arrival, talk, patience, line, release
        self.listeners = []  # callables(LogEvent): every event-log row, as the engine's

    # ---- set-up --------------------------------------------------------------------------
    def _build(self):
        config = self.config
        calendar = TickCalendar(ORIGIN_MS)
        schedules = {n: ScheduleClock(s, calendar) for n, s in config.schedules.items()}
        self.now = 0
        self.sb = Switchboard(config, schedules=schedules, ms=calendar.ms,
                              last_voice=self._last_voice)
        entry = self.entry
        self.free_lines = deque((entry.board, p) for p in entry.ports)
        self.agents = sum(1 for a in config.agents.values() if a.station in config.stations)

    def _last_voice(self, key):
        # The simulated line's level meter: a caller talks until the call's end, so the
        # line carries voice up to the tick the agent will hang up (the switchboard's
        # silence check then waits until after it: the silence clear never fires).
        info = self.line_call.get(key)
        return info[3] if info is not None and info[3] is not None else self.now

    def _add_line(self):
        """Unlimited trunks: one more line in the entry group."""
        trunk = self.entry
        lines = self.sb.trunks[trunk.name]
        key = (trunk.board, 1000 + len(lines))
        line = Line(key, trunk)
        self.sb.lines[key] = line
        lines.append(line)
        return key

    # ---- running -------------------------------------------------------------------------
    def run(self):
        self._build()
        tps = TICKS_PER_SECOND
        warm = round(self.warmup_hours * 3600 * tps)
        end = warm + round(self.hours * 3600 * tps)
        self.tally = tally = Tally(warm, end, self.batches, round(self.target_seconds * tps))
        traffic = self.traffic
        ring_delay = round(traffic.ring_delay_s * tps)
        sb = self.sb
        heap = []
        push = heapq.heappush
        pop = heapq.heappop
        seq = itertools.count()
        self.heap, self.push, self.seq = heap, push, seq
        calls = traffic.calls(self.seed)
        self.line_call = line_call = {}   # line key -> [talk, patience, index, end, caller ends]
        ring_serial = {}                  # station key -> serial of its pending answer
        conn = {}                         # station key -> serial of its talk
        play_serial = {}                  # port key -> serial of its tagged playout
        self.ring_serial, self.conn, self.play_serial = ring_serial, conn, play_serial
        free_lines = self.free_lines
        unlimited = self.unlimited
        index = 0
        arrival, talk, patience, caller_ends = next(calls)
        push(heap, (round(arrival * tps), next(seq), _ARRIVE, None, None))
        drain_end = end + round(MAX_DRAIN_S * tps)
        report_every = max(1, end // 200)
        next_report = report_every
        progress = self.progress
        record = self.record  # per call: [arrival tick, talk s, patience s, line, release]
        row = tally.row
        if self.listeners:
            def row(c, listeners=tuple(self.listeners), count=tally.row):
                count(c)
                for listener in listeners:
                    listener(c)

        def carry(commands):
            for c in commands:
                kind = c.__class__
                if kind is LogEvent:  # the most frequent
                    row(c)
                elif kind in _NOTHING_BACK:
                    continue
                elif kind is Connect:
                    info = line_call.get(c.a)
                    if info is not None:
                        serial = next(seq)
                        conn[c.b] = serial
                        info[1] = None  # connected: patience no longer matters
                        info[3] = self.now + info[0]
                        if info[4]:  # the caller hangs up first
                            push(heap, (info[3], serial, _CALLER_ENDS, c.a, info[2]))
                        else:
                            push(heap, (info[3], serial, _HANGUP, c.b, serial))
                elif kind is Ring:
                    serial = next(seq)
                    ring_serial[c.port] = serial
                    push(heap, (self.now + ring_delay, serial, _ANSWER, c.port, serial))
                elif kind is StopRing:
                    ring_serial.pop(c.port, None)
                elif kind is Release:
                    info = line_call.pop(c.port, None)
                    if info is not None:
                        free_lines.append(c.port)
                        if record is not None:
                            record[info[2]].append(self.now)
                elif kind is Play:
                    if play_serial or (c.tag is not None and not c.loop) \
                            or c.prompts[0] in BUSY_TONES:
                        self._play(c)
                elif kind is StopPlay:
                    if play_serial:
                        play_serial.pop(c.port, None)
                elif kind is LookUp:
                    carry(sb.lookup_answered(c.call_id, None, c.request_id, self.now))

        self.carry = carry
        carry(sb.start(0))
        handle = sb.handle
        while True:
            t = heap[0][0] if heap else None
            due = sb.deadline
            if due is not None and (t is None or due < t):
                now = self.now = due
                carry(sb.tick(now))
                if now > drain_end:
                    break
                continue
            if t is None:
                break
            now, serial, kind, key, token = pop(heap)
            self.now = now
            if kind == _ARRIVE:
                if now >= next_report:
                    next_report += report_every
                    if progress is not None:
                        progress(min(1.0, now / end))
                if free_lines:
                    line = free_lines.popleft()
                elif unlimited:
                    line = self._add_line()
                else:
                    line = None
                    tally.blocked(now)
                if record is not None:
                    record.append([now, talk, patience, line])
                if line is not None:
                    patience_ticks = round(patience * tps) if patience != math.inf else None
                    line_call[line] = [max(1, round(talk * tps)), patience_ticks, index, None,
                                       caller_ends]
                    board, port = line
                    carry(handle(CallerId(board, port, f"{index:08d}", None, "bell202",
                                          now), now))
                    carry(handle(RingStarted(board, port, now), now))
                    carry(handle(RingStopped(board, port, now), now))
                    if patience_ticks is not None and line in line_call:
                        push(heap, (now + patience_ticks, next(seq), _ABANDON, line, index))
                    if self.press:
                        for i, digit in enumerate(self.press, 1):
                            push(heap, (now + round(i * DIGIT_GAP_S * tps), next(seq),
                                        _DIGIT, line, (index, digit)))
                index += 1
                arrival, talk, patience, caller_ends = next(calls)
                at = round(arrival * tps)
                if at < end:
                    push(heap, (at, next(seq), _ARRIVE, None, None))
            elif kind == _ANSWER:
                if ring_serial.get(key) == token:
                    del ring_serial[key]
                    carry(handle(HookChanged(key[0], key[1], True, now), now))
            elif kind == _HANGUP:
                if conn.get(key) == token:
                    del conn[key]
                    carry(handle(HookChanged(key[0], key[1], False, now), now))
            elif kind == _ABANDON:
                info = line_call.get(key)
                if info is not None and info[2] == token and info[1] is not None:
                    carry(handle(LoopDrop(key[0], key[1], now), now))
            elif kind == _CALLER_ENDS:
                info = line_call.get(key)
                if info is not None and info[2] == token:
                    carry(handle(LoopDrop(key[0], key[1], now), now))
            elif kind == _PLAYED:
                serial, tag = token
                if play_serial.get(key) == serial:
                    del play_serial[key]
                    carry(sb.playout_finished(key, tag, now))
            elif kind == _DIGIT:
                info = line_call.get(key)
                if info is not None and info[2] == token[0]:
                    carry(handle(Digit(key[0], key[1], token[1], now), now))
            if now > drain_end or (not heap and not sb.calls):
                break
        tally.close(self.now)
        if progress is not None:
            progress(1.0)
        tally.calls_simulated = index
        tally.agents = self.agents
        return tally

    def _play(self, c):
        port = c.port
        if c.prompts and c.prompts[0] in BUSY_TONES and port in self.sb.stations:
            # the agent's phone hears busy tone: the agent puts the handset down
            serial = next(self.seq)
            self.conn[port] = serial
            self.push(self.heap, (self.now, serial, _HANGUP, port, serial))
            return
        if c.tag is None or c.loop:
            self.play_serial.pop(port, None)
            return
        serial = next(self.seq)
        self.play_serial[port] = serial
        self.push(self.heap, (self.now + self._length(c.prompts), serial, _PLAYED, port,
                              (serial, c.tag)))

    def _length(self, prompts):
        """Ticks a playout of `prompts` lasts (each prompt measured once)."""
        total = 0
        for name in prompts:
            n = self._durations.get(name)
            if n is None:
                n = self._durations[name] = self._measure(name)
            total += n
        return max(1, total)

    def _measure(self, name):
        if name.startswith("dtmf:"):
            return len(name[5:]) * 8  # 80 ms on + 80 ms off per digit
        try:
            from .prompts import PromptLibrary, default_prompt_dir
            library = getattr(self, "_library", None)
            if library is None:
                dirs = self._prompt_dirs or list(self.config.ivr.prompt_dirs) \
                    or [str(default_prompt_dir())]
                library = self._library = PromptLibrary(dirs, tone_plan=self.config.tone_plan)
            return max(1, len(library.load(name)) // 160)
        except Exception:  # a prompt the box could not play either: it ends at once
            return 1

# commands the simulated world has no answer to (switching, tones, CDRs, recordings)
_NOTHING_BACK = frozenset({cmd.Seize, cmd.DetectTones, cmd.Disconnect, cmd.CdrOpen,
                           cmd.CdrUpdate, cmd.CdrClose, cmd.StartRecording, cmd.StopRecording,
                           cmd.JoinConference, cmd.LeaveConference})
LogEvent, Connect, Ring, StopRing = cmd.LogEvent, cmd.Connect, cmd.Ring, cmd.StopRing
Release, Play, StopPlay, LookUp = cmd.Release, cmd.Play, cmd.StopPlay, cmd.LookUp
CallerId, RingStarted, RingStopped = ev.CallerIdReceived, ev.RingStarted, ev.RingStopped
HookChanged, LoopDrop, Digit = ev.HookChanged, ev.LoopCurrentDropped, ev.DigitDetected


def default_warmup(traffic):
    """Hours simulated and discarded before measuring: 50 handle times, at least an hour
    (from empty, a queue settles within a few dozen handle times)."""
    return max(1.0, 50.0 * traffic.aht / 3600.0)


def simulate(traffic, *, agents=None, trunks=None, hours=1.0, seed=0, warmup_hours=None,
             target_seconds=20.0, config=None, press="", replications=2, workers=1,
             batches=BATCHES, progress=None):
    """The KPIs of `traffic` (traffic.Traffic) on `agents` agents (the synthetic centre) or
    a `config`, with `trunks` lines (None: unlimited), measured over `hours` of simulated
    time: `replications` independent runs (seeds derived from `seed`) of hours /
    replications each, every one with its own warm-up (`warmup_hours`, default
    `default_warmup`) discarded and `batches` / replications batches; `workers` processes
    run them (1: here; the result does not depend on it). `progress(fraction)` is called
    now and then. Returns a JSON-ready dict (the same seed, the same dict)."""
    if not isinstance(replications, int) or replications < 1:
        raise ValueError(f"replications must be a whole number >= 1, not {replications!r}")
    if not isinstance(batches, int) or batches < 2 * replications:
        raise ValueError(f"batches must be a whole number >= 2 per replication, not "
                         f"{batches!r}")
    if warmup_hours is None:
        warmup_hours = default_warmup(traffic)
    per_run = dict(agents=agents, trunks=trunks, hours=hours / replications,
                   warmup_hours=warmup_hours, target_seconds=target_seconds, config=config,
                   press=press, batches=batches // replications)
    # check the arguments here, not in a worker
    Simulation(traffic, seed=f"{seed}/1", **per_run)
    seeds = [f"{seed}/{r + 1}" if replications > 1 else seed for r in range(replications)]
    if workers <= 1 or replications == 1:
        parts = []
        for r, run_seed in enumerate(seeds):
            each = None if progress is None else \
                (lambda f, r=r: progress((r + f) / replications))
            parts.append(Simulation(traffic, seed=run_seed, progress=each, **per_run).run())
    else:
        parts = _in_processes(traffic, seeds, per_run, min(workers, replications), progress)
    return _result(traffic, parts, hours=hours, warmup_hours=warmup_hours, seed=seed,
                   trunks=trunks, target_seconds=target_seconds, replications=replications)


def _in_processes(traffic, seeds, per_run, workers, progress):
    """Run the replications in `workers` forked processes (replication i in process
    i % workers); their tallies come back pickled, their progress through shared memory."""
    import multiprocessing
    import queue as queues
    import traceback

    context = multiprocessing.get_context("fork")
    shared = context.Array("d", len(seeds), lock=False)
    results = context.Queue()

    def work(w):
        for i in range(w, len(seeds), workers):
            def each(f, i=i):
                shared[i] = f
            try:
                tally = Simulation(traffic, seed=seeds[i], progress=each, **per_run).run()
                results.put((i, tally, None))
            except BaseException:  # noqa: BLE001 - handed to the parent, which raises
                results.put((i, None, traceback.format_exc()))

    procs = [context.Process(target=work, args=(w,), daemon=True) for w in range(workers)]
    for proc in procs:
        proc.start()
    parts = {}
    try:
        while len(parts) < len(seeds):
            try:
                i, tally, error = results.get(timeout=0.25)
            except queues.Empty:
                if not any(proc.is_alive() for proc in procs) and results.empty():
                    raise RuntimeError("a simulation worker died") from None
            else:
                if error is not None:
                    raise RuntimeError(f"replication {i + 1} failed:\n{error}")
                parts[i] = tally
            if progress is not None:
                progress(sum(shared) / len(seeds))
    finally:
        for proc in procs:
            proc.join(timeout=5)
            if proc.is_alive():
                proc.terminate()
    return [parts[i] for i in range(len(seeds))]


def _result(traffic, parts, *, hours, warmup_hours, seed, trunks, target_seconds,
            replications):
    """The KPIs of the replications' tallies together (their batches pooled)."""
    def pooled(name):
        return [x for t in parts for x in getattr(t, name)]

    offered_b, answered_b, within_b = pooled("offered"), pooled("answered"), pooled("within")
    waited_b, wait_b = pooled("waited"), pooled("wait_sum")
    abandoned_b, blocked_b = pooled("abandoned"), pooled("blocked_n")
    offered, answered = sum(offered_b), sum(answered_b)
    abandoned, blocked = sum(abandoned_b), sum(blocked_b)
    tps = TICKS_PER_SECOND

    def frac(x):
        return x / offered if offered else 0.0

    def interval(num, den):
        mean, low, high = _ci(num, den)
        return [low, high]

    agents = parts[0].agents
    window_ticks = sum(t.span for t in parts)
    busy = sum(t.busy_ticks for t in parts)
    return {
        "model": "simulation",
        "agents": agents,
        "calls_per_hour": traffic.calls_per_hour,
        "aht": traffic.aht,
        "talk_distribution": traffic.talk,
        "talk_cv": {"exponential": 1.0, "constant": 0.0}.get(traffic.talk, traffic.talk_cv),
        "patience": traffic.patience,
        "trunks": trunks,
        "ring_delay_s": traffic.ring_delay_s,
        "wrap_up_s": traffic.wrap_up_s,
        "caller_ends": traffic.caller_ends,
        "hours": hours,
        "warmup_hours": warmup_hours,
        "replications": replications,
        "seed": seed,
        "load": traffic.load,
        "target_seconds": target_seconds,
        "service_level": frac(sum(within_b)),
        "service_level_ci": interval(within_b, offered_b),
        "asa": sum(wait_b) / tps / answered if answered else 0.0,
        "asa_ci": interval([w / tps for w in wait_b], answered_b),
        "p_wait": frac(sum(waited_b)),
        "p_wait_ci": interval(waited_b, offered_b),
        "abandon_rate": frac(abandoned),
        "abandon_rate_ci": interval(abandoned_b, offered_b),
        "blocking_rate": frac(blocked),
        "blocking_rate_ci": interval(blocked_b, offered_b),
        "occupancy": busy / (agents * window_ticks) if agents else 0.0,
        "offered": offered,
        "answered": answered,
        "abandoned": abandoned,
        "blocked": blocked,
        "other": offered - answered - abandoned - blocked,
        "calls_simulated": sum(t.calls_simulated for t in parts),
        "ci_method": CI_METHOD.format(r=replications, w=warmup_hours, b=len(offered_b),
                                      h=hours / len(offered_b)),
        "definitions": DEFINITIONS,
    }


# ---- the same traffic through the whole box, with audio ----------------------------------

AUDIO_MARGIN_S = 15.0   # a line is given to the next caller this long after it was freed
AUDIO_DRAIN_S = 30.0    # the audio run goes on this long after the last call's end


def simulate_with_audio(traffic, *, agents, trunks=None, hours=0.25, seed=0,
                        target_seconds=20.0, batches=4, progress=None, data_dir=None):
    """The same callers as `simulate` (seed `seed`, one replication, no warm-up) through the
    whole box: `Box` on two emulated boards (the lines, then the agents' stations) in
    virtual time, with the DSP on every port (caller ID, DTMF and tone detection, G.711,
    speech-like audio from callers and agents). Each caller rings with FSK caller ID
    (their index as the number) before the first ring; the box answers, queues, offers;
    the agent's phone lifts `ring_delay_s` after it starts ringing, talks for the talk time
    of the caller it was given (read from the caller ID the box decoded) and hangs up; a
    caller not put through to an agent within their patience hangs up.

    Lines: the event-driven run of the same calls picks which calls are blocked (with
    `trunks`) and for how long each line is held; each call gets a line free for at least
    AUDIO_MARGIN_S by then (the box answers a little later with real ringing). At most 64
    agents and 64 lines (one emulated board each). Returns the same dict as `simulate`."""
    import asyncio
    import tempfile

    from appliance.drivers.emulator import parse_scenario
    from appliance.drivers.emulator.people import HangUp, Talk

    from .box import Box
    from .endpoints import Line as _Line

    if agents > BOARD_PORTS:
        raise ValueError(f"with audio: at most {BOARD_PORTS} agents (one emulated board)")
    if traffic.caller_ends:
        raise ValueError("with audio the agents end every call (the emulator's phones do "
                         "not hang up on busy tone); give caller_ends 0")
    tps = TICKS_PER_SECOND
    # the event-driven run of the same calls: who is blocked, how long lines are held
    probe = Simulation(traffic, agents=agents, trunks=trunks, hours=hours, seed=seed,
                       warmup_hours=0.0, target_seconds=target_seconds, batches=batches)
    probe.record = []
    probe.run()
    calls = [c for c in probe.record if c[0] < round(hours * 3600 * tps)]
    free_at = []     # per audio line: the tick it is free again
    placed = []      # (index, line, arrival s, talk s, patience s)
    blocked = []
    margin = round(AUDIO_MARGIN_S * tps)
    for index, (arrival, talk, patience, line, *release) in enumerate(calls):
        if line is None:
            blocked.append(arrival)
            continue
        end = release[0] if release else arrival + round((talk + 3600) * tps)
        free = [i for i, t in enumerate(free_at) if t <= arrival]
        if free:
            pick = min(free, key=lambda i: (free_at[i], i))
        elif len(free_at) < BOARD_PORTS:
            pick = len(free_at)
            free_at.append(0)
        else:
            raise ValueError(f"with audio: the calls need more than {BOARD_PORTS} lines at "
                             "once (one emulated board); give fewer calls per hour or "
                             "--trunks 64 or less")
        free_at[pick] = end + margin
        placed.append((index, pick, arrival / tps, talk, patience))
    lines = max(1, len(free_at))
    talk_of = {f"9{index:07d}": talk for index, _, _, talk, _ in placed}
    # long enough for every call to end as it did in the event-driven run, and some
    last = max((c[4] for c in calls if len(c) > 4), default=0)
    seconds = max(hours * 3600, last / tps) + AUDIO_DRAIN_S

    caller_rows = []
    for index, line, at_s, talk, patience in placed:
        wait = patience if math.isfinite(patience) else 10 * seconds
        caller_rows.append(
            f'[[callers]]\nname = "c{index}"\nline = {line}\nat_s = {at_s:.3f}\n'
            f'number = "9{index:07d}"\nring_patience_s = 60.0\n'
            f"actions = [{{ wait_for_agent_s = {wait:.3f} }}, "
            f"{{ talk_s = {talk + 5:.3f}, level_dbm0 = -20.0 }}]\n")
    lines_scenario = parse_scenario(
        f'[board]\nports = "{lines}fxo"\n[run]\nseconds = {seconds:.3f}\nseed = 1\n'
        '[exchange]\ncaller_id = "bell202"\ncaller_id_timing = "before_first_ring"\n'
        'caller_id_delay_s = 0.2\nclear_signal = "polarity"\n' + "".join(caller_rows),
        "<simulated callers>")
    phone_rows = "".join(
        f'[[phones]]\nname = "agent-{p + 1}"\nport = {p}\n'
        f"answer_after_s = {max(traffic.ring_delay_s, 0.02):.3f}\n"
        for p in range(agents))
    desks_scenario = parse_scenario(
        f'[board]\nports = "{agents}fxs"\n[run]\nseconds = {seconds:.3f}\nseed = 2\n'
        + phone_rows, "<simulated agents>")

    with tempfile.TemporaryDirectory(prefix="appliance-sim-", dir=data_dir) as folder:
        ring_s = max(20, int(math.ceil(traffic.ring_delay_s)) + 10)
        config = centre_config(agents, lines, wrap_up_s=traffic.wrap_up_s, ring_s=ring_s,
                               data_dir=folder)
        box = Box(config, scenarios={"lines0": lines_scenario, "desks0": desks_scenario},
                  virtual=True, until_s=seconds, origin_ms=ORIGIN_MS)
        tally = Tally(0, round(hours * 3600 * tps), batches, round(target_seconds * tps))

        def agent_on(port):
            """The caller on line `port` hears an agent: the box put them through (the
            call's other end is a station off-hook), across the two boards."""
            line = box.engine.switchboard.lines.get(("lines0", port))
            call = line.call if line is not None else None
            if call is not None and call.connected is not None and call.b is not None \
                    and not isinstance(call.b, _Line):
                return call.b.name
            return None

        def answer_actions(station_key):
            def actions(n):
                station = box.engine.switchboard.stations.get(station_key)
                call = station.call if station is not None else None
                talk = talk_of.get(call.caller) if call is not None else None
                # not a simulated caller (or caller ID lost): a short call
                return (Talk(1.0 if talk is None else talk, -20.0), HangUp())
            return actions

        async def run():
            await box.start()
            box.sessions["lines0"].board.remote_agent = agent_on
            desks = box.sessions["desks0"].board
            for port in desks.ports:
                if port.phone is not None:
                    port.phone.answer_actions = answer_actions(("desks0", port.index))
            engine = box.engine
            engine.listeners.append(lambda c, ms: tally.row(
                dataclasses.replace(c, tick=c.tick - engine.calendar.origin_tick)))
            total = seconds * tps

            async def report():
                while True:
                    if progress is not None:
                        progress(min(1.0, engine.stats.ticks / total))
                    await asyncio.sleep(0.5)
            reporter = asyncio.get_running_loop().create_task(report())
            try:
                await engine.run()
            finally:
                reporter.cancel()
                await box.close()

        asyncio.run(run())
        stats = box.engine.stats
        if stats.event_errors or stats.command_errors:
            raise RuntimeError(f"the box logged {stats.event_errors} event and "
                               f"{stats.command_errors} command errors in the audio run")
        report = box.report("lines0")
    tally.close(round(seconds * tps))
    for arrival in blocked:
        tally.blocked(arrival)
    for caller in report.callers:  # a line the box had not freed yet: the caller got busy
        if caller.outcome.value == "busy":
            tally.blocked(round(caller.arrived_at_s * tps))
    tally.calls_simulated = len(calls)
    tally.agents = agents
    if progress is not None:
        progress(1.0)
    result = _result(traffic, [tally], hours=hours, warmup_hours=0.0, seed=seed,
                     trunks=trunks, target_seconds=target_seconds, replications=1)
    result["audio_lines"] = lines
    return result

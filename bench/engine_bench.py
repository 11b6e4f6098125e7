"""The box under load: 120 simultaneous calls through IVR, hold music and recording, in real
time (issue 5's benchmark).

    python bench/engine_bench.py                       # 4 boards x 30 lines, 60 s window
    python bench/engine_bench.py --nice -10 --output bench/RESULTS.md   # + the section
    python bench/engine_bench.py --boards 1 --lines 4 --window 5 --virtual   # smoke run
    python bench/engine_bench.py --virtual --window 10 --cases ivr+recording --profile F

On a machine shared with other jobs, real time needs `--nice -10` (root): it sets the
nice of this process, the emulators' and their session's scheduler autogroup (with Linux
autogroups a nice value counts only inside its session, and sessions share the CPUs
evenly); without it the emulated boards themselves fall behind and drop the host.

Two processes. The emulated boards (``appliance emulate``'s stack: `emulated_board` +
`EmulatorRunner` + `serve_tcp`, the emulator's RealTimeClock, 50 ticks/s) run in a child
process, so what they cost is not charged to the box. This process runs the box itself
(`appliance.engine.box.Box`: store, recording writer, prompts, the `Board` drivers with
their DSP, the engine and switchboard) with the config's boards at the children's
``socket://`` URLs. Per board: 30 FXO lines (a trunk group) and 2 FXS stations; one agent
per board, whose phone nobody answers, so every caller waits in a queue with music.
Per line a caller arrives in the first `ramp` seconds, hears welcome.wav and the menu
(main-menu.wav), presses 1 or 2 five seconds after the answer (during the menu), waits for
an agent with hold music, and hangs up after the window. Recording mode "all", stereo,
WAV PCM16 (FLAC writes the same crash-safe PCM16 WAV during the call and encodes it after
the call, outside the window).

Measured over a window in which every call is up (board time, the first board's ticks):
- CPU share of one core of the box's process: getrusage (all threads: the event loop with
  driver, DSP and engine, the recording and store writer threads), and the event-loop
  thread alone (time.thread_time);
- tick overruns: AUDIO_TX frames the boards got too late to play (the emulator session's
  ``audio_late``), audio frames the driver dropped for a slow engine (``audio_dropped``),
  and, wrapped from outside (nothing in the product is changed), the handling time per
  20 ms tick (driver receive + DSP + engine, all boards, grouped by the first board's
  tick) and each board's response time (its AUDIO_RX read -> its AUDIO_TX sent);
- digit-to-action latency from the caller's key-down (the emulator's report): the DSP's
  detection (DigitDetected's tick), the box's action (the first AUDIO_TX frame that
  carries hold music to that line), the "queued" row of the store's event log, and what
  the caller heard (where the hold music, matched sample for sample after G.711, starts
  in the caller's audio).

Cases, side by side in one run (a fresh child and a fresh box each): IVR + recording,
IVR with recording off, and no calls at all (the boards' audio through the host DSP
and an idle engine: the baseline). CPU seconds of the child (the emulator) are shown too.

``run(...) -> dict`` is the entry point (tests/bench/test_engine_bench.py runs it tiny, on
a virtual clock); ``markdown(result)`` formats it. Timings on a shared machine vary from
run to run: the counts (late frames, drops, calls up) are the hard facts.
"""

import argparse
import asyncio
import gc
import importlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import machine as bench_machine  # noqa: E402

TICKS_PER_S = 50
TICK_MS = 20
PLAYOUT_DELAY_TICKS = 2  # AUDIO_TX of tick t plays in board tick t + 2 (SPEC 8)
KEY_MS = 100  # how long a caller holds a key (the emulator's default press)
ORIGIN_MS = 1_795_420_800_000  # 2026-11-22T16:00:00Z
LISTEN_S = 5.0  # after the answer: welcome.wav (1.7 s), then 3.3 s into main-menu.wav
ANSWER_S = 3.0  # a call is answered within this after it arrives (caller ID after ring 1)
SETTLE_S = 3.0
STATIONS = 2


# ---- the layout: config and scenarios -------------------------------------------------

def plan(boards=4, lines=30, window_s=60.0, ramp_s=10.0, lead_s=4.0, virtual=False):
    """Times of one run (seconds of board time), the same for every case."""
    if virtual:
        lead_s = 0.5  # a virtual board waits for its host: nobody rings before it is there
    start = lead_s + ramp_s + ANSWER_S + LISTEN_S + SETTLE_S
    end = start + window_s
    # the first caller is answered at lead + ~1 s, presses at +LISTEN_S and then waits:
    # nobody hangs up before the window has ended
    wait = end + 2.0 - (lead_s + 1.0 + LISTEN_S)
    stop = lead_s + ramp_s + ANSWER_S + LISTEN_S + wait + 3.0
    return {"boards": boards, "lines": lines, "stations": STATIONS, "ports": lines + STATIONS,
            "window_s": window_s, "ramp_s": ramp_s, "lead_s": lead_s, "virtual": virtual,
            "window_ticks": [round(start * TICKS_PER_S), round(end * TICKS_PER_S)],
            "wait_s": wait, "stop_tick": round(stop * TICKS_PER_S)}


def idle_plan(p):
    """The no-calls baseline: the same boards, a shorter window (a rate, not a total)."""
    q = dict(p)
    window = min(p["window_s"], 20.0)
    start = p["lead_s"] + 2.0
    q.update(window_s=window, window_ticks=[round(start * TICKS_PER_S),
                                            round((start + window) * TICKS_PER_S)],
             stop_tick=round((start + window + 0.5) * TICKS_PER_S))
    return q


def scenario_text(p, b, calls=True):
    """The emulator scenario of board `b`: one caller per line (none when not `calls`)."""
    lines = [f'[board]\nports = "{p["lines"]}fxo+{p["stations"]}fxs"\nserial = "BENCH-{b}"\n',
             f'[run]\nseconds = {p["stop_tick"] / TICKS_PER_S + 5.0}\nseed = {100 + b}\n',
             '[exchange]\nprofile = "cn"\n']
    if calls:
        for i in range(p["lines"]):
            at = p["lead_s"] + p["ramp_s"] * (i + b / p["boards"]) / p["lines"]
            digit = "1" if (i + b) % 2 == 0 else "2"
            lines.append(
                f'[[callers]]\nname = "b{b}c{i}"\nline = {i}\nat_s = {at:.3f}\n'
                f'number = "1380000{b}{i:03d}"\nnoise_dbm0 = -60.0\n'
                f'actions = [{{ listen_s = {LISTEN_S} }}, {{ press = "{digit}" }}, '
                f'{{ wait_for_agent_s = {p["wait_s"]:.2f} }}, {{ hang_up = true }}]\n')
    return "\n".join(lines)


def config_text(p, urls, data_dir, recording="all"):
    """The box's config: a trunk group per board, IVR welcome -> menu -> two queues."""
    out = ['skills = ["sales", "support"]\n', '[site]\nname = "engine bench"\ncountry = "cn"\n']
    for b, url in enumerate(urls):
        out.append(f'[boards.b{b}]\nurl = "{url}"\nports = "{p["lines"]}fxo+{p["stations"]}fxs"\n')
        ports = ", ".join(str(i) for i in range(p["lines"]))
        out.append(f'[trunks.t{b}]\nboard = "b{b}"\nports = [{ports}]\nflow = "welcome"\n')
        for s in range(p["stations"]):
            out.append(f'[stations.s{b}_{s}]\nextension = "{200 + 10 * b + s}"\n'
                       f'board = "b{b}"\nport = {p["lines"] + s}\n')
        # one agent per board, at a phone nobody answers: too few agents, callers wait
        out.append(f'[agents.{1000 + b}]\nname = "Agent {b}"\n'
                   f'skills = {{ sales = 5, support = 5 }}\npin = "{4000 + b}"\n'
                   f'station = "s{b}_0"\n')
    for queue in ("sales", "support"):
        # no place-in-line announcements: callers hear the hold music from the digit on
        out.append(f'[queues.{queue}]\nskills = ["{queue}"]\nmax_wait_s = 3600\n'
                   'overflow = "hangup"\nannounce_s = 0\n')
    out.append(f'[recording]\nmode = "{recording}"\nlayout = "stereo"\nformat = "wav-pcm16"\n')
    out.append(f'[storage]\ndata_dir = "{data_dir}"\n')
    out.append('[ivr.welcome]\ntype = "play"\nprompts = "welcome.wav"\nnext = "menu"\n')
    out.append('[ivr.menu]\ntype = "menu"\nprompts = "main-menu.wav"\n'
               'options = { 1 = "sales", 2 = "support" }\ntimeout = 10\nfallback = "sales"\n')
    out.append('[ivr.sales]\ntype = "queue"\nqueue = "sales"\n')
    out.append('[ivr.support]\ntype = "queue"\nqueue = "support"\n')
    return "\n".join(out)


# ---- the child: the emulated boards ---------------------------------------------------

def _cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def music_frames(music):
    """{bytes of a 160-sample frame of the hold music as the caller hears it (after
    A-law): its index in the loop} (the engine plays it from 0, a frame per tick)."""
    from appliance.dsp import g711

    heard = g711.alaw_decode(g711.alaw_encode(music))
    frames = {}
    for j in range(heard.size // 160):
        frames.setdefault(heard[j * 160:(j + 1) * 160].tobytes(), j)
    return frames


def music_heard(heard, start_tick, from_tick, frames):
    """(first board tick >= `from_tick` at which the caller (audio `heard` from
    `start_tick` on) hears a frame of the hold music, that frame's index in the loop), or
    None. The index is 0 unless the loop's first frames came too late to play."""
    for k in range(max(0, from_tick - start_tick), heard.size // 160):
        j = frames.get(heard[k * 160:(k + 1) * 160].tobytes())
        if j is not None:
            return start_tick + k, j
    return None


def emulators_main(spec):
    """Run in the child: serve the boards, print their URLs (one JSON line), serve until
    "stop" comes on stdin, then print the result (one JSON line)."""
    result = asyncio.run(_emulators(spec))
    sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()


async def _emulators(spec):
    from appliance.drivers.emulated_board import EmulatorRunner, emulated_board, serve_tcp
    from appliance.drivers.emulator import parse_scenario
    from appliance.drivers.emulator.clock import TICK_S

    p, ids = spec["plan"], spec["board_ids"]
    sessions, runners, urls = [], [], []
    for b in ids:
        scenario = parse_scenario(scenario_text(p, b, spec["calls"]), f"bench-board-{b}.toml")
        sessions.append(emulated_board(scenario=scenario, virtual=p["virtual"]))
    for session in sessions:
        runner = EmulatorRunner(session)
        server = await serve_tcp(runner)
        runners.append(runner)
        urls.append(server.url)
    loop = asyncio.get_running_loop()
    late = {"on_time": 0, "behind": 0}
    for session, runner in zip(sessions, runners):
        t0 = loop.time()  # tick n is due at t0 + n * TICK_S (the runner's schedule)
        runner.start()

        def audio_tx(message, _orig=session._audio_tx, _s=session, _t0=t0):
            before = _s.stats.audio_late
            _orig(message)
            if _s.stats.audio_late != before:  # was the board itself behind its schedule?
                behind = loop.time() - (_t0 + _s.board.now * TICK_S) > TICK_S
                late["behind" if behind and not p["virtual"] else "on_time"] += 1

        session._audio_tx = audio_tx
    sys.stdout.write(json.dumps({"urls": urls}) + "\n")
    sys.stdout.flush()

    marks = {"start": p["window_ticks"][0], "end": p["window_ticks"][1], "stop": p["stop_tick"]}
    snaps = {}
    clock = sessions[0].board
    original = sessions[0].step

    def step(now):  # snapshots at the window's edges and the run's end (its first board)
        for name, tick in marks.items():
            if name not in snaps and clock.now >= tick:
                snaps[name] = (_cpu(), time.perf_counter(),
                               sum(s.stats.host_lost for s in sessions),
                               sum(r.late_ticks for r in runners))
        return original(now)

    sessions[0].step = step
    cpu0 = _cpu()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while True:
        line = await reader.readline()
        if not line or line.strip() == b"stop":
            break
    for runner in runners:
        await runner.stop()
    total_cpu = _cpu() - cpu0
    out = {"boards": [], "callers": [], "cpu_s": total_cpu, "late": late}
    if "start" in snaps and "end" in snaps:
        out["window_cpu_s"] = snaps["end"][0] - snaps["start"][0]
        out["window_wall_s"] = snaps["end"][1] - snaps["start"][1]
        out["window_late_ticks"] = snaps["end"][3] - snaps["start"][3]
    if "stop" in snaps:  # the box closes its boards after this: host lost is expected then
        out["host_lost_in_run"] = snaps["stop"][2]
    frames = None
    if spec["calls"]:
        from appliance.engine.hold_music import render
        frames = music_frames(render())
    for b, session, runner in zip(ids, sessions, runners):
        stats = session.stats
        out["boards"].append({"ticks": stats.ticks, "audio_tx": stats.audio_tx_frames,
                              "audio_late": stats.audio_late, "audio_early": stats.audio_early,
                              "host_lost": stats.host_lost, "late_ticks": runner.late_ticks,
                              "sessions": stats.sessions})
        session.board.finish()
        report = session.board.report()
        for caller in report.callers:
            row = {"board": b, "line": caller.line, "name": caller.name,
                   "outcome": caller.outcome.value, "answered_at_s": caller.answered_at_s,
                   "ended_at_s": caller.ended_at_s,
                   "hung_up_by": None if caller.hung_up_by is None else caller.hung_up_by.value,
                   "pressed": [[d, t] for d, t in caller.pressed], "music_tick": None,
                   "music_frame": None}
            if caller.pressed and caller.answered_at_s is not None:
                start = round(caller.answered_at_s * TICKS_PER_S)
                pressed = int(caller.pressed[0][1] * TICKS_PER_S)
                found = music_heard(caller.heard, start, pressed, frames)
                if found is not None:
                    row["music_tick"], row["music_frame"] = found
            out["callers"].append(row)
    return out


# ---- this process: the box, watched from outside --------------------------------------

class Probe:
    """Timing and counts wrapped around the engine and the driver from outside: per-tick
    handling, response times, CPU at the window's edges, calls up, digits and the first
    hold-music frame per line. `install` after `Box.start`, `remove` after the run."""

    def __init__(self, p, progress=False, profile_to=None):
        self.progress = progress
        self.timed_out = False
        self.profile_to = profile_to
        self.window = p["window_ticks"]
        self.stop_tick = p["stop_tick"]
        self.work = {}        # clock tick -> wall seconds of handling (driver + engine)
        self.cpu = {}         # clock tick -> CPU seconds of the same (thread_time)
        self.driver_cpu = 0.0  # CPU seconds in the driver's AUDIO_RX handling (decode + DSP)
        self.engine_cpu = 0.0  # CPU seconds in the engine's event handling
        self.profiler = None
        self.gc = []          # (clock tick, generation, seconds) of each collection
        self._gc_t0 = None
        self.response = []    # seconds, AUDIO_RX read -> AUDIO_TX sent, per board tick
        self.rx_at = {}       # (board, tick) -> perf_counter at the read
        self.snaps = {}
        self.calls_up = []    # per clock tick in the window: live calls
        self.recording_up = []
        self.digits = {}      # (board, port) -> (digit, tick) of the first DigitDetected
        self.music = {}       # (board, port) -> board tick of the first frame with music
        self.board_at = {}    # board -> {clock tick: that board's latest tick by then}
        self.pending = {}     # board -> ports whose music starts with its next frame
        self.current = None   # (board, tick) while the engine handles a board's tick

    def install(self, box):
        board_module = importlib.import_module("appliance.drivers.board.board")
        from appliance.drivers.board import events as ev
        from appliance.drivers.protocol import messages as wire

        self.box, engine = box, box.engine
        self.engine = engine
        clock = engine.clock_board
        self._module, self._wire = board_module, wire
        self._audio = board_module._HANDLERS[wire.AudioRx]
        perf, cpu_time = time.perf_counter, time.thread_time
        work, cpu, rx_at = self.work, self.cpu, self.rx_at
        audio = self._audio

        def driver_audio(board, message):
            t0, c0 = perf(), cpu_time()
            audio(board, message)
            t1, c1 = perf(), cpu_time()
            rx_at[(board.name, message.tick)] = t0
            bucket = message.tick if board.name == clock else engine.now
            work[bucket] = work.get(bucket, 0.0) + (t1 - t0)
            cpu[bucket] = cpu.get(bucket, 0.0) + (c1 - c0)
            self.driver_cpu += c1 - c0

        board_module._HANDLERS[wire.AudioRx] = driver_audio

        on_event = engine._on_event
        audio_cls, digit_cls = ev.AudioReceived, ev.DigitDetected

        def engine_event(name, board, event):
            t0, c0 = perf(), cpu_time()
            if type(event) is audio_cls:
                tick = event.tick
                if name == clock:
                    self._clock_tick(tick)
                    bucket = tick
                else:
                    bucket = engine.now
                waiting = self.pending.pop(name, None)
                if waiting:
                    for port in waiting:
                        self.music.setdefault((name, port), tick)
                self.current = (name, tick)
                on_event(name, board, event)
                self.current = None
                self.board_at.setdefault(name, {})[engine.now] = tick
            else:
                bucket = engine.now
                if type(event) is digit_cls:
                    self.digits.setdefault((name, event.port), (event.digit, event.tick))
                on_event(name, board, event)
            c1 = cpu_time()
            work[bucket] = work.get(bucket, 0.0) + (perf() - t0)
            cpu[bucket] = cpu.get(bucket, 0.0) + (c1 - c0)
            self.engine_cpu += c1 - c0

        engine._on_event = engine_event

        do_play = engine._do_Play

        def play(command):
            do_play(command)
            if "music" in command.prompts:
                board, port = command.port
                if self.current is not None and self.current[0] == board:
                    self.music.setdefault((board, port), self.current[1])
                else:
                    self.pending.setdefault(board, set()).add(port)

        engine._do_Play = play

        def gc_callback(phase, info):  # CPU time: what the collection itself costs
            if phase == "start":
                self._gc_t0 = cpu_time()
            elif self._gc_t0 is not None:
                self.gc.append((engine.now, info["generation"], cpu_time() - self._gc_t0))

        self._gc_callback = gc_callback
        gc.callbacks.append(gc_callback)

        for name, board in engine.boards.items():
            send = board.send_audio

            def send_audio(tick, audio, ports=None, _send=send, _name=name):
                t0 = rx_at.pop((_name, tick), None)
                _send(tick, audio, ports)
                if t0 is not None:
                    self.response.append(perf() - t0)

            board.send_audio = send_audio

    def watch(self, stall_s=0.5):
        """A thread that prints the event loop's stack when no board tick has been handled
        for `stall_s` (what stalls the loop); stopped by `remove`."""
        import threading
        import traceback

        self.last_tick_at = time.perf_counter()
        self.stalls = []
        self._watching = threading.Event()
        main = threading.main_thread().ident

        def watch():
            reported = None
            while not self._watching.wait(0.1):
                quiet = time.perf_counter() - self.last_tick_at
                if quiet >= stall_s and reported != self.last_tick_at:
                    reported = self.last_tick_at
                    frame = sys._current_frames().get(main)
                    stack = "".join(traceback.format_stack(frame)[-8:]) if frame else "?"
                    self.stalls.append((self.engine.now, quiet, stack))
                    if self.progress:
                        print(f"engine bench: no tick for {quiet:.2f} s at tick "
                              f"{self.engine.now}; the loop is in:\n{stack}",
                              file=sys.stderr, flush=True)

        threading.Thread(target=watch, name="engine-bench-watch", daemon=True).start()

    def _clock_tick(self, tick):
        engine = self.engine
        self.last_tick_at = time.perf_counter()
        for name, at in (("start", self.window[0]), ("end", self.window[1])):
            if name not in self.snaps and tick >= at:
                self.snaps[name] = (_cpu(), time.thread_time(), time.perf_counter(),
                                    {b.name: b.stats.audio_dropped
                                     for b in engine.boards.values()}, tick,
                                    self.driver_cpu, self.engine_cpu)
                if self.profile_to is not None:
                    if name == "start":
                        import cProfile
                        self.profiler = cProfile.Profile(time.thread_time)  # CPU, not wall
                        self.profiler.enable()
                    elif self.profiler is not None:
                        self.profiler.disable()
                        self.profiler.dump_stats(self.profile_to)
        if self.window[0] <= tick < self.window[1]:
            self.calls_up.append(len(engine.switchboard.calls))
            self.recording_up.append(len(engine.recordings))
        if tick >= self.stop_tick:
            engine.stop()
        if self.progress and tick % 500 == 0:
            print(f"engine bench: tick {tick}/{self.stop_tick}, calls "
                  f"{len(engine.switchboard.calls)}, lost "
                  f"{sum(b.stats.lost for b in engine.boards.values())}, dropped "
                  f"{sum(b.stats.audio_dropped for b in engine.boards.values())}",
                  file=sys.stderr, flush=True)
        if len(self.rx_at) > 10000:  # ticks never answered (no port playing): forget them
            self.rx_at.clear()

    def remove(self):
        self._watching.set()
        self._module._HANDLERS[self._wire.AudioRx] = self._audio
        gc.callbacks.remove(self._gc_callback)


def _quantiles(values_ms):
    if not values_ms:
        return None
    a = np.asarray(values_ms, dtype=np.float64)
    return {"n": int(a.size), "median": float(np.median(a)), "p95": float(np.percentile(a, 95)),
            "p99": float(np.percentile(a, 99)), "max": float(a.max())}


async def _run_box(config, p, probe):
    from appliance.engine.box import Box

    box = Box(config, origin_ms=ORIGIN_MS)
    try:
        await box.start()
        probe.install(box)
        probe.watch()
        try:
            limit = p["stop_tick"] / TICKS_PER_S * (4 if p["virtual"] else 1.3) + 30
            async with asyncio.timeout(limit):
                await box.engine.run()
        except TimeoutError:  # the first board never reached the end (lost, or too slow)
            probe.timed_out = True
        finally:
            probe.remove()
    finally:
        await box.close()
    return box


def _spawn_emulators(p, calls, procs):
    """`procs` child processes, the boards dealt out among them; returns (children,
    URLs in board order)."""
    children, urls = [], {}
    groups = [list(range(p["boards"]))[i::procs] for i in range(min(procs, p["boards"]))]
    for ids in groups:
        spec = json.dumps({"plan": p, "calls": calls, "board_ids": ids})
        child = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--emulators", spec],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=str(ROOT))
        children.append(child)
    for ids, child in zip(groups, children):
        line = child.stdout.readline()
        if not line:
            child.wait(10)
            raise RuntimeError(f"an emulator process died at start (exit {child.returncode})")
        urls.update(zip(ids, json.loads(line)["urls"]))
    return children, [urls[b] for b in range(p["boards"])]


def _stop_emulators(children):
    """Every child's result, merged."""
    merged = {"boards": [], "callers": [], "late": {"on_time": 0, "behind": 0}}
    for child in children:
        out, _ = child.communicate("stop\n", timeout=120)
        lines = [line for line in out.splitlines() if line.startswith("{")]
        if child.returncode != 0 or not lines:
            raise RuntimeError(f"an emulator process failed (exit {child.returncode})")
        result = json.loads(lines[-1])
        merged.setdefault("procs", []).append(result.get("cpu_s"))
        merged["boards"] += result["boards"]
        merged["callers"] += result["callers"]
        for key in ("on_time", "behind"):
            merged["late"][key] += result["late"][key]
        for key in ("window_cpu_s", "window_late_ticks", "host_lost_in_run"):
            if key in result:
                merged[key] = merged.get(key, 0) + result[key]
    return merged


def measure(p, *, name, calls=True, recording="all", profile_to=None, procs=2):
    """One case: a fresh emulator process and a fresh box; returns its row."""
    from appliance.config import parse_config
    from appliance.store import Store

    children, urls = _spawn_emulators(p, calls, procs)
    try:
        with tempfile.TemporaryDirectory(prefix="engine-bench-") as data:
            config = parse_config(config_text(p, urls, data, recording if calls else "off"),
                                  source="engine-bench.toml", folder=Path(data))
            probe = Probe(p, progress=not p["virtual"], profile_to=profile_to)
            box = asyncio.run(_run_box(config, p, probe))
            with Store.open(box.database) as store:
                queued = store.events(kind="queued")
                cdrs = store.cdrs()
            origin_tick = box.engine.calendar.origin_tick
            dropped_total = sum(b.stats.audio_dropped for b in box.boards.values())
            engine_stats = box.engine.stats
            recorded = box.engine.stats.recorded_frames
    finally:
        emu = _stop_emulators(children)
    return _row(p, name, calls, recording, probe, emu, queued, cdrs, origin_tick,
                dropped_total, engine_stats, recorded)


def _row(p, name, calls, recording, probe, emu, queued, cdrs, origin_tick, dropped_total,
         engine_stats, recorded):
    snaps = probe.snaps
    row = {"name": name, "calls": calls, "recording": recording if calls else "off",
           "timed_out": probe.timed_out, "stalls": [(t, q) for t, q, _ in probe.stalls],
           "window_s": p["window_s"], "complete": "start" in snaps and "end" in snaps}
    if row["complete"]:
        (c0, m0, w0, d0, t0, dr0, en0), (c1, m1, w1, d1, t1, dr1, en1) = \
            snaps["start"], snaps["end"]
        board_s = (t1 - t0) / TICKS_PER_S
        row.update(cpu_s=c1 - c0, loop_cpu_s=m1 - m0, wall_s=w1 - w0, board_s=board_s,
                   share=(c1 - c0) / board_s, loop_share=(m1 - m0) / board_s,
                   driver_share=(dr1 - dr0) / board_s, engine_share=(en1 - en0) / board_s,
                   dropped_in_window=sum(d1.values()) - sum(d0.values()))
        work = [1e3 * probe.work.get(t, 0.0) for t in range(t0, t1)]
        cpu = [1e3 * probe.cpu.get(t, 0.0) for t in range(t0, t1)]
        row["tick_ms"] = _quantiles(work)
        row["tick_cpu_ms"] = _quantiles(cpu)
        row["ticks_over_budget"] = sum(w > TICK_MS for w in work)
        row["ticks_cpu_over_budget"] = sum(c > TICK_MS for c in cpu)
        pauses = [g for g in probe.gc if t0 <= g[0] < t1]
        row["gc"] = {"collections": len(pauses),
                     "gen2": sum(1 for g in pauses if g[1] == 2),
                     "max_ms": 1e3 * max((g[2] for g in pauses), default=0.0),
                     "total_ms": 1e3 * sum(g[2] for g in pauses)}
    if probe.work:  # the whole run: ramp-up, every digit, hang-ups
        first, last = min(probe.work), max(probe.work)
        work = [1e3 * probe.work.get(t, 0.0) for t in range(first, last + 1)]
        cpu = [1e3 * probe.cpu.get(t, 0.0) for t in range(first, last + 1)]
        row["run_tick_ms"], row["run_tick_cpu_ms"] = _quantiles(work), _quantiles(cpu)
        row["run_ticks_over_budget"] = sum(w > TICK_MS for w in work)
        row["run_ticks_cpu_over_budget"] = sum(c > TICK_MS for c in cpu)
        row["run_worst_cpu_tick"] = first + int(np.argmax(cpu))
    row["response_ms"] = _quantiles([1e3 * r for r in probe.response])
    row["calls_up"] = [min(probe.calls_up), max(probe.calls_up)] if probe.calls_up else [0, 0]
    row["recordings_up"] = ([min(probe.recording_up), max(probe.recording_up)]
                            if probe.recording_up else [0, 0])
    row["audio_dropped"] = dropped_total
    row["audio_late"] = sum(b["audio_late"] for b in emu["boards"])
    row["audio_early"] = sum(b["audio_early"] for b in emu["boards"])
    row["audio_tx"] = sum(b["audio_tx"] for b in emu["boards"])
    row["host_lost"] = emu.get("host_lost_in_run", 0)
    row["emulator_late_ticks"] = sum(b["late_ticks"] for b in emu["boards"])
    row["emulator_late_ticks_in_window"] = emu.get("window_late_ticks")
    row["late_while_emulator_behind"] = emu["late"]["behind"]
    row["late_emulator_on_time"] = emu["late"]["on_time"]
    row["emulator_procs"] = len(emu.get("procs", [])) or 1
    row["emulator_cpu_s"] = emu.get("window_cpu_s")
    row["emulator_share"] = (emu["window_cpu_s"] / row["board_s"]
                             if row["complete"] and "window_cpu_s" in emu else None)
    row["command_errors"] = engine_stats.command_errors
    row["recorded_frames"] = recorded
    row["recording_drops"] = engine_stats.dropped_frames
    row["cdrs"] = len(cdrs)
    row["cdrs_closed"] = sum(1 for c in cdrs if c.end_ms is not None)
    row["callers"] = len(emu["callers"])
    row["answered"] = sum(1 for c in emu["callers"] if c["outcome"] == "answered")
    row.update(_latency(probe, emu, queued, origin_tick))
    return row


def _latency(probe, emu, queued, origin_tick):
    """Key-down -> detection, action (first music frame), store log, heard; ms."""
    logged = {}
    for event in queued:  # logged in the first board's ticks: mapped to the line's board
        _, board, port = event.call_id.rsplit("-", 2)
        clock_tick = origin_tick + (event.time_ms - ORIGIN_MS) // TICK_MS
        at = probe.board_at.get(board, {})
        if clock_tick in at:
            logged.setdefault((board, int(port)), at[clock_tick])
    detect, action, log_, heard, pressed, missing = [], [], [], [], 0, 0
    for caller in emu["callers"]:
        if not caller["pressed"]:
            continue
        pressed += 1
        key = (f"b{caller['board']}", caller["line"])
        down_ms = caller["pressed"][0][1] * 1000.0
        if key in probe.digits:
            detect.append(probe.digits[key][1] * TICK_MS - down_ms)
        if key in probe.music:
            action.append(probe.music[key] * TICK_MS - down_ms)
        if key in logged:
            log_.append(logged[key] * TICK_MS - down_ms)
        if caller["music_tick"] is not None:
            heard.append(caller["music_tick"] * TICK_MS - down_ms)
        else:
            missing += 1
    late_starts = sum(1 for c in emu["callers"] if c.get("music_frame"))
    return {"pressed": pressed, "heard_missing": missing, "music_late_starts": late_starts,
            "detect_ms": _quantiles(detect), "action_ms": _quantiles(action),
            "logged_ms": _quantiles(log_), "heard_ms": _quantiles(heard)}


def run(boards=4, lines=30, window_s=60.0, ramp_s=10.0, virtual=False, cases=None,
        profile=None, emulator_procs=2, switch_interval=None):
    """Every case of one run; returns {"machine", "plan", "rows"}. `profile`: a file for
    cProfile's stats of the box's event loop over the first case's window."""
    p = plan(boards, lines, window_s, ramp_s, virtual=virtual)
    p["load"] = " / ".join(f"{x:.1f}" for x in os.getloadavg())
    import appliance.dsp.bank  # noqa: F401 - load the DSP (scipy) before any board opens
    import appliance.engine.box  # noqa: F401
    all_cases = {
        "ivr+recording": lambda: measure(p, name="IVR + hold music + recording (stereo WAV)",
                                         profile_to=profile, procs=emulator_procs),
        "no-recording": lambda: measure(p, name="IVR + hold music, recording off",
                                        recording="off", procs=emulator_procs),
        "idle": lambda: measure(idle_plan(p), name="no calls: boards' audio through the host "
                                                   "DSP, engine idle", calls=False,
                                procs=emulator_procs),
    }
    default_interval = sys.getswitchinterval()
    if switch_interval is not None:  # an experiment: how long the loop waits for the GIL
        sys.setswitchinterval(switch_interval)
    try:
        rows = [all_cases[c]() for c in (cases or all_cases)]
    finally:
        sys.setswitchinterval(default_interval)
    p["switch_interval_s"] = switch_interval or default_interval
    p["nice"] = os.getpriority(os.PRIO_PROCESS, 0)
    try:
        p["autogroup"] = Path("/proc/self/autogroup").read_text().strip()
    except OSError:
        p["autogroup"] = None
    import numpy
    return {"machine": bench_machine.machine(numpy=numpy.__version__), "plan": p, "rows": rows}


# ---- the report -----------------------------------------------------------------------

def _q(q, key="median"):
    return "-" if q is None else f"{q[key]:.0f}"


def _pct(x):
    return "-" if x is None else f"{100 * x:.1f} %"


def _gc(g):
    return "-" if g is None else f"{g['collections']} ({g['gen2']}), {g['max_ms']:.1f}"


def _qs(q, keys=("median", "p99", "max")):
    return "-" if q is None else " / ".join(f"{q[k]:.1f}" for k in keys)


def markdown(result, command="python bench/engine_bench.py"):
    m, p, rows = result["machine"], result["plan"], result["rows"]
    calls = p["boards"] * p["lines"]
    clock = "virtual clock (as fast as the box consumes)" if p["virtual"] else \
        "real time (the emulator's RealTimeClock, 50 ticks/s)"
    procs = rows[0].get("emulator_procs", 1) if rows else 1
    lines = [
        f"## 12. The box under load: {calls} calls through IVR and recording "
        "(bench/engine_bench.py)",
        "",
        f"- Date: {m['date']}; machine: {m['cpu']}, {m['cores']} cores (shared with other "
        f"jobs while measured); Python {m['python']}, numpy {m.get('numpy', '?')}",
        f"- Command: `{command}` (nice {p.get('nice', 0)}, scheduler group "
        f"`{p.get('autogroup')}`; the machine's load average {p.get('load', '?')} at the "
        "start)",
        f"- Layout: {p['boards']} emulated boards x ({p['lines']} FXO + {p['stations']} FXS) "
        f"over TCP from {procs} other process(es), {clock}; a trunk group per board; IVR "
        "welcome.wav -> menu (main-menu.wav, 1 -> sales, 2 -> support) -> queue with hold "
        "music (no place-in-line announcements); one agent per board whose phone nobody "
        "answers. Recording mode \"all\", "
        "stereo WAV PCM16 (FLAC writes the same WAV during the call and encodes it after).",
        f"- Callers arrive over {p['ramp_s']:.0f} s, press a digit 5 s after the answer (in "
        f"the menu), wait {p['wait_s']:.0f} s, hang up. Window: board ticks "
        f"{p['window_ticks'][0]}-{p['window_ticks'][1]} ({p['window_s']:.0f} s; the "
        "no-calls row: 20 s) with every call up.",
        "",
        "CPU over the window, share of one core (CPU s / board s). Box: the whole process "
        "(getrusage: all threads); loop: the event-loop thread (thread_time), split into "
        "the driver's AUDIO_RX handling (decode, DSP, events) and the engine's event "
        "handling (switchboard, playout, G.711 encode, AUDIO_TX, recording hand-off); "
        "writers: the rest (recording and store threads). The emulator's CPU (the other "
        "processes) is not the box's and is shown for scale.",
        "",
        "| case | calls up | box | loop | driver + DSP | engine | writers | emulator |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        up = f"{r['calls_up'][0]}-{r['calls_up'][1]}" if r["calls"] else "0"
        writers = None if r.get("share") is None else r["share"] - r["loop_share"]
        lines.append(
            f"| {r['name']} | {up} | {_pct(r.get('share'))} | {_pct(r.get('loop_share'))} | "
            f"{_pct(r.get('driver_share'))} | {_pct(r.get('engine_share'))} | "
            f"{_pct(writers)} | {_pct(r.get('emulator_share'))} |")
    by = {r["recording"] if r["calls"] else "idle": r for r in rows}
    ratios = []
    if "all" in by and "off" in by and by["off"].get("share"):
        ratios.append(f"recording on / off: {by['all']['share'] / by['off']['share']:.2f}x "
                      "the box's CPU")
    if "idle" in by and by["idle"].get("share"):
        for key, what in (("all", "IVR + recording"), ("off", "IVR, no recording")):
            if key in by and by[key].get("share"):
                ratios.append(f"{what} / no calls: "
                              f"{by[key]['share'] / by['idle']['share']:.2f}x")
    if ratios:
        lines += ["", "Ratios: " + "; ".join(ratios) + "."]
    lines += [
        "", "Tick overruns. Late: AUDIO_TX frames a board got after their play tick had "
        "passed (whole run; split by whether the emulated board was itself more than a "
        "tick behind its real-time schedule then, i.e. catching up in a burst); drops: "
        "AUDIO_RX the driver dropped for a slow engine. Handling per 20 ms tick: the driver "
        "and engine work for all boards grouped by the first board's tick, CPU "
        "(thread_time) and wall (perf_counter, includes preemption by other processes); "
        "response: a board's AUDIO_RX read -> its AUDIO_TX sent (wall).",
        "",
        "| case | late AUDIO_TX (board on time / behind) | driver drops | emulator late ticks | "
        "tick CPU ms median / p99 / max | ticks > 20 ms CPU (window / run) | tick wall ms "
        "median / p99 / max | ticks > 20 ms wall | response ms median / p99 / max | GC in "
        "the window: collections (gen2), longest ms CPU |",
        "|---|---|---:|---:|---|---|---|---:|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['name']} | {r['audio_late']} ({r['late_emulator_on_time']} / "
            f"{r['late_while_emulator_behind']}) | {r['audio_dropped']} | "
            f"{r['emulator_late_ticks']} | {_qs(r.get('tick_cpu_ms'))} | "
            f"{r.get('ticks_cpu_over_budget', '-')} / {r.get('run_ticks_cpu_over_budget', '-')} "
            f"| {_qs(r.get('tick_ms'))} | {r.get('ticks_over_budget', '-')} | "
            f"{_qs(r.get('response_ms'))} | {_gc(r.get('gc'))} |")
    lines += ["", "Digit to action, ms from the caller's key-down (the emulator's report; tick "
              "resolution 20 ms; the key is held 100 ms, and the driver reports a digit when "
              "it ends), median / p95 / max:", "",
              "| case | callers pressed | DSP detects (DigitDetected) | box acts (first "
              "AUDIO_TX with hold music) | store event log (\"queued\") | caller hears the "
              "music |",
              "|---|---:|---|---|---|---|"]
    for r in rows:
        if not r["calls"]:
            continue
        cells = []
        for key in ("detect_ms", "action_ms", "logged_ms", "heard_ms"):
            q = r[key]
            cells.append("-" if q is None else
                         f"{q['median']:.0f} / {q['p95']:.0f} / {q['max']:.0f} (n={q['n']})")
        lines.append(f"| {r['name']} | {r['pressed']} | " + " | ".join(cells) + " |")
    checks = []
    for r in rows:
        checks.append(
            f"{r['name']}: {r['answered']}/{r['callers']} callers answered, CDRs "
            f"{r['cdrs_closed']}/{r['cdrs']} closed, recorded frames {r['recorded_frames']} "
            f"(dropped {r['recording_drops']}), command errors {r['command_errors']}, "
            f"host lost during the run {r['host_lost']}, music heard from a later frame "
            f"than the first (its start came late) {r.get('music_late_starts', 0)}")
    lines += ["", "Checks: " + "; ".join(checks) + "."]
    return "\n".join(lines) + "\n"


def _autogroup_nice(value):
    """Set this session's scheduler autogroup to nice `value` (Linux with autogroups: a
    process's nice counts only inside its session's group, and the groups share the CPUs
    fairly). Returns the previous value, or None where it cannot be set."""
    path = Path("/proc/self/autogroup")
    try:
        before = int(path.read_text().split("nice")[1])
        path.write_text(str(value))
    except (OSError, ValueError, IndexError):
        return None
    return before


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--boards", type=int, default=4)
    parser.add_argument("--lines", type=int, default=30, help="FXO lines (callers) per board")
    parser.add_argument("--window", type=float, default=60.0, help="measured seconds")
    parser.add_argument("--ramp", type=float, default=10.0, help="arrivals over this many s")
    parser.add_argument("--virtual", action="store_true", help="virtual clock (smoke runs)")
    parser.add_argument("--cases", default=None,
                        help="comma-separated: ivr+recording, no-recording, idle")
    parser.add_argument("--profile", help="cProfile the box's event loop over the first "
                        "case's window into this file (slows the loop: not for figures)")
    parser.add_argument("--emulator-procs", type=int, default=2,
                        help="child processes the boards are dealt out to")
    parser.add_argument("--switch-interval", type=float, default=None,
                        help="sys.setswitchinterval for the box's process (an experiment)")
    parser.add_argument("--nice", type=int, default=None,
                        help="run the box's and the emulators' processes, and their "
                             "scheduler autogroup, at this nice value (negative needs root): "
                             "real time on a machine shared with other jobs")
    parser.add_argument("--json")
    parser.add_argument("--output", help="append the markdown section to this file")
    parser.add_argument("--emulators", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.emulators:
        emulators_main(json.loads(args.emulators))
        return
    restore = None
    if args.nice is not None:  # the children inherit it
        os.setpriority(os.PRIO_PROCESS, 0, args.nice)
        restore = _autogroup_nice(args.nice)
    try:
        result = run(args.boards, args.lines, args.window, args.ramp, args.virtual,
                     args.cases.split(",") if args.cases else None, args.profile,
                     args.emulator_procs, args.switch_interval)
    finally:
        if restore is not None:
            _autogroup_nice(restore)
    command = "python " + " ".join(["bench/engine_bench.py", *(argv or sys.argv[1:])])
    text = markdown(result, command)
    print(text)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1, default=str))
    if args.output:
        with open(args.output, "a", encoding="utf-8") as out:
            out.write("\n" + text)


if __name__ == "__main__":
    main()

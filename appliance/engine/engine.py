"""The engine: the tick loop around the switchboard, on asyncio.

Per board, one task reads the driver's events. A board's `AudioReceived` is its tick: the
driver has already run the DSP batch over it (one `ChannelBank` call: digits, tones and
caller ID came as events before it), so the tick here is
1. the switchboard's timers (the clock board's tick is the engine's tick);
2. who carries voice (one vector check over all ports, for the silence clear);
3. the playouts of all ports in one gather (`Playback.frame`), bridges across boards, and
   one G.711 encode per law -> one AUDIO_TX back;
4. every recorded call's two sides handed to the recording thread;
5. playouts that ended go back to the switchboard.
Commands that need the board's answer (hook, ring, switch) run as tasks: the tick never
waits for them; a refused one is logged and counted. CDR and event rows go through the
store's writer thread, lookups run in a worker thread: nothing blocks the tick.
"""

import asyncio
import bisect
import datetime
import gc
import logging
import time

import numpy as np

from appliance.drivers.board import events as ev
from appliance.dsp import g711
from appliance.dtmf import generate as dtmf_generate

from .clock import ScheduleClock, TickCalendar
from .commands import LogEvent
from .mixer import ConferenceMixer
from .playback import Playback
from .switchboard import Switchboard

log = logging.getLogger("appliance.engine")

VOICE_RMS = 100.0  # linear RMS (about -47 dBm0) above which a port's tick counts as voice
_FORMATS = {"wav-pcm16": ("pcm16", ".wav"), "wav-alaw": ("alaw", ".wav"),
            "wav-ulaw": ("ulaw", ".wav"), "flac": ("flac", ".flac")}


class EngineStats:
    # upper bounds (s) of the tick-duration histogram: a tick is 20 ms of audio
    TICK_BUCKETS_S = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.5)

    def __init__(self):
        self.ticks = 0
        self.commands = 0
        self.command_errors = 0
        self.event_errors = 0
        self.recorded_frames = 0
        self.dropped_frames = 0
        self.recordings = 0  # recordings (not voicemail) stopped, i.e. written out
        # host time spent on audio ticks (every board's): counts per bucket (the last one:
        # longer than every bound), sum and maximum in seconds
        self.tick_counts = [0] * (len(self.TICK_BUCKETS_S) + 1)
        self.tick_seconds = 0.0
        self.tick_max_s = 0.0

    def tick_took(self, seconds):
        self.tick_counts[bisect.bisect_left(self.TICK_BUCKETS_S, seconds)] += 1
        self.tick_seconds += seconds
        self.tick_max_s = max(self.tick_max_s, seconds)


class Engine:
    """The box: `config` (appliance.config.Config), `boards` ({name: opened Board}, the
    first is the clock), `store` (appliance.store.StoreWriter), `recorder`
    (appliance.recording.RecordingWriter), `prompts` (appliance.engine.prompts
    .PromptLibrary), `origin_ms`: the wall-clock time of the clock board's first tick
    (default: now), `lookup`: callable(number) -> customer dict or None, run in a thread,
    `agents`: {agent id: their last agent_state data} for `Switchboard.start`."""

    def __init__(self, config, boards, *, store, recorder, prompts, origin_ms=None,
                 lookup=None, until_tick=None, agents=None):
        self.config = config
        self.boards = dict(boards)
        self.clock_board = next(iter(self.boards))
        self.store = store
        self.recorder = recorder
        self.prompts = prompts
        self.lookup = lookup
        if origin_ms is None:
            origin_ms = int(datetime.datetime.now(datetime.timezone.utc).timestamp() * 1000)
        # the clock board's tick when its session started is `origin_ms`
        caps = self.boards[self.clock_board].capabilities
        self.calendar = TickCalendar(origin_ms, caps.tick if caps is not None else 0)
        self.now = self.calendar.origin_tick
        self.stats = EngineStats()
        self.playback = Playback()
        self.playing = {name: set() for name in self.boards}  # ports with a playout
        self.connected = {}        # port key -> the port key it hears (switch or bridge)
        self.bridges = {}          # port key -> port key on another board (host copies)
        self.mixers = {name: ConferenceMixer() for name in self.boards}  # by board
        self.recordings = {}       # recording id -> (caller's port key, is voicemail)
        self.recording_paths = {}  # recording id -> its file
        self.latest = {}           # board -> its last tick's audio, row i = port i
        # Kept from one tick to the next and rebuilt only when a command changes them, so
        # the tick does a fixed number of array operations whatever the number of calls:
        self._play_plan = {}       # board -> (playout keys, their ports) or absent
        self._record_plan = {}     # board -> (ids, caller ports, switched-to port or -1,
                                   #           voicemail mask) or absent
        self.last_voice = {name: np.full(len(b.ports), -1, dtype=np.int64)
                           for name, b in self.boards.items()}
        self._alaw = {}            # board -> bool per port: A-law (else mu-law)
        self._tasks = set()
        self.switchboard = Switchboard(config, schedules=self._schedules(config),
                                       ms=self.calendar.ms, last_voice=self._last_voice)
        self.stopped = asyncio.Event()
        self.until_tick = until_tick  # stop after this many ticks of the clock board (test runs)
        self.agents = agents  # {agent id: their last agent_state data}: logged in again at start
        self.listeners = []  # callables(LogEvent, time_ms) told each event-log row (live views)
        self.tick_hooks = []  # callables() run on each clock-board tick (systemd's watchdog)
        self.taps = {}  # port key -> [callables(tick, int16 [160, 2])]: live audio (monitor)

    def _schedules(self, config):
        return {name: ScheduleClock(s, self.calendar) for name, s in config.schedules.items()}

    def _last_voice(self, key):
        tick = int(self.last_voice[key[0]][key[1]])
        return None if tick < 0 else tick

    # ---- running -------------------------------------------------------------------------
    async def run(self):
        """Select every port's audio on every board, then serve events until `stop`."""
        # What start-up made (modules, config, prompts, boards) lives as long as the box: out
        # of the collector's sight, a full collection no longer walks it inside a tick
        # (28 ms of CPU on an idle core; 349 ms of wall time under load). Garbage first, so
        # none is kept; thawed when the engine stops.
        gc.collect()
        gc.freeze()
        for board in self.boards.values():
            await board.select_audio(range(len(board.ports)))
        self._run(self.switchboard.start(self.now, self.agents))
        readers = [asyncio.create_task(self._serve(name, board))
                   for name, board in self.boards.items()]
        try:
            await self.stopped.wait()
        finally:
            for task in readers:
                task.cancel()
            await asyncio.gather(*readers, return_exceptions=True)
            if self._tasks:
                await asyncio.wait(self._tasks, timeout=2.0)
            gc.unfreeze()

    def stop(self):
        self.stopped.set()

    def reload(self, config):
        """Apply a new, validated config to new calls (live calls keep theirs)."""
        self.config = config
        self._run(self.switchboard.apply(config, self._schedules(config)))

    async def _serve(self, name, board):
        while True:
            event = await board.next_event()
            try:
                self._on_event(name, board, event)
            except Exception:  # a bug must not stop the box: log it, keep serving calls
                self.stats.event_errors += 1
                log.exception("engine: handling %s from board %s failed",
                              type(event).__name__, name)

    def _on_event(self, name, board, event):
        if isinstance(event, ev.AudioReceived):
            start = time.perf_counter()  # host time, for the stats only (never call logic)
            self._on_tick(name, board, event)
            self.stats.tick_took(time.perf_counter() - start)
        elif isinstance(event, ev.BoardLost):
            self._run(self.switchboard.board_lost(name, self.now))
        elif isinstance(event, ev.BoardBack):
            self._alaw.pop(name, None)  # a new session may bring other ports
            self._spawn(board.select_audio(range(len(board.ports))))
        else:
            # the clock board stamps its events with the tick they happened in (its audio
            # for that tick comes after them); other boards' events happen "now"
            now = self.now
            if name == self.clock_board and getattr(event, "tick", None) is not None:
                now = max(now, event.tick)
            self._run(self.switchboard.handle(event, now))

    # ---- the tick ------------------------------------------------------------------------
    def _on_tick(self, name, board, event):
        if name == self.clock_board:
            self.now = event.tick
            self.stats.ticks += 1
            for hook in self.tick_hooks:
                hook()
            if self.until_tick is not None and \
                    self.now - self.calendar.origin_tick >= self.until_tick:
                self.stop()
            self._run(self.switchboard.tick(self.now))
        linear = event.linear
        if linear is None:
            return
        full = self._all_rows(board, event.ports, linear)
        self.latest[name] = full
        self._levels(name, event.ports, linear)
        tx = np.zeros_like(full)  # what the box plays to each port this tick
        sent = np.zeros(len(full), dtype=bool)
        keys, ports = self._playouts(name)
        finished = ()
        if keys:  # every playout of the board in one gather
            tx[ports], finished = self.playback.frame(keys)
            sent[ports] = True
        mixer = self.mixers[name]
        if mixer.conferences:  # every conference of the board in one product
            mix = mixer.mix(full)
            tx[mix.rows], sent[mix.rows] = mix.audio, True
        for key, other in self.bridges.items():  # calls across boards (rare)
            if key[0] == name and other[0] in self.latest:
                tx[key[1]], sent[key[1]] = self.latest[other[0]][other[1]], True
        if sent.any():
            ports = np.flatnonzero(sent)
            self._send(board, event.tick, tx[ports], ports)
        self._record(name, full, tx)
        if self.taps:
            self._tap(name, event.tick, full, tx)
        for key, tag in finished:
            self._stopped_playing(key)
            self._run(self.switchboard.playout_finished(key, tag, self.now))

    def _playouts(self, name):
        plan = self._play_plan.get(name)
        if plan is None:
            ports = sorted(self.playing[name])
            plan = self._play_plan[name] = ([(name, p) for p in ports],
                                            np.array(ports, dtype=np.intp))
        return plan

    def _stopped_playing(self, key):
        self.playing[key[0]].discard(key[1])
        self._play_plan.pop(key[0], None)

    @staticmethod
    def _all_rows(board, ports, linear):
        """The tick's audio with row i = port i (the mixer's parties are port numbers)."""
        if len(ports) == len(board.ports):
            return linear
        full = np.zeros((len(board.ports), linear.shape[1]), dtype=np.int16)
        full[list(ports)] = linear
        return full

    def _levels(self, name, ports, linear):
        frame = linear.astype(np.float32)
        loud = np.einsum("ij,ij->i", frame, frame) > VOICE_RMS ** 2 * frame.shape[1]
        if loud.any():
            self.last_voice[name][np.asarray(ports)[loud]] = self.now

    def _send(self, board, tick, audio, ports):
        alaw = self._alaw.get(board.name)
        if alaw is None:
            alaw = self._alaw[board.name] = np.array([p.law.name == "ALAW" for p in board.ports])
        if alaw.all():  # the usual board: one law, no masks
            board.send_audio(tick, g711.alaw_encode(audio), tuple(ports.tolist()))
            return
        codes = np.empty(audio.shape, dtype=np.uint8)
        laws = alaw[ports]
        if laws.any():
            codes[laws] = g711.alaw_encode(audio[laws])
        if not laws.all():
            codes[~laws] = g711.ulaw_encode(audio[~laws])
        board.send_audio(tick, codes, tuple(ports.tolist()))

    def _record(self, name, full, tx):
        """Both sides of every recorded call on this board, to the recording thread in one
        hand-off: the caller's port, and what the caller hears: the port the board's switch
        connects it to, else what the box plays it (prompts, music, a mix, a bridge)."""
        plan = self._record_plan.get(name)
        if plan is None:
            plan = self._record_plan[name] = self._plan_recordings(name)
        ids, callers, switched, voicemail = plan
        if not ids:
            return
        heard = tx[callers]
        on_switch = switched >= 0
        if on_switch.any():
            heard[on_switch] = full[switched[on_switch]]
        heard[voicemail] = 0  # a voicemail records the caller alone
        if self.recorder.write_many(ids, full[callers], heard):
            self.stats.recorded_frames += len(ids)
        else:
            self.stats.dropped_frames += len(ids)

    def _plan_recordings(self, name):
        ids, callers, switched, voicemail = [], [], [], []
        for rec_id, (key, is_voicemail) in self.recordings.items():
            if key[0] != name:
                continue
            other = self.connected.get(key)
            ids.append(rec_id)
            callers.append(key[1])
            # across boards the host bridges the call: the caller hears it in `tx`
            switched.append(other[1] if other and other[0] == name else -1)
            voicemail.append(is_voicemail)
        return (ids, np.array(callers, dtype=np.intp), np.array(switched, dtype=np.intp),
                np.array(voicemail, dtype=bool))

    def _replan_recordings(self):
        self._record_plan.clear()

    # ---- carrying out commands -----------------------------------------------------------
    def _run(self, commands):
        for command in commands:
            self.stats.commands += 1
            try:
                getattr(self, "_do_" + type(command).__name__)(command)
            except Exception:
                self.stats.command_errors += 1
                log.exception("engine: %r failed", command, extra=_log_fields(command))

    def _port(self, key):
        return self.boards[key[0]].ports[key[1]]

    def _spawn(self, coro):
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._command_done)

    def _command_done(self, task):
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self.stats.command_errors += 1
            log.warning("engine: board command failed: %s", task.exception())

    def _do_Seize(self, c):
        self._spawn(self._port(c.port).seize())

    def _do_Release(self, c):
        self._spawn(self._port(c.port).release())

    def _do_Ring(self, c):
        self._spawn(self._port(c.port).ring())

    def _do_StopRing(self, c):
        self._spawn(self._port(c.port).stop_ring())

    def _do_Connect(self, c):
        self.connected[c.a], self.connected[c.b] = c.b, c.a
        self._replan_recordings()
        if c.a[0] == c.b[0]:
            self._spawn(self._port(c.a).connect(c.b[1]))
        else:
            self.bridges[c.a], self.bridges[c.b] = c.b, c.a

    def _do_Disconnect(self, c):
        other = self.connected.pop(c.port, None)
        if other is None:
            return
        self.connected.pop(other, None)
        self._replan_recordings()
        if self.bridges.pop(c.port, None) is not None:
            self.bridges.pop(other, None)
        else:
            self._spawn(self._port(c.port).disconnect())

    def _do_JoinConference(self, c):
        if c.to is not None and c.to[0] != c.port[0]:
            raise ValueError("a conference's members must be on one board")
        conference = (c.conference, c.port[0])
        self.mixers[c.port[0]].join(conference, c.port[1], c.mode,
                                    c.to[1] if c.to else None)
        if self.connected.pop(c.port, None) is not None:
            self._replan_recordings()

    def _do_LeaveConference(self, c):
        mixer = self.mixers[c.port[0]]
        if mixer.conference_of(c.port[1]) is not None:
            mixer.leave(c.port[1])

    def _do_DetectTones(self, c):
        self._port(c.port).detect_tones(c.on)

    def _do_Play(self, c):
        clips = [self._clip(name) for name in c.prompts]
        self.playback.play(c.port, clips, loop=c.loop, tag=c.tag)
        self.playing[c.port[0]].add(c.port[1])
        self._play_plan.pop(c.port[0], None)

    def _clip(self, name):
        if name.startswith("dtmf:"):
            return dtmf_generate(name[len("dtmf:"):], level_dbm0=-8.0, on_ms=80.0, off_ms=80.0)
        if name == "music":
            return self.prompts.music()
        return self.prompts.load(name)

    def _do_StopPlay(self, c):
        self.playback.stop(c.port)
        self._stopped_playing(c.port)

    def _do_StartRecording(self, c):
        if c.mailbox is not None:
            folder = self.config.storage.data_dir / "voicemail" / c.mailbox
            path = folder / f"{c.name}.wav"
            fmt, layout = "pcm16", "mono"
        else:
            policy = self.config.recording
            fmt, ext = _FORMATS[policy.format.value]
            day = self.calendar.datetime(self.now).strftime("%Y-%m-%d")
            folder = self.config.storage.recordings_dir / day
            path = folder / f"{c.name}{ext}"
            layout = "mono" if policy.layout.value == "mixed" else "stereo"
            self.store.cdr_update(c.call_id, recording_path=str(path))
        folder.mkdir(parents=True, exist_ok=True)
        self.recorder.start(c.call_id, path, fmt, layout)
        self.recordings[c.call_id] = (c.a, c.mailbox is not None)
        self._replan_recordings()
        self.recording_paths[c.call_id] = path

    def _do_StopRecording(self, c):
        if self.recordings.pop(c.call_id, None) is None:
            return
        self._replan_recordings()
        self.recorder.stop(c.call_id)
        path = self.recording_paths.pop(c.call_id)
        if c.mailbox is None:
            self.stats.recordings += 1
        else:
            self.store.voicemail_add(c.mailbox, c.caller, self.calendar.ms(c.start_tick),
                                     c.length_ticks * 20, str(path))

    def _do_LookUp(self, c):
        async def look():
            record = None
            if self.lookup is not None and c.value:
                record = await asyncio.to_thread(self.lookup, c.value)
            self._run(self.switchboard.lookup_answered(c.call_id, record, c.request_id,
                                                       self.now))
        self._spawn(look())

    def _do_CdrOpen(self, c):
        self.store.cdr_open(c.call_id, c.direction, self.calendar.ms(c.tick), **c.fields)

    def _do_CdrUpdate(self, c):
        fields = dict(c.fields)
        if "answer_tick" in fields:
            fields["answer_ms"] = self.calendar.ms(fields.pop("answer_tick"))
        self.store.cdr_update(c.call_id, **fields)

    def _do_CdrClose(self, c):
        self.store.cdr_close(c.call_id, self.calendar.ms(c.tick), c.disposition, c.cause)

    def _do_LogEvent(self, c):
        time_ms = self.calendar.ms(c.tick)
        self.store.append_event(time_ms, c.kind, c.call_id, c.queue, c.agent, c.data)
        for listener in self.listeners:
            listener(c, time_ms)

    # ---- requests from outside (the control socket, the CTI) ------------------------------
    # They run in the engine's event loop between two ticks (appliance.cti.api).

    def request(self, method, *args):
        """Run a switchboard request `method(*args, now)` at the current tick and carry out
        the commands it returns; returns them. Its ValueError (AcdError too) is the
        refusal, with nothing changed."""
        commands = method(*args, self.now)
        self._run(commands)
        return commands

    def log_event(self, kind, call_id=None, queue=None, agent=None, data=None):
        """Write one event-log row at the current tick (an audit row, ...)."""
        self._run([LogEvent(self.now, kind, call_id, queue=queue, agent=agent,
                            data=dict(data or {}))])

    def tap(self, key, listener):
        """Call `listener(tick, audio)` every tick of port `key` (board, port) with int16
        [160, 2]: what the port sends (left) and what it hears (right: the port it is
        switched to, or what the box plays or mixes for it). Returns a function that stops
        it."""
        self.taps.setdefault(key, []).append(listener)

        def untap():
            listeners = self.taps.get(key, [])
            if listener in listeners:
                listeners.remove(listener)
            if not listeners:
                self.taps.pop(key, None)
        return untap

    def _tap(self, name, tick, full, tx):
        for key, listeners in list(self.taps.items()):
            if key[0] != name or key[1] >= len(full):
                continue
            heard = tx[key[1]].astype(np.int32)
            other = self.connected.get(key)
            if other is not None and other[0] == name:
                heard += full[other[1]]
            audio = np.empty((full.shape[1], 2), dtype=np.int16)
            audio[:, 0] = full[key[1]]
            audio[:, 1] = np.clip(heard, -32768, 32767)
            for listener in list(listeners):
                listener(tick, audio)


def _log_fields(command):
    """A command's call, port, queue and agent for a log record's `extra` (the journal's
    CALL_ID, BOARD, PORT, QUEUE, AGENT fields)."""
    fields = {}
    port = getattr(command, "port", None) or getattr(command, "a", None)
    if isinstance(port, tuple) and len(port) == 2:
        fields["board"], fields["port"] = port
    for name in ("call_id", "queue", "agent"):
        value = getattr(command, name, None)
        if value is not None:
            fields[name] = value if isinstance(value, str) else getattr(value, "name", value)
    return fields

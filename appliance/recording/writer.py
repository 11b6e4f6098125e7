"""RecordingWriter: records calls to disk from a thread of its own, so the tick never waits.

The tick calls start(), write() once per tick per recorded call with both parties' frames,
and stop(); each only checks its arguments and appends to an in-memory queue. The writer
thread mixes (mono: the saturated sum; stereo: party a left, party b right), encodes and
writes.

Formats: WAV PCM16, WAV A-law, WAV mu-law (G.191-exact, appliance.dsp.g711), FLAC 16-bit.
Files are created exclusively: an existing file is never overwritten.

Crash and power loss: the writer wakes at least every 100 ms and writes what is queued,
one write per call. Every `sync_ms` (default 500 ms) of wall time, and on flush(), it runs
a sync round over every file with new audio: the audio is fdatasync'd (8 files in
parallel: the disk commits concurrent flushes together), then the WAV header's sizes are
rewritten and fdatasync'd (wavfile.GrowingWav), so a recording cut at any moment plays up
to the last round, i.e. everything written more than sync_ms + 100 ms before the cut.
FLAC cannot be kept playable that way: libsndfile writes the stream's length into the
STREAMINFO header at close only, and reads a FLAC cut before that as 2**63-1 frames long
(soundfile then fails to read it; tried with a SIGKILLed writer). So a FLAC recording is
written as a crash-safe PCM16 WAV beside it (`NAME.flac.part.wav`) and encoded to
NAME.flac after stop(), on a thread of its own (through a temporary name and a rename;
`recording(call_id).finished` says when; flush() and close() wait for it);
recover() (run at startup) repairs cut WAVs and finishes
every leftover `.flac.part.wav`.

Slow disk policy: the queue holds at most `max_frames` frames. When it is full, write()
drops the frame, counts it (`dropped_frames`, and per call) and returns False; the writer
puts the same length of silence in its place, so the recording keeps its length and stays
in step with the call's times. start() and stop() are never dropped.

Errors (folder missing, file exists, disk full) are reported through `on_error(call_id,
exc)` from the writer thread and kept in `errors`; the call's later frames are discarded.
"""

import collections
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile

from appliance.dsp.audiofile import AudioFileError
from appliance.recording import wavfile

FORMATS = ("pcm16", "alaw", "ulaw", "flac")
LAYOUTS = ("mono", "stereo")
RATE = 8000
PART_SUFFIX = ".part.wav"
_FLAC_BLOCK = 65536
_INT16 = np.dtype(np.int16)
_BATCH_S = 0.1        # the writer takes what is queued at least this often
_SYNC_WORKERS = 8     # parallel fdatasync calls in a sync round


@dataclass
class CallRecording:
    """What the writer knows of one call's recording (read it after flush())."""

    call_id: str
    path: str
    format: str
    layout: str
    frames_written: int = 0       # sample frames on disk (dropped frames count as silence)
    dropped_frames: int = 0       # tick frames dropped because the queue was full
    error: Exception | None = None
    finished: bool = False
    owed_silence: int = 0         # samples of dropped frames, written before the next frame


class RecordingWriter:
    """See the module doc. One writer (and one thread) for all the calls of the box."""

    def __init__(self, max_frames=16384, sync_ms=500, on_error=None, open_file=open):
        if not isinstance(max_frames, int) or max_frames < 1:
            raise ValueError(f"max_frames must be an int >= 1, not {max_frames!r}")
        if not isinstance(sync_ms, int) or not 20 <= sync_ms <= 1000:
            raise ValueError(f"sync_ms must be an int of 20..1000 ms (the header is "
                             f"rewritten at least once a second), not {sync_ms!r}")
        self.max_frames = max_frames
        self.sync_ms = sync_ms
        self.on_error = on_error
        self.dropped_frames = 0
        self.errors = collections.deque(maxlen=100)
        self._open_file = open_file
        self._cond = threading.Condition()
        self._queue = collections.deque()
        self._queued_frames = 0
        self._posted = 0
        self._done = 0
        self._closed = False
        self._fatal = None
        self._tick_calls = {}     # call_id -> CallRecording (tick side: started, not stopped)
        self._calls = {}          # call_id -> CallRecording (every call seen)
        self._thread = threading.Thread(target=self._run, name="recording-writer",
                                        daemon=True)
        self._thread.start()

    # -- tick side -------------------------------------------------------------------------

    def start(self, call_id, path, format="pcm16", layout="mono"):
        """Starts recording `call_id` to `path` (.wav for pcm16/alaw/ulaw, .flac for flac).
        Checks the arguments only; the file is created by the writer thread."""
        if not isinstance(call_id, str) or not call_id:
            raise ValueError(f"call_id must be a non-empty str, not {call_id!r}")
        if format not in FORMATS:
            raise ValueError(f"recording format must be one of {', '.join(FORMATS)}, "
                             f"not {format!r}")
        if layout not in LAYOUTS:
            raise ValueError(f"recording layout must be mono (both parties mixed) or stereo "
                             f"(caller left, other party right), not {layout!r}")
        if not isinstance(path, (str, os.PathLike)) or not str(path):
            raise TypeError(f"path must be a file path, not {path!r}")
        path = Path(path)
        want = ".flac" if format == "flac" else ".wav"
        if path.suffix.lower() != want:
            raise AudioFileError(path, f"a {format} recording goes in a {want} file",
                                 f"name it {path.with_suffix(want).name}")
        with self._cond:
            if self._closed:
                raise RuntimeError("the recording writer is closed")
            if call_id in self._tick_calls:
                raise ValueError(f"call {call_id!r} is already being recorded")
            rec = CallRecording(call_id, str(path), format, layout)
            self._tick_calls[call_id] = rec
            self._calls[call_id] = rec
            self._post(("start", rec))

    def write(self, call_id, a, b):
        """Queues one tick of both parties (equal-length int16 frames; copied). Never
        waits: returns False if the frame was dropped because the queue is full."""
        if type(a) is not np.ndarray or type(b) is not np.ndarray:
            raise TypeError(f"a and b must be numpy int16 arrays, not "
                            f"{type(a).__name__} and {type(b).__name__}")
        if a.dtype != _INT16 or b.dtype != _INT16 or a.ndim != 1 or b.ndim != 1:
            raise TypeError(f"a and b must be 1-D int16 arrays, not {a.dtype} {a.shape} and "
                            f"{b.dtype} {b.shape}")
        if a.shape != b.shape:
            raise ValueError(f"both parties' frames must have the same length, not "
                             f"{a.shape[0]} and {b.shape[0]}")
        with self._cond:
            rec = self._tick_calls.get(call_id)
            if rec is None:
                raise ValueError(f"call {call_id!r} is not being recorded; start() it first")
            if self._queued_frames >= self.max_frames:
                rec.dropped_frames += 1
                self.dropped_frames += 1
                rec.owed_silence += a.shape[0]
                return False
            gap, rec.owed_silence = rec.owed_silence, 0
            self._queued_frames += 1
            self._queue.append(("frame", rec, a.copy(), b.copy(), gap))
            self._posted += 1
            # The writer wakes on its own every batch_ms; wake it early only when the
            # queue is filling up.
            if self._queued_frames * 2 == self.max_frames:
                self._cond.notify_all()
            return True

    def write_many(self, call_ids, a, b):
        """`write` for many calls at once, one tick each: row i of `a` and `b` (int16
        [len(call_ids), samples]; copied) is call_ids[i]'s. One lock and one queue item for
        them all, so the tick's cost does not grow by a Python call per recorded call.
        Returns False if the queue was full and the rows were dropped (as `write`)."""
        if type(a) is not np.ndarray or type(b) is not np.ndarray or a.dtype != _INT16 \
                or b.dtype != _INT16 or a.ndim != 2 or a.shape != b.shape \
                or a.shape[0] != len(call_ids):
            raise TypeError(f"a and b must be int16 arrays [{len(call_ids)}, samples] of one "
                            f"shape, not {getattr(a, 'dtype', type(a))} "
                            f"{getattr(a, 'shape', '')} and {getattr(b, 'dtype', type(b))} "
                            f"{getattr(b, 'shape', '')}")
        with self._cond:
            recs = []
            for call_id in call_ids:
                rec = self._tick_calls.get(call_id)
                if rec is None:
                    raise ValueError(f"call {call_id!r} is not being recorded; start() it "
                                     "first")
                recs.append(rec)
            if self._queued_frames + len(recs) > self.max_frames:
                for rec in recs:
                    rec.dropped_frames += 1
                    rec.owed_silence += a.shape[1]
                self.dropped_frames += len(recs)
                return False
            gaps = []
            for rec in recs:
                gaps.append(rec.owed_silence)
                rec.owed_silence = 0
            self._queued_frames += len(recs)
            self._queue.append(("frames", recs, a.copy(), b.copy(), gaps))
            self._posted += 1
            if self._queued_frames * 2 >= self.max_frames:
                self._cond.notify_all()
            return True

    def stop(self, call_id):
        """Ends the recording of `call_id`; the writer closes (and for FLAC encodes) it."""
        with self._cond:
            rec = self._tick_calls.pop(call_id, None)
            if rec is None:
                raise ValueError(f"call {call_id!r} is not being recorded")
            gap, rec.owed_silence = rec.owed_silence, 0
            self._post(("stop", rec, gap))

    def _post(self, item):
        self._queue.append(item)
        self._posted += 1
        self._cond.notify_all()

    @property
    def queued_frames(self):
        with self._cond:
            return self._queued_frames

    def recording(self, call_id):
        """The CallRecording of a call started on this writer, or None."""
        with self._cond:
            return self._calls.get(call_id)

    # -- waiting and closing (not for the tick) -------------------------------------------

    def flush(self, timeout_s=None):
        """Waits until everything queued so far is written and synced to disk (headers
        included); False on timeout."""
        with self._cond:
            self._post(("flush",))
            target = self._posted
            done = self._cond.wait_for(
                lambda: self._done >= target or self._fatal is not None, timeout_s)
            if self._fatal is not None:
                raise RuntimeError(f"the recording writer stopped: {self._fatal!r}")
            return done

    def close(self):
        """Stops every recording still running, writes everything queued, ends the thread."""
        with self._cond:
            if self._closed:
                return
            for call_id in list(self._tick_calls):
                rec = self._tick_calls.pop(call_id)
                gap, rec.owed_silence = rec.owed_silence, 0
                self._post(("stop", rec, gap))
            self._closed = True
            self._post(("exit",))
        self._thread.join()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- the writer thread -----------------------------------------------------------------

    def _run(self):
        try:
            self._loop()
        except BaseException as exc:  # a bug: make flush/close report it instead of hanging
            with self._cond:
                self._fatal = exc
                self._cond.notify_all()
            raise

    def _loop(self):
        files = {}  # call_id -> GrowingWav, for the calls being recorded
        sync_s = self.sync_ms / 1000
        next_sync = time.monotonic() + sync_s
        with ThreadPoolExecutor(_SYNC_WORKERS, thread_name_prefix="recording-sync") as pool, \
                ThreadPoolExecutor(1, thread_name_prefix="recording-flac") as encoder:
            self._encoder = encoder
            self._encoding = []
            while True:
                with self._cond:
                    if not self._queue:
                        wait = min(_BATCH_S, max(0.0, next_sync - time.monotonic()))
                        self._cond.wait(timeout=wait)
                    items = list(self._queue)
                    self._queue.clear()
                exit_now, flush = self._handle(items, files)
                now = time.monotonic()
                if flush or exit_now or now >= next_sync:
                    self._sync_all(files, pool)
                    next_sync = now + sync_s
                if flush or exit_now:  # FLAC encodings started so far are done too
                    for future in self._encoding:
                        future.result()
                    self._encoding.clear()
                frames = sum(1 if item[0] == "frame" else len(item[1])
                             for item in items if item[0] in ("frame", "frames"))
                with self._cond:
                    self._done += len(items)
                    self._queued_frames -= frames
                    self._cond.notify_all()
                if exit_now:
                    return

    def _handle(self, items, files):
        """Applies a batch: frames are gathered per call and written with one write per
        call; start/stop act in order. Returns (exit, flush) requests seen."""
        pending = {}  # call_id -> [(a, b), ...] in order
        exit_now = flush = False
        for item in items:
            kind = item[0]
            if kind == "exit":
                exit_now = True
                continue
            if kind == "flush":
                flush = True
                continue
            if kind == "frames":  # write_many: one row per call
                _, recs, a, b, gaps = item
                for row, rec in enumerate(recs):
                    parts = pending.setdefault(rec.call_id, [])
                    if gaps[row]:
                        silence = np.zeros(gaps[row], np.int16)
                        parts.append((silence, silence))
                    parts.append((a[row], b[row]))
                continue
            rec = item[1]
            if kind == "start":
                try:
                    files[rec.call_id] = self._open(rec)
                except (OSError, ValueError) as exc:
                    self._fail(rec, exc, files)
                continue
            gap = item[4] if kind == "frame" else item[2]
            parts = pending.setdefault(rec.call_id, [])
            if gap:
                silence = np.zeros(gap, np.int16)
                parts.append((silence, silence))
            if kind == "frame":
                parts.append((item[2], item[3]))
            else:  # stop
                self._write_parts(rec, parts, files)
                del pending[rec.call_id]
                wav = files.pop(rec.call_id, None)
                if wav is not None:
                    try:
                        self._finish(wav, rec)
                    except (OSError, ValueError, soundfile.SoundFileError) as exc:
                        self._fail(rec, exc, files)
        for call_id, parts in pending.items():
            self._write_parts(self._calls[call_id], parts, files)
        return exit_now, flush

    def _syncfs_round(self, dirty, files):
        """The sync round by syncfs; returns the files it could not do that way."""
        by_device = {}
        for call_id, wav in dirty:
            try:
                by_device.setdefault(os.fstat(wav.fileno()).st_dev, []).append((call_id, wav))
            except OSError as exc:
                self._fail(self._calls[call_id], exc, files)
        left = []
        for group in by_device.values():
            try:
                wav_type = wavfile.GrowingWav
                for stage, mark in ((wav_type.stage_audio, wav_type.audio_on_disk),
                                    (wav_type.stage_header, wav_type.header_on_disk)):
                    for _, wav in group:
                        stage(wav)
                    wavfile.syncfs(group[0][1].fileno())
                    for _, wav in group:
                        mark(wav)
            except OSError:
                left += group  # each file on its own below, so the failing one is named
        return left

    def _write_parts(self, rec, parts, files):
        wav = files.get(rec.call_id)
        if wav is None or rec.error is not None or not parts:
            return
        a = np.concatenate([p[0] for p in parts]) if len(parts) > 1 else parts[0][0]
        b = np.concatenate([p[1] for p in parts]) if len(parts) > 1 else parts[0][1]
        try:
            if rec.layout == "stereo":
                wav.write(wavfile.interleave(a, b))
            else:
                wav.write(wavfile.mix(a, b))
        except OSError as exc:
            self._fail(rec, exc, files)
            return
        rec.frames_written += a.shape[0]

    def _sync_all(self, files, pool):
        """One sync round for every file with unsynced audio: audio to disk, then the
        headers, then to disk again. On Linux one syncfs(2) per filesystem and step (two
        system calls for all the calls, no thread per file: the tick's interpreter is not
        handed between threads); else fdatasync per file, in parallel (the disk commits
        concurrent flushes together)."""
        dirty = [(call_id, wav) for call_id, wav in files.items() if wav.dirty]
        if not dirty:
            return
        if wavfile.syncfs is not None:
            dirty = self._syncfs_round(dirty, files)
            if not dirty:
                return
        for stage in (lambda w: w.sync_audio(), lambda w: w.sync_header()):
            results = list(pool.map(_attempt(stage), [wav for _, wav in dirty]))
            for (call_id, _), exc in zip(dirty, results):
                if exc is not None:
                    self._fail(self._calls[call_id], exc, files)
            dirty = [(c, w) for c, w in dirty if c in files]

    def _fail(self, rec, exc, files):
        wav = files.pop(rec.call_id, None)
        if wav is not None:
            try:
                wav.close()
            except OSError:
                pass
        if isinstance(exc, OSError) and not isinstance(exc, AudioFileError):
            exc = AudioFileError(rec.path, f"cannot record ({exc.strerror or exc})",
                                 "check the folder, its permissions and the free space")
        rec.error = exc
        self.errors.append((rec.call_id, exc))
        if self.on_error is not None:
            self.on_error(rec.call_id, exc)

    def _open(self, rec):
        path = Path(rec.path)
        target = path.with_name(path.name + PART_SUFFIX) if rec.format == "flac" else path
        if rec.format == "flac" and path.exists():
            raise AudioFileError(path, "a file of that name exists",
                                 "choose another name (recordings are never overwritten)")
        try:
            file = self._open_file(target, "xb")
        except FileExistsError:
            raise AudioFileError(path, "a file of that name exists",
                                 "choose another name (recordings are never overwritten)") \
                from None
        except FileNotFoundError:
            raise AudioFileError(path, f"folder {path.parent} does not exist",
                                 "create it or change the recording folder") from None
        except IsADirectoryError:
            raise AudioFileError(path, "is a directory", "give a file name") from None
        channels = 2 if rec.layout == "stereo" else 1
        try:
            wav = wavfile.GrowingWav(file, "pcm16" if rec.format == "flac" else rec.format,
                                     channels, RATE)
            file.flush()
            wavfile.sync_directory(target)
        except BaseException:
            file.close()
            raise
        return wav

    def _finish(self, wav, rec):
        wav.close()
        if rec.format != "flac":
            rec.finished = True
            return
        # Encoding a long call takes seconds: done on a thread of its own (libsndfile runs
        # without the GIL), so that the other calls' audio keeps flowing to disk.
        self._encoding.append(self._encoder.submit(self._encode, rec))

    def _encode(self, rec):
        try:
            finish_flac(wav_part_path(rec.path), rec.path)
        except (OSError, ValueError, soundfile.SoundFileError) as exc:
            self._fail(rec, exc, {})
            return
        rec.finished = True


def _attempt(stage):
    def run(wav):
        try:
            stage(wav)
        except OSError as exc:
            return exc
        return None
    return run


def wav_part_path(flac_path):
    path = Path(flac_path)
    return path.with_name(path.name + PART_SUFFIX)


def finish_flac(part, flac_path):
    """Encodes the crash-safe PCM16 WAV `part` into FLAC at `flac_path` (through a
    temporary file and a rename, so a cut leaves either no FLAC or a whole one), then
    removes `part`."""
    flac_path = Path(flac_path)
    tmp = flac_path.with_name(flac_path.name + ".tmp")
    with soundfile.SoundFile(part) as src:
        with soundfile.SoundFile(tmp, "w", samplerate=src.samplerate, channels=src.channels,
                                 format="FLAC", subtype="PCM_16") as dst:
            for block in src.blocks(blocksize=_FLAC_BLOCK, dtype="int16", always_2d=True):
                dst.write(block)
    fd = os.open(tmp, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, flac_path)
    wavfile.sync_directory(flac_path)
    os.unlink(part)


def recover(directory):
    """At startup, before recording again: repairs the header of every WAV under
    `directory` cut by a crash, and finishes every leftover FLAC (`.flac.part.wav`).
    Returns the paths it changed."""
    changed = []
    for root, _dirs, names in os.walk(directory):
        for name in sorted(names):
            path = Path(root) / name
            if name.endswith(".flac" + PART_SUFFIX):
                wavfile.repair(path)
                flac = path.with_name(name[:-len(PART_SUFFIX)])
                if flac.exists():  # the rename happened; only the unlink was cut
                    os.unlink(path)
                else:
                    finish_flac(path, flac)
                changed.append(flac)
            elif name.endswith(".flac.tmp"):
                os.unlink(path)
            elif name.lower().endswith(".wav"):
                if wavfile.repair(path, dry_run=True):
                    wavfile.repair(path)
                    changed.append(path)
    return changed

"""RecordingWriter: decoded files equal what was written (every format and layout), a
SIGKILL mid-call leaves a playable file, the tick never waits on a stalled disk, and
inputs are validated."""

import errno
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import pytest
import soundfile

from appliance.dsp import g711
from appliance.dsp.audiofile import AudioFileError
from appliance.recording import RecordingWriter, recover
from appliance.recording import wavfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FRAME = 160
CASES = [(f, lay) for f in ("pcm16", "alaw", "ulaw", "flac") for lay in ("mono", "stereo")]


def _name(fmt):
    return "flac" if fmt == "flac" else "wav"


def _parties(frames, seed):
    """Two parties' audio over the whole int16 range: speech-like noise, a loud sine, both
    extremes (so the mono mix saturates), and silence."""
    rng = np.random.default_rng(seed)
    n = frames * FRAME
    t = np.arange(n)
    a = (rng.normal(0, 3000, n) + 20000 * np.sin(2 * np.pi * 440 * t / 8000))
    b = rng.normal(0, 8000, n)
    a[: n // 8] = 32767
    b[: n // 8] = 32767
    a[n // 8: n // 4] = -32768
    b[n // 8: n // 4] = -32768
    b[-FRAME:] = 0
    return (np.clip(np.round(a), -32768, 32767).astype(np.int16),
            np.clip(np.round(b), -32768, 32767).astype(np.int16))


def _expected(fmt, layout, a, b):
    if layout == "mono":
        x = np.clip(a.astype(np.int32) + b, -32768, 32767).astype(np.int16)
    else:
        x = np.stack([a, b], axis=1)
    if fmt in ("alaw", "ulaw"):
        x = g711.DECODERS[fmt](g711.ENCODERS[fmt](x))
    return x


def _read(path):
    samples, rate = soundfile.read(path, dtype="int16")
    assert rate == 8000
    return samples


@pytest.mark.parametrize("fmt, layout", CASES)
def test_recording_decodes_to_the_samples_written(tmp_path, fmt, layout):
    frames = 250  # 5 s
    a, b = _parties(frames, seed=len(fmt) + len(layout))
    path = tmp_path / f"call.{_name(fmt)}"
    with RecordingWriter() as writer:
        writer.start("c1", path, fmt, layout)
        for k in range(frames):
            assert writer.write("c1", a[k * FRAME:(k + 1) * FRAME],
                                b[k * FRAME:(k + 1) * FRAME])
        writer.stop("c1")
    rec = writer.recording("c1")
    assert rec.finished and rec.error is None and rec.frames_written == frames * FRAME
    got = _read(path)
    np.testing.assert_array_equal(got, _expected(fmt, layout, a, b))
    assert sorted(os.listdir(tmp_path)) == [path.name]  # no part file left
    if fmt in ("alaw", "ulaw"):
        # The codes on disk are the box's G.191-exact ones, not libsndfile's.
        raw = path.read_bytes()
        mix = _expected("pcm16", layout, a, b).reshape(-1)
        codes = g711.ENCODERS[fmt](mix).tobytes()
        assert raw.endswith(codes) and info_subtype(path) == fmt.upper()


@pytest.mark.needs_system
@pytest.mark.parametrize("fmt, layout", [("pcm16", "stereo"), ("alaw", "mono"),
                                         ("flac", "mono")])
def test_recording_of_two_real_speakers_decodes_to_what_they_said(tmp_path, fmt, layout):
    import corpus
    files = corpus.speech_files()
    caller = corpus.concatenated([f for f in files if "en_US" in str(f)][:20])[0]
    agent = corpus.concatenated([f for f in files if "it_IT_m" in str(f)][:20])[0]
    frames = min(caller.size, agent.size) // FRAME
    a, b = caller[:frames * FRAME], agent[:frames * FRAME]
    path = tmp_path / f"call.{_name(fmt)}"
    with RecordingWriter() as writer:
        writer.start("c1", path, fmt, layout)
        for k in range(frames):
            writer.write("c1", a[k * FRAME:(k + 1) * FRAME], b[k * FRAME:(k + 1) * FRAME])
    np.testing.assert_array_equal(_read(path), _expected(fmt, layout, a, b))


def info_subtype(path):
    return soundfile.info(str(path)).subtype


def test_many_calls_at_once_land_in_their_own_files(tmp_path):
    calls = 24
    frames = 100
    with RecordingWriter() as writer:
        for c in range(calls):
            writer.start(f"c{c}", tmp_path / f"c{c}.wav", "pcm16", "stereo")
        for k in range(frames):
            for c in range(calls):
                writer.write(f"c{c}", np.full(FRAME, c, np.int16),
                             np.full(FRAME, k, np.int16))
        for c in range(calls):
            writer.stop(f"c{c}")
    for c in range(calls):
        got = _read(tmp_path / f"c{c}.wav")
        assert got.shape == (frames * FRAME, 2)
        assert (got[:, 0] == c).all()
        np.testing.assert_array_equal(got[::FRAME, 1], np.arange(frames))


@pytest.mark.parametrize("fmt", ["pcm16", "ulaw", "flac"])
def test_wav_header_is_kept_current_while_the_call_goes_on(tmp_path, fmt):
    """Before stop(): the file on disk already plays everything up to the last sync (every
    500 ms of audio; 2 s were written, a multiple of it)."""
    path = tmp_path / f"call.{_name(fmt)}"
    on_disk = path if fmt != "flac" else tmp_path / "call.flac.part.wav"
    a, b = _parties(100, seed=3)
    writer = RecordingWriter(sync_ms=500)
    writer.start("c1", path, fmt, "mono")
    for k in range(100):
        writer.write("c1", a[k * FRAME:(k + 1) * FRAME], b[k * FRAME:(k + 1) * FRAME])
    assert writer.flush()
    got = _read(on_disk)
    want = _expected(fmt if fmt != "flac" else "pcm16", "mono", a, b)
    np.testing.assert_array_equal(got, want)
    writer.close()
    np.testing.assert_array_equal(_read(path), want)


CHILD = textwrap.dedent("""
    import sys, time
    import numpy as np
    from appliance.recording import RecordingWriter
    path, fmt, layout = sys.argv[1:4]
    writer = RecordingWriter(sync_ms=500)
    writer.start("c1", path, fmt, layout)
    start = time.monotonic()
    k = 0
    while True:  # real time: one 20 ms frame per tick, as the engine does
        base = np.arange(160, dtype=np.int32) + 160 * k
        a = ((base * 7) % 20000 - 10000).astype(np.int16)
        b = ((base * 13) % 6000 - 3000).astype(np.int16)
        assert writer.write("c1", a, b)
        k += 1
        print(k, flush=True)
        time.sleep(max(0.0, start + 0.02 * k - time.monotonic()))
""")


def _child_frames(frames):
    base = np.arange(frames * FRAME, dtype=np.int32)
    return (((base * 7) % 20000 - 10000).astype(np.int16),
            ((base * 13) % 6000 - 3000).astype(np.int16))


@pytest.mark.parametrize("fmt, layout", [("pcm16", "mono"), ("alaw", "stereo"),
                                         ("flac", "mono")])
def test_writer_killed_by_sigkill_mid_call_leaves_a_playable_file(tmp_path, fmt, layout):
    path = tmp_path / f"call.{_name(fmt)}"
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(path), fmt, layout], stdout=subprocess.PIPE,
        cwd=ROOT, env={**os.environ, "PYTHONPATH": ROOT})
    seen = []  # (monotonic time we learnt of it, frames written by then)
    try:
        for line in child.stdout:
            seen.append((time.monotonic(), int(line)))
            if seen[-1][1] >= 150:  # 3 s into the call
                break
    finally:
        child.send_signal(signal.SIGKILL)
        killed_at = time.monotonic()
        child.wait()
        child.stdout.close()
    assert child.returncode == -signal.SIGKILL
    # Frames written more than 1 s before the kill (we learnt of each after it was written).
    old = max(k for t, k in seen if t <= killed_at - 1.0)
    assert old >= 50
    on_disk = path if fmt != "flac" else tmp_path / "call.flac.part.wav"
    got = _read(on_disk)
    n = got.shape[0]
    assert n >= old * FRAME, (n, old)
    print(f"frames: written {seen[-1][1]}, >1 s before the kill {old}, playable {n // FRAME}")
    assert n % FRAME == 0  # whole ticks only
    a, b = _child_frames(seen[-1][1] + 50)
    want = _expected(fmt if fmt != "flac" else "pcm16", layout, a, b)
    np.testing.assert_array_equal(got, want[:n])
    # The startup pass gives back all that reached the file, and finishes the FLAC.
    recover(tmp_path)
    after = _read(path)
    assert after.shape[0] >= n
    np.testing.assert_array_equal(after, want[:after.shape[0]])
    assert sorted(os.listdir(tmp_path)) == [path.name]


class _StalledFile:
    """A file whose writes wait on `gate` (a slow or hung disk)."""

    def __init__(self, file, gate):
        self._file = file
        self._gate = gate

    def write(self, data):
        with self._gate:
            return self._file.write(data)

    def __getattr__(self, name):
        return getattr(self._file, name)


def test_tick_never_waits_on_a_stalled_disk_drops_are_counted_and_become_silence(tmp_path):
    gate = threading.Lock()
    gate.acquire()  # the disk hangs from the start
    writer = RecordingWriter(max_frames=50,
                             open_file=lambda p, m: _StalledFile(open(p, m), gate))
    path = tmp_path / "call.wav"
    writer.start("c1", path, "pcm16", "mono")
    results = []

    def tick():
        for k in range(200):
            results.append(writer.write("c1", np.full(FRAME, k + 1, np.int16),
                                        np.zeros(FRAME, np.int16)))

    ticker = threading.Thread(target=tick)
    ticker.start()
    ticker.join(timeout=60)  # a hang guard, not a timing threshold
    assert not ticker.is_alive(), "write() waited on the stalled disk"
    assert results == [True] * 50 + [False] * 150
    assert writer.dropped_frames == 150 and writer.recording("c1").dropped_frames == 150
    assert writer.queued_frames == 50
    gate.release()  # the disk comes back
    assert writer.flush()
    for k in range(200, 210):
        assert writer.write("c1", np.full(FRAME, k + 1, np.int16), np.zeros(FRAME, np.int16))
    writer.stop("c1")
    writer.close()
    got = _read(path)
    assert got.shape[0] == 210 * FRAME  # the call's full length
    frames = got.reshape(210, FRAME)
    np.testing.assert_array_equal(frames[:50, 0], np.arange(1, 51))
    assert (frames[50:200] == 0).all()
    np.testing.assert_array_equal(frames[200:, 0], np.arange(201, 211))


def test_disk_errors_stop_that_recording_only_and_are_reported(tmp_path):
    class Full:
        def __init__(self, file):
            self._file = file

        def write(self, data):  # the disk fills up at byte 4000
            room = 4000 - self._file.tell()
            if len(data) > room:
                self._file.write(data[:max(0, room)])
                raise OSError(errno.ENOSPC, "No space left on device")
            return self._file.write(data)

        def __getattr__(self, name):
            return getattr(self._file, name)

    reported = []
    opener = lambda p, m: Full(open(p, m)) if "full" in str(p) else open(p, m)  # noqa: E731
    with RecordingWriter(open_file=opener,
                         on_error=lambda c, e: reported.append((c, str(e)))) as writer:
        writer.start("bad", tmp_path / "full.wav")
        writer.start("good", tmp_path / "fine.wav")
        writer.start("nodir", tmp_path / "missing" / "x.wav")
        for k in range(50):
            for call in ("bad", "good", "nodir"):
                writer.write(call, np.ones(FRAME, np.int16), np.ones(FRAME, np.int16))
            if k == 9:
                assert writer.flush()  # 10 frames = 3200 bytes + the header fit
        for call in ("bad", "good", "nodir"):
            writer.stop(call)
    assert sorted(c for c, _ in reported) == ["bad", "nodir"]
    messages = dict(reported)
    assert "No space left" in messages["bad"] and "free space" in messages["bad"]
    assert "does not exist" in messages["nodir"]
    assert _read(tmp_path / "fine.wav").shape == (50 * FRAME,)
    kept = _read(tmp_path / "full.wav")  # what fitted still plays
    assert kept.shape == (10 * FRAME,) and (kept == 2).all()


def test_an_existing_file_is_never_overwritten(tmp_path):
    for name, fmt in (("old.wav", "pcm16"), ("old.flac", "flac")):
        path = tmp_path / name
        path.write_bytes(b"precious")
        with RecordingWriter() as writer:
            writer.start("c1", path, fmt)
            writer.write("c1", np.ones(FRAME, np.int16), np.ones(FRAME, np.int16))
            writer.stop("c1")
        assert path.read_bytes() == b"precious"
        assert "exists" in str(writer.recording("c1").error)


def test_arguments_are_validated_on_the_tick_side(tmp_path):
    with RecordingWriter() as writer:
        with pytest.raises(ValueError, match="format must be one of"):
            writer.start("c1", tmp_path / "a.wav", "mp3")
        with pytest.raises(ValueError, match="layout"):
            writer.start("c1", tmp_path / "a.wav", "pcm16", "surround")
        with pytest.raises(AudioFileError, match="goes in a .flac file"):
            writer.start("c1", tmp_path / "a.wav", "flac")
        with pytest.raises(AudioFileError, match="goes in a .wav file"):
            writer.start("c1", tmp_path / "a.flac", "alaw")
        with pytest.raises(ValueError, match="call_id"):
            writer.start("", tmp_path / "a.wav")
        with pytest.raises(ValueError, match="not being recorded"):
            writer.write("c1", np.zeros(FRAME, np.int16), np.zeros(FRAME, np.int16))
        writer.start("c1", tmp_path / "a.wav")
        with pytest.raises(ValueError, match="already being recorded"):
            writer.start("c1", tmp_path / "b.wav")
        with pytest.raises(TypeError, match="int16"):
            writer.write("c1", np.zeros(FRAME, np.float32), np.zeros(FRAME, np.int16))
        with pytest.raises(TypeError, match="numpy"):
            writer.write("c1", [0] * FRAME, np.zeros(FRAME, np.int16))
        with pytest.raises(ValueError, match="same length"):
            writer.write("c1", np.zeros(FRAME, np.int16), np.zeros(80, np.int16))
        writer.stop("c1")
        with pytest.raises(ValueError, match="not being recorded"):
            writer.stop("c1")
    with pytest.raises(ValueError, match="sync_ms"):
        RecordingWriter(sync_ms=2000)
    with pytest.raises(ValueError, match="max_frames"):
        RecordingWriter(max_frames=0)


@pytest.mark.parametrize("fmt, channels", [("pcm16", 1), ("alaw", 2), ("ulaw", 1)])
def test_repair_of_a_wav_cut_before_its_header_was_updated(tmp_path, fmt, channels):
    path = tmp_path / "cut.wav"
    samples = (np.arange(8000 * channels + 3) % 4000 - 2000).astype(np.int16)
    with open(path, "xb") as file:
        wav = wavfile.GrowingWav(file, fmt, channels)
        wav.write(samples)  # never synced: the header still says 0 samples
    assert soundfile.info(str(path)).frames == 0
    assert wavfile.repair(path, dry_run=True) is True
    assert recover(tmp_path) == [path]
    got = _read(path).reshape(-1)
    whole = (samples.size // channels) * channels  # a cut half sample frame is dropped
    want = samples[:whole]
    if fmt != "pcm16":
        want = g711.DECODERS[fmt](g711.ENCODERS[fmt](want))
    np.testing.assert_array_equal(got, want)
    assert recover(tmp_path) == []  # nothing left to fix
    other = tmp_path / "notes.wav"
    other.write_bytes(b"not a wav at all")
    assert wavfile.repair(other) is None and other.read_bytes() == b"not a wav at all"


def test_write_many_records_each_call_its_own_rows(tmp_path):
    writer = RecordingWriter()
    try:
        for name in ("one", "two"):
            writer.start(name, tmp_path / f"{name}.wav", "pcm16", "stereo")
        for tick in range(50):
            a = np.array([np.full(160, tick, np.int16), np.full(160, -tick, np.int16)])
            b = a * 2
            assert writer.write_many(["one", "two"], a, b)
        writer.stop("one")
        writer.stop("two")
        writer.flush()
    finally:
        writer.close()
    one, _ = soundfile.read(tmp_path / "one.wav", dtype="int16")
    two, _ = soundfile.read(tmp_path / "two.wav", dtype="int16")
    ticks = np.repeat(np.arange(50, dtype=np.int16), 160)
    assert np.array_equal(one[:, 0], ticks) and np.array_equal(one[:, 1], 2 * ticks)
    assert np.array_equal(two[:, 0], -ticks) and np.array_equal(two[:, 1], -2 * ticks)


def test_write_many_refuses_rows_that_do_not_match_the_calls(tmp_path):
    with RecordingWriter() as writer:
        writer.start("one", tmp_path / "one.wav")
        with pytest.raises(TypeError):
            writer.write_many(["one"], np.zeros((2, 160), np.int16), np.zeros((2, 160), np.int16))
        with pytest.raises(ValueError, match="not being recorded"):
            writer.write_many(["nobody"], np.zeros((1, 160), np.int16),
                              np.zeros((1, 160), np.int16))
        writer.stop("one")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="syncfs(2) is Linux's")
def test_linux_syncs_every_recording_with_one_syncfs_per_round(tmp_path, monkeypatch):
    calls = []
    real = wavfile.syncfs
    assert real is not None
    monkeypatch.setattr(wavfile, "syncfs", lambda fd: (calls.append(fd), real(fd)))
    with RecordingWriter(sync_ms=20) as writer:
        for n in range(5):
            writer.start(f"c{n}", tmp_path / f"c{n}.wav")
        for _ in range(10):
            writer.write_many([f"c{n}" for n in range(5)], np.ones((5, 160), np.int16),
                              np.ones((5, 160), np.int16))
        writer.flush()
        # the headers already tell the audio on disk, before any stop
        for n in range(5):
            assert soundfile.info(tmp_path / f"c{n}.wav").frames == 1600
        rounds = len(calls)
        for n in range(5):
            writer.stop(f"c{n}")
    assert rounds >= 2 and rounds % 2 == 0  # audio, then headers: two calls per round
    with pytest.raises(OSError):
        real(-1)

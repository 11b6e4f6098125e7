"""Store and recording writers: what the tick pays and what the writer threads cost.

    python bench/store_recording_bench.py [--calls 120] [--seconds 10] [--dir DIR]

Recording runs in real time (one 20 ms tick per 20 ms, every call stereo) per format and
prints the tick side's CPU share, the worst tick's 120 write() calls, the writer threads'
CPU share, drops, and how long stopping every call takes. The store part enqueues events
as fast as it can and prints the enqueue cost and the commit rate. DIR should be on the
disk the box records to: the fdatasync rounds dominate the writer's cost.
"""

import argparse
import resource
import shutil
import tempfile
import time

import numpy as np

from appliance.recording import RecordingWriter
from appliance.store import Store, StoreWriter


def _cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def recording(fmt, calls, seconds, directory):
    rng = np.random.default_rng(1)
    a = rng.integers(-3000, 3000, 160).astype(np.int16)
    b = a[::-1].copy()
    writer = RecordingWriter()
    for c in range(calls):
        writer.start(f"c{c}", f"{directory}/c{c}.{'flac' if fmt == 'flac' else 'wav'}", fmt,
                     "stereo")
    cpu0, tick0, t0, worst = _cpu(), time.thread_time(), time.monotonic(), 0.0
    for k in range(50 * seconds):
        start = time.perf_counter()
        for c in range(calls):
            writer.write(f"c{c}", a, b)
        worst = max(worst, time.perf_counter() - start)
        time.sleep(max(0.0, t0 + 0.02 * (k + 1) - time.monotonic()))
    tick = time.thread_time() - tick0
    total = _cpu() - cpu0
    start = time.monotonic()
    writer.close()
    print(f"recording {fmt:5} stereo x{calls}, {seconds} s real time: tick {tick / seconds:6.1%} "
          f"of a core (worst tick {worst * 1e3:.2f} ms), writer threads "
          f"{(total - tick) / seconds:6.1%}, drops {writer.dropped_frames}, "
          f"stop all {time.monotonic() - start:.2f} s")


def store(directory, n=20000):
    path = f"{directory}/box.db"
    writer = StoreWriter(path)
    t0, c0 = time.perf_counter(), time.thread_time()
    for i in range(n):
        writer.append_event(i, "offered", call_id=f"c{i}", queue="sales", data={"prio": 1})
    enqueue = time.thread_time() - c0
    writer.flush()
    total = time.perf_counter() - t0
    writer.close()
    print(f"store: append_event enqueue {enqueue / n * 1e6:.2f} us each; {n} events committed "
          f"in {total:.2f} s ({n / total:.0f}/s, {writer.batches} transactions)")
    with Store.open(path) as reader:
        t0 = time.perf_counter()
        events = reader.events()
        print(f"store: events() of {len(events)} rows in {(time.perf_counter() - t0) * 1e3:.0f} ms")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=120)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--dir", default=None)
    args = parser.parse_args()
    directory = tempfile.mkdtemp(dir=args.dir)
    try:
        store(directory)
        for fmt in ("pcm16", "alaw", "ulaw", "flac"):
            sub = tempfile.mkdtemp(dir=directory)
            recording(fmt, args.calls, args.seconds, sub)
    finally:
        shutil.rmtree(directory)


if __name__ == "__main__":
    main()

"""Caller ID FSK demodulation: channels per core, ours against spandsp, in one run.

    python bench/callerid_bench.py [--channels 120] [--seconds 10] [--json]

Every channel carries the same line audio: a caller ID burst (GR-30 MDMF on Bell 202, or
ETSI on V.23, at -20 dBm0, 0.7 s) every `--every` seconds in line noise at -60 dBm0.
  - ours: appliance.dsp.callerid.CallerIdBank, one C call per 20 ms tick for all channels
    (the FSK batch entry point), called from Python as the engine calls it, plus the Python
    work that assembles and checks the messages;
  - spandsp: adsi_rx (Debian libspandsp-dev) in its own C loop, every channel frame by
    frame (tests/spandsp_adsi.py compiles the harness), with no Python in the loop.
Channels per core = channels x audio seconds / CPU seconds (process time, one thread), from
the fastest of --repeat interleaved runs of each side.
Each side must also receive every message, or its figure is not reported as valid.
"""

import argparse
import json
import platform
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from appliance.dsp.callerid import (  # noqa: E402
    CallerId,
    CallerIdBank,
    CallerIdTime,
    build_message,
    encode,
)

FRAME = 160
RATE = 8000
SPANDSP_STANDARD = {"bell202": 1, "v23": 2}  # ADSI_STANDARD_CLASS, ADSI_STANDARD_CLIP


def line_audio(fmt, seconds, every=6.0, seed=1):
    """A burst every `every` seconds in -60 dBm0 white noise; returns (audio, bursts)."""
    burst = encode("5551234567", "DOE JANE", CallerIdTime(3, 14, 9, 26), format=fmt,
                   level_dbm0=-20.0)
    period = int(every * RATE)
    total = int(seconds * RATE) // FRAME * FRAME
    audio = np.zeros(total, np.float64)
    bursts = 0
    for start in range(RATE // 2, total - burst.size, period):
        audio[start:start + burst.size] += burst
        bursts += 1
    rng = np.random.default_rng(seed)
    audio += rng.normal(0.0, 22827.6 / np.sqrt(2) * 10 ** (-60 / 20), total)
    return np.clip(np.round(audio), -32768, 32767).astype(np.int16), bursts


def bench_ours(audio, channels):
    ticks = audio.size // FRAME
    frames = np.ascontiguousarray(
        np.broadcast_to(audio.reshape(ticks, 1, FRAME), (ticks, channels, FRAME)))
    bank = CallerIdBank(channels, FRAME)
    messages = 0
    start = time.process_time()
    for tick in range(ticks):
        for _, result in bank.process(frames[tick]):
            messages += isinstance(result, CallerId) and result.number == "5551234567"
    cpu = time.process_time() - start
    return cpu, messages


_OWN_LOOP_SOURCE = r"""
#include <stdlib.h>
#include "fsk.h"

/* Our receivers in a C loop like spandsp's: every channel frame by frame; counts bytes. */
long ours_fsk_rx_channels(const int16_t *samples, int n, int channels, int frame)
{
    fsk_rx_state_t *rx = calloc((size_t) channels, sizeof(*rx));
    fsk_event_t events[256];
    fsk_rx_config_t config;
    long bytes = 0;
    int c, i, k, got;
    fsk_rx_config_default(&config);
    for (c = 0; c < channels; c++)
        fsk_rx_init(&rx[c], &config);
    for (i = 0; i + frame <= n; i += frame)
        for (c = 0; c < channels; c++) {
            got = fsk_rx_process(&rx[c], samples + i, (size_t) frame, events, 256);
            for (k = 0; k < got; k++)
                bytes += events[k].kind == FSK_EVENT_BYTE;
        }
    free(rx);
    return bytes;
}
"""


def _own_loop():
    """Our C receiver compiled into a cffi harness with its own loop (no Python)."""
    import hashlib
    import importlib.util
    import tempfile

    from cffi import FFI

    native = ROOT / "native"
    digest = hashlib.sha256(_OWN_LOOP_SOURCE.encode() + (native / "fsk.c").read_bytes()
                            + (native / "fsk.h").read_bytes()).hexdigest()[:12]
    name = f"_ours_fsk_loop_{digest}"
    build = Path(tempfile.gettempdir()) / "appliance-bench"
    build.mkdir(exist_ok=True)
    found = sorted(build.glob(f"{name}*.so"))
    if not found:
        ffi = FFI()
        ffi.cdef("long ours_fsk_rx_channels(const int16_t *samples, int n, int channels, "
                 "int frame);")
        ffi.set_source(name, _OWN_LOOP_SOURCE, sources=[str(native / "fsk.c")],
                       include_dirs=[str(native)], extra_compile_args=["-std=c99", "-O3"],
                       libraries=["m"])
        ffi.compile(tmpdir=str(build))
        found = sorted(build.glob(f"{name}*.so"))
    spec = importlib.util.spec_from_file_location(name, found[0])
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def bench_ours_c_loop(audio, channels, message_bytes):
    module = _own_loop()
    pointer = module.ffi.cast("int16_t *", module.ffi.from_buffer(audio))
    start = time.process_time()
    received = module.lib.ours_fsk_rx_channels(pointer, audio.size, channels, FRAME)
    cpu = time.process_time() - start
    return cpu, received // message_bytes


def bench_spandsp(audio, channels, fmt):
    import spandsp_adsi

    module = spandsp_adsi.load()
    if module is None:
        return None, None
    pointer = module.ffi.cast("int16_t *", module.ffi.from_buffer(audio))
    start = time.process_time()
    messages = module.lib.spandsp_adsi_rx_channels(SPANDSP_STANDARD[fmt], pointer, audio.size,
                                                  channels, FRAME)
    cpu = time.process_time() - start
    return cpu, messages


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--channels", type=int, default=120)
    parser.add_argument("--seconds", type=float, default=12.0)
    parser.add_argument("--every", type=float, default=6.0,
                        help="Seconds between caller ID bursts on each channel (6: one per US "
                             "ring cycle, far more often than real traffic).")
    parser.add_argument("--repeat", type=int, default=3,
                        help="Runs of each side, interleaved; the fastest counts (the machine "
                             "is shared, so the fastest run is the least disturbed).")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    rows = []
    for fmt in ("bell202", "v23"):
        audio, bursts = line_audio(fmt, args.seconds, args.every)
        message_bytes = len(build_message("5551234567", "DOE JANE", CallerIdTime(3, 14, 9, 26)))
        expected = bursts * args.channels
        seconds = audio.size / RATE
        sides = (("ours (batch, from Python)", lambda: bench_ours(audio, args.channels)),
                 ("ours fsk_rx (own C loop)",
                  lambda: bench_ours_c_loop(audio, args.channels, message_bytes)),
                 ("spandsp adsi_rx (own C loop)",
                  lambda: bench_spandsp(audio, args.channels, fmt)))
        runs = {name: [] for name, _ in sides}
        for _ in range(args.repeat):
            for name, run in sides:
                runs[name].append(run())
        for name, _ in sides:
            cpu, messages = min(runs[name], key=lambda r: (r[0] is None, r[0] or 0.0))
            if cpu is None:
                rows.append({"format": fmt, "impl": name, "skipped": "spandsp not installed"})
                continue
            rows.append({
                "format": fmt, "impl": name, "channels": args.channels,
                "audio_s": seconds, "cpu_s": round(cpu, 3),
                "channels_per_core": round(args.channels * seconds / cpu),
                "messages": int(messages), "expected": expected,
                "all_received": int(messages) == expected,
            })
    meta = {"date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
            "python": platform.python_version()}
    if args.json:
        print(json.dumps({"meta": meta, "rows": rows}, indent=1))
        return
    print(f"Caller ID FSK demodulation, {meta['date']}, {meta['machine']}, "
          f"Python {meta['python']}")
    print(f"{'format':8} {'implementation':30} {'ch/core':>8} {'cpu s':>7} {'messages':>12}")
    for row in rows:
        if "skipped" in row:
            print(f"{row['format']:8} {row['impl']:30} skipped: {row['skipped']}")
            continue
        print(f"{row['format']:8} {row['impl']:30} {row['channels_per_core']:>8} "
              f"{row['cpu_s']:>7.2f} {row['messages']:>5}/{row['expected']:<5}"
              f"{'' if row['all_received'] else '  (MISSED MESSAGES)'}")


if __name__ == "__main__":
    main()

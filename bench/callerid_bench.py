"""Caller ID FSK demodulation: channels per core, ours against spandsp, in one run.

    python bench/callerid_bench.py [--quick] [--channels 120] [--seconds 30] [--json]

From Python: `run(quick=False) -> dict` (the figures) and `markdown(result) -> str`.

Every channel carries the same line audio: a caller ID burst (GR-30 MDMF on Bell 202, or
ETSI on V.23, at -20 dBm0, 0.7 s) every `--every` seconds in line noise at -60 dBm0, so
the receivers are busy with a carrier about 12 % of the time and idle the rest (ours then
runs only its filters and carrier detector). Measured with `--every 0.72` (bursts back to
back, a carrier 95 % of the time): ours costs about 1.3x more per second, spandsp's about
1.15x more, and ours stays about 1.35x ahead in its own C loop.
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

from cffi_reference import compiled  # noqa: E402

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
    native = ROOT / "native"
    return compiled(
        "ours_fsk_loop",
        "long ours_fsk_rx_channels(const int16_t *samples, int n, int channels, int frame);",
        _OWN_LOOP_SOURCE, "callerid-bench",
        depends=[native / name for name in ("fsk.c", "fsk.h", "cpu_internal.h",
                                            "level_internal.h")],
        sources=[str(native / "fsk.c")], include_dirs=[str(native)],
        # the extension's flags (native/build_dsp.py)
        extra_compile_args=["-std=c99", "-O3", "-ffp-contract=fast"], libraries=["m"])


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


SIDES = ("ours", "ours_c_loop", "spandsp")
SIDE_NAMES = {"ours": "ours: CallerIdBank (batch, from Python)",
              "ours_c_loop": "ours: fsk_rx in its own C loop",
              "spandsp": "spandsp: adsi_rx in its own C loop"}


def run(quick=False, channels=None, seconds=None, every=6.0, repeat=None):
    """Runs the benchmark and returns its result as a dict (JSON-ready):

    {"meta": {date, machine, python, quick}, "params": {channels, seconds, every, repeat},
     "rows": [{format, side, impl, channels, audio_s, cpu_s, channels_per_core, messages,
               expected, all_received} or {format, side, impl, skipped}],
     "summary": {format: {side: channels per core, ..., "ours_vs_spandsp": ratio}}}

    quick=True: 24 channels, 6 s, one run per side (a smoke run: seconds, figures rough).
    A side whose receivers missed a message has all_received False: its figure does not
    count (the summary leaves it out).
    """
    channels = channels or (24 if quick else 120)
    seconds = seconds or (6.0 if quick else 30.0)
    repeat = repeat or (1 if quick else 3)
    message_bytes = len(build_message("5551234567", "DOE JANE", CallerIdTime(3, 14, 9, 26)))
    rows, summary = [], {}
    for fmt in ("bell202", "v23"):
        audio, bursts = line_audio(fmt, seconds, every)
        expected = bursts * channels
        audio_s = audio.size / RATE
        sides = {"ours": lambda: bench_ours(audio, channels),
                 "ours_c_loop": lambda: bench_ours_c_loop(audio, channels, message_bytes),
                 "spandsp": lambda: bench_spandsp(audio, channels, fmt)}
        runs = {side: [] for side in SIDES}
        for _ in range(repeat):  # interleaved: each side sees the same machine load
            for side in SIDES:
                runs[side].append(sides[side]())
        summary[fmt] = {}
        for side in SIDES:
            cpu, messages = min(runs[side], key=lambda r: (r[0] is None, r[0] or 0.0))
            if cpu is None:
                rows.append({"format": fmt, "side": side, "impl": SIDE_NAMES[side],
                             "skipped": "spandsp (libspandsp-dev) not installed"})
                continue
            row = {"format": fmt, "side": side, "impl": SIDE_NAMES[side],
                   "channels": channels, "audio_s": audio_s, "cpu_s": round(cpu, 3),
                   "channels_per_core": round(channels * audio_s / max(cpu, 1e-9)),
                   "messages": int(messages), "expected": expected,
                   "all_received": int(messages) == expected}
            rows.append(row)
            if row["all_received"]:
                summary[fmt][side] = row["channels_per_core"]
        if "ours" in summary[fmt] and "spandsp" in summary[fmt]:
            summary[fmt]["ours_vs_spandsp"] = round(
                summary[fmt]["ours"] / summary[fmt]["spandsp"], 2)
    meta = {"date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
            "python": platform.python_version(), "quick": quick}
    return {"meta": meta,
            "params": {"channels": channels, "seconds": seconds, "every": every,
                       "repeat": repeat},
            "rows": rows, "summary": summary}


def markdown(result):
    """The result as a markdown table (for bench/RESULTS.md)."""
    p = result["params"]
    lines = [f"Caller ID FSK receive, {p['channels']} channels x {p['seconds']:g} s, a "
             f"-20 dBm0 burst every {p['every']:g} s in -60 dBm0 noise, best of "
             f"{p['repeat']} interleaved runs" + (" (QUICK MODE)" if result["meta"]["quick"]
                                                 else "") + ":",
             "",
             "| format | implementation | channels per core | CPU s | messages |",
             "| --- | --- | ---: | ---: | --- |"]
    for row in result["rows"]:
        if "skipped" in row:
            lines.append(f"| {row['format']} | {row['impl']} | skipped: {row['skipped']} | | |")
            continue
        missed = "" if row["all_received"] else " (MISSED MESSAGES: figure void)"
        lines.append(f"| {row['format']} | {row['impl']} | {row['channels_per_core']} | "
                     f"{row['cpu_s']:.2f} | {row['messages']}/{row['expected']}{missed} |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="Smoke run: 24 channels, 6 s, one run per side.")
    parser.add_argument("--channels", type=int, default=None, help="Default 120.")
    parser.add_argument("--seconds", type=float, default=None, help="Default 30.")
    parser.add_argument("--every", type=float, default=6.0,
                        help="Seconds between caller ID bursts on each channel (6: one per US "
                             "ring cycle, far more often than real traffic).")
    parser.add_argument("--repeat", type=int, default=None,
                        help="Runs of each side, interleaved; the fastest counts (the machine "
                             "is shared, so the fastest run is the least disturbed). Default 3.")
    parser.add_argument("--json", action="store_true", help="Print the result as JSON.")
    args = parser.parse_args(argv)
    for name in ("channels", "seconds", "repeat"):
        value = getattr(args, name)
        if value is not None and value <= 0:
            parser.error(f"--{name} must be positive")
    if args.every <= 0:
        parser.error("--every must be positive")
    result = run(args.quick, args.channels, args.seconds, args.every, args.repeat)
    if args.json:
        print(json.dumps(result, indent=1))
    else:
        meta = result["meta"]
        print(f"{meta['date']}, {meta['machine']}, Python {meta['python']}\n")
        print(markdown(result), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())

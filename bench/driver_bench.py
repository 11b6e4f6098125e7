"""Board driver benchmark: 4 boards x 32 ports at 50 ticks/s through in-process transports.

    python bench/driver_bench.py                      # full run (20 s of traffic), markdown
    python bench/driver_bench.py --quick              # 2 s of traffic; for the smoke test
    python bench/driver_bench.py --json r.json

What the host pays per board per tick, end to end through the real driver: the
in-process transport, ``Codec.feed`` of one AUDIO_RX (32 ports x 160 bytes), the `Board`'s
event dispatch, the host DSP (with ``dsp=True``: one `ChannelBank` call over 32 channels,
G.711 decode and DTMF, and one FSK caller-ID call over the 16 on-hook FXO ports), the
`AudioReceived` event taken by a consumer task (the engine's stand-in), and one AUDIO_TX
back (`send_audio`, echoing the audio). Each board has 16 FXO ports (idle, on-hook) and
16 FXS ports.

Each board is played by a thread (blocking `BytePipe` ends, its own codec): it answers
HELLO and SELECT_AUDIO, then sends tick t once the host has answered tick t - 2 (as a
virtual-clock emulator does), so the host runs as fast as it can. Only the host's thread
is timed (``time.thread_time``): CPU share of one core = host CPU seconds / traffic
seconds (ticks / 50); boards per core = boards / share. The audio carries one DTMF digit
per FXS port; the ``digits ok`` column counts the digits the host DSP found against those sent,
``frames ok`` the AUDIO_TX frames the boards got back.

``run(quick=False) -> dict`` is the entry point for other code; ``main`` prints markdown.
"""

import argparse
import asyncio
import json
import os
import sys
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import machine as bench_machine  # noqa: E402

from appliance.drivers.board import AudioReceived, Board, DigitDetected  # noqa: E402
from appliance.drivers.protocol import (  # noqa: E402
    Ack, AudioRx, AudioTx, Capabilities, Codec, Hello, Keepalive, PortInfo, Role,
    SelectAudio,
)
from appliance.drivers.transport import listen_inprocess  # noqa: E402
from appliance.dsp import g711  # noqa: E402
from appliance.dtmf import generate  # noqa: E402

BOARDS = 4
PORTS = 32
FXO_PORTS = 16  # ports 0-15 FXO (on-hook: FSK caller ID runs on them), 16-31 FXS
TICKS_PER_SECOND = 50
DIGITS = "0123456789*#ABCD"


def machine():
    return bench_machine.machine()


def traffic(ticks, ports=PORTS, seed=5, digit_ports=None):
    """A-law audio [ticks, ports, 160]: low noise, and on each of `digit_ports` (default
    all) the digit DIGITS[p % 16] (100 ms at -10 dBm0) starting at tick 10 + p."""
    rng = np.random.default_rng(seed)
    linear = rng.normal(0.0, 30.0, size=(ticks, ports, 160))
    expected = 0
    for p in range(ports) if digit_ports is None else digit_ports:
        tone = generate(DIGITS[p % 16], level_dbm0=-10.0, on_ms=100.0, off_ms=0.0)
        start = (10 + p) * 160
        flat = linear[:, p, :].reshape(-1)
        if start + tone.size <= flat.size:
            flat[start:start + tone.size] += tone
            linear[:, p, :] = flat.reshape(ticks, 160)
            expected += 1
    codes = g711.alaw_encode(np.clip(linear, -32768, 32767).astype(np.int16).reshape(-1))
    return codes.reshape(ticks, ports * 160), expected


def board_thread(end, ticks, audio, go, result, ports=PORTS):
    """Plays one board on the blocking ends of an in-process pipe (see the module doc)."""
    codec = Codec(Role.BOARD)
    mask = (1 << ports) - 1
    selected = False
    while not selected:
        for frame in codec.feed(end.rx.read(65536, timeout=10)):
            message = frame.message
            if isinstance(message, Hello):
                end.tx.write(codec.encode(Capabilities(
                    message.session, "BENCH-16FXO16FXS", (1, 0, 0), "B", 0,
                    tuple(PortInfo.fxo() if p < FXO_PORTS else PortInfo.fxs()
                          for p in range(ports)))))
            elif isinstance(message, SelectAudio):
                end.tx.write(codec.encode(Ack(frame.seq)))
                selected = True
            else:
                end.tx.write(codec.encode(Ack(frame.seq)))
    go.wait(30)
    answered, frames_back = -1, 0
    for t in range(ticks + 2):
        while answered < t - 2:
            for frame in codec.feed(end.rx.read(65536, timeout=10)):
                message = frame.message
                if isinstance(message, AudioTx):
                    frames_back += 1
                    answered = max(answered, message.tick)
                elif isinstance(message, Keepalive):
                    answered = max(answered, message.tick)
        if t < ticks:
            end.tx.write(codec.encode(AudioRx(t, mask, audio[t].tobytes())))
    result["frames_back"] = frames_back


async def host(urls, ticks, dsp, go):
    boards = [await Board.open(url, dsp=dsp, name=f"b{i}") for i, url in enumerate(urls)]
    for board in boards:
        await board.select_audio(range(PORTS))
    counts = {"frames": 0, "digits": 0}

    async def consume(board):
        while True:
            event = await board.next_event(timeout=10)
            if isinstance(event, AudioReceived):
                board.send_audio(event.tick, event.codes, event.ports)  # echo
                counts["frames"] += 1
                if event.tick == ticks - 1:
                    return
            elif isinstance(event, DigitDetected):
                counts["digits"] += 1

    cpu0, wall0 = time.thread_time(), time.perf_counter()
    go.set()
    await asyncio.gather(*(consume(b) for b in boards))
    cpu, wall = time.thread_time() - cpu0, time.perf_counter() - wall0
    for board in boards:
        await board.close()
    return cpu, wall, counts


def measure(ticks, dsp, boards=BOARDS):
    audio, expected = traffic(ticks, digit_ports=range(FXO_PORTS, PORTS))
    go = threading.Event()
    results, threads, urls = [], [], []
    for i in range(boards):
        name = f"driver-bench-{os.getpid()}-{i}-{time.monotonic_ns()}"
        end = listen_inprocess(name)
        urls.append(f"inprocess://{name}")
        results.append({})
        threads.append(threading.Thread(target=board_thread,
                                        args=(end, ticks, audio, go, results[i]), daemon=True))
    for thread in threads:
        thread.start()
    cpu, wall, counts = asyncio.run(host(urls, ticks, dsp, go))
    for thread in threads:
        thread.join(30)
    traffic_s = ticks / TICKS_PER_SECOND
    share = cpu / traffic_s
    return {
        "dsp": dsp,
        "host_cpu_s": cpu,
        "wall_s": wall,
        "traffic_s": traffic_s,
        "core_share": share,
        "boards_per_core": boards / share,
        "frames": boards * ticks,
        "frames_ok": counts["frames"],
        "frames_back": sum(r.get("frames_back", 0) for r in results),
        "digits": boards * expected if dsp else 0,
        "digits_ok": counts["digits"],
    }


def run(quick=False, seconds=None, repeats=None, boards=BOARDS):
    """Measure; returns a dict with one row per case (with and without the host DSP)."""
    seconds = seconds or (2.0 if quick else 20.0)
    repeats = repeats or (1 if quick else 3)
    ticks = int(seconds * TICKS_PER_SECOND)
    measure(20, dsp=True, boards=1)  # warm up: imports, first-use caches
    rows = []
    for dsp in (True, False):
        best = min((measure(ticks, dsp, boards) for _ in range(repeats)),
                   key=lambda r: r["host_cpu_s"])
        best["name"] = ("driver + host DSP (ChannelBank 32 ch, FSK caller ID 16 ch)" if dsp
                        else "driver only (transport, codec, events, AUDIO_TX)")
        rows.append(best)
    return {"machine": machine(), "boards": boards, "ports": PORTS,
            "ticks_per_second": TICKS_PER_SECOND, "seconds": seconds, "repeats": repeats,
            "rows": rows}


def markdown(result):
    m = result["machine"]
    lines = [
        f"## Board driver: {result['boards']} boards x {result['ports']} ports at "
        f"{result['ticks_per_second']} ticks/s",
        "",
        f"{m['date']}; {m['cpu']} ({m['cores']} cores); Python {m['python']}. "
        f"{result['seconds']} s of traffic per run, best of {result['repeats']}. Command: "
        "`python bench/driver_bench.py`.",
        "",
        "| case | host CPU s | share of one core | boards per core | frames ok | "
        "digits ok |",
        "|---|---|---|---|---|---|",
    ]
    for row in result["rows"]:
        digits = f"{row['digits_ok']}/{row['digits']}" if row["dsp"] else "-"
        lines.append(
            f"| {row['name']} | {row['host_cpu_s']:.3f} | {row['core_share'] * 100:.1f} % | "
            f"{row['boards_per_core']:.1f} | {row['frames_ok']}/{row['frames']} | {digits} |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--seconds", type=float)
    parser.add_argument("--json")
    args = parser.parse_args(argv)
    result = run(quick=args.quick, seconds=args.seconds)
    text = markdown(result)
    print(text)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()

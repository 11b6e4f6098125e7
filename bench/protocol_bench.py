"""voiceboard-v1 codec benchmark: bulk audio for 4 boards x 32 ports at 50 ticks/s.

    python bench/protocol_bench.py                        # full run, markdown on stdout
    python bench/protocol_bench.py --output bench/RESULTS-protocol.md --json r.json
    python bench/protocol_bench.py --quick                # a second; for the smoke test

Every tick each board sends one AUDIO_RX frame with its 32 ports' 160 G.711 bytes (5144
bytes on the wire) and the host answers with one AUDIO_TX frame of the same size (SPEC 8).
Each row runs ``seconds`` of that traffic through real ``Codec`` objects and measures CPU
time (``time.process_time``, best of several rounds):

  - host end: ``feed`` each AUDIO_RX (decode: resync rules, both CRCs, construct payload
    parse, the numpy view the engine takes) and ``encode`` each AUDIO_TX. This is what the
    appliance pays. Fed whole frames, then in 512-byte reads (a USB high-speed bulk packet,
    the worst case a transport hands over).
  - board end (the emulator): ``encode`` AUDIO_RX and ``feed`` AUDIO_TX.

CPU share of one core = CPU seconds / traffic seconds; boards per core = boards / share
(the headroom: how many such boards one core could carry at 100 %). Every frame must
arrive intact: the ``frames ok`` column counts them against those sent.

``run(quick=False) -> dict`` is the entry point for other code; ``main`` prints markdown.
"""

import argparse
import json
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import machine as bench_machine  # noqa: E402

from appliance.drivers.protocol import (  # noqa: E402
    TICK_MS,
    TICK_SAMPLES,
    AudioRx,
    AudioTx,
    Codec,
    Frame,
    Role,
)

BOARDS = 4
PORTS = 32
TICKS_PER_SECOND = 1000 // TICK_MS


def machine():
    import construct

    return bench_machine.machine(construct=construct.__version__)


def traffic(ticks, seed=4):
    """Per tick, the 32 ports' audio (distinct per tick, same for every board: the codec's
    cost does not depend on the bytes)."""
    rng = random.Random(seed)
    pool = [rng.randbytes(TICK_SAMPLES) for _ in range(64)]
    return [{p: pool[(t * 7 + p) % 64] for p in range(PORTS)} for t in range(ticks)]


def host_round(boards, ticks, audio, chunk):
    """One run of the host end: returns (frames received intact, frames expected)."""
    # The board side's bytes are made before the clock starts: only the host is timed.
    wires = []
    for _ in range(boards):
        board = Codec(Role.BOARD)
        wires.append([board.encode(AudioRx.from_ports(t, audio[t])) for t in range(ticks)])

    def run():
        ok = 0
        hosts = [Codec(Role.HOST) for _ in range(boards)]
        for t in range(ticks):
            for b, host in enumerate(hosts):
                data = wires[b][t]
                if chunk:
                    events = []
                    for i in range(0, len(data), chunk):
                        events += host.feed(data[i:i + chunk])
                else:
                    events = host.feed(data)
                for frame in events:
                    rx = frame.message
                    view = rx.as_array()          # what the engine hands to the DSP
                    ok += view.shape == (PORTS, TICK_SAMPLES) and rx.tick == t
                host.encode(AudioTx(t, rx.port_mask, rx.samples))
        return ok
    return run


def board_round(boards, ticks, audio):
    host = Codec(Role.HOST)
    replies = [host.encode(AudioTx.from_ports(t, audio[t])) for t in range(ticks)]

    def run():
        ok = 0
        codecs = [Codec(Role.BOARD) for _ in range(boards)]
        for t in range(ticks):
            for board in codecs:
                board.encode(AudioRx.from_ports(t, audio[t]))
                for frame in board.feed(replies[t]):
                    ok += isinstance(frame, Frame) and frame.message.tick == t
        return ok
    return run


def measure(run, repeats):
    best, ok = float("inf"), 0
    for _ in range(repeats):
        t0 = time.process_time()
        ok = run()
        best = min(best, time.process_time() - t0)
    return max(best, 1e-9), ok


def run(quick=False, seconds=None, repeats=None, boards=BOARDS):
    """Measure; returns a dict (see ``markdown`` for what each field means)."""
    seconds = seconds or (1.0 if quick else 20.0)
    repeats = repeats or (1 if quick else 3)
    ticks = int(seconds * TICKS_PER_SECOND)
    audio = traffic(ticks)
    frame_bytes = len(Codec(Role.BOARD).encode(AudioRx.from_ports(0, audio[0])))
    cases = [
        ("host: decode AUDIO_RX + encode AUDIO_TX, whole frames",
         host_round(boards, ticks, audio, 0)),
        ("host: decode AUDIO_RX + encode AUDIO_TX, 512-byte reads",
         host_round(boards, ticks, audio, 512)),
        ("board (emulator): encode AUDIO_RX + decode AUDIO_TX",
         board_round(boards, ticks, audio)),
    ]
    host_round(boards, 2, audio[:2], 0)()      # warm up: imports, first-use caches
    rows = []
    for name, function in cases:
        cpu, ok = measure(function, repeats)
        share = cpu / seconds
        rows.append({
            "name": name, "cpu_s": cpu, "core_share": share,
            "boards_per_core": boards / share,
            "us_per_board_tick": cpu / (boards * ticks) * 1e6,
            "frames_ok": ok, "frames": boards * ticks,
        })
    return {
        "machine": machine(), "quick": quick, "boards": boards, "ports": PORTS,
        "ticks_per_second": TICKS_PER_SECOND, "seconds": seconds, "repeats": repeats,
        "frame_bytes": frame_bytes,
        "link_bytes_per_s": 2 * frame_bytes * TICKS_PER_SECOND * boards,
        "rows": rows,
    }


def markdown(result, command):
    m = result["machine"]
    lines = [
        "# voiceboard-v1 codec benchmark",
        "",
        *(["**QUICK MODE: figures are meaningless, structure only.**", ""]
          if result["quick"] else []),
        f"- Date: {m['date']}",
        f"- Machine: {m['cpu']}, {m['cores']} cores (shared with other jobs while measured)",
        f"- Python {m['python']}, construct {m['construct']}",
        f"- Command: `{command}`",
        "",
        f"Traffic: {result['boards']} boards x {result['ports']} ports at "
        f"{result['ticks_per_second']} ticks/s for {result['seconds']:g} s: one "
        f"{result['frame_bytes']}-byte AUDIO_RX and one AUDIO_TX frame per board per tick "
        f"({result['link_bytes_per_s'] / 1e6:.2f} MB/s on the links in all). CPU time "
        f"(process_time), best of {result['repeats']}. Share = CPU s / traffic s; boards "
        "per core = boards / share.",
        "",
        "| what | CPU s | share of one core | us per board per tick | boards per core "
        "| frames ok |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in result["rows"]:
        lines.append(
            f"| {r['name']} | {r['cpu_s']:.3f} | {100 * r['core_share']:.2f} % | "
            f"{r['us_per_board_tick']:.0f} | {r['boards_per_core']:.0f} | "
            f"{r['frames_ok']}/{r['frames']} |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="one second of traffic, one round (figures meaningless)")
    parser.add_argument("--seconds", type=float, help="traffic to simulate (default 20)")
    parser.add_argument("--output", type=Path, help="also write the markdown here")
    parser.add_argument("--json", type=Path, help="write the raw results as JSON here")
    args = parser.parse_args(argv)
    result = run(quick=args.quick, seconds=args.seconds)
    command = "python bench/protocol_bench.py " + " ".join(
        argv if argv is not None else sys.argv[1:])
    text = markdown(result, command.strip())
    sys.stdout.write(text)
    if args.output:
        args.output.write_text(text)
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""What the byte transports cost at the box's load: B boards x P ports at 50 ticks/s.

Each tick, every board end writes one bulk audio frame (a 16-byte header stand-in plus
P x 160 G.711 bytes) and the host reads it whole, then the host writes one back and the
board end reads it whole: the traffic of issue 4's audio frame, with no codec (that is
``drivers/protocol``'s cost, measured there). Ticks run as fast as the machine allows, all
boards in one event loop, for every link: in-process pipes, a pty (host through pyserial),
TCP (host through pyserial's socket://), the emulated USB board (host through pyusb).

The figure: CPU seconds of this process (``time.process_time``, every thread) per second of
real-time traffic, i.e. the share of one core the links take at 50 ticks/s, and how many
such boards one core could carry. The board ends run in this process too, so the figure
is host plus board: an upper bound for the host's share.

    python bench/transport_bench.py                 # 4 boards x 32 ports, 10 s of ticks
    python bench/transport_bench.py --quick         # smoke run (tests/bench)
"""

import argparse
import asyncio
import json
import platform
import sys
import time

from appliance.drivers.transport import PtyBoard, TcpBoardServer, inprocess_pair, open_transport
from appliance.drivers.transport.usb_emulated import EmulatedUsbDevice, emulated_bus

TICKS_PER_S = 50
HEADER = 16
LINKS = ("inprocess", "pty", "tcp", "usb-emulated")


async def read_exactly(transport, n):
    got = 0
    while got < n:
        got += len(await transport.read(n - got))


async def open_links(kind, boards):
    """[(host, board end)] and a function that closes everything."""
    pairs, extra = [], []
    for i in range(boards):
        if kind == "inprocess":
            pairs.append(inprocess_pair(f"bench{i}"))
        elif kind == "pty":
            board = PtyBoard()
            pairs.append((await asyncio.to_thread(open_transport, board.path), board))
        elif kind == "tcp":
            server = await TcpBoardServer.start()
            extra.append(server)
            host = await asyncio.to_thread(open_transport, server.url)
            pairs.append((host, await server.accept()))
        elif kind == "usb-emulated":
            device = EmulatedUsbDevice(serial_number=f"BENCH{i}")
            host = await asyncio.to_thread(open_transport, "usb://1209:0001",
                                           usb_backend=emulated_bus(device))
            pairs.append((host, device.peer))
        else:
            raise ValueError(f"unknown link {kind!r}; one of {', '.join(LINKS)}")

    def close():
        for host, board in pairs:
            host.close()
            board.close()
        for server in extra:
            server.close()

    return pairs, close


async def run_link(kind, boards, ports, ticks):
    frame = bytes(range(256)) * ((HEADER + ports * 160) // 256 + 1)
    frame = frame[:HEADER + ports * 160]
    pairs, close = await open_links(kind, boards)
    try:
        async def one_board(host, board):
            for _ in range(ticks):
                await board.write(frame)
                await read_exactly(host, len(frame))
                await host.write(frame)
                await read_exactly(board, len(frame))

        await asyncio.gather(*(one_board(h, b) for h, b in pairs))  # warm-up
        cpu0, wall0 = time.process_time(), time.perf_counter()
        await asyncio.gather(*(one_board(h, b) for h, b in pairs))
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    finally:
        close()
    traffic_s = ticks / TICKS_PER_S
    share = cpu / traffic_s
    return {
        "link": kind,
        "boards": boards,
        "ports": ports,
        "frame_bytes": len(frame),
        "ticks": ticks,
        "cpu_s": cpu,
        "wall_s": wall,
        "core_share": share,
        "boards_per_core": boards / share if share > 0 else float("inf"),
        "ticks_per_s_max": ticks / wall,
    }


def report(rows, args):
    lines = [
        "# Transport benchmark",
        "",
        f"- Machine: {platform.machine()}, Python {platform.python_version()}, "
        f"{platform.platform()}",
        f"- Command: `python bench/transport_bench.py {' '.join(args)}`".rstrip() + "",
        "- Load: each board sends one audio frame per tick and gets one back, "
        f"{TICKS_PER_S} ticks/s; board ends run in the same process (host + board CPU).",
        "",
        "| link | boards x ports | frame bytes | core share at 50 ticks/s | boards per core "
        "| max ticks/s (all boards) |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(f"| {r['link']} | {r['boards']} x {r['ports']} | {r['frame_bytes']} | "
                     f"{r['core_share'] * 100:.1f} % | {r['boards_per_core']:.0f} | "
                     f"{r['ticks_per_s_max']:.0f} |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--boards", type=int, default=4)
    parser.add_argument("--ports", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=10.0,
                        help="seconds of real-time traffic to push through each link")
    parser.add_argument("--links", default=",".join(LINKS))
    parser.add_argument("--quick", action="store_true", help="smoke run: 0.2 s per link")
    parser.add_argument("--json", help="write the results as JSON here")
    args = parser.parse_args(argv)
    seconds = 0.2 if args.quick else args.seconds
    ticks = max(1, round(seconds * TICKS_PER_S))
    links = [k for k in args.links.split(",") if k]
    for kind in links:
        if kind not in LINKS:
            parser.error(f"unknown link {kind!r}; one of {', '.join(LINKS)}")
    rows = [asyncio.run(run_link(kind, args.boards, args.ports, ticks)) for kind in links]
    text = report(rows, sys.argv[1:] if argv is None else argv)
    if args.quick:
        text += "\nQUICK MODE: figures from 0.2 s of traffic mean little.\n"
    print(text, end="")
    if args.json:
        with open(args.json, "w") as out:
            json.dump(rows, out, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())

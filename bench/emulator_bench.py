"""How fast the virtual board runs: ticks per CPU second for a 64-port board, idle and with
every port in a call (32 callers on FXO lines switched to 32 agents on FXS phones, all
talking, pressing digits and hearing each other with line noise, all ports selected).

    python bench/emulator_bench.py [--ticks N]

Times are CPU seconds of this process (time.process_time), best of three rounds; real time
needs 50 ticks per second.
"""

import argparse
import time

import numpy as np

from appliance.drivers.emulator import (
    BoardModel, CallerSpec, Connect, ExchangeConfig, LineConfig, OffHook, PhoneSpec, Press,
    Ring, SelectAudio, Talk, VirtualBoard, Wait,
)


def busy_board():
    board = VirtualBoard(BoardModel.from_ports("32fxo+32fxs"),
                         ExchangeConfig(LineConfig(caller_id="dtmf")), seed=1)
    talk = tuple(a for _ in range(50) for a in (Talk(3.0), Press("12"), Wait(2.0)))
    for i in range(32):
        board.add_caller(CallerSpec(f"c{i}", i, at=0, noise_dbm0=-55.0, actions=talk))
        board.add_phone(PhoneSpec(f"a{i}", 32 + i, answer_after_s=0.0,
                                  actions=(Talk(600.0),)))
    board.hello()
    board.apply(SelectAudio(frozenset(range(64))))
    board.tick()
    for i in range(32):
        board.apply(OffHook(i))
        board.apply(Ring(32 + i, ((1000, 4000),)))
    for _ in range(3):
        board.tick()
    for i in range(32):
        board.apply(Connect(i, 32 + i))
    return board


def idle_board():
    board = VirtualBoard(BoardModel.from_ports("32fxo+32fxs"))
    board.apply(SelectAudio(frozenset(range(64))))
    return board


def rate(make, ticks):
    best = None
    for _ in range(3):
        board = make()
        tx = np.full((64, 160), 0xD5, dtype=np.uint8)
        start = time.process_time()
        for _ in range(ticks):
            board.tick(tx)
        spent = time.process_time() - start
        best = spent if best is None else min(best, spent)
    return ticks / best


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ticks", type=int, default=1000)
    args = parser.parse_args()
    for name, make in (("64 idle ports", idle_board),
                       ("64 ports, 32 switched calls, everyone talking", busy_board)):
        per_s = rate(make, args.ticks)
        print(f"{name}: {per_s:.0f} ticks per CPU second = {per_s / 50:.1f}x real time "
              f"({1000 / per_s:.2f} ms per tick)")


if __name__ == "__main__":
    main()
